"""Layer-normalised cells against PyTorch (SPEC 9 and 10): golden values from
cells written with ``torch.nn.functional.layer_norm`` and the cell
equations (``tests/data/make_golden_layer_norm.py``); this file never
imports torch."""
import os

import numpy as np
import pytest

from crnn import ops

from ._numerics import GOLDEN_TOL, max_rel_error
from .conftest import CELLS

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
N_LAYERS = 2


def _load(cell, dtype):
    path = os.path.join(HERE, f"layer_norm_{cell}_{np.dtype(dtype).name}.npz")
    return dict(np.load(path))


def _layers(data):
    layers = []
    for k in range(N_LAYERS):
        prefix = f"layer{k}."
        layers.append({key[len(prefix):]: value for key, value in data.items()
                       if key.startswith(prefix)})
    return layers


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_forward_and_gradients_match_pytorch(cell, dtype):
    data = _load(cell, dtype)
    tol = GOLDEN_TOL[dtype]
    layers = _layers(data)
    assert "ln_hh_weight" in layers[0] and ("ln_c_weight" in layers[1]) == (cell == "lstm")
    h0 = [data[f"h0.{k}"] for k in range(N_LAYERS)]
    c0 = [data[f"c0.{k}"] for k in range(N_LAYERS)] if cell == "lstm" else None
    out, h_n, c_n, cache = ops.forward(cell, data["X"], layers, h0, c0)
    assert out.dtype == dtype
    assert max_rel_error(out, data["output"]) < tol
    for k in range(N_LAYERS):
        assert max_rel_error(h_n[k], data[f"h_n.{k}"]) < tol
        if cell == "lstm":
            assert max_rel_error(c_n[k], data[f"c_n.{k}"]) < tol
    d_h_n = [data[f"Gh.{k}"] for k in range(N_LAYERS)]
    dX, d_layers, dh0, dc0 = ops.backward(cache, data["G"], d_h_n)
    assert max_rel_error(dX, data["grad.X"]) < tol
    for k in range(N_LAYERS):
        assert max_rel_error(dh0[k], data[f"grad.h0.{k}"]) < tol
        if cell == "lstm":
            assert max_rel_error(dc0[k], data[f"grad.c0.{k}"]) < tol
        for name, grad in d_layers[k].items():
            assert max_rel_error(grad, data[f"grad.layer{k}.{name}"]) < tol, (k, name)
