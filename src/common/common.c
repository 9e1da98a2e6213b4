/* Status texts, the per-thread error message, the allocation hook and small
 * utilities used by every module. */
#define _POSIX_C_SOURCE 200809L
#include "common/alloc_hook.h"
#include "common/internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_text[] = {
#define MI__STATUS_TEXT(name, text) text,
    MI_STATUS_LIST(MI__STATUS_TEXT)
#undef MI__STATUS_TEXT
};
static const char *const status_name[] = {
#define MI__STATUS_NAME(name, text) #name,
    MI_STATUS_LIST(MI__STATUS_NAME)
#undef MI__STATUS_NAME
};

const char *mi_status_str(mi_status s) {
    if ((int)s < 0 || s >= MI_STATUS_COUNT) return "unknown status";
    return status_text[s];
}

const char *mi_status_name(mi_status s) {
    if ((int)s < 0 || s >= MI_STATUS_COUNT) return "MI_STATUS_UNKNOWN";
    return status_name[s];
}

const char *mi_version(void) { return MI_VERSION_STRING; }

/* ---- last error ---------------------------------------------------------- */

#define MI__ERRLEN 1024
static _Thread_local char last_error[MI__ERRLEN];

const char *mi_last_error(void) { return last_error; }
void mi_clear_error(void) { last_error[0] = '\0'; }

mi_status mi__verror(mi_status st, const char *fmt, va_list ap) {
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    return st;
}

mi_status mi__error(mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mi__verror(st, fmt, ap);
    va_end(ap);
    return st;
}

mi_status mi__error_prefix(mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mi__verror_prefix(st, fmt, ap);
    va_end(ap);
    return st;
}

mi_status mi__verror_prefix(mi_status st, const char *fmt, va_list ap) {
    char prefix[MI__ERRLEN], old[MI__ERRLEN];
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    memcpy(old, last_error, sizeof old);
    /* A message longer than the buffer is cut short, on purpose (testing
     * the result tells GCC so; a Debug build warned). */
    if (snprintf(last_error, sizeof last_error, "%s%s", prefix, old[0] ? old : mi_status_str(st)) < 0)
        last_error[0] = '\0';
    return st;
}

mi_status mi__check_alignment(size_t a) {
    if (!mi__alignment_valid(a))
        return mi__error(MI_ERR_INVALID_ARG,
                         "alignment %zu: expected a power of two from 1 to %zu", a,
                         (size_t)MI_MAX_ALIGNMENT);
    return MI_OK;
}

/* ---- allocation hook ----------------------------------------------------- */

static _Atomic uint64_t alloc_calls;
static _Atomic uint64_t alloc_fail_at;
static _Atomic int alloc_fired;
static _Atomic int64_t alloc_live;

void mi__alloc_fail_at(uint64_t n) {
    atomic_store(&alloc_calls, 0);
    atomic_store(&alloc_fired, 0);
    atomic_store(&alloc_fail_at, n);
}
uint64_t mi__alloc_count(void) { return atomic_load(&alloc_calls); }
int64_t mi__alloc_outstanding(void) { return atomic_load(&alloc_live); }
int mi__alloc_failed(void) { return atomic_load(&alloc_fired); }

/* True when this allocation must fail by injection. */
static bool inject_failure(void) {
    uint64_t k = atomic_fetch_add(&alloc_calls, 1) + 1;
    uint64_t at = atomic_load(&alloc_fail_at);
    if (at != 0 && k == at) {
        atomic_store(&alloc_fired, 1);
        return true;
    }
    return false;
}

void *mi__malloc(size_t n) {
    if (inject_failure()) return NULL;
    void *p = malloc(n ? n : 1);
    if (p) atomic_fetch_add(&alloc_live, 1);
    return p;
}

void *mi__calloc(size_t count, size_t size) {
    size_t total;
    if (!mi__mul_size(count, size, &total)) return NULL;
    if (inject_failure()) return NULL;
    void *p = calloc(total ? total : 1, 1);
    if (p) atomic_fetch_add(&alloc_live, 1);
    return p;
}

void *mi__realloc(void *p, size_t n) {
    if (inject_failure()) return NULL;
    void *q = realloc(p, n ? n : 1);
    if (q && !p) atomic_fetch_add(&alloc_live, 1);
    return q;
}

void mi__free(void *p) {
    if (!p) return;
    atomic_fetch_sub(&alloc_live, 1);
    free(p);
}

char *mi__strndup(const char *s, size_t n) {
    size_t len = strnlen(s, n);
    char *d = mi__malloc(len + 1);
    if (!d) return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

char *mi__strdup(const char *s) { return mi__strndup(s, SIZE_MAX); }

mi_status mi__grow(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return MI_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) return mi__error(MI_ERR_OVERFLOW, "array of %zu elements", need);
        ncap *= 2;
    }
    size_t bytes;
    if (!mi__mul_size(ncap, elem, &bytes))
        return mi__error(MI_ERR_OVERFLOW, "array of %zu elements of %zu bytes", ncap, elem);
    void *p = mi__realloc(*arr, bytes);
    if (!p) return mi__error(MI_ERR_NO_MEMORY, "growing an array to %zu bytes", bytes);
    *arr = p;
    *cap = ncap;
    return MI_OK;
}

/* ---- misc ---------------------------------------------------------------- */

double mi__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void mi__logf(mi_log_fn fn, void *user, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    mi__vlogf(fn, user, fmt, ap);
    va_end(ap);
}

void mi__vlogf(mi_log_fn fn, void *user, const char *fmt, va_list ap) {
    if (!fn) return;
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fn(user, buf);
}
