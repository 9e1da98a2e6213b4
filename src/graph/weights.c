/* Weight relocation, for the runtime: once a model has copied the weights
 * into its own pool (a host backend) or uploaded them (a device), the
 * graph's pointers follow and what the loader kept alive (the ONNX
 * message, the blocks of folded values) is freed, so that the host holds
 * each weight once, or not at all. */
#include "graph/graph_private.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct moved {
    const void *from, *to;
    size_t nbytes;
} moved;

static int cmp_moved(const void *a, const void *b) {
    uintptr_t x = (uintptr_t)((const moved *)a)->from, y = (uintptr_t)((const moved *)b)->from;
    return (x > y) - (x < y);
}

/* The first pair of mv (sorted by from) whose from is p, or n. */
static size_t moved_find(const moved *mv, size_t n, const void *p) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)mv[mid].from < (uintptr_t)p) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && mv[lo].from == p ? lo : n;
}

/* Where p went: to of the pair whose from is p, or p itself. */
static const void *moved_to(const moved *mv, size_t n, const void *p) {
    size_t i = p ? moved_find(mv, n, p) : n;
    return i < n ? mv[i].to : p;
}

static void rebind_all(mi_graph *g, const moved *mv, size_t n) {
    for (size_t t = 0; t < g->ntensors; t++) {
        g->tensors[t].data = moved_to(mv, n, g->tensors[t].data);
        g->ti[t].cval = moved_to(mv, n, g->ti[t].cval);
    }
}

/* A zero-byte value's pointer: not NULL, so it still reads as known. */
static const unsigned char empty_value[1];

/* Whether p lies in one of the npools pools [pools[i], + sizes[i]). */
static int in_pools(const void *p, const void *const *pools, const size_t *sizes, size_t npools) {
    for (size_t i = 0; i < npools; i++)
        if (pools[i] && (uintptr_t)p >= (uintptr_t)pools[i] && (uintptr_t)p < (uintptr_t)pools[i] + sizes[i]) return 1;
    return 0;
}

/* Every known value outside the pools goes into a block of its own, as
 * large as the largest tensor sharing its pointer; then the blocks that
 * existed before (the first nb0) and the ONNX message are freed. mv has
 * room for two entries per tensor. */
static mi_status keep_values(mi_graph *g, moved *mv, const void *const *pools, const size_t *sizes, size_t npools,
                             size_t nb0) {
    size_t n = 0;
    for (size_t t = 0; t < g->ntensors; t++) {
        const void *ps[2] = {g->tensors[t].data, g->ti[t].cval};
        for (int k = 0; k < 2; k++)
            if (ps[k] && ps[k] != (const void *)empty_value && !in_pools(ps[k], pools, sizes, npools))
                mv[n++] = (moved){ps[k], NULL, g->tensors[t].nbytes};
    }
    qsort(mv, n, sizeof *mv, cmp_moved);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && mv[m - 1].from == mv[i].from) {
            if (mv[i].nbytes > mv[m - 1].nbytes) mv[m - 1].nbytes = mv[i].nbytes;
            continue;
        }
        mv[m++] = mv[i];
    }
    for (size_t i = 0; i < m; i++) {
        void *copy = mv[i].nbytes ? mi__graph_block(g, mv[i].nbytes) : (void *)empty_value;
        if (!copy)
            return mi__error(MI_ERR_NO_MEMORY, "graph '%s': copying %zu bytes of a constant", g->name, mv[i].nbytes);
        if (mv[i].nbytes) memcpy(copy, mv[i].from, mv[i].nbytes);
        mv[i].to = copy;
    }
    rebind_all(g, mv, m);
    if (nb0) {
        for (size_t i = 0; i < nb0; i++) mi__free(g->blocks[i]);
        memmove(g->blocks, g->blocks + nb0, (g->nblocks - nb0) * sizeof *g->blocks);
        g->nblocks -= nb0;
    }
    mi__graph_owner_release(g);
    return MI_OK;
}

static moved *moved_alloc(const mi_graph *g) {
    moved *mv = mi__malloc((2 * g->ntensors + 1) * sizeof *mv);
    if (!mv) mi__error(MI_ERR_NO_MEMORY, "graph '%s': moving the data of %zu tensors", g->name, g->ntensors);
    return mv;
}

mi_status mi__graph_weights_moved(mi_graph *g, const void *const *where, const void *const *pools, const size_t *sizes,
                                  size_t npools) {
    size_t n = 0, nb0 = g->nblocks;
    moved *mv = moved_alloc(g);
    if (!mv) return MI_ERR_NO_MEMORY;
    for (size_t t = 0; t < g->ntensors; t++)
        if (where[t] && g->tensors[t].data) mv[n++] = (moved){g->tensors[t].data, where[t], 0};
    qsort(mv, n, sizeof *mv, cmp_moved);
    rebind_all(g, mv, n);
    mi_status st = keep_values(g, mv, pools, sizes, npools, nb0);
    mi__free(mv);
    return st;
}

mi_status mi__graph_weights_dropped(mi_graph *g, const unsigned char *drop) {
    size_t n = 0, nb0 = g->nblocks;
    moved *mv = moved_alloc(g);
    if (!mv) return MI_ERR_NO_MEMORY;
    for (size_t t = 0; t < g->ntensors; t++) {
        const void *ps[2] = {g->tensors[t].data, g->ti[t].cval};
        for (int k = 0; k < 2 && drop[t]; k++)
            if (ps[k] && ps[k] != (const void *)empty_value) mv[n++] = (moved){ps[k], NULL, 0};
    }
    qsort(mv, n, sizeof *mv, cmp_moved);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || mv[m - 1].from != mv[i].from) mv[m++] = mv[i];
    /* A pointer some kept tensor shares stays (keep_values copies it). */
    for (size_t t = 0; t < g->ntensors; t++) {
        const void *ps[2] = {g->tensors[t].data, g->ti[t].cval};
        for (int k = 0; k < 2 && !drop[t]; k++) {
            size_t i = ps[k] ? moved_find(mv, m, ps[k]) : m;
            if (i < m) mv[i].to = ps[k];
        }
    }
    rebind_all(g, mv, m);
    mi_status st = keep_values(g, mv, NULL, NULL, 0, nb0);
    mi__free(mv);
    return st;
}
