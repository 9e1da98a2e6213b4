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
#include "vecmath.h"

#include <math.h>
#include <string.h>

#define MI__MATH_GRAIN ((int64_t)1 << 14)
/* Elements per step of the fp32 loops: broadcast operands are splatted
 * into stack buffers of this length, so every loop is over contiguous
 * arrays and writes a local buffer (no aliasing checks to vectorize). */
#define MI__MATH_CHUNK 256

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

/* ---- element math in fp32 ------------------------------------------------------------- */

/* The generic walk above reads and writes each element through a dtype
 * switch and calls libm's scalar functions: on the transformers' GELU
 * and masks it took most of a run. When every operand is float (Where's
 * condition bool), these loops run instead: the dims merged as far as
 * the operands allow, rows of the innermost, each operand contiguous or
 * splatted. Erf, Tanh and the GELUs use vecmath.h (a few ulp from libm);
 * the other ops compute exactly what kernels/math.h does. */
typedef struct fast_job {
    int op, nops;
    const void *x[3];
    float *y;
    int ndim; /* merged, >= 1 */
    int64_t dims[MI_MAX_DIMS];
    int64_t stride[3][MI_MAX_DIMS];
    int64_t n;
} fast_job;

static int fast_op(int op) {
    switch (op) {
    case MI_K_UN_NEG: case MI_K_UN_SQRT: case MI_K_UN_RECIPROCAL: case MI_K_UN_TANH: case MI_K_UN_EXP:
    case MI_K_UN_LOG: case MI_K_UN_ERF: case MI_K_UN_GELU: case MI_K_UN_GELU_TANH: case MI_K_BIN_POW:
    case MI_K_BIN_MIN: case MI_K_BIN_MAX: case MI_K_WHERE:
        return 1;
    default: return 0;
    }
}

/* Whether the fp32 loops run op over these operand and output dtypes. */
static int fast_dtypes(int op, int nops, const int *xt, int yt) {
    if (yt != MI_K_DT_FLOAT || !fast_op(op)) return 0;
    for (int k = 0; k < nops; k++)
        if (xt[k] != (op == MI_K_WHERE && k == 0 ? MI_K_DT_BOOL : MI_K_DT_FLOAT)) return 0;
    return nops == (op == MI_K_WHERE ? 3 : op >= MI_K_BIN_POW ? 2 : 1);
}

/* w's dims with the size-1 ones dropped and each run of dims that every
 * operand walks contiguously (or not at all) merged into one. */
static void fast_merge(fast_job *j, const mi_k_nwalk *w) {
    int nd = 0;
    for (int d = 0; d < w->ndim; d++) {
        if (w->dims[d] == 1) continue;
        int merge = nd > 0;
        for (int k = 0; k < w->nops && merge; k++)
            merge = j->stride[k][nd - 1] == w->stride[k][d] * w->dims[d];
        if (merge) {
            j->dims[nd - 1] *= w->dims[d];
            for (int k = 0; k < w->nops; k++) j->stride[k][nd - 1] = w->stride[k][d];
            continue;
        }
        j->dims[nd] = w->dims[d];
        for (int k = 0; k < w->nops; k++) j->stride[k][nd] = w->stride[k][d];
        nd++;
    }
    if (nd == 0) {
        j->dims[0] = 1;
        for (int k = 0; k < 3; k++) j->stride[k][0] = 0;
        nd = 1;
    }
    j->ndim = nd;
}

/* len outputs of op from contiguous operands a, b (float) or cond, a, b
 * (Where) into out. */
static MI__INLINE void fast_chunk(int op, const void *p0, const float *p1, const float *p2, float *out, int64_t len) {
    const float *a = p0;
    switch (op) {
    case MI_K_UN_NEG: for (int64_t i = 0; i < len; i++) out[i] = -a[i]; break;
    case MI_K_UN_SQRT: for (int64_t i = 0; i < len; i++) out[i] = sqrtf(a[i]); break;
    case MI_K_UN_RECIPROCAL: for (int64_t i = 0; i < len; i++) out[i] = 1.0f / a[i]; break;
    case MI_K_UN_TANH: for (int64_t i = 0; i < len; i++) out[i] = mi__v_tanh(a[i]); break;
    case MI_K_UN_EXP: for (int64_t i = 0; i < len; i++) out[i] = expf(a[i]); break;
    case MI_K_UN_LOG: for (int64_t i = 0; i < len; i++) out[i] = logf(a[i]); break;
    case MI_K_UN_ERF: for (int64_t i = 0; i < len; i++) out[i] = mi__v_erf(a[i]); break;
    case MI_K_UN_GELU: for (int64_t i = 0; i < len; i++) out[i] = mi__v_gelu(a[i]); break;
    case MI_K_UN_GELU_TANH: for (int64_t i = 0; i < len; i++) out[i] = mi__v_gelu_tanh(a[i]); break;
    case MI_K_BIN_POW: for (int64_t i = 0; i < len; i++) out[i] = powf(a[i], p1[i]); break;
    case MI_K_BIN_MIN:
        for (int64_t i = 0; i < len; i++) out[i] = mi_k_binary_f32(MI_K_BIN_MIN, a[i], p1[i]);
        break;
    case MI_K_BIN_MAX:
        for (int64_t i = 0; i < len; i++) out[i] = mi_k_binary_f32(MI_K_BIN_MAX, a[i], p1[i]);
        break;
    case MI_K_WHERE: {
        const uint8_t *cond = p0;
        for (int64_t i = 0; i < len; i++) out[i] = cond[i] ? p1[i] : p2[i];
        break;
    }
    default: break;
    }
}

/* Output elements [e0, e1): row by row of the innermost merged dim, in
 * chunks; an operand broadcast along it is splatted once per row. */
static MI__INLINE void fast_task_body(void *arg, int64_t task, int thread) {
    (void)thread;
    const fast_job *j = arg;
    const int last = j->ndim - 1;
    const int64_t inner = j->dims[last];
    int64_t e0 = task * MI__MATH_GRAIN, e1 = e0 + MI__MATH_GRAIN < j->n ? e0 + MI__MATH_GRAIN : j->n;
    float splat[3][MI__MATH_CHUNK], out[MI__MATH_CHUNK];
    uint8_t splat_cond[MI__MATH_CHUNK];
    while (e0 < e1) {
        int64_t row = e0 / inner, col = e0 % inner, len_row = inner - col < e1 - e0 ? inner - col : e1 - e0;
        int64_t off[3] = {0, 0, 0}, rest = row;
        for (int d = last - 1; d >= 0; d--) {
            int64_t id = rest % j->dims[d];
            rest /= j->dims[d];
            for (int k = 0; k < j->nops; k++) off[k] += id * j->stride[k][d];
        }
        int splatted[3] = {0, 0, 0};
        for (int64_t c0 = 0; c0 < len_row; c0 += MI__MATH_CHUNK) {
            int64_t len = len_row - c0 < MI__MATH_CHUNK ? len_row - c0 : MI__MATH_CHUNK;
            const void *p[3] = {NULL, NULL, NULL};
            for (int k = 0; k < j->nops; k++) {
                int cond = j->op == MI_K_WHERE && k == 0;
                if (j->stride[k][last]) {
                    p[k] = cond ? (const void *)((const uint8_t *)j->x[k] + off[k] + col + c0)
                                : (const void *)((const float *)j->x[k] + off[k] + col + c0);
                    continue;
                }
                if (!splatted[k]) { /* the row's one value, for every chunk of it */
                    if (cond) memset(splat_cond, ((const uint8_t *)j->x[k])[off[k]], sizeof splat_cond);
                    else
                        for (int64_t i = 0; i < MI__MATH_CHUNK; i++) splat[k][i] = ((const float *)j->x[k])[off[k]];
                    splatted[k] = 1;
                }
                p[k] = cond ? (const void *)splat_cond : (const void *)splat[k];
            }
            fast_chunk(j->op, p[0], p[1], p[2], out, len);
            memcpy(j->y + e0 + c0, out, (size_t)len * sizeof(float));
        }
        e0 += len_row;
    }
}

MI__ISA_TASKS(fast_task, fast_task_body)

/* Runs op over w's operands in fp32 (fast_dtypes said it may). */
static void fast_run(mi__cpu_call *c, int op, const mi_k_nwalk *w, const void *const *x, void *y) {
    fast_job j;
    memset(&j, 0, sizeof j);
    j.op = op;
    j.nops = w->nops;
    for (int k = 0; k < w->nops; k++) j.x[k] = x[k];
    j.y = y;
    j.n = 1;
    for (int d = 0; d < w->ndim; d++) j.n *= w->dims[d];
    fast_merge(&j, w);
    /* The transcendental ones cost tens of operations an element. */
    int64_t per_elem = op == MI_K_UN_NEG || op == MI_K_BIN_MIN || op == MI_K_BIN_MAX || op == MI_K_WHERE ? 1 : 16;
    mi__cpu_parallel(c->cpu, (j.n + MI__MATH_GRAIN - 1) / MI__MATH_GRAIN, j.n * per_elem, fast_task_for(c->cpu->gk->isa), &j);
}

/* A fused linear layer's epilogue: each row of y plus bias, then the
 * GELU, in vecmath.h's vectorized form (see cpu_internal.h). */
typedef struct bias_gelu_job {
    float *y;
    const float *bias;
    int64_t rows, n, rows_per_task;
    int op;
} bias_gelu_job;

static MI__INLINE void bias_gelu_body(void *arg, int64_t task, int thread) {
    (void)thread;
    const bias_gelu_job *j = arg;
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) {
        float *row = j->y + r * j->n;
        if (j->op == MI_K_UN_GELU)
            for (int64_t q = 0; q < j->n; q++) row[q] = mi__v_gelu(row[q] + j->bias[q]);
        else if (j->op == MI_K_UN_GELU_TANH)
            for (int64_t q = 0; q < j->n; q++) row[q] = mi__v_gelu_tanh(row[q] + j->bias[q]);
        else
            for (int64_t q = 0; q < j->n; q++) row[q] += j->bias[q];
    }
}

MI__ISA_TASKS(bias_gelu_task, bias_gelu_body)

void mi__cpu_bias_gelu_rows(mi__cpu *cpu, float *y, const float *bias, int64_t rows, int64_t n, int op) {
    if (rows <= 0 || n <= 0) return;
    bias_gelu_job j = {y, bias, rows, n, n >= MI__MATH_GRAIN ? 1 : MI__MATH_GRAIN / n, op};
    int64_t per_elem = op == MI_K_UN_GELU || op == MI_K_UN_GELU_TANH ? 16 : 1;
    mi__cpu_parallel(cpu, (rows + j.rows_per_task - 1) / j.rows_per_task, rows * n * per_elem,
                     bias_gelu_task_for(cpu->gk->isa), &j);
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
        int xt[2] = {(int)a->dtype, (int)b->dtype};
        if (fast_dtypes(op, 2, xt, j.yt)) {
            fast_run(c, op, &j.w, j.x, j.y);
            continue;
        }
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
    if (fast_dtypes(j.op, nops, j.xt, j.yt)) {
        fast_run(c, j.op, &j.w, j.x, j.y);
        return MI_OK;
    }
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

/* fp32 rows: the same formula as ln_task, its sums over 16 lanes (which
 * vectorize; the sequential sum did not) added up at the end, and the
 * scale and bias read straight. A half x keeps the loop above. */
#define MI__LN_LANES 16

static MI__INLINE float ln_sum(const float *x, int64_t n, float sub, int squares) {
    float lane[MI__LN_LANES] = {0};
    int64_t i = 0;
    for (; i + MI__LN_LANES <= n; i += MI__LN_LANES)
        for (int k = 0; k < MI__LN_LANES; k++) {
            float d = x[i + k] - sub;
            lane[k] += squares ? d * d : d;
        }
    float sum = 0.0f;
    for (int k = 0; k < MI__LN_LANES; k++) sum += lane[k];
    for (; i < n; i++) {
        float d = x[i] - sub;
        sum += squares ? d * d : d;
    }
    return sum;
}

static MI__INLINE void ln_f32_body(void *arg, int64_t row, int thread) {
    (void)thread;
    const ln_job *j = arg;
    const float *x = (const float *)j->x + row * j->inner, *scale = j->scale, *bias = j->bias;
    float *y = (float *)j->y + row * j->inner;
    float mean = ln_sum(x, j->inner, 0.0f, 0) / (float)j->inner;
    float var = ln_sum(x, j->inner, mean, 1) / (float)j->inner;
    float inv = 1.0f / sqrtf(var + j->eps);
    if (j->mean_out) j->mean_out[row] = mean;
    if (j->inv_out) j->inv_out[row] = inv;
    if (bias)
        for (int64_t i = 0; i < j->inner; i++) y[i] = (x[i] - mean) * inv * scale[i] + bias[i];
    else
        for (int64_t i = 0; i < j->inner; i++) y[i] = (x[i] - mean) * inv * scale[i];
}

MI__ISA_TASKS(ln_f32_task, ln_f32_body)

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
    int all_f32 = xt->dtype == MI_DTYPE_FLOAT && mi__cpu_in_t(c, 1)->dtype == MI_DTYPE_FLOAT &&
                  (!j.bias || mi__cpu_in_t(c, 2)->dtype == MI_DTYPE_FLOAT) && mi__cpu_out_t(c, 0)->dtype == MI_DTYPE_FLOAT;
    mi__cpu_parallel(c->cpu, j.rows, j.rows * j.inner * 4, all_f32 ? ln_f32_task_for(c->cpu->gk->isa) : ln_task, &j);
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
