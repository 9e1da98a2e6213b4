/* fp32 exp, erf and tanh for the CPU backend's fast loops (math.c,
 * reduce.c), written without branches or library calls so that a loop
 * over them vectorizes: libm's expf, erff and tanhf are calls the
 * compiler cannot vectorize, and took most of the time of the small
 * transformers (softmax, GELU). Each is within a few ulp of libm's over
 * all floats (tests/test_cpu_fast_paths.c sweeps them): float rounding,
 * not a different formula.
 *
 * Both sides of every range split are computed and one is selected with
 * bit masks (mi__v_sel): GCC 12 turns a ?: between floats into a branch
 * that keeps the loop scalar whenever arithmetic follows it (with
 * -ftrapping-math, its default), on every target but AVX-512. NaN comes
 * out NaN, +-inf as libm's.
 * Plain multiplies and adds in a fixed order (no fmaf: a library call
 * where the target has no FMA), so every instruction-set copy of a task
 * computes the same bits. */
#ifndef MI_BACKEND_CPU_VECMATH_H
#define MI_BACKEND_CPU_VECMATH_H

#include "cpu_internal.h"

#include <stdint.h>
#include <string.h>

static MI__INLINE uint32_t mi__v_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static MI__INLINE float mi__v_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* cond ? a : b, as bits. */
static MI__INLINE float mi__v_sel(int cond, float a, float b) {
    uint32_t mask = 0u - (uint32_t)cond;
    return mi__v_float((mi__v_bits(a) & mask) | (mi__v_bits(b) & ~mask));
}

static MI__INLINE float mi__v_abs(float x) { return mi__v_float(mi__v_bits(x) & 0x7fffffffu); }

/* |a| with the sign of s. */
static MI__INLINE float mi__v_with_sign(float a, float s) {
    return mi__v_float((mi__v_bits(a) & 0x7fffffffu) | (mi__v_bits(s) & 0x80000000u));
}

/* e^x: x = n ln2 + r, |r| <= ln2 / 2, e^r by Cephes' expf polynomial
 * (about 1 ulp), times 2^n in two factors so that results in the
 * subnormal range round once and overflow gives infinity. */
static MI__INLINE float mi__v_exp(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    x = mi__v_sel(x < -104.0f, -104.0f, x); /* below: 0 (NaN passes both clamps) */
    x = mi__v_sel(x > 88.8f, 88.8f, x);     /* above: infinity */
    float fn = x * 1.44269504088896341f + magic;
    int32_t n = (int32_t)(mi__v_bits(fn) - mi__v_bits(magic));
    fn -= magic;
    /* ln2 in two parts; the first has 9 bits, so fn * it is exact */
    float r = x - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float z = r * r;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * z + r + 1.0f;
    int32_t n1 = n / 2;
    float s1 = mi__v_float((uint32_t)(n1 + 127) << 23);
    float s2 = mi__v_float((uint32_t)(n - n1 + 127) << 23);
    return p * s1 * s2;
}

/* erf(x): below 0.921875, x P(x^2); above, 1 - exp(h(|x|)) with h a fit
 * of log(erfc) on [0.921875, 3.9375] (beyond, erf rounds to 1). Both
 * fits are least squares in double, weighted by the result's ulp. */
#define MI__V_ERF_SPLIT 0.921875f
static MI__INLINE float mi__v_erf(float x) {
    float ax = mi__v_abs(x);
    float z = x * x;
    float ps = 8.477461961e-05f;
    ps = ps * z + -8.168506902e-04f;
    ps = ps * z + 5.203345791e-03f;
    ps = ps * z + -2.686034888e-02f;
    ps = ps * z + 1.128371283e-01f;
    ps = ps * z + -3.761263490e-01f;
    ps = ps * z + 1.128379226e+00f;
    float small = x * ps;
    float t = (mi__v_sel(ax > 3.9375f, 3.9375f, ax) - 2.4296875f) / 1.5078125f;
    float h = -2.027398295e-05f;
    h = h * t + -4.332027675e-05f;
    h = h * t + 2.708175271e-05f;
    h = h * t + -2.347978298e-04f;
    h = h * t + 9.994233260e-04f;
    h = h * t + -3.538314020e-03f;
    h = h * t + 1.198721398e-02f;
    h = h * t + -3.938354179e-02f;
    h = h * t + -2.140584469e+00f;
    h = h * t + -7.870946884e+00f;
    h = h * t + -7.435117722e+00f;
    float large = 1.0f - mi__v_exp(h);
    return mi__v_sel(ax < MI__V_ERF_SPLIT, small, mi__v_with_sign(large, x));
}

/* tanh(x): below 0.625, Cephes' tanhf polynomial; above,
 * 1 - 2 / (e^2|x| + 1), which has no cancellation there. */
static MI__INLINE float mi__v_tanh(float x) {
    float ax = mi__v_abs(x);
    float z = x * x;
    float p = -5.70498872745e-3f;
    p = p * z + 2.06390887954e-2f;
    p = p * z + -5.37397155531e-2f;
    p = p * z + 1.33314422036e-1f;
    p = p * z + -3.33332819422e-1f;
    float small = p * z * x + x;
    float large = 1.0f - 2.0f / (mi__v_exp(2.0f * ax) + 1.0f);
    small = mi__v_sel(ax == 0.0f, x, small); /* keeps the sign of zero */
    return mi__v_sel(ax < 0.625f, small, mi__v_with_sign(large, x));
}

/* The GELUs of kernels/math.h (MI_K_UN_GELU, MI_K_UN_GELU_TANH), the same
 * expressions around the functions above. */
static MI__INLINE float mi__v_gelu(float x) { return 0.5f * x * (1.0f + mi__v_erf(x * 0.70710678118654752f)); }

static MI__INLINE float mi__v_gelu_tanh(float x) {
    return 0.5f * x * (1.0f + mi__v_tanh(0.79788456080286536f * (x + 0.044715f * x * x * x)));
}

#endif
