"""How epoch time grows with N, T and H (SPEC 8: linear in N and in T).

    python benchmarks/scaling.py --axis T [--values 25,50,100,200,400,800]
    python benchmarks/scaling.py --axis N [--values 256,512,1024,2048,4096]
    python benchmarks/scaling.py --axis H [--values 32,64,128,256,512]
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
The asv suite runs the same epochs (``benchmarks.py``: ``ScalingT``,
``ScalingN``, ``ScalingH``).
"""
import argparse
import json
import statistics
import warnings

import numpy as np

if __package__:
    from . import common
else:  # run as a script: benchmarks/ is sys.path[0]
    import common

BASE = {"N": 512, "T": 100, "I": 32, "H": 128, "batch": 64, "layers": 1}
VALUES = {"T": [25, 50, 100, 200, 400, 800], "N": [256, 512, 1024, 2048, 4096],
          "H": [32, 64, 128, 256, 512]}


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

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return runner.train_epoch()
    return epoch


def slope(values, seconds):
    """Least-squares slope of log(seconds) against log(values)."""
    return float(np.polyfit(np.log(values), np.log(seconds), 1)[0])


def sweep(axis, values, cells, libraries, repeats, threads=None, base=None):
    """{(library, cell): [seconds per value]} with the libraries alternating."""
    times = {(lib, cell): [] for lib in libraries for cell in cells}
    for cell in cells:
        for value in values:
            w = sizes(axis, value, base)
            runners = {lib: epoch_runner(lib, cell, w, threads) for lib in libraries}
            samples = {lib: [] for lib in libraries}
            for _ in range(repeats):
                for lib in libraries:
                    samples[lib].append(common.timed(runners[lib])[0])
            for lib in libraries:
                times[(lib, cell)].append(statistics.median(samples[lib]))
            print(f"{axis}={value:>5} {cell:>5}: " + "  ".join(
                f"{lib} {times[(lib, cell)][-1]:.4f} s" for lib in libraries), flush=True)
    return times


def plot(results, path, base=BASE):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    axes_present = [a for a in ("N", "T", "H") if a in results]
    fig, axes = plt.subplots(1, len(axes_present), figsize=(4.2 * len(axes_present), 3.6))
    axes = np.atleast_1d(axes)
    for ax, axis in zip(axes, axes_present):
        r = results[axis]
        for key, secs in r["times"].items():
            lib, cell = key.split("/")
            ax.loglog(r["values"], secs, "o-" if lib == "crnn" else "s--",
                      label=f"{lib} {cell} (slope {r['slopes'][key]:.2f})")
        # label the measured sizes only (log axes' default minor labels collide)
        ax.set_xticks(r["values"], [str(v) for v in r["values"]])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set(xlabel={"N": "sequences N", "T": "steps T", "H": "hidden units H"}[axis],
               ylabel="seconds per epoch", title=f"epoch time against {axis}")
        ax.legend(fontsize=7)
    fig.suptitle(f"N {base['N']}, T {base['T']}, I {base['I']}, H {base['H']}, batch "
                 f"{base['batch']}, one varied; log-log, median of the repeats", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--axis", choices=("N", "T", "H"), default="T")
    p.add_argument("--all", action="store_true", help="sweep N, T and H")
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
    axes = ["N", "T", "H"] if args.all else [args.axis]
    libraries = ["crnn"] + ([] if args.no_torch or not common.torch_available() else ["torch"])
    cells = args.cells.split(",")
    from threadpoolctl import threadpool_limits
    limit = threadpool_limits(args.threads, user_api="blas") if args.threads else None
    results = {}
    try:
        for axis in axes:
            values = ([int(v) for v in args.values.split(",")] if args.values and not args.all
                      else VALUES[axis])
            times = sweep(axis, values, cells, libraries, args.repeats, args.threads, base)
            slopes = {f"{lib}/{cell}": slope(values, t) for (lib, cell), t in times.items()}
            results[axis] = {"values": values, "slopes": slopes,
                             "times": {f"{lib}/{cell}": t for (lib, cell), t in times.items()}}
            for key, value in slopes.items():
                print(f"{key:>12} log-log slope of epoch time in {axis} over {values}: "
                      f"{value:.3f}")
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
    axes = [a for a in ("N", "T", "H") if a in results]
    keys = list(next(iter(results.values()))["slopes"])
    lines = [".. list-table:: fitted exponent of epoch time (log-log slope)",
             "   :header-rows: 1", "", "   * - library / cell"]
    lines += [f"     - {axis} ({results[axis]['values'][0]}-{results[axis]['values'][-1]})"
              for axis in axes]
    for key in keys:
        lines.append(f"   * - {key}")
        lines += [f"     - {results[axis]['slopes'][key]:.2f}" for axis in axes]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
