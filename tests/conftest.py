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
