/* Channels last (mi_load_options.channels_last, src/graph/layout.c): where
 * the layout pass puts NHWC and its Relayout nodes, the weights it
 * permutes, the plan's copy-free concat and views under NHWC, and the CPU
 * backend running the NHWC graph (src/backend_cpu/channels_last.c) to the
 * same bits as the NCHW one, in fp32 and in half precision. The bundled
 * models are run both ways by test_models_cpu.c. */
#include <criterion/criterion.h>
#include "graph_build.h"
#include "mini_infer/memplan.h"
#include "mini_infer/runtime.h"

#include <stdlib.h>
#include <string.h>

static float *seeded(size_t n, unsigned seed) {
    float *v = malloc(n * sizeof *v);
    cr_assert(v);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return v;
}

/* A small CNN touching every op the pass places: x [N,3,10,10] -> Conv 3x3
 * (asymmetric pads) -> Relu -> MaxPool -> Conv 1x1 (+ Conv 1x1 added:
 * a fused residual) -> depthwise Conv -> HardSwish -> Concat with the
 * pooled tensor on channels -> SE (GlobalAveragePool, Sigmoid, Mul) ->
 * Add of a [C,1,1] constant -> AveragePool -> Flatten -> Gemm -> y. */
static void small_cnn(gb *b, int64_t batch) {
    static float *w[8];
    static const int64_t wn[8] = {4 * 3 * 9, 4, 6 * 4, 6 * 4, 6 * 9, 10, 10 * 40, 10};
    for (int i = 0; i < 8; i++)
        if (!w[i]) w[i] = seeded((size_t)wn[i], 7u + (unsigned)i);
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(batch, 3, 10, 10));
    gb_weight(b, "w1", MI_DTYPE_FLOAT, 4, D(4, 3, 3, 3), w[0]);
    gb_weight(b, "b1", MI_DTYPE_FLOAT, 1, D(4), w[1]);
    gb_weight(b, "w2", MI_DTYPE_FLOAT, 4, D(6, 4, 1, 1), w[2]);
    gb_weight(b, "w3", MI_DTYPE_FLOAT, 4, D(6, 4, 1, 1), w[3]);
    gb_weight(b, "wd", MI_DTYPE_FLOAT, 4, D(6, 1, 3, 3), w[4]);
    gb_weight(b, "shift", MI_DTYPE_FLOAT, 3, D(10, 1, 1), w[5]);
    gb_weight(b, "fc", MI_DTYPE_FLOAT, 2, D(10, 40), w[6]);
    gb_weight(b, "fcb", MI_DTYPE_FLOAT, 1, D(10), w[7]);
    gb_node(b, "Conv", "conv1", "x,w1,b1", "c1", A(AINTS("pads", 1, 1, 0, 0)));
    gb_node(b, "Relu", "relu1", "c1", "r1", NOATTR);
    gb_node(b, "MaxPool", "pool1", "r1", "p1", A(AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2)));
    gb_node(b, "Conv", "conv2", "p1,w2", "c2", NOATTR);
    gb_node(b, "Conv", "conv3", "p1,w3", "c3", NOATTR);
    gb_node(b, "Add", "add23", "c2,c3", "s23", NOATTR);
    gb_node(b, "Conv", "dw", "s23,wd", "d", A(AI("group", 6), AINTS("pads", 1, 1, 1, 1)));
    gb_node(b, "HardSwish", "hs", "d", "h", NOATTR);
    gb_node(b, "Concat", "cat", "h,p1", "cat", A(AI("axis", 1)));
    gb_node(b, "GlobalAveragePool", "gap", "cat", "g", NOATTR);
    gb_node(b, "Sigmoid", "sig", "g", "gs", NOATTR);
    gb_node(b, "Mul", "se", "cat,gs", "se", NOATTR);
    gb_node(b, "Add", "shifted", "se,shift", "sh", NOATTR);
    gb_node(b, "AveragePool", "pool2", "sh", "p2", A(AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2)));
    gb_node(b, "Flatten", "flat", "p2", "f", NOATTR);
    gb_node(b, "Gemm", "fc", "f,fc,fcb", "y", A(AI("transB", 1)));
    gb_output(b, "y");
}

static mi_status finalize_with(gb *b, int channels_last, mi_precision p) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.channels_last = channels_last;
    o.precision = p;
    return mi_graph_finalize(b->g, &o);
}

static const mi_node *producer(gb *b, const char *tensor) {
    const mi_tensor *t = gb_tensor(b, tensor);
    cr_assert_geq(t->producer, 0, "'%s' has no producer", t->name);
    return mi_graph_node(b->g, (size_t)t->producer);
}

/* The tensor node `name` reads at input k. */
static const mi_tensor *input_of(gb *b, const char *name, int k) {
    for (size_t i = 0; i < mi_graph_node_count(b->g); i++) {
        const mi_node *n = mi_graph_node(b->g, i);
        if (strcmp(n->name, name) == 0) return mi_graph_tensor(b->g, (size_t)n->inputs[k]);
    }
    cr_assert_fail("no node '%s'", name);
    return NULL;
}

Test(layout, off_by_default_and_nothing_changes) {
    gb b;
    small_cnn(&b, 1);
    mi_load_options o;
    mi_load_options_init(&o);
    cr_assert_eq(o.channels_last, -1, "auto by default");
    cr_assert_eq(mi_graph_finalize(b.g, &o), MI_OK, "%s", mi_last_error());
    cr_assert_eq(gb_count_op(&b, MI_OP_RELAYOUT), 0, "auto is off outside the runtime");
    for (size_t t = 0; t < mi_graph_tensor_count(b.g); t++)
        cr_assert_eq(mi_graph_tensor(b.g, t)->layout, MI_LAYOUT_NCHW);
    gb_free(&b);
}

Test(layout, nhwc_between_convolutions_with_relayouts_at_the_edges) {
    gb b;
    small_cnn(&b, 2);
    cr_assert_eq(finalize_with(&b, 1, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
    /* In after x, out before Flatten: nothing else converts. */
    cr_assert_eq(gb_count_op(&b, MI_OP_RELAYOUT), 2);
    const mi_tensor *xin = input_of(&b, "conv1", 0);
    cr_assert_eq(xin->layout, MI_LAYOUT_NHWC);
    cr_assert_eq(producer(&b, xin->name)->op, MI_OP_RELAYOUT);
    cr_assert_eq(mi_graph_tensor(b.g, (size_t)producer(&b, xin->name)->inputs[0]), gb_tensor(&b, "x"));
    const mi_tensor *fin = input_of(&b, "flat", 0);
    cr_assert_eq(fin->layout, MI_LAYOUT_NCHW);
    cr_assert_eq(producer(&b, fin->name)->op, MI_OP_RELAYOUT);
    cr_assert_eq(gb_tensor(&b, "p2")->layout, MI_LAYOUT_NHWC);
    /* Everything between is NHWC, the graph's own input and output NCHW. */
    const char *nhwc[] = {"r1", "p1", "d", "h", "cat", "g", "se", "sh"};
    for (size_t i = 0; i < sizeof nhwc / sizeof *nhwc; i++)
        cr_assert_eq(gb_tensor(&b, nhwc[i])->layout, MI_LAYOUT_NHWC, "'%s'", nhwc[i]);
    cr_assert_eq(gb_tensor(&b, "x")->layout, MI_LAYOUT_NCHW);
    cr_assert_eq(gb_tensor(&b, "y")->layout, MI_LAYOUT_NCHW);
    cr_assert_eq(gb_tensor(&b, "f")->layout, MI_LAYOUT_NCHW);
    /* The SE scale [N, C, 1, 1] and the [C, 1, 1] shift lie alike both ways: not converted. */
    cr_assert(mi_tensor_layout_neutral(gb_tensor(&b, "gs")));
    cr_assert_eq(input_of(&b, "se", 1), gb_tensor(&b, "gs"));
    cr_assert_eq(input_of(&b, "shifted", 1), gb_tensor(&b, "shift"));
    gb_free(&b);
}

Test(layout, conv_weights_are_permuted_once_into_new_weights) {
    gb b;
    small_cnn(&b, 1);
    cr_assert_eq(finalize_with(&b, 1, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
    const mi_tensor *w1 = input_of(&b, "conv1", 1);
    cr_assert_eq(w1->layout, MI_LAYOUT_NHWC);
    cr_assert_eq(w1->role, MI_ROLE_WEIGHT);
    cr_assert_eq(w1->ndim, 4);
    cr_assert_eq(w1->dims[1], 3, "dims stay [K, C, R, S]");
    cr_assert_eq(mi_graph_find_tensor(b.g, "w1"), -1, "the NCHW weight nothing reads is dropped");
    float *src = seeded(4 * 3 * 9, 7u);
    const float *dst = w1->data;
    for (int k = 0; k < 4; k++)
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 3; r++)
                for (int s = 0; s < 3; s++)
                    cr_assert_eq(dst[((k * 3 + r) * 3 + s) * 3 + c], src[((k * 3 + c) * 3 + r) * 3 + s]);
    free(src);
    /* Depthwise [6, 1, 3, 3] lies alike in both layouts: kept as it is. */
    cr_assert_eq(input_of(&b, "dw", 1), gb_tensor(&b, "wd"));
    cr_assert_eq(gb_tensor(&b, "wd")->layout, MI_LAYOUT_NCHW);
    gb_free(&b);
}

Test(layout, a_node_writing_a_graph_output_runs_nchw_and_conversions_are_shared) {
    gb b;
    float *w = seeded(4 * 3, 3u);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 3, 4, 4));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(4, 3, 1, 1), w);
    gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
    gb_node(&b, "Relu", "relu", "c", "y", NOATTR);
    gb_node(&b, "Sigmoid", "sig", "c", "z", NOATTR);
    gb_node(&b, "Softmax", "soft", "c", "s", A(AI("axis", 1)));
    gb_output(&b, "y");
    gb_output(&b, "z");
    gb_output(&b, "s");
    mi_load_options o;
    mi_load_options_init(&o);
    o.channels_last = 1;
    o.fuse = 0;
    cr_assert_eq(mi_graph_finalize(b.g, &o), MI_OK, "%s", mi_last_error());
    /* One Relayout into the conv, one out of it shared by the three readers. */
    cr_assert_eq(gb_count_op(&b, MI_OP_RELAYOUT), 2);
    cr_assert_eq(gb_tensor(&b, "c")->layout, MI_LAYOUT_NHWC);
    const mi_tensor *back = input_of(&b, "relu", 0);
    cr_assert_eq(back->layout, MI_LAYOUT_NCHW);
    cr_assert_eq(input_of(&b, "sig", 0), back);
    cr_assert_eq(input_of(&b, "soft", 0), back);
    const char *outs[] = {"y", "z", "s"};
    for (int i = 0; i < 3; i++) cr_assert_eq(gb_tensor(&b, outs[i])->layout, MI_LAYOUT_NCHW);
    gb_free(&b);
    free(w);
}

Test(layout, no_2d_conv_nothing_starts_nhwc) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 4, 4));
    gb_node(&b, "Relu", "relu", "x", "r", NOATTR);
    gb_node(&b, "MaxPool", "pool", "r", "p", A(AINTS("kernel_shape", 2, 2)));
    gb_node(&b, "Relu", "relu2", "p", "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(finalize_with(&b, 1, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
    cr_assert_eq(gb_count_op(&b, MI_OP_RELAYOUT), 0);
    cr_assert_eq(gb_tensor(&b, "r")->layout, MI_LAYOUT_NCHW);
    gb_free(&b);
    /* A 3-D convolution (rank 5) has no NHWC form here. */
    float *w = seeded(6, 5u);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 5, D(1, 2, 3, 3, 3));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 5, D(3, 2, 1, 1, 1), w);
    gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
    gb_node(&b, "Relu", "relu", "c", "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(finalize_with(&b, 1, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
    cr_assert_eq(gb_count_op(&b, MI_OP_RELAYOUT), 0);
    gb_free(&b);
    free(w);
}

Test(layout, bad_option_and_relayout_not_a_model_op) {
    gb b;
    small_cnn(&b, 1);
    cr_assert_eq(finalize_with(&b, 2, MI_PRECISION_FP32), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "channels_last"), "%s", mi_last_error());
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 2, 4, 4));
    cr_assert_eq(gb_node_st(&b, "Relayout", "r", "x", "y", NOATTR), MI_ERR_UNSUPPORTED);
    gb_free(&b);
}

/* The plan: a channel Concat at batch 1 is copy-free in NCHW (each input
 * one block of the output) but not in NHWC, where channels interleave. */
Test(layout, copy_free_concat_only_where_the_bytes_are_blocks) {
    for (int cl = 0; cl <= 1; cl++) {
        gb b;
        small_cnn(&b, 1);
        cr_assert_eq(finalize_with(&b, cl, MI_PRECISION_FP32), MI_OK, "%s", mi_last_error());
        mi_planner *pl = NULL;
        mi_memory_plan *p = NULL;
        cr_assert_eq(mi_planner_create(&pl), MI_OK);
        cr_assert_eq(mi_planner_plan(pl, b.g, NULL, &p), MI_OK, "%s", mi_last_error());
        size_t cat = 0;
        for (size_t i = 0; i < mi_graph_node_count(b.g); i++)
            if (mi_graph_node(b.g, i)->op == MI_OP_CONCAT) cat = i;
        cr_assert_eq(mi_memory_plan_node_elided(p, cat), !cl, "channels_last %d", cl);
        mi_memory_plan_destroy(p);
        mi_planner_destroy(pl);
        gb_free(&b);
    }
}

/* Runs the graph on the CPU backend in poison mode; the output's bytes. */
static void *run_cpu(gb *b, const float *x, size_t *nbytes) {
    mi_model_options o;
    mi_model_options_init(&o);
    mi_model *m = NULL;
    cr_assert_eq(mi_model_create(b->g, &o, &m), MI_OK, "%s", mi_last_error());
    b->g = NULL; /* the model owns it */
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK, "%s", mi_last_error());
    const mi_tensor *ot = mi_model_output(m, 0);
    *nbytes = ot->nbytes;
    void *out = malloc(ot->nbytes);
    cr_assert(out);
    const void *ins[1] = {x};
    void *outs[1] = {out};
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    mi_context_destroy(c);
    mi_model_destroy(m);
    return out;
}

Test(layout, cpu_runs_nhwc_to_the_same_bits_in_every_precision) {
    const mi_precision ps[] = {MI_PRECISION_FP32, MI_PRECISION_FP16, MI_PRECISION_BF16};
    for (int64_t batch = 1; batch <= 2; batch++) {
        float *x = seeded((size_t)batch * 3 * 100, 99u);
        for (int i = 0; i < 3; i++) {
            void *out[2];
            size_t n[2];
            for (int cl = 0; cl <= 1; cl++) {
                gb b;
                small_cnn(&b, batch);
                cr_assert_eq(finalize_with(&b, cl, ps[i]), MI_OK, "%s", mi_last_error());
                out[cl] = run_cpu(&b, x, &n[cl]);
            }
            cr_assert_eq(n[0], n[1]);
            cr_assert_eq(memcmp(out[0], out[1], n[0]), 0, "%s, batch %lld: NHWC differs from NCHW",
                         mi_precision_name(ps[i]), (long long)batch);
            free(out[0]);
            free(out[1]);
        }
        free(x);
    }
}

Test(layout, storage_helpers) {
    mi_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = 4;
    t.dims[0] = 2; t.dims[1] = 3; t.dims[2] = 4; t.dims[3] = 5;
    int64_t sd[4];
    cr_assert_eq(mi_tensor_storage_dims(&t, sd), 4);
    cr_assert(sd[0] == 2 && sd[1] == 3 && sd[2] == 4 && sd[3] == 5);
    t.layout = MI_LAYOUT_NHWC;
    mi_tensor_storage_dims(&t, sd);
    cr_assert(sd[0] == 2 && sd[1] == 4 && sd[2] == 5 && sd[3] == 3);
    cr_assert_eq(mi_tensor_storage_axis(&t, 1), 3);
    cr_assert_eq(mi_tensor_storage_axis(&t, 2), 1);
    cr_assert_eq(mi_tensor_storage_axis(&t, 3), 2);
    cr_assert_not(mi_tensor_layout_neutral(&t));
    t.dims[2] = t.dims[3] = 1;
    cr_assert(mi_tensor_layout_neutral(&t));
    t.dims[2] = 4;
    t.dims[1] = 1;
    cr_assert(mi_tensor_layout_neutral(&t));
    t.ndim = 3;
    cr_assert(mi_tensor_layout_neutral(&t));
}
