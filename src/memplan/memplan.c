/* The graph-level planner: the planner object, and graph -> planner
 * problem -> three pools, in phases (mi_planner_plan at the end): the
 * lifetimes and groups (lifetimes.c), the fixed pools (weights,
 * inputs/outputs), the arena's groups as planner buffers with their sizes,
 * the workspaces, the solve, the offsets back to each tensor, and the
 * bound without in-place for the report. A group in the arena becomes one
 * planner buffer whose lifetime covers all its members; groups rooted at a
 * graph input or a weight stay in that pool. */
#include "common/internal.h"
#include "memplan/lifetimes.h"
#include "mini_infer/memplan.h"

#include <stdlib.h>
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
    o->max_pool = MI_DEFAULT_MAX_POOL;
}

/* The pool limit the options ask for (0: the default). */
static size_t pool_limit(const mi_plan_options *o) { return o->max_pool ? o->max_pool : MI_DEFAULT_MAX_POOL; }

static mi_status over_limit(const mi_graph *g, mi_pool_kind kind, size_t bytes, size_t limit, const char *tensor) {
    const char *name = mi_graph_name(g);
    return mi__error(MI_ERR_CAPACITY, "%s%s%sthe %s pool needs %zu bytes%s%s%s, over the limit of %zu "
                     "(mi_plan_options.max_pool, --max-pool)", name && *name ? "graph '" : "", name && *name ? name : "",
                     name && *name ? "': " : "", mi_pool_name(kind), bytes, tensor ? " (with tensor '" : "",
                     tensor ? tensor : "", tensor ? "')" : "", limit);
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

/* What the phases of mi_planner_plan share. */
typedef struct build {
    const mi_planner *pl;
    const mi_graph *g;
    const size_t *workspace;
    mi_memory_plan *p;
    mi__lifetimes a;
    int *bufof;  /* per group root in the arena: its buffer, else -1 */
    int64_t *lo; /* per buffer: its group's lowest member offset */
    size_t ntensor_buffers;
} build;

/* ---- weights and inputs/outputs ------------------------------------------------ */

typedef struct weight_ref {
    const void *data;
    size_t nbytes;
    int t;
} weight_ref;

static int cmp_weight_ref(const void *x, const void *y) {
    const weight_ref *a = x, *b = y;
    uintptr_t p = (uintptr_t)a->data, q = (uintptr_t)b->data;
    if (p != q) return p < q ? -1 : 1;
    return (a->t > b->t) - (a->t < b->t);
}

/* dup[t] for every weight t with data: the first earlier weight (by index)
 * with the same data pointer and at least as many bytes, whose region t
 * shares; -1 when none. Sorted by pointer then index, each run of one
 * pointer keeps the running maximum of sizes, which never decreases, so
 * the first earlier weight large enough is where that maximum first
 * reaches t's size: a binary search. */
static mi_status weight_dups(const mi_graph *g, size_t nt, int *dup) {
    size_t m = 0;
    for (size_t t = 0; t < nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        dup[t] = -1;
        m += x->role == MI_ROLE_WEIGHT && x->data;
    }
    if (!m) return MI_OK;
    weight_ref *w = mi__malloc(m * sizeof *w);
    size_t *run_max = mi__malloc(m * sizeof *run_max);
    if (!w || !run_max) {
        mi__free(w);
        mi__free(run_max);
        return mi__error(MI_ERR_NO_MEMORY, "weights pool: sharing of %zu weights", m);
    }
    m = 0;
    for (size_t t = 0; t < nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        if (x->role == MI_ROLE_WEIGHT && x->data) w[m++] = (weight_ref){x->data, x->nbytes, (int)t};
    }
    qsort(w, m, sizeof *w, cmp_weight_ref);
    for (size_t s = 0, e; s < m; s = e) {
        for (e = s; e < m && w[e].data == w[s].data; e++) {
            size_t lo = s, hi = e; /* first i in [s, e) with run_max[i] >= w[e].nbytes, else e */
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (run_max[mid] >= w[e].nbytes) hi = mid;
                else lo = mid + 1;
            }
            if (lo < e) dup[w[e].t] = w[lo].t;
            run_max[e] = e > s && run_max[e - 1] > w[e].nbytes ? run_max[e - 1] : w[e].nbytes;
        }
    }
    mi__free(w);
    mi__free(run_max);
    return MI_OK;
}

/* Lays out the tensors of a fixed pool (weights, io) one after another;
 * weights that share bytes (aliases) share a region. dup: weight_dups,
 * for the weights pool. */
static mi_status lay_out_fixed(build *b, mi_pool_kind kind, const int *dup) {
    mi_memory_plan *p = b->p;
    size_t at = 0;
    for (size_t t = 0; t < b->a.nt; t++) {
        const mi_tensor *x = mi_graph_tensor(b->g, t);
        int want = kind == MI_POOL_WEIGHTS ? x->role == MI_ROLE_WEIGHT
                                           : (x->role == MI_ROLE_INPUT || x->role == MI_ROLE_OUTPUT);
        if (!want || mi__lifetimes_find(&b->a, (int)t, NULL) != (int)t) continue;
        if (kind == MI_POOL_WEIGHTS && x->data && dup[t] >= 0) {
            p->place[t].pool = MI_POOL_WEIGHTS;
            p->place[t].offset = p->place[dup[t]].offset;
            p->place[t].alias_of = dup[t];
            continue;
        }
        size_t sz;
        if (!mi__align_up(x->nbytes, p->alignment, &sz) || !mi__add_size(at, sz, &sz))
            return mi__error(MI_ERR_OVERFLOW, "%s pool: tensor '%s' brings it past SIZE_MAX",
                             mi_pool_name(kind), x->name);
        if (sz > pool_limit(&b->pl->o)) return over_limit(b->g, kind, sz, pool_limit(&b->pl->o), x->name);
        p->place[t].pool = kind;
        p->place[t].offset = at;
        at = sz;
    }
    p->pool[kind] = at;
    return MI_OK;
}

/* The weights pool, then the inputs/outputs pool. A weight is never a
 * view of another tensor, so it is its group's root and every weight
 * before it has its place already when the weights pool reaches it. */
static mi_status fixed_pools(build *b) {
    int *dup = mi__malloc((b->a.nt ? b->a.nt : 1) * sizeof *dup);
    if (!dup) return mi__error(MI_ERR_NO_MEMORY, "weights pool of %zu tensors", b->a.nt);
    mi_status st = weight_dups(b->g, b->a.nt, dup);
    if (!st) st = lay_out_fixed(b, MI_POOL_WEIGHTS, dup);
    mi__free(dup);
    return st ? st : lay_out_fixed(b, MI_POOL_IO, NULL);
}

/* ---- the arena ---------------------------------------------------------------- */

/* Each group rooted at an activation becomes one buffer, live from its
 * first member's first step to its last member's last; the naive arena
 * sums every activation. */
static mi_status arena_groups(build *b) {
    mi_memory_plan *p = b->p;
    mi__lifetimes *a = &b->a;
    size_t nb = 0, naive = 0;
    for (size_t t = 0; t < a->nt; t++) b->bufof[t] = -1;
    for (size_t t = 0; t < a->nt; t++) {
        const mi_tensor *x = mi_graph_tensor(b->g, t);
        if (x->role != MI_ROLE_ACTIVATION) continue;
        size_t al;
        if (!mi__align_up(x->nbytes, p->alignment, &al) || !mi__add_size(naive, al, &naive))
            return mi__error(MI_ERR_OVERFLOW, "arena: tensor '%s' brings the naive size past SIZE_MAX", x->name);
        int64_t off;
        int r = mi__lifetimes_find(a, (int)t, &off);
        if (mi_graph_tensor(b->g, (size_t)r)->role != MI_ROLE_ACTIVATION) continue; /* a view of an input or weight */
        if (b->bufof[r] < 0) {
            b->bufof[r] = (int)nb;
            p->buffers[nb] = (mi_buffer){0, a->first[t], a->last[t]};
            b->lo[nb] = off;
            nb++;
        }
        mi_buffer *buf = &p->buffers[b->bufof[r]];
        if (a->first[t] < buf->first) buf->first = a->first[t];
        if (a->last[t] > buf->last) buf->last = a->last[t];
        if (off < b->lo[b->bufof[r]]) b->lo[b->bufof[r]] = off;
    }
    p->nbuffers = b->ntensor_buffers = nb;
    p->naive = naive;
    return MI_OK;
}

/* Once every member's low end is known: each buffer's size, and each
 * member's offset in its buffer. */
static void buffer_sizes(build *b) {
    mi_memory_plan *p = b->p;
    for (size_t t = 0; t < b->a.nt; t++) {
        int64_t off;
        int r = mi__lifetimes_find(&b->a, (int)t, &off);
        const mi_tensor *x = mi_graph_tensor(b->g, t);
        if (b->bufof[r] < 0 || x->role != MI_ROLE_ACTIVATION) continue;
        mi_buffer *buf = &p->buffers[b->bufof[r]];
        size_t rel = (size_t)(off - b->lo[b->bufof[r]]);
        if (rel + x->nbytes > buf->size) buf->size = rel + x->nbytes;
        p->place[t].buffer = b->bufof[r];
        p->place[t].offset = rel;
        if (r != (int)t) p->place[t].alias_of = r;
    }
}

/* Each node's workspace: a buffer live at its own step, after the groups. */
static mi_status workspaces(build *b) {
    mi_memory_plan *p = b->p;
    size_t nb = p->nbuffers;
    for (size_t k = 0; k < b->a.nn; k++) {
        size_t w = b->workspace ? b->workspace[k] : 0;
        p->ws_size[k] = w;
        if (!w) continue;
        size_t al;
        if (!mi__align_up(w, p->alignment, &al) || !mi__add_size(p->naive, al, &p->naive))
            return mi__error(MI_ERR_OVERFLOW, "node '%s': workspace of %zu bytes overflows the arena",
                             mi_graph_node(b->g, k)->name, w);
        p->buffers[nb++] = (mi_buffer){w, (int64_t)k, (int64_t)k};
    }
    p->nbuffers = nb;
    return MI_OK;
}

static mi_status solve(build *b) {
    mi_memory_plan *p = b->p;
    mi_problem prob = {p->buffers, p->nbuffers, p->alignment};
    mi_status st = mi_solve(&prob, &b->pl->o.solve, p->offsets, &p->result);
    if (st) return st;
    p->pool[MI_POOL_ARENA] = p->result.pool_size;
    p->lower = p->result.lower_bound;
    if (p->pool[MI_POOL_ARENA] > pool_limit(&b->pl->o))
        return over_limit(b->g, MI_POOL_ARENA, p->pool[MI_POOL_ARENA], pool_limit(&b->pl->o), NULL);
    return MI_OK;
}

/* Buffer offsets back to the tensors and workspaces; a view of an input,
 * output or weight lives in that tensor's pool. */
static void place_tensors(build *b) {
    mi_memory_plan *p = b->p;
    for (size_t t = 0; t < b->a.nt; t++) {
        mi_tensor_place *pt = &p->place[t];
        if (pt->buffer >= 0) {
            pt->pool = MI_POOL_ARENA;
            pt->offset += p->offsets[pt->buffer];
            continue;
        }
        int64_t off;
        int r = mi__lifetimes_find(&b->a, (int)t, &off);
        if (r != (int)t) {
            pt->pool = p->place[r].pool;
            pt->offset = p->place[r].offset + (size_t)off;
            pt->alias_of = r;
        }
    }
    size_t w = b->ntensor_buffers;
    for (size_t k = 0; k < b->a.nn; k++)
        if (p->ws_size[k]) p->ws_offset[k] = p->offsets[w++];
}

/* The lower bound without in-place, views or concat, for the report. */
static mi_status bound_without_inplace(build *b) {
    mi_memory_plan *p = b->p;
    const mi_plan_options *o = &b->pl->o;
    if (!o->solve.enabled || !o->inplace) {
        p->lower_no_inplace = p->lower;
        return MI_OK;
    }
    mi__lifetimes a0;
    mi_status st = mi__lifetimes_analyse(&a0, b->g, 0, NULL, NULL);
    if (st) return st;
    mi_buffer *b0 = mi__malloc(((a0.nt ? a0.nt : 1) + (a0.nn ? a0.nn : 1)) * sizeof *b0);
    if (!b0) {
        mi__lifetimes_free(&a0);
        return mi__error(MI_ERR_NO_MEMORY, "bound without in-place");
    }
    size_t m = 0;
    for (size_t t = 0; t < a0.nt; t++)
        if (mi_graph_tensor(b->g, t)->role == MI_ROLE_ACTIVATION)
            b0[m++] = (mi_buffer){mi_graph_tensor(b->g, t)->nbytes, a0.first[t], a0.last[t]};
    for (size_t k = 0; k < a0.nn; k++)
        if (p->ws_size[k]) b0[m++] = (mi_buffer){p->ws_size[k], (int64_t)k, (int64_t)k};
    mi_problem q = {b0, m, p->alignment};
    st = mi_lower_bound(&q, &p->lower_no_inplace);
    mi__free(b0);
    mi__lifetimes_free(&a0);
    return st;
}

/* ---- planning ----------------------------------------------------------------- */

/* The plan's arrays, every tensor unplaced (but its size and steps). */
static mi_status plan_alloc(build *b) {
    const mi__lifetimes *a = &b->a;
    mi_memory_plan *p = mi__calloc(1, sizeof *p);
    if (!p) return mi__error(MI_ERR_NO_MEMORY, "creating a memory plan");
    b->p = p;
    p->alignment = b->pl->o.alignment;
    p->ntensors = a->nt;
    p->nnodes = a->nn;
    size_t nt = a->nt ? a->nt : 1, nn = a->nn ? a->nn : 1;
    p->place = mi__calloc(nt, sizeof *p->place);
    p->ws_offset = mi__calloc(nn, sizeof *p->ws_offset);
    p->ws_size = mi__calloc(nn, sizeof *p->ws_size);
    p->elided = mi__calloc(nn, 1);
    p->buffers = mi__calloc(nt + nn, sizeof *p->buffers);
    p->offsets = mi__calloc(nt + nn, sizeof *p->offsets);
    b->bufof = mi__malloc(nt * sizeof *b->bufof);
    b->lo = mi__malloc((nt + nn) * sizeof *b->lo);
    if (!b->lo || !p->place || !p->ws_offset || !p->ws_size || !p->elided || !p->buffers || !p->offsets ||
        !b->bufof)
        return mi__error(MI_ERR_NO_MEMORY, "memory plan of %zu tensors", a->nt);
    memcpy(p->elided, a->elided, a->nn);
    for (size_t t = 0; t < a->nt; t++) {
        p->place[t].buffer = -1;
        p->place[t].alias_of = -1;
        p->place[t].size = mi_graph_tensor(b->g, t)->nbytes;
        p->place[t].first = a->first[t];
        p->place[t].last = a->last[t];
    }
    return MI_OK;
}

mi_status mi_planner_plan(const mi_planner *pl, const mi_graph *g, const size_t *workspace,
                          mi_memory_plan **out) {
    *out = NULL;
    if (!pl || !g) return mi__error(MI_ERR_INVALID_ARG, "mi_planner_plan: planner or graph is NULL");
    build b;
    memset(&b, 0, sizeof b);
    b.pl = pl;
    b.g = g;
    b.workspace = workspace;
    const mi_solve_options *so = &pl->o.solve;
    mi_status st = mi__lifetimes_analyse(&b.a, g, so->enabled && pl->o.inplace, so->verbose ? so->log : NULL,
                                         so->log_user);
    if (st) return st;
    if ((st = plan_alloc(&b)) || (st = fixed_pools(&b)) || (st = arena_groups(&b))) goto done;
    buffer_sizes(&b);
    if ((st = workspaces(&b)) || (st = solve(&b))) goto done;
    place_tensors(&b);
    mi__lifetimes_free(&b.a); /* the bound analyses again: one analysis in memory at a time */
    st = bound_without_inplace(&b);
done:
    mi__lifetimes_free(&b.a);
    mi__free(b.bufof);
    mi__free(b.lo);
    if (st) {
        mi_memory_plan_destroy(b.p);
        return st;
    }
    *out = b.p;
    return MI_OK;
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
