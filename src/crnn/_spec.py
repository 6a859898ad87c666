"""The one home of crnn's cell and activation constants.

Every other module (the kernels' Python glue, the estimators, the NumPy
reference, the tests) takes cell names, gate counts and activation names
from here. The compiled kernels identify a cell or an activation by its
position in ``CELLS`` or ``ACTIVATIONS``: ``_cells.pxd`` declares the same
numbering for Cython and C, and ``_recurrent`` checks at import time that
the two agree. This module imports nothing, so the NumPy reference can use
it and still import only NumPy.
"""

#: Cell names, in kernel code order (rnn = 0, lstm = 1, gru = 2).
CELLS = ("rnn", "lstm", "gru")

#: Gate blocks per cell, in PyTorch's row order (SPEC 3): rnn h; lstm i, f, g, o;
#: gru r, z, n. W_ih has n_gates * H rows.
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}

#: Cells that carry a cell state c besides h.
HAS_CELL_STATE = {"rnn": False, "lstm": True, "gru": False}

#: Vanilla-cell activations, in kernel code order (tanh = 0, relu = 1, sigmoid = 2).
ACTIVATIONS = ("tanh", "relu", "sigmoid")

#: Names of one direction's parameters in a layer dict (SPEC 3); the reverse
#: direction of a bidirectional layer uses the same names with ``_reverse``.
PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")

#: Layer normalisation's gains and biases in a layer dict (SPEC 10), in the
#: kernels' argument order; the last pair (c_t) only for the LSTM.
LN_NAMES = ("ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias",
            "ln_c_weight", "ln_c_bias")


def cell_code(cell):
    """Kernel code of a cell name."""
    return CELLS.index(cell)


def activation_code(activation):
    """Kernel code of a vanilla-cell activation name."""
    return ACTIVATIONS.index(activation)
