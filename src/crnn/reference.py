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

**Layer normalisation** (a layer dict holding ``ln_ih_weight`` etc.;
SPEC 10, Ba, Kiros and Hinton 2016): with
:math:`\mathrm{LN}(a; \gamma, \beta) = \gamma \odot (a - \mu(a)) / \sqrt{\sigma^2(a) + 10^{-5}} + \beta`
over the G*H gate units of one step, every cell uses
:math:`\mathrm{LN}(W_{ih} x_t; \gamma_{ih}, \beta_{ih}) + b_{ih}` in place of
:math:`W_{ih} x_t + b_{ih}` and
:math:`\mathrm{LN}(W_{hh} h_{t-1}; \gamma_{hh}, \beta_{hh}) + b_{hh}` in place of
:math:`W_{hh} h_{t-1} + b_{hh}` (the GRU's n block included, before
:math:`r_t` multiplies it); the LSTM's output becomes
:math:`h_t = o_t \odot \tanh(\mathrm{LN}(c_t; \gamma_c, \beta_c))` over its H
units, while :math:`c_t` itself is carried unnormalised.

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

from crnn._spec import ACTIVATIONS, CELLS, LN_NAMES, N_GATES, PARAM_NAMES

__all__ = [
    "forward",
    "backward",
    "rnn_forward",
    "rnn_backward",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
    "train_epoch",
]

_REVERSE = "_reverse"


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
# One step of each cell: the maths of SPEC 3, once
# ---------------------------------------------------------------------------
# A step function takes the layer's parameters ``p``, the input-side
# pre-activation ``gi = W_ih x_t + b_ih`` (N, G*H) and the previous states,
# and returns (h_t, c_t, saved); its backward twin takes what the forward
# step saw and produced plus dL/dh_t (and dL/dc_t) and returns
# (d_in, d_rec, dh_direct, dc_prev): the deltas of the input-side and the
# recurrent-side pre-activations, the part of dL/dh_{t-1} that does not go
# through W_hh, and dL/dc_{t-1}.

LN_EPS = 1e-5  # torch.nn.LayerNorm's default


def _layer_norm(a, gain, bias):
    """LN over the last axis; returns the output and what backward needs."""
    mean = a.mean(axis=-1, keepdims=True)
    rstd = 1.0 / np.sqrt(a.var(axis=-1, keepdims=True) + LN_EPS)
    xhat = (a - mean) * rstd
    return xhat * gain + bias, (xhat, rstd, gain)


def _layer_norm_backward(dy, saved):
    """dL/da of :func:`_layer_norm` from dL/d(output)."""
    xhat, rstd, gain = saved
    g = dy * gain
    return rstd * (g - g.mean(axis=-1, keepdims=True)
                   - xhat * (g * xhat).mean(axis=-1, keepdims=True))


def _rnn_step(p, gi, gh, h, c, activation):
    h_t = _activate(gi + gh, activation)
    return h_t, None, None


def _rnn_step_backward(p, saved, h_prev, c_prev, h_t, c_t, dh, dc, activation):
    delta = dh * _activation_grad(h_t, activation)
    return delta, delta, 0, None, None


def _lstm_step(p, gi, gh, h, c, activation):
    H = h.shape[1]
    a = gi + gh                                               # (N, 4H)
    i = _sigmoid(a[:, 0:H])
    f = _sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = _sigmoid(a[:, 3 * H:4 * H])
    c_t = f * c + i * g
    ln_c = None
    if "ln_c_weight" in p:
        y, ln_c = _layer_norm(c_t, p["ln_c_weight"], p["ln_c_bias"])
        tanh_c = np.tanh(y)
    else:
        tanh_c = np.tanh(c_t)
    h_t = o * tanh_c
    return h_t, c_t, (i, f, g, o, tanh_c, ln_c)


def _lstm_step_backward(p, saved, h_prev, c_prev, h_t, c_t, dh, dc, activation):
    i, f, g, o, tanh_c, ln_c = saved
    d_y = dh * o * (1 - tanh_c * tanh_c)                     # dL/d(tanh's argument)
    dc = dc + (d_y if ln_c is None else _layer_norm_backward(d_y, ln_c))  # dL/dc_t
    # per-row contributions to the c normalisation's gain and bias
    ln_grads = None if ln_c is None else {"ln_c_weight": d_y * ln_c[0], "ln_c_bias": d_y}
    delta = np.concatenate([dc * g * i * (1 - i),             # through i
                            dc * c_prev * f * (1 - f),        # through f
                            dc * i * (1 - g * g),             # through g
                            dh * tanh_c * o * (1 - o)],       # through o
                           axis=1)
    return delta, delta, 0, dc * f, ln_grads


def _gru_step(p, gi, gh, h, c, activation):
    H = h.shape[1]                                            # gh: hidden side, (N, 3H)
    r = _sigmoid(gi[:, 0:H] + gh[:, 0:H])
    z = _sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    h_t = (1 - z) * n + z * h
    return h_t, None, (r, z, n, gh[:, 2 * H:])


def _gru_step_backward(p, saved, h_prev, c_prev, h_t, c_t, dh, dc, activation):
    r, z, n, hn = saved
    dn = dh * (1 - z) * (1 - n * n)                           # through n's tanh
    dz = dh * (h_prev - n) * z * (1 - z)
    dr = dn * hn * r * (1 - r)
    d_in = np.concatenate([dr, dz, dn], axis=1)
    d_rec = np.concatenate([dr, dz, dn * r], axis=1)
    return d_in, d_rec, dh * z, None, None


_STEPS = {"rnn": (_rnn_step, _rnn_step_backward),
          "lstm": (_lstm_step, _lstm_step_backward),
          "gru": (_gru_step, _gru_step_backward)}


# ---------------------------------------------------------------------------
# Argument handling
# ---------------------------------------------------------------------------

def _as_float_array(X):
    """``X`` as an ndarray of float32 or float64 (other dtypes become float64)."""
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X



def _directions(layer):
    return 2 if "W_hh" + _REVERSE in layer else 1


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
        n_dir = _directions(layer)
        p = {}
        for suffix in ("", _REVERSE)[:n_dir]:
            q = {key: np.asarray(layer[key + suffix]).astype(X.dtype, copy=False)
                 for key in PARAM_NAMES}
            n_hidden = q["W_hh"].shape[1]
            if (q["W_ih"].shape != (n_gates * n_hidden, n_in)
                    or q["W_hh"].shape != (n_gates * n_hidden, n_hidden)
                    or q["b_ih"].shape != (n_gates * n_hidden,)
                    or q["b_hh"].shape != (n_gates * n_hidden,)):
                raise ValueError(
                    f"layer {k}: expected W_ih {(n_gates * n_hidden, n_in)}, "
                    f"W_hh {(n_gates * n_hidden, n_hidden)}, b_ih and b_hh "
                    f"{(n_gates * n_hidden,)}; got "
                    + ", ".join(f"{key} {q[key].shape}" for key in PARAM_NAMES))
            p.update({key + suffix: q[key] for key in PARAM_NAMES})
            if "ln_ih_weight" + suffix in layer:
                n_ln = 6 if n_gates == 4 else 4
                for key in LN_NAMES[:n_ln]:
                    value = np.asarray(layer[key + suffix]).astype(X.dtype, copy=False)
                    width = n_hidden if key.startswith("ln_c") else n_gates * n_hidden
                    if value.shape != (width,):
                        raise ValueError(f"layer {k}: {key + suffix} must have shape "
                                         f"{(width,)}, got {value.shape}")
                    p[key + suffix] = value
        params.append(p)
        n_in = n_dir * p["W_hh"].shape[1]
    return X, params


def _direction(p, d):
    """One direction's parameters of a layer, under the plain names."""
    suffix = _REVERSE if d == 1 else ""
    return {key: p[key + suffix] for key in PARAM_NAMES + LN_NAMES if key + suffix in p}


def _states(states, n, widths, dtype, name):
    """One (N, W_k) state per layer: the given ones, cast, or zeros."""
    if states is None:
        return [np.zeros((n, w), dtype=dtype) for w in widths]
    if len(states) != len(widths):
        raise ValueError(f"{name} must hold one array per layer "
                         f"({len(widths)}), got {len(states)}")
    out = []
    for k, (s, w) in enumerate(zip(states, widths)):
        s = np.zeros((n, w), dtype) if s is None else np.asarray(s).astype(dtype, copy=False)
        if s.shape != (n, w):
            raise ValueError(f"{name}[{k}] must have shape {(n, w)}, got {s.shape}")
        out.append(s)
    return out


def _parameter_grads(p, x, h_prev, d_in, d_rec, ln_in=None, ln_rec=None):
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
    ln_in : tuple or None
        Layer normalisation of the input projection (what
        :func:`_layer_norm` saved over all steps), or None.
    ln_rec : tuple of ndarray or None
        With layer normalisation: the normalised recurrent projections
        (N, T, G*H) and dL/d(W_hh h_{t-1}) before the normalisation.

    Returns
    -------
    dx : ndarray of shape (N, T, I)
    grads : dict
        ``W_ih`` (G*H, I), ``W_hh`` (G*H, H), ``b_ih`` (G*H,), ``b_hh`` (G*H,).
    """
    # sum over samples n and steps t of outer(delta[n, t], x[n, t])
    grads = {"b_ih": d_in.sum(axis=(0, 1)), "b_hh": d_rec.sum(axis=(0, 1))}
    d_proj_in, d_proj_rec = d_in, d_rec
    if ln_in is not None:
        xhat_rec, d_proj_rec = ln_rec
        grads["ln_ih_weight"] = (d_in * ln_in[0]).sum(axis=(0, 1))
        grads["ln_ih_bias"] = grads["b_ih"].copy()
        grads["ln_hh_weight"] = (d_rec * xhat_rec).sum(axis=(0, 1))
        grads["ln_hh_bias"] = grads["b_hh"].copy()
        d_proj_in = _layer_norm_backward(d_in, ln_in)
    grads["W_ih"] = np.tensordot(d_proj_in, x, axes=([0, 1], [0, 1]))
    grads["W_hh"] = np.tensordot(d_proj_rec, h_prev, axes=([0, 1], [0, 1]))
    dx = d_proj_in @ p["W_ih"]
    return dx, grads




# ---------------------------------------------------------------------------
# One layer in one direction, and the stack
# ---------------------------------------------------------------------------

def _layer_forward(cell, x, p, h0, c0, activation, lengths, reverse):
    """Run one direction of one layer over batch-first ``x`` (N, T, I).

    With ``lengths``, a sequence's steps past its length leave its state
    unchanged and output zeros; the reverse direction starts each sequence
    at its own last step.
    """
    step, _ = _STEPS[cell]
    n, n_steps, _ = x.shape
    n_hidden = p["W_hh"].shape[1]
    layer_norm = "ln_ih_weight" in p
    x_proj = x @ p["W_ih"].T                                  # (N, T, G*H)
    ln_in = None
    if layer_norm:
        x_proj, ln_in = _layer_norm(x_proj, p["ln_ih_weight"], p["ln_ih_bias"])
    x_proj = x_proj + p["b_ih"]
    out = np.zeros((n, n_steps, n_hidden), dtype=x.dtype)
    order = list(range(n_steps))[::-1] if reverse else list(range(n_steps))
    h, c = h0, c0
    steps = [None] * n_steps
    for t in order:
        active = None if lengths is None else (lengths > t)[:, np.newaxis]
        gh = h @ p["W_hh"].T
        ln_rec = None
        if layer_norm:
            gh, ln_rec = _layer_norm(gh, p["ln_hh_weight"], p["ln_hh_bias"])
        h_t, c_t, saved = step(p, x_proj[:, t], gh + p["b_hh"], h, c, activation)
        steps[t] = (h, c, h_t, c_t, saved, active, ln_rec)
        if active is not None:
            h_t = np.where(active, h_t, h)
            c_t = None if c is None else np.where(active, c_t, c)
            out[:, t] = np.where(active, h_t, 0)
        else:
            out[:, t] = h_t
        h, c = h_t, c_t
    return out, h, c, {"x": x, "steps": steps, "order": order, "ln_in": ln_in}


def _layer_backward(cell, lc, p, d_out, dh, dc, activation, lengths, reverse, truncate):
    """Backward of :func:`_layer_forward`: (dx, grads, dL/dh_0, dL/dc_0)."""
    _, step_backward = _STEPS[cell]
    steps = lc["steps"]
    n, n_steps, _ = d_out.shape
    width = p["W_hh"].shape[0]
    d_in = np.zeros((n, n_steps, width), dtype=d_out.dtype)
    d_rec = np.zeros_like(d_in)
    layer_norm = lc["ln_in"] is not None
    step_grads = {}  # parameters used inside a step's cell (LSTM's c normalisation)
    d_proj_rec = np.zeros_like(d_in) if layer_norm else d_rec
    xhat_rec = np.zeros_like(d_in) if layer_norm else None
    for t in lc["order"][::-1]:
        h_prev, c_prev, h_t, c_t, saved, active, ln_rec = steps[t]
        di, dr, dh_direct, dc_prev, row_grads = step_backward(
            p, saved, h_prev, c_prev, h_t, c_t, dh + d_out[:, t], dc, activation)
        if active is not None:
            di, dr = di * active, dr * active
        for key, rows in (row_grads or {}).items():
            if active is not None:
                rows = rows * active
            step_grads[key] = step_grads.get(key, 0) + rows.sum(axis=0)
        # dL/d(W_hh h_{t-1}): through the normalisation, if any
        dp = _layer_norm_backward(dr, ln_rec) if layer_norm else dr
        dh_prev = dh_direct + dp @ p["W_hh"]                  # dL/dh_{t-1}
        if layer_norm:
            d_proj_rec[:, t], xhat_rec[:, t] = dp, ln_rec[0]
        if active is not None:
            dh_prev = np.where(active, dh_prev, dh)
            if dc is not None:
                dc_prev = np.where(active, dc_prev, dc)
        if truncate:
            # no gradient crosses a window boundary of k steps counted from
            # each sequence's own first step in this direction
            position = (lengths - 1 - t) if (reverse and lengths is not None) else \
                np.full(n, (n_steps - 1 - t) if reverse else t)
            cut = ((position > 0) & (position % truncate == 0))[:, np.newaxis]
            if active is not None:
                cut = cut & active
            dh_prev = np.where(cut, 0, dh_prev)
            if dc_prev is not None:
                dc_prev = np.where(cut, 0, dc_prev)
        d_in[:, t], d_rec[:, t] = di, dr
        dh, dc = dh_prev, dc_prev
    h_prev_seq = np.stack([steps[t][0] for t in range(n_steps)], axis=1)
    dx, grads = _parameter_grads(p, lc["x"], h_prev_seq, d_in, d_rec, lc["ln_in"],
                                 (xhat_rec, d_proj_rec) if layer_norm else None)
    grads.update(step_grads)
    return dx, grads, dh, dc


def forward(cell, X, layers, h0=None, c0=None, *, activation="tanh", lengths=None,
            dropout_masks=None):
    """Forward pass of a stack of layers of any cell, with lengths and directions.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    X : ndarray of shape (N, T, I)
        Batch of padded input sequences; float32 or float64.
    layers : list of dict
        Per layer ``W_ih``, ``W_hh``, ``b_ih``, ``b_hh`` and, for a
        bidirectional layer, the same names with ``_reverse``; layer k > 0
        reads layer k - 1's output (both directions side by side).
    h0, c0 : list of ndarray of shape (N, D*H_k), optional
        Initial states per layer (forward then reverse); zeros if None.
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Vanilla cell only.
    lengths : ndarray of int of shape (N,), optional
        Valid steps per sequence (all T if None). Past its length a
        sequence's output is zero; its forward final state is the one at
        its last valid step, its reverse pass starts there.
    dropout_masks : list of ndarray of shape (N, T, D*H_k), optional
        Multipliers of each layer's output below the top (dropout).

    Returns
    -------
    output : ndarray of shape (N, T, D*H_last)
    h_n : list of ndarray of shape (N, D*H_k)
    c_n : list of ndarray of shape (N, D*H_k) or None (LSTM only)
    cache : dict
        For :func:`backward`.
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    X, params = _prepare(X, layers, N_GATES[cell])
    n = X.shape[0]
    if lengths is not None:
        lengths = np.asarray(lengths, dtype=np.intp)
    widths = [_directions(p) * p["W_hh"].shape[1] for p in params]
    h0 = _states(h0, n, widths, X.dtype, "h0")
    c0 = _states(c0, n, widths, X.dtype, "c0") if cell == "lstm" else [None] * len(params)
    layer_caches, h_n, c_n = [], [], []
    x = X
    for k, p in enumerate(params):
        H = p["W_hh"].shape[1]
        outs, hs, cs, lcs = [], [], [], []
        for d in range(_directions(p)):
            cols = slice(d * H, (d + 1) * H)
            out, h, c, lc = _layer_forward(cell, x, _direction(p, d), h0[k][:, cols],
                                           None if c0[k] is None else c0[k][:, cols],
                                           activation, lengths, d == 1)
            outs.append(out)
            hs.append(h)
            cs.append(c)
            lcs.append(lc)
        layer_caches.append(lcs)
        output = np.concatenate(outs, axis=2)
        h_n.append(np.concatenate(hs, axis=1))
        c_n.append(np.concatenate(cs, axis=1) if cell == "lstm" else None)
        if dropout_masks is not None and k < len(params) - 1:
            output = output * dropout_masks[k]
        x = output
    cache = {"cell": cell, "activation": activation, "params": params, "layers": layer_caches,
             "dtype": X.dtype, "n_samples": n, "lengths": lengths,
             "dropout_masks": dropout_masks, "output_shape": x.shape}
    return x, h_n, (c_n if cell == "lstm" else None), cache


def backward(cache, d_output, d_h_n=None, d_c_n=None, *, truncate=None):
    """Backpropagation through time for :func:`forward`.

    Parameters
    ----------
    cache : dict
        From :func:`forward`.
    d_output : ndarray of shape (N, T, D*H_last) or None
        Gradient of the loss with respect to ``output`` (None: zeros).
    d_h_n, d_c_n : list of ndarray of shape (N, D*H_k), optional
        Gradients with respect to the final states; zeros if None.
    truncate : int, optional
        Truncated BPTT: no gradient crosses a boundary of windows of
        ``truncate`` steps counted from each sequence's first step in the
        direction of the pass (the state's dependence on earlier windows
        is treated as constant, as with PyTorch's ``detach()`` every k steps).

    Returns
    -------
    dX : ndarray of shape (N, T, I)
    d_layers : list of dict
        Gradients keyed like the parameters (``_reverse`` included).
    d_h0 : list of ndarray of shape (N, D*H_k)
    d_c0 : list of ndarray of shape (N, D*H_k) or None (LSTM only)
    """
    cell, activation = cache["cell"], cache["activation"]
    params, dtype, n = cache["params"], cache["dtype"], cache["n_samples"]
    lengths, masks = cache["lengths"], cache["dropout_masks"]
    shape = cache["output_shape"]
    if d_output is None:
        d_out = np.zeros(shape, dtype=dtype)
    else:
        d_out = np.asarray(d_output).astype(dtype, copy=False)
        if d_out.shape != shape:
            raise ValueError(f"d_output must have shape {shape}, got {d_out.shape}")
    widths = [_directions(p) * p["W_hh"].shape[1] for p in params]
    dh_final = _states(d_h_n, n, widths, dtype, "d_h_n")
    dc_final = _states(d_c_n, n, widths, dtype, "d_c_n") if cell == "lstm" \
        else [None] * len(params)
    n_layers = len(params)
    d_layers, d_h0, d_c0 = [None] * n_layers, [None] * n_layers, [None] * n_layers
    for k in reversed(range(n_layers)):
        p = params[k]
        H = p["W_hh"].shape[1]
        dx_total, grads, dhs, dcs = 0, {}, [], []
        for d in range(_directions(p)):
            cols = slice(d * H, (d + 1) * H)
            dx, g, dh, dc = _layer_backward(
                cell, cache["layers"][k][d], _direction(p, d), d_out[:, :, cols],
                dh_final[k][:, cols], None if dc_final[k] is None else dc_final[k][:, cols],
                activation, lengths, d == 1, truncate)
            dx_total = dx_total + dx
            grads.update({key + (_REVERSE if d == 1 else ""): v for key, v in g.items()})
            dhs.append(dh)
            dcs.append(dc)
        d_layers[k] = grads
        d_h0[k] = np.concatenate(dhs, axis=1)
        d_c0[k] = np.concatenate(dcs, axis=1) if cell == "lstm" else None
        d_out = dx_total
        if k > 0 and masks is not None:
            d_out = d_out * masks[k - 1]
    return d_out, d_layers, d_h0, (d_c0 if cell == "lstm" else None)


# ---------------------------------------------------------------------------
# The per-cell functions (the signatures of crnn.ops)
# ---------------------------------------------------------------------------

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
    output, h_n, _, cache = forward("rnn", X, layers, h0, activation=activation)
    return output, h_n, cache


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
    dX, d_layers, d_h0, _ = backward(cache, d_output, d_h_n)
    return dX, d_layers, d_h0


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
    return forward("lstm", X, layers, h0, c0)


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
    return backward(cache, d_output, d_h_n, d_c_n)


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
    output, h_n, _, cache = forward("gru", X, layers, h0)
    return output, h_n, cache


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
    dX, d_layers, d_h0, _ = backward(cache, d_output, d_h_n)
    return dX, d_layers, d_h0


# ---------------------------------------------------------------------------
# Training: one epoch of minibatch Adam on a squared-error regressor
# ---------------------------------------------------------------------------

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
    if cell not in N_GATES:
        raise ValueError(f"cell must be one of {tuple(N_GATES)}, got {cell!r}")
    if cell == "rnn" and activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, "
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

        output, _, _, cache = forward(cell, Xb, layers, activation=activation)
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
        d_layers = backward(cache, d_output)[1]
        _adam_update(params, d_layers + [d_readout], adam_state, learning_rate)
    return float(np.mean(batch_losses)), adam_state
