"""
==============================================
Speed against PyTorch: a committed compare run
==============================================

``benchmarks/compare.py`` times one training epoch and one inference pass
over the SPEC workloads for crnn and for PyTorch CPU (``torch.nn.RNN``,
``LSTM``, ``GRU`` plus a ``Linear`` readout, Adam, the same thread count),
alternating the two libraries in one process. This example draws the
table of one such run, committed next to it as ``compare_2cores.csv``
(written by that run: ``python benchmarks/compare.py --repeats 5 --csv
docs/examples/compare_2cores.csv``, on a quiet 2-core machine; its first
lines say when and with which versions). A ratio below 1 means crnn is
faster. The same run timed ``predict`` against ONNX Runtime too, running
the PyTorch model exported with ``torch.onnx.export`` (last figure).

=========  ====  ===  ===  ===  =====  ======
workload   N     T    I    H    batch  layers
=========  ====  ===  ===  ===  =====  ======
W1 small   2048  50   8    32   32     1
W2 medium  2048  100  32   128  64     1
W3 large   1024  100  128  512  128    1
W4 deep    2048  100  32   128  64     3
W5 long    1024  400  32   128  64     1
=========  ====  ===  ===  ===  =====  ======

To measure your own machine: ``pip install ".[bench]" torch`` and
``python benchmarks/compare.py`` (10-20 minutes; ``--quick`` for a smoke
run).
"""

import csv
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

try:
    HERE = Path(__file__).resolve().parent
except NameError:  # run cell by cell in an interactive session
    HERE = Path.cwd()

with open(HERE / "compare_2cores.csv", newline="") as fh:
    rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))

workloads = sorted({row["workload"] for row in rows})
cells = ["rnn", "lstm", "gru"]
ratio = {(row["workload"], row["cell"], kind): float(row[f"{kind}_ratio"])
         for row in rows for kind in ("epoch", "infer")}
for row in rows:
    print(f"{row['workload']} {row['cell']:>4}: epoch {row['epoch_crnn_s']} s "
          f"(PyTorch {row['epoch_torch_s']} s), inference {row['infer_crnn_s']} s "
          f"(PyTorch {row['infer_torch_s']} s)")

# %%
# Ratio crnn / PyTorch per workload and cell
# ------------------------------------------

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
x = np.arange(len(workloads))
width = 0.26
for ax, kind, title in zip(axes, ("epoch", "infer"),
                           ("training epoch", "inference (predict)")):
    for i, cell in enumerate(cells):
        values = [ratio[(w, cell, kind)] for w in workloads]
        bars = ax.bar(x + (i - 1) * width, values, width, label=cell)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.axhline(1.0, color="0.3", lw=1, ls="--")
    ax.set_xticks(x, workloads)
    ax.set_title(title)
axes[0].set_ylabel("time crnn / time PyTorch (lower is better)")
axes[0].legend(title="cell")
fig.suptitle("crnn vs PyTorch CPU, float32, 2 threads")
fig.tight_layout()
plt.show()

# %%
# crnn's advantage is largest on small models (W1), where PyTorch's
# per-step framework overhead dominates, and shrinks on large ones (W3),
# where both libraries spend their time in the same BLAS/oneDNN GEMMs; the
# LSTM is closest, because PyTorch runs it through oneDNN's fused kernels.
# ``benchmarks/NOTES.md`` explains each workload with FLOP counts and the
# measured GEMM ceiling.

# %%
# Inference against ONNX Runtime
# ------------------------------
#
# ONNX Runtime's CPU provider, with the same number of intra-op threads,
# running the PyTorch model above exported with ``torch.onnx.export``
# (ONNX's RNN, LSTM and GRU operators), timed in the same run as crnn's
# ``predict``. Older CSVs have no such columns; then nothing is drawn.

ort_ratio = {(row["workload"], row["cell"]): float(row["infer_ratio_ort"])
             for row in rows if row.get("infer_ratio_ort")}
if ort_ratio:
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, cell in enumerate(cells):
        values = [ort_ratio[(w, cell)] for w in workloads]
        bars = ax.bar(x + (i - 1) * width, values, width, label=cell)
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=1)
    ax.axhline(1.0, color="0.3", lw=1, ls="--")
    ax.set_xticks(x, workloads)
    ax.set_ylabel("time crnn / time ONNX Runtime (lower is better)")
    ax.legend(title="cell")
    ax.set_title("predict: crnn vs ONNX Runtime (CPU), float32, 2 threads")
    fig.tight_layout()
    plt.show()

# %%
# The LSTM is again the close one: from W2 up both libraries run its
# products near the machine's GEMM peak, so the ratio there moves with the
# machine's state between runs (``benchmarks/NOTES.md``).
