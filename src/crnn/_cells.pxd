# Kernel codes of the cells and of the vanilla cell's activations. The
# numbering is the position of the name in crnn._spec.CELLS and
# crnn._spec.ACTIVATIONS (the one home of these constants); _recurrent
# checks at import time that the two agree. The C row passes
# (_gate_rows.inc) read the activation code as 0 tanh, 1 relu, 2 sigmoid.
cdef enum CellCode:
    CELL_RNN = 0
    CELL_LSTM = 1
    CELL_GRU = 2

cdef enum Activation:
    ACT_TANH = 0
    ACT_RELU = 1
    ACT_SIGMOID = 2
