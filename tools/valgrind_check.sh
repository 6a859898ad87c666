#!/usr/bin/env bash
# Valgrind memcheck of a small fit and predict of every cell (both dtypes,
# return_sequences on and off, one threaded minibatch split): counts the
# invalid reads and writes and uses of uninitialised values that fall in
# crnn's compiled modules. CPython, NumPy and OpenBLAS are not built for
# valgrind (pymalloc, hand-written assembly), so their own reports are
# listed apart and do not fail the check. PYTHONMALLOC=malloc lets
# valgrind see Python's allocations.
#
# Usage: tools/valgrind_check.sh [python]      (exit 1 on a crnn error)
set -euo pipefail
PYTHON=${1:-python}
LOG=$(mktemp -t crnn-valgrind.XXXXXX)
SCRIPT=$(mktemp -t crnn-valgrind-script.XXXXXX.py)
cat > "$SCRIPT" <<'PY'
import warnings
import numpy as np
from crnn import RNNClassifier, RNNRegressor, ops
warnings.simplefilter("ignore")
rng = np.random.RandomState(0)
X = rng.normal(size=(20, 5, 3))
y = X.sum(axis=(1, 2))
for cell in ("rnn", "lstm", "gru"):
    for dtype in ("float32", "float64"):
        est = RNNRegressor(cell=cell, hidden_layer_sizes=(4, 3), max_iter=2, batch_size=20,
                           dtype=dtype, random_state=0).fit(X, y)
        assert np.all(np.isfinite(est.predict(X[:7])))
        seq = RNNRegressor(cell=cell, hidden_layer_sizes=(3,), max_iter=1, dtype=dtype,
                           return_sequences=True, random_state=0).fit(X, X[:, :, 0])
        assert np.all(np.isfinite(seq.predict(X[:3, :4])))
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(3,), max_iter=1,
                        random_state=0).fit(X, y > 0)
    clf.predict_proba(X)
    layers = [{"W_ih": rng.normal(size=(4 * 2, 3)), "W_hh": rng.normal(size=(4 * 2, 2)),
               "b_ih": rng.normal(size=8), "b_hh": rng.normal(size=8)}]
    out, h, c, cache = ops.lstm_forward(X[:4], layers)
    ops.lstm_backward(cache, np.ones_like(out))
print("valgrind workload done")
PY
echo "valgrind memcheck: $PYTHON $SCRIPT (log $LOG)"
PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 valgrind --tool=memcheck --error-limit=no \
    --num-callers=30 --log-file="$LOG" "$PYTHON" "$SCRIPT"
# one block per error; keep those whose stack passes through a crnn module
python3 - "$LOG" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
blocks = re.split(r"\n==\d+== \n", text)
kinds = ("Invalid read", "Invalid write", "uninitialised", "Invalid free",
         "Mismatched free", "overlap")
crnn, other = [], []
for b in blocks:
    if any(k in b for k in kinds):
        (crnn if re.search(r"crnn/_\w+\.cpython", b) else other).append(b)
summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
print(f"valgrind ERROR SUMMARY: {summary.group(1) if summary else '?'} errors in total; "
      f"{len(crnn)} in crnn's modules, {len(other)} elsewhere (CPython/NumPy/BLAS)")
for b in crnn[:10]:
    print(b)
sys.exit(1 if crnn else 0)
PY
