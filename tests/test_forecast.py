"""RNNRegressor.forecast: the compiled feedback loop against the obvious
reference (predict one step, append it, predict again), on a generated
process against a persistence baseline, and its errors (SPEC 11)."""
import pickle
import warnings

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor
from crnn.preprocessing import make_windows

from .conftest import CELLS

# every test here runs with the default product choice and all products packed
pytestmark = pytest.mark.usefixtures("product_path")


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _series(n=900, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * 0.15
    return np.stack([np.sin(t), np.cos(0.5 * t)], axis=1) + noise * rng.normal(size=(n, 2))


def _naive_forecast(model, contexts, steps):
    """Predict one step, append it to the context, predict again."""
    out = []
    contexts = [np.asarray(c, np.float64) for c in contexts]
    for _ in range(steps):
        pred = model.predict(contexts)
        if model.return_sequences:
            pred = np.stack([p[-1] for p in pred]) if isinstance(pred, list) else pred[:, -1]
        pred = np.asarray(pred).reshape(len(contexts), -1)
        out.append(pred)
        contexts = [np.concatenate([c, p[np.newaxis]]) for c, p in zip(contexts, pred)]
    return np.stack(out, axis=1)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("hidden", [(6,), (5, 4)])
def test_forecast_equals_repeated_one_step_prediction(cell, return_sequences, hidden):
    series = _series(400)
    X, y = make_windows(series, 12, target="sequence" if return_sequences else "next")
    reg = _fit(RNNRegressor(cell=cell, hidden_layer_sizes=hidden, max_iter=3,
                            return_sequences=return_sequences, random_state=0,
                            dtype="float64"), X, y)
    rng = np.random.default_rng(1)
    contexts = [series[s:s + n] for s, n in zip(rng.integers(0, 300, 5), (12, 5, 20, 1, 9))]
    got = reg.forecast(contexts, 7)
    assert got.shape == (5, 7, 2)
    np.testing.assert_allclose(got, _naive_forecast(reg, contexts, 7), rtol=1e-12, atol=1e-13)
    # a padded 3-D context is the same input
    padded = np.full((5, 20, 2), np.nan)
    for i, c in enumerate(contexts):
        padded[i, :len(c)] = c
    np.testing.assert_array_equal(reg.forecast(padded, 7), got)


def test_univariate_forecast_shape_and_float32():
    series = np.sin(np.arange(500) * 0.2)
    X, y = make_windows(series, 15)
    reg = _fit(RNNRegressor(cell="gru", hidden_layer_sizes=(8,), max_iter=3, random_state=0),
               X, y)
    out = reg.forecast(X[:4], 10)
    assert out.shape == (4, 10) and out.dtype == np.float64
    np.testing.assert_allclose(out, _naive_forecast(reg, X[:4, :, np.newaxis], 10)[..., 0],
                               rtol=2e-5, atol=2e-6)
    assert reg.forecast([series[:30], series[5:12]], 3).shape == (2, 3)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_fifty_step_forecast_beats_persistence(cell):
    # A noisy two-frequency process, forecast 50 steps past held-out contexts:
    # the model's error must be well under that of repeating the last value.
    series = _series(1600, noise=0.05, seed=3)
    train, test = series[:1200], series[1200:]
    X, y = make_windows(train, 40, stride=2)
    reg = _fit(RNNRegressor(cell=cell, hidden_layer_sizes=(32,), max_iter=40,
                            learning_rate_init=5e-3, random_state=0), X, y)
    starts = np.arange(0, len(test) - 90, 10)
    contexts = np.stack([test[s:s + 40] for s in starts])
    truth = np.stack([test[s + 40:s + 90] for s in starts])
    mse = np.mean((reg.forecast(contexts, 50) - truth) ** 2)
    persistence = np.mean((contexts[:, -1:, :] - truth) ** 2)
    print(f"{cell}: 50-step forecast MSE {mse:.4f}, persistence {persistence:.4f}, "
          f"ratio {mse / persistence:.3f}")
    assert mse < 0.25 * persistence


def test_forecast_is_deterministic_and_survives_pickling():
    series = _series(300)
    X, y = make_windows(series, 10)
    params = dict(cell="lstm", hidden_layer_sizes=(6, 6), max_iter=3, random_state=4)
    a, b = _fit(RNNRegressor(**params), X, y), _fit(RNNRegressor(**params), X, y)
    np.testing.assert_array_equal(a.forecast(X[:6], 12), b.forecast(X[:6], 12))
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.forecast(X[:6], 12), a.forecast(X[:6], 12))


def test_forecast_errors():
    series = _series(200)
    X, y = make_windows(series, 8)
    reg = _fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=1), X, y)
    for steps in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="steps must be an int >= 1"):
            reg.forecast(X[:2], steps)
    with pytest.raises(ValueError, match="X has 3 features per time step"):
        reg.forecast(np.zeros((2, 5, 3)), 2)
    not_next_step = _fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=1), X, y[:, 0])
    with pytest.raises(ValueError, match="needs a next-step model.*1 outputs for 2 input"):
        not_next_step.forecast(X[:2], 3)
    bidirectional = _fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=1,
                                      bidirectional=True), X, y)
    with pytest.raises(ValueError, match="one-directional model"):
        bidirectional.forecast(X[:2], 3)
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        RNNRegressor().forecast(X[:2], 3)
    assert not hasattr(RNNClassifier(), "forecast")


@pytest.mark.parametrize("cell", CELLS)
def test_float32_three_layer_forecast_equals_repeated_prediction(cell):
    # the feedback loop reads each prediction in place from the output
    # (row stride steps x F) and each layer above the first reads the state
    # below in place: a float32 stack of three exercises both strides
    series = _series(300, seed=3)
    X, y = make_windows(series, 10)
    reg = _fit(RNNRegressor(cell=cell, hidden_layer_sizes=(9, 7, 5), max_iter=2,
                            random_state=1, dtype="float32"), X, y)
    got = reg.forecast(X[:11], 6)
    assert got.shape == (11, 6, 2) and got.dtype == np.float64  # computed in float32
    np.testing.assert_allclose(got, _naive_forecast(reg, list(X[:11]), 6), rtol=2e-5,
                               atol=2e-6)


def test_compiled_loops_refuse_a_stack_without_layers():
    from crnn import _recurrent
    f = np.zeros(8)
    sizes = np.array([2], dtype=np.intp)
    out = np.zeros((1, 2, 2))
    with pytest.raises(ValueError, match="forecast needs at least one layer"):
        _recurrent.forecast(1, 0, f, f, f, f, sizes, f, f, np.zeros((1, 8)), np.zeros((2, 1)),
                            np.zeros(2), out)
    with pytest.raises(ValueError, match="decode needs at least one layer"):
        _recurrent.decode(1, 0, f, f, f, f, sizes, f, f, np.zeros((1, 8)), np.zeros((2, 1)),
                          np.zeros(2), np.zeros(2), False, -1, out, np.zeros((1, 2), np.intp),
                          np.zeros(1, np.intp))
