"""
==============================================
Adding numbers with a sequence-to-sequence RNN
==============================================

A :class:`crnn.Seq2SeqClassifier` learns to add: it reads a sum written as
characters, such as ``"12+45"``, and writes the answer ``"57"`` one digit at
a time, a classic sequence-to-sequence test. The input and the answer have
different lengths, and neither is fixed.

An LSTM encoder reads the question; its final hidden and cell states start
an LSTM decoder that emits the digits of the answer followed by an end
label ``"$"``. Training uses teacher forcing (the decoder reads the true
previous digit); ``predict`` decodes greedily, feeding each predicted digit
back, until the end label.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from crnn import Seq2SeqClassifier

# %%
# The data
# --------
# Each question is a list of one-hot characters (11 symbols: the digits and
# ``+``), each answer an array of characters ending in ``"$"``. Both are
# plain Python lists of arrays of different lengths.

SYMBOLS = "0123456789+"
rng = np.random.default_rng(0)


def make_sums(n, max_digits=2):
    a = rng.integers(0, 10 ** rng.integers(1, max_digits + 1, n))
    b = rng.integers(0, 10 ** rng.integers(1, max_digits + 1, n))
    questions = [f"{p}+{q}" for p, q in zip(a, b)]
    X = [np.eye(len(SYMBOLS))[[SYMBOLS.index(c) for c in s]] for s in questions]
    y = [np.array(list(str(p + q)) + ["$"]) for p, q in zip(a, b)]
    return questions, X, y


_, X_train, y_train = make_sums(4000)
questions, X_test, y_test = make_sums(500)
print(f"{len(X_train)} training sums, e.g. {questions[0]!r} -> {''.join(y_test[0])!r}")

# %%
# Fit
# ---
# 64 LSTM units in the encoder and in the decoder; the decoder stops a
# sequence once it emits ``end_label``.

model = Seq2SeqClassifier(cell="lstm", hidden_layer_sizes=(64,), end_label="$",
                          learning_rate_init=1e-2, batch_size=64, max_iter=30,
                          random_state=0)
start = time.perf_counter()
model.fit(X_train, y_train)
print(f"fitted {model.n_iter_} epochs in {time.perf_counter() - start:.1f} s")

# %%
# Accuracy and examples
# ---------------------
# ``score`` is the exact-sequence accuracy: an answer counts only if every
# digit (and the end label) is right.

print(f"held-out exact-answer accuracy: {model.score(X_test, y_test):.3f}")
answers = model.predict(X_test[:12])
print(f"{'question':>10} | {'predicted':>9} | {'true':>5}")
for question, answer, truth in zip(questions, answers, y_test):
    predicted = "".join(answer).rstrip("$")
    mark = "" if predicted == "".join(truth).rstrip("$") else "  <- wrong"
    print(f"{question:>10} | {predicted:>9} | {''.join(truth).rstrip('$'):>5}{mark}")

# %%
# The loss curve
# --------------

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(model.loss_curve_)
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy per digit")
ax.set_yscale("log")
ax.set_title("Seq2SeqClassifier learning to add")
fig.tight_layout()
plt.show()
