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
 * Nothing is allocated while running.
 *
 * Batch ranges: a model planned at several batch sizes at load time
 * (mi_model_options.batches), the weights held once, one arena for the
 * largest size; a context runs any of them (mi_context_run_batch).
 *
 * Model sets: models on one backend instance whose contexts run one at a
 * time share one activations arena (mi_arena), sized for the largest of
 * them; a run while another context of the arena runs is refused with
 * MI_ERR_BUSY, never corrupted. */
#ifndef MINI_INFER_RUNTIME_H
#define MINI_INFER_RUNTIME_H

#include "mini_infer/backend.h"
#include "mini_infer/memplan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mi_model mi_model;
typedef struct mi_context mi_context;

/* The most batch sizes one model plans: each needs its own load, shape
 * inference and plan, and on CUDA its own algorithm choices. */
#define MI_MAX_BATCHES 16

typedef struct mi_model_options {
    mi_load_options load;     /* batch override, folding, fusion */
    mi_plan_options plan;     /* strategy, alignment, in-place, the exact search's limits and
                               * threads, capacity (mi_plan_options_init's defaults). Without a
                               * log of its own, the planner logs through the backend's */
    const char *device;       /* "cpu" (default), "cuda", "cuda:N" */
    mi_backend *backend_instance; /* a backend of the caller's instead of device; not
                                 closed by the model, must outlive it */
    mi_backend_options backend;
    /* A batch range (mi_model_load only): the model is planned at each of
     * these nbatches sizes (1 to MI_MAX_BATCHES, each >= 1, any order,
     * duplicates ignored), load.batch then unused. The model is its
     * largest size; mi_model_at_batch gives the others. 0: one size. */
    int nbatches;
    int64_t batches[MI_MAX_BATCHES];
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

/* Batch sizes the model was planned at, ascending: 1 for a model of one
 * size (its batch: dim 0 of its first input, 0 without one). */
size_t mi_model_batch_count(const mi_model *m);
int64_t mi_model_batch(const mi_model *m, size_t k);
/* The model at one size of m's batch range (m itself at its own size),
 * owned by m; NULL with MI_ERR_INVALID_ARG naming the planned sizes. */
mi_model *mi_model_at_batch(mi_model *m, int64_t batch);
/* Bytes of weights m holds on its device: its weights pool, plus, for a
 * batch range, what each other size does not share (constants folded
 * from its shapes). */
size_t mi_model_weights_size(const mi_model *m);
/* Bytes of the inputs/outputs pool one context holds. */
size_t mi_model_io_size(const mi_model *m);

/* arena NULL: the engine allocates the arena through the backend.
 * Otherwise arena (device memory of the model's backend) must hold
 * mi_model_arena_size bytes at mi_model_arena_alignment; the caller keeps
 * it alive until the context is destroyed. */
mi_status mi_context_create(mi_model *m, void *arena, size_t arena_size, mi_context **out);
void mi_context_destroy(mi_context *c);

/* ---- batch ranges ---- */

/* The context of one size of a batch range (c itself at its model's own
 * size), owned by c; NULL with MI_ERR_INVALID_ARG naming the sizes. */
mi_context *mi_context_at_batch(mi_context *c, int64_t batch);
/* mi_context_run at one planned batch size: inputs and outputs with
 * that size's shapes (mi_model_input(mi_model_at_batch(m, batch), i)). */
mi_status mi_context_run_batch(mi_context *c, int64_t batch, const void *const *inputs, void *const *outputs);
/* Runs every batch size once or, with CUDA Graphs, twice (eager, then
 * captured) on zeroed inputs, so that no timed run later pays for
 * algorithm warm-up or a capture. */
mi_status mi_context_warmup(mi_context *c);

/* ---- model sets: one arena, contexts that run one at a time ---- */

typedef struct mi_arena mi_arena;

/* The arena a set of models needs: the largest of their arenas (of every
 * batch size), and their alignment. Models on different backend
 * instances, or planned with different alignments, are refused naming
 * both. */
mi_status mi_arena_size_for(mi_model *const *models, size_t n, size_t *size, size_t *alignment);
/* An arena for the contexts of these models. memory NULL: allocated
 * through their backend; else the caller's device memory of size bytes
 * (at least mi_arena_size_for's, at its alignment), kept alive by the
 * caller until the arena is destroyed. */
mi_status mi_arena_create(mi_model *const *models, size_t n, void *memory, size_t size, mi_arena **out);
/* The arena goes once its last context is destroyed too. */
void mi_arena_destroy(mi_arena *a);
size_t mi_arena_bytes(const mi_arena *a);
/* A context of m (one of the arena's models, or any whose arena fits
 * and whose backend is the arena's) on the shared arena. Its runs hold
 * the arena: from the start of mi_context_run or mi_context_execute
 * until the run has finished (mi_context_execute(c, 0): until
 * mi_context_sync(c) or c's next run). A run of another context on the
 * arena meanwhile returns MI_ERR_BUSY naming the holder's model; call
 * mi_context_sync on the holder first. */
mi_status mi_context_create_on(mi_model *m, mi_arena *a, mi_context **out);

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
