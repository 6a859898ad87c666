"""Preparing sequence data: scikit-learn's 2-D toolbox on sequences.

scikit-learn's transformers take a 2-D ``(n_samples, n_features)`` X; crnn's
estimators take sequences (SPEC 5): a 3-D array ``(n_samples, n_timesteps,
n_features)``, a 2-D array ``(n_samples, n_timesteps)`` of univariate
sequences, a 3-D array whose shorter sequences end in all-NaN steps
(tslearn's padding convention), or a list of ``(T_i, n_features)`` or
``(T_i,)`` arrays of different lengths. This module bridges the two:

- :class:`PerStep` fits and applies any 2-D transformer to the valid time
  steps of all sequences, as if each step were a row.
- :class:`SequenceScaler` standardises (or min-max scales) each feature over
  all valid steps, accumulating the statistics block by block instead of
  gathering the steps into one flattened copy.
- :func:`make_windows` cuts long series into supervised ``(X, y)`` pairs for
  forecasting, as read-only views of the series.

Layouts are kept: a 3-D array comes back 3-D with its NaN padding in place, a
list comes back as a list of arrays of the same lengths, and a 2-D array (or
a list of 1-D arrays) comes back in that form when the output has one
feature per step.
"""
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import (BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context,
                          clone)
from sklearn.utils import check_array
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

__all__ = ["PerStep", "SequenceScaler", "make_windows"]

# Elements per block when SequenceScaler accumulates statistics (and per
# chunk when it transforms): the block's float64 copy (2 MiB) stays in the
# last-level cache for the second pass over it, and the per-block NumPy calls
# stay cheap next to the arithmetic. Statistics of (2000, 200, 32) float32,
# busy machine: 1 << 14: 29 ms, 1 << 16: 19 ms, 1 << 18: 13 ms.
_BLOCK_ELEMENTS = 1 << 18
_FLOAT_DTYPES = (np.float64, np.float32)


# ---------------------------------------------------------------------------
# Validation: one container for every accepted layout
# ---------------------------------------------------------------------------

class _Sequences:
    """Validated sequences and the layout to give results back in.

    Attributes
    ----------
    data : ndarray of shape (n_samples, n_steps, n_features) or list of ndarray
        A 3-D array, or a list of 2-D arrays of shape (T_i, n_features).
    lengths : ndarray of shape (n_samples,) or None
        Valid steps per sequence; None for a 3-D array without padding.
    squeeze : bool
        The input was a 2-D array or a list of 1-D arrays: results with one
        feature per step drop the feature axis again.
    """

    def __init__(self, data, lengths, squeeze):
        self.data = data
        self.lengths = lengths
        self.squeeze = squeeze

    @property
    def is_list(self):
        return isinstance(self.data, list)

    @property
    def n_features(self):
        return self.data[0].shape[1] if self.is_list else self.data.shape[2]

    def _valid_mask(self, start=0, stop=None):
        n_steps = self.data.shape[1]
        return np.arange(n_steps) < self.lengths[start:stop, np.newaxis]

    def steps(self):
        """All valid steps as rows, shape (n_valid_steps, n_features).

        A view for an unpadded C-contiguous 3-D array; otherwise a copy.
        """
        if self.is_list:
            return self.data[0] if len(self.data) == 1 else np.concatenate(self.data)
        if self.lengths is None:
            return self.data.reshape(-1, self.n_features)
        return self.data[self._valid_mask()]

    def restore(self, rows):
        """Put per-step results, shape (n_valid_steps, n_out), back in the input layout."""
        n_out = rows.shape[1]
        squeeze = self.squeeze and n_out == 1
        if self.is_list:
            bounds = np.cumsum([x.shape[0] for x in self.data])[:-1]
            parts = np.split(rows, bounds)
            return [p[:, 0] for p in parts] if squeeze else parts
        n_samples, n_steps = self.data.shape[:2]
        if self.lengths is None:
            out = rows.reshape(n_samples, n_steps, n_out)
        else:
            # Padding stays NaN, so integer or boolean results become float.
            dtype = rows.dtype if rows.dtype.kind in "fcO" else np.float64
            out = np.full((n_samples, n_steps, n_out), np.nan, dtype=dtype)
            out[self._valid_mask()] = rows
        return out[:, :, 0] if squeeze else out

    def map(self, ops):
        """Apply per-feature ufuncs to every step, keeping the layout.

        Parameters
        ----------
        ops : list of (ufunc, ndarray of shape (n_features,))
            Applied in order, ``x = ufunc(x, vector)``; padding goes through
            them too, which keeps it NaN for arithmetic.

        Returns
        -------
        ndarray or list of ndarray, a new array (list: views of one new buffer).
        """
        if self.is_list:
            rows = np.concatenate(self.data) if len(self.data) > 1 else self.data[0].copy()
            _apply_per_feature(rows, ops, out=rows)
            return self.restore(rows)
        out = _apply_per_feature(self.data, ops, out=np.empty(self.data.shape,
                                                              self.data.dtype))
        return out[:, :, 0] if self.squeeze else out

    def blocks(self):
        """Yield the valid steps as row blocks of about ``_BLOCK_ELEMENTS`` values."""
        n_features = self.n_features
        if self.is_list:
            group, rows = [], 0
            for x in self.data:
                group.append(x)
                rows += x.shape[0]
                if rows * n_features >= _BLOCK_ELEMENTS:
                    yield group[0] if len(group) == 1 else np.concatenate(group)
                    group, rows = [], 0
            if group:
                yield group[0] if len(group) == 1 else np.concatenate(group)
            return
        n_samples, n_steps = self.data.shape[:2]
        per_block = max(1, _BLOCK_ELEMENTS // (n_steps * n_features))
        for start in range(0, n_samples, per_block):
            chunk = self.data[start:start + per_block]
            if self.lengths is None:
                yield chunk.reshape(-1, n_features)
            else:
                yield chunk[self._valid_mask(start, start + per_block)]


def _apply_per_feature(x, ops, out):
    """``out = ops[-1][0](... ops[0][0](x, ops[0][1]) ..., ops[-1][1])`` over x's last axis.

    The vectors are cast to x's dtype first, so float32 data is computed in
    float32. C-contiguous data goes through in cache-sized chunks of rows,
    each read once and finished by all the ops while in cache.
    """
    n_features = x.shape[-1]
    ops = [(ufunc, np.asarray(v, dtype=x.dtype)) for ufunc, v in ops]
    if not ops:
        np.copyto(out, x)
        return out
    if x.flags.c_contiguous and out.flags.c_contiguous:
        src_all, dst_all = x.reshape(-1, n_features), out.reshape(-1, n_features)
    else:
        src_all, dst_all = x[np.newaxis], out[np.newaxis]  # one chunk: the whole array
    chunk = max(1, _BLOCK_ELEMENTS // (src_all[0].size))
    for start in range(0, src_all.shape[0], chunk):
        src, dst = src_all[start:start + chunk], dst_all[start:start + chunk]
        for ufunc, v in ops:
            ufunc(src, v, out=dst)
            src = dst
    return out


def _is_sequence_list(X):
    """A list or tuple of arrays, or of array-likes of different lengths."""
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        return False
    if any(isinstance(x, np.ndarray) and x.ndim > 0 for x in X):
        return True
    lengths = {len(x) if hasattr(x, "__len__") and not isinstance(x, str) else None for x in X}
    return None not in lengths and len(lengths) > 1


def _nan_mask(a):
    """Where ``a`` is NaN (None for dtypes that cannot hold NaN)."""
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype.kind == "O":
        return np.not_equal(a, a)  # NaN is the one value unequal to itself
    return None


def _has_nonfinite(a):
    # A finite sum proves every element finite; only otherwise look closer.
    return a.dtype.kind == "f" and not np.isfinite(a.sum())


def _padding_lengths(X, name):
    """Valid steps per sequence of a 3-D array padded with trailing all-NaN steps.

    Returns None when nothing is padded. NaN anywhere but in whole trailing
    steps, an all-NaN sequence, or infinity is a ValueError.
    """
    if X.dtype.kind == "f" and not _has_nonfinite(X):
        return None
    nan = _nan_mask(X)
    if nan is None or not nan.any():
        if X.dtype.kind == "f" and np.isinf(X).any():
            raise ValueError(f"Input {name} contains infinity.")
        return None
    # Fast path: guess the lengths from the first feature, then confirm by
    # counting (NumPy's reductions over a short last axis are slow). An
    # all-NaN step is NaN in its first feature, so any other NaN makes the
    # counts disagree and the exact diagnosis below runs.
    n_steps = X.shape[1]
    valid_first = ~nan[:, :, 0]
    lengths = np.where(valid_first.any(axis=1),
                       n_steps - np.argmax(valid_first[:, ::-1], axis=1), 0)
    valid = np.arange(n_steps) < lengths[:, np.newaxis]
    n_padded_steps = valid.size - np.count_nonzero(valid)
    if (np.count_nonzero(nan) == n_padded_steps * X.shape[2]
            and np.count_nonzero(nan[~valid]) == n_padded_steps * X.shape[2]
            and lengths.min() > 0):
        if X.dtype.kind == "f" and np.isinf(X).any():
            raise ValueError(f"Input {name} contains infinity.")
        return None if lengths.min() == n_steps else lengths
    _diagnose_nan(nan, name)
    raise AssertionError("unreachable: the padding counts disagreed")  # pragma: no cover


def _diagnose_nan(nan, name):
    """Raise the ValueError that names the first misplaced NaN."""
    step_nan = nan.all(axis=2)
    partial = nan.any(axis=2) & ~step_nan
    if partial.any():
        i, t = np.argwhere(partial)[0]
        raise ValueError(
            f"{name}[{i}, {t}] is partly NaN. NaN may only pad the end of a sequence, as "
            "whole all-NaN steps (tslearn's convention); NaN anywhere else is an error.")
    lengths = (~step_nan).sum(axis=1)
    if (lengths == 0).any():
        i = np.flatnonzero(lengths == 0)[0]
        raise ValueError(f"{name}[{i}] is all NaN: a sequence needs at least one valid step.")
    trailing = np.arange(nan.shape[1]) < lengths[:, np.newaxis]
    i = np.flatnonzero((trailing != ~step_nan).any(axis=1))[0]
    t = np.flatnonzero(step_nan[i])[0]
    raise ValueError(
        f"{name}[{i}] has an all-NaN step at t={t} followed by valid steps. NaN may only "
        "pad the end of a sequence (tslearn's convention); NaN anywhere else is an error.")


def _check_list_item(x, i, float_only, name):
    x = np.asarray(x)
    if float_only and x.dtype not in _FLOAT_DTYPES:
        if x.dtype.kind not in "biuO":
            raise TypeError(f"{name}[{i}] has dtype {x.dtype}; numeric data is required.")
        x = x.astype(np.float64)
    if x.dtype.kind == "c":
        raise TypeError(f"{name}[{i}] is complex; complex data is not supported.")
    if x.ndim == 1:
        x = x[:, np.newaxis]
    elif x.ndim != 2:
        raise ValueError(f"{name}[{i}] must be 1-D (T_i,) or 2-D (T_i, n_features); got "
                         f"{x.ndim}-D with shape {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"{name}[{i}] is a zero-length sequence; every sequence needs at "
                         "least one step.")
    nonfinite = _has_nonfinite(x)
    if nonfinite or x.dtype.kind == "O":
        if _nan_mask(x).any():
            raise ValueError(f"{name}[{i}] contains NaN. In a list each sequence has its "
                             "own length, so no step may be NaN (NaN padding is for 3-D "
                             "arrays).")
        if nonfinite:
            raise ValueError(f"{name}[{i}] contains infinity.")
    return x


def _check_sequences(estimator, X, *, reset, float_only, check_features=True, name="X"):
    """Validate X in any layout of SPEC 5 and set or check ``n_features_in_``.

    Parameters
    ----------
    float_only : bool
        Convert to float32/float64 (other numbers become float64); otherwise
        keep the dtype (categorical input for e.g. OneHotEncoder).
    """
    if sp.issparse(X):
        raise TypeError(f"Sparse {name} is not supported: sequences are dense, of shape "
                        "(n_samples, n_timesteps[, n_features]) or a list of arrays.")
    if _is_sequence_list(X):
        items = [_check_list_item(x, i, float_only, name) for i, x in enumerate(X)]
        n_features = items[0].shape[1]
        for i, x in enumerate(items):
            if x.shape[1] != n_features:
                raise ValueError(f"{name}[{i}] has {x.shape[1]} features per time step but "
                                 f"{name}[0] has {n_features}.")
        squeeze = all(np.ndim(x) == 1 for x in X)
        seqs = _Sequences(items, np.array([x.shape[0] for x in items]), squeeze)
    else:
        X = check_array(X, dtype=list(_FLOAT_DTYPES) if float_only else None, allow_nd=True,
                        ensure_all_finite=False, ensure_min_features=1, input_name=name)
        squeeze = X.ndim == 2
        if squeeze:
            X = X[:, :, np.newaxis]
        elif X.ndim != 3:
            raise ValueError(f"{name} must be 2-D (n_samples, n_timesteps) or 3-D (n_samples, "
                             f"n_timesteps, n_features); got {X.ndim}-D with shape {X.shape}.")
        if X.shape[1] == 0:
            raise ValueError(f"{name} holds zero-length sequences (n_timesteps = 0, shape "
                             f"{X.shape}); every sequence needs at least one step.")
        if X.shape[2] == 0:
            raise ValueError(f"{name} has 0 features per time step (shape {X.shape}); at "
                             "least 1 is required.")
        seqs = _Sequences(X, _padding_lengths(X, name), squeeze)
    if reset:
        estimator.n_features_in_ = seqs.n_features
    elif check_features and seqs.n_features != estimator.n_features_in_:
        raise ValueError(f"{name} has {seqs.n_features} features per time step, but "
                         f"{type(estimator).__name__} was fitted with "
                         f"{estimator.n_features_in_}.")
    return seqs


def _dense(rows):
    """An inner transformer's output as a 2-D ndarray (sequences are dense)."""
    if sp.issparse(rows):
        rows = rows.toarray()
    rows = np.asarray(rows)
    return rows[:, np.newaxis] if rows.ndim == 1 else rows


# ---------------------------------------------------------------------------
# PerStep
# ---------------------------------------------------------------------------

def _inner_has(method):
    """available_if check: the fitted (or else the given) transformer has ``method``."""
    def check(self):
        inner = getattr(self, "transformer_", self.transformer)
        getattr(inner, method)  # AttributeError hides the method, as in Pipeline
        return True
    return check


class PerStep(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Apply a 2-D scikit-learn transformer to every time step of sequences.

    The transformer is fitted on, and applied to, the valid time steps of all
    sequences stacked as rows of a ``(n_valid_steps, n_features)`` matrix,
    and the result is put back into the input's layout: a 3-D array comes
    back 3-D, a list of sequences comes back as a list of the same lengths,
    and trailing all-NaN padding steps stay NaN and are never shown to the
    transformer. Any transformer works (``StandardScaler``,
    ``PowerTransformer``, ``OneHotEncoder``, ``PCA``, ...), including ones
    whose number of output features differs from their input.

    Parameters
    ----------
    transformer : estimator object
        A scikit-learn transformer (with ``fit`` and ``transform``). It is
        cloned; its parameters are reachable as ``transformer__<name>``
        (e.g. ``transformer__with_mean`` in ``GridSearchCV``). y is not
        passed on: it has one value per sequence, not per step.

    Attributes
    ----------
    transformer_ : estimator object
        The fitted clone of ``transformer``.
    n_features_in_ : int
        Features per time step seen in ``fit`` (SPEC 5's convention: a 2-D
        X of shape (n_samples, n_timesteps) has 1).

    See Also
    --------
    SequenceScaler : Per-feature scaling without the stacked copy of the steps.

    Notes
    -----
    Accepted X, in ``fit``, ``transform`` and ``inverse_transform``:

    - ndarray of shape (n_samples, n_timesteps, n_features); shorter
      sequences may end in all-NaN steps (padding), NaN anywhere else is an
      error. The result has shape (n_samples, n_timesteps, n_features_out),
      NaN at the padded steps (so integer results become float there).
    - ndarray of shape (n_samples, n_timesteps): univariate sequences. The
      result is 2-D if the transformer gives one feature, else 3-D.
    - list (or tuple) of arrays of shape (T_i, n_features) or (T_i,): a list
      of arrays of shape (T_i, n_features_out), or (T_i,) if the inputs were
      1-D and there is one output feature. No NaN allowed. A list of arrays
      is always treated as sequences, even when the lengths happen to agree.

    Sparse transformer output (e.g. ``OneHotEncoder()``'s default) is
    densified, since sequences are dense; ``OneHotEncoder(sparse_output=False)``
    avoids the intermediate sparse matrix. Stacking the steps copies them
    unless X is an unpadded C-contiguous 3-D array. There is no
    ``set_output``: a DataFrame cannot hold 3-D or ragged results.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import StandardScaler
    >>> from crnn.preprocessing import PerStep
    >>> X = np.arange(12.0).reshape(2, 3, 2)           # 2 sequences, 3 steps, 2 features
    >>> PerStep(StandardScaler()).fit_transform(X).shape
    (2, 3, 2)
    >>> ragged = [np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])]
    >>> [x.round(2) for x in PerStep(StandardScaler()).fit_transform(ragged)]
    [array([-1.41, -0.71,  0.  ]), array([0.71, 1.41])]
    """

    _parameter_constraints = {"transformer": [HasMethods(["fit", "transform"])]}

    def __init__(self, transformer):
        self.transformer = transformer

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the transformer on the valid time steps of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]) or list of arrays
            Sequences; see the class Notes for the layouts.
        y : None
            Ignored.

        Returns
        -------
        self : PerStep
        """
        seqs = _check_sequences(self, X, reset=True, float_only=False)
        self.transformer_ = clone(self.transformer).fit(seqs.steps())
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None):
        """Fit the transformer on the valid steps of X and transform them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]) or list of arrays
        y : None
            Ignored.

        Returns
        -------
        Xt : ndarray or list of ndarray
            X's layout with n_features_out features per step.
        """
        seqs = _check_sequences(self, X, reset=True, float_only=False)
        self.transformer_ = clone(self.transformer)
        return seqs.restore(_dense(self.transformer_.fit_transform(seqs.steps())))

    def transform(self, X):
        """Transform every valid time step of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]) or list of arrays
            Sequences may be longer or shorter than in ``fit``.

        Returns
        -------
        Xt : ndarray or list of ndarray
            X's layout with n_features_out features per step.
        """
        check_is_fitted(self)
        seqs = _check_sequences(self, X, reset=False, float_only=False)
        return seqs.restore(_dense(self.transformer_.transform(seqs.steps())))

    @available_if(_inner_has("inverse_transform"))
    def inverse_transform(self, X):
        """Undo ``transform`` step by step (where the transformer can).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features_out]) or list of arrays

        Returns
        -------
        X_original : ndarray or list of ndarray
            X's layout with ``n_features_in_`` features per step.
        """
        check_is_fitted(self)
        seqs = _check_sequences(self, X, reset=False, float_only=False, check_features=False)
        return seqs.restore(_dense(self.transformer_.inverse_transform(seqs.steps())))

    @available_if(_inner_has("get_feature_names_out"))
    def get_feature_names_out(self, input_features=None):
        """Names of the output features of each time step.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Names of the ``n_features_in_`` features per step; ``x0``, ``x1``,
            ... if None.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        return self.transformer_.get_feature_names_out(input_features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.transformer)
        tags.input_tags.string = inner.input_tags.string
        tags.input_tags.categorical = inner.input_tags.categorical
        tags.input_tags.sparse = False
        if inner.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = inner.transformer_tags.preserves_dtype
        return tags


# ---------------------------------------------------------------------------
# SequenceScaler
# ---------------------------------------------------------------------------

def _handle_zeros_in_scale(scale):
    """A constant feature keeps scale 1 (as scikit-learn's scalers do)."""
    scale = scale.copy()
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    return scale


class SequenceScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator,
                     auto_wrap_output_keys=None):
    """Standardise or min-max scale each feature over all valid time steps.

    The same result as ``PerStep(StandardScaler())`` (or ``MinMaxScaler``)
    without stacking the steps into one flattened copy: the statistics are
    accumulated over blocks of sequences (per-block mean and sum of squared
    deviations, merged with Chan et al.'s pairwise update, in float64), and
    ``transform`` is an elementwise map that keeps NaN padding as NaN.

    Parameters
    ----------
    method : {"standard", "minmax"}, default="standard"
        ``"standard"``: ``(x - mean_) / scale_`` per feature, with the
        population standard deviation. ``"minmax"``: ``x * scale_ + min_``,
        mapping each feature's range onto ``feature_range``.
    with_mean : bool, default=True
        ``"standard"`` only: subtract the mean.
    with_std : bool, default=True
        ``"standard"`` only: divide by the standard deviation.
    feature_range : tuple (min, max), default=(0, 1)
        ``"minmax"`` only: the range of the scaled data.

    Attributes
    ----------
    n_features_in_ : int
        Features per time step.
    n_samples_seen_ : int
        Valid time steps the statistics were computed over.
    mean_, var_ : ndarray of shape (n_features,) or None
        ``"standard"``: per-feature mean and variance; as in StandardScaler,
        ``var_`` is None without ``with_std`` and ``mean_`` without either.
    data_min_, data_max_, data_range_, min_ : ndarray of shape (n_features,) or None
        ``"minmax"``: per-feature minimum, maximum, range and offset.
    scale_ : ndarray of shape (n_features,) or None
        Per-feature scale (standard deviation, or the min-max factor);
        constant features get 1 (standard) as in scikit-learn.

    See Also
    --------
    PerStep : Any 2-D transformer applied per step.

    Notes
    -----
    X may be a 3-D array (trailing all-NaN steps are padding), a 2-D array
    of univariate sequences, or a list of (T_i, n_features) or (T_i,)
    arrays; the result has the same layout and, for float32 or float64
    input, the same dtype (other numbers become float64).

    To scale the per-step targets of ``RNNRegressor(return_sequences=True)``,
    wrap the regressor in
    ``TransformedTargetRegressor(regressor, transformer=SequenceScaler())``:
    y of shape (n_samples, n_timesteps[, n_outputs]) is scaled per output
    and predictions are mapped back.

    Examples
    --------
    >>> import numpy as np
    >>> from crnn.preprocessing import SequenceScaler
    >>> X = np.array([[[0.0], [2.0], [np.nan]], [[4.0], [6.0], [8.0]]])  # first is padded
    >>> SequenceScaler().fit_transform(X)[:, :, 0].round(3)
    array([[-1.414, -0.707,    nan],
           [ 0.   ,  0.707,  1.414]])
    """

    _parameter_constraints = {
        "method": [StrOptions({"standard", "minmax"})],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
        "feature_range": [tuple],
    }

    def __init__(self, method="standard", *, with_mean=True, with_std=True,
                 feature_range=(0, 1)):
        self.method = method
        self.with_mean = with_mean
        self.with_std = with_std
        self.feature_range = feature_range

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute each feature's statistics over all valid time steps of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]) or list of arrays
        y : None
            Ignored.

        Returns
        -------
        self : SequenceScaler
        """
        if self.method == "minmax":
            low, high = self.feature_range
            if not low < high:
                raise ValueError(f"feature_range must be (min, max) with min < max; got "
                                 f"{self.feature_range!r}.")
        seqs = _check_sequences(self, X, reset=True, float_only=True)
        if self.method == "standard":
            self._fit_standard(seqs)
        else:
            self._fit_minmax(seqs)
        return self

    def _fit_standard(self, seqs):
        n_features = seqs.n_features
        count, mean, m2 = 0, np.zeros(n_features), np.zeros(n_features)
        ones = np.ones(0)
        for block in seqs.blocks():
            n = block.shape[0]
            # Sums in float64 (as StandardScaler does for float32 data), as
            # matrix-vector products: a float64 copy of the block and two
            # BLAS calls beat NumPy's casting axis-0 reduction fourfold.
            dev = block.astype(np.float64)
            if ones.shape[0] != n:
                ones = np.ones(n)
            block_mean = (ones @ dev) / n
            dev -= block_mean
            np.square(dev, out=dev)
            block_m2 = ones @ dev
            # Chan, Golub & LeVeque (1979): merge two (count, mean, M2) triples
            # without the cancellation of a running sum of squares.
            delta = block_mean - mean
            total = count + n
            mean += delta * (n / total)
            m2 += block_m2 + delta ** 2 * (count * n / total)
            count = total
        self.n_samples_seen_ = count
        # scikit-learn's StandardScaler convention for the fitted attributes
        self.var_ = m2 / count if self.with_std else None
        self.mean_ = mean if self.with_mean or self.with_std else None
        self.scale_ = _handle_zeros_in_scale(np.sqrt(self.var_)) if self.with_std else None
        self.data_min_ = self.data_max_ = self.data_range_ = self.min_ = None

    def _fit_minmax(self, seqs):
        low, high = self.feature_range
        count, data_min, data_max = 0, np.inf, -np.inf
        for block in seqs.blocks():
            count += block.shape[0]
            data_min = np.minimum(data_min, block.min(axis=0))
            data_max = np.maximum(data_max, block.max(axis=0))
        self.n_samples_seen_ = count
        self.data_min_ = np.asarray(data_min, dtype=np.float64)
        self.data_max_ = np.asarray(data_max, dtype=np.float64)
        self.data_range_ = self.data_max_ - self.data_min_
        self.scale_ = (high - low) / _handle_zeros_in_scale(self.data_range_)
        self.min_ = low - self.data_min_ * self.scale_
        self.mean_ = self.var_ = None

    def _ops(self, inverse):
        """The per-feature ufuncs of transform (or inverse_transform), in order.

        The same operations, in the same order, as StandardScaler and
        MinMaxScaler, so results agree with theirs to rounding.
        """
        if self.method == "standard":
            center = [(np.subtract, self.mean_)] if self.with_mean else []
            scale = [(np.divide, self.scale_)] if self.with_std else []
            if inverse:
                return [(np.multiply, v) for _, v in scale] + [(np.add, v) for _, v in center]
            return center + scale
        if inverse:
            return [(np.subtract, self.min_), (np.divide, self.scale_)]
        return [(np.multiply, self.scale_), (np.add, self.min_)]

    def transform(self, X):
        """Scale each feature of every valid time step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]) or list of arrays

        Returns
        -------
        Xt : ndarray or list of ndarray
            X's layout and shape; padding stays NaN.
        """
        check_is_fitted(self)
        seqs = _check_sequences(self, X, reset=False, float_only=True)
        return seqs.map(self._ops(inverse=False))

    def inverse_transform(self, X):
        """Undo ``transform``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps[, n_features]) or list of arrays

        Returns
        -------
        X_original : ndarray or list of ndarray
            X's layout and shape; padding stays NaN.
        """
        check_is_fitted(self)
        seqs = _check_sequences(self, X, reset=False, float_only=True)
        return seqs.map(self._ops(inverse=True))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


# ---------------------------------------------------------------------------
# make_windows
# ---------------------------------------------------------------------------

def _check_count(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int; got {value!r} of type "
                        f"{type(value).__name__}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1; got {value}.")
    return int(value)


def _is_series_list(series):
    return (isinstance(series, (list, tuple)) and len(series) > 0
            and all(np.ndim(s) >= 1 for s in series))


def _read_only(a):
    a = a.view()
    a.flags.writeable = False
    return a


def _windows_of_one(series, window, horizon, stride, target, name):
    """(X, y) views of one (T,) or (T, F) series; see make_windows."""
    series = np.asarray(series)
    if series.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (T,) or 2-D (T, n_features); got "
                         f"{series.ndim}-D with shape {series.shape}.")
    n_steps = series.shape[0]
    if n_steps < window + horizon:
        raise ValueError(
            f"{name} has {n_steps} time steps, fewer than window + horizon = {window} + "
            f"{horizon} = {window + horizon}, so it holds no (window, target) pair.")
    n_windows = (n_steps - window - horizon) // stride + 1
    starts = slice(0, (n_windows - 1) * stride + 1, stride)

    X = np.lib.stride_tricks.sliding_window_view(series, window, axis=0)[starts]
    if series.ndim == 2:
        X = np.moveaxis(X, -1, 1)  # (n, F, window) -> (n, window, F)

    # future[u]: the `horizon` values after step u, flattened step-major:
    # series[u + 1], (series[u + 1 : u + 1 + horizon] for horizon > 1).
    if horizon == 1:
        future = series[1:]
    else:
        n_features = 1 if series.ndim == 1 else series.shape[1]
        flat = series.reshape(-1)  # a view for a C-contiguous series
        future = np.lib.stride_tricks.sliding_window_view(
            flat[n_features:], horizon * n_features)[::n_features]
    if target == "next":
        y = future[window - 1:][starts]
    else:
        y = np.moveaxis(np.lib.stride_tricks.sliding_window_view(future, window, axis=0),
                        -1, 1)[starts]
    return _read_only(X), _read_only(y)


def make_windows(series, window, horizon=1, stride=1, target="next"):
    """Cut long series into supervised (X, y) pairs for forecasting.

    Window ``i`` starts at step ``s = i * stride`` and holds ``window``
    steps, ``X[i] = series[s : s + window]``. Its target is what follows:

    - ``target="next"`` (many-to-one, for ``return_sequences=False``): the
      ``horizon`` values after the window, ``y[i] = series[s + window]`` for
      ``horizon=1`` and ``series[s + window : s + window + horizon]``,
      flattened, for ``horizon > 1`` (multi-step-ahead, all steps predicted
      at once).
    - ``target="sequence"`` (many-to-many, for ``return_sequences=True``):
      the same target for every step of the window, ``y[i, t]`` = the
      ``horizon`` values after step ``s + t``; so ``y[i, -1]`` is the
      ``"next"`` target and, for ``horizon=1``, ``y[i]`` is ``X[i]`` shifted
      by one step.

    Windows only cover steps whose targets exist: there are
    ``(T - window - horizon) // stride + 1`` of them, and the series must
    have at least ``window + horizon`` steps.

    Parameters
    ----------
    series : array-like of shape (T,) or (T, n_features), or list of them
        One long series, or several (of any lengths, the same n_features).
        A list or tuple whose items are arrays or lists is a list of series;
        pass one multivariate series as a 2-D array. Windows never cross
        from one series into the next.
    window : int
        Time steps per input window (>= 1).
    horizon : int, default=1
        Future values per target (>= 1).
    stride : int, default=1
        Steps between the starts of consecutive windows (>= 1).
    target : {"next", "sequence"}, default="next"
        See above.

    Returns
    -------
    X : ndarray of shape (n_windows, window) or (n_windows, window, n_features)
        The windows: 2-D (univariate sequences) for a 1-D series.
    y : ndarray
        ======================  ====================  ================================
        target, horizon         series (T,)           series (T, n_features)
        ======================  ====================  ================================
        ``"next"``, 1           (n_windows,)          (n_windows, n_features)
        ``"next"``, h > 1       (n_windows, h)        (n_windows, h * n_features)
        ``"sequence"``, 1       (n_windows, window)   (n_windows, window, n_features)
        ``"sequence"``, h > 1   (.., window, h)       (.., window, h * n_features)
        ======================  ====================  ================================

        With several features and ``horizon > 1`` the values are step-major:
        ``y.reshape(n_windows, horizon, n_features)`` (the last axis for
        ``"sequence"``) separates them.

    Raises
    ------
    ValueError
        A series shorter than ``window + horizon``, a series that is not 1-D
        or 2-D, an empty list, series with different n_features, ``window``,
        ``horizon`` or ``stride`` below 1, or an unknown ``target``.
    TypeError
        ``window``, ``horizon`` or ``stride`` not an int.

    Notes
    -----
    For one series X and y are read-only views of it
    (``numpy.lib.stride_tricks.sliding_window_view``): no data is copied
    (a series that is not C-contiguous is copied once for ``horizon > 1``
    with several features). For a list of series the per-series windows are
    concatenated, which copies them. ``np.array(X)`` gives a writeable copy.
    crnn's estimators accept read-only input.

    Consecutive windows overlap, so split train and test by time (e.g.
    ``train_test_split(X, y, shuffle=False)`` or ``TimeSeriesSplit``), not
    at random. To forecast past the end of a series, predict on its last
    window, ``series[-window:][np.newaxis]``, which has no target and so is
    not among the windows.

    Examples
    --------
    >>> import numpy as np
    >>> from crnn.preprocessing import make_windows
    >>> X, y = make_windows(np.arange(6), window=3)
    >>> X
    array([[0, 1, 2],
           [1, 2, 3],
           [2, 3, 4]])
    >>> y
    array([3, 4, 5])
    >>> X, y = make_windows(np.arange(6), window=3, horizon=2, target="sequence")
    >>> y[0]
    array([[1, 2],
           [2, 3],
           [3, 4]])
    """
    window = _check_count(window, "window")
    horizon = _check_count(horizon, "horizon")
    stride = _check_count(stride, "stride")
    if target not in ("next", "sequence"):
        raise ValueError(f"target must be 'next' or 'sequence'; got {target!r}.")
    if sp.issparse(series):
        raise TypeError("series must be dense.")
    if isinstance(series, (list, tuple)) and len(series) == 0:
        raise ValueError("series is an empty list; give at least one series.")
    if not _is_series_list(series):
        return _windows_of_one(series, window, horizon, stride, target, "series")
    parts = [_windows_of_one(s, window, horizon, stride, target, f"series[{i}]")
             for i, s in enumerate(series)]
    def describe(X):
        return "is 1-D" if X.ndim == 2 else f"has {X.shape[2]} features per step"
    for i, (X, _) in enumerate(parts):
        if X.shape[2:] != parts[0][0].shape[2:]:
            raise ValueError(f"series[{i}] {describe(X)} but series[0] "
                             f"{describe(parts[0][0])}; all series need the same shape "
                             "per step.")
    return (np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts]))
