/* What the runtime's files share: the model, context and shared-arena
 * structures (model.c, context.c, arena.c), and a request on a backend or
 * on one of its contexts' state (backend.c), for mi_backend_control and
 * mi_context_control. */
#ifndef MI_RUNTIME_INTERNAL_H
#define MI_RUNTIME_INTERNAL_H

#include "common/internal.h"
#include "mini_infer/backend.h"
#include "mini_infer/runtime.h"

#include <stdatomic.h>

struct mi_model {
    char *name;         /* the file it was loaded from, else the graph's name: for messages */
    mi_graph *graph;
    mi_backend *backend;
    mi_memory_plan *plan;
    size_t *workspace;  /* per node, from the backend's prepare */
    void *weights;      /* the weights pool (a batch size's own part, for a range's other sizes) */
    size_t weights_size;
    int owns_backend;
    int64_t batch;      /* the batch size it was planned at (dim 0 of input 0; 0 without one) */
    /* A batch range: the model is its largest size; sizes[] every size
     * ascending, one of them the model itself. Another size's model has
     * parent set, shares the parent's backend and reads every weight it
     * shares from the parent's pool (wptr per tensor, NULL elsewhere). */
    mi_model **sizes;
    size_t nsizes;
    mi_model *parent;
    void **wptr;
};

struct mi_context {
    mi_model *model;
    void *arena;        /* device memory */
    int owns_arena;
    void *io;           /* device memory */
    int owns_io;
    void *bctx;         /* the backend's per-context state */
    void **tensor_ptr;  /* per tensor */
    void **arg_ptrs;    /* every node's input and output pointers, back to back */
    mi_node_args *args; /* per node */
    /* A batch range: the context of each size over one arena and one
     * inputs/outputs pool (one of them the context itself); top is the
     * context the caller holds. */
    mi_context **sizes;
    size_t nsizes;
    mi_context *top;
    mi_arena *shared;   /* the shared arena it runs on, or NULL */
    int pending;        /* a run left enqueued (mi_context_execute(c, 0)) */
    /* poison mode */
    int poison;
    size_t *ranges;     /* scratch: 2 per live range */
};

struct mi_arena {
    mi_backend *backend;
    void *memory;
    size_t size, alignment;
    int owns;
    atomic_uintptr_t holder; /* the top context whose run holds it, 0 when free */
    atomic_uintptr_t holder_model; /* its model, for the message of a refused run */
    atomic_size_t refs;      /* the handle and every context on it */
};

/* MI_ERR_UNSUPPORTED naming the backend when it answers no requests or
 * not this one. */
mi_status mi__backend_request(mi_backend *b, void *ctx, int request, void *arg);

/* arena.c: a run of top on a shared arena takes it (MI_ERR_BUSY when
 * another context holds it) and gives it back; unref after a context on
 * it is destroyed. */
mi_status mi__arena_take(mi_arena *a, const mi_context *top);
void mi__arena_give(mi_arena *a, const mi_context *top);
void mi__arena_ref(mi_arena *a);
void mi__arena_unref(mi_arena *a);

/* m's name in messages (the file it came from, else its graph's name). */
const char *mi__model_name(const mi_model *m);

/* The arena size one context of m needs: the largest of its sizes'. */
size_t mi__model_arena_need(const mi_model *m);

#endif
