"""Where the time of one thread's share of a workload goes: GEMMs or row passes.

Runs the timestep driver (through ``crnn._layers``) single-threaded on the
shapes one thread sees in crnn's data-parallel split (half a minibatch for
training, one 512-sequence predict chunk for inference) and times, best of
several calls,

- the whole kernel call, and
- the same GEMM calls issued alone through ``crnn._blas`` (same shapes and
  layouts, no elementwise work),

so that ``kernel - GEMMs`` is the cost of the elementwise row passes (plus
whatever the GEMMs lose inside the kernel to colder caches). Also prints the
single-thread GEMM rate of each shape against a large square sgemm, the
ceiling one core reaches. This is the evidence behind the limits in
benchmarks/NOTES.md.

Usage::

    python benchmarks/kernel_profile.py [--workloads W1,W2,W3]

Run it on a quiet machine; it uses one core.
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from crnn import _blas, _layers

if __package__:  # imported as part of the asv suite's package
    from .common import WORKLOADS
else:  # run as a script: benchmarks/ is sys.path[0]
    from common import WORKLOADS

PREDICT_CHUNK = 512
F32 = np.float32


def best_of(fn, repeats=5):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def gemm_rate(m, n, k, trans_a=False, trans_b=True):
    """Single-thread GFLOP/s of one row-major GEMM shape, repeated."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((k, m) if trans_a else (m, k)).astype(F32)
    B = rng.standard_normal((n, k) if trans_b else (k, n)).astype(F32)
    C = np.zeros((m, n), F32)
    reps = max(3, int(2e8 / (2 * m * n * k)))

    def run():
        for _ in range(reps):
            _blas.gemm_memview(trans_a, trans_b, 1.0, A, B, 1.0, C)
    return 2 * m * n * k * reps / best_of(run) / 1e9


def infer_profile(cell, T, B, I, H):
    """(kernel s, GEMMs-alone s) of one inference chunk, batch-first X."""
    rng = np.random.default_rng(0)
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell] * H
    X = rng.standard_normal((B, T, I)).astype(F32)
    layer = {"W_ih": (0.1 * rng.standard_normal((G, I))).astype(F32),
             "W_hh": (0.1 * rng.standard_normal((G, H))).astype(F32),
             "b_ih": np.zeros(G, F32), "b_hh": np.zeros(G, F32)}
    ws = _layers.Workspace(F32)
    kernel = best_of(lambda: _layers.stack_infer(cell, [layer], X, ws, "tanh", False))
    xh, out, hh = np.zeros((B, I + H), F32), np.zeros((B, G), F32), np.zeros((B, G), F32)
    if cell == "gru":
        x_t, h = np.ascontiguousarray(X[:, 0]), np.zeros((B, H), F32)

        def gemms():
            for _ in range(T):
                _blas.gemm_memview(False, True, 1.0, x_t, layer["W_ih"], 0.0, out)
                _blas.gemm_memview(False, True, 1.0, h, layer["W_hh"], 0.0, hh)
        return kernel, best_of(gemms), 2 * T * B * (I + H) * G
    W_cat = np.ascontiguousarray(np.concatenate([layer["W_ih"], layer["W_hh"]], axis=1))

    def gemms():
        for _ in range(T):
            _blas.gemm_memview(False, True, 1.0, xh, W_cat, 0.0, out)
    return kernel, best_of(gemms), 2 * T * B * (I + H) * G


def lstm_train_profile(T, B, I, H):
    """LSTM forward and backward passes of the driver against their GEMMs alone."""
    rng = np.random.default_rng(0)
    G = 4 * H
    params = ((0.1 * rng.standard_normal((G, I))).astype(F32),
              (0.1 * rng.standard_normal((G, H))).astype(F32), np.zeros(G, F32),
              np.zeros(G, F32))
    W_ih, W_hh = params[0], params[1]
    grads = tuple(np.zeros_like(p) for p in params)
    packing = _layers.Packing.uniform_lengths(T, B)
    X = rng.standard_normal((T * B, I)).astype(F32)
    H_out = np.zeros((T * B, H), F32)
    dH = (0.01 * rng.standard_normal((T * B, H))).astype(F32)
    no_dX = np.empty((0, 0), F32)
    ws = _layers.Workspace(F32)
    cache = _layers.layer_forward("lstm", "tanh", params, X, packing, None, None, ws, 0, False,
                                  H_out, 0)
    fwd = best_of(lambda: _layers.layer_forward("lstm", "tanh", params, X, packing, None, None,
                                                ws, 0, False, H_out, 0))
    bwd = best_of(lambda: _layers.layer_backward("lstm", "tanh", params, grads, X, packing,
                                                 cache, dH, 0, None, None, no_dX, False, ws, 0,
                                                 False, None))
    gates, delta = np.zeros((T * B, G), F32), np.zeros((T * B, G), F32)
    H_prev, dh0 = np.zeros((T * B, H), F32), np.zeros((B, H), F32)

    def fwd_gemms():
        _blas.gemm_memview(False, True, 1.0, X, W_ih, 0.0, gates)
        for t in range(T):
            _blas.gemm_memview(False, True, 1.0, H_prev[t * B:(t + 1) * B], W_hh, 1.0,
                               gates[t * B:(t + 1) * B])

    def bwd_gemms():
        for t in range(T):
            _blas.gemm_memview(False, False, 1.0, delta[t * B:(t + 1) * B], W_hh, 0.0, dh0)
        _blas.gemm_memview(True, False, 1.0, delta, H_prev, 0.0, grads[1])
        _blas.gemm_memview(True, False, 1.0, delta, X, 0.0, grads[0])
    return fwd, best_of(fwd_gemms), bwd, best_of(bwd_gemms)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="W1,W2,W3")
    args = parser.parse_args()
    with threadpool_limits(1, user_api="blas"):
        peak = gemm_rate(1024, 1024, 1024)
        print(f"single-thread sgemm ceiling (1024^3): {peak:.0f} GFLOP/s\n")
        print("inference, one predict chunk of 512 sequences, one thread:")
        print(f"{'wl':>3} {'cell':>5} {'kernel ms':>10} {'GEMMs ms':>9} {'GEMM GF/s':>10} "
              f"{'rows ms':>8} {'ns/row':>7}")
        for wl in args.workloads.split(","):
            w = WORKLOADS[wl]
            T, I, H = w["T"], w["I"], w["H"]
            B = min(PREDICT_CHUNK, w["N"] // 2)
            for cell in ("rnn", "lstm", "gru"):
                kernel, gemms, flops = infer_profile(cell, T, B, I, H)
                print(f"{wl:>3} {cell:>5} {kernel * 1e3:10.2f} {gemms * 1e3:9.2f} "
                      f"{flops / gemms / 1e9:10.0f} {(kernel - gemms) * 1e3:8.2f} "
                      f"{(kernel - gemms) / (T * B) * 1e9:7.0f}")
        print("\nLSTM training, half a minibatch (one thread's part):")
        print(f"{'wl':>3} {'fwd ms':>8} {'fwd GEMMs':>10} {'bwd ms':>8} {'bwd GEMMs':>10} "
              f"{'GEMM GF/s':>10}")
        for wl in args.workloads.split(","):
            w = WORKLOADS[wl]
            T, I, H, B = w["T"], w["I"], w["H"], w["batch"] // 2
            fwd, fwd_g, bwd, bwd_g = lstm_train_profile(T, B, I, H)
            flops = 3 * 2 * T * B * (I + H) * 4 * H
            print(f"{wl:>3} {fwd * 1e3:8.2f} {fwd_g * 1e3:10.2f} {bwd * 1e3:8.2f} "
                  f"{bwd_g * 1e3:10.2f} {flops / (fwd_g + bwd_g) / 1e9:10.0f}")
            B4, H4 = B, 4 * H
            print(f"      per-step GEMMs: forward ({B4}x{H})@({H}x{H4}) "
                  f"{gemm_rate(B4, H4, H):.0f} GF/s, backward ({B4}x{H4})@({H4}x{H}) "
                  f"{gemm_rate(B4, H, H4, False, False):.0f} GF/s; dW_hh "
                  f"({H4}x{T * B})@({T * B}x{H}) {gemm_rate(H4, H, T * B, True, False):.0f} GF/s")


if __name__ == "__main__":
    main()
