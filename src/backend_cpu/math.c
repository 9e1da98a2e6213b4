/* The ops transformers brought: the element math of kernels/math.h (Erf,
 * Sqrt, Reciprocal, Neg, Tanh, Exp, Log, Not, Pow, Min, Max, Mod, Equal,
 * Less, Greater, And, Where) over broadcast operands of any stored dtype;
 * LayerNormalization; ReduceSum and ReduceMax; and the shape-made tensors
 * when they were not folded at load (Expand, Tile, Trilu, Range,
 * ConstantOfShape).
 *
 * Floats compute in fp32 whatever they store (float16 and bfloat16 read
 * and written through the shared conversions), so these need no widened
 * copies and no workspace. Every output element is computed from the
 * inputs at its own (broadcast) index and written once: the element ops
 * run in place where the plan puts them there. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

#define MI__MATH_GRAIN ((int64_t)1 << 14)

/* ---- element math --------------------------------------------------------------------- */

typedef struct math_job {
    int op;
    mi_k_nwalk w;
    const void *x[3];
    int xt[3];
    void *y;
    int yt;
    int64_t n;
} math_job;

static void math_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const math_job *j = arg;
    int64_t i0 = task * MI__MATH_GRAIN, cnt = j->n - i0 < MI__MATH_GRAIN ? j->n - i0 : MI__MATH_GRAIN;
    mi_k_nary(j->op, &j->w, j->x, j->xt, j->y, j->yt, i0, cnt);
}

/* Min, Max of any number of inputs: the first two, then each next one
 * into the output (which has the broadcast shape of them all). */
static mi_status variadic(mi__cpu_call *c, const mi_tensor *yt) {
    int op = mi__op_math(c->n->op, 0);
    const mi_tensor *t0 = mi__cpu_in_t(c, 0);
    if (c->n->ninputs == 1) {
        if (c->out[0] != c->in[0]) memmove(c->out[0], c->in[0], yt->nbytes);
        return MI_OK;
    }
    for (int k = 1; k < c->n->ninputs; k++) {
        const mi_tensor *a = k == 1 ? t0 : yt, *b = mi__cpu_in_t(c, k);
        if (!c->in[k]) return mi__cpu_err(c, MI_ERR_INVALID_ARG, "input %d has no memory", k);
        math_job j;
        memset(&j, 0, sizeof j);
        int ranks[2] = {a->ndim, b->ndim};
        const int64_t *dims[2] = {a->dims, b->dims};
        j.op = op;
        j.x[0] = k == 1 ? c->in[0] : c->out[0];
        j.x[1] = c->in[k];
        j.xt[0] = j.xt[1] = j.yt = (int)yt->dtype;
        j.y = c->out[0];
        j.n = mi_tensor_numel(yt);
        mi_k_nwalk_init(&j.w, 2, ranks, dims, yt->ndim, yt->dims);
        /* Reading the output as operand 0 while writing it: each element is
         * read before it is written, at the same index. */
        mi__cpu_parallel(c->cpu, (j.n + MI__MATH_GRAIN - 1) / MI__MATH_GRAIN, j.n * 8, math_task, &j);
    }
    return MI_OK;
}

mi_status mi__cpu_math(mi__cpu_call *c) {
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    math_job j;
    int ranks[3];
    const int64_t *dims[3];
    memset(&j, 0, sizeof j);
    int nops = c->n->ninputs < 3 ? c->n->ninputs : 3;
    for (int k = 0; k < nops; k++) {
        const mi_tensor *t = mi__cpu_in_t(c, k);
        if (!t || !c->in[k]) return mi__cpu_err(c, MI_ERR_INVALID_ARG, "input %d has no memory", k);
        j.x[k] = c->in[k];
        j.xt[k] = (int)t->dtype;
        ranks[k] = t->ndim;
        dims[k] = t->dims;
    }
    if (c->n->op == MI_OP_MIN || c->n->op == MI_OP_MAX) return variadic(c, yt);
    j.op = mi__op_math(c->n->op, c->p.u.math.variant);
    if (!j.op) return mi__cpu_err(c, MI_ERR_INTERNAL, "not an element op");
    j.y = c->out[0];
    j.yt = (int)yt->dtype;
    j.n = mi_tensor_numel(yt);
    mi_k_nwalk_init(&j.w, nops, ranks, dims, yt->ndim, yt->dims);
    mi__cpu_parallel(c->cpu, (j.n + MI__MATH_GRAIN - 1) / MI__MATH_GRAIN, j.n * 8, math_task, &j);
    return MI_OK;
}

/* ---- LayerNormalization ---------------------------------------------------------------- */

typedef struct ln_job {
    int dt;
    const void *x, *scale, *bias;
    void *y;
    float *mean_out, *inv_out; /* Mean, InvStdDev outputs (float), or NULL */
    int64_t rows, inner;
    float eps;
} ln_job;

/* One row: mean and variance in fp32 (two passes, as the reference's
 * formula), then (x - mean) / sqrt(var + eps) * scale + bias. */
static void ln_task(void *arg, int64_t row, int thread) {
    (void)thread;
    const ln_job *j = arg;
    int64_t base = row * j->inner;
    float mean = 0.0f, var = 0.0f;
    for (int64_t i = 0; i < j->inner; i++) mean += mi_k_ldf(j->dt, j->x, base + i);
    mean /= (float)j->inner;
    for (int64_t i = 0; i < j->inner; i++) {
        float d = mi_k_ldf(j->dt, j->x, base + i) - mean;
        var += d * d;
    }
    var /= (float)j->inner;
    float inv = 1.0f / sqrtf(var + j->eps);
    if (j->mean_out) j->mean_out[row] = mean;
    if (j->inv_out) j->inv_out[row] = inv;
    for (int64_t i = 0; i < j->inner; i++) {
        float v = (mi_k_ldf(j->dt, j->x, base + i) - mean) * inv * mi_k_ldf(j->dt, j->scale, i);
        if (j->bias) v += mi_k_ldf(j->dt, j->bias, i);
        mi_k_stf(j->dt, j->y, base + i, v);
    }
}

mi_status mi__cpu_layer_norm(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    ln_job j = {(int)xt->dtype, c->in[0], c->in[1], c->n->ninputs > 2 ? c->in[2] : NULL, c->out[0],
                c->n->noutputs > 1 ? c->out[1] : NULL, c->n->noutputs > 2 ? c->out[2] : NULL, 1, 1,
                c->p.u.layer_norm.epsilon};
    for (int k = 0; k < xt->ndim; k++) {
        if (k < c->p.u.layer_norm.axis) j.rows *= xt->dims[k];
        else j.inner *= xt->dims[k];
    }
    if (!mi__dtype_is_float(xt->dtype)) return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(xt->dtype));
    mi__cpu_parallel(c->cpu, j.rows, j.rows * j.inner * 4, ln_task, &j);
    return MI_OK;
}

/* ---- ReduceSum, ReduceMax --------------------------------------------------------------- */

typedef struct red_job {
    int max, dt;
    const void *x;
    void *y;
    int nk, nr;
    int64_t kd[MI_MAX_DIMS], ks[MI_MAX_DIMS], rd[MI_MAX_DIMS], rs[MI_MAX_DIMS];
    int64_t count;
} red_job;

static void red_task(void *arg, int64_t o, int thread) {
    (void)thread;
    const red_job *j = arg;
    int64_t base = j->nk ? mi_k_strided_offset(j->nk, j->kd, j->ks, o) : 0;
    int fl = mi_k_dt_is_real(j->dt);
    double acc = j->max ? -INFINITY : 0.0;
    int64_t iacc = j->max ? INT64_MIN : 0;
    for (int64_t i = 0; i < j->count; i++) {
        int64_t off = base + (j->nr ? mi_k_strided_offset(j->nr, j->rd, j->rs, i) : 0);
        if (fl) {
            double v = j->dt == MI_K_DT_DOUBLE ? mi_k_ld_d(j->dt, j->x, off) : (double)mi_k_ldf(j->dt, j->x, off);
            if (j->max) acc = (v > acc || v != v) ? v : acc;
            else acc += v;
        } else {
            int64_t v = mi_k_ld_i(j->dt, j->x, off);
            if (j->max) iacc = v > iacc ? v : iacc;
            else iacc = (int64_t)((uint64_t)iacc + (uint64_t)v);
        }
    }
    void *dst = (char *)j->y + o * mi_k_dt_size(j->dt);
    if (!fl) mi_k_store_i(j->dt, dst, iacc);
    else if (j->dt == MI_K_DT_DOUBLE) mi_k_store_f(j->dt, dst, acc);
    else mi_k_stf(j->dt, j->y, o, (float)acc);
}

mi_status mi__cpu_reduce_sum_max(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    red_job j;
    memset(&j, 0, sizeof j);
    j.max = c->n->op == MI_OP_REDUCE_MAX;
    j.dt = (int)xt->dtype;
    j.x = c->in[0];
    j.y = c->out[0];
    j.count = 1;
    int64_t st[MI_MAX_DIMS], acc = 1;
    for (int k = xt->ndim - 1; k >= 0; k--) {
        st[k] = acc;
        acc *= xt->dims[k];
    }
    for (int k = 0; k < xt->ndim; k++) {
        if (c->p.u.reduce.reduce[k]) {
            j.rd[j.nr] = xt->dims[k];
            j.rs[j.nr++] = st[k];
            j.count *= xt->dims[k];
        } else {
            j.kd[j.nk] = xt->dims[k];
            j.ks[j.nk++] = st[k];
        }
    }
    if (j.count == 0 && j.max)
        return mi__cpu_err(c, MI_ERR_SHAPE, "ReduceMax over an empty axis has no value");
    int64_t nout = mi_tensor_numel(yt);
    mi__cpu_parallel(c->cpu, nout, nout * j.count, red_task, &j);
    return MI_OK;
}

/* ---- shape-made tensors (folded at load unless folding is off) ---------------------------- */

mi_status mi__cpu_expand_tile(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    mi_k_expand_tile(c->in[0], xt->ndim, xt->dims, c->out[0], yt->ndim, yt->dims, mi_dtype_size(yt->dtype),
                     c->n->op == MI_OP_TILE);
    return MI_OK;
}

mi_status mi__cpu_trilu(mi__cpu_call *c) {
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    if (yt->ndim < 2) return mi__cpu_err(c, MI_ERR_SHAPE, "the input must have rank >= 2");
    int64_t k = 0;
    if (c->n->ninputs > 1 && c->in[1]) k = mi_k_ld_i((int)mi__cpu_in_t(c, 1)->dtype, c->in[1], 0);
    mi_k_trilu_copy(c->in[0], c->out[0], mi_dtype_size(yt->dtype), yt->dims[yt->ndim - 2], yt->dims[yt->ndim - 1], k,
                    c->p.u.trilu.upper, mi_tensor_numel(yt));
    return MI_OK;
}

mi_status mi__cpu_range(mi__cpu_call *c) {
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    mi_k_range_fill((int)yt->dtype, c->in[0], c->in[2], c->out[0], mi_tensor_numel(yt));
    return MI_OK;
}

mi_status mi__cpu_scatter_nd(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *it = mi__cpu_in_t(c, 1);
    int k = (int)it->dims[it->ndim - 1];
    int64_t tuples = mi_tensor_numel(it) / k, slice = 1;
    for (int i = k; i < xt->ndim; i++) slice *= xt->dims[i];
    if (c->out[0] != c->in[0]) memmove(c->out[0], c->in[0], xt->nbytes);
    int64_t bad = mi_k_scatter_nd(c->out[0], c->in[1], (int)it->dtype, c->in[2], (int)xt->dtype, tuples, k, xt->ndim,
                                  xt->dims, slice, c->p.u.scatter.reduction);
    if (bad >= 0) return mi__cpu_err(c, MI_ERR_INVALID_ARG, "index tuple %lld of '%s' is out of range", (long long)bad, it->name);
    return MI_OK;
}

mi_status mi__cpu_constant_of_shape(mi__cpu_call *c) {
    const mi_tensor *yt = mi__cpu_out_t(c, 0);
    const mi_attr *a = mi_node_attr(c->n, "value");
    mi_k_splat_fill(a && a->tensor >= 0 ? mi__graph_value(c->g, a->tensor) : NULL, mi_dtype_size(yt->dtype), c->out[0],
                    mi_tensor_numel(yt));
    return MI_OK;
}
