/* cuDNN, wrapped: descriptors from host_plan.h's plain structs, the
 * algorithm ranking, and the forward calls. Only the legacy API is used
 * (deprecated in cuDNN 9 but present; this is the one file that would
 * change with it). Every status is checked and reported with cuDNN's name
 * for it and its last-error detail.
 *
 * Memory: nothing here allocates device memory. Algorithms are chosen
 * with cudnnGetConvolutionForwardAlgorithm_v7's heuristic ranking, never
 * the Find calls (which allocate on their own); workspaces are the
 * planned parts of the arena. */
#include "cuda_internal.h"

#include <stdint.h>
#include <stdio.h>

_Static_assert(MI__CU_ALGO_IMPLICIT_GEMM == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM &&
                   MI__CU_ALGO_IMPLICIT_PRECOMP_GEMM == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM &&
                   MI__CU_ALGO_COUNT == CUDNN_CONVOLUTION_FWD_ALGO_COUNT,
               "host_plan.h algorithm numbers follow cuDNN");

struct mi__cu_dnn {
    cudnnTensorDescriptor_t x, y, bias;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnActivationDescriptor_t act;
    cudnnConvolutionFwdAlgo_t algo;
    cudnnPoolingDescriptor_t pool;
    cudnnLRNDescriptor_t lrn;
    cudnnSoftmaxMode_t softmax_mode;
};

mi_status mi__cu_dnn_check(cudnnStatus_t s, const mi_node *n, const char *call) {
    if (s == CUDNN_STATUS_SUCCESS) return MI_OK;
    char detail[512];
    detail[0] = '\0';
    cudnnGetLastErrorString(detail, sizeof detail);
    mi_status st = MI_ERR_BACKEND;
    if (CUDNN_STATUS_CATEGORY(s) == CUDNN_STATUS_NOT_SUPPORTED) st = MI_ERR_UNSUPPORTED;
    if (s == CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED) st = MI_ERR_DEVICE_MEMORY;
    if (s == CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED) st = MI_ERR_NO_MEMORY;
    return mi__cu_node_error(n, st, "%s failed: %s (%d)%s%s", call, cudnnGetErrorString(s), (int)s,
                             detail[0] ? ": " : "", detail);
}
#define DNN(call, node) mi__cu_dnn_check((call), (node), #call)

mi_status mi__cu_dnn_create(cudnnHandle_t *h) {
    *h = NULL;
    return DNN(cudnnCreate(h), NULL);
}

void mi__cu_dnn_destroy(cudnnHandle_t h) {
    if (h) (void)cudnnDestroy(h);
}

mi_status mi__cu_dnn_bind(cudnnHandle_t h, cudaStream_t s) { return DNN(cudnnSetStream(h, s), NULL); }

size_t mi__cu_dnn_version(void) { return cudnnGetVersion(); }

void mi__cu_dnn_free(mi__cu_dnn *d) {
    if (!d) return;
    if (d->x) cudnnDestroyTensorDescriptor(d->x);
    if (d->y) cudnnDestroyTensorDescriptor(d->y);
    if (d->bias) cudnnDestroyTensorDescriptor(d->bias);
    if (d->w) cudnnDestroyFilterDescriptor(d->w);
    if (d->conv) cudnnDestroyConvolutionDescriptor(d->conv);
    if (d->act) cudnnDestroyActivationDescriptor(d->act);
    if (d->pool) cudnnDestroyPoolingDescriptor(d->pool);
    if (d->lrn) cudnnDestroyLRNDescriptor(d->lrn);
    mi__free(d);
}

static mi_status dnn_alloc(const mi_node *n, mi__cu_dnn **out) {
    *out = mi__calloc(1, sizeof **out);
    if (!*out) return mi__cu_node_error(n, MI_ERR_NO_MEMORY, "cuDNN descriptors");
    return MI_OK;
}

/* Our float dtypes as cuDNN's (a zeroed descriptor is float). */
static cudnnDataType_t data_type(int dtype) {
    switch (dtype) {
    case MI_DTYPE_FLOAT16: return CUDNN_DATA_HALF;
    case MI_DTYPE_BFLOAT16: return CUDNN_DATA_BFLOAT16;
    default: return CUDNN_DATA_FLOAT;
    }
}

static mi_status tensor_desc(const mi_node *n, const mi__cu_nd *nd, cudnnTensorDescriptor_t *d) {
    mi_status st = DNN(cudnnCreateTensorDescriptor(d), n);
    if (!st) st = DNN(cudnnSetTensorNdDescriptor(*d, data_type(nd->dtype), nd->nb, nd->dims, nd->strides), n);
    return st;
}

static cudnnMathType_t math_of(mi__cu_math m) {
    switch (m) {
    case MI__CU_MATH_TENSOR: return CUDNN_TENSOR_OP_MATH;
    case MI__CU_MATH_FMA: return CUDNN_FMA_MATH;
    default: return CUDNN_DEFAULT_MATH;
    }
}

static mi__cu_math math_from(cudnnMathType_t m) {
    switch (m) {
    case CUDNN_FMA_MATH: return MI__CU_MATH_FMA;
    case CUDNN_DEFAULT_MATH: return MI__CU_MATH_DEFAULT;
    default: return MI__CU_MATH_TENSOR;
    }
}

static const char *path_name(mi__cu_conv_path p) {
    switch (p) {
    case MI__CU_CONV_FUSED: return "fused bias/activation";
    case MI__CU_CONV_EPILOGUE: return "conv + our epilogue";
    default: return "plain";
    }
}

/* ---- convolution ---------------------------------------------------------------------- */

/* cuDNN's ranking of the forward algorithms for one conv, fastest first:
 * what it said (perf) and the same as host_plan.h's mi__cu_algo
 * (ranked), whose ok flags the choice clears as it rules entries out. */
typedef struct conv_ranking {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    mi__cu_algo ranked[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int count;
} conv_ranking;

/* The input (pre-padded when the pads are asymmetric), output, bias,
 * filter and convolution descriptors. Half data computes in fp32 (cuDNN's
 * PSEUDO_HALF / PSEUDO_BFLOAT16 configurations); the filter's dims are in
 * KCRS order whatever its format, NHWC's being [K, R, S, C/g] in memory. */
static mi_status conv_descriptors(const mi_node *n, const mi__cu_conv *c, int tensor_ok, mi__cu_dnn *d) {
    mi_status st;
    if ((st = tensor_desc(n, &c->xp, &d->x)) || (st = tensor_desc(n, &c->y, &d->y)) ||
        (st = tensor_desc(n, &c->bias, &d->bias)) || (st = DNN(cudnnCreateFilterDescriptor(&d->w), n)) ||
        (st = DNN(cudnnSetFilterNdDescriptor(d->w, data_type(c->dtype), c->nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW,
                                             c->w.nb, c->w.dims), n)) ||
        (st = DNN(cudnnCreateConvolutionDescriptor(&d->conv), n)) ||
        (st = DNN(cudnnSetConvolutionNdDescriptor(d->conv, c->nspatial, c->pad, c->stride, c->dilation,
                                                  CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), n)) ||
        (st = DNN(cudnnSetConvolutionGroupCount(d->conv, c->groups), n)) ||
        (st = DNN(cudnnSetConvolutionMathType(d->conv, tensor_ok ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), n)))
        return st;
    return MI_OK;
}

/* cuDNN must agree with our shape inference about the output. */
static mi_status conv_check_output(const mi_node *n, const mi__cu_conv *c, const mi__cu_dnn *d) {
    int ydims[MI_MAX_DIMS] = {0};
    mi_status st;
    if ((st = DNN(cudnnGetConvolutionNdForwardOutputDim(d->conv, d->x, d->w, c->y.nb, ydims), n))) return st;
    for (int k = 0; k < c->y.nb; k++)
        if (ydims[k] != c->y.dims[k])
            return mi__cu_node_error(n, MI_ERR_INTERNAL, "cuDNN computes output dim %d as %d, shape inference "
                                     "as %d", k, ydims[k], c->y.dims[k]);
    return MI_OK;
}

/* cudnnGetConvolutionForwardAlgorithm_v7's heuristic ranking (never the
 * Find calls, which allocate). */
static mi_status conv_rank(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, conv_ranking *r) {
    mi_status st;
    if ((st = DNN(cudnnGetConvolutionForwardAlgorithm_v7(h, d->x, d->w, d->conv, d->y,
                                                         CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &r->count, r->perf), n)))
        return st;
    for (int i = 0; i < r->count; i++) {
        r->ranked[i].algo = (int)r->perf[i].algo;
        r->ranked[i].ok = r->perf[i].status == CUDNN_STATUS_SUCCESS;
        r->ranked[i].memory = r->perf[i].memory;
        r->ranked[i].math = math_from(r->perf[i].mathType);
    }
    return MI_OK;
}

/* No algorithm is left: MI_ERR_UNSUPPORTED when cuDNN ranked none usable,
 * else MI_ERR_CAPACITY with the smallest workspace a usable one needs. */
static mi_status conv_no_algorithm(const mi_node *n, const conv_ranking *r, size_t budget, int tensor_ok) {
    size_t least = SIZE_MAX;
    for (int k = 0; k < r->count; k++)
        if (r->perf[k].status == CUDNN_STATUS_SUCCESS && (tensor_ok || r->ranked[k].math != MI__CU_MATH_TENSOR) &&
            r->perf[k].memory < least)
            least = r->perf[k].memory;
    if (least == SIZE_MAX)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "cuDNN has no forward algorithm for this "
                                 "convolution (%d ranked, none usable, tensor-op math %s)", r->count,
                                 tensor_ok ? "allowed" : "off");
    return mi__cu_node_error(n, MI_ERR_CAPACITY, "no cuDNN forward algorithm fits the workspace budget "
                             "of %zu bytes (--max-workspace); the smallest needs %zu", budget, least);
}

/* The fastest entry mi__cu_conv_pick accepts whose exact workspace fits
 * the budget. The ranking's memory is a heuristic's; the exact figure
 * comes from the workspace query with the math type the descriptor will
 * have (left set on it). An entry whose exact figure breaks the budget,
 * or that cuDNN does not support with that math type after all, is
 * dropped and the next one tried. */
static mi_status conv_choose(cudnnHandle_t h, const mi_node *n, const mi__cu_conv *c, const mi__cu_dnn *d,
                             conv_ranking *r, size_t budget, int tensor_ok, mi__cu_conv_choice *choice,
                             size_t *algo_ws) {
    mi_status st;
    for (int from = 0;;) {
        int i = mi__cu_conv_pick(c, r->ranked, r->count, from, budget, tensor_ok, choice);
        size_t ws = 0;
        if (i < 0) return conv_no_algorithm(n, r, budget, tensor_ok);
        if ((st = DNN(cudnnSetConvolutionMathType(d->conv, math_of(choice->math)), n)) ||
            (st = DNN(cudnnGetConvolutionForwardWorkspaceSize(h, d->x, d->w, d->conv, d->y,
                                                              (cudnnConvolutionFwdAlgo_t)choice->algo, &ws), n))) {
            if (st != MI_ERR_UNSUPPORTED) return st;
            mi_clear_error();
            r->ranked[i].ok = 0;
            from = 0;
            continue;
        }
        if (ws <= budget) {
            *algo_ws = ws;
            return MI_OK;
        }
        r->ranked[i].ok = 0;
        from = 0;
    }
}

/* The fused call's activation: ReLU, or identity (bias, residual). */
static mi_status conv_activation(const mi_node *n, const mi__cu_conv *c, mi__cu_dnn *d) {
    mi_status st;
    if ((st = DNN(cudnnCreateActivationDescriptor(&d->act), n)) ||
        (st = DNN(cudnnSetActivationDescriptor(d->act, c->act == MI_ACT_RELU ? CUDNN_ACTIVATION_RELU
                                                                             : CUDNN_ACTIVATION_IDENTITY,
                                               CUDNN_NOT_PROPAGATE_NAN, 0.0), n)))
        return st;
    return MI_OK;
}

/* The verbose log's line: the choice, and the ranking it came from. */
static void conv_log_choice(const mi_backend_options *o, const mi_node *n, const mi__cu_conv *c,
                            const conv_ranking *r, const mi__cu_conv_choice *choice, size_t algo_ws,
                            size_t budget) {
    char list[512];
    size_t w = 0;
    list[0] = '\0';
    for (int i = 0; i < r->count && w < sizeof list; i++)
        w += (size_t)snprintf(list + w, sizeof list - w, "%s%s%s(%zu B)", i ? ", " : "",
                              mi__cu_algo_name(r->ranked[i].algo), r->ranked[i].ok ? "" : " unusable",
                              r->ranked[i].memory);
    mi__logf(o->log, o->log_user,
             "cuda: conv '%s': %s, %s math, %s, workspace %zu B of budget %zu B%s; ranked: %s", n->name,
             mi__cu_algo_name(choice->algo), choice->math == MI__CU_MATH_FMA ? "FMA (no TF32)"
             : choice->math == MI__CU_MATH_TENSOR ? "tensor-op" : "default",
             path_name(choice->path), algo_ws, budget, c->prepad ? ", asymmetric pads pre-padded" : "",
             list);
}

mi_status mi__cu_dnn_conv_prepare(cudnnHandle_t h, const mi_node *n, const mi__cu_conv *c,
                                  size_t budget, int tf32, const mi_backend_options *o,
                                  mi__cu_conv_choice *choice, size_t *algo_ws, mi__cu_dnn **out) {
    mi__cu_dnn *d = NULL;
    mi_status st = dnn_alloc(n, &d);
    conv_ranking r;
    *out = NULL;
    *algo_ws = 0;
    if (st) return st;
    int tensor_ok = mi__cu_conv_tensor_ok(c, tf32);
    if ((st = conv_descriptors(n, c, tensor_ok, d)) || (st = conv_check_output(n, c, d)) ||
        (st = conv_rank(h, n, d, &r)) || (st = conv_choose(h, n, c, d, &r, budget, tensor_ok, choice, algo_ws)))
        goto fail;
    d->algo = (cudnnConvolutionFwdAlgo_t)choice->algo;
    if (choice->path == MI__CU_CONV_FUSED && (st = conv_activation(n, c, d))) goto fail;
    if (o && o->verbose) conv_log_choice(o, n, c, &r, choice, *algo_ws, budget);
    *out = d;
    return MI_OK;
fail:
    mi__cu_dnn_free(d);
    return st;
}

mi_status mi__cu_dnn_conv_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, int fused,
                              const void *x, const void *w, const void *bias, const void *z,
                              float z_scale, float beta, void *y, void *ws, size_t ws_size) {
    const float one = 1.0f;
    if (fused)
        return DNN(cudnnConvolutionBiasActivationForward(h, &one, d->x, x, d->w, w, d->conv, d->algo, ws,
                                                         ws_size, &z_scale, d->y, z, d->bias, bias, d->act,
                                                         d->y, y), n);
    return DNN(cudnnConvolutionForward(h, &one, d->x, x, d->w, w, d->conv, d->algo, ws, ws_size, &beta,
                                       d->y, y), n);
}

/* ---- pooling, softmax, batch norm, LRN -------------------------------------------------- */

mi_status mi__cu_dnn_pool_prepare(const mi_node *n, const mi__cu_pool *p, mi__cu_dnn **out) {
    mi__cu_dnn *d = NULL;
    mi_status st = dnn_alloc(n, &d);
    *out = NULL;
    if (st) return st;
    cudnnPoolingMode_t mode = p->max ? CUDNN_POOLING_MAX_DETERMINISTIC
                            : p->include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                             : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    if ((st = tensor_desc(n, &p->x, &d->x)) || (st = tensor_desc(n, &p->y, &d->y)) ||
        (st = DNN(cudnnCreatePoolingDescriptor(&d->pool), n)) ||
        (st = DNN(cudnnSetPoolingNdDescriptor(d->pool, mode, CUDNN_PROPAGATE_NAN, p->nspatial, p->window,
                                              p->pad, p->stride), n))) {
        mi__cu_dnn_free(d);
        return st;
    }
    *out = d;
    return MI_OK;
}

mi_status mi__cu_dnn_pool_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, const void *x,
                              void *y) {
    const float one = 1.0f, zero = 0.0f;
    return DNN(cudnnPoolingForward(h, d->pool, &one, d->x, x, &zero, d->y, y), n);
}

mi_status mi__cu_dnn_softmax_prepare(const mi_node *n, const mi__cu_softmax *s, mi__cu_dnn **out) {
    mi__cu_dnn *d = NULL;
    mi_status st = dnn_alloc(n, &d);
    *out = NULL;
    if (st) return st;
    if ((st = tensor_desc(n, &s->nd, &d->x))) {
        mi__cu_dnn_free(d);
        return st;
    }
    d->softmax_mode = CUDNN_SOFTMAX_MODE_CHANNEL; /* over C = len, for every (outer, inner) */
    *out = d;
    return MI_OK;
}

mi_status mi__cu_dnn_softmax_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d,
                                 const void *x, void *y) {
    const float one = 1.0f, zero = 0.0f;
    return DNN(cudnnSoftmaxForward(h, CUDNN_SOFTMAX_ACCURATE, d->softmax_mode, &one, d->x, x, &zero, d->x, y), n);
}

mi_status mi__cu_dnn_bn_prepare(const mi_node *n, const mi__cu_chan *ch, mi__cu_dnn **out) {
    mi__cu_dnn *d = NULL;
    mi_status st = dnn_alloc(n, &d);
    *out = NULL;
    if (st) return st;
    if ((st = tensor_desc(n, &ch->x, &d->x)) || (st = tensor_desc(n, &ch->param, &d->bias))) {
        mi__cu_dnn_free(d);
        return st;
    }
    *out = d;
    return MI_OK;
}

mi_status mi__cu_dnn_bn_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, const float *x,
                            float *y, const float *scale, const float *bias, const float *mean,
                            const float *var, double epsilon) {
    const float one = 1.0f, zero = 0.0f;
    return DNN(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, &one, &zero, d->x, x, d->x,
                                                       y, d->bias, scale, bias, mean, var, epsilon), n);
}

mi_status mi__cu_dnn_lrn_prepare(const mi_node *n, const mi__cu_chan *ch, const mi__lrn_params *p,
                                 mi__cu_dnn **out) {
    mi__cu_dnn *d = NULL;
    mi_status st = dnn_alloc(n, &d);
    *out = NULL;
    if (st) return st;
    /* cuDNN divides alpha by n itself, as ONNX does; its window is
     * [c - floor((n-1)/2), c + n - 1 - floor((n-1)/2)], ONNX's too. */
    if ((st = tensor_desc(n, &ch->x, &d->x)) || (st = DNN(cudnnCreateLRNDescriptor(&d->lrn), n)) ||
        (st = DNN(cudnnSetLRNDescriptor(d->lrn, (unsigned)p->size, p->alpha, p->beta, p->bias), n))) {
        mi__cu_dnn_free(d);
        return st;
    }
    *out = d;
    return MI_OK;
}

mi_status mi__cu_dnn_lrn_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, const void *x,
                             void *y) {
    const float one = 1.0f, zero = 0.0f;
    return DNN(cudnnLRNCrossChannelForward(h, d->lrn, CUDNN_LRN_CROSS_CHANNEL_DIM1, &one, d->x, x, &zero,
                                           d->x, y), n);
}
