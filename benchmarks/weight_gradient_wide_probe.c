/* Single-thread probe of the weight gradients of delta rows 8 KiB apart
 * (W3's LSTM and GRU, 4H = 2048): crnn_gemm_atb2 of src/crnn/_packed_gemm.inc,
 * which takes its wide-row order there (crnn_gemm_atb2_wide), against
 * OpenBLAS sgemm, which held these shapes before. One pass's rows (one
 * thread's half minibatch of 64 sequences x 100 steps) go in blocks of K
 * rows as backward hands them over (64 rows: 512 KiB of delta), each block
 * read once just before its product, as backward leaves it in cache; dW
 * does not fit L2. Results in benchmarks/NOTES.md. Build and run:
 *
 *   L=$(python -c "import scipy, os; print(os.path.dirname(scipy.__file__) + '.libs')")
 *   gcc -O3 -fno-trapping-math -Isrc/crnn -o /tmp/atbw benchmarks/weight_gradient_wide_probe.c \
 *       -L$L -l:$(ls $L | grep '^libscipy_openblas' | head -1) -Wl,-rpath,$L -lm
 *   OPENBLAS_NUM_THREADS=1 /tmp/atbw
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <math.h>
#include "_gate_rows.h"
void scipy_cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
static volatile float sink;
/* read a block of delta into cache, as backward's row passes leave it */
static void touch(const float *p, long n) { float s = 0; for (long i = 0; i < n; i += 16) s += p[i]; sink = s; }
int main(void) {
    crnn_simd_init();
    /* name, delta's columns taken (n_out) of a row of ld, operands' columns */
    struct { const char *name; int n_out, ld, N1, N2; } s[] = {
        {"W3 lstm dW_hh+dW_ih", 2048, 2048, 512, 128},
        {"W3 gru dW_hh", 1536, 2048, 512, 0}};
    int R = 6400, Ks[] = {64, 256};
    printf("level %s\n", crnn_simd_names[crnn_simd_level]);
    for (int c = 0; c < 2; c++) {
        int n_out = s[c].n_out, ld = s[c].ld, N1 = s[c].N1, N2 = s[c].N2;
        float *delta = malloc(sizeof(float) * R * ld), *B1 = malloc(sizeof(float) * R * N1);
        float *B2 = malloc(sizeof(float) * R * (N2 > 0 ? N2 : 1));
        float *C1 = calloc((size_t)n_out * N1, 4), *C2 = calloc((size_t)n_out * (N2 > 0 ? N2 : 1), 4);
        float *D1 = calloc((size_t)n_out * N1, 4), *D2 = calloc((size_t)n_out * (N2 > 0 ? N2 : 1), 4);
        for (long i = 0; i < (long)R * ld; i++) delta[i] = rand() / (float)RAND_MAX - 0.5f;
        for (long i = 0; i < (long)R * N1; i++) B1[i] = rand() / (float)RAND_MAX - 0.5f;
        for (long i = 0; i < (long)R * N2; i++) B2[i] = rand() / (float)RAND_MAX - 0.5f;
        double flops = 2.0 * R * n_out * (N1 + N2);
        for (int kk = 0; kk < 2; kk++) {
            int K = Ks[kk];
            double best[3] = {1e9, 1e9, 1e9};
            for (int round = 0; round < 4; round++)
                for (int m = 0; m < 3; m++) {
                    double t0 = now();
                    for (int lo = 0; lo < R; lo += K) {
                        int k = R - lo < K ? R - lo : K;
                        const float *d = delta + (long)lo * ld;
                        touch(d, (long)k * ld);
                        if (m == 1) {
                            scipy_cblas_sgemm(101, 112, 111, n_out, N1, k, 1, d, ld, B1 + (long)lo * N1, N1,
                                              lo ? 1 : 0, C1, N1);
                            if (N2) scipy_cblas_sgemm(101, 112, 111, n_out, N2, k, 1, d, ld, B2 + (long)lo * N2,
                                                      N2, lo ? 1 : 0, C2, N2);
                        } else if (m == 2) {
                            crnn_gemm_atb2_f(N1, N2, n_out, k, B1 + (long)lo * N1, N1, B2 + (long)lo * N2,
                                             N2 ? N2 : 1, d, ld, D1, N1, D2, N2 ? N2 : 1, lo ? 1 : 0);
                        }
                    }
                    double t = now() - t0;
                    if (t < best[m]) best[m] = t;
                }
            double err = 0, ref = 0;
            for (long i = 0; i < (long)n_out * N1; i++) { err = fmax(err, fabs(C1[i] - D1[i])); ref = fmax(ref, fabs(C1[i])); }
            printf("%-20s blocks of %3d rows: OpenBLAS %6.1f GF/s, crnn_gemm_atb2 %6.1f GF/s (%.2fx), max rel err %.1g\n",
                   s[c].name, K, flops / (best[1] - best[0]) / 1e9, flops / (best[2] - best[0]) / 1e9,
                   (best[1] - best[0]) / (best[2] - best[0]), err / ref);
        }
        free(delta); free(B1); free(B2); free(C1); free(C2); free(D1); free(D2);
    }
}
