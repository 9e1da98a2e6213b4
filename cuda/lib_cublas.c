/* cuBLAS, wrapped: Gemm and MatMul as column-major GEMMs on row-major
 * data (host_plan.c sets up the transposed call), every status checked.
 *
 * Math: fp32 is cublasSgemm; TF32 off (the default) is CUBLAS_DEFAULT_MATH,
 * which keeps FP32 products in FP32 FMA; the tf32 option allows
 * CUBLAS_TF32_TENSOR_OP_MATH. float16 and bfloat16 are cublasGemmEx with
 * CUBLAS_COMPUTE_32F: tensor cores, fp32 accumulation, alpha and beta in
 * fp32.
 * Memory: the handle's workspace is the node's planned part of the arena,
 * set with cublasSetWorkspace right after every cublasSetStream (setting
 * the stream resets the workspace), so cuBLAS never allocates, also not
 * inside a CUDA Graph capture. */
#include "cuda_internal.h"

#include <limits.h>

mi_status mi__cu_blas_status(cublasStatus_t s) {
    return s == CUBLAS_STATUS_SUCCESS ? MI_OK
         : s == CUBLAS_STATUS_ALLOC_FAILED ? MI_ERR_DEVICE_MEMORY
         : s == CUBLAS_STATUS_NOT_SUPPORTED ? MI_ERR_UNSUPPORTED
         : s == CUBLAS_STATUS_NOT_INITIALIZED || s == CUBLAS_STATUS_ARCH_MISMATCH ? MI_ERR_NO_DEVICE
                                                                               : MI_ERR_BACKEND;
}

static mi_status blas_check(cublasStatus_t s, const mi_node *n, const char *call) {
    if (s == CUBLAS_STATUS_SUCCESS) return MI_OK;
    return mi__cu_node_error(n, mi__cu_blas_status(s), "%s failed: %s: %s", call, cublasGetStatusName(s),
                             cublasGetStatusString(s));
}
#define BLAS(call, node) blas_check((call), (node), #call)

mi_status mi__cu_blas_create(cublasHandle_t *h, int tf32) {
    *h = NULL;
    mi_status st = BLAS(cublasCreate(h), NULL);
    if (!st) st = BLAS(cublasSetMathMode(*h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH), NULL);
    if (!st) st = BLAS(cublasSetPointerMode(*h, CUBLAS_POINTER_MODE_HOST), NULL);
    /* Our workspaces replace cuBLAS's own from the start. */
    if (!st) st = BLAS(cublasSetWorkspace(*h, NULL, 0), NULL);
    if (st && *h) {
        cublasDestroy(*h);
        *h = NULL;
    }
    return st;
}

void mi__cu_blas_destroy(cublasHandle_t h) {
    if (h) (void)cublasDestroy(h);
}

mi_status mi__cu_blas_bind(cublasHandle_t h, cudaStream_t s, void *ws, size_t ws_size, const mi_node *n) {
    mi_status st = BLAS(cublasSetStream(h, s), n);
    if (!st) st = BLAS(cublasSetWorkspace(h, ws, ws ? ws_size : 0), n);
    return st;
}

int mi__cu_blas_version(void) {
    int v = 0;
    if (cublasGetProperty(MAJOR_VERSION, &v) != CUBLAS_STATUS_SUCCESS) return 0;
    int minor = 0, patch = 0;
    cublasGetProperty(MINOR_VERSION, &minor);
    cublasGetProperty(PATCH_LEVEL, &patch);
    return v * 10000 + minor * 100 + patch;
}

static cublasOperation_t op(int t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

static cudaDataType_t half_type(mi_dtype t) { return t == MI_DTYPE_BFLOAT16 ? CUDA_R_16BF : CUDA_R_16F; }

/* float16 / bfloat16: the same calls through the Ex entry points. */
static mi_status blas_run_half(cublasHandle_t h, const mi_node *n, const mi__cu_blas *b, float alpha,
                               const void *a, const void *bm, float beta, void *y) {
    cudaDataType_t t = half_type(b->dtype);
    const char *ca = a, *cb = bm;
    char *cy = y;
    if (b->batch <= 1)
        return BLAS(cublasGemmEx(h, op(b->trans_first), op(b->trans_second), b->m, b->n, b->k, &alpha, bm, t,
                                 b->ld_first, a, t, b->ld_second, &beta, y, t, b->ldc, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT), n);
    if (b->strided) {
        if (b->batch > INT_MAX)
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "%lld batches exceed cuBLAS's int range",
                                     (long long)b->batch);
        return BLAS(cublasGemmStridedBatchedEx(h, op(b->trans_first), op(b->trans_second), b->m, b->n, b->k, &alpha,
                                               bm, t, b->ld_first, b->stride_first, a, t, b->ld_second,
                                               b->stride_second, &beta, y, t, b->ldc, b->stride_c, (int)b->batch,
                                               CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), n);
    }
    for (int64_t i = 0; i < b->batch; i++) {
        int64_t fo, so;
        mi__cu_blas_batch_offsets(b, i, &fo, &so);
        mi_status st = BLAS(cublasGemmEx(h, op(b->trans_first), op(b->trans_second), b->m, b->n, b->k, &alpha,
                                         cb + fo * 2, t, b->ld_first, ca + so * 2, t, b->ld_second, &beta,
                                         cy + i * b->stride_c * 2, t, b->ldc, CUBLAS_COMPUTE_32F,
                                         CUBLAS_GEMM_DEFAULT), n);
        if (st) return st;
    }
    return MI_OK;
}

mi_status mi__cu_blas_run(cublasHandle_t h, const mi_node *n, const mi__cu_blas *b, float alpha,
                          const void *av, const void *bv, float beta, void *yv) {
    if (b->dtype == MI_DTYPE_FLOAT16 || b->dtype == MI_DTYPE_BFLOAT16)
        return blas_run_half(h, n, b, alpha, av, bv, beta, yv);
    const float *a = av, *bm = bv;
    float *y = yv;
    /* cuBLAS's first operand is B, its second A: Y^T = op(B)^T op(A)^T. */
    if (b->batch <= 1)
        return BLAS(cublasSgemm(h, op(b->trans_first), op(b->trans_second), b->m, b->n, b->k, &alpha, bm,
                                b->ld_first, a, b->ld_second, &beta, y, b->ldc), n);
    if (b->strided) {
        if (b->batch > INT_MAX)
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "%lld batches exceed cuBLAS's int range",
                                     (long long)b->batch);
        return BLAS(cublasSgemmStridedBatched(h, op(b->trans_first), op(b->trans_second), b->m, b->n, b->k,
                                              &alpha, bm, b->ld_first, b->stride_first, a, b->ld_second,
                                              b->stride_second, &beta, y, b->ldc, b->stride_c, (int)b->batch),
                    n);
    }
    for (int64_t i = 0; i < b->batch; i++) {
        int64_t fo, so;
        mi__cu_blas_batch_offsets(b, i, &fo, &so);
        mi_status st = BLAS(cublasSgemm(h, op(b->trans_first), op(b->trans_second), b->m, b->n, b->k, &alpha,
                                        bm + fo, b->ld_first, a + so, b->ld_second, &beta, y + i * b->stride_c,
                                        b->ldc), n);
        if (st) return st;
    }
    return MI_OK;
}
