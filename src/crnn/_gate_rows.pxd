# Declarations of the fused per-row elementwise passes in _gate_rows.h
# (C, compiled for SSE2, AVX2+FMA and AVX-512; each name calls the path
# chosen when crnn is imported, see crnn._simd).
from cython cimport floating

cdef extern from "_gate_rows.h" nogil:
    void crnn_rnn_forward_row_f(float* z, const float* b_ih, const float* b_hh,
                                Py_ssize_t n, int activation)
    void crnn_rnn_forward_row_d(double* z, const double* b_ih, const double* b_hh,
                                Py_ssize_t n, int activation)
    void crnn_lstm_forward_row_f(float* a, const float* b_ih, const float* b_hh,
                                 const float* c_prev, float* c_next, float* h_next,
                                 float* tc, Py_ssize_t n)
    void crnn_lstm_forward_row_d(double* a, const double* b_ih, const double* b_hh,
                                 const double* c_prev, double* c_next, double* h_next,
                                 double* tc, Py_ssize_t n)
    void crnn_gru_forward_row_f(float* a, const float* hh, const float* b_ih,
                                const float* b_hh, float* hn, const float* h_prev,
                                float* h_next, Py_ssize_t n)
    void crnn_gru_forward_row_d(double* a, const double* hh, const double* b_ih,
                                const double* b_hh, double* hn, const double* h_prev,
                                double* h_next, Py_ssize_t n)
    void crnn_lstm_backward_row_f(const float* a, const float* tc, const float* c_prev,
                                  const float* dh_in, const float* dh, float* dc, float* d,
                                  Py_ssize_t n)
    void crnn_lstm_backward_row_d(const double* a, const double* tc, const double* c_prev,
                                  const double* dh_in, const double* dh, double* dc,
                                  double* d, Py_ssize_t n)
    void crnn_gru_backward_row_f(const float* a, const float* hn, const float* h_prev,
                                 const float* dh_in, float* dh, float* d, Py_ssize_t n)
    void crnn_gru_backward_row_d(const double* a, const double* hn, const double* h_prev,
                                 const double* dh_in, double* dh, double* d, Py_ssize_t n)
    void crnn_column_sums_add_f(const float* A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                Py_ssize_t ld, float* out)
    void crnn_column_sums_add_d(const double* A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                Py_ssize_t ld, double* out)
    void crnn_ln_row_f(float* a, const float* gain, const float* bias, float* xhat, float* rstd,
                        float* dst, Py_ssize_t n)
    void crnn_ln_row_backward_f(const float* dy, const float* xhat, float rstd, const float* gain,
                                 float* da, float* dgain, float* dbias, Py_ssize_t n)
    void crnn_lstm_ln_output_row_f(const float* c, const float* o, const float* gain,
                                    const float* bias, float* chat, float* rstd, float* tc, float* h,
                                    Py_ssize_t n)
    void crnn_lstm_ln_backward_row_f(const float* o, const float* tc, const float* chat, float rstd,
                                      const float* gain, const float* dh_in, const float* dh,
                                      float* dc, float* dgain, float* dbias, float* work, Py_ssize_t n)
    void crnn_ln_row_d(double* a, const double* gain, const double* bias, double* xhat, double* rstd,
                        double* dst, Py_ssize_t n)
    void crnn_ln_row_backward_d(const double* dy, const double* xhat, double rstd, const double* gain,
                                 double* da, double* dgain, double* dbias, Py_ssize_t n)
    void crnn_lstm_ln_output_row_d(const double* c, const double* o, const double* gain,
                                    const double* bias, double* chat, double* rstd, double* tc, double* h,
                                    Py_ssize_t n)
    void crnn_lstm_ln_backward_row_d(const double* o, const double* tc, const double* chat, double rstd,
                                      const double* gain, const double* dh_in, const double* dh,
                                      double* dc, double* dgain, double* dbias, double* work, Py_ssize_t n)
    void crnn_adam_update_f(float* params, const float* grads, float* m, float* v, Py_ssize_t n,
                            float b1, float b2, float lr, float eps)
    void crnn_adam_update_d(double* params, const double* grads, double* m, double* v,
                            Py_ssize_t n, double b1, double b2, double lr, double eps)


cdef inline void column_sums_add(const floating* A, Py_ssize_t n_rows, Py_ssize_t n_cols,
                                 Py_ssize_t ld, floating* out) noexcept nogil:
    """out[j] += the sum of A's ``n_rows`` rows (stride ``ld``) in column j."""
    if floating is float:
        crnn_column_sums_add_f(A, n_rows, n_cols, ld, out)
    else:
        crnn_column_sums_add_d(A, n_rows, n_cols, ld, out)
