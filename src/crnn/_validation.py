"""Input validation for the estimators: everything is checked here, in
Python, before any compiled code runs (SPEC 6)."""
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array


def check_sequences(X, dtype, name="X"):
    """Validate sequence input and return it padded, with its lengths.

    Parameters
    ----------
    X : array-like or list of array-like
        (n_samples, n_steps, n_features) or (n_samples, n_steps) (then
        n_features = 1); or a list of (T_i, n_features) or (T_i,) arrays
        of different lengths; or a 3-D (or 2-D) array whose shorter
        sequences end in all-NaN steps (tslearn's convention). NaN
        anywhere else is an error.
    dtype : numpy dtype
        float32 or float64; X is converted to it.

    Returns
    -------
    X : ndarray of shape (n_samples, n_steps, n_features)
        Zero past each sequence's length.
    lengths : ndarray of int of shape (n_samples,) or None
        Valid steps per sequence; None when every sequence has n_steps.
    """
    if sp.issparse(X):
        raise TypeError(f"Sparse {name} is not supported: crnn needs dense sequences "
                        f"of shape (n_samples, n_timesteps[, n_features]).")
    if isinstance(X, (list, tuple)) and len(X) > 0 and _is_ragged(X):
        return _pad_ragged(X, dtype, name)
    # (exactly an ndarray: check_array refuses np.matrix and turns masked
    # arrays and other subclasses into plain arrays)
    if not (type(X) is np.ndarray and X.dtype == dtype and X.ndim in (2, 3)
            and X.size > 0):
        # Overflow casting to float32 and +inf - inf in the finiteness checks
        # only lead to the "contains infinity" error: no NumPy warning first.
        with np.errstate(over="ignore", invalid="ignore"):
            X = check_array(X, dtype=dtype, allow_nd=True, ensure_all_finite=False,
                            input_name=name, ensure_min_features=1)
    # else: already a non-empty array of the estimator's dtype, which
    # check_array would return as it is after 0.14 ms of checks (mostly its
    # dataframe detection), 3% of a W1 rnn predict
    if X.ndim == 2:
        X = X[:, :, np.newaxis]
    elif X.ndim != 3:
        raise ValueError(f"{name} must be 2-D (n_samples, n_timesteps) or 3-D "
                         f"(n_samples, n_timesteps, n_features); got {X.ndim}-D with "
                         f"shape {X.shape}.")
    if X.shape[1] == 0:
        raise ValueError(f"{name} holds zero-length sequences (n_timesteps = 0, shape "
                         f"{X.shape}); every sequence needs at least one step.")
    if X.shape[2] == 0:
        raise ValueError(f"{name} has 0 features per time step (shape {X.shape}); "
                         "at least 1 is required.")
    lengths = None
    finite = np.isfinite(X)
    if not finite.all():
        if np.isinf(X).any():
            raise ValueError(f"Input {name} contains infinity or a value too large for "
                             f"{X.dtype}.")
        lengths = _nan_padding_lengths(X, finite, name)
        X = np.where(np.arange(X.shape[1])[:, np.newaxis] < lengths[:, np.newaxis, np.newaxis],
                     X, 0).astype(X.dtype, copy=False)
    return X, lengths


def _nan_padding_lengths(X, finite, name):
    """Lengths of sequences that end in all-NaN steps; any other NaN is an error."""
    n_steps = X.shape[1]
    all_nan = ~finite.any(axis=2)                            # (N, T) whole step is NaN
    # a step is padding when it and every later step are all-NaN
    padding = np.flip(np.logical_and.accumulate(np.flip(all_nan, axis=1), axis=1), axis=1)
    lengths = n_steps - padding.sum(axis=1)
    inside = ~finite & ~padding[:, :, np.newaxis]
    if inside.any():
        sample, step, _ = np.argwhere(inside)[0]
        raise ValueError(f"Input {name} contains NaN inside a sequence (sample {sample}, "
                         f"step {step}); only whole trailing steps of NaN are read as "
                         "padding (tslearn's convention).")
    if lengths.min() == 0:
        raise ValueError(f"Input {name} holds a sequence with zero valid steps (sample "
                         f"{int(np.argmin(lengths))} is all NaN); every sequence needs "
                         "at least one step.")
    return None if lengths.min() == n_steps else lengths.astype(np.intp)


def _pad_ragged(X, dtype, name):
    """A list of (T_i, F) or (T_i,) sequences as a zero-padded array plus lengths."""
    seqs = []
    for i, x in enumerate(X):
        if sp.issparse(x):
            raise TypeError(f"{name}[{i}] is sparse: crnn needs dense sequences.")
        try:
            a = np.asarray(x)
            if a.dtype.kind not in "biuf":
                a = a.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}[{i}] is not numeric (dtype "
                             f"{np.asarray(x, dtype=object).dtype}): {exc}") from exc
        if a.ndim == 1:
            a = a[:, np.newaxis]
        elif a.ndim != 2:
            raise ValueError(f"{name}[{i}] must be 1-D (T_i,) or 2-D (T_i, n_features); "
                             f"got shape {a.shape}.")
        if a.shape[0] == 0:
            raise ValueError(f"{name}[{i}] is a zero-length sequence; every sequence needs "
                             "at least one step.")
        if a.shape[1] == 0:
            raise ValueError(f"{name}[{i}] has 0 features per time step; at least 1 is "
                             "required.")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"Input {name}[{i}] contains NaN or infinity.")
        seqs.append(a)
    n_features = {a.shape[1] for a in seqs}
    if len(n_features) > 1:
        raise ValueError(f"The sequences of {name} have different numbers of features per "
                         f"time step: {sorted(n_features)}; all must have the same.")
    lengths = np.array([a.shape[0] for a in seqs], dtype=np.intp)
    out = np.zeros((len(seqs), lengths.max(), n_features.pop()), dtype=dtype)
    for i, a in enumerate(seqs):
        out[i, :a.shape[0]] = a
    return out, (None if lengths.min() == lengths.max() else lengths)


def check_sequence_targets(y, lengths, n_steps, name="y"):
    """Per-step targets for return_sequences=True as one padded array.

    ``y`` is a list of (T_i,) or (T_i, n_outputs) arrays matching the
    sequences' lengths, or an array (n_samples, n_steps[, n_outputs]) whose
    values past each sequence's length are ignored.

    Returns
    -------
    y : ndarray of shape (n_samples, n_steps) or (n_samples, n_steps, n_outputs)
    """
    if isinstance(y, (list, tuple)) and len(y) > 0 and \
            (lengths is not None or _is_ragged(y)):
        items = [np.asarray(t) for t in y]
        got = np.array([t.shape[0] if t.ndim else -1 for t in items])
        expected = lengths if lengths is not None else np.full(len(items), n_steps)
        if got.shape != expected.shape or np.any(got != expected):
            bad = int(np.argmax(got != expected)) if got.shape == expected.shape else None
            detail = (f"{name}[{bad}] has {got[bad]} steps, its sequence {expected[bad]}"
                      if bad is not None else f"{len(items)} targets for {len(expected)} "
                      "sequences")
            raise ValueError("With return_sequences=True each target sequence needs one "
                             f"target per time step of its sequence: {detail}.")
        trailing = {t.shape[1:] for t in items}
        if len(trailing) > 1:
            raise ValueError(f"The target sequences of {name} have different shapes per "
                             f"step: {sorted(trailing)}.")
        trailing = trailing.pop()
        dtype = np.result_type(*[t.dtype for t in items])
        fill = 0 if dtype.kind in "biuf" else items[0].reshape(-1)[0]
        out = np.full((len(items), n_steps) + trailing, fill, dtype=dtype)
        for i, t in enumerate(items):
            out[i, :t.shape[0]] = t
        return out
    return np.asarray(y)


def _is_ragged(X):
    """True for a list of sequences of different lengths (or shapes)."""
    shapes = set()
    for x in X:
        try:
            shape = np.shape(x)
        except ValueError:  # a nested list that is itself ragged
            return True
        shapes.add(shape[0] if len(shape) else None)
        if len(shapes) > 1:
            return True
    return False


def valid_steps(y, lengths):
    """The entries of per-step ``y`` (n_samples, n_steps, ...) at valid steps, flattened
    over samples and steps."""
    if lengths is None:
        return y.reshape((-1,) + y.shape[2:])
    mask = np.arange(y.shape[1])[np.newaxis, :] < lengths[:, np.newaxis]
    return y[mask]


def check_n_features(estimator, X, reset):
    """Set or check ``n_features_in_`` (features per time step)."""
    n_features = X.shape[2]
    if reset:
        estimator.n_features_in_ = n_features
    elif n_features != estimator.n_features_in_:
        raise ValueError(
            f"X has {n_features} features per time step, but "
            f"{type(estimator).__name__} was fitted with {estimator.n_features_in_}.")


def check_targets_present(estimator, y):
    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, "
                         "but the target y is None.")


def check_target_length(X, y):
    # a list may hold target sequences of different lengths; anything else
    # is read as an array
    n_targets = len(y) if isinstance(y, (list, tuple)) else np.asarray(y).shape[0]
    if n_targets != X.shape[0]:
        raise ValueError(f"X and y have inconsistent numbers of samples: "
                         f"X has {X.shape[0]}, y has {n_targets}.")


def check_label_values(y):
    """Class labels stored as floats must be finite: NaN is no label.

    Checked before scikit-learn's ``type_of_target``, which casts NaN to int
    with a leaked RuntimeWarning before it raises.
    """
    y = np.asarray(y)
    if y.dtype.kind in "fc" and not np.all(np.isfinite(y)):
        raise ValueError("Input y contains NaN or infinity; class labels must be finite.")


def check_target_steps(X, y):
    """With return_sequences=True, y must have one target per time step."""
    if y.ndim < 2 or y.shape[1] != X.shape[1]:
        raise ValueError(
            f"With return_sequences=True y needs one target per time step, shape "
            f"(n_samples, n_timesteps[, n_outputs]) = ({X.shape[0]}, {X.shape[1]}, ...); "
            f"got shape {y.shape}.")


def resolve_batch_size(batch_size, n_samples):
    """MLP's rule: "auto" is min(32, n_samples); a larger value is clipped."""
    if batch_size == "auto":
        return min(32, n_samples)
    if not isinstance(batch_size, numbers.Integral):
        raise TypeError("batch_size must be 'auto' or an int")
    return max(1, min(int(batch_size), n_samples))
