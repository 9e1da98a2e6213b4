/* The planner's internal form of a problem and the strategy entry points.
 *
 * mi__prob holds aligned sizes and lifetimes compressed to the distinct
 * event points (0 .. nsteps-1), so strategies index arrays by step and never
 * see 64-bit times. Every strategy writes one offset per buffer and the pool
 * size; planner.c validates what they return. */
#ifndef MI_PLANNER_INTERNAL_H
#define MI_PLANNER_INTERNAL_H

#include "common/internal.h"
#include "mini_infer/planner.h"

typedef struct mi__prob {
    const mi_buffer *src; /* the caller's buffers, for messages */
    size_t n;
    size_t align;
    size_t *size;     /* aligned sizes */
    uint32_t *first;  /* compressed, inclusive */
    uint32_t *last;   /* compressed, inclusive */
    uint32_t nsteps;  /* compressed steps are 0 .. nsteps-1 */
    size_t naive;     /* sum of aligned sizes (fits in size_t) */
    size_t lower;     /* max over steps of live aligned bytes */
    size_t *live_bytes; /* per compressed step: aligned bytes live then */
    /* logging */
    int verbose;
    mi_log_fn log;
    void *log_user;
} mi__prob;

mi_status mi__prob_init(mi__prob *p, const mi_problem *src, const mi_solve_options *opt);
void mi__prob_free(mi__prob *p);

/* Each strategy: offsets has p->n entries; *pool receives the pool size. */
mi_status mi__plan_naive(const mi__prob *p, size_t *offsets, size_t *pool);
mi_status mi__plan_coloring(const mi__prob *p, size_t *offsets, size_t *pool);
mi_status mi__plan_greedy_size(const mi__prob *p, size_t *offsets, size_t *pool);
mi_status mi__plan_best_fit(const mi__prob *p, size_t *offsets, size_t *pool);
mi_status mi__plan_greedy_breadth(const mi__prob *p, size_t *offsets, size_t *pool);

/* Which searches decide a part with no slack (mi__exact_opts.sat_mode). */
enum { MI__SAT_BOTH = 0, MI__SAT_OFF = 1, MI__SAT_ONLY = 2 };

/* The exact search. hint (may be NULL) is a valid plan of pool size
 * hint_pool used as the incumbent. capacity 0 minimises; otherwise the
 * search stops at the first plan within capacity. */
typedef struct mi__exact_opts {
    size_t capacity;
    double time_limit;    /* seconds; <= 0: none */
    uint64_t node_budget; /* 0: none */
    const size_t *hint;
    size_t hint_pool;
    uint64_t work_budget; /* entries scanned; 0: none. Like nodes, but a node of a
                           * large problem costs more: together they bound the
                           * time without a clock, so the result is repeatable. */
    int no_backjump;      /* tests: the no-slack search without explanations */
    int threads;          /* > 1: a portfolio of that many searches (exact_drive.c) */
    int sat_mode;         /* tests: MI__SAT_BOTH, _OFF (the skyline search alone) or _ONLY */
} mi__exact_opts;

typedef struct mi__exact_result {
    size_t pool;     /* pool of the plan in offsets (SIZE_MAX when none found) */
    int proven;      /* minimise: pool is optimal; capacity: the answer is proven */
    int found;       /* a plan was written to offsets */
    size_t floor;    /* minimise: bytes proven to be needed (at least the lower bound) */
    uint64_t nodes;
} mi__exact_result;

mi_status mi__plan_exact(const mi__prob *p, const mi__exact_opts *opt, size_t *offsets,
                         mi__exact_result *res);

/* Checks offsets against the internal problem (the validator's core). */
mi_status mi__validate(const mi__prob *p, const size_t *offsets, size_t pool);

/* Sorting helpers; both stable, so with ties broken by index every order
 * is deterministic. mi__sort_by_key sorts idx[0..n) by key[idx[i]]
 * ascending (a radix sort); mi__sort_idx by a comparator. */
mi_status mi__sort_by_key(uint32_t *idx, size_t n, const uint64_t *key);
typedef int (*mi__idx_cmp)(const void *ctx, uint32_t a, uint32_t b);
mi_status mi__sort_idx(uint32_t *idx, size_t n, mi__idx_cmp cmp, const void *ctx);

/* Shared by the offset strategies: intervals [off, end) of placed buffers
 * that conflict with the one being placed, and the two ways of choosing a
 * gap among them. */
typedef struct mi__span {
    size_t off, end;
} mi__span;
typedef enum mi__fit { MI__FIT_LOWEST, MI__FIT_BEST } mi__fit;
/* Sorts spans by offset (in place). */
void mi__spans_sort(mi__span *s, size_t k);
/* Chooses an offset for size bytes among k spans sorted by offset: the
 * lowest gap that fits, or the smallest gap that fits (else the top). */
size_t mi__spans_fit(const mi__span *s, size_t k, size_t size, mi__fit fit);

#endif
