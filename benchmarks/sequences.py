"""Benchmarks of real-sequence workloads: variable lengths and bidirectional layers.

    python benchmarks/sequences.py [--cells rnn,lstm,gru] [--repeats 3] [--quick]
                                   [--no-torch] [--workloads RAGGED,W2-bi]

Workloads (float32, Adam, one output, readout of the final state):

- ``RAGGED``: N = 2048 sequences with lengths uniform in [10, 200] (seeded),
  I = 32, H = 128, batch 64, one layer. Contenders: crnn on the ragged list
  (only valid steps are computed), crnn on the same data zero-padded to 200
  steps and read as full-length sequences (what a user without length
  support runs), and PyTorch on ``pack_padded_sequence(enforce_sorted=False)``.
  Goals (issue "Real sequence data"): ragged/padded close to the share of
  valid steps (about 0.52), ragged/PyTorch-packed <= 0.4.
- ``W2-bi``: SPEC 8's W2 (N = 2048, T = 100, I = 32, H = 128, batch 64) with
  ``bidirectional=True`` against ``torch.nn.*(bidirectional=True)``, whose
  readout takes the forward state at the last step and the reverse state at
  step 0 (h_n), as crnn's does. Goal: SPEC 8's W2 targets (<= 0.60).

Each contender's epoch and inference are timed alternately after a settle
(``common.timed``), medians of the repeats. The asv suite runs the same
runners (``benchmarks.py``: ``SequenceEpoch``, ``SequencePredict``).
"""
import argparse
import statistics
import warnings

import numpy as np

if __package__:
    from . import common
else:  # run as a script: benchmarks/ is sys.path[0]
    import common

SEQUENCE_WORKLOADS = {
    "RAGGED": {"N": 2048, "lengths": (10, 200), "T": 200, "I": 32, "H": 128, "batch": 64,
               "bidirectional": False},
    "W2-bi": {"N": 2048, "lengths": None, "T": 100, "I": 32, "H": 128, "batch": 64,
              "bidirectional": True},
}
CONTENDERS = {"RAGGED": ("crnn-ragged", "crnn-padded", "torch-packed"),
              "W2-bi": ("crnn", "torch")}


def make_sequences(workload, n_samples=None, seed=common.SEED):
    """(X padded (N, T, I) float32, lengths (N,) or None, y (N,)) of a workload."""
    w = SEQUENCE_WORKLOADS[workload]
    n = w["N"] if n_samples is None else int(n_samples)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, w["T"], w["I"]), dtype=np.float32)
    lengths = None
    if w["lengths"] is not None:
        lo, hi = w["lengths"]
        lengths = rng.integers(lo, hi + 1, n)
        X[np.arange(w["T"])[np.newaxis, :] >= lengths[:, np.newaxis]] = 0
    coef = rng.standard_normal((3, w["I"])) / np.sqrt(3 * w["I"])
    last = (np.full(n, w["T"]) if lengths is None else lengths)[:, np.newaxis] - 3 + np.arange(3)
    z = np.einsum("nkf,kf->n", X[np.arange(n)[:, np.newaxis], last].astype(np.float64), coef)
    return X, lengths, (np.tanh(z) + 0.25 * z).astype(np.float32)


def valid_fraction(lengths, n_steps):
    return float(np.sum(lengths)) / (len(lengths) * n_steps)


class CrnnSequenceRunner:
    """crnn.RNNRegressor on the ragged list, the padded array or full-length data."""

    def __init__(self, workload, cell, X, lengths, y, ragged=True, warm=True):
        from crnn import RNNRegressor

        w = SEQUENCE_WORKLOADS[workload]
        self.X = [x[:n] for x, n in zip(X, lengths)] if (ragged and lengths is not None) \
            else X
        self.y = y
        self.model = RNNRegressor(cell=cell, hidden_layer_sizes=(w["H"],),
                                  batch_size=w["batch"], learning_rate_init=common.LEARNING_RATE,
                                  bidirectional=w["bidirectional"], random_state=common.SEED)
        if warm:
            self.train_epoch()

    def initialize(self):
        if not hasattr(self.model, "coefs_"):
            b = self.model.batch_size
            self.model.partial_fit(self.X[:b], self.y[:b])

    def train_epoch(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.model.partial_fit(self.X, self.y)
        return float(self.model.loss_)

    def predict(self):
        return self.model.predict(self.X)


class TorchSequenceRunner:
    """torch.nn.RNN/LSTM/GRU (packed when lengths are given, bidirectional when
    the workload is) + Linear on h_n, Adam, the same loop as common.TorchRunner."""

    def __init__(self, workload, cell, X, lengths, y, threads=None, warm=True):
        import torch

        self.torch = torch
        w = SEQUENCE_WORKLOADS[workload]
        torch.set_num_threads(common.crnn_blas_threads() if threads is None else int(threads))
        torch.manual_seed(common.SEED)
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.cell = cell
        self.n_dir = 2 if w["bidirectional"] else 1
        self.rnn = cls(w["I"], w["H"], batch_first=True, bidirectional=w["bidirectional"])
        self.head = torch.nn.Linear(self.n_dir * w["H"], 1)
        self.optimizer = torch.optim.Adam(
            list(self.rnn.parameters()) + list(self.head.parameters()), lr=common.LEARNING_RATE)
        self.batch_size = w["batch"]
        self.X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        self.lengths = None if lengths is None else torch.from_numpy(np.asarray(lengths))
        self.y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32).reshape(-1, 1))
        self.rng = np.random.default_rng(common.SEED)
        if warm:
            self.train_epoch()

    def initialize(self):
        pass

    def _final(self, xb, lengths):
        torch = self.torch
        if lengths is not None:
            xb = torch.nn.utils.rnn.pack_padded_sequence(xb, lengths, batch_first=True,
                                                         enforce_sorted=False)
        _, h_n = self.rnn(xb)
        if self.cell == "lstm":
            h_n = h_n[0]
        return torch.cat([h_n[-self.n_dir + d] for d in range(self.n_dir)], dim=1)

    def train_epoch(self):
        torch = self.torch
        n = self.X.shape[0]
        order = torch.from_numpy(self.rng.permutation(n))
        total = 0.0
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            lengths = None if self.lengths is None else self.lengths.index_select(0, idx)
            pred = self.head(self._final(self.X.index_select(0, idx), lengths))
            loss = 0.5 * torch.nn.functional.mse_loss(pred, self.y.index_select(0, idx))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.item()) * idx.shape[0]
        return total / n

    def predict(self):
        with self.torch.inference_mode():
            return self.head(self._final(self.X, self.lengths)).numpy()


def make_sequence_runner(contender, workload, cell, X, lengths, y, warm=True, threads=None):
    if contender in ("crnn", "crnn-ragged"):
        return CrnnSequenceRunner(workload, cell, X, lengths, y, ragged=True, warm=warm)
    if contender == "crnn-padded":
        return CrnnSequenceRunner(workload, cell, X, lengths, y, ragged=False, warm=warm)
    if contender in ("torch", "torch-packed"):
        return TorchSequenceRunner(workload, cell, X, lengths, y, threads=threads, warm=warm)
    raise ValueError(f"unknown contender {contender!r}")


def measure(workload, cell, contenders, n_samples, repeats):
    X, lengths, y = make_sequences(workload, n_samples)
    runners = {c: make_sequence_runner(c, workload, cell, X, lengths, y) for c in contenders}
    for r in runners.values():
        r.predict()
    times = {(c, kind): [] for c in contenders for kind in ("epoch", "infer")}
    for _ in range(repeats):
        for kind in ("epoch", "infer"):
            for c, r in runners.items():
                seconds, _ = common.timed(r.train_epoch if kind == "epoch" else r.predict)
                times[c, kind].append(seconds)
    return {key: statistics.median(v) for key, v in times.items()}, lengths


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default=",".join(SEQUENCE_WORKLOADS))
    p.add_argument("--cells", default=",".join(common.CELLS))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="smoke run: 128 sequences, 1 repeat")
    p.add_argument("--no-torch", action="store_true")
    args = p.parse_args(argv)
    with_torch = common.torch_available() and not args.no_torch
    n_samples = 128 if args.quick else None
    repeats = 1 if args.quick else args.repeats
    print(f"median of {repeats} alternating repeat(s); seconds per epoch / per predict "
          "of all N sequences; ratios lower is better")
    for workload in args.workloads.split(","):
        contenders = [c for c in CONTENDERS[workload] if with_torch or "torch" not in c]
        for cell in args.cells.split(","):
            t, lengths = measure(workload, cell, contenders, n_samples, repeats)
            cols = "  ".join(f"{c} {t[c, 'epoch']:.4f}/{t[c, 'infer']:.4f}"
                             for c in contenders)
            line = f"{workload:>6} {cell:>5}  {cols}"
            if workload == "RAGGED":
                frac = valid_fraction(lengths, SEQUENCE_WORKLOADS[workload]["T"])
                line += (f"  ragged/padded {t['crnn-ragged', 'epoch'] / t['crnn-padded', 'epoch']:.2f}"
                         f"/{t['crnn-ragged', 'infer'] / t['crnn-padded', 'infer']:.2f}"
                         f" (valid share {frac:.2f})")
                if with_torch:
                    line += (f"  ragged/torch-packed "
                             f"{t['crnn-ragged', 'epoch'] / t['torch-packed', 'epoch']:.2f}/"
                             f"{t['crnn-ragged', 'infer'] / t['torch-packed', 'infer']:.2f}")
            elif with_torch:
                line += (f"  crnn/torch {t['crnn', 'epoch'] / t['torch', 'epoch']:.2f}/"
                         f"{t['crnn', 'infer'] / t['torch', 'infer']:.2f}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
