"""NumPy-facing adapters over the timestep driver (``_recurrent``).

One adapter serves every cell: it picks the buffers the cell's caches need
(``_spec`` says which cell has which), hands them to the driver and stacks
layers, in both directions when a layer dict also holds the ``_reverse``
parameters. Training passes work on packed minibatches (see
:class:`Packing` and the design note of ``_recurrent.pyx``); the inference
pass reads batch-first sequences in place. Caches and scratch arrays come
from a :class:`Workspace`, so a training loop allocates them once per fit
instead of once per minibatch. Callers (``crnn.ops``, the model and the
training layer) validate shapes and dtypes; these adapters do not.
"""
import numpy as np

from crnn import _recurrent, _spec

REVERSE_SUFFIX = "_reverse"


# Scratch buffers start on a cache line. With malloc's 16-byte alignment the
# inference work buffer (pre-activations, read by 64-byte vector loads)
# straddled cache lines or not depending on the allocator's state. One W1
# chunk of 512 sequences on one thread, 30 alternating rounds, medians in ms
# with the buffers 0 / 16 / 48 bytes past a line: lstm 4.73 / 4.80 / 4.82,
# gru 3.45 / 3.58 / 3.52, rnn 1.145 / 1.174 / 1.157 (benchmarks/NOTES.md).
ALIGNMENT = 64


def _aligned_empty(size, dtype):
    """An uninitialised 1-D array of ``size`` elements starting on an
    ``ALIGNMENT``-byte boundary."""
    pad = ALIGNMENT // dtype.itemsize
    raw = np.empty(size + pad, dtype=dtype)
    start = (-raw.ctypes.data % ALIGNMENT) // dtype.itemsize
    return raw[start:start + size]


class Workspace:
    """Grow-only scratch buffers, reused across minibatches of any size.

    ``get(key, shape)`` returns a C-contiguous view of the first
    ``prod(shape)`` elements of the buffer stored under ``key``: a smaller
    final minibatch reuses the same memory and is still contiguous.
    """

    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)
        self._buffers = {}

    def get(self, key, shape):
        size = 1
        for n in shape:
            size *= n
        buf = self._buffers.get(key)
        if buf is None or buf.size < size:
            buf = _aligned_empty(max(size, 1), self.dtype)
            self._buffers[key] = buf
        return buf[:size].reshape(shape)

    def zeros(self, key, shape):
        out = self.get(key, shape)
        out.fill(0)
        return out


class Packing:
    """Where the rows of a packed minibatch are (PyTorch's PackedSequence).

    The B sequences are sorted by length, longest first; step t holds the
    ``batch_sizes[t]`` sequences longer than t (a prefix of the sorted
    rows), and the rows of all steps are concatenated time-major, so a
    packed array has ``n_rows = lengths.sum()`` rows.

    Parameters
    ----------
    lengths : array-like of int of shape (B,)
        Lengths of the sorted sequences, non-increasing, each >= 1.
    """

    def __init__(self, lengths):
        self.lengths = np.ascontiguousarray(lengths, dtype=np.intp)
        n_steps = int(self.lengths[0])
        if self.lengths[-1] == n_steps:
            self.batch_sizes = np.full(n_steps, self.lengths.shape[0], dtype=np.intp)
        else:
            # lengths are sorted descending: bs_t = #(lengths > t)
            self.batch_sizes = np.searchsorted(-self.lengths, -np.arange(n_steps),
                                               side="left").astype(np.intp)
        self.n_rows = int(self.lengths.sum())
        self.uniform = bool(self.lengths[-1] == n_steps)

    @classmethod
    def uniform_lengths(cls, n_steps, batch):
        """Packing of B sequences of one length (time-major (T, B) rows)."""
        return cls(np.full(batch, n_steps, dtype=np.intp))

    @property
    def batch(self):
        return self.lengths.shape[0]

    @property
    def n_steps(self):
        return self.batch_sizes.shape[0]

    def time_major_index(self):
        """(t, b) of every packed row, in packed order."""
        mask = self.lengths[np.newaxis, :] > np.arange(self.n_steps)[:, np.newaxis]
        return np.nonzero(mask)


class PackedSequences:
    """Batch-first sequences (N, T, F) packed for the training passes, and back.

    ``lengths`` None means every sequence has T steps (the packed rows are
    then the time-major block); otherwise the sequences are sorted by
    length, longest first, as :class:`Packing` requires.
    """

    def __init__(self, n_samples, n_steps, lengths):
        self.n_samples, self.n_steps = n_samples, n_steps
        if lengths is None:
            self.order = np.arange(n_samples)
            self.packing = Packing.uniform_lengths(n_steps, n_samples)
            self.rows = None
        else:
            self.order = np.argsort(-lengths, kind="stable")
            self.packing = Packing(lengths[self.order])
            steps, slots = self.packing.time_major_index()
            self.rows = (self.order[slots], steps)  # (sample, step) of each packed row

    def pack(self, A):
        """(N, T, F) -> packed (n_rows, F)."""
        if self.rows is None:
            return np.ascontiguousarray(A.transpose(1, 0, 2)).reshape(-1, A.shape[2])
        return np.ascontiguousarray(A[self.rows])

    def unpack(self, rows):
        """Packed (n_rows, W) -> (N, T, W), zeros past each sequence's length."""
        if self.rows is None:
            return np.ascontiguousarray(
                rows.reshape(self.n_steps, self.n_samples, -1).transpose(1, 0, 2))
        out = np.zeros((self.n_samples, self.n_steps, rows.shape[1]), rows.dtype)
        out[self.rows] = rows
        return out

    def sort(self, states):
        """Per-layer (N, W) states in the packed (length-sorted) row order."""
        if states is None:
            return None
        return [None if s is None else np.ascontiguousarray(s[self.order]) for s in states]

    def unsort(self, states):
        out = []
        for s in states:
            if s is None:
                out.append(None)
                continue
            u = np.empty_like(s)
            u[self.order] = s
            out.append(u)
        return out


def directions(layer):
    """1 for a one-directional layer dict, 2 when it also holds ``_reverse`` weights."""
    return 2 if "W_hh" + REVERSE_SUFFIX in layer else 1


_DIRECTION_NAMES = (_spec.PARAM_NAMES,
                    tuple(name + REVERSE_SUFFIX for name in _spec.PARAM_NAMES))


_LN_NAMES = (_spec.LN_NAMES, tuple(name + REVERSE_SUFFIX for name in _spec.LN_NAMES))


def direction_ln(layer, reverse):
    """The layer-normalisation gains and biases of one direction of a layer
    dict, in ``_spec.LN_NAMES`` order (the LSTM's c pair, else None), or
    None when the layer has none."""
    names = _LN_NAMES[1 if reverse else 0]
    if names[0] not in layer:
        return None
    return tuple(layer.get(name) for name in names)


def direction_params(layer, reverse):
    """(W_ih, W_hh, b_ih, b_hh) of one direction of a layer dict."""
    W_ih, W_hh, b_ih, b_hh = _DIRECTION_NAMES[1 if reverse else 0]
    return layer[W_ih], layer[W_hh], layer[b_ih], layer[b_hh]


class LayerCache:
    """What one direction of one layer's forward pass keeps for backward.

    Attributes
    ----------
    gates : ndarray of shape (n_rows, G*H)
        Activated gates (the vanilla cell: h_t).
    H_prev : ndarray of shape (n_rows, H)
        The state that entered each row's step.
    C_prev, extra : ndarray of shape (n_rows, H) or None
        LSTM: c entering the step and tanh(c_t); GRU: ``extra`` is
        W_hn h_{t-1} + b_hn.
    h_n, c_n : ndarray of shape (B, H)
        Final states (sorted rows); ``c_n`` None but for the LSTM.
    """

    def __init__(self, gates, H_prev, C_prev, extra, h_n, c_n, ln=None):
        self.gates = gates
        self.H_prev = H_prev
        self.C_prev = C_prev
        self.extra = extra
        self.h_n = h_n
        self.c_n = c_n
        # layer normalisation: (xhat_ih, xhat_hh, chat, rstd), or None
        self.ln = ln


_EMPTY = {np.dtype(np.float32): np.empty((0, 0), np.float32),
          np.dtype(np.float64): np.empty((0, 0), np.float64)}
_EMPTY_VEC = {np.dtype(np.float32): np.empty(0, np.float32),
              np.dtype(np.float64): np.empty(0, np.float64)}
# An empty (0, 0, 0) array tells ``infer`` not to write the state sequence.
SKIP_OUTPUT = {np.dtype(np.float32): np.empty((0, 0, 0), np.float32),
               np.dtype(np.float64): np.empty((0, 0, 0), np.float64)}


def _state(ws, key, shape, value):
    """A workspace buffer holding ``value`` (zeros if None)."""
    if value is None:
        return ws.zeros(key, shape)
    out = ws.get(key, shape)
    out[...] = value
    return out


def layer_forward(cell, activation, params, X, packing, h0, c0, ws, key, reverse,
                  H_out, out_col, ln=None):
    """One direction of one layer over packed rows ``X`` (n_rows, I).

    ``h0``/``c0`` are (B, H) in sorted row order or None (zeros); the
    outputs go to columns ``out_col:out_col + H`` of ``H_out``. ``ln`` is
    the direction's layer-normalisation parameters (:func:`direction_ln`)
    or None.
    """
    W_ih, W_hh, b_ih, b_hh = params
    n_rows, batch = X.shape[0], packing.batch
    n_hidden = W_hh.shape[1]
    n_gates = W_hh.shape[0]
    dtype = X.dtype
    empty = _EMPTY[dtype]
    lstm, gru = cell == "lstm", cell == "gru"
    h_cur = _state(ws, ("h", key), (batch, n_hidden), h0)
    c_cur = _state(ws, ("c", key), (batch, n_hidden), c0) if lstm else empty
    gates = ws.get(("gates", key), (n_rows, n_gates))
    H_prev = ws.get(("H_prev", key), (n_rows, n_hidden))
    C_prev = ws.get(("C_prev", key), (n_rows, n_hidden)) if lstm else empty
    extra = ws.get(("extra", key), (n_rows, n_hidden)) if (lstm or gru) else empty
    hh = ws.get("hh", (batch, n_gates)) if (gru or ln is not None) else empty
    vec = _EMPTY_VEC[dtype]
    if ln is None:
        ln_args = (vec,) * 6 + (empty,) * 4
        ln_cache = None
    else:
        ln_cache = (ws.get(("ln_xhat_ih", key), (n_rows, n_gates)),
                    ws.get(("ln_xhat_hh", key), (n_rows, n_gates)),
                    ws.get(("ln_chat", key), (n_rows, n_hidden)) if lstm else empty,
                    ws.get(("ln_rstd", key), (n_rows, 3)))
        ln_args = tuple(vec if a is None else a for a in ln) + ln_cache
    _recurrent.forward(_spec.cell_code(cell), _spec.activation_code(activation),
                       W_ih, W_hh, b_ih, b_hh, X, packing.batch_sizes, reverse,
                       h_cur, c_cur, gates, H_prev, C_prev, extra, hh, H_out, out_col,
                       *ln_args)
    return LayerCache(gates, H_prev, C_prev if lstm else None, extra if (lstm or gru) else None,
                      h_cur, c_cur if lstm else None, ln_cache)


def layer_backward(cell, activation, params, grads, X, packing, cache, dH, dH_col, dh_n, dc_n,
                   dX, dX_accumulate, ws, key, reverse, truncate, ln=None, ln_grads=None):
    """Backward of one direction of one layer; returns (dh_0, dc_0) in sorted row order.

    ``grads`` is the (dW_ih, dW_hh, db_ih, db_hh) tuple of output arrays;
    ``dH`` (n_rows, W) holds dL/dh_t of this direction in columns
    ``dH_col:dH_col + H``; ``dX`` (n_rows, I) is set (or, with
    ``dX_accumulate``, added to), or skipped when empty. ``ln`` and
    ``ln_grads``: the direction's layer-normalisation parameters and their
    gradient arrays (outputs), in :func:`direction_ln` order, or None.
    """
    W_ih, W_hh = params[0], params[1]
    n_rows, batch = X.shape[0], packing.batch
    n_hidden = W_hh.shape[1]
    n_gates = W_hh.shape[0]
    empty = _EMPTY[X.dtype]
    lstm, gru = cell == "lstm", cell == "gru"
    dh_cur = _state(ws, ("dh", key), (batch, n_hidden), dh_n)
    dc_cur = _state(ws, ("dc", key), (batch, n_hidden), dc_n) if lstm else empty
    # the GRU's delta rows are [dr, dz, dn * r, dn] (see _recurrent.pyx)
    n_delta = 4 * n_hidden if gru else n_gates
    delta = ws.get(("delta", key), (n_rows, n_delta))
    _recurrent.backward(_spec.cell_code(cell), _spec.activation_code(activation),
                        W_ih, W_hh, X, packing.batch_sizes, packing.lengths, reverse,
                        int(truncate or 0), cache.gates, cache.H_prev,
                        cache.C_prev if lstm else empty,
                        cache.extra if (lstm or gru) else empty,
                        dH, dH_col, dh_cur, dc_cur, delta, *grads, dX, dX_accumulate,
                        *_ln_backward_args(ln, ln_grads, cache.ln, ws, key, n_rows, n_gates,
                                           empty))
    return dh_cur, (dc_cur if lstm else None)


def _ln_backward_args(ln, ln_grads, ln_cache, ws, key, n_rows, n_gates, empty):
    """The layer-normalisation arguments of ``_recurrent.backward``."""
    vec = _EMPTY_VEC[empty.dtype]
    if ln is None:
        return (vec,) * 3 + (empty,) * 5 + (vec,) * 6
    xhat_ih, xhat_hh, chat, rstd = ln_cache
    grads = tuple(vec if a is None else a for a in ln_grads)
    return ((ln[0], ln[2], vec if ln[4] is None else ln[4], xhat_ih, xhat_hh, chat, rstd,
             ws.get(("delta_ih", key), (n_rows, n_gates))) + grads)


class StackCache:
    """The forward pass of a stack, as its backward pass needs it.

    Attributes
    ----------
    inputs : list of ndarray
        Packed input of each layer (after dropout for layers above the first).
    outputs : list of ndarray of shape (n_rows, D*H_k)
        Packed output of each layer, both directions side by side.
    layers : list of list of LayerCache
        One cache per direction of each layer.
    """

    def __init__(self, inputs, outputs, layers):
        self.inputs = inputs
        self.outputs = outputs
        self.layers = layers

    @property
    def output(self):
        return self.outputs[-1]

    def final_states(self):
        """Per layer, (h_n, c_n) of shape (B, D*H_k), forward then reverse."""
        h_n, c_n = [], []
        for caches in self.layers:
            h_n.append(np.concatenate([c.h_n for c in caches], axis=1)
                       if len(caches) > 1 else caches[0].h_n)
            if caches[0].c_n is not None:
                c_n.append(np.concatenate([c.c_n for c in caches], axis=1)
                           if len(caches) > 1 else caches[0].c_n)
            else:
                c_n.append(None)
        return h_n, c_n


def _split_state(state, n_dir, n_hidden, d):
    if state is None:
        return None
    return state if n_dir == 1 else state[:, d * n_hidden:(d + 1) * n_hidden]


def stack_forward(cell, layers, X, packing, ws, activation, h0=None, c0=None,
                  dropout_masks=None, reverse=False):
    """Run stacked layers forward on packed ``X`` (n_rows, n_features).

    Parameters
    ----------
    layers : list of dict
        SPEC 3 parameter dicts; a dict with ``_reverse`` entries is bidirectional.
    h0, c0 : list of (ndarray of shape (B, D*H_k) or None) or None
        Initial states per layer, in sorted row order; None means zeros.
    dropout_masks : list of ndarray or None
        Per layer below the top, a packed (n_rows, D*H_k) array of 0 and
        1 / (1 - p) that multiplies the layer's output before the next layer.
    reverse : bool
        One-directional layers run from each sequence's last step to its first.

    Returns
    -------
    cache : StackCache
    """
    inputs = X
    stack_inputs, outputs, caches = [], [], []
    n_layers = len(layers)
    for k, p in enumerate(layers):
        n_hidden = p["W_hh"].shape[1]
        n_dir = directions(p)
        H_out = ws.get(("H_out", k), (packing.n_rows, n_dir * n_hidden))
        layer_caches = []
        for d in range(n_dir):
            layer_caches.append(layer_forward(
                cell, activation, direction_params(p, d == 1), inputs, packing,
                _split_state(None if h0 is None else h0[k], n_dir, n_hidden, d),
                _split_state(None if c0 is None else c0[k], n_dir, n_hidden, d),
                ws, (k, d), d == 1 or reverse, H_out, d * n_hidden, direction_ln(p, d == 1)))
        stack_inputs.append(inputs)
        outputs.append(H_out)
        caches.append(layer_caches)
        if dropout_masks is not None and k < n_layers - 1 and dropout_masks[k] is not None:
            inputs = np.multiply(H_out, dropout_masks[k],
                                 out=ws.get(("dropped", k), H_out.shape))
        else:
            inputs = H_out
    return StackCache(stack_inputs, outputs, caches)


def stack_backward(cell, layers, grads, packing, cache, dH_top, dh_n, dc_n, ws, activation,
                   need_dX=False, truncate=None, dropout_masks=None, reverse=False):
    """Backpropagate through stacked layers.

    Parameters
    ----------
    grads : list of dict
        Output gradient dicts, one per layer, keyed like ``layers``.
    dH_top : ndarray of shape (n_rows, D*H_last) or None
        dL/dh_t of the top layer's outputs at every packed row; None means zero
        (the top layer is then read only through its final states).
    dh_n, dc_n : list of (ndarray of shape (B, D*H_k) or None) or None
        dL/d(final states) per layer; None means zero.
    truncate, dropout_masks, reverse
        As given to (or used by) the forward pass.

    Returns
    -------
    dX : ndarray of shape (n_rows, n_features) or None
    dh0, dc0 : list of ndarray of shape (B, D*H_k) (dc0 entries None unless LSTM)
    """
    dtype = cache.inputs[0].dtype
    n_layers = len(layers)
    # no per-step gradient from above: the kernel reads a zero row instead
    dH = _EMPTY[dtype] if dH_top is None else dH_top
    dh0s, dc0s = [None] * n_layers, [None] * n_layers
    dX = None
    for k in range(n_layers - 1, -1, -1):
        p, g = layers[k], grads[k]
        n_hidden = p["W_hh"].shape[1]
        n_dir = directions(p)
        inputs = cache.inputs[k]
        if k > 0:
            dX_k = ws.get(("dX", k), inputs.shape)
        elif need_dX:
            dX_k = np.empty(inputs.shape, dtype)
        else:
            dX_k = _EMPTY[dtype]
        h_parts, c_parts = [], []
        for d in range(n_dir):
            dh0, dc0 = layer_backward(
                cell, activation, direction_params(p, d == 1), direction_params(g, d == 1),
                inputs, packing, cache.layers[k][d], dH, d * n_hidden,
                _split_state(None if dh_n is None else dh_n[k], n_dir, n_hidden, d),
                _split_state(None if dc_n is None else dc_n[k], n_dir, n_hidden, d),
                dX_k, d == 1, ws, (k, d), d == 1 or reverse, truncate,
                direction_ln(p, d == 1), direction_ln(g, d == 1))
            h_parts.append(dh0)
            c_parts.append(dc0)
        dh0s[k] = h_parts[0] if n_dir == 1 else np.concatenate(h_parts, axis=1)
        if c_parts[0] is not None:
            dc0s[k] = c_parts[0] if n_dir == 1 else np.concatenate(c_parts, axis=1)
        if k > 0 and dropout_masks is not None and dropout_masks[k - 1] is not None:
            np.multiply(dX_k, dropout_masks[k - 1], out=dX_k)
        dH = dX_k
        if k == 0 and need_dX:
            dX = dX_k
    return dX, dh0s, dc0s


def _concat_inference(params, n_in, ws, key):
    """Operands of the inference step: ``W_cat`` = [W_ih | W_hh] (G*H, I + H)
    and ``bias`` = b_ih + b_hh (every cell's summed projections use it; the
    GRU's n takes b_ih and b_hh apart)."""
    W_ih, W_hh, b_ih, b_hh = params
    n_hidden = W_hh.shape[1]
    W_cat = ws.get(("W_cat", key), (W_ih.shape[0], n_in + n_hidden))
    W_cat[:, :n_in] = W_ih
    W_cat[:, n_in:] = W_hh
    bias = ws.get(("bias", key), b_ih.shape)
    np.add(b_ih, b_hh, out=bias)
    return W_cat, bias


def stack_infer(cell, layers, X, ws, activation, return_sequences, lengths=None,
                h0=None, c0=None, final_states=False, reverse=False):
    """Inference through stacked layers, nothing kept for a backward pass.

    Unlike the training passes this works on batch-first ``X`` (N, T,
    n_features), the layout users pass to ``predict``, so no packed copy is
    made. Only the layers below the top and, with ``return_sequences``, the
    top layer write their states at every step.

    Parameters
    ----------
    lengths : ndarray of int of shape (N,) or None
        Valid steps of each sequence (None: all T); steps past a
        sequence's length are never read, and with ``return_sequences``
        the output there is zero.
    h0, c0 : list of (ndarray of shape (N, D*H_k) or None) or None
        Initial states per layer (rows in X's order); None means zeros.
    final_states : bool
        Also return every layer's final states.
    reverse : bool
        One-directional layers run from each sequence's last step to its first.

    Returns
    -------
    H : ndarray of shape (N, D*H_last) or (N, T, D*H_last)
        The top layer's final state(s) (forward state at the last valid
        step, reverse state at step 0), or its output at every step. It may
        be a view into ``ws``: valid until the workspace is used again.
    h_n, c_n : list of ndarray of shape (N, D*H_k)
        Only with ``final_states``; ``c_n`` entries are None but for the LSTM.
    """
    n_samples, n_steps, _ = X.shape
    dtype = X.dtype
    empty = _EMPTY[dtype]
    if lengths is None or np.all(lengths == n_steps):
        order = np.arange(n_samples, dtype=np.intp)
        packing = Packing.uniform_lengths(n_steps, n_samples)
    else:
        order = np.argsort(-lengths, kind="stable").astype(np.intp)
        packing = Packing(lengths[order])
    code, act = _spec.cell_code(cell), _spec.activation_code(activation)
    lstm = cell == "lstm"
    inputs = X
    out = None
    h_n, c_n = [], []
    n_layers = len(layers)
    for k, p in enumerate(layers):
        n_hidden = p["W_hh"].shape[1]
        n_dir = directions(p)
        n_in = inputs.shape[2]
        top = k == n_layers - 1
        keep = not top or return_sequences
        if keep:
            # two alternating buffers: layer k reads layer k - 1's states
            H_seq = ws.get(("H_seq", k % 2), (n_samples, n_steps, n_dir * n_hidden))
            if not packing.uniform:
                H_seq.fill(0)
        else:
            H_seq = SKIP_OUTPUT[dtype]
        h_layer = np.empty((n_samples, n_dir * n_hidden), dtype)
        c_layer = np.empty((n_samples, n_dir * n_hidden), dtype) if lstm else None
        for d in range(n_dir):
            params = direction_params(p, d == 1)
            cols = slice(d * n_hidden, (d + 1) * n_hidden)
            xh = ws.get(("xh", d), (n_samples, n_in + n_hidden))
            xh[:, n_in:] = 0 if (h0 is None or h0[k] is None) else h0[k][order, cols]
            c = empty
            if lstm:
                c = ws.get(("c", d), (n_samples, n_hidden))
                c[...] = 0 if (c0 is None or c0[k] is None) else c0[k][order, cols]
            work = ws.get("infer_work", (n_samples, _recurrent.work_width(code, n_hidden)))
            W_cat, bias = _concat_inference(params, n_in, ws, (k, d))
            _recurrent.infer(code, act, W_cat, params[2], params[3], bias, inputs, order,
                             packing.batch_sizes, d == 1 or reverse, xh, c, work, H_seq,
                             d * n_hidden)
            h_layer[order, cols] = xh[:, n_in:]
            if lstm:
                c_layer[order, cols] = c
        h_n.append(h_layer)
        c_n.append(c_layer)
        out = H_seq if (top and return_sequences) else h_layer
        inputs = H_seq
    if final_states:
        return out, h_n, c_n
    return out


def stack_forecast(cell, layers, readout, X, ws, activation, steps, lengths=None):
    """Read each context sequence, then feed each prediction back ``steps`` times.

    Parameters
    ----------
    layers : list of dict
        One-directional layers of a next-step model (its readout has as
        many outputs as the input has features).
    readout : dict
        ``W_out`` (F, H_last) and ``b_out`` (F,).
    X : ndarray of shape (N, T, F)
        Batch-first contexts, padded past ``lengths``.
    steps : int

    Returns
    -------
    out : ndarray of shape (N, steps, F)
        out[:, 0] predicts the step after each context's last valid step;
        out[:, s] is predicted from out[:, s - 1] fed back as input.
    """
    n_samples, _, n_features = X.shape
    dtype = X.dtype
    _, h_n, c_n = stack_infer(cell, layers, X, ws, activation, False, lengths=lengths,
                              final_states=True)
    sizes = np.array([n_features] + [p["W_hh"].shape[1] for p in layers], dtype=np.intp)
    W_cats, b_ihs, b_hhs, biases, xhs, cs = [], [], [], [], [], []
    for k, p in enumerate(layers):
        params = direction_params(p, False)
        W_cat, bias = _concat_inference(params, sizes[k], ws, ("forecast", k))
        W_cats.append(W_cat.ravel())
        b_ihs.append(params[2])
        b_hhs.append(params[3])
        biases.append(bias)
        xh = np.zeros((n_samples, sizes[k] + sizes[k + 1]), dtype)
        xh[:, sizes[k]:] = h_n[k]
        xhs.append(xh.ravel())
        cs.append(c_n[k].ravel() if cell == "lstm" else np.zeros(0, dtype))
    out = np.empty((n_samples, steps, n_features), dtype)
    _recurrent.forecast(_spec.cell_code(cell), _spec.activation_code(activation),
                        np.concatenate(W_cats), np.concatenate(b_ihs), np.concatenate(b_hhs),
                        np.concatenate(biases), sizes, np.concatenate(xhs),
                        np.concatenate(cs) if cell == "lstm" else np.zeros(1, dtype),
                        ws.get("infer_work", (n_samples, _recurrent.work_width(
                            _spec.cell_code(cell), int(sizes[1:].max())))),
                        readout["W_out"], readout["b_out"], out)
    return out
