/* The CUDA runtime, wrapped: every call's status checked and turned into
 * an mi_status naming the node (or what was being done) with CUDA's own
 * error name and text. Nothing else calls the runtime directly. */
#include "cuda_internal.h"

#include <cuda_profiler_api.h>
#include <stdio.h>

static mi_status status_of(cudaError_t e) {
    switch (e) {
    case cudaErrorMemoryAllocation: return MI_ERR_DEVICE_MEMORY;
    case cudaErrorNoDevice: case cudaErrorInsufficientDriver: case cudaErrorInvalidDevice:
    case cudaErrorDevicesUnavailable: case cudaErrorNoKernelImageForDevice:
    case cudaErrorInitializationError: case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice: case cudaErrorStubLibrary:
        return MI_ERR_NO_DEVICE;
    default: return MI_ERR_BACKEND;
    }
}

/* MI_OK, or the error naming the node and the call (RT passes its source
 * text) with CUDA's name and text. A non-sticky error also stays in the
 * runtime's last-error slot, where the next kernel launch's
 * cudaGetLastError would find it and blame its own node (and the eager
 * fallback after a failed capture would fail at once): once turned into a
 * status it is cleared. */
static mi_status rt_check(cudaError_t e, const mi_node *n, const char *call) {
    if (e == cudaSuccess) return MI_OK;
    (void)cudaGetLastError();
    return mi__cu_node_error(n, status_of(e), "%s failed: %s: %s", call, cudaGetErrorName(e),
                             cudaGetErrorString(e));
}
#define RT(call, node) rt_check((call), (node), #call)

mi_status mi__cu_rt_launch(cudaError_t e, const mi_node *n, const char *kernel) {
    if (e == cudaSuccess) return MI_OK;
    (void)cudaGetLastError();
    /* Out of resources at launch: registers, or the stack the driver must
     * grow for the kernel and cannot (device memory). */
    if (e == cudaErrorLaunchOutOfResources || e == cudaErrorMemoryAllocation)
        return mi__cu_node_error(n, MI_ERR_DEVICE_MEMORY, "launching the %s kernel failed: %s: %s (its stack or "
                                 "registers do not fit what the device has left)", kernel, cudaGetErrorName(e),
                                 cudaGetErrorString(e));
    return mi__cu_node_error(n, status_of(e), "launching the %s kernel failed: %s: %s", kernel,
                             cudaGetErrorName(e), cudaGetErrorString(e));
}

mi_status mi__cu_rt_open(int index, mi_cuda_device_info *info) {
    int count = 0, drv = 0, rt = 0;
    /* Only for the message: 0 stands for unknown. */
    if (cudaDriverGetVersion(&drv) != cudaSuccess) drv = 0;
    if (cudaRuntimeGetVersion(&rt) != cudaSuccess) rt = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        char drvs[64];
        if (drv) snprintf(drvs, sizeof drvs, "the driver supports CUDA %d.%d", drv / 1000, drv % 1000 / 10);
        else snprintf(drvs, sizeof drvs, "no NVIDIA driver is loaded");
        return mi__error(MI_ERR_NO_DEVICE,
                         "device 'cuda:%d': no usable GPU: cudaGetDeviceCount failed: %s: %s (%s; this "
                         "build uses the CUDA %d.%d runtime)",
                         index, cudaGetErrorName(e), cudaGetErrorString(e), drvs, rt / 1000, rt % 1000 / 10);
    }
    if (count < 1) return mi__error(MI_ERR_NO_DEVICE, "device 'cuda:%d': no CUDA device found", index);
    if (index >= count)
        return mi__error(MI_ERR_NO_DEVICE, "device 'cuda:%d': only %d CUDA device%s (cuda:0 to cuda:%d)",
                         index, count, count == 1 ? "" : "s", count - 1);
    struct cudaDeviceProp prop;
    if ((e = cudaSetDevice(index)) != cudaSuccess || (e = cudaFree(NULL)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&prop, index)) != cudaSuccess)
        return mi__error(status_of(e) == MI_ERR_BACKEND ? MI_ERR_NO_DEVICE : status_of(e),
                         "device 'cuda:%d': initialising it failed: %s: %s", index, cudaGetErrorName(e),
                         cudaGetErrorString(e));
    memset(info, 0, sizeof *info);
    info->index = index;
    snprintf(info->name, sizeof info->name, "%s", prop.name);
    info->cc_major = prop.major;
    info->cc_minor = prop.minor;
    info->total_bytes = prop.totalGlobalMem;
    info->driver_version = drv;
    info->runtime_version = rt;
    info->sm_count = prop.multiProcessorCount;
    info->threads_per_sm = prop.maxThreadsPerMultiProcessor;
    if (cudaDeviceGetPCIBusId(info->pci_bus_id, (int)sizeof info->pci_bus_id, index) != cudaSuccess) {
        info->pci_bus_id[0] = '\0'; /* only informative */
        (void)cudaGetLastError();
    }
    if ((e = mi__k_probe()) != cudaSuccess)
        return mi__error(MI_ERR_NO_DEVICE,
                         "device 'cuda:%d' (%s, compute capability %d.%d): this build of %s has no code "
                         "for it: %s: %s; rebuild with -DCMAKE_CUDA_ARCHITECTURES=%d%d",
                         index, prop.name, prop.major, prop.minor, MI_BACKEND_CUDA_LIBRARY,
                         cudaGetErrorName(e), cudaGetErrorString(e), prop.major, prop.minor);
    return MI_OK;
}

mi_status mi__cu_rt_set_device(int device) { return RT(cudaSetDevice(device), NULL); }

mi_status mi__cu_rt_kernels_stack(size_t *bytes) {
    *bytes = 0;
    mi_status st;
    if ((st = RT(mi__k_activation_local_bytes(bytes), NULL)) || (st = RT(mi__k_binary_local_bytes(bytes), NULL)) ||
        (st = RT(mi__k_cast_local_bytes(bytes), NULL)) || (st = RT(mi__k_copy_local_bytes(bytes), NULL)) ||
        (st = RT(mi__k_norm_local_bytes(bytes), NULL)) || (st = RT(mi__k_pool_local_bytes(bytes), NULL)) ||
        (st = RT(mi__k_reduce_local_bytes(bytes), NULL)) || (st = RT(mi__k_math_local_bytes(bytes), NULL)))
        return st;
    return MI_OK;
}

mi_status mi__cu_rt_stack_set(size_t bytes) {
    cudaError_t e = cudaDeviceSetLimit(cudaLimitStackSize, bytes);
    if (e == cudaSuccess) return MI_OK;
    (void)cudaGetLastError();
    return mi__error(status_of(e), "setting the per-thread stack limit to %zu bytes failed: "
                     "cudaDeviceSetLimit(cudaLimitStackSize): %s: %s (MI_CUDA_STACK=keep leaves the driver's)",
                     bytes, cudaGetErrorName(e), cudaGetErrorString(e));
}

mi_status mi__cu_rt_stack_get(size_t *bytes) {
    *bytes = 0;
    return RT(cudaDeviceGetLimit(bytes, cudaLimitStackSize), NULL);
}

/* cuModuleGetLoadingMode through the runtime's driver entry point, so
 * that this library never links libcuda (it must load where no driver
 * is). The enum's values are the driver API's: 1 eager, 2 lazy. */
typedef int (*module_loading_fn)(int *mode);

int mi__cu_rt_module_loading(void) {
    void *fn = NULL;
    enum cudaDriverEntryPointQueryResult found;
#if CUDART_VERSION >= 12050
    cudaError_t e = cudaGetDriverEntryPointByVersion("cuModuleGetLoadingMode", &fn, 12000, cudaEnableDefault, &found);
#else
    cudaError_t e = cudaGetDriverEntryPoint("cuModuleGetLoadingMode", &fn, cudaEnableDefault, &found);
#endif
    if (e != cudaSuccess || found != cudaDriverEntryPointSuccess || !fn) {
        (void)cudaGetLastError();
        return 0;
    }
    int mode = 0;
    if (((module_loading_fn)fn)(&mode) != 0) return 0; /* CUDA_SUCCESS is 0 */
    return mode == 1 || mode == 2 ? mode : 0;
}

mi_status mi__cu_rt_mem_info(size_t *free_bytes, size_t *total) {
    return RT(cudaMemGetInfo(free_bytes, total), NULL);
}

mi_status mi__cu_rt_malloc(int device, size_t bytes, const char *what, void **ptr) {
    *ptr = NULL;
    cudaError_t e = cudaMalloc(ptr, bytes);
    if (e == cudaSuccess) return MI_OK;
    *ptr = NULL;
    (void)cudaGetLastError(); /* an allocation failure is not sticky: clear it */
    size_t fr = 0, total = 0;
    if (cudaMemGetInfo(&fr, &total) != cudaSuccess) fr = total = 0;
    (void)cudaGetLastError();
    return mi__error(status_of(e), "%s: cudaMalloc of %zu bytes (%.1f MiB) on cuda:%d failed: %s: %s "
                     "(%zu of %zu bytes free)", what ? what : "device memory", bytes,
                     (double)bytes / 1048576.0, device, cudaGetErrorName(e), cudaGetErrorString(e), fr,
                     total);
}

void mi__cu_rt_free(void *ptr) {
    if (ptr) (void)cudaFree(ptr);
}

mi_status mi__cu_rt_stream_create(cudaStream_t *s) {
    *s = NULL;
    /* Non-blocking: no implicit ordering with the legacy default stream,
     * which a CUDA Graph capture could not contain. */
    return RT(cudaStreamCreateWithFlags(s, cudaStreamNonBlocking), NULL);
}

void mi__cu_rt_stream_destroy(cudaStream_t s) {
    if (s) (void)cudaStreamDestroy(s);
}

mi_status mi__cu_rt_stream_sync(cudaStream_t s, const mi_node *n, const char *what) {
    cudaError_t e = cudaStreamSynchronize(s);
    if (e == cudaSuccess) return MI_OK;
    (void)cudaGetLastError();
    return mi__cu_node_error(n, status_of(e), "%s: the device reported %s: %s", what, cudaGetErrorName(e),
                             cudaGetErrorString(e));
}

mi_status mi__cu_rt_copy_sync(cudaStream_t s, void *dst, const void *src, size_t n, int kind) {
    if (!n) return MI_OK;
    mi_status st = RT(cudaMemcpyAsync(dst, src, n, (enum cudaMemcpyKind)kind, s), NULL);
    if (!st) st = mi__cu_rt_stream_sync(s, NULL, "copy");
    return st;
}

mi_status mi__cu_rt_copy_async(cudaStream_t s, void *dst, const void *src, size_t n, const mi_node *node) {
    if (!n || dst == src) return MI_OK;
    return RT(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, s), node);
}

mi_status mi__cu_rt_memset_async(cudaStream_t s, void *dst, int value, size_t n, const mi_node *node) {
    if (!n) return MI_OK;
    return RT(cudaMemsetAsync(dst, value, n, s), node);
}

mi_status mi__cu_rt_event_create(cudaEvent_t *e) {
    *e = NULL;
    return RT(cudaEventCreate(e), NULL);
}

void mi__cu_rt_event_destroy(cudaEvent_t e) {
    if (e) (void)cudaEventDestroy(e);
}

mi_status mi__cu_rt_event_record(cudaEvent_t e, cudaStream_t s) { return RT(cudaEventRecord(e, s), NULL); }

mi_status mi__cu_rt_event_elapsed(cudaEvent_t a, cudaEvent_t b, float *ms) {
    mi_status st = RT(cudaEventSynchronize(b), NULL);
    if (!st) st = RT(cudaEventElapsedTime(ms, a, b), NULL);
    return st;
}

mi_status mi__cu_rt_capture_begin(cudaStream_t s) {
    return RT(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), NULL);
}

mi_status mi__cu_rt_capture_end(cudaStream_t s, cudaGraphExec_t *exec, int abort) {
    cudaGraph_t graph = NULL;
    *exec = NULL;
    cudaError_t e = cudaStreamEndCapture(s, &graph);
    if (abort) {
        /* Leaves the stream usable after a failed run; the run's own error
         * is the one to report, so nothing here raises another. */
        if (graph) (void)cudaGraphDestroy(graph);
        (void)cudaGetLastError();
        return MI_OK;
    }
    mi_status st = RT(e, NULL);
    if (!st) st = RT(cudaGraphInstantiate(exec, graph, 0), NULL);
    if (st) *exec = NULL;
    if (graph) (void)cudaGraphDestroy(graph); /* the executable graph keeps what it needs */
    return st;
}

mi_status mi__cu_rt_graph_launch(cudaGraphExec_t exec, cudaStream_t s) {
    return RT(cudaGraphLaunch(exec, s), NULL);
}

void mi__cu_rt_graph_destroy(cudaGraphExec_t exec) {
    if (exec) (void)cudaGraphExecDestroy(exec);
}

mi_status mi__cu_rt_profiler(int start) {
    return start ? RT(cudaProfilerStart(), NULL) : RT(cudaProfilerStop(), NULL);
}
