/* mini-infer: reports of a memory plan. Output formatting lives here only.
 *
 * mi_report_json: every figure of the plan plus every tensor's pool,
 * buffer, offset, size and lifetime, for other tools (fields listed in
 * README.md). mi_report_svg: the arena as a picture, steps across and
 * addresses up, one rectangle per tensor coloured by the op that made it,
 * with the pool size and the lower bound drawn as lines. */
#ifndef MINI_INFER_REPORT_H
#define MINI_INFER_REPORT_H

#include <stdio.h>

#include "mini_infer/memplan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mi_report_info {
    const char *model;  /* a name or path for the title; may be NULL */
    int64_t batch;      /* the batch the graph was planned at (0: unknown) */
    double plan_seconds; /* load + plan time to print (0: omit) */
} mi_report_info;

mi_status mi_report_json(const mi_graph *g, const mi_memory_plan *plan, const mi_report_info *info,
                         FILE *f);
mi_status mi_report_svg(const mi_graph *g, const mi_memory_plan *plan, const mi_report_info *info,
                        FILE *f);

#ifdef __cplusplus
}
#endif

#endif
