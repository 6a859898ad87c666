# Flush-to-zero around the kernels' work (see _fpenv.h for why and how).
cdef extern from "_fpenv.h" nogil:
    ctypedef unsigned long crnn_fpstate
    const char* CRNN_FLUSH_MODE
    unsigned long CRNN_FLUSH_BITS
    crnn_fpstate crnn_fp_get()
    void crnn_fp_set(crnn_fpstate state)
    crnn_fpstate crnn_fp_enter(int enabled)
    void crnn_fp_exit(crnn_fpstate old)
