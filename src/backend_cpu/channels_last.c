/* Nodes the layout pass put in NHWC, on the NCHW kernels: every NHWC
 * input (and a fused residual) is transposed into an NCHW copy in the
 * node's workspace, the kernel runs on the copies (through the half
 * wrapper where the node is also half), and each NHWC output is
 * transposed from its NCHW copy into place. Tensors whose bytes lie the
 * same way in both layouts are used as they are.
 *
 * The workspace: the pointer arrays the kernel gets (inputs, outputs),
 * then one copy per converted tensor, each rounded to 64 bytes, then the
 * kernel's own workspace. prepare() and run() walk the tensors in the
 * same order (inputs, residual, outputs), so they agree on the offsets.
 * Every input is copied before any output is written: an output may share
 * memory with an input. */
#include "cpu_internal.h"

#include <string.h>

static const mi_tensor *out_tensor(const mi_graph *g, const mi_node *n, int k) {
    return k < n->noutputs && n->outputs[k] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[k]) : NULL;
}

static const mi_tensor *residual_tensor(const mi_graph *g, const mi_node *n) {
    return n->fused.residual >= 0 ? mi_graph_tensor(g, (size_t)n->fused.residual) : NULL;
}

static int converted(const mi_tensor *t) {
    return t && t->layout == MI_LAYOUT_NHWC && !mi_tensor_layout_neutral(t);
}

/* Elementwise on one tensor: the same in any layout, as long as the input
 * and output lie alike. */
static int layout_blind(const mi_graph *g, const mi_node *n) {
    switch (n->op) {
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID: case MI_OP_HARD_SWISH:
    case MI_OP_CAST: {
        const mi_tensor *x = mi__node_in(g, n, 0), *y = out_tensor(g, n, 0);
        return x && y && mi__same_storage(x, y);
    }
    default: return 0;
    }
}

int mi__cpu_nhwc_wrapped(const mi_graph *g, const mi_node *n) {
    if (n->op == MI_OP_RELAYOUT || layout_blind(g, n)) return 0;
    for (int k = 0; k < n->ninputs; k++)
        if (converted(mi__node_in(g, n, k))) return 1;
    for (int k = 0; k < n->noutputs; k++)
        if (converted(out_tensor(g, n, k))) return 1;
    return converted(residual_tensor(g, n));
}

/* Adds t's copy at *at (when t is converted); its offset in *off. */
static mi_status take(const mi_node *n, const mi_tensor *t, size_t *at, size_t *off) {
    size_t bytes;
    *off = SIZE_MAX;
    if (!converted(t)) return MI_OK;
    if (!mi__add_size(t->nbytes, MI__CPU_WS_ALIGN - 1, &bytes))
        return mi__cpu_node_err(n, MI_ERR_OVERFLOW, "the NCHW copy of '%s' overflows size_t", t->name);
    bytes &= ~(MI__CPU_WS_ALIGN - 1);
    *off = *at;
    if (!mi__add_size(*at, bytes, at))
        return mi__cpu_node_err(n, MI_ERR_OVERFLOW, "the NCHW copies overflow size_t");
    return MI_OK;
}

/* Bytes from the aligned base to the first copy: the kernel's pointer arrays. */
static size_t arrays_bytes(const mi_node *n) {
    size_t b = (size_t)(n->ninputs + n->noutputs) * sizeof(void *);
    return (b + MI__CPU_WS_ALIGN - 1) & ~(MI__CPU_WS_ALIGN - 1);
}

/* The end of the copies, from the aligned base: inputs, then the
 * residual, then outputs, as run() takes them. */
static mi_status copies_end(const mi_graph *g, const mi_node *n, size_t *end) {
    size_t at = arrays_bytes(n), off;
    mi_status st;
    for (int k = 0; k < n->ninputs; k++)
        if ((st = take(n, mi__node_in(g, n, k), &at, &off)) != MI_OK) return st;
    if ((st = take(n, residual_tensor(g, n), &at, &off)) != MI_OK) return st;
    for (int k = 0; k < n->noutputs; k++)
        if ((st = take(n, out_tensor(g, n, k), &at, &off)) != MI_OK) return st;
    *end = at;
    return MI_OK;
}

mi_status mi__cpu_nhwc_workspace(const mi_graph *g, const mi_node *n, size_t inner_ws, size_t *ws) {
    size_t end;
    mi_status st = copies_end(g, n, &end);
    if (st != MI_OK) return st;
    if (!mi__add_size(end, MI__CPU_WS_ALIGN, ws) || !mi__add_size(*ws, inner_ws, ws))
        return mi__cpu_node_err(n, MI_ERR_OVERFLOW, "the workspace overflows size_t");
    return MI_OK;
}

/* t as the kernel sees it: the same dims, stored NCHW. */
static mi_tensor nchw_view(const mi_tensor *t) {
    mi_tensor v = *t;
    v.layout = MI_LAYOUT_NCHW;
    return v;
}

mi_status mi__cpu_nhwc_run(mi__cpu_call *c, mi_status (*inner)(mi__cpu_call *c)) {
    const mi_graph *g = c->g;
    const mi_node *n = c->n;
    size_t end;
    mi_status st;
    if ((st = copies_end(g, n, &end)) != MI_OK) return st;
    if (!c->ws || c->ws_size < end + MI__CPU_WS_ALIGN)
        return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes; the NCHW copies of the NHWC "
                           "tensors need %zu", c->ws ? c->ws_size : 0, end + MI__CPU_WS_ALIGN);
    char *base = mi__cpu_ws_align(c->ws);
    void **in = (void **)base, **out = in + n->ninputs;
    size_t at = arrays_bytes(n), o;
    for (int k = 0; k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        in[k] = c->in[k];
        if ((st = take(n, t, &at, &o)) != MI_OK) return st;
        if (o == SIZE_MAX || !c->in[k]) continue;
        mi_tensor v = nchw_view(t);
        in[k] = base + o;
        mi__cpu_relayout_bytes(in[k], &v, c->in[k], t);
    }
    void *residual = c->residual;
    const mi_tensor *rt = residual_tensor(g, n);
    if ((st = take(n, rt, &at, &o)) != MI_OK) return st;
    if (o != SIZE_MAX && c->residual) {
        mi_tensor v = nchw_view(rt);
        residual = base + o;
        mi__cpu_relayout_bytes(residual, &v, c->residual, rt);
    }
    size_t out_at = at;
    for (int k = 0; k < n->noutputs; k++) {
        out[k] = c->out[k];
        if ((st = take(n, out_tensor(g, n, k), &at, &o)) != MI_OK) return st;
        if (o != SIZE_MAX && c->out[k]) out[k] = base + o;
    }
    mi__cpu_call nc = *c;
    nc.in = in;
    nc.out = out;
    nc.residual = residual;
    nc.ws = base + end;
    nc.ws_size = c->ws_size - (size_t)(base + end - (char *)c->ws);
    if ((st = inner(&nc)) != MI_OK) return st;
    at = out_at;
    for (int k = 0; k < n->noutputs; k++) {
        const mi_tensor *t = out_tensor(g, n, k);
        if ((st = take(n, t, &at, &o)) != MI_OK) return st;
        if (o == SIZE_MAX || !c->out[k]) continue;
        mi_tensor v = nchw_view(t);
        mi__cpu_relayout_bytes(c->out[k], t, base + o, &v);
    }
    return MI_OK;
}
