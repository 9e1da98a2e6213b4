/* bench_cpu: latency of the model zoo on the CPU backend through the engine
 * (auto plan, in-place on, no poison): median and best of N runs after one
 * warm-up, with the three pool sizes, per model; ResNet-50 also on one
 * thread, to show what the pool's threads bring.
 *
 *   bench_cpu [--models DIR] [--runs N] [--out FILE.md]
 *
 * DIR holds scripts/make_models.py's output (default $MI_MODELS_DIR, else
 * build/models). Prints a markdown table; with --out also writes it. */
#define _POSIX_C_SOURCE 200809L
#include "backend_cpu/cpu_internal.h"
#include "bench_util.h"
#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct model_case {
    const char *name;
    int64_t batch;
    int threads; /* 0: the backend's default */
} model_case;

/* /proc/loadavg's 1-minute figure, or -1: other work on the machine skews
 * the timings (and hides what the threads bring), so the table says it. */
static double load_average(void) {
    FILE *f = fopen("/proc/loadavg", "r");
    double v = -1.0;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1) v = -1.0;
        fclose(f);
    }
    return v;
}

static double mib(size_t b) { return (double)b / (1024.0 * 1024.0); }

/* Runs one case; appends a table row. Returns 0, or 1 after a message. */
static int bench_one(const char *dir, const model_case *mc, int runs, mi_strbuf *t) {
    char path[2048];
    mi_tensor_data in;
    snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_0.pb", dir, mc->name);
    if (mi_tensor_file_read(path, &in) != MI_OK) {
        fprintf(stderr, "bench_cpu: %s\n", mi_last_error());
        return 1;
    }
    mi_backend_options bo;
    mi_backend_options_init(&bo);
    if (mc->threads) {
        char v[16];
        snprintf(v, sizeof v, "%d", mc->threads);
        setenv("MI_CPU_THREADS", v, 1);
    }
    mi_backend *b = NULL;
    mi_status st = mi_backend_cpu_create(&bo, &b);
    unsetenv("MI_CPU_THREADS");
    mi_model *m = NULL;
    mi_context *c = NULL;
    void *out = NULL;
    double *times = calloc((size_t)runs, sizeof *times);
    int rc = 1;
    if (st != MI_OK || !times) goto done;
    mi_model_options o;
    mi_model_options_init(&o);
    o.backend_instance = b;
    o.load.batch = mc->batch;
    snprintf(path, sizeof path, "%s/%s/model.onnx", dir, mc->name);
    double t0 = bench_now();
    if ((st = mi_model_load(path, &o, &m)) != MI_OK) goto done;
    double load = bench_now() - t0;
    if ((st = mi_context_create(m, NULL, 0, &c)) != MI_OK) goto done;
    const mi_tensor *it = mi_model_input(m, 0), *ot = mi_model_output(m, 0);
    if (it->nbytes != in.nbytes) {
        fprintf(stderr, "bench_cpu: %s: input of %zu bytes, the data set has %zu\n", mc->name, it->nbytes,
                in.nbytes);
        goto done;
    }
    out = malloc(ot->nbytes);
    const void *ins[1] = {in.data};
    void *outs[1] = {out};
    if ((st = mi_context_run(c, ins, outs)) != MI_OK) goto done; /* warm-up */
    for (int r = 0; r < runs; r++) {
        double s = bench_now();
        if ((st = mi_context_run(c, ins, outs)) != MI_OK) goto done;
        times[r] = bench_now() - s;
    }
    qsort(times, (size_t)runs, sizeof *times, cmp_double);
    const mi_memory_plan *p = mi_model_plan(m);
    const mi__cpu *cpu = b->state;
    mi_strbuf_printf(t, "| %s | %lld | %d | %.1f | %.1f | %.2f | %.2f | %.2f | %.1f%% | %.2f |\n", mc->name,
                     (long long)it->dims[0], cpu->nthreads, 1e3 * times[runs / 2], 1e3 * times[0],
                     mib(mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS)), mib(mi_memory_plan_pool_size(p, MI_POOL_ARENA)),
                     mib(mi_memory_plan_pool_size(p, MI_POOL_IO)), 100.0 * mi_memory_plan_saving_ratio(p), load);
    printf("%s batch %lld, %d threads: median %.1f ms\n", mc->name, (long long)it->dims[0], cpu->nthreads,
           1e3 * times[runs / 2]);
    rc = 0;
done:
    if (st != MI_OK) fprintf(stderr, "bench_cpu: %s: %s: %s\n", mc->name, mi_status_name(st), mi_last_error());
    free(out);
    free(times);
    mi_context_destroy(c);
    mi_model_destroy(m);
    mi_backend_close(b);
    mi_tensor_data_free(&in);
    return rc;
}

int main(int argc, char **argv) {
    const char *dir = getenv("MI_MODELS_DIR"), *out = NULL;
    int runs = 10;
    if (!dir || !*dir) dir = "build/models";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) dir = argv[++i];
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: bench_cpu [--models DIR] [--runs N] [--out FILE.md]\n");
            return 2;
        }
    }
    if (runs < 1) runs = 1;
    static const model_case cases[] = {
        {"lenet5", 0, 0},           {"mobilenet_v2", 0, 0}, {"resnet50", 0, 0},
        {"resnet50", 0, 1},         {"resnet50_dynamic", 4, 0},
    };
    mi_backend *probe = NULL;
    if (mi_backend_cpu_create(NULL, &probe) != MI_OK) {
        fprintf(stderr, "bench_cpu: %s\n", mi_last_error());
        return 1;
    }
    const mi__cpu *cpu = probe->state;
    char machine[256];
    bench_machine(machine, sizeof machine);
    mi_strbuf t = {0};
    mi_strbuf_printf(&t, "# CPU backend benchmark\n\nMachine: %s. Date: %s. GEMM micro-kernel: %s (%dx%d); "
                         "threads by default: %d.\n\n",
                     machine, bench_date(), cpu->gk->name, cpu->gk->mr, cpu->gk->nr, cpu->nthreads);
    mi_backend_close(probe);
    mi_strbuf_printf(&t, "Each model runs once to warm up, then %d times through mi_context_run (inputs "
                         "copied in, outputs copied out); auto plan, in-place on, poison off. Pools in "
                         "MiB; saving is 1 - arena / naive arena; load is mi_model_load (parse, fold, "
                         "fuse, plan) in seconds. Load average (1 min) before the runs: %.2f.\n\n",
                     runs, load_average());
    mi_strbuf_printf(&t, "| model | batch | threads | median (ms) | best (ms) | weights | arena | io | "
                         "saving | load (s) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    int rc = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) rc |= bench_one(dir, &cases[i], runs, &t);
    printf("\n%s", t.s ? t.s : "");
    if (out && bench_write_file(out, t.s ? t.s : "")) rc = 1;
    free(t.s);
    return rc;
}
