// ReduceMean and GlobalAveragePool: one warp per output element sums its
// reduced elements (mi__k_reduce from index_math.h: kept dims, then
// reduced dims, merged on the host) and divides by their count.
#include "k_common.cuh"

namespace {

template <int DT>
__global__ void reduce_mean_kernel(const void *x, void *y, mi__k_reduce r) {
    const int lane = threadIdx.x & 31;
    const int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int64_t warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t o = warp; o < r.nout; o += warps) {
        const int64_t base = mi__k_reduce_base(&r, o);
        float sum = 0.0f;
        for (int64_t i = lane; i < r.count; i += 32) sum += mi_k_ldf(DT, x, base + mi__k_reduce_at(&r, i));
        for (int d = 16; d > 0; d >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, d);
        if (lane == 0) mi_k_stf(DT, y, o, sum / (float)r.count);
    }
}

}  // namespace

extern "C" cudaError_t mi__k_launch_reduce_mean(int dt, const void *x, void *y, mi__k_reduce r, cudaStream_t s) {
    if (r.nout <= 0 || r.count <= 0) return cudaSuccess;
    int64_t threads = r.nout * 32; /* one warp per output element */
    MI__K_LAUNCH_FLOAT(dt, reduce_mean_kernel, threads, s, x, y, r);
}

extern "C" cudaError_t mi__k_reduce_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(reduce_mean_kernel<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(reduce_mean_kernel<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(reduce_mean_kernel<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
