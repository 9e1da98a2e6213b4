/* The planner's front: problem normalisation (alignment, step compression,
 * the lower bound), the validator, and mi_solve with its auto strategy. */
#include "oset.h"
#include "planner_internal.h"

#include <string.h>

static const char *const strategy_names[] = {
#define MI__STRATEGY_NAME(e, name) name,
    MI_STRATEGY_LIST(MI__STRATEGY_NAME)
#undef MI__STRATEGY_NAME
};

const char *mi_strategy_name(mi_strategy s) {
    if ((int)s < 0 || s >= MI_STRATEGY_COUNT) return "unknown";
    return strategy_names[s];
}

mi_status mi_strategy_parse(const char *name, mi_strategy *out) {
    for (int s = 0; s < MI_STRATEGY_COUNT; s++) {
        if (name && strcmp(name, strategy_names[s]) == 0) {
            *out = (mi_strategy)s;
            return MI_OK;
        }
    }
    char list[256] = "";
    for (int s = 0; s < MI_STRATEGY_COUNT; s++) {
        strncat(list, strategy_names[s], sizeof list - strlen(list) - 1);
        if (s + 1 < MI_STRATEGY_COUNT) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    return mi__error(MI_ERR_INVALID_ARG, "unknown strategy '%s': expected one of %s",
                     name ? name : "(null)", list);
}

mi_status mi_solve_options_check(const mi_solve_options *opt) {
    if (!opt) return mi__error(MI_ERR_INVALID_ARG, "solve options: NULL");
    if ((int)opt->strategy < 0 || opt->strategy >= MI_STRATEGY_COUNT)
        return mi__error(MI_ERR_INVALID_ARG, "strategy %d is not one of the %d strategies",
                         (int)opt->strategy, (int)MI_STRATEGY_COUNT);
    if (opt->threads < 0 || opt->threads > MI_MAX_SEARCH_THREADS)
        return mi__error(MI_ERR_INVALID_ARG, "threads %d: expected 0 .. %d", opt->threads,
                         MI_MAX_SEARCH_THREADS);
    return MI_OK;
}

void mi_solve_options_init(mi_solve_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->strategy = MI_STRATEGY_AUTO;
    opt->enabled = 1;
    opt->time_limit = MI_DEFAULT_TIME_LIMIT;
    opt->threads = 1;
}

/* ---- normalisation --------------------------------------------------------- */

void mi__prob_free(mi__prob *p) {
    if (!p) return;
    mi__free(p->size);
    mi__free(p->first);
    mi__free(p->last);
    mi__free(p->live_bytes);
    memset(p, 0, sizeof *p);
}

static uint64_t key_of_time(int64_t t) { return (uint64_t)t ^ (UINT64_C(1) << 63); }

/* Maps each buffer's first and last to the rank of its value among all
 * distinct first/last values: overlap tests only compare times, so ranks
 * preserve them, and arrays can be indexed by step. */
static mi_status compress_steps(mi__prob *p) {
    size_t n = p->n, m = 2 * n;
    mi_status st = MI_OK;
    uint64_t *key = mi__malloc((m ? m : 1) * sizeof *key);
    uint32_t *idx = mi__malloc((m ? m : 1) * sizeof *idx);
    if (!key || !idx) {
        st = mi__error(MI_ERR_NO_MEMORY, "planner: %zu buffers", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        key[2 * i] = key_of_time(p->src[i].first);
        key[2 * i + 1] = key_of_time(p->src[i].last);
    }
    for (size_t i = 0; i < m; i++) idx[i] = (uint32_t)i;
    if ((st = mi__sort_by_key(idx, m, key))) goto done;
    uint32_t rank = 0;
    for (size_t k = 0; k < m; k++) {
        if (k > 0 && key[idx[k]] != key[idx[k - 1]]) rank++;
        uint32_t e = idx[k];
        if (e & 1) p->last[e / 2] = rank;
        else p->first[e / 2] = rank;
    }
    p->nsteps = m ? rank + 1 : 0;
done:
    mi__free(key);
    mi__free(idx);
    return st;
}

mi_status mi__prob_init(mi__prob *p, const mi_problem *src, const mi_solve_options *opt) {
    mi_status st;
    memset(p, 0, sizeof *p);
    if (!src) return mi__error(MI_ERR_INVALID_ARG, "planner: problem is NULL");
    if (src->count && !src->buffers)
        return mi__error(MI_ERR_INVALID_ARG, "planner: %zu buffers but no array", src->count);
    size_t align = src->alignment;
    if ((st = mi__check_alignment(align))) return st;
    if (src->count >= UINT32_MAX / 2)
        return mi__error(MI_ERR_INVALID_ARG, "planner: %zu buffers; at most %u", src->count,
                         UINT32_MAX / 2 - 1);
    p->src = src->buffers;
    p->n = src->count;
    p->align = align;
    if (opt) {
        p->verbose = opt->verbose;
        p->log = opt->log;
        p->log_user = opt->log_user;
    }
    size_t n = p->n, alloc_n = n ? n : 1;
    p->size = mi__malloc(alloc_n * sizeof *p->size);
    p->first = mi__malloc(alloc_n * sizeof *p->first);
    p->last = mi__malloc(alloc_n * sizeof *p->last);
    if (!p->size || !p->first || !p->last) {
        st = mi__error(MI_ERR_NO_MEMORY, "planner: %zu buffers", n);
        goto fail;
    }
    size_t naive = 0;
    for (size_t i = 0; i < n; i++) {
        const mi_buffer *b = &src->buffers[i];
        if (b->first > b->last) {
            st = mi__error(MI_ERR_INVALID_ARG,
                           "buffer %zu: first step %lld is after last step %lld", i,
                           (long long)b->first, (long long)b->last);
            goto fail;
        }
        if (!mi__align_up(b->size, align, &p->size[i]) || !mi__add_size(naive, p->size[i], &naive)) {
            st = mi__error(MI_ERR_OVERFLOW,
                           "buffer %zu: size %zu brings the sum of aligned sizes past SIZE_MAX", i,
                           b->size);
            goto fail;
        }
    }
    p->naive = naive;
    if ((st = compress_steps(p))) goto fail;
    p->live_bytes = mi__calloc((size_t)p->nsteps + 1, sizeof *p->live_bytes);
    if (!p->live_bytes) {
        st = mi__error(MI_ERR_NO_MEMORY, "planner: %u steps", p->nsteps);
        goto fail;
    }
    /* Difference array; no partial sum exceeds naive, which fits. */
    for (size_t i = 0; i < n; i++) {
        p->live_bytes[p->first[i]] += p->size[i];
        p->live_bytes[p->last[i] + 1] -= p->size[i];
    }
    size_t run = 0, lower = 0;
    for (uint32_t t = 0; t < p->nsteps; t++) {
        run += p->live_bytes[t];
        p->live_bytes[t] = run;
        if (run > lower) lower = run;
    }
    p->lower = lower;
    return MI_OK;
fail:
    mi__prob_free(p);
    return st;
}

mi_status mi_lower_bound(const mi_problem *problem, size_t *out) {
    mi__prob p;
    mi_status st = mi__prob_init(&p, problem, NULL);
    if (st) return st;
    *out = p.lower;
    mi__prob_free(&p);
    return MI_OK;
}

mi_status mi_naive_size(const mi_problem *problem, size_t *out) {
    mi__prob p;
    mi_status st = mi__prob_init(&p, problem, NULL);
    if (st) return st;
    *out = p.naive;
    mi__prob_free(&p);
    return MI_OK;
}

/* ---- validation ------------------------------------------------------------ */

static mi_status collision(const mi__prob *p, const size_t *off, uint32_t a, uint32_t b) {
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    const mi_buffer *x = &p->src[a], *y = &p->src[b];
    return mi__error(MI_ERR_PLAN_INVALID,
                     "buffers %u and %u collide: %u at [%zu, %zu) live [%lld, %lld], "
                     "%u at [%zu, %zu) live [%lld, %lld]",
                     a, b, a, off[a], off[a] + p->size[a], (long long)x->first, (long long)x->last,
                     b, off[b], off[b] + p->size[b], (long long)y->first, (long long)y->last);
}

static int cmp_first(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    return (p->first[a] > p->first[b]) - (p->first[a] < p->first[b]);
}
static int cmp_last(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    return (p->last[a] > p->last[b]) - (p->last[a] < p->last[b]);
}

mi_status mi__validate(const mi__prob *p, const size_t *off, size_t pool) {
    mi_status st = MI_OK;
    size_t n = p->n;
    if (pool % p->align)
        return mi__error(MI_ERR_PLAN_INVALID, "pool size %zu is not a multiple of the alignment %zu",
                         pool, p->align);
    for (size_t i = 0; i < n; i++) {
        size_t end;
        if (off[i] % p->align)
            return mi__error(MI_ERR_PLAN_INVALID, "buffer %zu: offset %zu is not aligned to %zu", i,
                             off[i], p->align);
        if (!mi__add_size(off[i], p->size[i], &end) || end > pool)
            return mi__error(MI_ERR_PLAN_INVALID,
                             "buffer %zu: [%zu, +%zu) is outside the pool of %zu bytes", i, off[i],
                             p->size[i], pool);
    }
    uint32_t *in = mi__malloc((n ? n : 1) * sizeof *in);
    uint32_t *out = mi__malloc((n ? n : 1) * sizeof *out);
    mi__oset live;
    memset(&live, 0, sizeof live);
    if (!in || !out) {
        st = mi__error(MI_ERR_NO_MEMORY, "validator: %zu buffers", n);
        goto done;
    }
    if ((st = mi__oset_init(&live, 64))) goto done;
    for (size_t i = 0; i < n; i++) in[i] = out[i] = (uint32_t)i;
    if ((st = mi__sort_idx(in, n, cmp_first, p)) || (st = mi__sort_idx(out, n, cmp_last, p)))
        goto done;
    size_t j = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = in[k];
        while (j < n && p->last[out[j]] < p->first[b]) {
            uint32_t e = out[j++];
            if (p->size[e]) mi__oset_remove(&live, off[e], e);
        }
        if (!p->size[b]) continue;
        uint64_t key;
        uint32_t other;
        if (mi__oset_ceil(&live, off[b], 0, &key, &other) && key < off[b] + p->size[b]) {
            st = collision(p, off, b, other);
            goto done;
        }
        if (mi__oset_lower(&live, off[b], 0, &key, &other) && key + p->size[other] > off[b]) {
            st = collision(p, off, b, other);
            goto done;
        }
        if ((st = mi__oset_insert(&live, off[b], b))) goto done;
    }
done:
    mi__oset_free(&live);
    mi__free(in);
    mi__free(out);
    return st;
}

mi_status mi_validate(const mi_problem *problem, const size_t *offsets, size_t pool_size) {
    mi__prob p;
    mi_status st = mi__prob_init(&p, problem, NULL);
    if (st) return st;
    if (p.n && !offsets) st = mi__error(MI_ERR_INVALID_ARG, "validator: offsets is NULL");
    else st = mi__validate(&p, offsets, pool_size);
    mi__prob_free(&p);
    return st;
}

/* ---- solving --------------------------------------------------------------- */

typedef mi_status (*heuristic_fn)(const mi__prob *, size_t *, size_t *);

static heuristic_fn heuristic(mi_strategy s) {
    switch (s) {
    case MI_STRATEGY_NAIVE: return mi__plan_naive;
    case MI_STRATEGY_GREEDY_SIZE: return mi__plan_greedy_size;
    case MI_STRATEGY_BEST_FIT: return mi__plan_best_fit;
    case MI_STRATEGY_GREEDY_BREADTH: return mi__plan_greedy_breadth;
    case MI_STRATEGY_COLORING: return mi__plan_coloring;
    default: return NULL;
    }
}

#define MI__AUTO_NODE_BUDGET 200000
/* Entries the search may scan within auto, whatever the node count: with
 * the node budget it stops the search well inside the time limit on these
 * machines, at a point that does not depend on their speed or load. */
#define MI__AUTO_WORK_BUDGET ((uint64_t)1 << 28)
/* Past this many buffers the search's setup alone outlasts its time limit
 * and it has never improved a heuristic plan (bench/results/exact.md). */
#define MI__AUTO_EXACT_MAX_BUFFERS 200000

/* Runs every heuristic, keeps the smallest (the earliest on ties), then
 * lets a bounded exact search try to close the gap to the lower bound. */
static mi_status solve_auto(const mi__prob *p, const mi_solve_options *opt, size_t *offsets,
                            mi_solve_result *r) {
    mi_status st = MI_OK;
    size_t n = p->n ? p->n : 1;
    size_t *tmp = mi__malloc(n * sizeof *tmp);
    if (!tmp) return mi__error(MI_ERR_NO_MEMORY, "planner: %zu offsets", p->n);
    size_t best = SIZE_MAX;
    for (int s = 0; s < MI_STRATEGY_EXACT; s++) {
        size_t pool;
        if ((st = heuristic((mi_strategy)s)(p, tmp, &pool))) goto done;
        r->by_strategy[s] = pool;
        mi__logf(p->verbose ? p->log : NULL, p->log_user, "auto: %s gives %zu bytes",
                 mi_strategy_name((mi_strategy)s), pool);
        if (pool < best) {
            best = pool;
            r->strategy = (mi_strategy)s;
            memcpy(offsets, tmp, p->n * sizeof *tmp);
        }
    }
    r->pool_size = best;
    if (best > p->lower && p->n <= MI__AUTO_EXACT_MAX_BUFFERS) {
        mi__exact_opts eo = {0};
        eo.time_limit = opt->time_limit > 0 ? opt->time_limit : MI_DEFAULT_TIME_LIMIT;
        eo.node_budget = opt->node_budget ? opt->node_budget : MI__AUTO_NODE_BUDGET;
        eo.work_budget = MI__AUTO_WORK_BUDGET;
        eo.threads = opt->threads;
        eo.hint = offsets;
        eo.hint_pool = best;
        mi__exact_result er;
        if ((st = mi__plan_exact(p, &eo, tmp, &er))) goto done;
        r->nodes = er.nodes;
        if (er.found) r->by_strategy[MI_STRATEGY_EXACT] = er.pool;
        mi__logf(p->verbose ? p->log : NULL, p->log_user,
                 "auto: exact gives %zu bytes after %llu nodes%s", er.found ? er.pool : best,
                 (unsigned long long)er.nodes, er.proven ? " (proven optimal)" : "");
        if (er.found && er.pool < best) {
            best = er.pool;
            r->strategy = MI_STRATEGY_EXACT;
            memcpy(offsets, tmp, p->n * sizeof *tmp);
        }
        r->pool_size = best;
        if (er.proven) r->proven_optimal = 1;
    }
done:
    mi__free(tmp);
    return st;
}

static mi_status solve_exact(const mi__prob *p, const mi_solve_options *opt, size_t *offsets,
                             mi_solve_result *r) {
    /* Start from the best heuristic so the search only has to improve it. */
    mi_status st;
    size_t n = p->n ? p->n : 1;
    size_t *hint = mi__malloc(n * sizeof *hint);
    if (!hint) return mi__error(MI_ERR_NO_MEMORY, "planner: %zu offsets", p->n);
    size_t best = SIZE_MAX;
    mi_strategy best_s = MI_STRATEGY_NAIVE;
    for (int s = 0; s < MI_STRATEGY_EXACT; s++) {
        size_t pool;
        if ((st = heuristic((mi_strategy)s)(p, offsets, &pool))) goto done;
        r->by_strategy[s] = pool;
        if (pool < best) {
            best = pool;
            best_s = (mi_strategy)s;
            memcpy(hint, offsets, p->n * sizeof *hint);
        }
    }
    mi__exact_opts eo = {0};
    eo.capacity = opt->capacity;
    eo.time_limit = opt->time_limit;
    eo.node_budget = opt->node_budget;
    eo.threads = opt->threads;
    eo.hint = hint;
    eo.hint_pool = best;
    mi__exact_result er;
    if ((st = mi__plan_exact(p, &eo, offsets, &er))) goto done;
    r->nodes = er.nodes;
    if (er.found && er.pool <= best) {
        r->pool_size = er.pool;
        r->strategy = MI_STRATEGY_EXACT;
        r->by_strategy[MI_STRATEGY_EXACT] = er.pool;
    } else {
        r->pool_size = best;
        r->strategy = best_s;
        memcpy(offsets, hint, p->n * sizeof *hint);
    }
    r->proven_optimal = er.proven && !opt->capacity;
    if (opt->capacity && er.proven && !er.found)
        mi__logf(p->verbose ? p->log : NULL, p->log_user,
                 "exact: proved that no plan fits in %zu bytes", opt->capacity);
done:
    mi__free(hint);
    return st;
}

mi_status mi_solve(const mi_problem *problem, const mi_solve_options *opt_in, size_t *offsets,
                   mi_solve_result *result) {
    mi_solve_options opt;
    if (opt_in) opt = *opt_in;
    else mi_solve_options_init(&opt);
    mi_status st = mi_solve_options_check(&opt);
    if (st) return st;
    mi_solve_result r;
    memset(&r, 0, sizeof r);
    mi__prob p;
    double t0 = mi__now();
    st = mi__prob_init(&p, problem, &opt);
    if (st) return st;
    if (p.n && !offsets) {
        st = mi__error(MI_ERR_INVALID_ARG, "planner: offsets is NULL");
        goto done;
    }
    /* An empty problem may pass offsets == NULL; the strategies still
     * memcpy zero elements, which C forbids on a null pointer. */
    size_t no_offsets;
    if (!offsets) offsets = &no_offsets;
    r.alignment = p.align;
    r.lower_bound = p.lower;
    r.naive_size = p.naive;
    mi_strategy s = opt.enabled ? opt.strategy : MI_STRATEGY_NAIVE;
    r.strategy = s;
    if (s == MI_STRATEGY_AUTO) st = solve_auto(&p, &opt, offsets, &r);
    else if (s == MI_STRATEGY_EXACT) st = solve_exact(&p, &opt, offsets, &r);
    else {
        st = heuristic(s)(&p, offsets, &r.pool_size);
        r.by_strategy[s] = r.pool_size;
    }
    if (st) goto done;
    if (r.pool_size == p.lower) r.proven_optimal = 1;
    if ((st = mi__validate(&p, offsets, r.pool_size)) == MI_ERR_PLAN_INVALID) {
        st = mi__error_prefix(MI_ERR_INTERNAL, "strategy %s returned an invalid plan: ",
                              mi_strategy_name(r.strategy));
        goto done;
    }
    if (st) goto done;
    r.seconds = mi__now() - t0;
    mi__logf(opt.verbose ? opt.log : NULL, opt.log_user,
             "planned %zu buffers with %s: pool %zu bytes, lower bound %zu, naive %zu (%.3f s)", p.n,
             mi_strategy_name(r.strategy), r.pool_size, p.lower, p.naive, r.seconds);
    if (opt.capacity && r.pool_size > opt.capacity)
        st = mi__error(MI_ERR_CAPACITY, "the plan needs %zu bytes, more than the capacity of %zu",
                       r.pool_size, opt.capacity);
done:
    if (result && (st == MI_OK || st == MI_ERR_CAPACITY)) *result = r;
    mi__prob_free(&p);
    return st;
}
