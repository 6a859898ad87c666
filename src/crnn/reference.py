r"""Pure NumPy reference implementation of the crnn recurrent layers.

This module is the oracle the tests compare the compiled kernels against and
the baseline the benchmarks time. It imports only NumPy, loops over time
steps in plain Python and spells out each equation once, so that it can be
read next to the maths below. It has the same signatures as :mod:`crnn.ops`.

Conventions
-----------
Arrays are batch-first: the input ``X`` has shape ``(N, T, I)`` (``N``
sequences of ``T`` steps with ``I`` features). A network is a list of
stacked recurrent layers, one ``dict`` per layer with the PyTorch layout::

    W_ih  (G * H_k, I_k)    input-to-hidden weights, gate blocks stacked by rows
    W_hh  (G * H_k, H_k)    hidden-to-hidden weights
    b_ih  (G * H_k,)        input bias
    b_hh  (G * H_k,)        hidden bias

where ``G`` is the number of gates (1 for ``rnn``, 4 for ``lstm``, 3 for
``gru``), ``H_k`` is the hidden size of layer ``k``, ``I_0 = I`` and
``I_k = H_{k-1}``: layer ``k > 0`` reads the hidden sequence of layer
``k - 1``. The weights can therefore be copied to and from
``torch.nn.RNN/LSTM/GRU`` (``weight_ih_l{k}`` etc.) without reshaping.

All computation happens in ``X``'s dtype (float32 or float64); parameters
and initial states are cast to it.

Equations
---------
For each layer and each step ``t = 1..T``, with input ``x_t`` and previous
hidden state ``h_{t-1}`` (``h_0`` given, zeros by default),
:math:`\sigma` the logistic sigmoid and :math:`\odot` the elementwise
product:

**rnn** (Elman), ``act`` one of ``tanh``, ``relu``, ``sigmoid``:

.. math::

    h_t = \mathrm{act}(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

**lstm**, gate row blocks in the order ``i, f, g, o``:

.. math::

    i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
    f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
    g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
    o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)

**gru**, gate row blocks in the order ``r, z, n``:

.. math::

    r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
    z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
    n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
    h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

The ``output`` of a network is the top layer's hidden sequence
``h_1..h_T``; ``h_n`` (and ``c_n``) hold every layer's final state.

Backward (backpropagation through time)
---------------------------------------
The ``*_backward`` functions take the gradient of a scalar loss with respect
to ``output`` and, optionally, to the final states, and return the gradients
with respect to ``X``, every parameter and the initial states. The layers are
visited top to bottom; within a layer the steps are visited from ``T`` down
to 1, carrying ``dL/dh_t`` (and ``dL/dc_t``) backwards. Writing ``delta_t``
for the gradient of the gate pre-activations at step ``t``, the parameter
gradients are sums over steps (and samples) of outer products::

    dW_ih = sum_t delta_t^T x_t          dW_hh = sum_t delta_t^T h_{t-1}
    db_ih = sum_t delta_t                db_hh = sum_t delta_t

(for the GRU the ``n`` block of the hidden-side ``delta`` is multiplied by
``r_t``). The gradient of ``h_n`` of a lower layer enters that layer's final
step only; it is the same tensor as that layer's output at step ``T``.

The module also provides :func:`train_epoch`, one epoch of minibatch Adam
training of a squared-error regressor, the NumPy baseline of the demo and
the benchmarks.
"""
import math

import numpy as np

__all__ = [
    "rnn_forward",
    "rnn_backward",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
    "train_epoch",
]

_ACTIVATIONS = ("tanh", "relu", "sigmoid")
_N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_PARAM_KEYS = ("W_ih", "W_hh", "b_ih", "b_hh")


# ---------------------------------------------------------------------------
# Elementwise activations
# ---------------------------------------------------------------------------

def _sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)) without overflow or underflow.

    ``exp`` is only taken of ``-|x|``, which cannot overflow, and ``|x|`` is
    capped just below the point where ``exp(-|x|)`` would leave the normal
    range of the dtype (|x| ~ 87 in float32, ~ 708 in float64), so that even
    ``np.errstate(all="raise")`` is quiet. The cap changes the result by
    less than the smallest normal number.
    """
    x = np.asarray(x)
    cap = math.floor(-math.log(np.finfo(x.dtype).tiny)) - 1
    e = np.exp(-np.minimum(np.abs(x), cap))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def _activate(a, activation):
    """Apply the vanilla cell's activation to the pre-activation ``a``."""
    if activation == "tanh":
        return np.tanh(a)
    if activation == "relu":
        return np.maximum(a, 0)
    return _sigmoid(a)


def _activation_grad(h, activation):
    """Derivative of the activation, expressed through its output ``h``."""
    if activation == "tanh":
        return 1 - h * h
    if activation == "relu":
        return (h > 0).astype(h.dtype)
    return h * (1 - h)


# ---------------------------------------------------------------------------
# Argument handling shared by the three cells
# ---------------------------------------------------------------------------

def _as_float_array(X):
    """``X`` as an ndarray of float32 or float64 (other dtypes become float64)."""
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X


def _prepare(X, layers, n_gates):
    """Validate ``X`` lightly and cast every layer's parameters to its dtype."""
    X = _as_float_array(X)
    if X.ndim != 3:
        raise ValueError(f"X must be 3-D (N, T, I), got shape {X.shape}")
    if len(layers) == 0:
        raise ValueError("layers must hold at least one layer")
    params = []
    n_in = X.shape[2]
    for k, layer in enumerate(layers):
        p = {key: np.asarray(layer[key]).astype(X.dtype, copy=False)
             for key in _PARAM_KEYS}
        n_hidden = p["W_hh"].shape[1]
        if (p["W_ih"].shape != (n_gates * n_hidden, n_in)
                or p["W_hh"].shape != (n_gates * n_hidden, n_hidden)
                or p["b_ih"].shape != (n_gates * n_hidden,)
                or p["b_hh"].shape != (n_gates * n_hidden,)):
            raise ValueError(
                f"layer {k}: expected W_ih {(n_gates * n_hidden, n_in)}, "
                f"W_hh {(n_gates * n_hidden, n_hidden)}, b_ih and b_hh "
                f"{(n_gates * n_hidden,)}; got "
                + ", ".join(f"{key} {p[key].shape}" for key in _PARAM_KEYS))
        params.append(p)
        n_in = n_hidden
    return X, params


def _initial_states(states, X, params, name):
    """One (N, H_k) initial state per layer: the given ones, cast, or zeros."""
    n = X.shape[0]
    sizes = [p["W_hh"].shape[1] for p in params]
    if states is None:
        return [np.zeros((n, h), dtype=X.dtype) for h in sizes]
    if len(states) != len(params):
        raise ValueError(f"{name} must hold one array per layer "
                         f"({len(params)}), got {len(states)}")
    out = []
    for k, (s, h) in enumerate(zip(states, sizes)):
        s = np.asarray(s).astype(X.dtype, copy=False)
        if s.shape != (n, h):
            raise ValueError(f"{name}[{k}] must have shape {(n, h)}, got {s.shape}")
        out.append(s)
    return out


def _final_state_grads(d_states, cache, name):
    """One (N, H_k) gradient per layer for the final states (zeros if None)."""
    dtype = cache["dtype"]
    n = cache["n_samples"]
    sizes = [p["W_hh"].shape[1] for p in cache["params"]]
    if d_states is None:
        return [np.zeros((n, h), dtype=dtype) for h in sizes]
    if len(d_states) != len(sizes):
        raise ValueError(f"{name} must hold one array per layer "
                         f"({len(sizes)}), got {len(d_states)}")
    return [np.asarray(d).astype(dtype, copy=False) for d in d_states]


def _output_grad(d_output, cache):
    """dL/d output as an (N, T, H_last) array of the cache's dtype."""
    layer = cache["layers"][-1]
    shape = layer["h"][:, 1:].shape
    if d_output is None:
        return np.zeros(shape, dtype=cache["dtype"])
    d_output = np.asarray(d_output).astype(cache["dtype"], copy=False)
    if d_output.shape != shape:
        raise ValueError(f"d_output must have shape {shape}, got {d_output.shape}")
    return d_output


def _parameter_grads(p, x, h_prev, d_in, d_rec):
    """Parameter and input gradients of one layer from its pre-activation deltas.

    Parameters
    ----------
    p : dict
        The layer's parameters (``W_ih`` (G*H, I) is the one used here).
    x : ndarray of shape (N, T, I)
        The layer's input sequence.
    h_prev : ndarray of shape (N, T, H)
        ``h_{t-1}`` for every step ``t``.
    d_in, d_rec : ndarray of shape (N, T, G*H)
        dL/d(input-side pre-activation ``W_ih x_t + b_ih``) and
        dL/d(hidden-side pre-activation ``W_hh h_{t-1} + b_hh``); equal
        except for the GRU's candidate block.

    Returns
    -------
    dx : ndarray of shape (N, T, I)
    grads : dict
        ``W_ih`` (G*H, I), ``W_hh`` (G*H, H), ``b_ih`` (G*H,), ``b_hh`` (G*H,).
    """
    # sum over samples n and steps t of outer(delta[n, t], x[n, t])
    grads = {
        "W_ih": np.tensordot(d_in, x, axes=([0, 1], [0, 1])),
        "W_hh": np.tensordot(d_rec, h_prev, axes=([0, 1], [0, 1])),
        "b_ih": d_in.sum(axis=(0, 1)),
        "b_hh": d_rec.sum(axis=(0, 1)),
    }
    dx = d_in @ p["W_ih"]
    return dx, grads


# ---------------------------------------------------------------------------
# Vanilla RNN
# ---------------------------------------------------------------------------

def _rnn_layer_forward(x, p, h0, activation):
    n, n_steps, _ = x.shape
    n_hidden = p["W_hh"].shape[1]
    h = np.empty((n, n_steps + 1, n_hidden), dtype=x.dtype)
    h[:, 0] = h0
    # The input projection does not depend on the recurrence: all steps at once.
    x_proj = x @ p["W_ih"].T + p["b_ih"]                     # (N, T, H)
    for t in range(n_steps):
        a = x_proj[:, t] + h[:, t] @ p["W_hh"].T + p["b_hh"]  # (N, H)
        h[:, t + 1] = _activate(a, activation)
    return {"x": x, "h": h}


def _rnn_layer_backward(lc, p, d_out, dh, activation):
    h = lc["h"]
    n_steps = d_out.shape[1]
    delta = np.empty_like(d_out)                              # dL/da_t, (N, T, H)
    for t in reversed(range(n_steps)):
        dh = dh + d_out[:, t]                                 # dL/dh_t
        delta[:, t] = dh * _activation_grad(h[:, t + 1], activation)
        dh = delta[:, t] @ p["W_hh"]                          # dL/dh_{t-1}
    dx, grads = _parameter_grads(p, lc["x"], h[:, :-1], delta, delta)
    return dx, grads, dh


def rnn_forward(X, layers, h0=None, *, activation="tanh"):
    """Forward pass of a stack of vanilla (Elman) RNN layers.

    ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` in every layer.

    Parameters
    ----------
    X : ndarray of shape (N, T, I)
        Batch of ``N`` input sequences of ``T`` steps with ``I`` features.
        float32 or float64; the computation happens in this dtype.
    layers : list of dict
        One dict per stacked layer ``k`` with ``W_ih`` (H_k, I_k), ``W_hh``
        (H_k, H_k), ``b_ih`` (H_k,) and ``b_hh`` (H_k,); ``I_0 = I`` and
        ``I_k = H_{k-1}``.
    h0 : list of ndarray of shape (N, H_k), optional
        Initial hidden state of each layer; zeros if None.
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Activation of every layer.

    Returns
    -------
    output : ndarray of shape (N, T, H_last)
        Hidden states ``h_1..h_T`` of the top layer.
    h_n : list of ndarray of shape (N, H_k)
        Final hidden state ``h_T`` of each layer.
    cache : dict
        Everything :func:`rnn_backward` needs (inputs, hidden sequences,
        parameters and the activation).

    Raises
    ------
    ValueError
        If ``activation`` is unknown or shapes do not match.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, "
                         f"got {activation!r}")
    X, params = _prepare(X, layers, _N_GATES["rnn"])
    h0 = _initial_states(h0, X, params, "h0")
    layer_caches = []
    x = X
    for p, h0_k in zip(params, h0):
        lc = _rnn_layer_forward(x, p, h0_k, activation)
        layer_caches.append(lc)
        x = lc["h"][:, 1:]
    h_n = [lc["h"][:, -1].copy() for lc in layer_caches]
    cache = {"cell": "rnn", "activation": activation, "params": params,
             "layers": layer_caches, "dtype": X.dtype, "n_samples": X.shape[0]}
    return x.copy(), h_n, cache


def rnn_backward(cache, d_output, d_h_n=None):
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    cache : dict
        The cache returned by :func:`rnn_forward` (it carries the activation).
    d_output : ndarray of shape (N, T, H_last)
        Gradient of the loss with respect to ``output``. None means zeros.
    d_h_n : list of ndarray of shape (N, H_k), optional
        Gradient of the loss with respect to each layer's ``h_n``; zeros if
        None.

    Returns
    -------
    dX : ndarray of shape (N, T, I)
        Gradient with respect to ``X``.
    d_layers : list of dict
        Per layer, the gradients ``W_ih`` (H_k, I_k), ``W_hh`` (H_k, H_k),
        ``b_ih`` (H_k,) and ``b_hh`` (H_k,).
    d_h0 : list of ndarray of shape (N, H_k)
        Gradient with respect to each layer's initial hidden state.
    """
    activation = cache["activation"]
    d_out = _output_grad(d_output, cache)
    dh_final = _final_state_grads(d_h_n, cache, "d_h_n")
    n_layers = len(cache["params"])
    d_layers, d_h0 = [None] * n_layers, [None] * n_layers
    for k in reversed(range(n_layers)):
        d_out, d_layers[k], d_h0[k] = _rnn_layer_backward(
            cache["layers"][k], cache["params"][k], d_out, dh_final[k],
            activation)
    return d_out, d_layers, d_h0


# ---------------------------------------------------------------------------
# LSTM
# ---------------------------------------------------------------------------

def _lstm_layer_forward(x, p, h0, c0):
    n, n_steps, _ = x.shape
    H = p["W_hh"].shape[1]
    h = np.empty((n, n_steps + 1, H), dtype=x.dtype)
    c = np.empty((n, n_steps + 1, H), dtype=x.dtype)
    gates = np.empty((n, n_steps, 4 * H), dtype=x.dtype)     # i, f, g, o after activation
    h[:, 0] = h0
    c[:, 0] = c0
    x_proj = x @ p["W_ih"].T + p["b_ih"]                     # (N, T, 4H)
    for t in range(n_steps):
        a = x_proj[:, t] + h[:, t] @ p["W_hh"].T + p["b_hh"]  # (N, 4H)
        i = _sigmoid(a[:, 0:H])
        f = _sigmoid(a[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        o = _sigmoid(a[:, 3 * H:4 * H])
        c[:, t + 1] = f * c[:, t] + i * g
        h[:, t + 1] = o * np.tanh(c[:, t + 1])
        gates[:, t] = np.concatenate([i, f, g, o], axis=1)
    return {"x": x, "h": h, "c": c, "gates": gates}


def _lstm_layer_backward(lc, p, d_out, dh, dc):
    h, c, gates = lc["h"], lc["c"], lc["gates"]
    n_steps = d_out.shape[1]
    H = h.shape[2]
    delta = np.empty_like(gates)                              # dL/d pre-activations
    for t in reversed(range(n_steps)):
        i = gates[:, t, 0:H]
        f = gates[:, t, H:2 * H]
        g = gates[:, t, 2 * H:3 * H]
        o = gates[:, t, 3 * H:4 * H]
        tanh_c = np.tanh(c[:, t + 1])
        dh = dh + d_out[:, t]                                 # dL/dh_t
        dc = dc + dh * o * (1 - tanh_c * tanh_c)              # dL/dc_t
        delta[:, t, 0:H] = dc * g * i * (1 - i)               # through i
        delta[:, t, H:2 * H] = dc * c[:, t] * f * (1 - f)     # through f
        delta[:, t, 2 * H:3 * H] = dc * i * (1 - g * g)       # through g
        delta[:, t, 3 * H:4 * H] = dh * tanh_c * o * (1 - o)  # through o
        dh = delta[:, t] @ p["W_hh"]                          # dL/dh_{t-1}
        dc = dc * f                                           # dL/dc_{t-1}
    dx, grads = _parameter_grads(p, lc["x"], h[:, :-1], delta, delta)
    return dx, grads, dh, dc


def lstm_forward(X, layers, h0=None, c0=None):
    """Forward pass of a stack of LSTM layers.

    Gate row blocks in the order ``i, f, g, o`` (PyTorch's)::

        i, f, o = sigmoid(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)[blocks i, f, o]
        g       = tanh(   W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)[block g]
        c_t     = f * c_{t-1} + i * g
        h_t     = o * tanh(c_t)

    Parameters
    ----------
    X : ndarray of shape (N, T, I)
        Batch of ``N`` input sequences of ``T`` steps with ``I`` features.
        float32 or float64; the computation happens in this dtype.
    layers : list of dict
        One dict per stacked layer ``k`` with ``W_ih`` (4*H_k, I_k), ``W_hh``
        (4*H_k, H_k), ``b_ih`` (4*H_k,) and ``b_hh`` (4*H_k,); ``I_0 = I``
        and ``I_k = H_{k-1}``.
    h0 : list of ndarray of shape (N, H_k), optional
        Initial hidden state of each layer; zeros if None.
    c0 : list of ndarray of shape (N, H_k), optional
        Initial cell state of each layer; zeros if None.

    Returns
    -------
    output : ndarray of shape (N, T, H_last)
        Hidden states ``h_1..h_T`` of the top layer.
    h_n : list of ndarray of shape (N, H_k)
        Final hidden state ``h_T`` of each layer.
    c_n : list of ndarray of shape (N, H_k)
        Final cell state ``c_T`` of each layer.
    cache : dict
        Everything :func:`lstm_backward` needs.
    """
    X, params = _prepare(X, layers, _N_GATES["lstm"])
    h0 = _initial_states(h0, X, params, "h0")
    c0 = _initial_states(c0, X, params, "c0")
    layer_caches = []
    x = X
    for p, h0_k, c0_k in zip(params, h0, c0):
        lc = _lstm_layer_forward(x, p, h0_k, c0_k)
        layer_caches.append(lc)
        x = lc["h"][:, 1:]
    h_n = [lc["h"][:, -1].copy() for lc in layer_caches]
    c_n = [lc["c"][:, -1].copy() for lc in layer_caches]
    cache = {"cell": "lstm", "params": params, "layers": layer_caches,
             "dtype": X.dtype, "n_samples": X.shape[0]}
    return x.copy(), h_n, c_n, cache


def lstm_backward(cache, d_output, d_h_n=None, d_c_n=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    cache : dict
        The cache returned by :func:`lstm_forward`.
    d_output : ndarray of shape (N, T, H_last)
        Gradient of the loss with respect to ``output``. None means zeros.
    d_h_n : list of ndarray of shape (N, H_k), optional
        Gradient with respect to each layer's ``h_n``; zeros if None.
    d_c_n : list of ndarray of shape (N, H_k), optional
        Gradient with respect to each layer's ``c_n``; zeros if None.

    Returns
    -------
    dX : ndarray of shape (N, T, I)
        Gradient with respect to ``X``.
    d_layers : list of dict
        Per layer, the gradients ``W_ih`` (4*H_k, I_k), ``W_hh``
        (4*H_k, H_k), ``b_ih`` (4*H_k,) and ``b_hh`` (4*H_k,).
    d_h0 : list of ndarray of shape (N, H_k)
        Gradient with respect to each layer's initial hidden state.
    d_c0 : list of ndarray of shape (N, H_k)
        Gradient with respect to each layer's initial cell state.
    """
    d_out = _output_grad(d_output, cache)
    dh_final = _final_state_grads(d_h_n, cache, "d_h_n")
    dc_final = _final_state_grads(d_c_n, cache, "d_c_n")
    n_layers = len(cache["params"])
    d_layers, d_h0, d_c0 = [None] * n_layers, [None] * n_layers, [None] * n_layers
    for k in reversed(range(n_layers)):
        d_out, d_layers[k], d_h0[k], d_c0[k] = _lstm_layer_backward(
            cache["layers"][k], cache["params"][k], d_out, dh_final[k],
            dc_final[k])
    return d_out, d_layers, d_h0, d_c0


# ---------------------------------------------------------------------------
# GRU
# ---------------------------------------------------------------------------

def _gru_layer_forward(x, p, h0):
    n, n_steps, _ = x.shape
    H = p["W_hh"].shape[1]
    h = np.empty((n, n_steps + 1, H), dtype=x.dtype)
    gates = np.empty((n, n_steps, 3 * H), dtype=x.dtype)     # r, z, n after activation
    hn = np.empty((n, n_steps, H), dtype=x.dtype)            # W_hn h_{t-1} + b_hn
    h[:, 0] = h0
    x_proj = x @ p["W_ih"].T + p["b_ih"]                     # (N, T, 3H)
    for t in range(n_steps):
        gi = x_proj[:, t]                                     # input side, (N, 3H)
        gh = h[:, t] @ p["W_hh"].T + p["b_hh"]                # hidden side, (N, 3H)
        r = _sigmoid(gi[:, 0:H] + gh[:, 0:H])
        z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n_t = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h[:, t + 1] = (1 - z) * n_t + z * h[:, t]
        gates[:, t] = np.concatenate([r, z, n_t], axis=1)
        hn[:, t] = gh[:, 2 * H:]
    return {"x": x, "h": h, "gates": gates, "hn": hn}


def _gru_layer_backward(lc, p, d_out, dh):
    h, gates, hn = lc["h"], lc["gates"], lc["hn"]
    n_steps = d_out.shape[1]
    H = h.shape[2]
    d_in = np.empty_like(gates)      # dL/d(W_ih x_t + b_ih)
    d_rec = np.empty_like(gates)     # dL/d(W_hh h_{t-1} + b_hh)
    for t in reversed(range(n_steps)):
        r = gates[:, t, 0:H]
        z = gates[:, t, H:2 * H]
        n_t = gates[:, t, 2 * H:]
        h_prev = h[:, t]
        dh = dh + d_out[:, t]                                 # dL/dh_t
        dn = dh * (1 - z) * (1 - n_t * n_t)                   # through n's tanh
        dz = dh * (h_prev - n_t) * z * (1 - z)
        dr = dn * hn[:, t] * r * (1 - r)
        d_in[:, t, 0:H] = dr
        d_in[:, t, H:2 * H] = dz
        d_in[:, t, 2 * H:] = dn
        d_rec[:, t, 0:H] = dr
        d_rec[:, t, H:2 * H] = dz
        d_rec[:, t, 2 * H:] = dn * r
        dh = dh * z + d_rec[:, t] @ p["W_hh"]                 # dL/dh_{t-1}
    dx, grads = _parameter_grads(p, lc["x"], h[:, :-1], d_in, d_rec)
    return dx, grads, dh


def gru_forward(X, layers, h0=None):
    """Forward pass of a stack of GRU layers.

    Gate row blocks in the order ``r, z, n`` (PyTorch's)::

        r   = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z   = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n   = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z) * n + z * h_{t-1}

    Parameters
    ----------
    X : ndarray of shape (N, T, I)
        Batch of ``N`` input sequences of ``T`` steps with ``I`` features.
        float32 or float64; the computation happens in this dtype.
    layers : list of dict
        One dict per stacked layer ``k`` with ``W_ih`` (3*H_k, I_k), ``W_hh``
        (3*H_k, H_k), ``b_ih`` (3*H_k,) and ``b_hh`` (3*H_k,); ``I_0 = I``
        and ``I_k = H_{k-1}``.
    h0 : list of ndarray of shape (N, H_k), optional
        Initial hidden state of each layer; zeros if None.

    Returns
    -------
    output : ndarray of shape (N, T, H_last)
        Hidden states ``h_1..h_T`` of the top layer.
    h_n : list of ndarray of shape (N, H_k)
        Final hidden state ``h_T`` of each layer.
    cache : dict
        Everything :func:`gru_backward` needs.
    """
    X, params = _prepare(X, layers, _N_GATES["gru"])
    h0 = _initial_states(h0, X, params, "h0")
    layer_caches = []
    x = X
    for p, h0_k in zip(params, h0):
        lc = _gru_layer_forward(x, p, h0_k)
        layer_caches.append(lc)
        x = lc["h"][:, 1:]
    h_n = [lc["h"][:, -1].copy() for lc in layer_caches]
    cache = {"cell": "gru", "params": params, "layers": layer_caches,
             "dtype": X.dtype, "n_samples": X.shape[0]}
    return x.copy(), h_n, cache


def gru_backward(cache, d_output, d_h_n=None):
    """Backpropagation through time for :func:`gru_forward`.

    Parameters
    ----------
    cache : dict
        The cache returned by :func:`gru_forward`.
    d_output : ndarray of shape (N, T, H_last)
        Gradient of the loss with respect to ``output``. None means zeros.
    d_h_n : list of ndarray of shape (N, H_k), optional
        Gradient with respect to each layer's ``h_n``; zeros if None.

    Returns
    -------
    dX : ndarray of shape (N, T, I)
        Gradient with respect to ``X``.
    d_layers : list of dict
        Per layer, the gradients ``W_ih`` (3*H_k, I_k), ``W_hh``
        (3*H_k, H_k), ``b_ih`` (3*H_k,) and ``b_hh`` (3*H_k,).
    d_h0 : list of ndarray of shape (N, H_k)
        Gradient with respect to each layer's initial hidden state.
    """
    d_out = _output_grad(d_output, cache)
    dh_final = _final_state_grads(d_h_n, cache, "d_h_n")
    n_layers = len(cache["params"])
    d_layers, d_h0 = [None] * n_layers, [None] * n_layers
    for k in reversed(range(n_layers)):
        d_out, d_layers[k], d_h0[k] = _gru_layer_backward(
            cache["layers"][k], cache["params"][k], d_out, dh_final[k])
    return d_out, d_layers, d_h0


# ---------------------------------------------------------------------------
# Training: one epoch of minibatch Adam on a squared-error regressor
# ---------------------------------------------------------------------------

def _network_forward(cell, X, layers, activation):
    """Forward of any cell: (output (N, T, H_last), cache)."""
    if cell == "rnn":
        output, _, cache = rnn_forward(X, layers, activation=activation)
    elif cell == "lstm":
        output, _, _, cache = lstm_forward(X, layers)
    else:
        output, _, cache = gru_forward(X, layers)
    return output, cache


def _network_backward(cell, cache, d_output):
    """Backward of any cell: the list of per-layer parameter gradients."""
    if cell == "rnn":
        return rnn_backward(cache, d_output)[1]
    if cell == "lstm":
        return lstm_backward(cache, d_output)[1]
    return gru_backward(cache, d_output)[1]


def _adam_update(params, grads, adam_state, learning_rate,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """One Adam step over lists of parameter and gradient dicts, in place.

    As scikit-learn's ``AdamOptimizer``: ``m = b1 m + (1 - b1) g``,
    ``v = b2 v + (1 - b2) g^2``, ``lr_t = lr sqrt(1 - b2^t) / (1 - b1^t)``,
    ``p -= lr_t m / (sqrt(v) + eps)``.
    """
    if "m" not in adam_state:
        adam_state["t"] = 0
        adam_state["m"] = [{key: np.zeros_like(d[key]) for key in g}
                           for d, g in zip(params, grads)]
        adam_state["v"] = [{key: np.zeros_like(d[key]) for key in g}
                           for d, g in zip(params, grads)]
    adam_state["t"] += 1
    step = adam_state["t"]
    lr_t = learning_rate * math.sqrt(1 - beta_2 ** step) / (1 - beta_1 ** step)
    for p, g, m, v in zip(params, grads, adam_state["m"], adam_state["v"]):
        for key in g:
            m[key] *= beta_1
            m[key] += (1 - beta_1) * g[key]
            v[key] *= beta_2
            v[key] += (1 - beta_2) * g[key] * g[key]
            p[key] -= lr_t * m[key] / (np.sqrt(v[key]) + epsilon)


def train_epoch(cell, X, y, layers, readout, *, batch_size=32,
                learning_rate=1e-3, activation="tanh", return_sequences=False,
                rng=None, adam_state=None):
    """One epoch of minibatch Adam training of a recurrent regressor.

    The model is a stack of recurrent layers followed by a linear readout
    ``pred = W_out h + b_out``, applied to the top layer's final hidden state
    (``return_sequences=False``) or to its hidden state at every step
    (``return_sequences=True``). The loss of a minibatch is
    ``0.5 * mean((pred - y) ** 2)`` over every predicted element. Initial
    states are zeros. There is no regularisation and no gradient clipping.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        Recurrent cell of every layer.
    X : ndarray of shape (N, T, I)
        Training sequences; float32 or float64, the computation happens in
        this dtype.
    y : ndarray of shape (N, O) or (N, T, O)
        Targets: (N, O) if ``return_sequences`` is False, (N, T, O) if True.
        (N,) and (N, T) are accepted as ``O = 1``.
    layers : list of dict
        Recurrent parameters as for :func:`rnn_forward` / :func:`lstm_forward`
        / :func:`gru_forward` (ndarrays ``W_ih``, ``W_hh``, ``b_ih``,
        ``b_hh``). Updated in place.
    readout : dict
        ``W_out`` (O, H_last) and ``b_out`` (O,) ndarrays. Updated in place.
    batch_size : int, default=32
        Minibatch size (the last batch may be smaller).
    learning_rate : float, default=1e-3
        Adam step size.
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Activation of the vanilla cell; ignored for lstm and gru.
    return_sequences : bool, default=False
        Whether to predict at every step or from the final state only.
    rng : numpy.random.Generator, optional
        Shuffles the order of the samples; if None, they are visited in order.
    adam_state : dict, optional
        Adam's moments and step counter from a previous epoch; a new one is
        created if None. Updated in place.

    Returns
    -------
    loss : float
        Mean of the minibatch losses (each computed before its update).
    adam_state : dict
        Keys ``t`` (int, number of updates so far), ``m`` and ``v`` (lists of
        dicts of moment arrays shaped like the parameters, one per layer and
        one last for the readout). Pass it to the next call to continue.
    """
    if cell not in _N_GATES:
        raise ValueError(f"cell must be one of {tuple(_N_GATES)}, got {cell!r}")
    if cell == "rnn" and activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, "
                         f"got {activation!r}")
    X = _as_float_array(X)
    y = np.asarray(y).astype(X.dtype, copy=False)
    if y.ndim == (1 if not return_sequences else 2):
        y = y[..., np.newaxis]
    n_samples = X.shape[0]
    expected = (n_samples, X.shape[1]) if return_sequences else (n_samples,)
    if y.shape[:-1] != expected:
        raise ValueError(f"y must have shape {expected + ('n_outputs',)}, "
                         f"got {y.shape}")
    if adam_state is None:
        adam_state = {}
    order = np.arange(n_samples) if rng is None else rng.permutation(n_samples)
    params = list(layers) + [readout]
    batch_losses = []
    for start in range(0, n_samples, batch_size):
        idx = order[start:start + batch_size]
        Xb, yb = X[idx], y[idx]
        W_out = np.asarray(readout["W_out"]).astype(X.dtype, copy=False)
        b_out = np.asarray(readout["b_out"]).astype(X.dtype, copy=False)

        output, cache = _network_forward(cell, Xb, layers, activation)
        h = output if return_sequences else output[:, -1]    # (B, T, H) or (B, H)
        pred = h @ W_out.T + b_out                            # (B, T, O) or (B, O)
        err = pred - yb
        batch_losses.append(0.5 * float(np.mean(err * err)))

        d_pred = err / err.size                               # dL/d pred
        d_h = d_pred @ W_out
        if return_sequences:
            d_output = d_h
            d_readout = {"W_out": np.tensordot(d_pred, h, axes=([0, 1], [0, 1])),
                         "b_out": d_pred.sum(axis=(0, 1))}
        else:
            d_output = np.zeros_like(output)
            d_output[:, -1] = d_h
            d_readout = {"W_out": d_pred.T @ h, "b_out": d_pred.sum(axis=0)}
        d_layers = _network_backward(cell, cache, d_output)
        _adam_update(params, d_layers + [d_readout], adam_state, learning_rate)
    return float(np.mean(batch_losses)), adam_state
