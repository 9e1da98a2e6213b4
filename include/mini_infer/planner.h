/* mini-infer: the memory planner.
 *
 * The planner knows nothing about graphs. A problem is a list of buffers,
 * each a size in bytes and an inclusive lifetime [first, last] in steps
 * (any 64-bit values), plus an alignment. A plan gives every buffer an
 * offset inside one pool such that no two buffers live at the same step
 * overlap in address. Each buffer occupies its size rounded up to the
 * alignment, and the pool size is a multiple of the alignment.
 *
 *     mi_buffer bufs[] = {{1000, 0, 1}, {2000, 1, 2}, {1000, 2, 3}};
 *     mi_problem p = {bufs, 3, MI_DEFAULT_ALIGNMENT};
 *     size_t offs[3];
 *     mi_solve_result r;
 *     mi_solve(&p, NULL, offs, &r);   // r.pool_size == 3072 == r.lower_bound
 *
 * The same problem always gives the same plan, byte for byte. */
#ifndef MINI_INFER_PLANNER_H
#define MINI_INFER_PLANNER_H

#include "mini_infer/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mi_buffer {
    size_t size;   /* bytes; 0 is allowed and occupies nothing */
    int64_t first; /* first step at which the buffer is live */
    int64_t last;  /* last step at which it is live (inclusive, >= first) */
} mi_buffer;

/* A view of caller-owned buffers. */
typedef struct mi_problem {
    const mi_buffer *buffers;
    size_t count;
    size_t alignment; /* a power of two from 1 to MI_MAX_ALIGNMENT, usually MI_DEFAULT_ALIGNMENT */
} mi_problem;

/* X(enum, name): the strategies, in the order auto tries and breaks ties. */
#define MI_STRATEGY_LIST(X)                      \
    X(MI_STRATEGY_NAIVE, "naive")                \
    X(MI_STRATEGY_GREEDY_SIZE, "greedy-size")    \
    X(MI_STRATEGY_BEST_FIT, "best-fit")          \
    X(MI_STRATEGY_GREEDY_BREADTH, "greedy-breadth") \
    X(MI_STRATEGY_COLORING, "coloring")          \
    X(MI_STRATEGY_EXACT, "exact")                \
    X(MI_STRATEGY_AUTO, "auto")

typedef enum mi_strategy {
#define MI__STRATEGY_ENUM(e, name) e,
    MI_STRATEGY_LIST(MI__STRATEGY_ENUM)
#undef MI__STRATEGY_ENUM
    MI_STRATEGY_COUNT
} mi_strategy;

const char *mi_strategy_name(mi_strategy s);
/* Parses a strategy name; the error message lists the valid names. */
mi_status mi_strategy_parse(const char *name, mi_strategy *out);

/* The exact search's time limit, in seconds, unless the caller sets one. */
#define MI_DEFAULT_TIME_LIMIT 2.0

/* The most searches mi_solve_options.threads may ask for. */
#define MI_MAX_SEARCH_THREADS 256

typedef struct mi_solve_options {
    mi_strategy strategy; /* default MI_STRATEGY_AUTO */
    int enabled;          /* 0: no reuse at all (naive), whatever the strategy; default 1 */
    int verbose;          /* log each decision through log (default 0) */
    mi_log_fn log;        /* NULL: silent */
    void *log_user;
    /* 0: minimise the pool. Otherwise a capacity in bytes: the exact
     * strategy searches for a plan within it (or proves none exists), and
     * every strategy returns MI_ERR_CAPACITY when its plan exceeds it. */
    size_t capacity;
    double time_limit;    /* seconds for the exact search; default MI_DEFAULT_TIME_LIMIT */
    uint64_t node_budget; /* search nodes for the exact search (its SAT search, used
                           * where every step is full, is charged 50 per conflict or 1
                           * per 128 watches visited, whichever is more); 0:
                           * unlimited. auto: 200000,
                           * and at most 2^28 entries scanned, which stop it well inside
                           * the time limit, so auto's plans do not depend on the
                           * machine's speed; auto skips the search above 200000 buffers */
    int threads;          /* exact search: > 1 runs a portfolio of that many searches, each
                           * on a thread of its own with its own preorders and seeds; the
                           * first to settle the question stops the others. Limits apply
                           * to each search. Default 1 (one search; its result repeats run
                           * to run under a node budget; a portfolio's may not). More
                           * searches than cores leave each fewer nodes under a time
                           * limit. 0 .. MI_MAX_SEARCH_THREADS, 0 and 1 alike */
} mi_solve_options;

/* Fills the defaults listed above. */
void mi_solve_options_init(mi_solve_options *opt);
/* MI_ERR_INVALID_ARG naming the first option out of range (strategy,
 * threads); mi_solve checks the same. */
mi_status mi_solve_options_check(const mi_solve_options *opt);

typedef struct mi_solve_result {
    size_t pool_size;   /* bytes, a multiple of the alignment */
    size_t lower_bound; /* max over steps of the aligned bytes live then */
    size_t naive_size;  /* sum of aligned sizes */
    size_t alignment;   /* the alignment used */
    mi_strategy strategy; /* the strategy whose plan was returned (auto: the winner) */
    int proven_optimal;   /* 1 when pool_size is known to be the minimum */
    uint64_t nodes;       /* exact search nodes explored, by all its searches, the SAT
                           * search's as charged (see node_budget; 0 for heuristics) */
    double seconds;       /* planning time */
    /* Pool size each strategy reached (auto fills all it ran; 0 = not run). */
    size_t by_strategy[MI_STRATEGY_COUNT];
} mi_solve_result;

/* Plans the problem. offsets (count entries) receives each buffer's
 * offset; result may be NULL. opt NULL means the defaults. With a
 * capacity, returns MI_ERR_CAPACITY when no plan within it was found; the
 * offsets then hold the best plan found and result is filled. Every plan
 * returned has passed mi_validate(). */
mi_status mi_solve(const mi_problem *problem, const mi_solve_options *opt, size_t *offsets,
                   mi_solve_result *result);

/* Checks a plan: every offset aligned, every buffer inside the pool, no two
 * buffers with overlapping lifetimes overlapping in address. On a
 * collision returns MI_ERR_PLAN_INVALID naming the first pair. A sweep over
 * events: O(n log n). */
mi_status mi_validate(const mi_problem *problem, const size_t *offsets, size_t pool_size);

/* The largest sum of aligned sizes live at any one step. */
mi_status mi_lower_bound(const mi_problem *problem, size_t *out);
/* The sum of aligned sizes (the pool without any reuse). */
mi_status mi_naive_size(const mi_problem *problem, size_t *out);

/* ---- MiniMalloc-style CSV problems ---------------------------------------
 * Header `id,lower,upper,size` (or `buffer,start,end,size`, as MiniMalloc's
 * later versions write it), one buffer a line, lifetime the half-open
 * interval [lower, upper). A plan is written as `id,lower,upper,size,offset`. */
typedef struct mi_csv mi_csv;

/* Reads a file; on error the message names the line. */
mi_status mi_csv_read(const char *path, mi_csv **out);
/* Parses text of len bytes (need not be NUL-terminated). name is used in messages. */
mi_status mi_csv_parse(const char *text, size_t len, const char *name, mi_csv **out);
void mi_csv_destroy(mi_csv *csv);
size_t mi_csv_count(const mi_csv *csv);
const mi_buffer *mi_csv_buffers(const mi_csv *csv);
/* Each id as an integer; INT64_MIN where it is a name (MiniMalloc's may be,
 * such as b1): mi_csv_id_text has every id as written, and ids are told
 * apart as written. */
const int64_t *mi_csv_ids(const mi_csv *csv);
const char *mi_csv_id_text(const mi_csv *csv, size_t i);
/* Writes `id,lower,upper,size,offset` lines. */
mi_status mi_csv_write_plan(const mi_csv *csv, const size_t *offsets, const char *path);

#ifdef __cplusplus
}
#endif

#endif
