/* Hard planning problems whose optimum is known by construction.
 *
 * A box of `steps` time steps by `height` units of `alignment` bytes is cut
 * into `count` rectangles, each a buffer (its lifetime the rectangle's
 * steps, its size the rectangle's height). Every step of the box is fully
 * covered, so the live bytes at every step equal the box height: the lower
 * bound, and the cut itself is a plan that reaches it. Cuts are guillotine
 * (a rectangle split in two) or, with probability `pinwheel`, a pinwheel
 * (five rectangles around a centre, which no sequence of straight cuts
 * produces); the rectangle cut next is the largest of a few drawn at
 * random, which leaves sizes mixed. Everything follows from the seed.
 *
 * Shared by the benchmarks (linked into each) and tests/test_exact.c. */
#ifndef MI_BENCH_HARD_LIB_H
#define MI_BENCH_HARD_LIB_H

#include "mini_infer/planner.h"

#include <stdint.h>
#include <stdio.h>

typedef struct mi_hard_opts {
    size_t count;     /* buffers (at least 1) */
    uint32_t steps;   /* width of the box in time steps */
    size_t height;    /* height of the box in units */
    size_t alignment; /* bytes per unit: the problem's alignment */
    double pinwheel;  /* probability that a cut is a pinwheel */
    uint64_t seed;
} mi_hard_opts;

/* Defaults scaled to count: a box of about count / 3 steps by 4096 units
 * of 256 bytes, a pinwheel for one cut in three. */
void mi_hard_opts_init(mi_hard_opts *o, size_t count, uint64_t seed);

/* Builds the problem: *buffers (count entries, free() it) and, when plan is
 * not NULL, the constructed plan (*plan, free() it). *optimum receives the
 * box height in bytes. Returns 0, or -1 on bad options (the box cannot be
 * cut into that many rectangles) or no memory. */
int mi_hard_generate(const mi_hard_opts *o, mi_buffer **buffers, size_t **plan, size_t *optimum);

/* Writes a MiniMalloc CSV (`id,lower,upper,size`, half-open lifetimes).
 * Returns 0, or -1 when the file cannot be written. */
int mi_hard_write_csv(const mi_buffer *b, size_t n, const char *path);

#endif
