"""Adapters between NumPy arrays and the compiled cell kernels.

Each cell class runs one recurrent layer forward or backward over a batch of
time-major sequences ``X`` of shape (n_steps, batch, n_in), the training
passes, and ``infer`` over batch-first sequences (batch, n_steps, n_in), the
predict pass, which keeps nothing for a backward pass. Caches and scratch
arrays come from a :class:`Workspace`, so a training loop allocates them
once per fit instead of once per minibatch. Callers (``crnn.ops``, the
training glue and predict) validate shapes and dtypes; these adapters do
not.
"""
import numpy as np

from crnn import _gru_cell, _lstm_cell, _rnn_cell

ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2}


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
            buf = np.empty(max(size, 1), dtype=self.dtype)
            self._buffers[key] = buf
        return buf[:size].reshape(shape)

    def zeros(self, key, shape):
        out = self.get(key, shape)
        out.fill(0)
        return out


def _set_initial(states, state0):
    """Write the initial state (zeros if None) into row 0 of a (T + 1, B, H) buffer."""
    if state0 is None:
        states[0].fill(0)
    else:
        states[0] = state0


def _concat_inference(p, X, ws, key):
    """Operands of the rnn/lstm inference kernels' single [x_t, h_{t-1}] GEMM.

    Returns ``W_cat`` = [W_ih | W_hh] (G*H, I + H), ``bias`` = b_ih + b_hh
    and the (batch, I + H) row buffer ``xh`` with h_0 = 0 in its last H
    columns.
    """
    W_ih, W_hh = p["W_ih"], p["W_hh"]
    n_in, n_hidden = W_ih.shape[1], W_hh.shape[1]
    W_cat = ws.get(("W_cat", key), (W_ih.shape[0], n_in + n_hidden))
    W_cat[:, :n_in] = W_ih
    W_cat[:, n_in:] = W_hh
    bias = ws.get(("bias", key), p["b_ih"].shape)
    np.add(p["b_ih"], p["b_hh"], out=bias)
    xh = ws.get(("xh", key), (X.shape[0], n_in + n_hidden))
    xh[:, n_in:] = 0
    return W_cat, bias, xh


class LayerCache:
    """What one layer's forward pass keeps for its backward pass.

    Attributes
    ----------
    H_all : ndarray of shape (n_steps + 1, batch, n_hidden)
        ``H_all[0]`` is the initial state h_0, ``H_all[t]`` is h_t.
    C_all : ndarray of shape (n_steps + 1, batch, n_hidden) or None
        LSTM cell states, laid out like ``H_all``.
    extra : dict
        Cell-specific caches (gate activations).
    """

    def __init__(self, H_all, C_all=None, **extra):
        self.H_all = H_all
        self.C_all = C_all
        self.extra = extra


class RNNCell:
    """Vanilla (Elman) cell: ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``."""

    name = "rnn"
    n_gates = 1
    has_cell_state = False

    def forward(self, p, X, h0, c0, ws, key, activation):
        n_steps, batch, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        H_all = ws.get(("H_all", key), (n_steps + 1, batch, n_hidden))
        _set_initial(H_all, h0)
        _rnn_cell.forward(p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], X, H_all,
                          ACTIVATIONS[activation])
        return LayerCache(H_all)

    def backward(self, p, grads, X, cache, dH, dh_n, dc_n, dX, ws, key, activation):
        n_steps, batch, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        delta = ws.get(("delta", key), (n_steps, batch, n_hidden))
        dh0 = ws.get(("dh0", key), (batch, n_hidden))
        _rnn_cell.backward(p["W_ih"], p["W_hh"], X, cache.H_all, dH, dh_n, delta,
                           grads["W_ih"], grads["W_hh"], grads["b_ih"], grads["b_hh"],
                           dX, dh0, ACTIVATIONS[activation])
        return dh0, None

    def infer(self, p, X, ws, key, activation, H_seq):
        batch, n_steps, n_in = X.shape
        n_hidden = p["W_hh"].shape[1]
        W_cat, bias, xh = _concat_inference(p, X, ws, key)
        z = ws.get("z", (batch, n_hidden))
        _rnn_cell.infer(W_cat, bias, X, xh, z, H_seq, ACTIVATIONS[activation])
        return np.ascontiguousarray(xh[:, n_in:])


class LSTMCell:
    """LSTM cell, gates i, f, g, o: ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

    The cache holds ``H_all``, ``C_all`` (``C_all[0]`` = c_0) and, in
    ``extra``, ``gates`` (n_steps, batch, 4 * n_hidden), the post-activation
    gates, and ``tanh_c`` (n_steps, batch, n_hidden) = tanh(c_t).
    ``activation`` is ignored (the gate nonlinearities are fixed).
    """

    name = "lstm"
    n_gates = 4
    has_cell_state = True

    def forward(self, p, X, h0, c0, ws, key, activation):
        n_steps, batch, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        H_all = ws.get(("H_all", key), (n_steps + 1, batch, n_hidden))
        C_all = ws.get(("C_all", key), (n_steps + 1, batch, n_hidden))
        gates = ws.get(("gates", key), (n_steps, batch, 4 * n_hidden))
        tanh_c = ws.get(("tanh_c", key), (n_steps, batch, n_hidden))
        _set_initial(H_all, h0)
        _set_initial(C_all, c0)
        _lstm_cell.forward(p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], X,
                           H_all, C_all, gates, tanh_c)
        return LayerCache(H_all, C_all, gates=gates, tanh_c=tanh_c)

    def backward(self, p, grads, X, cache, dH, dh_n, dc_n, dX, ws, key, activation):
        n_steps, batch, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        delta = ws.get(("delta", key), (n_steps, batch, 4 * n_hidden))
        dh0 = ws.get(("dh0", key), (batch, n_hidden))
        dc0 = ws.get(("dc0", key), (batch, n_hidden))
        _lstm_cell.backward(p["W_ih"], p["W_hh"], X, cache.H_all, cache.C_all,
                            cache.extra["gates"], cache.extra["tanh_c"], dH, dh_n, dc_n,
                            delta, grads["W_ih"], grads["W_hh"], grads["b_ih"],
                            grads["b_hh"], dX, dh0, dc0)
        return dh0, dc0

    def infer(self, p, X, ws, key, activation, H_seq):
        batch, n_steps, n_in = X.shape
        n_hidden = p["W_hh"].shape[1]
        W_cat, bias, xh = _concat_inference(p, X, ws, key)
        c = ws.zeros(("c", key), (batch, n_hidden))
        gates = ws.get("gates", (batch, 4 * n_hidden))
        _lstm_cell.infer(W_cat, bias, X, xh, c, gates, H_seq)
        return np.ascontiguousarray(xh[:, n_in:])


class GRUCell:
    """GRU cell, gates r, z, n: ``h_t = (1 - z) * n + z * h_{t-1}``.

    The cache holds ``H_all`` and, in ``extra``, ``gates`` (n_steps, batch,
    3 * n_hidden), the post-activation r, z, n, and ``hn`` (n_steps, batch,
    n_hidden) = W_hn h_{t-1} + b_hn. ``activation`` is ignored.
    """

    name = "gru"
    n_gates = 3
    has_cell_state = False

    def forward(self, p, X, h0, c0, ws, key, activation):
        n_steps, batch, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        H_all = ws.get(("H_all", key), (n_steps + 1, batch, n_hidden))
        gates = ws.get(("gates", key), (n_steps, batch, 3 * n_hidden))
        hn = ws.get(("hn", key), (n_steps, batch, n_hidden))
        hh = ws.get("hh", (batch, 3 * n_hidden))
        _set_initial(H_all, h0)
        _gru_cell.forward(p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], X,
                          H_all, gates, hn, hh)
        return LayerCache(H_all, gates=gates, hn=hn)

    def backward(self, p, grads, X, cache, dH, dh_n, dc_n, dX, ws, key, activation):
        n_steps, batch, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        # Columns [dr, dz, dn * r, dn]: recurrent-side and input-side deltas.
        delta = ws.get(("delta", key), (n_steps, batch, 4 * n_hidden))
        dh0 = ws.get(("dh0", key), (batch, n_hidden))
        _gru_cell.backward(p["W_ih"], p["W_hh"], X, cache.H_all, cache.extra["gates"],
                           cache.extra["hn"], dH, dh_n, delta, grads["W_ih"],
                           grads["W_hh"], grads["b_ih"], grads["b_hh"], dX, dh0)
        return dh0, None

    def infer(self, p, X, ws, key, activation, H_seq):
        batch, n_steps, _ = X.shape
        n_hidden = p["W_hh"].shape[1]
        h = ws.zeros(("h", key), (batch, n_hidden))
        gx = ws.get("gx", (batch, 3 * n_hidden))
        hh = ws.get("hh", (batch, 3 * n_hidden))
        _gru_cell.infer(p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], X, h, gx, hh, H_seq)
        return h


CELLS = {"rnn": RNNCell(), "lstm": LSTMCell(), "gru": GRUCell()}

# An empty array tells a kernel to skip an optional output: dX of the first
# layer in training, the state sequence of the top layer in inference.
SKIP_OUTPUT = {np.dtype(np.float32): np.empty((0, 0, 0), np.float32),
               np.dtype(np.float64): np.empty((0, 0, 0), np.float64)}


def stack_forward(cell, layers, X, h0, c0, ws, activation):
    """Run stacked layers forward on time-major ``X`` (n_steps, batch, n_features).

    Returns the list of per-layer caches; the top layer's outputs are
    ``caches[-1].H_all[1:]``.
    """
    impl = CELLS[cell]
    caches = []
    inputs = X
    for k, p in enumerate(layers):
        cache = impl.forward(p, inputs, None if h0 is None else h0[k],
                             None if c0 is None else c0[k], ws, k, activation)
        caches.append(cache)
        inputs = cache.H_all[1:]
    return caches


def stack_backward(cell, layers, grads, X, caches, dH_top, dh_n, dc_n, ws,
                   activation, need_dX=False):
    """Backpropagate through stacked layers.

    Parameters
    ----------
    dH_top : ndarray of shape (n_steps, batch, H_last)
        dL/dh_t of the top layer's outputs at every step.
    dh_n, dc_n : list of ndarray of shape (batch, H_k) or None
        dL/d(final states) per layer; None means zero.

    Returns
    -------
    dX : ndarray of shape (n_steps, batch, n_features) or None
    dh0, dc0 : list of ndarray (dc0 entries None unless LSTM)
    """
    impl = CELLS[cell]
    n_steps, batch, _ = X.shape
    dtype = X.dtype
    dH = dH_top
    dh0s, dc0s = [None] * len(layers), [None] * len(layers)
    dX = None
    for k in range(len(layers) - 1, -1, -1):
        p = layers[k]
        n_hidden = p["W_hh"].shape[1]
        inputs = X if k == 0 else caches[k - 1].H_all[1:]
        if k > 0:
            dX_k = ws.get(("dX", k), inputs.shape)
        elif need_dX:
            dX_k = np.empty(inputs.shape, dtype)
        else:
            dX_k = SKIP_OUTPUT[dtype]
        dh_k = dh_n[k] if dh_n is not None and dh_n[k] is not None else \
            ws.zeros(("zero_h", k), (batch, n_hidden))
        dc_k = None
        if impl.has_cell_state:
            dc_k = dc_n[k] if dc_n is not None and dc_n[k] is not None else \
                ws.zeros(("zero_c", k), (batch, n_hidden))
        dh0s[k], dc0s[k] = impl.backward(p, grads[k], inputs, caches[k], dH, dh_k, dc_k,
                                         dX_k, ws, k, activation)
        dH = dX_k
        if k == 0 and need_dX:
            dX = dX_k
    return dX, dh0s, dc0s


def stack_infer(cell, layers, X, ws, activation, return_sequences):
    """Inference through stacked layers from zero initial states.

    Unlike the training passes this works on batch-first ``X`` (batch,
    n_steps, n_features), the layout users pass to ``predict``, so no
    transposed copy is made. Nothing is kept for a backward pass; only the
    layers below the top and, with ``return_sequences``, the top layer write
    their states at every step.

    Returns
    -------
    H : ndarray of shape (batch, H_last) or (batch, n_steps, H_last)
        The top layer's final state, or its state at every step. It may be
        a view into ``ws``: valid until the workspace is used again.
    """
    impl = CELLS[cell]
    batch, n_steps, _ = X.shape
    inputs = X
    out = None
    for k, p in enumerate(layers):
        n_hidden = p["W_hh"].shape[1]
        top = k == len(layers) - 1
        if top and not return_sequences:
            H_seq = SKIP_OUTPUT[X.dtype]
        else:
            # two alternating buffers: layer k reads layer k - 1's states
            H_seq = ws.get(("H_seq", k % 2), (batch, n_steps, n_hidden))
        h_n = impl.infer(p, inputs, ws, k, activation, H_seq)
        out = H_seq if (top and return_sequences) else h_n
        inputs = H_seq
    return out
