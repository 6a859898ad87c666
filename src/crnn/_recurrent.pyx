"""The timestep driver: one recurrent layer, one direction, over a batch.

Every cell (vanilla, LSTM, GRU) runs through the three passes here --
``forward`` and ``backward`` for training, ``infer`` for predict -- and
contributes only its gate count, its row passes (C, in _gate_rows.h, reached
through _rows.pxd) and its caches. Lengths, direction, initial and final
states are parameters of the passes, so each feature is written once for
all cells.

Layout (training). A minibatch of B sequences is sorted by length, longest
first, and *packed* time-major like PyTorch's PackedSequence: step t holds
the ``batch_sizes[t]`` sequences still running at t (always a prefix
0..bs_t - 1 of the sorted rows), and the rows of every step are
concatenated, so ``X`` is (n_rows, I) with n_rows = sum of the lengths. An
equal-length batch packs to exactly the time-major (T, B, I) block. Every
per-row buffer (gates, states, deltas, outputs) is packed the same way, so

- the input projection is a GEMM over the valid rows only (padding costs
  nothing), one per block of rows a few steps ahead of the recurrence, and
  so are the weight gradients, dX and the bias sums of each block of rows
  backward hands over;
- the per-step GEMM of step t reads the contiguous block ``H_prev`` of
  its rows: the state that entered each row's step, copied from the
  previous step's output rows (the running sequences are a prefix of
  them) or, for a sequence starting at this step, from its initial state
  in ``h_cur`` (B, H). ``H_prev`` is also the operand of dW_hh and of the
  GRU's backward row.

That makes the reverse direction the same loop run from the last step to
the first: a sequence of length L enters the reverse pass at step L - 1
with its initial state read from ``h_cur``. The row passes write h_t once,
into its output row; a sequence's final state is copied into ``h_cur`` at
its last step, so after the loop ``h_cur`` holds each sequence's final
state: the forward state at its own last step, the reverse state at step 0
(PyTorch's h_n). The LSTM's c_t stays in the running ``c_cur``.

The layer's output rows go to columns ``out_col:out_col + H`` of ``H_out``,
so the two directions of a bidirectional layer write the two halves of one
(n_rows, 2H) buffer without a concatenation copy.

Cost structure per layer and direction: forward = an input-projection
GEMM per block of rows (``ROW_BLOCK_BYTES`` of gates, projected just before
the steps reach them, so that each step adds its recurrent product to rows
still in cache) + per step one (bs_t x H) @ (H x G*H) GEMM and one row pass
per sequence; backward = per step one row pass per sequence and one carry GEMM
delta_t @ W_hh, and, each time the finished steps fill a block of rows
(``ROW_BLOCK_BYTES`` of delta), dW_hh, dW_ih and dX of those rows as GEMMs
and the bias gradients as column sums, while the block is in cache (a
pass's delta outgrows it: 6.5 MB at W4's LSTM). The vanilla cell and the
LSTM accumulate the recurrent projection onto the input projection (beta =
1); the GRU keeps it apart in ``hh``, because r multiplies only the
recurrent part of its n block. The per-step products (and every product
of ``infer``, ``forecast`` and ``decode``) run on weights packed once per
call (_packed_gemm.inc): BLAS would repack W_hh at every step. The
projections over all rows (X @ W_ih^T, delta @ W_ih) are packed too.
Training's step products with a short inner dimension (``packed_min_k``)
stay BLAS, and the weight gradients go to crnn_gemm_atb or BLAS
(``weight_gradient``); inference packs every product (its step fuses the
gate pass in).

GRU deltas: the n block has two pre-activation deltas, dn_pre for the input
side and dn_pre * r for the recurrent side, so the GRU's delta rows are 4H
wide, [dr, dz, dn * r, dn]: columns 0:3H are the recurrent-side deltas in
W_hh's row order and columns 0:2H plus 3H:4H the input-side ones. The
other cells' delta rows are G*H wide and serve both sides.

Truncated BPTT (``truncate`` = k > 0): each sequence is cut into windows of
k steps counted from its own first step (in the direction of the pass);
the state is carried forward across windows, but no gradient crosses a
window boundary (PyTorch's detach() of the state every k steps, with
k1 = k2 = k). The gradient reaches the initial state from the first window.

Layer normalisation (``ln_*`` arguments non-empty; SPEC 10, Ba et al.
2016). The input projection of each row is normalised over its G*H gate
units (in the step loop, just before the row's pass), with gain/bias
``ln_ih_w``/``ln_ih_b``; the recurrent projection of each step goes to
``hh`` (as the GRU's always does), is normalised with
``ln_hh_w``/``ln_hh_b`` and, for the vanilla cell and the LSTM, added to
the gate rows in the same pass; the unchanged row passes follow
(so b_ih and b_hh are added after the normalisation). The LSTM also
normalises c_t over its H units before the tanh of h_t = o * tanh(LN(c_t));
the carried c_t stays raw. The row passes are reused unchanged: forward
overwrites tanh(c_t) and h_t after the LSTM row, backward folds LN_c's
backward into dc before the LSTM row (see ``backward``). Caches: the
normalised rows ``ln_xhat_ih``, ``ln_xhat_hh`` (n_rows, G*H),
``ln_chat`` (n_rows, H) and the inverse standard deviations ``ln_rstd``
(n_rows, 3: input, recurrent, c). Backward keeps the gradient of the
recurrent projection before normalisation in place of the recurrent-side
deltas (the operand of the carry GEMM and of dW_hh) and that of the input
side in ``delta_ih``, both computed per step while the rows are in cache.
With the empty arrays the passes do exactly what they did without it.

Inference (``infer``) keeps one step of state and nothing for backward. It
reads X batch-first (N, T, I), the layout users pass to predict. Each step
is one call of the fused step of _infer_step.inc (``infer_step``): the
product [x_t, h_{t-1}] W_cat^T on W_cat = [W_ih | W_hh] packed once per
call (``pack_infer``), reading x_t in place from X when every sequence has
all T steps (rows in X's order) and from the first I columns of the row
buffer ``xh`` (B, I + H) otherwise (rows sorted by length, through
``order``: x_t is gathered there per step); h_{t-1} is read from, and h_t
written to, ``xh``'s last H columns. The gate pass follows block by block
while the block's pre-activations are in L1. Biases are summed in
advance; the GRU's r and z take one product over both halves (and the
summed bias), and n's input and recurrent parts stay apart with their own
biases (r multiplies only the latter).

The caller sorts, packs, allocates every output and workspace and
validates shapes; nothing inside the nogil sections touches a Python
object.
"""
from cython cimport floating
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

from crnn cimport _cells
from crnn._blas cimport gemm, NoTrans, Trans
from crnn._packed cimport (infer_step, infer_width, pack_infer, pack_operand, product,
                           weight_gradient, weight_gradients2)
from crnn._fpenv cimport (CRNN_FLUSH_BITS, CRNN_FLUSH_MODE, crnn_fp_enter, crnn_fp_exit,
                          crnn_fp_get, crnn_fp_set, crnn_fpstate)
from crnn._cells cimport CELL_GRU, CELL_LSTM, CELL_RNN
from crnn._gate_rows cimport column_sums_add
from crnn._rows cimport (gru_backward_row, gru_forward_row,
                         ln_row, ln_row_backward, lstm_backward_row, lstm_forward_row,
                         lstm_ln_backward_row, lstm_ln_output_row, rnn_backward_row,
                         rnn_forward_row)

import os

from crnn import _spec

# Flush subnormals to zero inside the passes (see _fpenv.h); the
# environment variable CRNN_FLUSH_DENORMALS=0 keeps the caller's mode.
cdef int _flush = os.environ.get("CRNN_FLUSH_DENORMALS", "1") != "0"


cdef int flush_denormals() noexcept nogil:
    """Whether the passes flush subnormals to zero (crnn_fp_enter's argument)."""
    return _flush


def set_flush_denormals(bint enabled):
    """Switch flush-to-zero inside this module's passes (tests compare both)."""
    global _flush
    _flush = enabled


def flush_denormals_mode():
    """How subnormals are flushed on this platform ("" if not at all)."""
    return CRNN_FLUSH_MODE.decode() if CRNN_FLUSH_BITS else ""


def fp_control_state():
    """The calling thread's floating-point control word (MXCSR / FPCR)."""
    return crnn_fp_get()


def set_fp_control_state(unsigned long state):
    """Set the calling thread's floating-point control word (for tests)."""
    crnn_fp_set(state)

# Training's products with a shorter inner dimension K stay BLAS
# (pack_operand's min_k; inference's fused step packs every product, since
# the gate pass it saves outweighs this): there the packed micro-tile's
# stores of C outweigh its K loop, and OpenBLAS's small-matrix
# kernels are faster (K = 8: 0.71-0.81x of OpenBLAS; K >= 32: 0.96-1.7x;
# benchmarks/NOTES.md). A variable, so tests can run every product packed.
cdef Py_ssize_t _packed_min_k = 16


cdef enum:
    # The weight gradients take crnn_gemm_atb at every width of B (columns of
    # X or H_prev; weight_gradient's min_cols). W1's dW_ih (I = 8) had stayed
    # on BLAS under the step products' K >= 16 rule, and OpenBLAS copies all
    # of delta for those 8 columns (sgemm_otcopy, 6.6% of a W1 lstm epoch on
    # a Zen 3 core): 30 GF/s against crnn_gemm_atb's 66
    # (benchmarks/weight_gradient_probe.c).
    ATB_MIN_COLS = 1


def packed_min_k():
    """Shortest inner dimension whose products run on packed weights."""
    return _packed_min_k


def set_packed_min_k(Py_ssize_t k):
    """Set :func:`packed_min_k` (tests run both paths on small models)."""
    global _packed_min_k
    _packed_min_k = k


cdef enum:
    # Bytes per block of rows of forward's input projection (gates) and of
    # backward's input side (delta): measured on the dW_hh of an H = 128
    # LSTM (delta rows 2 KiB), crnn_gemm_atb ran 112 GF/s on blocks of
    # 256-512 rows in cache and 84 on all 3200 rows of a part after they had
    # left it (benchmarks/NOTES.md)
    ROW_BLOCK_BYTES = 512 * 1024


# rows per block (set_block_rows); 0: as many as fill ROW_BLOCK_BYTES
cdef Py_ssize_t _block_rows = 0


cdef inline Py_ssize_t _rows_per_block(Py_ssize_t row_bytes) noexcept nogil:
    """Rows per block of a pass's buffer whose rows are ``row_bytes`` long."""
    cdef Py_ssize_t rows = _block_rows if _block_rows > 0 else ROW_BLOCK_BYTES // row_bytes
    return rows if rows > 0 else 1


def block_rows():
    """Rows per block of forward's input projection and backward's weight
    gradients (0: chosen by size)."""
    return _block_rows


def set_block_rows(Py_ssize_t rows):
    """Set :func:`block_rows` (tests cut a small model's passes into many
    blocks; 0 restores the choice by size)."""
    global _block_rows
    _block_rows = rows


# The kernels' numbering must be the one crnn._spec defines.
assert [_spec.cell_code(c) for c in ("rnn", "lstm", "gru")] == \
    [_cells.CELL_RNN, _cells.CELL_LSTM, _cells.CELL_GRU]
assert [_spec.activation_code(a) for a in ("tanh", "relu", "sigmoid")] == \
    [_cells.ACT_TANH, _cells.ACT_RELU, _cells.ACT_SIGMOID]


cdef void _ln_rows(floating* A, Py_ssize_t lda, Py_ssize_t n_rows, Py_ssize_t width,
                   const floating* gain, const floating* bias, floating* xhat,
                   Py_ssize_t ldx, floating* rstd, Py_ssize_t ld_rstd, floating* dst,
                   Py_ssize_t ld_dst) noexcept nogil:
    """Normalise each of ``n_rows`` rows of A (``ln_row``: gain * xhat +
    bias) in place, or added to the rows of ``dst`` when it is not NULL,
    keeping xhat and rstd for the backward pass."""
    cdef Py_ssize_t r
    for r in range(n_rows):
        ln_row(A + r * lda, gain, bias, xhat + r * ldx, rstd + r * ld_rstd,
               dst + r * ld_dst if dst != NULL else NULL, width)


cdef inline const floating* _cptr2(const floating[:, ::1] a) noexcept nogil:
    """The data of a (possibly empty) C-contiguous matrix; NULL when empty."""
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef inline floating* _ptr2(floating[:, ::1] a) noexcept nogil:
    return &a[0, 0] if a.shape[0] > 0 and a.shape[1] > 0 else NULL


cdef inline const floating* _cptr1(const floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


cdef inline floating* _ptr1(floating[::1] a) noexcept nogil:
    return &a[0] if a.shape[0] > 0 else NULL


def forward(int cell, int activation,
            const floating[:, ::1] W_ih,          # IN (G*H, I)
            const floating[:, ::1] W_hh,          # IN (G*H, H)
            const floating[::1] b_ih,             # IN (G*H,)
            const floating[::1] b_hh,             # IN (G*H,)
            const floating[:, ::1] X,             # IN (n_rows, I), packed
            const Py_ssize_t[::1] batch_sizes,    # IN (T,), non-increasing
            bint reverse,
            floating[:, ::1] h_cur,               # IN/OUT (B, H): h_0 -> h_n
            floating[:, ::1] c_cur,               # IN/OUT (B, H): c_0 -> c_n (LSTM; else unused)
            floating[:, ::1] gates,               # OUT (n_rows, G*H): activated gates (rnn: h_t)
            floating[:, ::1] H_prev,              # OUT (n_rows, H): state entering the row's step
            floating[:, ::1] C_prev,              # OUT (n_rows, H): LSTM c entering the step
            floating[:, ::1] extra,               # OUT (n_rows, H): LSTM tanh(c_t), GRU W_hn h + b_hn
            floating[:, ::1] hh,                  # WORK (B, G*H): GRU recurrent projection
            floating[:, ::1] H_out,               # OUT (n_rows, W): h_t in columns out_col:out_col+H
            Py_ssize_t out_col,
            # layer normalisation (all empty: none)
            const floating[::1] ln_ih_w,          # IN (G*H,) gain of the input projection
            const floating[::1] ln_ih_b,          # IN (G*H,) its bias
            const floating[::1] ln_hh_w,          # IN (G*H,) gain of the recurrent projection
            const floating[::1] ln_hh_b,          # IN (G*H,)
            const floating[::1] ln_c_w,           # IN (H,) LSTM: gain of c_t
            const floating[::1] ln_c_b,           # IN (H,)
            floating[:, ::1] ln_xhat_ih,          # OUT (n_rows, G*H)
            floating[:, ::1] ln_xhat_hh,          # OUT (n_rows, G*H)
            floating[:, ::1] ln_chat,             # OUT (n_rows, H) (LSTM)
            floating[:, ::1] ln_rstd):            # OUT (n_rows, 3)
    """One direction of one layer over packed rows (the pass of
    :func:`forward_pass`, on arrays)."""
    cdef int status
    if X.shape[0] == 0:
        return
    with nogil:
        status = forward_pass(
            cell, activation, batch_sizes.shape[0], X.shape[0], X.shape[1], W_hh.shape[1],
            &W_ih[0, 0], &W_hh[0, 0], &b_ih[0], &b_hh[0], &X[0, 0], &batch_sizes[0], reverse,
            &h_cur[0, 0], _ptr2(c_cur), &gates[0, 0], &H_prev[0, 0], _ptr2(C_prev),
            _ptr2(extra), _ptr2(hh), &H_out[0, 0], H_out.shape[1], out_col,
            _cptr1(ln_ih_w), _cptr1(ln_ih_b), _cptr1(ln_hh_w), _cptr1(ln_hh_b), _cptr1(ln_c_w),
            _cptr1(ln_c_b), _ptr2(ln_xhat_ih), _ptr2(ln_xhat_hh), _ptr2(ln_chat),
            _ptr2(ln_rstd))
    if status < 0:
        raise MemoryError()


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
                      floating* ln_rstd) noexcept nogil:
    """One direction of one layer forward over ``n_rows`` packed rows (the
    arrays of :func:`forward`, C-contiguous, as pointers: H_out's rows are
    ``ld_out`` apart; the LSTM's c_cur and C_prev, the extra row, hh and
    the layer-normalisation arrays NULL when the cell or the layer has none,
    ``ln_ih_w`` NULL meaning no normalisation). Runs without the GIL: the
    compiled minibatch (``_minibatch.pyx``) calls it as ``forward`` does.
    Returns 0, or -1 when out of memory (nothing written)."""
    cdef:
        crnn_fpstate fp
        bint ln = ln_ih_w != NULL
        bint separate_hh = ln or cell == CELL_GRU
        Py_ssize_t n_gates = _n_gates(cell, n_hidden)
        Py_ssize_t row_bytes = n_hidden * sizeof(floating)
        bint contiguous_out = ld_out == n_hidden and out_col == 0
        Py_ssize_t s, t, b, r, bs, r0
        # the previous step's first row, batch size (0: none yet), and the
        # rows it carries into this step
        Py_ssize_t prev_r0 = 0, bs_prev = 0, n_carry, bs_next
        # The input projection goes a block of rows (ROW_BLOCK_BYTES of
        # gates) ahead of the steps, so that each step's rows are still in
        # cache when its product adds to them: rows [proj_lo, proj_hi) are
        # projected.
        Py_ssize_t proj_rows = _rows_per_block(n_gates * sizeof(floating))
        Py_ssize_t proj_lo = n_rows if reverse else 0
        Py_ssize_t proj_hi = proj_lo
        Py_ssize_t edge
        # W_hh^T packed once for all the steps' products (_packed_gemm.inc)
        floating* packed_hh
        floating* packed_ih = NULL
    if pack_operand(W_hh, n_hidden, n_hidden, n_gates, True, _packed_min_k, &packed_hh) < 0:
        return -1
    # W_ih^T packed for the input projection at every K: over a pass's rows
    # the packing is paid once, and BLAS, which packs X as well, ran 7-35%
    # slower at the workloads' shapes (benchmarks/NOTES.md)
    if pack_operand(W_ih, n_in, n_in, n_gates, True, 1, &packed_ih) < 0:
        free(packed_hh)
        return -1
    fp = crnn_fp_enter(_flush)
    r0 = n_rows if reverse else 0
    for s in range(n_steps):
        t = n_steps - 1 - s if reverse else s
        bs = batch_sizes[t]
        if reverse:
            r0 -= bs
        # gates = X @ W_ih^T for the next block of rows once the
        # step's rows are not all projected
        if reverse and r0 < proj_lo:
            edge = r0 if r0 < proj_lo - proj_rows else proj_lo - proj_rows
            edge = edge if edge > 0 else 0
            product(proj_lo - edge, n_gates, n_in, X + edge * n_in, n_in, W_ih, n_in,
                    True, packed_ih, gates + edge * n_gates, n_gates, False)
            proj_lo = edge
        elif not reverse and r0 + bs > proj_hi:
            edge = r0 + bs if r0 + bs > proj_hi + proj_rows else proj_hi + proj_rows
            edge = edge if edge < n_rows else n_rows
            product(edge - proj_hi, n_gates, n_in, X + proj_hi * n_in, n_in, W_ih,
                    n_in, True, packed_ih, gates + proj_hi * n_gates, n_gates, False)
            proj_hi = edge
        # H_prev holds the state entering each row's step: the previous
        # step's output for the sequences it ran, the initial state in
        # h_cur for those starting here (the reverse direction's longer
        # ones). The step's GEMM reads it there, so h_t is written
        # once, into H_out, and not also copied through h_cur.
        n_carry = bs if bs < bs_prev else bs_prev
        if n_carry > 0 and contiguous_out:
            memcpy(H_prev + r0 * n_hidden, H_out + prev_r0 * ld_out, n_carry * row_bytes)
        else:
            for b in range(n_carry):
                memcpy(H_prev + (r0 + b) * n_hidden, H_out + (prev_r0 + b) * ld_out + out_col,
                       row_bytes)
        if bs > n_carry:
            memcpy(H_prev + (r0 + n_carry) * n_hidden, h_cur + n_carry * n_hidden,
                   (bs - n_carry) * row_bytes)
        if cell == CELL_LSTM:
            memcpy(C_prev + r0 * n_hidden, c_cur, bs * row_bytes)
        product(bs, n_gates, n_hidden, H_prev + r0 * n_hidden, n_hidden, W_hh,
                n_hidden, True, packed_hh,
                hh if separate_hh else gates + r0 * n_gates, n_gates,
                not separate_hh)
        if ln:
            # the input projection of this step's rows (normalised here,
            # not in a pass over all rows after the GEMM: the rows are
            # then in cache for the row pass)
            _ln_rows(gates + r0 * n_gates, n_gates, bs, n_gates, ln_ih_w, ln_ih_b,
                     ln_xhat_ih + r0 * n_gates, n_gates, ln_rstd + r0 * 3, 3, NULL, 0)
            # the GRU's row pass reads hh; the other cells' gate rows
            # take the normalised projection added in the same pass
            _ln_rows(hh, n_gates, bs, n_gates, ln_hh_w, ln_hh_b,
                     ln_xhat_hh + r0 * n_gates, n_gates, ln_rstd + r0 * 3 + 1, 3,
                     NULL if cell == CELL_GRU else gates + r0 * n_gates, n_gates)
        for b in range(bs):
            r = r0 + b
            if cell == CELL_RNN:
                rnn_forward_row(gates + r * n_gates, b_ih, b_hh, n_hidden, activation)
                if not contiguous_out:
                    memcpy(H_out + r * ld_out + out_col, gates + r * n_gates, row_bytes)
            elif cell == CELL_LSTM:
                lstm_forward_row(gates + r * n_gates, b_ih, b_hh, C_prev + r * n_hidden,
                                 c_cur + b * n_hidden, H_out + r * ld_out + out_col,
                                 extra + r * n_hidden, n_hidden)
                if ln:
                    # h_t = o * tanh(LN(c_t)): redo the row's last two
                    # outputs from the normalised c_t
                    lstm_ln_output_row(c_cur + b * n_hidden, gates + r * n_gates + 3 * n_hidden,
                                       ln_c_w, ln_c_b, ln_chat + r * n_hidden,
                                       ln_rstd + r * 3 + 2, extra + r * n_hidden,
                                       H_out + r * ld_out + out_col, n_hidden)
            else:
                gru_forward_row(gates + r * n_gates, hh + b * n_gates, b_ih, b_hh,
                                extra + r * n_hidden, H_prev + r * n_hidden,
                                H_out + r * ld_out + out_col, n_hidden)
        if cell == CELL_RNN and contiguous_out:
            # the step's rows in one copy (per row, the call costs
            # more than the copy at small H)
            memcpy(H_out + r0 * n_hidden, gates + r0 * n_gates, bs * row_bytes)
        # the final states of the sequences whose last step this is
        if s + 1 < n_steps:
            bs_next = batch_sizes[t - 1 if reverse else t + 1]
        else:
            bs_next = 0
        for b in range(bs_next if bs_next < bs else bs, bs):
            memcpy(h_cur + b * n_hidden, H_out + (r0 + b) * ld_out + out_col, row_bytes)
        prev_r0, bs_prev = r0, bs
        if not reverse:
            r0 += bs
    crnn_fp_exit(fp)
    free(packed_hh)
    free(packed_ih)
    return 0


cdef void _input_side(int cell, bint ln, Py_ssize_t lo, Py_ssize_t n, bint first,
                      Py_ssize_t n_in, Py_ssize_t n_hidden, Py_ssize_t n_gates,
                      Py_ssize_t n_delta, const floating* delta, const floating* delta_ih,
                      const floating* H_prev, const floating* X, const floating* W_ih,
                      const floating* packed_ih, const floating* packed_ih_n,
                      floating* dW_hh, floating* dW_ih, floating* db_hh, floating* db_ih,
                      floating* dX, bint dX_accumulate) noexcept nogil:
    """backward's products over rows [lo, lo + n) of a pass, set by the first
    block and added to by the others: dW_hh += delta^T H_prev, dW_ih +=
    delta^T X (delta_ih^T X with layer normalisation), db_hh (and the GRU's
    db_ih of n) += delta's column sums, and dX = delta W_ih for those rows
    (added to with ``dX_accumulate``; dX NULL: none). The biases shared by
    both projections are copied by the caller once all blocks are in."""
    cdef Py_ssize_t H2 = 2 * n_hidden
    cdef bint acc = not first
    delta += lo * n_delta
    H_prev += lo * n_hidden
    X += lo * n_in
    if dX != NULL:
        dX += lo * n_in
    if ln or cell == CELL_GRU:
        weight_gradient(n_gates, n_hidden, n, delta, n_delta, H_prev, n_hidden, dW_hh,
                        n_hidden, ATB_MIN_COLS, acc)
    else:
        # the input side's dW_ih reads the same delta: one pass over its panels
        weight_gradients2(n_gates, n, delta, n_delta, n_hidden, H_prev, n_hidden, dW_hh,
                          n_hidden, n_in, X, n_in, dW_ih, n_in, acc)
    if ln:
        delta_ih += lo * n_gates
        weight_gradient(n_gates, n_in, n, delta_ih, n_gates, X, n_in, dW_ih, n_in,
                        ATB_MIN_COLS, acc)
        if dX != NULL:
            product(n, n_in, n_gates, delta_ih, n_gates, W_ih, n_in, False, packed_ih, dX, n_in,
                    dX_accumulate)
        return
    if first:
        memset(db_hh, 0, n_gates * sizeof(floating))
    column_sums_add(delta, n, n_gates, n_delta, db_hh)
    if cell == CELL_GRU:
        # input side: delta's columns 0:2H (r, z) and 3H:4H (n)
        weight_gradient(H2, n_in, n, delta, n_delta, X, n_in, dW_ih, n_in, ATB_MIN_COLS, acc)
        weight_gradient(n_hidden, n_in, n, delta + n_gates, n_delta, X, n_in, dW_ih + H2 * n_in,
                        n_in, ATB_MIN_COLS, acc)
        if first:
            memset(db_ih + H2, 0, n_hidden * sizeof(floating))
        column_sums_add(delta + n_gates, n, n_hidden, n_delta, db_ih + H2)
        if dX != NULL:
            product(n, n_in, H2, delta, n_delta, W_ih, n_in, False, packed_ih, dX, n_in,
                    dX_accumulate)
            product(n, n_in, n_hidden, delta + n_gates, n_delta, W_ih + H2 * n_in, n_in, False,
                    packed_ih_n, dX, n_in, True)
    else:
        if dX != NULL:
            product(n, n_in, n_gates, delta, n_delta, W_ih, n_in, False, packed_ih, dX, n_in,
                    dX_accumulate)


def backward(int cell, int activation,
             const floating[:, ::1] W_ih,          # IN (G*H, I)
             const floating[:, ::1] W_hh,          # IN (G*H, H)
             const floating[:, ::1] X,             # IN (n_rows, I), packed
             const Py_ssize_t[::1] batch_sizes,    # IN (T,)
             const Py_ssize_t[::1] lengths,        # IN (B,): batch_sizes as per-row lengths
             bint reverse,
             Py_ssize_t truncate,                  # window of truncated BPTT; 0 = none
             const floating[:, ::1] gates,         # IN from forward
             const floating[:, ::1] H_prev,        # IN from forward
             const floating[:, ::1] C_prev,        # IN from forward (LSTM)
             const floating[:, ::1] extra,         # IN from forward (LSTM, GRU)
             const floating[:, ::1] dH,            # IN (n_rows, W): dL/dh_t from above in cols
                                                   # dH_col:dH_col + H, or (0, 0): zero
             Py_ssize_t dH_col,
             floating[:, ::1] dh_cur,              # IN/OUT (B, H): dL/dh_n -> dL/dh_0
             floating[:, ::1] dc_cur,              # IN/OUT (B, H): dL/dc_n -> dL/dc_0 (LSTM)
             floating[:, ::1] delta,               # WORK (n_rows, G*H; GRU 4H)
             floating[:, ::1] dW_ih,               # OUT (G*H, I)
             floating[:, ::1] dW_hh,               # OUT (G*H, H)
             floating[::1] db_ih,                  # OUT (G*H,)
             floating[::1] db_hh,                  # OUT (G*H,)
             floating[:, ::1] dX,                  # OUT (n_rows, I), or shape (0, 0) to skip
             bint dX_accumulate,                   # add to dX (second direction) instead of set
             # layer normalisation (all empty: none); caches from forward
             const floating[::1] ln_ih_w,          # IN (G*H,)
             const floating[::1] ln_hh_w,          # IN (G*H,)
             const floating[::1] ln_c_w,           # IN (H,) (LSTM)
             const floating[:, ::1] ln_xhat_ih,    # IN (n_rows, G*H)
             const floating[:, ::1] ln_xhat_hh,    # IN (n_rows, G*H)
             const floating[:, ::1] ln_chat,       # IN (n_rows, H) (LSTM)
             const floating[:, ::1] ln_rstd,       # IN (n_rows, 3)
             floating[:, ::1] delta_ih,            # OUT (n_rows, G*H): dL/d(W_ih x) per row
             floating[::1] dln_ih_w,               # OUT (G*H,)
             floating[::1] dln_ih_b,               # OUT (G*H,)
             floating[::1] dln_hh_w,               # OUT (G*H,)
             floating[::1] dln_hh_b,               # OUT (G*H,)
             floating[::1] dln_c_w,                # OUT (H,) (LSTM)
             floating[::1] dln_c_b):               # OUT (H,) (LSTM)
    """Backward of one direction of one layer over packed rows (the pass of
    :func:`backward_pass`, on arrays)."""
    cdef int status
    if X.shape[0] == 0:
        return
    with nogil:
        status = backward_pass(
            cell, activation, batch_sizes.shape[0], X.shape[0], X.shape[1], W_hh.shape[1],
            delta.shape[1], &W_ih[0, 0], &W_hh[0, 0], &X[0, 0], &batch_sizes[0], &lengths[0],
            reverse, truncate, &gates[0, 0], &H_prev[0, 0], _cptr2(C_prev), _cptr2(extra),
            _cptr2(dH), dH.shape[1], dH_col, &dh_cur[0, 0], _ptr2(dc_cur), &delta[0, 0],
            &dW_ih[0, 0], &dW_hh[0, 0], &db_ih[0], &db_hh[0], _ptr2(dX), dX_accumulate,
            _cptr1(ln_ih_w), _cptr1(ln_hh_w), _cptr1(ln_c_w), _cptr2(ln_xhat_ih),
            _cptr2(ln_xhat_hh), _cptr2(ln_chat), _cptr2(ln_rstd), _ptr2(delta_ih),
            _ptr1(dln_ih_w), _ptr1(dln_ih_b), _ptr1(dln_hh_w), _ptr1(dln_hh_b), _ptr1(dln_c_w),
            _ptr1(dln_c_b))
    if status < 0:
        raise MemoryError()


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
                       floating* dln_c_w, floating* dln_c_b) noexcept nogil:
    """Backward of one direction of one layer over ``n_rows`` packed rows
    (the arrays of :func:`backward` as pointers, C-contiguous: dH's rows
    are ``ld_dH`` apart, dH NULL meaning no gradient from above, dX NULL
    none wanted; arrays a cell or the layer does not have are NULL,
    ``ln_ih_w`` NULL meaning no normalisation). Runs without the GIL: the
    compiled minibatch calls it as ``backward`` does. Returns 0, or -1 when
    out of memory (nothing written)."""
    cdef:
        crnn_fpstate fp
        bint ln = ln_ih_w != NULL
        const floating* src
        floating* ln_work = NULL  # one row of scratch for the LSTM's c normalisation
        Py_ssize_t n_gates = _n_gates(cell, n_hidden)
        Py_ssize_t H2 = 2 * n_hidden
        Py_ssize_t s, t, b, r, bs, r0, position, j
        # the GRU's row pass leaves z * dL/dh_t in dh_cur; its GEMM adds W_hh's part
        bint carry_accumulate = cell == CELL_GRU
        bint has_dH = dH != NULL
        # a layer whose outputs feed nothing but its final state (the top
        # layer read out once per sequence) gets one zero row instead of a
        # zeroed (n_rows, H) block
        floating* zero_row = NULL
        const floating* dh_in
        # Weight and bias gradients and dX go block by block of rows as the
        # steps finish them (_input_side), each block while its delta rows
        # are in cache: rows [pend_lo, pend_hi) are done and not yet taken.
        Py_ssize_t block_rows = _rows_per_block(n_delta * sizeof(floating))
        Py_ssize_t pend_lo = 0 if reverse else n_rows
        Py_ssize_t pend_hi = pend_lo
        bint first_block = True
        # W_hh packed once for all the steps' carry products
        floating* packed_hh = NULL
        # W_ih packed for dX = delta W_ih (as the forward projection; the GRU's
        # two pieces, r and z's rows and n's, apart)
        floating* packed_ih = NULL
        floating* packed_ih_n = NULL
        bint failed = False
    if pack_operand(W_hh, n_hidden, n_gates, n_hidden, False, _packed_min_k, &packed_hh) < 0:
        return -1
    if dX != NULL:
        if cell == CELL_GRU and not ln:
            failed = (pack_operand(W_ih, n_in, H2, n_in, False, 1, &packed_ih) < 0
                      or pack_operand(W_ih + H2 * n_in, n_in, n_hidden, n_in, False, 1,
                                      &packed_ih_n) < 0)
        else:
            failed = pack_operand(W_ih, n_in, n_gates, n_in, False, 1, &packed_ih) < 0
    if not failed and not has_dH:
        zero_row = <floating*>calloc(n_hidden, sizeof(floating))
        failed = zero_row == NULL
    if not failed and ln and cell == CELL_LSTM:
        ln_work = <floating*>calloc(n_hidden, sizeof(floating))
        failed = ln_work == NULL
    if failed:
        free(zero_row)
        free(packed_hh)
        free(packed_ih)
        free(packed_ih_n)
        return -1
    if ln:
        # the row passes below add to these
        memset(dln_hh_w, 0, n_gates * sizeof(floating))
        memset(dln_hh_b, 0, n_gates * sizeof(floating))
        memset(dln_ih_w, 0, n_gates * sizeof(floating))
        memset(dln_ih_b, 0, n_gates * sizeof(floating))
        if cell == CELL_LSTM:
            memset(dln_c_w, 0, n_hidden * sizeof(floating))
            memset(dln_c_b, 0, n_hidden * sizeof(floating))
    fp = crnn_fp_enter(_flush)
    # The backward loop visits the steps in the opposite order of forward.
    r0 = 0 if reverse else n_rows
    for s in range(n_steps):
        t = s if reverse else n_steps - 1 - s
        bs = batch_sizes[t]
        if not reverse:
            r0 -= bs
        for b in range(bs):
            r = r0 + b
            dh_in = dH + r * ld_dH + dH_col if has_dH else zero_row
            if cell == CELL_RNN:
                rnn_backward_row(delta + r * n_delta, dh_in, dh_cur + b * n_hidden,
                                 gates + r * n_gates, n_hidden, activation)
            elif cell == CELL_LSTM:
                if ln:
                    lstm_ln_backward_row(gates + r * n_gates + 3 * n_hidden,
                                         extra + r * n_hidden, ln_chat + r * n_hidden,
                                         ln_rstd[r * 3 + 2], ln_c_w, dh_in,
                                         dh_cur + b * n_hidden, dc_cur + b * n_hidden,
                                         dln_c_w, dln_c_b, ln_work, n_hidden)
                lstm_backward_row(gates + r * n_gates, extra + r * n_hidden,
                                  C_prev + r * n_hidden, dh_in, dh_cur + b * n_hidden,
                                  dc_cur + b * n_hidden, delta + r * n_delta, n_hidden)
            else:
                gru_backward_row(gates + r * n_gates, extra + r * n_hidden,
                                 H_prev + r * n_hidden, dh_in, dh_cur + b * n_hidden,
                                 delta + r * n_delta, n_hidden)
        if ln:
            # Both normalisations' backward while the step's delta rows
            # are in cache: the input side's into delta_ih, then the
            # recurrent side's in place (delta then holds dL/d(W_hh h),
            # the operand of the carry and of dW_hh); their bias
            # gradients are db_ih and db_hh.
            for b in range(bs):
                r = r0 + b
                if cell == CELL_GRU:
                    memcpy(delta_ih + r * n_gates, delta + r * n_delta, H2 * sizeof(floating))
                    memcpy(delta_ih + r * n_gates + H2, delta + r * n_delta + n_gates,
                           n_hidden * sizeof(floating))
                    src = delta_ih + r * n_gates
                else:
                    src = delta + r * n_delta
                ln_row_backward(src, ln_xhat_ih + r * n_gates, ln_rstd[r * 3], ln_ih_w,
                                delta_ih + r * n_gates, dln_ih_w, dln_ih_b, n_gates)
                ln_row_backward(delta + r * n_delta, ln_xhat_hh + r * n_gates,
                                ln_rstd[r * 3 + 1], ln_hh_w, delta + r * n_delta, dln_hh_w,
                                dln_hh_b, n_gates)
        product(bs, n_hidden, n_gates, delta + r0 * n_delta, n_delta, W_hh, n_hidden,
                False, packed_hh, dh_cur, n_hidden, carry_accumulate)
        if truncate > 0:
            # cut the carry where it would cross a window boundary
            for b in range(bs):
                position = lengths[b] - 1 - t if reverse else t
                if position > 0 and position % truncate == 0:
                    memset(dh_cur + b * n_hidden, 0, n_hidden * sizeof(floating))
                    if cell == CELL_LSTM:
                        memset(dc_cur + b * n_hidden, 0, n_hidden * sizeof(floating))
        # The input side of the rows done since the last block, once
        # they fill one: they are still in cache.
        if reverse:
            pend_hi = r0 + bs
        else:
            pend_lo = r0
        if pend_hi - pend_lo >= block_rows:
            _input_side(cell, ln, pend_lo, pend_hi - pend_lo, first_block, n_in,
                        n_hidden, n_gates, n_delta, delta, delta_ih, H_prev, X, W_ih,
                        packed_ih, packed_ih_n, dW_hh, dW_ih, db_hh, db_ih, dX,
                        dX_accumulate)
            first_block = False
            if reverse:
                pend_lo = pend_hi
            else:
                pend_hi = pend_lo
        if reverse:
            r0 += bs

    if first_block or pend_hi > pend_lo:
        _input_side(cell, ln, pend_lo, pend_hi - pend_lo, first_block, n_in, n_hidden,
                    n_gates, n_delta, delta, delta_ih, H_prev, X, W_ih, packed_ih,
                    packed_ih_n, dW_hh, dW_ih, db_hh, db_ih, dX, dX_accumulate)
    if ln:
        # b_ih and b_hh are added after the normalisations: their
        # gradients are the normalisations' bias gradients
        memcpy(db_hh, dln_hh_b, n_gates * sizeof(floating))
        memcpy(db_ih, dln_ih_b, n_gates * sizeof(floating))
    elif cell == CELL_GRU:
        for j in range(H2):  # b_ir, b_iz enter as b_hr, b_hz do
            db_ih[j] = db_hh[j]
    else:
        for j in range(n_gates):
            db_ih[j] = db_hh[j]
    crnn_fp_exit(fp)
    free(zero_row)
    free(ln_work)
    free(packed_hh)
    free(packed_ih)
    free(packed_ih_n)
    return 0


cdef inline Py_ssize_t _n_gates(int cell, Py_ssize_t n_hidden) noexcept nogil:
    if cell == CELL_LSTM:
        return 4 * n_hidden
    if cell == CELL_GRU:
        return 3 * n_hidden
    return n_hidden


cdef floating** _pack_layers(int cell, const floating* W_cats, const Py_ssize_t* sizes,
                            Py_ssize_t n_layers) noexcept nogil:
    """``pack_infer`` of each layer's W_cat in a stack (``W_cats`` and
    ``sizes`` as ``forecast`` takes them): one pointer per layer, or NULL
    when out of memory. Free with :func:`_free_layers`."""
    cdef floating** packed = <floating**>calloc(n_layers + 1, sizeof(floating*))
    cdef Py_ssize_t k, w_off = 0
    if packed == NULL:
        return NULL
    for k in range(n_layers):
        if pack_infer(cell, W_cats + w_off, sizes[k], sizes[k + 1], &packed[k]) < 0:
            _free_layers(packed, n_layers)
            return NULL
        w_off += _n_gates(cell, sizes[k + 1]) * (sizes[k] + sizes[k + 1])
    return packed


cdef void _free_layers(floating** packed, Py_ssize_t n_layers) noexcept nogil:
    cdef Py_ssize_t k
    if packed != NULL:
        for k in range(n_layers):
            free(packed[k])
        free(packed)


cdef void _stack_step(int cell, int activation, Py_ssize_t n_layers, Py_ssize_t batch,
                      const Py_ssize_t* sizes, const floating* x, Py_ssize_t ld_x,
                      floating* xhs, floating* cs, floating** packed, const floating* biases,
                      const floating* b_ihs, const floating* b_hhs,
                      floating* work) noexcept nogil:
    """One step of every layer of a stack (``forecast`` and ``decode``'s
    arrays as pointers) on ``batch`` rows: layer 0 reads x_t at ``x`` (row
    stride ``ld_x``), each layer above reads the state the layer below has
    just written, in place, and each layer's state moves from h_{t-1} to
    h_t in the h columns of its (batch, I_k + H_k) rows in ``xhs`` (and c
    in ``cs``). Only layer 0's x columns are ever read, and only when
    ``x`` points at them."""
    cdef Py_ssize_t k, n_in, n_hidden, n_cat, b_off = 0, x_off = 0, c_off = 0
    for k in range(n_layers):
        n_in, n_hidden = sizes[k], sizes[k + 1]
        n_cat = n_in + n_hidden
        infer_step(cell, activation, batch, n_in, n_hidden, x, ld_x, xhs + x_off + n_in,
                   n_cat, cs + c_off if cell == CELL_LSTM else NULL, packed[k],
                   biases + b_off, b_ihs + b_off, b_hhs + b_off, work)
        x, ld_x = xhs + x_off + n_in, n_cat
        b_off += _n_gates(cell, n_hidden)
        x_off += batch * n_cat
        c_off += batch * n_hidden


cdef inline Py_ssize_t _top_h_offset(const Py_ssize_t* sizes, Py_ssize_t n_layers,
                                     Py_ssize_t batch) noexcept nogil:
    """Where the top layer's h columns start in ``xhs`` (each layer's
    (batch, I_k + H_k) rows, flat): the readout of ``forecast`` and
    ``decode`` reads them at row stride I_top + H_top."""
    cdef Py_ssize_t k, off = 0
    for k in range(n_layers - 1):
        off += batch * (sizes[k] + sizes[k + 1])
    return off + sizes[n_layers - 1]


cdef void _readout(Py_ssize_t batch, Py_ssize_t n_out, Py_ssize_t n_hidden,
                   const floating* h, Py_ssize_t ld_h, const floating* W_out,
                   const floating* b_out, floating* out, Py_ssize_t ld_out) noexcept nogil:
    """out (batch rows at stride ``ld_out``) = h W_out^T + b_out: the step's
    readout of the top state in ``forecast`` and ``decode``."""
    cdef Py_ssize_t b, j
    gemm(NoTrans, Trans, batch, n_out, n_hidden, 1, h, ld_h, W_out, n_hidden, 0, out, ld_out)
    for b in range(batch):
        for j in range(n_out):
            out[b * ld_out + j] += b_out[j]


def work_width(int cell, Py_ssize_t n_hidden):
    """Columns of the ``work`` rows ``infer``, ``forecast`` and ``decode``
    take for a layer of ``n_hidden`` units: its pre-activations (H for the
    vanilla cell, 4H for the LSTM and the GRU)."""
    return infer_width(cell, n_hidden)


cdef int _check_work(floating[:, ::1] work, int cell, Py_ssize_t rows,
                     Py_ssize_t n_hidden) except -1:
    """ValueError unless ``work`` holds ``rows`` rows of :func:`infer_step`'s
    pre-activations (checked before the compiled loop writes into it)."""
    if work.shape[0] < rows or work.shape[1] < infer_width(cell, n_hidden):
        raise ValueError(f"work buffer of shape ({work.shape[0]}, {work.shape[1]}) is "
                         f"smaller than ({rows}, {infer_width(cell, n_hidden)})")
    return 0


def infer(int cell, int activation,
          const floating[:, ::1] W_cat,        # IN (G*H, I + H): [W_ih | W_hh]
          const floating[::1] b_ih,            # IN (G*H,)
          const floating[::1] b_hh,            # IN (G*H,)
          const floating[::1] bias,            # IN (G*H,): b_ih + b_hh
          const floating[:, :, ::1] X,         # IN (N, T, I), batch-first
          const Py_ssize_t[::1] order,         # IN (B,): row of X behind each sorted row
          const Py_ssize_t[::1] batch_sizes,   # IN (T,)
          bint reverse,
          floating[:, ::1] xh,                 # IN/OUT (B, I + H): xh[:, I:] = h_0 -> h_n
          floating[:, ::1] c,                  # IN/OUT (B, H): c_0 -> c_n (LSTM)
          floating[:, ::1] work,               # WORK (B, infer_width): pre-activations
          floating[:, :, ::1] H_seq,           # OUT (N, T, W) h_t in cols seq_col:, or (0, 0, 0)
          Py_ssize_t seq_col):
    cdef:
        Py_ssize_t n_steps = batch_sizes.shape[0]
        Py_ssize_t n_in = X.shape[2]
        Py_ssize_t n_hidden = xh.shape[1] - n_in
        bint keep = H_seq.shape[0] > 0
        bint gather = False
        floating* c_rows = &c[0, 0] if cell == CELL_LSTM else NULL
        Py_ssize_t b
        floating* packed
    _check_work(work, cell, xh.shape[0], n_hidden)
    # rows in X's order (all lengths equal) read x_t in place; sorted rows
    # are gathered into xh's first I columns, one step at a time
    for b in range(order.shape[0]):
        if order[b] != b:
            gather = True
            break
    if pack_infer(cell, &W_cat[0, 0], n_in, n_hidden, &packed) < 0:
        raise MemoryError()
    with nogil:
        infer_pass(cell, activation, n_steps, n_in, n_hidden, packed, &bias[0], &b_ih[0],
                   &b_hh[0], &X[0, 0, 0], X.shape[1] * n_in, &order[0] if gather else NULL,
                   &batch_sizes[0], reverse, &xh[0, 0], c_rows, &work[0, 0],
                   &H_seq[0, 0, 0] if keep else NULL, H_seq.shape[1] * H_seq.shape[2] if keep
                   else 0, H_seq.shape[2] if keep else 0, seq_col)
        free(packed)


cdef void infer_pass(int cell, int activation, Py_ssize_t n_steps, Py_ssize_t n_in,
                     Py_ssize_t n_hidden, const floating* packed, const floating* bias,
                     const floating* b_ih, const floating* b_hh, const floating* X,
                     Py_ssize_t ld_x, const Py_ssize_t* order, const Py_ssize_t* batch_sizes,
                     bint reverse, floating* xh, floating* c_rows, floating* work,
                     floating* H_seq, Py_ssize_t ld_seq, Py_ssize_t ld_step,
                     Py_ssize_t seq_col) noexcept nogil:
    """One direction of one layer's inference over the steps of batch-first
    X (sequence i's step t at X + i ld_x + t n_in), the arrays of
    :func:`infer` as pointers: ``order`` NULL when the rows are X's rows in
    order (x_t is then read in place), H_seq NULL when the states are not
    kept (else sequence i's step t goes to H_seq + i ld_seq + t ld_step +
    seq_col), ``packed`` from pack_infer. (The compiled predict of
    ``_minibatch.pyx`` runs a stack's layers step by step instead, each
    step through the same ``infer_step``.)"""
    cdef:
        crnn_fpstate fp
        Py_ssize_t n_cat = n_in + n_hidden
        Py_ssize_t row_bytes = n_hidden * sizeof(floating)
        Py_ssize_t s, t, b, bs, row
    fp = crnn_fp_enter(_flush)
    for s in range(n_steps):
        t = n_steps - 1 - s if reverse else s
        bs = batch_sizes[t]
        if order != NULL:
            for b in range(bs):
                memcpy(xh + b * n_cat, X + order[b] * ld_x + t * n_in, n_in * sizeof(floating))
            infer_step(cell, activation, bs, n_in, n_hidden, xh, n_cat, xh + n_in, n_cat,
                       c_rows, packed, bias, b_ih, b_hh, work)
        else:
            infer_step(cell, activation, bs, n_in, n_hidden, X + t * n_in, ld_x, xh + n_in,
                       n_cat, c_rows, packed, bias, b_ih, b_hh, work)
        if H_seq != NULL:
            for b in range(bs):
                row = order[b] if order != NULL else b
                memcpy(H_seq + row * ld_seq + t * ld_step + seq_col, xh + b * n_cat + n_in,
                       row_bytes)
    crnn_fp_exit(fp)


def forecast(int cell, int activation,
             const floating[::1] W_cats,         # IN: each layer's W_cat (G*H_k, I_k + H_k), flat
             const floating[::1] b_ihs,          # IN: each layer's b_ih (G*H_k,), flat
             const floating[::1] b_hhs,          # IN: each layer's b_hh, flat
             const floating[::1] biases,         # IN: each layer's b_ih + b_hh, flat
             const Py_ssize_t[::1] sizes,        # IN (L + 1,): F, H_0, ..., H_{L-1}
             floating[::1] xhs,                  # IN/OUT: each layer's (B, I_k + H_k) rows, flat;
                                                 # the h columns hold the states after the context
             floating[::1] cs,                   # IN/OUT: each layer's c (B, H_k), flat (LSTM)
             floating[:, ::1] work,              # WORK (B, infer_width of H_max)
             const floating[:, ::1] W_out,       # IN (F, H_{L-1})
             const floating[::1] b_out,          # IN (F,)
             floating[:, :, ::1] out):           # OUT (B, steps, F)
    """Feed each prediction back as the next input, ``steps`` times.

    out[:, 0] is the readout of the top state after the context; out[:, s]
    that of the state after reading out[:, s - 1]. O(steps) for the whole
    batch, in one call: no Python per step.
    """
    cdef:
        crnn_fpstate fp
        Py_ssize_t n_layers = sizes.shape[0] - 1
        Py_ssize_t batch = out.shape[0]
        Py_ssize_t n_out = out.shape[2]
        Py_ssize_t n_steps = out.shape[1]
        Py_ssize_t s, k, top_h, top_hidden, top_cat
    if n_layers < 1:
        raise ValueError("forecast needs at least one layer")
    top_h, top_hidden = _top_h_offset(&sizes[0], n_layers, batch), sizes[n_layers]
    top_cat = sizes[n_layers - 1] + top_hidden
    for k in range(n_layers):
        _check_work(work, cell, batch, sizes[k + 1])
    cdef floating** packed = _pack_layers(cell, &W_cats[0], &sizes[0], n_layers)
    if packed == NULL:
        raise MemoryError()
    with nogil:
        fp = crnn_fp_enter(_flush)
        try:
            for s in range(n_steps):
                if s > 0:   # the previous prediction is the next input, read in place
                    _stack_step(cell, activation, n_layers, batch, &sizes[0],
                                &out[0, s - 1, 0], n_steps * n_out, &xhs[0], &cs[0], packed,
                                &biases[0], &b_ihs[0], &b_hhs[0], &work[0, 0])
                _readout(batch, n_out, top_hidden, &xhs[top_h], top_cat, &W_out[0, 0],
                         &b_out[0], &out[0, s, 0], n_steps * n_out)
        finally:
            crnn_fp_exit(fp)
            _free_layers(packed, n_layers)


def decode(int cell, int activation,
           const floating[::1] W_cats,         # IN: each layer's W_cat (G*H_k, I_k + H_k), flat
           const floating[::1] b_ihs,          # IN: each layer's b_ih (G*H_k,), flat
           const floating[::1] b_hhs,          # IN: each layer's b_hh, flat
           const floating[::1] biases,         # IN: each layer's b_ih + b_hh, flat
           const Py_ssize_t[::1] sizes,        # IN (L + 1,): O, H_0, ..., H_{L-1}
           floating[::1] xhs,                  # IN/OUT: each layer's (B, I_k + H_k) rows, flat;
                                               # the h columns hold the encoder's final states
           floating[::1] cs,                   # IN/OUT: each layer's c (B, H_k), flat (LSTM)
           floating[:, ::1] work,              # WORK (B, infer_width of H_max)
           const floating[:, ::1] W_out,       # IN (O, H_{L-1})
           const floating[::1] b_out,          # IN (O,)
           const floating[::1] start,          # IN (O,): the decoder's input at step 0
           bint classify,                      # feed back one-hot argmax (else the outputs)
           Py_ssize_t end_index,               # classify: stop a row after this class; -1: never
           floating[:, :, ::1] out,            # OUT (B, steps, O): readout (values or logits)
           Py_ssize_t[:, ::1] labels,          # OUT (B, steps): argmax per step (classify)
           Py_ssize_t[::1] lengths):           # OUT (B,): steps up to and including end_index
    """Greedy decoding of a sequence-to-sequence decoder for the whole batch.

    Step s feeds ``start`` (s = 0) or the previous step's output (the
    regression values, or the one-hot of the argmax class) through every
    layer and reads out the top state into out[:, s]. Stops after
    ``steps`` steps or, with ``end_index``, once every row has emitted it.
    One call, no Python per step.

    Returns
    -------
    n_run : int
        Steps run (out[:, n_run:] is left untouched).
    """
    cdef:
        crnn_fpstate fp
        Py_ssize_t n_layers = sizes.shape[0] - 1
        Py_ssize_t batch = out.shape[0]
        Py_ssize_t n_out = out.shape[2]
        Py_ssize_t n_steps = out.shape[1]
        Py_ssize_t s, k, b, j, best, ld_x, n_in, n_cat, top_h, top_hidden, top_cat
        Py_ssize_t n_done = 0, n_run = n_steps
        const floating* x_row
    if n_layers < 1:
        raise ValueError("decode needs at least one layer")
    n_in, n_cat = sizes[0], sizes[0] + sizes[1]   # layer 0's rows
    top_h, top_hidden = _top_h_offset(&sizes[0], n_layers, batch), sizes[n_layers]
    top_cat = sizes[n_layers - 1] + top_hidden
    for b in range(batch):
        lengths[b] = 0   # 0: still running
    for k in range(n_layers):
        _check_work(work, cell, batch, sizes[k + 1])
    cdef floating** packed = _pack_layers(cell, &W_cats[0], &sizes[0], n_layers)
    if packed == NULL:
        raise MemoryError()
    with nogil:
        fp = crnn_fp_enter(_flush)
        try:
            for s in range(n_steps):
                # layer 0's input: start, the one-hot of the previous step's
                # class (both written into its x columns) or the previous
                # prediction, read in place
                x_row, ld_x = &xhs[0], n_cat
                if s == 0:
                    for b in range(batch):
                        memcpy(&xhs[b * n_cat], &start[0], n_in * sizeof(floating))
                elif classify:
                    for b in range(batch):
                        memset(&xhs[b * n_cat], 0, n_in * sizeof(floating))
                        xhs[b * n_cat + labels[b, s - 1]] = 1
                else:
                    x_row, ld_x = &out[0, s - 1, 0], n_steps * n_out
                _stack_step(cell, activation, n_layers, batch, &sizes[0], x_row, ld_x,
                            &xhs[0], &cs[0], packed, &biases[0], &b_ihs[0], &b_hhs[0],
                            &work[0, 0])
                _readout(batch, n_out, top_hidden, &xhs[top_h], top_cat, &W_out[0, 0],
                         &b_out[0], &out[0, s, 0], n_steps * n_out)
                if classify:
                    for b in range(batch):
                        best = 0
                        for j in range(1, n_out):
                            if out[b, s, j] > out[b, s, best]:
                                best = j
                        labels[b, s] = best
                        if end_index >= 0 and lengths[b] == 0 and best == end_index:
                            lengths[b] = s + 1
                            n_done += 1
                    if end_index >= 0 and n_done == batch:
                        n_run = s + 1
                        break
            for b in range(batch):
                if lengths[b] == 0:
                    lengths[b] = n_run
        finally:
            crnn_fp_exit(fp)
            _free_layers(packed, n_layers)
    return n_run
