#define _POSIX_C_SOURCE 200809L
/* The memory-budget trade-off: the same model planned with several limits
 * on each node's workspace. On CUDA each conv takes the fastest algorithm
 * whose workspace fits, so a smaller budget means a smaller arena and
 * perhaps a slower run.
 *
 *   workspace_budget MODEL.onnx [DEVICE] [RUNS]     DEVICE: cuda (default), cuda:N, cpu */
#include <mini_infer/runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: workspace_budget MODEL.onnx [cuda|cuda:N|cpu] [RUNS]\n");
        return 2;
    }
    const char *device = argc > 2 ? argv[2] : "cuda";
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    const size_t budgets[] = {1 << 10, 1 << 16, 1 << 20, 4 << 20, 16 << 20, 64 << 20, 256 << 20};
    printf("%-14s %14s %14s %12s\n", "max workspace", "arena bytes", "largest ws", "median ms");
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        mi_model_options o;
        mi_model_options_init(&o);
        o.device = device;
        o.backend.max_workspace = budgets[b];
        mi_model *m;
        mi_status st = mi_model_load(argv[1], &o, &m);
        if (st == MI_ERR_NO_DEVICE) {
            printf("skipped: %s\n", mi_last_error());
            return 0;
        }
        if (st != MI_OK) {
            fprintf(stderr, "workspace_budget: %s\n", mi_last_error());
            return 1;
        }
        size_t largest = 0;
        const mi_memory_plan *p = mi_model_plan(m);
        for (size_t k = 0; k < mi_graph_node_count(mi_model_graph(m)); k++)
            if (mi_memory_plan_workspace_size(p, k) > largest) largest = mi_memory_plan_workspace_size(p, k);
        mi_context *c;
        if ((st = mi_context_create(m, NULL, 0, &c)) != MI_OK) {
            fprintf(stderr, "workspace_budget: %s\n", mi_last_error());
            return 1;
        }
        const mi_tensor *in = mi_model_input(m, 0), *out = mi_model_output(m, 0);
        float *x = calloc(1, in->nbytes), *y = malloc(out->nbytes);
        const void *ins[] = {x};
        void *outs[] = {y};
        double *t = malloc((size_t)runs * sizeof *t);
        st = mi_context_run(c, ins, outs); /* warm-up */
        for (int r = 0; st == MI_OK && r < runs; r++) {
            double t0 = now();
            st = mi_context_run(c, ins, outs);
            t[r] = now() - t0;
        }
        for (int i = 1; i < runs; i++) /* insertion sort for the median */
            for (int j = i; j > 0 && t[j - 1] > t[j]; j--) {
                double s = t[j];
                t[j] = t[j - 1];
                t[j - 1] = s;
            }
        if (st == MI_OK)
            printf("%-14zu %14zu %14zu %12.3f\n", budgets[b], mi_model_arena_size(m), largest, 1e3 * t[runs / 2]);
        else
            fprintf(stderr, "workspace_budget: %s\n", mi_last_error());
        free(t);
        free(x);
        free(y);
        mi_context_destroy(c);
        mi_model_destroy(m);
        if (st != MI_OK) return 1;
    }
    return 0;
}
