/* Terse hand-building of graphs for the tests (header-only):
 *
 *     gb b;
 *     gb_init(&b, 13);
 *     gb_input(&b, "x", MI_DTYPE_FLOAT, 4, D(1, 3, 8, 8));
 *     gb_weight(&b, "w", MI_DTYPE_FLOAT, 4, D(8, 3, 3, 3), NULL);
 *     gb_node(&b, "Conv", "conv", "x,w", "y", A(AINTS("pads", 1, 1, 1, 1)));
 *     mi_status st = gb_finalize(&b, NULL);
 *     gb_expect_dims(&b, "y", 4, D(1, 8, 8, 8));
 *     gb_free(&b);
 *
 * A failing build call fails the test; finalize returns its status so
 * tests can check errors. */
#ifndef MI_TEST_GRAPH_BUILD_H
#define MI_TEST_GRAPH_BUILD_H

#include <criterion/criterion.h>

#include "mini_infer/graph.h"

#include <stdlib.h>
#include <string.h>

#define D(...) ((const int64_t[]){__VA_ARGS__})
#define AI(n, v) ((mi_attr){.name = (char *)(n), .type = MI_ATTR_INT, .i = (v)})
#define AF(n, v) ((mi_attr){.name = (char *)(n), .type = MI_ATTR_FLOAT, .f = (v)})
#define AS(n, v) ((mi_attr){.name = (char *)(n), .type = MI_ATTR_STRING, .s = (char *)(v)})
#define AINTS(n, ...)                                                                     \
    ((mi_attr){.name = (char *)(n), .type = MI_ATTR_INTS, .ints = (int64_t[]){__VA_ARGS__}, \
               .count = sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)})
#define AFLOATS(n, ...)                                                                  \
    ((mi_attr){.name = (char *)(n), .type = MI_ATTR_FLOATS, .floats = (float[]){__VA_ARGS__}, \
               .count = sizeof((float[]){__VA_ARGS__}) / sizeof(float)})
/* An attribute list: A(AI("axis", 1), AS("mode", "edge")); NOATTR for none. */
#define A(...) (int)(sizeof((mi_attr[]){__VA_ARGS__}) / sizeof(mi_attr)), ((mi_attr[]){__VA_ARGS__})
#define NOATTR 0, NULL

typedef struct gb {
    mi_graph *g;
} gb;

static inline void gb_init(gb *b, int64_t opset) {
    cr_assert_eq(mi_graph_create(&b->g), MI_OK);
    cr_assert_eq(mi_graph_set_opset(b->g, opset), MI_OK);
}

static inline void gb_free(gb *b) {
    mi_graph_destroy(b->g);
    b->g = NULL;
}

static inline void gb_input(gb *b, const char *name, mi_dtype dt, int ndim, const int64_t *dims) {
    mi_status st = mi_graph_add_tensor(b->g, name, dt, ndim, dims, MI_ROLE_INPUT, NULL, NULL);
    cr_assert_eq(st, MI_OK, "input '%s': %s", name, mi_last_error());
}

static inline void gb_output(gb *b, const char *name) {
    mi_status st = mi_graph_add_tensor(b->g, name, MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL);
    cr_assert_eq(st, MI_OK, "output '%s': %s", name, mi_last_error());
}

/* A weight; NULL data gives deterministic values (element i is i % 5 for
 * integers, 0.1 * (i % 5) for floats). */
static inline void gb_weight(gb *b, const char *name, mi_dtype dt, int ndim, const int64_t *dims,
                             const void *data) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)dims[i];
    void *buf = NULL;
    if (!data) {
        buf = calloc(n ? n : 1, 8);
        for (size_t i = 0; i < n; i++) {
            if (dt == MI_DTYPE_FLOAT) ((float *)buf)[i] = 0.1f * (float)(i % 5);
            else if (dt == MI_DTYPE_INT64) ((int64_t *)buf)[i] = (int64_t)(i % 5);
            else if (dt == MI_DTYPE_INT32) ((int32_t *)buf)[i] = (int32_t)(i % 5);
        }
        data = buf;
    }
    mi_status st = mi_graph_add_tensor(b->g, name, dt, ndim, dims, MI_ROLE_WEIGHT, data, NULL);
    free(buf);
    cr_assert_eq(st, MI_OK, "weight '%s': %s", name, mi_last_error());
}

static inline void gb_ints(gb *b, const char *name, int n, const int64_t *v) {
    gb_weight(b, name, MI_DTYPE_INT64, 1, (int64_t[]){n}, v);
}

/* Splits "a,,b" into names ("" for an omitted input). */
static inline int gb_split(const char *csv, char buf[][64], const char **out) {
    int n = 0;
    if (!csv[0]) return 0;
    for (const char *s = csv;; n++) {
        size_t len = strcspn(s, ",");
        memcpy(buf[n], s, len);
        buf[n][len] = '\0';
        out[n] = buf[n];
        if (!s[len]) return n + 1;
        s += len + 1;
    }
}

static inline mi_status gb_node_st(gb *b, const char *op, const char *name, const char *ins,
                                   const char *outs, int nattrs, const mi_attr *attrs) {
    char ib[16][64], ob_[16][64];
    const char *iv[16], *ov[16];
    int ni = gb_split(ins, ib, iv), no = gb_split(outs, ob_, ov);
    return mi_graph_add_node(b->g, op, name, ni, iv, no, ov, nattrs, attrs);
}

static inline void gb_node(gb *b, const char *op, const char *name, const char *ins, const char *outs,
                           int nattrs, const mi_attr *attrs) {
    mi_status st = gb_node_st(b, op, name, ins, outs, nattrs, attrs);
    cr_assert_eq(st, MI_OK, "node '%s': %s", name ? name : op, mi_last_error());
}

static inline mi_status gb_finalize_opts(gb *b, int64_t batch, int fold, int fuse) {
    mi_load_options o;
    mi_load_options_init(&o);
    o.batch = batch;
    o.fold_constants = fold;
    o.fuse = fuse;
    return mi_graph_finalize(b->g, &o);
}

static inline mi_status gb_finalize(gb *b) { return gb_finalize_opts(b, 0, 1, 1); }

static inline void gb_ok(gb *b) {
    mi_status st = gb_finalize(b);
    cr_assert_eq(st, MI_OK, "finalize: %s: %s", mi_status_name(st), mi_last_error());
}

/* Finalize must fail with want and a message containing s1 and s2. */
static inline void gb_fails(gb *b, mi_status want, const char *s1, const char *s2) {
    mi_status st = gb_finalize(b);
    const char *m = mi_last_error();
    cr_assert_eq(st, want, "status %s, expected %s: %s", mi_status_name(st), mi_status_name(want), m);
    if (s1) cr_assert(strstr(m, s1), "message lacks '%s': %s", s1, m);
    if (s2) cr_assert(strstr(m, s2), "message lacks '%s': %s", s2, m);
}

static inline const mi_tensor *gb_tensor(gb *b, const char *name) {
    int i = mi_graph_find_tensor(b->g, name);
    cr_assert_geq(i, 0, "no tensor '%s'", name);
    return mi_graph_tensor(b->g, (size_t)i);
}

static inline void gb_expect_dims(gb *b, const char *name, int ndim, const int64_t *dims) {
    const mi_tensor *t = gb_tensor(b, name);
    cr_assert_eq(t->ndim, ndim, "'%s': rank %d, expected %d", name, t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        cr_assert_eq(t->dims[i], dims[i], "'%s': dim %d is %lld, expected %lld", name, i,
                     (long long)t->dims[i], (long long)dims[i]);
}

static inline int gb_count_op(gb *b, mi_op op) {
    int c = 0;
    for (size_t i = 0; i < mi_graph_node_count(b->g); i++) c += mi_graph_node(b->g, i)->op == op;
    return c;
}

#endif
