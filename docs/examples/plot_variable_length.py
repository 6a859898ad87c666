"""
================================================
Classifying sequences of different lengths
================================================

Each sample is a noisy sine of one of three frequencies, observed for
between 8 and 60 steps. The sequences are passed as a plain list of arrays:
crnn reads each over its own steps only (no padding enters the loss or the
gradients), in the compiled kernels. A bidirectional GRU also reads every
sequence backwards from its own last step.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import train_test_split

from crnn import RNNClassifier

rng = np.random.default_rng(0)
n = 600
y = rng.integers(0, 3, n)
lengths = rng.integers(8, 61, n)
omega = np.array([0.3, 0.8, 1.6])
X = [np.sin(omega[c] * np.arange(L) + rng.uniform(0, 2 * np.pi))[:, None]
     + 0.2 * rng.normal(size=(L, 1)) for c, L in zip(y, lengths)]
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

# %%
# Fit one- and two-directional GRUs on the list of sequences.

scores = {}
for bidirectional in (False, True):
    clf = RNNClassifier(cell="gru", hidden_layer_sizes=(16,), bidirectional=bidirectional,
                        learning_rate_init=1e-2, max_iter=30, random_state=0)
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    scores[bidirectional] = clf.score(X_test, y_test)
    print(f"bidirectional={bidirectional}: held-out accuracy "
          f"{scores[bidirectional]:.3f}, fit in {time.perf_counter() - start:.2f} s")

# %%
# Accuracy by sequence length: short sequences hold fewer periods of the
# slowest sine, so they are the hard ones.

test_lengths = np.array([len(x) for x in X_test])
correct = clf.predict(X_test) == y_test
bins = np.arange(8, 64, 8)
which = np.digitize(test_lengths, bins)
centers = [test_lengths[which == b].mean() for b in np.unique(which)]
accuracy = [correct[which == b].mean() for b in np.unique(which)]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(centers, accuracy, "o-")
ax.set_xlabel("sequence length (steps)")
ax.set_ylabel("held-out accuracy")
ax.set_ylim(0, 1.05)
ax.set_title("Bidirectional GRU on sequences of 8 to 60 steps")
fig.tight_layout()
plt.show()
