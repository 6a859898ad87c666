"""
=========================================
Export to ONNX and check it against crnn
=========================================

:func:`crnn.onnx.to_onnx` turns a fitted estimator into an ONNX graph of
ONNX's own ``RNN``/``LSTM``/``GRU`` operators, which ONNX Runtime (or any
ONNX runtime) runs without crnn. This example exports a digits classifier,
then checks every supported configuration (cell and activation, one or two
layers, many-to-one or many-to-many, regressor or classifier) against
crnn's own predictions and plots the largest difference of each.

Needs the ``onnx`` extra: ``pip install "crnn[onnx]"``.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from crnn import RNNClassifier, RNNRegressor
from crnn.onnx import to_onnx

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short fits on purpose

# %%
# A digits classifier, exported
# -----------------------------
# ``zipmap=False`` asks for the probabilities as one (N, n_classes) tensor
# instead of skl2onnx's default list of {class: probability} dicts.

X, y = load_digits(return_X_y=True)
X = (X.reshape(-1, 8, 8) / 16.0).astype(np.float32)
clf = RNNClassifier(cell="gru", hidden_layer_sizes=(32,), learning_rate_init=5e-3,
                    max_iter=15, random_state=0).fit(X[:1200], y[:1200])

onx = to_onnx(clf, options={"zipmap": False})
dims = [d.dim_value or "?" for d in onx.graph.input[0].type.tensor_type.shape.dim]
print(f"input: {onx.graph.input[0].name} float32 {dims}")  # ? = any batch size, any length
print("outputs:", [o.name for o in onx.graph.output])
print("operators:", sorted({node.op_type for node in onx.graph.node}))

session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
label, proba = session.run(None, {"X": X[1200:]})
print(f"labels equal: {np.mean(label == clf.predict(X[1200:])):.1%}; "
      f"max |proba difference| = {np.max(np.abs(proba - clf.predict_proba(X[1200:]))):.1e}")

# %%
# Parity over every supported configuration
# -----------------------------------------
# Small models fitted for two epochs; what is checked is the arithmetic of
# the exported graph, not the quality of the model.

rng = np.random.RandomState(0)
X = rng.randn(64, 12, 3).astype(np.float32)
configs = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"), ("lstm", "tanh"),
           ("gru", "tanh")]
errors = {}
for cell, activation in configs:
    for layers in [(8,), (8, 6)]:
        for return_sequences in (False, True):
            shape = X.shape[:2] if return_sequences else X.shape[:1]
            for kind in ("regressor", "classifier"):
                params = dict(cell=cell, activation=activation, hidden_layer_sizes=layers,
                              return_sequences=return_sequences, max_iter=2,
                              random_state=0)
                if kind == "regressor":
                    model = RNNRegressor(**params).fit(X, rng.randn(*shape))
                    expected = model.predict(X)
                    options = None
                else:
                    model = RNNClassifier(**params).fit(X, rng.randint(3, size=shape))
                    expected = model.predict_proba(X)
                    options = {"zipmap": False}
                sess = ort.InferenceSession(to_onnx(model, options=options).SerializeToString(),
                                            providers=["CPUExecutionProvider"])
                out = sess.run(None, {"X": X})[-1]  # regressor: values; classifier: proba
                error = float(np.max(np.abs(out.reshape(expected.shape) - expected)))
                name = (f"{cell}" + (f"/{activation}" if cell == "rnn" else "")
                        + f" L{len(layers)} {'seq' if return_sequences else 'last'}")
                errors[name, kind] = error

print(f"{'configuration':<22} {'regressor':>10} {'classifier':>11}")
names = list(dict.fromkeys(name for name, _ in errors))
for name in names:
    print(f"{name:<22} {errors[name, 'regressor']:10.1e} {errors[name, 'classifier']:11.1e}")

# %%
# The largest absolute difference per configuration
# -------------------------------------------------
# float32 rounding: both sides compute the same products in another order.

fig, ax = plt.subplots(figsize=(10, 4))
x = np.arange(len(names))
for offset, kind in ((-0.2, "regressor"), (0.2, "classifier")):
    ax.bar(x + offset, [errors[name, kind] for name in names], 0.4,
           label=f"{kind} ({'predict' if kind == 'regressor' else 'predict_proba'})")
ax.set_yscale("log")
ax.axhline(np.finfo(np.float32).eps, color="0.3", ls="--", lw=1)
ax.text(len(names) - 0.5, np.finfo(np.float32).eps * 1.15, "float32 eps", ha="right",
        fontsize=8)
ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
ax.set_ylabel("max |ONNX Runtime - crnn|")
ax.legend()
fig.tight_layout()
plt.show()
