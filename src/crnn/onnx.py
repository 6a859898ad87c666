"""ONNX export of fitted crnn estimators (extra ``crnn[onnx]``).

Importing this module registers skl2onnx converters, shape calculators and
(for the classifier) a parser for :class:`crnn.RNNRegressor` and
:class:`crnn.RNNClassifier`, so ``skl2onnx.to_onnx`` and
``skl2onnx.convert_sklearn`` accept them; :func:`to_onnx` is a shortcut
that also writes the input type.

The graph uses ONNX's own recurrent operators, one per layer: ``RNN``
(activation ``Tanh``, ``Relu`` or ``Sigmoid``), ``LSTM`` and ``GRU``
(``linear_before_reset=1``, PyTorch's and crnn's candidate). crnn keeps
PyTorch's gate order; ONNX orders the row blocks differently, so the
converter permutes them (LSTM i, f, g, o -> i, o, f, c; GRU r, z, n ->
z, r, h) and concatenates ``b_ih`` and ``b_hh`` into ONNX's ``B``.

Input: ``X`` of shape (N, T, n_features) float32, batch-first as in crnn
(a transpose to ONNX's time-major layout is part of the graph, because
ONNX Runtime does not implement the batch-first ``layout=1``), or (N, T)
when ``n_features_in_ == 1``. Outputs follow skl2onnx's conventions:

- regressor: ``variable`` of shape (N, n_outputs), or (N, T, n_outputs)
  with ``return_sequences=True`` (2-D even for one output, as skl2onnx
  regressors do; ``predict`` drops that axis for a 1-D ``y``);
- classifier: ``label`` (N,) or (N, T), int64 for integer classes and
  string for string classes, and ``probabilities`` (N, n_classes) or
  (N, T, n_classes); with skl2onnx's default ``zipmap=True`` option the
  probabilities of a many-to-one classifier come as a list of dicts.

Not exported, with a clear error at conversion: float64 models and
double inputs (ONNX Runtime's recurrent kernels are float32 only),
bidirectional layers, layer normalisation and variable-length input
(``sequence_lens``), which are not implemented in crnn's converter yet.
"""
import numbers

import numpy as np

try:
    from onnx import TensorProto
    from skl2onnx import convert_sklearn, update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier, _parse_sklearn_simple_model
    from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType,
                                            Int64TensorType, StringTensorType)
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("crnn.onnx needs the optional ONNX dependencies: "
                      "pip install 'crnn[onnx]' (skl2onnx, onnx, onnxruntime).") from exc

from sklearn.utils.validation import check_is_fitted

from crnn._estimators import RNNClassifier, RNNRegressor
from crnn._seq2seq_estimators import Seq2SeqClassifier, Seq2SeqRegressor

__all__ = ["to_onnx", "UnsupportedModelError"]

# Row blocks of crnn's (PyTorch's) W_ih/W_hh/b_* in ONNX's gate order.
_ONNX_BLOCKS = {"rnn": (0,), "lstm": (0, 3, 1, 2), "gru": (1, 0, 2)}
_ONNX_OPS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_GATES_TO_CELL = {1: "rnn", 4: "lstm", 3: "gru"}
_ONNX_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}


class UnsupportedModelError(NotImplementedError, ValueError):
    """A fitted model or input type that the ONNX converter cannot export.

    Subclasses both :class:`NotImplementedError` (the feature may come
    later) and :class:`ValueError` (the configuration given is invalid for
    export today).
    """


# --------------------------------------------------------------- the model
def _describe(model):
    """Everything the converter needs from a fitted estimator, checked.

    Returns
    -------
    spec : dict
        ``cell``, ``activation``, ``layers`` (list of (W_ih, W_hh, b_ih,
        b_hh) float32 arrays), ``W_out``, ``b_out``, ``n_features``,
        ``return_sequences``.
    """
    check_is_fitted(model, "coefs_")
    name = type(model).__name__
    if getattr(model, "bidirectional", False):
        raise UnsupportedModelError(
            f"{name} with bidirectional=True cannot be exported to ONNX yet (it will map "
            "to direction='bidirectional'); refit with bidirectional=False.")
    if getattr(model, "layer_norm", False):
        raise UnsupportedModelError(
            f"{name} with layer_norm=True cannot be exported: ONNX's RNN, LSTM and GRU "
            "operators have no layer normalisation.")
    coefs = model.coefs_
    dtype = coefs[-1]["W_out"].dtype
    if dtype != np.float32:
        raise UnsupportedModelError(
            f"{name} was fitted with dtype={dtype.name!r}; ONNX Runtime's RNN, LSTM and "
            "GRU kernels compute in float32 only. Fit with dtype='float32' to export.")
    # The network the parameters belong to (set_params after fit changes the
    # parameters, not the fitted network).
    network = getattr(model, "_network", None)
    cell = getattr(network, "cell", model.cell)
    activation = getattr(network, "activation", model.activation)
    layers = []
    for k, layer in enumerate(coefs[:-1]):
        extra = sorted(set(layer) - {"W_ih", "W_hh", "b_ih", "b_hh"})
        if extra:
            raise UnsupportedModelError(
                f"Layer {k} of {name} has parameters {extra} that the ONNX converter "
                "does not export yet.")
        n_rows, n_hidden = layer["W_hh"].shape
        if _GATES_TO_CELL.get(n_rows // n_hidden) != cell:
            raise UnsupportedModelError(
                f"coefs_ of {name} do not match cell={cell!r}; refit the model.")
        layers.append(tuple(layer[key] for key in ("W_ih", "W_hh", "b_ih", "b_hh")))
    return {"cell": cell, "activation": activation, "layers": layers,
            "W_out": coefs[-1]["W_out"], "b_out": coefs[-1]["b_out"],
            "n_features": model.n_features_in_,
            "return_sequences": bool(model.return_sequences)}


def _class_labels(model):
    """``classes_`` as the label tensor's content and skl2onnx type."""
    classes = np.asarray(model.classes_)
    if all(isinstance(c, str) for c in classes):
        return classes.astype(object), StringTensorType, TensorProto.STRING
    # scikit-learn only accepts float labels that are whole numbers; skl2onnx
    # exports those as int64 too
    if all(isinstance(c, (numbers.Integral, numbers.Real)) and float(c).is_integer()
           for c in classes.tolist()):
        return classes.astype(np.int64), Int64TensorType, TensorProto.INT64
    raise UnsupportedModelError(
        f"Class labels {classes!r} cannot be exported; use integer or string labels.")


def _check_input(operator, spec):
    """The declared input: float32, (N, T, F) or (N, T) with one feature."""
    variable = operator.inputs[0]
    if isinstance(variable.type, DoubleTensorType):
        raise UnsupportedModelError(
            "Double input cannot be exported: ONNX Runtime's RNN, LSTM and GRU kernels "
            "compute in float32 only. Declare FloatTensorType([None, None, n_features]).")
    if not isinstance(variable.type, FloatTensorType):
        raise UnsupportedModelError(
            f"The input must be a FloatTensorType, got {type(variable.type).__name__}.")
    shape = list(variable.type.shape)
    n_features = spec["n_features"]
    if len(shape) == 2 and n_features != 1:
        raise ValueError(f"A 2-D input (n_samples, n_timesteps) needs a model with one "
                         f"feature; this one has n_features_in_={n_features}.")
    if len(shape) not in (2, 3):
        raise ValueError(f"The input must be 3-D (n_samples, n_timesteps, n_features) or "
                         f"2-D (n_samples, n_timesteps); got shape {shape}.")
    if len(shape) == 3 and isinstance(shape[2], int) and shape[2] != n_features:
        raise ValueError(f"The input declares {shape[2]} features per step; the model "
                         f"has n_features_in_={n_features}.")
    return shape


def _check_options(scope, model):
    options = scope.get_options(model, dict(sequence_lens=False))
    if options.get("sequence_lens"):
        raise UnsupportedModelError(
            "Variable-length input (the sequence_lens option) cannot be exported yet.")


# ------------------------------------------------------- shape calculators
def _regressor_shapes(operator):
    spec = _describe(operator.raw_operator)
    shape = _check_input(operator, spec)
    n_outputs = spec["W_out"].shape[0]
    dims = [shape[0], shape[1], n_outputs] if spec["return_sequences"] else [shape[0],
                                                                              n_outputs]
    operator.outputs[0].type = FloatTensorType(dims)


def _classifier_shapes(operator):
    model = operator.raw_operator
    spec = _describe(model)
    shape = _check_input(operator, spec)
    _, label_type, _ = _class_labels(model)
    n_classes = len(model.classes_)
    batch = [shape[0], shape[1]] if spec["return_sequences"] else [shape[0]]
    operator.outputs[0].type = label_type(batch)
    operator.outputs[1].type = FloatTensorType(batch + [n_classes])


def _classifier_parser(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser; per-step labels cannot go through ZipMap."""
    if not model.return_sequences:
        return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)
    options = scope.get_options(model, dict(zipmap=False))
    if options["zipmap"]:
        raise UnsupportedModelError(
            "zipmap cannot map per-step probabilities (return_sequences=True); convert "
            "with options={'zipmap': False}.")
    return _parse_sklearn_simple_model(scope, model, inputs, custom_parsers=custom_parsers)


# --------------------------------------------------------------- converters
class _Graph:
    """Small helper over skl2onnx's container: unique names, opset-aware nodes."""

    def __init__(self, scope, container):
        self.scope = scope
        self.container = container
        self.opset = container.target_opset

    def name(self, hint):
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint, array, onnx_type=TensorProto.FLOAT):
        name = self.name(hint)
        array = np.asarray(array)
        content = (array.ravel().tolist() if onnx_type == TensorProto.STRING
                   else array.ravel())
        self.container.add_initializer(name, onnx_type, list(array.shape), content)
        return name

    def node(self, op_type, inputs, outputs=None, **attrs):
        outputs = outputs or [self.name(op_type.lower())]
        self.container.add_node(op_type, inputs, outputs,
                                name=self.scope.get_unique_operator_name(op_type), **attrs)
        return outputs[0] if len(outputs) == 1 else outputs

    def squeeze(self, x, axis):
        # axes moved from an attribute to an input in opset 13
        if self.opset >= 13:
            axes = self.constant("axes", np.array([axis], dtype=np.int64), TensorProto.INT64)
            return self.node("Squeeze", [x, axes])
        return self.node("Squeeze", [x], axes=[axis])

    def unsqueeze(self, x, axis):
        if self.opset >= 13:
            axes = self.constant("axes", np.array([axis], dtype=np.int64), TensorProto.INT64)
            return self.node("Unsqueeze", [x, axes])
        return self.node("Unsqueeze", [x], axes=[axis])


def _onnx_weights(cell, W_ih, W_hh, b_ih, b_hh):
    """One layer's W, R, B in ONNX's layout (one direction) and gate order."""
    n_hidden = W_hh.shape[1]
    rows = np.concatenate([np.arange(b * n_hidden, (b + 1) * n_hidden)
                           for b in _ONNX_BLOCKS[cell]])
    W = W_ih[rows][None]
    R = W_hh[rows][None]
    B = np.concatenate([b_ih[rows], b_hh[rows]])[None]
    return W, R, B


def _recurrent_stack(graph, spec, x_input, input_rank):
    """Nodes from the batch-first input to the readout's input.

    Returns
    -------
    hidden : str
        (N, H_last) with ``return_sequences=False``; (T, N, H_last) (time-major)
        otherwise.
    """
    x = x_input
    if input_rank == 2:
        x = graph.unsqueeze(x, 2)
    x = graph.node("Transpose", [x], perm=[1, 0, 2])  # (T, N, F): ONNX's layout=0
    cell = spec["cell"]
    op_type = _ONNX_OPS[cell]
    # RNN/LSTM/GRU gained the layout attribute in opset 14; nothing else
    # that crnn uses changed, so older opsets get version 7.
    op_version = 14 if graph.opset >= 14 else 7
    attrs = {}
    if cell == "rnn":
        attrs["activations"] = [_ONNX_ACTIVATIONS[spec["activation"]]]
    elif cell == "gru":
        # PyTorch's candidate: r multiplies (W_hn h + b_hn), after the bias
        attrs["linear_before_reset"] = 1
    n_layers = len(spec["layers"])
    for k, params in enumerate(spec["layers"]):
        n_hidden = params[1].shape[1]
        W, R, B = _onnx_weights(cell, *params)
        inputs = [x, graph.constant(f"W{k}", W), graph.constant(f"R{k}", R),
                  graph.constant(f"B{k}", B)]
        Y, Y_h = graph.name(f"Y{k}"), graph.name(f"Y_h{k}")
        graph.container.add_node(
            op_type, inputs, [Y, Y_h], op_version=op_version,
            name=graph.scope.get_unique_operator_name(op_type), hidden_size=n_hidden,
            direction="forward", **attrs)
        if k == n_layers - 1 and not spec["return_sequences"]:
            return graph.squeeze(Y_h, 0)  # (1, N, H) -> (N, H)
        x = graph.squeeze(Y, 1)  # (T, 1, N, H) -> (T, N, H)
    return x


def _readout(graph, spec, hidden, output=None):
    """Linear readout, batch-first: (N, O) or (N, T, O)."""
    W_out, b_out = spec["W_out"], spec["b_out"]
    if not spec["return_sequences"]:
        return graph.node("Gemm", [hidden, graph.constant("W_out", W_out),
                                   graph.constant("b_out", b_out)],
                          [output] if output else None, transB=1)
    y = graph.node("MatMul", [hidden, graph.constant("W_out_T", W_out.T)])
    y = graph.node("Add", [y, graph.constant("b_out", b_out)])
    return graph.node("Transpose", [y], [output] if output else None, perm=[1, 0, 2])


def _convert_regressor(scope, operator, container):
    model = operator.raw_operator
    _check_options(scope, model)
    spec = _describe(model)
    graph = _Graph(scope, container)
    rank = len(operator.inputs[0].type.shape)
    hidden = _recurrent_stack(graph, spec, operator.inputs[0].full_name, rank)
    _readout(graph, spec, hidden, operator.outputs[0].full_name)


def _convert_classifier(scope, operator, container):
    model = operator.raw_operator
    _check_options(scope, model)
    spec = _describe(model)
    graph = _Graph(scope, container)
    rank = len(operator.inputs[0].type.shape)
    hidden = _recurrent_stack(graph, spec, operator.inputs[0].full_name, rank)
    logits = _readout(graph, spec, hidden)
    last_axis = 2 if spec["return_sequences"] else 1
    graph.node("Softmax", [logits], [operator.outputs[1].full_name], axis=last_axis)
    index = graph.node("ArgMax", [logits], axis=last_axis, keepdims=0)
    classes, _, onnx_type = _class_labels(model)
    graph.node("Gather", [graph.constant("classes", classes, onnx_type), index],
               [operator.outputs[0].full_name], axis=0)


update_registered_converter(RNNRegressor, "CrnnRNNRegressor", _regressor_shapes,
                            _convert_regressor, options={"sequence_lens": [False, True]})
update_registered_converter(RNNClassifier, "CrnnRNNClassifier", _classifier_shapes,
                            _convert_classifier, parser=_classifier_parser,
                            options={"zipmap": [True, False, "columns"],
                                     # read by skl2onnx's ZipMap; True is not supported
                                     "nocl": [False],
                                     "sequence_lens": [False, True]})


# ------------------------------------------------------------------- public
def to_onnx(estimator, *, n_timesteps=None, univariate=False, options=None,
            target_opset=None, input_name="X"):
    """Convert a fitted crnn estimator to an ONNX model.

    A shortcut for ``skl2onnx.convert_sklearn`` with the input type filled
    in: a float32 tensor of shape (N, T, ``n_features_in_``), N and T left
    free.

    Parameters
    ----------
    estimator : RNNRegressor or RNNClassifier
        A fitted estimator with ``dtype="float32"``.
    n_timesteps : int or None, default=None
        Fix the sequence length in the input type; None accepts any length.
    univariate : bool, default=False
        Declare a 2-D input (N, T) instead, as crnn accepts for one feature
        per step; needs ``n_features_in_ == 1``.
    options : dict or None, default=None
        skl2onnx options for the estimator, e.g. ``{"zipmap": False}`` for a
        classifier whose probabilities should be one (N, n_classes) tensor.
    target_opset : int or None, default=None
        ONNX opset; None is skl2onnx's latest supported one.
    input_name : str, default="X"
        Name of the graph input.

    Returns
    -------
    model : onnx.ModelProto
        Run it with ``onnxruntime.InferenceSession(model.SerializeToString())``.

    Raises
    ------
    UnsupportedModelError
        For float64 models, bidirectional layers, layer normalisation,
        variable-length input and the sequence-to-sequence estimators, which
        cannot be exported yet.
    """
    if isinstance(estimator, (Seq2SeqRegressor, Seq2SeqClassifier)):
        raise UnsupportedModelError(
            f"{type(estimator).__name__} cannot be exported to ONNX yet: its greedy "
            "decoding loop (the decoder fed its own previous output) has no converter; "
            "only RNNRegressor and RNNClassifier export.")
    if not isinstance(estimator, (RNNRegressor, RNNClassifier)):
        raise TypeError(f"to_onnx converts crnn estimators, got {type(estimator).__name__}; "
                        "use skl2onnx.to_onnx for pipelines.")
    check_is_fitted(estimator, "coefs_")
    if univariate:
        shape = [None, n_timesteps]
    else:
        shape = [None, n_timesteps, int(estimator.n_features_in_)]
    return convert_sklearn(estimator, initial_types=[(input_name, FloatTensorType(shape))],
                           options={id(estimator): options} if options else None,
                           target_opset=target_opset)
