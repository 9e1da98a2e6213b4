/* cuBLASLt, wrapped: a fused linear layer (a MatMul with a bias input and
 * maybe an activation, graph.h) as one GEMM whose epilogue adds the bias
 * and applies ReLU or GELU (host_plan.c's mi__cu_linear says which).
 *
 * Prepare: the matrix layouts, and the heuristic's best algorithm within
 * the node's workspace budget, chosen once. Run: the operation descriptor
 * carries the bias pointer, which is only known at run time (the weights
 * pool's base plus the bias's offset), so each run describes its own
 * operation, a host-side structure, and keeps the prepared layouts and
 * algorithm shared by every context without a lock. cuBLASLt allocates
 * nothing: its workspace is the node's planned part of the arena, so a
 * run may also be captured into a CUDA Graph. Every status is checked. */
#include "cuda_internal.h"

struct mi__cu_lt {
    cublasLtMatrixLayout_t a, b, d; /* cuBLAS's first operand (our B), second (our A), C = D */
    cublasLtMatmulAlgo_t algo;
    size_t ws;                      /* what the algorithm needs */
    cublasComputeType_t compute;
    cublasOperation_t trans_a, trans_b;
    cublasLtEpilogue_t epilogue;
};

static mi_status lt_check(cublasStatus_t s, const mi_node *n, const char *call) {
    if (s == CUBLAS_STATUS_SUCCESS) return MI_OK;
    return mi__cu_node_error(n, mi__cu_blas_status(s), "%s failed: %s: %s", call, cublasLtGetStatusName(s),
                             cublasLtGetStatusString(s));
}
#define LT(call, node) lt_check((call), (node), #call)

mi_status mi__cu_lt_create(cublasLtHandle_t *h) {
    *h = NULL;
    mi_status st = LT(cublasLtCreate(h), NULL);
    if (st) *h = NULL;
    return st;
}

void mi__cu_lt_destroy(cublasLtHandle_t h) {
    if (h) (void)cublasLtDestroy(h);
}

void mi__cu_lt_free(mi__cu_lt *p) {
    if (!p) return;
    if (p->a) cublasLtMatrixLayoutDestroy(p->a);
    if (p->b) cublasLtMatrixLayoutDestroy(p->b);
    if (p->d) cublasLtMatrixLayoutDestroy(p->d);
    mi__free(p);
}

static cudaDataType_t data_type(mi_dtype t) {
    return t == MI_DTYPE_FLOAT16 ? CUDA_R_16F : t == MI_DTYPE_BFLOAT16 ? CUDA_R_16BF : CUDA_R_32F;
}

static cublasLtEpilogue_t epilogue(mi__cu_epi e) {
    switch (e) {
    case MI__CU_EPI_RELU_BIAS: return CUBLASLT_EPILOGUE_RELU_BIAS;
    case MI__CU_EPI_GELU_BIAS: return CUBLASLT_EPILOGUE_GELU_BIAS;
    default: return CUBLASLT_EPILOGUE_BIAS;
    }
}

/* The operation as described for this call; bias NULL at prepare time. */
static mi_status describe(const mi__cu_lt *p, const mi_node *n, const void *bias, cublasLtMatmulDesc_t *out) {
    cublasLtMatmulDesc_t d = NULL;
    mi_status st = LT(cublasLtMatmulDescCreate(&d, p->compute, CUDA_R_32F), n);
    if (!st) st = LT(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSA, &p->trans_a, sizeof p->trans_a), n);
    if (!st) st = LT(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_TRANSB, &p->trans_b, sizeof p->trans_b), n);
    if (!st)
        st = LT(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_EPILOGUE, &p->epilogue, sizeof p->epilogue), n);
    if (!st) st = LT(cublasLtMatmulDescSetAttribute(d, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias), n);
    if (st && d) {
        cublasLtMatmulDescDestroy(d);
        d = NULL;
    }
    *out = d;
    return st;
}

mi_status mi__cu_lt_prepare(cublasLtHandle_t h, const mi_node *n, const mi__cu_blas *b, const mi__cu_linear *l, int tf32,
                            size_t ws_budget, mi__cu_lt **out) {
    *out = NULL;
    if (l->epi == MI__CU_EPI_NONE || b->batch != 1)
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "not a fused linear layer of one GEMM");
    mi__cu_lt *p = mi__calloc(1, sizeof *p);
    if (!p) return mi__error(MI_ERR_NO_MEMORY, "node '%s': cuBLASLt plan", n->name);
    cudaDataType_t t = data_type(b->dtype);
    p->compute = b->dtype == MI_DTYPE_FLOAT && tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    p->trans_a = b->trans_first ? CUBLAS_OP_T : CUBLAS_OP_N;
    p->trans_b = b->trans_second ? CUBLAS_OP_T : CUBLAS_OP_N;
    p->epilogue = epilogue(l->epi);
    /* Column-major, as cuBLAS sees the row-major product (host_plan.h). */
    uint64_t ar = (uint64_t)(b->trans_first ? b->k : b->m), ac = (uint64_t)(b->trans_first ? b->m : b->k);
    uint64_t br = (uint64_t)(b->trans_second ? b->n : b->k), bc = (uint64_t)(b->trans_second ? b->k : b->n);
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    mi_status st = LT(cublasLtMatrixLayoutCreate(&p->a, t, ar, ac, b->ld_first), n);
    if (!st) st = LT(cublasLtMatrixLayoutCreate(&p->b, t, br, bc, b->ld_second), n);
    if (!st) st = LT(cublasLtMatrixLayoutCreate(&p->d, t, (uint64_t)b->m, (uint64_t)b->n, b->ldc), n);
    if (!st) st = describe(p, n, NULL, &desc);
    if (!st) st = LT(cublasLtMatmulPreferenceCreate(&pref), n);
    if (!st)
        st = LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_budget,
                                                     sizeof ws_budget), n);
    cublasLtMatmulHeuristicResult_t r;
    int found = 0;
    if (!st)
        st = LT(cublasLtMatmulAlgoGetHeuristic(h, desc, p->a, p->b, p->d, p->d, pref, 1, &r, &found), n);
    if (!st && (found < 1 || r.state != CUBLAS_STATUS_SUCCESS))
        st = mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "cuBLASLt has no algorithm for this GEMM with its epilogue "
                               "within %zu bytes of workspace", ws_budget);
    if (!st) {
        p->algo = r.algo;
        p->ws = r.workspaceSize;
    }
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (desc) cublasLtMatmulDescDestroy(desc);
    if (st) mi__cu_lt_free(p);
    else *out = p;
    return st;
}

size_t mi__cu_lt_workspace(const mi__cu_lt *p) { return p ? p->ws : 0; }

mi_status mi__cu_lt_run(cublasLtHandle_t h, const mi_node *n, const mi__cu_lt *p, const void *a, const void *bm,
                        const void *bias, void *y, void *ws, size_t ws_size, cudaStream_t s) {
    if (ws_size < p->ws || (p->ws && !ws))
        return mi__cu_node_error(n, MI_ERR_PLAN_INVALID, "cuBLASLt's algorithm needs %zu bytes of workspace, "
                                 "the node has %zu", p->ws, ws_size);
    cublasLtMatmulDesc_t desc = NULL;
    mi_status st = describe(p, n, bias, &desc);
    if (st) return st;
    const float one = 1.0f, zero = 0.0f;
    /* cuBLAS's first operand is our B, its second our A (host_plan.h). */
    st = LT(cublasLtMatmul(h, desc, &one, bm, p->a, a, p->b, &zero, y, p->d, y, p->d,
                           &p->algo, ws, p->ws, s), n);
    cublasLtMatmulDescDestroy(desc);
    return st;
}
