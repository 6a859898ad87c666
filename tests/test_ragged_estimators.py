"""The estimators on real sequence data: variable lengths (ragged lists and
NaN-padded arrays), bidirectional layers, dropout and truncated BPTT."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from crnn import RNNClassifier, RNNRegressor, reference

from .conftest import CELLS


def quiet_fit(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kw)


def sine_classes(n=240, seed=0, min_len=8, max_len=40):
    """Ragged many-to-one task: which of three frequencies is this noisy sine?"""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    lengths = rng.integers(min_len, max_len + 1, n)
    omega = np.array([0.3, 0.8, 1.6])
    X = [np.sin(omega[c] * np.arange(L) + rng.uniform(0, 2 * np.pi))[:, None]
         + 0.1 * rng.normal(size=(L, 1)) for c, L in zip(y, lengths)]
    return X, y


def tagging(n=300, seed=0, shift=1):
    """Ragged tagging task: tag step t with the symbol seen at t - shift (or
    class 3 where there is none); inputs are one-hot symbols."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for L in rng.integers(5, 21, n):
        s = rng.integers(0, 3, L)
        X.append(np.eye(3)[s])
        tags = np.full(L, 3)
        if shift > 0:
            tags[shift:] = s[:-shift]
        else:
            tags[:shift] = s[-shift:]
        y.append(tags)
    return X, y


def _nan_padded(X):
    T = max(len(x) for x in X)
    out = np.full((len(X), T, X[0].shape[1]), np.nan)
    for i, x in enumerate(X):
        out[i, :len(x)] = x
    return out


def _reference_outputs(est, X, lengths):
    """Readout from crnn.reference on the fitted coefs_ (float64)."""
    layers = [{k: np.asarray(v, np.float64) for k, v in p.items()} for p in est.coefs_[:-1]]
    out, h_n, _, _ = reference.forward(est.cell, X, layers, activation=est.activation,
                                       lengths=lengths)
    readout = est.coefs_[-1]
    H = out if est.return_sequences else h_n[-1]
    return H @ np.asarray(readout["W_out"], np.float64).T + readout["b_out"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_ragged_many_to_one_learns_and_matches_reference(cell, bidirectional):
    X, y = sine_classes()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(16,), learning_rate_init=1e-2,
                        max_iter=40, random_state=0, bidirectional=bidirectional,
                        dtype="float64")
    quiet_fit(clf, X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    print(f"ragged sine classes {cell} bidirectional={bidirectional}: {accuracy:.3f}")
    assert accuracy >= 0.9
    assert set(clf.coefs_[0]) == ({"W_ih", "W_hh", "b_ih", "b_hh"} | (
        {"W_ih_reverse", "W_hh_reverse", "b_ih_reverse", "b_hh_reverse"}
        if bidirectional else set()))
    padded = _nan_padded(X_test)
    lengths = np.array([len(x) for x in X_test])
    logits = _reference_outputs(clf, np.nan_to_num(padded), lengths)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X_test), proba, rtol=1e-9, atol=1e-12)
    # NaN-padded arrays are the same input as the list
    np.testing.assert_array_equal(clf.predict_proba(padded), clf.predict_proba(X_test))


@pytest.mark.parametrize("cell", CELLS)
def test_sequence_tagging_learns_past_and_bidirectional_learns_future(cell):
    # tagging the previous symbol needs memory; tagging the next one needs
    # the reverse direction: a one-directional network cannot beat chance
    # (about 1/3) on it, a bidirectional one must.
    results = {}
    for shift, bidirectional in [(1, False), (-1, False), (-1, True)]:
        X, y = tagging(shift=shift)
        clf = RNNClassifier(cell=cell, hidden_layer_sizes=(16,), return_sequences=True,
                            learning_rate_init=1e-2, max_iter=30, random_state=0,
                            bidirectional=bidirectional)
        quiet_fit(clf, X[:240], y[:240])
        pred = clf.predict(X[240:])
        assert isinstance(pred, list)
        assert [len(p) for p in pred] == [len(t) for t in y[240:]]
        results[shift, bidirectional] = clf.score(X[240:], y[240:])
    print(f"tagging {cell}: {results}")
    assert results[1, False] >= 0.95
    assert results[-1, True] >= 0.95
    assert results[-1, False] < 0.7


@pytest.mark.parametrize("cell", CELLS)
def test_loss_is_the_mean_over_valid_steps(cell):
    # One minibatch, a step too small to move the parameters: the first
    # epoch's loss is the reference's loss of the initial model.
    rng = np.random.default_rng(1)
    lengths = np.array([6, 2, 4, 1, 5])
    X = [rng.normal(size=(n, 2)) for n in lengths]
    y = [rng.normal(size=(n, 3)) for n in lengths]
    reg = RNNRegressor(cell=cell, hidden_layer_sizes=(4, 3), return_sequences=True,
                       learning_rate_init=1e-12, max_iter=1, shuffle=False,
                       batch_size=5, dtype="float64", random_state=0)
    quiet_fit(reg, X, y)
    out = _reference_outputs(reg, np.nan_to_num(_nan_padded(X)), lengths)
    err = [out[i, :n] - y[i] for i, n in enumerate(lengths)]
    expected = 0.5 * sum(float(np.sum(e ** 2)) for e in err) / (lengths.sum() * 3)
    assert reg.loss_curve_[0] == pytest.approx(expected, rel=1e-9)
    pred = reg.predict(X)
    assert [p.shape for p in pred] == [(n, 3) for n in lengths]


def test_ragged_lists_work_with_sklearn_tools():
    X, y = sine_classes(n=120)
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    assert isinstance(X_train, list)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(clf, X, y, cv=3)
        search = GridSearchCV(clf, {"hidden_layer_sizes": [(4,), (8,)]}, cv=2).fit(X, y)
        pipe = make_pipeline(FunctionTransformer(lambda seqs: [s * 2.0 for s in seqs]),
                             clone(clf)).fit(X_train, y_train)
    assert scores.shape == (3,) and np.all(np.isfinite(scores))
    assert search.best_params_["hidden_layer_sizes"] in [(4,), (8,)]
    assert pipe.predict(X_test).shape == (len(X_test),)
    fitted = quiet_fit(clone(clf), X_train, y_train)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))


@pytest.mark.parametrize("cell", CELLS)
def test_dropout_is_deterministic_and_independent_of_threads(cell):
    from crnn._layers import Workspace  # noqa: F401  (imported for the model)
    from crnn._network import RecurrentNetwork
    from crnn._training import Hyper, SequenceData, Trainer, new_optimizer_state

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 6, 2))
    lengths = rng.integers(1, 7, 24)
    y = rng.normal(size=(24, 1))
    net = RecurrentNetwork(cell, 2, (5, 4, 3), 1, "tanh", np.float64, bidirectional=True)
    params = net.init_params(rng)
    data = SequenceData(X, y, lengths)
    rows = np.arange(24)
    results = []
    for n_parts in (1, 2, 3):
        trainer = Trainer(net, params, new_optimizer_state(net.n_params, np.float64, "adam"),
                          Hyper("adam", 1e-3, 0.0, 0.0, dropout=0.4), batch_size=24,
                          n_parts=n_parts, dropout_rng=np.random.default_rng(7))
        with trainer:
            loss = trainer.loss_grad(trainer.parts(data, rows))
        results.append((loss, trainer.grads.copy()))
    for loss, grads in results[1:]:
        assert loss == pytest.approx(results[0][0], rel=1e-12)
        np.testing.assert_allclose(grads, results[0][1], rtol=1e-10, atol=1e-13)
    # the masks matter (the test can fail): no dropout gives another loss
    trainer = Trainer(net, params, new_optimizer_state(net.n_params, np.float64, "adam"),
                      Hyper("adam", 1e-3, 0.0, 0.0), batch_size=24, n_parts=1)
    with trainer:
        assert trainer.loss_grad(trainer.parts(data, rows)) != pytest.approx(results[0][0])

    X_seq, y_seq = sine_classes(n=60)
    fits = [quiet_fit(RNNClassifier(cell=cell, hidden_layer_sizes=(6, 6), dropout=0.3,
                                    max_iter=3, random_state=3), X_seq, y_seq)
            for _ in range(2)]
    np.testing.assert_array_equal(fits[0]._params, fits[1]._params)


@pytest.mark.parametrize("cell", CELLS)
def test_truncate_bptt_at_or_beyond_the_length_changes_nothing(cell):
    X, y = sine_classes(n=60, max_len=12)
    params = dict(cell=cell, hidden_layer_sizes=(6,), max_iter=3, random_state=0,
                  dtype="float64")
    full = quiet_fit(RNNClassifier(**params), X, y)
    long_window = quiet_fit(RNNClassifier(truncate_bptt=12, **params), X, y)
    short_window = quiet_fit(RNNClassifier(truncate_bptt=2, **params), X, y)
    np.testing.assert_allclose(long_window._params, full._params, rtol=1e-12, atol=1e-14)
    assert not np.allclose(short_window._params, full._params)


def test_bad_sequence_input_is_rejected():
    good = [np.zeros((3, 2)), np.zeros((5, 2))]
    clf = RNNClassifier(hidden_layer_sizes=(3,), max_iter=1)
    reg = RNNRegressor(hidden_layer_sizes=(3,), max_iter=1, return_sequences=True)
    with pytest.raises(ValueError, match=r"X\[1\] is a zero-length sequence"):
        clf.fit([np.zeros((3, 2)), np.zeros((0, 2))], [0, 1])
    with pytest.raises(ValueError, match=r"different numbers of features per time step: \[2, 3\]"):
        clf.fit([np.zeros((3, 2)), np.zeros((4, 3))], [0, 1])
    with pytest.raises(ValueError, match=r"Input X\[0\] contains NaN"):
        clf.fit([np.array([[0.0, np.nan], [1, 2]]), np.zeros((4, 2))], [0, 1])
    with pytest.raises(ValueError, match=r"X\[1\] is not numeric"):
        clf.fit([np.zeros((3, 2)), np.array([["a", "b"]] * 4)], [0, 1])
    with pytest.raises(ValueError, match=r"X\[0\] must be 1-D \(T_i,\) or 2-D"):
        clf.fit([np.zeros((3, 2, 1)), np.zeros((4, 2))], [0, 1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples: X has 2, y has 3"):
        clf.fit(good, [0, 1, 1])
    with pytest.raises(ValueError, match=r"y\[1\] has 4 steps, its sequence 5"):
        reg.fit(good, [np.zeros(3), np.zeros(4)])
    padded = np.full((2, 5, 2), np.nan)
    padded[0, :3] = 0
    padded[1, :5] = 1
    padded[1, 2, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN inside a sequence \(sample 1, step 2\)"):
        clf.fit(padded, [0, 1])
    padded[1] = np.nan
    with pytest.raises(ValueError, match="zero valid steps"):
        clf.fit(padded, [0, 1])
    quiet_fit(reg, good, [np.zeros(3), np.zeros(5)])
    with pytest.raises(ValueError, match=r"y\[0\] has 2 steps, its sequence 3"):
        reg.score(good, [np.zeros(2), np.zeros(5)])
