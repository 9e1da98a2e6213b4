/* mini-infer: the backend interface.
 *
 * A backend executes nodes on one device. The engine (runtime.h) plans the
 * memory, allocates each pool once through the backend, resolves every
 * tensor to base + offset once, and then calls run() per node with those
 * pointers; a backend never allocates while running. The CPU backend is the
 * reference every other backend is compared with; the CUDA backend lives
 * in its own shared library (libmini_infer_cuda.so) and is loaded only when
 * a device "cuda[:N]" is asked for.
 *
 * In-place contract: the planner may make a node's output the same memory
 * as one of its inputs (elementwise ops and BatchNormalization on input 0
 * or, for Add/Sub/Mul/Div, the same-shaped input 1; a fused Conv on its
 * residual). Every run() must give the right answer when out[0] equals that
 * input pointer. View ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity,
 * Dropout) are called only when the plan could not make them views (their
 * output is a graph output), as copies. */
#ifndef MINI_INFER_BACKEND_H
#define MINI_INFER_BACKEND_H

#include "mini_infer/graph.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mi_backend mi_backend;

/* What run() gets for one node: pointers into the pools. */
typedef struct mi_node_args {
    const mi_graph *graph;
    size_t index;         /* node position */
    const mi_node *node;
    void *const *in;      /* node->ninputs pointers; NULL for an omitted optional input */
    void *const *out;     /* node->noutputs pointers; NULL for an unused optional output */
    void *residual;       /* node->fused.residual's pointer, or NULL */
    void *workspace;      /* planned in the arena, live for this node only */
    size_t workspace_size;
} mi_node_args;

typedef struct mi_backend_options {
    size_t max_workspace; /* per node, for the library's own scratch (cuDNN's conv
                           * algorithm, cuBLAS); copies a node needs besides (a
                           * pre-padded input) come on top. 0: the backend's default */
    int tf32;             /* CUDA: allow TF32 math (default off) */
    int cuda_graph;       /* CUDA: capture the run into a CUDA Graph and replay it */
    int verbose;
    mi_log_fn log;
    void *log_user;
} mi_backend_options;

void mi_backend_options_init(mi_backend_options *o);

/* end_run's sync argument: wait for the run to finish. */
#define MI_BACKEND_END_RUN_SYNC 1

typedef struct mi_backend_ops {
    /* sizeof(mi_backend_ops) as the backend was compiled (MI_BACKEND_OPS_SIZE):
     * the engine reads no slot past it, so a table built against an older
     * header stays valid when slots are added, and it refuses a table
     * smaller than MI_BACKEND_OPS_MIN_SIZE. */
    size_t size;
    const char *name;
    void (*destroy)(mi_backend *b);
    /* Device memory: one call per pool. alloc fails with
     * MI_ERR_DEVICE_MEMORY (or MI_ERR_NO_MEMORY on the host) naming what. */
    mi_status (*alloc)(mi_backend *b, size_t bytes, const char *what, void **ptr);
    void (*free)(mi_backend *b, void *ptr);
    mi_status (*upload)(mi_backend *b, void *dst, const void *host_src, size_t n);
    mi_status (*download)(mi_backend *b, void *host_dst, const void *src, size_t n);
    /* Device-to-device copy (e.g. a graph output that is a view of a weight). */
    mi_status (*copy)(mi_backend *b, void *dst, const void *src, size_t n);
    /* Before planning: the workspace node `index` needs, in bytes. Errors
     * name the node when the backend cannot run it. */
    mi_status (*prepare)(mi_backend *b, const mi_graph *g, size_t index, size_t *workspace);
    /* Per context state (streams, captured graphs); both may be NULL. */
    mi_status (*context_create)(mi_backend *b, void **ctx);
    void (*context_destroy)(mi_backend *b, void *ctx);
    /* A run: begin, nodes in order, end. begin may set *skip_nodes when it
     * replays a captured graph at end instead. end waits for completion
     * when sync is MI_BACKEND_END_RUN_SYNC; with 0 the run stays enqueued
     * (runtime.h: mi_context_execute(c, 0)). */
    mi_status (*begin_run)(mi_backend *b, void *ctx, int *skip_nodes);
    mi_status (*run)(mi_backend *b, void *ctx, const mi_node_args *args);
    mi_status (*end_run)(mi_backend *b, void *ctx, int sync);
    /* Host memory, so the engine may poison the arena and read tensors. */
    int host_memory;
    /* Waits for everything enqueued on a context's state (a run left
     * enqueued, the caller's stream). NULL: every run is finished when
     * end_run returns. */
    mi_status (*sync)(mi_backend *b, void *ctx);
    /* Requests only some backends answer (cuda.h: device information,
     * memory, streams, timers); ctx is NULL for a request on the backend
     * itself. A request the backend does not know: MI_ERR_UNSUPPORTED.
     * NULL: the backend answers none. */
    mi_status (*control)(mi_backend *b, void *ctx, int request, void *arg);
    /* One backend instance may serve several models (runtime.h: a model
     * set, a batch range): what prepare() kept per node belongs to graph
     * g. context_create_graph: a context that runs only g (preferred over
     * context_create when present). release_graph: the engine will not run
     * g again (its model is going): drop what prepare() kept for it. Both
     * may be NULL (a backend that keeps nothing per graph). */
    mi_status (*context_create_graph)(mi_backend *b, const mi_graph *g, void **ctx);
    void (*release_graph)(mi_backend *b, const mi_graph *g);
} mi_backend_ops;

#define MI_BACKEND_OPS_SIZE sizeof(mi_backend_ops)
/* The oldest table the engine accepts: every slot up to host_memory. */
#define MI_BACKEND_OPS_MIN_SIZE (offsetof(mi_backend_ops, host_memory) + sizeof(int))
/* Whether ops has a non-NULL slot within the size it declares. */
#define MI_BACKEND_OPS_HAS(ops, slot) \
    ((ops)->size >= offsetof(mi_backend_ops, slot) + sizeof((ops)->slot) && (ops)->slot)

struct mi_backend {
    const mi_backend_ops *ops;
    void *state;
    mi_backend_options options;
};

/* Opens "cpu", "cuda" or "cuda:N". opt may be NULL. The CUDA backend is a
 * library of its own (libmini_infer_cuda.so), loaded on first use from
 * $MI_CUDA_BACKEND when set, else beside the library or the program (the
 * build tree and an install prefix alike), else by the loader's search
 * path. When it cannot be loaded (not built, not found, a library it
 * needs missing, built for another version): MI_ERR_BACKEND, saying why
 * for each place tried. Loaded, but no driver or no GPU: MI_ERR_NO_DEVICE. */
mi_status mi_backend_open(const char *device, const mi_backend_options *opt, mi_backend **out);
void mi_backend_close(mi_backend *b);
/* MI_ERR_INVALID_ARG naming the backend when its ops table is too small
 * or lacks a slot the engine calls (alloc, free, upload, download,
 * prepare, run); mi_model_create checks a caller's backend with it. */
mi_status mi_backend_check(const mi_backend *b);

/* A request only some backends answer (the ops' control slot; cuda.h
 * lists the CUDA backend's). A backend without it, or without that
 * request: MI_ERR_UNSUPPORTED naming the backend. */
mi_status mi_backend_control(mi_backend *b, int request, void *arg);

/* The CPU reference backend. */
mi_status mi_backend_cpu_create(const mi_backend_options *opt, mi_backend **out);

/* The CUDA backend's library. */
#define MI_BACKEND_CUDA_LIBRARY "libmini_infer_cuda.so"

#ifdef __cplusplus
}
#endif

#endif
