/* Opening backends by device name. The CUDA backend is a separate shared
 * library, loaded with dlopen only when a device "cuda[:N]" is asked for,
 * so planning never initialises CUDA or maps its libraries. */
#include "common/internal.h"
#include "mini_infer/backend.h"
#include "mini_infer/cuda.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void mi_backend_options_init(mi_backend_options *o) { memset(o, 0, sizeof *o); }

void mi_backend_close(mi_backend *b) {
    if (b && b->ops && b->ops->destroy) b->ops->destroy(b);
}

/* The directory of the running executable, with a trailing slash. */
static int exe_dir(char *buf, size_t len) {
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0) return 0;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (!slash) return 0;
    slash[1] = '\0';
    return 1;
}

/* Where libmini_infer_cuda.so may be: $MI_CUDA_BACKEND, beside the
 * executable (and in its cuda/ folder, as in the build tree), the install
 * libdir, then the loader's own search path. The handle is never closed:
 * CUDA libraries do not unload cleanly. */
static void *load_cuda_library(char *why, size_t why_len) {
    char path[4200], dir[4096];
    const char *env = getenv("MI_CUDA_BACKEND");
    const char *candidates[5];
    char c1[4200] = "", c2[4200] = "", c3[4200] = "";
    int nc = 0;
    if (env && *env) candidates[nc++] = env;
    if (exe_dir(dir, sizeof dir)) {
        snprintf(c1, sizeof c1, "%s%s", dir, MI_BACKEND_CUDA_LIBRARY);
        snprintf(c2, sizeof c2, "%scuda/%s", dir, MI_BACKEND_CUDA_LIBRARY);
        snprintf(c3, sizeof c3, "%s../cuda/%s", dir, MI_BACKEND_CUDA_LIBRARY);
        candidates[nc++] = c1;
        candidates[nc++] = c2;
        candidates[nc++] = c3;
    }
#ifdef MI_INSTALL_LIBDIR
    snprintf(path, sizeof path, "%s/%s", MI_INSTALL_LIBDIR, MI_BACKEND_CUDA_LIBRARY);
    candidates[nc++] = path;
#endif
    why[0] = '\0';
    for (int i = 0; i < nc; i++) {
        if (access(candidates[i], F_OK) != 0) continue;
        void *h = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (h) return h;
        snprintf(why, why_len, "%s", dlerror());
    }
    void *h = dlopen(MI_BACKEND_CUDA_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    if (!why[0]) snprintf(why, why_len, "%s", dlerror());
    return NULL;
}

mi_status mi_backend_open(const char *device, const mi_backend_options *opt, mi_backend **out) {
    *out = NULL;
    mi_backend_options o;
    if (opt) o = *opt;
    else mi_backend_options_init(&o);
    if (!device || strcmp(device, "cpu") == 0) return mi_backend_cpu_create(&o, out);
    if (strncmp(device, "cuda", 4) == 0 && (device[4] == '\0' || device[4] == ':')) {
        long index = 0;
        if (device[4] == ':') {
            char *end;
            index = strtol(device + 5, &end, 10);
            if (end == device + 5 || *end || index < 0 || index > 1023)
                return mi__error(MI_ERR_INVALID_ARG, "device '%s': expected cuda:N with N a device index",
                                 device);
        }
        char why[1024];
        void *h = load_cuda_library(why, sizeof why);
        if (!h)
            return mi__error(MI_ERR_NO_DEVICE,
                             "device '%s': the CUDA backend (%s) could not be loaded: %s; build with the "
                             "CUDA toolkit, or set MI_CUDA_BACKEND to its path",
                             device, MI_BACKEND_CUDA_LIBRARY, why);
        mi_backend_create_fn create;
        *(void **)&create = dlsym(h, MI_BACKEND_CUDA_SYMBOL);
        if (!create)
            return mi__error(MI_ERR_NO_DEVICE, "device '%s': %s lacks %s", device,
                             MI_BACKEND_CUDA_LIBRARY, MI_BACKEND_CUDA_SYMBOL);
        return create((int)index, &o, out);
    }
    return mi__error(MI_ERR_INVALID_ARG, "device '%s': expected cpu, cuda or cuda:N", device);
}

/* Requests only some backends answer (cuda.h). The ops table has no slot
 * for them, so the CPU backend and callers' own backends stay as they are. */
mi_status mi_backend_control(mi_backend *b, int request, void *arg) {
    if (!b || !b->ops) return mi__error(MI_ERR_INVALID_ARG, "mi_backend_control: backend is NULL");
    mi_status st = mi_cuda_backend_control(b, NULL, request, arg);
    if (st == MI_ERR_UNSUPPORTED && !mi_backend_is_cuda(b))
        return mi__error(MI_ERR_UNSUPPORTED, "backend '%s' has no request %d (only the CUDA backend has)",
                         b->ops->name ? b->ops->name : "?", request);
    return st;
}
