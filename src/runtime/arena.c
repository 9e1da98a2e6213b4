/* Shared arenas: the contexts of several models (or of one model's batch
 * range) that run one at a time on one backend share one activations
 * arena, sized for the largest. A run holds the arena from its start
 * until it has finished; a second context's run meanwhile is refused
 * (MI_ERR_BUSY), so two runs never write over each other's tensors. */
#include "runtime/runtime_internal.h"

#include <stdint.h>
#include <string.h>

mi_status mi_arena_size_for(mi_model *const *models, size_t n, size_t *size, size_t *alignment) {
    *size = 0;
    *alignment = 0;
    if (!models || n == 0) return mi__error(MI_ERR_INVALID_ARG, "a shared arena needs at least one model");
    for (size_t i = 0; i < n; i++)
        if (!models[i]) return mi__error(MI_ERR_INVALID_ARG, "model %zu of the set is NULL", i);
    const mi_model *first = models[0];
    for (size_t i = 1; i < n; i++) {
        const mi_model *m = models[i];
        if (mi_model_backend(m) != mi_model_backend(first))
            return mi__error(MI_ERR_INVALID_ARG, "model '%s' (%s) and model '%s' (%s) are on different backend "
                             "instances: a shared arena needs one (open it once, pass it as "
                             "mi_model_options.backend_instance)", mi__model_name(first),
                             mi_model_backend(first)->ops->name, mi__model_name(m), mi_model_backend(m)->ops->name);
        if (mi_model_arena_alignment(m) != mi_model_arena_alignment(first))
            return mi__error(MI_ERR_INVALID_ARG, "model '%s' is planned at a %zu-byte alignment and model '%s' at %zu: "
                             "a shared arena needs one", mi__model_name(first), mi_model_arena_alignment(first),
                             mi__model_name(m), mi_model_arena_alignment(m));
    }
    for (size_t i = 0; i < n; i++) {
        size_t need = mi__model_arena_need(models[i]);
        if (need > *size) *size = need;
    }
    *alignment = mi_model_arena_alignment(first);
    return MI_OK;
}

mi_status mi_arena_create(mi_model *const *models, size_t n, void *memory, size_t size, mi_arena **out) {
    *out = NULL;
    size_t need, align;
    mi_status st = mi_arena_size_for(models, n, &need, &align);
    if (st) return st;
    if (memory && size < need)
        return mi__error(MI_ERR_INVALID_ARG, "caller's arena of %zu bytes is smaller than the set's %zu", size, need);
    if (memory && (uintptr_t)memory % align)
        return mi__error(MI_ERR_INVALID_ARG, "caller's arena at %p is not aligned to %zu bytes", memory, align);
    mi_arena *a = mi__calloc(1, sizeof *a);
    if (!a) return mi__error(MI_ERR_NO_MEMORY, "creating a shared arena");
    a->backend = mi_model_backend(models[0]);
    a->alignment = align;
    a->size = memory ? size : need;
    a->memory = memory;
    if (!memory && need) {
        if ((st = a->backend->ops->alloc(a->backend, need, "shared activations arena", &a->memory))) {
            mi__free(a);
            return st;
        }
        a->owns = 1;
    }
    atomic_init(&a->holder, 0);
    atomic_init(&a->holder_model, 0);
    atomic_init(&a->refs, 1);
    *out = a;
    return MI_OK;
}

void mi__arena_ref(mi_arena *a) { atomic_fetch_add(&a->refs, 1); }

void mi__arena_unref(mi_arena *a) {
    if (atomic_fetch_sub(&a->refs, 1) != 1) return;
    if (a->owns && a->memory) a->backend->ops->free(a->backend, a->memory);
    mi__free(a);
}

void mi_arena_destroy(mi_arena *a) {
    if (a) mi__arena_unref(a);
}

size_t mi_arena_bytes(const mi_arena *a) { return a ? a->size : 0; }

mi_status mi__arena_take(mi_arena *a, const mi_context *top) {
    uintptr_t expect = 0, me = (uintptr_t)top;
    if (atomic_compare_exchange_strong(&a->holder, &expect, me)) {
        atomic_store(&a->holder_model, (uintptr_t)top->model);
        return MI_OK;
    }
    if (expect == me) return MI_OK;
    /* Not the holder context itself (it may be going on another thread):
     * its model, which outlives every context of it. */
    const mi_model *other = (const mi_model *)atomic_load(&a->holder_model);
    return mi__error(MI_ERR_BUSY, "model '%s': the shared arena is in use by a run of a context of model '%s' "
                     "(contexts of a shared arena run one at a time; wait for it, or mi_context_sync it)",
                     mi__model_name(top->model), other ? mi__model_name(other) : "?");
}

void mi__arena_give(mi_arena *a, const mi_context *top) {
    uintptr_t expect = (uintptr_t)top;
    atomic_compare_exchange_strong(&a->holder, &expect, 0);
}
