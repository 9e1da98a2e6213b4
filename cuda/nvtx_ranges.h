/* NVTX ranges of the CUDA backend: one per run ("mi:run <graph>", or
 * "mi:capture" / "mi:replay" with CUDA Graphs) and one per node, named
 * "<op>:<node name>" (e.g. "Conv:conv1"). Plain C over NVTX3's header-only
 * API, so it runs without a GPU: under nsys, or in the tests through
 * NVTX's injection hook (NVTX_INJECTION64_PATH, tests/nvtx_recorder.c).
 *
 * Ranges are recorded while a CUDA Graph is captured, not when it is
 * replayed, so each replay gets its own run range and no node ranges. */
#ifndef MI_CUDA_NVTX_RANGES_H
#define MI_CUDA_NVTX_RANGES_H

#include "mini_infer/graph.h"

#include <stddef.h>

typedef enum mi__cu_run_kind {
    MI__CU_RUN_EAGER = 0,   /* nodes launched one by one */
    MI__CU_RUN_CAPTURE = 1, /* nodes captured into a CUDA Graph, then launched */
    MI__CU_RUN_REPLAY = 2,  /* the captured graph launched again */
} mi__cu_run_kind;

/* "<op>:<node name>", truncated to cap. */
void mi__cu_range_node_name(const mi_node *n, char *buf, size_t cap);
/* "mi:run <graph>", "mi:capture <graph>" or "mi:replay <graph>". */
void mi__cu_range_run_name(const mi_graph *g, mi__cu_run_kind kind, char *buf, size_t cap);

void mi__cu_range_push_node(const mi_node *n);
void mi__cu_range_push_run(const mi_graph *g, mi__cu_run_kind kind);
void mi__cu_range_pop(void);

/* A host-only dry run: the ranges a run of this kind emits (the run
 * range around one range per node in capture order; a replay has no node
 * ranges), with no device work. elided as mi_memory_plan_node_elided
 * (NULL: none). *nodes gets the node ranges emitted. */
mi_status mi__cu_range_dry_run(const mi_graph *g, const unsigned char *elided, mi__cu_run_kind kind,
                               size_t *nodes);

#endif
