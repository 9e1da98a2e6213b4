/* The CPU reference backend: its ops table, aligned host memory, the
 * thread pool, prepare() (workspace sizes and the checks that a node can
 * run) and run() (one node, dispatched to its op family's file).
 *
 * The pool is created once per backend: nthreads - 1 workers sleeping on
 * a condition variable, and the calling thread as worker 0. A parallel
 * region is claimed with a trylock, so two contexts sharing one backend
 * never wait on each other: the second simply runs its tasks alone. */
#define _POSIX_C_SOURCE 200809L
#include "cpu_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(MI_K_ACT_NONE == (int)MI_ACT_NONE && MI_K_ACT_RELU == (int)MI_ACT_RELU &&
                   MI_K_ACT_CLIP == (int)MI_ACT_CLIP,
               "kernels/elementwise.h activation codes must match mi_act");
_Static_assert(MI_K_MAX_DIMS == MI_MAX_DIMS, "kernels/elementwise.h rank limit must match graph.h");
_Static_assert(MI_K_DT_FLOAT == MI_DTYPE_FLOAT && MI_K_DT_UINT8 == MI_DTYPE_UINT8 && MI_K_DT_INT8 == MI_DTYPE_INT8 &&
                   MI_K_DT_UINT16 == MI_DTYPE_UINT16 && MI_K_DT_INT16 == MI_DTYPE_INT16 &&
                   MI_K_DT_INT32 == MI_DTYPE_INT32 && MI_K_DT_INT64 == MI_DTYPE_INT64 && MI_K_DT_BOOL == MI_DTYPE_BOOL &&
                   MI_K_DT_FLOAT16 == MI_DTYPE_FLOAT16 && MI_K_DT_DOUBLE == MI_DTYPE_DOUBLE &&
                   MI_K_DT_BFLOAT16 == MI_DTYPE_BFLOAT16,
               "kernels/cast.h dtype codes must match graph.h");

/* ---- errors ---------------------------------------------------------------------- */

static mi_status node_verr(const mi_node *n, mi_status st, const char *fmt, va_list ap) {
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return mi__error(st, "cpu backend: " MI__NODE_FMT ": %s", MI__NODE_ARG(n), msg);
}

mi_status mi__cpu_node_err(const mi_node *n, mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    st = node_verr(n, st, fmt, ap);
    va_end(ap);
    return st;
}

mi_status mi__cpu_err(const mi__cpu_call *c, mi_status st, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    st = node_verr(c->n, st, fmt, ap);
    va_end(ap);
    return st;
}

/* ---- aligned memory through the allocation hook ------------------------------- */

void *mi__cpu_aligned_alloc(size_t bytes, size_t align) {
    size_t total;
    if (!mi__alignment_valid(align) || align < sizeof(void *)) return NULL;
    if (!mi__add_size(bytes, align, &total) || !mi__add_size(total, sizeof(void *), &total))
        return NULL;
    char *raw = mi__malloc(total);
    if (!raw) return NULL;
    uintptr_t u = (uintptr_t)(raw + sizeof(void *));
    u = (u + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)u)[-1] = raw;
    return (void *)u;
}

void mi__cpu_aligned_free(void *p) {
    if (p) mi__free(((void **)p)[-1]);
}

/* ---- the thread pool ------------------------------------------------------------ */

typedef struct pool_worker {
    mi__cpu_pool *pool;
    int index;
} pool_worker;

struct mi__cpu_pool {
    int nthreads; /* including the caller */
    int started;  /* workers running */
    pthread_t *threads;
    pool_worker *workers;
    pthread_mutex_t busy; /* held for a whole parallel region */
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    /* Written under lock; read without it by the spins below. */
    _Atomic uint64_t gen;
    _Atomic int finished;
    int stop;
    mi__cpu_task_fn fn;
    void *arg;
    int64_t ntasks;
    _Atomic int64_t next;
};

static void run_tasks(mi__cpu_pool *p, mi__cpu_task_fn fn, void *arg, int64_t ntasks, int thread) {
    for (;;) {
        int64_t t = atomic_fetch_add(&p->next, 1);
        if (t >= ntasks) return;
        fn(arg, t, thread);
    }
}

/* Waking a sleeping thread costs tens of microseconds, and a model runs
 * one parallel region after another with little between them (MobileNet-
 * V2: about 70 per inference, 2 threads ran it only 1.25x faster than 1).
 * So both sides spin for a short while (MI__CPU_SPIN_NS) before they
 * sleep on the condition variable: a region that follows soon starts at
 * once, and an idle pool still sleeps. */
#define MI__CPU_SPIN_NS 100000

static inline void cpu_relax(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_ia32_pause();
#endif
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Waits (spinning, then yielding the core) until done(p, arg) or the spin
 * time is over; true when done. Yielding keeps an oversubscribed machine
 * (more threads than cores, or other busy processes) from losing the core
 * to a spinner: 8 threads on 2 cores ran MobileNet-V2 3.5x slower with a
 * pure spin, no slower with this one. */
typedef int (*spin_done_fn)(mi__cpu_pool *p, uint64_t arg);

static int spin_wait(mi__cpu_pool *p, spin_done_fn done, uint64_t arg) {
    double end = 0;
    for (unsigned i = 1;; i++) {
        if (done(p, arg)) return 1;
        if (i < 64) {
            cpu_relax();
            continue;
        }
        sched_yield();
        double t = now_ns();
        if (end == 0) end = t + MI__CPU_SPIN_NS;
        else if (t > end) return 0;
    }
}

static int gen_moved(mi__cpu_pool *p, uint64_t seen) {
    return atomic_load_explicit(&p->gen, memory_order_acquire) != seen;
}

static int all_finished(mi__cpu_pool *p, uint64_t unused) {
    (void)unused;
    return atomic_load_explicit(&p->finished, memory_order_acquire) >= p->started;
}

static void *pool_main(void *varg) {
    pool_worker *w = varg;
    mi__cpu_pool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        spin_wait(p, gen_moved, seen);
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->gen) == seen && !p->stop) pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            return NULL;
        }
        seen = atomic_load(&p->gen);
        mi__cpu_task_fn fn = p->fn;
        void *arg = p->arg;
        int64_t ntasks = p->ntasks;
        pthread_mutex_unlock(&p->lock);
        run_tasks(p, fn, arg, ntasks, w->index);
        pthread_mutex_lock(&p->lock);
        if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_release) + 1 == p->started)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->lock);
    }
}

void mi__cpu_pool_destroy(mi__cpu_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->started; i++) pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->busy);
    mi__free(p->threads);
    mi__free(p->workers);
    mi__free(p);
}

mi_status mi__cpu_pool_create(int nthreads, mi__cpu_pool **out) {
    *out = NULL;
    mi__cpu_pool *p = mi__calloc(1, sizeof *p);
    if (!p) return mi__error(MI_ERR_NO_MEMORY, "cpu backend: thread pool");
    p->nthreads = nthreads;
    size_t nw = nthreads > 1 ? (size_t)nthreads - 1 : 1;
    p->threads = mi__calloc(nw, sizeof *p->threads);
    p->workers = mi__calloc(nw, sizeof *p->workers);
    if (!p->threads || !p->workers) {
        mi__free(p->threads);
        mi__free(p->workers);
        mi__free(p);
        return mi__error(MI_ERR_NO_MEMORY, "cpu backend: thread pool of %d threads", nthreads);
    }
    pthread_mutex_init(&p->busy, NULL);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->gen, 0);
    atomic_init(&p->finished, 0);
    for (int i = 0; i + 1 < nthreads; i++) {
        p->workers[i] = (pool_worker){p, i + 1};
        int rc = pthread_create(&p->threads[i], NULL, pool_main, &p->workers[i]);
        if (rc != 0) {
            mi__cpu_pool_destroy(p);
            return mi__error(MI_ERR_BACKEND, "cpu backend: starting worker thread %d of %d failed (%s)",
                             i + 1, nthreads - 1, strerror(rc));
        }
        p->started++;
    }
    *out = p;
    return MI_OK;
}

void mi__cpu_parallel(mi__cpu *cpu, int64_t ntasks, int64_t work, mi__cpu_task_fn fn, void *arg) {
    mi__cpu_pool *p = cpu->pool;
    if (ntasks <= 0) return;
    if (!p || p->started == 0 || ntasks == 1 || work < MI__CPU_MIN_PARALLEL_WORK ||
        pthread_mutex_trylock(&p->busy) != 0) {
        for (int64_t t = 0; t < ntasks; t++) fn(arg, t, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    atomic_store(&p->finished, 0);
    atomic_store(&p->next, 0);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    run_tasks(p, fn, arg, ntasks, 0);
    if (!spin_wait(p, all_finished, 0)) {
        pthread_mutex_lock(&p->lock);
        while (atomic_load(&p->finished) < p->started) pthread_cond_wait(&p->done, &p->lock);
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&p->busy);
}

/* ---- the ops table ------------------------------------------------------------- */

static mi__cpu *state(mi_backend *b) { return b->state; }

static void cpu_destroy(mi_backend *b) {
    if (!b) return;
    mi__cpu *cpu = b->state;
    if (cpu) {
        mi__cpu_pool_destroy(cpu->pool);
        mi__free(cpu);
    }
    mi__free(b);
}

/* Big pools start on a page, so any plan alignment up to 4096 holds for
 * every tensor; small blocks on the library's 256. */
static size_t alloc_alignment(size_t bytes) {
    return bytes >= ((size_t)64 << 10) ? (size_t)4096 : MI_DEFAULT_ALIGNMENT;
}

static mi_status cpu_alloc(mi_backend *b, size_t bytes, const char *what, void **ptr) {
    (void)b;
    *ptr = mi__cpu_aligned_alloc(bytes ? bytes : 1, alloc_alignment(bytes));
    if (!*ptr)
        return mi__error(MI_ERR_NO_MEMORY, "cpu backend: allocating %zu bytes for the %s failed", bytes,
                         what ? what : "pool");
    return MI_OK;
}

static void cpu_free(mi_backend *b, void *ptr) {
    (void)b;
    mi__cpu_aligned_free(ptr);
}

static mi_status cpu_memcpy(mi_backend *b, void *dst, const void *src, size_t n) {
    (void)b;
    if (n && dst != src) memmove(dst, src, n);
    return MI_OK;
}

static mi_status cpu_prepare(mi_backend *b, const mi_graph *g, size_t index, size_t *workspace) {
    *workspace = 0;
    if (!g || index >= mi_graph_node_count(g))
        return mi__error(MI_ERR_INVALID_ARG, "cpu backend: prepare: node %zu is out of range", index);
    const mi_node *n = mi_graph_node(g, index);
    mi__op_params p;
    mi_status st;
    if ((int)n->op < 0 || n->op >= MI_OP_COUNT)
        return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "unknown operator");
    if ((st = mi__op_params_get(g, n, &p)) != MI_OK) return st;
    if ((st = mi__cpu_check_node(g, n, &p)) != MI_OK) return st;
    switch (n->op) {
    case MI_OP_CONV: st = mi__cpu_conv_workspace(state(b), g, n, &p, workspace); break;
    case MI_OP_GEMM: case MI_OP_MATMUL: st = mi__cpu_linalg_workspace(state(b), g, n, &p, workspace); break;
    default: break;
    }
    /* The kernel's own workspace depends on dims only: the same in half
     * and in NHWC, each wrapper adding its copies. */
    if (st == MI_OK && mi__cpu_half_widened(g, n)) st = mi__cpu_half_workspace(g, n, *workspace, workspace);
    if (st == MI_OK && mi__cpu_nhwc_wrapped(g, n)) st = mi__cpu_nhwc_workspace(g, n, *workspace, workspace);
    return st;
}

static mi_status dispatch(mi__cpu_call *c) {
    switch (c->n->op) {
    case MI_OP_CONV: return mi__cpu_conv(c);
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_SIGMOID: case MI_OP_HARD_SIGMOID:
    case MI_OP_HARD_SWISH:
        return mi__cpu_unary(c);
    case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV: return mi__cpu_binary(c);
    case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: case MI_OP_GLOBAL_AVERAGE_POOL:
        return mi__cpu_pool_op(c);
    case MI_OP_PAD: return mi__cpu_pad(c);
    case MI_OP_BATCH_NORM: return mi__cpu_batch_norm(c);
    case MI_OP_GEMM: return mi__cpu_gemm_op(c);
    case MI_OP_MATMUL: return mi__cpu_matmul(c);
    case MI_OP_FLATTEN: case MI_OP_RESHAPE: case MI_OP_SQUEEZE: case MI_OP_UNSQUEEZE:
    case MI_OP_IDENTITY: case MI_OP_DROPOUT:
        return mi__cpu_copy_op(c);
    case MI_OP_TRANSPOSE: return mi__cpu_transpose(c);
    case MI_OP_CONCAT: return mi__cpu_concat(c);
    case MI_OP_SPLIT: return mi__cpu_split(c);
    case MI_OP_SLICE: return mi__cpu_slice(c);
    case MI_OP_REDUCE_MEAN: return mi__cpu_reduce_mean(c);
    case MI_OP_CONSTANT: return mi__cpu_constant(c);
    case MI_OP_SHAPE: return mi__cpu_shape(c);
    case MI_OP_GATHER: return mi__cpu_gather(c);
    case MI_OP_SOFTMAX: return mi__cpu_softmax(c);
    case MI_OP_CAST: return mi__cpu_cast(c);
    case MI_OP_LRN: return mi__cpu_lrn(c);
    case MI_OP_RELAYOUT: return mi__cpu_relayout(c);
    case MI_OP_LAYER_NORM: return mi__cpu_layer_norm(c);
    case MI_OP_REDUCE_SUM: case MI_OP_REDUCE_MAX: return mi__cpu_reduce_sum_max(c);
    case MI_OP_EXPAND: case MI_OP_TILE: return mi__cpu_expand_tile(c);
    case MI_OP_TRILU: return mi__cpu_trilu(c);
    case MI_OP_RANGE: return mi__cpu_range(c);
    case MI_OP_CONSTANT_OF_SHAPE: return mi__cpu_constant_of_shape(c);
    case MI_OP_SCATTER_ND: return mi__cpu_scatter_nd(c);
    case MI_OP_ERF: case MI_OP_POW: case MI_OP_SQRT: case MI_OP_RECIPROCAL: case MI_OP_NEG: case MI_OP_TANH:
    case MI_OP_EXP: case MI_OP_LOG: case MI_OP_WHERE: case MI_OP_EQUAL: case MI_OP_LESS: case MI_OP_GREATER:
    case MI_OP_NOT: case MI_OP_AND: case MI_OP_MOD: case MI_OP_MIN: case MI_OP_MAX: case MI_OP_GELU:
        return mi__cpu_math(c);
    default: return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "no CPU kernel for this operator");
    }
}

/* A half node's fp32 kernel inside its fp32 copies, or the kernel itself. */
static mi_status dispatch_precision(mi__cpu_call *c) {
    if (mi__cpu_half_widened(c->g, c->n)) return mi__cpu_half_run(c, dispatch);
    return dispatch(c);
}

/* ---- checks ------------------------------------------------------------------------ */

/* Ops that compute on floats only: float, or float16 / bfloat16 computed
 * in fp32 (half.c widens the ones whose kernels are fp32 only; the
 * activations and BatchNormalization have half loops of their own). */
static int float_only(mi_op op) {
    switch (op) {
    case MI_OP_CONV: case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL: case MI_OP_GLOBAL_AVERAGE_POOL:
    case MI_OP_BATCH_NORM: case MI_OP_GEMM: case MI_OP_MATMUL: case MI_OP_SIGMOID:
    case MI_OP_HARD_SIGMOID: case MI_OP_HARD_SWISH: case MI_OP_SOFTMAX: case MI_OP_LRN:
    case MI_OP_REDUCE_MEAN:
        return 1;
    default: return 0;
    }
}

static int numeric(mi_dtype t) {
    return mi__dtype_is_float(t) || t == MI_DTYPE_DOUBLE || t == MI_DTYPE_INT32 || t == MI_DTYPE_INT64;
}

/* BatchNormalization's half loop (reduce.c) reads each parameter in its
 * own float dtype, and the input and output in one half dtype: any other
 * mix with a half in it (half parameters of a float input) has no kernel. */
static mi_status check_batch_norm_dtypes(const mi_graph *g, const mi_node *n) {
    const mi_tensor *x = mi__node_in(g, n, 0), *y = mi_graph_tensor(g, (size_t)n->outputs[0]);
    const mi_tensor *half = NULL;
    for (int k = n->ninputs - 1; k >= 0; k--) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (t && mi__dtype_is_half(t->dtype)) half = t;
    }
    if (!half || (mi__dtype_is_half(x->dtype) && y->dtype == x->dtype)) return MI_OK;
    return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "'%s' is %s, but the input '%s' is %s and the output "
                            "%s; the CPU backend runs half parameters only with an input and output of "
                            "one half dtype", half->name, mi_dtype_name(half->dtype), x->name,
                            mi_dtype_name(x->dtype), mi_dtype_name(y->dtype));
}

mi_status mi__cpu_check_node(const mi_graph *g, const mi_node *n, const mi__op_params *p) {
    (void)p;
    const mi_tensor *x = mi__node_in(g, n, 0);
    if (!x) return MI_OK; /* Constant */
    if (float_only(n->op)) {
        for (int k = 0; k < n->ninputs; k++) {
            const mi_tensor *t = mi__node_in(g, n, k);
            if (t && !mi__dtype_is_float(t->dtype))
                return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "input %d '%s' has dtype %s; the CPU "
                                        "backend runs %s on float, float16 and bfloat16 only", k, t->name,
                                        mi_dtype_name(t->dtype), mi_op_name(n->op));
        }
        for (int k = 0; k < n->noutputs; k++) {
            const mi_tensor *t = n->outputs[k] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[k]) : NULL;
            /* BatchNormalization's and MaxPool's optional outputs are refused elsewhere. */
            if (k == 0 && t && !mi__dtype_is_float(t->dtype))
                return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "output '%s' has dtype %s; the CPU "
                                        "backend runs %s on float, float16 and bfloat16 only", t->name,
                                        mi_dtype_name(t->dtype), mi_op_name(n->op));
        }
        return n->op == MI_OP_BATCH_NORM ? check_batch_norm_dtypes(g, n) : MI_OK;
    }
    switch (n->op) {
    case MI_OP_RELU: case MI_OP_CLIP: case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL: case MI_OP_DIV:
        if (!numeric(x->dtype))
            return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "input '%s' has dtype %s; the CPU backend "
                                    "runs %s on float, float16, bfloat16, double, int32 and int64", x->name,
                                    mi_dtype_name(x->dtype), mi_op_name(n->op));
        return MI_OK;
    case MI_OP_DROPOUT: {
        /* Training mode drops at random: only a constant false (or a ratio
         * of 0, where it drops nothing) can be run. */
        const mi_tensor *tm = mi__node_in(g, n, 2);
        if (!tm) break;
        const void *v = mi__graph_value(g, n->inputs[2]);
        if (!v || tm->dtype != MI_DTYPE_BOOL || mi_tensor_numel(tm) != 1)
            return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "training_mode '%s' must be a constant "
                                    "bool scalar known at load time", tm->name);
        if (*(const uint8_t *)v) {
            float ratio = 0.5f;
            if (mi__node_in(g, n, 1) && mi__const_float(g, n, 1, &ratio) != MI_OK) {
                mi_clear_error();
                ratio = 0.5f;
            }
            if (ratio != 0.0f)
                return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "training mode (random dropping, "
                                        "ratio %g) is not supported", (double)ratio);
        }
        break;
    }
    case MI_OP_GATHER: {
        const mi_tensor *i = mi__node_in(g, n, 1);
        if (i && i->dtype != MI_DTYPE_INT32 && i->dtype != MI_DTYPE_INT64)
            return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "indices '%s' have dtype %s, expected int32 "
                                    "or int64", i->name, mi_dtype_name(i->dtype));
        break;
    }
    default: break;
    }
    for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k] >= 0 && mi_dtype_size(mi_graph_tensor(g, (size_t)n->outputs[k])->dtype) == 0)
            return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "output %d has dtype %s, which the CPU "
                                    "backend does not store", k,
                                    mi_dtype_name(mi_graph_tensor(g, (size_t)n->outputs[k])->dtype));
    if (mi_dtype_size(x->dtype) == 0)
        return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "input '%s' has dtype %s, which the CPU backend "
                                "does not store", x->name, mi_dtype_name(x->dtype));
    return MI_OK;
}

/* Inputs the op cannot run without (optional ones may be NULL). */
static int required_inputs(const mi_node *n) {
    switch (n->op) {
    case MI_OP_CONSTANT: return 0;
    case MI_OP_WHERE: case MI_OP_RANGE: case MI_OP_SCATTER_ND: return 3;
    case MI_OP_POW: case MI_OP_EQUAL: case MI_OP_LESS: case MI_OP_GREATER: case MI_OP_AND: case MI_OP_MOD:
    case MI_OP_EXPAND: case MI_OP_TILE: case MI_OP_LAYER_NORM:
        return 2;
    case MI_OP_CONV: case MI_OP_GEMM: case MI_OP_ADD: case MI_OP_SUB: case MI_OP_MUL:
    case MI_OP_DIV: case MI_OP_MATMUL: case MI_OP_GATHER:
        return 2;
    case MI_OP_BATCH_NORM: return 5;
    case MI_OP_CONCAT: return n->ninputs;
    default: return 1;
    }
}

static mi_status cpu_run(mi_backend *b, void *ctx, const mi_node_args *args) {
    (void)ctx;
    if (!args || !args->graph || !args->node)
        return mi__error(MI_ERR_INVALID_ARG, "cpu backend: run: node arguments are NULL");
    mi__cpu_call c;
    memset(&c, 0, sizeof c);
    c.cpu = state(b);
    c.g = args->graph;
    c.n = args->node;
    c.in = args->in;
    c.out = args->out;
    c.residual = args->residual;
    c.ws = args->workspace;
    c.ws_size = args->workspace ? args->workspace_size : 0;
    mi_status st;
    if ((int)c.n->op < 0 || c.n->op >= MI_OP_COUNT)
        return mi__cpu_node_err(c.n, MI_ERR_UNSUPPORTED, "unknown operator");
    for (int k = 0; k < required_inputs(c.n) && k < c.n->ninputs; k++)
        if (!c.in || !c.in[k])
            return mi__cpu_err(&c, MI_ERR_INVALID_ARG, "input %d has no memory (NULL pointer)", k);
    if (c.n->noutputs < 1 || !c.out || (c.n->op != MI_OP_SPLIT && !c.out[0]))
        return mi__cpu_err(&c, MI_ERR_INVALID_ARG, "output 0 has no memory (NULL pointer)");
    if (c.n->fused.residual >= 0 && !c.residual)
        return mi__cpu_err(&c, MI_ERR_INVALID_ARG, "the fused residual has no memory (NULL pointer)");
    if ((st = mi__node_check_overlap(c.g, c.n, c.in, c.out)) != MI_OK) return st;
    if ((st = mi__op_params_get(c.g, c.n, &c.p)) != MI_OK) return st;
    if (c.n->op == MI_OP_DROPOUT && (st = mi__cpu_check_node(c.g, c.n, &c.p)) != MI_OK) return st;
    if (mi__cpu_nhwc_wrapped(c.g, c.n)) return mi__cpu_nhwc_run(&c, dispatch_precision);
    return dispatch_precision(&c);
}

static const mi_backend_ops cpu_ops = {
    .size = MI_BACKEND_OPS_SIZE,
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .copy = cpu_memcpy,
    .prepare = cpu_prepare,
    .context_create = NULL,
    .context_destroy = NULL,
    .begin_run = NULL,
    .run = cpu_run,
    .end_run = NULL,
    .host_memory = 1,
};

/* Threads: $MI_CPU_THREADS when set (1 to 8), else the online CPUs capped
 * at MI__CPU_MAX_THREADS. */
static int default_threads(void) {
    const char *env = getenv("MI_CPU_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (!*end && v >= 1) return v > MI__CPU_MAX_THREADS ? MI__CPU_MAX_THREADS : (int)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > MI__CPU_MAX_THREADS ? MI__CPU_MAX_THREADS : (int)n;
}

mi_status mi_backend_cpu_create(const mi_backend_options *opt, mi_backend **out) {
    mi_status st;
    if (!out) return mi__error(MI_ERR_INVALID_ARG, "mi_backend_cpu_create: out is NULL");
    *out = NULL;
    mi_backend *b = mi__calloc(1, sizeof *b);
    mi__cpu *cpu = b ? mi__calloc(1, sizeof *cpu) : NULL;
    if (!cpu) {
        mi__free(b);
        return mi__error(MI_ERR_NO_MEMORY, "cpu backend: creating the backend");
    }
    b->ops = &cpu_ops;
    b->state = cpu;
    if (opt) b->options = *opt;
    cpu->nthreads = default_threads();
    cpu->ws_cap = b->options.max_workspace ? b->options.max_workspace : MI__CPU_DEFAULT_WS_CAP;
    cpu->gk = mi__gemm_kernel_default();
    if (cpu->nthreads > 1 && (st = mi__cpu_pool_create(cpu->nthreads, &cpu->pool)) != MI_OK) {
        cpu_destroy(b);
        return st;
    }
    mi__logf(b->options.verbose ? b->options.log : NULL, b->options.log_user,
             "cpu backend: %d threads, GEMM kernel %s (%dx%d), workspace cap %zu bytes",
             cpu->nthreads, cpu->gk->name, cpu->gk->mr, cpu->gk->nr, cpu->ws_cap);
    *out = b;
    return MI_OK;
}
