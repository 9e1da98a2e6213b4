/* A fuzz target's run of a model: inputs made of the fuzzer's bytes
 * (indices out of range, NaNs: anything), outputs back to back in one
 * buffer to compare runs with. Shared by fuzz_onnx.c and fuzz_set.c. */
#ifndef MI_FUZZ_IO_H
#define MI_FUZZ_IO_H

#include "mini_infer/runtime.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct fuzz_io {
    size_t ni, no, total;
    const void **ins;
    void **outs;
    unsigned char *all; /* the outputs, one after another (total bytes) */
} fuzz_io;

static inline void fuzz_io_free(fuzz_io *io) {
    for (size_t i = 0; io->ins && i < io->ni; i++) free((void *)io->ins[i]);
    free(io->ins);
    free(io->outs);
    free(io->all);
    io->ins = NULL;
    io->outs = NULL;
    io->all = NULL;
}

/* Buffers for m's inputs (byte j of input i: data[(j * stride + i) % size])
 * and outputs; 0 when out of memory (io freed). */
static inline int fuzz_io_make(const mi_model *m, const uint8_t *data, size_t size, size_t stride, fuzz_io *io) {
    io->ni = mi_model_input_count(m);
    io->no = mi_model_output_count(m);
    io->total = 0;
    for (size_t i = 0; i < io->no; i++) io->total += mi_model_output(m, i)->nbytes;
    io->ins = calloc(io->ni ? io->ni : 1, sizeof *io->ins);
    io->outs = calloc(io->no ? io->no : 1, sizeof *io->outs);
    io->all = calloc(io->total + 1, 1);
    int ok = io->ins && io->outs && io->all;
    for (size_t i = 0; ok && i < io->ni; i++) {
        size_t n = mi_model_input(m, i)->nbytes;
        unsigned char *p = malloc(n ? n : 1);
        ok = p != NULL;
        for (size_t j = 0; p && j < n; j++) p[j] = size ? data[(j * stride + i) % size] : 0;
        io->ins[i] = p;
    }
    for (size_t i = 0, at = 0; ok && i < io->no; at += mi_model_output(m, i)->nbytes, i++) io->outs[i] = io->all + at;
    if (!ok) fuzz_io_free(io);
    return ok;
}

/* The outputs, handed over to the caller (*len bytes); the rest freed. */
static inline unsigned char *fuzz_io_take(fuzz_io *io, size_t *len) {
    unsigned char *all = io->all;
    *len = io->total;
    io->all = NULL;
    fuzz_io_free(io);
    return all;
}

#endif
