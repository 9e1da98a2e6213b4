/* The exact strategy: constructed problems with a known optimum (the
 * generator of bench/hard_lib.c), capacity proofs, node and time limits,
 * random problems against the heuristics and a brute force, auto,
 * determinism, allocation failures. Node budgets keep every answer
 * independent of the machine's speed. */
#include "common/alloc_hook.h"
#include "hard_lib.h"
#include "mini_infer/planner.h"
#include "planner/planner_internal.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A constructed problem: n buffers, steps_per_buffer x n steps (0: the
 * generator's default); *opt receives the optimum. */
static mi_buffer *constructed(size_t n, double steps_per_buffer, uint64_t seed, size_t *opt) {
    mi_hard_opts o;
    mi_hard_opts_init(&o, n, seed);
    if (steps_per_buffer > 0) o.steps = (uint32_t)((double)n * steps_per_buffer);
    mi_buffer *b = NULL;
    cr_assert_eq(mi_hard_generate(&o, &b, NULL, opt), 0, "generating %zu buffers", n);
    return b;
}

/* mi_solve with the exact strategy, no clock, the given node budget (for
 * each search of a portfolio of threads). */
static mi_status solve_threads(const mi_buffer *b, size_t n, size_t align, size_t capacity,
                               uint64_t budget, int threads, size_t *off, mi_solve_result *r) {
    mi_problem p = {b, n, align};
    mi_solve_options o;
    mi_solve_options_init(&o);
    o.strategy = MI_STRATEGY_EXACT;
    o.time_limit = 0;
    o.node_budget = budget;
    o.capacity = capacity;
    o.threads = threads;
    return mi_solve(&p, &o, off, r);
}

static mi_status solve_exact(const mi_buffer *b, size_t n, size_t align, size_t capacity,
                             uint64_t budget, size_t *off, mi_solve_result *r) {
    return solve_threads(b, n, align, capacity, budget, 1, off, r);
}

static size_t min_heuristic(const mi_solve_result *r) {
    size_t best = SIZE_MAX;
    for (int s = 0; s < MI_STRATEGY_EXACT; s++)
        if (r->by_strategy[s] && r->by_strategy[s] < best) best = r->by_strategy[s];
    return best;
}

/* The exact search on the internal problem, for what mi_solve hides. */
static mi__exact_result exact_internal(const mi_buffer *b, size_t n, size_t align,
                                       const mi__exact_opts *eo, size_t *off) {
    mi_problem src = {b, n, align};
    mi__prob p;
    cr_assert_eq(mi__prob_init(&p, &src, NULL), MI_OK, "%s", mi_last_error());
    mi__exact_result res;
    mi_status st = mi__plan_exact(&p, eo, off, &res);
    cr_assert_eq(st, MI_OK, "%s", mi_last_error());
    if (res.found) cr_assert_eq(mi__validate(&p, off, res.pool), MI_OK, "%s", mi_last_error());
    mi__prob_free(&p);
    return res;
}

/* ---- the generator ---------------------------------------------------------------- */

Test(exact_hard, construction_is_a_perfect_packing) {
    for (uint64_t seed = 1; seed <= 4; seed++) {
        for (int dense = 0; dense < 2; dense++) {
            size_t n = 100 + 50 * seed, opt;
            mi_hard_opts o;
            mi_hard_opts_init(&o, n, seed);
            if (!dense) o.steps = (uint32_t)(10 * n);
            mi_buffer *b;
            size_t *plan;
            cr_assert_eq(mi_hard_generate(&o, &b, &plan, &opt), 0);
            cr_assert_eq(opt, o.height * o.alignment);
            mi_problem p = {b, n, o.alignment};
            size_t lb;
            cr_assert_eq(mi_lower_bound(&p, &lb), MI_OK);
            cr_assert_eq(lb, opt, "every step of the box is full");
            cr_assert_eq(mi_validate(&p, plan, opt), MI_OK, "%s", mi_last_error());
            for (size_t i = 0; i < n; i++) cr_assert(b[i].size > 0 && b[i].first <= b[i].last);
            free(plan);
            free(b);
        }
    }
    mi_hard_opts o;
    mi_hard_opts_init(&o, 50, 1);
    o.steps = 2;
    o.height = 4; /* 8 cells cannot make 50 rectangles */
    mi_buffer *b;
    size_t opt;
    cr_assert_eq(mi_hard_generate(&o, &b, NULL, &opt), -1);
}

Test(exact_hard, same_seed_same_problem_and_csv_round_trip) {
    size_t opt1, opt2, n = 120;
    mi_buffer *a = constructed(n, 0, 42, &opt1), *b = constructed(n, 0, 42, &opt2);
    cr_assert_eq(opt1, opt2);
    cr_assert_eq(memcmp(a, b, n * sizeof *a), 0, "the seed fixes the problem");
    char path[] = "/tmp/mi_test_exact_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    cr_assert_eq(mi_hard_write_csv(a, n, path), 0);
    mi_csv *csv;
    cr_assert_eq(mi_csv_read(path, &csv), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_csv_count(csv), n);
    const mi_buffer *c = mi_csv_buffers(csv);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(c[i].size, a[i].size);
        cr_assert_eq(c[i].first, a[i].first);
        cr_assert_eq(c[i].last, a[i].last, "upper is exclusive in the file");
    }
    mi_csv_destroy(csv);
    unlink(path);
    free(a);
    free(b);
}

/* ---- optimum, capacity ------------------------------------------------------------ */

Test(exact, small_constructed_reach_the_proven_optimum) {
    static const struct {
        size_t n;
        double steps_per_buffer;
    } cases[] = {{20, 2}, {30, 2}, {40, 2}, {60, 2}, {20, 0}, {40, 0}, {80, 0}};
    int greedy_missed = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (uint64_t seed = 1; seed <= 3; seed++) {
            size_t n = cases[c].n, opt, off[80];
            mi_buffer *b = constructed(n, cases[c].steps_per_buffer, seed, &opt);
            mi_solve_result r;
            mi_status st = solve_exact(b, n, 256, 0, 1000000, off, &r);
            cr_assert_eq(st, MI_OK, "%s", mi_last_error());
            cr_assert_eq(r.pool_size, opt, "n %zu seed %llu: %zu, optimum %zu", n,
                         (unsigned long long)seed, r.pool_size, opt);
            cr_assert(r.proven_optimal);
            cr_assert_leq(r.nodes, 1000000);
            mi_problem p = {b, n, 256};
            cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK, "%s", mi_last_error());
            greedy_missed += r.by_strategy[MI_STRATEGY_GREEDY_SIZE] > opt;
            free(b);
        }
    }
    cr_assert_geq(greedy_missed, 12, "the problems are hard for greedy-size (%d of 21 missed)",
                  greedy_missed);
}

Test(exact, capacity_at_the_optimum_is_met) {
    size_t opt, off[40];
    mi_buffer *b = constructed(40, 2, 7, &opt);
    mi_solve_result r;
    cr_assert_eq(solve_exact(b, 40, 256, opt, 1000000, off, &r), MI_OK, "%s", mi_last_error());
    cr_assert_leq(r.pool_size, opt);
    mi_problem p = {b, 40, 256};
    cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK);
    mi__exact_opts eo = {opt, 0, 1000000, NULL, 0};
    mi__exact_result res = exact_internal(b, 40, 256, &eo, off);
    cr_assert(res.found && res.proven);
    cr_assert_leq(res.pool, opt);
    /* Below a perfect packing the lower bound alone proves it. */
    cr_assert_eq(solve_exact(b, 40, 256, opt - 256, 1000000, off, &r), MI_ERR_CAPACITY);
    eo.capacity = opt - 256;
    res = exact_internal(b, 40, 256, &eo, off);
    cr_assert(!res.found && res.proven);
    free(b);
}

/* Problems whose optimum is one unit above the lower bound (found by a
 * random search, confirmed by brute force): one alignment below the
 * optimum is infeasible, and only the search can tell. {units, first, last} */
static const int gap_problems[][20][3] = {
    {{2, 0, 1}, {3, 0, 2}, {1, 2, 3}, {1, 3, 4}, {1, 4, 4}, {1, 2, 5}, {2, 3, 5}, {2, 5, 7},
     {3, 6, 7}, {1, 8, 8}, {1, 8, 10}, {1, 8, 10}, {2, 8, 11}, {1, 9, 11}, {1, 11, 11},
     {1, 11, 11}},
    {{3, 0, 1}, {2, 0, 2}, {1, 2, 3}, {1, 3, 3}, {1, 2, 4}, {1, 2, 4}, {1, 3, 4}, {2, 4, 5},
     {3, 5, 7}, {2, 6, 9}, {2, 8, 10}, {1, 8, 11}, {2, 10, 11}, {2, 11, 11}},
    {{2, 0, 0}, {5, 0, 1}, {1, 1, 2}, {1, 2, 2}, {1, 1, 3}, {4, 2, 3}, {2, 4, 4}, {2, 4, 4},
     {2, 3, 5}, {1, 5, 5}, {1, 4, 6}, {1, 5, 6}, {2, 5, 7}, {3, 6, 8}, {2, 7, 9}, {1, 8, 9},
     {1, 8, 9}, {3, 9, 9}},
    {{3, 0, 0}, {6, 0, 2}, {1, 0, 2}, {2, 0, 2}, {3, 1, 3}, {5, 3, 4}, {4, 3, 4}, {1, 4, 4},
     {1, 4, 5}, {1, 5, 5}, {1, 5, 5}, {1, 4, 6}, {6, 5, 6}, {2, 5, 6}, {3, 6, 7}, {5, 7, 7},
     {2, 7, 7}, {2, 7, 7}},
    {{2, 0, 1}, {1, 0, 2}, {1, 0, 3}, {1, 3, 3}, {1, 2, 5}, {2, 4, 6}, {1, 2, 7}, {1, 6, 8},
     {1, 7, 9}, {1, 8, 9}, {1, 9, 10}, {1, 7, 11}, {1, 12, 12}, {2, 10, 13}, {1, 11, 15},
     {1, 13, 15}, {1, 14, 15}, {1, 14, 16}, {3, 16, 19}, {1, 17, 19}},
};

Test(exact, capacity_below_the_optimum_is_proven_infeasible) {
    const size_t align = 64;
    for (size_t g = 0; g < sizeof gap_problems / sizeof gap_problems[0]; g++) {
        mi_buffer b[20];
        size_t n = 0, off[20];
        for (; n < 20 && gap_problems[g][n][0]; n++) /* sizes just above a multiple round up */
            b[n] = (mi_buffer){(size_t)gap_problems[g][n][0] * align - (n % 3) * 7,
                               gap_problems[g][n][1], gap_problems[g][n][2]};
        mi_solve_result r;
        cr_assert_eq(solve_exact(b, n, align, 0, 1000000, off, &r), MI_OK, "%s", mi_last_error());
        cr_assert(r.proven_optimal);
        cr_assert_eq(r.pool_size, r.lower_bound + align, "problem %zu: %zu, bound %zu", g,
                     r.pool_size, r.lower_bound);
        size_t opt = r.pool_size;
        cr_assert_eq(solve_exact(b, n, align, opt - align, 1000000, off, &r), MI_ERR_CAPACITY,
                     "problem %zu: capacity %zu below the optimum %zu", g, opt - align, opt);
        cr_assert_gt(r.pool_size, opt - align, "the plan over the capacity comes back");
        mi__exact_opts eo = {opt - align, 0, 1000000, NULL, 0};
        mi__exact_result res = exact_internal(b, n, align, &eo, off);
        cr_assert(!res.found && res.proven, "problem %zu: no plan within %zu, proven", g,
                  opt - align);
        cr_assert_gt(res.nodes, 0, "proven by search, not by the bound");
        cr_assert_eq(solve_exact(b, n, align, opt, 1000000, off, &r), MI_OK);
        cr_assert_eq(r.pool_size, opt);
    }
}

/* ---- limits ---------------------------------------------------------------------- */

Test(exact, node_budget_returns_a_valid_plan_no_worse_than_the_hint) {
    size_t n = 300, opt;
    mi_buffer *b = constructed(n, 0, 1, &opt);
    size_t *off = malloc(n * sizeof *off);
    mi_solve_result r;
    cr_assert_eq(solve_exact(b, n, 256, 0, 3000, off, &r), MI_OK, "%s", mi_last_error());
    cr_assert_leq(r.nodes, 3000);
    cr_assert_not(r.proven_optimal);
    cr_assert_leq(r.pool_size, min_heuristic(&r));
    cr_assert_geq(r.pool_size, opt);
    mi_problem p = {b, n, 256};
    cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK, "%s", mi_last_error());
    /* A budget of one node still answers with the hint. */
    cr_assert_eq(solve_exact(b, n, 256, 0, 1, off, &r), MI_OK);
    cr_assert_eq(r.pool_size, min_heuristic(&r));
    cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK);
    free(off);
    free(b);
}

Test(exact, time_limit_returns_a_valid_unproven_plan) {
    size_t n = 400, opt;
    mi_buffer *b = constructed(n, 0, 3, &opt);
    size_t *off = malloc(n * sizeof *off);
    mi_problem p = {b, n, 256};
    mi_solve_options o;
    mi_solve_options_init(&o);
    o.strategy = MI_STRATEGY_EXACT;
    o.time_limit = 0.05;
    mi_solve_result r;
    cr_assert_eq(mi_solve(&p, &o, off, &r), MI_OK, "%s", mi_last_error());
    cr_assert_lt(r.seconds, 2.0, "stopped near the limit: %.3f s", r.seconds);
    cr_assert_not(r.proven_optimal);
    cr_assert_leq(r.pool_size, min_heuristic(&r));
    cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK);
    free(off);
    free(b);
}

/* ---- random problems --------------------------------------------------------------- */

typedef struct brute {
    size_t n, best;
    size_t size[12], off[12];
    int64_t first[12], last[12];
} brute;

static void brute_dfs(brute *bf, size_t i, size_t top) {
    if (top >= bf->best) return;
    if (i == bf->n) {
        bf->best = top;
        return;
    }
    for (size_t o = 0; o + bf->size[i] < bf->best || (!bf->size[i] && o == 0); o++) {
        int ok = 1;
        for (size_t j = 0; j < i && ok; j++)
            ok = !(bf->first[j] <= bf->last[i] && bf->first[i] <= bf->last[j] &&
                   bf->off[j] < o + bf->size[i] && o < bf->off[j] + bf->size[j]);
        if (!ok) continue;
        bf->off[i] = o;
        brute_dfs(bf, i + 1, top > o + bf->size[i] ? top : o + bf->size[i]);
        if (!bf->size[i]) break;
    }
}

/* The optimum in units of align by trying every offset. */
static size_t brute_force(const mi_buffer *b, size_t n, size_t align) {
    brute bf = {.n = n, .best = SIZE_MAX};
    size_t naive = 0;
    for (size_t i = 0; i < n; i++) {
        bf.size[i] = (b[i].size + align - 1) / align;
        bf.first[i] = b[i].first;
        bf.last[i] = b[i].last;
        naive += bf.size[i];
    }
    bf.best = naive + 1;
    brute_dfs(&bf, 0, 0);
    return bf.best * align;
}

Test(exact, random_problems_beat_heuristics_and_match_brute_force) {
    mi_rng rng = {77};
    static const size_t aligns[] = {1, 16, 256};
    int compared = 0;
    for (int it = 0; it < 300; it++) {
        size_t n = 1 + mi_rng_below(&rng, 12), align = aligns[mi_rng_below(&rng, 3)];
        size_t unit_max = n <= 7 ? 4 : 8, off[12];
        mi_buffer b[12];
        for (size_t i = 0; i < n; i++) {
            int64_t f = (int64_t)mi_rng_below(&rng, 10) - 3;
            size_t units = mi_rng_below(&rng, unit_max + 1);
            size_t size = units ? units * align - mi_rng_below(&rng, align) : 0;
            b[i] = (mi_buffer){size, f, f + (int64_t)mi_rng_below(&rng, 5)};
        }
        mi_solve_result r;
        mi_status st = solve_exact(b, n, align, 0, 500000, off, &r);
        cr_assert_eq(st, MI_OK, "it %d: %s", it, mi_last_error());
        mi_problem p = {b, n, align};
        cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK, "it %d: %s", it, mi_last_error());
        for (int s = 0; s < MI_STRATEGY_EXACT; s++)
            cr_assert_leq(r.pool_size, r.by_strategy[s], "it %d: exact %zu > %s %zu", it,
                          r.pool_size, mi_strategy_name((mi_strategy)s), r.by_strategy[s]);
        cr_assert(r.proven_optimal, "it %d: %zu buffers are settled", it, n);
        if (n <= 8) {
            size_t best = brute_force(b, n, align);
            cr_assert_eq(r.pool_size, best, "it %d: exact %zu, brute force %zu", it, r.pool_size,
                         best);
            compared++;
        }
    }
    cr_assert_gt(compared, 100);
}

/* The searches that decide a part with no slack, as tests name them:
 * the skyline search with backjumping and without, and the SAT search. */
static const struct {
    const char *name;
    int no_backjump, sat_mode;
} full_searches[] = {
    {"skyline, backjumping", 0, MI__SAT_OFF},
    {"skyline, no backjumping", 1, MI__SAT_OFF},
    {"sat", 0, MI__SAT_ONLY},
};
#define NFULL (sizeof full_searches / sizeof full_searches[0])

static mi__exact_opts full_opts(size_t capacity, uint64_t budget, size_t search) {
    return (mi__exact_opts){.capacity = capacity,
                            .node_budget = budget,
                            .no_backjump = full_searches[search].no_backjump,
                            .sat_mode = full_searches[search].sat_mode};
}

/* Perfect packings of 10 to 60 buffers at three densities: at the box's
 * height every section is full, so the no-slack searches decide them: the
 * skyline search (branching on the lowest free point, backjumping over
 * placements a failure does not depend on) and the SAT search. A wrong
 * jump, or a wrong clause, would prove a packable box infeasible. */
Test(exact, zero_slack_constructed_boxes_are_packed) {
    static const double densities[] = {1.0 / 3, 0.5, 1.0};
    mi_rng rng = {2026};
    for (int it = 0; it < 120; it++) {
        size_t n = 10 + mi_rng_below(&rng, 51), opt, off[60];
        double d = densities[it % 3];
        mi_buffer *b = constructed(n, d, 1000 + (uint64_t)it, &opt);
        for (size_t f = 0; f < NFULL; f++) {
            mi__exact_opts eo = full_opts(opt, 2000000, f);
            mi__exact_result res = exact_internal(b, n, 256, &eo, off);
            cr_assert(res.found && res.proven,
                      "it %d: %zu buffers, %.2f steps each, %s: %s after %llu nodes", it, n, d,
                      full_searches[f].name,
                      res.found ? "found" : res.proven ? "proven infeasible" : "open",
                      (unsigned long long)res.nodes);
            cr_assert_leq(res.pool, opt);
        }
        free(b);
    }
}

/* Full problems that no plan packs (every step holds exactly cap units,
 * yet no arrangement fits: found by a random search among 60,000, which
 * brute force confirms here): the no-slack search must prove them, so a
 * failure it explains too narrowly cannot turn into a plan that is not
 * there, and one explained too widely still ends. {cap}, then {units,
 * first, last}. */
static const int full_infeasible[][12][3] = {
    {{6}, {1, 1, 3}, {1, 1, 2}, {1, 0, 2}, {1, 2, 4}, {1, 1, 4}, {2, 4, 4}, {5, 0, 0}, {2, 1, 1},
     {1, 2, 2}, {3, 3, 3}, {2, 4, 4}},
    {{5}, {1, 2, 4}, {1, 1, 3}, {2, 0, 2}, {2, 4, 4}, {3, 0, 0}, {2, 1, 1}, {1, 2, 2}, {3, 3, 3},
     {2, 4, 4}},
    {{6}, {3, 4, 4}, {1, 1, 3}, {1, 2, 4}, {3, 0, 2}, {3, 0, 0}, {2, 1, 1}, {1, 2, 2}, {4, 3, 3},
     {2, 4, 4}},
    {{5}, {3, 0, 1}, {1, 1, 2}, {3, 3, 4}, {1, 2, 3}, {1, 1, 3}, {2, 0, 0}, {2, 2, 2}, {2, 4, 4}},
    {{6}, {1, 1, 3}, {2, 0, 1}, {1, 0, 2}, {1, 2, 4}, {3, 4, 4}, {2, 3, 4}, {3, 0, 0}, {2, 1, 1},
     {3, 2, 2}, {2, 3, 3}},
    {{4}, {1, 2, 4}, {3, 4, 4}, {1, 1, 3}, {1, 0, 2}, {3, 0, 0}, {2, 1, 1}, {1, 2, 2}, {2, 3, 3}},
};

/* Problem g of full_infeasible into b (11 entries at least); returns its
 * buffer count, its cap in *cap. */
static size_t full_problem(size_t g, mi_buffer *b, size_t *cap) {
    size_t n = 0;
    *cap = (size_t)full_infeasible[g][0][0];
    for (; n < 11 && full_infeasible[g][n + 1][0]; n++)
        b[n] = (mi_buffer){(size_t)full_infeasible[g][n + 1][0], full_infeasible[g][n + 1][1],
                           full_infeasible[g][n + 1][2]};
    return n;
}

Test(exact, zero_slack_unpackable_is_proven) {
    for (size_t g = 0; g < sizeof full_infeasible / sizeof full_infeasible[0]; g++) {
        size_t cap, off[11];
        mi_buffer b[11];
        size_t n = full_problem(g, b, &cap);
        cr_assert_gt(brute_force(b, n, 1), cap, "problem %zu: brute force packs it", g);
        for (size_t f = 0; f < NFULL; f++) {
            mi__exact_opts eo = full_opts(cap, 1000000, f);
            mi__exact_result res = exact_internal(b, n, 1, &eo, off);
            cr_assert(!res.found && res.proven, "problem %zu, %s: nothing within %zu, proven", g,
                      full_searches[f].name, cap);
            cr_assert_gt(res.nodes, 0, "problem %zu: proven by search, not by the bound", g);
        }
        mi__exact_opts eo = {cap + 1, 0, 1000000, NULL, 0, 0, 0};
        cr_assert(exact_internal(b, n, 1, &eo, off).found, "problem %zu: one unit more fits", g);
    }
}

/* Each unpackable problem above stacked on a perfect packing of 1 to 6
 * buffers over the same five steps: still full, packable or not as the two
 * interleave (24 of the 72 pack). Whatever the answer, the skyline search
 * with backjumping, the one without and the SAT search must give the same. */
Test(exact, zero_slack_stacked_agree_across_searches) {
    int settled = 0, fits = 0;
    for (size_t g = 0; g < sizeof full_infeasible / sizeof full_infeasible[0]; g++)
        for (uint64_t seed = 1; seed <= 12; seed++) {
            size_t cap, opt, off[40];
            mi_buffer b[40];
            size_t n = full_problem(g, b, &cap);
            mi_hard_opts o;
            mi_hard_opts_init(&o, 1 + seed % 6, seed);
            o.steps = 5;
            o.height = 4 + seed % 6;
            o.alignment = 1;
            mi_buffer *box = NULL;
            cr_assert_eq(mi_hard_generate(&o, &box, NULL, &opt), 0);
            for (size_t i = 0; i < o.count; i++) b[n++] = box[i];
            free(box);
            mi__exact_result res[NFULL];
            int all = 1;
            for (size_t f = 0; f < NFULL; f++) {
                mi__exact_opts eo = full_opts(cap + opt, 2000000, f);
                res[f] = exact_internal(b, n, 1, &eo, off);
                all &= res[f].proven;
            }
            if (!all) continue;
            for (size_t f = 1; f < NFULL; f++)
                cr_assert_eq(res[0].found, res[f].found, "problem %zu, box %llu: %s by %s", g,
                             (unsigned long long)seed,
                             res[f].found ? "packed" : "proven unpackable", full_searches[f].name);
            settled++;
            fits += res[0].found;
        }
    cr_assert_gt(settled, 60, "settled: %d", settled);
    cr_assert(fits > 0 && fits < settled, "both answers occur: %d of %d packed", fits, settled);
}

Test(exact, minimise_without_a_hint_and_odd_inputs) {
    size_t off[8];
    mi__exact_opts eo = {0, 0, 100000, NULL, 0};
    /* No hint: the search starts from greedy-size on its own. */
    mi_buffer b[] = {{512, 0, 1}, {256, 1, 2}, {256, 0, 0}, {512, 2, 2}, {256, 2, 3}};
    mi__exact_result res = exact_internal(b, 5, 256, &eo, off);
    cr_assert(res.found && res.proven);
    cr_assert_eq(res.pool, brute_force(b, 5, 256));
    /* Nothing to place, or only empty buffers. */
    res = exact_internal(NULL, 0, 256, &eo, off);
    cr_assert(res.found && res.proven && res.pool == 0);
    mi_buffer z[] = {{0, 0, 5}, {0, 3, 4}};
    res = exact_internal(z, 2, 256, &eo, off);
    cr_assert(res.found && res.proven && res.pool == 0);
    cr_assert(off[0] == 0 && off[1] == 0);
    /* Capacity without a hint. */
    eo.capacity = 1024;
    res = exact_internal(b, 5, 256, &eo, off);
    cr_assert(res.found && res.proven && res.pool <= 1024);
    /* Far-apart 64-bit times and one long-lived buffer. */
    mi_buffer t[] = {{256, INT64_MIN, INT64_MAX}, {512, -5, 0}, {512, 1, 1000000000000LL},
                     {256, 0, 3}};
    mi_solve_result r;
    cr_assert_eq(solve_exact(t, 4, 256, 0, 10000, off, &r), MI_OK);
    cr_assert_eq(r.pool_size, 1024);
    cr_assert(r.proven_optimal);
}

/* ---- auto, determinism, allocation failures ---------------------------------------- */

Test(exact, auto_takes_the_exact_plan_when_it_wins) {
    size_t n = 200, opt;
    mi_buffer *b = constructed(n, 10, 1, &opt);
    size_t *off = malloc(n * sizeof *off);
    mi_problem p = {b, n, 256};
    mi_solve_options o;
    mi_solve_options_init(&o);
    mi_solve_result r;
    cr_assert_eq(mi_solve(&p, &o, off, &r), MI_OK, "%s", mi_last_error());
    size_t heur = min_heuristic(&r);
    cr_assert_gt(heur, opt, "every heuristic misses the optimum");
    cr_assert_eq(r.pool_size, opt);
    cr_assert_eq(r.strategy, MI_STRATEGY_EXACT);
    cr_assert_eq(r.by_strategy[MI_STRATEGY_EXACT], opt);
    cr_assert(r.proven_optimal);
    cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK);
    free(off);
    free(b);
}

Test(exact, same_problem_same_plan) {
    size_t n = 200, opt;
    mi_buffer *b = constructed(n, 0, 2, &opt);
    size_t *o1 = malloc(n * sizeof *o1), *o2 = malloc(n * sizeof *o2);
    mi_solve_result r1, r2;
    cr_assert_eq(solve_exact(b, n, 256, 0, 20000, o1, &r1), MI_OK);
    cr_assert_eq(solve_exact(b, n, 256, 0, 20000, o2, &r2), MI_OK);
    cr_assert_eq(r1.pool_size, r2.pool_size);
    cr_assert_eq(r1.nodes, r2.nodes);
    cr_assert_eq(memcmp(o1, o2, n * sizeof *o1), 0, "byte-identical offsets");
    free(o1);
    free(o2);
    free(b);
}

/* ---- a portfolio of searches (mi_solve_options.threads) ---------------------------- */

/* Its first search is the lone search, stopped early only when another
 * settles the question, so under the same node budget the portfolio's plan
 * is never larger and it proves at least what the lone search proves. */
Test(exact, portfolio_never_worse_than_one_search) {
    static const double densities[] = {1.0, 0.5, 1.0 / 3};
    /* Several budgets: where the lone search misses the optimum under one,
     * the others may find it; which budget shows it moves with the search. */
    static const uint64_t budgets[] = {2000, 5000, 10000, 20000, 40000};
    int proven[2] = {0, 0}, smaller = 0;
    for (size_t bi = 0; bi < sizeof budgets / sizeof budgets[0]; bi++)
        for (int it = 0; it < 12; it++) {
            uint64_t budget = budgets[bi];
            size_t n = 60 + 20 * (size_t)(it % 4), opt;
            mi_buffer *b = constructed(n, densities[it % 3], 500 + (uint64_t)it, &opt);
            size_t *off = malloc(n * sizeof *off);
            mi_problem p = {b, n, 256};
            mi_solve_result r1, r3;
            cr_assert_eq(solve_threads(b, n, 256, 0, budget, 1, off, &r1), MI_OK, "%s",
                         mi_last_error());
            cr_assert_eq(solve_threads(b, n, 256, 0, budget, 3, off, &r3), MI_OK, "%s",
                         mi_last_error());
            cr_assert_eq(mi_validate(&p, off, r3.pool_size), MI_OK, "it %d: %s", it,
                         mi_last_error());
            cr_assert_leq(r3.pool_size, r1.pool_size, "it %d: %zu buffers", it, n);
            cr_assert_geq(r3.pool_size, opt);
            cr_assert(!r1.proven_optimal || r3.proven_optimal, "it %d: the lone search proved it",
                      it);
            /* The floor is the box (the lower bound): proven exactly when reached. */
            cr_assert_eq(r3.proven_optimal, r3.pool_size == opt, "it %d: %zu, proven %d", it,
                         r3.pool_size, r3.proven_optimal);
            cr_assert_leq(r3.nodes, 3 * budget);
            proven[0] += r1.proven_optimal;
            proven[1] += r3.proven_optimal;
            smaller += r3.pool_size < r1.pool_size;
            free(off);
            free(b);
        }
    cr_assert(proven[1] > 0 && proven[1] >= proven[0], "proven: %d alone, %d in a portfolio",
              proven[0], proven[1]);
    /* The other searches differ from the first: somewhere they do better. */
    cr_assert_gt(smaller, 0, "the portfolio never beat its first search");
}

/* Capacity mode: perfect packings are found and checked, and unpackable
 * full problems proven, whichever search settles them. */
Test(exact, portfolio_capacity_packs_and_proves) {
    for (int it = 0; it < 12; it++) {
        size_t n = 20 + 4 * (size_t)it, opt, off[64];
        mi_buffer *b = constructed(n, it % 2 ? 0.5 : 1.0 / 3, 700 + (uint64_t)it, &opt);
        mi_solve_result r;
        cr_assert_eq(solve_threads(b, n, 256, opt, 2000000, 4, off, &r), MI_OK,
                     "it %d: %s", it, mi_last_error());
        mi_problem p = {b, n, 256};
        cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK, "%s", mi_last_error());
        cr_assert_leq(r.pool_size, opt);
        free(b);
    }
    /* Unpackable full problems: the optimum is one unit above the bound. */
    for (size_t g = 0; g < sizeof full_infeasible / sizeof full_infeasible[0]; g++) {
        size_t cap, off[11];
        mi_buffer b[11];
        size_t n = full_problem(g, b, &cap);
        mi__exact_opts eo = {.capacity = cap, .node_budget = 1000000, .threads = 3};
        mi__exact_result res = exact_internal(b, n, 1, &eo, off);
        cr_assert(!res.found && res.proven, "problem %zu: nothing fits in %zu, proven", g, cap);
        eo.capacity = cap + 1;
        cr_assert(exact_internal(b, n, 1, &eo, off).found, "problem %zu: one unit more fits", g);
        /* Minimise: found and proven at cap + 1; with one node per search
         * nothing is proven above the bound. */
        eo.capacity = 0;
        res = exact_internal(b, n, 1, &eo, off);
        cr_assert(res.found && res.proven && res.pool == cap + 1, "problem %zu: %zu, proven %d", g,
                  res.pool, res.proven);
        eo.node_budget = 1;
        res = exact_internal(b, n, 1, &eo, off);
        cr_assert(res.found && res.floor == cap && res.proven == (res.pool == cap),
                  "problem %zu, one node: %zu, floor %zu, proven %d", g, res.pool, res.floor,
                  res.proven);
    }
}

Test(exact, portfolio_threads_out_of_range_rejected) {
    mi_buffer b[2] = {{256, 0, 0}, {256, 1, 1}}; /* one after the other: 256 bytes */
    size_t off[2];
    mi_solve_result r;
    cr_assert_eq(solve_threads(b, 2, 256, 0, 100, -1, off, &r), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "threads -1"), "%s", mi_last_error());
    cr_assert_eq(solve_threads(b, 2, 256, 0, 100, MI_MAX_SEARCH_THREADS + 1, off, &r),
                 MI_ERR_INVALID_ARG);
    cr_assert_eq(solve_threads(b, 2, 256, 0, 100, 0, off, &r), MI_OK);
    cr_assert_eq(r.pool_size, 256);
}

/* Ends an injection of a failure at allocation k: whether it fired, and
 * nothing may be left allocated beyond base. */
static int injection_over(uint64_t k, int64_t base) {
    int fired = mi__alloc_failed();
    mi__alloc_fail_at(0);
    cr_assert_eq(mi__alloc_outstanding(), base, "leak after failing allocation %llu",
                 (unsigned long long)k);
    return fired;
}

Test(exact, allocation_failures_unwind) {
    size_t n = 30, opt, off[30];
    mi_buffer *b = constructed(n, 0, 5, &opt);
    int64_t base = mi__alloc_outstanding();
    int fired_any = 0, absorbed = 0;
    /* Modes: minimise, capacity, and both as a portfolio of three searches,
     * where the allocation that fails may be any thread's. */
    for (int mode = 0; mode < 4; mode++) {
        for (uint64_t k = 1;; k++) {
            mi__alloc_fail_at(k);
            mi_solve_result r;
            mi_status st = solve_threads(b, n, 256, mode & 1 ? opt : 0, 100000, mode & 2 ? 3 : 1,
                                         off, &r);
            int fired = injection_over(k, base);
            if (!fired) {
                cr_assert_eq(st, MI_OK, "%s", mi_last_error());
                cr_assert_eq(r.pool_size, opt);
                break;
            }
            fired_any = 1;
            if (mode & 2 && st == MI_OK) {
                /* A helper search left out: the others still answer. */
                mi_problem p = {b, n, 256};
                cr_assert_eq(mi_validate(&p, off, r.pool_size), MI_OK, "%s", mi_last_error());
                absorbed++;
                continue;
            }
            cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu: got %s", (unsigned long long)k,
                         mi_status_name(st));
            cr_assert(mi_last_error()[0], "the failure has a message");
        }
    }
    cr_assert(fired_any);
    cr_assert_gt(absorbed, 0, "no helper search's failure was absorbed");
    free(b);
}

/* The SAT search alone on a full box: every allocation it makes may fail,
 * and each failure is reported (or, past the search, absorbed) with
 * nothing leaked. */
Test(exact, sat_allocation_failures_unwind) {
    size_t n = 40, opt, off[40];
    mi_buffer *b = constructed(n, 1.0 / 3, 9, &opt);
    mi_problem src = {b, n, 256};
    mi__prob p;
    cr_assert_eq(mi__prob_init(&p, &src, NULL), MI_OK);
    int64_t base = mi__alloc_outstanding();
    mi__exact_opts eo = {.capacity = opt, .node_budget = 1000000, .sat_mode = MI__SAT_ONLY};
    int fired_any = 0;
    for (uint64_t k = 1;; k++) {
        mi__alloc_fail_at(k);
        mi__exact_result res;
        mi_status st = mi__plan_exact(&p, &eo, off, &res);
        int fired = injection_over(k, base);
        if (!fired) {
            cr_assert_eq(st, MI_OK, "%s", mi_last_error());
            cr_assert(res.found && res.proven && res.pool == opt);
            cr_assert_gt(k, 10, "the SAT search allocates");
            break;
        }
        fired_any = 1;
        if (st == MI_OK) {
            cr_assert(res.found, "allocation %llu: absorbed, yet no plan", (unsigned long long)k);
            cr_assert_eq(mi__validate(&p, off, res.pool), MI_OK, "%s", mi_last_error());
            continue;
        }
        cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu: got %s", (unsigned long long)k,
                     mi_status_name(st));
        cr_assert(mi_last_error()[0], "the failure has a message");
    }
    cr_assert(fired_any);
    mi__prob_free(&p);
    free(b);
}

/* Node budgets that are no multiple of a conflict's price end the SAT
 * search too (a budget left under one conflict is spent, not retried). */
Test(exact, sat_odd_node_budgets_end) {
    size_t n = 150, opt, off[150];
    mi_buffer *b = constructed(n, 1.0 / 3, 11, &opt);
    for (uint64_t budget = 1; budget < 20000; budget = budget * 7 + 3) {
        mi__exact_opts eo = {.capacity = opt, .node_budget = budget, .sat_mode = MI__SAT_ONLY};
        mi__exact_result res = exact_internal(b, n, 256, &eo, off);
        cr_assert(res.found || !res.proven, "budget %llu: proven unpackable", (unsigned long long)budget);
        cr_assert_leq(res.nodes, budget + 50, "budget %llu: %llu nodes", (unsigned long long)budget,
                      (unsigned long long)res.nodes);
    }
    free(b);
}
