/* The one place attribute defaults and opset differences are decided: a
 * node's attributes and constant inputs become an mi__op_params struct that
 * shape inference, folding and every backend read.
 *
 * Values that later arithmetic multiplies or adds (strides, dilations,
 * pads, kernel sizes) are bounded here, so shape inference on a hostile
 * model cannot overflow. */
#include "graph/graph_private.h"
#include "graph/op_params.h"
#include "kernels/cast.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MI__ATTR_MAX ((int64_t)1 << 31)


mi_status mi__norm_axis(const mi_node *n, const char *what, int64_t a, int rank, int inclusive,
                        int64_t *out) {
    int64_t hi = inclusive ? rank : rank - 1;
    if (a < -(int64_t)rank || a > hi)
        return mi__node_error(MI_ERR_SHAPE, n, "%s %lld is out of range for rank %d (expected %d to %lld)",
                        what, (long long)a, rank, -rank, (long long)hi);
    *out = a < 0 ? a + rank : a;
    return MI_OK;
}

/* An INTS attribute with exactly want values (want < 0: any count up to
 * max); *found = 0 when absent. */
static mi_status attr_ints(const mi_node *n, const char *name, int want, size_t max, int64_t *vals,
                           size_t *count, int *found) {
    const mi_attr *a = mi_node_attr(n, name);
    *found = 0;
    if (!a) return MI_OK;
    if (a->type != MI_ATTR_INTS)
        return mi__node_error(MI_ERR_GRAPH, n, "attribute '%s' must be a list of ints", name);
    if ((want >= 0 && a->count != (size_t)want) || a->count > max)
        return mi__node_error(MI_ERR_SHAPE, n, "attribute '%s' has %zu values, expected %d", name,
                        a->count, want >= 0 ? want : (int)max);
    for (size_t i = 0; i < a->count; i++) vals[i] = a->ints[i];
    if (count) *count = a->count;
    *found = 1;
    return MI_OK;
}

static mi_status attr_range(const mi_node *n, const char *name, const int64_t *v, int cnt,
                            int64_t lo, int64_t hi) {
    for (int i = 0; i < cnt; i++)
        if (v[i] < lo || v[i] > hi)
            return mi__node_error(MI_ERR_SHAPE, n, "attribute '%s' value %lld is out of range (%lld to %lld)",
                            name, (long long)v[i], (long long)lo, (long long)hi);
    return MI_OK;
}

static int attr_str_is(const mi_node *n, const char *name, const char *s, const char *dflt) {
    const mi_attr *a = mi_node_attr(n, name);
    const char *v = a && a->type == MI_ATTR_STRING ? a->s : dflt;
    return strcmp(v, s) == 0;
}

mi_status mi__const_ints(const mi_graph *g, const mi_node *n, int k, int64_t *vals, size_t max,
                         size_t *count) {
    const mi_tensor *t = mi__node_in(g, n, k);
    const void *v = t ? mi__tensor_value(g, n->inputs[k]) : NULL;
    if (!t) return mi__node_error(MI_ERR_GRAPH, n, "input %d is missing", k);
    if (!v)
        return mi__node_error(MI_ERR_UNSUPPORTED, n,
                        "input %d '%s' must be a constant known at load time (mini-infer needs "
                        "static shapes)", k, t->name);
    if (t->dtype != MI_DTYPE_INT64 && t->dtype != MI_DTYPE_INT32)
        return mi__node_error(MI_ERR_UNSUPPORTED, n, "input %d '%s' has dtype %s, expected int64", k,
                        t->name, mi_dtype_name(t->dtype));
    if (t->ndim > 1)
        return mi__node_error(MI_ERR_SHAPE, n, "input %d '%s' has rank %d, expected a 1-D list", k,
                        t->name, t->ndim);
    int64_t c = mi_tensor_numel(t);
    if ((uint64_t)c > max)
        return mi__node_error(MI_ERR_SHAPE, n, "input %d '%s' has %lld values, expected at most %zu", k,
                        t->name, (long long)c, max);
    for (int64_t i = 0; i < c; i++)
        vals[i] = t->dtype == MI_DTYPE_INT64 ? ((const int64_t *)v)[i] : ((const int32_t *)v)[i];
    *count = (size_t)c;
    return MI_OK;
}

mi_status mi__const_float(const mi_graph *g, const mi_node *n, int k, float *out) {
    const mi_tensor *t = mi__node_in(g, n, k);
    const void *v = t ? mi__tensor_value(g, n->inputs[k]) : NULL;
    if (!t) return mi__node_error(MI_ERR_GRAPH, n, "input %d is missing", k);
    if (!v)
        return mi__node_error(MI_ERR_UNSUPPORTED, n, "input %d '%s' must be a constant known at load time",
                        k, t->name);
    if (mi_tensor_numel(t) != 1)
        return mi__node_error(MI_ERR_SHAPE, n, "input %d '%s' must be a scalar, has %lld values", k,
                        t->name, (long long)mi_tensor_numel(t));
    switch (t->dtype) {
    case MI_DTYPE_FLOAT: *out = *(const float *)v; break;
    case MI_DTYPE_FLOAT16: case MI_DTYPE_BFLOAT16: *out = (float)mi_k_load_f((int)t->dtype, v); break;
    case MI_DTYPE_DOUBLE: *out = (float)*(const double *)v; break;
    case MI_DTYPE_INT64: *out = (float)*(const int64_t *)v; break;
    case MI_DTYPE_INT32: *out = (float)*(const int32_t *)v; break;
    case MI_DTYPE_INT8: *out = *(const int8_t *)v; break;
    case MI_DTYPE_UINT8: *out = *(const uint8_t *)v; break;
    case MI_DTYPE_INT16: *out = *(const int16_t *)v; break;
    case MI_DTYPE_UINT16: *out = *(const uint16_t *)v; break;
    default:
        return mi__node_error(MI_ERR_UNSUPPORTED, n, "input %d '%s' has dtype %s, expected a number", k,
                        t->name, mi_dtype_name(t->dtype));
    }
    return MI_OK;
}

int64_t mi__window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                       int64_t pad_begin, int64_t pad_end, int ceil_mode) {
    int64_t eff, padded, lead;
    if (stride < 1 || kernel < 1 || dilation < 1) return -1;
    if (!mi__mul_i64(kernel - 1, dilation, &eff) || !mi__add_i64(eff, 1, &eff) ||
        !mi__add_i64(in, pad_begin, &lead) || !mi__add_i64(lead, pad_end, &padded))
        return -1;
    int64_t span = padded - eff;
    if (span < 0) return 0;
    int64_t out = span / stride + 1;
    if (ceil_mode && span % stride) {
        /* PyTorch's rule: a last window that would start in the right
         * padding is dropped. */
        int64_t last;
        if (mi__mul_i64(out, stride, &last) && last < lead) out++;
    }
    return out;
}

/* Conv and pooling windows: kernel, strides, dilations, pads, auto_pad. */
static mi_status window(const mi_graph *g, const mi_node *n, int is_conv, int *nsp_out,
                        int64_t *kernel, int64_t *stride, int64_t *dil, int64_t *pb, int64_t *pe) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    mi_status st;
    int found;
    if (!x || x->ndim < 3 || x->ndim > 2 + MI_MAX_SPATIAL)
        return mi__node_error(MI_ERR_SHAPE, n, "input has rank %d, expected 3 to 5 (N, C, 1 to 3 "
                        "spatial dims)", x ? x->ndim : -1);
    int nsp = x->ndim - 2;
    *nsp_out = nsp;
    int64_t pads[2 * MI_MAX_SPATIAL] = {0};
    for (int i = 0; i < nsp; i++) stride[i] = dil[i] = 1;
    if ((st = attr_ints(n, "kernel_shape", nsp, MI_MAX_SPATIAL, kernel, NULL, &found)) != MI_OK)
        return st;
    if (is_conv) {
        const mi_tensor *w = mi__node_in(g, n, 1);
        if (!w || w->ndim != x->ndim)
            return mi__node_error(MI_ERR_SHAPE, n, "weight has rank %d, expected %d (like the input)",
                            w ? w->ndim : -1, x->ndim);
        for (int i = 0; i < nsp; i++) {
            if (found && kernel[i] != w->dims[2 + i])
                return mi__node_error(MI_ERR_SHAPE, n, "kernel_shape[%d] = %lld but the weight has %lld",
                                i, (long long)kernel[i], (long long)w->dims[2 + i]);
            kernel[i] = w->dims[2 + i];
        }
    } else if (!found) {
        return mi__node_error(MI_ERR_GRAPH, n, "attribute 'kernel_shape' is required");
    }
    if ((st = attr_range(n, "kernel_shape", kernel, nsp, 1, MI__ATTR_MAX)) != MI_OK ||
        (st = attr_ints(n, "strides", nsp, MI_MAX_SPATIAL, stride, NULL, &found)) != MI_OK ||
        (st = attr_range(n, "strides", stride, nsp, 1, MI__ATTR_MAX)) != MI_OK ||
        (st = attr_ints(n, "dilations", nsp, MI_MAX_SPATIAL, dil, NULL, &found)) != MI_OK ||
        (st = attr_range(n, "dilations", dil, nsp, 1, MI__ATTR_MAX)) != MI_OK ||
        (st = attr_ints(n, "pads", 2 * nsp, 2 * MI_MAX_SPATIAL, pads, NULL, &found)) != MI_OK ||
        (st = attr_range(n, "pads", pads, 2 * nsp, 0, MI__ATTR_MAX)) != MI_OK)
        return st;
    int upper = attr_str_is(n, "auto_pad", "SAME_UPPER", "NOTSET");
    int lower = attr_str_is(n, "auto_pad", "SAME_LOWER", "NOTSET");
    int valid = attr_str_is(n, "auto_pad", "VALID", "NOTSET");
    if (!upper && !lower && !valid && !attr_str_is(n, "auto_pad", "NOTSET", "NOTSET"))
        return mi__node_error(MI_ERR_UNSUPPORTED, n, "attribute 'auto_pad' must be NOTSET, SAME_UPPER, "
                        "SAME_LOWER or VALID");
    for (int i = 0; i < nsp; i++) {
        pb[i] = pads[i];
        pe[i] = pads[nsp + i];
        if (valid) pb[i] = pe[i] = 0;
        if (upper || lower) {
            /* Output ceil(in / stride); the padding that takes is split with
             * the odd element at the end (UPPER) or the start (LOWER). */
            int64_t in = x->dims[2 + i], out = in / stride[i] + (in % stride[i] != 0);
            int64_t total, ext;
            if (!mi__mul_i64(out - 1, stride[i], &total) ||
                !mi__mul_i64(kernel[i] - 1, dil[i], &ext) || !mi__add_i64(total, ext + 1, &total))
                return mi__node_error(MI_ERR_OVERFLOW, n, "SAME padding overflows on axis %d", i);
            total -= in;
            if (total < 0) total = 0;
            pb[i] = upper ? total / 2 : total - total / 2;
            pe[i] = total - pb[i];
        }
    }
    return MI_OK;
}

/* Per axis begin, end and step of a Slice, clamped as ONNX says. */
static mi_status slice_resolve(const mi_graph *g, const mi_node *n, int64_t *begin, int64_t *end,
                               int64_t *step) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t starts[MI_MAX_DIMS], ends[MI_MAX_DIMS], axes[MI_MAX_DIMS], steps[MI_MAX_DIMS];
    size_t ns = 0, ne = 0, na = 0, nst = 0;
    mi_status st;
    int found;
    if (!x) return mi__node_error(MI_ERR_GRAPH, n, "input 'data' is missing");
    if (g->opset < 10) {
        if ((st = attr_ints(n, "starts", -1, MI_MAX_DIMS, starts, &ns, &found)) != MI_OK ||
            (st = attr_ints(n, "ends", -1, MI_MAX_DIMS, ends, &ne, &found)) != MI_OK ||
            (st = attr_ints(n, "axes", -1, MI_MAX_DIMS, axes, &na, &found)) != MI_OK)
            return st;
    } else {
        if ((st = mi__const_ints(g, n, 1, starts, MI_MAX_DIMS, &ns)) != MI_OK ||
            (st = mi__const_ints(g, n, 2, ends, MI_MAX_DIMS, &ne)) != MI_OK)
            return st;
        if (mi__node_in(g, n, 3) && (st = mi__const_ints(g, n, 3, axes, MI_MAX_DIMS, &na)) != MI_OK)
            return st;
        if (mi__node_in(g, n, 4) && (st = mi__const_ints(g, n, 4, steps, MI_MAX_DIMS, &nst)) != MI_OK)
            return st;
    }
    if (ns != ne || (na && na != ns) || (nst && nst != ns))
        return mi__node_error(MI_ERR_SHAPE, n, "starts, ends, axes and steps must have the same length "
                        "(%zu, %zu, %zu, %zu)", ns, ne, na, nst);
    for (int i = 0; i < x->ndim; i++) {
        begin[i] = 0;
        end[i] = x->dims[i];
        step[i] = 1;
    }
    int seen[MI_MAX_DIMS] = {0};
    for (size_t i = 0; i < ns; i++) {
        int64_t a = na ? axes[i] : (int64_t)i, s = nst ? steps[i] : 1;
        if ((st = mi__norm_axis(n, "axis", a, x->ndim, 0, &a)) != MI_OK) return st;
        if (seen[a]++) return mi__node_error(MI_ERR_SHAPE, n, "axis %lld is sliced twice", (long long)a);
        if (s == 0) return mi__node_error(MI_ERR_SHAPE, n, "step on axis %lld is 0", (long long)a);
        if (s == INT64_MIN) s = -INT64_MAX;
        int64_t d = x->dims[a], b = starts[i], e = ends[i];
        if (b < 0) b += d;
        if (e < 0) e += d;
        if (s > 0) {
            b = b < 0 ? 0 : b > d ? d : b;
            e = e < 0 ? 0 : e > d ? d : e;
        } else {
            b = b < 0 ? 0 : b > d - 1 ? d - 1 : b;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
        }
        begin[a] = b;
        end[a] = e;
        step[a] = s;
    }
    return MI_OK;
}

mi_status mi__slice_dims(const mi_graph *g, const mi_node *n, int64_t *out_dims) {
    int64_t b[MI_MAX_DIMS], e[MI_MAX_DIMS], s[MI_MAX_DIMS];
    mi_status st = slice_resolve(g, n, b, e, s);
    if (st != MI_OK) return st;
    for (int i = 0; i < g->tensors[n->inputs[0]].ndim; i++) {
        int64_t span = s[i] > 0 ? e[i] - b[i] : b[i] - e[i], as = s[i] > 0 ? s[i] : -s[i];
        out_dims[i] = span <= 0 ? 0 : span / as + (span % as != 0);
    }
    return MI_OK;
}

static mi_status pad_params(const mi_graph *g, const mi_node *n, mi__pad_params *p) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t pads[2 * MI_MAX_DIMS], axes[MI_MAX_DIMS];
    size_t np = 0, na = 0;
    mi_status st;
    int found;
    if (!x) return mi__node_error(MI_ERR_GRAPH, n, "input 'data' is missing");
    p->ndim = x->ndim;
    if (attr_str_is(n, "mode", "constant", "constant")) p->mode = MI_PAD_CONSTANT;
    else if (attr_str_is(n, "mode", "reflect", "constant")) p->mode = MI_PAD_REFLECT;
    else if (attr_str_is(n, "mode", "edge", "constant")) p->mode = MI_PAD_EDGE;
    else return mi__node_error(MI_ERR_UNSUPPORTED, n, "mode must be constant, reflect or edge");
    if (g->opset < 11) {
        if ((st = attr_ints(n, "pads", 2 * x->ndim, 2 * MI_MAX_DIMS, pads, &np, &found)) != MI_OK)
            return st;
        if (!found) return mi__node_error(MI_ERR_GRAPH, n, "attribute 'pads' is required");
        p->value = mi_node_attr_float(n, "value", 0.0f);
    } else {
        if ((st = mi__const_ints(g, n, 1, pads, 2 * MI_MAX_DIMS, &np)) != MI_OK) return st;
        if (mi__node_in(g, n, 2) && (st = mi__const_float(g, n, 2, &p->value)) != MI_OK) return st;
        if (mi__node_in(g, n, 3) && (st = mi__const_ints(g, n, 3, axes, MI_MAX_DIMS, &na)) != MI_OK)
            return st;
    }
    size_t nax = na ? na : (size_t)x->ndim;
    if (np != 2 * nax)
        return mi__node_error(MI_ERR_SHAPE, n, "pads has %zu values, expected %zu (2 per axis)", np,
                        2 * nax);
    if ((st = attr_range(n, "pads", pads, (int)np, -MI__ATTR_MAX, MI__ATTR_MAX)) != MI_OK) return st;
    for (size_t i = 0; i < nax; i++) {
        int64_t a = na ? axes[i] : (int64_t)i;
        if ((st = mi__norm_axis(n, "axis", a, x->ndim, 0, &a)) != MI_OK) return st;
        p->begin[a] = pads[i];
        p->end[a] = pads[nax + i];
    }
    return MI_OK;
}

static mi_status reduce_params(const mi_graph *g, const mi_node *n, mi__reduce_params *p) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int64_t axes[MI_MAX_DIMS];
    size_t na = 0;
    int found = 0, noop = 0;
    mi_status st;
    if (!x) return mi__node_error(MI_ERR_GRAPH, n, "input 'data' is missing");
    p->ndim = x->ndim;
    p->keepdims = mi_node_attr_int(n, "keepdims", 1) != 0;
    /* ReduceSum took its axes as an input from opset 13, the others from 18. */
    if (g->opset < (n->op == MI_OP_REDUCE_SUM ? 13 : 18)) {
        if ((st = attr_ints(n, "axes", -1, MI_MAX_DIMS, axes, &na, &found)) != MI_OK) return st;
    } else {
        noop = mi_node_attr_int(n, "noop_with_empty_axes", 0) != 0;
        if (mi__node_in(g, n, 1) && (st = mi__const_ints(g, n, 1, axes, MI_MAX_DIMS, &na)) != MI_OK)
            return st;
    }
    if (!na) {
        for (int i = 0; i < x->ndim; i++) p->reduce[i] = !noop;
        return MI_OK;
    }
    for (size_t i = 0; i < na; i++) {
        int64_t a;
        if ((st = mi__norm_axis(n, "axis", axes[i], x->ndim, 0, &a)) != MI_OK) return st;
        if (p->reduce[a]++) return mi__node_error(MI_ERR_SHAPE, n, "axis %lld given twice", (long long)a);
    }
    return MI_OK;
}

static mi_status axis_param(const mi_graph *g, const mi_node *n, int64_t dflt, int required,
                            int inclusive, int64_t *axis) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    const mi_attr *a = mi_node_attr(n, "axis");
    if (!x) return mi__node_error(MI_ERR_GRAPH, n, "input 0 is missing");
    if (!a && required) return mi__node_error(MI_ERR_GRAPH, n, "attribute 'axis' is required");
    if (a && a->type != MI_ATTR_INT) return mi__node_error(MI_ERR_GRAPH, n, "attribute 'axis' must be an int");
    return mi__norm_axis(n, "axis", a ? a->i : dflt, x->ndim, inclusive, axis);
}

static mi_status conv_params(const mi_graph *g, const mi_node *n, mi__conv_params *c) {
    mi_status st = window(g, n, 1, &c->nspatial, c->kernel, c->stride, c->dilation, c->pad_begin, c->pad_end);
    if (st != MI_OK) return st;
    c->group = mi_node_attr_int(n, "group", 1);
    if (c->group < 1 || c->group > MI__ATTR_MAX)
        return mi__node_error(MI_ERR_SHAPE, n, "group %lld, expected >= 1", (long long)c->group);
    return MI_OK;
}

static mi_status pool_params(const mi_graph *g, const mi_node *n, mi__pool_params *p) {
    mi_status st = window(g, n, 0, &p->nspatial, p->kernel, p->stride, p->dilation, p->pad_begin, p->pad_end);
    if (st != MI_OK) return st;
    p->ceil_mode = mi_node_attr_int(n, "ceil_mode", 0) != 0;
    p->count_include_pad = mi_node_attr_int(n, "count_include_pad", 0) != 0;
    if (attr_str_is(n, "auto_pad", "SAME_UPPER", "") || attr_str_is(n, "auto_pad", "SAME_LOWER", ""))
        p->ceil_mode = 0; /* the padding already gives ceil(in / stride) */
    return MI_OK;
}

/* GlobalAveragePool: a window as large as the input's spatial dims. */
static mi_status global_pool_params(const mi_node *n, const mi_tensor *x, mi__pool_params *p) {
    if (!x || x->ndim < 3 || x->ndim > 2 + MI_MAX_SPATIAL)
        return mi__node_error(MI_ERR_SHAPE, n, "input has rank %d, expected 3 to 5", x ? x->ndim : -1);
    p->nspatial = x->ndim - 2;
    for (int i = 0; i < p->nspatial; i++) {
        p->kernel[i] = x->dims[2 + i];
        p->stride[i] = p->dilation[i] = 1;
    }
    return MI_OK;
}

static mi_status slice_params(const mi_graph *g, const mi_node *n, const mi_tensor *x, mi__slice_params *p) {
    int64_t b[MI_MAX_DIMS], e[MI_MAX_DIMS];
    mi_status st = slice_resolve(g, n, b, e, p->step);
    if (st != MI_OK) return st;
    p->ndim = x->ndim;
    memcpy(p->start, b, sizeof b);
    return MI_OK;
}

static mi_status lrn_params(const mi_node *n, mi__lrn_params *l) {
    l->size = mi_node_attr_int(n, "size", 0);
    if (l->size < 1 || l->size > MI__ATTR_MAX)
        return mi__node_error(MI_ERR_GRAPH, n, "attribute 'size' is required and must be >= 1");
    l->alpha = mi_node_attr_float(n, "alpha", 1e-4f);
    l->beta = mi_node_attr_float(n, "beta", 0.75f);
    l->bias = mi_node_attr_float(n, "bias", 1.0f);
    return MI_OK;
}

/* perm, or the dims reversed when absent; it must be a permutation. */
static mi_status transpose_params(const mi_node *n, const mi_tensor *x, int *ndim, int *perm_out) {
    int64_t perm[MI_MAX_DIMS];
    int found, seen[MI_MAX_DIMS] = {0};
    if (!x) return mi__node_error(MI_ERR_GRAPH, n, "input is missing");
    mi_status st = attr_ints(n, "perm", x->ndim, MI_MAX_DIMS, perm, NULL, &found);
    if (st != MI_OK) return st;
    *ndim = x->ndim;
    for (int i = 0; i < x->ndim; i++) {
        int64_t p = found ? perm[i] : x->ndim - 1 - i;
        if (p < 0 || p >= x->ndim || seen[p]++)
            return mi__node_error(MI_ERR_SHAPE, n, "perm is not a permutation of 0..%d", x->ndim - 1);
        perm_out[i] = (int)p;
    }
    return MI_OK;
}

/* Bounds as attributes before opset 11, as optional constant inputs since;
 * an absent bound is infinite. */
static mi_status clip_params(const mi_graph *g, const mi_node *n, float *min, float *max) {
    mi_status st;
    *min = -INFINITY;
    *max = INFINITY;
    if (g->opset < 11) {
        *min = mi_node_attr_float(n, "min", -FLT_MAX);
        *max = mi_node_attr_float(n, "max", FLT_MAX);
        if (*min == -FLT_MAX) *min = -INFINITY;
        if (*max == FLT_MAX) *max = INFINITY;
        return MI_OK;
    }
    if (mi__node_in(g, n, 1) && (st = mi__const_float(g, n, 1, min)) != MI_OK) return st;
    if (mi__node_in(g, n, 2) && (st = mi__const_float(g, n, 2, max)) != MI_OK) return st;
    return MI_OK;
}

static mi_status cast_params(const mi_node *n, mi_dtype *to) {
    const mi_attr *a = mi_node_attr(n, "to");
    if (!a || a->type != MI_ATTR_INT) return mi__node_error(MI_ERR_GRAPH, n, "attribute 'to' is required");
    *to = mi__dtype_from_int(a->i);
    if (*to == MI_DTYPE_UNDEFINED)
        return mi__node_error(MI_ERR_UNSUPPORTED, n, "cast to ONNX data type %lld is not supported", (long long)a->i);
    return MI_OK;
}

mi_status mi__op_params_get(const mi_graph *g, const mi_node *n, mi__op_params *out) {
    memset(out, 0, sizeof *out);
    out->op = n->op;
    const mi_tensor *x = mi__node_in(g, n, 0);
    switch (n->op) {
    case MI_OP_CONV: return conv_params(g, n, &out->u.conv);
    case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: return pool_params(g, n, &out->u.pool);
    case MI_OP_GLOBAL_AVERAGE_POOL: return global_pool_params(n, x, &out->u.pool);
    case MI_OP_GEMM:
        out->u.gemm.alpha = mi_node_attr_float(n, "alpha", 1.0f);
        out->u.gemm.beta = mi_node_attr_float(n, "beta", 1.0f);
        out->u.gemm.trans_a = mi_node_attr_int(n, "transA", 0) != 0;
        out->u.gemm.trans_b = mi_node_attr_int(n, "transB", 0) != 0;
        return MI_OK;
    case MI_OP_PAD: return pad_params(g, n, &out->u.pad);
    case MI_OP_SLICE: return slice_params(g, n, x, &out->u.slice);
    case MI_OP_REDUCE_MEAN: return reduce_params(g, n, &out->u.reduce);
    case MI_OP_LRN: return lrn_params(n, &out->u.lrn);
    case MI_OP_TRANSPOSE: return transpose_params(n, x, &out->u.transpose.ndim, out->u.transpose.perm);
    case MI_OP_CONCAT: return axis_param(g, n, 0, 1, 0, &out->u.axis.axis);
    case MI_OP_SPLIT: case MI_OP_GATHER: return axis_param(g, n, 0, 0, 0, &out->u.axis.axis);
    case MI_OP_FLATTEN: return axis_param(g, n, 1, 0, 1, &out->u.axis.axis);
    case MI_OP_SOFTMAX:
        out->u.softmax.coerce_2d = g->opset < 13;
        return axis_param(g, n, g->opset < 13 ? 1 : -1, 0, 0, &out->u.softmax.axis);
    case MI_OP_CLIP: return clip_params(g, n, &out->u.clip.min, &out->u.clip.max);
    case MI_OP_HARD_SIGMOID:
        out->u.hard_sigmoid.alpha = mi_node_attr_float(n, "alpha", 0.2f);
        out->u.hard_sigmoid.beta = mi_node_attr_float(n, "beta", 0.5f);
        return MI_OK;
    case MI_OP_HARD_SWISH: /* x * HardSigmoid(x) with fixed alpha 1/6 */
        out->u.hard_sigmoid.alpha = 1.0f / 6.0f;
        out->u.hard_sigmoid.beta = 0.5f;
        return MI_OK;
    case MI_OP_BATCH_NORM:
        out->u.batch_norm.epsilon = mi_node_attr_float(n, "epsilon", 1e-5f);
        return MI_OK;
    case MI_OP_CAST: return cast_params(n, &out->u.cast.to);
    case MI_OP_REDUCE_SUM: case MI_OP_REDUCE_MAX: return reduce_params(g, n, &out->u.reduce);
    case MI_OP_LAYER_NORM:
        out->u.layer_norm.epsilon = mi_node_attr_float(n, "epsilon", 1e-5f);
        return axis_param(g, n, -1, 0, 0, &out->u.layer_norm.axis);
    case MI_OP_TRILU:
        out->u.trilu.upper = mi_node_attr_int(n, "upper", 1) != 0;
        return MI_OK;
    case MI_OP_MOD:
        out->u.math.variant = mi_node_attr_int(n, "fmod", 0) != 0;
        return MI_OK;
    case MI_OP_SCATTER_ND: {
        const mi_attr *a = mi_node_attr(n, "reduction");
        const char *r = a && a->type == MI_ATTR_STRING && a->s ? a->s : "none";
        out->u.scatter.reduction = !strcmp(r, "add") ? 1 : !strcmp(r, "mul") ? 2 : 0;
        if (strcmp(r, "none") && !out->u.scatter.reduction)
            return mi__node_error(MI_ERR_UNSUPPORTED, n, "reduction '%s': none, add and mul are supported", r);
        return MI_OK;
    }
    case MI_OP_GELU: {
        const mi_attr *a = mi_node_attr(n, "approximate");
        if (a && (a->type != MI_ATTR_STRING || !a->s || (strcmp(a->s, "none") && strcmp(a->s, "tanh"))))
            return mi__node_error(MI_ERR_UNSUPPORTED, n, "approximate '%s': expected none or tanh",
                                  a && a->type == MI_ATTR_STRING && a->s ? a->s : "?");
        out->u.math.variant = a && strcmp(a->s, "tanh") == 0;
        return MI_OK;
    }
    default: return MI_OK;
    }
}

mi_status mi__node_check_overlap(const mi_graph *g, const mi_node *n, void *const *in, void *const *out) {
    for (int o = 0; o < n->noutputs; o++) {
        if (n->outputs[o] < 0 || !out[o]) continue;
        const mi_tensor *y = &g->tensors[n->outputs[o]];
        uintptr_t y0 = (uintptr_t)out[o], y1 = y0 + y->nbytes;
        for (int k = 0; k < n->ninputs; k++) {
            const mi_tensor *x = mi__node_in(g, n, k);
            if (!x || !in[k]) continue;
            uintptr_t x0 = (uintptr_t)in[k], x1 = x0 + x->nbytes;
            if (!(x0 < y1 && y0 < x1)) continue;
            if (o == 0 && x0 == y0 && x->nbytes == y->nbytes && mi__op_inplace_allowed(n->op, k)) continue;
            return mi__node_error(MI_ERR_PLAN_INVALID, n, "output '%s' overlaps input %d '%s', which %s cannot run "
                                  "in place on", y->name, k, x->name, mi_op_name(n->op));
        }
    }
    return MI_OK;
}
