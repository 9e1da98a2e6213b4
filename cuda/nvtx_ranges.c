/* NVTX ranges (see nvtx_ranges.h). The only file that includes NVTX. */
#include "nvtx_ranges.h"

#include "host_plan.h"

#include <nvtx3/nvToolsExt.h>
#include <stdio.h>

void mi__cu_range_node_name(const mi_node *n, char *buf, size_t cap) {
    snprintf(buf, cap, "%s:%s", mi_op_name(n->op), n->name ? n->name : "");
}

void mi__cu_range_run_name(const mi_graph *g, mi__cu_run_kind kind, char *buf, size_t cap) {
    static const char *const what[] = {"run", "capture", "replay"};
    const char *name = mi_graph_name(g);
    snprintf(buf, cap, "mi:%s%s%s", what[kind], name[0] ? " " : "", name);
}

void mi__cu_range_push_node(const mi_node *n) {
    char buf[256];
    mi__cu_range_node_name(n, buf, sizeof buf);
    nvtxRangePushA(buf);
}

void mi__cu_range_push_run(const mi_graph *g, mi__cu_run_kind kind) {
    char buf[256];
    mi__cu_range_run_name(g, kind, buf, sizeof buf);
    nvtxRangePushA(buf);
}

void mi__cu_range_pop(void) { nvtxRangePop(); }

mi_status mi__cu_range_dry_run(const mi_graph *g, const unsigned char *elided, mi__cu_run_kind kind,
                               size_t *nodes) {
    size_t nn = mi_graph_node_count(g), count = 0;
    size_t *order = mi__malloc((nn ? nn : 1) * sizeof *order);
    *nodes = 0;
    if (!order) return mi__error(MI_ERR_NO_MEMORY, "capture order of %zu nodes", nn);
    if (kind != MI__CU_RUN_REPLAY) count = mi__cu_capture_order(nn, elided, order);
    mi__cu_range_push_run(g, kind);
    for (size_t i = 0; i < count; i++) {
        mi__cu_range_push_node(mi_graph_node(g, order[i]));
        mi__cu_range_pop();
    }
    mi__cu_range_pop();
    mi__free(order);
    *nodes = count;
    return MI_OK;
}
