// The transformers' ops: the element math of src/kernels/math.h (one
// element per thread, its broadcast offsets by division, mi_k_nary_elem
// shared with the CPU backend and constant folding, any stored dtype) and
// LayerNormalization (a warp per row, fp32 statistics, any float dtype).
#include "k_common.cuh"

#include "kernels/math.h"

namespace {

__global__ void math_kernel(int op, mi_k_nwalk w, const void *x0, const void *x1, const void *x2, int t0, int t1, int t2,
                            void *y, int yt, int64_t n) {
    const void *x[3] = {x0, x1, x2};
    const int xt[3] = {t0, t1, t2};
    MI__K_FOR(i, n) {
        int64_t off[3];
        mi_k_nwalk_offsets(&w, i, off);
        mi_k_nary_elem(op, x, xt, off, y, yt, i);
    }
}

// One warp per row of `inner` elements: the mean, then the variance about
// it (two passes, as the CPU backend), then the normalized row.
template <int DT>
__global__ void layer_norm_kernel(const void *x, const void *scale, const void *bias, void *y, float *mean_out,
                                  float *inv_out, int64_t rows, int64_t inner, float eps) {
    const int lane = threadIdx.x & 31;
    const int64_t warp = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int64_t warps = ((int64_t)gridDim.x * blockDim.x) >> 5;
    for (int64_t r = warp; r < rows; r += warps) {
        const int64_t base = r * inner;
        float sum = 0.0f;
        for (int64_t i = lane; i < inner; i += 32) sum += mi_k_ldf(DT, x, base + i);
        for (int d = 16; d > 0; d >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, d);
        const float mean = sum / (float)inner;
        float var = 0.0f;
        for (int64_t i = lane; i < inner; i += 32) {
            float v = mi_k_ldf(DT, x, base + i) - mean;
            var += v * v;
        }
        for (int d = 16; d > 0; d >>= 1) var += __shfl_xor_sync(0xffffffffu, var, d);
        const float inv = 1.0f / sqrtf(var / (float)inner + eps);
        if (lane == 0 && mean_out) mean_out[r] = mean;
        if (lane == 0 && inv_out) inv_out[r] = inv;
        for (int64_t i = lane; i < inner; i += 32) {
            float v = (mi_k_ldf(DT, x, base + i) - mean) * inv * mi_k_ldf(DT, scale, i);
            if (bias) v += mi_k_ldf(DT, bias, i);
            mi_k_stf(DT, y, base + i, v);
        }
    }
}

// ScatterND's updates into out (already data's copy): one thread per
// update element; an out-of-range tuple is skipped (a device cannot
// report it: documented).
struct scatter_dims {
    int64_t d[MI_K_MAX_DIMS];
};

__global__ void scatter_kernel(void *out, const void *indices, int it, const void *updates, int dt, int64_t slice,
                               int k, int r, scatter_dims d, int64_t n) {
    MI__K_FOR(e, n) {
        int64_t base = mi_k_scatter_base(indices, it, e / slice, k, r, d.d);
        if (base >= 0) mi_k_scatter_elem(out, updates, dt, base, e, slice, 0);
    }
}

}  // namespace

extern "C" cudaError_t mi__k_launch_scatter_nd(void *out, const void *indices, int it, const void *updates, int dt,
                                               int64_t slice, int k, int r, const int64_t *dims, int64_t n,
                                               cudaStream_t s) {
    scatter_dims d = {};
    for (int j = 0; j < r && j < MI_K_MAX_DIMS; j++) d.d[j] = dims[j];
    MI__K_LAUNCH(scatter_kernel, n, s, out, indices, it, updates, dt, slice, k, r, d, n);
}

extern "C" cudaError_t mi__k_launch_math(int op, mi_k_nwalk w, const void *const *x, const int *xt, void *y, int yt,
                                         int64_t n, cudaStream_t s) {
    MI__K_LAUNCH(math_kernel, n, s, op, w, x[0], w.nops > 1 ? x[1] : nullptr, w.nops > 2 ? x[2] : nullptr, xt[0],
                 w.nops > 1 ? xt[1] : 0, w.nops > 2 ? xt[2] : 0, y, yt, n);
}

extern "C" cudaError_t mi__k_launch_layer_norm(int dt, const void *x, const void *scale, const void *bias, void *y,
                                               float *mean_out, float *inv_out, int64_t rows, int64_t inner, float eps,
                                               cudaStream_t s) {
    if (rows <= 0 || inner <= 0) return cudaSuccess;
    MI__K_LAUNCH_FLOAT(dt, layer_norm_kernel, rows * 32, s, x, scale, bias, y, mean_out, inv_out, rows, inner, eps);
}

extern "C" cudaError_t mi__k_math_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(math_kernel, bytes)) || (e = mi__k_local_bytes(scatter_kernel, bytes)) ||
        (e = mi__k_local_bytes(layer_norm_kernel<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(layer_norm_kernel<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(layer_norm_kernel<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
