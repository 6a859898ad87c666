"""scikit-learn estimators: RNNRegressor and RNNClassifier.

The estimators validate input, choose the dtype, own the fitted state and run
the epoch loop (shuffling, minibatches, early stopping, divergence recovery).
Per-minibatch work is one call into the network glue (``_network``) and one
fused optimizer step (``_optim``); timestep loops only exist in the kernels.
"""
import numbers
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
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

from crnn import _memory, _optim, _threads
from crnn._layers import Workspace
from crnn._network import RecurrentNetwork
from crnn._validation import (check_label_values, check_n_features, check_sequences,
                              check_target_length, check_target_steps,
                              check_targets_present, resolve_batch_size)

_DTYPES = {"float32": np.float32, "float64": np.float64}
# Sequences per chunk at predict time; each thread takes whole chunks. The
# inference kernels keep one step's state, so the chunk bounds the time-major
# copy of X and the lower layers' state sequences. Medians of 5 predicts
# (chunk 128 / 256 / 512 / 1024): W3 lstm 1.68 / 1.56 / 1.53 / 1.45 s,
# W2 gru 0.171 / 0.172 / 0.160 / 0.154 s, W4 gru 0.666 / 0.637 / 0.639 /
# 0.760 s, W1 within noise.
_PREDICT_CHUNK = 512


def _ignore_fp_warnings():
    """Thread initializer: this thread's NumPy ignores floating-point errors."""
    np.seterr(all="ignore")


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
        "cell": [StrOptions({"rnn", "lstm", "gru"})],
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"tanh", "relu", "sigmoid"})],
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
        "forget_bias": [Real],
        "dtype": [StrOptions(set(_DTYPES))],
    }

    def __init__(self, cell="rnn", hidden_layer_sizes=(64,), activation="tanh", *,
                 return_sequences=False, solver="adam", alpha=0.0, batch_size="auto",
                 learning_rate_init=0.001, max_iter=200, shuffle=True, random_state=None,
                 tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10,
                 clip_grad_norm=5.0, forget_bias=0.0, dtype="float32"):
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
        self.forget_bias = forget_bias
        self.dtype = dtype

    # ------------------------------------------------------------------ state
    def __getstate__(self):
        state = super().__getstate__()
        if state.get("coefs_") is not None:
            # coefs_ are views into _params: rebuilt on unpickling so that they
            # stay live instead of becoming detached copies.
            state = dict(state, coefs_=None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "_params", None) is not None:
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
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps)
            Training sequences; a 2-D X holds univariate sequences.
        y : array-like
            ``return_sequences=False``: (n_samples,) or (n_samples, n_outputs);
            ``return_sequences=True``: (n_samples, n_timesteps) or
            (n_samples, n_timesteps, n_outputs).
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
        X : array-like of shape (n_samples, n_timesteps, n_features) or (n_samples, n_timesteps)
            Sequences; their length may differ from the training sequences.

        Returns
        -------
        y : ndarray
            Same layout as the ``y`` given to fit: one prediction per sequence,
            or per time step with ``return_sequences=True``.
        """
        check_is_fitted(self, "coefs_")
        out = self._forward_output(X)
        return self._format_prediction(out)

    # --------------------------------------------------------------- internal
    def _score_steps(self, X, y, sample_weight):
        """score() with return_sequences=True: the metric over every step."""
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with return_sequences=True.")
        check_is_fitted(self, "coefs_")
        return self._score_arrays(X, y)

    def _dtype(self):
        return np.dtype(_DTYPES[self.dtype])

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if len(sizes) == 0 or any(not isinstance(h, numbers.Integral) or h < 1 for h in sizes):
            raise ValueError("hidden_layer_sizes must hold at least one positive int, "
                             f"got {self.hidden_layer_sizes!r}.")
        return tuple(int(h) for h in sizes)

    def _forward_output(self, X):
        """Readout values for X: (n, O) or (n, T, O), in the fitted dtype."""
        X = check_sequences(X, self._network.dtype)
        check_n_features(self, X, reset=False)
        # the inference kernels read batch-first rows in place (no copy if X
        # is already C-ordered)
        X = np.ascontiguousarray(X)
        n_samples, n_steps, _ = X.shape
        n_parts = _threads.n_parts(n_samples)
        bounds = [(start, min(start + _PREDICT_CHUNK, n_samples))
                  for start in range(0, n_samples, _PREDICT_CHUNK)]
        if len(bounds) < n_parts:  # at least one chunk per thread
            edges = _threads.split(n_samples, n_parts)
            bounds = list(zip(edges[:-1], edges[1:]))
        outputs = [None] * len(bounds)
        errstate = np.geterr()  # worker threads follow the caller's np.errstate

        def run(first):
            # chunks first, first + n_parts, ... share one workspace, in turn
            ws = Workspace(self._network.dtype)
            with np.errstate(**errstate):
                for c in range(first, len(bounds), n_parts):
                    lo, hi = bounds[c]
                    out = self._network.predict_raw(self.coefs_, X[lo:hi], ws,
                                                    self.return_sequences)
                    if self.return_sequences:
                        out = out.reshape(hi - lo, n_steps, -1)
                    outputs[c] = out

        if n_parts == 1:
            run(0)
        else:
            with ThreadPoolExecutor(n_parts - 1) as executor, _threads.single_threaded_blas():
                futures = [executor.submit(run, p) for p in range(1, n_parts)]
                run(0)
                for f in futures:
                    f.result()
        return np.concatenate(outputs, axis=0) if len(outputs) > 1 else outputs[0]

    def _initialize(self, n_features, n_outputs, rng):
        self._network = RecurrentNetwork(self.cell, n_features, self._hidden_sizes(),
                                         n_outputs, self.activation, self._dtype())
        self._params = self._network.init_params(rng, forget_bias=self.forget_bias)
        self.coefs_ = self._network.views(self._params)
        self._grads = np.zeros_like(self._params)
        self._moment1 = np.zeros_like(self._params)
        self._moment2 = np.zeros_like(self._params) if self.solver == "adam" else None
        self._optimizer_steps = 0
        self.n_outputs_ = n_outputs
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _needs_reinit(self, incremental):
        if not hasattr(self, "coefs_"):
            return True
        if incremental or self.warm_start:
            # a changed architecture or dtype cannot continue from the old weights
            net = self._network
            return (net.cell != self.cell or net.hidden_sizes != self._hidden_sizes()
                    or net.dtype != self._dtype())
        return True

    def _fit(self, X, y, incremental, classes=None, X_val=None, y_val=None):
        check_targets_present(self, y)
        dtype = self._dtype()
        X = check_sequences(X, dtype)
        reinit = self._needs_reinit(incremental)
        targets = self._prepare_targets(X, y, reinit, classes)
        check_n_features(self, X, reset=reinit)
        rng = check_random_state(self.random_state)
        # fail fast, before the parameters, copies and caches are allocated
        batch_size = resolve_batch_size(self.batch_size, X.shape[0])
        _memory.check_training_memory(_memory.training_bytes(
            self.cell, X.shape[0], X.shape[1], X.shape[2], self._hidden_sizes(),
            self._n_outputs_for_fit(targets), batch_size, dtype.itemsize,
            self.return_sequences, _threads.n_parts(batch_size)), batch_size)
        if reinit:
            self._initialize(X.shape[2], self._n_outputs_for_fit(targets), rng)
        elif self.solver == "adam" and self._moment2 is None:
            self._moment2 = np.zeros_like(self._params)

        early_stopping = (self.early_stopping or X_val is not None) and not incremental
        if early_stopping:
            if self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            if X_val is not None:
                if y_val is None:
                    raise ValueError("X_val was given without y_val.")
                X_val = check_sequences(X_val, dtype, name="X_val")
                check_n_features(self, X_val, reset=False)
                y_val = np.asarray(y_val)
                check_target_length(X_val, y_val)
                if X_val.shape[0] < self._min_validation:
                    raise ValueError(f"X_val holds {X_val.shape[0]} sample; early stopping "
                                     f"needs at least {self._min_validation}.")
            else:
                X, targets, X_val, y_val = self._validation_split(X, targets, rng)
        elif self.best_loss_ is None:
            self.best_loss_ = np.inf

        self._run_epochs(X, targets, rng, 1 if incremental else self.max_iter,
                         early_stopping, X_val, y_val, incremental)
        return self

    def _validation_split(self, X, targets, rng):
        stratify = None
        if isinstance(self, ClassifierMixin) and not self.return_sequences:
            stratify = targets
        n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
        if n_val < self._min_validation or X.shape[0] - n_val < 1:
            raise ValueError("The training data is too small to hold out "
                             f"validation_fraction={self.validation_fraction} for early "
                             f"stopping (at least {self._min_validation} validation "
                             "samples); pass more samples or set early_stopping=False.")
        X_train, X_val, t_train, t_val = train_test_split(
            X, targets, random_state=rng.randint(np.iinfo(np.int32).max),
            test_size=n_val, stratify=stratify)
        return X_train, t_train, X_val, self._decode_targets(t_val)

    def _run_epochs(self, X, targets, rng, n_epochs, early_stopping, X_val, y_val,
                    incremental):
        net = self._network
        n_samples = X.shape[0]
        batch_size = resolve_batch_size(self.batch_size, n_samples)
        # One time-major copy per fit; minibatches are gathered from it with take.
        X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
        if self.return_sequences:
            targets_tm = np.ascontiguousarray(np.swapaxes(targets, 0, 1))
        else:
            targets_tm = targets
        weights = self._params[:net.n_decay]
        # Data parallelism over the rows of each minibatch (see _threads).
        max_parts = _threads.n_parts(batch_size)
        part_grads = [self._grads] + [np.empty_like(self._grads) for _ in range(max_parts - 1)]
        part_views = [net.views(g) for g in part_grads]
        part_ws = [Workspace(net.dtype) for _ in range(max_parts)]
        # np.errstate does not reach other threads: the workers ignore
        # floating-point warnings like the epoch loop (divergence is checked there)
        executor = (ThreadPoolExecutor(max_parts - 1, initializer=_ignore_fp_warnings)
                    if max_parts > 1 else None)
        blas_context = _threads.single_threaded_blas() if max_parts > 1 else nullcontext()
        try:
            with blas_context:
                self._epoch_loop(X_tm, targets_tm, rng, n_epochs, batch_size, early_stopping,
                                 X_val, y_val, incremental, weights, part_grads, part_views,
                                 part_ws, executor)
        finally:
            if executor is not None:
                executor.shutdown()
        if early_stopping and getattr(self, "_best_params", None) is not None:
            self._params[:] = self._best_params
            self._best_params = None

    def _epoch_loop(self, X_tm, targets_tm, rng, n_epochs, batch_size, early_stopping,
                    X_val, y_val, incremental, weights, part_grads, part_views, part_ws,
                    executor):
        net = self._network
        n_samples = X_tm.shape[1]
        loss_name = self._loss_name
        clip = 0.0 if self.clip_grad_norm is None else float(self.clip_grad_norm)
        order = np.arange(n_samples)

        previous = None  # the start of the last completed epoch
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
                    total = 0.0
                    first_loss = None
                    for start in range(0, n_samples, batch_size):
                        idx = order[start:start + batch_size]
                        B = idx.shape[0]
                        n_parts = min(len(part_ws), max(1, B // _threads.MIN_ROWS_PER_PART))
                        edges = _threads.split(B, n_parts)
                        parts = []
                        for p in range(n_parts):
                            rows = idx[edges[p]:edges[p + 1]]
                            X_part = np.take(X_tm, rows, axis=1)
                            if self.return_sequences:
                                t_part = np.take(targets_tm, rows, axis=1)
                                t_part = t_part.reshape((-1,) + t_part.shape[2:])
                            else:
                                t_part = np.take(targets_tm, rows, axis=0)
                            parts.append((X_part, t_part, part_ws[p], part_grads[p],
                                          part_views[p]))
                        if n_parts == 1:
                            loss = net.loss_grad(self.coefs_, part_views[0], X_part, t_part,
                                                 part_ws[0], self.return_sequences, loss_name)
                        else:
                            loss = net.loss_grad_parts(self.coefs_, self._grads, parts,
                                                       self.return_sequences, loss_name,
                                                       executor)
                        l2 = self.alpha / B
                        if self.alpha > 0:
                            loss += 0.5 * l2 * float(np.dot(weights, weights))
                        self._optimizer_steps += 1
                        if self.solver == "adam":
                            _optim.adam_step(self._params, self._grads, self._moment1,
                                             self._moment2, net.n_decay, l2, clip,
                                             self.learning_rate_init, self.beta_1,
                                             self.beta_2, self.epsilon,
                                             self._optimizer_steps)
                        else:
                            _optim.sgd_step(self._params, self._grads, self._moment1,
                                            net.n_decay, l2, clip, self.learning_rate_init,
                                            self.momentum, self.nesterovs_momentum)
                        total += loss * B
                        if first_loss is None:
                            first_loss = loss
                        if not np.isfinite(total):
                            break  # the epoch is lost; skip its remaining minibatches
                    epoch_loss = total / n_samples
                    # Clean only if the loss and the state it leaves are finite:
                    # a finite loss is computed before the epoch's last update.
                    clean = (np.isfinite(epoch_loss) and _all_finite(self._params)
                             and _all_finite(self._moment1)
                             and (self._moment2 is None or _all_finite(self._moment2)))
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
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {epoch_loss:.8f}, "
                          f"time = {time.perf_counter() - start_time:.3f}s")
                if incremental:
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
                previous = snapshot
            except KeyboardInterrupt:
                # Python raises it between bytecodes (a kernel finishes first):
                # keep the last completed epoch, warn and return, as MLP does
                if snapshot is not None and not completed:
                    self._restore_snapshot(snapshot)
                self._warn_interrupted()
                break
            if stop:
                if self.verbose:
                    print(f"Training stopped: no improvement of more than tol={self.tol} "
                          f"for {self.n_iter_no_change} consecutive epochs.")
                break
        else:
            if not incremental and n_epochs == self.max_iter:
                warnings.warn(
                    f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached "
                    "and the optimization hasn't converged yet.", ConvergenceWarning)

    def _take_snapshot(self):
        """Parameters, optimizer state and epoch records at an epoch's start."""
        return (self._params.copy(), self._moment1.copy(),
                None if self._moment2 is None else self._moment2.copy(),
                self._optimizer_steps, self.n_iter_, self.t_, len(self.loss_curve_),
                getattr(self, "loss_", None))

    def _restore_snapshot(self, snapshot):
        """Put back everything :meth:`_take_snapshot` recorded."""
        self._params[:], self._moment1[:] = snapshot[0], snapshot[1]
        if snapshot[2] is not None:
            self._moment2[:] = snapshot[2]
        self._optimizer_steps, self.n_iter_, self.t_ = snapshot[3:6]
        del self.loss_curve_[snapshot[6]:]
        if snapshot[7] is not None:
            self.loss_ = snapshot[7]

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
            RuntimeWarning, stacklevel=4)

    def _warn_interrupted(self):
        warnings.warn(
            f"Training interrupted by the user (KeyboardInterrupt) during epoch "
            f"{self.n_iter_ + 1}; the parameters of the end of epoch {self.n_iter_} "
            "were kept.", UserWarning, stacklevel=4)

    def _update_no_improvement(self, early_stopping, X_val, y_val):
        if early_stopping:
            score = self._score_arrays(X_val, y_val)
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
        Minibatch size; "auto" is ``min(32, n_samples)``.
    learning_rate_init : float, default=0.001
        Step size.
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
    verbose : bool, default=False
        Print the loss and time of every epoch.
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
    n_iter_no_change : int, default=10
        Epochs without improvement of more than ``tol`` before stopping.
    clip_grad_norm : float or None, default=5.0
        Rescale the gradient to this global L2 norm when it is larger; None
        disables clipping.
    forget_bias : float, default=0.0
        LSTM only: the forget-gate block of ``b_ih`` starts at this value
        (and that of ``b_hh`` at 0) instead of PyTorch's uniform init. 1.0 is
        Keras's ``unit_forget_bias``, which helps long sequences; on digits
        as sequences (8 steps) it lowered held-out accuracy from 0.975 to
        0.966 (mean of 5 seeds, ``benchmarks/forget_bias.py``), so the
        default keeps a plain 0.
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

    def _prepare_targets(self, X, y, reinit, classes):
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"y must be numeric; got dtype {y.dtype}.") from exc
        check_target_length(X, y)
        if not np.all(np.isfinite(y)):
            raise ValueError("Input y contains NaN or infinity.")
        dtype = self._dtype()
        if self.return_sequences:
            check_target_steps(X, y)
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

    def _score_arrays(self, X, y):
        y = np.asarray(y, dtype=np.float64)
        pred = self._forward_output(X).astype(np.float64)
        n_outputs = pred.shape[-1]
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
clip_grad_norm, forget_bias, dtype
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

    def _prepare_targets(self, X, y, reinit, classes):
        if self.return_sequences:
            y = np.asarray(y)
            check_target_length(X, y)
            check_target_steps(X, y)
            if y.ndim != 2:
                raise ValueError("With return_sequences=True the classifier needs y of "
                                 f"shape (n_samples, n_timesteps); got {y.shape}.")
            flat = y.ravel()
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
        return codes.reshape(y.shape)

    def _n_outputs_for_fit(self, targets):
        return len(self.classes_)

    def _decode_targets(self, targets):
        return self.classes_[targets]

    def _format_prediction(self, out):
        return self.classes_[np.argmax(out, axis=-1)]

    def _score_arrays(self, X, y):
        pred = self._format_prediction(self._forward_output(X))
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
        logits = self._forward_output(X).astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        proba = np.exp(logits)
        proba /= proba.sum(axis=-1, keepdims=True)
        return proba

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
        logits = self._forward_output(X).astype(np.float64)
        logits -= logits.max(axis=-1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))

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
