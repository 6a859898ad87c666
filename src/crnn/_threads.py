"""Data-parallel minibatches: the thread count and BLAS thread control.

Rows of a minibatch are independent sequences, so the recurrent loops of
two halves of a batch never need to synchronise. On a few cores, running
each part's whole forward/backward pass in its own thread with
single-threaded BLAS beats splitting every small per-step GEMM across
threads (which leaves the elementwise gate passes serial and pays a thread
hand-off per step). The weight gradients of the parts are summed after.
"""
import threading

from threadpoolctl import ThreadpoolController

# Below this many sequences per part, the thread hand-off costs more than
# the halved recurrent loop saves.
MIN_ROWS_PER_PART = 8

_controller = None
_max_threads = None
_lock = threading.Lock()


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
    return _max_threads


def n_parts(n_rows):
    """How many parts to split ``n_rows`` sequences into: one per thread,
    while every part keeps at least ``MIN_ROWS_PER_PART`` rows."""
    return max(1, min(max_threads(), n_rows // MIN_ROWS_PER_PART))


def single_threaded_blas():
    """Context manager: BLAS runs single-threaded inside (each part is one thread)."""
    return _blas_controller().limit(limits=1)


def split(n_rows, parts):
    """Boundaries of ``parts`` near-equal contiguous row ranges."""
    return [n_rows * p // parts for p in range(parts + 1)]
