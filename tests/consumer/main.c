/* A user's program built against the installed mini-infer, as a user
 * would build it (tests/consumer/check.sh: find_package and pkg-config,
 * static archive and shared library). It exports no symbol of its own,
 * so the CUDA plugin must load without them.
 *
 *   consumer MODEL.onnx cuda|no-cuda
 *
 * Plans the buffers of a tiny problem, loads MODEL on the CPU and runs it,
 * then asks for the CUDA backend: with "cuda" (this build has the plugin)
 * it must load, and then run the model (a GPU) or say there is no GPU
 * (MI_ERR_NO_DEVICE); with "no-cuda" it must say it could not be loaded. */
#include <mini_infer/cuda.h>
#include <mini_infer/runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, mi_status st) {
    fprintf(stderr, "consumer: %s: %s: %s\n", what, mi_status_name(st), mi_last_error());
    return 1;
}

static int plan_buffers(void) {
    mi_buffer b[] = {{1000, 0, 1}, {2000, 1, 2}, {1000, 2, 3}};
    mi_problem p = {b, 3, MI_DEFAULT_ALIGNMENT};
    size_t off[3];
    mi_solve_result r;
    mi_status st = mi_solve(&p, NULL, off, &r);
    if (st) return fail("mi_solve", st);
    printf("mini-infer %s: pool %zu bytes, lower bound %zu\n", mi_version(), r.pool_size, r.lower_bound);
    return r.pool_size == 3072 ? 0 : 1;
}

/* Loads path on device and runs it once on inputs of 0.5; the first
 * output goes to *out (malloc'ed), its element count to *n. */
static mi_status run_on(const char *path, const char *device, float **out, size_t *n) {
    mi_model_options o;
    mi_model_options_init(&o);
    o.device = device;
    mi_model *m = NULL;
    mi_context *c = NULL;
    mi_status st = mi_model_load(path, &o, &m);
    if (st) return st;
    size_t ni = mi_model_input_count(m), no = mi_model_output_count(m);
    const void **ins = calloc(ni, sizeof *ins);
    void **outs = calloc(no, sizeof *outs);
    for (size_t i = 0; ins && i < ni; i++) {
        const mi_tensor *t = mi_model_input(m, i);
        float *x = malloc(t->nbytes);
        for (size_t e = 0; x && e < t->nbytes / sizeof *x; e++) x[e] = 0.5f;
        ins[i] = x;
    }
    for (size_t i = 0; outs && i < no; i++) outs[i] = malloc(mi_model_output(m, i)->nbytes);
    if (!(st = mi_context_create(m, NULL, 0, &c))) st = mi_context_run(c, ins, outs);
    if (!st) {
        *n = mi_model_output(m, 0)->nbytes / sizeof(float);
        *out = outs[0];
        outs[0] = NULL;
    }
    for (size_t i = 0; ins && i < ni; i++) free((void *)ins[i]);
    for (size_t i = 0; outs && i < no; i++) free(outs[i]);
    free(ins);
    free(outs);
    mi_context_destroy(c);
    mi_model_destroy(m);
    return st;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "cuda") != 0 && strcmp(argv[2], "no-cuda") != 0)) {
        fprintf(stderr, "usage: consumer MODEL.onnx cuda|no-cuda\n");
        return 2;
    }
    int want_cuda = strcmp(argv[2], "cuda") == 0;
    if (plan_buffers()) return 1;

    float *cpu = NULL;
    size_t n = 0;
    mi_status st = run_on(argv[1], "cpu", &cpu, &n);
    if (st) return fail("the model on the CPU", st);
    printf("cpu: %s ran, %zu outputs, first %g\n", argv[1], n, n ? cpu[0] : 0.0);

    mi_backend *b = NULL;
    st = mi_backend_open("cuda", NULL, &b);
    if (st == MI_OK) {
        mi_cuda_device_info info;
        if ((st = mi_cuda_device_info_get(b, &info))) return fail("the device information", st);
        mi_backend_close(b);
        float *gpu = NULL;
        size_t ng = 0;
        if ((st = run_on(argv[1], "cuda", &gpu, &ng))) return fail("the model on the GPU", st);
        double err = 0, ref = 0;
        for (size_t i = 0; i < n && i < ng; i++) {
            err = fmax(err, fabs((double)gpu[i] - cpu[i]));
            ref = fmax(ref, fabs((double)cpu[i]));
        }
        printf("cuda: %s, max|d|/max|ref| = %.2e against the CPU\n", info.name, ref ? err / ref : err);
        free(gpu);
        free(cpu);
        return ng == n && err <= 1e-3 * (ref ? ref : 1) ? 0 : 1;
    }
    free(cpu);
    if (want_cuda && st == MI_ERR_NO_DEVICE) {
        printf("cuda: the backend loaded; no GPU here: %s\n", mi_last_error());
        return 0;
    }
    if (!want_cuda && st == MI_ERR_BACKEND) {
        printf("cuda: not in this build: %s\n", mi_last_error());
        return 0;
    }
    return fail(want_cuda ? "the CUDA backend should have loaded" : "the CUDA backend should be absent", st);
}
