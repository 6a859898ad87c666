"""
=====================================
Next-step forecast of a noisy sine
=====================================

A vanilla :class:`crnn.RNNRegressor` reads windows of 20 consecutive samples
of a noisy sine wave and predicts the next sample. The model is fitted on the
first part of the series and evaluated on the rest, which it has not seen.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from crnn import RNNRegressor
from crnn.preprocessing import make_windows

# %%
# Build the data set
# ------------------
# :func:`crnn.preprocessing.make_windows` cuts the series into supervised
# pairs: each row of ``X`` is a window of ``window`` consecutive values and
# its target is the value that follows it. For a 1-D series ``X`` is 2-D, of
# shape (n_samples, n_timesteps): univariate sequences (one feature per time
# step). ``X`` and ``y`` are read-only views of the series, not copies.

rng = np.random.RandomState(0)
t = np.linspace(0, 24 * np.pi, 1200)
series = np.sin(t) + 0.05 * rng.randn(t.size)

window = 20
X, y = make_windows(series, window)
n_train = 800
X_train, y_train = X[:n_train], y[:n_train]
X_test, y_test = X[n_train:], y[n_train:]
print(f"X_train: {X_train.shape}, X_test: {X_test.shape}")

# %%
# Fit the network
# ---------------
# One recurrent layer of 16 tanh units, the final hidden state read out by a
# linear layer, trained with Adam.

model = RNNRegressor(cell="rnn", hidden_layer_sizes=(16,), learning_rate_init=0.01,
                     max_iter=40, random_state=0)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"fitted {model.n_iter_} epochs in {time.perf_counter() - start:.2f} s, "
      f"final loss {model.loss_:.5f}")
print(f"test R^2: {model.score(X_test, y_test):.3f}")

# %%
# Prediction against truth
# ------------------------

y_pred = model.predict(X_test)
steps = np.arange(n_train, n_train + y_test.size)

fig, (ax_fit, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.5),
                                      gridspec_kw={"width_ratios": [3, 1]})
ax_fit.plot(steps, y_test, color="0.6", label="truth")
ax_fit.plot(steps, y_pred, color="C0", label="one-step prediction")
ax_fit.set_xlabel("time step")
ax_fit.set_title("Held-out part of the series")
ax_fit.set_ylim(-1.4, 1.6)
ax_fit.legend(loc="upper right", ncols=2)
ax_loss.plot(np.arange(1, model.n_iter_ + 1), model.loss_curve_)
ax_loss.set_yscale("log")
ax_loss.set_xlabel("epoch")
ax_loss.set_title("Training loss")
fig.tight_layout()
plt.show()

# %%
# Forecasting many steps ahead
# ----------------------------
# A next-step model can also be run on its own predictions:
# :meth:`crnn.RNNRegressor.forecast` reads a context, then feeds each
# prediction back as the next input, carrying the hidden state, in one
# compiled loop. Here 150 steps past the first held-out window, against
# the truth and against repeating the last observed value.

horizon = 150
context = X_test[:1]
forecast = model.forecast(context, horizon)[0]
truth = series[n_train + window:n_train + window + horizon]
future = np.arange(n_train + window, n_train + window + horizon)
print(f"{horizon}-step forecast RMSE {np.sqrt(np.mean((forecast - truth) ** 2)):.3f}, "
      f"persistence {np.sqrt(np.mean((context[0, -1] - truth) ** 2)):.3f}")

fig, ax = plt.subplots(figsize=(10, 3))
ax.plot(np.arange(n_train, n_train + window), context[0], color="k", label="context")
ax.plot(future, truth, color="0.6", label="truth")
ax.plot(future, forecast, color="C1", label="forecast (fed back)")
ax.set_xlabel("time step")
ax.legend(loc="upper right", ncols=3)
fig.tight_layout()
plt.show()
