"""Input validation for the estimators: everything is checked here, in
Python, before any compiled code runs (SPEC 6)."""
import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array


def check_sequences(X, dtype, name="X"):
    """Validate sequence input and return it as a 3-D array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_steps, n_features) or (n_samples, n_steps)
        A 2-D X holds univariate sequences (n_features = 1).
    dtype : numpy dtype
        float32 or float64; X is converted to it.

    Returns
    -------
    X : ndarray of shape (n_samples, n_steps, n_features)
    """
    if sp.issparse(X):
        raise TypeError(f"Sparse {name} is not supported: crnn needs dense sequences "
                        f"of shape (n_samples, n_timesteps[, n_features]).")
    if isinstance(X, (list, tuple)) and len(X) > 0 and _is_ragged(X):
        raise ValueError(f"{name} holds sequences of different lengths; variable-length "
                         "sequences are not supported yet: pad them to one length.")
    # Overflow casting to float32 and +inf - inf in scikit-learn's finiteness
    # sum only lead to its "contains infinity" error: no NumPy warning first.
    with np.errstate(over="ignore", invalid="ignore"):
        X = check_array(X, dtype=dtype, allow_nd=True, ensure_all_finite=True,
                        input_name=name, ensure_min_features=1)
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
    return X


def _is_ragged(X):
    lengths = set()
    for x in X:
        shape = np.shape(x)
        lengths.add(shape[0] if len(shape) else None)
        if len(lengths) > 1:
            return True
    return False


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
    if len(y) != X.shape[0]:
        raise ValueError(f"X and y have inconsistent numbers of samples: "
                         f"X has {X.shape[0]}, y has {len(y)}.")


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
