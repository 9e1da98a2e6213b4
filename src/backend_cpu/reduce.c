/* Ops that reduce or normalise over windows and axes: MaxPool, AveragePool
 * and GlobalAveragePool; BatchNormalization (inference form), LRN, Softmax
 * (the axis semantics of the graph's opset, as op_params records them) and
 * ReduceMean. Sums are kept in double.
 *
 * Pooling: the output extents come from the graph (shape inference applied
 * ceil_mode there); a window is the positions start + t * dilation with
 * start = out * stride - pad_begin. MaxPool ignores padding and lets a NaN
 * through (so a poisoned read shows). AveragePool divides by the valid
 * positions, or with count_include_pad by the positions inside the padded
 * input [-pad_begin, in + pad_end), PyTorch's rule, which also decides
 * what a ceil_mode window hanging past the right pad counts. One task per
 * (image, channel) plane.
 *
 * BatchNormalization may run in place on its input (the contract): each
 * element is read and written at the same index. The others never share
 * memory with their input.
 *
 * float16 / bfloat16: BatchNormalization has a loop of its own (below);
 * the others run on fp32 copies of their half tensors (half.c). */
#include "cpu_internal.h"
#include "vecmath.h"

#include <math.h>
#include <string.h>

/* ---- pooling ----------------------------------------------------------------------------- */
typedef struct pool_job {
    int max, include_pad;
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3], pe[3];
    int64_t in_sp, out_sp;
    const float *x;
    float *y;
} pool_job;

/* Positions t in [0, k) with lo <= start + t * d < hi. */
static void valid_range(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi, int64_t *t0,
                        int64_t *t1) {
    int64_t a = 0, b = k;
    if (start < lo) a = (lo - start + d - 1) / d;
    if (start + (k - 1) * d >= hi) b = hi - start <= 0 ? 0 : (hi - start + d - 1) / d;
    if (b < a) b = a;
    *t0 = a;
    *t1 = b;
}

static void pool_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const pool_job *j = arg;
    const float *x = j->x + task * j->in_sp;
    float *y = j->y + task * j->out_sp;
    for (int64_t oz = 0; oz < j->out[0]; oz++) {
        int64_t sz = oz * j->s[0] - j->pb[0], z0, z1, pz0, pz1;
        valid_range(sz, j->k[0], j->d[0], 0, j->in[0], &z0, &z1);
        valid_range(sz, j->k[0], j->d[0], -j->pb[0], j->in[0] + j->pe[0], &pz0, &pz1);
        for (int64_t oy = 0; oy < j->out[1]; oy++) {
            int64_t sy = oy * j->s[1] - j->pb[1], y0, y1, py0, py1;
            valid_range(sy, j->k[1], j->d[1], 0, j->in[1], &y0, &y1);
            valid_range(sy, j->k[1], j->d[1], -j->pb[1], j->in[1] + j->pe[1], &py0, &py1);
            for (int64_t ox = 0; ox < j->out[2]; ox++) {
                int64_t sx = ox * j->s[2] - j->pb[2], x0, x1, px0, px1;
                valid_range(sx, j->k[2], j->d[2], 0, j->in[2], &x0, &x1);
                float v;
                if (j->max) {
                    v = -INFINITY;
                    for (int64_t tz = z0; tz < z1; tz++)
                        for (int64_t ty = y0; ty < y1; ty++) {
                            const float *row =
                                x + ((sz + tz * j->d[0]) * j->in[1] + sy + ty * j->d[1]) * j->in[2];
                            for (int64_t tx = x0; tx < x1; tx++) {
                                float e = row[sx + tx * j->d[2]];
                                if (e > v || e != e) v = e;
                            }
                        }
                } else {
                    double sum = 0.0;
                    for (int64_t tz = z0; tz < z1; tz++)
                        for (int64_t ty = y0; ty < y1; ty++) {
                            const float *row =
                                x + ((sz + tz * j->d[0]) * j->in[1] + sy + ty * j->d[1]) * j->in[2];
                            for (int64_t tx = x0; tx < x1; tx++) sum += row[sx + tx * j->d[2]];
                        }
                    int64_t cnt;
                    if (j->include_pad) {
                        valid_range(sx, j->k[2], j->d[2], -j->pb[2], j->in[2] + j->pe[2], &px0, &px1);
                        cnt = (pz1 - pz0) * (py1 - py0) * (px1 - px0);
                    } else {
                        cnt = (z1 - z0) * (y1 - y0) * (x1 - x0);
                    }
                    v = cnt > 0 ? (float)(sum / (double)cnt) : 0.0f;
                }
                y[(oz * j->out[1] + oy) * j->out[2] + ox] = v;
            }
        }
    }
}

typedef struct gap_job {
    const float *x;
    float *y;
    int64_t sp;
} gap_job;

static void gap_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const gap_job *j = arg;
    const float *x = j->x + task * j->sp;
    double sum = 0.0;
    for (int64_t i = 0; i < j->sp; i++) sum += x[i];
    j->y[task] = (float)(sum / (double)j->sp);
}

mi_status mi__cpu_pool_op(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    if (xt->dtype != MI_DTYPE_FLOAT)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported (float)",
                           mi_dtype_name(xt->dtype));
    if (c->n->noutputs > 1 && c->out[1])
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "the Indices output is not supported");
    int64_t planes = xt->dims[0] * xt->dims[1];
    if (c->n->op == MI_OP_GLOBAL_AVERAGE_POOL) {
        gap_job j = {c->in[0], c->out[0], planes ? mi_tensor_numel(xt) / planes : 0};
        mi__cpu_parallel(c->cpu, planes, mi_tensor_numel(xt), gap_task, &j);
        return MI_OK;
    }
    const mi__pool_params *p = &c->p.u.pool;
    pool_job j;
    memset(&j, 0, sizeof j);
    j.max = c->n->op == MI_OP_MAX_POOL;
    j.include_pad = p->count_include_pad;
    int off = 3 - p->nspatial;
    for (int i = 0; i < 3; i++) {
        int q = i - off;
        j.in[i] = q >= 0 ? xt->dims[2 + q] : 1;
        j.out[i] = q >= 0 ? yt->dims[2 + q] : 1;
        j.k[i] = q >= 0 ? p->kernel[q] : 1;
        j.s[i] = q >= 0 ? p->stride[q] : 1;
        j.d[i] = q >= 0 ? p->dilation[q] : 1;
        j.pb[i] = q >= 0 ? p->pad_begin[q] : 0;
        j.pe[i] = q >= 0 ? p->pad_end[q] : 0;
    }
    j.in_sp = j.in[0] * j.in[1] * j.in[2];
    j.out_sp = j.out[0] * j.out[1] * j.out[2];
    j.x = c->in[0];
    j.y = c->out[0];
    mi__cpu_parallel(c->cpu, planes, planes * j.out_sp * j.k[0] * j.k[1] * j.k[2], pool_task, &j);
    return MI_OK;
}

/* ---- BatchNormalization ---------------------------------------------------------- */

typedef struct bn_job {
    const float *x, *scale, *bias, *mean, *var;
    float *y;
    float eps;
    int64_t channels, inner;
} bn_job;

static void bn_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const bn_job *j = arg;
    int64_t ch = task % j->channels;
    const float *x = j->x + task * j->inner;
    float *y = j->y + task * j->inner;
    const float mean = j->mean[ch], gamma = j->scale[ch], beta = j->bias[ch];
    const float invstd = mi_k_bn_invstd(j->var[ch], j->eps);
    for (int64_t i = 0; i < j->inner; i++) y[i] = mi_k_batch_norm(x[i], mean, invstd, gamma, beta);
}

/* Halves: x and y of dtype dt, the four parameters each of its own float
 * dtype (ONNX lets them differ from x's), read as fp32. Each chunk of a
 * plane is widened, normalised with the float rule and rounded back. */
typedef struct bn_half_job {
    mi_dtype dt, pdt[4]; /* scale, bias, mean, var */
    const void *x, *param[4];
    void *y;
    float eps;
    int64_t channels, inner;
} bn_half_job;

#define MI__BN_HALF_CHUNK 512

static void bn_half_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const bn_half_job *j = arg;
    int64_t ch = task % j->channels;
    float v[4];
    for (int k = 0; k < 4; k++)
        v[k] = (float)mi_k_load_f((int)j->pdt[k], (const char *)j->param[k] + (size_t)ch * mi_dtype_size(j->pdt[k]));
    const float gamma = v[0], beta = v[1], mean = v[2], invstd = mi_k_bn_invstd(v[3], j->eps);
    const uint16_t *x = (const uint16_t *)j->x + task * j->inner;
    uint16_t *y = (uint16_t *)j->y + task * j->inner;
    float buf[MI__BN_HALF_CHUNK];
    for (int64_t c0 = 0; c0 < j->inner; c0 += MI__BN_HALF_CHUNK) {
        int64_t len = j->inner - c0 < MI__BN_HALF_CHUNK ? j->inner - c0 : MI__BN_HALF_CHUNK;
        mi__cpu_half_row_to_f32(j->dt, x + c0, buf, len);
        for (int64_t i = 0; i < len; i++) buf[i] = mi_k_batch_norm(buf[i], mean, invstd, gamma, beta);
        mi__cpu_f32_row_to_half(j->dt, buf, y + c0, len);
    }
}

static mi_status batch_norm_half(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    bn_half_job j;
    memset(&j, 0, sizeof j);
    j.dt = xt->dtype;
    for (int k = 0; k < 4; k++) {
        const mi_tensor *pt = mi__cpu_in_t(c, k + 1);
        if (!pt) return mi__cpu_err(c, MI_ERR_GRAPH, "parameter %d is missing", k + 1);
        if (!mi__dtype_is_float(pt->dtype))
            return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "parameter '%s' has dtype %s (float, float16, "
                               "bfloat16)", pt->name, mi_dtype_name(pt->dtype));
        j.pdt[k] = pt->dtype;
        j.param[k] = c->in[k + 1];
    }
    j.x = c->in[0];
    j.y = c->out[0];
    j.eps = c->p.u.batch_norm.epsilon;
    j.channels = xt->dims[1];
    j.inner = 1;
    for (int i = 2; i < xt->ndim; i++) j.inner *= xt->dims[i];
    mi__cpu_parallel(c->cpu, xt->dims[0] * xt->dims[1], mi_tensor_numel(xt), bn_half_task, &j);
    return MI_OK;
}

/* Whether x or any parameter is half: the half loop then reads each by
 * its own dtype. */
static int bn_has_half(const mi__cpu_call *c) {
    for (int k = 0; k < 5; k++) {
        const mi_tensor *t = mi__cpu_in_t(c, k);
        if (t && mi__dtype_is_half(t->dtype)) return 1;
    }
    return 0;
}

mi_status mi__cpu_batch_norm(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    if (c->n->noutputs > 1)
        for (int k = 1; k < c->n->noutputs; k++)
            if (c->out[k])
                return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "training mode outputs are not supported");
    if (bn_has_half(c)) {
        if (!mi__dtype_is_half(xt->dtype) || mi__cpu_out_t(c, 0)->dtype != xt->dtype)
            return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "input '%s' of dtype %s with half parameters: "
                               "the CPU backend runs half parameters with a half input of the output's dtype",
                               xt->name, mi_dtype_name(xt->dtype));
        return batch_norm_half(c);
    }
    if (xt->dtype != MI_DTYPE_FLOAT)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported (float)",
                           mi_dtype_name(xt->dtype));
    bn_job j = {c->in[0], c->in[1], c->in[2], c->in[3], c->in[4], c->out[0],
                c->p.u.batch_norm.epsilon, xt->dims[1], 1};
    for (int i = 2; i < xt->ndim; i++) j.inner *= xt->dims[i];
    mi__cpu_parallel(c->cpu, xt->dims[0] * xt->dims[1], mi_tensor_numel(xt), bn_task, &j);
    return MI_OK;
}

/* ---- LRN ---------------------------------------------------------------------------- */

typedef struct lrn_job {
    const float *x;
    float *y;
    int64_t channels, inner, lo, hi; /* window [c - lo, c + hi] */
    float alpha_n, beta, bias;
} lrn_job;

static void lrn_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const lrn_job *j = arg;
    int64_t b = task / j->channels, ch = task % j->channels;
    int64_t c0 = ch - j->lo < 0 ? 0 : ch - j->lo;
    int64_t c1 = ch + j->hi >= j->channels ? j->channels - 1 : ch + j->hi;
    const float *img = j->x + b * j->channels * j->inner;
    const float *x = img + ch * j->inner;
    float *y = j->y + task * j->inner;
    for (int64_t i = 0; i < j->inner; i++) {
        double sq = 0.0;
        for (int64_t cc = c0; cc <= c1; cc++) {
            double v = img[cc * j->inner + i];
            sq += v * v;
        }
        y[i] = (float)((double)x[i] / pow((double)j->bias + (double)j->alpha_n * sq, (double)j->beta));
    }
}

mi_status mi__cpu_lrn(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    const mi__lrn_params *p = &c->p.u.lrn;
    if (xt->dtype != MI_DTYPE_FLOAT)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported (float)",
                           mi_dtype_name(xt->dtype));
    lrn_job j = {c->in[0], c->out[0], xt->dims[1], 1, (p->size - 1) / 2, p->size / 2,
                 p->alpha / (float)p->size, p->beta, p->bias};
    for (int i = 2; i < xt->ndim; i++) j.inner *= xt->dims[i];
    mi__cpu_parallel(c->cpu, xt->dims[0] * xt->dims[1], mi_tensor_numel(xt) * p->size, lrn_task, &j);
    return MI_OK;
}

/* ---- Softmax ------------------------------------------------------------------------- */

typedef struct softmax_job {
    const float *x;
    float *y;
    int64_t len, inner; /* softmax over len elements spaced inner apart */
} softmax_job;

static void softmax_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const softmax_job *j = arg;
    int64_t o = task / j->inner, i = task % j->inner;
    const float *x = j->x + o * j->len * j->inner + i;
    float *y = j->y + o * j->len * j->inner + i;
    const int64_t st = j->inner;
    float mx = -INFINITY;
    for (int64_t l = 0; l < j->len; l++)
        if (x[l * st] > mx || x[l * st] != x[l * st]) mx = x[l * st];
    double sum = 0.0;
    for (int64_t l = 0; l < j->len; l++) {
        float e = expf(x[l * st] - mx);
        y[l * st] = e;
        sum += e;
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t l = 0; l < j->len; l++) y[l * st] *= inv;
}

/* Softmax over the last axis (inner 1, the attention's case): contiguous
 * rows, so the max, the exp with its sum and the scaling each run as one
 * vectorized pass. The max and the sum go over 16 lanes (the sum in
 * double, as above) combined at the end; the exp is vecmath.h's (libm's
 * scalar expf took most of the op). A NaN anywhere in a row makes the
 * max NaN and so the whole row NaN, as softmax_task's. */
#define MI__SOFTMAX_LANES 16
/* Rows per task: a few thousand elements each, so short rows do not pay
 * a task each. */
#define MI__SOFTMAX_GRAIN ((int64_t)4096)

typedef struct softmax_rows_job {
    const float *x;
    float *y;
    int64_t len, rows, rows_per_task;
} softmax_rows_job;

static MI__INLINE float softmax_row_max(const float *x, int64_t len) {
    float lane[MI__SOFTMAX_LANES];
    int nan_lane[MI__SOFTMAX_LANES];
    for (int k = 0; k < MI__SOFTMAX_LANES; k++) {
        lane[k] = -INFINITY;
        nan_lane[k] = 0;
    }
    int64_t l = 0;
    for (; l + MI__SOFTMAX_LANES <= len; l += MI__SOFTMAX_LANES)
        for (int k = 0; k < MI__SOFTMAX_LANES; k++) {
            float v = x[l + k];
            lane[k] = v > lane[k] ? v : lane[k];
            nan_lane[k] |= v != v;
        }
    float mx = -INFINITY;
    int nan = 0;
    for (int k = 0; k < MI__SOFTMAX_LANES; k++) {
        mx = lane[k] > mx ? lane[k] : mx;
        nan |= nan_lane[k];
    }
    for (; l < len; l++) {
        mx = x[l] > mx ? x[l] : mx;
        nan |= x[l] != x[l];
    }
    return nan ? NAN : mx;
}

static MI__INLINE void softmax_rows_body(void *arg, int64_t task, int thread) {
    (void)thread;
    const softmax_rows_job *j = arg;
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task < j->rows ? r0 + j->rows_per_task : j->rows;
    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->len;
        float *y = j->y + r * j->len;
        const float mx = softmax_row_max(x, j->len);
        /* The exps first, then their sum: a loop that does both stays
         * scalar (GCC 12). */
        for (int64_t l = 0; l < j->len; l++) y[l] = mi__v_exp(x[l] - mx);
        double lane[MI__SOFTMAX_LANES] = {0};
        int64_t l = 0;
        for (; l + MI__SOFTMAX_LANES <= j->len; l += MI__SOFTMAX_LANES)
            for (int k = 0; k < MI__SOFTMAX_LANES; k++) lane[k] += y[l + k];
        double sum = 0.0;
        for (int k = 0; k < MI__SOFTMAX_LANES; k++) sum += lane[k];
        for (; l < j->len; l++) sum += y[l];
        const float inv = (float)(1.0 / sum);
        for (l = 0; l < j->len; l++) y[l] *= inv;
    }
}

MI__ISA_TASKS(softmax_rows_task, softmax_rows_body)

mi_status mi__cpu_softmax(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    if (xt->dtype != MI_DTYPE_FLOAT)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported (float)",
                           mi_dtype_name(xt->dtype));
    int64_t axis = c->p.u.softmax.axis, outer = 1, len = 1, inner = 1;
    for (int i = 0; i < xt->ndim; i++) {
        if (i < axis) outer *= xt->dims[i];
        else if (i == axis || c->p.u.softmax.coerce_2d) len *= xt->dims[i];
        else inner *= xt->dims[i];
    }
    if (inner == 1 && len > 0) {
        softmax_rows_job r = {c->in[0], c->out[0], len, outer, len >= MI__SOFTMAX_GRAIN ? 1 : MI__SOFTMAX_GRAIN / len};
        mi__cpu_parallel(c->cpu, (outer + r.rows_per_task - 1) / r.rows_per_task, 3 * mi_tensor_numel(xt),
                         softmax_rows_task_for(c->cpu->gk->isa), &r);
        return MI_OK;
    }
    softmax_job j = {c->in[0], c->out[0], len, inner};
    mi__cpu_parallel(c->cpu, outer * inner, 3 * mi_tensor_numel(xt), softmax_task, &j);
    return MI_OK;
}

/* ---- ReduceMean ---------------------------------------------------------------------- */

typedef struct reduce_job {
    const float *x;
    float *y;
    int nk, nr;                           /* kept and reduced dims */
    int64_t kd[MI_MAX_DIMS], ks[MI_MAX_DIMS]; /* kept extents and input strides */
    int64_t rd[MI_MAX_DIMS], rs[MI_MAX_DIMS]; /* reduced extents and strides */
    int64_t count;                        /* elements per output */
    int64_t per_task, total;
} reduce_job;

static void reduce_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const reduce_job *j = arg;
    int64_t o0 = task * j->per_task, o1 = o0 + j->per_task;
    if (o1 > j->total) o1 = j->total;
    for (int64_t o = o0; o < o1; o++) {
        int64_t base = mi_k_strided_offset(j->nk, j->kd, j->ks, o);
        double sum = 0.0;
        if (j->nr == 0) {
            sum = j->x[base];
        } else {
            /* The last reduced dim is walked directly, the rest by index. */
            int64_t last = j->rd[j->nr - 1], ls = j->rs[j->nr - 1];
            int64_t outer = j->count / last;
            for (int64_t r = 0; r < outer; r++) {
                const float *p = j->x + base + mi_k_strided_offset(j->nr - 1, j->rd, j->rs, r);
                for (int64_t t = 0; t < last; t++) sum += p[t * ls];
            }
        }
        j->y[o] = (float)(sum / (double)j->count);
    }
}

mi_status mi__cpu_reduce_mean(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    const mi__reduce_params *p = &c->p.u.reduce;
    if (xt->dtype != MI_DTYPE_FLOAT)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported (float)",
                           mi_dtype_name(xt->dtype));
    reduce_job j;
    memset(&j, 0, sizeof j);
    j.x = c->in[0];
    j.y = c->out[0];
    j.count = 1;
    j.total = 1;
    int64_t stride = 1, strides[MI_MAX_DIMS];
    for (int i = xt->ndim - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= xt->dims[i];
    }
    for (int i = 0; i < xt->ndim; i++) {
        if (p->reduce[i]) {
            j.rd[j.nr] = xt->dims[i];
            j.rs[j.nr++] = strides[i];
            j.count *= xt->dims[i];
        } else {
            j.kd[j.nk] = xt->dims[i];
            j.ks[j.nk++] = strides[i];
            j.total *= xt->dims[i];
        }
    }
    if (j.nk == 0) {
        j.kd[0] = 1;
        j.ks[0] = 0;
        j.nk = 1;
    }
    j.per_task = j.count >= 4096 ? 1 : 4096 / j.count;
    mi__cpu_parallel(c->cpu, (j.total + j.per_task - 1) / j.per_task, mi_tensor_numel(xt), reduce_task, &j);
    return MI_OK;
}
