# The fused optimizer updates on pointers, without the GIL (see _optim.pyx):
# adam_step and sgd_step call them on arrays, the compiled minibatch
# (_minibatch.pyx) on the trainer's buffers.
from cython cimport floating

cdef double squared_sum(const floating* x, Py_ssize_t n) noexcept nogil

cdef double optimizer_step(bint adam, floating* params, floating* grads, floating* m,
                           floating* v, Py_ssize_t n, Py_ssize_t n_decay, double l2,
                           double max_norm, double learning_rate, double beta_1,
                           double beta_2, double epsilon, double momentum, bint nesterov,
                           long step) noexcept nogil
