/* Weights one model's plans share: a batch range plans the same file at
 * several batch sizes, whose weights are the same bytes but for the
 * constants folded from shapes (a class token expanded to [B, 1, D]). The
 * largest size holds the weights pool; every other size reads what it
 * shares from there and keeps only the rest in a pool of its own. */
#include "common/internal.h"
#include "mini_infer/memplan.h"

#include <string.h>

/* A weight plan p holds in its weights pool as bytes of its own (not a
 * view of another weight). */
static int own_weight(const mi_graph *g, const mi_memory_plan *p, size_t t) {
    const mi_tensor *x = mi_graph_tensor(g, t);
    const mi_tensor_place *pl = mi_memory_plan_tensor(p, t);
    return x->role == MI_ROLE_WEIGHT && pl->pool == MI_POOL_WEIGHTS && pl->alias_of < 0 && x->nbytes;
}

static int same_value(const mi_tensor *a, const mi_tensor *b) {
    if (a->dtype != b->dtype || a->ndim != b->ndim || a->nbytes != b->nbytes || !a->data || !b->data) return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k]) return 0;
    return memcmp(a->data, b->data, a->nbytes) == 0;
}

mi_status mi_memory_plan_share_weights(const mi_graph *ga, const mi_memory_plan *pa, const mi_graph *gb,
                                       const mi_memory_plan *pb, int *match, size_t *own_offset,
                                       size_t *own_bytes) {
    if (!ga || !pa || !gb || !pb || !match || !own_offset || !own_bytes)
        return mi__error(MI_ERR_INVALID_ARG, "mi_memory_plan_share_weights: an argument is NULL");
    size_t align = mi_memory_plan_alignment(pb), at = 0, nt = mi_graph_tensor_count(gb);
    for (size_t t = 0; t < nt; t++) {
        match[t] = -1;
        own_offset[t] = SIZE_MAX;
        if (!own_weight(gb, pb, t)) continue;
        const mi_tensor *x = mi_graph_tensor(gb, t);
        int u = mi_graph_find_tensor(ga, x->name);
        if (u >= 0 && own_weight(ga, pa, (size_t)u) && same_value(mi_graph_tensor(ga, (size_t)u), x)) {
            match[t] = u;
            continue;
        }
        size_t end;
        if (!mi__align_up(at, align, &at) || !mi__add_size(at, x->nbytes, &end))
            return mi__error(MI_ERR_OVERFLOW, "graph '%s': weights of its own overflow at '%s'", mi_graph_name(gb),
                             x->name);
        own_offset[t] = at;
        at = end;
    }
    if (at && !mi__align_up(at, align, &at))
        return mi__error(MI_ERR_OVERFLOW, "graph '%s': weights of its own overflow", mi_graph_name(gb));
    *own_bytes = at;
    return MI_OK;
}
