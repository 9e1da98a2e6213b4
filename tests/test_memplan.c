/* Graph -> memory plan: lifetimes, pools, in-place, views, copy-free
 * concat, workspaces, and failure paths, on small graphs built in C. */
#include "common/alloc_hook.h"
#include "graph/graph_internal.h"
#include "mini_infer/memplan.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static mi_graph *new_graph(void) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK, "%s", mi_last_error());
    return g;
}

static void input(mi_graph *g, const char *name, int ndim, const int64_t *dims) {
    cr_assert_eq(mi_graph_add_tensor(g, name, MI_DTYPE_FLOAT, ndim, dims, MI_ROLE_INPUT, NULL, NULL),
                 MI_OK, "%s", mi_last_error());
}

static void output(mi_graph *g, const char *name) {
    cr_assert_eq(mi_graph_add_tensor(g, name, MI_DTYPE_FLOAT, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL),
                 MI_OK, "%s", mi_last_error());
}

static void node(mi_graph *g, const char *op, const char *name, const char *in0, const char *in1,
                 const char *out, int nattrs, const mi_attr *attrs) {
    const char *ins[2] = {in0, in1};
    cr_assert_eq(mi_graph_add_node(g, op, name, in1 ? 2 : 1, ins, 1, &out, nattrs, attrs), MI_OK, "%s",
                 mi_last_error());
}

static void finalize(mi_graph *g) {
    mi_load_options o;
    mi_load_options_init(&o);
    cr_assert_eq(mi_graph_finalize(g, &o), MI_OK, "%s", mi_last_error());
}

static mi_memory_plan *plan(const mi_graph *g, int inplace, const size_t *ws) {
    mi_planner *pl;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    mi_planner_set_inplace(pl, inplace);
    mi_memory_plan *p;
    cr_assert_eq(mi_planner_plan(pl, g, ws, &p), MI_OK, "%s", mi_last_error());
    mi_planner_destroy(pl);
    /* The arena problem must validate. */
    size_t n;
    const mi_buffer *b = mi_memory_plan_buffers(p, &n);
    mi_problem prob = {b, n, mi_memory_plan_alignment(p)};
    cr_assert_eq(mi_validate(&prob, mi_memory_plan_buffer_offsets(p), mi_memory_plan_pool_size(p, MI_POOL_ARENA)),
                 MI_OK, "%s", mi_last_error());
    return p;
}

static const mi_tensor_place *place(const mi_graph *g, const mi_memory_plan *p, const char *name) {
    int t = mi_graph_find_tensor(g, name);
    cr_assert_geq(t, 0, "tensor %s", name);
    return mi_memory_plan_tensor(p, (size_t)t);
}

/* x -> Sigmoid a -> Relu b -> Sigmoid c -> Relu y */
static mi_graph *chain(void) {
    mi_graph *g = new_graph();
    input(g, "x", 2, (int64_t[]){1, 64});
    node(g, "Sigmoid", "s1", "x", NULL, "a", 0, NULL);
    node(g, "Relu", "r1", "a", NULL, "b", 0, NULL);
    node(g, "Sigmoid", "s2", "b", NULL, "c", 0, NULL);
    node(g, "Relu", "r2", "c", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    return g;
}

Test(memplan, chain_lifetimes_and_pools) {
    mi_graph *g = chain();
    mi_memory_plan *p = plan(g, 0, NULL);
    const mi_tensor_place *a = place(g, p, "a"), *c = place(g, p, "c"), *x = place(g, p, "x"), *y = place(g, p, "y");
    cr_assert_eq(a->first, 0);
    cr_assert_eq(a->last, 1);
    cr_assert_eq(c->first, 2);
    cr_assert_eq(c->last, 3);
    cr_assert_eq(x->pool, MI_POOL_IO);
    cr_assert_eq(x->first, 0);
    cr_assert_eq(x->last, 3, "graph inputs live to the end");
    cr_assert_eq(y->pool, MI_POOL_IO);
    cr_assert_eq(y->last, 3);
    cr_assert_eq(a->pool, MI_POOL_ARENA);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_IO), 512);
    cr_assert_eq(mi_memory_plan_naive_size(p), 768);
    cr_assert_eq(mi_memory_plan_lower_bound(p), 512);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 512);
    cr_assert_float_eq(mi_memory_plan_saving_ratio(p), 1.0 - 512.0 / 768.0, 1e-12);
    cr_assert_eq(a->offset, c->offset, "a and c do not overlap in time and share");
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, chain_inplace_is_one_buffer) {
    mi_graph *g = chain();
    mi_memory_plan *p = plan(g, 1, NULL);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 256);
    cr_assert_eq(mi_memory_plan_lower_bound(p), 256);
    cr_assert_eq(mi_memory_plan_lower_bound_no_inplace(p), 512);
    const mi_tensor_place *a = place(g, p, "a"), *b = place(g, p, "b"), *c = place(g, p, "c");
    cr_assert_eq(a->offset, b->offset);
    cr_assert_eq(b->offset, c->offset);
    cr_assert_eq(a->buffer, c->buffer);
    cr_assert_geq(b->alias_of, 0);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, no_inplace_when_input_is_read_later) {
    mi_graph *g = new_graph();
    input(g, "x", 2, (int64_t[]){1, 64});
    node(g, "Sigmoid", "s", "x", NULL, "a", 0, NULL);
    node(g, "Relu", "r", "a", NULL, "b", 0, NULL);
    node(g, "Add", "add", "a", "b", "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_memory_plan *p = plan(g, 1, NULL);
    cr_assert_neq(place(g, p, "a")->offset, place(g, p, "b")->offset, "a is still read by add");
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 512);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, views_share_and_are_elided) {
    mi_graph *g = new_graph();
    input(g, "x", 4, (int64_t[]){1, 4, 4, 4});
    int64_t shape[2] = {1, 64};
    cr_assert_eq(mi_graph_add_tensor(g, "shape", MI_DTYPE_INT64, 1, (int64_t[]){2}, MI_ROLE_WEIGHT, shape, NULL), MI_OK);
    node(g, "Sigmoid", "s", "x", NULL, "a", 0, NULL);
    node(g, "Reshape", "view", "a", "shape", "r", 0, NULL);
    node(g, "Sigmoid", "s2", "r", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_memory_plan *p = plan(g, 1, NULL);
    const mi_tensor_place *a = place(g, p, "a"), *r = place(g, p, "r");
    cr_assert_eq(r->offset, a->offset);
    cr_assert_eq(r->pool, MI_POOL_ARENA);
    cr_assert_eq(mi_memory_plan_node_elided(p, 1), 1);
    cr_assert_eq(mi_memory_plan_node_elided(p, 0), 0);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 256);
    mi_memory_plan_destroy(p);
    /* Off: a copy, two buffers live together at the reshape. */
    p = plan(g, 0, NULL);
    cr_assert_eq(mi_memory_plan_node_elided(p, 1), 0);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 512);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, view_of_an_input_stays_in_the_io_pool) {
    mi_graph *g = new_graph();
    input(g, "x", 4, (int64_t[]){1, 4, 4, 4});
    mi_attr axis = {.name = "axis", .type = MI_ATTR_INT, .i = 1, .tensor = -1};
    node(g, "Flatten", "flat", "x", NULL, "f", 1, &axis);
    node(g, "Relu", "r", "f", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_memory_plan *p = plan(g, 1, NULL);
    const mi_tensor_place *x = place(g, p, "x"), *f = place(g, p, "f");
    cr_assert_eq(f->pool, MI_POOL_IO);
    cr_assert_eq(f->offset, x->offset);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 0);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, concat_producers_write_into_their_slices) {
    mi_graph *g = new_graph();
    input(g, "x", 3, (int64_t[]){1, 2, 32});
    node(g, "Sigmoid", "s", "x", NULL, "a", 0, NULL);
    node(g, "Relu", "r", "x", NULL, "b", 0, NULL);
    mi_attr axis = {.name = "axis", .type = MI_ATTR_INT, .i = 1, .tensor = -1};
    node(g, "Concat", "cat", "a", "b", "c", 1, &axis);
    node(g, "Sigmoid", "s2", "c", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_memory_plan *p = plan(g, 1, NULL);
    const mi_tensor_place *a = place(g, p, "a"), *b = place(g, p, "b"), *c = place(g, p, "c");
    cr_assert_eq(a->offset, c->offset);
    cr_assert_eq(b->offset, c->offset + 256, "b's slice follows a's 256 bytes");
    cr_assert_eq(mi_memory_plan_node_elided(p, 2), 1);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 512);
    mi_memory_plan_destroy(p);
    p = plan(g, 0, NULL);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 1024, "a, b and c live together");
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, concat_with_batch_is_a_copy) {
    mi_graph *g = new_graph();
    input(g, "x", 3, (int64_t[]){2, 2, 32});
    node(g, "Sigmoid", "s", "x", NULL, "a", 0, NULL);
    node(g, "Relu", "r", "x", NULL, "b", 0, NULL);
    mi_attr axis = {.name = "axis", .type = MI_ATTR_INT, .i = 1, .tensor = -1};
    node(g, "Concat", "cat", "a", "b", "c", 1, &axis);
    node(g, "Sigmoid", "s2", "c", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_memory_plan *p = plan(g, 1, NULL);
    cr_assert_eq(mi_memory_plan_node_elided(p, 2), 0, "slices of a batch-2 concat are strided");
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, workspaces_are_buffers_of_one_step) {
    mi_graph *g = chain();
    size_t ws[4] = {0, 1000, 0, 300};
    mi_memory_plan *p = plan(g, 0, ws);
    cr_assert_eq(mi_memory_plan_workspace_size(p, 1), 1000);
    cr_assert_eq(mi_memory_plan_workspace_size(p, 0), 0);
    cr_assert_eq(mi_memory_plan_naive_size(p), 768 + 1024 + 512);
    /* step 1: a, b and the 1024-byte workspace */
    cr_assert_eq(mi_memory_plan_lower_bound(p), 512 + 1024);
    size_t wo = mi_memory_plan_workspace_offset(p, 1);
    const mi_tensor_place *a = place(g, p, "a"), *b = place(g, p, "b");
    cr_assert(wo + 1024 <= a->offset || a->offset + 256 <= wo);
    cr_assert(wo + 1024 <= b->offset || b->offset + 256 <= wo);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

Test(memplan, weights_pool_and_disabled_planner) {
    mi_graph *g = new_graph();
    input(g, "x", 2, (int64_t[]){1, 64});
    float w[64] = {0};
    cr_assert_eq(mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 2, (int64_t[]){1, 64}, MI_ROLE_WEIGHT, w, NULL), MI_OK);
    node(g, "Add", "add", "x", "w", "a", 0, NULL);
    node(g, "Relu", "r", "a", NULL, "b", 0, NULL);
    node(g, "Sigmoid", "s", "b", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_planner *pl;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    mi_planner_set_enabled(pl, 0);
    mi_memory_plan *p;
    cr_assert_eq(mi_planner_plan(pl, g, NULL, &p), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), 256);
    cr_assert_eq(place(g, p, "w")->pool, MI_POOL_WEIGHTS);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 512, "disabled: no reuse, no in-place");
    cr_assert_float_eq(mi_memory_plan_saving_ratio(p), 0.0, 1e-12);
    cr_assert_eq(mi_memory_plan_result(p)->strategy, MI_STRATEGY_NAIVE);
    mi_memory_plan_destroy(p);
    cr_assert_eq(mi_planner_set_alignment(pl, 3), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_planner_set_alignment(pl, 0), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_planner_set_alignment(pl, 64), MI_OK);
    cr_assert_eq(mi_planner_set_search_threads(pl, -1), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_planner_set_search_threads(pl, MI_MAX_SEARCH_THREADS + 1), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_planner_set_search_threads(pl, 2), MI_OK);
    /* The setters and the options struct are one set of fields; a bad
     * struct changes nothing. */
    mi_plan_options po = *mi_planner_options(pl);
    cr_assert_eq(po.alignment, 64);
    cr_assert_eq(po.solve.threads, 2);
    cr_assert_eq(po.solve.enabled, 0);
    po.alignment = 48;
    cr_assert_eq(mi_planner_set_options(pl, &po), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "48") != NULL, "%s", mi_last_error());
    po.alignment = 64;
    po.solve.strategy = MI_STRATEGY_COUNT;
    cr_assert_eq(mi_planner_set_options(pl, &po), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_planner_options(pl)->alignment, 64);
    cr_assert_eq(mi_planner_options(pl)->solve.strategy, MI_STRATEGY_AUTO);
    cr_assert_eq(mi_planner_plan(pl, g, NULL, &p), MI_OK);
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), 256, "64 floats = 256 bytes");
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_ARENA), 512);
    mi_memory_plan_destroy(p);
    mi_planner_destroy(pl);
    mi_graph_destroy(g);
}

/* Weights that share a data pointer (aliases a loader or folding makes)
 * share the region of the first earlier one at least as large. The graph
 * borrows the bytes (the loader's way), so sizes can differ. */
static const float shared_bytes[64];

static mi_graph *shared_weights(void) {
    static const struct { int at, n; } w[] = {{0, 16}, {0, 32}, {0, 16}, {0, 64}, {0, 32}, {16, 16}, {16, 8}, {0, 8}};
    mi_graph *g = new_graph();
    input(g, "x", 2, (int64_t[]){1, 4});
    char name[16], out[16];
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "w%d", i);
        cr_assert_eq(mi__graph_add_tensor_ref(g, name, MI_DTYPE_FLOAT, 1, (int64_t[]){w[i].n}, MI_ROLE_WEIGHT,
                                              shared_bytes + w[i].at, NULL),
                     MI_OK, "%s", mi_last_error());
    }
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "w%d", i);
        snprintf(out, sizeof out, "y%d", i);
        node(g, "Relu", out, name, NULL, out, 0, NULL);
    }
    node(g, "Relu", "yx", "x", NULL, "yx", 0, NULL);
    finalize(g);
    return g;
}

Test(memplan, shared_weights_share_the_first_large_enough_region) {
    mi_graph *g = shared_weights();
    mi_memory_plan *p = plan(g, 1, NULL);
    static const struct { const char *name; const char *alias; size_t offset; } want[] = {
        {"w0", NULL, 0}, {"w1", NULL, 256}, {"w2", "w0", 0}, {"w3", NULL, 512},
        {"w4", "w1", 256}, {"w5", NULL, 768}, {"w6", "w5", 768}, {"w7", "w0", 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const mi_tensor_place *pt = place(g, p, want[i].name);
        cr_assert_eq(pt->pool, MI_POOL_WEIGHTS);
        cr_assert_eq(pt->offset, want[i].offset, "%s at %zu", want[i].name, pt->offset);
        cr_assert_eq(pt->alias_of, want[i].alias ? mi_graph_find_tensor(g, want[i].alias) : -1, "%s", want[i].name);
    }
    cr_assert_eq(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS), 1024);
    /* The same rule, by the definition: the first earlier weight with the
     * same pointer and at least as many bytes. */
    for (size_t t = 0; t < mi_graph_tensor_count(g); t++) {
        const mi_tensor *x = mi_graph_tensor(g, t);
        if (x->role != MI_ROLE_WEIGHT) continue;
        int dup = -1;
        for (size_t u = 0; u < t && dup < 0; u++) {
            const mi_tensor *y = mi_graph_tensor(g, u);
            if (y->role == MI_ROLE_WEIGHT && y->data == x->data && y->nbytes >= x->nbytes) dup = (int)u;
        }
        cr_assert_eq(mi_memory_plan_tensor(p, t)->alias_of, dup, "%s", x->name);
    }
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

/* A concat of many producers is elided in one pass over its inputs; one
 * that lists an input twice is a copy. */
Test(memplan, wide_concat_and_a_repeated_input) {
    enum { N = 2000 };
    mi_graph *g = new_graph();
    input(g, "x", 2, (int64_t[]){1, 4});
    static char names[N][16];
    const char *ins[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "r%d", i);
        node(g, i % 2 ? "Sigmoid" : "Relu", names[i], "x", NULL, names[i], 0, NULL);
        ins[i] = names[i];
    }
    mi_attr axis = {.name = "axis", .type = MI_ATTR_INT, .i = 1, .tensor = -1};
    node(g, "Relu", "q0", "x", NULL, "q0", 0, NULL);
    node(g, "Relu", "q1", "x", NULL, "q1", 0, NULL);
    const char *c = "c", *d = "d", *rep[3] = {"q0", "q1", "q0"};
    cr_assert_eq(mi_graph_add_node(g, "Concat", "cat", N, ins, 1, &c, 1, &axis), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_graph_add_node(g, "Concat", "rep", 3, rep, 1, &d, 1, &axis), MI_OK, "%s", mi_last_error());
    node(g, "Sigmoid", "s", "c", NULL, "y", 0, NULL);
    node(g, "Sigmoid", "s2", "d", NULL, "z", 0, NULL);
    output(g, "y");
    output(g, "z");
    finalize(g);
    mi_memory_plan *p = plan(g, 1, NULL);
    size_t cat = 0, rep_at = 0;
    for (size_t k = 0; k < mi_graph_node_count(g); k++) {
        if (strcmp(mi_graph_node(g, k)->name, "cat") == 0) cat = k;
        if (strcmp(mi_graph_node(g, k)->name, "rep") == 0) rep_at = k;
    }
    cr_assert_eq(mi_memory_plan_node_elided(p, rep_at), 0, "q0 twice: a copy");
    cr_assert_eq(mi_memory_plan_node_elided(p, cat), 1);
    const mi_tensor_place *pc = place(g, p, "c");
    for (int i = 0; i < N; i += 499)
        cr_assert_eq(place(g, p, names[i])->offset, pc->offset + (size_t)i * 16, "%s", names[i]);
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}

/* Relu a -> Conv(a) + a -> Relu: fusion makes a both the conv's input and
 * its residual, so the conv's output may not take a's bytes. A residual
 * that only the Add reads (Conv(b) + a) may. */
static mi_graph *residual_graph(int conv_reads_residual) {
    mi_graph *g = new_graph();
    input(g, "x", 4, (int64_t[]){1, 4, 8, 8});
    float w[16] = {0}, bias[4] = {0};
    cr_assert_eq(mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 4, (int64_t[]){4, 4, 1, 1}, MI_ROLE_WEIGHT, w, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "bias", MI_DTYPE_FLOAT, 1, (int64_t[]){4}, MI_ROLE_WEIGHT, bias, NULL), MI_OK);
    node(g, "Relu", "r0", "x", NULL, "a", 0, NULL);
    node(g, "Sigmoid", "s0", "x", NULL, "b", 0, NULL);
    const char *ins[3] = {conv_reads_residual ? "a" : "b", "w", "bias"}, *out = "c";
    cr_assert_eq(mi_graph_add_node(g, "Conv", "conv", 3, ins, 1, &out, 0, NULL), MI_OK, "%s", mi_last_error());
    node(g, "Add", "add", "c", "a", "d", 0, NULL);
    node(g, "Relu", "r1", "d", NULL, "e", 0, NULL);
    node(g, "Sigmoid", "s1", "e", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    return g;
}

Test(memplan, fused_residual_in_place_only_when_the_conv_does_not_read_it) {
    for (int reads = 0; reads < 2; reads++) {
        mi_graph *g = residual_graph(reads);
        int conv = -1;
        for (size_t k = 0; k < mi_graph_node_count(g); k++)
            if (mi_graph_node(g, k)->op == MI_OP_CONV) conv = (int)k;
        cr_assert_geq(conv, 0);
        cr_assert_geq(mi_graph_node(g, (size_t)conv)->fused.residual, 0, "Conv+Add+Relu is fused");
        mi_memory_plan *p = plan(g, 1, NULL);
        const mi_tensor_place *a = place(g, p, "a");
        /* The fused conv writes the tensor the Relu after it would have. */
        const mi_tensor *co = mi_graph_tensor(g, (size_t)mi_graph_node(g, (size_t)conv)->outputs[0]);
        const mi_tensor_place *c = place(g, p, co->name);
        int same = a->pool == c->pool && a->offset == c->offset;
        if (reads) cr_assert(!same, "the conv would overwrite its own input");
        else cr_assert(same, "the residual's bytes should be reused in place");
        mi_memory_plan_destroy(p);
        mi_graph_destroy(g);
    }
}

static void collect(void *user, const char *msg) {
    char *buf = user;
    strncat(buf, msg, 4095 - strlen(buf));
    strncat(buf, "\n", 4095 - strlen(buf));
}

Test(memplan, verbose_names_the_decisions) {
    mi_graph *g = chain();
    mi_planner *pl;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    static char log[4096];
    log[0] = '\0';
    mi_planner_set_verbose(pl, 1, collect, log);
    mi_memory_plan *p;
    cr_assert_eq(mi_planner_plan(pl, g, NULL, &p), MI_OK);
    cr_assert(strstr(log, "in-place: node 1 (r1) writes 'b' over 'a'") != NULL, "%s", log);
    cr_assert(strstr(log, "planned") != NULL, "%s", log);
    mi_memory_plan_destroy(p);
    log[0] = '\0';
    mi_planner_set_verbose(pl, 0, collect, log);
    cr_assert_eq(mi_planner_plan(pl, g, NULL, &p), MI_OK);
    cr_assert_eq(log[0], '\0', "silent when not verbose");
    mi_memory_plan_destroy(p);
    mi_planner_destroy(pl);
    mi_graph_destroy(g);
}

static void allocation_failures(mi_graph *g) {
    mi_planner *pl;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    int64_t before = mi__alloc_outstanding();
    for (uint64_t k = 1;; k++) {
        mi_memory_plan *p = NULL;
        mi__alloc_fail_at(k);
        mi_status st = mi_planner_plan(pl, g, NULL, &p);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        if (!fired) {
            cr_assert_eq(st, MI_OK);
            mi_memory_plan_destroy(p);
            break;
        }
        cr_assert_eq(st, MI_ERR_NO_MEMORY, "failure %llu gave %s", (unsigned long long)k, mi_status_name(st));
        cr_assert_null(p);
        cr_assert_eq(mi__alloc_outstanding(), before, "leak after failure %llu", (unsigned long long)k);
    }
    mi_planner_destroy(pl);
    mi_graph_destroy(g);
}

Test(memplan, allocation_failures_are_clean) {
    allocation_failures(chain());
    allocation_failures(shared_weights());
}

Test(memplan, null_arguments) {
    mi_memory_plan *p;
    cr_assert_eq(mi_planner_plan(NULL, NULL, NULL, &p), MI_ERR_INVALID_ARG);
    mi_memory_plan_destroy(NULL);
    mi_planner_destroy(NULL);
}

/* ---- the pool limit ------------------------------------------------------------ */

static mi_status plan_limited(const mi_graph *g, size_t limit, mi_memory_plan **p) {
    mi_planner *pl;
    cr_assert_eq(mi_planner_create(&pl), MI_OK);
    mi_plan_options o = *mi_planner_options(pl);
    o.max_pool = limit;
    cr_assert_eq(mi_planner_set_options(pl, &o), MI_OK);
    int64_t before = mi__alloc_outstanding();
    mi_status st = mi_planner_plan(pl, g, NULL, p);
    if (st) cr_assert_eq(mi__alloc_outstanding(), before, "a refused plan leaks nothing");
    mi_planner_destroy(pl);
    return st;
}

/* A small file can ask for 2 TiB of inputs/outputs: refused while planning,
 * naming the pool, the tensor and the limit, before anything is allocated. */
Test(memplan, pools_over_the_limit_are_refused) {
    mi_graph *g = new_graph();
    input(g, "x", 2, (int64_t[]){(int64_t)1 << 37, 4}); /* 2^39 floats: 2 TiB */
    node(g, "Relu", "r", "x", NULL, "y", 0, NULL);
    output(g, "y");
    finalize(g);
    mi_memory_plan *p = NULL;
    cr_assert_eq(plan_limited(g, 0, &p), MI_ERR_CAPACITY, "the default limit (1 TiB)");
    cr_assert(strstr(mi_last_error(), "io pool") && strstr(mi_last_error(), "'x'") &&
              strstr(mi_last_error(), "1099511627776") && strstr(mi_last_error(), "max_pool"), "%s", mi_last_error());
    cr_assert_null(p);
    mi_graph_destroy(g);
    /* the arena: the chain's 512 bytes over a 256-byte limit; at 512 it plans */
    g = chain();
    cr_assert_eq(plan_limited(g, 256, &p), MI_ERR_CAPACITY);
    cr_assert(strstr(mi_last_error(), "pool needs 512 bytes"), "%s", mi_last_error());
    cr_assert_eq(plan_limited(g, 512, &p), MI_OK, "%s", mi_last_error());
    mi_memory_plan_destroy(p);
    mi_graph_destroy(g);
}
