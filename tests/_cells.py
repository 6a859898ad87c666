"""Uniform calls into crnn.ops / crnn.reference for any cell (test helper)."""
import numpy as np

from ._numerics import rel_error  # noqa: F401  (re-exported for the tests)

N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def make_layers(cell, n_features, hidden_sizes, rng, dtype=np.float64, scale=0.6):
    layers, n_in = [], n_features
    G = N_GATES[cell]
    for H in hidden_sizes:
        layers.append({
            "W_ih": (rng.uniform(-scale, scale, (G * H, n_in))).astype(dtype),
            "W_hh": (rng.uniform(-scale, scale, (G * H, H))).astype(dtype),
            "b_ih": (rng.uniform(-scale, scale, G * H)).astype(dtype),
            "b_hh": (rng.uniform(-scale, scale, G * H)).astype(dtype),
        })
        n_in = H
    return layers


def forward(impl, cell, X, layers, h0=None, c0=None, activation="tanh"):
    """Returns (output, h_n, c_n or None, cache)."""
    if cell == "rnn":
        out, h_n, cache = impl.rnn_forward(X, layers, h0, activation=activation)
        return out, h_n, None, cache
    if cell == "gru":
        out, h_n, cache = impl.gru_forward(X, layers, h0)
        return out, h_n, None, cache
    return impl.lstm_forward(X, layers, h0, c0)


def backward(impl, cell, cache, d_output, d_h_n=None, d_c_n=None):
    """Returns (dX, d_layers, d_h0, d_c0 or None)."""
    if cell == "lstm":
        return impl.lstm_backward(cache, d_output, d_h_n, d_c_n)
    dX, d_layers, d_h0 = getattr(impl, f"{cell}_backward")(cache, d_output, d_h_n)
    return dX, d_layers, d_h0, None
