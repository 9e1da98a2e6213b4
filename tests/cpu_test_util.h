/* Helpers for the CPU backend tests (header-only): build a small graph by
 * hand, run its nodes through the backend's prepare/run on buffers of our
 * own (no engine), compare with references computed in the test.
 *
 *     tg t;
 *     tg_init(&t, 13);
 *     tg_input(&t, "x", MI_DTYPE_FLOAT, 4, (int64_t[]){1, 3, 8, 8}, x);
 *     tg_weight(&t, "w", MI_DTYPE_FLOAT, 4, (int64_t[]){4, 3, 3, 3}, w);
 *     tg_node(&t, "Conv", "x,w", "y", 1, (mi_attr[]){A_ints("pads", 4, (int64_t[]){1, 1, 1, 1})});
 *     tg_output(&t, "y");
 *     tg_finalize(&t, 1, 1);
 *     cr_assert_eq(tg_run(&t), MI_OK, "%s", mi_last_error());
 *     const float *y = tg_data(&t, "y");
 *     tg_free(&t);
 *
 * Every buffer and every workspace starts filled with NaN, so a kernel
 * that reads what it did not write shows in the result. */
#ifndef MI_CPU_TEST_UTIL_H
#define MI_CPU_TEST_UTIL_H

#include "backend_cpu/cpu_internal.h"
#include "mini_infer/backend.h"
#include "mini_infer/graph.h"
#include "test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MAX 64

typedef struct tg {
    mi_graph *g;
    mi_backend *b;
    const void *in_data[TG_MAX]; /* by input order */
    char in_name[TG_MAX][32];
    int nin;
    void *buf[TG_MAX];    /* by tensor index, owned unless aliased */
    int alias[TG_MAX];    /* tensor whose buffer this one uses, or -1 */
    char alias_name[TG_MAX][2][32];
    int naliases;
    size_t ws[TG_MAX];    /* per node, from prepare */
    int ws_poison_byte;   /* 0xFF (NaN) unless a test changes it */
} tg;

static inline mi_attr A_int(const char *name, int64_t v) {
    mi_attr a;
    memset(&a, 0, sizeof a);
    a.name = (char *)name;
    a.type = MI_ATTR_INT;
    a.i = v;
    a.tensor = -1;
    return a;
}
static inline mi_attr A_float(const char *name, float v) {
    mi_attr a = A_int(name, 0);
    a.type = MI_ATTR_FLOAT;
    a.f = v;
    return a;
}
static inline mi_attr A_ints(const char *name, size_t n, const int64_t *v) {
    mi_attr a = A_int(name, 0);
    a.type = MI_ATTR_INTS;
    a.ints = (int64_t *)v;
    a.count = n;
    return a;
}
static inline mi_attr A_str(const char *name, const char *s) {
    mi_attr a = A_int(name, 0);
    a.type = MI_ATTR_STRING;
    a.s = (char *)s;
    return a;
}

static inline void tg_init_opts(tg *t, int64_t opset, const mi_backend_options *bo) {
    memset(t, 0, sizeof *t);
    t->ws_poison_byte = 0xFF;
    cr_assert_eq(mi_graph_create(&t->g), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_set_opset(t->g, opset), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_backend_cpu_create(bo, &t->b), MI_OK, "%s", mi_last_error());
    for (int i = 0; i < TG_MAX; i++) t->alias[i] = -1;
}
static inline void tg_init(tg *t, int64_t opset) { tg_init_opts(t, opset, NULL); }

static inline void tg_input(tg *t, const char *name, mi_dtype dt, int ndim, const int64_t *dims,
                            const void *data) {
    cr_assert_eq(mi_graph_add_tensor(t->g, name, dt, ndim, dims, MI_ROLE_INPUT, NULL, NULL), MI_OK,
                 "%s", mi_last_error());
    snprintf(t->in_name[t->nin], sizeof t->in_name[0], "%s", name);
    t->in_data[t->nin++] = data;
}

static inline void tg_weight(tg *t, const char *name, mi_dtype dt, int ndim, const int64_t *dims,
                             const void *data) {
    cr_assert_eq(mi_graph_add_tensor(t->g, name, dt, ndim, dims, MI_ROLE_WEIGHT, data, NULL), MI_OK,
                 "%s", mi_last_error());
}

/* "a,b,,c" into names (an empty one is an omitted input). */
static inline int tg_split(const char *csv, char names[][32], const char **ptrs) {
    int n = 0;
    const char *s = csv;
    if (!*s) return 0;
    for (;;) {
        size_t len = strcspn(s, ",");
        snprintf(names[n], 32, "%.*s", (int)len, s);
        ptrs[n] = names[n];
        n++;
        if (!s[len]) break;
        s += len + 1;
    }
    return n;
}

static inline void tg_node(tg *t, const char *op, const char *ins, const char *outs, int nattrs,
                           const mi_attr *attrs) {
    char in_names[16][32], out_names[16][32];
    const char *ip[16], *op_[16];
    int ni = tg_split(ins, in_names, ip), no = tg_split(outs, out_names, op_);
    cr_assert_eq(mi_graph_add_node(t->g, op, NULL, ni, ip, no, op_, nattrs, attrs), MI_OK, "%s",
                 mi_last_error());
}

static inline void tg_output(tg *t, const char *name) {
    cr_assert_eq(mi_graph_add_tensor(t->g, name, MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL),
                 MI_OK, "%s", mi_last_error());
}

static inline void tg_finalize(tg *t, int fold, int fuse) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.fold_constants = fold;
    o.fuse = fuse;
    cr_assert_eq(mi_graph_finalize(t->g, &o), MI_OK, "%s", mi_last_error());
    cr_assert_leq(mi_graph_tensor_count(t->g), TG_MAX);
}

/* Makes tensor `dst` share `src`'s buffer (in-place runs); call before tg_run. */
static inline void tg_alias(tg *t, const char *dst, const char *src) {
    snprintf(t->alias_name[t->naliases][0], 32, "%s", dst);
    snprintf(t->alias_name[t->naliases][1], 32, "%s", src);
    t->naliases++;
}

static inline int tg_find(const tg *t, const char *name) {
    int i = mi_graph_find_tensor(t->g, name);
    cr_assert_geq(i, 0, "no tensor '%s'", name);
    return i;
}

static inline void *tg_ptr(tg *t, int i) {
    const mi_tensor *x = mi_graph_tensor(t->g, (size_t)i);
    if (x->role == MI_ROLE_WEIGHT) return (void *)x->data;
    return t->alias[i] >= 0 ? t->buf[t->alias[i]] : t->buf[i];
}

/* Allocates buffers (NaN-filled), copies the inputs, prepares and runs
 * every node in order. Returns the first failing status. */
static inline mi_status tg_run(tg *t) {
    size_t nt = mi_graph_tensor_count(t->g);
    for (int a = 0; a < t->naliases; a++)
        t->alias[tg_find(t, t->alias_name[a][0])] = tg_find(t, t->alias_name[a][1]);
    for (size_t i = 0; i < nt; i++) {
        const mi_tensor *x = mi_graph_tensor(t->g, i);
        if (x->role == MI_ROLE_WEIGHT || t->buf[i]) continue;
        t->buf[i] = malloc(x->nbytes ? x->nbytes : 1);
        cr_assert(t->buf[i]);
        memset(t->buf[i], 0xFF, x->nbytes);
    }
    for (int k = 0; k < t->nin; k++) {
        int i = tg_find(t, t->in_name[k]);
        memcpy(tg_ptr(t, i), t->in_data[k], mi_graph_tensor(t->g, (size_t)i)->nbytes);
    }
    for (size_t k = 0; k < mi_graph_node_count(t->g); k++) {
        const mi_node *n = mi_graph_node(t->g, k);
        size_t ws = 0;
        mi_status st = t->b->ops->prepare(t->b, t->g, k, &ws);
        if (st != MI_OK) return st;
        if (k < TG_MAX) t->ws[k] = ws;
        void *in[16] = {0}, *out[16] = {0};
        for (int i = 0; i < n->ninputs && i < 16; i++)
            in[i] = n->inputs[i] >= 0 ? tg_ptr(t, n->inputs[i]) : NULL;
        for (int i = 0; i < n->noutputs && i < 16; i++)
            out[i] = n->outputs[i] >= 0 ? tg_ptr(t, n->outputs[i]) : NULL;
        void *wsp = ws ? malloc(ws) : NULL;
        if (ws) memset(wsp, t->ws_poison_byte, ws);
        mi_node_args a = {t->g, k, n, in, out,
                          n->fused.residual >= 0 ? tg_ptr(t, n->fused.residual) : NULL, wsp, ws};
        st = t->b->ops->run(t->b, NULL, &a);
        free(wsp);
        if (st != MI_OK) return st;
    }
    return MI_OK;
}

static inline const void *tg_data(tg *t, const char *name) { return tg_ptr(t, tg_find(t, name)); }
static inline const mi_tensor *tg_tensor(tg *t, const char *name) {
    return mi_graph_tensor(t->g, (size_t)tg_find(t, name));
}

static inline void tg_free(tg *t) {
    for (int i = 0; i < TG_MAX; i++) free(t->buf[i]);
    mi_graph_destroy(t->g);
    mi_backend_close(t->b);
    memset(t, 0, sizeof *t);
}

/* ---- data and comparison ---------------------------------------------------------- */

/* The reference for broadcasting, written plainly as numpy defines it:
 * output index idx (output rank r, dims od) -> offset in an input of rank
 * nd, dims d. */
static inline int64_t ref_bcast_offset(int64_t idx, int r, const int64_t *od, int nd, const int64_t *d) {
    int64_t off = 0, stride = 1;
    for (int i = r - 1; i >= 0; i--) {
        int64_t c = idx % od[i];
        idx /= od[i];
        int j = i - (r - nd);
        if (j >= 0) {
            if (d[j] != 1) off += c * stride;
            stride *= d[j];
        }
    }
    return off;
}

static inline float *rand_floats(mi_rng *r, size_t n) {
    float *v = malloc((n ? n : 1) * sizeof(float));
    cr_assert(v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(2.0 * mi_rng_unit(r) - 1.0);
    return v;
}

static inline double *zeros(size_t n) {
    double *v = calloc(n ? n : 1, sizeof(double));
    cr_assert(v);
    return v;
}

/* max|got - ref| / max|ref| (infinity on a NaN; absolute when ref is 0). */
static inline double nerr(const float *got, const double *ref, size_t n) {
    double md = 0.0, mr = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        if (d != d) return INFINITY;
        if (d > md) md = d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0.0 ? md / mr : md;
}

/* Float sums of up to a few thousand products: the generic kernel (no FMA)
 * rounds twice per term and lands near 1.2e-5 on a K = 576 convolution. Any
 * indexing or epilogue error is orders of magnitude larger. */
#define TOL 5e-5
#define assert_close(got, ref, n)                                                          \
    do {                                                                                   \
        double e_ = nerr((got), (ref), (n));                                               \
        cr_assert_lt(e_, TOL, "normalized error %g (>= %g)", e_, TOL);                     \
    } while (0)

#endif
