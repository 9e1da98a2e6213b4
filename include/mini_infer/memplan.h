/* mini-infer: planning a graph's memory.
 *
 * The original design's planner object, in C: a planner holds settings
 * (mi_plan_options: enabled, verbose, alignment, strategy, in-place and
 * the exact search's limits), and plan(graph)
 * returns a memory plan: three pools (weights, the activations arena,
 * inputs/outputs), each with its size in bytes, every tensor's pool and
 * offset, and the memory saving ratio.
 *
 *     mi_planner *pl;
 *     mi_planner_create(&pl);
 *     mi_planner_set_alignment(pl, 256);
 *     mi_memory_plan *plan;
 *     mi_planner_plan(pl, graph, NULL, &plan);
 *     printf("%zu bytes, saving %.1f%%\n",
 *            mi_memory_plan_pool_size(plan, MI_POOL_ARENA),
 *            100 * mi_memory_plan_saving_ratio(plan));
 *
 * Lifetimes: steps are node positions in execution order; a tensor is live
 * from the step of its producer to the step of its last consumer. Graph
 * inputs are live from step 0, graph outputs to the last step; both live in
 * the inputs/outputs pool. Each node may have a workspace, a buffer live at
 * its own step only, planned in the arena. */
#ifndef MINI_INFER_MEMPLAN_H
#define MINI_INFER_MEMPLAN_H

#include "mini_infer/graph.h"
#include "mini_infer/planner.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mi_pool_kind {
    MI_POOL_WEIGHTS = 0, /* initializers and folded constants */
    MI_POOL_ARENA = 1,   /* activations and workspaces: the planned pool */
    MI_POOL_IO = 2,      /* graph inputs and outputs */
    MI_POOL_COUNT
} mi_pool_kind;

const char *mi_pool_name(mi_pool_kind k);

typedef struct mi_planner mi_planner;

/* Everything that decides a graph's plan, declared once: the solver's own
 * options (strategy, enabled, search limits and threads, capacity, log)
 * are mi_solve_options, embedded as they are, so a new solver option needs
 * no change here. mi_model_options embeds this struct in turn. */
typedef struct mi_plan_options {
    mi_solve_options solve; /* mi_solve_options_init's defaults: auto, enabled, 2 s, 1 thread.
                             * A capacity makes planning fail with MI_ERR_CAPACITY when the
                             * arena would need more */
    size_t alignment;       /* of every tensor's offset and of each pool: a power of two
                             * from 1 to 2^20; default MI_DEFAULT_ALIGNMENT (256) */
    int inplace;            /* in-place ops, views and copy-free concat; default 1 */
    size_t max_pool;        /* the most bytes one pool (weights, arena, inputs/outputs) may take,
                             * checked while planning, before anything is allocated: a small
                             * file cannot make the process ask for 10^18 bytes. Default
                             * MI_DEFAULT_MAX_POOL (1 TiB); 0 reads as the default */
} mi_plan_options;

#define MI_DEFAULT_MAX_POOL ((size_t)1 << 40)

void mi_plan_options_init(mi_plan_options *o);
/* MI_ERR_INVALID_ARG naming the first option out of range. */
mi_status mi_plan_options_check(const mi_plan_options *o);

/* A planner with mi_plan_options_init's options. */
mi_status mi_planner_create(mi_planner **out);
void mi_planner_destroy(mi_planner *pl);
/* Replaces every option at once (checked first: on error nothing changes). */
mi_status mi_planner_set_options(mi_planner *pl, const mi_plan_options *o);
const mi_plan_options *mi_planner_options(const mi_planner *pl);
/* The original design's setters, shorthands for one field each of the
 * options above. Disabled: no reuse, every activation its own region
 * (naive). Default on. */
void mi_planner_set_enabled(mi_planner *pl, int enabled);
/* Verbose: each decision (aliases, in-place, placements) through log. */
void mi_planner_set_verbose(mi_planner *pl, int verbose, mi_log_fn log, void *user);
/* A power of two from 1 to 2^20; default 256. */
mi_status mi_planner_set_alignment(mi_planner *pl, size_t alignment);
void mi_planner_set_strategy(mi_planner *pl, mi_strategy s);
/* In-place ops, views and copy-free concat; default on. */
void mi_planner_set_inplace(mi_planner *pl, int inplace);
/* Limits of the exact search (see mi_solve_options). */
void mi_planner_set_search_limits(mi_planner *pl, double time_limit, uint64_t node_budget);
/* Searches the exact search runs as a portfolio (mi_solve_options.threads);
 * 0 .. MI_MAX_SEARCH_THREADS, default 1. */
mi_status mi_planner_set_search_threads(mi_planner *pl, int threads);

/* Where a tensor lives. */
typedef struct mi_tensor_place {
    mi_pool_kind pool;
    size_t offset;   /* bytes from the pool's base */
    size_t size;     /* the tensor's bytes (unaligned) */
    int buffer;      /* index of its planner buffer in the arena, -1 outside it */
    int64_t first;   /* first step it is live (-1: not live during the run, e.g. weights) */
    int64_t last;    /* last step it is live */
    int alias_of;    /* a view or in-place result: the tensor whose memory it shares, else -1 */
} mi_tensor_place;

typedef struct mi_memory_plan mi_memory_plan;

/* Plans g. workspace (may be NULL) gives each node's workspace in bytes,
 * indexed by node (mi_graph_node_count entries). */
mi_status mi_planner_plan(const mi_planner *pl, const mi_graph *g, const size_t *workspace,
                          mi_memory_plan **out);
void mi_memory_plan_destroy(mi_memory_plan *plan);

size_t mi_memory_plan_pool_size(const mi_memory_plan *plan, mi_pool_kind k);
/* 1 - planned arena / naive arena (every activation and workspace in its
 * own aligned region, no in-place). 0 for an empty arena. */
double mi_memory_plan_saving_ratio(const mi_memory_plan *plan);
/* Sum of aligned sizes of every activation and workspace: the naive arena. */
size_t mi_memory_plan_naive_size(const mi_memory_plan *plan);
/* The largest sum of aligned bytes live at one step, with the plan's
 * in-place decisions, and without any (the no-reuse bound). */
size_t mi_memory_plan_lower_bound(const mi_memory_plan *plan);
size_t mi_memory_plan_lower_bound_no_inplace(const mi_memory_plan *plan);
/* The solver's full result (strategy, each strategy's size, proof). */
const mi_solve_result *mi_memory_plan_result(const mi_memory_plan *plan);
size_t mi_memory_plan_alignment(const mi_memory_plan *plan);

size_t mi_memory_plan_tensor_count(const mi_memory_plan *plan);
const mi_tensor_place *mi_memory_plan_tensor(const mi_memory_plan *plan, size_t tensor);
/* Node k's workspace: its offset in the arena and size (0 when none). */
size_t mi_memory_plan_workspace_offset(const mi_memory_plan *plan, size_t node);
size_t mi_memory_plan_workspace_size(const mi_memory_plan *plan, size_t node);
/* 1 when node k does no work because the plan made it a view (Reshape,
 * Flatten, Squeeze, Unsqueeze, Identity, Dropout) or wrote its inputs in
 * place (a concat whose producers wrote into their slices). */
int mi_memory_plan_node_elided(const mi_memory_plan *plan, size_t node);

/* Plan pb's weights that plan pa (of the same model at another batch
 * size) already holds: for each tensor t of gb, match[t] is the tensor of
 * ga with the same name, dtype, dims and bytes that pa holds in its
 * weights pool, or -1. The other weights gb's pool holds (not views) get
 * own_offset[t], their offset in a pool of their own of own_bytes bytes
 * (pb's alignment); every other tensor SIZE_MAX. Both arrays have
 * mi_graph_tensor_count(gb) entries. Needs the weights' host bytes. */
mi_status mi_memory_plan_share_weights(const mi_graph *ga, const mi_memory_plan *pa, const mi_graph *gb,
                                       const mi_memory_plan *pb, int *match, size_t *own_offset,
                                       size_t *own_bytes);

/* The arena as a planner problem: the buffers (after merging views and
 * in-place tensors) and their offsets, e.g. to write a CSV. */
const mi_buffer *mi_memory_plan_buffers(const mi_memory_plan *plan, size_t *count);
const size_t *mi_memory_plan_buffer_offsets(const mi_memory_plan *plan);

#ifdef __cplusplus
}
#endif

#endif
