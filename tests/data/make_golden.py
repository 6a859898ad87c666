"""Generate the PyTorch golden files used by ``tests/test_golden.py``.

This script is run by hand, only when the golden cases change; its outputs
(``tests/data/golden_*.npz``) are committed. The test suite never imports
torch: it only reads the .npz files, so neither crnn nor its tests depend on
PyTorch.

How to run it (in a scratch virtual environment outside the repository)::

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install numpy torch==2.13.0   # exactly this version
    /tmp/torchenv/bin/python tests/data/make_golden.py

What it computes
----------------
For every cell in {rnn (tanh), rnn (relu), lstm, gru}, dtype in {float64,
float32} and number of layers in {1, 2}, with fixed seeded weights and
inputs, PyTorch's forward pass (``batch_first=True``) and, by autograd, the
gradients of the scalar loss

    L = sum(output * G) + sum_k sum(h_n[k] * Gh[k]) (+ sum_k sum(c_n[k] * Gc[k]))

with respect to X, every layer's h0 (and c0) and every parameter. Stacked
cases chain single-layer torch modules, so that layers can have different
hidden sizes (H = (5, 3)); without dropout this is exactly what one
``nn.RNN(num_layers=2)`` computes (checked by ``self_check_stacking``). As in
torch, h_n of a lower layer is that layer's output at the last step, so its
gradient Gh[k] enters that layer's final step only.

The float64 and float32 files of a case use the same numbers (the float32
file holds them rounded to float32); the float32 outputs and gradients are
torch's own float32 results.

npz keys (k = layer index, starting at 0)
-----------------------------------------
meta:        cell ("rnn", "lstm", "gru"), activation ("tanh"/"relu" for rnn,
             "" otherwise), num_layers, hidden_sizes, seed, torch_version
inputs:      X (N, T, I); h0.k (N, H_k); c0.k (lstm only)
parameters:  layer{k}.W_ih, layer{k}.W_hh, layer{k}.b_ih, layer{k}.b_hh
             (torch's weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 of the
             k-th module: crnn's layout)
loss arrays: G (N, T, H_last) = dL/d output; Gh.k (N, H_k) = dL/d h_n[k];
             Gc.k (lstm only) = dL/d c_n[k]
outputs:     output (N, T, H_last); h_n.k (N, H_k); c_n.k (lstm only)
gradients:   grad.X; grad.h0.k; grad.c0.k (lstm only);
             grad.layer{k}.W_ih, grad.layer{k}.W_hh, grad.layer{k}.b_ih,
             grad.layer{k}.b_hh

File names: golden_{case}_{dtype}_L{num_layers}.npz, case in rnn_tanh,
rnn_relu, lstm, gru.

One optimiser step of the whole model (``step_*.npz``)
------------------------------------------------------
For every cell (rnn tanh, lstm, gru) and dtype, four cases of a two-layer
stack (H = (5, 3)) plus a ``torch.nn.Linear`` readout on N = 6 sequences of
T = 5 steps: squared error and cross-entropy, ``return_sequences`` False and
True, Adam and SGD with Nesterov momentum, with and without an active
gradient-norm clip. Torch computes exactly crnn's objective (SPEC 1), written
out by hand:

    L = 0.5 * mean((out - y)^2)  or  mean cross-entropy of softmax(out)
        + 0.5 * (alpha / N) * sum of squared weights (W_ih, W_hh, W_out; not biases)

then ``clip_grad_norm_`` (when ``clip`` > 0) and one step of
``torch.optim.Adam`` (its ``eps`` set to ``epsilon / sqrt(1 - beta_2)``, which
makes torch's first step equal scikit-learn's Adam form that crnn uses) or
``torch.optim.SGD(momentum, nesterov=True)``.

npz keys: meta ``cell``, ``activation``, ``loss_name`` ("squared" or "log"),
``return_sequences``, ``solver``, ``learning_rate``, ``beta_1``, ``beta_2``,
``epsilon``, ``momentum``, ``alpha``, ``clip`` (0 = no clipping),
``hidden_sizes``, ``n_outputs``, ``torch_version``; ``X`` (N, T, I); ``y``
((N, O) or (N, T, O) floats, or (N,) or (N, T) class indices); the initial
parameters ``init.{k}.{name}`` in ``coefs_`` order (k = layer, the readout is
k = 2 with ``W_out``, ``b_out``); ``loss`` (the objective at the initial
parameters); ``grad.{k}.{name}`` (its gradient, before clipping); and
``after.{k}.{name}`` (the parameters after the step).

Usage: ``make_golden.py`` writes both families; ``make_golden.py cells`` or
``make_golden.py steps`` only one (the files of the other stay untouched).
"""
import os

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))

N, T, I = 3, 4, 2
HIDDEN = {1: (5,), 2: (5, 3)}
CASES = {  # case name -> (cell, activation, base seed)
    "rnn_tanh": ("rnn", "tanh", 1000),
    "rnn_relu": ("rnn", "relu", 2000),
    "lstm": ("lstm", "", 3000),
    "gru": ("gru", "", 4000),
}
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
PARAMS = ("W_ih", "W_hh", "b_ih", "b_hh")
TORCH_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0",
               "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def make_arrays(cell, hidden_sizes, seed):
    """All inputs of one case, in float64, from a seeded generator."""
    rng = np.random.default_rng(seed)
    g = N_GATES[cell]
    a = {"X": rng.standard_normal((N, T, I))}
    n_in = I
    for k, h in enumerate(hidden_sizes):
        # a bit wider than torch's U(-1/sqrt(H), 1/sqrt(H)) so that the
        # nonlinearities are exercised away from their linear regime
        scale = 1.5 / np.sqrt(h)
        a[f"layer{k}.W_ih"] = rng.uniform(-scale, scale, (g * h, n_in))
        a[f"layer{k}.W_hh"] = rng.uniform(-scale, scale, (g * h, h))
        a[f"layer{k}.b_ih"] = rng.uniform(-scale, scale, (g * h,))
        a[f"layer{k}.b_hh"] = rng.uniform(-scale, scale, (g * h,))
        a[f"h0.{k}"] = rng.uniform(-0.8, 0.8, (N, h))
        if cell == "lstm":
            a[f"c0.{k}"] = rng.uniform(-0.8, 0.8, (N, h))
        a[f"Gh.{k}"] = rng.standard_normal((N, h))
        if cell == "lstm":
            a[f"Gc.{k}"] = rng.standard_normal((N, h))
        n_in = h
    a["G"] = rng.standard_normal((N, T, hidden_sizes[-1]))
    return a


def make_module(cell, activation, n_in, h):
    if cell == "rnn":
        return torch.nn.RNN(n_in, h, num_layers=1, nonlinearity=activation,
                            batch_first=True)
    if cell == "lstm":
        return torch.nn.LSTM(n_in, h, num_layers=1, batch_first=True)
    return torch.nn.GRU(n_in, h, num_layers=1, batch_first=True)


def min_relu_margin(a, hidden_sizes):
    """Smallest |pre-activation| of a relu case (float64 numpy forward).

    relu' jumps at 0: a pre-activation too close to 0 could fall on different
    sides in torch and in crnn after rounding, so such seeds are rejected.
    """
    inp = a["X"]
    margin = np.inf
    for k, _ in enumerate(hidden_sizes):
        W_ih, W_hh = a[f"layer{k}.W_ih"], a[f"layer{k}.W_hh"]
        b = a[f"layer{k}.b_ih"] + a[f"layer{k}.b_hh"]
        h = a[f"h0.{k}"]
        outs = []
        for t in range(T):
            z = inp[:, t] @ W_ih.T + h @ W_hh.T + b
            margin = min(margin, np.abs(z).min())
            h = np.maximum(z, 0.0)
            outs.append(h)
        inp = np.stack(outs, axis=1)
    return margin


def run_case(cell, activation, hidden_sizes, a, dtype):
    """Forward + autograd backward in torch; returns the dict to save."""
    tdt = TORCH_DTYPES[dtype]
    np_dt = np.dtype(dtype)
    L = len(hidden_sizes)

    def leaf(name):
        return torch.tensor(a[name].astype(np_dt), dtype=tdt, requires_grad=True)

    X = leaf("X")
    h0 = [leaf(f"h0.{k}") for k in range(L)]
    c0 = [leaf(f"c0.{k}") for k in range(L)] if cell == "lstm" else None
    modules = []
    n_in = I
    for k, h in enumerate(hidden_sizes):
        m = make_module(cell, activation, n_in, h).to(tdt)
        with torch.no_grad():
            for p in PARAMS:
                getattr(m, TORCH_NAMES[p]).copy_(
                    torch.tensor(a[f"layer{k}.{p}"].astype(np_dt), dtype=tdt))
        modules.append(m)
        n_in = h

    inp = X
    h_n, c_n = [], []
    for k, m in enumerate(modules):
        if cell == "lstm":
            inp, (hk, ck) = m(inp, (h0[k].unsqueeze(0), c0[k].unsqueeze(0)))
            c_n.append(ck[0])
        else:
            inp, hk = m(inp, h0[k].unsqueeze(0))
        h_n.append(hk[0])
    output = inp

    def const(name):
        return torch.tensor(a[name].astype(np_dt), dtype=tdt)

    loss = (output * const("G")).sum()
    for k in range(L):
        loss = loss + (h_n[k] * const(f"Gh.{k}")).sum()
        if cell == "lstm":
            loss = loss + (c_n[k] * const(f"Gc.{k}")).sum()

    leaves = {"X": X}
    for k in range(L):
        leaves[f"h0.{k}"] = h0[k]
        if cell == "lstm":
            leaves[f"c0.{k}"] = c0[k]
        for p in PARAMS:
            leaves[f"layer{k}.{p}"] = getattr(modules[k], TORCH_NAMES[p])
    grads = torch.autograd.grad(loss, list(leaves.values()))

    out = {name: arr.astype(np_dt) for name, arr in a.items()}
    out["output"] = output.detach().numpy()
    for k in range(L):
        out[f"h_n.{k}"] = h_n[k].detach().numpy()
        if cell == "lstm":
            out[f"c_n.{k}"] = c_n[k].detach().numpy()
    for name, gr in zip(leaves, grads):
        out[f"grad.{name}"] = gr.detach().numpy()
    for name, arr in out.items():
        assert arr.dtype == np_dt, (name, arr.dtype)
        assert np.all(np.isfinite(arr)), name
    return out


def self_check_stacking():
    """Chained single-layer modules == one torch module with num_layers=2."""
    for cell, act in (("rnn", "tanh"), ("lstm", ""), ("gru", "")):
        torch.manual_seed(0)
        kw = dict(num_layers=2, batch_first=True)
        if cell == "rnn":
            native = torch.nn.RNN(I, 4, nonlinearity=act, **kw)
        else:
            native = getattr(torch.nn, cell.upper())(I, 4, **kw)
        native = native.double()
        chain = [make_module(cell, act, I, 4).double(), make_module(cell, act, 4, 4).double()]
        with torch.no_grad():
            for k, m in enumerate(chain):
                for tn in TORCH_NAMES.values():
                    getattr(m, tn).copy_(getattr(native, tn[:-1] + str(k)))
        x = torch.randn(N, T, I, dtype=torch.float64)
        h0 = torch.randn(2, N, 4, dtype=torch.float64)
        c0 = torch.randn(2, N, 4, dtype=torch.float64)
        if cell == "lstm":
            y, (hn, cn) = native(x, (h0, c0))
            y0, (h_a, c_a) = chain[0](x, (h0[:1], c0[:1]))
            y1, (h_b, c_b) = chain[1](y0, (h0[1:], c0[1:]))
            assert torch.allclose(cn, torch.cat([c_a, c_b]), rtol=0, atol=1e-13)
        else:
            y, hn = native(x, h0)
            y0, h_a = chain[0](x, h0[:1])
            y1, h_b = chain[1](y0, h0[1:])
        assert torch.allclose(y, y1, rtol=0, atol=1e-13)
        assert torch.allclose(hn, torch.cat([h_a, h_b]), rtol=0, atol=1e-13)


STEP_N, STEP_T, STEP_I, STEP_HIDDEN = 6, 5, 3, (5, 3)
STEP_CELLS = {"rnn": "tanh", "lstm": "", "gru": ""}
# case -> (loss, return_sequences, solver, learning rate, alpha, clip)
STEP_CASES = {
    "mse_last_adam": ("squared", False, "adam", 0.01, 0.5, 5.0),
    "ce_last_adam_clip": ("log", False, "adam", 0.01, 0.2, 0.05),
    "mse_seq_sgd_clip": ("squared", True, "sgd", 0.1, 0.1, 0.05),
    "ce_seq_sgd": ("log", True, "sgd", 0.1, 0.3, 0.0),
}
STEP_OUTPUTS = 3


def make_step_arrays(cell, loss, return_sequences, seed):
    """Inputs, targets and initial parameters of one step case (float64)."""
    rng = np.random.default_rng(seed)
    g = N_GATES[cell]
    a = {"X": rng.standard_normal((STEP_N, STEP_T, STEP_I))}
    steps = (STEP_N, STEP_T) if return_sequences else (STEP_N,)
    if loss == "squared":
        a["y"] = rng.standard_normal(steps + (STEP_OUTPUTS,))
    else:
        # every class present: the classifier's readout has one row per class seen
        a["y"] = rng.permutation(np.arange(np.prod(steps)) % STEP_OUTPUTS).reshape(steps)
    n_in = STEP_I
    for k, h in enumerate(STEP_HIDDEN):
        scale = 1.5 / np.sqrt(h)
        a[f"init.{k}.W_ih"] = rng.uniform(-scale, scale, (g * h, n_in))
        a[f"init.{k}.W_hh"] = rng.uniform(-scale, scale, (g * h, h))
        a[f"init.{k}.b_ih"] = rng.uniform(-scale, scale, (g * h,))
        a[f"init.{k}.b_hh"] = rng.uniform(-scale, scale, (g * h,))
        n_in = h
    L = len(STEP_HIDDEN)
    a[f"init.{L}.W_out"] = rng.uniform(-1, 1, (STEP_OUTPUTS, n_in))
    a[f"init.{L}.b_out"] = rng.uniform(-1, 1, (STEP_OUTPUTS,))
    return a


def run_step_case(cell, activation, loss_name, return_sequences, solver, lr, alpha,
                  clip, a, dtype):
    """crnn's objective in torch, its gradient, then one optimiser step."""
    tdt = TORCH_DTYPES[dtype]
    np_dt = np.dtype(dtype)
    L = len(STEP_HIDDEN)
    modules, n_in = [], STEP_I
    for k, h in enumerate(STEP_HIDDEN):
        m = make_module(cell, activation, n_in, h).to(tdt)
        with torch.no_grad():
            for p in PARAMS:
                getattr(m, TORCH_NAMES[p]).copy_(
                    torch.tensor(a[f"init.{k}.{p}"].astype(np_dt), dtype=tdt))
        modules.append(m)
        n_in = h
    readout = torch.nn.Linear(n_in, STEP_OUTPUTS).to(tdt)
    with torch.no_grad():
        readout.weight.copy_(torch.tensor(a[f"init.{L}.W_out"].astype(np_dt), dtype=tdt))
        readout.bias.copy_(torch.tensor(a[f"init.{L}.b_out"].astype(np_dt), dtype=tdt))
    named = {}   # coefs_ name -> torch parameter
    for k, m in enumerate(modules):
        for p in PARAMS:
            named[f"{k}.{p}"] = getattr(m, TORCH_NAMES[p])
    named[f"{L}.W_out"], named[f"{L}.b_out"] = readout.weight, readout.bias
    params = list(named.values())

    X = torch.tensor(a["X"].astype(np_dt), dtype=tdt)
    inp = X
    for m in modules:
        inp = m(inp)[0]          # zero initial states, as crnn's estimators
    H = inp if return_sequences else inp[:, -1]
    out = readout(H).reshape(-1, STEP_OUTPUTS)
    if loss_name == "squared":
        y = torch.tensor(a["y"].astype(np_dt), dtype=tdt).reshape(-1, STEP_OUTPUTS)
        loss = 0.5 * ((out - y) ** 2).mean()
    else:
        y = torch.tensor(a["y"].reshape(-1), dtype=torch.int64)
        loss = torch.nn.functional.cross_entropy(out, y)
    l2 = alpha / STEP_N
    penalty = sum((p ** 2).sum() for name, p in named.items() if ".W_" in name)
    loss = loss + 0.5 * l2 * penalty
    loss.backward()
    grads = {name: p.grad.detach().numpy().copy() for name, p in named.items()}
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(params, clip)
    beta_1, beta_2, epsilon, momentum = 0.9, 0.999, 1e-8, 0.9
    if solver == "adam":
        opt = torch.optim.Adam(params, lr=lr, betas=(beta_1, beta_2),
                               eps=epsilon / np.sqrt(1 - beta_2))
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True)
    opt.step()

    result = {"X": a["X"].astype(np_dt),
              "y": a["y"].astype(np_dt) if loss_name == "squared" else a["y"],
              "loss": np.array(loss.item(), dtype=np_dt)}
    for name in named:
        result[f"init.{name}"] = a[f"init.{name}"].astype(np_dt)
        result[f"grad.{name}"] = grads[name]
        result[f"after.{name}"] = named[name].detach().numpy().copy()
    meta = dict(cell=cell, activation=activation, loss_name=loss_name,
                return_sequences=return_sequences, solver=solver, learning_rate=lr,
                beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, momentum=momentum,
                alpha=alpha, clip=clip, hidden_sizes=STEP_HIDDEN, n_outputs=STEP_OUTPUTS,
                torch_version=torch.__version__)
    for key, value in meta.items():
        result[key] = np.array(value)
    for name, arr in result.items():
        if name.startswith(("init.", "grad.", "after.")) or name in ("X", "loss"):
            assert arr.dtype == np_dt, (name, arr.dtype)
            assert np.all(np.isfinite(arr)), name
    return result


def make_steps():
    total = 0
    for c, (cell, activation) in enumerate(STEP_CELLS.items()):
        for s, (case, spec) in enumerate(STEP_CASES.items()):
            loss_name, return_sequences, solver, lr, alpha, clip = spec
            a = make_step_arrays(cell, loss_name, return_sequences, 5000 + 10 * c + s)
            for dtype in ("float64", "float32"):
                out = run_step_case(cell, activation, loss_name, return_sequences, solver,
                                    lr, alpha, clip, a, dtype)
                path = os.path.join(HERE, f"step_{cell}_{case}_{dtype}.npz")
                np.savez_compressed(path, **out)
                total += os.path.getsize(path)
                print(f"{os.path.basename(path)}: loss {float(out['loss']):.6f}")
    print(f"steps: total {total} bytes")


def main():
    import sys

    torch.set_num_threads(1)
    which = sys.argv[1] if len(sys.argv) > 1 else "all"
    if which in ("all", "steps"):
        make_steps()
    if which == "steps":
        return
    self_check_stacking()
    total = 0
    for case, (cell, activation, base_seed) in CASES.items():
        for num_layers, hidden_sizes in HIDDEN.items():
            seed = base_seed + num_layers
            a = make_arrays(cell, hidden_sizes, seed)
            if activation == "relu":
                while min_relu_margin(a, hidden_sizes) < 1e-3:
                    seed += 100
                    a = make_arrays(cell, hidden_sizes, seed)
            for dtype in ("float64", "float32"):
                out = run_case(cell, activation, hidden_sizes, a, dtype)
                out["cell"] = np.array(cell)
                out["activation"] = np.array(activation)
                out["num_layers"] = np.array(num_layers)
                out["hidden_sizes"] = np.array(hidden_sizes)
                out["seed"] = np.array(seed)
                out["torch_version"] = np.array(torch.__version__)
                path = os.path.join(HERE, f"golden_{case}_{dtype}_L{num_layers}.npz")
                np.savez_compressed(path, **out)
                size = os.path.getsize(path)
                total += size
                print(f"{os.path.basename(path)}: {len(out)} arrays, {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
