// MaxPool / AveragePool where cuDNN cannot give ONNX's result (dilation,
// asymmetric pads, ceil_mode): one thread per output element with
// mi__k_pool_at (index_math.h, tested on the host).
#include "k_common.cuh"

namespace {

template <int DT>
__global__ void pool_kernel(const void *x, void *y, mi__k_pool p) {
    MI__K_FOR(o, p.count) mi_k_stf(DT, y, o, mi__k_pool_at(&p, DT, x, o));
}

}  // namespace

extern "C" cudaError_t mi__k_launch_pool(int dt, const void *x, void *y, mi__k_pool p, cudaStream_t s) {
    MI__K_LAUNCH_FLOAT(dt, pool_kernel, p.count, s, x, y, p);
}

extern "C" cudaError_t mi__k_pool_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(pool_kernel<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(pool_kernel<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(pool_kernel<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
