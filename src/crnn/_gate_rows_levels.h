/* The row passes and the packed GEMM of one precision at each SIMD level;
 * included by _gate_rows.h once per precision (CRNN_T, CRNN_PRECISION, ...),
 * no guard. arch=x86-64-v3 and -v4 also let gcc contract a * b + c into
 * FMA. CRNN_VBYTES is the level's vector width, CRNN_MR the packed GEMM's
 * rows per micro-tile (see _packed_gemm.inc). CRNN_INFER_AVX512 and
 * CRNN_INFER_AVX2 select the inference rows written with intrinsics
 * (_activations_avx512.h, _activations_avx2.h): float at those levels. */
#define CRNN_LEVEL _sse2
#define CRNN_TARGET
#define CRNN_VBYTES 16
#define CRNN_MR 4
#define CRNN_INFER_AVX512 0
#define CRNN_INFER_AVX2 0
#include "_gate_rows.inc"
#include "_packed_gemm.inc"
#undef CRNN_LEVEL
#undef CRNN_TARGET
#undef CRNN_VBYTES
#undef CRNN_MR
#undef CRNN_INFER_AVX512
#undef CRNN_INFER_AVX2

#if CRNN_SIMD_DISPATCH
#define CRNN_LEVEL _avx2
#define CRNN_TARGET __attribute__((target("arch=x86-64-v3")))
#define CRNN_VBYTES 32
#define CRNN_MR 6
#define CRNN_INFER_AVX512 0
#define CRNN_INFER_AVX2 CRNN_IS_FLOAT
#include "_gate_rows.inc"
#include "_packed_gemm.inc"
#undef CRNN_LEVEL
#undef CRNN_TARGET
#undef CRNN_VBYTES
#undef CRNN_MR
#undef CRNN_INFER_AVX512
#undef CRNN_INFER_AVX2

#define CRNN_LEVEL _avx512
#define CRNN_TARGET __attribute__((target("arch=x86-64-v4")))
#define CRNN_VBYTES 64
#define CRNN_MR 12
#define CRNN_INFER_AVX512 CRNN_IS_FLOAT
#define CRNN_INFER_AVX2 0
#include "_gate_rows.inc"
#include "_packed_gemm.inc"
#undef CRNN_LEVEL
#undef CRNN_TARGET
#undef CRNN_VBYTES
#undef CRNN_MR
#undef CRNN_INFER_AVX512
#undef CRNN_INFER_AVX2
#endif
