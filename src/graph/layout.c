/* Channels-last layout (mi_load_options.channels_last = 1): the tensors
 * that flow between convolutions are stored NHWC, so that cuDNN runs its
 * tensor-core kernels without transposing around every convolution.
 *
 * Dims stay as ONNX defines them ([N, C, H, W]); each tensor records how
 * its bytes lie (mi_tensor.layout), and a Relayout node converts where a
 * reader wants the other layout. The pass walks the nodes in order and
 * decides, per node, the layout it runs in:
 *   - a 2-D Conv runs NHWC (its weight is permuted to [K, R, S, C/g] once,
 *     here, into a new weight);
 *   - the ops that run either way (pools, the activations, Cast, Add / Sub
 *     / Mul / Div, Concat) follow their inputs: NHWC when one of them is;
 *   - every other op (Flatten, Reshape, Gemm, Softmax, ...) reads NCHW;
 *   - a node that computes a graph output runs NCHW: inputs and outputs
 *     of the graph keep the layout the model declares.
 * A tensor whose bytes lie the same way in both layouts (C == 1, or
 * H == W == 1, as after a global pool) is never converted. Each tensor is
 * converted at most once per direction, however many nodes read it. The
 * Relayout nodes go at the end; the pipeline sorts again after this pass. */
#include "graph/graph_private.h"

#include <stdio.h>
#include <string.h>

typedef struct layout_pass {
    mi_graph *g;
    size_t nt0;       /* tensors before the pass: the keys of conv */
    int *conv;        /* [t * 2 + layout]: t converted to that layout, or -1 */
} layout_pass;

static int rank4(const mi_tensor *t) { return t && t->ndim == 4; }

/* A rank < 4 operand of a broadcast, as its dims pad to rank 4. */
static int padded_neutral(const mi_tensor *t) {
    if (t->ndim >= 4) return mi_tensor_layout_neutral(t);
    int64_t d[4] = {1, 1, 1, 1};
    for (int k = 0; k < t->ndim; k++) d[4 - t->ndim + k] = t->dims[k];
    return d[1] == 1 || (d[2] == 1 && d[3] == 1);
}

static const mi_tensor *out0(const mi_graph *g, const mi_node *n) {
    return n->noutputs > 0 && n->outputs[0] >= 0 ? &g->tensors[n->outputs[0]] : NULL;
}

/* Whether node n can run NHWC at all (its kernels exist in both layouts). */
static int nhwc_capable(const mi_graph *g, const mi_node *n) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out0(g, n);
    if (!x || !rank4(y)) return 0;
    switch (n->op) {
    case MI_OP_CONV: {
        const mi_tensor *w = mi__node_in(g, n, 1);
        return rank4(x) && rank4(w) && mi__dtype_is_float(x->dtype);
    }
    case MI_OP_MAX_POOL:
        if (n->noutputs > 1 && n->outputs[1] >= 0) return 0; /* the indices are NCHW offsets */
        return rank4(x);
    case MI_OP_AVERAGE_POOL: case MI_OP_GLOBAL_AVERAGE_POOL:
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID: case MI_OP_HARD_SWISH:
    case MI_OP_CAST:
        return rank4(x);
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV:
        for (int k = 0; k < n->ninputs; k++) {
            const mi_tensor *t = mi__node_in(g, n, k);
            if (!t || (!rank4(t) && !padded_neutral(t))) return 0;
        }
        return 1;
    case MI_OP_CONCAT:
        for (int k = 0; k < n->ninputs; k++)
            if (!rank4(mi__node_in(g, n, k))) return 0;
        return 1;
    default: return 0;
    }
}

/* Whether input k of an NHWC node is stored NHWC (Conv's bias, Clip's
 * bounds and the like are not). */
static int follows(const mi_node *n, int k) {
    switch (n->op) {
    case MI_OP_CONV: return k <= 1;
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: case MI_OP_CONCAT: return 1;
    default: return k == 0;
    }
}

static int writes_graph_output(const mi_graph *g, const mi_node *n) {
    for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k] >= 0 && g->ti[n->outputs[k]].declared_output) return 1;
    return 0;
}

static int is_nhwc(const mi_tensor *t) { return t && t->layout == MI_LAYOUT_NHWC && !mi_tensor_layout_neutral(t); }

static mi_layout node_layout(const mi_graph *g, const mi_node *n) {
    if (!nhwc_capable(g, n) || writes_graph_output(g, n)) return MI_LAYOUT_NCHW;
    if (n->op == MI_OP_CONV) return MI_LAYOUT_NHWC;
    for (int k = 0; k < n->ninputs; k++)
        if (follows(n, k) && is_nhwc(mi__node_in(g, n, k))) return MI_LAYOUT_NHWC;
    if (n->fused.residual >= 0 && is_nhwc(&g->tensors[n->fused.residual])) return MI_LAYOUT_NHWC;
    return MI_LAYOUT_NCHW;
}

/* A weight's bytes permuted from [K, C, R, S] to [K, R, S, C] (or back),
 * as a new weight of the graph. */
static mi_status permute_weight(layout_pass *lp, int t, mi_layout to, int *out) {
    mi_graph *g = lp->g;
    const mi_tensor *w = &g->tensors[t];
    const unsigned char *src = g->ti[t].cval;
    size_t es = mi_dtype_size(w->dtype);
    int64_t K = w->dims[0], C = w->dims[1], R = w->dims[2], S = w->dims[3];
    size_t nbytes = (size_t)mi__numel(4, w->dims) * es; /* sizes are settled later: not w->nbytes */
    unsigned char *dst = mi__graph_block(g, nbytes ? nbytes : 1);
    if (!dst) return mi__error(MI_ERR_NO_MEMORY, "weight '%s' in %s", w->name, mi_layout_name(to));
    /* Written in order; 2- and 4-byte elements (every float type) copied
     * as integers: ResNet-50's 25M weights take a few tens of ms. */
    int64_t i = 0;
    for (int64_t k = 0; k < K; k++)
        for (int64_t a = 0; a < (to == MI_LAYOUT_NHWC ? R * S : C); a++)
            for (int64_t b = 0; b < (to == MI_LAYOUT_NHWC ? C : R * S); b++, i++) {
                /* NHWC: a is the position (r, s), b the channel; NCHW: the reverse. */
                int64_t from = to == MI_LAYOUT_NHWC ? (k * C + b) * R * S + a : (k * R * S + b) * C + a;
                if (es == 2) ((uint16_t *)dst)[i] = ((const uint16_t *)src)[from];
                else if (es == 4) ((uint32_t *)dst)[i] = ((const uint32_t *)src)[from];
                else memcpy(dst + (size_t)i * es, src + (size_t)from * es, es);
            }
    char name[512];
    mi__graph_unique_name(g, w->name, to == MI_LAYOUT_NHWC ? ":nhwc" : ":nchw", name, sizeof name);
    int64_t dims[4] = {K, C, R, S};
    mi_status st = mi__graph_add_tensor_ref(g, name, w->dtype, 4, dims, MI_ROLE_WEIGHT, dst, out);
    if (st != MI_OK) return st;
    g->tensors[*out].layout = to;
    return MI_OK;
}

/* An activation converted by a Relayout node appended to the graph. */
static mi_status add_relayout(layout_pass *lp, int t, mi_layout to, int *out) {
    mi_graph *g = lp->g;
    char name[512], node_name[600];
    mi__graph_unique_name(g, g->tensors[t].name, to == MI_LAYOUT_NHWC ? ":nhwc" : ":nchw", name, sizeof name);
    snprintf(node_name, sizeof node_name, "%s/Relayout", name);
    const char *ins[1] = {g->tensors[t].name}, *outs[1] = {name};
    mi_status st = mi__graph_add_node_op(g, MI_OP_RELAYOUT, node_name, 1, ins, 1, outs, 0, NULL);
    if (st != MI_OK) return st;
    const mi_tensor *x = &g->tensors[t];
    *out = g->nodes[g->nnodes - 1].outputs[0];
    mi_tensor *y = &g->tensors[*out];
    y->dtype = x->dtype;
    y->ndim = x->ndim;
    memcpy(y->dims, x->dims, sizeof y->dims);
    y->layout = to;
    return MI_OK;
}

/* Tensor t in layout `to`: itself when it already is (or is neutral),
 * else its one conversion, made on first use. */
static mi_status in_layout(layout_pass *lp, int t, mi_layout to, int *out) {
    mi_graph *g = lp->g;
    const mi_tensor *x = &g->tensors[t];
    *out = t;
    if (x->layout == to || mi_tensor_layout_neutral(x) || (size_t)t >= lp->nt0) return MI_OK;
    int *c = &lp->conv[(size_t)t * 2 + (size_t)to];
    if (*c < 0) {
        mi_status st = g->ti[t].cval ? permute_weight(lp, t, to, c) : add_relayout(lp, t, to, c);
        if (st != MI_OK) return st;
    }
    *out = *c;
    return MI_OK;
}

static mi_status place_node(layout_pass *lp, size_t i) {
    mi_graph *g = lp->g;
    mi_layout mode = node_layout(g, &g->nodes[i]);
    mi_status st;
    int ninputs = g->nodes[i].ninputs;
    for (int k = 0; k < ninputs; k++) {
        int t = g->nodes[i].inputs[k], u;
        if (t < 0 || !rank4(&g->tensors[t])) continue;
        mi_layout want = mode == MI_LAYOUT_NHWC && follows(&g->nodes[i], k) ? MI_LAYOUT_NHWC : MI_LAYOUT_NCHW;
        if ((st = in_layout(lp, t, want, &u)) != MI_OK) return st;
        g->nodes[i].inputs[k] = u; /* g->nodes may have moved: index again */
    }
    int r = g->nodes[i].fused.residual, u;
    if (r >= 0 && rank4(&g->tensors[r])) {
        if ((st = in_layout(lp, r, mode, &u)) != MI_OK) return st;
        g->nodes[i].fused.residual = u;
    }
    const mi_node *n = &g->nodes[i];
    for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k] >= 0 && rank4(&g->tensors[n->outputs[k]])) g->tensors[n->outputs[k]].layout = mode;
    return MI_OK;
}

mi_status mi__convert_layout(mi_graph *g, int channels_last) {
    if (channels_last <= 0) return MI_OK;
    layout_pass lp = {g, g->ntensors, NULL};
    size_t n0 = g->nnodes;
    mi_status st = MI_OK;
    lp.conv = mi__malloc((lp.nt0 ? lp.nt0 : 1) * 2 * sizeof(int));
    if (!lp.conv) return mi__error(MI_ERR_NO_MEMORY, "the layout pass over %zu tensors", lp.nt0);
    for (size_t t = 0; t < lp.nt0 * 2; t++) lp.conv[t] = -1;
    for (size_t i = 0; i < n0 && st == MI_OK; i++) st = place_node(&lp, i);
    mi__free(lp.conv);
    return st;
}
