"""The inference kernels (crnn's predict path) against the NumPy reference.

They share no code with the training forward pass beyond the activations:
one [x_t, h_{t-1}] GEMM per step for rnn and lstm, rolling one-step state,
biases pre-summed, states updated in place. So they are checked on their
own, for every cell, activation, dtype, stacking and output mode.
"""
import numpy as np
import pytest

from crnn import _layers, reference
from crnn._network import RecurrentNetwork

from ._cells import forward
from .conftest import CELLS, DTYPES

from ._numerics import INFERENCE_TOL as TOL  # noqa: E402

# every test here runs with the default product choice and all products packed
pytestmark = pytest.mark.usefixtures("product_path")


def _cases():
    for cell in CELLS:
        for activation in (("tanh", "relu", "sigmoid") if cell == "rnn" else ("tanh",)):
            yield cell, activation


@pytest.mark.parametrize("cell, activation", list(_cases()))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden_sizes", [(5,), (7, 3, 4)])
@pytest.mark.parametrize("n_steps", [1, 9])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_stack_infer_matches_reference(cell, activation, dtype, hidden_sizes, n_steps,
                                       return_sequences, rng):
    n_samples, n_features = 6, 3
    net = RecurrentNetwork(cell, n_features, hidden_sizes, 1, activation, dtype)
    coefs = net.views(net.init_params(rng))
    # scaled up so that relu and the saturating gates see both signs and
    # the clamps of the activations
    for p in coefs[:-1]:
        for name in p:
            p[name] *= 3
    X = rng.standard_normal((n_samples, n_steps, n_features)).astype(dtype)
    output, h_n = forward(reference, cell, X.astype(np.float64), coefs[:-1],
                          activation=activation)[:2]

    got = _layers.stack_infer(cell, coefs[:-1], X, _layers.Workspace(dtype), activation,
                              return_sequences)
    assert got.dtype == dtype
    if return_sequences:
        np.testing.assert_allclose(got, output, rtol=TOL[dtype],
                                   atol=TOL[dtype])
    else:
        np.testing.assert_allclose(got, h_n[-1], rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("cell", CELLS)
def test_workspace_reuse_gives_the_same_predictions(cell, rng):
    # A workspace shared by chunks of different sizes (predict's last chunk
    # is smaller) must not leak state from one chunk into the next.
    net = RecurrentNetwork(cell, 2, (4, 6), 3, "tanh", np.float64)
    coefs = net.views(net.init_params(rng))
    X_big = rng.standard_normal((8, 5, 2))
    X_small = rng.standard_normal((3, 5, 2))
    ws = _layers.Workspace(np.float64)
    net.predict_raw(coefs, X_big, ws)
    reused = net.predict_raw(coefs, X_small, ws).copy()
    fresh = net.predict_raw(coefs, X_small, _layers.Workspace(np.float64))
    np.testing.assert_array_equal(reused, fresh)
