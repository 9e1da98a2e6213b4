/* Perfect packings: see hard_lib.h. */
#include "hard_lib.h"

#include <stdlib.h>
#include <string.h>

typedef struct rect {
    uint32_t x0, x1; /* steps [x0, x1) */
    size_t y0, y1;   /* units [y0, y1) */
} rect;

/* splitmix64 */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t *s, uint64_t n) { return n ? next_u64(s) % n : 0; }
static double unit(uint64_t *s) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

void mi_hard_opts_init(mi_hard_opts *o, size_t count, uint64_t seed) {
    memset(o, 0, sizeof *o);
    o->count = count;
    o->steps = (uint32_t)(count / 3 > 8 ? count / 3 : 8);
    o->height = 4096;
    o->alignment = 256;
    o->pinwheel = 1.0 / 3.0;
    o->seed = seed;
}

static double area(const rect *r, const mi_hard_opts *o) {
    return (double)(r->x1 - r->x0) / o->steps * (double)(r->y1 - r->y0) / (double)o->height;
}

/* Cuts r into two along time (vertical) or address; 0 when it cannot. */
static int cut_two(rect *r, rect *out, const mi_hard_opts *o, uint64_t *rng) {
    uint32_t w = r->x1 - r->x0;
    size_t h = r->y1 - r->y0;
    if (w < 2 && h < 2) return 0;
    /* Cut across the side that is longer relative to the box. */
    double rw = (double)w / o->steps, rh = (double)h / (double)o->height;
    int vertical = h < 2 || (w >= 2 && unit(rng) * (rw + rh) < rw);
    *out = *r;
    if (vertical) {
        uint32_t x = r->x0 + 1 + (uint32_t)below(rng, w - 1);
        r->x1 = out->x0 = x;
    } else {
        size_t y = r->y0 + 1 + (size_t)below(rng, h - 1);
        r->y1 = out->y0 = y;
    }
    return 1;
}

/* Cuts r into a pinwheel of five; 0 when it is too small. */
static int cut_five(rect *r, rect *out, uint64_t *rng) {
    uint32_t w = r->x1 - r->x0;
    size_t h = r->y1 - r->y0;
    if (w < 3 || h < 3) return 0;
    uint32_t x1 = r->x0 + 1 + (uint32_t)below(rng, w - 2);
    uint32_t x2 = x1 + 1 + (uint32_t)below(rng, r->x1 - x1 - 1);
    size_t y1 = r->y0 + 1 + (size_t)below(rng, h - 2);
    size_t y2 = y1 + 1 + (size_t)below(rng, r->y1 - y1 - 1);
    rect a = {r->x0, x2, r->y0, y1}, b = {x2, r->x1, r->y0, y2}, c = {x1, r->x1, y2, r->y1},
         d = {r->x0, x1, y1, r->y1}, e = {x1, x2, y1, y2};
    *r = a;
    out[0] = b;
    out[1] = c;
    out[2] = d;
    out[3] = e;
    return 1;
}

int mi_hard_generate(const mi_hard_opts *o, mi_buffer **buffers, size_t **plan, size_t *optimum) {
    *buffers = NULL;
    if (plan) *plan = NULL;
    if (!o->count || !o->steps || !o->height || !o->alignment ||
        (double)o->count > (double)o->steps * (double)o->height)
        return -1;
    size_t n = o->count;
    rect *r = malloc((n + 4) * sizeof *r);
    mi_buffer *b = malloc(n * sizeof *b);
    size_t *off = plan ? malloc(n * sizeof *off) : NULL;
    if (!r || !b || (plan && !off)) goto fail;
    uint64_t rng = o->seed;
    size_t m = 1;
    r[0] = (rect){0, o->steps, 0, o->height};
    size_t stuck = 0;
    while (m < n) {
        /* The largest of three drawn at random. */
        size_t pick = (size_t)below(&rng, m);
        for (int t = 0; t < 2; t++) {
            size_t q = (size_t)below(&rng, m);
            if (area(&r[q], o) > area(&r[pick], o)) pick = q;
        }
        int done = 0;
        if (m + 4 <= n && unit(&rng) < o->pinwheel) {
            done = cut_five(&r[pick], &r[m], &rng);
            if (done) m += 4;
        }
        if (!done && cut_two(&r[pick], &r[m], o, &rng)) {
            done = 1;
            m++;
        }
        if (!done && ++stuck > 64 * n) {
            /* Only unit squares are left, or nearly so: find any. */
            size_t q = 0;
            while (q < m && !cut_two(&r[q], &r[m], o, &rng)) q++;
            if (q == m) goto fail;
            m++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        b[i].size = (r[i].y1 - r[i].y0) * o->alignment;
        b[i].first = r[i].x0;
        b[i].last = (int64_t)r[i].x1 - 1;
        if (off) off[i] = r[i].y0 * o->alignment;
    }
    free(r);
    *buffers = b;
    if (plan) *plan = off;
    *optimum = o->height * o->alignment;
    return 0;
fail:
    free(r);
    free(b);
    free(off);
    return -1;
}

int mi_hard_write_csv(const mi_buffer *b, size_t n, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int bad = fprintf(f, "id,lower,upper,size\n") < 0;
    for (size_t i = 0; i < n && !bad; i++)
        bad = fprintf(f, "%zu,%lld,%lld,%zu\n", i, (long long)b[i].first, (long long)b[i].last + 1,
                      b[i].size) < 0;
    if (fclose(f) != 0) bad = 1;
    return bad ? -1 : 0;
}
