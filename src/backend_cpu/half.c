/* float16 and bfloat16 on the CPU backend: the ops whose kernels are
 * fp32 only (Conv, Gemm, MatMul, MaxPool, AveragePool, GlobalAveragePool,
 * LRN, Softmax, ReduceMean) run "widened": the node's workspace holds an
 * fp32 copy of each half input, of a half residual and of each half
 * output, followed by the fp32 kernel's own workspace. run() converts the
 * inputs, runs the unchanged fp32 kernel on float views of the same
 * shapes (mi__cpu_call's in_view / out_view), and rounds the fp32 outputs
 * into the half tensors once. The results are exactly the fp32 kernel's
 * on the half inputs, rounded once: every sum accumulates in fp32, and
 * the fp32 paths are untouched.
 *
 * The copies are planned memory like any workspace (poison mode checks
 * around them, nothing is allocated while running). The price is their
 * room in the arena (ResNet-50's last 3x3 convolutions: 10.8 MB, 9 MiB of
 * it the weight's copy; MobileNet-V2's first stride-2 depthwise one: 6 MB,
 * mostly its input's) and a conversion of each on every run (see
 * bench/results/precision.md): the CPU backend is the reference the CUDA
 * backend's half precision is tested against, not a fast half path.
 *
 * In place: a fused Conv may write over its residual (backend.h). The
 * residual's fp32 copy doubles as output 0's, so the kernel accumulates
 * onto it as in fp32; every input and the residual are read into their
 * copies before any output byte is written, so an output may share
 * memory with any of them. */
#include "cpu_internal.h"

#include <stdint.h>
#include <string.h>

#define MI__HALF_NONE SIZE_MAX
#define MI__HALF_GRAIN ((int64_t)1 << 15)
/* Widened ops have at most 3 inputs (Conv, Gemm) and 2 outputs (MaxPool). */
#define MI__HALF_MAX_IO 8

/* ---- conversions on the pool ------------------------------------------------------ */

typedef struct convert_job {
    mi_dtype dt;
    const void *src;
    void *dst;
    int64_t n;
    int widen; /* half -> fp32; else fp32 -> half */
} convert_job;

MI__INLINE static void convert_body(void *arg, int64_t task, int thread) {
    (void)thread;
    const convert_job *j = arg;
    int64_t i0 = task * MI__HALF_GRAIN, cnt = j->n - i0 < MI__HALF_GRAIN ? j->n - i0 : MI__HALF_GRAIN;
    if (j->widen)
        mi__cpu_half_row_to_f32(j->dt, (const uint16_t *)j->src + i0, (float *)j->dst + i0, cnt);
    else
        mi__cpu_f32_row_to_half(j->dt, (const float *)j->src + i0, (uint16_t *)j->dst + i0, cnt);
}

/* Compiled per instruction set like the GEMM's tasks: the branch-free
 * conversions vectorize (8 or 16 at a time) where the baseline leaves
 * them scalar. The same rule on each, so the same bits. */
MI__ISA_TASKS(convert_task, convert_body)

static void convert(mi__cpu *cpu, mi_dtype dt, const void *src, void *dst, int64_t n, int widen) {
    convert_job j = {dt, src, dst, n, widen};
    mi__cpu_parallel(cpu, (n + MI__HALF_GRAIN - 1) / MI__HALF_GRAIN, n, convert_task_for(cpu->gk->isa), &j);
}

void mi__cpu_half_to_f32(mi__cpu *cpu, mi_dtype dt, const void *src, float *dst, int64_t n) {
    convert(cpu, dt, src, dst, n, 1);
}

void mi__cpu_f32_to_half(mi__cpu *cpu, mi_dtype dt, const float *src, void *dst, int64_t n) {
    convert(cpu, dt, src, dst, n, 0);
}

/* ---- which nodes, and their workspace ------------------------------------------------- */

static int fp32_kernel_only(mi_op op) {
    switch (op) {
    case MI_OP_CONV: case MI_OP_GEMM: case MI_OP_MATMUL: case MI_OP_MAX_POOL: case MI_OP_AVERAGE_POOL:
    case MI_OP_GLOBAL_AVERAGE_POOL: case MI_OP_LRN: case MI_OP_SOFTMAX: case MI_OP_REDUCE_MEAN:
        return 1;
    default: return 0;
    }
}

static int is_half_tensor(const mi_tensor *t) { return t && mi__dtype_is_half(t->dtype); }

static const mi_tensor *out_tensor(const mi_graph *g, const mi_node *n, int k) {
    return n->outputs[k] >= 0 ? mi_graph_tensor(g, (size_t)n->outputs[k]) : NULL;
}

static const mi_tensor *residual_tensor(const mi_graph *g, const mi_node *n) {
    return n->fused.residual >= 0 ? mi_graph_tensor(g, (size_t)n->fused.residual) : NULL;
}

int mi__cpu_half_widened(const mi_graph *g, const mi_node *n) {
    if (!fp32_kernel_only(n->op)) return 0;
    for (int k = 0; k < n->ninputs; k++)
        if (is_half_tensor(mi__node_in(g, n, k))) return 1;
    for (int k = 0; k < n->noutputs; k++)
        if (is_half_tensor(out_tensor(g, n, k))) return 1;
    return is_half_tensor(residual_tensor(g, n));
}

/* Where each fp32 copy lies, in bytes from the workspace's aligned base
 * (MI__HALF_NONE: the tensor is used as it is). prepare() and run() both
 * derive it from the graph, so they agree. */
typedef struct half_layout {
    size_t in[MI__HALF_MAX_IO], out[MI__HALF_MAX_IO], residual;
    size_t copies; /* bytes of all copies, each a multiple of 64 */
} half_layout;

static mi_status take(const mi_node *n, const mi_tensor *t, size_t *at, size_t *offset) {
    size_t bytes;
    if (!mi__mul_size((size_t)mi_tensor_numel(t), sizeof(float), &bytes) ||
        !mi__add_size(bytes, MI__CPU_WS_ALIGN - 1, &bytes))
        return mi__cpu_node_err(n, MI_ERR_OVERFLOW, "the fp32 copy of '%s' overflows size_t", t->name);
    bytes &= ~(MI__CPU_WS_ALIGN - 1);
    *offset = *at;
    if (!mi__add_size(*at, bytes, at))
        return mi__cpu_node_err(n, MI_ERR_OVERFLOW, "the fp32 copies overflow size_t");
    return MI_OK;
}

static mi_status half_layout_get(const mi_graph *g, const mi_node *n, half_layout *l) {
    mi_status st;
    if (n->ninputs > MI__HALF_MAX_IO || n->noutputs > MI__HALF_MAX_IO)
        return mi__cpu_node_err(n, MI_ERR_UNSUPPORTED, "%d inputs and %d outputs; the CPU backend runs "
                                "%s in half precision with at most %d of each", n->ninputs, n->noutputs,
                                mi_op_name(n->op), MI__HALF_MAX_IO);
    size_t at = 0;
    for (int k = 0; k < MI__HALF_MAX_IO; k++) l->in[k] = l->out[k] = MI__HALF_NONE;
    l->residual = MI__HALF_NONE;
    for (int k = 0; k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(g, n, k);
        if (is_half_tensor(t) && (st = take(n, t, &at, &l->in[k])) != MI_OK) return st;
    }
    const mi_tensor *rt = residual_tensor(g, n);
    if (is_half_tensor(rt) && (st = take(n, rt, &at, &l->residual)) != MI_OK) return st;
    for (int k = 0; k < n->noutputs; k++) {
        const mi_tensor *t = out_tensor(g, n, k);
        if (!is_half_tensor(t)) continue;
        /* The kernel accumulates onto the residual in out (the in-place
         * form), so output 0 needs no copy of its own. */
        if (k == 0 && l->residual != MI__HALF_NONE && mi_tensor_numel(rt) == mi_tensor_numel(t)) {
            l->out[0] = l->residual;
            continue;
        }
        if ((st = take(n, t, &at, &l->out[k])) != MI_OK) return st;
    }
    l->copies = at;
    return MI_OK;
}

mi_status mi__cpu_half_workspace(const mi_graph *g, const mi_node *n, size_t kernel_ws, size_t *ws) {
    half_layout l;
    mi_status st = half_layout_get(g, n, &l);
    if (st != MI_OK) return st;
    if (!mi__add_size(l.copies, MI__CPU_WS_ALIGN, ws) || !mi__add_size(*ws, kernel_ws, ws))
        return mi__cpu_node_err(n, MI_ERR_OVERFLOW, "the workspace overflows size_t");
    return MI_OK;
}

/* ---- running --------------------------------------------------------------------------- */

/* A float view of half tensor t, for the kernel. */
static const mi_tensor *float_view(const mi_tensor *t, mi_tensor *view) {
    *view = *t;
    view->dtype = MI_DTYPE_FLOAT;
    view->nbytes = (size_t)mi_tensor_numel(t) * sizeof(float);
    return view;
}

/* What the fp32 kernel sees of a widened node: per input and output, the
 * tensor (a float view where it is half) and the memory (its fp32 copy
 * where it is half). */
typedef struct widened {
    mi_tensor in_v[MI__HALF_MAX_IO], out_v[MI__HALF_MAX_IO];
    const mi_tensor *in_t[MI__HALF_MAX_IO], *out_t[MI__HALF_MAX_IO];
    void *in32[MI__HALF_MAX_IO], *out32[MI__HALF_MAX_IO], *res32;
} widened;

/* The half inputs and the residual into their fp32 copies, before any
 * output is written: an output may share their memory. */
static void widen_inputs(const mi__cpu_call *c, const half_layout *l, char *base, widened *w) {
    const mi_node *n = c->n;
    for (int k = 0; k < n->ninputs; k++) {
        const mi_tensor *t = mi__node_in(c->g, n, k);
        w->in_t[k] = t;
        w->in32[k] = c->in[k];
        if (l->in[k] == MI__HALF_NONE) continue;
        w->in_t[k] = float_view(t, &w->in_v[k]);
        w->in32[k] = c->in[k] ? base + l->in[k] : NULL;
        if (c->in[k]) mi__cpu_half_to_f32(c->cpu, t->dtype, c->in[k], w->in32[k], mi_tensor_numel(t));
    }
    w->res32 = c->residual;
    if (l->residual != MI__HALF_NONE && c->residual) {
        const mi_tensor *rt = residual_tensor(c->g, n);
        w->res32 = base + l->residual;
        mi__cpu_half_to_f32(c->cpu, rt->dtype, c->residual, w->res32, mi_tensor_numel(rt));
    }
}

/* The half outputs' fp32 copies (an unused optional output stays NULL). */
static void place_outputs(const mi__cpu_call *c, const half_layout *l, char *base, widened *w) {
    for (int k = 0; k < c->n->noutputs; k++) {
        const mi_tensor *t = out_tensor(c->g, c->n, k);
        w->out_t[k] = t;
        w->out32[k] = c->out[k];
        if (l->out[k] == MI__HALF_NONE) continue;
        w->out_t[k] = float_view(t, &w->out_v[k]);
        w->out32[k] = c->out[k] ? base + l->out[k] : NULL;
    }
}

/* The fp32 outputs rounded into the half tensors. */
static void narrow_outputs(const mi__cpu_call *c, const half_layout *l, const widened *w) {
    for (int k = 0; k < c->n->noutputs; k++) {
        if (l->out[k] == MI__HALF_NONE || !c->out[k]) continue;
        const mi_tensor *t = out_tensor(c->g, c->n, k);
        mi__cpu_f32_to_half(c->cpu, t->dtype, w->out32[k], c->out[k], mi_tensor_numel(t));
    }
}

mi_status mi__cpu_half_run(mi__cpu_call *c, mi_status (*kernel)(mi__cpu_call *c)) {
    half_layout l;
    mi_status st = half_layout_get(c->g, c->n, &l);
    if (st != MI_OK) return st;
    if (!c->ws || c->ws_size < l.copies + MI__CPU_WS_ALIGN)
        return mi__cpu_err(c, MI_ERR_INVALID_ARG, "the workspace has %zu bytes; the fp32 copies of the "
                           "half tensors need %zu", c->ws ? c->ws_size : 0, l.copies + MI__CPU_WS_ALIGN);
    char *base = mi__cpu_ws_align(c->ws);
    widened w;
    widen_inputs(c, &l, base, &w);
    place_outputs(c, &l, base, &w);
    mi__cpu_call wide = *c;
    wide.in = w.in32;
    wide.out = w.out32;
    wide.residual = w.res32;
    wide.ws = base + l.copies;
    wide.ws_size = c->ws_size - (size_t)(base + l.copies - (char *)c->ws);
    wide.in_view = w.in_t;
    wide.out_view = w.out_t;
    if ((st = kernel(&wide)) != MI_OK) return st;
    narrow_outputs(c, &l, &w);
    return MI_OK;
}
