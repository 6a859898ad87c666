"""Which SIMD path the row passes of _gate_rows.h run on in this process.

The choice is made in C when each extension module is loaded (at
``import crnn``), from the CPU's features and the environment variable
``CRNN_SIMD`` (``sse2``, ``avx2``, ``avx512``; unset, empty or ``auto``
picks the widest the CPU supports). A value that is unknown, or names a
path this CPU cannot run, falls back to the widest supported path; this
module warns about it once, when crnn is imported.
"""
import os
import warnings

cdef extern from "_gate_rows.h" nogil:
    enum: CRNN_SIMD_N
    const char* crnn_simd_names[]
    int crnn_simd_level
    int crnn_simd_supported()
    int crnn_simd_choose(const char* request, int supported)
    int crnn_avx512_tile_rows
    int crnn_tile_rows_choose(const char* request)


def _names(int mask):
    return [crnn_simd_names[level].decode() for level in range(CRNN_SIMD_N)
            if mask & (1 << level)]


def simd_path():
    """Name of the SIMD path in use: ``"sse2"``, ``"avx2"`` or ``"avx512"``."""
    return crnn_simd_names[crnn_simd_level].decode()


def avx512_tile_rows():
    """Rows of the AVX-512 packed product's widest tile: 12, or 8 on AMD CPUs
    (overridable with ``CRNN_AVX512_TILE_ROWS=8`` or ``12`` before crnn is
    imported). Only the ``avx512`` path uses it."""
    return crnn_avx512_tile_rows


def _choose_tile_rows(request):
    """The tile rows the C side picks for a CRNN_AVX512_TILE_ROWS value
    (None: unset) on this CPU; for tests."""
    cdef bytes raw
    if request is None:
        return crnn_tile_rows_choose(NULL)
    raw = request.encode()
    return crnn_tile_rows_choose(raw)


def supported_paths():
    """Names of the SIMD paths this CPU and build can run, narrowest first."""
    return _names(crnn_simd_supported())


def _choose(request, int supported):
    """The path the C dispatcher picks for a CRNN_SIMD value (None: unset)
    and a mask of supported levels (bit ``1 << level``); for tests."""
    cdef const char* c_request = NULL
    cdef bytes raw
    if request is not None:
        raw = request.encode()
        c_request = raw
    return crnn_simd_names[crnn_simd_choose(c_request, supported)].decode()


def _warn(message):
    # attributed to this module: a warning raised at import would otherwise
    # point into importlib
    warnings.warn_explicit(message, RuntimeWarning, __file__, 0, module=__name__)


def _check_request():
    """Warn if CRNN_SIMD could not be honoured (the C side just falls back)."""
    request = os.environ.get("CRNN_SIMD")
    if request is None or request in ("", "auto"):
        return
    known = _names((1 << CRNN_SIMD_N) - 1)
    supported = supported_paths()
    if request not in known:
        _warn(f"CRNN_SIMD={request!r} is not one of {', '.join(known)} or auto; "
              f"crnn uses the {simd_path()} path")
    elif request not in supported:
        _warn(f"CRNN_SIMD={request!r}: this CPU (or build) cannot run that path "
              f"(it supports {', '.join(supported)}); crnn uses the {simd_path()} path")


_check_request()


from cython cimport floating
from libc.stdlib cimport free

from crnn._packed cimport pack_operand, product, weight_gradient, weight_gradients2


def _weight_gradient(const floating[:, :] delta, const floating[:, :] B, floating[:, :] dW,
                     Py_ssize_t min_cols=0, bint accumulate=False):
    """dW = delta.T @ B (``+=`` with ``accumulate``) through the driver's
    weight-gradient product (with the default ``min_cols`` = 0, every B on
    crnn_gemm_atb, in its wide-row order where delta's rows lie 8 KiB apart
    or more); for tests
    against BLAS. delta, B and dW may be strided views whose rows are
    contiguous (a GRU's gate blocks are column slices of its delta)."""
    cdef Py_ssize_t n_rows = delta.shape[0], n_out = delta.shape[1], n_cols = B.shape[1]
    if B.shape[0] != n_rows or dW.shape[0] != n_out or dW.shape[1] != n_cols:
        raise ValueError("shapes do not match")
    if ((n_rows > 1 and n_out > 1 and delta.strides[1] != sizeof(floating))
            or (n_rows > 1 and n_cols > 1 and B.strides[1] != sizeof(floating))
            or (n_out > 1 and n_cols > 1 and dW.strides[1] != sizeof(floating))):
        raise ValueError("operands need contiguous rows")
    if n_out == 0 or n_cols == 0:
        return
    cdef Py_ssize_t ld_delta = delta.strides[0] // sizeof(floating) if n_rows > 1 else n_out
    cdef Py_ssize_t ldb = B.strides[0] // sizeof(floating) if n_rows > 1 else n_cols
    cdef Py_ssize_t ldw = dW.strides[0] // sizeof(floating) if n_out > 1 else n_cols
    cdef const floating* d = &delta[0, 0] if n_rows > 0 else &dW[0, 0]
    cdef const floating* b = &B[0, 0] if n_rows > 0 else &dW[0, 0]
    with nogil:
        weight_gradient(n_out, n_cols, n_rows, d, ld_delta, b, ldb, &dW[0, 0], ldw, min_cols,
                        accumulate)


def _weight_gradients2(const floating[:, ::1] delta, const floating[:, :] B1,
                       floating[:, :] dW1, const floating[:, :] B2, floating[:, :] dW2,
                       bint accumulate=False):
    """dW1 = delta.T @ B1 and dW2 = delta.T @ B2 (``+=`` with ``accumulate``)
    in one pass over delta (crnn_gemm_atb2, backward's dW_hh and dW_ih); for
    tests against BLAS. B1, B2, dW1 and dW2 may be strided views whose rows
    are contiguous."""
    cdef Py_ssize_t n_rows = delta.shape[0], n_out = delta.shape[1]
    cdef Py_ssize_t n1 = B1.shape[1], n2 = B2.shape[1]
    if (B1.shape[0] != n_rows or B2.shape[0] != n_rows or dW1.shape[0] != n_out
            or dW2.shape[0] != n_out or dW1.shape[1] != n1 or dW2.shape[1] != n2):
        raise ValueError("shapes do not match")
    if n_rows == 0 or n_out == 0 or n1 == 0 or n2 == 0:
        raise ValueError("empty operands: use _weight_gradient")
    if ((n1 > 1 and (B1.strides[1] != sizeof(floating) or dW1.strides[1] != sizeof(floating)))
            or (n2 > 1 and (B2.strides[1] != sizeof(floating)
                            or dW2.strides[1] != sizeof(floating)))):
        raise ValueError("operands need contiguous rows")
    cdef Py_ssize_t ldb1 = B1.strides[0] // sizeof(floating) if n_rows > 1 else n1
    cdef Py_ssize_t ldb2 = B2.strides[0] // sizeof(floating) if n_rows > 1 else n2
    cdef Py_ssize_t ldw1 = dW1.strides[0] // sizeof(floating) if n_out > 1 else n1
    cdef Py_ssize_t ldw2 = dW2.strides[0] // sizeof(floating) if n_out > 1 else n2
    with nogil:
        weight_gradients2(n_out, n_rows, &delta[0, 0], n_out, n1, &B1[0, 0], ldb1, &dW1[0, 0],
                          ldw1, n2, &B2[0, 0], ldb2, &dW2[0, 0], ldw2, accumulate)


def _packed_matmul(const floating[:, :] A, const floating[:, ::1] W, bint transposed,
                   floating[:, :] C, bint accumulate, Py_ssize_t repeats=1, bint blas=False):
    """C = A @ W.T (``transposed``) or A @ W, or ``+=`` with ``accumulate``,
    through the packed GEMM of the chosen path; for tests against BLAS.

    A and C may be strided views whose rows are contiguous. ``repeats``
    runs the product that many times on one packing (as a pass's steps
    do; with ``accumulate`` each adds again), and ``blas=True`` runs the
    same loop through BLAS instead: the asv benchmark of the per-step
    products times both.
    """
    cdef Py_ssize_t M = A.shape[0], K = A.shape[1]
    cdef Py_ssize_t N = W.shape[0] if transposed else W.shape[1]
    cdef Py_ssize_t r
    if (W.shape[1] if transposed else W.shape[0]) != K or C.shape[0] != M or C.shape[1] != N:
        raise ValueError("shapes do not match")
    if (M and K > 1 and A.strides[1] != sizeof(floating)) or \
            (M and N > 1 and C.strides[1] != sizeof(floating)):
        raise ValueError("A and C need contiguous rows")
    if M == 0 or N == 0:
        return
    cdef Py_ssize_t lda = A.strides[0] // sizeof(floating) if M > 1 else K
    cdef Py_ssize_t ldc = C.strides[0] // sizeof(floating) if M > 1 else N
    cdef Py_ssize_t ldw = K if transposed else N
    cdef floating* packed = NULL
    cdef int failed = 0
    cdef const floating* a = &A[0, 0] if K > 0 else NULL
    cdef const floating* w = &W[0, 0] if K > 0 else NULL
    with nogil:
        # the driver's two pieces: without ``blas`` every K is packed
        if not blas:
            failed = pack_operand(w, ldw, K, N, transposed, 0, &packed)
        if failed == 0:
            for r in range(repeats):
                product(M, N, K, a, lda, w, ldw, transposed, packed, &C[0, 0], ldc, accumulate)
            free(packed)
    if failed:
        raise MemoryError()
