/* The CPU backend in float16 and bfloat16: its float16 conversions
 * loops against a plain reference; every op it runs in fp32, in both half types,
 * against the fp32 kernel run on the same inputs rounded to the half type
 * (so only the op's own rounding is measured); in place where the op
 * allows it; a fused Conv with residual and activation over its residual;
 * the workspaces (NaN-filled, as every buffer here); a native float16 /
 * bfloat16 graph and a converted one (the load option) through the engine
 * in poison mode; and what is still refused at load, naming the node.
 *
 * Tolerances (expect_half below), per output element, with u the half
 * type's unit roundoff (float16 2^-11, bfloat16 2^-8: |round(v) - v| <=
 * u |v| for a normal v):
 *  - ops that move bytes (views, Transpose, Concat, Split, Slice, Gather,
 *    Pad, Constant) and MaxPool: exact, the output holds input bits;
 *  - elementwise ops and BatchNormalization: u |ref| + f, one rounding of
 *    the fp32 result (f: half of float16's smallest subnormal, 2^-25,
 *    where the result is subnormal; 0 in bfloat16, which has float's
 *    range);
 *  - ops that sum K terms (Conv, Gemm, MatMul, the average pools, LRN,
 *    Softmax, ReduceMean): u |ref| + f + K 2^-24 max|ref|. The CPU
 *    backend sums in fp32 in the reference's order and rounds once, so it
 *    needs only the first terms; the K term is room for a backend summing
 *    in another order (fp32's unit roundoff per term, at the output's
 *    scale: a rule of thumb, since terms may exceed the output).
 * widened_ops_are_the_fp32_kernel_rounded_once checks the CPU backend's
 * result is exactly the rounded fp32 one. */
#include "cpu_test_util.h"
#include "mini_infer/runtime.h"

static const mi_dtype halves[2] = {MI_DTYPE_FLOAT16, MI_DTYPE_BFLOAT16};

static uint16_t to_half(mi_dtype dt, float v) {
    return dt == MI_DTYPE_FLOAT16 ? mi_k_f32_to_f16(v) : mi_k_f32_to_bf16(v);
}

static float from_half(mi_dtype dt, uint16_t h) {
    return dt == MI_DTYPE_FLOAT16 ? mi_k_f16_to_f32(h) : mi_k_bf16_to_f32(h);
}

static float round_half(mi_dtype dt, float v) { return from_half(dt, to_half(dt, v)); }

static double unit_roundoff(mi_dtype dt) { return dt == MI_DTYPE_FLOAT16 ? 0x1p-11 : 0x1p-8; }

static double subnormal_floor(mi_dtype dt) { return dt == MI_DTYPE_FLOAT16 ? 0x1p-25 : 0.0; }

static int64_t numel(int nd, const int64_t *d) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= d[i];
    return n;
}

/* How an output is compared. */
enum { EXACT = -1, ELEMENTWISE = 0 }; /* or K > 0: summed terms per output */

/* got (n halves of dt) against ref (fp32) within the tolerance for k. */
static void expect_half(const char *what, mi_dtype dt, const uint16_t *got, const float *ref, size_t n,
                        double k) {
    double refmax = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)ref[i]) > refmax) refmax = fabs((double)ref[i]);
    for (size_t i = 0; i < n; i++) {
        float g = from_half(dt, got[i]);
        cr_assert(!isnan(g) || isnan(ref[i]), "%s (%s) [%zu]: NaN, reference %g", what, mi_dtype_name(dt), i,
                  (double)ref[i]);
        if (k == EXACT) {
            cr_assert_eq(got[i], to_half(dt, ref[i]), "%s (%s) [%zu]: %04x, expected the input's bits %04x (%g)",
                         what, mi_dtype_name(dt), i, got[i], to_half(dt, ref[i]), (double)ref[i]);
            continue;
        }
        double tol = unit_roundoff(dt) * fabs((double)ref[i]) + subnormal_floor(dt) + k * 0x1p-24 * refmax;
        double d = fabs((double)g - (double)ref[i]);
        cr_assert_leq(d, tol, "%s (%s) [%zu]: got %.9g, reference %.9g: |d| %.3g > tolerance %.3g", what,
                      mi_dtype_name(dt), i, (double)g, (double)ref[i], d, tol);
        if (tol > 0 && d / tol > worst) worst = d / tol;
    }
    cr_log_info("%s (%s): %zu values, worst |d| / tolerance %.3f", what, mi_dtype_name(dt), n, worst);
}

/* ---- one op graph, built twice: fp32 on rounded values and in half ---------------------- */

typedef struct hten {
    const char *name;
    int ndim;
    int64_t dims[MI_MAX_DIMS];
    int weight;   /* an initializer; else a graph input */
    float lo, hi; /* values uniform in [lo, hi] (both 0: [-1, 1]) */
} hten;

typedef struct hnode {
    const char *op, *ins, *outs;
    int nattrs;
    const mi_attr *attrs;
} hnode;

typedef struct hout {
    const char *name;
    double k; /* EXACT, ELEMENTWISE or the summed terms */
} hout;

typedef struct hcase {
    const char *what;
    int64_t opset;
    hten t[6];
    int nt;
    hnode nodes[4];
    int nn;
    hout out[4];
    int nout;
    void (*consts)(tg *t, mi_dtype dt); /* int64 (or half) constants the nodes read */
    int fuse;
    const char *inplace_in; /* the first output shares this input's buffer */
} hcase;

static void fill(mi_rng *r, const hten *t, mi_dtype dt, float *v, uint16_t *h) {
    float lo = t->lo, hi = t->hi;
    if (lo == 0.0f && hi == 0.0f) lo = -1.0f, hi = 1.0f;
    for (int64_t i = 0; i < numel(t->ndim, t->dims); i++) {
        float x = round_half(dt, (float)(lo + (hi - lo) * mi_rng_unit(r)));
        v[i] = x;
        h[i] = to_half(dt, x);
    }
}

static void build(tg *t, const hcase *c, mi_dtype dt, void *const *data) {
    tg_init(t, c->opset ? c->opset : 13);
    for (int i = 0; i < c->nt; i++) {
        const hten *x = &c->t[i];
        if (x->weight) tg_weight(t, x->name, dt, x->ndim, x->dims, data[i]);
        else tg_input(t, x->name, dt, x->ndim, x->dims, data[i]);
    }
    if (c->consts) c->consts(t, dt);
    for (int i = 0; i < c->nn; i++) tg_node(t, c->nodes[i].op, c->nodes[i].ins, c->nodes[i].outs,
                                            c->nodes[i].nattrs, c->nodes[i].attrs);
    for (int i = 0; i < c->nout; i++) tg_output(t, c->out[i].name);
    tg_finalize(t, 1, c->fuse);
}

/* The first output's tensor after fusion (a fused Conv writes the Add's or
 * the activation's output). */
static const char *first_output_name(tg *t, const hcase *c) {
    const mi_node *n = mi_graph_node(t->g, 0);
    return c->fuse ? mi_graph_tensor(t->g, (size_t)n->outputs[0])->name : c->out[0].name;
}

static void run_case(const hcase *c, mi_dtype dt, uint64_t seed) {
    mi_rng r = {seed};
    void *fdata[6], *hdata[6];
    for (int i = 0; i < c->nt; i++) {
        size_t n = (size_t)numel(c->t[i].ndim, c->t[i].dims);
        fdata[i] = malloc((n ? n : 1) * sizeof(float));
        hdata[i] = malloc((n ? n : 1) * sizeof(uint16_t));
        cr_assert(fdata[i] && hdata[i]);
        fill(&r, &c->t[i], dt, fdata[i], hdata[i]);
    }
    tg ref, half;
    build(&ref, c, MI_DTYPE_FLOAT, fdata);
    build(&half, c, dt, hdata);
    if (c->fuse) {
        /* The fusion pass made one Conv with the residual of the half graph too. */
        const mi_node *n = mi_graph_node(half.g, 0);
        cr_assert(n->op == MI_OP_CONV && n->fused.residual >= 0 && n->fused.act != MI_ACT_NONE, "%s: not fused",
                  c->what);
    }
    if (c->inplace_in) tg_alias(&half, first_output_name(&half, c), c->inplace_in);
    cr_assert_eq(tg_run(&ref), MI_OK, "%s fp32: %s", c->what, mi_last_error());
    mi_status st = tg_run(&half);
    cr_assert_eq(st, MI_OK, "%s %s: %s: %s", c->what, mi_dtype_name(dt), mi_status_name(st), mi_last_error());
    for (int i = 0; i < c->nout; i++) {
        const mi_tensor *ht = tg_tensor(&half, c->out[i].name), *ft = tg_tensor(&ref, c->out[i].name);
        size_t n = (size_t)mi_tensor_numel(ft);
        cr_assert_eq(mi_tensor_numel(ht), (int64_t)n);
        char what[128];
        snprintf(what, sizeof what, "%s: %s", c->what, c->out[i].name);
        if (ft->dtype == MI_DTYPE_FLOAT) {
            cr_assert_eq(ht->dtype, dt, "%s is %s", what, mi_dtype_name(ht->dtype));
            expect_half(what, dt, tg_data(&half, c->out[i].name), tg_data(&ref, c->out[i].name), n, c->out[i].k);
        } else {
            cr_assert_eq(ht->dtype, ft->dtype);
            cr_assert(!memcmp(tg_data(&half, c->out[i].name), tg_data(&ref, c->out[i].name), ft->nbytes), "%s", what);
        }
    }
    tg_free(&ref);
    tg_free(&half);
    for (int i = 0; i < c->nt; i++) {
        free(fdata[i]);
        free(hdata[i]);
    }
}

static void run_both(const hcase *c) {
    for (int d = 0; d < 2; d++) run_case(c, halves[d], 17 + (uint64_t)d);
}

#define T4(nm, a, b, c_, d_) {nm, 4, {a, b, c_, d_}, 0, 0, 0}
#define W(nm, nd, ...) {nm, nd, {__VA_ARGS__}, 1, 0, 0}

/* ---- the conversions ---------------------------------------------------------------------- */

/* float16 the plain way, with a branch per case: the reference the
 * shared branch-free rule (kernels/elementwise.h) is held to. */
static uint16_t reference_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, mant = x & 0x7fffffu;
    int32_t exp = (int32_t)((x >> 23) & 0xff);
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
    int32_t e = exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

static float reference_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, x;
    if (exp == 0) {
        if (!mant) {
            x = sign;
        } else {
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 0x1f) {
        x = sign | 0x7f800000u | (mant << 13);
    } else {
        x = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* The backend's float16 conversion loops (the shared branch-free rule, run
 * in the vectorized per-instruction-set tasks) give the plain reference's
 * bits: every half; every float near a half and near each midpoint between
 * two (the ties, both signs); and a sweep over all float bit patterns
 * (stride 61: NaNs, infinities, subnormals of both types, overflow). 2^32
 * floats, checked once by hand, agree too. bfloat16 has no branches to
 * remove: tests/test_half checks its rule. */
static void convert_and_compare(mi__cpu *cpu, const float *f, size_t n, uint16_t *h, float *back) {
    mi__cpu_f32_to_half(cpu, MI_DTYPE_FLOAT16, f, h, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        if (h[i] != reference_f32_to_f16(f[i])) {
            uint32_t bits;
            memcpy(&bits, &f[i], 4);
            cr_assert_fail("%a (%08x): %04x, the reference gives %04x", (double)f[i], bits, h[i],
                           reference_f32_to_f16(f[i]));
        }
    mi__cpu_half_to_f32(cpu, MI_DTYPE_FLOAT16, h, back, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        float want = reference_f16_to_f32(h[i]);
        if (memcmp(&back[i], &want, 4))
            cr_assert_fail("%04x: %a, the reference gives %a", h[i], (double)back[i], (double)want);
    }
}

Test(cpu_half, float16_conversion_loops_match_a_plain_reference) {
    mi_backend *b;
    cr_assert_eq(mi_backend_cpu_create(NULL, &b), MI_OK);
    mi__cpu *cpu = b->state;
    const size_t chunk = (size_t)1 << 20;
    float *f = malloc(chunk * sizeof *f), *back = malloc(chunk * sizeof *back);
    uint16_t *h = malloc(chunk * sizeof *h);
    cr_assert(f && back && h);
    size_t n = 0;
    for (uint32_t k = 0; k < 0x10000u; k++) {
        float a = reference_f16_to_f32((uint16_t)k), bnext = reference_f16_to_f32((uint16_t)(k + 1));
        f[n++] = a;
        f[n++] = nextafterf(a, INFINITY);
        f[n++] = nextafterf(a, -INFINITY);
        if ((k & 0x7c00u) != 0x7c00u && k != 0x7bffu && k != 0xfbffu && k < 0xffffu) {
            float mid = a + (bnext - a) / 2; /* exact: halves have 11 bits */
            f[n++] = mid;
            f[n++] = nextafterf(mid, 0.0f);
            f[n++] = nextafterf(mid, INFINITY);
            f[n++] = nextafterf(mid, -INFINITY);
        }
    }
    convert_and_compare(cpu, f, n, h, back);
    n = 0;
    for (uint64_t u = 0; u < ((uint64_t)1 << 32); u += 61) {
        uint32_t bits = (uint32_t)u;
        memcpy(&f[n++], &bits, 4);
        if (n == chunk) {
            convert_and_compare(cpu, f, n, h, back);
            n = 0;
        }
    }
    convert_and_compare(cpu, f, n, h, back);
    free(f);
    free(back);
    free(h);
    mi_backend_close(b);
}

/* ---- elementwise ------------------------------------------------------------------------- */

static void clip_bounds(tg *t, mi_dtype dt) {
    /* Clip's bounds are constant inputs of the input's dtype: half here. */
    uint16_t lo = to_half(dt, -0.5f), hi = to_half(dt, 0.75f);
    float flo = -0.5f, fhi = 0.75f;
    tg_weight(t, "lo", dt, 0, NULL, dt == MI_DTYPE_FLOAT ? (const void *)&flo : &lo);
    tg_weight(t, "hi", dt, 0, NULL, dt == MI_DTYPE_FLOAT ? (const void *)&fhi : &hi);
}

static void unary_case(const char *op, int inplace) {
    hcase c = {.what = op, .nt = 1, .t = {{"x", 3, {3, 50, 700}, 0, -8.0f, 8.0f}}, .nn = 1, .nout = 1,
               .out = {{"y", ELEMENTWISE}}, .inplace_in = inplace ? "x" : NULL};
    mi_attr hs[2] = {A_float("alpha", 0.3f), A_float("beta", 0.4f)};
    c.nodes[0] = (hnode){op, "x", "y", 0, NULL};
    if (!strcmp(op, "Clip")) {
        c.nodes[0].ins = "x,lo,hi";
        c.consts = clip_bounds;
    } else if (!strcmp(op, "HardSigmoid")) {
        c.nodes[0].nattrs = 2;
        c.nodes[0].attrs = hs;
    }
    run_both(&c);
}

/* 3 x 50 x 700 elements: more than one parallel grain, chunks of the half
 * loop with a remainder. */
Test(cpu_half, unary_ops_and_in_place) {
    const char *ops[] = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish"};
    for (size_t i = 0; i < 5; i++)
        for (int ip = 0; ip <= 1; ip++) unary_case(ops[i], ip);
}

/* Clip with only a min (a half constant): the missing max is infinite. */
static void clip_min_only(tg *t, mi_dtype dt) {
    uint16_t lo = to_half(dt, 0.125f);
    float flo = 0.125f;
    tg_weight(t, "lo", dt, 0, NULL, dt == MI_DTYPE_FLOAT ? (const void *)&flo : &lo);
}

Test(cpu_half, clip_with_one_bound) {
    hcase c = {.what = "Clip min", .nt = 1, .t = {{"x", 2, {7, 33}, 0, -4.0f, 4.0f}}, .nn = 1,
               .nodes = {{"Clip", "x,lo", "y", 0, NULL}}, .nout = 1, .out = {{"y", ELEMENTWISE}},
               .consts = clip_min_only};
    run_both(&c);
}

static void binary_case(const char *op, int nda, const int64_t *da, int ndb, const int64_t *db,
                        const char *inplace_in) {
    hcase c = {.what = op, .nt = 2, .nn = 1, .nout = 1, .out = {{"y", ELEMENTWISE}}, .inplace_in = inplace_in};
    c.t[0] = (hten){"a", nda, {0}, 0, -3.0f, 3.0f};
    c.t[1] = (hten){"b", ndb, {0}, 0, -3.0f, 3.0f};
    memcpy(c.t[0].dims, da, (size_t)nda * sizeof(int64_t));
    memcpy(c.t[1].dims, db, (size_t)ndb * sizeof(int64_t));
    if (!strcmp(op, "Div")) c.t[1].lo = 0.5f, c.t[1].hi = 1.5f; /* away from zero */
    c.nodes[0] = (hnode){op, "a,b", "y", 0, NULL};
    run_both(&c);
}

/* Broadcasting both ways, a scalar, rows longer than one half chunk (512)
 * read whole or broadcast from one element on either side, and in place
 * on either same-shaped input. */
Test(cpu_half, binary_ops_broadcasting_and_in_place) {
    const char *ops[] = {"Add", "Sub", "Mul", "Div"};
    for (int i = 0; i < 4; i++) {
        binary_case(ops[i], 3, (int64_t[]){2, 3, 700}, 3, (int64_t[]){2, 3, 700}, NULL);
        binary_case(ops[i], 3, (int64_t[]){2, 3, 700}, 1, (int64_t[]){700}, NULL);
        binary_case(ops[i], 3, (int64_t[]){2, 1, 5}, 3, (int64_t[]){1, 4, 1}, NULL);
        binary_case(ops[i], 2, (int64_t[]){4, 9}, 0, (int64_t[]){0}, NULL);
        binary_case(ops[i], 1, (int64_t[]){1}, 2, (int64_t[]){3, 600}, NULL);
        binary_case(ops[i], 2, (int64_t[]){3, 700}, 2, (int64_t[]){3, 1}, NULL);
        binary_case(ops[i], 2, (int64_t[]){5, 600}, 2, (int64_t[]){5, 600}, "a");
        binary_case(ops[i], 2, (int64_t[]){5, 600}, 2, (int64_t[]){5, 600}, "b");
    }
}

/* ---- Conv ---------------------------------------------------------------------------------- */

typedef struct conv_cfg {
    const char *what;
    int64_t x[4], w[4];
    int group, stride, pad, dilation, bias;
} conv_cfg;

static void conv_case(const conv_cfg *k) {
    mi_attr at[4] = {A_ints("pads", 4, (int64_t[]){k->pad, k->pad, k->pad, k->pad}),
                     A_ints("strides", 2, (int64_t[]){k->stride, k->stride}), A_int("group", k->group),
                     A_ints("dilations", 2, (int64_t[]){k->dilation, k->dilation})};
    hcase c = {.what = k->what, .nt = k->bias ? 3 : 2, .nn = 1, .nout = 1};
    c.t[0] = (hten)T4("x", k->x[0], k->x[1], k->x[2], k->x[3]);
    c.t[1] = (hten){"w", 4, {k->w[0], k->w[1], k->w[2], k->w[3]}, 1, -0.5f, 0.5f};
    c.t[2] = (hten){"b", 1, {k->w[0]}, 1, -0.5f, 0.5f};
    c.nodes[0] = (hnode){"Conv", k->bias ? "x,w,b" : "x,w", "y", 4, at};
    c.out[0] = (hout){"y", (double)(k->w[1] * k->w[2] * k->w[3] + k->bias)};
    run_both(&c);
}

/* Each of the kernel's paths: im2col + GEMM (3x3 with pads, strides,
 * dilations; K past one GEMM K block), 1x1 pointwise (the input is the
 * GEMM's B), depthwise direct (3x3 stride 1 and 2: the band form; 5x5:
 * the generic loop), grouped GEMM, batch 2. */
Test(cpu_half, conv_every_path) {
    const conv_cfg cfgs[] = {
        {"im2col 3x3", {1, 8, 13, 11}, {12, 8, 3, 3}, 1, 1, 1, 1, 1},
        {"im2col K=576 stride 2 dilation 2", {1, 64, 15, 15}, {20, 64, 3, 3}, 1, 2, 2, 2, 1},
        {"pointwise", {2, 24, 9, 10}, {32, 24, 1, 1}, 1, 1, 0, 1, 1},
        {"depthwise 3x3 s1", {1, 16, 14, 14}, {16, 1, 3, 3}, 16, 1, 1, 1, 1},
        {"depthwise 3x3 s2", {1, 16, 15, 15}, {32, 1, 3, 3}, 16, 2, 1, 1, 0},
        {"depthwise 5x5", {1, 8, 12, 12}, {8, 1, 5, 5}, 8, 1, 2, 1, 1},
        {"grouped", {2, 12, 7, 7}, {18, 4, 3, 3}, 3, 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) conv_case(&cfgs[i]);
}

/* Conv -> Add(r) -> Relu and -> Clip, fused into one node, with the output
 * over the residual (the in-place form: the kernel accumulates onto it)
 * and apart from it; bias and weights in half too. */
static void fused_case(const char *act, int inplace, int64_t cin, int64_t k) {
    mi_attr pads[1] = {A_ints("pads", 4, (int64_t[]){k / 2, k / 2, k / 2, k / 2})};
    hcase c = {.what = act, .nt = 4, .nout = 1, .fuse = 1, .inplace_in = inplace ? "r" : NULL};
    c.t[0] = (hten)T4("x", 1, cin, 10, 9);
    c.t[1] = (hten){"w", 4, {16, cin, k, k}, 1, -0.3f, 0.3f};
    c.t[2] = (hten){"b", 1, {16}, 1, -0.3f, 0.3f};
    c.t[3] = (hten)T4("r", 1, 16, 10, 9);
    c.nodes[0] = (hnode){"Conv", "x,w,b", "c", 1, pads};
    c.nodes[1] = (hnode){"Add", "c,r", "a", 0, NULL};
    if (!strcmp(act, "Relu")) {
        c.nodes[2] = (hnode){"Relu", "a", "y", 0, NULL};
    } else {
        c.nodes[2] = (hnode){"Clip", "a,lo,hi", "y", 0, NULL};
        c.consts = clip_bounds;
    }
    c.nn = 3;
    /* K products, the bias and the residual. */
    c.out[0] = (hout){"y", (double)(cin * k * k + 2)};
    for (int d = 0; d < 2; d++) {
        mi_dtype dt = halves[d];
        run_case(&c, dt, 5);
    }
}

Test(cpu_half, fused_conv_residual_activation_in_place) {
    for (int ip = 0; ip <= 1; ip++) {
        fused_case("Relu", ip, 8, 3);   /* im2col */
        fused_case("Clip", ip, 8, 3);
        fused_case("Relu", ip, 300, 1); /* pointwise, K over one block */
    }
}

/* ---- Gemm, MatMul ----------------------------------------------------------------------------- */

static void gemm_case(const char *what, int64_t m, int64_t k, int64_t n, int ta, int tb, float alpha, float beta,
                      int cdims) {
    mi_attr at[4] = {A_int("transA", ta), A_int("transB", tb), A_float("alpha", alpha), A_float("beta", beta)};
    hcase c = {.what = what, .nt = cdims ? 3 : 2, .nn = 1, .nout = 1};
    c.t[0] = ta ? (hten){"a", 2, {k, m}, 0, 0, 0} : (hten){"a", 2, {m, k}, 0, 0, 0};
    c.t[1] = tb ? (hten){"b", 2, {n, k}, 1, -0.5f, 0.5f} : (hten){"b", 2, {k, n}, 1, -0.5f, 0.5f};
    if (cdims == 1) c.t[2] = (hten){"c", 1, {n}, 1, 0, 0};
    else if (cdims == 2) c.t[2] = (hten){"c", 2, {m, 1}, 1, 0, 0};
    else if (cdims == 3) c.t[2] = (hten){"c", 2, {m, n}, 1, 0, 0};
    c.nodes[0] = (hnode){"Gemm", cdims ? "a,b,c" : "a,b", "y", 4, at};
    c.out[0] = (hout){"y", (double)(k + (cdims != 0))};
    run_both(&c);
}

/* Batch 1 (the GEMV path, B transposed or not), M > 1 (packed GEMM), the
 * transposes, alpha, beta and C broadcast from [N], [M, 1] and [M, N] (a
 * half weight the kernel reads through its fp32 copy). */
Test(cpu_half, gemm) {
    gemm_case("fc batch 1", 1, 300, 70, 0, 1, 1.0f, 1.0f, 1);
    gemm_case("gemv", 1, 64, 40, 0, 0, 1.0f, 1.0f, 0);
    gemm_case("transA gemv", 1, 64, 40, 1, 0, 0.5f, 1.0f, 1);
    gemm_case("packed", 37, 300, 45, 0, 1, 1.0f, 1.0f, 1);
    gemm_case("transposes alpha beta", 20, 33, 17, 1, 1, 0.75f, 2.0f, 2);
    gemm_case("full C", 9, 65, 12, 0, 0, 1.0f, -1.0f, 3);
}

static void matmul_case(const char *what, int nda, const int64_t *da, int ndb, const int64_t *db, int64_t k) {
    hcase c = {.what = what, .nt = 2, .nn = 1, .nout = 1};
    c.t[0] = (hten){"a", nda, {0}, 0, 0, 0};
    c.t[1] = (hten){"b", ndb, {0}, 0, 0, 0};
    memcpy(c.t[0].dims, da, (size_t)nda * sizeof(int64_t));
    memcpy(c.t[1].dims, db, (size_t)ndb * sizeof(int64_t));
    c.nodes[0] = (hnode){"MatMul", "a,b", "y", 0, NULL};
    c.out[0] = (hout){"y", (double)k};
    run_both(&c);
}

Test(cpu_half, matmul) {
    matmul_case("2-D", 2, (int64_t[]){13, 40}, 2, (int64_t[]){40, 9}, 40);
    matmul_case("batched, folded", 3, (int64_t[]){3, 7, 20}, 2, (int64_t[]){20, 11}, 20);
    matmul_case("broadcast batches", 4, (int64_t[]){2, 1, 5, 8}, 3, (int64_t[]){3, 8, 6}, 8);
    matmul_case("1-D both", 1, (int64_t[]){30}, 1, (int64_t[]){30}, 30);
    matmul_case("1-D A", 1, (int64_t[]){12}, 3, (int64_t[]){2, 12, 5}, 12);
}

/* ---- pools, normalisations, reductions ------------------------------------------------------- */

Test(cpu_half, pools) {
    mi_attr mp[3] = {A_ints("kernel_shape", 2, (int64_t[]){3, 3}), A_ints("strides", 2, (int64_t[]){2, 2}),
                     A_ints("pads", 4, (int64_t[]){1, 1, 1, 1})};
    mi_attr ap[4] = {A_ints("kernel_shape", 2, (int64_t[]){3, 2}), A_ints("strides", 2, (int64_t[]){2, 1}),
                     A_ints("pads", 4, (int64_t[]){1, 0, 1, 1}), A_int("count_include_pad", 1)};
    mi_attr ap2[3] = {A_ints("kernel_shape", 2, (int64_t[]){2, 2}), A_int("ceil_mode", 1),
                      A_ints("strides", 2, (int64_t[]){2, 2})};
    hcase c = {.what = "pools", .nt = 1, .t = {T4("x", 2, 5, 11, 13)}, .nn = 4, .nout = 4};
    c.nodes[0] = (hnode){"MaxPool", "x", "mx", 3, mp};
    c.nodes[1] = (hnode){"AveragePool", "x", "av", 4, ap};
    c.nodes[2] = (hnode){"AveragePool", "x", "av2", 3, ap2};
    c.nodes[3] = (hnode){"GlobalAveragePool", "x", "gap", 0, NULL};
    /* The maximum of halves is one of them: exact. */
    c.out[0] = (hout){"mx", EXACT};
    c.out[1] = (hout){"av", 6};
    c.out[2] = (hout){"av2", 4};
    c.out[3] = (hout){"gap", 11 * 13};
    run_both(&c);
}

static void bn_case(int inplace) {
    hcase c = {.what = inplace ? "BatchNormalization in place" : "BatchNormalization", .nt = 5, .nn = 1,
               .nout = 1, .inplace_in = inplace ? "x" : NULL};
    c.t[0] = (hten){"x", 4, {2, 6, 9, 70}, 0, -3.0f, 3.0f}; /* planes of 630: chunks with a remainder */
    c.t[1] = (hten){"scale", 1, {6}, 1, 0.5f, 2.0f};
    c.t[2] = (hten){"bias", 1, {6}, 1, -1.0f, 1.0f};
    c.t[3] = (hten){"mean", 1, {6}, 1, -0.5f, 0.5f};
    c.t[4] = (hten){"var", 1, {6}, 1, 0.25f, 2.0f};
    static const mi_attr eps[1] = {{.name = (char *)"epsilon", .type = MI_ATTR_FLOAT, .f = 1e-3f, .tensor = -1}};
    c.nodes[0] = (hnode){"BatchNormalization", "x,scale,bias,mean,var", "y", 1, eps};
    /* Per element: (x - mean) * invstd * gamma + beta in fp32, one rounding. */
    c.out[0] = (hout){"y", ELEMENTWISE};
    run_both(&c);
}

Test(cpu_half, batch_norm_half_parameters_and_in_place) {
    bn_case(0);
    bn_case(1);
}

Test(cpu_half, lrn_softmax_reduce_mean) {
    mi_attr lrn[4] = {A_int("size", 3), A_float("alpha", 1e-2f), A_float("beta", 0.75f), A_float("bias", 1.0f)};
    mi_attr sm[1] = {A_int("axis", 1)};
    mi_attr rm[2] = {A_ints("axes", 2, (int64_t[]){2, 3}), A_int("keepdims", 1)};
    mi_attr rm1[2] = {A_ints("axes", 1, (int64_t[]){1}), A_int("keepdims", 0)};
    hcase c = {.what = "LRN, Softmax, ReduceMean", .nt = 1, .t = {{"x", 4, {2, 7, 6, 5}, 0, -4.0f, 4.0f}},
               .nn = 4, .nout = 4};
    c.nodes[0] = (hnode){"LRN", "x", "lrn", 4, lrn};
    c.nodes[1] = (hnode){"Softmax", "x", "sm", 1, sm};
    c.nodes[2] = (hnode){"ReduceMean", "x", "rm", 2, rm};
    c.nodes[3] = (hnode){"ReduceMean", "x", "rm1", 2, rm1};
    c.out[0] = (hout){"lrn", 3};
    c.out[1] = (hout){"sm", 7};
    c.out[2] = (hout){"rm", 30};
    c.out[3] = (hout){"rm1", 7};
    run_both(&c);
}

/* ---- ops that move bytes -------------------------------------------------------------------------- */

static void layout_consts(tg *t, mi_dtype dt) {
    (void)dt;
    tg_weight(t, "shape", MI_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){6, -1});
    tg_weight(t, "ax0", MI_DTYPE_INT64, 1, (int64_t[]){1}, (int64_t[]){0});
    tg_weight(t, "split", MI_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){1, 2});
    tg_weight(t, "starts", MI_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){5, 1});
    tg_weight(t, "ends", MI_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){0, 100});
    tg_weight(t, "axes", MI_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){3, 1});
    tg_weight(t, "steps", MI_DTYPE_INT64, 1, (int64_t[]){2}, (int64_t[]){-2, 1});
    tg_weight(t, "idx", MI_DTYPE_INT64, 2, (int64_t[]){2, 2}, (int64_t[]){2, 0, -1, 1});
}

/* Views run as copies (their outputs are graph outputs), Transpose,
 * Concat, Split, Slice (negative step), Gather, Shape: the half's bits
 * move as they are. */
Test(cpu_half, layout_ops_move_bits) {
    mi_attr perm[1] = {A_ints("perm", 4, (int64_t[]){3, 1, 0, 2})};
    mi_attr ax1[1] = {A_int("axis", 1)};
    hcase c = {.what = "layout", .nt = 2, .t = {T4("x", 1, 3, 4, 6), T4("z", 1, 2, 4, 6)}, .consts = layout_consts};
    c.nodes[0] = (hnode){"Reshape", "x,shape", "rs", 0, NULL};
    c.nodes[1] = (hnode){"Transpose", "x", "tr", 1, perm};
    c.nodes[2] = (hnode){"Concat", "x,z", "cc", 1, ax1};
    c.nodes[3] = (hnode){"Split", "x,split", "s1,s2", 1, ax1};
    c.nn = 4;
    c.out[0] = (hout){"rs", EXACT};
    c.out[1] = (hout){"tr", EXACT};
    c.out[2] = (hout){"cc", EXACT};
    c.out[3] = (hout){"s2", EXACT};
    c.nout = 4;
    run_both(&c);

    hcase d = c;
    d.nodes[0] = (hnode){"Slice", "x,starts,ends,axes,steps", "sl", 0, NULL};
    d.nodes[1] = (hnode){"Gather", "x,idx", "ga", 1, ax1};
    d.nodes[2] = (hnode){"Flatten", "x", "fl", 1, ax1};
    d.nodes[3] = (hnode){"Shape", "x", "sh", 0, NULL};
    d.out[0] = (hout){"sl", EXACT};
    d.out[1] = (hout){"ga", EXACT};
    d.out[2] = (hout){"fl", EXACT};
    d.out[3] = (hout){"sh", EXACT};
    run_both(&d);

    hcase e = c;
    e.nodes[0] = (hnode){"Squeeze", "x,ax0", "sq", 0, NULL};
    e.nodes[1] = (hnode){"Unsqueeze", "x,ax0", "us", 0, NULL};
    e.nodes[2] = (hnode){"Identity", "x", "id", 0, NULL};
    e.nodes[3] = (hnode){"Dropout", "x", "dr", 0, NULL};
    e.out[0] = (hout){"sq", EXACT};
    e.out[1] = (hout){"us", EXACT};
    e.out[2] = (hout){"id", EXACT};
    e.out[3] = (hout){"dr", EXACT};
    run_both(&e);
}

static void pad_consts(tg *t, mi_dtype dt) {
    tg_weight(t, "pads", MI_DTYPE_INT64, 1, (int64_t[]){6}, (int64_t[]){0, 2, 1, 0, 1, 3});
    /* The constant value is an input of the data's dtype: half here. */
    uint16_t hv = to_half(dt, -2.5f);
    float fv = -2.5f;
    tg_weight(t, "value", dt, 0, NULL, dt == MI_DTYPE_FLOAT ? (const void *)&fv : &hv);
}

Test(cpu_half, pad_every_mode) {
    mi_attr refl[1] = {A_str("mode", "reflect")}, edge[1] = {A_str("mode", "edge")};
    hcase c = {.what = "Pad", .nt = 1, .t = {{"x", 3, {2, 4, 5}, 0, 0, 0}}, .consts = pad_consts, .nn = 3,
               .nout = 3};
    c.nodes[0] = (hnode){"Pad", "x,pads,value", "pc", 0, NULL};
    c.nodes[1] = (hnode){"Pad", "x,pads", "pr", 1, refl};
    c.nodes[2] = (hnode){"Pad", "x,pads", "pe", 1, edge};
    c.out[0] = (hout){"pc", EXACT};
    c.out[1] = (hout){"pr", EXACT};
    c.out[2] = (hout){"pe", EXACT};
    run_both(&c);
}

/* The view ops as copies with out == in (a plan may make them so). */
Test(cpu_half, copies_in_place) {
    hcase c = {.what = "Identity in place", .nt = 1, .t = {T4("x", 1, 3, 4, 6)}, .nn = 1, .nout = 1,
               .nodes = {{"Identity", "x", "y", 0, NULL}}, .out = {{"y", EXACT}}, .inplace_in = "x"};
    run_both(&c);
}

/* Cast between the halves and float, and Constant and Shape run as nodes
 * (no folding): a half tensor value, a value_float and value_floats into
 * the half output a converted graph gives them. */
Test(cpu_half, cast_constant_shape_not_folded) {
    for (int d = 0; d < 2; d++) {
        mi_dtype dt = halves[d], other = halves[1 - d];
        float xv[6] = {1.0f, -2.5f, 3.140625f, 65504.0f, -0.0f, 1e-3f};
        uint16_t xh[6], kv[3];
        for (int i = 0; i < 6; i++) xh[i] = to_half(dt, xv[i]);
        for (int i = 0; i < 3; i++) kv[i] = to_half(dt, (float)i - 0.5f);
        tg t;
        tg_init(&t, 13);
        tg_input(&t, "x", dt, 2, (int64_t[]){2, 3}, xh);
        tg_weight(&t, "kv", dt, 1, (int64_t[]){3}, kv);
        int kvi = mi_graph_find_tensor(t.g, "kv");
        mi_attr value = {.name = (char *)"value", .type = MI_ATTR_TENSOR, .tensor = kvi};
        tg_node(&t, "Cast", "x", "f", 1, (mi_attr[]){A_int("to", MI_DTYPE_FLOAT)});
        tg_node(&t, "Cast", "x", "o", 1, (mi_attr[]){A_int("to", other)});
        tg_node(&t, "Cast", "f", "h", 1, (mi_attr[]){A_int("to", dt)});
        tg_node(&t, "Constant", "", "k", 1, &value);
        tg_node(&t, "Shape", "x", "s", 0, NULL);
        tg_output(&t, "f");
        tg_output(&t, "o");
        tg_output(&t, "h");
        tg_output(&t, "k");
        tg_output(&t, "s");
        tg_finalize(&t, 0, 0);
        cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
        const float *f = tg_data(&t, "f");
        const uint16_t *o = tg_data(&t, "o"), *h = tg_data(&t, "h"), *k = tg_data(&t, "k");
        for (int i = 0; i < 6; i++) {
            cr_assert_eq(f[i], from_half(dt, xh[i]), "Cast to float [%d]", i);
            cr_assert_eq(h[i], xh[i], "back to %s [%d]", mi_dtype_name(dt), i);
            cr_assert_eq(o[i], to_half(other, from_half(dt, xh[i])), "to %s [%d]", mi_dtype_name(other), i);
        }
        cr_assert(!memcmp(k, kv, sizeof kv));
        const int64_t *s = tg_data(&t, "s");
        cr_assert(s[0] == 2 && s[1] == 3);
        tg_free(&t);
    }
}

/* A Constant's float value (value_float, value_floats) as half precision
 * makes its output half: converted element by element. */
Test(cpu_half, constant_float_values_into_half) {
    for (int d = 0; d < 2; d++) {
        mi_dtype dt = halves[d];
        mi_graph *g;
        cr_assert_eq(mi_graph_create(&g), MI_OK);
        const char *o1[1] = {"f"}, *o2[1] = {"fs"};
        mi_attr vf = A_float("value_float", 2.6f);
        mi_attr vfs = A_int("value_floats", 0);
        float fl[3] = {1.1f, -7.0f, 0.3f};
        vfs.type = MI_ATTR_FLOATS;
        vfs.floats = fl;
        vfs.count = 3;
        cr_assert_eq(mi_graph_add_node(g, "Constant", "k1", 0, NULL, 1, o1, 1, &vf), MI_OK);
        cr_assert_eq(mi_graph_add_node(g, "Constant", "k2", 0, NULL, 1, o2, 1, &vfs), MI_OK);
        cr_assert_eq(mi_graph_add_tensor(g, "f", MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
        cr_assert_eq(mi_graph_add_tensor(g, "fs", MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
        mi_load_options lo;
        mi_load_options_init(&lo);
        lo.fold_constants = 0;
        lo.precision = dt == MI_DTYPE_FLOAT16 ? MI_PRECISION_FP16 : MI_PRECISION_BF16;
        cr_assert_eq(mi_graph_finalize(g, &lo), MI_OK, "%s", mi_last_error());
        mi_model_options mo;
        mi_model_options_init(&mo);
        mi_model *m;
        cr_assert_eq(mi_model_create(g, &mo, &m), MI_OK, "%s", mi_last_error());
        mi_context *c;
        cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
        cr_assert_eq(mi_context_set_poison(c, 1), MI_OK);
        float f = 0, fs[3] = {0};
        void *outs[2] = {&f, fs};
        cr_assert_eq(mi_context_run(c, NULL, outs), MI_OK, "%s", mi_last_error());
        cr_assert_eq(f, round_half(dt, 2.6f));
        for (int i = 0; i < 3; i++) cr_assert_eq(fs[i], round_half(dt, fl[i]));
        mi_context_destroy(c);
        mi_model_destroy(m);
    }
}

/* ---- the widened path itself ------------------------------------------------------------------- */

/* A Conv and a Gemm in half give exactly the fp32 kernel's result on the
 * half inputs, rounded once: the conversions add nothing of their own. */
Test(cpu_half, widened_ops_are_the_fp32_kernel_rounded_once) {
    mi_attr pads[1] = {A_ints("pads", 4, (int64_t[]){1, 1, 1, 1})};
    mi_attr tb[1] = {A_int("transB", 1)};
    hcase c = {.what = "exact", .nt = 5, .nn = 2, .nout = 2};
    c.t[0] = (hten)T4("x", 1, 32, 12, 12);
    c.t[1] = (hten){"w", 4, {24, 32, 3, 3}, 1, -0.2f, 0.2f};
    c.t[2] = (hten){"b", 1, {24}, 1, 0, 0};
    c.t[3] = (hten){"a", 2, {5, 200}, 0, 0, 0};
    c.t[4] = (hten){"m", 2, {30, 200}, 1, 0, 0};
    c.nodes[0] = (hnode){"Conv", "x,w,b", "y", 1, pads};
    c.nodes[1] = (hnode){"Gemm", "a,m", "g", 1, tb};
    c.out[0] = (hout){"y", ELEMENTWISE};
    c.out[1] = (hout){"g", ELEMENTWISE};
    for (int d = 0; d < 2; d++) {
        mi_dtype dt = halves[d];
        mi_rng r = {99};
        void *fdata[5], *hdata[5];
        for (int i = 0; i < c.nt; i++) {
            size_t n = (size_t)numel(c.t[i].ndim, c.t[i].dims);
            fdata[i] = malloc(n * sizeof(float));
            hdata[i] = malloc(n * sizeof(uint16_t));
            fill(&r, &c.t[i], dt, fdata[i], hdata[i]);
        }
        tg ref, half;
        build(&ref, &c, MI_DTYPE_FLOAT, fdata);
        build(&half, &c, dt, hdata);
        cr_assert_eq(tg_run(&ref), MI_OK, "%s", mi_last_error());
        cr_assert_eq(tg_run(&half), MI_OK, "%s", mi_last_error());
        for (int o = 0; o < 2; o++) {
            const float *want = tg_data(&ref, c.out[o].name);
            const uint16_t *got = tg_data(&half, c.out[o].name);
            for (int64_t i = 0; i < mi_tensor_numel(tg_tensor(&ref, c.out[o].name)); i++)
                cr_assert_eq(got[i], to_half(dt, want[i]), "%s %s [%lld]: %04x, the rounded fp32 result is %04x",
                             c.out[o].name, mi_dtype_name(dt), (long long)i, got[i], to_half(dt, want[i]));
        }
        tg_free(&ref);
        tg_free(&half);
        for (int i = 0; i < c.nt; i++) {
            free(fdata[i]);
            free(hdata[i]);
        }
    }
}

/* prepare(): a widened node asks for its fp32 copies on top of the
 * kernel's own workspace; an op with half loops of its own asks for
 * nothing; a workspace short of the copies is refused naming the node. */
Test(cpu_half, workspaces) {
    uint16_t x[2 * 8 * 6 * 6] = {0}, w[4 * 8 * 3 * 3] = {0};
    float xf[2 * 8 * 6 * 6] = {0}, wf[4 * 8 * 3 * 3] = {0};
    size_t ws[2][3];
    for (int half = 0; half <= 1; half++) {
        mi_dtype dt = half ? MI_DTYPE_FLOAT16 : MI_DTYPE_FLOAT;
        tg t;
        tg_init(&t, 13);
        tg_input(&t, "x", dt, 4, (int64_t[]){2, 8, 6, 6}, half ? (const void *)x : xf);
        tg_weight(&t, "w", dt, 4, (int64_t[]){4, 8, 3, 3}, half ? (const void *)w : wf);
        tg_node(&t, "Conv", "x,w", "y", 0, NULL);
        tg_node(&t, "Relu", "y", "r", 0, NULL);
        tg_node(&t, "GlobalAveragePool", "r", "g", 0, NULL);
        tg_output(&t, "g");
        tg_finalize(&t, 1, 0);
        for (size_t k = 0; k < 3; k++)
            cr_assert_eq(t.b->ops->prepare(t.b, t.g, k, &ws[half][k]), MI_OK, "%s", mi_last_error());
        if (half) {
            /* Too small: one byte short of the copies' room. */
            const mi_node *n = mi_graph_node(t.g, 0);
            void *in[2] = {x, w}, *out[1] = {malloc(2 * 4 * 4 * 4 * 2)};
            size_t small = ws[1][0] - ws[0][0] - 1;
            void *buf = malloc(small);
            mi_node_args a = {t.g, 0, n, in, out, NULL, buf, small};
            cr_assert_eq(t.b->ops->run(t.b, NULL, &a), MI_ERR_INVALID_ARG);
            cr_assert(strstr(mi_last_error(), n->name) && strstr(mi_last_error(), "fp32 copies"), "%s",
                      mi_last_error());
            free(buf);
            free(out[0]);
        }
        tg_free(&t);
    }
    /* Conv: x (576 floats), w (288), y (128), each a multiple of 64 bytes,
     * plus the alignment slack, on top of the fp32 kernel's. */
    cr_assert_eq(ws[1][0], ws[0][0] + 576 * 4 + 288 * 4 + 128 * 4 + 64);
    cr_assert_eq(ws[0][1], 0);
    cr_assert_eq(ws[1][1], 0, "Relu has a half loop: no workspace");
    cr_assert_eq(ws[0][2], 0);
    /* GlobalAveragePool: x (128 floats) and y (8, rounded up to 64 bytes). */
    cr_assert_eq(ws[1][2], 128 * 4 + 64 + 64, "GlobalAveragePool: x and y widened");
}

/* ---- whole graphs through the engine, in poison mode ------------------------------------------- */

/* A small CNN: Conv+bias -> BatchNormalization -> Relu -> MaxPool ->
 * depthwise Conv -> Add (residual) -> Clip -> GlobalAveragePool ->
 * Flatten -> Gemm -> Softmax, and the logits too. Float tensors in dt;
 * values (already rounded to the half type by the caller) from data. */
#define NET_X 1 * 3 * 16 * 16
#define NET_W1 8 * 3 * 3 * 3
#define NET_WD 8 * 1 * 3 * 3
#define NET_FC 10 * 8
typedef struct net_data {
    float x[NET_X], w1[NET_W1], b1[8], bn[4][8], wd[NET_WD], fc[NET_FC], fcb[10], lo, hi;
} net_data;

static void net_fill(net_data *d, mi_dtype dt) {
    mi_rng r = {2024};
    float *blocks[] = {d->x, d->w1, d->b1, d->wd, d->fc, d->fcb};
    size_t sizes[] = {NET_X, NET_W1, 8, NET_WD, NET_FC, 10};
    float scale[] = {1.0f, 0.4f, 0.2f, 0.4f, 0.5f, 0.1f};
    for (int b = 0; b < 6; b++)
        for (size_t i = 0; i < sizes[b]; i++)
            blocks[b][i] = (float)(scale[b] * (2.0 * mi_rng_unit(&r) - 1.0));
    for (int c = 0; c < 8; c++) {
        d->bn[0][c] = (float)(0.5 + mi_rng_unit(&r));       /* scale */
        d->bn[1][c] = (float)(mi_rng_unit(&r) - 0.5);       /* bias */
        d->bn[2][c] = (float)(0.4 * mi_rng_unit(&r) - 0.2); /* mean */
        d->bn[3][c] = (float)(0.5 + mi_rng_unit(&r));       /* var */
    }
    d->lo = 0.0f;
    d->hi = 6.0f;
    if (dt == MI_DTYPE_FLOAT) return;
    float *all = (float *)d;
    for (size_t i = 0; i < sizeof *d / sizeof(float); i++) all[i] = round_half(dt, all[i]);
}

/* A weight of dt from floats (converted when dt is half). */
static void net_weight(mi_graph *g, const char *name, mi_dtype dt, int nd, const int64_t *dims, const float *v) {
    int64_t n = numel(nd, dims);
    uint16_t *h = malloc((size_t)(n ? n : 1) * 2);
    for (int64_t i = 0; i < n; i++) h[i] = dt == MI_DTYPE_FLOAT ? 0 : to_half(dt, v[i]);
    cr_assert_eq(mi_graph_add_tensor(g, name, dt, nd, dims, MI_ROLE_WEIGHT, dt == MI_DTYPE_FLOAT ? (const void *)v : h,
                                     NULL), MI_OK, "%s", mi_last_error());
    free(h);
}

static void net_node(mi_graph *g, const char *op, const char *name, const char *ins, const char *out,
                     int nattrs, const mi_attr *attrs) {
    char buf[8][32];
    const char *iv[8];
    int ni = tg_split(ins, buf, iv);
    cr_assert_eq(mi_graph_add_node(g, op, name, ni, iv, 1, &out, nattrs, attrs), MI_OK, "%s", mi_last_error());
}

static mi_graph *net_build(mi_dtype dt, const net_data *d) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "x", dt, 4, (int64_t[]){1, 3, 16, 16}, MI_ROLE_INPUT, NULL, NULL), MI_OK);
    net_weight(g, "w1", dt, 4, (int64_t[]){8, 3, 3, 3}, d->w1);
    net_weight(g, "b1", dt, 1, (int64_t[]){8}, d->b1);
    const char *bn_names[4] = {"bn_scale", "bn_bias", "bn_mean", "bn_var"};
    for (int k = 0; k < 4; k++) net_weight(g, bn_names[k], dt, 1, (int64_t[]){8}, d->bn[k]);
    net_weight(g, "wd", dt, 4, (int64_t[]){8, 1, 3, 3}, d->wd);
    net_weight(g, "fc", dt, 2, (int64_t[]){10, 8}, d->fc);
    net_weight(g, "fcb", dt, 1, (int64_t[]){10}, d->fcb);
    net_weight(g, "lo", dt, 0, NULL, &d->lo);
    net_weight(g, "hi", dt, 0, NULL, &d->hi);
    mi_attr pads[1] = {A_ints("pads", 4, (int64_t[]){1, 1, 1, 1})};
    mi_attr dw[2] = {A_ints("pads", 4, (int64_t[]){1, 1, 1, 1}), A_int("group", 8)};
    mi_attr mp[2] = {A_ints("kernel_shape", 2, (int64_t[]){2, 2}), A_ints("strides", 2, (int64_t[]){2, 2})};
    mi_attr tb[1] = {A_int("transB", 1)};
    net_node(g, "Conv", "conv1", "x,w1,b1", "c1", 1, pads);
    net_node(g, "BatchNormalization", "bn", "c1,bn_scale,bn_bias,bn_mean,bn_var", "n1", 0, NULL);
    net_node(g, "Relu", "relu", "n1", "r1", 0, NULL);
    net_node(g, "MaxPool", "pool", "r1", "p1", 2, mp);
    net_node(g, "Conv", "dw", "p1,wd", "d1", 2, dw);
    net_node(g, "Add", "add", "d1,p1", "a1", 0, NULL);
    net_node(g, "Clip", "clip", "a1,lo,hi", "k1", 0, NULL);
    net_node(g, "GlobalAveragePool", "gap", "k1", "g1", 0, NULL);
    net_node(g, "Flatten", "flat", "g1", "f1", 0, NULL);
    net_node(g, "Gemm", "fc", "f1,fc,fcb", "logits", 1, tb);
    net_node(g, "Softmax", "softmax", "logits", "prob", 0, NULL);
    const char *outs[2] = {"logits", "prob"};
    for (int k = 0; k < 2; k++)
        cr_assert_eq(mi_graph_add_tensor(g, outs[k], MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    return g;
}

/* Runs g (finalized with precision p) through the engine in poison mode;
 * out_logits / out_prob get the outputs as floats. in is the input in
 * g's input dtype. */
static void net_run(mi_graph *g, mi_precision p, const void *in, float *logits, float *prob, size_t *arena) {
    mi_load_options lo;
    mi_load_options_init(&lo);
    lo.precision = p;
    mi_status st = mi_graph_finalize(g, &lo);
    cr_assert_eq(st, MI_OK, "%s", mi_last_error());
    mi_model_options mo;
    mi_model_options_init(&mo);
    mi_model *m;
    st = mi_model_create(g, &mo, &m);
    cr_assert_eq(st, MI_OK, "%s: %s", mi_status_name(st), mi_last_error());
    mi_context *c;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK, "%s", mi_last_error());
    const mi_tensor *lt = mi_model_output(m, 0), *pt = mi_model_output(m, 1);
    uint16_t lh[10], ph[10];
    int half_out = mi__dtype_is_half(lt->dtype);
    void *outs[2] = {half_out ? (void *)lh : logits, half_out ? (void *)ph : prob};
    const void *ins[1] = {in};
    st = mi_context_run(c, ins, outs);
    cr_assert_eq(st, MI_OK, "%s: %s", mi_status_name(st), mi_last_error());
    for (int i = 0; half_out && i < 10; i++) {
        logits[i] = from_half(lt->dtype, lh[i]);
        prob[i] = from_half(pt->dtype, ph[i]);
    }
    /* Every float tensor the nodes compute is half in a half graph. */
    const mi_graph *mg = mi_model_graph(m);
    for (size_t t = 0; p != MI_PRECISION_FP32 && t < mi_graph_tensor_count(mg); t++) {
        const mi_tensor *x = mi_graph_tensor(mg, t);
        if (x->role == MI_ROLE_ACTIVATION)
            cr_assert(x->dtype != MI_DTYPE_FLOAT, "activation '%s' stayed float", x->name);
    }
    *arena = mi_model_arena_size(m);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* max|d| / max|ref| of n floats. */
static double net_err(const float *got, const float *ref, int n) {
    double md = 0, mr = 0;
    for (int i = 0; i < n; i++) {
        cr_assert(!isnan(got[i]), "NaN at %d", i);
        md = fmax(md, fabs((double)got[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return md / mr;
}

/* Eleven nodes, each rounding its output once (<= u relative) and
 * passing its inputs' errors on with a gain near 1 (the layers are
 * normalised), so the outputs stay within a few u of the fp32 run on the
 * same rounded values: measured 0.5 u (float16) and 1.3 u (bfloat16);
 * 8 u leaves room for sums that cancel. The converted graph also rounds
 * the input and every weight (the fp32 reference has them unrounded):
 * measured 1.1 u and 1.3 u, held to 16 u. */
#define NET_TOL(dt, k) ((k) * unit_roundoff(dt))

/* A model exported in float16 / bfloat16: inputs, weights (BatchNorm
 * parameters and Conv bias too) and outputs all half, no Cast anywhere. */
Test(cpu_half, native_half_graph_in_poison_mode) {
    for (int d = 0; d < 2; d++) {
        mi_dtype dt = halves[d];
        static net_data data;
        net_fill(&data, dt);
        float ref_l[10], ref_p[10], l[10], p[10];
        size_t arena32, arena16;
        net_run(net_build(MI_DTYPE_FLOAT, &data), MI_PRECISION_FP32, data.x, ref_l, ref_p, &arena32);
        uint16_t xh[NET_X];
        for (int i = 0; i < NET_X; i++) xh[i] = to_half(dt, data.x[i]);
        mi_graph *g = net_build(dt, &data);
        net_run(g, MI_PRECISION_FP32, xh, l, p, &arena16);
        double el = net_err(l, ref_l, 10), ep = net_err(p, ref_p, 10);
        cr_log_info("native %s: logits %.3g, probabilities %.3g (u = %.3g); arena %zu bytes (fp32 %zu)",
                    mi_dtype_name(dt), el, ep, unit_roundoff(dt), arena16, arena32);
        cr_assert_lt(el, NET_TOL(dt, 8), "%s logits: %g", mi_dtype_name(dt), el);
        cr_assert_lt(ep, NET_TOL(dt, 8), "%s probabilities: %g", mi_dtype_name(dt), ep);
    }
}

/* The same fp32 graph loaded with precision fp16 / bf16: Casts at the
 * float input and outputs, everything between in half. */
Test(cpu_half, converted_graph_in_poison_mode) {
    for (int d = 0; d < 2; d++) {
        mi_dtype dt = halves[d];
        static net_data data;
        net_fill(&data, MI_DTYPE_FLOAT);
        float ref_l[10], ref_p[10], l[10], p[10];
        size_t arena32, arena16;
        net_run(net_build(MI_DTYPE_FLOAT, &data), MI_PRECISION_FP32, data.x, ref_l, ref_p, &arena32);
        mi_precision prec = dt == MI_DTYPE_FLOAT16 ? MI_PRECISION_FP16 : MI_PRECISION_BF16;
        net_run(net_build(MI_DTYPE_FLOAT, &data), prec, data.x, l, p, &arena16);
        double el = net_err(l, ref_l, 10), ep = net_err(p, ref_p, 10);
        cr_log_info("converted %s: logits %.3g, probabilities %.3g (u = %.3g); arena %zu bytes (fp32 %zu)",
                    mi_dtype_name(dt), el, ep, unit_roundoff(dt), arena16, arena32);
        cr_assert_lt(el, NET_TOL(dt, 16), "%s logits: %g", mi_dtype_name(dt), el);
        cr_assert_lt(ep, NET_TOL(dt, 16), "%s probabilities: %g", mi_dtype_name(dt), ep);
    }
}

/* ---- what is refused at load ---------------------------------------------------------------- */

/* BatchNormalization with half parameters on a float input (ONNX lets the
 * parameters' type differ from the input's) has no kernel: refused when
 * the model is made (prepare), naming the node, not run in fp32. */
Test(cpu_half, half_parameters_of_a_float_batch_norm_refused_at_load) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_set_opset(g, 15), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 4, (int64_t[]){1, 2, 3, 3}, MI_ROLE_INPUT, NULL, NULL),
                 MI_OK);
    uint16_t one[2] = {0x3c00, 0x3c00}, zero[2] = {0, 0};
    const char *pn[4] = {"s", "b", "m", "v"};
    for (int k = 0; k < 4; k++)
        cr_assert_eq(mi_graph_add_tensor(g, pn[k], MI_DTYPE_FLOAT16, 1, (int64_t[]){2}, MI_ROLE_WEIGHT,
                                         k == 1 || k == 2 ? zero : one, NULL), MI_OK);
    net_node(g, "BatchNormalization", "the_bn", "x,s,b,m,v", "y", 0, NULL);
    cr_assert_eq(mi_graph_add_tensor(g, "y", MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    mi_status st = mi_graph_finalize(g, NULL);
    if (st != MI_OK) {
        /* Shape inference refusing the mix is a refusal at load too. */
        cr_log_info("refused by the graph: %s", mi_last_error());
        cr_assert(strstr(mi_last_error(), "the_bn"), "%s", mi_last_error());
        mi_graph_destroy(g);
        return;
    }
    mi_model *m = NULL;
    st = mi_model_create(g, NULL, &m);
    cr_assert_eq(st, MI_ERR_UNSUPPORTED, "%s: %s", mi_status_name(st), mi_last_error());
    cr_assert(strstr(mi_last_error(), "the_bn") && strstr(mi_last_error(), "float16"), "%s", mi_last_error());
    cr_assert_null(m);
}
