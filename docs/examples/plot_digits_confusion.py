"""
=================================================
Digits read as sequences: a confusion matrix
=================================================

Each 8x8 image of scikit-learn's digits becomes a sequence of 8 time steps
(the rows), each with 8 features (the pixels of the row). A GRU reads the
rows top to bottom and classifies the digit from its final state. The
confusion matrix shows which digits it still mixes up.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from crnn import RNNClassifier

X, y = load_digits(return_X_y=True)
X = X.reshape(-1, 8, 8) / 16.0  # (n_samples, n_timesteps=8 rows, n_features=8 pixels)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                    stratify=y)

# 40 epochs reach ~0.97; the loss is still falling slowly, which
# scikit-learn's ConvergenceWarning would point out.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
clf = RNNClassifier(cell="gru", hidden_layer_sizes=(64,), learning_rate_init=3e-3,
                    max_iter=40, random_state=0)
start = time.perf_counter()
clf.fit(X_train, y_train)
print(f"{clf.n_iter_} epochs in {time.perf_counter() - start:.1f} s; "
      f"test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# The confusion matrix
# --------------------
# Rows are the true digits, columns the predicted ones; the off-diagonal
# cells count the errors.

fig, ax_cm = plt.subplots(figsize=(5.5, 4.8))
ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test, ax=ax_cm, colorbar=False)
ax_cm.set_title("GRU on digits read row by row")
fig.tight_layout()

# %%
# The network's confidence along the sequence
# -------------------------------------------
# ``return_sequences=False`` only reads the final state, but the rows arrive
# one by one: feeding the first ``k`` rows shows how the prediction forms as
# the digit is read top to bottom.

sample, label = X_test[0], y_test[0]
proba_by_rows = np.array([clf.predict_proba(sample[None, :k])[0] for k in range(1, 9)])
fig, (ax_img, ax_proba) = plt.subplots(1, 2, figsize=(9, 3.6),
                                       gridspec_kw={"width_ratios": [1, 2.2]})
ax_img.imshow(sample, cmap="gray_r")
ax_img.set(title=f"test image (a {label})", xticks=[], ylabel="row = time step")
for digit in range(10):
    ax_proba.plot(range(1, 9), proba_by_rows[:, digit], lw=3 if digit == label else 1,
                  label=str(digit))
ax_proba.set(xlabel="rows read", ylabel="predicted probability",
             title="prediction after each row")
ax_proba.legend(ncols=2, fontsize="small", title="digit", loc="upper left")
fig.tight_layout()
plt.show()
