/* exact_explain.c: what the search remembers of its failures: the table
 * of failed states, and (no slack) why each failed, for backjumping.
 *
 * An explanation is a set of sections such that every state agreeing with
 * the failed one there (the same placed buffers live in those sections,
 * at the same offsets) fails too. Two facts carry one: the section bound
 * failing in a section (it counts the unplaced buffers live there, which
 * the section's placed buffers tell, and their lowest offsets: it only
 * fails more when they are higher), and the candidates that can cover a
 * section's level (the same facts, for the buffers that are not
 * candidates). A lowest offset is the highest level in the buffer's
 * sections, so one section at that level explains it. A node fails with
 * the union of its candidate set's explanation and its children's; a
 * child whose explanation misses the buffer that made it shows the node
 * failed by itself (exact.c then skips the node's other children). */
#include "exact_internal.h"

#include <string.h>

#define NONE UINT32_MAX

void mi__xset_clear(const solver *s, uint64_t *w) { memset(w, 0, s->exw * sizeof *w); }

void mi__xset_copy(const solver *s, uint64_t *d, const uint64_t *x) {
    memcpy(d, x, s->exw * sizeof *d);
}

static void set_add(uint64_t *w, uint32_t c) { w[c >> 6] |= (uint64_t)1 << (c & 63); }

static int set_has(const uint64_t *w, uint32_t c) { return (int)(w[c >> 6] >> (c & 63) & 1); }

void mi__xset_add_range(uint64_t *w, uint32_t a, uint32_t b) {
    for (uint32_t c = a; c <= b; c++) set_add(w, c);
}

static void set_or(const solver *s, uint64_t *d, const uint64_t *x) {
    for (uint32_t i = 0; i < s->exw; i++) d[i] |= x[i];
}

/* True when w holds one of the sections a .. b. */
static int set_meets(const uint64_t *w, uint32_t a, uint32_t b) {
    for (uint32_t c = a; c <= b; c++) {
        if ((c & 63) == 0 && c + 63 <= b) {
            if (w[c >> 6]) return 1;
            c += 63;
            continue;
        }
        if (set_has(w, c)) return 1;
    }
    return 0;
}

/* First and last section of w (ex[0] > ex[1] when empty). */
void mi__xset_hull(const solver *s, const uint64_t *w, uint32_t ex[2]) {
    ex[0] = UINT32_MAX;
    ex[1] = 0;
    for (uint32_t i = 0; i < s->exw; i++)
        if (w[i]) {
            uint32_t lo = 64 * i + (uint32_t)__builtin_ctzll(w[i]);
            uint32_t hi = 64 * i + 63 - (uint32_t)__builtin_clzll(w[i]);
            if (lo < ex[0]) ex[0] = lo;
            ex[1] = hi;
        }
}

/* Adds to w why unplaced buffer u's lowest offset is what it is: the
 * lowest offset is the highest level in u's sections, and a state that
 * agrees on one section at that level gives u at least that offset; the
 * facts explained here only fail more with higher lowest offsets. */
static void explain_lowest(const solver *s, uint32_t u, uint64_t *w) {
    uint32_t any = NONE;
    for (uint32_t c = s->sec0[u]; c <= s->sec1[u]; c++)
        if (s->sky[c] == s->min_off[u]) {
            if (set_has(w, c)) return;
            if (any == NONE) any = c;
        }
    if (any != NONE) set_add(w, any);
    else mi__xset_add_range(w, s->sec0[u], s->sec1[u]); /* not reached: always a level */
}

/* Adds what a fact about section c depends on: which buffers are unplaced
 * in c (c's placed buffers tell) and those buffers' lowest offsets. Only
 * those above c's level need another section. */
void mi__xexplain_section(const solver *s, const entry *ord, size_t k, uint32_t c,
                          uint64_t *w) {
    set_add(w, c);
    for (size_t i = 0; i < k; i++) {
        uint32_t u = ord[i].b;
        if (s->sec0[u] <= c && c <= s->sec1[u] && s->min_off[u] > s->sky[c])
            explain_lowest(s, u, w);
    }
}

/* A child of frame fi (its state with buffer b placed) failed, explained
 * by s->fail_set. True when b lies outside that explanation: then the
 * frame's state agrees with the child's there and fails for the same
 * reason, and so do all its other children (backjumping). */
int mi__xchild_failed(solver *s, size_t fi, uint32_t b) {
    if (!s->explain) return 0;
    set_or(s, mi__xframe_set(s, fi), s->fail_set);
    return !set_meets(s->fail_set, s->sec0[b], s->sec1[b]);
}

/* ---- failed states ---------------------------------------------------------- */

static tt_entry *tt_slot(const solver *s, const uint64_t key[2]) {
    return &s->tt[(key[0] ^ (key[1] >> 7)) & (s->tt_size - 1)];
}

int mi__xtt_failed(solver *s, const uint64_t key[2], size_t off, uint32_t pre) {
    const tt_entry *t = tt_slot(s, key);
    if (!(t->epoch == s->epoch && t->key[0] == key[0] && t->key[1] == key[1] &&
          (t->off < off || (t->off == off && t->pre <= pre))))
        return 0;
    if (s->explain && s->tt_set) {
        mi__xset_copy(s, s->fail_set, s->tt_set + (size_t)(t - s->tt) * s->exw);
    } else if (s->explain) {
        mi__xset_clear(s, s->fail_set);
        if (t->ex[0] <= t->ex[1]) mi__xset_add_range(s->fail_set, t->ex[0], t->ex[1]);
    }
    return 1;
}

void mi__xtt_store(solver *s, const uint64_t key[2], size_t off, uint32_t pre) {
    tt_entry *t = tt_slot(s, key);
    *t = (tt_entry){{key[0], key[1]}, off, pre, s->epoch, {0, s->nsec}};
    if (s->explain && s->tt_set)
        mi__xset_copy(s, s->tt_set + (size_t)(t - s->tt) * s->exw, s->fail_set);
    else if (s->explain)
        mi__xset_hull(s, s->fail_set, t->ex);
}
