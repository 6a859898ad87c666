/* Single-thread probe of src/crnn/_packed_gemm.inc's crnn_packed_gemm2 at
 * the SIMD level crnn would pick (float): the same product C = [A1 | A2] B
 * as one operand (K1 = K, training's step products), as two operands with
 * an empty first (K1 = 0), and split as inference splits it (x_t's K1
 * columns, then h_{t-1}'s): the three must run alike, and give the same
 * sums (checksum). Results in benchmarks/NOTES.md. Build and run:
 *
 *   gcc -O3 -fno-trapping-math -Isrc/crnn -o /tmp/operands benchmarks/packed_operand_probe.c -lm
 *   /tmp/operands
 */
#include <stdio.h>
#include <time.h>
#include "_gate_rows.h"
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
int main(void) {
    crnn_simd_init();
    /* the level's own packing and product (static in _gate_rows.h) */
    typedef void (*gemm2_fn)(ptrdiff_t, ptrdiff_t, ptrdiff_t, const float *, ptrdiff_t, ptrdiff_t,
                             const float *, ptrdiff_t, const float *, float *, ptrdiff_t, int);
    typedef ptrdiff_t (*size_fn)(ptrdiff_t, ptrdiff_t);
    typedef void (*pack_fn)(const float *, ptrdiff_t, ptrdiff_t, ptrdiff_t, float *);
    gemm2_fn gemm2 = crnn_packed_gemm2_f_sse2;
    size_fn packed_size = crnn_packed_size_f_sse2;
    pack_fn pack = crnn_pack_bt_f_sse2;
#if CRNN_SIMD_DISPATCH
    if (crnn_simd_level == 1)
        gemm2 = crnn_packed_gemm2_f_avx2, packed_size = crnn_packed_size_f_avx2,
        pack = crnn_pack_bt_f_avx2;
    if (crnn_simd_level == 2)
        gemm2 = crnn_packed_gemm2_f_avx512, packed_size = crnn_packed_size_f_avx512,
        pack = crnn_pack_bt_f_avx512;
#endif
    /* M rows, K = K1 + K2, N columns: W3 lstm's predict step (x 128, h 512),
     * W2/W4 lstm's (32-row parts; 128 + 128), W1 lstm predict's block (8 + 32) */
    struct { const char *name; int M, K, N, K1; } s[] = {
        {"W3 lstm", 64, 640, 2048, 128}, {"W2/W4 lstm", 32, 256, 512, 128}, {"W1 lstm", 256, 40, 128, 8}};
    printf("level %s\n", crnn_simd_names[crnn_simd_level]);
    for (int c = 0; c < (int)(sizeof s / sizeof s[0]); c++) {
        int M = s[c].M, K = s[c].K, N = s[c].N;
        float *A = malloc(sizeof(float) * M * K), *W = malloc(sizeof(float) * N * K);
        float *C = malloc(sizeof(float) * M * N);
        for (long i = 0; i < (long)M * K; i++) A[i] = rand() / (float)RAND_MAX;
        for (long i = 0; i < (long)N * K; i++) W[i] = rand() / (float)RAND_MAX;
        float *P = malloc(sizeof(float) * packed_size(K, N));
        pack(W, K, K, N, P);
        double flops = 2.0 * M * K * N;
        int reps = (int)(2e9 / flops) + 3;
        for (int mode = 0; mode < 3; mode++) {
            int K1 = mode == 0 ? K : mode == 1 ? 0 : s[c].K1, K2 = K - K1;
            double best = 1e9, sum = 0;
            for (int round = 0; round < 7; round++) {
                double t0 = now();
                for (int r = 0; r < reps; r++)
                    gemm2(M, N, K1, A, K, K2, A + K1, K, P, C, N, 0);
                double t1 = now();
                if (t1 - t0 < best) best = t1 - t0;
            }
            for (long i = 0; i < (long)M * N; i++) sum += C[i];
            printf("%-11s M %4d K1 %4d K2 %4d N %5d: %6.1f GF/s (checksum %.9g)\n", s[c].name, M,
                   K1, K2, N, flops * reps / best / 1e9, sum);
        }
        free(A); free(W); free(C); free(P);
    }
}
