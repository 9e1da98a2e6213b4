/* Everything the CUDA backend decides on the host, as plain C that needs
 * no device and no CUDA header: descriptor parameters computed from the
 * graph (dims, strides, pads, groups, dilation, layout), the choice of a
 * convolution algorithm from cuDNN's ranking under a workspace budget, the
 * layout of a node's workspace, the strided-copy and reduction plans of
 * our own kernels, the registry of device pools with its pointer checks,
 * and the capture order. tests/test_cuda_host.c (the plans) and
 * tests/test_cuda_lib.c (the pools, pointer checks and capture order) test
 * all of it on a machine without a GPU; the wrappers (lib_*.c) only
 * translate these structs into library calls.
 *
 * Tensors are packed NCHW (NCDHW), or NHWC where the layout pass chose
 * channels last (mi_tensor.layout): cuDNN then gets the dims in NCHW
 * order with NHWC strides, our kernels the storage order. Float tensors
 * are float, float16 or bfloat16; half ones compute in fp32 (cuDNN's
 * compute type, cuBLAS's CUBLAS_COMPUTE_32F, our kernels' loads). cuDNN takes int dims: every helper
 * here that feeds cuDNN checks that dims and element counts fit an int
 * and reports MI_ERR_UNSUPPORTED naming the node when they do not. */
#ifndef MI_CUDA_HOST_PLAN_H
#define MI_CUDA_HOST_PLAN_H

#include "graph/graph_internal.h"
#include "index_math.h"
#include "mini_infer/backend.h"
#include "graph/op_params.h"

/* Alignment of every part of a workspace (cuBLAS wants 256 bytes), and
 * the slack each workspace request adds so the parts can be aligned
 * whatever the plan's alignment is. */
#define MI__CU_WS_ALIGN ((size_t)256)
/* The per-node workspace budget when options.max_workspace is 0. */
#define MI__CU_DEFAULT_BUDGET ((size_t)64 << 20)
/* What a Gemm / MatMul node asks for cuBLAS (capped by the budget). */
#define MI__CU_BLAS_WORKSPACE ((size_t)4 << 20)

/* An error naming the node: "node 'x' (Conv): ...". */
mi_status mi__cu_node_error(const mi_node *n, mi_status st, const char *fmt, ...) MI__PRINTF(3, 4);

/* ---- tensors as cuDNN sees them ----------------------------------------------- */

typedef struct mi__cu_nd {
    int nb;                  /* 4 or 5 */
    int dims[MI_MAX_DIMS];   /* NCHW order */
    int strides[MI_MAX_DIMS]; /* packed: NCHW, or NHWC when nhwc */
    int nhwc;
    int dtype;               /* mi_dtype: float, float16 or bfloat16 */
} mi__cu_nd;

/* dims (nb of them) into a packed NCHW float mi__cu_nd; MI_ERR_UNSUPPORTED
 * naming the node and `what` when a dim or the element count exceeds
 * INT32_MAX. */
mi_status mi__cu_nd_make(const mi_node *n, const char *what, int nb, const int64_t *dims,
                         mi__cu_nd *out);
/* The same descriptor for a tensor of this dtype, stored NHWC when nhwc
 * (rank 4 only; NCHW otherwise). */
void mi__cu_nd_set(mi__cu_nd *nd, mi_dtype dtype, int nhwc);

/* float, float16 or bfloat16: the dtypes our float kernels, cuDNN and
 * cuBLAS run (half ones computing in fp32). */
static inline int mi__cu_float_type(mi_dtype t) { return mi__dtype_is_float(t); }
/* Whether node n runs channels last: its output 0 is stored NHWC. */
int mi__cu_node_nhwc(const mi_graph *g, const mi_node *n);
/* Every NHWC tensor of node n lies as an op the CUDA backend runs NHWC
 * expects it (the layout pass's contract): MI_ERR_UNSUPPORTED naming the
 * node and tensor otherwise. */
mi_status mi__cu_check_layouts(const mi_graph *g, const mi_node *n);

/* ---- convolution ------------------------------------------------------------------ */

typedef enum mi__cu_conv_path {
    MI__CU_CONV_PLAIN = 0,    /* cudnnConvolutionForward: no bias, no residual, no act */
    MI__CU_CONV_FUSED = 1,    /* cudnnConvolutionBiasActivationForward (ReLU or identity) */
    MI__CU_CONV_EPILOGUE = 2, /* cudnnConvolutionForward, then our epilogue kernel */
} mi__cu_conv_path;

typedef struct mi__cu_conv {
    int nspatial;            /* as cuDNN sees it: 2 or 3 (1-D is 2-D with H = 1) */
    mi_dtype dtype;          /* of x, w, b, y and the residual: float, float16, bfloat16 */
    int nhwc;                /* x, y, the residual stored NHWC; w [K, R, S, C/g] */
    mi__cu_nd x, xp, w, y, bias;
    int pad[3], stride[3], dilation[3];
    int groups;
    /* Asymmetric pads: the input is padded by the difference into the
     * workspace first (xp), and the convolution gets the symmetric rest. */
    int prepad;
    mi__k_pad prepad_k;
    int has_bias, has_residual;
    int act;                 /* MI_ACT_* */
    float act_min, act_max;
    int64_t out_channels, out_inner; /* y as [N, K, inner] for the epilogue (NHWC: inner 1) */
    int64_t out_count;
} mi__cu_conv;

mi_status mi__cu_conv_make(const mi_graph *g, const mi_node *n, const mi__conv_params *p,
                           mi__cu_conv *c);

/* A cuDNN forward algorithm as cudnnGetConvolutionForwardAlgorithm_v7
 * ranks them (fastest first), abstracted from cudnnConvolutionFwdAlgoPerf_t. */
typedef enum mi__cu_math { MI__CU_MATH_DEFAULT = 0, MI__CU_MATH_TENSOR = 1, MI__CU_MATH_FMA = 2 } mi__cu_math;
typedef struct mi__cu_algo {
    int algo;                /* cudnnConvolutionFwdAlgo_t */
    int ok;                  /* status CUDNN_STATUS_SUCCESS */
    size_t memory;           /* workspace bytes */
    mi__cu_math math;         /* the math type it was ranked with */
} mi__cu_algo;

#define MI__CU_ALGO_IMPLICIT_GEMM 0
#define MI__CU_ALGO_IMPLICIT_PRECOMP_GEMM 1
#define MI__CU_ALGO_COUNT 8
const char *mi__cu_algo_name(int algo);

typedef struct mi__cu_conv_choice {
    mi__cu_conv_path path;
    int index;               /* position in the ranking */
    int algo;
    mi__cu_math math;         /* the math type the descriptor gets */
} mi__cu_conv_choice;

/* The fastest usable entry of ranked[from..count): ok, within the budget,
 * no tensor-op math unless tensor_ok (TF32 allowed, or half precision), and, where the node needs the fused
 * identity form (bias or residual, no activation), IMPLICIT_PRECOMP_GEMM
 * when one fits (else the fastest with our epilogue). ReLU fuses with any
 * algorithm; Clip always takes the epilogue. Returns the index, or -1. */
int mi__cu_conv_pick(const mi__cu_conv *c, const mi__cu_algo *ranked, int count, int from,
                     size_t budget, int tensor_ok, mi__cu_conv_choice *out);
/* Whether a conv may use tensor-op math: half precision always, fp32
 * only with TF32 allowed. */
static inline int mi__cu_conv_tensor_ok(const mi__cu_conv *c, int tf32) {
    return tf32 || c->dtype != MI_DTYPE_FLOAT;
}

/* ---- cuDNN's graph API: a convolution and its epilogue as one op graph ---------- */

/* Tensor ids of the graph (cuDNN's unique ids): the five the variant pack
 * binds, then the virtual intermediates (fp32, never in memory). */
enum { MI__CU_FG_X = 1, MI__CU_FG_W, MI__CU_FG_B, MI__CU_FG_Z, MI__CU_FG_Y, MI__CU_FG_T0, MI__CU_FG_T1, MI__CU_FG_T2 };
#define MI__CU_FG_MAX_TENSORS 8
#define MI__CU_FG_MAX_OPS 4

typedef struct mi__cu_fg_tensor {
    int64_t uid;
    int64_t dims[4], strides[4]; /* NCHW order, NHWC strides */
    int dtype;                   /* mi_dtype */
    int is_virtual;
} mi__cu_fg_tensor;

typedef enum mi__cu_fg_kind { MI__CU_FG_CONV = 0, MI__CU_FG_ADD = 1, MI__CU_FG_RELU = 2 } mi__cu_fg_kind;

typedef struct mi__cu_fg_op {
    mi__cu_fg_kind kind;
    int64_t x, b, y;          /* uids (b: ADD's second operand, CONV's weight) */
    int clip;                 /* RELU with bounds: min(max(v, lo), hi) */
    double lo, hi;
} mi__cu_fg_op;

typedef struct mi__cu_fused {
    int ntensors, nops;
    mi__cu_fg_tensor t[MI__CU_FG_MAX_TENSORS];
    mi__cu_fg_op op[MI__CU_FG_MAX_OPS];
    int64_t pad[2], stride[2], dilation[2];
} mi__cu_fused;

/* Whether conv c runs as one graph of cuDNN's graph API: conv into an fp32
 * virtual tensor, + bias, + residual, then ReLU or Clip, stored into Y in
 * the half type. Only where fusing pays and runtime fusion engines take
 * it: float16 / bfloat16, channels last, 2-D, one group, something to fuse,
 * input and output channels multiples of 8 (16-byte rows). Returns 1 and
 * fills f; 0 with the reason in *why otherwise (the legacy path runs). */
int mi__cu_fused_make(const mi__cu_conv *c, mi__cu_fused *f, const char **why);

/* One engine configuration of cuDNN's heuristic list, as far as the
 * choice needs it. */
typedef struct mi__cu_engine_cfg {
    int usable;               /* 0 once a finalize failed, or queries did */
    size_t workspace;
    int runtime_compiled;     /* CUDNN_BEHAVIOR_NOTE_RUNTIME_COMPILATION: NVRTC at finalize */
} mi__cu_engine_cfg;

/* The first configuration of cfgs[from..n) worth finalizing: usable,
 * within the workspace budget, and compiled at run time only when allowed
 * (seconds per shape). The heuristics' order is kept (mode A, then the
 * fallback list appended by the caller). -1 when none is left. */
int mi__cu_engine_next(const mi__cu_engine_cfg *cfgs, int n, int from, size_t budget, int allow_rtc);

/* ---- a node's workspace --------------------------------------------------------- */

/* Parts at offsets from a MI__CU_WS_ALIGN-aligned base; `request` is what
 * prepare() asks the planner for (the parts plus the alignment slack). */
typedef struct mi__cu_ws {
    size_t algo_off, algo;       /* cuDNN / cuBLAS workspace */
    size_t prepad_off, prepad;   /* the padded input of an asymmetric conv */
    size_t bias_off, bias;       /* zeros for a fused conv without bias */
    size_t request;
} mi__cu_ws;

mi_status mi__cu_ws_make(const mi_node *n, size_t algo, size_t prepad, size_t bias, mi__cu_ws *w);
/* A convolution's workspace: the library part is the larger of the legacy
 * algorithm's (legacy_ws) and the graph API plan's (graph_ws, 0 without
 * one), as either may run; the pre-padded input in the conv's dtype; and
 * zeros for the legacy fused call when the conv has no bias. */
mi_status mi__cu_conv_ws(const mi_node *n, const mi__cu_conv *c, const mi__cu_conv_choice *choice, size_t legacy_ws,
                         size_t graph_ws, mi__cu_ws *w);
/* The aligned base inside the planned workspace [ws, ws + size); an error
 * naming the node when the parts do not fit (a plan smaller than asked). */
mi_status mi__cu_ws_base(const mi_node *n, void *ws, size_t size, const mi__cu_ws *w, char **base);

/* ---- pooling ------------------------------------------------------------------------ */

typedef struct mi__cu_pool {
    int use_cudnn;           /* else our kernel (k) */
    mi_dtype dtype;
    int nspatial;            /* cuDNN: 2 or 3 */
    mi__cu_nd x, y;
    int window[3], pad[3], stride[3];
    int max, include_pad;
    mi__k_pool k;
} mi__cu_pool;

/* MaxPool / AveragePool: cuDNN when it computes exactly ONNX's result
 * (no dilation, symmetric pads, output of the floor formula), else ours. */
mi_status mi__cu_pool_make(const mi_graph *g, const mi_node *n, const mi__pool_params *p,
                           mi__cu_pool *out);

/* ---- reductions, softmax, batch norm, LRN ---------------------------------------- */

/* ReduceMean over the flagged axes of dims (adjacent axes of the same kind
 * merged; size-1 axes dropped). */
void mi__cu_reduce_make(int ndim, const int64_t *dims, const int *reduce, mi__k_reduce *r);
/* The same over tensor x's storage order, for its flagged (logical) axes. */
void mi__cu_reduce_tensor(const mi_tensor *x, const int *reduce, mi__k_reduce *r);

/* Softmax as cuDNN's channel mode over a [outer, len, inner, 1] tensor. */
typedef struct mi__cu_softmax {
    int64_t outer, len, inner;
    mi__cu_nd nd;
} mi__cu_softmax;
mi_status mi__cu_softmax_make(const mi_node *n, const mi_tensor *x, int64_t axis, int coerce_2d,
                              mi__cu_softmax *s);

/* BatchNormalization / LRN over x viewed as [N, C, inner, 1]. */
typedef struct mi__cu_chan {
    int64_t n, c, inner;
    mi__cu_nd x, param;       /* param: [1, C, 1, 1] */
} mi__cu_chan;
mi_status mi__cu_chan_make(const mi_node *n, const mi_tensor *x, mi__cu_chan *ch);

/* Whether cuDNN's LRN takes these parameters (its limits on n, beta, k). */
int mi__cu_lrn_cudnn_ok(const mi__lrn_params *p);

/* ---- Gemm, MatMul ------------------------------------------------------------------ */

/* One column-major cuBLAS call computing a row-major product Y = op(A)
 * op(B) as Y^T = op(B)^T op(A)^T: cublasSgemm(opB, opA, m = N, n = M,
 * k = K, B, ldb, A, lda, Y, ldc). */
typedef struct mi__cu_blas {
    int trans_first, trans_second; /* for B (first operand) and A (second) */
    int m, n, k;                   /* cuBLAS's m, n, k */
    int ld_first, ld_second, ldc;
    int64_t batch;                 /* 1: a single gemm */
    int strided;                   /* batch > 1: one strided-batched call */
    int64_t stride_first, stride_second, stride_c; /* elements */
    mi_k_bcast bc;                 /* batch > 1, not strided: per-batch offsets */
    mi_dtype dtype;                /* of A, B and Y: float (Sgemm), float16 / bfloat16 (GemmEx, fp32 compute) */
    int64_t mat_first, mat_second; /* elements per matrix, for bc offsets */
} mi__cu_blas;

typedef struct mi__cu_gemm {
    mi__cu_blas call;
    mi_dtype dtype;              /* A, B, C, Y: float, float16 or bfloat16 */
    float alpha, beta;           /* beta 0 when there is no C */
    int has_c;
    mi__k_copy c_copy;           /* C broadcast into Y before the product */
} mi__cu_gemm;

mi_status mi__cu_gemm_make(const mi_graph *g, const mi_node *n, const mi__gemm_params *p,
                           mi__cu_gemm *gm);
/* B 2-D: A's batches fold into M, one GEMM (batch 1). */
mi_status mi__cu_matmul_make(const mi_graph *g, const mi_node *n, mi__cu_blas *b);

/* A fused linear layer (graph.h: MatMul with a bias input and an
 * activation) as one cuBLASLt call: its epilogue adds the bias to each
 * row of Y (cuBLAS's column) and applies ReLU or GELU. cuBLASLt's GELU is
 * the tanh approximation: the exact GELU runs as our kernel after a BIAS
 * epilogue (post_gelu). Without a cuBLASLt algorithm for it, the plain
 * GEMM and our epilogue kernels give the same result (fallback). */
typedef enum mi__cu_epi {
    MI__CU_EPI_NONE = 0,      /* not a fused linear layer */
    MI__CU_EPI_BIAS = 1,
    MI__CU_EPI_RELU_BIAS = 2,
    MI__CU_EPI_GELU_BIAS = 3, /* tanh approximation */
} mi__cu_epi;

typedef struct mi__cu_linear {
    mi__cu_epi epi;
    int post_gelu;         /* the exact GELU after the epilogue, in place */
    int64_t rows, cols;    /* Y as [rows, cols]; the bias has cols elements */
    /* The fallback: our bias epilogue with fallback_act (MI_ACT_*), then
     * the math kernel's gelu_op (-1: none) over Y as one flat walk. */
    int fallback_act, gelu_op;
    mi_k_nwalk walk;
} mi__cu_linear;

/* From the MatMul's fusion and its planned call (batch 1 required). */
mi_status mi__cu_linear_make(const mi_node *n, const mi__cu_blas *b, mi__cu_linear *l);

typedef struct mi__cu_matmul {
    mi__cu_blas call;
    mi__cu_linear lin;
} mi__cu_matmul;
/* Element offsets of batch i's A (second) and B (first) operands. */
void mi__cu_blas_batch_offsets(const mi__cu_blas *b, int64_t i, int64_t *first, int64_t *second);

/* ---- copies ---------------------------------------------------------------------------- */

/* 1 when the copy is one contiguous block on both sides (a memcpy). */
int mi__cu_copy_is_memcpy(const mi__k_copy *c);
void mi__cu_copy_transpose(const mi_tensor *x, const int *perm, mi__k_copy *c);
void mi__cu_copy_slice(const mi_tensor *x, const mi_tensor *y, const mi__slice_params *p,
                       mi__k_copy *c);
/* Concat: x into y at offset `at` along axis; Split: the part of x at `at`
 * along axis into y. */
void mi__cu_copy_concat(const mi_tensor *y, int axis, int64_t at, const mi_tensor *x, mi__k_copy *c);
void mi__cu_copy_split(const mi_tensor *x, int axis, int64_t at, const mi_tensor *y, mi__k_copy *c);
/* src (numpy-broadcastable to dims) into a packed tensor of dims. */
void mi__cu_copy_broadcast(const mi_tensor *src, int ndim, const int64_t *dims, mi__k_copy *c);

void mi__cu_pad_make(const mi_tensor *x, const mi_tensor *y, const mi__pad_params *p,
                     mi__k_pad *pad);
/* Tile: x repeated into y, one strided copy over 2 x rank dims (each
 * axis as [repeat, extent]); 0 when x's rank exceeds 4. */
int mi__cu_copy_tile(const mi_tensor *x, const mi_tensor *y, mi__k_copy *c);
/* The element math of kernels/math.h over node n's inputs (up to 3) into
 * its output: the broadcast walk and the dtypes. */
void mi__cu_math_make(const mi_graph *g, const mi_node *n, mi_k_nwalk *w, int *xt, int *yt);
/* Relayout: x's bytes into y's layout (same dims), one strided copy. */
void mi__cu_copy_relayout(const mi_tensor *x, const mi_tensor *y, mi__k_copy *c);
/* Concat (split 0) or Split (1) in the tensors' storage order: whole, the
 * part at `at` along logical axis `axis`, all of one layout. */
void mi__cu_copy_part(const mi_tensor *whole, int axis, int64_t at, const mi_tensor *part, int split,
                      mi__k_copy *c);
/* The broadcast of a binary op over its operands in the output's storage
 * order (an operand of another layout must be layout-neutral). */
void mi__cu_bcast_make(const mi_tensor *a, const mi_tensor *b, const mi_tensor *y, mi_k_bcast *bc);
void mi__cu_gather_make(const mi_tensor *x, const mi_tensor *idx, int64_t axis, mi__k_gather *gt);

/* ---- device pools and pointer checks -------------------------------------------------- */

typedef struct mi__cu_region {
    uintptr_t base;
    size_t size;
    char what[48];
} mi__cu_region;

typedef struct mi__cu_regions {
    mi__cu_region *v;
    size_t n, cap;
} mi__cu_regions;

mi_status mi__cu_regions_add(mi__cu_regions *r, const void *base, size_t size, const char *what);
/* Forgets the region at base; 0 when there was none. */
int mi__cu_regions_remove(mi__cu_regions *r, const void *base, size_t *size);
void mi__cu_regions_free(mi__cu_regions *r);
/* The region holding address p, or NULL. */
const mi__cu_region *mi__cu_regions_find(const mi__cu_regions *r, const void *p);

/* The pointers of one run() call: every tensor aligned to its element
 * size, inside the pool it starts in (pools are what alloc() gave;
 * memory outside them is the caller's and not checked), and overlapping
 * an input only as backend.h's in-place contract allows. */
mi_status mi__cu_check_args(const mi__cu_regions *r, const mi_node_args *a);

/* ---- the device footprint -------------------------------------------------------------- */

/* The per-thread stack limit to set when the backend opens, from
 * $MI_CUDA_STACK (request): unset or "" sets what our kernels need (ours:
 * their largest local memory per thread), rounded up to 16 bytes, at
 * least 16; "keep" leaves the driver's (*set 0); a byte count sets that,
 * if it holds ours. A library kernel needing more makes the driver raise
 * it at launch. MI_ERR_INVALID_ARG for anything else, naming the value. */
mi_status mi__cu_stack_choose(const char *request, size_t ours, size_t *bytes, int *set);
/* What a stack limit reserves on the device: per_thread for every thread
 * the SMs can hold resident; SIZE_MAX when that overflows. */
size_t mi__cu_stack_reservation(int sms, int threads_per_sm, size_t per_thread);
/* The warning for the driver's module loading mode (2 lazy, 1 eager, 0
 * unknown) and $CUDA_MODULE_LOADING (env, may be NULL); NULL when lazy. */
const char *mi__cu_loading_warning(int mode, const char *env);

/* The libraries a node calls, decided at prepare: the contexts create a
 * cuDNN or cuBLAS handle only when some node needs one. */
enum { MI__CU_LIB_DNN = 1, MI__CU_LIB_BLAS = 2 };
/* op, and whether its prepared path goes through cuDNN (pools, softmax,
 * batch norm, LRN have paths of ours too). */
unsigned mi__cu_op_libs(mi_op op, int cudnn_path);

/* process - pools - stack - graphs (0 where the parts exceed the whole:
 * NVML rounds, and a lazily grown stack may be counted before it is). */
size_t mi__cu_context_share(size_t process, size_t pools, size_t stack, size_t graphs);

/* ---- the capture order ------------------------------------------------------------------- */

/* The nodes a run calls, in order (what a CUDA Graph captures): every node
 * whose elided flag is 0. Returns the count written to order. */
size_t mi__cu_capture_order(size_t nnodes, const unsigned char *elided, size_t *order);

#endif
