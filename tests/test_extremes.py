"""Numerical extremes (SPEC 6): huge and denormal inputs, constant targets,
one class per partial_fit batch, one sample, T = 1, H = 1, T = 10,000, and
float32 overflow inside the gates.

Oracles: the NumPy reference (crnn.reference) run on the fitted
parameters, and bounds that the cell equations imply (|h| <= 1 for tanh
cells whatever the input).
"""
import warnings

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor, ops, reference

from ._cells import forward, make_layers

CELLS = ["rnn", "lstm", "gru"]
DTYPES = ["float32", "float64"]
BOUNDED = [("rnn", "tanh"), ("rnn", "sigmoid"), ("lstm", "tanh"), ("gru", "tanh")]


def _quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        return est.fit(X, y, **kw)


def _reference_predict(est, X):
    """Regression output of the NumPy reference on the fitted parameters."""
    X = np.asarray(X, dtype=np.float64)
    layers = [{k: v.astype(np.float64) for k, v in d.items()} for d in est.coefs_[:-1]]
    kw = {"activation": est.activation} if est.cell == "rnn" else {}
    out, _, _, _ = forward(reference, est.cell, X, layers, **kw)
    H = out if est.return_sequences else out[:, -1]
    W, b = est.coefs_[-1]["W_out"].astype(np.float64), est.coefs_[-1]["b_out"]
    return (H @ W.T + b)[..., 0]


@pytest.mark.parametrize("cell,activation", BOUNDED)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e30, 1e-310, 1e-40])
def test_huge_and_denormal_inputs_train_and_predict_finite(cell, activation, dtype, scale):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 5, 2)) * scale
    y = rng.normal(size=12)
    est = RNNRegressor(cell=cell, activation=activation, hidden_layer_sizes=(4,),
                       max_iter=3, dtype=dtype, random_state=0)
    _quiet_fit(est, X, y)
    assert est.n_iter_ == 3 and np.all(np.isfinite(est.loss_curve_))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred = est.predict(X)
    assert np.all(np.isfinite(pred))
    tol = 1e-4 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(pred, _reference_predict(est, X), rtol=tol, atol=tol)
    if scale < 1e-30:
        # denormal input is as good as zero input, and must not be slow or NaN
        np.testing.assert_allclose(pred, est.predict(np.zeros_like(X)), atol=tol)


@pytest.mark.parametrize("cell,activation", BOUNDED)
@pytest.mark.parametrize("seed", range(4))
def test_float32_gate_overflow_never_yields_nan(cell, activation, seed):
    # inputs near float32's maximum and weights of 1e3: every pre-activation
    # overflows to +-inf, often both signs in one dot product
    rng = np.random.default_rng(seed)
    X = (np.clip(rng.normal(size=(4, 6, 3)), -1, 1) * 3e38).astype(np.float32)
    layers = make_layers(cell, 3, (5, 3), rng, np.float32, scale=1e3)
    kw = {"activation": activation} if cell == "rnn" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, h_n, c_n, _ = forward(ops, cell, X, layers, **kw)
    assert np.all(np.isfinite(out)) and all(np.all(np.isfinite(h)) for h in h_n)
    bound = 1.0 if activation in ("tanh", "sigmoid") else np.inf
    assert np.all(np.abs(out) <= bound)
    if c_n is not None:  # |c_t| grows by at most 1 per step
        assert all(np.all(np.abs(c) <= X.shape[1]) for c in c_n)
    # the predict kernels take the same inputs
    est = RNNRegressor(cell=cell, activation=activation, hidden_layer_sizes=(5, 3),
                       max_iter=1, random_state=0)
    _quiet_fit(est, np.zeros((4, 6, 3)), np.zeros(4))
    for d, p in zip(est.coefs_[:-1], layers):
        for k in d:
            d[k][...] = p[k]
    assert np.all(np.isfinite(est.predict(X)))


@pytest.mark.parametrize("cell", CELLS)
def test_constant_targets_are_learned(cell):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4, 2))
    y = np.full(30, 7.5)
    est = RNNRegressor(cell=cell, hidden_layer_sizes=(4,), max_iter=300, random_state=0,
                       learning_rate_init=0.05, tol=0.0, n_iter_no_change=300)
    _quiet_fit(est, X, y)
    pred = est.predict(X)
    np.testing.assert_allclose(pred, 7.5, atol=0.2)
    assert np.isfinite(est.score(X, y))
    # constant input too: every sequence is the same, one prediction
    _quiet_fit(est, np.ones_like(X), y)
    assert np.ptp(est.predict(np.ones_like(X))) == 0


@pytest.mark.parametrize("cell", CELLS)
def test_one_class_per_partial_fit_batch(cell):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5, 2))
    labels = np.repeat(["a", "b", "c"], 10)
    X[:, :, 0] += np.repeat([-2.0, 0.0, 2.0], 10)[:, None]
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(6,), random_state=0,
                        learning_rate_init=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for epoch in range(40):
            for k in range(3):  # each batch holds a single class
                rows = slice(10 * k, 10 * k + 10)
                clf.partial_fit(X[rows], labels[rows], classes=["a", "b", "c"])
    proba = clf.predict_proba(X)
    assert proba.shape == (30, 3) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert clf.n_iter_ == 120 and np.all(np.isfinite(clf.loss_curve_))
    assert clf.score(X, labels) > 0.6  # learned across single-class batches


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_one_sample(cell, dtype):
    X = np.random.RandomState(0).normal(size=(1, 4, 2))
    reg = _quiet_fit(RNNRegressor(cell=cell, hidden_layer_sizes=(3,), max_iter=20,
                                  dtype=dtype, random_state=0), X, [2.0])
    assert reg.predict(X).shape == (1,)
    np.testing.assert_allclose(reg.predict(X), _reference_predict(reg, X),
                               rtol=1e-4, atol=1e-5)
    clf = _quiet_fit(RNNClassifier(cell=cell, hidden_layer_sizes=(3,), max_iter=2,
                                   dtype=dtype, random_state=0), X, ["only"])
    assert list(clf.predict(X)) == ["only"]
    np.testing.assert_allclose(clf.predict_proba(X), [[1.0]])
    # early stopping cannot hold out a validation set from one sample
    with pytest.raises(ValueError, match="too small to hold out"):
        RNNRegressor(early_stopping=True).fit(X, [2.0])


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_one_step_and_one_hidden_unit(cell, return_sequences):
    rng = np.random.RandomState(1)
    X = rng.normal(size=(9, 1, 1))
    y = X[:, :, 0] if return_sequences else X[:, 0, 0]
    est = RNNRegressor(cell=cell, hidden_layer_sizes=(1, 1), max_iter=5, dtype="float64",
                       return_sequences=return_sequences, random_state=0)
    _quiet_fit(est, X, y)
    pred = est.predict(X)
    assert pred.shape == y.shape
    np.testing.assert_allclose(pred, _reference_predict(est, X), rtol=1e-10, atol=1e-12)
    # and a one-step model reads longer sequences at predict time
    assert est.predict(rng.normal(size=(2, 6, 1))).shape == ((2, 6) if return_sequences
                                                             else (2,))


@pytest.mark.parametrize("cell", CELLS)
def test_ten_thousand_steps(cell):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(4, 10_000, 1))
    y = X[:, -10:, 0].sum(axis=1)
    est = RNNRegressor(cell=cell, hidden_layer_sizes=(4,), max_iter=2, dtype="float64",
                       random_state=0, learning_rate_init=1e-3)
    _quiet_fit(est, X, y)
    assert np.all(np.isfinite(est.loss_curve_))
    assert all(np.all(np.isfinite(v)) for d in est.coefs_ for v in d.values())
    pred = est.predict(X)
    # 10,000 recurrent steps in float64 agree with the NumPy reference
    np.testing.assert_allclose(pred, _reference_predict(est, X), rtol=1e-8, atol=1e-10)
    # float32 over the same steps stays finite and close (error does not blow up)
    est32 = RNNRegressor(cell=cell, hidden_layer_sizes=(4,), max_iter=1, random_state=0)
    _quiet_fit(est32, X, y)
    np.testing.assert_allclose(est32.predict(X), _reference_predict(est32, X),
                               rtol=1e-3, atol=1e-4)
