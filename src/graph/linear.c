/* A linear layer as exporters spell it, MatMul(X, W) -> Add(bias)
 * [-> Relu | Gelu], into one MatMul node with the bias as a third input
 * and the activation in its mi_fusion:
 *
 *   Y = act(X W + bias)    W 2-D [K, N], bias a constant of N elements
 *                           ([N] or [1, ..., 1, N]), X of any rank >= 2
 *
 * ONNX's MatMul has two inputs; the third exists only after this pass
 * (graph.h). Backends run it as one GEMM with a bias epilogue: cuBLASLt's
 * BIAS, RELU_BIAS and GELU_BIAS on CUDA, the GEMM and one pass over Y on
 * the CPU. The Add's output tensor and the activation's go unplanned.
 * Runs after the GELU fusion, so the Gelu it absorbs is already one node. */
#include "graph/graph_private.h"
#include "graph/op_params.h"

#include <string.h>

/* Whether tensor t is a float constant of n elements, all on its last axis. */
static int bias_of(const mi_graph *g, int t, int64_t n, mi_dtype dt) {
    if (t < 0 || !mi__tensor_value(g, t)) return 0;
    const mi_tensor *b = &g->tensors[t];
    if (b->dtype != dt || b->ndim < 1 || b->dims[b->ndim - 1] != n) return 0;
    for (int k = 0; k + 1 < b->ndim; k++)
        if (b->dims[k] != 1) return 0;
    return 1;
}

/* The activation node j closing the layer: Relu or Gelu, into f. */
static int activation(const mi_graph *g, int j, mi_fusion *f) {
    const mi_node *m = &g->nodes[j];
    if (m->ninputs != 1 || m->noutputs != 1) return 0;
    if (m->op == MI_OP_RELU) {
        f->act = MI_ACT_RELU;
        return 1;
    }
    if (m->op != MI_OP_GELU) return 0;
    mi__op_params p;
    if (mi__op_params_get(g, m, &p) != MI_OK) {
        mi_clear_error();
        return 0;
    }
    f->act = p.u.math.variant ? MI_ACT_GELU_TANH : MI_ACT_GELU;
    return 1;
}

/* The bias Add reading MatMul output t as its only reader: its index and
 * the bias tensor, or -1. */
static int bias_add(const mi_graph *g, const mi__rewrite *rw, int t, int64_t n, int *bias) {
    int j = mi__sole_reader(g, &rw->uses, t);
    if (j < 0 || rw->dead[j]) return -1;
    const mi_node *a = &g->nodes[j];
    if (a->op != MI_OP_ADD || a->ninputs != 2 || a->noutputs != 1) return -1;
    int r = a->inputs[0] == t ? a->inputs[1] : a->inputs[0];
    if (r == t || !bias_of(g, r, n, g->tensors[t].dtype)) return -1;
    /* Add broadcasts: the bias must not widen the product's shape. */
    const mi_tensor *y = &g->tensors[t], *o = &g->tensors[a->outputs[0]];
    if (o->ndim != y->ndim || g->tensors[r].ndim > y->ndim) return -1;
    *bias = r;
    return j;
}

mi_status mi__fuse_linear(mi_graph *g) {
    size_t nn = g->nnodes;
    mi__rewrite rw;
    mi_status st = mi__rewrite_begin(g, &rw, "fusing linear layers");
    if (st != MI_OK) return st;
    for (size_t i = 0; i < nn; i++) {
        mi_node *n = &g->nodes[i];
        if (n->op != MI_OP_MATMUL || n->ninputs != 2 || n->noutputs != 1 || rw.dead[i]) continue;
        int x = n->inputs[0], w = n->inputs[1], t = n->outputs[0];
        if (x < 0 || w < 0 || t < 0) continue;
        const mi_tensor *xt = &g->tensors[x], *wt = &g->tensors[w];
        if (xt->ndim < 2 || wt->ndim != 2 || !mi__dtype_is_float(xt->dtype)) continue;
        int bias = -1;
        int j = bias_add(g, &rw, t, wt->dims[1], &bias);
        if (j < 0) continue;
        mi_fusion f = {MI_ACT_NONE, 0.0f, 0.0f, -1};
        int last = j, k = mi__sole_reader(g, &rw.uses, g->nodes[j].outputs[0]);
        if (k >= 0 && !rw.dead[k] && activation(g, k, &f)) last = k;
        else k = -1;
        int *in = mi__realloc(n->inputs, 3 * sizeof *in);
        if (!in) {
            st = mi__error(MI_ERR_NO_MEMORY, "fusing the linear layer at node '%s'", n->name);
            break;
        }
        in[2] = bias;
        n->inputs = in;
        n->ninputs = 3;
        n->fused = f;
        n->outputs[0] = g->nodes[last].outputs[0];
        g->tensors[n->outputs[0]].producer = (int)i;
        rw.dead[j] = 1;
        if (k >= 0) rw.dead[k] = 1;
    }
    mi__rewrite_end(g, &rw, st == MI_OK);
    return st;
}
