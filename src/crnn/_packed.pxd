# The packed-weight GEMM of _packed_gemm.inc for either precision (C,
# compiled per SIMD level like the row passes; each name calls the level
# chosen when crnn is imported, see crnn._simd). A pass packs its recurrent
# weights once and runs every step's product on the packed copy.
from cython cimport floating

cdef extern from "_gate_rows.h" nogil:
    float* crnn_pack_bt_f(const float* W, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t N)
    double* crnn_pack_bt_d(const double* W, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t N)
    float* crnn_pack_bn_f(const float* W, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t N)
    double* crnn_pack_bn_d(const double* W, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t N)
    void crnn_packed_gemm_f(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const float* A,
                            Py_ssize_t lda, const float* packed, float* C, Py_ssize_t ldc,
                            int accumulate)
    void crnn_packed_gemm_d(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const double* A,
                            Py_ssize_t lda, const double* packed, double* C, Py_ssize_t ldc,
                            int accumulate)


cdef inline floating* pack_transposed(const floating* W, Py_ssize_t ldw, Py_ssize_t K,
                                      Py_ssize_t N) noexcept nogil:
    """B = W^T packed, W (N x K) with row stride ldw; free() it; NULL: no memory."""
    if floating is float:
        return crnn_pack_bt_f(W, ldw, K, N)
    else:
        return crnn_pack_bt_d(W, ldw, K, N)


cdef inline floating* pack(const floating* W, Py_ssize_t ldw, Py_ssize_t K,
                           Py_ssize_t N) noexcept nogil:
    """B = W packed, W (K x N) with row stride ldw; free() it; NULL: no memory."""
    if floating is float:
        return crnn_pack_bn_f(W, ldw, K, N)
    else:
        return crnn_pack_bn_d(W, ldw, K, N)


cdef inline void packed_gemm(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const floating* A,
                             Py_ssize_t lda, const floating* packed, floating* C,
                             Py_ssize_t ldc, bint accumulate) noexcept nogil:
    """C[M x N] = A[M x K] B, or += with ``accumulate``; B from a packer above."""
    if floating is float:
        crnn_packed_gemm_f(M, N, K, A, lda, packed, C, ldc, accumulate)
    else:
        crnn_packed_gemm_d(M, N, K, A, lda, packed, C, ldc, accumulate)
