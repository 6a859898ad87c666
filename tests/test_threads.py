"""Threaded fit and predict, and the BLAS thread state under concurrency.

crnn splits minibatches (fit) and samples (predict) over as many threads as
BLAS had when crnn first asked; on a one-core machine or with
``OPENBLAS_NUM_THREADS=1`` that is one, and the threaded paths would never
run. These tests force 2-4 threads with the private ``_threads._forced_threads``
so that they cover those paths on any machine.
"""
import contextlib
import threading
import time
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from crnn import RNNClassifier, RNNRegressor, _threads, reference

from ._cells import forward
from .conftest import CELLS

# the fits below are deliberately short; warnings.catch_warnings is not
# thread-safe, so the worker threads' ConvergenceWarnings are filtered here
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _blas_counts():
    return [(info["filepath"], info["num_threads"]) for info in threadpool_info()
            if info["user_api"] == "blas"]


def _set_blas_threads(n):
    # from a thread that ends at once: threadpoolctl >= 3.8 would otherwise
    # make this thread the only one allowed to change the pool
    thread = threading.Thread(target=threadpool_limits,
                              kwargs=dict(limits=n, user_api="blas"))
    thread.start()
    thread.join()


@pytest.fixture
def blas_at_3():
    """BLAS at 3 threads whatever the machine or OPENBLAS_NUM_THREADS; the
    counts found are restored after."""
    saved = _blas_counts()
    _set_blas_threads(3)
    counts = _blas_counts()
    # also proves that no thread holds threadpoolctl's control of the pool,
    # so crnn's own limits take effect in the test
    assert counts and all(n == 3 for _, n in counts), counts
    yield counts
    _set_blas_threads(min(n for _, n in saved))


def _data(n=96, T=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    y = np.tanh(X[:, :, 0].sum(axis=1) / 3)
    return X, y


def test_forced_threads_sets_the_part_count():
    with _threads._forced_threads(3):
        assert _threads.max_threads() == 3
        assert _threads.n_parts(64) == 3
        assert _threads.n_parts(_threads.MIN_ROWS_PER_PART * 2) == 2
    with _threads._forced_threads(1):
        assert _threads.n_parts(64) == 1


def _parts_of_one_minibatch(monkeypatch, min_part_muladds=None, forced=False):
    """Parts of a 32-row minibatch of a small LSTM on a machine of 2 threads,
    and the minibatch's forward multiply-adds (parameters x valid steps)."""
    from crnn._network import RecurrentNetwork
    from crnn._training import Hyper, SequenceData, Trainer, new_optimizer_state

    monkeypatch.setattr(_threads, "max_threads", lambda: 2)
    if min_part_muladds is not None:
        monkeypatch.setattr(_threads, "MIN_PART_MULADDS", min_part_muladds)
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 8, size=32)
    X = rng.normal(size=(32, 7, 2))
    net = RecurrentNetwork("lstm", 2, (6,), 1, "tanh", np.float64)
    params = net.init_params(rng)
    data = SequenceData(X, rng.normal(size=(32, 1)), lengths)
    with _threads._forced_threads(2) if forced else contextlib.nullcontext():
        trainer = Trainer(net, params, new_optimizer_state(net.n_params, np.float64, "adam"),
                          Hyper("adam", 1e-3, 0.0, 0.0), batch_size=32)
    assert trainer.max_parts == 2
    return len(trainer.parts(data, np.arange(32))), params.size * int(lengths.sum())


def test_small_minibatches_stay_on_one_thread(monkeypatch):
    # a few thousand multiply-adds: the hand-off to a second thread would cost more
    n_parts, muladds = _parts_of_one_minibatch(monkeypatch)
    assert muladds < _threads.MIN_PART_MULADDS and n_parts == 1
    # split exactly when each part keeps MIN_PART_MULADDS
    assert _parts_of_one_minibatch(monkeypatch, muladds // 2)[0] == 2
    assert _parts_of_one_minibatch(monkeypatch, muladds // 2 + 1)[0] == 1
    # the tests of the threaded path split small models regardless
    assert _parts_of_one_minibatch(monkeypatch, forced=True)[0] == 2
    assert _threads.parts_for_work(4, 10 * _threads.MIN_PART_MULADDS) == 4


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("return_sequences", [False, True])
def test_threaded_fit_matches_one_thread(cell, return_sequences):
    # Data-parallel parts sum the same gradient in another order: float64
    # results agree to rounding, and a part that was dropped, counted twice
    # or mis-weighted would not.
    X, y = _data()
    if return_sequences:
        y = np.tanh(np.cumsum(X[:, :, 0], axis=1) / 3)
    kwargs = dict(cell=cell, hidden_layer_sizes=(6, 5), max_iter=3, batch_size=48,
                  dtype="float64", return_sequences=return_sequences, random_state=0)
    fits = {}
    for n in (1, 3):
        with _threads._forced_threads(n), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[n] = RNNRegressor(**kwargs).fit(X, y)
    np.testing.assert_allclose(fits[3].loss_curve_, fits[1].loss_curve_, rtol=1e-10)
    for a, b in zip(fits[3].coefs_, fits[1].coefs_):
        for key in a:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("n_threads", [2, 4])
def test_threaded_predict_matches_reference(cell, n_threads, monkeypatch):
    from crnn import _training

    monkeypatch.setattr(_training, "PREDICT_CHUNK", 5)   # many chunks per thread
    X, y = _data(n=37)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = RNNRegressor(cell=cell, hidden_layer_sizes=(5, 4), max_iter=1,
                           dtype="float64", random_state=0).fit(X, y)
    output, h_n = forward(reference, cell, X, reg.coefs_[:-1])[:2]
    expected = (h_n[-1] @ reg.coefs_[-1]["W_out"].T + reg.coefs_[-1]["b_out"])[:, 0]
    with _threads._forced_threads(n_threads):
        got = reg.predict(X)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes,bidirectional", [((6,), False), ((5, 4), False), ((5, 4), True)],
                         ids=["compiled", "compiled-stack", "python"])
def test_threads_taking_chunks_in_turn_cover_every_chunk_once(cell, sizes, bidirectional,
                                                              monkeypatch):
    # threads take the next chunk not yet taken (the compiled predict, the
    # Python path of a bidirectional stack): with 8 chunks per thread every
    # row comes out as one thread computes it, to the bit
    from crnn import _minibatch, _training

    monkeypatch.setattr(_training, "PREDICT_CHUNK", 3)
    X, y = _data(n=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = RNNRegressor(cell=cell, hidden_layer_sizes=sizes, max_iter=1,
                           bidirectional=bidirectional, dtype="float32",
                           random_state=0).fit(X, y)
    assert _minibatch.predict_supports(reg._network, X.astype(np.float32), None) == (
        not bidirectional)
    with _threads._forced_threads(1):
        expected = reg.predict(X)
    for n_threads in (2, 3):
        with _threads._forced_threads(n_threads):
            np.testing.assert_array_equal(reg.predict(X), expected)


def test_overlapping_blas_limits_restore_the_thread_count(blas_at_3):
    # Two overlapping single-thread blocks that leave in the order they
    # entered: the first out must not restore "3" under the second, nor the
    # second restore the "1" it saw on entry.
    before = blas_at_3
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with _threads.single_threaded_blas():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second():
        a_in.wait(5)
        with _threads.single_threaded_blas():
            b_in.set()
            a_out.wait(5)
            seen["inside"] = _blas_counts()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = _blas_counts()
    assert all(n == 1 for _, n in seen["inside"]), seen["inside"]
    assert after == before


def test_concurrent_fits_and_predicts_restore_blas_threads(blas_at_3):
    # Fits and predicts of several Python threads enter and leave crnn's
    # single-threaded BLAS block in every interleaving; afterwards the
    # process must have the BLAS thread counts it had before.
    X, y = _data(n=64)
    labels = (y > 0).astype(int)
    with _threads._forced_threads(2):
        before = blas_at_3
        fitted = RNNClassifier(hidden_layer_sizes=(6,), max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted.fit(X, labels)
        start = threading.Barrier(4)
        errors = []

        def job(k):
            try:
                start.wait(5)
                for i in range(8):
                    RNNRegressor(hidden_layer_sizes=(6,), max_iter=1 + (i * k) % 4,
                                 random_state=k).fit(X, y)
                    fitted.predict(X[:16 + 16 * ((i + k) % 3)])
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=job, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = _blas_counts()
    assert not errors, errors
    assert after == before


@pytest.mark.parametrize("Estimator", [RNNRegressor, RNNClassifier])
def test_concurrent_predict_on_one_estimator_equals_serial(Estimator):
    X, y = _data(n=80)
    if Estimator is RNNClassifier:
        y = np.digitize(y, [-0.3, 0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = Estimator(cell="gru", hidden_layer_sizes=(8,), max_iter=3,
                          random_state=0).fit(X, y)
    methods = [model.predict] + ([model.predict_proba] if Estimator is RNNClassifier else [])
    results = [None] * 6
    with _threads._forced_threads(3):   # each predict itself threaded too
        serial = [method(X) for method in methods]

        def job(k):
            results[k] = [method(X) for method in methods]

        threads = [threading.Thread(target=job, args=(k,)) for k in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for got in results:
        for a, b in zip(got, serial):
            np.testing.assert_array_equal(a, b)


def test_single_thread_limit_holds_inside_a_users_threadpool_limits(blas_at_3):
    # A user's own threadpool_limits block makes its thread the owner of
    # OpenBLAS's pool for threadpoolctl >= 3.8, which then ignores limits set
    # from other threads: crnn's parts would each run 2-thread BLAS on top of
    # the data-parallel split (twice as slow on 2 cores). crnn's block must
    # still give 1 inside, and give back the user's count after.
    with threadpool_limits(limits=2, user_api="blas"):
        with _threads.single_threaded_blas():
            inside = _blas_counts()
        after = _blas_counts()
    assert inside and all(n == 1 for _, n in inside), inside
    assert all(n == 2 for _, n in after), after
    assert _blas_counts() == blas_at_3


def test_predict_reuses_its_worker_threads_and_a_forked_child_gets_its_own():
    """predict's workers persist between calls (no thread start per call);
    a child forked after that has none of them and starts a new pool."""
    import multiprocessing
    import os

    X, y = _data(n=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg = RNNRegressor(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X, y)
    with _threads._forced_threads(2):
        expected = reg.predict(X)
        pool = _threads._pool
        workers = set(pool._threads)
        for _ in range(3):
            np.testing.assert_array_equal(reg.predict(X), expected)
        assert _threads._pool is pool and set(pool._threads) == workers
    if not hasattr(os, "fork"):
        return
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()

    def child():
        with _threads._forced_threads(2):
            queue.put((_threads._pool is None, reg.predict(X)))

    proc = ctx.Process(target=child)
    proc.start()
    fresh, got = queue.get(timeout=60)
    proc.join(60)
    assert proc.exitcode == 0 and fresh
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("spin_seconds", [0.0, 1e-6, 0.01])
def test_spin_events_alternate_without_losing_a_wakeup(spin_seconds):
    """Two threads ping-pong through a pair of SpinEvents: every set is seen
    exactly once, whether the waiter saw the flag while polling (0.01 s),
    fell back to sleeping (0: no polling) or raced between the two (1 us)."""
    from crnn._handoff import SpinEvent

    ping, pong = SpinEvent(spin_seconds), SpinEvent(spin_seconds)
    n_rounds = 2000
    seen = []

    def partner():
        for i in range(n_rounds):
            ping.wait()
            seen.append(i)
            pong.set()

    thread = threading.Thread(target=partner, daemon=True)
    thread.start()
    for i in range(n_rounds):
        ping.set()
        pong.wait()
        assert len(seen) == i + 1      # the partner ran exactly once per set
        assert not ping.is_set() and not pong.is_set()
    thread.join(timeout=30)
    assert not thread.is_alive() and seen == list(range(n_rounds))


def test_spin_event_refuses_a_negative_or_nan_spin():
    from crnn._handoff import SpinEvent

    for bad in (-1e-3, float("nan")):
        with pytest.raises(ValueError, match="spin_seconds"):
            SpinEvent(bad)


def test_part_worker_returns_values_raises_errors_and_closes_after_its_part():
    worker = _threads.PartWorker(initializer=lambda: np.seterr(all="ignore"))
    try:
        worker.submit(lambda: threading.current_thread().name)
        assert worker.result() == "crnn-part"
        # the initializer ran in the worker's thread only
        worker.submit(lambda: np.geterr()["divide"])
        assert worker.result() == "ignore"

        def fails():
            raise ZeroDivisionError("in the part")

        worker.submit(fails)
        with pytest.raises(ZeroDivisionError, match="in the part"):
            worker.result()
        worker.submit(lambda: 7)
        with pytest.raises(RuntimeError, match="previous result"):
            worker.submit(lambda: 8)
        assert worker.result() == 7

        # close() lets a part that is still running finish first
        finished = threading.Event()

        def slow():
            finished.wait(0.2)
            finished.set()

        worker.submit(slow)
    finally:
        worker.close()
    assert finished.is_set()
    worker.close()                     # a second close is a no-op


def test_part_worker_whose_initializer_failed_reports_it_for_every_part():
    def broken():
        raise OSError("no such setting")

    worker = _threads.PartWorker(initializer=broken)
    try:
        for _ in range(2):
            worker.submit(lambda: 1)
            with pytest.raises(RuntimeError, match="initializer") as info:
                worker.result()
            assert isinstance(info.value.__cause__, OSError)
    finally:
        worker.close()


def test_a_part_that_raises_in_a_worker_reaches_the_caller_after_every_part_ended(
        monkeypatch):
    """A fit whose worker part raises: the error reaches fit's caller, and no
    part thread is left running. (A bidirectional model takes the Python
    path; the compiled minibatch's parts do not raise.)"""
    import crnn._network as network

    X, y = _data(n=64)
    original = network.RecurrentNetwork.loss_grad

    def failing(self, coefs, grads, batch, ws):
        if threading.current_thread() is not threading.main_thread():
            raise FloatingPointError("part failed in a worker")
        return original(self, coefs, grads, batch, ws)

    monkeypatch.setattr(network.RecurrentNetwork, "loss_grad", failing)
    before = {t for t in threading.enumerate() if t.name == "crnn-part"}
    with _threads._forced_threads(2), pytest.raises(FloatingPointError, match="worker"):
        RNNRegressor(hidden_layer_sizes=(4,), batch_size=32, max_iter=1, bidirectional=True,
                     random_state=0).fit(X, y)
    after = {t for t in threading.enumerate() if t.name == "crnn-part"}
    assert after <= before


def test_part_worker_reports_whether_its_part_still_runs():
    worker = _threads.PartWorker()
    try:
        assert not worker.running()
        release = threading.Event()
        worker.submit(lambda: release.wait(5))
        assert worker.running()
        release.set()
        assert worker.result() is True
        assert not worker.running()
    finally:
        worker.close()


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_an_epoch_gathers_each_part_once_and_ahead_while_workers_run(monkeypatch, dropout):
    # The calling thread gathers the next minibatch's parts while a worker
    # still runs its part: every part is gathered exactly once, some of
    # them ahead in the main thread, and the epoch's parameters are those of
    # minibatch steps that gather every part in its own thread (dropout
    # masks drawn in the same order).
    from crnn._network import RecurrentNetwork
    from crnn._training import Hyper, SequenceData, Trainer, new_optimizer_state

    X, y = _data(n=96)
    net = RecurrentNetwork("gru", X.shape[2], (5, 4), 1, "tanh", np.float64)
    start = net.init_params(np.random.default_rng(1))
    order = np.random.default_rng(2).permutation(X.shape[0])
    batch = 16
    gathered = []
    original = Trainer._gather_part

    def counted(self, data, rows, p, *args):
        gathered.append((tuple(rows[p::2]), threading.current_thread() is threading.main_thread()))
        return original(self, data, rows, p, *args)

    monkeypatch.setattr(Trainer, "_gather_part", counted)
    # the worker's part is slow, so the main thread always finds it running
    slow = RecurrentNetwork.loss_grad

    def slow_in_worker(self, *args):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.005)
        return slow(self, *args)

    monkeypatch.setattr(RecurrentNetwork, "loss_grad", slow_in_worker)
    results = {}
    for ahead in (True, False):
        gathered.clear()
        params = start.copy()
        data = SequenceData(X, y[:, None])
        with _threads._forced_threads(2), Trainer(
                net, params, new_optimizer_state(net.n_params, np.float64, "adam"),
                Hyper("adam", 1e-2, 1e-4, 5.0, dropout=dropout), batch_size=batch, n_parts=2,
                dropout_rng=np.random.default_rng(3), compiled=False) as trainer:
            if ahead:
                loss, _ = trainer.epoch(data, order)
            else:
                losses = [trainer.step(data, order[s:s + batch])
                          for s in range(0, order.shape[0], batch)]
                loss = float(np.mean(losses))
        results[ahead] = (params, loss, list(gathered))
    (params_a, loss_a, gathered_a), (params_b, loss_b, gathered_b) = results[True], results[False]
    np.testing.assert_array_equal(params_a, params_b)
    assert loss_a == pytest.approx(loss_b, rel=1e-12)
    n_parts = 2 * (X.shape[0] // batch)
    assert len(gathered_a) == len(set(r for r, _ in gathered_a)) == n_parts
    assert len(gathered_b) == n_parts
    # ahead: every minibatch after the first was gathered in the main thread
    in_main = [r for r, main in gathered_a if main]
    assert len(in_main) == n_parts - 1
    assert sum(main for _, main in gathered_b) == n_parts // 2


def test_a_part_whose_gather_ahead_failed_raises_when_it_is_run():
    from crnn._training import _Part

    calls = []

    def gather():
        calls.append(1)
        if len(calls) == 1:
            raise MemoryError("transient")
        raise ValueError("bad rows")

    part = _Part(gather)
    part.prefetch()                    # the error is left for the part's own call
    with pytest.raises(ValueError, match="bad rows"):
        part()
    ok = _Part(lambda: calls.append(2) or "batch")
    ok.prefetch()
    n = len(calls)
    assert ok() == "batch" and len(calls) == n   # not gathered again
    assert ok() == "batch" and len(calls) == n + 1   # a second call gathers anew
