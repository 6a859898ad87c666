"""Row-major GEMM over scipy.linalg.cython_blas for float32 and float64.

C (m x n) = alpha * op(A) (m x k) @ op(B) (k x n) + beta * C, all row-major.
A row-major matrix is its own transpose in column-major storage, so the
product is handed to Fortran BLAS as C^T = op(B)^T @ op(A)^T with the two
operands swapped. SciPy's declarations are not const-qualified, hence the
casts on the input pointers.
"""
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef void gemm(BLAS_Trans trans_a, BLAS_Trans trans_b, int m, int n, int k,
               floating alpha, const floating* A, int lda,
               const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil:
    cdef char ta = <char>trans_a
    cdef char tb = <char>trans_b
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*>B, &ldb,
              <float*>A, &lda, &beta, C, &ldc)
    else:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*>B, &ldb,
              <double*>A, &lda, &beta, C, &ldc)


def gemm_memview(bint trans_a, bint trans_b, double alpha,
                 const floating[:, ::1] A, const floating[:, ::1] B,
                 double beta, floating[:, ::1] C):
    """C = alpha * op(A) @ op(B) + beta * C on C-contiguous arrays (for tests)."""
    cdef int m = C.shape[0]
    cdef int n = C.shape[1]
    cdef int k = A.shape[0] if trans_a else A.shape[1]
    if (B.shape[1] if trans_b else B.shape[0]) != k:
        raise ValueError("inner dimensions do not match")
    if (A.shape[1] if trans_a else A.shape[0]) != m or \
            (B.shape[0] if trans_b else B.shape[1]) != n:
        raise ValueError("output shape does not match")
    with nogil:
        gemm(Trans if trans_a else NoTrans, Trans if trans_b else NoTrans,
             m, n, k, <floating>alpha, &A[0, 0], A.shape[1], &B[0, 0], B.shape[1],
             <floating>beta, &C[0, 0], C.shape[1])
