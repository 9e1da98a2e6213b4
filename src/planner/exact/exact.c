/* exact: a branch-and-bound search for the smallest pool, after MiniMalloc
 * (M. D. Moffitt, "MiniMalloc: A Lightweight Memory Allocator for
 * Hardware-Accelerated Machine Learning", ASPLOS 2023); our own code.
 *
 * The core is a decision search: is there a plan within cap? It visits
 * only canonical plans, where every buffer rests at 0 or on the end of a
 * conflicting buffer and buffers are placed in order of (offset, preorder
 * rank): every plan can be pushed down into one, so no answer is lost.
 * Each unplaced buffer keeps its lowest feasible offset (the highest end
 * of the placed buffers it conflicts with); a node places one there.
 *  - dominance: a candidate at or above the lowest end that some unplaced
 *    buffer could reach is skipped, as that buffer would stay in a gap.
 *  - inference: in each section (a maximal set of buffers live together)
 *    the unplaced buffers stack, none below its own lowest offset nor the
 *    current offset, and a buffer the canonical order has passed not below
 *    the current offset + 1; for every such release r, r plus the units
 *    released at r or later must fit under cap (a preemptive scheduling
 *    bound, exact for one section).
 *  - decomposition: once no unplaced buffer crosses a section boundary, the
 *    sides are independent sub-problems solved one after the other; one
 *    failing fails them all, with no backtracking between them.
 *  - no slack: when every section of a part holds exactly cap units (the
 *    floor of a perfect packing), the search branches instead on which
 *    buffer covers the lowest free point of one section, in any valley of
 *    the skyline, the one with the fewest choices: far fewer branches
 *    than the canonical order, and failures stay local. The failed-state
 *    table then holds facts about (part, cap) alone and outlives restarts.
 *    Candidates that leave the fewest steps in the skyline go first, and
 *    attempts are many and short (Luby restarts, exact_drive.c).
 *  - backjumping (no slack): each failure carries the sections it depends
 *    on (exact_explain.c); a child failing for a reason outside the
 *    placement that made it fails its parent too, no sibling tried, as
 *    branching anywhere interleaves far apart regions of the skyline.
 *  - memory: a table of failed states (the unplaced buffers of a context
 *    and their lowest offsets) prunes a state reached again by another
 *    path, such as two stacked buffers swapped.
 * The search is iterative (explicit frames), so depth costs no C stack.
 * Parts of the problem that no buffer crosses are planned separately, as
 * the pool is the highest of them. A decision searches by one of several
 * static preorders (MiniMalloc's round robin, plus a bottom-left one and
 * seeded random ones) under a node limit; exact_drive.c decides which
 * capacities to ask, with which preorders and limits (minimising from a
 * part's floor up to its incumbent, restarts). */
#include "exact_internal.h"

#include <string.h>

#define NONE UINT32_MAX
/* Most ordering entries over all frames (8 Mi entries, 64 MiB); past it a
 * search gives up as on a node limit. */
#define ARENA_MAX ((size_t)1 << 23)
/* Most words of explanation sets over all frames (32 MiB). */
#define EX_MAX_WORDS ((uint64_t)1 << 22)

enum { FR_AND, FR_SEARCH };

/* A SEARCH frame owns its ordering (the context's unplaced buffers by
 * lowest offset, then rank) at arena[base, base + k), then the candidates
 * it branches on, in the order they are tried. An AND frame owns the
 * unplaced buffers of a context that fell apart, by first section, at
 * arena[base, base + k), then ncut boundaries (in .b) where it fell apart. */
struct mi__xframe {
    uint32_t kind;
    uint32_t k;
    uint32_t next;      /* SEARCH: next candidate; AND: next part */
    uint32_t pos;       /* AND: first buffer of the next part */
    uint32_t ncut;      /* AND */
    uint32_t cur;       /* SEARCH: buffer placed now, or NONE */
    uint32_t ncand;     /* SEARCH: candidates, at base + k */
    uint32_t canon_pre; /* SEARCH: candidates come after (canon_off, canon_pre) */
    uint32_t hatless;   /* SEARCH: cur overlaps no unplaced buffer (see child_ordering) */
    size_t canon_off;
    size_t min_height;  /* SEARCH: lowest end any unplaced buffer can reach */
    size_t base;
    size_t trail_mark;  /* SEARCH: trail length before cur was placed */
    uint64_t key[2];    /* the state: unplaced buffers and their lowest offsets */
    uint64_t ctx[2];    /* SEARCH: the set its context started with (fixes the ranks) */
};

/* An undo record: a buffer's lowest offset before a placement raised it. */
struct mi__xtrail_rec {
    uint32_t b;
    size_t old;
};

enum { EV_GO, EV_SOLVED, EV_FAILED, EV_ABORTED };
enum { TRY_PUSHED, TRY_SOLVED, TRY_EXHAUSTED, TRY_ABORTED };

/* Static preorders: keys compared in turn, each descending, then index.
 * S: first section, earliest first (bottom-left: each level filled from
 * left to right); T: the most unplaced units in one of the buffer's
 * sections; W: lifetime in steps as given (not compressed); A: units x
 * those steps; Z: units; R: a hash seeded per attempt (for restarts that
 * differ). */
enum { KEY_T = 1, KEY_W, KEY_A, KEY_Z, KEY_S, KEY_R };
static const uint8_t heuristics[][3] = {
    {KEY_S, KEY_W, KEY_Z},
    {KEY_T, KEY_W, KEY_A},
    {KEY_T, KEY_A, KEY_W},
    {KEY_W, KEY_A, KEY_T},
    {KEY_Z, KEY_T, KEY_W},
    {KEY_R, KEY_R, KEY_R},
    {KEY_R, KEY_R, KEY_R},
    {KEY_R, KEY_R, KEY_R},
};
#define NHEUR ((int)MI__ARRAY_LEN(heuristics))
_Static_assert(MI__ARRAY_LEN(heuristics) == MI__XNHEUR, "exact_internal.h counts the preorders");


/* ---- small helpers ------------------------------------------------------------ */

static mi_status arena_reserve(solver *s, size_t extra, int *full) {
    size_t need;
    *full = 0;
    if (!mi__add_size(s->top, extra, &need) || need > ARENA_MAX) {
        *full = 1;
        return MI_OK;
    }
    void *a = s->arena;
    mi_status st = mi__grow(&a, &s->arena_cap, need, sizeof *s->arena);
    s->arena = a;
    return st;
}

static mi_status push_frame(solver *s, frame **out) {
    void *a = s->frames;
    mi_status st = mi__grow(&a, &s->frames_cap, s->nframes + 1, sizeof *s->frames);
    s->frames = a;
    if (st) return st;
    if (s->explain) {
        a = s->fex;
        st = mi__grow(&a, &s->fex_cap, (s->nframes + 1) * s->exw, sizeof *s->fex);
        s->fex = a;
        if (st) return st;
        memset(s->fex + s->nframes * s->exw, 0, s->exw * sizeof *s->fex);
    }
    *out = &s->frames[s->nframes++];
    memset(*out, 0, sizeof **out);
    (*out)->cur = NONE;
    return MI_OK;
}

static void next_stamp(solver *s) {
    if (++s->stamp_now == 0) {
        memset(s->stamp, 0, (s->nsec ? s->nsec : 1) * sizeof *s->stamp);
        s->stamp_now = 1;
    }
}

/* Reads the clock when enough nodes or work went by since last time;
 * true once the time is up. Long scans call it too, so that one node of
 * a huge problem cannot overrun the limit by much. */
static int poll_clock(solver *s) {
    if (s->work_budget && s->work >= s->work_budget) s->stop = 1;
    if (s->cancel && atomic_load_explicit(s->cancel, memory_order_relaxed)) s->stop = 1;
    if (!s->stop && s->deadline > 0 && (s->nodes >= s->check_nodes || s->work >= s->check_work)) {
        s->check_nodes = s->nodes + MI__XCHECK_NODES;
        s->check_work = s->work + MI__XCHECK_WORK;
        if (mi__now() > s->deadline) s->stop = 1;
    }
    return s->stop;
}

/* True when the search must stop: the budget, the clock, or this
 * attempt's node limit. */
static int out_of_limits(solver *s) {
    if (s->node_budget && s->nodes >= s->node_budget) s->stop = 1;
    return poll_clock(s) || s->nodes >= s->attempt_end;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A state's key is its context's plus one term per unplaced buffer and
 * its lowest offset, a sum, so a placement updates it term by term. */
static void key_add(uint64_t key[2], uint64_t u, uint64_t m, int sign) {
    uint64_t a = mix64(mix64(m + 0x9E3779B97F4A7C15ULL) ^ u);
    uint64_t b = mix64(mix64(m ^ 0xD6E8FEB86659FD93ULL) + (u << 1 | 1) * 0xA0761D6478BD642FULL);
    key[0] += sign > 0 ? a : (uint64_t)0 - a;
    key[1] += sign > 0 ? b : (uint64_t)0 - b;
}

static void state_key(const solver *s, const entry *ord, size_t k, const uint64_t ctx[2],
                      uint64_t key[2]) {
    key[0] = ctx[0];
    key[1] = ctx[1];
    for (size_t i = 0; i < k; i++) key_add(key, ord[i].b, s->min_off[ord[i].b], 1);
}

typedef int (*less_fn)(const solver *s, entry a, entry b);

static int less_off(const solver *s, entry a, entry b) {
    if (s->min_off[a.b] != s->min_off[b.b]) return s->min_off[a.b] < s->min_off[b.b];
    return a.pre < b.pre;
}

static int less_pre(const solver *s, entry a, entry b) { return (void)s, a.pre < b.pre; }

static int less_sec(const solver *s, entry a, entry b) {
    if (s->sec0[a.b] != s->sec0[b.b]) return s->sec0[a.b] < s->sec0[b.b];
    return a.b < b.b;
}

static size_t key_of(const solver *s, uint8_t key, uint32_t b) {
    switch (key) {
    case KEY_T: return s->key_t[b];
    case KEY_W: return s->width[b];
    case KEY_A: return s->area[b];
    case KEY_S: return SIZE_MAX - s->sec0[b];
    case KEY_R: return (size_t)mix64(b ^ s->rseed);
    default: return s->size[b];
    }
}

static int less_heur(const solver *s, entry a, entry b) {
    for (int i = 0; i < 3; i++) {
        size_t ka = key_of(s, s->heur[i], a.b), kb = key_of(s, s->heur[i], b.b);
        if (ka != kb) return ka > kb;
    }
    return a.b < b.b;
}

/* Stable merge sort of a[0, n) using tmp[0, n). */
static void sort_entries(const solver *s, entry *a, size_t n, entry *tmp, less_fn less) {
    for (size_t lo = 0; lo < n; lo += 8) {
        size_t hi = lo + 8 < n ? lo + 8 : n;
        for (size_t i = lo + 1; i < hi; i++) {
            entry v = a[i];
            size_t j = i;
            while (j > lo && less(s, v, a[j - 1])) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
    }
    entry *src = a, *dst = tmp;
    for (size_t w = 8; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) dst[o++] = less(s, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[o++] = src[i++];
            while (j < hi) dst[o++] = src[j++];
        }
        entry *t = src;
        src = dst;
        dst = t;
    }
    if (src != a) memcpy(a, src, n * sizeof *a);
}

/* Adds buffer u released at r to the stacks of its sections; 0 when one
 * of them overflows cap. */
static inline int stack_ok(solver *s, uint32_t u, size_t r, uint32_t now, uint32_t clo,
                           uint32_t chi) {
    if (r > s->cap) {
        s->fail_sec = s->sec0[u];
        return 0;
    }
    uint32_t c0 = s->sec0[u] > clo ? s->sec0[u] : clo, c1 = s->sec1[u] < chi ? s->sec1[u] : chi;
    if (c0 > c1) return 1;
    size_t room = s->cap - r, su = s->size[u];
    for (uint32_t c = c0; c <= c1; c++) {
        if (s->stamp[c] != now) {
            s->stamp[c] = now;
            s->acc[c] = 0;
        }
        s->acc[c] += su;
        if (s->acc[c] > room) {
            s->fail_sec = c;
            return 0;
        }
    }
    s->work += c1 - c0 + 1;
    return 1;
}

/* The section bound after a placement at (o, pre): over an ordering
 * (ascending lowest offset, then rank), in decreasing order of release, r
 * plus the units released at r or later must fit in every section. A
 * buffer the canonical order has passed (below o, or at o with a lower
 * rank) is placed only once something placed at o or above raises it, so
 * its release is o + 1. Also gives the lowest end any of them can reach.
 * Only sections clo .. chi are checked (the caller knows the others pass). */
static int bound_ok(solver *s, const entry *ord, size_t k, size_t o, uint32_t pre, uint32_t clo,
                    uint32_t chi, size_t *min_height) {
    next_stamp(s);
    uint32_t now = s->stamp_now;
    size_t mh = SIZE_MAX, i = k;
    /* (No slack: candidates do not use it.) */
    for (size_t j = 0; j < k && !s->full; j++) {
        size_t h = s->min_off[ord[j].b] + s->size[ord[j].b];
        if (h < mh) mh = h;
    }
    *min_height = mh;
    s->work += k;
    s->fail_from = 0;
    for (; i > 0 && s->min_off[ord[i - 1].b] > o; i--) {
        if (!stack_ok(s, ord[i - 1].b, s->min_off[ord[i - 1].b], now, clo, chi)) {
            s->fail_from = i - 1;
            return 0;
        }
        if ((i & 1023) == 0 && poll_clock(s)) return 0;
    }
    /* The passed buffers (release o + 1) first, then those released at o. */
    for (int late = 1; late >= 0; late--)
        for (size_t j = 0; j < i; j++) {
            int passed = s->min_off[ord[j].b] < o || ord[j].pre < pre;
            if (passed == late && !stack_ok(s, ord[j].b, o + (size_t)late, now, clo, chi))
                return 0;
            if ((j & 1023) == 1023 && poll_clock(s)) return 0;
        }
    return 1;
}

static void undo(solver *s, frame *f) {
    uint32_t b = f->cur;
    if (b == NONE) return;
    while (s->ntrail > f->trail_mark) {
        const trail_rec *r = &s->trail[--s->ntrail];
        s->min_off[r->b] = r->old;
    }
    for (uint32_t c = s->sec0[b]; c < s->sec1[b]; c++) s->cuts[c]++;
    for (uint32_t c = s->sec0[b]; s->full && c <= s->sec1[b]; c++) s->sky[c] = s->sol[b];
    f->cur = NONE;
}

static void pop_frame(solver *s) {
    s->top = s->frames[s->nframes - 1].base;
    s->nframes--;
}

/* ---- the search ------------------------------------------------------------- */

/* No sum below overflows: a buffer's lowest offset is the end of a chain of
 * other buffers, each resting on the one before, so lowest offset + size
 * is at most the sum of all sizes, which fits (mi__prob checked it); a
 * release above cap is tested before cap - release is taken. */

/* How a buffer placed at its lowest offset changes the number of steps in
 * the skyline at its two ends (-2 .. 2), by the levels of the sections
 * next to it (SIZE_MAX: none left there, no step counted). */
static int steps_added(const solver *s, uint32_t b, const size_t *lev, uint32_t lo, uint32_t hi) {
    size_t o = s->min_off[b], h = o + s->size[b];
    int d = 0;
    if (s->sec0[b] > lo && lev[s->sec0[b] - 1] != SIZE_MAX)
        d += (lev[s->sec0[b] - 1] != h) - (lev[s->sec0[b] - 1] != o);
    if (s->sec1[b] < hi && lev[s->sec1[b] + 1] != SIZE_MAX)
        d += (lev[s->sec1[b] + 1] != h) - (lev[s->sec1[b] + 1] != o);
    return d;
}

/* No slack: the candidates that leave the fewest steps in the skyline go
 * first (stable, so the preorder breaks ties). A perfect packing is full
 * of aligned edges: of 20 constructed 200-buffer boxes, 3 were packed
 * within 3 s each without this order, 6 with it (bench/results/exact.md). */
static void order_by_steps(const solver *s, entry *cand, size_t nc, const size_t *lev,
                           uint32_t lo, uint32_t hi) {
    int score[64];
    if (nc > 64) return;
    for (size_t i = 0; i < nc; i++) {
        entry e = cand[i];
        int sc = steps_added(s, e.b, lev, lo, hi);
        size_t j = i;
        for (; j > 0 && score[j - 1] > sc; j--) {
            score[j] = score[j - 1];
            cand[j] = cand[j - 1];
        }
        score[j] = sc;
        cand[j] = e;
    }
}

/* The candidates of a node over ordering ord[0, k): below the lowest end
 * any unplaced buffer can reach (else a gap would stay), after the
 * canonical position, within cap; into cand, in the order to try them:
 * the ordering's, so that the first dive is a bottom-up first fit that
 * passes over no buffer (trying a later-ranked buffer first would leave
 * the ones it passes to be raised, a dead end when there is room). */
static size_t candidates(solver *s, const entry *ord, size_t k, size_t canon_off,
                         uint32_t canon_pre, size_t min_height, entry *cand) {
    size_t nc = 0;
    if (s->full) {
        /* No slack: the bound keeps each section solid up to its level,
         * the lowest offset of its unplaced buffers. In a valley (equal
         * levels, higher or closed on both sides) the buffer that covers
         * a section's level lies within the valley, at that level:
         * branching on it is complete in any valley, so take the section
         * with the fewest choices, wherever it is; nothing is passed. */
        uint32_t lo = UINT32_MAX, hi = 0, at = 0;
        for (size_t i = 0; i < k; i++) {
            uint32_t b = ord[i].b;
            if (s->sec0[b] < lo) lo = s->sec0[b];
            if (s->sec1[b] > hi) hi = s->sec1[b];
        }
        /* The level is the skyline (SIZE_MAX once full); cnt counts the
         * buffers resting on it in valley sections, SIZE_MAX elsewhere. A
         * buffer resting in a valley lies within it, so its first section
         * tells. */
        size_t *lev = s->lev, *cnt = s->acc, best = SIZE_MAX;
        for (uint32_t c = lo; c <= hi; c++) {
            lev[c] = s->sky[c] < s->cap ? s->sky[c] : SIZE_MAX;
            cnt[c] = SIZE_MAX;
        }
        for (uint32_t a = lo, z; a <= hi; a = z + 1) {
            for (z = a; z < hi && lev[z + 1] == lev[a];) z++;
            if (lev[a] == SIZE_MAX || (a > lo && lev[a - 1] < lev[a]) ||
                (z < hi && lev[z + 1] < lev[a]))
                continue;
            for (uint32_t c = a; c <= z; c++) cnt[c] = 0;
        }
        for (size_t i = 0; i < k; i++) {
            uint32_t b = ord[i].b;
            if (cnt[s->sec0[b]] == SIZE_MAX || s->min_off[b] != lev[s->sec0[b]]) continue;
            for (uint32_t c = s->sec0[b]; c <= s->sec1[b]; c++) cnt[c]++;
            s->work += s->sec1[b] - s->sec0[b] + 1;
        }
        for (uint32_t c = lo; c <= hi; c++)
            if (cnt[c] < best) best = cnt[c], at = c;
        next_stamp(s); /* acc was scratch */
        /* Branching on the cover of section at's level is complete; the
         * candidates depend on what explains that section. */
        if (s->explain) {
            mi__xset_clear(s, s->cand_set);
            if (best == SIZE_MAX) mi__xset_add_range(s->cand_set, lo, hi);
            else mi__xexplain_section(s, ord, k, at, s->cand_set);
        }
        s->work += k + 3 * (hi - lo);
        for (size_t i = 0; i < k && best != SIZE_MAX; i++) {
            uint32_t b = ord[i].b;
            if (s->sec0[b] <= at && at <= s->sec1[b] && s->min_off[b] == lev[at] &&
                s->min_off[b] + s->size[b] <= s->cap)
                cand[nc++] = ord[i];
        }
        order_by_steps(s, cand, nc, lev, lo, hi);
        return nc;
    }
    for (size_t i = 0; i < k; i++) {
        uint32_t b = ord[i].b;
        size_t o = s->min_off[b];
        if (o >= min_height) break;
        if (o < canon_off || (o == canon_off && ord[i].pre < canon_pre) || o + s->size[b] > s->cap)
            continue;
        cand[nc++] = ord[i];
    }
    s->work += nc;
    return nc;
}

/* Pushes a SEARCH frame over the m buffers at list (outside the area being
 * built), ranked by the current preorder. */
static mi_status open_context(solver *s, size_t list_at, size_t m, int *full, int *dead) {
    mi_status st = arena_reserve(s, 3 * m, full);
    if (st || *full) return st;
    entry *ord = s->arena + s->top, *tmp = ord + m;
    const entry *list = s->arena + list_at;
    /* Units live per section over the context's sections (a difference
     * array); key T of a buffer is the most in its sections, sampled at
     * 64 points at most: it only orders the search. */
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < m; i++) {
        uint32_t b = list[i].b;
        ord[i].b = b;
        if (s->sec0[b] < lo) lo = s->sec0[b];
        if (s->sec1[b] > hi) hi = s->sec1[b];
    }
    memset(s->acc + lo, 0, ((size_t)hi - lo + 2) * sizeof *s->acc);
    for (size_t i = 0; i < m; i++) {
        uint32_t b = ord[i].b;
        s->acc[s->sec0[b]] += s->size[b];
        s->acc[s->sec1[b] + 1] -= s->size[b];
    }
    for (uint32_t c = lo + 1; c <= hi; c++) s->acc[c] += s->acc[c - 1];
    for (size_t i = 0; i < m; i++) {
        uint32_t b = ord[i].b, span = s->sec1[b] - s->sec0[b] + 1;
        uint32_t step = span > 64 ? span / 64 : 1;
        size_t t = 0;
        for (uint32_t c = s->sec0[b]; c <= s->sec1[b]; c += step)
            if (s->acc[c] > t) t = s->acc[c];
        s->key_t[b] = t;
    }
    s->work += 2 * m + (hi - lo);
    sort_entries(s, ord, m, tmp, less_heur);
    s->work += m;
    if (poll_clock(s)) {
        *full = 1; /* out of time: give up as on a node limit */
        return MI_OK;
    }
    size_t mh = SIZE_MAX;
    for (size_t i = 0; i < m; i++) {
        ord[i].pre = (uint32_t)i;
        size_t h = s->min_off[ord[i].b] + s->size[ord[i].b];
        if (h < mh) mh = h;
    }
    sort_entries(s, ord, m, tmp, less_off);
    uint64_t ctx[2] = {0x243F6A8885A308D3ULL, 0x13198A2E03707344ULL}, key[2];
    for (size_t i = 0; i < m; i++) {
        ctx[0] += mix64(ord[i].b + 0x9E3779B97F4A7C15ULL);
        ctx[1] += mix64(((uint64_t)ord[i].b << 1 | 1) * 0xA0761D6478BD642FULL);
    }
    state_key(s, ord, m, ctx, key);
    if (mi__xtt_failed(s, key, 0, 0)) {
        *dead = 1;
        return MI_OK;
    }
    size_t base = s->top;
    frame *f;
    if ((st = push_frame(s, &f))) return st;
    f->kind = FR_SEARCH;
    f->k = (uint32_t)m;
    f->base = base;
    f->min_height = mh;
    f->key[0] = key[0];
    f->key[1] = key[1];
    f->ctx[0] = ctx[0];
    f->ctx[1] = ctx[1];
    f->ncand = (uint32_t)candidates(s, ord, m, 0, 0, mh, ord + m);
    if (s->explain) mi__xset_copy(s, mi__xframe_set(s, s->nframes - 1), s->cand_set);
    s->top = base + m + f->ncand;
    return MI_OK;
}

/* Starts the next non-empty part of the AND frame on top; *pushed = 0
 * when all parts are done. */
static mi_status next_part(solver *s, int *pushed, int *full, int *dead) {
    frame *f = &s->frames[s->nframes - 1];
    *pushed = 0;
    while (f->next <= f->ncut) {
        const entry *list = s->arena + f->base;
        uint32_t lim = f->next < f->ncut ? list[f->k + f->next].b : UINT32_MAX;
        size_t start = f->pos, end = start;
        while (end < f->k && s->sec0[list[end].b] <= lim) end++;
        f->next++;
        f->pos = (uint32_t)end;
        if (end == start) continue;
        *pushed = 1;
        return open_context(s, f->base + start, end - start, full, dead);
    }
    return MI_OK;
}

/* A move being tried: a candidate of the SEARCH frame fi placed at its
 * lowest offset, and the child state that follows from it. */
typedef struct move {
    size_t fi;
    uint32_t buf;
    uint32_t pre;       /* its rank; 0 with no slack, where ranks order no candidates */
    size_t off, end;    /* where it rests, and its end */
    size_t canon_off;   /* the child's canonical position, with pre */
    entry *child;       /* the child's ordering (nchild entries), then ncut cuts */
    size_t nchild, ncut;
    size_t min_height;  /* lowest end any of the child's buffers can reach */
    int hatless;
} move;

/* Room for the child of a frame over k buffers: its ordering and the
 * buffers the move raises, with their sort's scratch (3k entries), then
 * the span boundaries it may fall apart at; and k trail records. *full:
 * the arena is at its limit. */
static mi_status reserve_child(solver *s, size_t k, size_t span, int *full) {
    mi_status st = arena_reserve(s, 3 * k + span, full);
    if (st || *full) return st;
    void *t = s->trail;
    st = mi__grow(&t, &s->trail_cap, s->ntrail + k, sizeof *s->trail);
    s->trail = t;
    return st;
}

static inline void place(solver *s, frame *parent, const move *mv) {
    parent->cur = mv->buf;
    parent->trail_mark = s->ntrail;
    s->sol[mv->buf] = mv->off;
    /* No slack: the buffer rests on a flat skyline (see candidates). */
    for (uint32_t c = s->sec0[mv->buf]; s->full && c <= s->sec1[mv->buf]; c++) s->sky[c] = mv->end;
}

/* The child's ordering, at the top of the arena: the parent's less the
 * placed buffer, where the buffers overlapping it that rested below its
 * end are raised to it (undone by the trail). */
static inline void child_ordering(solver *s, const frame *parent, move *mv) {
    size_t k = parent->k, nkept = 0, nraised = 0, end = mv->end;
    const entry *ord = s->arena + parent->base;
    entry *child = s->arena + s->top, *raised = child + (k - 1);
    uint32_t placed = mv->buf, first_sec = s->sec0[placed], last_sec = s->sec1[placed];
    int overlapped = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t u = ord[i].b;
        if (u == placed) continue;
        int over = s->sec0[u] <= last_sec && first_sec <= s->sec1[u];
        overlapped |= over;
        if (over && s->min_off[u] < end) {
            s->trail[s->ntrail++] = (trail_rec){u, s->min_off[u]};
            s->min_off[u] = end;
            raised[nraised++] = ord[i];
        } else {
            child[nkept++] = ord[i];
        }
    }
    s->work += k;
    /* Hatless (MiniMalloc's later versions): with no unplaced buffer
     * overlapping it, the buffer rests at its lowest offset in every
     * canonical completion, before every candidate after it, and affects
     * no other buffer; if placing it fails, the node fails. (No slack:
     * such a buffer is the only candidate anyway.) */
    mv->hatless = !overlapped && !s->full;
    /* The raised buffers all have lowest offset end: order them by rank
     * and merge them in from the back. */
    sort_entries(s, raised, nraised, raised + nraised, less_pre);
    for (size_t w = nkept + nraised, i = nkept, j = nraised; j > 0;) {
        if (i > 0 && less_off(s, raised[j - 1], child[i - 1])) child[--w] = child[--i];
        else child[--w] = raised[--j];
    }
    mv->child = child;
    mv->nchild = k - 1;
}

/* The boundaries inside the placed buffer that no unplaced buffer crosses
 * any more, after the child's ordering (in .b): there the child falls
 * apart. */
static inline void child_cuts(solver *s, move *mv) {
    entry *cut = mv->child + mv->nchild;
    mv->ncut = 0;
    for (uint32_t c = s->sec0[mv->buf]; c < s->sec1[mv->buf]; c++)
        if (--s->cuts[c] == 0) cut[mv->ncut++].b = c;
}

/* The sections the bound checks after the move. No slack, the releases
 * are the lowest offsets alone, and only those of the raised buffers
 * changed (removing the placed one only helps), so only the sections they
 * span can fail. */
static inline void sections_to_check(const solver *s, const frame *parent, uint32_t *clo,
                                     uint32_t *chi) {
    uint32_t lo = 0, hi = UINT32_MAX;
    if (s->full) {
        lo = UINT32_MAX, hi = 0;
        for (size_t i = parent->trail_mark; i < s->ntrail; i++) {
            uint32_t u = s->trail[i].b;
            if (s->sec0[u] < lo) lo = s->sec0[u];
            if (s->sec1[u] > hi) hi = s->sec1[u];
        }
    }
    *clo = lo;
    *chi = hi;
}

/* Why the bound failed over the child's ordering, into s->fail_set: only
 * the buffers it had counted (the highest releases) made it fail. */
static void explain_bound_failure(solver *s, const move *mv) {
    mi__xset_clear(s, s->fail_set);
    mi__xexplain_section(s, mv->child + s->fail_from, mv->nchild - s->fail_from, s->fail_sec,
                         s->fail_set);
}

/* The child's key: the parent's, less the placed buffer, with the raised
 * buffers' terms moved to their new lowest offset. */
static inline void child_key(solver *s, const frame *parent, const move *mv, uint64_t key[2]) {
    key[0] = parent->key[0];
    key[1] = parent->key[1];
    key_add(key, mv->buf, mv->off, -1);
    for (size_t i = parent->trail_mark; i < s->ntrail; i++) {
        key_add(key, s->trail[i].b, s->trail[i].old, -1);
        key_add(key, s->trail[i].b, mv->end, 1);
    }
    s->work += 1 + (s->ntrail - parent->trail_mark);
}

/* After an undone move whose child failed: true when the parent fails
 * for the same reason (mi__xchild_failed). A hatless buffer failing
 * leaves its siblings nothing to try. */
static inline int move_failed(solver *s, const move *mv) {
    frame *parent = &s->frames[mv->fi];
    if (mv->hatless) parent->next = parent->ncand;
    return mi__xchild_failed(s, mv->fi, mv->buf);
}

/* Pushes the child of the move over the child's ordering: an AND frame
 * when it fell apart (its buffers then by first section), else a SEARCH
 * frame with its candidates. */
static mi_status push_child(solver *s, const move *mv, const uint64_t key[2]) {
    size_t base = s->top;
    frame *sub_frame;
    mi_status st = push_frame(s, &sub_frame);
    if (st) return st;
    frame *parent = &s->frames[mv->fi];
    parent->hatless = (uint32_t)mv->hatless;
    sub_frame->base = base;
    sub_frame->k = (uint32_t)mv->nchild;
    sub_frame->key[0] = key[0];
    sub_frame->key[1] = key[1];
    sub_frame->ctx[0] = parent->ctx[0];
    sub_frame->ctx[1] = parent->ctx[1];
    sub_frame->canon_off = mv->canon_off;
    sub_frame->canon_pre = mv->pre;
    entry *after = mv->child + mv->nchild;
    if (mv->ncut) {
        sort_entries(s, mv->child, mv->nchild, after + mv->ncut, less_sec);
        sub_frame->kind = FR_AND;
        sub_frame->ncut = (uint32_t)mv->ncut;
        s->top = base + mv->nchild + mv->ncut;
    } else {
        sub_frame->kind = FR_SEARCH;
        sub_frame->min_height = mv->min_height;
        sub_frame->ncand = (uint32_t)candidates(s, mv->child, mv->nchild, mv->off, mv->pre,
                                        mv->min_height, after);
        if (s->explain) mi__xset_copy(s, mi__xframe_set(s, mv->fi + 1), s->cand_set);
        s->top = base + mv->nchild + sub_frame->ncand;
    }
    return MI_OK;
}

/* Places the next candidate of the SEARCH frame on top and pushes what
 * follows, or reports that the frame is exhausted or its context solved. */
static mi_status try_next(solver *s, int *what) {
    mi_status st;
    size_t fi = s->nframes - 1;
    for (;;) {
        frame *parent = &s->frames[fi];
        if (parent->next >= parent->ncand) {
            if (s->explain) mi__xset_copy(s, s->fail_set, mi__xframe_set(s, fi));
            *what = TRY_EXHAUSTED;
            return MI_OK;
        }
        entry cand = s->arena[parent->base + parent->k + parent->next++];
        move mv = {.fi = fi, .buf = cand.b, .pre = s->full ? 0 : cand.pre};
        mv.off = s->min_off[mv.buf];
        mv.end = mv.off + s->size[mv.buf];
        mv.canon_off = s->full ? 0 : mv.off;
        s->nodes++;
        if (out_of_limits(s)) {
            *what = TRY_ABORTED;
            return MI_OK;
        }
        int arena_full;
        if ((st = reserve_child(s, parent->k, s->sec1[mv.buf] - s->sec0[mv.buf], &arena_full)))
            return st;
        if (arena_full) {
            *what = TRY_ABORTED;
            return MI_OK;
        }
        place(s, parent, &mv);
        child_ordering(s, parent, &mv);
        child_cuts(s, &mv);
        uint32_t clo, chi;
        sections_to_check(s, parent, &clo, &chi);
        if (!bound_ok(s, mv.child, mv.nchild, mv.canon_off, mv.pre, clo, chi, &mv.min_height)) {
            if (s->explain && !s->stop) explain_bound_failure(s, &mv);
            undo(s, parent);
            if (s->stop) {
                *what = TRY_ABORTED; /* the clock, not the bound, cut it short */
                return MI_OK;
            }
            if (move_failed(s, &mv)) {
                *what = TRY_EXHAUSTED;
                return MI_OK;
            }
            continue;
        }
        if (mv.nchild == 0) {
            *what = TRY_SOLVED;
            return MI_OK;
        }
        uint64_t key[2];
        child_key(s, parent, &mv, key);
        if (mi__xtt_failed(s, key, mv.canon_off, mv.pre)) {
            undo(s, parent);
            if (move_failed(s, &mv)) {
                *what = TRY_EXHAUSTED;
                return MI_OK;
            }
            continue;
        }
        if ((st = push_child(s, &mv, key))) return st;
        *what = TRY_PUSHED;
        return MI_OK;
    }
}

/* True when every section of part q holds exactly cap units. */
int mi__xpart_full(solver *s, uint32_t q, size_t cap) {
    uint32_t c0 = s->sec0[s->order[s->part_at[q]]], c1 = s->part_s1[q];
    memset(s->acc + c0, 0, ((size_t)c1 - c0 + 2) * sizeof *s->acc);
    for (uint32_t k = s->part_at[q]; k < s->part_at[q + 1]; k++) {
        uint32_t b = s->order[k];
        s->acc[s->sec0[b]] += s->size[b];
        s->acc[s->sec1[b] + 1] -= s->size[b];
    }
    int full = 1;
    size_t run = 0;
    for (uint32_t c = c0; c <= c1; c++) {
        run += s->acc[c];
        full &= run == cap;
    }
    next_stamp(s); /* acc was scratch */
    return full;
}

/* Sets up an attempt at part q within cap: the preorder and its seed, the
 * node limit, and the failed-state table, which with no slack keeps what
 * it learnt about the same part and cap. */
static void start_attempt(solver *s, uint32_t q, size_t cap, int full_part, int heur,
                          uint64_t limit) {
    s->cap = cap;
    s->heur = heuristics[heur];
    s->rseed = mix64(limit * 31 + (uint64_t)heur + 0x9E3779B97F4A7C15ULL * s->runs +
                     0xD1B54A32D192ED03ULL * s->salt);
    s->attempt_end = limit && s->nodes <= UINT64_MAX - limit ? s->nodes + limit : UINT64_MAX;
    s->nframes = s->top = s->ntrail = 0;
    s->full = full_part;
    /* Explanations cost exw words per frame: past EX_MAX_WORDS for the
     * deepest search the no-slack search runs without backjumping. */
    s->explain = full_part && !s->no_backjump && (uint64_t)s->nlive * s->exw <= EX_MAX_WORDS;
    if (!(s->full && s->tt_q == q && s->tt_cap == cap) && ++s->epoch == 0) {
        memset(s->tt, 0, s->tt_size * sizeof *s->tt);
        s->epoch = 1;
    }
    s->tt_q = q;
    s->tt_cap = cap;
}

/* The root: an AND of part q's buffers, all unplaced at 0, which the
 * search may cut further. *full: the arena is at its limit. */
static mi_status push_root(solver *s, uint32_t q, int *full) {
    size_t m = s->part_at[q + 1] - s->part_at[q];
    mi_status st = arena_reserve(s, m, full);
    if (st || *full) return st;
    for (size_t i = 0; i < m; i++) {
        uint32_t b = s->order[s->part_at[q] + i];
        s->arena[i] = (entry){b, 0};
        s->min_off[b] = 0;
    }
    for (uint32_t c = s->sec0[s->order[s->part_at[q]]]; c <= s->part_s1[q]; c++) {
        s->cuts[c] = s->cuts0[c];
        s->sky[c] = 0;
    }
    frame *root;
    if ((st = push_frame(s, &root))) return st;
    root->kind = FR_AND;
    root->k = (uint32_t)m;
    s->top = m;
    return MI_OK;
}

/* The AND frame on top, after event *ev from its last part: a failed part
 * fails it (remembered as a failed state, but for the root), else the
 * next part starts; with none left, it is solved. */
static mi_status step_and(solver *s, int *ev) {
    frame *f = &s->frames[s->nframes - 1];
    if (*ev == EV_FAILED) {
        if (s->nframes > 1) mi__xtt_store(s, f->key, f->canon_off, f->canon_pre);
        pop_frame(s);
        return MI_OK;
    }
    int pushed, full = 0, dead = 0;
    mi_status st = next_part(s, &pushed, &full, &dead);
    if (st) return st;
    if (full) {
        *ev = EV_ABORTED;
    } else if (dead) {
        *ev = EV_FAILED;
    } else if (pushed) {
        *ev = EV_GO;
    } else {
        pop_frame(s);
        *ev = EV_SOLVED;
    }
    return MI_OK;
}

/* The SEARCH frame on top, after event *ev from its child: a solved child
 * solves it; after a failed one, or when it is new, its next candidate. */
static mi_status step_search(solver *s, int *ev) {
    frame *f = &s->frames[s->nframes - 1];
    if (*ev == EV_SOLVED) {
        undo(s, f);
        pop_frame(s);
        return MI_OK;
    }
    if (*ev == EV_FAILED) {
        uint32_t b = f->cur;
        undo(s, f);
        if (f->hatless) f->next = f->ncand;
        if (b != NONE && mi__xchild_failed(s, s->nframes - 1, b)) {
            mi__xtt_store(s, f->key, f->canon_off, f->canon_pre);
            pop_frame(s);
            return MI_OK;
        }
    }
    int what;
    mi_status st = try_next(s, &what);
    if (st) return st;
    switch (what) {
    case TRY_PUSHED: *ev = EV_GO; break;
    case TRY_SOLVED: *ev = EV_SOLVED; break;
    case TRY_EXHAUSTED:
        mi__xtt_store(s, f->key, f->canon_off, f->canon_pre);
        pop_frame(s);
        *ev = EV_FAILED;
        break;
    default: *ev = EV_ABORTED; break;
    }
    return MI_OK;
}

/* Is there a plan of part q within cap units? On OUT_FOUND s->sol holds
 * one for the part's buffers. */
mi_status mi__xdecide(solver *s, uint32_t q, size_t cap, int full_part, int heur,
                      uint64_t limit, outcome *out) {
    mi_status st;
    int full = 0;
    start_attempt(s, q, cap, full_part, heur, limit);
    *out = OUT_ABORTED;
    if ((st = push_root(s, q, &full)) || full) return st;
    int ev = EV_GO;
    while (s->nframes > 0) {
        int is_and = s->frames[s->nframes - 1].kind == FR_AND;
        if ((st = is_and ? step_and(s, &ev) : step_search(s, &ev))) return st;
        if (ev == EV_ABORTED) return MI_OK;
    }
    *out = ev == EV_SOLVED ? OUT_FOUND : OUT_INFEASIBLE;
    return MI_OK;
}
