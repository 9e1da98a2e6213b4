/* The fusion rewrite: Conv -> Relu, Conv -> Clip, Conv -> Add [-> Relu|Clip]
 * become one Conv node with mi_fusion filled in, writing the tensor the
 * last fused node wrote. The intermediate tensors lose every reference and
 * the compaction after this pass drops them, so nothing plans them.
 *
 * The residual is not added to the Conv's inputs (a Conv keeps X, W, B);
 * it is only in fused.residual, which liveness analysis reads as a use. */
#include "graph/graph_private.h"
#include "graph/op_params.h"

#include <string.h>

/* The single consumer of tensor t, or -1 (several, none, or an output). */
static int sole_consumer(const mi_graph *g, const int *ncons, const int *cons, int t) {
    if (ncons[t] != 1 || g->ti[t].declared_output) return -1;
    return cons[t];
}

static int same_shape(const mi_tensor *a, const mi_tensor *b) {
    if (a->ndim != b->ndim || a->dtype != b->dtype) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

/* An activation node j that can close the chain: Relu, or a float Clip. */
static int activation(const mi_graph *g, int j, mi_fusion *f) {
    const mi_node *m = &g->nodes[j];
    if (m->op == MI_OP_RELU) {
        f->act = MI_ACT_RELU;
        return 1;
    }
    if (m->op == MI_OP_CLIP) {
        mi__op_params p;
        if (mi__op_params_get(g, m, &p) != MI_OK) {
            mi_clear_error();
            return 0;
        }
        f->act = MI_ACT_CLIP;
        f->act_min = p.u.clip.min;
        f->act_max = p.u.clip.max;
        return 1;
    }
    return 0;
}

mi_status mi__fuse(mi_graph *g) {
    mi_status st = MI_OK;
    size_t nt = g->ntensors, nn = g->nnodes;
    int *ncons = mi__calloc(nt ? nt : 1, sizeof(int));
    int *cons = mi__calloc(nt ? nt : 1, sizeof(int));
    unsigned char *dead = mi__calloc(nn ? nn : 1, 1);
    if (!ncons || !cons || !dead) {
        st = mi__error(MI_ERR_NO_MEMORY, "fusing %zu nodes", nn);
        goto done;
    }
    for (size_t i = 0; i < nt; i++) g->tensors[i].producer = -1;
    for (size_t i = 0; i < nn; i++) {
        const mi_node *n = &g->nodes[i];
        for (int k = 0; k < n->noutputs; k++) g->tensors[n->outputs[k]].producer = (int)i;
        for (int k = 0; k < n->ninputs; k++)
            if (n->inputs[k] >= 0) {
                ncons[n->inputs[k]]++;
                cons[n->inputs[k]] = (int)i;
            }
    }
    for (size_t i = 0; i < nn; i++) {
        mi_node *n = &g->nodes[i];
        if (n->op != MI_OP_CONV || n->noutputs != 1) continue;
        int t = n->outputs[0], j = sole_consumer(g, ncons, cons, t);
        if (j < 0 || dead[j]) continue;
        const mi_node *m = &g->nodes[j];
        mi_fusion f = {MI_ACT_NONE, 0.0f, 0.0f, -1};
        int last = j, k = -1;
        if (m->op == MI_OP_ADD && m->ninputs == 2) {
            int r = m->inputs[0] == t ? m->inputs[1] : m->inputs[0];
            /* The residual must exist when the Conv runs, and be added as
             * is (no broadcasting). */
            if (r < 0 || r == t || g->tensors[r].producer >= (int)i ||
                !same_shape(&g->tensors[r], &g->tensors[t]))
                continue;
            f.residual = r;
            k = sole_consumer(g, ncons, cons, m->outputs[0]);
            if (k >= 0 && activation(g, k, &f)) last = k;
            else k = -1;
        } else if (!activation(g, j, &f)) {
            continue;
        }
        n->fused = f;
        n->outputs[0] = g->nodes[last].outputs[0];
        g->tensors[n->outputs[0]].producer = (int)i;
        dead[j] = 1;
        if (k >= 0) dead[k] = 1;
    }
    size_t w = 0;
    for (size_t i = 0; i < nn; i++) {
        if (!dead[i]) {
            g->nodes[w++] = g->nodes[i];
            continue;
        }
        mi_node *n = &g->nodes[i];
        mi__free(n->name);
        mi__free(n->inputs);
        mi__free(n->outputs);
        for (int a = 0; a < n->nattrs; a++) {
            mi__free(n->attrs[a].name);
            mi__free(n->attrs[a].s);
            mi__free(n->attrs[a].ints);
            mi__free(n->attrs[a].floats);
        }
        mi__free(n->attrs);
    }
    g->nnodes = w;
done:
    mi__free(ncons);
    mi__free(cons);
    mi__free(dead);
    return st;
}
