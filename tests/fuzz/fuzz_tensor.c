/* Fuzz target: bytes -> TensorProto (.pb) reader. */
#include "mini_infer/tensor_io.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mi_tensor_data t;
    if (mi_tensor_memory_read(data, size, &t) == MI_OK) mi_tensor_data_free(&t);
    return 0;
}
