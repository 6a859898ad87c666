"""Subprocess fuzzing of the estimators and crnn.ops (SPEC 6).

Every case is generated from its integer seed and run in a child process,
so that a crash (a signal: segfault, abort), a hang (a timeout) or a wrong
outcome is counted instead of ending the run. The parent imports crnn once
and forks a child per case (a fresh interpreter per case would spend most
of its time importing SciPy). A case is a random estimator configuration
(valid or not), random input arrays (shapes including zeros, dtypes,
C / Fortran / strided / negative-stride / read-only / memmapped / list /
ragged layouts, normal, huge, denormal, NaN and inf values) and a random
sequence of method calls (fit, partial_fit, predict, predict_proba, score,
set_params, pickling, clone, warm_start), or a random call into crnn.ops
(forward then backward, with malformed parameters now and then).

Each call must end in finite output of the documented shape, or in a
ValueError / TypeError (NotFittedError and scikit-learn's
InvalidParameterError are ValueErrors) with a message. The run reports::

    crashes             child killed by a signal
    hangs               child still running after --timeout seconds
    wrong_exceptions    any other exception type, or an empty message
    nonfinite           NaN or inf in an output from finite input
    bad_shapes          an output of the wrong shape
    leaked_warnings     a warning other than the documented ones escaped
    harness_error       the fuzzer itself failed (a bug in this script)

Usage::

    nice -n 10 python tools/fuzz.py --cases 10000 --jobs 2
    python tools/fuzz.py --replay 1234        # one case, in-process, verbose
"""
import argparse
import io
import json
import os
import pickle
import random
import select
import signal
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np

import crnn
from crnn import RNNClassifier, RNNRegressor, ops
from sklearn.base import clone

OUTCOMES = ("ok", "crash", "hang", "wrong_exception", "nonfinite", "bad_shape",
            "leaked_warning", "no_result", "harness_error")
# Warnings the estimators document: not counted as leaks.
EXPECTED_WARNINGS = ("Stochastic optimizer: maximum iterations", "Training diverged",
                     "A column-vector y was passed", "The least populated class",
                     "Training interrupted")


class Finding(Exception):
    """A contract violation found while running a case."""

    def __init__(self, outcome, detail):
        super().__init__(detail)
        self.outcome = outcome


# ------------------------------------------------------------------ inputs
def _values(rs, shape, kind):
    return np.asarray(_raw_values(rs, shape, kind), dtype=float)


def _raw_values(rs, shape, kind):
    if kind == "huge":
        return rs.normal(size=shape) * 1e30
    if kind == "denormal":
        return rs.normal(size=shape) * 1e-310
    if kind == "tiny32":
        return rs.normal(size=shape) * 1e-40
    if kind == "zeros":
        return np.zeros(shape)
    if kind == "constant":
        return np.full(shape, 3.0)
    out = rs.normal(size=shape)
    if kind == "nan" and out.size:
        out.flat[rs.randint(out.size)] = np.nan
    if kind == "inf" and out.size:
        out.flat[rs.randint(out.size)] = -np.inf
    return out


def _layout(r, rs, a, layout, tmpdir):
    """Return ``a`` (float64) in the given memory layout / container."""
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim >= 1:
        big = np.repeat(a, 2, axis=0)
        return big[::2]
    if layout == "negative" and a.ndim >= 1:
        return a[::-1].copy()[::-1]
    if layout == "readonly":
        a = a.copy()
        a.setflags(write=False)
        return a
    if layout == "memmap" and a.size:
        path = os.path.join(tmpdir, f"m{r.randint(0, 10**9)}.dat")
        m = np.memmap(path, dtype=a.dtype, mode="w+", shape=a.shape)
        m[...] = a
        m.flush()
        del m
        return np.memmap(path, dtype=a.dtype, mode="r", shape=a.shape)
    if layout == "list":
        return a.tolist()
    if layout == "ragged" and a.ndim >= 2 and a.shape[0] >= 2 and a.shape[1] >= 2:
        return [a[0]] + [x[:-1] for x in a[1:]]
    return a


def _cast(r, a, dtype):
    if dtype == "str":
        return a.astype(str)
    if dtype == "object":
        return a.astype(object)
    with np.errstate(all="ignore"):
        return a.astype(dtype)


def make_X(r, rs, n, T, I, tmpdir):
    ndim = r.choices([3, 2, 1, 4, 0], weights=[70, 15, 5, 5, 5])[0]
    shape = {3: (n, T, I), 2: (n, T), 1: (n,), 4: (n, T, I, 1), 0: ()}[ndim]
    kind = r.choices(["normal", "huge", "denormal", "tiny32", "zeros", "constant", "nan",
                      "inf"], weights=[60, 8, 5, 5, 5, 5, 6, 6])[0]
    a = _values(rs, shape, kind)
    dtype = r.choices(["float64", "float32", "float16", "int64", "int8", "bool",
                       "complex128", "object", "str"],
                      weights=[50, 25, 4, 5, 3, 3, 3, 4, 3])[0]
    a = _cast(r, a, dtype)
    layout = r.choices(["C", "fortran", "strided", "negative", "readonly", "memmap",
                        "list", "ragged"], weights=[40, 12, 12, 8, 10, 8, 6, 4])[0]
    if dtype in ("object", "str") and layout == "memmap":
        layout = "C"
    return _layout(r, rs, a, layout, tmpdir), kind


def make_y(r, rs, est_cls, n, T, return_sequences):
    n_y = n if r.random() > 0.05 else max(0, n + r.choice([-1, 1]))
    if est_cls is RNNClassifier:
        k = r.choice([1, 2, 3, 4])
        shape = (n_y, T) if return_sequences else (n_y,)
        labels = rs.randint(0, k, size=shape)
        style = r.choices(["int", "str", "float", "nan", "2d"], weights=[60, 15, 10, 5, 10])[0]
        if style == "str":
            return np.array(["a", "b", "c", "d"])[labels]
        if style == "float":
            return labels * 0.5
        if style == "nan":
            y = labels.astype(float)
            if y.size:
                y.flat[0] = np.nan
            return y
        if style == "2d" and not return_sequences:
            return labels.reshape(-1, 1)
        return labels
    n_out = r.choice([None, 1, 2])
    if return_sequences:
        shape = (n_y, T) if n_out is None else (n_y, T, n_out)
    else:
        shape = (n_y,) if n_out is None else (n_y, n_out)
    if r.random() < 0.05:
        shape = shape + (2,)
    kind = r.choices(["normal", "huge", "constant", "nan", "inf", "str"],
                     weights=[75, 5, 8, 4, 4, 4])[0]
    if kind == "str":
        return rs.normal(size=shape).astype(str)
    return _values(rs, shape, kind)


# ------------------------------------------------------------- parameters
VALID = {
    "cell": ["rnn", "lstm", "gru"],
    "hidden_layer_sizes": [(1,), (3,), (4, 2), 5, [2, 2, 2], np.array([3])],
    "activation": ["tanh", "relu", "sigmoid"],
    "solver": ["adam", "sgd"],
    "alpha": [0.0, 1e-4, 1.0, 1e6],
    "batch_size": ["auto", 1, 2, 5, 1000],
    "learning_rate_init": [1e-3, 0.1, 1e-12, 10.0, 1e8],
    "max_iter": [1, 2, 3],
    "shuffle": [True, False],
    "random_state": [0, 1, None, np.random.RandomState(3)],
    "tol": [0.0, 1e-4, 10.0],
    "warm_start": [False, True],
    "momentum": [0.0, 0.9, 1.0],
    "nesterovs_momentum": [True, False],
    "early_stopping": [False, True],
    "validation_fraction": [0.1, 0.5, 0.9],
    "beta_1": [0.9, 0.0, 0.999999],
    "beta_2": [0.999, 0.0],
    "epsilon": [1e-8, 1e-30, 1.0],
    "n_iter_no_change": [1, 10],
    "clip_grad_norm": [5.0, None, 1e-12, 1e12],
    "forget_bias": [0.0, 1.0, -50.0],
    "dtype": ["float32", "float64"],
    "return_sequences": [False, True],
}
INVALID = {
    "cell": ["RNN", "transformer", None, 3],
    "hidden_layer_sizes": [(), (0,), (-1,), (3, 0), 0, 2.5, "8", (2.5,), None, [[2]]],
    "activation": ["softmax", None, 1],
    "solver": ["lbfgs", None],
    "alpha": [-1.0, np.nan, "x"],
    "batch_size": [0, -3, 2.5, "all", None],
    "learning_rate_init": [0.0, -1.0, np.nan, np.inf, "fast"],
    "max_iter": [0, -1, 1.5, None],
    "momentum": [-0.1, 1.5],
    "validation_fraction": [0.0, 1.0, 2.0],
    "beta_1": [1.0, -0.5],
    "beta_2": [1.0, 2.0],
    "epsilon": [0.0, -1e-8],
    "n_iter_no_change": [0, -2],
    "clip_grad_norm": [0.0, -1.0, "x"],
    "forget_bias": ["one", None],
    "dtype": ["float16", "int32", np.float32, None],
    "tol": [-1.0],
    "shuffle": ["yes"],
}


def make_params(r):
    params = {name: r.choice(values) for name, values in VALID.items()
              if r.random() < 0.6}
    params.setdefault("max_iter", r.choice([1, 2, 3]))
    if r.random() < 0.25:
        for name in r.sample(sorted(INVALID), r.choice([1, 2])):
            params[name] = r.choice(INVALID[name])
    return params


# ----------------------------------------------------------------- checks
def _finite(name, a):
    a = np.asarray(a)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        raise Finding("nonfinite", f"{name} holds NaN/inf")


def _n_samples(X):
    return len(X) if isinstance(X, list) else (np.shape(X) or (0,))[0]


def _check_prediction(est, X, out, method):
    n = _n_samples(X)
    out_shape = np.shape(out)
    if not out_shape or out_shape[0] != n:
        raise Finding("bad_shape", f"{method} returned shape {out_shape} for {n} samples")
    if est.return_sequences and len(out_shape) >= 2:
        T = np.shape(X[0])[0] if isinstance(X, list) else np.shape(X)[1]
        if out_shape[1] != T:
            raise Finding("bad_shape", f"{method} returned {out_shape}, X has {T} steps")
    if method in ("predict_proba", "predict_log_proba"):
        if out_shape[-1] != len(est.classes_):
            raise Finding("bad_shape", f"{method} has {out_shape[-1]} columns for "
                                       f"{len(est.classes_)} classes")
        _finite(method, out)
        if method == "predict_proba" and not np.allclose(np.sum(out, axis=-1), 1):
            raise Finding("bad_shape", "probabilities do not sum to 1")
    elif method == "predict" and isinstance(est, RNNRegressor):
        _finite(method, out)


def _finite_input(X):
    try:
        a = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        return False
    return bool(np.all(np.isfinite(a)))


def _relu_overflow(est, X):
    """Unbounded relu on huge input may honestly overflow: reported apart."""
    try:
        big = np.max(np.abs(np.asarray(X, dtype=float))) > 1e15
    except (TypeError, ValueError):
        big = False
    return est.get_params().get("activation") == "relu" and big


# ------------------------------------------------------------- the cases
def _call(log, what, fn, *args, **kwargs):
    """Run one call: its result, or None after an accepted ValueError/TypeError."""
    try:
        result = fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        if not str(exc).strip():
            raise Finding("wrong_exception", f"{what}: {type(exc).__name__} without message")
        log.append(f"{what}: {type(exc).__name__}: {str(exc)[:160]}")
        return None
    except Finding:
        raise
    except Exception as exc:  # the contract allows nothing else
        raise Finding("wrong_exception",
                      f"{what}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    log.append(f"{what}: ok")
    return result


def estimator_case(r, rs, tmpdir, log):
    est_cls = r.choice([RNNRegressor, RNNClassifier])
    params = make_params(r)
    return_sequences = params.get("return_sequences") is True
    n = r.choices([r.randint(1, 12), 0, 1, r.randint(13, 60)], weights=[80, 4, 8, 8])[0]
    T = r.choices([r.randint(1, 10), 0, 1, r.randint(11, 200)], weights=[80, 4, 8, 8])[0]
    I = r.choices([r.randint(1, 4), 0], weights=[95, 5])[0]
    X, kind = make_X(r, rs, n, T, I, tmpdir)
    y = make_y(r, rs, est_cls, n, T, return_sequences)
    log.append(f"{est_cls.__name__}({params}) X={type(X).__name__}"
               f"{np.shape(X) if not isinstance(X, list) else len(X)} {kind}"
               f" y={np.shape(y)}")
    est = _call(log, "construct", est_cls, **params)
    if est is None:
        return
    ops_seq = r.choices(["fit", "partial_fit", "predict", "proba", "score", "set_params",
                         "pickle", "clone", "warm", "predict_other"],
                        weights=[30, 15, 20, 6, 6, 6, 6, 3, 4, 6], k=r.randint(1, 5))
    if r.random() < 0.7:
        ops_seq.insert(0, "fit")
    for op in ops_seq:
        fitted = hasattr(est, "coefs_")
        if op == "fit":
            _call(log, "fit", est.fit, X, y)
        elif op == "partial_fit":
            kw = {}
            if est_cls is RNNClassifier and r.random() < 0.8:
                kw["classes"] = np.unique(np.asarray(y).ravel()) if np.size(y) else [0, 1]
            _call(log, "partial_fit", est.partial_fit, X, y, **kw)
        elif op in ("predict", "predict_other"):
            Xp = X
            if op == "predict_other":
                n2, T2 = r.randint(1, 8), r.randint(1, 12)
                I2 = I if r.random() < 0.7 else r.randint(1, 4)
                Xp, _ = make_X(r, rs, n2, T2, I2, tmpdir)
            out = _call(log, "predict", est.predict, Xp)
            if out is not None:
                if fitted and (_finite_input(Xp) and not _relu_overflow(est, Xp)):
                    _check_prediction(est, Xp, out, "predict")
        elif op == "proba" and est_cls is RNNClassifier:
            method = r.choice(["predict_proba", "predict_log_proba"])
            out = _call(log, method, getattr(est, method), X)
            if out is not None and fitted:
                _check_prediction(est, X, out, method)
        elif op == "score":
            one = est_cls is RNNRegressor and _n_samples(X) < 2
            with warnings.catch_warnings():
                if one:  # scikit-learn: R^2 of one sample is NaN, with a warning
                    warnings.filterwarnings("ignore", message=r"R\^2 score is not well")
                s = _call(log, "score", est.score, X, y)
            if s is not None and not np.isfinite(s) and not one:
                raise Finding("nonfinite", f"score returned {s}")
        elif op == "set_params":
            name = r.choice(sorted(VALID))
            pool = INVALID.get(name, []) if r.random() < 0.2 else VALID[name]
            if pool:
                _call(log, "set_params", est.set_params, **{name: r.choice(pool)})
        elif op == "pickle":
            est = pickle.loads(pickle.dumps(est))
            log.append("pickle: ok")
        elif op == "clone":
            est = clone(est)
            log.append("clone: ok")
        elif op == "warm":
            _call(log, "set_params", est.set_params, warm_start=True)
            _call(log, "fit", est.fit, X, y)
        if hasattr(est, "coefs_"):
            for d in est.coefs_:
                for name, v in d.items():
                    _finite(f"coefs_ {name}", v)


OPS = {"rnn": (ops.rnn_forward, ops.rnn_backward, 1),
       "lstm": (ops.lstm_forward, ops.lstm_backward, 4),
       "gru": (ops.gru_forward, ops.gru_backward, 3)}


def ops_case(r, rs, tmpdir, log):
    cell = r.choice(sorted(OPS))
    forward, backward, G = OPS[cell]
    n = r.choices([r.randint(1, 6), 0], weights=[95, 5])[0]
    T = r.choices([r.randint(1, 8), 0, r.randint(9, 300)], weights=[85, 5, 10])[0]
    I = r.choices([r.randint(1, 4), 0], weights=[95, 5])[0]
    X, kind = make_X(r, rs, n, T, I, tmpdir)
    sizes = [r.randint(1, 5) for _ in range(r.choice([1, 1, 2, 3]))]
    dtype = r.choice([np.float32, np.float64])
    layers, n_in = [], I
    for H in sizes:
        layers.append({"W_ih": rs.normal(size=(G * H, n_in)).astype(dtype) * 0.5,
                       "W_hh": rs.normal(size=(G * H, H)).astype(dtype) * 0.5,
                       "b_ih": rs.normal(size=G * H).astype(dtype),
                       "b_hh": rs.normal(size=G * H).astype(dtype)})
        n_in = H
    mutation = r.choices(["none", "missing", "shape", "dtype", "notdict", "empty",
                          "single_dict", "nan_param", "fortran", "h0", "activation",
                          "int_layer"], weights=[50, 4, 6, 4, 3, 2, 3, 4, 6, 8, 4, 2])[0]
    kwargs = {}
    if mutation == "missing":
        del layers[r.randrange(len(layers))]["b_hh"]
    elif mutation == "shape":
        k = r.randrange(len(layers))
        name = r.choice(["W_ih", "W_hh", "b_ih", "b_hh"])
        layers[k][name] = rs.normal(size=tuple(np.array(layers[k][name].shape) + 1))
    elif mutation == "dtype":
        layers[0]["W_hh"] = layers[0]["W_hh"].astype(r.choice([str, object, complex]))
    elif mutation == "notdict":
        layers = [list(layers[0].values())]
    elif mutation == "empty":
        layers = []
    elif mutation == "single_dict":
        layers = layers[0]
        sizes = sizes[:1]
    elif mutation == "nan_param":
        layers[0]["W_ih"] = layers[0]["W_ih"].copy()
        if layers[0]["W_ih"].size:
            layers[0]["W_ih"].flat[0] = np.nan
    elif mutation == "fortran":
        layers = [{k: np.asfortranarray(v) for k, v in p.items()} for p in layers]
    elif mutation == "h0":
        n_h = n if r.random() < 0.6 else n + 1
        kwargs["h0"] = [rs.normal(size=(n_h, H)) for H in sizes]
        if cell == "lstm" and r.random() < 0.5:
            kwargs["c0"] = [rs.normal(size=(n, H)) for H in sizes][:r.choice([0, len(sizes)])]
    elif mutation == "activation" and cell == "rnn":
        kwargs["activation"] = r.choice(["relu", "sigmoid", "softplus", None])
    elif mutation == "int_layer":
        layers = [3]
    log.append(f"ops {cell} X={type(X).__name__}{np.shape(X) if not isinstance(X, list) else ''}"
               f" {kind} sizes={sizes} {mutation} {sorted(kwargs)}")
    result = _call(log, f"{cell}_forward", forward, X, layers, **kwargs)
    if result is None:
        return
    output, cache = result[0], result[-1]
    shape = np.shape(X)
    if output.shape != (shape[0], shape[1], sizes[-1]):
        raise Finding("bad_shape", f"forward output {output.shape} for X {shape}")
    nan_param = mutation == "nan_param"
    relu_big = kwargs.get("activation") == "relu" and kind == "huge"
    if not nan_param and not relu_big:
        _finite("forward output", output)
    d_shape = output.shape if r.random() < 0.85 else (output.shape[0], output.shape[1] + 1, 1)
    grads = _call(log, f"{cell}_backward", backward, cache, rs.normal(size=d_shape))
    if grads is None:
        return
    if grads[0].shape != shape:
        raise Finding("bad_shape", f"dX {grads[0].shape} for X {shape}")
    if not nan_param and not relu_big and kind != "huge":
        _finite("dX", grads[0])
        for d in grads[1]:
            for name, v in d.items():
                _finite(f"d{name}", v)


def run_case(seed, verbose=False):
    """Run case ``seed`` in this process; return (outcome, detail)."""
    r = random.Random(seed)
    rs = np.random.RandomState(seed % (2**32))
    log = []
    with tempfile.TemporaryDirectory() as tmpdir, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if r.random() < 0.75:
                estimator_case(r, rs, tmpdir, log)
            else:
                ops_case(r, rs, tmpdir, log)
        except Finding as f:
            outcome, detail = f.outcome, str(f)
        else:
            outcome, detail = "ok", ""
    leaked = [f"{w.category.__name__}: {w.message}" for w in caught
              if not str(w.message).startswith(EXPECTED_WARNINGS)]
    if outcome == "ok" and leaked:
        outcome, detail = "leaked_warning", "; ".join(leaked[:3])
    if verbose:
        print("\n".join(log))
    return outcome, (detail + "\n" + "\n".join(log))[-3000:]


# ------------------------------------------------------------ the parent
def _child(seed, write_fd):
    # Whatever happens, this process never returns into the parent's loop.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            outcome, detail = run_case(seed)
            payload = json.dumps({"outcome": outcome, "detail": detail}).encode()
        except BaseException as exc:  # a harness error still reports
            payload = json.dumps({"outcome": "harness_error",
                                  "detail": f"{type(exc).__name__}: {exc}\n"
                                            f"{traceback.format_exc()}"}).encode()
        view = memoryview(payload)
        while view:
            view = view[os.write(write_fd, view):]
    finally:
        os._exit(0)


def fuzz(n_cases, first_seed=0, jobs=1, timeout=60.0, progress=True):
    """Run ``n_cases`` cases in forked children; return counts and examples."""
    counts = {k: 0 for k in OUTCOMES}
    examples = {}
    running = {}  # read fd -> [pid, seed, start, chunks]
    seeds = iter(range(first_seed, first_seed + n_cases))
    done = 0
    exhausted = False
    t0 = time.time()

    def finish(fd, outcome=None, detail=""):
        nonlocal done
        pid, seed, _, chunks = running.pop(fd)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        if outcome is None:
            if os.WIFSIGNALED(status):
                outcome = "crash"
                detail = f"killed by signal {os.WTERMSIG(status)}"
            else:
                try:
                    result = json.loads(b"".join(chunks))
                    outcome, detail = result["outcome"], result["detail"]
                except ValueError:
                    outcome, detail = "no_result", f"exit status {status}"
        counts[outcome] += 1
        if outcome != "ok":
            examples.setdefault(outcome, []).append({"seed": seed, "detail": detail})
        done += 1
        if progress and done % 500 == 0:
            print(f"{done} cases, {time.time() - t0:.0f} s: "
                  f"{ {k: v for k, v in counts.items() if v} }", file=sys.stderr, flush=True)

    while True:
        while not exhausted and len(running) < jobs:
            seed = next(seeds, None)
            if seed is None:
                exhausted = True
                break
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(seed, write_fd)
            os.close(write_fd)
            running[read_fd] = [pid, seed, time.monotonic(), []]
        if not running:
            break
        ready, _, _ = select.select(list(running), [], [], 0.5)
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                running[fd][3].append(chunk)
            else:
                finish(fd)
        now = time.monotonic()
        for fd, (pid, seed, start, _) in list(running.items()):
            if now - start > timeout:
                os.kill(pid, signal.SIGKILL)
                finish(fd, "hang", f"no result after {timeout} s")
    return {"cases": n_cases, "first_seed": first_seed, "seconds": round(time.time() - t0, 1),
            "counts": counts,
            "examples": {k: v[:5] for k, v in examples.items()}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0, help="first case seed")
    parser.add_argument("--jobs", type=int, default=1, help="children at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--replay", type=int, default=None,
                        help="run one case in this process and print its log")
    args = parser.parse_args(argv)
    if args.replay is not None:
        outcome, detail = run_case(args.replay, verbose=True)
        print(outcome, detail, sep="\n")
        return 0 if outcome == "ok" else 1
    report = fuzz(args.cases, args.seed, args.jobs, args.timeout)
    print(json.dumps(report, indent=1))
    bad = sum(v for k, v in report["counts"].items() if k != "ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
