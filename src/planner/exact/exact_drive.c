/* exact_drive.c: what the decision search of exact.c is asked, and under
 * which limits. Capacity mode asks each part for a plan within capacity;
 * minimise mode works on the highest parts, from their floor (the lower
 * bound, raised by each proof) and bisecting up to their incumbent, with
 * node limits that double when a round brings no news. A part with no
 * slack at its floor gets restarts on a Luby schedule (decide_any). */
#include "exact_internal.h"
#include "exact_sat.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* No slack: attempts run LUBY_UNIT x (buffers of the part) nodes times the
 * Luby sequence. */
#define LUBY_UNIT 5

/* The Luby sequence 1 1 2 1 1 2 4 1 1 2 ... (i from 1). */
static uint64_t luby(uint64_t i) {
    for (;;) {
        uint64_t k = 1;
        while (k < 63 && (((uint64_t)1 << k) - 1) < i) k++;
        if (i == ((uint64_t)1 << k) - 1 || k == 63) return (uint64_t)1 << (k - 1);
        i -= ((uint64_t)1 << (k - 1)) - 1;
    }
}

/* Copies part q's plan from s->sol to offsets and records its height. */
static mi_status found(solver *s, uint32_t q, size_t *offsets) {
    size_t top = 0;
    for (uint32_t k = s->part_at[q]; k < s->part_at[q + 1]; k++) {
        uint32_t b = s->order[k];
        offsets[b] = s->sol[b] * s->p->align;
        if (s->sol[b] + s->size[b] > top) top = s->sol[b] + s->size[b];
    }
    s->part_hi[q] = top;
    return MI_OK;
}

/* Tries each preorder in turn under the node limit; the first conclusive
 * answer wins (infeasibility does not depend on the preorder). On
 * OUT_FOUND the plan is written to offsets and the part's height updated. */
static mi_status decide_any(solver *s, uint32_t q, size_t cap, uint64_t limit, size_t *offsets,
                            outcome *out) {
    *out = OUT_ABORTED;
    /* With no slack the run time of one attempt is heavy-tailed: most
     * preorders lose themselves under an early wrong choice, a few find a
     * plan fast. Many short attempts (a Luby schedule of node limits,
     * seeded random preorders after the first round), as many as fit in
     * MI__XNHEUR x limit nodes, find it far more often than a few long ones;
     * failed states outlive the attempts, and the growing limits keep the
     * search complete. */
    int full = mi__xpart_full(s, q, cap);
    uint64_t start = s->nodes;
    uint64_t allow = limit > UINT64_MAX / MI__XNHEUR ? UINT64_MAX : limit * MI__XNHEUR;
    uint64_t unit = LUBY_UNIT * (uint64_t)(s->part_at[q + 1] - s->part_at[q]);
    /* No slack: the skyline attempts share the allowance with the SAT
     * search (exact_sat.c), which runs after them, so that the boxes the
     * skyline packs at once never pay for an encoding. */
    int sat = full && s->sat_mode != MI__SAT_OFF && mi__xsat_usable(s, q);
    uint64_t sky = sat ? allow / 16 : allow;
    int skyline = !sat || s->sat_mode != MI__SAT_ONLY;
again:
    for (uint64_t h = 0;
         skyline && !s->stop && (full ? h == 0 || s->nodes - start < sky : h < MI__XNSLACK); h++) {
        /* In a portfolio each search starts from another preorder; past
         * the fixed ones (salt >= MI__XNSLACK) from the three seeded random
         * ones, then one fixed (a random one twice would replay itself). */
        int heur = s->salt < MI__XNSLACK ? (int)((h + s->salt) % MI__XNSLACK)
                   : h < 3               ? MI__XNHEUR - 1 - (int)((h + s->salt) % 3)
                                         : (int)(s->salt % MI__XNSLACK);
        uint64_t lim = limit;
        if (full) {
            s->runs++;
            /* The fixed preorders once (salt 0 only), then random ones. */
            heur = s->runs > (uint64_t)MI__XNHEUR || s->salt
                       ? MI__XNHEUR - 1 - (int)(s->runs % 3)
                       : (int)s->runs - 1;
            uint64_t l = luby(s->runs);
            lim = l > UINT64_MAX / unit ? UINT64_MAX : unit * l;
        }
        mi_status st = mi__xdecide(s, q, cap, full, heur, lim, out);
        if (st) return st;
        if (*out == OUT_INFEASIBLE) return MI_OK;
        if (*out == OUT_FOUND) return found(s, q, offsets);
    }
    if (sat && !s->stop) {
        uint64_t used = s->nodes - start;
        mi_status st = mi__xsat_decide(s, q, cap, allow > used ? allow - used : 0, out);
        if (st) return st;
        if (*out == OUT_FOUND) return found(s, q, offsets);
        if (*out == OUT_ABORTED && !mi__xsat_usable(s, q)) {
            /* too large to encode (found out just now): the rest is the skyline's */
            sat = 0;
            sky = allow;
            skyline = 1;
            goto again;
        }
    }
    return MI_OK;
}

/* Buffers of size 0 go to offset 0, inside any pool. */
static void zero_empty(const solver *s, size_t *offsets) {
    for (size_t i = 0; i < s->p->n; i++)
        if (!s->size[i]) offsets[i] = 0;
}

/* Heights of the parts in a plan, in units. */
static void part_heights(solver *s, const size_t *offsets) {
    for (uint32_t q = 0; q < s->nparts; q++) {
        size_t top = 0;
        for (uint32_t k = s->part_at[q]; k < s->part_at[q + 1]; k++) {
            uint32_t b = s->order[k];
            size_t e = offsets[b] / s->p->align + s->size[b];
            if (e > top) top = e;
        }
        s->part_hi[q] = top;
    }
}

static uint64_t first_limit(const solver *s) { return 2 * (uint64_t)s->nlive + 64; }
static uint64_t next_limit(uint64_t l) { return l > UINT64_MAX / 2 ? UINT64_MAX : 2 * l; }

/* Capacity mode: a plan within capacity, or the proof that none exists.
 * Parts that the hint already fits are kept. */
static mi_status solve_capacity(solver *s, const mi__exact_opts *opt, size_t *offsets,
                                mi__exact_result *res) {
    mi_status st;
    const mi__prob *p = s->p;
    if (opt->hint && opt->hint_pool <= opt->capacity) {
        memcpy(offsets, opt->hint, p->n * sizeof *offsets);
        res->pool = opt->hint_pool;
        res->found = res->proven = 1;
        return MI_OK;
    }
    if (p->lower > opt->capacity) {
        res->proven = 1;
        return MI_OK;
    }
    size_t cap = opt->capacity / p->align;
    if (opt->hint) {
        memcpy(offsets, opt->hint, p->n * sizeof *offsets);
        zero_empty(s, offsets);
        part_heights(s, offsets);
    } else {
        memset(offsets, 0, p->n * sizeof *offsets);
        for (uint32_t q = 0; q < s->nparts; q++) s->part_hi[q] = SIZE_MAX;
    }
    for (uint64_t limit = first_limit(s); !s->stop; limit = next_limit(limit)) {
        int open = 0;
        for (uint32_t q = 0; q < s->nparts && !s->stop; q++) {
            if (s->part_hi[q] <= cap) continue;
            outcome out;
            if ((st = decide_any(s, q, cap, limit, offsets, &out))) return st;
            if (out == OUT_INFEASIBLE) {
                res->proven = 1;
                return MI_OK;
            }
            open += out == OUT_ABORTED;
        }
        if (!open && !s->stop) {
            size_t top = 0;
            for (uint32_t q = 0; q < s->nparts; q++)
                if (s->part_hi[q] > top) top = s->part_hi[q];
            res->pool = top * p->align;
            res->found = res->proven = 1;
            return MI_OK;
        }
    }
    return MI_OK;
}

/* Lowers the part q from its incumbent toward floor (or proves floor
 * infeasible) under the node limit; *progress is set on any news. */
static mi_status improve_part(solver *s, uint32_t q, size_t floor, uint64_t limit,
                              size_t *offsets, int *progress) {
    outcome out;
    mi_status st = decide_any(s, q, floor, limit, offsets, &out);
    if (st || out == OUT_FOUND) {
        *progress = 1;
        return st;
    }
    if (out == OUT_INFEASIBLE) {
        s->part_lo[q] = floor + 1;
        *progress = 1;
        return MI_OK;
    }
    /* The floor is not settled: bisect above it, where plans are easier,
     * with a smaller limit so that the floor keeps most of the effort; a
     * part with no slack at the floor is most likely a perfect packing, so
     * there the floor keeps more (dense 200/3 found in 5 s instead of 8,
     * the best plans of dense 300 boxes within 0.4% of what they were). */
    uint64_t div = mi__xpart_full(s, q, floor) ? 16 : 4;
    uint64_t small = limit / div > first_limit(s) ? limit / div : first_limit(s);
    for (size_t soft = floor + 1; soft < s->part_hi[q] && !s->stop;) {
        size_t c = soft + (s->part_hi[q] - 1 - soft) / 2;
        if ((st = decide_any(s, q, c, small, offsets, &out))) return st;
        if (out == OUT_FOUND) {
            *progress = 1;
        } else if (out == OUT_INFEASIBLE) {
            s->part_lo[q] = soft = c + 1;
            *progress = 1;
        } else {
            soft = c + 1;
        }
    }
    return MI_OK;
}

/* Minimise mode: the pool is the highest part, so the search works on the
 * highest parts, down to the highest proven floor. */
static mi_status solve_min(solver *s, const mi__exact_opts *opt, size_t *offsets,
                           mi__exact_result *res) {
    mi_status st;
    const mi__prob *p = s->p;
    size_t pool;
    if (opt->hint) memcpy(offsets, opt->hint, p->n * sizeof *offsets);
    else if ((st = mi__plan_greedy_size(p, offsets, &pool))) return st;
    res->found = 1;
    zero_empty(s, offsets);
    part_heights(s, offsets);
    size_t hi = 0, lo = 0;
    for (uint64_t limit = first_limit(s);; ) {
        hi = lo = 0;
        for (uint32_t q = 0; q < s->nparts; q++) {
            if (s->part_hi[q] > hi) hi = s->part_hi[q];
            if (s->part_lo[q] > lo) lo = s->part_lo[q];
        }
        if (hi <= lo || s->stop) break;
        int progress = 0;
        for (uint32_t q = 0; q < s->nparts && !s->stop; q++) {
            if (s->part_hi[q] < hi) continue;
            size_t floor = s->part_lo[q] > lo ? s->part_lo[q] : lo;
            if ((st = improve_part(s, q, floor, limit, offsets, &progress))) return st;
        }
        if (!progress) limit = next_limit(limit);
    }
    res->pool = hi * p->align;
    res->floor = lo * p->align;
    res->proven = hi <= lo;
    return MI_OK;
}

/* One search of a portfolio (or the only one). */
static mi_status plan_one(const mi__prob *p, const mi__exact_opts *opt, uint32_t salt,
                          const atomic_int *cancel, size_t *offsets, mi__exact_result *res) {
    mi_status st;
    solver s;
    memset(res, 0, sizeof *res);
    res->pool = SIZE_MAX;
    if ((st = mi__xsolver_init(&s, p))) goto done;
    s.node_budget = opt->node_budget;
    s.work_budget = opt->work_budget;
    s.no_backjump = opt->no_backjump;
    s.sat_mode = opt->sat_mode;
    s.salt = salt;
    s.cancel = cancel;
    if (opt->time_limit > 0) s.deadline = mi__now() + opt->time_limit;
    if (opt->capacity) st = solve_capacity(&s, opt, offsets, res);
    else st = solve_min(&s, opt, offsets, res);
    res->nodes = s.nodes;
done:
    mi__xsolver_free(&s);
    return st;
}

typedef struct worker {
    const mi__prob *p;
    const mi__exact_opts *opt;
    uint32_t salt;
    atomic_int *cancel;
    size_t *offsets;
    mi__exact_result res;
    mi_status st;
    char err[1024]; /* mi_last_error() is per thread: the worker's, for the caller */
} worker;

/* The question is settled: a plan within the capacity, or a proof. */
static int settled(const mi__exact_opts *opt, const mi__exact_result *r) {
    return opt->capacity ? r->found || r->proven : r->proven;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    w->st = plan_one(w->p, w->opt, w->salt, w->cancel, w->offsets, &w->res);
    if (w->st) snprintf(w->err, sizeof w->err, "%s", mi_last_error());
    else if (settled(w->opt, &w->res)) atomic_store(w->cancel, 1);
    return NULL;
}

/* The portfolio's answer among the searches that ended without an error
 * (at least one did): capacity mode, a plan if any search found one, else
 * a proof if any has one; minimise mode, the smallest plan, optimal when
 * some search proved a floor it reaches. */
static size_t pick(const mi__exact_opts *opt, const worker *w, size_t nw, mi__exact_result *res) {
    size_t best = 0;
    while (w[best].st) best++;
    for (size_t i = best + 1; i < nw; i++) {
        if (w[i].st) continue;
        const mi__exact_result *a = &w[i].res, *b = &w[best].res;
        int better = opt->capacity ? (a->found && !b->found) || (a->proven && !b->proven && !b->found)
                                   : a->found && (!b->found || a->pool < b->pool);
        if (better) best = i;
    }
    *res = w[best].res;
    res->nodes = 0;
    for (size_t i = 0; i < nw; i++) {
        res->nodes += w[i].res.nodes;
        if (!w[i].st && !opt->capacity && w[i].res.floor > res->floor) res->floor = w[i].res.floor;
    }
    if (!opt->capacity && res->found && res->pool <= res->floor) res->proven = 1;
    return best;
}

mi_status mi__plan_exact(const mi__prob *p, const mi__exact_opts *opt, size_t *offsets,
                         mi__exact_result *res) {
    mi_status st = MI_OK;
    size_t nw = opt->threads > 1 ? (size_t)opt->threads : 1, started = 0;
    worker *w = NULL;
    pthread_t *tid = NULL;
    atomic_int cancel;
    atomic_init(&cancel, 0);
    memset(res, 0, sizeof *res);
    res->pool = SIZE_MAX;
    if (nw == 1) {
        st = plan_one(p, opt, 0, NULL, offsets, res);
        goto done;
    }
    w = mi__calloc(nw, sizeof *w);
    tid = mi__calloc(nw, sizeof *tid);
    if (!w || !tid) {
        st = mi__error(MI_ERR_NO_MEMORY, "exact: %zu searches", nw);
        goto done;
    }
    /* Search 0 writes to offsets; the others, on threads of their own, to
     * offsets of their own. A helper search that cannot start (no memory
     * for its offsets, no thread) is left out, and so is one that fails
     * (no memory for its tables): the answer is no worse than search 0's
     * alone. Only when every search fails does the call fail. */
    for (size_t i = 0; i < nw; i++)
        w[i] = (worker){.p = p, .opt = opt, .salt = (uint32_t)i, .cancel = &cancel};
    w[0].offsets = offsets;
    for (started = 1; started < nw; started++) {
        w[started].offsets = mi__malloc((p->n ? p->n : 1) * sizeof *offsets);
        if (!w[started].offsets ||
            pthread_create(&tid[started], NULL, worker_main, &w[started]))
            break;
    }
    worker_main(&w[0]);
    for (size_t i = 1; i < started; i++) pthread_join(tid[i], NULL);
    size_t ok = 0;
    for (size_t i = 0; i < started; i++) ok += !w[i].st;
    if (!ok) {
        st = mi__error(w[0].st, "%s", w[0].err);
        goto done;
    }
    size_t best = pick(opt, w, started, res);
    if (best && res->found) memcpy(offsets, w[best].offsets, p->n * sizeof *offsets);
done:
    if (!st && p->verbose)
        mi__logf(p->log, p->log_user, "exact: %s %zu bytes after %llu nodes%s%s",
                 res->found ? "plan of" : "no plan within", res->found ? res->pool : opt->capacity,
                 (unsigned long long)res->nodes, res->proven ? " (proven)" : "",
                 nw > 1 ? " (portfolio)" : "");
    for (size_t i = 1; w && i < nw; i++) mi__free(w[i].offsets); /* NULL past started */
    mi__free(w);
    mi__free(tid);
    return st;
}
