/* The process's own memory as Linux reports it, for the figures the CLI
 * (`run`'s host mem line) and the GPU benchmark print. Header-only, so
 * both use one reader without the library exporting it. */
#ifndef MI_CLI_PROC_STATUS_H
#define MI_CLI_PROC_STATUS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A size line of /proc/self/status ("VmRSS", "VmHWM") in bytes; 0 where
 * there is none (not Linux, no /proc). */
static inline size_t mi_proc_status_bytes(const char *key) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t klen = strlen(key), v = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long kb;
        if (strncmp(line, key, klen) == 0 && line[klen] == ':' && sscanf(line + klen + 1, "%llu", &kb) == 1) {
            v = kb <= SIZE_MAX / 1024 ? (size_t)kb * 1024 : SIZE_MAX;
            break;
        }
    }
    fclose(f);
    return v;
}

#endif
