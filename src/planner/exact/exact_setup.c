/* exact_setup.c: the exact search's tables, built once per problem:
 * buffer sizes in units of the alignment, the sections (the maximal sets
 * of buffers live together) each buffer spans, and the parts that no
 * buffer crosses, each with its floor. exact.c searches over them. */
#include "exact_internal.h"
#include "exact_sat.h"

#include <assert.h>
#include <string.h>

void mi__xsolver_free(solver *s) {
    if (s->xsat)
        for (uint32_t q = 0; q < s->nparts; q++) mi__xsat_free(s->xsat[q]);
    mi__free(s->xsat);
    mi__free(s->size);
    mi__free(s->sec0);
    mi__free(s->sec1);
    mi__free(s->area);
    mi__free(s->width);
    mi__free(s->key_t);
    mi__free(s->min_off);
    mi__free(s->sol);
    mi__free(s->cuts0);
    mi__free(s->cuts);
    mi__free(s->acc);
    mi__free(s->stamp);
    mi__free(s->arena);
    mi__free(s->frames);
    mi__free(s->trail);
    mi__free(s->tt);
    mi__free(s->lev);
    mi__free(s->sky);
    mi__free(s->fex);
    mi__free(s->fail_set);
    mi__free(s->cand_set);
    mi__free(s->tt_set);
    mi__free(s->order);
    mi__free(s->part_at);
    mi__free(s->part_s1);
    mi__free(s->part_lo);
    mi__free(s->part_hi);
}

/* Per-buffer arrays and the failed-state table; false when one is missing
 * (mi__xsolver_free frees those that are there). */
static int alloc_per_buffer(solver *s, size_t n) {
    size_t an = n ? n : 1;
    s->size = mi__malloc(an * sizeof *s->size);
    s->sec0 = mi__malloc(an * sizeof *s->sec0);
    s->sec1 = mi__malloc(an * sizeof *s->sec1);
    s->area = mi__malloc(an * sizeof *s->area);
    s->width = mi__malloc(an * sizeof *s->width);
    s->key_t = mi__malloc(an * sizeof *s->key_t);
    s->min_off = mi__calloc(an, sizeof *s->min_off);
    s->sol = mi__calloc(an, sizeof *s->sol);
    s->order = mi__malloc(an * sizeof *s->order);
    s->part_at = mi__malloc((an + 1) * sizeof *s->part_at);
    s->part_s1 = mi__malloc(an * sizeof *s->part_s1);
    s->part_lo = mi__malloc(an * sizeof *s->part_lo);
    s->part_hi = mi__malloc(an * sizeof *s->part_hi);
    s->tt_size = (size_t)1 << 10;
    while (s->tt_size < ((size_t)1 << MI__XTT_BITS) && s->tt_size < 256 * an) s->tt_size *= 2;
    s->tt = mi__calloc(s->tt_size, sizeof *s->tt);
    return s->size && s->sec0 && s->sec1 && s->area && s->width && s->key_t && s->min_off &&
           s->sol && s->order && s->part_at && s->part_s1 && s->part_lo && s->part_hi && s->tt;
}

/* Each buffer's size in units and its preorder keys; ev[t] gets bit 0
 * where a buffer with a size starts at step t, bit 1 where one ends. */
static void buffer_units(solver *s, uint8_t *ev) {
    const mi__prob *p = s->p;
    for (size_t i = 0; i < p->n; i++) {
        s->size[i] = p->size[i] / p->align;
        if (!s->size[i]) continue;
        s->nlive++;
        ev[p->first[i]] |= 1;
        ev[p->last[i]] |= 2;
        /* Lifetimes as given, not compressed: the preorders rank by how
         * long a buffer lives (with compressed steps 4 of the 11 MiniMalloc
         * benchmarks found no plan within their capacity in 10 s). */
        uint64_t w = (uint64_t)p->src[i].last - (uint64_t)p->src[i].first;
        s->width[i] = w < SIZE_MAX ? (size_t)w + 1 : SIZE_MAX;
        if (!mi__mul_size(s->size[i], s->width[i], &s->area[i])) s->area[i] = SIZE_MAX;
    }
}

/* Fills before[t], the number of sections at steps < t (t = 0 .. nsteps),
 * from the events; returns the number of sections. */
static uint32_t count_sections(const mi__prob *p, const uint8_t *ev, uint32_t *before) {
    uint32_t nsec = 0;
    int started = 0;
    for (uint32_t t = 0; t < p->nsteps; t++) {
        before[t] = nsec;
        if (ev[t] & 1) started = 1;
        if ((ev[t] & 2) && started) {
            nsec++;
            started = 0;
        }
    }
    before[p->nsteps] = nsec;
    return nsec;
}

/* Per-section arrays and the explanation sets; false when one is missing
 * (mi__xsolver_free frees those that are there). */
static int alloc_per_section(solver *s) {
    size_t as = (size_t)s->nsec + 1;
    s->cuts0 = mi__calloc(as, sizeof *s->cuts0);
    s->cuts = mi__calloc(as, sizeof *s->cuts);
    s->acc = mi__calloc(as, sizeof *s->acc);
    s->stamp = mi__calloc(as, sizeof *s->stamp);
    s->lev = mi__calloc(as, sizeof *s->lev);
    s->sky = mi__calloc(as, sizeof *s->sky);
    s->exw = s->nsec / 64 + 1;
    /* Failed states keep their explanation exactly while it is small (up
     * to 256 sections), else as a range of sections. */
    int exact_sets = s->exw <= MI__XTT_SET_WORDS;
    if (exact_sets) s->tt_set = mi__calloc(s->tt_size * s->exw, sizeof *s->tt_set);
    s->fail_set = mi__calloc(s->exw, sizeof *s->fail_set);
    s->cand_set = mi__calloc(s->exw, sizeof *s->cand_set);
    return s->cuts0 && s->cuts && s->acc && s->stamp && s->lev && s->sky && s->fail_set &&
           s->cand_set && (!exact_sets || s->tt_set);
}

/* Each buffer's range of sections, from before[] (count_sections). */
static void buffer_sections(solver *s, const uint32_t *before) {
    const mi__prob *p = s->p;
    for (size_t i = 0; i < p->n; i++) {
        s->sec0[i] = s->sec1[i] = 0;
        if (!s->size[i]) continue;
        /* A buffer's last step closes a section if none closed since it
         * started, so the range is never empty. */
        s->sec0[i] = before[p->first[i]];
        s->sec1[i] = before[p->last[i] + 1] - 1;
        assert(s->sec0[i] <= s->sec1[i] && s->sec1[i] < s->nsec);
    }
}

/* Difference arrays: cuts0[c] counts buffers with sec0 <= c < sec1,
 * acc[c] the units live in section c (no sum exceeds naive). */
static void section_totals(solver *s) {
    for (size_t i = 0; i < s->p->n; i++) {
        if (!s->size[i]) continue;
        s->cuts0[s->sec0[i]]++;
        s->cuts0[s->sec1[i]]--;
        s->acc[s->sec0[i]] += s->size[i];
        s->acc[s->sec1[i] + 1] -= s->size[i];
    }
    for (uint32_t c = 1; c < s->nsec; c++) {
        s->cuts0[c] += s->cuts0[c - 1];
        s->acc[c] += s->acc[c - 1];
    }
}

/* Buffers by first section (a counting sort, stable, with cnt[0, nsec]
 * as scratch), then cut into parts at the boundaries no buffer crosses. */
static void find_parts(solver *s, uint32_t *cnt) {
    size_t n = s->p->n;
    memset(cnt, 0, ((size_t)s->nsec + 1) * sizeof *cnt);
    for (size_t i = 0; i < n; i++)
        if (s->size[i]) cnt[s->sec0[i] + 1]++;
    for (uint32_t c = 0; c < s->nsec; c++) cnt[c + 1] += cnt[c];
    for (size_t i = 0; i < n; i++)
        if (s->size[i]) s->order[cnt[s->sec0[i]]++] = (uint32_t)i;
    uint32_t q = 0;
    s->part_at[0] = 0;
    for (uint32_t k = 0; k < s->nlive; k++) {
        uint32_t b = s->order[k];
        if (k > 0 && s->sec0[b] > s->part_s1[q]) s->part_at[++q] = k;
        if (k == s->part_at[q] || s->sec1[b] > s->part_s1[q]) s->part_s1[q] = s->sec1[b];
    }
    s->nparts = s->nlive ? q + 1 : 0;
    s->part_at[s->nparts] = s->nlive;
}

/* Each part's floor: its largest section total. */
static void part_floors(solver *s) {
    for (uint32_t q = 0; q < s->nparts; q++) {
        s->part_lo[q] = 0;
        for (uint32_t c = s->sec0[s->order[s->part_at[q]]]; c <= s->part_s1[q]; c++)
            if (s->acc[c] > s->part_lo[q]) s->part_lo[q] = s->acc[c];
    }
}

/* Sections are the steps where a buffer ends and some buffer started since
 * the previous section: exactly the maximal sets of buffers live together.
 * Two buffers conflict iff they share a section, and the sections of a
 * buffer are a contiguous range. */
mi_status mi__xsolver_init(solver *s, const mi__prob *p) {
    mi_status st = MI_OK;
    size_t ns = (size_t)p->nsteps + 1;
    memset(s, 0, sizeof *s);
    s->p = p;
    s->check_nodes = MI__XCHECK_NODES;
    s->check_work = MI__XCHECK_WORK;
    /* Scratch per step: its events, then the sections before it. */
    uint8_t *ev = mi__calloc(ns, 1);
    uint32_t *before = mi__malloc(ns * sizeof *before);
    if (!alloc_per_buffer(s, p->n) || !ev || !before) {
        st = mi__error(MI_ERR_NO_MEMORY, "exact: %zu buffers", p->n);
        goto done;
    }
    buffer_units(s, ev);
    s->nsec = count_sections(p, ev, before);
    if (!alloc_per_section(s)) {
        st = mi__error(MI_ERR_NO_MEMORY, "exact: %u sections", s->nsec);
        goto done;
    }
    buffer_sections(s, before);
    section_totals(s);
    find_parts(s, before); /* nsec + 1 <= nsteps + 1 entries */
    part_floors(s);
done:
    mi__free(ev);
    mi__free(before);
    return st;
}
