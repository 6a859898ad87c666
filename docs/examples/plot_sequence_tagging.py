"""
==========================================
Sequence tagging with a bidirectional GRU
==========================================

Every step of a sequence of random symbols gets a tag: the symbol that
comes *next*. A network that reads the sequence only forwards cannot know
it and stays at chance (about 1/3); one that also reads it backwards
(``bidirectional=True``) tags almost every step right. The sequences have
5 to 30 steps, passed as lists; ``return_sequences=True`` predicts one tag
per valid step and returns a list of per-sequence arrays.
"""

import matplotlib.pyplot as plt
import numpy as np

from crnn import RNNClassifier

rng = np.random.default_rng(0)
X, y = [], []
for L in rng.integers(5, 31, 500):
    symbols = rng.integers(0, 3, L)
    X.append(np.eye(3)[symbols])                 # one-hot inputs (L, 3)
    y.append(np.r_[symbols[1:], 3])              # tag: the next symbol (3 at the end)

scores = {}
for bidirectional in (False, True):
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(16,), return_sequences=True,
                        bidirectional=bidirectional, learning_rate_init=1e-2,
                        max_iter=30, random_state=0).fit(X[:400], y[:400])
    scores[bidirectional] = clf.score(X[400:], y[400:])
    print(f"bidirectional={bidirectional}: per-step accuracy {scores[bidirectional]:.3f}")

# %%
# One held-out sequence: input symbols, the true tags and the predicted ones.

pred = clf.predict(X[400:401])[0]
symbols = X[400].argmax(axis=1)
fig, ax = plt.subplots(figsize=(7, 2.6))
steps = np.arange(len(symbols))
ax.step(steps, symbols, where="mid", label="input symbol")
ax.plot(steps, y[400], "o", label="true tag (next symbol)")
ax.plot(steps, pred, "x", markersize=9, label="predicted tag")
ax.set_xlabel("step")
ax.set_yticks([0, 1, 2, 3], ["a", "b", "c", "end"])
ax.legend(loc="upper left", ncol=3, fontsize=8)
ax.set_title(f"bidirectional GRU, per-step accuracy {scores[True]:.3f} "
             f"(one-directional: {scores[False]:.3f})")
fig.tight_layout()
plt.show()
