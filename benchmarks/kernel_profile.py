"""Where the time of one thread's share of a workload goes: GEMMs or row passes.

Runs the compiled LSTM, GRU and vanilla kernels single-threaded on the
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

from crnn import _blas, _gru_cell, _lstm_cell, _rnn_cell

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
    skip = np.empty((0, 0, 0), F32)
    if cell == "gru":
        W_ih = (0.1 * rng.standard_normal((G, I))).astype(F32)
        W_hh = (0.1 * rng.standard_normal((G, H))).astype(F32)
        b = np.zeros(G, F32)
        h, gx, hh = np.zeros((B, H), F32), np.zeros((B, G), F32), np.zeros((B, G), F32)
        kernel = best_of(lambda: _gru_cell.infer(W_ih, W_hh, b, b, X, h, gx, hh, skip))
        X_t = np.ascontiguousarray(X[:, 0])

        def gemms():
            for _ in range(T):
                _blas.gemm_memview(False, True, 1.0, X_t, W_ih, 0.0, gx)
                _blas.gemm_memview(False, True, 1.0, h, W_hh, 0.0, hh)
        return kernel, best_of(gemms), 2 * T * B * (I + H) * G
    W_cat = (0.1 * rng.standard_normal((G, I + H))).astype(F32)
    bias = np.zeros(G, F32)
    xh, out = np.zeros((B, I + H), F32), np.zeros((B, G), F32)
    if cell == "lstm":
        c = np.zeros((B, H), F32)
        kernel = best_of(lambda: _lstm_cell.infer(W_cat, bias, X, xh, c, out, skip))
    else:
        kernel = best_of(lambda: _rnn_cell.infer(W_cat, bias, X, xh, out, skip, 0))

    def gemms():
        for _ in range(T):
            _blas.gemm_memview(False, True, 1.0, xh, W_cat, 0.0, out)
    return kernel, best_of(gemms), 2 * T * B * (I + H) * G


def lstm_train_profile(T, B, I, H):
    """LSTM forward and backward kernels against their GEMMs alone."""
    rng = np.random.default_rng(0)
    G = 4 * H
    W_ih = (0.1 * rng.standard_normal((G, I))).astype(F32)
    W_hh = (0.1 * rng.standard_normal((G, H))).astype(F32)
    b = np.zeros(G, F32)
    X = rng.standard_normal((T, B, I)).astype(F32)
    H_all, C_all = np.zeros((T + 1, B, H), F32), np.zeros((T + 1, B, H), F32)
    gates, tanh_c = np.zeros((T, B, G), F32), np.zeros((T, B, H), F32)
    dH = (0.01 * rng.standard_normal((T, B, H))).astype(F32)
    dh_n, dc_n = np.zeros((B, H), F32), np.zeros((B, H), F32)
    delta = np.zeros((T, B, G), F32)
    dW_ih, dW_hh = np.zeros_like(W_ih), np.zeros_like(W_hh)
    db_ih, db_hh = np.zeros(G, F32), np.zeros(G, F32)
    no_dX = np.empty((0, 0, 0), F32)
    dh0, dc0 = np.zeros((B, H), F32), np.zeros((B, H), F32)
    fwd = best_of(lambda: _lstm_cell.forward(W_ih, W_hh, b, b, X, H_all, C_all, gates, tanh_c))
    bwd = best_of(lambda: _lstm_cell.backward(W_ih, W_hh, X, H_all, C_all, gates, tanh_c, dH,
                                              dh_n, dc_n, delta, dW_ih, dW_hh, db_ih, db_hh,
                                              no_dX, dh0, dc0))
    X2, g2, d2 = X.reshape(T * B, I), gates.reshape(T * B, G), delta.reshape(T * B, G)

    def fwd_gemms():
        _blas.gemm_memview(False, True, 1.0, X2, W_ih, 0.0, g2)
        for t in range(T):
            _blas.gemm_memview(False, True, 1.0, H_all[t], W_hh, 1.0, gates[t])

    def bwd_gemms():
        for t in range(T):
            _blas.gemm_memview(False, False, 1.0, delta[t], W_hh, 0.0, dh0)
        _blas.gemm_memview(True, False, 1.0, d2, H_all[:T].reshape(T * B, H), 0.0, dW_hh)
        _blas.gemm_memview(True, False, 1.0, d2, X2, 0.0, dW_ih)
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
