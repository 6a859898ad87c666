"""Held-out quality of crnn on real sequence data sets (issue 11).

    python benchmarks/quality.py [--sets GunPoint,Airline] [--cells lstm,gru]
                                 [--seeds 5] [--quick] [--no-torch] [--json PATH]
                                 [--set-param NAME=VALUE ...]

The data sets are the public ones that aeon ships inside its wheel
(``aeon/datasets/data``), so they load offline; ``pip install crnn[bench]``
installs aeon. They cover short and long, univariate and multivariate,
equal- and variable-length sequences, classification, regression and
forecasting (see ``SETS``). For each set and cell it fits, over several
seeds (the seed drives initialisation and shuffling; the split is the
archive's own train/test split, or the last 25% of a forecast series):

- crnn's estimator with its defaults (``RNNClassifier`` or
  ``RNNRegressor``; only ``cell`` is set, plus any ``--set-param``): the
  held-out score (accuracy, or R^2 for regression and forecasting), mean and
  minimum over the seeds, the epochs run and the fit time;
- PyTorch (when importable) with the same architecture, initialisation,
  loss, optimiser (Adam, same learning rate, betas, epsilon), gradient
  clipping, batch size and number of epochs (those crnn ran for that seed);
  ``diff`` marks a difference of the means larger than twice its standard
  error with ``*``;
- one simple non-recurrent baseline a user would try first: a 1-nearest
  neighbour (Euclidean) classifier on the flattened series (variable-length
  series linearly resampled to the longest training length first), or a
  ridge regression on the flattened series / lagged windows.

Every model sees the same inputs: each feature standardised with its mean
and standard deviation over the training steps (``crnn.preprocessing.
SequenceScaler``), regression and forecast targets standardised with the
training targets' statistics (R^2 does not change under that map). Pass
``--raw`` to feed the unscaled inputs instead.

Everything runs in one thread (BLAS and PyTorch). Fit times are wall
clock on whatever machine runs this; they are printed for orientation, not
as speed measurements (use compare.py on a quiet machine for those).
``--quick`` is a smoke run: two seeds, 5 epochs, two small sets.
"""
import argparse
import functools
import json
import os
import platform
import sys
import time
import warnings

import numpy as np

if __name__ == "__main__":
    # one thread everywhere: set before NumPy's BLAS (and PyTorch) start;
    # not on import (asv imports this module to discover benchmarks)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

# name: (loader, task, description). Loaders return
# X_train, y_train, X_test, y_test with X a 3-D array (n, T, F) or a list of
# (T_i, F) arrays (variable length).
SETS = {}


def _register(name, task, note):
    def wrap(loader):
        SETS[name] = (loader, task, note)
        return loader
    return wrap


def _aeon_classification(name):
    from aeon.datasets import load_classification

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X_train, y_train = load_classification(name, split="train")
        X_test, y_test = load_classification(name, split="test")
    return _steps_last(X_train), y_train, _steps_last(X_test), y_test


def _aeon_regression(name):
    from aeon.datasets import load_regression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        X_train, y_train = load_regression(name, split="train")
        X_test, y_test = load_regression(name, split="test")
    return (_steps_last(X_train), y_train.astype(np.float64),
            _steps_last(X_test), y_test.astype(np.float64))


def _steps_last(X):
    # aeon's layout is (n, channels, T) or a list of (channels, T_i)
    if isinstance(X, list):
        return [np.ascontiguousarray(x.T, dtype=np.float64) for x in X]
    return np.ascontiguousarray(X.transpose(0, 2, 1), dtype=np.float64)


def _forecast(series, window, target_column=0):
    """Windows of ``window`` steps -> the next value of one column.

    The last 25% of the windows (by time) are the test set, so the test
    targets all lie after the training targets.
    """
    from crnn.preprocessing import make_windows

    series = np.asarray(series, dtype=np.float64)
    if series.ndim == 1:
        series = series[:, None]
    X, y = make_windows(series, window)
    y = y[:, target_column] if y.ndim == 2 else y
    n_train = int(round(0.75 * len(X)))
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


# Sets of the time-series classification and regression archives, loaded by
# their archive name: name: (task, description, archive name)
_ARCHIVE_SETS = {
    "ItalyPowerDemand": ("classification", "univariate, 24 steps, 2 classes", None),
    "GunPoint": ("classification", "univariate, 150 steps, 2 classes", None),
    "ArrowHead": ("classification", "univariate, 251 steps, 3 classes", None),
    "OSULeaf": ("classification", "univariate, 427 steps, 6 classes", None),
    "BasicMotions": ("classification", "6 features, 100 steps, 4 classes", None),
    "JapaneseVowels": ("classification", "12 features, 7-29 steps, 9 classes", None),
    "PickupGesture": ("classification", "univariate, 29-361 steps, 10 classes",
                      "PickupGestureWiimoteZ"),
    "Covid3Month": ("regression", "univariate, 84 steps", None),
    "CardanoSentiment": ("regression", "2 features, 24 steps", None),
}
for _name, (_task, _note, _archive) in _ARCHIVE_SETS.items():
    _loader = _aeon_classification if _task == "classification" else _aeon_regression
    _register(_name, _task, _note)(functools.partial(_loader, _archive or _name))


@_register("Airline", "forecast", "univariate, 12-step windows of 144 months")
def _airline():
    from aeon.datasets import load_airline

    # the log turns the growing seasonal swing into a constant one (the
    # classic treatment of this series); the level still trends upwards
    return _forecast(np.log(load_airline()), window=12)


@_register("Solar", "forecast", "univariate, 24-step windows of 289 steps")
def _solar():
    from aeon.datasets import load_solar

    return _forecast(load_solar(), window=24)


@_register("USChange", "forecast", "5 features, 8-step windows of 187 quarters")
def _uschange():
    from aeon.datasets import load_uschange

    # predict the next quarter's change in unemployment (the fifth series)
    # from all five; consumption, the first, is too noisy (ridge scores below
    # the training mean there)
    return _forecast(load_uschange().T, window=8, target_column=4)


QUICK_SETS = ("ItalyPowerDemand", "Airline")
DEFAULT_CELLS = ("lstm", "gru")


def load(name, raw=False):
    """The set as scaled float32 arrays plus its task and sizes."""
    from crnn.preprocessing import SequenceScaler

    loader, task, note = SETS[name]
    X_train, y_train, X_test, y_test = loader()
    if not raw:
        scaler = SequenceScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if task != "classification":
        mean, std = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    if isinstance(X_train, list):
        X_train = [x.astype(np.float32) for x in X_train]
        X_test = [x.astype(np.float32) for x in X_test]
        lengths = [len(x) for x in X_train + X_test]
        steps = f"{min(lengths)}-{max(lengths)}"
        n_features = X_train[0].shape[1]
    else:
        X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
        steps, n_features = str(X_train.shape[1]), X_train.shape[2]
    return {"name": name, "task": task, "note": note, "steps": steps,
            "n_features": n_features, "X_train": X_train, "y_train": y_train,
            "X_test": X_test, "y_test": y_test}


# ---------------------------------------------------------------- models
def crnn_estimator(data, cell, seed, params=None, max_iter=None):
    from crnn import RNNClassifier, RNNRegressor

    kwargs = dict(params or {})
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    Estimator = RNNClassifier if data["task"] == "classification" else RNNRegressor
    return Estimator(cell=cell, random_state=seed, **kwargs)


def fit_crnn(data, cell, seed, params=None, max_iter=None):
    """Fit crnn once: (held-out score, fit seconds, epochs, estimator)."""
    model = crnn_estimator(data, cell, seed, params, max_iter)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # a ConvergenceWarning at max_iter is expected in a fixed budget
        warnings.simplefilter("ignore")
        model.fit(data["X_train"], data["y_train"])
    seconds = time.perf_counter() - start
    return model.score(data["X_test"], data["y_test"]), seconds, model.n_iter_, model


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _padded(X):
    """(padded array (n, T_max, F), lengths) from a 3-D array or a list."""
    if isinstance(X, np.ndarray):
        return X, np.full(len(X), X.shape[1])
    lengths = np.array([len(x) for x in X])
    out = np.zeros((len(X), lengths.max(), X[0].shape[1]), dtype=np.float32)
    for i, x in enumerate(X):
        out[i, :len(x)] = x
    return out, lengths


def fit_torch(data, model, seed):
    """PyTorch twin of a fitted crnn model: (held-out score, fit seconds).

    Same architecture (stacked cells of crnn's hidden sizes, bidirectional
    if crnn's was, a linear readout of the final state), PyTorch's default
    init with crnn's forget bias, crnn's loss (log loss, or half the mean
    squared error), Adam with crnn's hyper-parameters, clipping, batch size
    and crnn's number of epochs (``model.n_iter_``).
    """
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    classify = data["task"] == "classification"
    hidden = list(np.atleast_1d(model.hidden_layer_sizes))
    if len(set(hidden)) != 1:
        raise ValueError("the PyTorch twin stacks layers of one size")
    H, n_layers = int(hidden[0]), len(hidden)
    X, lengths = _padded(data["X_train"])
    if classify:
        classes = list(model.classes_)
        y = torch.as_tensor([classes.index(v) for v in data["y_train"]])
        n_out = len(classes)
    else:
        y = torch.as_tensor(np.asarray(data["y_train"], dtype=np.float32))
        n_out = 1
    Cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[model.cell]
    extra = {"nonlinearity": model.activation} if model.cell == "rnn" else {}
    if extra and model.activation == "sigmoid":
        raise ValueError("PyTorch's RNN has no sigmoid nonlinearity")
    directions = 2 if model.bidirectional else 1

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = Cell(X.shape[2], H, num_layers=n_layers, batch_first=True,
                            bidirectional=model.bidirectional,
                            dropout=model.dropout if n_layers > 1 else 0.0, **extra)
            self.out = nn.Linear(directions * H, n_out)

        def forward(self, x, lens):
            packed = nn.utils.rnn.pack_padded_sequence(x, lens, batch_first=True,
                                                       enforce_sorted=False)
            _, state = self.rnn(packed)
            h_n = state[0] if isinstance(state, tuple) else state
            # the top layer's final state: [forward, reverse] like crnn's readout
            top = torch.cat([h_n[-directions + d] for d in range(directions)], dim=1)
            return self.out(top)

    net = Net()
    if model.cell == "lstm":
        with torch.no_grad():
            for name, p in net.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    p[H:2 * H] = model.forget_bias
                elif name.startswith("bias_hh"):
                    p[H:2 * H] = 0.0
    opt = torch.optim.Adam(net.parameters(), lr=model.learning_rate_init,
                           betas=(model.beta_1, model.beta_2), eps=model.epsilon)
    batch = model.batch_size
    n = len(X)
    batch = min(32, n) if batch == "auto" else min(int(batch), n)
    X_t, len_t = torch.as_tensor(X), torch.as_tensor(lengths)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(model.n_iter_):
        order = torch.randperm(n, generator=gen)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            out = net(X_t[idx], len_t[idx])
            if classify:
                loss = nn.functional.cross_entropy(out, y[idx])
            else:
                loss = 0.5 * nn.functional.mse_loss(out[:, 0], y[idx])
            opt.zero_grad()
            loss.backward()
            if model.clip_grad_norm is not None:
                nn.utils.clip_grad_norm_(net.parameters(), model.clip_grad_norm)
            opt.step()
    seconds = time.perf_counter() - start
    X_test, len_test = _padded(data["X_test"])
    with torch.no_grad():
        out = net(torch.as_tensor(X_test), torch.as_tensor(len_test)).numpy()
    if classify:
        return float(np.mean(np.asarray(classes)[out.argmax(1)] == data["y_test"])), seconds
    return _r2(data["y_test"], out[:, 0]), seconds


def _r2(y, pred):
    y = np.asarray(y, dtype=np.float64)
    return float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))


def _flat(X, n_steps):
    """Flattened series; variable-length ones linearly resampled to n_steps."""
    if isinstance(X, np.ndarray):
        return X.reshape(len(X), -1)
    grid = np.linspace(0, 1, n_steps)
    rows = []
    for x in X:
        at = np.linspace(0, 1, len(x))
        rows.append(np.stack([np.interp(grid, at, x[:, f]) for f in range(x.shape[1])],
                             axis=1).ravel())
    return np.asarray(rows)


def fit_baseline(data):
    """(name, held-out score, fit seconds) of the non-recurrent baseline."""
    from sklearn.linear_model import RidgeCV
    from sklearn.neighbors import KNeighborsClassifier

    X_train, X_test = data["X_train"], data["X_test"]
    n_steps = max(len(x) for x in X_train) if isinstance(X_train, list) else None
    A_train, A_test = _flat(X_train, n_steps), _flat(X_test, n_steps)
    if data["task"] == "classification":
        name, model = "1-NN", KNeighborsClassifier(n_neighbors=1)
    else:
        name, model = "ridge", RidgeCV(alphas=np.logspace(-3, 3, 13))
    start = time.perf_counter()
    model.fit(A_train, data["y_train"])
    seconds = time.perf_counter() - start
    return name, float(model.score(A_test, data["y_test"])), seconds


# ---------------------------------------------------------------- running
def run_cell(data, cell, seeds, params=None, max_iter=None, with_torch=True,
             torch_seeds=None):
    """Scores and times of crnn (and PyTorch) over the seeds for one cell.

    PyTorch runs for the first ``torch_seeds`` seeds only (all if None).
    """
    row = {"crnn": [], "crnn_s": [], "epochs": [], "torch": [], "torch_s": []}
    for i, seed in enumerate(seeds):
        score, seconds, epochs, model = fit_crnn(data, cell, seed, params, max_iter)
        row["crnn"].append(score)
        row["crnn_s"].append(seconds)
        row["epochs"].append(epochs)
        if with_torch and (torch_seeds is None or i < torch_seeds):
            score, seconds = fit_torch(data, model, seed)
            row["torch"].append(score)
            row["torch_s"].append(seconds)
    return row


def run_cell_multi(data, cells, seeds, params=None, max_iter=None):
    """crnn's held-out scores over cells x seeds (a flat list), no PyTorch."""
    return [fit_crnn(data, cell, seed, params, max_iter)[0]
            for cell in cells for seed in seeds]


def _significant(a, b):
    """Whether two seed samples' means differ by more than twice the SE."""
    if len(a) < 2 or len(b) < 2:
        return False
    se = np.sqrt(np.var(a, ddof=1) / len(a) + np.var(b, ddof=1) / len(b))
    return abs(np.mean(a) - np.mean(b)) > 2 * se


def _parse_params(items):
    params = {}
    for item in items or []:
        name, _, value = item.partition("=")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value  # a bare string such as orthogonal
        if isinstance(params[name], list):
            params[name] = tuple(params[name])
    return params


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=None,
                        help=f"comma-separated, from {','.join(SETS)} (default: all)")
    parser.add_argument("--cells", default=",".join(DEFAULT_CELLS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=None,
                        help="epochs (default: the estimator's max_iter)")
    parser.add_argument("--set-param", action="append", metavar="NAME=VALUE",
                        help="an estimator parameter (JSON value), repeatable")
    parser.add_argument("--raw", action="store_true", help="do not standardise the inputs")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--torch-seeds", type=int, default=None,
                        help="run PyTorch for the first N seeds only (its GRU is slow on "
                             "long sets)")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args(argv)

    names = args.sets.split(",") if args.sets else list(SETS)
    unknown = [n for n in names if n not in SETS]
    if unknown:
        parser.error(f"unknown sets {unknown}; choose from {list(SETS)}")
    seeds = list(range(args.seeds))
    max_iter = args.max_iter
    if args.quick:
        names = [n for n in names if n in QUICK_SETS] if args.sets else list(QUICK_SETS)
        seeds, max_iter = seeds[:2], 5
    params = _parse_params(args.set_param)
    with_torch = not args.no_torch and torch_available()

    import crnn

    print(f"crnn {crnn.__version__}, {platform.platform()}, {platform.processor() or ''}"
          f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"seeds {seeds}, epochs {max_iter or 'estimator default'}, params {params or '-'}, "
          f"inputs {'raw' if args.raw else 'standardised'}, PyTorch "
          f"{'no' if not with_torch else 'first %d seeds' % args.torch_seeds if args.torch_seeds else 'yes'}"
          "; fit times are wall clock on this machine")
    head = (f"{'set':<17}{'task':<9}{'steps':>8}{'F':>3} {'n tr/te':>9} {'cell':<5}"
            f"{'crnn':>7}{'min':>7}{'ep':>5}{'fit s':>7}")
    if with_torch:
        head += f"{'torch':>7}{'min':>7}{'fit s':>7}{'diff':>8}"
    head += f"  {'baseline':>13}"
    print(head)
    print("-" * len(head))
    rows = []
    for name in names:
        data = load(name, raw=args.raw)
        base_name, base_score, base_s = fit_baseline(data)
        for cell in args.cells.split(","):
            r = run_cell(data, cell, seeds, params, max_iter, with_torch, args.torch_seeds)
            task = {"classification": "class", "regression": "regr"}.get(data["task"],
                                                                        data["task"])
            line = (f"{name:<17}{task:<9}{data['steps']:>8}{data['n_features']:>3} "
                    f"{len(data['X_train']):>4}/{len(data['X_test']):<4} {cell:<5}"
                    f"{np.mean(r['crnn']):>7.3f}{np.min(r['crnn']):>7.3f}"
                    f"{np.mean(r['epochs']):>5.0f}{np.mean(r['crnn_s']):>7.2f}")
            if with_torch:
                diff = np.mean(r["crnn"]) - np.mean(r["torch"])
                mark = "*" if _significant(r["crnn"], r["torch"]) else " "
                line += (f"{np.mean(r['torch']):>7.3f}{np.min(r['torch']):>7.3f}"
                         f"{np.mean(r['torch_s']):>7.2f}{diff:>+7.3f}{mark}")
            line += f"  {base_name:>5} {base_score:>7.3f}"
            print(line, flush=True)
            rows.append({"set": name, "task": data["task"], "steps": data["steps"],
                         "n_features": int(data["n_features"]), "cell": cell,
                         "n_train": len(data["X_train"]), "n_test": len(data["X_test"]),
                         "seeds": seeds, "params": {k: list(v) if isinstance(v, tuple)
                                                    else v for k, v in params.items()},
                         "baseline": base_name, "baseline_score": base_score,
                         "baseline_s": base_s, **r})
    print("scores: accuracy (class) or R^2 (regr, forecast) on the held-out split; "
          "'*' after diff: |crnn - torch| > 2 standard errors")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
