"""Persistence support: the version stamp of pickled estimators.

A fitted estimator's pickled state is plain NumPy arrays and builtins (the
network object and the ``coefs_`` views are rebuilt on loading), so that
``skops.io`` can load it with only crnn's own estimator types trusted. The
state also carries the crnn version that wrote it, as scikit-learn's
``_sklearn_version`` does for scikit-learn's own estimators; loading it
with another version warns with :class:`InconsistentVersionWarning`.
"""
import warnings

VERSION_KEY = "_crnn_version"
# Pickles written before the stamp existed (crnn 0.1.0 wrote none).
UNKNOWN_VERSION = "unknown (before the version stamp)"


class InconsistentVersionWarning(UserWarning):
    """Warning raised when an estimator is loaded with another crnn version.

    The fitted state of a crnn estimator is tied to the layout of the
    version that wrote it. Loading it with another version may work, fail,
    or give different predictions; refit (or re-save from the original
    version with ``skops`` or ONNX) to be safe.

    Parameters
    ----------
    estimator_name : str
        Class name of the loaded estimator.
    current_version : str
        The crnn version doing the loading.
    original_version : str
        The crnn version that saved the estimator.
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        super().__init__(estimator_name, current_version, original_version)
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (f"Loading estimator {self.estimator_name} saved by crnn "
                f"{self.original_version} with crnn {self.current_version}. The "
                "fitted state may not match this version: predictions may differ or "
                "methods may fail. Refit the model with this version, or load it with "
                "the version that saved it.")


def _current_version():
    # imported here: crnn/__init__ imports the estimators, which import us
    from crnn import __version__

    return __version__


def stamp(state):
    """Return ``state`` with the running crnn version added.

    Parameters
    ----------
    state : dict
        An estimator's ``__getstate__`` dict.

    Returns
    -------
    state : dict
        A new dict with ``_crnn_version`` set.
    """
    return dict(state, **{VERSION_KEY: _current_version()})


def check_version(estimator, state):
    """Pop the version stamp from ``state``; warn if it is not this version.

    Parameters
    ----------
    estimator : object
        The estimator being loaded (its class name goes into the warning).
    state : dict
        The state passed to ``__setstate__``; modified in place.
    """
    original = state.pop(VERSION_KEY, UNKNOWN_VERSION)
    current = _current_version()
    if original != current:
        warnings.warn(InconsistentVersionWarning(
            estimator_name=type(estimator).__name__, current_version=current,
            original_version=original), stacklevel=3)


def trusted_types(estimator):
    """The type names ``skops.io.load`` must trust for a saved crnn estimator.

    Parameters
    ----------
    estimator : object
        A crnn estimator (fitted or not).

    Returns
    -------
    types : list of str
        Just the estimator's own class, as ``"module.ClassName"``: the rest
        of its state is NumPy arrays and builtins, which skops trusts.
    """
    cls = type(estimator)
    return [f"{cls.__module__}.{cls.__qualname__}"]
