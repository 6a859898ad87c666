"""
==========================================================
Parallel fits: threads, processes and Dask (timing script)
==========================================================

Times the same work run serially and in parallel, and checks that every
parallel run gives the serial results:

- a ``GridSearchCV`` of 8 candidates x 3 folds (24 fits), through joblib's
  threading and loky (process) backends and through the Dask backend on a
  ``LocalCluster`` of threads and one of processes;
- one small model per series for 48 series, with a serial loop and with
  ``client.map`` on both clusters.

Worker start-up (a process importing crnn) is done before the timing:
pools and clusters are meant to be started once and reused.

This example is shown but not run while the documentation builds (it
takes a few minutes and its numbers only mean something on a quiet
machine). Run it with::

    pip install "crnn[distributed]"
    python docs/examples/dask_speedup.py                      # crnn's default threads per fit
    python docs/examples/dask_speedup.py --threads-per-fit 1  # one thread per fit

``--threads-per-fit`` sets ``OPENBLAS_NUM_THREADS`` before crnn starts: crnn
splits each minibatch into one part per BLAS thread, and that count is read
once per process. The Dask process workers always get one thread
(``distributed`` sets ``OPENBLAS_NUM_THREADS=1`` in its workers), and so do
loky's workers when two of them share two cores. Fits are bit-identical
when the thread count per fit is the same; with another count only the
rounding of the summed gradients differs (the script prints the largest
difference).
"""
import argparse
import logging
import os
import sys
import time


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads-per-fit", type=int, default=None,
                        help="OPENBLAS_NUM_THREADS for this process (default: unchanged)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3,
                        help="time each run this many times and report the fastest")
    return parser.parse_args()


ARGS = _parse() if __name__ == "__main__" else argparse.Namespace(
    threads_per_fit=None, workers=2, repeats=1)
if ARGS.threads_per_fit is not None:
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads_per_fit)

import warnings  # noqa: E402

import joblib  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import crnn  # noqa: E402
from crnn import RNNRegressor  # noqa: E402

warnings.filterwarnings("ignore", message="Stochastic optimizer")


def search_data():
    rng = np.random.RandomState(0)
    X = rng.randn(1024, 30, 4)
    y = np.tanh(X[:, -1, 0] + 0.5 * X[:, -5, 1]) + 0.1 * rng.randn(1024)
    return X, y


GRID = {"cell": ["rnn", "gru"], "hidden_layer_sizes": [(16,), (32,)],
        "learning_rate_init": [3e-3, 1e-2]}


def make_search(n_jobs):
    model = RNNRegressor(max_iter=10, random_state=0)
    return GridSearchCV(model, GRID, cv=3, n_jobs=n_jobs)


def series_list(n_series=48, length=600):
    rng = np.random.RandomState(1)
    t = np.arange(length)
    return [np.sin(2 * np.pi * t / (20 + i)) + 0.1 * rng.randn(length)
            for i in range(n_series)]


def fit_one(series, window=24):
    """Fit a next-step GRU to one series; returns the fitted model."""
    X = np.lib.stride_tricks.sliding_window_view(series[:-1], window)
    return RNNRegressor(cell="gru", hidden_layer_sizes=(16,), max_iter=15,
                        random_state=0).fit(X, series[window:])


def _import_crnn():
    import crnn  # noqa: F401


def timed(label, func, rows, reference=None):
    """Run ``func`` ``--repeats`` times; print the fastest time (the least
    disturbed by other load) and the largest difference from ``reference``."""
    elapsed = float("inf")
    for _ in range(ARGS.repeats):
        start = time.perf_counter()
        result = func()
        elapsed = min(elapsed, time.perf_counter() - start)
    rows.append((label, elapsed))
    if reference is not None:
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(result, reference))
        print(f"{label:<46s} {elapsed:7.2f} s   max |diff| vs serial {diff:.1e}")
    else:
        print(f"{label:<46s} {elapsed:7.2f} s")
    return result


def main():
    import distributed

    from crnn import _threads

    workers = ARGS.workers
    logging.getLogger("distributed").setLevel(logging.ERROR)
    print(f"crnn {crnn.__version__}, {os.cpu_count()} CPUs, crnn threads per fit "
          f"in this process: {_threads.max_threads()}, parallel workers: {workers}, "
          f"best of {ARGS.repeats}")
    X, y = search_data()

    def scores(search):
        return [search.cv_results_["mean_test_score"]]

    def run_search(n_jobs=None, backend=None):
        search = make_search(n_jobs)
        if backend is None:
            return scores(search.fit(X, y))
        with joblib.parallel_config(backend=backend):
            return scores(search.fit(X, y))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. about bokeh missing for the dashboard
        thread_cluster = distributed.LocalCluster(
            n_workers=1, threads_per_worker=workers, processes=False,
            dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
        process_cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)
    threads_client = distributed.Client(thread_cluster, set_as_default=False)
    processes_client = distributed.Client(process_cluster, set_as_default=False)
    # Start-up is not timed: worker processes import crnn once, then stay.
    processes_client.run(_import_crnn)
    joblib.Parallel(n_jobs=workers, backend="loky")(
        joblib.delayed(_import_crnn)() for _ in range(workers))

    def on(client, func):
        # joblib's dask backend uses the current client
        with client.as_current():
            return func()

    rows = []
    print("\nGridSearchCV, 8 candidates x 3 folds = 24 fits")
    serial = timed("serial", run_search, rows)
    timed(f"joblib threading, n_jobs={workers}",
          lambda: run_search(workers, "threading"), rows, serial)
    timed(f"joblib loky (processes), n_jobs={workers}",
          lambda: run_search(workers, "loky"), rows, serial)
    timed(f"dask, 1 process x {workers} threads",
          lambda: on(threads_client, lambda: run_search(-1, "dask")), rows, serial)
    timed(f"dask, {workers} processes x 1 thread",
          lambda: on(processes_client, lambda: run_search(-1, "dask")), rows, serial)

    series = series_list()
    print(f"\nOne model per series, {len(series)} series")
    serial_models = timed("serial loop", lambda: [m._params for m in map(fit_one, series)],
                          rows)
    for client, label in ((threads_client, f"1 process x {workers} threads"),
                          (processes_client, f"{workers} processes x 1 thread")):
        # pure=False: repeats must refit, not reuse the results of equal keys
        timed(f"client.map, {label}",
              lambda: [m._params for m in
                       client.gather(client.map(fit_one, series, pure=False))],
              rows, serial_models)
    threads_client.close()
    processes_client.close()
    thread_cluster.close()
    process_cluster.close()
    return rows


if __name__ == "__main__":
    sys.exit(main() and 0)
