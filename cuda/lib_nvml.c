/* NVML through dlopen, for one figure: the device memory this process
 * holds (its CUDA context, the libraries' own allocations and our pools),
 * which cudaMemGetInfo deltas cannot give (they miss the context, and
 * count other processes). NVML is the driver's library, present wherever
 * a GPU is; it has no header in the toolkit, so the few declarations are
 * here, as NVML's ABI defines them. */
#include "cuda_internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

typedef int nvml_return;           /* nvmlReturn_t; NVML_SUCCESS is 0 */
typedef struct nvml_device *nvml_device;
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_VALUE_NOT_AVAILABLE_ULL (~0ULL)

/* nvmlProcessInfo_t as nvmlDeviceGetComputeRunningProcesses_v3 fills it. */
typedef struct nvml_process_info {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvml_process_info;

typedef struct nvml_api {
    nvml_return (*init)(void);
    nvml_return (*shutdown)(void);
    const char *(*error_string)(nvml_return);
    nvml_return (*by_pci)(const char *, nvml_device *);
    nvml_return (*processes)(nvml_device, unsigned int *, nvml_process_info *);
} nvml_api;

static int load(nvml_api *api, char *why, size_t why_len) {
    void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, why_len, "NVML not loadable: %s", dlerror());
        return 0;
    }
    *(void **)&api->init = dlsym(h, "nvmlInit_v2");
    *(void **)&api->shutdown = dlsym(h, "nvmlShutdown");
    *(void **)&api->error_string = dlsym(h, "nvmlErrorString");
    *(void **)&api->by_pci = dlsym(h, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&api->processes = dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (!api->init || !api->shutdown || !api->error_string || !api->by_pci || !api->processes) {
        snprintf(why, why_len, "NVML lacks nvmlDeviceGetComputeRunningProcesses_v3 (driver too old)");
        return 0; /* the handle stays open: NVML does not unload cleanly either */
    }
    return 1;
}

int mi__cu_nvml_process_bytes(const char *pci_bus_id, size_t *bytes, char *why, size_t why_len) {
    static nvml_api api;
    static int loaded = -1;
    static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
    nvml_process_info list[64];
    unsigned int count = (unsigned int)(sizeof list / sizeof list[0]);
    int ok = 0;
    *bytes = 0;
    why[0] = '\0';
    pthread_mutex_lock(&once);
    if (loaded < 0) loaded = load(&api, why, why_len);
    pthread_mutex_unlock(&once);
    if (!loaded) {
        if (!why[0]) snprintf(why, why_len, "NVML unavailable");
        return 0;
    }
    if (!pci_bus_id || !pci_bus_id[0]) {
        snprintf(why, why_len, "no PCI bus id for the device");
        return 0;
    }
    nvml_return r = api.init();
    if (r != 0) {
        snprintf(why, why_len, "nvmlInit: %s", api.error_string(r));
        return 0;
    }
    nvml_device dev;
    if ((r = api.by_pci(pci_bus_id, &dev)) != 0) {
        snprintf(why, why_len, "nvmlDeviceGetHandleByPciBusId(%s): %s", pci_bus_id, api.error_string(r));
    } else if ((r = api.processes(dev, &count, list)) != 0) {
        snprintf(why, why_len, "nvmlDeviceGetComputeRunningProcesses: %s%s", api.error_string(r),
                 r == NVML_ERROR_INSUFFICIENT_SIZE ? " (more than 64 processes)" : "");
    } else {
        unsigned int me = (unsigned int)getpid();
        for (unsigned int i = 0; i < count; i++) {
            if (list[i].pid != me) continue;
            if (list[i].usedGpuMemory == NVML_VALUE_NOT_AVAILABLE_ULL) {
                snprintf(why, why_len, "NVML lists this process without a memory figure");
            } else {
                *bytes = (size_t)list[i].usedGpuMemory;
                ok = 1;
            }
            break;
        }
        if (!ok && !why[0])
            snprintf(why, why_len, "NVML does not list pid %u among %u compute processes (a PID namespace?)",
                     me, count);
    }
    api.shutdown();
    return ok;
}
