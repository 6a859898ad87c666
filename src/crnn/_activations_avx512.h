/* float32 sigmoid and tanh on 16 lanes with AVX-512 instructions, for the
 * inference rows of the AVX-512 level (_gate_rows.inc, CRNN_INFER_AVX512).
 *
 * Why: the same maths as crnn_sigmoidf and crnn_tanhf_expm1
 * (_activations.h: Cephes' reduction x = n ln2 + r, its polynomial for
 * expm1(r), tanh = e / (e + 2) with e = expm1(2x)), in fewer instructions
 * than gcc makes of the portable C: the clamps are one vmaxps and one
 * vminps (gcc keeps C's NaN semantics with compares and blends), and 2^n
 * is applied by vscalefps instead of integer arithmetic on the exponent
 * bits. In a C probe (128 floats in L1)
 * sigmoid took 0.30 instead of 0.34 ns per element and tanh 0.33 instead
 * of 0.37, with the same worst error against double precision (2.5 ulp
 * over [-30, 30] in steps of 1e-4); see benchmarks/NOTES.md.
 *
 * NaN propagates: vmaxps and vminps return their second operand when
 * either is NaN, and x is that operand. Included by _gate_rows.h only
 * where the AVX-512 level is compiled (CRNN_SIMD_DISPATCH). */
#ifndef CRNN_ACTIVATIONS_AVX512_H
#define CRNN_ACTIVATIONS_AVX512_H
#include <immintrin.h>
#include "_activations.h"

#define CRNN_AVX512 __attribute__((target("arch=x86-64-v4")))

/* q = expm1(r) for x = n ln2 + r, |r| <= ln2 / 2, after clamping x to
 * [-87, 88] (where 2^n stays a normal number) */
CRNN_AVX512 static inline __m512 crnn_expm1_reduced16(__m512 x, __m512 *n) {
    x = _mm512_min_ps(_mm512_set1_ps(CRNN_EXPF_MAX),
                      _mm512_max_ps(_mm512_set1_ps(CRNN_EXPF_MIN), x));
    /* n = round(x / ln2) as crnn_expf_reduced rounds it (one fused
     * multiply-add with 1.5 * 2^23), so the results are crnn_sigmoidf's and
     * crnn_tanhf_expm1's to the bit */
    __m512 k = _mm512_sub_ps(_mm512_fmadd_ps(x, _mm512_set1_ps(CRNN_EXPF_LOG2E),
                                             _mm512_set1_ps(CRNN_EXPF_ROUND)),
                             _mm512_set1_ps(CRNN_EXPF_ROUND));
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(CRNN_EXPF_LN2_HI), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(CRNN_EXPF_LN2_LO), r);
    __m512 p = _mm512_set1_ps(CRNN_EXPF_P0);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CRNN_EXPF_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CRNN_EXPF_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CRNN_EXPF_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CRNN_EXPF_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(CRNN_EXPF_P5));
    *n = k;
    return _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r);
}

/* exp(x) as crnn_expf computes it (to the bit) */
CRNN_AVX512 static inline __m512 crnn_expf16(__m512 x) {
    __m512 n;
    __m512 q = crnn_expm1_reduced16(x, &n);
    return _mm512_scalef_ps(_mm512_add_ps(q, _mm512_set1_ps(1.0f)), n);
}

/* 1 / (1 + exp(-x)) */
CRNN_AVX512 static inline __m512 crnn_sigmoid16(__m512 x) {
    __m512 e = crnn_expf16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}

/* e / (e + 2), e = expm1(2x) = 2^n q + (2^n - 1): nothing cancels near 0 */
CRNN_AVX512 static inline __m512 crnn_tanh16(__m512 x) {
    __m512 n;
    __m512 q = crnn_expm1_reduced16(_mm512_add_ps(x, x), &n);
    __m512 scale = _mm512_scalef_ps(_mm512_set1_ps(1.0f), n);
    __m512 e = _mm512_fmadd_ps(scale, q, _mm512_sub_ps(scale, _mm512_set1_ps(1.0f)));
    return _mm512_div_ps(e, _mm512_add_ps(e, _mm512_set1_ps(2.0f)));
}

/* inside where -limit < x < limit, else outside (NaN: outside) */
CRNN_AVX512 static inline __m512 crnn_select_within16(__m512 x, float limit, __m512 inside,
                                                      __m512 outside) {
    __mmask16 in = _mm512_cmp_ps_mask(x, _mm512_set1_ps(limit), _CMP_LT_OQ)
                   & _mm512_cmp_ps_mask(x, _mm512_set1_ps(-limit), _CMP_GT_OQ);
    return _mm512_mask_blend_ps(in, outside, inside);
}

/* 16 lanes under the mask m, with a plain load or store when every lane is
 * in. The inference rows read the pre-activations the packed product has
 * just stored, with plain stores: a masked load does not take its data from
 * a store still in the store buffer (it waits for the store to reach L1),
 * and a perf profile of W1 gru predicts had a fifth of the row's samples on
 * the first instruction after those loads. Plain loads where possible made
 * W1 gru and lstm predicts 1.5-2% faster. */
CRNN_AVX512 static inline __m512 crnn_load16(__mmask16 m, const float *p) {
    return m == (__mmask16)0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
}
CRNN_AVX512 static inline void crnn_store16(float *p, __mmask16 m, __m512 v) {
    if (m == (__mmask16)0xFFFF) _mm512_storeu_ps(p, v); else _mm512_mask_storeu_ps(p, m, v);
}

/* lanes j .. min(j + 16, n) - 1 of a row of n */
CRNN_AVX512 static inline __mmask16 crnn_lanes16(ptrdiff_t j, ptrdiff_t n) {
    return n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1);
}
#endif
