"""The encoder-decoder against PyTorch (SPEC 9, 11): a teacher-forced
encoder-decoder of nn.RNN/nn.LSTM/nn.GRU and nn.Linear with the same
weights, variable input and target lengths; loss, outputs and every
gradient (tests/data/make_golden_seq2seq.py writes the fixtures)."""
import os

import numpy as np
import pytest

from crnn._layers import Workspace
from crnn._model import Minibatch
from crnn._seq2seq import Seq2SeqData, Seq2SeqNetwork

from ._numerics import GOLDEN_TOL, max_rel_error
from .conftest import CELLS

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def _cases():
    for cell in CELLS:
        for loss in ("squared", "log"):
            for dtype in ("float64", "float32"):
                yield cell, loss, dtype


@pytest.mark.parametrize("cell, loss, dtype", list(_cases()))
def test_teacher_forced_encoder_decoder_matches_pytorch(cell, loss, dtype):
    g = np.load(os.path.join(HERE, f"seq2seq_{cell}_{loss}_{dtype}.npz"))
    X, Y = g["X"], g["Y"]
    lengths, target_lengths = g["lengths"], g["target_lengths"]
    n_outputs = g["W_out"].shape[0]
    net = Seq2SeqNetwork(cell, X.shape[2], (g["encoder0.W_hh"].shape[1],) * 2, n_outputs,
                         "tanh", dtype, loss)
    flat = np.empty(net.n_params, dtype)
    coefs = net.views(flat)
    for part in ("encoder", "decoder"):
        for k, layer in enumerate(coefs[part]):
            for name in layer:
                layer[name][...] = g[f"{part}{k}.{name}"]
    for name in ("W_out", "b_out", "start"):
        coefs["readout"][name][...] = g[name]
    tol = GOLDEN_TOL[dtype]

    data = Seq2SeqData(X, lengths, Y, target_lengths, n_outputs if loss == "log" else None)
    rows = np.argsort(-lengths, kind="stable")
    Xp, targets, packing, extra = data.gather(rows)
    grad = np.zeros_like(flat)
    value = net.loss_grad(coefs, net.views(grad),
                          Minibatch(Xp, packing, targets, data.n_predictions(rows), extra=extra),
                          Workspace(dtype))
    assert abs(value - float(g["loss_value"])) <= tol * abs(float(g["loss_value"]))
    grads = net.views(grad)
    for part in ("encoder", "decoder"):
        for k, layer in enumerate(grads[part]):
            for name, array in layer.items():
                assert max_rel_error(array, g[f"grad.{part}{k}.{name}"]) < tol, (part, k, name)
    for name in ("W_out", "b_out", "start"):
        assert max_rel_error(grads["readout"][name], g["grad." + name]) < tol, name

    # the teacher-forced inference path reads out the same values
    if loss == "log":
        inputs = np.zeros(Y.shape + (n_outputs,), dtype)
        inputs[:, 1:] = np.eye(n_outputs, dtype=dtype)[Y[:, :-1]]
    else:
        inputs = np.zeros_like(Y)
        inputs[:, 1:] = Y[:, :-1]
    out = net.teacher_forced_raw(coefs, np.ascontiguousarray(X), lengths, inputs,
                                 Workspace(dtype))
    valid = np.arange(Y.shape[1])[None, :] < target_lengths[:, None]
    assert max_rel_error(out[valid], g["out"][valid]) < tol
