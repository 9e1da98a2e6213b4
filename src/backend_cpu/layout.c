/* Ops that move bytes without arithmetic, for every stored dtype (float16
 * and bfloat16 elements are moved as they are, 2 bytes each): the view
 * ops as copies (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout),
 * Transpose, Concat, Split, Slice (negative steps too), Pad (constant,
 * reflect, edge, negative pads crop), Gather, Cast, and Shape and Constant
 * (normally folded at load time, but runnable).
 *
 * Strided walks share one helper: the destination is written in order,
 * the source read through per-dim (possibly negative) element strides. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

/* ---- strided copy ------------------------------------------------------------------- */

static void copy_elem(void *dst, const void *src, size_t es) {
    switch (es) {
    case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es);
    }
}

/* dst (contiguous, dims) [i] = src[sum_d idx_d * strides_d] (element
 * strides). The last dim is the inner loop. */
static void strided_copy(void *dst, const void *src, int ndim, const int64_t *dims,
                         const int64_t *strides, size_t es) {
    if (ndim == 0) {
        copy_elem(dst, src, es);
        return;
    }
    int64_t inner = dims[ndim - 1], st = strides[ndim - 1], rows = 1;
    for (int i = 0; i < ndim - 1; i++) rows *= dims[i];
    char *d = dst;
    const char *s = src;
    for (int64_t r = 0; r < rows; r++) {
        int64_t off = mi_k_strided_offset(ndim - 1, dims, strides, r);
        const char *row = s + off * (int64_t)es;
        char *o = d + r * inner * (int64_t)es;
        if (st == 1) {
            memcpy(o, row, (size_t)inner * es);
        } else if (es == 4) {
            for (int64_t i = 0; i < inner; i++) memcpy(o + 4 * i, row + 4 * i * st, 4);
        } else {
            for (int64_t i = 0; i < inner; i++)
                copy_elem(o + (size_t)i * es, row + i * st * (int64_t)es, es);
        }
    }
}

static void contiguous_strides(int ndim, const int64_t *dims, int64_t *strides) {
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

/* ---- copies --------------------------------------------------------------------------- */

mi_status mi__cpu_copy_op(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    if (xt->nbytes != yt->nbytes)
        return mi__cpu_err(c, MI_ERR_INTERNAL, "input has %zu bytes, output %zu", xt->nbytes, yt->nbytes);
    if (c->out[0] != c->in[0]) memmove(c->out[0], c->in[0], yt->nbytes);
    if (c->n->op == MI_OP_DROPOUT && c->n->noutputs > 1 && c->out[1]) {
        /* Inference: nothing is dropped, the mask is all true. */
        const mi_tensor *mt = mi__cpu_out_t(c, 1);
        memset(c->out[1], 1, mt->nbytes);
    }
    return MI_OK;
}

/* ---- Transpose ------------------------------------------------------------------------- */

mi_status mi__cpu_transpose(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    int64_t xs[MI_MAX_DIMS], st[MI_MAX_DIMS];
    contiguous_strides(xt->ndim, xt->dims, xs);
    for (int i = 0; i < yt->ndim; i++) st[i] = xs[c->p.u.transpose.perm[i]];
    strided_copy(c->out[0], c->in[0], yt->ndim, yt->dims, st, mi_dtype_size(xt->dtype));
    return MI_OK;
}

/* ---- Relayout -------------------------------------------------------------------------- */

void mi__cpu_relayout_bytes(void *dst, const mi_tensor *yt, const void *src, const mi_tensor *xt) {
    int64_t xd[MI_MAX_DIMS], xs[MI_MAX_DIMS], yd[MI_MAX_DIMS], st[MI_MAX_DIMS];
    int perm[MI_MAX_DIMS];
    int nd = mi_tensor_storage_dims(xt, xd);
    contiguous_strides(nd, xd, xs);
    mi__relayout_perm(xt, yt, perm);
    for (int j = 0; j < nd; j++) {
        yd[j] = xd[perm[j]];
        st[j] = xs[perm[j]];
    }
    strided_copy(dst, src, nd, yd, st, mi_dtype_size(xt->dtype));
}

mi_status mi__cpu_relayout(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    if (xt->nbytes != yt->nbytes || xt->ndim != yt->ndim)
        return mi__cpu_err(c, MI_ERR_INTERNAL, "input and output differ in size");
    if (c->in[0] == c->out[0])
        return mi__cpu_err(c, MI_ERR_INTERNAL, "a Relayout cannot run in place");
    mi__cpu_relayout_bytes(c->out[0], yt, c->in[0], xt);
    return MI_OK;
}

/* ---- Concat / Split ---------------------------------------------------------------------- */

mi_status mi__cpu_concat(mi__cpu_call *c) {
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    int64_t axis = c->p.u.axis.axis, outer = 1, inner = 1;
    size_t es = mi_dtype_size(yt->dtype);
    for (int i = 0; i < yt->ndim; i++) {
        if (i < axis) outer *= yt->dims[i];
        else if (i > axis) inner *= yt->dims[i];
    }
    size_t row = (size_t)(yt->dims[axis] * inner) * es;
    size_t at = 0;
    for (int k = 0; k < c->n->ninputs; k++) {
        const mi_tensor *xt = mi__cpu_in_t(c, k);
        size_t chunk = (size_t)(xt->dims[axis] * inner) * es;
        const char *src = c->in[k];
        char *dst = (char *)c->out[0] + at;
        for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * row, src + (size_t)o * chunk, chunk);
        at += chunk;
    }
    return MI_OK;
}

mi_status mi__cpu_split(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    int64_t axis = c->p.u.axis.axis, outer = 1, inner = 1;
    size_t es = mi_dtype_size(xt->dtype);
    for (int i = 0; i < xt->ndim; i++) {
        if (i < axis) outer *= xt->dims[i];
        else if (i > axis) inner *= xt->dims[i];
    }
    size_t row = (size_t)(xt->dims[axis] * inner) * es;
    size_t at = 0;
    for (int k = 0; k < c->n->noutputs; k++) {
        const mi_tensor *yt = mi__cpu_out_t(c, k);
        if (!yt) continue;
        size_t chunk = (size_t)(yt->dims[axis] * inner) * es;
        if (c->out[k]) {
            const char *src = (const char *)c->in[0] + at;
            char *dst = c->out[k];
            for (int64_t o = 0; o < outer; o++) memcpy(dst + (size_t)o * chunk, src + (size_t)o * row, chunk);
        }
        at += chunk;
    }
    return MI_OK;
}

/* ---- Slice ----------------------------------------------------------------------------------- */

mi_status mi__cpu_slice(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    const mi__slice_params *p = &c->p.u.slice;
    int64_t xs[MI_MAX_DIMS], st[MI_MAX_DIMS], off = 0;
    size_t es = mi_dtype_size(xt->dtype);
    if (mi_tensor_numel(yt) == 0) return MI_OK;
    contiguous_strides(xt->ndim, xt->dims, xs);
    for (int i = 0; i < xt->ndim; i++) {
        off += p->start[i] * xs[i];
        st[i] = p->step[i] * xs[i];
    }
    strided_copy(c->out[0], (const char *)c->in[0] + off * (int64_t)es, yt->ndim, yt->dims, st, es);
    return MI_OK;
}

/* ---- values of any dtype ------------------------------------------------------------------ */


/* ---- Pad ------------------------------------------------------------------------------------ */

/* Source index along one axis for output index o, or -1 for the constant. */
static int64_t pad_src(mi__pad_mode mode, int64_t o, int64_t begin, int64_t d) {
    int64_t s = o - begin;
    if (s >= 0 && s < d) return s;
    if (mode == MI_PAD_CONSTANT) return -1;
    if (mode == MI_PAD_EDGE) return s < 0 ? 0 : d - 1;
    if (d == 1) return 0;
    /* reflect, without repeating the edge; pads < d, so once is enough */
    int64_t period = 2 * (d - 1);
    s = s % period;
    if (s < 0) s += period;
    return s < d ? s : period - s;
}

mi_status mi__cpu_pad(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    const mi__pad_params *p = &c->p.u.pad;
    size_t es = mi_dtype_size(xt->dtype);
    unsigned char value[8] = {0};
    if (!mi__dtype_castable(xt->dtype))
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported", mi_dtype_name(xt->dtype));
    mi_k_store_f((int)xt->dtype, value, p->value);
    const char *x = c->in[0];
    char *y = c->out[0];
    int nd = yt->ndim;
    if (nd == 0) {
        memcpy(y, x, es);
        return MI_OK;
    }
    int64_t xs[MI_MAX_DIMS];
    contiguous_strides(xt->ndim, xt->dims, xs);
    const int last = nd - 1;
    const int64_t w = yt->dims[last], d = xt->dims[last], b = p->begin[last];
    int64_t rows = 1;
    for (int i = 0; i < last; i++) rows *= yt->dims[i];
    /* The copied middle of each row: outputs [m0, m1) read source o - b. */
    int64_t m0 = b > 0 ? b : 0, m1 = b + d < w ? b + d : w;
    if (m1 < m0) m1 = m0;
    for (int64_t r = 0; r < rows; r++) {
        char *dst = y + (size_t)(r * w) * es;
        int64_t idx = r, off = 0;
        int constant = 0;
        for (int i = last - 1; i >= 0; i--) {
            int64_t o = idx % yt->dims[i], s = pad_src(p->mode, o, p->begin[i], xt->dims[i]);
            idx /= yt->dims[i];
            if (s < 0) constant = 1;
            else off += s * xs[i];
        }
        if (constant) {
            for (int64_t o = 0; o < w; o++) memcpy(dst + (size_t)o * es, value, es);
            continue;
        }
        const char *src = x + (size_t)off * es;
        for (int64_t o = 0; o < m0; o++) {
            int64_t s = pad_src(p->mode, o, b, d);
            memcpy(dst + (size_t)o * es, s < 0 ? (const char *)value : src + (size_t)s * es, es);
        }
        if (m1 > m0) memcpy(dst + (size_t)m0 * es, src + (size_t)(m0 - b) * es, (size_t)(m1 - m0) * es);
        for (int64_t o = m1; o < w; o++) {
            int64_t s = pad_src(p->mode, o, b, d);
            memcpy(dst + (size_t)o * es, s < 0 ? (const char *)value : src + (size_t)s * es, es);
        }
    }
    return MI_OK;
}

/* ---- Gather ---------------------------------------------------------------------------------- */

mi_status mi__cpu_gather(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *it = mi__cpu_in_t(c, 1);
    int64_t axis = c->p.u.axis.axis, outer = 1, inner = 1, d = xt->dims[axis];
    size_t es = mi_dtype_size(xt->dtype);
    if (it->dtype != MI_DTYPE_INT64 && it->dtype != MI_DTYPE_INT32)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "indices '%s' have dtype %s, expected int32 or int64",
                           it->name, mi_dtype_name(it->dtype));
    for (int i = 0; i < xt->ndim; i++) {
        if (i < axis) outer *= xt->dims[i];
        else if (i > axis) inner *= xt->dims[i];
    }
    int64_t cnt = mi_tensor_numel(it);
    const void *iv = c->in[1];
    for (int64_t i = 0; i < cnt; i++) {
        int64_t v = it->dtype == MI_DTYPE_INT64 ? ((const int64_t *)iv)[i] : ((const int32_t *)iv)[i];
        if (v < -d || v >= d)
            return mi__cpu_err(c, MI_ERR_INVALID_ARG, "index %lld (position %lld of '%s') is out of "
                               "range for axis %lld of size %lld", (long long)v, (long long)i, it->name,
                               (long long)axis, (long long)d);
    }
    size_t chunk = (size_t)inner * es;
    const char *x = c->in[0];
    char *y = c->out[0];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < cnt; i++) {
            int64_t v = it->dtype == MI_DTYPE_INT64 ? ((const int64_t *)iv)[i] : ((const int32_t *)iv)[i];
            if (v < 0) v += d;
            memcpy(y + (size_t)(o * cnt + i) * chunk, x + (size_t)(o * d + v) * chunk, chunk);
        }
    return MI_OK;
}

/* ---- Cast ----------------------------------------------------------------------------------- */

mi_status mi__cpu_cast(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    mi_dtype from = xt->dtype, to = yt->dtype;
    if (!mi__dtype_castable(from) || !mi__dtype_castable(to))
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "cast from %s to %s is not supported",
                           mi_dtype_name(from), mi_dtype_name(to));
    int64_t n = mi_tensor_numel(xt);
    if (from == to) {
        if (c->out[0] != c->in[0]) memmove(c->out[0], c->in[0], yt->nbytes);
        return MI_OK;
    }
    /* The Casts at a half graph's edges: the same bits as the element rule
     * ((float)(double)f is f), converted on the pool, vectorized. */
    if (from == MI_DTYPE_FLOAT && mi__dtype_is_half(to)) {
        mi__cpu_f32_to_half(c->cpu, to, c->in[0], c->out[0], n);
        return MI_OK;
    }
    if (mi__dtype_is_half(from) && to == MI_DTYPE_FLOAT) {
        mi__cpu_half_to_f32(c->cpu, from, c->in[0], c->out[0], n);
        return MI_OK;
    }
    size_t fs = mi_dtype_size(from), ts = mi_dtype_size(to);
    const char *x = c->in[0];
    char *y = c->out[0];
    for (int64_t i = 0; i < n; i++) {
        const void *s = x + (size_t)i * fs;
        void *d = y + (size_t)i * ts;
        mi_k_cast_elem((int)from, (int)to, s, d);
    }
    return MI_OK;
}

/* ---- Shape, Constant ------------------------------------------------------------------------- */

mi_status mi__cpu_shape(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    int64_t r = xt->ndim;
    int64_t s = mi_node_attr_int(c->n, "start", 0), e = mi_node_attr_int(c->n, "end", r);
    if (s < 0) s += r;
    if (e < 0) e += r;
    s = s < 0 ? 0 : s > r ? r : s;
    e = e < 0 ? 0 : e > r ? r : e;
    if (yt->dtype != MI_DTYPE_INT64 || mi_tensor_numel(yt) != (e > s ? e - s : 0))
        return mi__cpu_err(c, MI_ERR_INTERNAL, "output '%s' does not have the shape's %lld int64 values",
                           yt->name, (long long)(e > s ? e - s : 0));
    int64_t *y = c->out[0];
    for (int64_t i = s; i < e; i++) y[i - s] = xt->dims[i];
    return MI_OK;
}

/* A float value (value_float, value_floats, or a tensor of another real
 * dtype) for a half output, as half precision converted it: converted
 * element by element. Returns 0 when the value is not such a case. */
static int constant_to_half(const mi__cpu_call *c, const mi_attr *a, const mi_tensor *yt) {
    int from = MI_K_DT_FLOAT;
    const void *src = NULL;
    int64_t n = 0;
    if (!mi__dtype_is_half(yt->dtype)) return 0;
    if (a->type == MI_ATTR_FLOAT) {
        src = &a->f;
        n = 1;
    } else if (a->type == MI_ATTR_FLOATS) {
        src = a->floats;
        n = (int64_t)a->count;
    } else if (a->type == MI_ATTR_TENSOR && a->tensor >= 0 && (size_t)a->tensor < mi_graph_tensor_count(c->g)) {
        const mi_tensor *t = mi_graph_tensor(c->g, (size_t)a->tensor);
        if (t->dtype == yt->dtype || !mi__dtype_castable(t->dtype) || t->dtype == MI_DTYPE_BOOL) return 0;
        from = (int)t->dtype;
        src = t->data;
        n = mi_tensor_numel(t);
    }
    if (!src || n != mi_tensor_numel(yt)) return 0;
    size_t fs = (size_t)mi_k_dt_size(from);
    for (int64_t k = 0; k < n; k++)
        mi_k_cast_elem(from, (int)yt->dtype, (const char *)src + (size_t)k * fs, (char *)c->out[0] + 2 * k);
    return 1;
}

mi_status mi__cpu_constant(mi__cpu_call *c) {
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    if (c->n->nattrs != 1) return mi__cpu_err(c, MI_ERR_GRAPH, "expected exactly one value attribute");
    const mi_attr *a = &c->n->attrs[0];
    const void *src = NULL;
    size_t bytes = 0;
    float f;
    int64_t i;
    if (constant_to_half(c, a, yt)) return MI_OK;
    if (a->type == MI_ATTR_TENSOR && a->tensor >= 0 && (size_t)a->tensor < mi_graph_tensor_count(c->g)) {
        const mi_tensor *t = mi_graph_tensor(c->g, (size_t)a->tensor);
        src = t->data;
        bytes = t->nbytes;
    } else if (a->type == MI_ATTR_FLOAT) {
        f = a->f;
        src = &f;
        bytes = sizeof f;
    } else if (a->type == MI_ATTR_INT) {
        i = a->i;
        src = &i;
        bytes = sizeof i;
    } else if (a->type == MI_ATTR_FLOATS) {
        src = a->floats;
        bytes = a->count * sizeof(float);
    } else if (a->type == MI_ATTR_INTS) {
        src = a->ints;
        bytes = a->count * sizeof(int64_t);
    }
    if (bytes != yt->nbytes || (bytes && !src))
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "attribute '%s' does not give the output's %zu bytes",
                           a->name, yt->nbytes);
    if (bytes) memcpy(c->out[0], src, bytes);
    return MI_OK;
}
