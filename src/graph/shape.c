/* Shape inference: the dtype and dims of every node output from its inputs
 * and mi__op_params, plus the checks that a model's weights fit its ops
 * (Conv channels against group, BatchNorm parameter lengths, Gemm K).
 * Every output is checked to fit int64 elements and size_t bytes as soon
 * as it is known, so the arithmetic of later nodes cannot overflow. */
#include "graph/graph_private.h"
#include "graph/op_params.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define ERR(st, ...) mi__node_error(st, n, __VA_ARGS__)

/* "[1,3,224,224]" into buf. */
static const char *dims_str(char *buf, size_t cap, int ndim, const int64_t *dims) {
    size_t w = 0;
    w += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (w < cap) snprintf(buf + w, cap - w, "]");
    return buf;
}
#define DIMS(t) dims_str((char[96]){0}, 96, (t)->ndim, (t)->dims)

/* ---- dtype classes ---------------------------------------------------------- */

enum { ANY, FLOAT_ONLY, NUMERIC, INDEX, NUMERIC_ALL };

static int dtype_in(mi_dtype t, int cls) {
    switch (cls) {
    case FLOAT_ONLY: return mi__dtype_is_float(t);
    case NUMERIC:
        return mi__dtype_is_float(t) || t == MI_DTYPE_INT32 || t == MI_DTYPE_INT64 || t == MI_DTYPE_DOUBLE;
    case INDEX: return t == MI_DTYPE_INT32 || t == MI_DTYPE_INT64;
    case NUMERIC_ALL: return t != MI_DTYPE_BOOL && mi_dtype_size(t) != 0;
    default: return mi_dtype_size(t) != 0;
    }
}

static const char *class_name(int cls) {
    switch (cls) {
    case FLOAT_ONLY: return "float, float16 or bfloat16";
    case NUMERIC: return "float, float16, bfloat16, double, int32 or int64";
    case INDEX: return "int32 or int64";
    case NUMERIC_ALL: return "any stored number";
    default: return "any stored type";
    }
}

static mi_status want_dtype(const mi_graph *g, const mi_node *n, int k, int cls) {
    const mi_tensor *t = mi__node_in(g, n, k);
    if (t && !dtype_in(t->dtype, cls))
        return ERR(MI_ERR_UNSUPPORTED, "input %d '%s' has dtype %s; %s supports %s there", k,
                   t->name, mi_dtype_name(t->dtype), mi_op_name(n->op), class_name(cls));
    return MI_OK;
}

static mi_status same_dtype(const mi_graph *g, const mi_node *n, int a, int b) {
    const mi_tensor *x = mi__node_in(g, n, a), *y = mi__node_in(g, n, b);
    if (x && y && x->dtype != y->dtype)
        return ERR(MI_ERR_GRAPH, "inputs '%s' (%s) and '%s' (%s) must have the same dtype",
                   x->name, mi_dtype_name(x->dtype), y->name, mi_dtype_name(y->dtype));
    return MI_OK;
}

/* ---- outputs ---------------------------------------------------------------- */

static int all_inputs_known(const mi_graph *g, const mi_node *n) {
    for (int k = 0; k < n->ninputs; k++)
        if (n->inputs[k] >= 0 && !mi__tensor_value(g, n->inputs[k])) return 0;
    return 1;
}

static mi_status set_out(mi_graph *g, const mi_node *n, int k, mi_dtype dt, int ndim,
                         const int64_t *dims) {
    if (k >= n->noutputs) return MI_OK;
    mi_tensor *t = &g->tensors[n->outputs[k]];
    if (ndim < 0 || ndim > MI_MAX_DIMS)
        return ERR(MI_ERR_UNSUPPORTED, "output '%s' would have rank %d, at most %d supported",
                   t->name, ndim, MI_MAX_DIMS);
    /* Empty tensors are allowed only where the value is a constant (a
     * shape computation); settle() rejects any that remain activations. */
    mi_status st = mi__check_dims(t->name, dt, ndim, dims, all_inputs_known(g, n) ? 0 : 1);
    if (st != MI_OK) return mi__error_prefix(st, MI__NODE_FMT ": ", MI__NODE_ARG(n));
    t->dtype = dt;
    t->ndim = ndim;
    memcpy(t->dims, dims, (size_t)ndim * sizeof(int64_t));
    return MI_OK;
}

static mi_status same_as_input(mi_graph *g, const mi_node *n, int cls) {
    mi_status st = want_dtype(g, n, 0, cls);
    if (st != MI_OK) return st;
    const mi_tensor *x = mi__node_in(g, n, 0);
    return set_out(g, n, 0, x->dtype, x->ndim, x->dims);
}

/* ---- arity ---------------------------------------------------------------- */

static mi_status check_arity(const mi_graph *g, const mi_node *n) {
    int min_in = 1, max_in = 1, max_out = 1;
    switch (n->op) {
    case MI_OP_CONV: case MI_OP_GEMM: min_in = 2; max_in = 3; break;
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: case MI_OP_MATMUL:
    case MI_OP_GATHER: case MI_OP_RESHAPE: min_in = max_in = 2; break;
    case MI_OP_CLIP: max_in = g->opset < 11 ? 1 : 3; break;
    case MI_OP_PAD: max_in = g->opset < 11 ? 1 : 4; break;
    case MI_OP_SLICE: min_in = g->opset < 10 ? 1 : 3; max_in = g->opset < 10 ? 1 : 5; break;
    case MI_OP_BATCH_NORM: min_in = max_in = 5; max_out = 5; break;
    case MI_OP_CONCAT: max_in = INT32_MAX; break;
    case MI_OP_SPLIT: max_in = 2; max_out = INT32_MAX; break;
    case MI_OP_REDUCE_MEAN: case MI_OP_SQUEEZE: case MI_OP_UNSQUEEZE: max_in = 2; break;
    case MI_OP_REDUCE_SUM: case MI_OP_REDUCE_MAX: max_in = 2; break;
    case MI_OP_POW: case MI_OP_MOD: case MI_OP_EQUAL: case MI_OP_LESS: case MI_OP_GREATER: case MI_OP_AND:
    case MI_OP_EXPAND: case MI_OP_TILE:
        min_in = max_in = 2;
        break;
    case MI_OP_MIN: case MI_OP_MAX: max_in = 8; break; /* variadic */
    case MI_OP_WHERE: case MI_OP_RANGE: case MI_OP_SCATTER_ND: min_in = max_in = 3; break;
    case MI_OP_LAYER_NORM: min_in = 2; max_in = 3; max_out = 3; break;
    case MI_OP_TRILU: max_in = 2; break;
    case MI_OP_DROPOUT: max_in = 3; max_out = 2; break;
    case MI_OP_MAX_POOL: max_out = 2; break;
    case MI_OP_CONSTANT: min_in = max_in = 0; break;
    default: break;
    }
    if (n->ninputs < min_in || n->ninputs > max_in)
        return ERR(MI_ERR_GRAPH, "has %d inputs, expected %d to %d", n->ninputs, min_in, max_in);
    if (n->noutputs > max_out)
        return ERR(MI_ERR_GRAPH, "has %d outputs, expected at most %d", n->noutputs, max_out);
    for (int k = 0; k < min_in; k++)
        if (n->inputs[k] < 0) return ERR(MI_ERR_GRAPH, "required input %d is missing", k);
    for (int k = 0; k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (t && (t->ndim < 0 || t->dtype == MI_DTYPE_UNDEFINED))
            return mi__error(MI_ERR_INTERNAL, MI__NODE_FMT ": input '%s' has no known shape",
                             MI__NODE_ARG(n), t->name);
    }
    return MI_OK;
}

/* ---- graph inputs --------------------------------------------------------- */

mi_status mi__resolve_inputs(mi_graph *g, const mi_load_options *opt) {
    for (size_t i = 0; i < g->ninputs; i++) {
        mi_tensor *t = &g->tensors[g->inputs[i]];
        const mi__tinfo *ti = &g->ti[g->inputs[i]];
        if (opt->batch > 0 && t->ndim >= 1) t->dims[0] = opt->batch;
        for (int d = 0; d < t->ndim; d++) {
            if (t->dims[d] >= 0) continue;
            if (d == 0) {
                t->dims[0] = 1;
                continue;
            }
            const char *p = ti->dparam && ti->dparam[d] ? ti->dparam[d] : "";
            return mi__error(MI_ERR_SHAPE,
                             "graph input '%s': dim %d%s%s%s is dynamic; only dim 0 (the batch) "
                             "may be dynamic", t->name, d, p[0] ? " ('" : "", p, p[0] ? "')" : "");
        }
        mi_status st = mi__check_dims(t->name, t->dtype, t->ndim, t->dims, 1);
        if (st != MI_OK) return mi__error_prefix(st, "graph input: ");
    }
    return MI_OK;
}

/* ---- per op ----------------------------------------------------------------- */

static mi_status infer_broadcast(mi_graph *g, const mi_node *n) {
    mi_status st;
    if ((st = want_dtype(g, n, 0, NUMERIC)) != MI_OK || (st = want_dtype(g, n, 1, NUMERIC)) != MI_OK ||
        (st = same_dtype(g, n, 0, 1)) != MI_OK)
        return st;
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t out[MI_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ERR(MI_ERR_SHAPE, "shapes %s of '%s' and %s of '%s' cannot be broadcast",
                       DIMS(a), a->name, DIMS(b), b->name);
        out[i] = da == 1 ? db : da;
    }
    return set_out(g, n, 0, a->dtype, r, out);
}

/* The broadcast of up to three inputs' dims into out (rank into *r). */
static mi_status broadcast_dims(const mi_graph *g, const mi_node *n, int from, int count, int *r, int64_t *out) {
    *r = 0;
    for (int k = from; k < from + count; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (t && t->ndim > *r) *r = t->ndim;
    }
    for (int i = 0; i < *r; i++) out[i] = 1;
    for (int k = from; k < from + count; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (!t) continue;
        for (int i = 0; i < t->ndim; i++) {
            int o = i + (*r - t->ndim);
            int64_t d = t->dims[i];
            if (d == out[o] || d == 1) continue;
            if (out[o] != 1) return ERR(MI_ERR_SHAPE, "input '%s' %s does not broadcast with the others", t->name, DIMS(t));
            out[o] = d;
        }
    }
    return MI_OK;
}

/* Pow, Min, Max, Mod (numeric, one dtype; Pow's exponent may differ),
 * Equal, Less, Greater (bool out), And (bool), Where (bool, x, y). */
static mi_status infer_math(mi_graph *g, const mi_node *n) {
    mi_status st;
    int r;
    int64_t out[MI_MAX_DIMS];
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    switch (n->op) {
    case MI_OP_WHERE: {
        const mi_tensor *c = mi__node_in(g, n, 0);
        if (c->dtype != MI_DTYPE_BOOL)
            return ERR(MI_ERR_GRAPH, "condition '%s' is %s, expected bool", c->name, mi_dtype_name(c->dtype));
        if ((st = same_dtype(g, n, 1, 2)) != MI_OK || (st = broadcast_dims(g, n, 0, 3, &r, out)) != MI_OK) return st;
        return set_out(g, n, 0, b->dtype, r, out);
    }
    case MI_OP_AND:
        if (a->dtype != MI_DTYPE_BOOL || b->dtype != MI_DTYPE_BOOL) return ERR(MI_ERR_GRAPH, "inputs must be bool");
        if ((st = broadcast_dims(g, n, 0, 2, &r, out)) != MI_OK) return st;
        return set_out(g, n, 0, MI_DTYPE_BOOL, r, out);
    case MI_OP_EQUAL: case MI_OP_LESS: case MI_OP_GREATER:
        if ((st = same_dtype(g, n, 0, 1)) != MI_OK || (st = broadcast_dims(g, n, 0, 2, &r, out)) != MI_OK) return st;
        if (n->op != MI_OP_EQUAL && (st = want_dtype(g, n, 0, NUMERIC)) != MI_OK) return st;
        return set_out(g, n, 0, MI_DTYPE_BOOL, r, out);
    case MI_OP_MIN: case MI_OP_MAX:
        for (int k = 0; k < n->ninputs; k++)
            if ((st = want_dtype(g, n, k, NUMERIC_ALL)) != MI_OK || (st = same_dtype(g, n, 0, k)) != MI_OK) return st;
        if ((st = broadcast_dims(g, n, 0, n->ninputs, &r, out)) != MI_OK) return st;
        return set_out(g, n, 0, a->dtype, r, out);
    default: /* Pow, Mod */
        if ((st = want_dtype(g, n, 0, n->op == MI_OP_MOD ? NUMERIC_ALL : NUMERIC)) != MI_OK ||
            (st = want_dtype(g, n, 1, n->op == MI_OP_MOD ? NUMERIC_ALL : NUMERIC)) != MI_OK ||
            (n->op != MI_OP_POW && (st = same_dtype(g, n, 0, 1)) != MI_OK) ||
            (st = broadcast_dims(g, n, 0, 2, &r, out)) != MI_OK)
            return st;
        return set_out(g, n, 0, a->dtype, r, out);
    }
}

static mi_status infer_layer_norm(mi_graph *g, const mi_node *n, int64_t axis) {
    mi_status st;
    const mi_tensor *x = mi__node_in(g, n, 0), *scale = mi__node_in(g, n, 1), *bias = mi__node_in(g, n, 2);
    if ((st = want_dtype(g, n, 0, FLOAT_ONLY)) != MI_OK) return st;
    int64_t inner = 1;
    for (int i = (int)axis; i < x->ndim; i++) inner *= x->dims[i];
    const mi_tensor *ps[2] = {scale, bias};
    for (int k = 0; k < 2; k++)
        if (ps[k] && (mi_tensor_numel(ps[k]) != inner || ps[k]->dtype != x->dtype))
            return ERR(MI_ERR_SHAPE, "'%s' %s (%s) must have the %lld elements of the normalized axes, dtype %s",
                       ps[k]->name, DIMS(ps[k]), mi_dtype_name(ps[k]->dtype), (long long)inner,
                       mi_dtype_name(x->dtype));
    /* Mean and InvStdDev: the normalized axes kept as 1, in the stash type (float). */
    int64_t sd[MI_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) sd[i] = i < axis ? x->dims[i] : 1;
    if (mi_node_attr_int(n, "stash_type", 1) != 1)
        return ERR(MI_ERR_UNSUPPORTED, "stash_type %lld (only 1, float)", (long long)mi_node_attr_int(n, "stash_type", 1));
    for (int k = 1; k < n->noutputs; k++)
        if (n->outputs[k] >= 0 && (st = set_out(g, n, k, MI_DTYPE_FLOAT, x->ndim, sd)) != MI_OK) return st;
    return set_out(g, n, 0, x->dtype, x->ndim, x->dims);
}

static mi_status infer_reduce(mi_graph *g, const mi_node *n, const mi__reduce_params *p, int cls) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    mi_status st = want_dtype(g, n, 0, cls);
    if (st != MI_OK) return st;
    int64_t out[MI_MAX_DIMS];
    int r = 0;
    for (int k = 0; k < x->ndim; k++) {
        if (!p->reduce[k]) out[r++] = x->dims[k];
        else if (p->keepdims) out[r++] = 1;
    }
    return set_out(g, n, 0, x->dtype, r, out);
}

/* Expand and Tile take their shape or repeats from a constant input; the
 * others here from the graph's values (shape subgraphs fold first). */
static mi_status infer_expand_tile(mi_graph *g, const mi_node *n) {
    const mi_tensor *x = mi__node_in(g, n, 0), *s = mi__node_in(g, n, 1);
    int64_t v[MI_MAX_DIMS], out[MI_MAX_DIMS];
    size_t nv = 0;
    mi_status st;
    if (s->dtype != MI_DTYPE_INT64) return ERR(MI_ERR_GRAPH, "'%s' must be int64", s->name);
    if ((st = mi__const_ints(g, n, 1, v, MI_MAX_DIMS, &nv)) != MI_OK) return st;
    if (n->op == MI_OP_TILE) {
        if ((int)nv != x->ndim) return ERR(MI_ERR_SHAPE, "repeats has %zu values for rank %d", nv, x->ndim);
        for (int i = 0; i < x->ndim; i++) {
            if (v[i] < 0) return ERR(MI_ERR_SHAPE, "repeat %lld is negative", (long long)v[i]);
            if (!mi__mul_i64(x->dims[i], v[i], &out[i])) return ERR(MI_ERR_OVERFLOW, "the tiled dims overflow");
        }
        return set_out(g, n, 0, x->dtype, x->ndim, out);
    }
    int r = (int)nv > x->ndim ? (int)nv : x->ndim;
    for (int i = 0; i < r; i++) {
        int ix = i - (r - x->ndim), is = i - (r - (int)nv);
        int64_t dx = ix >= 0 ? x->dims[ix] : 1, ds = is >= 0 ? v[is] : 1;
        if (dx != ds && dx != 1 && ds != 1)
            return ERR(MI_ERR_SHAPE, "'%s' %s cannot be expanded to the shape given", x->name, DIMS(x));
        out[i] = dx == 1 ? ds : dx;
    }
    return set_out(g, n, 0, x->dtype, r, out);
}

static mi_status infer_range(mi_graph *g, const mi_node *n) {
    const mi_tensor *s = mi__node_in(g, n, 0);
    mi_status st;
    if ((st = same_dtype(g, n, 0, 1)) != MI_OK || (st = same_dtype(g, n, 0, 2)) != MI_OK ||
        (st = want_dtype(g, n, 0, NUMERIC)) != MI_OK)
        return st;
    for (int k = 0; k < 3; k++)
        if (mi_tensor_numel(mi__node_in(g, n, k)) != 1) return ERR(MI_ERR_SHAPE, "input %d must be a scalar", k);
    const void *vs = mi__tensor_value(g, n->inputs[0]), *vl = mi__tensor_value(g, n->inputs[1]),
               *vd = mi__tensor_value(g, n->inputs[2]);
    if (!vs || !vl || !vd)
        return ERR(MI_ERR_UNSUPPORTED, "start, limit and delta must be known at load time (its output's size depends "
                   "on them)");
    double a = mi_k_ld_d((int)s->dtype, vs, 0), l = mi_k_ld_d((int)s->dtype, vl, 0), d = mi_k_ld_d((int)s->dtype, vd, 0);
    if (d == 0.0) return ERR(MI_ERR_SHAPE, "delta is 0");
    double c = ceil((l - a) / d);
    if (!(c < 9.2e18)) return ERR(MI_ERR_OVERFLOW, "the range has too many elements");
    int64_t out[1] = {c > 0 ? (int64_t)c : 0};
    return set_out(g, n, 0, s->dtype, 1, out);
}

/* ScatterND: data's shape; indices [..., k] with k <= rank; updates
 * indices.shape[:-1] + data.shape[k:]. */
static mi_status infer_scatter_nd(mi_graph *g, const mi_node *n) {
    const mi_tensor *x = mi__node_in(g, n, 0), *idx = mi__node_in(g, n, 1), *u = mi__node_in(g, n, 2);
    mi_status st;
    if ((st = want_dtype(g, n, 1, INDEX)) != MI_OK || (st = same_dtype(g, n, 0, 2)) != MI_OK) return st;
    if (idx->ndim < 1) return ERR(MI_ERR_SHAPE, "indices '%s' must have rank >= 1", idx->name);
    int64_t k = idx->dims[idx->ndim - 1];
    if (k < 1 || k > x->ndim) return ERR(MI_ERR_SHAPE, "indices' last dim %lld exceeds the data's rank %d", (long long)k, x->ndim);
    int want = idx->ndim - 1 + x->ndim - (int)k;
    int ok = u->ndim == want;
    for (int i = 0; ok && i < idx->ndim - 1; i++) ok = u->dims[i] == idx->dims[i];
    for (int i = (int)k; ok && i < x->ndim; i++) ok = u->dims[idx->ndim - 1 + i - (int)k] == x->dims[i];
    if (!ok) return ERR(MI_ERR_SHAPE, "updates '%s' %s do not match indices %s and data %s", u->name, DIMS(u), DIMS(idx), DIMS(x));
    return set_out(g, n, 0, x->dtype, x->ndim, x->dims);
}

static mi_status infer_constant_of_shape(mi_graph *g, const mi_node *n) {
    int64_t v[MI_MAX_DIMS];
    size_t nv = 0;
    mi_status st = mi__const_ints(g, n, 0, v, MI_MAX_DIMS, &nv);
    if (st != MI_OK) return st;
    const mi_attr *a = mi_node_attr(n, "value");
    mi_dtype dt = MI_DTYPE_FLOAT;
    if (a) {
        if (a->type != MI_ATTR_TENSOR || a->tensor < 0)
            return ERR(MI_ERR_GRAPH, "attribute 'value' must be a one-element tensor");
        const mi_tensor *t = &g->tensors[a->tensor];
        if (mi_tensor_numel(t) != 1) return ERR(MI_ERR_GRAPH, "attribute 'value' must have one element");
        dt = t->dtype;
    }
    return set_out(g, n, 0, dt, (int)nv, v);
}

static mi_status infer_conv(mi_graph *g, const mi_node *n, const mi__conv_params *p) {
    mi_status st;
    for (int k = 0; k < 3; k++)
        if ((st = want_dtype(g, n, k, FLOAT_ONLY)) != MI_OK) return st;
    const mi_tensor *x = mi__node_in(g, n, 0), *w = mi__node_in(g, n, 1), *b = mi__node_in(g, n, 2);
    int64_t c = x->dims[1], m = w->dims[0];
    if (c % p->group || m % p->group)
        return ERR(MI_ERR_SHAPE, "group %lld must divide the input channels %lld and the output "
                   "channels %lld", (long long)p->group, (long long)c, (long long)m);
    int64_t wc = -1;
    if (!mi__mul_i64(w->dims[1], p->group, &wc) || wc != c)
        return ERR(MI_ERR_SHAPE, "weight '%s' %s expects %lld input channels (%lld per group x "
                   "group %lld), input '%s' %s has %lld", w->name, DIMS(w),
                   (long long)wc, (long long)w->dims[1], (long long)p->group,
                   x->name, DIMS(x), (long long)c);
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return ERR(MI_ERR_SHAPE, "bias '%s' has shape %s, expected [%lld]", b->name, DIMS(b),
                   (long long)m);
    int64_t out[MI_MAX_DIMS] = {x->dims[0], m};
    for (int i = 0; i < p->nspatial; i++) {
        int64_t in = x->dims[2 + i];
        if (p->pad_begin[i] > in || p->pad_end[i] > in)
            return ERR(MI_ERR_SHAPE, "pads %lld,%lld on spatial axis %d are larger than the input "
                       "dim %lld", (long long)p->pad_begin[i], (long long)p->pad_end[i], i,
                       (long long)in);
        out[2 + i] = mi__window_out(in, p->kernel[i], p->stride[i], p->dilation[i], p->pad_begin[i],
                                    p->pad_end[i], 0);
        if (out[2 + i] <= 0)
            return ERR(MI_ERR_SHAPE, "spatial axis %d: input %lld with pads %lld,%lld is smaller "
                       "than the kernel %lld (dilation %lld)", i, (long long)in,
                       (long long)p->pad_begin[i], (long long)p->pad_end[i], (long long)p->kernel[i],
                       (long long)p->dilation[i]);
    }
    return set_out(g, n, 0, x->dtype, x->ndim, out);
}

static mi_status infer_pool(mi_graph *g, const mi_node *n, const mi__pool_params *p) {
    mi_status st = want_dtype(g, n, 0, FLOAT_ONLY);
    if (st != MI_OK) return st;
    if (n->noutputs > 1) return ERR(MI_ERR_UNSUPPORTED, "the Indices output is not supported");
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t out[MI_MAX_DIMS] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < p->nspatial; i++) {
        int64_t in = x->dims[2 + i], ext = (p->kernel[i] - 1) * p->dilation[i] + 1;
        if (p->pad_begin[i] >= ext || p->pad_end[i] >= ext || p->pad_begin[i] > in ||
            p->pad_end[i] > in)
            return ERR(MI_ERR_SHAPE, "pads %lld,%lld on spatial axis %d must be smaller than the "
                       "kernel extent %lld and not larger than the input dim %lld",
                       (long long)p->pad_begin[i], (long long)p->pad_end[i], i, (long long)ext,
                       (long long)in);
        out[2 + i] = mi__window_out(in, p->kernel[i], p->stride[i], p->dilation[i], p->pad_begin[i],
                                    p->pad_end[i], p->ceil_mode);
        if (out[2 + i] <= 0)
            return ERR(MI_ERR_SHAPE, "spatial axis %d: input %lld with pads %lld,%lld is smaller "
                       "than the kernel %lld", i, (long long)in, (long long)p->pad_begin[i],
                       (long long)p->pad_end[i], (long long)p->kernel[i]);
    }
    return set_out(g, n, 0, x->dtype, x->ndim, out);
}

static mi_status infer_batch_norm(mi_graph *g, const mi_node *n) {
    static const char *const names[] = {"X", "scale", "B", "mean", "var"};
    mi_status st;
    for (int k = 0; k < 5; k++)
        if ((st = want_dtype(g, n, k, FLOAT_ONLY)) != MI_OK) return st;
    if (n->noutputs > 1 || mi_node_attr_int(n, "training_mode", 0))
        return ERR(MI_ERR_UNSUPPORTED, "training mode (running mean/var outputs) is not supported");
    const mi_tensor *x = mi__node_in(g, n, 0);
    if (x->ndim < 2) return ERR(MI_ERR_SHAPE, "input '%s' has rank %d, expected >= 2", x->name, x->ndim);
    for (int k = 1; k < 5; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (t->ndim != 1 || t->dims[0] != x->dims[1])
            return ERR(MI_ERR_SHAPE, "parameter %s '%s' has shape %s, expected [%lld] (the input's "
                       "channels)", names[k], t->name, DIMS(t), (long long)x->dims[1]);
    }
    return set_out(g, n, 0, x->dtype, x->ndim, x->dims);
}

static mi_status infer_gemm(mi_graph *g, const mi_node *n, const mi__gemm_params *p) {
    mi_status st;
    for (int k = 0; k < 3; k++)
        if ((st = want_dtype(g, n, k, FLOAT_ONLY)) != MI_OK) return st;
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1), *c = mi__node_in(g, n, 2);
    if (a->ndim != 2 || b->ndim != 2)
        return ERR(MI_ERR_SHAPE, "A %s and B %s must be 2-D", DIMS(a), DIMS(b));
    int64_t m = a->dims[p->trans_a], ka = a->dims[!p->trans_a];
    int64_t kb = b->dims[p->trans_b], nn = b->dims[!p->trans_b];
    if (ka != kb)
        return ERR(MI_ERR_SHAPE, "K of A '%s' %s (transA %d) is %lld, K of B '%s' %s (transB %d) "
                   "is %lld", a->name, DIMS(a), p->trans_a, (long long)ka, b->name, DIMS(b),
                   p->trans_b, (long long)kb);
    int64_t out[2] = {m, nn};
    if (c) {
        if (c->ndim > 2) return ERR(MI_ERR_SHAPE, "C %s must have rank <= 2", DIMS(c));
        for (int i = 0; i < c->ndim; i++) {
            int64_t want = out[2 - c->ndim + i];
            if (c->dims[i] != 1 && c->dims[i] != want)
                return ERR(MI_ERR_SHAPE, "C '%s' %s cannot be broadcast to [%lld,%lld]", c->name,
                           DIMS(c), (long long)m, (long long)nn);
        }
    }
    return set_out(g, n, 0, a->dtype, 2, out);
}

static mi_status infer_matmul(mi_graph *g, const mi_node *n) {
    mi_status st;
    if ((st = want_dtype(g, n, 0, FLOAT_ONLY)) != MI_OK || (st = want_dtype(g, n, 1, FLOAT_ONLY)) != MI_OK)
        return st;
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    if (a->ndim < 1 || b->ndim < 1) return ERR(MI_ERR_SHAPE, "inputs must have rank >= 1");
    /* numpy: a 1-D A is a row, a 1-D B a column, and those dims are dropped. */
    int64_t ad[MI_MAX_DIMS + 1], bd[MI_MAX_DIMS + 1];
    int ra = a->ndim, rb = b->ndim;
    if (ra == 1) { ad[0] = 1; ad[1] = a->dims[0]; ra = 2; } else memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ra);
    if (rb == 1) { bd[0] = b->dims[0]; bd[1] = 1; rb = 2; } else memcpy(bd, b->dims, sizeof(int64_t) * (size_t)rb);
    if (ad[ra - 1] != bd[rb - 2])
        return ERR(MI_ERR_SHAPE, "K of '%s' %s is %lld, K of '%s' %s is %lld", a->name, DIMS(a),
                   (long long)ad[ra - 1], b->name, DIMS(b), (long long)bd[rb - 2]);
    int r = ra > rb ? ra : rb;
    int64_t out[MI_MAX_DIMS + 1];
    for (int i = 0; i < r - 2; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        if (da != db && da != 1 && db != 1)
            return ERR(MI_ERR_SHAPE, "batch dims of %s and %s cannot be broadcast", DIMS(a), DIMS(b));
        out[i] = da == 1 ? db : da;
    }
    int w = r - 2;
    if (a->ndim > 1) out[w++] = ad[ra - 2];
    if (b->ndim > 1) out[w++] = bd[rb - 1];
    return set_out(g, n, 0, a->dtype, w, out);
}

static mi_status infer_reshape(mi_graph *g, const mi_node *n) {
    int64_t v[MI_MAX_DIMS + 1];
    size_t cnt;
    mi_status st = mi__const_ints(g, n, 1, v, MI_MAX_DIMS, &cnt);
    if (st != MI_OK) return st;
    const mi_tensor *x = mi__node_in(g, n, 0);
    int allowzero = mi_node_attr_int(n, "allowzero", 0) != 0;
    int64_t numel = mi_tensor_numel(x), known = 1;
    int infer = -1;
    for (size_t i = 0; i < cnt; i++) {
        if (v[i] == 0 && !allowzero) {
            if ((int)i >= x->ndim)
                return ERR(MI_ERR_SHAPE, "shape value 0 at %zu copies a dim the input %s lacks", i, DIMS(x));
            v[i] = x->dims[i];
        }
        if (v[i] == -1) {
            if (infer >= 0) return ERR(MI_ERR_SHAPE, "shape has more than one -1");
            infer = (int)i;
            continue;
        }
        if (v[i] < 0) return ERR(MI_ERR_SHAPE, "shape value %lld is invalid", (long long)v[i]);
        if (!mi__mul_i64(known, v[i], &known))
            return ERR(MI_ERR_OVERFLOW, "the product of the shape's values overflows");
    }
    if (infer >= 0) {
        if (known == 0 || numel % known)
            return ERR(MI_ERR_SHAPE, "cannot reshape %s (%lld elements) with -1: the other dims "
                       "give %lld", DIMS(x), (long long)numel, (long long)known);
        v[infer] = numel / known;
        known = numel;
    }
    if (known != numel) {
        char buf[96];
        return ERR(MI_ERR_SHAPE, "cannot reshape %s (%lld elements) to %s (%lld elements)", DIMS(x),
                   (long long)numel, dims_str(buf, sizeof buf, (int)cnt, v), (long long)known);
    }
    return set_out(g, n, 0, x->dtype, (int)cnt, v);
}

static mi_status infer_split(mi_graph *g, const mi_node *n, int64_t axis) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t sizes[64], *sz = sizes;
    size_t cnt = 0, nout = (size_t)n->noutputs;
    int found = 0;
    mi_status st = MI_OK;
    if (nout > MI__ARRAY_LEN(sizes)) return ERR(MI_ERR_UNSUPPORTED, "more than 64 outputs");
    if (g->opset < 13) {
        const mi_attr *a = mi_node_attr(n, "split");
        if (a && a->type == MI_ATTR_INTS) {
            if (a->count > MI__ARRAY_LEN(sizes)) return ERR(MI_ERR_SHAPE, "split has too many values");
            memcpy(sizes, a->ints, a->count * sizeof(int64_t));
            cnt = a->count;
            found = 1;
        }
    } else if (mi__node_in(g, n, 1)) {
        if ((st = mi__const_ints(g, n, 1, sizes, MI__ARRAY_LEN(sizes), &cnt)) != MI_OK) return st;
        found = 1;
    }
    int64_t d = x->dims[axis], sum = 0;
    if (found) {
        if (cnt != nout) return ERR(MI_ERR_SHAPE, "split has %zu sizes for %zu outputs", cnt, nout);
        for (size_t i = 0; i < cnt; i++) {
            if (sz[i] < 0 || !mi__add_i64(sum, sz[i], &sum))
                return ERR(MI_ERR_SHAPE, "split size %lld is invalid", (long long)sz[i]);
        }
        if (sum != d)
            return ERR(MI_ERR_SHAPE, "split sizes add up to %lld, axis %lld of %s has %lld",
                       (long long)sum, (long long)axis, DIMS(x), (long long)d);
    } else {
        int64_t want = mi_node_attr_int(n, "num_outputs", (int64_t)nout);
        if (want != (int64_t)nout)
            return ERR(MI_ERR_GRAPH, "num_outputs %lld but %zu outputs", (long long)want, nout);
        int64_t chunk = d / (int64_t)nout + (d % (int64_t)nout != 0);
        if (d % (int64_t)nout && g->opset < 18)
            return ERR(MI_ERR_SHAPE, "axis %lld of %s (%lld) does not split into %zu equal parts",
                       (long long)axis, DIMS(x), (long long)d, nout);
        for (size_t i = 0; i < nout; i++) {
            sz[i] = d - sum < chunk ? d - sum : chunk;
            sum += sz[i];
        }
    }
    for (size_t i = 0; i < nout; i++) {
        int64_t od[MI_MAX_DIMS];
        memcpy(od, x->dims, sizeof od);
        od[axis] = sz[i];
        if ((st = set_out(g, n, (int)i, x->dtype, x->ndim, od)) != MI_OK) return st;
    }
    return MI_OK;
}

static mi_status infer_squeeze(mi_graph *g, const mi_node *n, int unsqueeze) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t axes[MI_MAX_DIMS];
    size_t cnt = 0;
    mi_status st;
    if (g->opset < 13) {
        const mi_attr *a = mi_node_attr(n, "axes");
        if (a && a->type == MI_ATTR_INTS) {
            if (a->count > MI_MAX_DIMS) return ERR(MI_ERR_SHAPE, "too many axes");
            memcpy(axes, a->ints, a->count * sizeof(int64_t));
            cnt = a->count;
        }
    } else if (mi__node_in(g, n, 1) &&
               (st = mi__const_ints(g, n, 1, axes, MI_MAX_DIMS, &cnt)) != MI_OK) {
        return st;
    }
    int64_t out[MI_MAX_DIMS];
    int mark[MI_MAX_DIMS] = {0}, w = 0;
    if (unsqueeze) {
        if (!cnt) return ERR(MI_ERR_GRAPH, "axes are required");
        int r = x->ndim + (int)cnt;
        if (r > MI_MAX_DIMS) return ERR(MI_ERR_UNSUPPORTED, "output rank %d, at most %d", r, MI_MAX_DIMS);
        for (size_t i = 0; i < cnt; i++) {
            int64_t a;
            if ((st = mi__norm_axis(n, "axis", axes[i], r, 0, &a)) != MI_OK) return st;
            if (mark[a]++) return ERR(MI_ERR_SHAPE, "axis %lld given twice", (long long)a);
        }
        for (int i = 0, j = 0; i < r; i++) out[i] = mark[i] ? 1 : x->dims[j++];
        return set_out(g, n, 0, x->dtype, r, out);
    }
    for (size_t i = 0; i < cnt; i++) {
        int64_t a;
        if ((st = mi__norm_axis(n, "axis", axes[i], x->ndim, 0, &a)) != MI_OK) return st;
        if (x->dims[a] != 1)
            return ERR(MI_ERR_SHAPE, "cannot squeeze axis %lld of %s: its size is %lld, not 1",
                       (long long)a, DIMS(x), (long long)x->dims[a]);
        mark[a] = 1;
    }
    for (int i = 0; i < x->ndim; i++)
        if (!(cnt ? mark[i] : x->dims[i] == 1)) out[w++] = x->dims[i];
    return set_out(g, n, 0, x->dtype, w, out);
}

static mi_status infer_constant(mi_graph *g, const mi_node *n) {
    if (n->nattrs != 1) return ERR(MI_ERR_GRAPH, "expected exactly one value attribute");
    const mi_attr *a = &n->attrs[0];
    int64_t d[1] = {(int64_t)a->count};
    if (strcmp(a->name, "value") == 0 && a->type == MI_ATTR_TENSOR) {
        const mi_tensor *t = &g->tensors[a->tensor];
        return set_out(g, n, 0, t->dtype, t->ndim, t->dims);
    }
    if (strcmp(a->name, "value_float") == 0 && a->type == MI_ATTR_FLOAT)
        return set_out(g, n, 0, MI_DTYPE_FLOAT, 0, d);
    if (strcmp(a->name, "value_int") == 0 && a->type == MI_ATTR_INT)
        return set_out(g, n, 0, MI_DTYPE_INT64, 0, d);
    if (strcmp(a->name, "value_floats") == 0 && a->type == MI_ATTR_FLOATS)
        return set_out(g, n, 0, MI_DTYPE_FLOAT, 1, d);
    if (strcmp(a->name, "value_ints") == 0 && a->type == MI_ATTR_INTS)
        return set_out(g, n, 0, MI_DTYPE_INT64, 1, d);
    return ERR(MI_ERR_UNSUPPORTED, "attribute '%s' is not a supported constant value (value, "
               "value_float(s), value_int(s))", a->name);
}

static mi_status infer_gather(mi_graph *g, const mi_node *n, int64_t axis) {
    mi_status st = want_dtype(g, n, 1, INDEX);
    if (st != MI_OK) return st;
    const mi_tensor *x = mi__node_in(g, n, 0), *idx = mi__node_in(g, n, 1);
    const void *iv = mi__tensor_value(g, n->inputs[1]);
    if (iv) {
        int64_t cnt = mi_tensor_numel(idx), d = x->dims[axis];
        for (int64_t i = 0; i < cnt; i++) {
            int64_t v = idx->dtype == MI_DTYPE_INT64 ? ((const int64_t *)iv)[i] : ((const int32_t *)iv)[i];
            if (v < -d || v >= d)
                return ERR(MI_ERR_SHAPE, "index %lld is out of range for axis %lld of size %lld",
                           (long long)v, (long long)axis, (long long)d);
        }
    }
    int r = x->ndim - 1 + idx->ndim, w = 0;
    if (r > MI_MAX_DIMS) return ERR(MI_ERR_UNSUPPORTED, "output rank %d, at most %d", r, MI_MAX_DIMS);
    int64_t out[MI_MAX_DIMS];
    for (int i = 0; i < axis; i++) out[w++] = x->dims[i];
    for (int i = 0; i < idx->ndim; i++) out[w++] = idx->dims[i];
    for (int i = (int)axis + 1; i < x->ndim; i++) out[w++] = x->dims[i];
    return set_out(g, n, 0, x->dtype, r, out);
}

static mi_status infer_concat(mi_graph *g, const mi_node *n, int64_t axis) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t out[MI_MAX_DIMS];
    memcpy(out, x->dims, sizeof out);
    out[axis] = 0;
    for (int k = 0; k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        mi_status st;
        if (!t) return ERR(MI_ERR_GRAPH, "input %d is missing", k);
        if ((st = same_dtype(g, n, 0, k)) != MI_OK) return st;
        if (t->ndim != x->ndim) return ERR(MI_ERR_SHAPE, "inputs have ranks %d and %d", x->ndim, t->ndim);
        for (int i = 0; i < x->ndim; i++)
            if (i != axis && t->dims[i] != x->dims[i])
                return ERR(MI_ERR_SHAPE, "input '%s' %s differs from '%s' %s outside axis %lld",
                           t->name, DIMS(t), x->name, DIMS(x), (long long)axis);
        if (!mi__add_i64(out[axis], t->dims[axis], &out[axis]))
            return ERR(MI_ERR_OVERFLOW, "the concatenated axis overflows");
    }
    return set_out(g, n, 0, x->dtype, x->ndim, out);
}

static mi_status infer_misc(mi_graph *g, const mi_node *n, const mi__op_params *p) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t out[MI_MAX_DIMS];
    mi_status st;
    switch (n->op) {
    case MI_OP_FLATTEN: {
        int64_t a = 1, b = 1;
        for (int i = 0; i < x->ndim; i++) {
            int64_t *acc = i < p->u.axis.axis ? &a : &b;
            if (!mi__mul_i64(*acc, x->dims[i], acc)) return ERR(MI_ERR_OVERFLOW, "flatten overflows");
        }
        out[0] = a;
        out[1] = b;
        return set_out(g, n, 0, x->dtype, 2, out);
    }
    case MI_OP_TRANSPOSE:
        for (int i = 0; i < x->ndim; i++) out[i] = x->dims[p->u.transpose.perm[i]];
        return set_out(g, n, 0, x->dtype, x->ndim, out);
    case MI_OP_SLICE:
        if ((st = mi__slice_dims(g, n, out)) != MI_OK) return st;
        return set_out(g, n, 0, x->dtype, x->ndim, out);
    case MI_OP_PAD:
        for (int i = 0; i < x->ndim; i++) {
            int64_t b = p->u.pad.begin[i], e = p->u.pad.end[i];
            if (!mi__add_i64(x->dims[i], b, &out[i]) || !mi__add_i64(out[i], e, &out[i]) ||
                out[i] <= 0)
                return ERR(MI_ERR_SHAPE, "pads %lld,%lld on axis %d leave nothing of %s", (long long)b,
                           (long long)e, i, DIMS(x));
            if (p->u.pad.mode == MI_PAD_REFLECT && (b >= x->dims[i] || e >= x->dims[i]))
                return ERR(MI_ERR_SHAPE, "reflect pads %lld,%lld on axis %d must be smaller than "
                           "the dim %lld", (long long)b, (long long)e, i, (long long)x->dims[i]);
        }
        return set_out(g, n, 0, x->dtype, x->ndim, out);
    case MI_OP_REDUCE_MEAN: {
        int w = 0;
        if ((st = want_dtype(g, n, 0, FLOAT_ONLY)) != MI_OK) return st;
        for (int i = 0; i < x->ndim; i++) {
            if (!p->u.reduce.reduce[i]) out[w++] = x->dims[i];
            else if (p->u.reduce.keepdims) out[w++] = 1;
        }
        return set_out(g, n, 0, x->dtype, w, out);
    }
    case MI_OP_SHAPE: {
        int64_t s = mi_node_attr_int(n, "start", 0), e = mi_node_attr_int(n, "end", x->ndim);
        if (s < 0) s += x->ndim;
        if (e < 0) e += x->ndim;
        s = s < 0 ? 0 : s > x->ndim ? x->ndim : s;
        e = e < 0 ? 0 : e > x->ndim ? x->ndim : e;
        out[0] = e > s ? e - s : 0;
        return set_out(g, n, 0, MI_DTYPE_INT64, 1, out);
    }
    case MI_OP_CAST: return set_out(g, n, 0, p->u.cast.to, x->ndim, x->dims);
    case MI_OP_DROPOUT:
        if ((st = set_out(g, n, 0, x->dtype, x->ndim, x->dims)) != MI_OK) return st;
        return set_out(g, n, 1, MI_DTYPE_BOOL, x->ndim, x->dims);
    case MI_OP_LRN:
        if (x->ndim < 3) return ERR(MI_ERR_SHAPE, "input %s must have rank >= 3", DIMS(x));
        return same_as_input(g, n, FLOAT_ONLY);
    case MI_OP_CLIP:
        if ((st = want_dtype(g, n, 1, NUMERIC)) != MI_OK || (st = want_dtype(g, n, 2, NUMERIC)) != MI_OK)
            return st;
        return same_as_input(g, n, NUMERIC);
    case MI_OP_RELU: return same_as_input(g, n, NUMERIC);
    case MI_OP_IDENTITY: case MI_OP_RELAYOUT: return same_as_input(g, n, ANY);
    default: return same_as_input(g, n, FLOAT_ONLY); /* Sigmoid, HardSigmoid, HardSwish, Softmax */
    }
}

mi_status mi__infer_node(mi_graph *g, size_t i) {
    const mi_node *n = &g->nodes[i];
    mi__op_params p;
    mi_status st = check_arity(g, n);
    if (st != MI_OK) return st;
    if (n->op == MI_OP_CONSTANT) return infer_constant(g, n);
    if ((st = mi__op_params_get(g, n, &p)) != MI_OK) return st;
    switch (n->op) {
    case MI_OP_CONV: return infer_conv(g, n, &p.u.conv);
    case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: return infer_pool(g, n, &p.u.pool);
    case MI_OP_GLOBAL_AVERAGE_POOL: {
        const mi_tensor *x = mi__node_in(g, n, 0);
        int64_t out[MI_MAX_DIMS];
        if ((st = want_dtype(g, n, 0, FLOAT_ONLY)) != MI_OK) return st;
        for (int k = 0; k < x->ndim; k++) out[k] = k < 2 ? x->dims[k] : 1;
        return set_out(g, n, 0, x->dtype, x->ndim, out);
    }
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: return infer_broadcast(g, n);
    case MI_OP_BATCH_NORM: return infer_batch_norm(g, n);
    case MI_OP_GEMM: return infer_gemm(g, n, &p.u.gemm);
    case MI_OP_MATMUL: return infer_matmul(g, n);
    case MI_OP_RESHAPE: return infer_reshape(g, n);
    case MI_OP_SPLIT: return infer_split(g, n, p.u.axis.axis);
    case MI_OP_SQUEEZE: return infer_squeeze(g, n, 0);
    case MI_OP_UNSQUEEZE: return infer_squeeze(g, n, 1);
    case MI_OP_GATHER: return infer_gather(g, n, p.u.axis.axis);
    case MI_OP_CONCAT: return infer_concat(g, n, p.u.axis.axis);
    case MI_OP_POW: case MI_OP_MIN: case MI_OP_MAX: case MI_OP_MOD: case MI_OP_EQUAL: case MI_OP_LESS:
    case MI_OP_GREATER: case MI_OP_AND: case MI_OP_WHERE:
        return infer_math(g, n);
    case MI_OP_ERF: case MI_OP_SQRT: case MI_OP_RECIPROCAL: case MI_OP_TANH: case MI_OP_EXP: case MI_OP_LOG:
    case MI_OP_GELU:
        return same_as_input(g, n, FLOAT_ONLY);
    case MI_OP_NEG: return same_as_input(g, n, NUMERIC);
    case MI_OP_NOT:
        if (mi__node_in(g, n, 0)->dtype != MI_DTYPE_BOOL) return ERR(MI_ERR_GRAPH, "input must be bool");
        return same_as_input(g, n, ANY);
    case MI_OP_TRILU: return same_as_input(g, n, ANY);
    case MI_OP_LAYER_NORM: return infer_layer_norm(g, n, p.u.layer_norm.axis);
    case MI_OP_REDUCE_SUM: return infer_reduce(g, n, &p.u.reduce, NUMERIC);
    case MI_OP_REDUCE_MAX: return infer_reduce(g, n, &p.u.reduce, NUMERIC);
    case MI_OP_EXPAND: case MI_OP_TILE: return infer_expand_tile(g, n);
    case MI_OP_RANGE: return infer_range(g, n);
    case MI_OP_CONSTANT_OF_SHAPE: return infer_constant_of_shape(g, n);
    case MI_OP_SCATTER_ND: return infer_scatter_nd(g, n);
    default: return infer_misc(g, n, &p);
    }
}
