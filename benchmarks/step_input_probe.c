/* Single-thread probe behind the compiled predict's step-by-step stacks
 * (benchmarks/NOTES.md, thirteenth session): one layer's steps of the
 * packed product C = [x_t | h] B (src/crnn/_packed_gemm.inc at the AVX2
 * level), x_t read from the layer below's state sequence stored
 * batch-first (rows, T, K1), one row per T * K1 stride, as the predict of
 * a stack read it layer by layer, or time-major (T, rows, K1), contiguous
 * rows as step-by-step order gives; each step's first K2 outputs written
 * back to a sequence of the same layout unless a sixth argument is given.
 * Run one copy per core to see both cores busy:
 *
 *   gcc -O3 -fno-trapping-math -Isrc/crnn -o /tmp/step_input benchmarks/step_input_probe.c -lm
 *   taskset -c 0 /tmp/step_input 128 128 512 256 100 & taskset -c 1 /tmp/step_input 128 128 512 256 100
 *
 * arguments: K1 K2 N rows T [no-output]. Needs an AVX2 CPU. */
#include <stdio.h>
#include <time.h>
#include "_gate_rows.h"
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
/* a layer's steps: A1 = x_t from a (M, T, K1) batch-first sequence (mode 0) or (T, M, K1) time-major (mode 1); A2 = h rows */
int main(int argc, char **argv) {
    crnn_simd_init();
    int K1 = atoi(argv[1]), K2 = atoi(argv[2]), N = atoi(argv[3]), M = atoi(argv[4]), T = atoi(argv[5]);
    int K = K1 + K2;
    float *S = malloc(sizeof(float) * (long)M * T * K1), *W = malloc(sizeof(float) * N * K);
    float *Hh = malloc(sizeof(float) * M * K2), *C = malloc(sizeof(float) * M * N);
    float *O = malloc(sizeof(float) * (long)M * T * K2);
    for (long i = 0; i < (long)M * T * K1; i++) S[i] = rand() / (float)RAND_MAX;
    for (long i = 0; i < (long)M * T * K2; i++) O[i] = 0;
    for (long i = 0; i < (long)M * K2; i++) Hh[i] = rand() / (float)RAND_MAX;
    for (long i = 0; i < (long)N * K; i++) W[i] = rand() / (float)RAND_MAX;
    float *P = malloc(sizeof(float) * crnn_packed_size_f_avx2(K, N));
    crnn_pack_bt_f_avx2(W, K, K, N, P);
    double flops = 2.0 * M * K * N * T;
    for (int mode = 0; mode < 2; mode++) {
        double best = 1e9;
        for (int round = 0; round < 5; round++) {
            double t0 = now();
            for (int t = 0; t < T; t++) {
                const float *A1 = mode == 0 ? S + t * K1 : S + (long)t * M * K1;
                ptrdiff_t lda1 = mode == 0 ? (ptrdiff_t)T * K1 : K1;
                crnn_packed_gemm2_f_avx2(M, N, K1, A1, lda1, K2, Hh, K2, P, C, N, 0);
                /* the step's outputs into the next layer's sequence */
                if (argc < 7) for (int i = 0; i < M; i++) {
                    float *o = mode == 0 ? O + ((long)i * T + t) * K2 : O + ((long)t * M + i) * K2;
                    for (int j = 0; j < K2; j++) o[j] = C[i * N + j];
                }
            }
            double t1 = now();
            if (t1 - t0 < best) best = t1 - t0;
        }
        printf("%s M %d T %d K1 %d K2 %d N %d: %.1f GF/s\n", mode ? "time-major " : "batch-first", M, T, K1, K2, N, flops / best / 1e9);
    }
}
