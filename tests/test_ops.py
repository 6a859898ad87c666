"""crnn.ops against its oracles: central finite differences (float64) and
the pure NumPy reference (both dtypes, odd sizes)."""
import numpy as np
import pytest

from crnn import ops, reference

from ._cells import backward, forward, make_layers, rel_error
from .conftest import CELLS

# every test here runs with the default product choice and all products packed
pytestmark = pytest.mark.usefixtures("product_path")

CASES = [(cell, "tanh") for cell in CELLS] + \
    [("rnn", act) for act in ("relu", "sigmoid") if "rnn" in CELLS]
LAYERS = [(3,), (4, 3), (3, 5, 2)]


def _problem(cell, hidden, rng, N=3, T=4, I=2, dtype=np.float64):
    X = rng.normal(size=(N, T, I)).astype(dtype)
    layers = make_layers(cell, I, hidden, rng, dtype)
    h0 = [rng.normal(size=(N, H)).astype(dtype) * 0.5 for H in hidden]
    c0 = [rng.normal(size=(N, H)).astype(dtype) * 0.5 for H in hidden] if cell == "lstm" else None
    return X, layers, h0, c0


def _weights(cell, X, layers, rng):
    N, T = X.shape[:2]
    G = rng.normal(size=(N, T, layers[-1]["W_hh"].shape[1]))
    Gh = [rng.normal(size=(N, p["W_hh"].shape[1])) for p in layers]
    Gc = [rng.normal(size=(N, p["W_hh"].shape[1])) for p in layers] if cell == "lstm" else None
    return G, Gh, Gc


def _loss(cell, X, layers, h0, c0, G, Gh, Gc, activation):
    out, h_n, c_n, _ = forward(ops, cell, X, layers, h0, c0, activation)
    value = np.sum(out * G) + sum(np.sum(h * g) for h, g in zip(h_n, Gh))
    if Gc is not None:
        value += sum(np.sum(c * g) for c, g in zip(c_n, Gc))
    return value


def _numeric_grad(f, array, eps=1e-6):
    grad = np.zeros_like(array)
    for idx in np.ndindex(array.shape):
        old = array[idx]
        array[idx] = old + eps
        up = f()
        array[idx] = old - eps
        down = f()
        array[idx] = old
        grad[idx] = (up - down) / (2 * eps)
    return grad


@pytest.mark.parametrize("cell, activation", CASES)
@pytest.mark.parametrize("hidden", LAYERS, ids=lambda h: f"L{len(h)}")
def test_gradients_match_finite_differences(cell, activation, hidden, rng):
    X, layers, h0, c0 = _problem(cell, hidden, rng)
    G, Gh, Gc = _weights(cell, X, layers, rng)
    _, _, _, cache = forward(ops, cell, X, layers, h0, c0, activation)
    dX, d_layers, d_h0, d_c0 = backward(ops, cell, cache, G, Gh, Gc)

    def f():
        return _loss(cell, X, layers, h0, c0, G, Gh, Gc, activation)

    pairs = [("X", X, dX)]
    for k, p in enumerate(layers):
        pairs += [(f"layer{k}.{name}", p[name], d_layers[k][name]) for name in p]
        pairs.append((f"h0[{k}]", h0[k], d_h0[k]))
        if cell == "lstm":
            pairs.append((f"c0[{k}]", c0[k], d_c0[k]))
    errors = {name: rel_error(_numeric_grad(f, array), analytic)
              for name, array, analytic in pairs}
    worst = max(errors, key=errors.get)
    assert errors[worst] < 1e-6, f"{worst}: relative error {errors[worst]:.2e}"


from ._numerics import REFERENCE_TOL as TOL  # noqa: E402

SIZES = [  # (N, T, I, hidden): the odd sizes named in the issues
    (1, 1, 1, (1,)),
    (1, 7, 3, (1, 2)),
    (5, 1, 2, (3,)),
    (7, 9, 4, (6, 5)),
    (33, 12, 3, (17,)),
    (3, 4, 5, (520,)),  # LSTM and GRU delta rows over 8 KiB: the wide weight-gradient order
    (2, 3, 5, (520, 513)),  # the same order in both layers of a stack, 513 off the strips
    (2, 2, 3, (1030,)),  # float64 vanilla delta rows over 8 KiB (8240 bytes)
]


@pytest.mark.parametrize("cell, activation", CASES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: "N{}T{}I{}H{}".format(*s[:3], s[3]))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_compiled_matches_reference(cell, activation, size, dtype, rng):
    N, T, I, hidden = size
    X, layers, h0, c0 = _problem(cell, hidden, rng, N, T, I, dtype)
    G, Gh, Gc = _weights(cell, X, layers, rng)
    results = []
    for impl in (ops, reference):
        out, h_n, c_n, cache = forward(impl, cell, X, layers, h0, c0, activation)
        grads = backward(impl, cell, cache, G.astype(dtype), [g.astype(dtype) for g in Gh],
                         None if Gc is None else [g.astype(dtype) for g in Gc])
        results.append((out, h_n, c_n, grads))
    (out, h_n, c_n, (dX, dl, dh0, dc0)), (r_out, r_h_n, r_c_n, (r_dX, r_dl, r_dh0, r_dc0)) = results
    assert out.dtype == dtype and dX.dtype == dtype and dl[0]["W_hh"].dtype == dtype
    tol = TOL[dtype]
    assert rel_error(out, r_out) < tol
    assert rel_error(dX, r_dX) < tol
    for k in range(len(hidden)):
        assert rel_error(h_n[k], r_h_n[k]) < tol
        assert rel_error(dh0[k], r_dh0[k]) < tol
        for name in dl[k]:
            assert rel_error(dl[k][name], r_dl[k][name]) < tol, (k, name)
        if cell == "lstm":
            assert rel_error(c_n[k], r_c_n[k]) < tol
            assert rel_error(dc0[k], r_dc0[k]) < tol


@pytest.mark.parametrize("cell", CELLS)
def test_ops_do_not_write_into_inputs(cell, rng):
    X, layers, h0, c0 = _problem(cell, (3, 2), rng)
    X.setflags(write=False)
    for p in layers:
        for a in p.values():
            a.setflags(write=False)
    out, h_n, c_n, cache = forward(ops, cell, X, layers, h0, c0)
    G = np.ones_like(out)
    G.setflags(write=False)
    backward(ops, cell, cache, G)  # read-only arrays are accepted (const memoryviews)


@pytest.mark.parametrize("cell", CELLS)
def test_saturating_inputs_stay_finite(cell, rng):
    # |pre-activations| in the thousands: sigmoid/tanh must saturate cleanly
    for dtype in (np.float32, np.float64):
        X, layers, _, _ = _problem(cell, (4,), rng, dtype=dtype)
        X *= 1e4
        with np.errstate(all="raise"):
            out, h_n, c_n, cache = forward(ops, cell, X, layers)
            dX, dl, dh0, dc0 = backward(ops, cell, cache, np.ones_like(out))
        assert np.all(np.isfinite(out)) and np.all(np.isfinite(dX))
        assert np.all(np.abs(out) <= 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_training_activation_is_accurate_everywhere(dtype, activation):
    # One vanilla unit with W_ih = 1, W_hh = 0 and no bias outputs act(x):
    # training's forward rows (float32 tanh: the two-branch crnn_tanhf, at
    # the AVX-512 and AVX2 levels in intrinsics, which must give its bits)
    # against double precision over a dense grid, both sides of the
    # branch point 0.625, tiny and huge arguments and the clamps (ops
    # refuses non-finite X, so infinities and NaN never reach these rows).
    if "rnn" not in CELLS:
        pytest.skip("the vanilla cell is deselected")
    one = np.ones((1, 1), dtype)
    layers = [{"W_ih": one, "W_hh": 0 * one, "b_ih": np.zeros(1, dtype),
               "b_hh": np.zeros(1, dtype)}]
    branch = np.float32(0.625)
    edges = [np.nextafter(branch, np.float32(0)), branch, np.nextafter(branch, np.float32(1))]
    grid = np.concatenate([np.linspace(-30, 30, 600_001), edges, np.negative(edges),
                           [0.0, -0.0, 1e-30, -1e-30, 1e-6, 43.5, 44.5, -43.5, -44.5, 87.5,
                            -87.5, 88.5, -88.5, 1e30, -1e30]])
    x = grid.astype(dtype)
    # one unit: every row is a masked last block
    out = ops.rnn_forward(x.reshape(-1, 1, 1), layers, activation=activation)[0][:, 0, 0]
    x64 = x.astype(np.float64)
    want = np.tanh(x64) if activation == "tanh" else 1 / (1 + np.exp(-x64))
    ulp = np.spacing(np.abs(want).astype(dtype)).astype(np.float64)
    # sigmoid's exp is clamped where 2^n stays normal (x >= -87 in float32)
    exact = x64 >= -80 if activation == "sigmoid" else np.ones(x.shape, bool)
    assert np.max(np.abs(out - want)[exact] / ulp[exact]) <= 3
    assert np.all((out[~exact] >= 0) & (out[~exact] <= 1e-34))


def test_ops_reject_bad_shapes(rng):
    X, layers, _, _ = _problem("rnn", (3,), rng)
    with pytest.raises(ValueError, match="must be 3-D"):
        ops.rnn_forward(X[0], layers)
    bad = dict(layers[0], W_hh=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"layer 0 W_(ih|hh) has shape .* needs"):
        ops.rnn_forward(X, [bad])
    with pytest.raises(ValueError, match="activation must be one of"):
        ops.rnn_forward(X, layers, activation="softsign")
    with pytest.raises(ValueError, match="NaN"):
        ops.rnn_forward(np.full_like(X, np.nan), layers)
    with pytest.raises(ValueError, match="h0"):
        ops.rnn_forward(X, layers, h0=[np.zeros((2, 3))])
    _, _, cache = ops.rnn_forward(X, layers)
    with pytest.raises(ValueError, match="d_output has shape"):
        ops.rnn_backward(cache, np.zeros((1, 1, 1)))


try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the test extras
    given = None

    # reported as a skip, which CI's skip check (tests/known_skips.txt) fails
    @pytest.mark.skip(reason="hypothesis is not installed (it is in the test extras)")
    def test_compiled_matches_reference_any_shape():
        pass

if given is not None:
    @settings(max_examples=25, deadline=None)
    @given(cell=st.sampled_from(CELLS),
           N=st.integers(1, 6), T=st.integers(1, 6), I=st.integers(1, 4),
           hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3),
           seed=st.integers(0, 2 ** 16))
    def test_compiled_matches_reference_any_shape(cell, N, T, I, hidden, seed):
        rng = np.random.default_rng(seed)
        X, layers, h0, c0 = _problem(cell, tuple(hidden), rng, N, T, I)
        G, Gh, Gc = _weights(cell, X, layers, rng)
        out, h_n, c_n, cache = forward(ops, cell, X, layers, h0, c0)
        r_out, r_h_n, r_c_n, r_cache = forward(reference, cell, X, layers, h0, c0)
        assert rel_error(out, r_out) < 1e-11
        dX, dl, _, _ = backward(ops, cell, cache, G, Gh, Gc)
        r_dX, r_dl, _, _ = backward(reference, cell, r_cache, G, Gh, Gc)
        assert rel_error(dX, r_dX) < 1e-11
        for k in range(len(hidden)):
            for name in dl[k]:
                assert rel_error(dl[k][name], r_dl[k][name]) < 1e-11
