/* Building small ONNX models as bytes in C, with protobuf-c's generated
 * API (header-only, for the tests). Every allocation is tracked by the
 * builder and freed by ob_free; the test code stays declarative:
 *
 *     ob b;
 *     ob_init(&b, 13);
 *     ob_input(&b, "x", OB_FLOAT, 4, (int64_t[]){1, 3, 8, 8});
 *     ob_init_floats(&b, "w", 4, (int64_t[]){4, 3, 3, 3}, NULL);
 *     Onnx__NodeProto *c = ob_node(&b, "Conv", "conv1", "x,w", "y");
 *     ob_attr_ints(&b, c, "pads", 4, (int64_t[]){1, 1, 1, 1});
 *     ob_output(&b, "y");
 *     size_t len;
 *     uint8_t *bytes = ob_pack(&b, &len);
 *     ... mi_graph_load_memory(bytes, len, ...) ...
 *     ob_free(&b);
 *
 * Input and output lists are comma-separated names ("x,,b" leaves the
 * second input out). */
#ifndef MI_TEST_ONNX_BUILD_H
#define MI_TEST_ONNX_BUILD_H

#include "proto/onnx.pb-c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OB_FLOAT = 1, OB_INT32 = 6, OB_INT64 = 7 };
#define OB_MAX 256

typedef struct ob {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto *nodes[OB_MAX];
    Onnx__TensorProto *inits[OB_MAX];
    Onnx__ValueInfoProto *inputs[OB_MAX], *outputs[OB_MAX];
    void **allocs;
    size_t nallocs;
} ob;

static inline void *ob_alloc(ob *b, size_t n) {
    void *p = calloc(1, n ? n : 1);
    void **a = (void **)realloc(b->allocs, (b->nallocs + 1) * sizeof(void *));
    if (!p || !a) abort(); /* test helper: out of memory ends the test */
    b->allocs = a;
    b->allocs[b->nallocs++] = p;
    return p;
}

static inline char *ob_str(ob *b, const char *s) {
    char *d = (char *)ob_alloc(b, strlen(s) + 1);
    memcpy(d, s, strlen(s));
    return d;
}

static inline void ob_init(ob *b, int64_t opset) {
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->model.has_ir_version = 1;
    b->model.ir_version = 8;
    b->model.producer_name = ob_str(b, "mini-infer tests");
    b->opset.domain = ob_str(b, "");
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->model.n_opset_import = 1;
    b->model.opset_import = b->opsets;
    b->model.graph = &b->graph;
    b->graph.name = ob_str(b, "test");
    b->graph.node = b->nodes;
    b->graph.initializer = b->inits;
    b->graph.input = b->inputs;
    b->graph.output = b->outputs;
}

/* Splits "a,b,,c" into a tracked array; *n gets the count. */
static inline char **ob_list(ob *b, const char *csv, size_t *n) {
    size_t cnt = csv[0] ? 1 : 0;
    for (const char *p = csv; *p; p++) cnt += *p == ',';
    char **v = (char **)ob_alloc(b, (cnt ? cnt : 1) * sizeof(char *));
    const char *s = csv;
    for (size_t i = 0; i < cnt; i++) {
        size_t len = strcspn(s, ",");
        v[i] = (char *)ob_alloc(b, len + 1);
        memcpy(v[i], s, len);
        s += len + (s[len] == ',');
    }
    *n = cnt;
    return v;
}

/* A value info; a dim < 0 is dynamic: dim_param "N<i>" (or no value when
 * dim is -2). elem 0 gives no type at all. */
static inline Onnx__ValueInfoProto *ob_value_info(ob *b, const char *name, int32_t elem, int ndim,
                                                 const int64_t *dims) {
    Onnx__ValueInfoProto *vi = (Onnx__ValueInfoProto *)ob_alloc(b, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = ob_str(b, name);
    if (!elem) return vi;
    Onnx__TypeProto *tp = (Onnx__TypeProto *)ob_alloc(b, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = (Onnx__TypeProto__Tensor *)ob_alloc(b, sizeof *tt);
    Onnx__TensorShapeProto *sp = (Onnx__TensorShapeProto *)ob_alloc(b, sizeof *sp);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sp);
    vi->type = tp;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    tt->shape = sp;
    sp->n_dim = (size_t)ndim;
    sp->dim = (Onnx__TensorShapeProto__Dimension **)ob_alloc(b, (size_t)(ndim ? ndim : 1) * sizeof(void *));
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d =
            (Onnx__TensorShapeProto__Dimension *)ob_alloc(b, sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else if (dims[i] == -1) {
            char p[16];
            snprintf(p, sizeof p, "N%d", i);
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = ob_str(b, p);
        }
        sp->dim[i] = d;
    }
    return vi;
}

/* A graph input; dim_value < 0 literally needs ob_input_raw_dim. */
static inline void ob_input(ob *b, const char *name, int32_t elem, int ndim, const int64_t *dims) {
    b->inputs[b->graph.n_input++] = ob_value_info(b, name, elem, ndim, dims);
}

static inline void ob_output(ob *b, const char *name) {
    b->outputs[b->graph.n_output++] = ob_value_info(b, name, 0, 0, NULL);
}

/* A tensor with raw_data (copied; NULL data gives deterministic values). */
static inline Onnx__TensorProto *ob_tensor(ob *b, const char *name, int32_t dtype, int ndim,
                                           const int64_t *dims, const void *data, size_t nbytes) {
    Onnx__TensorProto *t = (Onnx__TensorProto *)ob_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = ob_str(b, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)ndim;
    t->dims = (int64_t *)ob_alloc(b, (size_t)(ndim ? ndim : 1) * sizeof(int64_t));
    for (int i = 0; i < ndim; i++) t->dims[i] = dims[i];
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = (uint8_t *)ob_alloc(b, nbytes);
    if (data) memcpy(t->raw_data.data, data, nbytes);
    else
        for (size_t i = 0; i < nbytes; i++) t->raw_data.data[i] = (uint8_t)(i * 7 % 13);
    return t;
}

static inline size_t ob_numel(int ndim, const int64_t *dims) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    return n;
}

/* A float initializer; NULL data fills 0.01 * (i % 7). */
static inline Onnx__TensorProto *ob_init_floats(ob *b, const char *name, int ndim,
                                                const int64_t *dims, const float *data) {
    size_t n = ob_numel(ndim, dims);
    float *v = (float *)ob_alloc(b, n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = data ? data[i] : 0.01f * (float)(i % 7);
    Onnx__TensorProto *t = ob_tensor(b, name, OB_FLOAT, ndim, dims, v, n * sizeof(float));
    b->inits[b->graph.n_initializer++] = t;
    return t;
}

static inline Onnx__TensorProto *ob_init_int64s(ob *b, const char *name, int ndim,
                                                const int64_t *dims, const int64_t *data) {
    size_t n = ob_numel(ndim, dims);
    Onnx__TensorProto *t = ob_tensor(b, name, OB_INT64, ndim, dims, data, n * sizeof(int64_t));
    b->inits[b->graph.n_initializer++] = t;
    return t;
}

static inline Onnx__NodeProto *ob_node(ob *b, const char *op, const char *name, const char *ins,
                                       const char *outs) {
    Onnx__NodeProto *n = (Onnx__NodeProto *)ob_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = ob_str(b, op);
    if (name) n->name = ob_str(b, name);
    n->input = ob_list(b, ins, &n->n_input);
    n->output = ob_list(b, outs, &n->n_output);
    n->attribute = (Onnx__AttributeProto **)ob_alloc(b, 16 * sizeof(void *));
    b->nodes[b->graph.n_node++] = n;
    return n;
}

static inline Onnx__AttributeProto *ob_attr(ob *b, Onnx__NodeProto *n, const char *name,
                                            Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = (Onnx__AttributeProto *)ob_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = ob_str(b, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static inline void ob_attr_int(ob *b, Onnx__NodeProto *n, const char *name, int64_t v) {
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static inline void ob_attr_float(ob *b, Onnx__NodeProto *n, const char *name, float v) {
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static inline void ob_attr_ints(ob *b, Onnx__NodeProto *n, const char *name, size_t cnt,
                                const int64_t *v) {
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = cnt;
    a->ints = (int64_t *)ob_alloc(b, (cnt ? cnt : 1) * sizeof(int64_t));
    memcpy(a->ints, v, cnt * sizeof(int64_t));
}

static inline void ob_attr_string(ob *b, Onnx__NodeProto *n, const char *name, const char *s) {
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(s);
    a->s.data = (uint8_t *)ob_str(b, s);
}

static inline void ob_attr_tensor(ob *b, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t) {
    Onnx__AttributeProto *a = ob_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = t;
}

/* Marks an initializer as external: location, offset, length (< 0: left out). */
static inline void ob_external(ob *b, Onnx__TensorProto *t, const char *location, long long offset,
                               long long length) {
    char buf[32];
    t->has_raw_data = 0;
    t->raw_data.len = 0;
    t->raw_data.data = NULL;
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = (Onnx__StringStringEntryProto **)ob_alloc(b, 3 * sizeof(void *));
    const char *keys[3] = {"location", "offset", "length"};
    for (int i = 0; i < 3; i++) {
        if (i == 1 && offset < 0) continue;
        if (i == 2 && length < 0) continue;
        Onnx__StringStringEntryProto *e = (Onnx__StringStringEntryProto *)ob_alloc(b, sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = ob_str(b, keys[i]);
        snprintf(buf, sizeof buf, "%lld", i == 1 ? offset : length);
        e->value = ob_str(b, i == 0 ? location : buf);
        t->external_data[t->n_external_data++] = e;
    }
}

/* The packed model (tracked: freed by ob_free). */
static inline uint8_t *ob_pack(ob *b, size_t *len) {
    size_t n = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = (uint8_t *)ob_alloc(b, n);
    *len = onnx__model_proto__pack(&b->model, buf);
    return buf;
}

/* Writes the packed model to path; 0 on success. */
static inline int ob_write(ob *b, const char *path) {
    size_t len;
    uint8_t *buf = ob_pack(b, &len);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static inline void ob_free(ob *b) {
    for (size_t i = 0; i < b->nallocs; i++) free(b->allocs[i]);
    free(b->allocs);
    b->allocs = NULL;
    b->nallocs = 0;
}

#endif
