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


cdef double _regularize_and_clip(const floating[::1] params, floating[::1] grads,
                                 Py_ssize_t n_decay, double l2,
                                 double max_norm) noexcept nogil:
    cdef:
        Py_ssize_t i, n = grads.shape[0]
        double sq = 0, g, norm, scale
    for i in range(n_decay):
        grads[i] += <floating>(l2 * params[i])
    for i in range(n):
        g = grads[i]
        sq += g * g
    norm = sqrt(sq)
    if max_norm > 0 and norm > max_norm:
        scale = max_norm / (norm + 1e-6)
        for i in range(n):
            grads[i] = <floating>(grads[i] * scale)
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
    cdef:
        Py_ssize_t n = params.shape[0]
        double norm, lr_t
        floating b1 = <floating>beta_1, b2 = <floating>beta_2
        floating eps = <floating>epsilon, lr
        crnn_fpstate fp
    if grads.shape[0] != n or m.shape[0] != n or v.shape[0] != n:
        raise ValueError("params, grads, m and v must have one length")
    with nogil:
        fp = crnn_fp_enter(_flush)
        try:
            norm = _regularize_and_clip(params, grads, n_decay, l2, max_norm)
            lr_t = learning_rate * sqrt(1 - pow(beta_2, step)) / (1 - pow(beta_1, step))
            lr = <floating>lr_t
            if n > 0:
                if floating is float:
                    crnn_adam_update_f(&params[0], &grads[0], &m[0], &v[0], n, b1, b2, lr, eps)
                else:
                    crnn_adam_update_d(&params[0], &grads[0], &m[0], &v[0], n, b1, b2, lr, eps)
        finally:
            crnn_fp_exit(fp)
    return norm


def sgd_step(floating[::1] params,           # IN/OUT (P,)
             floating[::1] grads,            # IN/OUT (P,)
             floating[::1] velocity,         # IN/OUT (P,)
             Py_ssize_t n_decay, double l2, double max_norm,
             double learning_rate, double momentum, bint nesterov):
    """One SGD update with (Nesterov) momentum. Returns the gradient norm
    before clipping."""
    cdef:
        Py_ssize_t i, n = params.shape[0]
        double norm
        floating lr = <floating>learning_rate, mu = <floating>momentum, u
        crnn_fpstate fp
    with nogil:
        fp = crnn_fp_enter(_flush)
        try:
            norm = _regularize_and_clip(params, grads, n_decay, l2, max_norm)
            for i in range(n):
                u = mu * velocity[i] - lr * grads[i]
                velocity[i] = u
                if nesterov:
                    params[i] += mu * u - lr * grads[i]
                else:
                    params[i] += u
        finally:
            crnn_fp_exit(fp)
    return norm
