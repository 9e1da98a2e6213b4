/* Contexts: one activations arena and one inputs/outputs pool bound to a
 * model, every pointer resolved once; a batch range's context holds one
 * per size over the same memory; a context on a shared arena (arena.c)
 * holds it while it runs. A run only walks the nodes. */
#include "graph/graph_internal.h"
#include "runtime/runtime_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- contexts -------------------------------------------------------------- */

/* The backend's wait for what c left enqueued. */
static mi_status sync_one(mi_context *c) {
    mi_backend *b = c->model->backend;
    mi_status st = MI_BACKEND_OPS_HAS(b->ops, sync) ? b->ops->sync(b, c->bctx) : MI_OK;
    if (!st) c->pending = 0;
    return st;
}

static int any_pending(const mi_context *top) {
    if (!top->sizes) return top->pending;
    for (size_t k = 0; k < top->nsizes; k++)
        if (top->sizes[k]->pending) return 1;
    return 0;
}

static void context_free(mi_context *c) {
    mi_backend *b = c->model->backend;
    if (c->bctx && b->ops->context_destroy) b->ops->context_destroy(b, c->bctx);
    if (c->owns_arena && c->arena) b->ops->free(b, c->arena);
    if (c->owns_io && c->io) b->ops->free(b, c->io);
    mi__free(c->tensor_ptr);
    mi__free(c->arg_ptrs);
    mi__free(c->args);
    mi__free(c->ranges);
    mi__free(c);
}

void mi_context_destroy(mi_context *c) {
    if (!c) return;
    mi_arena *shared = c->top == c ? c->shared : NULL;
    if (shared) {
        /* A run it left enqueued still uses the arena. */
        if (any_pending(c)) (void)mi_context_sync(c);
        mi__arena_give(shared, c);
    }
    for (size_t k = 0; k < c->nsizes; k++)
        if (c->sizes[k] != c) context_free(c->sizes[k]);
    mi__free(c->sizes);
    context_free(c);
    if (shared) mi__arena_unref(shared);
}

static void *pool_base(const mi_context *c, mi_pool_kind k) {
    switch (k) {
    case MI_POOL_WEIGHTS: return c->model->weights;
    case MI_POOL_ARENA: return c->arena;
    default: return c->io;
    }
}

/* Resolves every tensor and every node's arguments once. */
static mi_status bind(mi_context *c) {
    const mi_graph *g = c->model->graph;
    const mi_memory_plan *p = c->model->plan;
    size_t nt = mi_graph_tensor_count(g), nn = mi_graph_node_count(g), nptr = 0;
    for (size_t k = 0; k < nn; k++) {
        const mi_node *n = mi_graph_node(g, k);
        nptr += (size_t)n->ninputs + (size_t)n->noutputs;
    }
    c->tensor_ptr = mi__calloc(nt ? nt : 1, sizeof *c->tensor_ptr);
    c->arg_ptrs = mi__calloc(nptr ? nptr : 1, sizeof *c->arg_ptrs);
    c->args = mi__calloc(nn ? nn : 1, sizeof *c->args);
    if (!c->tensor_ptr || !c->arg_ptrs || !c->args)
        return mi__error(MI_ERR_NO_MEMORY, "binding %zu tensors", nt);
    const mi_model *m = c->model;
    for (size_t t = 0; t < nt; t++) {
        const mi_tensor_place *pl = mi_memory_plan_tensor(p, t);
        if (pl->pool == MI_POOL_WEIGHTS && m->wptr) { /* another size of a range */
            c->tensor_ptr[t] = m->wptr[t];
            continue;
        }
        char *base = pool_base(c, pl->pool);
        size_t end;
        if (!mi__add_size(pl->offset, pl->size, &end) || end > mi_memory_plan_pool_size(p, pl->pool))
            return mi__error(MI_ERR_INTERNAL, "tensor '%s' [%zu, +%zu) is outside the %s pool of %zu bytes",
                             mi_graph_tensor(g, t)->name, pl->offset, pl->size, mi_pool_name(pl->pool),
                             mi_memory_plan_pool_size(p, pl->pool));
        c->tensor_ptr[t] = base ? base + pl->offset : NULL;
    }
    void **at = c->arg_ptrs;
    for (size_t k = 0; k < nn; k++) {
        const mi_node *n = mi_graph_node(g, k);
        mi_node_args *a = &c->args[k];
        a->graph = g;
        a->index = k;
        a->node = n;
        a->in = at;
        for (int i = 0; i < n->ninputs; i++) *at++ = n->inputs[i] >= 0 ? c->tensor_ptr[n->inputs[i]] : NULL;
        a->out = at;
        for (int i = 0; i < n->noutputs; i++) *at++ = n->outputs[i] >= 0 ? c->tensor_ptr[n->outputs[i]] : NULL;
        a->residual = n->fused.residual >= 0 ? c->tensor_ptr[n->fused.residual] : NULL;
        a->workspace_size = mi_memory_plan_workspace_size(p, k);
        a->workspace = a->workspace_size ? (char *)c->arena + mi_memory_plan_workspace_offset(p, k) : NULL;
    }
    return MI_OK;
}

/* A context of m on memory already there (a range's other sizes). */
static mi_status context_make(mi_model *m, void *arena, void *io, mi_context *top, mi_context **out) {
    mi_status st;
    *out = NULL;
    mi_context *c = mi__calloc(1, sizeof *c);
    if (!c) return mi__error(MI_ERR_NO_MEMORY, "creating a context");
    c->model = m;
    c->arena = arena;
    c->io = io;
    c->top = top ? top : c;
    mi_backend *b = m->backend;
    if (MI_BACKEND_OPS_HAS(b->ops, context_create_graph)) st = b->ops->context_create_graph(b, m->graph, &c->bctx);
    else st = b->ops->context_create ? b->ops->context_create(b, &c->bctx) : MI_OK;
    if (!st) st = bind(c);
    if (st) {
        context_free(c);
        return st;
    }
    *out = c;
    return MI_OK;
}

/* The context the caller gets: the arena (given, shared or allocated),
 * the inputs/outputs pool, and a context per size of a range. */
static mi_status context_open(mi_model *m, void *arena, size_t arena_size, mi_arena *shared, mi_context **out) {
    mi_status st;
    *out = NULL;
    if (!m) return mi__error(MI_ERR_INVALID_ARG, "mi_context_create: model is NULL");
    if (m->parent) m = m->parent; /* a size of a range: the range's context */
    size_t need = mi__model_arena_need(m), align = mi_model_arena_alignment(m);
    if (arena) {
        if (arena_size < need)
            return mi__error(MI_ERR_INVALID_ARG, "%s arena of %zu bytes is smaller than the plan's %zu",
                             shared ? "the shared" : "caller's", arena_size, need);
        if ((uintptr_t)arena % align)
            return mi__error(MI_ERR_INVALID_ARG, "caller's arena at %p is not aligned to %zu bytes", arena, align);
    }
    mi_backend *b = m->backend;
    void *own_arena = NULL, *io = NULL;
    size_t io_size = mi_model_io_size(m);
    mi_context *c = NULL;
    if (!arena && need && (st = b->ops->alloc(b, need, "activations arena", &own_arena))) return st;
    if (io_size && (st = b->ops->alloc(b, io_size, "inputs/outputs pool", &io))) goto fail;
    if ((st = context_make(m, arena ? arena : own_arena, io, NULL, &c))) goto fail;
    c->owns_arena = own_arena != NULL;
    c->owns_io = io != NULL;
    own_arena = io = NULL;
    if (m->nsizes) {
        if (!(c->sizes = mi__calloc(m->nsizes, sizeof *c->sizes))) {
            st = mi__error(MI_ERR_NO_MEMORY, "contexts of %zu batch sizes", m->nsizes);
            goto fail;
        }
        c->nsizes = m->nsizes;
        for (size_t k = 0; k < m->nsizes; k++) {
            if (m->sizes[k] == m) c->sizes[k] = c;
            else if ((st = context_make(m->sizes[k], c->arena, c->io, c, &c->sizes[k]))) goto fail;
        }
    }
    if (shared) {
        c->shared = shared;
        mi__arena_ref(shared);
    }
    *out = c;
    return MI_OK;
fail:
    if (own_arena) b->ops->free(b, own_arena);
    if (io) b->ops->free(b, io);
    mi_context_destroy(c);
    return st;
}

mi_status mi_context_create(mi_model *m, void *arena, size_t arena_size, mi_context **out) {
    return context_open(m, arena, arena_size, NULL, out);
}

mi_status mi_context_create_on(mi_model *m, mi_arena *a, mi_context **out) {
    *out = NULL;
    if (!m || !a) return mi__error(MI_ERR_INVALID_ARG, "mi_context_create_on: model or arena is NULL");
    if (m->backend != a->backend)
        return mi__error(MI_ERR_INVALID_ARG, "model '%s' runs on a %s backend the shared arena's models do not "
                         "(%s): one backend instance serves a set (mi_model_options.backend_instance)",
                         mi__model_name(m), m->backend->ops->name, a->backend->ops->name);
    if (mi_model_arena_alignment(m) != a->alignment)
        return mi__error(MI_ERR_INVALID_ARG, "model '%s' is planned at a %zu-byte alignment, the shared arena at %zu",
                         mi__model_name(m), mi_model_arena_alignment(m), a->alignment);
    return context_open(m, a->memory, a->size, a, out);
}

void *mi_context_tensor_ptr(const mi_context *c, size_t t) {
    return c && t < mi_graph_tensor_count(c->model->graph) ? c->tensor_ptr[t] : NULL;
}

/* ---- poison ------------------------------------------------------------------ */

static const unsigned char poison_pattern[4] = {0xA5, 0xA5, 0xC0, 0x7F}; /* a quiet NaN, little-endian */

mi_status mi_context_set_poison(mi_context *c, int on) {
    if (!c) return mi__error(MI_ERR_INVALID_ARG, "mi_context_set_poison: context is NULL");
    if (on && !c->model->backend->ops->host_memory)
        return mi__error(MI_ERR_UNSUPPORTED, "poison mode needs a host backend; %s keeps the arena on the device",
                         c->model->backend->ops->name);
    if (on && !c->ranges) {
        size_t n = mi_graph_tensor_count(c->model->graph) + 1;
        c->ranges = mi__malloc(2 * n * sizeof *c->ranges);
        if (!c->ranges) return mi__error(MI_ERR_NO_MEMORY, "poison ranges");
    }
    c->poison = on;
    return MI_OK;
}

static int cmp_range(const void *a, const void *b) {
    const size_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The arena ranges owned at step k, sorted by offset; returns the count. */
static size_t live_ranges(const mi_context *c, size_t k) {
    const mi_memory_plan *p = c->model->plan;
    size_t n = 0;
    for (size_t t = 0; t < mi_memory_plan_tensor_count(p); t++) {
        const mi_tensor_place *pl = mi_memory_plan_tensor(p, t);
        if (pl->pool != MI_POOL_ARENA || !pl->size || pl->first > (int64_t)k || pl->last < (int64_t)k) continue;
        c->ranges[2 * n] = pl->offset;
        c->ranges[2 * n + 1] = pl->offset + pl->size;
        n++;
    }
    if (mi_memory_plan_workspace_size(p, k)) {
        c->ranges[2 * n] = mi_memory_plan_workspace_offset(p, k);
        c->ranges[2 * n + 1] = c->ranges[2 * n] + mi_memory_plan_workspace_size(p, k);
        n++;
    }
    qsort(c->ranges, n, 2 * sizeof *c->ranges, cmp_range);
    return n;
}

static void poison_fill(unsigned char *a, size_t from, size_t to) {
    for (size_t o = from; o < to; o++) a[o] = poison_pattern[o & 3];
}

/* Returns the first offset in [from, to) that lost the pattern, or to. */
static size_t poison_check(const unsigned char *a, size_t from, size_t to) {
    for (size_t o = from; o < to; o++)
        if (a[o] != poison_pattern[o & 3]) return o;
    return to;
}

/* Fills (check = 0) or checks (check = 1) every unowned arena byte. */
static mi_status poison_step(mi_context *c, size_t k, int check) {
    size_t n = live_ranges(c, k), at = 0, size = mi_model_arena_size(c->model);
    unsigned char *a = c->arena;
    for (size_t i = 0; i <= n; i++) {
        size_t from = at, to = i < n ? c->ranges[2 * i] : size;
        if (to > from) {
            if (!check) {
                poison_fill(a, from, to);
            } else {
                size_t bad = poison_check(a, from, to);
                if (bad < to) {
                    const mi_node *node = mi_graph_node(c->model->graph, k);
                    return mi__error(MI_ERR_POISON,
                                     "node '%s' (%s) at step %zu wrote arena byte %zu, which no live tensor owns "
                                     "(free gap [%zu, %zu))",
                                     node->name, mi_op_name(node->op), k, bad, from, to);
                }
            }
        }
        if (i < n && c->ranges[2 * i + 1] > at) at = c->ranges[2 * i + 1];
    }
    return MI_OK;
}

/* ---- running ----------------------------------------------------------------- */

static mi_status run_nodes(mi_context *c, int sync) {
    mi_backend *b = c->model->backend;
    const mi_graph *g = c->model->graph;
    const mi_memory_plan *p = c->model->plan;
    int skip = 0;
    mi_status st;
    if (b->ops->begin_run && (st = b->ops->begin_run(b, c->bctx, &skip))) return st;
    for (size_t k = 0; !skip && k < mi_graph_node_count(g); k++) {
        if (mi_memory_plan_node_elided(p, k)) continue;
        if (c->poison && (st = poison_step(c, k, 0))) return st;
        if ((st = b->ops->run(b, c->bctx, &c->args[k]))) return st;
        if (c->poison && (st = poison_step(c, k, 1))) return st;
    }
    if (b->ops->end_run && (st = b->ops->end_run(b, c->bctx, sync ? MI_BACKEND_END_RUN_SYNC : 0)))
        return st;
    return MI_OK;
}

mi_status mi_context_execute(mi_context *c, int sync) {
    if (!c) return mi__error(MI_ERR_INVALID_ARG, "mi_context_execute: context is NULL");
    mi_context *top = c->top;
    mi_status st;
    if (top->shared && (st = mi__arena_take(top->shared, top))) return st;
    /* The range's sizes share the arena, each on its own stream. */
    for (size_t k = 0; k < top->nsizes; k++)
        if (top->sizes[k] != c && top->sizes[k]->pending && (st = sync_one(top->sizes[k]))) return st;
    st = run_nodes(c, sync);
    c->pending = !st && !sync;
    if (top->shared && !any_pending(top)) mi__arena_give(top->shared, top);
    return st;
}

mi_status mi_context_run(mi_context *c, const void *const *inputs, void *const *outputs) {
    if (!c) return mi__error(MI_ERR_INVALID_ARG, "mi_context_run: context is NULL");
    mi_backend *b = c->model->backend;
    const mi_graph *g = c->model->graph;
    mi_status st;
    size_t ni = mi_graph_input_count(g), no = mi_graph_output_count(g);
    if ((ni && !inputs) || (no && !outputs))
        return mi__error(MI_ERR_INVALID_ARG, "mi_context_run: the model has %zu inputs and %zu outputs", ni, no);
    /* A run enqueued before (mi_context_execute(c, 0)), of any size of a
     * range, may still read the inputs the uploads below overwrite: let
     * it finish first. */
    if ((st = mi_context_sync(c->top))) return st;
    for (size_t i = 0; i < ni; i++) {
        int t = mi_graph_input(g, i);
        const mi_tensor *x = mi_graph_tensor(g, (size_t)t);
        if (!inputs[i]) return mi__error(MI_ERR_INVALID_ARG, "input %zu ('%s') is NULL", i, x->name);
        if (x->nbytes && (st = b->ops->upload(b, c->tensor_ptr[t], inputs[i], x->nbytes))) return st;
    }
    if ((st = mi_context_execute(c, 1))) return st;
    for (size_t i = 0; i < no; i++) {
        int t = mi_graph_output(g, i);
        const mi_tensor *x = mi_graph_tensor(g, (size_t)t);
        if (!outputs[i]) return mi__error(MI_ERR_INVALID_ARG, "output %zu ('%s') is NULL", i, x->name);
        if (x->nbytes && (st = b->ops->download(b, outputs[i], c->tensor_ptr[t], x->nbytes))) return st;
    }
    return MI_OK;
}

mi_status mi_context_sync(mi_context *c) {
    if (!c) return mi__error(MI_ERR_INVALID_ARG, "mi_context_sync: context is NULL");
    mi_status st = MI_OK;
    if (c->sizes) {
        for (size_t k = 0; k < c->nsizes && !st; k++) st = sync_one(c->sizes[k]);
    } else {
        st = sync_one(c);
    }
    mi_context *top = c->top;
    if (!st && top->shared && !any_pending(top)) mi__arena_give(top->shared, top);
    return st;
}

mi_status mi_context_control(mi_context *c, int request, void *arg) {
    if (!c) return mi__error(MI_ERR_INVALID_ARG, "mi_context_control: context is NULL");
    return mi__backend_request(c->model->backend, c->bctx, request, arg);
}

/* ---- batch ranges ---------------------------------------------------------------- */

mi_context *mi_context_at_batch(mi_context *c, int64_t batch) {
    if (!c) {
        mi__error(MI_ERR_INVALID_ARG, "mi_context_at_batch: context is NULL");
        return NULL;
    }
    mi_model *m = mi_model_at_batch(c->top->model, batch);
    if (!m) return NULL;
    mi_context *top = c->top;
    if (!top->sizes) return top;
    for (size_t k = 0; k < top->nsizes; k++)
        if (top->sizes[k]->model == m) return top->sizes[k];
    mi__error(MI_ERR_INTERNAL, "batch %lld has no context", (long long)batch);
    return NULL;
}

mi_status mi_context_run_batch(mi_context *c, int64_t batch, const void *const *inputs, void *const *outputs) {
    mi_context *s = mi_context_at_batch(c, batch);
    return s ? mi_context_run(s, inputs, outputs) : MI_ERR_INVALID_ARG; /* the error names the sizes */
}

mi_status mi_context_warmup(mi_context *c) {
    if (!c) return mi__error(MI_ERR_INVALID_ARG, "mi_context_warmup: context is NULL");
    mi_context *top = c->top;
    mi_backend *b = top->model->backend;
    size_t io = mi_model_io_size(top->model);
    mi_status st;
    if ((st = mi_context_sync(top))) return st;
    if (io) {
        void *zeros = mi__calloc(1, io);
        if (!zeros) return mi__error(MI_ERR_NO_MEMORY, "warm-up: %zu bytes of zero inputs", io);
        st = b->ops->upload(b, top->io, zeros, io);
        mi__free(zeros);
        if (st) return st;
    }
    int runs = b->options.cuda_graph ? 2 : 1; /* eager, then the capture */
    size_t n = top->sizes ? top->nsizes : 1;
    for (size_t k = 0; k < n && !st; k++)
        for (int r = 0; r < runs && !st; r++) st = mi_context_execute(top->sizes ? top->sizes[k] : top, 1);
    return st;
}
