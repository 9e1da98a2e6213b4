// MaxPool / AveragePool where cuDNN cannot give ONNX's result (dilation,
// asymmetric pads, ceil_mode): one thread per output element with
// mi__k_pool_at (index_math.h, tested on the host).
#include "k_common.cuh"

namespace {

__global__ void pool_kernel(const float *x, float *y, mi__k_pool p) {
    MI__K_FOR(o, p.count) y[o] = mi__k_pool_at(&p, x, o);
}

}  // namespace

extern "C" cudaError_t mi__k_launch_pool(const float *x, float *y, mi__k_pool p, cudaStream_t s) {
    MI__K_LAUNCH(pool_kernel, p.count, s, x, y, p);
}
