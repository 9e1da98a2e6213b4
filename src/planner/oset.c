#include "oset.h"

#include <string.h>

static int pair_less(uint64_t ka, uint32_t va, uint64_t kb, uint32_t vb) {
    return ka < kb || (ka == kb && va < vb);
}

static uint32_t next_prio(mi__oset *s) {
    /* xorshift64*: enough randomness for balance, fixed seed for determinism */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (uint32_t)((s->rng * 2685821657736338717ULL) >> 32);
}

mi_status mi__oset_init(mi__oset *s, size_t hint) {
    memset(s, 0, sizeof *s);
    s->rng = 0x9E3779B97F4A7C15ULL;
    s->used = 1;
    return mi__grow((void **)&s->nodes, &s->cap, hint + 1, sizeof(mi__oset_node));
}

void mi__oset_free(mi__oset *s) {
    if (!s) return;
    mi__free(s->nodes);
    memset(s, 0, sizeof *s);
}

/* Splits tree t into pairs < (key,val) -> *l and >= (key,val) -> *r. */
static void split(mi__oset_node *n, uint32_t t, uint64_t key, uint32_t val, uint32_t *l, uint32_t *r) {
    while (t) {
        if (pair_less(n[t].key, n[t].val, key, val)) {
            *l = t;
            l = &n[t].right;
            t = n[t].right;
        } else {
            *r = t;
            r = &n[t].left;
            t = n[t].left;
        }
    }
    *l = 0;
    *r = 0;
}

/* Merges a and b where every pair of a is < every pair of b. */
static uint32_t merge(mi__oset_node *n, uint32_t a, uint32_t b) {
    uint32_t root = 0, *link = &root;
    while (a && b) {
        if (n[a].prio > n[b].prio) {
            *link = a;
            link = &n[a].right;
            a = n[a].right;
        } else {
            *link = b;
            link = &n[b].left;
            b = n[b].left;
        }
    }
    *link = a ? a : b;
    return root;
}

mi_status mi__oset_insert(mi__oset *s, uint64_t key, uint32_t val) {
    uint32_t id;
    if (s->freelist) {
        id = s->freelist;
        s->freelist = s->nodes[id].left;
    } else {
        if (s->used == UINT32_MAX) return mi__error(MI_ERR_OVERFLOW, "ordered set full");
        mi_status st = mi__grow((void **)&s->nodes, &s->cap, (size_t)s->used + 1, sizeof(mi__oset_node));
        if (st) return st;
        id = s->used++;
    }
    mi__oset_node *n = s->nodes;
    n[id] = (mi__oset_node){key, val, next_prio(s), 0, 0};
    /* Descend while priorities are higher, then split the subtree there. */
    uint32_t *link = &s->root;
    while (*link && n[*link].prio >= n[id].prio)
        link = pair_less(key, val, n[*link].key, n[*link].val) ? &n[*link].left : &n[*link].right;
    split(n, *link, key, val, &n[id].left, &n[id].right);
    *link = id;
    s->count++;
    return MI_OK;
}

int mi__oset_remove(mi__oset *s, uint64_t key, uint32_t val) {
    mi__oset_node *n = s->nodes;
    uint32_t *link = &s->root;
    while (*link) {
        uint32_t t = *link;
        if (n[t].key == key && n[t].val == val) {
            *link = merge(n, n[t].left, n[t].right);
            n[t].left = s->freelist;
            s->freelist = t;
            s->count--;
            return 1;
        }
        link = pair_less(key, val, n[t].key, n[t].val) ? &n[t].left : &n[t].right;
    }
    return 0;
}

int mi__oset_ceil(const mi__oset *s, uint64_t key, uint32_t val, uint64_t *okey, uint32_t *oval) {
    const mi__oset_node *n = s->nodes;
    uint32_t t = s->root, best = 0;
    while (t) {
        if (pair_less(n[t].key, n[t].val, key, val)) {
            t = n[t].right;
        } else {
            best = t;
            t = n[t].left;
        }
    }
    if (!best) return 0;
    *okey = n[best].key;
    *oval = n[best].val;
    return 1;
}

int mi__oset_lower(const mi__oset *s, uint64_t key, uint32_t val, uint64_t *okey, uint32_t *oval) {
    const mi__oset_node *n = s->nodes;
    uint32_t t = s->root, best = 0;
    while (t) {
        if (pair_less(n[t].key, n[t].val, key, val)) {
            best = t;
            t = n[t].right;
        } else {
            t = n[t].left;
        }
    }
    if (!best) return 0;
    *okey = n[best].key;
    *oval = n[best].val;
    return 1;
}

int mi__oset_max(const mi__oset *s, uint64_t *okey, uint32_t *oval) {
    const mi__oset_node *n = s->nodes;
    uint32_t t = s->root;
    if (!t) return 0;
    while (n[t].right) t = n[t].right;
    *okey = n[t].key;
    *oval = n[t].val;
    return 1;
}
