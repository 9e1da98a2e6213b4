#define _POSIX_C_SOURCE 200809L
/* Run a model from caller-owned input and a caller-owned arena, on the CPU
 * and, where a GPU and the CUDA backend are present, on CUDA too.
 *
 *   run_model MODEL.onnx [DEVICE]      DEVICE: cpu (default), cuda, cuda:N */
#include <mini_infer/runtime.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: run_model MODEL.onnx [cpu|cuda|cuda:N]\n");
        return 2;
    }
    mi_model_options o;
    mi_model_options_init(&o);
    if (argc > 2) o.device = argv[2];
    mi_model *m;
    mi_status st = mi_model_load(argv[1], &o, &m);
    if (st == MI_ERR_NO_DEVICE) {
        printf("skipped: %s\n", mi_last_error());
        return 0;
    }
    if (st != MI_OK) {
        fprintf(stderr, "run_model: %s: %s\n", mi_status_str(st), mi_last_error());
        return 1;
    }
    const mi_tensor *in = mi_model_input(m, 0), *out = mi_model_output(m, 0);
    float *x = malloc(in->nbytes), *y = malloc(out->nbytes);
    for (size_t i = 0; i < in->nbytes / sizeof *x; i++) x[i] = (float)(i % 255) / 255.0f;

    /* The caller's arena: on the CPU backend it is host memory. A CUDA
     * arena would come from cudaMalloc; here the engine allocates it. */
    void *arena = NULL;
    size_t size = mi_model_arena_size(m);
    int host = mi_model_backend(m)->ops->host_memory;
    if (host) arena = aligned_alloc(mi_model_arena_alignment(m), size ? size : mi_model_arena_alignment(m));
    mi_context *c;
    st = mi_context_create(m, arena, size, &c);
    if (st == MI_OK) {
        const void *ins[] = {x};
        void *outs[] = {y};
        st = mi_context_run(c, ins, outs);
        mi_context_destroy(c);
    }
    if (st == MI_OK) {
        size_t best = 0, n = out->nbytes / sizeof *y;
        for (size_t i = 1; i < n; i++)
            if (y[i] > y[best]) best = i;
        printf("%s on %s: arena %zu bytes (%s), top-1 class %zu of %zu\n", argv[1], o.device, size,
               host ? "caller-owned" : "engine-owned", best, n);
    } else {
        fprintf(stderr, "run_model: %s: %s\n", mi_status_str(st), mi_last_error());
    }
    free(arena);
    free(x);
    free(y);
    mi_model_destroy(m);
    return st == MI_OK ? 0 : 1;
}
