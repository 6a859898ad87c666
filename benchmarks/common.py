"""Workloads, data and the implementations under test (SPEC section 8).

Shared by the asv suite (``benchmarks.py``) and ``compare.py``. Nothing here
runs on import and torch is imported lazily, so the crnn benchmarks never
load it (that would distort their peak memory) and the module imports in an
environment without torch. ONNX Runtime, the second inference peer, runs the
PyTorch model exported with ``torch.onnx.export`` (``OrtRunner``), so it
needs both torch and onnxruntime.

Every implementation trains the same model: a stack of recurrent layers
(``cell``, ``layers`` x ``H`` units), a linear readout of the top layer's
final hidden state to one output, minibatch Adam (lr 1e-3) on the loss
``0.5 * mean((pred - y) ** 2)`` (crnn's ``loss_``; PyTorch trains on the same
expression so the reported losses are comparable), samples visited in a
shuffled order each epoch. Differences that remain: crnn clips the global
gradient norm at 5.0 by default (fused into its Adam step), PyTorch does not
clip; the initial weights differ.
"""
import os
import time

import numpy as np

# id: N sequences, T steps, I features, H hidden units, minibatch, stacked layers
WORKLOADS = {
    "W1": {"N": 2048, "T": 50, "I": 8, "H": 32, "batch": 32, "layers": 1},
    "W2": {"N": 2048, "T": 100, "I": 32, "H": 128, "batch": 64, "layers": 1},
    "W3": {"N": 1024, "T": 100, "I": 128, "H": 512, "batch": 128, "layers": 1},
    "W4": {"N": 2048, "T": 100, "I": 32, "H": 128, "batch": 64, "layers": 3},
    "W5": {"N": 1024, "T": 400, "I": 32, "H": 128, "batch": 64, "layers": 1},
}
WORKLOAD_NAMES = {"W1": "small", "W2": "medium", "W3": "large", "W4": "deep", "W5": "long"}
CELLS = ("rnn", "lstm", "gru")
LIBRARIES = ("crnn", "torch")
N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}
# SPEC 8 targets: ratio crnn / PyTorch of a training epoch and of inference
TRAIN_TARGETS = {"W1": 0.20, "W2": 0.60, "W3": 0.80, "W4": 0.60, "W5": 0.20}
INFER_TARGETS = {"W1": 0.20, "W2": 0.60, "W3": 0.80, "W4": 0.60, "W5": 0.60}
# W1 lstm inference: PyTorch's fused oneDNN LSTM already runs within ~4x of
# the sgemm floor there (SPEC 8)
INFER_TARGET_EXCEPTIONS = {("W1", "lstm"): 0.50}


def infer_target(workload, cell):
    return INFER_TARGET_EXCEPTIONS.get((workload, cell), INFER_TARGETS[workload])
LEARNING_RATE = 1e-3
SEED = 0


def make_data(workload, n_samples=None, seed=SEED):
    """Deterministic float32 data for a workload.

    X is standard normal, shape (N, T, I). The target is a smooth nonlinear
    function of the last three steps, ``y = tanh(z) + 0.25 z`` with
    ``z = sum_{k<3, f} c_kf X[:, T-3+k, f]`` (``c`` fixed, ``var(z) = 1``),
    so a recurrent model that learns drives the loss well below the
    constant predictor's ``0.5 var(y)``.

    ``n_samples`` overrides N (the first rows are the same as in the full
    data set).
    """
    w = WORKLOADS[workload]
    n = w["N"] if n_samples is None else int(n_samples)
    T, n_features = w["T"], w["I"]
    rng = np.random.default_rng(seed)
    coef = rng.standard_normal((3, n_features)) / np.sqrt(3 * n_features)
    X = rng.standard_normal((n, T, n_features), dtype=np.float32)
    z = np.einsum("ntf,tf->n", X[:, -3:, :].astype(np.float64), coef)
    y = (np.tanh(z) + 0.25 * z).astype(np.float32)
    return X, y


def forward_flops(workload, cell, n_samples=None):
    """GEMM flops of one forward pass over the data set.

    ``2 * T * N * (I_l + H) * G * H`` per layer (input and recurrent
    projections; G gates); the readout and elementwise work are not counted.
    """
    w = WORKLOADS[workload]
    n = w["N"] if n_samples is None else int(n_samples)
    G, H, T = N_GATES[cell], w["H"], w["T"]
    n_in, total = w["I"], 0
    for _ in range(w["layers"]):
        total += 2 * T * n * (n_in + H) * G * H
        n_in = H
    return total


def train_flops(workload, cell, n_samples=None):
    """GEMM flops of one training epoch: forward + backward (~2x forward)."""
    return 3 * forward_flops(workload, cell, n_samples)


# ---------------------------------------------------------------- threads
def blas_libraries():
    """threadpoolctl's records of the BLAS libraries loaded (after SciPy's BLAS)."""
    from threadpoolctl import threadpool_info

    import scipy.linalg  # noqa: F401  crnn's kernels call SciPy's BLAS: load it

    return [p for p in threadpool_info() if p.get("user_api") == "blas"]


def _is_scipy_blas(record):
    parts = os.path.normpath(record.get("filepath", "")).split(os.sep)
    return any(part.startswith("scipy") for part in parts[:-1])


def crnn_blas_threads():
    """Number of threads of the BLAS crnn calls (SciPy's), per threadpoolctl."""
    try:
        libs = blas_libraries()
    except ImportError:
        return os.cpu_count() or 1
    for lib in libs:
        if _is_scipy_blas(lib):
            return int(lib["num_threads"])
    return int(libs[0]["num_threads"]) if libs else (os.cpu_count() or 1)


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def ort_available():
    """Whether ONNX Runtime can run the PyTorch model (it needs both libraries)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return torch_available()


def ort_session(onnx_bytes, threads):
    """An ONNX Runtime CPU session of a serialized model, with ``threads`` intra-op
    threads and one inter-op thread (the peer's setting in compare.py, asv and
    onnxruntime_peer.py)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


# ----------------------------------------------------------- implementations
class CrnnRunner:
    """crnn.RNNRegressor; one epoch = ``partial_fit`` on an initialised model."""

    library = "crnn"

    def __init__(self, workload, cell, X, y, warm=True):
        from crnn import RNNRegressor

        w = WORKLOADS[workload]
        self.X, self.y = X, y
        self.model = RNNRegressor(cell=cell, hidden_layer_sizes=(w["H"],) * w["layers"],
                                  batch_size=w["batch"], learning_rate_init=LEARNING_RATE,
                                  dtype="float32", shuffle=True, random_state=SEED)
        if warm:
            self.train_epoch()

    def initialize(self):
        """Make the model ready to predict, cheaply (one minibatch step)."""
        if not hasattr(self.model, "coefs_"):
            batch = self.model.batch_size
            self.model.partial_fit(self.X[:batch], self.y[:batch])

    def train_epoch(self):
        """One epoch; returns its training loss (mean over the samples)."""
        self.model.partial_fit(self.X, self.y)
        return float(self.model.loss_)

    def predict(self):
        return self.model.predict(self.X)


class TorchRunner:
    """torch.nn.RNN/LSTM/GRU + Linear on the last step, Adam, the same loop."""

    library = "torch"

    def __init__(self, workload, cell, X, y, threads=None, warm=True, flush_denormal=False):
        import torch

        self.torch = torch
        # torch.set_flush_denormal sets the calling thread's FTZ/DAZ bits
        # (it does not reach PyTorch's worker threads); on only while this
        # runner computes, so the other contenders run in the default mode
        self.flush_denormal = flush_denormal
        w = WORKLOADS[workload]
        torch.set_num_threads(crnn_blas_threads() if threads is None else int(threads))
        torch.manual_seed(SEED)
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
        self.rnn = cls(w["I"], w["H"], num_layers=w["layers"], batch_first=True)
        self.head = torch.nn.Linear(w["H"], 1)
        self.optimizer = torch.optim.Adam(
            list(self.rnn.parameters()) + list(self.head.parameters()), lr=LEARNING_RATE)
        self.batch_size = w["batch"]
        self.X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        self.y = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32).reshape(-1, 1))
        self.rng = np.random.default_rng(SEED)
        if warm:
            self.train_epoch()

    def initialize(self):
        """Make the model ready to predict (it already is)."""

    def train_epoch(self):
        """One epoch; returns its training loss (mean over the samples)."""
        if self.flush_denormal:
            self.torch.set_flush_denormal(True)
        try:
            return self._train_epoch()
        finally:
            if self.flush_denormal:
                self.torch.set_flush_denormal(False)

    def _train_epoch(self):
        torch = self.torch
        n = self.X.shape[0]
        order = torch.from_numpy(self.rng.permutation(n))
        total = 0.0
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            xb = self.X.index_select(0, idx)
            yb = self.y.index_select(0, idx)
            out, _ = self.rnn(xb)
            pred = self.head(out[:, -1])
            loss = 0.5 * torch.nn.functional.mse_loss(pred, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.item()) * idx.shape[0]
        return total / n

    def predict(self):
        if self.flush_denormal:
            self.torch.set_flush_denormal(True)
        try:
            with self.torch.inference_mode():
                out, _ = self.rnn(self.X)
                return self.head(out[:, -1]).numpy()
        finally:
            if self.flush_denormal:
                self.torch.set_flush_denormal(False)


class OrtRunner:
    """ONNX Runtime (CPU) running a TorchRunner's model, inference only.

    The model (``torch.nn.RNN/LSTM/GRU`` + ``Linear`` of the last step) is
    exported with ``torch.onnx.export``: the TorchScript exporter
    (``dynamo=False``), since the default one needs onnxscript, which is not
    in the benchmark environment. The exporter emits ONNX's RNN/LSTM/GRU
    operators. The batch dimension is fixed at the data's N (the exporter
    warns that a dynamic batch with the LSTM's implicit initial state can
    fail at another batch size); ONNX Runtime gets the same intra-op threads
    as crnn and one inter-op thread.
    """

    library = "onnxruntime"

    def __init__(self, torch_runner, threads=None):
        import io
        import warnings

        torch = torch_runner.torch

        class LastStep(torch.nn.Module):
            def __init__(self, rnn, head):
                super().__init__()
                self.rnn, self.head = rnn, head

            def forward(self, x):
                out, _ = self.rnn(x)
                return self.head(out[:, -1])

        model = LastStep(torch_runner.rnn, torch_runner.head)
        was_training = model.training
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model.eval(), (torch_runner.X,), buffer, dynamo=False,
                              input_names=["X"], output_names=["y"])
        model.train(was_training)  # the modules are the TorchRunner's, which goes on training
        self.session = ort_session(buffer.getvalue(),
                                   crnn_blas_threads() if threads is None else int(threads))
        self.X = np.ascontiguousarray(torch_runner.X.numpy(), dtype=np.float32)

    def initialize(self):
        """Make the model ready to predict (it already is)."""

    def predict(self):
        return self.session.run(None, {"X": self.X})[0]


class ReferenceRunner:
    """crnn.reference.train_epoch (pure NumPy), from the given crnn model's weights."""

    library = "numpy-reference"

    def __init__(self, workload, cell, X, y, coefs):
        self.cell, self.X, self.y = cell, X, y
        self.batch_size = WORKLOADS[workload]["batch"]
        self.layers = [{k: np.array(v) for k, v in d.items()} for d in coefs[:-1]]
        self.readout = {k: np.array(v) for k, v in coefs[-1].items()}
        self.rng = np.random.default_rng(SEED)
        self.adam_state = None

    def train_epoch(self):
        from crnn import reference

        loss, self.adam_state = reference.train_epoch(
            self.cell, self.X, self.y, self.layers, self.readout,
            batch_size=self.batch_size, learning_rate=LEARNING_RATE, rng=self.rng,
            adam_state=self.adam_state)
        return loss


def make_runner(library, workload, cell, X, y, warm=True, threads=None):
    """A runner for ``library`` in {"crnn", "torch", "onnxruntime"}: torch must be
    importable for the last two, onnxruntime too for the last (inference only)."""
    if library == "crnn":
        return CrnnRunner(workload, cell, X, y, warm=warm)
    if library == "torch":
        return TorchRunner(workload, cell, X, y, threads=threads, warm=warm)
    if library == "onnxruntime":
        return OrtRunner(TorchRunner(workload, cell, X, y, threads=threads, warm=warm),
                         threads=threads)
    raise ValueError(f"unknown library {library!r}")


# Idle time before each timed call. Both libraries leave worker threads
# spinning for a while after a parallel region (OpenBLAS's thread server,
# PyTorch's OpenMP pool); on 2 cores the next contender would otherwise run
# against them. Measured on W3 lstm inference: 2.2-2.8 s right after a
# PyTorch step, 1.8 s alone.
SETTLE_SECONDS = 0.3
# Busy time after the settle. A core left idle for the settle comes back
# slowly (power state, frequency): W1 gru inference took 15.8 ms right
# after a 0.3 s sleep, 10.4 ms after the sleep and a 50 ms spin, 9.2 ms in a
# hot loop. The spin runs no library code, so both contenders get the same
# start.
WAKE_SECONDS = 0.05


def timed(fn):
    """(seconds, result) of one call, after letting the other library's threads idle."""
    time.sleep(SETTLE_SECONDS)
    start = time.perf_counter()
    while time.perf_counter() - start < WAKE_SECONDS:
        pass
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result
