"""ONNX export: ONNX Runtime must reproduce crnn's predictions.

The oracle is the estimator itself (``predict``/``predict_proba``) on the
same float32 input; parameters are redrawn at a larger scale after fitting
so that every gate works in its nonlinear range and a wrong gate order or
bias layout cannot hide behind small weights. Skipped without the ``onnx``
extra (CI installs it).
"""
import warnings

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

import skl2onnx  # noqa: E402
from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType,  # noqa: E402
                                        Int32TensorType, Int64TensorType)

from crnn import RNNClassifier, RNNRegressor  # noqa: E402
from crnn.onnx import UnsupportedModelError, to_onnx  # noqa: E402

# (cell, activation): the vanilla cell with each nonlinearity, LSTM, GRU
CELL_CONFIGS = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"),
                ("lstm", "tanh"), ("gru", "tanh")]
ATOL, RTOL = 2e-5, 1e-4  # float32: both run the same maths in another order


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        yield


def _data(n=24, T=9, F=3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.randn(n, T, F).astype(np.float32)


def _fit(kind, cell, activation, layers, return_sequences, X=None, n_outputs=1,
         labels=(0, 1, 2), **params):
    X = _data() if X is None else X
    rng = np.random.RandomState(1)
    shape = X.shape[:2] if return_sequences else X.shape[:1]
    if kind == "regressor":
        y = rng.randn(*shape, n_outputs) if n_outputs > 1 else rng.randn(*shape)
        model = RNNRegressor(cell=cell, activation=activation, hidden_layer_sizes=layers,
                             return_sequences=return_sequences, max_iter=2,
                             random_state=0, **params)
    else:
        y = np.asarray(labels)[rng.randint(len(labels), size=shape)]
        model = RNNClassifier(cell=cell, activation=activation, hidden_layer_sizes=layers,
                              return_sequences=return_sequences, max_iter=2,
                              random_state=0, **params)
    model.fit(X, y)
    # large weights: saturating gates, so a misplaced block changes outputs a lot
    for layer in model.coefs_:
        for value in layer.values():
            value[...] = rng.uniform(-0.9, 0.9, size=value.shape)
    return model


def _run(onx, X, name="X"):
    session = ort.InferenceSession(onx.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {name: X})


def _assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("layers", [(6,), (6, 5)], ids=["L1", "L2"])
@pytest.mark.parametrize("cell, activation", CELL_CONFIGS)
def test_regressor_matches_onnx_runtime(cell, activation, layers, return_sequences):
    model = _fit("regressor", cell, activation, layers, return_sequences)
    X = _data(n=11, T=13, seed=5)  # other batch size and length than at fit
    (out,) = _run(to_onnx(model), X)
    expected = model.predict(X)
    assert out.dtype == np.float32
    assert out.shape == expected.shape + (1,)  # skl2onnx regressors keep the output axis
    _assert_close(out[..., 0], expected)


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("layers", [(6,), (6, 5)], ids=["L1", "L2"])
@pytest.mark.parametrize("cell, activation", CELL_CONFIGS)
def test_classifier_matches_onnx_runtime(cell, activation, layers, return_sequences):
    model = _fit("classifier", cell, activation, layers, return_sequences)
    X = _data(n=11, T=13, seed=5)
    label, proba = _run(to_onnx(model, options={"zipmap": False}), X)
    expected = model.predict_proba(X)
    assert proba.shape == expected.shape
    _assert_close(proba, expected)
    # labels agree wherever the top two probabilities are not a float32 tie
    top2 = np.sort(expected, axis=-1)[..., -2:]
    clear = top2[..., 1] - top2[..., 0] > 1e-4
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(label[clear], model.predict(X)[clear])
    assert label.dtype == np.int64


def test_multi_output_regressor_and_fixed_length():
    model = _fit("regressor", "gru", "tanh", (7,), True, n_outputs=3)
    X = _data(n=5, T=9, seed=2)
    (out,) = _run(to_onnx(model, n_timesteps=9), X)
    assert out.shape == (5, 9, 3)
    _assert_close(out, model.predict(X))


def test_univariate_two_dimensional_input():
    X3 = _data(F=1)
    model = _fit("regressor", "lstm", "tanh", (5, 4), False, X=X3)
    X = _data(n=7, T=6, F=1, seed=3)[..., 0]
    (out,) = _run(to_onnx(model, univariate=True), X)
    _assert_close(out[:, 0], model.predict(X))


def test_string_labels_and_zipmap():
    model = _fit("classifier", "lstm", "tanh", (6,), False, labels=("cat", "dog", "emu"))
    X = _data(n=9, seed=4)
    label, proba_maps = _run(to_onnx(model), X)  # skl2onnx default: zipmap=True
    np.testing.assert_array_equal(label, model.predict(X))
    expected = model.predict_proba(X)
    assert [sorted(row) for row in proba_maps] == [["cat", "dog", "emu"]] * 9
    _assert_close(np.array([[row[c] for c in model.classes_] for row in proba_maps]),
                  expected)


def test_skl2onnx_entry_points_and_old_opset():
    model = _fit("regressor", "gru", "tanh", (6, 5), True)
    X = _data(n=4, seed=6)
    expected = model.predict(X)
    # registered converters: skl2onnx's own to_onnx infers the input from X
    onx = skl2onnx.to_onnx(model, X[:1])
    _assert_close(_run(onx, X)[0][..., 0], expected)
    # opset 12: Squeeze/Unsqueeze axes as attributes, RNN operators version 7
    onx = to_onnx(model, target_opset=12)
    _assert_close(_run(onx, X)[0][..., 0], expected)


def test_binary_classifier_inside_pipeline_of_one():
    from sklearn.pipeline import make_pipeline

    model = _fit("classifier", "rnn", "tanh", (6,), False, labels=(3, 7))
    pipe = make_pipeline(model)
    X = _data(n=8, seed=7)
    onx = skl2onnx.convert_sklearn(pipe, initial_types=[("X", FloatTensorType([None, None, 3]))],
                                   options={id(model): {"zipmap": False}})
    label, proba = _run(onx, X)
    _assert_close(proba, model.predict_proba(X))
    assert set(label) <= {3, 7}


# ------------------------------------------------------------ unsupported
def test_float64_model_is_refused():
    model = _fit("regressor", "gru", "tanh", (4,), False, X=_data().astype(np.float64),
                 dtype="float64")
    with pytest.raises(UnsupportedModelError, match="float32 only"):
        to_onnx(model)


def test_double_input_is_refused():
    model = _fit("regressor", "lstm", "tanh", (4,), False)
    with pytest.raises(UnsupportedModelError, match="Double input"):
        skl2onnx.convert_sklearn(model, initial_types=[("X", DoubleTensorType([None, None, 3]))])


def test_layer_norm_is_refused():
    model = _fit("regressor", "gru", "tanh", (4,), False)
    model.layer_norm = True  # as the estimator will store it
    with pytest.raises(UnsupportedModelError, match="layer normalisation"):
        to_onnx(model)


def test_sequence_lens_option_needs_the_lengths_input():
    model = _fit("regressor", "rnn", "tanh", (4,), False)
    with pytest.raises(ValueError, match="second input"):
        to_onnx(model, options={"sequence_lens": True})
    two_inputs = [("X", FloatTensorType([None, None, 3])), ("lengths", Int32TensorType([None]))]
    with pytest.raises(ValueError, match="sequence_lens option"):
        skl2onnx.convert_sklearn(model, initial_types=two_inputs)
    float_lengths = [two_inputs[0], ("lengths", FloatTensorType([None]))]
    with pytest.raises(ValueError, match="int32 or int64"):
        skl2onnx.convert_sklearn(model, initial_types=float_lengths,
                                 options={id(model): {"sequence_lens": True}})


# ------------------------------------------------- bidirectional, ragged
def _ragged(n=10, F=3, seed=8, low=2, high=14):
    rng = np.random.RandomState(seed)
    lengths = rng.randint(low, high + 1, size=n)
    lengths[0] = high  # one sequence spans the padded length
    return [rng.randn(T, F).astype(np.float32) for T in lengths]


def _padded(sequences):
    lengths = np.array([len(s) for s in sequences], dtype=np.int32)
    X = np.zeros((len(sequences), lengths.max(), sequences[0].shape[1]), np.float32)
    for i, s in enumerate(sequences):
        X[i, :len(s)] = s
    return X, lengths


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("layers", [(6,), (6, 5)], ids=["L1", "L2"])
@pytest.mark.parametrize("cell, activation", CELL_CONFIGS)
def test_bidirectional_matches_onnx_runtime(cell, activation, layers, return_sequences):
    model = _fit("regressor", cell, activation, layers, return_sequences, bidirectional=True)
    assert "W_ih_reverse" in model.coefs_[0]
    X = _data(n=11, T=13, seed=5)
    (out,) = _run(to_onnx(model), X)
    _assert_close(out[..., 0], model.predict(X))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("cell, activation", CELL_CONFIGS)
def test_ragged_input_through_sequence_lens(cell, activation, return_sequences,
                                            bidirectional):
    model = _fit("regressor", cell, activation, (6, 5), return_sequences,
                 bidirectional=bidirectional)
    sequences = _ragged()
    X, lengths = _padded(sequences)
    onx = to_onnx(model, lengths=True)
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"X": X, "lengths": lengths})
    expected = model.predict(sequences)
    if return_sequences:
        for i, T in enumerate(lengths):   # padded steps are not outputs
            _assert_close(out[i, :T, 0], expected[i])
    else:
        _assert_close(out[:, 0], expected)
    if not return_sequences:
        # the lengths matter: read as equal-length, the short sequences differ
        (unmasked,) = _run(to_onnx(model), X)
        short = lengths < lengths.max()
        assert np.abs(unmasked[short, 0] - out[short, 0]).max() > 1e-3


def test_ragged_classifier_with_int64_lengths():
    model = _fit("classifier", "lstm", "tanh", (6,), False, bidirectional=True)
    sequences = _ragged(seed=9)
    X, lengths = _padded(sequences)
    onx = skl2onnx.convert_sklearn(
        model, initial_types=[("X", FloatTensorType([None, None, 3])),
                              ("lengths", Int64TensorType([None]))],
        options={id(model): {"zipmap": False, "sequence_lens": True}})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"X": X, "lengths": lengths.astype(np.int64)})
    _assert_close(proba, model.predict_proba(sequences))


def test_zipmap_with_per_step_labels_is_refused():
    model = _fit("classifier", "gru", "tanh", (4,), True)
    with pytest.raises(UnsupportedModelError, match="zipmap"):
        to_onnx(model, options={"zipmap": True})


@pytest.mark.parametrize("shape, match", [([None, None, 5], "5 features"),
                                          ([None, 9], "one feature"),
                                          ([None], "3-D")])
def test_input_shape_mismatch_is_refused(shape, match):
    model = _fit("regressor", "rnn", "tanh", (4,), False)
    with pytest.raises(ValueError, match=match):
        skl2onnx.convert_sklearn(model, initial_types=[("X", FloatTensorType(shape))])


def test_unfitted_and_foreign_estimators_are_refused():
    from sklearn.exceptions import NotFittedError
    from sklearn.linear_model import LinearRegression

    with pytest.raises(NotFittedError):
        to_onnx(RNNRegressor())
    with pytest.raises(TypeError, match="crnn estimators"):
        to_onnx(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]))


@pytest.mark.parametrize("labels", [(0.0, 2.0, 5.0), (False, True)])
def test_float_and_bool_labels_export_as_int64(labels):
    """skl2onnx's convention: whole-number float (and bool) labels become int64."""
    model = _fit("classifier", "gru", "tanh", (4,), False, labels=labels)
    X = _data(n=9, seed=8)
    label, proba = _run(to_onnx(model, options={"zipmap": False}), X)
    assert label.dtype == np.int64
    np.testing.assert_array_equal(label, model.predict(X).astype(np.int64))
    _assert_close(proba, model.predict_proba(X))


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_seq2seq_estimators_are_refused(kind):
    from crnn import Seq2SeqClassifier, Seq2SeqRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 5, 2)).astype(np.float32)
    if kind == "regressor":
        model = Seq2SeqRegressor(hidden_layer_sizes=(4,), max_iter=1)
        y = rng.normal(size=(12, 3))
    else:
        model = Seq2SeqClassifier(hidden_layer_sizes=(4,), max_iter=1)
        y = [rng.integers(0, 3, n) for n in rng.integers(1, 4, 12)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    with pytest.raises(UnsupportedModelError, match="cannot be exported to ONNX yet"):
        to_onnx(model)
