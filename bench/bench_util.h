/* Helpers for the benchmark programs: timing, the machine's name, a growing
 * string for tables. */
#ifndef MI_BENCH_UTIL_H
#define MI_BENCH_UTIL_H

#include <stddef.h>

typedef struct mi_strbuf {
    char *s;
    size_t len, cap;
} mi_strbuf;

void mi_strbuf_printf(mi_strbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
double bench_now(void);
/* "CPU model name, N cores" from /proc/cpuinfo. */
void bench_machine(char *buf, size_t len);
/* Today's date, YYYY-MM-DD (static text). */
const char *bench_date(void);
/* Writes text to path; returns 0, or 1 after a message. */
int bench_write_file(const char *path, const char *text);

#endif
