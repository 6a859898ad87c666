"""
=====================================================
Weights shared with PyTorch: the same LSTM in both
=====================================================

crnn stores every layer in PyTorch's layout (``W_ih``, ``W_hh``, ``b_ih``,
``b_hh`` with the gate blocks in PyTorch's order), so a fitted model's
``coefs_`` can be copied into ``torch.nn.LSTM`` and ``torch.nn.Linear``
unchanged and give the same outputs.

PyTorch is not a dependency of crnn: when it is not installed (as while
these pages were built, unless the output below says otherwise) the
PyTorch part is shown but not run, and the same check runs against
crnn's pure NumPy reference, :mod:`crnn.reference`, which implements
PyTorch's equations step by step.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from crnn import RNNRegressor
from crnn.reference import lstm_forward

try:
    import torch
except ImportError:
    torch = None
    print("PyTorch is not installed: its part of this example is not run.")

# %%
# Fit a two-layer LSTM
# --------------------

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # 30 epochs are enough here
rng = np.random.RandomState(0)
X = rng.randn(256, 15, 3).astype(np.float32)
y = np.tanh(X[:, :, 0].sum(axis=1) / 4) + 0.5 * X[:, -1, 2]
model = RNNRegressor(cell="lstm", hidden_layer_sizes=(32, 16), max_iter=30,
                     learning_rate_init=5e-3, random_state=0).fit(X, y)
y_crnn = model.predict(X)
print("layer shapes:", [{k: v.shape for k, v in layer.items()} for layer in model.coefs_])

# %%
# Copy the weights into PyTorch
# -----------------------------
# Layer ``k``'s arrays are ``weight_ih_l{k}``, ``weight_hh_l{k}``,
# ``bias_ih_l{k}`` and ``bias_hh_l{k}``; both stacked layers of different
# sizes become two ``torch.nn.LSTM`` modules here. The readout is a
# ``torch.nn.Linear``. crnn reads batch-first arrays, hence
# ``batch_first=True``.


def to_torch(model):
    """A torch forward function with the fitted model's weights."""
    layers = []
    n_in = model.n_features_in_
    for params in model.coefs_[:-1]:
        n_hidden = params["W_hh"].shape[1]
        lstm = torch.nn.LSTM(n_in, n_hidden, batch_first=True)
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(torch.from_numpy(params["W_ih"]))
            lstm.weight_hh_l0.copy_(torch.from_numpy(params["W_hh"]))
            lstm.bias_ih_l0.copy_(torch.from_numpy(params["b_ih"]))
            lstm.bias_hh_l0.copy_(torch.from_numpy(params["b_hh"]))
        layers.append(lstm)
        n_in = n_hidden
    readout = torch.nn.Linear(n_in, model.n_outputs_)
    with torch.no_grad():
        readout.weight.copy_(torch.from_numpy(model.coefs_[-1]["W_out"]))
        readout.bias.copy_(torch.from_numpy(model.coefs_[-1]["b_out"]))

    def forward(X):
        with torch.no_grad():
            h = torch.from_numpy(X)
            for lstm in layers:
                h, _ = lstm(h)
            return readout(h[:, -1]).numpy()[:, 0]  # final step, as return_sequences=False

    return forward


if torch is not None:
    y_torch = to_torch(model)(X)
    # with PyTorch 2.13 (CPU) this printed 3.6e-07: float32 rounding
    print(f"max |crnn - PyTorch| = {np.max(np.abs(y_crnn - y_torch)):.2e}")

# %%
# The same check against the NumPy reference
# ------------------------------------------
# :func:`crnn.reference.lstm_forward` takes the same list of layer dicts and
# runs PyTorch's LSTM equations in plain NumPy, one step at a time.

output, h_n, c_n, _ = lstm_forward(X.astype(np.float64), model.coefs_[:-1])
readout = model.coefs_[-1]
y_reference = output[:, -1] @ readout["W_out"].T.astype(np.float64) + readout["b_out"]
y_reference = y_reference[:, 0]
print(f"max |crnn - NumPy reference| = {np.max(np.abs(y_crnn - y_reference)):.2e}")

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.plot(y_reference, y_crnn, ".", ms=4, label="NumPy reference")
if torch is not None:
    ax.plot(y_torch, y_crnn, "x", ms=4, label="PyTorch")
lims = [min(y_crnn.min(), y_reference.min()), max(y_crnn.max(), y_reference.max())]
ax.plot(lims, lims, color="0.6", lw=1)
ax.set(xlabel="output with the copied weights", ylabel="crnn predict",
       title="Same weights, same outputs")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Going the other way, write PyTorch's trained weights into ``coefs_``: the
# arrays are the estimator's live parameters, so the next ``predict`` uses
# them, e.g. ``model.coefs_[0]["W_ih"][...] = lstm.weight_ih_l0.detach().numpy()``.
