"""Variable lengths, the reverse direction, bidirectional stacks, dropout and
truncated BPTT, against their oracles: each sequence run alone, the NumPy
reference (whose masking formulation is independent of the kernels' packed
layout), flipping each sequence for the reverse direction, and central
finite differences (float64)."""
import numpy as np
import pytest

from crnn import ops, reference

from ._cells import make_layers, rel_error
from .conftest import CELLS, DTYPES

from ._numerics import REFERENCE_TOL as TOL  # noqa: E402

# every test here runs with the default product choice and all products packed
pytestmark = pytest.mark.usefixtures("product_path")
DIRECTIONS = ("forward", "reverse", "bidirectional")


def _layers(cell, n_features, sizes, rng, dtype, bidirectional):
    if not bidirectional:
        return make_layers(cell, n_features, sizes, rng, dtype)
    layers, n_in = [], n_features
    for H in sizes:
        fwd = make_layers(cell, n_in, (H,), rng, dtype)[0]
        rev = make_layers(cell, n_in, (H,), rng, dtype)[0]
        layers.append({**fwd, **{name + "_reverse": value for name, value in rev.items()}})
        n_in = 2 * H
    return layers


def _problem(cell, direction, rng, dtype=np.float64, N=6, T=7, I=3, sizes=(4, 3)):
    X = rng.normal(size=(N, T, I)).astype(dtype)
    lengths = np.array([T, 1, 4, T - 1, 2, 5][:N])
    n_dir = 2 if direction == "bidirectional" else 1
    layers = _layers(cell, I, sizes, rng, dtype, direction == "bidirectional")
    h0 = [(0.5 * rng.normal(size=(N, n_dir * H))).astype(dtype) for H in sizes]
    c0 = [(0.5 * rng.normal(size=(N, n_dir * H))).astype(dtype) for H in sizes] \
        if cell == "lstm" else None
    return X, lengths, layers, h0, c0


def _flip(A, lengths):
    """Each sequence reversed within its own length (padding stays in place)."""
    out = A.copy()
    for i, n in enumerate(lengths):
        out[i, :n] = A[i, :n][::-1]
    return out


def _mask(A, lengths):
    out = A.copy()
    for i, n in enumerate(lengths):
        out[i, n:] = 0
    return out


def _reference_forward(cell, X, layers, h0, c0, lengths, direction):
    """The reference, with the reverse direction as 'flip, run forward, flip'."""
    if direction == "reverse":
        out, h_n, c_n, _ = reference.forward(cell, _flip(X, lengths), layers, h0, c0,
                                             lengths=lengths)
        return _flip(out, lengths), h_n, c_n
    out, h_n, c_n, _ = reference.forward(cell, X, layers, h0, c0, lengths=lengths)
    return out, h_n, c_n


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_forward_with_lengths_matches_reference(cell, direction, dtype, rng):
    X, lengths, layers, h0, c0 = _problem(cell, direction, rng, dtype)
    out, h_n, c_n, _ = ops.forward(cell, X, layers, h0, c0, lengths=lengths,
                                   direction=direction)
    ref_out, ref_h, ref_c = _reference_forward(cell, X, layers, h0, c0, lengths, direction)
    assert out.shape == ref_out.shape
    assert rel_error(out, ref_out) < TOL[dtype]
    assert np.all(_mask(out, lengths) == out)  # zero past every length
    for got, want in zip(h_n, ref_h):
        assert rel_error(got, want) < TOL[dtype]
    if cell == "lstm":
        for got, want in zip(c_n, ref_c):
            assert rel_error(got, want) < TOL[dtype]


@pytest.mark.parametrize("cell", CELLS)
def test_reference_reverse_half_is_the_flipped_forward_pass(cell, rng):
    # The reference's own reverse direction (bidirectional layers) agrees
    # with the flip oracle: one layer, reverse half only.
    X, lengths, layers, _, _ = _problem(cell, "bidirectional", rng, sizes=(4,))
    rev = {name: layers[0][name + "_reverse"] for name in ("W_ih", "W_hh", "b_ih", "b_hh")}
    out, h_n, _, _ = reference.forward(cell, X, layers, lengths=lengths)
    flipped, h_flip, _, _ = reference.forward(cell, _flip(X, lengths), [rev], lengths=lengths)
    np.testing.assert_allclose(out[:, :, 4:], _flip(flipped, lengths), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_n[0][:, 4:], h_flip[0], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("truncate", [None, 2])
def test_backward_with_lengths_matches_reference(cell, direction, truncate, rng):
    X, lengths, layers, h0, c0 = _problem(cell, direction, rng)
    out, h_n, c_n, cache = ops.forward(cell, X, layers, h0, c0, lengths=lengths,
                                       direction=direction)
    G = rng.normal(size=out.shape)
    Gh = [rng.normal(size=h.shape) for h in h_n]
    Gc = [rng.normal(size=c.shape) for c in c_n] if cell == "lstm" else None
    dX, d_layers, dh0, dc0 = ops.backward(cache, G, Gh, Gc, truncate=truncate)
    if direction == "reverse":
        _, _, _, rcache = reference.forward(cell, _flip(X, lengths), layers, h0, c0,
                                            lengths=lengths)
        rdX, r_layers, rdh0, rdc0 = reference.backward(rcache, _flip(_mask(G, lengths), lengths),
                                                       Gh, Gc, truncate=truncate)
        rdX = _flip(rdX, lengths)
    else:
        _, _, _, rcache = reference.forward(cell, X, layers, h0, c0, lengths=lengths)
        rdX, r_layers, rdh0, rdc0 = reference.backward(rcache, _mask(G, lengths), Gh, Gc,
                                                       truncate=truncate)
    assert rel_error(_mask(dX, lengths), _mask(rdX, lengths)) < 1e-11
    assert np.all(_mask(dX, lengths) == dX)
    for k, (got, want) in enumerate(zip(d_layers, r_layers)):
        assert set(got) == set(want)
        for name in got:
            assert rel_error(got[name], want[name]) < 1e-11, (k, name)
    for got, want in zip(dh0, rdh0):
        assert rel_error(got, want) < 1e-11
    if cell == "lstm":
        for got, want in zip(dc0, rdc0):
            assert rel_error(got, want) < 1e-11


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_ragged_batch_equals_each_sequence_alone(cell, direction, rng):
    X, lengths, layers, _, _ = _problem(cell, direction, rng)
    out, h_n, c_n, cache = ops.forward(cell, X, layers, lengths=lengths, direction=direction)
    G = rng.normal(size=out.shape)
    dX, d_layers, _, _ = ops.backward(cache, G)
    summed = [{name: np.zeros_like(v) for name, v in p.items()} for p in layers]
    for i, n in enumerate(lengths):
        o, h, c, cache_i = ops.forward(cell, X[i:i + 1, :n], layers, direction=direction)
        np.testing.assert_allclose(out[i, :n], o[0], rtol=1e-12, atol=1e-13)
        for k in range(len(layers)):
            np.testing.assert_allclose(h_n[k][i], h[k][0], rtol=1e-12, atol=1e-13)
            if cell == "lstm":
                np.testing.assert_allclose(c_n[k][i], c[k][0], rtol=1e-12, atol=1e-13)
        dX_i, d_i, _, _ = ops.backward(cache_i, G[i:i + 1, :n])
        np.testing.assert_allclose(dX[i, :n], dX_i[0], rtol=1e-11, atol=1e-13)
        for s, d in zip(summed, d_i):
            for name in s:
                s[name] += d[name]
    for got, want in zip(d_layers, summed):
        for name in got:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("padding", [0.0, 1e6, np.nan])
def test_padding_values_change_nothing(cell, padding, rng):
    X, lengths, layers, _, _ = _problem(cell, "bidirectional", rng)
    out, h_n, _, cache = ops.forward(cell, X, layers, lengths=lengths,
                                     direction="bidirectional")
    G = rng.normal(size=out.shape)
    dX, d_layers, _, _ = ops.backward(cache, G)
    padded = X.copy()
    for i, n in enumerate(lengths):
        padded[i, n:] = padding
    out2, h_n2, _, cache2 = ops.forward(cell, padded, layers, lengths=lengths,
                                        direction="bidirectional")
    dX2, d_layers2, _, _ = ops.backward(cache2, G)
    np.testing.assert_array_equal(out, out2)
    np.testing.assert_array_equal(dX, dX2)
    for a, b in zip(h_n, h_n2):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(d_layers, d_layers2):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name])


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


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dropout", [False, True])
def test_reference_gradients_with_lengths_bidirectional_dropout_match_fd(cell, dropout, rng):
    # The reference is the kernels' oracle above; here the reference itself
    # meets finite differences with lengths, both directions and a fixed
    # dropout mask between the layers.
    X, lengths, layers, h0, c0 = _problem(cell, "bidirectional", rng, N=4, T=5, I=2,
                                          sizes=(3, 2))
    lengths = np.array([5, 2, 4, 1])
    masks = [(rng.random((4, 5, 6)) > 0.3) / 0.7] if dropout else None
    out, h_n, c_n, cache = reference.forward(cell, X, layers, h0, c0, lengths=lengths,
                                             dropout_masks=masks)
    G = _mask(rng.normal(size=out.shape), lengths)
    Gh = [rng.normal(size=h.shape) for h in h_n]

    def loss():
        o, h, _, _ = reference.forward(cell, X, layers, h0, c0, lengths=lengths,
                                       dropout_masks=masks)
        return np.sum(o * G) + sum(np.sum(a * b) for a, b in zip(h, Gh))

    dX, d_layers, dh0, _ = reference.backward(cache, G, Gh)
    assert rel_error(_mask(dX, lengths), _mask(_numeric_grad(loss, X), lengths)) < 1e-6
    for k, (p, d) in enumerate(zip(layers, d_layers)):
        for name in p:
            assert rel_error(d[name], _numeric_grad(loss, p[name])) < 1e-6, (k, name)
    for h, d in zip(h0, dh0):
        assert rel_error(d, _numeric_grad(loss, h)) < 1e-6


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_truncated_gradient_matches_its_definition(cell, direction, rng):
    # Truncated BPTT with window k: the gradient equals that of the sum over
    # windows of each window's loss terms, every window started from its
    # (fixed, unperturbed) entering state. Finite differences of that sum
    # give the truncated gradient; the kernels must reproduce it.
    k, T = 2, 7
    X, lengths, layers, h0, c0 = _problem(cell, direction, rng, N=3, T=T, I=2, sizes=(3,))
    lengths = np.array([7, 3, 6])
    X = X[:3]
    h0 = [h[:3] for h in h0]
    c0 = None if c0 is None else [c[:3] for c in c0]
    out, h_n, c_n, cache = ops.forward(cell, X, layers, h0, c0, lengths=lengths,
                                       direction=direction)
    G = _mask(rng.normal(size=out.shape), lengths)
    Gh = [rng.normal(size=h.shape) for h in h_n]
    _, d_layers, _, _ = ops.backward(cache, G, Gh, truncate=k)

    def windowed_loss():
        total = 0.0
        for i, n in enumerate(lengths):
            x = X[i, :n] if direction == "forward" else X[i, :n][::-1]
            g = G[i, :n] if direction == "forward" else G[i, :n][::-1]
            h = [h0[0][i:i + 1]]
            c = None if c0 is None else [c0[0][i:i + 1]]
            # entering states from the unperturbed parameters
            starts = []
            for w0 in range(0, n, k):
                starts.append((h, c))
                _, h, c, _ = reference.forward(cell, x[np.newaxis, w0:w0 + k], frozen, h, c)
            for (h_start, c_start), w0 in zip(starts, range(0, n, k)):
                o, h_end, _, _ = reference.forward(cell, x[np.newaxis, w0:w0 + k], layers,
                                                   h_start, c_start)
                total += np.sum(o[0] * g[w0:w0 + k])
                if w0 + k >= n:
                    total += np.sum(h_end[0][0] * Gh[0][i])
        return total

    frozen = [{name: v.copy() for name, v in layers[0].items()}]
    for name, p in layers[0].items():
        numeric = _numeric_grad(windowed_loss, p)
        assert rel_error(d_layers[0][name], numeric) < 1e-6, name
    # and truncation changes the gradient (the test can fail)
    _, full, _, _ = ops.backward(cache, G, Gh)
    assert rel_error(full[0]["W_hh"], d_layers[0]["W_hh"]) > 1e-3


def test_lengths_and_direction_are_validated(rng):
    X, lengths, layers, _, _ = _problem("gru", "forward", rng)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, n_steps=7\]"):
        ops.forward("gru", X, layers, lengths=np.r_[lengths[:-1], 0])
    with pytest.raises(ValueError, match="one int per sequence"):
        ops.forward("gru", X, layers, lengths=lengths[:-1])
    with pytest.raises(ValueError, match="direction must be one of"):
        ops.forward("gru", X, layers, direction="sideways")
    with pytest.raises(ValueError, match="missing .*_reverse"):
        ops.forward("gru", X, layers, direction="bidirectional")
    X[0, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        ops.forward("gru", X, layers, lengths=lengths)
    _, _, _, cache = ops.forward("gru", X[1:], layers, lengths=lengths[1:])
    with pytest.raises(ValueError, match="truncate must be None or a positive int"):
        ops.backward(cache, np.zeros((5, 7, 3)), truncate=0)


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 5, 5, 5, 5, 5, 5], [5, 3, 4, 5, 1, 2, 5]])
def test_minibatch_gather_matches_a_fresh_packing(per_step, lengths, rng):
    # equal-length data reuses one Packing per minibatch size and skips the
    # length sort: the gathered parts must equal those of the general path
    from crnn._layers import Packing
    from crnn._training import SequenceData

    X = rng.standard_normal((7, 5, 3))
    targets = rng.standard_normal((7, 5, 2)) if per_step else rng.standard_normal((7, 2))
    data = SequenceData(X, targets, None if lengths is None else np.array(lengths), per_step)
    all_lengths = np.full(7, 5) if lengths is None else np.array(lengths)
    for rows in (np.array([6, 0, 3, 2]), np.array([1, 5, 4]), np.array([4, 2, 6, 0])):
        rows = data.sort_longest_first(rows)
        np.testing.assert_array_equal(all_lengths[rows],
                                      np.sort(all_lengths[rows])[::-1])
        Xp, tp, packing = data.gather(rows)
        fresh = Packing(all_lengths[rows])
        np.testing.assert_array_equal(packing.batch_sizes, fresh.batch_sizes)
        np.testing.assert_array_equal(packing.lengths, fresh.lengths)
        steps, slots = fresh.time_major_index()
        np.testing.assert_array_equal(Xp, X[rows[slots], steps])
        expected = targets[rows[slots], steps] if per_step else targets[rows]
        np.testing.assert_array_equal(tp, expected)
        assert data.n_predictions(rows) == (int(all_lengths[rows].sum()) if per_step
                                            else rows.shape[0])
