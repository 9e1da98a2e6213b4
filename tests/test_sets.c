/* Batch ranges and model sets (runtime.h): one model planned at several
 * batch sizes with its weights held once, several models' contexts on one
 * shared arena, and the refusals: a size outside the range, models on
 * different backends or alignments, and a second run on a busy arena
 * (also from two threads at once: never a corrupted output). Runs the
 * reduced transformers of the model zoo on the CPU backend. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model_data.h"
#include "mini_infer/runtime.h"

static void path_of(const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s/model.onnx", MI_MODELS_DIR, name);
}

static mi_model *load(const char *name, const mi_model_options *o) {
    char path[1024];
    path_of(name, path, sizeof path);
    mi_model *m = NULL;
    cr_assert_eq(mi_model_load(path, o, &m), MI_OK, "%s: %s", name, mi_last_error());
    return m;
}

static mi_model *load_at(const char *name, int64_t batch, mi_backend *b) {
    mi_model_options o;
    mi_model_options_init(&o);
    o.load.batch = batch;
    o.backend_instance = b;
    return load(name, &o);
}

/* The test set's inputs repeated to batch b of m's size b. */
static void read_inputs(const char *name, const mi_model *m, int64_t batch, model_data *d) {
    char dir[512]; /* room for model_data.h's file names after it */
    snprintf(dir, sizeof dir, "%s/%s", MI_MODELS_DIR, name);
    model_data_read_batch(dir, m, batch, d);
}

static void *run_once(mi_context *c, const mi_model *m, int64_t batch, const model_data *d) {
    void *out = malloc(mi_model_output(m, 0)->nbytes);
    void *outs[1] = {out};
    cr_assert_eq(mi_context_run_batch(c, batch, d->ins, outs), MI_OK, "batch %lld: %s", (long long)batch,
                 mi_last_error());
    return out;
}

/* Each size of a range gives the bytes a model loaded at that size alone
 * gives; its arena is the largest size's, its weights are held once. */
static void check_range(const char *name) {
    const int64_t sizes[] = {1, 3, 8};
    mi_model_options o;
    mi_model_options_init(&o);
    o.nbatches = 3;
    o.batches[0] = 8; /* any order */
    o.batches[1] = 1;
    o.batches[2] = 3;
    mi_model *r = load(name, &o);
    cr_assert_eq(mi_model_batch_count(r), 3);
    size_t arena = 0, weights_sum = 0, largest_weights = 0;
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(r, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(mi_model_batch(r, (size_t)k), sizes[k]);
        mi_model *one = load_at(name, sizes[k], NULL), *at = mi_model_at_batch(r, sizes[k]);
        cr_assert(at, "%s", mi_last_error());
        cr_assert_eq(mi_memory_plan_pool_size(mi_model_plan(at), MI_POOL_ARENA), mi_model_arena_size(one));
        if (mi_model_arena_size(one) > arena) arena = mi_model_arena_size(one);
        weights_sum += mi_model_weights_size(one);
        if (k == 2) largest_weights = mi_model_weights_size(one);
        model_data d;
        read_inputs(name, at, sizes[k], &d);
        mi_context *alone = NULL;
        cr_assert_eq(mi_context_create(one, NULL, 0, &alone), MI_OK);
        void *want = run_once(alone, one, sizes[k], &d), *got = run_once(c, at, sizes[k], &d);
        cr_assert(memcmp(want, got, mi_model_output(at, 0)->nbytes) == 0, "%s batch %lld differs from a model "
                  "loaded at that size", name, (long long)sizes[k]);
        free(want);
        free(got);
        model_data_free(&d);
        mi_context_destroy(alone);
        mi_model_destroy(one);
    }
    cr_assert_eq(mi_model_arena_size(r), arena, "the range's arena is its largest size's, exactly");
    cr_assert_geq(mi_model_weights_size(r), largest_weights);
    cr_assert_lt(mi_model_weights_size(r), weights_sum, "the weights are held once, not per size");
    /* What the other sizes hold beyond the largest's: only constants. */
    cr_assert_lt(mi_model_weights_size(r) - largest_weights, largest_weights / 4);
    mi_context_destroy(c);
    mi_model_destroy(r);
}

Test(sets, batch_range_gives_each_size_as_alone, .timeout = 120) {
    check_range("gpt_tiny");
    check_range("vit_tiny");
    check_range("bert_tiny_s128");
}

Test(sets, batch_outside_the_range_is_refused) {
    mi_model_options o;
    mi_model_options_init(&o);
    o.nbatches = 2;
    o.batches[0] = 2;
    o.batches[1] = 4;
    mi_model *r = load("gpt_tiny", &o);
    cr_assert_null(mi_model_at_batch(r, 3));
    cr_assert(strstr(mi_last_error(), "2, 4"), "%s", mi_last_error());
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(r, NULL, 0, &c), MI_OK);
    int64_t ids[3 * 32] = {0};
    float out[1];
    const void *ins[1] = {ids};
    void *outs[1] = {out};
    cr_assert_eq(mi_context_run_batch(c, 3, ins, outs), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "batch 3 is outside"), "%s", mi_last_error());
    cr_assert_null(mi_context_at_batch(c, 1));
    cr_assert_eq(mi_context_at_batch(c, 4), c, "the largest size is the context itself");
    mi_context_destroy(c);
    mi_model_destroy(r);
    /* bad ranges */
    mi_model *m = NULL;
    char path[1024];
    path_of("gpt_tiny", path, sizeof path);
    o.nbatches = MI_MAX_BATCHES + 1;
    cr_assert_eq(mi_model_load(path, &o, &m), MI_ERR_INVALID_ARG);
    o.nbatches = 2;
    o.batches[1] = 0;
    cr_assert_eq(mi_model_load(path, &o, &m), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "batch size 0"), "%s", mi_last_error());
    cr_assert_null(m);
}

/* ---- model sets ---------------------------------------------------------------------- */

static const char *const SET[] = {"vit_tiny", "gpt_tiny", "bert_tiny_s128"};

typedef struct member {
    mi_model *m;
    model_data d;
    void *want;
    size_t out_bytes;
} member;

/* The set on one CPU backend, each member's reference output from a
 * context of its own. */
static mi_backend *open_set(member *ms) {
    mi_backend *b = NULL;
    cr_assert_eq(mi_backend_open("cpu", NULL, &b), MI_OK);
    for (int i = 0; i < 3; i++) {
        ms[i].m = load_at(SET[i], 1, b);
        read_inputs(SET[i], ms[i].m, 1, &ms[i].d);
        mi_context *alone = NULL;
        cr_assert_eq(mi_context_create(ms[i].m, NULL, 0, &alone), MI_OK);
        ms[i].want = run_once(alone, ms[i].m, 1, &ms[i].d);
        ms[i].out_bytes = mi_model_output(ms[i].m, 0)->nbytes;
        mi_context_destroy(alone);
    }
    return b;
}

static void close_set(member *ms, mi_backend *b) {
    for (int i = 0; i < 3; i++) {
        free(ms[i].want);
        model_data_free(&ms[i].d);
        mi_model_destroy(ms[i].m);
    }
    mi_backend_close(b);
}

Test(sets, set_shares_the_largest_arena) {
    member ms[3];
    mi_backend *b = open_set(ms);
    mi_model *models[3] = {ms[0].m, ms[1].m, ms[2].m};
    size_t size = 0, align = 0, largest = 0;
    cr_assert_eq(mi_arena_size_for(models, 3, &size, &align), MI_OK, "%s", mi_last_error());
    for (int i = 0; i < 3; i++)
        if (mi_model_arena_size(models[i]) > largest) largest = mi_model_arena_size(models[i]);
    cr_assert_eq(size, largest, "the set's arena is its largest member's, exactly");
    cr_assert_eq(align, 256);
    mi_arena *a = NULL;
    cr_assert_eq(mi_arena_create(models, 3, NULL, 0, &a), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_arena_bytes(a), largest);
    mi_context *c[3];
    for (int i = 0; i < 3; i++) cr_assert_eq(mi_context_create_on(models[i], a, &c[i]), MI_OK, "%s", mi_last_error());
    mi_arena_destroy(a); /* the contexts keep it */
    /* in turn, twice round: each member's output as alone */
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 3; i++) {
            void *got = run_once(c[i], ms[i].m, 1, &ms[i].d);
            cr_assert(memcmp(got, ms[i].want, ms[i].out_bytes) == 0, "%s on the shared arena differs", SET[i]);
            free(got);
        }
    for (int i = 0; i < 3; i++) mi_context_destroy(c[i]);
    close_set(ms, b);
}

Test(sets, different_backends_or_alignments_are_refused) {
    mi_model *a = load_at("gpt_tiny", 1, NULL), *b = load_at("vit_tiny", 1, NULL);
    mi_model *two[2] = {a, b};
    size_t size, align;
    cr_assert_eq(mi_arena_size_for(two, 2, &size, &align), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "gpt_tiny") && strstr(mi_last_error(), "vit_tiny") &&
              strstr(mi_last_error(), "different backend"), "%s", mi_last_error());
    mi_model_destroy(b);
    mi_model_options o;
    mi_model_options_init(&o);
    o.backend_instance = mi_model_backend(a);
    o.plan.alignment = 512;
    b = load("vit_tiny", &o);
    two[1] = b;
    cr_assert_eq(mi_arena_size_for(two, 2, &size, &align), MI_ERR_INVALID_ARG);
    cr_assert(strstr(mi_last_error(), "512"), "%s", mi_last_error());
    mi_arena *ar = NULL;
    cr_assert_eq(mi_arena_create(two, 1, NULL, 0, &ar), MI_OK);
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create_on(b, ar, &c), MI_ERR_INVALID_ARG, "an alignment the arena was not made for");
    mi_arena_destroy(ar);
    mi_model_destroy(b);
    mi_model_destroy(a);
}

Test(sets, a_run_on_a_busy_arena_is_refused) {
    member ms[3];
    mi_backend *b = open_set(ms);
    mi_model *models[2] = {ms[0].m, ms[1].m};
    mi_arena *a = NULL;
    cr_assert_eq(mi_arena_create(models, 2, NULL, 0, &a), MI_OK);
    mi_context *c0 = NULL, *c1 = NULL;
    cr_assert_eq(mi_context_create_on(models[0], a, &c0), MI_OK);
    cr_assert_eq(mi_context_create_on(models[1], a, &c1), MI_OK);
    /* c0's run left enqueued holds the arena until it is synced */
    cr_assert_eq(mi_context_execute(c0, 0), MI_OK, "%s", mi_last_error());
    void *out = malloc(ms[1].out_bytes);
    void *outs[1] = {out};
    cr_assert_eq(mi_context_run(c1, ms[1].d.ins, outs), MI_ERR_BUSY);
    cr_assert(strstr(mi_last_error(), "vit_tiny") && strstr(mi_last_error(), "in use"), "%s", mi_last_error());
    cr_assert_eq(mi_context_sync(c0), MI_OK);
    cr_assert_eq(mi_context_run(c1, ms[1].d.ins, outs), MI_OK, "%s", mi_last_error());
    cr_assert(memcmp(out, ms[1].want, ms[1].out_bytes) == 0);
    /* a pending run is waited for when its context goes */
    cr_assert_eq(mi_context_execute(c1, 0), MI_OK);
    mi_context_destroy(c1);
    cr_assert_eq(mi_context_execute(c0, 1), MI_OK, "the arena is free again: %s", mi_last_error());
    free(out);
    mi_context_destroy(c0);
    mi_arena_destroy(a);
    close_set(ms, b);
}

typedef struct racer {
    mi_context *c;
    const member *mb;
    int runs, ok, busy, wrong, other;
} racer;

static void *race(void *arg) {
    racer *r = arg;
    void *out = malloc(r->mb->out_bytes);
    void *outs[1] = {out};
    /* Until runs succeeded; a refused run tries again after a yield. */
    for (int tries = 0; r->ok < r->runs && tries < 1000000; tries++) {
        memset(out, 0, r->mb->out_bytes);
        mi_status st = mi_context_run(r->c, r->mb->d.ins, outs);
        if (st == MI_OK) {
            r->ok++;
            if (memcmp(out, r->mb->want, r->mb->out_bytes) != 0) r->wrong++;
        } else if (st == MI_ERR_BUSY) {
            r->busy++;
            sched_yield();
        } else {
            r->other++;
        }
    }
    free(out);
    return NULL;
}

/* Two threads, one context each, on one arena: every run either gives
 * the right output or is refused (and tried again); none is corrupted,
 * and both get their runs done. */
Test(sets, two_threads_on_one_arena_never_corrupt, .timeout = 120) {
    member ms[3];
    mi_backend *b = open_set(ms);
    mi_model *models[2] = {ms[1].m, ms[2].m};
    mi_arena *a = NULL;
    cr_assert_eq(mi_arena_create(models, 2, NULL, 0, &a), MI_OK);
    racer r[2] = {{NULL, &ms[1], 100, 0, 0, 0, 0}, {NULL, &ms[2], 100, 0, 0, 0, 0}};
    for (int i = 0; i < 2; i++) cr_assert_eq(mi_context_create_on(models[i], a, &r[i].c), MI_OK);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(r[i].wrong, 0, "thread %d: %d corrupted outputs", i, r[i].wrong);
        cr_assert_eq(r[i].other, 0, "thread %d: %d runs failed otherwise", i, r[i].other);
        cr_assert_eq(r[i].ok, r[i].runs, "thread %d: %d of %d runs got the arena", i, r[i].ok, r[i].runs);
        cr_log_info("thread %d: %d runs, %d refused as busy", i, r[i].ok, r[i].busy);
        mi_context_destroy(r[i].c);
    }
    mi_arena_destroy(a);
    close_set(ms, b);
}

/* One CUDA backend serving two models (their node state kept per model)
 * and a batch range: each output as the CPU's. Skips without a GPU. */
Test(sets, cuda_backend_serves_a_set, .timeout = 300) {
    mi_backend *cu = NULL;
    mi_status st = mi_backend_open("cuda", NULL, &cu);
    if (st == MI_ERR_NO_DEVICE || st == MI_ERR_BACKEND) cr_skip_test("no CUDA backend here: %s", mi_last_error());
    cr_assert_eq(st, MI_OK, "%s", mi_last_error());
    member ms[3];
    mi_backend *b = open_set(ms);
    mi_model *models[3];
    for (int i = 0; i < 3; i++) models[i] = load_at(SET[i], 1, cu);
    mi_arena *a = NULL;
    cr_assert_eq(mi_arena_create(models, 3, NULL, 0, &a), MI_OK, "%s", mi_last_error());
    for (int i = 0; i < 3; i++) {
        mi_context *c = NULL;
        cr_assert_eq(mi_context_create_on(models[i], a, &c), MI_OK, "%s", mi_last_error());
        float *got = run_once(c, models[i], 1, &ms[i].d);
        const float *want = ms[i].want;
        double err = 0, scale = 0;
        for (size_t k = 0; k < ms[i].out_bytes / sizeof(float); k++) {
            double dd = fabs((double)got[k] - want[k]);
            if (dd > err) err = dd;
            if (fabs(want[k]) > scale) scale = fabs(want[k]);
        }
        cr_assert_leq(err / (scale > 0 ? scale : 1), 1e-4, "%s on cuda: %g", SET[i], err);
        free(got);
        mi_context_destroy(c);
    }
    mi_arena_destroy(a);
    for (int i = 0; i < 3; i++) mi_model_destroy(models[i]);
    close_set(ms, b);
    mi_backend_close(cu);
}
