"""Data-parallel minibatches: the thread count and BLAS thread control.

Rows of a minibatch are independent sequences, so the recurrent loops of
two halves of a batch never need to synchronise. On a few cores, running
each part's whole forward/backward pass in its own thread with
single-threaded BLAS beats splitting every small per-step GEMM across
threads (which leaves the elementwise gate passes serial and pays a thread
hand-off per step). The weight gradients of the parts are summed after.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

from crnn._handoff import SpinEvent

# Below this many sequences per part, the thread hand-off costs more than
# the halved recurrent loop saves.
MIN_ROWS_PER_PART = 8
# A training minibatch is split only while each part keeps at least this many
# forward multiply-adds (parameters x valid steps). A second part costs its
# own Python, which shares the GIL with the first, and the hand-off; below
# this, one thread finishes the whole minibatch sooner. Measured on 2 cores,
# one thread against two, per minibatch (benchmarks/NOTES.md): W1 rnn
# (2.2 M per minibatch) 330 vs 366 us, lstm at T = 10 (1.7 M) 262 vs 512 us;
# split: W1 gru (6.5 M) 726 vs 599 us, W1 lstm (8.7 M) 1012 vs 722 us. With
# the spinning hand-off (PartWorker) W1 rnn still loses by splitting: epochs
# of 20.9 ms on one thread against 22.1 ms on two.
MIN_PART_MULADDS = 2_500_000

_controller = None
_max_threads = None
_lock = threading.Lock()
# A private override of max_threads() (see _forced_threads).
_forced = None
# The single-threaded BLAS limit is process-wide: the first part-running
# call saves the BLAS thread counts and sets 1, the last one out restores
# them. (Overlapping threadpoolctl limits would each restore what they saw
# on entry, so overlapping fits in several threads could leave BLAS at 1.)
_limit_lock = threading.Lock()
_limit_users = 0
_saved_counts = None


# How long a training part's hand-off polls before it sleeps (PartWorker).
# The gaps it waits across in a fit take about 0.1 ms; polls of 50 us missed
# many of them and gained nothing, 200 us and 2 ms gained the same (W1 lstm
# epoch 42.3 ms with a ThreadPoolExecutor; 42.9 / 38.4 / 38.1 ms).
PART_SPIN_SECONDS = 0.0005

# The persistent pool of prediction's worker threads (see worker_pool).
_pool = None
_pool_size = 0
_pool_lock = threading.Lock()


def _reset_limit_after_fork():
    # a child forked during another thread's fit has none of its threads:
    # start from "nobody holds the limit" (its BLAS state is the parent's)
    # and with no worker pool
    global _limit_lock, _limit_users, _saved_counts, _pool, _pool_size, _pool_lock
    _limit_lock, _limit_users, _saved_counts = threading.Lock(), 0, None
    _pool, _pool_size, _pool_lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_limit_after_fork)


def _blas_controller():
    global _controller, _max_threads
    with _lock:
        if _controller is None:
            import scipy.linalg  # noqa: F401  loads the BLAS the kernels call

            _controller = ThreadpoolController().select(user_api="blas")
            _max_threads = max([lib.num_threads for lib in _controller.lib_controllers]
                               or [1])
        return _controller


def max_threads():
    """Threads crnn uses: BLAS's thread count when crnn first asked for it.

    Read once per process (``OPENBLAS_NUM_THREADS`` or an enclosing
    ``threadpoolctl.threadpool_limits`` at that moment set it) and then
    fixed, because the number of parts changes the rounding of the summed
    gradients: a fit must not depend on what other threads are doing.
    """
    _blas_controller()
    return _max_threads if _forced is None else _forced


@contextmanager
def _forced_threads(n):
    """Private: make :func:`max_threads` return ``n`` inside the block.

    For the tests of the threaded fit and predict paths, which must run
    whatever the machine's core count or ``OPENBLAS_NUM_THREADS``. The
    override is process-wide: not for concurrent blocks with different ``n``.
    """
    global _forced
    saved, _forced = _forced, int(n)
    try:
        yield
    finally:
        _forced = saved


def forced():
    """Whether a :func:`_forced_threads` block is active (tests of the
    threaded paths: their small models must still be split)."""
    return _forced is not None


def n_parts(n_rows):
    """How many parts to split ``n_rows`` sequences into: one per thread,
    while every part keeps at least ``MIN_ROWS_PER_PART`` rows."""
    return max(1, min(max_threads(), n_rows // MIN_ROWS_PER_PART))


@contextmanager
def single_threaded_blas():
    """Context manager: BLAS runs single-threaded inside (each part is one thread).

    Reference-counted across threads: BLAS's thread counts are saved when
    the first of any overlapping blocks enters and restored when the last
    one leaves, whatever order they leave in.
    """
    global _limit_users, _saved_counts
    controller = _blas_controller()
    with _limit_lock:
        if _limit_users == 0:
            _saved_counts = [lib.get_num_threads() for lib in controller.lib_controllers]
            _set_counts(controller, [1] * len(_saved_counts))
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                _set_counts(controller, _saved_counts)
                _saved_counts = None


def _set_counts(controller, counts):
    """Set each BLAS library's thread count, whichever thread calls.

    threadpoolctl >= 3.8 lets only one thread change a process-wide OpenBLAS
    pool (the first to set a limit, until it ends or leaves its ``with``
    block) and silently ignores the others. A user's enclosing
    ``threadpool_limits(2)`` therefore made that user's thread the owner,
    crnn's limit of 1 was dropped, and 2 parts x 2 BLAS threads ran on 2
    cores: every fit and predict took about twice as long (W2 lstm epoch
    1.64 s against 0.84 s). crnn's block is nested inside whatever the user
    set and restores exactly the counts it found, so it sets the library's
    count directly (threadpoolctl's own unchecked setter where it has one).
    """
    for lib, n in zip(controller.lib_controllers, counts):
        setter = getattr(lib, "_real_set_num_threads", None) or lib.set_num_threads
        setter(n)


def worker_pool(n_workers):
    """A process-wide pool with at least ``n_workers`` threads, kept between calls.

    predict runs all but one of its parts in it: starting a thread per call
    took about 0.2 ms, 6% of a whole W1 predict. Callers only submit work
    that never waits on the pool itself, so concurrent callers just queue.
    """
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n_workers:
            old, _pool = _pool, ThreadPoolExecutor(n_workers, thread_name_prefix="crnn")
            _pool_size = n_workers
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def parts_for_work(max_parts, muladds):
    """How many of ``max_parts`` a training minibatch of ``muladds`` forward
    multiply-adds is split into: each part keeps ``MIN_PART_MULADDS``."""
    return max(1, min(max_parts, int(muladds // MIN_PART_MULADDS)))


def split(n_rows, parts):
    """Boundaries of ``parts`` near-equal contiguous row ranges."""
    return [n_rows * p // parts for p in range(parts + 1)]


class PartWorker:
    """A thread that runs one training part at a time, handed over by spinning.

    ``submit(fn)`` hands ``fn`` to the thread, ``result()`` waits for its
    return value (or raises its exception); the two alternate. Between
    minibatches the thread polls for ``PART_SPIN_SECONDS`` before it sleeps
    (see ``_handoff``): a ThreadPoolExecutor's sleep and wake-up per part
    cost about 0.1 ms a minibatch, 9% of a W1 lstm epoch.

    Parameters
    ----------
    initializer : callable or None
        Run once in the new thread before any part.
    """

    def __init__(self, initializer=None):
        self._start = SpinEvent(PART_SPIN_SECONDS)
        self._done = SpinEvent(PART_SPIN_SECONDS)
        self._fn = None
        self._value = None
        self._error = None
        self._busy = False
        self._initializer = initializer
        self._thread = threading.Thread(target=self._loop, name="crnn-part", daemon=True)
        self._thread.start()

    def _loop(self):
        failed = None
        if self._initializer is not None:
            try:
                self._initializer()
            except BaseException as exc:  # every part then reports it
                failed = exc
        while True:
            self._start.wait()
            fn = self._fn
            if fn is None:
                return
            try:
                if failed is not None:
                    raise RuntimeError("the part thread's initializer failed") from failed
                self._value = fn()
            except BaseException as exc:  # handed to result() in the caller's thread
                self._error = exc
            self._done.set()

    def submit(self, fn):
        """Start ``fn()`` in the worker thread (the previous one must be collected)."""
        if self._busy:
            raise RuntimeError("PartWorker.submit before the previous result() returned")
        self._fn, self._value, self._error, self._busy = fn, None, None, True
        self._start.set()

    def result(self):
        """Wait for the submitted call; return its value or raise its exception."""
        self._done.wait()
        self._busy = False
        value, error, self._value, self._error = self._value, self._error, None, None
        if error is not None:
            raise error
        return value

    def running(self):
        """Whether the submitted call has not returned yet."""
        return self._busy and not self._done.is_set()

    def close(self):
        """Let a submitted call finish, then end the thread (idempotent)."""
        if self._thread is None:
            return
        if self._busy:
            self._done.wait()
            self._busy = False
        self._fn = None
        self._start.set()
        self._thread.join()
        self._thread = None
