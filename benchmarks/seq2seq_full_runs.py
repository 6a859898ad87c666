"""Full-size runs of the three sequence-to-sequence tasks of SPEC 11 (issue 10),
printing held-out accuracies (no timings: accuracy only).

(a) reverse a sequence of digits of random length 3-12
    (Seq2SeqClassifier, exact-sequence accuracy and per-digit accuracy);
(b) add two numbers given as digit sequences, "123+45" -> "168"
    (Seq2SeqClassifier, exact-answer accuracy);
(c) map 20 steps of a sine to the next 10 steps of the cosine of the same
    phase and frequency (Seq2SeqRegressor, R^2 over every predicted step).

The tests (tests/test_seq2seq.py) run small versions of the same tasks.

    python benchmarks/seq2seq_full_runs.py [--scale 1.0] [--seed 0]

--scale multiplies the numbers of training samples and epochs (0.1 for a
smoke run).
"""
import argparse
import warnings

import numpy as np

from crnn import Seq2SeqClassifier, Seq2SeqRegressor
from crnn.__main__ import digit_addition


def reverse_digits(rng, n, low=3, high=12):
    seqs = [rng.integers(0, 10, k) for k in rng.integers(low, high + 1, n)]
    X = [np.eye(10, dtype=np.float32)[s] for s in seqs]
    y = [np.append(s[::-1], 10) for s in seqs]   # 10 ends a sequence
    return X, y


def curves(rng, n, T_in=20, T_out=10):
    phase = rng.uniform(0, 2 * np.pi, n)
    freq = rng.uniform(0.2, 0.5, n)
    X = np.sin(phase[:, None] + freq[:, None] * np.arange(T_in))
    y = np.cos(phase[:, None] + freq[:, None] * np.arange(T_in, T_in + T_out))
    return X, y


def per_step_accuracy(pred, truth):
    hits = total = 0
    for p, t in zip(pred, truth):
        n = min(len(p), len(t))
        hits += int(np.sum(p[:n] == t[:n]))
        total += len(t)
    return hits / total


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    def n(value):
        return max(10, int(value * args.scale))

    warnings.simplefilter("ignore")
    X, y = reverse_digits(rng, n(20000))
    X_test, y_test = reverse_digits(rng, 1000)
    clf = Seq2SeqClassifier(cell="gru", hidden_layer_sizes=(128,), end_label=10,
                            max_iter=n(40), learning_rate_init=3e-3, batch_size=64,
                            random_state=args.seed).fit(X, y)
    pred = clf.predict(X_test)
    print(f"(a) reverse digits, length 3-12: {len(X)} training sequences, {clf.n_iter_} epochs, "
          f"gru (128,): exact-sequence accuracy {clf.score(X_test, y_test):.4f}, "
          f"per-digit accuracy {per_step_accuracy(pred, y_test):.4f}")

    X, y = digit_addition(n_samples=n(20000) + 1000, max_digits=3, seed=args.seed)
    X_train, y_train, X_test, y_test = X[1000:], y[1000:], X[:1000], y[:1000]
    clf = Seq2SeqClassifier(cell="lstm", hidden_layer_sizes=(128,), end_label="$",
                            max_iter=n(40), learning_rate_init=3e-3, batch_size=64,
                            random_state=args.seed).fit(X_train, y_train)
    print(f"(b) addition of numbers of 1-3 digits: {len(X_train)} training sums, "
          f"{clf.n_iter_} epochs, lstm (128,): exact-answer accuracy "
          f"{clf.score(X_test, y_test):.4f}")

    X, y = curves(rng, n(5000))
    X_test, y_test = curves(rng, 1000)
    reg = Seq2SeqRegressor(cell="gru", hidden_layer_sizes=(64,), max_iter=n(60),
                           learning_rate_init=3e-3, random_state=args.seed).fit(X, y)
    print(f"(c) 20 sine steps -> next 10 cosine steps: {len(X)} training curves, "
          f"{reg.n_iter_} epochs, gru (64,): R^2 {reg.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
