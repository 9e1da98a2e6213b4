/* Constant folding: small evaluators for the nodes exporters use to
 * compute shapes and constants (Shape, Gather, arithmetic on int64, Concat,
 * Unsqueeze, Slice, Cast, Constant...). A node whose inputs are all known is
 * evaluated when it runs through shape inference; its outputs get a value
 * (cval) and, when folding is on, become weights. Ops that only relabel
 * bytes (Identity, Reshape, Flatten, Squeeze, Unsqueeze) alias the input's
 * bytes instead of copying them. A node no evaluator handles, or whose
 * result would be large, simply stays a node. */
#include "graph/graph_private.h"
#include "graph/op_params.h"

#include <math.h>
#include <string.h>

/* Results above this stay nodes: folding is for shape arithmetic and
 * small weight transforms, not for precomputing big tensors at load. */
#define MI__FOLD_MAX_BYTES ((size_t)64 << 20)

typedef struct walk {
    int r;
    int64_t dims[MI_MAX_DIMS];
    int64_t idx[MI_MAX_DIMS];
} walk;

static void walk_next(walk *w) {
    for (int k = w->r - 1; k >= 0; k--) {
        if (++w->idx[k] < w->dims[k]) return;
        w->idx[k] = 0;
    }
}

/* Element strides of a tensor's dims, right-aligned to rank r, with 0 on
 * broadcast (size 1 or missing) axes. */
static void bstrides(const mi_tensor *t, int r, int64_t *s) {
    int64_t acc = 1;
    for (int k = r - 1; k >= 0; k--) {
        int i = k - (r - t->ndim);
        if (i < 0 || t->dims[i] == 1) s[k] = 0;
        else s[k] = acc;
        if (i >= 0) acc *= t->dims[i];
    }
}

static int64_t offset(const walk *w, const int64_t *s) {
    int64_t o = 0;
    for (int k = 0; k < w->r; k++) o += w->idx[k] * s[k];
    return o;
}

static int is_int(mi_dtype t) {
    return t == MI_DTYPE_INT8 || t == MI_DTYPE_UINT8 || t == MI_DTYPE_INT16 ||
           t == MI_DTYPE_UINT16 || t == MI_DTYPE_INT32 || t == MI_DTYPE_INT64 || t == MI_DTYPE_BOOL;
}

static int64_t load_i(const void *p, mi_dtype t, int64_t i) {
    switch (t) {
    case MI_DTYPE_INT8: return ((const int8_t *)p)[i];
    case MI_DTYPE_UINT8: case MI_DTYPE_BOOL: return ((const uint8_t *)p)[i];
    case MI_DTYPE_INT16: return ((const int16_t *)p)[i];
    case MI_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case MI_DTYPE_INT32: return ((const int32_t *)p)[i];
    default: return ((const int64_t *)p)[i];
    }
}

static double load_f(const void *p, mi_dtype t, int64_t i) {
    if (t == MI_DTYPE_FLOAT) return ((const float *)p)[i];
    if (t == MI_DTYPE_DOUBLE) return ((const double *)p)[i];
    return (double)load_i(p, t, i);
}

/* Stores an integer, wrapping to the type as a C conversion does. */
static void store_i(void *p, mi_dtype t, int64_t i, int64_t v) {
    switch (t) {
    case MI_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case MI_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case MI_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case MI_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case MI_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case MI_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case MI_DTYPE_INT64: ((int64_t *)p)[i] = v; break;
    case MI_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
    default: ((double *)p)[i] = (double)v; break;
    }
}

/* Stores a real; out-of-range values clamp (C leaves them undefined). */
static void store_f(void *p, mi_dtype t, int64_t i, double v) {
    if (t == MI_DTYPE_FLOAT) { ((float *)p)[i] = (float)v; return; }
    if (t == MI_DTYPE_DOUBLE) { ((double *)p)[i] = v; return; }
    if (t == MI_DTYPE_BOOL) { ((uint8_t *)p)[i] = v != 0.0; return; }
    double lo = -9.2233720368547758e18, hi = 9.2233720368547758e18;
    switch (t) {
    case MI_DTYPE_INT8: lo = INT8_MIN; hi = INT8_MAX; break;
    case MI_DTYPE_UINT8: lo = 0; hi = UINT8_MAX; break;
    case MI_DTYPE_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
    case MI_DTYPE_UINT16: lo = 0; hi = UINT16_MAX; break;
    case MI_DTYPE_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
    default: break;
    }
    if (isnan(v)) v = 0;
    if (v >= hi) store_i(p, t, i, t == MI_DTYPE_INT64 ? INT64_MAX : (int64_t)hi);
    else if (v <= lo) store_i(p, t, i, t == MI_DTYPE_INT64 ? INT64_MIN : (int64_t)lo);
    else store_i(p, t, i, (int64_t)v);
}

/* The output block of node output k, sized from its inferred dims. */
static void *out_block(mi_graph *g, const mi_node *n, int k, size_t *nbytes) {
    const mi_tensor *t = &g->tensors[n->outputs[k]];
    *nbytes = (size_t)mi_tensor_numel(t) * mi_dtype_size(t->dtype);
    return mi__graph_block(g, *nbytes);
}

static int too_big(const mi_graph *g, const mi_node *n) {
    for (int k = 0; k < n->noutputs; k++) {
        const mi_tensor *t = &g->tensors[n->outputs[k]];
        if ((size_t)mi_tensor_numel(t) * mi_dtype_size(t->dtype) > MI__FOLD_MAX_BYTES) return 1;
    }
    return 0;
}

/* Add/Sub/Mul/Div; 0 when it cannot be evaluated (integer division by 0). */
static int arith(const mi_graph *g, const mi_node *n, void *dst) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    const mi_tensor *o = &g->tensors[n->outputs[0]];
    const void *pa = mi__tensor_value(g, n->inputs[0]), *pb = mi__tensor_value(g, n->inputs[1]);
    walk w = {.r = o->ndim};
    int64_t sa[MI_MAX_DIMS], sb[MI_MAX_DIMS], cnt = mi_tensor_numel(o);
    memcpy(w.dims, o->dims, sizeof w.dims);
    bstrides(a, o->ndim, sa);
    bstrides(b, o->ndim, sb);
    for (int64_t i = 0; i < cnt; i++, walk_next(&w)) {
        int64_t ia = offset(&w, sa), ib = offset(&w, sb);
        if (is_int(o->dtype)) {
            /* Wrapping arithmetic through uint64, as the hardware does. */
            uint64_t x = (uint64_t)load_i(pa, a->dtype, ia), y = (uint64_t)load_i(pb, b->dtype, ib);
            int64_t r;
            switch (n->op) {
            case MI_OP_ADD: r = (int64_t)(x + y); break;
            case MI_OP_SUB: r = (int64_t)(x - y); break;
            case MI_OP_MUL: r = (int64_t)(x * y); break;
            default:
                if (y == 0 || ((int64_t)x == INT64_MIN && (int64_t)y == -1)) return 0;
                r = (int64_t)x / (int64_t)y;
            }
            store_i(dst, o->dtype, i, r);
        } else {
            double x = load_f(pa, a->dtype, ia), y = load_f(pb, b->dtype, ib), r;
            switch (n->op) {
            case MI_OP_ADD: r = x + y; break;
            case MI_OP_SUB: r = x - y; break;
            case MI_OP_MUL: r = x * y; break;
            default: r = x / y;
            }
            if (o->dtype == MI_DTYPE_FLOAT) {
                float fx = (float)x, fy = (float)y; /* float arithmetic, as a float kernel would */
                r = n->op == MI_OP_ADD ? fx + fy : n->op == MI_OP_SUB ? fx - fy
                    : n->op == MI_OP_MUL ? fx * fy : fx / fy;
            }
            store_f(dst, o->dtype, i, r);
        }
    }
    return 1;
}

static void eval_transpose(const mi_graph *g, const mi_node *n, const mi__op_params *p, void *dst) {
    const mi_tensor *x = mi__node_in(g, n, 0), *o = &g->tensors[n->outputs[0]];
    const uint8_t *src = mi__tensor_value(g, n->inputs[0]);
    size_t es = mi_dtype_size(x->dtype);
    int64_t in_s[MI_MAX_DIMS], s[MI_MAX_DIMS], acc = 1, cnt = mi_tensor_numel(o);
    for (int k = x->ndim - 1; k >= 0; k--) {
        in_s[k] = acc;
        acc *= x->dims[k];
    }
    for (int k = 0; k < x->ndim; k++) s[k] = in_s[p->u.transpose.perm[k]];
    walk w = {.r = o->ndim};
    memcpy(w.dims, o->dims, sizeof w.dims);
    for (int64_t i = 0; i < cnt; i++, walk_next(&w))
        memcpy((uint8_t *)dst + (size_t)i * es, src + (size_t)offset(&w, s) * es, es);
}

static void eval_slice(const mi_graph *g, const mi_node *n, const mi__op_params *p, void *dst) {
    const mi_tensor *x = mi__node_in(g, n, 0), *o = &g->tensors[n->outputs[0]];
    const uint8_t *src = mi__tensor_value(g, n->inputs[0]);
    size_t es = mi_dtype_size(x->dtype);
    int64_t s[MI_MAX_DIMS], acc = 1, base = 0, cnt = mi_tensor_numel(o);
    for (int k = x->ndim - 1; k >= 0; k--) {
        s[k] = acc * p->u.slice.step[k];
        base += p->u.slice.start[k] * acc;
        acc *= x->dims[k];
    }
    walk w = {.r = o->ndim};
    memcpy(w.dims, o->dims, sizeof w.dims);
    for (int64_t i = 0; i < cnt; i++, walk_next(&w))
        memcpy((uint8_t *)dst + (size_t)i * es, src + (size_t)(base + offset(&w, s)) * es, es);
}

static void eval_concat(const mi_graph *g, const mi_node *n, int64_t axis, void *dst) {
    const mi_tensor *o = &g->tensors[n->outputs[0]];
    size_t es = mi_dtype_size(o->dtype);
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++) outer *= o->dims[k];
    for (int k = (int)axis + 1; k < o->ndim; k++) inner *= o->dims[k];
    uint8_t *d = dst;
    for (int64_t i = 0; i < outer; i++)
        for (int k = 0; k < n->ninputs; k++) {
            const mi_tensor *t = mi__node_in(g, n, k);
            size_t chunk = (size_t)(t->dims[axis] * inner) * es;
            memcpy(d, (const uint8_t *)mi__tensor_value(g, n->inputs[k]) + (size_t)i * chunk, chunk);
            d += chunk;
        }
}

static void eval_gather(const mi_graph *g, const mi_node *n, int64_t axis, void *dst) {
    const mi_tensor *x = mi__node_in(g, n, 0), *ix = mi__node_in(g, n, 1);
    const uint8_t *src = mi__tensor_value(g, n->inputs[0]);
    const void *iv = mi__tensor_value(g, n->inputs[1]);
    size_t es = mi_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1, d = x->dims[axis], ni = mi_tensor_numel(ix);
    for (int k = 0; k < axis; k++) outer *= x->dims[k];
    for (int k = (int)axis + 1; k < x->ndim; k++) inner *= x->dims[k];
    size_t chunk = (size_t)inner * es;
    uint8_t *o = dst;
    for (int64_t i = 0; i < outer; i++)
        for (int64_t j = 0; j < ni; j++) {
            int64_t v = load_i(iv, ix->dtype, j); /* range checked by shape inference */
            if (v < 0) v += d;
            memcpy(o, src + (size_t)(i * d + v) * chunk, chunk);
            o += chunk;
        }
}

/* kernels/math.h's ops (the transformers' element math and masks). */
static void eval_math(const mi_graph *g, const mi_node *n, const mi__op_params *p, void *dst) {
    const mi_tensor *o = &g->tensors[n->outputs[0]];
    const void *x[3];
    int xt[3], ranks[3];
    const int64_t *dims[3];
    int nops = n->ninputs < 3 ? n->ninputs : 3;
    for (int k = 0; k < nops; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        x[k] = mi__tensor_value(g, n->inputs[k]);
        xt[k] = (int)t->dtype;
        ranks[k] = t->ndim;
        dims[k] = t->dims;
    }
    mi_k_nwalk w;
    mi_k_nwalk_init(&w, nops, ranks, dims, o->ndim, o->dims);
    mi_k_nary(mi__op_math(n->op, p->u.math.variant), &w, x, xt, dst, (int)o->dtype, 0, mi_tensor_numel(o));
}

/* Expand, Tile, Range, ConstantOfShape, Trilu: kernels/math.h's fills, as
 * the backends run them. */
static void eval_shape_made(const mi_graph *g, const mi_node *n, const mi__op_params *p, void *dst) {
    const mi_tensor *x = mi__node_in(g, n, 0), *o = &g->tensors[n->outputs[0]];
    const void *src = x ? mi__tensor_value(g, n->inputs[0]) : NULL;
    size_t es = mi_dtype_size(o->dtype);
    int64_t count = mi_tensor_numel(o);
    switch (n->op) {
    case MI_OP_EXPAND: case MI_OP_TILE:
        mi_k_expand_tile(src, x->ndim, x->dims, dst, o->ndim, o->dims, es, n->op == MI_OP_TILE);
        break;
    case MI_OP_RANGE: mi_k_range_fill((int)o->dtype, src, mi__tensor_value(g, n->inputs[2]), dst, count); break;
    case MI_OP_CONSTANT_OF_SHAPE: {
        const mi_attr *a = mi_node_attr(n, "value");
        mi_k_splat_fill(a ? mi__tensor_value(g, a->tensor) : NULL, es, dst, count);
        break;
    }
    default: { /* Trilu */
        int64_t k = 0;
        if (n->ninputs > 1 && n->inputs[1] >= 0) k = load_i(mi__tensor_value(g, n->inputs[1]), mi__node_in(g, n, 1)->dtype, 0);
        mi_k_trilu_copy(src, dst, es, o->dims[o->ndim - 2], o->dims[o->ndim - 1], k, p->u.trilu.upper, count);
    }
    }
}

/* ScatterND; 0 when an index is out of range. */
static int eval_scatter_nd(const mi_graph *g, const mi_node *n, const mi__op_params *p, void *dst) {
    const mi_tensor *x = mi__node_in(g, n, 0), *idx = mi__node_in(g, n, 1);
    int k = (int)idx->dims[idx->ndim - 1];
    int64_t tuples = mi_tensor_numel(idx) / k, slice = 1;
    for (int i = k; i < x->ndim; i++) slice *= x->dims[i];
    memcpy(dst, mi__tensor_value(g, n->inputs[0]), (size_t)mi_tensor_numel(x) * mi_dtype_size(x->dtype));
    return mi_k_scatter_nd(dst, mi__tensor_value(g, n->inputs[1]), (int)idx->dtype, mi__tensor_value(g, n->inputs[2]),
                           (int)x->dtype, tuples, k, x->ndim, x->dims, slice, p->u.scatter.reduction) < 0;
}

static mi_status eval_constant(mi_graph *g, const mi_node *n, int *done) {
    const mi_attr *a = &n->attrs[0];
    mi_tensor *o = &g->tensors[n->outputs[0]];
    if (a->type == MI_ATTR_TENSOR) {
        g->ti[n->outputs[0]].cval = g->ti[a->tensor].cval;
        *done = 1;
        return MI_OK;
    }
    size_t nb;
    void *d = out_block(g, n, 0, &nb);
    if (!d) return MI_ERR_NO_MEMORY;
    for (size_t i = 0; i < (size_t)mi_tensor_numel(o); i++) {
        if (a->type == MI_ATTR_FLOAT) ((float *)d)[i] = a->f;
        else if (a->type == MI_ATTR_INT) ((int64_t *)d)[i] = a->i;
        else if (a->type == MI_ATTR_FLOATS) ((float *)d)[i] = a->floats[i];
        else ((int64_t *)d)[i] = a->ints[i];
    }
    g->ti[n->outputs[0]].cval = d;
    *done = 1;
    return MI_OK;
}

mi_status mi__fold_node(mi_graph *g, size_t i, int *done) {
    const mi_node *n = &g->nodes[i];
    mi__op_params p;
    mi_status st;
    size_t nb;
    void *d;
    *done = 0;
    if (n->op == MI_OP_CONSTANT) return eval_constant(g, n, done);
    if (n->op == MI_OP_SHAPE) {
        /* Every shape is static here, so Shape always folds. */
        const mi_tensor *x = mi__node_in(g, n, 0), *o = &g->tensors[n->outputs[0]];
        int64_t s = mi_node_attr_int(n, "start", 0);
        if (s < 0) s += x->ndim;
        if (s < 0) s = 0;
        if (!(d = out_block(g, n, 0, &nb))) return MI_ERR_NO_MEMORY;
        for (int64_t k = 0; k < o->dims[0]; k++) ((int64_t *)d)[k] = x->dims[s + k];
        g->ti[n->outputs[0]].cval = d;
        *done = 1;
        return MI_OK;
    }
    for (int k = 0; k < n->ninputs; k++)
        if (n->inputs[k] >= 0 && !mi__tensor_value(g, n->inputs[k])) return MI_OK;
    switch (n->op) {
    case MI_OP_IDENTITY: case MI_OP_RESHAPE: case MI_OP_FLATTEN: case MI_OP_SQUEEZE:
    case MI_OP_UNSQUEEZE: case MI_OP_DROPOUT:
        if (n->noutputs != 1) return MI_OK; /* a Dropout mask is not worth an evaluator */
        g->ti[n->outputs[0]].cval = g->ti[n->inputs[0]].cval;
        *done = 1;
        return MI_OK;
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: case MI_OP_CONCAT:
    case MI_OP_GATHER: case MI_OP_SLICE: case MI_OP_TRANSPOSE: case MI_OP_CAST: case MI_OP_EXPAND:
    case MI_OP_TILE: case MI_OP_RANGE: case MI_OP_CONSTANT_OF_SHAPE: case MI_OP_TRILU: case MI_OP_SCATTER_ND:
        break;
    default:
        if (!mi__op_math(n->op, 0)) return MI_OK;
        break;
    }
    if (n->op == MI_OP_TRILU && mi__node_in(g, n, 0)->ndim < 2) return MI_OK; /* refused when it runs */
    const mi_tensor *x = mi__node_in(g, n, 0), *o = &g->tensors[n->outputs[0]];
    /* Halves are left to the kernels, which round them as they run. */
    if (too_big(g, n) || mi__dtype_is_half(x->dtype) || mi__dtype_is_half(o->dtype)) return MI_OK;
    if ((st = mi__op_params_get(g, n, &p)) != MI_OK) return st;
    if (!(d = out_block(g, n, 0, &nb))) return MI_ERR_NO_MEMORY;
    switch (n->op) {
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV:
        if (!arith(g, n, d)) return MI_OK; /* the block stays with the graph, unused */
        break;
    case MI_OP_CONCAT: eval_concat(g, n, p.u.axis.axis, d); break;
    case MI_OP_GATHER: eval_gather(g, n, p.u.axis.axis, d); break;
    case MI_OP_SLICE: eval_slice(g, n, &p, d); break;
    case MI_OP_TRANSPOSE: eval_transpose(g, n, &p, d); break;
    case MI_OP_EXPAND: case MI_OP_TILE: case MI_OP_RANGE: case MI_OP_CONSTANT_OF_SHAPE: case MI_OP_TRILU:
        eval_shape_made(g, n, &p, d);
        break;
    case MI_OP_SCATTER_ND:
        if (!eval_scatter_nd(g, n, &p, d)) return MI_OK; /* out of range: the run reports it */
        break;
    case MI_OP_CAST: {
        const void *src = mi__tensor_value(g, n->inputs[0]);
        for (int64_t k = 0; k < mi_tensor_numel(o); k++) {
            if (is_int(x->dtype)) store_i(d, o->dtype, k, load_i(src, x->dtype, k));
            else store_f(d, o->dtype, k, load_f(src, x->dtype, k));
        }
        break;
    }
    default: eval_math(g, n, &p, d); break;
    }
    g->ti[n->outputs[0]].cval = d;
    *done = 1;
    return MI_OK;
}
