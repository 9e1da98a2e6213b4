/* coloring: greedy colouring of the conflict graph, as the original design
 * described. Buffers whose lifetimes overlap may not share a colour; each
 * colour is one shared object sized to its largest buffer, and the pool is
 * the sum of the objects.
 *
 * The conflict graph is never built (a million intervals can have 1e11
 * edges): intervals are swept in order of start, and an object becomes free
 * again once its current buffer has died. Among free objects the buffer
 * takes the smallest one that is large enough, else grows the largest. */
#include "oset.h"
#include "planner_internal.h"

#include <string.h>

static int cmp_start(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    if (p->first[a] != p->first[b]) return p->first[a] < p->first[b] ? -1 : 1;
    if (p->size[a] != p->size[b]) return p->size[a] > p->size[b] ? -1 : 1;
    return (a > b) - (a < b);
}

/* Min-heap of (last step, object) for the objects in use. */
typedef struct busy {
    uint32_t last, obj;
} busy;

static void heap_push(busy *h, size_t *n, busy v) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h[parent].last < v.last || (h[parent].last == v.last && h[parent].obj <= v.obj)) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = v;
}

static busy heap_pop(busy *h, size_t *n) {
    busy top = h[0], v = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && (h[c + 1].last < h[c].last || (h[c + 1].last == h[c].last && h[c + 1].obj < h[c].obj)))
            c++;
        if (v.last < h[c].last || (v.last == h[c].last && v.obj <= h[c].obj)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
    return top;
}

mi_status mi__plan_coloring(const mi__prob *p, size_t *offsets, size_t *pool) {
    mi_status st = MI_OK;
    size_t n = p->n, alloc_n = n ? n : 1;
    uint32_t *order = mi__malloc(alloc_n * sizeof *order);
    uint32_t *color = mi__malloc(alloc_n * sizeof *color);
    size_t *objsize = mi__malloc(alloc_n * sizeof *objsize);
    busy *heap = mi__malloc(alloc_n * sizeof *heap);
    mi__oset free_objs;
    memset(&free_objs, 0, sizeof free_objs);
    if (!order || !color || !objsize || !heap) {
        st = mi__error(MI_ERR_NO_MEMORY, "coloring: %zu buffers", n);
        goto done;
    }
    if ((st = mi__oset_init(&free_objs, 64))) goto done;
    for (size_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    if ((st = mi__sort_idx(order, n, cmp_start, p))) goto done;
    size_t nheap = 0;
    uint32_t nobj = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = order[k];
        while (nheap && heap[0].last < p->first[b]) {
            busy d = heap_pop(heap, &nheap);
            if ((st = mi__oset_insert(&free_objs, objsize[d.obj], d.obj))) goto done;
        }
        uint64_t key;
        uint32_t obj;
        if (mi__oset_ceil(&free_objs, p->size[b], 0, &key, &obj) ||
            mi__oset_max(&free_objs, &key, &obj)) {
            mi__oset_remove(&free_objs, key, obj);
            if (objsize[obj] < p->size[b]) objsize[obj] = p->size[b];
        } else {
            obj = nobj++;
            objsize[obj] = p->size[b];
        }
        color[b] = obj;
        heap_push(heap, &nheap, (busy){p->last[b], obj});
        if (p->verbose)
            mi__logf(p->log, p->log_user, "coloring: buffer %u (%zu bytes) -> object %u", b,
                     p->size[b], obj);
    }
    /* Objects laid out one after another; the sum cannot exceed naive. */
    size_t at = 0;
    for (uint32_t o = 0; o < nobj; o++) {
        size_t sz = objsize[o];
        objsize[o] = at;
        at += sz;
    }
    for (size_t i = 0; i < n; i++) offsets[i] = objsize[color[i]];
    *pool = at;
done:
    mi__oset_free(&free_objs);
    mi__free(order);
    mi__free(color);
    mi__free(objsize);
    mi__free(heap);
    return st;
}
