/* The model zoo on the GPU (scripts/make_models.py, fixture
 * models.generate): each model's test input through the CUDA backend,
 * compared with PyTorch's output by normalized error; CUDA Graphs (eager,
 * captured, replayed: identical results); TF32; the memory report; an
 * out-of-memory build that names the pool and leaks nothing; a run
 * enqueued on the caller's stream; and the NVTX ranges of real runs.
 * Without a usable GPU every test reports SKIPPED; CUDA is initialised
 * only inside the tests. scripts/gpu-check.sh also runs this file under
 * compute-sanitizer. */
#include <criterion/criterion.h>

#include "model_data.h"

#include "common/alloc_hook.h"
#include "graph_build.h"
#include "mini_infer/cuda.h"
#include "mini_infer/runtime.h"
#include "mini_infer/tensor_io.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_PATH(name) MI_MODELS_DIR "/" name "/model.onnx"
#define DATA_PATH(name, file) MI_MODELS_DIR "/" name "/test_data_set_0/" file

/* Skips when no GPU is usable, before anything reads the zoo. */
static void require_gpu(void) {
    mi_backend *b = NULL;
    mi_status st = mi_backend_open("cuda", NULL, &b);
    if (st == MI_ERR_NO_DEVICE) cr_skip_test("%s", mi_last_error());
    cr_assert_eq(st, MI_OK, "%s: %s", mi_status_name(st), mi_last_error());
    mi_backend_close(b);
}

static mi_model *load_cuda_in(const char *path, int64_t batch, int graph, int tf32, size_t max_ws,
                              mi_precision prec) {
    require_gpu();
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = "cuda";
    o.load.precision = prec; /* half: channels last too, the runtime's choice for CUDA */
    o.backend.max_workspace = max_ws;
    o.load.batch = batch;
    o.backend.cuda_graph = graph;
    o.backend.tf32 = tf32;
    mi_model *m = NULL;
    mi_status st = mi_model_load(path, &o, &m);
    if (st == MI_ERR_NO_DEVICE) cr_skip_test("%s", mi_last_error());
    cr_assert_eq(st, MI_OK, "%s: %s: %s", path, mi_status_name(st), mi_last_error());
    /* The weights live on the device alone: no host copy is kept. */
    const mi_graph *g = mi_model_graph(m);
    for (size_t t = 0; t < mi_graph_tensor_count(g); t++)
        if (mi_memory_plan_tensor(mi_model_plan(m), t)->pool == MI_POOL_WEIGHTS)
            cr_assert_null(mi_graph_tensor(g, t)->data, "%s: '%s' kept a host copy", path,
                           mi_graph_tensor(g, t)->name);
    if (prec != MI_PRECISION_FP32) {
        size_t relayouts = 0, convs = 0;
        for (size_t k = 0; k < mi_graph_node_count(g); k++) {
            relayouts += mi_graph_node(g, k)->op == MI_OP_RELAYOUT;
            convs += mi_graph_node(g, k)->op == MI_OP_CONV;
        }
        if (convs) cr_assert_gt(relayouts, 0, "%s: CUDA in half precision is channels last by default", path);
    }
    return m;
}

static mi_model *load_cuda(const char *path, int64_t batch, int graph, int tf32, size_t max_ws) {
    return load_cuda_in(path, batch, graph, tf32, max_ws, MI_PRECISION_FP32);
}

static double normalized_error(const float *a, const float *r, int64_t n) {
    double err = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)r[i]);
        if (!(d <= err)) err = d; /* NaN wins */
        if (fabs(r[i]) > scale) scale = fabs(r[i]);
    }
    return err / (scale > 0 ? scale : 1);
}

/* Runs a zoo model `runs` times on its test input; every run within tol
 * of PyTorch's output, and all runs identical to each other. */
static void zoo_case_in(const char *name, const char *path, const char *in_path, const char *out_path, int64_t batch,
                        int graph, int tf32, size_t max_ws, double tol, int runs, mi_precision prec) {
    mi_model *m = load_cuda_in(path, batch, graph, tf32, max_ws, prec);
    if (max_ws) { /* every conv took an algorithm within the budget */
        const mi_memory_plan *p = mi_model_plan(m);
        for (size_t k = 0; k < mi_graph_node_count(mi_model_graph(m)); k++) {
            const mi_node *n = mi_graph_node(mi_model_graph(m), k);
            cr_assert(n->op != MI_OP_CONV || mi_memory_plan_workspace_size(p, k) <= max_ws + 2 * 256 + 4 * 2048,
                      "conv '%s' workspace %zu over a budget of %zu", n->name, mi_memory_plan_workspace_size(p, k),
                      max_ws);
        }
    }
    mi_tensor_data in, want;
    cr_assert_eq(mi_tensor_file_read(in_path, &in), MI_OK, "%s", mi_last_error());
    cr_assert_eq(mi_tensor_file_read(out_path, &want), MI_OK, "%s", mi_last_error());
    const mi_tensor *yt = mi_model_output(m, 0);
    cr_assert_eq(in.nbytes, mi_model_input(m, 0)->nbytes, "%s: input size", name);
    cr_assert_eq(want.nbytes, yt->nbytes, "%s: output size", name);
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    float *y = malloc(yt->nbytes), *first = malloc(yt->nbytes);
    for (int run = 0; run < runs; run++) {
        const void *ins[] = {in.data};
        void *outs[] = {y};
        cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s run %d: %s", name, run, mi_last_error());
        double e = normalized_error(y, want.data, mi_tensor_numel(yt));
        cr_assert(e <= tol, "%s run %d: normalized error %.3g > %.3g", name, run, e, tol);
        if (run == 0) memcpy(first, y, yt->nbytes);
        else cr_assert(memcmp(first, y, yt->nbytes) == 0, "%s: run %d differs from run 0", name, run);
    }
    free(y);
    free(first);
    mi_tensor_data_free(&in);
    mi_tensor_data_free(&want);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

#define ZOO(name, batch, graph, tf32, max_ws, tol, runs)                                              \
    zoo_case_in(name, MODEL_PATH(name), DATA_PATH(name, "input_0.pb"), DATA_PATH(name, "output_0.pb"), \
                batch, graph, tf32, max_ws, tol, runs, MI_PRECISION_FP32)
/* Half precision against PyTorch's fp32 output, with the CPU backend's
 * tolerances per model (tests/test_models_cpu.c, HALF_TOL: the random
 * weights amplify rounding); fp16 then bf16. */
#define ZOO_HALF(name, batch, graph, tol16, tolbf, runs)                                               \
    do {                                                                                               \
        zoo_case_in(name, MODEL_PATH(name), DATA_PATH(name, "input_0.pb"), DATA_PATH(name, "output_0.pb"), \
                    batch, graph, 0, 0, tol16, runs, MI_PRECISION_FP16);                               \
        zoo_case_in(name, MODEL_PATH(name), DATA_PATH(name, "input_0.pb"), DATA_PATH(name, "output_0.pb"), \
                    batch, graph, 0, 0, tolbf, runs, MI_PRECISION_BF16);                               \
    } while (0)

Test(cuda_models, lenet5) { ZOO("lenet5", 0, 0, 0, 0, 1e-4, 2); }
Test(cuda_models, mobilenet_v2) { ZOO("mobilenet_v2", 0, 0, 0, 0, 1e-3, 2); }
Test(cuda_models, resnet50) { ZOO("resnet50", 0, 0, 0, 0, 1e-3, 2); }
Test(cuda_models, resnet50_batch4_cuda_graph) { ZOO("resnet50_dynamic", 4, 1, 0, 0, 1e-3, 4); }
Test(cuda_models, mobilenet_v2_cuda_graph) { ZOO("mobilenet_v2", 0, 1, 0, 0, 1e-3, 4); }
Test(cuda_models, resnet50_tf32) { ZOO("resnet50", 0, 0, 1, 0, 3e-2, 2); }
/* A budget of 1 byte: every conv takes a zero-workspace algorithm (and
 * the identity-activation ones our epilogue), and the answer holds. */
Test(cuda_models, resnet50_tight_workspace_budget) { ZOO("resnet50", 0, 0, 0, 1, 1e-3, 1); }
Test(cuda_models, mobilenet_v2_tight_workspace_budget) { ZOO("mobilenet_v2", 0, 0, 0, 1, 1e-3, 1); }
Test(cuda_models, lenet5_fp16_bf16) { ZOO_HALF("lenet5", 0, 0, 1e-2, 5e-2, 2); }
Test(cuda_models, mobilenet_v2_fp16_bf16) { ZOO_HALF("mobilenet_v2", 0, 0, 3e-2, 0.15, 2); }
Test(cuda_models, resnet50_fp16_bf16) { ZOO_HALF("resnet50", 0, 0, 6e-2, 0.25, 2); }
Test(cuda_models, resnet50_batch4_fp16_bf16_cuda_graph) { ZOO_HALF("resnet50_dynamic", 4, 1, 6e-2, 0.25, 3); }

/* ---- memory ------------------------------------------------------------------------------- */

Test(cuda_models, memory_report_matches_the_plan) {
    mi_model *m = load_cuda(MODEL_PATH("resnet50"), 0, 0, 0, 0);
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    mi_cuda_memory mem;
    cr_assert_eq(mi_backend_control(mi_model_backend(m), MI_CUDA_REQ_MEMORY, &mem), MI_OK, "%s",
                 mi_last_error());
    const mi_memory_plan *p = mi_model_plan(m);
    cr_assert_eq(mem.weights, mi_memory_plan_pool_size(p, MI_POOL_WEIGHTS));
    cr_assert_eq(mem.arena, mi_memory_plan_pool_size(p, MI_POOL_ARENA));
    cr_assert_eq(mem.io, mi_memory_plan_pool_size(p, MI_POOL_IO));
    cr_assert_eq(mem.other, 0, "one allocation per pool, nothing else");
    cr_assert_eq(mem.pools, mem.weights + mem.arena + mem.io);
    cr_assert_geq(mem.device_used, mem.pools);
    if (mem.process_known) cr_assert_geq(mem.process, mem.pools, "NVML counts the pools and the context");
    else cr_log_warn("NVML has no figure for this process: %s", mem.process_note);
    mi_cuda_device_info info;
    cr_assert_eq(mi_backend_control(mi_model_backend(m), MI_CUDA_REQ_DEVICE_INFO, &info), MI_OK);
    cr_assert_gt(info.cc_major, 0);
    cr_assert_eq(info.tf32, 0);
    cr_assert_gt(info.cudnn_version, 90000);
    /* The footprint: the stack limit as set (raised only by a library's
     * kernel), its reservation, the workspaces inside the arena. */
    cr_assert_gt(info.sm_count, 0);
    cr_assert_gt(info.threads_per_sm, 0);
    cr_assert_geq(mem.stack_limit, info.stack_ours);
    if (info.stack_set) cr_assert_geq(mem.stack_limit, info.stack_set);
    cr_assert_eq(mem.stack_reserved, (size_t)info.sm_count * (size_t)info.threads_per_sm * mem.stack_limit);
    cr_assert_gt(mem.workspace_max, 0, "ResNet-50's convolutions have workspaces");
    cr_assert_leq(mem.workspace_max, mem.arena);
    if (mem.process_known) cr_assert_leq(mem.context_and_libraries, mem.process);
    cr_log_info("stack %zu B per thread (ours %zu, set %zu), reserving %zu B; modules %s; context and libraries %zu B",
                mem.stack_limit, info.stack_ours, info.stack_set, mem.stack_reserved,
                info.module_loading == 2 ? "lazy" : info.module_loading == 1 ? "EAGER" : "unknown",
                mem.context_and_libraries);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* x (256 MiB) concatenated 16 x 16 x 3 times: a 192 GiB output, more than
 * any single GPU holds. */
static void b_huge(gb *b) {
    gb_init(b, 13);
    gb_input(b, "x", MI_DTYPE_INT8, 2, D(1, (int64_t)1 << 28));
    gb_node(b, "Concat", "c1", "x,x,x,x,x,x,x,x,x,x,x,x,x,x,x,x", "a", A(AI("axis", 1)));
    gb_node(b, "Concat", "c2", "a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a", "b", A(AI("axis", 1)));
    gb_node(b, "Concat", "c3", "b,b,b", "y", A(AI("axis", 1)));
    gb_output(b, "y");
}

Test(cuda_models, out_of_memory_names_the_pool_and_leaks_nothing) {
    mi_backend *probe = NULL;
    mi_status st = mi_backend_open("cuda", NULL, &probe);
    if (st == MI_ERR_NO_DEVICE) cr_skip_test("%s", mi_last_error());
    cr_assert_eq(st, MI_OK, "%s", mi_last_error());
    mi_cuda_memory before, after;
    cr_assert_eq(mi_backend_control(probe, MI_CUDA_REQ_MEMORY, &before), MI_OK);
    int64_t host_before = mi__alloc_outstanding();
    gb b;
    b_huge(&b);
    gb_ok(&b);
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = "cuda";
    mi_model *m = NULL;
    mi_context *c = NULL;
    st = mi_model_create(b.g, &o, &m);
    cr_assert_eq(st, MI_OK, "%s", mi_last_error());
    st = mi_context_create(m, NULL, 0, &c);
    cr_assert_eq(st, MI_ERR_DEVICE_MEMORY, "%s: %s", mi_status_name(st), mi_last_error());
    cr_assert_null(c);
    const char *msg = mi_last_error();
    cr_assert(strstr(msg, "activations arena") || strstr(msg, "inputs/outputs pool"), "names the pool: %s", msg);
    cr_assert(strstr(msg, "cudaMalloc of ") && strstr(msg, " bytes"), "gives the bytes: %s", msg);
    mi_model_destroy(m);
    cr_assert_eq(mi__alloc_outstanding(), host_before, "host memory leaked");
    cr_assert_eq(mi_backend_control(probe, MI_CUDA_REQ_MEMORY, &after), MI_OK);
    cr_assert_leq(after.device_used, before.device_used + ((size_t)64 << 20),
                  "device memory: %zu bytes used before, %zu after", before.device_used, after.device_used);
    mi_backend_close(probe);
}

/* ---- streams -------------------------------------------------------------------------------- */

Test(cuda_models, run_enqueued_on_the_callers_stream) {
    mi_model *m = load_cuda(MODEL_PATH("lenet5"), 0, 1, 0, 0);
    mi_tensor_data in, want;
    cr_assert_eq(mi_tensor_file_read(DATA_PATH("lenet5", "input_0.pb"), &in), MI_OK);
    cr_assert_eq(mi_tensor_file_read(DATA_PATH("lenet5", "output_0.pb"), &want), MI_OK);
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    cudaStream_t s;
    cr_assert_eq(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
    cr_assert_eq(mi_context_set_stream(c, s), MI_OK, "%s", mi_last_error());
    void *got = NULL;
    cr_assert_eq(mi_context_get_stream(c, &got), MI_OK);
    cr_assert_eq(got, (void *)s);
    const mi_graph *g = mi_model_graph(m);
    void *xin = mi_context_tensor_ptr(c, (size_t)mi_graph_input(g, 0));
    void *yout = mi_context_tensor_ptr(c, (size_t)mi_graph_output(g, 0));
    float *y = malloc(want.nbytes);
    for (int run = 0; run < 4; run++) { /* eager, capture, replays: all on s */
        memset(y, 0, want.nbytes);
        cr_assert_eq(cudaMemcpyAsync(xin, in.data, in.nbytes, cudaMemcpyHostToDevice, s), cudaSuccess);
        cr_assert_eq(mi_context_timer_start(c), MI_OK, "%s", mi_last_error());
        cr_assert_eq(mi_context_execute(c, 0), MI_OK, "run %d: %s", run, mi_last_error());
        float ms = -1;
        cr_assert_eq(mi_context_timer_stop(c, &ms), MI_OK, "%s", mi_last_error());
        cr_assert_geq(ms, 0.0f);
        cr_assert_eq(cudaMemcpyAsync(y, yout, want.nbytes, cudaMemcpyDeviceToHost, s), cudaSuccess);
        cr_assert_eq(cudaStreamSynchronize(s), cudaSuccess);
        double e = normalized_error(y, want.data, (int64_t)(want.nbytes / 4));
        cr_assert(e <= 1e-4, "run %d on the caller's stream: normalized error %.3g", run, e);
    }
    cr_assert_eq(mi_context_set_stream(c, NULL), MI_OK);
    free(y);
    mi_context_destroy(c);
    cudaStreamDestroy(s);
    mi_tensor_data_free(&in);
    mi_tensor_data_free(&want);
    mi_model_destroy(m);
}

/* ---- NVTX -------------------------------------------------------------------------------- */

typedef int (*count_fn)(void);
typedef const char *(*event_fn)(int);
typedef int (*depth_fn)(int *);

Test(cuda_models, nvtx_ranges_of_eager_captured_and_replayed_runs) {
    cr_assert_eq(setenv("NVTX_INJECTION64_PATH", MI_NVTX_RECORDER, 1), 0);
    mi_model *m = load_cuda(MODEL_PATH("lenet5"), 0, 1, 0, 0);
    mi_tensor_data in;
    cr_assert_eq(mi_tensor_file_read(DATA_PATH("lenet5", "input_0.pb"), &in), MI_OK);
    mi_context *c = NULL;
    cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
    float y[10];
    for (int run = 0; run < 3; run++) {
        const void *ins[] = {in.data};
        void *outs[] = {y};
        cr_assert_eq(mi_context_run(c, ins, outs), MI_OK, "%s", mi_last_error());
    }
    void *h = dlopen(MI_NVTX_RECORDER, RTLD_NOW | RTLD_NOLOAD);
    cr_assert_not_null(h, "NVTX did not load the recorder");
    count_fn count;
    event_fn event;
    depth_fn depth;
    *(void **)&count = dlsym(h, "mi_nvtx_recorder_count");
    *(void **)&event = dlsym(h, "mi_nvtx_recorder_event");
    *(void **)&depth = dlsym(h, "mi_nvtx_recorder_depth");
    int runs[3] = {-1, -1, -1}, convs = 0, n = count();
    for (int i = 0; i < n; i++) {
        const char *e = event(i);
        if (!strncmp(e, "push mi:run", 11)) runs[0] = i;
        if (!strncmp(e, "push mi:capture", 15)) runs[1] = i;
        if (!strncmp(e, "push mi:replay", 14)) runs[2] = i;
        if (!strncmp(e, "push Conv:", 10)) convs++;
    }
    cr_assert(runs[0] >= 0 && runs[1] > runs[0] && runs[2] > runs[1], "eager, capture, replay ranges in order");
    cr_assert_eq(convs, 4, "two conv ranges in the eager run and two at capture, none at replay");
    cr_assert_str_eq(event(runs[2] + 1), "pop", "a replay has no node ranges");
    cr_assert_eq(depth(NULL), 0, "balanced");
    mi_tensor_data_free(&in);
    mi_context_destroy(c);
    mi_model_destroy(m);
}

/* ---- transformers ------------------------------------------------------------------------------ */

/* The reduced transformer exports (scripts/make_models.py), every input
 * from its own file, against PyTorch's output; eager, then with CUDA Graphs. */
static void transformer_case(const char *name, mi_precision prec, double tol) {
    char dir[512], path[640];
    snprintf(dir, sizeof dir, "%s/%s", MI_MODELS_DIR, name);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    for (int graph = 0; graph <= 1; graph++) {
        mi_model *m = load_cuda_in(path, 0, graph, 0, 0, prec);
        model_data d;
        model_data_read(dir, m, &d);
        const mi_tensor *yt = mi_model_output(m, 0);
        mi_context *c = NULL;
        cr_assert_eq(mi_context_create(m, NULL, 0, &c), MI_OK, "%s", mi_last_error());
        float *y = malloc(yt->nbytes);
        void *outs[] = {y};
        for (int run = 0; run < 3; run++) {
            cr_assert_eq(mi_context_run(c, d.ins, outs), MI_OK, "%s run %d: %s", name, run, mi_last_error());
            double e = normalized_error(y, d.want.data, mi_tensor_numel(yt));
            cr_assert(e <= tol, "%s %s run %d (graph %d): normalized error %.3g > %.3g", name, mi_precision_name(prec),
                      run, graph, e, tol);
        }
        free(y);
        model_data_free(&d);
        mi_context_destroy(c);
        mi_model_destroy(m);
    }
}

Test(cuda_models, transformers_fp32) {
    transformer_case("vit_tiny", MI_PRECISION_FP32, 1e-3);
    transformer_case("bert_tiny_s128", MI_PRECISION_FP32, 1e-3);
    transformer_case("gpt_tiny", MI_PRECISION_FP32, 1e-3);
}
Test(cuda_models, transformers_fp16) {
    transformer_case("vit_tiny", MI_PRECISION_FP16, 1e-2);
    transformer_case("bert_tiny_s128", MI_PRECISION_FP16, 1e-2);
    transformer_case("gpt_tiny", MI_PRECISION_FP16, 1e-2);
}
