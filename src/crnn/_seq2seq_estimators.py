"""scikit-learn estimators for sequence to sequence: Seq2SeqRegressor, Seq2SeqClassifier.

They share the RNN estimators' parameters, epoch loop, divergence recovery,
early stopping and persistence (``_estimators._BaseRNN``); what differs is
the targets (sequences with their own lengths), the model (an
encoder-decoder, ``_seq2seq``) and predict (greedy decoding in compiled code).
"""
from numbers import Integral

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from crnn import _memory, _threads, _training
from crnn._estimators import _BaseRNN
from crnn._seq2seq import Seq2SeqData
from crnn._validation import (check_label_values, check_n_features, check_sequences,
                              check_target_length, check_targets_present,
                              resolve_batch_size)

_NOT_APPLICABLE = ("return_sequences", "bidirectional")


def _target_sequences(y):
    """y as a list of per-sample target sequences, and its layout.

    A list or tuple holds one sequence per sample; an array's first axis is
    the samples: 1-D is one value (a one-step sequence) per sample, 2-D
    (n_samples, n_steps) and 3-D (n_samples, n_steps, n_outputs) sequences
    of one length.

    Returns
    -------
    sequences : list of ndarray
    y_ndim : int
        0: one value per sample; 1: univariate sequences; 2: (T_i, n_outputs).
    """
    if isinstance(y, (list, tuple)):
        sequences = [np.asarray(s) for s in y]
        ndims = {s.ndim for s in sequences}
        if len(ndims) > 1:
            raise ValueError("y mixes target sequences of different dimensions: "
                             f"{sorted(ndims)}.")
        y_ndim = ndims.pop() if ndims else 1
        if y_ndim == 0:
            sequences = [s.reshape(1) for s in sequences]
        elif y_ndim > 2:
            raise ValueError(f"Each target sequence must be 1-D or 2-D, got {y_ndim}-D.")
        return sequences, y_ndim
    y = np.asarray(y)
    if y.ndim == 0 or y.ndim > 3:
        raise ValueError(f"y must be 1-D, 2-D or 3-D (or a list of sequences), got shape "
                         f"{y.shape}.")
    if y.ndim == 1:
        return [y[i:i + 1] for i in range(y.shape[0])], 0
    return list(y), y.ndim - 1


def _check_not_empty(sequences):
    empty = [i for i, s in enumerate(sequences) if s.shape[0] == 0]
    if empty:
        raise ValueError(f"Target sequences must have at least one step; y[{empty[0]}] is "
                         f"empty ({len(empty)} empty in all).")


class _BaseSeq2Seq(_BaseRNN):
    """Shared parameters, fit and decoding of the sequence-to-sequence estimators."""

    _parameter_constraints = {
        **{key: value for key, value in _BaseRNN._parameter_constraints.items()
           if key not in _NOT_APPLICABLE},
        "max_output_length": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(self, cell="lstm", hidden_layer_sizes=(64,), activation="tanh", *,
                 max_output_length=None, solver="adam", alpha=0.0, batch_size="auto",
                 learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 clip_grad_norm=5.0, dropout=0.0, truncate_bptt=None, forget_bias=0.0,
                 dtype="float32"):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.max_output_length = max_output_length
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.clip_grad_norm = clip_grad_norm
        self.dropout = dropout
        self.truncate_bptt = truncate_bptt
        self.forget_bias = forget_bias
        self.dtype = dtype

    # The base class reads these for RNN-only features; an encoder-decoder
    # has neither (its decoder needs one-directional states to start from).
    return_sequences = False
    bidirectional = False

    # ----------------------------------------------------------------- public
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_val=None, y_val=None):
        """Fit the encoder-decoder to input sequences ``X`` and target sequences ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), or list of array-like
            Input sequences, in any form :class:`RNNRegressor` takes (ragged
            lists, NaN-padded arrays).
        y : list of array-like, or array-like
            One target sequence per sample, of its own length (>= 1): a list
            of (T_i,) or (T_i, n_outputs) arrays (the classifier: label
            sequences), or an array (n_samples, n_steps[, n_outputs]) of
            sequences of one length, or (n_samples,) for one-step targets.
        X_val, y_val : default=None
            Validation set for early stopping, used instead of holding out
            ``validation_fraction`` of the training data.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, incremental=False, X_val=X_val, y_val=y_val)

    def predict(self, X):
        """Decode greedily, up to ``max_output_length`` steps (the classifier
        also stops a sequence after ``end_label``).

        Parameters
        ----------
        X : array-like or list of array-like
            Input sequences, in any form :meth:`fit` takes.

        Returns
        -------
        y : ndarray or list of ndarray
            See the class's description.
        """
        check_is_fitted(self, "coefs_")
        out, labels, out_lengths = self._decode(X)
        return self._format_prediction(out, labels, out_lengths)

    # --------------------------------------------------------------- internal
    def _output_length(self):
        if self.max_output_length is not None:
            return int(self.max_output_length)
        return int(self.max_target_length_)

    def _decode(self, X, lengths=None, checked=False):
        if not checked:
            X, lengths = check_sequences(X, self._fitted_dtype())
        check_n_features(self, X, reset=False)
        X = np.ascontiguousarray(X)
        return _training.decode(self._network, self.coefs_, X, lengths, self._output_length(),
                                self._end_index())

    def _end_index(self):
        return -1

    def _config(self, n_features, n_outputs):
        return {"model": "seq2seq", "cell": self.cell, "n_features": int(n_features),
                "hidden_sizes": list(self._hidden_sizes()), "n_outputs": int(n_outputs),
                "activation": self.activation, "dtype": self._dtype().name,
                "loss": self._loss_name}

    def _needs_reinit(self, incremental):
        if not hasattr(self, "coefs_"):
            return True
        if incremental or self.warm_start:
            old = self._model_config
            new = self._config(old["n_features"], old["n_outputs"])
            return any(old[key] != new[key] for key in ("cell", "hidden_sizes", "dtype"))
        return True

    def _fit(self, X, y, incremental, classes=None, X_val=None, y_val=None):
        check_targets_present(self, y)
        dtype = self._dtype()
        X, lengths = check_sequences(X, dtype)
        check_target_length(X, y)
        reinit = self._needs_reinit(incremental)
        targets, target_lengths = self._prepare_targets(y, reinit, classes)
        check_n_features(self, X, reset=reinit)
        rng = check_random_state(self.random_state)
        n_outputs = self._n_outputs_for_fit(targets)
        # fail fast, before the parameters, copies and caches are allocated:
        # the encoder as a many-to-one stack over X, the decoder as a
        # many-to-many one over the targets
        batch_size = resolve_batch_size(self.batch_size, X.shape[0])
        n_parts = _threads.n_parts(batch_size)
        n_steps = X.shape[1] if lengths is None else int(lengths.max())
        _memory.check_training_memory(
            _memory.training_bytes(self.cell, X.shape[0], n_steps, X.shape[2],
                                   self._hidden_sizes(), n_outputs, batch_size,
                                   self._dtype().itemsize, False, n_parts)
            + _memory.training_bytes(self.cell, X.shape[0], int(target_lengths.max()),
                                     n_outputs, self._hidden_sizes(), n_outputs, batch_size,
                                     self._dtype().itemsize, True, n_parts), batch_size)
        if reinit:
            self._initialize(X.shape[2], n_outputs, rng)
            self.max_target_length_ = 0
        else:
            self._model_config = self._config(self.n_features_in_, self.n_outputs_)
            self._network = _training.build_model(self._model_config)
            if self.solver == "adam" and self._optimizer_state["v"] is None:
                self._optimizer_state["v"] = np.zeros_like(self._params)
        self.max_target_length_ = max(self.max_target_length_, int(target_lengths.max()))
        self._check_end_label()

        early_stopping = (self.early_stopping or X_val is not None) and not incremental
        self._ensure_stopping_state(early_stopping)
        validation = None
        if early_stopping:
            if X_val is not None:
                if y_val is None:
                    raise ValueError("X_val was given without y_val.")
                X_val, lengths_val = check_sequences(X_val, dtype, name="X_val")
                check_n_features(self, X_val, reset=False)
                check_target_length(X_val, y_val)
                validation = (X_val, lengths_val)
            else:
                n_samples = X.shape[0]
                n_val = int(np.ceil(self.validation_fraction * n_samples))
                if n_val < self._min_validation or n_samples - n_val < 1:
                    raise ValueError(
                        "The training data is too small to hold out validation_fraction="
                        f"{self.validation_fraction} for early stopping (at least "
                        f"{self._min_validation} validation samples); pass more samples or "
                        "set early_stopping=False.")
                train, val = train_test_split(
                    np.arange(n_samples), random_state=rng.randint(np.iinfo(np.int32).max),
                    test_size=n_val)
                validation = (X[val], None if lengths is None else lengths[val])
                y_val = self._decode_targets(targets[val], target_lengths[val])
                X, targets, target_lengths = X[train], targets[train], target_lengths[train]
                lengths = None if lengths is None else lengths[train]
        data = Seq2SeqData(X, lengths, targets, target_lengths,
                           n_outputs if self._loss_name == "log" else None)
        self._run_epochs(data, rng, 1 if incremental else self.max_iter, early_stopping,
                         validation, y_val, incremental)
        return self

    def _check_end_label(self):
        pass


class Seq2SeqRegressor(RegressorMixin, _BaseSeq2Seq):
    """Sequence-to-sequence regressor: an encoder-decoder of recurrent stacks.

    An encoder stack reads each input sequence; its final hidden (and
    cell) states start a decoder stack of the same cell, whose linear
    readout emits the target sequence one step at a time. Training uses
    teacher forcing: the decoder's input at step t is target t - 1, a
    learned ``start`` vector at t = 0; the loss is the squared error halved
    and averaged over every valid target step and output. ``predict``
    decodes greedily, feeding each prediction back as the next input, for
    ``max_output_length`` steps, in one compiled loop.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="lstm"
        Cell of every layer of the encoder and of the decoder.
    hidden_layer_sizes : array-like of int, default=(64,)
        Hidden units of each layer; the encoder and the decoder have the
        same layers (each encoder layer's final state starts the decoder
        layer at the same depth).
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Nonlinearity of the vanilla cell.
    max_output_length : int or None, default=None
        Steps decoded by ``predict``; None: the longest training target.
    solver, alpha, batch_size, learning_rate_init, max_iter, shuffle, \
random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, \
early_stopping, validation_fraction, beta_1, beta_2, epsilon, \
n_iter_no_change, clip_grad_norm, truncate_bptt, forget_bias, dtype
        As for :class:`RNNRegressor` (``truncate_bptt`` and ``forget_bias``
        apply to both stacks), except that ``n_iter_no_change`` defaults to
        10 here: the real-data benchmark that moved RNNRegressor's to 50
        measured one-output models only. Early stopping scores R^2 of the
        greedy decoding.
    dropout : float, default=0.0
        Dropout between the encoder's layers (as :class:`RNNRegressor`);
        the decoder runs without.

    Attributes
    ----------
    coefs_ : dict
        ``{"encoder": [...], "decoder": [...], "readout": {...}}``: one
        SPEC 3 dict per layer of each stack (``W_ih``, ``W_hh``, ``b_ih``,
        ``b_hh``; the decoder's first ``W_ih`` is (G*H_0, ``n_outputs_``)),
        and the readout ``W_out`` (``n_outputs_``, H_last), ``b_out`` and
        ``start`` (``n_outputs_``,). Live parameters.
    max_target_length_ : int
        Longest target sequence seen in training.
    n_features_in_, n_outputs_, n_iter_, t_, loss_, loss_curve_, best_loss_, \
validation_scores_, best_validation_score_
        As for :class:`RNNRegressor`.

    Examples
    --------
    >>> import numpy as np
    >>> from crnn import Seq2SeqRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.normal(size=(n, 1)) for n in rng.integers(3, 8, 40)]
    >>> y = [x[::-1, 0] for x in X]     # reversed, of each input's length
    >>> model = Seq2SeqRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0)
    >>> model.fit(X, y).predict(X[:2]).shape
    (2, 7)
    """

    _loss_name = "squared"
    _min_validation = 2

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True   # (T_i, n_outputs) target sequences
        return tags

    def partial_fit(self, X, y):
        """Run one epoch over ``(X, y)``, keeping the optimizer state.

        Parameters
        ----------
        X, y
            As for :meth:`fit`.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_"):
            self._validate_params()
        return self._fit(X, y, incremental=True)

    def _prepare_targets(self, y, reinit, classes):
        sequences, y_ndim = _target_sequences(y)
        _check_not_empty(sequences)
        try:
            sequences = [np.asarray(s, dtype=np.float64) for s in sequences]
        except (TypeError, ValueError) as exc:
            raise ValueError("y must be numeric.") from exc
        widths = {1 if s.ndim == 1 else s.shape[1] for s in sequences}
        if len(widths) > 1:
            raise ValueError(f"Target sequences have different numbers of outputs: "
                             f"{sorted(widths)}.")
        n_outputs = widths.pop()
        if not all(np.all(np.isfinite(s)) for s in sequences):
            raise ValueError("Input y contains NaN or infinity.")
        if not reinit and n_outputs != self.n_outputs_:
            raise ValueError(f"y has {n_outputs} outputs, but the model was fitted "
                             f"with {self.n_outputs_}.")
        if reinit:
            self._y_ndim = y_ndim
        target_lengths = np.array([s.shape[0] for s in sequences], dtype=np.intp)
        targets = np.zeros((len(sequences), int(target_lengths.max()), n_outputs),
                           self._dtype())
        for i, s in enumerate(sequences):
            targets[i, :s.shape[0]] = s.reshape(s.shape[0], n_outputs)
        return targets, target_lengths

    def _n_outputs_for_fit(self, targets):
        return targets.shape[-1]

    def _decode_targets(self, targets, target_lengths):
        return [t[:n] for t, n in zip(targets, target_lengths)]

    def _format_prediction(self, out, labels, out_lengths):
        out = out.astype(np.float64)
        if self._y_ndim == 0:
            return out[:, 0, 0]
        return out[..., 0] if self._y_ndim == 1 else out

    def _score_arrays(self, X, lengths, y):
        pred = self._decode(X, lengths, checked=True)[0].astype(np.float64)
        return self._r2(pred, y)

    def _r2(self, pred, y):
        sequences, _ = _target_sequences(y)
        n_outputs = pred.shape[-1]
        true_rows, pred_rows = [], []
        for i, s in enumerate(sequences):
            n = min(s.shape[0], pred.shape[1])
            true_rows.append(np.asarray(s, np.float64).reshape(-1, n_outputs)[:n])
            pred_rows.append(pred[i, :n])
        return r2_score(np.concatenate(true_rows), np.concatenate(pred_rows))

    def score(self, X, y, sample_weight=None):
        """R^2 over every predicted step.

        Each decoded sequence is compared with its true sequence over their
        common steps (the first ``min(T_i, max_output_length)``).

        Parameters
        ----------
        X : array-like or list of array-like
        y : target sequences, as for :meth:`fit`
        sample_weight : None
            Not supported (must be None).

        Returns
        -------
        score : float
        """
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by Seq2SeqRegressor.score.")
        check_is_fitted(self, "coefs_")
        X, lengths = check_sequences(X, self._fitted_dtype())
        check_target_length(X, y)
        return self._score_arrays(X, lengths, y)


class Seq2SeqClassifier(ClassifierMixin, _BaseSeq2Seq):
    """Sequence-to-sequence classifier: input sequences to label sequences.

    Like :class:`Seq2SeqRegressor`, with a softmax readout and cross-entropy
    averaged over every valid target step; the decoder reads the one-hot of
    the previous label (teacher forcing in training, the argmax of the
    previous step in ``predict``). Greedy decoding stops a sequence after
    it emits ``end_label``, or after ``max_output_length`` steps.

    Parameters
    ----------
    cell, hidden_layer_sizes, activation, max_output_length, solver, alpha, \
batch_size, learning_rate_init, max_iter, shuffle, random_state, tol, \
verbose, warm_start, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, \
clip_grad_norm, dropout, truncate_bptt, forget_bias, dtype
        As for :class:`Seq2SeqRegressor`. Early stopping scores exact-sequence
        accuracy.
    end_label : label or None, default=None
        A label that ends a sequence: decoding of a sequence stops after it
        (and it is part of the prediction, as it is of the training
        targets). Must be one of the training labels. None decodes every
        sequence to ``max_output_length``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Every label of every training target sequence.
    coefs_, max_target_length_, n_features_in_, n_outputs_, n_iter_, t_, \
loss_, loss_curve_, best_loss_, validation_scores_, best_validation_score_
        As for :class:`Seq2SeqRegressor`; ``n_outputs_`` is the number of classes.

    Examples
    --------
    >>> import numpy as np
    >>> from crnn import Seq2SeqClassifier
    >>> rng = np.random.default_rng(0)
    >>> seqs = [rng.integers(0, 5, n) for n in rng.integers(3, 6, 60)]
    >>> X = [np.eye(5)[s] for s in seqs]            # one-hot digits
    >>> y = [np.append(s[::-1], 9) for s in seqs]   # reversed, then the end label 9
    >>> clf = Seq2SeqClassifier(hidden_layer_sizes=(32,), end_label=9, max_iter=5,
    ...                         random_state=0).fit(X, y)
    >>> len(clf.predict(X[:3]))
    3
    """

    _loss_name = "log"
    _min_validation = 1
    _parameter_constraints = {**_BaseSeq2Seq._parameter_constraints, "end_label": "no_validation"}

    def __init__(self, cell="lstm", hidden_layer_sizes=(64,), activation="tanh", *,
                 max_output_length=None, end_label=None, solver="adam", alpha=0.0,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 clip_grad_norm=5.0, dropout=0.0, truncate_bptt=None, forget_bias=0.0,
                 dtype="float32"):
        super().__init__(
            cell, hidden_layer_sizes, activation, max_output_length=max_output_length,
            solver=solver, alpha=alpha, batch_size=batch_size,
            learning_rate_init=learning_rate_init, max_iter=max_iter, shuffle=shuffle,
            random_state=random_state, tol=tol, verbose=verbose, warm_start=warm_start,
            momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            clip_grad_norm=clip_grad_norm, dropout=dropout, truncate_bptt=truncate_bptt,
            forget_bias=forget_bias, dtype=dtype)
        self.end_label = end_label

    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, keeping the optimizer state.

        Parameters
        ----------
        X, y
            As for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every label that will ever appear; required on the first call.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_"):
            self._validate_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._fit(X, y, incremental=True, classes=classes)

    def _prepare_targets(self, y, reinit, classes):
        sequences, y_ndim = _target_sequences(y)
        _check_not_empty(sequences)
        if y_ndim == 2:
            raise ValueError("Seq2SeqClassifier needs label sequences (1-D each); got "
                             "2-D target sequences.")
        flat = np.concatenate(sequences)
        check_label_values(flat)
        check_classification_targets(flat)
        if reinit:
            self._y_ndim = y_ndim
            self.classes_ = unique_labels(np.asarray(classes) if classes is not None
                                          else flat)
        elif classes is not None and not np.array_equal(unique_labels(np.asarray(classes)),
                                                        self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes seen before "
                             f"({self.classes_!r}).")
        unseen = np.setdiff1d(unique_labels(flat), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_: {unseen!r}.")
        encoder = LabelEncoder().fit(self.classes_)
        target_lengths = np.array([s.shape[0] for s in sequences], dtype=np.intp)
        targets = np.zeros((len(sequences), int(target_lengths.max())), np.intp)
        codes = encoder.transform(flat)
        mask = np.arange(targets.shape[1])[np.newaxis, :] < target_lengths[:, np.newaxis]
        targets[mask] = codes
        return targets, target_lengths

    def _check_end_label(self):
        if self.end_label is not None and self.end_label not in set(self.classes_.tolist()):
            raise ValueError(f"end_label={self.end_label!r} is not one of the training "
                             f"labels (classes_ = {self.classes_!r}).")

    def _end_index(self):
        if self.end_label is None:
            return -1
        self._check_end_label()
        return int(np.flatnonzero(self.classes_ == self.end_label)[0])

    def _n_outputs_for_fit(self, targets):
        return len(self.classes_)

    def _decode_targets(self, targets, target_lengths):
        return [self.classes_[t[:n]] for t, n in zip(targets, target_lengths)]

    def _format_prediction(self, out, labels, out_lengths):
        if self._y_ndim == 0:
            return self.classes_[labels[:, 0]]
        return [self.classes_[row[:n]] for row, n in zip(labels, out_lengths)]

    def _score_arrays(self, X, lengths, y):
        pred = self._format_prediction(*self._decode(X, lengths, checked=True))
        return self._accuracy(pred, y)

    def _accuracy(self, pred, y):
        sequences, _ = _target_sequences(y)
        if self._y_ndim == 0:
            pred = [np.atleast_1d(p) for p in pred]
        hits = [p.shape == np.shape(s) and bool(np.all(p == s))
                for p, s in zip(pred, sequences)]
        return float(np.mean(hits))

    def score(self, X, y, sample_weight=None):
        """Exact-sequence accuracy: the fraction of sequences decoded without error.

        Parameters
        ----------
        X : array-like or list of array-like
        y : label sequences, as for :meth:`fit`
        sample_weight : None
            Not supported (must be None).

        Returns
        -------
        score : float
        """
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by Seq2SeqClassifier.score.")
        check_is_fitted(self, "coefs_")
        X, lengths = check_sequences(X, self._fitted_dtype())
        check_target_length(X, y)
        return self._score_arrays(X, lengths, y)
