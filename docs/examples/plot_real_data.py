"""
==================================================
A real data set: GunPoint, recurrent net vs 1-NN
==================================================

GunPoint (a public time-series classification set of the UCR archive,
shipped inside the aeon package, so it loads offline) holds the x
position of an actor's hand over 150 frames, while drawing a gun or only
pointing. A nearest-neighbour classifier on the raw series is the baseline
to beat. This example standardises the inputs, fits crnn's GRU and LSTM
with their defaults (only ``cell`` is set), and plots the training loss
and the held-out accuracy of each against 1-NN. The numbers behind the
defaults are in :doc:`/user_guide/choosing`.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from aeon.datasets import load_classification
from sklearn.neighbors import KNeighborsClassifier

from crnn import RNNClassifier
from crnn.preprocessing import SequenceScaler

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # aeon's own deprecation notices
    X_train, y_train = load_classification("GunPoint", split="train")
    X_test, y_test = load_classification("GunPoint", split="test")
# aeon's layout is (n, channels, steps); crnn's is (n, steps, features)
X_train, X_test = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
print(f"{len(X_train)} training and {len(X_test)} test series of "
      f"{X_train.shape[1]} steps")

# %%
# The baseline: 1-nearest neighbour (Euclidean) on the flattened series.

knn = KNeighborsClassifier(n_neighbors=1).fit(X_train[:, :, 0], y_train)
knn_score = knn.score(X_test[:, :, 0], y_test)
print(f"1-NN held-out accuracy: {knn_score:.3f}")

# %%
# Standardise each feature over the training steps, then fit each cell
# with crnn's defaults.

scaler = SequenceScaler().fit(X_train)
Z_train, Z_test = scaler.transform(X_train), scaler.transform(X_test)
models, scores = {}, {}
for cell in ("gru", "lstm"):
    start = time.perf_counter()
    models[cell] = RNNClassifier(cell=cell, random_state=0).fit(Z_train, y_train)
    scores[cell] = models[cell].score(Z_test, y_test)
    print(f"{cell}: held-out accuracy {scores[cell]:.3f} after "
          f"{models[cell].n_iter_} epochs ({time.perf_counter() - start:.1f} s)")

# %%
# Left: two series of each class. Middle: the training loss per epoch.
# Right: held-out accuracy against the 1-NN baseline.

fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for label, colour in zip(np.unique(y_train), ("C0", "C3")):
    for series in X_train[y_train == label][:2]:
        axes[0].plot(series[:, 0], color=colour, lw=1,
                     label=f"class {label}" if series is X_train[y_train == label][0] else None)
axes[0].set(title="GunPoint series", xlabel="frame")
axes[0].legend()
for cell, model in models.items():
    axes[1].plot(model.loss_curve_, label=cell)
axes[1].set(title="training loss", xlabel="epoch", ylabel="log loss")
axes[1].legend()
names = ["1-NN"] + list(scores)
axes[2].bar(names, [knn_score] + list(scores.values()), color=["grey", "C1", "C2"])
axes[2].set(title="held-out accuracy", ylim=(0, 1))
fig.tight_layout()
plt.show()
