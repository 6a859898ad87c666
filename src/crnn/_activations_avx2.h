/* float32 sigmoid and tanh on 8 lanes with AVX2 and FMA instructions, for
 * the float rows of the AVX2 level (_gate_rows.inc, CRNN_INFER_AVX2).
 *
 * Why: the AVX-512 level's rows (_activations_avx512.h) in 256-bit
 * registers, for CPUs without AVX-512 (the Zen 3 cores of SPEC 8's later
 * machines). The same maths as crnn_sigmoidf and crnn_tanhf_expm1 and the
 * same operations gcc makes of them at x86-64-v3 (one fused multiply-add
 * rounds n, 2^n is built in the exponent bits as the portable code builds
 * it), so the results are those functions' to the bit; but the clamps are
 * one vmaxps and one vminps where gcc keeps C's NaN semantics with
 * compares and blends. Single-thread probe, 128 floats in L1, on a Zen 3
 * core: sigmoid 0.53 -> 0.44 ns per element, tanh 0.59 -> 0.48, and no bit
 * differs over 50 M arguments in [-100, 100], [-12, 12] and [-1e-3, 1e-3]
 * with NaN, infinities and a denormal (benchmarks/NOTES.md).
 *
 * NaN propagates: vmaxps and vminps return their second operand when
 * either is NaN, and x is that operand. Included by _gate_rows.h only
 * where the AVX2 level is compiled (CRNN_SIMD_DISPATCH). */
#ifndef CRNN_ACTIVATIONS_AVX2_H
#define CRNN_ACTIVATIONS_AVX2_H
#include <immintrin.h>
#include <stddef.h>
#include "_activations.h"

#define CRNN_AVX2 __attribute__((target("arch=x86-64-v3")))

/* q = expm1(r) for x = n ln2 + r, |r| <= ln2 / 2, after clamping x to
 * [-87, 88] (where 2^n stays a normal number); *scale = 2^n */
CRNN_AVX2 static inline __m256 crnn_expm1_reduced8(__m256 x, __m256 *scale) {
    x = _mm256_min_ps(_mm256_set1_ps(CRNN_EXPF_MAX),
                      _mm256_max_ps(_mm256_set1_ps(CRNN_EXPF_MIN), x));
    /* t holds round(x / ln2) in its low mantissa bits, as in crnn_expf_reduced */
    __m256 t = _mm256_fmadd_ps(x, _mm256_set1_ps(CRNN_EXPF_LOG2E),
                               _mm256_set1_ps(CRNN_EXPF_ROUND));
    __m256 k = _mm256_sub_ps(t, _mm256_set1_ps(CRNN_EXPF_ROUND));
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(CRNN_EXPF_LN2_HI), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(CRNN_EXPF_LN2_LO), r);
    __m256 p = _mm256_set1_ps(CRNN_EXPF_P0);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CRNN_EXPF_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CRNN_EXPF_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CRNN_EXPF_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CRNN_EXPF_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(CRNN_EXPF_P5));
    __m256i bits = _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127 - 0x4b400000));
    *scale = _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23));
    return _mm256_fmadd_ps(_mm256_mul_ps(p, r), r, r);
}

/* exp(x) as crnn_expf computes it (to the bit) */
CRNN_AVX2 static inline __m256 crnn_expf8(__m256 x) {
    __m256 scale;
    __m256 q = crnn_expm1_reduced8(x, &scale);
    return _mm256_mul_ps(_mm256_add_ps(q, _mm256_set1_ps(1.0f)), scale);
}

/* 1 / (1 + exp(-x)) */
CRNN_AVX2 static inline __m256 crnn_sigmoid8(__m256 x) {
    __m256 e = crnn_expf8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f)));
}

/* e / (e + 2), e = expm1(2x) = 2^n q + (2^n - 1): nothing cancels near 0 */
CRNN_AVX2 static inline __m256 crnn_tanh8(__m256 x) {
    __m256 scale;
    __m256 q = crnn_expm1_reduced8(_mm256_add_ps(x, x), &scale);
    __m256 e = _mm256_fmadd_ps(scale, q, _mm256_sub_ps(scale, _mm256_set1_ps(1.0f)));
    return _mm256_div_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.0f)));
}

/* inside where -limit < x < limit, else outside (NaN: outside) */
CRNN_AVX2 static inline __m256 crnn_select_within8(__m256 x, float limit, __m256 inside,
                                                   __m256 outside) {
    __m256 in = _mm256_and_ps(_mm256_cmp_ps(x, _mm256_set1_ps(limit), _CMP_LT_OQ),
                              _mm256_cmp_ps(x, _mm256_set1_ps(-limit), _CMP_GT_OQ));
    return _mm256_blendv_ps(outside, inside, in);
}

/* The lanes j .. min(j + 8, n) - 1 of a row of n as a vmaskmov mask (all
 * ones when the 8 are whole), and loads and stores under it that are plain
 * when every lane is in: the rows read what the packed product has just
 * stored, and a masked load waits for such a store to reach L1 (see
 * _activations_avx512.h). Lanes left out load as 0. */
CRNN_AVX2 static inline __m256i crnn_lanes8(ptrdiff_t j, ptrdiff_t n) {
    ptrdiff_t left = n - j;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(left < 8 ? left : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
CRNN_AVX2 static inline __m256 crnn_load8(ptrdiff_t j, ptrdiff_t n, __m256i m,
                                          const float *p) {
    return n - j >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}
CRNN_AVX2 static inline void crnn_store8(ptrdiff_t j, ptrdiff_t n, __m256i m, float *p,
                                         __m256 v) {
    if (n - j >= 8) _mm256_storeu_ps(p, v); else _mm256_maskstore_ps(p, m, v);
}
#endif
