/* Two contexts sharing one model: one weights pool, two arenas. Each
 * context runs in its own thread, on its own input.
 *
 *   shared_model MODEL.onnx */
#include <mini_infer/runtime.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct job {
    mi_context *ctx;
    const mi_tensor *in, *out;
    float fill;
    size_t top1;
    mi_status st;
} job;

static void *work(void *arg) {
    job *j = arg;
    float *x = malloc(j->in->nbytes), *y = malloc(j->out->nbytes);
    for (size_t i = 0; i < j->in->nbytes / sizeof *x; i++) x[i] = j->fill * (float)(i % 7);
    const void *ins[] = {x};
    void *outs[] = {y};
    j->st = mi_context_run(j->ctx, ins, outs);
    j->top1 = 0;
    for (size_t i = 1; i < j->out->nbytes / sizeof *y; i++)
        if (y[i] > y[j->top1]) j->top1 = i;
    free(x);
    free(y);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: shared_model MODEL.onnx\n");
        return 2;
    }
    mi_model *m;
    mi_status st = mi_model_load(argv[1], NULL, &m);
    if (st != MI_OK) {
        fprintf(stderr, "shared_model: %s\n", mi_last_error());
        return 1;
    }
    job jobs[2];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 2; i++) {
        jobs[i].in = mi_model_input(m, 0);
        jobs[i].out = mi_model_output(m, 0);
        jobs[i].fill = 0.1f * (float)(i + 1);
        if ((st = mi_context_create(m, NULL, 0, &jobs[i].ctx)) != MI_OK) {
            fprintf(stderr, "shared_model: %s\n", mi_last_error());
            return 1;
        }
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, work, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        printf("context %d: %s, top-1 class %zu\n", i, jobs[i].st == MI_OK ? "ok" : mi_status_str(jobs[i].st),
               jobs[i].top1);
        rc |= jobs[i].st != MI_OK;
        mi_context_destroy(jobs[i].ctx);
    }
    printf("one weights pool of %zu bytes, two arenas of %zu bytes\n",
           mi_memory_plan_pool_size(mi_model_plan(m), MI_POOL_WEIGHTS), mi_model_arena_size(m));
    mi_model_destroy(m);
    return rc;
}
