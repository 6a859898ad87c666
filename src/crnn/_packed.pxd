# The packed-weight GEMM of _packed_gemm.inc for either precision (C,
# compiled per SIMD level like the row passes; each name calls the level
# chosen when crnn is imported, see crnn._simd). A pass packs its recurrent
# weights once (pack_operand) and runs every step's product on the packed
# copy (product), or on BLAS where packing does not pay.
from cython cimport floating

from crnn._blas cimport gemm, NoTrans, Trans

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
    int crnn_gemm_atb_f(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const float* A, Py_ssize_t lda,
                        const float* B, Py_ssize_t ldb, float* C, Py_ssize_t ldc,
                        int accumulate)
    int crnn_gemm_atb_d(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const double* A,
                        Py_ssize_t lda, const double* B, Py_ssize_t ldb, double* C,
                        Py_ssize_t ldc, int accumulate)
    int crnn_gemm_atb2_f(Py_ssize_t M1, Py_ssize_t M2, Py_ssize_t N, Py_ssize_t K,
                         const float* A1, Py_ssize_t lda1, const float* A2, Py_ssize_t lda2,
                         const float* B, Py_ssize_t ldb, float* C1, Py_ssize_t ldc1,
                         float* C2, Py_ssize_t ldc2, int accumulate)
    int crnn_gemm_atb2_d(Py_ssize_t M1, Py_ssize_t M2, Py_ssize_t N, Py_ssize_t K,
                         const double* A1, Py_ssize_t lda1, const double* A2, Py_ssize_t lda2,
                         const double* B, Py_ssize_t ldb, double* C1, Py_ssize_t ldc1,
                         double* C2, Py_ssize_t ldc2, int accumulate)
    float* crnn_pack_infer_f(int cell, const float* W_cat, Py_ssize_t n_in, Py_ssize_t n_hidden)
    double* crnn_pack_infer_d(int cell, const double* W_cat, Py_ssize_t n_in,
                              Py_ssize_t n_hidden)
    void crnn_infer_step_f(int cell, int activation, Py_ssize_t M, Py_ssize_t n_in,
                           Py_ssize_t n_hidden, const float* X, Py_ssize_t ldx, float* Hs,
                           Py_ssize_t ldh, float* Cs, const float* packed, const float* bias,
                           const float* b_ih, const float* b_hh, float* work)
    # columns of infer_step's work rows: H, or 4H for the LSTM and GRU
    Py_ssize_t infer_width "crnn_infer_width"(int cell, Py_ssize_t n_hidden)
    void crnn_infer_step_d(int cell, int activation, Py_ssize_t M, Py_ssize_t n_in,
                           Py_ssize_t n_hidden, const double* X, Py_ssize_t ldx, double* Hs,
                           Py_ssize_t ldh, double* Cs, const double* packed, const double* bias,
                           const double* b_ih, const double* b_hh, double* work)


cdef inline int pack_operand(const floating* W, Py_ssize_t ldw, Py_ssize_t K, Py_ssize_t N,
                             bint transposed, Py_ssize_t min_k,
                             floating** packed) noexcept nogil:
    """The B operand of :func:`product` (K x N: W^T if ``transposed``, W
    being (N x K), else W, (K x N); row stride ``ldw``) packed into
    ``packed[0]``, or NULL there when K < ``min_k`` (the product then runs
    on BLAS); -1 when out of memory. Free with free()."""
    packed[0] = NULL
    if K < min_k:
        return 0
    if floating is float:
        packed[0] = crnn_pack_bt_f(W, ldw, K, N) if transposed else crnn_pack_bn_f(W, ldw, K, N)
    else:
        packed[0] = crnn_pack_bt_d(W, ldw, K, N) if transposed else crnn_pack_bn_d(W, ldw, K, N)
    return -1 if packed[0] == NULL else 0


cdef inline void product(Py_ssize_t M, Py_ssize_t N, Py_ssize_t K, const floating* A,
                         Py_ssize_t lda, const floating* W, Py_ssize_t ldw, bint transposed,
                         const floating* packed, floating* C, Py_ssize_t ldc,
                         bint accumulate) noexcept nogil:
    """C[M x N] (=, or += with ``accumulate``) A[M x K] B, B = W^T or W as
    for :func:`pack_operand`: on its packed copy when there is one, else
    through BLAS."""
    if packed == NULL:
        gemm(NoTrans, Trans if transposed else NoTrans, M, N, K, 1, A, lda, W, ldw,
             1 if accumulate else 0, C, ldc)
    elif floating is float:
        crnn_packed_gemm_f(M, N, K, A, lda, packed, C, ldc, accumulate)
    else:
        crnn_packed_gemm_d(M, N, K, A, lda, packed, C, ldc, accumulate)


cdef inline void weight_gradient(Py_ssize_t n_out, Py_ssize_t n_cols, Py_ssize_t n_rows,
                                 const floating* delta, Py_ssize_t ld_delta, const floating* B,
                                 Py_ssize_t ldb, floating* dW, Py_ssize_t ldw,
                                 Py_ssize_t min_cols, bint accumulate) noexcept nogil:
    """dW[n_out x n_cols] (=, or += with ``accumulate``) delta^T B summed over
    ``n_rows`` rows (delta is (n_rows x n_out), B (n_rows x n_cols), row
    strides ``ld_delta``, ``ldb``, ``ldw``): a block of a layer's dW_hh or
    dW_ih (backward's _input_side). Through crnn_gemm_atb, which copies
    delta in blocks instead of BLAS's copy of it per call, from ``min_cols``
    columns up (narrower B stays BLAS, as short products do). On blocks
    still in cache it beat BLAS (an H = 128 LSTM's 2 KiB rows: 112 against
    102 GF/s; float64 at 4 KiB: 55 against 48); rows 8 KiB apart and more
    (W3's 4H = 2048) take its other loop order, 97-105 against OpenBLAS's
    87-101 GF/s on a Zen 4 core. BLAS also when crnn_gemm_atb runs out of
    memory."""
    cdef int status = -1
    if n_cols >= min_cols:
        if floating is float:
            status = crnn_gemm_atb_f(n_cols, n_out, n_rows, B, ldb, delta, ld_delta, dW, ldw,
                                     accumulate)
        else:
            status = crnn_gemm_atb_d(n_cols, n_out, n_rows, B, ldb, delta, ld_delta, dW, ldw,
                                     accumulate)
    if status != 0:
        gemm(Trans, NoTrans, n_out, n_cols, n_rows, 1, delta, ld_delta, B, ldb,
             1 if accumulate else 0, dW, ldw)


cdef inline void weight_gradients2(Py_ssize_t n_out, Py_ssize_t n_rows, const floating* delta,
                                   Py_ssize_t ld_delta, Py_ssize_t n_cols1, const floating* B1,
                                   Py_ssize_t ldb1, floating* dW1, Py_ssize_t ldw1,
                                   Py_ssize_t n_cols2, const floating* B2, Py_ssize_t ldb2,
                                   floating* dW2, Py_ssize_t ldw2, bint accumulate) noexcept nogil:
    """:func:`weight_gradient` of two operands against one delta: dW1 = delta^T
    B1 and dW2 = delta^T B2 (``+=`` with ``accumulate``), an LSTM's or vanilla
    layer's dW_hh and dW_ih. On crnn_gemm_atb2, which copies each block of
    delta once for both; out of memory, one weight_gradient each."""
    cdef int status
    if floating is float:
        status = crnn_gemm_atb2_f(n_cols1, n_cols2, n_out, n_rows, B1, ldb1, B2, ldb2,
                                  delta, ld_delta, dW1, ldw1, dW2, ldw2, accumulate)
    else:
        status = crnn_gemm_atb2_d(n_cols1, n_cols2, n_out, n_rows, B1, ldb1, B2, ldb2,
                                  delta, ld_delta, dW1, ldw1, dW2, ldw2, accumulate)
    if status != 0:
        weight_gradient(n_out, n_cols1, n_rows, delta, ld_delta, B1, ldb1, dW1, ldw1, 1,
                        accumulate)
        weight_gradient(n_out, n_cols2, n_rows, delta, ld_delta, B2, ldb2, dW2, ldw2, 1,
                        accumulate)


cdef inline int pack_infer(int cell, const floating* W_cat, Py_ssize_t n_in, Py_ssize_t n_hidden,
                           floating** packed) noexcept nogil:
    """W_cat = [W_ih | W_hh] packed for :func:`infer_step` into ``packed[0]``;
    -1 when out of memory. Free with free()."""
    if floating is float:
        packed[0] = crnn_pack_infer_f(cell, W_cat, n_in, n_hidden)
    else:
        packed[0] = crnn_pack_infer_d(cell, W_cat, n_in, n_hidden)
    return -1 if packed[0] == NULL else 0


cdef inline void infer_step(int cell, int activation, Py_ssize_t M, Py_ssize_t n_in,
                            Py_ssize_t n_hidden, const floating* X, Py_ssize_t ldx,
                            floating* Hs, Py_ssize_t ldh, floating* Cs, const floating* packed,
                            const floating* bias, const floating* b_ih, const floating* b_hh,
                            floating* work) noexcept nogil:
    """One inference step of one layer for M rows, product and gate pass
    fused (_infer_step.inc): x_t row i at X + i ldx, h_{t-1} row i at
    Hs + i ldh, replaced by h_t (and the LSTM's c row i at Cs + i H by
    c_t). ``work`` holds M x :func:`infer_width` values."""
    if floating is float:
        crnn_infer_step_f(cell, activation, M, n_in, n_hidden, X, ldx, Hs, ldh, Cs, packed,
                          bias, b_ih, b_hh, work)
    else:
        crnn_infer_step_d(cell, activation, M, n_in, n_hidden, X, ldx, Hs, ldh, Cs, packed,
                          bias, b_ih, b_hh, work)

