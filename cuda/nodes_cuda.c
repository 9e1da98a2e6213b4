/* prepare() and run() per op family: prepare turns a node into the plain
 * structs of host_plan.h (and cuDNN descriptors) once, before planning,
 * and says how much workspace the node needs; run only launches. Every
 * op in MI_OP_LIST (graph.h) has a path here. */
#include "cuda_internal.h"

#include <string.h>

void mi__cu_node_release(mi__cu_node *cn) {
    if (!cn) return;
    mi__cu_dnn_free(cn->dnn);
    if (cn->kind == MI__CU_K_CONV) mi__cu_dnn_fused_free(cn->u.conv.graph);
    if (cn->kind == MI__CU_K_CONCAT || cn->kind == MI__CU_K_SPLIT) mi__free(cn->u.parts.parts);
    if (cn->kind == MI__CU_K_BYTES) mi__free(cn->u.bytes.own);
    if (cn->kind == MI__CU_K_MATMUL) mi__cu_lt_free(cn->u.matmul.lt);
    memset(cn, 0, sizeof *cn);
}

static const mi_tensor *out_t(const mi_graph *g, const mi_node *n, int k) {
    return k < n->noutputs && n->outputs[k] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[k]) : NULL;
}

/* The float bound saturated into an integer type, as the CPU backend
 * does (NaN gives the low end). */
static int64_t clamp_bound(float v, int64_t lo, int64_t hi) {
    if (v != v) return lo;
    if ((double)v <= (double)lo) return lo;
    if ((double)v >= (double)hi) return hi;
    return (int64_t)v;
}

static int numeric(mi_dtype t) {
    return mi__cu_float_type(t) || t == MI_DTYPE_DOUBLE || t == MI_DTYPE_INT32 || t == MI_DTYPE_INT64;
}

/* Inputs [0, upto) and output 0 of one float dtype (float, float16 or
 * bfloat16: the half ones computed in fp32). */
static mi_status want_float(const mi_graph *g, const mi_node *n, int upto) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    for (int k = 0; k < upto && k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (t && (!mi__cu_float_type(t->dtype) || t->dtype != x->dtype))
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "input %d '%s' has dtype %s; the CUDA backend "
                                     "runs %s on float, float16 or bfloat16 inputs of one dtype", k, t->name,
                                     mi_dtype_name(t->dtype), mi_op_name(n->op));
    }
    if (y && y->dtype != x->dtype)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "output '%s' is %s, input '%s' %s; the CUDA backend runs "
                                 "%s in one dtype", y->name, mi_dtype_name(y->dtype), x->name,
                                 mi_dtype_name(x->dtype), mi_op_name(n->op));
    return MI_OK;
}

/* cuBLAS's workspace: its usual size, capped by the budget, in whole 256-
 * byte units (0: none, cublasSetWorkspace(NULL, 0), smaller kernels). */
static size_t blas_workspace(const mi__cu_backend *cb) {
    size_t ws = cb->budget < MI__CU_BLAS_WORKSPACE ? cb->budget : MI__CU_BLAS_WORKSPACE;
    return ws & ~(MI__CU_WS_ALIGN - 1);
}

/* ---- prepare ------------------------------------------------------------------------------ */

/* Half precision, channels last: the whole conv + bias + residual +
 * activation as one graph of cuDNN's graph API where an engine takes it.
 * The legacy path stays prepared (a residual planned in place, or a plan
 * that fails to execute, runs there): mi__cu_conv_ws sizes for both. */
static mi_status prepare_conv_graph(mi__cu_backend *cb, const mi_backend_options *o, const mi_node *n,
                                    mi__cu_node *cn) {
    mi__cu_fused f;
    const char *why = NULL;
    char reason[640];
    mi_status st;
    if (!mi__cu_fused_make(&cn->u.conv.c, &f, &why)) {
        if (o && o->verbose && cn->u.conv.c.dtype != MI_DTYPE_FLOAT)
            mi__logf(o->log, o->log_user, "cuda: conv '%s': graph API not used: %s", n->name, why);
        return MI_OK;
    }
    if (!cb->kernel_cache && (st = mi__cu_dnn_kernel_cache_create(&cb->kernel_cache))) return st;
    if ((st = mi__cu_dnn_fused_prepare(cb->dnn, n, &f, cb->budget, cb->kernel_cache, &cn->u.conv.graph, reason,
                                       sizeof reason)))
        return st;
    if (!cn->u.conv.graph) {
        if (o && o->verbose) mi__logf(o->log, o->log_user, "cuda: conv '%s': graph API: %s; legacy path", n->name, reason);
        return MI_OK;
    }
    size_t gws = mi__cu_dnn_fused_workspace(cn->u.conv.graph);
    if (o && o->verbose)
        mi__logf(o->log, o->log_user, "cuda: conv '%s': graph API, %d fused operations, workspace %zu B%s", n->name,
                 f.nops, gws, mi__cu_dnn_fused_runtime_compiled(cn->u.conv.graph) ? ", runtime-compiled engine" : "");
    return MI_OK;
}

static mi_status prepare_conv(mi__cu_backend *cb, const mi_backend_options *o, const mi_graph *g,
                              const mi_node *n, mi__cu_node *cn, size_t *ws) {
    mi_status st;
    size_t legacy_ws = 0;
    cn->kind = MI__CU_K_CONV;
    if ((st = mi__cu_conv_make(g, n, &cn->p.u.conv, &cn->u.conv.c)) || (st = mi__cu_backend_dnn(cb))) return st;
    const mi__cu_conv *c = &cn->u.conv.c;
    if ((st = mi__cu_dnn_conv_prepare(cb->dnn, n, c, cb->budget, o->tf32, o, &cn->u.conv.choice, &legacy_ws,
                                      &cn->dnn)) ||
        (st = prepare_conv_graph(cb, o, n, cn)) ||
        (st = mi__cu_conv_ws(n, c, &cn->u.conv.choice, legacy_ws, mi__cu_dnn_fused_workspace(cn->u.conv.graph),
                             &cn->ws)))
        return st;
    *ws = cn->ws.request;
    return MI_OK;
}

static mi_status prepare_unary(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    cn->kind = MI__CU_K_UNARY;
    cn->u.unary.n = mi_tensor_numel(x);
    cn->u.unary.dtype = (int)x->dtype;
    switch (n->op) {
    case MI_OP_RELU: cn->u.unary.op = MI__K_OP_RELU; break;
    case MI_OP_CLIP: cn->u.unary.op = MI__K_OP_CLIP; break;
    case MI_OP_SIGMOID: cn->u.unary.op = MI__K_OP_SIGMOID; break;
    case MI_OP_HARD_SIGMOID: cn->u.unary.op = MI__K_OP_HARD_SIGMOID; break;
    default: cn->u.unary.op = MI__K_OP_HARD_SWISH; break;
    }
    if (n->op == MI_OP_CLIP) {
        cn->u.unary.a = cn->p.u.clip.min;
        cn->u.unary.b = cn->p.u.clip.max;
    } else if (n->op == MI_OP_HARD_SIGMOID) {
        cn->u.unary.a = cn->p.u.hard_sigmoid.alpha;
        cn->u.unary.b = cn->p.u.hard_sigmoid.beta;
    }
    if (mi__cu_float_type(x->dtype)) return MI_OK;
    if ((n->op != MI_OP_RELU && n->op != MI_OP_CLIP) || !numeric(x->dtype))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "input '%s' has dtype %s; the CUDA backend runs %s on "
                                 "%s", x->name, mi_dtype_name(x->dtype), mi_op_name(n->op),
                                 n->op == MI_OP_RELU || n->op == MI_OP_CLIP
                                     ? "float, float16, bfloat16, double, int32 and int64"
                                     : "float, float16 and bfloat16 only");
    if (x->dtype == MI_DTYPE_INT32) {
        cn->u.unary.ia = clamp_bound(cn->p.u.clip.min, INT32_MIN, INT32_MAX);
        cn->u.unary.ib = clamp_bound(cn->p.u.clip.max, INT32_MIN, INT32_MAX);
    } else if (x->dtype == MI_DTYPE_INT64) {
        cn->u.unary.ia = clamp_bound(cn->p.u.clip.min, INT64_MIN, INT64_MAX);
        cn->u.unary.ib = clamp_bound(cn->p.u.clip.max, INT64_MIN, INT64_MAX);
    }
    return MI_OK;
}

static mi_status prepare_parts(const mi_graph *g, const mi_node *n, mi__cu_node *cn, int split) {
    int count = split ? n->noutputs : n->ninputs;
    int axis = (int)cn->p.u.axis.axis;
    const mi_tensor *whole = split ? mi__node_in(g, n, 0) : out_t(g, n, 0);
    cn->kind = split ? MI__CU_K_SPLIT : MI__CU_K_CONCAT;
    cn->u.parts.parts = mi__calloc(count ? (size_t)count : 1, sizeof *cn->u.parts.parts);
    if (!cn->u.parts.parts) return mi__cu_node_error(n, MI_ERR_NO_MEMORY, "copy plans of %d parts", count);
    cn->u.parts.n = count;
    int64_t at = 0;
    for (int i = 0; i < count; i++) {
        const mi_tensor *part = split ? out_t(g, n, i) : mi__node_in(g, n, i);
        if (!part) {
            if (!split) return mi__cu_node_error(n, MI_ERR_GRAPH, "input %d is missing", i);
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "output %d is omitted", i);
        }
        if (mi_dtype_size(part->dtype) == 0 || mi_dtype_size(part->dtype) > 8)
            return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(part->dtype));
        mi__cu_copy_part(whole, axis, at, part, split, &cn->u.parts.parts[i]);
        at += part->dims[axis];
    }
    return MI_OK;
}

static mi_status prepare_bytes(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *y = out_t(g, n, 0);
    cn->kind = MI__CU_K_BYTES;
    if (!y) return mi__cu_node_error(n, MI_ERR_GRAPH, "has no output");
    cn->u.bytes.n = y->nbytes;
    if (n->op == MI_OP_SHAPE) {
        const mi_tensor *x = mi__node_in(g, n, 0);
        int64_t r = x->ndim, s = mi_node_attr_int(n, "start", 0), e = mi_node_attr_int(n, "end", r);
        if (s < 0) s += r;
        if (e < 0) e += r;
        s = s < 0 ? 0 : s > r ? r : s;
        e = e < 0 ? 0 : e > r ? r : e;
        if (y->dtype != MI_DTYPE_INT64 || mi_tensor_numel(y) != (e > s ? e - s : 0))
            return mi__cu_node_error(n, MI_ERR_INTERNAL, "output '%s' is not the shape's int64 values", y->name);
        for (int64_t i = s; i < e; i++) cn->u.bytes.dims[i - s] = x->dims[i];
        cn->u.bytes.data = cn->u.bytes.dims; /* the nodes array never moves once prepared */
        return MI_OK;
    }
    /* Constant: a copy of the value shape inference computed, as the model
     * moves its graph's values once the weights are uploaded. */
    const void *v = mi__graph_value(g, n->outputs[0]);
    if (!v && y->nbytes)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the constant's value is not known at load time");
    if (y->nbytes) {
        if (!(cn->u.bytes.own = mi__malloc(y->nbytes)))
            return mi__cu_node_error(n, MI_ERR_NO_MEMORY, "copying the constant's %zu bytes", y->nbytes);
        memcpy(cn->u.bytes.own, v, y->nbytes);
    }
    cn->u.bytes.data = cn->u.bytes.own;
    return MI_OK;
}

static mi_status prepare_binary(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *b = mi__node_in(g, n, 1), *y = out_t(g, n, 0);
    if (!b || !numeric(x->dtype) || b->dtype != x->dtype)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the CUDA backend runs %s on two inputs of one "
                                 "type: float, float16, bfloat16, double, int32 or int64", mi_op_name(n->op));
    cn->kind = MI__CU_K_BINARY;
    cn->u.binary.op = n->op == MI_OP_ADD ? MI__K_OP_ADD : n->op == MI_OP_SUB ? MI__K_OP_SUB
                    : n->op == MI_OP_MUL ? MI__K_OP_MUL : MI__K_OP_DIV;
    cn->u.binary.dtype = (int)x->dtype;
    cn->u.binary.n = mi_tensor_numel(y);
    mi__cu_bcast_make(x, b, y, &cn->u.binary.bc);
    return MI_OK;
}

/* MaxPool, AveragePool: cuDNN's descriptors when it computes ONNX's
 * result, else our kernel (host_plan.c decides). */
static mi_status prepare_pool(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    mi_status st;
    cn->kind = MI__CU_K_POOL;
    if ((st = mi__cu_pool_make(g, n, &cn->p.u.pool, &cn->u.pool))) return st;
    return cn->u.pool.use_cudnn ? mi__cu_dnn_pool_prepare(n, &cn->u.pool, &cn->dnn) : MI_OK;
}

/* GlobalAveragePool (every spatial axis) and ReduceMean (its axes). */
static mi_status prepare_reduce(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    int flags[MI_MAX_DIMS] = {0};
    mi_status st;
    if ((st = want_float(g, n, 1))) return st;
    for (int k = 0; k < x->ndim; k++)
        flags[k] = n->op == MI_OP_GLOBAL_AVERAGE_POOL ? k >= 2 : cn->p.u.reduce.reduce[k];
    cn->kind = MI__CU_K_REDUCE;
    mi__cu_reduce_tensor(x, flags, &cn->u.reduce); /* in the order its bytes lie */
    return MI_OK;
}

static mi_status prepare_pad(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (mi_dtype_size(x->dtype) == 0 || mi_dtype_size(x->dtype) > 8 || !mi__dtype_castable(x->dtype))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(x->dtype));
    cn->kind = MI__CU_K_PAD;
    mi__cu_pad_make(x, y, &cn->p.u.pad, &cn->u.pad);
    return MI_OK;
}

/* BatchNormalization, LRN: cuDNN unless its limits or its descriptors
 * refuse the node, then our kernel. */
static mi_status prepare_norm(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    mi_status st;
    if ((st = want_float(g, n, n->ninputs)) || (st = mi__cu_chan_make(n, x, &cn->u.chan.ch))) return st;
    cn->kind = n->op == MI_OP_LRN ? MI__CU_K_LRN : MI__CU_K_BATCH_NORM;
    /* cuDNN's batch norm wants fp32 parameters with half data: ours
     * reads them in the data's dtype, as the precision pass stores them. */
    cn->u.chan.use_cudnn = x->dtype == MI_DTYPE_FLOAT;
    if (n->op == MI_OP_LRN && !mi__cu_lrn_cudnn_ok(&cn->p.u.lrn)) cn->u.chan.use_cudnn = 0;
    if (cn->u.chan.use_cudnn) {
        st = n->op == MI_OP_LRN ? mi__cu_dnn_lrn_prepare(n, &cn->u.chan.ch, &cn->p.u.lrn, &cn->dnn)
                                : mi__cu_dnn_bn_prepare(n, &cn->u.chan.ch, &cn->dnn);
        if (st == MI_ERR_UNSUPPORTED) { /* our kernel then */
            mi_clear_error();
            cn->u.chan.use_cudnn = 0;
            st = MI_OK;
        }
    }
    return st;
}

/* A fused linear layer: cuBLASLt's call with its epilogue where it has an
 * algorithm, else (logged) the GEMM and our epilogue kernels. */
static mi_status prepare_linear(mi__cu_backend *cb, const mi_node *n, mi__cu_node *cn) {
    const mi__cu_matmul *mm = &cn->u.matmul.m;
    mi_status st = mi__cu_backend_lt(cb);
    if (!st) st = mi__cu_lt_prepare(cb->lt, n, &mm->call, &mm->lin, cb->info.tf32, blas_workspace(cb), &cn->u.matmul.lt);
    if (st != MI_ERR_UNSUPPORTED) return st;
    mi__logf(cb->verbose ? cb->log : NULL, cb->log_user, "cuda: MatMul '%s': %s; the GEMM and our epilogue instead",
             n->name, mi_last_error());
    mi_clear_error();
    return MI_OK;
}

/* Gemm, MatMul: the cuBLAS call and its workspace (the fallback's too,
 * which a fused linear layer may take at run time). */
static mi_status prepare_blas(mi__cu_backend *cb, const mi_graph *g, const mi_node *n, mi__cu_node *cn,
                              size_t *ws) {
    mi_status st;
    if (n->op == MI_OP_GEMM) {
        cn->kind = MI__CU_K_GEMM;
        st = mi__cu_gemm_make(g, n, &cn->p.u.gemm, &cn->u.gemm);
    } else {
        cn->kind = MI__CU_K_MATMUL;
        mi__cu_matmul *mm = &cn->u.matmul.m;
        st = mi__cu_matmul_make(g, n, &mm->call);
        if (!st) st = mi__cu_linear_make(n, &mm->call, &mm->lin);
        if (!st && mm->lin.epi != MI__CU_EPI_NONE) st = prepare_linear(cb, n, cn);
    }
    size_t lib = blas_workspace(cb), lt = cn->kind == MI__CU_K_MATMUL ? mi__cu_lt_workspace(cn->u.matmul.lt) : 0;
    if (st || (st = mi__cu_ws_make(n, lt > lib ? lt : lib, 0, 0, &cn->ws))) return st;
    *ws = cn->ws.request;
    return MI_OK;
}

/* Flatten, Reshape, Squeeze, Unsqueeze, Identity, Dropout: the bytes as
 * they are (a copy unless the plan made the node a view). */
static mi_status prepare_view_copy(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (x->nbytes != y->nbytes) return mi__cu_node_error(n, MI_ERR_INTERNAL, "input and output sizes differ");
    cn->kind = MI__CU_K_VIEW_COPY;
    return MI_OK;
}

/* Transpose, Slice: one strided copy. */
static mi_status prepare_strided(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (mi_dtype_size(x->dtype) == 0 || mi_dtype_size(x->dtype) > 8)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(x->dtype));
    cn->kind = MI__CU_K_STRIDED;
    if (n->op == MI_OP_TRANSPOSE) mi__cu_copy_transpose(x, cn->p.u.transpose.perm, &cn->u.copy);
    else mi__cu_copy_slice(x, y, &cn->p.u.slice, &cn->u.copy);
    return MI_OK;
}

static mi_status prepare_gather(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *idx = mi__node_in(g, n, 1);
    if (!idx || (idx->dtype != MI_DTYPE_INT32 && idx->dtype != MI_DTYPE_INT64))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "indices must be int32 or int64");
    if (mi_dtype_size(x->dtype) == 0 || mi_dtype_size(x->dtype) > 8)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(x->dtype));
    cn->kind = MI__CU_K_GATHER;
    mi__cu_gather_make(x, idx, cn->p.u.axis.axis, &cn->u.gather);
    return MI_OK;
}

static mi_status prepare_softmax(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    mi_status st;
    if ((st = want_float(g, n, 1)) ||
        (st = mi__cu_softmax_make(n, x, cn->p.u.softmax.axis, cn->p.u.softmax.coerce_2d, &cn->u.softmax)))
        return st;
    mi__cu_nd_set(&cn->u.softmax.nd, x->dtype, 0);
    cn->kind = MI__CU_K_SOFTMAX;
    return mi__cu_dnn_softmax_prepare(n, &cn->u.softmax, &cn->dnn);
}

static mi_status prepare_cast(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (!mi__dtype_castable(x->dtype) || !mi__dtype_castable(y->dtype))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "cast from %s to %s", mi_dtype_name(x->dtype),
                                 mi_dtype_name(y->dtype));
    cn->kind = MI__CU_K_CAST;
    cn->u.cast.from = (int)x->dtype;
    cn->u.cast.to = (int)y->dtype;
    cn->u.cast.n = mi_tensor_numel(x);
    return MI_OK;
}

/* kernels/math.h's element ops: one kernel, any stored dtype. Min and
 * Max take one or two inputs here (exporters give two). */
static mi_status prepare_math(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *y = out_t(g, n, 0);
    if (n->ninputs > 3 || ((n->op == MI_OP_MIN || n->op == MI_OP_MAX) && n->ninputs > 2))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "%d inputs; the CUDA backend runs %s on at most two",
                                 n->ninputs, mi_op_name(n->op));
    if ((n->op == MI_OP_MIN || n->op == MI_OP_MAX) && n->ninputs == 1) {
        cn->kind = MI__CU_K_VIEW_COPY;
        return MI_OK;
    }
    for (int k = 0; k < n->ninputs; k++)
        if (!mi__node_in(g, n, k)) return mi__cu_node_error(n, MI_ERR_GRAPH, "input %d is missing", k);
    cn->kind = MI__CU_K_MATH;
    cn->u.math.op = mi__op_math(n->op, cn->p.u.math.variant);
    cn->u.math.n = mi_tensor_numel(y);
    mi__cu_math_make(g, n, &cn->u.math.w, cn->u.math.xt, &cn->u.math.yt);
    return MI_OK;
}

static mi_status prepare_layer_norm(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0);
    mi_status st = want_float(g, n, n->ninputs);
    if (st) return st;
    cn->kind = MI__CU_K_LAYER_NORM;
    cn->u.layer_norm.rows = cn->u.layer_norm.inner = 1;
    for (int k = 0; k < x->ndim; k++) {
        if (k < cn->p.u.layer_norm.axis) cn->u.layer_norm.rows *= x->dims[k];
        else cn->u.layer_norm.inner *= x->dims[k];
    }
    cn->u.layer_norm.eps = cn->p.u.layer_norm.epsilon;
    return MI_OK;
}

/* Expand (a broadcast copy), Tile (a copy over [repeat, extent] axes). */
static mi_status prepare_expand_tile(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (mi_dtype_size(x->dtype) == 0 || mi_dtype_size(x->dtype) > 8)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(x->dtype));
    cn->kind = MI__CU_K_STRIDED;
    if (n->op == MI_OP_EXPAND) {
        mi__cu_copy_broadcast(x, y->ndim, y->dims, &cn->u.copy);
        return MI_OK;
    }
    if (!mi__cu_copy_tile(x, y, &cn->u.copy))
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "Tile of rank %d; the CUDA backend tiles rank 4 at most",
                                 x->ndim);
    return MI_OK;
}

static mi_status prepare_trilu(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *kt = mi__node_in(g, n, 1);
    if (x->ndim < 2) return mi__cu_node_error(n, MI_ERR_SHAPE, "the input must have rank >= 2");
    cn->kind = MI__CU_K_TRILU;
    cn->u.trilu.rows = x->dims[x->ndim - 2];
    cn->u.trilu.cols = x->dims[x->ndim - 1];
    cn->u.trilu.n = mi_tensor_numel(x);
    cn->u.trilu.upper = cn->p.u.trilu.upper;
    cn->u.trilu.esize = (int)mi_dtype_size(x->dtype);
    if (kt) {
        const void *v = mi__graph_value(g, n->inputs[1]);
        if (!v) return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "k must be known at load time");
        cn->u.trilu.k = mi_k_load_i((int)kt->dtype, v);
    }
    return MI_OK;
}

/* ScatterND: a copy of the data, then the updates (no reduction: with
 * one, repeated indices would race between threads). */
static mi_status prepare_scatter(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *it = mi__node_in(g, n, 1), *u = mi__node_in(g, n, 2);
    if (cn->p.u.scatter.reduction)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "ScatterND with a reduction (the CPU backend runs it)");
    if (mi_dtype_size(x->dtype) == 0 || mi_dtype_size(x->dtype) > 8)
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "dtype %s", mi_dtype_name(x->dtype));
    cn->kind = MI__CU_K_SCATTER;
    cn->u.scatter.k = (int)it->dims[it->ndim - 1];
    cn->u.scatter.r = x->ndim;
    cn->u.scatter.it = (int)it->dtype;
    cn->u.scatter.dt = (int)x->dtype;
    cn->u.scatter.n = mi_tensor_numel(u);
    cn->u.scatter.slice = 1;
    for (int i = 0; i < x->ndim; i++) {
        cn->u.scatter.dims[i] = x->dims[i];
        if (i >= cn->u.scatter.k) cn->u.scatter.slice *= x->dims[i];
    }
    return MI_OK;
}

/* Range and ConstantOfShape (when folding is off): their values are known
 * at load (shape inference needs them), filled like a Constant. */
static mi_status prepare_values(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *y = out_t(g, n, 0);
    size_t es = mi_dtype_size(y->dtype);
    int64_t count = mi_tensor_numel(y);
    cn->kind = MI__CU_K_BYTES;
    cn->u.bytes.n = y->nbytes;
    if (!(cn->u.bytes.own = mi__malloc(y->nbytes ? y->nbytes : 1)))
        return mi__cu_node_error(n, MI_ERR_NO_MEMORY, "%zu bytes of values", y->nbytes);
    cn->u.bytes.data = cn->u.bytes.own;
    if (n->op == MI_OP_CONSTANT_OF_SHAPE) {
        const mi_attr *a = mi_node_attr(n, "value");
        mi_k_splat_fill(a && a->tensor >= 0 ? mi__graph_value(g, a->tensor) : NULL, es, cn->u.bytes.own, count);
        return MI_OK;
    }
    const void *v0 = mi__graph_value(g, n->inputs[0]), *vd = mi__graph_value(g, n->inputs[2]);
    if (!v0 || !vd) return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "start and delta must be known at load time");
    mi_k_range_fill((int)y->dtype, v0, vd, cn->u.bytes.own, count);
    return MI_OK;
}

/* The layout pass's conversions: one strided copy. */
static mi_status prepare_relayout(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (x->nbytes != y->nbytes || x->ndim != y->ndim || mi_dtype_size(x->dtype) == 0 || mi_dtype_size(x->dtype) > 8)
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "input and output differ in size or dtype");
    cn->kind = MI__CU_K_RELAYOUT;
    mi__cu_copy_relayout(x, y, &cn->u.relayout);
    return MI_OK;
}

/* What every op shares: the node's previous state released, its
 * attributes read, input 0 and output 0 present (Constant has no input;
 * Split may omit outputs). */
static mi_status prepare_reset(const mi_graph *g, const mi_node *n, mi__cu_node *cn) {
    mi_status st;
    mi__cu_node_release(cn);
    if ((st = mi__op_params_get(g, n, &cn->p))) return st;
    const mi_tensor *x = mi__node_in(g, n, 0), *y = out_t(g, n, 0);
    if (n->op != MI_OP_CONSTANT && (!x || (!y && n->op != MI_OP_SPLIT)))
        return mi__cu_node_error(n, MI_ERR_GRAPH, "needs input 0 and output 0");
    cn->dtype = x ? (int)x->dtype : 0;
    return mi__cu_check_layouts(g, n);
}

static mi_status prepare_dispatch(mi__cu_backend *cb, const mi_backend_options *o, const mi_graph *g,
                                  const mi_node *n, mi__cu_node *cn, size_t *ws) {
    switch (n->op) {
    case MI_OP_CONV: return prepare_conv(cb, o, g, n, cn, ws);
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID: case MI_OP_HARD_SWISH:
        return prepare_unary(g, n, cn);
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: return prepare_binary(g, n, cn);
    case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: return prepare_pool(g, n, cn);
    case MI_OP_GLOBAL_AVERAGE_POOL: case MI_OP_REDUCE_MEAN: return prepare_reduce(g, n, cn);
    case MI_OP_PAD: return prepare_pad(g, n, cn);
    case MI_OP_BATCH_NORM: case MI_OP_LRN: return prepare_norm(g, n, cn);
    case MI_OP_GEMM: case MI_OP_MATMUL: return prepare_blas(cb, g, n, cn, ws);
    case MI_OP_FLATTEN: case MI_OP_RESHAPE: case MI_OP_SQUEEZE: case MI_OP_UNSQUEEZE:
    case MI_OP_IDENTITY: case MI_OP_DROPOUT:
        return prepare_view_copy(g, n, cn);
    case MI_OP_TRANSPOSE: case MI_OP_SLICE: return prepare_strided(g, n, cn);
    case MI_OP_CONCAT: return prepare_parts(g, n, cn, 0);
    case MI_OP_SPLIT: return prepare_parts(g, n, cn, 1);
    case MI_OP_CONSTANT: case MI_OP_SHAPE: return prepare_bytes(g, n, cn);
    case MI_OP_GATHER: return prepare_gather(g, n, cn);
    case MI_OP_SOFTMAX: return prepare_softmax(g, n, cn);
    case MI_OP_CAST: return prepare_cast(g, n, cn);
    case MI_OP_RELAYOUT: return prepare_relayout(g, n, cn);
    case MI_OP_ERF: case MI_OP_POW: case MI_OP_SQRT: case MI_OP_RECIPROCAL: case MI_OP_NEG: case MI_OP_TANH:
    case MI_OP_EXP: case MI_OP_LOG: case MI_OP_WHERE: case MI_OP_EQUAL: case MI_OP_LESS: case MI_OP_GREATER:
    case MI_OP_NOT: case MI_OP_AND: case MI_OP_MOD: case MI_OP_MIN: case MI_OP_MAX: case MI_OP_GELU:
        return prepare_math(g, n, cn);
    case MI_OP_LAYER_NORM: return prepare_layer_norm(g, n, cn);
    case MI_OP_REDUCE_SUM: case MI_OP_REDUCE_MAX: return prepare_reduce(g, n, cn);
    case MI_OP_EXPAND: case MI_OP_TILE: return prepare_expand_tile(g, n, cn);
    case MI_OP_TRILU: return prepare_trilu(g, n, cn);
    case MI_OP_RANGE: case MI_OP_CONSTANT_OF_SHAPE: return prepare_values(g, n, cn);
    case MI_OP_SCATTER_ND: return prepare_scatter(g, n, cn);
    default:
        return mi__cu_node_error(n, MI_ERR_UNSUPPORTED, "the CUDA backend has no kernel for %s",
                                 mi_op_name(n->op));
    }
}

/* Whether the prepared node's run goes through cuDNN. */
static int cudnn_path(const mi__cu_node *cn) {
    switch (cn->kind) {
    case MI__CU_K_CONV: case MI__CU_K_SOFTMAX: return 1;
    case MI__CU_K_POOL: return cn->u.pool.use_cudnn;
    case MI__CU_K_BATCH_NORM: case MI__CU_K_LRN: return cn->u.chan.use_cudnn;
    default: return 0;
    }
}

mi_status mi__cu_prepare_node(mi__cu_backend *cb, mi__cu_prep *p, const mi_backend_options *o, size_t index,
                              size_t *ws) {
    const mi_graph *g = p->graph;
    const mi_node *n = mi_graph_node(g, index);
    mi__cu_node *cn = &p->nodes[index];
    mi_status st;
    *ws = 0;
    if ((st = prepare_reset(g, n, cn)) || (st = prepare_dispatch(cb, o, g, n, cn, ws))) return st;
    cn->libs = mi__cu_op_libs(n->op, cudnn_path(cn));
    p->libs |= cn->libs;
    pthread_mutex_lock(&cb->lock);
    cb->libs |= cn->libs;
    pthread_mutex_unlock(&cb->lock);
    return MI_OK;
}

/* ---- run ------------------------------------------------------------------------------------ */

typedef struct call {
    mi__cu_backend *cb;
    mi__cu_ctx *cx;
    const mi_node_args *a;
    const mi_node *n;
    mi__cu_node *cn;
    cudaStream_t s;
} call;

static void *in(const call *c, int k) { return k < c->n->ninputs ? c->a->in[k] : NULL; }
static void *out(const call *c, int k) { return k < c->n->noutputs ? c->a->out[k] : NULL; }

/* A planned copy: cudaMemcpyAsync when it is one block, else our kernel. */
static mi_status copy_plan(const call *c, const void *src, void *dst, const mi__k_copy *p) {
    if (p->count == 0) return MI_OK;
    if (mi__cu_copy_is_memcpy(p))
        return mi__cu_rt_copy_async(c->s, (char *)dst + p->dst_off * p->esize,
                                    (const char *)src + p->src_off * p->esize,
                                    (size_t)p->count * (size_t)p->esize, c->n);
    return mi__cu_rt_launch(mi__k_launch_copy(src, dst, *p, c->s), c->n, "copy");
}

static mi_status run_conv(const call *c) {
    mi__cu_node *cn = c->cn;
    const mi__cu_conv *cv = &cn->u.conv.c;
    char *base;
    mi_status st = mi__cu_ws_base(c->n, c->a->workspace, c->a->workspace_size, &cn->ws, &base);
    if (st) return st;
    void *algo_ws = cn->ws.algo ? base + cn->ws.algo_off : NULL;
    const void *x = in(c, 0), *w = in(c, 1), *bias = in(c, 2);
    void *y = out(c, 0);
    const void *r = cv->has_residual ? c->a->residual : NULL;
    if (!x || !w || !y || (cv->has_residual && !r))
        return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "an input, the output or the residual has no memory");
    if (cv->prepad) {
        void *xp = base + cn->ws.prepad_off;
        if ((st = mi__cu_rt_launch(mi__k_launch_pad(x, xp, cv->prepad_k, c->s), c->n, "pre-pad"))) return st;
        x = xp;
    }
    /* The graph API's plan, unless the residual is planned in place (the
     * legacy path accumulates onto it) or the plan failed once. */
    if (cn->u.conv.graph && !(r && r == (const void *)y) &&
        !atomic_load_explicit(&cn->u.conv.graph_failed, memory_order_relaxed)) {
        st = mi__cu_dnn_fused_run(c->cx->dnn, c->n, cn->u.conv.graph, x, w, bias, r, y, algo_ws);
        if (st != MI_ERR_UNSUPPORTED) return st;
        mi__logf(c->cb->verbose ? c->cb->log : NULL, c->cb->log_user,
                 "cuda: conv '%s': the graph API's plan failed (%s); using the legacy path", c->n->name, mi_last_error());
        mi_clear_error();
        atomic_store_explicit(&cn->u.conv.graph_failed, 1, memory_order_relaxed);
    }
    mi__cu_conv_path path = cn->u.conv.choice.path;
    if (path == MI__CU_CONV_FUSED && atomic_load_explicit(&cn->u.conv.fused_failed, memory_order_relaxed))
        path = MI__CU_CONV_EPILOGUE;
    if (path == MI__CU_CONV_FUSED) {
        const void *b = bias;
        if (!b) {
            void *zeros = base + cn->ws.bias_off; /* all-zero bits: 0 in every float dtype */
            if ((st = mi__cu_rt_memset_async(c->s, zeros, 0, cn->ws.bias, c->n))) return st;
            b = zeros;
        }
        /* y = act(conv(x) + z + bias): z is the residual (which may be y
         * itself: cuDNN allows z == y), or y scaled by 0. */
        st = mi__cu_dnn_conv_run(c->cx->dnn, c->n, cn->dnn, 1, x, w, b, r ? r : y, r ? 1.0f : 0.0f, 0.0f, y,
                                 algo_ws, cn->ws.algo);
        /* Only cuDNN refusing the fused form for this configuration falls
         * back (to the plain forward and our epilogue, the same result);
         * any other error, e.g. in a capture, is the run's. */
        if (st != MI_ERR_UNSUPPORTED) return st;
        mi__logf(c->cb->verbose ? c->cb->log : NULL, c->cb->log_user,
                 "cuda: conv '%s': the fused call failed (%s); using the plain forward and our epilogue",
                 c->n->name, mi_last_error());
        mi_clear_error();
        atomic_store_explicit(&cn->u.conv.fused_failed, 1, memory_order_relaxed);
        path = MI__CU_CONV_EPILOGUE;
    }
    /* A residual already in y (planned in place) is accumulated by the
     * convolution itself (beta 1); any other is added by the epilogue. */
    int acc = r && (const void *)r == (const void *)y;
    if ((st = mi__cu_dnn_conv_run(c->cx->dnn, c->n, cn->dnn, 0, x, w, NULL, NULL, 0.0f, acc ? 1.0f : 0.0f, y,
                                  algo_ws, cn->ws.algo)))
        return st;
    if (path == MI__CU_CONV_PLAIN) return MI_OK;
    const void *radd = r && !acc ? r : NULL;
    if (!bias && !radd && cv->act == MI_ACT_NONE) return MI_OK;
    return mi__cu_rt_launch(mi__k_launch_epilogue((int)cv->dtype, y, bias, radd, cv->out_count, cv->out_channels,
                                                  cv->out_inner, cv->act, cv->act_min, cv->act_max, c->s),
                            c->n, "conv epilogue");
}

/* A fused linear layer: cuBLASLt's one call (and the exact GELU after its
 * bias epilogue), or, where cuBLASLt has no algorithm or refused once, the
 * GEMM, our bias epilogue and the math kernel's GELU: the same result. */
static mi_status run_linear(const call *c, const void *a, const void *b, void *y, void *ws) {
    mi__cu_node *cn = c->cn;
    const mi__cu_linear *l = &cn->u.matmul.m.lin;
    const void *bias = in(c, 2);
    if (!bias) return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "the fused bias has no memory");
    int64_t numel = l->rows * l->cols;
    mi_status st;
    int fused = cn->u.matmul.lt && !atomic_load_explicit(&cn->u.matmul.lt_failed, memory_order_relaxed);
    if (fused) {
        st = mi__cu_lt_run(c->cb->lt, c->n, cn->u.matmul.lt, a, b, bias, y, ws, cn->ws.algo, c->s);
        if (st == MI_OK) {
            if (!l->post_gelu) return MI_OK;
            const void *xs[1] = {y};
            const int xt[1] = {cn->dtype};
            return mi__cu_rt_launch(mi__k_launch_math(MI_K_UN_GELU, l->walk, xs, xt, y, cn->dtype, numel, c->s), c->n,
                                    "gelu");
        }
        /* Only cuBLASLt refusing this call falls back; any other error
         * (e.g. in a capture) is the run's. */
        if (st != MI_ERR_UNSUPPORTED) return st;
        mi__logf(c->cb->verbose ? c->cb->log : NULL, c->cb->log_user,
                 "cuda: MatMul '%s': the fused call failed (%s); the GEMM and our epilogue instead", c->n->name,
                 mi_last_error());
        mi_clear_error();
        atomic_store_explicit(&cn->u.matmul.lt_failed, 1, memory_order_relaxed);
    }
    if ((st = mi__cu_blas_bind(c->cx->blas, c->s, ws, cn->ws.algo, c->n)) ||
        (st = mi__cu_blas_run(c->cx->blas, c->n, &cn->u.matmul.m.call, 1.0f, a, b, 0.0f, y)) ||
        (st = mi__cu_rt_launch(mi__k_launch_epilogue(cn->dtype, y, bias, NULL, numel, l->cols, 1, l->fallback_act,
                                                     0.0f, 0.0f, c->s), c->n, "bias epilogue")))
        return st;
    if (l->gelu_op < 0) return MI_OK;
    const void *xs[1] = {y};
    const int xt[1] = {cn->dtype};
    return mi__cu_rt_launch(mi__k_launch_math(l->gelu_op, l->walk, xs, xt, y, cn->dtype, numel, c->s), c->n, "gelu");
}

static mi_status run_blas(const call *c) {
    mi__cu_node *cn = c->cn;
    char *base;
    mi_status st = mi__cu_ws_base(c->n, c->a->workspace, c->a->workspace_size, &cn->ws, &base);
    if (st) return st;
    const void *a = in(c, 0), *b = in(c, 1);
    void *y = out(c, 0);
    if (!a || !b || !y) return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "an input or the output has no memory");
    void *ws = cn->ws.algo ? base + cn->ws.algo_off : NULL;
    if (cn->kind == MI__CU_K_MATMUL && cn->u.matmul.m.lin.epi != MI__CU_EPI_NONE) return run_linear(c, a, b, y, ws);
    if ((st = mi__cu_blas_bind(c->cx->blas, c->s, ws, cn->ws.algo, c->n))) return st;
    if (cn->kind == MI__CU_K_MATMUL) return mi__cu_blas_run(c->cx->blas, c->n, &cn->u.matmul.m.call, 1.0f, a, b, 0.0f, y);
    const mi__cu_gemm *gm = &cn->u.gemm;
    if (gm->has_c) {
        const void *cm = in(c, 2);
        if (!cm) return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "input C has no memory");
        if ((st = copy_plan(c, cm, y, &gm->c_copy))) return st;
    }
    if ((st = mi__cu_blas_run(c->cx->blas, c->n, &gm->call, gm->alpha, a, b, gm->beta, y))) return st;
    const mi_fusion *f = &c->n->fused;
    if (f->act == MI_ACT_NONE && f->residual < 0) return MI_OK;
    const void *r = f->residual >= 0 ? c->a->residual : NULL;
    if (r == y) return mi__cu_node_error(c->n, MI_ERR_UNSUPPORTED, "a Gemm residual planned in place");
    return mi__cu_rt_launch(mi__k_launch_epilogue((int)gm->dtype, y, NULL, r, (int64_t)gm->call.m * gm->call.n, 1, 1,
                                                  (int)f->act, f->act_min, f->act_max, c->s),
                            c->n, "gemm epilogue");
}

/* cuDNN does not promise in-place batch norm; the in-place contract holds
 * with our kernel, whose threads read and write one element. */
static mi_status run_batch_norm(const call *c) {
    const mi__cu_node *cn = c->cn;
    const mi__cu_chan *ch = &cn->u.chan.ch;
    const void *x = in(c, 0), *sc = in(c, 1), *bi = in(c, 2), *mean = in(c, 3), *var = in(c, 4);
    void *y = out(c, 0);
    if (!sc || !bi || !mean || !var) return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "a parameter has no memory");
    if (cn->u.chan.use_cudnn && x != y)
        return mi__cu_dnn_bn_run(c->cx->dnn, c->n, cn->dnn, x, y, sc, bi, mean, var, cn->p.u.batch_norm.epsilon);
    return mi__cu_rt_launch(mi__k_launch_batch_norm(cn->dtype, x, y, sc, bi, mean, var, cn->p.u.batch_norm.epsilon,
                                                    ch->n * ch->c * ch->inner, ch->c, ch->inner, c->s),
                            c->n, "batch norm");
}

static mi_status run_lrn(const call *c) {
    const mi__cu_node *cn = c->cn;
    const mi__cu_chan *ch = &cn->u.chan.ch;
    const void *x = in(c, 0);
    void *y = out(c, 0);
    if (cn->u.chan.use_cudnn) return mi__cu_dnn_lrn_run(c->cx->dnn, c->n, cn->dnn, x, y);
    const mi__lrn_params *p = &cn->p.u.lrn;
    return mi__cu_rt_launch(mi__k_launch_lrn(cn->dtype, x, y, ch->n * ch->c * ch->inner, ch->c, ch->inner, p->size, p->alpha,
                                             p->beta, p->bias, c->s),
                            c->n, "lrn");
}

static mi_status run_view_copy(const call *c) {
    const mi_graph *g = c->a->graph;
    const mi_node *n = c->n;
    const mi_tensor *xt = mi__node_in(g, n, 0);
    mi_status st;
    if ((st = mi__cu_rt_copy_async(c->s, out(c, 0), in(c, 0), xt->nbytes, n))) return st;
    if (n->op == MI_OP_DROPOUT && out(c, 1)) { /* inference: nothing dropped, the mask is all true */
        const mi_tensor *mt = out_t(g, n, 1);
        return mi__cu_rt_launch(mi__k_launch_splat(out(c, 1), 1, (int)mi_dtype_size(mt->dtype), mi_tensor_numel(mt),
                                                   c->s),
                                n, "mask");
    }
    return MI_OK;
}

static mi_status run_concat(const call *c) {
    const mi__cu_node *cn = c->cn;
    mi_status st;
    for (int i = 0; i < cn->u.parts.n; i++) {
        if (!in(c, i)) return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "input %d has no memory", i);
        if ((st = copy_plan(c, in(c, i), out(c, 0), &cn->u.parts.parts[i]))) return st;
    }
    return MI_OK;
}

/* Split's omitted outputs are skipped. */
static mi_status run_split(const call *c) {
    const mi__cu_node *cn = c->cn;
    const void *x = in(c, 0);
    mi_status st;
    if (!x) return mi__cu_node_error(c->n, MI_ERR_INVALID_ARG, "input 0 has no memory");
    for (int i = 0; i < cn->u.parts.n; i++)
        if (out(c, i) && (st = copy_plan(c, x, out(c, i), &cn->u.parts.parts[i]))) return st;
    return MI_OK;
}

static mi_status dispatch(const call *c) {
    mi__cu_node *cn = c->cn;
    const mi_node *n = c->n;
    void *x = in(c, 0), *y = out(c, 0);
    if (cn->kind != MI__CU_K_BYTES && cn->kind != MI__CU_K_SPLIT && (!x || !y))
        return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "input 0 or output 0 has no memory");
    switch (cn->kind) {
    case MI__CU_K_CONV: return run_conv(c);
    case MI__CU_K_GEMM: case MI__CU_K_MATMUL: return run_blas(c);
    case MI__CU_K_UNARY:
        return mi__cu_rt_launch(mi__k_launch_unary(cn->u.unary.op, cn->u.unary.dtype, x, y, cn->u.unary.n,
                                                   cn->u.unary.a, cn->u.unary.b, cn->u.unary.ia, cn->u.unary.ib,
                                                   c->s),
                                n, "unary");
    case MI__CU_K_BINARY:
        if (!in(c, 1)) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "input 1 has no memory");
        return mi__cu_rt_launch(mi__k_launch_binary(cn->u.binary.op, cn->u.binary.dtype, x, in(c, 1), y,
                                                    cn->u.binary.n, cn->u.binary.bc, c->s),
                                n, "binary");
    case MI__CU_K_POOL:
        if (cn->u.pool.use_cudnn) return mi__cu_dnn_pool_run(c->cx->dnn, n, cn->dnn, x, y);
        return mi__cu_rt_launch(mi__k_launch_pool(cn->dtype, x, y, cn->u.pool.k, c->s), n, "pool");
    case MI__CU_K_REDUCE:
        return mi__cu_rt_launch(mi__k_launch_reduce(cn->dtype, n->op == MI_OP_REDUCE_SUM   ? MI__K_REDUCE_SUM
                                                           : n->op == MI_OP_REDUCE_MAX ? MI__K_REDUCE_MAX
                                                                                       : MI__K_REDUCE_MEAN,
                                                    x, y, cn->u.reduce, c->s),
                                n, "reduce");
    case MI__CU_K_MATH: {
        const void *xs[3] = {x, in(c, 1), in(c, 2)};
        for (int k = 1; k < cn->u.math.w.nops; k++)
            if (!xs[k]) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "input %d has no memory", k);
        return mi__cu_rt_launch(mi__k_launch_math(cn->u.math.op, cn->u.math.w, xs, cn->u.math.xt, y, cn->u.math.yt,
                                                  cn->u.math.n, c->s),
                                n, "element math");
    }
    case MI__CU_K_LAYER_NORM: {
        const void *scale = in(c, 1), *bias = in(c, 2);
        if (!scale) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "the scale has no memory");
        return mi__cu_rt_launch(mi__k_launch_layer_norm(cn->dtype, x, scale, bias, y, out(c, 1), out(c, 2),
                                                        cn->u.layer_norm.rows, cn->u.layer_norm.inner,
                                                        cn->u.layer_norm.eps, c->s),
                                n, "layer norm");
    }
    case MI__CU_K_SCATTER: {
        mi_status st;
        if (!in(c, 1) || !in(c, 2)) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "indices or updates have no memory");
        if (y != x && (st = mi__cu_rt_copy_async(c->s, y, x, mi__node_in(c->a->graph, n, 0)->nbytes, n))) return st;
        return mi__cu_rt_launch(mi__k_launch_scatter_nd(y, in(c, 1), cn->u.scatter.it, in(c, 2), cn->u.scatter.dt,
                                                        cn->u.scatter.slice, cn->u.scatter.k, cn->u.scatter.r,
                                                        cn->u.scatter.dims, cn->u.scatter.n, c->s),
                                n, "scatter");
    }
    case MI__CU_K_TRILU:
        return mi__cu_rt_launch(mi__k_launch_trilu(x, y, cn->u.trilu.esize, cn->u.trilu.rows, cn->u.trilu.cols,
                                                   cn->u.trilu.k, cn->u.trilu.upper, cn->u.trilu.n, c->s),
                                n, "trilu");
    case MI__CU_K_RELAYOUT: return copy_plan(c, x, y, &cn->u.relayout);
    case MI__CU_K_PAD: return mi__cu_rt_launch(mi__k_launch_pad(x, y, cn->u.pad, c->s), n, "pad");
    case MI__CU_K_BATCH_NORM: return run_batch_norm(c);
    case MI__CU_K_LRN: return run_lrn(c);
    case MI__CU_K_VIEW_COPY: return run_view_copy(c);
    case MI__CU_K_STRIDED: return copy_plan(c, x, y, &cn->u.copy);
    case MI__CU_K_CONCAT: return run_concat(c);
    case MI__CU_K_SPLIT: return run_split(c);
    case MI__CU_K_BYTES:
        if (!y) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "output 0 has no memory");
        return mi__cu_rt_launch(mi__k_launch_fill(y, cn->u.bytes.data, cn->u.bytes.n, c->s), n, "fill");
    case MI__CU_K_GATHER:
        if (!in(c, 1)) return mi__cu_node_error(n, MI_ERR_INVALID_ARG, "indices have no memory");
        return mi__cu_rt_launch(mi__k_launch_gather(x, in(c, 1), y, cn->u.gather, c->s), n, "gather");
    case MI__CU_K_SOFTMAX: return mi__cu_dnn_softmax_run(c->cx->dnn, n, cn->dnn, x, y);
    case MI__CU_K_CAST:
        if (cn->u.cast.from == cn->u.cast.to)
            return mi__cu_rt_copy_async(c->s, y, x, mi__node_in(c->a->graph, n, 0)->nbytes, n);
        return mi__cu_rt_launch(mi__k_launch_cast(cn->u.cast.from, cn->u.cast.to, x, y, cn->u.cast.n, c->s), n,
                                "cast");
    }
    return mi__cu_node_error(n, MI_ERR_INTERNAL, "node was not prepared");
}

mi_status mi__cu_run_node(mi__cu_backend *cb, mi__cu_ctx *cx, const mi_node_args *a) {
    const mi_node *n = a->node;
    mi_status st;
    const mi__cu_prep *p = cx->prep;
    if (!n || !p || a->graph != p->graph || a->index >= p->nnodes || !p->nodes[a->index].kind)
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "run() for a node prepare() did not see");
    pthread_mutex_lock(&cb->lock);
    st = mi__cu_check_args(&cb->regions, a);
    pthread_mutex_unlock(&cb->lock);
    if (st) return st;
    call c = {cb, cx, a, n, &p->nodes[a->index], cx->stream};
    if (((c.cn->libs & MI__CU_LIB_DNN) && !cx->dnn) || ((c.cn->libs & MI__CU_LIB_BLAS) && !cx->blas))
        return mi__cu_node_error(n, MI_ERR_INTERNAL, "the context has no handle of the library this node calls "
                                 "(created before the model was prepared?)");
    mi__cu_range_push_node(n);
    cx->open_ranges++;
    st = dispatch(&c);
    mi__cu_range_pop();
    cx->open_ranges--;
    if (!st && cb->debug_sync && !cx->capturing) st = mi__cu_rt_stream_sync(c.s, n, "after the node");
    return st;
}
