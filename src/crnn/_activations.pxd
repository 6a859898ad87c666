# Elementwise activations shared by the cell kernels, inline so that the
# fused gate passes compile into straight-line loops.
from cython cimport floating
from libc.math cimport exp, expf, tanh, tanhf


cdef enum Activation:
    ACT_TANH = 0
    ACT_RELU = 1
    ACT_SIGMOID = 2


cdef inline floating tanh_(floating x) noexcept nogil:
    # libm's tanh saturates to +-1 without overflow for any finite x.
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating sigmoid(floating x) noexcept nogil:
    # exp is only ever taken of a non-positive number, so it cannot overflow
    # (1 / (1 + exp(-x)) overflows exp for x < -89 in float32).
    cdef floating e
    if x >= 0:
        if floating is float:
            e = expf(-x)
        else:
            e = exp(-x)
        return 1 / (1 + e)
    if floating is float:
        e = expf(x)
    else:
        e = exp(x)
    return e / (1 + e)


cdef inline floating activate(floating x, int activation) noexcept nogil:
    if activation == ACT_TANH:
        return tanh_(x)
    elif activation == ACT_RELU:
        return x if x > 0 else 0
    return sigmoid(x)


cdef inline floating activation_grad(floating y, int activation) noexcept nogil:
    # Derivative expressed through the activation's output y, which the
    # forward pass cached: no recomputation of the pre-activation.
    if activation == ACT_TANH:
        return 1 - y * y
    elif activation == ACT_RELU:
        return 1 if y > 0 else 0
    return y * (1 - y)
