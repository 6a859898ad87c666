"""The model interface between the training layer and the networks.

A model owns a parameter layout over one flat buffer (so the fused
optimizer updates everything in one pass, weights first so that the L2
penalty covers the prefix ``flat[:n_decay]``), draws initial parameters,
computes the loss and gradient of one packed minibatch (:class:`Minibatch`)
and predicts raw outputs. The training layer and the estimators talk to a
model only through this interface; :class:`crnn._network.RecurrentNetwork`
is one implementation, an encoder-decoder is meant to be another.
"""
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from crnn._layers import Packing


@dataclass
class Minibatch:
    """One part of one training minibatch, packed (see ``_layers.Packing``).

    Attributes
    ----------
    X : ndarray of shape (n_rows, n_features)
        Packed input rows.
    packing : Packing
        Lengths (sorted, longest first) and per-step batch sizes.
    targets : ndarray
        Squared loss: (B, n_outputs), or (n_rows, n_outputs) packed like
        ``X`` when the model predicts every step; log loss: the class
        indices, (B,) or (n_rows,).
    n_predictions : int
        Predicted rows (sequences, or valid steps) of the *whole*
        minibatch this part belongs to: the loss is a mean over the whole
        minibatch, so the parts' losses and gradients simply add up.
    dropout_masks : list of ndarray or None
        Per layer below the top, packed (n_rows, width) multipliers (0 or
        1 / (1 - p)); None without dropout.
    truncate : int or None
        Window of truncated backpropagation through time.
    """

    X: np.ndarray
    packing: Packing
    targets: np.ndarray
    n_predictions: int
    dropout_masks: Optional[list] = None
    truncate: Optional[int] = None
    extra: Any = None


class Model:
    """Interface every crnn model implements (see the module docstring).

    Attributes
    ----------
    n_params : int
        Size of the flat parameter buffer.
    n_decay : int
        The L2 penalty applies to ``flat[:n_decay]`` (the weights).
    dtype : numpy.dtype
        Precision of every parameter and buffer.
    """

    n_params: int
    n_decay: int
    dtype: np.dtype

    def views(self, flat):
        """The user-facing parameter structure (``coefs_``) as views into ``flat``."""
        raise NotImplementedError

    def init_params(self, rng, **options):
        """A new flat parameter buffer drawn with ``rng``."""
        raise NotImplementedError

    def loss_grad(self, coefs, grads, batch, ws):
        """Loss of ``batch`` (a :class:`Minibatch`) and its gradient, written into
        the views ``grads``; the loss is this part's share of the minibatch mean."""
        raise NotImplementedError

    def dropout_widths(self):
        """Widths of the layer outputs that dropout applies to (none by default)."""
        return []

    def predict_raw(self, coefs, X, ws, lengths=None):
        """Raw outputs (regression values or logits) for batch-first ``X``."""
        raise NotImplementedError

    def forecast_raw(self, coefs, X, ws, lengths=None, steps=1):
        """Outputs fed back as inputs for ``steps`` steps after each context."""
        raise NotImplementedError
