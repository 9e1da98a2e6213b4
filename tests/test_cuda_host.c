/* The CUDA backend's host-side logic, on a machine without a GPU:
 * descriptor parameters computed from graphs (cuda/host_plan.c), the
 * algorithm choice under a workspace budget, workspace layouts, and
 * the index arithmetic our kernels share with these tests
 * (cuda/index_math.h, src/kernels/elementwise.h). Each check emulates on
 * the host what the device will do with the computed plan and compares it
 * with a naive reference. The library glue is in test_cuda_lib.c. */
#include <criterion/criterion.h>

#include "graph_build.h"
#include "host_plan.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const mi_node *node_of(gb *b, mi_op op) {
    for (size_t i = 0; i < mi_graph_node_count(b->g); i++)
        if (mi_graph_node(b->g, i)->op == op) return mi_graph_node(b->g, i);
    cr_assert_fail("no %s node", mi_op_name(op));
    return NULL;
}

static mi__op_params params_of(gb *b, const mi_node *n) {
    mi__op_params p;
    cr_assert_eq(mi__op_params_get(b->g, n, &p), MI_OK, "%s", mi_last_error());
    return p;
}

static void expect_ints(const int *got, const int *want, int n, const char *what) {
    for (int i = 0; i < n; i++) cr_assert_eq(got[i], want[i], "%s[%d] = %d, expected %d", what, i, got[i], want[i]);
}

static float frand(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* ---- tensors as cuDNN sees them ---------------------------------------------------------- */

Test(cuda_host, nd_packed_strides_and_int_limits) {
    mi__cu_nd nd;
    cr_assert_eq(mi__cu_nd_make(NULL, "x", 4, (const int64_t[]){2, 3, 4, 5}, &nd), MI_OK);
    expect_ints(nd.dims, (const int[]){2, 3, 4, 5}, 4, "dims");
    expect_ints(nd.strides, (const int[]){60, 20, 5, 1}, 4, "strides");
    mi_status st = mi__cu_nd_make(NULL, "big", 4, (const int64_t[]){1 << 16, 1 << 16, 1, 1}, &nd);
    cr_assert_eq(st, MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "big"), "%s", mi_last_error());
}

/* ---- convolution descriptors ------------------------------------------------------------- */

Test(cuda_host, conv_grouped_dilated_strided_asymmetric) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 9, 9));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(6, 2, 3, 3), NULL);
    gb_weight(&b, "bias", MI_DTYPE_FLOAT, 1, D(6), NULL);
    gb_node(&b, "Conv", "conv", "x,w,bias", "y",
            A(AINTS("pads", 1, 0, 2, 1), AINTS("strides", 2, 2), AINTS("dilations", 2, 2), AI("group", 2)));
    gb_output(&b, "y");
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 6, 4, 3));
    const mi_node *n = node_of(&b, MI_OP_CONV);
    mi__op_params p = params_of(&b, n);
    mi__cu_conv c;
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(c.nspatial, 2);
    cr_assert_eq(c.x.nb, 4);
    expect_ints(c.x.dims, (const int[]){1, 4, 9, 9}, 4, "x");
    expect_ints(c.w.dims, (const int[]){6, 2, 3, 3}, 4, "w");
    expect_ints(c.y.dims, (const int[]){1, 6, 4, 3}, 4, "y");
    expect_ints(c.bias.dims, (const int[]){1, 6, 1, 1}, 4, "bias");
    cr_assert_eq(c.groups, 2);
    expect_ints(c.stride, (const int[]){2, 2}, 2, "stride");
    expect_ints(c.dilation, (const int[]){2, 2}, 2, "dilation");
    /* pads (1, 2) and (0, 1): cuDNN gets the symmetric part, the rest is
     * padded explicitly at the end of each axis. */
    cr_assert(c.prepad);
    expect_ints(c.pad, (const int[]){1, 0}, 2, "pad");
    expect_ints(c.xp.dims, (const int[]){1, 4, 10, 10}, 4, "padded x");
    cr_assert_eq(c.prepad_k.begin[2], 0);
    cr_assert_eq(c.prepad_k.begin[3], 0);
    cr_assert_eq(c.prepad_k.count, 400);
    /* cuDNN's output formula on the padded input gives shape inference's. */
    for (int i = 0; i < 2; i++) {
        int eff = (c.w.dims[2 + i] - 1) * c.dilation[i] + 1;
        cr_assert_eq((c.xp.dims[2 + i] + 2 * c.pad[i] - eff) / c.stride[i] + 1, c.y.dims[2 + i]);
    }
    cr_assert(c.has_bias);
    cr_assert_not(c.has_residual);
    cr_assert_eq(c.out_channels, 6);
    cr_assert_eq(c.out_inner, 12);
    gb_free(&b);
}

Test(cuda_host, conv_prepad_puts_the_extra_at_the_begin_side) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 1, 6, 6));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(1, 1, 2, 2), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "y", A(AINTS("pads", 1, 1, 0, 0)));
    gb_output(&b, "y");
    gb_ok(&b);
    const mi_node *n = node_of(&b, MI_OP_CONV);
    mi__op_params p = params_of(&b, n);
    mi__cu_conv c;
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK);
    cr_assert(c.prepad);
    expect_ints(c.pad, (const int[]){0, 0}, 2, "pad");
    cr_assert_eq(c.prepad_k.begin[2], 1);
    cr_assert_eq(c.prepad_k.begin[3], 1);
    expect_ints(c.xp.dims, (const int[]){1, 1, 7, 7}, 4, "padded x");
    /* The pad plan puts x at rows/cols 1.. and zeros on row/col 0. */
    cr_assert_eq(mi__k_pad_src(&c.prepad_k, 0), -1);
    cr_assert_eq(mi__k_pad_src(&c.prepad_k, 7 + 1), 0);
    cr_assert_eq(mi__k_pad_src(&c.prepad_k, 48), 35);
    gb_free(&b);
}

Test(cuda_host, conv_1d_is_2d_with_height_1_and_3d_is_5d) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 2, 10));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 3, D(3, 2, 3), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "y", A(AINTS("pads", 1, 1), AINTS("strides", 2)));
    gb_output(&b, "y");
    gb_ok(&b);
    const mi_node *n = node_of(&b, MI_OP_CONV);
    mi__op_params p = params_of(&b, n);
    mi__cu_conv c;
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK);
    cr_assert_eq(c.nspatial, 2);
    expect_ints(c.x.dims, (const int[]){2, 2, 1, 10}, 4, "x");
    expect_ints(c.w.dims, (const int[]){3, 2, 1, 3}, 4, "w");
    expect_ints(c.y.dims, (const int[]){2, 3, 1, 5}, 4, "y");
    expect_ints(c.pad, (const int[]){0, 1}, 2, "pad");
    expect_ints(c.stride, (const int[]){1, 2}, 2, "stride");
    cr_assert_not(c.prepad);
    gb_free(&b);

    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 5, D(1, 1, 4, 5, 6));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 5, D(2, 1, 3, 3, 3), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    n = node_of(&b, MI_OP_CONV);
    p = params_of(&b, n);
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK);
    cr_assert_eq(c.nspatial, 3);
    cr_assert_eq(c.y.nb, 5);
    expect_ints(c.y.dims, (const int[]){1, 2, 2, 3, 4}, 5, "y");
    expect_ints(c.bias.dims, (const int[]){1, 2, 1, 1, 1}, 5, "bias");
    gb_free(&b);
}

Test(cuda_host, conv_fusions_reach_the_descriptor) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 8, 8));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(4, 4, 3, 3), NULL);
    gb_weight(&b, "w2", MI_DTYPE_FLOAT, 4, D(4, 1, 3, 3), NULL);
    gb_node(&b, "Conv", "c1", "x,w", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Add", "add", "t,x", "s", NOATTR);
    gb_node(&b, "Relu", "relu", "s", "r", NOATTR);
    gb_node(&b, "Conv", "dw", "r,w2", "u", A(AINTS("pads", 1, 1, 1, 1), AI("group", 4)));
    gb_weight(&b, "lo", MI_DTYPE_FLOAT, 0, NULL, (const float[]){0.0f});
    gb_weight(&b, "hi", MI_DTYPE_FLOAT, 0, NULL, (const float[]){6.0f});
    gb_node(&b, "Clip", "relu6", "u,lo,hi", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2, "both convs fused");
    mi__cu_conv c;
    const mi_node *n = mi_graph_node(b.g, 0);
    mi__op_params p = params_of(&b, n);
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK);
    cr_assert(c.has_residual);
    cr_assert_eq(c.act, MI_ACT_RELU);
    n = mi_graph_node(b.g, 1);
    p = params_of(&b, n);
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK);
    cr_assert_eq(c.groups, 4, "depthwise");
    cr_assert_eq(c.act, MI_ACT_CLIP);
    cr_assert_float_eq(c.act_max, 6.0f, 0.0f);
    gb_free(&b);
}

/* ---- the algorithm choice ----------------------------------------------------------------- */

static mi__cu_conv conv_kind(int bias, int residual, int act) {
    mi__cu_conv c;
    memset(&c, 0, sizeof c);
    c.has_bias = bias;
    c.has_residual = residual;
    c.act = act;
    return c;
}

#define PRECOMP MI__CU_ALGO_IMPLICIT_PRECOMP_GEMM

Test(cuda_host, conv_pick_follows_the_ranking_under_the_budget) {
    const mi__cu_algo ranked[] = {
        {6 /* WINOGRAD */, 1, 64 << 20, MI__CU_MATH_FMA},
        {5 /* FFT_TILING */, 0, 0, MI__CU_MATH_FMA},
        {2 /* GEMM */, 1, 1 << 20, MI__CU_MATH_TENSOR},
        {PRECOMP, 1, 4096, MI__CU_MATH_FMA},
        {0 /* IMPLICIT_GEMM */, 1, 0, MI__CU_MATH_FMA},
    };
    mi__cu_conv_choice ch;
    mi__cu_conv plain = conv_kind(0, 0, MI_ACT_NONE);
    /* Big budget: the fastest. */
    cr_assert_eq(mi__cu_conv_pick(&plain, ranked, 5, 0, (size_t)1 << 30, 0, &ch), 0);
    cr_assert_eq(ch.path, MI__CU_CONV_PLAIN);
    cr_assert_eq(ch.math, MI__CU_MATH_FMA);
    /* 2 MiB: Winograd does not fit, FFT_TILING failed, GEMM is a
     * tensor-op entry (TF32 off): PRECOMP. */
    cr_assert_eq(mi__cu_conv_pick(&plain, ranked, 5, 0, (size_t)2 << 20, 0, &ch), 3);
    /* With TF32 the tensor-op GEMM may be taken, with its math type. */
    cr_assert_eq(mi__cu_conv_pick(&plain, ranked, 5, 0, (size_t)2 << 20, 1, &ch), 2);
    cr_assert_eq(ch.math, MI__CU_MATH_TENSOR);
    /* Budget 0: only the zero-workspace algorithm. */
    cr_assert_eq(mi__cu_conv_pick(&plain, ranked, 5, 0, 0, 0, &ch), 4);
    /* `from` skips what the caller rejected. */
    cr_assert_eq(mi__cu_conv_pick(&plain, ranked, 5, 1, (size_t)1 << 30, 0, &ch), 3);
    /* Nothing usable. */
    const mi__cu_algo none[] = {{6, 0, 0, MI__CU_MATH_FMA}, {2, 1, 100, MI__CU_MATH_FMA}};
    cr_assert_eq(mi__cu_conv_pick(&plain, none, 2, 0, 10, 0, &ch), -1);
}

Test(cuda_host, conv_pick_paths_for_fusions) {
    const mi__cu_algo ranked[] = {
        {6, 1, 1 << 20, MI__CU_MATH_FMA},
        {PRECOMP, 1, 4096, MI__CU_MATH_FMA},
        {0, 1, 0, MI__CU_MATH_FMA},
    };
    mi__cu_conv_choice ch;
    mi__cu_conv relu = conv_kind(1, 1, MI_ACT_RELU);
    cr_assert_eq(mi__cu_conv_pick(&relu, ranked, 3, 0, (size_t)1 << 30, 0, &ch), 0, "ReLU fuses with any algorithm");
    cr_assert_eq(ch.path, MI__CU_CONV_FUSED);
    /* Identity activation (bias or residual only): cuDNN's fused call needs
     * IMPLICIT_PRECOMP_GEMM, preferred wherever it ranks. */
    mi__cu_conv bias_only = conv_kind(1, 0, MI_ACT_NONE);
    cr_assert_eq(mi__cu_conv_pick(&bias_only, ranked, 3, 0, (size_t)1 << 30, 0, &ch), 1);
    cr_assert_eq(ch.path, MI__CU_CONV_FUSED);
    cr_assert_eq(ch.algo, PRECOMP);
    /* PRECOMP over budget: the fastest that fits, with our epilogue. */
    cr_assert_eq(mi__cu_conv_pick(&bias_only, ranked, 3, 0, 1000, 0, &ch), 2);
    cr_assert_eq(ch.path, MI__CU_CONV_EPILOGUE);
    mi__cu_conv residual_only = conv_kind(0, 1, MI_ACT_NONE);
    cr_assert_eq(mi__cu_conv_pick(&residual_only, ranked, 3, 0, (size_t)1 << 30, 0, &ch), 1);
    cr_assert_eq(ch.path, MI__CU_CONV_FUSED);
    /* Clip (ReLU6) is not a cuDNN activation: always the epilogue. */
    mi__cu_conv clip = conv_kind(1, 0, MI_ACT_CLIP);
    cr_assert_eq(mi__cu_conv_pick(&clip, ranked, 3, 0, (size_t)1 << 30, 0, &ch), 0);
    cr_assert_eq(ch.path, MI__CU_CONV_EPILOGUE);
    cr_assert_str_eq(mi__cu_algo_name(PRECOMP), "IMPLICIT_PRECOMP_GEMM");
}

/* ---- workspaces --------------------------------------------------------------------------- */

Test(cuda_host, workspace_parts_are_aligned_and_checked) {
    mi__cu_ws w;
    cr_assert_eq(mi__cu_ws_make(NULL, 1000, 300, 24, &w), MI_OK);
    cr_assert_eq(w.algo_off, 0);
    cr_assert_eq(w.prepad_off, 1024);
    cr_assert_eq(w.bias_off, 1536);
    cr_assert_eq(w.request, 1536 + 24 + MI__CU_WS_ALIGN);
    /* Any placement of the planned workspace holds the parts aligned. */
    static unsigned char arena[8192];
    for (size_t shift = 0; shift < 300; shift += 37) {
        char *base = NULL;
        cr_assert_eq(mi__cu_ws_base(NULL, arena + shift, w.request, &w, &base), MI_OK);
        cr_assert_eq((uintptr_t)base % MI__CU_WS_ALIGN, 0);
        cr_assert_leq((size_t)(base - (char *)arena) + w.bias_off + w.bias, shift + w.request);
    }
    char *base;
    cr_assert_eq(mi__cu_ws_base(NULL, arena + 1, w.request - 300, &w, &base), MI_ERR_PLAN_INVALID);
    cr_assert_eq(mi__cu_ws_base(NULL, NULL, 0, &w, &base), MI_ERR_INVALID_ARG);
    mi__cu_ws none;
    cr_assert_eq(mi__cu_ws_make(NULL, 0, 0, 0, &none), MI_OK);
    cr_assert_eq(none.request, 0);
    cr_assert_eq(mi__cu_ws_base(NULL, NULL, 0, &none, &base), MI_OK);
    cr_assert_null(base);
    cr_assert_eq(mi__cu_ws_make(NULL, SIZE_MAX - 10, 0, 0, &w), MI_ERR_OVERFLOW);
}

/* ---- pooling ---------------------------------------------------------------------------- */

static mi__cu_pool pool_of(const char *op, const int64_t *xdims, int nattrs, const mi_attr *attrs, int64_t *outw) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, xdims);
    gb_node(&b, op, "pool", "x", "y", nattrs, attrs);
    gb_output(&b, "y");
    gb_ok(&b);
    const mi_node *n = node_of(&b, mi_op_from_name(op));
    mi__op_params p = params_of(&b, n);
    mi__cu_pool pool;
    cr_assert_eq(mi__cu_pool_make(b.g, n, &p.u.pool, &pool), MI_OK, "%s", mi_last_error());
    *outw = gb_tensor(&b, "y")->dims[3];
    gb_free(&b);
    return pool;
}

Test(cuda_host, pool_takes_cudnn_only_where_it_matches_onnx) {
    int64_t w;
    mi__cu_pool p = pool_of("MaxPool", D(1, 2, 7, 7), A(AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2),
                                                        AINTS("pads", 1, 1, 1, 1)), &w);
    cr_assert(p.use_cudnn);
    cr_assert_eq(w, 4);
    expect_ints(p.window, (const int[]){3, 3}, 2, "window");
    expect_ints(p.pad, (const int[]){1, 1}, 2, "pad");
    expect_ints(p.y.dims, (const int[]){1, 2, 4, 4}, 4, "y");
    p = pool_of("MaxPool", D(1, 2, 7, 7), A(AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2), AI("ceil_mode", 1)), &w);
    cr_assert_eq(w, 4, "ceil mode adds a window");
    cr_assert_not(p.use_cudnn, "cuDNN would give 3");
    p = pool_of("MaxPool", D(1, 2, 7, 7), A(AINTS("kernel_shape", 2, 2), AINTS("dilations", 2, 2)), &w);
    cr_assert_not(p.use_cudnn, "dilation");
    p = pool_of("AveragePool", D(1, 2, 7, 7), A(AINTS("kernel_shape", 3, 3), AINTS("pads", 0, 0, 1, 1)), &w);
    cr_assert_not(p.use_cudnn, "asymmetric pads");
    p = pool_of("AveragePool", D(1, 2, 7, 7), A(AINTS("kernel_shape", 3, 3), AINTS("pads", 1, 1, 1, 1),
                                                AI("count_include_pad", 1)), &w);
    cr_assert(p.use_cudnn);
    cr_assert(p.include_pad);
    cr_assert_not(p.max);
}

Test(cuda_host, pool_kernel_math_matches_onnx) {
    float x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)i;
    mi__k_pool k;
    memset(&k, 0, sizeof k);
    k.nsp = 2;
    k.max = 1;
    for (int i = 0; i < 2; i++) {
        k.in[i] = 4;
        k.out[i] = 2;
        k.k[i] = 2;
        k.s[i] = 2;
        k.d[i] = 1;
    }
    k.count = 4;
    const float want_max[4] = {5, 7, 13, 15};
    for (int o = 0; o < 4; o++) cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, o), want_max[o], 0.0f);
    /* 3x3 average, pads 1, stride 1: the corner has 4 inputs of 9 places. */
    k.max = 0;
    for (int i = 0; i < 2; i++) {
        k.out[i] = 4;
        k.k[i] = 3;
        k.s[i] = 1;
        k.pb[i] = k.pe[i] = 1;
    }
    k.count = 16;
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, 0), (0 + 1 + 4 + 5) / 4.0f, 1e-6f);
    k.include_pad = 1;
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, 0), (0 + 1 + 4 + 5) / 9.0f, 1e-6f);
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, 5), (0 + 1 + 2 + 4 + 5 + 6 + 8 + 9 + 10) / 9.0f, 1e-6f);
    /* ceil mode: a last window over the end of the padded input counts
     * only what is inside it, also with count_include_pad. */
    for (int i = 0; i < 2; i++) {
        k.k[i] = 3;
        k.s[i] = 2;
        k.pb[i] = k.pe[i] = 0;
        k.out[i] = 2;
    }
    k.count = 4;
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, 3), (10 + 11 + 14 + 15) / 4.0f, 1e-6f);
    /* dilation 2, max */
    k.max = 1;
    for (int i = 0; i < 2; i++) {
        k.k[i] = 2;
        k.s[i] = 1;
        k.d[i] = 2;
        k.out[i] = 2;
    }
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, 0), 10.0f, 0.0f);
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, x, 3), 15.0f, 0.0f);
    /* the N*C planes */
    float two[32];
    for (int i = 0; i < 32; i++) two[i] = (float)i;
    cr_assert_float_eq(mi__k_pool_at(&k, MI_K_DT_FLOAT, two, 4), 26.0f, 0.0f);
}

/* ---- reductions ---------------------------------------------------------------------------- */

static void check_reduce(int ndim, const int64_t *dims, const int *flags) {
    mi__k_reduce r;
    mi__cu_reduce_make(ndim, dims, flags, &r);
    int64_t total = 1, nout = 1;
    for (int k = 0; k < ndim; k++) {
        total *= dims[k];
        if (!flags[k]) nout *= dims[k];
    }
    cr_assert_eq(r.nout, nout);
    cr_assert_eq(r.count, total / nout);
    float *x = malloc((size_t)total * sizeof *x), *want = calloc((size_t)nout, sizeof *want);
    unsigned s = 7;
    for (int64_t i = 0; i < total; i++) x[i] = frand(&s);
    /* naive: every input element adds to the output with its kept coords */
    for (int64_t i = 0; i < total; i++) {
        int64_t rest = i, o = 0, mul = 1;
        for (int k = ndim - 1; k >= 0; k--) {
            int64_t c = rest % dims[k];
            rest /= dims[k];
            if (!flags[k]) {
                o += c * mul;
                mul *= dims[k];
            }
        }
        want[o] += x[i];
    }
    for (int64_t o = 0; o < nout; o++) {
        float sum = 0;
        int64_t base = mi__k_reduce_base(&r, o);
        for (int64_t i = 0; i < r.count; i++) sum += x[base + mi__k_reduce_at(&r, i)];
        cr_assert_float_eq(sum / (float)r.count, want[o] / (float)r.count, 1e-5f, "output %lld", (long long)o);
    }
    free(x);
    free(want);
}

Test(cuda_host, reduce_plans_merge_dims_and_sum_the_right_elements) {
    mi__k_reduce r;
    mi__cu_reduce_make(4, D(2, 3, 4, 5), (const int[]){0, 0, 1, 1}, &r);
    cr_assert_eq(r.nk, 1, "N and C merge");
    cr_assert_eq(r.kdims[0], 6);
    cr_assert_eq(r.kstr[0], 20);
    cr_assert_eq(r.nr, 1, "H and W merge");
    cr_assert_eq(r.rdims[0], 20);
    cr_assert_eq(r.rstr[0], 1);
    check_reduce(4, D(2, 3, 4, 5), (const int[]){0, 0, 1, 1});
    check_reduce(3, D(2, 3, 4), (const int[]){0, 1, 0});
    check_reduce(4, D(2, 1, 3, 4), (const int[]){1, 0, 0, 1});
    check_reduce(2, D(3, 5), (const int[]){1, 1});
    check_reduce(3, D(2, 3, 4), (const int[]){0, 0, 0});
    check_reduce(5, D(2, 3, 1, 4, 2), (const int[]){0, 1, 1, 0, 1});
}

Test(cuda_host, softmax_and_channel_views) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 4, 5));
    gb_node(&b, "Identity", "id", "x", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    const mi_tensor *x = gb_tensor(&b, "x");
    mi__cu_softmax s;
    cr_assert_eq(mi__cu_softmax_make(NULL, x, 1, 0, &s), MI_OK);
    cr_assert_eq(s.outer, 2);
    cr_assert_eq(s.len, 3);
    cr_assert_eq(s.inner, 20);
    expect_ints(s.nd.dims, (const int[]){2, 3, 20, 1}, 4, "softmax");
    cr_assert_eq(mi__cu_softmax_make(NULL, x, 1, 1, &s), MI_OK, "opset < 13: flattened at axis");
    cr_assert_eq(s.len, 60);
    cr_assert_eq(s.inner, 1);
    cr_assert_eq(mi__cu_softmax_make(NULL, x, 3, 0, &s), MI_OK);
    cr_assert_eq(s.outer, 24);
    cr_assert_eq(s.len, 5);
    mi__cu_chan ch;
    cr_assert_eq(mi__cu_chan_make(NULL, x, &ch), MI_OK);
    expect_ints(ch.x.dims, (const int[]){2, 3, 20, 1}, 4, "bn x");
    expect_ints(ch.param.dims, (const int[]){1, 3, 1, 1}, 4, "bn param");
    mi__lrn_params l = {5, 1e-4f, 0.75f, 1.0f};
    cr_assert(mi__cu_lrn_cudnn_ok(&l));
    l.size = 17;
    cr_assert_not(mi__cu_lrn_cudnn_ok(&l));
    l.size = 3;
    l.beta = 0.001f;
    cr_assert_not(mi__cu_lrn_cudnn_ok(&l));
    gb_free(&b);
}

Test(cuda_host, lrn_window_matches_onnx) {
    float x[2 * 5 * 3];
    unsigned s = 3;
    for (int i = 0; i < 30; i++) x[i] = frand(&s);
    const int64_t C = 5, inner = 3;
    for (int64_t size = 1; size <= 6; size++)
        for (int64_t o = 0; o < 30; o++) {
            int64_t in = o % inner, c = (o / inner) % C, n = o / (inner * C);
            float sum = 0;
            for (int64_t j = c - (size - 1) / 2; j <= c + size / 2; j++)
                if (j >= 0 && j < C) sum += x[(n * C + j) * inner + in] * x[(n * C + j) * inner + in];
            float want = x[o] / powf(2.0f + 0.5f / (float)size * sum, 0.75f);
            cr_assert_float_eq(mi__k_lrn_at(MI_K_DT_FLOAT, x, C, inner, o, size, 0.5f, 0.75f, 2.0f), want, 1e-6f);
        }
}

/* ---- Gemm, MatMul: the column-major call computes the row-major product ------------------ */

/* cuBLAS's SGEMM on the host: C = alpha op(A) op(B) + beta C, column-major. */
static void sgemm_cm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float sum = 0;
            for (int l = 0; l < k; l++)
                sum += (ta ? a[l + i * lda] : a[i + l * lda]) * (tb ? b[j + l * ldb] : b[l + j * ldb]);
            c[i + j * ldc] = alpha * sum + beta * c[i + j * ldc];
        }
}

static void run_blas_plan(const mi__cu_blas *p, float alpha, const float *a, const float *b, float beta, float *y) {
    for (int64_t i = 0; i < (p->batch > 1 ? p->batch : 1); i++) {
        int64_t fo, so;
        mi__cu_blas_batch_offsets(p, i, &fo, &so);
        sgemm_cm(p->trans_first, p->trans_second, p->m, p->n, p->k, alpha, b + fo, p->ld_first, a + so,
                 p->ld_second, beta, y + i * p->stride_c, p->ldc);
    }
}

static void run_copy(const mi__k_copy *c, const float *src, float *dst) {
    cr_assert_eq(c->esize, 4);
    for (int64_t i = 0; i < c->count; i++) dst[mi__k_copy_dst(c, i)] = src[mi__k_copy_src(c, i)];
}

Test(cuda_host, gemm_plan_matches_the_row_major_product) {
    const int M = 3, N = 4, K = 5;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            gb b;
            gb_init(&b, 13);
            gb_input(&b, "a", MI_DTYPE_FLOAT, 2, ta ? D(K, M) : D(M, K));
            gb_input(&b, "b", MI_DTYPE_FLOAT, 2, tb ? D(N, K) : D(K, N));
            gb_input(&b, "c", MI_DTYPE_FLOAT, 1, D(N));
            gb_node(&b, "Gemm", "gemm", "a,b,c", "y", A(AI("transA", ta), AI("transB", tb), AF("alpha", 0.5f),
                                                       AF("beta", 2.0f)));
            gb_output(&b, "y");
            gb_ok(&b);
            const mi_node *n = node_of(&b, MI_OP_GEMM);
            mi__op_params p = params_of(&b, n);
            mi__cu_gemm gm;
            cr_assert_eq(mi__cu_gemm_make(b.g, n, &p.u.gemm, &gm), MI_OK, "%s", mi_last_error());
            float A_[15], B_[20], C_[4], y[12], want[12];
            unsigned s = 11;
            for (int i = 0; i < 15; i++) A_[i] = frand(&s);
            for (int i = 0; i < 20; i++) B_[i] = frand(&s);
            for (int i = 0; i < 4; i++) C_[i] = frand(&s);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) {
                    float sum = 0;
                    for (int l = 0; l < K; l++)
                        sum += (ta ? A_[l * M + i] : A_[i * K + l]) * (tb ? B_[j * K + l] : B_[l * N + j]);
                    want[i * N + j] = 0.5f * sum + 2.0f * C_[j];
                }
            cr_assert(gm.has_c);
            memset(y, 0, sizeof y);
            run_copy(&gm.c_copy, C_, y); /* C broadcast into Y, then beta Y */
            run_blas_plan(&gm.call, gm.alpha, A_, B_, gm.beta, y);
            for (int i = 0; i < 12; i++) cr_assert_float_eq(y[i], want[i], 1e-5f, "transA %d transB %d [%d]", ta, tb, i);
            gb_free(&b);
        }
}

static void check_matmul(int ra, const int64_t *ad, int rb, const int64_t *bd, int strided) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, ra, ad);
    gb_input(&b, "b", MI_DTYPE_FLOAT, rb, bd);
    gb_node(&b, "MatMul", "mm", "a,b", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    const mi_node *n = node_of(&b, MI_OP_MATMUL);
    mi__cu_blas p;
    cr_assert_eq(mi__cu_matmul_make(b.g, n, &p), MI_OK, "%s", mi_last_error());
    cr_assert_eq(p.batch > 1 ? p.strided : strided, strided, "strided");
    const mi_tensor *at = gb_tensor(&b, "a"), *bt = gb_tensor(&b, "b"), *yt = gb_tensor(&b, "y");
    int64_t na = mi_tensor_numel(at), nb = mi_tensor_numel(bt), ny = mi_tensor_numel(yt);
    float *A_ = malloc((size_t)na * 4), *B_ = malloc((size_t)nb * 4), *y = calloc((size_t)ny, 4), *want = calloc((size_t)ny, 4);
    unsigned s = 5;
    for (int64_t i = 0; i < na; i++) A_[i] = frand(&s);
    for (int64_t i = 0; i < nb; i++) B_[i] = frand(&s);
    /* naive numpy matmul with broadcast batch dims */
    int M = p.n, N = p.m, K = p.k;
    int rba = ra > 2 ? ra - 2 : 0, rbb = rb > 2 ? rb - 2 : 0, r = rba > rbb ? rba : rbb;
    int64_t batch = ny / (M * N);
    for (int64_t i = 0; i < batch; i++) {
        int64_t rest = i, oa = 0, ob = 0, sa = 1, sb = 1;
        for (int k = r - 1; k >= 0; k--) {
            int ia = k - (r - rba), ib = k - (r - rbb);
            int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1, dout = da > db ? da : db;
            int64_t c = rest % dout;
            rest /= dout;
            oa += (da == 1 ? 0 : c) * sa;
            ob += (db == 1 ? 0 : c) * sb;
            sa *= da;
            sb *= db;
        }
        for (int m = 0; m < M; m++)
            for (int j = 0; j < N; j++) {
                float sum = 0;
                for (int l = 0; l < K; l++) sum += A_[oa * M * K + m * K + l] * B_[ob * K * N + l * N + j];
                want[i * M * N + m * N + j] = sum;
            }
    }
    run_blas_plan(&p, 1.0f, A_, B_, 0.0f, y);
    for (int64_t i = 0; i < ny; i++) cr_assert_float_eq(y[i], want[i], 1e-5f, "element %lld", (long long)i);
    free(A_);
    free(B_);
    free(y);
    free(want);
    gb_free(&b);
}

Test(cuda_host, matmul_plans_match_numpy_broadcasting) {
    check_matmul(2, D(3, 4), 2, D(4, 5), 0);
    check_matmul(1, D(4), 2, D(4, 5), 0);
    check_matmul(2, D(3, 4), 1, D(4), 0);
    check_matmul(3, D(2, 3, 4), 3, D(2, 4, 5), 1);
    check_matmul(3, D(2, 3, 4), 2, D(4, 5), 1);
    check_matmul(2, D(3, 4), 4, D(2, 3, 4, 5), 1);
    check_matmul(4, D(2, 1, 3, 4), 4, D(1, 3, 4, 2), 0);
    check_matmul(4, D(2, 3, 3, 4), 3, D(3, 4, 2), 0);
    check_matmul(4, D(2, 3, 3, 4), 2, D(4, 2), 0);
}

/* A 2-D B shared by every batch: A's batches fold into M, one GEMM. */
Test(cuda_host, matmul_with_2d_weights_is_one_gemm) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 4, D(2, 3, 5, 8));
    gb_input(&b, "b", MI_DTYPE_FLOAT, 2, D(8, 6));
    gb_node(&b, "MatMul", "mm", "a,b", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    mi__cu_blas p;
    cr_assert_eq(mi__cu_matmul_make(b.g, node_of(&b, MI_OP_MATMUL), &p), MI_OK, "%s", mi_last_error());
    cr_assert_eq(p.batch, 1);
    cr_assert_eq(p.n, 30, "M = 2 * 3 * 5");
    cr_assert_eq(p.m, 6);
    cr_assert_eq(p.k, 8);
    cr_assert_eq(p.ldc, 6);
    gb_free(&b);
}

/* The epilogue each fused activation takes: cuBLASLt's GELU is the tanh
 * form, so the exact GELU is a BIAS epilogue and our kernel after it; the
 * fallback's pieces follow the same split. */
Test(cuda_host, linear_layer_epilogues) {
    static const float w[48], bias[6];
    static const char *const act_op[] = {NULL, "Relu", "Gelu", "Gelu"};
    const mi__cu_epi want_epi[] = {MI__CU_EPI_BIAS, MI__CU_EPI_RELU_BIAS, MI__CU_EPI_BIAS, MI__CU_EPI_GELU_BIAS};
    const int want_post[] = {0, 0, 1, 0}, want_act[] = {MI_ACT_NONE, MI_ACT_RELU, MI_ACT_NONE, MI_ACT_NONE};
    const int want_gelu[] = {-1, -1, MI_K_UN_GELU, MI_K_UN_GELU_TANH};
    for (int k = 0; k < 4; k++) {
        gb b;
        gb_init(&b, 20);
        gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 8));
        gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(8, 6), w);
        gb_weight(&b, "bias", MI_DTYPE_FLOAT, 1, D(6), bias);
        gb_node(&b, "MatMul", "mm", "x,w", "h", NOATTR);
        gb_node(&b, "Add", "add", "h,bias", k ? "a" : "y", NOATTR);
        if (k == 3) gb_node(&b, act_op[k], "act", "a", "y", A(AS("approximate", "tanh")));
        else if (k) gb_node(&b, act_op[k], "act", "a", "y", NOATTR);
        gb_output(&b, "y");
        gb_ok(&b);
        cr_assert_eq(mi_graph_node_count(b.g), 1, "case %d: fused into one MatMul", k);
        const mi_node *n = node_of(&b, MI_OP_MATMUL);
        mi__cu_blas p;
        mi__cu_linear l;
        cr_assert_eq(mi__cu_matmul_make(b.g, n, &p), MI_OK, "%s", mi_last_error());
        cr_assert_eq(mi__cu_linear_make(n, &p, &l), MI_OK, "%s", mi_last_error());
        cr_assert_eq(l.epi, want_epi[k], "case %d", k);
        cr_assert_eq(l.post_gelu, want_post[k], "case %d", k);
        cr_assert_eq(l.fallback_act, want_act[k], "case %d", k);
        cr_assert_eq(l.gelu_op, want_gelu[k], "case %d", k);
        cr_assert_eq(l.rows, 10);
        cr_assert_eq(l.cols, 6);
        cr_assert_eq(l.walk.ndim, 1);
        cr_assert_eq(l.walk.dims[0], 60);
        cr_assert_eq(l.walk.stride[0][0], 1);
        gb_free(&b);
    }
    /* A plain MatMul is no linear layer. */
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(3, 4));
    gb_input(&b, "b", MI_DTYPE_FLOAT, 2, D(4, 5));
    gb_node(&b, "MatMul", "mm", "a,b", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    mi__cu_blas p;
    mi__cu_linear l;
    const mi_node *n = node_of(&b, MI_OP_MATMUL);
    cr_assert_eq(mi__cu_matmul_make(b.g, n, &p), MI_OK);
    cr_assert_eq(mi__cu_linear_make(n, &p, &l), MI_OK);
    cr_assert_eq(l.epi, MI__CU_EPI_NONE);
    gb_free(&b);
}

/* ---- copies ------------------------------------------------------------------------------- */

static mi_tensor tensor(int ndim, const int64_t *dims) {
    mi_tensor t;
    memset(&t, 0, sizeof t);
    t.name = (char *)"t";
    t.dtype = MI_DTYPE_FLOAT;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.dims[i] = dims[i];
    t.nbytes = (size_t)mi_tensor_numel(&t) * 4;
    return t;
}

Test(cuda_host, transpose_plan) {
    mi_tensor x = tensor(3, D(2, 3, 4));
    mi__k_copy c;
    mi__cu_copy_transpose(&x, (const int[]){2, 0, 1}, &c);
    float src[24], dst[24];
    for (int i = 0; i < 24; i++) src[i] = (float)i;
    run_copy(&c, src, dst);
    /* y[k][i][j] = x[i][j][k] */
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) cr_assert_float_eq(dst[k * 6 + i * 3 + j], src[i * 12 + j * 4 + k], 0.0f);
    /* a permutation that keeps the order collapses into one memcpy */
    mi__cu_copy_transpose(&x, (const int[]){0, 1, 2}, &c);
    cr_assert(mi__cu_copy_is_memcpy(&c));
    /* size-1 axes moved around are a memcpy too */
    mi_tensor x1 = tensor(3, D(1, 6, 1));
    mi__cu_copy_transpose(&x1, (const int[]){2, 1, 0}, &c);
    cr_assert(mi__cu_copy_is_memcpy(&c));
}

Test(cuda_host, slice_plan_with_negative_steps) {
    mi_tensor x = tensor(2, D(4, 6)), y = tensor(2, D(2, 3));
    mi__slice_params p;
    memset(&p, 0, sizeof p);
    p.ndim = 2;
    p.start[0] = 3;
    p.step[0] = -2; /* rows 3, 1 */
    p.start[1] = 1;
    p.step[1] = 2;  /* cols 1, 3, 5 */
    mi__k_copy c;
    mi__cu_copy_slice(&x, &y, &p, &c);
    float src[24], dst[6];
    for (int i = 0; i < 24; i++) src[i] = (float)i;
    run_copy(&c, src, dst);
    const float want[6] = {19, 21, 23, 7, 9, 11};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(dst[i], want[i], 0.0f);
}

Test(cuda_host, concat_split_broadcast_plans) {
    mi_tensor a = tensor(3, D(2, 1, 3)), b = tensor(3, D(2, 2, 3)), y = tensor(3, D(2, 3, 3));
    float av[6], bv[12], yv[18];
    for (int i = 0; i < 6; i++) av[i] = (float)i;
    for (int i = 0; i < 12; i++) bv[i] = 100.0f + (float)i;
    mi__k_copy c;
    mi__cu_copy_concat(&y, 1, 0, &a, &c);
    run_copy(&c, av, yv);
    mi__cu_copy_concat(&y, 1, 1, &b, &c);
    run_copy(&c, bv, yv);
    const float want[18] = {0, 1, 2, 100, 101, 102, 103, 104, 105, 3, 4, 5, 106, 107, 108, 109, 110, 111};
    for (int i = 0; i < 18; i++) cr_assert_float_eq(yv[i], want[i], 0.0f, "concat [%d]", i);
    float back[12];
    mi__cu_copy_split(&y, 1, 1, &b, &c);
    run_copy(&c, yv, back);
    for (int i = 0; i < 12; i++) cr_assert_float_eq(back[i], bv[i], 0.0f, "split [%d]", i);
    /* concat along the first axis is one block per input */
    mi_tensor y0 = tensor(3, D(4, 1, 3));
    mi__cu_copy_concat(&y0, 0, 2, &a, &c);
    cr_assert(mi__cu_copy_is_memcpy(&c));
    cr_assert_eq(c.dst_off, 6);
    /* broadcast of a row and of a scalar */
    mi_tensor row = tensor(1, D(3)), one = tensor(0, NULL);
    float rv[3] = {1, 2, 3}, out[6];
    mi__cu_copy_broadcast(&row, 2, D(2, 3), &c);
    run_copy(&c, rv, out);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(out[i], rv[i % 3], 0.0f);
    mi__cu_copy_broadcast(&one, 2, D(2, 3), &c);
    run_copy(&c, (const float[]){7}, out);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(out[i], 7.0f, 0.0f);
}

Test(cuda_host, pad_plan_modes) {
    mi_tensor x = tensor(1, D(4)), y = tensor(1, D(8));
    mi__pad_params p;
    memset(&p, 0, sizeof p);
    p.ndim = 1;
    p.begin[0] = 2;
    p.end[0] = 2;
    const int64_t want[3][8] = {
        {-1, -1, 0, 1, 2, 3, -1, -1}, /* constant */
        {2, 1, 0, 1, 2, 3, 2, 1},     /* reflect */
        {0, 0, 0, 1, 2, 3, 3, 3},     /* edge */
    };
    for (int m = 0; m < 3; m++) {
        p.mode = (mi__pad_mode)m;
        p.value = 1.5f;
        mi__k_pad pad;
        mi__cu_pad_make(&x, &y, &p, &pad);
        for (int o = 0; o < 8; o++) cr_assert_eq(mi__k_pad_src(&pad, o), want[m][o], "mode %d out %d", m, o);
        float v;
        memcpy(&v, &pad.value, 4);
        cr_assert_float_eq(v, 1.5f, 0.0f);
    }
    /* negative pads crop */
    mi_tensor x2 = tensor(2, D(3, 4)), y2 = tensor(2, D(3, 2));
    memset(&p, 0, sizeof p);
    p.begin[1] = -1;
    p.end[1] = -1;
    mi__k_pad pad;
    mi__cu_pad_make(&x2, &y2, &p, &pad);
    cr_assert_eq(mi__k_pad_src(&pad, 0), 1);
    cr_assert_eq(mi__k_pad_src(&pad, 5), 10);
}

Test(cuda_host, gather_plan) {
    mi_tensor x = tensor(3, D(2, 5, 3)), idx = tensor(1, D(2));
    idx.dtype = MI_DTYPE_INT64;
    mi__k_gather g;
    mi__cu_gather_make(&x, &idx, 1, &g);
    cr_assert_eq(g.outer, 2);
    cr_assert_eq(g.axis_dim, 5);
    cr_assert_eq(g.inner, 3);
    cr_assert_eq(g.count, 12);
    cr_assert(g.idx64);
    const int64_t idxv[2] = {4, -5};
    for (int64_t o = 0; o < 12; o++) {
        int64_t i = idxv[mi__k_gather_which(&g, o)], want_row = i < 0 ? i + 5 : i;
        int64_t want = ((o / 6) * 5 + want_row) * 3 + o % 3;
        cr_assert_eq(mi__k_gather_src(&g, o, i), want);
    }
    cr_assert_eq(mi__k_gather_src(&g, 0, 5), -1, "out of range");
    cr_assert_eq(mi__k_gather_src(&g, 0, -6), -1, "out of range");
}

/* ---- the shared per-element functions our kernels use ---------------------------------------- */

Test(cuda_host, binary_broadcast_indexing_matches_numpy) {
    const int64_t shapes[][2][4] = {
        {{2, 3, 4, 5}, {2, 3, 4, 5}},
        {{2, 3, 4, 5}, {1, 3, 1, 1}},
        {{2, 3, 4, 5}, {5, 0, 0, 0}},
        {{4, 1, 5, 0}, {3, 1, 0, 0}},
    };
    const int ranks[][2] = {{4, 4}, {4, 4}, {4, 1}, {3, 2}};
    for (int t = 0; t < 4; t++) {
        int ra = ranks[t][0], rb = ranks[t][1], r = ra > rb ? ra : rb;
        mi_k_bcast bc;
        mi_k_bcast_init(&bc, ra, shapes[t][0], rb, shapes[t][1]);
        int64_t od[4], n = 1;
        for (int i = 0; i < r; i++) {
            int ia = i - (r - ra), ib = i - (r - rb);
            int64_t da = ia >= 0 ? shapes[t][0][ia] : 1, db = ib >= 0 ? shapes[t][1][ib] : 1;
            od[i] = da > db ? da : db;
            n *= od[i];
        }
        for (int64_t o = 0; o < n; o++) {
            int64_t rest = o, oa = 0, ob = 0, sa = 1, sb = 1;
            for (int i = r - 1; i >= 0; i--) {
                int64_t c = rest % od[i];
                rest /= od[i];
                int ia = i - (r - ra), ib = i - (r - rb);
                int64_t da = ia >= 0 ? shapes[t][0][ia] : 1, db = ib >= 0 ? shapes[t][1][ib] : 1;
                oa += (da == 1 ? 0 : c) * sa;
                ob += (db == 1 ? 0 : c) * sb;
                sa *= da;
                sb *= db;
            }
            cr_assert_eq(mi_k_bcast_offset(&bc, 0, o), oa, "case %d out %lld", t, (long long)o);
            cr_assert_eq(mi_k_bcast_offset(&bc, 1, o), ob, "case %d out %lld", t, (long long)o);
        }
    }
    /* Same shapes (the in-place case): offset(i) == i, so a thread reads
     * the element it then writes. */
    mi_k_bcast bc;
    mi_k_bcast_init(&bc, 2, D(3, 4), 2, D(3, 4));
    for (int64_t o = 0; o < 12; o++) cr_assert_eq(mi_k_bcast_offset(&bc, 0, o), o);
}

Test(cuda_host, epilogue_and_activation_math) {
    cr_assert_float_eq(mi_k_conv_epilogue(-1.0f, 0.5f, 0.25f, MI_K_ACT_RELU, 0, 0), 0.0f, 0.0f);
    cr_assert_float_eq(mi_k_conv_epilogue(5.0f, 1.0f, 1.0f, MI_K_ACT_CLIP, 0.0f, 6.0f), 6.0f, 0.0f);
    cr_assert_float_eq(mi_k_conv_epilogue(1.0f, 0.5f, 0.25f, MI_K_ACT_NONE, 0, 0), 1.75f, 0.0f);
    cr_assert_float_eq(mi_k_hard_swish(3.0f), 3.0f, 1e-6f);
    cr_assert_float_eq(mi_k_hard_swish(-3.0f), 0.0f, 1e-6f);
    cr_assert_float_eq(mi_k_sigmoid(-100.0f), 0.0f, 1e-30f);
    float inv = mi_k_bn_invstd(3.0f, 1.0f);
    cr_assert_float_eq(mi_k_batch_norm(3.0f, 1.0f, inv, 2.0f, 0.5f), 2.5f, 1e-6f);
}

Test(cuda_host, cast_rules_match_the_cpu_backend) {
    unsigned char out[8];
    float f;
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_INT8, &(float){300.0f}, out);
    cr_assert_eq(*(int8_t *)out, 127, "saturates");
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_INT8, &(float){-1e10f}, out);
    cr_assert_eq(*(int8_t *)out, -128);
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_INT32, &(float){NAN}, out);
    cr_assert_eq(*(int32_t *)out, 0, "NaN is 0");
    mi_k_cast_elem(MI_K_DT_DOUBLE, MI_K_DT_INT64, &(double){-2.9}, out);
    cr_assert_eq(*(int64_t *)out, -2, "truncates");
    mi_k_cast_elem(MI_K_DT_INT64, MI_K_DT_INT8, &(int64_t){300}, out);
    cr_assert_eq(*(int8_t *)out, 44, "integers wrap");
    mi_k_cast_elem(MI_K_DT_INT32, MI_K_DT_BOOL, &(int32_t){-7}, out);
    cr_assert_eq(out[0], 1);
    mi_k_cast_elem(MI_K_DT_INT64, MI_K_DT_FLOAT, &(int64_t){-3}, out);
    memcpy(&f, out, 4);
    cr_assert_float_eq(f, -3.0f, 0.0f);
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_FLOAT16, &(float){1.0f}, out);
    cr_assert_eq(*(uint16_t *)out, 0x3c00);
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_FLOAT16, &(float){65520.0f}, out);
    cr_assert_eq(*(uint16_t *)out, 0x7c00, "rounds to infinity");
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_FLOAT16, &(float){0.1f}, out);
    mi_k_cast_elem(MI_K_DT_FLOAT16, MI_K_DT_FLOAT, out, out + 4);
    memcpy(&f, out + 4, 4);
    cr_assert_float_eq(f, 0.0999755859375f, 0.0f);
    mi_k_cast_elem(MI_K_DT_FLOAT16, MI_K_DT_FLOAT, &(uint16_t){0x0001}, out);
    memcpy(&f, out, 4);
    cr_assert_float_eq(f, 5.9604644775390625e-8f, 0.0f, "subnormal");
}

/* ---- channels last and half precision ------------------------------------------------------ */

static mi_status finalize_nhwc(gb *b, mi_precision p) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.channels_last = 1;
    o.precision = p;
    return mi_graph_finalize(b->g, &o);
}

Test(cuda_host, nd_nhwc_strides_and_dtype) {
    mi__cu_nd nd;
    cr_assert_eq(mi__cu_nd_make(NULL, "x", 4, D(2, 3, 4, 5), &nd), MI_OK);
    mi__cu_nd_set(&nd, MI_DTYPE_FLOAT16, 1);
    expect_ints(nd.dims, (const int[]){2, 3, 4, 5}, 4, "dims stay NCHW");
    expect_ints(nd.strides, (const int[]){60, 1, 15, 3}, 4, "NHWC strides");
    cr_assert_eq(nd.dtype, MI_DTYPE_FLOAT16);
    /* Rank 5 has no channels-last form here: packed NCDHW. */
    cr_assert_eq(mi__cu_nd_make(NULL, "x", 5, D(1, 2, 3, 4, 5), &nd), MI_OK);
    mi__cu_nd_set(&nd, MI_DTYPE_FLOAT, 1);
    cr_assert_eq(nd.nhwc, 0);
    expect_ints(nd.strides, (const int[]){120, 60, 20, 5, 1}, 5, "strides");
}

Test(cuda_host, conv_nhwc_half_descriptors_prepad_and_epilogue) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 6, 6));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(8, 4, 3, 3), NULL);
    gb_weight(&b, "bias", MI_DTYPE_FLOAT, 1, D(8), NULL);
    gb_node(&b, "Conv", "conv", "x,w,bias", "c", A(AINTS("pads", 0, 1, 1, 0)));
    gb_node(&b, "Relu", "relu", "c", "r", NOATTR);
    gb_node(&b, "Flatten", "flat", "r", "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(finalize_nhwc(&b, MI_PRECISION_FP16), MI_OK, "%s", mi_last_error());
    const mi_node *n = node_of(&b, MI_OP_CONV);
    mi__op_params p = params_of(&b, n);
    mi__cu_conv c;
    cr_assert_eq(mi__cu_conv_make(b.g, n, &p.u.conv, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(c.nhwc, 1);
    cr_assert_eq(c.dtype, MI_DTYPE_FLOAT16);
    cr_assert_eq(c.x.dtype, MI_DTYPE_FLOAT16);
    cr_assert_eq(c.w.nhwc, 1);
    expect_ints(c.w.dims, (const int[]){8, 4, 3, 3}, 4, "filter dims in KCRS order");
    /* y [1, 8, 5, 5] with pads H (0, 1) and W (1, 0): NHWC strides. */
    expect_ints(c.y.dims, (const int[]){1, 8, 5, 5}, 4, "y dims");
    expect_ints(c.y.strides, (const int[]){200, 1, 40, 8}, 4, "y strides");
    /* The asymmetric extra (W begins 1 earlier) is pre-padded in storage order [N, H, W, C]. */
    cr_assert_eq(c.prepad, 1);
    cr_assert_eq(c.prepad_k.esize, 2);
    cr_assert(c.prepad_k.idims[0] == 1 && c.prepad_k.idims[1] == 6 && c.prepad_k.idims[2] == 6 &&
              c.prepad_k.idims[3] == 4);
    cr_assert(c.prepad_k.odims[1] == 7 && c.prepad_k.odims[2] == 7 && c.prepad_k.odims[3] == 4);
    cr_assert(c.prepad_k.begin[1] == 0 && c.prepad_k.begin[2] == 1 && c.prepad_k.begin[3] == 0);
    expect_ints(c.xp.strides, (const int[]){196, 1, 28, 4}, 4, "padded input strides");
    /* The epilogue's channel of element i is i % K: inner 1. */
    cr_assert_eq(c.out_inner, 1);
    cr_assert_eq(c.out_channels, 8);
    cr_assert_eq(c.out_count, 200);
    /* Half may take tensor-op algorithms with TF32 off; fp32 may not. */
    cr_assert(mi__cu_conv_tensor_ok(&c, 0));
    mi__cu_conv f = c;
    f.dtype = MI_DTYPE_FLOAT;
    cr_assert_not(mi__cu_conv_tensor_ok(&f, 0));
    const mi__cu_algo ranked[] = {{2, 1, 0, MI__CU_MATH_TENSOR}, {0, 1, 0, MI__CU_MATH_FMA}};
    mi__cu_conv_choice ch;
    cr_assert_eq(mi__cu_conv_pick(&c, ranked, 2, 0, 1 << 20, mi__cu_conv_tensor_ok(&c, 0), &ch), 0);
    cr_assert_eq(ch.math, MI__CU_MATH_TENSOR);
    cr_assert_eq(mi__cu_conv_pick(&f, ranked, 2, 0, 1 << 20, mi__cu_conv_tensor_ok(&f, 0), &ch), 1);
    /* Every tensor is where the backend expects it. */
    for (size_t i = 0; i < mi_graph_node_count(b.g); i++)
        cr_assert_eq(mi__cu_check_layouts(b.g, mi_graph_node(b.g, i)), MI_OK, "%s", mi_last_error());
    gb_free(&b);
}

Test(cuda_host, pool_kernel_channels_last_matches_nchw) {
    int64_t ow;
    const int64_t xd[4] = {2, 3, 7, 7};
    mi__cu_pool pn = pool_of("AveragePool", xd, A(AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2),
                                                  AINTS("pads", 0, 1, 2, 1), AI("ceil_mode", 1)), &ow);
    cr_assert_eq(pn.use_cudnn, 0, "asymmetric pads and ceil: our kernel");
    mi__k_pool ph = pn.k;
    ph.channels_last = 1;
    ph.channels = 3;
    int64_t H = pn.k.out[0], W = pn.k.out[1], n = 2 * 3 * 49;
    float *x = malloc((size_t)n * sizeof *x), *xh = malloc((size_t)n * sizeof *xh);
    unsigned s = 1;
    for (int64_t i = 0; i < n; i++) x[i] = frand(&s);
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 49; i++) xh[(b * 49 + i) * 3 + c] = x[(b * 3 + c) * 49 + i];
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 3; c++)
            for (int64_t i = 0; i < H * W; i++) {
                float want = mi__k_pool_at(&pn.k, MI_K_DT_FLOAT, x, (b * 3 + c) * H * W + i);
                float got = mi__k_pool_at(&ph, MI_K_DT_FLOAT, xh, (b * H * W + i) * 3 + c);
                cr_assert_float_eq(got, want, 0.0f, "n %d c %d position %lld", b, c, (long long)i);
            }
    /* The same kernel reads float16 through the shared conversion. */
    uint16_t h[4] = {mi_k_f32_to_f16(1.5f), mi_k_f32_to_f16(-2.0f), mi_k_f32_to_f16(0.25f), mi_k_f32_to_f16(4.0f)};
    mi__k_pool one;
    memset(&one, 0, sizeof one);
    one.nsp = 2;
    one.max = 1;
    one.count = 1;
    one.in[0] = one.in[1] = 2;
    one.out[0] = one.out[1] = 1;
    one.k[0] = one.k[1] = 2;
    one.s[0] = one.s[1] = one.d[0] = one.d[1] = 1;
    cr_assert_float_eq(mi__k_pool_at(&one, MI_K_DT_FLOAT16, h, 0), 4.0f, 0.0f);
    free(x);
    free(xh);
}

static void fill_seq(float *v, int64_t n) {
    for (int64_t i = 0; i < n; i++) v[i] = (float)i;
}

Test(cuda_host, relayout_concat_broadcast_reduce_in_storage_order) {
    /* Relayout both ways. */
    mi_tensor x = tensor(4, D(2, 3, 4, 5)), y = x;
    y.layout = MI_LAYOUT_NHWC;
    float src[120], nhwc[120], back[120];
    fill_seq(src, 120);
    mi__k_copy c;
    mi__cu_copy_relayout(&x, &y, &c);
    run_copy(&c, src, nhwc);
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 3; ch++)
            for (int h = 0; h < 4; h++)
                for (int w = 0; w < 5; w++)
                    cr_assert_float_eq(nhwc[((n * 4 + h) * 5 + w) * 3 + ch], src[((n * 3 + ch) * 4 + h) * 5 + w], 0.0f);
    mi__cu_copy_relayout(&y, &x, &c);
    run_copy(&c, nhwc, back);
    cr_assert_eq(memcmp(back, src, sizeof src), 0);
    /* A layout-neutral tensor relayouts as one block. */
    mi_tensor g = tensor(4, D(2, 3, 1, 1)), gh = g;
    gh.layout = MI_LAYOUT_NHWC;
    mi__cu_copy_relayout(&g, &gh, &c);
    cr_assert(mi__cu_copy_is_memcpy(&c));

    /* Concat on channels in NHWC: [1, 2, 2, 3] and [1, 3, 2, 3] into [1, 5, 2, 3]. */
    mi_tensor a = tensor(4, D(1, 2, 2, 3)), bt = tensor(4, D(1, 3, 2, 3)), whole = tensor(4, D(1, 5, 2, 3));
    a.layout = bt.layout = whole.layout = MI_LAYOUT_NHWC;
    float av[12], bv[18], wv[30], bb[18];
    for (int i = 0; i < 12; i++) av[i] = (float)i;
    for (int i = 0; i < 18; i++) bv[i] = 100.0f + (float)i;
    mi__cu_copy_part(&whole, 1, 0, &a, 0, &c);
    run_copy(&c, av, wv);
    mi__cu_copy_part(&whole, 1, 2, &bt, 0, &c);
    run_copy(&c, bv, wv);
    for (int p = 0; p < 6; p++)
        for (int ch = 0; ch < 5; ch++) {
            float want = ch < 2 ? av[p * 2 + ch] : bv[p * 3 + ch - 2];
            cr_assert_float_eq(wv[p * 5 + ch], want, 0.0f, "position %d channel %d", p, ch);
        }
    mi__cu_copy_part(&whole, 1, 2, &bt, 1, &c);
    run_copy(&c, wv, bb);
    cr_assert_eq(memcmp(bb, bv, sizeof bv), 0, "split takes it back");

    /* Add of a [C, 1, 1] constant to an NHWC tensor: b's offset is the channel. */
    mi_tensor s = tensor(3, D(3, 1, 1));
    mi_k_bcast bc;
    mi__cu_bcast_make(&y, &s, &y, &bc);
    for (int64_t i = 0; i < 120; i++) {
        cr_assert_eq(mi_k_bcast_offset(&bc, 0, i), i);
        cr_assert_eq(mi_k_bcast_offset(&bc, 1, i), i % 3);
    }
    /* SE: an NHWC [2, 3, 4, 5] times [2, 3, 1, 1]: offset n * 3 + c. */
    mi__cu_bcast_make(&y, &g, &y, &bc);
    for (int64_t i = 0; i < 120; i++) cr_assert_eq(mi_k_bcast_offset(&bc, 1, i), (i / 60) * 3 + i % 3);

    /* GlobalAveragePool of the NHWC tensor: output o = n * 3 + c sums H x W. */
    mi__k_reduce r;
    mi__cu_reduce_tensor(&y, (const int[]){0, 0, 1, 1}, &r);
    cr_assert_eq(r.nout, 6);
    cr_assert_eq(r.count, 20);
    for (int64_t o = 0; o < 6; o++) {
        double sum = 0, want = 0;
        for (int64_t i = 0; i < r.count; i++) sum += nhwc[mi__k_reduce_base(&r, o) + mi__k_reduce_at(&r, i)];
        for (int i = 0; i < 20; i++) want += src[o * 20 + i];
        cr_assert_float_eq(sum, want, 1e-9, "output %lld", (long long)o);
    }
}

Test(cuda_host, layouts_the_backend_cannot_run_are_refused_by_name) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 3, 3));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(4, 4, 1, 1), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
    gb_node(&b, "Softmax", "soft", "c", "y", A(AI("axis", 1)));
    gb_output(&b, "y");
    cr_assert_eq(finalize_nhwc(&b, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
    const mi_node *soft = node_of(&b, MI_OP_SOFTMAX);
    cr_assert_eq(mi__cu_check_layouts(b.g, soft), MI_OK, "the pass converted its input");
    /* As if the pass had left its input NHWC. */
    mi_tensor *in = (mi_tensor *)mi_graph_tensor(b.g, (size_t)soft->inputs[0]);
    in->layout = MI_LAYOUT_NHWC;
    cr_assert_eq(mi__cu_check_layouts(b.g, soft), MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "soft") && strstr(mi_last_error(), in->name), "%s", mi_last_error());
    gb_free(&b);
}

/* ---- cuDNN's graph API: the fused graph and the engine choice --------------------------------- */

/* x [1, cin, 6, 6] -> Conv (cout, 3x3, pads 1, group) + bias [-> + x when
 * residual] [-> act] -> Flatten, loaded in `p` channels last; the conv's plan. */
static mi__cu_conv fused_conv(int64_t cin, int64_t cout, int64_t group, const char *act, int residual, mi_precision p) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, cin, 6, 6));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(cout, cin / group, 3, 3), NULL);
    gb_weight(&b, "bias", MI_DTYPE_FLOAT, 1, D(cout), NULL);
    gb_node(&b, "Conv", "conv", "x,w,bias", "c", A(AINTS("pads", 1, 1, 1, 1), AI("group", group)));
    const char *last = "c";
    if (residual) {
        gb_node(&b, "Add", "add", "c,x", "s", NOATTR);
        last = "s";
    }
    if (act) {
        if (strcmp(act, "Clip") == 0) {
            gb_weight(&b, "lo", MI_DTYPE_FLOAT, 0, NULL, (const float[]){0.0f});
            gb_weight(&b, "hi", MI_DTYPE_FLOAT, 0, NULL, (const float[]){6.0f});
            gb_node(&b, "Clip", "act", residual ? "s,lo,hi" : "c,lo,hi", "a", NOATTR);
        } else {
            gb_node(&b, act, "act", last, "a", NOATTR);
        }
        last = "a";
    }
    gb_node(&b, "Flatten", "flat", last, "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(finalize_nhwc(&b, p), MI_OK, "%s", mi_last_error());
    const mi_node *n = node_of(&b, MI_OP_CONV);
    mi__op_params pp = params_of(&b, n);
    mi__cu_conv c;
    cr_assert_eq(mi__cu_conv_make(b.g, n, &pp.u.conv, &c), MI_OK, "%s", mi_last_error());
    gb_free(&b);
    return c;
}

static const mi__cu_fg_tensor *fg_find(const mi__cu_fused *f, int64_t uid) {
    for (int i = 0; i < f->ntensors; i++)
        if (f->t[i].uid == uid) return &f->t[i];
    return NULL;
}

Test(cuda_host, fused_graph_conv_bias_relu) {
    mi__cu_conv c = fused_conv(8, 16, 1, "Relu", 0, MI_PRECISION_FP16);
    mi__cu_fused f;
    const char *why;
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 1, "%s", why);
    cr_assert_eq(f.nops, 3);
    cr_assert_eq(f.op[0].kind, MI__CU_FG_CONV);
    cr_assert(f.op[0].x == MI__CU_FG_X && f.op[0].b == MI__CU_FG_W && f.op[0].y == MI__CU_FG_T0);
    cr_assert(f.op[1].kind == MI__CU_FG_ADD && f.op[1].x == MI__CU_FG_T0 && f.op[1].b == MI__CU_FG_B &&
              f.op[1].y == MI__CU_FG_T1);
    cr_assert(f.op[2].kind == MI__CU_FG_RELU && f.op[2].x == MI__CU_FG_T1 && f.op[2].y == MI__CU_FG_Y && !f.op[2].clip);
    /* The bound tensors in the half type, the intermediates fp32 and virtual. */
    const mi__cu_fg_tensor *x = fg_find(&f, MI__CU_FG_X), *w = fg_find(&f, MI__CU_FG_W), *bt = fg_find(&f, MI__CU_FG_B);
    const mi__cu_fg_tensor *t0 = fg_find(&f, MI__CU_FG_T0), *y = fg_find(&f, MI__CU_FG_Y);
    cr_assert(x && w && bt && t0 && y);
    cr_assert_null(fg_find(&f, MI__CU_FG_Z));
    cr_assert(x->dtype == MI_DTYPE_FLOAT16 && !x->is_virtual && y->dtype == MI_DTYPE_FLOAT16);
    cr_assert(t0->dtype == MI_DTYPE_FLOAT && t0->is_virtual);
    /* NHWC strides; the filter [K, R, S, C] in memory, dims in KCRS order. */
    cr_assert(x->strides[0] == 288 && x->strides[1] == 1 && x->strides[2] == 48 && x->strides[3] == 8);
    cr_assert(w->dims[0] == 16 && w->dims[1] == 8 && w->strides[0] == 72 && w->strides[1] == 1 &&
              w->strides[2] == 24 && w->strides[3] == 8);
    cr_assert(bt->dims[0] == 1 && bt->dims[1] == 16 && bt->dims[2] == 1 && bt->strides[1] == 1);
    cr_assert(f.pad[0] == 1 && f.pad[1] == 1 && f.stride[0] == 1 && f.dilation[1] == 1);
}

Test(cuda_host, fused_graph_residual_and_clip) {
    mi__cu_conv c = fused_conv(16, 16, 1, "Clip", 1, MI_PRECISION_BF16);
    mi__cu_fused f;
    const char *why;
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 1, "%s", why);
    cr_assert_eq(f.nops, 4, "conv, + bias, + residual, clip");
    cr_assert(f.op[2].kind == MI__CU_FG_ADD && f.op[2].b == MI__CU_FG_Z);
    cr_assert(f.op[3].kind == MI__CU_FG_RELU && f.op[3].clip && f.op[3].lo == 0.0 && f.op[3].hi == 6.0);
    cr_assert_eq(f.op[3].y, MI__CU_FG_Y);
    cr_assert_eq(fg_find(&f, MI__CU_FG_Z)->dtype, MI_DTYPE_BFLOAT16);
    /* Every operation reads what an earlier one wrote, or a bound tensor. */
    for (int i = 0; i < f.nops; i++) {
        cr_assert_not_null(fg_find(&f, f.op[i].x));
        if (f.op[i].b) cr_assert_not_null(fg_find(&f, f.op[i].b));
        cr_assert_not_null(fg_find(&f, f.op[i].y));
    }
}

Test(cuda_host, fused_graph_only_where_it_pays) {
    mi__cu_fused f;
    const char *why;
    mi__cu_conv c = fused_conv(8, 16, 1, "Relu", 0, MI_PRECISION_FP32);
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 0);
    cr_assert(strstr(why, "fp32"), "%s", why);
    c = fused_conv(8, 8, 8, "Relu", 0, MI_PRECISION_FP16); /* depthwise */
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 0);
    cr_assert(strstr(why, "grouped"), "%s", why);
    c = fused_conv(3, 16, 1, "Relu", 0, MI_PRECISION_FP16); /* the RGB stem */
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 0);
    cr_assert(strstr(why, "multiple of 8"), "%s", why);
    c = fused_conv(8, 16, 1, NULL, 0, MI_PRECISION_FP16); /* bias only: still worth one graph */
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 1, "%s", why);
    cr_assert_eq(f.nops, 2);
    c.has_bias = 0;
    cr_assert_eq(mi__cu_fused_make(&c, &f, &why), 0);
    cr_assert(strstr(why, "nothing to fuse"), "%s", why);
}

Test(cuda_host, engine_choice_walks_the_heuristics_in_order) {
    const mi__cu_engine_cfg cfgs[] = {
        {1, 64 << 20, 0}, /* over a 1 MiB budget */
        {1, 0, 1},        /* runtime-compiled */
        {0, 0, 0},        /* its finalize failed */
        {1, 4096, 0},
        {1, 0, 0},
    };
    cr_assert_eq(mi__cu_engine_next(cfgs, 5, 0, 1 << 20, 0), 3);
    cr_assert_eq(mi__cu_engine_next(cfgs, 5, 0, 1 << 20, 1), 1, "runtime compilation allowed");
    cr_assert_eq(mi__cu_engine_next(cfgs, 5, 4, 1 << 20, 0), 4, "from the next after a failure");
    cr_assert_eq(mi__cu_engine_next(cfgs, 5, 0, (size_t)1 << 30, 0), 0);
    cr_assert_eq(mi__cu_engine_next(cfgs, 5, 0, 0, 0), 4, "budget 0: the zero-workspace one");
    cr_assert_eq(mi__cu_engine_next(cfgs, 3, 1, 0, 0), -1);
}

Test(cuda_host, conv_workspace_covers_both_paths) {
    mi__cu_conv c = fused_conv(8, 16, 1, NULL, 0, MI_PRECISION_FP16);
    c.prepad = 1;
    c.prepad_k.count = 1000;
    mi__cu_conv_choice fused = {MI__CU_CONV_FUSED, 0, 1, MI__CU_MATH_TENSOR}, epi = fused;
    epi.path = MI__CU_CONV_EPILOGUE;
    mi__cu_ws w;
    /* The graph API's plan needs more than the legacy algorithm: its size rules. */
    cr_assert_eq(mi__cu_conv_ws(NULL, &c, &epi, 4096, 70000, &w), MI_OK);
    cr_assert_eq(w.algo, 70000);
    cr_assert_eq(w.prepad, 2000, "the padded input in float16");
    cr_assert_eq(w.prepad_off % MI__CU_WS_ALIGN, 0);
    cr_assert_geq(w.prepad_off, 70000);
    cr_assert_eq(w.bias, 0);
    /* The legacy algorithm needs more; a fused call without bias adds zeros. */
    c.has_bias = 0;
    cr_assert_eq(mi__cu_conv_ws(NULL, &c, &fused, 1 << 20, 512, &w), MI_OK);
    cr_assert_eq(w.algo, 1 << 20);
    cr_assert_eq(w.bias, 16 * 2);
    cr_assert_geq(w.request, w.bias_off + w.bias);
    /* Nothing at all: no workspace. */
    c.prepad = 0;
    cr_assert_eq(mi__cu_conv_ws(NULL, &c, &epi, 0, 0, &w), MI_OK);
    cr_assert_eq(w.request, 0);
}

/* ---- the device footprint ----------------------------------------------------------------------- */

Test(cuda_host, stack_limit_choice) {
    size_t bytes;
    int set;
    cr_assert_eq(mi__cu_stack_choose(NULL, 40, &bytes, &set), MI_OK);
    cr_assert(set && bytes == 48, "ours rounded up to 16: %zu", bytes);
    cr_assert_eq(mi__cu_stack_choose("", 0, &bytes, &set), MI_OK);
    cr_assert(set && bytes == 16, "at least 16: %zu", bytes);
    cr_assert_eq(mi__cu_stack_choose("keep", 40, &bytes, &set), MI_OK);
    cr_assert(!set && bytes == 0);
    cr_assert_eq(mi__cu_stack_choose("4096", 40, &bytes, &set), MI_OK);
    cr_assert(set && bytes == 4096);
    cr_assert_eq(mi__cu_stack_choose("32", 40, &bytes, &set), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "40 bytes"), "%s", mi_last_error());
    cr_assert_eq(mi__cu_stack_choose("lots", 40, &bytes, &set), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "MI_CUDA_STACK='lots'"), "%s", mi_last_error());
    cr_assert_eq(mi__cu_stack_choose("-1", 0, &bytes, &set), MI_ERR_INVALID_ARG);
}

Test(cuda_host, stack_reservation_and_the_context_share) {
    /* H100 SXM / H200: 132 SMs x 2048 threads x 1 KiB = 264 MiB; at 48 B, 12.4 MiB. */
    cr_assert_eq(mi__cu_stack_reservation(132, 2048, 1024), (size_t)264 << 20);
    cr_assert_eq(mi__cu_stack_reservation(132, 2048, 48), (size_t)132 * 2048 * 48);
    cr_assert_eq(mi__cu_stack_reservation(0, 2048, 1024), 0);
    cr_assert_eq(mi__cu_stack_reservation(INT_MAX, INT_MAX, SIZE_MAX / 2), SIZE_MAX);
    cr_assert_eq(mi__cu_context_share(710, 103, 264, 2), 341);
    cr_assert_eq(mi__cu_context_share(100, 103, 0, 0), 0, "parts above the whole: nothing left to say");
    cr_assert_eq(mi__cu_context_share(100, SIZE_MAX, 1, 0), 0);
}

Test(cuda_host, module_loading_warning) {
    cr_assert_null(mi__cu_loading_warning(2, NULL));
    cr_assert(strstr(mi__cu_loading_warning(1, "EAGER"), "CUDA_MODULE_LOADING=EAGER"));
    cr_assert(strstr(mi__cu_loading_warning(1, NULL), "eagerly"));
    cr_assert(strstr(mi__cu_loading_warning(0, NULL), "unknown"));
}

Test(cuda_host, handles_only_for_the_libraries_a_model_calls) {
    cr_assert_eq(mi__cu_op_libs(MI_OP_CONV, 1), MI__CU_LIB_DNN);
    cr_assert_eq(mi__cu_op_libs(MI_OP_GEMM, 0), MI__CU_LIB_BLAS);
    cr_assert_eq(mi__cu_op_libs(MI_OP_MATMUL, 0), MI__CU_LIB_BLAS);
    cr_assert_eq(mi__cu_op_libs(MI_OP_MAX_POOL, 1), MI__CU_LIB_DNN);
    cr_assert_eq(mi__cu_op_libs(MI_OP_MAX_POOL, 0), 0, "our pool kernel");
    cr_assert_eq(mi__cu_op_libs(MI_OP_SOFTMAX, 1), MI__CU_LIB_DNN);
    cr_assert_eq(mi__cu_op_libs(MI_OP_BATCH_NORM, 0), 0);
    cr_assert_eq(mi__cu_op_libs(MI_OP_RELU, 0), 0);
    cr_assert_eq(mi__cu_op_libs(MI_OP_RELAYOUT, 0), 0);
}

/* ---- the transformers' ops --------------------------------------------------------------------- */

Test(cuda_host, tile_plan_repeats_each_axis) {
    mi_tensor x = tensor(2, D(2, 3)), y = tensor(2, D(4, 6));
    mi__k_copy c;
    cr_assert(mi__cu_copy_tile(&x, &y, &c));
    float src[6], dst[24];
    for (int i = 0; i < 6; i++) src[i] = (float)i;
    run_copy(&c, src, dst);
    for (int r = 0; r < 4; r++)
        for (int col = 0; col < 6; col++)
            cr_assert_float_eq(dst[r * 6 + col], src[(r % 2) * 3 + col % 3], 0.0f, "[%d][%d]", r, col);
    mi_tensor big = tensor(5, D(1, 1, 1, 1, 2)), bigy = tensor(5, D(1, 1, 1, 1, 4));
    cr_assert_not(mi__cu_copy_tile(&big, &bigy, &c), "rank 5 needs 10 copy dims");
}

/* The kernel's offsets (a division per dim) are the host loop's (an
 * odometer) for a three-way broadcast, so both run mi_k_nary_elem on the
 * same elements. */
Test(cuda_host, math_offsets_match_the_host_walk) {
    const int64_t c[4] = {2, 1, 4, 1}, a[3] = {3, 1, 1}, b[4] = {1, 3, 1, 5}, out[4] = {2, 3, 4, 5};
    int ranks[3] = {4, 3, 4};
    const int64_t *dims[3] = {c, a, b};
    mi_k_nwalk w;
    mi_k_nwalk_init(&w, 3, ranks, dims, 4, out);
    mi_k_nodo o;
    mi_k_nodo_start(&w, 0, &o);
    for (int64_t i = 0; i < 120; i++, mi_k_nodo_next(&w, &o)) {
        int64_t off[3];
        mi_k_nwalk_offsets(&w, i, off);
        for (int k = 0; k < 3; k++) cr_assert_eq(off[k], o.off[k], "element %lld operand %d", (long long)i, k);
        int64_t n = i / 60, ch = (i / 20) % 3, h = (i / 5) % 4, wd = i % 5;
        cr_assert_eq(off[0], n * 4 + h);
        cr_assert_eq(off[1], ch);
        cr_assert_eq(off[2], ch * 5 + wd);
    }
    /* From the middle, as a task starts. */
    mi_k_nodo_start(&w, 77, &o);
    int64_t off[3];
    mi_k_nwalk_offsets(&w, 77, off);
    cr_assert(off[0] == o.off[0] && off[1] == o.off[1] && off[2] == o.off[2]);
}
