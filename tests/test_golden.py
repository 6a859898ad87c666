"""Forward outputs and gradients against PyTorch golden files (SPEC 9).

The golden files ``tests/data/golden_*.npz`` were written by
``tests/data/make_golden.py`` (run by hand with torch; see its header for the
key naming). This module never imports torch: it only reads the files and
checks both ``crnn.ops`` (compiled) and ``crnn.reference`` (NumPy) against
them, for outputs, final states and every gradient.

Relative error of an array = max |actual - expected| / max |expected|;
it must be < 1e-10 in float64 and < 1e-4 in float32.
"""
import os
import pathlib

import numpy as np
import pytest

from crnn import ops, reference

DATA = pathlib.Path(__file__).parent / "data"
FILES = sorted(DATA.glob("golden_*.npz"))
# CRNN_TEST_CELLS (see conftest.py) narrows the cells during development only
_CELLS = os.environ.get("CRNN_TEST_CELLS", "rnn,lstm,gru").split(",")
CASES = [f for f in FILES if f.stem.split("_")[1] in _CELLS]
from ._numerics import GOLDEN_TOL as TOL
from ._numerics import max_rel_error as _rel_err
PARAMS = ("W_ih", "W_hh", "b_ih", "b_hh")
IMPLS = {"ops": ops, "reference": reference}


def _load(path):
    with np.load(path) as f:
        return {key: f[key] for key in f.files}


def _run(impl, d):
    """Forward + backward of ``impl`` on the case ``d``; returns golden-keyed arrays."""
    cell = str(d["cell"])
    L = int(d["num_layers"])
    X = d["X"]
    layers = [{p: d[f"layer{k}.{p}"] for p in PARAMS} for k in range(L)]
    h0 = [d[f"h0.{k}"] for k in range(L)]
    Gh = [d[f"Gh.{k}"] for k in range(L)]
    got = {}
    if cell == "lstm":
        c0 = [d[f"c0.{k}"] for k in range(L)]
        Gc = [d[f"Gc.{k}"] for k in range(L)]
        output, h_n, c_n, cache = impl.lstm_forward(X, layers, h0, c0)
        dX, d_layers, d_h0, d_c0 = impl.lstm_backward(cache, d["G"], Gh, Gc)
        for k in range(L):
            got[f"c_n.{k}"] = c_n[k]
            got[f"grad.c0.{k}"] = d_c0[k]
    elif cell == "gru":
        output, h_n, cache = impl.gru_forward(X, layers, h0)
        dX, d_layers, d_h0 = impl.gru_backward(cache, d["G"], Gh)
    else:
        output, h_n, cache = impl.rnn_forward(X, layers, h0,
                                              activation=str(d["activation"]))
        dX, d_layers, d_h0 = impl.rnn_backward(cache, d["G"], Gh)
    assert len(h_n) == len(d_layers) == len(d_h0) == L
    got["output"] = output
    got["grad.X"] = dX
    for k in range(L):
        got[f"h_n.{k}"] = h_n[k]
        got[f"grad.h0.{k}"] = d_h0[k]
        for p in PARAMS:
            got[f"grad.layer{k}.{p}"] = d_layers[k][p]
    return got


def test_golden_files_present():
    # 4 cases (rnn tanh/relu, lstm, gru) x 2 dtypes x 1 or 2 layers
    assert len(FILES) == 16, [f.name for f in FILES]


@pytest.mark.parametrize("impl_name", sorted(IMPLS))
@pytest.mark.parametrize("path", CASES, ids=[f.stem for f in CASES])
def test_matches_pytorch(path, impl_name):
    d = _load(path)
    dtype = d["X"].dtype
    tol = TOL[dtype]
    got = _run(IMPLS[impl_name], d)
    expected_keys = sorted(k for k in d if k in ("output",) or
                           k.startswith(("h_n.", "c_n.", "grad.")))
    assert sorted(got) == expected_keys
    errors = {key: _rel_err(got[key], d[key]) for key in expected_keys}
    bad = {key: err for key, err in errors.items() if not err < tol}
    assert not bad, f"relative error >= {tol:g} vs PyTorch: {bad}"
    wrong_dtype = {key: np.asarray(v).dtype for key, v in got.items()
                   if np.asarray(v).dtype != dtype}
    assert not wrong_dtype, f"results not in X's dtype {dtype}: {wrong_dtype}"
