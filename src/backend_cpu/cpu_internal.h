/* The CPU reference backend's private interface: the thread pool, the
 * GEMM core and one entry point per op family (conv.c; gemm.c, also Gemm
 * and MatMul; reduce.c; eltwise.c; layout.c), dispatched from
 * backend_cpu.c; half.c runs float16 / bfloat16 nodes around the fp32
 * kernels.
 *
 * Every kernel gets an mi__cpu_call: the node, its parsed parameters and
 * the pointers of this run. Kernels validate what they need and report
 * errors naming the node; they never allocate: scratch memory is the
 * node's planned workspace, which prepare() sized. */
#ifndef MI_BACKEND_CPU_INTERNAL_H
#define MI_BACKEND_CPU_INTERNAL_H

#include "graph/graph_internal.h"
#include "kernels/cast.h"
#include "kernels/math.h"
#include "mini_infer/backend.h"
#include "graph/op_params.h"

#define MI__CPU_MAX_THREADS 8
/* The largest workspace one node asks for when options.max_workspace is 0. */
#define MI__CPU_DEFAULT_WS_CAP ((size_t)1 << 20)
/* Workspace slack so kernels can align their scratch whatever the plan's
 * alignment is (it may be as small as 1). */
#define MI__CPU_WS_ALIGN ((size_t)64)

/* ---- the backend state ---------------------------------------------------- */

typedef struct mi__cpu_pool mi__cpu_pool;

/* One GEMM micro-kernel: C tile (MR x NR, row-major, ld nr) = packed A
 * panel (kc x MR) times packed B panel (kc x NR). */
typedef void (*mi__gemm_micro_fn)(int64_t kc, const float *a, const float *b, float *c);
typedef void (*mi__cpu_task_fn)(void *arg, int64_t task, int thread);
/* Instruction sets the kernels are compiled for (x86-64; elsewhere only
 * the generic one). */
enum { MI__ISA_GENERIC, MI__ISA_AVX2, MI__ISA_AVX512 };
/* Inlined into each instruction set's copy of a kernel. */
#define MI__INLINE __attribute__((always_inline)) inline
/* x86 with GCC or Clang: kernels compiled for AVX2 and AVX-512 too, picked
 * at run time. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define MI__HAVE_X86_KERNELS 1
#define MI__TARGET_AVX2 __attribute__((target("avx2,fma")))
#define MI__TARGET_AVX512 __attribute__((target("avx512f,fma")))
#endif
/* A task compiled once per instruction set from BODY (an MI__INLINE
 * function of the same arguments): NAME_generic, NAME_avx2, NAME_avx512,
 * and NAME_for(isa), the copy for a kernel's instruction set. Same
 * operations in the same order on every target, so results do not depend
 * on which runs. */
#ifdef MI__HAVE_X86_KERNELS
#define MI__ISA_TASKS(NAME, BODY)                                                                  \
    static void NAME##_generic(void *arg, int64_t task, int thread) { BODY(arg, task, thread); }   \
    MI__TARGET_AVX2 static void NAME##_avx2(void *arg, int64_t task, int thread) {                 \
        BODY(arg, task, thread);                                                                   \
    }                                                                                              \
    MI__TARGET_AVX512 static void NAME##_avx512(void *arg, int64_t task, int thread) {             \
        BODY(arg, task, thread);                                                                   \
    }                                                                                              \
    static inline mi__cpu_task_fn NAME##_for(int isa) {                                            \
        return isa == MI__ISA_AVX512 ? NAME##_avx512 : isa == MI__ISA_AVX2 ? NAME##_avx2 : NAME##_generic; \
    }
#else
#define MI__ISA_TASKS(NAME, BODY)                                                                  \
    static void NAME##_generic(void *arg, int64_t task, int thread) { BODY(arg, task, thread); }   \
    static inline mi__cpu_task_fn NAME##_for(int isa) { return (void)isa, NAME##_generic; }
#endif
typedef struct mi__gemm_kernel {
    const char *name;
    int isa; /* MI__ISA_*: the tasks around it (packs, stores, conv.c's direct path) follow it */
    int mr, nr;
    int64_t mc, kc, nc; /* cache blocking: A block mc x kc, B block kc x nc */
    mi__gemm_micro_fn fn;
} mi__gemm_kernel;

typedef struct mi__cpu {
    mi__cpu_pool *pool;
    int nthreads; /* the caller plus nthreads - 1 workers */
    size_t ws_cap;
    const mi__gemm_kernel *gk;
} mi__cpu;

/* Runs fn(arg, t, thread) for t in [0, ntasks) on the pool; thread is in
 * [0, nthreads) and no two tasks run at once with the same thread index.
 * work estimates the elementary operations of all tasks together: below
 * MI__CPU_MIN_PARALLEL_WORK waking the workers costs more than it saves
 * and the tasks run on the caller. So they do when the pool is busy
 * (another context of the same backend is using it); thread is then 0. */
#define MI__CPU_MIN_PARALLEL_WORK ((int64_t)1 << 16)
void mi__cpu_parallel(mi__cpu *cpu, int64_t ntasks, int64_t work, mi__cpu_task_fn fn, void *arg);

mi_status mi__cpu_pool_create(int nthreads, mi__cpu_pool **out);
void mi__cpu_pool_destroy(mi__cpu_pool *p);

/* Host memory aligned to `align` (a power of two >= sizeof(void *)),
 * counted by the library's allocation hook like mi__malloc. */
void *mi__cpu_aligned_alloc(size_t bytes, size_t align);
void mi__cpu_aligned_free(void *p);

/* Aligns a workspace pointer up to MI__CPU_WS_ALIGN. */
static inline void *mi__cpu_ws_align(void *ws) {
    uintptr_t u = (uintptr_t)ws;
    return (void *)((u + MI__CPU_WS_ALIGN - 1) & ~(uintptr_t)(MI__CPU_WS_ALIGN - 1));
}

/* ---- GEMM micro-kernels (gemm.c) ------------------------------------------ */

/* The kernels this machine can run, best first; NULL-terminated. */
const mi__gemm_kernel *const *mi__gemm_kernels(void);
/* The best kernel for this machine, or the one named by $MI_CPU_GEMM. */
const mi__gemm_kernel *mi__gemm_kernel_default(void);

/* ---- the GEMM core (gemm.c) ------------------------------------------------ */

/* What happens to each C element v = alpha * (A B)[i][j]:
 *   v += C[i][j]           when accumulate (beta = 1)
 *   v  = act(v + bias_row[i] + residual[i * ldr + j])   (conv epilogue)
 * bias_row, residual may be NULL. residual must not be C (use accumulate). */
typedef struct mi__gemm_epi {
    float alpha;
    int accumulate;
    const float *bias_row;
    const float *residual;
    int64_t ldr;
    int act;
    float act_min, act_max;
} mi__gemm_epi;

void mi__gemm_epi_init(mi__gemm_epi *e);

/* Bytes of pack buffers mi__sgemm needs for these sizes with every thread
 * (plus alignment slack). */
size_t mi__sgemm_workspace(const mi__cpu *cpu, int64_t m, int64_t n, int64_t k);

/* C (m x n, ldc) = epilogue(op(A) op(B)), op(A) m x k, op(B) k x n, all
 * row-major; ta / tb: A / B stored transposed. ws holds at least
 * mi__sgemm_workspace bytes for one thread (more threads when it has
 * room). Returns 0, or -1 when ws is too small. */
int mi__sgemm(mi__cpu *cpu, int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
              int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc,
              const mi__gemm_epi *epi, void *ws, size_t ws_size);

/* ---- one node's run ------------------------------------------------------------- */

typedef struct mi__cpu_call {
    mi__cpu *cpu;
    const mi_graph *g;
    const mi_node *n;
    mi__op_params p;
    void *const *in;
    void *const *out;
    void *residual;
    void *ws;
    size_t ws_size;
    /* The tensors the kernel sees, one per input / output (NULL: the
     * graph's own). A node stored in half runs its fp32 kernel on fp32
     * copies (half.c); these views of its tensors say float, same dims. */
    const mi_tensor *const *in_view;
    const mi_tensor *const *out_view;
} mi__cpu_call;

/* Input / output tensor k of the node (NULL when omitted). Kernels read
 * dtypes and byte sizes only through these, never from the graph. */
static inline const mi_tensor *mi__cpu_in_t(const mi__cpu_call *c, int k) {
    if (c->in_view) return k < c->n->ninputs ? c->in_view[k] : NULL;
    return mi__node_in(c->g, c->n, k);
}
static inline const mi_tensor *mi__cpu_out_t(const mi__cpu_call *c, int k) {
    if (c->out_view) return k < c->n->noutputs ? c->out_view[k] : NULL;
    return k < c->n->noutputs && c->n->outputs[k] >= 0 ? mi_graph_tensor(c->g, (size_t)c->n->outputs[k]) : NULL;
}

/* An error naming the node. */
mi_status mi__cpu_err(const mi__cpu_call *c, mi_status st, const char *fmt, ...) MI__PRINTF(3, 4);
mi_status mi__cpu_node_err(const mi_node *n, mi_status st, const char *fmt, ...) MI__PRINTF(3, 4);

/* Workspace each op family needs (0 for most). */
mi_status mi__cpu_conv_workspace(const mi__cpu *cpu, const mi_graph *g, const mi_node *n,
                                 const mi__op_params *p, size_t *ws);
mi_status mi__cpu_linalg_workspace(const mi__cpu *cpu, const mi_graph *g, const mi_node *n,
                                   const mi__op_params *p, size_t *ws);

/* The kernels, one per op family. */
mi_status mi__cpu_conv(mi__cpu_call *c);
mi_status mi__cpu_gemm_op(mi__cpu_call *c);
mi_status mi__cpu_matmul(mi__cpu_call *c);
mi_status mi__cpu_pool_op(mi__cpu_call *c);          /* MaxPool, AveragePool, GlobalAveragePool */
mi_status mi__cpu_unary(mi__cpu_call *c);            /* Relu, Clip, Sigmoid, HardSigmoid, HardSwish */
mi_status mi__cpu_binary(mi__cpu_call *c);           /* Add, Sub, Mul, Div */
mi_status mi__cpu_batch_norm(mi__cpu_call *c);
mi_status mi__cpu_lrn(mi__cpu_call *c);
mi_status mi__cpu_softmax(mi__cpu_call *c);
mi_status mi__cpu_reduce_mean(mi__cpu_call *c);
mi_status mi__cpu_copy_op(mi__cpu_call *c);          /* the view ops, as copies */
mi_status mi__cpu_transpose(mi__cpu_call *c);
mi_status mi__cpu_concat(mi__cpu_call *c);
mi_status mi__cpu_split(mi__cpu_call *c);
mi_status mi__cpu_slice(mi__cpu_call *c);
mi_status mi__cpu_pad(mi__cpu_call *c);
mi_status mi__cpu_gather(mi__cpu_call *c);
mi_status mi__cpu_cast(mi__cpu_call *c);
mi_status mi__cpu_shape(mi__cpu_call *c);
mi_status mi__cpu_constant(mi__cpu_call *c);
mi_status mi__cpu_relayout(mi__cpu_call *c);         /* the layout pass's conversions */
/* math.c: the transformers' ops */
mi_status mi__cpu_math(mi__cpu_call *c);             /* kernels/math.h's element ops */
mi_status mi__cpu_layer_norm(mi__cpu_call *c);
mi_status mi__cpu_reduce_sum_max(mi__cpu_call *c);
mi_status mi__cpu_expand_tile(mi__cpu_call *c);
mi_status mi__cpu_trilu(mi__cpu_call *c);
mi_status mi__cpu_range(mi__cpu_call *c);
mi_status mi__cpu_constant_of_shape(mi__cpu_call *c);
mi_status mi__cpu_scatter_nd(mi__cpu_call *c);
/* y (rows x n, row-major) += bias (n) per row, then op: MI_K_UN_GELU or
 * MI_K_UN_GELU_TANH (vectorized, within a few ulp of kernels/math.h's
 * libm form), or 0 for the bias alone; on the pool. For a fused linear
 * layer's epilogue. */
void mi__cpu_bias_gelu_rows(mi__cpu *cpu, float *y, const float *bias, int64_t rows, int64_t n, int op);
/* xt's elements at src into dst in yt's layout (same dims and dtype). */
void mi__cpu_relayout_bytes(void *dst, const mi_tensor *yt, const void *src, const mi_tensor *xt);

/* Checks, before planning, what shape inference lets through but the
 * kernels cannot run: dtypes, Dropout in training mode. */
mi_status mi__cpu_check_node(const mi_graph *g, const mi_node *n, const mi__op_params *p);

/* ---- half precision (half.c) ------------------------------------------------------ */

/* float16 and bfloat16 run in fp32 and round once on store. Elementwise
 * ops, BatchNormalization and the ops that move bytes handle them in
 * their own loops (no workspace); the others (Conv, Gemm, MatMul, the
 * pools, LRN, Softmax, ReduceMean) are "widened": their half inputs,
 * residual and outputs get fp32 copies in the node's workspace, around
 * the unchanged fp32 kernel. */

/* Whether node n is widened: an op with an fp32-only kernel that reads or
 * writes a half tensor. */
int mi__cpu_half_widened(const mi_graph *g, const mi_node *n);
/* The workspace of a widened node: its fp32 copies plus the fp32 kernel's
 * own workspace (kernel_ws bytes). */
mi_status mi__cpu_half_workspace(const mi_graph *g, const mi_node *n, size_t kernel_ws, size_t *ws);
/* Runs a widened node: half inputs to fp32, kernel(c') on fp32 views and
 * copies, fp32 outputs rounded to half. */
mi_status mi__cpu_half_run(mi__cpu_call *c, mi_status (*kernel)(mi__cpu_call *c));

/* ---- channels last (channels_last.c) ------------------------------------------------ */

/* The CPU kernels are NCHW; a node the layout pass put in NHWC runs on
 * NCHW copies of its NHWC tensors in its workspace (the reference for
 * the CUDA backend's NHWC kernels, not a fast path). Nodes whose kernel
 * does not care (the activations and Cast, input and output alike) and
 * Relayout itself are not wrapped. */
int mi__cpu_nhwc_wrapped(const mi_graph *g, const mi_node *n);
mi_status mi__cpu_nhwc_workspace(const mi_graph *g, const mi_node *n, size_t inner_ws, size_t *ws);
mi_status mi__cpu_nhwc_run(mi__cpu_call *c, mi_status (*inner)(mi__cpu_call *c));

/* n elements of half type dt (MI_DTYPE_FLOAT16 / BFLOAT16) to fp32 and
 * back (round to nearest even), on the pool for large n. */
void mi__cpu_half_to_f32(mi__cpu *cpu, mi_dtype dt, const void *src, float *dst, int64_t n);
void mi__cpu_f32_to_half(mi__cpu *cpu, mi_dtype dt, const float *src, void *dst, int64_t n);

/* The same on one thread, for short rows inside a kernel's task. */
static inline void mi__cpu_half_row_to_f32(mi_dtype dt, const uint16_t *src, float *dst, int64_t n) {
    if (dt == MI_DTYPE_BFLOAT16)
        for (int64_t i = 0; i < n; i++) dst[i] = mi_k_bf16_to_f32(src[i]);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = mi_k_f16_to_f32(src[i]);
}
static inline void mi__cpu_f32_row_to_half(mi_dtype dt, const float *src, uint16_t *dst, int64_t n) {
    if (dt == MI_DTYPE_BFLOAT16)
        for (int64_t i = 0; i < n; i++) dst[i] = mi_k_f32_to_bf16(src[i]);
    else
        for (int64_t i = 0; i < n; i++) dst[i] = mi_k_f32_to_f16(src[i]);
}

#endif
