"""Vanilla (Elman) recurrent layer: forward and BPTT backward over a batch.

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

Layout: sequences are time-major inside the kernels, X (T, B, I), so that
the B rows of one step are one contiguous block and every step's GEMM works
on contiguous memory. ``H_all`` (T + 1, B, H) holds h_0 in ``H_all[0]``
(written by the caller) and h_t in ``H_all[t]``; the h_{t-1} that multiply
the deltas in dW_hh are then the contiguous block ``H_all[0:T]``.

Cost structure (the reason for this shape):
- forward: one GEMM (T*B x I) @ W_ih^T for the input projection of all
  steps, written straight into H_all[1:], then per step one GEMM
  h_{t-1} @ W_hh^T accumulated onto it and one fused bias + activation pass;
- backward: per step one fused pass (delta_t = dh_t * act'(h_t)) and one GEMM
  delta_t @ W_hh; after the loop dW_ih, dW_hh and dX are one GEMM each over
  all T*B rows.

Inference (``infer``) keeps one step's state only: per step the rows
[x_t, h_{t-1}] of the (B, I + H) buffer ``xh`` meet ``W_cat`` =
[W_ih | W_hh] in one GEMM and the activation pass writes h_t back into
``xh``. It reads X batch-first (B, T, I), copying x_t row by row into
``xh``, so predict needs no time-major copy of its input.

The caller allocates every output and workspace and validates shapes; the
kernels hold no Python objects inside their nogil sections.
"""
from cython cimport floating
from libc.string cimport memcpy

from crnn._activations cimport ACT_RELU, ACT_TANH
from crnn._blas cimport gemm, NoTrans, Trans
from crnn._gate_rows cimport (column_sums,
                              crnn_rnn_forward_row_d, crnn_rnn_forward_row_f,
                              crnn_rnn_infer_row_d, crnn_rnn_infer_row_f)


# The backward pass branches on the activation outside the loop over
# units, so that each inner loop is a straight line gcc vectorizes; the
# forward pass is in _gate_rows.h.

cdef inline void _delta(floating* d, const floating* dh_above, const floating* dh_carry,
                        const floating* h, Py_ssize_t n, int activation) noexcept nogil:
    # act'(.) from the cached output h: tanh' = 1 - h^2, relu' = [h > 0],
    # sigmoid' = h (1 - h).
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


def forward(const floating[:, ::1] W_ih,     # IN (H, I)
            const floating[:, ::1] W_hh,     # IN (H, H)
            const floating[::1] b_ih,        # IN (H,)
            const floating[::1] b_hh,        # IN (H,)
            const floating[:, :, ::1] X,     # IN (T, B, I)
            floating[:, :, ::1] H_all,       # IN/OUT (T + 1, B, H); H_all[0] = h_0
            int activation):
    cdef:
        Py_ssize_t n_steps = X.shape[0]
        Py_ssize_t batch = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = W_hh.shape[0]
        Py_ssize_t t, b, j
    with nogil:
        # Input projection of every step at once: H_all[1:] = X @ W_ih^T.
        gemm(NoTrans, Trans, n_steps * batch, n_hidden, n_in,
             1, &X[0, 0, 0], n_in, &W_ih[0, 0], n_in,
             0, &H_all[1, 0, 0], n_hidden)
        for t in range(n_steps):
            gemm(NoTrans, Trans, batch, n_hidden, n_hidden,
                 1, &H_all[t, 0, 0], n_hidden, &W_hh[0, 0], n_hidden,
                 1, &H_all[t + 1, 0, 0], n_hidden)
            for b in range(batch):
                if floating is float:
                    crnn_rnn_forward_row_f(&H_all[t + 1, b, 0], &b_ih[0], &b_hh[0],
                                           n_hidden, activation)
                else:
                    crnn_rnn_forward_row_d(&H_all[t + 1, b, 0], &b_ih[0], &b_hh[0],
                                           n_hidden, activation)


def backward(const floating[:, ::1] W_ih,     # IN (H, I)
             const floating[:, ::1] W_hh,     # IN (H, H)
             const floating[:, :, ::1] X,     # IN (T, B, I)
             const floating[:, :, ::1] H_all, # IN (T + 1, B, H) from forward
             const floating[:, :, ::1] dH,    # IN (T, B, H): dL/dh_t from above
             const floating[:, ::1] dh_n,     # IN (B, H): dL/dh_T from the final state
             floating[:, :, ::1] delta,       # WORK (T, B, H): dL/d(pre-activation)
             floating[:, ::1] dW_ih,          # OUT (H, I)
             floating[:, ::1] dW_hh,          # OUT (H, H)
             floating[::1] db_ih,             # OUT (H,)
             floating[::1] db_hh,             # OUT (H,)
             floating[:, :, ::1] dX,          # OUT (T, B, I), or shape (0, 0, 0) to skip
             floating[:, ::1] dh_0,           # OUT (B, H)
             int activation):
    cdef:
        Py_ssize_t n_steps = X.shape[0]
        Py_ssize_t batch = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = W_hh.shape[0]
        Py_ssize_t n_rows = n_steps * batch
        Py_ssize_t t, b, j
    with nogil:
        # dh_0 doubles as the carry dL/dh_t flowing back through W_hh.
        for b in range(batch):
            for j in range(n_hidden):
                dh_0[b, j] = dh_n[b, j]
        for t in range(n_steps - 1, -1, -1):
            for b in range(batch):
                _delta(&delta[t, b, 0], &dH[t, b, 0], &dh_0[b, 0], &H_all[t + 1, b, 0],
                       n_hidden, activation)
            gemm(NoTrans, NoTrans, batch, n_hidden, n_hidden,
                 1, &delta[t, 0, 0], n_hidden, &W_hh[0, 0], n_hidden,
                 0, &dh_0[0, 0], n_hidden)

        # Weight gradients over all steps at once; h_{t-1} is H_all[0:T].
        gemm(Trans, NoTrans, n_hidden, n_hidden, n_rows,
             1, &delta[0, 0, 0], n_hidden, &H_all[0, 0, 0], n_hidden,
             0, &dW_hh[0, 0], n_hidden)
        gemm(Trans, NoTrans, n_hidden, n_in, n_rows,
             1, &delta[0, 0, 0], n_hidden, &X[0, 0, 0], n_in,
             0, &dW_ih[0, 0], n_in)
        column_sums(&delta[0, 0, 0], n_rows, n_hidden, n_hidden, &db_ih[0])
        for j in range(n_hidden):
            db_hh[j] = db_ih[j]
        if dX.shape[0] > 0:
            gemm(NoTrans, NoTrans, n_rows, n_in, n_hidden,
                 1, &delta[0, 0, 0], n_hidden, &W_ih[0, 0], n_in,
                 0, &dX[0, 0, 0], n_in)


def infer(const floating[:, ::1] W_cat,      # IN (H, I + H): [W_ih | W_hh]
          const floating[::1] bias,          # IN (H,): b_ih + b_hh
          const floating[:, :, ::1] X,       # IN (B, T, I), batch-first
          floating[:, ::1] xh,               # IN/OUT (B, I + H): xh[:, I:] = h_0 -> h_T
          floating[:, ::1] z,                # WORK (B, H)
          floating[:, :, ::1] H_seq,         # OUT (B, T, H) h_t, or shape (0, 0, 0) to skip
          int activation):
    cdef:
        Py_ssize_t batch = X.shape[0]
        Py_ssize_t n_steps = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = z.shape[1]
        Py_ssize_t n_cat = n_in + n_hidden
        bint keep = H_seq.shape[0] > 0
        Py_ssize_t t, b
    with nogil:
        for t in range(n_steps):
            for b in range(batch):
                memcpy(&xh[b, 0], &X[b, t, 0], n_in * sizeof(floating))
            gemm(NoTrans, Trans, batch, n_hidden, n_cat,
                 1, &xh[0, 0], n_cat, &W_cat[0, 0], n_cat,
                 0, &z[0, 0], n_hidden)
            for b in range(batch):
                if floating is float:
                    crnn_rnn_infer_row_f(&z[b, 0], &bias[0], &xh[b, n_in], n_hidden,
                                         activation)
                else:
                    crnn_rnn_infer_row_d(&z[b, 0], &bias[0], &xh[b, n_in], n_hidden,
                                         activation)
                if keep:
                    memcpy(&H_seq[b, t, 0], &xh[b, n_in], n_hidden * sizeof(floating))
