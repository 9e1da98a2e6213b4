/* BatchNormalization folded into the Conv before it, in fp32: for each
 * output channel m, with s = scale[m] / sqrt(var[m] + epsilon),
 *
 *     W'[m] = W[m] * s        B'[m] = (B[m] - mean[m]) * s + bias[m]
 *
 * (B 0 where the Conv has none). It runs before a model is converted to
 * half precision, so that the folded weights are rounded once and the
 * normalisation statistics never are. The Conv must be the BN's input's
 * only producer and the BN its only reader, and every weight constant;
 * new weights are made (W may be shared with another Conv), and the
 * tensors left unread go in the compaction after. */
#include "graph/graph_private.h"

#include <math.h>
#include <string.h>

/* The float constant of tensor t, or NULL. */
static const float *float_value(const mi_graph *g, int t) {
    if (t < 0 || g->tensors[t].dtype != MI_DTYPE_FLOAT) return NULL;
    return mi__tensor_value(g, t);
}

/* A new float weight named after like, of these dims; *values to fill. */
static mi_status new_weight(mi_graph *g, const mi_tensor *like, const char *suffix, int ndim, const int64_t *dims,
                            float **values, int *index) {
    char name[512];
    mi__graph_unique_name(g, like->name, suffix, name, sizeof name);
    int64_t n = mi__numel(ndim, dims);
    float *v = mi__graph_block(g, (size_t)n * sizeof(float));
    if (!v) return MI_ERR_NO_MEMORY;
    mi_status st = mi__graph_add_tensor_ref(g, name, MI_DTYPE_FLOAT, ndim, dims, MI_ROLE_WEIGHT, v, index);
    if (st != MI_OK) return st;
    *values = v;
    return MI_OK;
}

/* Folds BN node `bn` into Conv node `conv`; *folded stays 0 when a
 * weight is not a float constant (nothing changed). */
static mi_status fold_one(mi_graph *g, size_t conv, size_t bn, int *folded) {
    *folded = 0;
    const mi_node *c = &g->nodes[conv], *b = &g->nodes[bn];
    int w = c->inputs[1], bias = c->ninputs > 2 ? c->inputs[2] : -1;
    const float *wv = float_value(g, w), *bv = bias >= 0 ? float_value(g, bias) : NULL;
    const float *scale = float_value(g, b->inputs[1]), *shift = float_value(g, b->inputs[2]);
    const float *mean = float_value(g, b->inputs[3]), *var = float_value(g, b->inputs[4]);
    if (!wv || (bias >= 0 && !bv) || !scale || !shift || !mean || !var || b->noutputs != 1) return MI_OK;
    const mi_tensor *wt = &g->tensors[w];
    int64_t m = wt->dims[0], per = m ? mi__numel(wt->ndim, wt->dims) / m : 0;
    double eps = mi_node_attr_float(b, "epsilon", 1e-5f);
    float *nw, *nb;
    int iw, ib;
    int64_t wdims[MI_MAX_DIMS];
    memcpy(wdims, wt->dims, sizeof wdims);
    mi_status st = new_weight(g, wt, "/bn_folded", wt->ndim, wdims, &nw, &iw);
    if (st == MI_OK) st = new_weight(g, &g->tensors[b->inputs[2]], "/bn_folded", 1, &m, &nb, &ib);
    if (st != MI_OK) return st;
    for (int64_t o = 0; o < m; o++) {
        double s = (double)scale[o] / sqrt((double)var[o] + eps);
        for (int64_t i = 0; i < per; i++) nw[o * per + i] = (float)((double)wv[o * per + i] * s);
        nb[o] = (float)(((bv ? (double)bv[o] : 0.0) - (double)mean[o]) * s + (double)shift[o]);
    }
    mi_node *cm = &g->nodes[conv];
    if (cm->ninputs < 3) {
        int *in = mi__realloc(cm->inputs, 3 * sizeof(int));
        if (!in) return mi__error(MI_ERR_NO_MEMORY, MI__NODE_FMT ": folding a BatchNormalization", MI__NODE_ARG(cm));
        cm->inputs = in;
        cm->ninputs = 3;
    }
    cm->inputs[1] = iw;
    cm->inputs[2] = ib;
    cm->outputs[0] = b->outputs[0];
    g->tensors[cm->outputs[0]].producer = (int)conv;
    *folded = 1;
    return MI_OK;
}

mi_status mi__fold_batch_norm(mi_graph *g) {
    size_t nn = g->nnodes;
    mi__rewrite rw;
    mi_status st = mi__rewrite_begin(g, &rw, "folding BatchNormalization");
    if (st != MI_OK) return st;
    for (size_t i = 0; i < nn && st == MI_OK; i++) {
        const mi_node *c = &g->nodes[i];
        if (c->op != MI_OP_CONV || c->noutputs != 1 || c->ninputs < 2) continue;
        int j = mi__sole_reader(g, &rw.uses, c->outputs[0]);
        if (j < 0 || g->nodes[j].op != MI_OP_BATCH_NORM || g->nodes[j].ninputs != 5 ||
            g->nodes[j].inputs[0] != c->outputs[0])
            continue;
        int folded;
        if ((st = fold_one(g, i, (size_t)j, &folded)) == MI_OK && folded) rw.dead[j] = 1;
    }
    mi__rewrite_end(g, &rw, st == MI_OK);
    return st;
}
