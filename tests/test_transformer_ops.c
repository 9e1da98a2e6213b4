/* The transformers' ops beyond the ONNX node tests: the GELU fusion
 * (src/graph/gelu.c) in both spelled-out forms and the linear-layer
 * fusion (src/graph/linear.c), against the same graphs unfused; shape
 * subgraphs folded at load; and the bad input the issue names (a token id
 * out of the embedding's range). */
#include <criterion/criterion.h>
#include "graph_build.h"
#include "mini_infer/runtime.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float SQRT2[1] = {1.41421356f}, ONE[1] = {1.0f}, HALF[1] = {0.5f}, C1[1] = {0.044715f},
                   C2[1] = {0.79788456f}, THREE[1] = {3.0f};

/* x [2, 5, 8] -> MatMul w -> GELU (exact, or tanh with x^3 as Mul(x, Mul(x, x))
 * or as Pow) -> y. */
static void gelu_graph(gb *b, int form) {
    static float w[64];
    for (int i = 0; i < 64; i++) w[i] = (float)((i * 37) % 17 - 8) / 8.0f;
    gb_init(b, 17);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 8));
    gb_weight(b, "w", MI_DTYPE_FLOAT, 2, D(8, 8), w);
    gb_weight(b, "sqrt2", MI_DTYPE_FLOAT, 0, NULL, SQRT2);
    gb_weight(b, "one", MI_DTYPE_FLOAT, 0, NULL, ONE);
    gb_weight(b, "half", MI_DTYPE_FLOAT, 0, NULL, HALF);
    gb_weight(b, "c1", MI_DTYPE_FLOAT, 0, NULL, C1);
    gb_weight(b, "c2", MI_DTYPE_FLOAT, 0, NULL, C2);
    gb_weight(b, "three", MI_DTYPE_FLOAT, 0, NULL, THREE);
    gb_node(b, "MatMul", "mm", "x,w", "h", NOATTR);
    if (form == 0) {
        gb_node(b, "Div", "div", "h,sqrt2", "d", NOATTR);
        gb_node(b, "Erf", "erf", "d", "e", NOATTR);
        gb_node(b, "Add", "add", "e,one", "a", NOATTR);
    } else {
        if (form == 1) {
            gb_node(b, "Mul", "sq", "h,h", "q", NOATTR);
            gb_node(b, "Mul", "cube", "h,q", "p", NOATTR);
        } else {
            gb_node(b, "Pow", "cube", "h,three", "p", NOATTR);
        }
        gb_node(b, "Mul", "m1", "c1,p", "pc", NOATTR); /* constants on the left, as torch exports */
        gb_node(b, "Add", "add1", "h,pc", "v", NOATTR);
        gb_node(b, "Mul", "m2", "c2,v", "u", NOATTR);
        gb_node(b, "Tanh", "tanh", "u", "t", NOATTR);
        gb_node(b, "Add", "add", "one,t", "a", NOATTR);
    }
    gb_node(b, "Mul", "mx", "h,a", "m", NOATTR);
    gb_node(b, "Mul", "mhalf", "m,half", "y", NOATTR);
    gb_output(b, "y");
}

/* A CPU model of the finalized graph (the model takes it) and a context. */
static mi_context *cpu_context(gb *b, mi_model **m) {
    mi_model_options o;
    mi_model_options_init(&o);
    cr_assert_eq(mi_model_create(b->g, &o, m), MI_OK, "%s", mi_last_error());
    b->g = NULL;
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(*m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    return c;
}

/* Runs b's finalized graph on x [80 elements] (the model takes the graph). */
static float *run_finalized(gb *b) {
    mi_model *m = NULL;
    mi_context *c = cpu_context(b, &m);
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK);
    float x[80], *y = malloc(80 * sizeof *y);
    for (int i = 0; i < 80; i++) x[i] = (float)(i % 13) / 3.0f - 2.0f;
    const void *ins[1] = {x};
    void *outs[2] = {y, NULL};
    cr_assert_leq(mi_model_output_count(m), 2);
    if (mi_model_output_count(m) > 1) outs[1] = malloc(mi_model_output(m, 1)->nbytes);
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    free(outs[1]);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return y;
}

static float *run_graph(gb *b, int fuse, size_t *nodes, int *gelus) {
    mi_load_options lo;
    mi_load_options_init(&lo);
    lo.fuse = fuse;
    cr_assert_eq(mi_graph_finalize(b->g, &lo), MI_OK, "%s", mi_last_error());
    *nodes = mi_graph_node_count(b->g);
    *gelus = gb_count_op(b, MI_OP_GELU);
    return run_finalized(b);
}

Test(transformer_ops, gelu_forms_fuse_into_one_node) {
    for (int form = 0; form < 3; form++) {
        gb a, b;
        size_t na, nb;
        int ga, gb_;
        gelu_graph(&a, form);
        gelu_graph(&b, form);
        float *fused = run_graph(&a, 1, &na, &ga), *plain = run_graph(&b, 0, &nb, &gb_);
        cr_assert_eq(ga, 1, "form %d: one Gelu", form);
        cr_assert_eq(gb_, 0);
        cr_assert_eq(na, 2, "form %d: MatMul and Gelu are left, not %zu nodes", form, na);
        for (int i = 0; i < 80; i++)
            cr_assert_float_eq(fused[i], plain[i], 2e-6f * (1.0f + fabsf(plain[i])), "form %d, element %d", form, i);
        free(fused);
        free(plain);
    }
}

/* A constant that is not GELU's, or an intermediate read twice, keeps the
 * nodes as they are. */
Test(transformer_ops, near_misses_are_left_alone) {
    gb b;
    size_t n;
    int g;
    gelu_graph(&b, 0);
    /* 'd' read by a second node: not GELU's alone. */
    gb_node(&b, "Neg", "other", "d", "z", NOATTR);
    gb_output(&b, "z");
    free(run_graph(&b, 1, &n, &g));
    cr_assert_eq(g, 0);
    static const float not_half[1] = {0.6f};
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 8));
    gb_weight(&b, "sqrt2", MI_DTYPE_FLOAT, 0, NULL, SQRT2);
    gb_weight(&b, "one", MI_DTYPE_FLOAT, 0, NULL, ONE);
    gb_weight(&b, "c", MI_DTYPE_FLOAT, 0, NULL, not_half);
    gb_node(&b, "Div", "div", "x,sqrt2", "d", NOATTR);
    gb_node(&b, "Erf", "erf", "d", "e", NOATTR);
    gb_node(&b, "Add", "add", "e,one", "a", NOATTR);
    gb_node(&b, "Mul", "mx", "x,a", "m", NOATTR);
    gb_node(&b, "Mul", "mc", "m,c", "y", NOATTR);
    gb_output(&b, "y");
    free(run_graph(&b, 1, &n, &g));
    cr_assert_eq(g, 0);
    cr_assert_eq(n, 5);
}

/* torch's expand(-1, ...) spelling: Equal -> Where -> Expand of a constant
 * (and a ConstantOfShape nothing reads): all of it folds into weights. */
/* torch's attention reads a transposed key's size: Transpose -> Shape.
 * Once the Shape folds, nothing reads the Transpose: it goes too, and so
 * does a chain that only fed it. */
Test(transformer_ops, nodes_only_shapes_read_are_pruned) {
    gb b;
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_node(&b, "Neg", "neg", "x", "xn", NOATTR);
    gb_node(&b, "Transpose", "tr", "xn", "xt", A(AINTS("perm", 0, 2, 1)));
    gb_node(&b, "Shape", "shape", "xt", "s", NOATTR);
    gb_node(&b, "Reshape", "reshape", "x,s", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 1, "only the Reshape runs, not %zu nodes", mi_graph_node_count(b.g));
    cr_assert_eq(mi_graph_node(b.g, 0)->op, MI_OP_RESHAPE);
    const mi_tensor *y = gb_tensor(&b, "y");
    cr_assert(y->ndim == 3 && y->dims[0] == 2 && y->dims[1] == 4 && y->dims[2] == 3);
    gb_free(&b);
    /* A node whose output is a graph output stays, read or not. */
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(2, 3));
    gb_node(&b, "Neg", "neg", "x", "y", NOATTR);
    gb_node(&b, "Relu", "relu", "x", "z", NOATTR);
    gb_output(&b, "y");
    gb_output(&b, "z");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    gb_free(&b);
}

Test(transformer_ops, shape_subgraphs_fold) {
    static const float tok[4] = {1, 2, 3, 4};
    gb b;
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_weight(&b, "tok", MI_DTYPE_FLOAT, 3, D(1, 1, 4), tok);
    gb_ints(&b, "three", 1, (const int64_t[]){3});
    gb_ints(&b, "target", 3, (const int64_t[]){2, -1, -1});
    gb_node(&b, "ConstantOfShape", "cos", "three", "zeros", NOATTR); /* float zeros [3], added to nothing */
    gb_ints(&b, "minus1", 1, (const int64_t[]){-1});
    gb_ints(&b, "full", 3, (const int64_t[]){2, 3, 4});
    gb_node(&b, "Equal", "eq", "target,minus1", "is_keep", NOATTR);
    gb_node(&b, "Where", "where", "is_keep,full,target", "shape", NOATTR);
    gb_node(&b, "Expand", "expand", "tok,shape", "t", NOATTR);
    gb_node(&b, "Add", "add", "x,t", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 1, "only the Add runs");
    const mi_tensor *t = gb_tensor(&b, "t");
    cr_assert_eq(t->role, MI_ROLE_WEIGHT);
    cr_assert(t->ndim == 3 && t->dims[0] == 2 && t->dims[1] == 3 && t->dims[2] == 4);
    const float *v = t->data;
    for (int i = 0; i < 24; i++) cr_assert_float_eq(v[i], tok[i % 4], 0.0f);
    gb_free(&b);
}

/* A token id past the embedding table is an error naming the node on the
 * CPU, never an out-of-bounds read. */
Test(transformer_ops, token_id_out_of_range) {
    static float table[12];
    gb b;
    gb_init(&b, 17);
    gb_input(&b, "ids", MI_DTYPE_INT64, 2, D(1, 3));
    gb_weight(&b, "emb", MI_DTYPE_FLOAT, 2, D(4, 3), table);
    gb_node(&b, "Gather", "embed", "emb,ids", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    mi_model *m = NULL;
    mi_context *c = cpu_context(&b, &m);
    int64_t ids[3] = {0, 3, 4};
    float y[9];
    const void *ins[1] = {ids};
    void *outs[1] = {y};
    cr_assert_eq(mi_context_run(c, ins, outs), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "embed") && strstr(mi_last_error(), "out of range"), "%s", mi_last_error());
    ids[2] = -1; /* from the end: allowed */
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* ScatterND at run time (indices a graph input): the updates land where
 * the indices say; a tuple out of range is an error naming the node. */
/* The rest of the bad input the transformers' issue names: shapes are
 * fixed at load, so an attention mask of the wrong shape and a sequence
 * longer than the position table are found there, each naming its node,
 * before anything runs. */
Test(transformer_ops, mask_of_the_wrong_shape_is_refused_at_load) {
    gb b;
    gb_init(&b, 17);
    gb_input(&b, "scores", MI_DTYPE_FLOAT, 4, D(1, 2, 4, 4));
    gb_input(&b, "mask", MI_DTYPE_FLOAT, 4, D(1, 1, 1, 5)); /* 5 keys for 4 */
    gb_node(&b, "Add", "add_mask", "scores,mask", "masked", NOATTR);
    gb_node(&b, "Softmax", "attn", "masked", "y", A(AI("axis", -1)));
    gb_output(&b, "y");
    gb_fails(&b, MI_ERR_SHAPE, "add_mask", "broadcast");
    gb_free(&b);
}

Test(transformer_ops, sequence_longer_than_the_position_table_is_refused) {
    static float pos[8 * 4];
    gb b;
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(1, 10, 4));
    gb_weight(&b, "pos_table", MI_DTYPE_FLOAT, 2, D(8, 4), pos); /* 8 positions */
    static const int64_t start[1] = {0}, limit[1] = {10}, delta[1] = {1};
    gb_weight(&b, "start", MI_DTYPE_INT64, 0, NULL, start);
    gb_weight(&b, "limit", MI_DTYPE_INT64, 0, NULL, limit);
    gb_weight(&b, "delta", MI_DTYPE_INT64, 0, NULL, delta);
    gb_node(&b, "Range", "positions", "start,limit,delta", "ids", NOATTR);
    gb_node(&b, "Gather", "pos_embed", "pos_table,ids", "p", NOATTR);
    gb_node(&b, "Add", "add_pos", "x,p", "y", NOATTR);
    gb_output(&b, "y");
    gb_fails(&b, MI_ERR_SHAPE, "pos_embed", "out of range");
    gb_free(&b);
}

Test(transformer_ops, scatter_nd_at_run_time) {
    static const float data[8] = {1, 2, 3, 4, 5, 6, 7, 8}, upd[4] = {10, 20, 30, 40};
    gb b;
    gb_init(&b, 17);
    gb_input(&b, "idx", MI_DTYPE_INT64, 2, D(2, 1));
    gb_weight(&b, "data", MI_DTYPE_FLOAT, 2, D(4, 2), data);
    gb_weight(&b, "upd", MI_DTYPE_FLOAT, 2, D(2, 2), upd);
    gb_node(&b, "ScatterND", "scatter", "data,idx,upd", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    mi_model *m = NULL;
    mi_context *c = cpu_context(&b, &m);
    int64_t idx[2] = {3, -4}; /* rows 3 and 0 */
    float y[8];
    const void *ins[1] = {idx};
    void *outs[1] = {y};
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    const float want[8] = {30, 40, 3, 4, 5, 6, 10, 20};
    for (int i = 0; i < 8; i++) cr_assert_float_eq(y[i], want[i], 0.0f, "[%d]", i);
    idx[1] = 4;
    cr_assert_eq(mi_context_run(c, ins, outs), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "scatter") && strstr(mi_last_error(), "out of range"), "%s", mi_last_error());
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* ---- linear layers: MatMul + bias Add [+ Relu | Gelu] ---------------------------------- */

/* x [2, 5, 8] -> MatMul w [8, 6] -> Add bias -> act -> y, act 0: none,
 * 1: Relu, 2: Gelu, 3: Gelu tanh; bias_rank 1: [6], 3: [1, 1, 6];
 * bias_left: Add(bias, h). */
static void linear_graph(gb *b, int act, int bias_rank, int bias_left) {
    static float w[48], bias[6];
    for (int i = 0; i < 48; i++) w[i] = (float)((i * 29) % 19 - 9) / 9.0f;
    for (int i = 0; i < 6; i++) bias[i] = 0.25f * (float)(i - 3);
    gb_init(b, 20);
    gb_input(b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 8));
    gb_weight(b, "w", MI_DTYPE_FLOAT, 2, D(8, 6), w);
    if (bias_rank == 3) gb_weight(b, "bias", MI_DTYPE_FLOAT, 3, D(1, 1, 6), bias);
    else gb_weight(b, "bias", MI_DTYPE_FLOAT, 1, D(6), bias);
    gb_node(b, "MatMul", "mm", "x,w", "h", NOATTR);
    gb_node(b, "Add", "add", bias_left ? "bias,h" : "h,bias", act ? "a" : "y", NOATTR);
    if (act == 1) gb_node(b, "Relu", "act", "a", "y", NOATTR);
    if (act == 2) gb_node(b, "Gelu", "act", "a", "y", NOATTR);
    if (act == 3) gb_node(b, "Gelu", "act", "a", "y", A(AS("approximate", "tanh")));
    gb_output(b, "y");
}

static const mi_node *only_matmul(gb *b) {
    for (size_t i = 0; i < mi_graph_node_count(b->g); i++)
        if (mi_graph_node(b->g, i)->op == MI_OP_MATMUL) return mi_graph_node(b->g, i);
    return NULL;
}

Test(transformer_ops, linear_layers_fuse_into_one_matmul) {
    const mi_act want[] = {MI_ACT_NONE, MI_ACT_RELU, MI_ACT_GELU, MI_ACT_GELU_TANH};
    for (int act = 0; act < 4; act++)
        for (int form = 0; form < 2; form++) {
            gb a, b;
            size_t nb;
            int gb_;
            linear_graph(&a, act, form ? 3 : 1, form);
            linear_graph(&b, act, form ? 3 : 1, form);
            mi_load_options lo;
            mi_load_options_init(&lo);
            cr_assert_eq(mi_graph_finalize(a.g, &lo), MI_OK, "%s", mi_last_error());
            const mi_node *m = only_matmul(&a);
            cr_assert_eq(mi_graph_node_count(a.g), 1, "act %d form %d: one node, not %zu", act, form,
                         mi_graph_node_count(a.g));
            cr_assert(m && m->ninputs == 3, "the bias is the MatMul's third input");
            cr_assert_str_eq(mi_graph_tensor(a.g, (size_t)m->inputs[2])->name, "bias");
            cr_assert_eq(m->fused.act, want[act], "act %d", act);
            cr_assert_str_eq(mi_graph_tensor(a.g, (size_t)m->outputs[0])->name, "y");
            float *fused = run_finalized(&a), *plain = run_graph(&b, 0, &nb, &gb_);
            cr_assert_eq(nb, act ? 3u : 2u);
            for (int i = 0; i < 60; i++)
                cr_assert_float_eq(fused[i], plain[i], 1e-6f * (1.0f + fabsf(plain[i])), "act %d form %d, element %d",
                                   act, form, i);
            free(fused);
            free(plain);
        }
}

/* What is not a linear layer's bias keeps its Add: a bias with a
 * non-unit leading dim ([2, 1, 6]), a bias that is an input, and a
 * product read twice. */
Test(transformer_ops, linear_near_misses_are_left_alone) {
    static float w[48], bias2[12];
    gb b;
    size_t n;
    int g;
    /* a bias with a leading dim of 2 */
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 8));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(8, 6), w);
    gb_weight(&b, "bias", MI_DTYPE_FLOAT, 3, D(2, 1, 6), bias2);
    gb_node(&b, "MatMul", "mm", "x,w", "h", NOATTR);
    gb_node(&b, "Add", "add", "h,bias", "y", NOATTR);
    gb_output(&b, "y");
    free(run_graph(&b, 1, &n, &g));
    cr_assert_eq(n, 2);
    /* the bias an input */
    gb_init(&b, 17);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 5, 8));
    gb_input(&b, "bias", MI_DTYPE_FLOAT, 1, D(6));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(8, 6), w);
    gb_node(&b, "MatMul", "mm", "x,w", "h", NOATTR);
    gb_node(&b, "Add", "add", "h,bias", "y", NOATTR);
    gb_output(&b, "y");
    mi_load_options lo;
    mi_load_options_init(&lo);
    cr_assert_eq(mi_graph_finalize(b.g, &lo), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    gb_free(&b);
    /* the product read twice */
    linear_graph(&b, 0, 1, 0);
    gb_node(&b, "Neg", "other", "h", "z", NOATTR);
    gb_output(&b, "z");
    cr_assert_eq(mi_graph_finalize(b.g, &lo), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_node_count(b.g), 3);
    cr_assert_eq(only_matmul(&b)->ninputs, 2);
    gb_free(&b);
}
