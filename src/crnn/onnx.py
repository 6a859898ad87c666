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

Bidirectional layers map to ``direction="bidirectional"`` (forward and
reverse weights stacked on ONNX's direction axis); the two halves of each
layer's output are concatenated ``[forward, reverse]`` as in crnn, and a
many-to-one model reads the forward state at each sequence's last step and
the reverse state at its first step (PyTorch's ``h_n``).

Variable-length input: with the ``sequence_lens`` option (``to_onnx(...,
lengths=True)``) the graph has a second input ``lengths`` (int32 or int64,
shape (N,)) that feeds the operators' ``sequence_lens``. X is then a
padded batch (N, T_max, n_features) whose rows beyond each length are
ignored (pad with zeros, not NaN); a many-to-one model reads each
sequence's own last step, and with ``return_sequences=True`` the outputs
at padded steps are the readout of a zero state: slice each row to its
length, as crnn's ragged ``predict`` returns.

Not exported, with a clear error at conversion: float64 models and double
inputs (ONNX Runtime's recurrent kernels are float32 only), layer
normalisation, and the sequence-to-sequence estimators.
"""
import numbers

import numpy as np

try:
    from onnx import TensorProto
    from skl2onnx import convert_sklearn, update_registered_converter
    from skl2onnx._parse import _parse_sklearn_classifier, _parse_sklearn_simple_model
    from skl2onnx.common.data_types import (DoubleTensorType, FloatTensorType,
                                            Int32TensorType, Int64TensorType,
                                            StringTensorType)
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
        ``cell``, ``activation``, ``layers`` (per layer, a list of one
        (W_ih, W_hh, b_ih, b_hh) tuple of float32 arrays per direction,
        forward first), ``W_out``, ``b_out``, ``n_features``,
        ``return_sequences``.
    """
    check_is_fitted(model, "coefs_")
    name = type(model).__name__
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
    keys = ("W_ih", "W_hh", "b_ih", "b_hh")
    reverse_keys = tuple(key + "_reverse" for key in keys)
    layers = []
    for k, layer in enumerate(coefs[:-1]):
        bidirectional = reverse_keys[0] in layer
        extra = sorted(set(layer) - set(keys) - (set(reverse_keys) if bidirectional else set()))
        if extra:
            raise UnsupportedModelError(
                f"Layer {k} of {name} has parameters {extra} that the ONNX converter "
                "does not export yet.")
        n_rows, n_hidden = layer["W_hh"].shape
        if _GATES_TO_CELL.get(n_rows // n_hidden) != cell:
            raise UnsupportedModelError(
                f"coefs_ of {name} do not match cell={cell!r}; refit the model.")
        # one (W_ih, W_hh, b_ih, b_hh) per direction: forward, then reverse
        layers.append([tuple(layer[key] for key in keys)]
                      + ([tuple(layer[key] for key in reverse_keys)] if bidirectional else []))
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


def _lengths_input(scope, operator):
    """The ``lengths`` input's name when the sequence_lens option is on, else None."""
    options = scope.get_options(operator.raw_operator, dict(sequence_lens=False))
    inputs = operator.inputs
    if not options.get("sequence_lens"):
        if len(inputs) > 1:
            raise ValueError(
                f"The graph declares {len(inputs)} inputs; a second one (lengths) needs "
                "the sequence_lens option: to_onnx(model, lengths=True).")
        return None
    if len(inputs) != 2:
        raise ValueError(
            "The sequence_lens option needs a second input, the lengths (N,) as an int32 "
            "or int64 tensor: to_onnx(model, lengths=True) declares it.")
    variable = inputs[1]
    if not isinstance(variable.type, (Int32TensorType, Int64TensorType)):
        raise ValueError(f"The lengths input must be an int32 or int64 tensor, got "
                         f"{type(variable.type).__name__}.")
    if len(variable.type.shape) != 1:
        raise ValueError(f"The lengths input must be 1-D (N,), got shape "
                         f"{list(variable.type.shape)}.")
    return variable


# ------------------------------------------------------- shape calculators
def _check_lengths_shape(operator):
    # the options are checked by the converter (the shape calculator has no
    # scope); an extra input that is not a 1-D integer tensor fails here
    if len(operator.inputs) > 2:
        raise ValueError(f"The graph declares {len(operator.inputs)} inputs; crnn models "
                         "take X and, with the sequence_lens option, the lengths.")


def _regressor_shapes(operator):
    spec = _describe(operator.raw_operator)
    shape = _check_input(operator, spec)
    _check_lengths_shape(operator)
    n_outputs = spec["W_out"].shape[0]
    dims = [shape[0], shape[1], n_outputs] if spec["return_sequences"] else [shape[0],
                                                                              n_outputs]
    operator.outputs[0].type = FloatTensorType(dims)


def _classifier_shapes(operator):
    model = operator.raw_operator
    spec = _describe(model)
    shape = _check_input(operator, spec)
    _check_lengths_shape(operator)
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


def _onnx_weights(cell, directions):
    """One layer's W, R, B in ONNX's layout and gate order.

    ``directions`` holds one (W_ih, W_hh, b_ih, b_hh) per direction; they are
    stacked on ONNX's leading num_directions axis, forward first.
    """
    W, R, B = [], [], []
    for W_ih, W_hh, b_ih, b_hh in directions:
        n_hidden = W_hh.shape[1]
        rows = np.concatenate([np.arange(b * n_hidden, (b + 1) * n_hidden)
                               for b in _ONNX_BLOCKS[cell]])
        W.append(W_ih[rows])
        R.append(W_hh[rows])
        B.append(np.concatenate([b_ih[rows], b_hh[rows]]))
    return np.stack(W), np.stack(R), np.stack(B)


def _merge_directions(graph, x, n_directions, direction_axis):
    """Drop ONNX's direction axis, or put [forward, reverse] side by side.

    ``Y`` is (T, D, N, H) (``direction_axis=1``) and ``Y_h`` is (D, N, H)
    (``direction_axis=0``); crnn's layout is (T, N, D*H) and (N, D*H).
    """
    if n_directions == 1:
        return graph.squeeze(x, direction_axis)
    if direction_axis == 1:
        x = graph.node("Transpose", [x], perm=[0, 2, 1, 3])   # (T, N, 2, H)
        shape = np.array([0, 0, -1], dtype=np.int64)           # 0: keep that dim
    else:
        x = graph.node("Transpose", [x], perm=[1, 0, 2])      # (N, 2, H)
        shape = np.array([0, -1], dtype=np.int64)
    return graph.node("Reshape", [x, graph.constant("shape", shape, TensorProto.INT64)])


def _recurrent_stack(graph, spec, x_input, input_rank, lengths=None):
    """Nodes from the batch-first input to the readout's input.

    ``lengths`` is the name of an int32 (N,) tensor for the operators'
    ``sequence_lens``, or None for equal lengths.

    Returns
    -------
    hidden : str
        (N, D*H_last) with ``return_sequences=False``; (T, N, D*H_last)
        (time-major) otherwise; D = 2 for a bidirectional layer.
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
    for k, directions in enumerate(spec["layers"]):
        n_hidden = directions[0][1].shape[1]
        n_directions = len(directions)
        W, R, B = _onnx_weights(cell, directions)
        inputs = [x, graph.constant(f"W{k}", W), graph.constant(f"R{k}", R),
                  graph.constant(f"B{k}", B)]
        if lengths is not None:
            inputs.append(lengths)   # sequence_lens: each sequence stops at its length
        Y, Y_h = graph.name(f"Y{k}"), graph.name(f"Y_h{k}")
        layer_attrs = dict(attrs)
        if "activations" in layer_attrs:   # one per direction
            layer_attrs["activations"] = attrs["activations"] * n_directions
        graph.container.add_node(
            op_type, inputs, [Y, Y_h], op_version=op_version,
            name=graph.scope.get_unique_operator_name(op_type), hidden_size=n_hidden,
            direction="bidirectional" if n_directions == 2 else "forward", **layer_attrs)
        if k == n_layers - 1 and not spec["return_sequences"]:
            # (D, N, H) -> (N, D*H): the forward state at each sequence's last
            # step, the reverse state at its first
            return _merge_directions(graph, Y_h, n_directions, 0)
        x = _merge_directions(graph, Y, n_directions, 1)  # (T, D, N, H) -> (T, N, D*H)
    return x


def _lengths_int32(graph, variable):
    """The lengths input as the int32 tensor ``sequence_lens`` must be."""
    if variable is None:
        return None
    if isinstance(variable.type, Int32TensorType):
        return variable.full_name
    return graph.node("Cast", [variable.full_name], to=TensorProto.INT32)


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
    lengths = _lengths_input(scope, operator)
    spec = _describe(model)
    graph = _Graph(scope, container)
    rank = len(operator.inputs[0].type.shape)
    hidden = _recurrent_stack(graph, spec, operator.inputs[0].full_name, rank,
                              _lengths_int32(graph, lengths))
    _readout(graph, spec, hidden, operator.outputs[0].full_name)


def _convert_classifier(scope, operator, container):
    model = operator.raw_operator
    lengths = _lengths_input(scope, operator)
    spec = _describe(model)
    graph = _Graph(scope, container)
    rank = len(operator.inputs[0].type.shape)
    hidden = _recurrent_stack(graph, spec, operator.inputs[0].full_name, rank,
                              _lengths_int32(graph, lengths))
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
def to_onnx(estimator, *, n_timesteps=None, univariate=False, lengths=False, options=None,
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
    lengths : bool, default=False
        Variable-length input: add a second graph input ``lengths`` (int32,
        shape (N,)) that feeds the recurrent operators' ``sequence_lens``
        (skl2onnx option ``sequence_lens``). X is then a zero-padded batch;
        see the module docstring for what padded steps return.
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
        For float64 models, layer normalisation and the sequence-to-sequence
        estimators, which cannot be exported.
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
    initial_types = [(input_name, FloatTensorType(shape))]
    if lengths:
        initial_types.append(("lengths", Int32TensorType([None])))
        options = dict(options or {}, sequence_lens=True)
    return convert_sklearn(estimator, initial_types=initial_types,
                           options={id(estimator): options} if options else None,
                           target_opset=target_opset)
