/* mini-infer: the engine.
 *
 * A model holds the graph, the memory plan and the weights pool: loaded
 * once, shareable. A context holds one activations arena and one
 * inputs/outputs pool and runs the model; several contexts may share one
 * model (one thread per context). The arena comes from the engine (one
 * allocation of exactly the planned size) or from the caller.
 *
 *     mi_model *m;
 *     mi_model_load("resnet50.onnx", NULL, &m);          // cpu, auto plan
 *     mi_context *c;
 *     mi_context_create(m, NULL, 0, &c);                  // engine-owned arena
 *     const void *in[] = {image};  void *out[] = {scores};
 *     mi_context_run(c, in, out);
 *     mi_context_destroy(c);
 *     mi_model_destroy(m);
 *
 * Nothing is allocated while running. */
#ifndef MINI_INFER_RUNTIME_H
#define MINI_INFER_RUNTIME_H

#include "mini_infer/backend.h"
#include "mini_infer/memplan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mi_model mi_model;
typedef struct mi_context mi_context;

typedef struct mi_model_options {
    mi_load_options load;     /* batch override, folding, fusion */
    mi_plan_options plan;     /* strategy, alignment, in-place, the exact search's limits and
                               * threads, capacity (mi_plan_options_init's defaults). Without a
                               * log of its own, the planner logs through the backend's */
    const char *device;       /* "cpu" (default), "cuda", "cuda:N" */
    mi_backend *backend_instance; /* a backend of the caller's instead of device; not
                                 closed by the model, must outlive it */
    mi_backend_options backend;
} mi_model_options;

void mi_model_options_init(mi_model_options *o);

mi_status mi_model_load(const char *path, const mi_model_options *opt, mi_model **out);
/* Builds a model from a finalized graph; the model takes ownership of g,
 * also on failure. With a backend in host memory (cpu) the weights are
 * then held once: the graph's weight data points into the model's weights
 * pool, valid while the model lives, and the ONNX message is freed. On a
 * device (cuda) the host keeps no copy once they are uploaded: the data of
 * every tensor in the weights pool becomes NULL (unless a value read while
 * running shares its bytes), the ONNX message is freed too, and the
 * weights are read back through mi_context_tensor_ptr and the backend's
 * download. */
mi_status mi_model_create(mi_graph *g, const mi_model_options *opt, mi_model **out);
void mi_model_destroy(mi_model *m);

const mi_graph *mi_model_graph(const mi_model *m);
const mi_memory_plan *mi_model_plan(const mi_model *m);
mi_backend *mi_model_backend(const mi_model *m);
/* The arena a context needs, and the alignment its base must have. */
size_t mi_model_arena_size(const mi_model *m);
size_t mi_model_arena_alignment(const mi_model *m);

size_t mi_model_input_count(const mi_model *m);
size_t mi_model_output_count(const mi_model *m);
const mi_tensor *mi_model_input(const mi_model *m, size_t i);
const mi_tensor *mi_model_output(const mi_model *m, size_t i);
/* Index of an input or output by name, -1 when absent. */
int mi_model_find_input(const mi_model *m, const char *name);
int mi_model_find_output(const mi_model *m, const char *name);

/* arena NULL: the engine allocates the arena through the backend.
 * Otherwise arena (device memory of the model's backend) must hold
 * mi_model_arena_size bytes at mi_model_arena_alignment; the caller keeps
 * it alive until the context is destroyed. */
mi_status mi_context_create(mi_model *m, void *arena, size_t arena_size, mi_context **out);
void mi_context_destroy(mi_context *c);

/* Poison mode (host backends): before each node every arena byte that no
 * live tensor owns is filled with a NaN pattern, and checked after it, so a
 * plan or kernel that writes outside its tensors fails naming the node. */
mi_status mi_context_set_poison(mi_context *c, int on);

/* Runs once: copies each input from host memory (model input order, each
 * of the input's nbytes), runs every node, copies each output to host.
 * Waits first for any run still enqueued on this context. */
mi_status mi_context_run(mi_context *c, const void *const *inputs, void *const *outputs);

/* Device pointer of any tensor in this context (inputs, outputs, weights,
 * activations), for debugging and for feeding device buffers; NULL when
 * index is out of range. An activation's bytes are only meaningful while
 * it is live. */
void *mi_context_tensor_ptr(const mi_context *c, size_t tensor);

/* Waits for everything enqueued on the context (a run left enqueued by
 * mi_context_execute(c, 0), or the caller's stream on CUDA); on a backend
 * whose runs finish before they return, returns at once. */
mi_status mi_context_sync(mi_context *c);
/* A request on the context's backend state (cuda.h: streams, timers):
 * MI_ERR_UNSUPPORTED naming the backend when it has no such request. */
mi_status mi_context_control(mi_context *c, int request, void *arg);

/* Runs the nodes on device memory already in place (inputs written at
 * mi_context_tensor_ptr of each input) without copying; sync 0 returns
 * as soon as the work is enqueued (CUDA: on the context's stream). */
mi_status mi_context_execute(mi_context *c, int sync);

#ifdef __cplusplus
}
#endif

#endif
