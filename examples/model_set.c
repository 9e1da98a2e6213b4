/* Several models, and one model at several batch sizes, on one backend
 * and one activations arena: the arena the largest of them needs, not
 * their sum. The runs take turns; a run while another holds the arena is
 * refused (MI_ERR_BUSY), never corrupted.
 *
 *   model_set DEVICE MODEL.onnx [MODEL2.onnx ...]
 *
 * The first model is also loaded as a batch range (1, 2 and 4). */
#include <mini_infer/runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MODELS 8

static int fail(const char *what, mi_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, mi_status_str(st), mi_last_error());
    return 1;
}

/* One run on zero inputs; the outputs' first value. */
static mi_status run_zeros(mi_context *c, mi_model *m, int64_t batch, float *first) {
    mi_model *at = mi_model_at_batch(m, batch);
    if (!at) return MI_ERR_INVALID_ARG;
    const void *ins[8] = {0};
    void *outs[8] = {0};
    size_t ni = mi_model_input_count(at), no = mi_model_output_count(at);
    if (ni > 8 || no > 8) return MI_ERR_UNSUPPORTED;
    for (size_t i = 0; i < ni; i++) ins[i] = calloc(1, mi_model_input(at, i)->nbytes + 1);
    for (size_t i = 0; i < no; i++) outs[i] = calloc(1, mi_model_output(at, i)->nbytes + 1);
    mi_status st = mi_context_run_batch(c, batch, ins, outs);
    *first = no && mi_model_output(at, 0)->dtype == MI_DTYPE_FLOAT ? *(const float *)outs[0] : 0.0f;
    for (size_t i = 0; i < ni; i++) free((void *)ins[i]);
    for (size_t i = 0; i < no; i++) free(outs[i]);
    return st;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc - 2 > MAX_MODELS) {
        fprintf(stderr, "usage: %s DEVICE MODEL.onnx [MODEL2.onnx ...]\n", argv[0]);
        return 2;
    }
    mi_backend *b = NULL;
    mi_status st = mi_backend_open(argv[1], NULL, &b);
    if (st == MI_ERR_NO_DEVICE) {
        printf("skipped: %s\n", mi_last_error());
        return 0;
    }
    if (st) return fail("backend", st);
    int n = argc - 2;
    mi_model *models[MAX_MODELS + 1] = {0};
    mi_model_options o;
    mi_model_options_init(&o);
    o.backend_instance = b; /* one backend: one CUDA context and one set of library handles */
    size_t separate = 0;
    for (int i = 0; i < n; i++) {
        if ((st = mi_model_load(argv[2 + i], &o, &models[i]))) return fail(argv[2 + i], st);
        separate += mi_model_arena_size(models[i]);
    }
    /* The first model again, planned at batch 1, 2 and 4, its weights once. */
    o.nbatches = 3;
    o.batches[0] = 1;
    o.batches[1] = 2;
    o.batches[2] = 4;
    if ((st = mi_model_load(argv[2], &o, &models[n]))) return fail("batch range", st);
    separate += mi_model_arena_size(models[n]);
    mi_arena *arena = NULL;
    if ((st = mi_arena_create(models, (size_t)n + 1, NULL, 0, &arena))) return fail("shared arena", st);
    printf("one arena of %zu bytes for %d models and a batch range (%zu bytes if each had its own)\n",
           mi_arena_bytes(arena), n, separate);
    mi_context *ctx[MAX_MODELS + 1];
    for (int i = 0; i <= n; i++)
        if ((st = mi_context_create_on(models[i], arena, &ctx[i]))) return fail("context", st);
    for (int i = 0; i <= n; i++)
        for (size_t k = 0; k < mi_model_batch_count(models[i]); k++) {
            float y0 = 0;
            int64_t bs = mi_model_batch(models[i], k);
            if ((st = run_zeros(ctx[i], models[i], bs, &y0))) return fail("run", st);
            printf("ran %s at batch %lld: first output %g\n", i < n ? argv[2 + i] : "the range", (long long)bs,
                   (double)y0);
        }
    /* A run left enqueued holds the arena until it is synced. */
    if ((st = mi_context_execute(ctx[0], 0))) return fail("execute", st);
    float y0;
    st = run_zeros(ctx[n], models[n], 1, &y0);
    printf("while another run holds the arena: %s\n", mi_status_name(st));
    if (st != MI_ERR_BUSY) return fail("expected MI_ERR_BUSY", st);
    if ((st = mi_context_sync(ctx[0])) || (st = run_zeros(ctx[n], models[n], 1, &y0))) return fail("after sync", st);
    printf("after mi_context_sync: ok\n");
    for (int i = 0; i <= n; i++) mi_context_destroy(ctx[i]);
    mi_arena_destroy(arena);
    for (int i = 0; i <= n; i++) mi_model_destroy(models[i]);
    mi_backend_close(b);
    return 0;
}
