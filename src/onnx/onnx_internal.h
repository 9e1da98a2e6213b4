/* The onnx layer's own helpers (proto.c), shared by the model loader and
 * the tensor files. The protobuf-c types stay behind void pointers, so
 * only the .c files of this layer include the generated header. */
#ifndef MI_ONNX_INTERNAL_H
#define MI_ONNX_INTERNAL_H

#include "common/internal.h"
#include "mini_infer/graph.h"

/* Unpacks a protobuf message of the given ProtobufCMessageDescriptor with
 * the library's allocator; MI_ERR_PARSE or MI_ERR_NO_MEMORY. */
mi_status mi__pb_unpack(const void *descriptor, const void *data, size_t len, void **msg);
void mi__pb_free(void *msg);

/* Where an Onnx__TensorProto's values are: bytes usable as they are
 * (raw_data or a typed array of the same layout), int32_data to narrow, or
 * external data. */
typedef struct mi__pb_view {
    mi_dtype dtype;
    int ndim;
    int64_t dims[MI_MAX_DIMS];
    size_t nbytes;
    const void *direct;
    const int32_t *narrow;
    int external;
} mi__pb_view;
mi_status mi__onnx_tensor_view(const void *tensor_proto, const char *what, mi__pb_view *v);
/* confined.c: opens dir/rel read-only (O_NONBLOCK) without leaving dir
 * (unless anywhere): -1 with errno when it cannot, *escaped set when the
 * path leads outside (a symlink). The caller checks the file's type and
 * links. */
int mi__open_beneath(const char *dir, const char *rel, int anywhere, int *escaped);
/* Its fallback where the kernel has no openat2: rel beneath the folder
 * dirfd, one component at a time, every symlink refused (ELOOP). */
int mi__open_walk(int dirfd, const char *rel);
/* Copies (or narrows) a non-external view's values into dst (v->nbytes). */
void mi__onnx_tensor_copy(const mi__pb_view *v, void *dst);

#endif
