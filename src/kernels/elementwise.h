/* Per-element math shared by the CPU and CUDA backends.
 *
 * Every elementwise op, the batch-norm inference formula and the conv
 * epilogue are written once here as MI_HD static inline functions, so the
 * two backends cannot drift apart: the CPU kernels call them in their
 * loops, the CUDA kernels in their threads. Only <math.h> and <stdint.h>
 * level things may be used: this header is compiled by nvcc for the device
 * and must not pull in any library header.
 *
 * NaN propagates through relu/clip (x < 0 ? 0 : x keeps a NaN), so a
 * kernel that reads poisoned memory gives a visibly wrong result. */
#ifndef MI_KERNELS_ELEMENTWISE_H
#define MI_KERNELS_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define MI_HD __host__ __device__
#else
#define MI_HD
#endif

/* The same values as mi_act (graph.h), which this header may not include;
 * backend_cpu.c checks that they agree. */
#define MI_K_ACT_NONE 0
#define MI_K_ACT_RELU 1
#define MI_K_ACT_CLIP 2

/* As MI_MAX_DIMS (graph.h); checked in backend_cpu.c. */
#define MI_K_MAX_DIMS 8

/* ---- activations ------------------------------------------------------------ */

MI_HD static inline float mi_k_relu(float x) { return x < 0.0f ? 0.0f : x; }

/* min(max(x, lo), hi) as ONNX defines it (hi wins when lo > hi; NaN stays
 * NaN), written as two selects so that loops over it vectorize. */
MI_HD static inline float mi_k_clip(float x, float lo, float hi) {
    float y = x < lo ? lo : x;
    return y > hi ? hi : y;
}

MI_HD static inline float mi_k_sigmoid(float x) {
    /* Split at 0 so exp never overflows into inf/inf. */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

/* max(0, min(1, alpha * x + beta)) */
MI_HD static inline float mi_k_hard_sigmoid(float x, float alpha, float beta) {
    return mi_k_clip(alpha * x + beta, 0.0f, 1.0f);
}

/* x * HardSigmoid(x) with alpha 1/6, beta 0.5 */
MI_HD static inline float mi_k_hard_swish(float x) {
    return x * mi_k_hard_sigmoid(x, 1.0f / 6.0f, 0.5f);
}

/* The activation a fused node applies (MI_K_ACT_*). */
MI_HD static inline float mi_k_act(float v, int act, float lo, float hi) {
    if (act == MI_K_ACT_RELU) return mi_k_relu(v);
    if (act == MI_K_ACT_CLIP) return mi_k_clip(v, lo, hi);
    return v;
}

/* Conv epilogue: act(v + bias + residual); pass 0 for an absent bias or
 * residual. The order of the sums is fixed so both backends round alike. */
MI_HD static inline float mi_k_conv_epilogue(float v, float bias, float residual, int act,
                                             float lo, float hi) {
    return mi_k_act(v + bias + residual, act, lo, hi);
}

/* ---- binary arithmetic --------------------------------------------------- */

MI_HD static inline float mi_k_add(float a, float b) { return a + b; }
MI_HD static inline float mi_k_sub(float a, float b) { return a - b; }
MI_HD static inline float mi_k_mul(float a, float b) { return a * b; }
MI_HD static inline float mi_k_div(float a, float b) { return a / b; }

MI_HD static inline double mi_k_add_f64(double a, double b) { return a + b; }
MI_HD static inline double mi_k_sub_f64(double a, double b) { return a - b; }
MI_HD static inline double mi_k_mul_f64(double a, double b) { return a * b; }
MI_HD static inline double mi_k_div_f64(double a, double b) { return a / b; }

/* Integer arithmetic wraps (as numpy's does) instead of being undefined. */
MI_HD static inline int64_t mi_k_add_i64(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a + (uint64_t)b);
}
MI_HD static inline int64_t mi_k_sub_i64(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a - (uint64_t)b);
}
MI_HD static inline int64_t mi_k_mul_i64(int64_t a, int64_t b) {
    return (int64_t)((uint64_t)a * (uint64_t)b);
}
/* Truncating division, as ONNX's reference (C semantics); x / 0 gives 0
 * and INT64_MIN / -1 wraps instead of trapping. */
MI_HD static inline int64_t mi_k_div_i64(int64_t a, int64_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int64_t)(0u - (uint64_t)a);
    return a / b;
}
MI_HD static inline int32_t mi_k_add_i32(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a + (uint32_t)b);
}
MI_HD static inline int32_t mi_k_sub_i32(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a - (uint32_t)b);
}
MI_HD static inline int32_t mi_k_mul_i32(int32_t a, int32_t b) {
    return (int32_t)((uint32_t)a * (uint32_t)b);
}
MI_HD static inline int32_t mi_k_div_i32(int32_t a, int32_t b) {
    if (b == 0) return 0;
    if (b == -1) return (int32_t)(0u - (uint32_t)a);
    return a / b;
}

/* ---- batch normalization (inference) --------------------------------------- */

/* 1 / sqrt(var + epsilon), once per channel. */
MI_HD static inline float mi_k_bn_invstd(float var, float epsilon) {
    return 1.0f / sqrtf(var + epsilon);
}

/* (x - mean) * invstd * gamma + beta */
MI_HD static inline float mi_k_batch_norm(float x, float mean, float invstd, float gamma,
                                          float beta) {
    return (x - mean) * invstd * gamma + beta;
}

/* ---- broadcasting ------------------------------------------------------------ */

/* numpy broadcasting of two inputs a, b to an output: per output dim its
 * extent and each input's element stride (0 where the input is broadcast).
 * Small and trivially copyable, so it can be passed by value to a kernel. */
typedef struct mi_k_bcast {
    int ndim;                      /* after merging, >= 1 */
    int64_t dims[MI_K_MAX_DIMS];   /* output extents */
    int64_t stride[2][MI_K_MAX_DIMS]; /* [input][dim] element strides */
} mi_k_bcast;

/* Fills bc for inputs of ranks na, nb and dims ad, bd (ranks <= MI_K_MAX_DIMS,
 * shapes already checked broadcastable). Adjacent dims that broadcast the
 * same way are merged, so the common cases (same shape; a per-channel
 * vector) become 1 or 2 dims. */
MI_HD static inline void mi_k_bcast_init(mi_k_bcast *bc, int na, const int64_t *ad, int nb,
                                         const int64_t *bd) {
    int r = na > nb ? na : nb;
    int64_t od[MI_K_MAX_DIMS], sa[MI_K_MAX_DIMS], sb[MI_K_MAX_DIMS];
    int64_t acc_a = 1, acc_b = 1;
    for (int i = r - 1; i >= 0; i--) {
        int ia = i - (r - na), ib = i - (r - nb);
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        od[i] = da == 1 ? db : da;
        sa[i] = da == 1 ? 0 : acc_a;
        sb[i] = db == 1 ? 0 : acc_b;
        acc_a *= da;
        acc_b *= db;
    }
    /* Merge dim i into the run to its right when both inputs keep the
     * contiguous relation (stride_i == stride_{i+1} * dim_{i+1}, or both 0).
     * Size-1 output dims are dropped. */
    int w = 0;
    int64_t md[MI_K_MAX_DIMS], ma[MI_K_MAX_DIMS], mb[MI_K_MAX_DIMS];
    for (int i = r - 1; i >= 0; i--) {
        if (od[i] == 1) continue;
        if (w > 0) {
            int j = w - 1;
            if (sa[i] == ma[j] * md[j] && sb[i] == mb[j] * md[j]) {
                md[j] *= od[i];
                continue;
            }
        }
        md[w] = od[i];
        ma[w] = sa[i];
        mb[w] = sb[i];
        w++;
    }
    if (w == 0) {
        md[0] = 1;
        ma[0] = mb[0] = 0;
        w = 1;
    }
    bc->ndim = w;
    for (int i = 0; i < w; i++) { /* back to outermost-first order */
        bc->dims[i] = md[w - 1 - i];
        bc->stride[0][i] = ma[w - 1 - i];
        bc->stride[1][i] = mb[w - 1 - i];
    }
}

/* Offset in input `which` (0 = a, 1 = b) of output element idx. */
MI_HD static inline int64_t mi_k_bcast_offset(const mi_k_bcast *bc, int which, int64_t idx) {
    int64_t off = 0;
    for (int i = bc->ndim - 1; i >= 0; i--) {
        int64_t d = bc->dims[i];
        off += (idx % d) * bc->stride[which][i];
        idx /= d;
    }
    return off;
}

/* The same for a tensor described by one stride vector (strides 0 on
 * broadcast dims): output linear index -> input offset. */
MI_HD static inline int64_t mi_k_strided_offset(int ndim, const int64_t *dims,
                                                const int64_t *strides, int64_t idx) {
    int64_t off = 0;
    for (int i = ndim - 1; i >= 0; i--) {
        off += (idx % dims[i]) * strides[i];
        idx /= dims[i];
    }
    return off;
}

/* IEEE half <-> float, round to nearest even (subnormals, overflow to
 * infinity, NaN to sign | 0x7e00), written by hand: no compiler's half
 * type can be relied on (clang 14 rejects _Float16 on x86, gcc 12 has no
 * __bf16), and the CPU and the device must convert the same way. Without
 * branches, so the CPU's conversion loops vectorize (with branches they stayed scalar and
 * MobileNet-V2 ran 4x slower in float16 than in bfloat16). Subnormals go
 * through one float add or subtract of a power of two that rounds them
 * exactly (F. Giesen's method). tests/test_half checks every half, every
 * tie and the edges; tests/test_cpu_half compares the CPU's loops with a
 * plain reference over every tie and a sweep of floats. */
MI_HD static inline uint16_t mi_k_f32_to_f16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    const uint32_t sign = bits & 0x80000000u;
    bits ^= sign;
    /* Past float16's range (65536 and up, with the rounding): infinity; NaN: quiet. */
    uint32_t special = 0x7c00u | (uint32_t)(bits > 0x7f800000u) << 9;
    /* Below 2^-14, a subnormal or zero: adding 0.5 leaves the 10 mantissa
     * bits at the bottom, rounded to nearest even by the float add. */
    float small, magic = 0.5f;
    memcpy(&small, &bits, 4);
    small += magic;
    uint32_t sub;
    memcpy(&sub, &small, 4);
    sub -= 0x3f000000u;
    /* Normal: rebias the exponent, add half an ulp less one (plus one when
     * the kept mantissa is odd: ties to even), drop 13 bits. */
    uint32_t normal = (bits + ((uint32_t)(15 - 127) << 23) + 0xfffu + ((bits >> 13) & 1u)) >> 13;
    /* Selected with masks, not branches, so the loops vectorize. */
    uint32_t is_special = 0u - (uint32_t)(bits >= ((uint32_t)(127 + 16) << 23));
    uint32_t is_sub = 0u - (uint32_t)(bits < (113u << 23));
    uint32_t h = (special & is_special) | (sub & is_sub) | (normal & ~(is_special | is_sub));
    return (uint16_t)(h | (sign >> 16));
}

MI_HD static inline float mi_k_f16_to_f32(uint16_t h) {
    const uint32_t exp_mask = 0x7c00u << 13;
    uint32_t bits = (uint32_t)(h & 0x7fffu) << 13, exp = bits & exp_mask, sub_bits;
    bits += (uint32_t)(127 - 15) << 23;
    /* Subnormal or zero: 2^-14 * 0.mant, computed as (1.mant * 2^-14) - 2^-14. */
    sub_bits = bits + (1u << 23);
    float sub, magic = 0x1p-14f;
    memcpy(&sub, &sub_bits, 4);
    sub -= magic;
    memcpy(&sub_bits, &sub, 4);
    bits = exp == exp_mask ? bits + ((uint32_t)(128 - 16) << 23) : exp == 0 ? sub_bits : bits;
    bits |= (uint32_t)(h & 0x8000u) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* bfloat16 (float's top 16 bits) <-> float, round to nearest even; a NaN
 * stays a NaN (quiet), a finite value past bfloat16's largest becomes
 * infinity. */
MI_HD static inline uint16_t mi_k_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u);
    x += 0x7fffu + ((x >> 16) & 1u);
    return (uint16_t)(x >> 16);
}

MI_HD static inline float mi_k_bf16_to_f32(uint16_t h) {
    uint32_t x = (uint32_t)h << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

#endif
