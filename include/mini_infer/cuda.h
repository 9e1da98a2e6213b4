/* mini-infer: what only the CUDA backend does.
 *
 * Streams, timing, device information and memory figures. CUDA types are
 * passed as void * (a cudaStream_t is a pointer), so including this header
 * needs no CUDA header and no CUDA library: the backend stays in
 * libmini_infer_cuda.so, loaded only when a model asks for "cuda[:N]".
 *
 * Running on the caller's stream without waiting:
 *
 *     mi_context_set_stream(c, stream);      // cudaStream_t as void *
 *     write the inputs at mi_context_tensor_ptr(c, input tensor) on stream
 *     mi_context_execute(c, 0);              // enqueued on stream, returns at once
 *     read the outputs on stream (cudaMemcpyAsync ...), then synchronise
 *
 * The nodes (or, with the cuda_graph option, one CUDA Graph launch) go to
 * that stream in order; nothing is allocated and nothing waits. A context
 * without a caller's stream runs on a stream of its own.
 *
 * The calls reach the backend through the control slot of its ops
 * (backend.h); on another backend they fail with MI_ERR_UNSUPPORTED
 * naming it, so a program can ask and fall back (the CLI times with CUDA
 * events where the backend answers MI_CUDA_REQ_TIMER_START, with the host
 * clock elsewhere). */
#ifndef MINI_INFER_CUDA_H
#define MINI_INFER_CUDA_H

#include "mini_infer/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Requests; "backend" ones take a NULL context. */
typedef enum mi_cuda_request {
    MI_CUDA_REQ_DEVICE_INFO = 1, /* backend: arg mi_cuda_device_info * */
    MI_CUDA_REQ_MEMORY = 2,      /* backend: arg mi_cuda_memory * */
    MI_CUDA_REQ_PROFILER = 3,    /* backend: arg int * (1: cudaProfilerStart, 0: Stop) */
    MI_CUDA_REQ_SET_STREAM = 10, /* context: arg the cudaStream_t to run on (NULL: its own) */
    MI_CUDA_REQ_GET_STREAM = 11, /* context: arg void ** gets the stream runs go to */
    MI_CUDA_REQ_TIMER_START = 12,/* context: records a start event on that stream */
    MI_CUDA_REQ_TIMER_STOP = 13, /* context: arg float * gets ms since the start event (waits);
                                  * waiting for the stream is mi_context_sync (runtime.h) */
} mi_cuda_request;

typedef struct mi_cuda_device_info {
    int index;
    char name[256];
    char pci_bus_id[32];
    int cc_major, cc_minor;      /* compute capability */
    size_t total_bytes;
    int driver_version, runtime_version; /* 12040 = 12.4 */
    size_t cudnn_version;        /* 90100 = 9.1.0 */
    int cublas_version;
    int tf32, cuda_graph;        /* the options in force */
    size_t max_workspace;        /* the per-node workspace budget in force */
    /* The footprint's fixed part (docs/profiling.md): */
    int sm_count, threads_per_sm; /* the stack is reserved for every resident thread */
    int module_loading;          /* the driver's: 2 lazy, 1 eager (a warning is logged), 0 unknown */
    size_t stack_ours;           /* local memory per thread our kernels need at most */
    size_t stack_set;            /* the per-thread stack limit set at open (0: left as it was,
                                  * $MI_CUDA_STACK=keep) */
} mi_cuda_device_info;

typedef struct mi_cuda_memory {
    /* What this backend allocated, one cudaMalloc per pool (every context
     * of the model counted): */
    size_t weights, arena, io, other, pools;
    /* NVML's figure for this process on this device: the CUDA context, the
     * libraries' own memory and the pools. process_known 0 when NVML is
     * absent or does not list this process (e.g. inside a PID namespace);
     * process_note says why. */
    int process_known;
    size_t process;
    char process_note[160];
    /* cudaMemGetInfo: every process on the device. */
    size_t device_used, device_total;
    /* device_used when the backend had just initialised the device. */
    size_t start_used;
    /* The breakdown (docs/profiling.md, "Device memory"): the stack limit
     * read back now (the driver raises it when a library's kernel needs
     * more) and what it reserves (per thread x resident threads); the
     * CUDA Graph executables (NVML's growth across their instantiation,
     * 0 when NVML is unknown or none was made); the largest library
     * workspace of a node (inside the arena, already in `arena`); and,
     * when `process` is known, the rest: the CUDA context and the
     * libraries' own memory (process - pools - stack - graphs). */
    size_t stack_limit, stack_reserved, graph_execs, workspace_max, context_and_libraries;
} mi_cuda_memory;

static inline mi_status mi_cuda_device_info_get(mi_backend *b, mi_cuda_device_info *out) {
    return mi_backend_control(b, MI_CUDA_REQ_DEVICE_INFO, out);
}
static inline mi_status mi_cuda_memory_get(mi_backend *b, mi_cuda_memory *out) {
    return mi_backend_control(b, MI_CUDA_REQ_MEMORY, out);
}
/* cudaProfilerStart (start 1) / cudaProfilerStop (0), for `nsys profile
 * --capture-range=cudaProfilerApi` around the timed runs. */
static inline mi_status mi_cuda_profiler(mi_backend *b, int start) {
    return mi_backend_control(b, MI_CUDA_REQ_PROFILER, &start);
}

static inline mi_status mi_context_set_stream(mi_context *c, void *cuda_stream) {
    return mi_context_control(c, MI_CUDA_REQ_SET_STREAM, cuda_stream);
}
static inline mi_status mi_context_get_stream(mi_context *c, void **cuda_stream) {
    return mi_context_control(c, MI_CUDA_REQ_GET_STREAM, cuda_stream);
}
/* Device-side timing of what is enqueued between start and stop with
 * CUDA events on the context's stream; stop waits for the stop event. */
static inline mi_status mi_context_timer_start(mi_context *c) {
    return mi_context_control(c, MI_CUDA_REQ_TIMER_START, NULL);
}
static inline mi_status mi_context_timer_stop(mi_context *c, float *ms) {
    return mi_context_control(c, MI_CUDA_REQ_TIMER_STOP, ms);
}

#ifdef __cplusplus
}
#endif

#endif
