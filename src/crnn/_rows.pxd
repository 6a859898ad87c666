# The row passes of _gate_rows.h for either precision: the float/double
# dispatch over the C functions is written once, here, so the timestep
# driver (_recurrent.pyx) calls one name per pass.
from cython cimport floating

from crnn._cells cimport ACT_RELU, ACT_TANH
from crnn._gate_rows cimport (
    crnn_gru_backward_row_d, crnn_gru_backward_row_f,
    crnn_gru_forward_row_d, crnn_gru_forward_row_f,
    crnn_lstm_backward_row_d, crnn_lstm_backward_row_f,
    crnn_lstm_forward_row_d, crnn_lstm_forward_row_f,
    crnn_rnn_forward_row_d, crnn_rnn_forward_row_f,
    crnn_ln_row_d, crnn_ln_row_f, crnn_ln_row_backward_d, crnn_ln_row_backward_f,
    crnn_lstm_ln_output_row_d, crnn_lstm_ln_output_row_f,
    crnn_lstm_ln_backward_row_d, crnn_lstm_ln_backward_row_f)


cdef inline void rnn_forward_row(floating* z, const floating* b_ih, const floating* b_hh,
                                 Py_ssize_t n, int activation) noexcept nogil:
    if floating is float:
        crnn_rnn_forward_row_f(z, b_ih, b_hh, n, activation)
    else:
        crnn_rnn_forward_row_d(z, b_ih, b_hh, n, activation)


cdef inline void lstm_forward_row(floating* a, const floating* b_ih, const floating* b_hh,
                                  const floating* c_prev, floating* c_next, floating* h_next,
                                  floating* tc, Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_lstm_forward_row_f(a, b_ih, b_hh, c_prev, c_next, h_next, tc, n)
    else:
        crnn_lstm_forward_row_d(a, b_ih, b_hh, c_prev, c_next, h_next, tc, n)


cdef inline void gru_forward_row(floating* a, const floating* hh, const floating* b_ih,
                                 const floating* b_hh, floating* hn, const floating* h_prev,
                                 floating* h_next, Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_gru_forward_row_f(a, hh, b_ih, b_hh, hn, h_prev, h_next, n)
    else:
        crnn_gru_forward_row_d(a, hh, b_ih, b_hh, hn, h_prev, h_next, n)


cdef inline void rnn_backward_row(floating* d, const floating* dh_above,
                                  const floating* dh_carry, const floating* h,
                                  Py_ssize_t n, int activation) noexcept nogil:
    # act'(.) from the cached output h: tanh' = 1 - h^2, relu' = [h > 0],
    # sigmoid' = h (1 - h). The branch sits outside the loop over units so
    # that each loop is a straight line gcc vectorizes.
    cdef Py_ssize_t j
    cdef floating one = 1, zero = 0
    if activation == ACT_TANH:
        for j in range(n):
            d[j] = (dh_above[j] + dh_carry[j]) * (one - h[j] * h[j])
    elif activation == ACT_RELU:
        for j in range(n):
            d[j] = (dh_above[j] + dh_carry[j]) if h[j] > zero else zero
    else:
        for j in range(n):
            d[j] = (dh_above[j] + dh_carry[j]) * h[j] * (one - h[j])


cdef inline void lstm_backward_row(const floating* a, const floating* tc,
                                   const floating* c_prev, const floating* dh_in,
                                   const floating* dh, floating* dc, floating* d,
                                   Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_lstm_backward_row_f(a, tc, c_prev, dh_in, dh, dc, d, n)
    else:
        crnn_lstm_backward_row_d(a, tc, c_prev, dh_in, dh, dc, d, n)


cdef inline void gru_backward_row(const floating* a, const floating* hn,
                                  const floating* h_prev, const floating* dh_in,
                                  floating* dh, floating* d, Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_gru_backward_row_f(a, hn, h_prev, dh_in, dh, d, n)
    else:
        crnn_gru_backward_row_d(a, hn, h_prev, dh_in, dh, d, n)


# Layer normalisation (SPEC 10): arguments as documented in _gate_rows.inc.
cdef inline void ln_row(floating* a, const floating* gain, const floating* bias,
                        floating* xhat, floating* rstd, floating* dst,
                        Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_ln_row_f(a, gain, bias, xhat, rstd, dst, n)
    else:
        crnn_ln_row_d(a, gain, bias, xhat, rstd, dst, n)


cdef inline void ln_row_backward(const floating* dy, const floating* xhat, floating rstd,
                                 const floating* gain, floating* da, floating* dgain,
                                 floating* dbias, Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_ln_row_backward_f(dy, xhat, rstd, gain, da, dgain, dbias, n)
    else:
        crnn_ln_row_backward_d(dy, xhat, rstd, gain, da, dgain, dbias, n)


cdef inline void lstm_ln_output_row(const floating* c, const floating* o, const floating* gain,
                                    const floating* bias, floating* chat, floating* rstd,
                                    floating* tc, floating* h, Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_lstm_ln_output_row_f(c, o, gain, bias, chat, rstd, tc, h, n)
    else:
        crnn_lstm_ln_output_row_d(c, o, gain, bias, chat, rstd, tc, h, n)


cdef inline void lstm_ln_backward_row(const floating* o, const floating* tc,
                                      const floating* chat, floating rstd,
                                      const floating* gain, const floating* dh_in,
                                      const floating* dh, floating* dc, floating* dgain,
                                      floating* dbias, floating* work,
                                      Py_ssize_t n) noexcept nogil:
    if floating is float:
        crnn_lstm_ln_backward_row_f(o, tc, chat, rstd, gain, dh_in, dh, dc, dgain, dbias,
                                    work, n)
    else:
        crnn_lstm_ln_backward_row_d(o, tc, chat, rstd, gain, dh_in, dh, dc, dgain, dbias,
                                    work, n)
