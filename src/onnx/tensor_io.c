/* ONNX TensorProto files: the test data format of ONNX model tests and of
 * `mini-infer run --input/--check`. protobuf-c does the parsing; the value
 * conversion is the loader's (mi__onnx_tensor_view), so a tensor file and
 * an initializer read the same way. */
#include "mini_infer/tensor_io.h"

#include "graph/graph_internal.h"
#include "onnx/onnx_internal.h"
#include "proto/onnx.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void mi_tensor_data_free(mi_tensor_data *t) {
    if (!t) return;
    mi__free(t->name);
    mi__free(t->data);
    memset(t, 0, sizeof *t);
}

mi_status mi_tensor_memory_read(const void *bytes, size_t len, mi_tensor_data *out) {
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_tensor_memory_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!bytes && len) return mi__error(MI_ERR_INVALID_ARG, "mi_tensor_memory_read: bytes is NULL");
    void *msg;
    mi_status st = mi__pb_unpack(&onnx__tensor_proto__descriptor, len ? bytes : "", len, &msg);
    if (st != MI_OK) return st;
    const Onnx__TensorProto *tp = msg;
    const char *name = tp->name ? tp->name : "";
    mi__pb_view v;
    if ((st = mi__onnx_tensor_view(tp, name, &v)) != MI_OK) goto done;
    if (v.external) {
        st = mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': external data in a tensor file is not "
                       "supported", name);
        goto done;
    }
    if (!(out->name = mi__strdup(name)) || !(out->data = mi__malloc(v.nbytes ? v.nbytes : 1))) {
        st = mi__error(MI_ERR_NO_MEMORY, "tensor '%s' of %zu bytes", name, v.nbytes);
        goto done;
    }
    mi__onnx_tensor_copy(&v, out->data);
    out->dtype = v.dtype;
    out->ndim = v.ndim;
    memcpy(out->dims, v.dims, sizeof out->dims);
    out->nbytes = v.nbytes;
done:
    mi__pb_free(msg);
    if (st != MI_OK) mi_tensor_data_free(out);
    return st;
}

mi_status mi_tensor_file_read(const char *path, mi_tensor_data *out) {
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_tensor_file_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return mi__error(MI_ERR_INVALID_ARG, "mi_tensor_file_read: path is NULL");
    mi_status st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return mi__error(MI_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    uint8_t *buf = NULL;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > SIZE_MAX / 2) {
        st = mi__error(MI_ERR_IO, "'%s' is not a regular file of a readable size", path);
        goto done;
    }
    size_t len = (size_t)sb.st_size;
    if (!(buf = mi__malloc(len ? len : 1))) {
        st = mi__error(MI_ERR_NO_MEMORY, "reading '%s' (%zu bytes)", path, len);
        goto done;
    }
    for (size_t got = 0; got < len;) {
        ssize_t r = read(fd, buf + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            st = mi__error(MI_ERR_IO, "reading '%s': %s", path, r < 0 ? strerror(errno) : "short read");
            goto done;
        }
        got += (size_t)r;
    }
    st = mi_tensor_memory_read(buf, len, out);
    if (st != MI_OK) mi__error_prefix(st, "reading tensor file '%s': ", path);
done:
    close(fd);
    mi__free(buf);
    return st;
}

mi_status mi_tensor_memory_write(const char *name, mi_dtype dtype, int ndim, const int64_t *dims,
                                 const void *data, void **bytes, size_t *len) {
    if (!bytes || !len) return mi__error(MI_ERR_INVALID_ARG, "mi_tensor_memory_write: NULL output");
    *bytes = NULL;
    *len = 0;
    if (ndim < 0 || ndim > MI_MAX_DIMS || (ndim && !dims))
        return mi__error(MI_ERR_INVALID_ARG, "tensor '%s': rank %d, expected 0 to %d",
                         name ? name : "", ndim, MI_MAX_DIMS);
    if (mi_dtype_size(dtype) == 0)
        return mi__error(MI_ERR_UNSUPPORTED, "tensor '%s': dtype %d is not supported",
                         name ? name : "", (int)dtype);
    mi_status st = mi__check_dims(name ? name : "", dtype, ndim, dims, 0);
    if (st != MI_OK) return st;
    size_t nbytes = (size_t)mi__numel(ndim, dims) * mi_dtype_size(dtype);
    if (nbytes && !data) return mi__error(MI_ERR_INVALID_ARG, "tensor '%s': data is NULL", name ? name : "");
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t d[MI_MAX_DIMS];
    if (ndim) memcpy(d, dims, (size_t)ndim * sizeof(int64_t));
    tp.n_dims = (size_t)ndim;
    tp.dims = d;
    tp.has_data_type = 1;
    tp.data_type = (int32_t)dtype;
    tp.name = (char *)(name ? name : "");
    tp.has_raw_data = 1;
    tp.raw_data.len = nbytes;
    tp.raw_data.data = (uint8_t *)data;
    size_t need = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = mi__malloc(need ? need : 1);
    if (!buf) return mi__error(MI_ERR_NO_MEMORY, "serializing tensor '%s' (%zu bytes)", tp.name, need);
    *len = onnx__tensor_proto__pack(&tp, buf);
    *bytes = buf;
    return MI_OK;
}

void mi_tensor_memory_free(void *bytes) { mi__free(bytes); }

mi_status mi_tensor_file_write(const char *path, const char *name, mi_dtype dtype, int ndim,
                               const int64_t *dims, const void *data) {
    if (!path) return mi__error(MI_ERR_INVALID_ARG, "mi_tensor_file_write: path is NULL");
    void *buf;
    size_t len;
    mi_status st = mi_tensor_memory_write(name, dtype, ndim, dims, data, &buf, &len);
    if (st != MI_OK) return st;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        st = mi__error(MI_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
        goto done;
    }
    for (size_t put = 0; put < len;) {
        ssize_t w = write(fd, (const uint8_t *)buf + put, len - put);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            st = mi__error(MI_ERR_IO, "writing '%s': %s", path, w < 0 ? strerror(errno) : "no progress");
            break;
        }
        put += (size_t)w;
    }
    if (close(fd) != 0 && st == MI_OK)
        st = mi__error(MI_ERR_IO, "writing '%s': %s", path, strerror(errno));
done:
    mi__free(buf);
    return st;
}
