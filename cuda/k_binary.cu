// Add, Sub, Mul, Div with numpy broadcasting (mi_k_bcast from
// src/kernels/elementwise.h, merged on the host). Element i of y reads
// a and b at their broadcast offsets; when y is a (or b) it has their
// shape, so offset(i) == i and each thread reads before it writes its own
// element: in place is safe.
#include "k_common.cuh"

namespace {


__device__ inline float apply(int op, float a, float b) {
    switch (op) {
    case MI__K_OP_ADD: return mi_k_add(a, b);
    case MI__K_OP_SUB: return mi_k_sub(a, b);
    case MI__K_OP_MUL: return mi_k_mul(a, b);
    default: return mi_k_div(a, b);
    }
}
__device__ inline double apply(int op, double a, double b) {
    switch (op) {
    case MI__K_OP_ADD: return mi_k_add_f64(a, b);
    case MI__K_OP_SUB: return mi_k_sub_f64(a, b);
    case MI__K_OP_MUL: return mi_k_mul_f64(a, b);
    default: return mi_k_div_f64(a, b);
    }
}
__device__ inline int64_t apply(int op, int64_t a, int64_t b) {
    switch (op) {
    case MI__K_OP_ADD: return mi_k_add_i64(a, b);
    case MI__K_OP_SUB: return mi_k_sub_i64(a, b);
    case MI__K_OP_MUL: return mi_k_mul_i64(a, b);
    default: return mi_k_div_i64(a, b);
    }
}
__device__ inline int32_t apply(int op, int32_t a, int32_t b) {
    switch (op) {
    case MI__K_OP_ADD: return mi_k_add_i32(a, b);
    case MI__K_OP_SUB: return mi_k_sub_i32(a, b);
    case MI__K_OP_MUL: return mi_k_mul_i32(a, b);
    default: return mi_k_div_i32(a, b);
    }
}

template <typename T>
__global__ void binary(int op, const T *a, const T *b, T *y, int64_t n, mi_k_bcast bc) {
    MI__K_FOR(i, n) {
        T va = a[mi_k_bcast_offset(&bc, 0, i)], vb = b[mi_k_bcast_offset(&bc, 1, i)];
        y[i] = apply(op, va, vb);
    }
}

// float16 / bfloat16: computed in fp32 (float's rules), rounded on store.
template <int DT>
__global__ void binary_half(int op, const void *a, const void *b, void *y, int64_t n, mi_k_bcast bc) {
    MI__K_FOR(i, n) {
        float va = mi_k_ldf(DT, a, mi_k_bcast_offset(&bc, 0, i)), vb = mi_k_ldf(DT, b, mi_k_bcast_offset(&bc, 1, i));
        mi_k_stf(DT, y, i, apply(op, va, vb));
    }
}

}  // namespace

extern "C" cudaError_t mi__k_launch_binary(int op, int dtype, const void *a, const void *b, void *y,
                                           int64_t n, mi_k_bcast bc, cudaStream_t s) {
    switch (dtype) {
    case MI_K_DT_FLOAT:
        MI__K_LAUNCH(binary<float>, n, s, op, (const float *)a, (const float *)b, (float *)y, n, bc);
    case MI_K_DT_DOUBLE:
        MI__K_LAUNCH(binary<double>, n, s, op, (const double *)a, (const double *)b, (double *)y, n, bc);
    case MI_K_DT_INT32:
        MI__K_LAUNCH(binary<int32_t>, n, s, op, (const int32_t *)a, (const int32_t *)b, (int32_t *)y, n, bc);
    case MI_K_DT_INT64:
        MI__K_LAUNCH(binary<int64_t>, n, s, op, (const int64_t *)a, (const int64_t *)b, (int64_t *)y, n, bc);
    case MI_K_DT_FLOAT16: MI__K_LAUNCH(binary_half<MI_K_DT_FLOAT16>, n, s, op, a, b, y, n, bc);
    case MI_K_DT_BFLOAT16: MI__K_LAUNCH(binary_half<MI_K_DT_BFLOAT16>, n, s, op, a, b, y, n, bc);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t mi__k_binary_local_bytes(size_t *bytes) {
    cudaError_t e;
    if ((e = mi__k_local_bytes(binary<float>, bytes)) ||
        (e = mi__k_local_bytes(binary<double>, bytes)) ||
        (e = mi__k_local_bytes(binary<int32_t>, bytes)) ||
        (e = mi__k_local_bytes(binary<int64_t>, bytes)) ||
        (e = mi__k_local_bytes(binary_half<MI_K_DT_FLOAT16>, bytes)) ||
        (e = mi__k_local_bytes(binary_half<MI_K_DT_BFLOAT16>, bytes)))
        return e;
    return cudaSuccess;
}
