# Elementwise activations shared by the cell kernels, inline so that the
# fused gate passes compile into straight-line loops.
from cython cimport floating
from libc.math cimport copysign, copysignf, fabs, fabsf
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t


cdef enum Activation:
    ACT_TANH = 0
    ACT_RELU = 1
    ACT_SIGMOID = 2


cdef union _bits32:
    float f
    int32_t i


cdef union _bits64:
    double f
    int64_t i


# The functions below make no libm call and no branch on a floating-point
# comparison (gcc will not if-convert those under its default
# -ftrapping-math, nor vectorize the loop around them). Selections use masks
# built from the integer image of the float instead: for non-negative floats
# the integer order of the bit patterns is the numeric order, and the sign
# of a difference shifted right gives an all-ones or all-zeros mask. Loops
# that call these functions then vectorize (SSE2 at the default -O3), about
# 3x faster than libm's scalar expf / tanhf in the LSTM and GRU gate passes.

cdef inline floating _clamp_abs(floating x) noexcept nogil:
    # |x| clamped to 126 ln2 (float) or 1022 ln2 (double), the largest
    # value with exp(-|x|) still a normal number; sign kept, NaN passed on.
    cdef _bits32 u32
    cdef _bits64 u64
    cdef int32_t a32, m32
    cdef int64_t a64, m64
    if floating is float:
        u32.f = x
        a32 = u32.i & 0x7fffffff
        # all ones iff 126 ln2 < |x| <= inf
        m32 = ((0x42aeac50 - a32) & (a32 - 0x7f800001)) >> 31
        u32.i = (u32.i & ~m32) | (((u32.i ^ a32) | 0x42aeac50) & m32)
        return u32.f
    else:
        u64.f = x
        a64 = u64.i & 0x7fffffffffffffffLL
        # all ones iff 1022 ln2 < |x| <= inf
        m64 = ((0x4086232bdd7abcd2LL - a64) & (a64 - 0x7ff0000000000001LL)) >> 63
        u64.i = (u64.i & ~m64) | (((u64.i ^ a64) | 0x4086232bdd7abcd2LL) & m64)
        return u64.f


cdef inline floating exp_(floating x) noexcept nogil:
    # Cephes expf / exp: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two
    # parts so that n ln2 is exact), a minimax polynomial (float) or Pade
    # form (double) for exp(r), and 2^n written into the exponent bits.
    # n = round(x / ln2) by adding 1.5 * 2^23 (2^52), which also leaves n in
    # the low mantissa bits. The clamp keeps 2^n a normal number: beyond
    # +-126 ln2 (float) or +-1022 ln2 (double) the result stays at its value
    # there, never inf. Max error about 1 ulp (float) and 2 ulp (double).
    cdef _bits32 t32, s32
    cdef _bits64 t64, s64
    cdef float xf, nf, pf
    cdef double xd, nd, pd, qd, rd
    if floating is float:
        xf = _clamp_abs(x)
        t32.f = xf * <float>1.44269504088896341 + <float>12582912.0
        nf = t32.f - <float>12582912.0
        xf = xf - nf * <float>0.693359375 - nf * <float>-2.12194440e-4
        pf = (((((<float>1.9875691500e-4 * xf + <float>1.3981999507e-3) * xf
                 + <float>8.3334519073e-3) * xf + <float>4.1665795894e-2) * xf
               + <float>1.6666665459e-1) * xf + <float>5.0000001201e-1) * xf * xf \
            + xf + <float>1
        s32.i = <int32_t>(<uint32_t>(t32.i - 0x4b400000 + 127) << 23)
        return pf * s32.f
    else:
        xd = _clamp_abs(x)
        t64.f = xd * 1.4426950408889634073599 + 6755399441055744.0
        nd = t64.f - 6755399441055744.0
        xd = xd - nd * 6.93145751953125e-1 - nd * 1.42860682030941723212e-6
        rd = xd * xd
        pd = xd * ((1.26177193074810590878e-4 * rd + 3.02994407707441961300e-2) * rd
                   + 9.99999999999999999910e-1)
        qd = ((3.00198505138664455042e-6 * rd + 2.52448340349684104192e-3) * rd
              + 2.27265548208155028766e-1) * rd + 2.00000000000000000009e0
        xd = 1 + 2 * pd / (qd - pd)
        s64.i = <int64_t>(<uint64_t>(t64.i - 0x4338000000000000LL + 1023) << 52)
        return xd * s64.f


cdef inline floating sigmoid(floating x) noexcept nogil:
    # exp_ clamps its argument, so exp(-x) cannot overflow (a plain
    # 1 / (1 + exp(-x)) with libm's expf overflows for x < -89 in float32);
    # the relative accuracy of exp carries over to both tails (max error
    # about 2.5 ulp).
    cdef floating one = 1     # a typed 1: a bare literal would be a double
    return one / (one + exp_(-x))


cdef inline floating tanh_(floating x) noexcept nogil:
    # Cephes tanhf / tanh: an odd polynomial (float) or rational function
    # (double) for |x| < 0.625, where 1 - 2 / (exp(2|x|) + 1) would lose
    # digits to cancellation, that formula above (saturating to +-1, since
    # exp_ does not overflow). Both are evaluated and one is picked through
    # an integer mask, so the loop stays branch-free. Max error about 1 ulp
    # (float) and 1.5 ulp (double).
    cdef floating one = 1, two = 2
    cdef floating z = x * x
    cdef floating a, small, large
    cdef _bits32 a32, s32, l32
    cdef _bits64 a64, s64, l64
    cdef int32_t m32
    cdef int64_t m64
    if floating is float:
        a = fabsf(x)
        large = copysignf(one - two / (exp_(two * a) + one), x)
        small = ((((<float>-5.70498872745e-3 * z + <float>2.06390887954e-2) * z
                   - <float>5.37397155531e-2) * z + <float>1.33314422036e-1) * z
                 - <float>3.33332819422e-1) * z * x + x
        a32.f = a
        s32.f = small
        l32.f = large
        m32 = (a32.i - 0x3f200000) >> 31                    # all ones iff |x| < 0.625f
        s32.i = (s32.i & m32) | (l32.i & ~m32)
        return s32.f
    else:
        a = fabs(x)
        large = copysign(one - two / (exp_(two * a) + one), x)
        small = x + x * z * (((-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                              - 1.61468768441708447952e3)
                             / (((z + 1.12811678491632931402e2) * z
                                 + 2.23548839060100448583e3) * z
                                + 4.84406305325125486048e3))
        a64.f = a
        s64.f = small
        l64.f = large
        m64 = (a64.i - 0x3fe4000000000000LL) >> 63          # all ones iff |x| < 0.625
        s64.i = (s64.i & m64) | (l64.i & ~m64)
        return s64.f

