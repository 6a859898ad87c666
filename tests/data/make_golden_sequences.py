"""Generate the PyTorch golden files of ``tests/test_golden_sequences.py``:
packed variable-length sequences through one- and two-directional stacks.

Run by hand, only when these cases change; the outputs
(``tests/data/sequences_packed_*.npz``) are committed and the tests never
import torch. In a scratch virtual environment outside the repository::

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install numpy torch==2.13.0   # exactly this version
    /tmp/torchenv/bin/python tests/data/make_golden_sequences.py

What it computes
----------------
For every cell in {rnn (tanh), lstm, gru}, dtype in {float64, float32} and
direction in {uni, bi}, a two-layer ``torch.nn.RNN/LSTM/GRU(batch_first=True,
bidirectional=...)`` over ``pack_padded_sequence(X, lengths,
enforce_sorted=False)`` with seeded weights, initial states and lengths
[5, 2, 4, 1]; the padded output (``pad_packed_sequence``, zeros past each
length), h_n (and c_n) and, by autograd, the gradients of

    L = sum(output * G) + sum(h_n * Gh) (+ sum(c_n * Gc))

with respect to X, h0 (c0) and every parameter.

npz keys (k = layer; crnn's layout, states with both directions side by side)
--------------------------------------------------------------------------
meta:       cell, direction ("uni" or "bi"), lengths, torch_version
inputs:     X (N, T, I) (padded with NaN past each length); h0.k, c0.k (N, D*H)
parameters: layer{k}.W_ih ... layer{k}.b_hh and, when bi, layer{k}.W_ih_reverse ...
loss:       G (N, T, D*H), Gh.k (N, D*H), Gc.k (lstm)
outputs:    output (N, T, D*H), h_n.k, c_n.k (lstm)
gradients:  grad.X, grad.h0.k, grad.c0.k (lstm), grad.layer{k}.<name>
"""
import os

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
N, T, I, H, LAYERS = 4, 5, 3, 4, 2
LENGTHS = np.array([5, 2, 4, 1])
CELLS = {"rnn": (torch.nn.RNN, 1, 100), "lstm": (torch.nn.LSTM, 4, 200),
         "gru": (torch.nn.GRU, 3, 300)}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}
NAMES = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def run(cell, direction, dtype):
    cls, n_gates, seed = CELLS[cell]
    n_dir = 2 if direction == "bi" else 1
    rng = np.random.default_rng(seed + (7 if direction == "bi" else 0))
    tdtype = TORCH_DTYPES[dtype]
    module = cls(I, H, num_layers=LAYERS, batch_first=True, bidirectional=n_dir == 2)
    module = module.to(tdtype)
    out = {"cell": cell, "direction": direction, "lengths": LENGTHS,
           "torch_version": torch.__version__}
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, param.shape)))
    X = rng.standard_normal((N, T, I))
    for i, n in enumerate(LENGTHS):
        X[i, n:] = 0.0
    h0 = 0.5 * rng.standard_normal((LAYERS * n_dir, N, H))
    c0 = 0.5 * rng.standard_normal((LAYERS * n_dir, N, H))
    G = rng.standard_normal((N, T, n_dir * H))
    for i, n in enumerate(LENGTHS):
        G[i, n:] = 0.0
    Gh = rng.standard_normal((LAYERS * n_dir, N, H))
    Gc = rng.standard_normal((LAYERS * n_dir, N, H))

    def tensor(a, grad=False):
        return torch.tensor(a, dtype=tdtype, requires_grad=grad)

    Xt, h0t, c0t = tensor(X, True), tensor(h0, True), tensor(c0, True)
    packed = pack_padded_sequence(Xt, torch.tensor(LENGTHS), batch_first=True,
                                  enforce_sorted=False)
    if cell == "lstm":
        y, (h_n, c_n) = module(packed, (h0t, c0t))
    else:
        y, h_n = module(packed, h0t)
    y, _ = pad_packed_sequence(y, batch_first=True, total_length=T)
    loss = (y * tensor(G)).sum() + (h_n * tensor(Gh)).sum()
    if cell == "lstm":
        loss = loss + (c_n * tensor(Gc)).sum()
    loss.backward()

    def per_layer(a):  # (L * D, N, H) -> per layer (N, D * H), forward first
        a = np.asarray(a)
        return [np.concatenate([a[k * n_dir + d] for d in range(n_dir)], axis=1)
                for k in range(LAYERS)]

    npd = np.float64 if dtype == "float64" else np.float32
    X_nan = X.copy()
    for i, n in enumerate(LENGTHS):
        X_nan[i, n:] = np.nan
    out["X"] = X_nan.astype(npd)
    out["G"] = G.astype(npd)
    out["output"] = y.detach().numpy()
    out["grad.X"] = Xt.grad.numpy()
    for k in range(LAYERS):
        out[f"h0.{k}"] = per_layer(h0)[k].astype(npd)
        out[f"Gh.{k}"] = per_layer(Gh)[k].astype(npd)
        out[f"h_n.{k}"] = per_layer(h_n.detach().numpy())[k]
        out[f"grad.h0.{k}"] = per_layer(h0t.grad.numpy())[k]
        if cell == "lstm":
            out[f"c0.{k}"] = per_layer(c0)[k].astype(npd)
            out[f"Gc.{k}"] = per_layer(Gc)[k].astype(npd)
            out[f"c_n.{k}"] = per_layer(c_n.detach().numpy())[k]
            out[f"grad.c0.{k}"] = per_layer(c0t.grad.numpy())[k]
        for suffix in ("", "_reverse")[:n_dir]:
            for name, torch_name in NAMES.items():
                param = getattr(module, f"{torch_name}_l{k}{suffix}")
                out[f"layer{k}.{name}{suffix}"] = param.detach().numpy().copy()
                out[f"grad.layer{k}.{name}{suffix}"] = param.grad.numpy().copy()
    return out


def main():
    for cell in CELLS:
        for direction in ("uni", "bi"):
            for dtype in TORCH_DTYPES:
                out = run(cell, direction, dtype)
                path = os.path.join(HERE, f"sequences_packed_{cell}_{direction}_{dtype}.npz")
                np.savez_compressed(path, **out)
                print("wrote", path)


if __name__ == "__main__":
    main()
