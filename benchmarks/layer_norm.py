"""Layer normalisation (SPEC 10): what it costs and what it buys.

    python benchmarks/layer_norm.py --cost      # epoch time with/without, W2 and W4
    python benchmarks/layer_norm.py --quality   # 4-layer stacks on real sets
    python benchmarks/layer_norm.py --quick     # smoke run of both

``--cost`` times one training epoch (``partial_fit`` on the SPEC 8 data) of
each cell with ``layer_norm`` False and True, alternating the two, and
prints the best of ``--repeats`` and the ratio; the goal is at most 1.15.
``--quality`` fits a deep stack (4 layers, default 32 units) with and
without layer normalisation on real sets of ``quality.py`` (long and
multivariate ones), over seeds, and prints the held-out score, its minimum
and the epochs the fit ran (early stopping on the training loss, the
estimators' defaults otherwise).
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def _epoch_seconds(workload, cell, layer_norm, n_samples=None):
    from crnn import RNNRegressor

    w = common.WORKLOADS[workload]
    X, y = common.make_data(workload, n_samples)
    model = RNNRegressor(cell=cell, hidden_layer_sizes=(w["H"],) * w["layers"],
                         batch_size=w["batch"], learning_rate_init=common.LEARNING_RATE,
                         layer_norm=layer_norm, random_state=common.SEED)
    model.partial_fit(X, y)  # warm: allocation, first touch

    def epoch():
        start = time.perf_counter()
        model.partial_fit(X, y)
        return time.perf_counter() - start
    return epoch


def cost(workloads, cells, repeats, n_samples=None):
    print(f"{'workload':<9}{'cell':<6}{'plain s':>9}{'layer_norm s':>14}{'ratio':>8}")
    for workload in workloads:
        for cell in cells:
            runs = {False: _epoch_seconds(workload, cell, False, n_samples),
                    True: _epoch_seconds(workload, cell, True, n_samples)}
            times = {False: [], True: []}
            for _ in range(repeats):
                for layer_norm in (False, True):  # alternating
                    times[layer_norm].append(runs[layer_norm]())
            plain, normed = min(times[False]), min(times[True])
            print(f"{workload:<9}{cell:<6}{plain:>9.3f}{normed:>14.3f}{normed / plain:>8.2f}",
                  flush=True)


def quality(sets, cells, seeds, hidden, max_iter):
    import quality as q

    print(f"4-layer stacks of {hidden} units, seeds {list(range(seeds))}, max_iter "
          f"{max_iter or 'default'}")
    print(f"{'set':<17}{'cell':<6}{'plain':>8}{'min':>7}{'ep':>6}{'LN':>8}{'min':>7}{'ep':>6}")
    for name in sets:
        data = q.load(name)
        for cell in cells:
            row = {}
            for layer_norm in (False, True):
                params = {"hidden_layer_sizes": (hidden,) * 4, "layer_norm": layer_norm}
                scores, epochs = [], []
                for seed in range(seeds):
                    score, _, n_epochs, _ = q.fit_crnn(data, cell, seed, params, max_iter)
                    scores.append(score)
                    epochs.append(n_epochs)
                row[layer_norm] = (np.mean(scores), np.min(scores), np.mean(epochs))
            a, b = row[False], row[True]
            print(f"{name:<17}{cell:<6}{a[0]:>8.3f}{a[1]:>7.3f}{a[2]:>6.0f}"
                  f"{b[0]:>8.3f}{b[1]:>7.3f}{b[2]:>6.0f}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cost", action="store_true")
    parser.add_argument("--quality", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run of both")
    parser.add_argument("--workloads", default="W2,W4")
    parser.add_argument("--cells", default="rnn,lstm,gru")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", default="GunPoint,BasicMotions,PickupGesture,ArrowHead")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    if not (args.cost or args.quality or args.quick):
        args.cost = args.quality = True
    if args.quick:
        cost(["W2"], ["gru"], 1, n_samples=128)
        quality(["ItalyPowerDemand"], ["gru"], 1, 8, 2)
        return
    if args.cost:
        cost(args.workloads.split(","), args.cells.split(","), args.repeats)
    if args.quality:
        quality(args.sets.split(","), [c for c in args.cells.split(",") if c != "rnn"]
                or ["lstm"], args.seeds, args.hidden, None)


if __name__ == "__main__":
    main()
