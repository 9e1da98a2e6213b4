/* Deterministic sorts for the planner, and the gap choice shared by the
 * offset strategies. A million buffers must plan in seconds, so the key
 * sort is a radix sort and the comparator sort a merge sort (both stable). */
#include "planner_internal.h"

#include <string.h>

mi_status mi__sort_by_key(uint32_t *idx, size_t n, const uint64_t *key) {
    if (n < 2) return MI_OK;
    uint32_t *tmp = mi__malloc(n * sizeof *tmp);
    if (!tmp) return mi__error(MI_ERR_NO_MEMORY, "sorting %zu keys", n);
    static const int bits = 11;
    const size_t radix = (size_t)1 << bits;
    size_t count[1 << 11];
    uint32_t *src = idx, *dst = tmp;
    for (int shift = 0; shift < 64; shift += bits) {
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) count[(key[src[i]] >> shift) & (radix - 1)]++;
        /* A digit every key shares leaves the order as it is. */
        if (count[(key[src[0]] >> shift) & (radix - 1)] == n) continue;
        size_t sum = 0;
        for (size_t d = 0; d < radix; d++) {
            size_t c = count[d];
            count[d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) dst[count[(key[src[i]] >> shift) & (radix - 1)]++] = src[i];
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx) memcpy(idx, src, n * sizeof *idx);
    mi__free(tmp);
    return MI_OK;
}

mi_status mi__sort_idx(uint32_t *idx, size_t n, mi__idx_cmp cmp, const void *ctx) {
    if (n < 2) return MI_OK;
    uint32_t *tmp = mi__malloc(n * sizeof *tmp);
    if (!tmp) return mi__error(MI_ERR_NO_MEMORY, "sorting %zu entries", n);
    /* Bottom-up merge sort, runs of 16 by insertion first. */
    const size_t run = 16;
    for (size_t lo = 0; lo < n; lo += run) {
        size_t hi = lo + run < n ? lo + run : n;
        for (size_t i = lo + 1; i < hi; i++) {
            uint32_t v = idx[i];
            size_t j = i;
            while (j > lo && cmp(ctx, idx[j - 1], v) > 0) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = v;
        }
    }
    uint32_t *src = idx, *dst = tmp;
    for (size_t width = run; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) dst[o++] = cmp(ctx, src[b], src[a]) < 0 ? src[b++] : src[a++];
            while (a < mid) dst[o++] = src[a++];
            while (b < hi) dst[o++] = src[b++];
        }
        uint32_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx) memcpy(idx, src, n * sizeof *idx);
    mi__free(tmp);
    return MI_OK;
}

/* ---- spans ------------------------------------------------------------------ */

static void spans_insertion(mi__span *s, size_t k) {
    for (size_t i = 1; i < k; i++) {
        mi__span v = s[i];
        size_t j = i;
        while (j > 0 && s[j - 1].off > v.off) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = v;
    }
}

/* Quicksort on offsets; offsets of conflicting placed buffers are distinct
 * except for zero-size ones, which never reach here, so ties are harmless. */
void mi__spans_sort(mi__span *s, size_t k) {
    while (k > 24) {
        size_t a = s[0].off, b = s[k / 2].off, c = s[k - 1].off;
        size_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = 0, j = k - 1;
        for (;;) {
            while (s[i].off < pivot) i++;
            while (s[j].off > pivot) j--;
            if (i >= j) break;
            mi__span t = s[i];
            s[i] = s[j];
            s[j] = t;
            i++;
            j--;
        }
        /* Recurse into the smaller half, loop on the larger. */
        size_t left = j + 1;
        if (left < k - left) {
            mi__spans_sort(s, left);
            s += left;
            k -= left;
        } else {
            mi__spans_sort(s + left, k - left);
            k = left;
        }
    }
    spans_insertion(s, k);
}

size_t mi__spans_fit(const mi__span *s, size_t k, size_t size, mi__fit fit) {
    size_t x = 0, best = SIZE_MAX, best_gap = SIZE_MAX;
    for (size_t i = 0; i < k; i++) {
        if (s[i].off > x) {
            size_t gap = s[i].off - x;
            if (gap >= size) {
                if (fit == MI__FIT_LOWEST) return x;
                if (gap < best_gap) {
                    best_gap = gap;
                    best = x;
                }
            }
        }
        if (s[i].end > x) x = s[i].end;
    }
    return best != SIZE_MAX ? best : x;
}
