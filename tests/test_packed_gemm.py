"""The packed-weight GEMM of _packed_gemm.inc against BLAS (NumPy's matmul).

The timestep driver runs every per-step recurrent product through it (W_hh^T
forward, W_hh in the backward carry, W_cat^T in inference), so it must agree
with BLAS at every shape class: rows that fill whole micro-tiles and every
left-over row count, columns that fill whole panels and a ragged last
panel, long and short K, strided A and C (the driver's delta rows are wider
than the product), and accumulation onto C. CI runs this file under every
SIMD path the CPU supports (CRNN_SIMD), each with its own tile sizes.
"""
import numpy as np
import pytest

from crnn import _simd
from tests._numerics import rel_error

# M: 1..17 covers every left-over row count for tiles of 4, 6 and 8 rows,
# plus the driver's batch sizes; N and K: below, at and across the panel
# widths (8 to 32 floats, 4 to 16 doubles), and the workloads' shapes.
SHAPES = [(m, n, k) for m in (1, 2, 3, 5, 7, 8, 9, 13, 17)
          for n, k in ((1, 1), (3, 5), (16, 7), (33, 4), (100, 37))]
SHAPES += [(32, 512, 128), (64, 128, 512), (16, 128, 40), (6, 2048, 129), (64, 384, 128)]


def _tolerance(dtype, k):
    # each output is one sum of k products, in another order than BLAS's
    return (1e-5 if dtype == np.float32 else 1e-13) * max(1.0, np.sqrt(k))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("transposed", [True, False], ids=["W.T", "W"])
def test_packed_gemm_matches_blas(shape, dtype, transposed):
    m, n, k = shape
    rng = np.random.default_rng(m * 10007 + n * 101 + k)
    A = rng.standard_normal((m, k)).astype(dtype)
    W = rng.standard_normal((n, k) if transposed else (k, n)).astype(dtype)
    expected = A @ (W.T if transposed else W)
    C = np.full((m, n), np.nan, dtype)          # every element must be written
    _simd._packed_matmul(A, W, transposed, C, False)
    assert rel_error(C, expected) < _tolerance(dtype, k)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(9, 33, 17), (13, 100, 37), (64, 512, 128)],
                         ids=lambda s: "x".join(map(str, s)))
def test_packed_gemm_accumulates_into_strided_rows(shape, dtype):
    """C += A B with A and C rows inside wider buffers (lda, ldc > width),
    leaving the columns outside C untouched."""
    m, n, k = shape
    rng = np.random.default_rng(7)
    A_wide = rng.standard_normal((m, k + 5)).astype(dtype)
    C_wide = rng.standard_normal((m, n + 11)).astype(dtype)
    W = rng.standard_normal((n, k)).astype(dtype)
    A, C = A_wide[:, 2:2 + k], C_wide[:, 3:3 + n]
    before = C_wide.copy()
    expected = C + A @ W.T
    _simd._packed_matmul(A, W, True, C, True)
    assert rel_error(C, expected) < _tolerance(dtype, k)
    np.testing.assert_array_equal(C_wide[:, :3], before[:, :3])
    np.testing.assert_array_equal(C_wide[:, 3 + n:], before[:, 3 + n:])


@pytest.mark.parametrize("blas", [False, True], ids=["packed", "blas"])
def test_repeated_products_accumulate_on_one_packing(blas):
    """The benchmark entry: ``repeats`` products on one packing (or BLAS
    calls), each added to C."""
    rng = np.random.default_rng(3)
    A = rng.standard_normal((9, 37)).astype(np.float64)
    W = rng.standard_normal((37, 21)).astype(np.float64)
    C = np.ones((9, 21))
    _simd._packed_matmul(A, W, False, C, True, repeats=4, blas=blas)
    assert rel_error(C, 1 + 4 * (A @ W)) < 1e-13


def test_packed_gemm_empty_operands_and_shape_errors():
    A = np.ones((3, 0), np.float32)
    C = np.full((3, 4), 2.0, np.float32)
    _simd._packed_matmul(A, np.ones((4, 0), np.float32), True, C, False)
    np.testing.assert_array_equal(C, 0.0)      # an empty sum is zero
    with pytest.raises(ValueError, match="shapes"):
        _simd._packed_matmul(np.ones((3, 2), np.float32), np.ones((4, 5), np.float32), True,
                             np.ones((3, 4), np.float32), False)
