/* Training's float forward rows in intrinsics (src/crnn/_gate_rows.inc)
 * against the portable C they replaced, compiled here at the same level:
 * (1) training's intrinsic tanh (crnn_itanh_train) at the AVX-512 and AVX2
 * levels against crnn_tanhf on every float, (2) the LSTM forward row, bits and ns per unit, 16 rows in
 * L1 (a W1 part's step at H = 32, W2's at 128). Single thread. Results in
 * benchmarks/NOTES.md. Build and run (an AVX-512 CPU):
 *
 *   gcc -O3 -fno-trapping-math -Isrc/crnn -o /tmp/trainrow benchmarks/train_row_probe.c -lm
 *   /tmp/trainrow
 */
#include <stdio.h>
#include <time.h>
#include "_gate_rows.h"
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }

CRNN_AVX512 __attribute__((noinline)) static void p16(const float *x, float *y, ptrdiff_t n) { for (ptrdiff_t j = 0; j < n; j++) y[j] = crnn_tanhf(x[j]); }
CRNN_AVX512 __attribute__((noinline)) static void i16(const float *x, float *y, ptrdiff_t n) { for (ptrdiff_t j = 0; j < n; j += 16) _mm512_storeu_ps(y + j, crnn_itanh_train_f_avx512(_mm512_loadu_ps(x + j))); }
CRNN_AVX2 __attribute__((noinline)) static void p8(const float *x, float *y, ptrdiff_t n) { for (ptrdiff_t j = 0; j < n; j++) y[j] = crnn_tanhf(x[j]); }
CRNN_AVX2 __attribute__((noinline)) static void i8(const float *x, float *y, ptrdiff_t n) { for (ptrdiff_t j = 0; j < n; j += 8) _mm256_storeu_ps(y + j, crnn_itanh_train_f_avx2(_mm256_loadu_ps(x + j))); }

/* the portable row as _gate_rows.inc had it before, at the AVX-512 level */
CRNN_AVX512 __attribute__((noinline)) static void lstm_portable(
        float *restrict a, const float *restrict b_ih, const float *restrict b_hh,
        const float *restrict c_prev, float *restrict c_next,
        float *restrict h_next, float *restrict tc, ptrdiff_t n) {
    for (ptrdiff_t j = 0; j < 2 * n; j++) a[j] = crnn_sigmoidf(a[j] + b_ih[j] + b_hh[j]);
    for (ptrdiff_t j = 2 * n; j < 3 * n; j++) a[j] = crnn_tanhf(a[j] + b_ih[j] + b_hh[j]);
    for (ptrdiff_t j = 3 * n; j < 4 * n; j++) a[j] = crnn_sigmoidf(a[j] + b_ih[j] + b_hh[j]);
    for (ptrdiff_t j = 0; j < n; j++) {
        float c = a[n + j] * c_prev[j] + a[j] * a[2 * n + j];
        float t = crnn_tanhf(c);
        c_next[j] = c;
        tc[j] = t;
        h_next[j] = a[3 * n + j] * t;
    }
}

static float *floats(size_t n) { return malloc(sizeof(float) * n); }
static float uniform(float lo, float hi) { return lo + (hi - lo) * (rand() / (float)RAND_MAX); }

int main(void) {
    enum { B = 1 << 20 };
    float *x = floats(B), *y1 = floats(B), *y2 = floats(B), *y3 = floats(B), *y4 = floats(B);
    unsigned long long bad16 = 0, bad8 = 0;
    for (unsigned long long base = 0; base < (1ull << 32); base += B) {
        for (int i = 0; i < B; i++) { uint32_t u = (uint32_t)(base + i); memcpy(&x[i], &u, 4); }
        p16(x, y1, B); i16(x, y2, B); p8(x, y3, B); i8(x, y4, B);
        for (int i = 0; i < B; i++) {
            if (y1[i] != y1[i] ? y2[i] == y2[i] : memcmp(&y1[i], &y2[i], 4) != 0) bad16++;
            if (y3[i] != y3[i] ? y4[i] == y4[i] : memcmp(&y3[i], &y4[i], 4) != 0) bad8++;
        }
    }
    printf("every float: %llu (AVX-512) and %llu (AVX2) results differ from crnn_tanhf\n", bad16, bad8);
    for (int H = 32; H <= 128; H *= 4) {
        int R = 16;
        size_t gates = (size_t)R * 4 * H, units = (size_t)R * H;
        float *a0 = floats(gates), *a1 = floats(gates), *a2 = floats(gates), *bi = floats(4 * H), *bh = floats(4 * H);
        float *cp = floats(units), *c1 = floats(units), *c2 = floats(units), *h1 = floats(units), *h2 = floats(units);
        float *t1 = floats(units), *t2 = floats(units);
        srand(1);
        for (int i = 0; i < 4 * H; i++) bi[i] = uniform(-0.5f, 0.5f), bh[i] = uniform(-0.5f, 0.5f);
        for (size_t i = 0; i < units; i++) cp[i] = uniform(-2, 2);
        for (size_t i = 0; i < gates; i++) a0[i] = uniform(-3, 3);
        long iters = 20000000 / (long)units;
        for (int rep = 0; rep < 3; rep++) {
            double s0 = now();
            for (long it = 0; it < iters; it++) {
                memcpy(a1, a0, sizeof(float) * gates);
                for (int r = 0; r < R; r++)
                    lstm_portable(a1 + r * 4 * H, bi, bh, cp + r * H, c1 + r * H, h1 + r * H, t1 + r * H, H);
            }
            double s1 = now();
            for (long it = 0; it < iters; it++) {
                memcpy(a2, a0, sizeof(float) * gates);
                for (int r = 0; r < R; r++)
                    crnn_lstm_forward_row_f_avx512(a2 + r * 4 * H, bi, bh, cp + r * H, c2 + r * H, h2 + r * H, t2 + r * H, H);
            }
            double s2 = now();
            int same = !memcmp(a1, a2, sizeof(float) * gates) && !memcmp(c1, c2, sizeof(float) * units)
                       && !memcmp(h1, h2, sizeof(float) * units) && !memcmp(t1, t2, sizeof(float) * units);
            printf("LSTM row H %3d: portable %.3f, intrinsics %.3f ns a unit (memcpy included), same bits: %s\n",
                   H, 1e9 * (s1 - s0) / (iters * (double)units), 1e9 * (s2 - s1) / (iters * (double)units),
                   same ? "yes" : "NO");
        }
    }
    return bad16 || bad8;
}
