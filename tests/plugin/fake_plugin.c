/* Stand-ins for a backend plugin, one per way loading can go (built by
 * tests/test_plugin.cmake with one of these defined):
 *   FAKE_NO_ENTRY   a shared library that is no plugin at all
 *   FAKE_OLD_ABI    a plugin built for another ABI
 *   FAKE_UNDEFINED  a plugin that counts on the program exporting the
 *                   core's symbols, as this project's plugin once did
 *   FAKE_GOOD       a plugin that works through the host table: it
 *                   allocates and frees through it and reports "no device"
 *                   in the program's own last-error slot */
#include "runtime/plugin.h"

#define EXPORT __attribute__((visibility("default")))

#if defined(FAKE_NO_ENTRY)
EXPORT int fake_plugin_nothing_here = 1;
#elif defined(FAKE_OLD_ABI)
EXPORT const uint32_t mi_backend_plugin_abi = MI__PLUGIN_ABI + 998u;
EXPORT mi_status mi_backend_plugin_create(const mi__plugin_host *host, int device_index,
                                          const mi_backend_options *opt, mi_backend **out) {
    return MI_ERR_INTERNAL; /* never called */
}
#elif defined(FAKE_UNDEFINED)
EXPORT const uint32_t mi_backend_plugin_abi = MI__PLUGIN_ABI;
EXPORT mi_status mi_backend_plugin_create(const mi__plugin_host *host, int device_index,
                                          const mi_backend_options *opt, mi_backend **out) {
    return mi_tensor_numel(NULL) ? MI_OK : MI_ERR_NO_DEVICE;
}
#elif defined(FAKE_GOOD)
static mi_status report(const mi__plugin_host *host, mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    st = host->verror(st, fmt, ap);
    va_end(ap);
    return st;
}
EXPORT const uint32_t mi_backend_plugin_abi = MI__PLUGIN_ABI;
EXPORT mi_status mi_backend_plugin_create(const mi__plugin_host *host, int device_index,
                                          const mi_backend_options *opt, mi_backend **out) {
    *out = NULL;
    if (host->abi != MI__PLUGIN_ABI || host->size < sizeof *host) return MI_ERR_BACKEND;
    void *p = host->malloc(64);
    if (!p) return report(host, MI_ERR_NO_MEMORY, "fake plugin: 64 bytes");
    host->free(p);
    return report(host, MI_ERR_NO_DEVICE, "fake plugin: no device %d here", device_index);
}
#endif
