/* The CPU backend's arithmetic ops against straightforward references
 * written here: elementwise (unary, binary with numpy broadcasting, int
 * types, in place on either input), pooling (pads, dilations, ceil_mode,
 * count_include_pad, 1-D to 3-D), BatchNormalization (in place), LRN,
 * Softmax by opset, ReduceMean, Gemm (transposes, alpha, beta, broadcast
 * C), MatMul (batched, broadcast, 1-D) and the GEMM core itself. */
#include "cpu_test_util.h"

static int64_t numel(int nd, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= d[i];
    return n;
}

/* ---- unary -------------------------------------------------------------------------------- */

static double ref_unary(const char *op, double x) {
    if (!strcmp(op, "Relu")) return x < 0 ? 0 : x;
    if (!strcmp(op, "Sigmoid")) return 1.0 / (1.0 + exp(-x));
    if (!strcmp(op, "HardSigmoid")) return fmax(0.0, fmin(1.0, 0.3 * x + 0.4));
    if (!strcmp(op, "HardSwish")) return x * fmax(0.0, fmin(1.0, x / 6.0 + 0.5));
    return fmax(-0.5, fmin(0.25, x)); /* Clip */
}

static void unary_case(const char *op, int inplace) {
    int64_t d[3] = {3, 50, 700}; /* > one parallel grain */
    size_t n = (size_t)numel(3, d);
    mi_rng rng = {11};
    float *x = rand_floats(&rng, n);
    for (size_t i = 0; i < n; i++) x[i] *= 8.0f;
    double *ref = zeros(n);
    for (size_t i = 0; i < n; i++) ref[i] = ref_unary(op, x[i]);
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    const float lo = -0.5f, hi = 0.25f;
    if (!strcmp(op, "Clip")) {
        tg_weight(&t, "lo", MI_DTYPE_FLOAT, 0, NULL, &lo);
        tg_weight(&t, "hi", MI_DTYPE_FLOAT, 0, NULL, &hi);
        tg_node(&t, op, "x,lo,hi", "y", 0, NULL);
    } else if (!strcmp(op, "HardSigmoid")) {
        tg_node(&t, op, "x", "y", 2, (mi_attr[]){A_float("alpha", 0.3f), A_float("beta", 0.4f)});
    } else {
        tg_node(&t, op, "x", "y", 0, NULL);
    }
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    if (inplace) tg_alias(&t, "y", "x");
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, n);
    tg_free(&t);
    free(x);
    free(ref);
}

Test(cpu_eltwise, unary_ops_and_in_place) {
    const char *ops[] = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish"};
    for (size_t i = 0; i < 5; i++)
        for (int ip = 0; ip <= 1; ip++) unary_case(ops[i], ip);
}

Test(cpu_eltwise, relu_clip_on_ints) {
    int64_t d[1] = {6};
    int64_t x[6] = {-5, -1, 0, 1, 7, INT64_MAX}, lo = -2, hi = 5;
    int32_t x32[6] = {-5, -1, 0, 1, 7, INT32_MIN};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_INT64, 1, d, x);
    tg_input(&t, "x32", MI_DTYPE_INT32, 1, d, x32);
    tg_weight(&t, "lo", MI_DTYPE_INT64, 0, NULL, &lo);
    tg_weight(&t, "hi", MI_DTYPE_INT64, 0, NULL, &hi);
    tg_node(&t, "Relu", "x", "r", 0, NULL);
    tg_node(&t, "Clip", "x,lo,hi", "c", 0, NULL);
    tg_node(&t, "Relu", "x32", "r32", 0, NULL);
    tg_output(&t, "r");
    tg_output(&t, "c");
    tg_output(&t, "r32");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const int64_t *r = tg_data(&t, "r"), *c = tg_data(&t, "c");
    const int32_t *r32 = tg_data(&t, "r32");
    int64_t er[6] = {0, 0, 0, 1, 7, INT64_MAX}, ec[6] = {-2, -1, 0, 1, 5, 5};
    int32_t er32[6] = {0, 0, 0, 1, 7, 0};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(r[i], er[i]);
        cr_assert_eq(c[i], ec[i]);
        cr_assert_eq(r32[i], er32[i]);
    }
    tg_free(&t);
}

/* ---- binary ---------------------------------------------------------------------------------- */

static double ref_bin(const char *op, double a, double b) {
    if (!strcmp(op, "Add")) return a + b;
    if (!strcmp(op, "Sub")) return a - b;
    if (!strcmp(op, "Mul")) return a * b;
    return a / b;
}

/* inplace: 0 none, 1 out over a, 2 out over b. */
static void binary_case(const char *op, int na, const int64_t *ad, int nb, const int64_t *bd,
                        int inplace) {
    int r = na > nb ? na : nb;
    int64_t od[MI_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - na), ib = i - (r - nb);
        int64_t x = ia >= 0 ? ad[ia] : 1, y = ib >= 0 ? bd[ib] : 1;
        od[i] = x == 1 ? y : x;
    }
    size_t an = (size_t)numel(na, ad), bn = (size_t)numel(nb, bd), on = (size_t)numel(r, od);
    mi_rng rng = {an * 31 + bn};
    float *a = rand_floats(&rng, an), *b = rand_floats(&rng, bn);
    for (size_t i = 0; i < bn; i++) b[i] += b[i] < 0 ? -0.5f : 0.5f; /* no division by ~0 */
    double *ref = zeros(on);
    for (size_t i = 0; i < on; i++)
        ref[i] = ref_bin(op, a[ref_bcast_offset((int64_t)i, r, od, na, ad)], b[ref_bcast_offset((int64_t)i, r, od, nb, bd)]);
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "a", MI_DTYPE_FLOAT, na, ad, a);
    tg_input(&t, "b", MI_DTYPE_FLOAT, nb, bd, b);
    tg_node(&t, op, "a,b", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    if (inplace) tg_alias(&t, "y", inplace == 1 ? "a" : "b");
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, on);
    tg_free(&t);
    free(a);
    free(b);
    free(ref);
}

Test(cpu_eltwise, binary_broadcasting) {
    const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    int64_t nchw[4] = {2, 3, 4, 5}, c11[3] = {3, 1, 1}, one[1] = {1}, last[1] = {5};
    int64_t col[2] = {3, 1}, row[2] = {1, 4}, mid[4] = {2, 1, 4, 1}, big[3] = {4, 300, 200};
    for (int i = 0; i < 4; i++) {
        binary_case(ops[i], 4, nchw, 4, nchw, 0);
        binary_case(ops[i], 4, nchw, 3, c11, 0);
        binary_case(ops[i], 3, c11, 4, nchw, 0);
        binary_case(ops[i], 4, nchw, 0, one, 0);
        binary_case(ops[i], 1, one, 4, nchw, 0);
        binary_case(ops[i], 4, nchw, 1, last, 0);
        binary_case(ops[i], 2, col, 2, row, 0);
        binary_case(ops[i], 4, mid, 4, nchw, 0);
        binary_case(ops[i], 3, big, 3, big, 0);
    }
}

Test(cpu_eltwise, binary_in_place_on_either_input) {
    const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    int64_t nchw[4] = {2, 3, 4, 5}, c11[3] = {3, 1, 1};
    for (int i = 0; i < 4; i++) {
        binary_case(ops[i], 4, nchw, 4, nchw, 1);
        binary_case(ops[i], 4, nchw, 4, nchw, 2);
        binary_case(ops[i], 4, nchw, 3, c11, 1);
        binary_case(ops[i], 3, c11, 4, nchw, 2);
    }
}

Test(cpu_eltwise, int64_and_int32_arithmetic) {
    int64_t d[1] = {5}, s[1] = {1};
    int64_t a[5] = {7, -7, 100, INT64_MAX, 0}, b[5] = {2, 2, -3, 1, 5}, k[1] = {3};
    int32_t a32[5] = {7, -7, 9, 1, 0}, b32[5] = {2, 2, -3, 0, 5};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "a", MI_DTYPE_INT64, 1, d, a);
    tg_input(&t, "b", MI_DTYPE_INT64, 1, d, b);
    tg_input(&t, "k", MI_DTYPE_INT64, 1, s, k);
    tg_input(&t, "a32", MI_DTYPE_INT32, 1, d, a32);
    tg_input(&t, "b32", MI_DTYPE_INT32, 1, d, b32);
    tg_node(&t, "Add", "a,b", "add", 0, NULL);
    tg_node(&t, "Sub", "a,k", "sub", 0, NULL);
    tg_node(&t, "Mul", "a,b", "mul", 0, NULL);
    tg_node(&t, "Div", "a,b", "div", 0, NULL);
    tg_node(&t, "Div", "a32,b32", "div32", 0, NULL);
    const char *outs[] = {"add", "sub", "mul", "div", "div32"};
    for (int i = 0; i < 5; i++) tg_output(&t, outs[i]);
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const int64_t *add = tg_data(&t, "add"), *sub = tg_data(&t, "sub"), *mul = tg_data(&t, "mul"),
                  *dv = tg_data(&t, "div");
    const int32_t *dv32 = tg_data(&t, "div32");
    int64_t eadd[5] = {9, -5, 97, INT64_MIN, 5}, esub[5] = {4, -10, 97, INT64_MAX - 3, -3};
    int64_t emul[5] = {14, -14, -300, INT64_MAX, 0}, ediv[5] = {3, -3, -33, INT64_MAX, 0};
    int32_t ediv32[5] = {3, -3, -3, 0, 0}; /* truncation; x / 0 is 0, not a trap */
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(add[i], eadd[i], "add[%d]", i);
        cr_assert_eq(sub[i], esub[i], "sub[%d]", i);
        cr_assert_eq(mul[i], emul[i], "mul[%d]", i);
        cr_assert_eq(dv[i], ediv[i], "div[%d]", i);
        cr_assert_eq(dv32[i], ediv32[i], "div32[%d]", i);
    }
    tg_free(&t);
}

/* ---- pooling ---------------------------------------------------------------------------------- */

typedef struct pspec {
    const char *op;
    int nsp;
    int64_t n, c, in[3], k[3], s[3], d[3], pb[3], pe[3];
    int ceil_mode, include_pad;
} pspec;

static int64_t pool_out(const pspec *p, int i) {
    int64_t ext = (p->k[i] - 1) * p->d[i] + 1, span = p->in[i] + p->pb[i] + p->pe[i] - ext;
    int64_t o = span / p->s[i] + 1;
    if (p->ceil_mode && span % p->s[i] && (o * p->s[i]) < p->in[i] + p->pb[i]) o++;
    return o;
}

static void pool_case(const pspec *p) {
    int64_t xd[5] = {p->n, p->c}, yd[5] = {p->n, p->c}, pads[6];
    int64_t o[3] = {1, 1, 1}, in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, dl[3] = {1, 1, 1},
            pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0};
    for (int i = 0; i < p->nsp; i++) {
        int j = 3 - p->nsp + i;
        xd[2 + i] = in[j] = p->in[i];
        yd[2 + i] = o[j] = pool_out(p, i);
        k[j] = p->k[i];
        s[j] = p->s[i];
        dl[j] = p->d[i];
        pb[j] = p->pb[i];
        pe[j] = p->pe[i];
        pads[i] = p->pb[i];
        pads[p->nsp + i] = p->pe[i];
    }
    size_t xn = (size_t)numel(2 + p->nsp, xd), yn = (size_t)numel(2 + p->nsp, yd);
    mi_rng rng = {xn};
    float *x = rand_floats(&rng, xn);
    double *ref = zeros(yn);
    int max = !strcmp(p->op, "MaxPool");
    int64_t isp = in[0] * in[1] * in[2], osp = o[0] * o[1] * o[2];
    for (int64_t pl = 0; pl < p->n * p->c; pl++)
        for (int64_t z = 0; z < o[0]; z++)
            for (int64_t y = 0; y < o[1]; y++)
                for (int64_t xx = 0; xx < o[2]; xx++) {
                    double acc = max ? -INFINITY : 0.0;
                    int64_t cnt = 0, padcnt = 0;
                    for (int64_t a = 0; a < k[0]; a++)
                        for (int64_t b = 0; b < k[1]; b++)
                            for (int64_t c = 0; c < k[2]; c++) {
                                int64_t iz = z * s[0] - pb[0] + a * dl[0], iy = y * s[1] - pb[1] + b * dl[1],
                                        ix = xx * s[2] - pb[2] + c * dl[2];
                                if (iz >= -pb[0] && iz < in[0] + pe[0] && iy >= -pb[1] &&
                                    iy < in[1] + pe[1] && ix >= -pb[2] && ix < in[2] + pe[2])
                                    padcnt++;
                                if (iz < 0 || iz >= in[0] || iy < 0 || iy >= in[1] || ix < 0 || ix >= in[2])
                                    continue;
                                double v = x[pl * isp + (iz * in[1] + iy) * in[2] + ix];
                                cnt++;
                                acc = max ? fmax(acc, v) : acc + v;
                            }
                    if (!max) acc /= (double)(p->include_pad ? padcnt : cnt);
                    ref[pl * osp + (z * o[1] + y) * o[2] + xx] = acc;
                }
    tg t;
    tg_init(&t, 19); /* AveragePool dilations need opset 19 */
    tg_input(&t, "x", MI_DTYPE_FLOAT, 2 + p->nsp, xd, x);
    mi_attr at[6] = {A_ints("kernel_shape", (size_t)p->nsp, p->k), A_ints("strides", (size_t)p->nsp, p->s),
                     A_ints("dilations", (size_t)p->nsp, p->d), A_ints("pads", 2 * (size_t)p->nsp, pads),
                     A_int("ceil_mode", p->ceil_mode), A_int("count_include_pad", p->include_pad)};
    tg_node(&t, p->op, "x", "y", max ? 5 : 6, at);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    for (int i = 0; i < 2 + p->nsp; i++)
        cr_assert_eq(tg_tensor(&t, "y")->dims[i], yd[i], "%s output dim %d", p->op, i);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, yn);
    tg_free(&t);
    free(x);
    free(ref);
}

Test(cpu_pool, max_pads_strides_dilations) {
    pspec a = {"MaxPool", 2, 2, 3, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 0, 0};
    pool_case(&a);
    pspec b = {"MaxPool", 2, 1, 2, {11, 9}, {3, 2}, {1, 2}, {2, 3}, {2, 0}, {1, 2}, 0, 0};
    pool_case(&b);
    pspec c = {"MaxPool", 2, 1, 2, {10, 10}, {3, 3}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, 1, 0};
    pool_case(&c);
    pspec big = {"MaxPool", 2, 2, 16, {56, 56}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 0, 0}; /* threads */
    pool_case(&big);
}

Test(cpu_pool, average_ceil_mode_and_count_include_pad) {
    for (int ip = 0; ip <= 1; ip++)
        for (int cm = 0; cm <= 1; cm++) {
            pspec a = {"AveragePool", 2, 2, 3, {9, 10}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}, cm, ip};
            pool_case(&a);
            pspec b = {"AveragePool", 2, 1, 2, {7, 8}, {2, 3}, {3, 2}, {1, 1}, {1, 0}, {0, 2}, cm, ip};
            pool_case(&b);
        }
    pspec d = {"AveragePool", 2, 1, 2, {9, 9}, {2, 2}, {2, 1}, {2, 3}, {1, 1}, {1, 1}, 1, 1};
    pool_case(&d);
}

Test(cpu_pool, one_and_three_spatial_dims) {
    pspec a = {"MaxPool", 1, 2, 3, {13}, {3}, {2}, {1}, {1}, {1}, 1, 0};
    pool_case(&a);
    pspec b = {"AveragePool", 3, 1, 2, {5, 6, 7}, {2, 3, 2}, {1, 2, 2}, {1, 1, 1}, {1, 1, 0}, {0, 1, 1}, 0, 1};
    pool_case(&b);
    pspec c = {"MaxPool", 3, 1, 2, {5, 6, 7}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, 1, 0};
    pool_case(&c);
}

Test(cpu_pool, global_average) {
    int64_t d[4] = {2, 5, 7, 9};
    size_t n = 630;
    mi_rng rng = {3};
    float *x = rand_floats(&rng, n);
    double ref[10] = {0};
    for (size_t i = 0; i < n; i++) ref[i / 63] += x[i] / 63.0;
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 4, d, x);
    tg_node(&t, "GlobalAveragePool", "x", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    assert_close((const float *)tg_data(&t, "y"), ref, 10);
    tg_free(&t);
    free(x);
}
