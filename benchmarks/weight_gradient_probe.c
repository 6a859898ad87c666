/* Single-thread probe of the weight-gradient product dW = delta^T B of
 * src/crnn/_packed_gemm.inc (crnn_gemm_atb: delta and B copied block by
 * block into its tile's layout) against OpenBLAS sgemm (which copies delta into its panel format per call), at
 * the workloads' shapes (one thread's half minibatch). Results in
 * benchmarks/NOTES.md. The data stay in cache between repeats, unlike in
 * an epoch: confirm any gain on whole epochs. Build and run:
 *
 *   L=$(python -c "import scipy, os; print(os.path.dirname(scipy.__file__) + '.libs')")
 *   gcc -O3 -fno-trapping-math -Isrc/crnn -o /tmp/atb benchmarks/weight_gradient_probe.c \
 *       -L$L -l:$(ls $L | grep '^libscipy_openblas' | head -1) -Wl,-rpath,$L -lm
 *   OPENBLAS_NUM_THREADS=1 /tmp/atb
 */
#include <stdio.h>
#include <time.h>
#include <math.h>
#include "_gate_rows.h"
void scipy_cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
int main(void) {
    crnn_simd_init();
    struct { const char *name; int R, GH, N; } s[] = {
        {"W1 lstm dW_hh", 800, 128, 32}, {"W1 lstm dW_ih", 800, 128, 8}, {"W1 gru dW_hh", 800, 96, 32},
        {"W2 lstm dW_hh", 3200, 512, 128}, {"W2 lstm dW_ih", 3200, 512, 32},
        {"W3 lstm dW_hh", 6400, 2048, 512}, {"W3 lstm dW_ih", 6400, 2048, 128},
        /* the blocks backward hands over (512 KiB of delta) */
        {"W3 rnn blk dW_hh", 256, 512, 512}, {"W3 rnn blk dW_ih", 256, 512, 128},
        {"W3 gru blk dW_hh", 85, 1536, 512}, {"W2 lstm blk dW_hh", 256, 512, 128},
        {"W4 gru blk dW_hh", 341, 384, 128}};
    printf("level %s\n", crnn_simd_names[crnn_simd_level]);
    for (int c = 0; c < (int)(sizeof s / sizeof s[0]); c++) {
        int R = s[c].R, GH = s[c].GH, N = s[c].N;
        float *delta = malloc(sizeof(float) * R * GH), *Hp = malloc(sizeof(float) * R * N);
        float *C1 = malloc(sizeof(float) * GH * N), *C2 = malloc(sizeof(float) * GH * N);
        for (long i = 0; i < (long)R * GH; i++) delta[i] = (rand() / (float)RAND_MAX - 0.5f);
        for (long i = 0; i < (long)R * N; i++) Hp[i] = (rand() / (float)RAND_MAX - 0.5f);
        scipy_cblas_sgemm(101, 112, 111, GH, N, R, 1, delta, GH, Hp, N, 0, C1, N);
        crnn_gemm_atb_f(N, GH, R, Hp, N, delta, GH, C2, N, 0);
        double err = 0; for (long i = 0; i < (long)GH * N; i++) err = fmax(err, fabs(C1[i] - C2[i]));
        double flops = 2.0 * R * GH * N; int reps = (int)(3e9 / flops) + 3;
        double best1 = 1e9, best2 = 1e9;
        for (int round = 0; round < 5; round++) {
            double t0 = now(); for (int r = 0; r < reps; r++) scipy_cblas_sgemm(101, 112, 111, GH, N, R, 1, delta, GH, Hp, N, 0, C1, N);
            double t1 = now(); for (int r = 0; r < reps; r++) crnn_gemm_atb_f(N, GH, R, Hp, N, delta, GH, C2, N, 0);
            double t2 = now();
            if (t1 - t0 < best1) best1 = t1 - t0;
            if (t2 - t1 < best2) best2 = t2 - t1;
        }
        printf("%-15s R %5d GH %5d N %4d: OpenBLAS %6.1f GF/s, atb %6.1f GF/s (%.2fx), max err %.2g\n", s[c].name, R, GH, N,
               flops * reps / best1 / 1e9, flops * reps / best2 / 1e9, best1 / best2, err);
        free(delta); free(Hp); free(C1); free(C2);
    }
}
