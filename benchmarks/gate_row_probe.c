/* Single-thread probe of the GRU's and the vanilla (tanh) cell's training
 * forward rows (_gate_rows.inc, crnn_gru_forward_row and
 * crnn_rnn_forward_row at the AVX2 level): ns per hidden unit over 32 rows
 * of H = 128 (a W5 part's step) in cache. Gives the gate passes' share of
 * the W5 gru and rnn training floors in benchmarks/NOTES.md (thirteenth
 * session).
 *
 *   gcc -O3 -fno-trapping-math -fno-math-errno -Isrc/crnn -o /tmp/gate_row benchmarks/gate_row_probe.c -lm
 *   /tmp/gate_row
 */
#include <stdio.h>
#include <time.h>
#include "_gate_rows.h"
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
int main(void) {
    crnn_simd_init();
    long rows = 32, n = 128;
    float *a = malloc(4 * rows * 3 * n), *hh = malloc(4 * rows * 3 * n), *b = calloc(3 * n, 4);
    float *hn = malloc(4 * rows * n), *hp = malloc(4 * rows * n), *hx = malloc(4 * rows * n);
    for (long i = 0; i < rows * 3 * n; i++) { a[i] = -2.f + 4.f * rand() / RAND_MAX; hh[i] = -2.f + 4.f * rand() / RAND_MAX; }
    for (long i = 0; i < rows * n; i++) hp[i] = -1.f + 2.f * rand() / RAND_MAX;
    long reps = 20000;
    for (int round = 0; round < 3; round++)
        for (int cell = 0; cell < 2; cell++) {
            double best = 1e9;
            for (int rr = 0; rr < 5; rr++) {
                double t0 = now();
                for (long it = 0; it < reps; it++) {
                    __asm__ volatile("" ::: "memory");
                    for (long r = 0; r < rows; r++) {
                        if (cell == 0)
                            crnn_gru_forward_row_f_avx2(a + r * 3 * n, hh + r * 3 * n, b, b, hn + r * n,
                                                        hp + r * n, hx + r * n, n);
                        else  /* tanh of a GRU pre-activation row, not of its own output */
                            crnn_rnn_forward_row_f_avx2(hh + r * 3 * n, b, b, n, 0);
                    }
                }
                double t = now() - t0;
                if (t < best) best = t;
            }
            printf("%s forward row: %.2f ns/unit\n", cell ? "vanilla (tanh)" : "GRU", best / reps / (rows * n) * 1e9);
        }
}
