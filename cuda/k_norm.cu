// BatchNormalization in inference form (in place, or where cuDNN's shape
// rules do not fit) with elementwise.h's formula, and LRN where cuDNN's
// limits do not fit, with index_math.h's window.
#include "k_common.cuh"

namespace {

__global__ void batch_norm_kernel(const float *x, float *y, const float *scale, const float *bias,
                                  const float *mean, const float *var, float eps, int64_t n,
                                  int64_t channels, int64_t inner) {
    MI__K_FOR(i, n) {
        int64_t c = (i / inner) % channels;
        float invstd = mi_k_bn_invstd(var[c], eps);
        y[i] = mi_k_batch_norm(x[i], mean[c], invstd, scale[c], bias[c]);
    }
}

__global__ void lrn_kernel(const float *x, float *y, int64_t n, int64_t channels, int64_t inner,
                           int64_t size, float alpha, float beta, float bias) {
    MI__K_FOR(o, n) y[o] = mi__k_lrn_at(x, channels, inner, o, size, alpha, beta, bias);
}

}  // namespace

extern "C" cudaError_t mi__k_launch_batch_norm(const float *x, float *y, const float *scale, const float *bias,
                                               const float *mean, const float *var, float epsilon, int64_t n,
                                               int64_t channels, int64_t inner, cudaStream_t s) {
    if (channels < 1 || inner < 1) return cudaErrorInvalidValue;
    MI__K_LAUNCH(batch_norm_kernel, n, s, x, y, scale, bias, mean, var, epsilon, n, channels, inner);
}

extern "C" cudaError_t mi__k_launch_lrn(const float *x, float *y, int64_t n, int64_t channels, int64_t inner,
                                        int64_t size, float alpha, float beta, float bias, cudaStream_t s) {
    if (channels < 1 || inner < 1 || size < 1) return cudaErrorInvalidValue;
    MI__K_LAUNCH(lrn_kernel, n, s, x, y, n, channels, inner, size, alpha, beta, bias);
}
