"""GRU layer: forward and BPTT backward over a batch.

Gate rows of W_ih, W_hh, b_ih, b_hh are stacked in PyTorch's order r, z, n
(SPEC section 3)::

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r * hn),   hn = W_hn h_{t-1} + b_hn
    h_t = (1 - z) * n + z * h_{t-1}

Layout: time-major X (T, B, I); ``H_all`` (T + 1, B, H) holds h_0 in
``H_all[0]`` (written by the caller) and h_t in ``H_all[t]``.

Cost structure:
- forward: one GEMM (T*B x I) @ W_ih^T writes the input projection of all
  three gates at every step into ``gates`` (T, B, 3H); per step one GEMM
  h_{t-1} @ W_hh^T fills the (B, 3H) scratch ``hh``, kept apart from the
  input projection because r multiplies only the recurrent part of the n
  block; one elementwise sweep then forms r, z, hn, n and h_t;
- backward: per step one elementwise sweep and one GEMM for the dh_{t-1}
  carry, then weight gradients and dX as GEMMs over all T*B rows after the
  loop and bias gradients as column sums of the deltas.

The forward sweep over one row is crnn_gru_forward_row in _gate_rows.h
(SSE2 and AVX2 clones, chosen at run time), and so is the backward sweep,
crnn_gru_backward_row.

The n block has two different pre-activation deltas: dL/d(W_in x + b_in) is
dn_pre = dL/dn * (1 - n^2) but dL/d(W_hn h + b_hn) is dn_pre * r. The delta
workspace (T, B, 4H) therefore holds the columns
``[dr_pre, dz_pre, dn_pre * r, dn_pre]``: columns 0:3H are the
recurrent-side deltas in W_hh's row order (one GEMM per step for dh_{t-1},
one for dW_hh), and columns 0:2H plus 3H:4H are the input-side deltas (two
GEMMs each for dW_ih and dX, outside the loop). This costs 4H per row
instead of the 6H of two separate (T, B, 3H) buffers.

Inference (``infer``) keeps nothing for backward and holds one step's
state: per step one GEMM x_t @ W_ih^T and one h_{t-1} @ W_hh^T into (B, 3H)
scratch rows, and h is updated in place. X is read batch-first (B, T, I):
the rows x_t of X[:, t] are T * I apart, which BLAS takes as the leading
dimension. (The r * (W_hn h) term keeps GRU from sharing LSTM's single
[x, h] GEMM without padding W_cat with zero blocks, a third more flops.
Projecting the inputs of several steps in one GEMM, as the forward pass
does, measured no faster: 7.26 ms per step, 7.34 ms in blocks of 4 steps,
9.75 ms for all steps at once, single-threaded on a W1-sized chunk of 1024
sequences.)

Cache (what backward reads): ``H_all``, the post-activation gates r, z, n
(T, B, 3H) and ``hn`` = W_hn h_{t-1} + b_hn (T, B, H). The caller allocates
every output and workspace and validates shapes; nothing inside the nogil
sections touches a Python object.
"""
from cython cimport floating
from libc.string cimport memcpy

from crnn._blas cimport gemm, NoTrans, Trans
from crnn._gate_rows cimport (column_sums,
                              crnn_gru_backward_row_d, crnn_gru_backward_row_f,
                              crnn_gru_forward_row_d, crnn_gru_forward_row_f,
                              crnn_gru_infer_row_d, crnn_gru_infer_row_f)


def forward(const floating[:, ::1] W_ih,     # IN (3H, I)
            const floating[:, ::1] W_hh,     # IN (3H, H)
            const floating[::1] b_ih,        # IN (3H,)
            const floating[::1] b_hh,        # IN (3H,)
            const floating[:, :, ::1] X,     # IN (T, B, I)
            floating[:, :, ::1] H_all,       # IN/OUT (T + 1, B, H); H_all[0] = h_0
            floating[:, :, ::1] gates,       # OUT (T, B, 3H): r, z, n after activation
            floating[:, :, ::1] hn,          # OUT (T, B, H): W_hn h_{t-1} + b_hn
            floating[:, ::1] hh):            # WORK (B, 3H): h_{t-1} @ W_hh^T
    cdef:
        Py_ssize_t n_steps = X.shape[0]
        Py_ssize_t batch = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = W_hh.shape[1]
        Py_ssize_t H2 = 2 * n_hidden
        Py_ssize_t n_gates = 3 * n_hidden
        Py_ssize_t t, b
    with nogil:
        # Input projection of every gate at every step: gates = X @ W_ih^T.
        gemm(NoTrans, Trans, n_steps * batch, n_gates, n_in,
             1, &X[0, 0, 0], n_in, &W_ih[0, 0], n_in,
             0, &gates[0, 0, 0], n_gates)
        for t in range(n_steps):
            gemm(NoTrans, Trans, batch, n_gates, n_hidden,
                 1, &H_all[t, 0, 0], n_hidden, &W_hh[0, 0], n_hidden,
                 0, &hh[0, 0], n_gates)
            for b in range(batch):
                if floating is float:
                    crnn_gru_forward_row_f(&gates[t, b, 0], &hh[b, 0], &b_ih[0], &b_hh[0],
                                           &hn[t, b, 0], &H_all[t, b, 0],
                                           &H_all[t + 1, b, 0], n_hidden)
                else:
                    crnn_gru_forward_row_d(&gates[t, b, 0], &hh[b, 0], &b_ih[0], &b_hh[0],
                                           &hn[t, b, 0], &H_all[t, b, 0],
                                           &H_all[t + 1, b, 0], n_hidden)


def backward(const floating[:, ::1] W_ih,      # IN (3H, I)
             const floating[:, ::1] W_hh,      # IN (3H, H)
             const floating[:, :, ::1] X,      # IN (T, B, I)
             const floating[:, :, ::1] H_all,  # IN (T + 1, B, H) from forward
             const floating[:, :, ::1] gates,  # IN (T, B, 3H) from forward
             const floating[:, :, ::1] hn,     # IN (T, B, H) from forward
             const floating[:, :, ::1] dH,     # IN (T, B, H): dL/dh_t from above
             const floating[:, ::1] dh_n,      # IN (B, H): dL/dh_T from the final state
             floating[:, :, ::1] delta,        # WORK (T, B, 4H): see the module docstring
             floating[:, ::1] dW_ih,           # OUT (3H, I)
             floating[:, ::1] dW_hh,           # OUT (3H, H)
             floating[::1] db_ih,              # OUT (3H,)
             floating[::1] db_hh,              # OUT (3H,)
             floating[:, :, ::1] dX,           # OUT (T, B, I), or shape (0, 0, 0) to skip
             floating[:, ::1] dh_0):           # OUT (B, H)
    cdef:
        Py_ssize_t n_steps = X.shape[0]
        Py_ssize_t batch = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = W_hh.shape[1]
        Py_ssize_t H2 = 2 * n_hidden
        Py_ssize_t n_gates = 3 * n_hidden
        Py_ssize_t n_cols = 4 * n_hidden
        Py_ssize_t n_rows = n_steps * batch
        Py_ssize_t t, b, j
    with nogil:
        # dh_0 doubles as the carry dL/dh_t flowing back in time.
        for b in range(batch):
            for j in range(n_hidden):
                dh_0[b, j] = dh_n[b, j]
        for t in range(n_steps - 1, -1, -1):
            for b in range(batch):
                if floating is float:
                    crnn_gru_backward_row_f(&gates[t, b, 0], &hn[t, b, 0], &H_all[t, b, 0],
                                            &dH[t, b, 0], &dh_0[b, 0], &delta[t, b, 0],
                                            n_hidden)
                else:
                    crnn_gru_backward_row_d(&gates[t, b, 0], &hn[t, b, 0], &H_all[t, b, 0],
                                            &dH[t, b, 0], &dh_0[b, 0], &delta[t, b, 0],
                                            n_hidden)
            gemm(NoTrans, NoTrans, batch, n_hidden, n_gates,
                 1, &delta[t, 0, 0], n_cols, &W_hh[0, 0], n_hidden,
                 1, &dh_0[0, 0], n_hidden)

        # Recurrent side, columns 0:3H: h_{t-1} is H_all[0:T].
        gemm(Trans, NoTrans, n_gates, n_hidden, n_rows,
             1, &delta[0, 0, 0], n_cols, &H_all[0, 0, 0], n_hidden,
             0, &dW_hh[0, 0], n_hidden)
        # Input side, columns 0:2H (r, z) and 3H:4H (n).
        gemm(Trans, NoTrans, H2, n_in, n_rows,
             1, &delta[0, 0, 0], n_cols, &X[0, 0, 0], n_in,
             0, &dW_ih[0, 0], n_in)
        gemm(Trans, NoTrans, n_hidden, n_in, n_rows,
             1, &delta[0, 0, n_gates], n_cols, &X[0, 0, 0], n_in,
             0, &dW_ih[H2, 0], n_in)
        # b_hh from the recurrent-side columns 0:3H, b_in from column block 3H:4H;
        # b_ir and b_iz equal b_hr and b_hz.
        column_sums(&delta[0, 0, 0], n_rows, n_gates, n_cols, &db_hh[0])
        column_sums(&delta[0, 0, n_gates], n_rows, n_hidden, n_cols, &db_ih[H2])
        for j in range(H2):
            db_ih[j] = db_hh[j]
        if dX.shape[0] > 0:
            gemm(NoTrans, NoTrans, n_rows, n_in, H2,
                 1, &delta[0, 0, 0], n_cols, &W_ih[0, 0], n_in,
                 0, &dX[0, 0, 0], n_in)
            gemm(NoTrans, NoTrans, n_rows, n_in, n_hidden,
                 1, &delta[0, 0, n_gates], n_cols, &W_ih[H2, 0], n_in,
                 1, &dX[0, 0, 0], n_in)


def infer(const floating[:, ::1] W_ih,       # IN (3H, I)
          const floating[:, ::1] W_hh,       # IN (3H, H)
          const floating[::1] b_ih,          # IN (3H,)
          const floating[::1] b_hh,          # IN (3H,)
          const floating[:, :, ::1] X,       # IN (B, T, I), batch-first
          floating[:, ::1] h,                # IN/OUT (B, H): h_0 -> h_T
          floating[:, ::1] gx,               # WORK (B, 3H): x_t @ W_ih^T
          floating[:, ::1] hh,               # WORK (B, 3H): h_{t-1} @ W_hh^T
          floating[:, :, ::1] H_seq):        # OUT (B, T, H) h_t, or shape (0, 0, 0) to skip
    cdef:
        Py_ssize_t batch = X.shape[0]
        Py_ssize_t n_steps = X.shape[1]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = h.shape[1]
        Py_ssize_t n_gates = 3 * n_hidden
        bint keep = H_seq.shape[0] > 0
        Py_ssize_t t, b
    with nogil:
        for t in range(n_steps):
            # x_t of every sequence: rows of X[:, t] are n_steps * n_in apart
            gemm(NoTrans, Trans, batch, n_gates, n_in,
                 1, &X[0, t, 0], n_steps * n_in, &W_ih[0, 0], n_in,
                 0, &gx[0, 0], n_gates)
            gemm(NoTrans, Trans, batch, n_gates, n_hidden,
                 1, &h[0, 0], n_hidden, &W_hh[0, 0], n_hidden,
                 0, &hh[0, 0], n_gates)
            for b in range(batch):
                if floating is float:
                    crnn_gru_infer_row_f(&gx[b, 0], &hh[b, 0], &b_ih[0], &b_hh[0],
                                         &h[b, 0], n_hidden)
                else:
                    crnn_gru_infer_row_d(&gx[b, 0], &hh[b, 0], &b_ih[0], &b_hh[0],
                                         &h[b, 0], n_hidden)
                if keep:
                    memcpy(&H_seq[b, t, 0], &h[b, 0], n_hidden * sizeof(floating))
