/* Opening backends by device name, and what the engine asks of any
 * backend's ops table. The CUDA backend is a plugin (plugin.c), loaded
 * only when a device "cuda[:N]" is asked for, so planning never
 * initialises CUDA or maps its libraries. */
#include "runtime/plugin.h"
#include "runtime/runtime_internal.h"

#include <stdlib.h>
#include <string.h>

void mi_backend_options_init(mi_backend_options *o) { memset(o, 0, sizeof *o); }

void mi_backend_close(mi_backend *b) {
    if (b && b->ops && b->ops->destroy) b->ops->destroy(b);
}

mi_status mi_backend_check(const mi_backend *b) {
    if (!b || !b->ops) return mi__error(MI_ERR_INVALID_ARG, "backend: no ops table");
    const mi_backend_ops *o = b->ops;
    const char *name = o->name ? o->name : "(unnamed)";
    if (o->size < MI_BACKEND_OPS_MIN_SIZE)
        return mi__error(MI_ERR_INVALID_ARG,
                         "backend '%s': its ops table declares %zu bytes, at least %zu expected (set .size "
                         "to MI_BACKEND_OPS_SIZE)", name, o->size, (size_t)MI_BACKEND_OPS_MIN_SIZE);
    const char *missing = !o->alloc ? "alloc" : !o->free ? "free" : !o->upload ? "upload"
                        : !o->download ? "download" : !o->prepare ? "prepare" : !o->run ? "run" : NULL;
    if (missing)
        return mi__error(MI_ERR_INVALID_ARG, "backend '%s': its ops table has no %s", name, missing);
    return MI_OK;
}

/* "cuda" or "cuda:N": the device index, or -1 with the error set. */
static int cuda_index(const char *device) {
    if (device[4] == '\0') return 0;
    char *end;
    long index = strtol(device + 5, &end, 10);
    if (end == device + 5 || *end || index < 0 || index > 1023) {
        mi__error(MI_ERR_INVALID_ARG, "device '%s': expected cuda:N with N a device index", device);
        return -1;
    }
    return (int)index;
}

mi_status mi_backend_open(const char *device, const mi_backend_options *opt, mi_backend **out) {
    *out = NULL;
    mi_backend_options o;
    if (opt) o = *opt;
    else mi_backend_options_init(&o);
    if (!device || strcmp(device, "cpu") == 0) return mi_backend_cpu_create(&o, out);
    if (strncmp(device, "cuda", 4) == 0 && (device[4] == '\0' || device[4] == ':')) {
        int index = cuda_index(device);
        if (index < 0) return MI_ERR_INVALID_ARG;
        mi_status st = mi__plugin_open(device, MI_BACKEND_CUDA_LIBRARY, index, &o, out);
        if (st == MI_OK && (st = mi_backend_check(*out)) != MI_OK) {
            mi_backend_close(*out);
            *out = NULL;
        }
        return st;
    }
    return mi__error(MI_ERR_INVALID_ARG, "device '%s': expected cpu, cuda or cuda:N", device);
}

/* A request on the backend (ctx NULL) or on a context's state; an error
 * names the backend when it has no such request. */
mi_status mi__backend_request(mi_backend *b, void *ctx, int request, void *arg) {
    const char *name = b->ops->name ? b->ops->name : "?";
    if (!MI_BACKEND_OPS_HAS(b->ops, control))
        return mi__error(MI_ERR_UNSUPPORTED, "backend '%s' answers no requests (asked for request %d)", name,
                         request);
    mi_status st = b->ops->control(b, ctx, request, arg);
    if (st == MI_ERR_UNSUPPORTED)
        return mi__error(MI_ERR_UNSUPPORTED, "backend '%s' has no request %d", name, request);
    return st;
}

mi_status mi_backend_control(mi_backend *b, int request, void *arg) {
    if (!b || !b->ops) return mi__error(MI_ERR_INVALID_ARG, "mi_backend_control: backend is NULL");
    return mi__backend_request(b, NULL, request, arg);
}
