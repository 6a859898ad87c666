"""What ``verbose`` reports during a fit (crnn._progress).

The lines must carry the numbers the estimator records (``loss_curve_``,
``validation_scores_``), so they are parsed and compared with those; the
progress bar is checked through a stand-in for tqdm (always) and the real
tqdm (with the ``progress`` extra installed).
"""
import io
import re
import warnings

import numpy as np
import pytest

from crnn import RNNClassifier, RNNRegressor, _progress

LINE = re.compile(r"^Iteration (\d+), loss = ([0-9.eE+-]+)"
                  r"(?:, validation score = ([0-9.eE+-]+))?, time = ([0-9.]+)s$")


def _data(n=60, T=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, 2))
    y = np.tanh(X[:, :, 0].sum(axis=1) / 3)
    return X, y


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def _epoch_lines(text):
    return [LINE.match(line) for line in text.splitlines() if line.startswith("Iteration")]


def test_one_line_per_epoch_with_the_recorded_loss(capsys):
    X, y = _data()
    est = _fit(RNNRegressor(hidden_layer_sizes=(5,), max_iter=4, verbose=True,
                            random_state=0), X, y)
    out = capsys.readouterr().out
    lines = _epoch_lines(out)
    assert len(lines) == est.n_iter_ == 4 and all(lines), out
    assert [int(m.group(1)) for m in lines] == [1, 2, 3, 4]
    np.testing.assert_allclose([float(m.group(2)) for m in lines], est.loss_curve_,
                               rtol=1e-7)
    assert all(m.group(3) is None for m in lines)   # no validation set: no score
    assert all(float(m.group(4)) >= 0 for m in lines)


def test_lines_carry_the_validation_score_and_the_stop(capsys):
    X, y = _data(n=80)
    est = _fit(RNNClassifier(hidden_layer_sizes=(4,), max_iter=30, early_stopping=True,
                             n_iter_no_change=2, tol=10.0, verbose=1, random_state=0),
               X, (y > 0).astype(int))
    out = capsys.readouterr().out
    lines = _epoch_lines(out)
    assert len(lines) == est.n_iter_ and all(lines), out
    np.testing.assert_allclose([float(m.group(3)) for m in lines],
                               est.validation_scores_, atol=1e-6)
    # tol=10 cannot be met after the first epoch; as in MLP, training stops
    # once more than n_iter_no_change epochs in a row missed it, and says why
    assert est.n_iter_ == 1 + est.n_iter_no_change + 1
    assert "Training stopped: no improvement" in out


def test_partial_fit_reports_its_epoch_counting_on(capsys):
    X, y = _data()
    est = RNNRegressor(hidden_layer_sizes=(4,), verbose=True, random_state=0)
    est.partial_fit(X, y)
    est.partial_fit(X, y)
    lines = _epoch_lines(capsys.readouterr().out)
    assert [int(m.group(1)) for m in lines] == [1, 2]
    np.testing.assert_allclose([float(m.group(2)) for m in lines], est.loss_curve_,
                               rtol=1e-7)


def test_silent_by_default(capsys):
    X, y = _data()
    _fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=2, random_state=0), X, y)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


class _FakeBar:
    """Records what the reporter asks of tqdm."""

    instances = []

    def __init__(self, total, unit, leave, desc, file):
        self.total, self.desc, self.updates, self.postfixes = total, desc, 0, []
        self.written, self.closed = [], False
        _FakeBar.instances.append(self)

    def set_postfix(self, postfix, refresh=True):
        self.postfixes.append(dict(postfix))

    def update(self, n):
        self.updates += n

    def write(self, text, file=None):
        self.written.append(text)

    def close(self):
        self.closed = True


def test_verbose_2_drives_a_progress_bar(monkeypatch, capsys):
    _FakeBar.instances.clear()
    monkeypatch.setattr(_progress, "_tqdm", lambda: _FakeBar)
    X, y = _data(n=80)
    est = _fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=5, early_stopping=True,
                            n_iter_no_change=10, verbose=2, random_state=0), X, y)
    (bar,) = _FakeBar.instances
    assert bar.total == 5 and bar.updates == est.n_iter_ == 5 and bar.closed
    np.testing.assert_allclose([float(p["loss"]) for p in bar.postfixes], est.loss_curve_,
                               rtol=1e-5)
    np.testing.assert_allclose([float(p["validation"]) for p in bar.postfixes],
                               est.validation_scores_, rtol=1e-5, atol=1e-6)
    assert "Iteration" not in capsys.readouterr().out   # the bar replaces the lines


def test_bar_continues_a_warm_start(monkeypatch):
    _FakeBar.instances.clear()
    monkeypatch.setattr(_progress, "_tqdm", lambda: _FakeBar)
    X, y = _data()
    est = RNNRegressor(hidden_layer_sizes=(4,), max_iter=2, warm_start=True, verbose=2,
                       random_state=0)
    _fit(est, X, y)
    _fit(est, X, y)
    assert [b.desc for b in _FakeBar.instances] == ["fit", "fit from epoch 3"]


def test_without_tqdm_verbose_2_falls_back_to_lines(monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_tqdm", lambda: None)
    X, y = _data()
    est = _fit(RNNRegressor(hidden_layer_sizes=(4,), max_iter=3, verbose=2,
                            random_state=0), X, y)
    lines = _epoch_lines(capsys.readouterr().out)
    assert len(lines) == est.n_iter_ == 3 and all(lines)


def test_missing_tqdm_is_reported_as_none(monkeypatch):
    # the lazy import: a missing tqdm means no bar, not an ImportError
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name == "tqdm" or name.startswith("tqdm."):
            raise ImportError("No module named 'tqdm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    assert _progress._tqdm() is None


def test_real_tqdm_bar():
    pytest.importorskip("tqdm")
    stream = io.StringIO()
    with _progress.EpochReporter(2, total=3, stream=stream) as reporter:
        assert reporter.bar is not None
        for i in range(3):
            reporter.epoch(i + 1, 0.5 / (i + 1), 0.01, validation_score=0.1 * i)
        reporter.message("Training stopped: test")
    text = stream.getvalue()
    assert "3/3" in text and "loss=0.166667" in text and "validation=0.2" in text
    assert "Training stopped: test" in text
