/* Shape inference per operator on small graphs built by hand, the error
 * cases, and the attribute defaults mi__op_params_get decides. */
#include "graph_build.h"
#include "graph/op_params.h"

#include <math.h>

/* One-node graph: x of dims through op; returns after finalize. */
static void unary(gb *b, int64_t opset, const char *op, int ndim, const int64_t *dims, int nattrs,
                  const mi_attr *attrs) {
    gb_init(b, opset);
    gb_input(b, "x", MI_DTYPE_FLOAT, ndim, dims);
    gb_node(b, op, "n", "x", "y", nattrs, attrs);
}

static void conv(gb *b, const int64_t *xd, const int64_t *wd, int nattrs, const mi_attr *attrs) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_FLOAT, 4, xd);
    gb_weight(b, "w", MI_DTYPE_FLOAT, 4, wd, NULL);
    gb_node(b, "Conv", "conv", "x,w", "y", nattrs, attrs);
}

Test(shape, conv) {
    gb b;
    conv(&b, D(1, 3, 32, 32), D(8, 3, 3, 3), A(AINTS("pads", 1, 1, 1, 1), AINTS("strides", 2, 2)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 8, 16, 16));
    gb_free(&b);
    /* depthwise with dilation 2: 10 - 4 = 6 */
    conv(&b, D(2, 8, 10, 12), D(8, 1, 3, 3), A(AI("group", 8), AINTS("dilations", 2, 2)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(2, 8, 6, 8));
    gb_free(&b);
    /* asymmetric pads and a rectangular kernel */
    conv(&b, D(1, 4, 7, 7), D(6, 2, 1, 3), A(AI("group", 2), AINTS("pads", 0, 1, 2, 0)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 6, 9, 6));
    gb_free(&b);
}

Test(shape, conv_auto_pad_and_ranks) {
    gb b;
    conv(&b, D(1, 3, 7, 8), D(4, 3, 3, 3), A(AS("auto_pad", "SAME_UPPER"), AINTS("strides", 2, 2)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 4, 4, 4));
    mi__op_params p;
    cr_assert_eq(mi__op_params_get(b.g, mi_graph_node(b.g, 0), &p), MI_OK);
    /* 7 -> 4 with stride 2, kernel 3: total pad 2 */
    cr_assert_eq(p.u.conv.pad_begin[0], 1);
    cr_assert_eq(p.u.conv.pad_end[0], 1);
    /* 8 -> 4: total pad 1, at the end (UPPER) */
    cr_assert_eq(p.u.conv.pad_begin[1], 0);
    cr_assert_eq(p.u.conv.pad_end[1], 1);
    gb_free(&b);
    conv(&b, D(1, 3, 8, 8), D(4, 3, 2, 2), A(AS("auto_pad", "SAME_LOWER")));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 4, 8, 8));
    cr_assert_eq(mi__op_params_get(b.g, mi_graph_node(b.g, 0), &p), MI_OK);
    cr_assert_eq(p.u.conv.pad_begin[0], 1);
    cr_assert_eq(p.u.conv.pad_end[0], 0);
    gb_free(&b);
    conv(&b, D(1, 3, 8, 8), D(4, 3, 3, 3), A(AS("auto_pad", "VALID"), AINTS("pads", 1, 1, 1, 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 4, 6, 6));
    gb_free(&b);
    /* 1-D and 3-D */
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(1, 2, 10));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 3, D(3, 2, 4), NULL);
    gb_input(&b, "v", MI_DTYPE_FLOAT, 5, D(1, 2, 4, 5, 6));
    gb_weight(&b, "w3", MI_DTYPE_FLOAT, 5, D(3, 2, 3, 3, 3), NULL);
    gb_node(&b, "Conv", "c1", "x,w", "y", NOATTR);
    gb_node(&b, "Conv", "c3", "v,w3", "z", A(AINTS("pads", 1, 1, 1, 1, 1, 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 3, D(1, 3, 7));
    gb_expect_dims(&b, "z", 5, D(1, 3, 4, 5, 6));
    gb_free(&b);
}

Test(shape, conv_errors) {
    gb b;
    conv(&b, D(1, 3, 8, 8), D(4, 2, 3, 3), NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'conv'", "input channels");
    gb_free(&b);
    conv(&b, D(1, 6, 8, 8), D(4, 2, 3, 3), A(AI("group", 4)));
    gb_fails(&b, MI_ERR_SHAPE, "group 4", NULL);
    gb_free(&b);
    conv(&b, D(1, 3, 8, 8), D(4, 3, 3, 3), A(AINTS("kernel_shape", 5, 5)));
    gb_fails(&b, MI_ERR_SHAPE, "kernel_shape", NULL);
    gb_free(&b);
    conv(&b, D(1, 3, 8, 8), D(4, 3, 3, 3), A(AINTS("strides", 1, 0)));
    gb_fails(&b, MI_ERR_SHAPE, "strides", "0");
    gb_free(&b);
    conv(&b, D(1, 3, 8, 8), D(4, 3, 3, 3), A(AINTS("pads", 1, 1)));
    gb_fails(&b, MI_ERR_SHAPE, "pads", "expected 4");
    gb_free(&b);
    conv(&b, D(1, 3, 8, 8), D(4, 3, 3, 3), A(AS("auto_pad", "SAME_MIDDLE")));
    gb_fails(&b, MI_ERR_UNSUPPORTED, "auto_pad", NULL);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 3, 8, 8));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 3, D(4, 3, 3), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "weight has rank 3", NULL);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(1, 3));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(4, 3), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "rank 2", NULL);
    gb_free(&b);
}

Test(shape, pooling) {
    gb b;
    unary(&b, 13, "MaxPool", 4, D(1, 64, 112, 112),
          A(AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2), AINTS("pads", 1, 1, 1, 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 64, 56, 56));
    gb_free(&b);
    /* ceil_mode, checked against PyTorch: 6 -> 4 (k3 s2 p1), 5 -> 3 (k2 s2 p1) */
    unary(&b, 13, "MaxPool", 4, D(1, 1, 6, 5),
          A(AINTS("kernel_shape", 3, 2), AINTS("strides", 2, 2), AINTS("pads", 1, 1, 1, 1),
            AI("ceil_mode", 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 1, 4, 3));
    gb_free(&b);
    unary(&b, 13, "AveragePool", 4, D(1, 2, 112, 7),
          A(AINTS("kernel_shape", 3, 3), AINTS("strides", 2, 2), AINTS("pads", 1, 1, 1, 1),
            AI("ceil_mode", 1), AI("count_include_pad", 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 2, 57, 4));
    mi__op_params p;
    cr_assert_eq(mi__op_params_get(b.g, mi_graph_node(b.g, 0), &p), MI_OK);
    cr_assert_eq(p.u.pool.count_include_pad, 1);
    cr_assert_eq(p.u.pool.ceil_mode, 1);
    gb_free(&b);
    unary(&b, 13, "MaxPool", 4, D(1, 2, 7, 7),
          A(AINTS("kernel_shape", 2, 2), AINTS("strides", 2, 2), AS("auto_pad", "SAME_UPPER")));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 2, 4, 4));
    gb_free(&b);
    unary(&b, 13, "GlobalAveragePool", 4, D(2, 5, 7, 9), NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(2, 5, 1, 1));
    gb_free(&b);
    unary(&b, 13, "MaxPool", 4, D(1, 1, 4, 4), A(AINTS("strides", 2, 2)));
    gb_fails(&b, MI_ERR_GRAPH, "kernel_shape", "required");
    gb_free(&b);
    unary(&b, 13, "MaxPool", 4, D(1, 1, 4, 4), A(AINTS("kernel_shape", 2, 2), AINTS("pads", 2, 0, 0, 0)));
    gb_fails(&b, MI_ERR_SHAPE, "pads", "kernel");
    gb_free(&b);
    unary(&b, 13, "MaxPool", 4, D(1, 1, 4, 4), A(AINTS("kernel_shape", 5, 5)));
    gb_fails(&b, MI_ERR_SHAPE, "kernel", NULL);
    gb_free(&b);
}

Test(shape, gemm_and_matmul) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(3, 5));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(4, 5), NULL);
    gb_weight(&b, "c1", MI_DTYPE_FLOAT, 1, D(4), NULL);
    gb_weight(&b, "c2", MI_DTYPE_FLOAT, 2, D(3, 1), NULL);
    gb_weight(&b, "w2", MI_DTYPE_FLOAT, 2, D(5, 4), NULL);
    gb_node(&b, "Gemm", "g1", "a,w,c1", "y1", A(AI("transB", 1)));
    gb_node(&b, "Gemm", "g2", "a,w2,c2", "y2", NOATTR);
    gb_node(&b, "Gemm", "g3", "y1,a", "y3", A(AI("transA", 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y1", 2, D(3, 4));
    gb_expect_dims(&b, "y2", 2, D(3, 4));
    gb_expect_dims(&b, "y3", 2, D(4, 5));
    gb_free(&b);

    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(3, 5));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(4, 5), NULL);
    gb_node(&b, "Gemm", "g1", "a,w", "y1", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'g1'", "K of A");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(3, 5));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(4, 5), NULL);
    gb_weight(&b, "c", MI_DTYPE_FLOAT, 1, D(3), NULL);
    gb_node(&b, "Gemm", "g1", "a,w,c", "y1", A(AI("transB", 1)));
    gb_fails(&b, MI_ERR_SHAPE, "broadcast", NULL);
    gb_free(&b);

    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_input(&b, "v", MI_DTYPE_FLOAT, 1, D(4));
    gb_input(&b, "q", MI_DTYPE_FLOAT, 4, D(2, 1, 3, 4));
    gb_weight(&b, "m", MI_DTYPE_FLOAT, 2, D(4, 5), NULL);
    gb_weight(&b, "m3", MI_DTYPE_FLOAT, 3, D(5, 4, 6), NULL);
    gb_node(&b, "MatMul", "mm1", "a,m", "y1", NOATTR);
    gb_node(&b, "MatMul", "mm2", "v,m", "y2", NOATTR);
    gb_node(&b, "MatMul", "mm3", "a,v", "y3", NOATTR);
    gb_node(&b, "MatMul", "mm4", "q,m3", "y4", NOATTR);
    gb_node(&b, "MatMul", "mm5", "v,v", "y5", NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y1", 3, D(2, 3, 5));
    gb_expect_dims(&b, "y2", 1, D(5));
    gb_expect_dims(&b, "y3", 2, D(2, 3));
    gb_expect_dims(&b, "y4", 4, D(2, 5, 3, 6));
    gb_expect_dims(&b, "y5", 0, D(0));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(3, 4));
    gb_weight(&b, "m", MI_DTYPE_FLOAT, 2, D(5, 5), NULL);
    gb_node(&b, "MatMul", "mm", "a,m", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'mm'", "K");
    gb_free(&b);
}

Test(shape, broadcast) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 3, D(2, 1, 4));
    gb_input(&b, "c", MI_DTYPE_FLOAT, 2, D(3, 1));
    gb_weight(&b, "s", MI_DTYPE_FLOAT, 0, NULL, NULL);
    gb_node(&b, "Add", "add", "a,c", "y1", NOATTR);
    gb_node(&b, "Mul", "mul", "y1,s", "y2", NOATTR);
    gb_node(&b, "Sub", "sub", "c,y2", "y3", NOATTR);
    gb_node(&b, "Div", "div", "y3,a", "y4", NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y1", 3, D(2, 3, 4));
    gb_expect_dims(&b, "y2", 3, D(2, 3, 4));
    gb_expect_dims(&b, "y4", 3, D(2, 3, 4));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(2, 3));
    gb_input(&b, "c", MI_DTYPE_FLOAT, 1, D(4));
    gb_node(&b, "Add", "add", "a,c", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'add'", "broadcast");
    gb_free(&b);
}

Test(shape, flatten_reshape_transpose) {
    gb b;
    gb_init(&b, 14);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 4, 5));
    gb_ints(&b, "s1", 3, D(0, -1, 5));
    gb_ints(&b, "s2", 2, D(6, 20));
    gb_node(&b, "Flatten", "f0", "x", "f0", A(AI("axis", 0)));
    gb_node(&b, "Flatten", "f1", "x", "f1", NOATTR);
    gb_node(&b, "Flatten", "f2", "x", "f2", A(AI("axis", -2)));
    gb_node(&b, "Flatten", "f4", "x", "f4", A(AI("axis", 4)));
    gb_node(&b, "Reshape", "r1", "x,s1", "r1", NOATTR);
    gb_node(&b, "Reshape", "r2", "x,s2", "r2", A(AI("allowzero", 1)));
    gb_node(&b, "Transpose", "t1", "x", "t1", NOATTR);
    gb_node(&b, "Transpose", "t2", "x", "t2", A(AINTS("perm", 0, 2, 3, 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "f0", 2, D(1, 120));
    gb_expect_dims(&b, "f1", 2, D(2, 60));
    gb_expect_dims(&b, "f2", 2, D(6, 20));
    gb_expect_dims(&b, "f4", 2, D(120, 1));
    gb_expect_dims(&b, "r1", 3, D(2, 12, 5));
    gb_expect_dims(&b, "r2", 2, D(6, 20));
    gb_expect_dims(&b, "t1", 4, D(5, 4, 3, 2));
    gb_expect_dims(&b, "t2", 4, D(2, 4, 5, 3));
    gb_free(&b);

    const int64_t bad[][3] = {{7, -1, 1}, {-1, -1, 2}, {4, 4, 4}, {-3, 2, 2}};
    const char *why[] = {"-1", "more than one -1", "cannot reshape", "invalid"};
    for (int i = 0; i < 4; i++) {
        gb_init(&b, 13);
        gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(6, 4));
        gb_ints(&b, "s", 3, bad[i]);
        gb_node(&b, "Reshape", "reshape", "x,s", "y", NOATTR);
        gb_fails(&b, MI_ERR_SHAPE, "'reshape'", why[i]);
        gb_free(&b);
    }
    /* the shape must be known at load time */
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(6, 4));
    gb_input(&b, "s", MI_DTYPE_INT64, 1, D(2));
    gb_node(&b, "Reshape", "reshape", "x,s", "y", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "'reshape'", "constant");
    gb_free(&b);
    unary(&b, 13, "Transpose", 3, D(1, 2, 3), A(AINTS("perm", 0, 0, 1)));
    gb_fails(&b, MI_ERR_SHAPE, "perm", NULL);
    gb_free(&b);
    unary(&b, 13, "Flatten", 3, D(1, 2, 3), A(AI("axis", 4)));
    gb_fails(&b, MI_ERR_SHAPE, "axis 4", NULL);
    gb_free(&b);
}

Test(shape, concat_and_split) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_input(&b, "c", MI_DTYPE_FLOAT, 3, D(2, 3, 6));
    gb_ints(&b, "sp", 3, D(1, 6, 7));
    gb_node(&b, "Concat", "cat", "a,c,a", "y", A(AI("axis", -1)));
    gb_node(&b, "Split", "split", "y,sp", "s0,s1,s2", A(AI("axis", 2)));
    gb_node(&b, "Split", "split2", "a", "e0,e1", A(AI("axis", -1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 3, D(2, 3, 14));
    gb_expect_dims(&b, "s0", 3, D(2, 3, 1));
    gb_expect_dims(&b, "s2", 3, D(2, 3, 7));
    gb_expect_dims(&b, "e1", 3, D(2, 3, 2));
    gb_free(&b);
    /* opset 11: split as an attribute */
    gb_init(&b, 11);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(6, 2));
    gb_node(&b, "Split", "split", "x", "p,q", A(AINTS("split", 2, 4)));
    gb_ok(&b);
    gb_expect_dims(&b, "q", 2, D(4, 2));
    gb_free(&b);
    /* opset 18: num_outputs, the last chunk smaller */
    gb_init(&b, 18);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(7));
    gb_node(&b, "Split", "split", "x", "p,q,r", A(AI("num_outputs", 3)));
    gb_ok(&b);
    gb_expect_dims(&b, "p", 1, D(3));
    gb_expect_dims(&b, "r", 1, D(1));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(7));
    gb_node(&b, "Split", "split", "x", "p,q", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "equal parts", NULL);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(7));
    gb_ints(&b, "sp", 2, D(3, 3));
    gb_node(&b, "Split", "split", "x,sp", "p,q", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "add up to 6", NULL);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(2, 3));
    gb_input(&b, "c", MI_DTYPE_FLOAT, 2, D(3, 3));
    gb_node(&b, "Concat", "cat", "a,c", "y", A(AI("axis", 1)));
    gb_fails(&b, MI_ERR_SHAPE, "'cat'", "outside axis 1");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "a", MI_DTYPE_FLOAT, 2, D(2, 3));
    gb_node(&b, "Concat", "cat", "a,a", "y", NOATTR);
    gb_fails(&b, MI_ERR_GRAPH, "'axis' is required", NULL);
    gb_free(&b);
}

Test(shape, slice) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(4, 10, 6));
    gb_ints(&b, "st", 2, D(1, -3));
    gb_ints(&b, "en", 2, D(INT64_MAX, 1000));
    gb_ints(&b, "ax", 2, D(1, -1));
    gb_ints(&b, "rev_s", 1, D(-1));
    gb_ints(&b, "rev_e", 1, D(INT64_MIN));
    gb_ints(&b, "rev_st", 1, D(-2));
    gb_ints(&b, "z", 1, D(0));
    gb_ints(&b, "steps", 2, D(3, 1));
    gb_node(&b, "Slice", "s1", "x,st,en,ax", "y1", NOATTR);
    gb_node(&b, "Slice", "s2", "x,rev_s,rev_e,z,rev_st", "y2", NOATTR);
    gb_node(&b, "Slice", "s3", "x,st,en,ax,steps", "y3", NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y1", 3, D(4, 9, 3));
    gb_expect_dims(&b, "y2", 3, D(2, 10, 6)); /* 3, 1 */
    gb_expect_dims(&b, "y3", 3, D(4, 3, 3));  /* 1, 4, 7 */
    mi__op_params p;
    cr_assert_eq(mi__op_params_get(b.g, mi_graph_node(b.g, 1), &p), MI_OK);
    cr_assert_eq(p.u.slice.start[0], 3);
    cr_assert_eq(p.u.slice.step[0], -2);
    cr_assert_eq(p.u.slice.step[1], 1);
    gb_free(&b);
    /* opset 9: attributes */
    unary(&b, 9, "Slice", 2, D(5, 5), A(AINTS("starts", 1), AINTS("ends", -1), AINTS("axes", 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 2, D(5, 3));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(5));
    gb_ints(&b, "a", 1, D(0));
    gb_ints(&b, "e", 1, D(3));
    gb_ints(&b, "s0", 1, D(0));
    gb_node(&b, "Slice", "slice", "x,a,e,a,s0", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'slice'", "step");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(5));
    gb_ints(&b, "a", 1, D(4));
    gb_ints(&b, "e", 1, D(2));
    gb_node(&b, "Slice", "slice", "x,a,e", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'y'", "dim 0 is 0");
    gb_free(&b);
}

Test(shape, reduce_pad_gather) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 4, 5));
    gb_ints(&b, "pads", 8, D(0, 0, 1, 2, 0, 0, 3, -1));
    gb_ints(&b, "idx", 2, D(2, -1));
    gb_weight(&b, "i0", MI_DTYPE_INT64, 0, NULL, D(1));
    gb_node(&b, "ReduceMean", "r1", "x", "r1", A(AINTS("axes", 2, -1)));
    gb_node(&b, "ReduceMean", "r2", "x", "r2", A(AINTS("axes", 1), AI("keepdims", 0)));
    gb_node(&b, "ReduceMean", "r3", "x", "r3", A(AI("keepdims", 0)));
    gb_node(&b, "Pad", "p1", "x,pads", "p1", NOATTR);
    gb_node(&b, "Pad", "p2", "x,pads", "p2", A(AS("mode", "reflect")));
    gb_node(&b, "Gather", "g1", "x,idx", "g1", A(AI("axis", 3)));
    gb_node(&b, "Gather", "g2", "x,i0", "g2", A(AI("axis", 1)));
    gb_ok(&b);
    gb_expect_dims(&b, "r1", 4, D(2, 3, 1, 1));
    gb_expect_dims(&b, "r2", 3, D(2, 4, 5));
    gb_expect_dims(&b, "r3", 0, D(0));
    gb_expect_dims(&b, "p1", 4, D(2, 3, 8, 6));
    gb_expect_dims(&b, "p2", 4, D(2, 3, 8, 6));
    gb_expect_dims(&b, "g1", 4, D(2, 3, 4, 2));
    gb_expect_dims(&b, "g2", 3, D(2, 4, 5));
    gb_free(&b);
}

Test(shape, reduce_pad_gather_forms) {
    gb b;
    /* ReduceMean opset 18: axes as an input */
    gb_init(&b, 18);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_ints(&b, "ax", 1, D(1));
    gb_node(&b, "ReduceMean", "r", "x,ax", "y", NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y", 3, D(2, 1, 4));
    gb_free(&b);
    /* Pad before opset 11: attribute and value */
    unary(&b, 10, "Pad", 2, D(3, 3), A(AINTS("pads", 1, 0, 1, 2), AF("value", 1.5f)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 2, D(5, 5));
    mi__op_params p;
    cr_assert_eq(mi__op_params_get(b.g, mi_graph_node(b.g, 0), &p), MI_OK);
    cr_assert_float_eq(p.u.pad.value, 1.5f, 0);
    cr_assert_eq(p.u.pad.mode, MI_PAD_CONSTANT);
    cr_assert_eq(p.u.pad.end[1], 2);
    gb_free(&b);
    unary(&b, 10, "Pad", 2, D(3, 3), A(AINTS("pads", 3, 0, 0, 0), AS("mode", "reflect")));
    gb_fails(&b, MI_ERR_SHAPE, "reflect", NULL);
    gb_free(&b);
    unary(&b, 10, "Pad", 2, D(3, 3), A(AINTS("pads", 1, 0, 0, 0), AS("mode", "wrap")));
    gb_fails(&b, MI_ERR_UNSUPPORTED, "mode", NULL);
    gb_free(&b);
    unary(&b, 10, "Pad", 2, D(3, 3), A(AINTS("pads", -2, 0, -2, 0)));
    gb_fails(&b, MI_ERR_SHAPE, "leave nothing", NULL);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(3, 3));
    gb_ints(&b, "idx", 1, D(3));
    gb_node(&b, "Gather", "gather", "x,idx", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'gather'", "out of range");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(3, 3));
    gb_weight(&b, "idx", MI_DTYPE_FLOAT, 1, D(1), NULL);
    gb_node(&b, "Gather", "gather", "x,idx", "y", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "'gather'", "int32 or int64");
    gb_free(&b);
    unary(&b, 13, "ReduceMean", 2, D(3, 3), A(AINTS("axes", 1, -1)));
    gb_fails(&b, MI_ERR_SHAPE, "twice", NULL);
    gb_free(&b);
}

Test(shape, squeeze_unsqueeze) {
    gb b;
    unary(&b, 11, "Squeeze", 4, D(1, 3, 1, 2), A(AINTS("axes", 0)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 3, D(3, 1, 2));
    gb_free(&b);
    unary(&b, 11, "Squeeze", 4, D(1, 3, 1, 2), NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y", 2, D(3, 2));
    gb_free(&b);
    unary(&b, 11, "Unsqueeze", 2, D(3, 2), A(AINTS("axes", 0, -1)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 3, 2, 1));
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(1, 3, 1));
    gb_ints(&b, "a2", 1, D(2));
    gb_ints(&b, "a13", 2, D(1, 3));
    gb_node(&b, "Squeeze", "sq", "x,a2", "y", NOATTR);
    gb_node(&b, "Unsqueeze", "us", "y,a13", "z", NOATTR);
    gb_ok(&b);
    gb_expect_dims(&b, "y", 2, D(1, 3));
    gb_expect_dims(&b, "z", 4, D(1, 1, 3, 1));
    gb_free(&b);
    unary(&b, 11, "Squeeze", 3, D(1, 3, 1), A(AINTS("axes", 1)));
    gb_fails(&b, MI_ERR_SHAPE, "cannot squeeze axis 1", NULL);
    gb_free(&b);
    unary(&b, 11, "Unsqueeze", 2, D(3, 2), A(AINTS("axes", 3)));
    gb_fails(&b, MI_ERR_SHAPE, "axis 3", NULL);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(3, 2));
    gb_node(&b, "Unsqueeze", "us", "x", "y", NOATTR);
    gb_fails(&b, MI_ERR_GRAPH, "axes", NULL);
    gb_free(&b);
}

Test(shape, elementwise_and_misc) {
    gb b;
    gb_init(&b, 15);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(2, 3, 4, 5));
    gb_weight(&b, "lo", MI_DTYPE_FLOAT, 0, NULL, (float[]){-1});
    gb_node(&b, "Relu", "relu", "x", "a", NOATTR);
    gb_node(&b, "Sigmoid", "sig", "x", "b", NOATTR);
    gb_node(&b, "HardSigmoid", "hs", "x", "c", NOATTR);
    gb_node(&b, "HardSwish", "hw", "x", "d", NOATTR);
    gb_node(&b, "Clip", "clip", "x,lo", "e", NOATTR);
    gb_node(&b, "Softmax", "sm", "x", "f", NOATTR);
    gb_node(&b, "LRN", "lrn", "x", "g", A(AI("size", 3)));
    gb_node(&b, "Identity", "id", "x", "h", NOATTR);
    gb_node(&b, "Dropout", "drop", "x", "i,mask", NOATTR);
    gb_node(&b, "Cast", "cast", "x", "j", A(AI("to", MI_DTYPE_INT32)));
    gb_node(&b, "Shape", "shape", "x", "k", NOATTR);
    gb_node(&b, "Shape", "shape2", "x", "l", A(AI("start", 1), AI("end", -1)));
    gb_ok(&b);
    const char *same[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "mask"};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) gb_expect_dims(&b, same[i], 4, D(2, 3, 4, 5));
    cr_assert_eq(gb_tensor(&b, "j")->dtype, MI_DTYPE_INT32);
    cr_assert_eq(gb_tensor(&b, "mask")->dtype, MI_DTYPE_BOOL);
    gb_expect_dims(&b, "k", 1, D(4));
    gb_expect_dims(&b, "l", 1, D(2));
    cr_assert_eq(gb_tensor(&b, "l")->role, MI_ROLE_OUTPUT);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_INT64, 1, D(3));
    gb_node(&b, "Sigmoid", "sig", "x", "y", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "'sig'", "int64");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(3));
    gb_input(&b, "m", MI_DTYPE_FLOAT, 0, NULL);
    gb_node(&b, "Clip", "clip", "x,m", "y", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "'clip'", "constant");
    gb_free(&b);
    unary(&b, 13, "Cast", 1, D(3), A(AI("to", 8)));
    gb_fails(&b, MI_ERR_UNSUPPORTED, "cast", NULL);
    gb_free(&b);
}

Test(shape, batch_norm) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 3, 3));
    const char *p[] = {"s", "bb", "m", "v"};
    for (int i = 0; i < 4; i++) gb_weight(&b, p[i], MI_DTYPE_FLOAT, 1, D(4), NULL);
    gb_node(&b, "BatchNormalization", "bn", "x,s,bb,m,v", "y", A(AF("epsilon", 1e-3f)));
    gb_ok(&b);
    gb_expect_dims(&b, "y", 4, D(1, 4, 3, 3));
    mi__op_params pp;
    cr_assert_eq(mi__op_params_get(b.g, mi_graph_node(b.g, 0), &pp), MI_OK);
    cr_assert_float_eq(pp.u.batch_norm.epsilon, 1e-3f, 0);
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 3, 3));
    for (int i = 0; i < 4; i++) gb_weight(&b, p[i], MI_DTYPE_FLOAT, 1, D(i == 2 ? 3 : 4), NULL);
    gb_node(&b, "BatchNormalization", "bn", "x,s,bb,m,v", "y", NOATTR);
    gb_fails(&b, MI_ERR_SHAPE, "'bn'", "mean 'm' has shape [3], expected [4]");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 3, 3));
    for (int i = 0; i < 4; i++) gb_weight(&b, p[i], MI_DTYPE_FLOAT, 1, D(4), NULL);
    gb_node(&b, "BatchNormalization", "bn", "x,s,bb,m,v", "y,rm,rv", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "training", NULL);
    gb_free(&b);
}

Test(shape, constant_values) {
    gb b;
    gb_init(&b, 13);
    gb_weight(&b, "t", MI_DTYPE_INT64, 2, D(2, 3), NULL);
    int t = mi_graph_find_tensor(b.g, "t");
    gb_node(&b, "Constant", "c1", "", "a", A(((mi_attr){.name = "value", .type = MI_ATTR_TENSOR, .tensor = t})));
    gb_node(&b, "Constant", "c2", "", "b", A(AF("value_float", 2.5f)));
    gb_node(&b, "Constant", "c3", "", "c", A(AINTS("value_ints", 1, 2, 3)));
    gb_node(&b, "Constant", "c4", "", "d", A(AFLOATS("value_floats", 1, 2)));
    gb_node(&b, "Constant", "c5", "", "e", A(AI("value_int", 7)));
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(2));
    gb_node(&b, "Add", "add", "x,d", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    gb_expect_dims(&b, "y", 1, D(2));
    cr_assert_eq(mi_graph_node_count(b.g), 1, "every Constant folded");
    gb_free(&b);
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 1, D(2));
    gb_node(&b, "Constant", "c", "", "d", A(AS("value_string", "hi")));
    gb_node(&b, "Add", "add", "x,d", "y", NOATTR);
    gb_fails(&b, MI_ERR_UNSUPPORTED, "value_string", NULL);
    gb_free(&b);
}

static void params_of(const mi_graph *g, const char *nm, mi__op_params *p) {
    const mi_node *n = NULL;
    for (size_t i = 0; i < mi_graph_node_count(g); i++)
        if (!strcmp(mi_graph_node(g, i)->name, nm)) n = mi_graph_node(g, i);
    cr_assert_not_null(n, "node %s", nm);
    cr_assert_eq(mi__op_params_get(g, n, p), MI_OK, "%s", mi_last_error());
}

Test(shape_op_params, defaults) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 4, 6, 6));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(4, 4, 3, 3), NULL);
    gb_weight(&b, "w2", MI_DTYPE_FLOAT, 2, D(5, 64), NULL);
    gb_node(&b, "Conv", "conv", "x,w", "c", NOATTR);
    gb_node(&b, "Flatten", "flat", "c", "f", NOATTR);
    gb_node(&b, "Gemm", "gemm", "f,w2", "g", A(AI("transB", 1)));
    gb_node(&b, "LRN", "lrn", "x", "l", A(AI("size", 5)));
    gb_node(&b, "Softmax", "sm", "x", "s", NOATTR);
    gb_node(&b, "HardSigmoid", "hs", "x", "h", NOATTR);
    gb_node(&b, "Clip", "clip", "x", "k", NOATTR);
    gb_node(&b, "Concat", "cat", "x,x", "cc", A(AI("axis", -3)));
    gb_node(&b, "Gather", "gather", "x,x_idx", "gg", A(AI("axis", -1)));
    gb_weight(&b, "x_idx", MI_DTYPE_INT64, 1, D(2), NULL);
    gb_node(&b, "Transpose", "tr", "x", "t", NOATTR);
    gb_ok(&b);
    mi__op_params p;
#define PARAMS(nm) params_of(b.g, nm, &p)
    PARAMS("conv");
    cr_assert_eq(p.op, MI_OP_CONV);
    cr_assert_eq(p.u.conv.nspatial, 2);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(p.u.conv.kernel[i], 3);
        cr_assert_eq(p.u.conv.stride[i], 1);
        cr_assert_eq(p.u.conv.dilation[i], 1);
        cr_assert_eq(p.u.conv.pad_begin[i], 0);
        cr_assert_eq(p.u.conv.pad_end[i], 0);
    }
    cr_assert_eq(p.u.conv.group, 1);
    PARAMS("gemm");
    cr_assert_float_eq(p.u.gemm.alpha, 1.0f, 0);
    cr_assert_float_eq(p.u.gemm.beta, 1.0f, 0);
    cr_assert_eq(p.u.gemm.trans_a, 0);
    cr_assert_eq(p.u.gemm.trans_b, 1);
    PARAMS("lrn");
    cr_assert_eq(p.u.lrn.size, 5);
    cr_assert_float_eq(p.u.lrn.alpha, 1e-4f, 0);
    cr_assert_float_eq(p.u.lrn.beta, 0.75f, 0);
    cr_assert_float_eq(p.u.lrn.bias, 1.0f, 0);
    PARAMS("sm");
    cr_assert_eq(p.u.axis.axis, 3, "Softmax axis -1 from opset 13, normalised");
    cr_assert_eq(p.u.softmax.coerce_2d, 0);
    PARAMS("hs");
    cr_assert_float_eq(p.u.hard_sigmoid.alpha, 0.2f, 0);
    cr_assert_float_eq(p.u.hard_sigmoid.beta, 0.5f, 0);
    PARAMS("clip");
    cr_assert(isinf(p.u.clip.min) && p.u.clip.min < 0);
    cr_assert(isinf(p.u.clip.max) && p.u.clip.max > 0);
    PARAMS("cat");
    cr_assert_eq(p.u.axis.axis, 1);
    PARAMS("gather");
    cr_assert_eq(p.u.axis.axis, 3);
    PARAMS("tr");
    cr_assert_eq(p.u.transpose.perm[0], 3);
    cr_assert_eq(p.u.transpose.perm[3], 0);
    PARAMS("flat");
    cr_assert_eq(p.u.axis.axis, 1);
    gb_free(&b);

    /* Before opset 13: Softmax axis 1 with the 2-D coercion; Clip from
     * attributes. */
    gb_init(&b, 10);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 3, D(2, 3, 4));
    gb_node(&b, "Softmax", "sm", "x", "s", NOATTR);
    gb_node(&b, "Clip", "clip", "x", "k", A(AF("min", 0.0f), AF("max", 6.0f)));
    gb_node(&b, "BatchNormalization", "bn", "x,p,p,p,p", "bn", NOATTR);
    gb_weight(&b, "p", MI_DTYPE_FLOAT, 1, D(3), NULL);
    gb_ok(&b);
    PARAMS("sm");
    cr_assert_eq(p.u.softmax.axis, 1);
    cr_assert_eq(p.u.softmax.coerce_2d, 1);
    PARAMS("clip");
    cr_assert_float_eq(p.u.clip.min, 0.0f, 0);
    cr_assert_float_eq(p.u.clip.max, 6.0f, 0);
    PARAMS("bn");
    cr_assert_float_eq(p.u.batch_norm.epsilon, 1e-5f, 0);
    gb_free(&b);
}
