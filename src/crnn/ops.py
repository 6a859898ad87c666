"""Forward and backward passes of stacked recurrent layers over a batch.

These functions expose the compiled kernels on plain NumPy arrays in the
PyTorch parameter layout (SPEC section 3), for gradient checks, custom
training loops or as building blocks. ``crnn.reference`` implements the same
functions in pure NumPy.

Shapes (batch-first, like ``torch.nn.RNN(batch_first=True)``):

- ``X``: (n_samples, n_steps, n_features)
- ``layers``: list with one dict per stacked layer k, holding ``W_ih``
  (G*H_k, I_k), ``W_hh`` (G*H_k, H_k), ``b_ih`` (G*H_k,), ``b_hh`` (G*H_k,),
  where G is 1 (rnn), 4 (lstm: gates i, f, g, o) or 3 (gru: gates r, z, n),
  I_0 = n_features and I_k = H_{k-1}.
- ``output``: (n_samples, n_steps, H_last), the top layer's h_t at every step.
- ``h_n`` (and ``c_n``): list with one (n_samples, H_k) array per layer.

Everything is computed in ``X``'s dtype if it is float32 or float64 (else
float64); parameters are converted to it. The kernels release the GIL.
"""
from collections.abc import Mapping

import numpy as np

from crnn import _layers, _spec

__all__ = [
    "forward", "backward",
    "rnn_forward", "rnn_backward",
    "lstm_forward", "lstm_backward",
    "gru_forward", "gru_backward",
]

DIRECTIONS = ("forward", "reverse", "bidirectional")


class _Cache:
    """Opaque state a forward pass hands to its backward pass."""

    def __init__(self, cell, activation, layers, sequences, stack, direction, width):
        self.cell = cell
        self.activation = activation
        self.layers = layers
        self.sequences = sequences
        self.stack = stack
        self.direction = direction
        self.width = width


def _real_array(a, dtype, name):
    """``a`` as a C-contiguous ``dtype`` array; complex or non-numeric is a TypeError
    (NumPy would drop imaginary parts with only a warning)."""
    a = np.asarray(a)
    if a.dtype.kind == "c":
        raise TypeError(f"{name} is complex ({a.dtype}); crnn computes with real numbers")
    if a.dtype.kind in "USVMm":
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.dtype.kind not in "biuf":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}") from exc
    return np.ascontiguousarray(a, dtype=dtype)


def _as_float(X):
    X = np.asarray(X)
    return _real_array(X, X.dtype if X.dtype in (np.float32, np.float64) else np.float64,
                       "X")


def _check_layers(cell, layers, n_features, dtype, direction):
    n_gates = _spec.N_GATES[cell]
    if isinstance(layers, dict):
        layers = [layers]
    if len(layers) == 0:
        raise ValueError("layers must hold at least one layer's parameters")
    suffixes = ("", _layers.REVERSE_SUFFIX) if direction == "bidirectional" else ("",)
    checked = []
    n_in = n_features
    for k, p in enumerate(layers):
        if not isinstance(p, Mapping):
            raise TypeError(f"layers[{k}] must be a dict with {list(_spec.PARAM_NAMES)}, "
                            f"got {type(p).__name__}")
        names = [name + suffix for suffix in suffixes for name in _spec.PARAM_NAMES]
        missing = [name for name in names if name not in p]
        if missing:
            hint = " (direction='bidirectional' needs the _reverse weights too)" \
                if direction == "bidirectional" else ""
            raise ValueError(f"layer {k} is missing {missing}{hint}")
        q = {name: _real_array(p[name], dtype, f"layer {k} {name}") for name in names}
        n_hidden = q["W_hh"].shape[-1] if q["W_hh"].ndim == 2 else -1
        for suffix in suffixes:
            expected = {"W_ih": (n_gates * n_hidden, n_in),
                        "W_hh": (n_gates * n_hidden, n_hidden),
                        "b_ih": (n_gates * n_hidden,), "b_hh": (n_gates * n_hidden,)}
            for name, shape in expected.items():
                if q[name + suffix].shape != shape or n_hidden < 1:
                    raise ValueError(
                        f"layer {k} {name + suffix} has shape {q[name + suffix].shape}; a "
                        f"{cell} layer with {n_in} inputs and H={n_hidden} needs {shape}")
                if not np.all(np.isfinite(q[name + suffix])):
                    raise ValueError(f"layer {k} {name + suffix} contains NaN or infinity")
        if any(name.startswith("ln_") for name in p):
            # layer normalisation (SPEC 10): all of the cell's gains and biases
            n_ln = 6 if cell == "lstm" else 4
            for suffix in suffixes:
                for name in _spec.LN_NAMES[:n_ln]:
                    width = n_hidden if name.startswith("ln_c") else n_gates * n_hidden
                    if name + suffix not in p:
                        raise ValueError(f"layer {k} has layer-normalisation parameters but "
                                         f"is missing {name + suffix}")
                    value = _real_array(p[name + suffix], dtype, f"layer {k} {name + suffix}")
                    if value.shape != (width,):
                        raise ValueError(f"layer {k} {name + suffix} has shape {value.shape}, "
                                         f"needs {(width,)}")
                    if not np.all(np.isfinite(value)):
                        raise ValueError(f"layer {k} {name + suffix} contains NaN or infinity")
                    q[name + suffix] = value
        checked.append(q)
        n_in = len(suffixes) * n_hidden
    return checked


def _check_states(states, layers, n_samples, dtype, name, n_dir):
    if states is None:
        return None
    if len(states) != len(layers):
        raise ValueError(f"{name} needs one array per layer ({len(layers)}), got {len(states)}")
    out = []
    for k, (s, p) in enumerate(zip(states, layers)):
        shape = (n_samples, n_dir * p["W_hh"].shape[1])
        if s is None:
            out.append(None)
            continue
        s = _real_array(s, dtype, f"{name}[{k}]")
        if s.shape != shape:
            raise ValueError(f"{name}[{k}] has shape {s.shape}, expected {shape}")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"{name}[{k}] contains NaN or infinity")
        out.append(s)
    return out


def _check_lengths(lengths, n_samples, n_steps):
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.dtype.kind not in "iu" or lengths.shape != (n_samples,):
        raise ValueError(f"lengths must hold one int per sequence, shape ({n_samples},); "
                         f"got dtype {lengths.dtype} and shape {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > n_steps:
        raise ValueError(f"lengths must lie in [1, n_steps={n_steps}]; got values from "
                         f"{lengths.min()} to {lengths.max()}")
    lengths = lengths.astype(np.intp)
    return None if np.all(lengths == n_steps) else lengths


def _forward(cell, X, layers, h0, c0, activation, lengths=None, direction="forward"):
    X = _as_float(X)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D (n_samples, n_steps, n_features), got shape {X.shape}")
    if min(X.shape) < 1:
        raise ValueError(f"X must have at least one sample, step and feature, got shape {X.shape}")
    if activation not in _spec.ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_spec.ACTIVATIONS)}, "
                         f"got {activation!r}")
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    n_samples, n_steps, _ = X.shape
    lengths = _check_lengths(lengths, n_samples, n_steps)
    valid = X if lengths is None else X[np.arange(n_steps) < lengths[:, np.newaxis]]
    if not np.all(np.isfinite(valid)):
        raise ValueError("X contains NaN or infinity")
    dtype = X.dtype
    layers = _check_layers(cell, layers, X.shape[2], dtype, direction)
    n_dir = 2 if direction == "bidirectional" else 1
    seqs = _layers.PackedSequences(n_samples, n_steps, lengths)
    h0 = seqs.sort(_check_states(h0, layers, n_samples, dtype, "h0", n_dir))
    c0 = seqs.sort(_check_states(c0, layers, n_samples, dtype, "c0", n_dir))
    ws = _layers.Workspace(dtype)
    stack = _layers.stack_forward(cell, layers, seqs.pack(X), seqs.packing, ws, activation,
                                  h0=h0, c0=c0, reverse=direction == "reverse")
    output = seqs.unpack(stack.output)
    h_n, c_n = stack.final_states()
    h_n = seqs.unsort(h_n)
    c_n = seqs.unsort(c_n) if cell == "lstm" else None
    cache = _Cache(cell, activation, layers, seqs, stack, direction, output.shape[2])
    return output, h_n, c_n, cache


def _backward(cache, d_output, d_h_n, d_c_n, truncate=None):
    if not isinstance(cache, _Cache):
        raise TypeError("cache must be the object returned by the matching forward function")
    if truncate is not None and (not isinstance(truncate, (int, np.integer)) or truncate < 1):
        raise ValueError(f"truncate must be None or a positive int, got {truncate!r}")
    seqs = cache.sequences
    dtype = cache.stack.inputs[0].dtype
    n_samples, n_steps = seqs.n_samples, seqs.n_steps
    n_dir = 2 if cache.direction == "bidirectional" else 1
    d_output = _real_array(d_output, dtype, "d_output")
    expected = (n_samples, n_steps, cache.width)
    if d_output.shape != expected:
        raise ValueError(f"d_output has shape {d_output.shape}, expected {expected}")
    valid = d_output if seqs.rows is None else d_output[seqs.rows]
    if not np.all(np.isfinite(valid)):
        raise ValueError("d_output contains NaN or infinity")
    d_h_n = seqs.sort(_check_states(d_h_n, cache.layers, n_samples, dtype, "d_h_n", n_dir))
    d_c_n = seqs.sort(_check_states(d_c_n, cache.layers, n_samples, dtype, "d_c_n", n_dir))
    d_layers = [{name: np.empty_like(value) for name, value in p.items()}
                for p in cache.layers]
    ws = _layers.Workspace(dtype)
    dX_rows, dh0, dc0 = _layers.stack_backward(
        cache.cell, cache.layers, d_layers, seqs.packing, cache.stack, seqs.pack(d_output),
        d_h_n, d_c_n, ws, cache.activation, need_dX=True, truncate=truncate,
        reverse=cache.direction == "reverse")
    dX = seqs.unpack(dX_rows)
    dh0 = seqs.unsort(dh0)
    dc0 = seqs.unsort(dc0) if cache.cell == "lstm" else None
    return dX, d_layers, dh0, dc0


def forward(cell, X, layers, h0=None, c0=None, *, activation="tanh", lengths=None,
            direction="forward"):
    """Forward pass of stacked layers of any cell, with lengths and a direction.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    X : array-like of shape (n_samples, n_steps, n_features)
        Input sequences, batch-first, padded past their lengths (the
        padding values are never read).
    layers : list of dict
        One dict per layer in the SPEC 3 layout; with
        ``direction="bidirectional"`` each dict also holds ``W_ih_reverse``,
        ``W_hh_reverse``, ``b_ih_reverse``, ``b_hh_reverse`` (PyTorch's
        names) and layer k > 0 reads both directions' outputs (I_k = 2 H_{k-1}).
        A dict that also holds ``ln_ih_weight``, ``ln_ih_bias``,
        ``ln_hh_weight``, ``ln_hh_bias`` (G*H,) and, for the LSTM,
        ``ln_c_weight``, ``ln_c_bias`` (H,) (and their ``_reverse`` twins)
        is a layer-normalised layer (SPEC 10); :func:`backward` then
        returns their gradients too.
    h0, c0 : list of ndarray of shape (n_samples, D*H_k), default=None
        Initial states per layer (``c0`` for the LSTM only), D = 2 for a
        bidirectional stack (forward state first); None means zeros.
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Nonlinearity of the vanilla cell (ignored by lstm and gru).
    lengths : array-like of int of shape (n_samples,), default=None
        Valid steps of each sequence; None means every sequence has
        ``n_steps``. Each sequence runs over its own steps only, exactly
        as if it had been passed alone: ``output`` is zero past its length
        and its final forward state is the one at its last valid step.
    direction : {"forward", "reverse", "bidirectional"}, default="forward"
        "reverse" runs every layer from each sequence's last valid step to
        its first; "bidirectional" runs both and concatenates
        [forward, reverse] (the reverse final state is the one at step 0,
        as PyTorch's ``h_n``).

    Returns
    -------
    output : ndarray of shape (n_samples, n_steps, D*H_last)
    h_n : list of ndarray of shape (n_samples, D*H_k)
    c_n : list of ndarray of shape (n_samples, D*H_k) or None
        Final cell states (LSTM only).
    cache : object
        Opaque; pass it to :func:`backward`.
    """
    if cell not in _spec.CELLS:
        raise ValueError(f"cell must be one of {_spec.CELLS}, got {cell!r}")
    return _forward(cell, X, layers, h0, c0, activation, lengths, direction)


def backward(cache, d_output, d_h_n=None, d_c_n=None, *, truncate=None):
    """Backpropagation through time for :func:`forward`.

    Parameters
    ----------
    cache : object
        The cache returned by :func:`forward`.
    d_output : array-like of shape (n_samples, n_steps, D*H_last)
        Gradient of the loss with respect to ``output`` (ignored past each
        sequence's length).
    d_h_n, d_c_n : list of ndarray of shape (n_samples, D*H_k), default=None
        Gradients with respect to the final states; None means zero.
    truncate : int, default=None
        Truncated BPTT: no gradient crosses a boundary of windows of
        ``truncate`` steps counted from each sequence's first step in the
        direction of the pass (the state carried across a boundary is
        treated as a constant, like PyTorch's ``detach()`` every k steps).

    Returns
    -------
    dX : ndarray of shape (n_samples, n_steps, n_features)
    d_layers : list of dict
        Gradients keyed like the parameters.
    d_h0 : list of ndarray of shape (n_samples, D*H_k)
    d_c0 : list of ndarray of shape (n_samples, D*H_k) or None
    """
    return _backward(cache, d_output, d_h_n, d_c_n, truncate)


def rnn_forward(X, layers, h0=None, *, activation="tanh", lengths=None, direction="forward"):
    """Forward pass of stacked vanilla (Elman) RNN layers.

    For each layer and step::

        h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

    Parameters
    ----------
    X : array-like of shape (n_samples, n_steps, n_features)
        Input sequences, batch-first.
    layers : list of dict
        One dict per layer with ``W_ih`` (H_k, I_k), ``W_hh`` (H_k, H_k),
        ``b_ih`` (H_k,) and ``b_hh`` (H_k,); layer k > 0 reads layer k-1's
        hidden sequence (I_k = H_{k-1}).
    h0 : list of ndarray of shape (n_samples, H_k), default=None
        Initial hidden state of each layer; None means zeros.
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Nonlinearity of every layer.
    lengths, direction
        Variable lengths and the direction of the pass, as for :func:`forward`.

    Returns
    -------
    output : ndarray of shape (n_samples, n_steps, H_last)
        Hidden state of the top layer at every step.
    h_n : list of ndarray of shape (n_samples, H_k)
        Final hidden state of each layer.
    cache : object
        Opaque; pass it to :func:`rnn_backward`.
    """
    output, h_n, _, cache = _forward("rnn", X, layers, h0, None, activation, lengths, direction)
    return output, h_n, cache


def rnn_backward(cache, d_output, d_h_n=None, *, truncate=None):
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    cache : object
        The cache returned by :func:`rnn_forward`.
    d_output : array-like of shape (n_samples, n_steps, H_last)
        Gradient of the loss with respect to ``output``.
    d_h_n : list of ndarray of shape (n_samples, H_k), default=None
        Gradient with respect to each layer's final state ``h_n``; None means
        zero.

    truncate : int, default=None
        Truncated BPTT window, as for :func:`backward`.

    Returns
    -------
    dX : ndarray of shape (n_samples, n_steps, n_features)
        Gradient with respect to ``X``.
    d_layers : list of dict
        Gradients with respect to each layer's ``W_ih``, ``W_hh``, ``b_ih``,
        ``b_hh``, same shapes as the parameters.
    d_h0 : list of ndarray of shape (n_samples, H_k)
        Gradient with respect to each layer's initial state.
    """
    dX, d_layers, dh0, _ = _backward(cache, d_output, d_h_n, None, truncate)
    return dX, d_layers, dh0


def lstm_forward(X, layers, h0=None, c0=None, *, lengths=None, direction="forward"):
    """Forward pass of stacked LSTM layers.

    For each layer and step, with the gate rows of every parameter stacked in
    the order i, f, g, o (PyTorch's ``torch.nn.LSTM`` layout)::

        i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
        f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
        g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
        o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)

    where ``*`` is the elementwise product and, for layer k > 0, ``x_t`` is
    layer k-1's ``h_t``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_steps, n_features)
        Input sequences, batch-first.
    layers : list of dict
        One dict per layer k with hidden size H_k and input size I_k
        (I_0 = n_features, I_k = H_{k-1}):

        - ``W_ih`` : ndarray of shape (4*H_k, I_k), ``[W_ii | W_if | W_ig | W_io]``
          stacked by rows (``weight_ih_l[k]`` in PyTorch);
        - ``W_hh`` : ndarray of shape (4*H_k, H_k), ``[W_hi | W_hf | W_hg | W_ho]``
          (``weight_hh_l[k]``);
        - ``b_ih`` : ndarray of shape (4*H_k,), ``[b_ii | b_if | b_ig | b_io]``
          (``bias_ih_l[k]``);
        - ``b_hh`` : ndarray of shape (4*H_k,), ``[b_hi | b_hf | b_hg | b_ho]``
          (``bias_hh_l[k]``).
    h0 : list of ndarray of shape (n_samples, H_k), default=None
        Initial hidden state of each layer; None means zeros.
    c0 : list of ndarray of shape (n_samples, H_k), default=None
        Initial cell state of each layer; None means zeros.

    lengths, direction
        Variable lengths and the direction of the pass, as for :func:`forward`.

    Returns
    -------
    output : ndarray of shape (n_samples, n_steps, H_last)
        Hidden state ``h_t`` of the top layer at every step.
    h_n : list of ndarray of shape (n_samples, H_k)
        Final hidden state of each layer.
    c_n : list of ndarray of shape (n_samples, H_k)
        Final cell state of each layer.
    cache : object
        Opaque; pass it to :func:`lstm_backward`.
    """
    return _forward("lstm", X, layers, h0, c0, "tanh", lengths, direction)


def lstm_backward(cache, d_output, d_h_n=None, d_c_n=None, *, truncate=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    cache : object
        The cache returned by :func:`lstm_forward`.
    d_output : array-like of shape (n_samples, n_steps, H_last)
        Gradient of the loss with respect to ``output``.
    d_h_n : list of ndarray of shape (n_samples, H_k), default=None
        Gradient with respect to each layer's final hidden state ``h_n``;
        None means zero. For a layer below the top it enters that layer's
        last step only.
    d_c_n : list of ndarray of shape (n_samples, H_k), default=None
        Gradient with respect to each layer's final cell state ``c_n``; None
        means zero.

    truncate : int, default=None
        Truncated BPTT window, as for :func:`backward`.

    Returns
    -------
    dX : ndarray of shape (n_samples, n_steps, n_features)
        Gradient with respect to ``X``.
    d_layers : list of dict
        Gradients with respect to each layer's ``W_ih`` (4*H_k, I_k),
        ``W_hh`` (4*H_k, H_k), ``b_ih`` and ``b_hh`` (4*H_k,), gate blocks in
        the order i, f, g, o like the parameters.
    d_h0 : list of ndarray of shape (n_samples, H_k)
        Gradient with respect to each layer's initial hidden state.
    d_c0 : list of ndarray of shape (n_samples, H_k)
        Gradient with respect to each layer's initial cell state.
    """
    return _backward(cache, d_output, d_h_n, d_c_n, truncate)


def gru_forward(X, layers, h0=None, *, lengths=None, direction="forward"):
    """Forward pass of stacked GRU layers.

    For each layer and step, with the gate rows of every parameter stacked in
    the order r, z, n (PyTorch's ``torch.nn.GRU`` layout)::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    where ``*`` is the elementwise product and, for layer k > 0, ``x_t`` is
    layer k-1's ``h_t``. The reset gate multiplies the recurrent term
    including its bias ``b_hn``, so ``b_in`` and ``b_hn`` are not
    interchangeable.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_steps, n_features)
        Input sequences, batch-first.
    layers : list of dict
        One dict per layer k with hidden size H_k and input size I_k
        (I_0 = n_features, I_k = H_{k-1}):

        - ``W_ih`` : ndarray of shape (3*H_k, I_k), ``[W_ir | W_iz | W_in]``
          stacked by rows (``weight_ih_l[k]`` in PyTorch);
        - ``W_hh`` : ndarray of shape (3*H_k, H_k), ``[W_hr | W_hz | W_hn]``
          (``weight_hh_l[k]``);
        - ``b_ih`` : ndarray of shape (3*H_k,), ``[b_ir | b_iz | b_in]``
          (``bias_ih_l[k]``);
        - ``b_hh`` : ndarray of shape (3*H_k,), ``[b_hr | b_hz | b_hn]``
          (``bias_hh_l[k]``).
    h0 : list of ndarray of shape (n_samples, H_k), default=None
        Initial hidden state of each layer; None means zeros.

    lengths, direction
        Variable lengths and the direction of the pass, as for :func:`forward`.

    Returns
    -------
    output : ndarray of shape (n_samples, n_steps, H_last)
        Hidden state ``h_t`` of the top layer at every step.
    h_n : list of ndarray of shape (n_samples, H_k)
        Final hidden state of each layer.
    cache : object
        Opaque; pass it to :func:`gru_backward`.
    """
    output, h_n, _, cache = _forward("gru", X, layers, h0, None, "tanh", lengths, direction)
    return output, h_n, cache


def gru_backward(cache, d_output, d_h_n=None, *, truncate=None):
    """Backpropagation through time for :func:`gru_forward`.

    Parameters
    ----------
    cache : object
        The cache returned by :func:`gru_forward`.
    d_output : array-like of shape (n_samples, n_steps, H_last)
        Gradient of the loss with respect to ``output``.
    d_h_n : list of ndarray of shape (n_samples, H_k), default=None
        Gradient with respect to each layer's final state ``h_n``; None means
        zero. For a layer below the top it enters that layer's last step only.

    truncate : int, default=None
        Truncated BPTT window, as for :func:`backward`.

    Returns
    -------
    dX : ndarray of shape (n_samples, n_steps, n_features)
        Gradient with respect to ``X``.
    d_layers : list of dict
        Gradients with respect to each layer's ``W_ih`` (3*H_k, I_k),
        ``W_hh`` (3*H_k, H_k), ``b_ih`` and ``b_hh`` (3*H_k,), gate blocks in
        the order r, z, n like the parameters.
    d_h0 : list of ndarray of shape (n_samples, H_k)
        Gradient with respect to each layer's initial state.
    """
    dX, d_layers, dh0, _ = _backward(cache, d_output, d_h_n, None, truncate)
    return dX, d_layers, dh0
