"""asv ``track_`` benchmarks of held-out quality on real data (issue 11).

A small subset of ``quality.py``: a short univariate set, a 150-step
univariate set, a variable-length multivariate set and a forecast series,
for the LSTM and the GRU, seed 0, crnn's estimator defaults. The tracked
value is the held-out score (accuracy, or R^2 for the forecast), so that a
change that degrades learning on real data shows in asv's history;
``PyTorch`` runs the same model (same init, loss, optimiser, batch size
and epochs) when importable, otherwise asv reports it as skipped. The data
sets come from aeon (``pip install crnn[bench]``); without aeon every
variant is skipped.
"""
from . import quality

SETS = ("ItalyPowerDemand", "GunPoint", "JapaneseVowels", "Airline")


class HeldOutScore:
    params = [list(SETS), ["lstm", "gru"], ["crnn", "torch"]]
    param_names = ["set", "cell", "library"]
    unit = "score"
    timeout = 600.0

    def setup(self, name, cell, library):
        try:
            import aeon  # noqa: F401
        except ImportError:
            raise NotImplementedError("aeon (the data sets) is not installed")
        if library == "torch" and not quality.torch_available():
            raise NotImplementedError("PyTorch is not installed")
        self.data = quality.load(name)

    def track_score(self, name, cell, library):
        score, _, _, model = quality.fit_crnn(self.data, cell, seed=0)
        if library == "torch":
            score, _ = quality.fit_torch(self.data, model, seed=0)
        return score
