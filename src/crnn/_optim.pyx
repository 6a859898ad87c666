"""Fused optimizer updates over one flat, contiguous parameter buffer.

All parameters of a network live in one flat array (the per-layer arrays the
user sees are views into it), laid out with every weight matrix first and
every bias after, so that the L2 penalty, which applies to weights only,
covers the prefix ``params[:n_decay]``. One call per minibatch then:

1. adds the L2 term ``l2 * W`` to the weight gradients,
2. takes the global L2 norm of the whole gradient and rescales it to
   ``max_norm`` if larger (``torch.nn.utils.clip_grad_norm_`` semantics),
3. applies the Adam or SGD (momentum / Nesterov) update as scikit-learn's
   ``neural_network._stochastic_optimizers`` defines them.

The norm accumulates in double precision in both dtypes.
"""
import os

from cython cimport floating
from libc.math cimport sqrt, pow

from crnn._fpenv cimport crnn_fp_enter, crnn_fp_exit, crnn_fpstate
from crnn._gate_rows cimport crnn_adam_update_f, crnn_adam_update_d

# Flush subnormals to zero inside the updates, as the timestep driver does
# (_fpenv.h); CRNN_FLUSH_DENORMALS=0 keeps the caller's mode.
cdef int _flush = os.environ.get("CRNN_FLUSH_DENORMALS", "1") != "0"


def set_flush_denormals(bint enabled):
    """Switch flush-to-zero inside the optimizer steps (tests compare both)."""
    global _flush
    _flush = enabled


cdef double _regularize_and_clip(const floating* params, floating* grads, Py_ssize_t n,
                                 Py_ssize_t n_decay, double l2,
                                 double max_norm) noexcept nogil:
    cdef:
        Py_ssize_t i
        double norm, scale
    for i in range(n_decay):
        grads[i] += <floating>(l2 * params[i])
    norm = sqrt(squared_sum(grads, n))
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for i in range(n):
            grads[i] = <floating>(grads[i] * scale)
    return norm


cdef double squared_sum(const floating* x, Py_ssize_t n) noexcept nogil:
    """sum(x ** 2), accumulated in double in eight interleaved sums: one
    running sum is a chain of dependent adds, 4 cycles each, and took
    about 7 us of each W1 lstm minibatch's 5 376 parameters."""
    cdef Py_ssize_t i, j, n8 = n - n % 8
    cdef double acc[8]
    cdef double value
    for j in range(8):
        acc[j] = 0
    for i in range(0, n8, 8):
        for j in range(8):
            value = x[i + j]
            acc[j] += value * value
    for i in range(n8, n):
        value = x[i]
        acc[i - n8] += value * value
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))


def weight_penalty(const floating[::1] params, Py_ssize_t n_decay):
    """sum(params[:n_decay] ** 2) in double: the L2 term's norm, as the
    compiled minibatch computes it."""
    if not 0 <= n_decay <= params.shape[0]:
        raise ValueError("n_decay out of range")
    if n_decay == 0:
        return 0.0
    return squared_sum(&params[0], n_decay)


cdef double optimizer_step(bint adam, floating* params, floating* grads, floating* m,
                           floating* v, Py_ssize_t n, Py_ssize_t n_decay, double l2,
                           double max_norm, double learning_rate, double beta_1,
                           double beta_2, double epsilon, double momentum, bint nesterov,
                           long step) noexcept nogil:
    """One Adam (``adam``; ``step`` counts updates from 1) or SGD update of
    n parameters on pointers, as :func:`adam_step` and :func:`sgd_step`;
    ``v`` is unused by SGD and ``m`` is its velocity. Returns the gradient
    norm before clipping."""
    cdef:
        Py_ssize_t i
        double norm, lr_t
        floating lr, mu, u
        crnn_fpstate fp
    fp = crnn_fp_enter(_flush)
    norm = _regularize_and_clip(params, grads, n, n_decay, l2, max_norm)
    if adam:
        lr_t = learning_rate * sqrt(1 - pow(beta_2, step)) / (1 - pow(beta_1, step))
        lr = <floating>lr_t
        if n > 0:
            if floating is float:
                crnn_adam_update_f(params, grads, m, v, n, <floating>beta_1, <floating>beta_2,
                                   lr, <floating>epsilon)
            else:
                crnn_adam_update_d(params, grads, m, v, n, <floating>beta_1, <floating>beta_2,
                                   lr, <floating>epsilon)
    else:
        lr = <floating>learning_rate
        mu = <floating>momentum
        for i in range(n):
            u = mu * m[i] - lr * grads[i]
            m[i] = u
            if nesterov:
                params[i] += mu * u - lr * grads[i]
            else:
                params[i] += u
    crnn_fp_exit(fp)
    return norm


def adam_step(floating[::1] params,          # IN/OUT (P,)
              floating[::1] grads,           # IN/OUT (P,): raw gradient, then clipped
              floating[::1] m,               # IN/OUT (P,): first moment
              floating[::1] v,               # IN/OUT (P,): second moment
              Py_ssize_t n_decay, double l2, double max_norm,
              double learning_rate, double beta_1, double beta_2,
              double epsilon, long step):
    """One Adam update; ``step`` counts updates from 1. Returns the gradient norm
    before clipping."""
    cdef Py_ssize_t n = params.shape[0]
    cdef double norm
    if grads.shape[0] != n or m.shape[0] != n or v.shape[0] != n:
        raise ValueError("params, grads, m and v must have one length")
    if not 0 <= n_decay <= n:
        raise ValueError("n_decay out of range")
    if n == 0:
        return 0.0
    with nogil:
        norm = optimizer_step(True, &params[0], &grads[0], &m[0], &v[0], n, n_decay, l2,
                              max_norm, learning_rate, beta_1, beta_2, epsilon, 0, False, step)
    return norm


def sgd_step(floating[::1] params,           # IN/OUT (P,)
             floating[::1] grads,            # IN/OUT (P,)
             floating[::1] velocity,         # IN/OUT (P,)
             Py_ssize_t n_decay, double l2, double max_norm,
             double learning_rate, double momentum, bint nesterov):
    """One SGD update with (Nesterov) momentum. Returns the gradient norm
    before clipping."""
    cdef Py_ssize_t n = params.shape[0]
    cdef double norm
    if grads.shape[0] != n or velocity.shape[0] != n:
        raise ValueError("params, grads and velocity must have one length")
    if not 0 <= n_decay <= n:
        raise ValueError("n_decay out of range")
    if n == 0:
        return 0.0
    with nogil:
        norm = optimizer_step(False, &params[0], &grads[0], &velocity[0], NULL, n, n_decay,
                              l2, max_norm, learning_rate, 0, 0, 0, momentum, nesterov, 0)
    return norm
