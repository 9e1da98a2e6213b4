/* The contract between the core library and a backend plugin
 * (libmini_infer_cuda.so): the plugin never links the core, and never
 * counts on the program exporting the core's symbols. The loader hands it
 * this table instead, so there is one copy of the core's state (the
 * last-error message, the allocation hook) whether the program linked the
 * static archive or libmini_infer.so, and the plugin loads in any program:
 * the CLI, a user's program, Python (which opens extensions RTLD_LOCAL).
 *
 * The plugin's own copy of each function it uses forwards to the table
 * (cuda/core_link.c), so its code calls mi__malloc, mi__error,
 * mi_graph_tensor as the core's own code does. */
#ifndef MI_PLUGIN_H
#define MI_PLUGIN_H

#include "common/internal.h"
#include "graph/op_params.h"
#include "mini_infer/backend.h"

#include <stdarg.h>

/* Bumped whenever the table below or anything it passes changes layout
 * or meaning (3: a MatMul may carry a bias input and a GELU activation):
 * a plugin built for another ABI is refused with a message, not called. */
#define MI__PLUGIN_ABI 3u

typedef struct mi__plugin_host {
    uint32_t abi;  /* MI__PLUGIN_ABI of the core */
    size_t size;   /* sizeof(mi__plugin_host) of the core */
    /* errors and logging: the core's per-thread message */
    mi_status (*verror)(mi_status st, const char *fmt, va_list ap);
    mi_status (*verror_prefix)(mi_status st, const char *fmt, va_list ap);
    const char *(*last_error)(void);
    void (*clear_error)(void);
    void (*vlogf)(mi_log_fn fn, void *user, const char *fmt, va_list ap);
    /* the allocation hook */
    void *(*malloc)(size_t n);
    void *(*calloc)(size_t count, size_t size);
    void *(*realloc)(void *p, size_t n);
    void (*free)(void *p);
    mi_status (*grow)(void **arr, size_t *cap, size_t need, size_t elem);
    /* the graph, read through its accessors */
    const char *(*graph_name)(const mi_graph *g);
    size_t (*graph_node_count)(const mi_graph *g);
    const mi_node *(*graph_node)(const mi_graph *g, size_t i);
    size_t (*graph_tensor_count)(const mi_graph *g);
    const mi_tensor *(*graph_tensor)(const mi_graph *g, size_t i);
    const void *(*graph_value)(const mi_graph *g, int t);
    int64_t (*node_attr_int)(const mi_node *n, const char *name, int64_t dflt);
    const mi_attr *(*node_attr)(const mi_node *n, const char *name);
    int64_t (*tensor_numel)(const mi_tensor *t);
    int (*tensor_storage_dims)(const mi_tensor *t, int64_t *dims);
    int (*tensor_storage_axis)(const mi_tensor *t, int axis);
    int (*tensor_layout_neutral)(const mi_tensor *t);
    size_t (*dtype_size)(mi_dtype t);
    const char *(*dtype_name)(mi_dtype t);
    const char *(*op_name)(mi_op op);
    /* what each op's attributes mean (graph/op_params.h) */
    mi_status (*op_params_get)(const mi_graph *g, const mi_node *n, mi__op_params *out);
    mi_status (*node_check_overlap)(const mi_graph *g, const mi_node *n, void *const *in, void *const *out);
    int64_t (*window_out)(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                          int64_t pad_begin, int64_t pad_end, int ceil_mode);
} mi__plugin_host;

/* What a backend plugin exports: its ABI, and its entry point. */
#define MI__PLUGIN_ABI_SYMBOL "mi_backend_plugin_abi"
#define MI__PLUGIN_CREATE_SYMBOL "mi_backend_plugin_create"
typedef mi_status (*mi__plugin_create_fn)(const mi__plugin_host *host, int device_index,
                                          const mi_backend_options *opt, mi_backend **out);

/* ---- the core's side (plugin.c) ---------------------------------------------- */

const mi__plugin_host *mi__plugin_host_table(void);
/* Finds library (plugin.c says where), checks its ABI and creates its
 * backend for device_index. Not loadable: MI_ERR_BACKEND naming every
 * place tried and why; loaded, the plugin's own status (MI_ERR_NO_DEVICE
 * without a driver or a GPU). */
mi_status mi__plugin_open(const char *device, const char *library, int device_index,
                          const mi_backend_options *opt, mi_backend **out);

#endif
