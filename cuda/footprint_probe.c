/* The device memory of one process, step by step (issue: the smallest
 * footprint per process). After each step it prints NVML's figure for
 * this process and what cudaMemGetInfo says for the device:
 *
 *   CUDA context; the stack limit set; a cuBLAS handle, then a workspace
 *   of ours bound to it; a cuDNN handle; a first convolution (cuDNN's
 *   kernels loaded); a model loaded on mini-infer's CUDA backend; its
 *   first run; its CUDA Graph captured and instantiated
 *
 * then the stack limit read back after the warm-up and the backend's own
 * breakdown. scripts/gpu-check.sh runs it in a few settings (the stack
 * left as it is, or set; CUBLAS_WORKSPACE_CONFIG=:0:0) into footprint.md.
 *
 *   mi-footprint-probe MODEL.onnx [--stack keep|BYTES] [--device N] [--precision fp32|fp16|bf16]
 *
 * The probe calls the libraries directly for the first steps (that is
 * what it measures), so it is a program of the CUDA side, not of the
 * backend, and links the toolkit's libraries itself. */
#include "mini_infer/cuda.h"
#include "mini_infer/runtime.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lib_nvml.c, compiled in: NVML through dlopen. */
int mi__cu_nvml_process_bytes(const char *pci_bus_id, size_t *bytes, char *why, size_t why_len);

static char bus[32];
static size_t last;

static double mib(size_t b) { return (double)b / 1048576.0; }

static void step(const char *what, const char *note) {
    size_t proc = 0, fr = 0, total = 0;
    char why[160];
    int known = mi__cu_nvml_process_bytes(bus, &proc, why, sizeof why);
    if (cudaMemGetInfo(&fr, &total) != cudaSuccess) {
        (void)cudaGetLastError();
        fr = total = 0;
    }
    if (known)
        printf("| %s | %.1f | %+.1f | %.1f | %s |\n", what, mib(proc), mib(proc) - mib(last), mib(total - fr),
               note ? note : "");
    else
        printf("| %s | ? | ? | %.1f | %s (%s) |\n", what, mib(total - fr), note ? note : "", why);
    if (known) last = proc;
    fflush(stdout);
}

static int fail(const char *what, const char *detail) {
    printf("\n**failed**: %s: %s\n", what, detail);
    return 1;
}

#define CUDA_OK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) return fail(#call, cudaGetErrorString(e_)); } while (0)
#define BLAS_OK(call) do { cublasStatus_t s_ = (call); if (s_ != CUBLAS_STATUS_SUCCESS) return fail(#call, cublasGetStatusString(s_)); } while (0)
#define DNN_OK(call) do { cudnnStatus_t s_ = (call); if (s_ != CUDNN_STATUS_SUCCESS) return fail(#call, cudnnGetErrorString(s_)); } while (0)
#define MI_OK_(call) do { mi_status s_ = (call); if (s_ != MI_OK) return fail(#call, mi_last_error()); } while (0)

/* A 3x3 convolution of 64 channels on 56x56, fp32, the simplest algorithm
 * (no workspace): what makes cuDNN load its convolution kernels. */
static int first_convolution(cudnnHandle_t h) {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    void *xp = NULL, *wp = NULL, *yp = NULL;
    const float one = 1.0f, zero = 0.0f;
    DNN_OK(cudnnCreateTensorDescriptor(&x));
    DNN_OK(cudnnCreateTensorDescriptor(&y));
    DNN_OK(cudnnCreateFilterDescriptor(&w));
    DNN_OK(cudnnCreateConvolutionDescriptor(&conv));
    DNN_OK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 64, 56, 56));
    DNN_OK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, 64, 56, 56));
    DNN_OK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, 64, 64, 3, 3));
    DNN_OK(cudnnSetConvolution2dDescriptor(conv, 1, 1, 1, 1, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    CUDA_OK(cudaMalloc(&xp, 64 * 56 * 56 * 4));
    CUDA_OK(cudaMalloc(&yp, 64 * 56 * 56 * 4));
    CUDA_OK(cudaMalloc(&wp, 64 * 64 * 9 * 4));
    CUDA_OK(cudaMemset(xp, 0, 64 * 56 * 56 * 4));
    CUDA_OK(cudaMemset(wp, 0, 64 * 64 * 9 * 4));
    DNN_OK(cudnnConvolutionForward(h, &one, x, xp, w, wp, conv, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, NULL, 0,
                                   &zero, y, yp));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaFree(xp));
    CUDA_OK(cudaFree(yp));
    CUDA_OK(cudaFree(wp));
    cudnnDestroyTensorDescriptor(x);
    cudnnDestroyTensorDescriptor(y);
    cudnnDestroyFilterDescriptor(w);
    cudnnDestroyConvolutionDescriptor(conv);
    return 0;
}

int main(int argc, char **argv) {
    const char *model = NULL, *stack = "keep", *precision = "fp32";
    int device = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stack") && i + 1 < argc) stack = argv[++i];
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) device = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) precision = argv[++i];
        else if (argv[i][0] != '-' && !model) model = argv[i];
        else {
            fprintf(stderr, "usage: mi-footprint-probe MODEL.onnx [--stack keep|BYTES] [--device N] "
                            "[--precision fp32|fp16|bf16]\n");
            return 2;
        }
    }
    if (!model) return fail("usage", "a model is needed");
    const char *cfg = getenv("CUBLAS_WORKSPACE_CONFIG"), *ml = getenv("CUDA_MODULE_LOADING");
    printf("### %s, %s, stack %s, CUBLAS_WORKSPACE_CONFIG=%s, CUDA_MODULE_LOADING=%s\n\n", model, precision, stack,
           cfg ? cfg : "(unset)", ml ? ml : "(unset)");
    CUDA_OK(cudaSetDevice(device));
    CUDA_OK(cudaDeviceGetPCIBusId(bus, (int)sizeof bus, device));
    struct cudaDeviceProp prop;
    CUDA_OK(cudaGetDeviceProperties(&prop, device));
    printf("%s (%d SMs x %d threads), PCI %s\n\n", prop.name, prop.multiProcessorCount,
           prop.maxThreadsPerMultiProcessor, bus);
    printf("| step | process MiB (NVML) | change | device used MiB | note |\n|---|---:|---:|---:|---|\n");
    step("before the context", NULL);
    CUDA_OK(cudaFree(NULL));
    size_t limit = 0;
    CUDA_OK(cudaDeviceGetLimit(&limit, cudaLimitStackSize));
    char note[160];
    snprintf(note, sizeof note, "default stack %zu B per thread", limit);
    step("CUDA context", note);
    if (strcmp(stack, "keep") != 0) {
        CUDA_OK(cudaDeviceSetLimit(cudaLimitStackSize, (size_t)strtoull(stack, NULL, 10)));
        CUDA_OK(cudaDeviceGetLimit(&limit, cudaLimitStackSize));
        snprintf(note, sizeof note, "stack limit now %zu B", limit);
        step("stack limit set", note);
    }
    cublasHandle_t blas;
    BLAS_OK(cublasCreate(&blas));
    step("cuBLAS handle", NULL);
    void *ws = NULL;
    CUDA_OK(cudaMalloc(&ws, (size_t)4 << 20));
    BLAS_OK(cublasSetWorkspace(blas, ws, (size_t)4 << 20));
    step("cuBLAS workspace of ours bound", "4 MiB cudaMalloc");
    cudnnHandle_t dnn;
    DNN_OK(cudnnCreate(&dnn));
    step("cuDNN handle", NULL);
    if (first_convolution(dnn)) return 1;
    step("first convolution", "cuDNN's kernels loaded");
    BLAS_OK(cublasDestroy(blas));
    CUDA_OK(cudaFree(ws));
    DNN_OK(cudnnDestroy(dnn));
    step("probe's handles destroyed", NULL);

    mi_model_options o;
    char dev[32];
    snprintf(dev, sizeof dev, "cuda:%d", device);
    mi_model_options_init(&o);
    o.device = dev;
    o.backend.cuda_graph = 1;
    MI_OK_(mi_precision_parse(precision, &o.load.precision));
    mi_model *m = NULL;
    MI_OK_(mi_model_load(model, &o, &m));
    step("model loaded", "mini-infer's backend: its handles, pools, weights");
    mi_context *c = NULL;
    MI_OK_(mi_context_create(m, NULL, 0, &c));
    step("context created", "its stream and library handles");
    size_t ni = mi_model_input_count(m), no = mi_model_output_count(m);
    const void *ins[8] = {0};
    void *outs[8] = {0};
    if (ni > 8 || no > 8) return fail("model", "more than 8 inputs or outputs");
    for (size_t i = 0; i < ni; i++) ins[i] = calloc(1, mi_model_input(m, i)->nbytes + 1);
    for (size_t i = 0; i < no; i++) outs[i] = calloc(1, mi_model_output(m, i)->nbytes + 1);
    MI_OK_(mi_context_run(c, ins, outs));
    step("first run", "eager: the warm-up");
    MI_OK_(mi_context_run(c, ins, outs));
    step("CUDA Graph captured and instantiated", "second run");
    MI_OK_(mi_context_run(c, ins, outs));
    step("CUDA Graph replayed", NULL);
    CUDA_OK(cudaDeviceGetLimit(&limit, cudaLimitStackSize));

    mi_cuda_memory mem;
    mi_cuda_device_info info;
    MI_OK_(mi_cuda_memory_get(mi_model_backend(m), &mem));
    MI_OK_(mi_cuda_device_info_get(mi_model_backend(m), &info));
    printf("\nstack limit after the warm-up: %zu B per thread (our kernels need %zu B, the backend set %zu), "
           "reserving %.1f MiB; modules load %s\n", limit, info.stack_ours, info.stack_set, mib(mem.stack_reserved),
           info.module_loading == 2 ? "lazily" : info.module_loading == 1 ? "EAGERLY" : "(unknown)");
    printf("backend's breakdown: process %.1f MiB = context and libraries %.1f + stack %.1f + pools %.1f "
           "(weights %.1f, arena %.1f, io %.1f) + graph executables %.1f MiB%s\n\n",
           mib(mem.process), mib(mem.context_and_libraries), mib(mem.stack_reserved), mib(mem.pools),
           mib(mem.weights), mib(mem.arena), mib(mem.io), mib(mem.graph_execs),
           mem.process_known ? "" : " (NVML unknown: the process figure is missing)");
    for (size_t i = 0; i < ni; i++) free((void *)ins[i]);
    for (size_t i = 0; i < no; i++) free(outs[i]);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return 0;
}
