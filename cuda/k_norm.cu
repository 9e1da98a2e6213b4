// BatchNormalization in inference form (in place, or where cuDNN's shape
// rules do not fit) with elementwise.h's formula, and LRN where cuDNN's
// limits do not fit, with index_math.h's window.
#include "k_common.cuh"

namespace {

// x, y and the parameters in one dtype DT (float, float16 or bfloat16).
template <int DT>
__global__ void batch_norm_kernel(const void *x, void *y, const void *scale, const void *bias, const void *mean,
                                  const void *var, float eps, int64_t n, int64_t channels, int64_t inner) {
    MI__K_FOR(i, n) {
        int64_t c = (i / inner) % channels;
        float invstd = mi_k_bn_invstd(mi_k_ldf(DT, var, c), eps);
        mi_k_stf(DT, y, i, mi_k_batch_norm(mi_k_ldf(DT, x, i), mi_k_ldf(DT, mean, c), invstd,
                                           mi_k_ldf(DT, scale, c), mi_k_ldf(DT, bias, c)));
    }
}

template <int DT>
__global__ void lrn_kernel(const void *x, void *y, int64_t n, int64_t channels, int64_t inner, int64_t size,
                           float alpha, float beta, float bias) {
    MI__K_FOR(o, n) mi_k_stf(DT, y, o, mi__k_lrn_at(DT, x, channels, inner, o, size, alpha, beta, bias));
}

}  // namespace

extern "C" cudaError_t mi__k_launch_batch_norm(int dt, const void *x, void *y, const void *scale, const void *bias,
                                               const void *mean, const void *var, float epsilon, int64_t n,
                                               int64_t channels, int64_t inner, cudaStream_t s) {
    if (channels < 1 || inner < 1) return cudaErrorInvalidValue;
    MI__K_LAUNCH_FLOAT(dt, batch_norm_kernel, n, s, x, y, scale, bias, mean, var, epsilon, n, channels, inner);
}

extern "C" cudaError_t mi__k_launch_lrn(int dt, const void *x, void *y, int64_t n, int64_t channels, int64_t inner,
                                        int64_t size, float alpha, float beta, float bias, cudaStream_t s) {
    if (channels < 1 || inner < 1 || size < 1) return cudaErrorInvalidValue;
    MI__K_LAUNCH_FLOAT(dt, lrn_kernel, n, s, x, y, n, channels, inner, size, alpha, beta, bias);
}

extern "C" cudaError_t mi__k_norm_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(batch_norm_kernel<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(batch_norm_kernel<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(batch_norm_kernel<MI_K_DT_BFLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(lrn_kernel<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(lrn_kernel<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(lrn_kernel<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
