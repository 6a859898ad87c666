"""crnn.preprocessing: PerStep, SequenceScaler and make_windows (SPEC 12).

Oracles: scikit-learn's own transformers applied to the valid steps stacked
by a Python loop, a naive windowing loop, and scaling by hand before an
estimator.
"""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (MinMaxScaler, OneHotEncoder, PolynomialFeatures,
                                   StandardScaler)
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.fixes import parse_version

from crnn import RNNClassifier, RNNRegressor
from crnn.preprocessing import PerStep, SequenceScaler, make_windows

# ---------------------------------------------------------------------------
# scikit-learn's common checks
# ---------------------------------------------------------------------------

# As for the estimators (test_sklearn_compat.py): n_features_in_ counts
# features per time step and a 2-D X is (n_samples, n_timesteps) (SPEC 5).
_AXIS1 = ("assumes axis 1 is the feature axis; a 2-D X is (n_samples, n_timesteps) "
          "here, so other column counts are other sequence lengths (SPEC 5)")
EXPECTED_FAILED = {
    "check_n_features_in": _AXIS1,
    "check_n_features_in_after_fitting": _AXIS1,
    # besides fit_transform/transform consistency, this check asserts that
    # transform rejects X with another column count; the consistency part is
    # repeated in test_transform_consistency below
    "check_transformer_general": _AXIS1,
}

TRANSFORMERS = [
    PerStep(StandardScaler()),
    PerStep(OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
    PerStep(PCA(n_components=1)),
    SequenceScaler(),
    SequenceScaler(method="minmax", feature_range=(-1, 2)),
]



def _expected_failed(estimator):
    failed = dict(EXPECTED_FAILED)
    # Before scikit-learn 1.8 this check casts X to int32 for an estimator with
    # the categorical input tag (PerStep(OneHotEncoder) inherits it) and then
    # subtracts a float mean in place, so it fails inside the check itself.
    if (parse_version(sklearn.__version__) < parse_version("1.8")
            and get_tags(estimator).input_tags.categorical):
        failed["check_positive_only_tag_during_fit"] = (
            "scikit-learn < 1.8 casts a categorical estimator's X to int32, then "
            "subtracts a float in place (fixed in 1.8)")
    return failed


@parametrize_with_checks(TRANSFORMERS, expected_failed_checks=_expected_failed)
def test_sklearn_compatible_transformer(estimator, check):
    check(estimator)


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=repr)
@pytest.mark.parametrize("layout", ["3d", "2d", "padded", "ragged"])
def test_transform_consistency(transformer, layout, rng):
    """check_transformer_general's part that does not assume axis 1 = features."""
    X = _data(layout, rng)
    fitted = clone(transformer).fit(X)
    once, again = fitted.transform(X), fitted.transform(X)
    fit_transformed = clone(transformer).fit_transform(X)
    for a, b, c in zip(_seqs(once), _seqs(again), _seqs(fit_transformed)):
        assert_allclose(a, b)
        assert_allclose(a, c, atol=1e-12)


# ---------------------------------------------------------------------------
# Helpers: data in every layout and the stacked-steps oracle
# ---------------------------------------------------------------------------

LENGTHS = [7, 3, 5, 1, 6]


def _data(layout, rng, n_features=3):
    """The same five sequences (lengths LENGTHS) in each accepted layout."""
    seqs = [rng.normal(2.0, 3.0, size=(t, n_features)) for t in LENGTHS]
    if layout == "ragged":
        return seqs
    if layout == "ragged1d":
        return [s[:, 0] for s in seqs]
    if layout == "padded":
        X = np.full((len(seqs), max(LENGTHS), n_features), np.nan)
        for i, s in enumerate(seqs):
            X[i, :len(s)] = s
        return X
    X = rng.normal(2.0, 3.0, size=(5, 7, n_features))
    return X[:, :, 0] if layout == "2d" else X


def _seqs(X):
    """The valid steps of each sequence, as a list of (T_i, F) arrays (the oracle's view)."""
    if isinstance(X, list):
        return [x.reshape(len(x), -1) for x in X]
    X = X.reshape(X.shape[0], X.shape[1], -1)
    return [x[~np.isnan(x).all(axis=1)] for x in X]


def _stacked(X):
    return np.concatenate(_seqs(X))


LAYOUTS = ["3d", "2d", "padded", "ragged", "ragged1d"]


def _assert_same_layout(out, X, n_out):
    """out has X's layout (list/array, lengths, padding) with n_out features."""
    if isinstance(X, list):
        assert isinstance(out, list) and len(out) == len(X)
        for o, x in zip(out, X):
            expected = (len(x),) if x.ndim == 1 and n_out == 1 else (len(x), n_out)
            assert o.shape == expected
        return
    assert isinstance(out, np.ndarray)
    if X.ndim == 2 and n_out == 1:
        assert out.shape == X.shape
    else:
        assert out.shape == X.shape[:2] + (n_out,)
    X3 = X.reshape(X.shape[0], X.shape[1], -1)
    out3 = out.reshape(out.shape[0], out.shape[1], -1)
    assert_array_equal(np.isnan(out3).all(axis=2), np.isnan(X3).all(axis=2))


# ---------------------------------------------------------------------------
# PerStep
# ---------------------------------------------------------------------------

INNER = [
    StandardScaler(),
    MinMaxScaler(),
    PCA(n_components=2),  # fewer features out than in
    PolynomialFeatures(degree=2),  # more features out, no inverse_transform
]


@pytest.mark.parametrize("inner", INNER, ids=repr)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_perstep_equals_inner_on_stacked_steps(inner, layout, rng):
    if isinstance(inner, PCA) and layout in ("2d", "ragged1d"):
        inner = PCA(n_components=1)
    X = _data(layout, rng)
    steps = _stacked(X)
    expected = clone(inner).fit(steps).transform(steps)
    for out in (PerStep(inner).fit(X).transform(X), PerStep(inner).fit_transform(X)):
        _assert_same_layout(out, X, expected.shape[1])
        assert_allclose(_stacked(out), expected, rtol=1e-12, atol=1e-12)


def test_perstep_padding_is_never_seen(rng):
    X = _data("padded", rng)
    model = PerStep(StandardScaler()).fit(X)
    assert model.transformer_.n_samples_seen_ == sum(LENGTHS)
    assert_allclose(model.transformer_.mean_, _stacked(X).mean(axis=0))


def test_perstep_onehot_changes_feature_count_and_names():
    X = np.array([[["a", "x"], ["b", "y"], ["a", "y"]],
                  [["c", "x"], ["a", "x"], ["b", "x"]]], dtype=object)
    model = PerStep(OneHotEncoder(sparse_output=False)).fit(X)
    out = model.transform(X)
    assert out.shape == (2, 3, 5)
    assert_array_equal(out.sum(axis=2), 2.0)  # one hot per input feature
    assert_array_equal(model.get_feature_names_out(),
                       ["x0_a", "x0_b", "x0_c", "x1_x", "x1_y"])
    assert_array_equal(model.get_feature_names_out(["letter", "axis"])[:2],
                       ["letter_a", "letter_b"])
    assert_array_equal(model.inverse_transform(out), X)
    # sparse output (the encoder's default) is densified
    assert_array_equal(PerStep(OneHotEncoder()).fit_transform(X), out)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_perstep_inverse_round_trip(layout, rng):
    X = _data(layout, rng)
    model = PerStep(StandardScaler()).fit(X)
    back = model.inverse_transform(model.transform(X))
    _assert_same_layout(back, X, 1 if layout in ("2d", "ragged1d") else 3)
    for b, x in zip(_seqs(back), _seqs(X)):
        assert_allclose(b, x, rtol=1e-12)


def test_perstep_inverse_only_where_inner_has_it(rng):
    assert hasattr(PerStep(StandardScaler()), "inverse_transform")
    assert not hasattr(PerStep(PolynomialFeatures()), "inverse_transform")
    model = PerStep(PolynomialFeatures()).fit(_data("3d", rng))
    assert not hasattr(model, "inverse_transform")


def test_perstep_integer_output_with_padding_becomes_float():
    X = np.array([[[1.0], [2.0]], [[3.0], [np.nan]]])
    from sklearn.preprocessing import FunctionTransformer
    out = PerStep(FunctionTransformer(lambda a: a.astype(np.int64))).fit_transform(X)
    assert out.dtype == np.float64
    assert_array_equal(out[:, :, 0], [[1, 2], [3, np.nan]])


def test_perstep_nested_params_in_grid_search(rng):
    X = rng.normal(size=(40, 6, 2))
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    pipe = make_pipeline(PerStep(StandardScaler()),
                         RNNClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0))
    assert pipe.get_params()["perstep__transformer__with_mean"] is True
    search = GridSearchCV(pipe, {"perstep__transformer__with_mean": [True, False]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert search.best_estimator_[0].transformer_.with_mean == \
        search.best_params_["perstep__transformer__with_mean"]


# ---------------------------------------------------------------------------
# SequenceScaler
# ---------------------------------------------------------------------------

SCALERS = [
    (SequenceScaler(), StandardScaler()),
    (SequenceScaler(with_mean=False), StandardScaler(with_mean=False)),
    (SequenceScaler(with_std=False), StandardScaler(with_std=False)),
    (SequenceScaler(method="minmax"), MinMaxScaler()),
    (SequenceScaler(method="minmax", feature_range=(-2, 3)), MinMaxScaler((-2, 3))),
]


@pytest.mark.parametrize("scaler, oracle", SCALERS, ids=repr)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequence_scaler_equals_sklearn_scaler(scaler, oracle, layout, dtype, rng):
    X = _data(layout, rng)
    X = [x.astype(dtype) for x in X] if isinstance(X, list) else X.astype(dtype)
    steps = _stacked(X)
    oracle = clone(oracle).fit(steps)
    model = clone(scaler).fit(X)
    assert model.n_samples_seen_ == len(steps)
    for name in ("mean_", "var_", "scale_", "data_min_", "data_max_", "min_"):
        if getattr(oracle, name, None) is not None:
            # MinMaxScaler keeps float32 attributes for float32 X, ours are float64
            assert_allclose(getattr(model, name), getattr(oracle, name),
                            rtol=1e-5 if dtype == np.float32 else 1e-12)
    out = model.transform(X)
    n_out = 1 if layout in ("2d", "ragged1d") else 3
    _assert_same_layout(out, X, n_out)
    for o in (out if isinstance(out, list) else [out]):
        assert o.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(_stacked(out), oracle.transform(steps), rtol=rtol, atol=rtol)
    back = model.inverse_transform(out)
    _assert_same_layout(back, X, n_out)
    assert_allclose(_stacked(back), steps, rtol=rtol, atol=10 * rtol)


def test_sequence_scaler_many_blocks_and_large_offset(rng):
    # Many blocks merged (Chan's update) and a mean 1e6 times the spread: a
    # running sum of squares would lose the variance to cancellation.
    X = 1e6 + rng.normal(size=(300, 50, 6))
    X[::7, 30:] = np.nan
    steps = _stacked(X)
    model = SequenceScaler().fit(X)
    assert_allclose(model.mean_, steps.mean(axis=0), rtol=1e-14)
    assert_allclose(model.var_, steps.var(axis=0), rtol=1e-9)


@pytest.mark.parametrize("layout", ["3d", "padded", "ragged", "strided"])
@pytest.mark.parametrize("n_features", [1, 5, 32])
def test_sequence_scaler_large_input_equals_sklearn(layout, n_features, rng):
    # Large enough for several statistics blocks and transform chunks, and a
    # last chunk that is shorter than the others.
    X = (3.0 + 2.0 * rng.normal(size=(301, 97, n_features))).astype(np.float32)
    if layout == "padded":
        X[np.arange(97) >= rng.integers(1, 98, size=301)[:, None]] = np.nan
    elif layout == "ragged":
        X = [x[:t] for x, t in zip(X, rng.integers(1, 98, size=301))]
    elif layout == "strided":
        X = X[::2, ::-1]
    steps = _stacked(X)
    for scaler, oracle in [(SequenceScaler(), StandardScaler()),
                           (SequenceScaler(method="minmax"), MinMaxScaler())]:
        oracle.fit(steps)
        model = scaler.fit(X)
        out = model.transform(X)
        _assert_same_layout(out, X, n_features)
        assert_allclose(_stacked(out), oracle.transform(steps), rtol=1e-5, atol=1e-5)
        assert_allclose(_stacked(model.inverse_transform(out)), steps, rtol=1e-5, atol=1e-5)


def test_sequence_scaler_integer_input_becomes_float64():
    X = np.arange(24).reshape(2, 4, 3)
    assert SequenceScaler().fit_transform(X).dtype == np.float64
    ragged = [np.arange(3), np.arange(5)]
    assert all(x.dtype == np.float64 for x in SequenceScaler().fit_transform(ragged))


def test_sequence_scaler_constant_feature_is_not_divided_by_zero():
    X = np.ones((3, 4, 2))
    X[:, :, 1] = np.arange(4)
    out = SequenceScaler().fit_transform(X)
    assert_array_equal(out[:, :, 0], 0.0)
    out = SequenceScaler(method="minmax").fit_transform(X)
    assert_array_equal(out[:, :, 0], 0.0)
    assert_allclose(out[0, :, 1], [0, 1 / 3, 2 / 3, 1])


def test_sequence_scaler_read_only_input_is_not_modified(rng):
    X = rng.normal(size=(4, 5, 2))
    X.flags.writeable = False
    copy = X.copy()
    model = SequenceScaler().fit(X)
    model.inverse_transform(model.transform(X))
    assert_array_equal(X, copy)


# ---------------------------------------------------------------------------
# Pipelines with the estimators
# ---------------------------------------------------------------------------

def _quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


@pytest.fixture(scope="module")
def sequence_task():
    """3-D X on a scale far from 1, a regression and a classification target."""
    rng = np.random.default_rng(1)
    X = 50.0 + 20.0 * rng.normal(size=(48, 6, 3))
    y_reg = ((X[:, :, 0] - 50.0) / 20.0).mean(axis=1)
    y_clf = (y_reg > 0).astype(int)
    return X, y_reg, y_clf


PIPELINES = [
    ("classifier", PerStep(StandardScaler()), StandardScaler(),
     RNNClassifier(hidden_layer_sizes=(4,), max_iter=4, random_state=0)),
    ("regressor", SequenceScaler(), StandardScaler(),
     RNNRegressor(hidden_layer_sizes=(4,), max_iter=4, random_state=0)),
]


@pytest.mark.parametrize("kind, scaler, oracle, estimator", PIPELINES, ids=lambda p: str(p))
def test_pipeline_equals_scaling_by_hand_and_pickles(kind, scaler, oracle, estimator,
                                                      sequence_task):
    X, y_reg, y_clf = sequence_task
    y = y_clf if kind == "classifier" else y_reg
    pipe = _quiet_fit(make_pipeline(scaler, estimator), X, y)

    by_hand = oracle.fit(X.reshape(-1, X.shape[2]))
    X_scaled = by_hand.transform(X.reshape(-1, X.shape[2])).reshape(X.shape)
    alone = _quiet_fit(clone(estimator), X_scaled, y)
    assert_allclose(pipe.predict(X) if kind == "regressor" else pipe.predict_proba(X),
                    alone.predict(X_scaled) if kind == "regressor"
                    else alone.predict_proba(X_scaled), rtol=1e-5, atol=1e-6)

    restored = pickle.loads(pickle.dumps(pipe))
    assert_array_equal(restored.predict(X), pipe.predict(X))


@pytest.mark.parametrize("kind, scaler, oracle, estimator", PIPELINES, ids=lambda p: str(p))
def test_pipeline_in_cross_val_score_and_grid_search(kind, scaler, oracle, estimator,
                                                     sequence_task):
    X, y_reg, y_clf = sequence_task
    y = y_clf if kind == "classifier" else y_reg
    pipe = make_pipeline(scaler, estimator)
    cv = KFold(3, shuffle=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        scores = cross_val_score(pipe, X, y, cv=cv)
        step = pipe.steps[1][0]
        search = GridSearchCV(pipe, {f"{step}__hidden_layer_sizes": [(3,), (5,)]}, cv=cv)
        search.fit(X, y)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert search.best_estimator_.predict(X).shape == (len(X),)


def test_ragged_pipeline_with_estimator():
    rng = np.random.default_rng(2)
    X = [10 + 5 * rng.normal(size=(t, 2)) for t in (4, 9, 6, 3, 7, 5)]
    y = np.array([x[:, 0].mean() for x in X])
    pipe = _quiet_fit(make_pipeline(SequenceScaler(),
                                    RNNRegressor(hidden_layer_sizes=(4,), max_iter=3,
                                                 random_state=0)), X, y)
    # SPEC 5: results equal those of running each sequence alone
    alone = np.concatenate([pipe.predict([x]) for x in X])
    assert_allclose(pipe.predict(X), alone, rtol=1e-5)


# ---------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------

def _target_task(rng, y_shape):
    X = rng.normal(size=(40, 5, 2))
    y = 300.0 + 40.0 * rng.normal(size=y_shape)
    return X, y


@pytest.mark.parametrize("return_sequences, y_shape, transformer", [
    (False, (40,), StandardScaler()),
    (False, (40, 2), StandardScaler()),
    (True, (40, 5), SequenceScaler()),
    (True, (40, 5, 2), SequenceScaler()),
])
def test_transformed_target_regressor(return_sequences, y_shape, transformer, rng):
    X, y = _target_task(rng, y_shape)
    reg = RNNRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                       return_sequences=return_sequences)
    model = _quiet_fit(TransformedTargetRegressor(reg, transformer=transformer), X, y)
    pred = model.predict(X)
    assert pred.shape == y.shape

    # the recipe by hand: scale y, fit, predict, map the predictions back
    y_2d = y.reshape(len(y), -1) if y.ndim == 1 else y
    scaler = clone(transformer).fit(y_2d)
    alone = _quiet_fit(clone(reg), X, scaler.transform(y_2d).reshape(y.shape))
    by_hand = alone.predict(X)
    by_hand = scaler.inverse_transform(by_hand.reshape(y_2d.shape)).reshape(y.shape)
    assert_allclose(pred, by_hand, rtol=1e-5)
    # predictions live on y's scale, not on the scaled one
    assert abs(pred.mean() - 300.0) < 100.0


# ---------------------------------------------------------------------------
# make_windows
# ---------------------------------------------------------------------------

def _naive_windows(series, window, horizon, stride, target):
    """The definition in make_windows' docstring, as a loop."""
    def future(u):  # the horizon values after step u
        values = series[u + 1:u + 1 + horizon]
        return values[0] if horizon == 1 else values.reshape(-1)
    X, y = [], []
    for start in range(0, len(series) - window - horizon + 1, stride):
        X.append(series[start:start + window])
        if target == "next":
            y.append(future(start + window - 1))
        else:
            y.append(np.stack([future(start + t) for t in range(window)]))
    return np.array(X), np.array(y)


@pytest.mark.parametrize("n_features", [None, 1, 3])
@pytest.mark.parametrize("window, horizon, stride", [
    (1, 1, 1), (4, 1, 1), (4, 3, 1), (5, 2, 3), (3, 1, 4), (10, 2, 1)])
@pytest.mark.parametrize("target", ["next", "sequence"])
def test_make_windows_equals_naive_loop(n_features, window, horizon, stride, target, rng):
    shape = (23,) if n_features is None else (23, n_features)
    series = rng.normal(size=shape)
    X, y = make_windows(series, window, horizon=horizon, stride=stride, target=target)
    X_ref, y_ref = _naive_windows(series, window, horizon, stride, target)
    assert X.shape == X_ref.shape and y.shape == y_ref.shape
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)
    # views of the series, read-only, without copying it
    assert np.shares_memory(X, series) and np.shares_memory(y, series)
    assert not X.flags.writeable and not y.flags.writeable
    if target == "sequence":
        assert_array_equal(y[:, -1], make_windows(series, window, horizon, stride)[1])


@pytest.mark.parametrize("target", ["next", "sequence"])
def test_make_windows_list_of_series(target, rng):
    series = [rng.normal(size=(t, 2)) for t in (9, 14, 6)]
    X, y = make_windows(series, 4, horizon=2, stride=2, target=target)
    parts = [_naive_windows(s, 4, 2, 2, target) for s in series]
    assert_array_equal(X, np.concatenate([p[0] for p in parts]))
    assert_array_equal(y, np.concatenate([p[1] for p in parts]))


def test_make_windows_non_contiguous_series(rng):
    series = rng.normal(size=(30, 4))[:, ::2]
    X, y = make_windows(series, 5, horizon=3, target="sequence")
    X_ref, y_ref = _naive_windows(series, 5, 3, 1, "sequence")
    assert_array_equal(X, X_ref)
    assert_array_equal(y, y_ref)


def test_make_windows_feeds_the_regressor(rng):
    series = np.sin(np.arange(60) * 0.3)
    X, y = make_windows(series, 8, target="sequence")
    reg = _quiet_fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0,
                                  return_sequences=True), X, y)
    assert reg.predict(X).shape == y.shape == (52, 8)
    X, y = make_windows(np.column_stack([series, -series]), 8, horizon=3)
    reg = _quiet_fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0),
                     X, y)
    assert reg.predict(X).shape == y.shape == (50, 6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"series": np.arange(10.0), "window": 8, "horizon": 3}, ValueError,
     r"series has 10 time steps, fewer than window \+ horizon = 8 \+ 3 = 11"),
    ({"series": [np.arange(20.0), np.arange(5.0)], "window": 5}, ValueError,
     r"series\[1\] has 5 time steps"),
    ({"series": np.arange(10.0), "window": 0}, ValueError, "window must be at least 1"),
    ({"series": np.arange(10.0), "window": 3, "horizon": -1}, ValueError,
     "horizon must be at least 1"),
    ({"series": np.arange(10.0), "window": 3, "stride": 0}, ValueError,
     "stride must be at least 1"),
    ({"series": np.arange(10.0), "window": 2.5}, TypeError, "window must be an int"),
    ({"series": np.arange(10.0), "window": True}, TypeError, "window must be an int"),
    ({"series": np.arange(10.0), "window": 3, "target": "many"}, ValueError,
     "target must be 'next' or 'sequence'"),
    ({"series": np.zeros((10, 2, 2)), "window": 3}, ValueError, "must be 1-D .* got 3-D"),
    ({"series": np.float64(3.0), "window": 1}, ValueError, "must be 1-D .* got 0-D"),
    ({"series": [], "window": 3}, ValueError, "empty list"),
    ({"series": [np.zeros((9, 2)), np.zeros((9, 3))], "window": 3}, ValueError,
     r"series\[1\] has 3 features per step but series\[0\] has 2 features per step"),
    ({"series": [np.zeros(9), np.zeros((9, 1))], "window": 3}, ValueError,
     r"series\[1\] has 1 features per step but series\[0\] is 1-D"),
])
def test_make_windows_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_windows(**kwargs)


# ---------------------------------------------------------------------------
# Bad input to the transformers
# ---------------------------------------------------------------------------

def _padded_bad(kind):
    X = np.ones((3, 4, 2))
    if kind == "partial":
        X[1, 3, 0] = np.nan
    elif kind == "interior":
        X[2, 1] = np.nan
    elif kind == "all_nan":
        X[0] = np.nan
    elif kind == "inf":
        X[1, 0, 1] = np.inf
    elif kind == "inf_padded":
        X[0, 3] = np.nan
        X[1, 0, 1] = -np.inf
    return X


BAD_INPUT = [
    (_padded_bad("partial"), ValueError, r"X\[1, 3\] is partly NaN"),
    (_padded_bad("interior"), ValueError,
     r"X\[2\] has an all-NaN step at t=1 followed by valid steps"),
    (_padded_bad("all_nan"), ValueError, r"X\[0\] is all NaN"),
    (_padded_bad("inf"), ValueError, "infinity"),
    (_padded_bad("inf_padded"), ValueError, "infinity"),
    ([np.ones((3, 2)), np.array([[1.0, np.nan]])], ValueError, r"X\[1\] contains NaN"),
    ([np.ones((3, 2)), np.array([[1.0, np.inf]])], ValueError, r"X\[1\] contains infinity"),
    ([np.ones((3, 2)), np.ones((0, 2))], ValueError, r"X\[1\] is a zero-length sequence"),
    ([np.ones((3, 2)), np.ones((4, 3))], ValueError,
     r"X\[1\] has 3 features per time step but X\[0\] has 2"),
    ([np.ones((3, 2)), np.ones((4, 2, 1))], ValueError, r"X\[1\] must be 1-D .* got 3-D"),
    (np.ones(5), ValueError, "Reshape your data"),
    (np.ones((2, 3, 4, 5)), ValueError, "must be 2-D .* or 3-D .* got 4-D"),
    (np.ones((2, 0, 3)), ValueError, "zero-length sequences"),
    (np.ones((2, 3, 0)), ValueError, "0 features per time step"),
    (np.ones((0, 3, 2)), ValueError, "0 sample"),
    (sp.csr_array(np.ones((3, 4))), TypeError, "Sparse X is not supported"),
]


@pytest.mark.parametrize("make", [lambda: PerStep(StandardScaler()), SequenceScaler],
                         ids=["PerStep", "SequenceScaler"])
@pytest.mark.parametrize("X, error, match", BAD_INPUT)
def test_bad_input(make, X, error, match):
    with pytest.raises(error, match=match):
        make().fit(X)
    # fitted with X's features per step, so that transform fails for X's own fault
    n_features = X.shape[2] if isinstance(X, np.ndarray) and X.ndim == 3 else 2
    fitted = make().fit(np.ones((2, 3, max(n_features, 1))))
    with pytest.raises(error, match=match):
        fitted.transform(X)


@pytest.mark.parametrize("make", [lambda: PerStep(StandardScaler()), SequenceScaler],
                         ids=["PerStep", "SequenceScaler"])
def test_bad_input_after_fit(make, rng):
    with pytest.raises(NotFittedError):
        make().transform(np.ones((2, 3, 2)))
    fitted = make().fit(rng.normal(size=(4, 5, 2)))
    with pytest.raises(ValueError, match="X has 3 features per time step, but .* fitted "
                                         "with 2"):
        fitted.transform(np.ones((2, 5, 3)))
    # other sequence lengths than in fit are fine (n_features_in_ is per step)
    assert fitted.transform(np.ones((2, 9, 2))).shape == (2, 9, 2)


def test_sequence_scaler_bad_parameters():
    with pytest.raises(ValueError, match="method"):
        SequenceScaler(method="robust").fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"feature_range must be \(min, max\) with min < max"):
        SequenceScaler(method="minmax", feature_range=(1, 0)).fit(np.ones((2, 3)))
    with pytest.raises(TypeError, match="numeric"):
        SequenceScaler().fit([np.array(["a", "b"]), np.array(["c"])])


def test_perstep_rejects_a_non_transformer():
    with pytest.raises(ValueError, match="transformer"):
        PerStep(object()).fit(np.ones((2, 3)))
