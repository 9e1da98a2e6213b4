/* mini-infer on the GPU: latency and device memory of one model in one
 * configuration, as one JSON line (bench/gpu_vs_torch.py runs it once per
 * configuration, each in its own process, beside PyTorch).
 *
 *     bench_gpu MODEL.onnx [--batch N] [--graph] [--tf32] [--runs N]
 *               [--warmup N] [--max-workspace BYTES] [--device cuda:N]
 *               [--profile] [--verbose]
 *
 * The input is random (fixed seed) and stays on the device: the timed
 * loop is mi_context_execute alone, each run timed with CUDA events on
 * the context's stream; the host's time to enqueue each run (before it
 * waits) is reported too: where it comes near the latency, the run is
 * bound by the host, as eager runs of many small kernels are. --profile brackets the timed runs
 * with cudaProfilerStart/Stop for `nsys profile --capture-range=
 * cudaProfilerApi` (scripts/profile.sh). Without a usable GPU it prints
 * {"skipped": "..."} and exits 0. */
#include "cli/proc_status.h"
#include "mini_infer/cuda.h"
#include "mini_infer/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void log_line(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "%s\n", msg);
}

/* A JSON string body: quotes, backslashes and control characters escaped. */
static void json_str(const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", (unsigned)(unsigned char)*s);
        else putchar(*s);
    }
}

static int usage(void) {
    fprintf(stderr, "usage: bench_gpu MODEL.onnx [--batch N] [--precision fp32|fp16|bf16] [--layout auto|nchw|nhwc] "
                    "[--graph] [--tf32] [--runs N] [--warmup N] [--max-workspace BYTES] [--device cuda:N] "
                    "[--profile] [--verbose]\n");
    return 2;
}

static int fail(const char *what, mi_status st) {
    printf("{\"error\": \"");
    json_str(what);
    printf(": %s: ", mi_status_name(st));
    json_str(mi_last_error());
    printf("\"}\n");
    return 1;
}

int main(int argc, char **argv) {
    const char *path = NULL, *device = "cuda", *precision = "fp32", *layout = "auto";
    long batch = 0, runs = 100, warmup = 10;
    int graph = 0, tf32 = 0, profile = 0, verbose = 0;
    unsigned long long max_ws = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--batch") && more) batch = strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--runs") && more) runs = strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--warmup") && more) warmup = strtol(argv[++i], NULL, 10);
        else if (!strcmp(a, "--max-workspace") && more) max_ws = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--device") && more) device = argv[++i];
        else if (!strcmp(a, "--precision") && more) precision = argv[++i];
        else if (!strcmp(a, "--layout") && more) layout = argv[++i];
        else if (!strcmp(a, "--graph")) graph = 1;
        else if (!strcmp(a, "--tf32")) tf32 = 1;
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--verbose")) verbose = 1;
        else if (a[0] != '-' && !path) path = a;
        else return usage();
    }
    if (!path || batch < 0 || runs < 1 || warmup < 0) return usage();
    /* CUDA Graphs: the first run is eager and the second captures. */
    if (graph && warmup < 2) warmup = 2;

    mi_model_options o;
    mi_status st0;
    mi_model_options_init(&o);
    o.device = device;
    o.load.batch = batch;
    if ((st0 = mi_precision_parse(precision, &o.load.precision))) return fail("--precision", st0);
    if (!strcmp(layout, "nchw")) o.load.channels_last = 0;
    else if (!strcmp(layout, "nhwc")) o.load.channels_last = 1;
    else if (strcmp(layout, "auto")) return usage();
    o.backend.cuda_graph = graph;
    o.backend.tf32 = tf32;
    o.backend.max_workspace = (size_t)max_ws;
    o.backend.verbose = verbose;
    o.backend.log = verbose ? log_line : NULL;
    double t0 = now_ms();
    mi_model *m = NULL;
    mi_status st = mi_model_load(path, &o, &m);
    if (st == MI_ERR_NO_DEVICE) {
        printf("{\"skipped\": \"");
        json_str(mi_last_error());
        printf("\"}\n");
        return 0;
    }
    if (st) return fail("loading the model", st);
    mi_context *c = NULL;
    if ((st = mi_context_create(m, NULL, 0, &c))) {
        mi_model_destroy(m);
        return fail("creating a context", st);
    }
    double build_ms = now_ms() - t0;

    /* Random inputs, once; then everything stays on the device. */
    size_t ni = mi_model_input_count(m), no = mi_model_output_count(m);
    const void **ins = calloc(ni ? ni : 1, sizeof *ins);
    void **outs = calloc(no ? no : 1, sizeof *outs);
    unsigned seed = 1;
    for (size_t i = 0; i < ni; i++) {
        const mi_tensor *t = mi_model_input(m, i);
        unsigned char *p = malloc(t->nbytes ? t->nbytes : 1);
        if (t->dtype == MI_DTYPE_FLOAT)
            for (size_t k = 0; k < t->nbytes / 4; k++) {
                seed = seed * 1103515245u + 12345u;
                ((float *)(void *)p)[k] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
            }
        else memset(p, 0, t->nbytes);
        ins[i] = p;
    }
    for (size_t i = 0; i < no; i++) outs[i] = malloc(mi_model_output(m, i)->nbytes + 1);
    if ((st = mi_context_run(c, ins, outs))) return fail("the first run", st);

    for (long i = 0; i < warmup; i++)
        if ((st = mi_context_execute(c, 1))) return fail("a warm-up run", st);
    double *ms = calloc((size_t)runs, sizeof *ms), *enq = calloc((size_t)runs, sizeof *enq);
    if (!ms || !enq) return fail("timings", MI_ERR_NO_MEMORY);
    mi_backend *b = mi_model_backend(m);
    if (profile && (st = mi_backend_control(b, MI_CUDA_REQ_PROFILER, &(int){1})))
        return fail("cudaProfilerStart", st);
    for (long i = 0; i < runs; i++) {
        float t = 0;
        double h0 = 0, h1 = 0;
        if ((st = mi_context_timer_start(c)) || (h0 = now_ms(), st = mi_context_execute(c, 0)) ||
            (h1 = now_ms(), st = mi_context_timer_stop(c, &t)))
            return fail("a timed run", st);
        ms[i] = t;
        enq[i] = h1 - h0;
    }
    if (profile && (st = mi_backend_control(b, MI_CUDA_REQ_PROFILER, &(int){0})))
        return fail("cudaProfilerStop", st);
    qsort(ms, (size_t)runs, sizeof *ms, cmp_double);
    double median = runs % 2 ? ms[runs / 2] : 0.5 * (ms[runs / 2 - 1] + ms[runs / 2]);
    qsort(enq, (size_t)runs, sizeof *enq, cmp_double);
    double enq_median = runs % 2 ? enq[runs / 2] : 0.5 * (enq[runs / 2 - 1] + enq[runs / 2]);

    mi_cuda_memory mem;
    mi_cuda_device_info info;
    memset(&mem, 0, sizeof mem);
    memset(&info, 0, sizeof info);
    if ((st = mi_backend_control(b, MI_CUDA_REQ_MEMORY, &mem))) return fail("the memory report", st);
    if ((st = mi_backend_control(b, MI_CUDA_REQ_DEVICE_INFO, &info))) return fail("the device info", st);
    const mi_memory_plan *p = mi_model_plan(m);
    const mi_tensor *x = mi_model_input(m, 0);
    /* The nodes a run launches (views and copy-free concats launch nothing). */
    const mi_graph *g = mi_model_graph(m);
    size_t launched = 0, relayouts = 0;
    for (size_t k = 0; k < mi_graph_node_count(g); k++) {
        launched += !mi_memory_plan_node_elided(p, k);
        relayouts += mi_graph_node(g, k)->op == MI_OP_RELAYOUT;
    }
    printf("{\"engine\": \"mini-infer\", \"model\": \"");
    json_str(path);
    printf("\", \"batch\": %lld, \"graph\": %d, \"tf32\": %d, \"device\": \"", x && x->ndim ? (long long)x->dims[0] : 0LL,
           graph, tf32);
    json_str(info.name);
    printf("\", \"runs\": %ld, \"timer\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, \"max_ms\": %.4f, "
           "\"enqueue_median_ms\": %.4f, \"build_ms\": %.1f, \"weights_bytes\": %zu, \"arena_bytes\": %zu, \"io_bytes\": %zu, "
           "\"naive_arena_bytes\": %zu, \"pools_bytes\": %zu, \"precision\": \"%s\", \"nodes_launched\": %zu, "
           "\"relayout_nodes\": %zu, \"enqueue_us_per_node\": %.3f, ",
           runs, "cuda-events", median, ms[0], ms[runs - 1], enq_median, build_ms, mem.weights, mem.arena,
           mem.io, mi_memory_plan_naive_size(p), mem.pools, mi_precision_name(o.load.precision), launched, relayouts,
           launched ? enq_median * 1000.0 / (double)launched : 0.0);
    if (mem.process_known) printf("\"process_bytes\": %zu, \"process_note\": \"", mem.process);
    else printf("\"process_bytes\": null, \"process_note\": \"");
    json_str(mem.process_note);
    printf("\", \"host_rss_bytes\": %zu, \"host_peak_bytes\": %zu", mi_proc_status_bytes("VmRSS"),
           mi_proc_status_bytes("VmHWM"));
    printf(", \"device_used_bytes\": %zu, \"device_used_at_start\": %zu, \"max_workspace\": %zu, "
           "\"cudnn_version\": %zu, \"cublas_version\": %d, \"driver_version\": %d, \"runtime_version\": %d}\n",
           mem.device_used, mem.start_used, info.max_workspace, info.cudnn_version, info.cublas_version,
           info.driver_version, info.runtime_version);
    for (size_t i = 0; i < ni; i++) free((void *)ins[i]);
    for (size_t i = 0; i < no; i++) free(outs[i]);
    free(ins);
    free(outs);
    free(ms);
    free(enq);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return 0;
}
