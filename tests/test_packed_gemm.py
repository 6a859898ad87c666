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
# 11..40 those of AVX-512's 12-row tiles and their 8-row remainders (16 and
# 28 end in two 8-row tiles), plus the driver's batch sizes; N and K: below,
# at and across the panel widths (8 to 32 floats, 4 to 16 doubles), and the
# workloads' shapes.
SHAPES = [(m, n, k) for m in (1, 2, 3, 5, 7, 8, 9, 11, 12, 13, 16, 17, 20, 23, 28, 40)
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


# The weight-gradient product dW = delta^T B (crnn_gemm_atb): n_out (delta's
# columns, the panels) below, at and across the panel widths; n_cols (B's
# columns, the micro-tile rows) covering every left-over count; n_rows
# across the 256-row blocks; and the workloads' shapes (W1 dW_hh, a GRU's 3H,
# an LSTM's 4H of 512 and a W3 delta whose rows lie 8 KiB apart, which take
# the wide-row order).
WEIGHT_SHAPES = [(n_out, n_cols, n_rows) for n_out in (1, 7, 16, 33, 96)
                 for n_cols, n_rows in ((1, 1), (3, 255), (9, 256), (17, 257), (8, 600))]
WEIGHT_SHAPES += [(33, n_cols, 257) for n_cols in (12, 16, 20, 23, 28)]
WEIGHT_SHAPES += [(128, 32, 800), (512, 32, 3200), (512, 128, 256), (384, 128, 300),
                  (2048, 16, 260)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", WEIGHT_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_weight_gradient_matches_blas(shape, dtype):
    n_out, n_cols, n_rows = shape
    rng = np.random.default_rng(n_out * 7919 + n_cols * 31 + n_rows)
    delta = rng.standard_normal((n_rows, n_out)).astype(dtype)
    B = rng.standard_normal((n_rows, n_cols)).astype(dtype)
    dW = np.full((n_out, n_cols), np.nan, dtype)       # every element must be written
    _simd._weight_gradient(delta, B, dW)
    assert rel_error(dW, delta.T @ B) < _tolerance(dtype, n_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(7, 3, 5), (33, 17, 257), (512, 128, 300)],
                         ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("min_cols", [0, 1 << 20], ids=["atb", "blas"])
def test_weight_gradient_accumulates_block_after_block(shape, dtype, min_cols):
    # backward's blocks of rows: the first sets dW, the next ones add to it
    n_out, n_cols, n_rows = shape
    rng = np.random.default_rng(n_out + n_cols + n_rows)
    delta = rng.standard_normal((n_rows, n_out)).astype(dtype)
    B = rng.standard_normal((n_rows, n_cols)).astype(dtype)
    dW = np.full((n_out, n_cols), np.nan, dtype)
    edges = [0, n_rows // 3, n_rows // 3, n_rows]     # an empty block too
    for lo, hi in zip(edges[:-1], edges[1:]):
        _simd._weight_gradient(delta[lo:hi], B[lo:hi], dW, min_cols, accumulate=lo > 0)
    assert rel_error(dW, delta.T @ B) < _tolerance(dtype, n_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_gradient_of_strided_blocks(dtype):
    # a GRU's n-gate block: columns 2H:3H of a wider delta, written into rows
    # H2: of dW_ih; the columns and rows outside stay untouched
    rng = np.random.default_rng(3)
    H, I, n_rows = 20, 17, 300
    delta = rng.standard_normal((n_rows, 4 * H)).astype(dtype)
    X = rng.standard_normal((n_rows, I + 5)).astype(dtype)[:, 2:2 + I]
    dW = np.full((4 * H, I + 3), -7.0, dtype)
    _simd._weight_gradient(delta[:, 2 * H:3 * H], X, dW[H:2 * H, 1:1 + I])
    assert rel_error(dW[H:2 * H, 1:1 + I], delta[:, 2 * H:3 * H].T @ X) < _tolerance(dtype, n_rows)
    outside = np.ones(dW.shape, bool)
    outside[H:2 * H, 1:1 + I] = False
    assert np.all(dW[outside] == -7.0)


# Two weight gradients on one delta (crnn_gemm_atb2: an LSTM's or vanilla
# layer's dW_hh and dW_ih): both widths below and above the copy rule (three
# strips read each panel: n_cols1 + n_cols2 > 2 MR), every left-over count of
# either, a ragged last panel, rows across the 256-row blocks, W1's (128
# gates, H = 32, I = 8) and W2's shapes, and delta rows 8 KiB apart (the
# wide-row order).
PAIR_SHAPES = [(n_out, n1, n2, n_rows) for n_out in (7, 33)
               for n1, n2 in ((1, 1), (3, 2), (5, 8), (13, 9), (32, 8), (16, 12), (28, 23))
               for n_rows in (5, 257)]
PAIR_SHAPES += [(128, 32, 8, 800), (512, 128, 32, 300), (2048, 5, 3, 40)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", PAIR_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_weight_gradients_of_two_operands_match_blas(shape, dtype):
    n_out, n1, n2, n_rows = shape
    rng = np.random.default_rng(n_out * 7919 + n1 * 31 + n2 * 7 + n_rows)
    delta = rng.standard_normal((n_rows, n_out)).astype(dtype)
    H_prev = rng.standard_normal((n_rows, n1 + 3)).astype(dtype)[:, 1:1 + n1]
    X = rng.standard_normal((n_rows, n2)).astype(dtype)
    dW_hh = np.full((n_out, n1), np.nan, dtype)        # every element must be written
    dW_ih_wide = np.full((n_out, n2 + 4), -7.0, dtype)
    dW_ih = dW_ih_wide[:, 2:2 + n2]
    _simd._weight_gradients2(delta, H_prev, dW_hh, X, dW_ih)
    assert rel_error(dW_hh, delta.T @ H_prev) < _tolerance(dtype, n_rows)
    assert rel_error(dW_ih, delta.T @ X) < _tolerance(dtype, n_rows)
    assert np.all(dW_ih_wide[:, :2] == -7.0) and np.all(dW_ih_wide[:, 2 + n2:] == -7.0)
    # a second block adds to both
    _simd._weight_gradients2(delta, H_prev, dW_hh, X, dW_ih, accumulate=True)
    assert rel_error(dW_hh, 2 * delta.T @ H_prev) < _tolerance(dtype, n_rows)
    assert rel_error(dW_ih, 2 * delta.T @ X) < _tolerance(dtype, n_rows)


# Delta rows 8 KiB apart or more (W3's LSTM and GRU, 4H = 2048) take the
# other loop order (crnn_gemm_atb2_wide): delta's columns in strips of the
# tile's width (every left-over count of 12 and of 6 below), B's columns in
# panels (one column, across and past the panel widths), rows across the
# 256-row blocks.
WIDE_SHAPES = [(extra, n_cols, n_rows) for extra in (0, 5, 7, 11)
               for n_cols, n_rows in ((1, 1), (17, 255), (33, 257), (64, 600))]


def _wide_columns(dtype, extra):
    return 8192 // np.dtype(dtype).itemsize + extra


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", WIDE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_weight_gradient_of_wide_rows_matches_blas(shape, dtype):
    extra, n_cols, n_rows = shape
    n_out = _wide_columns(dtype, extra)
    rng = np.random.default_rng(extra * 7919 + n_cols * 31 + n_rows)
    delta = rng.standard_normal((n_rows, n_out)).astype(dtype)
    B = rng.standard_normal((n_rows, n_cols + 2)).astype(dtype)[:, 1:1 + n_cols]
    dW = np.full((n_out, n_cols), np.nan, dtype)       # every element must be written
    _simd._weight_gradient(delta, B, dW)
    assert rel_error(dW, delta.T @ B) < _tolerance(dtype, n_rows)
    _simd._weight_gradient(delta, B, dW, accumulate=True)
    assert rel_error(dW, 2 * delta.T @ B) < _tolerance(dtype, n_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [13, 45])
def test_weight_gradient_of_wide_rows_equals_the_narrow_order(dtype, n_cols):
    # both orders compute each element as the same running sum over k: a
    # column block of a wide delta (its rows 8 KiB apart) and the same
    # columns copied into narrow rows give the same bits, in one block of
    # rows and in three (one empty)
    rng = np.random.default_rng(5)
    n_rows = 300
    wide = rng.standard_normal((n_rows, _wide_columns(dtype, 3))).astype(dtype)
    block = wide[:, 100:280]
    narrow = np.ascontiguousarray(block)
    B = rng.standard_normal((n_rows, n_cols)).astype(dtype)
    for edges in ((0, n_rows), (0, 0, 130, n_rows)):
        dW = {}
        for name, delta in (("wide", block), ("narrow", narrow)):
            dW[name] = np.full((block.shape[1], n_cols), np.nan, dtype)
            for lo, hi in zip(edges[:-1], edges[1:]):
                _simd._weight_gradient(delta[lo:hi], B[lo:hi], dW[name], accumulate=lo > 0)
        np.testing.assert_array_equal(dW["wide"], dW["narrow"])
        assert rel_error(dW["wide"], narrow.T @ B) < _tolerance(dtype, n_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_gradients2_of_wide_rows_match_blas(dtype):
    # an LSTM's dW_hh and dW_ih on one wide delta, set then added to
    rng = np.random.default_rng(6)
    n_rows, n1, n2 = 270, 37, 16
    delta = rng.standard_normal((n_rows, _wide_columns(dtype, 1))).astype(dtype)
    H_prev = rng.standard_normal((n_rows, n1)).astype(dtype)
    X = rng.standard_normal((n_rows, n2)).astype(dtype)
    dW_hh = np.full((delta.shape[1], n1), np.nan, dtype)
    dW_ih = np.full((delta.shape[1], n2), np.nan, dtype)
    _simd._weight_gradients2(delta, H_prev, dW_hh, X, dW_ih)
    assert rel_error(dW_hh, delta.T @ H_prev) < _tolerance(dtype, n_rows)
    assert rel_error(dW_ih, delta.T @ X) < _tolerance(dtype, n_rows)
    _simd._weight_gradients2(delta, H_prev, dW_hh, X, dW_ih, accumulate=True)
    assert rel_error(dW_hh, 2 * delta.T @ H_prev) < _tolerance(dtype, n_rows)
    assert rel_error(dW_ih, 2 * delta.T @ X) < _tolerance(dtype, n_rows)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_gradient_of_no_rows_is_zero(dtype):
    dW = np.full((33, 9), np.nan, dtype)
    _simd._weight_gradient(np.zeros((0, 33), dtype), np.zeros((0, 9), dtype), dW)
    assert np.all(dW == 0)


def test_weight_gradient_below_min_cols_uses_blas():
    # the default choice keeps narrow B (n_cols < 16) on BLAS: same result
    rng = np.random.default_rng(4)
    delta, B = rng.standard_normal((50, 40)), rng.standard_normal((50, 8))
    dW = np.empty((40, 8))
    _simd._weight_gradient(delta, B, dW, min_cols=16)
    np.testing.assert_allclose(dW, delta.T @ B, rtol=1e-12, atol=1e-12)
