"""
===================================================
Loss and validation curves, with early stopping
===================================================

Every fit records the training loss of each epoch in ``loss_curve_``; with
early stopping it also scores a held-out validation set after each epoch
(``validation_scores_``) and restores the parameters of the best epoch.
This example fits the three cells on the same task and plots both curves.

The task: each sequence is 20 steps of two noisy features; the target is
the squashed running sum of the first feature times the last value of the
second, so the network must integrate over the whole sequence and then
multiply.
"""

import matplotlib.pyplot as plt
import numpy as np

from crnn import RNNRegressor

rng = np.random.RandomState(0)
X = rng.randn(1200, 20, 2).astype(np.float32)
y = np.tanh(X[:, :, 0].sum(axis=1) / np.sqrt(20)) * X[:, -1, 1] + 0.05 * rng.randn(1200)
X_train, y_train, X_test, y_test = X[:1000], y[:1000], X[1000:], y[1000:]

# %%
# Fit with early stopping
# -----------------------
# ``early_stopping=True`` holds out ``validation_fraction`` of the training
# sequences; training stops when the validation R^2 has not improved for
# ``n_iter_no_change`` epochs, and the best epoch's parameters are kept.

models = {}
for cell in ("rnn", "gru", "lstm"):
    models[cell] = RNNRegressor(
        cell=cell, hidden_layer_sizes=(16,), learning_rate_init=1e-2, max_iter=60,
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=8,
        random_state=0).fit(X_train, y_train)
    model = models[cell]
    best = int(np.argmax(model.validation_scores_)) + 1
    print(f"{cell:>4}: {model.n_iter_} epochs, best validation R^2 "
          f"{model.best_validation_score_:.3f} at epoch {best}, "
          f"test R^2 {model.score(X_test, y_test):.3f}")

# %%
# Plot the curves
# ---------------
# The dots mark the epoch whose parameters each model kept.

fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.8))
for color, (cell, model) in zip(("C0", "C1", "C2"), models.items()):
    epochs = np.arange(1, model.n_iter_ + 1)
    best = int(np.argmax(model.validation_scores_))
    ax_loss.plot(epochs, model.loss_curve_, color=color, label=cell)
    ax_val.plot(epochs, model.validation_scores_, color=color, label=cell)
    ax_val.plot(epochs[best], model.validation_scores_[best], "o", color=color)
ax_loss.set(xlabel="epoch", ylabel="training loss (half MSE)", yscale="log",
            title="loss_curve_")
ax_val.set(xlabel="epoch", ylabel="validation R$^2$", title="validation_scores_",
           ylim=(0.0, 1.0))
ax_val.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %%
# The gated cells reach a higher validation score in fewer epochs: their
# state can hold the running sum unchanged from step to step (the GRU's
# update gate, the LSTM's cell), while the vanilla cell rewrites its whole
# state through ``tanh`` at every step. Each model stopped by itself once its
# validation score stopped improving.
