"""Does bucketing minibatches by length pay on top of packed minibatches?

    python benchmarks/bucketing.py [--cells lstm] [--repeats 5] [--quick]

crnn packs each minibatch (sequences sorted by length, ``batch_sizes[t]``
rows active at step t), so padded steps cost nothing whatever the mix of
lengths: the floating-point work of an epoch is the sum of the lengths in
both cases. What bucketing could still change is the number of per-step
calls and their row counts: a random minibatch of the RAGGED workload runs
for its longest sequence (about 195 of at most 200 steps) with row counts
shrinking towards 1, a bucket of similar lengths runs for fewer steps with
all rows full. This script times one training epoch of the RAGGED workload
(benchmarks/sequences.py) two ways, alternating:

- ``random``: the estimator's own shuffled minibatches (``shuffle=True``);
- ``bucketed``: the data sorted by length and read in order
  (``shuffle=False``), so each minibatch holds neighbouring lengths: the
  best case for bucketing (a real bucketing sampler shuffles inside and
  between buckets and cannot do better).

It prints the median epoch times, their ratio and the mean number of
per-step calls per minibatch.
"""
import argparse
import statistics
import warnings

import numpy as np

if __package__:
    from . import common
    from .sequences import SEQUENCE_WORKLOADS, make_sequences
else:  # run as a script: benchmarks/ is sys.path[0]
    import common
    from sequences import SEQUENCE_WORKLOADS, make_sequences


def _estimator(cell, shuffle):
    from crnn import RNNRegressor

    w = SEQUENCE_WORKLOADS["RAGGED"]
    return RNNRegressor(cell=cell, hidden_layer_sizes=(w["H"],), batch_size=w["batch"],
                        learning_rate_init=common.LEARNING_RATE, shuffle=shuffle,
                        random_state=common.SEED)


def steps_per_minibatch(lengths, batch, order):
    chunks = [order[i:i + batch] for i in range(0, len(order), batch)]
    return float(np.mean([lengths[c].max() for c in chunks]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", default="lstm")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="256 sequences, 1 repeat")
    args = p.parse_args(argv)
    n = 256 if args.quick else None
    repeats = 1 if args.quick else args.repeats
    X, lengths, y = make_sequences("RAGGED", n_samples=n)
    batch = SEQUENCE_WORKLOADS["RAGGED"]["batch"]
    ragged = [x[:k] for x, k in zip(X, lengths)]
    by_length = np.argsort(lengths, kind="stable")
    sorted_X = [ragged[i] for i in by_length]
    sorted_y = y[by_length]
    rng = np.random.default_rng(common.SEED)
    print(f"RAGGED: {len(ragged)} sequences, lengths {lengths.min()}-{lengths.max()}, "
          f"batch {batch}; steps per minibatch: random "
          f"{steps_per_minibatch(lengths, batch, rng.permutation(len(lengths))):.1f}, "
          f"bucketed {steps_per_minibatch(lengths, batch, by_length):.1f}")
    print(f"{'cell':>5} {'random s':>9} {'bucketed s':>11} {'bucketed/random':>16}")
    for cell in args.cells.split(","):
        contenders = {"random": (_estimator(cell, True), ragged, y),
                      "bucketed": (_estimator(cell, False), sorted_X, sorted_y)}
        times = {name: [] for name in contenders}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for est, Xc, yc in contenders.values():
                est.partial_fit(Xc, yc)  # warm: first epoch allocates
            for _ in range(repeats):
                for name, (est, Xc, yc) in contenders.items():
                    times[name].append(common.timed(lambda: est.partial_fit(Xc, yc))[0])
        med = {name: statistics.median(t) for name, t in times.items()}
        print(f"{cell:>5} {med['random']:9.3f} {med['bucketed']:11.3f} "
              f"{med['bucketed'] / med['random']:16.3f}")


if __name__ == "__main__":
    main()
