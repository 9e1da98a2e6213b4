/* The CPU backend's fp32 fast paths for the transformers' ops: the
 * vectorized exp, erf and tanh (src/backend_cpu/vecmath.h) against libm
 * in double over a sweep of floats; the element ops' merged-broadcast
 * loops (math.c) against the plain per-element rule, bit for bit where
 * no vecmath function is involved, also in place; Softmax over the last
 * axis with masked (-inf) and NaN rows; LayerNormalization's row loop;
 * and the fused linear layer's bias + GELU epilogue. */
#include "cpu_test_util.h"
#include "backend_cpu/vecmath.h"

/* |got - ref| in units of the float spacing at ref. */
static double ulps(float got, double ref) {
    float r = (float)ref;
    float up = nextafterf(fabsf(r), INFINITY);
    double spacing = r == 0.0f ? 0x1p-149 : (double)up - (double)fabsf(r);
    return fabs((double)got - ref) / spacing;
}

typedef struct sweep_fn {
    const char *name;
    float (*fast)(float);
    double (*ref)(double);
    double max_ulps;
} sweep_fn;

static float v_exp(float x) { return mi__v_exp(x); }
static float v_erf(float x) { return mi__v_erf(x); }
static float v_tanh(float x) { return mi__v_tanh(x); }

Test(cpu_fast, vecmath_within_a_few_ulp_of_libm) {
    const sweep_fn fns[] = {{"exp", v_exp, exp, 1.5}, {"erf", v_erf, erf, 4.0}, {"tanh", v_tanh, tanh, 2.0}};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        double worst = 0.0;
        float worst_x = 0.0f;
        /* every 4093rd bit pattern: both signs, subnormals to infinity */
        for (uint64_t u = 0; u < 0x100000000ull; u += 4093) {
            float x = mi__v_float((uint32_t)u), got = fns[f].fast(x);
            double ref = fns[f].ref((double)x);
            if (isnan(ref) || isinf(ref) || isinf(got)) {
                cr_assert(isnan(ref) ? isnan(got) : got == (float)ref, "%s(%a) = %a, libm %a", fns[f].name, x, got,
                          ref);
                continue;
            }
            double e = ulps(got, ref);
            if (e > worst) {
                worst = e;
                worst_x = x;
            }
        }
        cr_assert_leq(worst, fns[f].max_ulps, "%s: %.2f ulp at %a", fns[f].name, worst, worst_x);
    }
    cr_assert(signbit(mi__v_tanh(-0.0f)) && signbit(mi__v_erf(-0.0f)), "the sign of zero is kept");
    cr_assert_eq(mi__v_exp(-INFINITY), 0.0f);
    cr_assert(isinf(mi__v_exp(100.0f)));
    cr_assert_eq(mi__v_erf(INFINITY), 1.0f);
    cr_assert_eq(mi__v_tanh(-INFINITY), -1.0f);
}

/* x [3, 5, 37] (in place when asked) through Erf and Tanh, compared with
 * libm in double. */
static void unary_case(const char *op, double (*ref_fn)(double), int inplace) {
    int64_t d[3] = {3, 5, 37};
    mi_rng rng = {21};
    float *x = rand_floats(&rng, 555);
    for (int i = 0; i < 555; i++) x[i] *= 4.0f;
    double *ref = zeros(555);
    for (int i = 0; i < 555; i++) ref[i] = ref_fn(x[i]);
    tg t;
    tg_init(&t, 17);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_node(&t, op, "x", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    if (inplace) tg_alias(&t, "y", "x");
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const float *y = tg_data(&t, "y");
    for (int i = 0; i < 555; i++) cr_assert_leq(ulps(y[i], ref[i]), 4.0, "%s(%a) = %a", op, x[i], y[i]);
    tg_free(&t);
    free(x);
    free(ref);
}

Test(cpu_fast, erf_and_tanh_also_in_place) {
    unary_case("Erf", erf, 0);
    unary_case("Erf", erf, 1);
    unary_case("Tanh", tanh, 0);
    unary_case("Tanh", tanh, 1);
}

/* Where(cond [5, 1], x [3, 5, 37], s []) and Max(x, b [37]), Pow(|x|,
 * e [5, 1]): exactly the per-element rule at the broadcast indices. */
Test(cpu_fast, where_max_pow_broadcast_exactly) {
    int64_t d[3] = {3, 5, 37}, dc[2] = {5, 1}, db[1] = {37};
    mi_rng rng = {22};
    float *x = rand_floats(&rng, 555), *b = rand_floats(&rng, 37), *e = rand_floats(&rng, 5);
    float s[1] = {-INFINITY}, *ax = malloc(555 * sizeof *ax);
    uint8_t cond[5] = {1, 0, 1, 1, 0};
    for (int i = 0; i < 555; i++) ax[i] = fabsf(x[i]);
    b[3] = NAN;
    tg t;
    tg_init(&t, 17);
    tg_input(&t, "c", MI_DTYPE_BOOL, 2, dc, cond);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_input(&t, "ax", MI_DTYPE_FLOAT, 3, d, ax);
    tg_weight(&t, "s", MI_DTYPE_FLOAT, 0, NULL, s);
    tg_weight(&t, "b", MI_DTYPE_FLOAT, 1, db, b);
    tg_weight(&t, "e", MI_DTYPE_FLOAT, 2, dc, e);
    tg_node(&t, "Where", "c,x,s", "w", 0, NULL);
    tg_node(&t, "Max", "x,b", "m", 0, NULL);
    tg_node(&t, "Pow", "ax,e", "p", 0, NULL);
    tg_output(&t, "w");
    tg_output(&t, "m");
    tg_output(&t, "p");
    tg_finalize(&t, 0, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const float *w = tg_data(&t, "w"), *m = tg_data(&t, "m"), *p = tg_data(&t, "p");
    for (int i = 0; i < 555; i++) {
        int row = (i / 37) % 5, col = i % 37;
        float want_w = cond[row] ? x[i] : s[0];
        float want_m = mi_k_binary_f32(MI_K_BIN_MAX, x[i], b[col]);
        float want_p = powf(ax[i], e[row]);
        cr_assert(memcmp(&w[i], &want_w, 4) == 0, "Where at %d: %a, want %a", i, w[i], want_w);
        cr_assert(memcmp(&m[i], &want_m, 4) == 0, "Max at %d: %a, want %a", i, m[i], want_m);
        cr_assert(memcmp(&p[i], &want_p, 4) == 0, "Pow at %d: %a, want %a", i, p[i], want_p);
    }
    tg_free(&t);
    free(x);
    free(b);
    free(e);
    free(ax);
}

/* Softmax over the last axis of [4, 3, 67]: row 1 half masked with -inf,
 * row 2 with a NaN (all NaN out), row 3 all -inf (NaN out, as the
 * reference formula gives), the rest plain. */
Test(cpu_fast, softmax_last_axis_masked_and_nan_rows) {
    int64_t d[3] = {4, 3, 67};
    const int len = 67, rows = 12;
    mi_rng rng = {23};
    float *x = rand_floats(&rng, 804);
    for (int i = 0; i < 804; i++) x[i] *= 20.0f;
    for (int l = 30; l < len; l++) x[1 * len + l] = -INFINITY;
    x[2 * len + 40] = NAN;
    for (int l = 0; l < len; l++) x[3 * len + l] = -INFINITY;
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_node(&t, "Softmax", "x", "y", 1, (mi_attr[]){A_int("axis", -1)});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const float *y = tg_data(&t, "y");
    for (int r = 0; r < rows; r++) {
        const float *xr = x + r * len, *yr = y + r * len;
        if (r == 2 || r == 3) {
            for (int l = 0; l < len; l++) cr_assert(isnan(yr[l]), "row %d: %a at %d, want NaN", r, yr[l], l);
            continue;
        }
        double mx = -INFINITY, sum = 0.0, ref[67];
        for (int l = 0; l < len; l++) mx = xr[l] > mx ? xr[l] : mx;
        for (int l = 0; l < len; l++) sum += ref[l] = exp((double)xr[l] - mx);
        for (int l = 0; l < len; l++) ref[l] /= sum;
        cr_assert_lt(nerr(yr, ref, (size_t)len), 1e-6, "row %d", r);
        if (r == 1)
            for (int l = 30; l < len; l++) cr_assert_eq(yr[l], 0.0f);
    }
    tg_free(&t);
    free(x);
}

Test(cpu_fast, layer_norm_rows) {
    int64_t d[2] = {6, 100}, dw[1] = {100};
    mi_rng rng = {24};
    float *x = rand_floats(&rng, 600), *sc = rand_floats(&rng, 100), *bi = rand_floats(&rng, 100);
    for (int i = 0; i < 600; i++) x[i] = x[i] * 3.0f + 5.0f; /* a mean far from 0 */
    double *ref = zeros(600);
    for (int r = 0; r < 6; r++) {
        double mean = 0.0, var = 0.0;
        for (int i = 0; i < 100; i++) mean += x[r * 100 + i];
        mean /= 100.0;
        for (int i = 0; i < 100; i++) var += (x[r * 100 + i] - mean) * (x[r * 100 + i] - mean);
        var /= 100.0;
        for (int i = 0; i < 100; i++) ref[r * 100 + i] = (x[r * 100 + i] - mean) / sqrt(var + 1e-5) * sc[i] + bi[i];
    }
    tg t;
    tg_init(&t, 17);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 2, d, x);
    tg_weight(&t, "s", MI_DTYPE_FLOAT, 1, dw, sc);
    tg_weight(&t, "b", MI_DTYPE_FLOAT, 1, dw, bi);
    tg_node(&t, "LayerNormalization", "x,s,b", "y", 2, (mi_attr[]){A_int("axis", -1), A_float("epsilon", 1e-5f)});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    cr_assert_lt(nerr(tg_data(&t, "y"), ref, 600), 1e-5);
    tg_free(&t);
    free(x);
    free(sc);
    free(bi);
    free(ref);
}

/* rows x n of y plus bias, then each GELU form (or none), against
 * kernels/math.h's libm form (on the pool where it has threads). */
Test(cpu_fast, bias_gelu_rows_every_form) {
    const int64_t rows = 70, n = 300;
    mi_backend *be = NULL;
    cr_assert_eq(mi_backend_cpu_create(NULL, &be), MI_OK, "%s", mi_last_error());
    mi__cpu *cpu = be->state;
    const int ops[3] = {0, MI_K_UN_GELU, MI_K_UN_GELU_TANH};
    for (int o = 0; o < 3; o++) {
        mi_rng rng = {25};
        float *y = rand_floats(&rng, (size_t)(rows * n)), *bias = rand_floats(&rng, (size_t)n);
        double *ref = zeros((size_t)(rows * n));
        for (int64_t i = 0; i < rows * n; i++) {
            y[i] *= 5.0f;
            float v = y[i] + bias[i % n];
            ref[i] = ops[o] ? mi_k_unary_f32(ops[o], v) : v;
        }
        mi__cpu_bias_gelu_rows(cpu, y, bias, rows, n, ops[o]);
        double e = nerr(y, ref, (size_t)(rows * n));
        if (ops[o]) cr_assert_lt(e, 1e-6, "op %d", ops[o]);
        else cr_assert_eq(e, 0.0, "the bias alone rounds as an Add");
        free(y);
        free(bias);
        free(ref);
    }
    mi_backend_close(be);
}
