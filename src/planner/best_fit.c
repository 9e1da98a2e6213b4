/* best-fit: online, in order of first use, the way TFLite's arena planner
 * works. A buffer is allocated when it is first used, in the smallest gap
 * between the allocations live at that moment that fits it (else on top of
 * them), and freed after its last use. Unlike the offline strategies it
 * never looks ahead, which is what an allocator at run time would do. */
#include "planner_internal.h"

#include <string.h>

static int cmp_first_use(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    if (p->first[a] != p->first[b]) return p->first[a] < p->first[b] ? -1 : 1;
    if (p->size[a] != p->size[b]) return p->size[a] > p->size[b] ? -1 : 1;
    return (a > b) - (a < b);
}

static int cmp_last_use(const void *ctx, uint32_t a, uint32_t b) {
    const mi__prob *p = ctx;
    if (p->last[a] != p->last[b]) return p->last[a] < p->last[b] ? -1 : 1;
    return (a > b) - (a < b);
}

/* Index of the first live span with offset >= off. */
static size_t lower_index(const mi__span *s, size_t k, size_t off) {
    size_t lo = 0, hi = k;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s[mid].off < off) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

mi_status mi__plan_best_fit(const mi__prob *p, size_t *off, size_t *pool) {
    mi_status st = MI_OK;
    size_t n = p->n, alloc_n = n ? n : 1;
    uint32_t *in = mi__malloc(alloc_n * sizeof *in);
    uint32_t *out = mi__malloc(alloc_n * sizeof *out);
    mi__span *live = mi__malloc(alloc_n * sizeof *live);
    if (!in || !out || !live) {
        st = mi__error(MI_ERR_NO_MEMORY, "best-fit: %zu buffers", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) in[i] = out[i] = (uint32_t)i;
    if ((st = mi__sort_idx(in, n, cmp_first_use, p)) || (st = mi__sort_idx(out, n, cmp_last_use, p)))
        goto done;
    size_t nlive = 0, j = 0, top = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t b = in[k];
        while (j < n && p->last[out[j]] < p->first[b]) {
            uint32_t e = out[j++];
            if (!p->size[e]) continue;
            /* Live spans never overlap, so the offset finds it. */
            size_t at = lower_index(live, nlive, off[e]);
            memmove(live + at, live + at + 1, (nlive - at - 1) * sizeof *live);
            nlive--;
        }
        if (!p->size[b]) {
            off[b] = 0;
            continue;
        }
        off[b] = mi__spans_fit(live, nlive, p->size[b], MI__FIT_BEST);
        size_t at = lower_index(live, nlive, off[b]);
        memmove(live + at + 1, live + at, (nlive - at) * sizeof *live);
        live[at] = (mi__span){off[b], off[b] + p->size[b]};
        nlive++;
        if (off[b] + p->size[b] > top) top = off[b] + p->size[b];
        if (p->verbose)
            mi__logf(p->log, p->log_user, "best-fit: buffer %u (%zu bytes) at %zu, %zu live", b,
                     p->size[b], off[b], nlive);
    }
    *pool = top;
done:
    mi__free(in);
    mi__free(out);
    mi__free(live);
    return st;
}
