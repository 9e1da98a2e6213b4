/* The engine: models and contexts on the CPU backend, caller-owned arenas,
 * shared models, poison mode catching a kernel that writes outside its
 * tensor, and allocation failures at every point of build and run. */
#include "common/alloc_hook.h"
#include "as_device.h"
#include "mini_infer/cuda.h"
#include "mini_infer/runtime.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 64

/* x[1,64] -> Sigmoid a -> Relu b -> Add(b, w) c -> Sigmoid y */
static mi_graph *small_graph(void) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 2, (int64_t[]){1, N}, MI_ROLE_INPUT, NULL, NULL), MI_OK);
    float w[N];
    for (int i = 0; i < N; i++) w[i] = (float)i / N;
    cr_assert_eq(mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 2, (int64_t[]){1, N}, MI_ROLE_WEIGHT, w, NULL), MI_OK);
    const char *s1[] = {"x"}, *o1[] = {"a"}, *s2[] = {"a"}, *o2[] = {"b"}, *s3[] = {"b", "w"}, *o3[] = {"c"},
               *s4[] = {"c"}, *o4[] = {"y"};
    cr_assert_eq(mi_graph_add_node(g, "Sigmoid", "sig", 1, s1, 1, o1, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Relu", "relu", 1, s2, 1, o2, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Add", "add", 2, s3, 1, o3, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Sigmoid", "out", 1, s4, 1, o4, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "y", MI_DTYPE_FLOAT, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    cr_assert_eq(mi_graph_finalize(g, NULL), MI_OK, "%s", mi_last_error());
    return g;
}

static float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

static void expected(const float *x, float *y) {
    for (int i = 0; i < N; i++) {
        float a = sigm(x[i]);
        float b = a > 0 ? a : 0;
        y[i] = sigm(b + (float)i / N);
    }
}

static void check_run(mi_context *c) {
    float x[N], y[N], ref[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - 32) / 8.0f;
    const void *in[] = {x};
    void *out[] = {y};
    cr_assert_eq(mi_context_run(c, in, out), MI_OK, "%s", mi_last_error());
    expected(x, ref);
    for (int i = 0; i < N; i++) cr_assert_float_eq(y[i], ref[i], 1e-6, "y[%d]", i);
}

Test(runtime, model_and_context) {
    mi_model *m;
    cr_assert_eq(mi_model_create(small_graph(), NULL, &m), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_model_input_count(m), 1);
    cr_assert_eq(mi_model_output_count(m), 1);
    cr_assert_eq(mi_model_find_input(m, "x"), 0);
    cr_assert_eq(mi_model_find_output(m, "y"), 0);
    cr_assert_eq(mi_model_find_input(m, "nope"), -1);
    cr_assert_str_eq(mi_model_input(m, 0)->name, "x");
    cr_assert_null(mi_model_input(m, 1));
    cr_assert_eq(mi_model_arena_size(m), 256, "a, b, c share one buffer in place");
    mi_context *c;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK);
    check_run(c);
    check_run(c);
    cr_assert_not_null(mi_context_tensor_ptr(c, (size_t)mi_graph_find_tensor(mi_model_graph(m), "w")));
    cr_assert_null(mi_context_tensor_ptr(c, 9999));
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* In host memory the weights pool's copy serves the graph too (held once):
 * the graph's weights point into the pool, and constants the pool does not
 * hold (a Reshape's shape) keep their values. */
Test(runtime, weights_are_held_once_in_host_memory) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 2, (int64_t[]){1, N}, MI_ROLE_INPUT, NULL, NULL), MI_OK);
    float w[N];
    for (int i = 0; i < N; i++) w[i] = (float)i / N;
    int64_t shape[2] = {1, N};
    cr_assert_eq(mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 1, (int64_t[]){N}, MI_ROLE_WEIGHT, w, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "shape", MI_DTYPE_INT64, 1, (int64_t[]){2}, MI_ROLE_WEIGHT, shape, NULL),
                 MI_OK);
    const char *s1[] = {"w", "shape"}, *o1[] = {"w2"}, *s2[] = {"x", "w2"}, *o2[] = {"y"};
    cr_assert_eq(mi_graph_add_node(g, "Reshape", "reshape", 2, s1, 1, o1, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Add", "add", 2, s2, 1, o2, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "y", MI_DTYPE_FLOAT, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    cr_assert_eq(mi_graph_finalize(g, NULL), MI_OK, "%s", mi_last_error());
    mi_model *m;
    cr_assert_eq(mi_model_create(g, NULL, &m), MI_OK, "%s", mi_last_error());
    mi_context *c;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    const mi_graph *mg = mi_model_graph(m);
    /* Folding turns the Reshape of a weight into a weight of its own. */
    int tw = mi_graph_find_tensor(mg, "w2"), ts = mi_graph_find_tensor(mg, "shape");
    cr_assert(tw >= 0 && mi_graph_tensor(mg, (size_t)tw)->role == MI_ROLE_WEIGHT);
    const float *wd = mi_graph_tensor(mg, (size_t)tw)->data;
    cr_assert_eq((const void *)wd, mi_context_tensor_ptr(c, (size_t)tw), "the graph's weight is the pool's copy");
    for (int i = 0; i < N; i++) cr_assert_eq(wd[i], (float)i / N, "w[%d]", i);
    if (ts >= 0 && mi_graph_tensor(mg, (size_t)ts)->data) {
        const int64_t *sd = mi_graph_tensor(mg, (size_t)ts)->data;
        cr_assert(sd[0] == 1 && sd[1] == N, "shape kept its values: %lld %lld", (long long)sd[0], (long long)sd[1]);
    }
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)i;
    const void *in[] = {x};
    void *out[] = {y};
    cr_assert_eq(mi_context_run(c, in, out), MI_OK, "%s", mi_last_error());
    for (int i = 0; i < N; i++) cr_assert_float_eq(y[i], (float)i + (float)i / N, 1e-6, "y[%d]", i);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* On a device (here the CPU backend with host_memory 0) the host keeps no
 * copy of the weights once uploaded: the graph's weights lose their data,
 * while values read at run time stay (without folding, a Constant node
 * whose value is a tensor attribute), and the model still computes
 * y = x + reshape(w) + c. */
Test(runtime, weights_leave_host_memory_on_a_device) {
    mi_backend *host;
    cr_assert_eq(mi_backend_cpu_create(NULL, &host), MI_OK);
    mi_backend_ops ops;
    mi_backend dev = mi_test_as_device(host, &ops);
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 2, (int64_t[]){1, N}, MI_ROLE_INPUT, NULL, NULL), MI_OK);
    float w[N], cv[N];
    for (int i = 0; i < N; i++) w[i] = (float)i / N, cv[i] = 100.0f + (float)i;
    int64_t shape[2] = {1, N};
    cr_assert_eq(mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 1, (int64_t[]){N}, MI_ROLE_WEIGHT, w, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "shape", MI_DTYPE_INT64, 1, (int64_t[]){2}, MI_ROLE_WEIGHT, shape, NULL),
                 MI_OK);
    int cvt;
    cr_assert_eq(mi_graph_add_tensor(g, "cv", MI_DTYPE_FLOAT, 2, (int64_t[]){1, N}, MI_ROLE_WEIGHT, cv, &cvt), MI_OK);
    mi_attr value = {.name = "value", .type = MI_ATTR_TENSOR, .tensor = cvt};
    const char *s1[] = {"w", "shape"}, *o1[] = {"w2"}, *s2[] = {"x", "w2"}, *o2[] = {"a"}, *o3[] = {"c"},
               *s4[] = {"a", "c"}, *o4[] = {"y"};
    cr_assert_eq(mi_graph_add_node(g, "Reshape", "reshape", 2, s1, 1, o1, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Add", "add", 2, s2, 1, o2, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Constant", "const", 0, NULL, 1, o3, 1, &value), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Add", "add2", 2, s4, 1, o4, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "y", MI_DTYPE_FLOAT, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    mi_load_options lo;
    mi_load_options_init(&lo);
    lo.fold_constants = 0;
    cr_assert_eq(mi_graph_finalize(g, &lo), MI_OK, "%s", mi_last_error());
    mi_model_options o;
    mi_model_options_init(&o);
    o.backend_instance = &dev;
    mi_model *m;
    cr_assert_eq(mi_model_create(g, &o, &m), MI_OK, "%s", mi_last_error());
    const mi_graph *mg = mi_model_graph(m);
    const mi_tensor *wt = mi_graph_tensor(mg, (size_t)mi_graph_find_tensor(mg, "w"));
    const mi_tensor *ct = mi_graph_tensor(mg, (size_t)mi_graph_find_tensor(mg, "cv"));
    cr_assert_eq(mi_memory_plan_tensor(mi_model_plan(m), (size_t)mi_graph_find_tensor(mg, "w"))->pool,
                 MI_POOL_WEIGHTS);
    cr_assert_null(wt->data, "'w' kept its host copy");
    /* The Constant node reads its attribute's bytes while running. */
    cr_assert_not_null(ct->data, "the Constant's value went");
    for (int i = 0; i < N; i++) cr_assert_eq(((const float *)ct->data)[i], cv[i]);
    mi_context *c;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)i;
    const void *in[] = {x};
    void *out[] = {y};
    for (int run = 0; run < 2; run++) {
        memset(y, 0, sizeof y);
        cr_assert_eq(mi_context_run(c, in, out), MI_OK, "%s", mi_last_error());
        for (int i = 0; i < N; i++)
            cr_assert_float_eq(y[i], (float)i + (float)i / N + 100.0f + (float)i, 1e-4, "y[%d]", i);
    }
    mi_context_destroy(c);
    mi_model_destroy(m);
    mi_backend_close(host);
}

Test(runtime, caller_arena_and_shared_model) {
    mi_model *m;
    mi_model_options o;
    mi_model_options_init(&o);
    o.plan.inplace = 0;
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_OK, "%s", mi_last_error());
    size_t need = mi_model_arena_size(m), align = mi_model_arena_alignment(m);
    cr_assert_eq(need, 512);
    unsigned char *mem = aligned_alloc(align, need + align);
    mi_context *c1, *c2, *bad;
    cr_assert_eq(mi_context_create(m, mem, need - 1, &bad), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "smaller") != NULL, "%s", mi_last_error());
    cr_assert_eq(mi_context_create(m, mem + 16, need, &bad), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "aligned") != NULL, "%s", mi_last_error());
    cr_assert_eq(mi_context_create(m, mem, need, &c1), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_create(m, NULL, 0, &c2), MI_OK);
    cr_assert_eq(mi_context_set_poison(c1, 1), MI_OK);
    check_run(c1);
    check_run(c2);
    int a = mi_graph_find_tensor(mi_model_graph(m), "a");
    cr_assert((unsigned char *)mi_context_tensor_ptr(c1, (size_t)a) >= mem &&
              (unsigned char *)mi_context_tensor_ptr(c1, (size_t)a) < mem + need, "activations in the caller's arena");
    cr_assert_neq(mi_context_tensor_ptr(c1, (size_t)a), mi_context_tensor_ptr(c2, (size_t)a));
    int w = mi_graph_find_tensor(mi_model_graph(m), "w");
    cr_assert_eq(mi_context_tensor_ptr(c1, (size_t)w), mi_context_tensor_ptr(c2, (size_t)w), "one weights pool");
    mi_context_destroy(c1);
    mi_context_destroy(c2);
    free(mem);
    mi_model_destroy(m);
}

/* A backend that wraps the CPU one and, at the node named "relu", writes
 * one float past its output. */
static mi_backend *cpu;
static mi_backend_ops evil_ops;

static mi_status evil_run(mi_backend *b, void *ctx, const mi_node_args *a) {
    mi_status st = cpu->ops->run(cpu, ctx, a);
    if (st == MI_OK && strcmp(a->node->name, "relu") == 0) ((float *)a->out[0])[N] = 1.0f;
    return st;
}

Test(runtime, poison_names_a_kernel_writing_outside) {
    cr_assert_eq(mi_backend_cpu_create(NULL, &cpu), MI_OK);
    evil_ops = *cpu->ops;
    evil_ops.run = evil_run;
    evil_ops.destroy = NULL;
    mi_backend evil = {&evil_ops, cpu->state, cpu->options};
    mi_model_options o;
    mi_model_options_init(&o);
    o.backend_instance = &evil;
    o.plan.inplace = 0;
    o.plan.alignment = 512; /* the stray float lands in b's padding, which no tensor owns */
    mi_model *m;
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_OK, "%s", mi_last_error());
    mi_context *c;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK);
    float x[N] = {0}, y[N];
    const void *in[] = {x};
    void *out[] = {y};
    cr_assert_eq(mi_context_run(c, in, out), MI_OK, "without poison the stray write goes unseen");
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK);
    cr_assert_eq(mi_context_run(c, in, out), MI_ERR_POISON);
    cr_assert(strstr(mi_last_error(), "node 'relu' (Relu)") != NULL, "%s", mi_last_error());
    mi_context_destroy(c);
    mi_model_destroy(m);
    mi_backend_close(cpu);
}

Test(runtime, bad_arguments) {
    mi_model *m;
    mi_context *c;
    cr_assert_eq(mi_model_create(NULL, NULL, &m), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_context_create(NULL, NULL, 0, &c), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_context_run(NULL, NULL, NULL), MI_ERR_INVALID_ARG);
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = "tpu";
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "tpu") != NULL);
    o.device = NULL;
    o.plan.solve.threads = -2;
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "threads -2") != NULL, "%s", mi_last_error());
    o.plan.solve.threads = 2;
    o.plan.solve.strategy = MI_STRATEGY_EXACT;
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_OK, "%s", mi_last_error());
    size_t arena = mi_model_arena_size(m);
    mi_model_destroy(m);
    /* A capacity in the model's plan options: the arena must fit it. */
    cr_assert_gt(arena, 0);
    o.plan.solve.capacity = arena - 1;
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_ERR_CAPACITY);
    cr_assert(strstr(mi_last_error(), "capacity") != NULL, "%s", mi_last_error());
    o.plan.solve.capacity = arena;
    cr_assert_eq(mi_model_create(small_graph(), &o, &m), MI_OK, "%s", mi_last_error());
    mi_model_destroy(m);
    cr_assert_eq(mi_model_create(small_graph(), NULL, &m), MI_OK);
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK);
    cr_assert_eq(mi_context_run(c, NULL, NULL), MI_ERR_INVALID_ARG);
    const void *in[] = {NULL};
    float y[N];
    void *out[] = {y};
    cr_assert_eq(mi_context_run(c, in, out), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "'x'") != NULL, "%s", mi_last_error());
    mi_context_destroy(c);
    mi_model_destroy(m);
    mi_model_destroy(NULL);
    mi_context_destroy(NULL);
}

/* cuda.h's requests on the CPU backend: an error that names the backend. */
Test(runtime, cuda_requests_on_the_cpu_backend_are_unsupported) {
    mi_model *m;
    mi_context *c;
    cr_assert_eq(mi_model_create(small_graph(), NULL, &m), MI_OK);
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK);
    mi_cuda_device_info info;
    cr_assert_eq(mi_cuda_device_info_get(mi_model_backend(m), &info), MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "'cpu'") != NULL, "%s", mi_last_error());
    float ms;
    cr_assert_eq(mi_context_timer_stop(c, &ms), MI_ERR_UNSUPPORTED);
    cr_assert(strstr(mi_last_error(), "'cpu'") != NULL, "%s", mi_last_error());
    cr_assert_eq(mi_context_set_stream(c, NULL), MI_ERR_UNSUPPORTED);
    cr_assert_eq(mi_context_control(NULL, MI_CUDA_REQ_GET_STREAM, NULL), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_context_sync(NULL), MI_ERR_INVALID_ARG);
    cr_assert_eq(mi_context_sync(c), MI_OK, "a synchronous backend has nothing to wait for");
    cr_assert_eq(mi_backend_control(NULL, MI_CUDA_REQ_MEMORY, NULL), MI_ERR_INVALID_ARG);
    /* Execute without waiting is the same as with on a synchronous backend. */
    cr_assert_eq(mi_context_execute(c, 0), MI_OK);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* Built with the backend, it loads and then says there is no GPU; built
 * without, it says it could not be loaded: never "no device" for that. */
Test(runtime, cuda_without_a_library_or_gpu_is_a_clear_error) {
    mi_backend *b = NULL;
    mi_status st = mi_backend_open("cuda:0", NULL, &b);
    if (st == MI_OK) {
        mi_backend_close(b);
        cr_skip_test("a usable GPU is present");
    }
    cr_assert_eq(st, MI_TEST_CUDA_BUILT ? MI_ERR_NO_DEVICE : MI_ERR_BACKEND, "%s: %s", mi_status_name(st),
                 mi_last_error());
    cr_assert(strstr(mi_last_error(), "cuda:0") != NULL || strstr(mi_last_error(), "'cuda") != NULL, "%s",
              mi_last_error());
    if (!MI_TEST_CUDA_BUILT) cr_assert(strstr(mi_last_error(), "not found") != NULL, "%s", mi_last_error());
    cr_assert_eq(mi_backend_open("cuda:x", NULL, &b), MI_ERR_INVALID_ARG);
}

/* Fails the k-th allocation, for k = 1, 2, ... until a build and run
 * completes: each failure must give MI_ERR_NO_MEMORY and leak nothing.
 * device: a backend outside host memory, or NULL for the CPU one. */
static void allocation_failures(mi_backend *device) {
    int64_t before = mi__alloc_outstanding();
    mi_model_options o;
    mi_model_options_init(&o);
    o.backend_instance = device;
    for (uint64_t k = 1;; k++) {
        mi_graph *g = small_graph(); /* built before injection starts */
        mi_model *m = NULL;
        mi_context *c = NULL;
        mi__alloc_fail_at(k);
        mi_status st = mi_model_create(g, &o, &m);
        if (st == MI_OK) st = mi_context_create(m, NULL, 0, &c);
        if (st == MI_OK && !device) st = mi_context_set_poison(c, 1);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        if (!fired) {
            cr_assert_eq(st, MI_OK, "%s", mi_last_error());
            check_run(c);
        } else {
            cr_assert_eq(st, MI_ERR_NO_MEMORY, "failure %llu gave %s: %s", (unsigned long long)k,
                         mi_status_name(st), mi_last_error());
        }
        mi_context_destroy(c);
        mi_model_destroy(m);
        cr_assert_eq(mi__alloc_outstanding(), before, "leak after failure %llu", (unsigned long long)k);
        if (!fired) break;
    }
}

Test(runtime, allocation_failures_are_clean) { allocation_failures(NULL); }

/* The same where the weights leave host memory once uploaded. */
Test(runtime, allocation_failures_are_clean_on_a_device) {
    mi_backend *host;
    cr_assert_eq(mi_backend_cpu_create(NULL, &host), MI_OK);
    mi_backend_ops ops;
    mi_backend dev = mi_test_as_device(host, &ops);
    allocation_failures(&dev);
    mi_backend_close(host);
}

/* Concat(a, Identity(a)): both inputs are a's bytes, so their producers
 * cannot each write a slice of the output; the concat must run (it once
 * was elided, leaving the second half unwritten). */
Test(runtime, concat_of_a_tensor_and_its_view_is_copied) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 2, (int64_t[]){1, N}, MI_ROLE_INPUT, NULL, NULL), MI_OK);
    const char *s1[] = {"x"}, *o1[] = {"a"}, *s2[] = {"a"}, *o2[] = {"v"}, *s3[] = {"a", "v"}, *o3[] = {"c"},
               *s4[] = {"c"}, *o4[] = {"y"};
    mi_attr axis = {.name = "axis", .type = MI_ATTR_INT, .i = 1};
    cr_assert_eq(mi_graph_add_node(g, "Sigmoid", "sig", 1, s1, 1, o1, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Identity", "view", 1, s2, 1, o2, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Concat", "cat", 2, s3, 1, o3, 1, &axis), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Relu", "out", 1, s4, 1, o4, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "y", MI_DTYPE_FLOAT, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    cr_assert_eq(mi_graph_finalize(g, NULL), MI_OK, "%s", mi_last_error());
    mi_model *m;
    mi_context *c;
    cr_assert_eq(mi_model_create(g, NULL, &m), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK);
    cr_assert_eq(mi_context_set_poison(c, 1), MI_OK);
    cr_assert_not(mi_memory_plan_node_elided(mi_model_plan(m), 2), "the concat runs");
    float x[N], y[2 * N];
    for (int i = 0; i < N; i++) x[i] = (float)i - N / 2;
    const void *in[] = {x};
    void *out[] = {y};
    cr_assert_eq(mi_context_run(c, in, out), MI_OK, "%s", mi_last_error());
    for (int i = 0; i < 2 * N; i++)
        cr_assert_float_eq(y[i], sigm(x[i % N]), 1e-6, "y[%d] = %g, expected %g", i, y[i], sigm(x[i % N]));
    mi_context_destroy(c);
    mi_model_destroy(m);
}
