/* The CUDA backend: libmini_infer_cuda.so's entry point and ops.
 *
 * Memory. The engine asks prepare() for every node's workspace (the conv
 * algorithm is chosen there, under the workspace budget), plans, then
 * calls alloc() once per pool: one cudaMalloc each for the weights, each
 * context's activations arena and inputs/outputs pool. Nothing else
 * allocates device memory: workspaces (cuDNN's, cuBLAS's, a padded input,
 * a zero bias) are planned parts of the arena, and a run allocates
 * nothing. Every pool is registered, so run() can check each pointer it
 * gets against the pool it lies in.
 *
 * Streams. Each context has its own non-blocking stream and its own cuDNN
 * and cuBLAS handles bound to the stream of the run; a caller may give
 * its own stream (MI_CUDA_REQ_SET_STREAM). Uploads and downloads use the
 * backend's copy stream and wait for it.
 *
 * CUDA Graphs (option cuda_graph). The first run is eager (it loads the
 * kernels and warms the libraries); the second is captured on the
 * context's stream into a graph, which is instantiated and launched; from
 * then on begin_run() sets *skip_nodes and end_run() launches the graph.
 * Pointers never move (the pools are fixed for the context's life), so
 * the replay is exact. If capturing fails, the context falls back to
 * eager runs and the captured run is executed node by node.
 *
 * NVTX: a range per run and per node (nvtx_ranges.c); replays have only
 * their run range, as the node ranges exist at capture time alone. */
#include "cuda_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mi__cu_backend *state(mi_backend *b) { return (mi__cu_backend *)b->state; }

/* ---- the backend ---------------------------------------------------------------------- */

static void prep_free(mi__cu_prep *p) {
    if (!p) return;
    for (size_t k = 0; k < p->nnodes; k++) mi__cu_node_release(&p->nodes[k]);
    mi__free(p->nodes);
    mi__free(p);
}

/* The state kept for graph g, or NULL (the caller holds the lock). */
static mi__cu_prep *prep_find(const mi__cu_backend *cb, const mi_graph *g, size_t *at) {
    for (size_t i = 0; i < cb->npreps; i++)
        if (cb->preps[i]->graph == g) {
            if (at) *at = i;
            return cb->preps[i];
        }
    return NULL;
}

static void cu_destroy(mi_backend *b) {
    if (!b) return;
    mi__cu_backend *cb = state(b);
    if (cb) {
        for (size_t i = 0; i < cb->npreps; i++) prep_free(cb->preps[i]);
        mi__free(cb->preps);
        /* Pools the engine did not free (it frees all on every path) would
         * leak device memory for the process's life: free them here. */
        for (size_t i = 0; i < cb->regions.n; i++) mi__cu_rt_free((void *)cb->regions.v[i].base);
        mi__cu_regions_free(&cb->regions);
        mi__cu_dnn_kernel_cache_destroy(cb->kernel_cache); /* after the plans that used it */
        mi__cu_dnn_destroy(cb->dnn);
        mi__cu_lt_destroy(cb->lt); /* after the nodes' cuBLASLt plans */
        mi__cu_rt_stream_destroy(cb->copy);
        pthread_mutex_destroy(&cb->lock);
        mi__free(cb);
    }
    mi__free(b);
}

static mi_status cu_alloc(mi_backend *b, size_t bytes, const char *what, void **ptr) {
    mi__cu_backend *cb = state(b);
    mi_status st = mi__cu_rt_set_device(cb->device);
    *ptr = NULL;
    if (st) return st;
    if ((st = mi__cu_rt_malloc(cb->device, bytes ? bytes : 1, what, ptr))) return st;
    pthread_mutex_lock(&cb->lock);
    st = mi__cu_regions_add(&cb->regions, *ptr, bytes, what);
    pthread_mutex_unlock(&cb->lock);
    if (st) {
        mi__cu_rt_free(*ptr);
        *ptr = NULL;
        return st;
    }
    mi__logf(b->options.verbose ? b->options.log : NULL, b->options.log_user,
             "cuda: %s: %zu bytes at %p (cudaMalloc)", what ? what : "pool", bytes, *ptr);
    return MI_OK;
}

static void cu_free(mi_backend *b, void *ptr) {
    mi__cu_backend *cb = state(b);
    if (!ptr) return;
    pthread_mutex_lock(&cb->lock);
    (void)mi__cu_regions_remove(&cb->regions, ptr, NULL);
    pthread_mutex_unlock(&cb->lock);
    (void)mi__cu_rt_set_device(cb->device);
    mi__cu_rt_free(ptr);
}

static mi_status cu_copy_kind(mi_backend *b, void *dst, const void *src, size_t n, int kind) {
    mi__cu_backend *cb = state(b);
    mi_status st = mi__cu_rt_set_device(cb->device);
    if (!st) st = mi__cu_rt_copy_sync(cb->copy, dst, src, n, kind);
    return st;
}

static mi_status cu_upload(mi_backend *b, void *dst, const void *src, size_t n) {
    return cu_copy_kind(b, dst, src, n, cudaMemcpyHostToDevice);
}
static mi_status cu_download(mi_backend *b, void *dst, const void *src, size_t n) {
    return cu_copy_kind(b, dst, src, n, cudaMemcpyDeviceToHost);
}
static mi_status cu_copy(mi_backend *b, void *dst, const void *src, size_t n) {
    return cu_copy_kind(b, dst, src, n, cudaMemcpyDeviceToDevice);
}

/* The node state (descriptors, algorithms) is kept per graph, so one
 * backend serves every model of a set. The engine prepares a model's
 * nodes from 0 when it builds it; node 0 again starts the graph over,
 * refused while contexts made for it live. */
static mi_status cu_prepare(mi_backend *b, const mi_graph *g, size_t index, size_t *workspace) {
    mi__cu_backend *cb = state(b);
    size_t nn = mi_graph_node_count(g);
    *workspace = 0;
    pthread_mutex_lock(&cb->lock);
    mi__cu_prep *p = prep_find(cb, g, NULL);
    mi_status st = MI_OK;
    if (p && (index == 0 || p->nnodes != nn)) {
        if (p->ncontexts)
            st = mi__error(MI_ERR_INVALID_ARG, "cuda backend: graph '%s' is prepared again while %zu of its "
                           "contexts live", mi_graph_name(g), p->ncontexts);
        else {
            for (size_t k = 0; k < p->nnodes; k++) mi__cu_node_release(&p->nodes[k]);
            memset(p->nodes, 0, p->nnodes * sizeof *p->nodes);
            if (p->nnodes != nn) {
                mi__free(p->nodes);
                p->nodes = mi__calloc(nn ? nn : 1, sizeof *p->nodes);
                p->nnodes = p->nodes ? nn : 0;
                if (!p->nodes) st = mi__error(MI_ERR_NO_MEMORY, "cuda backend: state of %zu nodes", nn);
            }
            p->libs = 0;
        }
    } else if (!p) {
        p = mi__calloc(1, sizeof *p);
        void *grown = p ? mi__realloc(cb->preps, (cb->npreps + 1) * sizeof *cb->preps) : NULL;
        if (grown) cb->preps = grown;
        if (p) p->nodes = mi__calloc(nn ? nn : 1, sizeof *p->nodes);
        if (!p || !grown || !p->nodes) {
            if (p) mi__free(p->nodes);
            mi__free(p);
            p = NULL;
            st = mi__error(MI_ERR_NO_MEMORY, "cuda backend: state of %zu nodes", nn);
        } else {
            p->graph = g;
            p->nnodes = nn;
            cb->preps[cb->npreps++] = p;
        }
    }
    pthread_mutex_unlock(&cb->lock);
    if (st) return st;
    if (index >= nn) return mi__error(MI_ERR_INVALID_ARG, "cuda backend: node %zu of %zu", index, nn);
    if (!(st = mi__cu_rt_set_device(cb->device))) st = mi__cu_prepare_node(cb, p, &b->options, index, workspace);
    return st;
}

static void cu_release_graph(mi_backend *b, const mi_graph *g) {
    mi__cu_backend *cb = state(b);
    size_t at = 0;
    pthread_mutex_lock(&cb->lock);
    mi__cu_prep *p = prep_find(cb, g, &at);
    if (p) cb->preps[at] = cb->preps[--cb->npreps];
    pthread_mutex_unlock(&cb->lock);
    prep_free(p);
}

/* ---- contexts --------------------------------------------------------------------------- */

static void cu_context_destroy(mi_backend *b, void *ctx) {
    mi__cu_ctx *cx = ctx;
    if (!cx) return;
    if (cx->counted) {
        pthread_mutex_lock(&state(b)->lock);
        state(b)->ncontexts--;
        if (cx->prep) cx->prep->ncontexts--;
        pthread_mutex_unlock(&state(b)->lock);
    }
    (void)mi__cu_rt_set_device(state(b)->device);
    if (cx->capturing) {
        cudaGraphExec_t none;
        (void)mi__cu_rt_capture_end(cx->own, &none, 1);
    }
    mi__cu_rt_graph_destroy(cx->exec);
    mi__cu_rt_event_destroy(cx->t0);
    mi__cu_rt_event_destroy(cx->t1);
    mi__cu_blas_destroy(cx->blas);
    mi__cu_dnn_destroy(cx->dnn);
    mi__cu_rt_stream_destroy(cx->own);
    mi__free(cx->captured);
    mi__free(cx);
}

/* g NULL (the older slot): the context finds its graph on its first run
 * and gets the handles of every library a prepared node calls. */
static mi_status context_create(mi_backend *b, const mi_graph *g, void **out) {
    mi__cu_backend *cb = state(b);
    mi_status st;
    *out = NULL;
    mi__cu_ctx *cx = mi__calloc(1, sizeof *cx);
    if (!cx) return mi__error(MI_ERR_NO_MEMORY, "cuda backend: creating a context");
    cx->cb = cb;
    pthread_mutex_lock(&cb->lock);
    cx->prep = g ? prep_find(cb, g, NULL) : NULL;
    unsigned libs = cx->prep ? cx->prep->libs : cb->libs;
    pthread_mutex_unlock(&cb->lock);
    if (g && !cx->prep) {
        mi__free(cx);
        return mi__error(MI_ERR_INVALID_ARG, "cuda backend: graph '%s' was not prepared", mi_graph_name(g));
    }
    /* Library handles only where a prepared node calls the library: each
     * costs device memory, and a model without Gemm never loads cuBLAS. */
    if ((st = mi__cu_rt_set_device(cb->device)) || (st = mi__cu_rt_stream_create(&cx->own)) ||
        ((libs & MI__CU_LIB_DNN) && (st = mi__cu_dnn_create(&cx->dnn))) ||
        ((libs & MI__CU_LIB_BLAS) && (st = mi__cu_blas_create(&cx->blas, b->options.tf32))) ||
        (st = mi__cu_rt_event_create(&cx->t0)) || (st = mi__cu_rt_event_create(&cx->t1))) {
        cx->prep = NULL;
        cu_context_destroy(b, cx);
        return mi__error_prefix(st, "cuda backend: creating a context: ");
    }
    pthread_mutex_lock(&cb->lock);
    cb->ncontexts++;
    if (cx->prep) cx->prep->ncontexts++;
    pthread_mutex_unlock(&cb->lock);
    cx->counted = 1;
    *out = cx;
    return MI_OK;
}

static mi_status cu_context_create(mi_backend *b, void **out) { return context_create(b, NULL, out); }

static mi_status cu_context_create_graph(mi_backend *b, const mi_graph *g, void **out) {
    return context_create(b, g, out);
}

/* ---- runs ------------------------------------------------------------------------------- */

static cudaStream_t run_stream(const mi__cu_ctx *cx) { return cx->user ? cx->user : cx->own; }

static mi_status bind_dnn(mi__cu_ctx *cx, cudaStream_t s) {
    if (!cx->dnn || (cx->bound && cx->dnn_stream == s)) return MI_OK;
    mi_status st = mi__cu_dnn_bind(cx->dnn, s);
    if (st) return st;
    cx->dnn_stream = s;
    cx->bound = 1;
    return MI_OK;
}

/* Ends a run that failed half-way: a capture in progress is discarded
 * (so the stream is usable again) and the NVTX ranges are closed. */
static void abort_run(mi__cu_ctx *cx) {
    if (cx->capturing) {
        cudaGraphExec_t none;
        (void)mi__cu_rt_capture_end(cx->own, &none, 1);
        cx->capturing = 0;
    }
    while (cx->open_ranges > 0) {
        mi__cu_range_pop();
        cx->open_ranges--;
    }
}

/* CUDA Graphs failed in this context: say why (verbose) and go on eagerly. */
static void graphs_failed(mi_backend *b, const char *what) {
    mi__logf(b->options.verbose ? b->options.log : NULL, b->options.log_user,
             "cuda: %s (%s); this context runs eagerly from now on", what, mi_last_error());
    mi_clear_error();
}

static mi_status cu_begin_run(mi_backend *b, void *ctx, int *skip_nodes) {
    mi__cu_backend *cb = state(b);
    mi__cu_ctx *cx = ctx;
    mi_status st;
    *skip_nodes = 0;
    if (!cx) return mi__error(MI_ERR_INVALID_ARG, "cuda backend: a run needs a context");
    if (!cx->prep) {
        /* Made without a graph: the backend's only one. */
        pthread_mutex_lock(&cb->lock);
        if (cb->npreps == 1) {
            cx->prep = cb->preps[0];
            cx->prep->ncontexts++;
        }
        size_t np = cb->npreps;
        pthread_mutex_unlock(&cb->lock);
        if (!cx->prep)
            return mi__error(MI_ERR_INVALID_ARG, "cuda backend: a context made without a graph runs on a backend "
                             "that prepared %zu graphs (create it with context_create_graph)", np);
    }
    if ((st = mi__cu_rt_set_device(cb->device))) return st;
    cudaStream_t s = run_stream(cx);
    cx->mode = MI__CU_RUN_EAGER;
    cx->ncaptured = 0;
    if (b->options.cuda_graph && !cx->graphs_off) {
        if (cx->exec) {
            cx->mode = MI__CU_RUN_REPLAY;
            *skip_nodes = 1;
        } else if (cx->runs >= 1) {
            /* Warmed up: capture this run on the context's own stream with
             * the handles bound to it (cudnnSetStream before capturing). */
            size_t nn = cx->prep->nnodes;
            if (cx->cap_captured < nn) {
                void *p = mi__realloc(cx->captured, (nn ? nn : 1) * sizeof *cx->captured);
                if (!p) return mi__error(MI_ERR_NO_MEMORY, "cuda backend: capture order of %zu nodes", nn);
                cx->captured = p;
                cx->cap_captured = nn;
            }
            if ((st = bind_dnn(cx, cx->own))) return st;
            if ((st = mi__cu_rt_capture_begin(cx->own))) {
                /* Not capturable here (e.g. another capture on this thread):
                 * this run and the next go eagerly instead of failing. */
                graphs_failed(b, "a CUDA Graph capture could not start");
                cx->graphs_off = 1;
            } else {
                s = cx->own;
                cx->capturing = 1;
                cx->mode = MI__CU_RUN_CAPTURE;
            }
        }
    }
    if (cx->mode == MI__CU_RUN_EAGER && (st = bind_dnn(cx, s))) return st;
    cx->stream = s;
    mi__cu_range_push_run(cx->prep->graph, cx->mode);
    cx->open_ranges = 1;
    return MI_OK;
}

/* A capture that cannot become a graph: what it recorded never ran, so
 * run it now, eagerly, on the run's stream, and stay eager from now on. */
static mi_status replay_eagerly(mi_backend *b, mi__cu_ctx *cx) {
    mi_status st;
    cx->graphs_off = 1;
    cx->mode = MI__CU_RUN_EAGER;
    cx->stream = run_stream(cx);
    if ((st = bind_dnn(cx, cx->stream))) return st;
    for (size_t i = 0; i < cx->ncaptured; i++)
        if ((st = mi__cu_run_node(state(b), cx, cx->captured[i]))) return st;
    return MI_OK;
}

static mi_status cu_run(mi_backend *b, void *ctx, const mi_node_args *a) {
    mi__cu_ctx *cx = ctx;
    if (!cx || !a) return mi__error(MI_ERR_INVALID_ARG, "cuda backend: run: NULL context or arguments");
    mi_status st = mi__cu_run_node(state(b), cx, a);
    if (st && cx->capturing) {
        /* The node could not be captured (or failed): end the capture, run
         * the nodes before it and then it eagerly; the rest of this run
         * follows eagerly. A real error shows again in the eager call. */
        cudaGraphExec_t none;
        graphs_failed(b, "a node could not be captured into a CUDA Graph");
        (void)mi__cu_rt_capture_end(cx->own, &none, 1);
        cx->capturing = 0;
        st = replay_eagerly(b, cx);
        if (!st) st = mi__cu_run_node(state(b), cx, a);
    }
    if (st) {
        abort_run(cx);
        return st;
    }
    if (cx->capturing && cx->ncaptured < cx->cap_captured) cx->captured[cx->ncaptured++] = a;
    return MI_OK;
}

static mi_status end_run(mi_backend *b, void *ctx, int sync) {
    mi__cu_backend *cb = state(b);
    mi__cu_ctx *cx = ctx;
    mi_status st = MI_OK;
    if (!cx) return mi__error(MI_ERR_INVALID_ARG, "cuda backend: a run needs a context");
    cudaStream_t s = run_stream(cx);
    if (cx->mode == MI__CU_RUN_CAPTURE) {
        /* What the executable costs on the device: NVML's figure across its
         * instantiation and first launch (once per context). */
        size_t before = 0, after = 0;
        char why[160];
        int known = mi__cu_nvml_process_bytes(cb->info.pci_bus_id, &before, why, sizeof why);
        cx->capturing = 0;
        st = mi__cu_rt_capture_end(cx->own, &cx->exec, 0);
        if (st) {
            graphs_failed(b, "the captured run did not become a CUDA Graph");
            st = replay_eagerly(b, cx);
        } else {
            st = mi__cu_rt_graph_launch(cx->exec, s);
            if (!st && known && mi__cu_nvml_process_bytes(cb->info.pci_bus_id, &after, why, sizeof why) &&
                after > before) {
                pthread_mutex_lock(&cb->lock);
                cb->graph_execs += after - before;
                pthread_mutex_unlock(&cb->lock);
            }
        }
    } else if (cx->mode == MI__CU_RUN_REPLAY) {
        st = mi__cu_rt_graph_launch(cx->exec, s);
    }
    while (cx->open_ranges > 0) {
        mi__cu_range_pop();
        cx->open_ranges--;
    }
    if (st) return st;
    cx->runs++;
    if (sync) {
        st = mi__cu_rt_stream_sync(s, NULL, "the run");
        if (st && !cb->debug_sync)
            st = mi__error_prefix(st, "graph '%s' on cuda:%d (set MI_CUDA_DEBUG_SYNC=1 to find the node): ",
                                  mi_graph_name(cx->prep->graph), cb->device);
    }
    return st;
}


/* ---- control requests (include/mini_infer/cuda.h) ---------------------------------------- */

static mi_status memory_report(mi__cu_backend *cb, mi_cuda_memory *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_lock(&cb->lock);
    for (size_t i = 0; i < cb->regions.n; i++) {
        const mi__cu_region *r = &cb->regions.v[i];
        size_t *slot = strstr(r->what, "weights") ? &m->weights
                     : strstr(r->what, "arena") ? &m->arena
                     : strstr(r->what, "inputs/outputs") ? &m->io : &m->other;
        *slot += r->size;
        m->pools += r->size;
    }
    pthread_mutex_unlock(&cb->lock);
    size_t fr = 0, total = 0;
    mi_status st = mi__cu_rt_mem_info(&fr, &total);
    if (st) return st;
    m->device_total = total;
    m->device_used = total - fr;
    m->start_used = cb->start_used;
    m->process_known = mi__cu_nvml_process_bytes(cb->info.pci_bus_id, &m->process, m->process_note,
                                                 sizeof m->process_note);
    if ((st = mi__cu_rt_stack_get(&m->stack_limit))) return st;
    m->stack_reserved = mi__cu_stack_reservation(cb->info.sm_count, cb->info.threads_per_sm, m->stack_limit);
    pthread_mutex_lock(&cb->lock);
    m->graph_execs = cb->graph_execs;
    for (size_t i = 0; i < cb->npreps; i++)
        for (size_t k = 0; k < cb->preps[i]->nnodes; k++)
            if (cb->preps[i]->nodes[k].ws.request > m->workspace_max)
                m->workspace_max = cb->preps[i]->nodes[k].ws.request;
    pthread_mutex_unlock(&cb->lock);
    if (m->process_known)
        m->context_and_libraries = mi__cu_context_share(m->process, m->pools, m->stack_reserved, m->graph_execs);
    return MI_OK;
}

static mi_status cu_control(mi_backend *b, void *ctx, int request, void *arg) {
    mi__cu_backend *cb = state(b);
    mi__cu_ctx *cx = ctx;
    mi_status st = mi__cu_rt_set_device(cb->device);
    if (st) return st;
    if (request >= MI_CUDA_REQ_SET_STREAM && !cx)
        return mi__error(MI_ERR_INVALID_ARG, "cuda backend: request %d needs a context", request);
    switch (request) {
    case MI_CUDA_REQ_DEVICE_INFO:
        if (!arg) break;
        *(mi_cuda_device_info *)arg = cb->info;
        return MI_OK;
    case MI_CUDA_REQ_MEMORY:
        if (!arg) break;
        return memory_report(cb, arg);
    case MI_CUDA_REQ_PROFILER:
        if (!arg) break;
        return mi__cu_rt_profiler(*(const int *)arg);
    case MI_CUDA_REQ_SET_STREAM:
        if (cx->capturing)
            return mi__error(MI_ERR_INVALID_ARG, "cuda backend: cannot change the stream while capturing");
        cx->user = (cudaStream_t)arg;
        return MI_OK;
    case MI_CUDA_REQ_GET_STREAM:
        if (!arg) break;
        *(void **)arg = (void *)run_stream(cx);
        return MI_OK;
    case MI_CUDA_REQ_TIMER_START:
        if ((st = mi__cu_rt_event_record(cx->t0, run_stream(cx)))) return st;
        cx->timing = 1;
        return MI_OK;
    case MI_CUDA_REQ_TIMER_STOP:
        if (!arg) break;
        if (!cx->timing) return mi__error(MI_ERR_INVALID_ARG, "cuda backend: timer stopped before it started");
        cx->timing = 0;
        if ((st = mi__cu_rt_event_record(cx->t1, run_stream(cx)))) return st;
        return mi__cu_rt_event_elapsed(cx->t0, cx->t1, (float *)arg);
    default:
        return mi__error(MI_ERR_UNSUPPORTED, "cuda backend: unknown request %d", request);
    }
    return mi__error(MI_ERR_INVALID_ARG, "cuda backend: request %d needs an argument", request);
}

static mi_status cu_sync(mi_backend *b, void *ctx) {
    mi__cu_backend *cb = state(b);
    mi__cu_ctx *cx = ctx;
    if (!cx) return mi__error(MI_ERR_INVALID_ARG, "cuda backend: sync needs a context");
    mi_status st = mi__cu_rt_set_device(cb->device);
    return st ? st : mi__cu_rt_stream_sync(run_stream(cx), NULL, "waiting for the context's stream");
}

static const mi_backend_ops cuda_ops = {
    .size = MI_BACKEND_OPS_SIZE,
    .name = "cuda",
    .destroy = cu_destroy,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .copy = cu_copy,
    .prepare = cu_prepare,
    .context_create = cu_context_create,
    .context_create_graph = cu_context_create_graph,
    .release_graph = cu_release_graph,
    .context_destroy = cu_context_destroy,
    .begin_run = cu_begin_run,
    .run = cu_run,
    .end_run = end_run,
    .host_memory = 0,
    .sync = cu_sync,
    .control = cu_control,
};

/* ---- the footprint ------------------------------------------------------------------------ */

mi_status mi__cu_backend_dnn(mi__cu_backend *cb) {
    if (cb->dnn) return MI_OK;
    mi_status st = mi__cu_dnn_create(&cb->dnn);
    if (st) return mi__error_prefix(st, "device 'cuda:%d': cuDNN could not start: ", cb->device);
    return MI_OK;
}

mi_status mi__cu_backend_lt(mi__cu_backend *cb) {
    if (cb->lt) return MI_OK;
    mi_status st = mi__cu_lt_create(&cb->lt);
    if (st) return mi__error_prefix(st, "device 'cuda:%d': cuBLASLt could not start: ", cb->device);
    return MI_OK;
}

/* Before the first launch: the per-thread stack limit to what our kernels
 * need ($MI_CUDA_STACK overrides; the driver raises it for a library's
 * kernel that needs more), and a warning where modules load eagerly. */
static mi_status footprint_setup(mi_backend *b, mi__cu_backend *cb) {
    mi_status st;
    size_t ours = 0, want = 0;
    int set = 0;
    if ((st = mi__cu_rt_kernels_stack(&ours)) ||
        (st = mi__cu_stack_choose(getenv("MI_CUDA_STACK"), ours, &want, &set)) ||
        (set && (st = mi__cu_rt_stack_set(want))))
        return st;
    cb->info.stack_ours = ours;
    cb->info.stack_set = set ? want : 0;
    cb->info.module_loading = mi__cu_rt_module_loading();
    const char *warn = mi__cu_loading_warning(cb->info.module_loading, getenv("CUDA_MODULE_LOADING"));
    if (warn) mi__logf(b->options.log, b->options.log_user, "cuda: warning: %s", warn);
    return MI_OK;
}

/* ---- the entry point ----------------------------------------------------------------------- */

/* The library is built with hidden visibility: these two are all it exports. */
#define EXPORT __attribute__((visibility("default")))

EXPORT const uint32_t mi_backend_plugin_abi = MI__PLUGIN_ABI;

EXPORT mi_status mi_backend_plugin_create(const mi__plugin_host *host, int device_index,
                                          const mi_backend_options *opt, mi_backend **out) {
    mi_status st;
    /* Nothing of the core is reachable before the table is bound. */
    if (!host || host->abi != MI__PLUGIN_ABI || host->size < sizeof *host) return MI_ERR_BACKEND;
    mi__cu_bind_core(host);
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_backend_plugin_create: out is NULL");
    *out = NULL;
    mi_backend *b = mi__calloc(1, sizeof *b);
    mi__cu_backend *cb = b ? mi__calloc(1, sizeof *cb) : NULL;
    if (!cb) {
        mi__free(b);
        return mi__error(MI_ERR_NO_MEMORY, "cuda backend: creating the backend");
    }
    if (pthread_mutex_init(&cb->lock, NULL) != 0) {
        mi__free(cb);
        mi__free(b);
        return mi__error(MI_ERR_INTERNAL, "cuda backend: pthread_mutex_init failed");
    }
    b->ops = &cuda_ops;
    b->state = cb;
    if (opt) b->options = *opt;
    cb->device = device_index;
    cb->budget = b->options.max_workspace ? b->options.max_workspace : MI__CU_DEFAULT_BUDGET;
    cb->verbose = b->options.verbose;
    cb->log = b->options.log;
    cb->log_user = b->options.log_user;
    const char *dbg = getenv("MI_CUDA_DEBUG_SYNC");
    cb->debug_sync = dbg && *dbg && strcmp(dbg, "0") != 0;
    if ((st = mi__cu_rt_open(device_index, &cb->info)) || (st = footprint_setup(b, cb)) ||
        (st = mi__cu_rt_stream_create(&cb->copy)))
        goto fail;
    size_t fr = 0, total = 0;
    if ((st = mi__cu_rt_mem_info(&fr, &total))) goto fail;
    cb->start_used = total - fr;
    cb->info.cudnn_version = mi__cu_dnn_version();
    cb->info.cublas_version = mi__cu_blas_version();
    cb->info.tf32 = b->options.tf32 != 0;
    cb->info.cuda_graph = b->options.cuda_graph != 0;
    cb->info.max_workspace = cb->budget;
    mi__logf(b->options.verbose ? b->options.log : NULL, b->options.log_user,
             "cuda: device %d %s (compute capability %d.%d, %.1f GiB), driver %d, runtime %d, cuDNN %zu, "
             "cuBLAS %d; TF32 %s, CUDA Graphs %s, workspace budget %zu bytes per node",
             device_index, cb->info.name, cb->info.cc_major, cb->info.cc_minor,
             (double)cb->info.total_bytes / 1073741824.0, cb->info.driver_version, cb->info.runtime_version,
             cb->info.cudnn_version, cb->info.cublas_version, cb->info.tf32 ? "on" : "off",
             cb->info.cuda_graph ? "on" : "off", cb->budget);
    *out = b;
    return MI_OK;
fail:
    cu_destroy(b);
    return st;
}
