/* Convolution, 1 to 3 spatial dims, with groups, dilations, strides, pads,
 * bias and the fused epilogue out = act(conv(x) + bias + residual).
 *
 * Three paths:
 *  - one input channel per group (depthwise, any channel multiplier): a
 *    direct loop per output plane, no workspace; 3x3 at stride 1 or 2
 *    (MobileNet's) has its own form, over padded bands of rows;
 *  - 1x1, stride 1, no padding: the input already is the GEMM's B matrix
 *    (channels x pixels), no im2col;
 *  - otherwise im2col into the planned workspace, tiled over output pixels
 *    so the workspace stays under the backend's cap, then the GEMM.
 * Every spatial rank is handled as 3-D with leading extents of 1.
 *
 * In place: the planner may give out == residual. The GEMM then runs in
 * accumulate mode over the residual already in out (never reading the
 * residual through a second pointer after out was written), and the
 * direct path reads residual[i] just before writing out[i]. */
#include "cpu_internal.h"

#include <string.h>

typedef struct conv_geom {
    int64_t batch, c, m, group, cg, mg;
    int64_t in[3], out[3], k[3], s[3], d[3], pb[3];
    int64_t in_sp, out_sp, ksz, kdim;
    int direct, pointwise;
    int dw3; /* the direct path's 3x3 form (see dw3_plane) */
    int64_t tile; /* im2col columns per tile (0: no im2col) */
    size_t col_bytes, gemm_bytes;
} conv_geom;

/* The 3x3 path's buffers, in floats, on the stack (24 KiB with its row):
 * padded input and output of one band of rows (see dw3_plane). Small
 * enough for any thread's stack, and L1's size beats larger bands. Rows
 * too wide for a band of one take the generic direct loops. */
#define MI__DW3_IN 3072
#define MI__DW3_OUT 2048

/* 2-D, 3x3, no dilation, stride 1 or 2 both ways: MobileNet's depthwise
 * convolutions. */
static int dw3_fits(const conv_geom *q) {
    if (q->in[0] != 1 || q->out[0] != 1 || q->k[0] != 1 || q->pb[0] != 0 || q->k[1] != 3 ||
        q->k[2] != 3 || q->d[1] != 1 || q->d[2] != 1 || q->s[1] != q->s[2] || q->s[2] < 1 ||
        q->s[2] > 2)
        return 0;
    int64_t pw = q->out[2] + 3 - q->s[2]; /* a band's pitch */
    return pw <= MI__DW3_OUT && (q->s[2] == 1 ? 3 * pw + 2 : 6 * pw + 2) <= MI__DW3_IN;
}

static void geom_init(const mi_graph *g, const mi_node *n, const mi__conv_params *p, conv_geom *q) {
    const mi_tensor *x = mi__node_in(g, n, 0), *w = mi__node_in(g, n, 1);
    const mi_tensor *y = mi_graph_tensor(g, (size_t)n->outputs[0]);
    int nsp = p->nspatial, off = 3 - nsp;
    memset(q, 0, sizeof *q);
    q->batch = x->dims[0];
    q->c = x->dims[1];
    q->m = w->dims[0];
    q->group = p->group;
    q->cg = q->c / q->group;
    q->mg = q->m / q->group;
    for (int i = 0; i < 3; i++) {
        int j = i - off;
        q->in[i] = j >= 0 ? x->dims[2 + j] : 1;
        q->out[i] = j >= 0 ? y->dims[2 + j] : 1;
        q->k[i] = j >= 0 ? p->kernel[j] : 1;
        q->s[i] = j >= 0 ? p->stride[j] : 1;
        q->d[i] = j >= 0 ? p->dilation[j] : 1;
        q->pb[i] = j >= 0 ? p->pad_begin[j] : 0;
    }
    q->in_sp = q->in[0] * q->in[1] * q->in[2];
    q->out_sp = q->out[0] * q->out[1] * q->out[2];
    q->ksz = q->k[0] * q->k[1] * q->k[2];
    q->kdim = q->cg * q->ksz;
    q->direct = q->cg == 1 && q->ksz > 1;
    int unit = q->ksz == 1;
    for (int i = 0; i < nsp; i++)
        unit = unit && p->stride[i] == 1 && p->pad_begin[i] == 0 && p->pad_end[i] == 0;
    q->pointwise = unit;
    q->dw3 = q->direct && dw3_fits(q);
}

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

/* Workspace bytes of an im2col tile of t columns: the columns and the
 * GEMM's packs for that many. */
static size_t tile_bytes(const mi__cpu *cpu, const conv_geom *q, int64_t t) {
    return round64((size_t)t * (size_t)q->kdim * sizeof(float)) +
           mi__sgemm_workspace(cpu, q->mg, t, q->kdim) + MI__CPU_WS_ALIGN;
}

/* Picks the im2col tile: all output pixels when they fit the cap, else the
 * most NR-column strips that do (the GEMM's packs shrink with the tile
 * too, so a cap below the packs for all pixels still gets wide tiles),
 * and never fewer than one strip: a narrower tile wastes the micro-kernel
 * (with one column per tile, as a 1 MiB cap gave ResNet-50's last layers
 * before, it ran 6x slower). */
static void geom_tile(const mi__cpu *cpu, conv_geom *q) {
    if (q->direct) return;
    if (q->pointwise) {
        q->gemm_bytes = mi__sgemm_workspace(cpu, q->mg, q->out_sp, q->kdim);
        return;
    }
    const int64_t nr = cpu->gk->nr;
    int64_t tile = q->out_sp;
    if (tile_bytes(cpu, q, tile) > cpu->ws_cap) {
        int64_t lo = 1, hi = q->out_sp / nr; /* strips; lo always taken */
        while (lo < hi) {
            int64_t mid = lo + (hi - lo + 1) / 2;
            if (tile_bytes(cpu, q, mid * nr) <= cpu->ws_cap) lo = mid;
            else hi = mid - 1;
        }
        tile = lo * nr < q->out_sp ? lo * nr : q->out_sp;
    }
    q->tile = tile;
    q->col_bytes = round64((size_t)tile * (size_t)q->kdim * sizeof(float));
    q->gemm_bytes = mi__sgemm_workspace(cpu, q->mg, tile, q->kdim);
    /* The last, narrower tile may block differently and want more packs
     * per thread (else it would run on one thread). */
    int64_t rest = q->out_sp % tile;
    size_t last = rest ? mi__sgemm_workspace(cpu, q->mg, rest, q->kdim) : 0;
    if (last > q->gemm_bytes) q->gemm_bytes = last;
}

mi_status mi__cpu_conv_workspace(const mi__cpu *cpu, const mi_graph *g, const mi_node *n,
                                 const mi__op_params *p, size_t *ws) {
    conv_geom q;
    geom_init(g, n, &p->u.conv, &q);
    geom_tile(cpu, &q);
    *ws = q.direct ? 0 : q.col_bytes + q.gemm_bytes + MI__CPU_WS_ALIGN;
    return MI_OK;
}

/* ---- im2col ------------------------------------------------------------------- */

typedef struct col_job {
    const conv_geom *q;
    const float *x; /* this image and group: cg planes */
    float *col;     /* kdim x nt */
    int64_t n0, nt;
    int64_t rows_per_task;
} col_job;

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* One row of the im2col matrix: input channel ci, kernel tap (kz, ky, kx),
 * output pixels [n0, n0 + nt). */
static void col_row(const conv_geom *q, const float *plane, int64_t kz, int64_t ky, int64_t kx,
                    int64_t n0, int64_t nt, float *dst) {
    const int64_t ow = q->out[2], oh = q->out[1], iw = q->in[2];
    const int64_t sx = q->s[2];
    const int64_t xoff = kx * q->d[2] - q->pb[2];
    /* ox with 0 <= ox * sx + xoff < iw */
    int64_t lo = xoff >= 0 ? 0 : floor_div(-xoff + sx - 1, sx);
    int64_t hi = floor_div(iw - 1 - xoff, sx) + 1;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    int64_t nidx = n0, end = n0 + nt;
    while (nidx < end) {
        int64_t line = nidx / ow, ox0 = nidx % ow;
        int64_t ox1 = ow - ox0 < end - nidx ? ow : ox0 + (end - nidx);
        int64_t oy = line % oh, oz = line / oh;
        int64_t iy = oy * q->s[1] + ky * q->d[1] - q->pb[1];
        int64_t iz = oz * q->s[0] + kz * q->d[0] - q->pb[0];
        /* dst[base + ox] is output pixel (line, ox) */
        int64_t base = (nidx - n0) - ox0;
        if (iy < 0 || iy >= q->in[1] || iz < 0 || iz >= q->in[0]) {
            memset(dst + base + ox0, 0, (size_t)(ox1 - ox0) * sizeof(float));
        } else {
            const float *src = plane + (iz * q->in[1] + iy) * iw;
            int64_t a = lo > ox0 ? lo : ox0, b = hi < ox1 ? hi : ox1;
            if (b < a) b = a;
            int64_t ox = ox0;
            for (; ox < a; ox++) dst[base + ox] = 0.0f;
            if (sx == 1) {
                if (b > a) memcpy(dst + base + a, src + a + xoff, (size_t)(b - a) * sizeof(float));
                ox = b;
            } else {
                for (; ox < b; ox++) dst[base + ox] = src[ox * sx + xoff];
            }
            for (; ox < ox1; ox++) dst[base + ox] = 0.0f;
        }
        nidx += ox1 - ox0;
    }
}

static void col_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const col_job *j = arg;
    const conv_geom *q = j->q;
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > q->kdim) r1 = q->kdim;
    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / q->ksz, t = r % q->ksz;
        int64_t kx = t % q->k[2], ky = (t / q->k[2]) % q->k[1], kz = t / (q->k[2] * q->k[1]);
        col_row(q, j->x + ci * q->in_sp, kz, ky, kx, j->n0, j->nt, j->col + r * j->nt);
    }
}

/* ---- direct path (one input channel per group) -------------------------------- */

#define MI__DIRECT_CHUNK 256

typedef struct direct_job {
    const conv_geom *q;
    const float *x, *w, *bias, *res;
    float *y;
    int act;
    float lo, hi;
} direct_job;

/* out[0, n) = act(acc + bias + res): one loop per activation, so each is
 * a plain vector loop. res may be out itself (planned in place): each
 * element is read just before it is written. */
MI__INLINE static void direct_store(const direct_job *j, const float *restrict acc, float *o,
                                    const float *r, float bias, int64_t n) {
    const float lo = j->lo, hi = j->hi;
#define MI__DIRECT_STORE(ACT)                                                                     \
    do {                                                                                          \
        if (r)                                                                                    \
            for (int64_t i = 0; i < n; i++)                                                       \
                o[i] = mi_k_conv_epilogue(acc[i], bias, r[i], ACT, lo, hi);                       \
        else                                                                                      \
            for (int64_t i = 0; i < n; i++)                                                       \
                o[i] = mi_k_conv_epilogue(acc[i], bias, 0.0f, ACT, lo, hi);                       \
    } while (0)
    if (j->act == MI_K_ACT_RELU) MI__DIRECT_STORE(MI_K_ACT_RELU);
    else if (j->act == MI_K_ACT_CLIP) MI__DIRECT_STORE(MI_K_ACT_CLIP);
    else MI__DIRECT_STORE(MI_K_ACT_NONE);
#undef MI__DIRECT_STORE
}

/* Padded row r of the plane (input row r - pad) over padded columns
 * [0, len): zeros outside the input. */
MI__INLINE static void dw3_pad_row(const conv_geom *q, const float *plane, int64_t r, float *dst,
                                   int64_t len) {
    const int64_t iy = r - q->pb[1], iw = q->in[2], px = q->pb[2];
    if (iy < 0 || iy >= q->in[1]) {
        memset(dst, 0, (size_t)len * sizeof *dst);
        return;
    }
    int64_t a = px < len ? px : len, b = px + iw < len ? px + iw : len; /* b >= a: iw >= 1 */
    memset(dst, 0, (size_t)a * sizeof *dst);
    memcpy(dst + a, plane + iy * iw + (a - px), (size_t)(b - a) * sizeof *dst);
    memset(dst + b, 0, (size_t)(len - b) * sizeof *dst);
}

/* One output plane of a 3x3 depthwise convolution, in bands of output
 * rows. A band's padded input is laid out with the pitch of its output
 * rows plus the padding, so the whole band is one flat loop of nine
 * multiply-adds at constant offsets (rows of 7 or 14 outputs vectorize as
 * well as rows of 112), then each row gets the epilogue. Stride 2 splits
 * the padded input by row and column parity into four planes, which makes
 * every tap a contiguous load again. MobileNet-V2 spends most of its
 * depthwise time here. */
MI__INLINE static void dw3_plane(const direct_job *j, const float *plane, const float *w,
                                 float *out, const float *res, float bias) {
    const conv_geom *q = j->q;
    const int64_t ow = q->out[2], oh = q->out[1];
    float in[MI__DW3_IN], acc[MI__DW3_OUT], row[MI__DW3_IN / 3];
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5], w6 = w[6],
                w7 = w[7], w8 = w[8];
    if (q->s[2] == 1) {
        const int64_t pw = ow + 2; /* pitch: output x reads padded x .. x + 2 */
        int64_t band = (MI__DW3_IN - 2) / pw - 2;
        if (band > MI__DW3_OUT / pw) band = MI__DW3_OUT / pw;
        for (int64_t y0 = 0; y0 < oh; y0 += band) {
            int64_t nr = oh - y0 < band ? oh - y0 : band;
            for (int64_t r = 0; r < nr + 2; r++) dw3_pad_row(q, plane, y0 + r, in + r * pw, pw);
            in[(nr + 2) * pw] = in[(nr + 2) * pw + 1] = 0.0f; /* read by the junk columns */
            const float *restrict a = in, *restrict b = in + pw, *restrict c = in + 2 * pw;
            for (int64_t i = 0; i < nr * pw; i++)
                acc[i] = w0 * a[i] + w1 * a[i + 1] + w2 * a[i + 2] + w3 * b[i] + w4 * b[i + 1] +
                         w5 * b[i + 2] + w6 * c[i] + w7 * c[i + 1] + w8 * c[i + 2];
            for (int64_t y = 0; y < nr; y++)
                direct_store(j, acc + y * pw, out + (y0 + y) * ow,
                             res ? res + (y0 + y) * ow : NULL, bias, ow);
        }
        return;
    }
    /* Stride 2: output (y, x) reads padded rows 2y .. 2y + 2 and columns
     * 2x .. 2x + 2; ee holds the even rows' even columns (y, x at y * pw +
     * x), eo their odd columns, oe and oo the odd rows'. */
    const int64_t pw = ow + 1;
    int64_t band = ((MI__DW3_IN - 2) / pw - 2) / 4;
    if (band > MI__DW3_OUT / pw) band = MI__DW3_OUT / pw;
    for (int64_t y0 = 0; y0 < oh; y0 += band) {
        int64_t nr = oh - y0 < band ? oh - y0 : band;
        float *ee = in, *eo = ee + (nr + 1) * pw + 1, *oe = eo + (nr + 1) * pw,
              *oo = oe + nr * pw + 1;
        for (int64_t r = 0; r < 2 * nr + 1; r++) {
            dw3_pad_row(q, plane, 2 * y0 + r, row, 2 * pw);
            float *e = (r & 1 ? oe : ee) + (r / 2) * pw, *o = (r & 1 ? oo : eo) + (r / 2) * pw;
            for (int64_t x = 0; x < pw; x++) {
                e[x] = row[2 * x];
                o[x] = row[2 * x + 1];
            }
        }
        ee[(nr + 1) * pw] = oe[nr * pw] = 0.0f; /* read by the junk column */
        const float *restrict e0 = ee, *restrict o0 = eo, *restrict e1 = oe, *restrict o1 = oo,
                              *restrict e2 = ee + pw, *restrict o2 = eo + pw;
        for (int64_t i = 0; i < nr * pw; i++)
            acc[i] = w0 * e0[i] + w1 * o0[i] + w2 * e0[i + 1] + w3 * e1[i] + w4 * o1[i] +
                     w5 * e1[i + 1] + w6 * e2[i] + w7 * o2[i] + w8 * e2[i + 1];
        for (int64_t y = 0; y < nr; y++)
            direct_store(j, acc + y * pw, out + (y0 + y) * ow, res ? res + (y0 + y) * ow : NULL,
                         bias, ow);
    }
}

MI__INLINE static void direct_task_body(void *arg, int64_t task, int thread) {
    (void)thread;
    const direct_job *j = arg;
    const conv_geom *q = j->q;
    int64_t b = task / q->m, oc = task % q->m;
    const float *plane = j->x + (b * q->c + oc / q->mg) * q->in_sp;
    const float *w = j->w + oc * q->ksz;
    float *out = j->y + (b * q->m + oc) * q->out_sp;
    const float *res = j->res ? j->res + (b * q->m + oc) * q->out_sp : NULL;
    const float bias = j->bias ? j->bias[oc] : 0.0f;
    if (q->dw3) {
        dw3_plane(j, plane, w, out, res, bias);
        return;
    }
    const int64_t ow = q->out[2], iw = q->in[2], sx = q->s[2];
    float acc[MI__DIRECT_CHUNK];
    for (int64_t oz = 0; oz < q->out[0]; oz++) {
        for (int64_t oy = 0; oy < q->out[1]; oy++) {
            int64_t line = (oz * q->out[1] + oy) * ow;
            for (int64_t x0 = 0; x0 < ow; x0 += MI__DIRECT_CHUNK) {
                int64_t x1 = x0 + MI__DIRECT_CHUNK < ow ? x0 + MI__DIRECT_CHUNK : ow;
                for (int64_t i = 0; i < x1 - x0; i++) acc[i] = 0.0f;
                for (int64_t kz = 0; kz < q->k[0]; kz++) {
                    int64_t iz = oz * q->s[0] + kz * q->d[0] - q->pb[0];
                    if (iz < 0 || iz >= q->in[0]) continue;
                    for (int64_t ky = 0; ky < q->k[1]; ky++) {
                        int64_t iy = oy * q->s[1] + ky * q->d[1] - q->pb[1];
                        if (iy < 0 || iy >= q->in[1]) continue;
                        const float *row = plane + (iz * q->in[1] + iy) * iw;
                        for (int64_t kx = 0; kx < q->k[2]; kx++) {
                            const float wv = w[(kz * q->k[1] + ky) * q->k[2] + kx];
                            int64_t xoff = kx * q->d[2] - q->pb[2];
                            int64_t lo = xoff >= 0 ? 0 : floor_div(-xoff + sx - 1, sx);
                            int64_t hi = floor_div(iw - 1 - xoff, sx) + 1;
                            if (lo < x0) lo = x0;
                            if (hi > x1) hi = x1;
                            if (hi <= lo) continue;
                            if (sx == 1) {
                                const float *restrict src = row + (lo + xoff);
                                float *restrict a = acc + (lo - x0);
                                for (int64_t i = 0; i < hi - lo; i++) a[i] += wv * src[i];
                            } else {
                                for (int64_t ox = lo; ox < hi; ox++)
                                    acc[ox - x0] += wv * row[ox * sx + xoff];
                            }
                        }
                    }
                }
                direct_store(j, acc, out + line + x0, res ? res + line + x0 : NULL, bias, x1 - x0);
            }
        }
    }
}

/* Compiled per instruction set, as the GEMM's tasks are (gemm.c). */
MI__ISA_TASKS(direct_task, direct_task_body)

/* ---- the op ------------------------------------------------------------------------ */

static int overlaps(const void *a, size_t na, const void *b, size_t nb) {
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return na && nb && x < y + nb && y < x + na;
}

mi_status mi__cpu_conv(mi__cpu_call *c) {
    const mi_graph *g = c->g;
    const mi_node *n = c->n;
    conv_geom q;
    geom_init(g, n, &c->p.u.conv, &q);
    geom_tile(c->cpu, &q);
    const mi_tensor *xt = mi__cpu_in_t(c, 0), *yt = mi__cpu_out_t(c, 0);
    const float *x = c->in[0], *w = c->in[1];
    const float *bias = n->ninputs > 2 && c->in[2] ? (const float *)c->in[2] : NULL;
    float *y = c->out[0];
    const float *res = n->fused.residual >= 0 ? (const float *)c->residual : NULL;
    if (overlaps(x, xt->nbytes, y, yt->nbytes))
        return mi__cpu_err(c, MI_ERR_PLAN_INVALID, "the output '%s' overlaps the input '%s'; a "
                           "convolution cannot run in place on its input", yt->name, xt->name);
    if (res && res != (const float *)y && overlaps(res, yt->nbytes, y, yt->nbytes))
        return mi__cpu_err(c, MI_ERR_PLAN_INVALID, "the output '%s' partly overlaps the residual",
                           yt->name);
    int act = n->fused.act;
    float lo = n->fused.act_min, hi = n->fused.act_max;

    if (q.direct) {
        direct_job j = {&q, x, w, bias, res, y, act, lo, hi};
        mi__cpu_parallel(c->cpu, q.batch * q.m, q.batch * q.m * q.out_sp * q.ksz, direct_task_for(c->cpu->gk->isa), &j);
        return MI_OK;
    }
    size_t need = q.col_bytes + q.gemm_bytes + MI__CPU_WS_ALIGN;
    if (!c->ws || c->ws_size < need)
        return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes, prepare() asked "
                           "for %zu", c->ws ? c->ws_size : 0, need);
    float *col = mi__cpu_ws_align(c->ws);
    char *gws = (char *)col + q.col_bytes;
    size_t gws_size = c->ws_size - (size_t)(gws - (char *)c->ws);
    for (int64_t b = 0; b < q.batch; b++) {
        for (int64_t gi = 0; gi < q.group; gi++) {
            const float *xg = x + (b * q.c + gi * q.cg) * q.in_sp;
            const float *wg = w + gi * q.mg * q.kdim;
            float *yg = y + (b * q.m + gi * q.mg) * q.out_sp;
            const float *rg = res ? res + (b * q.m + gi * q.mg) * q.out_sp : NULL;
            mi__gemm_epi e;
            mi__gemm_epi_init(&e);
            e.bias_row = bias ? bias + gi * q.mg : NULL;
            e.act = act;
            e.act_min = lo;
            e.act_max = hi;
            /* out == residual: the residual is already in out; add onto it. */
            e.accumulate = rg && rg == yg;
            if (q.pointwise) {
                e.residual = e.accumulate ? NULL : rg;
                e.ldr = q.out_sp;
                if (mi__sgemm(c->cpu, 0, 0, q.mg, q.out_sp, q.kdim, wg, q.kdim, xg, q.out_sp, yg,
                              q.out_sp, &e, gws, gws_size))
                    return mi__cpu_err(c, MI_ERR_INTERNAL, "GEMM workspace too small");
                continue;
            }
            for (int64_t n0 = 0; n0 < q.out_sp; n0 += q.tile) {
                int64_t nt = q.out_sp - n0 < q.tile ? q.out_sp - n0 : q.tile;
                int64_t rows = q.kdim / (4 * (int64_t)c->cpu->nthreads) + 1;
                col_job cj = {&q, xg, col, n0, nt, rows};
                mi__cpu_parallel(c->cpu, (q.kdim + rows - 1) / rows, q.kdim * nt, col_task, &cj);
                e.residual = rg && !e.accumulate ? rg + n0 : NULL;
                e.ldr = q.out_sp;
                if (mi__sgemm(c->cpu, 0, 0, q.mg, nt, q.kdim, wg, q.kdim, col, nt, yg + n0,
                              q.out_sp, &e, gws, gws_size))
                    return mi__cpu_err(c, MI_ERR_INTERNAL, "GEMM workspace too small");
            }
        }
    }
    return MI_OK;
}
