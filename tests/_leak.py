"""Fit/predict cycles with the resident set size sampled after each one.

A leak in the kernels (a buffer never freed, a reference never dropped)
shows as RSS growing linearly with the number of cycles; allocator noise
does not. After ``warmup`` cycles (caches, lazy imports, the allocator's
pools settle), the least-squares slope of RSS over the remaining cycles and
the total growth are reported.

This lives with the tests (which ship in the sdist and are copied next to
installed wheels) so that ``test_reliability`` can run it anywhere;
``tools/leak_check.py`` is its command line for the long runs.
"""
import gc
import os
import warnings

import numpy as np


def rss_bytes():
    """Resident set size of this process (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cycle(i, data):
    from crnn import RNNClassifier, RNNRegressor

    X, y, X_seq, y_seq = data
    cell = ("rnn", "lstm", "gru")[i % 3]
    dtype = ("float32", "float64")[(i // 3) % 2]
    if i % 2:
        est = RNNClassifier(cell=cell, hidden_layer_sizes=(8, 4), max_iter=2,
                            random_state=i, dtype=dtype)
        est.fit(X, (y > 0).astype(int))
        est.predict_proba(X)
        est.partial_fit(X, (y > 0).astype(int))
    else:
        est = RNNRegressor(cell=cell, hidden_layer_sizes=(8,), max_iter=2,
                           random_state=i, dtype=dtype, return_sequences=True)
        est.fit(X_seq, y_seq)
        est.predict(X_seq)
    # the error paths allocate too: validation failures must not leak
    try:
        est.predict(X[:, :, :1])
    except ValueError:
        pass


def run(cycles=1000, warmup=100):
    """Run ``cycles`` fit/predict cycles; return the RSS report as a dict."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 12, 3))
    y = X.sum(axis=(1, 2))
    X_seq = rng.normal(size=(20, 30, 2))
    y_seq = np.cumsum(X_seq[:, :, 0], axis=1)
    data = (X, y, X_seq, y_seq)
    samples = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(cycles):
            _cycle(i, data)
            if i >= warmup:
                gc.collect()
                samples.append(rss_bytes())
    counts = np.arange(len(samples))
    slope = float(np.polyfit(counts, samples, 1)[0]) if len(samples) > 1 else 0.0
    return {"cycles": cycles, "warmup": warmup, "rss_first": samples[0],
            "rss_last": samples[-1], "growth_bytes": samples[-1] - samples[0],
            "slope_bytes_per_cycle": slope}
