/* One element of any stored type to any other, as Cast defines it and both
 * backends do it: reals go through double (saturating into integers, NaN
 * to 0), integers through int64 (wrapping into narrower integers), halves
 * through float (elementwise.h's conversions, round to nearest even).
 * Plain C and MI_HD like elementwise.h: the CPU backend calls it in its
 * loops, the CUDA kernels in their threads, the C tests on the host. */
#ifndef MI_KERNELS_CAST_H
#define MI_KERNELS_CAST_H

#include "kernels/elementwise.h"

/* Element types, numbered as mi_dtype (graph.h, which this header may not
 * include); backend_cpu.c and cuda/host_plan.c check that they agree. */
#define MI_K_DT_FLOAT 1
#define MI_K_DT_UINT8 2
#define MI_K_DT_INT8 3
#define MI_K_DT_UINT16 4
#define MI_K_DT_INT16 5
#define MI_K_DT_INT32 6
#define MI_K_DT_INT64 7
#define MI_K_DT_BOOL 9
#define MI_K_DT_FLOAT16 10
#define MI_K_DT_DOUBLE 11
#define MI_K_DT_BFLOAT16 16

MI_HD static inline int mi_k_dt_size(int t) {
    switch (t) {
    case MI_K_DT_UINT8: case MI_K_DT_INT8: case MI_K_DT_BOOL: return 1;
    case MI_K_DT_UINT16: case MI_K_DT_INT16: case MI_K_DT_FLOAT16: case MI_K_DT_BFLOAT16: return 2;
    case MI_K_DT_FLOAT: case MI_K_DT_INT32: return 4;
    case MI_K_DT_INT64: case MI_K_DT_DOUBLE: return 8;
    default: return 0;
    }
}

MI_HD static inline int mi_k_dt_is_real(int t) {
    return t == MI_K_DT_FLOAT || t == MI_K_DT_DOUBLE || t == MI_K_DT_FLOAT16 || t == MI_K_DT_BFLOAT16;
}

MI_HD static inline double mi_k_load_f(int t, const void *p) {
    uint16_t h;
    switch (t) {
    case MI_K_DT_FLOAT: { float v; memcpy(&v, p, 4); return v; }
    case MI_K_DT_DOUBLE: { double v; memcpy(&v, p, 8); return v; }
    case MI_K_DT_BFLOAT16: memcpy(&h, p, 2); return mi_k_bf16_to_f32(h);
    default: memcpy(&h, p, 2); return mi_k_f16_to_f32(h);
    }
}

MI_HD static inline int64_t mi_k_load_i(int t, const void *p) {
    switch (t) {
    case MI_K_DT_UINT8: case MI_K_DT_BOOL: return *(const uint8_t *)p;
    case MI_K_DT_INT8: return *(const int8_t *)p;
    case MI_K_DT_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
    case MI_K_DT_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
    case MI_K_DT_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
    default: { int64_t v; memcpy(&v, p, 8); return v; }
    }
}

/* A real into an integer range: NaN is 0, out of range saturates. */
MI_HD static inline int64_t mi_k_sat_i(double v, int64_t lo, int64_t hi) {
    if (v != v) return 0;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;
    return (int64_t)v;
}

/* An integer stored wraps, as a C conversion to the narrower type does. */
MI_HD static inline void mi_k_store_i(int t, void *p, int64_t v) {
    switch (t) {
    case MI_K_DT_BOOL: *(uint8_t *)p = v != 0; break;
    case MI_K_DT_UINT8: *(uint8_t *)p = (uint8_t)v; break;
    case MI_K_DT_INT8: *(int8_t *)p = (int8_t)(uint8_t)v; break;
    case MI_K_DT_UINT16: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case MI_K_DT_INT16: { int16_t x = (int16_t)(uint16_t)v; memcpy(p, &x, 2); break; }
    case MI_K_DT_INT32: { int32_t x = (int32_t)(uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

MI_HD static inline void mi_k_store_f(int t, void *p, double v) {
    switch (t) {
    case MI_K_DT_FLOAT: { float x = (float)v; memcpy(p, &x, 4); break; }
    case MI_K_DT_DOUBLE: memcpy(p, &v, 8); break;
    case MI_K_DT_FLOAT16: { uint16_t x = mi_k_f32_to_f16((float)v); memcpy(p, &x, 2); break; }
    case MI_K_DT_BFLOAT16: { uint16_t x = mi_k_f32_to_bf16((float)v); memcpy(p, &x, 2); break; }
    case MI_K_DT_BOOL: *(uint8_t *)p = v != 0.0; break;
    case MI_K_DT_UINT8: *(uint8_t *)p = (uint8_t)mi_k_sat_i(v, 0, UINT8_MAX); break;
    case MI_K_DT_INT8: *(int8_t *)p = (int8_t)mi_k_sat_i(v, INT8_MIN, INT8_MAX); break;
    case MI_K_DT_UINT16: { uint16_t x = (uint16_t)mi_k_sat_i(v, 0, UINT16_MAX); memcpy(p, &x, 2); break; }
    case MI_K_DT_INT16: { int16_t x = (int16_t)mi_k_sat_i(v, INT16_MIN, INT16_MAX); memcpy(p, &x, 2); break; }
    case MI_K_DT_INT32: { int32_t x = (int32_t)mi_k_sat_i(v, INT32_MIN, INT32_MAX); memcpy(p, &x, 4); break; }
    default: { int64_t x = mi_k_sat_i(v, INT64_MIN, INT64_MAX); memcpy(p, &x, 8); break; }
    }
}

/* Element i of a float, float16 or bfloat16 array, as float; and back,
 * rounded to nearest even. The kernels that compute in fp32 whatever they
 * store read and write through these (with t a compile-time constant in
 * the CUDA templates, so the switch folds away). */
MI_HD static inline float mi_k_ldf(int t, const void *p, int64_t i) {
    if (t == MI_K_DT_FLOAT) return ((const float *)p)[i];
    if (t == MI_K_DT_BFLOAT16) return mi_k_bf16_to_f32(((const uint16_t *)p)[i]);
    return mi_k_f16_to_f32(((const uint16_t *)p)[i]);
}
MI_HD static inline void mi_k_stf(int t, void *p, int64_t i, float v) {
    if (t == MI_K_DT_FLOAT) ((float *)p)[i] = v;
    else if (t == MI_K_DT_BFLOAT16) ((uint16_t *)p)[i] = mi_k_f32_to_bf16(v);
    else ((uint16_t *)p)[i] = mi_k_f32_to_f16(v);
}

/* One element from type `from` at s to type `to` at d. */
MI_HD static inline void mi_k_cast_elem(int from, int to, const void *s, void *d) {
    if (mi_k_dt_is_real(from)) mi_k_store_f(to, d, mi_k_load_f(from, s));
    else if (mi_k_dt_is_real(to)) mi_k_store_f(to, d, (double)mi_k_load_i(from, s));
    else mi_k_store_i(to, d, mi_k_load_i(from, s));
}

#endif
