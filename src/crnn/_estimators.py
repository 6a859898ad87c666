"""scikit-learn estimators: RNNRegressor and RNNClassifier.

The estimators validate input, choose the dtype, own the fitted state and run
the epoch loop's bookkeeping (shuffling, early stopping, divergence
recovery). An epoch itself is one call into the training layer
(``_training``: minibatches, data-parallel parts, optimizer steps), which
drives the model (``_network``); timestep loops only exist in the kernels.
"""
import numbers
import time
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, column_or_1d
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.validation import check_is_fitted

from crnn import _memory, _persistence, _spec, _threads, _training
from crnn._progress import EpochReporter
from crnn._validation import (check_label_values, check_n_features, check_sequence_targets,
                              check_sequences, check_target_length, check_targets_present,
                              resolve_batch_size, valid_steps)

_DTYPES = {"float32": np.float32, "float64": np.float64}


def _all_finite(a):
    """True if every element of a flat float array is finite.

    Summing is cheaper than an elementwise test; a sum that is not finite
    (NaN, inf, or overflow of finite values) falls back to the exact test.
    """
    with np.errstate(all="ignore"):
        if np.isfinite(np.sum(a, dtype=np.float64)):
            return True
    return bool(np.isfinite(a).all())


class _BaseRNN(BaseEstimator):
    """Shared parameters, fitting loop and fitted state of the RNN estimators."""

    _parameter_constraints = {
        "cell": [StrOptions(set(_spec.CELLS))],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_spec.ACTIVATIONS))],
        "return_sequences": ["boolean"],
        "solver": [StrOptions({"adam", "sgd"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "clip_grad_norm": [Interval(Real, 0, None, closed="neither"), None],
        "bidirectional": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "truncate_bptt": [Interval(Integral, 1, None, closed="left"), None],
        "layer_norm": ["boolean"],
        "forget_bias": [Real],
        "dtype": [StrOptions(set(_DTYPES))],
    }

    def __init__(self, cell="rnn", hidden_layer_sizes=(64,), activation="tanh", *,
                 return_sequences=False, solver="adam", alpha=0.0, batch_size="auto",
                 learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=50,
                 clip_grad_norm=5.0, bidirectional=False, dropout=0.0, truncate_bptt=None,
                 layer_norm=False, forget_bias=0.0, dtype="float32"):
        self.cell = cell
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.return_sequences = return_sequences
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
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.truncate_bptt = truncate_bptt
        self.layer_norm = layer_norm
        self.forget_bias = forget_bias
        self.dtype = dtype

    # ------------------------------------------------------------------ state
    def __getstate__(self):
        # The pickled state is plain arrays and builtins (what skops.io can
        # load without trusting crnn internals) plus the crnn version: the
        # model object is rebuilt from its config (_model_config) and coefs_
        # (views into _params) from the model on loading, so that they stay
        # live instead of becoming detached copies.
        state = dict(super().__getstate__())  # object.__getstate__ may be __dict__ itself
        state.pop("_workspaces", None)     # scratch buffers of partial_fit
        if state.pop("_network", None) is not None:
            state["coefs_"] = None
        return _persistence.stamp(state)

    def __setstate__(self, state):
        state = dict(state)
        _persistence.check_version(self, state)
        super().__setstate__(state)
        if getattr(self, "_params", None) is not None:
            self._rebuild_model()

    def _rebuild_model(self):
        """Rebuild the model object and the live ``coefs_`` views after loading."""
        config = getattr(self, "_model_config", None)
        if config is None:
            # crnn 0.1.0 pickled the network object itself
            net = self._network
            config = {"cell": net.cell, "n_features": net.n_features,
                      "hidden_sizes": list(net.hidden_sizes), "n_outputs": net.n_outputs,
                      "activation": net.activation, "dtype": np.dtype(net.dtype).name,
                      "return_sequences": bool(self.return_sequences),
                      "loss": self._loss_name, "bidirectional": False}
            self._model_config = config
        self._network = _training.build_model(config)
        self.coefs_ = self._network.views(self._params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags

    # ----------------------------------------------------------------- public
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, X_val=None, y_val=None):
        """Fit the network to sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), or list of array-like
            Training sequences; a 2-D X holds univariate sequences. Sequences
            of different lengths come as a list of (T_i, n_features) or
            (T_i,) arrays, or as an array whose shorter sequences end in
            all-NaN steps; each is read over its own steps only.
        y : array-like
            ``return_sequences=False``: (n_samples,) or (n_samples, n_outputs);
            ``return_sequences=True``: (n_samples, n_timesteps) or
            (n_samples, n_timesteps, n_outputs), or a list of per-sequence
            targets of the sequences' lengths; the loss is averaged over
            valid steps only.
        X_val, y_val : array-like, default=None
            Validation set for early stopping, used instead of holding out
            ``validation_fraction`` of the training data. Setting them turns
            early stopping on.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, incremental=False, X_val=X_val, y_val=y_val)

    def _partial_fit(self, X, y, classes=None):
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X):
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), or list of array-like
            Sequences, in any form :meth:`fit` takes; their length may differ
            from the training sequences.

        Returns
        -------
        y : ndarray or list of ndarray
            Same layout as the ``y`` given to fit: one prediction per sequence,
            or per time step with ``return_sequences=True`` (then a list of
            per-sequence arrays when the sequences have different lengths).
        """
        check_is_fitted(self, "coefs_")
        out, lengths = self._forward_output(X)
        return self._per_sequence(self._format_prediction(out), lengths)

    # --------------------------------------------------------------- internal
    def _score_steps(self, X, y, sample_weight):
        """score() with return_sequences=True: the metric over every valid step."""
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with return_sequences=True.")
        check_is_fitted(self, "coefs_")
        X, lengths = check_sequences(X, self._fitted_dtype())
        return self._score_arrays(X, lengths, y)

    def _per_sequence(self, pred, lengths):
        """Per-step predictions of variable-length sequences as a list of arrays."""
        if not self.return_sequences or lengths is None:
            return pred
        return [pred[i, :n] for i, n in enumerate(lengths)]

    def _step_targets(self, y, lengths, n_steps):
        """Per-step targets (list or padded array) as a padded array."""
        y = check_sequence_targets(y, lengths, n_steps)
        if y.ndim < 2 or y.shape[1] != n_steps:
            raise ValueError(
                "With return_sequences=True y needs one target per time step, shape "
                f"(n_samples, n_timesteps[, n_outputs]) with n_timesteps = {n_steps}, or a "
                f"list of per-sequence targets; got shape {y.shape}.")
        return y

    def _dtype(self):
        return np.dtype(_DTYPES[self.dtype])

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if len(sizes) == 0 or any(not isinstance(h, numbers.Integral) or h < 1 for h in sizes):
            raise ValueError("hidden_layer_sizes must hold at least one positive int, "
                             f"got {self.hidden_layer_sizes!r}.")
        return tuple(int(h) for h in sizes)

    def _forward_output(self, X, lengths=None, checked=False):
        """Readout values for X and its lengths: (n, O) or (n, T, O), fitted dtype."""
        if not checked:
            X, lengths = check_sequences(X, self._fitted_dtype())
        check_n_features(self, X, reset=False)
        # the inference kernels read batch-first rows in place (no copy if X
        # is already C-ordered)
        X = np.ascontiguousarray(X)
        return _training.predict(self._network, self.coefs_, X, lengths), lengths

    def _fitted_dtype(self):
        return np.dtype(self._model_config["dtype"])

    def _config(self, n_features, n_outputs):
        """The model this estimator's parameters describe, as plain builtins."""
        return {"cell": self.cell, "n_features": int(n_features),
                "hidden_sizes": list(self._hidden_sizes()), "n_outputs": int(n_outputs),
                "activation": self.activation, "dtype": self._dtype().name,
                "return_sequences": bool(self.return_sequences), "loss": self._loss_name,
                "bidirectional": bool(self.bidirectional),
                "layer_norm": bool(self.layer_norm)}

    def _initialize(self, n_features, n_outputs, rng):
        self._model_config = self._config(n_features, n_outputs)
        self._network = _training.build_model(self._model_config)
        self._params = self._network.init_params(rng, forget_bias=self.forget_bias)
        self.coefs_ = self._network.views(self._params)
        self._optimizer_state = _training.new_optimizer_state(
            self._network.n_params, self._dtype(), self.solver)
        self.n_outputs_ = n_outputs
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self.best_loss_ = np.inf
        self._ensure_stopping_state(self.early_stopping)

    def _ensure_stopping_state(self, early_stopping):
        """The bookkeeping early stopping (or the training-loss criterion) needs."""
        if early_stopping and self.validation_scores_ is None:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        elif not early_stopping and self.best_loss_ is None:
            self.best_loss_ = np.inf

    def _needs_reinit(self, incremental):
        if not hasattr(self, "coefs_"):
            return True
        if incremental or self.warm_start:
            # a changed architecture or dtype cannot continue from the old weights
            old = self._model_config
            new = self._config(old["n_features"], old["n_outputs"])
            return any(old[key] != new[key]
                       for key in ("cell", "hidden_sizes", "dtype", "bidirectional"))
        return True

    def _fit(self, X, y, incremental, classes=None, X_val=None, y_val=None):
        check_targets_present(self, y)
        dtype = self._dtype()
        X, lengths = check_sequences(X, dtype)
        reinit = self._needs_reinit(incremental)
        targets = self._prepare_targets(X, lengths, y, reinit, classes)
        check_n_features(self, X, reset=reinit)
        rng = check_random_state(self.random_state)
        # fail fast, before the parameters, copies and caches are allocated
        batch_size = resolve_batch_size(self.batch_size, X.shape[0])
        n_steps = X.shape[1] if lengths is None else int(lengths.max())
        _memory.check_training_memory(_memory.training_bytes(
            self.cell, X.shape[0], n_steps, X.shape[2], self._hidden_sizes(),
            self._n_outputs_for_fit(targets), batch_size, self._dtype().itemsize,
            self.return_sequences, _threads.n_parts(batch_size),
            bidirectional=self.bidirectional, layer_norm=self.layer_norm), batch_size)
        if self.layer_norm and X.shape[2] == 1:
            warnings.warn(
                "layer_norm=True with one input feature: the first layer's input "
                "projection x_t * W_ih is normalised over the gate units, which keeps "
                "only the sign of each x_t (its scale cancels). Layer normalisation "
                "suits multivariate inputs; on univariate series it can fail to learn "
                "(benchmarks/NOTES.md, 'Layer normalisation').", UserWarning, stacklevel=3)
        if reinit:
            self._initialize(X.shape[2], self._n_outputs_for_fit(targets), rng)
        else:
            # settings that do not change the parameter layout may change
            # between warm-started fits
            self._model_config = self._config(self.n_features_in_, self.n_outputs_)
            self._network = _training.build_model(self._model_config)
            if self.solver == "adam" and self._optimizer_state["v"] is None:
                self._optimizer_state["v"] = np.zeros_like(self._params)

        early_stopping = (self.early_stopping or X_val is not None) and not incremental
        self._ensure_stopping_state(early_stopping)
        if early_stopping:
            if X_val is not None:
                if y_val is None:
                    raise ValueError("X_val was given without y_val.")
                X_val = check_sequences(X_val, dtype, name="X_val")
                check_n_features(self, X_val[0], reset=False)
                check_target_length(X_val[0], y_val)
                if X_val[0].shape[0] < self._min_validation:
                    raise ValueError(f"X_val holds {X_val[0].shape[0]} sample; early stopping "
                                     f"needs at least {self._min_validation}.")
            else:
                X, lengths, targets, X_val, y_val = self._validation_split(
                    X, lengths, targets, rng)

        data = _training.SequenceData(X, targets, lengths, per_step=self.return_sequences)
        self._run_epochs(data, rng, 1 if incremental else self.max_iter, early_stopping,
                         X_val, y_val, incremental)
        return self

    def _validation_split(self, X, lengths, targets, rng):
        stratify = None
        if isinstance(self, ClassifierMixin) and not self.return_sequences:
            stratify = targets
        n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
        if n_val < self._min_validation or X.shape[0] - n_val < 1:
            raise ValueError("The training data is too small to hold out "
                             f"validation_fraction={self.validation_fraction} for early "
                             f"stopping (at least {self._min_validation} validation "
                             "samples); pass more samples or set early_stopping=False.")
        train, val = train_test_split(
            np.arange(X.shape[0]), random_state=rng.randint(np.iinfo(np.int32).max),
            test_size=n_val, stratify=stratify)
        lengths_train = None if lengths is None else lengths[train]
        lengths_val = None if lengths is None else lengths[val]
        y_val = self._decode_targets(targets[val])
        if self.return_sequences and lengths_val is not None:
            y_val = [t[:n] for t, n in zip(y_val, lengths_val)]
        return X[train], lengths_train, targets[train], (X[val], lengths_val), y_val

    def _hyper(self):
        return _training.Hyper(
            solver=self.solver, learning_rate=self.learning_rate_init, alpha=self.alpha,
            clip_grad_norm=0.0 if self.clip_grad_norm is None else float(self.clip_grad_norm),
            beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
            momentum=self.momentum, nesterov=self.nesterovs_momentum,
            truncate=self.truncate_bptt, dropout=float(self.dropout))

    def _run_epochs(self, data, rng, n_epochs, early_stopping, X_val, y_val, incremental):
        batch_size = resolve_batch_size(self.batch_size, data.n_samples)
        # dropout masks come from their own stream, seeded from the
        # estimator's: without dropout the shuffling stream is untouched
        dropout_rng = (np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
                       if self.dropout > 0 and len(self._hidden_sizes()) > 1 else None)
        trainer = _training.Trainer(self._network, self._params, self._optimizer_state,
                                    self._hyper(), batch_size, dropout_rng=dropout_rng,
                                    workspaces=getattr(self, "_workspaces", None)
                                    if incremental else None)
        # partial_fit keeps its scratch buffers for the next call: called once
        # per epoch, it would otherwise fault in fresh pages for every cache
        # each time (5-11% of a W4 epoch, benchmarks/NOTES.md); fit, which
        # runs its epochs in one call, releases them
        self._workspaces = trainer.part_ws if incremental else None
        with trainer, EpochReporter(self.verbose, n_epochs, self.n_iter_) as reporter:
            self._epoch_loop(trainer, data, rng, n_epochs, early_stopping, X_val, y_val,
                             incremental, reporter)
        if early_stopping and getattr(self, "_best_params", None) is not None:
            self._params[:] = self._best_params
            self._best_params = None

    def _epoch_loop(self, trainer, data, rng, n_epochs, early_stopping, X_val, y_val,
                    incremental, reporter):
        n_samples = data.n_samples
        order = np.arange(n_samples)
        previous = None  # the start of the last completed epoch
        try:
            for epoch in range(n_epochs):
                snapshot = None
                completed = stop = False
                try:
                    start_time = time.perf_counter()
                    # the end of the last clean epoch: every earlier epoch was checked
                    snapshot = self._take_snapshot()
                    # A diverging epoch overflows in NumPy (the loss, the readout);
                    # it is detected below and reported by one warning instead.
                    with np.errstate(all="ignore"):
                        if self.shuffle:
                            rng.shuffle(order)
                        epoch_loss, first_loss = trainer.epoch(data, order)
                        # Clean only if the loss and the state it leaves are finite:
                        # a finite loss is computed before the epoch's last update.
                        state = self._optimizer_state
                        clean = (np.isfinite(epoch_loss) and _all_finite(self._params)
                                 and _all_finite(state["m"])
                                 and (state["v"] is None or _all_finite(state["v"])))
                    if not clean:
                        # A non-finite loss already at this epoch's start means the
                        # previous epoch's last update broke the parameters (finite
                        # but overflowing): that epoch is not clean either.
                        broken_start = not np.isfinite(first_loss) and previous is not None
                        self._diverged(previous if broken_start else snapshot)
                        break

                    self.n_iter_ += 1
                    self.t_ += n_samples
                    self.loss_ = epoch_loss
                    self.loss_curve_.append(epoch_loss)
                    completed = True  # an interrupt from here on keeps this epoch
                    if incremental:
                        reporter.epoch(self.n_iter_, epoch_loss, time.perf_counter() - start_time)
                        if self.best_loss_ is not None and epoch_loss < self.best_loss_:
                            self.best_loss_ = epoch_loss
                        break
                    try:
                        with np.errstate(all="ignore"):  # scoring huge, finite parameters
                            stop = self._update_no_improvement(early_stopping, X_val, y_val)
                    except ValueError:
                        # NaN validation predictions (R^2 refuses them): the
                        # parameters are finite but overflow in the forward pass
                        self._diverged(snapshot)
                        break
                    reporter.epoch(self.n_iter_, epoch_loss, time.perf_counter() - start_time,
                                   self.validation_scores_[-1] if early_stopping else None)
                    previous = snapshot
                except KeyboardInterrupt:
                    # Python raises it between bytecodes (a kernel finishes first):
                    # keep the last completed epoch, warn and return, as MLP does
                    if snapshot is not None and not completed:
                        self._restore_snapshot(snapshot)
                    self._warn_interrupted()
                    break
                if stop:
                    reporter.message(f"Training stopped: no improvement of more than "
                                     f"tol={self.tol} for {self.n_iter_no_change} "
                                     "consecutive epochs.")
                    break
            else:
                if not incremental and n_epochs == self.max_iter:
                    warnings.warn(
                        f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached "
                        "and the optimization hasn't converged yet.", ConvergenceWarning)
        except KeyboardInterrupt:
            # landed between epochs (the loop's own bookkeeping, outside the
            # per-epoch handler): the state is that of the last completed epoch
            self._warn_interrupted()

    def _take_snapshot(self):
        """Parameters, optimizer state and epoch records at an epoch's start."""
        return (self._params.copy(), _training.copy_optimizer_state(self._optimizer_state),
                self.n_iter_, self.t_, len(self.loss_curve_), getattr(self, "loss_", None))

    def _restore_snapshot(self, snapshot):
        """Put back everything :meth:`_take_snapshot` recorded."""
        self._params[:] = snapshot[0]
        state = self._optimizer_state
        state["m"][:] = snapshot[1]["m"]
        if snapshot[1]["v"] is not None:
            state["v"][:] = snapshot[1]["v"]
        state["step"] = snapshot[1]["step"]
        self.n_iter_, self.t_ = snapshot[2:4]
        del self.loss_curve_[snapshot[4]:]
        if snapshot[5] is not None:
            self.loss_ = snapshot[5]

    def _diverged(self, snapshot):
        """Stop a diverging fit: restore ``snapshot`` (a clean epoch's end) and warn."""
        epoch = self.n_iter_ + 1
        self._restore_snapshot(snapshot)
        restored = (f"the end of epoch {self.n_iter_}" if self.n_iter_
                    else "their values before training")
        warnings.warn(
            f"Training diverged in epoch {epoch}: the loss or the parameters became "
            f"non-finite. The parameters were restored to {restored} and training "
            f"stopped. Lower learning_rate_init, keep clip_grad_norm set (it is "
            f"{self.clip_grad_norm}), or scale the inputs and targets.",
            RuntimeWarning, stacklevel=5)

    def _warn_interrupted(self):
        warnings.warn(
            f"Training interrupted by the user (KeyboardInterrupt) during epoch "
            f"{self.n_iter_ + 1}; the parameters of the end of epoch {self.n_iter_} "
            "were kept.", UserWarning, stacklevel=5)

    def _update_no_improvement(self, early_stopping, X_val, y_val):
        if early_stopping:
            score = self._score_arrays(X_val[0], X_val[1], y_val)
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._params.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]
        return self._no_improvement_count > self.n_iter_no_change


class RNNRegressor(RegressorMixin, _BaseRNN):
    """Recurrent neural network regressor trained by backpropagation through time.

    A stack of recurrent layers (vanilla RNN, LSTM or GRU) reads each input
    sequence; a linear readout maps the top layer's hidden state to the
    outputs, either once per sequence from the final state
    (``return_sequences=False``) or at every time step. The loss is the
    squared error halved and averaged over every predicted element, plus
    ``0.5 * alpha * ||W||^2 / batch_size`` on the weights.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}, default="rnn"
        Recurrent cell of every layer. Equations and weight layout are
        PyTorch's (``torch.nn.RNN``, ``LSTM``, ``GRU``); see :mod:`crnn.ops`.
    hidden_layer_sizes : array-like of int, default=(64,)
        Hidden units of each stacked recurrent layer.
    activation : {"tanh", "relu", "sigmoid"}, default="tanh"
        Nonlinearity of the vanilla cell (LSTM and GRU use their own gates).
    return_sequences : bool, default=False
        False: one prediction per sequence, read from the final hidden state.
        True: one prediction per time step; ``y`` then has shape
        (n_samples, n_timesteps) or (n_samples, n_timesteps, n_outputs).
    solver : {"adam", "sgd"}, default="adam"
        Optimizer (scikit-learn's MLP update rules), applied per minibatch.
    alpha : float, default=0.0
        L2 penalty on weights (not biases).
    batch_size : int or "auto", default="auto"
        Minibatch size; "auto" is ``min(32, n_samples)``. 32 ranked best
        of 8, 16 and 32 over the 11 sets of ``benchmarks/quality_sweep.py``
        (mean ranks 2.09, 2.05, 1.86): smaller batches helped some small
        classification sets and hurt the forecasts.
    learning_rate_init : float, default=0.001
        Step size. Chosen on real data sets: over the 11 sets of
        ``benchmarks/quality_sweep.py`` (LSTM and GRU, 3 seeds) 0.001 ranked
        better than 0.003 (mean rank 1.41 against 1.59) and 0.01.
    max_iter : int, default=200
        Maximum number of epochs.
    shuffle : bool, default=True
        Shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the validation split; fitting is
        deterministic for a given value.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) below which an epoch
        counts as no improvement.
    verbose : bool or int, default=False
        ``True`` or 1: print one line per epoch with the training loss, the
        validation score (when ``early_stopping`` holds out a validation
        set) and the epoch's time; these are the values recorded in
        ``loss_curve_`` and ``validation_scores_``. 2 or more: a progress
        bar over the epochs with the same numbers, when tqdm is installed
        (``pip install crnn[progress]``); without tqdm, the lines.
    warm_start : bool, default=False
        Continue from the previous fit's parameters and optimizer state.
    momentum : float, default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with SGD.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (or use ``X_val``,
        ``y_val`` given to fit) and stop when its R^2 stops improving; the
        best parameters are restored.
    validation_fraction : float, default=0.1
        Fraction of the training data held out for early stopping.
    beta_1, beta_2, epsilon : float, defaults 0.9, 0.999, 1e-8
        Adam's parameters.
    n_iter_no_change : int, default=50
        Epochs without improvement of more than ``tol`` before stopping.
        The default is 50, not scikit-learn MLP's 10: on small real data
        sets an epoch is only a few minibatch steps, and recurrent nets
        often sit on a plateau of the training loss for tens of epochs
        before it falls. With 10, fits stopped on that plateau near chance
        (GunPoint, LSTM and GRU, 3 seeds: held-out accuracy 0.62 against
        0.89 with 50); over the 11 sets of ``benchmarks/quality_sweep.py``
        the mean ranks were 3.18 (10), 2.45 (30), 2.32 (50) and 2.05 (200,
        i.e. never stopping before ``max_iter``), the last two within seed
        noise of each other (benchmarks/NOTES.md, "Model quality on real
        data").
    clip_grad_norm : float or None, default=5.0
        Rescale the gradient to this global L2 norm when it is larger; None
        disables clipping. 5.0 ranked best of 1.0, 5.0 and None over the 11
        sets of ``benchmarks/quality_sweep.py`` (mean ranks 2.32, 1.50,
        2.18); without clipping GunPoint fell from 0.894 to 0.708.
    bidirectional : bool, default=False
        Every layer also reads each sequence backwards, over its own valid
        steps (as PyTorch does for packed sequences); its output is
        [forward, reverse], so the next layer (and the readout) is 2H wide.
        With ``return_sequences=False`` the readout reads the forward state
        at each sequence's last valid step and the reverse state at its
        first step (PyTorch's ``h_n``). The reverse weights are
        ``W_ih_reverse``, ``W_hh_reverse``, ``b_ih_reverse``,
        ``b_hh_reverse`` in ``coefs_``.
    dropout : float, default=0.0
        Probability of zeroing each output of every recurrent layer but the
        last during training (PyTorch's ``dropout``): an independent mask per
        sequence, step and unit, survivors scaled by 1 / (1 - dropout). The
        masks are drawn from ``random_state`` for a whole minibatch, so a fit
        does not depend on the number of threads. No effect with one layer
        or at predict time.
    truncate_bptt : int or None, default=None
        Truncated backpropagation through time: each sequence is cut into
        windows of this many steps from its first step (in the direction
        of the pass); the state is carried forward across windows, but no
        gradient crosses a window boundary (``k1 = k2 = k``, what
        ``detach()`` of the state every k steps does in PyTorch). It bounds
        the cost of exploding or vanishing products over long sequences;
        memory is unchanged. None backpropagates through whole sequences.
    layer_norm : bool, default=False
        Layer normalisation inside every cell (Ba, Kiros and Hinton 2016;
        SPEC 10): at each step the input projection ``W_ih x_t`` and the
        recurrent projection ``W_hh h_{t-1}`` are each normalised over the
        step's gate units, with their own gain and bias, before the biases
        ``b_ih``, ``b_hh`` and the gate nonlinearities; the LSTM also
        normalises ``c_t`` before its ``tanh`` (``h_t = o * tanh(LN(c_t))``,
        the carried ``c_t`` stays raw). Each layer dict of ``coefs_`` then
        holds ``ln_ih_weight``, ``ln_ih_bias``, ``ln_hh_weight``,
        ``ln_hh_bias`` (G*H,) and, for the LSTM, ``ln_c_weight``,
        ``ln_c_bias`` (H,), with ``_reverse`` twins when bidirectional;
        gains start at 1, biases at 0, and ``alpha`` does not penalise
        them. Predict then runs the compiled training forward pass (the
        inference kernels have no normalisation); ``forecast`` and ONNX
        export refuse such a model.
    forget_bias : float, default=0.0
        LSTM only: the forget-gate block of ``b_ih`` starts at this value
        (and that of ``b_hh`` at 0) instead of PyTorch's uniform init. 1.0 is
        Keras's ``unit_forget_bias``. It helps long sequences and hurts
        short ones: held-out scores, mean of 5 seeds, 0.0 -> 1.0: GunPoint
        (150 steps) 0.901 -> 0.955, PickupGesture (29-361 steps) 0.464 ->
        0.616, but ItalyPowerDemand (24 steps) 0.964 -> 0.951,
        JapaneseVowels (7-29) 0.966 -> 0.955, BasicMotions (100, 6
        features) 0.830 -> 0.795, the Airline forecast (12) R^2 0.621 ->
        0.394; digits as sequences (8 steps) 0.975 -> 0.966. Over the 11
        sets of ``benchmarks/quality_sweep.py`` 0.0 ranks better (mean rank
        1.41 against 1.59), so the default stays 0; set 1.0 for sequences
        of 150 steps or more (benchmarks/NOTES.md, "Model quality on real
        data").
    dtype : {"float32", "float64"}, default="float32"
        Precision of all computation and parameters.

    Attributes
    ----------
    coefs_ : list of dict
        One dict per recurrent layer with ``W_ih`` (G*H_k, I_k), ``W_hh``
        (G*H_k, H_k), ``b_ih`` and ``b_hh`` (G*H_k,), where G is 1, 4 or 3 for
        rnn, lstm, gru; then the readout dict with ``W_out`` (``n_outputs_``,
        H_last) and ``b_out`` (``n_outputs_``,). The arrays are the live
        parameters: writing into them changes predictions.
    n_features_in_ : int
        Features per time step.
    n_outputs_ : int
        Outputs of the readout.
    n_iter_ : int
        Epochs run.
    t_ : int
        Training samples seen.
    loss_ : float
        Loss of the last epoch.
    loss_curve_ : list of float
        Loss of every epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        R^2 on the validation set per epoch (early stopping only).
    best_validation_score_ : float or None
        Best validation R^2 (early stopping only).

    Examples
    --------
    >>> import numpy as np
    >>> from crnn import RNNRegressor
    >>> t = np.linspace(0, 20, 400)
    >>> X = np.stack([np.sin(t[i:i + 10]) for i in range(300)])
    >>> y = np.sin(t[10:310])
    >>> model = RNNRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
    >>> model.predict(X[:2]).shape
    (2,)
    """

    _loss_name = "squared"
    _min_validation = 2  # R^2 of one sample is undefined (NaN and a warning)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def partial_fit(self, X, y):
        """Run one epoch over ``(X, y)``, keeping the optimizer state.

        The training caches (their size is what ``fit`` checks against
        available memory) are kept between calls, so an epoch per call does
        not allocate them again; ``fit`` and pickling release them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features])
        y : array-like
            Targets, as for :meth:`fit`.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_"):
            self._validate_params()
        return self._partial_fit(X, y)

    def forecast(self, X, steps):
        """Forecast ``steps`` values after each context sequence, feeding every
        prediction back as the next input.

        For a next-step model: one whose outputs have as many values as its
        inputs have features (fitted on windows ``X[:, :T]`` with targets
        ``X[:, T]``, or with ``return_sequences=True`` on targets that are
        the inputs shifted one step ahead -- both are read the same way: the
        readout of the state after a step predicts the next step). Each
        context is read over its own valid steps; then the prediction is
        fed back as the next input ``steps - 1`` times, carrying every
        layer's hidden (and cell) state, in one compiled loop over the whole
        batch: O(T + steps) per sequence.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps), or list of array-like
            Contexts, in any form :meth:`fit` takes (ragged allowed).
        steps : int
            Number of future steps to predict, >= 1.

        Returns
        -------
        forecast : ndarray of shape (n_samples, steps, n_features), or (n_samples, steps) for univariate input given as a 2-D array or a list of 1-D arrays
            ``forecast[:, 0]`` predicts the step after each context's last one.
        """
        check_is_fitted(self, "coefs_")
        if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"steps must be an int >= 1, got {steps!r}.")
        if self.n_outputs_ != self.n_features_in_:
            raise ValueError(
                f"forecast needs a next-step model, whose outputs feed back as inputs: "
                f"this one has {self.n_outputs_} outputs for {self.n_features_in_} input "
                "features. Fit it on targets that are the next step of the inputs.")
        if self._model_config.get("layer_norm", False):
            raise ValueError("forecast does not support layer_norm=True: its feedback "
                             "loop runs the inference kernels, which have no layer "
                             "normalisation.")
        if self._model_config["bidirectional"]:
            raise ValueError("forecast needs a one-directional model: a bidirectional "
                             "layer reads each sequence backwards from its end, which "
                             "does not exist yet while forecasting.")
        univariate = (isinstance(X, (list, tuple)) and len(X) > 0
                      and all(np.ndim(x) == 1 for x in X)) or \
            (not isinstance(X, (list, tuple)) and np.ndim(X) == 2)
        X, lengths = check_sequences(X, self._fitted_dtype())
        check_n_features(self, X, reset=False)
        out = _training.forecast(self._network, self.coefs_, np.ascontiguousarray(X),
                                 lengths, int(steps)).astype(np.float64)
        return out[..., 0] if univariate and out.shape[-1] == 1 else out

    def _prepare_targets(self, X, lengths, y, reinit, classes):
        check_target_length(X, y)
        if self.return_sequences:
            y = self._step_targets(y, lengths, X.shape[1])
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"y must be numeric; got dtype {y.dtype}.") from exc
        checked = valid_steps(y, lengths) if self.return_sequences else y
        if not np.all(np.isfinite(checked)):
            raise ValueError("Input y contains NaN or infinity.")
        dtype = self._dtype()
        if self.return_sequences:
            if lengths is not None:
                y = np.where(np.isfinite(y), y, 0)   # padding of a NaN-padded y
            if y.ndim > 3:
                raise ValueError(f"y must be 2-D or 3-D with return_sequences=True, "
                                 f"got shape {y.shape}.")
            self._y_ndim = y.ndim
            y = y.reshape(y.shape[0], y.shape[1], -1)
        else:
            if y.ndim > 2:
                raise ValueError(f"y must be 1-D or 2-D with return_sequences=False, "
                                 f"got shape {y.shape}.")
            self._y_ndim = y.ndim
            y = y.reshape(y.shape[0], -1)
        if not reinit and y.shape[-1] != self.n_outputs_:
            raise ValueError(f"y has {y.shape[-1]} outputs, but the model was fitted "
                             f"with {self.n_outputs_}.")
        return np.ascontiguousarray(y, dtype=dtype)

    def _n_outputs_for_fit(self, targets):
        return targets.shape[-1]

    def _decode_targets(self, targets):
        return targets

    def _format_prediction(self, out):
        # float64 like every scikit-learn regressor, whatever the compute dtype
        out = out.astype(np.float64)
        if self._y_ndim == (2 if self.return_sequences else 1):
            return out[..., 0]
        return out

    def _score_arrays(self, X, lengths, y):
        pred, _ = self._forward_output(X, lengths, checked=True)
        pred = pred.astype(np.float64)
        n_outputs = pred.shape[-1]
        if self.return_sequences:
            y = self._step_targets(y, lengths, X.shape[1])
            y, pred = valid_steps(np.asarray(y, np.float64), lengths), valid_steps(pred, lengths)
        y = np.asarray(y, dtype=np.float64)
        return r2_score(y.reshape(-1, n_outputs), pred.reshape(-1, n_outputs))

    def score(self, X, y, sample_weight=None):
        """R^2 of the predictions; with return_sequences over every step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features])
        y : array-like
            True targets in the layout of :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Only supported with ``return_sequences=False``.

        Returns
        -------
        score : float
        """
        if not self.return_sequences:
            return super().score(X, y, sample_weight=sample_weight)
        return self._score_steps(X, y, sample_weight)


class RNNClassifier(ClassifierMixin, _BaseRNN):
    """Recurrent neural network classifier trained by backpropagation through time.

    Like :class:`RNNRegressor`, with a softmax readout and the cross-entropy
    loss averaged over every predicted sequence (or step). A binary problem
    uses two softmax outputs, so ``W_out`` has two rows.

    Parameters
    ----------
    cell, hidden_layer_sizes, activation, return_sequences, solver, alpha, \
batch_size, learning_rate_init, max_iter, shuffle, random_state, tol, \
verbose, warm_start, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, \
clip_grad_norm, bidirectional, dropout, truncate_bptt, layer_norm, forget_bias, \
dtype
        As for :class:`RNNRegressor`. With ``return_sequences=True`` every
        time step is labelled: ``y`` has shape (n_samples, n_timesteps).
        Early stopping scores accuracy.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coefs_ : list of dict
        As for :class:`RNNRegressor`; ``W_out`` has ``n_classes`` rows.
    n_features_in_, n_outputs_, n_iter_, t_, loss_, loss_curve_, best_loss_, \
validation_scores_, best_validation_score_
        As for :class:`RNNRegressor`; ``n_outputs_`` is the number of classes.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from crnn import RNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 8, 8) / 16.0
    >>> clf = RNNClassifier(cell="gru", max_iter=5, random_state=0).fit(X[:500], y[:500])
    >>> clf.predict(X[:3]).shape
    (3,)
    """

    _loss_name = "log"
    _min_validation = 1

    def partial_fit(self, X, y, classes=None):
        """Run one epoch over ``(X, y)``, keeping the optimizer state.

        The training caches (their size is what ``fit`` checks against
        available memory) are kept between calls, so an epoch per call does
        not allocate them again; ``fit`` and pickling release them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features])
        y : array-like
            Labels, as for :meth:`fit`.
        classes : array-like of shape (n_classes,), default=None
            Every class that will ever appear; required on the first call.

        Returns
        -------
        self : object
        """
        if not hasattr(self, "coefs_"):
            self._validate_params()
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        return self._partial_fit(X, y, classes)

    def _prepare_targets(self, X, lengths, y, reinit, classes):
        if self.return_sequences:
            check_target_length(X, y)
            y = self._step_targets(y, lengths, X.shape[1])
            if y.ndim != 2:
                raise ValueError("With return_sequences=True the classifier needs y of "
                                 f"shape (n_samples, n_timesteps); got {y.shape}.")
            flat = valid_steps(y, lengths)
        else:
            y = column_or_1d(y, warn=True)
            check_target_length(X, y)
            flat = y
        check_label_values(flat)
        check_classification_targets(flat)
        if reinit:
            if classes is not None:
                self.classes_ = unique_labels(np.asarray(classes))
            else:
                self.classes_ = unique_labels(flat)
        elif classes is not None and not np.array_equal(unique_labels(np.asarray(classes)),
                                                        self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes seen before "
                             f"({self.classes_!r}).")
        unseen = np.setdiff1d(unique_labels(flat), self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_: {unseen!r}.")
        encoder = LabelEncoder().fit(self.classes_)
        codes = encoder.transform(flat).astype(np.intp)
        if self.return_sequences and lengths is not None:
            # padded steps get class 0: they are never gathered into a minibatch
            padded = np.zeros(y.shape, dtype=np.intp)
            padded[np.arange(y.shape[1])[np.newaxis, :] < lengths[:, np.newaxis]] = codes
            return padded
        return codes.reshape(y.shape)

    def _n_outputs_for_fit(self, targets):
        return len(self.classes_)

    def _decode_targets(self, targets):
        return self.classes_[targets]

    def _format_prediction(self, out):
        return self.classes_[np.argmax(out, axis=-1)]

    def _score_arrays(self, X, lengths, y):
        pred = self._format_prediction(self._forward_output(X, lengths, checked=True)[0])
        if self.return_sequences:
            y = valid_steps(self._step_targets(y, lengths, X.shape[1]), lengths)
            pred = valid_steps(pred, lengths)
        return accuracy_score(np.asarray(y).ravel(), pred.ravel())



    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features])

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or (n_samples, n_timesteps, n_classes)
            Softmax of the readout, columns ordered as ``classes_``.
        """
        check_is_fitted(self, "coefs_")
        logits, lengths = self._forward_output(X)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=-1, keepdims=True)
        return self._per_sequence(proba, lengths)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features])

        Returns
        -------
        log_proba : ndarray, same shape as :meth:`predict_proba`
        """
        check_is_fitted(self, "coefs_")
        logits, lengths = self._forward_output(X)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        return self._per_sequence(
            logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True)), lengths)

    def score(self, X, y, sample_weight=None):
        """Accuracy; with return_sequences over every labelled step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features])
        y : array-like
            True labels in the layout of :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Only supported with ``return_sequences=False``.

        Returns
        -------
        score : float
        """
        if not self.return_sequences:
            return super().score(X, y, sample_weight=sample_weight)
        return self._score_steps(X, y, sample_weight)
