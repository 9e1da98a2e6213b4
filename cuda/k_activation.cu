// Activations (Relu, Clip, Sigmoid, HardSigmoid, HardSwish) and the conv
// epilogue, in float, float16 and bfloat16 (computed in fp32). The per-element math is src/kernels/elementwise.h's, shared
// with the CPU backend; each thread reads element i and writes element i,
// so y may be x (the in-place contract).
#include "k_common.cuh"

namespace {

template <int DT>
__global__ void unary_flt(int op, const void *x, void *y, int64_t n, float a, float b) {
    MI__K_FOR(i, n) {
        float v = mi_k_ldf(DT, x, i);
        switch (op) {
        case MI__K_OP_RELU: v = mi_k_relu(v); break;
        case MI__K_OP_CLIP: v = mi_k_clip(v, a, b); break;
        case MI__K_OP_SIGMOID: v = mi_k_sigmoid(v); break;
        case MI__K_OP_HARD_SIGMOID: v = mi_k_hard_sigmoid(v, a, b); break;
        default: v = mi_k_hard_swish(v); break;
        }
        mi_k_stf(DT, y, i, v);
    }
}

// Relu and Clip on double and integers: the same comparisons as the CPU
// backend (a NaN double passes Relu unchanged).
template <typename T>
__global__ void unary_num(int op, const T *x, T *y, int64_t n, T lo, T hi) {
    MI__K_FOR(i, n) {
        T v = x[i];
        if (op == MI__K_OP_RELU) y[i] = v < T(0) ? T(0) : v;
        else y[i] = v < lo ? lo : (v > hi ? hi : v);
    }
}

template <int DT>
__global__ void epilogue(void *y, const void *bias, const void *residual, int64_t n, int64_t channels,
                         int64_t inner, int act, float lo, float hi) {
    MI__K_FOR(i, n) {
        float bv = bias ? mi_k_ldf(DT, bias, (i / inner) % channels) : 0.0f;
        float rv = residual ? mi_k_ldf(DT, residual, i) : 0.0f;
        mi_k_stf(DT, y, i, mi_k_conv_epilogue(mi_k_ldf(DT, y, i), bv, rv, act, lo, hi));
    }
}

}  // namespace

extern "C" cudaError_t mi__k_launch_unary(int op, int dtype, const void *x, void *y, int64_t n, double a,
                                          double b, int64_t ia, int64_t ib, cudaStream_t s) {
    switch (dtype) {
    case MI_K_DT_FLOAT: MI__K_LAUNCH(unary_flt<MI_K_DT_FLOAT>, n, s, op, x, y, n, (float)a, (float)b);
    case MI_K_DT_FLOAT16: MI__K_LAUNCH(unary_flt<MI_K_DT_FLOAT16>, n, s, op, x, y, n, (float)a, (float)b);
    case MI_K_DT_BFLOAT16: MI__K_LAUNCH(unary_flt<MI_K_DT_BFLOAT16>, n, s, op, x, y, n, (float)a, (float)b);
    case MI_K_DT_DOUBLE:
        MI__K_LAUNCH(unary_num<double>, n, s, op, (const double *)x, (double *)y, n, a, b);
    case MI_K_DT_INT32:
        MI__K_LAUNCH(unary_num<int32_t>, n, s, op, (const int32_t *)x, (int32_t *)y, n, (int32_t)ia,
                     (int32_t)ib);
    case MI_K_DT_INT64:
        MI__K_LAUNCH(unary_num<int64_t>, n, s, op, (const int64_t *)x, (int64_t *)y, n, ia, ib);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_launch_epilogue(int dt, void *y, const void *bias, const void *residual, int64_t n,
                                             int64_t channels, int64_t inner, int act, float lo, float hi,
                                             cudaStream_t s) {
    if (channels < 1 || inner < 1) return cudaErrorInvalidValue;
    MI__K_LAUNCH_FLOAT(dt, epilogue, n, s, y, bias, residual, n, channels, inner, act, lo, hi);
}

extern "C" cudaError_t mi__k_activation_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(unary_flt<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(unary_flt<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(unary_flt<MI_K_DT_BFLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(unary_num<double>, bytes)) ||
        (e = mi__k_local_bytes(unary_num<int32_t>, bytes)) ||
        (e = mi__k_local_bytes(unary_num<int64_t>, bytes)) ||
        (e = mi__k_local_bytes(epilogue<MI_K_DT_FLOAT>, bytes)) ||
        (e = mi__k_local_bytes(epilogue<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(epilogue<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
