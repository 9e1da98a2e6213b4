/* Lifetime analysis and the graph-level planner: graph -> planner problem
 * -> three pools.
 *
 * Tensors that share memory are grouped with a weighted union-find: each
 * tensor knows its byte offset relative to its group (views and in-place
 * results at 0 from their source, concat inputs at their slice). A group in
 * the arena becomes one planner buffer whose lifetime covers all its
 * members; groups rooted at a graph input or a weight stay in that pool. */
#include "common/internal.h"
#include "mini_infer/memplan.h"

#include <string.h>

struct mi_planner {
    mi_plan_options o;
};

struct mi_memory_plan {
    size_t alignment;
    size_t pool[MI_POOL_COUNT];
    size_t naive, lower, lower_no_inplace;
    mi_solve_result result;
    size_t ntensors, nnodes;
    mi_tensor_place *place;
    size_t *ws_offset, *ws_size;
    unsigned char *elided;
    mi_buffer *buffers;
    size_t nbuffers;
    size_t *offsets;
};

static const char *const pool_names[] = {"weights", "arena", "io"};

const char *mi_pool_name(mi_pool_kind k) {
    return (int)k >= 0 && k < MI_POOL_COUNT ? pool_names[k] : "unknown";
}

void mi_plan_options_init(mi_plan_options *o) {
    memset(o, 0, sizeof *o);
    mi_solve_options_init(&o->solve);
    o->alignment = MI_DEFAULT_ALIGNMENT;
    o->inplace = 1;
}

mi_status mi_plan_options_check(const mi_plan_options *o) {
    if (!o) return mi__error(MI_ERR_INVALID_ARG, "plan options: NULL");
    mi_status st = mi__check_alignment(o->alignment);
    return st ? st : mi_solve_options_check(&o->solve);
}

mi_status mi_planner_create(mi_planner **out) {
    *out = NULL;
    mi_planner *pl = mi__calloc(1, sizeof *pl);
    if (!pl) return mi__error(MI_ERR_NO_MEMORY, "creating a planner");
    mi_plan_options_init(&pl->o);
    *out = pl;
    return MI_OK;
}

void mi_planner_destroy(mi_planner *pl) { mi__free(pl); }

mi_status mi_planner_set_options(mi_planner *pl, const mi_plan_options *o) {
    mi_status st = mi_plan_options_check(o);
    if (!st) pl->o = *o;
    return st;
}

const mi_plan_options *mi_planner_options(const mi_planner *pl) { return &pl->o; }

void mi_planner_set_enabled(mi_planner *pl, int enabled) { pl->o.solve.enabled = enabled; }
void mi_planner_set_inplace(mi_planner *pl, int inplace) { pl->o.inplace = inplace; }
void mi_planner_set_strategy(mi_planner *pl, mi_strategy s) { pl->o.solve.strategy = s; }

void mi_planner_set_verbose(mi_planner *pl, int verbose, mi_log_fn log, void *user) {
    pl->o.solve.verbose = verbose;
    pl->o.solve.log = log;
    pl->o.solve.log_user = user;
}

mi_status mi_planner_set_alignment(mi_planner *pl, size_t alignment) {
    mi_plan_options o = pl->o;
    o.alignment = alignment;
    return mi_planner_set_options(pl, &o);
}

void mi_planner_set_search_limits(mi_planner *pl, double time_limit, uint64_t node_budget) {
    pl->o.solve.time_limit = time_limit;
    pl->o.solve.node_budget = node_budget;
}

mi_status mi_planner_set_search_threads(mi_planner *pl, int threads) {
    mi_plan_options o = pl->o;
    o.solve.threads = threads;
    return mi_planner_set_options(pl, &o);
}

#define VLOG(pl, ...) mi__logf((pl)->o.solve.verbose ? (pl)->o.solve.log : NULL, (pl)->o.solve.log_user, __VA_ARGS__)

/* ---- lifetimes and groups ---------------------------------------------------- */

typedef struct analysis {
    const mi_graph *g;
    size_t nt, nn;
    int64_t *first, *last; /* per tensor; -1 when never live in the run */
    int *parent;           /* union-find */
    int64_t *delta;        /* byte offset relative to parent */
    unsigned char *elided; /* per node */
} analysis;

static void analysis_free(analysis *a) {
    mi__free(a->first);
    mi__free(a->last);
    mi__free(a->parent);
    mi__free(a->delta);
    mi__free(a->elided);
    memset(a, 0, sizeof *a);
}

/* Root of t, with t's offset from the root in *off (path compression). */
static int find(analysis *a, int t, int64_t *off) {
    int64_t sum = 0;
    int r = t;
    while (a->parent[r] != r) {
        sum += a->delta[r];
        r = a->parent[r];
    }
    /* Compress: point every node on the path straight at r. */
    int64_t rem = sum;
    while (a->parent[t] != t) {
        int next = a->parent[t];
        int64_t d = a->delta[t];
        a->parent[t] = r;
        a->delta[t] = rem;
        rem -= d;
        t = next;
    }
    if (off) *off = sum;
    return r;
}

static int is_fixed_role(mi_role r) { return r != MI_ROLE_ACTIVATION; }

/* Whether node n reads tensor t (inputs and a fused residual). */
static void for_each_use(const mi_node *n, void (*fn)(void *, int), void *ctx) {
    for (int k = 0; k < n->ninputs; k++)
        if (n->inputs[k] >= 0) fn(ctx, n->inputs[k]);
    if (n->fused.residual >= 0) fn(ctx, n->fused.residual);
}

typedef struct use_ctx {
    analysis *a;
    int64_t step;
} use_ctx;

static void note_use(void *ctx, int t) {
    use_ctx *u = ctx;
    if (u->a->last[t] < u->step) u->a->last[t] = u->step;
}

/* Group facts computed on demand: every member's role is an activation and
 * no member is read after step k. */
typedef struct group_info {
    int fixed;        /* contains an input, output or weight */
    int64_t last_use; /* max last step of members */
    int64_t lo, hi;   /* byte extent relative to the root */
    int has_concat;   /* contains a tensor merged as a concat slice */
} group_info;

static group_info group_of(analysis *a, int root, const unsigned char *concat_member) {
    group_info gi = {0, -1, INT64_MAX, INT64_MIN, 0};
    for (size_t t = 0; t < a->nt; t++) {
        int64_t off;
        if (find(a, (int)t, &off) != root) continue;
        const mi_tensor *x = mi_graph_tensor(a->g, t);
        if (is_fixed_role(x->role)) gi.fixed = 1;
        if (a->last[t] > gi.last_use) gi.last_use = a->last[t];
        if (off < gi.lo) gi.lo = off;
        if (off + (int64_t)x->nbytes > gi.hi) gi.hi = off + (int64_t)x->nbytes;
        if (concat_member[t]) gi.has_concat = 1;
    }
    return gi;
}

static void unite(analysis *a, int t, int onto, int64_t offset) {
    int64_t ot, oo;
    int rt = find(a, t, &ot), ro = find(a, onto, &oo);
    /* pos(t) = pos(onto) + offset  =>  pos(rt) = pos(ro) + oo + offset - ot */
    a->parent[rt] = ro;
    a->delta[rt] = oo + offset - ot;
}

static int same_shape(const mi_tensor *x, const mi_tensor *y) {
    if (x->dtype != y->dtype || x->ndim != y->ndim || x->nbytes != y->nbytes) return 0;
    return memcmp(x->dims, y->dims, (size_t)x->ndim * sizeof x->dims[0]) == 0;
}

static int is_view_op(mi_op op) {
    return op == MI_OP_RESHAPE || op == MI_OP_FLATTEN || op == MI_OP_SQUEEZE ||
           op == MI_OP_UNSQUEEZE || op == MI_OP_IDENTITY || op == MI_OP_DROPOUT;
}

static int is_inplace_op(mi_op op) {
    switch (op) {
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID:
    case MI_OP_HARD_SWISH: case MI_OP_BATCH_NORM: case MI_OP_ADD: case MI_OP_SUB:
    case MI_OP_MUL: case MI_OP_DIV:
        return 1;
    default:
        return 0;
    }
}

/* Tries to write node k's output into its input t, which must die here. */
static int try_inplace(analysis *a, const mi_planner *pl, size_t k, int in, int out,
                       const unsigned char *concat_member) {
    const mi_graph *g = a->g;
    const mi_tensor *x = mi_graph_tensor(g, (size_t)in), *y = mi_graph_tensor(g, (size_t)out);
    if (x->role != MI_ROLE_ACTIVATION || y->role != MI_ROLE_ACTIVATION || !same_shape(x, y))
        return 0;
    int64_t off;
    int root = find(a, in, &off);
    group_info gi = group_of(a, root, concat_member);
    if (gi.fixed || gi.last_use > (int64_t)k || gi.has_concat) return 0;
    unite(a, out, in, 0);
    VLOG(pl, "in-place: node %zu (%s) writes '%s' over '%s'", k, mi_graph_node(g, k)->name, y->name,
         x->name);
    return 1;
}

/* Concat along an axis with nothing but size-1 dims before it: each input
 * is one contiguous slice of the output, so its producer can write there. */
static void try_concat(analysis *a, const mi_planner *pl, size_t k, unsigned char *concat_member) {
    const mi_graph *g = a->g;
    const mi_node *n = mi_graph_node(g, k);
    const mi_tensor *y = mi_graph_tensor(g, (size_t)n->outputs[0]);
    if (y->role != MI_ROLE_ACTIVATION) return;
    int64_t axis = mi_node_attr_int(n, "axis", 0);
    if (axis < 0) axis += y->ndim;
    if (axis < 0 || axis >= y->ndim) return;
    for (int64_t d = 0; d < axis; d++)
        if (y->dims[d] != 1) return;
    for (int i = 0; i < n->ninputs; i++) {
        int t = n->inputs[i];
        if (t < 0) return;
        const mi_tensor *x = mi_graph_tensor(g, (size_t)t);
        if (x->role != MI_ROLE_ACTIVATION || x->producer < 0) return;
        for (int j = 0; j < i; j++)
            if (n->inputs[j] == t) return;
        int64_t off;
        int root = find(a, t, &off);
        if (find(a, n->outputs[0], NULL) == root) return;
        group_info gi = group_of(a, root, concat_member);
        /* The whole group must be t's bytes (t and its in-place chain). */
        if (gi.fixed || gi.has_concat || gi.lo != off || gi.hi != off + (int64_t)x->nbytes) return;
    }
    size_t at = 0;
    for (int i = 0; i < n->ninputs; i++) {
        int t = n->inputs[i];
        unite(a, t, n->outputs[0], (int64_t)at);
        concat_member[t] = 1;
        at += mi_graph_tensor(g, (size_t)t)->nbytes;
    }
    concat_member[n->outputs[0]] = 1;
    a->elided[k] = 1;
    VLOG(pl, "concat in place: node %zu (%s): %d producers write into '%s'", k, n->name, n->ninputs,
         y->name);
}

static mi_status analyse(analysis *a, const mi_planner *pl, const mi_graph *g, int inplace) {
    memset(a, 0, sizeof *a);
    a->g = g;
    a->nt = mi_graph_tensor_count(g);
    a->nn = mi_graph_node_count(g);
    size_t nt = a->nt ? a->nt : 1;
    a->first = mi__malloc(nt * sizeof *a->first);
    a->last = mi__malloc(nt * sizeof *a->last);
    a->parent = mi__malloc(nt * sizeof *a->parent);
    a->delta = mi__calloc(nt, sizeof *a->delta);
    a->elided = mi__calloc(a->nn ? a->nn : 1, 1);
    unsigned char *concat_member = mi__calloc(nt, 1);
    if (!a->first || !a->last || !a->parent || !a->delta || !a->elided || !concat_member) {
        mi__free(concat_member);
        analysis_free(a);
        return mi__error(MI_ERR_NO_MEMORY, "lifetimes of %zu tensors", a->nt);
    }
    int64_t end = a->nn ? (int64_t)a->nn - 1 : 0;
    for (size_t t = 0; t < a->nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        a->parent[t] = (int)t;
        switch (x->role) {
        case MI_ROLE_INPUT: a->first[t] = 0; a->last[t] = end; break;
        case MI_ROLE_OUTPUT: a->first[t] = x->producer >= 0 ? x->producer : 0; a->last[t] = end; break;
        case MI_ROLE_WEIGHT: a->first[t] = -1; a->last[t] = -1; break;
        default: a->first[t] = x->producer >= 0 ? x->producer : 0; a->last[t] = a->first[t];
        }
    }
    for (size_t k = 0; k < a->nn; k++) {
        use_ctx u = {a, (int64_t)k};
        const mi_node *n = mi_graph_node(g, k);
        for_each_use(n, note_use, &u);
    }
    for (size_t t = 0; t < a->nt; t++)
        if (mi_graph_tensor(g, t)->role == MI_ROLE_WEIGHT) a->first[t] = a->last[t] = -1;
    if (!inplace) goto done;
    for (size_t k = 0; k < a->nn; k++) {
        const mi_node *n = mi_graph_node(g, k);
        if (n->noutputs < 1 || n->outputs[0] < 0) continue;
        int out = n->outputs[0];
        const mi_tensor *y = mi_graph_tensor(g, (size_t)out);
        if (is_view_op(n->op) && n->ninputs >= 1 && n->inputs[0] >= 0) {
            const mi_tensor *x = mi_graph_tensor(g, (size_t)n->inputs[0]);
            /* A view reads its source as it is: the output must be an
             * activation (graph outputs have their own region) of the same
             * bytes, and the source may be anything, even a weight. */
            if (y->role == MI_ROLE_ACTIVATION && x->nbytes == y->nbytes && x->dtype == y->dtype &&
                (n->noutputs == 1 || n->op == MI_OP_DROPOUT)) {
                int extra = 0;
                for (int o = 1; o < n->noutputs; o++) extra |= n->outputs[o] >= 0;
                if (!extra) {
                    unite(a, out, n->inputs[0], 0);
                    a->elided[k] = 1;
                    VLOG(pl, "view: node %zu (%s): '%s' is '%s'", k, n->name, y->name, x->name);
                }
            }
            continue;
        }
        if (n->op == MI_OP_CONCAT) {
            try_concat(a, pl, k, concat_member);
            continue;
        }
        if (n->op == MI_OP_CONV && n->fused.residual >= 0) {
            /* conv(x) + x: the conv reads x (or a view of it) for the whole
             * step, so its output may not overwrite the residual then. */
            int root = find(a, n->fused.residual, NULL), shared = 0;
            for (int i = 0; i < n->ninputs; i++)
                shared |= n->inputs[i] >= 0 && find(a, n->inputs[i], NULL) == root;
            if (!shared) try_inplace(a, pl, k, n->fused.residual, out, concat_member);
            continue;
        }
        if (!is_inplace_op(n->op)) continue;
        int nin = (n->op == MI_OP_ADD || n->op == MI_OP_SUB || n->op == MI_OP_MUL || n->op == MI_OP_DIV) ? 2 : 1;
        for (int i = 0; i < nin && i < n->ninputs; i++) {
            if (n->inputs[i] < 0) continue;
            if (nin == 2 && n->inputs[0] == n->inputs[1]) break; /* x op x: the input is read twice */
            if (try_inplace(a, pl, k, n->inputs[i], out, concat_member)) break;
        }
    }
done:
    mi__free(concat_member);
    return MI_OK;
}

/* ---- the plan ---------------------------------------------------------------- */

void mi_memory_plan_destroy(mi_memory_plan *p) {
    if (!p) return;
    mi__free(p->place);
    mi__free(p->ws_offset);
    mi__free(p->ws_size);
    mi__free(p->elided);
    mi__free(p->buffers);
    mi__free(p->offsets);
    mi__free(p);
}

/* Lays out the tensors of a fixed pool (weights, io) one after another;
 * weights that share bytes (aliases) share a region. */
static mi_status lay_out_fixed(mi_memory_plan *p, const mi_graph *g, analysis *a, mi_pool_kind kind) {
    size_t at = 0;
    for (size_t t = 0; t < a->nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        int want = kind == MI_POOL_WEIGHTS ? x->role == MI_ROLE_WEIGHT
                                           : (x->role == MI_ROLE_INPUT || x->role == MI_ROLE_OUTPUT);
        if (!want || find(a, (int)t, NULL) != (int)t) continue;
        if (kind == MI_POOL_WEIGHTS && x->data) {
            int dup = -1;
            for (size_t u = 0; u < t && dup < 0; u++) {
                const mi_tensor *y = mi_graph_tensor(g, u);
                if (y->role == MI_ROLE_WEIGHT && y->data == x->data && y->nbytes >= x->nbytes &&
                    p->place[u].pool == MI_POOL_WEIGHTS)
                    dup = (int)u;
            }
            if (dup >= 0) {
                p->place[t].pool = MI_POOL_WEIGHTS;
                p->place[t].offset = p->place[dup].offset;
                p->place[t].alias_of = dup;
                continue;
            }
        }
        size_t sz;
        if (!mi__align_up(x->nbytes, p->alignment, &sz) || !mi__add_size(at, sz, &sz))
            return mi__error(MI_ERR_OVERFLOW, "%s pool: tensor '%s' brings it past SIZE_MAX",
                             mi_pool_name(kind), x->name);
        p->place[t].pool = kind;
        p->place[t].offset = at;
        at = sz;
    }
    p->pool[kind] = at;
    return MI_OK;
}

mi_status mi_planner_plan(const mi_planner *pl, const mi_graph *g, const size_t *workspace,
                          mi_memory_plan **out) {
    mi_status st;
    *out = NULL;
    if (!pl || !g) return mi__error(MI_ERR_INVALID_ARG, "mi_planner_plan: planner or graph is NULL");
    analysis a, a0;
    memset(&a0, 0, sizeof a0);
    int *bufof = NULL;
    int64_t *lo = NULL; /* per buffer: its group's lowest member offset */
    mi_memory_plan *p = mi__calloc(1, sizeof *p);
    if (!p) return mi__error(MI_ERR_NO_MEMORY, "creating a memory plan");
    if ((st = analyse(&a, pl, g, pl->o.solve.enabled && pl->o.inplace))) {
        mi__free(p);
        return st;
    }
    p->alignment = pl->o.alignment;
    p->ntensors = a.nt;
    p->nnodes = a.nn;
    size_t nt = a.nt ? a.nt : 1, nn = a.nn ? a.nn : 1;
    p->place = mi__calloc(nt, sizeof *p->place);
    p->ws_offset = mi__calloc(nn, sizeof *p->ws_offset);
    p->ws_size = mi__calloc(nn, sizeof *p->ws_size);
    p->elided = mi__calloc(nn, 1);
    p->buffers = mi__calloc(nt + nn, sizeof *p->buffers);
    p->offsets = mi__calloc(nt + nn, sizeof *p->offsets);
    bufof = mi__malloc(nt * sizeof *bufof);
    lo = mi__malloc((nt + nn) * sizeof *lo);
    if (!lo || !p->place || !p->ws_offset || !p->ws_size || !p->elided || !p->buffers || !p->offsets || !bufof) {
        st = mi__error(MI_ERR_NO_MEMORY, "memory plan of %zu tensors", a.nt);
        goto fail;
    }
    memcpy(p->elided, a.elided, a.nn);
    for (size_t t = 0; t < a.nt; t++) {
        p->place[t].buffer = -1;
        p->place[t].alias_of = -1;
        p->place[t].size = mi_graph_tensor(g, t)->nbytes;
        p->place[t].first = a.first[t];
        p->place[t].last = a.last[t];
    }
    if ((st = lay_out_fixed(p, g, &a, MI_POOL_WEIGHTS)) || (st = lay_out_fixed(p, g, &a, MI_POOL_IO)))
        goto fail;

    /* Arena groups -> buffers, with their lifetimes and byte extents. */
    size_t nb = 0, naive = 0;
    for (size_t t = 0; t < a.nt; t++) bufof[t] = -1;
    for (size_t t = 0; t < a.nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        if (x->role != MI_ROLE_ACTIVATION) continue;
        size_t al;
        if (!mi__align_up(x->nbytes, p->alignment, &al) || !mi__add_size(naive, al, &naive)) {
            st = mi__error(MI_ERR_OVERFLOW, "arena: tensor '%s' brings the naive size past SIZE_MAX", x->name);
            goto fail;
        }
        int64_t off;
        int r = find(&a, (int)t, &off);
        if (is_fixed_role(mi_graph_tensor(g, (size_t)r)->role)) continue;
        if (bufof[r] < 0) {
            bufof[r] = (int)nb;
            p->buffers[nb] = (mi_buffer){0, a.first[t], a.last[t]};
            lo[nb] = off;
            nb++;
        }
        mi_buffer *b = &p->buffers[bufof[r]];
        if (a.first[t] < b->first) b->first = a.first[t];
        if (a.last[t] > b->last) b->last = a.last[t];
        if (off < lo[bufof[r]]) lo[bufof[r]] = off;
    }
    /* Sizes once every member's low end is known. */
    for (size_t t = 0; t < a.nt; t++) {
        int64_t off;
        int r = find(&a, (int)t, &off);
        if (bufof[r] < 0 || mi_graph_tensor(g, t)->role != MI_ROLE_ACTIVATION) continue;
        mi_buffer *b = &p->buffers[bufof[r]];
        size_t end = (size_t)(off - lo[bufof[r]]) + mi_graph_tensor(g, t)->nbytes;
        if (end > b->size) b->size = end;
    }
    size_t ntensor_buffers = nb;
    for (size_t k = 0; k < a.nn; k++) {
        size_t w = workspace ? workspace[k] : 0;
        p->ws_size[k] = w;
        if (!w) continue;
        size_t al;
        if (!mi__align_up(w, p->alignment, &al) || !mi__add_size(naive, al, &naive)) {
            st = mi__error(MI_ERR_OVERFLOW, "node '%s': workspace of %zu bytes overflows the arena",
                           mi_graph_node(g, k)->name, w);
            goto fail;
        }
        p->buffers[nb++] = (mi_buffer){w, (int64_t)k, (int64_t)k};
    }
    p->nbuffers = nb;
    p->naive = naive;
    /* Member offsets relative to their buffer, before lo is overwritten. */
    for (size_t t = 0; t < a.nt; t++) {
        int64_t off;
        int r = find(&a, (int)t, &off);
        if (bufof[r] < 0 || mi_graph_tensor(g, t)->role != MI_ROLE_ACTIVATION) continue;
        p->place[t].buffer = bufof[r];
        p->place[t].offset = (size_t)(off - lo[bufof[r]]);
        if (r != (int)t) p->place[t].alias_of = r;
    }

    mi_problem prob = {p->buffers, nb, p->alignment};
    if ((st = mi_solve(&prob, &pl->o.solve, p->offsets, &p->result))) goto fail;
    p->pool[MI_POOL_ARENA] = p->result.pool_size;
    p->lower = p->result.lower_bound;

    for (size_t t = 0; t < a.nt; t++) {
        mi_tensor_place *pt = &p->place[t];
        if (pt->buffer >= 0) {
            pt->pool = MI_POOL_ARENA;
            pt->offset += p->offsets[pt->buffer];
            continue;
        }
        int64_t off;
        int r = find(&a, (int)t, &off);
        if (r != (int)t) { /* a view of an input, output or weight */
            pt->pool = p->place[r].pool;
            pt->offset = p->place[r].offset + (size_t)off;
            pt->alias_of = r;
        }
    }
    for (size_t k = 0; k < a.nn; k++)
        if (p->ws_size[k]) p->ws_offset[k] = p->offsets[ntensor_buffers++];

    /* The bound without in-place, for the report. */
    if (pl->o.solve.enabled && pl->o.inplace) {
        if ((st = analyse(&a0, pl, g, 0))) goto fail;
        mi_buffer *b0 = mi__malloc((nt + nn) * sizeof *b0);
        if (!b0) {
            st = mi__error(MI_ERR_NO_MEMORY, "bound without in-place");
            goto fail;
        }
        size_t m = 0;
        for (size_t t = 0; t < a0.nt; t++)
            if (mi_graph_tensor(g, t)->role == MI_ROLE_ACTIVATION)
                b0[m++] = (mi_buffer){mi_graph_tensor(g, t)->nbytes, a0.first[t], a0.last[t]};
        for (size_t k = 0; k < a0.nn; k++)
            if (p->ws_size[k]) b0[m++] = (mi_buffer){p->ws_size[k], (int64_t)k, (int64_t)k};
        mi_problem q = {b0, m, p->alignment};
        st = mi_lower_bound(&q, &p->lower_no_inplace);
        mi__free(b0);
        if (st) goto fail;
    } else {
        p->lower_no_inplace = p->lower;
    }
    analysis_free(&a);
    analysis_free(&a0);
    mi__free(bufof);
    mi__free(lo);
    *out = p;
    return MI_OK;
fail:
    analysis_free(&a);
    analysis_free(&a0);
    mi__free(bufof);
    mi__free(lo);
    mi_memory_plan_destroy(p);
    return st;
}

size_t mi_memory_plan_pool_size(const mi_memory_plan *p, mi_pool_kind k) {
    return (int)k >= 0 && k < MI_POOL_COUNT ? p->pool[k] : 0;
}
double mi_memory_plan_saving_ratio(const mi_memory_plan *p) {
    return p->naive ? 1.0 - (double)p->pool[MI_POOL_ARENA] / (double)p->naive : 0.0;
}
size_t mi_memory_plan_naive_size(const mi_memory_plan *p) { return p->naive; }
size_t mi_memory_plan_lower_bound(const mi_memory_plan *p) { return p->lower; }
size_t mi_memory_plan_lower_bound_no_inplace(const mi_memory_plan *p) { return p->lower_no_inplace; }
const mi_solve_result *mi_memory_plan_result(const mi_memory_plan *p) { return &p->result; }
size_t mi_memory_plan_alignment(const mi_memory_plan *p) { return p->alignment; }
size_t mi_memory_plan_tensor_count(const mi_memory_plan *p) { return p->ntensors; }
const mi_tensor_place *mi_memory_plan_tensor(const mi_memory_plan *p, size_t t) {
    return t < p->ntensors ? &p->place[t] : NULL;
}
size_t mi_memory_plan_workspace_offset(const mi_memory_plan *p, size_t k) {
    return k < p->nnodes ? p->ws_offset[k] : 0;
}
size_t mi_memory_plan_workspace_size(const mi_memory_plan *p, size_t k) {
    return k < p->nnodes ? p->ws_size[k] : 0;
}
int mi_memory_plan_node_elided(const mi_memory_plan *p, size_t k) {
    return k < p->nnodes ? p->elided[k] : 0;
}
const mi_buffer *mi_memory_plan_buffers(const mi_memory_plan *p, size_t *count) {
    *count = p->nbuffers;
    return p->buffers;
}
const size_t *mi_memory_plan_buffer_offsets(const mi_memory_plan *p) { return p->offsets; }
