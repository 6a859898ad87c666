"""The inference kernels (crnn's predict path) against the NumPy reference.

They share no code with the training forward pass beyond the activations:
one fused step per layer (_infer_step.inc: the [x_t, h_{t-1}] product on
packed weights, x_t read in place, then the gate pass block by block),
rolling one-step state, biases pre-summed, states updated in place. So they
are checked on their own, for every cell, activation, dtype, stacking and
output mode, and at the shapes where the fused step changes its blocking.
"""
import numpy as np
import pytest
from scipy import special

from crnn import _layers, _recurrent, _spec, reference
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


# (n_samples, n_features, hidden): rows over several blocks of the fused
# step with rows left over for the 4-, 2- and 1-row tiles, hidden sizes off
# the panel width, one input; hidden = 300, whose packed weights exceed
# the size up to which the step is blocked (the whole step is one block);
# and hidden = 288, a whole number of panels at every level and dtype,
# whose LSTM steps 300 rows (more than 1 MiB of pre-activations) unit group
# by unit group, in two blocks of rows (crnn_lstm_infer_step_units).
_BLOCK_SHAPES = [(203, 3, 40), (67, 1, 9), (29, 37, 17), (45, 3, 5), (37, 5, 300),
                 (300, 4, 288)]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", _BLOCK_SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("ragged", [False, True], ids=["in-place-x", "gathered-x"])
def test_fused_step_blocks_match_reference(cell, dtype, shape, ragged, rng):
    # All lengths equal: x_t is read in place from X (row stride T*I);
    # ragged: rows are sorted by length and x_t gathered beside h.
    n_samples, n_features, hidden = shape
    n_steps = 4
    net = RecurrentNetwork(cell, n_features, (hidden,), 1, "tanh", dtype)
    coefs = net.views(net.init_params(rng))
    for name in coefs[0]:
        coefs[0][name] *= 2
    X = rng.standard_normal((n_samples, n_steps, n_features)).astype(dtype)
    lengths = rng.integers(1, n_steps + 1, n_samples) if ragged else None

    got = _layers.stack_infer(cell, coefs[:-1], X, _layers.Workspace(dtype), "tanh", False,
                              lengths=lengths)
    if lengths is None:
        want = forward(reference, cell, X.astype(np.float64), coefs[:-1])[1][-1]
    else:
        want = np.stack([forward(reference, cell, X[i:i + 1, :n].astype(np.float64),
                                 coefs[:-1])[1][-1][0] for i, n in enumerate(lengths)])
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_workspace_buffers_start_on_a_cache_line_and_keep_their_memory(dtype):
    # every buffer the kernels get from a Workspace starts on a 64-byte line,
    # whatever malloc returned, and a later, smaller request reuses it
    ws = _layers.Workspace(dtype)
    shapes = [(1,), (3, 5), (7, 33), (129, 17), (1000, 3)]
    first = {}
    for i, shape in enumerate(shapes * 3):
        buf = ws.get(("buf", i % len(shapes)), shape)
        assert buf.shape == shape and buf.dtype == dtype and buf.flags.c_contiguous
        assert buf.ctypes.data % _layers.ALIGNMENT == 0, (shape, buf.ctypes.data % 64)
        first.setdefault(i % len(shapes), buf.ctypes.data)
        assert buf.ctypes.data == first[i % len(shapes)]
    small = ws.get(("buf", 4), (10, 3))
    assert small.ctypes.data == first[4] and small.shape == (10, 3)


@pytest.mark.parametrize("cell", CELLS)
def test_infer_refuses_a_short_work_buffer(cell):
    # The fused step writes its pre-activations into ``work``: a buffer
    # narrower than the cell's width (4H for the LSTM and GRU, H for the
    # vanilla cell) or with fewer rows than the batch is refused before the
    # compiled loop runs.
    n_in, hidden, batch = 3, 5, 4
    n_gates = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * hidden
    width = hidden if cell == "rnn" else 4 * hidden
    W_cat = np.zeros((n_gates, n_in + hidden))
    bias = np.zeros(n_gates)
    X = np.zeros((batch, 2, n_in))
    order = np.arange(batch, dtype=np.intp)
    batch_sizes = np.full(2, batch, dtype=np.intp)

    def run(work):
        _recurrent.infer(_spec.cell_code(cell), 0, W_cat, bias, bias, bias, X, order,
                         batch_sizes, False, np.zeros((batch, n_in + hidden)),
                         np.zeros((batch, hidden)), work, np.zeros((0, 0, 0)), 0)

    run(np.zeros((batch, width)))
    with pytest.raises(ValueError, match="work buffer"):
        run(np.zeros((batch, width - 1)))
    with pytest.raises(ValueError, match="work buffer"):
        run(np.zeros((batch - 1, width)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_inference_activation_is_accurate_everywhere(dtype, activation):
    # A one-unit vanilla cell with W_ih = 1, W_hh = 0 and no bias outputs
    # act(x) after one step: the inference rows' activations (float32:
    # tanh is one expm1 formula, not training's two-branch one; at the
    # AVX-512 and AVX2 levels both are intrinsics, _activations_avx512.h's
    # and _activations_avx2.h's) against double
    # precision, over a dense grid, tiny and huge arguments, the clamps,
    # +-inf and NaN. (With one unit, every row is a masked last block.)
    net = RecurrentNetwork("rnn", 1, (1,), 1, activation, dtype)
    coefs = net.views(net.init_params(np.random.default_rng(0)))
    layer = coefs[0]
    layer["W_ih"][...] = 1
    layer["W_hh"][...] = 0
    layer["b_ih"][...] = 0
    layer["b_hh"][...] = 0
    grid = np.concatenate([np.linspace(-30, 30, 600_001), [0.0, -0.0, 1e-30, -1e-30, 1e-6, 0.624,
                                                           0.626, 43.5, 44.5, -43.5, -44.5,
                                                           87.5, -87.5, 88.5, -88.5, 1e30, -1e30,
                                                           np.inf, -np.inf]])
    x = grid.astype(dtype)
    got = _layers.stack_infer("rnn", coefs[:-1], x.reshape(-1, 1, 1), _layers.Workspace(dtype),
                              activation, False)[:, 0]
    x64 = x.astype(np.float64)
    want = np.tanh(x64) if activation == "tanh" else special.expit(x64)
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    # sigmoid's exp is clamped where 2^n stays normal (x >= -87 in float32,
    # -708 in float64): below, the result is that tiny value, not exp(x)
    exact = x64 >= -80 if activation == "sigmoid" else np.ones(x.shape, bool)
    assert np.max(np.abs(got - want)[exact] / ulp[exact]) <= 3
    assert np.all((got[~exact] >= 0) & (got[~exact] <= 1e-34))
    nan = _layers.stack_infer("rnn", coefs[:-1], np.full((2, 1, 1), np.nan, dtype),
                              _layers.Workspace(dtype), activation, False)
    assert np.isnan(nan).all()
