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

from crnn import _layers

__all__ = [
    "rnn_forward", "rnn_backward",
    "lstm_forward", "lstm_backward",
    "gru_forward", "gru_backward",
]

_PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")


class _Cache:
    """Opaque state a forward pass hands to its backward pass."""

    def __init__(self, cell, activation, layers, X_tm, caches):
        self.cell = cell
        self.activation = activation
        self.layers = layers
        self.X_tm = X_tm
        self.caches = caches


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


def _check_layers(cell, layers, n_features, dtype):
    n_gates = _layers.CELLS[cell].n_gates
    if isinstance(layers, dict):
        layers = [layers]
    if len(layers) == 0:
        raise ValueError("layers must hold at least one layer's parameters")
    checked = []
    n_in = n_features
    for k, p in enumerate(layers):
        if not isinstance(p, Mapping):
            raise TypeError(f"layers[{k}] must be a dict with {list(_PARAM_NAMES)}, "
                            f"got {type(p).__name__}")
        missing = [name for name in _PARAM_NAMES if name not in p]
        if missing:
            raise ValueError(f"layer {k} is missing {missing}")
        q = {name: _real_array(p[name], dtype, f"layer {k} {name}") for name in _PARAM_NAMES}
        n_hidden = q["W_hh"].shape[-1] if q["W_hh"].ndim == 2 else -1
        expected = {"W_ih": (n_gates * n_hidden, n_in),
                    "W_hh": (n_gates * n_hidden, n_hidden),
                    "b_ih": (n_gates * n_hidden,), "b_hh": (n_gates * n_hidden,)}
        for name, shape in expected.items():
            if q[name].shape != shape or n_hidden < 1:
                raise ValueError(
                    f"layer {k} {name} has shape {q[name].shape}; a {cell} layer with "
                    f"{n_in} inputs and H={n_hidden} needs {shape}")
            if not np.all(np.isfinite(q[name])):
                raise ValueError(f"layer {k} {name} contains NaN or infinity")
        checked.append(q)
        n_in = n_hidden
    return checked


def _check_states(states, layers, n_samples, dtype, name):
    if states is None:
        return None
    if len(states) != len(layers):
        raise ValueError(f"{name} needs one array per layer ({len(layers)}), got {len(states)}")
    out = []
    for k, (s, p) in enumerate(zip(states, layers)):
        shape = (n_samples, p["W_hh"].shape[1])
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


def _forward(cell, X, layers, h0, c0, activation):
    X = _as_float(X)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D (n_samples, n_steps, n_features), got shape {X.shape}")
    if min(X.shape) < 1:
        raise ValueError(f"X must have at least one sample, step and feature, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity")
    if activation not in _layers.ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_layers.ACTIVATIONS)}, "
                         f"got {activation!r}")
    dtype = X.dtype
    layers = _check_layers(cell, layers, X.shape[2], dtype)
    n_samples = X.shape[0]
    h0 = _check_states(h0, layers, n_samples, dtype, "h0")
    c0 = _check_states(c0, layers, n_samples, dtype, "c0")
    X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
    ws = _layers.Workspace(dtype)
    caches = _layers.stack_forward(cell, layers, X_tm, h0, c0, ws, activation)
    output = np.ascontiguousarray(caches[-1].H_all[1:].transpose(1, 0, 2))
    h_n = [c.H_all[-1].copy() for c in caches]
    c_n = [c.C_all[-1].copy() for c in caches] if cell == "lstm" else None
    return output, h_n, c_n, _Cache(cell, activation, layers, X_tm, caches)


def _backward(cache, d_output, d_h_n, d_c_n):
    if not isinstance(cache, _Cache):
        raise TypeError("cache must be the object returned by the matching forward function")
    dtype = cache.X_tm.dtype
    n_steps, n_samples, _ = cache.X_tm.shape
    top = cache.layers[-1]["W_hh"].shape[1]
    d_output = _real_array(d_output, dtype, "d_output")
    if d_output.shape != (n_samples, n_steps, top):
        raise ValueError(f"d_output has shape {d_output.shape}, expected "
                         f"{(n_samples, n_steps, top)}")
    if not np.all(np.isfinite(d_output)):
        raise ValueError("d_output contains NaN or infinity")
    dH_top = np.ascontiguousarray(d_output.transpose(1, 0, 2))
    d_h_n = _check_states(d_h_n, cache.layers, n_samples, dtype, "d_h_n")
    d_c_n = _check_states(d_c_n, cache.layers, n_samples, dtype, "d_c_n")
    d_layers = [{name: np.empty_like(p[name]) for name in _PARAM_NAMES}
                for p in cache.layers]
    ws = _layers.Workspace(dtype)
    dX_tm, dh0, dc0 = _layers.stack_backward(
        cache.cell, cache.layers, d_layers, cache.X_tm, cache.caches, dH_top,
        d_h_n, d_c_n, ws, cache.activation, need_dX=True)
    dX = np.ascontiguousarray(dX_tm.transpose(1, 0, 2))
    dh0 = [d.copy() for d in dh0]
    dc0 = [d.copy() for d in dc0] if cache.cell == "lstm" else None
    return dX, d_layers, dh0, dc0


def rnn_forward(X, layers, h0=None, *, activation="tanh"):
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

    Returns
    -------
    output : ndarray of shape (n_samples, n_steps, H_last)
        Hidden state of the top layer at every step.
    h_n : list of ndarray of shape (n_samples, H_k)
        Final hidden state of each layer.
    cache : object
        Opaque; pass it to :func:`rnn_backward`.
    """
    output, h_n, _, cache = _forward("rnn", X, layers, h0, None, activation)
    return output, h_n, cache


def rnn_backward(cache, d_output, d_h_n=None):
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
    dX, d_layers, dh0, _ = _backward(cache, d_output, d_h_n, None)
    return dX, d_layers, dh0


def lstm_forward(X, layers, h0=None, c0=None):
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
    return _forward("lstm", X, layers, h0, c0, "tanh")


def lstm_backward(cache, d_output, d_h_n=None, d_c_n=None):
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
    return _backward(cache, d_output, d_h_n, d_c_n)


def gru_forward(X, layers, h0=None):
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

    Returns
    -------
    output : ndarray of shape (n_samples, n_steps, H_last)
        Hidden state ``h_t`` of the top layer at every step.
    h_n : list of ndarray of shape (n_samples, H_k)
        Final hidden state of each layer.
    cache : object
        Opaque; pass it to :func:`gru_backward`.
    """
    output, h_n, _, cache = _forward("gru", X, layers, h0, None, "tanh")
    return output, h_n, cache


def gru_backward(cache, d_output, d_h_n=None):
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
    dX, d_layers, dh0, _ = _backward(cache, d_output, d_h_n, None)
    return dX, d_layers, dh0
