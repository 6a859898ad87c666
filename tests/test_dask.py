"""Scale-out on Dask: a grid search through joblib's Dask backend and one
model per series with ``client.map`` give exactly the serial results.

Fits are deterministic for a given random_state and crnn reads its thread
count once per process, so the oracle is the same search (or loop) run
serially in this process. Skipped without the ``distributed`` extra (CI
installs it). The cluster is in-process (``processes=False``): two worker
threads; its HTTP server listens on a free loopback port only.
"""
import warnings

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklearn.model_selection import GridSearchCV  # noqa: E402

from crnn import RNNClassifier, RNNRegressor  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                       dashboard_address="127.0.0.1:0")
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        yield


def _sequences(n=60, T=6, F=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, T, F)
    y = np.tanh(X[:, -1, 0] - 0.5 * X[:, -3, 1])
    return X, y


@pytest.mark.parametrize("estimator, grid, target", [
    (RNNRegressor(max_iter=4, random_state=0),
     {"cell": ["rnn", "gru"], "hidden_layer_sizes": [(4,), (6, 3)]}, "values"),
    (RNNClassifier(max_iter=4, random_state=0),
     {"cell": ["lstm", "gru"], "learning_rate_init": [1e-3, 1e-2]}, "labels"),
], ids=["regressor", "classifier"])
def test_grid_search_on_dask_equals_serial(client, estimator, grid, target):
    X, y = _sequences()
    if target == "labels":
        y = (y > 0).astype(int)
    serial = GridSearchCV(estimator, grid, cv=3).fit(X, y)
    search = GridSearchCV(estimator, grid, cv=3, n_jobs=-1)
    with distributed.get_task_stream(client) as stream, \
            joblib.parallel_config(backend="dask"):
        search.fit(X, y)
    # the fits really ran as tasks on the cluster
    assert any("fit_and_score" in str(task["key"]) for task in stream.data)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(search.cv_results_[key], serial.cv_results_[key])
    assert search.best_params_ == serial.best_params_
    np.testing.assert_array_equal(search.predict(X), serial.predict(X))


def _fit_one(series, window=8):
    """One next-step GRU per series (the docs' many-models example)."""
    X = np.lib.stride_tricks.sliding_window_view(series[:-1], window)
    y = series[window:]
    return RNNRegressor(cell="gru", hidden_layer_sizes=(4,), max_iter=3,
                        random_state=0).fit(X, y)


def test_one_model_per_series_with_client_map(client):
    rng = np.random.RandomState(1)
    t = np.arange(60)
    series = [np.sin(0.2 * t * (1 + 0.1 * i)) + 0.05 * rng.randn(t.size) for i in range(6)]
    futures = client.map(_fit_one, series)
    models = client.gather(futures)
    assert len(models) == len(series)
    for s, model in zip(series, models):
        expected = _fit_one(s)
        np.testing.assert_array_equal(model._params, expected._params)
