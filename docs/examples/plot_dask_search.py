"""
======================================================
Grid search and one model per series on Dask
======================================================

Two ways to spread crnn fits over a Dask cluster (extra
``pip install "crnn[distributed]"``):

1. ``GridSearchCV`` through joblib's Dask backend: scikit-learn hands each
   (candidate, fold) fit to the cluster. The results equal the serial ones.
2. ``client.map``: one small forecasting model per series, for many series.

Here the cluster is a ``LocalCluster`` of two threads in this process,
which starts in a moment: crnn's kernels release the GIL, so two threads
fit two models at the same time. Against a real cluster, only the
``Client(...)`` line changes. ``dask_speedup.py`` in this gallery times
threads against processes.
"""

import logging
import time
import warnings

import joblib
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from crnn import RNNRegressor

warnings.filterwarnings("ignore", category=ConvergenceWarning)  # short fits on purpose
logging.getLogger("distributed").setLevel(logging.ERROR)

cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                       dashboard_address="127.0.0.1:0")
client = Client(cluster)

# %%
# Grid search on the cluster
# --------------------------
# Sequences of 20 steps; the target depends on the whole sequence.

rng = np.random.RandomState(0)
X = rng.randn(400, 20, 2)
y = np.tanh(X[:, :, 0].sum(axis=1) / 4) * X[:, -1, 1]
grid = {"cell": ["rnn", "gru", "lstm"], "hidden_layer_sizes": [(4,), (8,), (16,)]}
search = GridSearchCV(RNNRegressor(learning_rate_init=1e-2, max_iter=15, random_state=0),
                      grid, cv=3, n_jobs=-1)
start = time.perf_counter()
with joblib.parallel_config(backend="dask"):
    search.fit(X, y)
print(f"{len(search.cv_results_['params']) * 3} fits on Dask in "
      f"{time.perf_counter() - start:.1f} s; best: {search.best_params_}")

serial = GridSearchCV(search.estimator, grid, cv=3).fit(X, y)
print("same scores as the serial search:",
      np.array_equal(serial.cv_results_["mean_test_score"],
                     search.cv_results_["mean_test_score"]))

# %%
# One model per series with ``client.map``
# ----------------------------------------
# Each task gets one series, cuts it into windows and fits a next-step GRU;
# the fitted models come back to the client (they pickle).

t = np.arange(400)
series = [np.sin(2 * np.pi * t / period) + 0.1 * rng.randn(t.size)
          for period in rng.uniform(15, 60, size=12)]
WINDOW = 16


def fit_one(s):
    X = np.lib.stride_tricks.sliding_window_view(s[:300 - 1], WINDOW)
    return RNNRegressor(cell="gru", hidden_layer_sizes=(8,), learning_rate_init=1e-2,
                        max_iter=20, random_state=0).fit(X, s[WINDOW:300])


models = client.gather(client.map(fit_one, series))
print(f"{len(models)} models fitted on the cluster")

# %%
# Each model forecasts the 100 held-out steps of its own series, one step
# ahead from the true previous values.

fig, axes = plt.subplots(2, 3, figsize=(11, 5), sharex=True, sharey=True)
for ax, s, model in zip(axes.ravel(), series, models):
    windows = np.lib.stride_tricks.sliding_window_view(s[300 - WINDOW:-1], WINDOW)
    ax.plot(t[300:], s[300:], color="0.6", label="truth")
    ax.plot(t[300:], model.predict(windows), color="C0", label="forecast")
    ax.set_title(f"R$^2$ {model.score(windows, s[300:]):.2f}", fontsize=9)
axes[0, 0].legend(fontsize=8)
fig.suptitle("One GRU per series, fitted with client.map (6 of 12 shown)")
fig.tight_layout()
plt.show()

client.close()
cluster.close()
