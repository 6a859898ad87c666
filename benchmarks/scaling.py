"""How epoch time grows with N, T, H and a ragged workload's valid steps (SPEC 8).

    python benchmarks/scaling.py --axis T [--values 25,50,100,200,400,800]
    python benchmarks/scaling.py --axis N [--values 256,512,1024,2048,4096]
    python benchmarks/scaling.py --axis H [--values 32,64,128,256,512]
    python benchmarks/scaling.py --axis ragged [--values 50,100,200,400,800]
    python benchmarks/scaling.py --all --plot docs/_static/scaling.png --json out.json
        [--cells lstm,gru] [--repeats 3] [--no-torch] [--threads N]

One training epoch at W2's sizes (N = 512 sequences, T = 100 steps, I = 32,
H = 128, batch 64, one layer, float32) with one size varied, for crnn and,
when PyTorch is installed, for the same model in PyTorch (``common.py``'s
runners: Adam, same threads), alternating the two libraries at each point;
median of the repeats, each model warmed up by one epoch at that size. Then
the least-squares slope of log(time) against log(size): the fitted exponent.
Goals: N and T within 0.1 of 1.0 (without flush-to-zero in the kernels the
T slope over 100..200 was far above 1, from subnormal deltas: this guards
it); H tends to 2 once the per-step GEMMs dominate. ``--lengths`` and
``--n`` are the older spelling of ``--axis T --values`` and the base N.

The ``ragged`` axis is SPEC 8's ragged workload (``sequences.py``'s RAGGED:
lengths uniform in [10, L], seeded) at the same base sizes, with the longest
length L varied; its x value is the mean number of valid steps per sequence.
Contenders: crnn on the ragged list (``crnn``), crnn on the same data
zero-padded to L steps and read as full-length sequences (``crnn-padded``,
N x L steps of work) and PyTorch on ``pack_padded_sequence`` (``torch``).
Goals: crnn's ragged epoch linear in the valid steps (slope within 0.1 of
1), and ragged/padded near the share of valid steps, (L + 10) / 2L.

The asv suite runs the same epochs (``benchmarks.py``: ``ScalingT``,
``ScalingN``, ``ScalingH``, ``ScalingRagged``).
"""
import argparse
import json
import statistics
import warnings

import numpy as np

if __package__:
    from . import common, sequences
else:  # run as a script: benchmarks/ is sys.path[0]
    import common
    import sequences

BASE = {"N": 512, "T": 100, "I": 32, "H": 128, "batch": 64, "layers": 1}
VALUES = {"T": [25, 50, 100, 200, 400, 800], "N": [256, 512, 1024, 2048, 4096],
          "H": [32, 64, 128, 256, 512], "ragged": [50, 100, 200, 400, 800]}
AXES = ("N", "T", "H", "ragged")
# The ragged axis's shortest length (sequences.py's RAGGED: lengths 10-200).
RAGGED_MIN_LENGTH = 10
# ragged axis: contender -> sequences.py's runner name
RAGGED_CONTENDERS = {"crnn": "crnn-ragged", "crnn-padded": "crnn-padded",
                     "torch": "torch-packed"}


def sizes(axis, value, base=None):
    """The workload dict of one point of a sweep."""
    w = dict(BASE if base is None else base)
    w[axis] = int(value)
    return w


def make_data(w, seed=common.SEED):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((w["N"], w["T"], w["I"]), dtype=np.float32)
    y = np.tanh(X[:, -1, 0] + X[:, -2, 1]).astype(np.float32)
    return X, y


def epoch_runner(library, cell, w, threads=None):
    """A warmed-up model of ``library`` at sizes ``w`` and a callable that
    trains one epoch (registered as a temporary workload of ``common``)."""
    name = f"scaling-{w['N']}-{w['T']}-{w['H']}"
    common.WORKLOADS[name] = {k: w[k] for k in ("N", "T", "I", "H", "batch", "layers")}
    X, y = make_data(w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if library == "crnn":
            runner = common.CrnnRunner(name, cell, X, y)
        else:
            runner = common.TorchRunner(name, cell, X, y, threads=threads)
    return _quiet_epoch(runner)


def _quiet_epoch(runner):
    """A callable that trains ``runner`` one epoch with warnings silenced."""
    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return runner.train_epoch()
    return epoch


def ragged_workload(longest, base=None):
    """Register sequences.py's workload of the ragged axis's point ``longest``
    (lengths uniform in [RAGGED_MIN_LENGTH, longest], base sizes otherwise);
    its name."""
    w = dict(BASE if base is None else base)
    name = f"scaling-ragged-{w['N']}-{int(longest)}-{w['H']}"
    sequences.SEQUENCE_WORKLOADS[name] = {
        "N": w["N"], "lengths": (RAGGED_MIN_LENGTH, int(longest)), "T": int(longest),
        "I": w["I"], "H": w["H"], "batch": w["batch"], "bidirectional": False}
    return name


def ragged_runner(contender, cell, longest, threads=None, base=None):
    """A warmed-up ``contender`` (crnn, crnn-padded or torch) on the ragged
    axis's point ``longest``, a callable that trains one epoch, and the mean
    valid steps per sequence of its data."""
    name = ragged_workload(longest, base)
    X, lengths, y = sequences.make_sequences(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner = sequences.make_sequence_runner(RAGGED_CONTENDERS[contender], name, cell,
                                                X, lengths, y, threads=threads)
    return _quiet_epoch(runner), float(np.mean(lengths))


def slope(values, seconds):
    """Least-squares slope of log(seconds) against log(values)."""
    return float(np.polyfit(np.log(values), np.log(seconds), 1)[0])


def sweep(axis, values, cells, libraries, repeats, threads=None, base=None):
    """{(library, cell): [seconds per value]} with the libraries alternating
    (on the ragged axis, ``crnn-padded`` joins them after ``crnn``), and the
    x values: ``values``, or on the ragged axis each point's mean valid steps
    per sequence."""
    if axis == "ragged":
        libraries = [lib for lib in RAGGED_CONTENDERS if lib != "torch" or "torch" in libraries]
    times = {(lib, cell): [] for lib in libraries for cell in cells}
    xs = list(values)
    for cell in cells:
        for i, value in enumerate(values):
            if axis == "ragged":
                runners = {}
                for lib in libraries:
                    runners[lib], xs[i] = ragged_runner(lib, cell, value, threads, base)
            else:
                w = sizes(axis, value, base)
                runners = {lib: epoch_runner(lib, cell, w, threads) for lib in libraries}
            samples = {lib: [] for lib in libraries}
            for _ in range(repeats):
                for lib in libraries:
                    samples[lib].append(common.timed(runners[lib])[0])
            for lib in libraries:
                times[(lib, cell)].append(statistics.median(samples[lib]))
            print(f"{axis}={value:>5} {cell:>5}: " + "  ".join(
                f"{lib} {times[(lib, cell)][-1]:.4f} s" for lib in libraries)
                + (f"  (mean valid steps {xs[i]:.1f}, ragged/padded "
                   f"{times[('crnn', cell)][-1] / times[('crnn-padded', cell)][-1]:.2f} "
                   f"against a valid share of {xs[i] / value:.2f})" if axis == "ragged" else ""),
                flush=True)
    return times, xs


COLOURS = {"crnn/lstm": "C0", "crnn/gru": "C1", "torch/lstm": "C2", "torch/gru": "C3",
           "crnn-padded/lstm": "C9", "crnn-padded/gru": "C8", "crnn/rnn": "C4",
           "torch/rnn": "C5", "crnn-padded/rnn": "C6"}


def plot(results, path, base=BASE):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    axes_present = [a for a in AXES if a in results]
    fig, axes = plt.subplots(1, len(axes_present), figsize=(4.2 * len(axes_present), 3.6))
    axes = np.atleast_1d(axes)
    for ax, axis in zip(axes, axes_present):
        r = results[axis]
        xs = r.get("x", r["values"])
        for key, secs in r["times"].items():
            lib, cell = key.split("/")
            # one colour per contender and cell in every panel
            colour = COLOURS.get(key)
            ax.loglog(xs, secs, {"crnn": "o-", "crnn-padded": "^:"}.get(lib, "s--"),
                      color=colour, label=f"{lib} {cell} (slope {r['slopes'][key]:.2f})")
        # label the measured sizes only (log axes' default minor labels collide)
        ax.set_xticks(xs, [f"{v:.0f}" for v in xs])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        if axis == "ragged":
            ax.set(xlabel=f"mean valid steps (lengths {RAGGED_MIN_LENGTH} to "
                          f"{r['values'][0]}..{r['values'][-1]})",
                   title="ragged: epoch time against valid steps")
        else:
            ax.set(xlabel={"N": "sequences N", "T": "steps T", "H": "hidden units H"}[axis],
                   title=f"epoch time against {axis}")
        ax.set(ylabel="seconds per epoch")
        ax.legend(fontsize=7)
    fig.suptitle(f"N {base['N']}, T {base['T']}, I {base['I']}, H {base['H']}, batch "
                 f"{base['batch']}, one varied (ragged: lengths uniform in "
                 f"[{RAGGED_MIN_LENGTH}, L], L varied, "
                 "crnn-padded the same data padded to L); log-log, median of the repeats",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--axis", choices=AXES, default="T")
    p.add_argument("--all", action="store_true", help="sweep N, T, H and ragged")
    p.add_argument("--values", default=None)
    p.add_argument("--lengths", default=None, help="older spelling of --axis T --values")
    p.add_argument("--n", type=int, default=None, help="base N (default 512)")
    p.add_argument("--cells", default="lstm,gru")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--plot", default=None, help="write the log-log plot here (png)")
    p.add_argument("--json", default=None)
    p.add_argument("--rst-table", default=None,
                   help="write the fitted exponents as an reStructuredText table here")
    args = p.parse_args(argv)
    base = dict(BASE)
    if args.n is not None:
        base["N"] = args.n
    if args.lengths:
        args.axis, args.values = "T", args.lengths
    axes = list(AXES) if args.all else [args.axis]
    libraries = ["crnn"] + ([] if args.no_torch or not common.torch_available() else ["torch"])
    cells = args.cells.split(",")
    from threadpoolctl import threadpool_limits
    limit = threadpool_limits(args.threads, user_api="blas") if args.threads else None
    results = {}
    try:
        for axis in axes:
            values = ([int(v) for v in args.values.split(",")] if args.values and not args.all
                      else VALUES[axis])
            times, xs = sweep(axis, values, cells, libraries, args.repeats, args.threads,
                              base)
            slopes = {f"{lib}/{cell}": slope(xs, t) for (lib, cell), t in times.items()}
            results[axis] = {"values": values, "slopes": slopes,
                             "times": {f"{lib}/{cell}": t for (lib, cell), t in times.items()}}
            if axis == "ragged":
                results[axis]["x"] = xs
            for key, value in slopes.items():
                print(f"{key:>17} log-log slope of epoch time in "
                      f"{'mean valid steps' if axis == 'ragged' else axis} over "
                      f"{[round(x, 1) for x in xs]}: {value:.3f}")
    finally:
        if limit is not None:
            limit.restore_original_limits()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"base": base, "results": results}, f, indent=1)
    if args.plot:
        plot(results, args.plot, base)
    if args.rst_table:
        write_rst_table(results, args.rst_table)


def write_rst_table(results, path):
    """The fitted exponents, one row per library and cell, one column per axis."""
    axes = [a for a in AXES if a in results]
    keys = list(dict.fromkeys(k for a in axes for k in results[a]["slopes"]))
    lines = [".. list-table:: fitted exponent of epoch time (log-log slope)",
             "   :header-rows: 1", "", "   * - library / cell"]
    for axis in axes:
        values = results[axis]["values"]
        lines.append(f"     - valid steps (lengths {RAGGED_MIN_LENGTH} to {values[0]}-{values[-1]})"
                     if axis == "ragged" else f"     - {axis} ({values[0]}-{values[-1]})")
    for key in keys:
        lines.append(f"   * - {key}")
        lines += [f"     - {results[axis]['slopes'][key]:.2f}" if key in results[axis]["slopes"]
                  else "     - n/a" for axis in axes]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
