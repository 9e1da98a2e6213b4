/* sat.c: a CDCL solver (see sat.h). Internally literal 2v is variable v
 * true and 2v + 1 false; clauses live in one arena of 32-bit words (two
 * header words, then the literals) and are named by their offset there.
 * A clause that is the reason of an assignment keeps the implied literal
 * first, except a binary one, which propagation never reads: conflict
 * analysis puts it first when it gets there. */
#include "sat.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define F_LEARNT 1u
#define F_DELETED 2u
#define F_USED 4u
#define LBD_SHIFT 3
/* Learnt clauses at or under this LBD ("glue") are kept for good. */
#define GLUE_KEEP 2
/* The database of learnt clauses is halved every REDUCE_FIRST conflicts,
 * then REDUCE_INC more each time (Glucose's schedule). */
#define REDUCE_FIRST 2000
#define REDUCE_INC 300
/* Restarts when the recent learnt clauses are worse (higher LBD) than the
 * long-run average by RESTART_MARGIN, after RESTART_MIN conflicts. */
#define RESTART_MARGIN 1.25
#define RESTART_MIN 50
#define VAR_DECAY 0.95

/* A watch of a binary clause carries BIN: its other literal is the
 * blocker, so propagation never reads the clause. */
#define BIN 0x80000000u

typedef struct watch {
    uint32_t cref;
    uint32_t blocker; /* some other literal of the clause: when true, the clause is */
} watch;

typedef struct wlist {
    watch *w;
    size_t n, cap;
} wlist;

struct mi__sat {
    uint32_t nvars;
    size_t vcap;
    /* per literal */
    int8_t *val; /* 1 true, -1 false, 0 unassigned */
    wlist *watches;
    /* Clauses in which the literal occurs. Its watch list holds at least
     * that many, so propagate never allocates. */
    uint32_t *occ;
    /* per variable */
    uint32_t *level, *reason;
    uint8_t *phase; /* saved polarity: the sign bit of its last literal */
    uint8_t *decide; /* branched on (else only when nothing else is left) */
    uint8_t *seen;
    uint8_t *model;
    double *act;
    uint32_t *heap;
    int32_t *heap_pos; /* -1: not in the heap */
    uint32_t heap_n;
    double var_inc;
    /* the assignment */
    uint32_t *trail, trail_n, qhead;
    uint32_t *trail_lim, nlevels;
    /* clauses */
    uint32_t *mem;
    size_t mem_n, mem_cap;
    uint32_t *learnts;
    size_t nlearnts, learnts_cap;
    int unsat;
    /* scratch */
    uint32_t *lits;
    size_t lits_cap;
    uint32_t *stack, *toclear;
    size_t toclear_n;
    uint32_t *lvl_stamp, stamp;
    /* schedule */
    uint64_t conflicts, next_reduce, reduce_inc, since_restart;
    uint64_t ticks; /* watches visited: a measure of the time spent */
    double ema_fast, ema_slow;
    uint64_t seed; /* 0: none */
};

static inline uint32_t var_of(uint32_t l) { return l >> 1; }
static inline uint32_t *clause_lits(const mi__sat *s, uint32_t c) { return s->mem + c + 2; }
static inline uint32_t clause_size(const mi__sat *s, uint32_t c) { return s->mem[c]; }

/* Reallocates *p from old to n elements of elem bytes, zeroing the new ones. */
static mi_status resize(void **p, size_t old, size_t n, size_t elem) {
    size_t bytes;
    if (!mi__mul_size(n, elem, &bytes)) return mi__error(MI_ERR_OVERFLOW, "sat: too many variables");
    void *q = mi__realloc(*p, bytes ? bytes : 1);
    if (!q) return mi__error(MI_ERR_NO_MEMORY, "sat: out of memory for %zu variables", n);
    if (n > old) memset((char *)q + old * elem, 0, (n - old) * elem);
    *p = q;
    return MI_OK;
}

mi_status mi__sat_create(mi__sat **out) {
    *out = NULL;
    mi__sat *s = mi__calloc(1, sizeof *s);
    if (!s) return mi__error(MI_ERR_NO_MEMORY, "sat: out of memory");
    s->var_inc = 1.0;
    s->next_reduce = REDUCE_FIRST;
    s->reduce_inc = REDUCE_INC;
    *out = s;
    return MI_OK;
}

void mi__sat_destroy(mi__sat *s) {
    if (!s) return;
    if (s->watches)
        for (size_t i = 0; i < 2 * s->vcap; i++) mi__free(s->watches[i].w);
    mi__free(s->watches);
    mi__free(s->occ);
    mi__free(s->val);
    mi__free(s->level);
    mi__free(s->reason);
    mi__free(s->phase);
    mi__free(s->decide);
    mi__free(s->seen);
    mi__free(s->model);
    mi__free(s->act);
    mi__free(s->heap);
    mi__free(s->heap_pos);
    mi__free(s->trail);
    mi__free(s->trail_lim);
    mi__free(s->mem);
    mi__free(s->learnts);
    mi__free(s->lits);
    mi__free(s->stack);
    mi__free(s->toclear);
    mi__free(s->lvl_stamp);
    mi__free(s);
}

uint32_t mi__sat_nvars(const mi__sat *s) { return s->nvars; }
void mi__sat_set_seed(mi__sat *s, uint64_t seed) { s->seed = seed; }

/* splitmix64 */
static uint64_t next_rand(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
uint64_t mi__sat_conflicts(const mi__sat *s) { return s->conflicts; }
uint64_t mi__sat_ticks(const mi__sat *s) { return s->ticks; }
int mi__sat_value(const mi__sat *s, uint32_t v) { return v < s->nvars && s->model[v]; }

/* ---- the VSIDS heap (a binary max-heap on act) ---- */

static void heap_up(mi__sat *s, uint32_t i) {
    uint32_t v = s->heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (s->act[s->heap[p]] >= s->act[v]) break;
        s->heap[i] = s->heap[p];
        s->heap_pos[s->heap[i]] = (int32_t)i;
        i = p;
    }
    s->heap[i] = v;
    s->heap_pos[v] = (int32_t)i;
}

static void heap_down(mi__sat *s, uint32_t i) {
    uint32_t v = s->heap[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && s->act[s->heap[c + 1]] > s->act[s->heap[c]]) c++;
        if (s->act[s->heap[c]] <= s->act[v]) break;
        s->heap[i] = s->heap[c];
        s->heap_pos[s->heap[i]] = (int32_t)i;
        i = c;
    }
    s->heap[i] = v;
    s->heap_pos[v] = (int32_t)i;
}

static void heap_insert(mi__sat *s, uint32_t v) {
    if (s->heap_pos[v] >= 0 || !s->decide[v]) return;
    s->heap[s->heap_n] = v;
    heap_up(s, s->heap_n++);
}

static uint32_t heap_pop(mi__sat *s) {
    uint32_t v = s->heap[0];
    s->heap_pos[v] = -1;
    if (--s->heap_n) {
        s->heap[0] = s->heap[s->heap_n];
        heap_down(s, 0);
    }
    return v;
}

static void bump(mi__sat *s, uint32_t v) {
    if ((s->act[v] += s->var_inc) > 1e100) {
        for (uint32_t i = 0; i < s->nvars; i++) s->act[i] *= 1e-100;
        s->var_inc *= 1e-100;
    }
    if (s->heap_pos[v] >= 0) heap_up(s, (uint32_t)s->heap_pos[v]);
}

/* ---- variables and clauses ---- */

mi_status mi__sat_new_vars(mi__sat *s, uint32_t n, int decide, uint32_t *first) {
    mi_status st;
    if (n > UINT32_MAX / 2 - 1 - s->nvars)
        return mi__error(MI_ERR_OVERFLOW, "sat: too many variables");
    size_t need = (size_t)s->nvars + n;
    if (need > s->vcap) {
        size_t cap = s->vcap ? s->vcap : 64;
        while (cap < need) cap *= 2;
        size_t o = s->vcap;
        if ((st = resize((void **)&s->val, 2 * o, 2 * cap, 1)) ||
            (st = resize((void **)&s->watches, 2 * o, 2 * cap, sizeof(wlist))) ||
            (st = resize((void **)&s->occ, 2 * o, 2 * cap, 4)) ||
            (st = resize((void **)&s->level, o, cap, 4)) ||
            (st = resize((void **)&s->reason, o, cap, 4)) ||
            (st = resize((void **)&s->phase, o, cap, 1)) ||
            (st = resize((void **)&s->decide, o, cap, 1)) ||
            (st = resize((void **)&s->seen, o, cap, 1)) ||
            (st = resize((void **)&s->model, o, cap, 1)) ||
            (st = resize((void **)&s->act, o, cap, sizeof(double))) ||
            (st = resize((void **)&s->heap, o, cap, 4)) ||
            (st = resize((void **)&s->heap_pos, o, cap, 4)) ||
            (st = resize((void **)&s->trail, o, cap, 4)) ||
            (st = resize((void **)&s->trail_lim, o, cap + 1, 4)) ||
            (st = resize((void **)&s->stack, o, cap, 4)) ||
            (st = resize((void **)&s->toclear, o, cap, 4)) ||
            (st = resize((void **)&s->lvl_stamp, o, cap + 1, 4)))
            return st; /* the arrays grown so far are larger, which is harmless */
        s->vcap = cap;
    }
    *first = s->nvars;
    for (uint32_t v = s->nvars; v < need; v++) {
        s->reason[v] = NONE;
        s->phase[v] = 1;
        if (s->seed && decide) {
            uint64_t r = next_rand(&s->seed);
            s->phase[v] = (uint8_t)(r & 1);
            /* below the first bump (1.0), so conflicts soon take over */
            s->act[v] = (double)(r >> 11) * 0x1.0p-53 * 1e-3;
        }
        s->decide[v] = decide != 0;
        s->heap_pos[v] = -1;
        heap_insert(s, v);
    }
    s->nvars = (uint32_t)need;
    return MI_OK;
}

/* Makes room in l for need watches. Not mi__grow: that starts at 8, and
 * with a list per literal starting at 4 holds 15% less memory (dense
 * 500/5: 171 MB against 197). */
static mi_status watch_room(wlist *l, size_t need) {
    if (need <= l->cap) return MI_OK;
    size_t cap = l->cap ? 2 * l->cap : 4;
    while (cap < need) cap *= 2;
    watch *w = mi__realloc(l->w, cap * sizeof *w);
    if (!w) return mi__error(MI_ERR_NO_MEMORY, "sat: out of memory for watches");
    l->w = w;
    l->cap = cap;
    return MI_OK;
}

/* Stores and watches a clause of n >= 2 literals; *cref its name. Nothing
 * changes when it fails. */
static mi_status clause_new(mi__sat *s, const uint32_t *lits, uint32_t n, int learnt, uint32_t lbd,
                            uint32_t *cref) {
    mi_status st;
    size_t need = s->mem_n + 2 + (size_t)n;
    if (need >= BIN) return mi__error(MI_ERR_OVERFLOW, "sat: too many clauses");
    if (need > s->mem_cap && (st = mi__grow((void **)&s->mem, &s->mem_cap, need, 4))) return st;
    if (learnt && s->nlearnts == s->learnts_cap &&
        (st = mi__grow((void **)&s->learnts, &s->learnts_cap, s->nlearnts + 1, 4)))
        return st;
    for (uint32_t i = 0; i < n; i++)
        if ((st = watch_room(&s->watches[lits[i]], (size_t)s->occ[lits[i]] + 1))) return st;
    for (uint32_t i = 0; i < n; i++) s->occ[lits[i]]++;
    uint32_t c = (uint32_t)s->mem_n;
    wlist *w0 = &s->watches[lits[0]], *w1 = &s->watches[lits[1]];
    uint32_t tag = n == 2 ? BIN : 0;
    w0->w[w0->n++] = (watch){c | tag, lits[1]};
    w1->w[w1->n++] = (watch){c | tag, lits[0]};
    s->mem[c] = n;
    s->mem[c + 1] = (learnt ? F_LEARNT : 0) | (lbd << LBD_SHIFT);
    memcpy(s->mem + c + 2, lits, n * sizeof *lits);
    s->mem_n = need;
    if (learnt) s->learnts[s->nlearnts++] = c;
    *cref = c;
    return MI_OK;
}

static inline void enqueue(mi__sat *s, uint32_t l, uint32_t reason) {
    uint32_t v = var_of(l);
    s->val[l] = 1;
    s->val[l ^ 1] = -1;
    s->level[v] = s->nlevels;
    s->reason[v] = reason;
    s->trail[s->trail_n++] = l;
}

mi_status mi__sat_add(mi__sat *s, const int32_t *in, size_t n) {
    mi_status st;
    if (s->unsat) return MI_OK;
    if (n > s->lits_cap && (st = mi__grow((void **)&s->lits, &s->lits_cap, n, 4))) return st;
    for (size_t i = 0; i < n; i++)
        if (in[i] == 0 || (uint32_t)(in[i] > 0 ? in[i] : -(int64_t)in[i]) > s->nvars)
            return mi__error(MI_ERR_INTERNAL, "sat: bad literal %d", in[i]);
    uint32_t k = 0;
    int sat = 0;
    size_t i = 0;
    for (; i < n && !sat; i++) {
        int32_t x = in[i];
        uint32_t v = (uint32_t)(x > 0 ? x : -(int64_t)x) - 1;
        uint32_t l = 2 * v + (x < 0);
        /* seen: 1 the positive literal is in, 2 the negative */
        if (s->val[l] == 1 || (s->seen[v] & (2u >> (l & 1)))) sat = 1;
        else if (s->val[l] == 0 && !(s->seen[v] & (1u << (l & 1)))) {
            s->seen[v] |= (uint8_t)(1u << (l & 1));
            s->lits[k++] = l;
        }
    }
    while (i-- > 0) s->seen[(uint32_t)(in[i] > 0 ? in[i] : -(int64_t)in[i]) - 1] = 0;
    if (sat) return MI_OK;
    if (k == 0) {
        s->unsat = 1;
        return MI_OK;
    }
    if (k == 1) {
        enqueue(s, s->lits[0], NONE);
        return MI_OK;
    }
    uint32_t c;
    return clause_new(s, s->lits, k, 0, 0, &c);
}

/* ---- search ---- */

/* Unit propagation; the conflicting clause, or NONE. */
static uint32_t propagate(mi__sat *s) {
    while (s->qhead < s->trail_n) {
        uint32_t p = s->trail[s->qhead++];
        uint32_t fl = p ^ 1; /* now false */
        wlist *wl = &s->watches[fl];
        watch *ws = wl->w;
        size_t i = 0, j = 0, n = wl->n;
        s->ticks += 1 + n;
        while (i < n) {
            watch w = ws[i++];
            if (s->val[w.blocker] == 1) {
                ws[j++] = w;
                continue;
            }
            if (w.cref & BIN) {
                ws[j++] = w;
                if (s->val[w.blocker] == -1) {
                    while (i < n) ws[j++] = ws[i++];
                    wl->n = j;
                    s->qhead = s->trail_n;
                    return w.cref & ~BIN;
                }
                enqueue(s, w.blocker, w.cref & ~BIN);
                continue;
            }
            uint32_t *c = clause_lits(s, w.cref);
            if (c[0] == fl) {
                c[0] = c[1];
                c[1] = fl;
            }
            uint32_t first = c[0];
            if (first != w.blocker && s->val[first] == 1) {
                ws[j++] = (watch){w.cref, first};
                continue;
            }
            uint32_t sz = clause_size(s, w.cref);
            int moved = 0;
            for (uint32_t k = 2; k < sz; k++)
                if (s->val[c[k]] != -1) {
                    c[1] = c[k];
                    c[k] = fl;
                    /* never full: see occ */
                    wlist *nl = &s->watches[c[1]];
                    nl->w[nl->n++] = (watch){w.cref, first};
                    moved = 1;
                    break;
                }
            if (moved) continue;
            ws[j++] = (watch){w.cref, first};
            if (s->val[first] == -1) {
                while (i < n) ws[j++] = ws[i++];
                wl->n = j;
                s->qhead = s->trail_n;
                return w.cref;
            }
            enqueue(s, first, w.cref);
        }
        wl->n = j;
    }
    return NONE;
}

static void cancel_until(mi__sat *s, uint32_t lvl) {
    if (s->nlevels <= lvl) return;
    for (uint32_t i = s->trail_n; i-- > s->trail_lim[lvl];) {
        uint32_t l = s->trail[i], v = var_of(l);
        s->phase[v] = (uint8_t)(l & 1);
        s->val[l] = s->val[l ^ 1] = 0;
        s->reason[v] = NONE;
        heap_insert(s, v);
    }
    s->trail_n = s->qhead = s->trail_lim[lvl];
    s->nlevels = lvl;
}

static inline uint32_t abstract_level(const mi__sat *s, uint32_t v) {
    return 1u << (s->level[v] & 31);
}

/* Whether literal p of a learnt clause is implied by the others (MiniSat's
 * recursive minimisation); marks what it visits in toclear. */
static int redundant(mi__sat *s, uint32_t p, uint32_t levels) {
    size_t top = s->toclear_n, sp = 0;
    s->stack[sp++] = p;
    while (sp) {
        uint32_t q = s->stack[--sp];
        uint32_t c = s->reason[var_of(q)];
        uint32_t *lits = clause_lits(s, c);
        if (lits[0] != (q ^ 1)) { /* a binary reason, whose order propagate leaves as it is */
            lits[1] = lits[0];
            lits[0] = q ^ 1;
        }
        for (uint32_t i = 1; i < clause_size(s, c); i++) {
            uint32_t l = lits[i], v = var_of(l);
            if (s->seen[v] || s->level[v] == 0) continue;
            if (s->reason[v] != NONE && (abstract_level(s, v) & levels)) {
                s->seen[v] = 1;
                s->stack[sp++] = l;
                s->toclear[s->toclear_n++] = l;
            } else {
                for (size_t j = top; j < s->toclear_n; j++) s->seen[var_of(s->toclear[j])] = 0;
                s->toclear_n = top;
                return 0;
            }
        }
    }
    return 1;
}

/* First-UIP learning: the clause in s->lits[0, *n), its asserting literal
 * first and the literal of the backjump level second. */
static void analyze(mi__sat *s, uint32_t confl, uint32_t *n, uint32_t *bt, uint32_t *lbd) {
    uint32_t k = 1, path = 0, p = NONE;
    size_t idx = s->trail_n;
    do {
        uint32_t *c = clause_lits(s, confl);
        if (p != NONE && c[0] != p) { /* a binary reason */
            c[1] = c[0];
            c[0] = p;
        }
        if (s->mem[confl + 1] & F_LEARNT) s->mem[confl + 1] |= F_USED;
        for (uint32_t i = p == NONE ? 0 : 1; i < clause_size(s, confl); i++) {
            uint32_t q = c[i], v = var_of(q);
            if (s->seen[v] || s->level[v] == 0) continue;
            bump(s, v);
            s->seen[v] = 1;
            if (s->level[v] >= s->nlevels) path++;
            else s->lits[k++] = q;
        }
        while (!s->seen[var_of(s->trail[--idx])]) {}
        p = s->trail[idx];
        confl = s->reason[var_of(p)];
        s->seen[var_of(p)] = 0;
        path--;
    } while (path > 0);
    s->lits[0] = p ^ 1;

    s->toclear_n = 0;
    uint32_t levels = 0;
    for (uint32_t i = 1; i < k; i++) {
        s->toclear[s->toclear_n++] = s->lits[i];
        levels |= abstract_level(s, var_of(s->lits[i]));
    }
    uint32_t j = 1;
    for (uint32_t i = 1; i < k; i++) {
        uint32_t v = var_of(s->lits[i]);
        if (s->reason[v] == NONE || !redundant(s, s->lits[i], levels)) s->lits[j++] = s->lits[i];
    }
    for (size_t i = 0; i < s->toclear_n; i++) s->seen[var_of(s->toclear[i])] = 0;
    k = j;

    *bt = 0;
    if (k > 1) {
        uint32_t m = 1;
        for (uint32_t i = 2; i < k; i++)
            if (s->level[var_of(s->lits[i])] > s->level[var_of(s->lits[m])]) m = i;
        uint32_t t = s->lits[1];
        s->lits[1] = s->lits[m];
        s->lits[m] = t;
        *bt = s->level[var_of(s->lits[1])];
    }
    s->stamp++;
    uint32_t d = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t lv = s->level[var_of(s->lits[i])];
        if (s->lvl_stamp[lv] != s->stamp) {
            s->lvl_stamp[lv] = s->stamp;
            d++;
        }
    }
    *n = k;
    *lbd = d;
}

static int locked(const mi__sat *s, uint32_t c) {
    for (int i = 0; i < 2; i++) { /* a binary reason may have it second */
        uint32_t l = clause_lits(s, c)[i];
        if (s->val[l] == 1 && s->reason[var_of(l)] == c) return 1;
    }
    return 0;
}

/* Halves the learnt clauses: those of the worst LBD go (ties: the later
 * ones), except glue clauses, reasons and those used in a conflict since
 * the last reduction. Then the arena is compacted. */
#define LBD_BUCKETS 64
static void reduce(mi__sat *s) {
    size_t hist[LBD_BUCKETS] = {0};
    for (size_t i = 0; i < s->nlearnts; i++) {
        uint32_t lbd = s->mem[s->learnts[i] + 1] >> LBD_SHIFT;
        hist[lbd < LBD_BUCKETS ? lbd : LBD_BUCKETS - 1]++;
    }
    /* keep the best half: everything under cut, and `room` of cut itself */
    size_t keep = s->nlearnts / 2, acc = 0;
    uint32_t cut = 0;
    while (cut < LBD_BUCKETS - 1 && acc + hist[cut] <= keep) acc += hist[cut++];
    size_t room = keep - acc;
    size_t j = 0;
    for (size_t i = 0; i < s->nlearnts; i++) {
        uint32_t c = s->learnts[i];
        uint32_t lbd = s->mem[c + 1] >> LBD_SHIFT;
        uint32_t b = lbd < LBD_BUCKETS ? lbd : LBD_BUCKETS - 1;
        int go = b > cut || (b == cut && (room == 0 || (room--, 0)));
        if (lbd <= GLUE_KEEP || locked(s, c) || (s->mem[c + 1] & F_USED)) go = 0;
        s->mem[c + 1] &= ~F_USED;
        if (go) {
            s->mem[c + 1] |= F_DELETED;
            for (uint32_t k = 0; k < s->mem[c]; k++) s->occ[s->mem[c + 2 + k]]--;
        } else {
            s->learnts[j++] = c;
        }
    }
    s->nlearnts = j;
    /* the deleted clauses' watches go now; their words when they are half */
    for (size_t l = 0; l < 2 * (size_t)s->nvars; l++) {
        wlist *wl = &s->watches[l];
        size_t k = 0;
        for (size_t i = 0; i < wl->n; i++)
            if (!(s->mem[(wl->w[i].cref & ~BIN) + 1] & F_DELETED)) wl->w[k++] = wl->w[i];
        wl->n = k;
    }
    size_t live = 0;
    for (size_t c = 0; c < s->mem_n; c += 2 + (size_t)s->mem[c])
        if (!(s->mem[c + 1] & F_DELETED)) live += 2 + (size_t)s->mem[c];
    if (live * 2 > s->mem_n) return;
    /* Without memory for a new arena the garbage stays, which costs space
     * and nothing else. */
    uint32_t *nm = mi__malloc((live ? live : 1) * 4);
    if (!nm) return;
    size_t to = 0;
    for (size_t c = 0; c < s->mem_n; c += 2 + (size_t)s->mem[c]) {
        if (s->mem[c + 1] & F_DELETED) continue;
        size_t len = 2 + (size_t)s->mem[c];
        memcpy(nm + to, s->mem + c, len * 4);
        s->mem[c + 1] = (uint32_t)to; /* where it went */
        to += len;
    }
    for (size_t l = 0; l < 2 * (size_t)s->nvars; l++) {
        wlist *wl = &s->watches[l];
        for (size_t i = 0; i < wl->n; i++) {
            uint32_t c = wl->w[i].cref;
            wl->w[i].cref = s->mem[(c & ~BIN) + 1] | (c & BIN);
        }
    }
    for (uint32_t i = 0; i < s->trail_n; i++) {
        uint32_t v = var_of(s->trail[i]);
        if (s->reason[v] != NONE) s->reason[v] = s->mem[s->reason[v] + 1];
    }
    for (size_t i = 0; i < s->nlearnts; i++) s->learnts[i] = s->mem[s->learnts[i] + 1];
    mi__free(s->mem);
    s->mem = nm;
    s->mem_n = s->mem_cap = to;
}

static int pick(mi__sat *s, uint32_t *lit) {
    while (s->heap_n) {
        uint32_t v = heap_pop(s);
        if (s->val[2 * v] == 0) {
            *lit = 2 * v + s->phase[v];
            return 1;
        }
    }
    /* only variables that are not branched on are left, if any */
    for (uint32_t v = 0; v < s->nvars; v++)
        if (s->val[2 * v] == 0) {
            *lit = 2 * v + s->phase[v];
            return 1;
        }
    return 0;
}

mi_status mi__sat_solve(mi__sat *s, uint64_t conflicts, int (*stop)(void *), void *arg,
                        mi__sat_result *res) {
    return mi__sat_solve_limited(s, conflicts, 0, stop, arg, res);
}

mi_status mi__sat_solve_limited(mi__sat *s, uint64_t conflicts, uint64_t ticks,
                                int (*stop)(void *), void *arg, mi__sat_result *res) {
    mi_status st = MI_OK;
    *res = MI__SAT_UNKNOWN;
    if (s->unsat) {
        *res = MI__SAT_UNSAT;
        return MI_OK;
    }
    if ((size_t)s->nvars + 1 > s->lits_cap &&
        (st = mi__grow((void **)&s->lits, &s->lits_cap, (size_t)s->nvars + 1, 4)))
        return st;
    uint64_t end = conflicts && conflicts < UINT64_MAX - s->conflicts ? s->conflicts + conflicts
                                                                       : UINT64_MAX;
    uint64_t tick_end = ticks && ticks < UINT64_MAX - s->ticks ? s->ticks + ticks : UINT64_MAX;
    for (;;) {
        uint32_t confl = propagate(s);
        if (confl != NONE) {
            s->conflicts++;
            if (s->nlevels == 0) {
                s->unsat = 1;
                *res = MI__SAT_UNSAT;
                return MI_OK;
            }
            uint32_t n, bt, lbd;
            analyze(s, confl, &n, &bt, &lbd);
            cancel_until(s, bt);
            if (n == 1) {
                enqueue(s, s->lits[0], NONE);
            } else {
                uint32_t c;
                if ((st = clause_new(s, s->lits, n, 1, lbd, &c))) break;
                enqueue(s, s->lits[0], c);
            }
            s->var_inc /= VAR_DECAY;
            double x = (double)lbd;
            s->ema_fast += (x - s->ema_fast) / 32.0;
            double w = s->conflicts < 4096 ? (double)s->conflicts : 4096.0;
            s->ema_slow += (x - s->ema_slow) / w;
            s->since_restart++;
            if (s->conflicts >= end || s->ticks >= tick_end ||
                ((s->conflicts & 31) == 0 && stop && stop(arg)))
                break;
        } else {
            if (s->since_restart >= RESTART_MIN && s->ema_fast > RESTART_MARGIN * s->ema_slow) {
                cancel_until(s, 0);
                s->since_restart = 0;
            }
            if (s->conflicts >= s->next_reduce) {
                s->next_reduce = s->conflicts + REDUCE_FIRST + s->reduce_inc;
                s->reduce_inc += REDUCE_INC;
                reduce(s);
            }
            if (s->ticks >= tick_end) break;
            uint32_t l;
            if (!pick(s, &l)) {
                for (uint32_t v = 0; v < s->nvars; v++) s->model[v] = s->val[2 * v] == 1;
                *res = MI__SAT_SAT;
                break;
            }
            s->trail_lim[s->nlevels++] = s->trail_n;
            enqueue(s, l, NONE);
        }
    }
    cancel_until(s, 0);
    return st;
}
