/* Small helpers shared by the tests and the benchmarks (header-only). */
#ifndef MI_TEST_UTIL_H
#define MI_TEST_UTIL_H

#include "mini_infer/planner.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* splitmix64: a fixed, portable sequence from a seed. */
typedef struct mi_rng {
    uint64_t s;
} mi_rng;

static inline uint64_t mi_rng_next(mi_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static inline size_t mi_rng_below(mi_rng *r, size_t n) { return n ? (size_t)(mi_rng_next(r) % n) : 0; }
static inline double mi_rng_unit(mi_rng *r) { return (double)(mi_rng_next(r) >> 11) * 0x1.0p-53; }

/* n buffers with sizes log-uniform in [256 B, 16 MiB] and lifetimes such
 * that about `live` are live at any step (mean lifetime 100 steps). The
 * caller frees the array. */
static inline mi_buffer *mi_random_problem(size_t n, size_t live, uint64_t seed) {
    mi_rng r = {seed};
    mi_buffer *b = (mi_buffer *)calloc(n ? n : 1, sizeof *b);
    if (!b) return NULL;
    const double mean_life = 100.0;
    size_t steps = (size_t)((double)n * mean_life / (double)(live ? live : 1));
    if (steps < 1) steps = 1;
    for (size_t i = 0; i < n; i++) {
        double lg = log(256.0) + mi_rng_unit(&r) * (log(16.0 * 1024 * 1024) - log(256.0));
        int64_t f = (int64_t)mi_rng_below(&r, steps);
        int64_t len = (int64_t)mi_rng_below(&r, (size_t)(2 * mean_life - 1));
        b[i] = (mi_buffer){(size_t)exp(lg), f, f + len};
    }
    return b;
}

#endif
