/* mini-infer: tensors in ONNX TensorProto files (.pb).
 *
 * The format of ONNX's own test data (test_data_set_0/input_0.pb): one
 * serialized TensorProto. Reading accepts raw_data and the typed fields
 * (float_data, int64_data, int32_data, double_data); writing uses raw_data.
 *
 *     mi_tensor_data t;
 *     if (mi_tensor_file_read("input_0.pb", &t) == MI_OK) {
 *         ... t.dtype, t.ndim, t.dims, t.data (t.nbytes bytes) ...
 *         mi_tensor_data_free(&t);
 *     } */
#ifndef MINI_INFER_TENSOR_IO_H
#define MINI_INFER_TENSOR_IO_H

#include "mini_infer/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mi_tensor_data {
    char *name; /* the TensorProto's name; "" when it had none */
    mi_dtype dtype;
    int ndim;
    int64_t dims[MI_MAX_DIMS];
    size_t nbytes; /* element count times element size */
    void *data;    /* nbytes, little-endian, owned by the struct */
} mi_tensor_data;

/* Reads one TensorProto; *out is owned by the caller (mi_tensor_data_free).
 * On error *out is left empty. */
mi_status mi_tensor_file_read(const char *path, mi_tensor_data *out);
mi_status mi_tensor_memory_read(const void *bytes, size_t len, mi_tensor_data *out);
/* Frees what a read put in t and empties it; NULL or empty is a no-op. */
void mi_tensor_data_free(mi_tensor_data *t);

/* Writes one TensorProto (raw_data). name may be NULL. */
mi_status mi_tensor_file_write(const char *path, const char *name, mi_dtype dtype, int ndim,
                               const int64_t *dims, const void *data);
/* The same into a new buffer, freed with mi_tensor_memory_free. */
mi_status mi_tensor_memory_write(const char *name, mi_dtype dtype, int ndim, const int64_t *dims,
                                 const void *data, void **bytes, size_t *len);
void mi_tensor_memory_free(void *bytes);

#ifdef __cplusplus
}
#endif

#endif
