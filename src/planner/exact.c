/* exact: a branch-and-bound search for the smallest pool, after MiniMalloc
 * (Moolchandani et al., "MiniMalloc: A Lightweight Memory Allocator for
 * Hardware-Accelerated Machine Learning", ASPLOS 2023); our own code.
 *
 * The core is a decision search: is there a plan within cap? It only visits
 * canonical plans, where every buffer rests at 0 or on the end of a
 * conflicting buffer and buffers are placed in order of (offset, preorder
 * rank); every plan can be pushed down into one, so none is lost. Each
 * unplaced buffer keeps its lowest feasible offset (the highest end of the
 * placed buffers it conflicts with); a node places one of them there.
 *  - dominance: a candidate at or above the lowest end any unplaced buffer
 *    could reach is skipped: that buffer would be left in a gap below.
 *  - inference: in each section (a maximal set of buffers live together)
 *    the unplaced buffers stack, none lower than its own lowest offset nor
 *    than the current offset; for every release r, r plus the bytes of the
 *    buffers released at r or later must fit under cap.
 *  - decomposition: once no unplaced buffer crosses a section boundary, the
 *    two sides are independent sub-problems, solved one after the other
 *    (the failure of one fails them all, with no backtracking between).
 * The search is iterative (explicit frames), so deep searches need no
 * stack. Minimising runs the decision search at the lower bound, then
 * bisects between the proven floor and the incumbent, restarting with
 * doubled node limits and rotating among static preorders (the round
 * robin of MiniMalloc). */
#include "planner_internal.h"

#include <string.h>

#define NONE UINT32_MAX
/* Largest arena (ordering entries over all frames); past it the search
 * gives up as on a node limit. 8 Mi entries are 64 MiB. */
#define ARENA_MAX ((size_t)1 << 23)
/* The clock is read every CHECK_NODES nodes or CHECK_WORK entries scanned. */
#define CHECK_NODES 1024
#define CHECK_WORK ((uint64_t)1 << 20)

typedef struct entry {
    uint32_t b;   /* buffer */
    uint32_t pre; /* rank in the context's static preorder */
} entry;

enum { FR_AND, FR_SEARCH };

/* A SEARCH frame owns its ordering (the context's unplaced buffers sorted
 * by lowest offset, then rank) at arena[base, base + k). An AND frame owns
 * the unplaced buffers of a context that fell apart, sorted by first
 * section, at arena[base, base + k), followed by its ncut cut sections. */
typedef struct frame {
    uint32_t kind;
    uint32_t k;
    uint32_t next;      /* SEARCH: next candidate; AND: next part */
    uint32_t pos;       /* AND: first buffer of the next part */
    uint32_t ncut;      /* AND */
    uint32_t slo, shi;  /* AND: sections of the whole */
    uint32_t cur;       /* SEARCH: buffer placed now, NONE */
    uint32_t canon_pre; /* SEARCH: candidates must come after (canon_off, canon_pre) */
    size_t canon_off;
    size_t min_height; /* SEARCH: lowest end any unplaced buffer can reach */
    size_t base;
    size_t trail_mark; /* SEARCH: trail length before cur was placed */
} frame;

typedef struct trail_rec {
    uint32_t b;
    size_t old;
} trail_rec;

typedef enum outcome { OUT_FOUND, OUT_INFEASIBLE, OUT_ABORTED } outcome;

/* Heuristics: keys compared in order, each descending, then index. */
enum { KEY_T = 1, KEY_W, KEY_A, KEY_Z };
static const uint8_t heuristics[][3] = {
    {KEY_T, KEY_W, KEY_A},
    {KEY_T, KEY_A, KEY_W},
    {KEY_W, KEY_A, KEY_T},
    {KEY_Z, KEY_W, KEY_T},
};
#define NHEUR ((int)MI__ARRAY_LEN(heuristics))

typedef struct solver {
    const mi__prob *p;
    size_t n;
    size_t cap; /* units of the alignment */
    /* per buffer */
    size_t *size;     /* units; 0 for buffers left out */
    uint32_t *sec0, *sec1;
    size_t *area;     /* size x steps, saturated */
    size_t *key_t;    /* most unplaced units in one of its sections (per context) */
    size_t *min_off;
    size_t *sol;
    const size_t *hint; /* bytes, may be NULL */
    /* per section */
    uint32_t nsec;
    uint32_t *cuts0, *cuts; /* buffers crossing boundary s | s + 1 */
    size_t *acc;
    uint32_t *stamp;
    uint32_t stamp_now;
    /* the search */
    uint32_t nlive; /* buffers with a size */
    entry *arena;
    size_t arena_cap, top;
    frame *frames;
    size_t frames_cap, nframes;
    trail_rec *trail;
    size_t trail_cap, ntrail;
    const uint8_t *heur;
    /* limits */
    uint64_t nodes, node_budget, work, next_check_nodes, next_check_work;
    double deadline; /* 0: none */
    int stop;        /* the budget or the time ran out */
} solver;

/* ---- setup ------------------------------------------------------------------ */

static void solver_free(solver *s) {
    mi__free(s->size);
    mi__free(s->sec0);
    mi__free(s->sec1);
    mi__free(s->area);
    mi__free(s->key_t);
    mi__free(s->min_off);
    mi__free(s->sol);
    mi__free(s->cuts0);
    mi__free(s->cuts);
    mi__free(s->acc);
    mi__free(s->stamp);
    mi__free(s->arena);
    mi__free(s->frames);
    mi__free(s->trail);
}

/* Sections are the steps where a buffer ends and some buffer started since
 * the previous section: exactly the maximal sets of buffers live together.
 * Two buffers conflict iff they share a section, and a buffer's sections
 * are a contiguous range. */
static mi_status solver_init(solver *s, const mi__prob *p) {
    mi_status st = MI_OK;
    size_t n = p->n, an = n ? n : 1, ns = p->nsteps ? p->nsteps : 1;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->n = n;
    uint8_t *ev = mi__calloc(ns, 1);
    uint32_t *next_sec = mi__malloc((ns + 1) * sizeof *next_sec);
    s->size = mi__malloc(an * sizeof *s->size);
    s->sec0 = mi__malloc(an * sizeof *s->sec0);
    s->sec1 = mi__malloc(an * sizeof *s->sec1);
    s->area = mi__malloc(an * sizeof *s->area);
    s->key_t = mi__malloc(an * sizeof *s->key_t);
    s->min_off = mi__calloc(an, sizeof *s->min_off);
    s->sol = mi__calloc(an, sizeof *s->sol);
    if (!ev || !next_sec || !s->size || !s->sec0 || !s->sec1 || !s->area || !s->key_t ||
        !s->min_off || !s->sol) {
        st = mi__error(MI_ERR_NO_MEMORY, "exact: %zu buffers", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        s->size[i] = p->size[i] / p->align;
        if (!s->size[i]) continue;
        s->nlive++;
        ev[p->first[i]] |= 1;
        ev[p->last[i]] |= 2;
        size_t w = (size_t)(p->last[i] - p->first[i]) + 1;
        if (!mi__mul_size(s->size[i], w, &s->area[i])) s->area[i] = SIZE_MAX;
    }
    /* next_sec[t]: index of the first section at step >= t. */
    uint32_t nsec = 0;
    int started = 0;
    uint32_t *sec_step = s->sec0; /* borrowed until the sections are known */
    for (uint32_t t = 0; t < p->nsteps; t++) {
        if (ev[t] & 1) started = 1;
        if ((ev[t] & 2) && started) {
            sec_step[nsec++] = t;
            started = 0;
        }
    }
    for (size_t t = ns + 1, k = nsec; t-- > 0;) {
        while (k > 0 && sec_step[k - 1] >= t) k--;
        /* k is now the count of sections before step t */
        next_sec[t] = (uint32_t)k;
    }
    s->nsec = nsec;
    size_t as = nsec ? nsec : 1;
    s->cuts0 = mi__calloc(as, sizeof *s->cuts0);
    s->cuts = mi__calloc(as, sizeof *s->cuts);
    s->acc = mi__calloc(as, sizeof *s->acc);
    s->stamp = mi__calloc(as, sizeof *s->stamp);
    if (!s->cuts0 || !s->cuts || !s->acc || !s->stamp) {
        st = mi__error(MI_ERR_NO_MEMORY, "exact: %u sections", nsec);
        goto done;
    }
    /* Sections up to and including step t: next_sec[t + 1]. */
    for (size_t i = n; i-- > 0;) {
        if (!s->size[i]) {
            s->sec0[i] = s->sec1[i] = 0;
            continue;
        }
        uint32_t a = next_sec[p->first[i]], b = next_sec[p->last[i] + 1] - 1;
        assert(a <= b && b < nsec);
        s->sec0[i] = a;
        s->sec1[i] = b;
    }
    /* sec_step borrowed s->sec0 from index 0 up; sec0 was filled from the
     * top down, and entry i of sec_step is read only for steps before
     * buffer i's... not guaranteed, so sec0 is filled after next_sec is
     * complete (above) and sec_step is no longer read. */
    for (size_t i = 0; i < n; i++)
        for (uint32_t c = s->sec0[i]; s->size[i] && c < s->sec1[i]; c++) s->cuts0[c]++;
done:
    mi__free(ev);
    mi__free(next_sec);
    return st;
}
