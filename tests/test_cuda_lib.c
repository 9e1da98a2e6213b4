/* The CUDA backend's glue, on a machine without a GPU: the registry of
 * device pools and the checks run() makes on every pointer (bounds,
 * alignment, the in-place contract), the capture order, the NVTX ranges
 * through NVTX's injection hook (tests/nvtx_recorder.c: no nsys, no GPU),
 * and that libmini_infer_cuda.so loads alone (the core hands it a table of
 * functions, src/runtime/plugin.h), exports only its entry point and
 * reports a missing GPU clearly. */
#include <criterion/criterion.h>

#include "graph_build.h"
#include "host_plan.h"
#include "mini_infer/cuda.h"
#include "mini_infer/memplan.h"
#include "nvtx_ranges.h"
#include "runtime/plugin.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

/* ---- pools and pointer checks ---------------------------------------------------------------- */

Test(cuda_lib, regions) {
    mi__cu_regions r = {0};
    cr_assert_eq(mi__cu_regions_add(&r, (void *)0x10000, 4096, "weights pool"), MI_OK);
    cr_assert_eq(mi__cu_regions_add(&r, (void *)0x20000, 256, "activations arena"), MI_OK);
    const mi__cu_region *g = mi__cu_regions_find(&r, (void *)0x200ff);
    cr_assert_not_null(g);
    cr_assert_str_eq(g->what, "activations arena");
    cr_assert_null(mi__cu_regions_find(&r, (void *)0x20100), "one past the end");
    size_t size = 0;
    cr_assert(mi__cu_regions_remove(&r, (void *)0x10000, &size));
    cr_assert_eq(size, 4096);
    cr_assert_not(mi__cu_regions_remove(&r, (void *)0x10000, NULL));
    cr_assert_null(mi__cu_regions_find(&r, (void *)0x10010));
    mi__cu_regions_free(&r);
}

Test(cuda_lib, run_arguments_are_checked_against_pools_and_the_inplace_contract) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(1, 4));
    gb_weight(&b, "w", MI_DTYPE_FLOAT, 2, D(4, 4), NULL);
    gb_node(&b, "Relu", "relu", "x", "t", NOATTR);
    gb_node(&b, "MatMul", "mm", "t,w", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    mi__cu_regions r = {0};
    static _Alignas(256) unsigned char arena[256];
    cr_assert_eq(mi__cu_regions_add(&r, arena, sizeof arena, "activations arena"), MI_OK);
    void *ins[2], *outs[1];
    mi_node_args a = {b.g, 0, mi_graph_node(b.g, 0), ins, outs, NULL, NULL, 0};
    ins[0] = arena;
    outs[0] = arena;
    cr_assert_eq(mi__cu_check_args(&r, &a), MI_OK, "Relu in place: %s", mi_last_error());
    outs[0] = arena + 8;
    cr_assert_eq(mi__cu_check_args(&r, &a), MI_ERR_PLAN_INVALID, "partial overlap");
    outs[0] = arena + 244;
    cr_assert_eq(mi__cu_check_args(&r, &a), MI_ERR_INTERNAL, "past the end");
    cr_assert(strstr(mi_last_error(), "activations arena"), "%s", mi_last_error());
    outs[0] = arena + 18;
    cr_assert_eq(mi__cu_check_args(&r, &a), MI_ERR_UNSUPPORTED, "misaligned");
    cr_assert(strstr(mi_last_error(), "'t'"), "%s", mi_last_error());
    outs[0] = (void *)(uintptr_t)0x1000; /* the caller's memory: not ours to check */
    cr_assert_eq(mi__cu_check_args(&r, &a), MI_OK);
    /* MatMul may not run in place */
    mi_node_args m = {b.g, 1, mi_graph_node(b.g, 1), ins, outs, NULL, NULL, 0};
    ins[0] = arena;
    ins[1] = arena + 16;
    outs[0] = arena;
    cr_assert_eq(mi__cu_check_args(&r, &m), MI_ERR_PLAN_INVALID);
    cr_assert(strstr(mi_last_error(), "MatMul"), "%s", mi_last_error());
    mi__cu_regions_free(&r);
    gb_free(&b);
}

/* ---- the capture order and NVTX ranges ------------------------------------------------------ */

Test(cuda_lib, capture_order_skips_elided_nodes) {
    size_t order[5];
    const unsigned char elided[5] = {0, 1, 0, 1, 0};
    cr_assert_eq(mi__cu_capture_order(5, elided, order), 3);
    cr_assert_eq(order[0], 0);
    cr_assert_eq(order[1], 2);
    cr_assert_eq(order[2], 4);
    cr_assert_eq(mi__cu_capture_order(5, NULL, order), 5);
}

Test(cuda_lib, capture_order_follows_the_plan) {
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(2, 6));
    gb_ints(&b, "shape", 2, D(3, 4));
    gb_node(&b, "Sigmoid", "s1", "x", "a", NOATTR);
    gb_node(&b, "Reshape", "view", "a,shape", "v", NOATTR);
    gb_node(&b, "Relu", "r1", "v", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    mi_planner *pl;
    mi_memory_plan *plan;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    cr_assert_eq(mi_planner_plan(pl, b.g, NULL, &plan), MI_OK, "%s", mi_last_error());
    size_t nn = mi_graph_node_count(b.g), order[8];
    unsigned char elided[8];
    for (size_t k = 0; k < nn; k++) elided[k] = (unsigned char)mi_memory_plan_node_elided(plan, k);
    size_t count = mi__cu_capture_order(nn, elided, order);
    cr_assert_eq(count, 2, "the Reshape is a view");
    cr_assert_eq(mi_graph_node(b.g, order[0])->op, MI_OP_SIGMOID);
    cr_assert_eq(mi_graph_node(b.g, order[1])->op, MI_OP_RELU);
    mi_memory_plan_destroy(plan);
    mi_planner_destroy(pl);
    gb_free(&b);
}

typedef int (*count_fn)(void);
typedef const char *(*event_fn)(int);
typedef int (*depth_fn)(int *);

Test(cuda_lib, nvtx_ranges_through_the_injection_hook) {
    /* NVTX reads the variable at its first call in this (forked) process. */
    cr_assert_eq(setenv("NVTX_INJECTION64_PATH", MI_NVTX_RECORDER, 1), 0);
    gb b;
    gb_init(&b, 13);
    gb_input(&b, "x", MI_DTYPE_FLOAT, 2, D(2, 6));
    gb_node(&b, "Sigmoid", "s1", "x", "a", NOATTR);
    gb_node(&b, "Relu", "r1", "a", "c", NOATTR);
    gb_node(&b, "HardSwish", "hs", "c", "y", NOATTR);
    gb_output(&b, "y");
    gb_ok(&b);
    const unsigned char elided[3] = {0, 1, 0};
    size_t nodes = 0;
    cr_assert_eq(mi__cu_range_dry_run(b.g, elided, MI__CU_RUN_EAGER, &nodes), MI_OK);
    cr_assert_eq(nodes, 2);
    cr_assert_eq(mi__cu_range_dry_run(b.g, elided, MI__CU_RUN_REPLAY, &nodes), MI_OK);
    cr_assert_eq(nodes, 0, "a replay has no node ranges");
    void *h = dlopen(MI_NVTX_RECORDER, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(h, "NVTX did not load the injection library: %s", dlerror());
    count_fn count;
    event_fn event;
    depth_fn depth;
    *(void **)&count = dlsym(h, "mi_nvtx_recorder_count");
    *(void **)&event = dlsym(h, "mi_nvtx_recorder_event");
    *(void **)&depth = dlsym(h, "mi_nvtx_recorder_depth");
    cr_assert(count && event && depth);
    const char *want[] = {"push mi:run", "push Sigmoid:s1", "pop", "push HardSwish:hs", "pop", "pop",
                          "push mi:replay", "pop"};
    cr_assert_eq(count(), 8, "%d events", count());
    for (int i = 0; i < 8; i++) cr_assert_str_eq(event(i), want[i], "event %d", i);
    int deepest = 0;
    cr_assert_eq(depth(&deepest), 0, "balanced");
    cr_assert_eq(deepest, 2, "node ranges nest inside the run range");
    char name[32];
    mi__cu_range_node_name(mi_graph_node(b.g, 0), name, sizeof name);
    cr_assert_str_eq(name, "Sigmoid:s1");
    mi__cu_range_run_name(b.g, MI__CU_RUN_CAPTURE, name, sizeof name);
    cr_assert_str_eq(name, "mi:capture");
    gb_free(&b);
}

/* ---- the library itself -------------------------------------------------------------------- */

Test(cuda_lib, backend_library_loads_alone_and_reports_the_device) {
    /* It needs nothing of the program: the core reaches it as a table. */
    void *h = dlopen(MI_CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    cr_assert_not_null(h, "%s: %s", MI_CUDA_LIBRARY, dlerror());
    cr_assert_not_null(dlsym(h, MI__PLUGIN_CREATE_SYMBOL));
    const uint32_t *abi = dlsym(h, MI__PLUGIN_ABI_SYMBOL);
    cr_assert_not_null(abi);
    cr_assert_eq(*abi, MI__PLUGIN_ABI);
    cr_assert_null(dlsym(h, "mi__cu_conv_pick"), "only the entry point is exported");
    cr_assert_null(dlsym(h, "mi__malloc"), "its forwarders stay inside it");
    cr_assert_eq(setenv("MI_CUDA_BACKEND", MI_CUDA_LIBRARY, 1), 0);
    mi_backend *b = NULL;
    mi_status st = mi_backend_open("cuda", NULL, &b);
    if (st == MI_OK) { /* a GPU machine */
        mi_cuda_device_info info;
        cr_assert_eq(mi_cuda_device_info_get(b, &info), MI_OK, "%s", mi_last_error());
        cr_assert_eq(b->ops->host_memory, 0);
        mi_backend_close(b);
        return;
    }
    /* Without a GPU (or driver): a clear MI_ERR_NO_DEVICE naming the device
     * and CUDA's reason, and nothing half-made. */
    cr_assert_eq(st, MI_ERR_NO_DEVICE, "%s: %s", mi_status_name(st), mi_last_error());
    cr_assert_null(b);
    cr_assert(strstr(mi_last_error(), "cuda:0"), "%s", mi_last_error());
    cr_assert(strstr(mi_last_error(), "cuda") && strlen(mi_last_error()) > 40, "%s", mi_last_error());
    st = mi_backend_open("cuda:3", NULL, &b);
    cr_assert_eq(st, MI_ERR_NO_DEVICE);
    cr_assert(strstr(mi_last_error(), "cuda:3"), "%s", mi_last_error());
}

Test(cuda_lib, cuda_requests_on_another_backend_are_unsupported) {
    mi_backend *b = NULL;
    cr_assert_eq(mi_backend_open("cpu", NULL, &b), MI_OK);
    mi_cuda_device_info info;
    cr_assert_eq(mi_backend_control(b, MI_CUDA_REQ_DEVICE_INFO, &info), MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "'cpu'") != NULL, "%s", mi_last_error());
    mi_backend_close(b);
}
