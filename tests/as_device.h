/* The CPU backend dressed as a device (header-only, for the tests and the
 * ONNX fuzz target): the engine then treats its memory as out of the
 * host's reach (no poison, no host copy of the weights once uploaded),
 * as with CUDA, while the kernels still run on the host. ops must outlive
 * the returned backend; host stays owned (and closed) by the caller. */
#ifndef MI_TESTS_AS_DEVICE_H
#define MI_TESTS_AS_DEVICE_H

#include "mini_infer/backend.h"

static inline mi_backend mi_test_as_device(mi_backend *host, mi_backend_ops *ops) {
    *ops = *host->ops;
    ops->host_memory = 0;
    ops->destroy = NULL;
    return (mi_backend){ops, host->state, host->options};
}

#endif
