"""One-at-a-time sweeps of crnn's training settings over the quality sets.

    python benchmarks/quality_sweep.py --sweep forget_bias [--sets ...]
                                       [--cells lstm,gru] [--seeds 3]

Each sweep varies one setting (``SWEEPS``) around the current defaults
(``--base NAME=VALUE`` changes the base) and prints, per variant, the mean
held-out score on every set (over the seeds and cells) and the variant's
rank on each set (1 = best; ties share the mean rank), then the mean rank
over the sets, which is how the defaults were chosen (benchmarks/NOTES.md,
"Model quality on real data"). Inputs are standardised as in quality.py
unless the variant says ``raw``. No PyTorch. Single-threaded.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quality  # noqa: E402

# name: list of (label, estimator parameters); "raw" is not a parameter but
# feeds the unscaled inputs
SWEEPS = {
    "scaling": [("standardised", {}), ("raw", {"raw": True})],
    "forget_bias": [(f"forget_bias={v}", {"forget_bias": v}) for v in (0.0, 1.0, 2.0)],
    "learning_rate": [(f"lr={v}", {"learning_rate_init": v}) for v in (1e-3, 3e-3, 1e-2)],
    "batch_size": [(f"batch={v}", {"batch_size": v}) for v in (8, 16, 32)],
    "forget_bias_01": [(f"forget_bias={v}", {"forget_bias": v}) for v in (0.0, 1.0)],
    "learning_rate_13": [(f"lr={v}", {"learning_rate_init": v}) for v in (1e-3, 3e-3)],
    "clip": [(f"clip={v}", {"clip_grad_norm": v}) for v in (1.0, 5.0, None)],
    "recurrent_init": [(f"init={v}", {"recurrent_init": v}) for v in ("uniform", "orthogonal")],
    "bidirectional": [(f"bidirectional={v}", {"bidirectional": v}) for v in (False, True)],
    "depth": [("1x64", {"hidden_layer_sizes": (64,)}), ("2x64", {"hidden_layer_sizes": (64, 64)}),
              ("1x32", {"hidden_layer_sizes": (32,)})],
    # "steps_per_epoch": k sets batch_size = clip(n_train // k, 4, 32), so a
    # small training set still gets about k optimizer steps per epoch
    "batch_rule": [("batch=min(32,n)", {}),
                   ("batch=clip(n//8,4,32)", {"steps_per_epoch": 8}),
                   ("batch=clip(n//16,4,32)", {"steps_per_epoch": 16})],
    "patience": [(f"n_iter_no_change={v}", {"n_iter_no_change": v}) for v in (10, 30, 50, 200)],
}

DEFAULT_SETS = ("ItalyPowerDemand", "GunPoint", "ArrowHead", "BasicMotions",
                "JapaneseVowels", "PickupGesture", "Covid3Month", "CardanoSentiment",
                "Airline", "Solar", "USChange")


_uniform_init = None


def _set_recurrent_init(kind):
    """Experiment hook: orthogonal W_hh gate blocks after the uniform draw.

    Patches RecurrentNetwork.init_params (used only by this sweep, to test
    the idea before it becomes a parameter).
    """
    global _uniform_init
    from crnn import _network

    if _uniform_init is None:
        _uniform_init = _network.RecurrentNetwork.init_params
    if kind == "uniform":
        _network.RecurrentNetwork.init_params = _uniform_init
        return

    def init_params(self, rng, forget_bias=0.0):
        flat = _uniform_init(self, rng, forget_bias)
        for layer in self.views(flat)[:-1]:
            for name in [n for n in layer if n.startswith("W_hh")]:
                W = layer[name]
                H = W.shape[1]
                for g in range(W.shape[0] // H):
                    q, r = np.linalg.qr(rng.standard_normal((H, H)))
                    W[g * H:(g + 1) * H] = q * np.sign(np.diag(r))
        return flat

    _network.RecurrentNetwork.init_params = init_params


def _ranks(values):
    # rank 1 = highest score; ties get the mean of the ranks they span
    order = np.argsort(-np.asarray(values), kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for v in set(values):
        tied = [i for i, w in enumerate(values) if w == v]
        ranks[tied] = ranks[tied].mean()
    return ranks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", required=True, choices=sorted(SWEEPS))
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS))
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--base", action="append", metavar="NAME=VALUE",
                        help="a base estimator parameter (JSON value), repeatable")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    base = quality._parse_params(args.base)
    names, cells = args.sets.split(","), args.cells.split(",")
    seeds = list(range(args.seeds))
    variants = SWEEPS[args.sweep]
    print(f"sweep {args.sweep}, base {base or 'defaults'}, cells {cells}, seeds {seeds}")
    scores = {label: {} for label, _ in variants}
    seconds = {label: 0.0 for label, _ in variants}
    for name in names:
        loaded = {}
        for label, variant in variants:
            params = {**base, **variant}
            raw = params.pop("raw", False)
            if raw not in loaded:
                loaded[raw] = quality.load(name, raw=raw)
            data = loaded[raw]
            per_epoch = params.pop("steps_per_epoch", None)
            if per_epoch:
                params["batch_size"] = int(np.clip(len(data["y_train"]) // per_epoch, 4, 32))
            _set_recurrent_init(params.pop("recurrent_init", "uniform"))
            start = time.perf_counter()
            r = quality.run_cell_multi(data, cells, seeds, params, args.max_iter)
            seconds[label] += time.perf_counter() - start
            scores[label][name] = r
        line = "  ".join(f"{label}: {np.mean(scores[label][name]):.3f}"
                         f" (min {np.min(scores[label][name]):.3f})" for label, _ in variants)
        print(f"{name:<17} {line}", flush=True)
    labels = [label for label, _ in variants]
    rank_table = np.array([_ranks([round(float(np.mean(scores[lb][n])), 3) for lb in labels])
                           for n in names])
    print(f"{'variant':<24}{'mean rank':>10}{'mean score':>11}{'fit s (busy)':>13}")
    for j, label in enumerate(labels):
        print(f"{label:<24}{rank_table[:, j].mean():>10.2f}"
              f"{np.mean([np.mean(scores[label][n]) for n in names]):>11.3f}"
              f"{seconds[label]:>13.0f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sweep": args.sweep, "base": {k: str(v) for k, v in base.items()},
                       "cells": cells, "seeds": seeds, "scores": scores}, f, indent=1)


if __name__ == "__main__":
    main()
