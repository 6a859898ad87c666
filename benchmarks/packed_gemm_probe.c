/* Single-thread probe of the packed-weight GEMM's design against OpenBLAS
 * (issue 12): C = A W^T at the driver's per-step shapes, OpenBLAS sgemm per
 * call (which repacks W every time, as a per-step BLAS call does) against
 * one packing plus the register-blocked AVX-512 micro-kernel per call (the
 * layout and tile of src/crnn/_packed_gemm.inc at its AVX-512 level, float).
 * Results in benchmarks/NOTES.md. Build against SciPy's OpenBLAS and run:
 *
 *   L=$(python -c "import scipy, os; print(os.path.join(os.path.dirname(scipy.__file__) + '.libs'))")
 *   gcc -O3 -o /tmp/probe benchmarks/packed_gemm_probe.c -L$L \
 *       -l:$(ls $L | grep '^libscipy_openblas' | head -1) -Wl,-rpath,$L
 *   OPENBLAS_NUM_THREADS=1 /tmp/probe
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stddef.h>
typedef float T;
#define VL 16
#define NR (2*VL)
#define MR 8
typedef T V __attribute__((vector_size(VL*sizeof(T)), aligned(sizeof(T))));
typedef T VA __attribute__((vector_size(VL*sizeof(T))));
void scipy_cblas_sgemm(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
/* pack B (K x N) given as W (N x K) row-major, i.e. B[k][n] = W[n*ldw + k]  */
static void pack_t(const T* W, ptrdiff_t ldw, ptrdiff_t K, ptrdiff_t N, T* P) {
  ptrdiff_t np = (N + NR - 1) / NR;
  for (ptrdiff_t p = 0; p < np; p++) {
    T* dst = P + p * K * NR;
    ptrdiff_t n0 = p * NR, nn = N - n0 < NR ? N - n0 : NR;
    for (ptrdiff_t k = 0; k < K; k++) {
      for (ptrdiff_t j = 0; j < nn; j++) dst[k*NR + j] = W[(n0+j)*ldw + k];
      for (ptrdiff_t j = nn; j < NR; j++) dst[k*NR + j] = 0;
    }
  }
}
#define KERNEL(MRV) \
__attribute__((target("arch=x86-64-v4"))) static void kern##MRV(ptrdiff_t K, const T* A, ptrdiff_t lda, const T* P, T* C, ptrdiff_t ldc, int beta, ptrdiff_t nn) { \
  V c0[MRV], c1[MRV]; \
  for (int i = 0; i < MRV; i++) { c0[i] = (V){0}; c1[i] = (V){0}; } \
  for (ptrdiff_t k = 0; k < K; k++) { \
    V b0 = *(const VA*)(P + k*NR), b1 = *(const VA*)(P + k*NR + VL); \
    for (int i = 0; i < MRV; i++) { T a = A[i*lda + k]; c0[i] += a * b0; c1[i] += a * b1; } \
  } \
  if (nn == NR) { \
    for (int i = 0; i < MRV; i++) { V* r0 = (V*)(C + i*ldc); V* r1 = (V*)(C + i*ldc + VL); \
      if (beta) { *r0 += c0[i]; *r1 += c1[i]; } else { *r0 = c0[i]; *r1 = c1[i]; } } \
  } else { \
    for (int i = 0; i < MRV; i++) { T tmp[NR]; memcpy(tmp, &c0[i], sizeof(V)); memcpy(tmp+VL, &c1[i], sizeof(V)); \
      for (ptrdiff_t j = 0; j < nn; j++) C[i*ldc+j] = beta ? C[i*ldc+j] + tmp[j] : tmp[j]; } \
  } \
}
KERNEL(8) KERNEL(4) KERNEL(2) KERNEL(1)
static void pgemm(ptrdiff_t M, ptrdiff_t N, ptrdiff_t K, const T* A, ptrdiff_t lda, const T* P, T* C, ptrdiff_t ldc, int beta) {
  ptrdiff_t np = (N + NR - 1) / NR;
  for (ptrdiff_t p = 0; p < np; p++) {
    const T* Pp = P + p*K*NR; ptrdiff_t n0 = p*NR, nn = N - n0 < NR ? N - n0 : NR;
    ptrdiff_t i = 0;
    for (; i + 8 <= M; i += 8) kern8(K, A + i*lda, lda, Pp, C + i*ldc + n0, ldc, beta, nn);
    if (M - i >= 4) { kern4(K, A + i*lda, lda, Pp, C + i*ldc + n0, ldc, beta, nn); i += 4; }
    if (M - i >= 2) { kern2(K, A + i*lda, lda, Pp, C + i*ldc + n0, ldc, beta, nn); i += 2; }
    if (M - i >= 1) { kern1(K, A + i*lda, lda, Pp, C + i*ldc + n0, ldc, beta, nn); i += 1; }
  }
}
static double now(){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+1e-9*t.tv_nsec;}
int main(int argc, char** argv) {
  int shapes[][3] = {{16,128,32},{32,512,128},{32,128,512},{64,2048,512},{64,512,2048},{32,384,128},{64,256,128},{13,100,37},{64,1024,512},
                     {256,96,8},{256,96,32},{128,96,8},{256,128,40},{32,32,32},{16,32,32},{256,32,40},{64,96,8}};
  for (int s = 0; s < (int)(sizeof shapes / sizeof shapes[0]); s++) {
    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    T* A = aligned_alloc(64, sizeof(T)*M*K); T* W = aligned_alloc(64, sizeof(T)*N*K);
    T* C1 = aligned_alloc(64, sizeof(T)*M*N+64); T* C2 = aligned_alloc(64, sizeof(T)*M*N+64);
    T* P = aligned_alloc(64, sizeof(T)*K*((N+NR-1)/NR)*NR);
    for (int i = 0; i < M*K; i++) A[i] = (rand()%1000)/1000.0f - 0.5f;
    for (int i = 0; i < N*K; i++) W[i] = (rand()%1000)/1000.0f - 0.5f;
    memset(C1, 0, sizeof(T)*M*N); memset(C2, 0, sizeof(T)*M*N);
    pack_t(W, K, K, N, P);
    /* C = A W^T : row-major cblas 101, NoTrans 111, Trans 112 */
    scipy_cblas_sgemm(101, 111, 112, M, N, K, 1, A, K, W, K, 0, C1, N);
    pgemm(M, N, K, A, K, P, C2, N, 0);
    double err = 0; for (int i = 0; i < M*N; i++) { double d = C1[i]-C2[i]; if (d<0) d=-d; if (d>err) err=d; }
    int reps = (int)(2e9 / (2.0*M*N*K)); if (reps < 20) reps = 20;
    double best1 = 1e9, best2 = 1e9;
    for (int r = 0; r < 5; r++) {
      double t0 = now(); for (int i = 0; i < reps; i++) scipy_cblas_sgemm(101,111,112,M,N,K,1,A,K,W,K,1,C1,N); double t1 = now();
      for (int i = 0; i < reps; i++) pgemm(M,N,K,A,K,P,C2,N,1); double t2 = now();
      if (t1-t0 < best1) best1 = t1-t0; if (t2-t1 < best2) best2 = t2-t1;
    }
    double fl = 2.0*M*N*K*reps;
    printf("M=%3d N=%4d K=%4d  openblas %6.1f GF/s  packed %6.1f GF/s  ratio %.2f  maxerr %.2e\n", M,N,K, fl/best1/1e9, fl/best2/1e9, best1/best2, err);
  }
}
