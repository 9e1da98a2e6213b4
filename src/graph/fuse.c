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
    size_t nn = g->nnodes;
    mi__rewrite rw;
    mi_status st = mi__rewrite_begin(g, &rw, "fusion");
    if (st != MI_OK) return st;
    const mi__uses *u = &rw.uses;
    unsigned char *dead = rw.dead;
    for (size_t i = 0; i < nn; i++) {
        mi_node *n = &g->nodes[i];
        if (n->op != MI_OP_CONV || n->noutputs != 1) continue;
        int t = n->outputs[0], j = mi__sole_reader(g, u, t);
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
            k = mi__sole_reader(g, u, m->outputs[0]);
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
    mi__rewrite_end(g, &rw, 1);
    return MI_OK;
}
