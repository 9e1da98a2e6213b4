/* An ordered set of (key, value) pairs: a treap in one array.
 *
 * The validator keeps the live buffers ordered by offset and the colouring
 * keeps free objects ordered by size; both need insert, remove and
 * neighbour queries in O(log n) with at most a few thousand live entries
 * among a million buffers. Pairs are ordered by key, then by value; the
 * priorities come from a fixed-seed generator, so runs are deterministic. */
#ifndef MI_PLANNER_OSET_H
#define MI_PLANNER_OSET_H

#include "common/internal.h"

typedef struct mi__oset_node {
    uint64_t key;
    uint32_t val;
    uint32_t prio;
    uint32_t left, right; /* 0 = none; node 0 is unused */
} mi__oset_node;

typedef struct mi__oset {
    mi__oset_node *nodes;
    size_t cap;       /* nodes allocated, node 0 included */
    uint32_t used;    /* high-water mark of nodes handed out */
    uint32_t freelist;
    uint32_t root;
    size_t count;
    uint64_t rng;
} mi__oset;

mi_status mi__oset_init(mi__oset *s, size_t hint);
void mi__oset_free(mi__oset *s);
mi_status mi__oset_insert(mi__oset *s, uint64_t key, uint32_t val);
/* Returns 1 when the pair was present and is removed. */
int mi__oset_remove(mi__oset *s, uint64_t key, uint32_t val);
/* Smallest pair >= (key, val); returns 0 when none. */
int mi__oset_ceil(const mi__oset *s, uint64_t key, uint32_t val, uint64_t *okey, uint32_t *oval);
/* Largest pair < (key, val); returns 0 when none. */
int mi__oset_lower(const mi__oset *s, uint64_t key, uint32_t val, uint64_t *okey, uint32_t *oval);
/* Largest pair; returns 0 when empty. */
int mi__oset_max(const mi__oset *s, uint64_t *okey, uint32_t *oval);

#endif
