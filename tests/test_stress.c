/* Concurrency stress (scripts/tsan.sh runs it under ThreadSanitizer):
 * several threads, each with its own context, on ONE shared model (the
 * weights, the plan and the CPU backend's thread pool shared), running
 * varied inputs; every output must be byte-for-byte what a single-threaded
 * run gave for that input. Cases: CNNs (LeNet-5, MobileNet-V2),
 * transformers (bert_tiny_s128, gpt_tiny), a model set (two models on one
 * backend, their contexts on one shared arena, MI_ERR_BUSY retried) and a
 * batch range (each thread running several sizes).
 *
 * Contexts are created and destroyed inside the threads too, so context
 * creation on a shared model is exercised concurrently as well. Workers
 * never assert (Criterion's asserts belong to the test's thread): they
 * count and describe, the test asserts after joining them.
 *
 * MI_STRESS_ITERS=n overrides every case's iterations per thread (a longer
 * soak), MI_STRESS_THREADS=n the thread count (1 to 16).
 *
 * Criterion cannot start under ThreadSanitizer (BoxFort maps its arena
 * MAP_FIXED at random addresses inside TSan's reserved ranges: "Could not
 * initialize inheritable arena", Criterion issue #274), so the cases are
 * plain functions: Criterion tests in a normal build, and with
 * MI_STRESS_STANDALONE (the MI_TSAN build, tests/test_stress.cmake) a
 * small main() runs the cases named on its command line, in one process. */
#ifndef MI_STRESS_STANDALONE
#include <criterion/criterion.h>
#endif
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_infer/runtime.h"

#define MAX_IO 4
#define NVARIANTS 3 /* distinct inputs per subject */
#define MAX_SUBJECTS 4
#define MAX_THREADS 16

#ifdef MI_STRESS_STANDALONE
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "[FAIL] %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            exit(1);                                                           \
        }                                                                      \
    } while (0)
#define INFO(...) (printf("[----] " __VA_ARGS__), putchar('\n'))
#else
#define CHECK(cond, ...) cr_assert(cond, __VA_ARGS__)
#define INFO(...) cr_log_info(__VA_ARGS__)
#endif

/* ---- deterministic inputs ---------------------------------------------------------- */

static uint64_t mix(uint64_t x) { /* splitmix64 */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Input k of variant v: floats in [-2, 2); int64 token ids in [0, 512)
 * (gpt_tiny's vocabulary); a float input named *mask* an additive padding
 * mask (0 = attend, -10000 = padding) with a variant-dependent tail padded. */
static void fill_input(const mi_tensor *t, int k, int v, void *buf) {
    size_t esize = mi_dtype_size(t->dtype);
    CHECK(esize > 0, "input %s: dtype %s", t->name, mi_dtype_name(t->dtype));
    size_t n = t->nbytes / esize;
    uint64_t seed = mix((uint64_t)v * 1000003u + (uint64_t)k * 7919u + 17u);
    if (t->dtype == MI_DTYPE_FLOAT && strstr(t->name, "mask")) {
        int64_t row = t->ndim >= 1 ? t->dims[t->ndim - 1] : (int64_t)n;
        int64_t pad = (int64_t)(seed % (uint64_t)(row / 2 + 1));
        float *f = buf;
        for (size_t i = 0; i < n; i++) f[i] = (int64_t)(i % (size_t)row) >= row - pad ? -10000.0f : 0.0f;
    } else if (t->dtype == MI_DTYPE_FLOAT) {
        float *f = buf;
        for (size_t i = 0; i < n; i++) f[i] = (float)(mix(seed + i) >> 40) / (float)(1u << 24) * 4.0f - 2.0f;
    } else if (t->dtype == MI_DTYPE_INT64) {
        int64_t *d = buf;
        for (size_t i = 0; i < n; i++) d[i] = (int64_t)(mix(seed + i) % 512u);
    } else {
        CHECK(0, "input %s: no generator for dtype %s", t->name, mi_dtype_name(t->dtype));
    }
}

/* ---- subjects: one model (at one batch size) with its references ------------------- */

typedef struct subject {
    const char *name;
    mi_model *m;    /* what contexts are created on (a batch range: the range) */
    mi_model *at;   /* the shapes: m itself, or m at batch */
    int64_t batch;  /* > 0: runs go through mi_context_run_batch */
    size_t nin, nout;
    size_t out_bytes[MAX_IO];
    void *in[NVARIANTS][MAX_IO];
    void *want[NVARIANTS][MAX_IO];
} subject;

static int env_int(const char *name, int dflt, int lo, int hi) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    int v = atoi(s);
    return v < lo ? lo : v > hi ? hi : v;
}

static mi_status run_subject(mi_context *c, const subject *s, const void *const *ins, void *const *outs) {
    return s->batch > 0 ? mi_context_run_batch(c, s->batch, ins, outs) : mi_context_run(c, ins, outs);
}

static mi_model *load(const char *name, const mi_model_options *o) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/model.onnx", MI_MODELS_DIR, name);
    mi_model *m = NULL;
    CHECK(mi_model_load(path, o, &m) == MI_OK, "%s: %s", name, mi_last_error());
    return m;
}

/* The subject's inputs, and its reference outputs: each variant run once,
 * single-threaded, on a context of its own (its own arena). */
static void subject_init(subject *s, const char *name, mi_model *m, int64_t batch) {
    memset(s, 0, sizeof *s);
    s->name = name;
    s->m = m;
    s->batch = batch;
    s->at = batch > 0 ? mi_model_at_batch(m, batch) : m;
    CHECK(s->at, "%s at batch %lld: %s", name, (long long)batch, mi_last_error());
    s->nin = mi_model_input_count(s->at);
    s->nout = mi_model_output_count(s->at);
    CHECK(s->nin >= 1 && s->nin <= MAX_IO && s->nout >= 1 && s->nout <= MAX_IO, "%s: %zu inputs, %zu outputs",
              name, s->nin, s->nout);
    for (size_t j = 0; j < s->nout; j++) s->out_bytes[j] = mi_model_output(s->at, j)->nbytes;
    mi_context *c = NULL;
    CHECK(mi_context_create(m, NULL, 0, &c) == MI_OK, "%s: %s", name, mi_last_error());
    for (int v = 0; v < NVARIANTS; v++) {
        for (size_t k = 0; k < s->nin; k++) {
            const mi_tensor *t = mi_model_input(s->at, k);
            s->in[v][k] = malloc(t->nbytes);
            CHECK(s->in[v][k], "out of memory");
            fill_input(t, (int)k, v + (int)batch * 101, s->in[v][k]);
        }
        for (size_t j = 0; j < s->nout; j++) {
            s->want[v][j] = malloc(s->out_bytes[j]);
            CHECK(s->want[v][j], "out of memory");
        }
        CHECK(run_subject(c, s, (const void *const *)s->in[v], s->want[v]) == MI_OK, "%s reference: %s", name,
                     mi_last_error());
    }
    /* The variants must differ, or the comparisons below prove little. */
    CHECK(NVARIANTS < 2 || memcmp(s->want[0][0], s->want[1][0], s->out_bytes[0]) != 0,
              "%s: two variants gave one output", name);
    /* A second single-threaded run of the same context gives the same bytes. */
    void *again[MAX_IO];
    for (size_t j = 0; j < s->nout; j++) again[j] = malloc(s->out_bytes[j]);
    CHECK(run_subject(c, s, (const void *const *)s->in[0], again) == MI_OK, "%s", mi_last_error());
    for (size_t j = 0; j < s->nout; j++) {
        CHECK(memcmp(again[j], s->want[0][j], s->out_bytes[j]) == 0, "%s: not deterministic single-threaded",
                  name);
        free(again[j]);
    }
    mi_context_destroy(c);
}

static void subject_free(subject *s) {
    for (int v = 0; v < NVARIANTS; v++) {
        for (size_t k = 0; k < s->nin; k++) free(s->in[v][k]);
        for (size_t j = 0; j < s->nout; j++) free(s->want[v][j]);
    }
}

/* ---- the workers ------------------------------------------------------------------- */

typedef struct worker {
    int id, iters;
    mi_model *model;           /* the context's model */
    mi_arena *arena;           /* NULL: the context's own arena */
    const subject *subs[MAX_SUBJECTS]; /* cycled through, all on model */
    int nsubs;
    pthread_barrier_t *start;
    /* results */
    int runs, busy, wrong, failed;
    char first[256];
} worker;

/* The first failure of a worker, for the report. */
__attribute__((format(printf, 2, 3))) static void note(worker *w, const char *fmt, ...) {
    if (w->first[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->first, sizeof w->first, fmt, ap);
    va_end(ap);
}

static void *work(void *arg) {
    worker *w = arg;
    mi_context *c = NULL;
    mi_status st = w->arena ? mi_context_create_on(w->model, w->arena, &c) : mi_context_create(w->model, NULL, 0, &c);
    pthread_barrier_wait(w->start); /* every thread's context exists: all run at once */
    if (st != MI_OK) {
        w->failed++;
        note(w, "context: %s (status %d)", mi_last_error(), (int)st);
        return NULL;
    }
    size_t most[MAX_IO] = {0};
    for (int i = 0; i < w->nsubs; i++)
        for (size_t j = 0; j < w->subs[i]->nout; j++)
            if (w->subs[i]->out_bytes[j] > most[j]) most[j] = w->subs[i]->out_bytes[j];
    void *out[MAX_IO] = {0};
    for (size_t j = 0; j < MAX_IO; j++)
        if (most[j] && !(out[j] = malloc(most[j]))) w->failed++;
    for (int k = 0; k < w->iters && !w->failed; k++) {
        const subject *s = w->subs[(w->id + k) % w->nsubs];
        int v = (w->id * 2 + k) % NVARIANTS; /* threads run different inputs at the same time */
        for (size_t j = 0; j < s->nout; j++) memset(out[j], 0xA5, s->out_bytes[j]); /* stale bytes show */
        int tries = 0;
        while ((st = run_subject(c, s, (const void *const *)s->in[v], out)) == MI_ERR_BUSY && tries++ < 10000000) {
            w->busy++;
            sched_yield();
        }
        if (st != MI_OK) {
            w->failed++;
            note(w, "%s: run failed: %s (status %d, iteration %d)", s->name, mi_last_error(), (int)st, k);
            break;
        }
        w->runs++;
        for (size_t j = 0; j < s->nout; j++)
            if (memcmp(out[j], s->want[v][j], s->out_bytes[j]) != 0) {
                w->wrong++;
                note(w, "%s: output %s differs from the single-threaded run (input variant %d, iteration %d)",
                     s->name, mi_model_output(s->at, j)->name, v, k);
            }
    }
    for (size_t j = 0; j < MAX_IO; j++) free(out[j]);
    mi_context_destroy(c);
    return NULL;
}

/* Runs the workers (already given model, arena, subjects) and asserts. */
static void run_workers(worker *w, int n, const char *what) {
    pthread_t t[MAX_THREADS];
    pthread_barrier_t start;
    CHECK(pthread_barrier_init(&start, NULL, (unsigned)n) == 0, "pthread_barrier_init");
    for (int i = 0; i < n; i++) {
        w[i].id = i;
        w[i].start = &start;
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0, "pthread_create");
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    int runs = 0, busy = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        runs += w[i].runs;
        busy += w[i].busy;
        if (w[i].failed || w[i].wrong || w[i].runs != w[i].iters) {
            bad++;
            INFO("%s, thread %d: %d of %d runs done, %d outputs wrong, %d failures; first: %s", what, i, w[i].runs,
                 w[i].iters, w[i].wrong, w[i].failed, w[i].first);
        }
    }
    CHECK(bad == 0, "%s: %d of %d threads saw failed runs or outputs that differ from the single-threaded run",
          what, bad, n);
    INFO("%s: %d threads, %d runs identical to the single-threaded ones (%d refused as busy, retried)", what, n,
         runs, busy);
}

static int threads(void) { return env_int("MI_STRESS_THREADS", 4, 1, MAX_THREADS); }
static int iters(int dflt) { return env_int("MI_STRESS_ITERS", dflt, 1, 1000000); }

/* T threads x one context each on one shared model. */
static void one_model(const char *name, int dflt_iters) {
    mi_model *m = load(name, NULL);
    subject s;
    subject_init(&s, name, m, 0);
    int n = threads();
    worker w[MAX_THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < n; i++) {
        w[i].iters = iters(dflt_iters);
        w[i].model = m;
        w[i].subs[0] = &s;
        w[i].nsubs = 1;
    }
    run_workers(w, n, name);
    subject_free(&s);
    mi_model_destroy(m);
}

/* ---- the cases ----------------------------------------------------------------------- */

static void cnn_lenet5(void) { one_model("lenet5", 24); }
static void cnn_mobilenet_v2(void) { one_model("mobilenet_v2", 3); }
static void transformer_bert_tiny(void) { one_model("bert_tiny_s128", 8); }
static void transformer_gpt_tiny(void) { one_model("gpt_tiny", 12); }
/* A model set: two models on one CPU backend, T threads alternating
 * between them, every context on one shared arena. A run while another
 * holds the arena is refused (MI_ERR_BUSY) and retried after a yield;
 * none may be corrupted. */
static void model_set_on_one_arena(void) {
    static const char *const names[2] = {"gpt_tiny", "bert_tiny_s128"};
    mi_backend *b = NULL;
    CHECK(mi_backend_open("cpu", NULL, &b) == MI_OK, "%s", mi_last_error());
    mi_model *models[2];
    subject s[2];
    for (int i = 0; i < 2; i++) {
        mi_model_options o;
        mi_model_options_init(&o);
        o.backend_instance = b;
        models[i] = load(names[i], &o);
        subject_init(&s[i], names[i], models[i], 0);
    }
    mi_arena *a = NULL;
    CHECK(mi_arena_create(models, 2, NULL, 0, &a) == MI_OK, "%s", mi_last_error());
    int n = threads();
    worker w[MAX_THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < n; i++) {
        w[i].iters = iters(8);
        w[i].model = models[i % 2];
        w[i].arena = a;
        w[i].subs[0] = &s[i % 2];
        w[i].nsubs = 1;
    }
    run_workers(w, n, "model set gpt_tiny + bert_tiny_s128 on one arena");
    mi_arena_destroy(a);
    for (int i = 0; i < 2; i++) {
        subject_free(&s[i]);
        mi_model_destroy(models[i]);
    }
    mi_backend_close(b);
}

/* A batch range (1, 2, 4): T threads, a context each on the one range
 * model, each cycling through the sizes (threads at different sizes at
 * the same time). */
static void batch_range_contexts_per_thread(void) {
    static const int64_t sizes[] = {1, 2, 4};
    mi_model_options o;
    mi_model_options_init(&o);
    o.nbatches = 3;
    for (int k = 0; k < 3; k++) o.batches[k] = sizes[k];
    mi_model *r = load("gpt_tiny", &o);
    subject s[3];
    for (int k = 0; k < 3; k++) subject_init(&s[k], "gpt_tiny", r, sizes[k]);
    int n = threads();
    worker w[MAX_THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < n; i++) {
        w[i].iters = iters(12);
        w[i].model = r;
        for (int k = 0; k < 3; k++) w[i].subs[k] = &s[k];
        w[i].nsubs = 3;
    }
    run_workers(w, n, "gpt_tiny batch range 1, 2, 4");
    for (int k = 0; k < 3; k++) subject_free(&s[k]);
    mi_model_destroy(r);
}

/* ---- registration -------------------------------------------------------------------- */

/* X(case): every case, in the order the standalone runner runs them. */
#define STRESS_CASES(X)             \
    X(cnn_lenet5)                   \
    X(cnn_mobilenet_v2)             \
    X(transformer_bert_tiny)        \
    X(transformer_gpt_tiny)         \
    X(model_set_on_one_arena)       \
    X(batch_range_contexts_per_thread)

#ifndef MI_STRESS_STANDALONE
/* One Test per case, spelled out: tests/CMakeLists.txt finds them by name. */
Test(stress, cnn_lenet5, .timeout = 600) { cnn_lenet5(); }
Test(stress, cnn_mobilenet_v2, .timeout = 600) { cnn_mobilenet_v2(); }
Test(stress, transformer_bert_tiny, .timeout = 600) { transformer_bert_tiny(); }
Test(stress, transformer_gpt_tiny, .timeout = 600) { transformer_gpt_tiny(); }
Test(stress, model_set_on_one_arena, .timeout = 600) { model_set_on_one_arena(); }
Test(stress, batch_range_contexts_per_thread, .timeout = 600) { batch_range_contexts_per_thread(); }
#else
#include <time.h>

typedef struct stress_case {
    const char *name;
    void (*fn)(void);
} stress_case;

#define STRESS_ENTRY(n) {#n, n},
static const stress_case CASES[] = {STRESS_CASES(STRESS_ENTRY)};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* test_stress [case ...]: the named cases (all without), Criterion's
 * report lines; exits 1 at the first failure (CHECK). */
int main(int argc, char **argv) {
    int ran = 0;
    for (size_t i = 0; i < NCASES; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], CASES[i].name) == 0;
        if (!wanted) continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        CASES[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("[PASS] stress::%s: (%.2fs)\n", CASES[i].name,
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9);
        fflush(stdout);
        ran++;
    }
    for (int a = 1; a < argc; a++) {
        int known = 0;
        for (size_t i = 0; i < NCASES; i++) known |= strcmp(argv[a], CASES[i].name) == 0;
        if (!known) {
            fprintf(stderr, "test_stress: no case %s\n", argv[a]);
            return 2;
        }
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: 0 | Crashing: 0\n", ran, ran);
    return 0;
}
#endif
