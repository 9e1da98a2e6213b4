/* Lifetimes, views, in-place and copy-free concat (see lifetimes.h and
 * docs/design.md, "In-place, views and copy-free concat").
 *
 * Everything here is linear in nodes and tensors but for the finds: the
 * union-find compresses paths but does not balance by rank, since which
 * root a group keeps decides which tensor an alias points at and every
 * offset (unite puts t's root under onto's root, always), so a find costs
 * O(log n) amortised. */
#include "memplan/lifetimes.h"
#include "graph/graph_internal.h"
#include "graph/op_params.h"

#include <string.h>

#define VLOG(a, ...) mi__logf((a)->log, (a)->log_user, __VA_ARGS__)

typedef struct ctx {
    mi__lifetimes *lt;
    mi_log_fn log;
    void *log_user;
} ctx;

void mi__lifetimes_free(mi__lifetimes *a) {
    mi__free(a->first);
    mi__free(a->last);
    mi__free(a->parent);
    mi__free(a->delta);
    mi__free(a->group);
    mi__free(a->elided);
    memset(a, 0, sizeof *a);
}

int mi__lifetimes_find(mi__lifetimes *a, int t, int64_t *off) {
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

/* Puts t's group under onto's root, t at byte offset `offset` from onto,
 * and merges the group facts there. */
static void unite(mi__lifetimes *a, int t, int onto, int64_t offset) {
    int64_t ot, oo;
    int rt = mi__lifetimes_find(a, t, &ot), ro = mi__lifetimes_find(a, onto, &oo);
    /* Already one group: nothing moves (a root's delta is never read). */
    if (rt == ro) return;
    /* pos(t) = pos(onto) + offset  =>  pos(rt) = pos(ro) + oo + offset - ot */
    int64_t d = oo + offset - ot;
    a->parent[rt] = ro;
    a->delta[rt] = d;
    mi__group *gt = &a->group[rt], *go = &a->group[ro];
    go->fixed |= gt->fixed;
    go->has_concat |= gt->has_concat;
    if (gt->last_use > go->last_use) go->last_use = gt->last_use;
    if (gt->lo + d < go->lo) go->lo = gt->lo + d;
    if (gt->hi + d > go->hi) go->hi = gt->hi + d;
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
    case MI_OP_MUL: case MI_OP_DIV: case MI_OP_ERF: case MI_OP_SQRT: case MI_OP_RECIPROCAL: case MI_OP_NEG:
    case MI_OP_TANH: case MI_OP_EXP: case MI_OP_LOG: case MI_OP_POW: case MI_OP_MIN: case MI_OP_MAX: case MI_OP_MOD:
    case MI_OP_GELU:
        return 1;
    default:
        return 0;
    }
}

/* ---- lifetimes ------------------------------------------------------------------ */

/* A tensor is live from its producer to its last reader (inputs and a fused
 * residual); graph inputs from step 0 and outputs to the last step. */
static void live_ranges(mi__lifetimes *a) {
    const mi_graph *g = a->g;
    int64_t end = a->nn ? (int64_t)a->nn - 1 : 0;
    for (size_t t = 0; t < a->nt; t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        switch (x->role) {
        case MI_ROLE_INPUT: a->first[t] = 0; a->last[t] = end; break;
        case MI_ROLE_OUTPUT: a->first[t] = x->producer >= 0 ? x->producer : 0; a->last[t] = end; break;
        case MI_ROLE_WEIGHT: a->first[t] = -1; a->last[t] = -1; break;
        default: a->first[t] = x->producer >= 0 ? x->producer : 0; a->last[t] = a->first[t];
        }
    }
    for (size_t k = 0; k < a->nn; k++) {
        const mi_node *n = mi_graph_node(g, k);
        for (int i = 0; i < n->ninputs; i++) {
            int t = n->inputs[i];
            if (t >= 0 && a->last[t] < (int64_t)k) a->last[t] = (int64_t)k;
        }
        if (n->fused.residual >= 0 && a->last[n->fused.residual] < (int64_t)k)
            a->last[n->fused.residual] = (int64_t)k;
    }
    for (size_t t = 0; t < a->nt; t++)
        if (mi_graph_tensor(g, t)->role == MI_ROLE_WEIGHT) a->first[t] = a->last[t] = -1;
}

/* Every tensor its own group, with its own facts. */
static void singletons(mi__lifetimes *a) {
    for (size_t t = 0; t < a->nt; t++) {
        const mi_tensor *x = mi_graph_tensor(a->g, t);
        a->parent[t] = (int)t;
        a->group[t] = (mi__group){a->last[t], 0, (int64_t)x->nbytes, (unsigned char)is_fixed_role(x->role), 0, 0};
    }
}

/* ---- decisions ------------------------------------------------------------------ */

/* Tries to write node k's output into its input t, which must die here. */
static int try_inplace(ctx *c, size_t k, int in, int out) {
    mi__lifetimes *a = c->lt;
    const mi_graph *g = a->g;
    const mi_tensor *x = mi_graph_tensor(g, (size_t)in), *y = mi_graph_tensor(g, (size_t)out);
    if (x->role != MI_ROLE_ACTIVATION || y->role != MI_ROLE_ACTIVATION || !same_shape(x, y) ||
        x->dtype != y->dtype || !mi__same_storage(x, y))
        return 0;
    const mi__group *gi = &a->group[mi__lifetimes_find(a, in, NULL)];
    if (gi->fixed || gi->last_use > (int64_t)k || gi->has_concat) return 0;
    unite(a, out, in, 0);
    VLOG(c, "in-place: node %zu (%s) writes '%s' over '%s'", k, mi_graph_node(g, k)->name, y->name,
         x->name);
    return 1;
}

/* Concat along an axis with nothing but size-1 dims before it: each input
 * is one contiguous slice of the output, so its producer can write there. */
static void try_concat(ctx *c, size_t k) {
    mi__lifetimes *a = c->lt;
    const mi_graph *g = a->g;
    const mi_node *n = mi_graph_node(g, k);
    const mi_tensor *y = mi_graph_tensor(g, (size_t)n->outputs[0]);
    if (y->role != MI_ROLE_ACTIVATION) return;
    int64_t axis = mi_node_attr_int(n, "axis", 0);
    if (axis < 0) axis += y->ndim;
    if (axis < 0 || axis >= y->ndim) return;
    /* In the order the bytes lie (channels last: C is the innermost). */
    int64_t sd[MI_MAX_DIMS];
    mi_tensor_storage_dims(y, sd);
    int saxis = mi_tensor_storage_axis(y, (int)axis);
    for (int d = 0; d < saxis; d++)
        if (sd[d] != 1) return;
    int yroot = mi__lifetimes_find(a, n->outputs[0], NULL);
    for (int i = 0; i < n->ninputs; i++) {
        int t = n->inputs[i];
        if (t < 0) return;
        const mi_tensor *x = mi_graph_tensor(g, (size_t)t);
        if (x->role != MI_ROLE_ACTIVATION || x->producer < 0) return;
        int64_t off;
        int root = mi__lifetimes_find(a, t, &off);
        if (yroot == root) return;
        /* Two inputs of one group (the same tensor twice, or a tensor and
         * a view of it) are the same bytes: they cannot both be slices. */
        if (a->group[root].concat_seen == (int)k + 1) return;
        a->group[root].concat_seen = (int)k + 1;
        const mi__group *gi = &a->group[root];
        /* The whole group must be t's bytes (t and its in-place chain). */
        if (gi->fixed || gi->has_concat || gi->lo != off || gi->hi != off + (int64_t)x->nbytes) return;
    }
    size_t at = 0;
    for (int i = 0; i < n->ninputs; i++) {
        int t = n->inputs[i];
        unite(a, t, n->outputs[0], (int64_t)at);
        at += mi_graph_tensor(g, (size_t)t)->nbytes;
    }
    /* Every input is in the output's group now. */
    a->group[mi__lifetimes_find(a, n->outputs[0], NULL)].has_concat = 1;
    a->elided[k] = 1;
    VLOG(c, "concat in place: node %zu (%s): %d producers write into '%s'", k, n->name, n->ninputs,
         y->name);
}

static int plain_storage(const mi_tensor *t) {
    return t->layout == MI_LAYOUT_NCHW || mi_tensor_layout_neutral(t);
}

/* A view's bytes are its source's, in the order of its dims. */
static int view_storage_ok(const mi_tensor *x, const mi_tensor *y) {
    return (plain_storage(x) && plain_storage(y)) || (x->ndim == y->ndim && x->layout == y->layout);
}

/* A view reads its source as it is: the output must be an activation
 * (graph outputs have their own region) of the same bytes, and the source
 * may be anything, even a weight. */
static void try_view(ctx *c, size_t k) {
    mi__lifetimes *a = c->lt;
    const mi_node *n = mi_graph_node(a->g, k);
    const mi_tensor *x = mi_graph_tensor(a->g, (size_t)n->inputs[0]);
    const mi_tensor *y = mi_graph_tensor(a->g, (size_t)n->outputs[0]);
    if (y->role != MI_ROLE_ACTIVATION || x->nbytes != y->nbytes || x->dtype != y->dtype ||
        !view_storage_ok(x, y) || (n->noutputs != 1 && n->op != MI_OP_DROPOUT))
        return;
    for (int o = 1; o < n->noutputs; o++)
        if (n->outputs[o] >= 0) return;
    unite(a, n->outputs[0], n->inputs[0], 0);
    a->elided[k] = 1;
    VLOG(c, "view: node %zu (%s): '%s' is '%s'", k, n->name, y->name, x->name);
}

/* conv(x) + x: the conv reads x (or a view of it) for the whole step, so
 * its output may not overwrite the residual then. */
static void try_residual(ctx *c, size_t k) {
    mi__lifetimes *a = c->lt;
    const mi_node *n = mi_graph_node(a->g, k);
    int root = mi__lifetimes_find(a, n->fused.residual, NULL), shared = 0;
    for (int i = 0; i < n->ninputs; i++)
        shared |= n->inputs[i] >= 0 && mi__lifetimes_find(a, n->inputs[i], NULL) == root;
    if (!shared) try_inplace(c, k, n->fused.residual, n->outputs[0]);
}

static void decide(ctx *c) {
    mi__lifetimes *a = c->lt;
    for (size_t k = 0; k < a->nn; k++) {
        const mi_node *n = mi_graph_node(a->g, k);
        if (n->noutputs < 1 || n->outputs[0] < 0) continue;
        if (is_view_op(n->op)) {
            if (n->ninputs >= 1 && n->inputs[0] >= 0) try_view(c, k);
            continue;
        }
        if (n->op == MI_OP_CONCAT) {
            try_concat(c, k);
            continue;
        }
        if (n->op == MI_OP_CONV && n->fused.residual >= 0) {
            try_residual(c, k);
            continue;
        }
        if (!is_inplace_op(n->op)) continue;
        /* The inputs the output may overwrite (backend.h's in-place contract). */
        int nin = mi__op_inplace_allowed(n->op, 1) ? 2 : 1;
        if (nin > n->ninputs) nin = n->ninputs; /* Min / Max of one input */
        for (int i = 0; i < nin && i < n->ninputs; i++) {
            if (n->inputs[i] < 0) continue;
            if (nin == 2 && n->inputs[0] == n->inputs[1]) break; /* x op x: the input is read twice */
            if (try_inplace(c, k, n->inputs[i], n->outputs[0])) break;
        }
    }
}

mi_status mi__lifetimes_analyse(mi__lifetimes *a, const mi_graph *g, int inplace, mi_log_fn log,
                                void *log_user) {
    memset(a, 0, sizeof *a);
    a->g = g;
    a->nt = mi_graph_tensor_count(g);
    a->nn = mi_graph_node_count(g);
    size_t nt = a->nt ? a->nt : 1;
    a->first = mi__malloc(nt * sizeof *a->first);
    a->last = mi__malloc(nt * sizeof *a->last);
    a->parent = mi__malloc(nt * sizeof *a->parent);
    a->delta = mi__calloc(nt, sizeof *a->delta);
    a->group = mi__malloc(nt * sizeof *a->group);
    a->elided = mi__calloc(a->nn ? a->nn : 1, 1);
    if (!a->first || !a->last || !a->parent || !a->delta || !a->group || !a->elided) {
        size_t n = a->nt;
        mi__lifetimes_free(a);
        return mi__error(MI_ERR_NO_MEMORY, "lifetimes of %zu tensors", n);
    }
    live_ranges(a);
    singletons(a);
    if (inplace) {
        ctx c = {a, log, log_user};
        decide(&c);
    }
    return MI_OK;
}
