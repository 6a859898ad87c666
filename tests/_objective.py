"""The one place where the tests reach into crnn's training internals.

Whole-network tests (finite differences, PyTorch golden steps) need what one
training step computes on one minibatch: the loss with its L2 term and the
gradient the optimizer consumes. Those live in private modules whose
interface changes; every such call is here, so that a change of the training
layer means re-pointing these functions, not rewriting the tests.

The parameter layout the tests see is public: ``coefs`` is a list of dicts as
``coefs_`` of a fitted estimator (SPEC 3). :func:`flatten` and
:func:`unflatten` turn it into one vector in that order (layer by layer,
``W_ih, W_hh, b_ih, b_hh``, then ``W_out, b_out``), independent of how crnn
stores it internally.
"""
import warnings

import numpy as np

LAYER_KEYS = ("W_ih", "W_hh", "b_ih", "b_hh")
READOUT_KEYS = ("W_out", "b_out")
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def coef_shapes(cell, n_features, hidden_sizes, n_outputs):
    """Shapes of ``coefs_`` (SPEC 3), as a list of dicts."""
    G = N_GATES[cell]
    shapes, n_in = [], n_features
    for H in hidden_sizes:
        shapes.append({"W_ih": (G * H, n_in), "W_hh": (G * H, H),
                       "b_ih": (G * H,), "b_hh": (G * H,)})
        n_in = H
    shapes.append({"W_out": (n_outputs, n_in), "b_out": (n_outputs,)})
    return shapes


def _keys(k, n_layers):
    return READOUT_KEYS if k == n_layers else LAYER_KEYS


def flatten(coefs):
    """One float vector of ``coefs`` in SPEC 3 order."""
    n_layers = len(coefs) - 1
    return np.concatenate([np.asarray(layer[key]).ravel()
                           for k, layer in enumerate(coefs)
                           for key in _keys(k, n_layers)])


def unflatten(flat, shapes):
    """Inverse of :func:`flatten` (views of ``flat``)."""
    coefs, offset = [], 0
    n_layers = len(shapes) - 1
    for k, layer in enumerate(shapes):
        d = {}
        for key in _keys(k, n_layers):
            size = int(np.prod(layer[key]))
            d[key] = flat[offset:offset + size].reshape(layer[key])
            offset += size
        coefs.append(d)
    return coefs


def weight_mask(shapes):
    """Boolean vector: True where the flat layout holds a weight (L2 applies)."""
    n_layers = len(shapes) - 1
    return np.concatenate([np.full(int(np.prod(layer[key])), key.startswith("W"))
                           for k, layer in enumerate(shapes)
                           for key in _keys(k, n_layers)])


def minibatch_objective(cell, hidden_sizes, n_features, n_outputs, loss, return_sequences,
                        alpha, params_flat, X, y, activation="tanh"):
    """Loss and gradient of one training step's objective on one minibatch.

    Parameters
    ----------
    cell, hidden_sizes, n_features, n_outputs, activation
        The architecture.
    loss : {"squared", "log"}
    return_sequences : bool
    alpha : float
        The estimators' ``alpha``; the step uses ``l2 = alpha / batch``.
    params_flat : ndarray
        Parameters in :func:`flatten` order; their dtype is the compute dtype.
    X : ndarray of shape (B, T, n_features)
        Batch-first minibatch.
    y : ndarray
        ``"squared"``: (B, n_outputs) or (B, T, n_outputs) targets;
        ``"log"``: (B,) or (B, T) class indices.

    Returns
    -------
    loss : float
        The minibatch loss plus ``0.5 * l2 * ||W||^2``.
    grad_flat : ndarray
        Its gradient in :func:`flatten` order, as the optimizer sees it
        before clipping (L2 term included).
    """
    # Today: the model's loss_grad on one packed minibatch, the L2 loss term
    # of _training.Trainer.step, and the l2 * W that _optim adds to the
    # weight gradients (taken from _optim itself, not re-implemented).
    from crnn import _optim
    from crnn._layers import Packing, Workspace
    from crnn._model import Minibatch
    from crnn._training import build_model

    dtype = np.asarray(params_flat).dtype
    net = build_model({"cell": cell, "n_features": n_features,
                       "hidden_sizes": list(hidden_sizes), "n_outputs": n_outputs,
                       "activation": activation, "dtype": np.dtype(dtype).name,
                       "return_sequences": return_sequences, "loss": loss,
                       "bidirectional": False})
    shapes = coef_shapes(cell, n_features, hidden_sizes, n_outputs)
    params = np.empty(net.n_params, dtype)
    coefs = net.views(params)
    for layer, given in zip(coefs, unflatten(np.asarray(params_flat), shapes)):
        for key in layer:
            layer[key][...] = given[key]
    grads = np.zeros_like(params)
    batch, n_steps = X.shape[0], X.shape[1]
    X_rows = np.ascontiguousarray(np.swapaxes(np.asarray(X, dtype), 0, 1)).reshape(
        -1, n_features)
    if loss == "squared":
        targets = np.asarray(y, dtype)
        if return_sequences:
            targets = np.swapaxes(targets, 0, 1).reshape(-1, n_outputs)
    else:
        targets = np.asarray(y, np.intp)
        if return_sequences:
            targets = np.swapaxes(targets, 0, 1).reshape(-1)
    targets = np.ascontiguousarray(targets)
    n_predictions = batch * n_steps if return_sequences else batch
    minibatch = Minibatch(X_rows, Packing.uniform_lengths(n_steps, batch), targets,
                          n_predictions)
    value = net.loss_grad(coefs, net.views(grads), minibatch, Workspace(dtype))
    l2 = alpha / batch
    weights = params[:net.n_decay]
    value += 0.5 * l2 * float(np.dot(weights, weights))
    # The fused step adds l2 * W to the gradient in place before its update:
    # with max_norm=0 (no clipping) the gradient buffer is left holding exactly
    # what the update consumed; the step on a scratch copy is discarded.
    scratch = params.copy()
    _optim.sgd_step(scratch, grads, np.zeros_like(params), net.n_decay, l2, 0.0,
                    0.0, 0.0, False)
    return value, flatten(net.views(grads))


def first_training_step(estimator, coefs, X, y):
    """One optimizer step of ``estimator`` on the whole of ``(X, y)`` from ``coefs``.

    The estimator runs one epoch of one minibatch (``batch_size=n_samples``,
    no shuffling) from the given parameters with a fresh optimizer state, as
    the first step of a training run.

    Returns
    -------
    loss : float
        The objective at ``coefs`` (the epoch's ``loss_curve_`` entry).
    coefs : list of dict
        Parameters after the step (copies).
    """
    estimator.set_params(max_iter=1, batch_size=len(X), shuffle=False, warm_start=True,
                         early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # ConvergenceWarning of max_iter=1
        estimator.fit(X, y)               # builds the fitted state
        for layer, given in zip(estimator.coefs_, coefs):
            for key, value in layer.items():
                value[...] = given[key]
        # a fresh optimizer state: private today (the only internal use here)
        state = estimator._optimizer_state
        state["m"][...] = 0
        if state["v"] is not None:
            state["v"][...] = 0
        state["step"] = 0
        estimator.fit(X, y)
    return estimator.loss_curve_[-1], [{k: v.copy() for k, v in layer.items()}
                                       for layer in estimator.coefs_]
