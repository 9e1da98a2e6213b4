// ReduceMean, ReduceSum, ReduceMax and GlobalAveragePool: one warp per output element sums its
// reduced elements (mi__k_reduce from index_math.h: kept dims, then
// reduced dims, merged on the host) and divides by their count.
#include "k_common.cuh"

namespace {

template <int DT>
__global__ void reduce_mean_kernel(const void *x, void *y, mi__k_reduce r, int mode) {
    const int lane = threadIdx.x & 31;
    const int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int64_t warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t o = warp; o < r.nout; o += warps) {
        const int64_t base = mi__k_reduce_base(&r, o);
        float acc = mode == MI__K_REDUCE_MAX ? -INFINITY : 0.0f;
        for (int64_t i = lane; i < r.count; i += 32) {
            float v = mi_k_ldf(DT, x, base + mi__k_reduce_at(&r, i));
            if (mode == MI__K_REDUCE_MAX) acc = (v > acc || v != v) ? v : acc;
            else acc += v;
        }
        for (int d = 16; d > 0; d >>= 1) {
            float other = __shfl_down_sync(0xffffffffu, acc, d);
            if (mode == MI__K_REDUCE_MAX) acc = (other > acc || other != other) ? other : acc;
            else acc += other;
        }
        if (lane == 0) mi_k_stf(DT, y, o, mode == MI__K_REDUCE_MEAN ? acc / (float)r.count : acc);
    }
}

}  // namespace

extern "C" cudaError_t mi__k_launch_reduce(int dt, int mode, const void *x, void *y, mi__k_reduce r, cudaStream_t s) {
    if (r.nout <= 0 || r.count <= 0) return cudaSuccess;
    int64_t threads = r.nout * 32; /* one warp per output element */
    MI__K_LAUNCH_FLOAT(dt, reduce_mean_kernel, threads, s, x, y, r, mode);
}

extern "C" cudaError_t mi__k_reduce_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(reduce_mean_kernel<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(reduce_mean_kernel<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(reduce_mean_kernel<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
