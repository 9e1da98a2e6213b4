/* The core functions this library calls, each forwarded to the table the
 * core hands the entry point (src/runtime/plugin.h). With them the plugin
 * leaves no mini-infer symbol undefined: it loads in a program that
 * exports nothing (a user's program, Python), and its errors and
 * allocations reach the one last-error slot and allocation hook of the
 * program's core, static archive or shared library alike. Hidden like the
 * rest of the library, so nothing here is seen outside it. */
#include "cuda_internal.h"

static const mi__plugin_host *core;

void mi__cu_bind_core(const mi__plugin_host *host) { core = host; }

/* ---- errors and logging --------------------------------------------------------- */

mi_status mi__verror(mi_status st, const char *fmt, va_list ap) { return core->verror(st, fmt, ap); }

mi_status mi__error(mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    st = core->verror(st, fmt, ap);
    va_end(ap);
    return st;
}

mi_status mi__error_prefix(mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    st = core->verror_prefix(st, fmt, ap);
    va_end(ap);
    return st;
}

const char *mi_last_error(void) { return core->last_error(); }
void mi_clear_error(void) { core->clear_error(); }

void mi__logf(mi_log_fn fn, void *user, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    core->vlogf(fn, user, fmt, ap);
    va_end(ap);
}

/* ---- the allocation hook ---------------------------------------------------------- */

void *mi__malloc(size_t n) { return core->malloc(n); }
void *mi__calloc(size_t count, size_t size) { return core->calloc(count, size); }
void *mi__realloc(void *p, size_t n) { return core->realloc(p, n); }
void mi__free(void *p) { core->free(p); }
mi_status mi__grow(void **arr, size_t *cap, size_t need, size_t elem) { return core->grow(arr, cap, need, elem); }

/* ---- the graph ------------------------------------------------------------------- */

const char *mi_graph_name(const mi_graph *g) { return core->graph_name(g); }
size_t mi_graph_node_count(const mi_graph *g) { return core->graph_node_count(g); }
const mi_node *mi_graph_node(const mi_graph *g, size_t i) { return core->graph_node(g, i); }
size_t mi_graph_tensor_count(const mi_graph *g) { return core->graph_tensor_count(g); }
const mi_tensor *mi_graph_tensor(const mi_graph *g, size_t i) { return core->graph_tensor(g, i); }
const void *mi__graph_value(const mi_graph *g, int t) { return core->graph_value(g, t); }
int64_t mi_node_attr_int(const mi_node *n, const char *name, int64_t dflt) {
    return core->node_attr_int(n, name, dflt);
}
int64_t mi_tensor_numel(const mi_tensor *t) { return core->tensor_numel(t); }
const mi_attr *mi_node_attr(const mi_node *n, const char *name) { return core->node_attr(n, name); }
int mi_tensor_storage_dims(const mi_tensor *t, int64_t *dims) { return core->tensor_storage_dims(t, dims); }
int mi_tensor_storage_axis(const mi_tensor *t, int axis) { return core->tensor_storage_axis(t, axis); }
int mi_tensor_layout_neutral(const mi_tensor *t) { return core->tensor_layout_neutral(t); }
size_t mi_dtype_size(mi_dtype t) { return core->dtype_size(t); }
const char *mi_dtype_name(mi_dtype t) { return core->dtype_name(t); }
const char *mi_op_name(mi_op op) { return core->op_name(op); }

mi_status mi__op_params_get(const mi_graph *g, const mi_node *n, mi__op_params *out) {
    return core->op_params_get(g, n, out);
}
mi_status mi__node_check_overlap(const mi_graph *g, const mi_node *n, void *const *in, void *const *out) {
    return core->node_check_overlap(g, n, in, out);
}
int64_t mi__window_out(int64_t in, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                       int64_t pad_end, int ceil_mode) {
    return core->window_out(in, kernel, stride, dilation, pad_begin, pad_end, ceil_mode);
}
