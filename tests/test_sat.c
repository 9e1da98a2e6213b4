/* The CDCL solver behind the exact strategy's no-slack search
 * (src/planner/sat.c), alone: answers against brute force, models against
 * the clauses, budgets that stop and resume, and allocation failures. */
#include "common/alloc_hook.h"
#include "planner/exact/sat.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define MAXV 48
#define MAXC 220

typedef struct cnf {
    int nv, nc;
    int len[MAXC];
    int32_t lit[MAXC][4];
} cnf;

/* Random 3-SAT (some clauses shorter) over lo .. hi variables near the
 * threshold, where both answers are common. */
static void random_cnf_n(mi_rng *r, cnf *f, int lo, int hi, int shorter) {
    f->nv = lo + (int)mi_rng_below(r, (uint64_t)(hi - lo + 1));
    f->nc = (int)(f->nv * 4.2) + (int)mi_rng_below(r, 5) - 2;
    if (f->nc > MAXC) f->nc = MAXC;
    for (int c = 0; c < f->nc; c++) {
        f->len[c] = shorter && mi_rng_below(r, 8) == 0 ? 1 + (int)mi_rng_below(r, 2) : 3;
        for (int k = 0; k < f->len[c]; k++) {
            int32_t v = 1 + (int32_t)mi_rng_below(r, (uint64_t)f->nv);
            f->lit[c][k] = mi_rng_below(r, 2) ? v : -v;
        }
    }
}

static void random_cnf(mi_rng *r, cnf *f) { random_cnf_n(r, f, 4, 14, 1); }

static int satisfied(const cnf *f, int (*val)(const void *, int), const void *ctx) {
    for (int c = 0; c < f->nc; c++) {
        int ok = 0;
        for (int k = 0; k < f->len[c] && !ok; k++) {
            int32_t l = f->lit[c][k];
            int v = val(ctx, (l > 0 ? l : -l) - 1);
            ok = l > 0 ? v : !v;
        }
        if (!ok) return 0;
    }
    return 1;
}

static int bits_val(const void *ctx, int v) { return (int)((*(const uint32_t *)ctx >> v) & 1); }
static int sat_val(const void *ctx, int v) { return mi__sat_value(ctx, (uint32_t)v); }

static int brute(const cnf *f) {
    for (uint32_t m = 0; m < (1u << f->nv); m++)
        if (satisfied(f, bits_val, &m)) return 1;
    return 0;
}

/* The last `passive` variables are not branched on while others are open. */
static mi_status load_passive(const cnf *f, int passive, mi__sat **out) {
    mi_status st;
    uint32_t first;
    if ((st = mi__sat_create(out))) return st;
    if ((st = mi__sat_new_vars(*out, (uint32_t)(f->nv - passive), 1, &first)) ||
        (st = mi__sat_new_vars(*out, (uint32_t)passive, 0, &first)))
        return st;
    for (int c = 0; c < f->nc; c++)
        if ((st = mi__sat_add(*out, f->lit[c], (size_t)f->len[c]))) return st;
    return MI_OK;
}

/* A plain DPLL (unit propagation, no learning), the reference for
 * formulas too large for brute force: as[v] is 0 open, 1 true, -1 false. */
static int dpll(const cnf *f, int8_t *as) {
    int8_t saved[MAXV];
    memcpy(saved, as, sizeof saved);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int c = 0; c < f->nc; c++) {
            int open = 0, last = 0, sat = 0;
            for (int k = 0; k < f->len[c] && !sat; k++) {
                int32_t l = f->lit[c][k];
                int v = (l > 0 ? l : -l) - 1, a = as[v];
                if (!a) open++, last = l;
                else sat = (a > 0) == (l > 0);
            }
            if (sat) continue;
            if (!open) {
                memcpy(as, saved, sizeof saved);
                return 0;
            }
            if (open == 1) {
                as[(last > 0 ? last : -last) - 1] = last > 0 ? 1 : -1;
                changed = 1;
            }
        }
    }
    int v = 0;
    while (v < f->nv && as[v]) v++;
    if (v == f->nv) return 1;
    for (int a = 1; a >= -1; a -= 2) {
        as[v] = (int8_t)a;
        if (dpll(f, as)) return 1;
    }
    memcpy(as, saved, sizeof saved);
    return 0;
}

static mi_status load(const cnf *f, mi__sat **out) { return load_passive(f, 0, out); }

/* Half the formulas with a few variables the search does not branch on
 * (it must still assign them when nothing else is left). */
Test(sat, random_formulas_match_brute_force) {
    mi_rng r = {77};
    int answers[2] = {0, 0};
    for (int it = 0; it < 2000; it++) {
        cnf f;
        random_cnf(&r, &f);
        mi__sat *s = NULL;
        cr_assert_eq(load_passive(&f, it % 2 ? (int)mi_rng_below(&r, 4) : 0, &s), MI_OK, "%s",
                     mi_last_error());
        mi__sat_result res;
        cr_assert_eq(mi__sat_solve(s, 0, NULL, NULL, &res), MI_OK);
        int want = brute(&f);
        cr_assert_eq(res, want ? MI__SAT_SAT : MI__SAT_UNSAT, "formula %d: brute force says %d",
                     it, want);
        if (res == MI__SAT_SAT) cr_assert(satisfied(&f, sat_val, s), "formula %d: bad model", it);
        answers[want]++;
        mi__sat_destroy(s);
    }
    cr_assert(answers[0] > 200 && answers[1] > 200, "both answers: %d unsat, %d sat", answers[0],
              answers[1]);
}

/* Formulas of 30 to 48 variables, where conflicts learn long clauses and
 * the database is reduced: a clause learnt wrongly (too strong) shows as
 * a wrong "unsatisfiable", a wrong model as a clause it breaks. */
Test(sat, larger_formulas_match_dpll) {
    mi_rng r = {91};
    int answers[2] = {0, 0};
    uint64_t conflicts = 0;
    for (int it = 0; it < 300; it++) {
        cnf f;
        random_cnf_n(&r, &f, 30, MAXV, 0);
        mi__sat *s = NULL;
        cr_assert_eq(load(&f, &s), MI_OK, "%s", mi_last_error());
        mi__sat_result res;
        cr_assert_eq(mi__sat_solve(s, 0, NULL, NULL, &res), MI_OK);
        int8_t as[MAXV] = {0};
        int want = dpll(&f, as);
        cr_assert_eq(res, want ? MI__SAT_SAT : MI__SAT_UNSAT, "formula %d: DPLL says %d", it,
                     want);
        if (res == MI__SAT_SAT) cr_assert(satisfied(&f, sat_val, s), "formula %d: bad model", it);
        answers[want]++;
        conflicts += mi__sat_conflicts(s);
        mi__sat_destroy(s);
    }
    cr_assert(answers[0] > 30 && answers[1] > 30, "both answers: %d unsat, %d sat", answers[0],
              answers[1]);
    cr_assert_gt(conflicts, 3000, "the solver had to learn");
}

/* The pigeonhole principle, 7 pigeons in 6 holes: unsatisfiable, and hard
 * enough for clause learning that it takes many conflicts; a budget of one
 * conflict per call stops and resumes until the proof is done, and the
 * solver is used again after it. */
/* P pigeons in H holes, each in one at least, no two in one. */
static mi__sat *pigeonhole(int P, int H) {
    mi__sat *s;
    uint32_t first;
    cr_assert_eq(mi__sat_create(&s), MI_OK);
    cr_assert_eq(mi__sat_new_vars(s, (uint32_t)(P * H), 1, &first), MI_OK);
    int32_t cl[16];
    cr_assert_leq(H, 16);
    for (int p = 0; p < P; p++) {
        for (int h = 0; h < H; h++) cl[h] = p * H + h + 1;
        cr_assert_eq(mi__sat_add(s, cl, (size_t)H), MI_OK);
    }
    for (int h = 0; h < H; h++)
        for (int p = 0; p < P; p++)
            for (int q = p + 1; q < P; q++) {
                int32_t two[2] = {-(p * H + h + 1), -(q * H + h + 1)};
                cr_assert_eq(mi__sat_add(s, two, 2), MI_OK);
            }
    return s;
}

Test(sat, budgets_stop_and_resume) {
    mi__sat *s = pigeonhole(7, 6);
    mi__sat_result res = MI__SAT_UNKNOWN;
    int calls = 0;
    while (res == MI__SAT_UNKNOWN) {
        uint64_t before = mi__sat_conflicts(s);
        cr_assert_eq(mi__sat_solve(s, 1, NULL, NULL, &res), MI_OK);
        cr_assert_leq(mi__sat_conflicts(s) - before, 1);
        calls++;
    }
    cr_assert_eq(res, MI__SAT_UNSAT);
    cr_assert_gt(calls, 100, "pigeonhole 7/6 took %d conflicts", calls);
    cr_assert_eq(mi__sat_solve(s, 0, NULL, NULL, &res), MI_OK);
    cr_assert_eq(res, MI__SAT_UNSAT, "unsatisfiable stays so");
    mi__sat_destroy(s);
    mi__sat_destroy(NULL);
}

static int stop_now(void *arg) { return ++*(int *)arg > 0; }

Test(sat, stop_callback_and_bad_literals) {
    /* Pigeonhole 9/8 runs long; stop() ends it at its first poll. */
    mi__sat *s = pigeonhole(9, 8);
    int polls = 0;
    mi__sat_result res;
    cr_assert_eq(mi__sat_solve(s, 0, stop_now, &polls, &res), MI_OK);
    cr_assert_eq(res, MI__SAT_UNKNOWN);
    cr_assert_eq(polls, 1);
    int32_t bad[2] = {1, 9 * 8 + 1};
    cr_assert_eq(mi__sat_add(s, bad, 2), MI_ERR_INTERNAL);
    int32_t zero[1] = {0};
    cr_assert_eq(mi__sat_add(s, zero, 1), MI_ERR_INTERNAL);
    /* a tautology with a bad literal after it: rejected, nothing touched */
    int32_t taut[3] = {1, -1, 100000};
    cr_assert_eq(mi__sat_add(s, taut, 3), MI_ERR_INTERNAL);
    mi__sat_destroy(s);

    /* A rejected clause leaves no trace: {-1, -2}, {1}, {2} stay unsatisfiable. */
    uint32_t first;
    cr_assert_eq(mi__sat_create(&s), MI_OK);
    cr_assert_eq(mi__sat_new_vars(s, 2, 1, &first), MI_OK);
    int32_t rejected[2] = {1, 5}, c1[2] = {-1, -2}, c2[1] = {1}, c3[1] = {2};
    cr_assert_eq(mi__sat_add(s, rejected, 2), MI_ERR_INTERNAL);
    cr_assert_eq(mi__sat_add(s, c1, 2), MI_OK);
    cr_assert_eq(mi__sat_add(s, c2, 1), MI_OK);
    cr_assert_eq(mi__sat_add(s, c3, 1), MI_OK);
    cr_assert_eq(mi__sat_solve(s, 0, NULL, NULL, &res), MI_OK);
    cr_assert_eq(res, MI__SAT_UNSAT);
    mi__sat_destroy(s);
}

Test(sat, allocation_failures_unwind) {
    mi_rng r = {5};
    cnf f;
    do random_cnf(&r, &f);
    while (f.nv < 12);
    int64_t base = mi__alloc_outstanding();
    int fired_any = 0;
    for (uint64_t k = 1;; k++) {
        mi__alloc_fail_at(k);
        mi__sat *s = NULL;
        mi_status st = load(&f, &s);
        mi__sat_result res = MI__SAT_UNKNOWN;
        if (!st) st = mi__sat_solve(s, 0, NULL, NULL, &res);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        mi__sat_destroy(s);
        cr_assert_eq(mi__alloc_outstanding(), base, "leak after failing allocation %llu",
                     (unsigned long long)k);
        if (!fired) {
            cr_assert_eq(st, MI_OK);
            cr_assert_eq(res, brute(&f) ? MI__SAT_SAT : MI__SAT_UNSAT);
            break;
        }
        fired_any = 1;
        cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu: %s", (unsigned long long)k,
                     mi_status_name(st));
    }
    cr_assert(fired_any);
}
