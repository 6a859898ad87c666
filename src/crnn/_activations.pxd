# Activation codes shared by the estimators' glue (_layers.ACTIVATIONS), the
# vanilla cell kernel and the C gate passes (_gate_rows.inc); the functions
# themselves are C, in _activations.h.
cdef enum Activation:
    ACT_TANH = 0
    ACT_RELU = 1
    ACT_SIGMOID = 2
