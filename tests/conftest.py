import os

import numpy as np
import pytest

# The cells every estimator and ops test runs for (issue 3: parametrise,
# don't copy). CRNN_TEST_CELLS narrows it during development only.
CELLS = tuple(os.environ.get("CRNN_TEST_CELLS", "rnn,lstm,gru").split(","))
from ._numerics import DTYPES  # noqa: E402,F401


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# CRNN_TEST_PRODUCT_PATHS=default drops the all-packed repeat (CI's
# packaging runs, which test the installed artefacts, not the kernels).
PRODUCT_PATHS = tuple(os.environ.get("CRNN_TEST_PRODUCT_PATHS", "default,all-packed").split(","))


@pytest.fixture(params=PRODUCT_PATHS)
def product_path(request):
    """Run a test with crnn's default choice of product per shape (packed
    weights from K = 16 up, BLAS below) and again with every recurrent
    product on packed weights and passes cut into blocks of 5 rows (the
    forward's input projection, backward's weight gradients), so that the
    small models of the tests also cover the packed path and sums over many
    blocks (a small model's pass is otherwise one block)."""
    from crnn import _recurrent

    saved = _recurrent.packed_min_k(), _recurrent.block_rows()
    if request.param == "all-packed":
        _recurrent.set_packed_min_k(1)
        _recurrent.set_block_rows(5)
    yield request.param
    _recurrent.set_packed_min_k(saved[0])
    _recurrent.set_block_rows(saved[1])
