/* A model zoo test set (scripts/make_models.py: DIR/test_data_set_0/
 * input_<k>.pb, one per graph input, and output_0.pb), read for a loaded
 * model: shared by the CPU and CUDA model tests. */
#ifndef MI_TEST_MODEL_DATA_H
#define MI_TEST_MODEL_DATA_H

#include <criterion/criterion.h>
#include <stdio.h>

#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"

#define MODEL_DATA_MAX_INPUTS 4

typedef struct model_data {
    size_t ninputs;
    mi_tensor_data in[MODEL_DATA_MAX_INPUTS], want;
    const void *ins[MODEL_DATA_MAX_INPUTS];
} model_data;

/* Every input of m (sizes checked) and the reference output. */
static inline void model_data_read(const char *dir, const mi_model *m, model_data *d) {
    char path[1024];
    d->ninputs = mi_model_input_count(m);
    cr_assert_leq(d->ninputs, MODEL_DATA_MAX_INPUTS);
    for (size_t k = 0; k < d->ninputs; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%zu.pb", dir, k);
        cr_assert_eq(mi_tensor_file_read(path, &d->in[k]), MI_OK, "%s", mi_last_error());
        cr_assert_eq(d->in[k].nbytes, mi_model_input(m, k)->nbytes, "%s: input %zu size", dir, k);
        d->ins[k] = d->in[k].data;
    }
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    cr_assert_eq(mi_tensor_file_read(path, &d->want), MI_OK, "%s", mi_last_error());
    cr_assert_eq(d->want.nbytes, mi_model_output(m, 0)->nbytes, "%s: output size", dir);
}

static inline void model_data_free(model_data *d) {
    for (size_t k = 0; k < d->ninputs; k++) mi_tensor_data_free(&d->in[k]);
    mi_tensor_data_free(&d->want);
}

#endif
