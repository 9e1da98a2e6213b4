/* Fuzz target: bytes -> ONNX loader -> shapes -> plan, and for a small
 * model the engine too: build it on the CPU backend and run it on inputs
 * made of the same bytes (indices out of range, NaNs, any shape the loader
 * accepts), once as it is and once dressed as a device (weights dropped
 * from host memory), with the same outputs. Any input must give a status,
 * never a crash, a hang or a leak. */
#include "../as_device.h"
#include "fuzz_io.h"
#include "mini_infer/memplan.h"
#include "mini_infer/runtime.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Runs only models whose pools all fit in this: the kernels' work grows
 * with the tensors, and libFuzzer counts a run over 10 s as a hang. */
#define RUN_LIMIT ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Builds and runs the model on device (NULL: the CPU backend); on success
 * *out holds the outputs one after another (*len bytes). */
static int run_model(const uint8_t *data, size_t size, mi_backend *device, unsigned char **out, size_t *len) {
    *out = NULL;
    *len = 0;
    mi_graph *g = NULL;
    if (mi_graph_load_memory(data, size, "fuzz.onnx", NULL, &g) != MI_OK) return 0;
    mi_model_options o;
    mi_model_options_init(&o);
    o.plan.solve.strategy = MI_STRATEGY_GREEDY_SIZE;
    o.backend_instance = device;
    mi_model *m = NULL;
    if (mi_model_create(g, &o, &m) != MI_OK) return 0; /* the model took g */
    mi_context *c = NULL;
    fuzz_io io = {0};
    int ok = fuzz_io_make(m, data, size, 7, &io) && mi_context_create(m, NULL, 0, &c) == MI_OK &&
             mi_context_run(c, io.ins, io.outs) == MI_OK;
    mi_context_destroy(c);
    mi_model_destroy(m);
    if (!ok) {
        fuzz_io_free(&io);
        return 0;
    }
    *out = fuzz_io_take(&io, len);
    return 1;
}

/* The CPU backend dressed as a device: the model then drops its host copy
 * of the weights, so the run also checks that nothing read while running
 * went with them. Its outputs must match the plain CPU run byte for byte. */
static void run_both(const uint8_t *data, size_t size) {
    static mi_backend *host;
    static mi_backend_ops ops;
    static mi_backend dev;
    if (!host) {
        if (mi_backend_cpu_create(NULL, &host) != MI_OK) return;
        dev = mi_test_as_device(host, &ops);
    }
    unsigned char *a, *b;
    size_t la, lb;
    int ra = run_model(data, size, NULL, &a, &la), rb = run_model(data, size, &dev, &b, &lb);
    if (ra && rb && (la != lb || memcmp(a, b, la) != 0)) abort(); /* a finding, not bad input */
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mi_graph *g = NULL;
    if (mi_graph_load_memory(data, size, "fuzz.onnx", NULL, &g) != MI_OK) return 0;
    mi_planner *pl = NULL;
    size_t total = SIZE_MAX;
    if (mi_planner_create(&pl) == MI_OK) {
        /* greedy-size: the exact search's time limit would make runs slow */
        mi_planner_set_strategy(pl, MI_STRATEGY_GREEDY_SIZE);
        mi_memory_plan *p = NULL;
        if (mi_planner_plan(pl, g, NULL, &p) == MI_OK) {
            size_t w = mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), a = mi_memory_plan_pool_size(p, MI_POOL_ARENA),
                   io = mi_memory_plan_pool_size(p, MI_POOL_IO);
            if (w <= RUN_LIMIT && a <= RUN_LIMIT && io <= RUN_LIMIT) total = w + a + io;
            mi_memory_plan_destroy(p);
        }
        mi_planner_destroy(pl);
    }
    mi_graph_destroy(g);
    if (total <= RUN_LIMIT) run_both(data, size);
    return 0;
}
