"""Fit/predict cycles with the resident set size sampled after each one.

A leak in the kernels (a buffer never freed, a reference never dropped)
shows as RSS growing linearly with the number of cycles; allocator noise
does not. After ``warmup`` cycles (caches, lazy imports, the allocator's
pools settle), the least-squares slope of RSS over the remaining cycles and
the total growth are reported.

Usage::

    python tools/leak_check.py --cycles 1000          # prints a JSON report
    python tools/leak_check.py --cycles 1000 --max-slope 1024   # exit 1 above

``tests/test_reliability.py`` runs a short version.
"""
import argparse
import gc
import json
import os
import sys
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--max-slope", type=float, default=None,
                        help="exit 1 if RSS grows faster than this many bytes per cycle")
    args = parser.parse_args(argv)
    report = run(args.cycles, args.warmup)
    print(json.dumps(report))
    if args.max_slope is not None and report["slope_bytes_per_cycle"] > args.max_slope:
        print(f"RSS grows {report['slope_bytes_per_cycle']:.0f} bytes per cycle "
              f"(limit {args.max_slope:.0f})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
