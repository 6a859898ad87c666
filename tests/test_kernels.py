"""The private kernel modules on their own: the BLAS wrapper and the fused
optimizer step, against NumPy expressions of the same maths."""
import numpy as np
import pytest

from crnn import _blas, _optim

from ._numerics import KERNEL_ATOL as ATOL  # noqa: E402
from ._numerics import KERNEL_RTOL as RTOL  # noqa: E402


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("m, n, k", [(1, 1, 1), (3, 5, 7), (17, 2, 9), (70, 40, 30)])
def test_gemm_row_major(dtype, trans_a, trans_b, m, n, k, rng):
    A = rng.normal(size=(k, m) if trans_a else (m, k)).astype(dtype)
    B = rng.normal(size=(n, k) if trans_b else (k, n)).astype(dtype)
    C = rng.normal(size=(m, n)).astype(dtype)
    expected = 0.5 * (A.T if trans_a else A) @ (B.T if trans_b else B) + 2.0 * C
    _blas.gemm_memview(trans_a, trans_b, dtype(0.5), A, B, dtype(2.0), C)
    np.testing.assert_allclose(C, expected, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_a_large_product_lets_other_threads_run():
    # The product releases the GIL (fits in threads, the training parts): a
    # Python thread keeps ticking while one runs. Were the GIL held, no tick
    # could fall in the middle of the call: the ticking thread could run at
    # most one switch interval after the call's start time was read.
    import sys
    import threading
    import time

    A = np.ones((1600, 1600))
    C = np.zeros((1600, 1600))
    ticks, stop = [], threading.Event()
    started = threading.Event()

    def tick():
        started.set()
        n = 0
        while not stop.is_set():
            n += 1
            if n % 64 == 0:
                ticks.append(time.perf_counter())

    thread = threading.Thread(target=tick)
    thread.start()
    started.wait()
    middles = []
    try:
        for _ in range(3):
            t0 = time.perf_counter()
            _blas.gemm_memview(False, False, 1.0, A, A, 0.0, C)
            t1 = time.perf_counter()
            lo, hi = t0 + 0.4 * (t1 - t0), t1 - 0.4 * (t1 - t0)
            middles.append((t1 - t0 > 4 * sys.getswitchinterval(),
                            sum(lo < t < hi for t in ticks)))
    finally:
        stop.set()
        thread.join()
    assert C[0, 0] == 1600.0
    long_calls = [n for long_enough, n in middles if long_enough]
    if not long_calls:
        pytest.skip("the product took under four switch intervals: too short to tell")
    assert max(long_calls) > 0, middles


def test_gemm_rejects_mismatched_shapes():
    A = np.zeros((2, 3))
    with pytest.raises(ValueError, match="inner dimensions"):
        _blas.gemm_memview(False, False, 1.0, A, np.zeros((4, 2)), 0.0, np.zeros((2, 2)))


def _reference_prepare(p, g, n_decay, l2, max_norm):
    g = g.astype(np.float64).copy()
    g[:n_decay] += l2 * p[:n_decay]
    norm = np.linalg.norm(g)
    if max_norm > 0 and norm > max_norm:
        g *= max_norm / (norm + 1e-6)
    return g, norm


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_norm", [0.0, 0.5, 1e6])
@pytest.mark.parametrize("size", [50, 1037])   # whole vectors and a tail, each SIMD path
def test_adam_step(dtype, max_norm, size, rng):
    p = rng.normal(size=size).astype(dtype)
    g = rng.normal(size=size).astype(dtype)
    m = rng.normal(size=size).astype(dtype) * 0.1
    v = rng.uniform(size=size).astype(dtype) * 0.1
    step, lr, b1, b2, eps, n_decay, l2 = 3, 0.01, 0.9, 0.999, 1e-8, 30, 0.1
    g_ref, norm_ref = _reference_prepare(p, g, n_decay, l2, max_norm)
    m_ref = b1 * m + (1 - b1) * g_ref
    v_ref = b2 * v + (1 - b2) * g_ref ** 2
    lr_t = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
    p_ref = p - lr_t * m_ref / (np.sqrt(v_ref) + eps)
    norm = _optim.adam_step(p, g, m, v, n_decay, l2, max_norm, lr, b1, b2, eps, step)
    assert norm == pytest.approx(norm_ref, rel=1e-6)
    # m = b1 m + (1 - b1) g cancels near zero for some of a thousand values:
    # absolute tolerance there, as for SGD's velocity
    np.testing.assert_allclose(m, m_ref, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])
    np.testing.assert_allclose(v, v_ref, rtol=RTOL[dtype] * 10)
    np.testing.assert_allclose(p, p_ref, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])
    if max_norm == 0.5:
        assert np.linalg.norm(g.astype(np.float64)) == pytest.approx(0.5, rel=1e-4)


def test_adam_step_refuses_moments_of_another_length():
    p, g = np.zeros(8), np.zeros(8)
    with pytest.raises(ValueError, match="one length"):
        _optim.adam_step(p, g, np.zeros(8), np.zeros(7), 4, 0.0, 0.0, 0.01, 0.9, 0.999, 1e-8, 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_step(dtype, nesterov, rng):
    p = rng.normal(size=40).astype(dtype)
    g = rng.normal(size=40).astype(dtype)
    vel = rng.normal(size=40).astype(dtype)
    lr, mu, n_decay, l2 = 0.1, 0.9, 10, 0.5
    g_ref, _ = _reference_prepare(p, g, n_decay, l2, 0.0)
    vel_ref = mu * vel - lr * g_ref
    p_ref = p + (mu * vel_ref - lr * g_ref if nesterov else vel_ref)
    _optim.sgd_step(p, g, vel, n_decay, l2, 0.0, lr, mu, nesterov)
    np.testing.assert_allclose(vel, vel_ref, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])
    np.testing.assert_allclose(p, p_ref, rtol=RTOL[dtype] * 10, atol=ATOL[dtype])


@pytest.mark.skipif(not __import__("crnn").build_info()["boundscheck"],
                    reason="only the bounds-checked build (CRNN_DEBUG_CYTHON=ON) catches this; "
                           "CI runs the suite against that build too")
def test_debug_build_catches_out_of_bounds_access():
    # Kernels trust their callers; the debug build must turn a caller's shape
    # mistake into an IndexError instead of corrupting memory.
    from crnn import _recurrent

    T, B, I, H = 3, 2, 2, 4
    X = np.zeros((T * B, I))
    batch_sizes = np.full(T, B, dtype=np.intp)
    empty = np.zeros((0, 0))
    # H_out needs (T * B, H) rows. With none at all the very first index,
    # &H_out[0, 0], is out of range, so nothing is written: a shape that
    # passes the first index but is too short for the row's extent would be
    # written past its end (bounds checks see indices, not copy extents).
    H_out = np.zeros((0, H))
    # no layer normalisation: its six parameter vectors and four caches empty
    no_layer_norm = (np.zeros(0),) * 6 + (empty,) * 4
    with pytest.raises(IndexError, match="(?i)out of bounds"):
        _recurrent.forward(0, 0, np.zeros((H, I)), np.zeros((H, H)), np.zeros(H), np.zeros(H),
                           X, batch_sizes, False, np.zeros((B, H)), empty,
                           np.zeros((T * B, H)), np.zeros((T * B, H)), empty, empty, empty,
                           H_out, 0, *no_layer_norm)
