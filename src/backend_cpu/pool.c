/* MaxPool, AveragePool (1 to 3 spatial dims, pads, strides, dilations,
 * ceil_mode, count_include_pad) and GlobalAveragePool.
 *
 * The output extents come from the graph (shape inference applied
 * ceil_mode there); a window is the positions start + t * dilation with
 * start = out * stride - pad_begin. MaxPool ignores padding and lets a NaN
 * through (so a poisoned read shows). AveragePool divides by the valid
 * positions, or with count_include_pad by the positions inside the padded
 * input [-pad_begin, in + pad_end), PyTorch's rule, which also decides
 * what a ceil_mode window hanging past the right pad counts. One task per
 * (image, channel) plane. */
#include "cpu_internal.h"

#include <math.h>
#include <string.h>

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
        mi__cpu_parallel(c->cpu, planes, gap_task, &j);
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
    mi__cpu_parallel(c->cpu, planes, pool_task, &j);
    return MI_OK;
}
