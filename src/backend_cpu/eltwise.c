/* Elementwise ops: Relu, Clip, Sigmoid, HardSigmoid, HardSwish (unary) and
 * Add, Sub, Mul, Div with numpy broadcasting (binary), on float, float16,
 * bfloat16 and, where ONNX allows it, double, int32 and int64.
 *
 * The per-element math is kernels/elementwise.h's, shared with CUDA. Each
 * output element is computed from the inputs at the same index (or a
 * broadcast one) and written once, so out may be input 0 or, for the
 * binary ops, the same-shaped input 1 (the in-place contract): no
 * pointer here is restrict. Large tensors are split over the pool.
 *
 * Halves run the float loops over short chunks widened on the stack
 * (MI__ELT_HALF_CHUNK elements), each chunk read whole before it is
 * written back rounded: the fp32 result of the half inputs, rounded
 * once, in place or not. */
#include "cpu_internal.h"

#include <float.h>
#include <string.h>

#define MI__ELT_GRAIN ((int64_t)1 << 15)
#define MI__ELT_HALF_CHUNK 512

/* ---- unary -------------------------------------------------------------------------- */

typedef struct unary_job {
    mi_op op;
    mi_dtype dt;
    const void *x;
    void *y;
    int64_t n;
    float a, b; /* clip min/max, hard sigmoid alpha/beta */
} unary_job;

/* Integer clip bounds: the float bound saturated into the type. */
static int64_t clamp_bound(float v, int64_t lo, int64_t hi) {
    if (v != v) return lo;
    if ((double)v <= (double)lo) return lo;
    if ((double)v >= (double)hi) return hi;
    return (int64_t)v;
}

#define MI__INT_UNARY(T, TMIN, TMAX)                                                  \
    do {                                                                              \
        const T *x = (const T *)j->x + i0;                                            \
        T *y = (T *)j->y + i0;                                                        \
        if (j->op == MI_OP_RELU) {                                                    \
            for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < 0 ? 0 : x[i];             \
        } else {                                                                      \
            T lo = (T)clamp_bound(j->a, TMIN, TMAX), hi = (T)clamp_bound(j->b, TMIN, TMAX); \
            for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]); \
        }                                                                             \
    } while (0)

/* The float loops; x and y may be the same memory. */
static inline void unary_float(const unary_job *j, const float *x, float *y, int64_t cnt) {
    const float a = j->a, b = j->b;
    switch (j->op) {
    case MI_OP_RELU: for (int64_t i = 0; i < cnt; i++) y[i] = mi_k_relu(x[i]); break;
    case MI_OP_CLIP: for (int64_t i = 0; i < cnt; i++) y[i] = mi_k_clip(x[i], a, b); break;
    case MI_OP_SIGMOID: for (int64_t i = 0; i < cnt; i++) y[i] = mi_k_sigmoid(x[i]); break;
    case MI_OP_HARD_SIGMOID:
        for (int64_t i = 0; i < cnt; i++) y[i] = mi_k_hard_sigmoid(x[i], a, b);
        break;
    case MI_OP_HARD_SWISH: for (int64_t i = 0; i < cnt; i++) y[i] = mi_k_hard_swish(x[i]); break;
    default: break;
    }
}

static void unary_half(const unary_job *j, int64_t i0, int64_t cnt) {
    const uint16_t *x = (const uint16_t *)j->x + i0;
    uint16_t *y = (uint16_t *)j->y + i0;
    float buf[MI__ELT_HALF_CHUNK];
    for (int64_t c0 = 0; c0 < cnt; c0 += MI__ELT_HALF_CHUNK) {
        int64_t len = cnt - c0 < MI__ELT_HALF_CHUNK ? cnt - c0 : MI__ELT_HALF_CHUNK;
        mi__cpu_half_row_to_f32(j->dt, x + c0, buf, len);
        unary_float(j, buf, buf, len);
        mi__cpu_f32_row_to_half(j->dt, buf, y + c0, len);
    }
}

static void unary_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const unary_job *j = arg;
    int64_t i0 = task * MI__ELT_GRAIN, cnt = j->n - i0 < MI__ELT_GRAIN ? j->n - i0 : MI__ELT_GRAIN;
    switch (j->dt) {
    case MI_DTYPE_FLOAT: unary_float(j, (const float *)j->x + i0, (float *)j->y + i0, cnt); break;
    case MI_DTYPE_FLOAT16: case MI_DTYPE_BFLOAT16: unary_half(j, i0, cnt); break;
    case MI_DTYPE_DOUBLE: {
        const double *x = (const double *)j->x + i0;
        double *y = (double *)j->y + i0;
        if (j->op == MI_OP_RELU) {
            for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < 0.0 ? 0.0 : x[i];
        } else {
            double lo = j->a, hi = j->b;
            for (int64_t i = 0; i < cnt; i++) y[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);
        }
        break;
    }
    case MI_DTYPE_INT32: MI__INT_UNARY(int32_t, INT32_MIN, INT32_MAX); break;
    case MI_DTYPE_INT64: MI__INT_UNARY(int64_t, INT64_MIN, INT64_MAX); break;
    default: break;
    }
}

mi_status mi__cpu_unary(mi__cpu_call *c) {
    const mi_tensor *xt = mi__cpu_in_t(c, 0);
    unary_job j = {c->n->op, xt->dtype, c->in[0], c->out[0], mi_tensor_numel(xt), 0.0f, 0.0f};
    int is_float = mi__dtype_is_float(xt->dtype);
    int numeric = is_float || xt->dtype == MI_DTYPE_DOUBLE || xt->dtype == MI_DTYPE_INT32 ||
                  xt->dtype == MI_DTYPE_INT64;
    int ok = c->n->op == MI_OP_RELU || c->n->op == MI_OP_CLIP ? numeric : is_float;
    if (!ok)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported", mi_dtype_name(xt->dtype));
    if (c->n->op == MI_OP_CLIP) {
        j.a = c->p.u.clip.min;
        j.b = c->p.u.clip.max;
    } else if (c->n->op == MI_OP_HARD_SIGMOID) {
        j.a = c->p.u.hard_sigmoid.alpha;
        j.b = c->p.u.hard_sigmoid.beta;
    }
    mi__cpu_parallel(c->cpu, (j.n + MI__ELT_GRAIN - 1) / MI__ELT_GRAIN, j.n, unary_task, &j);
    return MI_OK;
}

/* ---- binary ------------------------------------------------------------------------- */

typedef struct binary_job {
    mi_op op;
    mi_dtype dt;
    const void *a, *b;
    void *y;
    mi_k_bcast bc;
    int64_t inner, rows, rows_per_task;
} binary_job;

/* One row of `inner` outputs; sa, sb are 0 (broadcast) or 1. */
#define MI__BIN_ROW(T, FN)                                                           \
    static void FN##_row(const T *a, int64_t sa, const T *b, int64_t sb, T *y,       \
                         int64_t n) {                                                \
        if (sa && sb)                                                                \
            for (int64_t i = 0; i < n; i++) y[i] = FN(a[i], b[i]);                   \
        else if (sa) {                                                               \
            const T bv = b[0];                                                       \
            for (int64_t i = 0; i < n; i++) y[i] = FN(a[i], bv);                     \
        } else if (sb) {                                                             \
            const T av = a[0];                                                       \
            for (int64_t i = 0; i < n; i++) y[i] = FN(av, b[i]);                     \
        } else {                                                                     \
            const T v = FN(a[0], b[0]);                                              \
            for (int64_t i = 0; i < n; i++) y[i] = v;                                \
        }                                                                            \
    }

MI__BIN_ROW(float, mi_k_add)
MI__BIN_ROW(float, mi_k_sub)
MI__BIN_ROW(float, mi_k_mul)
MI__BIN_ROW(float, mi_k_div)
MI__BIN_ROW(double, mi_k_add_f64)
MI__BIN_ROW(double, mi_k_sub_f64)
MI__BIN_ROW(double, mi_k_mul_f64)
MI__BIN_ROW(double, mi_k_div_f64)
MI__BIN_ROW(int32_t, mi_k_add_i32)
MI__BIN_ROW(int32_t, mi_k_sub_i32)
MI__BIN_ROW(int32_t, mi_k_mul_i32)
MI__BIN_ROW(int32_t, mi_k_div_i32)
MI__BIN_ROW(int64_t, mi_k_add_i64)
MI__BIN_ROW(int64_t, mi_k_sub_i64)
MI__BIN_ROW(int64_t, mi_k_mul_i64)
MI__BIN_ROW(int64_t, mi_k_div_i64)

#define MI__BIN_DISPATCH(T, ADD, SUB, MUL, DIV)                                       \
    do {                                                                              \
        const T *a = (const T *)j->a + ao, *b = (const T *)j->b + bo;                 \
        T *y = (T *)j->y + yo;                                                        \
        switch (j->op) {                                                              \
        case MI_OP_ADD: ADD##_row(a, sa, b, sb, y, j->inner); break;                  \
        case MI_OP_SUB: SUB##_row(a, sa, b, sb, y, j->inner); break;                  \
        case MI_OP_MUL: MUL##_row(a, sa, b, sb, y, j->inner); break;                  \
        default: DIV##_row(a, sa, b, sb, y, j->inner); break;                         \
        }                                                                             \
    } while (0)

/* One row of halves: chunks of a (or its broadcast element), b and y
 * widened on the stack, the float row, rounded back. */
static void binary_half_row(const binary_job *j, const uint16_t *a, int64_t sa, const uint16_t *b,
                            int64_t sb, uint16_t *y) {
    float fa[MI__ELT_HALF_CHUNK], fb[MI__ELT_HALF_CHUNK], fy[MI__ELT_HALF_CHUNK];
    for (int64_t c0 = 0; c0 < j->inner; c0 += MI__ELT_HALF_CHUNK) {
        int64_t len = j->inner - c0 < MI__ELT_HALF_CHUNK ? j->inner - c0 : MI__ELT_HALF_CHUNK;
        mi__cpu_half_row_to_f32(j->dt, a + c0 * sa, fa, sa ? len : 1);
        mi__cpu_half_row_to_f32(j->dt, b + c0 * sb, fb, sb ? len : 1);
        switch (j->op) {
        case MI_OP_ADD: mi_k_add_row(fa, sa, fb, sb, fy, len); break;
        case MI_OP_SUB: mi_k_sub_row(fa, sa, fb, sb, fy, len); break;
        case MI_OP_MUL: mi_k_mul_row(fa, sa, fb, sb, fy, len); break;
        default: mi_k_div_row(fa, sa, fb, sb, fy, len); break;
        }
        mi__cpu_f32_row_to_half(j->dt, fy, y + c0, len);
    }
}

static void binary_task(void *arg, int64_t task, int thread) {
    (void)thread;
    const binary_job *j = arg;
    const int last = j->bc.ndim - 1;
    const int64_t sa = j->bc.stride[0][last], sb = j->bc.stride[1][last];
    int64_t r0 = task * j->rows_per_task, r1 = r0 + j->rows_per_task;
    if (r1 > j->rows) r1 = j->rows;
    for (int64_t r = r0; r < r1; r++) {
        int64_t yo = r * j->inner;
        int64_t ao = mi_k_bcast_offset(&j->bc, 0, yo), bo = mi_k_bcast_offset(&j->bc, 1, yo);
        switch (j->dt) {
        case MI_DTYPE_FLOAT: MI__BIN_DISPATCH(float, mi_k_add, mi_k_sub, mi_k_mul, mi_k_div); break;
        case MI_DTYPE_FLOAT16: case MI_DTYPE_BFLOAT16:
            binary_half_row(j, (const uint16_t *)j->a + ao, sa, (const uint16_t *)j->b + bo, sb,
                            (uint16_t *)j->y + yo);
            break;
        case MI_DTYPE_DOUBLE:
            MI__BIN_DISPATCH(double, mi_k_add_f64, mi_k_sub_f64, mi_k_mul_f64, mi_k_div_f64);
            break;
        case MI_DTYPE_INT32:
            MI__BIN_DISPATCH(int32_t, mi_k_add_i32, mi_k_sub_i32, mi_k_mul_i32, mi_k_div_i32);
            break;
        case MI_DTYPE_INT64:
            MI__BIN_DISPATCH(int64_t, mi_k_add_i64, mi_k_sub_i64, mi_k_mul_i64, mi_k_div_i64);
            break;
        default: break;
        }
    }
}

mi_status mi__cpu_binary(mi__cpu_call *c) {
    const mi_tensor *at = mi__cpu_in_t(c, 0), *bt = mi__cpu_in_t(c, 1), *yt = mi__cpu_out_t(c, 0);
    mi_dtype dt = at->dtype;
    if (!mi__dtype_is_float(dt) && dt != MI_DTYPE_DOUBLE && dt != MI_DTYPE_INT32 && dt != MI_DTYPE_INT64)
        return mi__cpu_err(c, MI_ERR_UNSUPPORTED, "dtype %s is not supported (float, float16, bfloat16, "
                           "double, int32, int64)", mi_dtype_name(dt));
    if (bt->dtype != dt || yt->dtype != dt)
        return mi__cpu_err(c, MI_ERR_GRAPH, "inputs and output must share one dtype");
    binary_job j;
    memset(&j, 0, sizeof j);
    j.op = c->n->op;
    j.dt = dt;
    j.a = c->in[0];
    j.b = c->in[1];
    j.y = c->out[0];
    mi_k_bcast_init(&j.bc, at->ndim, at->dims, bt->ndim, bt->dims);
    int64_t total = mi_tensor_numel(yt);
    j.inner = j.bc.dims[j.bc.ndim - 1];
    j.rows = j.inner ? total / j.inner : 0;
    j.rows_per_task = j.inner >= MI__ELT_GRAIN ? 1 : MI__ELT_GRAIN / j.inner;
    mi__cpu_parallel(c->cpu, (j.rows + j.rows_per_task - 1) / j.rows_per_task, total, binary_task, &j);
    return MI_OK;
}
