/* Single-thread probe of the float32 LSTM inference rows at the AVX-512
 * level (_gate_rows.inc: crnn_lstm_infer_cell_row and _out_row) and of the
 * sigmoid's parts: ns per hidden unit (rows) or per element (activations).
 *
 * The rows run over 4 rows (in L1) and over a 256-row chunk (predict's
 * PREDICT_CHUNK; 512 KB of pre-activations at H = 128, in L2), at H = 128
 * (SPEC W5) and 512 (W3), the pre-activations copied fresh before each
 * pass (the cell row overwrites o). The activations run over 4096 floats
 * in L1: crnn_sigmoid16, the exp alone, the division alone, the sigmoid
 * without its division, with vrcp14ps and one Newton step in place of it,
 * and crnn_tanh16. Gives the rows' share of the W5 and W3 lstm predict
 * floors in benchmarks/NOTES.md (twentieth session).
 *
 *   gcc -O3 -fno-trapping-math -fno-math-errno -Isrc/crnn \
 *       -o /tmp/infer_rows benchmarks/infer_rows_probe.c -lm && /tmp/infer_rows
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "_gate_rows.h"

#define A5 __attribute__((target("arch=x86-64-v4"), noinline))
#define A5I __attribute__((target("arch=x86-64-v4")))
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }

A5 static void rows_pass(float *a, const float *bias, float *c, float *h, long rows, long n) {
    for (long r = 0; r < rows; r++)
        crnn_lstm_infer_cell_row_f_avx512(a + r * 4 * n, n, bias, n, c + r * n, n);
    for (long r = 0; r < rows; r++)
        crnn_lstm_infer_out_row_f_avx512(a + r * 4 * n, n, c + r * n, h + r * n, n);
}

A5I static inline __m512 exp_only(__m512 x) { return crnn_expf16(x); }
A5I static inline __m512 div_only(__m512 x) {
    return _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
}
A5I static inline __m512 sig_no_div(__m512 x) {
    __m512 e = crnn_expf16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_mul_ps(x, _mm512_add_ps(e, _mm512_set1_ps(1.0f)));
}
A5I static inline __m512 sig_rcp14(__m512 x) {
    __m512 e = crnn_expf16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    __m512 d = _mm512_add_ps(e, _mm512_set1_ps(1.0f)), r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}
#define FLAT(name, f)                                                                  \
    A5 static void name(float *x, long m) {                                            \
        for (long j = 0; j < m; j += 16) _mm512_storeu_ps(x + j, f(_mm512_loadu_ps(x + j))); \
    }
FLAT(flat_sigmoid, crnn_sigmoid16)
FLAT(flat_exp, exp_only)
FLAT(flat_div, div_only)
FLAT(flat_no_div, sig_no_div)
FLAT(flat_rcp14, sig_rcp14)
FLAT(flat_tanh, crnn_tanh16)

int main(void) {
    long max_rows = 256, max_n = 512;
    float *a = malloc(4 * max_rows * 4 * max_n), *a0 = malloc(4 * max_rows * 4 * max_n);
    float *bias = calloc(4 * max_n, 4), *c = malloc(4 * max_rows * max_n), *h = malloc(4 * max_rows * max_n);
    for (long i = 0; i < max_rows * 4 * max_n; i++) a0[i] = -3.f + 6.f * rand() / RAND_MAX;
    for (int round = 0; round < 3; round++) {
        for (int shape = 0; shape < 4; shape++) {
            long n = shape < 2 ? 128 : 512, rows = shape % 2 ? 256 : 4;
            long reps = 4000000 / (rows * n) + 1;
            double best = 1e9;
            for (int rr = 0; rr < 5; rr++) {
                double t = 0;
                for (long it = 0; it < reps; it++) {
                    memcpy(a, a0, 4 * rows * 4 * n);
                    for (long i = 0; i < rows * n; i++) c[i] = 0.25f;
                    double t0 = now();
                    rows_pass(a, bias, c, h, rows, n);
                    t += now() - t0;
                }
                if (t < best) best = t;
            }
            printf("LSTM rows, H = %3ld, %3ld rows: %.3f ns/unit\n", n, rows,
                   1e9 * best / (reps * rows * n));
        }
        void (*fs[])(float *, long) = {flat_sigmoid, flat_exp, flat_div, flat_no_div, flat_rcp14,
                                        flat_tanh};
        const char *names[] = {"sigmoid", "exp alone", "division alone", "sigmoid, no division",
                               "sigmoid, vrcp14ps + Newton", "tanh"};
        for (int k = 0; k < 6; k++) {
            double best = 1e9;
            long reps = 20000;
            for (int rr = 0; rr < 5; rr++) {
                double t = 0;
                for (long it = 0; it < reps; it++) {
                    memcpy(a, a0, 4 * 4096);
                    double t0 = now();
                    fs[k](a, 4096);
                    t += now() - t0;
                }
                if (t < best) best = t;
            }
            printf("%-28s %.3f ns/element\n", names[k], 1e9 * best / (reps * 4096.0));
        }
    }
    return 0;
}
