/* Fused elementwise passes of the cell kernels over one row: one sequence
 * of the batch at one time step, after that step's GEMM.
 *
 * They are C rather than Cython so that each can be compiled three times,
 * for the x86-64 baseline (SSE2, 4 floats per instruction), x86-64-v3 (AVX2
 * and FMA, 8 floats) and x86-64-v4 (AVX-512, 16 floats), with the best one
 * the CPU supports chosen once at load time by the dynamic loader (GCC's
 * target_clones). A build therefore stays portable (no -march=native) yet
 * uses the wide units where they exist. The forward passes are dominated by
 * sigmoid and tanh; on this project's machines the x86-64-v3 clone
 * evaluates them about 3x faster than the baseline, and the x86-64-v4 clone
 * takes the LSTM inference row at H = 32 from 112 to 76 ns
 * (benchmarks/NOTES.md).
 *
 * Every pointer is restrict: the kernels pass rows of distinct arrays.
 * The bodies live in _gate_rows.inc, included once per precision. */
#ifndef CRNN_GATE_ROWS_H
#define CRNN_GATE_ROWS_H

#include <stddef.h>
#include "_activations.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && (__GNUC__ >= 12)
#define CRNN_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CRNN_CLONES
#endif

#define CRNN_T float
#define CRNN_SUFFIX(name) name##_f
#define CRNN_SIGMOID crnn_sigmoidf
#define CRNN_TANH crnn_tanhf
#include "_gate_rows.inc"
#undef CRNN_T
#undef CRNN_SUFFIX
#undef CRNN_SIGMOID
#undef CRNN_TANH

#define CRNN_T double
#define CRNN_SUFFIX(name) name##_d
#define CRNN_SIGMOID crnn_sigmoid
#define CRNN_TANH crnn_tanh
#include "_gate_rows.inc"
#undef CRNN_T
#undef CRNN_SUFFIX
#undef CRNN_SIGMOID
#undef CRNN_TANH

#endif
