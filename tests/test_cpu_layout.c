/* The CPU backend's data movement ops against plain index arithmetic done
 * here: Transpose, Concat, Split, Slice (negative steps), Pad (constant,
 * reflect, edge, negative pads), Gather, Cast, the view ops run as copies
 * (also with out == in), and Shape and Constant when not folded; plus the
 * errors run() reports, each naming the node. */
#include "cpu_test_util.h"

static float *iota(size_t n) {
    float *v = malloc(n * sizeof(float));
    cr_assert(v);
    for (size_t i = 0; i < n; i++) v[i] = (float)i;
    return v;
}

static void expect_floats(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) cr_assert_eq(got[i], want[i], "%s[%zu]: got %g, want %g", what, i, got[i], want[i]);
}

Test(cpu_layout, transpose) {
    int64_t d[4] = {2, 3, 4, 5};
    float *x = iota(120), want[120];
    int64_t perm[4] = {2, 0, 3, 1};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++)
                for (int e = 0; e < 5; e++) /* y[c][a][e][b] = x[a][b][c][e] */
                    want[((c * 2 + a) * 5 + e) * 3 + b] = x[((a * 3 + b) * 4 + c) * 5 + e];
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 4, d, x);
    tg_node(&t, "Transpose", "x", "y", 1, (mi_attr[]){A_ints("perm", 4, perm)});
    tg_node(&t, "Transpose", "x", "z", 0, NULL); /* default: reversed dims */
    tg_output(&t, "y");
    tg_output(&t, "z");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    expect_floats(tg_data(&t, "y"), want, 120, "y");
    const float *z = tg_data(&t, "z");
    cr_assert_eq(z[((4 * 4 + 3) * 3 + 2) * 2 + 1], x[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    cr_assert_eq(z[1], x[60]);
    tg_free(&t);
    free(x);
}

Test(cpu_layout, concat_and_split) {
    int64_t da[3] = {2, 1, 3}, db[3] = {2, 2, 3}, dc[3] = {2, 3, 3};
    float *a = iota(6), *b = iota(12), *c = iota(18);
    for (int i = 0; i < 12; i++) b[i] += 100;
    for (int i = 0; i < 18; i++) c[i] += 200;
    float want[36];
    for (int n = 0; n < 2; n++) {
        float *row = want + n * 18;
        memcpy(row, a + n * 3, 3 * sizeof(float));
        memcpy(row + 3, b + n * 6, 6 * sizeof(float));
        memcpy(row + 9, c + n * 9, 9 * sizeof(float));
    }
    int64_t sizes[2] = {4, 2};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "a", MI_DTYPE_FLOAT, 3, da, a);
    tg_input(&t, "b", MI_DTYPE_FLOAT, 3, db, b);
    tg_input(&t, "c", MI_DTYPE_FLOAT, 3, dc, c);
    tg_weight(&t, "sizes", MI_DTYPE_INT64, 1, (int64_t[]){2}, sizes);
    tg_node(&t, "Concat", "a,b,c", "y", 1, (mi_attr[]){A_int("axis", -2)});
    tg_node(&t, "Split", "y,sizes", "s0,s1", 1, (mi_attr[]){A_int("axis", 1)});
    tg_output(&t, "y");
    tg_output(&t, "s0");
    tg_output(&t, "s1");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    expect_floats(tg_data(&t, "y"), want, 36, "concat");
    const float *s0 = tg_data(&t, "s0"), *s1 = tg_data(&t, "s1");
    for (int n = 0; n < 2; n++) {
        expect_floats(s0 + n * 12, want + n * 18, 12, "split 0");
        expect_floats(s1 + n * 6, want + n * 18 + 12, 6, "split 1");
    }
    tg_free(&t);
    free(a);
    free(b);
    free(c);
}

Test(cpu_layout, slice_negative_steps) {
    int64_t d[3] = {4, 5, 6};
    float *x = iota(120);
    /* axes 2, 0: [5:0:-2] on axis 2, [-1:-5:-1] on axis 0, axis 1 [1:4] */
    int64_t starts[3] = {5, -1, 1}, ends[3] = {0, -5, 4}, axes[3] = {2, 0, 1}, steps[3] = {-2, -1, 1};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_weight(&t, "st", MI_DTYPE_INT64, 1, (int64_t[]){3}, starts);
    tg_weight(&t, "en", MI_DTYPE_INT64, 1, (int64_t[]){3}, ends);
    tg_weight(&t, "ax", MI_DTYPE_INT64, 1, (int64_t[]){3}, axes);
    tg_weight(&t, "sp", MI_DTYPE_INT64, 1, (int64_t[]){3}, steps);
    tg_node(&t, "Slice", "x,st,en,ax,sp", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    const mi_tensor *yt = tg_tensor(&t, "y");
    cr_assert_eq(yt->dims[0], 4);
    cr_assert_eq(yt->dims[1], 3);
    cr_assert_eq(yt->dims[2], 3);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const float *y = tg_data(&t, "y");
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++)
                cr_assert_eq(y[(a * 3 + b) * 3 + c], x[((3 - a) * 5 + 1 + b) * 6 + 5 - 2 * c]);
    tg_free(&t);
    free(x);
}

/* Pad x [3, 4] by (b0, b1) before and (e0, e1) after. */
static void pad_case(const char *mode, int64_t b0, int64_t b1, int64_t e0, int64_t e1) {
    int64_t d[2] = {3, 4}, pads[4] = {b0, b1, e0, e1};
    float *x = iota(12), value = -7.5f;
    int64_t oh = 3 + b0 + e0, ow = 4 + b1 + e1;
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 2, d, x);
    tg_weight(&t, "p", MI_DTYPE_INT64, 1, (int64_t[]){4}, pads);
    tg_weight(&t, "v", MI_DTYPE_FLOAT, 0, NULL, &value);
    tg_node(&t, "Pad", "x,p,v", "y", 1, (mi_attr[]){A_str("mode", mode)});
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const float *y = tg_data(&t, "y");
    for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
            int64_t si = i - b0, sj = j - b1;
            float want;
            if (!strcmp(mode, "constant")) {
                want = si < 0 || si >= 3 || sj < 0 || sj >= 4 ? value : x[si * 4 + sj];
            } else if (!strcmp(mode, "edge")) {
                si = si < 0 ? 0 : si > 2 ? 2 : si;
                sj = sj < 0 ? 0 : sj > 3 ? 3 : sj;
                want = x[si * 4 + sj];
            } else {
                si = si < 0 ? -si : si > 2 ? 4 - si : si;
                sj = sj < 0 ? -sj : sj > 3 ? 6 - sj : sj;
                want = x[si * 4 + sj];
            }
            cr_assert_eq(y[i * ow + j], want, "%s pad (%lld,%lld,%lld,%lld) at [%lld,%lld]: %g, want %g",
                         mode, (long long)b0, (long long)b1, (long long)e0, (long long)e1, (long long)i,
                         (long long)j, y[i * ow + j], want);
        }
    tg_free(&t);
    free(x);
}

Test(cpu_layout, pad_constant_reflect_edge) {
    const char *modes[] = {"constant", "reflect", "edge"};
    for (int m = 0; m < 3; m++) {
        pad_case(modes[m], 1, 2, 2, 1);
        pad_case(modes[m], 0, 3, 2, 0);
        pad_case(modes[m], -1, 1, 0, -2); /* negative pads crop */
    }
}

Test(cpu_layout, pad_int64_constant) {
    int64_t d[1] = {3}, x[3] = {4, 5, 6}, pads[2] = {2, 1}, v = -9;
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_INT64, 1, d, x);
    tg_weight(&t, "p", MI_DTYPE_INT64, 1, (int64_t[]){2}, pads);
    tg_weight(&t, "v", MI_DTYPE_INT64, 0, NULL, &v);
    tg_node(&t, "Pad", "x,p,v", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const int64_t *y = tg_data(&t, "y"), want[6] = {-9, -9, 4, 5, 6, -9};
    for (int i = 0; i < 6; i++) cr_assert_eq(y[i], want[i]);
    tg_free(&t);
}

Test(cpu_layout, gather_axes_and_negative_indices) {
    int64_t d[3] = {4, 3, 2};
    float *x = iota(24);
    int64_t idx[2][2] = {{3, -4}, {1, -1}};
    int32_t idx32[2] = {2, 0};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_input(&t, "i", MI_DTYPE_INT64, 2, (int64_t[]){2, 2}, idx);
    tg_input(&t, "j", MI_DTYPE_INT32, 1, (int64_t[]){2}, idx32);
    tg_node(&t, "Gather", "x,i", "y", 1, (mi_attr[]){A_int("axis", 0)});
    tg_node(&t, "Gather", "x,j", "z", 1, (mi_attr[]){A_int("axis", 1)});
    tg_output(&t, "y");
    tg_output(&t, "z");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_tensor(&t, "y")->ndim, 4);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const float *y = tg_data(&t, "y"), *z = tg_data(&t, "z");
    int rows[4] = {3, 0, 1, 3};
    for (int r = 0; r < 4; r++)
        for (int k = 0; k < 6; k++) cr_assert_eq(y[r * 6 + k], x[rows[r] * 6 + k]);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 2; c++) cr_assert_eq(z[(a * 2 + b) * 2 + c], x[(a * 3 + idx32[b]) * 2 + c]);
    tg_free(&t);
    free(x);
}

Test(cpu_layout, gather_index_out_of_range_names_node) {
    int64_t d[1] = {3}, idx[1] = {3};
    float x[3] = {1, 2, 3};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 1, d, x);
    tg_input(&t, "i", MI_DTYPE_INT64, 1, (int64_t[]){1}, idx); /* not constant: checked at run time */
    tg_node(&t, "Gather", "x,i", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "Gather") && strstr(mi_last_error(), "out of range"), "%s",
              mi_last_error());
    tg_free(&t);
}

Test(cpu_layout, cast_between_types) {
    int64_t d[1] = {6};
    float x[6] = {1.5f, -2.7f, 0.0f, 3e9f, NAN, 65504.0f};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 1, d, x);
    tg_node(&t, "Cast", "x", "i32", 1, (mi_attr[]){A_int("to", MI_DTYPE_INT32)});
    tg_node(&t, "Cast", "x", "f16", 1, (mi_attr[]){A_int("to", MI_DTYPE_FLOAT16)});
    tg_node(&t, "Cast", "f16", "back", 1, (mi_attr[]){A_int("to", MI_DTYPE_FLOAT)});
    tg_node(&t, "Cast", "x", "dbl", 1, (mi_attr[]){A_int("to", MI_DTYPE_DOUBLE)});
    tg_node(&t, "Cast", "i32", "i64", 1, (mi_attr[]){A_int("to", MI_DTYPE_INT64)});
    tg_node(&t, "Cast", "i64", "b", 1, (mi_attr[]){A_int("to", MI_DTYPE_BOOL)});
    const char *outs[] = {"i32", "back", "dbl", "i64", "b"};
    for (int i = 0; i < 5; i++) tg_output(&t, outs[i]);
    tg_finalize(&t, 1, 0);
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const int32_t *i32 = tg_data(&t, "i32");
    const float *back = tg_data(&t, "back");
    const double *dbl = tg_data(&t, "dbl");
    const int64_t *i64 = tg_data(&t, "i64");
    const uint8_t *b = tg_data(&t, "b");
    int32_t wi[6] = {1, -2, 0, INT32_MAX, 0, 65504};
    float wb[6] = {1.5f, -2.69921875f, 0.0f, INFINITY, NAN, 65504.0f};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq(i32[i], wi[i], "i32[%d] = %d", i, i32[i]);
        cr_assert_eq(i64[i], wi[i]);
        cr_assert_eq(b[i], wi[i] != 0);
        if (i == 4) cr_assert(back[i] != back[i] && dbl[i] != dbl[i]);
        else cr_assert(back[i] == wb[i] && dbl[i] == (double)x[i], "float16 round trip [%d]: %g", i, back[i]);
    }
    tg_free(&t);
}

Test(cpu_layout, view_ops_as_copies_and_in_place) {
    int64_t d[4] = {2, 1, 3, 4}, shape[2] = {6, 4}, ax[1] = {1};
    float *x = iota(24);
    const char *ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"};
    for (int inplace = 0; inplace <= 1; inplace++)
        for (int o = 0; o < 6; o++) {
            tg t;
            tg_init(&t, 13);
            tg_input(&t, "x", MI_DTYPE_FLOAT, 4, d, x);
            tg_weight(&t, "s", MI_DTYPE_INT64, 1, (int64_t[]){2}, shape);
            tg_weight(&t, "a", MI_DTYPE_INT64, 1, (int64_t[]){1}, ax);
            const char *ins = o == 0 ? "x,s" : o == 2 || o == 3 ? "x,a" : "x";
            tg_node(&t, ops[o], ins, o == 5 ? "y,m" : "y", 0, NULL);
            tg_output(&t, "y");
            if (o == 5) tg_output(&t, "m");
            tg_finalize(&t, 1, 0);
            if (inplace) tg_alias(&t, "y", "x");
            cr_assert_eq(tg_run(&t), MI_OK, "%s: %s", ops[o], mi_last_error());
            expect_floats(tg_data(&t, "y"), x, 24, ops[o]);
            if (o == 5) {
                const uint8_t *m = tg_data(&t, "m");
                for (int i = 0; i < 24; i++) cr_assert_eq(m[i], 1, "Dropout mask[%d]", i);
            }
            tg_free(&t);
        }
    free(x);
}

Test(cpu_layout, shape_and_constant_when_not_folded) {
    int64_t d[3] = {2, 3, 4};
    float *x = iota(24);
    int64_t cd[2] = {2, 2};
    float cv[4] = {1, 2, 3, 4};
    tg t;
    tg_init(&t, 15);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 3, d, x);
    tg_weight(&t, "cval", MI_DTYPE_FLOAT, 2, cd, cv);
    tg_node(&t, "Shape", "x", "s", 1, (mi_attr[]){A_int("start", 1)});
    tg_node(&t, "Constant", "", "k", 1, (mi_attr[]){A_ints("value_ints", 3, (int64_t[]){7, 8, 9})});
    tg_node(&t, "Constant", "", "f", 1, (mi_attr[]){A_float("value_float", 2.5f)});
    tg_output(&t, "s");
    tg_output(&t, "k");
    tg_output(&t, "f");
    tg_finalize(&t, 0, 0);
    cr_assert_eq(mi_graph_node_count(t.g), 3, "folding is off: the nodes stay");
    cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
    const int64_t *s = tg_data(&t, "s"), *k = tg_data(&t, "k");
    cr_assert_eq(s[0], 3);
    cr_assert_eq(s[1], 4);
    cr_assert_eq(k[0], 7);
    cr_assert_eq(k[2], 9);
    cr_assert_eq(*(const float *)tg_data(&t, "f"), 2.5f);
    tg_free(&t);
    free(x);
}

Test(cpu_errors, null_pointers_and_bad_nodes_are_named) {
    int64_t d[1] = {4};
    float x[4] = {1, -2, 3, -4};
    tg t;
    tg_init(&t, 13);
    tg_input(&t, "x", MI_DTYPE_FLOAT, 1, d, x);
    tg_node(&t, "Relu", "x", "y", 0, NULL);
    tg_output(&t, "y");
    tg_finalize(&t, 1, 0);
    const mi_node *n = mi_graph_node(t.g, 0);
    void *in[1] = {NULL}, *out[1] = {x};
    mi_node_args a = {t.g, 0, n, in, out, NULL, NULL, 0};
    cr_assert_eq(t.b->ops->run(t.b, NULL, &a), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "Relu"), "%s", mi_last_error());
    size_t ws;
    cr_assert_eq(t.b->ops->prepare(t.b, t.g, 5, &ws), MI_ERR_INVALID_ARG);
    /* A partial overlap of output and input is refused, not computed. */
    float buf[8] = {0};
    void *in2[1] = {buf}, *out2[1] = {buf + 1};
    mi_node_args b = {t.g, 0, n, in2, out2, NULL, NULL, 0};
    cr_assert_eq(t.b->ops->run(t.b, NULL, &b), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "Relu"), "%s", mi_last_error());
    tg_free(&t);
}
