"""SequenceScaler against PerStep(StandardScaler()): time and peak memory.

Both standardise each feature over all valid time steps. PerStep stacks the
steps into a (n_valid_steps, n_features) matrix for StandardScaler (a view
for an unpadded C-contiguous 3-D array, a copy for padded or ragged input);
SequenceScaler accumulates the statistics block by block and maps the
sequences in place of a stacked copy. Three inputs, float32, the same values:

- 3-D:     (2000, 200, 32), no padding
- padded:  (2000, 200, 32), sequence i has 100-200 valid steps, then NaN
- ragged:  a list of 2000 arrays (100-200, 32), the padded data's valid steps

Times are the best of ``--repeats``; peak memory is what the operation
allocates beyond its input (tracemalloc, one extra run).

    python benchmarks/preprocessing_timing.py [--repeats 5] [--quick]
"""
import argparse
import time
import tracemalloc

import numpy as np
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from crnn.preprocessing import PerStep, SequenceScaler


def make_inputs(n_samples, n_steps, n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = (3.0 + 2.0 * rng.standard_normal((n_samples, n_steps, n_features))).astype(np.float32)
    lengths = rng.integers(n_steps // 2, n_steps + 1, size=n_samples)
    padded = X.copy()
    padded[np.arange(n_steps) >= lengths[:, None]] = np.nan
    ragged = [x[:t].copy() for x, t in zip(X, lengths)]
    return {"3-D": X, "padded": padded, "ragged": ragged}


def best_time(func, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_mib(func):
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="(200, 50, 8): smoke run")
    args = parser.parse_args()
    shape = (200, 50, 8) if args.quick else (2000, 200, 32)
    inputs = make_inputs(*shape)
    scalers = {"SequenceScaler()": SequenceScaler(),
               "PerStep(StandardScaler())": PerStep(StandardScaler())}
    print(f"float32 sequences {shape}, best of {args.repeats}; "
          "peak = MiB allocated beyond the input")
    print(f"{'input':>7} {'scaler':>26} {'fit ms':>8} {'transform ms':>13} "
          f"{'fit_transform ms':>17} {'peak MiB':>9}")
    for name, X in inputs.items():
        results = {}
        for label, scaler in scalers.items():
            fitted = clone(scaler).fit(X)
            fit = best_time(lambda: clone(scaler).fit(X), args.repeats)
            transform = best_time(lambda: fitted.transform(X), args.repeats)
            fit_transform = best_time(lambda: clone(scaler).fit_transform(X), args.repeats)
            peak = peak_mib(lambda: clone(scaler).fit_transform(X))
            results[label] = fitted
            print(f"{name:>7} {label:>26} {fit * 1e3:8.1f} {transform * 1e3:13.1f} "
                  f"{fit_transform * 1e3:17.1f} {peak:9.1f}")
        ours, theirs = results.values()
        assert np.allclose(ours.mean_, theirs.transformer_.mean_, rtol=1e-6)
        assert np.allclose(ours.scale_, theirs.transformer_.scale_, rtol=1e-6)


if __name__ == "__main__":
    main()
