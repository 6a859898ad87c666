/* The AVX2 inference activations (_activations_avx2.h) against gcc's
 * vectorisation of the portable ones (_activations.h) at x86-64-v3: every
 * bit equal over 3 x 16 M arguments ([-100, 100] with NaN, +-inf and a
 * denormal, [-12, 12], [-1e-3, 1e-3]), then ns per element over 128 floats
 * in L1, best of 7, three rounds.
 *
 *   gcc -O3 -fno-trapping-math -fno-math-errno -Isrc/crnn \
 *       -o /tmp/activations benchmarks/activation_probe.c -lm && /tmp/activations
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "_activations_avx2.h"
#define T2 __attribute__((target("arch=x86-64-v3"), noinline))
static double now(void){struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+1e-9*t.tv_nsec;}
T2 void sig_c(const float *restrict x, float *restrict y, long n){ for(long j=0;j<n;j++) y[j]=crnn_sigmoidf(x[j]); }
T2 void tanh_c(const float *restrict x, float *restrict y, long n){ for(long j=0;j<n;j++) y[j]=crnn_tanhf_expm1(x[j]); }
T2 void sig_v(const float *restrict x, float *restrict y, long n){ for(long j=0;j<n;j+=8) _mm256_storeu_ps(y+j, crnn_sigmoid8(_mm256_loadu_ps(x+j))); }
T2 void tanh_v(const float *restrict x, float *restrict y, long n){ for(long j=0;j<n;j+=8) _mm256_storeu_ps(y+j, crnn_tanh8(_mm256_loadu_ps(x+j))); }
typedef void (*fn)(const float*, float*, long);
int main(void){
    /* bitwise over many arguments */
    long N = 1<<24; float *x = malloc(N*4), *a = malloc(N*4), *b = malloc(N*4);
    for (int pass = 0; pass < 3; pass++) {
        for (long i=0;i<N;i++) x[i] = pass==0 ? -100.f + 200.f*i/N : pass==1 ? -12.f + 24.f*i/N : -1e-3f + 2e-3f*i/N;
        if (pass==0) { x[5] = __builtin_nanf(""); x[6] = 1.0f/0.0f; x[7] = -1.0f/0.0f; x[8] = 1e-40f; }
        sig_c(x,a,N); sig_v(x,b,N); long d=0; for(long i=0;i<N;i++) d += memcmp(a+i,b+i,4)!=0; printf("pass %d sigmoid bit diffs %ld\n", pass, d);
        tanh_c(x,a,N); tanh_v(x,b,N); d=0; for(long i=0;i<N;i++) d += memcmp(a+i,b+i,4)!=0; printf("pass %d tanh bit diffs %ld\n", pass, d);
    }
    float xs[128], ys[128]; for(int i=0;i<128;i++) xs[i] = -6.f + 12.f*i/128;
    fn f[4] = {sig_c, sig_v, tanh_c, tanh_v}; const char *nm[4] = {"sigmoid C","sigmoid v","tanh C","tanh v"};
    for (int round=0; round<3; round++) for (int k=0;k<4;k++){ double best=1e9; for(int r=0;r<7;r++){ double t0=now(); for(int it=0;it<200000;it++){ f[k](xs,ys,128); __asm__ volatile(""::"r"(ys):"memory"); } double t=now()-t0; if(t<best)best=t;} printf("%s %.3f ns/elem\n", nm[k], best/200000/128*1e9); }
}
