/* The element math of the ops transformers brought (Erf, Sqrt, Reciprocal,
 * Neg, Tanh, Exp, Log, Not, Gelu; Pow, Min, Max, Mod, Equal, Less, Greater, And;
 * Where), written once for every user: the CPU backend's kernels, constant
 * folding at load (graph/fold.c) and the tests, over any stored dtype.
 *
 * Floats compute in fp32 (float16 and bfloat16 widened, rounded once on
 * store), double in double, integers in int64 with wrap-around, as ONNX's
 * reference does per type. Comparisons and And write bool (0 or 1).
 *
 * mi_k_nary runs one of them over up to three broadcast operands with an
 * odometer (no division per element): plain C for the host; the CUDA
 * kernels use the per-element functions (MI_HD) with their own indexing. */
#ifndef MI_KERNELS_MATH_H
#define MI_KERNELS_MATH_H

#include "kernels/cast.h"

enum {
    MI_K_UN_NEG = 1, MI_K_UN_SQRT, MI_K_UN_RECIPROCAL, MI_K_UN_TANH, MI_K_UN_EXP, MI_K_UN_LOG, MI_K_UN_ERF,
    MI_K_UN_NOT, MI_K_UN_GELU, MI_K_UN_GELU_TANH,
    MI_K_BIN_POW = 32, MI_K_BIN_MIN, MI_K_BIN_MAX, MI_K_BIN_MOD, MI_K_BIN_FMOD, MI_K_BIN_EQUAL, MI_K_BIN_LESS,
    MI_K_BIN_GREATER, MI_K_BIN_AND,
    MI_K_WHERE = 64,
};

/* Whether op writes bool whatever its inputs are. */
MI_HD static inline int mi_k_math_is_predicate(int op) {
    return op == MI_K_UN_NOT || (op >= MI_K_BIN_EQUAL && op <= MI_K_BIN_AND);
}

MI_HD static inline float mi_k_unary_f32(int op, float x) {
    switch (op) {
    case MI_K_UN_NEG: return -x;
    case MI_K_UN_SQRT: return sqrtf(x);
    case MI_K_UN_RECIPROCAL: return 1.0f / x;
    case MI_K_UN_TANH: return tanhf(x);
    case MI_K_UN_EXP: return expf(x);
    case MI_K_UN_LOG: return logf(x);
    case MI_K_UN_ERF: return erff(x);
    /* x * Phi(x), exactly and in the tanh form (ONNX's Gelu, opset 20) */
    case MI_K_UN_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case MI_K_UN_GELU_TANH: return 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    default: return x;
    }
}

MI_HD static inline double mi_k_unary_f64(int op, double x) {
    switch (op) {
    case MI_K_UN_NEG: return -x;
    case MI_K_UN_SQRT: return sqrt(x);
    case MI_K_UN_RECIPROCAL: return 1.0 / x;
    case MI_K_UN_TANH: return tanh(x);
    case MI_K_UN_EXP: return exp(x);
    case MI_K_UN_LOG: return log(x);
    case MI_K_UN_ERF: return erf(x);
    case MI_K_UN_GELU: return 0.5 * x * (1.0 + erf(x * 0.70710678118654752));
    case MI_K_UN_GELU_TANH: return 0.5 * x * (1.0 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x)));
    default: return x;
    }
}

/* ONNX's Mod with fmod 0: the result takes the divisor's sign (Python). */
MI_HD static inline double mi_k_mod_f64(double a, double b) {
    double r = fmod(a, b);
    if (r != 0.0 && ((r < 0.0) != (b < 0.0))) r += b;
    return r;
}

MI_HD static inline float mi_k_binary_f32(int op, float a, float b) {
    switch (op) {
    case MI_K_BIN_POW: return powf(a, b);
    case MI_K_BIN_MIN: return a != a || b != b ? a + b : (a < b ? a : b); /* NaN wins, as numpy */
    case MI_K_BIN_MAX: return a != a || b != b ? a + b : (a > b ? a : b);
    case MI_K_BIN_MOD: return (float)mi_k_mod_f64(a, b);
    case MI_K_BIN_FMOD: return fmodf(a, b);
    default: return 0.0f;
    }
}

MI_HD static inline double mi_k_binary_f64(int op, double a, double b) {
    switch (op) {
    case MI_K_BIN_POW: return pow(a, b);
    case MI_K_BIN_MIN: return a != a || b != b ? a + b : (a < b ? a : b);
    case MI_K_BIN_MAX: return a != a || b != b ? a + b : (a > b ? a : b);
    case MI_K_BIN_MOD: return mi_k_mod_f64(a, b);
    case MI_K_BIN_FMOD: return fmod(a, b);
    default: return 0.0;
    }
}

/* Integers: Mod by 0 is 0 (ONNX leaves it undefined; no trap), Pow by
 * repeated squaring (a negative exponent gives 0 but for |a| == 1). */
MI_HD static inline int64_t mi_k_binary_i64(int op, int64_t a, int64_t b) {
    switch (op) {
    case MI_K_BIN_MIN: return a < b ? a : b;
    case MI_K_BIN_MAX: return a > b ? a : b;
    case MI_K_BIN_MOD: {
        if (b == 0) return 0;
        if (b == -1) return 0;
        int64_t r = a % b;
        if (r != 0 && ((r < 0) != (b < 0))) r += b;
        return r;
    }
    case MI_K_BIN_FMOD: return b == 0 || b == -1 ? 0 : a % b;
    case MI_K_BIN_POW: {
        if (b < 0) return a == 1 ? 1 : a == -1 ? (b % 2 ? -1 : 1) : 0;
        uint64_t r = 1, base = (uint64_t)a;
        for (int64_t e = b; e > 0; e >>= 1) {
            if (e & 1) r *= base;
            base *= base;
        }
        return (int64_t)r;
    }
    default: return 0;
    }
}

/* Comparisons on the values as double (exact for every stored integer
 * up to 2^53, and int64 compared as integers when both are). */
MI_HD static inline int mi_k_predicate(int op, double a, double b) {
    switch (op) {
    case MI_K_BIN_EQUAL: return a == b;
    case MI_K_BIN_LESS: return a < b;
    case MI_K_BIN_GREATER: return a > b;
    case MI_K_BIN_AND: return a != 0.0 && b != 0.0;
    default: return 0;
    }
}
MI_HD static inline int mi_k_predicate_i64(int op, int64_t a, int64_t b) {
    switch (op) {
    case MI_K_BIN_EQUAL: return a == b;
    case MI_K_BIN_LESS: return a < b;
    case MI_K_BIN_GREATER: return a > b;
    case MI_K_BIN_AND: return a != 0 && b != 0;
    default: return 0;
    }
}

MI_HD static inline int mi_k_dt_is_int(int t) {
    return t == MI_K_DT_INT64 || t == MI_K_DT_INT32 || t == MI_K_DT_INT16 || t == MI_K_DT_INT8 ||
           t == MI_K_DT_UINT8 || t == MI_K_DT_UINT16 || t == MI_K_DT_BOOL;
}

/* ---- broadcast walks over up to three operands ---------------------------------- */

/* Output dims and each operand's element strides (0 where broadcast),
 * right-aligned at rank `ndim`. */
typedef struct mi_k_nwalk {
    int ndim, nops;
    int64_t dims[MI_K_MAX_DIMS];
    int64_t stride[3][MI_K_MAX_DIMS];
} mi_k_nwalk;

/* Operand k has rank ranks[k] and dims dims[k]; out has rank ndim and
 * dims odims (their broadcast, already checked). */
static inline void mi_k_nwalk_init(mi_k_nwalk *w, int nops, const int *ranks, const int64_t *const *dims, int ndim,
                                   const int64_t *odims) {
    w->ndim = ndim;
    w->nops = nops;
    for (int d = 0; d < ndim; d++) w->dims[d] = odims[d];
    for (int k = 0; k < nops; k++) {
        int64_t acc = 1;
        for (int d = ndim - 1; d >= 0; d--) {
            int i = d - (ndim - ranks[k]);
            int64_t e = i >= 0 ? dims[k][i] : 1;
            w->stride[k][d] = e == 1 ? 0 : acc;
            acc *= e;
        }
    }
}

/* Elements [i0, i0 + count) of the output: the operands' element offsets
 * at i0, advanced by an odometer. */
typedef struct mi_k_nodo {
    int64_t idx[MI_K_MAX_DIMS];
    int64_t off[3];
} mi_k_nodo;

static inline void mi_k_nodo_start(const mi_k_nwalk *w, int64_t i0, mi_k_nodo *o) {
    int64_t rest = i0;
    o->off[0] = o->off[1] = o->off[2] = 0;
    for (int d = w->ndim - 1; d >= 0; d--) {
        o->idx[d] = w->dims[d] ? rest % w->dims[d] : 0;
        rest = w->dims[d] ? rest / w->dims[d] : 0;
        for (int k = 0; k < w->nops; k++) o->off[k] += o->idx[d] * w->stride[k][d];
    }
}

static inline void mi_k_nodo_next(const mi_k_nwalk *w, mi_k_nodo *o) {
    for (int d = w->ndim - 1; d >= 0; d--) {
        for (int k = 0; k < w->nops; k++) o->off[k] += w->stride[k][d];
        if (++o->idx[d] < w->dims[d]) return;
        for (int k = 0; k < w->nops; k++) o->off[k] -= w->stride[k][d] * w->dims[d];
        o->idx[d] = 0;
    }
}

MI_HD static inline int64_t mi_k_ld_i(int t, const void *p, int64_t i) {
    return mi_k_load_i(t, (const char *)p + i * mi_k_dt_size(t));
}
MI_HD static inline double mi_k_ld_d(int t, const void *p, int64_t i) {
    if (mi_k_dt_is_int(t)) return (double)mi_k_ld_i(t, p, i);
    return mi_k_load_f(t, (const char *)p + i * mi_k_dt_size(t));
}

/* Output element i of op: operand k at its element offset off[k]. The one
 * definition of every op's element, for the host loop below and the CUDA
 * kernel alike. */
MI_HD static inline void mi_k_nary_elem(int op, const void *const *x, const int *xt, const int64_t *off, void *y,
                                        int yt, int64_t i) {
    int ys = mi_k_dt_size(yt);
    void *dst = (char *)y + i * ys;
    if (op == MI_K_WHERE) {
        int k = mi_k_ld_i(xt[0], x[0], off[0]) != 0 ? 1 : 2;
        memcpy(dst, (const char *)x[k] + off[k] * mi_k_dt_size(xt[k]), (size_t)ys);
    } else if (op < MI_K_BIN_POW) { /* unary */
        if (op == MI_K_UN_NOT) *(uint8_t *)dst = mi_k_ld_i(xt[0], x[0], off[0]) == 0;
        else if (yt == MI_K_DT_DOUBLE) mi_k_store_f(yt, dst, mi_k_unary_f64(op, mi_k_ld_d(xt[0], x[0], off[0])));
        else if (mi_k_dt_is_int(yt))
            mi_k_store_i(yt, dst, op == MI_K_UN_NEG ? (int64_t)(0u - (uint64_t)mi_k_ld_i(xt[0], x[0], off[0])) : 0);
        else mi_k_store_f(yt, dst, mi_k_unary_f32(op, (float)mi_k_ld_d(xt[0], x[0], off[0])));
    } else if (mi_k_math_is_predicate(op)) {
        int r = mi_k_dt_is_int(xt[0]) && mi_k_dt_is_int(xt[1])
                    ? mi_k_predicate_i64(op, mi_k_ld_i(xt[0], x[0], off[0]), mi_k_ld_i(xt[1], x[1], off[1]))
                    : mi_k_predicate(op, mi_k_ld_d(xt[0], x[0], off[0]), mi_k_ld_d(xt[1], x[1], off[1]));
        *(uint8_t *)dst = (uint8_t)r;
    } else if (mi_k_dt_is_int(yt) && mi_k_dt_is_int(xt[1])) {
        mi_k_store_i(yt, dst, mi_k_binary_i64(op, mi_k_ld_i(xt[0], x[0], off[0]), mi_k_ld_i(xt[1], x[1], off[1])));
    } else if (mi_k_dt_is_int(yt)) { /* Pow of an integer by a float: in double, truncated */
        double v = mi_k_binary_f64(op, mi_k_ld_d(xt[0], x[0], off[0]), mi_k_ld_d(xt[1], x[1], off[1]));
        mi_k_store_i(yt, dst, v != v ? 0 : (int64_t)v);
    } else if (yt == MI_K_DT_DOUBLE) {
        mi_k_store_f(yt, dst, mi_k_binary_f64(op, mi_k_ld_d(xt[0], x[0], off[0]), mi_k_ld_d(xt[1], x[1], off[1])));
    } else {
        mi_k_store_f(yt, dst, mi_k_binary_f32(op, (float)mi_k_ld_d(xt[0], x[0], off[0]),
                                              (float)mi_k_ld_d(xt[1], x[1], off[1])));
    }
}

/* Element offsets of output element i in each operand (a division per
 * dim: the CUDA kernel's way; the host loop walks an odometer). */
MI_HD static inline void mi_k_nwalk_offsets(const mi_k_nwalk *w, int64_t i, int64_t *off) {
    off[0] = off[1] = off[2] = 0;
    for (int d = w->ndim - 1; d >= 0; d--) {
        int64_t id = w->dims[d] ? i % w->dims[d] : 0;
        i = w->dims[d] ? i / w->dims[d] : 0;
        for (int k = 0; k < w->nops; k++) off[k] += id * w->stride[k][d];
    }
}

/* Output elements [i0, i0 + count) of op over operands x[0..nops) of
 * dtypes xt[] into y of dtype yt. Where: x[0] is the bool condition. */
static inline void mi_k_nary(int op, const mi_k_nwalk *w, const void *const *x, const int *xt, void *y, int yt,
                             int64_t i0, int64_t count) {
    mi_k_nodo o;
    mi_k_nodo_start(w, i0, &o);
    for (int64_t i = i0; i < i0 + count; i++, mi_k_nodo_next(w, &o)) mi_k_nary_elem(op, x, xt, o.off, y, yt, i);
}

/* ---- ScatterND ------------------------------------------------------------------------ */

/* The element offset in data (rank r, dims d) that index tuple t of
 * indices (dtype it, k values per tuple) points at, or -1 when a value is
 * out of range (negative ones count from the end). */
MI_HD static inline int64_t mi_k_scatter_base(const void *indices, int it, int64_t t, int k, int r, const int64_t *d) {
    int64_t off = 0;
    for (int j = 0; j < r; j++) {
        int64_t v = 0;
        if (j < k) {
            v = mi_k_ld_i(it, indices, t * k + j);
            if (v < 0) v += d[j];
            if (v < 0 || v >= d[j]) return -1;
        }
        off = off * d[j] + v;
    }
    return off;
}

/* Element e of the updates (slice elements each) into out, which already
 * holds data: reduction 0 none, 1 add, 2 mul (in the dtype's arithmetic). */
MI_HD static inline void mi_k_scatter_elem(void *out, const void *updates, int dt, int64_t base, int64_t e,
                                           int64_t slice, int reduction) {
    int64_t o = base + e % slice;
    int es = mi_k_dt_size(dt);
    char *dst = (char *)out + o * es;
    const char *src = (const char *)updates + e * es;
    if (reduction == 0) {
        memcpy(dst, src, (size_t)es);
    } else if (mi_k_dt_is_int(dt)) {
        int64_t a = mi_k_load_i(dt, dst), b = mi_k_load_i(dt, src);
        mi_k_store_i(dt, dst, reduction == 1 ? (int64_t)((uint64_t)a + (uint64_t)b) : (int64_t)((uint64_t)a * (uint64_t)b));
    } else {
        double a = mi_k_load_f(dt, dst), b = mi_k_load_f(dt, src);
        mi_k_store_f(dt, dst, reduction == 1 ? a + b : a * b);
    }
}

/* ScatterND on the host: out (a copy of data already) gets every update;
 * the first out-of-range tuple's number, or -1 when all were in range. */
static inline int64_t mi_k_scatter_nd(void *out, const void *indices, int it, const void *updates, int dt, int64_t ntuples,
                                      int k, int r, const int64_t *d, int64_t slice, int reduction) {
    for (int64_t t = 0; t < ntuples; t++) {
        int64_t base = mi_k_scatter_base(indices, it, t, k, r, d);
        if (base < 0) return t;
        for (int64_t e = 0; e < slice; e++) mi_k_scatter_elem(out, updates, dt, base, t * slice + e, slice, reduction);
    }
    return -1;
}

/* ---- shape-made tensors: Range, ConstantOfShape, Trilu, Expand, Tile ---------------------- */

/* Folding at load, the CPU backend and the CUDA backend's host-filled
 * values compute these the same way. */

/* count values start + i * delta of dtype dt (integers wrap). */
static inline void mi_k_range_fill(int dt, const void *start, const void *delta, void *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        void *o = (char *)dst + i * mi_k_dt_size(dt);
        if (mi_k_dt_is_int(dt))
            mi_k_store_i(dt, o, (int64_t)((uint64_t)mi_k_ld_i(dt, start, 0) + (uint64_t)i * (uint64_t)mi_k_ld_i(dt, delta, 0)));
        else mi_k_store_f(dt, o, mi_k_ld_d(dt, start, 0) + (double)i * mi_k_ld_d(dt, delta, 0));
    }
}

/* count copies of the es-byte value (NULL: zeros). */
static inline void mi_k_splat_fill(const void *value, size_t es, void *dst, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        if (value) memcpy((char *)dst + (size_t)i * es, value, es);
        else memset((char *)dst + (size_t)i * es, 0, es);
    }
}

/* Trilu over count elements of [..., rows, cols]: the band kept, the rest
 * zero; dst may be src. */
static inline void mi_k_trilu_copy(const void *src, void *dst, size_t es, int64_t rows, int64_t cols, int64_t k,
                                   int upper, int64_t count) {
    for (int64_t i = 0; i < count; i++) {
        int64_t c = i % cols, r = (i / cols) % rows;
        int keep = upper ? c - r >= k : c - r <= k;
        char *o = (char *)dst + (size_t)i * es;
        if (keep) memmove(o, (const char *)src + (size_t)i * es, es);
        else memset(o, 0, es);
    }
}

/* Expand (x broadcast to y's dims, right-aligned) or Tile (x repeated
 * along each axis: same rank), es-byte elements. */
static inline void mi_k_expand_tile(const void *src, int xr, const int64_t *xd, void *dst, int yr, const int64_t *yd,
                                    size_t es, int tile) {
    int64_t xs[MI_K_MAX_DIMS], idx[MI_K_MAX_DIMS] = {0}, acc = 1, n = 1;
    for (int k = xr - 1; k >= 0; k--) {
        xs[k] = acc;
        acc *= xd[k];
    }
    for (int k = 0; k < yr; k++) n *= yd[k];
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int k = 0; k < xr; k++) {
            int64_t o = idx[k + (yr - xr)];
            off += (tile ? o % xd[k] : (xd[k] == 1 ? 0 : o)) * xs[k];
        }
        memcpy((char *)dst + (size_t)i * es, (const char *)src + (size_t)off * es, es);
        for (int d = yr - 1; d >= 0; d--) {
            if (++idx[d] < yd[d]) break;
            idx[d] = 0;
        }
    }
}

#endif
