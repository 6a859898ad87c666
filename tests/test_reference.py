"""Tests of the pure NumPy reference implementation (crnn.reference).

The reference is the oracle for the compiled kernels, so it is checked on its
own: gradients against central finite differences in float64, the forward
pass against the equations of SPEC section 3 written out independently, the
stacking and defaults, dtype handling, numerical safety, and the training
epoch used as the NumPy baseline.
"""
import warnings

import numpy as np
import pytest

from crnn import reference as ref

N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
# (cell, activation): every rnn activation, and the two gated cells
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "sigmoid"),
         ("lstm", None), ("gru", None)]
CELL_IDS = [c if a is None else f"{c}-{a}" for c, a in CELLS]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def make_layers(cell, n_features, hidden_sizes, rng, dtype=np.float64, scale=1.0):
    """Random parameters, uniform(-k, k) with k = scale / sqrt(H) as PyTorch."""
    layers = []
    n_in = n_features
    for H in hidden_sizes:
        G = N_GATES[cell] * H
        k = scale / np.sqrt(H)
        layers.append({
            "W_ih": rng.uniform(-k, k, (G, n_in)).astype(dtype),
            "W_hh": rng.uniform(-k, k, (G, H)).astype(dtype),
            "b_ih": rng.uniform(-k, k, G).astype(dtype),
            "b_hh": rng.uniform(-k, k, G).astype(dtype),
        })
        n_in = H
    return layers


def forward(cell, activation, X, layers, h0=None, c0=None):
    """(output, h_n, c_n or None, cache) for any cell."""
    if cell == "rnn":
        out, h_n, cache = ref.rnn_forward(X, layers, h0, activation=activation)
        return out, h_n, None, cache
    if cell == "lstm":
        return ref.lstm_forward(X, layers, h0, c0)
    out, h_n, cache = ref.gru_forward(X, layers, h0)
    return out, h_n, None, cache


def backward(cell, cache, d_out, d_h_n=None, d_c_n=None):
    """(dX, d_layers, d_h0, d_c0 or None) for any cell."""
    if cell == "rnn":
        return (*ref.rnn_backward(cache, d_out, d_h_n), None)
    if cell == "lstm":
        return ref.lstm_backward(cache, d_out, d_h_n, d_c_n)
    return (*ref.gru_backward(cache, d_out, d_h_n), None)


def sigmoid_plain(x):
    return 1 / (1 + np.exp(-x))


# ---------------------------------------------------------------------------
# gradients against central finite differences
# ---------------------------------------------------------------------------

from ._numerics import FD_EPS, FD_TOL, rel_error  # noqa: E402


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
@pytest.mark.parametrize("hidden_sizes", [(1,), (3, 2), (2, 1, 3)],
                         ids=["H1", "H3-2", "H2-1-3"])
@pytest.mark.parametrize("shape", [(3, 4, 2), (1, 1, 3)],
                         ids=["N3T4I2", "N1T1I3"])
def test_gradients_match_finite_differences(cell, activation, hidden_sizes, shape):
    rng = np.random.default_rng(12345)
    N, T, I = shape
    X = rng.standard_normal((N, T, I))
    layers = make_layers(cell, I, hidden_sizes, rng)
    h0 = [0.5 * rng.standard_normal((N, H)) for H in hidden_sizes]
    if activation == "relu":
        # Keep most units active (a dead unit has an all-zero gradient, which
        # proves nothing); relu states are non-negative anyway.
        for layer in layers:
            layer["b_ih"] = np.abs(layer["b_ih"]) + 0.5
            layer["b_hh"] = np.abs(layer["b_hh"])
        h0 = [np.abs(h) for h in h0]
    c0 = ([0.5 * rng.standard_normal((N, H)) for H in hidden_sizes]
          if cell == "lstm" else None)
    # Fixed random weights of the scalar loss on every output.
    G = rng.standard_normal((N, T, hidden_sizes[-1]))
    Gh = [rng.standard_normal((N, H)) for H in hidden_sizes]
    Gc = [rng.standard_normal((N, H)) for H in hidden_sizes]

    def loss():
        out, h_n, c_n, _ = forward(cell, activation, X, layers, h0, c0)
        value = np.sum(out * G) + sum(np.sum(h * g) for h, g in zip(h_n, Gh))
        if c_n is not None:
            value += sum(np.sum(c * g) for c, g in zip(c_n, Gc))
        return value

    _, _, _, cache = forward(cell, activation, X, layers, h0, c0)
    dX, d_layers, d_h0, d_c0 = backward(
        cell, cache, G, Gh, Gc if cell == "lstm" else None)

    # (name, array perturbed in place, analytic gradient)
    checks = [("X", X, dX)]
    for k, (layer, d_layer) in enumerate(zip(layers, d_layers)):
        assert set(d_layer) == {"W_ih", "W_hh", "b_ih", "b_hh"}
        checks += [(f"layers[{k}].{key}", layer[key], d_layer[key]) for key in layer]
    checks += [(f"h0[{k}]", h, d) for k, (h, d) in enumerate(zip(h0, d_h0))]
    if cell == "lstm":
        checks += [(f"c0[{k}]", c, d) for k, (c, d) in enumerate(zip(c0, d_c0))]

    errors = {}
    for name, array, analytic in checks:
        assert analytic.shape == array.shape, name
        assert analytic.dtype == np.float64, name
        if name.endswith("W_ih"):     # a vanishing gradient would prove nothing
            assert np.any(analytic != 0), name
        numeric = np.empty_like(array)
        for idx in np.ndindex(array.shape):
            saved = array[idx]
            array[idx] = saved + FD_EPS
            plus = loss()
            array[idx] = saved - FD_EPS
            minus = loss()
            array[idx] = saved
            numeric[idx] = (plus - minus) / (2 * FD_EPS)
        errors[name] = rel_error(analytic, numeric)

    worst = max(errors, key=errors.get)
    cell_id = cell if activation is None else f"{cell}-{activation}"
    print(f"{cell_id} {hidden_sizes} {shape}: max rel error {errors[worst]:.2e} ({worst})")
    assert errors[worst] < FD_TOL, errors


# ---------------------------------------------------------------------------
# forward against the SPEC equations, written out independently
# ---------------------------------------------------------------------------

def spec_step(cell, activation, x, h, c, p):
    """One step of one layer for one sample, straight from SPEC section 3."""
    H = h.shape[0]

    def block(W, j):
        return W[j * H:(j + 1) * H]

    W_ih, W_hh, b_ih, b_hh = p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"]

    def pre(j):
        return (block(W_ih, j) @ x + block(b_ih, j)
                + block(W_hh, j) @ h + block(b_hh, j))

    if cell == "rnn":
        a = pre(0)
        act = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0),
               "sigmoid": sigmoid_plain}[activation]
        return act(a), None
    if cell == "lstm":
        i, f, g, o = sigmoid_plain(pre(0)), sigmoid_plain(pre(1)), np.tanh(pre(2)), sigmoid_plain(pre(3))
        c_new = f * c + i * g
        return o * np.tanh(c_new), c_new
    r = sigmoid_plain(pre(0))
    z = sigmoid_plain(pre(1))
    n = np.tanh(block(W_ih, 2) @ x + block(b_ih, 2)
                + r * (block(W_hh, 2) @ h + block(b_hh, 2)))
    return (1 - z) * n + z * h, None


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_forward_matches_spec_equations(cell, activation):
    rng = np.random.default_rng(1)
    N, T, I, sizes = 2, 3, 3, (4, 2)
    X = rng.standard_normal((N, T, I))
    layers = make_layers(cell, I, sizes, rng)
    h0 = [rng.standard_normal((N, H)) for H in sizes]
    c0 = [rng.standard_normal((N, H)) for H in sizes]
    out, h_n, c_n, _ = forward(cell, activation, X, layers, h0,
                               c0 if cell == "lstm" else None)

    for s in range(N):
        seq = X[s]
        for k, p in enumerate(layers):
            h, c = h0[k][s], c0[k][s]
            hs = []
            for t in range(T):
                h, c = spec_step(cell, activation, seq[t], h, c, p)
                hs.append(h)
            seq = np.array(hs)
            np.testing.assert_allclose(h_n[k][s], h, rtol=1e-12, atol=1e-14)
            if cell == "lstm":
                np.testing.assert_allclose(c_n[k][s], c, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[s], seq, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------------
# stacking, defaults, dtypes, argument handling
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_stack_equals_layers_run_one_by_one(cell, activation):
    rng = np.random.default_rng(2)
    sizes = (3, 5, 2)
    X = rng.standard_normal((4, 3, 2))
    layers = make_layers(cell, 2, sizes, rng)
    out, h_n, c_n, _ = forward(cell, activation, X, layers)
    x = X
    for k, layer in enumerate(layers):
        x, h_k, c_k, _ = forward(cell, activation, x, [layer])
        np.testing.assert_array_equal(h_n[k], h_k[0])
        np.testing.assert_array_equal(h_n[k], x[:, -1])
        if cell == "lstm":
            np.testing.assert_array_equal(c_n[k], c_k[0])
    np.testing.assert_array_equal(out, x)
    assert out.shape == (4, 3, 2)
    assert [h.shape for h in h_n] == [(4, H) for H in sizes]


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_none_defaults_are_zeros(cell, activation):
    rng = np.random.default_rng(3)
    sizes = (3, 2)
    X = rng.standard_normal((2, 4, 3))
    layers = make_layers(cell, 3, sizes, rng)
    zeros = [np.zeros((2, H)) for H in sizes]
    a = forward(cell, activation, X, layers)
    b = forward(cell, activation, X, layers, zeros,
                zeros if cell == "lstm" else None)
    np.testing.assert_array_equal(a[0], b[0])
    d_out = rng.standard_normal(a[0].shape)
    ga = backward(cell, a[3], d_out)
    gb = backward(cell, b[3], d_out, zeros, zeros if cell == "lstm" else None)
    np.testing.assert_array_equal(ga[0], gb[0])
    for da, db in zip(ga[1], gb[1]):
        for key in da:
            np.testing.assert_array_equal(da[key], db[key])


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_float32_computes_in_float32(cell, activation):
    rng = np.random.default_rng(4)
    sizes = (5, 3)
    X = rng.standard_normal((3, 6, 4))
    layers = make_layers(cell, 4, sizes, rng)         # float64 parameters
    X32 = X.astype(np.float32)
    out32, h32, c32, cache32 = forward(cell, activation, X32, layers)
    out64, h64, c64, cache64 = forward(cell, activation, X, layers)
    assert out32.dtype == np.float32
    assert all(h.dtype == np.float32 for h in h32)
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)

    d_out = rng.standard_normal(out64.shape)
    g32 = backward(cell, cache32, d_out)
    g64 = backward(cell, cache64, d_out)
    assert g32[0].dtype == np.float32
    np.testing.assert_allclose(g32[0], g64[0], rtol=1e-4, atol=1e-5)
    for d32, d64 in zip(g32[1], g64[1]):
        for key in d64:
            assert d32[key].dtype == np.float32
            np.testing.assert_allclose(d32[key], d64[key], rtol=1e-4, atol=1e-5)
    for d32, d64 in zip(g32[2], g64[2]):
        assert d32.dtype == np.float32
        np.testing.assert_allclose(d32, d64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_inputs_are_not_modified(cell, activation):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((2, 3, 2))
    layers = make_layers(cell, 2, (3,), rng)
    h0 = [rng.standard_normal((2, 3))]
    X.flags.writeable = False
    for layer in layers:
        for v in layer.values():
            v.flags.writeable = False
    h0[0].flags.writeable = False
    out, _, _, cache = forward(cell, activation, X, layers, h0,
                               h0 if cell == "lstm" else None)
    d_out = rng.standard_normal(out.shape)
    d_out.flags.writeable = False
    backward(cell, cache, d_out, [d_out[:, -1]], [d_out[:, -1]] if cell == "lstm" else None)


def test_unknown_activation_raises():
    rng = np.random.default_rng(6)
    layers = make_layers("rnn", 2, (3,), rng)
    with pytest.raises(ValueError, match="activation"):
        ref.rnn_forward(np.zeros((1, 2, 2)), layers, activation="softplus")
    with pytest.raises(ValueError, match="activation"):
        ref.train_epoch("rnn", np.zeros((1, 2, 2)), np.zeros((1, 1)), layers,
                        {"W_out": np.zeros((1, 3)), "b_out": np.zeros(1)},
                        activation="gelu")


# ---------------------------------------------------------------------------
# numerical safety
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_saturate_without_warnings(dtype):
    x = np.array([-1e4, -1e3, -100.0, -88.0, -20.0, 0.0, 20.0, 88.0, 100.0, 1e3, 1e4],
                 dtype=dtype)
    with np.errstate(all="raise"), warnings.catch_warnings():
        warnings.simplefilter("error")
        s = ref._sigmoid(x)
        t = np.tanh(x)
        for act in ("tanh", "relu", "sigmoid"):
            a = ref._activate(x, act)
            assert a.dtype == dtype and np.all(np.isfinite(a))
    assert s.dtype == dtype and t.dtype == dtype
    assert np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert s[0] == pytest.approx(0, abs=1e-30) and s[-1] == 1
    assert t[0] == -1 and t[-1] == 1
    assert s[5] == 0.5
    # away from the cap the formula is exact to rounding
    mid = np.abs(x) <= 20
    np.testing.assert_allclose(s[mid], 1 / (1 + np.exp(-x[mid].astype(np.float64))),
                               rtol=1e-6)


@pytest.mark.parametrize("cell,activation", CELLS, ids=CELL_IDS)
def test_huge_inputs_stay_finite_in_float32(cell, activation):
    rng = np.random.default_rng(7)
    X = (1e4 * np.sign(rng.standard_normal((3, 4, 2)))).astype(np.float32)
    layers = make_layers(cell, 2, (3, 2), rng, dtype=np.float32)
    # No overflow, division by zero or invalid operation anywhere (underflow
    # of products of tiny gate values is harmless and allowed here).
    with np.errstate(over="raise", divide="raise", invalid="raise"), \
            warnings.catch_warnings():
        warnings.simplefilter("error")
        out, h_n, c_n, cache = forward(cell, activation, X, layers)
        d_out = np.ones_like(out)
        dX, d_layers, d_h0, _ = backward(cell, cache, d_out)
    if activation != "relu":
        assert np.all(np.abs(out) <= 1)
    for a in [out, dX, *h_n, *d_h0] + [d[k] for d in d_layers for k in d]:
        assert a.dtype == np.float32
        assert np.all(np.isfinite(a))


# ---------------------------------------------------------------------------
# train_epoch: the NumPy baseline
# ---------------------------------------------------------------------------

def make_problem(return_sequences, rng, N=64, T=6, I=2):
    X = rng.standard_normal((N, T, I))
    if return_sequences:
        # running mean of the first feature, a second output: difference of features
        y = np.stack([np.cumsum(X[:, :, 0], axis=1) / np.arange(1, T + 1),
                      0.5 * (X[:, :, 0] - X[:, :, 1])], axis=-1)
    else:
        y = np.stack([X[:, :, 0].mean(axis=1), 0.5 * X[:, -1, 1]], axis=-1)
    return X, y


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
def test_train_epoch_reduces_loss(cell, return_sequences):
    rng = np.random.default_rng(8)
    X, y = make_problem(return_sequences, rng)
    X = X.astype(np.float32)
    layers = make_layers(cell, X.shape[2], (8,), rng, dtype=np.float32)
    readout = {"W_out": (0.1 * rng.standard_normal((2, 8))).astype(np.float32),
               "b_out": np.zeros(2, dtype=np.float32)}
    W_hh = layers[0]["W_hh"]          # the same array must be updated in place
    shuffle = np.random.default_rng(0)
    state = None
    losses = []
    for _ in range(15):
        loss, state = ref.train_epoch(
            cell, X, y, layers, readout, batch_size=16, learning_rate=1e-2,
            return_sequences=return_sequences, rng=shuffle, adam_state=state)
        losses.append(loss)
    assert layers[0]["W_hh"] is W_hh
    assert W_hh.dtype == np.float32 and readout["W_out"].dtype == np.float32
    assert state["t"] == 15 * 4
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.5 * losses[0], losses


@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
def test_train_epoch_loss_and_first_adam_step(return_sequences):
    # With one batch and Adam's first step, each parameter moves by
    # -lr * g / (|g| + eps / sqrt(1 - beta_2)), i.e. by about -lr * sign(g):
    # this checks the returned loss and the sign of every gradient
    # (readout included) against finite differences of the loss.
    rng = np.random.default_rng(9)
    X, y = make_problem(return_sequences, rng, N=5, T=3)
    layers = make_layers("gru", 2, (3, 2), rng)
    readout = {"W_out": rng.standard_normal((2, 2)), "b_out": rng.standard_normal(2)}
    params = layers + [readout]

    def loss():
        out, _, _ = ref.gru_forward(X, layers)
        h = out if return_sequences else out[:, -1]
        pred = h @ readout["W_out"].T + readout["b_out"]
        return 0.5 * np.mean((pred - y) ** 2)

    expected_loss = loss()
    numeric = []
    for p in params:
        g = {}
        for key, array in p.items():
            g[key] = np.empty_like(array)
            for idx in np.ndindex(array.shape):
                saved = array[idx]
                array[idx] = saved + 1e-6
                plus = loss()
                array[idx] = saved - 1e-6
                minus = loss()
                array[idx] = saved
                g[key][idx] = (plus - minus) / 2e-6
        numeric.append(g)
    before = [{k: v.copy() for k, v in p.items()} for p in params]

    lr = 1e-3
    value, state = ref.train_epoch("gru", X, y, layers, readout, batch_size=len(X),
                                   learning_rate=lr, return_sequences=return_sequences)
    assert value == pytest.approx(expected_loss, rel=1e-12)
    assert state["t"] == 1
    for p, b, g in zip(params, before, numeric):
        for key in p:
            step = p[key] - b[key]
            big = np.abs(g[key]) > 1e-4
            np.testing.assert_allclose(step[big], -lr * np.sign(g[key][big]), rtol=1e-2)
            assert np.all(np.abs(step) <= lr * (1 + 1e-9))


def test_train_epoch_is_deterministic_and_resumable():
    rng = np.random.default_rng(10)
    X, y = make_problem(False, rng, N=20)
    init = make_layers("lstm", 2, (4,), rng)
    W_out = 0.1 * rng.standard_normal((2, 4))

    def run(n_epochs_split):
        layers = [{k: v.copy() for k, v in layer.items()} for layer in init]
        readout = {"W_out": W_out.copy(), "b_out": np.zeros(2)}
        shuffle = np.random.default_rng(42)
        state = None
        for n in n_epochs_split:
            for _ in range(n):
                loss, state = ref.train_epoch("lstm", X, y, layers, readout,
                                              batch_size=8, learning_rate=1e-2,
                                              rng=shuffle, adam_state=state)
        return layers, readout, loss

    a = run([3])
    b = run([1, 2])
    for la, lb in zip(a[0], b[0]):
        for key in la:
            np.testing.assert_array_equal(la[key], lb[key])
    np.testing.assert_array_equal(a[1]["W_out"], b[1]["W_out"])
    assert a[2] == b[2]
