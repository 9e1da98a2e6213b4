/* The model zoo (scripts/make_models.py, fixture models.generate) on the
 * CPU backend through the engine: LeNet-5, MobileNet-V2, ResNet-50 at
 * batch 1 and the dynamic-batch ResNet-50 at batch 4, each against its
 * PyTorch reference output (max|d| / max|ref| < 1e-4 and the same top-1
 * per image), in poison mode, with every planner strategy and with
 * in-place on and off; then each in float16 and bfloat16 (the load
 * option: every float tensor converted, Casts at the edges) against the
 * same fp32 reference (see HALF_TOL); and channels last (the layout pass
 * the CUDA backend runs half precision with) to the same bits as NCHW. The sanitized build
 * (MI_TEST_SANITIZED) runs fewer ResNet-50 combinations: ASan makes each
 * run many times slower. */
#include <criterion/criterion.h>

#include "as_device.h"
#include "model_data.h"
#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL_DIR(name) MI_MODELS_DIR "/" name

typedef struct ref_set {
    mi_tensor_data in, out;
} ref_set;

static void ref_load(const char *dir, ref_set *r) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (access(path, R_OK) != 0) cr_skip_test("%s is missing (the models.generate fixture makes it)", path);
    snprintf(path, sizeof path, "%s/test_data_set_0/input_0.pb", dir);
    cr_assert_eq(mi_tensor_file_read(path, &r->in), MI_OK, "%s", mi_last_error());
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    cr_assert_eq(mi_tensor_file_read(path, &r->out), MI_OK, "%s", mi_last_error());
    cr_assert_eq(r->out.dtype, MI_DTYPE_FLOAT);
}

static void ref_free(ref_set *r) {
    mi_tensor_data_free(&r->in);
    mi_tensor_data_free(&r->out);
}

static int64_t argmax(const float *v, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* The second largest of v, by position (n >= 2). */
static int64_t runner_up(const float *v, int64_t n, int64_t best) {
    int64_t second = best == 0 ? 1 : 0;
    for (int64_t i = 0; i < n; i++)
        if (i != best && v[i] > v[second]) second = i;
    return second;
}

/* Loads dir's model with one strategy, in-place setting and precision,
 * runs the reference input in poison mode and compares: max|d| / max|ref|
 * under tol, and the same top-1 per image. In half precision, an image
 * whose reference top-1 leads the runner-up by less than 2 tol max|ref|
 * may flip within the tolerance (each logit may move by tol max|ref|):
 * its top-1 is logged, not required. */
static void check_on(const char *dir, const ref_set *r, int64_t batch, mi_strategy s, int inplace,
                     mi_backend *device, mi_precision prec, double tol) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = "cpu";
    o.backend_instance = device;
    o.load.batch = batch;
    o.plan.solve.strategy = s;
    o.plan.inplace = inplace;
    o.load.precision = prec;
    mi_model *m = NULL;
    mi_status st = mi_model_load(path, &o, &m);
    cr_assert_eq(st, MI_OK, "%s (%s, in-place %d): %s: %s", dir, mi_strategy_name(s), inplace,
                 mi_status_name(st), mi_last_error());
    cr_assert_eq(mi_model_input_count(m), 1);
    cr_assert_eq(mi_model_output_count(m), 1);
    const mi_tensor *it = mi_model_input(m, 0), *ot = mi_model_output(m, 0);
    cr_assert_eq(it->nbytes, r->in.nbytes, "input of %zu bytes, the data set has %zu", it->nbytes, r->in.nbytes);
    cr_assert_eq(ot->nbytes, r->out.nbytes, "output of %zu bytes, the reference has %zu", ot->nbytes,
                 r->out.nbytes);
    if (device) {
        /* Uploaded to a device, the weights leave host memory. */
        const mi_graph *g = mi_model_graph(m);
        size_t dropped = 0;
        for (size_t t = 0; t < mi_graph_tensor_count(g); t++) {
            const mi_tensor *x = mi_graph_tensor(g, t);
            if (mi_memory_plan_tensor(mi_model_plan(m), t)->pool != MI_POOL_WEIGHTS) continue;
            cr_assert_null(x->data, "%s: '%s' in the weights pool still has host data", dir, x->name);
            dropped++;
        }
        cr_assert_gt(dropped, 0, "%s: no weight in the weights pool", dir);
    }
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    if (!device) cr_assert_eq(mi_context_set_poison(c, 1), MI_OK, "%s", mi_last_error());
    float *out = malloc(ot->nbytes);
    cr_assert(out);
    const void *ins[1] = {r->in.data};
    void *outs[1] = {out};
    st = mi_context_run(c, ins, outs);
    cr_assert_eq(st, MI_OK, "%s (%s, in-place %d): %s: %s", dir, mi_strategy_name(s), inplace,
                 mi_status_name(st), mi_last_error());
    const float *ref = r->out.data;
    size_t n = ot->nbytes / sizeof(float);
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)out[i] - ref[i]);
        cr_assert(d == d, "%s: output %zu is NaN", dir, i);
        if (d > md) md = d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    const char *pn = mi_precision_name(prec);
    cr_assert_lt(md / mr, tol, "%s (%s, %s, in-place %d): normalized error %g (tolerance %g)", dir, pn,
                 mi_strategy_name(s), inplace, md / mr, tol);
    int64_t rows = ot->dims[0], cols = (int64_t)n / rows, agree = 0;
    for (int64_t b = 0; b < rows; b++) {
        const float *rr = ref + b * cols;
        int64_t want = argmax(rr, cols), got = argmax(out + b * cols, cols);
        double margin = cols > 1 ? (double)rr[want] - rr[runner_up(rr, cols, want)] : INFINITY;
        agree += got == want;
        if (prec == MI_PRECISION_FP32 || margin > 2.0 * tol * mr)
            cr_assert_eq(got, want, "%s (%s): top-1 of image %lld (reference margin %.3g max|ref|)", dir, pn,
                         (long long)b, margin / mr);
        cr_log_info("%s %s image %lld: top-1 %lld, reference %lld, its margin %.3g max|ref|", dir, pn,
                    (long long)b, (long long)got, (long long)want, margin / mr);
    }
    cr_log_info("%s batch %lld, %s, %s, in-place %d: normalized error %.3g, top-1 %lld/%lld, arena %zu bytes",
                dir, (long long)rows, pn, mi_strategy_name(s), inplace, md / mr, (long long)agree,
                (long long)rows, mi_model_arena_size(m));
    free(out);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

static void check(const char *dir, const ref_set *r, int64_t batch, mi_strategy s, int inplace) {
    check_on(dir, r, batch, s, inplace, NULL, MI_PRECISION_FP32, 1e-4);
}

static const mi_strategy all[] = {MI_STRATEGY_NAIVE,          MI_STRATEGY_GREEDY_SIZE, MI_STRATEGY_BEST_FIT,
                                  MI_STRATEGY_GREEDY_BREADTH, MI_STRATEGY_COLORING,    MI_STRATEGY_EXACT,
                                  MI_STRATEGY_AUTO};

static void check_all(const char *dir, int64_t batch, const mi_strategy *s, size_t ns, int both_inplace) {
    ref_set r;
    memset(&r, 0, sizeof r);
    ref_load(dir, &r);
    for (size_t i = 0; i < ns; i++) {
        check(dir, &r, batch, s[i], 1);
        if (both_inplace) check(dir, &r, batch, s[i], 0);
    }
    ref_free(&r);
}

Test(models_cpu, lenet5_every_strategy) {
    check_all(MODEL_DIR("lenet5"), 0, all, sizeof all / sizeof all[0], 1);
}


/* The CPU backend dressed as a device (host_memory 0): the model drops
 * the host copy of every weight once uploaded, as with CUDA, and still
 * computes the reference (constants outside the pool keep their values). */
static void check_as_device(const char *dir) {
    mi_backend *cpu;
    cr_assert_eq(mi_backend_cpu_create(NULL, &cpu), MI_OK, "%s", mi_last_error());
    mi_backend_ops ops;
    mi_backend dev = mi_test_as_device(cpu, &ops);
    ref_set r;
    memset(&r, 0, sizeof r);
    ref_load(dir, &r);
    check_on(dir, &r, 0, MI_STRATEGY_AUTO, 1, &dev, MI_PRECISION_FP32, 1e-4);
    ref_free(&r);
    mi_backend_close(cpu);
}

Test(models_cpu, lenet5_and_mobilenet_v2_as_a_device) {
    check_as_device(MODEL_DIR("lenet5"));
    check_as_device(MODEL_DIR("mobilenet_v2"));
}

/* ResNet-50 is split over several tests so ctest -j runs them side by side;
 * the sanitized build keeps one combination per test. */
#ifdef MI_TEST_SANITIZED
#define SAN(sanitized, plain) sanitized
#else
#define SAN(sanitized, plain) plain
#endif

Test(models_cpu, mobilenet_v2_every_strategy) {
    check_all(MODEL_DIR("mobilenet_v2"), 0, all, sizeof all / sizeof all[0], SAN(0, 1));
}

Test(models_cpu, resnet50_naive_greedy) {
    static const mi_strategy s[] = {MI_STRATEGY_GREEDY_SIZE, MI_STRATEGY_NAIVE, MI_STRATEGY_GREEDY_BREADTH};
    check_all(MODEL_DIR("resnet50"), 0, s, SAN(1, 3), SAN(0, 1));
}

Test(models_cpu, resnet50_best_fit_coloring) {
    static const mi_strategy s[] = {MI_STRATEGY_BEST_FIT, MI_STRATEGY_COLORING};
    check_all(MODEL_DIR("resnet50"), 0, s, SAN(1, 2), SAN(0, 1));
}

Test(models_cpu, resnet50_exact_auto) {
    static const mi_strategy s[] = {MI_STRATEGY_AUTO, MI_STRATEGY_EXACT};
    check_all(MODEL_DIR("resnet50"), 0, s, SAN(1, 2), SAN(0, 1));
}

Test(models_cpu, resnet50_dynamic_batch4) {
    static const mi_strategy s[] = {MI_STRATEGY_AUTO, MI_STRATEGY_BEST_FIT};
    check_all(MODEL_DIR("resnet50_dynamic"), 4, s, SAN(1, 2), SAN(0, 1));
}

/* ---- float16 and bfloat16 ------------------------------------------------------------------
 *
 * Each model loaded with precision fp16 and bf16 (weights converted once,
 * BatchNormalization folded first, activations planned at 2 bytes, the
 * CPU backend computing in fp32 and rounding every tensor it stores),
 * against the fp32 torch reference. Measured max|d| / max|ref| (any GEMM
 * kernel, generic / AVX2 / AVX-512, gives the same to 3 digits):
 *
 *                        fp16      bf16
 *   lenet5              3.0e-4    4.1e-3
 *   mobilenet_v2        1.54e-2   8.3e-2
 *   resnet50            3.26e-2   0.127
 *   resnet50_dynamic b4 3.04e-2   0.131
 *
 * The goals (fp16 1e-2, bf16 5e-2) hold for LeNet-5 only. The
 * deep models have random weights (scripts/make_models.py), which amplify
 * any rounding: their fp32 run already differs from torch's by 600 fp32
 * ulps, and rounding only the weights to the half type (activations kept
 * in fp32) gives 9.0e-3 / 6.7e-2 (MobileNet-V2) and 2.5e-2 / 0.108
 * (ResNet-50) on its own, most of the total. So the tolerances are the
 * goals where they hold and about twice the measured error elsewhere: the
 * run is deterministic, the margin is for another compiler or libm
 * (expf, pow) moving a few roundings, and a real regression (a wrong
 * conversion, a kernel reading the wrong buffer) is off by far more. */
typedef struct half_tol {
    double fp16, bf16;
} half_tol;

static const half_tol HALF_TOL_LENET5 = {1e-2, 5e-2};
static const half_tol HALF_TOL_MOBILENET_V2 = {3e-2, 0.15};
static const half_tol HALF_TOL_RESNET50 = {6e-2, 0.25};

static void check_half(const char *dir, int64_t batch, half_tol tol, int both) {
    ref_set r;
    memset(&r, 0, sizeof r);
    ref_load(dir, &r);
    check_on(dir, &r, batch, MI_STRATEGY_AUTO, 1, NULL, MI_PRECISION_FP16, tol.fp16);
    if (both) check_on(dir, &r, batch, MI_STRATEGY_AUTO, 1, NULL, MI_PRECISION_BF16, tol.bf16);
    ref_free(&r);
}

Test(models_cpu, lenet5_fp16_bf16) {
    check_half(MODEL_DIR("lenet5"), 0, HALF_TOL_LENET5, 1);
    /* And with in-place off and another strategy: the plan does not matter. */
    ref_set r;
    memset(&r, 0, sizeof r);
    ref_load(MODEL_DIR("lenet5"), &r);
    check_on(MODEL_DIR("lenet5"), &r, 0, MI_STRATEGY_GREEDY_BREADTH, 0, NULL, MI_PRECISION_BF16,
             HALF_TOL_LENET5.bf16);
    ref_free(&r);
}

Test(models_cpu, mobilenet_v2_fp16_bf16) {
    check_half(MODEL_DIR("mobilenet_v2"), 0, HALF_TOL_MOBILENET_V2, 1);
}

Test(models_cpu, resnet50_fp16_bf16) {
    check_half(MODEL_DIR("resnet50"), 0, HALF_TOL_RESNET50, 1);
}

Test(models_cpu, resnet50_dynamic_batch4_fp16_bf16) {
    check_half(MODEL_DIR("resnet50_dynamic"), 4, HALF_TOL_RESNET50, SAN(0, 1));
}

/* The model loaded channels last (NHWC between convolutions, Relayout
 * nodes at the edges; the CPU backend runs its NCHW kernels on NCHW
 * copies) gives the NCHW run's output bit for bit. */
static void *run_layout(const char *dir, const ref_set *r, mi_precision prec, int channels_last, size_t *relayouts) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    mi_model_options o;
    mi_model_options_init(&o);
    o.load.precision = prec;
    o.load.channels_last = channels_last;
    mi_model *m = NULL;
    cr_assert_eq(mi_model_load(path, &o, &m), MI_OK, "%s: %s", dir, mi_last_error());
    const mi_graph *g = mi_model_graph(m);
    *relayouts = 0;
    for (size_t i = 0; i < mi_graph_node_count(g); i++) *relayouts += mi_graph_node(g, i)->op == MI_OP_RELAYOUT;
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK, "%s", mi_last_error());
    void *out = malloc(r->out.nbytes);
    cr_assert(out);
    const void *ins[1] = {r->in.data};
    void *outs[1] = {out};
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s: %s", dir, mi_last_error());
    mi_context_destroy(c);
    mi_model_destroy(m);
    return out;
}

static void check_channels_last(const char *dir, mi_precision prec) {
    ref_set r;
    memset(&r, 0, sizeof r);
    ref_load(dir, &r);
    size_t n0, n1;
    void *nchw = run_layout(dir, &r, prec, 0, &n0), *nhwc = run_layout(dir, &r, prec, 1, &n1);
    cr_assert_eq(n0, 0);
    cr_assert_gt(n1, 0, "%s: no Relayout node", dir);
    cr_assert_eq(memcmp(nchw, nhwc, r.out.nbytes), 0, "%s (%s): channels last differs from NCHW", dir,
                 mi_precision_name(prec));
    cr_log_info("%s %s: channels last with %zu Relayout nodes, same output", dir, mi_precision_name(prec), n1);
    free(nchw);
    free(nhwc);
    ref_free(&r);
}

Test(models_cpu, channels_last_same_bits) {
    check_channels_last(MODEL_DIR("lenet5"), MI_PRECISION_FP32);
    check_channels_last(MODEL_DIR("mobilenet_v2"), MI_PRECISION_FP16);
    check_channels_last(MODEL_DIR("resnet50"), MI_PRECISION_BF16);
}

/* ---- transformers ------------------------------------------------------------------------ */

/* The reduced transformer exports of scripts/make_models.py (ViT, a
 * BERT-like encoder with a padding mask, a GPT-like causal decoder on
 * int64 token ids): every graph input from its own file, the output
 * against PyTorch's, in poison mode; the plan at its lower bound, and the
 * shape subgraphs folded away (no Shape, ConstantOfShape, Equal or Expand
 * of constants left). */
static void check_transformer_at(const char *dir, mi_precision prec, double tol, size_t max_nodes, int64_t batch) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    if (access(path, R_OK) != 0) cr_skip_test("%s is missing (the models.generate fixture makes it)", path);
    mi_model_options o;
    mi_model_options_init(&o);
    o.load.precision = prec;
    o.load.batch = batch;
    mi_model *m = NULL;
    cr_assert_eq(mi_model_load(path, &o, &m), MI_OK, "%s: %s", dir, mi_last_error());
    const mi_graph *g = mi_model_graph(m);
    for (size_t i = 0; i < mi_graph_node_count(g); i++) {
        mi_op op = mi_graph_node(g, i)->op;
        cr_assert(op != MI_OP_SHAPE && op != MI_OP_CONSTANT_OF_SHAPE && op != MI_OP_CONSTANT,
                  "%s: node '%s' (%s) should have folded at load", dir, mi_graph_node(g, i)->name, mi_op_name(op));
    }
    cr_assert_leq(mi_graph_node_count(g), max_nodes, "%s: %zu nodes after folding", dir, mi_graph_node_count(g));
    const mi_memory_plan *p = mi_model_plan(m);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), mi_memory_plan_lower_bound(p), "%s: arena above its bound",
                 dir);
    model_data md_;
    model_data_read_batch(dir, m, batch ? batch : 1, &md_);
    const mi_tensor *ot = mi_model_output(m, 0);
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK, "%s", mi_last_error());
    float *out = malloc(ot->nbytes);
    void *outs[1] = {out};
    cr_assert_eq(mi_context_run(c, md_.ins, outs), MI_OK, "%s: %s", dir, mi_last_error());
    double md = 0, mr = 0;
    const float *ref = md_.want.data;
    size_t per = md_.want.nbytes / 4; /* the reference is batch 1: every batch item must match it */
    for (size_t i = 0; i < ot->nbytes / 4; i++) {
        double d = fabs((double)out[i] - ref[i % per]);
        cr_assert(d == d, "%s: output %zu is NaN", dir, i);
        if (d > md) md = d;
        if (fabs(ref[i % per]) > mr) mr = fabs(ref[i % per]);
    }
    cr_assert_lt(md / mr, tol, "%s (%s): normalized error %g (tolerance %g)", dir, mi_precision_name(prec), md / mr, tol);
    cr_log_info("%s %s batch %lld: %zu nodes, arena %zu bytes (lower bound), normalized error %.3g", dir,
                mi_precision_name(prec), (long long)(batch ? batch : 1), mi_graph_node_count(g), mi_model_arena_size(m),
                md / mr);
    free(out);
    model_data_free(&md_);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

static void check_transformer(const char *dir, mi_precision prec, double tol, size_t max_nodes) {
    check_transformer_at(dir, prec, tol, max_nodes, 0);
}

/* fp32 at the 1e-4 (measured 3e-7 to 5e-7); in half the issue's
 * goals (fp16 1e-2, bf16 5e-2; measured: ViT fp16 1.1e-3, BERT bf16
 * 1.2e-2, GPT fp16 7.8e-4). */
/* The exports' shapes follow a dynamic batch (Shape, Gather, Concat, Range
 * chains: 213 to 286 nodes); at any fixed batch they fold to 58-74, and
 * batch 3 (the test set repeated) gives the reference for every item. */
Test(models_cpu, vit_tiny) {
    check_transformer(MODEL_DIR("vit_tiny"), MI_PRECISION_FP32, 1e-4, 70);
    check_transformer(MODEL_DIR("vit_tiny"), MI_PRECISION_FP16, 1e-2, 80);
    check_transformer_at(MODEL_DIR("vit_tiny"), MI_PRECISION_FP32, 1e-4, 70, 3);
}
Test(models_cpu, bert_tiny_s128) {
    check_transformer(MODEL_DIR("bert_tiny_s128"), MI_PRECISION_FP32, 1e-4, 76);
    check_transformer(MODEL_DIR("bert_tiny_s128"), MI_PRECISION_BF16, 5e-2, 90);
    check_transformer_at(MODEL_DIR("bert_tiny_s128"), MI_PRECISION_FP32, 1e-4, 76, 3);
}
Test(models_cpu, gpt_tiny) {
    check_transformer(MODEL_DIR("gpt_tiny"), MI_PRECISION_FP32, 1e-4, 60);
    check_transformer(MODEL_DIR("gpt_tiny"), MI_PRECISION_FP16, 1e-2, 70);
    check_transformer_at(MODEL_DIR("gpt_tiny"), MI_PRECISION_FP32, 1e-4, 60, 3);
}
