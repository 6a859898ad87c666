# The one place crnn talks to BLAS (scipy.linalg.cython_blas). Every matrix
# here is row-major (C order); the operand swap that maps a row-major product
# onto Fortran BLAS is written once, in _blas.pyx.
from cython cimport floating

cdef enum BLAS_Trans:
    NoTrans = 110  # ord('n')
    Trans = 116    # ord('t')

cdef void gemm(BLAS_Trans trans_a, BLAS_Trans trans_b, int m, int n, int k,
               floating alpha, const floating* A, int lda,
               const floating* B, int ldb,
               floating beta, floating* C, int ldc) noexcept nogil
