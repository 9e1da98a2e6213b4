/* Fuzz target: bytes -> two ONNX models (the input split where its first
 * two bytes say) loaded on one CPU backend as a set on one shared arena,
 * each run in turn, and the second also as a batch range (sizes 1 and 2,
 * loaded from a memory file); any input must give a status, never a
 * crash, a hang, a leak, or a run on the shared arena that another run
 * could see (each model's outputs equal those of a context of its own). */
#define _GNU_SOURCE
#include "fuzz_io.h"
#include "mini_infer/memplan.h"
#include "mini_infer/runtime.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Only models whose pools fit run (see fuzz_onnx.c). */
#define RUN_LIMIT ((size_t)64 << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int small(const mi_model *m) {
    const mi_memory_plan *p = mi_model_plan(m);
    return mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS) <= RUN_LIMIT && mi_model_arena_size(m) <= RUN_LIMIT &&
           mi_model_io_size(m) <= RUN_LIMIT;
}

/* One run of c on inputs made of the bytes; the outputs back to back into
 * *out (malloc'd), 0 when the run failed. */
static int run(mi_context *c, mi_model *m, int64_t batch, const uint8_t *data, size_t size, unsigned char **out,
               size_t *len) {
    mi_model *at = batch ? mi_model_at_batch(m, batch) : m;
    fuzz_io io = {0};
    *out = NULL;
    *len = 0;
    if (!at || !fuzz_io_make(at, data, size, 5, &io)) return 0;
    if ((batch ? mi_context_run_batch(c, batch, io.ins, io.outs) : mi_context_run(c, io.ins, io.outs)) != MI_OK) {
        fuzz_io_free(&io);
        return 0;
    }
    *out = fuzz_io_take(&io, len);
    return 1;
}

static mi_model *from_memory(const uint8_t *data, size_t size, mi_backend *b) {
    mi_graph *g = NULL;
    if (mi_graph_load_memory(data, size, "fuzz.onnx", NULL, &g) != MI_OK) return NULL;
    mi_model_options o;
    mi_model_options_init(&o);
    o.plan.solve.strategy = MI_STRATEGY_GREEDY_SIZE;
    o.backend_instance = b;
    mi_model *m = NULL;
    if (mi_model_create(g, &o, &m) != MI_OK) return NULL;
    if (!small(m)) {
        mi_model_destroy(m);
        return NULL;
    }
    return m;
}

/* The bytes as a batch range, through a memory file (a range loads by path). */
static mi_model *range_of(const uint8_t *data, size_t size, mi_backend *b) {
    int fd = memfd_create("fuzz_range.onnx", MFD_CLOEXEC);
    if (fd < 0) return NULL;
    mi_model *m = NULL;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (write(fd, data, size) == (ssize_t)size) {
        mi_model_options o;
        mi_model_options_init(&o);
        o.plan.solve.strategy = MI_STRATEGY_GREEDY_SIZE;
        o.backend_instance = b;
        o.nbatches = 2;
        o.batches[0] = 1;
        o.batches[1] = 2;
        if (mi_model_load(path, &o, &m) != MI_OK) m = NULL;
        if (m && !small(m)) {
            mi_model_destroy(m);
            m = NULL;
        }
    }
    close(fd);
    return m;
}

/* Each model of the set on the shared arena gives what a context of its own gives. */
static void same_alone(mi_context *shared, mi_model *m, int64_t batch, const uint8_t *data, size_t size) {
    mi_context *alone = NULL;
    if (mi_context_create(m, NULL, 0, &alone) != MI_OK) return;
    unsigned char *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    int ra = run(shared, m, batch, data, size, &a, &la), rb = run(alone, m, batch, data, size, &b, &lb);
    if (ra && rb && (la != lb || memcmp(a, b, la) != 0)) abort(); /* a finding, not bad input */
    free(a);
    free(b);
    mi_context_destroy(alone);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static mi_backend *cpu;
    if (!cpu && mi_backend_cpu_create(NULL, &cpu) != MI_OK) return 0;
    if (size < 3) return 0;
    size_t cut = 2 + ((size_t)data[0] << 8 | data[1]) % (size - 2);
    const uint8_t *a = data + 2, *b = data + cut;
    size_t na = cut - 2, nb = size - cut;
    mi_model *models[3] = {from_memory(a, na, cpu), from_memory(b, nb, cpu), range_of(b, nb, cpu)};
    mi_model *set[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        if (models[i]) set[n++] = models[i];
    mi_arena *arena = NULL;
    if (n && mi_arena_create(set, n, NULL, 0, &arena) == MI_OK) {
        for (size_t i = 0; i < n; i++) {
            mi_context *c = NULL;
            if (mi_context_create_on(set[i], arena, &c) != MI_OK) continue;
            if (mi_model_batch_count(set[i]) > 1) {
                same_alone(c, set[i], 1, data, size);
                same_alone(c, set[i], 2, data, size);
            } else {
                same_alone(c, set[i], 0, data, size);
            }
            mi_context_destroy(c);
        }
        mi_arena_destroy(arena);
    }
    for (int i = 0; i < 3; i++) mi_model_destroy(models[i]);
    return 0;
}
