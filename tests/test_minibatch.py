"""The compiled minibatch (``crnn._minibatch``) against the Python path.

Both paths run the same passes on the same rows in the same order, so an
epoch must leave the same parameters and report the same losses to the bit;
the Python path itself is checked against finite differences and PyTorch
elsewhere (test_network_gradients, test_golden).
"""
import itertools
import threading

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor, _minibatch, _threads
from crnn._network import RecurrentNetwork
from crnn._training import Hyper, SequenceData, Trainer, new_optimizer_state

from .conftest import CELLS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _problem(cell, dtype, sizes, loss, n_samples=37, n_steps=5, n_features=3, n_outputs=4,
             seed=0):
    rng = np.random.default_rng(seed)
    net = RecurrentNetwork(cell, n_features, sizes, n_outputs, "tanh", dtype, loss=loss)
    X = rng.normal(size=(n_samples, n_steps, n_features)).astype(dtype)
    if loss == "log":
        y = rng.integers(0, n_outputs, n_samples)
    else:
        y = rng.normal(size=(n_samples, n_outputs)).astype(dtype)
    return net, X, y


def _epochs(net, X, y, compiled, threads, batch_size=16, truncate=None, n_epochs=3,
            lengths=None, dropout=0.0, solver="adam", **hyper_kwargs):
    params = net.init_params(np.random.RandomState(0))
    state = new_optimizer_state(net.n_params, net.dtype, solver)
    hyper = Hyper(solver, 0.01, 1e-3, 0.0, truncate=truncate, dropout=dropout)
    for name, value in hyper_kwargs.items():
        setattr(hyper, name, value)
    data = SequenceData(X, y, lengths)
    losses = []
    with _threads._forced_threads(threads), Trainer(
            net, params, state, hyper, batch_size, compiled=compiled,
            dropout_rng=np.random.default_rng(1) if dropout else None) as trainer:
        for epoch in range(n_epochs):
            order = np.random.default_rng(epoch).permutation(X.shape[0])
            losses.append(trainer.epoch(data, order))
        used = trainer._runner is not None
    return params, losses, used


@pytest.mark.parametrize("cell,dtype,sizes,loss,truncate,threads", [
    combo for combo in itertools.product(CELLS, (np.float32, np.float64), ((7,), (9, 6)),
                                         ("squared", "log"), (None, 3), (1, 2))
    # every cell, dtype and loss; depth, truncation and threads crossed less densely
    if combo[4] is None or combo[5] == 2])
def test_compiled_epochs_equal_the_python_path_to_the_bit(cell, dtype, sizes, loss,
                                                          truncate, threads):
    net, X, y = _problem(cell, dtype, sizes, loss)
    expected, expected_losses, used = _epochs(net, X, y, False, threads, truncate=truncate)
    assert not used
    params, losses, used = _epochs(net, X, y, True, threads, truncate=truncate)
    assert used
    np.testing.assert_array_equal(params, expected)
    assert losses == expected_losses
    assert not np.array_equal(params, net.init_params(np.random.RandomState(0)))


@pytest.mark.parametrize("solver,nesterov,alpha,clip", [
    ("sgd", True, 1e-3, 0.0), ("sgd", False, 0.0, 0.5), ("adam", True, 0.0, 0.5),
    ("adam", True, 0.3, 0.0)])
def test_every_optimizer_setting_equals_the_python_path(solver, nesterov, alpha, clip):
    net, X, y = _problem("lstm", np.float32, (6,), "squared")
    kwargs = dict(solver=solver, nesterov=nesterov, alpha=alpha, clip_grad_norm=clip,
                  learning_rate=0.05)
    expected = _epochs(net, X, y, False, 2, **kwargs)
    params, losses, used = _epochs(net, X, y, True, 2, **kwargs)
    assert used
    np.testing.assert_array_equal(params, expected[0])
    assert losses == expected[1]


def test_three_parts_and_a_short_last_minibatch():
    # 37 rows in minibatches of 24: parts of 8 rows and a last minibatch of 13
    net, X, y = _problem("lstm", np.float64, (6,), "squared")
    expected = _epochs(net, X, y, False, 3, batch_size=24)
    params, losses, used = _epochs(net, X, y, True, 3, batch_size=24)
    assert used
    np.testing.assert_array_equal(params, expected[0])
    assert losses == expected[1]


def _diverging_epoch(compiled):
    # a learning rate that blows the parameters up within the epoch: both
    # paths stop after the same minibatch (the first whose loss makes the
    # total non-finite) and count the same updates
    net, X, y = _problem("rnn", np.float32, (6,), "squared", n_samples=160)
    params = net.init_params(np.random.RandomState(0))
    state = new_optimizer_state(net.n_params, net.dtype, "sgd")
    hyper = Hyper("sgd", 1e6, 0.0, 0.0)
    with _threads._forced_threads(2), Trainer(net, params, state, hyper, 16,
                                              compiled=compiled) as trainer:
        loss, first_loss = trainer.epoch(SequenceData(X, y), np.arange(X.shape[0]))
        used = trainer._runner is not None
    return params, loss, first_loss, state["step"], used


def test_a_diverging_epoch_stops_where_the_python_path_stops():
    params, loss, first_loss, steps, used = _diverging_epoch(True)
    expected = _diverging_epoch(False)
    assert used and not expected[4]
    assert not np.isfinite(loss) and np.isfinite(first_loss)
    assert 1 < steps < 10          # stopped early: 160 rows make 10 minibatches
    assert steps == expected[3] and first_loss == expected[2]
    np.testing.assert_array_equal(params, expected[0])


def test_runner_epoch_checks_every_minibatch_before_running():
    net, X, y = _problem("rnn", np.float64, (4,), "squared")
    params = net.init_params(np.random.RandomState(0))
    before = params.copy()
    grads = [np.empty_like(params) for _ in range(2)]
    state = new_optimizer_state(net.n_params, net.dtype, "adam")
    hyper = Hyper("adam", 0.01, 0.0, 0.0)
    from crnn._layers import Workspace
    runner = _minibatch.MinibatchRunner(net, params, grads,
                                        [Workspace(np.float64) for _ in range(2)],
                                        SequenceData(X, y), None, 4, 0.0)
    moments = (state["m"], state["v"])
    try:
        order = np.arange(X.shape[0], dtype=np.intp)
        bad = order.copy()
        bad[-1] = X.shape[0]           # in the last minibatch only
        with pytest.raises(ValueError, match="out of range"):
            runner.epoch(bad, 8, 2, 2, moments, hyper, 1)
        with pytest.raises(ValueError, match="do not fit"):
            runner.epoch(order, 8, 1, 1, moments, hyper, 1)
        with pytest.raises(ValueError, match="batch_size"):
            runner.epoch(order, 0, 2, 2, moments, hyper, 1)
        with pytest.raises(ValueError, match="moments"):
            runner.epoch(order, 8, 2, 2, (state["m"][:-1], state["v"]), hyper, 1)
        np.testing.assert_array_equal(params, before)      # nothing ran
        assert runner.epoch(order[:0], 8, 2, 2, moments, hyper, 1) == (0.0, None, 0)
        total, first_loss, n_steps = runner.epoch(order, 8, 2, 2, moments, hyper, 1)
        assert n_steps == -(-X.shape[0] // 8) and np.isfinite(total) and np.isfinite(first_loss)
    finally:
        runner.close()


def test_sequences_of_one_length_shorter_than_the_padding():
    # every sequence has 3 valid steps of X's 5: the steps past them are never read
    net, X, y = _problem("gru", np.float32, (6,), "squared")
    lengths = np.full(X.shape[0], 3)
    expected = _epochs(net, X, y, False, 2, lengths=lengths)
    X_junk = X.copy()
    X_junk[:, 3:] = np.nan
    params, losses, used = _epochs(net, X_junk, y, True, 2, lengths=lengths)
    assert used
    np.testing.assert_array_equal(params, expected[0])
    assert losses == expected[1]


@pytest.mark.parametrize("change", ["bidirectional", "layer_norm", "return_sequences",
                                    "ragged", "dropout"])
def test_models_it_does_not_cover_take_the_python_path(change):
    kwargs = {change: True} if change in ("bidirectional", "layer_norm",
                                          "return_sequences") else {}
    net = RecurrentNetwork("gru", 3, (5, 4), 2, "tanh", np.float64, **kwargs)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4, 3))
    y = rng.normal(size=(20, 4, 2) if change == "return_sequences" else (20, 2))
    lengths = rng.integers(1, 5, 20) if change == "ragged" else None
    dropout = 0.2 if change == "dropout" else 0.0
    if change == "return_sequences":
        data = SequenceData(X, y, per_step=True)
    else:
        data = SequenceData(X, y, lengths)
    hyper = Hyper("adam", 0.01, 0.0, 0.0, dropout=dropout)
    assert not _minibatch.supports(net, data, hyper)
    plain = RecurrentNetwork("gru", 3, (5, 4), 2, "tanh", np.float64)
    assert _minibatch.supports(plain, SequenceData(X, y[:, 0] if y.ndim == 3 else y),
                               Hyper("adam", 0.01, 0.0, 0.0))


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_fits_hand_their_workers_back_and_reuse_them(Estimator):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5, 2)).astype(np.float32)
    y = rng.integers(0, 3, 64) if Estimator is RNNClassifier else rng.normal(size=64)

    def workers():
        return [t for t in threading.enumerate() if t.name == "crnn-minibatch"]

    with _threads._forced_threads(3):
        Estimator(hidden_layer_sizes=(4,), batch_size=32, max_iter=2,
                  random_state=0).fit(X, y)
        started = workers()
        assert len(started) >= 2 and _minibatch.idle_workers() >= 2
        kwargs = {"classes": [0, 1, 2]} if Estimator is RNNClassifier else {}
        for _ in range(3):
            Estimator(hidden_layer_sizes=(4,), batch_size=32, max_iter=2,
                      random_state=0).partial_fit(X, y, **kwargs)
        # each fit took idle workers: no new thread
        assert workers() == started
        assert _minibatch.idle_workers() == len(started)


def test_concurrent_fits_get_workers_of_their_own():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5, 2)).astype(np.float32)
    y = rng.normal(size=64)
    expected = RNNRegressor(hidden_layer_sizes=(4,), batch_size=32, max_iter=3,
                            random_state=0)
    with _threads._forced_threads(2):
        expected.fit(X, y)
        models = [RNNRegressor(hidden_layer_sizes=(4,), batch_size=32, max_iter=3,
                               random_state=0) for _ in range(4)]
        threads = [threading.Thread(target=m.fit, args=(X, y)) for m in models]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for m in models:
        np.testing.assert_array_equal(m._params, expected._params)


def test_runner_refuses_rows_it_cannot_take():
    net, X, y = _problem("rnn", np.float64, (4,), "squared")
    params = net.init_params(np.random.RandomState(0))
    grads = [np.empty_like(params) for _ in range(2)]
    from crnn._layers import Workspace
    runner = _minibatch.MinibatchRunner(net, params, grads,
                                        [Workspace(np.float64) for _ in range(2)],
                                        SequenceData(X, y), None, 4, 0.0)
    try:
        assert runner.max_parts == 2 and runner.max_rows == 4
        with pytest.raises(ValueError, match="out of range"):
            runner.loss_grad(np.array([0, 1, 2, X.shape[0]], dtype=np.intp), 2)
        with pytest.raises(ValueError, match="do not fit"):
            runner.loss_grad(np.arange(5, dtype=np.intp), 1)
        with pytest.raises(ValueError, match="n_parts"):
            runner.loss_grad(np.arange(4, dtype=np.intp), 3)
        assert np.isfinite(runner.loss_grad(np.arange(8, dtype=np.intp), 2))
    finally:
        runner.close()
    with pytest.raises(RuntimeError, match="close"):
        runner.loss_grad(np.arange(4, dtype=np.intp), 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_loss", [False, True])
def test_readout_loss_matches_numpy(dtype, log_loss):
    rng = np.random.default_rng(0)
    n_rows, n_in, n_outputs, n_predictions = 6, 5, 3, 10
    H = rng.normal(size=(n_rows, n_in)).astype(dtype)
    W_out = rng.normal(size=(n_outputs, n_in)).astype(dtype)
    b_out = rng.normal(size=n_outputs).astype(dtype)
    targets = (rng.integers(0, n_outputs, n_rows) if log_loss
               else rng.normal(size=(n_rows, n_outputs)).astype(dtype))
    out = np.empty((n_rows, n_outputs), dtype)
    gW, gb, dH = np.empty_like(W_out), np.empty_like(b_out), np.empty_like(H)
    value = _minibatch.readout_loss(log_loss, H, W_out, b_out, targets, n_predictions, out,
                                    gW, gb, dH)
    z = H.astype(np.float64) @ W_out.T.astype(np.float64) + b_out
    if log_loss:
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        expected = -np.log(p[np.arange(n_rows), targets]).sum() / n_predictions
        d = p.copy()
        d[np.arange(n_rows), targets] -= 1
        d /= n_predictions
    else:
        expected = 0.5 * np.square(z - targets).sum() / (n_predictions * n_outputs)
        d = (z - targets) / (n_predictions * n_outputs)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(value, expected, rtol=rtol)
    np.testing.assert_allclose(out, d, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(gW, d.T @ H, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(gb, d.sum(axis=0), rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(dH, d @ W_out, rtol=rtol, atol=rtol * 1e-2)


def test_readout_loss_refuses_bad_shapes_and_labels():
    H, W_out, b_out = np.ones((4, 3)), np.ones((2, 3)), np.ones(2)
    args = (np.empty((4, 2)), np.empty((2, 3)), np.empty(2), np.empty((4, 3)))
    with pytest.raises(ValueError, match="shapes"):
        _minibatch.readout_loss(False, H, W_out, b_out, np.ones((4, 2)), 4, np.empty((3, 2)),
                                *args[1:])
    with pytest.raises(ValueError, match="targets"):
        _minibatch.readout_loss(False, H, W_out, b_out, np.ones((4, 3)), 4, *args)
    with pytest.raises(ValueError, match="out of range"):
        _minibatch.readout_loss(True, H, W_out, b_out, np.array([0, 1, 2, 0]), 4, *args)


def test_a_forked_child_starts_workers_of_its_own():
    import multiprocessing
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 5, 2)).astype(np.float32)
    y = rng.normal(size=64)
    with _threads._forced_threads(2):
        expected = RNNRegressor(hidden_layer_sizes=(4,), batch_size=32, max_iter=2,
                                random_state=0).fit(X, y).predict(X)
    assert _minibatch.idle_workers() >= 1
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child():
        idle_at_start = _minibatch.idle_workers()
        with _threads._forced_threads(2):
            got = RNNRegressor(hidden_layer_sizes=(4,), batch_size=32, max_iter=2,
                               random_state=0).fit(X, y).predict(X)
        queue.put((idle_at_start, got))

    proc = ctx.Process(target=child)
    proc.start()
    idle_at_start, got = queue.get(timeout=60)
    proc.join(60)
    assert proc.exitcode == 0 and idle_at_start == 0
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("cell,dtype,sizes", [
    combo for combo in itertools.product(CELLS, (np.float32, np.float64), ((7,), (9, 6, 5)))])
def test_compiled_predict_equals_the_python_path_to_the_bit(cell, dtype, sizes):
    from crnn import _training
    net, X, y = _problem(cell, dtype, sizes, "squared", n_samples=1100, n_steps=4)
    from crnn._layers import Workspace
    params = net.init_params(np.random.RandomState(0))
    coefs = net.views(params)
    # the compiled predict runs a stack step by step through its layers,
    # the Python path layer by layer: the same outputs
    assert _minibatch.predict_supports(net, X, None)
    for threads in (1, 2, 3):
        with _threads._forced_threads(threads):
            # 1100 rows: five chunks of at most PREDICT_CHUNK = 256 (the last one short)
            for rows in (X, X[:7], X[:1]):
                expected = _training.predict(net, coefs, rows, compiled_predict=False)
                bounds, n_parts = _training._chunk_bounds(rows.shape[0])
                got = _minibatch.predict(net, coefs, rows, bounds, n_parts,
                                         [Workspace(dtype) for _ in range(n_parts)], 0.0)
                np.testing.assert_array_equal(got, expected)
                assert got.shape == (rows.shape[0], net.n_outputs)
                np.testing.assert_array_equal(_training.predict(net, coefs, rows), expected)


@pytest.mark.parametrize("sizes", [(288,), (160, 288)])
def test_lstm_unit_groups_equal_whole_rows_to_the_bit(sizes):
    # float32 LSTM layers whose 256-row chunks hold more than 1 MiB of
    # pre-activations (4 x 288 columns, a whole number of panels at every
    # level; not 4 x 160) step unit group by unit group
    # (crnn_lstm_infer_step_units): the same tiles over the same panels and
    # rows as the whole-row step, so the same bits. The Python path's steps
    # (_recurrent's own switch, left on) take unit groups too; 600 rows end
    # in a chunk of 88, which is too small for them.
    dtype = np.float32
    from crnn import _training
    from crnn._layers import Workspace
    net, X, y = _problem("lstm", dtype, sizes, "squared", n_samples=600, n_steps=3,
                         n_features=5)
    coefs = net.views(net.init_params(np.random.RandomState(0)))
    expected = _training.predict(net, coefs, X, compiled_predict=False)
    bounds, n_parts = _training._chunk_bounds(X.shape[0])
    assert _minibatch._infer_units()
    try:
        for on in (True, False):
            _minibatch._infer_units(on)
            got = _minibatch.predict(net, coefs, X, bounds, n_parts,
                                     [Workspace(dtype) for _ in range(n_parts)], 0.0)
            np.testing.assert_array_equal(got, expected)
    finally:
        _minibatch._infer_units(True)


def test_compiled_predict_refuses_what_it_does_not_cover():
    net, X, y = _problem("lstm", np.float32, (4,), "squared")
    assert _minibatch.predict_supports(net, X, None)
    assert not _minibatch.predict_supports(net, X, np.full(X.shape[0], X.shape[1]))
    assert not _minibatch.predict_supports(net, X.astype(np.float64), None)
    assert not _minibatch.predict_supports(net, np.asfortranarray(X), None)
    for kwargs in ({"bidirectional": True}, {"layer_norm": True},
                   {"return_sequences": True}):
        other = RecurrentNetwork("lstm", 3, (4,), 4, "tanh", np.float32, **kwargs)
        assert not _minibatch.predict_supports(other, X, None)
    coefs = net.views(net.init_params(np.random.RandomState(0)))
    from crnn._layers import Workspace
    with pytest.raises(ValueError, match="cover"):
        _minibatch.predict(net, coefs, X, [(0, 10), (12, X.shape[0])], 1,
                           [Workspace(np.float32)], 0.0)
    with pytest.raises(ValueError, match="n_threads"):
        _minibatch.predict(net, coefs, X, [(0, X.shape[0])], 2,
                           [Workspace(np.float32)] * 2, 0.0)
