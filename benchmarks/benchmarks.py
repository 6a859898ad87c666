"""asv benchmarks of SPEC section 8: workloads W1-W4 x cell x library.

Every benchmark is parametrised over ``[workload, cell, library]``; the
``torch`` variants raise NotImplementedError in setup when PyTorch is not
importable, which asv reports as skipped (n/a). Models and data are built in
setup (deterministic, float32); see ``common.py`` for the workloads and the
two implementations.

- ``TrainEpoch.time_train_epoch``: one training epoch of an initialised
  model (setup runs one warm epoch).
- ``Predict.time_predict``: inference over all N sequences.
- ``PeakMem.peakmem_fit``: peak memory of a fresh fit of one epoch.
- ``FinalLoss.track_final_loss``: training loss after ``EPOCHS`` epochs
  from a fresh model, so that a speed-up that breaks learning shows.
"""
import warnings

from .common import (CELLS, LIBRARIES, WORKLOADS, make_data, make_runner,
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
