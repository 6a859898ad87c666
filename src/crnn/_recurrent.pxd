# The training passes of one direction of one layer, on pointers and without
# the GIL (see _recurrent.pyx): forward and backward call them on arrays,
# the compiled minibatch (_minibatch.pyx) on its own buffers.
from cython cimport floating

cdef int forward_pass(int cell, int activation, Py_ssize_t n_steps, Py_ssize_t n_rows,
                      Py_ssize_t n_in, Py_ssize_t n_hidden,
                      const floating* W_ih, const floating* W_hh, const floating* b_ih,
                      const floating* b_hh, const floating* X, const Py_ssize_t* batch_sizes,
                      bint reverse, floating* h_cur, floating* c_cur, floating* gates,
                      floating* H_prev, floating* C_prev, floating* extra, floating* hh,
                      floating* H_out, Py_ssize_t ld_out, Py_ssize_t out_col,
                      const floating* ln_ih_w, const floating* ln_ih_b,
                      const floating* ln_hh_w, const floating* ln_hh_b,
                      const floating* ln_c_w, const floating* ln_c_b,
                      floating* ln_xhat_ih, floating* ln_xhat_hh, floating* ln_chat,
                      floating* ln_rstd) noexcept nogil

cdef int backward_pass(int cell, int activation, Py_ssize_t n_steps, Py_ssize_t n_rows,
                       Py_ssize_t n_in, Py_ssize_t n_hidden, Py_ssize_t n_delta,
                       const floating* W_ih, const floating* W_hh, const floating* X,
                       const Py_ssize_t* batch_sizes, const Py_ssize_t* lengths, bint reverse,
                       Py_ssize_t truncate, const floating* gates, const floating* H_prev,
                       const floating* C_prev, const floating* extra, const floating* dH,
                       Py_ssize_t ld_dH, Py_ssize_t dH_col, floating* dh_cur, floating* dc_cur,
                       floating* delta, floating* dW_ih, floating* dW_hh, floating* db_ih,
                       floating* db_hh, floating* dX, bint dX_accumulate,
                       const floating* ln_ih_w, const floating* ln_hh_w,
                       const floating* ln_c_w, const floating* ln_xhat_ih,
                       const floating* ln_xhat_hh, const floating* ln_chat,
                       const floating* ln_rstd, floating* delta_ih, floating* dln_ih_w,
                       floating* dln_ih_b, floating* dln_hh_w, floating* dln_hh_b,
                       floating* dln_c_w, floating* dln_c_b) noexcept nogil

cdef int flush_denormals() noexcept nogil
