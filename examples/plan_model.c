/* Plan a model and print its pools: the original design's planner object
 * (enabled, verbose, alignment) in C.
 *
 *   plan_model MODEL.onnx [BATCH] */
#include <mini_infer/memplan.h>

#include <stdio.h>
#include <stdlib.h>

static void print_log(void *user, const char *msg) {
    (void)user;
    printf("  | %s\n", msg);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: plan_model MODEL.onnx [BATCH]\n");
        return 2;
    }
    mi_load_options lo;
    mi_load_options_init(&lo);
    if (argc > 2) lo.batch = atoll(argv[2]);
    mi_graph *g = NULL;
    mi_planner *pl = NULL;
    mi_memory_plan *plan = NULL;
    mi_status st = mi_graph_load(argv[1], &lo, &g);
    if (st == MI_OK) st = mi_planner_create(&pl);
    if (st == MI_OK) {
        mi_planner_set_enabled(pl, 1);
        mi_planner_set_verbose(pl, 0, print_log, NULL); /* 1: a line per decision */
        st = mi_planner_set_alignment(pl, 256);
    }
    if (st == MI_OK) st = mi_planner_plan(pl, g, NULL, &plan);
    if (st != MI_OK) {
        fprintf(stderr, "plan_model: %s: %s\n", mi_status_str(st), mi_last_error());
        mi_planner_destroy(pl);
        mi_graph_destroy(g);
        return 1;
    }
    for (int k = 0; k < MI_POOL_COUNT; k++)
        printf("pool %-8s %12zu bytes\n", mi_pool_name((mi_pool_kind)k),
               mi_memory_plan_pool_size(plan, (mi_pool_kind)k));
    printf("naive arena   %12zu bytes\nlower bound   %12zu bytes\nsaving ratio  %.4f\n",
           mi_memory_plan_naive_size(plan), mi_memory_plan_lower_bound(plan), mi_memory_plan_saving_ratio(plan));
    mi_memory_plan_destroy(plan);
    mi_planner_destroy(pl);
    mi_graph_destroy(g);
    return 0;
}
