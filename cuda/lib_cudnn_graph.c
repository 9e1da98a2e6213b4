/* cuDNN's graph API (the C backend API of cudnn_graph.h), wrapped: the op
 * graph host_plan.c describes for a fused convolution (mi__cu_fused) into
 * backend descriptors, an execution plan chosen once at prepare time, and
 * its execution on base+offset pointers.
 *
 * The plan: engine heuristics in mode A, then the fallback list, walked in
 * order (mi__cu_engine_next filters by workspace budget and runtime
 * compilation) until a configuration finalizes; the first often does not.
 * Nothing here autotunes or allocates device memory: the workspace is the
 * node's planned part. Runtime-compiled engines (NVRTC at finalize,
 * seconds per distinct shape) are taken only when MI_CUDNN_RUNTIME_FUSION
 * is 1, with one kernel cache per backend so that equal shapes compile
 * once. Where no configuration finalizes, prepare says why and the legacy
 * path runs the node: never an error. */
#include "cuda_internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CFGS 32

/* Every status named by what was being done (the calls are all alike). */
static mi_status be_check(cudnnStatus_t s, const mi_node *n, const char *what) {
    char call[160];
    if (s == CUDNN_STATUS_SUCCESS) return MI_OK;
    snprintf(call, sizeof call, "cuDNN graph API: %s", what);
    return mi__cu_dnn_check(s, n, call);
}
#define BE(call, node, what) be_check((call), (node), (what))

static cudnnDataType_t be_type(int dtype) {
    switch (dtype) {
    case MI_DTYPE_FLOAT16: return CUDNN_DATA_HALF;
    case MI_DTYPE_BFLOAT16: return CUDNN_DATA_BFLOAT16;
    default: return CUDNN_DATA_FLOAT;
    }
}

/* The descriptors one graph is built from, destroyed together. */
typedef struct be_set {
    cudnnBackendDescriptor_t d[64];
    int n;
} be_set;

static mi_status be_new(be_set *s, cudnnBackendDescriptorType_t type, const mi_node *n, cudnnBackendDescriptor_t *out) {
    *out = NULL;
    if (s->n == (int)(sizeof s->d / sizeof s->d[0]))
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "cuDNN graph API: too many descriptors");
    mi_status st = BE(cudnnBackendCreateDescriptor(type, out), n, "cudnnBackendCreateDescriptor");
    if (!st) s->d[s->n++] = *out;
    return st;
}

static void be_free(be_set *s) {
    for (int i = s->n - 1; i >= 0; i--) cudnnBackendDestroyDescriptor(s->d[i]);
    s->n = 0;
}

/* A chosen plan, with every descriptor it was built from: cuDNN does not
 * promise that a finalized plan copies its engine configuration and graph. */
struct mi__cu_fplan {
    cudnnBackendDescriptor_t plan;
    be_set parts;
    size_t workspace;
    int64_t uids[MI__CU_FG_MAX_TENSORS];
    int nuids;
    int runtime_compiled;
};

static mi_status be_set_attr(cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t a, cudnnBackendAttributeType_t t,
                             int64_t count, const void *v, const mi_node *n, const char *what) {
    return BE(cudnnBackendSetAttribute(d, a, t, count, v), n, what);
}

static mi_status be_tensor(be_set *s, const mi_node *n, const mi__cu_fg_tensor *t, cudnnBackendDescriptor_t *out) {
    mi_status st;
    cudnnDataType_t dt = be_type(t->dtype);
    int64_t align = 16;
    bool virt = t->is_virtual != 0;
    if ((st = be_new(s, CUDNN_BACKEND_TENSOR_DESCRIPTOR, n, out)) ||
        (st = be_set_attr(*out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt, n, "tensor dtype")) ||
        (st = be_set_attr(*out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, t->dims, n, "tensor dims")) ||
        (st = be_set_attr(*out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, t->strides, n, "tensor strides")) ||
        (st = be_set_attr(*out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &t->uid, n, "tensor id")) ||
        (st = be_set_attr(*out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, n, "tensor alignment")) ||
        (st = be_set_attr(*out, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt, n, "tensor virtual")))
        return st;
    return BE(cudnnBackendFinalize(*out), n, "finalizing a tensor");
}

static cudnnBackendDescriptor_t find(const mi__cu_fused *f, const cudnnBackendDescriptor_t *td, int64_t uid) {
    for (int i = 0; i < f->ntensors; i++)
        if (f->t[i].uid == uid) return td[i];
    return NULL;
}

static mi_status be_conv(be_set *s, const mi_node *n, const mi__cu_fused *f, cudnnBackendDescriptor_t x,
                         cudnnBackendDescriptor_t w, cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op) {
    cudnnBackendDescriptor_t cd;
    int64_t dims = 2;
    cudnnDataType_t comp = CUDNN_DATA_FLOAT;
    cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
    float alpha = 1.0f, beta = 0.0f;
    mi_status st;
    if ((st = be_new(s, CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, n, &cd)) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &dims, n, "conv dims")) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &comp, n, "conv compute type")) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode, n, "conv mode")) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, f->pad, n, "conv pads")) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, f->pad, n, "conv pads")) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, f->dilation, n, "conv dilations")) ||
        (st = be_set_attr(cd, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, f->stride, n, "conv strides")) ||
        (st = BE(cudnnBackendFinalize(cd), n, "finalizing the convolution")) ||
        (st = be_new(s, CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, n, op)) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, n, "conv X")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &w, n, "conv W")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, n, "conv Y")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cd, n,
                          "conv descriptor")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha, n, "conv alpha")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta, n, "conv beta")))
        return st;
    return BE(cudnnBackendFinalize(*op), n, "finalizing the convolution operation");
}

static mi_status be_pointwise(be_set *s, const mi_node *n, const mi__cu_fg_op *o, cudnnBackendDescriptor_t x,
                              cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t y, cudnnBackendDescriptor_t *op) {
    cudnnBackendDescriptor_t pd;
    cudnnPointwiseMode_t mode = o->kind == MI__CU_FG_ADD ? CUDNN_POINTWISE_ADD : CUDNN_POINTWISE_RELU_FWD;
    cudnnDataType_t prec = CUDNN_DATA_FLOAT;
    mi_status st;
    if ((st = be_new(s, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, n, &pd)) ||
        (st = be_set_attr(pd, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, n, "pointwise mode")) ||
        (st = be_set_attr(pd, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, n, "pointwise precision")))
        return st;
    if (o->clip &&
        ((st = be_set_attr(pd, CUDNN_ATTR_POINTWISE_RELU_LOWER_CLIP, CUDNN_TYPE_DOUBLE, 1, &o->lo, n, "clip min")) ||
         (st = be_set_attr(pd, CUDNN_ATTR_POINTWISE_RELU_UPPER_CLIP, CUDNN_TYPE_DOUBLE, 1, &o->hi, n, "clip max"))))
        return st;
    if ((st = BE(cudnnBackendFinalize(pd), n, "finalizing a pointwise descriptor")) ||
        (st = be_new(s, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, n, op)) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &pd, n,
                          "pointwise descriptor")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x, n, "pointwise X")) ||
        (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y, n, "pointwise Y")))
        return st;
    if (b && (st = be_set_attr(*op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b, n,
                               "pointwise B")))
        return st;
    return BE(cudnnBackendFinalize(*op), n, "finalizing a pointwise operation");
}

/* The operation graph of f, finalized. */
static mi_status be_graph(be_set *s, cudnnHandle_t h, const mi_node *n, const mi__cu_fused *f,
                          cudnnBackendDescriptor_t *graph) {
    cudnnBackendDescriptor_t td[MI__CU_FG_MAX_TENSORS], ops[MI__CU_FG_MAX_OPS];
    mi_status st;
    for (int i = 0; i < f->ntensors; i++)
        if ((st = be_tensor(s, n, &f->t[i], &td[i]))) return st;
    for (int i = 0; i < f->nops; i++) {
        const mi__cu_fg_op *o = &f->op[i];
        cudnnBackendDescriptor_t x = find(f, td, o->x), b = o->b ? find(f, td, o->b) : NULL, y = find(f, td, o->y);
        if (!x || !y || (o->b && !b)) return mi__cu_node_error(n, MI_ERR_INTERNAL, "cuDNN graph API: a dangling tensor id");
        st = o->kind == MI__CU_FG_CONV ? be_conv(s, n, f, x, b, y, &ops[i]) : be_pointwise(s, n, o, x, b, y, &ops[i]);
        if (st) return st;
    }
    if ((st = be_new(s, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, n, graph)) ||
        (st = be_set_attr(*graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, f->nops, ops, n,
                          "graph operations")) ||
        (st = be_set_attr(*graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h, n, "graph handle")))
        return st;
    return BE(cudnnBackendFinalize(*graph), n, "finalizing the operation graph");
}

/* The configurations heuristics mode `mode` proposes, appended to cfgs. */
static mi_status be_heuristics(be_set *s, const mi_node *n, cudnnBackendDescriptor_t graph, cudnnBackendHeurMode_t mode,
                               cudnnBackendDescriptor_t *cfgs, int *ncfg) {
    cudnnBackendDescriptor_t heur;
    mi_status st;
    if ((st = be_new(s, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, n, &heur)) ||
        (st = be_set_attr(heur, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &graph, n,
                          "heuristics graph")) ||
        (st = be_set_attr(heur, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, n, "heuristics mode")) ||
        (st = BE(cudnnBackendFinalize(heur), n, "finalizing the heuristics")))
        return st;
    int want = MAX_CFGS - *ncfg;
    if (want > 8) want = 8; /* the first few are the ones worth trying */
    int first = *ncfg;
    for (int i = 0; i < want; i++)
        if ((st = be_new(s, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, n, &cfgs[first + i]))) return st;
    int64_t got = 0;
    if ((st = BE(cudnnBackendGetAttribute(heur, CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, want, &got,
                                          &cfgs[first]), n, "the heuristics' results")))
        return st;
    *ncfg = first + (int)(got < want ? got : want);
    return MI_OK;
}

/* What the choice needs of configuration cfg: its workspace and whether
 * its engine compiles at finalize. */
static void be_describe(be_set *s, const mi_node *n, cudnnBackendDescriptor_t cfg, mi__cu_engine_cfg *out) {
    int64_t ws = 0, count = 0;
    cudnnBackendDescriptor_t engine;
    cudnnBackendBehaviorNote_t notes[CUDNN_BEHAVIOR_NOTE_TYPE_COUNT];
    out->usable = 0;
    out->runtime_compiled = 0;
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &ws) !=
            CUDNN_STATUS_SUCCESS || ws < 0)
        return;
    out->workspace = (size_t)ws;
    if (be_new(s, CUDNN_BACKEND_ENGINE_DESCRIPTOR, n, &engine)) {
        mi_clear_error();
        return;
    }
    if (cudnnBackendGetAttribute(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &count, &engine) !=
        CUDNN_STATUS_SUCCESS)
        return;
    count = 0;
    if (cudnnBackendGetAttribute(engine, CUDNN_ATTR_ENGINE_BEHAVIOR_NOTE, CUDNN_TYPE_BEHAVIOR_NOTE,
                                 CUDNN_BEHAVIOR_NOTE_TYPE_COUNT, &count, notes) != CUDNN_STATUS_SUCCESS)
        return;
    for (int64_t i = 0; i < count && i < CUDNN_BEHAVIOR_NOTE_TYPE_COUNT; i++)
        if (notes[i] == CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION) out->runtime_compiled = 1;
    out->usable = 1;
}

static int allow_runtime_compilation(void) {
    const char *v = getenv("MI_CUDNN_RUNTIME_FUSION");
    return v && strcmp(v, "1") == 0;
}

mi_status mi__cu_dnn_fused_prepare(cudnnHandle_t h, const mi_node *n, const mi__cu_fused *f, size_t budget,
                                   void *kernel_cache, mi__cu_fplan **out, char *why, size_t why_len) {
    be_set s;
    cudnnBackendDescriptor_t graph, cfgs[MAX_CFGS];
    mi__cu_engine_cfg info[MAX_CFGS];
    int ncfg = 0, allow_rtc = allow_runtime_compilation();
    mi_status st;
    s.n = 0;
    *out = NULL;
    why[0] = '\0';
    if ((st = be_graph(&s, h, n, f, &graph)) ||
        (st = be_heuristics(&s, n, graph, CUDNN_HEUR_MODE_A, cfgs, &ncfg)) ||
        (st = be_heuristics(&s, n, graph, CUDNN_HEUR_MODE_FALLBACK, cfgs, &ncfg)))
        goto refused;
    for (int i = 0; i < ncfg; i++) be_describe(&s, n, cfgs[i], &info[i]);
    int skipped_rtc = 0;
    for (int i = 0; i < ncfg; i++) skipped_rtc += info[i].usable && info[i].runtime_compiled && !allow_rtc;
    for (int i = mi__cu_engine_next(info, ncfg, 0, budget, allow_rtc); i >= 0;
         i = mi__cu_engine_next(info, ncfg, i + 1, budget, allow_rtc)) {
        cudnnBackendDescriptor_t plan = NULL;
        if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &plan) != CUDNN_STATUS_SUCCESS) break;
        int ok = cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                          &cfgs[i]) == CUDNN_STATUS_SUCCESS &&
                 cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h) ==
                     CUDNN_STATUS_SUCCESS;
        /* Equal shapes compile once: the backend's kernel cache (a cuDNN
         * without it just compiles again). */
        if (ok && info[i].runtime_compiled && kernel_cache)
            (void)cudnnBackendSetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_KERNEL_CACHE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                                           &kernel_cache);
        int64_t ws = 0, count = 0;
        ok = ok && cudnnBackendFinalize(plan) == CUDNN_STATUS_SUCCESS &&
             cudnnBackendGetAttribute(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1, &count, &ws) ==
                 CUDNN_STATUS_SUCCESS &&
             ws >= 0 && (size_t)ws <= budget;
        if (!ok) { /* the next configuration, as cuDNN's own samples do */
            cudnnBackendDestroyDescriptor(plan);
            continue;
        }
        mi__cu_fplan *p = mi__calloc(1, sizeof *p);
        if (!p) {
            cudnnBackendDestroyDescriptor(plan);
            be_free(&s);
            return mi__cu_node_error(n, MI_ERR_NO_MEMORY, "a cuDNN execution plan");
        }
        p->plan = plan;
        p->parts = s;
        p->workspace = (size_t)ws;
        p->runtime_compiled = info[i].runtime_compiled;
        for (int k = 0; k < f->ntensors; k++)
            if (!f->t[k].is_virtual) p->uids[p->nuids++] = f->t[k].uid;
        *out = p;
        return MI_OK;
    }
    snprintf(why, why_len, "%d configurations, none finalized within the budget of %zu bytes%s", ncfg, budget,
             skipped_rtc ? " (runtime-compiled ones skipped: MI_CUDNN_RUNTIME_FUSION=1 allows them)" : "");
    be_free(&s);
    return MI_OK;
refused:
    /* cuDNN has no engine for this graph, or this cuDNN lacks an attribute:
     * the legacy path, not an error (out of memory is). */
    be_free(&s);
    if (st == MI_ERR_NO_MEMORY) return st;
    snprintf(why, why_len, "%s", mi_last_error());
    mi_clear_error();
    return MI_OK;
}

size_t mi__cu_dnn_fused_workspace(const mi__cu_fplan *p) { return p ? p->workspace : 0; }
int mi__cu_dnn_fused_runtime_compiled(const mi__cu_fplan *p) { return p && p->runtime_compiled; }

mi_status mi__cu_dnn_fused_run(cudnnHandle_t h, const mi_node *n, const mi__cu_fplan *p, const void *x, const void *w,
                               const void *b, const void *z, void *y, void *ws) {
    void *ptrs[MI__CU_FG_MAX_TENSORS];
    for (int k = 0; k < p->nuids; k++) {
        switch (p->uids[k]) {
        case MI__CU_FG_X: ptrs[k] = (void *)x; break;
        case MI__CU_FG_W: ptrs[k] = (void *)w; break;
        case MI__CU_FG_B: ptrs[k] = (void *)b; break;
        case MI__CU_FG_Z: ptrs[k] = (void *)z; break;
        default: ptrs[k] = y; break;
        }
        if (!ptrs[k]) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "tensor %lld of the fused graph has no memory",
                                               (long long)p->uids[k]);
    }
    /* The variant pack binds this run's base+offset pointers. */
    cudnnBackendDescriptor_t vp = NULL;
    mi_status st = BE(cudnnBackendCreateDescriptor(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp), n, "a variant pack");
    if (!st) st = BE(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, p->nuids, p->uids),
                     n, "variant pack ids");
    if (!st) st = BE(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, p->nuids,
                                              ptrs), n, "variant pack pointers");
    if (!st) st = BE(cudnnBackendSetAttribute(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws), n,
                     "variant pack workspace");
    if (!st) st = BE(cudnnBackendFinalize(vp), n, "finalizing the variant pack");
    if (!st) st = BE(cudnnBackendExecute(h, p->plan, vp), n, "cudnnBackendExecute");
    if (vp) cudnnBackendDestroyDescriptor(vp);
    return st;
}

void mi__cu_dnn_fused_free(mi__cu_fplan *p) {
    if (!p) return;
    if (p->plan) cudnnBackendDestroyDescriptor(p->plan);
    be_free(&p->parts);
    mi__free(p);
}

mi_status mi__cu_dnn_kernel_cache_create(void **cache) {
    cudnnBackendDescriptor_t d = NULL;
    *cache = NULL;
    if (cudnnBackendCreateDescriptor(CUDNN_BACKEND_KERNEL_CACHE_DESCRIPTOR, &d) != CUDNN_STATUS_SUCCESS) return MI_OK;
    if (cudnnBackendFinalize(d) != CUDNN_STATUS_SUCCESS) { /* a cuDNN without kernel caches: none */
        cudnnBackendDestroyDescriptor(d);
        return MI_OK;
    }
    *cache = d;
    return MI_OK;
}

void mi__cu_dnn_kernel_cache_destroy(void *cache) {
    if (cache) cudnnBackendDestroyDescriptor((cudnnBackendDescriptor_t)cache);
}
