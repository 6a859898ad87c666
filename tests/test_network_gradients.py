"""The whole network's minibatch objective against independent oracles.

One training step's loss and gradient (recurrent stack, readout, squared or
softmax cross-entropy loss, both output modes, the L2 term) are checked in
float64 against

- central finite differences of the loss itself, per parameter array, and
- the loss value computed with NumPy from ``crnn.reference`` (which is
  checked against PyTorch and the SPEC equations on its own).

The objective comes from ``tests/_objective.py``, the one module that calls
the training internals.
"""
import numpy as np
import pytest

from crnn import reference

from ._cells import forward
from ._objective import coef_shapes, flatten, minibatch_objective, unflatten, weight_mask
from .conftest import CELLS

from ._numerics import FD_EPS, FD_TOL  # noqa: E402
B, T, I, O = 4, 5, 3, 3

# every test again with all products packed and backward cut into small
# blocks (conftest.product_path): stacks pass dX down block by block
pytestmark = pytest.mark.usefixtures("product_path")


def _problem(cell, hidden_sizes, loss, return_sequences, seed=0):
    rng = np.random.default_rng(seed)
    shapes = coef_shapes(cell, I, hidden_sizes, O)
    coefs = [{k: rng.uniform(-0.7, 0.7, s) for k, s in layer.items()} for layer in shapes]
    X = rng.normal(size=(B, T, I))
    steps = (B, T) if return_sequences else (B,)
    if loss == "squared":
        y = rng.normal(size=steps + (O,))
    else:
        y = rng.integers(0, O, size=steps)
    return shapes, flatten(coefs), X, y


def numpy_objective(cell, coefs, X, y, loss, return_sequences, alpha):
    """SPEC 1's objective written out with NumPy on top of crnn.reference."""
    output, h_n = forward(reference, cell, X, coefs[:-1])[:2]
    H = output if return_sequences else h_n[-1]
    out = H @ coefs[-1]["W_out"].T + coefs[-1]["b_out"]
    out = out.reshape(-1, out.shape[-1])
    if loss == "squared":
        value = 0.5 * np.mean((out - y.reshape(out.shape)) ** 2)
    else:
        z = out - out.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        value = -np.mean(log_p[np.arange(len(out)), y.ravel()])
    weights = sum(np.sum(layer[k] ** 2) for layer in coefs for k in layer
                  if k.startswith("W"))
    return value + 0.5 * alpha / X.shape[0] * weights


CASES = [(cell, hidden, loss, rs)
         for cell in CELLS
         for hidden in ((4,), (4, 3, 2))
         for loss in ("squared", "log")
         for rs in (False, True)]
IDS = [f"{c}-L{len(h)}-{l}-{'seq' if rs else 'last'}" for c, h, l, rs in CASES]


@pytest.mark.parametrize("cell, hidden_sizes, loss, return_sequences", CASES, ids=IDS)
def test_minibatch_gradient_matches_finite_differences(cell, hidden_sizes, loss,
                                                       return_sequences):
    alpha = 0.3
    shapes, params, X, y = _problem(cell, hidden_sizes, loss, return_sequences)

    def objective(p):
        return minibatch_objective(cell, hidden_sizes, I, O, loss, return_sequences,
                                   alpha, p, X, y)

    value, grad = objective(params)
    assert grad.shape == params.shape and grad.dtype == np.float64
    numeric = np.empty_like(params)
    for i in range(params.size):
        saved = params[i]
        params[i] = saved + FD_EPS
        plus = objective(params)[0]
        params[i] = saved - FD_EPS
        minus = objective(params)[0]
        params[i] = saved
        numeric[i] = (plus - minus) / (2 * FD_EPS)
    # per parameter array, so that one wrongly scaled block cannot hide in
    # the norm of the others
    errors = {}
    for k, (a_layer, n_layer) in enumerate(zip(unflatten(grad, shapes),
                                               unflatten(numeric, shapes))):
        for key in a_layer:
            a, n = a_layer[key], n_layer[key]
            assert np.linalg.norm(n) > 1e-6, f"vanishing gradient proves nothing: {k}.{key}"
            errors[f"{k}.{key}"] = np.linalg.norm(a - n) / np.linalg.norm(a + n)
    bad = {name: err for name, err in errors.items() if not err < FD_TOL}
    assert not bad, bad


@pytest.mark.parametrize("cell, hidden_sizes, loss, return_sequences", CASES, ids=IDS)
def test_minibatch_loss_matches_numpy_objective(cell, hidden_sizes, loss,
                                                return_sequences):
    alpha = 0.3
    shapes, params, X, y = _problem(cell, hidden_sizes, loss, return_sequences, seed=1)
    value, _ = minibatch_objective(cell, hidden_sizes, I, O, loss, return_sequences,
                                   alpha, params, X, y)
    expected = numpy_objective(cell, unflatten(params, shapes), X, y, loss,
                               return_sequences, alpha)
    assert value == pytest.approx(expected, rel=1e-12)


def test_l2_gradient_covers_weights_not_biases():
    # the L2 part of the gradient is exactly (alpha / batch) * W on weights
    # and nothing on biases (SPEC 4: "L2 penalty on weights (not biases)")
    cell, hidden = "gru", (4, 3)
    shapes, params, X, y = _problem(cell, hidden, "squared", False, seed=2)
    _, plain = minibatch_objective(cell, hidden, I, O, "squared", False, 0.0, params, X, y)
    _, ridge = minibatch_objective(cell, hidden, I, O, "squared", False, 2.0, params, X, y)
    mask = weight_mask(shapes)
    np.testing.assert_allclose(ridge - plain, np.where(mask, 2.0 / B * params, 0.0),
                               rtol=1e-10, atol=1e-14)
