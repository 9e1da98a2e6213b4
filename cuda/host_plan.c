/* The CUDA backend's host-side decisions (see host_plan.h): plain C over
 * the graph, no device, no CUDA header, tested by tests/test_cuda_host.c. */
#include "host_plan.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

_Static_assert(MI_K_DT_FLOAT == MI_DTYPE_FLOAT && MI_K_DT_UINT8 == MI_DTYPE_UINT8 &&
                   MI_K_DT_INT8 == MI_DTYPE_INT8 && MI_K_DT_UINT16 == MI_DTYPE_UINT16 &&
                   MI_K_DT_INT16 == MI_DTYPE_INT16 && MI_K_DT_INT32 == MI_DTYPE_INT32 &&
                   MI_K_DT_INT64 == MI_DTYPE_INT64 && MI_K_DT_BOOL == MI_DTYPE_BOOL &&
                   MI_K_DT_FLOAT16 == MI_DTYPE_FLOAT16 && MI_K_DT_DOUBLE == MI_DTYPE_DOUBLE &&
                   MI_K_DT_BFLOAT16 == MI_DTYPE_BFLOAT16,
               "kernels/cast.h dtype codes follow mi_dtype");
_Static_assert(MI_K_ACT_RELU == MI_ACT_RELU && MI_K_ACT_CLIP == MI_ACT_CLIP, "activation codes");
_Static_assert(MI_K_MAX_DIMS == MI_MAX_DIMS, "rank limit");
_Static_assert(MI__K_PAD_CONSTANT == MI_PAD_CONSTANT && MI__K_PAD_REFLECT == MI_PAD_REFLECT &&
                   MI__K_PAD_EDGE == MI_PAD_EDGE,
               "pad modes");

mi_status mi__cu_node_error(const mi_node *n, mi_status st, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!n) return mi__error(st, "cuda backend: %s", msg);
    return mi__error(st, MI__NODE_FMT ": %s", MI__NODE_ARG(n), msg);
}

static void packed_strides(int ndim, const int64_t *dims, int64_t *s) {
    int64_t acc = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        s[k] = acc;
        acc *= dims[k];
    }
}

static int64_t product(int from, int to, const int64_t *dims) {
    int64_t p = 1;
    for (int k = from; k < to; k++) p *= dims[k];
    return p;
}

mi_status mi__cu_nd_make(const mi_node *n, const char *what, int nb, const int64_t *dims,
                         mi__cu_nd *out) {
    int64_t total = 1;
    memset(out, 0, sizeof *out);
    if (nb < 1 || nb > MI_MAX_DIMS)
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "%s: rank %d for cuDNN", what, nb);
    for (int k = 0; k < nb; k++) {
        if (dims[k] < 1 || dims[k] > INT_MAX || !mi__mul_i64(total, dims[k], &total) || total > INT_MAX)
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED,
                                     "%s: dim %d (%lld) or the element count does not fit cuDNN's int "
                                     "dims (at most %d elements)", what, k, (long long)dims[k], INT_MAX);
    }
    out->nb = nb;
    int acc = 1;
    for (int k = nb - 1; k >= 0; k--) {
        out->dims[k] = (int)dims[k];
        out->strides[k] = acc;
        acc *= out->dims[k];
    }
    return MI_OK;
}

static int fits_int(int64_t v) { return v >= INT_MIN && v <= INT_MAX; }

void mi__cu_nd_set(mi__cu_nd *nd, mi_dtype dtype, int nhwc) {
    nd->dtype = (int)dtype;
    nd->nhwc = nhwc && nd->nb == 4;
    if (!nd->nhwc) return;
    int c = nd->dims[1], h = nd->dims[2], w = nd->dims[3];
    nd->strides[1] = 1;
    nd->strides[3] = c;
    nd->strides[2] = w * c;
    nd->strides[0] = h * w * c;
}

int mi__cu_node_nhwc(const mi_graph *g, const mi_node *n) {
    const mi_tensor *y = n->noutputs > 0 && n->outputs[0] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[0]) : NULL;
    return y && y->ndim == 4 && y->layout == MI_LAYOUT_NHWC;
}

/* The ops with an NHWC path here, and which of their tensors follow it. */
static int nhwc_op(mi_op op) {
    switch (op) {
    case MI_OP_CONV: case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: case MI_OP_GLOBAL_AVERAGE_POOL:
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID: case MI_OP_HARD_SWISH:
    case MI_OP_CAST: case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: case MI_OP_CONCAT:
    case MI_OP_RELAYOUT:
        return 1;
    default: return 0;
    }
}

static int stored_nhwc(const mi_tensor *t) {
    return t && t->layout == MI_LAYOUT_NHWC && !mi_tensor_layout_neutral(t);
}

mi_status mi__cu_check_layouts(const mi_graph *g, const mi_node *n) {
    int node_nhwc = mi__cu_node_nhwc(g, n);
    for (int k = -1; k < n->ninputs + n->noutputs; k++) {
        int t = k < 0 ? n->fused.residual : k < n->ninputs ? n->inputs[k] : n->outputs[k - n->ninputs];
        if (t < 0) continue;
        const mi_tensor *x = mi_graph_tensor(g, (size_t)t);
        if (!stored_nhwc(x)) continue;
        if (!nhwc_op(n->op))
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "'%s' is stored NHWC; the CUDA backend runs %s "
                                     "in NCHW only", x->name, mi_op_name(n->op));
        /* Conv's weight follows the node; its bias is rank 1. */
        if (!node_nhwc && n->op != MI_OP_RELAYOUT)
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "'%s' is stored NHWC but the node's output is NCHW",
                                     x->name);
    }
    return MI_OK;
}

/* ---- convolution ------------------------------------------------------------------ */

mi_status mi__cu_conv_make(const mi_graph *g, const mi_node *n, const mi__conv_params *p,
                           mi__cu_conv *c) {
    mi_status st;
    const mi_tensor *x = mi__node_in(g, n, 0), *w = mi__node_in(g, n, 1), *b = mi__node_in(g, n, 2);
    const mi_tensor *y = n->noutputs > 0 && n->outputs[0] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[0]) : NULL;
    memset(c, 0, sizeof *c);
    if (!x || !w || !y) return mi__cu_node_error(n, MI_ERR_GRAPH, "needs X, W and an output");
    if (!mi__cu_float_type(x->dtype) || w->dtype != x->dtype || (b && b->dtype != x->dtype) ||
        y->dtype != x->dtype)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the CUDA backend runs Conv on float, float16 or "
                                 "bfloat16 inputs, weight, bias and output of one dtype (X is %s, W %s, Y %s)",
                                 mi_dtype_name(x->dtype), mi_dtype_name(w->dtype), mi_dtype_name(y->dtype));
    int nsp = p->nspatial;
    if (nsp < 1 || nsp > 3 || x->ndim != nsp + 2)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "%d spatial dims; 1 to 3 supported", nsp);
    c->dtype = x->dtype;
    c->nhwc = mi__cu_node_nhwc(g, n);
    int shift = nsp == 1 ? 1 : 0, csp = nsp == 3 ? 3 : 2, nb = csp + 2;
    int64_t xd[5], wd[5], yd[5], xpd[5];
    for (int k = 0; k < 2; k++) {
        xd[k] = xpd[k] = x->dims[k];
        wd[k] = w->dims[k];
        yd[k] = y->dims[k];
    }
    for (int j = 0; j < csp; j++) {
        c->pad[j] = 0;
        c->stride[j] = c->dilation[j] = 1;
        xd[2 + j] = xpd[2 + j] = wd[2 + j] = yd[2 + j] = 1;
    }
    memset(&c->prepad_k, 0, sizeof c->prepad_k);
    c->prepad_k.ndim = nb;
    c->prepad_k.mode = MI__K_PAD_CONSTANT;
    c->prepad_k.esize = (int)mi_dtype_size(x->dtype);
    for (int i = 0; i < nsp; i++) {
        int j = i + shift;
        int64_t pb = p->pad_begin[i], pe = p->pad_end[i], sym = pb < pe ? pb : pe;
        if (!fits_int(sym) || !fits_int(p->stride[i]) || !fits_int(p->dilation[i]))
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "pads, strides or dilations of axis %d "
                                     "exceed cuDNN's int range", i);
        c->pad[j] = (int)sym;
        c->stride[j] = (int)p->stride[i];
        c->dilation[j] = (int)p->dilation[i];
        xd[2 + j] = x->dims[2 + i];
        wd[2 + j] = w->dims[2 + i];
        yd[2 + j] = y->dims[2 + i];
        c->prepad_k.begin[2 + j] = pb - sym;
        if (pb != pe) c->prepad = 1;
        if (!mi__add_i64(xd[2 + j], pb - sym + pe - sym, &xpd[2 + j]))
            return mi__cu_node_error(n, MI_ERR_OVERFLOW, "padded input axis %d overflows", i);
    }
    /* The pre-pad runs in the storage order: channels last moves C inside. */
    static const int nhwc_order[4] = {0, 2, 3, 1};
    int64_t begin[5];
    memcpy(begin, c->prepad_k.begin, sizeof begin);
    for (int k = 0; k < nb; k++) {
        int from = c->nhwc ? nhwc_order[k] : k;
        c->prepad_k.idims[k] = xd[from];
        c->prepad_k.odims[k] = xpd[from];
        c->prepad_k.begin[k] = begin[from];
    }
    c->prepad_k.count = product(0, nb, xpd);
    c->nspatial = csp;
    if (p->group < 1 || p->group > INT_MAX)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "group %lld", (long long)p->group);
    c->groups = (int)p->group;
    int64_t bd[5] = {1, w->dims[0], 1, 1, 1};
    if ((st = mi__cu_nd_make(n, "input", nb, xd, &c->x)) || (st = mi__cu_nd_make(n, "padded input", nb, xpd, &c->xp)) ||
        (st = mi__cu_nd_make(n, "weight", nb, wd, &c->w)) || (st = mi__cu_nd_make(n, "output", nb, yd, &c->y)) ||
        (st = mi__cu_nd_make(n, "bias", nb, bd, &c->bias)))
        return st;
    mi__cu_nd_set(&c->x, x->dtype, c->nhwc);
    mi__cu_nd_set(&c->xp, x->dtype, c->nhwc);
    mi__cu_nd_set(&c->w, x->dtype, c->nhwc);
    mi__cu_nd_set(&c->y, x->dtype, c->nhwc);
    mi__cu_nd_set(&c->bias, x->dtype, 0);
    c->has_bias = b != NULL;
    c->has_residual = n->fused.residual >= 0;
    c->act = (int)n->fused.act;
    c->act_min = n->fused.act_min;
    c->act_max = n->fused.act_max;
    c->out_channels = y->dims[1];
    c->out_count = mi_tensor_numel(y);
    /* The epilogue's channel of element i is (i / inner) % C: channels
     * last is inner 1. */
    c->out_inner = c->nhwc ? 1 : product(2, y->ndim, y->dims);
    return MI_OK;
}

const char *mi__cu_algo_name(int algo) {
    static const char *const names[MI__CU_ALGO_COUNT] = {
        "IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
        "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
    return algo >= 0 && algo < MI__CU_ALGO_COUNT ? names[algo] : "?";
}

int mi__cu_conv_pick(const mi__cu_conv *c, const mi__cu_algo *ranked, int count, int from,
                     size_t budget, int tensor_ok, mi__cu_conv_choice *out) {
    int plain = c->act == MI_ACT_NONE && !c->has_bias && !c->has_residual;
    int identity = c->act == MI_ACT_NONE && !plain; /* fused only with PRECOMP_GEMM */
    int first = -1;
    for (int i = from < 0 ? 0 : from; i < count; i++) {
        const mi__cu_algo *a = &ranked[i];
        if (!a->ok || a->memory > budget || (!tensor_ok && a->math == MI__CU_MATH_TENSOR)) continue;
        if (identity && a->algo != MI__CU_ALGO_IMPLICIT_PRECOMP_GEMM) {
            if (first < 0) first = i;
            continue;
        }
        out->path = plain ? MI__CU_CONV_PLAIN
                  : (c->act == MI_ACT_RELU || identity) ? MI__CU_CONV_FUSED : MI__CU_CONV_EPILOGUE;
        out->index = i;
        out->algo = a->algo;
        out->math = tensor_ok ? a->math : MI__CU_MATH_FMA;
        return i;
    }
    if (first < 0) return -1;
    out->path = MI__CU_CONV_EPILOGUE;
    out->index = first;
    out->algo = ranked[first].algo;
    out->math = tensor_ok ? ranked[first].math : MI__CU_MATH_FMA;
    return first;
}

/* ---- cuDNN's graph API ----------------------------------------------------------- */

static void fg_tensor(mi__cu_fused *f, int64_t uid, const mi__cu_nd *nd, int dtype, int is_virtual) {
    mi__cu_fg_tensor *t = &f->t[f->ntensors++];
    t->uid = uid;
    for (int k = 0; k < 4; k++) {
        t->dims[k] = nd->dims[k];
        t->strides[k] = nd->strides[k];
    }
    t->dtype = dtype;
    t->is_virtual = is_virtual;
}

static void fg_op(mi__cu_fused *f, mi__cu_fg_kind kind, int64_t x, int64_t b, int64_t y) {
    mi__cu_fg_op *o = &f->op[f->nops++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->x = x;
    o->b = b;
    o->y = y;
}

int mi__cu_fused_make(const mi__cu_conv *c, mi__cu_fused *f, const char **why) {
    memset(f, 0, sizeof *f);
    *why = NULL;
    if (c->dtype != MI_DTYPE_FLOAT16 && c->dtype != MI_DTYPE_BFLOAT16) *why = "fp32 (the legacy path's fused call)";
    else if (!c->nhwc) *why = "not channels last";
    else if (c->nspatial != 2 || c->x.nb != 4) *why = "not 2-D";
    else if (c->groups != 1) *why = "grouped";
    else if (!c->has_bias && !c->has_residual && c->act == MI_ACT_NONE) *why = "nothing to fuse";
    else if (c->act != MI_ACT_NONE && c->act != MI_ACT_RELU && c->act != MI_ACT_CLIP) *why = "activation";
    else if (c->w.dims[1] % 8 || c->w.dims[0] % 8) *why = "channels not a multiple of 8";
    if (*why) return 0;
    int dt = (int)c->dtype;
    fg_tensor(f, MI__CU_FG_X, &c->xp, dt, 0);
    mi__cu_nd w = c->w; /* NHWC filter: strides of [K, R, S, C] */
    mi__cu_nd_set(&w, c->dtype, 1);
    fg_tensor(f, MI__CU_FG_W, &w, dt, 0);
    fg_tensor(f, MI__CU_FG_Y, &c->y, dt, 0);
    /* The chain: conv -> [+ bias] -> [+ residual] -> [act], each into the
     * next virtual fp32 tensor, the last into Y. */
    int steps = 1 + c->has_bias + c->has_residual + (c->act != MI_ACT_NONE);
    int64_t prev = 0, virt = MI__CU_FG_T0;
    for (int s = 0; s < steps; s++) {
        int64_t out = s == steps - 1 ? MI__CU_FG_Y : virt++;
        if (out != MI__CU_FG_Y) fg_tensor(f, out, &c->y, MI_DTYPE_FLOAT, 1);
        if (s == 0) {
            fg_op(f, MI__CU_FG_CONV, MI__CU_FG_X, MI__CU_FG_W, out);
        } else if (s == 1 && c->has_bias) {
            mi__cu_nd b = c->bias;
            mi__cu_nd_set(&b, c->dtype, 1);
            fg_tensor(f, MI__CU_FG_B, &b, dt, 0);
            fg_op(f, MI__CU_FG_ADD, prev, MI__CU_FG_B, out);
        } else if (s == 1 + c->has_bias && c->has_residual) {
            fg_tensor(f, MI__CU_FG_Z, &c->y, dt, 0);
            fg_op(f, MI__CU_FG_ADD, prev, MI__CU_FG_Z, out);
        } else {
            fg_op(f, MI__CU_FG_RELU, prev, 0, out);
            if (c->act == MI_ACT_CLIP) {
                f->op[f->nops - 1].clip = 1;
                f->op[f->nops - 1].lo = c->act_min;
                f->op[f->nops - 1].hi = c->act_max;
            }
        }
        prev = out;
    }
    for (int k = 0; k < 2; k++) {
        f->pad[k] = c->pad[k];
        f->stride[k] = c->stride[k];
        f->dilation[k] = c->dilation[k];
    }
    return 1;
}

int mi__cu_engine_next(const mi__cu_engine_cfg *cfgs, int n, int from, size_t budget, int allow_rtc) {
    for (int i = from < 0 ? 0 : from; i < n; i++)
        if (cfgs[i].usable && cfgs[i].workspace <= budget && (allow_rtc || !cfgs[i].runtime_compiled)) return i;
    return -1;
}

/* ---- workspaces ---------------------------------------------------------------------- */

mi_status mi__cu_ws_make(const mi_node *n, size_t algo, size_t prepad, size_t bias, mi__cu_ws *w) {
    size_t at, end;
    memset(w, 0, sizeof *w);
    w->algo = algo;
    w->prepad = prepad;
    w->bias = bias;
    if (!mi__align_up(algo, MI__CU_WS_ALIGN, &at)) goto overflow;
    w->prepad_off = at;
    if (!mi__add_size(at, prepad, &end) || !mi__align_up(end, MI__CU_WS_ALIGN, &at)) goto overflow;
    w->bias_off = at;
    if (!mi__add_size(at, bias, &end)) goto overflow;
    if (end == 0) return MI_OK;
    if (!mi__add_size(end, MI__CU_WS_ALIGN, &w->request)) goto overflow;
    return MI_OK;
overflow:
    return mi__cu_node_error(n, MI_ERR_OVERFLOW, "workspace of %zu + %zu + %zu bytes overflows", algo,
                             prepad, bias);
}

mi_status mi__cu_conv_ws(const mi_node *n, const mi__cu_conv *c, const mi__cu_conv_choice *choice, size_t legacy_ws,
                         size_t graph_ws, mi__cu_ws *w) {
    size_t es = mi_dtype_size(c->dtype), prepad = 0, bias = 0;
    if (c->prepad && !mi__mul_size((size_t)c->prepad_k.count, es, &prepad))
        return mi__cu_node_error(n, MI_ERR_OVERFLOW, "the pre-padded input overflows");
    if (choice->path == MI__CU_CONV_FUSED && !c->has_bias)
        bias = (size_t)c->out_channels * es; /* cuDNN's fused call needs a bias: zeros */
    return mi__cu_ws_make(n, legacy_ws > graph_ws ? legacy_ws : graph_ws, prepad, bias, w);
}

mi_status mi__cu_ws_base(const mi_node *n, void *ws, size_t size, const mi__cu_ws *w, char **base) {
    *base = NULL;
    if (w->request == 0) return MI_OK;
    if (!ws)
        return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "needs a workspace of %zu bytes, got none",
                                 w->request);
    uintptr_t u = (uintptr_t)ws, a = (u + MI__CU_WS_ALIGN - 1) & ~(uintptr_t)(MI__CU_WS_ALIGN - 1);
    size_t need = (size_t)(a - u) + (w->request - MI__CU_WS_ALIGN);
    if (need > size)
        return mi__cu_node_error(n, MI_ERR_PLAN_INVALID, "workspace of %zu bytes at %p is smaller than "
                                 "the %zu it needs (asked %zu)", size, ws, need, w->request);
    *base = (char *)a;
    return MI_OK;
}

/* ---- pooling --------------------------------------------------------------------------- */

mi_status mi__cu_pool_make(const mi_graph *g, const mi_node *n, const mi__pool_params *p,
                           mi__cu_pool *out) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    const mi_tensor *y = n->noutputs > 0 && n->outputs[0] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[0]) : NULL;
    memset(out, 0, sizeof *out);
    if (!x || !y) return mi__cu_node_error(n, MI_ERR_GRAPH, "needs an input and an output");
    if (!mi__cu_float_type(x->dtype) || y->dtype != x->dtype)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the CUDA backend pools float, float16 and bfloat16 "
                                 "only (input %s, output %s)", mi_dtype_name(x->dtype), mi_dtype_name(y->dtype));
    int nsp = p->nspatial;
    if (nsp < 1 || nsp > 3 || x->ndim != nsp + 2)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "%d spatial dims; 1 to 3 supported", nsp);
    out->dtype = x->dtype;
    mi__k_pool *k = &out->k;
    k->channels_last = mi__cu_node_nhwc(g, n);
    k->channels = x->dims[1];
    k->nsp = nsp;
    k->max = n->op == MI_OP_MAX_POOL;
    k->include_pad = p->count_include_pad;
    k->count = mi_tensor_numel(y);
    int cudnn = 1;
    for (int i = 0; i < nsp; i++) {
        k->in[i] = x->dims[2 + i];
        k->out[i] = y->dims[2 + i];
        k->k[i] = p->kernel[i];
        k->s[i] = p->stride[i];
        k->d[i] = p->dilation[i];
        k->pb[i] = p->pad_begin[i];
        k->pe[i] = p->pad_end[i];
        if (p->dilation[i] != 1 || p->pad_begin[i] != p->pad_end[i] || p->pad_begin[i] >= p->kernel[i] ||
            !fits_int(p->kernel[i]) || !fits_int(p->stride[i]) || !fits_int(p->pad_begin[i]) ||
            mi__window_out(x->dims[2 + i], p->kernel[i], p->stride[i], 1, p->pad_begin[i],
                           p->pad_end[i], 0) != y->dims[2 + i])
            cudnn = 0;
    }
    out->max = k->max;
    out->include_pad = k->include_pad;
    if (!cudnn) return MI_OK;
    int shift = nsp == 1 ? 1 : 0, csp = nsp == 3 ? 3 : 2;
    int64_t xd[5] = {x->dims[0], x->dims[1], 1, 1, 1}, yd[5] = {y->dims[0], y->dims[1], 1, 1, 1};
    for (int j = 0; j < csp; j++) {
        out->window[j] = out->stride[j] = 1;
        out->pad[j] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        xd[2 + i + shift] = x->dims[2 + i];
        yd[2 + i + shift] = y->dims[2 + i];
        out->window[i + shift] = (int)p->kernel[i];
        out->stride[i + shift] = (int)p->stride[i];
        out->pad[i + shift] = (int)p->pad_begin[i];
    }
    if (mi__cu_nd_make(n, "input", csp + 2, xd, &out->x) || mi__cu_nd_make(n, "output", csp + 2, yd, &out->y)) {
        mi_clear_error(); /* too large for cuDNN: our kernel takes int64 */
        return MI_OK;
    }
    mi__cu_nd_set(&out->x, x->dtype, k->channels_last);
    mi__cu_nd_set(&out->y, x->dtype, k->channels_last);
    out->nspatial = csp;
    out->use_cudnn = 1;
    return MI_OK;
}

/* ---- reductions, softmax, batch norm, LRN ---------------------------------------------- */

void mi__cu_reduce_make(int ndim, const int64_t *dims, const int *reduce, mi__k_reduce *r) {
    int64_t st[MI_MAX_DIMS];
    memset(r, 0, sizeof *r);
    packed_strides(ndim, dims, st);
    int last = -1; /* kind of the previous non-size-1 axis: 0 kept, 1 reduced */
    r->nout = r->count = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] == 1) continue;
        int red = reduce[k] != 0;
        int64_t *d = red ? r->rdims : r->kdims, *s = red ? r->rstr : r->kstr;
        int *cnt = red ? &r->nr : &r->nk;
        if (last == red && *cnt > 0) {
            /* The previous entry of this list is the axis just before (size-1
             * axes aside): packed strides make them one axis. */
            d[*cnt - 1] *= dims[k];
            s[*cnt - 1] = st[k];
        } else {
            d[*cnt] = dims[k];
            s[*cnt] = st[k];
            (*cnt)++;
        }
        if (red) r->count *= dims[k];
        else r->nout *= dims[k];
        last = red;
    }
}

void mi__cu_reduce_tensor(const mi_tensor *x, const int *reduce, mi__k_reduce *r) {
    int64_t sd[MI_MAX_DIMS];
    int flags[MI_MAX_DIMS] = {0};
    int nd = mi_tensor_storage_dims(x, sd);
    for (int k = 0; k < nd; k++) flags[mi_tensor_storage_axis(x, k)] = reduce[k];
    mi__cu_reduce_make(nd, sd, flags, r);
}

mi_status mi__cu_softmax_make(const mi_node *n, const mi_tensor *x, int64_t axis, int coerce_2d,
                              mi__cu_softmax *s) {
    memset(s, 0, sizeof *s);
    if (axis < 0 || axis >= x->ndim) return mi__cu_node_error(n, MI_ERR_INTERNAL, "axis %lld", (long long)axis);
    s->outer = product(0, (int)axis, x->dims);
    if (coerce_2d) {
        s->len = product((int)axis, x->ndim, x->dims);
        s->inner = 1;
    } else {
        s->len = x->dims[axis];
        s->inner = product((int)axis + 1, x->ndim, x->dims);
    }
    int64_t d[4] = {s->outer, s->len, s->inner, 1};
    return mi__cu_nd_make(n, "input", 4, d, &s->nd);
}

mi_status mi__cu_chan_make(const mi_node *n, const mi_tensor *x, mi__cu_chan *ch) {
    memset(ch, 0, sizeof *ch);
    if (x->ndim < 2)
        return mi__cu_node_error(n, MI_ERR_SHAPE, "input '%s' has rank %d, expected >= 2", x->name, x->ndim);
    ch->n = x->dims[0];
    ch->c = x->dims[1];
    ch->inner = product(2, x->ndim, x->dims);
    int64_t d[4] = {ch->n, ch->c, ch->inner, 1}, pd[4] = {1, ch->c, 1, 1};
    mi_status st = mi__cu_nd_make(n, "input", 4, d, &ch->x);
    if (!st) st = mi__cu_nd_make(n, "parameters", 4, pd, &ch->param);
    return st;
}

int mi__cu_lrn_cudnn_ok(const mi__lrn_params *p) {
    /* cuDNN's CUDNN_LRN_MIN_N, _MAX_N, _MIN_BETA, _MIN_K */
    return p->size >= 1 && p->size <= 16 && p->beta >= 0.01f && p->bias >= 1e-5f;
}

/* ---- Gemm, MatMul -------------------------------------------------------------------- */

static int ints_ok(int64_t a, int64_t b, int64_t c) {
    return a >= 1 && b >= 1 && c >= 1 && a <= INT_MAX && b <= INT_MAX && c <= INT_MAX;
}

mi_status mi__cu_gemm_make(const mi_graph *g, const mi_node *n, const mi__gemm_params *p,
                           mi__cu_gemm *gm) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1), *c = mi__node_in(g, n, 2);
    const mi_tensor *y = n->noutputs > 0 && n->outputs[0] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[0]) : NULL;
    memset(gm, 0, sizeof *gm);
    if (!a || !b || !y || a->ndim != 2 || b->ndim != 2)
        return mi__cu_node_error(n, MI_ERR_GRAPH, "needs 2-D A and B and an output");
    if (!mi__cu_float_type(a->dtype) || b->dtype != a->dtype || (c && c->dtype != a->dtype) || y->dtype != a->dtype)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the CUDA backend runs Gemm on float, float16 or "
                                 "bfloat16 A, B, C and Y of one dtype");
    gm->dtype = a->dtype;
    gm->call.dtype = a->dtype;
    int64_t m = a->dims[p->trans_a], k = a->dims[!p->trans_a], nn = b->dims[!p->trans_b];
    if (!ints_ok(m, nn, k))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "M %lld, N %lld, K %lld exceed cuBLAS's int range",
                                 (long long)m, (long long)nn, (long long)k);
    mi__cu_blas *cl = &gm->call;
    cl->trans_first = p->trans_b;
    cl->trans_second = p->trans_a;
    cl->m = (int)nn;
    cl->n = (int)m;
    cl->k = (int)k;
    cl->ld_first = (int)(p->trans_b ? k : nn);
    cl->ld_second = (int)(p->trans_a ? m : k);
    cl->ldc = (int)nn;
    cl->batch = 1;
    gm->alpha = p->alpha;
    gm->has_c = c != NULL && p->beta != 0.0f;
    gm->beta = gm->has_c ? p->beta : 0.0f;
    if (gm->has_c) mi__cu_copy_broadcast(c, 2, (const int64_t[]){m, nn}, &gm->c_copy);
    return MI_OK;
}

mi_status mi__cu_matmul_make(const mi_graph *g, const mi_node *n, mi__cu_blas *cl) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    memset(cl, 0, sizeof *cl);
    if (!a || !b || a->ndim < 1 || b->ndim < 1)
        return mi__cu_node_error(n, MI_ERR_GRAPH, "needs two inputs of rank >= 1");
    const mi_tensor *y = n->noutputs > 0 && n->outputs[0] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[0]) : NULL;
    if (!mi__cu_float_type(a->dtype) || b->dtype != a->dtype || !y || y->dtype != a->dtype)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the CUDA backend runs MatMul on float, float16 or "
                                 "bfloat16 inputs and output of one dtype");
    cl->dtype = a->dtype;
    int64_t m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2], k = a->dims[a->ndim - 1];
    int64_t nn = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    int ra = a->ndim > 2 ? a->ndim - 2 : 0, rb = b->ndim > 2 ? b->ndim - 2 : 0;
    if (!ints_ok(m, nn, k))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "M %lld, N %lld, K %lld exceed cuBLAS's int range",
                                 (long long)m, (long long)nn, (long long)k);
    cl->m = (int)nn;
    cl->n = (int)m;
    cl->k = (int)k;
    cl->ld_first = (int)nn;
    cl->ld_second = (int)k;
    cl->ldc = (int)nn;
    cl->mat_first = k * nn;
    cl->mat_second = m * k;
    int64_t na = product(0, ra, a->dims), nb = product(0, rb, b->dims), batch = 1;
    int r = ra > rb ? ra : rb;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - ra), ib = i - (r - rb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        batch *= da == 1 ? db : da;
    }
    /* One B for every batch, A's batches in a row: one GEMM, M times taller. */
    if (b->ndim == 2 && batch > 1) {
        if (!ints_ok(m * batch, nn, k))
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "M %lld exceeds cuBLAS's int range",
                                     (long long)(m * batch));
        cl->n = (int)(m * batch);
        batch = 1;
    }
    cl->batch = batch;
    cl->stride_c = m * nn;
    if (batch == 1) return MI_OK;
    if ((na == batch || na == 1) && (nb == batch || nb == 1)) {
        cl->strided = 1;
        cl->stride_second = na == 1 ? 0 : cl->mat_second;
        cl->stride_first = nb == 1 ? 0 : cl->mat_first;
        return MI_OK;
    }
    mi_k_bcast_init(&cl->bc, ra, a->dims, rb, b->dims);
    return MI_OK;
}

mi_status mi__cu_linear_make(const mi_node *n, const mi__cu_blas *b, mi__cu_linear *l) {
    memset(l, 0, sizeof *l);
    if (n->op != MI_OP_MATMUL || n->ninputs < 3 || n->inputs[2] < 0) return MI_OK;
    if (b->batch != 1)
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "a fused bias needs one GEMM (B 2-D), not %lld",
                                 (long long)b->batch);
    l->rows = b->n;
    l->cols = b->m;
    switch (n->fused.act) {
    case MI_ACT_NONE: l->epi = MI__CU_EPI_BIAS; break;
    case MI_ACT_RELU: l->epi = MI__CU_EPI_RELU_BIAS; break;
    case MI_ACT_GELU_TANH: l->epi = MI__CU_EPI_GELU_BIAS; break;
    case MI_ACT_GELU:
        l->epi = MI__CU_EPI_BIAS;
        l->post_gelu = 1;
        break;
    default:
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "activation %d after a MatMul", (int)n->fused.act);
    }
    l->fallback_act = n->fused.act == MI_ACT_RELU ? MI_ACT_RELU : MI_ACT_NONE;
    l->gelu_op = n->fused.act == MI_ACT_GELU ? MI_K_UN_GELU : n->fused.act == MI_ACT_GELU_TANH ? MI_K_UN_GELU_TANH : -1;
    int64_t numel = l->rows * l->cols;
    const int64_t *dims[1] = {&numel};
    mi_k_nwalk_init(&l->walk, 1, (const int[]){1}, dims, 1, &numel);
    return MI_OK;
}

void mi__cu_blas_batch_offsets(const mi__cu_blas *b, int64_t i, int64_t *first, int64_t *second) {
    if (b->batch <= 1) {
        *first = *second = 0;
    } else if (b->strided) {
        *first = i * b->stride_first;
        *second = i * b->stride_second;
    } else {
        *second = mi_k_bcast_offset(&b->bc, 0, i) * b->mat_second;
        *first = mi_k_bcast_offset(&b->bc, 1, i) * b->mat_first;
    }
}

/* ---- copies ------------------------------------------------------------------------------ */

/* Merges adjacent dims that are contiguous in both source and destination
 * and drops size-1 dims, so the kernel divides less. */
static void copy_simplify(mi__k_copy *c) {
    int w = 0;
    int64_t d[MI_MAX_DIMS], s[MI_MAX_DIMS], t[MI_MAX_DIMS];
    /* innermost first; merge dim k into the run on its right when it
     * continues it on both sides */
    for (int k = c->ndim - 1; k >= 0; k--) {
        if (c->dims[k] == 1) continue;
        if (w > 0 && c->sstr[k] == s[w - 1] * d[w - 1] && c->dstr[k] == t[w - 1] * d[w - 1]) {
            d[w - 1] *= c->dims[k];
            continue;
        }
        d[w] = c->dims[k];
        s[w] = c->sstr[k];
        t[w] = c->dstr[k];
        w++;
    }
    c->ndim = w;
    for (int k = 0; k < w; k++) {
        c->dims[k] = d[w - 1 - k];
        c->sstr[k] = s[w - 1 - k];
        c->dstr[k] = t[w - 1 - k];
    }
}

int mi__cu_copy_is_memcpy(const mi__k_copy *c) {
    return c->ndim == 0 || (c->ndim == 1 && c->sstr[0] == 1 && c->dstr[0] == 1);
}

static void copy_init(mi__k_copy *c, const mi_tensor *iter, mi_dtype dt) {
    memset(c, 0, sizeof *c);
    c->ndim = iter->ndim;
    c->esize = (int)mi_dtype_size(dt);
    c->count = mi_tensor_numel(iter);
    for (int k = 0; k < iter->ndim; k++) c->dims[k] = iter->dims[k];
}

void mi__cu_copy_transpose(const mi_tensor *x, const int *perm, mi__k_copy *c) {
    int64_t xs[MI_MAX_DIMS];
    packed_strides(x->ndim, x->dims, xs);
    copy_init(c, x, x->dtype);
    for (int k = 0; k < x->ndim; k++) {
        c->dims[k] = x->dims[perm[k]];
        c->sstr[k] = xs[perm[k]];
    }
    packed_strides(x->ndim, c->dims, c->dstr);
    copy_simplify(c);
}

void mi__cu_copy_slice(const mi_tensor *x, const mi_tensor *y, const mi__slice_params *p,
                       mi__k_copy *c) {
    int64_t xs[MI_MAX_DIMS];
    packed_strides(x->ndim, x->dims, xs);
    copy_init(c, y, y->dtype);
    for (int k = 0; k < y->ndim; k++) {
        c->sstr[k] = xs[k] * p->step[k];
        c->src_off += p->start[k] * xs[k];
    }
    packed_strides(y->ndim, y->dims, c->dstr);
    copy_simplify(c);
}

void mi__cu_copy_concat(const mi_tensor *y, int axis, int64_t at, const mi_tensor *x, mi__k_copy *c) {
    int64_t ys[MI_MAX_DIMS];
    packed_strides(y->ndim, y->dims, ys);
    copy_init(c, x, x->dtype);
    packed_strides(x->ndim, x->dims, c->sstr);
    memcpy(c->dstr, ys, sizeof ys);
    c->dst_off = at * ys[axis];
    copy_simplify(c);
}

void mi__cu_copy_split(const mi_tensor *x, int axis, int64_t at, const mi_tensor *y, mi__k_copy *c) {
    int64_t xs[MI_MAX_DIMS];
    packed_strides(x->ndim, x->dims, xs);
    copy_init(c, y, y->dtype);
    memcpy(c->sstr, xs, sizeof xs);
    c->src_off = at * xs[axis];
    packed_strides(y->ndim, y->dims, c->dstr);
    copy_simplify(c);
}

void mi__cu_copy_broadcast(const mi_tensor *src, int ndim, const int64_t *dims, mi__k_copy *c) {
    int64_t ss[MI_MAX_DIMS];
    packed_strides(src->ndim, src->dims, ss);
    memset(c, 0, sizeof *c);
    c->ndim = ndim;
    c->esize = (int)mi_dtype_size(src->dtype);
    c->count = product(0, ndim, dims);
    for (int k = 0; k < ndim; k++) {
        int i = k - (ndim - src->ndim);
        c->dims[k] = dims[k];
        c->sstr[k] = i >= 0 && src->dims[i] != 1 ? ss[i] : 0;
    }
    packed_strides(ndim, dims, c->dstr);
    copy_simplify(c);
}

/* t with its dims in storage order, as a packed NCHW tensor (`as`: the
 * layout to read a layout-neutral t in). */
static mi_tensor storage_view(const mi_tensor *t, mi_layout as) {
    mi_tensor v = *t;
    int64_t sd[MI_MAX_DIMS];
    if (mi_tensor_layout_neutral(t)) v.layout = as;
    mi_tensor_storage_dims(&v, sd);
    memcpy(v.dims, sd, sizeof sd);
    v.layout = MI_LAYOUT_NCHW;
    return v;
}

int mi__cu_copy_tile(const mi_tensor *x, const mi_tensor *y, mi__k_copy *c) {
    int64_t xs[MI_MAX_DIMS];
    if (x->ndim * 2 > MI_MAX_DIMS) return 0;
    packed_strides(x->ndim, x->dims, xs);
    memset(c, 0, sizeof *c);
    c->ndim = x->ndim * 2;
    c->esize = (int)mi_dtype_size(x->dtype);
    c->count = mi_tensor_numel(y);
    for (int k = 0; k < x->ndim; k++) {
        c->dims[2 * k] = x->dims[k] ? y->dims[k] / x->dims[k] : 0; /* the repeats */
        c->dims[2 * k + 1] = x->dims[k];
        c->sstr[2 * k] = 0;
        c->sstr[2 * k + 1] = xs[k];
    }
    packed_strides(c->ndim, c->dims, c->dstr);
    copy_simplify(c);
    return 1;
}

void mi__cu_math_make(const mi_graph *g, const mi_node *n, mi_k_nwalk *w, int *xt, int *yt) {
    const mi_tensor *y = mi_graph_tensor(g, (size_t)n->outputs[0]);
    int ranks[3] = {0, 0, 0};
    const int64_t *dims[3] = {NULL, NULL, NULL};
    int nops = n->ninputs < 3 ? n->ninputs : 3;
    for (int k = 0; k < nops; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        ranks[k] = t->ndim;
        dims[k] = t->dims;
        xt[k] = (int)t->dtype;
    }
    *yt = (int)y->dtype;
    mi_k_nwalk_init(w, nops, ranks, dims, y->ndim, y->dims);
}

void mi__cu_copy_relayout(const mi_tensor *x, const mi_tensor *y, mi__k_copy *c) {
    int perm[MI_MAX_DIMS];
    mi__relayout_perm(x, y, perm);
    mi_tensor xv = storage_view(x, x->layout);
    mi__cu_copy_transpose(&xv, perm, c);
}

void mi__cu_copy_part(const mi_tensor *whole, int axis, int64_t at, const mi_tensor *part, int split,
                      mi__k_copy *c) {
    mi_tensor wv = storage_view(whole, whole->layout), pv = storage_view(part, whole->layout);
    int sa = mi_tensor_storage_axis(whole, axis);
    if (split) mi__cu_copy_split(&wv, sa, at, &pv, c);
    else mi__cu_copy_concat(&wv, sa, at, &pv, c);
}

/* An operand's dims padded to rank nd, in the storage order of layout `as`. */
static void operand_dims(const mi_tensor *t, int nd, mi_layout as, int64_t *out) {
    mi_tensor v = *t;
    v.ndim = nd;
    for (int k = 0; k < nd; k++) v.dims[k] = k < nd - t->ndim ? 1 : t->dims[k - (nd - t->ndim)];
    v.layout = as;
    mi_tensor_storage_dims(&v, out);
}

void mi__cu_bcast_make(const mi_tensor *a, const mi_tensor *b, const mi_tensor *y, mi_k_bcast *bc) {
    if (y->layout != MI_LAYOUT_NHWC || y->ndim != 4) {
        mi_k_bcast_init(bc, a->ndim, a->dims, b->ndim, b->dims);
        return;
    }
    int64_t ad[4], bd[4];
    operand_dims(a, 4, MI_LAYOUT_NHWC, ad);
    operand_dims(b, 4, MI_LAYOUT_NHWC, bd);
    mi_k_bcast_init(bc, 4, ad, 4, bd);
}

void mi__cu_pad_make(const mi_tensor *x, const mi_tensor *y, const mi__pad_params *p, mi__k_pad *pad) {
    memset(pad, 0, sizeof *pad);
    pad->ndim = x->ndim;
    pad->mode = (int)p->mode;
    pad->esize = (int)mi_dtype_size(x->dtype);
    pad->count = mi_tensor_numel(y);
    for (int k = 0; k < x->ndim; k++) {
        pad->odims[k] = y->dims[k];
        pad->idims[k] = x->dims[k];
        pad->begin[k] = p->begin[k];
    }
    unsigned char bytes[8] = {0};
    mi_k_store_f((int)x->dtype, bytes, p->value);
    memcpy(&pad->value, bytes, sizeof bytes);
}

void mi__cu_gather_make(const mi_tensor *x, const mi_tensor *idx, int64_t axis, mi__k_gather *gt) {
    memset(gt, 0, sizeof *gt);
    gt->outer = product(0, (int)axis, x->dims);
    gt->axis_dim = x->dims[axis];
    gt->inner = product((int)axis + 1, x->ndim, x->dims);
    gt->nidx = mi_tensor_numel(idx);
    gt->count = gt->outer * gt->nidx * gt->inner;
    gt->esize = (int)mi_dtype_size(x->dtype);
    gt->idx64 = idx->dtype == MI_DTYPE_INT64;
}

/* ---- device pools and pointer checks ----------------------------------------------------- */

mi_status mi__cu_regions_add(mi__cu_regions *r, const void *base, size_t size, const char *what) {
    mi_status st = mi__grow((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v);
    if (st) return st;
    mi__cu_region *e = &r->v[r->n++];
    e->base = (uintptr_t)base;
    e->size = size;
    snprintf(e->what, sizeof e->what, "%s", what ? what : "device memory");
    return MI_OK;
}

int mi__cu_regions_remove(mi__cu_regions *r, const void *base, size_t *size) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].base != (uintptr_t)base) continue;
        if (size) *size = r->v[i].size;
        r->v[i] = r->v[--r->n];
        return 1;
    }
    return 0;
}

void mi__cu_regions_free(mi__cu_regions *r) {
    mi__free(r->v);
    memset(r, 0, sizeof *r);
}

const mi__cu_region *mi__cu_regions_find(const mi__cu_regions *r, const void *p) {
    uintptr_t u = (uintptr_t)p;
    for (size_t i = 0; i < r->n; i++)
        if (u >= r->v[i].base && u - r->v[i].base < r->v[i].size) return &r->v[i];
    return NULL;
}

static mi_status check_one(const mi__cu_regions *r, const mi_node *n, const mi_tensor *t, const void *p) {
    size_t es = mi_dtype_size(t->dtype);
    if (es > 1 && (uintptr_t)p % es)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "tensor '%s' at %p is not aligned to its %zu-byte "
                                 "elements; plan with an alignment of at least 16 for the CUDA backend",
                                 t->name, p, es);
    const mi__cu_region *g = mi__cu_regions_find(r, p);
    if (g && (uintptr_t)p - g->base + t->nbytes > g->size)
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "tensor '%s' [%p, +%zu) runs past the end of the %s "
                                 "(%zu bytes at %p)", t->name, p, t->nbytes, g->what, g->size,
                                 (void *)g->base);
    return MI_OK;
}

mi_status mi__cu_check_args(const mi__cu_regions *r, const mi_node_args *a) {
    const mi_graph *g = a->graph;
    const mi_node *n = a->node;
    mi_status st;
    for (int k = 0; k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (t && a->in[k] && (st = check_one(r, n, t, a->in[k]))) return st;
    }
    for (int o = 0; o < n->noutputs; o++)
        if (n->outputs[o] >= 0 && a->out[o] && (st = check_one(r, n, mi_graph_tensor(g, (size_t)n->outputs[o]), a->out[o])))
            return st;
    if ((st = mi__node_check_overlap(g, n, a->in, a->out))) return st;
    if (n->fused.residual < 0 || !a->residual) return MI_OK;
    const mi_tensor *z = mi_graph_tensor(g, (size_t)n->fused.residual);
    uintptr_t z0 = (uintptr_t)a->residual, z1 = z0 + z->nbytes;
    if ((st = check_one(r, n, z, a->residual))) return st;
    for (int o = 0; o < n->noutputs; o++) {
        if (n->outputs[o] < 0 || !a->out[o]) continue;
        const mi_tensor *y = mi_graph_tensor(g, (size_t)n->outputs[o]);
        uintptr_t y0 = (uintptr_t)a->out[o], y1 = y0 + y->nbytes;
        if (z0 < y1 && y0 < z1 && !(o == 0 && z0 == y0 && z->nbytes == y->nbytes))
            return mi__cu_node_error(n, MI_ERR_PLAN_INVALID, "output '%s' partly overlaps the residual '%s'",
                                     y->name, z->name);
    }
    return MI_OK;
}

/* ---- the device footprint ------------------------------------------------------------------ */

#define MI__CU_STACK_GRAIN ((size_t)16)

mi_status mi__cu_stack_choose(const char *request, size_t ours, size_t *bytes, int *set) {
    size_t need = ours < MI__CU_STACK_GRAIN ? MI__CU_STACK_GRAIN : ours;
    need = (need + MI__CU_STACK_GRAIN - 1) & ~(MI__CU_STACK_GRAIN - 1);
    *set = 1;
    *bytes = need;
    if (!request || !request[0]) return MI_OK;
    if (strcmp(request, "keep") == 0) {
        *set = 0;
        *bytes = 0;
        return MI_OK;
    }
    char *end = NULL;
    unsigned long long v = strtoull(request, &end, 10);
    if (!end || *end || request[0] == '-' || v == 0 || v > (1ull << 30))
        return mi__error(MI_ERR_INVALID_ARG, "MI_CUDA_STACK='%s': expected keep or a byte count from 1 to 1 GiB",
                         request);
    if (v < ours)
        return mi__error(MI_ERR_INVALID_ARG, "MI_CUDA_STACK=%llu: our kernels need %zu bytes of stack per thread",
                         v, ours);
    *bytes = (size_t)v;
    return MI_OK;
}

size_t mi__cu_stack_reservation(int sms, int threads_per_sm, size_t per_thread) {
    size_t threads, total;
    if (sms <= 0 || threads_per_sm <= 0) return 0;
    if (!mi__mul_size((size_t)sms, (size_t)threads_per_sm, &threads) || !mi__mul_size(threads, per_thread, &total))
        return SIZE_MAX;
    return total;
}

const char *mi__cu_loading_warning(int mode, const char *env) {
    if (mode == 2) return NULL;
    if (mode == 1)
        return env && strcmp(env, "EAGER") == 0
                   ? "CUDA_MODULE_LOADING=EAGER: every kernel of cuDNN and cuBLAS is loaded at start, hundreds of MiB "
                     "of device memory; unset it (lazy loading is the default since CUDA 12.2)"
                   : "the driver loads modules eagerly: every kernel of cuDNN and cuBLAS is loaded at start, hundreds "
                     "of MiB of device memory; a driver of CUDA 12.2 or later loads them lazily";
    return "the module loading mode is unknown (this driver cannot say): with eager loading cuDNN and cuBLAS take "
           "hundreds of MiB more";
}

unsigned mi__cu_op_libs(mi_op op, int cudnn_path) {
    switch (op) {
    case MI_OP_CONV: return MI__CU_LIB_DNN;
    case MI_OP_GEMM: case MI_OP_MATMUL: return MI__CU_LIB_BLAS;
    case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: case MI_OP_SOFTMAX: case MI_OP_BATCH_NORM: case MI_OP_LRN:
        return cudnn_path ? MI__CU_LIB_DNN : 0;
    default: return 0;
    }
}

size_t mi__cu_context_share(size_t process, size_t pools, size_t stack, size_t graphs) {
    size_t parts = pools;
    if (!mi__add_size(parts, stack, &parts) || !mi__add_size(parts, graphs, &parts) || parts >= process) return 0;
    return process - parts;
}

size_t mi__cu_capture_order(size_t nnodes, const unsigned char *elided, size_t *order) {
    size_t w = 0;
    for (size_t k = 0; k < nnodes; k++)
        if (!elided || !elided[k]) order[w++] = k;
    return w;
}
