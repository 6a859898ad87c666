"""One optimiser step of the whole model against PyTorch golden files.

``tests/data/step_*.npz`` (written by ``tests/data/make_golden.py steps``;
see its header) hold, for a two-layer stack plus linear readout, the
objective of SPEC 1 computed by torch (loss by hand, L2 on weights only,
``clip_grad_norm_``) at given parameters, its gradient, and the parameters
after one Adam or Nesterov-SGD step. crnn takes the same step through its
estimator, from the same parameters with a fresh optimizer state; the loss
of that epoch, the gradient of the objective and the parameters after the
step must match torch.
"""
import pathlib

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor

from ._objective import first_training_step, flatten, minibatch_objective

DATA = pathlib.Path(__file__).parent / "data"
FILES = sorted(DATA.glob("step_*.npz"))
# (loss and parameters, step): see _numerics.STEP_TOL
from ._numerics import STEP_TOL as TOL  # noqa: E402


def _load(path):
    with np.load(path) as f:
        return {key: f[key] for key in f.files}


def _coefs(d, prefix):
    L = len(d["hidden_sizes"])
    coefs = [{p: d[f"{prefix}.{k}.{p}"] for p in ("W_ih", "W_hh", "b_ih", "b_hh")}
             for k in range(L)]
    coefs.append({p: d[f"{prefix}.{L}.{p}"] for p in ("W_out", "b_out")})
    return coefs


def _estimator(d, dtype):
    Estimator = RNNRegressor if str(d["loss_name"]) == "squared" else RNNClassifier
    clip = float(d["clip"])
    return Estimator(cell=str(d["cell"]), hidden_layer_sizes=tuple(d["hidden_sizes"]),
                     activation=str(d["activation"]) or "tanh",
                     return_sequences=bool(d["return_sequences"]),
                     solver=str(d["solver"]), learning_rate_init=float(d["learning_rate"]),
                     alpha=float(d["alpha"]), clip_grad_norm=clip if clip > 0 else None,
                     beta_1=float(d["beta_1"]), beta_2=float(d["beta_2"]),
                     epsilon=float(d["epsilon"]), momentum=float(d["momentum"]),
                     nesterovs_momentum=True, dtype=str(dtype))


def _max_rel(actual, expected):
    a, e = flatten(actual).astype(np.float64), flatten(expected).astype(np.float64)
    return float(np.abs(a - e).max() / np.abs(e).max())


def test_step_files_present():
    # 3 cells x 4 cases x 2 dtypes
    assert len(FILES) == 24, [f.name for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_one_step_matches_pytorch(path):
    d = _load(path)
    dtype = d["X"].dtype
    tol, step_tol = TOL[dtype]
    init, after = _coefs(d, "init"), _coefs(d, "after")
    loss, got = first_training_step(_estimator(d, dtype), init, d["X"], d["y"])
    assert loss == pytest.approx(float(d["loss"]), rel=tol)
    # the step moved the parameters by much more than the tolerance, so a
    # wrong step cannot pass as "no step"
    assert _max_rel(init, after) > 1000 * tol
    assert _max_rel(got, after) < tol
    i, a, g = (flatten(c).astype(np.float64) for c in (init, after, got))
    step_error = np.abs((g - i) - (a - i)).max() / np.abs(a - i).max()
    assert step_error < step_tol


@pytest.mark.parametrize("path", [f for f in FILES if "float64" in f.name],
                         ids=[f.stem for f in FILES if "float64" in f.name])
def test_objective_gradient_matches_pytorch(path):
    d = _load(path)
    init, grad = _coefs(d, "init"), _coefs(d, "grad")
    n_outputs = int(d["n_outputs"])
    value, got = minibatch_objective(
        str(d["cell"]), tuple(d["hidden_sizes"]), d["X"].shape[2], n_outputs,
        str(d["loss_name"]), bool(d["return_sequences"]), float(d["alpha"]),
        flatten(init), d["X"], d["y"], activation=str(d["activation"]) or "tanh")
    assert value == pytest.approx(float(d["loss"]), rel=1e-12)
    expected = flatten(grad)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())
