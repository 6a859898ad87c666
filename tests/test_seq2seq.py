"""Sequence to sequence (SPEC 11): the encoder-decoder's gradients (finite
differences through both stacks), the compiled greedy decode against a
Python step loop, the estimators' behaviour and bad input, and three small
learning tasks (reverse digits, add numbers, map a curve to another)."""
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from crnn import Seq2SeqClassifier, Seq2SeqRegressor
from crnn._layers import Workspace
from crnn._model import Minibatch
from crnn._seq2seq import Seq2SeqData, Seq2SeqNetwork

from .conftest import CELLS

# every test here runs with the default product choice and all products packed
pytestmark = pytest.mark.usefixtures("product_path")

DIGITS = "0123456789+"


def _fit(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y, **kwargs)


def _problem(rng, classify, n=5, T=6, F=3, O=4, T_out=4):
    X = rng.normal(size=(n, T, F))
    lengths = rng.integers(1, T + 1, n)
    target_lengths = rng.integers(1, T_out + 1, n)
    Y = rng.integers(0, O, (n, T_out)) if classify else rng.normal(size=(n, T_out, O))
    return X, lengths, Y, target_lengths


def _loss_and_grad(net, flat, data, rows):
    X, targets, packing, extra = data.gather(rows)
    batch = Minibatch(X, packing, targets, data.n_predictions(rows), extra=extra)
    grad = np.zeros_like(flat)
    loss = net.loss_grad(net.views(flat), net.views(grad), batch, Workspace(flat.dtype))
    return loss, grad


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("classify", [False, True])
@pytest.mark.parametrize("hidden", [(5,), (4, 3)])
def test_gradient_matches_finite_differences(cell, classify, hidden):
    # every parameter: encoder, decoder, readout and the start vector; the
    # encoder's gradient only arrives through the decoder's initial state
    rng = np.random.default_rng(1)
    X, lengths, Y, target_lengths = _problem(rng, classify)
    O = 4
    net = Seq2SeqNetwork(cell, 3, hidden, O, "tanh", np.float64,
                         "log" if classify else "squared")
    flat = net.init_params(np.random.RandomState(0))
    data = Seq2SeqData(X, lengths, Y, target_lengths, O if classify else None)
    rows = np.argsort(-lengths, kind="stable")
    _, grad = _loss_and_grad(net, flat, data, rows)
    eps = 1e-6
    numeric = np.empty_like(flat)
    for i in range(flat.size):
        up, down = flat.copy(), flat.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (_loss_and_grad(net, up, data, rows)[0]
                      - _loss_and_grad(net, down, data, rows)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    encoder = net.views(grad)["encoder"][0]["W_ih"]
    assert np.abs(encoder).max() > 1e-4  # the gradient did reach the encoder


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("classify", [False, True])
def test_parts_add_up_to_the_whole_minibatch(cell, classify):
    # the trainer splits a minibatch into parts sorted by input length; the
    # decoder re-sorts by target length, so the parts must still add up
    rng = np.random.default_rng(2)
    X, lengths, Y, target_lengths = _problem(rng, classify, n=9)
    net = Seq2SeqNetwork(cell, 3, (5,), 4, "tanh", np.float64, "log" if classify else "squared")
    flat = net.init_params(np.random.RandomState(0))
    data = Seq2SeqData(X, lengths, Y, target_lengths, 4 if classify else None)
    rows = np.argsort(-lengths, kind="stable")
    whole_loss, whole = _loss_and_grad(net, flat, data, rows)
    n_pred = data.n_predictions(rows)
    total_loss, total = 0.0, np.zeros_like(flat)
    for p in range(3):
        Xp, targets, packing, extra = data.gather(rows[p::3])
        grad = np.zeros_like(flat)
        total_loss += net.loss_grad(net.views(flat), net.views(grad),
                                    Minibatch(Xp, packing, targets, n_pred, extra=extra),
                                    Workspace(np.float64))
        total += grad
    assert total_loss == pytest.approx(whole_loss, rel=1e-12)
    np.testing.assert_allclose(total, whole, rtol=1e-10, atol=1e-14)


def _python_greedy(net, coefs, X, lengths, steps, classify):
    """Greedy decoding as a Python loop: rerun the teacher-forced decoder on
    the inputs decoded so far, one more step each time."""
    n = X.shape[0]
    inputs = np.zeros((n, steps, net.n_outputs))
    out = None
    for s in range(steps):
        out = net.teacher_forced_raw(coefs, X, lengths, inputs[:, :s + 1], Workspace(X.dtype))
        if s + 1 < steps:
            if classify:
                inputs[np.arange(n), s + 1, np.argmax(out[:, s], axis=1)] = 1
            else:
                inputs[:, s + 1] = out[:, s]
    return out


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("classify", [False, True])
def test_compiled_decode_equals_python_step_loop(cell, classify):
    rng = np.random.default_rng(3)
    X, lengths, _, _ = _problem(rng, classify, n=6)
    O = 3 if not classify else 5
    net = Seq2SeqNetwork(cell, 3, (6, 4), O, "tanh", np.float64,
                         "log" if classify else "squared")
    flat = net.init_params(np.random.RandomState(4))
    coefs = net.views(flat)
    coefs["readout"]["W_out"] *= 3  # make the argmax vary between steps
    X = np.ascontiguousarray(X)
    out, labels, out_lengths = net.decode_raw(coefs, X, Workspace(np.float64), lengths, 7)
    expected = _python_greedy(net, coefs, X, lengths, 7, classify)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    if classify:
        np.testing.assert_array_equal(labels, np.argmax(expected, axis=2))
    assert np.all(out_lengths == 7)


def test_decode_stops_after_end_label():
    rng = np.random.default_rng(5)
    X, lengths, _, _ = _problem(rng, True, n=8)
    net = Seq2SeqNetwork("gru", 3, (6,), 4, "tanh", np.float64, "log")
    coefs = net.views(net.init_params(np.random.RandomState(6)))
    coefs["readout"]["W_out"] *= 4
    X = np.ascontiguousarray(X)
    _, labels, _ = net.decode_raw(coefs, X, Workspace(np.float64), lengths, 12)
    end = int(labels[0, 2])  # some label the first row emits at step 2
    _, labels_end, lengths_end = net.decode_raw(coefs, X, Workspace(np.float64), lengths, 12,
                                                end_index=end)
    for row, full, n in zip(labels_end, labels, lengths_end):
        hits = np.flatnonzero(full == end)
        assert n == (hits[0] + 1 if hits.size else labels.shape[1])
        np.testing.assert_array_equal(row[:n], full[:n])
    assert lengths_end[0] <= 3
    assert labels_end.shape[1] == lengths_end.max()  # stopped once every row ended


# ------------------------------------------------------------- estimators
def _reverse_data(rng, n, low=3, high=12, vocab=10):
    seqs = [rng.integers(0, vocab, k) for k in rng.integers(low, high + 1, n)]
    X = [np.eye(vocab)[s] for s in seqs]
    y = [np.append(s[::-1], vocab) for s in seqs]   # reversed, then the end label
    return X, y


def _small_classifier(**kwargs):
    params = dict(cell="gru", hidden_layer_sizes=(16,), end_label=10, max_iter=3,
                  random_state=0)
    params.update(kwargs)
    return Seq2SeqClassifier(**params)


def _curve_data(rng, n, T_in=20, T_out=10):
    """X: a sine segment with random phase and frequency; y: the cosine of the
    same phase and frequency over the next T_out steps (another length)."""
    phase = rng.uniform(0, 2 * np.pi, n)
    freq = rng.uniform(0.2, 0.5, n)
    t_in = np.arange(T_in)
    t_out = np.arange(T_in, T_in + T_out)
    X = np.sin(phase[:, None] + freq[:, None] * t_in)
    y = np.cos(phase[:, None] + freq[:, None] * t_out)
    return X, y


def test_coefs_layout_and_dtype():
    rng = np.random.default_rng(0)
    X, y = _reverse_data(rng, 20)
    for dtype in ("float32", "float64"):
        clf = _fit(_small_classifier(cell="lstm", hidden_layer_sizes=(8, 6), dtype=dtype),
                   X, y)
        c = clf.coefs_
        assert set(c) == {"encoder", "decoder", "readout"}
        assert c["encoder"][0]["W_ih"].shape == (32, 10)
        assert c["encoder"][1]["W_hh"].shape == (24, 6)
        assert c["decoder"][0]["W_ih"].shape == (32, 11)   # one-hot of 11 classes
        assert c["readout"]["W_out"].shape == (11, 6)
        assert c["readout"]["start"].shape == (11,)
        assert all(a.dtype == np.dtype(dtype) for part in ("encoder", "decoder")
                   for layer in c[part] for a in layer.values())
        # live parameters: writing into them changes predictions
        before = clf.predict(X[:5])
        c["readout"]["b_out"][10] += 100.0
        after = clf.predict(X[:5])
        assert all(len(p) == 1 and p[0] == 10 for p in after)
        assert any(len(p) > 1 for p in before)


def test_clone_get_params_pickle_and_determinism():
    rng = np.random.default_rng(0)
    X, y = _reverse_data(rng, 40)
    clf = _small_classifier(max_output_length=15)
    params = clf.get_params()
    assert params["end_label"] == 10 and params["max_output_length"] == 15
    assert "return_sequences" not in params and "bidirectional" not in params
    twin = clone(clf)
    assert twin.get_params() == params
    _fit(clf, X, y)
    _fit(twin, X, y)
    for a, b in zip(clf.predict(X), twin.predict(X)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(clf._params, twin._params)
    loaded = pickle.loads(pickle.dumps(clf))
    for a, b in zip(clf.predict(X), loaded.predict(X)):
        np.testing.assert_array_equal(a, b)
    reg = _fit(Seq2SeqRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0),
               *_curve_data(rng, 30))
    loaded = pickle.loads(pickle.dumps(reg))
    X_new = _curve_data(rng, 5)[0]
    np.testing.assert_array_equal(reg.predict(X_new), loaded.predict(X_new))


@pytest.mark.parametrize("cell", CELLS)
def test_regressor_layouts(cell):
    rng = np.random.default_rng(1)
    X, y = _curve_data(rng, 30)
    reg = _fit(Seq2SeqRegressor(cell=cell, hidden_layer_sizes=(8,), max_iter=2,
                                random_state=0), X, y)
    assert reg.predict(X).shape == (30, 10)
    assert reg.predict(X).dtype == np.float64
    reg.set_params(max_output_length=4)
    assert reg.predict(X).shape == (30, 4)
    # ragged X, multi-output ragged y
    X_list = [x[:n] for x, n in zip(X, rng.integers(5, 21, 30))]
    y_list = [np.stack([t[:n], -t[:n]], axis=1) for t, n in zip(y, rng.integers(2, 11, 30))]
    reg = _fit(Seq2SeqRegressor(cell=cell, hidden_layer_sizes=(8,), max_iter=2,
                                random_state=0), X_list, y_list)
    assert reg.max_target_length_ == max(len(t) for t in y_list)
    assert reg.predict(X_list).shape == (30, reg.max_target_length_, 2)
    assert np.isfinite(reg.score(X_list, y_list))


def test_early_stopping_partial_fit_warm_start():
    rng = np.random.default_rng(2)
    X, y = _reverse_data(rng, 60, high=5)
    clf = _fit(_small_classifier(early_stopping=True, max_iter=8, n_iter_no_change=2), X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    X_val, y_val = _reverse_data(rng, 10, high=5)
    clf = _fit(_small_classifier(max_iter=4), X, y, X_val=X_val, y_val=y_val)
    assert len(clf.validation_scores_) == clf.n_iter_
    # partial_fit: one epoch per call, classes fixed on the first
    classes = np.arange(11)
    inc = _small_classifier()
    inc.partial_fit(X, y, classes=classes)
    inc.partial_fit(X, y)
    assert inc.n_iter_ == 2
    with pytest.raises(ValueError, match="not in classes_"):
        inc.partial_fit([np.eye(10)[[1, 2]]], [np.array([11])])
    # warm start continues from the previous parameters
    warm = _fit(_small_classifier(max_iter=2, warm_start=True), X, y)
    before = warm._params.copy()
    _fit(warm, X, y)
    assert warm.n_iter_ == 4
    assert not np.array_equal(before, warm._params)


def test_divergence_rolls_back():
    rng = np.random.default_rng(3)
    X, y = _curve_data(rng, 20)
    reg = Seq2SeqRegressor(cell="rnn", hidden_layer_sizes=(8,), max_iter=5, solver="sgd",
                           learning_rate_init=1e30, clip_grad_norm=None, random_state=0)
    with pytest.warns(RuntimeWarning, match="diverged"):
        reg.fit(X, y * 1e6)
    assert np.all(np.isfinite(reg._params))


def test_bad_input():
    rng = np.random.default_rng(4)
    X, y = _reverse_data(rng, 10)
    with pytest.raises(ValueError, match="at least one step"):
        _small_classifier().fit(X, y[:-1] + [np.array([], dtype=int)])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        _small_classifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="end_label"):
        _small_classifier(end_label=99).fit(X, y)
    with pytest.raises(ValueError, match="max_output_length"):
        _small_classifier(max_output_length=0).fit(X, y)
    with pytest.raises(ValueError, match="cell"):
        _small_classifier(cell="transformer").fit(X, y)
    with pytest.raises(ValueError, match="requires y"):
        _small_classifier().fit(X, None)
    with pytest.raises(ValueError, match="classes must be passed"):
        _small_classifier().partial_fit(X, y)
    Xc, yc = _curve_data(rng, 10)
    with pytest.raises(ValueError, match="NaN or infinity"):
        Seq2SeqRegressor(max_iter=1).fit(Xc, np.where(yc > 0.9, np.nan, yc))
    with pytest.raises(ValueError, match="at least one step"):
        Seq2SeqRegressor(max_iter=1).fit(Xc[:2], [np.zeros(3), np.zeros(0)])
    with pytest.raises(ValueError, match="different numbers of outputs"):
        Seq2SeqRegressor(max_iter=1).fit(Xc[:2], [np.zeros((3, 2)), np.zeros((3, 1))])
    reg = _fit(Seq2SeqRegressor(hidden_layer_sizes=(4,), max_iter=1), Xc, yc)
    with pytest.raises(ValueError, match="features"):
        reg.predict(np.zeros((2, 5, 3)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        reg.score(Xc, yc[:-1])


# ------------------------------------------------------- learning tasks
def test_learns_to_reverse_digit_sequences():
    # (a) reverse digits, random length 3-12, exact-sequence accuracy on
    # held-out sequences (full run: benchmarks/seq2seq_full_runs.py)
    rng = np.random.default_rng(0)
    X, y = _reverse_data(rng, 2000)
    X_test, y_test = _reverse_data(rng, 300)
    clf = _fit(Seq2SeqClassifier(cell="gru", hidden_layer_sizes=(64,), end_label=10,
                                 max_iter=15, learning_rate_init=0.01, random_state=0), X, y)
    # measured 0.52 (chance is ~0); per-digit accuracy well above
    assert clf.score(X_test, y_test) >= 0.35


def _addition_data(rng, n, max_digits=2):
    a = rng.integers(0, 10 ** rng.integers(1, max_digits + 1, n))
    b = rng.integers(0, 10 ** rng.integers(1, max_digits + 1, n))
    X = [np.eye(len(DIGITS))[[DIGITS.index(c) for c in f"{p}+{q}"]] for p, q in zip(a, b)]
    y = [np.array(list(str(p + q)) + ["$"]) for p, q in zip(a, b)]
    return X, y


def test_learns_to_add_numbers():
    # (b) "12+45" -> "57$" on two-digit numbers, exact-sequence accuracy
    rng = np.random.default_rng(0)
    X, y = _addition_data(rng, 3000)
    X_test, y_test = _addition_data(rng, 300)
    clf = _fit(Seq2SeqClassifier(cell="lstm", hidden_layer_sizes=(64,), end_label="$",
                                 max_iter=25, learning_rate_init=0.01, batch_size=64,
                                 random_state=0), X, y)
    assert clf.score(X_test, y_test) >= 0.6   # measured 0.857


def test_learns_to_map_a_curve_to_another_of_other_length():
    # (c) 20 steps of a sine -> the next 10 steps of the cosine, R^2
    rng = np.random.default_rng(0)
    X, y = _curve_data(rng, 1000)
    X_test, y_test = _curve_data(rng, 200)
    reg = _fit(Seq2SeqRegressor(cell="gru", hidden_layer_sizes=(32,), max_iter=30,
                                learning_rate_init=0.01, random_state=0), X, y)
    assert reg.score(X_test, y_test) >= 0.9   # measured 0.983


@pytest.mark.parametrize("cell", CELLS)
def test_threaded_fit_and_decode_match_one_thread(cell, monkeypatch):
    # data-parallel parts sum the same gradient in another order (float64:
    # equal to rounding); predict decodes chunks on several threads
    from crnn import _threads, _training

    rng = np.random.default_rng(7)
    X, y = _reverse_data(rng, 96, high=6)
    fits = {}
    for n in (1, 3):
        with _threads._forced_threads(n):
            fits[n] = _fit(_small_classifier(cell=cell, dtype="float64", batch_size=48), X, y)
    np.testing.assert_allclose(fits[3].loss_curve_, fits[1].loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(fits[3]._params, fits[1]._params, rtol=1e-9, atol=1e-12)
    serial = fits[1].predict(X)
    monkeypatch.setattr(_training, "PREDICT_CHUNK", 7)
    with _threads._forced_threads(3):
        threaded = fits[1].predict(X)
    assert len(threaded) == len(serial)
    for a, b in zip(threaded, serial):
        np.testing.assert_array_equal(a, b)


def test_fit_too_large_for_memory_fails_fast(monkeypatch):
    # the estimate covers both stacks and fails before anything is allocated
    from crnn import _memory

    rng = np.random.default_rng(8)
    X, y = _curve_data(rng, 64)
    monkeypatch.setattr(_memory, "available_bytes", lambda: 50_000)
    reg = Seq2SeqRegressor(hidden_layer_sizes=(32,), batch_size=64, max_iter=1)
    with pytest.raises(MemoryError, match="lower batch_size"):
        reg.fit(X, y)
    assert not hasattr(reg, "coefs_")
