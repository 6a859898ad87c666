"""SPEC 6: every bad input gets a clear error before compiled code runs."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from crnn import RNNClassifier, RNNRegressor

ESTIMATORS = [RNNRegressor, RNNClassifier]
X_GOOD = np.random.default_rng(0).normal(size=(10, 5, 2))
Y_GOOD = np.arange(10) % 2


def _fit(Estimator, X=X_GOOD, y=Y_GOOD, **params):
    params = {"hidden_layer_sizes": (3,), "max_iter": 1, **params}
    return Estimator(**params).fit(X, y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_X(Estimator, value):
    X = X_GOOD.copy()
    X[3, 2, 1] = value
    with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
        _fit(Estimator, X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_X_of_the_estimators_dtype(dtype, value):
    # an array already of the estimator's dtype skips check_array: the
    # finiteness check must still catch it, at any position
    for position in [(0, 0, 0), (4, 2, 1), (9, 4, 1)]:
        X = X_GOOD.astype(dtype)
        X[position] = value
        with pytest.raises(ValueError, match="Input X contains (NaN|infinity)"):
            _fit(RNNRegressor, X=X, y=np.zeros(10), dtype=np.dtype(dtype).name)


def test_ndarray_subclasses_of_the_estimators_dtype_are_still_checked():
    # only a plain ndarray skips check_array: np.matrix is refused, a masked
    # array becomes a plain array
    from crnn._validation import check_sequences

    with pytest.raises(TypeError, match="np.matrix is not supported"):
        _fit(RNNRegressor, X=np.matrix(X_GOOD[:, :, 0]), y=np.zeros(10), dtype="float64")
    checked, _ = check_sequences(np.ma.masked_array(X_GOOD, mask=False), np.dtype(np.float64))
    assert type(checked) is np.ndarray


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_y(value):
    y = Y_GOOD.astype(float)
    y[4] = value
    with pytest.raises(ValueError, match="y contains NaN or infinity"):
        _fit(RNNRegressor, y=y)


def test_nan_label_for_classifier():
    y = Y_GOOD.astype(float)
    y[4] = np.nan
    with pytest.raises(ValueError, match="(NaN|Unknown label type)"):
        _fit(RNNClassifier, y=y)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_wrong_ndim(Estimator):
    with pytest.raises(ValueError, match="Reshape your data"):
        _fit(Estimator, X_GOOD[:, 0, 0])
    with pytest.raises(ValueError, match=r"must be 2-D .* or 3-D .* got 4-D"):
        _fit(Estimator, X_GOOD[..., np.newaxis])
    model = _fit(Estimator)
    with pytest.raises(ValueError, match="Reshape your data"):
        model.predict(X_GOOD[0, :, 0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_zero_samples(Estimator):
    with pytest.raises(ValueError, match="0 sample"):
        _fit(Estimator, X_GOOD[:0], Y_GOOD[:0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_zero_length_sequences(Estimator):
    with pytest.raises(ValueError, match=r"zero-length sequences \(n_timesteps = 0,"):
        _fit(Estimator, X_GOOD[:, :0, :])
    with pytest.raises(ValueError, match="0 features per time step"):
        _fit(Estimator, X_GOOD[:, :, :0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_n_features_differs_from_fit(Estimator):
    model = _fit(Estimator)
    with pytest.raises(ValueError, match="X has 3 features per time step, but .* fitted with 2"):
        model.predict(np.zeros((4, 5, 3)))
    with pytest.raises(ValueError, match="X has 3 features per time step"):
        model.partial_fit(np.zeros((10, 5, 3)), Y_GOOD)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_non_numeric_X(Estimator):
    X = np.array([["a", "b"], ["c", "d"]], dtype=object)
    with pytest.raises(ValueError, match="could not convert|dtype='numeric'|not compatible"):
        _fit(Estimator, X, [0, 1])
    with pytest.raises(ValueError, match="Complex data not supported"):
        _fit(Estimator, X_GOOD + 1j, Y_GOOD)


def test_non_numeric_y_for_regressor():
    with pytest.raises(ValueError, match="y must be numeric"):
        _fit(RNNRegressor, y=np.array(["a", "b"] * 5, dtype=object))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_y_length_mismatch(Estimator):
    with pytest.raises(ValueError, match="inconsistent numbers of samples: X has 10, y has 9"):
        _fit(Estimator, y=Y_GOOD[:9])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_y_none(Estimator):
    with pytest.raises(ValueError, match="requires y to be passed"):
        _fit(Estimator, y=None)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("param, value, message", [
    ("cell", "transformer", "'cell' parameter .* must be a str among"),
    ("activation", "softsign", "'activation' parameter"),
    ("solver", "lbfgs", "'solver' parameter"),
    ("dtype", "float16", "'dtype' parameter"),
    ("hidden_layer_sizes", 0, "'hidden_layer_sizes' parameter"),
    ("hidden_layer_sizes", (8, 0), "hidden_layer_sizes must hold at least one positive int"),
    ("learning_rate_init", -1.0, "'learning_rate_init' parameter"),
    ("clip_grad_norm", 0.0, "'clip_grad_norm' parameter"),
    ("batch_size", 0, "'batch_size' parameter"),
    ("max_iter", 0, "'max_iter' parameter"),
])
def test_unknown_parameter_values(Estimator, param, value, message):
    with pytest.raises(ValueError, match=message):
        _fit(Estimator, **{param: value})


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_before_fit(Estimator):
    model = Estimator()
    for method in ("predict", "score"):
        with pytest.raises(NotFittedError):
            if method == "score":
                model.score(X_GOOD, Y_GOOD)
            else:
                model.predict(X_GOOD)
    if Estimator is RNNClassifier:
        with pytest.raises(NotFittedError):
            model.predict_proba(X_GOOD)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_sparse_X(Estimator):
    with pytest.raises(TypeError, match="Sparse X is not supported"):
        _fit(Estimator, sp.csr_matrix(X_GOOD[:, :, 0]))


def test_return_sequences_needs_step_targets():
    for Estimator in ESTIMATORS:
        with pytest.raises(ValueError, match="one target per time step"):
            _fit(Estimator, y=Y_GOOD, return_sequences=True)
        with pytest.raises(ValueError, match="one target per time step"):
            _fit(Estimator, y=np.zeros((10, 4)), return_sequences=True)


def test_classifier_regression_target():
    with pytest.raises(ValueError, match="Unknown label type"):
        _fit(RNNClassifier, y=np.linspace(0, 1, 10))


def test_x_val_without_y_val():
    with pytest.raises(ValueError, match="X_val was given without y_val"):
        RNNRegressor(max_iter=1).fit(X_GOOD, Y_GOOD, X_val=X_GOOD)


def test_early_stopping_with_too_few_samples():
    with pytest.raises(ValueError, match="too small to hold out"):
        _fit(RNNRegressor, X_GOOD[:1], Y_GOOD[:1], early_stopping=True)
