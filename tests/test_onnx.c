/* Loading the model zoo (scripts/make_models.py, fixture models.generate):
 * counts and shapes after folding and fusion, the batch override, the test
 * data sets, and tensor_io round trips. Plus small ONNX models built in C
 * for what the zoo's torch export does not contain (Identity of an
 * initializer, shape arithmetic). */
#include <criterion/criterion.h>

#include "common/alloc_hook.h"
#include "mini_infer/graph.h"
#include "mini_infer/tensor_io.h"
#include "onnx_build.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MODEL_DIR(name) MI_MODELS_DIR "/" name
#define MODEL(name) MODEL_DIR(name) "/model.onnx"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static mi_graph *load_opts(const char *path, int64_t batch, int fold, int fuse) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.batch = batch;
    o.fold_constants = fold;
    o.fuse = fuse;
    mi_graph *g = NULL;
    mi_status st = mi_graph_load(path, &o, &g);
    cr_assert_eq(st, MI_OK, "%s: %s: %s", path, mi_status_name(st), mi_last_error());
    return g;
}

static int count_op(const mi_graph *g, mi_op op) {
    int c = 0;
    for (size_t i = 0; i < mi_graph_node_count(g); i++) c += mi_graph_node(g, i)->op == op;
    return c;
}

static void expect_dims(const mi_tensor *t, int ndim, const int64_t *dims) {
    cr_assert_eq(t->ndim, ndim, "'%s': rank %d, expected %d", t->name, t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->dims[i], dims[i], "'%s': dim %d is %lld, expected %lld", t->name, i,
                     (long long)t->dims[i], (long long)dims[i]);
}

static const mi_tensor *output0(const mi_graph *g) {
    return mi_graph_tensor(g, (size_t)mi_graph_output(g, 0));
}

/* Invariants every loaded model keeps: roles consistent with producers,
 * weights have data, nothing else has, byte sizes right. */
static void check_invariants(const mi_graph *g) {
    for (size_t i = 0; i < mi_graph_tensor_count(g); i++) {
        const mi_tensor *t = mi_graph_tensor(g, i);
        cr_assert_eq(t->nbytes, (size_t)mi_tensor_numel(t) * mi_dtype_size(t->dtype), "'%s'", t->name);
        if (t->role == MI_ROLE_WEIGHT) {
            cr_assert_not_null(t->data, "weight '%s' has no data", t->name);
            cr_assert_eq(t->producer, -1, "weight '%s' has a producer", t->name);
        } else {
            cr_assert_null(t->data, "'%s' (%s) has data", t->name, mi_role_name(t->role));
        }
        if (t->role == MI_ROLE_ACTIVATION || t->role == MI_ROLE_OUTPUT)
            cr_assert_geq(t->producer, 0, "'%s' (%s) has no producer", t->name, mi_role_name(t->role));
        for (int d = 0; d < t->ndim; d++) cr_assert_geq(t->dims[d], t->role == MI_ROLE_WEIGHT ? 0 : 1);
    }
    for (size_t i = 0; i < mi_graph_node_count(g); i++) {
        const mi_node *n = mi_graph_node(g, i);
        for (int k = 0; k < n->ninputs; k++) {
            if (n->inputs[k] < 0) continue;
            const mi_tensor *t = mi_graph_tensor(g, (size_t)n->inputs[k]);
            cr_assert_lt(t->producer, (int)i, "node '%s' reads '%s' before it is produced", n->name, t->name);
        }
        if (n->fused.residual >= 0)
            cr_assert_lt(mi_graph_tensor(g, (size_t)n->fused.residual)->producer, (int)i);
    }
}

static void print_summary(const char *name, const mi_graph *g, double secs) {
    int fused = 0, residual = 0;
    for (size_t i = 0; i < mi_graph_node_count(g); i++) {
        fused += mi_graph_node(g, i)->fused.act != MI_ACT_NONE;
        residual += mi_graph_node(g, i)->fused.residual >= 0;
    }
    printf("%s: %zu nodes, %zu tensors, %d fused activations, %d fused residuals, loaded in %.3f s\n",
           name, mi_graph_node_count(g), mi_graph_tensor_count(g), fused, residual, secs);
}

Test(onnx, lenet5) {
    double t0 = now();
    mi_graph *g = load_opts(MODEL("lenet5"), 0, 1, 1);
    print_summary("lenet5", g, now() - t0);
    check_invariants(g);
    expect_dims(output0(g), 2, (int64_t[]){1, 10});
    expect_dims(mi_graph_tensor(g, (size_t)mi_graph_input(g, 0)), 4, (int64_t[]){1, 1, 32, 32});
    cr_assert_eq(mi_graph_input_count(g), 1);
    cr_assert_eq(mi_graph_output_count(g), 1);
    /* conv+relu, pool, conv+relu, pool, flatten, 3 gemm, 2 relu */
    cr_assert_eq(mi_graph_node_count(g), 10);
    cr_assert_eq(mi_graph_tensor_count(g), 21);
    cr_assert_eq(count_op(g, MI_OP_CONV), 2);
    cr_assert_eq(count_op(g, MI_OP_GEMM), 3);
    const mi_node *c0 = mi_graph_node(g, 0);
    cr_assert_eq(c0->op, MI_OP_CONV);
    cr_assert_eq(c0->fused.act, MI_ACT_RELU);
    expect_dims(mi_graph_tensor(g, (size_t)c0->outputs[0]), 4, (int64_t[]){1, 6, 28, 28});
    expect_dims(mi_graph_tensor(g, (size_t)mi_graph_node(g, 3)->outputs[0]), 4, (int64_t[]){1, 16, 5, 5});
    mi_graph_destroy(g);
}

Test(onnx, mobilenet_v2) {
    double t0 = now();
    mi_graph *g = load_opts(MODEL("mobilenet_v2"), 0, 1, 1);
    print_summary("mobilenet_v2", g, now() - t0);
    check_invariants(g);
    expect_dims(output0(g), 2, (int64_t[]){1, 1000});
    cr_assert_eq(count_op(g, MI_OP_CONSTANT), 0);
    cr_assert_eq(count_op(g, MI_OP_IDENTITY), 0);
    cr_assert_eq(count_op(g, MI_OP_SHAPE), 0);
    cr_assert_eq(count_op(g, MI_OP_CLIP), 0, "every ReLU6 fused into its Conv");
    cr_assert_eq(count_op(g, MI_OP_ADD), 0, "every residual Add fused");
    int clip = 0, residual = 0;
    for (size_t i = 0; i < mi_graph_node_count(g); i++) {
        const mi_node *n = mi_graph_node(g, i);
        if (n->fused.act == MI_ACT_CLIP) {
            clip++;
            cr_assert_float_eq(n->fused.act_min, 0.0f, 0);
            cr_assert_float_eq(n->fused.act_max, 6.0f, 0);
        }
        residual += n->fused.residual >= 0;
    }
    cr_assert_eq(clip, 35);
    cr_assert_eq(residual, 10);
    cr_assert_eq(mi_graph_node_count(g), 55);
    mi_graph_destroy(g);
}

Test(onnx, resnet50) {
    double t0 = now();
    mi_graph *g = load_opts(MODEL("resnet50"), 0, 1, 1);
    double secs = now() - t0;
    print_summary("resnet50", g, secs);
    check_invariants(g);
    expect_dims(output0(g), 2, (int64_t[]){1, 1000});
    const mi_node *c0 = mi_graph_node(g, 0);
    cr_assert_eq(c0->op, MI_OP_CONV);
    expect_dims(mi_graph_tensor(g, (size_t)c0->outputs[0]), 4, (int64_t[]){1, 64, 112, 112});
    cr_assert_eq(count_op(g, MI_OP_IDENTITY) + count_op(g, MI_OP_CONSTANT) + count_op(g, MI_OP_SHAPE), 0);
    int act = 0, residual = 0;
    for (size_t i = 0; i < mi_graph_node_count(g); i++) {
        const mi_node *n = mi_graph_node(g, i);
        act += n->op == MI_OP_CONV && n->fused.act != MI_ACT_NONE;
        if (n->fused.residual >= 0) {
            residual++;
            cr_assert_eq(n->fused.act, MI_ACT_RELU);
            const mi_tensor *r = mi_graph_tensor(g, (size_t)n->fused.residual);
            expect_dims(r, 4, mi_graph_tensor(g, (size_t)n->outputs[0])->dims);
        }
    }
    /* Exact counts are those of torch 1.13's export (make_models.py): 53
     * Conv, 49 Relu, 16 Add, BatchNorm folded into the Convs. */
    cr_assert_gt(act, 0);
    cr_assert_eq(act, 49);
    cr_assert_eq(residual, 16);
    cr_assert_eq(count_op(g, MI_OP_RELU), 0);
    cr_assert_eq(count_op(g, MI_OP_CONV), 53);
    size_t weights = 0, weight_bytes = 0;
    for (size_t i = 0; i < mi_graph_tensor_count(g); i++) {
        const mi_tensor *t = mi_graph_tensor(g, i);
        if (t->role == MI_ROLE_WEIGHT) {
            weights++;
            weight_bytes += t->nbytes;
        }
    }
    cr_assert_eq(weights, 108);
    cr_assert_gt(weight_bytes, (size_t)100e6);
    mi_graph_destroy(g);
}

Test(onnx, resnet50_unfused) {
    mi_graph *g = load_opts(MODEL("resnet50"), 0, 1, 0);
    check_invariants(g);
    cr_assert_eq(count_op(g, MI_OP_RELU), 49);
    cr_assert_eq(count_op(g, MI_OP_ADD), 16);
    for (size_t i = 0; i < mi_graph_node_count(g); i++) {
        cr_assert_eq(mi_graph_node(g, i)->fused.act, MI_ACT_NONE);
        cr_assert_eq(mi_graph_node(g, i)->fused.residual, -1);
    }
    mi_graph_destroy(g);
}

Test(onnx, resnet50_dynamic_batch) {
    mi_graph *g = load_opts(MODEL("resnet50_dynamic"), 4, 1, 1);
    check_invariants(g);
    expect_dims(output0(g), 2, (int64_t[]){4, 1000});
    expect_dims(mi_graph_tensor(g, (size_t)mi_graph_input(g, 0)), 4, (int64_t[]){4, 3, 224, 224});
    mi_graph_destroy(g);
    g = load_opts(MODEL("resnet50_dynamic"), 0, 1, 1); /* a dynamic batch defaults to 1 */
    expect_dims(output0(g), 2, (int64_t[]){1, 1000});
    mi_graph_destroy(g);
    g = load_opts(MODEL("resnet50"), 3, 1, 1); /* the override applies to static inputs too */
    expect_dims(output0(g), 2, (int64_t[]){3, 1000});
    mi_graph_destroy(g);
}

static void check_data_set(const char *dir, int64_t batch, int64_t classes, const int64_t *in_dims) {
    char path[512];
    mi_tensor_data in, out;
    snprintf(path, sizeof path, "%s/test_data_set_0/input_0.pb", dir);
    cr_assert_eq(mi_tensor_file_read(path, &in), MI_OK, "%s", mi_last_error());
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    cr_assert_eq(mi_tensor_file_read(path, &out), MI_OK, "%s", mi_last_error());
    cr_assert_eq(in.dtype, MI_DTYPE_FLOAT);
    cr_assert_eq(in.ndim, 4);
    for (int i = 0; i < 4; i++) cr_assert_eq(in.dims[i], in_dims[i]);
    cr_assert_eq(out.ndim, 2);
    cr_assert_eq(out.dims[0], batch);
    cr_assert_eq(out.dims[1], classes);
    cr_assert_eq(out.nbytes, (size_t)(batch * classes) * sizeof(float));
    cr_assert_str_eq(in.name, "input");
    float mx = 0;
    for (size_t i = 0; i < out.nbytes / sizeof(float); i++) {
        float v = ((const float *)out.data)[i];
        cr_assert(isfinite(v));
        mx = fmaxf(mx, fabsf(v));
    }
    /* BatchNorm statistics were calibrated: outputs are neither tiny nor huge. */
    cr_assert(mx > 1e-3f && mx < 1e3f, "max |output| %g", (double)mx);
    mi_tensor_data_free(&in);
    mi_tensor_data_free(&out);
}

Test(onnx, test_data_sets) {
    check_data_set(MODEL_DIR("lenet5"), 1, 10, (int64_t[]){1, 1, 32, 32});
    check_data_set(MODEL_DIR("mobilenet_v2"), 1, 1000, (int64_t[]){1, 3, 224, 224});
    check_data_set(MODEL_DIR("resnet50"), 1, 1000, (int64_t[]){1, 3, 224, 224});
    check_data_set(MODEL_DIR("resnet50_dynamic"), 4, 1000, (int64_t[]){4, 3, 224, 224});
}

/* ---- tensor_io ------------------------------------------------------------ */

Test(onnx_tensor_io, round_trip_memory) {
    int64_t before = mi__alloc_outstanding();
    float f[6] = {1.5f, -2, 3, 4e10f, -0.0f, 6};
    int64_t i64[3] = {INT64_MIN, 0, INT64_MAX};
    int8_t i8[4] = {-128, -1, 0, 127};
    struct { mi_dtype dt; int ndim; int64_t dims[2]; const void *data; size_t bytes; } cases[] = {
        {MI_DTYPE_FLOAT, 2, {2, 3}, f, sizeof f},
        {MI_DTYPE_INT64, 1, {3}, i64, sizeof i64},
        {MI_DTYPE_INT8, 2, {2, 2}, i8, sizeof i8},
        {MI_DTYPE_FLOAT, 0, {0}, f, sizeof(float)},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        void *buf;
        size_t len;
        cr_assert_eq(mi_tensor_memory_write("t", cases[c].dt, cases[c].ndim, cases[c].dims,
                                            cases[c].data, &buf, &len), MI_OK, "%s", mi_last_error());
        mi_tensor_data t;
        cr_assert_eq(mi_tensor_memory_read(buf, len, &t), MI_OK, "%s", mi_last_error());
        cr_assert_eq(t.dtype, cases[c].dt);
        cr_assert_eq(t.ndim, cases[c].ndim);
        for (int d = 0; d < t.ndim; d++) cr_assert_eq(t.dims[d], cases[c].dims[d]);
        cr_assert_eq(t.nbytes, cases[c].bytes);
        cr_assert_eq(memcmp(t.data, cases[c].data, t.nbytes), 0);
        cr_assert_str_eq(t.name, "t");
        mi_tensor_data_free(&t);
        mi_tensor_memory_free(buf);
    }
    cr_assert_eq(mi__alloc_outstanding(), before);
}

Test(onnx_tensor_io, round_trip_file) {
    char path[] = "/tmp/mi_tensor_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = (float)i * 0.25f - 3;
    int64_t dims[4] = {1, 2, 3, 4};
    cr_assert_eq(mi_tensor_file_write(path, NULL, MI_DTYPE_FLOAT, 4, dims, v), MI_OK, "%s", mi_last_error());
    mi_tensor_data t;
    cr_assert_eq(mi_tensor_file_read(path, &t), MI_OK, "%s", mi_last_error());
    cr_assert_eq(t.nbytes, sizeof v);
    cr_assert_eq(memcmp(t.data, v, sizeof v), 0);
    cr_assert_str_eq(t.name, "");
    mi_tensor_data_free(&t);
    mi_tensor_data_free(&t); /* emptied: a second free is a no-op */
    unlink(path);
    cr_assert_eq(mi_tensor_file_read(path, &t), MI_ERR_IO);
    cr_assert(strstr(mi_last_error(), path));
    cr_assert_eq(mi_tensor_file_write("/nonexistent/dir/x.pb", "x", MI_DTYPE_FLOAT, 1, (int64_t[]){1}, v),
                 MI_ERR_IO);
}

Test(onnx_tensor_io, typed_fields) {
    /* Not raw_data: float_data, int64_data and int32_data (for int8). */
    float fv[3] = {1, 2, 3};
    int64_t lv[2] = {-7, 1LL << 40};
    int32_t iv[4] = {-3, 100, 0, 5};
    int64_t d3[1] = {3}, d2[1] = {2}, d22[2] = {2, 2};
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.has_data_type = 1;
    uint8_t buf[256];
    mi_tensor_data t;

    tp.data_type = 1; tp.n_dims = 1; tp.dims = d3; tp.n_float_data = 3; tp.float_data = fv;
    size_t len = onnx__tensor_proto__pack(&tp, buf);
    cr_assert_eq(mi_tensor_memory_read(buf, len, &t), MI_OK, "%s", mi_last_error());
    cr_assert_eq(memcmp(t.data, fv, sizeof fv), 0);
    mi_tensor_data_free(&t);

    tp.n_float_data = 0; tp.float_data = NULL;
    tp.data_type = 7; tp.dims = d2; tp.n_int64_data = 2; tp.int64_data = lv;
    len = onnx__tensor_proto__pack(&tp, buf);
    cr_assert_eq(mi_tensor_memory_read(buf, len, &t), MI_OK, "%s", mi_last_error());
    cr_assert_eq(memcmp(t.data, lv, sizeof lv), 0);
    mi_tensor_data_free(&t);

    tp.n_int64_data = 0; tp.int64_data = NULL;
    tp.data_type = 3; tp.n_dims = 2; tp.dims = d22; tp.n_int32_data = 4; tp.int32_data = iv;
    len = onnx__tensor_proto__pack(&tp, buf);
    cr_assert_eq(mi_tensor_memory_read(buf, len, &t), MI_OK, "%s", mi_last_error());
    cr_assert_eq(t.dtype, MI_DTYPE_INT8);
    cr_assert_eq(t.nbytes, 4);
    cr_assert_eq(((int8_t *)t.data)[0], -3);
    cr_assert_eq(((int8_t *)t.data)[1], 100);
    mi_tensor_data_free(&t);

    tp.n_int32_data = 3; /* 3 values for 4 elements */
    len = onnx__tensor_proto__pack(&tp, buf);
    cr_assert_eq(mi_tensor_memory_read(buf, len, &t), MI_ERR_PARSE);
    cr_assert(strstr(mi_last_error(), "int32_data"), "%s", mi_last_error());

    tp.data_type = 8; /* string */
    len = onnx__tensor_proto__pack(&tp, buf);
    cr_assert_eq(mi_tensor_memory_read(buf, len, &t), MI_ERR_UNSUPPORTED);
}

Test(onnx_tensor_io, bad_bytes) {
    int64_t before = mi__alloc_outstanding();
    void *buf;
    size_t len;
    float v[8] = {0};
    cr_assert_eq(mi_tensor_memory_write("x", MI_DTYPE_FLOAT, 1, (int64_t[]){8}, v, &buf, &len), MI_OK);
    mi_tensor_data t;
    for (size_t cut = 0; cut < len; cut++) {
        mi_status st = mi_tensor_memory_read(buf, cut, &t);
        cr_assert_neq(st, MI_OK, "cut at %zu of %zu loaded", cut, len);
        cr_assert_null(t.data);
    }
    mi_tensor_memory_free(buf);
    cr_assert_eq(mi_tensor_memory_write("x", MI_DTYPE_UNDEFINED, 1, (int64_t[]){8}, v, &buf, &len),
                 MI_ERR_UNSUPPORTED);
    cr_assert_eq(mi__alloc_outstanding(), before);
}

/* ---- folding on models built in C ------------------------------------------ */

static mi_graph *load_ob(ob *b, const mi_load_options *o) {
    size_t len;
    uint8_t *p = ob_pack(b, &len);
    mi_graph *g = NULL;
    mi_status st = mi_graph_load_memory(p, len, "built.onnx", o, &g);
    cr_assert_eq(st, MI_OK, "%s: %s", mi_status_name(st), mi_last_error());
    return g;
}

Test(onnx, identity_of_initializer_is_an_alias) {
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", OB_FLOAT, 4, (int64_t[]){1, 2, 4, 4});
    ob_init_floats(&b, "w", 4, (int64_t[]){2, 2, 1, 1}, NULL);
    ob_node(&b, "Identity", "id", "w", "w_alias");
    ob_node(&b, "Conv", "c1", "x,w", "y1");
    ob_node(&b, "Conv", "c2", "y1,w_alias", "y2");
    ob_output(&b, "y2");
    mi_graph *g = load_ob(&b, NULL);
    check_invariants(g);
    cr_assert_eq(mi_graph_node_count(g), 2);
    cr_assert_eq(count_op(g, MI_OP_IDENTITY), 0);
    const mi_tensor *w = mi_graph_tensor(g, (size_t)mi_graph_find_tensor(g, "w"));
    const mi_tensor *a = mi_graph_tensor(g, (size_t)mi_graph_find_tensor(g, "w_alias"));
    cr_assert_eq(a->role, MI_ROLE_WEIGHT);
    cr_assert_eq(a->data, w->data, "the alias points at the same bytes");
    mi_graph_destroy(g);
    ob_free(&b);
}

/* ShuffleNet-style: Slice bounds computed with Shape, Gather, Div, Mul,
 * Add, Unsqueeze and Concat on int64, plus Constant nodes. */
static void shuffle_model(ob *b) {
    ob_init(b, 13);
    ob_input(b, "x", OB_FLOAT, 4, (int64_t[]){-1, 8, 4, 4});
    ob_node(b, "Shape", "shape", "x", "s");
    Onnx__NodeProto *k1 = ob_node(b, "Constant", "k1", "", "one");
    ob_attr_tensor(b, k1, "value", ob_tensor(b, "", OB_INT64, 0, NULL, (int64_t[]){1}, 8));
    Onnx__NodeProto *k2 = ob_node(b, "Constant", "k2", "", "two");
    ob_attr_int(b, k2, "value_int", 2);
    ob_node(b, "Gather", "gather", "s,one", "c");          /* 8 */
    ob_node(b, "Div", "div", "c,two", "half");             /* 4 */
    ob_node(b, "Mul", "mul", "half,one", "half1");         /* 4 */
    ob_node(b, "Add", "add", "half1,one", "end0");         /* 5 */
    ob_node(b, "Sub", "sub", "end0,one", "end");           /* 4 */
    Onnx__NodeProto *u = ob_node(b, "Unsqueeze", "unsq", "end,axes0", "ends");
    (void)u;
    ob_init_int64s(b, "axes0", 1, (int64_t[]){1}, (int64_t[]){0});
    ob_init_int64s(b, "starts", 1, (int64_t[]){1}, (int64_t[]){0});
    ob_init_int64s(b, "ax1", 1, (int64_t[]){1}, (int64_t[]){1});
    ob_node(b, "Slice", "slice", "x,starts,ends,ax1", "left");
    ob_init_int64s(b, "m1", 1, (int64_t[]){1}, (int64_t[]){-1});
    ob_node(b, "Concat", "cat", "ends,m1", "rs0");
    Onnx__NodeProto *cat = b->nodes[b->graph.n_node - 1];
    ob_attr_int(b, cat, "axis", 0);
    ob_node(b, "Cast", "cast", "rs0", "rs1");
    ob_attr_int(b, b->nodes[b->graph.n_node - 1], "to", OB_INT32);
    ob_node(b, "Cast", "cast2", "rs1", "rs");
    ob_attr_int(b, b->nodes[b->graph.n_node - 1], "to", OB_INT64);
    ob_node(b, "Reshape", "reshape", "left,rs", "y");
    ob_output(b, "y");
}

Test(onnx, shape_arithmetic_folds) {
    ob b;
    shuffle_model(&b);
    mi_graph *g = load_ob(&b, NULL);
    check_invariants(g);
    cr_assert_eq(mi_graph_node_count(g), 2, "only Slice and Reshape remain");
    cr_assert_eq(mi_graph_node(g, 0)->op, MI_OP_SLICE);
    cr_assert_eq(mi_graph_node(g, 1)->op, MI_OP_RESHAPE);
    expect_dims(mi_graph_tensor(g, (size_t)mi_graph_find_tensor(g, "left")), 4, (int64_t[]){1, 4, 4, 4});
    expect_dims(output0(g), 2, (int64_t[]){4, 16});
    const mi_tensor *rs = mi_graph_tensor(g, (size_t)mi_graph_find_tensor(g, "rs"));
    cr_assert_eq(rs->role, MI_ROLE_WEIGHT);
    cr_assert_eq(((const int64_t *)rs->data)[0], 4);
    cr_assert_eq(((const int64_t *)rs->data)[1], -1);
    for (size_t i = 0; i < mi_graph_tensor_count(g); i++)
        cr_assert_neq(mi_graph_tensor(g, i)->role == MI_ROLE_ACTIVATION &&
                          mi_graph_tensor(g, i)->dtype == MI_DTYPE_INT64, 1,
                      "int64 activation '%s' left", mi_graph_tensor(g, i)->name);
    mi_graph_destroy(g);

    /* With folding off the nodes stay, and shapes are still inferred. */
    mi_load_options o;
    mi_load_options_init(&o);
    o.fold_constants = 0;
    o.batch = 2;
    g = load_ob(&b, &o);
    check_invariants(g);
    cr_assert_eq(mi_graph_node_count(g), 14);
    expect_dims(output0(g), 2, (int64_t[]){4, 32});
    mi_graph_destroy(g);
    ob_free(&b);
}
