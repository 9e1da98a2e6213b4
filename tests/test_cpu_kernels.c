/* The shared per-element functions (src/kernels/elementwise.h) on known
 * values, the broadcasting index helper against plain numpy rules, the
 * CPU backend's aligned memory, thread pool and ops table, and allocation
 * failure injection over mi_backend_cpu_create and alloc. */
#include "common/alloc_hook.h"
#include "cpu_test_util.h"
#include "kernels/elementwise.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

Test(cpu_kernels, activations) {
    cr_assert_eq(mi_k_relu(-3.0f), 0.0f);
    cr_assert_eq(mi_k_relu(2.5f), 2.5f);
    cr_assert(isnan(mi_k_relu(NAN)), "a NaN goes through relu");
    cr_assert_eq(mi_k_clip(-3.0f, -1.0f, 6.0f), -1.0f);
    cr_assert_eq(mi_k_clip(7.0f, -1.0f, 6.0f), 6.0f);
    cr_assert_eq(mi_k_clip(0.5f, -INFINITY, INFINITY), 0.5f);
    cr_assert(isnan(mi_k_clip(NAN, 0.0f, 1.0f)));
    for (float x = -20.0f; x <= 20.0f; x += 0.5f)
        cr_assert_float_eq(mi_k_sigmoid(x), (float)(1.0 / (1.0 + exp(-(double)x))), 1e-6, "sigmoid(%g)", x);
    cr_assert_eq(mi_k_sigmoid(-1000.0f), 0.0f);
    cr_assert_eq(mi_k_sigmoid(1000.0f), 1.0f);
    cr_assert_float_eq(mi_k_hard_sigmoid(1.0f, 0.2f, 0.5f), 0.7f, 1e-7);
    cr_assert_eq(mi_k_hard_sigmoid(10.0f, 0.2f, 0.5f), 1.0f);
    cr_assert_eq(mi_k_hard_sigmoid(-10.0f, 0.2f, 0.5f), 0.0f);
    cr_assert_float_eq(mi_k_hard_swish(1.0f), 1.0f * (1.0f / 6.0f + 0.5f), 1e-7);
    cr_assert_eq(mi_k_hard_swish(-4.0f), -0.0f);
    cr_assert_eq(mi_k_hard_swish(4.0f), 4.0f);
}

Test(cpu_kernels, arithmetic_and_epilogue) {
    cr_assert_eq(mi_k_add(1.5f, 2.0f), 3.5f);
    cr_assert_eq(mi_k_sub(1.5f, 2.0f), -0.5f);
    cr_assert_eq(mi_k_mul(1.5f, 2.0f), 3.0f);
    cr_assert_eq(mi_k_div(1.5f, 2.0f), 0.75f);
    cr_assert_eq(mi_k_div_i64(-7, 2), -3);
    cr_assert_eq(mi_k_div_i64(7, 0), 0);
    cr_assert_eq(mi_k_div_i64(INT64_MIN, -1), INT64_MIN);
    cr_assert_eq(mi_k_add_i64(INT64_MAX, 1), INT64_MIN);
    cr_assert_eq(mi_k_mul_i32(65536, 65536), 0);
    cr_assert_eq(mi_k_div_i32(INT32_MIN, -1), INT32_MIN);
    cr_assert_eq(mi_k_sub_i32(INT32_MIN, 1), INT32_MAX);
    cr_assert_eq(mi_k_conv_epilogue(1.0f, 0.5f, -2.0f, MI_K_ACT_NONE, 0, 0), -0.5f);
    cr_assert_eq(mi_k_conv_epilogue(1.0f, 0.5f, -2.0f, MI_K_ACT_RELU, 0, 0), 0.0f);
    cr_assert_eq(mi_k_conv_epilogue(1.0f, 5.5f, 0.0f, MI_K_ACT_CLIP, 0.0f, 6.0f), 6.0f);
    cr_assert_eq(mi_k_conv_epilogue(1.0f, 2.0f, 0.5f, MI_K_ACT_CLIP, 0.0f, 6.0f), 3.5f);
    float invstd = mi_k_bn_invstd(3.0f, 1.0f);
    cr_assert_float_eq(invstd, 0.5f, 1e-7);
    cr_assert_float_eq(mi_k_batch_norm(5.0f, 1.0f, invstd, 3.0f, -1.0f), 5.0f, 1e-6);
}

static void bcast_case(int na, const int64_t *ad, int nb, const int64_t *bd, int max_merged) {
    mi_k_bcast bc;
    mi_k_bcast_init(&bc, na, ad, nb, bd);
    int r = na > nb ? na : nb;
    int64_t od[MI_K_MAX_DIMS], total = 1, merged = 1;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - na), ib = i - (r - nb);
        int64_t x = ia >= 0 ? ad[ia] : 1, y = ib >= 0 ? bd[ib] : 1;
        od[i] = x == 1 ? y : x;
        total *= od[i];
    }
    for (int i = 0; i < bc.ndim; i++) merged *= bc.dims[i];
    cr_assert_eq(merged, total, "merged dims cover the output");
    cr_assert_leq(bc.ndim, max_merged, "%d dims after merging, expected at most %d", bc.ndim, max_merged);
    for (int64_t i = 0; i < total; i++) {
        cr_assert_eq(mi_k_bcast_offset(&bc, 0, i), ref_bcast_offset(i, r, od, na, ad), "a at %lld", (long long)i);
        cr_assert_eq(mi_k_bcast_offset(&bc, 1, i), ref_bcast_offset(i, r, od, nb, bd), "b at %lld", (long long)i);
    }
}

Test(cpu_kernels, broadcast_index_helper) {
    int64_t nchw[4] = {2, 3, 4, 5}, c11[3] = {3, 1, 1}, one[1] = {1}, col[2] = {3, 1}, row[2] = {1, 4};
    int64_t mid[4] = {2, 1, 4, 1}, ones[3] = {1, 1, 1};
    bcast_case(4, nchw, 4, nchw, 1);   /* same shape: one flat dim */
    bcast_case(4, nchw, 3, c11, 3);    /* per channel: [N, C, HW] */
    bcast_case(4, nchw, 0, one, 1);    /* scalar */
    bcast_case(2, col, 2, row, 2);
    bcast_case(4, mid, 4, nchw, 4);
    bcast_case(3, ones, 1, one, 1);    /* all ones: one dim of 1 */
    int64_t dims[3] = {2, 3, 4}, strides[3] = {0, 4, 1};
    cr_assert_eq(mi_k_strided_offset(3, dims, strides, 23), 2 * 4 + 3);
}

/* ---- backend plumbing ------------------------------------------------------------------------ */

Test(cpu_backend, ops_table_and_memory) {
    mi_backend *b;
    cr_assert_eq(mi_backend_cpu_create(NULL, &b), MI_OK, "%s", mi_last_error());
    cr_assert_str_eq(b->ops->name, "cpu");
    cr_assert_eq(b->ops->host_memory, 1);
    size_t sizes[3] = {1, 1000, 1 << 20};
    for (int i = 0; i < 3; i++) {
        void *p = NULL;
        cr_assert_eq(b->ops->alloc(b, sizes[i], "test pool", &p), MI_OK);
        cr_assert_eq((uintptr_t)p % 256, 0, "alignment of a %zu-byte pool", sizes[i]);
        memset(p, 0x5A, sizes[i]);
        unsigned char host[16] = {1, 2, 3};
        cr_assert_eq(b->ops->upload(b, p, host, 1), MI_OK);
        cr_assert_eq(((unsigned char *)p)[0], 1);
        cr_assert_eq(b->ops->download(b, host + 5, p, 1), MI_OK);
        cr_assert_eq(host[5], 1);
        b->ops->free(b, p);
    }
    void *p;
    cr_assert_eq(b->ops->alloc(b, SIZE_MAX - 8, "huge pool", &p), MI_ERR_NO_MEMORY);
    cr_assert(strstr(mi_last_error(), "huge pool"), "%s", mi_last_error());
    mi_backend_close(b);
    mi_backend_close(NULL);
}

typedef struct pool_check {
    _Atomic int64_t hits[1000];
    _Atomic int threads_seen[MI__CPU_MAX_THREADS];
} pool_check;

static void count_task(void *arg, int64_t t, int thread) {
    pool_check *c = arg;
    atomic_fetch_add(&c->hits[t], 1);
    atomic_store(&c->threads_seen[thread], 1);
}

/* Regions back to back (the workers still spinning) and after pauses
 * longer than the spin (asleep on the condition variable), with as many
 * threads as the machine has and with more (8). */
static void pool_rounds(int want_threads) {
    mi_backend *b;
    cr_assert_eq(mi_backend_cpu_create(NULL, &b), MI_OK);
    mi__cpu *cpu = b->state;
    if (want_threads) cr_assert_eq(cpu->nthreads, want_threads);
    cr_assert_geq(cpu->nthreads, 1);
    cr_assert_leq(cpu->nthreads, MI__CPU_MAX_THREADS);
    for (int rep = 0; rep < 50; rep++) {
        static pool_check c;
        memset(&c, 0, sizeof c);
        int64_t n = 1 + rep * 20;
        if (rep % 10 == 9) usleep(2000);
        mi__cpu_parallel(cpu, n, MI__CPU_MIN_PARALLEL_WORK, count_task, &c);
        for (int64_t t = 0; t < n; t++) cr_assert_eq(atomic_load(&c.hits[t]), 1, "task %lld", (long long)t);
        for (int i = cpu->nthreads; i < MI__CPU_MAX_THREADS; i++) cr_assert_eq(atomic_load(&c.threads_seen[i]), 0);
    }
    mi_backend_close(b);
}

Test(cpu_backend, thread_pool_runs_every_task_once) {
    pool_rounds(0);
}

Test(cpu_backend, thread_pool_oversubscribed) {
    cr_assert_eq(setenv("MI_CPU_THREADS", "8", 1), 0);
    pool_rounds(8);
}

/* ---- allocation failure injection --------------------------------------------------------- */

Test(cpu_alloc, failure_injection_over_create_and_alloc) {
    int64_t base = mi__alloc_outstanding();
    int fired_any = 0;
    for (uint64_t n = 1; n < 64; n++) {
        mi__alloc_fail_at(n);
        mi_backend *b = NULL;
        mi_status st = mi_backend_cpu_create(NULL, &b);
        void *p = NULL;
        if (st == MI_OK) st = b->ops->alloc(b, 4096, "arena", &p);
        int fired = mi__alloc_failed();
        mi__alloc_fail_at(0);
        if (fired) {
            fired_any = 1;
            cr_assert_eq(st, MI_ERR_NO_MEMORY, "allocation %llu failed: got %s", (unsigned long long)n,
                         mi_status_name(st));
            cr_assert(mi_last_error()[0], "the failure has a message");
        } else {
            cr_assert_eq(st, MI_OK, "%s", mi_last_error());
        }
        if (p) b->ops->free(b, p);
        mi_backend_close(b);
        cr_assert_eq(mi__alloc_outstanding(), base, "leak after failing allocation %llu",
                     (unsigned long long)n);
        if (!fired) break;
    }
    cr_assert(fired_any, "no allocation was ever made");
}

/* ---- no allocation while running; contexts sharing one backend ------------------------ */

#include "mini_infer/runtime.h"

#include <pthread.h>

/* x [1, 8, 12, 12] -> Conv 3x3 (+ bias, Relu) -> MaxPool -> Gemm-free tail:
 * GlobalAveragePool -> Flatten -> MatMul [8, 5] -> Softmax. */
static mi_graph *small_net(float *w, float *b, float *fc) {
    mi_graph *g;
    cr_assert_eq(mi_graph_create(&g), MI_OK);
    int64_t xd[4] = {1, 8, 12, 12}, wd[4] = {8, 8, 3, 3}, bd[1] = {8}, fd[2] = {8, 5};
    cr_assert_eq(mi_graph_add_tensor(g, "x", MI_DTYPE_FLOAT, 4, xd, MI_ROLE_INPUT, NULL, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "w", MI_DTYPE_FLOAT, 4, wd, MI_ROLE_WEIGHT, w, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "b", MI_DTYPE_FLOAT, 1, bd, MI_ROLE_WEIGHT, b, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "fc", MI_DTYPE_FLOAT, 2, fd, MI_ROLE_WEIGHT, fc, NULL), MI_OK);
    mi_attr pads = A_ints("pads", 4, (int64_t[]){1, 1, 1, 1}), ks = A_ints("kernel_shape", 2, (int64_t[]){2, 2}),
            st = A_ints("strides", 2, (int64_t[]){2, 2});
    const char *in_c[] = {"x", "w", "b"}, *out_c[] = {"c"};
    const char *in_r[] = {"c"}, *out_r[] = {"r"};
    const char *in_p[] = {"r"}, *out_p[] = {"p"};
    const char *in_g[] = {"p"}, *out_g[] = {"gp"};
    const char *in_f[] = {"gp"}, *out_f[] = {"f"};
    const char *in_m[] = {"f", "fc"}, *out_m[] = {"m"};
    const char *in_s[] = {"m"}, *out_s[] = {"y"};
    cr_assert_eq(mi_graph_add_node(g, "Conv", "conv", 3, in_c, 1, out_c, 1, &pads), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Relu", "relu", 1, in_r, 1, out_r, 0, NULL), MI_OK);
    mi_attr pa[2] = {ks, st};
    cr_assert_eq(mi_graph_add_node(g, "MaxPool", "pool", 1, in_p, 1, out_p, 2, pa), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "GlobalAveragePool", "gap", 1, in_g, 1, out_g, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Flatten", "flat", 1, in_f, 1, out_f, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "MatMul", "mm", 2, in_m, 1, out_m, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_node(g, "Softmax", "sm", 1, in_s, 1, out_s, 0, NULL), MI_OK);
    cr_assert_eq(mi_graph_add_tensor(g, "y", MI_DTYPE_UNDEFINED, 0, NULL, MI_ROLE_OUTPUT, NULL, NULL), MI_OK);
    cr_assert_eq(mi_graph_finalize(g, NULL), MI_OK, "%s", mi_last_error());
    return g;
}

typedef struct ctx_job {
    mi_model *m;
    const float *x;
    float y[5];
    mi_status st;
} ctx_job;

static void *ctx_thread(void *arg) {
    ctx_job *j = arg;
    mi_context *c = NULL;
    j->st = mi_context_create(j->m, NULL, 0, &c);
    const void *ins[1] = {j->x};
    void *outs[1] = {j->y};
    for (int r = 0; r < 30 && j->st == MI_OK; r++) j->st = mi_context_run(c, ins, outs);
    mi_context_destroy(c);
    return NULL;
}

Test(cpu_backend, run_allocates_nothing_and_contexts_share_the_pool) {
    mi_rng rng = {42};
    float *w = rand_floats(&rng, 576), *b = rand_floats(&rng, 8), *fc = rand_floats(&rng, 40);
    float *x = rand_floats(&rng, 1152);
    mi_model *m = NULL;
    cr_assert_eq(mi_model_create(small_net(w, b, fc), NULL, &m), MI_OK, "%s", mi_last_error());
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    float y0[5];
    const void *ins[1] = {x};
    void *outs[1] = {y0};
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    mi__alloc_fail_at(0); /* resets the count */
    cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi__alloc_count(), 0, "a run made %llu allocations", (unsigned long long)mi__alloc_count());
    double sum = 0;
    for (int i = 0; i < 5; i++) sum += y0[i];
    cr_assert_float_eq(sum, 1.0, 1e-5, "softmax sums to 1");
    mi_context_destroy(c);
    /* Two threads, one context each, one shared backend and pool. */
    ctx_job jobs[2] = {{m, x, {0}, MI_OK}, {m, x, {0}, MI_OK}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&th[i], NULL, ctx_thread, &jobs[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(jobs[i].st, MI_OK, "thread %d: %s", i, mi_status_name(jobs[i].st));
        for (int k = 0; k < 5; k++) cr_assert_eq(jobs[i].y[k], y0[k], "thread %d output %d", i, k);
    }
    mi_model_destroy(m);
    free(w);
    free(b);
    free(fc);
    free(x);
}
