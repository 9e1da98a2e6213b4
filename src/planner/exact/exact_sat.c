/* exact_sat.c: a part with no slack as a satisfiability problem.
 *
 * When every section of a part holds exactly cap units, a plan is a stack
 * per section: each buffer's offset is the sum of the sizes below it there.
 * So a plan is an order, and the encoding needs one variable per pair of
 * buffers live at a common section ("a is below b") and two facts:
 *  - per section the order is total: for three buffers live at a common
 *    section, no cycle (two clauses per triple);
 *  - a buffer keeps its offset across each boundary it lives across: of
 *    the buffers ending there and those starting just after, the sizes
 *    below it balance (the sums of the ending ones below it and of the
 *    starting ones below it are equal).
 * Both hold in every plan, and together they make one: the stacks are
 * disjoint and the offsets agree across sections. So the part is packable
 * within cap exactly when the formula is satisfiable, and the solver's
 * "unsatisfiable" is a proof.
 *
 * A balance is a linear equation over 0/1 literals; it is encoded as the
 * decision diagram of its partial sums (one node per distinct sum that can
 * still reach zero, the literals ordered by weight, heaviest first), each
 * node a variable that implies its branch (n and lit imply the high child,
 * n and not lit the low one) and that one of its children holds. The root
 * is asserted, so the implications one way suffice; the last clause is
 * implied, yet without it the slow boxes took 10 to 50 times as long (it
 * closes a node both of whose children are false before its literal is
 * set). The diagram depends only on the sizes at the boundary, so it is
 * built once and instantiated for each buffer across it. Only the pair
 * variables are branched on; a node still open when they are all set is
 * set last (false satisfies its clauses).
 *
 * Clause learning finds why an order fails, which the skyline search of
 * exact.c could not: the constructed boxes of 300 to 500 buffers that it
 * did not pack in minutes, this packs in seconds
 * (bench/results/exact.md). */
#include "exact_sat.h"

#include <string.h>

/* The formula may hold this many literals: with the watches, the learnt
 * clauses and the per-variable arrays a search holds about 35 bytes per
 * literal (131 MB for the 3.7 M of dense 500/1), so at most about 300 MB
 * (each search of a portfolio its own). A part that needs more is left to
 * the skyline search. */
#define MAX_LITS ((size_t)1 << 23)
/* Nodes of one boundary's decision diagram. */
#define MAX_NODES ((size_t)1 << 16)
#define BT UINT32_MAX         /* the diagram's true terminal */
#define BF (UINT32_MAX - 1u)  /* its false terminal */

struct mi__xsat {
    uint32_t q;
    size_t cap;
    uint32_t m;       /* buffers of the part */
    const uint32_t *buf; /* local index -> buffer (the part's slice of s->order) */
    uint32_t *base;   /* var(i, j) for i < j <= reach[i] is base[i] + j - i - 1 */
    uint32_t *reach;  /* the last local index starting before i ends */
    mi__sat *sat;
    size_t lits;      /* literals added so far */
    int unusable;     /* too large: left to the skyline search */
};

typedef struct enc {
    const solver *s;
    mi__xsat *x;
    /* scratch of one boundary */
    uint32_t *item;       /* local indices of the buffers ending and starting */
    int64_t *w;           /* their weights: + ending, - starting */
    int64_t *lo, *hi;     /* suffix ranges of the weights */
    int64_t *sum;         /* the diagram's sums, level by level */
    uint32_t *node;       /* its nodes: index into the node arrays, or BT / BF */
    size_t *at;           /* level j is sum[at[j], at[j + 1]) */
    uint32_t *nlvl, *nhi, *nlo; /* per node: level, children */
    size_t sum_cap, nodes_cap;
    uint32_t *var;        /* per node, its variable for the buffer at hand */
    int32_t cl[4];
} enc;

static uint32_t sec0_of(const enc *e, uint32_t i) { return e->s->sec0[e->x->buf[i]]; }
static uint32_t sec1_of(const enc *e, uint32_t i) { return e->s->sec1[e->x->buf[i]]; }

/* The literal "local buffer a is below local buffer b" (a != b, live at a
 * common section). */
static int32_t below(const mi__xsat *x, uint32_t a, uint32_t b) {
    if (a < b) return (int32_t)(x->base[a] + (b - a - 1)) + 1;
    return -((int32_t)(x->base[b] + (a - b - 1)) + 1);
}

static mi_status add(enc *e, int n) {
    mi__xsat *x = e->x;
    x->lits += (size_t)n;
    if (x->lits > MAX_LITS) {
        x->unusable = 1;
        return MI_OK;
    }
    return mi__sat_add(x->sat, e->cl, (size_t)n);
}

static mi_status clause3(enc *e, int32_t a, int32_t b, int32_t c) {
    e->cl[0] = a;
    e->cl[1] = b;
    e->cl[2] = c;
    return add(e, !a ? 0 : !b ? 1 : !c ? 2 : 3);
}

static mi_status resize_u32(uint32_t **p, size_t n) {
    uint32_t *q = mi__realloc(*p, n * sizeof *q);
    if (!q) return mi__error(MI_ERR_NO_MEMORY, "exact: a decision diagram of %zu nodes", n);
    *p = q;
    return MI_OK;
}

/* Lower index of sum v in the sorted level [a, b) of e->sum, or b. */
static size_t find(const enc *e, size_t a, size_t b, int64_t v) {
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (e->sum[mid] < v) a = mid + 1;
        else b = mid;
    }
    return a;
}

static void sort_i64(int64_t *v, size_t n) {
    /* shell sort: levels are small and this runs once per boundary */
    static const size_t gaps[] = {701, 301, 132, 57, 23, 10, 4, 1};
    for (size_t g = 0; g < sizeof gaps / sizeof *gaps; g++)
        for (size_t i = gaps[g]; i < n; i++) {
            int64_t t = v[i];
            size_t j = i;
            for (; j >= gaps[g] && v[j - gaps[g]] > t; j -= gaps[g]) v[j] = v[j - gaps[g]];
            v[j] = t;
        }
}

/* The decision diagram of sum(w[j] x[j]) == 0 over k items; *root is a
 * node, BT or BF; *nn the nodes. */
static mi_status diagram(enc *e, uint32_t k, uint32_t *root, size_t *nn) {
    mi_status st;
    e->lo[k] = e->hi[k] = 0;
    for (uint32_t j = k; j-- > 0;) {
        e->lo[j] = e->lo[j + 1] + (e->w[j] < 0 ? e->w[j] : 0);
        e->hi[j] = e->hi[j + 1] + (e->w[j] > 0 ? e->w[j] : 0);
    }
    /* sums reachable from the root that can still reach zero, per level */
    size_t n = 0;
    if ((st = mi__grow((void **)&e->sum, &e->sum_cap, 1, sizeof *e->sum))) return st;
    e->at[0] = 0;
    e->sum[n++] = 0;
    for (uint32_t j = 0; j < k; j++) {
        size_t a = e->at[j], b = n;
        e->at[j + 1] = n;
        if ((st = mi__grow((void **)&e->sum, &e->sum_cap, n + 2 * (b - a), sizeof *e->sum))) return st;
        for (size_t i = a; i < b; i++)
            for (int t = 0; t < 2; t++) {
                int64_t v = e->sum[i] + (t ? e->w[j] : 0);
                if (v + e->lo[j + 1] <= 0 && v + e->hi[j + 1] >= 0) e->sum[n++] = v;
            }
        sort_i64(e->sum + b, n - b);
        size_t u = b;
        for (size_t i = b; i < n; i++)
            if (i == b || e->sum[i] != e->sum[u - 1]) e->sum[u++] = e->sum[i];
        n = u;
        if (n > MAX_NODES) {
            e->x->unusable = 1;
            return MI_OK;
        }
    }
    e->at[k + 1] = n;
    if (n > e->nodes_cap) {
        size_t cap = n > 2 * e->nodes_cap ? n : 2 * e->nodes_cap;
        if ((st = resize_u32(&e->node, cap)) || (st = resize_u32(&e->nlvl, cap)) ||
            (st = resize_u32(&e->nhi, cap)) || (st = resize_u32(&e->nlo, cap)) ||
            (st = resize_u32(&e->var, cap)))
            return st;
        e->nodes_cap = cap;
    }
    /* bottom up: a node whose children are both one terminal is that terminal */
    size_t nodes = 0;
    for (size_t i = e->at[k]; i < e->at[k + 1]; i++) e->node[i] = e->sum[i] == 0 ? BT : BF;
    for (uint32_t j = k; j-- > 0;) {
        size_t a = e->at[j + 1], b = e->at[j + 2];
        for (size_t i = e->at[j]; i < e->at[j + 1]; i++) {
            size_t h = find(e, a, b, e->sum[i] + e->w[j]), l = find(e, a, b, e->sum[i]);
            uint32_t nh = h < b && e->sum[h] == e->sum[i] + e->w[j] ? e->node[h] : BF;
            uint32_t nl = l < b && e->sum[l] == e->sum[i] ? e->node[l] : BF;
            if (nh == nl && (nh == BT || nh == BF)) {
                e->node[i] = nh;
                continue;
            }
            e->nlvl[nodes] = j;
            e->nhi[nodes] = nh;
            e->nlo[nodes] = nl;
            e->node[i] = (uint32_t)nodes++;
        }
    }
    *root = e->node[0];
    *nn = nodes;
    return MI_OK;
}

/* The balance across boundary c | c + 1 for every buffer living across it. */
static mi_status balance(enc *e, uint32_t c, const uint32_t *act, uint32_t nact) {
    mi_status st;
    mi__xsat *x = e->x;
    const solver *s = e->s;
    uint32_t k = 0;
    for (uint32_t a = 0; a < nact; a++)
        if (sec1_of(e, act[a]) == c || sec0_of(e, act[a]) == c + 1) e->item[k++] = act[a];
    if (!k) return MI_OK;
    /* heaviest first: the diagram stays narrow at the top */
    for (uint32_t a = 1; a < k; a++) {
        uint32_t t = e->item[a];
        size_t z = s->size[x->buf[t]];
        uint32_t j = a;
        for (; j > 0 && s->size[x->buf[e->item[j - 1]]] < z; j--) e->item[j] = e->item[j - 1];
        e->item[j] = t;
    }
    for (uint32_t j = 0; j < k; j++) {
        int64_t z = (int64_t)s->size[x->buf[e->item[j]]];
        e->w[j] = sec1_of(e, e->item[j]) == c ? z : -z;
    }
    uint32_t root = BT;
    size_t nn = 0;
    if ((st = diagram(e, k, &root, &nn)) || x->unusable) return st;
    if (root == BT) return MI_OK;
    for (uint32_t a = 0; a < nact && !x->unusable; a++) {
        uint32_t b = act[a];
        if (sec0_of(e, b) > c || sec1_of(e, b) <= c) continue;
        /* never: all or none below balance, as the boundary is full both sides */
        if (root == BF) return clause3(e, 0, 0, 0);
        uint32_t v0;
        if ((st = mi__sat_new_vars(x->sat, (uint32_t)nn, 0, &v0))) return st;
        for (size_t i = 0; i < nn; i++) e->var[i] = v0 + (uint32_t)i + 1;
        for (size_t i = 0; i < nn && !x->unusable; i++) {
            int32_t n = (int32_t)e->var[i];
            int32_t lit = below(x, e->item[e->nlvl[i]], b);
            uint32_t hi = e->nhi[i], lo = e->nlo[i];
            /* n -> (lit ? hi : lo) */
            if (hi != BT && (st = clause3(e, -n, -lit, hi == BF ? 0 : (int32_t)e->var[hi])))
                return st;
            if (lo != BT && (st = clause3(e, -n, lit, lo == BF ? 0 : (int32_t)e->var[lo])))
                return st;
            /* n -> (hi or lo): implied, but it lets propagation see a node
             * both of whose ways are closed without waiting for lit */
            if (hi != BT && lo != BT) {
                int32_t h = hi == BF ? 0 : (int32_t)e->var[hi], l = lo == BF ? 0 : (int32_t)e->var[lo];
                if ((st = clause3(e, -n, h ? h : l, h ? l : 0))) return st;
            }
        }
        if ((st = clause3(e, (int32_t)e->var[root], 0, 0))) return st;
    }
    return MI_OK;
}

static void enc_free(enc *e) {
    mi__free(e->item);
    mi__free(e->w);
    mi__free(e->lo);
    mi__free(e->hi);
    mi__free(e->at);
    mi__free(e->sum);
    mi__free(e->node);
    mi__free(e->nlvl);
    mi__free(e->nhi);
    mi__free(e->nlo);
    mi__free(e->var);
}

void mi__xsat_free(mi__xsat *x) {
    if (!x) return;
    mi__sat_destroy(x->sat);
    mi__free(x->base);
    mi__free(x->reach);
    mi__free(x);
}

/* One variable per pair of buffers live at a common section. Buffers are
 * by first section, so those after i that start before i ends are a run. */
static mi_status pair_variables(enc *e) {
    mi__xsat *x = e->x;
    uint32_t m = x->m;
    size_t nv = 0;
    for (uint32_t i = 0; i < m; i++) {
        /* sec1 is not monotone: search from i */
        uint32_t lo = i, hi = m;
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (sec0_of(e, mid) <= sec1_of(e, i)) lo = mid;
            else hi = mid;
        }
        x->reach[i] = lo;
        x->base[i] = (uint32_t)nv;
        nv += lo - i;
        if (nv >= (size_t)INT32_MAX / 2) {
            x->unusable = 1;
            return MI_OK;
        }
    }
    uint32_t v0;
    mi_status st = mi__sat_new_vars(x->sat, (uint32_t)nv, 1, &v0);
    if (st) return st;
    /* The mirror image of a plan with no slack is one too: the first pair
     * may as well have its first buffer below. */
    if (m > 1 && x->reach[0] > 0) return clause3(e, below(x, 0, 1), 0, 0);
    return MI_OK;
}

/* No cycle among three buffers live at a common section: each triple
 * once, at the first section of its last buffer (by first section). act
 * (m + 1 entries) is scratch. */
static mi_status no_cycles(enc *e, uint32_t *act) {
    mi_status st;
    mi__xsat *x = e->x;
    uint32_t na = 0;
    for (uint32_t c = 0; c < x->m && !x->unusable; c++) {
        uint32_t k = 0;
        for (uint32_t a = 0; a < na; a++)
            if (sec1_of(e, act[a]) >= sec0_of(e, c)) act[k++] = act[a];
        na = k;
        for (uint32_t a = 0; a < na && !x->unusable; a++)
            for (uint32_t b = a + 1; b < na; b++) {
                int32_t ab = below(x, act[a], act[b]), bc = below(x, act[b], c),
                        ac = below(x, act[a], c);
                if ((st = clause3(e, -ab, -bc, ac)) || (st = clause3(e, ab, bc, -ac))) return st;
            }
        act[na++] = c;
    }
    return MI_OK;
}

/* Balances, boundary by boundary: act (m + 1 entries) holds the buffers
 * live at c or starting at c + 1. */
static mi_status balances(enc *e, uint32_t *act) {
    mi_status st;
    mi__xsat *x = e->x;
    uint32_t na = 0;
    uint32_t c0 = sec0_of(e, 0), c1 = e->s->part_s1[x->q], next = 0;
    for (uint32_t c = c0; c < c1 && !x->unusable; c++) {
        uint32_t k = 0;
        for (uint32_t a = 0; a < na; a++)
            if (sec1_of(e, act[a]) >= c) act[k++] = act[a];
        na = k;
        while (next < x->m && sec0_of(e, next) <= c + 1) act[na++] = next++;
        if ((st = balance(e, c, act, na))) return st;
    }
    return MI_OK;
}

static mi_status build(const solver *s, mi__xsat *x) {
    mi_status st;
    uint32_t m = x->m;
    enc e = {.s = s, .x = x};
    uint32_t *act = mi__malloc(((size_t)m + 1) * sizeof *act);
    e.item = mi__malloc(((size_t)m + 1) * sizeof *e.item);
    e.w = mi__malloc(((size_t)m + 1) * sizeof *e.w);
    e.lo = mi__malloc(((size_t)m + 1) * sizeof *e.lo);
    e.hi = mi__malloc(((size_t)m + 1) * sizeof *e.hi);
    e.at = mi__malloc(((size_t)m + 2) * sizeof *e.at);
    x->base = mi__malloc(((size_t)m + 1) * sizeof *x->base);
    x->reach = mi__malloc(((size_t)m + 1) * sizeof *x->reach);
    if (!act || !e.item || !e.w || !e.lo || !e.hi || !e.at || !x->base || !x->reach) {
        st = mi__error(MI_ERR_NO_MEMORY, "exact: encoding a part of %u buffers", m);
        goto done;
    }
    if ((st = mi__sat_create(&x->sat))) goto done;
    /* in a portfolio each search has its own (search 0 none) */
    if (s->salt) mi__sat_set_seed(x->sat, 0x5A7ULL + s->salt);
    if ((st = pair_variables(&e)) || x->unusable) goto done;
    if ((st = no_cycles(&e, act))) goto done;
    st = balances(&e, act);
done:
    mi__free(act);
    enc_free(&e);
    return st;
}

/* Polled by the SAT search: the clock, the portfolio. */
static int sat_stop(void *arg) {
    const solver *s = arg;
    if (s->cancel && atomic_load_explicit(s->cancel, memory_order_relaxed)) return 1;
    return s->deadline > 0 && mi__now() > s->deadline;
}

int mi__xsat_usable(const solver *s, uint32_t q) {
    return !s->xsat || !s->xsat[q] || !s->xsat[q]->unusable;
}

/* Encodes part q at cap into *out; one too large to encode keeps only
 * that verdict. */
static mi_status encode(solver *s, uint32_t q, size_t cap, mi__xsat **out) {
    mi_status st;
    mi__xsat *x = mi__calloc(1, sizeof *x);
    *out = NULL;
    if (!x) return mi__error(MI_ERR_NO_MEMORY, "exact: encoding");
    x->q = q;
    x->cap = cap;
    x->buf = s->order + s->part_at[q];
    x->m = s->part_at[q + 1] - s->part_at[q];
    if ((st = build(s, x))) {
        mi__xsat_free(x);
        return st;
    }
    const mi__prob *p = s->p;
    if (x->unusable) {
        mi__sat_destroy(x->sat);
        x->sat = NULL;
        if (p->verbose)
            mi__logf(p->log, p->log_user,
                     "exact: a part of %u buffers is too large to encode; skyline search only",
                     x->m);
    } else if (p->verbose && s->salt == 0) {
        mi__logf(p->log, p->log_user,
                 "exact: a part of %u buffers with no slack encoded: %u variables, %zu literals",
                 x->m, mi__sat_nvars(x->sat), x->lits);
    }
    *out = x;
    return MI_OK;
}

/* Part q's encoding at cap: the one kept from an earlier call at the same
 * cap (with what the SAT search learnt), else a new one. *out is NULL
 * when encoding used up the limits. */
static mi_status part_encoding(solver *s, uint32_t q, size_t cap, mi__xsat **out) {
    mi_status st;
    *out = NULL;
    if (!s->xsat && !(s->xsat = mi__calloc(s->nparts, sizeof *s->xsat)))
        return mi__error(MI_ERR_NO_MEMORY, "exact: %u parts", s->nparts);
    mi__xsat *x = s->xsat[q];
    if (x && x->cap != cap) {
        mi__xsat_free(x);
        x = s->xsat[q] = NULL;
    }
    if (x) {
        *out = x;
        return MI_OK;
    }
    if ((st = encode(s, q, cap, &x))) return st;
    s->xsat[q] = x;
    /* the encoding is work too, and it cannot be interrupted */
    s->work += x->lits;
    if (sat_stop(s) || (s->work_budget && s->work >= s->work_budget)) s->stop = 1;
    if (!s->stop) *out = x;
    return MI_OK;
}

/* The SAT search's allowance: about `nodes` nodes, within what the budgets
 * have left; 0 when they cannot pay for one conflict. */
static uint64_t allowance(const solver *s, uint64_t nodes) {
    uint64_t allow = nodes ? nodes : 1, left = UINT64_MAX;
    if (s->node_budget) left = s->node_budget > s->nodes ? s->node_budget - s->nodes : 0;
    if (s->work_budget) {
        uint64_t w = s->work_budget > s->work ? s->work_budget - s->work : 0;
        if (w < left) left = w;
    }
    if (left < MI__XSAT_COST) return 0;
    return allow > left ? left : allow;
}

/* Runs the SAT search within the allowance and charges what it used, as
 * nodes and as work. */
static mi_status run_sat(solver *s, mi__xsat *x, uint64_t allow, mi__sat_result *r) {
    uint64_t conflicts = allow / MI__XSAT_COST ? allow / MI__XSAT_COST : 1;
    uint64_t ticks = allow > UINT64_MAX / MI__XSAT_TICKS ? UINT64_MAX : allow * MI__XSAT_TICKS;
    uint64_t before = mi__sat_conflicts(x->sat), t0 = mi__sat_ticks(x->sat);
    mi_status st = mi__sat_solve_limited(x->sat, conflicts, ticks, sat_stop, s, r);
    uint64_t used = (mi__sat_conflicts(x->sat) - before) * MI__XSAT_COST;
    uint64_t by_ticks = (mi__sat_ticks(x->sat) - t0 + MI__XSAT_TICKS - 1) / MI__XSAT_TICKS;
    if (by_ticks > used) used = by_ticks;
    /* ticks are checked between propagations, so the last may overrun the
     * allowance a little: the count stays within it, so that a node budget
     * is an exact bound on what is reported */
    if (used > allow) used = allow;
    s->nodes += used;
    s->work += used;
    if (s->node_budget && s->nodes >= s->node_budget) s->stop = 1;
    if (s->work_budget && s->work >= s->work_budget) s->stop = 1;
    if (sat_stop(s)) s->stop = 1;
    return st;
}

/* The plan of a satisfying assignment: a buffer's offset is the sizes
 * below it at its first section. */
static void read_plan(solver *s, const mi__xsat *x) {
    for (uint32_t b = 0; b < x->m; b++) {
        size_t off = 0;
        uint32_t c = s->sec0[x->buf[b]];
        for (uint32_t a = 0; a < x->m && s->sec0[x->buf[a]] <= c; a++) {
            if (a == b || s->sec1[x->buf[a]] < c) continue;
            int32_t l = below(x, a, b);
            int val = mi__sat_value(x->sat, (uint32_t)(l > 0 ? l : -l) - 1);
            if (l > 0 ? val : !val) off += s->size[x->buf[a]];
        }
        s->sol[x->buf[b]] = off;
    }
}

mi_status mi__xsat_decide(solver *s, uint32_t q, size_t cap, uint64_t nodes, outcome *out) {
    mi_status st;
    mi__xsat *x;
    *out = OUT_ABORTED;
    if ((st = part_encoding(s, q, cap, &x)) || !x || x->unusable) return st;
    uint64_t allow = allowance(s, nodes);
    if (!allow) {
        s->stop = 1; /* the budgets cannot pay for one conflict: they are spent */
        return MI_OK;
    }
    mi__sat_result r;
    if ((st = run_sat(s, x, allow, &r))) return st;
    if (r == MI__SAT_UNSAT) {
        *out = OUT_INFEASIBLE;
    } else if (r == MI__SAT_SAT) {
        read_plan(s, x);
        *out = OUT_FOUND;
    }
    return MI_OK;
}
