"""How epoch time grows with the sequence length T (SPEC 8: linear in T).

    python benchmarks/scaling.py [--cells lstm] [--lengths 25,50,100,200,400,800]
                                 [--n 512] [--threads N] [--repeats 3]

One training epoch of crnn at W2's sizes (I = 32, H = 128, batch 64, one
layer, float32) for each T, from a model warmed up by one epoch at that T;
median of the repeats; then the least-squares slope of log(time) against
log(T). Goal: within 0.1 of 1.0. Without flush-to-zero in the kernels the
slope over T = 100..200 was far above 1 (20x the time for 2x the steps:
subnormal deltas), which is what this guards. ``--threads 1`` measures one
core. The asv suite runs the same epochs (``benchmarks.py``: ``ScalingT``).
"""
import argparse
import statistics
import warnings

import numpy as np

if __package__:
    from . import common
else:  # run as a script: benchmarks/ is sys.path[0]
    import common

SIZES = {"I": 32, "H": 128, "batch": 64}


def epoch_runner(cell, n_steps, n_samples, seed=common.SEED):
    """A warmed-up crnn regressor and a callable that trains one epoch."""
    from crnn import RNNRegressor

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_steps, SIZES["I"]), dtype=np.float32)
    y = np.tanh(X[:, -1, 0] + X[:, -2, 1]).astype(np.float32)
    model = RNNRegressor(cell=cell, hidden_layer_sizes=(SIZES["H"],),
                         batch_size=SIZES["batch"], learning_rate_init=common.LEARNING_RATE,
                         random_state=seed)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.partial_fit(X, y)
    epoch()
    return epoch


def slope(lengths, seconds):
    """Least-squares slope of log(seconds) against log(lengths)."""
    return float(np.polyfit(np.log(lengths), np.log(seconds), 1)[0])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cells", default="lstm")
    p.add_argument("--lengths", default="25,50,100,200,400,800")
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    lengths = [int(t) for t in args.lengths.split(",")]
    from threadpoolctl import threadpool_limits
    limit = threadpool_limits(args.threads, user_api="blas") if args.threads else None
    try:
        for cell in args.cells.split(","):
            times = []
            for T in lengths:
                epoch = epoch_runner(cell, T, args.n)
                times.append(statistics.median(common.timed(epoch)[0]
                                               for _ in range(args.repeats)))
                print(f"{cell:>5} T={T:>4}: {times[-1]:.4f} s per epoch", flush=True)
            print(f"{cell:>5} log-log slope of epoch time in T over {lengths}: "
                  f"{slope(lengths, times):.3f}")
    finally:
        if limit is not None:
            limit.restore_original_limits()


if __name__ == "__main__":
    main()
