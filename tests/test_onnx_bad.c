/* Bad models, built as bytes with protobuf-c: each must fail with a clear
 * status and a message naming what is wrong, leak nothing, and never
 * crash (truncated files, random bytes, injected allocation failures). */
#include <criterion/criterion.h>

#include "common/alloc_hook.h"
#include "mini_infer/graph.h"
#include "onnx_build.h"
#include "onnx/onnx_internal.h"
#include "test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* x [1,3,8,8] -> Conv(w [4,3,3,3], b [4], pads 1) -> Relu -> y. */
static Onnx__NodeProto *conv_model(ob *b, int64_t opset) {
    ob_init(b, opset);
    ob_input(b, "x", OB_FLOAT, 4, (int64_t[]){1, 3, 8, 8});
    ob_init_floats(b, "w", 4, (int64_t[]){4, 3, 3, 3}, NULL);
    ob_init_floats(b, "b", 1, (int64_t[]){4}, NULL);
    Onnx__NodeProto *c = ob_node(b, "Conv", "conv1", "x,w,b", "c");
    ob_attr_ints(b, c, "pads", 4, (int64_t[]){1, 1, 1, 1});
    ob_node(b, "Relu", "relu1", "c", "y");
    ob_output(b, "y");
    return c;
}

static mi_status load(ob *b, mi_graph **g) {
    size_t len;
    uint8_t *p = ob_pack(b, &len);
    return mi_graph_load_memory(p, len, "bad.onnx", NULL, g);
}

/* Loads, expects status want and every non-NULL substring in the message. */
static void expect_error(ob *b, mi_status want, const char *s1, const char *s2, const char *s3) {
    int64_t before = mi__alloc_outstanding();
    mi_graph *g = (mi_graph *)1;
    mi_status st = load(b, &g);
    const char *msg = mi_last_error();
    cr_assert_eq(st, want, "status %s, expected %s: %s", mi_status_name(st), mi_status_name(want), msg);
    cr_assert_null(g);
    const char *subs[3] = {s1, s2, s3};
    for (int i = 0; i < 3; i++)
        if (subs[i]) cr_assert(strstr(msg, subs[i]), "message lacks '%s': %s", subs[i], msg);
    cr_assert_eq(mi__alloc_outstanding(), before, "leaked %lld blocks",
                 (long long)(mi__alloc_outstanding() - before));
    ob_free(b);
}

Test(onnx_bad, baseline_loads) {
    ob b;
    conv_model(&b, 13);
    mi_graph *g = NULL;
    cr_assert_eq(load(&b, &g), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_node_count(g), 1);
    mi_graph_destroy(g);
    ob_free(&b);
}

Test(onnx_bad, truncated_at_every_offset) {
    ob b;
    conv_model(&b, 13);
    size_t len;
    uint8_t *p = ob_pack(&b, &len);
    int64_t before = mi__alloc_outstanding();
    for (size_t cut = 0; cut < len; cut++) {
        mi_graph *g = NULL;
        /* A copy of exactly cut bytes, so ASan sees any read past the end. */
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, p, cut);
        mi_status st = mi_graph_load_memory(copy, cut, "cut.onnx", NULL, &g);
        free(copy);
        cr_assert_neq(st, MI_OK, "a model cut to %zu of %zu bytes loaded", cut, len);
        cr_assert_null(g);
        cr_assert(mi_last_error()[0], "no message at cut %zu", cut);
    }
    cr_assert_eq(mi__alloc_outstanding(), before);
    ob_free(&b);
}

Test(onnx_bad, random_bytes) {
    mi_rng r = {42};
    int64_t before = mi__alloc_outstanding();
    for (int i = 0; i < 300; i++) {
        size_t len = 1 + mi_rng_below(&r, 2048);
        uint8_t *buf = malloc(len);
        for (size_t k = 0; k < len; k++) buf[k] = (uint8_t)mi_rng_next(&r);
        mi_graph *g = NULL;
        mi_status st = mi_graph_load_memory(buf, len, "random", NULL, &g);
        free(buf);
        cr_assert_neq(st, MI_OK);
        cr_assert_null(g);
    }
    cr_assert_eq(mi__alloc_outstanding(), before);
    cr_assert_eq(mi_graph_load_memory("not a model", 11, "text", NULL, &(mi_graph *){0}), MI_ERR_PARSE);
}

Test(onnx_bad, deep_nesting_is_refused) {
    /* Graph attributes nest graphs; 10000 levels would blow protobuf-c's
     * recursion. Field 1 of ModelProto is ir_version, so build the nesting
     * inside an attribute: node(1) -> attribute(5) -> g(6) -> node(1)... */
    size_t depth = 10000, cap = depth * 16 + 64, len = 0;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    /* innermost: empty */
    for (size_t i = 0; i < depth; i++) {
        static const uint8_t tags[3] = {(1 << 3) | 2, (6 << 3) | 2, (5 << 3) | 2};
        uint8_t tag = tags[i % 3];
        size_t w = 0;
        tmp[w++] = tag;
        size_t v = len;
        do {
            tmp[w++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        memcpy(tmp + w, buf, len);
        len += w;
        memcpy(buf, tmp, len);
    }
    /* The outermost tag must be a GraphProto field of ModelProto: 7. */
    uint8_t *model = malloc(len + 16);
    size_t w = 0;
    model[w++] = (7 << 3) | 2;
    size_t v = len;
    do {
        model[w++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(model + w, buf, len);
    mi_graph *g = NULL;
    mi_status st = mi_graph_load_memory(model, w + len, "deep", NULL, &g);
    cr_assert_eq(st, MI_ERR_PARSE, "%s", mi_last_error());
    cr_assert(strstr(mi_last_error(), "nested"), "%s", mi_last_error());
    free(buf);
    free(tmp);
    free(model);
}

Test(onnx_bad, unknown_op) {
    ob b;
    conv_model(&b, 13);
    b.nodes[1]->op_type = ob_str(&b, "FancyRelu");
    expect_error(&b, MI_ERR_UNSUPPORTED, "relu1", "FancyRelu", "Conv, Relu, Clip");
}

Test(onnx_bad, non_default_domain) {
    ob b;
    conv_model(&b, 13);
    b.nodes[1]->domain = ob_str(&b, "com.microsoft");
    expect_error(&b, MI_ERR_UNSUPPORTED, "relu1", "com.microsoft", NULL);
}

Test(onnx_bad, cycle_names_a_node_on_it) {
    ob b;
    ob_init(&b, 13);
    ob_input(&b, "x", OB_FLOAT, 2, (int64_t[]){1, 4});
    ob_node(&b, "Relu", "n0", "x", "a");
    ob_node(&b, "Add", "n1", "a,d", "b");
    ob_node(&b, "Relu", "n2", "b", "c");
    ob_node(&b, "Relu", "n3", "c", "d");
    ob_node(&b, "Relu", "after", "d", "y");
    ob_output(&b, "y");
    mi_graph *g = NULL;
    mi_status st = load(&b, &g);
    cr_assert_eq(st, MI_ERR_GRAPH, "%s", mi_last_error());
    const char *m = mi_last_error();
    cr_assert(strstr(m, "cycle"), "%s", m);
    cr_assert(strstr(m, "'n1'") || strstr(m, "'n2'") || strstr(m, "'n3'"), "%s", m);
    cr_assert_null(strstr(m, "'after'"), "%s", m);
    ob_free(&b);
}

Test(onnx_bad, missing_input) {
    ob b;
    conv_model(&b, 13);
    b.nodes[1]->input[0] = ob_str(&b, "nowhere");
    expect_error(&b, MI_ERR_GRAPH, "nowhere", "relu1", "not defined");
}

Test(onnx_bad, missing_output) {
    ob b;
    conv_model(&b, 13);
    ob_output(&b, "ghost");
    expect_error(&b, MI_ERR_GRAPH, "ghost", NULL, NULL);
}

Test(onnx_bad, duplicate_initializer) {
    ob b;
    conv_model(&b, 13);
    ob_init_floats(&b, "w", 1, (int64_t[]){2}, NULL);
    expect_error(&b, MI_ERR_GRAPH, "'w'", "more than once", NULL);
}

Test(onnx_bad, duplicate_node_output) {
    ob b;
    conv_model(&b, 13);
    ob_node(&b, "Relu", "again", "x", "c");
    expect_error(&b, MI_ERR_GRAPH, "'c'", "again", NULL);
}

Test(onnx_bad, conv_channel_mismatch) {
    ob b;
    conv_model(&b, 13);
    ob_init_floats(&b, "w5", 4, (int64_t[]){4, 5, 3, 3}, NULL);
    b.nodes[0]->input[1] = ob_str(&b, "w5");
    expect_error(&b, MI_ERR_SHAPE, "conv1", "input channels", NULL);
}

Test(onnx_bad, conv_bias_length) {
    ob b;
    conv_model(&b, 13);
    ob_init_floats(&b, "b7", 1, (int64_t[]){7}, NULL);
    b.nodes[0]->input[2] = ob_str(&b, "b7");
    expect_error(&b, MI_ERR_SHAPE, "conv1", "b7", "[4]");
}

Test(onnx_bad, dim_overflow) {
    ob b;
    conv_model(&b, 13);
    b.inputs[0] = ob_value_info(&b, "x", OB_FLOAT, 4, (int64_t[]){1, 3, (int64_t)1 << 62, 8});
    expect_error(&b, MI_ERR_OVERFLOW, "'x'", "overflow", NULL);
}

Test(onnx_bad, zero_dim) {
    ob b;
    conv_model(&b, 13);
    b.inputs[0] = ob_value_info(&b, "x", OB_FLOAT, 4, (int64_t[]){1, 3, 0, 8});
    expect_error(&b, MI_ERR_SHAPE, "'x'", "dim 2", NULL);
}

Test(onnx_bad, negative_dim) {
    ob b;
    conv_model(&b, 13);
    b.inputs[0]->type->tensor_type->shape->dim[3]->dim_value = -5;
    expect_error(&b, MI_ERR_SHAPE, "'x'", "-5", NULL);
}

Test(onnx_bad, negative_initializer_dim) {
    ob b;
    conv_model(&b, 13);
    b.inits[1]->dims[0] = -4;
    expect_error(&b, MI_ERR_SHAPE, "'b'", "-4", NULL);
}

Test(onnx_bad, dynamic_spatial_dim) {
    ob b;
    conv_model(&b, 13);
    b.inputs[0] = ob_value_info(&b, "x", OB_FLOAT, 4, (int64_t[]){-1, 3, -1, 8});
    expect_error(&b, MI_ERR_SHAPE, "'x'", "dim 2", "N2");
}

Test(onnx_bad, stride_zero) {
    ob b;
    Onnx__NodeProto *c = conv_model(&b, 13);
    ob_attr_ints(&b, c, "strides", 2, (int64_t[]){0, 1});
    expect_error(&b, MI_ERR_SHAPE, "conv1", "strides", NULL);
}

Test(onnx_bad, pads_larger_than_input) {
    ob b;
    Onnx__NodeProto *c = conv_model(&b, 13);
    c->attribute[0]->ints[0] = 20;
    expect_error(&b, MI_ERR_SHAPE, "conv1", "pads", NULL);
}

Test(onnx_bad, pool_pads_not_below_kernel) {
    ob b;
    conv_model(&b, 13);
    Onnx__NodeProto *p = ob_node(&b, "MaxPool", "pool1", "y", "z");
    ob_attr_ints(&b, p, "kernel_shape", 2, (int64_t[]){2, 2});
    ob_attr_ints(&b, p, "pads", 4, (int64_t[]){2, 2, 2, 2});
    b.outputs[0] = ob_value_info(&b, "z", 0, 0, NULL);
    expect_error(&b, MI_ERR_SHAPE, "pool1", "pads", NULL);
}

Test(onnx_bad, kernel_larger_than_input) {
    ob b;
    conv_model(&b, 13);
    ob_init_floats(&b, "w9", 4, (int64_t[]){4, 3, 11, 11}, NULL);
    b.nodes[0]->input[1] = ob_str(&b, "w9");
    expect_error(&b, MI_ERR_SHAPE, "conv1", "kernel", NULL);
}

Test(onnx_bad, bad_reshape) {
    ob b;
    conv_model(&b, 13);
    ob_init_int64s(&b, "shape", 1, (int64_t[]){2}, (int64_t[]){5, -1});
    ob_node(&b, "Reshape", "reshape1", "y,shape", "z");
    b.outputs[0] = ob_value_info(&b, "z", 0, 0, NULL);
    expect_error(&b, MI_ERR_SHAPE, "reshape1", "256 elements", NULL);
}

Test(onnx_bad, unsupported_opset) {
    ob b;
    conv_model(&b, 5);
    expect_error(&b, MI_ERR_UNSUPPORTED, "opset 5", NULL, NULL);
    conv_model(&b, 99);
    expect_error(&b, MI_ERR_UNSUPPORTED, "opset 99", NULL, NULL);
    conv_model(&b, 13);
    b.opset.domain = ob_str(&b, "ai.onnx.ml");
    expect_error(&b, MI_ERR_UNSUPPORTED, "opset", NULL, NULL);
}

Test(onnx_bad, wrong_dtype) {
    ob b;
    conv_model(&b, 13);
    b.inputs[0] = ob_value_info(&b, "x", OB_INT64, 4, (int64_t[]){1, 3, 8, 8});
    expect_error(&b, MI_ERR_UNSUPPORTED, "conv1", "int64", "float");
}

Test(onnx_bad, mixed_dtypes) {
    ob b;
    conv_model(&b, 13);
    ob_init_int64s(&b, "k", 1, (int64_t[]){1}, (int64_t[]){3});
    ob_node(&b, "Add", "add1", "y,k", "z");
    b.outputs[0] = ob_value_info(&b, "z", 0, 0, NULL);
    expect_error(&b, MI_ERR_GRAPH, "add1", "same dtype", NULL);
}

Test(onnx_bad, bad_axis) {
    ob b;
    conv_model(&b, 13);
    Onnx__NodeProto *s = ob_node(&b, "Softmax", "sm", "y", "z");
    ob_attr_int(&b, s, "axis", 4);
    b.outputs[0] = ob_value_info(&b, "z", 0, 0, NULL);
    expect_error(&b, MI_ERR_SHAPE, "sm", "axis 4", NULL);
}

Test(onnx_bad, raw_data_length) {
    ob b;
    conv_model(&b, 13);
    b.inits[1]->raw_data.len = 12;
    expect_error(&b, MI_ERR_PARSE, "'b'", "raw_data", NULL);
}

Test(onnx_bad, no_graph_and_no_opset) {
    ob b;
    conv_model(&b, 13);
    b.model.graph = NULL;
    expect_error(&b, MI_ERR_PARSE, "no graph", NULL, NULL);
    conv_model(&b, 13);
    b.model.n_opset_import = 0;
    expect_error(&b, MI_ERR_UNSUPPORTED, "opset", NULL, NULL);
}

Test(onnx_bad, missing_and_empty_files) {
    mi_graph *g = (mi_graph *)1;
    cr_assert_eq(mi_graph_load("/nonexistent/model.onnx", NULL, &g), MI_ERR_IO);
    cr_assert_null(g);
    cr_assert(strstr(mi_last_error(), "/nonexistent/model.onnx"));
    char dir[] = "/tmp/mi_bad_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/empty.onnx", dir);
    fclose(fopen(path, "wb"));
    cr_assert_eq(mi_graph_load(path, NULL, &g), MI_ERR_PARSE);
    cr_assert(strstr(mi_last_error(), "empty"), "%s", mi_last_error());
    cr_assert_eq(mi_graph_load(dir, NULL, &g), MI_ERR_IO, "%s", mi_last_error());
    unlink(path);
    rmdir(dir);
}

/* ---- external data ----------------------------------------------------- */

typedef struct ext_case {
    char dir[64];
    char model[128];
    char data[128];
} ext_case;

/* The conv model with "w" external at data/weights.bin, offset 16. */
static void ext_setup(ext_case *e, ob *b, const char *location, long long offset, long long length,
                      size_t file_bytes) {
    strcpy(e->dir, "/tmp/mi_ext_XXXXXX");
    cr_assert_not_null(mkdtemp(e->dir));
    snprintf(e->model, sizeof e->model, "%s/model.onnx", e->dir);
    snprintf(e->data, sizeof e->data, "%s/weights.bin", e->dir);
    conv_model(b, 13);
    ob_external(b, b->inits[0], location, offset, length);
    cr_assert_eq(ob_write(b, e->model), 0);
    if (file_bytes) {
        FILE *f = fopen(e->data, "wb");
        for (size_t i = 0; i < file_bytes; i++) fputc((int)(i % 251), f);
        fclose(f);
    }
}

static void ext_cleanup(ext_case *e, ob *b) {
    unlink(e->model);
    unlink(e->data);
    rmdir(e->dir);
    ob_free(b);
}

static void ext_expect(ext_case *e, mi_status want, const char *s1, const char *s2) {
    int64_t before = mi__alloc_outstanding();
    mi_graph *g = NULL;
    mi_status st = mi_graph_load(e->model, NULL, &g);
    cr_assert_eq(st, want, "%s: %s", mi_status_name(st), mi_last_error());
    if (s1) cr_assert(strstr(mi_last_error(), s1), "%s", mi_last_error());
    if (s2) cr_assert(strstr(mi_last_error(), s2), "%s", mi_last_error());
    mi_graph_destroy(g);
    cr_assert_eq(mi__alloc_outstanding(), before);
}

Test(onnx_bad, external_data_loads) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "weights.bin", 16, 432, 16 + 432);
    mi_graph *g = NULL;
    cr_assert_eq(mi_graph_load(e.model, NULL, &g), MI_OK, "%s", mi_last_error());
    const mi_tensor *w = mi_graph_tensor(g, (size_t)mi_graph_find_tensor(g, "w"));
    cr_assert_eq(w->role, MI_ROLE_WEIGHT);
    cr_assert_eq(w->nbytes, 432);
    cr_assert_eq(((const uint8_t *)w->data)[0], 16);
    cr_assert_eq(((const uint8_t *)w->data)[431], (16 + 431) % 251);
    mi_graph_destroy(g);
    ext_cleanup(&e, &b);
}

Test(onnx_bad, external_data_missing_file) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "weights.bin", 0, -1, 0);
    ext_expect(&e, MI_ERR_IO, "'w'", "weights.bin");
    ext_cleanup(&e, &b);
}

Test(onnx_bad, external_data_short_file) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "weights.bin", 16, -1, 100);
    ext_expect(&e, MI_ERR_IO, "'w'", "too short");
    ext_cleanup(&e, &b);
}

Test(onnx_bad, external_data_bad_length) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "weights.bin", 0, 100, 1000);
    ext_expect(&e, MI_ERR_PARSE, "'w'", "length 100");
    ext_cleanup(&e, &b);
}

Test(onnx_bad, external_data_path_escapes) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "/etc/passwd", 0, -1, 0);
    ext_expect(&e, MI_ERR_PARSE, "/etc/passwd", "relative");
    ext_cleanup(&e, &b);
    ext_setup(&e, &b, "sub/../../weights.bin", 0, -1, 0);
    ext_expect(&e, MI_ERR_PARSE, "..", NULL);
    ext_cleanup(&e, &b);
}

/* A file outside the folder the model's external data must not reach:
 * 432 + 16 bytes, as the model expects. */
static void outside_file(char *path, size_t len) {
    snprintf(path, len, "/tmp/mi_ext_outside_%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 448; i++) fputc(7, f);
    fclose(f);
}

static void expect_with(ext_case *e, int anywhere, mi_status want, const char *s1, const char *s2) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.external_data_anywhere = anywhere;
    int64_t before = mi__alloc_outstanding();
    mi_graph *g = NULL;
    mi_status st = mi_graph_load(e->model, &o, &g);
    cr_assert_eq(st, want, "%s: %s", mi_status_name(st), mi_last_error());
    if (s1) cr_assert(strstr(mi_last_error(), s1), "%s", mi_last_error());
    if (s2) cr_assert(strstr(mi_last_error(), s2), "%s", mi_last_error());
    mi_graph_destroy(g);
    cr_assert_eq(mi__alloc_outstanding(), before);
}

/* The file a symlink: refused, naming the tensor, the path and the opt-in; read with it. */
Test(onnx_bad, external_data_symlink_out_of_the_folder) {
    ext_case e;
    ob b;
    char out[128];
    outside_file(out, sizeof out);
    ext_setup(&e, &b, "weights.bin", 16, -1, 0);
    cr_assert_eq(symlink(out, e.data), 0);
    expect_with(&e, 0, MI_ERR_IO, "'w'", "external_data_anywhere");
    cr_assert(strstr(mi_last_error(), "weights.bin") && strstr(mi_last_error(), "outside"), "%s", mi_last_error());
    expect_with(&e, 1, MI_OK, NULL, NULL);
    unlink(out);
    ext_cleanup(&e, &b);
}

/* A folder on the way a symlink to one outside. */
Test(onnx_bad, external_data_through_a_symlinked_folder) {
    ext_case e;
    ob b;
    char out[128], link[200], outdir[64];
    strcpy(outdir, "/tmp/mi_ext_outdir_XXXXXX");
    cr_assert_not_null(mkdtemp(outdir));
    snprintf(out, sizeof out, "%s/weights.bin", outdir);
    FILE *f = fopen(out, "wb");
    for (int i = 0; i < 448; i++) fputc(3, f);
    fclose(f);
    ext_setup(&e, &b, "sub/weights.bin", 16, -1, 0);
    snprintf(link, sizeof link, "%s/sub", e.dir);
    cr_assert_eq(symlink(outdir, link), 0);
    expect_with(&e, 0, MI_ERR_IO, "'w'", "outside");
    expect_with(&e, 1, MI_OK, NULL, NULL);
    unlink(link);
    unlink(out);
    rmdir(outdir);
    ext_cleanup(&e, &b);
}

/* A hard link to a file outside looks like any file inside: a file with
 * more than one link is refused, unless trusted. */
Test(onnx_bad, external_data_hard_link) {
    ext_case e;
    ob b;
    char out[128];
    outside_file(out, sizeof out);
    ext_setup(&e, &b, "weights.bin", 16, -1, 0);
    if (link(out, e.data) != 0) {
        unlink(out);
        ext_cleanup(&e, &b);
        cr_skip_test("no hard link across these folders here");
    }
    expect_with(&e, 0, MI_ERR_IO, "'w'", "hard links");
    expect_with(&e, 1, MI_OK, NULL, NULL);
    unlink(out);
    ext_cleanup(&e, &b);
}

/* A FIFO named as external data is refused at once, not waited on; so is
 * a device. */
Test(onnx_bad, external_data_fifo_and_device, .timeout = 20) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "weights.bin", 0, -1, 0);
    cr_assert_eq(mkfifo(e.data, 0600), 0);
    expect_with(&e, 0, MI_ERR_IO, "'w'", "not a regular file");
    expect_with(&e, 1, MI_ERR_IO, "'w'", "not a regular file");
    unlink(e.data);
    if (mknod(e.data, S_IFCHR | 0600, makedev(1, 5)) == 0) { /* /dev/zero's numbers */
        expect_with(&e, 0, MI_ERR_IO, "'w'", "not a regular file");
        unlink(e.data);
    } else {
        cr_log_info("mknod: %s (not root): the device case is the symlink one", strerror(errno));
    }
    cr_assert_eq(symlink("/dev/zero", e.data), 0);
    expect_with(&e, 0, MI_ERR_IO, "'w'", "outside");
    expect_with(&e, 1, MI_ERR_IO, "'w'", "not a regular file");
    ext_cleanup(&e, &b);
}

/* The fallback walk (kernels without openat2): files and folders beneath
 * open, every symlink is refused, also one that stays inside. */
Test(onnx_bad, external_data_walk_without_openat2) {
    char dir[64], path[160];
    strcpy(dir, "/tmp/mi_walk_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/sub", dir);
    cr_assert_eq(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/sub/w.bin", dir);
    FILE *f = fopen(path, "wb");
    fputs("weights", f);
    fclose(f);
    char link_in[160], link_dir[160];
    snprintf(link_in, sizeof link_in, "%s/inside.bin", dir);
    cr_assert_eq(symlink("sub/w.bin", link_in), 0);
    snprintf(link_dir, sizeof link_dir, "%s/alias", dir);
    cr_assert_eq(symlink("sub", link_dir), 0);
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(dfd, 0);
    int fd = mi__open_walk(dfd, "sub/w.bin");
    cr_assert_geq(fd, 0, "a file beneath opens: %s", strerror(errno));
    close(fd);
    fd = mi__open_walk(dfd, "./sub//w.bin");
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_lt(mi__open_walk(dfd, "inside.bin"), 0);
    cr_assert_eq(errno, ELOOP);
    cr_assert_lt(mi__open_walk(dfd, "alias/w.bin"), 0);
    cr_assert_eq(errno, ELOOP);
    cr_assert_lt(mi__open_walk(dfd, "sub/none.bin"), 0);
    cr_assert_eq(errno, ENOENT);
    close(dfd);
    unlink(link_in);
    unlink(link_dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/sub", dir);
    rmdir(path);
    rmdir(dir);
}

Test(onnx_bad, external_data_from_memory_is_refused) {
    ext_case e;
    ob b;
    ext_setup(&e, &b, "weights.bin", 0, -1, 432);
    expect_error(&b, MI_ERR_UNSUPPORTED, "'w'", "external", NULL);
    unlink(e.model);
    unlink(e.data);
    rmdir(e.dir);
}

/* ---- allocation failure injection ----------------------------------------- */

static void inject_all(const uint8_t *bytes, size_t len, const char *path) {
    int64_t before = mi__alloc_outstanding();
    uint64_t n;
    for (n = 1; n < 100000; n++) {
        mi_graph *g = NULL;
        mi__alloc_fail_at(n);
        mi_status st = path ? mi_graph_load(path, NULL, &g) : mi_graph_load_memory(bytes, len, "m", NULL, &g);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        if (st == MI_OK) {
            cr_assert(!fired, "allocation %llu failed but the load succeeded", (unsigned long long)n);
            mi_graph_destroy(g);
            break;
        }
        cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu failed: %s (%s)", (unsigned long long)n,
                     mi_status_name(st), mi_last_error());
        cr_assert_null(g);
        cr_assert_eq(mi__alloc_outstanding(), before, "allocation %llu failed and leaked %lld blocks",
                     (unsigned long long)n, (long long)(mi__alloc_outstanding() - before));
    }
    cr_assert_gt(n, 20, "the load made only %llu allocations", (unsigned long long)n);
    cr_assert_eq(mi__alloc_outstanding(), before);
}

Test(onnx_bad, allocation_failure_injection) {
    ob b;
    conv_model(&b, 13);
    /* Exercise folding, fusion and attribute tensors too. */
    Onnx__NodeProto *k = ob_node(&b, "Constant", "k", "", "kv");
    ob_attr_tensor(&b, k, "value", ob_tensor(&b, "kt", OB_INT64, 1, (int64_t[]){2},
                                              (int64_t[]){1, -1}, 16));
    ob_node(&b, "Shape", "shape", "y", "s");
    ob_init_int64s(&b, "zero", 1, (int64_t[]){1}, (int64_t[]){0});
    ob_node(&b, "Gather", "gather", "s,zero", "n");
    ob_node(&b, "Reshape", "reshape", "y,kv", "z");
    b.outputs[0] = ob_value_info(&b, "z", 0, 0, NULL);
    size_t len;
    uint8_t *p = ob_pack(&b, &len);
    inject_all(p, len, NULL);
    char path[] = "/tmp/mi_inject_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, p, len), (ssize_t)len);
    close(fd);
    inject_all(NULL, 0, path);
    unlink(path);
    ob_free(&b);
}
