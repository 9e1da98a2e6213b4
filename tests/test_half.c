/* float16 and bfloat16 conversions (src/kernels/elementwise.h), written by
 * hand and shared by both backends: every bit pattern, every rounding tie,
 * overflow, NaN and signed zero. */
#include <criterion/criterion.h>
#include "kernels/cast.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static uint32_t bits(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    return x;
}

static float from_bits(uint32_t x) {
    float f;
    memcpy(&f, &x, 4);
    return f;
}

Test(half, every_float16_round_trips) {
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = mi_k_f16_to_f32((uint16_t)h);
        uint16_t back = mi_k_f32_to_f16(f);
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) {
            cr_assert(isnan(f), "%04x is a NaN", h);
            cr_assert((back & 0x7c00u) == 0x7c00u && (back & 0x3ffu), "%04x stays a NaN: %04x", h, back);
        } else {
            cr_assert_eq(back, h, "%04x -> %a -> %04x", h, (double)f, back);
        }
    }
}

/* Between two neighbouring halves: below the midpoint rounds down, above
 * rounds up, on it to the even one. */
Test(half, float16_rounds_to_nearest_even) {
    for (uint32_t h = 0; h < 0x7bffu; h++) {
        float a = mi_k_f16_to_f32((uint16_t)h), b = mi_k_f16_to_f32((uint16_t)(h + 1));
        float mid = a + (b - a) / 2; /* exact in float: halves have 11 bits */
        uint16_t even = (h & 1u) ? (uint16_t)(h + 1) : (uint16_t)h;
        cr_assert_eq(mi_k_f32_to_f16(mid), even, "tie between %04x and %04x", h, h + 1);
        cr_assert_eq(mi_k_f32_to_f16(nextafterf(mid, 0)), h);
        cr_assert_eq(mi_k_f32_to_f16(nextafterf(mid, INFINITY)), h + 1);
        cr_assert_eq(mi_k_f32_to_f16(-mid), (uint16_t)(even | 0x8000u), "negative tie, %04x", h);
    }
}

Test(half, float16_edges) {
    cr_assert_eq(mi_k_f32_to_f16(65504.0f), 0x7bffu, "the largest half");
    cr_assert_eq(mi_k_f32_to_f16(65519.99f), 0x7bffu, "below the tie with 65536 rounds down");
    cr_assert_eq(mi_k_f32_to_f16(65520.0f), 0x7c00u, "the tie rounds to even: infinity");
    cr_assert_eq(mi_k_f32_to_f16(FLT_MAX), 0x7c00u);
    cr_assert_eq(mi_k_f32_to_f16(-INFINITY), 0xfc00u);
    cr_assert_eq(mi_k_f32_to_f16(-0.0f), 0x8000u, "signed zero");
    cr_assert_eq(mi_k_f32_to_f16(0x1p-24f), 0x0001u, "the smallest subnormal");
    cr_assert_eq(mi_k_f32_to_f16(0x1p-25f), 0x0000u, "half of it: a tie, to even (zero)");
    cr_assert_eq(mi_k_f32_to_f16(0x1.8p-25f), 0x0001u);
    uint16_t n = mi_k_f32_to_f16(NAN);
    cr_assert((n & 0x7c00u) == 0x7c00u && (n & 0x200u), "a quiet NaN: %04x", n);
}

Test(half, every_bfloat16_round_trips) {
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float f = mi_k_bf16_to_f32((uint16_t)h);
        cr_assert_eq(bits(f), h << 16);
        uint16_t back = mi_k_f32_to_bf16(f);
        if ((h & 0x7f80u) == 0x7f80u && (h & 0x7fu)) cr_assert(isnan(mi_k_bf16_to_f32(back)), "%04x stays a NaN", h);
        else cr_assert_eq(back, h, "%04x -> %04x", h, back);
    }
}

Test(half, bfloat16_rounds_to_nearest_even) {
    for (uint32_t h = 0; h < 0x7f7fu; h += 7) {
        uint32_t tie = (h << 16) | 0x8000u;
        uint16_t even = (h & 1u) ? (uint16_t)(h + 1) : (uint16_t)h;
        cr_assert_eq(mi_k_f32_to_bf16(from_bits(tie)), even, "tie above %04x", h);
        cr_assert_eq(mi_k_f32_to_bf16(from_bits(tie - 1)), h);
        cr_assert_eq(mi_k_f32_to_bf16(from_bits(tie + 1)), h + 1);
    }
    cr_assert_eq(mi_k_f32_to_bf16(FLT_MAX), 0x7f80u, "past the largest bfloat16: infinity");
    cr_assert_eq(mi_k_f32_to_bf16(-0.0f), 0x8000u);
    uint16_t n = mi_k_f32_to_bf16(from_bits(0x7f800001u)); /* a signalling NaN whose payload is in the low bits */
    cr_assert(isnan(mi_k_bf16_to_f32(n)), "a NaN does not become infinity: %04x", n);
}

/* Cast's element rule through the halves: reals saturate into integers. */
Test(half, cast_elements_through_halves) {
    uint16_t h;
    float f = 1.5f;
    mi_k_cast_elem(MI_K_DT_FLOAT, MI_K_DT_BFLOAT16, &f, &h);
    cr_assert_eq(h, 0x3fc0u);
    int8_t i8;
    uint16_t big = mi_k_f32_to_f16(1000.0f);
    mi_k_cast_elem(MI_K_DT_FLOAT16, MI_K_DT_INT8, &big, &i8);
    cr_assert_eq(i8, 127);
    int64_t i = -3;
    mi_k_cast_elem(MI_K_DT_INT64, MI_K_DT_BFLOAT16, &i, &h);
    cr_assert_float_eq(mi_k_bf16_to_f32(h), -3.0f, 0);
    cr_assert_eq(mi_k_dt_size(MI_K_DT_BFLOAT16), 2);
}
