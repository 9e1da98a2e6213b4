/* The launchers of our own kernels (one .cu file per op family). Each
 * enqueues on the given stream and returns cudaGetLastError() after the
 * launch: launch errors only; faults inside a kernel show at the next
 * synchronisation. The per-element work comes from src/kernels/
 * elementwise.h (shared with the CPU backend) and index_math.h (shared
 * with the host tests). C and C++ include this. */
#ifndef MI_CUDA_KERNELS_H
#define MI_CUDA_KERNELS_H

#include "index_math.h"
#include "kernels/math.h"

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* cudaSuccess when this library has code for the current device (the
 * error cudaErrorNoKernelImageForDevice otherwise). */
cudaError_t mi__k_probe(void);

/* Raise *bytes to the most local memory per thread (stack frame and
 * spills, cudaFuncGetAttributes' localSizeBytes) that a kernel of the
 * family needs on the current device: what the context's stack limit
 * must hold for our kernels. */
cudaError_t mi__k_activation_local_bytes(size_t *bytes);
cudaError_t mi__k_binary_local_bytes(size_t *bytes);
cudaError_t mi__k_cast_local_bytes(size_t *bytes);
cudaError_t mi__k_copy_local_bytes(size_t *bytes);
cudaError_t mi__k_norm_local_bytes(size_t *bytes);
cudaError_t mi__k_pool_local_bytes(size_t *bytes);
cudaError_t mi__k_reduce_local_bytes(size_t *bytes);
cudaError_t mi__k_math_local_bytes(size_t *bytes);

/* ---- k_activation.cu ---------------------------------------------------------------- */

enum { MI__K_OP_RELU = 0, MI__K_OP_CLIP = 1, MI__K_OP_SIGMOID = 2, MI__K_OP_HARD_SIGMOID = 3, MI__K_OP_HARD_SWISH = 4 };

/* y = op(x) over n elements (y may be x). float: all ops, a/b = clip
 * min/max or hard sigmoid alpha/beta; double: Relu, Clip (a, b); int32 /
 * int64: Relu, Clip with the saturated bounds ia, ib; float16 and bfloat16
 * as float, computed in fp32. */
cudaError_t mi__k_launch_unary(int op, int dtype, const void *x, void *y, int64_t n, double a, double b,
                               int64_t ia, int64_t ib, cudaStream_t s);

/* y = act(y + bias[c] + residual) over y [N, C, inner] (channels last:
 * inner 1, c innermost), all of dtype dt (float, float16, bfloat16);
 * bias and residual may be NULL; residual must not be y. */
cudaError_t mi__k_launch_epilogue(int dt, void *y, const void *bias, const void *residual, int64_t n,
                                  int64_t channels, int64_t inner, int act, float lo, float hi,
                                  cudaStream_t s);

/* ---- k_binary.cu ----------------------------------------------------------------------- */

enum { MI__K_OP_ADD = 0, MI__K_OP_SUB = 1, MI__K_OP_MUL = 2, MI__K_OP_DIV = 3 };

/* y[i] = a[bcast 0 offset] op b[bcast 1 offset] over n output elements;
 * float, double, int32, int64, float16, bfloat16 (in fp32). y may be a
 * or b when it has their shape. */
cudaError_t mi__k_launch_binary(int op, int dtype, const void *a, const void *b, void *y, int64_t n,
                                mi_k_bcast bc, cudaStream_t s);

/* ---- k_copy.cu --------------------------------------------------------------------------- */

cudaError_t mi__k_launch_copy(const void *src, void *dst, mi__k_copy c, cudaStream_t s);
cudaError_t mi__k_launch_pad(const void *src, void *dst, mi__k_pad p, cudaStream_t s);
cudaError_t mi__k_launch_gather(const void *data, const void *indices, void *dst, mi__k_gather g,
                                cudaStream_t s);
/* Writes n host bytes to dst through kernel parameters (no staging
 * buffer, no pageable copy: safe inside a CUDA Graph capture). */
cudaError_t mi__k_launch_fill(void *dst, const void *bytes, size_t n, cudaStream_t s);
/* Trilu over n elements of [.., rows, cols] (esize bytes each); dst may be src. */
cudaError_t mi__k_launch_trilu(const void *src, void *dst, int esize, int64_t rows, int64_t cols, int64_t k,
                               int upper, int64_t n, cudaStream_t s);
/* n elements of value (esize bytes, little-endian in the low bytes). */
cudaError_t mi__k_launch_splat(void *dst, uint64_t value, int esize, int64_t n, cudaStream_t s);

/* ---- k_cast.cu ------------------------------------------------------------------------------ */

cudaError_t mi__k_launch_cast(int from, int to, const void *x, void *y, int64_t n, cudaStream_t s);

/* ---- k_math.cu --------------------------------------------------------------------------------- */

/* y[i] = kernels/math.h's op over w.nops broadcast operands x[k] of dtypes
 * xt[k] (Where: x[0] the bool condition), for i in [0, n). y may be an
 * operand of its own shape (each element read before it is written). */
cudaError_t mi__k_launch_math(int op, mi_k_nwalk w, const void *const *x, const int *xt, void *y, int yt, int64_t n,
                              cudaStream_t s);
/* ScatterND without reduction: n update elements (slice per index tuple of
 * k values, dtype it) into out (dtype dt, rank r, dims), which holds a copy
 * of the data already; out-of-range tuples are skipped. */
cudaError_t mi__k_launch_scatter_nd(void *out, const void *indices, int it, const void *updates, int dt,
                                    int64_t slice, int k, int r, const int64_t *dims, int64_t n, cudaStream_t s);
/* LayerNormalization over rows of `inner` elements of dtype dt (float,
 * float16, bfloat16); bias, mean_out and inv_out may be NULL. */
cudaError_t mi__k_launch_layer_norm(int dt, const void *x, const void *scale, const void *bias, void *y,
                                    float *mean_out, float *inv_out, int64_t rows, int64_t inner, float eps,
                                    cudaStream_t s);

/* ---- k_reduce.cu ----------------------------------------------------------------------------- */

/* ReduceMean (mode MI__K_REDUCE_MEAN), ReduceSum, ReduceMax and
 * GlobalAveragePool: one warp per output element, in fp32; x and y of
 * dtype dt (float, float16, bfloat16). */
enum { MI__K_REDUCE_MEAN = 0, MI__K_REDUCE_SUM = 1, MI__K_REDUCE_MAX = 2 };
cudaError_t mi__k_launch_reduce(int dt, int mode, const void *x, void *y, mi__k_reduce r, cudaStream_t s);

/* ---- k_pool.cu -------------------------------------------------------------------------------- */

cudaError_t mi__k_launch_pool(int dt, const void *x, void *y, mi__k_pool p, cudaStream_t s);

/* ---- k_norm.cu ---------------------------------------------------------------------------------- */

/* BatchNormalization (inference) over x [N, C, inner]; y may be x. x, y
 * and the parameters of dtype dt (float, float16, bfloat16). */
cudaError_t mi__k_launch_batch_norm(int dt, const void *x, void *y, const void *scale, const void *bias,
                                    const void *mean, const void *var, float epsilon, int64_t n,
                                    int64_t channels, int64_t inner, cudaStream_t s);
/* LRN across channels over x [N, C, inner]; y must not be x. */
cudaError_t mi__k_launch_lrn(int dt, const void *x, void *y, int64_t n, int64_t channels, int64_t inner,
                             int64_t size, float alpha, float beta, float bias, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
