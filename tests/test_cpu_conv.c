/* The CPU backend's convolution against a naive direct convolution written
 * here: every path (im2col + GEMM, 1x1 without im2col, direct depthwise),
 * groups, dilations, strides, asymmetric pads, 1-D and 3-D, batches, every
 * GEMM micro-kernel this machine runs, the fused epilogue (Relu, Clip, a
 * residual, out == residual in place) and the planned workspace (poisoned,
 * tiled small). */
#include "cpu_test_util.h"

typedef struct cspec {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    int bias;
} cspec;

typedef struct copts {
    int act;          /* MI_ACT_* via Relu / Clip after the conv */
    int residual;     /* Conv -> Add(conv, r) */
    int residual_lhs; /* Add(r, conv) instead */
    int inplace;      /* out shares the residual's buffer */
    size_t max_ws;    /* backend option */
    const mi__gemm_kernel *kernel;
    size_t *ws_out;   /* the workspace prepare reported */
} copts;

static int64_t out_dim(const cspec *s, int i) {
    int64_t ext = (s->k[i] - 1) * s->d[i] + 1;
    return (s->in[i] + s->pb[i] + s->pe[i] - ext) / s->s[i] + 1;
}

/* Naive direct convolution, double accumulation, + bias + residual, act. */
static void ref_conv(const cspec *s, const float *x, const float *w, const float *b,
                     const float *r, int act, float lo, float hi, double *y) {
    int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, st[3] = {1, 1, 1}, d[3] = {1, 1, 1}, p[3] = {0, 0, 0},
            o[3] = {1, 1, 1};
    for (int i = 0; i < s->nsp; i++) {
        int j = 3 - s->nsp + i;
        in[j] = s->in[i];
        k[j] = s->k[i];
        st[j] = s->s[i];
        d[j] = s->d[i];
        p[j] = s->pb[i];
        o[j] = out_dim(s, i);
    }
    int64_t cg = s->c / s->group, mg = s->m / s->group, osp = o[0] * o[1] * o[2],
            isp = in[0] * in[1] * in[2];
    for (int64_t n = 0; n < s->n; n++)
        for (int64_t m = 0; m < s->m; m++)
            for (int64_t oz = 0; oz < o[0]; oz++)
                for (int64_t oy = 0; oy < o[1]; oy++)
                    for (int64_t ox = 0; ox < o[2]; ox++) {
                        double acc = 0.0;
                        int64_t g = m / mg;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t kz = 0; kz < k[0]; kz++)
                                for (int64_t ky = 0; ky < k[1]; ky++)
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t iz = oz * st[0] - p[0] + kz * d[0];
                                        int64_t iy = oy * st[1] - p[1] + ky * d[1];
                                        int64_t ix = ox * st[2] - p[2] + kx * d[2];
                                        if (iz < 0 || iz >= in[0] || iy < 0 || iy >= in[1] || ix < 0 ||
                                            ix >= in[2])
                                            continue;
                                        double xv = x[(n * s->c + g * cg + ci) * isp +
                                                      (iz * in[1] + iy) * in[2] + ix];
                                        double wv = w[((m * cg + ci) * k[0] + kz) * k[1] * k[2] +
                                                      ky * k[2] + kx];
                                        acc += xv * wv;
                                    }
                        int64_t at = (n * s->m + m) * osp + (oz * o[1] + oy) * o[2] + ox;
                        if (b) acc += b[m];
                        if (r) acc += r[at];
                        if (act == MI_ACT_RELU) acc = acc < 0 ? 0 : acc;
                        if (act == MI_ACT_CLIP) acc = acc < lo ? lo : acc > hi ? hi : acc;
                        y[at] = acc;
                    }
}

static void conv_check(const cspec *s, const copts *o) {
    mi_rng rng = {0x1234u + (uint64_t)s->c * 7 + (uint64_t)s->m};
    int64_t xd[5] = {s->n, s->c}, wd[5] = {s->m, s->c / s->group}, yd[5] = {s->n, s->m};
    int64_t pads[6], xn = s->n * s->c, wn = s->m * (s->c / s->group), yn = s->n * s->m;
    for (int i = 0; i < s->nsp; i++) {
        xd[2 + i] = s->in[i];
        wd[2 + i] = s->k[i];
        yd[2 + i] = out_dim(s, i);
        pads[i] = s->pb[i];
        pads[s->nsp + i] = s->pe[i];
        xn *= s->in[i];
        wn *= s->k[i];
        yn *= yd[2 + i];
    }
    float *x = rand_floats(&rng, (size_t)xn), *w = rand_floats(&rng, (size_t)wn);
    float *b = rand_floats(&rng, (size_t)s->m), *r = rand_floats(&rng, (size_t)yn);
    double *ref = zeros((size_t)yn);
    const float lo = -0.25f, hi = 0.5f;
    ref_conv(s, x, w, s->bias ? b : NULL, o->residual ? r : NULL, o->act, lo, hi, ref);

    mi_backend_options bo;
    mi_backend_options_init(&bo);
    bo.max_workspace = o->max_ws;
    tg t;
    tg_init_opts(&t, 13, &bo);
    if (o->kernel) ((mi__cpu *)t.b->state)->gk = o->kernel;
    tg_input(&t, "x", MI_DTYPE_FLOAT, 2 + s->nsp, xd, x);
    tg_weight(&t, "w", MI_DTYPE_FLOAT, 2 + s->nsp, wd, w);
    if (s->bias) tg_weight(&t, "b", MI_DTYPE_FLOAT, 1, &s->m, b);
    mi_attr at[4] = {A_ints("strides", (size_t)s->nsp, s->s), A_ints("dilations", (size_t)s->nsp, s->d),
                     A_ints("pads", 2 * (size_t)s->nsp, pads), A_int("group", s->group)};
    const char *last = "c";
    tg_node(&t, "Conv", s->bias ? "x,w,b" : "x,w", "c", 4, at);
    if (o->residual) {
        tg_input(&t, "r", MI_DTYPE_FLOAT, 2 + s->nsp, yd, r);
        tg_node(&t, "Add", o->residual_lhs ? "r,c" : "c,r", "a", 0, NULL);
        last = "a";
    }
    if (o->act == MI_ACT_RELU) {
        tg_node(&t, "Relu", last, "y", 0, NULL);
    } else if (o->act == MI_ACT_CLIP) {
        tg_weight(&t, "lo", MI_DTYPE_FLOAT, 0, NULL, &lo);
        tg_weight(&t, "hi", MI_DTYPE_FLOAT, 0, NULL, &hi);
        char ins[32];
        snprintf(ins, sizeof ins, "%s,lo,hi", last);
        tg_node(&t, "Clip", ins, "y", 0, NULL);
    } else {
        tg_node(&t, "Identity", last, "y", 0, NULL);
    }
    tg_output(&t, "y");
    tg_finalize(&t, 1, 1);
    /* The fusion pass folded everything into the Conv (the Identity stays). */
    const mi_node *cn = mi_graph_node(t.g, 0);
    cr_assert_eq(cn->op, MI_OP_CONV);
    cr_assert_eq((int)cn->fused.act, o->act);
    cr_assert_eq(cn->fused.residual >= 0, o->residual != 0);
    if (o->inplace) {
        cr_assert(o->residual);
        tg_alias(&t, mi_graph_tensor(t.g, (size_t)cn->outputs[0])->name, "r");
    }
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, (size_t)yn);
    if (o->ws_out) *o->ws_out = t.ws[0];
    tg_free(&t);
    free(x);
    free(w);
    free(b);
    free(r);
    free(ref);
}

static cspec spec2d(int64_t n, int64_t c, int64_t m, int64_t g, int64_t h, int64_t w, int64_t k,
                    int64_t s, int64_t p) {
    cspec q = {2, n, c, m, g, {h, w}, {k, k}, {s, s}, {1, 1}, {p, p}, {p, p}, 1};
    return q;
}

static const copts plain = {0};

Test(cpu_conv, basic_3x3_pad_bias) {
    cspec s = spec2d(1, 3, 4, 1, 8, 8, 3, 1, 1);
    conv_check(&s, &plain);
    s.bias = 0;
    conv_check(&s, &plain);
}

Test(cpu_conv, strided_dilated_asymmetric_pads) {
    cspec s = {2, 1, 3, 5, 1, {9, 11}, {3, 2}, {2, 3}, {2, 1}, {1, 0}, {2, 1}, 1};
    conv_check(&s, &plain);
}

Test(cpu_conv, grouped) {
    cspec s = spec2d(2, 8, 12, 4, 7, 7, 3, 1, 1);
    conv_check(&s, &plain);
}

Test(cpu_conv, depthwise_direct_path) {
    cspec s = spec2d(2, 6, 6, 6, 10, 10, 3, 2, 1);
    conv_check(&s, &plain);
    cspec d = {2, 1, 5, 5, 5, {12, 9}, {3, 3}, {1, 2}, {2, 2}, {2, 1}, {1, 3}, 1};
    conv_check(&d, &plain);
    cspec mult = spec2d(1, 4, 12, 4, 9, 9, 5, 1, 2); /* channel multiplier 3 */
    conv_check(&mult, &plain);
    cspec wide = spec2d(1, 2, 2, 2, 3, 300, 3, 1, 1); /* rows longer than the chunk */
    conv_check(&wide, &plain);
    cspec big = spec2d(2, 32, 32, 32, 40, 40, 3, 1, 1); /* enough work for the thread pool */
    copts o = {0};
    o.act = MI_ACT_CLIP;
    o.residual = 1;
    o.inplace = 1;
    conv_check(&big, &o);
}

/* The 3x3 form of the direct path (stride 1 or 2, padded rows in a ring):
 * every pad from 0 to 2 on each side, inputs smaller than the kernel, a
 * channel multiplier, several bands of rows, and rows too wide for its
 * buffers (the generic loops again) on both sides of the limit. */
Test(cpu_conv, depthwise_3x3_path) {
    static const int64_t hw[][2] = {{1, 1}, {2, 3}, {5, 7}, {8, 8}};
    int checked = 0;
    for (int64_t st = 1; st <= 2; st++)
        for (size_t i = 0; i < MI__ARRAY_LEN(hw); i++)
            for (int pads = 0; pads < 81; pads++) {
                int64_t pb0 = pads % 3, pe0 = pads / 3 % 3, pb1 = pads / 9 % 3, pe1 = pads / 27;
                if ((pads + (int)i) % 4 && pads != 80) continue; /* a quarter of them, and all 2s */
                cspec s = {2, 1, 2, 4, 2, {hw[i][0], hw[i][1]}, {3, 3}, {st, st}, {1, 1},
                           {pb0, pb1}, {pe0, pe1}, (int)(pads & 1)};
                if (s.in[0] + pb0 + pe0 < 3 || s.in[1] + pb1 + pe1 < 3 || pb0 > s.in[0] || pe0 > s.in[0] ||
                    pb1 > s.in[1] || pe1 > s.in[1])
                    continue; /* shapes the model loader refuses */
                conv_check(&s, &plain);
                checked++;
            }
    cr_assert_geq(checked, 40);
    /* 3-D with a depth of 1 whose one output slice reads only the depth
     * padding: not the 3x3 form's (review finding), the bias alone. */
    cspec deep = {3, 1, 2, 2, 2, {1, 6, 6}, {1, 3, 3}, {2, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 1, 1}, 1};
    conv_check(&deep, &plain);
    copts o = {0};
    o.act = MI_ACT_RELU;
    o.residual = 1;
    o.inplace = 1;
    cspec s1 = spec2d(2, 3, 3, 3, 6, 9, 3, 1, 1), s2 = spec2d(2, 3, 3, 3, 9, 6, 3, 2, 1);
    const mi__gemm_kernel *const *ks = mi__gemm_kernels(); /* its copy per instruction set */
    for (int i = 0; ks[i]; i++) {
        o.kernel = ks[i];
        conv_check(&s1, &o);
        conv_check(&s2, &o);
    }
    o.kernel = NULL;
    /* Several bands of rows per plane. */
    cspec tall1 = spec2d(1, 2, 2, 2, 45, 100, 3, 1, 1), tall2 = spec2d(1, 2, 2, 2, 130, 100, 3, 2, 1);
    conv_check(&tall1, &o);
    conv_check(&tall2, &plain);
    for (int64_t w = 1019; w <= 1024; w++) { /* stride 1 takes rows of up to 1021 outputs */
        cspec wide = spec2d(1, 1, 1, 1, 2, w, 3, 1, 1);
        conv_check(&wide, &plain);
    }
    for (int64_t w = 1017; w <= 1023; w += 2) { /* stride 2 up to 510 */
        cspec wide = spec2d(1, 1, 1, 1, 3, w, 3, 2, 1);
        conv_check(&wide, &plain);
    }
}

Test(cpu_conv, pointwise_no_im2col_batch) {
    cspec s = spec2d(3, 16, 24, 1, 5, 6, 1, 1, 0);
    conv_check(&s, &plain);
}

Test(cpu_conv, pointwise_strided_and_padded) {
    cspec s = spec2d(1, 16, 8, 1, 9, 9, 1, 2, 0);
    conv_check(&s, &plain);
    s = spec2d(1, 4, 8, 1, 5, 5, 1, 1, 1);
    conv_check(&s, &plain);
}

Test(cpu_conv, conv1d_and_conv3d) {
    cspec s1 = {1, 2, 3, 4, 1, {17}, {3}, {2}, {2}, {1}, {2}, 1};
    conv_check(&s1, &plain);
    cspec s3 = {3, 1, 2, 3, 1, {5, 6, 7}, {2, 3, 3}, {1, 2, 1}, {2, 1, 1}, {1, 1, 0}, {0, 1, 2}, 1};
    conv_check(&s3, &plain);
    cspec dw3 = {3, 1, 3, 3, 3, {4, 5, 6}, {3, 3, 3}, {1, 1, 2}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, 1};
    conv_check(&dw3, &plain);
}

/* K = 40 * 9 = 360 spans two K blocks; M = 70 is not a multiple of MR. */
Test(cpu_conv, every_gemm_kernel_k_blocks) {
    const mi__gemm_kernel *const *ks = mi__gemm_kernels();
    cr_assert(ks[0]);
    for (int i = 0; ks[i]; i++) {
        cspec s = spec2d(1, 40, 70, 1, 13, 13, 3, 1, 1);
        copts o = {0};
        o.kernel = ks[i];
        conv_check(&s, &o);
        o.act = MI_ACT_RELU;
        o.residual = 1;
        o.inplace = 1;
        conv_check(&s, &o);
    }
}

/* ---- the fused epilogue ------------------------------------------------------------- */

static void fused_all(const cspec *s) {
    for (int act = MI_ACT_NONE; act <= MI_ACT_CLIP; act++)
        for (int res = 0; res <= 1; res++)
            for (int inplace = 0; inplace <= res; inplace++) {
                if (act == MI_ACT_NONE && !res) continue;
                copts o = {0};
                o.act = act;
                o.residual = res;
                o.inplace = inplace;
                o.residual_lhs = inplace; /* Add(r, conv) too */
                conv_check(s, &o);
            }
}

Test(cpu_conv, fused_im2col_path) {
    cspec s = spec2d(2, 5, 7, 1, 9, 8, 3, 1, 1);
    fused_all(&s);
}

Test(cpu_conv, fused_pointwise_path) {
    cspec s = spec2d(2, 12, 12, 1, 6, 7, 1, 1, 0);
    fused_all(&s);
}

Test(cpu_conv, fused_depthwise_path) {
    cspec s = spec2d(1, 8, 8, 8, 9, 9, 3, 1, 1);
    fused_all(&s);
}

Test(cpu_conv, fused_residual_in_place_over_k_blocks) {
    cspec s = spec2d(1, 64, 16, 1, 6, 6, 3, 1, 1); /* K = 576: three K blocks */
    fused_all(&s);
}

/* ---- the workspace -------------------------------------------------------------------- */

/* The conv's im2col lives in the workspace prepare() reports; tg_run
 * fills it with NaN first, so a kernel that reads scratch it did not write
 * (or uses memory outside it) gets a wrong answer. */
Test(cpu_conv, workspace_reported_and_poisoned) {
    cspec s = spec2d(1, 8, 16, 1, 12, 12, 3, 1, 1);
    size_t ws = 0;
    copts o = {0};
    o.ws_out = &ws;
    conv_check(&s, &o);
    cr_assert_geq(ws, (size_t)(8 * 9 * 4), "im2col needs K x tile floats, prepare reported %zu", ws);
    cr_assert_leq(ws, MI__CPU_DEFAULT_WS_CAP + 4096);
    /* The direct path needs none. */
    cspec d = spec2d(1, 8, 8, 8, 12, 12, 3, 1, 1);
    o.ws_out = &ws;
    conv_check(&d, &o);
    cr_assert_eq(ws, 0);
}

Test(cpu_conv, tiny_max_workspace_tiles_the_same) {
    cspec s = spec2d(2, 24, 20, 2, 15, 15, 3, 2, 1);
    size_t big = 0, small = 0;
    copts o = {0};
    o.ws_out = &big;
    o.act = MI_ACT_RELU;
    o.residual = 1;
    conv_check(&s, &o);
    o.ws_out = &small;
    o.max_ws = 2048;
    conv_check(&s, &o);
    cr_assert_lt(small, big, "a 2 KiB cap gave %zu bytes, the default %zu", small, big);
    o.max_ws = 1; /* one strip of columns per tile, the GEMM's B blocks one strip wide */
    o.inplace = 1;
    conv_check(&s, &o);
}

/* A cap between one strip and the whole image: tiles of several strips
 * within the cap, and a 1x1 convolution's GEMM packs narrowed to fit. */
Test(cpu_conv, workspace_cap_is_kept) {
    cr_assert_eq(setenv("MI_CPU_THREADS", "2", 1), 0); /* the packs scale with the threads */
    cspec s = spec2d(1, 16, 8, 1, 40, 40, 3, 1, 1), pw = spec2d(1, 128, 16, 1, 40, 40, 1, 1, 0);
    size_t full = 0, capped = 0, cap = 96 << 10;
    copts o = {0};
    o.ws_out = &full;
    conv_check(&s, &o);
    o.ws_out = &capped;
    o.max_ws = cap;
    conv_check(&s, &o);
    cr_assert_lt(capped, full);
    cr_assert_leq(capped, cap, "im2col: %zu bytes under a cap of %zu", capped, cap);
    o.ws_out = &full;
    o.max_ws = 0;
    conv_check(&pw, &o);
    o.ws_out = &capped;
    o.max_ws = cap;
    conv_check(&pw, &o);
    cr_assert_lt(capped, full, "1x1: %zu bytes under the cap, %zu without", capped, full);
}

Test(cpu_conv, refuses_output_over_input) {
    int64_t xd[4] = {1, 4, 6, 6}, wd[4] = {4, 4, 3, 3};
    mi_rng rng = {7};
    float *x = rand_floats(&rng, 144), *w = rand_floats(&rng, 144);
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 4, xd, x);
    tg_weight(&t, "w", MI_DTYPE_FLOAT, 4, wd, w);
    tg_node(&t, "Conv", "x,w", "y", 1, (mi_attr[]){A_ints("pads", 4, (int64_t[]){1, 1, 1, 1})});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 1);
    tg_alias(&t, "y", "x");
    cr_assert_eq(tg_run(&t), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "Conv"), "message names the node: %s", mi_last_error());
    tg_free(&t);
    free(x);
    free(w);
}
