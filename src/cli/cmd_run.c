/* mini-infer run: execute a planned model, check it, time it. */
#include "cli.h"
#include "cli_model.h"
#include "proc_status.h"
#include "mini_infer/cuda.h"
#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cli_opt run_opts[] = {
    {"--input", "FILES", "input tensors (.pb), comma-separated in input order (default: random, seed 0)"},
    {"--output", "FILES", "write the outputs (.pb), comma-separated in output order"},
    {"--check", "FILES", "compare the outputs with references (.pb): max|d|/max|ref| and top-1"},
    {"--tolerance", "X", "largest max|d|/max|ref| that --check accepts (default 1e-4)"},
    {"--device", "NAME", "cpu (default), cuda or cuda:N"},
    {"--batch", "N", "override the batch size (dim 0 of every input); MIN..MAX plans each size of a range"},
    {"--batches", "LIST", "plan each of these batch sizes (1,8,32) and run each in turn on one arena"},
    {"--bench", "N", "time N runs after warm-up; print min and median (cuda: CUDA events)"},
    {"--warmup", "N", "untimed runs before --bench's (default 1)"},
    {"--poison", NULL, "poison free arena bytes around every node and check them (cpu)"},
    {"--strategy", "NAME", "planner strategy (default auto)"},
    {"--alignment", "N", "alignment in bytes (default 256)"},
    {"--no-inplace", NULL, "no in-place ops, views or copy-free concat"},
    {"--max-pool", "BYTES", "the most bytes one pool may take, checked before allocating (default 1 TiB)"},
    {"--no-fuse", NULL, "do not fuse Conv+Relu, Conv+Add+Relu, Conv+Clip"},
    {"--precision", "NAME", "fp32 (default: as the model declares), fp16 or bf16 for every float tensor"},
    {"--layout", "NAME", "auto (default: nhwc for cuda in fp16 or bf16, else nchw), nchw or nhwc (channels last between convolutions)"},
    {"--max-workspace", "BYTES", "largest library workspace per node (cuda: the fastest conv algorithm that fits)"},
    {"--graph", NULL, "cuda: capture the run into a CUDA Graph and replay it"},
    {"--tf32", NULL, "cuda: allow TF32 tensor-core math (default off)"},
    {"--trust-external-data", NULL, "read external data through symbolic or hard links, also outside the model's folder"},
    {"--verbose", NULL, "log planning and backend decisions to stderr"},
};


/* A comma-separated list of at most max paths, each one a copy in
 * list->buf; exits on a list too long or out of memory. */
typedef struct path_list {
    char *buf;
    char *part[64];
    int n;
} path_list;

static void split_list(const cli_cmd *cmd, const char *opt, const char *text, path_list *list) {
    memset(list, 0, sizeof *list);
    if (!text) return;
    if (!(list->buf = strdup(text))) cli_fail(cmd, "%s: out of memory", opt);
    char *save = NULL;
    for (char *tok = strtok_r(list->buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (list->n == (int)(sizeof list->part / sizeof list->part[0]))
            cli_fail(cmd, "%s: more than %d files", opt, list->n);
        list->part[list->n++] = tok;
    }
}

static void shape_str(const mi_tensor *t, char *buf, size_t len) {
    size_t at = 0;
    buf[0] = '\0';
    for (int d = 0; d < t->ndim && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%lld", d ? "x" : "", (long long)t->dims[d]);
    if (t->ndim == 0) snprintf(buf, len, "scalar");
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of_sorted(const double *t, int n) {
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void print_cuda_device(const mi_cuda_device_info *d) {
    char total[32];
    printf("device     cuda:%d %s (sm_%d%d, %s, PCI %s), driver %d->%d, runtime %d->%d, cuDNN %zu.%zu.%zu, "
           "cuBLAS %d; TF32 %s, CUDA Graph %s\n",
           d->index, d->name, d->cc_major, d->cc_minor, cli_bytes(d->total_bytes, total, sizeof total), d->pci_bus_id,
           d->driver_version / 1000, d->driver_version % 1000 / 10, d->runtime_version / 1000,
           d->runtime_version % 1000 / 10, d->cudnn_version / 10000, d->cudnn_version / 100 % 100,
           d->cudnn_version % 100, d->cublas_version, d->tf32 ? "on" : "off", d->cuda_graph ? "on" : "off");
}

/* Where this process's device memory goes (docs/profiling.md, "Device
 * memory"): NVML's total, then its parts. */
static void print_cuda_memory(const cli_cmd *cmd, mi_backend *b) {
    mi_cuda_memory mem;
    mi_cuda_device_info info;
    mi_status st = mi_cuda_memory_get(b, &mem);
    if (!st) st = mi_cuda_device_info_get(b, &info);
    if (st) cli_fail_status(cmd, st);
    char b1[32], b2[32], b3[32], b4[32], b5[32];
    if (mem.process_known)
        printf("gpu memory this process %s on the device (NVML), of which:\n", cli_bytes(mem.process, b1, sizeof b1));
    else
        printf("gpu memory this process: unknown (%s); its known parts:\n", mem.process_note);
    if (mem.process_known)
        printf("             CUDA context and libraries %s (the rest: the context, cuDNN/cuBLAS modules and handles)\n",
               cli_bytes(mem.context_and_libraries, b1, sizeof b1));
    printf("             stack reservation %s (%zu B per thread, %d SMs x %d threads; our kernels need %zu B%s)\n",
           cli_bytes(mem.stack_reserved, b1, sizeof b1), mem.stack_limit, info.sm_count, info.threads_per_sm,
           info.stack_ours, info.stack_set ? "" : ", limit left as it was");
    printf("             our pools %s (weights %s, arena %s, inputs/outputs %s, other %s)\n",
           cli_bytes(mem.pools, b1, sizeof b1), cli_bytes(mem.weights, b2, sizeof b2),
           cli_bytes(mem.arena, b3, sizeof b3), cli_bytes(mem.io, b4, sizeof b4), cli_bytes(mem.other, b5, sizeof b5));
    printf("             library workspaces: planned in the arena, the largest %s (one node's)\n",
           cli_bytes(mem.workspace_max, b1, sizeof b1));
    printf("             CUDA Graph executables %s%s\n", cli_bytes(mem.graph_execs, b1, sizeof b1),
           mem.process_known ? "" : " (needs NVML)");
    printf("           device %s used of %s (%s when the backend started; every process)\n",
           cli_bytes(mem.device_used, b1, sizeof b1), cli_bytes(mem.device_total, b2, sizeof b2),
           cli_bytes(mem.start_used, b3, sizeof b3));
    if (info.module_loading != 2)
        printf("           warning: modules load %s: cuDNN and cuBLAS take hundreds of MiB more (unset "
               "CUDA_MODULE_LOADING, or a driver of CUDA 12.2 or later)\n",
               info.module_loading == 1 ? "eagerly" : "in a mode this driver does not say");
}

/* Compares a float output with its reference; returns 1 when it passes. */
static int check_output(const cli_cmd *cmd, const mi_tensor *t, const void *got, const char *path,
                        double tol) {
    mi_tensor_data ref;
    mi_status st = mi_tensor_file_read(path, &ref);
    if (st) cli_fail_status(cmd, st);
    if (ref.nbytes != t->nbytes || ref.dtype != t->dtype)
        cli_fail(cmd, "--check %s: reference has %zu bytes of %s, output '%s' has %zu bytes of %s", path,
                 ref.nbytes, mi_dtype_name(ref.dtype), t->name, t->nbytes, mi_dtype_name(t->dtype));
    int ok = 1;
    if (t->dtype == MI_DTYPE_FLOAT) {
        const float *a = got, *r = ref.data;
        size_t n = t->nbytes / sizeof(float);
        double maxd = 0, maxr = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)a[i] - (double)r[i]);
            if (d > maxd || isnan(d)) maxd = isnan(d) ? INFINITY : d;
            if (fabs((double)r[i]) > maxr) maxr = fabs((double)r[i]);
        }
        double err = maxr > 0 ? maxd / maxr : maxd;
        /* top-1 per row of the last dim */
        size_t cols = t->ndim ? (size_t)t->dims[t->ndim - 1] : 1, rows = cols ? n / cols : 0, agree = 0;
        for (size_t row = 0; row < rows; row++) {
            size_t ba = 0, br = 0;
            for (size_t j = 1; j < cols; j++) {
                if (a[row * cols + j] > a[row * cols + ba]) ba = j;
                if (r[row * cols + j] > r[row * cols + br]) br = j;
            }
            agree += ba == br;
        }
        ok = err <= tol && agree == rows;
        printf("check      %s: max|d|/max|ref| = %.3g (tolerance %.1g), top-1 agrees %zu/%zu: %s\n", path,
               err, tol, agree, rows, ok ? "PASS" : "FAIL");
    } else {
        ok = memcmp(got, ref.data, t->nbytes) == 0;
        printf("check      %s: %s output %s\n", path, mi_dtype_name(t->dtype), ok ? "identical: PASS" : "differs: FAIL");
    }
    mi_tensor_data_free(&ref);
    return ok;
}

/* What the options ask of a run. */
typedef struct run_settings {
    mi_model_options model;
    double tolerance;
    int bench, warmup, poison;
    const char *inputs, *checks, *outputs; /* comma-separated .pb files, or NULL */
} run_settings;

static void parse_run_options(const cli_cmd *cmd, const cli_args *a, run_settings *rs) {
    const char *v;
    memset(rs, 0, sizeof *rs);
    mi_model_options *o = &rs->model;
    mi_model_options_init(o);
    if ((v = cli_get(cmd, a, "--device"))) o->device = v;
    int64_t sizes[MI_MAX_BATCHES];
    int n = cli_batches(cmd, a, sizes);
    if (n == 1) o->load.batch = sizes[0];
    o->nbatches = n > 1 ? n : 0;
    for (int k = 0; k < o->nbatches; k++) o->batches[k] = sizes[k];
    cli_plan_options(cmd, a, &o->plan);
    if (cli_get(cmd, a, "--no-fuse")) o->load.fuse = 0;
    if (cli_get(cmd, a, "--trust-external-data")) o->load.external_data_anywhere = 1;
    cli_precision(cmd, a, &o->load);
    cli_layout(cmd, a, &o->load);
    if ((v = cli_get(cmd, a, "--max-workspace"))) o->backend.max_workspace = cli_size(cmd, "--max-workspace", v);
    if (cli_get(cmd, a, "--graph")) o->backend.cuda_graph = 1;
    if (cli_get(cmd, a, "--tf32")) o->backend.tf32 = 1;
    if (cli_get(cmd, a, "--verbose")) {
        o->backend.verbose = 1;
        o->backend.log = cli_log_stderr;
    }
    rs->tolerance = 1e-4;
    if ((v = cli_get(cmd, a, "--tolerance"))) rs->tolerance = cli_double(cmd, "--tolerance", v, 0, 1e9);
    rs->warmup = 1;
    if ((v = cli_get(cmd, a, "--bench"))) rs->bench = (int)cli_int(cmd, "--bench", v, 1, 1000000);
    if ((v = cli_get(cmd, a, "--warmup"))) rs->warmup = (int)cli_int(cmd, "--warmup", v, 0, 1000000);
    rs->poison = cli_get(cmd, a, "--poison") != NULL;
    rs->inputs = cli_get(cmd, a, "--input");
    rs->checks = cli_get(cmd, a, "--check");
    rs->outputs = cli_get(cmd, a, "--output");
}

static void print_model(const char *path, const char *device, mi_model *m, double load_seconds) {
    const mi_memory_plan *plan = mi_model_plan(m);
    const mi_solve_result *r = mi_memory_plan_result(plan);
    char b1[32], b2[32], b3[32], b4[32];
    size_t ws_max = 0;
    for (size_t k = 0; k < mi_graph_node_count(mi_model_graph(m)); k++) {
        size_t w = mi_memory_plan_workspace_size(plan, k);
        if (w > ws_max) ws_max = w;
    }
    printf("model      %s, device %s, load + plan %.1f ms\n", path, device, 1e3 * load_seconds);
    printf("pools      weights %s, arena %s (%s; lower bound %s), inputs/outputs %s\n",
           cli_bytes(mi_memory_plan_pool_size(plan, MI_POOL_WEIGHTS), b1, sizeof b1),
           cli_bytes(mi_model_arena_size(m), b2, sizeof b2), mi_strategy_name(r->strategy),
           cli_bytes(mi_memory_plan_lower_bound(plan), b3, sizeof b3),
           cli_bytes(mi_memory_plan_pool_size(plan, MI_POOL_IO), b4, sizeof b4));
    printf("workspace  largest %s, in the arena\n", cli_bytes(ws_max, b1, sizeof b1));
}

/* The host side of a run: each input's bytes (read from a file, or
 * random) and room for each output. */
typedef struct run_io {
    size_t ni, no;
    const void **ins;
    void **outs;
    mi_tensor_data *in_data; /* what ins point at */
    int from_files;
} run_io;

static void random_input(const cli_cmd *cmd, const mi_tensor *t, mi_tensor_data *d) {
    unsigned char *buf = malloc(t->nbytes ? t->nbytes : 1);
    if (!buf) cli_fail(cmd, "out of memory for input '%s'", t->name);
    uint64_t s = 0x9E3779B97F4A7C15ULL;
    size_t es = mi_dtype_size(t->dtype);
    for (size_t e = 0; es && e < t->nbytes / es; e++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        double u = (double)(s >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        if (t->dtype == MI_DTYPE_FLOAT) ((float *)buf)[e] = (float)u;
        else memset(buf + e * es, 0, es);
    }
    d->data = buf;
}

static void prepare_io(const cli_cmd *cmd, mi_model *m, const char *files, run_io *io) {
    memset(io, 0, sizeof *io);
    io->ni = mi_model_input_count(m);
    io->no = mi_model_output_count(m);
    io->ins = calloc(io->ni ? io->ni : 1, sizeof *io->ins);
    io->outs = calloc(io->no ? io->no : 1, sizeof *io->outs);
    io->in_data = calloc(io->ni ? io->ni : 1, sizeof *io->in_data);
    if (!io->ins || !io->outs || !io->in_data) cli_fail(cmd, "out of memory");
    path_list list;
    split_list(cmd, "--input", files, &list);
    io->from_files = files != NULL;
    if (files && (size_t)list.n != io->ni) cli_fail(cmd, "--input: %d files for %zu inputs", list.n, io->ni);
    for (size_t i = 0; i < io->ni; i++) {
        const mi_tensor *t = mi_model_input(m, i);
        mi_tensor_data *d = &io->in_data[i];
        char shape[128];
        shape_str(t, shape, sizeof shape);
        if (files) {
            mi_status st = mi_tensor_file_read(list.part[i], d);
            if (st) cli_fail_status(cmd, st);
            if (d->nbytes != t->nbytes || d->dtype != t->dtype)
                cli_fail(cmd, "--input %s: %zu bytes of %s, but input '%s' (%s) takes %zu bytes of %s", list.part[i],
                         d->nbytes, mi_dtype_name(d->dtype), t->name, shape, t->nbytes, mi_dtype_name(t->dtype));
            printf("input      '%s' %s from %s\n", t->name, shape, list.part[i]);
        } else {
            random_input(cmd, t, d);
            printf("input      '%s' %s %s\n", t->name, shape,
                   t->dtype == MI_DTYPE_FLOAT ? "random in [-1, 1] (seed 0)" : "zeros");
        }
        io->ins[i] = d->data;
    }
    free(list.buf);
    for (size_t i = 0; i < io->no; i++) {
        size_t n = mi_model_output(m, i)->nbytes;
        if (!(io->outs[i] = malloc(n ? n : 1))) cli_fail(cmd, "out of memory for outputs");
    }
}

static void free_io(run_io *io) {
    for (size_t i = 0; i < io->ni; i++) {
        if (io->from_files) mi_tensor_data_free(&io->in_data[i]);
        else free(io->in_data[i].data);
    }
    for (size_t i = 0; i < io->no; i++) free(io->outs[i]);
    free(io->in_data);
    free(io->ins);
    free(io->outs);
}

/* --check: 1 when every output given a reference matches it. */
static int check_outputs(const cli_cmd *cmd, mi_model *m, const run_io *io, const char *files, double tol) {
    path_list list;
    split_list(cmd, "--check", files, &list);
    if ((size_t)list.n > io->no) cli_fail(cmd, "--check: %d files for %zu outputs", list.n, io->no);
    int ok = 1;
    for (int i = 0; i < list.n; i++)
        if (!check_output(cmd, mi_model_output(m, (size_t)i), io->outs[i], list.part[i], tol)) ok = 0;
    free(list.buf);
    return ok;
}

static void write_outputs(const cli_cmd *cmd, mi_model *m, const run_io *io, const char *files) {
    path_list list;
    split_list(cmd, "--output", files, &list);
    if ((size_t)list.n > io->no) cli_fail(cmd, "--output: %d files for %zu outputs", list.n, io->no);
    for (int i = 0; i < list.n; i++) {
        const mi_tensor *t = mi_model_output(m, (size_t)i);
        mi_status st = mi_tensor_file_write(list.part[i], t->name, t->dtype, t->ndim, t->dims, io->outs[i]);
        if (st) cli_fail_status(cmd, st);
        printf("output     '%s' written to %s\n", t->name, list.part[i]);
    }
    free(list.buf);
}

/* The inputs are on the device since the first run: time the network
 * alone, with the device's own clock (CUDA events), as bench/bench_gpu
 * does. cudaProfilerStart/Stop around it: `nsys
 * --capture-range=cudaProfilerApi` (scripts/profile.sh) records the timed
 * runs alone. */
static void bench_on_device(const cli_cmd *cmd, mi_context *c, mi_backend *backend, const run_settings *rs,
                            double *ms) {
    mi_status st;
    for (int i = 0; i < rs->warmup; i++)
        if ((st = mi_context_execute(c, 1))) cli_fail_status(cmd, st);
    if ((st = mi_cuda_profiler(backend, 1))) cli_fail_status(cmd, st);
    for (int i = 0; i < rs->bench; i++) {
        float t = 0;
        if ((st = mi_context_timer_start(c)) || (st = mi_context_execute(c, 0)) || (st = mi_context_timer_stop(c, &t)))
            cli_fail_status(cmd, st);
        ms[i] = t;
    }
    if ((st = mi_cuda_profiler(backend, 0))) cli_fail_status(cmd, st);
}

static void bench_on_host(const cli_cmd *cmd, mi_context *c, const run_io *io, const run_settings *rs, double *ms) {
    mi_status st;
    for (int i = 0; i < rs->warmup; i++)
        if ((st = mi_context_run(c, io->ins, io->outs))) cli_fail_status(cmd, st);
    for (int i = 0; i < rs->bench; i++) {
        double s0 = cli_now();
        if ((st = mi_context_run(c, io->ins, io->outs))) cli_fail_status(cmd, st);
        ms[i] = 1e3 * (cli_now() - s0);
    }
}

static void bench(const cli_cmd *cmd, mi_context *c, mi_backend *backend, int cuda, const run_io *io,
                  const run_settings *rs) {
    double *ms = malloc((size_t)rs->bench * sizeof *ms);
    if (!ms) cli_fail(cmd, "out of memory");
    if (cuda) bench_on_device(cmd, c, backend, rs, ms);
    else bench_on_host(cmd, c, io, rs, ms);
    qsort(ms, (size_t)rs->bench, sizeof *ms, cmp_double);
    printf("latency    min %.3f ms, median %.3f ms over %d runs (%s, %d warm-up)\n", ms[0],
           median_of_sorted(ms, rs->bench), rs->bench,
           cuda ? "CUDA events, inputs already on the device" : "host wall time, with input/output copies",
           rs->warmup);
    free(ms);
}

/* The peak of the whole process, loading included: for a moment the
 * mapped ONNX file and its parse live together (protobuf-c copies every
 * bytes field), about twice the file. */
static void print_host_memory(size_t rss_before) {
    char b1[32], b2[32], b3[32];
    size_t hwm = mi_proc_status_bytes("VmHWM"), rss = mi_proc_status_bytes("VmRSS");
    if (hwm)
        printf("host mem   peak %s resident, %s now (this process; %s before the model was loaded)\n",
               cli_bytes(hwm, b1, sizeof b1), cli_bytes(rss, b3, sizeof b3), cli_bytes(rss_before, b2, sizeof b2));
}

/* ---- several models, or a batch range, on one arena ---------------------------------- */

typedef struct set_run {
    const char *path;
    mi_model *m;
    mi_context *c;
    run_io io[MI_MAX_BATCHES];
} set_run;

/* Each (model, size) pair's median ms of n runs, into med[pair]: the
 * pairs in turn when cycle, else each pair n times before the next. */
static void time_runs(const cli_cmd *cmd, set_run *sr, int nm, int n, int cycle, double *med) {
    int pairs = 0;
    for (int i = 0; i < nm; i++) pairs += (int)mi_model_batch_count(sr[i].m);
    double *ms = malloc((size_t)n * (size_t)pairs * sizeof *ms);
    if (!ms) cli_fail(cmd, "out of memory");
    for (int outer = 0; outer < (cycle ? n : 1); outer++) {
        int p = 0;
        for (int i = 0; i < nm; i++)
            for (size_t k = 0; k < mi_model_batch_count(sr[i].m); k++, p++)
                for (int r = 0; r < (cycle ? 1 : n); r++) {
                    int64_t b = mi_model_batch(sr[i].m, k);
                    double s0 = cli_now();
                    mi_status st = mi_context_run_batch(sr[i].c, b, sr[i].io[k].ins, sr[i].io[k].outs);
                    if (st) cli_fail_status(cmd, st);
                    ms[(size_t)p * (size_t)n + (size_t)(cycle ? outer : r)] = 1e3 * (cli_now() - s0);
                }
    }
    for (int p = 0; p < pairs; p++) {
        qsort(ms + (size_t)p * (size_t)n, (size_t)n, sizeof *ms, cmp_double);
        med[p] = median_of_sorted(ms + (size_t)p * (size_t)n, n);
    }
    free(ms);
}

static int run_set(const cli_cmd *cmd, const cli_args *a, run_settings *rs) {
    if (rs->inputs || rs->checks || rs->outputs)
        cli_fail(cmd, "--input, --check and --output take one model at one batch size");
    int nm = a->npositional;
    mi_status st;
    size_t rss0 = mi_proc_status_bytes("VmRSS");
    mi_backend *b = NULL;
    if ((st = mi_backend_open(rs->model.device, &rs->model.backend, &b))) cli_fail_status(cmd, st);
    set_run *sr = calloc((size_t)nm, sizeof *sr);
    mi_model **models = calloc((size_t)nm, sizeof *models);
    if (!sr || !models) cli_fail(cmd, "out of memory");
    char b1[32], b2[32], b3[32], b4[32];
    size_t separate = 0, weights = 0, io = 0;
    for (int i = 0; i < nm; i++) {
        mi_model_options o = rs->model;
        o.backend_instance = b;
        sr[i].path = a->positional[i];
        double t0 = cli_now();
        if ((st = mi_model_load(sr[i].path, &o, &sr[i].m))) cli_fail_status(cmd, st);
        double t1 = cli_now();
        models[i] = sr[i].m;
        size_t arena = mi_model_arena_size(sr[i].m);
        for (size_t k = 0; k < mi_model_batch_count(sr[i].m); k++)
            separate += mi_memory_plan_pool_size(
                mi_model_plan(mi_model_at_batch(sr[i].m, mi_model_batch(sr[i].m, k))), MI_POOL_ARENA);
        weights += mi_model_weights_size(sr[i].m);
        io += mi_model_io_size(sr[i].m);
        printf("model      %s, device %s, %zu batch size%s (", sr[i].path, rs->model.device,
               mi_model_batch_count(sr[i].m), mi_model_batch_count(sr[i].m) == 1 ? "" : "s");
        for (size_t k = 0; k < mi_model_batch_count(sr[i].m); k++)
            printf("%s%lld", k ? ", " : "", (long long)mi_model_batch(sr[i].m, k));
        printf("), load + plan %.1f ms\n", 1e3 * (t1 - t0));
        printf("pools      weights %s, arena %s, inputs/outputs %s\n",
               cli_bytes(mi_model_weights_size(sr[i].m), b1, sizeof b1), cli_bytes(arena, b2, sizeof b2),
               cli_bytes(mi_model_io_size(sr[i].m), b3, sizeof b3));
    }
    mi_arena *ar = NULL;
    if ((st = mi_arena_create(models, (size_t)nm, NULL, 0, &ar))) cli_fail_status(cmd, st);
    printf("shared     arena %s for all (%s if each model and batch size had its own), weights %s, "
           "inputs/outputs %s\n",
           cli_bytes(mi_arena_bytes(ar), b1, sizeof b1), cli_bytes(separate, b2, sizeof b2),
           cli_bytes(weights, b3, sizeof b3), cli_bytes(io, b4, sizeof b4));
    for (int i = 0; i < nm; i++) {
        if ((st = mi_context_create_on(sr[i].m, ar, &sr[i].c))) cli_fail_status(cmd, st);
        if (rs->poison && (st = mi_context_set_poison(sr[i].c, 1))) cli_fail_status(cmd, st);
        for (size_t k = 0; k < mi_model_batch_count(sr[i].m); k++) {
            int64_t bk = mi_model_batch(sr[i].m, k);
            mi_model *at = mi_model_at_batch(sr[i].m, bk);
            prepare_io(cmd, at, NULL, &sr[i].io[k]);
            double r0 = cli_now();
            if ((st = mi_context_run_batch(sr[i].c, bk, sr[i].io[k].ins, sr[i].io[k].outs))) cli_fail_status(cmd, st);
            printf("run        %s at batch %lld: %.2f ms%s\n", sr[i].path, (long long)bk, 1e3 * (cli_now() - r0),
                   rs->poison ? " (poison mode: checked)" : "");
        }
    }
    if (rs->bench) {
        for (int i = 0; i < nm; i++)
            if ((st = mi_context_warmup(sr[i].c))) cli_fail_status(cmd, st);
        int pairs = 0;
        for (int i = 0; i < nm; i++) pairs += (int)mi_model_batch_count(sr[i].m);
        double *same = malloc(2 * (size_t)pairs * sizeof *same), *cycled = same ? same + pairs : NULL;
        if (!same) cli_fail(cmd, "out of memory");
        time_runs(cmd, sr, nm, rs->bench, 0, same);
        time_runs(cmd, sr, nm, rs->bench, 1, cycled);
        int p = 0;
        double lo = 0, hi = 0, logsum = 0;
        for (int i = 0; i < nm; i++)
            for (size_t k = 0; k < mi_model_batch_count(sr[i].m); k++, p++) {
                double ratio = same[p] > 0 ? cycled[p] / same[p] : 1.0;
                printf("switching  %s at batch %lld: median %.3f ms back to back, %.3f ms cycling through every model "
                       "and size (%.2fx)\n", sr[i].path, (long long)mi_model_batch(sr[i].m, k), same[p], cycled[p],
                       ratio);
                lo = p == 0 || ratio < lo ? ratio : lo;
                hi = p == 0 || ratio > hi ? ratio : hi;
                logsum += log(ratio);
            }
        printf("switching  cycling / back to back: %.2f-%.2fx, geometric mean %.2fx (%d runs each, host wall time "
               "with copies)\n", lo, hi, exp(logsum / pairs), rs->bench);
        free(same);
    }
    print_host_memory(rss0);
    mi_cuda_device_info dinfo;
    if (mi_cuda_device_info_get(b, &dinfo) == MI_OK) print_cuda_memory(cmd, b);
    else mi_clear_error();
    for (int i = 0; i < nm; i++) {
        for (size_t k = 0; k < mi_model_batch_count(sr[i].m); k++) free_io(&sr[i].io[k]);
        mi_context_destroy(sr[i].c);
        mi_model_destroy(sr[i].m);
    }
    mi_arena_destroy(ar);
    mi_backend_close(b);
    free(sr);
    free(models);
    return 0;
}

static int run_run(const cli_cmd *cmd, int argc, char **argv) {
    cli_args a;
    cli_parse(cmd, argc, argv, &a);
    const char *path = a.positional[0];
    run_settings rs;
    parse_run_options(cmd, &a, &rs);
    if (a.npositional > 1 || rs.model.nbatches > 1) return run_set(cmd, &a, &rs);
    mi_status st;

    size_t rss0 = mi_proc_status_bytes("VmRSS");
    double t0 = cli_now();
    mi_model *m;
    if ((st = mi_model_load(path, &rs.model, &m))) cli_fail_status(cmd, st);
    double t1 = cli_now();
    mi_context *c;
    if ((st = mi_context_create(m, NULL, 0, &c))) cli_fail_status(cmd, st);
    if (rs.poison && (st = mi_context_set_poison(c, 1))) cli_fail_status(cmd, st);
    print_model(path, rs.model.device, m, t1 - t0);
    mi_backend *backend = mi_model_backend(m);
    /* What the backend answers decides, not its name: one that gives CUDA
     * device information also times with CUDA events. */
    mi_cuda_device_info dinfo;
    int cuda = mi_cuda_device_info_get(backend, &dinfo) == MI_OK;
    if (cuda) print_cuda_device(&dinfo);
    else mi_clear_error();

    run_io io;
    prepare_io(cmd, m, rs.inputs, &io);
    double r0 = cli_now();
    if ((st = mi_context_run(c, io.ins, io.outs))) cli_fail_status(cmd, st);
    printf("run        %.2f ms%s\n", 1e3 * (cli_now() - r0), rs.poison ? " (poison mode: checked)" : "");
    int rc = rs.checks && !check_outputs(cmd, m, &io, rs.checks, rs.tolerance) ? 1 : 0;
    if (rs.outputs) write_outputs(cmd, m, &io, rs.outputs);
    if (rs.bench) bench(cmd, c, backend, cuda, &io, &rs);
    print_host_memory(rss0);
    if (cuda) print_cuda_memory(cmd, backend);
    free_io(&io);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return rc;
}

const cli_cmd cli_cmd_run = {
    "run",
    "run MODEL.onnx [MODEL2.onnx ...] [options]",
    "Run a model inside its planned memory: one allocation per pool, every tensor at its offset.",
    "Prints the pools, the run time, and with --check the normalized error and top-1 agreement.\n"
    "Exit status: 0 ran (and every check passed), 1 a check failed, 2 bad input or a failed run.\n"
    "Several models, or a batch range, load on one backend and run in turn on one shared arena\n"
    "(random inputs); the memory is printed against each model having its own arena.",
    run_opts,
    sizeof run_opts / sizeof run_opts[0],
    1,
    run_run,
    8,
};
