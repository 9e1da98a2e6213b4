/* protobuf-c, for the whole onnx layer (and nowhere else): unpacking with
 * the library's allocator and a bound on nesting, and what a TensorProto's
 * values are (bytes usable as they are, int32 values to narrow, or
 * external data). The model loader (load.c) and the tensor files
 * (tensor_io.c) read tensors through the same view. */
#include "graph/graph_internal.h"
#include "onnx/onnx_internal.h"
#include "proto/onnx.pb-c.h"

#include <string.h>

static const int64_t empty_data[1];

/* ---- protobuf-c glue -------------------------------------------------------- */

static void *pb_alloc(void *data, size_t size) {
    void *p = mi__malloc(size);
    if (!p && data) *(int *)data = 1;
    return p;
}
static void pb_free(void *data, void *p) {
    (void)data;
    mi__free(p);
}
static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* Submessages can nest without bound (graphs inside attributes, types
 * inside types) and protobuf-c recurses once per level, so hostile input
 * could exhaust the stack. This walks only the wire framing, guided by the
 * generated descriptors, to bound the depth before unpacking. */
#define MI__PB_MAX_DEPTH 48

static int pb_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v) {
    uint64_t r = 0;
    for (int s = 0; s < 70; s += 7) {
        if (*i >= len) return 0;
        uint8_t b = p[(*i)++];
        if (s < 64) r |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) {
            *v = r;
            return 1;
        }
    }
    return 0;
}

static int pb_depth_ok(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *d,
                       int depth) {
    if (depth > MI__PB_MAX_DEPTH) return 0;
    size_t i = 0;
    while (i < len) {
        uint64_t key, v;
        if (!pb_varint(p, len, &i, &key)) return 1; /* malformed: protobuf-c says so */
        switch (key & 7) {
        case 0: if (!pb_varint(p, len, &i, &v)) return 1; break;
        case 1: if (len - i < 8) return 1; i += 8; break;
        case 5: if (len - i < 4) return 1; i += 4; break;
        case 2: {
            if (!pb_varint(p, len, &i, &v) || v > len - i) return 1;
            const ProtobufCFieldDescriptor *f =
                key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
                                       : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                !pb_depth_ok(p + i, (size_t)v, f->descriptor, depth + 1))
                return 0;
            i += (size_t)v;
            break;
        }
        default: return 1;
        }
    }
    return 1;
}

mi_status mi__pb_unpack(const void *descriptor, const void *data, size_t len, void **msg) {
    const ProtobufCMessageDescriptor *d = descriptor;
    *msg = NULL;
    if (!pb_depth_ok(data, len, d, 0))
        return mi__error(MI_ERR_PARSE, "%s: messages nested more than %d levels deep", d->name,
                         MI__PB_MAX_DEPTH);
    int failed = 0;
    ProtobufCAllocator a = {pb_alloc, pb_free, &failed};
    ProtobufCMessage *m = protobuf_c_message_unpack(d, &a, len, data);
    if (!m) {
        if (failed) return mi__error(MI_ERR_NO_MEMORY, "unpacking a %s of %zu bytes", d->name, len);
        return mi__error(MI_ERR_PARSE, "not a valid %s (%zu bytes of protobuf)", d->name, len);
    }
    *msg = m;
    return MI_OK;
}

void mi__pb_free(void *msg) {
    if (msg) protobuf_c_message_free_unpacked(msg, &pb_allocator);
}

static void narrow_int32(const int32_t *src, mi_dtype dt, size_t n, void *dst) {
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case MI_DTYPE_UINT8: case MI_DTYPE_BOOL: ((uint8_t *)dst)[i] = (uint8_t)src[i]; break;
        case MI_DTYPE_INT8: ((int8_t *)dst)[i] = (int8_t)src[i]; break;
        case MI_DTYPE_UINT16: case MI_DTYPE_FLOAT16: ((uint16_t *)dst)[i] = (uint16_t)src[i]; break;
        case MI_DTYPE_INT16: ((int16_t *)dst)[i] = (int16_t)src[i]; break;
        default: break;
        }
    }
}

mi_status mi__onnx_tensor_view(const void *proto, const char *what, mi__pb_view *v) {
    const Onnx__TensorProto *tp = proto;
    memset(v, 0, sizeof *v);
    if (tp->n_dims > MI_MAX_DIMS)
        return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': rank %zu, at most %d supported", what,
                         tp->n_dims, MI_MAX_DIMS);
    v->dtype = mi__dtype_from_int(tp->data_type);
    if (v->dtype == MI_DTYPE_UNDEFINED)
        return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': ONNX data type %d is not supported", what,
                         (int)tp->data_type);
    v->ndim = (int)tp->n_dims;
    for (int i = 0; i < v->ndim; i++) {
        v->dims[i] = tp->dims[i];
        if (v->dims[i] < 0)
            return mi__error(MI_ERR_SHAPE, "tensor '%s': dim %d is %lld, expected >= 0", what, i,
                             (long long)v->dims[i]);
    }
    mi_status st = mi__check_dims(what, v->dtype, v->ndim, v->dims, 0);
    if (st != MI_OK) return st;
    int64_t numel = mi__numel(v->ndim, v->dims);
    v->nbytes = (size_t)numel * mi_dtype_size(v->dtype);
    if (tp->segment) return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s' is segmented", what);
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        v->external = 1;
        return MI_OK;
    }
    if (tp->has_raw_data || tp->raw_data.len) {
        if (tp->raw_data.len != v->nbytes)
            return mi__error(MI_ERR_PARSE, "tensor '%s': raw_data has %zu bytes, its dims need %zu",
                             what, tp->raw_data.len, v->nbytes);
        v->direct = v->nbytes ? (const void *)tp->raw_data.data : (const void *)empty_data;
        return MI_OK;
    }
    size_t have = 0;
    const char *field = "";
    switch (v->dtype) {
    case MI_DTYPE_FLOAT: have = tp->n_float_data; v->direct = tp->float_data; field = "float_data"; break;
    case MI_DTYPE_INT32: have = tp->n_int32_data; v->direct = tp->int32_data; field = "int32_data"; break;
    case MI_DTYPE_INT64: have = tp->n_int64_data; v->direct = tp->int64_data; field = "int64_data"; break;
    case MI_DTYPE_DOUBLE: have = tp->n_double_data; v->direct = tp->double_data; field = "double_data"; break;
    default: have = tp->n_int32_data; v->narrow = tp->int32_data; field = "int32_data"; break;
    }
    if ((uint64_t)have != (uint64_t)numel)
        return mi__error(MI_ERR_PARSE, "tensor '%s': %zu values in %s, its dims need %lld", what,
                         have, field, (long long)numel);
    if (!numel) {
        v->direct = empty_data;
        v->narrow = NULL;
    }
    return MI_OK;
}

void mi__onnx_tensor_copy(const mi__pb_view *v, void *dst) {
    if (v->narrow) narrow_int32(v->narrow, v->dtype, v->nbytes / mi_dtype_size(v->dtype), dst);
    else if (v->direct && v->nbytes) memcpy(dst, v->direct, v->nbytes);
}
