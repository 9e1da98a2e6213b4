/* Fuzz target: bytes -> ONNX loader -> shapes -> plan. Any input must give
 * a status, never a crash, a hang or a leak. */
#include "mini_infer/memplan.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mi_graph *g = NULL;
    if (mi_graph_load_memory(data, size, "fuzz.onnx", NULL, &g) != MI_OK) return 0;
    mi_planner *pl = NULL;
    if (mi_planner_create(&pl) == MI_OK) {
        /* greedy-size: the exact search's time limit would make runs slow */
        mi_planner_set_strategy(pl, MI_STRATEGY_GREEDY_SIZE);
        mi_memory_plan *p = NULL;
        if (mi_planner_plan(pl, g, NULL, &p) == MI_OK) mi_memory_plan_destroy(p);
        mi_planner_destroy(pl);
    }
    mi_graph_destroy(g);
    return 0;
}
