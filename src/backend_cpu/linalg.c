/* Gemm and MatMul on the GEMM core.
 *
 * Gemm: out = alpha * op(A) op(B) + beta * C, C broadcast to [M, N]. C is
 * written into out first and the product accumulated onto it, so no
 * scratch is needed beyond the pack buffers. A fused epilogue (act and a
 * residual, should the fusion pass ever fold one into a Gemm) follows the
 * conv's rules.
 *
 * MatMul: numpy semantics (a 1-D A is a row, a 1-D B a column, batch dims
 * broadcast). When B is one matrix shared by every batch and A's batches
 * are contiguous, the batches fold into M and one GEMM runs. */
#include "cpu_internal.h"

#include <string.h>

/* ---- Gemm ------------------------------------------------------------------------ */

typedef struct gemm_dims {
    int64_t m, n, k;
} gemm_dims;

static gemm_dims gemm_shape(const mi_graph *g, const mi_node *n, const mi__gemm_params *p) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    gemm_dims d = {a->dims[p->trans_a], b->dims[!p->trans_b], a->dims[!p->trans_a]};
    return d;
}

/* ---- MatMul ------------------------------------------------------------------------ */

typedef struct matmul_dims {
    int64_t m, n, k;
    int ra, rb;
    int64_t ad[MI_MAX_DIMS + 1], bd[MI_MAX_DIMS + 1];
    mi_k_bcast bc; /* over the batch dims, in matrices */
    int64_t batches;
    int fold; /* batches fold into M */
} matmul_dims;

static void matmul_shape(const mi_graph *g, const mi_node *n, matmul_dims *d) {
    const mi_tensor *a = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1);
    const mi_tensor *y = &g->tensors[n->outputs[0]];
    memset(d, 0, sizeof *d);
    if (a->ndim == 1) {
        d->ad[0] = 1;
        d->ad[1] = a->dims[0];
        d->ra = 2;
    } else {
        memcpy(d->ad, a->dims, sizeof(int64_t) * (size_t)a->ndim);
        d->ra = a->ndim;
    }
    if (b->ndim == 1) {
        d->bd[0] = b->dims[0];
        d->bd[1] = 1;
        d->rb = 2;
    } else {
        memcpy(d->bd, b->dims, sizeof(int64_t) * (size_t)b->ndim);
        d->rb = b->ndim;
    }
    d->m = d->ad[d->ra - 2];
    d->k = d->ad[d->ra - 1];
    d->n = d->bd[d->rb - 1];
    mi_k_bcast_init(&d->bc, d->ra - 2, d->ad, d->rb - 2, d->bd);
    int64_t mn = d->m * d->n;
    d->batches = mn ? mi_tensor_numel(y) / mn : 0;
    /* One shared B and A's batches laid out in order: one tall GEMM. */
    int b_shared = 1, a_dense = 1;
    for (int i = 0; i < d->bc.ndim; i++) b_shared = b_shared && (d->bc.stride[1][i] == 0 || d->bc.dims[i] == 1);
    int64_t expect = 1;
    for (int i = d->bc.ndim - 1; i >= 0; i--) {
        if (d->bc.dims[i] == 1) continue;
        a_dense = a_dense && d->bc.stride[0][i] == expect;
        expect *= d->bc.dims[i];
    }
    d->fold = d->batches > 1 && b_shared && a_dense;
}

mi_status mi__cpu_linalg_workspace(const mi__cpu *cpu, const mi_graph *g, const mi_node *n,
                                   const mi__op_params *p, size_t *ws) {
    if (n->op == MI_OP_GEMM) {
        gemm_dims d = gemm_shape(g, n, &p->u.gemm);
        *ws = mi__sgemm_workspace(cpu, d.m, d.n, d.k);
        return MI_OK;
    }
    matmul_dims d;
    matmul_shape(g, n, &d);
    size_t one = mi__sgemm_workspace(cpu, d.m, d.n, d.k);
    size_t tall = d.fold ? mi__sgemm_workspace(cpu, d.m * d.batches, d.n, d.k) : 0;
    *ws = one > tall ? one : tall;
    return MI_OK;
}

static int overlaps(const void *a, size_t na, const void *b, size_t nb) {
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return na && nb && x < y + nb && y < x + na;
}

mi_status mi__cpu_gemm_op(mi__cpu_call *c) {
    const mi__gemm_params *p = &c->p.u.gemm;
    gemm_dims d = gemm_shape(c->g, c->n, p);
    const mi_tensor *at = mi__cpu_in_t(c, 0), *bt = mi__cpu_in_t(c, 1), *ct = mi__cpu_in_t(c, 2);
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    const float *a = c->in[0], *b = c->in[1];
    const float *cm = ct && c->in[2] ? (const float *)c->in[2] : NULL;
    const float *res = c->n->fused.residual >= 0 ? (const float *)c->residual : NULL;
    float *y = c->out[0];
    if (overlaps(y, yt->nbytes, a, at->nbytes) || overlaps(y, yt->nbytes, b, bt->nbytes) ||
        (cm && overlaps(y, yt->nbytes, cm, ct->nbytes)))
        return mi__cpu_err(c, MI_ERR_PLAN_INVALID, "the output '%s' overlaps an input; Gemm cannot "
                           "run in place", yt->name);
    mi__gemm_epi e;
    mi__gemm_epi_init(&e);
    e.alpha = p->alpha;
    e.act = c->n->fused.act;
    e.act_min = c->n->fused.act_min;
    e.act_max = c->n->fused.act_max;
    if (res) {
        if (res != y) memmove(y, res, yt->nbytes);
        e.accumulate = 1;
    }
    if (cm && p->beta != 0.0f) {
        /* C broadcast as [M, N]: strides 0 on its size-1 (or missing) dims. */
        int64_t cs_m = 0, cs_n = 0;
        if (ct->ndim == 2) {
            cs_m = ct->dims[0] == 1 ? 0 : ct->dims[1];
            cs_n = ct->dims[1] == 1 ? 0 : 1;
        } else if (ct->ndim == 1) {
            cs_n = ct->dims[0] == 1 ? 0 : 1;
        }
        for (int64_t i = 0; i < d.m; i++) {
            float *row = y + i * d.n;
            const float *crow = cm + i * cs_m;
            if (e.accumulate)
                for (int64_t j = 0; j < d.n; j++) row[j] += p->beta * crow[j * cs_n];
            else
                for (int64_t j = 0; j < d.n; j++) row[j] = p->beta * crow[j * cs_n];
        }
        e.accumulate = 1;
    }
    int64_t lda = at->dims[1], ldb = bt->dims[1];
    if (mi__sgemm(c->cpu, p->trans_a, p->trans_b, d.m, d.n, d.k, a, lda, b, ldb, y, d.n, &e, c->ws,
                  c->ws_size))
        return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, prepare() asked for %zu",
                           c->ws_size, mi__sgemm_workspace(c->cpu, d.m, d.n, d.k));
    return MI_OK;
}

mi_status mi__cpu_matmul(mi__cpu_call *c) {
    matmul_dims d;
    matmul_shape(c->g, c->n, &d);
    const mi_tensor *at = mi__cpu_in_t(c, 0), *bt = mi__cpu_in_t(c, 1), *yt = mi__cpu_out_t(c, 0);
    const float *a = c->in[0], *b = c->in[1];
    float *y = c->out[0];
    if (overlaps(y, yt->nbytes, a, at->nbytes) || overlaps(y, yt->nbytes, b, bt->nbytes))
        return mi__cpu_err(c, MI_ERR_PLAN_INVALID, "the output '%s' overlaps an input; MatMul cannot "
                           "run in place", yt->name);
    mi__gemm_epi e;
    mi__gemm_epi_init(&e);
    if (d.fold) {
        if (mi__sgemm(c->cpu, 0, 0, d.m * d.batches, d.n, d.k, a, d.k, b, d.n, y, d.n, &e, c->ws,
                      c->ws_size))
            return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, too small",
                               c->ws_size);
        return MI_OK;
    }
    for (int64_t t = 0; t < d.batches; t++) {
        int64_t ao = mi_k_bcast_offset(&d.bc, 0, t), bo = mi_k_bcast_offset(&d.bc, 1, t);
        if (mi__sgemm(c->cpu, 0, 0, d.m, d.n, d.k, a + ao * d.m * d.k, d.k, b + bo * d.k * d.n, d.n,
                      y + t * d.m * d.n, d.n, &e, c->ws, c->ws_size))
            return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, too small",
                               c->ws_size);
    }
    return MI_OK;
}
