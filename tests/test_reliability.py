"""SPEC 6 under pressure: divergence, Ctrl-C, memory, threads, leaks.

Divergence tests record every warning: the one divergence warning must be
the only one (no NumPy overflow warnings leak), and the restored state is
compared with the exact parameters of the last clean epoch.
"""
import gc
import itertools
import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from crnn import RNNClassifier, RNNRegressor, _memory, _threads

CELLS = ["rnn", "lstm", "gru"]
SOLVERS = ["adam", "sgd"]
DTYPES = ["float32", "float64"]


def _data(n=24, T=6, I=2, scale=1e3, seed=0):
    rng = np.random.RandomState(seed)
    return rng.normal(size=(n, T, I)), rng.normal(size=n) * scale


def _fit_recording(est, X, y, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est.fit(X, y, **kw)
    return rec


def _params(est):
    return [v.copy() for d in est.coefs_ for v in d.values()]


def _exploding(solver):
    """Settings whose very next update overflows every parameter it moves."""
    params = dict(learning_rate_init=1e308, clip_grad_norm=None)
    if solver == "adam":
        # lr_t = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t) overflows
        params["beta_1"] = 0.99999
    else:
        params["momentum"] = 0.0
    return params


# ---------------------------------------------------------------- divergence
# batch_size=40 splits every minibatch over the worker threads (where
# np.errstate of the epoch loop does not reach); early stopping scores the
# validation set each epoch
@pytest.mark.parametrize("batch_size,early_stopping",
                         [("auto", False), (40, False), (40, True)])
def test_issue_example_restores_finite_parameters_and_warns_once(batch_size,
                                                                 early_stopping):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 10, 2)) * 3
    y = rng.normal(size=40) * 10
    est = RNNRegressor(activation="relu", solver="sgd", learning_rate_init=1e6, momentum=0.0,
                       clip_grad_norm=None, hidden_layer_sizes=(8,), random_state=0,
                       max_iter=50, batch_size=batch_size, early_stopping=early_stopping)
    rec = _fit_recording(est, X, y)
    assert [w.category for w in rec] == [RuntimeWarning], [str(w.message) for w in rec]
    assert "diverged in epoch" in str(rec[0].message)
    assert "Lower learning_rate_init" in str(rec[0].message)
    assert all(np.all(np.isfinite(p)) for p in _params(est))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pred = est.predict(X)
    assert np.all(np.isfinite(pred))
    assert len(est.loss_curve_) == est.n_iter_
    assert all(np.isfinite(est.loss_curve_))


@pytest.mark.parametrize("cell,solver,dtype", list(itertools.product(CELLS, SOLVERS, DTYPES)))
def test_finite_loss_with_non_finite_last_update_is_rolled_back(cell, solver, dtype):
    # One minibatch per epoch: the exploding epoch's loss is computed with the
    # clean parameters (finite), then its only update overflows them. The old
    # loop accepted that epoch and "restored" its non-finite parameters.
    X, y = _data()
    est = RNNRegressor(cell=cell, solver=solver, dtype=dtype, hidden_layer_sizes=(5,),
                       max_iter=2, batch_size=24, shuffle=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning
        est.fit(X, y)
    clean = _params(est)
    clean_moment = est._optimizer_state["m"].copy()
    est.set_params(warm_start=True, max_iter=5, **_exploding(solver))
    rec = _fit_recording(est, X, y)
    assert [str(w.message)[:30] for w in rec] == ["Training diverged in epoch 3: "]
    assert "restored to the end of epoch 2" in str(rec[0].message)
    for before, after in zip(clean, _params(est)):
        np.testing.assert_array_equal(after, before)
    np.testing.assert_array_equal(est._optimizer_state["m"], clean_moment)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    # still usable: training continues from the clean epoch
    est.set_params(learning_rate_init=1e-3, beta_1=0.9, momentum=0.9, max_iter=1,
                   clip_grad_norm=5.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", message="Stochastic optimizer")
        warnings.simplefilter("error", category=RuntimeWarning)
        est.fit(X, y)
    assert est.n_iter_ == 3 and np.all(np.isfinite(est.predict(X)))


@pytest.mark.parametrize("cell,solver,dtype", list(itertools.product(CELLS, SOLVERS, DTYPES)))
def test_divergence_in_first_epoch_restores_initial_parameters(cell, solver, dtype):
    X, y = _data()
    est = RNNRegressor(cell=cell, solver=solver, dtype=dtype, hidden_layer_sizes=(5,),
                       max_iter=3, batch_size=8, random_state=0, **_exploding(solver))
    rec = _fit_recording(est, X, y)
    assert len(rec) == 1 and "diverged in epoch 1" in str(rec[0].message)
    assert "restored to their values before training" in str(rec[0].message)
    assert est.n_iter_ == 0 and est.loss_curve_ == []
    # the initial parameters are those of any fit with the same random_state
    # before its first update: a partial_fit with a zero-effect step size
    ref = RNNRegressor(cell=cell, solver=solver, dtype=dtype, hidden_layer_sizes=(5,),
                       random_state=0, learning_rate_init=1e-300, batch_size=8)
    ref.partial_fit(X, y)
    for a, b in zip(_params(est), _params(ref)):
        # LSTM's zero forget biases move by ~1e-300 in float64
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-200)


@pytest.mark.parametrize("lr,seed,n_clean,diverged", [(1e4, 1, 2, 4), (1e6, 0, 0, 2)])
def test_epoch_whose_end_overflows_the_forward_pass_is_not_clean(lr, seed, n_clean,
                                                                 diverged):
    # relu with a huge step: an epoch ends with finite parameters so large
    # that the next forward pass overflows. The diverging epoch is the next
    # one, but the epoch to restore is the one before the overflowing end.
    rng = np.random.RandomState(seed)
    X, y = rng.normal(size=(8, 6, 1)), rng.normal(size=8)
    params = dict(activation="relu", solver="sgd", learning_rate_init=lr, momentum=0.0,
                  clip_grad_norm=None, hidden_layer_sizes=(5,), batch_size=8,
                  shuffle=False, random_state=seed)
    est = RNNRegressor(max_iter=20, **params)
    rec = _fit_recording(est, X, y)
    assert len(rec) == 1
    assert str(rec[0].message).startswith(f"Training diverged in epoch {diverged}:")
    assert est.n_iter_ == n_clean == len(est.loss_curve_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(np.isfinite(est.predict(X)))
    if n_clean:
        ref = RNNRegressor(max_iter=n_clean, **params)
        _fit_recording(ref, X, y)
        for a, b in zip(_params(est), _params(ref)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell", CELLS)
def test_classifier_divergence_partial_fit_and_early_stopping(cell):
    X, y = _data(n=40)
    labels = (y > 0).astype(int)
    clf = RNNClassifier(cell=cell, hidden_layer_sizes=(4,), random_state=0, batch_size=40,
                        shuffle=False)
    clf.partial_fit(X, labels, classes=[0, 1])
    clean = _params(clf)
    clf.set_params(**_exploding("adam"))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        clf.partial_fit(X, labels)
    assert len(rec) == 1 and "diverged in epoch 2" in str(rec[0].message)
    for a, b in zip(_params(clf), clean):
        np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(clf.predict_proba(X)))

    reg = RNNRegressor(cell=cell, hidden_layer_sizes=(4,), random_state=0, max_iter=5,
                       early_stopping=True, solver="sgd", **_exploding("sgd"))
    rec = _fit_recording(reg, X, y)
    assert len(rec) == 1 and "diverged" in str(rec[0].message)
    assert all(np.all(np.isfinite(p)) for p in _params(reg))


# -------------------------------------------------------------- interruption
_INTERRUPT_CHILD = textwrap.dedent("""
    import json, signal, sys, warnings
    # a shell's background job (nohup ... &) starts with SIGINT ignored, and
    # Python then installs no KeyboardInterrupt handler: restore it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import numpy as np
    from crnn import RNNRegressor
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(64, 8, 2)), rng.normal(size=64)
    params = dict(hidden_layer_sizes=(6,), random_state=0, tol=0.0,
                  n_iter_no_change=10**6, batch_size=16)
    est = RNNRegressor(max_iter=10**6, verbose=True, **params)  # prints each epoch
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        est.fit(X, y)
    n = est.n_iter_
    # the oracle: the same fit stopped after n epochs by max_iter
    ref = RNNRegressor(max_iter=n, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    same = all(np.array_equal(a, b) for d, e in zip(est.coefs_, ref.coefs_)
               for a, b in zip(d.values(), e.values()))
    print(json.dumps({"n_iter": n, "same": same, "curve": len(est.loss_curve_),
                      "warnings": [f"{w.category.__name__}: {w.message}" for w in rec],
                      "finite": bool(np.all(np.isfinite(est.predict(X))))}))
""")


def test_sigint_during_fit_keeps_last_completed_epoch_and_returns():
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPT_CHILD], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # the first verbose line: an epoch is complete and fit is in its loop
        assert proc.stdout.readline().startswith("Iteration 1,")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    # the signal can land between a verbose line's text and its newline, so
    # the result may share that line
    result = json.loads(out[out.rindex('{"n_iter"'):])
    assert result["n_iter"] >= 1 and result["curve"] == result["n_iter"]
    assert result["same"], result
    assert result["finite"]
    assert len(result["warnings"]) == 1, result["warnings"]
    assert result["warnings"][0].startswith("UserWarning: Training interrupted")


# -------------------------------------------------------------------- memory
@pytest.mark.parametrize("cell,return_sequences,layer_norm",
                         [(c, r, False) for c, r in itertools.product(CELLS, [False, True])]
                         + [(c, False, True) for c in CELLS])
def test_memory_estimate_matches_the_fit_peak(cell, return_sequences, layer_norm):
    # NumPy reports its buffers to tracemalloc: the peak of a fit whose
    # caches dominate must be what training_bytes predicts.
    rng = np.random.RandomState(0)
    N, T, I, H, B = 128, 120, 3, 24, 64
    X = rng.normal(size=(N, T, I)).astype(np.float32)
    y = rng.normal(size=(N, T) if return_sequences else N)
    est = RNNRegressor(cell=cell, hidden_layer_sizes=(H, H), max_iter=1, batch_size=B,
                       return_sequences=return_sequences, layer_norm=layer_norm,
                       random_state=0)
    gc.collect()
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = _memory.training_bytes(cell, N, T, I, (H, H), 1, B, 4, return_sequences,
                                      _threads.n_parts(B), layer_norm=layer_norm)
    assert 0.85 * peak <= estimate <= 1.25 * peak, (estimate, peak)
    if layer_norm:
        # the normalisation's caches are counted, not only tolerated
        assert estimate > 1.3 * _memory.training_bytes(cell, N, T, I, (H, H), 1, B, 4, False,
                                                       _threads.n_parts(B))


def test_fit_too_large_for_memory_fails_fast_with_advice(monkeypatch):
    X, y = _data(n=64, T=50)
    monkeypatch.setattr(_memory, "available_bytes", lambda: 100_000)
    est = RNNRegressor(cell="lstm", hidden_layer_sizes=(32,), batch_size=64)
    needed = _memory.training_bytes("lstm", 64, 50, 2, (32,), 1, 64, 4, False,
                                    _threads.n_parts(64))
    with pytest.raises(MemoryError, match=rf"\({needed} bytes\).*lower batch_size "
                                          r"\(it is 64\).*truncate_bptt"):
        est.fit(X, y)
    assert not hasattr(est, "n_iter_") or est.n_iter_ == 0
    # the advice works: a small enough batch fits in the same budget
    small = _memory.training_bytes("rnn", 64, 50, 2, (4,), 1, 2, 4)
    assert small < 100_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        RNNRegressor(hidden_layer_sizes=(4,), batch_size=2, max_iter=1).fit(X, y)


@pytest.mark.parametrize("Est", [RNNRegressor, RNNClassifier])
def test_oversized_fit_fails_before_allocating(Est):
    # (4 * 20000)^2 LSTM weights alone are 6.4 GB in float32; with the caches
    # of 1000 steps the fit needs ~40 GB: refused before any of it exists
    X = np.random.RandomState(0).normal(size=(8, 1000, 1))
    y = np.arange(8) % 2
    needed = _memory.training_bytes("lstm", 8, 1000, 1, (20000,), 2, 8, 4)
    if needed <= (_memory.available_bytes() or 0):
        pytest.skip(f"this machine has {needed} bytes available")
    est = Est(cell="lstm", hidden_layer_sizes=(20000,))
    tracemalloc.start()
    try:
        with pytest.raises(MemoryError, match=r"needs about \d+\.\d GiB \(\d+ bytes\)"):
            est.fit(X, y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20, peak  # nothing large was allocated
    assert not hasattr(est, "coefs_")


def test_available_bytes_is_plausible():
    avail = _memory.available_bytes()
    assert avail is None or 0 < avail < 1 << 50


# ---------------------------------------------------------------- threads
def _thread_data(seed):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(48, 7, 3))
    return X, X.sum(axis=(1, 2)) + rng.normal(size=48) * 0.1


def _fit_one(i):
    X, y = _thread_data(i)
    cell = CELLS[i % 3]
    if i % 2:
        est = RNNClassifier(cell=cell, hidden_layer_sizes=(6,), max_iter=3, random_state=i,
                            dtype=DTYPES[i % 2])
        est.fit(X, (y > 0).astype(int))
        return est.predict_proba(X)
    est = RNNRegressor(cell=cell, hidden_layer_sizes=(6,), max_iter=3, random_state=i,
                       dtype=DTYPES[(i // 2) % 2])
    est.fit(X, y)
    return est.predict(X)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_eight_threads_fit_and_predict_like_serial():
    X_big = np.random.RandomState(99).normal(size=(700, 9, 3))  # > one predict chunk
    shared = [RNNRegressor(cell=c, hidden_layer_sizes=(5,), max_iter=2, random_state=1)
              .fit(*_thread_data(50)) for c in CELLS]
    serial_fit = [_fit_one(i) for i in range(8)]
    serial_pred = [s.predict(X_big) for s in shared]
    results, errors = {}, []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            for rep in range(2):
                results[("fit", i, rep)] = _fit_one(i)
                results[("pred", i, rep)] = shared[i % 3].predict(X_big)
        except BaseException as exc:  # reported below with its thread
            errors.append((i, exc))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i in range(8):
        for rep in range(2):
            np.testing.assert_array_equal(results[("fit", i, rep)], serial_fit[i])
            np.testing.assert_array_equal(results[("pred", i, rep)], serial_pred[i % 3])


def test_many_threads_predict_on_one_fitted_estimator():
    X, y = _thread_data(3)
    est = RNNRegressor(cell="lstm", hidden_layer_sizes=(8, 4), max_iter=2,
                       return_sequences=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, np.cumsum(X[:, :, 0], axis=1))
    rng = np.random.RandomState(1)
    inputs = [rng.normal(size=(int(n), 7 + i % 3, 3)) for i, n in
              enumerate(rng.randint(1, 600, size=16))]
    expected = [est.predict(x) for x in inputs]
    got = [None] * len(inputs)

    def work(i):
        for _ in range(3):
            got[i] = est.predict(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------- leaks
def test_fit_predict_cycles_do_not_leak():
    from ._leak import run

    report = run(cycles=120, warmup=30)
    # a leak of one small array per cycle (>= 4 kB) would add 360 kB here
    assert report["growth_bytes"] < 3 * 1024 * 1024, report
    assert report["slope_bytes_per_cycle"] < 2048, report
