"""Flush-to-zero inside the kernels: on where it should be, off outside, and
harmless to the numbers (issue "Long sequences without the denormal cliff")."""
import threading
import warnings

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor, _optim, _recurrent, ops
from crnn._fpmode import flush_denormals

pytestmark = pytest.mark.skipif(not _recurrent.flush_denormals_mode(),
                                reason="no flush-to-zero control on this platform")

# DAZ alone: a state no kernel leaves behind by accident (they set FTZ and DAZ)
MARKED = 0x0040 if "MXCSR" in _recurrent.flush_denormals_mode() else 0


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _data(n=80, T=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    return X, np.tanh(X[:, -1, 0] + X[:, -2, 1])


def test_kernels_flush_subnormals_only_when_enabled():
    # relu(W_ih x) with W_ih * x = 1e-40, a float32 subnormal
    layers = [{"W_ih": np.full((1, 1), 1e-20, np.float32), "W_hh": np.zeros((1, 1), np.float32),
               "b_ih": np.zeros(1, np.float32), "b_hh": np.zeros(1, np.float32)}]
    X = np.full((1, 1, 1), 1e-20, np.float32)
    out, _, _ = ops.rnn_forward(X, layers, activation="relu")
    assert out[0, 0, 0] == 0.0
    with flush_denormals(False):
        out, _, _ = ops.rnn_forward(X, layers, activation="relu")
    assert 0 < out[0, 0, 0] < np.finfo(np.float32).tiny


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_the_callers_state_is_restored_after_fit_and_predict(Estimator):
    X, y = _data()
    if Estimator is RNNClassifier:
        y = (y > 0).astype(int)
    before = _recurrent.fp_control_state()
    _recurrent.set_fp_control_state(before | MARKED)
    try:
        marked = _recurrent.fp_control_state()
        est = _fit(Estimator(cell="lstm", hidden_layer_sizes=(5,), max_iter=2,
                             batch_size=16), X, y)
        assert _recurrent.fp_control_state() == marked
        est.predict(X)
        assert _recurrent.fp_control_state() == marked
    finally:
        _recurrent.set_fp_control_state(before)


def test_state_is_restored_in_other_threads_and_after_an_exception(monkeypatch):
    X, y = _data()
    est = _fit(RNNRegressor(cell="gru", hidden_layer_sizes=(4,), max_iter=1), X, y)
    seen = []

    def work():
        before = _recurrent.fp_control_state()
        _recurrent.set_fp_control_state(before | MARKED)
        marked = _recurrent.fp_control_state()
        est.predict(X)
        _fit(RNNRegressor(cell="rnn", hidden_layer_sizes=(4,), max_iter=1), X, y)
        seen.append(_recurrent.fp_control_state() == marked)
        _recurrent.set_fp_control_state(before)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [True] * 3

    calls = []
    original = _optim.adam_step

    def failing_step(*args):
        calls.append(1)
        original(*args)
        if len(calls) == 2:
            raise RuntimeError("stop")
    monkeypatch.setattr(_optim, "adam_step", failing_step)
    before = _recurrent.fp_control_state()
    with pytest.raises(RuntimeError, match="stop"):
        # bidirectional: the Python path, which calls adam_step (the
        # compiled minibatch updates in C)
        RNNRegressor(hidden_layer_sizes=(4,), max_iter=3, batch_size=16,
                     bidirectional=True).fit(X, y)
    assert _recurrent.fp_control_state() == before


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-4), ("float64", 1e-12)])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_results_agree_with_and_without_flushing(cell, dtype, rtol):
    # On a task whose values stay normal, flushing changes nothing beyond
    # SPEC 9's tolerances.
    X, y = _data()
    params = dict(cell=cell, hidden_layer_sizes=(6, 5), max_iter=5, random_state=0,
                  dtype=dtype, batch_size=20)
    flushed = _fit(RNNRegressor(**params), X, y)
    with flush_denormals(False):
        plain = _fit(RNNRegressor(**params), X, y)
        plain_pred = plain.predict(X)
    np.testing.assert_allclose(flushed.predict(X), plain_pred, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(flushed.loss_curve_, plain.loss_curve_, rtol=rtol)
