/* The planner alone: hand-made problems with known optima, the validator,
 * bad input, determinism, allocation failures, and random problems. */
#include "common/alloc_hook.h"
#include "mini_infer/planner.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static const mi_strategy heuristics[] = {
    MI_STRATEGY_NAIVE,          MI_STRATEGY_GREEDY_SIZE, MI_STRATEGY_BEST_FIT,
    MI_STRATEGY_GREEDY_BREADTH, MI_STRATEGY_COLORING,
};
#define NHEUR (sizeof heuristics / sizeof heuristics[0])

/* Plans with one strategy, asserts the plan validates, returns the pool. */
static size_t plan_with(const mi_buffer *b, size_t n, size_t align, mi_strategy s, size_t *off) {
    mi_problem p = {b, n, align};
    mi_solve_options o;
    mi_solve_options_init(&o);
    o.strategy = s;
    o.node_budget = 20000; /* deterministic */
    mi_solve_result r;
    mi_status st = mi_solve(&p, &o, off, &r);
    cr_assert_eq(st, MI_OK, "%s: %s", mi_strategy_name(s), mi_last_error());
    cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK, "%s: %s", mi_strategy_name(s),
                 mi_last_error());
    cr_assert_geq(r.pool_size, r.lower_bound);
    cr_assert_eq(r.pool_size % r.alignment, 0);
    return r.pool_size;
}

static size_t auto_pool(const mi_buffer *b, size_t n, size_t align) {
    size_t *off = calloc(n ? n : 1, sizeof *off);
    size_t pool = plan_with(b, n, align, MI_STRATEGY_AUTO, off);
    free(off);
    return pool;
}

Test(planner, chain_reaches_bound) {
    /* a -> b -> c -> d: each tensor lives from its producer to its consumer */
    mi_buffer b[] = {{4096, 0, 1}, {8192, 1, 2}, {4096, 2, 3}, {2048, 3, 4}};
    cr_assert_eq(auto_pool(b, 4, 256), 12288);
    size_t off[4];
    cr_assert_eq(plan_with(b, 4, 256, MI_STRATEGY_GREEDY_SIZE, off), 12288);
    cr_assert_eq(plan_with(b, 4, 256, MI_STRATEGY_NAIVE, off), 4096 + 8192 + 4096 + 2048);
}

Test(planner, diamond) {
    /* x feeds two branches that join: x, l, r, join */
    mi_buffer b[] = {{1024, 0, 2}, {2048, 1, 3}, {2048, 2, 3}, {1024, 3, 4}};
    size_t lb;
    mi_problem p = {b, 4, 256};
    cr_assert_eq(mi_lower_bound(&p, &lb), MI_OK);
    cr_assert_eq(lb, 1024 + 2048 + 2048); /* x, l, r at step 2; l, r, join at step 3 */
    cr_assert_eq(auto_pool(b, 4, 256), 5120); /* x and join share */
}

Test(planner, nested_lifetimes) {
    mi_buffer b[] = {{1000, 0, 10}, {2000, 1, 9}, {3000, 2, 8}, {500, 3, 4}, {500, 5, 6}};
    /* aligned: 1024 + 2048 + 3072 + 512 (the two small ones share) */
    cr_assert_eq(auto_pool(b, 5, 256), 1024 + 2048 + 3072 + 512);
}

Test(planner, equal_sizes_share) {
    mi_buffer b[8];
    for (int i = 0; i < 8; i++) b[i] = (mi_buffer){4096, i, i + 1};
    for (size_t s = 1; s < NHEUR; s++) {
        size_t off[8];
        cr_assert_eq(plan_with(b, 8, 256, heuristics[s], off), 8192, "%s",
                     mi_strategy_name(heuristics[s]));
    }
}

Test(planner, one_huge_buffer) {
    mi_buffer b[] = {{(size_t)1 << 40, 0, 5}, {256, 1, 2}, {256, 3, 4}};
    cr_assert_eq(auto_pool(b, 3, 256), ((size_t)1 << 40) + 256);
}

Test(planner, alignment_edges) {
    mi_buffer one[] = {{1, 0, 0}};
    mi_buffer exact[] = {{256, 0, 0}};
    mi_buffer over[] = {{257, 0, 0}};
    cr_assert_eq(auto_pool(one, 1, 256), 256);
    cr_assert_eq(auto_pool(exact, 1, 256), 256);
    cr_assert_eq(auto_pool(over, 1, 256), 512);
    cr_assert_eq(auto_pool(over, 1, 1), 257);
    cr_assert_eq(auto_pool(over, 1, (size_t)1 << 20), (size_t)1 << 20);
    /* two live together at alignment 512: 257 -> 512 each */
    mi_buffer two[] = {{257, 0, 1}, {1, 1, 2}};
    cr_assert_eq(auto_pool(two, 2, 512), 1024);
}

Test(planner, empty_problem) {
    mi_problem p = {NULL, 0, 256};
    mi_solve_result r;
    cr_assert_eq(mi_solve(&p, NULL, NULL, &r), MI_OK, "%s", mi_last_error());
    cr_assert_eq(r.pool_size, 0);
    cr_assert_eq(r.lower_bound, 0);
    cr_assert_eq(r.naive_size, 0);
    cr_assert_eq(mi_validate(&p, NULL, 0), MI_OK);
}

Test(planner, zero_size_buffers_take_nothing) {
    mi_buffer b[] = {{0, 0, 3}, {512, 0, 3}, {0, 1, 2}};
    for (size_t s = 0; s < NHEUR; s++) {
        size_t off[3];
        cr_assert_eq(plan_with(b, 3, 256, heuristics[s], off), 512);
    }
}

Test(planner, any_64bit_steps) {
    mi_buffer b[] = {{256, INT64_MIN, -1}, {256, 0, INT64_MAX}, {512, INT64_MIN, INT64_MAX},
                     {256, INT64_MAX, INT64_MAX}};
    cr_assert_eq(auto_pool(b, 4, 256), 1024);
}

Test(planner, disabled_means_naive) {
    mi_buffer b[] = {{256, 0, 0}, {256, 1, 1}, {256, 2, 2}};
    mi_problem p = {b, 3, 256};
    mi_solve_options o;
    mi_solve_options_init(&o);
    o.enabled = 0;
    size_t off[3];
    mi_solve_result r;
    cr_assert_eq(mi_solve(&p, &o, off, &r), MI_OK);
    cr_assert_eq(r.pool_size, 768);
    cr_assert_eq(r.strategy, MI_STRATEGY_NAIVE);
}

typedef struct log_sink {
    int lines;
    char last[256];
} log_sink;

static void sink(void *user, const char *msg) {
    log_sink *s = user;
    s->lines++;
    strncpy(s->last, msg, sizeof s->last - 1);
}

Test(planner, verbose_logs_only_when_asked) {
    mi_buffer b[] = {{256, 0, 1}, {512, 1, 2}};
    mi_problem p = {b, 2, 256};
    mi_solve_options o;
    mi_solve_options_init(&o);
    log_sink s = {0};
    o.log = sink;
    o.log_user = &s;
    size_t off[2];
    cr_assert_eq(mi_solve(&p, &o, off, NULL), MI_OK);
    cr_assert_eq(s.lines, 0, "silent unless verbose");
    o.verbose = 1;
    o.strategy = MI_STRATEGY_GREEDY_SIZE;
    cr_assert_eq(mi_solve(&p, &o, off, NULL), MI_OK);
    cr_assert_geq(s.lines, 3, "a line per decision and a summary");
    cr_assert(strstr(s.last, "greedy-size") != NULL, "%s", s.last);
}

Test(planner, strategy_names_round_trip) {
    for (int s = 0; s < MI_STRATEGY_COUNT; s++) {
        mi_strategy back;
        cr_assert_eq(mi_strategy_parse(mi_strategy_name((mi_strategy)s), &back), MI_OK);
        cr_assert_eq((int)back, s);
    }
    mi_strategy x;
    cr_assert_eq(mi_strategy_parse("fastest", &x), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "greedy-breadth") != NULL, "lists the names: %s", mi_last_error());
}

/* ---- bad input ---------------------------------------------------------- */

Test(planner_bad, first_after_last) {
    mi_buffer b[] = {{256, 0, 1}, {256, 5, 4}};
    mi_problem p = {b, 2, 256};
    size_t off[2];
    cr_assert_eq(mi_solve(&p, NULL, off, NULL), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "buffer 1") != NULL, "%s", mi_last_error());
}

Test(planner_bad, alignments) {
    mi_buffer b[] = {{256, 0, 1}};
    size_t off[1], bad[] = {0, 3, 768, (size_t)1 << 21, (size_t)1 << 63};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mi_problem p = {b, 1, bad[i]};
        cr_assert_eq(mi_solve(&p, NULL, off, NULL), MI_ERR_INVALID_ARG, "alignment %zu", bad[i]);
        cr_assert(strstr(mi_last_error(), "power of two") != NULL);
        cr_assert_eq(mi_validate(&p, off, 256), MI_ERR_INVALID_ARG);
    }
}

Test(planner_bad, sizes_past_size_max) {
    mi_buffer b[] = {{SIZE_MAX / 2, 0, 1}, {SIZE_MAX / 2, 2, 3}, {SIZE_MAX / 2, 4, 5}};
    mi_problem p = {b, 3, 256};
    size_t off[3], v;
    cr_assert_eq(mi_solve(&p, NULL, off, NULL), MI_ERR_OVERFLOW);
    cr_assert(strstr(mi_last_error(), "buffer 1") != NULL, "%s", mi_last_error());
    mi_buffer one[] = {{SIZE_MAX - 3, 0, 1}};
    mi_problem q = {one, 1, 256};
    cr_assert_eq(mi_naive_size(&q, &v), MI_ERR_OVERFLOW, "rounding up overflows");
}

Test(planner_bad, null_arguments) {
    mi_buffer b[] = {{256, 0, 1}};
    mi_problem p = {b, 1, 256};
    cr_assert_eq(mi_solve(NULL, NULL, NULL, NULL), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_solve(&p, NULL, NULL, NULL), MI_ERR_INVALID_ARG);
    mi_problem q = {NULL, 3, 256};
    cr_assert_eq(mi_solve(&q, NULL, NULL, NULL), MI_ERR_INVALID_ARG);
    mi_solve_options o;
    mi_solve_options_init(&o);
    o.strategy = (mi_strategy)99;
    size_t off[1];
    cr_assert_eq(mi_solve(&p, &o, off, NULL), MI_ERR_INVALID_ARG);
}

/* ---- the validator ---------------------------------------------------------- */

Test(validator, finds_collisions_and_names_them) {
    mi_buffer b[] = {{512, 0, 3}, {256, 4, 5}, {512, 2, 6}};
    mi_problem p = {b, 3, 256};
    size_t ok[] = {0, 0, 512};
    cr_assert_eq(mi_validate(&p, ok, 1024), MI_OK, "%s", mi_last_error());
    size_t clash[] = {0, 512, 256}; /* 0 and 2 overlap in time and in [256, 512) */
    cr_assert_eq(mi_validate(&p, clash, 1024), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "buffers 0 and 2") != NULL, "%s", mi_last_error());
    size_t clash2[] = {0, 512, 512}; /* 1 and 2 overlap at step 4..5 */
    cr_assert_eq(mi_validate(&p, clash2, 1024), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "buffers 1 and 2") != NULL, "%s", mi_last_error());
}

Test(validator, alignment_and_bounds) {
    mi_buffer b[] = {{512, 0, 3}};
    mi_problem p = {b, 1, 256};
    size_t mis[] = {128};
    cr_assert_eq(mi_validate(&p, mis, 1024), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "not aligned") != NULL);
    size_t out[] = {768};
    cr_assert_eq(mi_validate(&p, out, 1024), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "outside the pool") != NULL);
    size_t fine[] = {0};
    cr_assert_eq(mi_validate(&p, fine, 1000), MI_ERR_PLAN_INVALID, "pool not a multiple of 256");
    size_t wrap[] = {SIZE_MAX & ~(size_t)255};
    cr_assert_eq(mi_validate(&p, wrap, 1024), MI_ERR_PLAN_INVALID, "offset + size wraps");
}

Test(validator, same_step_touching_is_a_conflict_disjoint_steps_are_not) {
    mi_buffer b[] = {{256, 0, 2}, {256, 2, 4}, {256, 3, 5}};
    mi_problem p = {b, 3, 256};
    size_t share01[] = {0, 0, 256};
    cr_assert_eq(mi_validate(&p, share01, 512), MI_ERR_PLAN_INVALID, "inclusive last step");
    size_t share02[] = {0, 256, 0};
    cr_assert_eq(mi_validate(&p, share02, 512), MI_OK, "%s", mi_last_error());
}

/* ---- random problems ---------------------------------------------------------- */

Test(planner_random, every_strategy_valid_and_auto_is_best) {
    mi_rng rng = {12345};
    for (int iter = 0; iter < 2000; iter++) {
        size_t n = 1 + mi_rng_below(&rng, iter < 1500 ? 12 : 80);
        size_t align = (size_t)1 << mi_rng_below(&rng, 10);
        mi_buffer *b = calloc(n, sizeof *b);
        size_t *off = calloc(n, sizeof *off);
        size_t naive = 0;
        for (size_t i = 0; i < n; i++) {
            int64_t f = (int64_t)mi_rng_below(&rng, 30);
            b[i] = (mi_buffer){mi_rng_below(&rng, 5000), f, f + (int64_t)mi_rng_below(&rng, 8)};
            naive += (b[i].size + align - 1) / align * align;
        }
        size_t best = SIZE_MAX;
        for (size_t s = 0; s < NHEUR; s++) {
            size_t pool = plan_with(b, n, align, heuristics[s], off);
            if (heuristics[s] == MI_STRATEGY_NAIVE) cr_assert_eq(pool, naive);
            if (pool < best) best = pool;
        }
        size_t a = plan_with(b, n, align, MI_STRATEGY_AUTO, off);
        cr_assert_leq(a, best, "auto %zu > best heuristic %zu (iter %d)", a, best, iter);
        free(b);
        free(off);
    }
}

Test(planner_random, deterministic) {
    mi_rng rng = {777};
    size_t n = 3000;
    mi_buffer *b = calloc(n, sizeof *b);
    for (size_t i = 0; i < n; i++) {
        int64_t f = (int64_t)mi_rng_below(&rng, 1000);
        b[i] = (mi_buffer){256 * (1 + mi_rng_below(&rng, 64)), f, f + (int64_t)mi_rng_below(&rng, 40)};
    }
    size_t *o1 = calloc(n, sizeof *o1), *o2 = calloc(n, sizeof *o2);
    for (int s = 0; s < MI_STRATEGY_COUNT; s++) {
        plan_with(b, n, 256, (mi_strategy)s, o1);
        plan_with(b, n, 256, (mi_strategy)s, o2);
        cr_assert_eq(memcmp(o1, o2, n * sizeof *o1), 0, "%s", mi_strategy_name((mi_strategy)s));
    }
    free(b);
    free(o1);
    free(o2);
}

Test(planner_random, validator_catches_every_single_shift) {
    /* Take a valid plan, move one buffer onto a conflicting neighbour: the
     * validator must notice every time. */
    mi_rng rng = {4242};
    size_t n = 200;
    mi_buffer *b = calloc(n, sizeof *b);
    size_t *off = calloc(n, sizeof *off);
    for (size_t i = 0; i < n; i++) {
        int64_t f = (int64_t)mi_rng_below(&rng, 100);
        b[i] = (mi_buffer){256 * (1 + mi_rng_below(&rng, 8)), f, f + (int64_t)mi_rng_below(&rng, 20)};
    }
    mi_problem p = {b, n, 256};
    size_t pool = plan_with(b, n, 256, MI_STRATEGY_GREEDY_SIZE, off);
    int caught = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (i == j || b[i].first > b[j].last || b[j].first > b[i].last) continue;
            size_t keep = off[i];
            off[i] = off[j];
            cr_assert_eq(mi_validate(&p, off, pool + 4096), MI_ERR_PLAN_INVALID, "%zu onto %zu", i, j);
            off[i] = keep;
            caught++;
        }
    cr_assert_gt(caught, 100);
    free(b);
    free(off);
}

Test(planner_random, larger_problem_in_time) {
    /* 100k buffers, ~1000 live per step: greedy-size must plan it; the bench
     * measures the time, here only correctness. */
    size_t n = 100000;
    mi_buffer *b = mi_random_problem(n, 1000, 99);
    size_t *off = calloc(n, sizeof *off);
    size_t pool = plan_with(b, n, 256, MI_STRATEGY_GREEDY_SIZE, off);
    mi_problem p = {b, n, 256};
    size_t lb;
    cr_assert_eq(mi_lower_bound(&p, &lb), MI_OK);
    cr_assert_lt((double)pool, 1.5 * (double)lb, "greedy-size within 50%% of the bound");
    free(b);
    free(off);
}

/* ---- allocation failures -------------------------------------------------------- */

Test(planner_alloc, every_failure_is_clean) {
    mi_rng rng = {5};
    size_t n = 40;
    mi_buffer b[40];
    for (size_t i = 0; i < n; i++) {
        int64_t f = (int64_t)mi_rng_below(&rng, 20);
        b[i] = (mi_buffer){256 * (1 + mi_rng_below(&rng, 8)), f, f + (int64_t)mi_rng_below(&rng, 6)};
    }
    mi_problem p = {b, n, 256};
    size_t off[40];
    for (int s = 0; s < MI_STRATEGY_COUNT; s++) {
        mi_solve_options o;
        mi_solve_options_init(&o);
        o.strategy = (mi_strategy)s;
        o.node_budget = 2000;
        int64_t before = mi__alloc_outstanding();
        for (uint64_t k = 1;; k++) {
            mi__alloc_fail_at(k);
            mi_status st = mi_solve(&p, &o, off, NULL);
            int fired = mi__alloc_failed();
            mi__alloc_fail_at(0);
            cr_assert_eq(mi__alloc_outstanding(), before, "%s: leak after failure %llu",
                         mi_strategy_name((mi_strategy)s), (unsigned long long)k);
            if (!fired) {
                cr_assert_eq(st, MI_OK);
                break;
            }
            cr_assert_eq(st, MI_ERR_NO_MEMORY, "%s: failure %llu gave %s",
                         mi_strategy_name((mi_strategy)s), (unsigned long long)k, mi_status_name(st));
        }
    }
}
