"""scikit-learn's common estimator checks, for each estimator and cell."""
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from crnn import RNNClassifier, RNNRegressor

from .conftest import CELLS

# SPEC 5: n_features_in_ counts features per time step, and a 2-D X is
# (n_samples, n_timesteps). These checks assume axis 1 of X is the feature
# axis; nothing else is excused.
_AXIS1 = ("crnn reads a 2-D X as (n_samples, n_timesteps) univariate sequences: "
          "n_features_in_ is the number of features per time step (1), and X with a "
          "different number of columns is a longer or shorter sequence, not an error")
EXPECTED_FAILED = {
    "check_n_features_in": _AXIS1,
    "check_n_features_in_after_fitting": _AXIS1,
    "check_estimators_partial_fit_n_features": _AXIS1,
    # besides accuracy, this check asserts that predict rejects X with one
    # column fewer; the accuracy part is repeated in
    # test_estimators.py::test_classifier_learns_blobs
    "check_classifiers_train": _AXIS1,
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED


def _estimators():
    for cell in CELLS:
        # small networks keep the ~40 checks per estimator fast; the default
        # max_iter still has to reach the accuracy check_classifiers_train asks for
        yield RNNRegressor(cell=cell, hidden_layer_sizes=(16,))
        yield RNNClassifier(cell=cell, hidden_layer_sizes=(16,))


@parametrize_with_checks(list(_estimators()),
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
