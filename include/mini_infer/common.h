/* mini-infer: status codes, last-error message, version.
 *
 * Every fallible function returns an mi_status. MI_OK is 0; every other
 * value names a class of failure, and mi_last_error() gives the detail
 * (the file, line, node or tensor, and what was expected) for the calling
 * thread. The list below is the only place codes are defined. */
#ifndef MINI_INFER_COMMON_H
#define MINI_INFER_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MI_VERSION_MAJOR 0
#define MI_VERSION_MINOR 1
#define MI_VERSION_PATCH 0
#define MI_VERSION_STRING "0.1.0"

/* X(name, text) */
#define MI_STATUS_LIST(X)                                                 \
    X(MI_OK, "ok")                                                        \
    X(MI_ERR_INVALID_ARG, "invalid argument")                             \
    X(MI_ERR_NO_MEMORY, "out of memory")                                  \
    X(MI_ERR_OVERFLOW, "size overflow")                                   \
    X(MI_ERR_IO, "input/output error")                                    \
    X(MI_ERR_PARSE, "malformed input")                                    \
    X(MI_ERR_UNSUPPORTED, "unsupported")                                  \
    X(MI_ERR_SHAPE, "shape error")                                        \
    X(MI_ERR_GRAPH, "invalid graph")                                      \
    X(MI_ERR_PLAN_INVALID, "invalid plan")                                \
    X(MI_ERR_CAPACITY, "does not fit the capacity")                       \
    X(MI_ERR_NOT_FOUND, "not found")                                      \
    X(MI_ERR_BACKEND, "backend error")                                    \
    X(MI_ERR_NO_DEVICE, "no usable device")                               \
    X(MI_ERR_DEVICE_MEMORY, "out of device memory")                       \
    X(MI_ERR_POISON, "poison check failed: memory written out of bounds") \
    X(MI_ERR_MISMATCH, "result mismatch")                                 \
    X(MI_ERR_INTERNAL, "internal error")                                  \
    X(MI_ERR_BUSY, "in use by another run")

typedef enum mi_status {
#define MI__STATUS_ENUM(name, text) name,
    MI_STATUS_LIST(MI__STATUS_ENUM)
#undef MI__STATUS_ENUM
    MI_STATUS_COUNT
} mi_status;

/* A short constant text for a status ("out of memory"); never NULL. */
const char *mi_status_str(mi_status s);

/* The name of a status ("MI_ERR_NO_MEMORY"); never NULL. */
const char *mi_status_name(mi_status s);

/* The detail of the last error raised on this thread, or "" when none.
 * The text stays valid until the next failing call on the same thread. */
const char *mi_last_error(void);

/* Forget the last error of this thread. */
void mi_clear_error(void);

/* The library's version as "MAJOR.MINOR.PATCH". */
const char *mi_version(void);

/* One place for the alignment rule: a power of two from 1 to 2^20. */
#define MI_DEFAULT_ALIGNMENT ((size_t)256)
#define MI_MAX_ALIGNMENT ((size_t)1 << 20)

/* Log callback used by verbose modes. Silent unless the caller sets one. */
typedef void (*mi_log_fn)(void *user, const char *message);

#ifdef __cplusplus
}
#endif

#endif
