"""Layer normalisation inside the cells (SPEC 10): the compiled passes
against the NumPy reference, finite differences for every parameter, the
estimators' parameters, predict, persistence and the refusals."""
import pickle
import warnings

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor, _spec, ops, reference

from ._cells import make_layers
from ._numerics import REFERENCE_TOL, rel_error
from .conftest import CELLS, DTYPES

DIRECTIONS = ("forward", "reverse", "bidirectional")

# every test again with all products packed and backward cut into small
# blocks (conftest.product_path): the normalisations' deltas too
pytestmark = pytest.mark.usefixtures("product_path")


def _with_layer_norm(cell, layers, rng, bidirectional=False):
    """Add LN gains and biases away from their 1/0 init, so that a wrong
    gain or a dropped bias changes the result."""
    G = _spec.N_GATES[cell]
    names = _spec.LN_NAMES[:6 if cell == "lstm" else 4]
    for p in layers:
        H = p["W_hh"].shape[1]
        dtype = p["W_hh"].dtype
        for suffix in ("", "_reverse") if bidirectional else ("",):
            for name in names:
                width = H if name.startswith("ln_c") else G * H
                centre = 1.0 if name.endswith("weight") else 0.0
                p[name + suffix] = (centre + rng.uniform(-0.5, 0.5, width)).astype(dtype)
    return layers


def _problem(cell, direction, rng, dtype=np.float64, sizes=(5, 4), ragged=True):
    n, T, n_in = 5, 7, 3
    bidirectional = direction == "bidirectional"
    layers = make_layers(cell, n_in, sizes, rng, dtype)
    if bidirectional:
        for k, p in enumerate(make_layers(cell, n_in, sizes, rng, dtype)):
            p_in = layers[k]
            if k > 0:  # layer k > 0 reads both directions
                G, H = _spec.N_GATES[cell], sizes[k]
                p_in["W_ih"] = rng.uniform(-0.6, 0.6, (G * H, 2 * sizes[k - 1])).astype(dtype)
                p["W_ih"] = rng.uniform(-0.6, 0.6, (G * H, 2 * sizes[k - 1])).astype(dtype)
            p_in.update({name + "_reverse": p[name] for name in _spec.PARAM_NAMES})
    _with_layer_norm(cell, layers, rng, bidirectional)
    X = rng.normal(size=(n, T, n_in)).astype(dtype)
    lengths = np.array([7, 3, 5, 1, 6]) if ragged else None
    return X, lengths, layers


def _reference_forward(cell, X, layers, lengths, direction):
    if direction == "reverse":
        # the reference runs the reverse direction as the flipped forward pass
        out, h_n, c_n, cache = reference.forward(cell, _flip(X, lengths), layers,
                                                 lengths=lengths)
        return _flip(out, lengths), h_n, c_n, cache
    return reference.forward(cell, X, layers, lengths=lengths)


def _flip(X, lengths):
    out = np.zeros_like(X)
    for i in range(X.shape[0]):
        L = X.shape[1] if lengths is None else lengths[i]
        out[i, :L] = X[i, :L][::-1]
    return out


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_matches_reference(cell, direction, dtype, rng):
    X, lengths, layers = _problem(cell, direction, rng, dtype)
    out, h_n, c_n, _ = ops.forward(cell, X, layers, lengths=lengths, direction=direction)
    ref_out, ref_h, ref_c, _ = _reference_forward(cell, X, layers, lengths, direction)
    assert rel_error(out, ref_out) < REFERENCE_TOL[dtype]
    for got, want in zip(h_n, ref_h):
        assert rel_error(got, want) < REFERENCE_TOL[dtype]
    if cell == "lstm":
        for got, want in zip(c_n, ref_c):
            assert rel_error(got, want) < REFERENCE_TOL[dtype]
    # the normalisation is really applied: without it the outputs differ
    plain = [{k: v for k, v in p.items() if not k.startswith("ln_")} for p in layers]
    out_plain = ops.forward(cell, X, plain, lengths=lengths, direction=direction)[0]
    assert rel_error(out_plain, out) > 1e-3


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("ragged", [False, True])
def test_gradients_match_reference(cell, direction, truncate, ragged, rng):
    X, lengths, layers = _problem(cell, direction, rng, ragged=ragged)
    out, h_n, c_n, cache = ops.forward(cell, X, layers, lengths=lengths, direction=direction)
    d_out = rng.normal(size=out.shape)
    if lengths is not None:
        d_out *= (np.arange(X.shape[1]) < lengths[:, None])[:, :, None]
    d_h_n = [rng.normal(size=h.shape) for h in h_n]
    dX, d_layers, dh0, _ = ops.backward(cache, d_out, d_h_n, truncate=truncate)
    _, _, _, ref_cache = reference.forward(cell, X, layers, lengths=lengths)
    rdX, rd_layers, rdh0, _ = reference.backward(ref_cache, d_out, d_h_n, truncate=truncate)
    tol = REFERENCE_TOL[np.float64]
    assert rel_error(dX, rdX) < tol
    for got, want in zip(d_layers, rd_layers):
        assert set(got) == set(want)
        assert any(name.startswith("ln_") for name in got)
        for name in got:
            assert rel_error(got[name], want[name]) < tol, name
    for got, want in zip(dh0, rdh0):
        assert rel_error(got, want) < tol


def _loss(cell, X, layers, lengths, direction, d_out, d_h_n):
    out, h_n, _, _ = reference.forward(cell, X, layers, lengths=lengths)
    return float(np.sum(out * d_out) + sum(np.sum(h * d) for h, d in zip(h_n, d_h_n)))


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_gradients_match_finite_differences(cell, direction, rng):
    # Every parameter, the layer-normalisation ones included, through the
    # compiled backward pass against central differences of the reference
    # forward pass (float64, SPEC 9).
    # H >= 4: LN over very few units is nearly a step function, too curved
    # for central differences
    X, lengths, layers = _problem(cell, direction, rng, sizes=(5, 4))
    out, h_n, _, cache = ops.forward(cell, X, layers, lengths=lengths, direction=direction)
    d_out = rng.normal(size=out.shape) * (np.arange(X.shape[1]) < lengths[:, None])[:, :, None]
    d_h_n = [rng.normal(size=h.shape) for h in h_n]
    _, d_layers, _, _ = ops.backward(cache, d_out, d_h_n)
    eps = 1e-6
    for k, p in enumerate(layers):
        for name, value in p.items():
            flat = value.reshape(-1)
            # eight entries of every array (all of a small one) keep it quick
            entries = rng.choice(flat.size, size=min(8, flat.size), replace=False)
            fd = np.empty(entries.size)
            for j, i in enumerate(entries):
                old = flat[i]
                flat[i] = old + eps
                plus = _loss(cell, X, layers, lengths, direction, d_out, d_h_n)
                flat[i] = old - eps
                minus = _loss(cell, X, layers, lengths, direction, d_out, d_h_n)
                flat[i] = old
                fd[j] = (plus - minus) / (2 * eps)
            got = d_layers[k][name].reshape(-1)[entries]
            err = np.max(np.abs(fd - got)) / max(np.max(np.abs(fd)), 1e-12)
            assert err < 1e-6, (k, name, err)


def _sequences(rng, n=48, T=9, n_in=3):
    X = rng.normal(size=(n, T, n_in)).astype(np.float32)
    y = X[:, -3:, 0].sum(axis=1)
    return X, y


@pytest.mark.parametrize("cell", CELLS)
def test_estimator_parameters_init_and_alpha(cell, rng):
    X, y = _sequences(rng)
    # before any step: gains 1, biases 0
    model_init = RNNRegressor(cell=cell, hidden_layer_sizes=(6, 5), layer_norm=True,
                              random_state=0, bidirectional=True, learning_rate_init=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model_init.fit(X, y)
    G = _spec.N_GATES[cell]
    names = _spec.LN_NAMES[:6 if cell == "lstm" else 4]
    for layer, H in zip(model_init.coefs_[:-1], (6, 5)):
        for suffix in ("", "_reverse"):
            for name in names:
                value = layer[name + suffix]
                width = H if name.startswith("ln_c") else G * H
                assert value.shape == (width,)
                np.testing.assert_allclose(value, 1.0 if name.endswith("weight") else 0.0,
                                           atol=1e-6)
    # the L2 penalty covers the flat prefix [:n_decay]; the gains and
    # biases sit after it
    net = model_init._network
    assert all(offset >= net.n_decay for _, name, _, offset, _ in net._slots
               if name.startswith("ln_"))


@pytest.mark.parametrize("cell", CELLS)
def test_predict_equals_the_training_forward_pass(cell, rng):
    X, y = _sequences(rng)
    model = RNNRegressor(cell=cell, hidden_layer_sizes=(7,), layer_norm=True, max_iter=3,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    layers = [{k: v.astype(np.float64) for k, v in p.items()} for p in model.coefs_[:-1]]
    _, h_n, _, _ = reference.forward(cell, X.astype(np.float64), layers)
    readout = model.coefs_[-1]
    expected = h_n[-1] @ readout["W_out"].T.astype(np.float64) + readout["b_out"]
    np.testing.assert_allclose(model.predict(X), expected[:, 0], rtol=2e-4, atol=2e-5)
    # ragged input through predict: each sequence as if alone
    lengths = np.array([9, 4, 6, 2] * 12)
    ragged = [x[:L] for x, L in zip(X, lengths)]
    alone = np.array([model.predict(x[np.newaxis])[0] for x in ragged[:8]])
    np.testing.assert_allclose(model.predict(ragged)[:8], alone, rtol=1e-5, atol=1e-6)


def test_learns_digits_as_sequences():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, digits.target, test_size=0.3,
                                                        random_state=0)
    model = RNNClassifier(cell="gru", hidden_layer_sizes=(32,), layer_norm=True, max_iter=30,
                          random_state=0, learning_rate_init=5e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X_train, y_train)
    assert model.score(X_test, y_test) >= 0.9


def test_refusals_and_persistence(rng):
    X, y = _sequences(rng)
    model = RNNRegressor(cell="lstm", hidden_layer_sizes=(4,), layer_norm=True, max_iter=2,
                         random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert "ln_c_weight" in loaded.coefs_[0]
    forecaster = RNNRegressor(cell="gru", hidden_layer_sizes=(4,), layer_norm=True,
                              max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster.fit(X[:, :-1], X[:, -1])
    with pytest.raises(ValueError, match="layer_norm"):
        forecaster.forecast(X[:2], steps=3)


def test_ops_validates_layer_norm_parameters(rng):
    X, lengths, layers = _problem("gru", "forward", rng)
    del layers[0]["ln_hh_bias"]
    with pytest.raises(ValueError, match="ln_hh_bias"):
        ops.forward("gru", X, layers)
    X, lengths, layers = _problem("lstm", "forward", rng)
    layers[1]["ln_c_weight"] = layers[1]["ln_c_weight"][:-1]
    with pytest.raises(ValueError, match="ln_c_weight"):
        ops.forward("lstm", X, layers)


def test_univariate_input_warns(rng):
    X = rng.normal(size=(16, 5, 1)).astype(np.float32)
    with pytest.warns(UserWarning, match="one input feature"):
        RNNRegressor(layer_norm=True, max_iter=1).fit(X, X[:, -1, 0])
