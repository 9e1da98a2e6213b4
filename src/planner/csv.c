/* MiniMalloc-format CSV problems: `id,lower,upper,size` (or, as its later
 * versions write it, `buffer,start,end,size`) with half-open
 * lifetimes [lower, upper), read into buffers with inclusive [first, last].
 * Every rejection names the line. */
#include "planner_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct mi_csv {
    size_t count, cap;
    mi_buffer *buffers;
    int64_t *ids;  /* INT64_MIN where the id is not an integer */
    size_t *text_at; /* each id as written: NUL-terminated at text + text_at[i] */
    char *text;
    size_t *lines; /* line of each buffer, for messages */
    char *name;
};

void mi_csv_destroy(mi_csv *csv) {
    if (!csv) return;
    mi__free(csv->buffers);
    mi__free(csv->ids);
    mi__free(csv->text_at);
    mi__free(csv->text);
    mi__free(csv->lines);
    mi__free(csv->name);
    mi__free(csv);
}

size_t mi_csv_count(const mi_csv *csv) { return csv->count; }
const mi_buffer *mi_csv_buffers(const mi_csv *csv) { return csv->buffers; }
const int64_t *mi_csv_ids(const mi_csv *csv) { return csv->ids; }
const char *mi_csv_id_text(const mi_csv *csv, size_t i) {
    return i < csv->count ? csv->text + csv->text_at[i] : NULL;
}

/* Narrows [*s, *end) to its text without spaces and tabs around it. */
static void trim(const char **s, const char **end) {
    while (*s < *end && (**s == ' ' || **s == '\t')) (*s)++;
    while (*end > *s && ((*end)[-1] == ' ' || (*end)[-1] == '\t')) (*end)--;
}

/* A field: optional spaces, an optional '-', digits, optional spaces. */
static int parse_i64(const char *s, const char *end, int64_t *out) {
    trim(&s, &end);
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) neg = *s++ == '-';
    if (s == end) return 0;
    uint64_t v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') return 0;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return 0;
        v = v * 10 + d;
    }
    if (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX) return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

/* A parse under way: the line it is at, and the room of the arrays that
 * grow with each buffer (c->cap is that of c->buffers). */
typedef struct parser {
    mi_csv *c;
    size_t line;
    size_t ntext; /* bytes of c->text in use */
    size_t cap_text, cap_at, cap_ids, cap_lines;
} parser;

static mi_status line_error(const parser *ps, const char *what) {
    return mi__error(MI_ERR_PARSE, "%s:%zu: %s", ps->c->name, ps->line, what);
}

/* MiniMalloc's CSV has named its columns both ways over its versions. */
static int header_is(const char *s, const char *end, const char *const want[4]) {
    for (int f = 0; f < 4; f++) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *te = comma ? comma : end;
        trim(&s, &te);
        if ((size_t)(te - s) != strlen(want[f]) || memcmp(s, want[f], (size_t)(te - s)) != 0) return 0;
        if (f < 3 && !comma) return 0;
        s = comma ? comma + 1 : end;
    }
    return s == end;
}

static int header_ok(const char *s, const char *end) {
    static const char *const ours[] = {"id", "lower", "upper", "size"};
    static const char *const named[] = {"buffer", "start", "end", "size"};
    return header_is(s, end, ours) || header_is(s, end, named);
}

typedef struct id_ref {
    const char *s;
    size_t i;
} id_ref;

static int cmp_id(const void *a, const void *b) {
    const id_ref *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Ids are compared as written (MiniMalloc's may be names such as b1). */
static mi_status check_duplicates(const mi_csv *c) {
    if (c->count < 2) return MI_OK;
    id_ref *r = mi__malloc(c->count * sizeof *r);
    if (!r) return mi__error(MI_ERR_NO_MEMORY, "%s: checking %zu ids", c->name, c->count);
    for (size_t i = 0; i < c->count; i++) r[i] = (id_ref){c->text + c->text_at[i], i};
    qsort(r, c->count, sizeof *r, cmp_id);
    mi_status st = MI_OK;
    for (size_t k = 1; k < c->count; k++) {
        if (strcmp(r[k].s, r[k - 1].s) == 0) {
            size_t a = c->lines[r[k - 1].i], b = c->lines[r[k].i];
            st = mi__error(MI_ERR_PARSE, "%s:%zu: duplicate id %s (first on line %zu)", c->name, b, r[k].s, a);
            break;
        }
    }
    mi__free(r);
    return st;
}

/* Where field k (0 .. 3) that starts at f ends: at the next comma, the
 * last one at the end of the line. */
static mi_status field_end(const parser *ps, const char *f, const char *le, int k,
                           const char **fe) {
    const char *comma = memchr(f, ',', (size_t)(le - f));
    if (k < 3 && !comma)
        return line_error(ps, "expected 4 comma-separated fields: id,lower,upper,size");
    if (k == 3 && comma) return line_error(ps, "more than 4 fields");
    *fe = k < 3 ? comma : le;
    return MI_OK;
}

/* The id: any text but empty (an integer, or a name), kept as written
 * for the buffer about to be added; *id is INT64_MIN for a name. */
static mi_status parse_id(parser *ps, const char *a, const char *z, int64_t *id) {
    mi_csv *c = ps->c;
    mi_status st;
    trim(&a, &z);
    if (a == z) return line_error(ps, "field 'id' is empty");
    size_t n = (size_t)(z - a);
    if ((st = mi__grow((void **)&c->text, &ps->cap_text, ps->ntext + n + 1, 1)) ||
        (st = mi__grow((void **)&c->text_at, &ps->cap_at, c->count + 1, sizeof *c->text_at)))
        return st;
    memcpy(c->text + ps->ntext, a, n);
    c->text[ps->ntext + n] = '\0';
    c->text_at[c->count] = ps->ntext;
    ps->ntext += n + 1;
    if (!parse_i64(a, z, id)) *id = INT64_MIN;
    return MI_OK;
}

/* The four fields of the data line [f, le), in order, so that the first
 * wrong one is the one named. */
static mi_status parse_fields(parser *ps, const char *f, const char *le, int64_t v[4]) {
    static const char *const names[] = {"id", "lower", "upper", "size"};
    for (int k = 0; k < 4; k++) {
        const char *fe = le; /* field_end sets it when it succeeds, which gcc cannot see */
        mi_status st = field_end(ps, f, le, k, &fe);
        if (st) return st;
        if (k == 0) {
            if ((st = parse_id(ps, f, fe, &v[0]))) return st;
        } else if (!parse_i64(f, fe, &v[k])) {
            char msg[160];
            snprintf(msg, sizeof msg, "field '%s' is not an integer that fits in 64 bits",
                     names[k]);
            return line_error(ps, msg);
        }
        f = fe + 1;
    }
    return MI_OK;
}

/* A data line [q, le) becomes the next buffer. */
static mi_status parse_buffer(parser *ps, const char *q, const char *le) {
    mi_csv *c = ps->c;
    int64_t v[4];
    mi_status st = parse_fields(ps, q, le, v);
    if (st) return st;
    if (v[2] <= v[1])
        return line_error(ps, "upper must be greater than lower (lifetimes are [lower, upper))");
    if (v[3] < 0) return line_error(ps, "size must not be negative");
    if ((st = mi__grow((void **)&c->buffers, &c->cap, c->count + 1, sizeof *c->buffers)) ||
        (st = mi__grow((void **)&c->ids, &ps->cap_ids, c->count + 1, sizeof *c->ids)) ||
        (st = mi__grow((void **)&c->lines, &ps->cap_lines, c->count + 1, sizeof *c->lines)))
        return st;
    c->buffers[c->count] = (mi_buffer){(size_t)v[3], v[1], v[2] - 1};
    c->ids[c->count] = v[0];
    c->lines[c->count] = ps->line;
    c->count++;
    return MI_OK;
}

/* Line by line: blank lines are skipped, the first other one is the
 * header, the rest are buffers. */
static mi_status parse_lines(parser *ps, const char *text, size_t len) {
    const char *p = text, *end = text + len;
    int have_header = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        ps->line++;
        if (le > p && le[-1] == '\r') le--;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t')) q++;
        p = next;
        if (q == le) continue; /* blank line */
        if (memchr(q, '\0', (size_t)(le - q))) return line_error(ps, "NUL byte in the text");
        mi_status st = MI_OK;
        if (have_header)
            st = parse_buffer(ps, q, le);
        else if (!(have_header = header_ok(q, le)))
            st = line_error(ps, "expected the header `id,lower,upper,size` (or `buffer,start,end,size`)");
        if (st) return st;
    }
    if (!have_header)
        return mi__error(MI_ERR_PARSE, "%s:1: empty file; expected the header `id,lower,upper,size`",
                         ps->c->name);
    return MI_OK;
}

mi_status mi_csv_parse(const char *text, size_t len, const char *name, mi_csv **out) {
    mi_status st = MI_OK;
    *out = NULL;
    mi_csv *c = mi__calloc(1, sizeof *c);
    parser ps = {.c = c};
    if (!c || !(c->name = mi__strdup(name ? name : "<csv>"))) {
        st = mi__error(MI_ERR_NO_MEMORY, "reading a CSV problem");
        goto fail;
    }
    if (!text && len) {
        st = mi__error(MI_ERR_INVALID_ARG, "%s: no text", c->name);
        goto fail;
    }
    if ((st = parse_lines(&ps, text, len)) || (st = check_duplicates(c))) goto fail;
    *out = c;
    return MI_OK;
fail:
    mi_csv_destroy(c);
    return st;
}

mi_status mi_csv_read(const char *path, mi_csv **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return mi__error(MI_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    mi_status st = MI_OK;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if ((st = mi__grow((void **)&buf, &cap, len + 65536, 1))) goto done;
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        st = mi__error(MI_ERR_IO, "%s: read error", path);
        goto done;
    }
    st = mi_csv_parse(buf, len, path, out);
done:
    mi__free(buf);
    fclose(f);
    return st;
}

mi_status mi_csv_write_plan(const mi_csv *csv, const size_t *offsets, const char *path) {
    FILE *f = fopen(path, "wb");
    if (!f) return mi__error(MI_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    fprintf(f, "id,lower,upper,size,offset\n");
    for (size_t i = 0; i < csv->count; i++) {
        const mi_buffer *b = &csv->buffers[i];
        fprintf(f, "%s,%lld,%lld,%zu,%zu\n", mi_csv_id_text(csv, i), (long long)b->first,
                (long long)b->last + 1, b->size, offsets[i]);
    }
    if (fclose(f) != 0) return mi__error(MI_ERR_IO, "%s: write error", path);
    return MI_OK;
}
