"""asv benchmarks of SPEC section 8: workloads W1-W4 x cell x library.

Every benchmark is parametrised over ``[workload, cell, library]``; the
``torch`` variants raise NotImplementedError in setup when PyTorch is not
importable, which asv reports as skipped (n/a). Models and data are built in
setup (deterministic, float32); see ``common.py`` for the workloads and the
two implementations.

- ``TrainEpoch.time_train_epoch``: one training epoch of an initialised
  model (setup runs one warm epoch).
- ``Predict.time_predict``: inference over all N sequences; its third
  library, ``onnxruntime``, is ONNX Runtime running the PyTorch model
  exported with ``torch.onnx.export`` (SPEC 8's second inference peer;
  skipped unless both torch and onnxruntime are installed).
- ``PeakMem.peakmem_fit``: peak memory of a fresh fit of one epoch.
- ``FinalLoss.track_final_loss``: training loss after ``EPOCHS`` epochs
  from a fresh model, so that a speed-up that breaks learning shows.
- ``ConcurrentFits.time_two_epochs_in_threads``: two crnn fits at once in
  two threads, each with crnn's own threads (more busy threads than cores).
"""
import threading
import warnings

from .common import (CELLS, LIBRARIES, WORKLOADS, make_data, make_runner, ort_available,
                     torch_available)

EPOCHS = 3


class _Suite:
    params = [list(WORKLOADS), list(CELLS), list(LIBRARIES)]
    param_names = ["workload", "cell", "library"]
    # W3/W4 epochs take many seconds on 2 cores (and the setup trains one more)
    timeout = 3600.0

    def _data(self, workload, library):
        if library == "torch" and not torch_available():
            raise NotImplementedError("PyTorch is not installed")
        if library == "onnxruntime" and not ort_available():
            raise NotImplementedError("ONNX Runtime or PyTorch (whose export it runs) "
                                      "is not installed")
        self.X, self.y = make_data(workload)


class TrainEpoch(_Suite):
    number = 1
    repeat = 3
    warmup_time = 0.0  # setup already ran a warm epoch
    processes = 1      # each process re-runs the setup: `-a processes=2` to get more

    def setup(self, workload, cell, library):
        self._data(workload, library)
        self.runner = make_runner(library, workload, cell, self.X, self.y, warm=True)

    def time_train_epoch(self, workload, cell, library):
        self.runner.train_epoch()


class Predict(_Suite):
    params = [list(WORKLOADS), list(CELLS), list(LIBRARIES) + ["onnxruntime"]]
    repeat = (2, 5, 30.0)  # at least 2, at most 5 samples, stop adding after 30 s
    warmup_time = 0.0      # setup already predicted once (inputs and weights in cache)
    processes = 1

    def setup(self, workload, cell, library):
        self._data(workload, library)
        # an initialised model (crnn: one minibatch step), no need to train it
        self.runner = make_runner(library, workload, cell, self.X, self.y, warm=False)
        self.runner.initialize()
        self.runner.predict()

    def time_predict(self, workload, cell, library):
        self.runner.predict()


class PeakMem(_Suite):
    processes = 1

    def setup(self, workload, cell, library):
        self._data(workload, library)

    def peakmem_fit(self, workload, cell, library):
        # a fresh model trained for one epoch (for crnn: what fit(max_iter=1) does)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            make_runner(library, workload, cell, self.X, self.y, warm=True)


class FinalLoss(_Suite):
    unit = "0.5*MSE"
    processes = 1

    def setup(self, workload, cell, library):
        self._data(workload, library)

    def track_final_loss(self, workload, cell, library):
        runner = make_runner(library, workload, cell, self.X, self.y, warm=False)
        for _ in range(EPOCHS):
            loss = runner.train_epoch()
        return loss


class _SequenceSuite:
    """RAGGED and W2-bi (see sequences.py): crnn on the ragged list ("crnn"), on
    the data padded to full length ("crnn-padded", RAGGED only) and PyTorch
    (packed sequences for RAGGED, bidirectional for W2-bi)."""

    params = [["RAGGED", "W2-bi"], list(CELLS), ["crnn", "crnn-padded", "torch"]]
    param_names = ["workload", "cell", "contender"]
    timeout = 3600.0

    def _runner(self, workload, cell, contender, warm):
        from .sequences import make_sequence_runner, make_sequences

        if contender == "torch" and not torch_available():
            raise NotImplementedError("PyTorch is not installed")
        if contender == "crnn-padded" and workload != "RAGGED":
            raise NotImplementedError("only RAGGED has a padded variant")
        X, lengths, y = make_sequences(workload)
        name = {"torch": "torch-packed" if workload == "RAGGED" else "torch"}.get(
            contender, contender)
        return make_sequence_runner(name, workload, cell, X, lengths, y, warm=warm)


class SequenceEpoch(_SequenceSuite):
    number = 1
    repeat = 3
    warmup_time = 0.0
    processes = 1

    def setup(self, workload, cell, contender):
        self.runner = self._runner(workload, cell, contender, warm=True)

    def time_train_epoch(self, workload, cell, contender):
        self.runner.train_epoch()


class SequencePredict(_SequenceSuite):
    repeat = (2, 5, 30.0)
    warmup_time = 0.0
    processes = 1

    def setup(self, workload, cell, contender):
        self.runner = self._runner(workload, cell, contender, warm=False)
        self.runner.initialize()
        self.runner.predict()

    def time_predict(self, workload, cell, contender):
        self.runner.predict()


class _Scaling:
    """One training epoch at W2's sizes (N 512, T 100, I 32, H 128, batch 64)
    with one size varied (scaling.py), crnn and PyTorch: the times should
    grow linearly in N and T (roughly quadratically in H)."""

    axis = None
    param_names = ["cell", "size", "library"]
    number = 1
    repeat = 3
    warmup_time = 0.0
    processes = 1
    timeout = 1800.0

    def setup(self, cell, size, library):
        from .scaling import epoch_runner, sizes

        from .common import torch_available

        if library == "torch" and not torch_available():
            raise NotImplementedError("torch is not installed")
        self.epoch = epoch_runner(library, cell, sizes(self.axis, size))

    def time_train_epoch(self, cell, size, library):
        self.epoch()


class ScalingT(_Scaling):
    axis = "T"
    params = [["lstm", "gru"], [25, 50, 100, 200, 400, 800], list(LIBRARIES)]


class ScalingN(_Scaling):
    axis = "N"
    params = [["lstm", "gru"], [256, 512, 1024, 2048, 4096], list(LIBRARIES)]


class ScalingH(_Scaling):
    axis = "H"
    params = [["lstm", "gru"], [32, 64, 128, 256, 512], list(LIBRARIES)]


class ScalingRagged(_Scaling):
    """The ragged axis of scaling.py: lengths uniform in [10, L] at the base
    sizes, L varied; crnn on the ragged list, on the data padded to L, and
    PyTorch on packed sequences. The ragged epochs should grow with the valid
    steps, the padded ones with N x L."""

    params = [["lstm", "gru"], [50, 100, 200, 400, 800], ["crnn", "crnn-padded", "torch"]]
    param_names = ["cell", "longest", "contender"]

    def setup(self, cell, longest, contender):
        from .scaling import ragged_runner

        from .common import torch_available

        if contender == "torch" and not torch_available():
            raise NotImplementedError("torch is not installed")
        self.epoch, _ = ragged_runner(contender, cell, longest)


class RecurrentProduct:
    """The per-step recurrent product, 100 steps on one set of weights, one
    thread: crnn's packed micro-kernel (weights packed once) against a BLAS
    call per step (which repacks them each time). Shapes M x N x K: W1 lstm
    forward, W2 lstm forward and carry (per part), W3 lstm forward and
    carry, and a short K (W1 gru predict's input part, where the driver
    keeps BLAS)."""

    params = [["16x128x32", "32x512x128", "32x128x512", "64x2048x512", "64x512x2048",
               "256x96x8"], ["packed", "blas"]]
    param_names = ["MxNxK", "implementation"]
    STEPS = 100

    def setup(self, shape, implementation):
        import numpy as np
        from threadpoolctl import threadpool_limits

        m, n, k = map(int, shape.split("x"))
        rng = np.random.default_rng(0)
        self.A = rng.standard_normal((m, k)).astype(np.float32)
        self.W = rng.standard_normal((n, k)).astype(np.float32)
        self.C = np.zeros((m, n), np.float32)
        self.limits = threadpool_limits(limits=1, user_api="blas")

    def teardown(self, shape, implementation):
        self.limits.restore_original_limits()

    def time_products(self, shape, implementation):
        from crnn import _simd

        _simd._packed_matmul(self.A, self.W, True, self.C, True, repeats=self.STEPS,
                             blas=implementation == "blas")


class WeightGradient:
    """dW = delta^T H_prev over one part's 3200 rows of a W2/W4 LSTM (delta
    rows of 4H = 512 floats, H_prev of 128), one thread, through
    crnn_gemm_atb (``atb``) or BLAS: in backward's blocks of 256 rows (the
    first sets dW, the others add) or in one pass over all rows. Backward
    runs the blocked atb since the eighth session and ran the one-pass BLAS
    before (benchmarks/NOTES.md). Alone, all rows stay in L3 and the blocks
    gain little; inside an epoch, with the other core's part and every
    layer's caches competing, the one pass ran at 67 GF/s.
    """

    params = [["blocks of 256", "one pass"], ["atb", "blas"]]
    param_names = ["rows", "implementation"]
    ROWS, OUT, COLS, BLOCK = 3200, 512, 128, 256

    def setup(self, rows, implementation):
        import numpy as np
        from threadpoolctl import threadpool_limits

        rng = np.random.default_rng(0)
        self.delta = rng.standard_normal((self.ROWS, self.OUT)).astype(np.float32)
        self.H = rng.standard_normal((self.ROWS, self.COLS)).astype(np.float32)
        self.dW = np.zeros((self.OUT, self.COLS), np.float32)
        self.limits = threadpool_limits(limits=1, user_api="blas")

    def teardown(self, rows, implementation):
        self.limits.restore_original_limits()

    def time_weight_gradient(self, rows, implementation):
        from crnn import _simd

        min_cols = 0 if implementation == "atb" else 1 << 30
        block = self.BLOCK if rows == "blocks of 256" else self.ROWS
        for lo in range(0, self.ROWS, block):
            _simd._weight_gradient(self.delta[lo:lo + block], self.H[lo:lo + block], self.dW,
                                   min_cols, accumulate=lo > 0)


class ConcurrentFits:
    """Two W1 epochs at once, in two threads, each fit splitting its
    minibatches over crnn's threads: more busy threads than cores.

    Guards the training parts' hand-off (``crnn._handoff``): its waiters poll
    before they sleep and must yield the core to the other fit's threads.
    Polling that did not yield made this 30% slower than a ThreadPoolExecutor
    hand-off on 2 cores (benchmarks/NOTES.md, sixth session).
    """

    params = [["W1"], ["lstm", "gru"]]
    param_names = ["workload", "cell"]
    number = 1
    repeat = 3
    warmup_time = 0.0  # setup already ran a warm epoch of each fit
    processes = 1

    def setup(self, workload, cell):
        X, y = make_data(workload)
        self.runners = [make_runner("crnn", workload, cell, X, y, warm=True)
                        for _ in range(2)]

    def time_two_epochs_in_threads(self, workload, cell):
        errors = []

        def epoch(runner):
            try:
                runner.train_epoch()
            except BaseException as exc:  # re-raised in asv's thread below
                errors.append(exc)

        threads = [threading.Thread(target=epoch, args=(runner,)) for runner in self.runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
