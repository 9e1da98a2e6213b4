/* The CPU backend's normalisations, reductions and matrix products against
 * references written here: BatchNormalization (also in place), LRN,
 * Softmax (opset 13 axis, opset < 13 coerce-to-2D), ReduceMean, Gemm
 * (transposes, alpha, beta, every C broadcast), MatMul (batched, batch
 * broadcast, 1-D operands, the folded shared-B case) and the GEMM core
 * directly with every micro-kernel, epilogue and workspace size. */
#include "cpu_test_util.h"

static int64_t numel(int nd, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= d[i];
    return n;
}

/* ---- BatchNormalization ------------------------------------------------------------------ */

static void bn_case(int inplace) {
    int64_t d[4] = {2, 4, 3, 5}, c[1] = {4};
    mi_rng rng = {5};
    float *x = rand_floats(&rng, 120), *sc = rand_floats(&rng, 4), *b = rand_floats(&rng, 4);
    float *mean = rand_floats(&rng, 4), *var = rand_floats(&rng, 4);
    for (int i = 0; i < 4; i++) var[i] = fabsf(var[i]) + 0.1f;
    double ref[120];
    for (int i = 0; i < 120; i++) {
        int ch = (i / 15) % 4;
        ref[i] = (x[i] - mean[ch]) / sqrt((double)var[ch] + 1e-3) * sc[ch] + b[ch];
    }
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 4, d, x);
    tg_weight(&t, "s", MI_DTYPE_FLOAT, 1, c, sc);
    tg_weight(&t, "b", MI_DTYPE_FLOAT, 1, c, b);
    tg_weight(&t, "m", MI_DTYPE_FLOAT, 1, c, mean);
    tg_weight(&t, "v", MI_DTYPE_FLOAT, 1, c, var);
    tg_node(&t, "BatchNormalization", "x,s,b,m,v", "y", 1, (mi_attr[]){A_float("epsilon", 1e-3f)});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    if (inplace) tg_alias(&t, "y", "x");
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, 120);
    tg_free(&t);
    free(x);
    free(sc);
    free(b);
    free(mean);
    free(var);
}

Test(cpu_norm, batch_norm_and_in_place) {
    bn_case(0);
    bn_case(1);
}

Test(cpu_norm, lrn) {
    int64_t d[4] = {2, 7, 3, 2};
    mi_rng rng = {6};
    float *x = rand_floats(&rng, 84);
    double ref[84];
    const int size = 4;
    const double alpha = 0.02, beta = 0.6, bias = 1.5;
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 7; c++)
            for (int i = 0; i < 6; i++) {
                double sq = 0;
                for (int cc = c - (size - 1) / 2; cc <= c + size / 2; cc++)
                    if (cc >= 0 && cc < 7) sq += (double)x[(n * 7 + cc) * 6 + i] * x[(n * 7 + cc) * 6 + i];
                ref[(n * 7 + c) * 6 + i] = x[(n * 7 + c) * 6 + i] / pow(bias + alpha / size * sq, beta);
            }
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 4, d, x);
    tg_node(&t, "LRN", "x", "y", 4,
            (mi_attr[]){A_int("size", size), A_float("alpha", (float)alpha), A_float("beta", (float)beta),
                        A_float("bias", (float)bias)});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, 84);
    tg_free(&t);
    free(x);
}

/* Softmax of x [2, 3, 4] at axis 1: over that dim (opset 13) or over all
 * dims from it, flattened (opset 11). */
static void softmax_case(int64_t opset, int64_t axis) {
    int64_t d[3] = {2, 3, 4};
    mi_rng rng = {(uint64_t)(opset * 10 + axis)};
    float *x = rand_floats(&rng, 24);
    for (int i = 0; i < 24; i++) x[i] *= 5.0f;
    double ref[24];
    int64_t a = axis < 0 ? axis + 3 : axis, outer = 1, len = 1, inner = 1;
    for (int i = 0; i < 3; i++) {
        if (i < a) outer *= d[i];
        else if (i == a || opset < 13) len *= d[i];
        else inner *= d[i];
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double sum = 0;
            for (int64_t l = 0; l < len; l++) sum += exp(x[(o * len + l) * inner + i]);
            for (int64_t l = 0; l < len; l++)
                ref[(o * len + l) * inner + i] = exp(x[(o * len + l) * inner + i]) / sum;
        }
    tg t;
    tg_init(&t, opset);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_node(&t, "Softmax", "x", "y", 1, (mi_attr[]){A_int("axis", axis)});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, 24);
    tg_free(&t);
    free(x);
}

Test(cpu_norm, softmax_axis_by_opset) {
    for (int64_t axis = -1; axis <= 2; axis++) {
        softmax_case(13, axis);
        softmax_case(11, axis);
    }
}

static void reduce_case(const int64_t *axes, size_t na, int keepdims) {
    int64_t d[4] = {2, 3, 4, 5};
    mi_rng rng = {na * 3 + (uint64_t)keepdims};
    float *x = rand_floats(&rng, 120);
    int red[4] = {0};
    for (size_t i = 0; i < na; i++) red[axes[i] < 0 ? axes[i] + 4 : axes[i]] = 1;
    if (!na) red[0] = red[1] = red[2] = red[3] = 1;
    double sum[120] = {0};
    int cnt[120] = {0};
    for (int i = 0; i < 120; i++) {
        int c[4] = {i / 60, (i / 20) % 3, (i / 5) % 4, i % 5}, o = 0;
        for (int k = 0; k < 4; k++)
            if (!red[k]) o = o * (int)d[k] + c[k];
        sum[o] += x[i];
        cnt[o]++;
    }
    int64_t outn = 1;
    for (int k = 0; k < 4; k++)
        if (!red[k]) outn *= d[k];
    for (int64_t o = 0; o < outn; o++) sum[o] /= cnt[o];
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 4, d, x);
    mi_attr at[2] = {A_int("keepdims", keepdims), A_ints("axes", na, axes)};
    tg_node(&t, "ReduceMean", "x", "y", na ? 2 : 1, at);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(numel(tg_tensor(&t, "y")->ndim, tg_tensor(&t, "y")->dims), outn);
    cr_assert_eq(tg_tensor(&t, "y")->ndim, keepdims ? 4 : 4 - (na ? (int)na : 4));
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), sum, (size_t)outn);
    tg_free(&t);
    free(x);
}

Test(cpu_norm, reduce_mean) {
    reduce_case((int64_t[]){2, 3}, 2, 1);
    reduce_case((int64_t[]){2, 3}, 2, 0);
    reduce_case((int64_t[]){0, 2}, 2, 1);
    reduce_case((int64_t[]){-3}, 1, 0);
    reduce_case(NULL, 0, 1);
    reduce_case(NULL, 0, 0);
}

/* ---- Gemm ---------------------------------------------------------------------------------- */

static void gemm_case(int ta, int tb, float alpha, float beta, int cnd, const int64_t *cd) {
    const int64_t m = 13, n = 37, k = 29;
    int64_t ad[2] = {ta ? k : m, ta ? m : k}, bd[2] = {tb ? n : k, tb ? k : n};
    mi_rng rng = {(uint64_t)(ta * 2 + tb + cnd * 4)};
    float *a = rand_floats(&rng, (size_t)(m * k)), *b = rand_floats(&rng, (size_t)(k * n));
    float *c = rand_floats(&rng, (size_t)(m * n));
    double *ref = zeros((size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            acc *= alpha;
            if (cnd >= 0) {
                int64_t ci = cnd == 2 ? (cd[0] == 1 ? 0 : i) : 0;
                int64_t cj = cnd >= 1 && cd[cnd - 1] != 1 ? j : 0;
                acc += beta * c[ci * (cnd == 2 ? cd[1] : 1) + cj];
            }
            ref[i * n + j] = acc;
        }
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "a", MI_DTYPE_FLOAT, 2, ad, a);
    tg_input(&t, "b", MI_DTYPE_FLOAT, 2, bd, b);
    if (cnd >= 0) tg_input(&t, "c", MI_DTYPE_FLOAT, cnd, cd, c);
    mi_attr at[4] = {A_int("transA", ta), A_int("transB", tb), A_float("alpha", alpha), A_float("beta", beta)};
    tg_node(&t, "Gemm", cnd >= 0 ? "a,b,c" : "a,b", "y", 4, at);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, (size_t)(m * n));
    tg_free(&t);
    free(a);
    free(b);
    free(c);
    free(ref);
}

Test(cpu_linalg, gemm_transposes_alpha_beta_broadcast_c) {
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) gemm_case(ta, tb, 0.75f, 1.5f, 2, (int64_t[]){13, 37});
    gemm_case(0, 1, 1.0f, 1.0f, -1, NULL);
    gemm_case(0, 0, 2.0f, 0.5f, 0, NULL);
    gemm_case(1, 0, 1.0f, -1.0f, 1, (int64_t[]){37});
    gemm_case(0, 0, 1.0f, 1.0f, 1, (int64_t[]){1});
    gemm_case(0, 1, 1.0f, 2.0f, 2, (int64_t[]){1, 37});
    gemm_case(1, 1, 1.0f, 2.0f, 2, (int64_t[]){13, 1});
}

/* ---- MatMul ------------------------------------------------------------------------------------ */

static void matmul_case(int na, const int64_t *ad, int nb, const int64_t *bd) {
    int64_t a2[MI_MAX_DIMS + 1], b2[MI_MAX_DIMS + 1];
    int ra = na, rb = nb;
    if (na == 1) { a2[0] = 1; a2[1] = ad[0]; ra = 2; } else memcpy(a2, ad, sizeof(int64_t) * (size_t)na);
    if (nb == 1) { b2[0] = bd[0]; b2[1] = 1; rb = 2; } else memcpy(b2, bd, sizeof(int64_t) * (size_t)nb);
    int64_t m = a2[ra - 2], k = a2[ra - 1], n = b2[rb - 1];
    int r = (ra > rb ? ra : rb) - 2;
    int64_t od[MI_MAX_DIMS] = {0}, batches = 1;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - (ra - 2)), ib = i - (r - (rb - 2));
        int64_t x = ia >= 0 ? a2[ia] : 1, y = ib >= 0 ? b2[ib] : 1;
        od[i] = x == 1 ? y : x;
        batches *= od[i];
    }
    size_t an = (size_t)numel(na, ad), bn = (size_t)numel(nb, bd);
    mi_rng rng = {an + bn};
    float *a = rand_floats(&rng, an), *b = rand_floats(&rng, bn);
    double *ref = zeros((size_t)(batches * m * n));
    for (int64_t t = 0; t < batches; t++) {
        /* batch index -> A and B matrix index by broadcasting */
        int64_t ai = 0, bi = 0, as = 1, bs = 1, idx = t;
        for (int i = r - 1; i >= 0; i--) {
            int64_t c = idx % od[i];
            idx /= od[i];
            int ia = i - (r - (ra - 2)), ib = i - (r - (rb - 2));
            if (ia >= 0) { if (a2[ia] != 1) ai += c * as; as *= a2[ia]; }
            if (ib >= 0) { if (b2[ib] != 1) bi += c * bs; bs *= b2[ib]; }
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t p = 0; p < k; p++)
                    acc += (double)a[ai * m * k + i * k + p] * b[bi * k * n + p * n + j];
                ref[(t * m + i) * n + j] = acc;
            }
    }
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "a", MI_DTYPE_FLOAT, na, ad, a);
    tg_input(&t, "b", MI_DTYPE_FLOAT, nb, bd, b);
    tg_node(&t, "MatMul", "a,b", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(numel(tg_tensor(&t, "y")->ndim, tg_tensor(&t, "y")->dims), batches * m * n);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, (size_t)(batches * m * n));
    tg_free(&t);
    free(a);
    free(b);
    free(ref);
}

Test(cpu_linalg, matmul_batched_broadcast_1d) {
    matmul_case(2, (int64_t[]){7, 9}, 2, (int64_t[]){9, 11});
    matmul_case(3, (int64_t[]){4, 7, 9}, 3, (int64_t[]){4, 9, 5});
    matmul_case(4, (int64_t[]){2, 1, 3, 6}, 3, (int64_t[]){4, 6, 5});
    matmul_case(3, (int64_t[]){3, 5, 6}, 2, (int64_t[]){6, 8}); /* shared B: folded */
    matmul_case(2, (int64_t[]){5, 6}, 3, (int64_t[]){3, 6, 8});
    matmul_case(1, (int64_t[]){6}, 2, (int64_t[]){6, 8});
    matmul_case(3, (int64_t[]){2, 5, 6}, 1, (int64_t[]){6});
    matmul_case(1, (int64_t[]){6}, 1, (int64_t[]){6});
}

/* ---- the GEMM core ------------------------------------------------------------------------------- */

static void core_case(mi__cpu *cpu, int ta, int tb, int64_t m, int64_t n, int64_t k, int accumulate,
                      int with_bias, int with_res, int act, size_t ws_size) {
    mi_rng rng = {(uint64_t)(m * n + k)};
    float *a = rand_floats(&rng, (size_t)(m * k)), *b = rand_floats(&rng, (size_t)(k * n));
    float *c = rand_floats(&rng, (size_t)(m * n)), *bias = rand_floats(&rng, (size_t)m);
    float *res = rand_floats(&rng, (size_t)(m * n));
    double *ref = zeros((size_t)(m * n));
    const float alpha = 0.5f, lo = -0.1f, hi = 0.3f;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc += (double)(ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            acc = alpha * acc + (accumulate ? c[i * n + j] : 0.0);
            acc += (with_bias ? bias[i] : 0.0) + (with_res ? res[i * n + j] : 0.0);
            if (act == MI_ACT_RELU) acc = acc < 0 ? 0 : acc;
            if (act == MI_ACT_CLIP) acc = acc < lo ? lo : acc > hi ? hi : acc;
            ref[i * n + j] = acc;
        }
    mi__gemm_epi e;
    mi__gemm_epi_init(&e);
    e.alpha = alpha;
    e.accumulate = accumulate;
    e.bias_row = with_bias ? bias : NULL;
    e.residual = with_res ? res : NULL;
    e.ldr = n;
    e.act = act;
    e.act_min = lo;
    e.act_max = hi;
    if (!ws_size) ws_size = mi__sgemm_workspace(cpu, m, n, k);
    void *ws = malloc(ws_size);
    memset(ws, 0xFF, ws_size);
    cr_assert_eq(mi__sgemm(cpu, ta, tb, m, n, k, a, ta ? m : k, b, tb ? k : n, c, n, &e, ws, ws_size), 0);
    assert_close(c, ref, (size_t)(m * n));
    free(ws);
    free(a);
    free(b);
    free(c);
    free(bias);
    free(res);
    free(ref);
}

Test(cpu_linalg, gemm_core_every_kernel_and_epilogue) {
    mi_backend *be;
    cr_assert_eq(mi_backend_cpu_create(NULL, &be), MI_OK);
    mi__cpu *cpu = be->state;
    const mi__gemm_kernel *const *ks = mi__gemm_kernels();
    for (int i = 0; ks[i]; i++) {
        cpu->gk = ks[i];
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) core_case(cpu, ta, tb, 37, 53, 300, 0, 0, 0, 0, 0);
        core_case(cpu, 0, 0, 100, 700, 520, 1, 1, 0, MI_ACT_RELU, 0);
        core_case(cpu, 0, 0, 5, 3, 7, 0, 1, 1, MI_ACT_CLIP, 0);
        core_case(cpu, 1, 0, 1, 1000, 64, 1, 1, 1, MI_ACT_NONE, 0);
        core_case(cpu, 0, 1, 300, 2, 600, 0, 0, 1, MI_ACT_RELU, 0);
        core_case(cpu, 0, 0, 4, 5, 0, 1, 1, 1, MI_ACT_NONE, 0); /* K = 0 */
        /* One row (a fully connected layer at batch 1): no packing, columns in
         * chunks of 256, K not a multiple of 16. */
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) core_case(cpu, ta, tb, 1, 601, 1037, tb, 1, ta, MI_ACT_RELU, 0);
        core_case(cpu, 0, 1, 1, 1000, 2048, 0, 1, 0, MI_ACT_CLIP, 0);
    }
    mi_backend_close(be);
}

Test(cpu_linalg, gemm_core_workspace_for_one_thread_or_too_small) {
    mi_backend *be;
    cr_assert_eq(mi_backend_cpu_create(NULL, &be), MI_OK);
    mi__cpu *cpu = be->state;
    size_t full = mi__sgemm_workspace(cpu, 64, 300, 200);
    size_t one = (full - MI__CPU_WS_ALIGN) / (size_t)cpu->nthreads + MI__CPU_WS_ALIGN;
    core_case(cpu, 0, 0, 64, 300, 200, 0, 0, 0, 0, one); /* runs on the caller alone */
    float a[4] = {0}, b[4] = {0}, c[4];
    mi__gemm_epi e;
    mi__gemm_epi_init(&e);
    char small[16];
    cr_assert_eq(mi__sgemm(cpu, 0, 0, 2, 2, 2, a, 2, b, 2, c, 2, &e, small, sizeof small), -1);
    mi_backend_close(be);
}
