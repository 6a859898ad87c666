"""LSTM layer: forward and BPTT backward over a batch.

Gate rows of W_ih, W_hh, b_ih, b_hh are stacked in PyTorch's order i, f, g, o
(SPEC section 3)::

    a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh                  (4H wide)
    i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Layout: time-major X (T, B, I). ``H_all`` and ``C_all`` (T + 1, B, H) hold
h_0 and c_0 in row 0 (written by the caller) and h_t, c_t in row t, so the
h_{t-1} that multiply the deltas in dW_hh are the contiguous block
``H_all[0:T]``.

Cost structure:
- forward: one GEMM (T*B x I) @ W_ih^T writes the input projection of all
  four gates at every step into ``gates`` (T, B, 4H); per step one GEMM
  h_{t-1} @ W_hh^T (B x 4H) is accumulated onto ``gates[t]``, then one
  elementwise sweep adds both biases, applies the gate nonlinearities in
  place and updates c and h;
- backward: per step one elementwise sweep turns dL/dh_t and dL/dc_t into
  the four pre-activation deltas (T, B, 4H) and one GEMM delta_t @ W_hh
  gives the dh_{t-1} carry; after the loop dW_ih, dW_hh and dX are one GEMM
  each over all T*B rows and the bias gradients are column sums of delta.

The forward sweep over one row (one sequence b at step t) is the C function
crnn_lstm_forward_row in _gate_rows.h, compiled for SSE2 and AVX2 with
run-time selection; so is the backward sweep, crnn_lstm_backward_row. Their
pointers are restrict-qualified: without that gcc vectorizes a loop only if
it can check every array written against every array read at run time (at
most 10 checks), and one loop over all of the LSTM's arrays needs about 50.

Inference (``infer``) keeps nothing for backward and holds only one step's
state: per step the rows [x_t, h_{t-1}] of the (B, I + H) buffer ``xh``
meet ``W_cat`` = [W_ih | W_hh] in one GEMM (K = I + H), and the row pass
writes h_t straight back into ``xh``. It reads X batch-first (B, T, I), the
layout users pass to predict, copying x_t row by row into ``xh``. Its
working set is O(B * 4H) instead of the forward pass's (T, B, 4H) gates
(210 MB for a 256-sequence chunk at W3 sizes); W3 lstm predict went from
1.96 to 1.50 s (benchmarks/NOTES.md).

Cache (what backward reads): ``H_all``, ``C_all``, the post-activation gates
i, f, g, o and ``tanh_c`` = tanh(c_t) (T, B, H), kept so that backward takes
no transcendental function. The caller allocates every output and
workspace and validates shapes; nothing inside the nogil sections touches a
Python object.
"""
from cython cimport floating
from libc.string cimport memcpy

from crnn._blas cimport gemm, NoTrans, Trans
from crnn._gate_rows cimport (column_sums,
                              crnn_lstm_backward_row_d, crnn_lstm_backward_row_f,
                              crnn_lstm_forward_row_d, crnn_lstm_forward_row_f,
                              crnn_lstm_infer_row_d, crnn_lstm_infer_row_f)


def forward(const floating[:, ::1] W_ih,     # IN (4H, I)
            const floating[:, ::1] W_hh,     # IN (4H, H)
            const floating[::1] b_ih,        # IN (4H,)
            const floating[::1] b_hh,        # IN (4H,)
            const floating[:, :, ::1] X,     # IN (T, B, I)
            floating[:, :, ::1] H_all,       # IN/OUT (T + 1, B, H); H_all[0] = h_0
            floating[:, :, ::1] C_all,       # IN/OUT (T + 1, B, H); C_all[0] = c_0
            floating[:, :, ::1] gates,       # OUT (T, B, 4H): i, f, g, o after activation
            floating[:, :, ::1] tanh_c):     # OUT (T, B, H): tanh(c_t)
    cdef:
        Py_ssize_t n_steps = X.shape[0]
        Py_ssize_t batch = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = W_hh.shape[1]
        Py_ssize_t n_gates = 4 * n_hidden
        Py_ssize_t t, b
    with nogil:
        # Input projection of every gate at every step: gates = X @ W_ih^T.
        gemm(NoTrans, Trans, n_steps * batch, n_gates, n_in,
             1, &X[0, 0, 0], n_in, &W_ih[0, 0], n_in,
             0, &gates[0, 0, 0], n_gates)
        for t in range(n_steps):
            gemm(NoTrans, Trans, batch, n_gates, n_hidden,
                 1, &H_all[t, 0, 0], n_hidden, &W_hh[0, 0], n_hidden,
                 1, &gates[t, 0, 0], n_gates)
            for b in range(batch):
                if floating is float:
                    crnn_lstm_forward_row_f(&gates[t, b, 0], &b_ih[0], &b_hh[0],
                                            &C_all[t, b, 0], &C_all[t + 1, b, 0],
                                            &H_all[t + 1, b, 0], &tanh_c[t, b, 0], n_hidden)
                else:
                    crnn_lstm_forward_row_d(&gates[t, b, 0], &b_ih[0], &b_hh[0],
                                            &C_all[t, b, 0], &C_all[t + 1, b, 0],
                                            &H_all[t + 1, b, 0], &tanh_c[t, b, 0], n_hidden)


def backward(const floating[:, ::1] W_ih,      # IN (4H, I)
             const floating[:, ::1] W_hh,      # IN (4H, H)
             const floating[:, :, ::1] X,      # IN (T, B, I)
             const floating[:, :, ::1] H_all,  # IN (T + 1, B, H) from forward
             const floating[:, :, ::1] C_all,  # IN (T + 1, B, H) from forward
             const floating[:, :, ::1] gates,  # IN (T, B, 4H) from forward
             const floating[:, :, ::1] tanh_c, # IN (T, B, H) from forward
             const floating[:, :, ::1] dH,     # IN (T, B, H): dL/dh_t from above
             const floating[:, ::1] dh_n,      # IN (B, H): dL/dh_T from the final state
             const floating[:, ::1] dc_n,      # IN (B, H): dL/dc_T from the final state
             floating[:, :, ::1] delta,        # WORK (T, B, 4H): dL/d(gate pre-activations)
             floating[:, ::1] dW_ih,           # OUT (4H, I)
             floating[:, ::1] dW_hh,           # OUT (4H, H)
             floating[::1] db_ih,              # OUT (4H,)
             floating[::1] db_hh,              # OUT (4H,)
             floating[:, :, ::1] dX,           # OUT (T, B, I), or shape (0, 0, 0) to skip
             floating[:, ::1] dh_0,            # OUT (B, H)
             floating[:, ::1] dc_0):           # OUT (B, H)
    cdef:
        Py_ssize_t n_steps = X.shape[0]
        Py_ssize_t batch = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = W_hh.shape[1]
        Py_ssize_t n_gates = 4 * n_hidden
        Py_ssize_t n_rows = n_steps * batch
        Py_ssize_t t, b, j
    with nogil:
        # dh_0 and dc_0 double as the carries dL/dh_t (through W_hh) and
        # dL/dc_t (through the forget gate) flowing back in time.
        for b in range(batch):
            for j in range(n_hidden):
                dh_0[b, j] = dh_n[b, j]
                dc_0[b, j] = dc_n[b, j]
        for t in range(n_steps - 1, -1, -1):
            for b in range(batch):
                if floating is float:
                    crnn_lstm_backward_row_f(&gates[t, b, 0], &tanh_c[t, b, 0], &C_all[t, b, 0],
                                             &dH[t, b, 0], &dh_0[b, 0], &dc_0[b, 0],
                                             &delta[t, b, 0], n_hidden)
                else:
                    crnn_lstm_backward_row_d(&gates[t, b, 0], &tanh_c[t, b, 0], &C_all[t, b, 0],
                                             &dH[t, b, 0], &dh_0[b, 0], &dc_0[b, 0],
                                             &delta[t, b, 0], n_hidden)
            gemm(NoTrans, NoTrans, batch, n_hidden, n_gates,
                 1, &delta[t, 0, 0], n_gates, &W_hh[0, 0], n_hidden,
                 0, &dh_0[0, 0], n_hidden)

        # Weight gradients over all steps at once; h_{t-1} is H_all[0:T].
        gemm(Trans, NoTrans, n_gates, n_hidden, n_rows,
             1, &delta[0, 0, 0], n_gates, &H_all[0, 0, 0], n_hidden,
             0, &dW_hh[0, 0], n_hidden)
        gemm(Trans, NoTrans, n_gates, n_in, n_rows,
             1, &delta[0, 0, 0], n_gates, &X[0, 0, 0], n_in,
             0, &dW_ih[0, 0], n_in)
        column_sums(&delta[0, 0, 0], n_rows, n_gates, n_gates, &db_ih[0])
        for j in range(n_gates):
            db_hh[j] = db_ih[j]
        if dX.shape[0] > 0:
            gemm(NoTrans, NoTrans, n_rows, n_in, n_gates,
                 1, &delta[0, 0, 0], n_gates, &W_ih[0, 0], n_in,
                 0, &dX[0, 0, 0], n_in)


def infer(const floating[:, ::1] W_cat,      # IN (4H, I + H): [W_ih | W_hh]
          const floating[::1] bias,          # IN (4H,): b_ih + b_hh
          const floating[:, :, ::1] X,       # IN (B, T, I), batch-first
          floating[:, ::1] xh,               # IN/OUT (B, I + H): xh[:, I:] = h_0 -> h_T
          floating[:, ::1] c,                # IN/OUT (B, H): c_0 -> c_T
          floating[:, ::1] gates,            # WORK (B, 4H)
          floating[:, :, ::1] H_seq):        # OUT (B, T, H) h_t, or shape (0, 0, 0) to skip
    cdef:
        Py_ssize_t batch = X.shape[0]
        Py_ssize_t n_steps = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = c.shape[1]
        Py_ssize_t n_gates = 4 * n_hidden
        Py_ssize_t n_cat = n_in + n_hidden
        bint keep = H_seq.shape[0] > 0
        Py_ssize_t t, b
    with nogil:
        for t in range(n_steps):
            for b in range(batch):
                memcpy(&xh[b, 0], &X[b, t, 0], n_in * sizeof(floating))
            gemm(NoTrans, Trans, batch, n_gates, n_cat,
                 1, &xh[0, 0], n_cat, &W_cat[0, 0], n_cat,
                 0, &gates[0, 0], n_gates)
            for b in range(batch):
                if floating is float:
                    crnn_lstm_infer_row_f(&gates[b, 0], &bias[0], &c[b, 0], &xh[b, n_in],
                                          n_hidden)
                else:
                    crnn_lstm_infer_row_d(&gates[b, 0], &bias[0], &c[b, 0], &xh[b, n_in],
                                          n_hidden)
                if keep:
                    memcpy(&H_seq[b, t, 0], &xh[b, n_in], n_hidden * sizeof(floating))
