"""The explicit SIMD dispatch of the gate passes (_gate_rows.h, crnn._simd).

Each path this CPU supports runs in its own process (the choice is made
when crnn is imported), chosen with CRNN_SIMD, and must match the NumPy
reference on the training forward and backward passes and on predict's
inference path. The fallback rules for values the CPU cannot run are
checked on the C chooser itself with made-up CPU feature masks.
"""
import os
import subprocess
import sys
import textwrap

import pytest

import crnn
from crnn import _simd

ALL = _simd._names(0b111)           # every level this build knows, narrowest first
SUPPORTED = _simd.supported_paths()

# Run in a child process per path. Hidden sizes of 37 leave a remainder
# after every vector width; weights are scaled so that the gates saturate
# and relu sees both signs.
CHILD = textwrap.dedent("""
    import os, sys, warnings
    import numpy as np
    import crnn
    from crnn import ops, reference

    path = os.environ["CRNN_SIMD"]
    assert crnn.build_info()["simd"] == path, (crnn.build_info()["simd"], path)
    G = {"rnn": 1, "lstm": 4, "gru": 3}
    TOL = {np.float32: 5e-5, np.float64: 1e-11}

    def rel(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))

    def call(impl, cell, X, layers, activation):
        if cell == "rnn":
            return impl.rnn_forward(X, layers, activation=activation)
        if cell == "gru":
            return impl.gru_forward(X, layers)
        out, h_n, c_n, cache = impl.lstm_forward(X, layers)
        return out, h_n, cache

    rng = np.random.default_rng(0)
    worst = 0.0
    for cell in ("rnn", "lstm", "gru"):
        for activation in (("tanh", "relu", "sigmoid") if cell == "rnn" else ("tanh",)):
            for dtype in (np.float32, np.float64):
                X = rng.normal(size=(5, 6, 3)) * 2
                layers, n_in = [], 3
                for H in (37, 4):
                    layers.append({k: rng.uniform(-1.5, 1.5, shape).astype(dtype)
                                   for k, shape in (("W_ih", (G[cell] * H, n_in)),
                                                    ("W_hh", (G[cell] * H, H)),
                                                    ("b_ih", (G[cell] * H,)),
                                                    ("b_hh", (G[cell] * H,)))})
                    n_in = H
                ref64 = [{k: v.astype(np.float64) for k, v in p.items()} for p in layers]
                out, _, cache = call(ops, cell, X.astype(dtype), layers, activation)
                r_out, _, r_cache = call(reference, cell, X, ref64, activation)
                d_out = rng.normal(size=out.shape)
                grads = getattr(ops, cell + "_backward")(cache, d_out.astype(dtype))
                r_grads = getattr(reference, cell + "_backward")(r_cache, d_out)
                errors = [rel(out, r_out), rel(grads[0], r_grads[0])]
                errors += [rel(grads[1][k][n], r_grads[1][k][n])
                           for k in range(2) for n in layers[k]]

                est = crnn.RNNRegressor(cell=cell, activation=activation,
                                        hidden_layer_sizes=(37,), max_iter=1,
                                        dtype=dtype.__name__, random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(X, X[:, -1, 0])
                coefs = [{k: v.astype(np.float64) for k, v in p.items()} for p in est.coefs_]
                h = call(reference, cell, X.astype(dtype).astype(np.float64),
                         coefs[:-1], activation)[0][:, -1]
                expected = h @ coefs[-1]["W_out"].T + coefs[-1]["b_out"]
                errors.append(rel(est.predict(X), expected[:, 0]))
                assert max(errors) < TOL[dtype], (cell, activation, dtype, errors)
                worst = max(worst, max(errors) if dtype == np.float32 else 0.0)
    print(f"{path} ok, worst float32 relative error {worst:.1e}")
""")


def _run(code, simd, tile_rows=None):
    env = dict(os.environ, CRNN_SIMD=simd)
    env.pop("CRNN_AVX512_TILE_ROWS", None)
    if tile_rows is not None:
        env["CRNN_AVX512_TILE_ROWS"] = tile_rows
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("path", ALL)
def test_each_supported_path_matches_reference(path):
    if path not in SUPPORTED:
        pytest.skip(f"this CPU cannot run the {path} path")
    result = _run(CHILD, path)
    assert result.returncode == 0, result.stderr
    assert f"{path} ok" in result.stdout


# Training's passes and a fit, float32 and float64, hashed: the AVX2 and
# AVX-512 levels compile the same arithmetic (the portable rows with the
# multiply-adds gcc contracts at both, and the float rows in intrinsics that
# reproduce them), so their bits must agree; the SSE2 baseline has no FMA.
BITS_CHILD = textwrap.dedent("""
    import hashlib, warnings
    import numpy as np
    import crnn
    from crnn import ops

    rng = np.random.default_rng(1)
    digest = hashlib.sha256()
    G = {"rnn": 1, "lstm": 4, "gru": 3}
    for cell in ("rnn", "lstm", "gru"):
        for dtype in (np.float32, np.float64):
            X = (rng.normal(size=(7, 5, 3)) * 2).astype(dtype)
            H = 37
            layer = {k: rng.uniform(-1.5, 1.5, shape).astype(dtype)
                     for k, shape in (("W_ih", (G[cell] * H, 3)), ("W_hh", (G[cell] * H, H)),
                                      ("b_ih", (G[cell] * H,)), ("b_hh", (G[cell] * H,)))}
            result = getattr(ops, cell + "_forward")(X, [layer])
            out, cache = result[0], result[-1]
            grads = getattr(ops, cell + "_backward")(cache, np.ones_like(out))
            est = crnn.RNNRegressor(cell=cell, hidden_layer_sizes=(H,), max_iter=2,
                                    batch_size=4, dtype=dtype.__name__, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X, X[:, -1, 0])
            for array in [out, grads[0], est.predict(X)] + list(grads[1][0].values()):
                digest.update(np.ascontiguousarray(array).tobytes())
    print("bits", digest.hexdigest())
""")


def test_avx2_and_avx512_train_to_the_same_bits():
    # and the AVX-512 path with either product tile (12 or 8 rows)
    if not {"avx2", "avx512"} <= set(SUPPORTED):
        pytest.skip("this CPU cannot run the avx2 and avx512 paths")
    digests = []
    for path, tile_rows in (("avx2", None), ("avx512", "12"), ("avx512", "8")):
        result = _run(BITS_CHILD, path, tile_rows)
        assert result.returncode == 0, result.stderr
        digests.append([line for line in result.stdout.split("\n") if line.startswith("bits")])
    assert digests[0] == digests[1] == digests[2] and len(digests[0]) == 1


@pytest.mark.parametrize("request_", [None, "8", "12", "", "16", "eight"])
def test_avx512_tile_rows_rules(request_):
    # "8" and "12" as asked; anything else is the CPU's default, 8 on AMD
    with open("/proc/cpuinfo") if os.path.exists("/proc/cpuinfo") else open(os.devnull) as f:
        amd = "AuthenticAMD" in f.read()
    default = 8 if amd and ALL[0] == "sse2" else 12
    expected = int(request_) if request_ in ("8", "12") else default
    assert _simd._choose_tile_rows(request_) == expected
    env = {k: v for k, v in os.environ.items() if k != "CRNN_AVX512_TILE_ROWS"}
    if request_ is not None:
        env["CRNN_AVX512_TILE_ROWS"] = request_
    result = subprocess.run([sys.executable, "-c",
                             "import crnn; print(crnn.build_info()['avx512_tile_rows'])"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(expected)]


def test_unknown_value_warns_and_falls_back():
    result = _run("import crnn; print(crnn.build_info()['simd'])", "avx9000")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [SUPPORTED[-1]]
    assert "RuntimeWarning: CRNN_SIMD='avx9000' is not one of" in result.stderr


def test_unset_picks_the_widest_supported_path():
    env = {k: v for k, v in os.environ.items() if k != "CRNN_SIMD"}
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c",
                             "import crnn; print(crnn.build_info()['simd'])"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [SUPPORTED[-1]]


@pytest.mark.parametrize("request_, mask, expected", [
    (None, 0b111, 2), (None, 0b011, 1), (None, 0b001, 0),
    ("", 0b111, 2), ("auto", 0b011, 1),
    ("sse2", 0b111, 0), ("avx2", 0b111, 1), ("avx512", 0b111, 2),
    ("avx512", 0b011, 1),      # asked for more than the CPU has: the widest it has
    ("avx2", 0b001, 0),
    ("AVX2", 0b111, 2),        # names are lower case; anything else is unknown
    ("avx9000", 0b011, 1),
])
def test_chooser_rules(request_, mask, expected):
    if request_ == "sse2" and ALL[0] != "sse2":
        request_ = ALL[0]      # off x86-64 the baseline is called "baseline"
    assert _simd._choose(request_, mask) == ALL[expected]


def test_unsupported_request_warns(monkeypatch):
    # No CPU here lacks a path, so pretend: the warning must name the request,
    # what the CPU supports and the path actually used.
    monkeypatch.setenv("CRNN_SIMD", "avx512")
    monkeypatch.setattr(_simd, "supported_paths", lambda: ALL[:2])
    with pytest.warns(RuntimeWarning, match=r"'avx512'.*cannot run.*supports"):
        _simd._check_request()


def test_build_info_reports_the_path(capsys):
    info = crnn.build_info()
    assert info["simd"] in info["simd_supported"]
    assert info["simd_supported"] == SUPPORTED
    assert info["simd"] == _simd.simd_path()
    crnn.show_build_info()
    assert f"simd: {info['simd']}" in capsys.readouterr().out
