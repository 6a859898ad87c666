"""Persistence: pickle, joblib and skops.io round trips and the version stamp.

The oracle is the estimator before saving: a loaded model must predict
exactly the same, keep live ``coefs_`` and continue training exactly as the
original would.
"""
import io
import pickle
import warnings

import joblib
import numpy as np
import pytest

import crnn
from crnn import InconsistentVersionWarning, RNNClassifier, RNNRegressor
from crnn import _persistence

from .conftest import CELLS

PLAIN_SCALARS = (str, int, float, bool, type(None))


def _data(seed=0, n=48, T=5, F=3):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, T, F)
    y = np.tanh(X[:, -1, 0] + 0.5 * X[:, -2, 1])
    return X, y


def _fitted(kind, cell, **params):
    X, y = _data()
    params = dict(dict(cell=cell, hidden_layer_sizes=(5, 4), max_iter=3, random_state=0),
                  **params)
    if kind == "regressor":
        return RNNRegressor(**params).fit(X, y), X, y
    labels = np.array(["down", "flat", "up"])[np.digitize(y, [-0.3, 0.3])]
    return RNNClassifier(**params).fit(X, labels), X, labels


def _assert_plain(value, where="state"):
    """Everything in a pickled state is an ndarray of numbers/strings or a builtin."""
    if isinstance(value, np.ndarray):
        assert value.dtype.kind in "biufU", f"{where}: array of dtype {value.dtype}"
    elif isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str)
            _assert_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _assert_plain(item, f"{where}[{i}]")
    else:
        assert isinstance(value, PLAIN_SCALARS), f"{where}: {type(value).__name__}"


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        yield


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("cell", CELLS)
def test_pickled_state_is_plain_and_stamped(kind, cell):
    model, _, _ = _fitted(kind, cell)
    state = model.__getstate__()
    _assert_plain(state)
    assert "_network" not in state and state["coefs_"] is None
    assert state["_crnn_version"] == crnn.__version__
    # the live model keeps its network: getstate must not strip the instance
    assert hasattr(model, "_network")


@pytest.mark.parametrize("dump, load", [
    (pickle.dumps, pickle.loads),
    (lambda m: _joblib_bytes(m), lambda b: joblib.load(io.BytesIO(b))),
], ids=["pickle", "joblib"])
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("cell", CELLS)
def test_round_trip_predicts_and_trains_like_the_original(dump, load, kind, cell):
    model, X, y = _fitted(kind, cell)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        loaded = load(dump(model))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if kind == "classifier":
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    # optimizer state survived: one more epoch gives bit-identical parameters
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded._params, model._params)
    assert loaded.n_iter_ == model.n_iter_ == 4


def _joblib_bytes(model):
    buffer = io.BytesIO()
    joblib.dump(model, buffer)
    return buffer.getvalue()


def test_loaded_coefs_are_live_views():
    model, X, _ = _fitted("regressor", "gru")
    loaded = pickle.loads(pickle.dumps(model))
    loaded.coefs_[-1]["b_out"][...] += 1.0
    np.testing.assert_allclose(loaded.predict(X), model.predict(X) + 1.0, rtol=1e-5)
    assert np.shares_memory(loaded.coefs_[0]["W_ih"], loaded._params)


def test_architecture_comes_from_the_fit_not_from_later_set_params():
    model, X, _ = _fitted("regressor", "lstm")
    expected = model.predict(X)
    # parameters changed after fit describe the *next* fit, not the saved network
    model.set_params(cell="gru", hidden_layer_sizes=(7,))
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(X), expected)
    assert [d["W_hh"].shape for d in loaded.coefs_[:-1]] == [(20, 5), (16, 4)]


def test_unfitted_estimator_round_trips():
    model = RNNRegressor(cell="gru", hidden_layer_sizes=(3,))
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.get_params() == model.get_params()
    assert not hasattr(loaded, "coefs_")


def test_other_version_warns(monkeypatch):
    model, X, _ = _fitted("regressor", "rnn")
    monkeypatch.setattr(_persistence, "_current_version", lambda: "0.0.1")
    payload = pickle.dumps(model)
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning) as record:
        loaded = pickle.loads(payload)
    assert issubclass(InconsistentVersionWarning, UserWarning)
    message = str(record[0].message)
    assert "0.0.1" in message and crnn.__version__ in message and "RNNRegressor" in message
    assert record[0].message.original_version == "0.0.1"
    # still usable
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_pickle_without_stamp_warns_and_loads():
    """A crnn 0.1.0 pickle: no stamp, the network object inside the state."""
    model, X, _ = _fitted("regressor", "gru")
    legacy = dict(model.__dict__, coefs_=None)  # what 0.1.0's __getstate__ wrote
    loaded = RNNRegressor.__new__(RNNRegressor)
    with pytest.warns(InconsistentVersionWarning, match="unknown"):
        loaded.__setstate__(legacy)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


# ----------------------------------------------------------------------- skops
@pytest.mark.parametrize("kind", ["regressor", "classifier"])
@pytest.mark.parametrize("cell", CELLS)
def test_skops_round_trip_trusts_only_crnn_estimators(kind, cell, tmp_path):
    sio = pytest.importorskip("skops.io")
    model, X, y = _fitted(kind, cell, early_stopping=True, max_iter=4)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == _persistence.trusted_types(model)
    assert untrusted == [f"crnn._estimators.{type(model).__name__}"]
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InconsistentVersionWarning)
        loaded = sio.load(path, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.validation_scores_ == model.validation_scores_
    model.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded._params, model._params)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_seq2seq_skops_round_trip(kind, tmp_path):
    # the encoder-decoder's state is plain too: its coefs_ dict is rebuilt
    # as live views from the config and the flat parameters
    sio = pytest.importorskip("skops.io")
    from crnn import Seq2SeqClassifier, Seq2SeqRegressor

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)) for n in rng.integers(2, 7, 30)]
    if kind == "regressor":
        model = Seq2SeqRegressor(hidden_layer_sizes=(6,), max_iter=3, random_state=0)
        y = [rng.normal(size=n) for n in rng.integers(1, 5, 30)]
    else:
        model = Seq2SeqClassifier(hidden_layer_sizes=(6,), max_iter=3, end_label="end",
                                  random_state=0)
        y = [np.array(list("abc"[:n]) + ["end"]) for n in rng.integers(0, 4, 30)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = tmp_path / "model.skops"
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert untrusted == [f"crnn._seq2seq_estimators.{type(model).__name__}"]
    loaded = sio.load(path, trusted=untrusted)
    expected, got = model.predict(X), loaded.predict(X)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)
    # live views after loading
    assert np.shares_memory(loaded.coefs_["readout"]["b_out"], loaded._params)
    assert np.shares_memory(loaded.coefs_["encoder"][0]["W_ih"], loaded._params)
