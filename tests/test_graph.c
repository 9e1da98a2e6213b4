/* The graph IR built by hand: builder and accessors, the checks (names,
 * dangling inputs, cycles, opset), topological sorting, roles, constant
 * folding, the fusion rewrite, compaction, and allocation failures. */
#include "graph_build.h"

#include "common/alloc_hook.h"

#include <math.h>
#include <stdio.h>

Test(graph, enum_helpers) {
    cr_assert_eq(mi_dtype_size(MI_DTYPE_FLOAT), 4);
    cr_assert_eq(mi_dtype_size(MI_DTYPE_INT64), 8);
    cr_assert_eq(mi_dtype_size(MI_DTYPE_BOOL), 1);
    cr_assert_eq(mi_dtype_size(MI_DTYPE_FLOAT16), 2);
    cr_assert_eq(mi_dtype_size(MI_DTYPE_UNDEFINED), 0);
    cr_assert_eq(mi_dtype_size((mi_dtype)8), 0, "strings are not stored");
    cr_assert_str_eq(mi_dtype_name(MI_DTYPE_INT32), "int32");
    cr_assert_str_eq(mi_role_name(MI_ROLE_WEIGHT), "weight");
    cr_assert_str_eq(mi_role_name((mi_role)42), "unknown");
    for (int i = 0; i < MI_OP_RELAYOUT; i++) {
        cr_assert_eq(mi_op_from_name(mi_op_name((mi_op)i)), (mi_op)i);
        cr_assert(strstr(mi_op_supported_list(), mi_op_name((mi_op)i)));
    }
    /* The layout pass's own op has a name but no model may use it. */
    cr_assert_str_eq(mi_op_name(MI_OP_RELAYOUT), "Relayout");
    cr_assert_eq(mi_op_from_name("Relayout"), MI_OP_COUNT);
    cr_assert_null(strstr(mi_op_supported_list(), "Relayout"));
    cr_assert_str_eq(mi_layout_name(MI_LAYOUT_NHWC), "NHWC");
    cr_assert_str_eq(mi_layout_name((mi_layout)7), "unknown");
    cr_assert_eq(mi_op_from_name("Conv2d"), MI_OP_COUNT);
    cr_assert_eq(mi_op_from_name(NULL), MI_OP_COUNT);
    cr_assert_str_eq(mi_op_name(MI_OP_COUNT), "unknown");
    const char *list = mi_op_supported_list();
    cr_assert_eq(strncmp(list, "Conv, Relu, Clip, ", 18), 0, "%s", list);
    cr_assert_str_eq(list + strlen(list) - 11, ", ScatterND", "%s", list);
    mi_load_options o;
    memset(&o, 0x55, sizeof o);
    mi_load_options_init(&o);
    cr_assert_eq(o.batch, 0);
    cr_assert_eq(o.fold_constants, 1);
    cr_assert_eq(o.fuse, 1);
}

Test(graph, build_and_read) {
    gb b;
    gb_init(&b, 13);
    cr_assert_eq(mi_graph_opset(b.g), 13);
    cr_assert_str_eq(mi_graph_name(b.g), "");
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(2, 3));
    float w[6] = {1, 2, 3, 4, 5, 6};
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(3, 2), w);
    w[0] = 100; /* the graph copied it */
    gb_node(&b, "MatMul", NULL, "x,w", "y", NOATTR);
    gb_node(&b, "Softmax", "soft", "y", "z", A(AI("axis", 1), AF("alpha", 2.5f), AS("note", "hi")));
    gb_output(&b, "z");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    cr_assert_eq(mi_graph_tensor_count(b.g), 4);
    cr_assert_eq(mi_graph_input_count(b.g), 1);
    cr_assert_eq(mi_graph_output_count(b.g), 1);
    const mi_node *n0 = mi_graph_node(b.g, 0), *n1 = mi_graph_node(b.g, 1);
    cr_assert_str_eq(n0->name, "MatMul_0");
    cr_assert_eq(n0->fused.residual, -1);
    cr_assert_eq(mi_node_attr_int(n1, "axis", 7), 1);
    cr_assert_eq(mi_node_attr_int(n1, "missing", 7), 7);
    cr_assert_float_eq(mi_node_attr_float(n1, "alpha", 0), 2.5f, 0);
    cr_assert_float_eq(mi_node_attr_float(n1, "axis", -1), -1.0f, 0, "wrong type gives the default");
    cr_assert_str_eq(mi_node_attr(n1, "note")->s, "hi");
    cr_assert_null(mi_node_attr(n1, "nope"));
    const mi_tensor *tw = gb_tensor(&b, "w"), *ty = gb_tensor(&b, "y"), *tz = gb_tensor(&b, "z");
    const mi_tensor *tx = mi_graph_tensor(b.g, (size_t)mi_graph_input(b.g, 0));
    cr_assert_str_eq(tx->name, "x");
    cr_assert_eq(tx->role, MI_ROLE_INPUT);
    cr_assert_eq(tw->role, MI_ROLE_WEIGHT);
    cr_assert_float_eq(((const float *)tw->data)[0], 1.0f, 0);
    cr_assert_eq(ty->role, MI_ROLE_ACTIVATION);
    cr_assert_eq(ty->nbytes, 2 * 2 * sizeof(float));
    cr_assert_eq(ty->producer, 0);
    cr_assert_eq(tz->role, MI_ROLE_OUTPUT);
    cr_assert_eq(tz->producer, 1);
    cr_assert_eq(mi_graph_output(b.g, 0), mi_graph_find_tensor(b.g, "z"));
    cr_assert_eq(mi_tensor_numel(tz), 4);
    cr_assert_eq(mi_graph_find_tensor(b.g, "nope"), -1);
    cr_assert_null(mi_graph_tensor(b.g, 99));
    cr_assert_null(mi_graph_node(b.g, 99));
    cr_assert_eq(mi_graph_input(b.g, 5), -1);
    /* finalized: no more changes */
    cr_assert_eq(mi_graph_finalize(b.g, NULL), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_graph_add_tensor(b.g, "q", MI_DTYPE_FLOAT, 0, NULL, MI_ROLE_INPUT, NULL, NULL),
                 MI_ERR_INVALID_ARG);
    gb_free(&b);
    mi_graph_destroy(NULL);
    cr_assert_eq(mi_graph_tensor_count(NULL), 0);
}

Test(graph, bad_builder_calls) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    cr_assert_eq(mi_graph_add_tensor(b.g, "x", MI_DTYPE_FLOAT, 1, D(4), MI_ROLE_WEIGHT, (float[4]){0}, NULL),
                 MI_ERR_GRAPH);
    cr_assert(strstr(mi_last_error(), "'x'"));
    cr_assert_eq(mi_graph_add_tensor(b.g, "", MI_DTYPE_FLOAT, 1, D(4), MI_ROLE_INPUT, NULL, NULL),
                 MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_graph_add_tensor(b.g, "s", (mi_dtype)8, 1, D(4), MI_ROLE_INPUT, NULL, NULL),
                 MI_ERR_UNSUPPORTED);
    cr_assert_eq(mi_graph_add_tensor(b.g, "r", MI_DTYPE_FLOAT, 9, D(1, 1, 1, 1, 1, 1, 1, 1, 1),
                                     MI_ROLE_INPUT, NULL, NULL), MI_ERR_UNSUPPORTED);
    cr_assert_eq(mi_graph_add_tensor(b.g, "w", MI_DTYPE_FLOAT, 1, D(4), MI_ROLE_WEIGHT, NULL, NULL),
                 MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_graph_add_tensor(b.g, "w", MI_DTYPE_FLOAT, 1, D(-4), MI_ROLE_WEIGHT, (float[4]){0}, NULL),
                 MI_ERR_SHAPE);
    cr_assert_eq(mi_graph_add_tensor(b.g, "w", MI_DTYPE_FLOAT, 2, D((int64_t)1 << 40, (int64_t)1 << 40),
                                     MI_ROLE_WEIGHT, (float[4]){0}, NULL), MI_ERR_OVERFLOW);
    cr_assert_eq(gb_node_st(&b, "Conv2d", "c", "x", "y", NOATTR), MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "'c'") && strstr(mi_last_error(), "Conv2d") &&
              strstr(mi_last_error(), "Conv, Relu"), "%s", mi_last_error());
    cr_assert_eq(gb_node_st(&b, "Relu", "r", "x", "x", NOATTR), MI_ERR_GRAPH, "x is an input");
    cr_assert_eq(gb_node_st(&b, "Split", "s", "x", "a,a", NOATTR), MI_ERR_GRAPH);
    cr_assert_eq(gb_node_st(&b, "Relu", "r", "x", "", NOATTR), MI_ERR_INVALID_ARG);
    cr_assert_eq(gb_node_st(&b, "Relu", "r", "x", "y", A(AI("k", 1), AI("k", 2))), MI_ERR_GRAPH);
    cr_assert(strstr(mi_last_error(), "'k'"));
    cr_assert_eq(gb_node_st(&b, "Relu", "r", "x", "y",
                            A(((mi_attr){.name = "t", .type = MI_ATTR_TENSOR, .tensor = 0}))),
                 MI_ERR_INVALID_ARG, "x is not a weight");
    cr_assert_eq(mi_graph_set_opset(NULL, 13), MI_ERR_INVALID_ARG);
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    cr_assert_eq(gb_node_st(&b, "Relu", "r2", "x", "y", NOATTR), MI_ERR_GRAPH);
    cr_assert(strstr(mi_last_error(), "'y'") && strstr(mi_last_error(), "r2"), "%s", mi_last_error());
    gb_ok(&b);
    gb_free(&b);
}

/* Repeated output or attribute names among many (past the pairwise check
 * of a few): the error names the first one that repeats an earlier one,
 * and an allocation failure there comes back. */
Test(graph, repeats_among_many_names) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    enum { N = 40 };
    char names[N][16];
    const char *outs[N];
    mi_attr attrs[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "o%d", i);
        outs[i] = names[i];
        attrs[i] = (mi_attr){.name = names[i], .type = MI_ATTR_INT, .i = i, .tensor = -1};
    }
    const char *in[1] = {"x"};
    /* o30 repeats o10, o20 repeats o5: o20 is the first repeat. */
    snprintf(names[30], sizeof names[30], "o10");
    snprintf(names[20], sizeof names[20], "o5");
    cr_assert_eq(mi_graph_add_node(b.g, "Split", "s", 1, in, N, outs, 0, NULL), MI_ERR_GRAPH);
    cr_assert(strstr(mi_last_error(), "'o5' is defined more than once"), "%s", mi_last_error());
    cr_assert_eq(mi_graph_add_node(b.g, "Relu", "r", 1, in, 1, outs, N, attrs), MI_ERR_GRAPH);
    cr_assert(strstr(mi_last_error(), "attribute 'o5' given twice"), "%s", mi_last_error());
    /* An empty name before the first repeat is reported first, as it comes first. */
    outs[3] = "";
    cr_assert_eq(mi_graph_add_node(b.g, "Split", "s", 1, in, N, outs, 0, NULL), MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "output 3 has no name"), "%s", mi_last_error());
    outs[3] = names[3];
    int64_t before = mi__alloc_outstanding();
    mi__alloc_fail_at(1);
    cr_assert_eq(mi_graph_add_node(b.g, "Split", "s", 1, in, N, outs, 0, NULL), MI_ERR_NO_MEMORY);
    mi__alloc_fail_at(0);
    cr_assert_eq(mi__alloc_outstanding(), before);
    snprintf(names[30], sizeof names[30], "o30");
    snprintf(names[20], sizeof names[20], "o20");
    cr_assert_eq(mi_graph_add_node(b.g, "Relu", "r", 1, in, 1, outs, N, attrs), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_node_attr_int(mi_graph_node(b.g, 0), "o39", -1), 39);
    gb_free(&b);
}

Test(graph, dangling_and_outputs) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Add", "add", "x,ghost", "y", NOATTR);
    gb_fails(&b, MI_ERR_GRAPH, "'ghost'", "'add'");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_output(&b, "nobody");
    gb_fails(&b, MI_ERR_GRAPH, "'nobody'", "not defined");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_output(&b, "x");
    gb_fails(&b, MI_ERR_UNSUPPORTED, "'x'", "input or weight");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_fails(&b, MI_ERR_GRAPH, "no outputs", NULL);
    gb_free(&b);
    /* without declared outputs, every unconsumed node output is one */
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_node(&b, "Sigmoid", "s", "y", "z1", NOATTR);
    gb_node(&b, "Dropout", "d", "y", "z2,mask", NOATTR);
    gb_ok(&b);
    cr_assert_eq(mi_graph_output_count(b.g), 3);
    cr_assert_eq(gb_tensor(&b, "z1")->role, MI_ROLE_OUTPUT);
    cr_assert_eq(gb_tensor(&b, "mask")->role, MI_ROLE_OUTPUT);
    cr_assert_eq(gb_tensor(&b, "y")->role, MI_ROLE_ACTIVATION);
    gb_free(&b);
}

Test(graph, cycles) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Relu", "pre", "x", "a", NOATTR);
    gb_node(&b, "Add", "loop1", "a,c", "b", NOATTR);
    gb_node(&b, "Relu", "loop2", "b", "c", NOATTR);
    gb_node(&b, "Relu", "post", "c", "y", NOATTR);
    gb_output(&b, "y");
    mi_status st = gb_finalize(&b);
    cr_assert_eq(st, MI_ERR_GRAPH);
    const char *m = mi_last_error();
    cr_assert(strstr(m, "cycle") && (strstr(m, "'loop1'") || strstr(m, "'loop2'")), "%s", m);
    gb_free(&b);
    gb_init(&b, 13);
    gb_node(&b, "Relu", "self", "s", "s", NOATTR);
    gb_fails(&b, MI_ERR_GRAPH, "cycle", "'self'");
    gb_free(&b);
}

Test(graph, topological_sort) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(2, 2));
    /* added last to first */
    gb_node(&b, "Add", "n3", "c,b", "y", NOATTR);
    gb_node(&b, "Sigmoid", "n2", "a", "c", NOATTR);
    gb_node(&b, "Relu", "n1", "a", "b", NOATTR);
    gb_node(&b, "Relu", "n0", "x", "a", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    cr_assert_str_eq(mi_graph_node(b.g, 0)->name, "n0");
    /* the rest keeps the order given where it can: n2 before n1 */
    cr_assert_str_eq(mi_graph_node(b.g, 1)->name, "n2");
    cr_assert_str_eq(mi_graph_node(b.g, 2)->name, "n1");
    cr_assert_str_eq(mi_graph_node(b.g, 3)->name, "n3");
    for (size_t i = 0; i < 4; i++) {
        const mi_node *n = mi_graph_node(b.g, i);
        cr_assert_eq(mi_graph_tensor(b.g, (size_t)n->outputs[0])->producer, (int)i);
    }
    gb_free(&b);
}

Test(graph, opset_and_batch) {
    gb b;
    gb_init(&b, 6);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "opset 6", "7 to 21");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(-1, 3, 2, 2));
    gb_input(&b, "x2", MI_DTYPE_FLOAT, 2, D(7, 3));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_node(&b, "Relu", "r2", "x2", "y2", NOATTR);
    cr_assert_eq(gb_finalize_opts(&b, 5, 1, 1), MI_OK, "%s", mi_last_error());
    gb_expect_dims(&b, "y", 4, D(5, 3, 2, 2));
    gb_expect_dims(&b, "y2", 2, D(5, 3));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(-1, 3, 2, 2));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 3, 2, 2));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(-1, 3, -1, 2));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'x'", "dim 2");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Relu", "r", "x", "y", NOATTR);
    cr_assert_eq(gb_finalize_opts(&b, -2, 1, 1), MI_ERR_INVALID_ARG);
    gb_free(&b);
}

Test(graph_fold, constants_become_weights) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(2, 3));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(3, 2), (float[]){1, 2, 3, 4, 5, 6});
    gb_ints(&b, "shape", 2, D(2, 3));
    /* Identity and Reshape of a weight alias its bytes; Transpose computes. */
    gb_node(&b, "Identity", "id", "w", "w_id", NOATTR);
    gb_node(&b, "Reshape", "rs", "w_id,shape", "w_rs", NOATTR);
    gb_node(&b, "Transpose", "tr", "w_rs", "w_t", NOATTR);
    gb_node(&b, "Add", "add", "x,w_rs", "y1", NOATTR);
    gb_node(&b, "MatMul", "mm", "x,w_t", "y2", NOATTR);
    gb_node(&b, "MatMul", "mm2", "x,w_id", "y3", NOATTR);
    gb_output(&b, "y1");
    gb_output(&b, "y2");
    gb_output(&b, "y3");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 3);
    const mi_tensor *w = gb_tensor(&b, "w_id"), *rs = gb_tensor(&b, "w_rs"), *t = gb_tensor(&b, "w_t");
    cr_assert_eq(mi_graph_find_tensor(b.g, "w"), -1, "no one reads the original any more");
    cr_assert_eq(w->role, MI_ROLE_WEIGHT);
    cr_assert_eq(rs->role, MI_ROLE_WEIGHT);
    cr_assert_eq(rs->data, w->data, "Reshape of a weight is an alias");
    gb_expect_dims(&b, "w_rs", 2, D(2, 3));
    gb_expect_dims(&b, "w_t", 2, D(3, 2));
    const float *tv = t->data;
    const float want[6] = {1, 4, 2, 5, 3, 6};
    for (int i = 0; i < 6; i++) cr_assert_float_eq(tv[i], want[i], 0);
    gb_free(&b);
}

Test(graph_fold, evaluators) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(1));
    gb_weight(&b, "m", MI_DTYPE_INT64, 2, D(2, 3), D(0, 1, 2, 3, 4, 5));
    gb_ints(&b, "i", 2, D(1, -1));
    gb_ints(&b, "s0", 1, D(0));
    gb_ints(&b, "e0", 1, D(2));
    gb_ints(&b, "a1", 1, D(1));
    gb_weight(&b, "f", MI_DTYPE_FLOAT, 1, D(3), (float[]){1.5f, -2.5f, 1e20f});
    gb_weight(&b, "zero", MI_DTYPE_INT64, 0, NULL, D(0));
    gb_node(&b, "Gather", "g", "m,i", "g", A(AI("axis", 1)));      /* [[1,2],[4,5]] */
    gb_node(&b, "Slice", "s", "m,s0,e0,a1", "s", NOATTR);          /* [[0,1],[3,4]] */
    gb_node(&b, "Concat", "c", "g,s", "c", A(AI("axis", 0)));      /* 4x2 */
    gb_node(&b, "Mul", "mul", "c,i", "mul", NOATTR);               /* broadcast [1,-1] */
    gb_node(&b, "Sub", "sub", "mul,e0", "sub", NOATTR);
    gb_node(&b, "Div", "div", "sub,e0", "div", NOATTR);            /* truncation */
    gb_node(&b, "Cast", "cast", "f", "fi", A(AI("to", MI_DTYPE_INT32)));
    gb_node(&b, "Cast", "cast2", "div", "df", A(AI("to", MI_DTYPE_FLOAT)));
    gb_node(&b, "Div", "div0", "m,zero", "d0", NOATTR);             /* cannot fold: stays */
    gb_node(&b, "Unsqueeze", "u", "sub,s0", "u", NOATTR);
    gb_node(&b, "Squeeze", "sq", "u,s0", "sq", NOATTR);
    gb_node(&b, "Add", "use", "x,df", "y", NOATTR);
    gb_input(&b, "xi", MI_DTYPE_INT64, 2, D(4, 2));
    gb_node(&b, "Add", "use2", "d0,m", "y2", NOATTR);
    gb_node(&b, "Mul", "use4", "sq,xi", "y4", NOATTR);
    gb_node(&b, "Add", "use3", "fi,fi", "y3", NOATTR);
    gb_output(&b, "y");
    gb_output(&b, "y2");
    gb_output(&b, "y3");
    gb_output(&b, "y4");
    gb_ok(&b);
    const int64_t *div = NULL, *sq = gb_tensor(&b, "sq")->data;
    const float *df = gb_tensor(&b, "df")->data;
    const int32_t *fi = gb_tensor(&b, "fi")->data;
    const int64_t want_sub[8] = {-1, -4, 2, -7, -2, -3, 1, -6};
    const int64_t want_div[8] = {0, -2, 1, -3, -1, -1, 0, -3};
    (void)div;
    cr_assert_eq(gb_tensor(&b, "sq")->ndim, 2);
    for (int k = 0; k < 8; k++) {
        cr_assert_eq(sq[k], want_sub[k], "sub[%d] = %lld", k, (long long)sq[k]);
        cr_assert_float_eq(df[k], (float)want_div[k], 0, "div[%d] = %g", k, (double)df[k]);
    }
    cr_assert_eq(fi[0], 1);
    cr_assert_eq(fi[1], -2);
    cr_assert_eq(fi[2], INT32_MAX, "out of range clamps");
    cr_assert_eq(gb_count_op(&b, MI_OP_DIV), 1, "division by zero is left to run");
    cr_assert_eq(gb_tensor(&b, "d0")->role, MI_ROLE_ACTIVATION);
    cr_assert_eq(mi_graph_node_count(b.g), 5);
    gb_free(&b);
}

Test(graph_fold, off_keeps_nodes) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_node(&b, "Shape", "shape", "x", "s", NOATTR);
    gb_node(&b, "Constant", "k", "", "idx", A(AINTS("value_ints", 0, 1)));
    gb_node(&b, "Gather", "g", "s,idx", "hw", NOATTR);
    gb_node(&b, "Constant", "k2", "", "m1", A(AINTS("value_ints", -1)));
    gb_node(&b, "Concat", "cat", "hw,m1", "shape2", A(AI("axis", 0)));
    gb_node(&b, "Reshape", "rs", "x,shape2", "y", NOATTR);
    gb_output(&b, "y");
    cr_assert_eq(gb_finalize_opts(&b, 0, 0, 1), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_node_count(b.g), 6);
    gb_expect_dims(&b, "y", 3, D(2, 3, 4));
    cr_assert_eq(gb_tensor(&b, "shape2")->role, MI_ROLE_ACTIVATION);
    cr_assert_null(gb_tensor(&b, "shape2")->data);
    gb_free(&b);
}

/* x -> Conv(c1) -> [tail]: one Conv plus whatever follows. */
static void conv_in(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 6, 6));
    gb_weight(b, "w", MI_DTYPE_FLOAT, 4, D(4, 4, 3, 3), NULL);
    gb_weight(b, "bias", MI_DTYPE_FLOAT, 1, D(4), NULL);
}

Test(graph_fuse, conv_relu_and_clip) {
    gb b;
    conv_in(&b);
    gb_node(&b, "Conv", "c1", "x,w,bias", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Relu", "r1", "t", "y", NOATTR);
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 1);
    const mi_node *n = mi_graph_node(b.g, 0);
    cr_assert_str_eq(n->name, "c1");
    cr_assert_eq(n->fused.act, MI_ACT_RELU);
    cr_assert_eq(n->ninputs, 3);
    cr_assert_str_eq(mi_graph_tensor(b.g, (size_t)n->outputs[0])->name, "y");
    cr_assert_eq(mi_graph_find_tensor(b.g, "t"), -1, "the intermediate is gone");
    cr_assert_eq(mi_graph_tensor_count(b.g), 4);
    gb_free(&b);

    conv_in(&b);
    gb_weight(&b, "lo", MI_DTYPE_FLOAT, 0, NULL, (float[]){0});
    gb_weight(&b, "hi", MI_DTYPE_FLOAT, 0, NULL, (float[]){6});
    gb_node(&b, "Conv", "c1", "x,w", "t", NOATTR);
    gb_node(&b, "Clip", "clip", "t,lo,hi", "y", NOATTR);
    gb_ok(&b);
    n = mi_graph_node(b.g, 0);
    cr_assert_eq(mi_graph_node_count(b.g), 1);
    cr_assert_eq(n->fused.act, MI_ACT_CLIP);
    cr_assert_float_eq(n->fused.act_min, 0.0f, 0);
    cr_assert_float_eq(n->fused.act_max, 6.0f, 0);
    cr_assert_eq(mi_graph_find_tensor(b.g, "lo"), -1, "Clip bounds only the Clip read are gone");
    gb_free(&b);

    /* fuse off */
    conv_in(&b);
    gb_node(&b, "Conv", "c1", "x,w", "t", NOATTR);
    gb_node(&b, "Relu", "r1", "t", "y", NOATTR);
    cr_assert_eq(gb_finalize_opts(&b, 0, 1, 0), MI_OK);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    gb_free(&b);
}

Test(graph_fuse, residual) {
    gb b;
    conv_in(&b);
    gb_node(&b, "Relu", "pre", "x", "r", NOATTR);
    gb_node(&b, "Conv", "c1", "r,w", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Add", "add", "r,t", "u", NOATTR);
    gb_node(&b, "Relu", "post", "u", "y", NOATTR);
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    const mi_node *n = mi_graph_node(b.g, 1);
    cr_assert_str_eq(n->name, "c1");
    cr_assert_eq(n->fused.act, MI_ACT_RELU);
    cr_assert_eq(n->fused.residual, mi_graph_find_tensor(b.g, "r"));
    cr_assert_eq(n->outputs[0], mi_graph_find_tensor(b.g, "y"));
    cr_assert_eq(mi_graph_find_tensor(b.g, "t"), -1);
    cr_assert_eq(mi_graph_find_tensor(b.g, "u"), -1);
    cr_assert_eq(gb_tensor(&b, "y")->producer, 1);
    gb_free(&b);

    /* Add without an activation; the Add's output is the graph output. */
    conv_in(&b);
    gb_node(&b, "Conv", "c1", "x,w", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Add", "add", "t,x", "u", NOATTR);
    gb_node(&b, "Relu", "r", "u", "y", NOATTR);
    gb_output(&b, "u");
    gb_output(&b, "y");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    n = mi_graph_node(b.g, 0);
    cr_assert_eq(n->fused.residual, mi_graph_find_tensor(b.g, "x"));
    cr_assert_eq(n->fused.act, MI_ACT_NONE, "u is a graph output: the Relu stays");
    cr_assert_eq(gb_tensor(&b, "u")->role, MI_ROLE_OUTPUT);
    gb_free(&b);
}

Test(graph_fuse, not_fused) {
    gb b;
    /* the Conv output has two consumers */
    conv_in(&b);
    gb_node(&b, "Conv", "c1", "x,w", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Relu", "r1", "t", "y1", NOATTR);
    gb_node(&b, "Sigmoid", "s1", "t", "y2", NOATTR);
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 3);
    gb_free(&b);
    /* the Conv output is a graph output */
    conv_in(&b);
    gb_node(&b, "Conv", "c1", "x,w", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Relu", "r1", "t", "y1", NOATTR);
    gb_output(&b, "t");
    gb_output(&b, "y1");
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    gb_free(&b);
    /* the residual is produced after the Conv; broadcasting residual */
    conv_in(&b);
    gb_node(&b, "Conv", "c1", "x,w", "t", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Sigmoid", "late", "x", "l", NOATTR);
    gb_node(&b, "Add", "add", "t,l", "u", NOATTR);
    gb_node(&b, "Conv", "c2", "x,w", "t2", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Add", "add2", "t2,bias4", "u2", NOATTR);
    gb_weight(&b, "bias4", MI_DTYPE_FLOAT, 4, D(1, 4, 1, 1), NULL);
    gb_ok(&b);
    cr_assert_eq(gb_count_op(&b, MI_OP_ADD), 2);
    for (size_t i = 0; i < mi_graph_node_count(b.g); i++)
        cr_assert_eq(mi_graph_node(b.g, i)->fused.residual, -1);
    gb_free(&b);
    /* two Convs into one Add: only the later one takes the other as residual */
    conv_in(&b);
    gb_node(&b, "Conv", "ca", "x,w", "ta", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Conv", "cb", "x,w", "tb", A(AINTS("pads", 1, 1, 1, 1)));
    gb_node(&b, "Add", "add", "ta,tb", "y", NOATTR);
    gb_ok(&b);
    cr_assert_eq(mi_graph_node_count(b.g), 2);
    cr_assert_eq(mi_graph_node(b.g, 1)->fused.residual, mi_graph_find_tensor(b.g, "ta"));
    gb_free(&b);
}

/* Builds and finalizes a graph using every stage (folding, fusion,
 * compaction); returns the status of the first failing call. */
static mi_status build_all(mi_graph **out) {
    mi_graph *g = NULL;
    mi_status st;
    mi_attr pads = AINTS("pads", 1, 1, 1, 1);
    mi_attr axis = AI("axis", 0);
    float w[4 * 4 * 9] = {0};
    int64_t shape[2] = {1, -1};
    const char *in1[] = {"x", "w"}, *o1[] = {"t"}, *in2[] = {"x", "t"}, *o2[] = {"u"};
    const char *in3[] = {"u"}, *o3[] = {"y"}, *in4[] = {"y"}, *o4[] = {"s"};
    const char *in5[] = {"s", "k"}, *o5[] = {"c"}, *in6[] = {"y", "c"}, *o6[] = {"z"};
    if ((st = mi_graph_create(&g)) != MI_OK) return st;
    if ((st = mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 4, D(-1, 4, 6, 6), MI_ROLE_INPUT, NULL, NULL)) ||
        (st = mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 4, D(4, 4, 3, 3), MI_ROLE_WEIGHT, w, NULL)) ||
        (st = mi_graph_add_tensor(g, "k", MI_DTYPE_INT64, 1, D(2), MI_ROLE_WEIGHT, shape, NULL)) ||
        (st = mi_graph_add_node(g, "Conv", "conv", 2, in1, 1, o1, 1, &pads)) ||
        (st = mi_graph_add_node(g, "Add", "add", 2, in2, 1, o2, 0, NULL)) ||
        (st = mi_graph_add_node(g, "Relu", "relu", 1, in3, 1, o3, 0, NULL)) ||
        (st = mi_graph_add_node(g, "Shape", "shape", 1, in4, 1, o4, 0, NULL)) ||
        (st = mi_graph_add_node(g, "Concat", "cat", 2, in5, 1, o5, 1, &axis)) ||
        (st = mi_graph_add_node(g, "Reshape", "rs", 2, in6, 1, o6, 0, NULL)) ||
        (st = mi_graph_add_tensor(g, "z", MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL)) ||
        (st = mi_graph_finalize(g, NULL))) {
        mi_graph_destroy(g);
        return st;
    }
    *out = g;
    return MI_OK;
}

Test(graph, allocation_failure_injection) {
    mi_graph *g = NULL;
    cr_assert_eq(build_all(&g), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_node_count(g), 2, "conv (+add+relu) and reshape");
    mi_graph_destroy(g);
    int64_t before = mi__alloc_outstanding();
    uint64_t n;
    for (n = 1; n < 10000; n++) {
        g = NULL;
        mi__alloc_fail_at(n);
        mi_status st = build_all(&g);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        if (st == MI_OK) {
            cr_assert(!fired);
            mi_graph_destroy(g);
            break;
        }
        cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu: %s (%s)", (unsigned long long)n,
                     mi_status_name(st), mi_last_error());
        cr_assert_eq(mi__alloc_outstanding(), before, "allocation %llu leaked", (unsigned long long)n);
    }
    cr_assert_gt(n, 20);
    cr_assert_eq(mi__alloc_outstanding(), before);
}
