/* The CUDA backend's private interface.
 *
 * backend_cuda.c   the ops table: device, pools, contexts, runs, CUDA Graphs,
 *                  the control requests of include/mini_infer/cuda.h
 * nodes_cuda.c     prepare() and run() per op family (dispatch only)
 * host_plan.c      every host-side decision, plain C (tested without a GPU)
 * lib_cudart.c     the only file calling the CUDA runtime
 * lib_cudnn.c      cuDNN's legacy API (deprecated in cuDNN 9 but present)
 * lib_cudnn_graph.c cuDNN's graph API: fused convolutions in half precision
 * lib_cublas.c     the only file calling cuBLAS
 * lib_cublaslt.c   the only file calling cuBLASLt (fused linear layers)
 * lib_nvml.c       NVML through dlopen (this process's device memory)
 * nvtx_ranges.c    the NVTX ranges
 * k_*.cu           our kernels, one file per op family: their launchers
 *                  (kernels.h), launch helpers (k_common.cuh) and the
 *                  index math they share with the host tests (index_math.h)
 *
 * core_link.c      the core functions this library calls, forwarded to
 *                  the table the core hands it (src/runtime/plugin.h)
 *
 * Names shared between these files start with mi__cu_ (MI__CU_), those of
 * the kernels' side (kernels.h, index_math.h, k_common.cuh) with mi__k_
 * (MI__K_); everything else is static. The library exports only its ABI
 * number and entry point (backend_cuda.c).
 *
 * Every CUDA, cuDNN and cuBLAS status is checked where it is returned and
 * becomes an mi_status whose message (mi__error, through the core's table
 * into the program's one last-error slot) names the node, the call and the
 * library's own text. */
#ifndef MI_CUDA_INTERNAL_H
#define MI_CUDA_INTERNAL_H

#include "host_plan.h"
#include "kernels.h"
#include "mini_infer/cuda.h"
#include "nvtx_ranges.h"
#include "runtime/plugin.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <pthread.h>
#include <stdatomic.h>

/* core_link.c: binds the core's table; the entry point calls it before
 * anything else. */
void mi__cu_bind_core(const mi__plugin_host *host);

typedef struct mi__cu_dnn mi__cu_dnn; /* a node's cuDNN descriptors (lib_cudnn.c) */
typedef struct mi__cu_fplan mi__cu_fplan; /* a fused conv's execution plan (lib_cudnn_graph.c) */

/* What run() does for a node, decided by prepare(). */
typedef enum mi__cu_kind {
    MI__CU_K_CONV = 1, MI__CU_K_POOL, MI__CU_K_REDUCE, MI__CU_K_UNARY, MI__CU_K_BINARY, MI__CU_K_PAD,
    MI__CU_K_BATCH_NORM, MI__CU_K_GEMM, MI__CU_K_MATMUL, MI__CU_K_VIEW_COPY, MI__CU_K_STRIDED,
    MI__CU_K_CONCAT, MI__CU_K_SPLIT, MI__CU_K_BYTES, MI__CU_K_GATHER, MI__CU_K_SOFTMAX, MI__CU_K_CAST,
    MI__CU_K_LRN, MI__CU_K_RELAYOUT, MI__CU_K_MATH, MI__CU_K_LAYER_NORM, MI__CU_K_TRILU, MI__CU_K_SCATTER,
} mi__cu_kind;

typedef struct mi__cu_node {
    mi__cu_kind kind;
    unsigned libs;              /* MI__CU_LIB_*: the libraries its run calls */
    int dtype;                  /* the float dtype our kernels run in (input 0's) */
    mi__op_params p;
    mi__cu_ws ws;
    mi__cu_dnn *dnn;
    union {
        struct {
            mi__cu_conv c;
            mi__cu_conv_choice choice;
            atomic_int fused_failed;  /* the legacy fused call failed once: our epilogue */
            mi__cu_fplan *graph;      /* the graph API's plan, or NULL: the legacy path */
            atomic_int graph_failed;  /* it failed to execute once: the legacy path */
        } conv; /* contexts share it */
        mi__cu_pool pool;
        mi__k_reduce reduce;
        struct { int op, dtype; double a, b; int64_t ia, ib; int64_t n; } unary;
        struct { int op, dtype; int64_t n; mi_k_bcast bc; } binary;
        mi__k_copy relayout;
        struct { int op; mi_k_nwalk w; int xt[3], yt; int64_t n; } math;
        struct { int64_t rows, inner; float eps; } layer_norm;
        struct { int64_t rows, cols, k, n; int upper, esize; } trilu;
        struct { int64_t slice, n, dims[MI_MAX_DIMS]; int k, r, it, dt; } scatter;
        mi__k_pad pad;
        struct { mi__cu_chan ch; int use_cudnn; } chan; /* BatchNormalization, LRN */
        mi__cu_gemm gemm;
        struct {
            mi__cu_matmul m;
            struct mi__cu_lt *lt;     /* the fused call, or NULL: the GEMM and our epilogue */
            atomic_int lt_failed;     /* it failed once: the fallback from then on */
        } matmul; /* contexts share it */
        mi__k_copy copy;
        struct { mi__k_copy *parts; int n; } parts;  /* Concat inputs, Split outputs */
        struct { const void *data; void *own; size_t n; int64_t dims[MI_MAX_DIMS]; } bytes; /* Constant, Shape */
        mi__k_gather gather;
        mi__cu_softmax softmax;
        struct { int from, to; int64_t n; } cast;
    } u;
} mi__cu_node;

/* What prepare() keeps for one graph: one per model the backend serves
 * (and per batch size of a batch range). */
typedef struct mi__cu_prep {
    const mi_graph *graph;
    size_t nnodes;
    mi__cu_node *nodes;
    unsigned libs;              /* MI__CU_LIB_*: what its nodes call */
    size_t ncontexts;           /* live contexts created for it (backend lock) */
} mi__cu_prep;

typedef struct mi__cu_backend {
    int device;
    mi_cuda_device_info info;
    size_t budget;              /* per-node workspace budget */
    int debug_sync;             /* $MI_CUDA_DEBUG_SYNC: wait after every node, naming it */
    int verbose;                /* the options' log, for what run() decides */
    mi_log_fn log;
    void *log_user;
    cudnnHandle_t dnn;          /* prepare-time queries (algorithm ranking, graph API plans) */
    cublasLtHandle_t lt;        /* fused linear layers (thread-safe, no stream of its own) */
    void *kernel_cache;         /* the graph API's runtime-compiled kernels, shared by the convs */
    unsigned libs;              /* MI__CU_LIB_*: what every prepared node calls (a context made without a graph) */
    size_t graph_execs;         /* NVML's growth across CUDA Graph instantiations (lock) */
    cudaStream_t copy;          /* upload / download / copy */
    pthread_mutex_t lock;       /* regions, ncontexts */
    size_t ncontexts;           /* live contexts: while any, the prepared graph stays */
    mi__cu_regions regions;
    size_t start_used;          /* device memory in use once the backend was up */
    mi__cu_prep **preps;        /* one per graph prepare() saw, stable addresses (lock) */
    size_t npreps;
} mi__cu_backend;

typedef struct mi__cu_ctx {
    mi__cu_backend *cb;
    mi__cu_prep *prep;          /* the graph it runs (found on the first run when made without one) */
    cudaStream_t own;           /* the context's stream (non-default, capturable) */
    cudaStream_t user;          /* the caller's stream, or NULL */
    cudnnHandle_t dnn;
    cublasHandle_t blas;
    cudaStream_t dnn_stream, blas_stream; /* what the handles are bound to */
    int bound;                  /* the handles have been bound once */
    cudaEvent_t t0, t1;         /* the timer requests */
    int timing;
    /* runs and CUDA Graphs */
    int64_t runs;               /* completed runs */
    mi__cu_run_kind mode;        /* of the run in progress */
    int capturing;
    int graphs_off;             /* capturing failed once: this context runs eagerly */
    cudaGraphExec_t exec;
    cudaStream_t stream;        /* where this run's nodes go */
    int open_ranges;            /* NVTX ranges this run has pushed */
    int counted;                /* in the backend's ncontexts */
    /* The node arguments the capture saw, in order (the engine's, stable
     * for the context's life): a failed instantiation replays them eagerly. */
    const mi_node_args **captured;
    size_t ncaptured, cap_captured;
} mi__cu_ctx;

/* ---- backend_cuda.c ------------------------------------------------------------------ */

/* The backend's own cuDNN handle (prepare-time queries), created on first
 * use: a model without a cuDNN node never loads cuDNN's kernels. */
mi_status mi__cu_backend_dnn(mi__cu_backend *cb);
/* The backend's cuBLASLt handle, created on first use (a fused linear
 * layer's prepare). */
mi_status mi__cu_backend_lt(mi__cu_backend *cb);

/* ---- nodes_cuda.c ------------------------------------------------------------------ */

mi_status mi__cu_prepare_node(mi__cu_backend *cb, mi__cu_prep *p, const mi_backend_options *o, size_t index,
                              size_t *workspace);
void mi__cu_node_release(mi__cu_node *cn);
mi_status mi__cu_run_node(mi__cu_backend *cb, mi__cu_ctx *cx, const mi_node_args *a);

/* ---- lib_cudart.c ---------------------------------------------------------------- */

/* Each returns MI_OK, or the error naming the node (or what was being
 * done) and the call with CUDA's name and text: cudaErrorMemoryAllocation
 * is MI_ERR_DEVICE_MEMORY, no usable device or driver MI_ERR_NO_DEVICE,
 * anything else MI_ERR_BACKEND. */

/* Opens device `index`: MI_ERR_NO_DEVICE with the reason when there is
 * no usable GPU (no device, no driver, a driver too old, code not built
 * for its architecture). Fills info. */
mi_status mi__cu_rt_open(int index, mi_cuda_device_info *info);
mi_status mi__cu_rt_set_device(int device);
/* The most local memory per thread any of our kernels needs. */
mi_status mi__cu_rt_kernels_stack(size_t *bytes);
/* cudaLimitStackSize, set (an error names the value and the opt-out) and read back. */
mi_status mi__cu_rt_stack_set(size_t bytes);
mi_status mi__cu_rt_stack_get(size_t *bytes);
/* The driver's module loading mode: 2 lazy, 1 eager, 0 unknown. */
int mi__cu_rt_module_loading(void);
mi_status mi__cu_rt_mem_info(size_t *free_bytes, size_t *total);
/* One cudaMalloc; MI_ERR_DEVICE_MEMORY naming what and the bytes. */
mi_status mi__cu_rt_malloc(int device, size_t bytes, const char *what, void **ptr);
void mi__cu_rt_free(void *ptr);
mi_status mi__cu_rt_stream_create(cudaStream_t *s);
void mi__cu_rt_stream_destroy(cudaStream_t s);
mi_status mi__cu_rt_stream_sync(cudaStream_t s, const mi_node *n, const char *what);
/* Copies on a stream and waits for them (host memory may be pageable). */
mi_status mi__cu_rt_copy_sync(cudaStream_t s, void *dst, const void *src, size_t n, int kind);
mi_status mi__cu_rt_copy_async(cudaStream_t s, void *dst, const void *src, size_t n, const mi_node *node);
mi_status mi__cu_rt_memset_async(cudaStream_t s, void *dst, int value, size_t n, const mi_node *node);
mi_status mi__cu_rt_event_create(cudaEvent_t *e);
void mi__cu_rt_event_destroy(cudaEvent_t e);
mi_status mi__cu_rt_event_record(cudaEvent_t e, cudaStream_t s);
mi_status mi__cu_rt_event_elapsed(cudaEvent_t a, cudaEvent_t b, float *ms);
/* Stream capture into a CUDA Graph (thread-local mode: our own thread may
 * not call anything unsafe while capturing), instantiation, launch. */
mi_status mi__cu_rt_capture_begin(cudaStream_t s);
/* Ends the capture and instantiates it; *exec NULL and an error when the
 * capture failed. abort: just end and discard. */
mi_status mi__cu_rt_capture_end(cudaStream_t s, cudaGraphExec_t *exec, int abort);
mi_status mi__cu_rt_graph_launch(cudaGraphExec_t exec, cudaStream_t s);
void mi__cu_rt_graph_destroy(cudaGraphExec_t exec);
mi_status mi__cu_rt_profiler(int start);
/* Kernel launch status from kernels.h, named for the node. */
mi_status mi__cu_rt_launch(cudaError_t e, const mi_node *n, const char *kernel);

/* ---- lib_cudnn.c ------------------------------------------------------------------ */

/* A cuDNN status as an mi_status naming the node and the call, with
 * cuDNN's last-error detail (NOT_SUPPORTED and its kinds are
 * MI_ERR_UNSUPPORTED, allocation failures the memory errors). */
mi_status mi__cu_dnn_check(cudnnStatus_t s, const mi_node *n, const char *call);
mi_status mi__cu_dnn_create(cudnnHandle_t *h);
void mi__cu_dnn_destroy(cudnnHandle_t h);
mi_status mi__cu_dnn_bind(cudnnHandle_t h, cudaStream_t s);
size_t mi__cu_dnn_version(void);
void mi__cu_dnn_free(mi__cu_dnn *d);

/* Descriptors, the algorithm ranking and the choice for a conv; fills
 * choice and the algorithm's workspace bytes. Verbose: logs the choice. */
mi_status mi__cu_dnn_conv_prepare(cudnnHandle_t h, const mi_node *n, const mi__cu_conv *c,
                                  size_t budget, int tf32, const mi_backend_options *o,
                                  mi__cu_conv_choice *choice, size_t *algo_ws, mi__cu_dnn **out);
/* The cuDNN part of a conv: path FUSED (bias may be the zero buffer,
 * z the residual or y) or a plain forward with beta (1: y += conv, for
 * a residual already in y). MI_ERR_UNSUPPORTED when cuDNN refuses the
 * fused form at run time (the caller falls back to the epilogue). */
mi_status mi__cu_dnn_conv_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, int fused,
                              const void *x, const void *w, const void *bias, const void *z,
                              float z_scale, float beta, void *y, void *ws, size_t ws_size);
mi_status mi__cu_dnn_pool_prepare(const mi_node *n, const mi__cu_pool *p, mi__cu_dnn **out);
mi_status mi__cu_dnn_pool_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, const void *x,
                              void *y);
mi_status mi__cu_dnn_softmax_prepare(const mi_node *n, const mi__cu_softmax *s, mi__cu_dnn **out);
mi_status mi__cu_dnn_softmax_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d,
                                 const void *x, void *y);
mi_status mi__cu_dnn_bn_prepare(const mi_node *n, const mi__cu_chan *ch, mi__cu_dnn **out);
mi_status mi__cu_dnn_bn_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, const float *x,
                            float *y, const float *scale, const float *bias, const float *mean,
                            const float *var, double epsilon);
mi_status mi__cu_dnn_lrn_prepare(const mi_node *n, const mi__cu_chan *ch, const mi__lrn_params *p,
                                 mi__cu_dnn **out);
mi_status mi__cu_dnn_lrn_run(cudnnHandle_t h, const mi_node *n, const mi__cu_dnn *d, const void *x,
                             void *y);

/* ---- lib_cudnn_graph.c --------------------------------------------------------------- */

/* The graph API's plan for a fused conv (host_plan.c's mi__cu_fused): *out
 * NULL with the reason in why when no configuration finalizes within the
 * budget (the legacy path runs the node); an error only when out of host
 * memory. kernel_cache may be NULL. */
mi_status mi__cu_dnn_fused_prepare(cudnnHandle_t h, const mi_node *n, const mi__cu_fused *f, size_t budget,
                                   void *kernel_cache, mi__cu_fplan **out, char *why, size_t why_len);
size_t mi__cu_dnn_fused_workspace(const mi__cu_fplan *p);
int mi__cu_dnn_fused_runtime_compiled(const mi__cu_fplan *p);
/* Executes the plan on these pointers (b, z NULL when the graph has none). */
mi_status mi__cu_dnn_fused_run(cudnnHandle_t h, const mi_node *n, const mi__cu_fplan *p, const void *x, const void *w,
                               const void *b, const void *z, void *y, void *ws);
void mi__cu_dnn_fused_free(mi__cu_fplan *p);
/* cuDNN's kernel cache (NULL, without error, where this cuDNN has none). */
mi_status mi__cu_dnn_kernel_cache_create(void **cache);
void mi__cu_dnn_kernel_cache_destroy(void *cache);

/* ---- lib_cublas.c -------------------------------------------------------------------- */

/* cuBLAS's and cuBLASLt's status as ours (allocation: device memory,
 * not supported, no device, else a backend error). */
mi_status mi__cu_blas_status(cublasStatus_t s);
mi_status mi__cu_blas_create(cublasHandle_t *h, int tf32);
void mi__cu_blas_destroy(cublasHandle_t h);
/* cublasSetStream, then cublasSetWorkspace (setting the stream resets the
 * workspace, so both always go together): ws is this node's planned part. */
mi_status mi__cu_blas_bind(cublasHandle_t h, cudaStream_t s, void *ws, size_t ws_size, const mi_node *n);
/* Y = alpha op(A) op(B) + beta Y as planned in b (one call, a strided
 * batch, or one call per broadcast batch). */
mi_status mi__cu_blas_run(cublasHandle_t h, const mi_node *n, const mi__cu_blas *b, float alpha,
                          const void *a, const void *bm, float beta, void *y);
int mi__cu_blas_version(void);

/* ---- lib_cublaslt.c ------------------------------------------------------------------ */

typedef struct mi__cu_lt mi__cu_lt; /* a fused linear layer's prepared call */
mi_status mi__cu_lt_create(cublasLtHandle_t *h);
void mi__cu_lt_destroy(cublasLtHandle_t h);
/* The layouts and the heuristic's algorithm within ws_budget bytes;
 * MI_ERR_UNSUPPORTED when cuBLASLt has none (the caller falls back). */
mi_status mi__cu_lt_prepare(cublasLtHandle_t h, const mi_node *n, const mi__cu_blas *b, const mi__cu_linear *l,
                            int tf32, size_t ws_budget, mi__cu_lt **out);
void mi__cu_lt_free(mi__cu_lt *p);
/* Bytes of workspace the chosen algorithm needs (0 for NULL). */
size_t mi__cu_lt_workspace(const mi__cu_lt *p);
/* Y = act(A B + bias) on stream s; ws is the node's planned workspace. */
mi_status mi__cu_lt_run(cublasLtHandle_t h, const mi_node *n, const mi__cu_lt *p, const void *a, const void *bm,
                        const void *bias, void *y, void *ws, size_t ws_size, cudaStream_t s);

/* ---- lib_nvml.c --------------------------------------------------------------------- */

/* This process's device memory on the GPU at pci_bus_id per NVML; 0 with
 * a reason in why when NVML is absent or does not list this process. */
int mi__cu_nvml_process_bytes(const char *pci_bus_id, size_t *bytes, char *why, size_t why_len);

#endif
