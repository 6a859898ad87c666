"""Print the crnn / PyTorch ratio table of SPEC section 8 without asv.

    python benchmarks/compare.py [--workloads W1,W2] [--cells rnn,lstm]
                                 [--repeats 5] [--threads N] [--quick] [--json PATH]

For each workload x cell it builds both models (one warm epoch and one warm
inference each) and, when onnxruntime is installed, an ONNX Runtime session
of the PyTorch model exported with ``torch.onnx.export`` (SPEC 8's second
inference peer), then measures them alternately in this process -- crnn
epoch, PyTorch epoch, [NumPy reference epoch, W1 only], crnn inference,
PyTorch inference, ONNX Runtime inference, and again -- and reports the
median of the repeats:

- epoch and inference seconds of crnn and PyTorch and the ratio crnn/PyTorch
  (lower is better; the SPEC targets, training/inference, next to it); for
  W5 also the ratios against PyTorch with ``torch.set_flush_denormal(True)``,
- ONNX Runtime's inference seconds and the ratio crnn/ONNX Runtime (SPEC 8:
  below 1 everywhere), with the largest difference between its outputs and
  PyTorch's (the exported graph computes the same model),
- crnn's achieved GFLOP/s (GEMM flops: forward ``2 T N (I+H) G H`` per layer,
  backward ~2x forward, so a training epoch counts 3x the forward),
- for W1 the epoch time of the pure NumPy reference (crnn.reference.train_epoch),
- the training loss of the last measured epoch (0.5 * MSE) of both libraries,
  so that a speed-up that breaks learning is visible.

It measures the machine's sgemm peak (2048x2048 float32 products through
SciPy's BLAS, which crnn calls, and through NumPy; best of several, same
thread count, before and after the table) and prints crnn's W3 forward (inference) GFLOP/s as a
percentage of it. PyTorch gets the thread count of crnn's BLAS
(``torch.set_num_threads``). Without PyTorch installed only crnn's columns
are printed. ``--quick`` (a smoke run) uses 128 sequences per workload and
one repeat: its numbers are not comparable with the targets.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

if __package__:
    from . import common
else:  # run as a script: benchmarks/ is sys.path[0]
    import common

QUICK_N = 128


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default=",".join(common.WORKLOADS),
                   help="comma-separated subset of %(default)s")
    p.add_argument("--cells", default=",".join(common.CELLS),
                   help="comma-separated subset of %(default)s")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats per measurement (default 5, 1 with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS (and PyTorch) threads; default: what crnn's BLAS uses")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: N={QUICK_N} sequences, 1 repeat")
    p.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    p.add_argument("--no-ort", action="store_true",
                   help="skip ONNX Runtime even if installed (it runs PyTorch's export, "
                        "so --no-torch skips it too)")
    p.add_argument("--json", metavar="PATH", help="also save the results as JSON")
    p.add_argument("--csv", metavar="PATH",
                   help="also save the ratio table as CSV (the docs' copy: "
                        "docs/examples/compare_2cores.csv, drawn by the Performance page)")
    p.add_argument("--rst-table", metavar="PATH",
                   help="also save the ratio table as an reStructuredText table (the docs' "
                        "copy: docs/user_guide/compare_table.inc)")
    args = p.parse_args(argv)
    args.workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    args.cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    for w in args.workloads:
        if w not in common.WORKLOADS:
            p.error(f"unknown workload {w!r}; choose from {', '.join(common.WORKLOADS)}")
    for c in args.cells:
        if c not in common.CELLS:
            p.error(f"unknown cell {c!r}; choose from {', '.join(common.CELLS)}")
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    return args


def sgemm_peak(threads, n=2048, repeats=5):
    """Best GFLOP/s of an n x n x n float32 product, through SciPy and NumPy."""
    from scipy.linalg import blas
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    af, bf = np.asfortranarray(a), np.asfortranarray(b)
    flops = 2.0 * n ** 3
    result = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for name, fn in (("scipy_sgemm", lambda: blas.sgemm(1.0, af, bf)),
                         ("numpy_matmul", lambda: a @ b)):
            fn()
            best = min(common.timed(fn)[0] for _ in range(repeats))
            result[name] = flops / best / 1e9
    result["peak"] = max(result.values())
    return result


def measure(workload, cell, n_samples, repeats, threads, with_torch, with_ort=False):
    """Alternating measurements of one workload x cell; a dict of medians."""
    X, y = common.make_data(workload, n_samples)
    n = X.shape[0]
    row = {"workload": workload, "cell": cell, "n_samples": n}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runners = {"crnn": common.CrnnRunner(workload, cell, X, y, warm=True)}
        if with_torch:
            runners["torch"] = common.TorchRunner(workload, cell, X, y, threads=threads,
                                                  warm=True)
            if workload == "W5":  # SPEC 8: also against torch.set_flush_denormal(True)
                runners["torchflush"] = common.TorchRunner(workload, cell, X, y,
                                                           threads=threads, warm=True,
                                                           flush_denormal=True)
        ort = None
        if with_ort:
            ort = common.OrtRunner(runners["torch"], threads=threads)
            row["ort_max_diff"] = float(np.max(np.abs(ort.predict()
                                                      - runners["torch"].predict())))
        reference = None
        if workload == "W1":
            reference = common.ReferenceRunner(workload, cell, X, y,
                                               runners["crnn"].model.coefs_)
        for r in runners.values():
            r.predict()

        epoch = {k: [] for k in runners}
        infer = {k: [] for k in runners}
        ref_epoch = []
        ort_infer = []
        loss = {}
        for _ in range(repeats):
            for name, r in runners.items():
                seconds, loss[name] = common.timed(r.train_epoch)
                epoch[name].append(seconds)
            if reference is not None:
                seconds, loss["reference"] = common.timed(reference.train_epoch)
                ref_epoch.append(seconds)
            for name, r in runners.items():
                infer[name].append(common.timed(r.predict)[0])
            if ort is not None:
                ort_infer.append(common.timed(ort.predict)[0])

    for name in runners:
        row[f"epoch_{name}"] = statistics.median(epoch[name])
        row[f"infer_{name}"] = statistics.median(infer[name])
        row[f"loss_{name}"] = loss[name]
    if with_torch:
        row["epoch_ratio"] = row["epoch_crnn"] / row["epoch_torch"]
        row["infer_ratio"] = row["infer_crnn"] / row["infer_torch"]
        if "torchflush" in runners:
            row["epoch_ratio_flush"] = row["epoch_crnn"] / row["epoch_torchflush"]
            row["infer_ratio_flush"] = row["infer_crnn"] / row["infer_torchflush"]
    if ort is not None:
        row["infer_ort"] = statistics.median(ort_infer)
        row["infer_ratio_ort"] = row["infer_crnn"] / row["infer_ort"]
    row["train_target"] = common.TRAIN_TARGETS[workload]
    row["infer_target"] = common.infer_target(workload, cell)
    row["train_gflops_crnn"] = common.train_flops(workload, cell, n) / row["epoch_crnn"] / 1e9
    row["infer_gflops_crnn"] = common.forward_flops(workload, cell, n) / row["infer_crnn"] / 1e9
    if reference is not None:
        row["epoch_reference"] = statistics.median(ref_epoch)
        row["loss_reference"] = loss["reference"]
    return row


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def format_table(rows, with_torch, with_ort=False):
    cols = [("workload", "workload", "s"), ("cell", "cell", "s"),
            ("epoch crnn s", "epoch_crnn", ".4f")]
    if with_torch:
        cols += [("epoch torch s", "epoch_torch", ".4f"), ("ratio", "epoch_ratio", ".3f")]
    cols += [("infer crnn s", "infer_crnn", ".4f")]
    if with_torch:
        cols += [("infer torch s", "infer_torch", ".4f"), ("ratio", "infer_ratio", ".3f")]
    if with_ort:
        cols += [("infer ORT s", "infer_ort", ".4f"), ("crnn/ORT", "infer_ratio_ort", ".3f")]
    if with_torch:
        # W5: crnn against PyTorch with torch.set_flush_denormal(True)
        cols += [("ratio flush", "epoch_ratio_flush", ".3f"),
                 ("infer flush", "infer_ratio_flush", ".3f"),
                 ("targets", "targets", "s")]
    cols += [("train GF/s", "train_gflops_crnn", ".1f"),
             ("infer GF/s", "infer_gflops_crnn", ".1f"),
             ("numpy ref s", "epoch_reference", ".4f"),
             ("ref/crnn", "ref_speedup", ".1f"),
             ("loss crnn", "loss_crnn", ".4f")]
    if with_torch:
        cols += [("loss torch", "loss_torch", ".4f")]
    cells = []
    for row in rows:
        row = dict(row)
        row["targets"] = f"{row['train_target']:.2f}/{row['infer_target']:.2f}"
        if "epoch_reference" in row:
            row["ref_speedup"] = row["epoch_reference"] / row["epoch_crnn"]
        cells.append([_fmt(row.get(key), spec) for _, key, spec in cols])
    widths = [max(len(title), *(len(c[i]) for c in cells)) if cells else len(title)
              for i, (title, _, _) in enumerate(cols)]
    lines = ["  ".join(t.rjust(w) for (t, _, _), w in zip(cols, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(cell, widths)) for cell in cells]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    import crnn
    from threadpoolctl import threadpool_limits

    threads = common.crnn_blas_threads() if args.threads is None else args.threads
    with_torch = not args.no_torch and common.torch_available()
    with_ort = with_torch and not args.no_ort and common.ort_available()
    n_samples = QUICK_N if args.quick else None

    print(f"crnn {crnn.__version__} (boundscheck={crnn.build_info()['boundscheck']}), "
          f"numpy {np.__version__}, python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    print("BLAS (threadpoolctl):")
    libs = common.blas_libraries()
    for lib in libs:
        mark = "  <- crnn (SciPy)" if common._is_scipy_blas(lib) else ""
        print(f"  {lib.get('internal_api')} {lib.get('version')}: "
              f"{lib.get('num_threads')} threads, {lib.get('filepath')}{mark}")
    torch_info = None
    if with_torch:
        import torch
        torch.set_num_threads(threads)
        torch_info = {"version": torch.__version__, "threads": torch.get_num_threads(),
                      "interop_threads": torch.get_num_interop_threads(),
                      "mkldnn": bool(torch.backends.mkldnn.is_available())}
        print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads "
              f"(set to crnn's BLAS threads), mkldnn={torch_info['mkldnn']}")
    else:
        print("PyTorch: not measured (" + ("--no-torch" if args.no_torch else "not installed")
              + "): crnn-only columns")
    ort_version = None
    if with_ort:
        import onnxruntime
        ort_version = onnxruntime.__version__
        print(f"ONNX Runtime {ort_version}: {threads} intra-op threads, PyTorch's model "
              "exported with torch.onnx.export")
    elif with_torch:
        print("ONNX Runtime: not measured (" + ("--no-ort" if args.no_ort else "not installed")
              + ")")
    print(f"threads: {threads}")

    with threadpool_limits(limits=threads, user_api="blas"):
        peak = sgemm_peak(threads, repeats=3 if args.quick else 5)
        print(f"sgemm (2048^3, {threads} threads, best of {3 if args.quick else 5}): "
              f"SciPy BLAS {peak['scipy_sgemm']:.1f} GFLOP/s, NumPy "
              f"{peak['numpy_matmul']:.1f} GFLOP/s (measured again at the end)")
        if args.quick:
            print(f"--quick: N={QUICK_N} sequences per workload, {args.repeats} repeat(s); "
                  "a smoke run, not comparable with the targets")
        print(f"median of {args.repeats} alternating repeat(s) per cell; "
              "ratio = crnn / PyTorch (lower is better)"
              + ("; crnn/ORT = crnn / ONNX Runtime (SPEC 8: below 1)" if with_ort else "")
              + "\n")
        sys.stdout.flush()

        rows = []
        start = time.perf_counter()
        for workload in args.workloads:
            for cell in args.cells:
                rows.append(measure(workload, cell, n_samples, args.repeats, threads,
                                    with_torch, with_ort))
        elapsed = time.perf_counter() - start
        # again at the end, keep the best: a peak measured during a burst of
        # other load would flatter the percentage
        again = sgemm_peak(threads, repeats=3 if args.quick else 5)
        peak = {k: max(peak[k], again[k]) for k in peak}

    print(format_table(rows, with_torch, with_ort))
    if with_ort:
        print("\nONNX Runtime against PyTorch, largest |difference| of the outputs: "
              f"{max(r['ort_max_diff'] for r in rows):.2e}")
    print(f"\nsgemm peak {peak['peak']:.1f} GFLOP/s (best of SciPy "
          f"{peak['scipy_sgemm']:.1f}, NumPy {peak['numpy_matmul']:.1f}; start and end)")
    w3 = [r for r in rows if r["workload"] == "W3"]
    if w3:
        print("W3 forward (crnn inference) as a share of the sgemm peak (target >= 60%):")
        for r in w3:
            pct = 100.0 * r["infer_gflops_crnn"] / peak["peak"]
            r["infer_pct_of_peak"] = pct
            print(f"  {r['cell']:>4}: {r['infer_gflops_crnn']:.1f} GFLOP/s = {pct:.0f}%")
    print(f"\nmeasured in {elapsed:.1f} s")

    if args.json:
        result = {
            "args": {k: v for k, v in vars(args).items() if k != "json"},
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                        "platform": platform.platform(), "threads": threads,
                        "blas": [{k: lib.get(k) for k in ("internal_api", "version",
                                                          "num_threads", "filepath")}
                                 for lib in libs],
                        "torch": torch_info, "onnxruntime": ort_version,
                        "sgemm_gflops": peak},
            "crnn": {"version": crnn.__version__, "build": crnn.build_info()},
            "workloads": common.WORKLOADS,
            "rows": rows,
        }
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2, default=str)
        print(f"saved {args.json}")
    if args.csv and with_torch:
        write_csv(args.csv, rows, threads, torch_info, ort_version)
        print(f"saved {args.csv}")
    if args.rst_table and with_torch:
        write_rst_table(args.rst_table, rows)
        print(f"saved {args.rst_table}")
    return rows


def write_rst_table(path, rows):
    """The ratio table as an reStructuredText list-table, with the SPEC 8 targets
    (and the ratio to ONNX Runtime's predict where it was measured)."""
    with_ort = all("infer_ratio_ort" in r for r in rows)
    title = "crnn / PyTorch" + (" and crnn / ONNX Runtime" if with_ort else "")
    lines = [f".. list-table:: {title}, one compare.py run (lower is better; "
             "target in brackets)", "   :header-rows: 1", "",
             "   * - workload", "     - cell", "     - epoch crnn (s)", "     - epoch ratio",
             "     - predict crnn (s)", "     - predict ratio"]
    if with_ort:
        lines += ["     - predict / ONNX Runtime"]
    for r in rows:
        lines += [f"   * - {r['workload']}", f"     - {r['cell']}",
                  f"     - {r['epoch_crnn']:.4f}",
                  f"     - {r['epoch_ratio']:.3f} (<= {r['train_target']:.2f})",
                  f"     - {r['infer_crnn']:.4f}",
                  f"     - {r['infer_ratio']:.3f} (<= {r['infer_target']:.2f})"]
        if with_ort:
            lines += [f"     - {r['infer_ratio_ort']:.3f} (< 1)"]
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def write_csv(path, rows, threads, torch_info, ort_version=None):
    """The ratio table as the CSV the docs draw (one run, with its provenance);
    ONNX Runtime's columns are empty where it was not measured."""
    import crnn

    command = "python benchmarks/compare.py " + " ".join(sys.argv[1:])
    peers = f"PyTorch {(torch_info or {}).get('version', '?')}"
    if ort_version:
        peers += f", ONNX Runtime {ort_version}"
    with open(path, "w") as fh:
        fh.write(f"# crnn / PyTorch CPU: float32, {threads} threads, median of alternating "
                 f"repeats per cell; one run of\n# '{command}' on "
                 f"{time.strftime('%Y-%m-%d', time.gmtime())} ({platform.machine()}, "
                 f"{os.cpu_count()} cores; crnn {crnn.__version__}, {peers}).\n")
        fh.write("workload,cell,epoch_crnn_s,epoch_torch_s,epoch_ratio,"
                 "infer_crnn_s,infer_torch_s,infer_ratio,infer_ort_s,infer_ratio_ort\n")
        for r in rows:
            ort = (f"{r['infer_ort']:.4f},{r['infer_ratio_ort']:.3f}" if "infer_ort" in r
                   else ",")
            fh.write(f"{r['workload']},{r['cell']},{r['epoch_crnn']:.4f},"
                     f"{r['epoch_torch']:.4f},{r['epoch_ratio']:.3f},{r['infer_crnn']:.4f},"
                     f"{r['infer_torch']:.4f},{r['infer_ratio']:.3f},{ort}\n")


if __name__ == "__main__":
    main()
