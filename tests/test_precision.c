/* Loading in half precision (mi_load_options.precision): the graph passes
 * (src/graph/fold_bn.c, src/graph/precision.c), checked on the graph and
 * its plan; running it is tests/test_cpu_half.c's. */
#include <criterion/criterion.h>
#include "common/alloc_hook.h"
#include "graph_build.h"
#include "kernels/elementwise.h"
#include "mini_infer/memplan.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static mi_status finalize_as(gb *b, mi_precision p) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.precision = p;
    return mi_graph_finalize(b->g, &o);
}

/* x -> Conv(W, B) -> Relu -> y, x and y float. */
static void conv_relu(gb *b, const float *w) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 4, 4));
    gb_weight(b, "w", MI_DTYPE_FLOAT, 4, D(3, 2, 1, 1), w);
    gb_weight(b, "b", MI_DTYPE_FLOAT, 1, D(3), NULL);
    gb_node(b, "Conv", "conv", "x,w,b", "c", NOATTR);
    gb_node(b, "Relu", "relu", "c", "y", NOATTR);
    gb_output(b, "y");
}

static const mi_node *producer_of(gb *b, const char *name) {
    const mi_tensor *t = gb_tensor(b, name);
    cr_assert_geq(t->producer, 0, "'%s' has no producer", name);
    return mi_graph_node(b->g, (size_t)t->producer);
}

Test(precision, edges_keep_their_dtype_and_the_rest_is_half) {
    mi_precision ps[] = {MI_PRECISION_FP16, MI_PRECISION_BF16};
    mi_dtype want[] = {MI_DTYPE_FLOAT16, MI_DTYPE_BFLOAT16};
    for (int i = 0; i < 2; i++) {
        gb b;
        conv_relu(&b, NULL);
        cr_assert_eq(finalize_as(&b, ps[i]), MI_OK, "%s", mi_last_error());
        const char *suffix = ps[i] == MI_PRECISION_FP16 ? ":fp16" : ":bf16";
        char xh[32], yh[32];
        snprintf(xh, sizeof xh, "x%s", suffix);
        snprintf(yh, sizeof yh, "y%s", suffix);
        /* The declared input and output stay float, in the inputs/outputs pool. */
        cr_assert_eq(gb_tensor(&b, "x")->dtype, MI_DTYPE_FLOAT);
        cr_assert_eq(gb_tensor(&b, "y")->dtype, MI_DTYPE_FLOAT);
        cr_assert_eq(gb_tensor(&b, "y")->role, MI_ROLE_OUTPUT);
        /* A Cast at each edge: first and last, the conv (fused) between. */
        cr_assert_eq(mi_graph_node_count(b.g), 3);
        const mi_node *first = mi_graph_node(b.g, 0), *last = mi_graph_node(b.g, 2);
        cr_assert_eq(first->op, MI_OP_CAST);
        cr_assert_eq(mi_node_attr_int(first, "to", 0), want[i]);
        cr_assert_eq(last->op, MI_OP_CAST);
        cr_assert_eq(mi_node_attr_int(last, "to", 0), MI_DTYPE_FLOAT);
        cr_assert_eq(producer_of(&b, "y"), last);
        cr_assert_eq(gb_tensor(&b, xh)->dtype, want[i]);
        cr_assert_eq(gb_tensor(&b, yh)->dtype, want[i]);
        cr_assert_eq(gb_tensor(&b, yh)->nbytes, 3 * 16 * 2);
        const mi_node *conv = mi_graph_node(b.g, 1);
        cr_assert_eq(conv->op, MI_OP_CONV);
        cr_assert_eq(conv->fused.act, MI_ACT_RELU, "fusion still happens");
        /* The weights: converted once, at 2 bytes. */
        const mi_tensor *w = gb_tensor(&b, "w");
        cr_assert_eq(w->dtype, want[i]);
        cr_assert_eq(w->nbytes, 6 * 2);
        const uint16_t *wv = w->data;
        for (int k = 0; k < 6; k++) {
            float expect = 0.1f * (float)(k % 5), got = i == 0 ? mi_k_f16_to_f32(wv[k]) : mi_k_bf16_to_f32(wv[k]);
            cr_assert_float_eq(got, expect, expect * 0x1p-7f, "w[%d] = %g, expected about %g", k, got, expect);
        }
        gb_free(&b);
    }
}

/* Every activation at 2 bytes: the arena halves (here x:fp16 and y:fp16
 * are the arena's tensors, y in place of c). */
Test(precision, the_arena_halves) {
    size_t arena[2];
    for (int i = 0; i < 2; i++) {
        gb b;
        gb_init(&b, 13);
        gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(1, 1024));
        gb_node(&b, "Sigmoid", "s1", "x", "a", NOATTR);
        gb_node(&b, "Softmax", "s2", "a", "c", NOATTR);
        gb_node(&b, "Sigmoid", "s3", "c", "y", NOATTR);
        gb_output(&b, "y");
        cr_assert_eq(finalize_as(&b, i ? MI_PRECISION_FP16 : MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
        mi_planner *pl;
        mi_memory_plan *p;
        cr_assert_eq(mi_planner_create(&pl), MI_OK);
        cr_assert_eq(mi_planner_plan(pl, b.g, NULL, &p), MI_OK, "%s", mi_last_error());
        arena[i] = mi_memory_plan_pool_size(p, MI_POOL_ARENA);
        cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_IO), 2 * 4096, "float input and output");
        mi_memory_plan_destroy(p);
        mi_planner_destroy(pl);
        gb_free(&b);
    }
    cr_assert_eq(arena[1] * 2, arena[0], "fp32 %zu bytes, fp16 %zu", arena[0], arena[1]);
}

/* Conv -> BatchNormalization -> Relu: the BN goes into the Conv's weight
 * and bias, computed in fp32 before rounding, and the Relu still fuses. */
Test(precision, batch_norm_folds_into_the_conv_first) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 3, 3));
    static const float w[4] = {1.0f, 2.0f, -1.0f, 0.5f}, scale[2] = {2.0f, 0.5f}, shift[2] = {0.25f, -1.0f},
                       mean[2] = {1.0f, -2.0f}, var[2] = {3.0f, 0.0f};
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(2, 2, 1, 1), w);
    gb_weight(&b, "scale", MI_DTYPE_FLOAT, 1, D(2), scale);
    gb_weight(&b, "shift", MI_DTYPE_FLOAT, 1, D(2), shift);
    gb_weight(&b, "mean", MI_DTYPE_FLOAT, 1, D(2), mean);
    gb_weight(&b, "var", MI_DTYPE_FLOAT, 1, D(2), var);
    gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
    gb_node(&b, "BatchNormalization", "bn", "c,scale,shift,mean,var", "n", A(AF("epsilon", 1.0f)));
    gb_node(&b, "Relu", "relu", "n", "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(finalize_as(&b, MI_PRECISION_BF16), MI_OK, "%s", mi_last_error());
    cr_assert_eq(gb_count_op(&b, MI_OP_BATCH_NORM), 0);
    cr_assert_eq(gb_count_op(&b, MI_OP_CONV), 1);
    const mi_node *conv = NULL;
    for (size_t i = 0; i < mi_graph_node_count(b.g); i++)
        if (mi_graph_node(b.g, i)->op == MI_OP_CONV) conv = mi_graph_node(b.g, i);
    cr_assert_eq(conv->ninputs, 3, "the folded bias is a third input");
    cr_assert_eq(conv->fused.act, MI_ACT_RELU);
    const mi_tensor *fw = mi_graph_tensor(b.g, (size_t)conv->inputs[1]), *fb = mi_graph_tensor(b.g, (size_t)conv->inputs[2]);
    cr_assert_eq(fw->dtype, MI_DTYPE_BFLOAT16);
    const uint16_t *wv = fw->data, *bv = fb->data;
    for (int m = 0; m < 2; m++) {
        double s = scale[m] / sqrt((double)var[m] + 1.0);
        for (int c = 0; c < 2; c++) {
            float want = mi_k_bf16_to_f32(mi_k_f32_to_bf16((float)(w[m * 2 + c] * s)));
            cr_assert_eq(mi_k_bf16_to_f32(wv[m * 2 + c]), want, "W'[%d,%d]", m, c);
        }
        float want_b = mi_k_bf16_to_f32(mi_k_f32_to_bf16((float)((0.0 - mean[m]) * s + shift[m])));
        cr_assert_eq(mi_k_bf16_to_f32(bv[m]), want_b, "B'[%d]", m);
    }
    gb_free(&b);
}

/* In fp32 the model stays as it is: the BN is not folded. */
Test(precision, fp32_leaves_batch_norm_alone) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 3, 3));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(2, 2, 1, 1), NULL);
    for (int k = 0; k < 4; k++) {
        static const char *const names[] = {"scale", "shift", "mean", "var"};
        gb_weight(&b, names[k], MI_DTYPE_FLOAT, 1, D(2), NULL);
    }
    gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
    gb_node(&b, "BatchNormalization", "bn", "c,scale,shift,mean,var", "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(finalize_as(&b, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
    cr_assert_eq(gb_count_op(&b, MI_OP_BATCH_NORM), 1);
    cr_assert_eq(gb_count_op(&b, MI_OP_CAST), 0);
    gb_free(&b);
}

Test(precision, a_weight_fp16_cannot_hold_is_refused_naming_it) {
    static const float w[6] = {1.0f, 70000.0f, 0, 0, 0, 0};
    gb b;
    conv_relu(&b, w);
    mi_status st = finalize_as(&b, MI_PRECISION_FP16);
    cr_assert_eq(st, MI_ERR_UNSUPPORTED, "%s", mi_last_error());
    cr_assert(strstr(mi_last_error(), "'w'") && strstr(mi_last_error(), "70000") && strstr(mi_last_error(), "bf16"),
              "%s", mi_last_error());
    gb_free(&b);
    conv_relu(&b, w);
    cr_assert_eq(finalize_as(&b, MI_PRECISION_BF16), MI_OK, "bfloat16 holds float's range: %s", mi_last_error());
    cr_assert_float_eq(mi_k_bf16_to_f32(((const uint16_t *)gb_tensor(&b, "w")->data)[1]), 70144.0f, 0,
                       "70000 to the nearest bfloat16");
    gb_free(&b);
}

/* A graph output that a node also reads: the reader reads the half
 * tensor; a Cast of the model's own to float casts to the half type. */
Test(precision, outputs_read_inside_and_the_models_casts) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(8));
    gb_input(&b, "i", MI_DTYPE_INT64, 1, D(8));
    gb_node(&b, "Sigmoid", "s", "x", "a", NOATTR);
    gb_node(&b, "Cast", "cast", "i", "f", A(AI("to", MI_DTYPE_FLOAT)));
    gb_node(&b, "Add", "add", "a,f", "y1", NOATTR);
    gb_node(&b, "Relu", "relu", "y1", "y2", NOATTR);
    gb_output(&b, "y1");
    gb_output(&b, "y2");
    cr_assert_eq(finalize_as(&b, MI_PRECISION_FP16), MI_OK, "%s", mi_last_error());
    cr_assert_eq(gb_tensor(&b, "f")->dtype, MI_DTYPE_FLOAT16);
    cr_assert_eq(mi_node_attr_int(producer_of(&b, "f"), "to", 0), MI_DTYPE_FLOAT16);
    cr_assert_eq(gb_tensor(&b, "i")->dtype, MI_DTYPE_INT64, "integers are left alone");
    const mi_node *relu = producer_of(&b, "y2:fp16");
    cr_assert_eq(relu->op, MI_OP_RELU);
    cr_assert_eq(relu->inputs[0], mi_graph_find_tensor(b.g, "y1:fp16"), "reads the half tensor");
    /* Each output's Cast right after its producer: Add, Cast y1, Relu, Cast y2. */
    const mi_node *add = producer_of(&b, "y1:fp16");
    const mi_tensor *y1 = gb_tensor(&b, "y1");
    cr_assert_eq(mi_graph_node(b.g, (size_t)y1->producer - 1), add);
    cr_assert_eq(gb_count_op(&b, MI_OP_CAST), 4, "x in, the model's own, y1 and y2 out");
    gb_free(&b);
}

/* A model in fp16 already: nothing to convert, whatever the option. */
Test(precision, a_float16_model_loads_as_it_is) {
    for (int p = 0; p < MI_PRECISION_COUNT; p++) {
        gb b;
        gb_init(&b, 13);
        gb_input(&b, "x", MI_DTYPE_FLOAT16, 2, D(2, 4));
        gb_node(&b, "Sigmoid", "s", "x", "y", NOATTR);
        gb_output(&b, "y");
        cr_assert_eq(finalize_as(&b, (mi_precision)p), MI_OK, "%s", mi_last_error());
        cr_assert_eq(gb_tensor(&b, "y")->dtype, MI_DTYPE_FLOAT16);
        cr_assert_eq(gb_count_op(&b, MI_OP_CAST), 0);
        gb_free(&b);
    }
}

Test(precision, names_and_bad_values) {
    mi_precision p;
    cr_assert_eq(mi_precision_parse("bf16", &p), MI_OK);
    cr_assert_eq(p, MI_PRECISION_BF16);
    cr_assert_str_eq(mi_precision_name(MI_PRECISION_FP16), "fp16");
    cr_assert_eq(mi_precision_parse("fp8", &p), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "fp32, fp16, bf16"), "%s", mi_last_error());
    gb b;
    conv_relu(&b, NULL);
    cr_assert_eq(finalize_as(&b, (mi_precision)7), MI_ERR_INVALID_ARG);
    gb_free(&b);
}

/* Every allocation of the passes may fail: the status comes back and
 * nothing leaks. */
Test(precision, allocation_failures_are_clean) {
    int64_t before = mi__alloc_outstanding();
    for (uint64_t k = 1;; k++) {
        gb b;
        gb_init(&b, 13);
        gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 3, 3));
        gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(2, 2, 1, 1), NULL);
        for (int i = 0; i < 4; i++) {
            static const char *const names[] = {"scale", "shift", "mean", "var"};
            gb_weight(&b, names[i], MI_DTYPE_FLOAT, 1, D(2), NULL);
        }
        gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
        gb_node(&b, "BatchNormalization", "bn", "c,scale,shift,mean,var", "n", NOATTR);
        gb_node(&b, "Relu", "relu", "n", "y", NOATTR);
        gb_output(&b, "y");
        mi__alloc_fail_at(k);
        mi_status st = finalize_as(&b, MI_PRECISION_FP16);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        gb_free(&b);
        cr_assert_eq(mi__alloc_outstanding(), before, "allocation %llu: a leak", (unsigned long long)k);
        if (!fired) {
            cr_assert_eq(st, MI_OK, "%s", mi_last_error());
            break;
        }
        cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu: %s: %s", (unsigned long long)k, mi_status_name(st),
                     mi_last_error());
    }
}
