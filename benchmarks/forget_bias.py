"""Does an LSTM forget-gate bias of 1 help on digits-as-sequences?

Fits RNNClassifier(cell="lstm") with forget_bias 0 (PyTorch's init) and 1
(Keras's unit_forget_bias) over several seeds and prints held-out accuracy,
epochs run and the training loss after 10 epochs. Used to pick the default
(see benchmarks/NOTES.md).

    python benchmarks/forget_bias.py [--seeds 5]
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from crnn import RNNClassifier


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=60)
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X.reshape(-1, 8, 8) / 16.0, y, test_size=0.25, random_state=0)
    print(f"{'forget_bias':>11} {'accuracy mean':>13} {'min':>6} {'loss@10':>8} "
          f"{'epochs':>6} {'fit s':>6}")
    for forget_bias in (0.0, 1.0):
        acc, loss10, epochs, secs = [], [], [], []
        for seed in range(args.seeds):
            clf = RNNClassifier(cell="lstm", hidden_layer_sizes=(64,), max_iter=args.max_iter,
                                learning_rate_init=3e-3, forget_bias=forget_bias,
                                random_state=seed)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf.fit(X_train, y_train)
            secs.append(time.perf_counter() - start)
            acc.append(clf.score(X_test, y_test))
            loss10.append(clf.loss_curve_[min(9, len(clf.loss_curve_) - 1)])
            epochs.append(clf.n_iter_)
        print(f"{forget_bias:>11.1f} {np.mean(acc):>13.4f} {np.min(acc):>6.4f} "
              f"{np.mean(loss10):>8.4f} {np.mean(epochs):>6.1f} {np.mean(secs):>6.2f}")


if __name__ == "__main__":
    main()
