/* Private helpers shared by every module of the library: errors, the one
 * allocation hook, checked size arithmetic and the alignment rule. */
#ifndef MI_INTERNAL_H
#define MI_INTERNAL_H

#include "mini_infer/common.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MI__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MI__PRINTF(a, b)
#endif

/* Records the message for mi_last_error() and returns st, so error paths
 * read `return mi__error(MI_ERR_SHAPE, "node '%s': ...", name);`. */
mi_status mi__error(mi_status st, const char *fmt, ...) MI__PRINTF(2, 3);
mi_status mi__verror(mi_status st, const char *fmt, va_list ap);
/* Prepends context ("loading model.onnx: ") to the current message. */
mi_status mi__error_prefix(mi_status st, const char *fmt, ...) MI__PRINTF(2, 3);
mi_status mi__verror_prefix(mi_status st, const char *fmt, va_list ap);

/* Every heap allocation of the library goes through these, so tests can
 * make the n-th one fail (see alloc_hook.h) and count what is outstanding. */
void *mi__malloc(size_t n);
void *mi__calloc(size_t count, size_t size);
void *mi__realloc(void *p, size_t n);
void mi__free(void *p);
char *mi__strdup(const char *s);
char *mi__strndup(const char *s, size_t n);

/* Grows *arr (of elements of size elem) so that it holds at least need
 * elements; *cap is updated. Overflow and failure set the error. */
mi_status mi__grow(void **arr, size_t *cap, size_t need, size_t elem);

/* Checked arithmetic: false on overflow, *out untouched then. */
static inline bool mi__add_size(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return false;
    *out = a + b;
    return true;
}
static inline bool mi__mul_size(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return false;
    *out = a * b;
    return true;
}
static inline bool mi__mul_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool mi__add_i64(int64_t a, int64_t b, int64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* The alignment rule lives here and nowhere else. */
static inline bool mi__alignment_valid(size_t a) {
    return a >= 1 && a <= MI_MAX_ALIGNMENT && (a & (a - 1)) == 0;
}
/* Rounds n up to a multiple of the (valid) alignment a; false on overflow. */
static inline bool mi__align_up(size_t n, size_t a, size_t *out) {
    size_t t;
    if (!mi__add_size(n, a - 1, &t)) return false;
    *out = t & ~(a - 1);
    return true;
}
mi_status mi__check_alignment(size_t a);

/* Monotonic clock in seconds. */
double mi__now(void);

/* printf into a log callback when one is set. */
void mi__logf(mi_log_fn fn, void *user, const char *fmt, ...) MI__PRINTF(3, 4);
void mi__vlogf(mi_log_fn fn, void *user, const char *fmt, va_list ap);

#define MI__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
