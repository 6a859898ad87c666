# Elementwise activations shared by the cell kernels, inline so that the
# fused gate passes compile into straight-line, vectorizable loops.
#
# They are written in C (_activations.h) rather than calling libm: a libm call
# (expf, tanhf) cannot be vectorized, and gcc only if-converts the clamps
# into SIMD selects because the extensions are compiled with
# -fno-trapping-math (CMakeLists.txt; crnn never reads floating-point
# exception flags). Measured on this project's machines (SSE2, 4 floats per
# instruction): sigmoid 1.5 ns and tanh 2.2 ns per float32 element against
# 6 and 9 ns for a scalar formulation; see benchmarks/NOTES.md.
#
# exp follows Cephes (expf.c, exp.c): x = n ln2 + r with |r| <= ln2 / 2, ln2
# split in two parts so n ln2 is exact, a minimax polynomial (float) or
# Pade form (double) for exp(r), and 2^n written into the exponent bits;
# n = round(x / ln2) by adding 1.5 * 2^23 (2^52), which leaves n in the low
# mantissa bits. The argument is clamped to where 2^n stays a normal
# number, so nothing overflows: for |x| beyond the clamp sigmoid and tanh
# have long saturated. tanh uses 1 - 2 / (exp(2x) + 1), and Cephes' odd
# polynomial (tanhf.c) or rational function (tanh.c) for |x| < 0.625 where
# that form would lose relative accuracy. NaN propagates.
from cython cimport floating

cdef extern from "_activations.h":
    float crnn_expf(float x) noexcept nogil
    double crnn_exp(double x) noexcept nogil
    float crnn_sigmoidf(float x) noexcept nogil
    double crnn_sigmoid(double x) noexcept nogil
    float crnn_tanhf(float x) noexcept nogil
    double crnn_tanh(double x) noexcept nogil


cdef enum Activation:
    ACT_TANH = 0
    ACT_RELU = 1
    ACT_SIGMOID = 2


cdef inline floating exp_(floating x) noexcept nogil:
    if floating is float:
        return crnn_expf(x)
    else:
        return crnn_exp(x)


cdef inline floating sigmoid(floating x) noexcept nogil:
    if floating is float:
        return crnn_sigmoidf(x)
    else:
        return crnn_sigmoid(x)


cdef inline floating tanh_(floating x) noexcept nogil:
    if floating is float:
        return crnn_tanhf(x)
    else:
        return crnn_tanh(x)
