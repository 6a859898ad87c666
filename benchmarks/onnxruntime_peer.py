"""crnn's predict against ONNX Runtime running the same model (SPEC 8).

For each workload and cell: a crnn RNNRegressor trained one epoch, exported
with ``crnn.onnx.to_onnx`` (ONNX's own RNN/LSTM/GRU operators, one per
layer, plus the readout: the graph PyTorch's TorchScript exporter emits for
``nn.RNN/LSTM/GRU`` + ``nn.Linear``), run by ONNX Runtime's CPU provider
with as many intra-op threads as crnn uses, on the same float32 input.
crnn and ONNX Runtime alternate; each call follows the same settle as in
compare.py; the table reports medians and the ratio crnn / ONNX Runtime
(lower is better; SPEC 8 asks for < 1 everywhere).

``compare.py`` measures the same peer on the PyTorch model exported with
``torch.onnx.export`` (SPEC 8's wording), in its main run; this script
needs no PyTorch and also checks crnn's exporter against crnn's predict.

Benchmark environment only (``pip install "crnn[onnx]"`` puts skl2onnx and
onnxruntime next to crnn); never a dependency of the package or of CI.

    python benchmarks/onnxruntime_peer.py                      # W1-W5, 3 repeats
    python benchmarks/onnxruntime_peer.py --workloads W1 --quick
"""
import argparse
import os
import statistics
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchmarks import common  # noqa: E402

QUICK_N = 128


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", default=",".join(common.WORKLOADS))
    p.add_argument("--cells", default=",".join(common.CELLS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help=f"smoke run: N={QUICK_N}, 1 repeat")
    args = p.parse_args(argv)
    args.workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    args.cells = [c.strip().lower() for c in args.cells.split(",") if c.strip()]
    for w in args.workloads:
        if w not in common.WORKLOADS:
            p.error(f"unknown workload {w!r}")
    if args.quick:
        args.repeats = 1
    return args


def ort_session(model, threads):
    from crnn.onnx import to_onnx

    return common.ort_session(to_onnx(model).SerializeToString(), threads)


def measure(workload, cell, n_samples, repeats, threads):
    X, y = common.make_data(workload, n_samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runner = common.CrnnRunner(workload, cell, X, y, warm=True)
    session = ort_session(runner.model, threads)
    X32 = np.ascontiguousarray(X, dtype=np.float32)

    def ort_predict():
        return session.run(None, {"X": X32})[0]

    expected = runner.predict()
    got = ort_predict()[:, 0]
    max_error = float(np.max(np.abs(got - expected)))
    crnn_s, ort_s = [], []
    for _ in range(repeats):
        crnn_s.append(common.timed(runner.predict)[0])
        ort_s.append(common.timed(ort_predict)[0])
    row = {"workload": workload, "cell": cell, "n_samples": X.shape[0],
           "infer_crnn": statistics.median(crnn_s), "infer_ort": statistics.median(ort_s),
           "max_abs_error": max_error}
    row["ratio"] = row["infer_crnn"] / row["infer_ort"]
    return row


def main(argv=None):
    args = parse_args(argv)
    try:
        import onnxruntime
        import skl2onnx  # noqa: F401
    except ImportError:
        print("onnxruntime_peer.py needs onnxruntime and skl2onnx: pip install 'crnn[onnx]'")
        return 0
    import crnn

    threads = common.crnn_blas_threads()
    print(f"crnn {crnn.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"{threads} threads each; median of {args.repeats} alternating repeat(s)")
    header = (f"{'workload':>8}  {'cell':>4}  {'infer crnn s':>12}  {'infer ORT s':>11}  "
              f"{'crnn/ORT':>8}  {'max |diff|':>10}")
    print(header)
    print("-" * len(header))
    for workload in args.workloads:
        for cell in args.cells:
            row = measure(workload, cell, QUICK_N if args.quick else None, args.repeats,
                          threads)
            print(f"{row['workload']:>8}  {row['cell']:>4}  {row['infer_crnn']:12.4f}  "
                  f"{row['infer_ort']:11.4f}  {row['ratio']:8.3f}  "
                  f"{row['max_abs_error']:10.2e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
