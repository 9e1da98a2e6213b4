/* Graphs of 200,000 nodes, built through the C API, finalized and planned
 * with the default options: the plan must be whole (every tensor placed,
 * the arena at its lower bound, mi_validate passing on the buffers).
 *
 * What these tests really check is time, through the ctest TIMEOUT of
 * tests/test_scale.cmake, not through an assertion: planning used to scan
 * every tensor for each in-place decision and every earlier weight for
 * each weight, so that these graphs took minutes; graph to plan is now
 * O(n log n) and takes about a second. */
#include "mini_infer/memplan.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define NODES 200000

static void add_node(mi_graph *g, const char *op, const char *in0, const char *in1, const char *out) {
    const char *ins[2] = {in0, in1};
    mi_status st = mi_graph_add_node(g, op, NULL, in1 ? 2 : 1, ins, 1, &out, 0, NULL);
    cr_assert_eq(st, MI_OK, "%s", mi_last_error());
}

static mi_graph *start(int64_t width) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "h0", MI_DTYPE_FLOAT, 2, (const int64_t[]){1, width}, MI_ROLE_INPUT,
                                     NULL, NULL),
                 MI_OK, "%s", mi_last_error());
    return g;
}

static void finish(mi_graph *g, const char *out) {
    cr_assert_eq(mi_graph_add_tensor(g, out, MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK,
                 "%s", mi_last_error());
    cr_assert_eq(mi_graph_finalize(g, NULL), MI_OK, "%s", mi_last_error());
}

/* Plans g with the default options and checks the plan; returns it. */
static mi_memory_plan *plan_and_check(const mi_graph *g) {
    mi_planner *pl;
    mi_memory_plan *p;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    cr_assert_eq(mi_planner_plan(pl, g, NULL, &p), MI_OK, "%s", mi_last_error());
    mi_planner_destroy(pl);
    size_t arena = mi_memory_plan_pool_size(p, MI_POOL_ARENA);
    cr_assert_eq(arena, mi_memory_plan_lower_bound(p), "arena %zu, lower bound %zu", arena,
                 mi_memory_plan_lower_bound(p));
    size_t n;
    const mi_buffer *b = mi_memory_plan_buffers(p, &n);
    mi_problem prob = {b, n, mi_memory_plan_alignment(p)};
    cr_assert_eq(mi_validate(&prob, mi_memory_plan_buffer_offsets(p), arena), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_memory_plan_tensor_count(p), mi_graph_tensor_count(g));
    for (size_t t = 0; t < mi_graph_tensor_count(g); t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        const mi_tensor_place *pt = mi_memory_plan_tensor(p, t);
        mi_pool_kind want = x->role == MI_ROLE_ACTIVATION ? MI_POOL_ARENA
                            : x->role == MI_ROLE_WEIGHT   ? MI_POOL_WEIGHTS
                                                          : MI_POOL_IO;
        cr_assert_eq(pt->pool, want, "tensor '%s' in pool %s", x->name, mi_pool_name(pt->pool));
        cr_assert_leq(pt->offset + pt->size, mi_memory_plan_pool_size(p, pt->pool), "tensor '%s'", x->name);
        if (x->role == MI_ROLE_ACTIVATION) {
            cr_assert(pt->buffer >= 0 && (size_t)pt->buffer < n, "tensor '%s' has no buffer", x->name);
            cr_assert(pt->first <= pt->last, "tensor '%s'", x->name);
        }
    }
    return p;
}

/* h0 -> Relu -> ... -> Relu: every Relu in place, one buffer. */
Test(scale, relu_chain) {
    mi_graph *g = start(64);
    char in[32], out[32];
    for (size_t i = 0; i < NODES; i++) {
        snprintf(in, sizeof in, "h%zu", i);
        snprintf(out, sizeof out, "h%zu", i + 1);
        add_node(g, "Relu", in, NULL, out);
    }
    finish(g, out);
    cr_assert_eq(mi_graph_node_count(g), NODES);
    mi_memory_plan *p = plan_and_check(g);
    size_t n;
    mi_memory_plan_buffers(p, &n);
    cr_assert_eq(n, 1, "the chain is one group: %zu buffers", n);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 256);
    /* Each in-place result points at the group's root, the first Relu's output. */
    int root = mi_graph_find_tensor(g, "h1");
    cr_assert_eq(mi_memory_plan_tensor(p, (size_t)mi_graph_find_tensor(g, "h100000"))->alias_of, root);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

/* Blocks r = Relu(h), m = MatMul(r, W), h' = Add(h, m): the residual
 * stream is one group as long as the graph, each block brings a weight. */
Test(scale, residual) {
    mi_graph *g = start(4);
    char h[32], h1[32], r[32], m[32], w[32];
    static const float wv[16] = {0.5f};
    size_t blocks = (NODES + 2) / 3;
    for (size_t i = 0; i < blocks; i++) {
        snprintf(h, sizeof h, "h%zu", i);
        snprintf(h1, sizeof h1, "h%zu", i + 1);
        snprintf(r, sizeof r, "r%zu", i);
        snprintf(m, sizeof m, "m%zu", i);
        snprintf(w, sizeof w, "w%zu", i);
        cr_assert_eq(mi_graph_add_tensor(g, w, MI_DTYPE_FLOAT, 2, (const int64_t[]){4, 4}, MI_ROLE_WEIGHT, wv, NULL),
                     MI_OK, "%s", mi_last_error());
        add_node(g, "Relu", h, NULL, r);
        add_node(g, "MatMul", r, w, m);
        add_node(g, "Add", h, m, h1);
    }
    finish(g, h1);
    cr_assert_geq(mi_graph_node_count(g), NODES);
    mi_memory_plan *p = plan_and_check(g);
    size_t n;
    mi_memory_plan_buffers(p, &n);
    /* The stream (from m0 on: h0 is an input), each block's r, and each
     * later block's m; the last Add writes the graph output. */
    cr_assert_eq(n, 1 + blocks + (blocks - 1), "%zu buffers", n);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 3 * 256, "h, r and m at the MatMul");
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), blocks * 256);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}
