"""Report the numbers behind SPEC 9 for crnn.ops.

The largest relative error against central finite differences (float64,
1-3 layers, per cell and activation; the same problems as
tests/test_ops.py) and against the PyTorch golden files in tests/data
(float64 and float32). The tests assert the bounds; this prints the values.

    python benchmarks/accuracy.py
"""
import glob
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMS = ("W_ih", "W_hh", "b_ih", "b_hh")


def finite_difference_errors():
    from crnn import ops
    from tests._cells import backward, forward, rel_error
    from tests.test_ops import LAYERS, _loss, _numeric_grad, _problem, _weights

    rng = np.random.default_rng(0)
    for cell, act in [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"),
                      ("lstm", "tanh"), ("gru", "tanh")]:
        worst = 0.0
        for hidden in LAYERS:
            X, layers, h0, c0 = _problem(cell, hidden, rng)
            G, Gh, Gc = _weights(cell, X, layers, rng)
            _, _, _, cache = forward(ops, cell, X, layers, h0, c0, act)
            dX, dl, dh0, dc0 = backward(ops, cell, cache, G, Gh, Gc)
            pairs = [(X, dX)] + list(zip(h0, dh0))
            pairs += [(p[n], dl[k][n]) for k, p in enumerate(layers) for n in PARAMS]
            if cell == "lstm":
                pairs += list(zip(c0, dc0))

            def loss():
                return _loss(cell, X, layers, h0, c0, G, Gh, Gc, act)

            worst = max([worst] + [rel_error(_numeric_grad(loss, a), g) for a, g in pairs])
        print(f"finite differences {cell:>4}-{act:<7} float64, 1-3 layers: "
              f"max relative error {worst:.2e}")


def golden_errors():
    from crnn import ops
    from tests._cells import backward, forward

    def rel(a, expected):
        return np.max(np.abs(a - expected)) / np.max(np.abs(expected))

    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "golden_*.npz"))):
        d = np.load(path)
        cell, L = str(d["cell"]), int(d["num_layers"])
        act = str(d["activation"]) if cell == "rnn" else "tanh"
        layers = [{n: d[f"layer{k}.{n}"] for n in PARAMS} for k in range(L)]
        h0 = [d[f"h0.{k}"] for k in range(L)]
        c0 = [d[f"c0.{k}"] for k in range(L)] if cell == "lstm" else None
        Gh = [d[f"Gh.{k}"] for k in range(L)]
        Gc = [d[f"Gc.{k}"] for k in range(L)] if cell == "lstm" else None
        out, _, _, cache = forward(ops, cell, d["X"], layers, h0, c0, act)
        dX, dl, _, _ = backward(ops, cell, cache, d["G"], Gh, Gc)
        errors = [rel(out, d["output"]), rel(dX, d["grad.X"])]
        errors += [rel(dl[k][n], d[f"grad.layer{k}.{n}"]) for k in range(L) for n in PARAMS]
        print(f"PyTorch golden {os.path.basename(path):<32} max relative error "
              f"{max(errors):.2e}")


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    finite_difference_errors()
    golden_errors()
