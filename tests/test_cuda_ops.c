/* Every op of the CUDA backend against the CPU backend (the reference):
 * the same small graph runs on both and every output is compared, floats
 * by normalized error (max |cuda - cpu| / max |cpu|, TF32 off), other
 * types exactly. The cases cover each path a node can take on the device
 * (cuDNN or our kernel, fused or not, in place or not). Without a usable
 * GPU every test reports SKIPPED (cr_skip_test); CUDA is only initialised
 * inside the tests, never in Criterion's parent process. */
#include <criterion/criterion.h>

#include "graph_build.h"
#include "mini_infer/cuda.h"
#include "mini_infer/runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef void (*build_fn)(gb *b);

#define TOL 1e-4 /* FP32 with FMA in a different order; TF32 would be ~1e-3 */

typedef struct ops_case {
    build_fn build;
    int fold;                /* constant folding (0 keeps Constant / Shape nodes) */
    double tol;              /* 0: exact */
    int cuda_graph;
    const char *inplace_a, *inplace_b; /* tensors the plan must put at one address */
    mi_precision precision;  /* both sides (the graph's edges stay float) */
    int channels_last;       /* the CUDA side only: the CPU reference stays NCHW */
} ops_case;

static uint64_t rng_state;
static double urand(void) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

static void fill(const mi_tensor *t, void *p) {
    int64_t n = mi_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        double v = urand() * 4.0 - 2.0;
        switch (t->dtype) {
        case MI_DTYPE_FLOAT: ((float *)p)[i] = (float)v; break;
        case MI_DTYPE_DOUBLE: ((double *)p)[i] = v; break;
        case MI_DTYPE_INT64: ((int64_t *)p)[i] = (int64_t)floor(v * 3); break;
        case MI_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)floor(v * 3); break;
        default: ((unsigned char *)p)[i * mi_dtype_size(t->dtype)] = (unsigned char)(urand() * 256); break;
        }
    }
}

static mi_model *model_on(const ops_case *c, const char *device, int tested) {
    gb b;
    b.g = NULL;
    c->build(&b);
    mi_load_options lo;
    mi_load_options_init(&lo);
    lo.fold_constants = c->fold;
    lo.precision = c->precision;
    lo.channels_last = tested && c->channels_last; /* the reference stays NCHW */
    mi_status st = mi_graph_finalize(b.g, &lo);
    cr_assert_eq(st, MI_OK, "finalize: %s", mi_last_error());
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = device;
    o.backend.cuda_graph = c->cuda_graph;
    mi_model *m = NULL;
    st = mi_model_create(b.g, &o, &m); /* takes the graph */
    if (st == MI_ERR_NO_DEVICE) cr_skip_test("%s", mi_last_error());
    cr_assert_eq(st, MI_OK, "%s model: %s: %s", device, mi_status_name(st), mi_last_error());
    return m;
}

static void compare(const ops_case *c) {
    /* MI_CUDA_OPS_DEVICE=cpu checks the cases themselves (builders, in-place
     * plans, CPU support) on a machine without a GPU. */
    const char *dev = getenv("MI_CUDA_OPS_DEVICE");
    mi_model *mg = model_on(c, dev && *dev ? dev : "cuda", 1); /* first: no GPU skips at once */
    mi_model *mc = model_on(c, "cpu", 0);
    if (c->inplace_a) {
        const mi_graph *g = mi_model_graph(mg);
        int ta = mi_graph_find_tensor(g, c->inplace_a), tb = mi_graph_find_tensor(g, c->inplace_b);
        cr_assert(ta >= 0 && tb >= 0);
        const mi_tensor_place *pa = mi_memory_plan_tensor(mi_model_plan(mg), (size_t)ta);
        const mi_tensor_place *pb = mi_memory_plan_tensor(mi_model_plan(mg), (size_t)tb);
        cr_assert(pa->pool == pb->pool && pa->offset == pb->offset, "'%s' and '%s' are not in place: the case "
                  "would not test the in-place contract", c->inplace_a, c->inplace_b);
    }
    mi_context *xg = NULL, *xc = NULL;
    cr_assert_eq(mi_context_create(mg, NULL, 0, &xg), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_create(mc, NULL, 0, &xc), MI_OK, "%s", mi_last_error());
    size_t ni = mi_model_input_count(mg), no = mi_model_output_count(mg);
    void *ins[8] = {0}, *og[8] = {0}, *oc[8] = {0};
    rng_state = 12345;
    for (size_t i = 0; i < ni; i++) {
        const mi_tensor *t = mi_model_input(mg, i);
        ins[i] = calloc(1, t->nbytes + 8);
        fill(t, ins[i]);
    }
    for (size_t i = 0; i < no; i++) {
        og[i] = calloc(1, mi_model_output(mg, i)->nbytes + 8);
        oc[i] = calloc(1, mi_model_output(mg, i)->nbytes + 8);
    }
    cr_assert_eq(mi_context_run(xc, (const void *const *)ins, oc), MI_OK, "cpu: %s", mi_last_error());
    /* With CUDA Graphs: eager, captured, replayed; each must match. */
    for (int run = 0; run < (c->cuda_graph ? 3 : 1); run++) {
        cr_assert_eq(mi_context_run(xg, (const void *const *)ins, og), MI_OK, "cuda run %d: %s", run, mi_last_error());
        for (size_t i = 0; i < no; i++) {
            const mi_tensor *t = mi_model_output(mg, i);
            if (t->dtype != MI_DTYPE_FLOAT || c->tol == 0) {
                cr_assert(memcmp(og[i], oc[i], t->nbytes) == 0, "output '%s' (%s) differs from the CPU's", t->name,
                          mi_dtype_name(t->dtype));
                continue;
            }
            const float *a = og[i], *r = oc[i];
            double err = 0, scale = 0;
            int64_t worst = 0;
            for (int64_t k = 0; k < mi_tensor_numel(t); k++) {
                double d = fabs((double)a[k] - (double)r[k]);
                if (!(d <= err)) {
                    err = d;
                    worst = k;
                }
                if (fabs(r[k]) > scale) scale = fabs(r[k]);
            }
            double nerr = err / (scale > 0 ? scale : 1);
            cr_assert(nerr <= c->tol, "run %d output '%s': normalized error %.3g > %.3g (element %lld: cuda %g, cpu %g)",
                      run, t->name, nerr, c->tol, (long long)worst, a[worst], r[worst]);
        }
    }
    for (size_t i = 0; i < ni; i++) free(ins[i]);
    for (size_t i = 0; i < no; i++) {
        free(og[i]);
        free(oc[i]);
    }
    mi_context_destroy(xg);
    mi_context_destroy(xc);
    mi_model_destroy(mg);
    mi_model_destroy(mc);
}

static void run_case(build_fn f, double tol) {
    ops_case c = {f, 1, tol, 0, NULL, NULL, MI_PRECISION_FP32, 0};
    compare(&c);
}

/* Half precision, GPU (channels last where the graph has convolutions)
 * against the CPU backend in the same precision: both compute in fp32
 * and round what they store, so the ops that only compare, select or
 * move (tol 0) agree exactly, and the others within a few units in the
 * last place of the half type, in a different summation order:
 * fp16's is 2^-11 of the value (4.9e-4), bfloat16's 2^-8 (3.9e-3). */
#define HALF_TOL_FP16 2e-3
#define HALF_TOL_BF16 1.6e-2
static void run_half_case(build_fn f, int exact, int cuda_graph) {
    const mi_precision ps[] = {MI_PRECISION_FP16, MI_PRECISION_BF16};
    for (int i = 0; i < 2; i++) {
        double tol = exact ? 0 : ps[i] == MI_PRECISION_FP16 ? HALF_TOL_FP16 : HALF_TOL_BF16;
        ops_case c = {f, 1, tol, cuda_graph, NULL, NULL, ps[i], 1};
        compare(&c);
    }
}

/* ---- convolution ----------------------------------------------------------------------------- */

static void b_conv_plain(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 10, 10));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(4, 3, 3, 3)); /* weights as an input: random values */
    gb_node(b, "Conv", "conv", "x,w", "y", A(AINTS("pads", 1, 1, 1, 1)));
    gb_output(b, "y");
}
Test(cuda_ops, conv_plain) { run_case(b_conv_plain, TOL); }

static void b_conv_bias(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 11, 11));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(8, 3, 3, 3));
    gb_input(b, "bias", MI_DTYPE_FLOAT, 1, D(8));
    gb_node(b, "Conv", "conv", "x,w,bias", "y", A(AINTS("strides", 2, 2)));
    gb_output(b, "y");
}
Test(cuda_ops, conv_bias_identity_fused) { run_case(b_conv_bias, TOL); }

static void b_conv_relu(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 8, 9, 9));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(16, 8, 3, 3));
    gb_input(b, "bias", MI_DTYPE_FLOAT, 1, D(16));
    gb_node(b, "Conv", "conv", "x,w,bias", "c", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "Relu", "relu", "c", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, conv_relu_fused) { run_case(b_conv_relu, TOL); }

/* The fused residual planned in place: r is written over t0 (the conv
 * reads a, so only its residual is overwritten, as in a ResNet block). */
static void b_conv_residual_inplace(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 8, 8));
    gb_input(b, "w0", MI_DTYPE_FLOAT, 4, D(4, 4, 1, 1));
    gb_input(b, "w1", MI_DTYPE_FLOAT, 4, D(4, 4, 3, 3));
    gb_input(b, "b1", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(b, "Conv", "c0", "x,w0", "t0", NOATTR);
    gb_node(b, "Sigmoid", "s0", "t0", "a", NOATTR);
    gb_node(b, "Conv", "c1", "a,w1,b1", "t1", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "Add", "add", "t1,t0", "s", NOATTR);
    gb_node(b, "Relu", "relu", "s", "r", NOATTR);
    gb_node(b, "Sigmoid", "out", "r", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, conv_residual_relu_in_place) {
    ops_case c = {b_conv_residual_inplace, 1, TOL, 0, "r", "t0"};
    compare(&c);
}

static void b_conv_residual_nobias(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 4, 7, 7));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(4, 4, 3, 3));
    gb_node(b, "Conv", "conv", "x,w", "c", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "Add", "add", "x,c", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, conv_residual_without_bias) { run_case(b_conv_residual_nobias, TOL); }

static void b_conv_depthwise_relu6(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 6, 12, 12));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(6, 1, 3, 3));
    gb_input(b, "bias", MI_DTYPE_FLOAT, 1, D(6));
    gb_weight(b, "lo", MI_DTYPE_FLOAT, 0, NULL, (const float[]){0.0f});
    gb_weight(b, "hi", MI_DTYPE_FLOAT, 0, NULL, (const float[]){0.5f});
    gb_node(b, "Conv", "dw", "x,w,bias", "c", A(AINTS("pads", 1, 1, 1, 1), AINTS("strides", 2, 2), AI("group", 6)));
    gb_node(b, "Clip", "relu6", "c,lo,hi", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, conv_depthwise_clip_epilogue) { run_case(b_conv_depthwise_relu6, TOL); }

static void b_conv_grouped_dilated_asym(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 4, 13, 11));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(6, 2, 3, 3));
    gb_input(b, "bias", MI_DTYPE_FLOAT, 1, D(6));
    gb_node(b, "Conv", "conv", "x,w,bias", "y",
            A(AINTS("pads", 1, 0, 2, 1), AINTS("strides", 2, 1), AINTS("dilations", 2, 2), AI("group", 2)));
    gb_output(b, "y");
}
Test(cuda_ops, conv_grouped_dilated_asymmetric_pads) { run_case(b_conv_grouped_dilated_asym, TOL); }

static void b_conv_same_upper(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 3, 8, 8));
    gb_input(b, "w", MI_DTYPE_FLOAT, 4, D(5, 3, 2, 2));
    gb_node(b, "Conv", "conv", "x,w", "c", A(AS("auto_pad", "SAME_UPPER")));
    gb_node(b, "Relu", "relu", "c", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, conv_same_upper_even_kernel) { run_case(b_conv_same_upper, TOL); }

static void b_conv_1d(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 20));
    gb_input(b, "w", MI_DTYPE_FLOAT, 3, D(4, 3, 5));
    gb_node(b, "Conv", "conv", "x,w", "y", A(AINTS("pads", 2, 1), AINTS("strides", 2)));
    gb_output(b, "y");
}
Test(cuda_ops, conv_1d) { run_case(b_conv_1d, TOL); }

static void b_conv_3d(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 5, D(1, 2, 6, 7, 8));
    gb_input(b, "w", MI_DTYPE_FLOAT, 5, D(3, 2, 3, 3, 3));
    gb_input(b, "bias", MI_DTYPE_FLOAT, 1, D(3));
    gb_node(b, "Conv", "conv", "x,w,bias", "c", A(AINTS("pads", 1, 1, 1, 1, 1, 1)));
    gb_node(b, "Relu", "relu", "c", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, conv_3d) { run_case(b_conv_3d, TOL); }

/* ---- pooling ------------------------------------------------------------------------------- */

#define POOL_CASE(fn, op, ...)                                            \
    static void fn(gb *b) {                                               \
        gb_init(b, 13);                                                   \
        gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 9, 9));               \
        gb_node(b, op, "pool", "x", "y", A(__VA_ARGS__));                 \
        gb_output(b, "y");                                                \
    }

POOL_CASE(b_maxpool, "MaxPool", AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2), AINTS("pads", 1, 1, 1, 1))
POOL_CASE(b_maxpool_ceil, "MaxPool", AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2), AI("ceil_mode", 1))
POOL_CASE(b_maxpool_dilated, "MaxPool", AINTS("kernel_shape", 2, 2), AINTS("dilations", 2, 2))
POOL_CASE(b_avgpool_incl, "AveragePool", AINTS("kernel_shape", 3, 3), AINTS("pads", 1, 1, 1, 1), AI("count_include_pad", 1))
POOL_CASE(b_avgpool_asym, "AveragePool", AINTS("kernel_shape", 3, 3), AINTS("pads", 0, 1, 2, 1), AINTS("strides", 2, 2))
POOL_CASE(b_avgpool_ceil_incl, "AveragePool", AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2), AINTS("pads", 1, 1, 1, 1),
          AI("ceil_mode", 1), AI("count_include_pad", 1))

Test(cuda_ops, maxpool_cudnn) { run_case(b_maxpool, 0); }
Test(cuda_ops, maxpool_ceil_mode_kernel) { run_case(b_maxpool_ceil, 0); }
Test(cuda_ops, maxpool_dilated_kernel) { run_case(b_maxpool_dilated, 0); }
Test(cuda_ops, avgpool_include_pad_cudnn) { run_case(b_avgpool_incl, TOL); }
Test(cuda_ops, avgpool_asymmetric_kernel) { run_case(b_avgpool_asym, TOL); }
Test(cuda_ops, avgpool_ceil_include_pad_kernel) { run_case(b_avgpool_ceil_incl, TOL); }

static void b_gap(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(3, 5, 7, 9));
    gb_node(b, "GlobalAveragePool", "gap", "x", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, global_average_pool) { run_case(b_gap, TOL); }

/* ---- elementwise ----------------------------------------------------------------------------- */

#define UNARY_CASE(fn, dt, op, ...)                                       \
    static void fn(gb *b) {                                               \
        gb_init(b, 13);                                                   \
        gb_input(b, "x", dt, 3, D(2, 3, 50));                             \
        gb_node(b, op, "op", "x", "y", __VA_ARGS__);                      \
        gb_output(b, "y");                                                \
    }

UNARY_CASE(b_relu, MI_DTYPE_FLOAT, "Relu", NOATTR)
UNARY_CASE(b_sigmoid, MI_DTYPE_FLOAT, "Sigmoid", NOATTR)
UNARY_CASE(b_hard_sigmoid, MI_DTYPE_FLOAT, "HardSigmoid", A(AF("alpha", 0.3f), AF("beta", 0.4f)))
UNARY_CASE(b_hard_swish, MI_DTYPE_FLOAT, "HardSwish", NOATTR)
UNARY_CASE(b_relu_i64, MI_DTYPE_INT64, "Relu", NOATTR)
UNARY_CASE(b_relu_f64, MI_DTYPE_DOUBLE, "Relu", NOATTR)

static void b_clip(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 2, D(7, 9));
    gb_weight(b, "lo", MI_DTYPE_FLOAT, 0, NULL, (const float[]){-0.5f});
    gb_weight(b, "hi", MI_DTYPE_FLOAT, 0, NULL, (const float[]){1.25f});
    gb_node(b, "Clip", "clip", "x,lo,hi", "y", NOATTR);
    gb_output(b, "y");
}
static void b_clip_i32(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_INT32, 2, D(7, 9));
    gb_weight(b, "lo", MI_DTYPE_INT32, 0, NULL, (const int32_t[]){-2});
    gb_node(b, "Clip", "clip", "x,lo", "y", NOATTR);
    gb_output(b, "y");
}

Test(cuda_ops, relu) { run_case(b_relu, 0); }
Test(cuda_ops, sigmoid) { run_case(b_sigmoid, 1e-6); }
Test(cuda_ops, hard_sigmoid) { run_case(b_hard_sigmoid, 1e-6); }
Test(cuda_ops, hard_swish) { run_case(b_hard_swish, 1e-6); }
Test(cuda_ops, relu_int64) { run_case(b_relu_i64, 0); }
Test(cuda_ops, relu_double) { run_case(b_relu_f64, 0); }
Test(cuda_ops, clip) { run_case(b_clip, 0); }
Test(cuda_ops, clip_int32_min_only) { run_case(b_clip_i32, 0); }

/* Sigmoid -> Relu -> HardSwish: the middle two write over their input. */
static void b_unary_inplace(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 2, D(16, 33));
    gb_node(b, "Sigmoid", "s", "x", "a", NOATTR);
    gb_node(b, "Relu", "r", "a", "c", NOATTR);
    gb_node(b, "HardSigmoid", "h", "c", "d", NOATTR);
    gb_node(b, "HardSwish", "out", "d", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, unary_in_place) {
    ops_case c = {b_unary_inplace, 1, 1e-6, 0, "d", "a"};
    compare(&c);
}

#define BINARY_CASE(fn, dt, op, ra, da, rb, db)                           \
    static void fn(gb *b) {                                               \
        gb_init(b, 13);                                                   \
        gb_input(b, "a", dt, ra, da);                                     \
        gb_input(b, "b", dt, rb, db);                                     \
        gb_node(b, op, "op", "a,b", "y", NOATTR);                         \
        gb_output(b, "y");                                                \
    }

BINARY_CASE(b_add_channel, MI_DTYPE_FLOAT, "Add", 4, D(2, 3, 4, 5), 4, D(1, 3, 1, 1))
BINARY_CASE(b_sub_both, MI_DTYPE_FLOAT, "Sub", 3, D(4, 1, 5), 2, D(3, 1))
BINARY_CASE(b_mul_scalar, MI_DTYPE_FLOAT, "Mul", 2, D(6, 7), 0, NULL)
BINARY_CASE(b_div_row, MI_DTYPE_FLOAT, "Div", 2, D(6, 7), 1, D(7))
BINARY_CASE(b_add_i64, MI_DTYPE_INT64, "Add", 2, D(6, 7), 1, D(7))
BINARY_CASE(b_div_i32, MI_DTYPE_INT32, "Div", 2, D(6, 7), 2, D(6, 1))
BINARY_CASE(b_mul_f64, MI_DTYPE_DOUBLE, "Mul", 2, D(6, 7), 2, D(6, 7))

Test(cuda_ops, add_per_channel) { run_case(b_add_channel, 0); }
Test(cuda_ops, sub_broadcast_both_sides) { run_case(b_sub_both, 0); }
Test(cuda_ops, mul_scalar) { run_case(b_mul_scalar, 0); }
Test(cuda_ops, div_row) { run_case(b_div_row, 0); }
Test(cuda_ops, add_int64) { run_case(b_add_i64, 0); }
Test(cuda_ops, div_int32_with_zeros) { run_case(b_div_i32, 0); }
Test(cuda_ops, mul_double) { run_case(b_mul_f64, 0); }

/* Add writing over its second input, the first broadcast. */
static void b_binary_inplace(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 2, D(8, 9));
    gb_input(b, "row", MI_DTYPE_FLOAT, 1, D(9));
    gb_node(b, "Sigmoid", "s", "x", "a", NOATTR);
    gb_node(b, "Add", "add", "row,a", "c", NOATTR);
    gb_node(b, "Relu", "out", "c", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, binary_in_place_on_input_1) {
    ops_case c = {b_binary_inplace, 1, 1e-6, 0, "c", "a"};
    compare(&c);
}

/* ---- normalization, softmax ------------------------------------------------------------------ */

static void bn_inputs(gb *b, int64_t c) {
    gb_input(b, "scale", MI_DTYPE_FLOAT, 1, D(c));
    gb_input(b, "bias", MI_DTYPE_FLOAT, 1, D(c));
    gb_input(b, "mean", MI_DTYPE_FLOAT, 1, D(c));
    gb_weight(b, "var", MI_DTYPE_FLOAT, 1, D(c), NULL); /* >= 0 */
}
static void b_bn(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 5, 6, 7));
    bn_inputs(b, 5);
    gb_node(b, "BatchNormalization", "bn", "x,scale,bias,mean,var", "y", A(AF("epsilon", 1e-3f)));
    gb_output(b, "y");
}
static void b_bn_inplace(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 11));
    bn_inputs(b, 5);
    gb_node(b, "Sigmoid", "s", "x", "a", NOATTR);
    gb_node(b, "BatchNormalization", "bn", "a,scale,bias,mean,var", "c", NOATTR);
    gb_node(b, "Relu", "out", "c", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, batch_norm_cudnn) { run_case(b_bn, TOL); }
Test(cuda_ops, batch_norm_in_place_kernel) {
    ops_case c = {b_bn_inplace, 1, TOL, 0, "c", "a"};
    compare(&c);
}

static void b_lrn(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 7, 5, 5));
    gb_node(b, "LRN", "lrn", "x", "y", A(AI("size", 5), AF("alpha", 1e-2f), AF("beta", 0.75f), AF("bias", 2.0f)));
    gb_output(b, "y");
}
static void b_lrn_kernel(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 20, 9));
    gb_node(b, "LRN", "lrn", "x", "y", A(AI("size", 18), AF("alpha", 1e-2f), AF("beta", 0.005f), AF("bias", 1.0f)));
    gb_output(b, "y");
}
Test(cuda_ops, lrn_cudnn) { run_case(b_lrn, TOL); }
Test(cuda_ops, lrn_kernel) { run_case(b_lrn_kernel, TOL); }

static void b_softmax(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 17));
    gb_node(b, "Softmax", "sm", "x", "y", NOATTR);
    gb_node(b, "Softmax", "sm1", "x", "z", A(AI("axis", 1)));
    gb_output(b, "y");
    gb_output(b, "z");
}
static void b_softmax_opset11(gb *b) {
    gb_init(b, 11);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 5));
    gb_node(b, "Softmax", "sm", "x", "y", NOATTR); /* axis 1, over dims 1 and 2 together */
    gb_output(b, "y");
}
Test(cuda_ops, softmax) { run_case(b_softmax, 1e-5); }
Test(cuda_ops, softmax_opset11_flattens) { run_case(b_softmax_opset11, 1e-5); }

/* ---- Gemm, MatMul ---------------------------------------------------------------------------- */

static void gemm_case(gb *b, int ta, int tb, int c_rank) {
    gb_init(b, 13);
    gb_input(b, "a", MI_DTYPE_FLOAT, 2, ta ? D(37, 5) : D(5, 37));
    gb_input(b, "w", MI_DTYPE_FLOAT, 2, tb ? D(11, 37) : D(37, 11));
    if (c_rank) gb_input(b, "c", MI_DTYPE_FLOAT, c_rank, c_rank == 1 ? D(11) : D(5, 11));
    gb_node(b, "Gemm", "gemm", c_rank ? "a,w,c" : "a,w", "y",
            A(AI("transA", ta), AI("transB", tb), AF("alpha", 0.75f), AF("beta", 1.5f)));
    gb_output(b, "y");
}
static void b_gemm_nn(gb *b) { gemm_case(b, 0, 0, 1); }
static void b_gemm_tn(gb *b) { gemm_case(b, 1, 0, 2); }
static void b_gemm_nt(gb *b) { gemm_case(b, 0, 1, 0); }
static void b_gemm_tt(gb *b) { gemm_case(b, 1, 1, 1); }
Test(cuda_ops, gemm_nn_row_bias) { run_case(b_gemm_nn, TOL); }
Test(cuda_ops, gemm_tn_full_c) { run_case(b_gemm_tn, TOL); }
Test(cuda_ops, gemm_nt_no_c) { run_case(b_gemm_nt, TOL); }
Test(cuda_ops, gemm_tt) { run_case(b_gemm_tt, TOL); }

BINARY_CASE(b_matmul_2d, MI_DTYPE_FLOAT, "MatMul", 2, D(7, 13), 2, D(13, 9))
BINARY_CASE(b_matmul_batched, MI_DTYPE_FLOAT, "MatMul", 3, D(4, 7, 13), 2, D(13, 9))
BINARY_CASE(b_matmul_broadcast, MI_DTYPE_FLOAT, "MatMul", 4, D(2, 1, 7, 13), 4, D(1, 3, 13, 9))
BINARY_CASE(b_matmul_vector, MI_DTYPE_FLOAT, "MatMul", 1, D(13), 3, D(2, 13, 9))
Test(cuda_ops, matmul_2d) { run_case(b_matmul_2d, TOL); }
Test(cuda_ops, matmul_strided_batch) { run_case(b_matmul_batched, TOL); }
Test(cuda_ops, matmul_broadcast_batches) { run_case(b_matmul_broadcast, TOL); }
Test(cuda_ops, matmul_vector) { run_case(b_matmul_vector, TOL); }

/* ---- data movement ------------------------------------------------------------------------- */

static void b_views(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 4, 5));
    gb_ints(b, "shape", 2, D(6, 20));
    gb_ints(b, "axes", 1, D(0));
    /* Relu, not a transcendental op: the views are compared bit for bit, and
     * the GPU's expf may differ from the CPU's in the last bit. */
    gb_node(b, "Relu", "s", "x", "a", NOATTR);
    /* Graph outputs have their own region: each view becomes a copy. */
    gb_node(b, "Reshape", "reshape", "a,shape", "r", NOATTR);
    gb_node(b, "Flatten", "flatten", "a", "f", A(AI("axis", 2)));
    gb_node(b, "Unsqueeze", "unsqueeze", "a,axes", "u", NOATTR);
    gb_node(b, "Identity", "identity", "a", "i", NOATTR);
    gb_node(b, "Dropout", "dropout", "a", "d,mask", NOATTR);
    gb_output(b, "r");
    gb_output(b, "f");
    gb_output(b, "u");
    gb_output(b, "i");
    gb_output(b, "d");
    gb_output(b, "mask");
}
Test(cuda_ops, views_as_copies_and_dropout_mask) { run_case(b_views, 0); }

static void b_transpose(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 4, 5));
    gb_input(b, "k", MI_DTYPE_INT64, 2, D(3, 4));
    gb_node(b, "Transpose", "t", "x", "y", A(AINTS("perm", 0, 2, 3, 1)));
    gb_node(b, "Transpose", "t2", "k", "z", NOATTR);
    gb_output(b, "y");
    gb_output(b, "z");
}
Test(cuda_ops, transpose) { run_case(b_transpose, 0); }

static void b_concat_split(gb *b) {
    gb_init(b, 13);
    gb_input(b, "a", MI_DTYPE_FLOAT, 3, D(2, 3, 5));
    gb_input(b, "b", MI_DTYPE_FLOAT, 3, D(2, 4, 5));
    gb_ints(b, "sizes", 3, D(1, 2, 4));
    gb_node(b, "Concat", "cat", "a,b", "c", A(AI("axis", 1)));
    gb_node(b, "Split", "split", "c,sizes", "s0,s1,s2", A(AI("axis", 1)));
    gb_node(b, "Concat", "cat0", "a,a", "d", A(AI("axis", 0)));
    gb_output(b, "c");
    gb_output(b, "s0");
    gb_output(b, "s1");
    gb_output(b, "s2");
    gb_output(b, "d");
}
Test(cuda_ops, concat_and_split) { run_case(b_concat_split, 0); }

/* Concat of batch-1 tensors along channels: the producers write straight
 * into their slices (the node itself is elided). */
static void b_concat_inplace(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 3, 4, 4));
    gb_node(b, "Sigmoid", "s1", "x", "a", NOATTR);
    gb_node(b, "Relu", "r1", "x", "c", NOATTR);
    gb_node(b, "Concat", "cat", "a,c", "cat_out", A(AI("axis", 1)));
    gb_node(b, "HardSwish", "out", "cat_out", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, concat_in_place) { run_case(b_concat_inplace, 1e-6); }

static void b_slice(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(4, 6, 8));
    gb_ints(b, "starts", 2, D(-1, 1));
    gb_ints(b, "ends", 2, D(-100, 7));
    gb_ints(b, "axes", 2, D(0, 2));
    gb_ints(b, "steps", 2, D(-2, 3));
    gb_node(b, "Slice", "slice", "x,starts,ends,axes,steps", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, slice_negative_step) { run_case(b_slice, 0); }

static void b_pad(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 4, 5));
    gb_ints(b, "pads", 8, D(0, 0, 2, 1, 0, 1, 3, -1));
    gb_ints(b, "pads2", 8, D(0, 0, 2, 3, 0, 0, 3, 4));
    gb_weight(b, "v", MI_DTYPE_FLOAT, 0, NULL, (const float[]){2.5f});
    gb_node(b, "Pad", "constant", "x,pads,v", "y0", NOATTR);
    gb_node(b, "Pad", "reflect", "x,pads2", "y1", A(AS("mode", "reflect")));
    gb_node(b, "Pad", "edge", "x,pads2", "y2", A(AS("mode", "edge")));
    gb_output(b, "y0");
    gb_output(b, "y1");
    gb_output(b, "y2");
}
Test(cuda_ops, pad_modes) { run_case(b_pad, 0); }

static void b_gather(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(5, 4, 3));
    gb_ints(b, "i", 3, D(4, 0, -1));
    gb_weight(b, "j", MI_DTYPE_INT32, 2, D(2, 2), (const int32_t[]){3, 1, -4, 2});
    gb_node(b, "Gather", "g0", "x,i", "y0", NOATTR);
    gb_node(b, "Gather", "g1", "x,j", "y1", A(AI("axis", 1)));
    gb_output(b, "y0");
    gb_output(b, "y1");
}
Test(cuda_ops, gather) { run_case(b_gather, 0); }

static void b_reduce(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 40, 5));
    gb_node(b, "ReduceMean", "m0", "x", "y0", A(AINTS("axes", 1), AI("keepdims", 0)));
    gb_node(b, "ReduceMean", "m1", "x", "y1", A(AINTS("axes", 2, 3)));
    gb_node(b, "ReduceMean", "m2", "x", "y2", NOATTR);
    gb_output(b, "y0");
    gb_output(b, "y1");
    gb_output(b, "y2");
}
Test(cuda_ops, reduce_mean) { run_case(b_reduce, 1e-5); }

static void b_cast(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 2, D(9, 11));
    gb_input(b, "k", MI_DTYPE_INT64, 2, D(9, 11));
    gb_node(b, "Cast", "c0", "x", "y0", A(AI("to", MI_DTYPE_INT32)));
    gb_node(b, "Cast", "c1", "x", "h", A(AI("to", MI_DTYPE_FLOAT16)));
    gb_node(b, "Cast", "c2", "h", "y1", A(AI("to", MI_DTYPE_FLOAT)));
    gb_node(b, "Cast", "c3", "k", "y2", A(AI("to", MI_DTYPE_FLOAT)));
    gb_node(b, "Cast", "c4", "k", "y3", A(AI("to", MI_DTYPE_BOOL)));
    gb_node(b, "Cast", "c5", "k", "y4", A(AI("to", MI_DTYPE_INT8)));
    gb_output(b, "y0");
    gb_output(b, "y1");
    gb_output(b, "y2");
    gb_output(b, "y3");
    gb_output(b, "y4");
}
Test(cuda_ops, cast) { run_case(b_cast, 0); }

/* Without folding, Constant and Shape run as nodes. */
static void b_const_shape(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    mi_attr vals = AFLOATS("value_floats", 1.5f, -2.0f, 3.25f, 0.5f);
    gb_node(b, "Constant", "k", "", "c", 1, &vals);
    gb_node(b, "Shape", "shape", "x", "s", NOATTR);
    gb_node(b, "Add", "add", "x,c", "y", NOATTR);
    gb_output(b, "s");
    gb_output(b, "y");
}
Test(cuda_ops, constant_and_shape_nodes) {
    ops_case c = {b_const_shape, 0, 0, 0, NULL, NULL};
    compare(&c);
}

/* ---- CUDA Graphs ------------------------------------------------------------------------------ */

static void b_small_net(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 16, 16));
    gb_input(b, "w0", MI_DTYPE_FLOAT, 4, D(8, 3, 3, 3));
    gb_input(b, "b0", MI_DTYPE_FLOAT, 1, D(8));
    gb_input(b, "w1", MI_DTYPE_FLOAT, 4, D(8, 8, 3, 3));
    gb_input(b, "fc", MI_DTYPE_FLOAT, 2, D(8, 10));
    gb_node(b, "Conv", "c0", "x,w0,b0", "t0", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "Relu", "r0", "t0", "a0", NOATTR);
    gb_node(b, "HardSwish", "hs", "a0", "q", NOATTR);
    gb_node(b, "Conv", "c1", "q,w1", "t1", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "Add", "add", "t1,a0", "s", NOATTR);
    gb_node(b, "Relu", "r1", "s", "a1", NOATTR);
    gb_node(b, "MaxPool", "pool", "a1", "p", A(AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2)));
    gb_node(b, "GlobalAveragePool", "gap", "p", "g", NOATTR);
    gb_node(b, "Flatten", "flat", "g", "f", NOATTR);
    gb_node(b, "MatMul", "fc", "f,fc", "l", NOATTR);
    gb_node(b, "Softmax", "softmax", "l", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, cuda_graph_capture_and_replay) {
    ops_case c = {b_small_net, 1, TOL, 1, NULL, NULL, MI_PRECISION_FP32, 0};
    compare(&c);
}

/* ---- channels last ------------------------------------------------------------------------- */

/* Every op the layout pass runs NHWC, between convolutions: Conv (cuDNN
 * NHWC, asymmetric pads pre-padded in NHWC), HardSwish, MaxPool (our
 * kernel: ceil mode; cuDNN), a fused residual, Concat on channels,
 * AveragePool (our kernel), the SE block (GlobalAveragePool, Sigmoid, Mul
 * by [N, C, 1, 1]), Add of a [C, 1, 1] constant, then Relayout back for
 * Flatten and Gemm. */
static void b_nhwc_net(gb *b) {
    static float w1[8 * 3 * 9], w2[8 * 8], w3[8 * 8], shift[16], fc[10 * 144], fcb[10];
    unsigned seed = 5;
    float *all[] = {w1, w2, w3, shift, fc, fcb};
    size_t sizes[] = {sizeof w1, sizeof w2, sizeof w3, sizeof shift, sizeof fc, sizeof fcb};
    for (int k = 0; k < 6; k++)
        for (size_t i = 0; i < sizes[k] / sizeof(float); i++) {
            seed = seed * 1103515245u + 12345u;
            all[k][i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
        }
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 9, 9));
    gb_weight(b, "w1", MI_DTYPE_FLOAT, 4, D(8, 3, 3, 3), w1);
    gb_weight(b, "w2", MI_DTYPE_FLOAT, 4, D(8, 8, 1, 1), w2);
    gb_weight(b, "w3", MI_DTYPE_FLOAT, 4, D(8, 8, 1, 1), w3);
    gb_weight(b, "shift", MI_DTYPE_FLOAT, 3, D(16, 1, 1), shift);
    gb_weight(b, "fc", MI_DTYPE_FLOAT, 2, D(10, 144), fc);
    gb_weight(b, "fcb", MI_DTYPE_FLOAT, 1, D(10), fcb);
    gb_node(b, "Conv", "c1", "x,w1", "t1", A(AINTS("pads", 1, 1, 2, 2)));
    gb_node(b, "HardSwish", "hs", "t1", "h", NOATTR);
    gb_node(b, "MaxPool", "p1", "h", "p", A(AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2), AI("ceil_mode", 1)));
    gb_node(b, "Conv", "c2", "p,w2", "t2", NOATTR);
    gb_node(b, "Add", "res", "t2,p", "r2", NOATTR);
    gb_node(b, "Conv", "c3", "r2,w3", "t3", NOATTR);
    gb_node(b, "Concat", "cat", "r2,t3", "cat", A(AI("axis", 1)));
    gb_node(b, "AveragePool", "p2", "cat", "a", A(AINTS("kernel_shape", 2, 2), AINTS("pads", 0, 0, 1, 1)));
    gb_node(b, "GlobalAveragePool", "gap", "a", "g", NOATTR);
    gb_node(b, "Sigmoid", "sig", "g", "gs", NOATTR);
    gb_node(b, "Mul", "se", "a,gs", "se", NOATTR);
    gb_node(b, "Add", "shifted", "se,shift", "sh", NOATTR);
    gb_node(b, "MaxPool", "p3", "sh", "q", A(AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2), AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "Flatten", "flat", "q", "f", NOATTR);
    gb_node(b, "Gemm", "fc", "f,fc,fcb", "y", A(AI("transB", 1)));
    gb_output(b, "y");
}
Test(cuda_ops, channels_last_fp32) {
    ops_case c = {b_nhwc_net, 1, TOL, 0, NULL, NULL, MI_PRECISION_FP32, 1};
    compare(&c);
}
Test(cuda_ops_half, channels_last_net) { run_half_case(b_nhwc_net, 0, 0); }
Test(cuda_ops_half, channels_last_net_cuda_graph) { run_half_case(b_nhwc_net, 0, 1); }

/* ---- every op in float16 and bfloat16 -------------------------------------------------------- */

Test(cuda_ops_half, conv_plain) { run_half_case(b_conv_plain, 0, 0); }
Test(cuda_ops_half, conv_bias) { run_half_case(b_conv_bias, 0, 0); }
Test(cuda_ops_half, conv_relu) { run_half_case(b_conv_relu, 0, 0); }
Test(cuda_ops_half, conv_residual_in_place) { run_half_case(b_conv_residual_inplace, 0, 0); }
Test(cuda_ops_half, conv_residual_without_bias) { run_half_case(b_conv_residual_nobias, 0, 0); }
Test(cuda_ops_half, conv_depthwise_clip) { run_half_case(b_conv_depthwise_relu6, 0, 0); }
Test(cuda_ops_half, conv_grouped_dilated_asymmetric) { run_half_case(b_conv_grouped_dilated_asym, 0, 0); }
Test(cuda_ops_half, conv_same_upper) { run_half_case(b_conv_same_upper, 0, 0); }
Test(cuda_ops_half, conv_1d) { run_half_case(b_conv_1d, 0, 0); }
Test(cuda_ops_half, conv_3d) { run_half_case(b_conv_3d, 0, 0); }
Test(cuda_ops_half, maxpool) {
    run_half_case(b_maxpool, 1, 0);
    run_half_case(b_maxpool_ceil, 1, 0);
    run_half_case(b_maxpool_dilated, 1, 0);
}
Test(cuda_ops_half, avgpool) {
    run_half_case(b_avgpool_incl, 0, 0);
    run_half_case(b_avgpool_asym, 0, 0);
    run_half_case(b_avgpool_ceil_incl, 0, 0);
}
Test(cuda_ops_half, global_average_pool) { run_half_case(b_gap, 0, 0); }
Test(cuda_ops_half, activations) {
    run_half_case(b_relu, 1, 0);
    run_half_case(b_clip, 1, 0);
    run_half_case(b_sigmoid, 0, 0);
    run_half_case(b_hard_sigmoid, 0, 0);
    run_half_case(b_hard_swish, 0, 0);
}
Test(cuda_ops_half, binary_broadcasts) {
    run_half_case(b_add_channel, 1, 0);
    run_half_case(b_sub_both, 1, 0);
    run_half_case(b_mul_scalar, 1, 0);
    run_half_case(b_div_row, 1, 0);
}
Test(cuda_ops_half, batch_norm) {
    run_half_case(b_bn, 0, 0);
    run_half_case(b_bn_inplace, 0, 0);
}
Test(cuda_ops_half, lrn) {
    run_half_case(b_lrn, 0, 0);
    run_half_case(b_lrn_kernel, 0, 0);
}
Test(cuda_ops_half, softmax) {
    run_half_case(b_softmax, 0, 0);
    run_half_case(b_softmax_opset11, 0, 0);
}
Test(cuda_ops_half, gemm) {
    run_half_case(b_gemm_nn, 0, 0);
    run_half_case(b_gemm_tn, 0, 0);
    run_half_case(b_gemm_nt, 0, 0);
    run_half_case(b_gemm_tt, 0, 0);
}
Test(cuda_ops_half, matmul) {
    run_half_case(b_matmul_2d, 0, 0);
    run_half_case(b_matmul_batched, 0, 0);
    run_half_case(b_matmul_broadcast, 0, 0);
    run_half_case(b_matmul_vector, 0, 0);
}
Test(cuda_ops_half, moves) {
    run_half_case(b_views, 1, 0);
    run_half_case(b_transpose, 1, 0);
    run_half_case(b_concat_split, 1, 0);
    run_half_case(b_concat_inplace, 0, 0);
    run_half_case(b_slice, 1, 0);
    run_half_case(b_pad, 1, 0);
    run_half_case(b_gather, 1, 0);
    run_half_case(b_cast, 1, 0);
}
Test(cuda_ops_half, reduce_mean) { run_half_case(b_reduce, 0, 0); }
Test(cuda_ops_half, small_net_cuda_graph) { run_half_case(b_small_net, 0, 1); }

/* ---- the transformers' ops ------------------------------------------------------------------ */

/* LayerNormalization, the exact GELU (Erf), the tanh GELU (Pow, Tanh), a
 * causal mask (Where on a Trilu-made bool, via Equal), Sqrt, Exp, Log of
 * positives, Reciprocal, Neg, Min, Max, Mod, ReduceSum/ReduceMax, Expand,
 * Tile, the attention MatMuls and Softmax over the last axis. */
static void b_transformer_ops(gb *b) {
    static float scale[16], bias[16], half[1] = {0.5f}, one[1] = {1.0f}, three[1] = {3.0f}, c1[1] = {0.044715f},
                 rt2[1] = {1.41421356f}, ninf[1] = {-30000.0f}, ones[64];
    for (int i = 0; i < 16; i++) {
        scale[i] = 1.0f + 0.05f * (float)i;
        bias[i] = 0.01f * (float)(i - 8);
    }
    for (int i = 0; i < 64; i++) ones[i] = 1.0f;
    gb_init(b, 17);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 8, 16));
    gb_weight(b, "scale", MI_DTYPE_FLOAT, 1, D(16), scale);
    gb_weight(b, "bias", MI_DTYPE_FLOAT, 1, D(16), bias);
    gb_weight(b, "half", MI_DTYPE_FLOAT, 0, NULL, half);
    gb_weight(b, "one", MI_DTYPE_FLOAT, 0, NULL, one);
    gb_weight(b, "three", MI_DTYPE_FLOAT, 0, NULL, three);
    gb_weight(b, "c1", MI_DTYPE_FLOAT, 0, NULL, c1);
    gb_weight(b, "rt2", MI_DTYPE_FLOAT, 0, NULL, rt2);
    gb_weight(b, "ninf", MI_DTYPE_FLOAT, 0, NULL, ninf);
    gb_weight(b, "ones", MI_DTYPE_FLOAT, 2, D(8, 8), ones);
    gb_ints(b, "k0", 1, (const int64_t[]){0});
    gb_ints(b, "axes", 1, (const int64_t[]){-1});
    gb_ints(b, "tile", 3, (const int64_t[]){1, 1, 2});
    gb_ints(b, "shape", 3, (const int64_t[]){2, 8, 16});
    gb_node(b, "LayerNormalization", "ln", "x,scale,bias", "l", A(AI("axis", -1), AF("epsilon", 1e-5f)));
    /* exact GELU: x * 0.5 * (1 + erf(x / sqrt 2)) */
    gb_node(b, "Div", "d", "l,rt2", "ld", NOATTR);
    gb_node(b, "Erf", "erf", "ld", "le", NOATTR);
    gb_node(b, "Add", "a1", "le,one", "la", NOATTR);
    gb_node(b, "Mul", "m1", "l,la", "lm", NOATTR);
    gb_node(b, "Mul", "m2", "lm,half", "g1", NOATTR);
    /* tanh GELU pieces: x + 0.044715 x^3 through Pow and Tanh */
    gb_node(b, "Pow", "pow", "g1,three", "p3", NOATTR);
    gb_node(b, "Mul", "m3", "p3,c1", "pc", NOATTR);
    gb_node(b, "Add", "a2", "g1,pc", "pa", NOATTR);
    gb_node(b, "Tanh", "tanh", "pa", "t", NOATTR);
    /* attention with a causal mask */
    gb_node(b, "Transpose", "tr", "t", "tt", A(AINTS("perm", 0, 2, 1)));
    gb_node(b, "MatMul", "qk", "t,tt", "s", NOATTR);
    gb_node(b, "Trilu", "tri", "ones,k0", "low", A(AI("upper", 0)));
    gb_node(b, "Equal", "eq", "low,one", "keep", NOATTR);
    gb_node(b, "Where", "mask", "keep,s,ninf", "sm", NOATTR);
    gb_node(b, "Softmax", "soft", "sm", "pr", A(AI("axis", -1)));
    gb_node(b, "MatMul", "pv", "pr,t", "o", NOATTR);
    /* the rest of the element math */
    gb_node(b, "Exp", "exp", "o", "e", NOATTR);
    gb_node(b, "Log", "log", "e", "lg", NOATTR);
    gb_node(b, "Sqrt", "sqrt", "e", "sq", NOATTR);
    gb_node(b, "Reciprocal", "rec", "sq", "rc", NOATTR);
    gb_node(b, "Neg", "neg", "rc", "ng", NOATTR);
    gb_node(b, "Min", "min", "lg,ng", "mn", NOATTR);
    gb_node(b, "Max", "max", "mn,o", "mx", NOATTR);
    gb_node(b, "Mod", "mod", "mx,three", "md", A(AI("fmod", 1)));
    gb_node(b, "ReduceSum", "rsum", "md,axes", "rs", A(AI("keepdims", 1)));
    gb_node(b, "ReduceMax", "rmax", "md", "rm", A(AINTS("axes", 1), AI("keepdims", 1)));
    gb_node(b, "Add", "a3", "rs,rm", "ra", NOATTR);
    gb_node(b, "Expand", "exp2", "ra,shape", "ex", NOATTR);
    gb_node(b, "Tile", "tile", "ex,tile", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, transformer_ops) { run_case(b_transformer_ops, 1e-4); }
Test(cuda_ops_half, transformer_ops) { run_half_case(b_transformer_ops, 0, 0); }
Test(cuda_ops, transformer_ops_cuda_graph) {
    ops_case c = {b_transformer_ops, 1, 1e-4, 1, NULL, NULL, MI_PRECISION_FP32, 0};
    compare(&c);
}

/* Linear layers as exporters spell them, fused into MatMuls with a bias
 * input (graph/linear.c): cuBLASLt's BIAS, RELU_BIAS and GELU_BIAS
 * epilogues, and the exact GELU after a BIAS epilogue; a bias [1, 1, N]
 * on the Add's left; the last layer without an activation. */
static void b_linear_layers(gb *b) {
    static float w1[24 * 32], b1[32], w2[32 * 16], b2[16], w3[16 * 16], b3[16], w4[16 * 8], b4[8];
    float *ws[] = {w1, b1, w2, b2, w3, b3, w4, b4};
    const int ns[] = {24 * 32, 32, 32 * 16, 16, 16 * 16, 16, 16 * 8, 8};
    unsigned st = 7;
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < ns[k]; i++) {
            st = st * 1103515245u + 12345u;
            ws[k][i] = ((float)((st >> 8) & 0xffff) / 65536.0f - 0.5f) * (k % 2 ? 1.0f : 0.5f);
        }
    gb_init(b, 20);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 24));
    gb_weight(b, "w1", MI_DTYPE_FLOAT, 2, D(24, 32), w1);
    gb_weight(b, "b1", MI_DTYPE_FLOAT, 1, D(32), b1);
    gb_weight(b, "w2", MI_DTYPE_FLOAT, 2, D(32, 16), w2);
    gb_weight(b, "b2", MI_DTYPE_FLOAT, 3, D(1, 1, 16), b2);
    gb_weight(b, "w3", MI_DTYPE_FLOAT, 2, D(16, 16), w3);
    gb_weight(b, "b3", MI_DTYPE_FLOAT, 1, D(16), b3);
    gb_weight(b, "w4", MI_DTYPE_FLOAT, 2, D(16, 8), w4);
    gb_weight(b, "b4", MI_DTYPE_FLOAT, 1, D(8), b4);
    gb_node(b, "MatMul", "mm1", "x,w1", "h1", NOATTR);
    gb_node(b, "Add", "add1", "h1,b1", "a1", NOATTR);
    gb_node(b, "Gelu", "gelu1", "a1", "g1", NOATTR);
    gb_node(b, "MatMul", "mm2", "g1,w2", "h2", NOATTR);
    gb_node(b, "Add", "add2", "b2,h2", "a2", NOATTR);
    gb_node(b, "Relu", "relu2", "a2", "g2", NOATTR);
    gb_node(b, "MatMul", "mm3", "g2,w3", "h3", NOATTR);
    gb_node(b, "Add", "add3", "h3,b3", "a3", NOATTR);
    gb_node(b, "Gelu", "gelu3", "a3", "g3", A(AS("approximate", "tanh")));
    gb_node(b, "MatMul", "mm4", "g3,w4", "h4", NOATTR);
    gb_node(b, "Add", "add4", "h4,b4", "y", NOATTR);
    gb_output(b, "y");
}
Test(cuda_ops, linear_layers_fused) { run_case(b_linear_layers, 1e-4); }
Test(cuda_ops_half, linear_layers_fused) { run_half_case(b_linear_layers, 0, 0); }
Test(cuda_ops, linear_layers_fused_cuda_graph) {
    ops_case c = {b_linear_layers, 1, 1e-4, 1, NULL, NULL, MI_PRECISION_FP32, 0};
    compare(&c);
}
