"""Switch the kernels' flush-to-zero (see ``_fpenv.h``) for tests and comparisons."""
from contextlib import contextmanager

from crnn import _optim, _recurrent


@contextmanager
def flush_denormals(enabled):
    """Inside the block, crnn's kernels flush subnormals to zero only if ``enabled``."""
    _recurrent.set_flush_denormals(enabled)
    _optim.set_flush_denormals(enabled)
    try:
        yield
    finally:
        _recurrent.set_flush_denormals(True)
        _optim.set_flush_denormals(True)
