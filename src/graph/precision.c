/* Half precision (mi_load_options.precision fp16 or bf16): every float
 * tensor of the graph becomes float16 or bfloat16, so every activation is
 * planned at 2 bytes and every weight held at 2 bytes; kernels compute in
 * fp32 and round what they store.
 *
 * The graph's own inputs and outputs keep the dtype the model declares:
 * a Cast at each edge (x -> Cast -> x', y' -> Cast -> y), whose tensors are
 * planned like any other. A Cast of the model's own to float now casts to
 * the half type. Weights are converted once, here, after constant folding
 * (which computed in fp32); a weight fp16 cannot hold (|w| > 65504) is
 * refused, naming it, since it would become infinity; bfloat16 holds
 * float's range. */
#include "graph/graph_private.h"
#include "kernels/cast.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Converts every float constant to the half type t, into blocks of the graph. */
static mi_status convert_constants(mi_graph *g, mi_dtype t) {
    for (size_t i = 0; i < g->ntensors; i++) {
        mi_tensor *x = &g->tensors[i];
        const float *v = g->ti[i].cval;
        if (x->dtype != MI_DTYPE_FLOAT || !v || g->ti[i].declared_output) continue;
        int64_t n = mi__numel(x->ndim, x->dims);
        uint16_t *h = mi__graph_block(g, (size_t)n * 2);
        if (!h) return MI_ERR_NO_MEMORY;
        for (int64_t k = 0; k < n; k++) {
            if (t == MI_DTYPE_FLOAT16 && isfinite(v[k]) && fabsf(v[k]) > 65504.0f)
                return mi__error(MI_ERR_UNSUPPORTED,
                                 "weight '%s': element %lld is %g, beyond float16's largest (65504); load "
                                 "it in bf16 (--precision bf16), which keeps float's range", x->name,
                                 (long long)k, (double)v[k]);
            h[k] = t == MI_DTYPE_FLOAT16 ? mi_k_f32_to_f16(v[k]) : mi_k_f32_to_bf16(v[k]);
        }
        g->ti[i].cval = h;
        if (x->data) x->data = h;
        x->dtype = t;
    }
    return MI_OK;
}

/* Every float tensor a node computes becomes the half type, but the
 * graph's declared outputs (their Casts come next). */
static void convert_activations(mi_graph *g, mi_dtype t) {
    for (size_t i = 0; i < g->ntensors; i++) {
        mi_tensor *x = &g->tensors[i];
        if (x->dtype == MI_DTYPE_FLOAT && !g->ti[i].cval && x->role != MI_ROLE_INPUT && !g->ti[i].declared_output)
            x->dtype = t;
    }
}

/* Replaces every read of tensor `from` by `to`, in every node but `skip`. */
static void reroute_reads(mi_graph *g, int from, int to, size_t skip) {
    for (size_t i = 0; i < g->nnodes; i++) {
        if (i == skip) continue;
        mi_node *n = &g->nodes[i];
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] == from) n->inputs[k] = to;
        if (n->fused.residual == from) n->fused.residual = to;
    }
}

/* A Cast node from tensor `in` to tensor `out` (named; made when new) of
 * dtype `to` and in's dims. The node goes at the end (order() puts it in
 * place); its index in *node. */
static mi_status add_cast(mi_graph *g, int in, const char *out, mi_dtype to, size_t *node) {
    char node_name[600];
    snprintf(node_name, sizeof node_name, "%s/Cast", out);
    const char *ins[1] = {g->tensors[in].name}, *outs[1] = {out};
    mi_attr a = {.name = (char *)"to", .type = MI_ATTR_INT, .i = to, .tensor = -1};
    int ndim = g->tensors[in].ndim;
    int64_t dims[MI_MAX_DIMS];
    memcpy(dims, g->tensors[in].dims, sizeof dims);
    mi_status st = mi__graph_add_node_op(g, MI_OP_CAST, node_name, 1, ins, 1, outs, 1, &a);
    if (st != MI_OK) return st;
    *node = g->nnodes - 1;
    mi_tensor *y = &g->tensors[g->nodes[*node].outputs[0]];
    y->dtype = to;
    y->ndim = ndim;
    memcpy(y->dims, dims, sizeof dims);
    return MI_OK;
}

static const char *half_suffix(mi_dtype t) { return t == MI_DTYPE_FLOAT16 ? ":fp16" : ":bf16"; }

/* A float graph input x becomes x -> Cast -> x' read by every node. */
static mi_status cast_input(mi_graph *g, int x, mi_dtype t, size_t *node) {
    char name[512];
    mi__graph_unique_name(g, g->tensors[x].name, half_suffix(t), name, sizeof name);
    mi_status st = add_cast(g, x, name, t, node);
    if (st == MI_OK) reroute_reads(g, x, g->nodes[*node].outputs[0], *node);
    return st;
}

/* A float graph output y computed by node p becomes p -> y' -> Cast -> y:
 * y keeps its name, dtype and place; nodes that read y read y'. */
static mi_status cast_output(mi_graph *g, int y, mi_dtype t, size_t *node) {
    char name[512];
    mi__graph_unique_name(g, g->tensors[y].name, half_suffix(t), name, sizeof name);
    int yh;
    mi_status st = mi__graph_ref(g, name, &yh);
    if (st != MI_OK) return st;
    mi_tensor *h = &g->tensors[yh], *yt = &g->tensors[y];
    h->dtype = t;
    h->ndim = yt->ndim;
    memcpy(h->dims, yt->dims, sizeof h->dims);
    g->ti[yh].def = MI__DEF_NODE;
    mi_node *p = &g->nodes[yt->producer];
    for (int k = 0; k < p->noutputs; k++)
        if (p->outputs[k] == y) p->outputs[k] = yh;
    h->producer = yt->producer;
    reroute_reads(g, y, yh, SIZE_MAX);
    g->ti[y].def = MI__DEF_NONE; /* the Cast defines it now */
    return add_cast(g, yh, yt->name, MI_DTYPE_FLOAT, node);
}

/* The input Casts first, each output Cast right after the node that
 * computes its input: nodes[0, n0) are the graph's own, nodes[n0, nnodes)
 * the Casts; at[i] is the node a Cast goes after (-1: first). */
static mi_status order(mi_graph *g, size_t n0, const int *after) {
    size_t nn = g->nnodes, w = 0;
    mi_node *sorted = mi__malloc((nn ? nn : 1) * sizeof *sorted);
    if (!sorted) return mi__error(MI_ERR_NO_MEMORY, "ordering %zu nodes", nn);
    for (size_t c = n0; c < nn; c++)
        if (after[c - n0] < 0) sorted[w++] = g->nodes[c];
    for (size_t i = 0; i < n0; i++) {
        sorted[w++] = g->nodes[i];
        for (size_t c = n0; c < nn; c++)
            if (after[c - n0] == (int)i) sorted[w++] = g->nodes[c];
    }
    memcpy(g->nodes, sorted, nn * sizeof *sorted);
    mi__free(sorted);
    mi__graph_set_producers(g);
    return MI_OK;
}

/* A Cast of the model's own: to whatever its output became. */
static void retarget_casts(mi_graph *g, size_t n0) {
    for (size_t i = 0; i < n0; i++) {
        mi_node *n = &g->nodes[i];
        if (n->op != MI_OP_CAST) continue;
        for (int a = 0; a < n->nattrs; a++)
            if (strcmp(n->attrs[a].name, "to") == 0 && n->attrs[a].type == MI_ATTR_INT)
                n->attrs[a].i = g->tensors[n->outputs[0]].dtype;
    }
}

mi_status mi__convert_precision(mi_graph *g, mi_precision precision) {
    if (precision == MI_PRECISION_FP32) return MI_OK;
    if ((int)precision < 0 || precision >= MI_PRECISION_COUNT)
        return mi__error(MI_ERR_INVALID_ARG, "precision %d: expected fp32, fp16 or bf16", (int)precision);
    mi_dtype t = precision == MI_PRECISION_FP16 ? MI_DTYPE_FLOAT16 : MI_DTYPE_BFLOAT16;
    /* Earlier passes dropped nodes: producers by index, afresh. */
    mi__graph_set_producers(g);
    mi_status st = convert_constants(g, t);
    if (st != MI_OK) return st;
    convert_activations(g, t);
    size_t n0 = g->nnodes, ncasts = 0;
    int *after = mi__malloc((g->ninputs + g->noutputs + 1) * sizeof *after);
    if (!after) return mi__error(MI_ERR_NO_MEMORY, "casts at the edges of the graph");
    for (size_t i = 0; i < g->ninputs && st == MI_OK; i++) {
        int x = g->inputs[i];
        size_t node;
        if (g->tensors[x].dtype != MI_DTYPE_FLOAT) continue;
        if ((st = cast_input(g, x, t, &node)) == MI_OK) after[ncasts++] = -1;
    }
    for (size_t i = 0; i < g->noutputs && st == MI_OK; i++) {
        int y = g->outputs[i], p = g->tensors[y].producer;
        size_t node;
        if (g->tensors[y].dtype != MI_DTYPE_FLOAT || p < 0 || (size_t)p >= n0) continue;
        if ((st = cast_output(g, y, t, &node)) == MI_OK) after[ncasts++] = p;
    }
    if (st == MI_OK) {
        retarget_casts(g, n0);
        st = order(g, n0, after);
    }
    mi__free(after);
    return st;
}
