/* Throughput of the AVX-512 float division (vdivps zmm) against the
 * multiply-add (vfmadd zmm) on one core: 8 independent division chains and
 * 16 independent multiply-add chains, register-only. The activations'
 * divisions (a sigmoid or a tanh per vector of 16 units: five per LSTM
 * unit's gate pass) bound the gate passes from below; benchmarks/NOTES.md
 * uses this for the floors of the LSTM predicts. Build and run:
 *
 *   gcc -O3 -o /tmp/divider benchmarks/divider_probe.c && /tmp/divider
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec + 1e-9 * ts.tv_nsec; }
#define D(x) x = _mm512_div_ps(x, b);
#define F(x) x = _mm512_fmadd_ps(x, b, c);
#define V(v) _mm512_set1_ps(v)
__attribute__((target("avx512f"))) int main(void) {
    __m512 b = V(1.0000001f), c = V(1e-7f);
    __m512 a0 = V(1), a1 = V(2), a2 = V(3), a3 = V(4), a4 = V(5), a5 = V(6), a6 = V(7), a7 = V(8);
    __m512 f0 = V(9), f1 = V(10), f2 = V(11), f3 = V(12), f4 = V(13), f5 = V(14), f6 = V(15), f7 = V(16);
    __m512 g0 = V(17), g1 = V(18), g2 = V(19), g3 = V(20), g4 = V(21), g5 = V(22), g6 = V(23), g7 = V(24);
    long n = 100000000;
    for (int round = 0; round < 2; round++) {
        double t0 = now();
        for (long k = 0; k < n; k++) { D(a0) D(a1) D(a2) D(a3) D(a4) D(a5) D(a6) D(a7) }
        double t1 = now();
        for (long k = 0; k < n; k++) {
            F(f0) F(f1) F(f2) F(f3) F(f4) F(f5) F(f6) F(f7) F(g0) F(g1) F(g2) F(g3) F(g4) F(g5) F(g6) F(g7)
        }
        double t2 = now();
        __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                                 _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
        __m512 u = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(f0, f1), _mm512_add_ps(f2, f3)),
                                 _mm512_add_ps(_mm512_add_ps(f4, f5), _mm512_add_ps(f6, f7)));
        __m512 w = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(g0, g1), _mm512_add_ps(g2, g3)),
                                 _mm512_add_ps(_mm512_add_ps(g4, g5), _mm512_add_ps(g6, g7)));
        printf("vdivps zmm %.3f ns each, vfmadd231ps zmm %.3f ns each (sink %g)\n",
               (t1 - t0) / n / 8 * 1e9, (t2 - t1) / n / 16 * 1e9, _mm512_reduce_add_ps(_mm512_add_ps(s, _mm512_add_ps(u, w))));
    }
}
