"""Property tests (hypothesis) of SPEC 6 over shapes, dtypes, memory layouts,
parameter values and method call orders.

Every generated case must end in finite output of the documented shape or
in a ValueError / TypeError whose message names the problem. The oracles:
a fit or a kernel call on any memory layout equals the one on a C-ordered
float copy; a pickled estimator predicts what the original does; crnn.ops
agrees with the NumPy reference. ``tools/fuzz.py`` runs many more cases in
child processes (crashes and hangs); this file keeps to ~30 s.
"""
import os
import pickle
import tempfile
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from crnn import RNNClassifier, RNNRegressor, ops, reference

from ._cells import backward, forward, make_layers

FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LAYOUTS = ["C", "fortran", "strided", "negative", "readonly", "memmap", "list"]


def _in_layout(a, layout, tmpdir):
    """``a`` with the same values in another memory layout or container."""
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        return np.repeat(a, 2, axis=0)[::2]
    if layout == "negative":
        return a[::-1].copy()[::-1]
    if layout == "readonly":
        a = a.copy()
        a.setflags(write=False)
        return a
    if layout == "memmap":
        path = os.path.join(tmpdir, f"{layout}{a.shape}{a.dtype}.dat")
        m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
        m[...] = a
        m.flush()
        return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)
    if layout == "list":
        return a.tolist()
    return np.ascontiguousarray(a)


@st.composite
def sequences(draw, max_n=8, max_t=6, max_i=3):
    n = draw(st.integers(1, max_n))
    T = draw(st.integers(1, max_t))
    I = draw(st.integers(1, max_i))
    scale = draw(st.sampled_from([1.0, 1.0, 1e30, 1e-310, 1e-40, 0.0]))
    seed = draw(st.integers(0, 2**16))
    X = np.random.RandomState(seed).normal(size=(n, T, I)) * scale
    if scale == 0.0:
        X += 2.5  # constant input
    dtype = draw(st.sampled_from([np.float64, np.float32, np.int64]))
    if dtype is np.int64:
        X = np.round(X * 3).clip(-100, 100)
    return X.astype(dtype), seed


def _fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Training diverged")
        return est.fit(X, y)


def _estimator_params(draw_cell, draw_rs, solver, dtype, hidden):
    return dict(cell=draw_cell, hidden_layer_sizes=hidden, max_iter=2, random_state=0,
                return_sequences=draw_rs, solver=solver, dtype=dtype, batch_size=3)


# ------------------------------------------------------------- estimators
@FAST
@given(data=sequences(), layout=st.sampled_from(LAYOUTS),
       cell=st.sampled_from(["rnn", "lstm", "gru"]), return_sequences=st.booleans(),
       solver=st.sampled_from(["adam", "sgd"]), dtype=st.sampled_from(["float32", "float64"]),
       hidden=st.sampled_from([(1,), (3,), (2, 3)]), classify=st.booleans())
def test_fit_predict_any_layout_equals_c_order(data, layout, cell, return_sequences, solver,
                                               dtype, hidden, classify):
    X, seed = data
    rng = np.random.RandomState(seed + 1)
    shape = X.shape[:2] if return_sequences else X.shape[:1]
    y = rng.randint(0, 3, size=shape) if classify else rng.normal(size=shape)
    Est = RNNClassifier if classify else RNNRegressor
    params = _estimator_params(cell, return_sequences, solver, dtype, hidden)
    with warnings.catch_warnings(), tempfile.TemporaryDirectory() as tmp:
        warnings.simplefilter("error")  # nothing may leak but the two below
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Training diverged")
        ref = Est(**params).fit(np.ascontiguousarray(X, dtype=np.float64), y)
        est = Est(**params).fit(_in_layout(X, layout, tmp), _in_layout(y, layout, tmp))
        X_pred = _in_layout(X, layout, tmp)
        pred = est.predict(X_pred)
        expected = ref.predict(X)
    np.testing.assert_array_equal(pred, expected)
    assert pred.shape == shape
    if classify:
        proba = est.predict_proba(X)
        assert proba.shape == shape + (len(est.classes_),)
        assert np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=-1), 1)
    else:
        assert np.all(np.isfinite(pred))
    for d in est.coefs_:
        assert all(np.all(np.isfinite(v)) for v in d.values())


OPS = ["fit", "partial_fit", "predict", "set_params", "warm_start", "pickle", "clone",
       "predict_longer", "predict_other_features", "score"]


@FAST
@given(calls=st.lists(st.sampled_from(OPS), min_size=1, max_size=6),
       cell=st.sampled_from(["rnn", "lstm", "gru"]), classify=st.booleans(),
       return_sequences=st.booleans(), seed=st.integers(0, 1000),
       new_params=st.fixed_dictionaries({
           "learning_rate_init": st.sampled_from([1e-3, 0.5, 1e8]),
           "hidden_layer_sizes": st.sampled_from([(2,), (3, 2)]),
           "dtype": st.sampled_from(["float32", "float64"]),
           "solver": st.sampled_from(["adam", "sgd"])}))
def test_any_call_order_ends_in_valid_state(calls, cell, classify, return_sequences, seed,
                                            new_params):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(10, 4, 2))
    shape = (10, 4) if return_sequences else (10,)
    y = rng.randint(0, 2, size=shape) if classify else rng.normal(size=shape)
    Est = RNNClassifier if classify else RNNRegressor
    est = Est(cell=cell, hidden_layer_sizes=(3,), max_iter=2, random_state=0,
              return_sequences=return_sequences)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Training diverged")
        for call in calls:
            fitted = hasattr(est, "coefs_")
            try:
                if call == "fit":
                    est.fit(X, y)
                elif call == "partial_fit":
                    kw = {"classes": [0, 1]} if classify else {}
                    est.partial_fit(X, y, **kw)
                elif call == "set_params":
                    est.set_params(**new_params)
                elif call == "warm_start":
                    est.set_params(warm_start=True).fit(X, y)
                elif call == "pickle":
                    copy = pickle.loads(pickle.dumps(est))
                    if fitted:  # the oracle: same predictions as the original
                        np.testing.assert_array_equal(copy.predict(X), est.predict(X))
                    est = copy
                elif call == "clone":
                    est = clone(est)
                elif call == "score":
                    assert np.isfinite(est.score(X, y))
                else:
                    T, I = {"predict": (4, 2), "predict_longer": (7, 2),
                            "predict_other_features": (4, 3)}[call]
                    X2 = rng.normal(size=(5, T, I))
                    pred = est.predict(X2)
                    assert I == 2, "predict accepted the wrong number of features"
                    assert fitted
                    assert pred.shape == ((5, T) if return_sequences else (5,))
                    if not classify:
                        assert np.all(np.isfinite(pred))
            except NotFittedError as exc:
                assert not fitted and "not fitted" in str(exc)
            except ValueError as exc:
                assert call == "predict_other_features" and "features" in str(exc)
            if hasattr(est, "coefs_"):
                assert all(np.all(np.isfinite(v)) for d in est.coefs_ for v in d.values())


INVALID_PARAMS = {
    "cell": ["RNN", None], "hidden_layer_sizes": [(), (0,), (3, -1), 2.5, "8"],
    "activation": ["softmax"], "solver": ["lbfgs"], "alpha": [-1.0],
    "batch_size": [0, 2.5, "all"], "learning_rate_init": [0.0, -1.0],
    "max_iter": [0, 1.5], "momentum": [1.5], "validation_fraction": [0.0, 1.0],
    "beta_1": [1.0], "beta_2": [2.0], "epsilon": [0.0], "n_iter_no_change": [0],
    "clip_grad_norm": [0.0, "x"], "dtype": ["float16", None], "tol": [-1.0],
}


@FAST
@given(name=st.sampled_from(sorted(INVALID_PARAMS)), data=st.data(),
       classify=st.booleans(), method=st.sampled_from(["fit", "partial_fit"]))
def test_invalid_parameter_is_named(name, data, classify, method):
    value = data.draw(st.sampled_from(INVALID_PARAMS[name]))
    Est = RNNClassifier if classify else RNNRegressor
    est = Est(**{"max_iter": 1, name: value})
    X = np.random.RandomState(0).normal(size=(6, 3, 2))
    y = np.arange(6) % 2
    kw = {"classes": [0, 1]} if classify and method == "partial_fit" else {}
    with pytest.raises((ValueError, TypeError), match=name):
        getattr(est, method)(X, y, **kw)


BAD_X = {
    "nan": (lambda X: np.where(X > 1, np.nan, X), "NaN"),
    "inf": (lambda X: np.where(X > 1, np.inf, X), "infinity"),
    "complex": (lambda X: X + 1j, "[Cc]omplex"),
    "strings": (lambda X: X.astype(str).astype(object) + "a", "convert|numeric|string"),
    "1-D": (lambda X: X[:, 0, 0], "Reshape your data"),
    "4-D": (lambda X: X[..., None], "2-D .* or 3-D"),
    "no steps": (lambda X: X[:, :0], "zero-length|n_timesteps = 0"),
    "no samples": (lambda X: X[:0], "0 sample"),
    "no features": (lambda X: X[:, :, :0], "0 feature"),
}


@FAST
@given(kind=st.sampled_from(sorted(BAD_X)), classify=st.booleans(),
       where=st.sampled_from(["fit", "predict"]), seed=st.integers(0, 100))
def test_bad_X_gets_an_error_naming_the_problem(kind, classify, where, seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(6, 3, 2))
    X[0, 0, 0] = 2.0  # the NaN / inf mutations need one value above 1
    y = np.arange(6) % 2
    Est = RNNClassifier if classify else RNNRegressor
    est = Est(hidden_layer_sizes=(2,), max_iter=1)
    make_bad, message = BAD_X[kind]
    if where == "predict":
        _fit_quietly(est, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. a ComplexWarning instead of an error
        with pytest.raises((ValueError, TypeError), match=message):
            if where == "fit":
                est.fit(make_bad(X), y)
            else:
                est.predict(make_bad(X))


# -------------------------------------------------------------------- ops
@FAST
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), data=sequences(max_n=5, max_t=6),
       hidden=st.sampled_from([(1,), (4,), (3, 2)]), layout=st.sampled_from(LAYOUTS[:5]),
       activation=st.sampled_from(["tanh", "sigmoid"]), with_h0=st.booleans())
def test_ops_any_layout_matches_reference(cell, data, hidden, layout, activation, with_h0):
    X, seed = data
    X = X.astype(np.float64) if X.dtype == np.int64 else X
    rng = np.random.default_rng(seed)
    layers = make_layers(cell, X.shape[2], hidden, rng, X.dtype)
    h0 = [rng.normal(size=(X.shape[0], H)).astype(X.dtype) for H in hidden] if with_h0 \
        else None
    act = activation if cell == "rnn" else "tanh"
    laid = [{k: _in_layout(v, layout, None) for k, v in p.items()} for p in layers]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, h_n, c_n, cache = forward(ops, cell, _in_layout(X, layout, None), laid, h0,
                                       None, act)
        r_out, r_h_n, _, r_cache = forward(reference, cell, X, layers, h0, None, act)
        d_out = rng.normal(size=out.shape).astype(X.dtype)
        dX, d_layers, _, _ = backward(ops, cell, cache, d_out)
        r_dX, r_layers, _, _ = backward(reference, cell, r_cache, d_out)
    assert out.shape == X.shape[:2] + (hidden[-1],) and dX.shape == X.shape
    tol = 2e-4 if X.dtype == np.float32 else 1e-9
    # scale-aware: 1e30 inputs saturate every gate, denormals vanish
    np.testing.assert_allclose(out, r_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(dX, r_dX, rtol=tol, atol=tol * max(1.0, np.abs(r_dX).max()))
    for got, want in zip(d_layers, r_layers):
        for name in got:
            scale = max(1.0, np.abs(want[name]).max())
            np.testing.assert_allclose(got[name], want[name], rtol=tol, atol=tol * scale)
    for a in [out, dX] + h_n:
        assert np.all(np.isfinite(a))


BAD_LAYERS = {
    "missing b_hh": (lambda L: [{k: v for k, v in L[0].items() if k != "b_hh"}], "missing"),
    "wrong W_hh shape": (lambda L: [dict(L[0], W_hh=L[0]["W_hh"][:, :-1])], "has shape"),
    "complex": (lambda L: [dict(L[0], W_ih=L[0]["W_ih"] + 1j)], "complex"),
    "strings": (lambda L: [dict(L[0], b_ih=L[0]["b_ih"].astype(str))], "real numbers"),
    "nan": (lambda L: [dict(L[0], b_ih=L[0]["b_ih"] * np.nan)], "NaN"),
    "not a dict": (lambda L: [list(L[0].values())], "must be a dict"),
    "number": (lambda L: [3], "must be a dict"),
    "empty": (lambda L: [], "at least one layer"),
}


@FAST
@given(cell=st.sampled_from(["rnn", "lstm", "gru"]), kind=st.sampled_from(sorted(BAD_LAYERS)))
def test_ops_bad_layers_are_named(cell, kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2, 3, 2))
    layers = make_layers(cell, 2, (3,), rng)
    make_bad, message = BAD_LAYERS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises((ValueError, TypeError), match=message):
            forward(ops, cell, X, make_bad(layers))
