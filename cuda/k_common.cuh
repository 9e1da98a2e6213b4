/* Launch helpers shared by the .cu files: grid-stride loops over int64
 * element counts with 256-thread blocks. */
#ifndef MI_CUDA_K_COMMON_CUH
#define MI_CUDA_K_COMMON_CUH

#include "kernels.h"

#include <cuda_runtime.h>

#define MI__K_THREADS 256

/* Enough blocks to cover n once, capped: the loops stride over the rest. */
static inline unsigned mi__k_blocks(int64_t n) {
    int64_t b = (n + MI__K_THREADS - 1) / MI__K_THREADS;
    if (b < 1) b = 1;
    if (b > 65536) b = 65536;
    return (unsigned)b;
}

#define MI__K_FOR(i, n)                                                                 \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n);           \
         i += (int64_t)gridDim.x * blockDim.x)

/* Launches kernel<<<blocks(n), 256, 0, s>>>(args...) and returns the
 * launch status; n == 0 launches nothing. A non-sticky error a library
 * left in the last-error slot is cleared first, so it is not blamed on
 * this launch (a sticky one comes back anyway). */
#define MI__K_LAUNCH(kernel, n, s, ...)                                                 \
    do {                                                                                \
        if ((n) <= 0) return cudaSuccess;                                               \
        (void)cudaGetLastError();                                                       \
        kernel<<<mi__k_blocks(n), MI__K_THREADS, 0, (s)>>>(__VA_ARGS__);                \
        return cudaGetLastError();                                                      \
    } while (0)

/* Raises *bytes to kernel f's local memory per thread (its stack frame
 * and spills), as the driver sizes the stack reservation for it. */
template <typename F>
static inline cudaError_t mi__k_local_bytes(F *f, size_t *bytes) {
    cudaFuncAttributes a;
    cudaError_t e = cudaFuncGetAttributes(&a, reinterpret_cast<const void *>(f));
    if (e == cudaSuccess && a.localSizeBytes > *bytes) *bytes = a.localSizeBytes;
    return e;
}
/* MI__K_LAUNCH of kernel<DT> for a float, float16 or bfloat16 dtype (the
 * kernels read and write through mi_k_ldf / mi_k_stf and compute in fp32);
 * any other dtype is cudaErrorInvalidValue. */
#define MI__K_LAUNCH_FLOAT(dt, kernel, n, s, ...)                                       \
    switch (dt) {                                                                       \
    case MI_K_DT_FLOAT: MI__K_LAUNCH(kernel<MI_K_DT_FLOAT>, n, s, __VA_ARGS__);          \
    case MI_K_DT_FLOAT16: MI__K_LAUNCH(kernel<MI_K_DT_FLOAT16>, n, s, __VA_ARGS__);      \
    case MI_K_DT_BFLOAT16: MI__K_LAUNCH(kernel<MI_K_DT_BFLOAT16>, n, s, __VA_ARGS__);    \
    default: return cudaErrorInvalidValue;                                              \
    }

#endif
