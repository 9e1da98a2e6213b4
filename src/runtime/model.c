/* Models: a finalized graph, its memory plan and its weights pool on a
 * backend; a batch range, the same file planned at several batch sizes
 * that share the weights (memplan/share.c decides which). */
#include "graph/graph_internal.h"
#include "runtime/runtime_internal.h"

#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>

void mi_model_options_init(mi_model_options *o) {
    memset(o, 0, sizeof *o);
    mi_load_options_init(&o->load);
    mi_backend_options_init(&o->backend);
    mi_plan_options_init(&o->plan);
    o->device = "cpu";
}

static void model_free(mi_model *m) {
    if (!m) return;
    mi_backend *b = m->backend;
    if (b && m->weights) b->ops->free(b, m->weights);
    if (b && m->graph && MI_BACKEND_OPS_HAS(b->ops, release_graph)) b->ops->release_graph(b, m->graph);
    mi_memory_plan_destroy(m->plan);
    mi__free(m->workspace);
    mi__free(m->wptr);
    mi__free(m->name);
    mi_graph_destroy(m->graph);
    mi__free(m);
}

void mi_model_destroy(mi_model *m) {
    if (!m) return;
    for (size_t k = 0; k < m->nsizes; k++)
        if (m->sizes[k] != m) model_free(m->sizes[k]);
    mi__free(m->sizes);
    mi_backend *b = m->owns_backend ? m->backend : NULL;
    model_free(m);
    mi_backend_close(b); /* after every graph it served is released */
}

static mi_status plan_model(mi_model *m, const mi_model_options *o) {
    mi_plan_options po = o->plan;
    if (!po.solve.log && !po.solve.verbose) {
        po.solve.verbose = o->backend.verbose;
        po.solve.log = o->backend.log;
        po.solve.log_user = o->backend.log_user;
    }
    mi_planner *pl = NULL;
    mi_status st = mi_planner_create(&pl);
    if (st) return st;
    if (!(st = mi_planner_set_options(pl, &po))) st = mi_planner_plan(pl, m->graph, m->workspace, &m->plan);
    mi_planner_destroy(pl);
    return st;
}

/* A weight the weights pool holds a copy of (not an alias of another). */
static int in_weights_pool(const mi_tensor *x, const mi_tensor_place *p) {
    return x->role == MI_ROLE_WEIGHT && p->pool == MI_POOL_WEIGHTS && p->alias_of < 0 && x->nbytes;
}

/* In host memory the pools' copies serve as the graph's too: the ONNX
 * message and the graph's blocks go, and the weights are held once
 * (ResNet-50 on the CPU: 204 MiB resident before, 107 after). where[t]:
 * tensor t's bytes in a pool. */
static mi_status share_weights(mi_model *m, const void *const *where) {
    const mi_model *base = m->parent ? m->parent : m;
    const void *pools[2] = {base->weights, m->parent ? m->weights : NULL};
    size_t sizes[2] = {base->weights_size, m->parent ? m->weights_size : 0};
    return mi__graph_weights_moved(m->graph, where, pools, sizes, 2);
}

/* On a device the pool is the only copy the model needs: the host bytes
 * of everything it holds (weights and views of them) go, with the ONNX
 * message. */
static mi_status drop_weights(mi_model *m) {
    mi_graph *g = m->graph;
    size_t nt = mi_graph_tensor_count(g);
    unsigned char *drop = mi__calloc(nt ? nt : 1, 1);
    if (!drop) return mi__error(MI_ERR_NO_MEMORY, "model: %zu tensors", nt);
    for (size_t t = 0; t < nt; t++) drop[t] = mi_memory_plan_tensor(m->plan, t)->pool == MI_POOL_WEIGHTS;
    mi_status st = mi__graph_weights_dropped(g, drop);
    mi__free(drop);
    return st;
}

/* The weights pool: one allocation, every weight uploaded at its offset. */
static mi_status place_weights(mi_model *m, const void **where) {
    mi_graph *g = m->graph;
    mi_backend *b = m->backend;
    mi_status st;
    m->weights_size = mi_memory_plan_pool_size(m->plan, MI_POOL_WEIGHTS);
    if (!m->weights_size) return MI_OK;
    if ((st = b->ops->alloc(b, m->weights_size, "weights pool", &m->weights))) return st;
    for (size_t t = 0; t < mi_graph_tensor_count(g); t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        const mi_tensor_place *p = mi_memory_plan_tensor(m->plan, t);
        if (!in_weights_pool(x, p)) continue;
        if (!x->data) return mi__error(MI_ERR_INTERNAL, "weight '%s' has no data", x->name);
        if ((st = b->ops->upload(b, (char *)m->weights + p->offset, x->data, x->nbytes))) return st;
        where[t] = (const char *)m->weights + p->offset;
    }
    return MI_OK;
}

/* Another size of a range: what the parent holds is read from its pool,
 * the rest (constants folded from this size's shapes) from a pool of its
 * own; views of weights follow their root. */
static mi_status place_shared_weights(mi_model *m, const void **where) {
    const mi_model *base = m->parent;
    mi_graph *g = m->graph;
    mi_backend *b = m->backend;
    size_t nt = mi_graph_tensor_count(g);
    int *match = mi__calloc(nt ? nt : 1, sizeof *match);
    size_t *own = mi__calloc(nt ? nt : 1, sizeof *own);
    m->wptr = mi__calloc(nt ? nt : 1, sizeof *m->wptr);
    mi_status st = !match || !own || !m->wptr ? mi__error(MI_ERR_NO_MEMORY, "model: sharing %zu tensors", nt)
                 : mi_memory_plan_share_weights(base->graph, base->plan, g, m->plan, match, own, &m->weights_size);
    if (!st && m->weights_size) st = b->ops->alloc(b, m->weights_size, "weights pool (batch size's own)", &m->weights);
    for (size_t t = 0; t < nt && !st; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        if (match[t] >= 0) {
            m->wptr[t] = (char *)base->weights + mi_memory_plan_tensor(base->plan, (size_t)match[t])->offset;
        } else if (own[t] != SIZE_MAX) {
            m->wptr[t] = (char *)m->weights + own[t];
            if (!x->data) st = mi__error(MI_ERR_INTERNAL, "weight '%s' has no data", x->name);
            else st = b->ops->upload(b, m->wptr[t], x->data, x->nbytes);
        }
        if (m->wptr[t] && b->ops->host_memory) where[t] = m->wptr[t];
    }
    for (size_t t = 0; t < nt && !st; t++) {
        const mi_tensor_place *p = mi_memory_plan_tensor(m->plan, t);
        if (p->pool != MI_POOL_WEIGHTS || p->alias_of < 0 || m->wptr[t]) continue;
        size_t root = t, hops = 0;
        while (mi_memory_plan_tensor(m->plan, root)->alias_of >= 0 && hops++ < nt)
            root = (size_t)mi_memory_plan_tensor(m->plan, root)->alias_of;
        const mi_tensor_place *r = mi_memory_plan_tensor(m->plan, root);
        if (!m->wptr[root] || p->offset < r->offset)
            st = mi__error(MI_ERR_INTERNAL, "weight '%s' views '%s', which has no place", mi_graph_tensor(g, t)->name,
                           mi_graph_tensor(g, root)->name);
        else m->wptr[t] = (char *)m->wptr[root] + (p->offset - r->offset);
    }
    mi__free(match);
    mi__free(own);
    return st;
}

/* Prepares, plans and places the weights of g on m's backend; a range's
 * other sizes share the parent's weights; keep_host leaves the host copy
 * of a device model's weights (a range compares the other sizes' with
 * them). */
static mi_status model_build(mi_model *m, const mi_model_options *o, int keep_host) {
    mi_graph *g = m->graph;
    mi_status st;
    size_t nn = mi_graph_node_count(g), nt = mi_graph_tensor_count(g);
    m->workspace = mi__calloc(nn ? nn : 1, sizeof *m->workspace);
    if (!m->workspace) return mi__error(MI_ERR_NO_MEMORY, "workspaces of %zu nodes", nn);
    for (size_t k = 0; k < nn; k++)
        if ((st = m->backend->ops->prepare(m->backend, g, k, &m->workspace[k]))) return st;
    if ((st = plan_model(m, o))) return st;
    if (mi_graph_input_count(g) > 0) {
        const mi_tensor *in = mi_graph_tensor(g, (size_t)mi_graph_input(g, 0));
        m->batch = in->ndim > 0 ? in->dims[0] : 0;
    }
    const void **where = mi__calloc(nt ? nt : 1, sizeof *where);
    if (!where) return mi__error(MI_ERR_NO_MEMORY, "model: %zu tensors", nt);
    st = m->parent ? place_shared_weights(m, where) : place_weights(m, where);
    if (!st && (m->weights || m->wptr))
        st = m->backend->ops->host_memory ? share_weights(m, where) : keep_host ? MI_OK : drop_weights(m);
    mi__free(where);
    return st;
}

/* A model of g on o's backend (or parent's); takes g, also on failure. */
static mi_status model_new(mi_graph *g, const mi_model_options *o, mi_model *parent, int keep_host, const char *path,
                           mi_model **out) {
    mi_status st;
    *out = NULL;
    mi_model *m = mi__calloc(1, sizeof *m);
    if (!m) {
        mi_graph_destroy(g);
        return mi__error(MI_ERR_NO_MEMORY, "creating a model");
    }
    m->graph = g;
    m->parent = parent;
    if (!(m->name = mi__strdup(path ? path : g ? mi_graph_name(g) : "(none)"))) {
        st = mi__error(MI_ERR_NO_MEMORY, "creating a model");
        goto fail;
    }
    if (!g) {
        st = mi__error(MI_ERR_INVALID_ARG, "mi_model_create: graph is NULL");
        goto fail;
    }
    if (parent) {
        m->backend = parent->backend;
    } else if (o->backend_instance) {
        if ((st = mi_backend_check(o->backend_instance))) goto fail;
        m->backend = o->backend_instance;
    } else {
        if ((st = mi_backend_open(o->device, &o->backend, &m->backend))) goto fail;
        m->owns_backend = 1;
    }
    if ((st = model_build(m, o, keep_host))) goto fail;
    *out = m;
    return MI_OK;
fail:
    mi_model_destroy(m);
    return st;
}

mi_status mi_model_create(mi_graph *g, const mi_model_options *opt, mi_model **out) {
    mi_model_options o;
    if (opt) o = *opt;
    else mi_model_options_init(&o);
    return model_new(g, &o, NULL, 0, NULL, out);
}

/* mi_model_create, remembering the file for messages. */
static mi_status model_from_file(mi_graph *g, const mi_model_options *o, const char *path, mi_model **out) {
    return model_new(g, o, NULL, 0, path, out);
}

const char *mi__model_name(const mi_model *m) { return m->name ? m->name : mi_graph_name(m->graph); }

/* The load options' channels_last "auto": NHWC where tensor cores want
 * it, the CUDA backend in half precision; NCHW everywhere else. */
static int wants_channels_last(const mi_model_options *o) {
    const char *dev = o->backend_instance && o->backend_instance->ops ? o->backend_instance->ops->name : o->device;
    return dev && strncmp(dev, "cuda", 4) == 0 && o->load.precision != MI_PRECISION_FP32;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The sizes of a range, checked, ascending, without duplicates. */
static mi_status range_sizes(const mi_model_options *o, int64_t *sizes, size_t *n) {
    if (o->nbatches < 1 || o->nbatches > MI_MAX_BATCHES)
        return mi__error(MI_ERR_INVALID_ARG, "%d batch sizes: expected 1 to %d", o->nbatches, MI_MAX_BATCHES);
    for (int k = 0; k < o->nbatches; k++) {
        if (o->batches[k] < 1)
            return mi__error(MI_ERR_INVALID_ARG, "batch size %lld: expected >= 1", (long long)o->batches[k]);
        sizes[k] = o->batches[k];
    }
    qsort(sizes, (size_t)o->nbatches, sizeof *sizes, cmp_i64);
    size_t w = 0;
    for (int k = 0; k < o->nbatches; k++)
        if (!w || sizes[w - 1] != sizes[k]) sizes[w++] = sizes[k];
    *n = w;
    return MI_OK;
}

/* A batch range: the largest size first, as the model; each other size
 * loaded and planned on its backend, sharing its weights. */
static mi_status load_range(const char *path, const mi_model_options *o, mi_model **out) {
    int64_t sizes[MI_MAX_BATCHES];
    size_t n = 0;
    mi_status st = range_sizes(o, sizes, &n);
    if (st) return st;
    mi_model_options ob = *o;
    mi_graph *g = NULL;
    mi_model *m = NULL;
    ob.load.batch = sizes[n - 1];
    if ((st = mi_graph_load(path, &ob.load, &g)) || (st = model_new(g, &ob, NULL, 1, path, &m)))
        return mi__error_prefix(st, "batch %lld: ", (long long)sizes[n - 1]);
    if (!(m->sizes = mi__calloc(n, sizeof *m->sizes))) {
        st = mi__error(MI_ERR_NO_MEMORY, "a range of %zu batch sizes", n);
        goto fail;
    }
    m->sizes[n - 1] = m;
    m->nsizes = n;
    for (size_t k = 0; k + 1 < n; k++) {
        ob.load.batch = sizes[k];
        g = NULL;
        if ((st = mi_graph_load(path, &ob.load, &g)) || (st = model_new(g, &ob, m, 0, path, &m->sizes[k]))) {
            st = mi__error_prefix(st, "batch %lld: ", (long long)sizes[k]);
            goto fail;
        }
    }
    /* The other sizes compared their weights with the host copy: it can go. */
    if (!m->backend->ops->host_memory && m->weights && (st = drop_weights(m))) goto fail;
    *out = m;
    return MI_OK;
fail:
    mi_model_destroy(m);
    return st;
}

/* The ONNX message and the loader's blocks are freed by now, in many
 * pieces that glibc keeps for reuse: give them back, or a process that
 * loaded a 300 MB model holds that much more for good. */
static mi_status trimmed(mi_status st) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    return st;
}

mi_status mi_model_load(const char *path, const mi_model_options *opt, mi_model **out) {
    *out = NULL;
    mi_model_options o;
    if (opt) o = *opt;
    else mi_model_options_init(&o);
    mi_graph *g = NULL;
    if (o.load.channels_last < 0) o.load.channels_last = wants_channels_last(&o);
    if (o.nbatches) return trimmed(load_range(path, &o, out));
    mi_status st = mi_graph_load(path, &o.load, &g);
    if (st) return st;
    return trimmed(model_from_file(g, &o, path, out));
}

/* ---- accessors ----------------------------------------------------------------- */

const mi_graph *mi_model_graph(const mi_model *m) { return m->graph; }
const mi_memory_plan *mi_model_plan(const mi_model *m) { return m->plan; }
mi_backend *mi_model_backend(const mi_model *m) { return m->backend; }
size_t mi_model_arena_size(const mi_model *m) { return mi__model_arena_need(m); }
size_t mi_model_arena_alignment(const mi_model *m) { return mi_memory_plan_alignment(m->plan); }
size_t mi_model_input_count(const mi_model *m) { return mi_graph_input_count(m->graph); }
size_t mi_model_output_count(const mi_model *m) { return mi_graph_output_count(m->graph); }

/* A pool one context of m holds for all its sizes: the largest size's. */
static size_t largest_pool(const mi_model *m, mi_pool_kind k) {
    size_t most = mi_memory_plan_pool_size(m->plan, k);
    for (size_t i = 0; i < m->nsizes; i++) {
        size_t s = mi_memory_plan_pool_size(m->sizes[i]->plan, k);
        if (s > most) most = s;
    }
    return most;
}

size_t mi__model_arena_need(const mi_model *m) { return largest_pool(m, MI_POOL_ARENA); }
size_t mi_model_io_size(const mi_model *m) { return largest_pool(m, MI_POOL_IO); }

size_t mi_model_weights_size(const mi_model *m) {
    size_t w = m->weights_size;
    for (size_t k = 0; k < m->nsizes; k++)
        if (m->sizes[k] != m) w += m->sizes[k]->weights_size;
    return w;
}

size_t mi_model_batch_count(const mi_model *m) { return m && m->nsizes ? m->nsizes : 1; }

int64_t mi_model_batch(const mi_model *m, size_t k) {
    if (!m) return 0;
    if (!m->nsizes) return k == 0 ? m->batch : 0;
    return k < m->nsizes ? m->sizes[k]->batch : 0;
}

mi_model *mi_model_at_batch(mi_model *m, int64_t batch) {
    if (!m) {
        mi__error(MI_ERR_INVALID_ARG, "mi_model_at_batch: model is NULL");
        return NULL;
    }
    if (!m->nsizes && m->batch == batch) return m;
    for (size_t k = 0; k < m->nsizes; k++)
        if (m->sizes[k]->batch == batch) return m->sizes[k];
    char list[160];
    size_t at = 0;
    for (size_t k = 0; k < mi_model_batch_count(m) && at < sizeof list; k++) {
        int w = snprintf(list + at, sizeof list - at, "%s%lld", k ? ", " : "", (long long)mi_model_batch(m, k));
        if (w < 0) break;
        at += (size_t)w;
    }
    mi__error(MI_ERR_INVALID_ARG, "batch %lld is outside the planned batch sizes of model '%s' (%s)",
              (long long)batch, mi__model_name(m), list);
    return NULL;
}

const mi_tensor *mi_model_input(const mi_model *m, size_t i) {
    return i < mi_graph_input_count(m->graph) ? mi_graph_tensor(m->graph, (size_t)mi_graph_input(m->graph, i)) : NULL;
}
const mi_tensor *mi_model_output(const mi_model *m, size_t i) {
    return i < mi_graph_output_count(m->graph) ? mi_graph_tensor(m->graph, (size_t)mi_graph_output(m->graph, i)) : NULL;
}

static int find_io(const mi_graph *g, const char *name, int outputs) {
    size_t n = outputs ? mi_graph_output_count(g) : mi_graph_input_count(g);
    for (size_t i = 0; i < n; i++) {
        int t = outputs ? mi_graph_output(g, i) : mi_graph_input(g, i);
        if (name && strcmp(mi_graph_tensor(g, (size_t)t)->name, name) == 0) return (int)i;
    }
    return -1;
}
int mi_model_find_input(const mi_model *m, const char *name) { return find_io(m->graph, name, 0); }
int mi_model_find_output(const mi_model *m, const char *name) { return find_io(m->graph, name, 1); }
