/* exp, sigmoid and tanh for the gate passes in _gate_rows.h.
 *
 * Written in C rather than calling libm: a libm call
 * (expf, tanhf) cannot be vectorized, and gcc only if-converts the clamps
 * into SIMD selects because the extensions are compiled with
 * -fno-trapping-math (CMakeLists.txt; crnn never reads floating-point
 * exception flags). Measured on this project's machines (SSE2, 4 floats per
 * instruction): sigmoid 1.5 ns and tanh 2.5 ns per float32 element against
 * 6 and 9 ns for a scalar formulation; see benchmarks/NOTES.md.
 *
 * exp follows Cephes (expf.c, exp.c): x = n ln2 + r with |r| <= ln2 / 2, ln2
 * split in two parts so n ln2 is exact, a minimax polynomial (float) or
 * Pade form (double) for exp(r), and 2^n written into the exponent bits;
 * n = round(x / ln2) by adding 1.5 * 2^23 (2^52), which leaves n in the low
 * mantissa bits. The argument is clamped to where 2^n stays a normal
 * number, so nothing overflows: for |x| beyond the clamp sigmoid and tanh
 * have long saturated. tanh uses 1 - 2 / (exp(2x) + 1), and Cephes' odd
 * polynomial (tanhf.c) or rational function (tanh.c) for |x| < 0.625 where
 * that form would lose relative accuracy; the inference rows' float tanh is
 * one formula, expm1(2x) / (expm1(2x) + 2) (crnn_tanhf_expm1). NaN
 * propagates. */
#ifndef CRNN_ACTIVATIONS_H
#define CRNN_ACTIVATIONS_H
#include <stdint.h>
#include <string.h>

/* Always inlined: each SIMD level's rows must compile these with their own
 * target, where gcc contracts a * b + c into FMA (x86-64-v3 and -v4). Left
 * to its size heuristics, gcc had kept one out-of-line copy of crnn_exp and
 * crnn_tanh, baseline code without FMA, in three modules once the AVX-512
 * tiles grew: float64 predict's Python path then differed from the compiled
 * one in the last bit under CRNN_SIMD=avx2, and its rows made a call per
 * element instead of vectorising. */
#if defined(__GNUC__)
#define CRNN_ACT_INLINE static inline __attribute__((always_inline))
#else
#define CRNN_ACT_INLINE static inline
#endif

/* The float reduction's constants, shared with _activations_avx512.h (whose
 * results must stay these functions' to the bit): the clamp, 1 / ln2, the
 * rounding constant 1.5 * 2^23, ln2 in two parts and the polynomial. */
#define CRNN_EXPF_MIN (-87.0f)
#define CRNN_EXPF_MAX 88.0f
#define CRNN_EXPF_LOG2E 1.44269504088896341f
#define CRNN_EXPF_ROUND 12582912.0f
#define CRNN_EXPF_LN2_HI 0.693359375f
#define CRNN_EXPF_LN2_LO (-2.12194440e-4f)
#define CRNN_EXPF_P0 1.9875691500e-4f
#define CRNN_EXPF_P1 1.3981999507e-3f
#define CRNN_EXPF_P2 8.3334519073e-3f
#define CRNN_EXPF_P3 4.1665795894e-2f
#define CRNN_EXPF_P4 1.6666665459e-1f
#define CRNN_EXPF_P5 5.0000001201e-1f

/* exp(x) = scale (1 + q), scale = 2^n and q = expm1(r) = poly(r) r^2 + r for
 * x = n ln2 + r: the reduction crnn_expf and crnn_tanhf_expm1 share. */
CRNN_ACT_INLINE float crnn_expf_reduced(float x, float *scale) {
    x = x < CRNN_EXPF_MIN ? CRNN_EXPF_MIN : x;
    x = x > CRNN_EXPF_MAX ? CRNN_EXPF_MAX : x;
    float t = x * CRNN_EXPF_LOG2E + CRNN_EXPF_ROUND;
    float n = t - CRNN_EXPF_ROUND;
    float r = x - n * CRNN_EXPF_LN2_HI - n * CRNN_EXPF_LN2_LO;
    float q = (((((CRNN_EXPF_P0 * r + CRNN_EXPF_P1) * r + CRNN_EXPF_P2) * r
                 + CRNN_EXPF_P3) * r + CRNN_EXPF_P4) * r + CRNN_EXPF_P5)
              * r * r + r;
    int32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (int32_t)((uint32_t)(bits - 0x4b400000 + 127) << 23);
    memcpy(scale, &bits, sizeof *scale);
    return q;
}

CRNN_ACT_INLINE float crnn_expf(float x) {
    float scale;
    float q = crnn_expf_reduced(x, &scale);
    return (q + 1.0f) * scale;
}

CRNN_ACT_INLINE double crnn_exp(double x) {
    x = x < -708.0 ? -708.0 : x;
    x = x > 709.0 ? 709.0 : x;
    double t = x * 1.4426950408889634073599 + 6755399441055744.0;
    double n = t - 6755399441055744.0;
    double r = x - n * 6.93145751953125e-1 - n * 1.42860682030941723212e-6;
    double rr = r * r;
    double p = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr
                    + 9.99999999999999999910e-1);
    double q = ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr
                + 2.27265548208155028766e-1) * rr + 2.00000000000000000009e0;
    double e = 1.0 + 2.0 * p / (q - p);
    int64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (int64_t)((uint64_t)(bits - 0x4338000000000000LL + 1023) << 52);
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return e * scale;
}

CRNN_ACT_INLINE float crnn_sigmoidf(float x) { return 1.0f / (1.0f + crnn_expf(-x)); }
CRNN_ACT_INLINE double crnn_sigmoid(double x) { return 1.0 / (1.0 + crnn_exp(-x)); }

/* crnn_tanhf's small-argument polynomial (Cephes' tanhf.c) and where it
 * serves, shared with the intrinsic version (crnn_itanh_train in
 * _gate_rows.inc), whose results must stay this function's to the bit */
#define CRNN_TANHF_S0 (-5.70498872745e-3f)
#define CRNN_TANHF_S1 2.06390887954e-2f
#define CRNN_TANHF_S2 (-5.37397155531e-2f)
#define CRNN_TANHF_S3 1.33314422036e-1f
#define CRNN_TANHF_S4 (-3.33332819422e-1f)
#define CRNN_TANHF_SMALL 0.625f

CRNN_ACT_INLINE float crnn_tanhf(float x) {
    float z = x * x;
    float small = ((((CRNN_TANHF_S0 * z + CRNN_TANHF_S1) * z + CRNN_TANHF_S2) * z
                    + CRNN_TANHF_S3) * z + CRNN_TANHF_S4) * z * x + x;
    float big = 1.0f - 2.0f / (crnn_expf(2.0f * x) + 1.0f);
    return (x < CRNN_TANHF_SMALL && x > -CRNN_TANHF_SMALL) ? small : big;
}

/* tanh(x) = e / (e + 2) with e = expm1(2x), expm1 from crnn_expf's own
 * reduction: scale * q + (scale - 1), q = p - 1 = poly(r) r^2 + r, so
 * nothing cancels near 0 and one formula serves every x (no second
 * polynomial and select). 2.5 ulp at most over [-12, 12] against libm's
 * double tanh (crnn_tanhf: 3.0), 0.36 instead of 0.55 ns per element on
 * AVX-512; see benchmarks/NOTES.md. Clamped like crnn_expf: -1 and 1
 * beyond; NaN propagates.
 *
 * The inference rows use it. Training keeps crnn_tanhf: with this one the
 * digits-as-sequences LSTM of seed 0 (tests/test_estimators.py) ends at
 * 0.960 held-out accuracy instead of 0.980, under SPEC 9's 0.97, while
 * the mean over seeds 0-7 stays 0.981-0.983: the trajectory moves, the
 * arithmetic is no worse, but the bar holds for every seed. */
CRNN_ACT_INLINE float crnn_tanhf_expm1(float x) {
    float scale;
    float q = crnn_expf_reduced(2.0f * x, &scale);
    float e = scale * q + (scale - 1.0f);
    return e / (e + 2.0f);
}

CRNN_ACT_INLINE double crnn_tanh(double x) {
    double z = x * x;
    double p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
               - 1.61468768441708447952e3;
    double q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
               + 4.84406305325125486048e3;
    double small = x + x * z * p / q;
    double big = 1.0 - 2.0 / (crnn_exp(2.0 * x) + 1.0);
    return (x < 0.625 && x > -0.625) ? small : big;
}
#endif
