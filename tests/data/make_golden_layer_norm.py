"""Generate the PyTorch golden files of ``tests/test_golden_layer_norm.py``:
layer-normalised cells (SPEC 10) in a two-layer stack.

PyTorch has no layer-normalised RNN, LSTM or GRU, so the cells are written
here from ``torch.nn.functional.layer_norm`` and the cell equations (Ba,
Kiros and Hinton 2016, section 3.1 and its LN-LSTM), independently of
crnn's code. Run by hand, only when these cases change; the outputs
(``tests/data/layer_norm_*.npz``) are committed and the tests never import
torch. In a scratch virtual environment outside the repository::

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install numpy torch==2.13.0   # exactly this version
    /tmp/torchenv/bin/python tests/data/make_golden_layer_norm.py

What it computes
----------------
For every cell in {rnn (tanh), lstm, gru} and dtype in {float64, float32},
per layer and step, with LN(a; w, b) = layer_norm over the last axis
(eps 1e-5)::

    pre_ih = LN(x_t W_ih^T; ln_ih_weight, ln_ih_bias) + b_ih
    pre_hh = LN(h_{t-1} W_hh^T; ln_hh_weight, ln_hh_bias) + b_hh
    rnn:  h_t = tanh(pre_ih + pre_hh)
    lstm: i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (pre_ih + pre_hh)
          c_t = f c_{t-1} + i g;  h_t = o tanh(LN(c_t; ln_c_weight, ln_c_bias))
    gru:  r, z = sigmoid of the r, z blocks of (pre_ih + pre_hh)
          n = tanh(pre_ih[n] + r pre_hh[n]);  h_t = (1 - z) n + z h_{t-1}

over a batch of 3 sequences of 6 steps, 4 features, layers of 5 and 3
units, with seeded weights (gains and LN biases drawn away from 1 and 0)
and initial states; the output, h_n (and c_n) and, by autograd, the
gradients of L = sum(output * G) + sum(h_n * Gh) with respect to X, h0 and
every parameter.

npz keys (k = layer; crnn's names)
----------------------------------
inputs:     X (N, T, I); h0.k (and c0.k, lstm) (N, H_k)
parameters: layer{k}.W_ih, W_hh, b_ih, b_hh, ln_ih_weight, ln_ih_bias,
            ln_hh_weight, ln_hh_bias (and ln_c_weight, ln_c_bias, lstm)
loss:       G (N, T, H_last), Gh.k (N, H_k)
outputs:    output (N, T, H_last), h_n.k, c_n.k (lstm)
gradients:  grad.X, grad.h0.k, grad.layer{k}.<name>
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
N, T, I, SIZES = 3, 6, 4, (5, 3)
EPS = 1e-5


def ln(a, weight, bias):
    return F.layer_norm(a, (a.shape[-1],), weight, bias, eps=EPS)


def step(cell, p, x, h, c):
    pre_ih = ln(x @ p["W_ih"].T, p["ln_ih_weight"], p["ln_ih_bias"]) + p["b_ih"]
    pre_hh = ln(h @ p["W_hh"].T, p["ln_hh_weight"], p["ln_hh_bias"]) + p["b_hh"]
    H = h.shape[1]
    if cell == "rnn":
        return torch.tanh(pre_ih + pre_hh), None
    if cell == "lstm":
        a = pre_ih + pre_hh
        i, f = torch.sigmoid(a[:, :H]), torch.sigmoid(a[:, H:2 * H])
        g, o = torch.tanh(a[:, 2 * H:3 * H]), torch.sigmoid(a[:, 3 * H:])
        c = f * c + i * g
        return o * torch.tanh(ln(c, p["ln_c_weight"], p["ln_c_bias"])), c
    r = torch.sigmoid(pre_ih[:, :H] + pre_hh[:, :H])
    z = torch.sigmoid(pre_ih[:, H:2 * H] + pre_hh[:, H:2 * H])
    n = torch.tanh(pre_ih[:, 2 * H:] + r * pre_hh[:, 2 * H:])
    return (1 - z) * n + z * h, None


def make(cell, dtype, seed):
    rng = np.random.default_rng(seed)
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    G = N_GATES[cell]

    def leaf(a):
        return torch.tensor(np.asarray(a, dtype=dtype), dtype=tdtype, requires_grad=True)

    X = leaf(rng.normal(size=(N, T, I)))
    layers, h0s, c0s = [], [], []
    n_in = I
    for H in SIZES:
        bound = 1 / np.sqrt(H)
        p = {"W_ih": leaf(rng.uniform(-bound, bound, (G * H, n_in))),
             "W_hh": leaf(rng.uniform(-bound, bound, (G * H, H))),
             "b_ih": leaf(rng.uniform(-bound, bound, G * H)),
             "b_hh": leaf(rng.uniform(-bound, bound, G * H)),
             "ln_ih_weight": leaf(1 + rng.uniform(-0.5, 0.5, G * H)),
             "ln_ih_bias": leaf(rng.uniform(-0.5, 0.5, G * H)),
             "ln_hh_weight": leaf(1 + rng.uniform(-0.5, 0.5, G * H)),
             "ln_hh_bias": leaf(rng.uniform(-0.5, 0.5, G * H))}
        if cell == "lstm":
            p["ln_c_weight"] = leaf(1 + rng.uniform(-0.5, 0.5, H))
            p["ln_c_bias"] = leaf(rng.uniform(-0.5, 0.5, H))
        layers.append(p)
        h0s.append(leaf(rng.normal(scale=0.5, size=(N, H))))
        c0s.append(leaf(rng.normal(scale=0.5, size=(N, H))) if cell == "lstm" else None)
        n_in = H

    x_seq = X
    h_ns, c_ns = [], []
    for k, p in enumerate(layers):
        h, c = h0s[k], c0s[k]
        outs = []
        for t in range(T):
            h, c = step(cell, p, x_seq[:, t], h, c)
            outs.append(h)
        x_seq = torch.stack(outs, dim=1)
        h_ns.append(h)
        c_ns.append(c)
    G_out = torch.tensor(rng.normal(size=tuple(x_seq.shape)), dtype=tdtype)
    G_h = [torch.tensor(rng.normal(size=tuple(h.shape)), dtype=tdtype) for h in h_ns]
    loss = (x_seq * G_out).sum() + sum((h * g).sum() for h, g in zip(h_ns, G_h))
    loss.backward()

    out = {"X": X.detach().numpy(), "G": G_out.numpy(), "output": x_seq.detach().numpy(),
           "grad.X": X.grad.numpy(), "torch_version": np.array(torch.__version__)}
    for k, p in enumerate(layers):
        out[f"h0.{k}"] = h0s[k].detach().numpy()
        out[f"grad.h0.{k}"] = h0s[k].grad.numpy()
        out[f"Gh.{k}"] = G_h[k].numpy()
        out[f"h_n.{k}"] = h_ns[k].detach().numpy()
        if cell == "lstm":
            out[f"c0.{k}"] = c0s[k].detach().numpy()
            out[f"grad.c0.{k}"] = c0s[k].grad.numpy()
            out[f"c_n.{k}"] = c_ns[k].detach().numpy()
        for name, value in p.items():
            out[f"layer{k}.{name}"] = value.detach().numpy()
            out[f"grad.layer{k}.{name}"] = value.grad.numpy()
    return out


def main():
    for seed, cell in enumerate(("rnn", "lstm", "gru")):
        for dtype in (np.float64, np.float32):
            data = make(cell, dtype, seed)
            path = os.path.join(HERE, f"layer_norm_{cell}_{np.dtype(dtype).name}.npz")
            np.savez(path, **data)
            print("wrote", path)


if __name__ == "__main__":
    main()
