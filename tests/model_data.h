/* A model zoo test set (scripts/make_models.py: DIR/test_data_set_0/
 * input_<k>.pb, one per graph input, and output_0.pb), read for a loaded
 * model: shared by the CPU and CUDA model tests. */
#ifndef MI_TEST_MODEL_DATA_H
#define MI_TEST_MODEL_DATA_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"

#define MODEL_DATA_MAX_INPUTS 4

typedef struct model_data {
    size_t ninputs;
    mi_tensor_data in[MODEL_DATA_MAX_INPUTS], want;
    void *rep[MODEL_DATA_MAX_INPUTS]; /* batch > 1: the input repeated */
    const void *ins[MODEL_DATA_MAX_INPUTS];
} model_data;

/* Every input of m (sizes checked) and the reference output; with batch
 * > 1, each input is the test set's batch-1 input repeated that often
 * (the reference stays batch 1: every item must give it). */
static inline void model_data_read_batch(const char *dir, const mi_model *m, int64_t batch, model_data *d) {
    char path[1024];
    d->ninputs = mi_model_input_count(m);
    cr_assert_leq(d->ninputs, MODEL_DATA_MAX_INPUTS);
    for (size_t k = 0; k < d->ninputs; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%zu.pb", dir, k);
        cr_assert_eq(mi_tensor_file_read(path, &d->in[k]), MI_OK, "%s", mi_last_error());
        size_t one = d->in[k].nbytes, want = mi_model_input(m, k)->nbytes;
        cr_assert_eq(one * (size_t)batch, want, "%s: input %zu size", dir, k);
        d->rep[k] = NULL;
        d->ins[k] = d->in[k].data;
        if (batch > 1) {
            unsigned char *rep = malloc(want);
            cr_assert(rep);
            for (int64_t b = 0; b < batch; b++) memcpy(rep + (size_t)b * one, d->in[k].data, one);
            d->rep[k] = rep;
            d->ins[k] = rep;
        }
    }
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    cr_assert_eq(mi_tensor_file_read(path, &d->want), MI_OK, "%s", mi_last_error());
    cr_assert_eq(d->want.nbytes * (size_t)batch, mi_model_output(m, 0)->nbytes, "%s: output size", dir);
}

static inline void model_data_read(const char *dir, const mi_model *m, model_data *d) {
    model_data_read_batch(dir, m, 1, d);
}

static inline void model_data_free(model_data *d) {
    for (size_t k = 0; k < d->ninputs; k++) {
        mi_tensor_data_free(&d->in[k]);
        free(d->rep[k]);
    }
    mi_tensor_data_free(&d->want);
}

#endif
