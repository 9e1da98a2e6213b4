/* Offline offset strategies: buffers are placed one at a time in a fixed
 * order, each among the already placed buffers it conflicts with.
 *
 * greedy-size: largest first, each at the lowest offset that fits (TFLite
 * Micro's GreedyMemoryPlanner).
 * greedy-breadth: Pisarchyk and Lee (2020), "greedy by breadth": steps in
 * order of decreasing live bytes, within a step its buffers largest first,
 * each in the smallest gap that fits (else on top). A buffer is placed at
 * the first step of that order that holds it, i.e. its lifetime's step of
 * largest breadth, which a range-minimum over step ranks finds directly.
 *
 * Finding the placed buffers that conflict with b must not scan all n, and
 * sorting them for every placement costs k log k with k ~ 1000 neighbours.
 * Instead time is cut into blocks of about one mean lifetime, and each block
 * keeps the placed buffers that touch it sorted by offset. A placement walks
 * the blocks its lifetime touches in merged offset order, skipping buffers
 * that do not overlap it in time, and the lowest fit stops at the first gap.
 * A buffer touching several blocks is seen several times, which changes no
 * gap. */
#include "planner_internal.h"

#include <string.h>

typedef struct entry {
    size_t off, end;
    uint32_t first, last;
} entry;

typedef struct block {
    entry *e;
    size_t n, cap;
} block;

typedef struct blocks {
    uint32_t width; /* steps per block */
    uint32_t count;
    block *b;
} blocks;

static void blocks_free(blocks *bs) {
    if (bs->b)
        for (uint32_t i = 0; i < bs->count; i++) mi__free(bs->b[i].e);
    mi__free(bs->b);
}

static mi_status blocks_init(blocks *bs, const mi__prob *p) {
    memset(bs, 0, sizeof *bs);
    uint64_t span = 0;
    for (size_t i = 0; i < p->n; i++) span += (uint64_t)(p->last[i] - p->first[i]) + 1;
    uint64_t w = p->n ? 2 * (span + p->n - 1) / p->n : 1;
    bs->width = (uint32_t)(w ? w : 1);
    bs->count = p->nsteps / bs->width + 1;
    bs->b = mi__calloc(bs->count, sizeof *bs->b);
    if (!bs->b) return mi__error(MI_ERR_NO_MEMORY, "planner: %u time blocks", bs->count);
    return MI_OK;
}

static mi_status blocks_insert(blocks *bs, const entry *e) {
    for (uint32_t j = e->first / bs->width; j <= e->last / bs->width; j++) {
        block *b = &bs->b[j];
        mi_status st = mi__grow((void **)&b->e, &b->cap, b->n + 1, sizeof *b->e);
        if (st) return st;
        size_t lo = 0, hi = b->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (b->e[mid].off < e->off) lo = mid + 1;
            else hi = mid;
        }
        memmove(b->e + lo + 1, b->e + lo, (b->n - lo) * sizeof *b->e);
        b->e[lo] = *e;
        b->n++;
    }
    return MI_OK;
}

/* One past a block's last entry; no arithmetic on an empty block's NULL. */
static inline const entry *block_end(const block *b) { return b->n ? b->e + b->n : b->e; }

/* A cursor per block, merged through a small heap ordered by offset. */
typedef struct cursor {
    const entry *at, *end;
} cursor;

static void cursor_sift(cursor *h, size_t k, size_t i) {
    cursor v = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= k) break;
        if (c + 1 < k && h[c + 1].at->off < h[c].at->off) c++;
        if (v.at->off <= h[c].at->off) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = v;
}

/* Gap logic over one span seen in offset order; returns 1 to stop. */
typedef struct gap_state {
    size_t x, best, best_gap, size;
    mi__fit fit;
} gap_state;

static inline int gap_visit(gap_state *g, const entry *e) {
    if (e->off > g->x && e->off - g->x >= g->size) {
        if (g->fit == MI__FIT_LOWEST) {
            g->best = g->x;
            return 1;
        }
        if (e->off - g->x < g->best_gap) {
            g->best_gap = e->off - g->x;
            g->best = g->x;
        }
    }
    if (e->end > g->x) g->x = e->end;
    return 0;
}

/* The offset for a buffer of size bytes live over [f, l]. Most lifetimes
 * touch one or two blocks, so those cases avoid the heap. */
static size_t blocks_fit(const blocks *bs, cursor *heap, uint32_t f, uint32_t l, size_t size,
                         mi__fit fit) {
    gap_state g = {0, SIZE_MAX, SIZE_MAX, size, fit};
    uint32_t j0 = f / bs->width, j1 = l / bs->width;
#define MI__VISIT(e)                                                           \
    do {                                                                       \
        if ((e)->last >= f && (e)->first <= l && gap_visit(&g, (e))) goto out; \
    } while (0)
    if (j0 == j1) {
        const block *b = &bs->b[j0];
        for (const entry *e = b->e, *end = block_end(b); e < end; e++) MI__VISIT(e);
    } else if (j1 == j0 + 1) {
        const block *a = &bs->b[j0], *b = &bs->b[j1];
        const entry *x = a->e, *xe = block_end(a), *y = b->e, *ye = block_end(b);
        while (x < xe && y < ye) {
            if (x->off <= y->off) { MI__VISIT(x); x++; }
            else { MI__VISIT(y); y++; }
        }
        for (; x < xe; x++) MI__VISIT(x);
        for (; y < ye; y++) MI__VISIT(y);
    } else {
        size_t k = 0;
        for (uint32_t j = j0; j <= j1; j++)
            if (bs->b[j].n) heap[k++] = (cursor){bs->b[j].e, bs->b[j].e + bs->b[j].n};
        for (size_t i = k / 2; i-- > 0;) cursor_sift(heap, k, i);
        while (k) {
            const entry *e = heap[0].at;
            if (++heap[0].at == heap[0].end) heap[0] = heap[--k];
            if (k) cursor_sift(heap, k, 0);
            MI__VISIT(e);
        }
    }
#undef MI__VISIT
out:
    return g.best != SIZE_MAX ? g.best : g.x;
}

/* Places buffers in the given order; zero-size buffers take offset 0. */
static mi_status place_in_order(const mi__prob *p, const uint32_t *order, mi__fit fit,
                                const char *who, size_t *off, size_t *pool) {
    mi_status st;
    blocks bs;
    cursor *heap = NULL;
    if ((st = blocks_init(&bs, p))) goto done;
    heap = mi__malloc((size_t)bs.count * sizeof *heap);
    if (!heap) {
        st = mi__error(MI_ERR_NO_MEMORY, "%s: %zu buffers", who, p->n);
        goto done;
    }
    size_t top = 0;
    for (size_t k = 0; k < p->n; k++) {
        uint32_t b = order[k];
        if (!p->size[b]) {
            off[b] = 0;
            continue;
        }
        off[b] = blocks_fit(&bs, heap, p->first[b], p->last[b], p->size[b], fit);
        entry e = {off[b], off[b] + p->size[b], p->first[b], p->last[b]};
        if ((st = blocks_insert(&bs, &e))) goto done;
        if (e.end > top) top = e.end;
        if (p->verbose)
            mi__logf(p->log, p->log_user, "%s: buffer %u (%zu bytes) at %zu", who, b, p->size[b],
                     off[b]);
    }
    *pool = top;
done:
    blocks_free(&bs);
    mi__free(heap);
    return st;
}

static int cmp_size(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    if (p->size[a] != p->size[b]) return p->size[a] > p->size[b] ? -1 : 1;
    uint32_t la = p->last[a] - p->first[a], lb = p->last[b] - p->first[b];
    if (la != lb) return la > lb ? -1 : 1;
    if (p->first[a] != p->first[b]) return p->first[a] < p->first[b] ? -1 : 1;
    return (a > b) - (a < b);
}

mi_status mi__plan_greedy_size(const mi__prob *p, size_t *offsets, size_t *pool) {
    uint32_t *order = mi__malloc((p->n ? p->n : 1) * sizeof *order);
    if (!order) return mi__error(MI_ERR_NO_MEMORY, "greedy-size: %zu buffers", p->n);
    for (size_t i = 0; i < p->n; i++) order[i] = (uint32_t)i;
    mi_status st = mi__sort_idx(order, p->n, cmp_size, p);
    if (!st) st = place_in_order(p, order, MI__FIT_LOWEST, "greedy-size", offsets, pool);
    mi__free(order);
    return st;
}

typedef struct breadth_ctx {
    const mi__prob *p;
    const uint32_t *rank; /* per buffer: rank of its widest step */
} breadth_ctx;

static int cmp_breadth(const void *ctx, uint32_t a, uint32_t b) {
    const breadth_ctx *c = ctx;
    if (c->rank[a] != c->rank[b]) return c->rank[a] < c->rank[b] ? -1 : 1;
    if (c->p->size[a] != c->p->size[b]) return c->p->size[a] > c->p->size[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static int cmp_step_breadth(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    if (p->live_bytes[a] != p->live_bytes[b]) return p->live_bytes[a] > p->live_bytes[b] ? -1 : 1;
    return (a > b) - (a < b);
}

mi_status mi__plan_greedy_breadth(const mi__prob *p, size_t *offsets, size_t *pool) {
    mi_status st = MI_OK;
    size_t n = p->n, ns = p->nsteps;
    uint32_t *steps = mi__malloc((ns ? ns : 1) * sizeof *steps);
    uint32_t *tree = mi__malloc((2 * ns + 2) * sizeof *tree);
    uint32_t *rank = mi__malloc((n ? n : 1) * sizeof *rank);
    uint32_t *order = mi__malloc((n ? n : 1) * sizeof *order);
    if (!steps || !tree || !rank || !order) {
        st = mi__error(MI_ERR_NO_MEMORY, "greedy-breadth: %zu buffers", n);
        goto done;
    }
    for (size_t t = 0; t < ns; t++) steps[t] = (uint32_t)t;
    if ((st = mi__sort_idx(steps, ns, cmp_step_breadth, p))) goto done;
    /* Iterative segment tree of step ranks, for range minima. */
    for (size_t r = 0; r < ns; r++) tree[ns + steps[r]] = (uint32_t)r;
    for (size_t i = ns - 1; i >= 1 && ns > 1; i--)
        tree[i] = tree[2 * i] < tree[2 * i + 1] ? tree[2 * i] : tree[2 * i + 1];
    for (size_t b = 0; b < n; b++) {
        uint32_t best = UINT32_MAX;
        for (size_t lo = p->first[b] + ns, hi = (size_t)p->last[b] + ns + 1; lo < hi; lo /= 2, hi /= 2) {
            if (lo & 1) { if (tree[lo] < best) best = tree[lo]; lo++; }
            if (hi & 1) { hi--; if (tree[hi] < best) best = tree[hi]; }
        }
        rank[b] = best;
        order[b] = (uint32_t)b;
    }
    breadth_ctx ctx = {p, rank};
    if ((st = mi__sort_idx(order, n, cmp_breadth, &ctx))) goto done;
    st = place_in_order(p, order, MI__FIT_BEST, "greedy-breadth", offsets, pool);
done:
    mi__free(steps);
    mi__free(tree);
    mi__free(rank);
    mi__free(order);
    return st;
}
