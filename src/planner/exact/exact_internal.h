/* The exact search's internals, shared by exact_setup.c (the tables of
 * a problem: sections, parts), exact.c (the decision search: is there a
 * plan of one part within cap?), exact_drive.c (what it is asked, under
 * which limits and preorders: capacity and minimise modes, restarts),
 * exact_explain.c (the failed states it remembers and why they failed)
 * and exact_sat.c (the same decision with no slack, as satisfiability).
 * Nothing outside these files includes it. */
#ifndef MI_EXACT_INTERNAL_H
#define MI_EXACT_INTERNAL_H

#include "planner/planner_internal.h"

#include <stdatomic.h>

typedef struct mi__xentry entry;
typedef struct mi__xframe frame;
typedef struct mi__xtt_entry tt_entry;
typedef struct mi__xtrail_rec trail_rec;
typedef struct mi__xsolver solver;
typedef struct mi__xsat mi__xsat;

typedef enum outcome { OUT_FOUND, OUT_INFEASIBLE, OUT_ABORTED } outcome;

/* A state (a context's unplaced buffers with their lowest offsets) that
 * failed with the canonical position (off, pre); the same state at a
 * later position has fewer completions, so it fails too. Ranks compare
 * only within one preorder, which the set a context started with fixes,
 * so that set is part of the key. Keys are two independent 64-bit sums,
 * so a false match needs a 128-bit collision. */
struct mi__xtt_entry {
    uint64_t key[2];
    size_t off;
    uint32_t pre;
    uint32_t epoch; /* the attempt that stored it; 0: empty */
    uint32_t ex[2]; /* no slack: the failure's explanation */
};
#define MI__XTT_BITS 17
#define MI__XTT_SET_WORDS 4

struct mi__xentry {
    uint32_t b;   /* buffer */
    uint32_t pre; /* rank in the context's static preorder */
};

/* Static preorders a decision can be asked to search by; the last three
 * are seeded random ones (the seed mixes the limit, the preorder and
 * solver.runs). */
#define MI__XNHEUR 8
/* A search with slack rotates through the first MI__XNSLACK of them (the
 * bottom-left one and MiniMalloc's three): with all eight, MiniMalloc's
 * benchmark E needed over 10 s, with these four 4.9 s. */
#define MI__XNSLACK 4

struct mi__xsolver {
    const mi__prob *p;
    size_t cap; /* in units of the alignment */
    int full;   /* every section of the part holds exactly cap units */
    int explain; /* full, and failures carry explanations (backjumping) */
    int no_backjump; /* never explain (mi__exact_opts, for tests) */
    int sat_mode;    /* MI__SAT_BOTH, _OFF or _ONLY (mi__exact_opts, for tests) */
    /* per buffer */
    size_t *size; /* units; 0 leaves the buffer out */
    uint32_t *sec0, *sec1;
    size_t *area, *width; /* units x steps; steps as given (uncompressed) */
    size_t *key_t;
    size_t *min_off;
    size_t *sol;
    /* per section */
    uint32_t nsec;
    uint32_t *cuts0, *cuts; /* unplaced buffers crossing boundary s | s + 1 */
    size_t *acc, *lev;
    size_t *sky; /* no slack: the skyline, the end of the top placed buffer */
    uint32_t *stamp;
    uint32_t stamp_now;
    /* No slack, backjumping: a failure's explanation is a set of sections
     * such that every state agreeing with the failed one there (the same
     * placed buffers live in them, at the same offsets) fails too. Sets
     * of exw words: fex per frame, fail_set of the last failure, cand_set
     * of the last candidate set; fail_sec: where the bound last failed,
     * fail_from: the first entry of the ordering it had counted there. */
    uint32_t exw, fail_sec;
    size_t fail_from;
    uint64_t *fex, *fail_set, *cand_set;
    uint64_t *tt_set; /* per failed-state entry its explanation, when sets are small */
    size_t fex_cap;
    /* the search */
    uint32_t nlive; /* buffers with a size */
    /* Top-level parts: no buffer crosses between them, so each is planned
     * on its own and the pool is the highest of them. */
    uint32_t *order; /* buffers with a size, by first section */
    uint32_t nparts;
    uint32_t *part_at; /* part q is order[part_at[q], part_at[q + 1]) */
    uint32_t *part_s1; /* its last section (the first is that of its first buffer) */
    size_t *part_lo;   /* proven floor of each part (units) */
    size_t *part_hi;   /* height of the incumbent plan of each part (units) */
    size_t tt_size;
    uint32_t epoch, tt_q;
    size_t tt_cap;
    const uint8_t *heur;
    uint64_t rseed;
    uint64_t runs; /* no-slack attempts so far (the Luby sequence's index) */
    entry *arena;
    size_t arena_cap, top;
    frame *frames;
    size_t frames_cap, nframes;
    trail_rec *trail;
    size_t trail_cap, ntrail;
    tt_entry *tt;
    /* limits */
    uint64_t nodes, node_budget, attempt_end, work, work_budget, check_nodes, check_work;
    double deadline; /* 0: none */
    int stop;        /* the budget or the time ran out, or cancel was set */
    /* A portfolio (mi__exact_opts.threads): each search has its own salt,
     * which varies its preorders and random seeds, and stops when another
     * has settled the question. */
    uint32_t salt;
    const atomic_int *cancel; /* NULL: alone */
    /* No slack: per part, its SAT encoding once built (exact_sat.c) */
    mi__xsat **xsat;
};

/* The clock is read every MI__XCHECK_NODES nodes or MI__XCHECK_WORK
 * entries scanned. */
#define MI__XCHECK_NODES 1024
#define MI__XCHECK_WORK ((uint64_t)1 << 18)

/* exact_setup.c */
mi_status mi__xsolver_init(solver *s, const mi__prob *p);
void mi__xsolver_free(solver *s);
/* True when every section of part q holds exactly cap units (no slack). */
int mi__xpart_full(solver *s, uint32_t q, size_t cap);
/* Is there a plan of part q within cap units? full_part: mi__xpart_full's
 * answer; heur: the preorder (0 .. MI__XNHEUR - 1); limit: nodes for this
 * attempt. On OUT_FOUND s->sol holds one for the part's buffers. */
mi_status mi__xdecide(solver *s, uint32_t q, size_t cap, int full_part, int heur, uint64_t limit,
                      outcome *out);

/* ---- explanations of failures (no slack; exact_explain.c) ---- */

/* Frame fi's explanation set (exw words). */
static inline uint64_t *mi__xframe_set(const solver *s, size_t fi) { return s->fex + fi * s->exw; }
void mi__xset_clear(const solver *s, uint64_t *w);
void mi__xset_copy(const solver *s, uint64_t *d, const uint64_t *x);
void mi__xset_add_range(uint64_t *w, uint32_t a, uint32_t b);
/* First and last section of w (ex[0] > ex[1] when empty). */
void mi__xset_hull(const solver *s, const uint64_t *w, uint32_t ex[2]);
/* Adds to w what a failure of the section bound in section c, or the
 * candidate set covering c's level, depends on, given the unplaced buffers
 * ord[0, k) that took part. */
void mi__xexplain_section(const solver *s, const entry *ord, size_t k, uint32_t c, uint64_t *w);
/* A child of frame fi (its state with b placed) failed, explained by
 * s->fail_set: adds that to the frame's explanation; true when b lies
 * outside it, so the frame fails for the same reason. */
int mi__xchild_failed(solver *s, size_t fi, uint32_t b);
/* True when the state with this key is known to fail from the canonical
 * position (off, pre); its explanation (no slack) goes to s->fail_set. */
int mi__xtt_failed(solver *s, const uint64_t key[2], size_t off, uint32_t pre);
/* Records that the state with this key failed from (off, pre), explained
 * by s->fail_set (no slack; kept exactly when small, else as the range of
 * sections it spans: wider, still an explanation). */
void mi__xtt_store(solver *s, const uint64_t key[2], size_t off, uint32_t pre);

#endif
