"""The one home of the tests' dtypes, tolerances and error measures.

Every test file takes its tolerance from a named table here, so that a
tolerance is chosen once, with its reason, and can be read in one place.
Tables are indexed by a dtype or a scalar type (``TABLE[np.float32]`` or
``TABLE[array.dtype]``).
"""
import numpy as np

DTYPES = (np.float32, np.float64)


class ByDtype(dict):
    """A tolerance per dtype, looked up by dtype, scalar type or dtype name."""

    def __init__(self, float32, float64):
        super().__init__({np.dtype(np.float32): float32, np.dtype(np.float64): float64})

    def __getitem__(self, dtype):
        return super().__getitem__(np.dtype(dtype))


# SPEC 9: forward outputs and gradients against PyTorch golden files,
# measured by max_rel_error.
GOLDEN_TOL = ByDtype(float32=1e-4, float64=1e-10)
# One optimizer step against PyTorch's (loss and parameters, the step itself),
# max_rel_error. float64: the same sums in another order (measured <= 1e-14
# for the step). float32: rounding of the passes; the step, a difference of
# numbers ~100x larger, keeps fewer digits (measured <= 1.2e-5).
STEP_TOL = ByDtype(float32=(1e-6, 5e-5), float64=(1e-12, 1e-11))
# Compiled kernels against the NumPy reference, rel_error over whole arrays:
# float32 rounding of a few-step recurrence; float64 a few ulps of sums
# taken in another order.
REFERENCE_TOL = ByDtype(float32=2e-5, float64=1e-11)
# The inference kernels against the reference, elementwise rtol = atol.
INFERENCE_TOL = ByDtype(float32=2e-5, float64=1e-12)
# One BLAS or optimizer call against the same NumPy expression: rtol, and an
# absolute floor for values near zero (float32 rounding of O(1) terms, a few
# float64 ulps of O(1) terms).
KERNEL_RTOL = ByDtype(float32=1e-5, float64=1e-12)
KERNEL_ATOL = ByDtype(float32=1e-6, float64=1e-14)
# SPEC 9: analytic gradients against central finite differences, float64.
FD_TOL = 1e-6
# Central differences: truncation error ~ eps^2, rounding error ~ 1e-16 |L| / eps.
# eps = 1e-5 rather than 1e-6 keeps the rounding term well below FD_TOL even
# for the smallest gradients checked (~1e-4 |L|, e.g. h0 of a deep H=1 layer).
FD_EPS = 1e-5


def rel_error(a, b):
    """||a - b|| / (||a|| + ||b||) in float64; 0 when both vanish."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def max_rel_error(actual, expected):
    """max |actual - expected| / max |expected| (shapes must match)."""
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = np.abs(expected.astype(np.float64)).max()
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max()
    return diff / scale if scale > 0 else diff
