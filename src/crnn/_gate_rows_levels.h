/* The row passes of one precision at each SIMD level; included by
 * _gate_rows.h once per precision (CRNN_T, CRNN_PRECISION, ...), no guard.
 * arch=x86-64-v3 and -v4 also let gcc contract a * b + c into FMA. */
#define CRNN_LEVEL _sse2
#define CRNN_TARGET
#include "_gate_rows.inc"
#undef CRNN_LEVEL
#undef CRNN_TARGET

#if CRNN_SIMD_DISPATCH
#define CRNN_LEVEL _avx2
#define CRNN_TARGET __attribute__((target("arch=x86-64-v3")))
#include "_gate_rows.inc"
#undef CRNN_LEVEL
#undef CRNN_TARGET

#define CRNN_LEVEL _avx512
#define CRNN_TARGET __attribute__((target("arch=x86-64-v4")))
#include "_gate_rows.inc"
#undef CRNN_LEVEL
#undef CRNN_TARGET
#endif
