"""Packed variable-length sequences and bidirectional stacks against PyTorch.

Golden files ``tests/data/sequences_packed_*.npz`` come from
``tests/data/make_golden_sequences.py`` (torch's ``pack_padded_sequence``
through two-layer ``nn.RNN/LSTM/GRU``, one- and two-directional); this module
never imports torch. Both crnn.ops and crnn.reference must reproduce the
outputs, final states and every gradient (SPEC 9 tolerances). The files' X
holds NaN past each length: the kernels must never read it.
"""
import pathlib

import numpy as np
import pytest

from crnn import ops, reference

FILES = sorted((pathlib.Path(__file__).parent / "data").glob("sequences_packed_*.npz"))
from ._numerics import GOLDEN_TOL as TOL
from ._numerics import max_rel_error as _rel_err


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
@pytest.mark.parametrize("impl", ["ops", "reference"])
def test_packed_sequences_match_pytorch(path, impl):
    with np.load(path) as f:
        d = {key: f[key] for key in f.files}
    assert len(FILES) == 12
    cell, bidirectional = str(d["cell"]), str(d["direction"]) == "bi"
    lengths = d["lengths"]
    n_layers = 2
    layers = [{key.split(".", 1)[1]: d[key] for key in d
               if key.startswith(f"layer{k}.")} for k in range(n_layers)]
    h0 = [d[f"h0.{k}"] for k in range(n_layers)]
    c0 = [d[f"c0.{k}"] for k in range(n_layers)] if cell == "lstm" else None
    Gh = [d[f"Gh.{k}"] for k in range(n_layers)]
    Gc = [d[f"Gc.{k}"] for k in range(n_layers)] if cell == "lstm" else None
    X = d["X"]
    if impl == "ops":
        out, h_n, c_n, cache = ops.forward(cell, X, layers, h0, c0, lengths=lengths,
                                           direction="bidirectional" if bidirectional
                                           else "forward")
        dX, d_layers, dh0, dc0 = ops.backward(cache, d["G"], Gh, Gc)
    else:
        X = np.nan_to_num(X)  # the reference computes on padded steps, then masks them
        out, h_n, c_n, cache = reference.forward(cell, X, layers, h0, c0, lengths=lengths)
        dX, d_layers, dh0, dc0 = reference.backward(cache, d["G"], Gh, Gc)
    tol = TOL[out.dtype]
    got = {"output": out, "grad.X": dX}
    for k in range(n_layers):
        got[f"h_n.{k}"] = h_n[k]
        got[f"grad.h0.{k}"] = dh0[k]
        if cell == "lstm":
            got[f"c_n.{k}"] = c_n[k]
            got[f"grad.c0.{k}"] = dc0[k]
        for name, value in d_layers[k].items():
            got[f"grad.layer{k}.{name}"] = value
    expected_keys = {key for key in d if key.startswith(("grad.", "h_n.", "c_n.", "output"))}
    assert set(got) == expected_keys
    for key, value in got.items():
        assert _rel_err(value, d[key]) < tol, key
