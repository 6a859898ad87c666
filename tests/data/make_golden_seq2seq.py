"""Generate the PyTorch golden files of ``tests/test_golden_seq2seq.py``: a
teacher-forced encoder-decoder built from ``torch.nn.RNN/LSTM/GRU`` and
``torch.nn.Linear`` with the same weights as crnn's ``Seq2SeqNetwork``.

Run by hand, only when these cases change; the outputs
(``tests/data/seq2seq_*.npz``) are committed and the tests never import
torch. In a scratch virtual environment outside the repository::

    python -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install numpy torch==2.13.0   # exactly this version
    /tmp/torchenv/bin/python tests/data/make_golden_seq2seq.py

What it computes
----------------
For every cell in {rnn (tanh), lstm, gru}, loss in {squared, log} and dtype
in {float64, float32}: a two-layer encoder reads X packed with input
lengths [5, 2, 4, 1] (``pack_padded_sequence(enforce_sorted=False)``); its
h_n (and c_n) are the initial states of a two-layer decoder of the same
cell, which reads the teacher-forced inputs packed with target lengths
[3, 4, 1, 2]: a ``start`` parameter at step 0, then target t - 1 (the
regression values, or the one-hot of the label for the log loss). A
``Linear`` reads out every decoder step; the loss is the squared error
halved and averaged over valid steps and outputs, or the cross-entropy
averaged over valid steps. Gradients by autograd.

npz keys (k = layer; crnn's layout)
-----------------------------------
meta:       cell, loss, torch_version
inputs:     X (N, T, I), lengths, Y (N, T_out, O) values or (N, T_out) labels,
            target_lengths
parameters: encoder{k}.W_ih ... encoder{k}.b_hh, decoder{k}.<same>, W_out, b_out, start
outputs:    out (N, T_out, O) readout at every step (zeros past target lengths), loss
gradients:  grad.<parameter key>
"""
import os

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
N, T, T_OUT, I, H, O, LAYERS = 4, 5, 4, 3, 4, 3, 2
LENGTHS = np.array([5, 2, 4, 1])
TARGET_LENGTHS = np.array([3, 4, 1, 2])
CELLS = {"rnn": (torch.nn.RNN, 400), "lstm": (torch.nn.LSTM, 500), "gru": (torch.nn.GRU, 600)}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}
NAMES = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def run(cell, loss, dtype):
    cls, seed = CELLS[cell]
    rng = np.random.default_rng(seed + (1 if loss == "log" else 0))
    tdtype = TORCH_DTYPES[dtype]
    encoder = cls(I, H, num_layers=LAYERS, batch_first=True).to(tdtype)
    decoder = cls(O, H, num_layers=LAYERS, batch_first=True).to(tdtype)
    readout = torch.nn.Linear(H, O).to(tdtype)
    start = torch.nn.Parameter(torch.from_numpy(rng.uniform(-0.6, 0.6, O)).to(tdtype))
    out = {"cell": cell, "loss": loss, "torch_version": torch.__version__,
           "lengths": LENGTHS, "target_lengths": TARGET_LENGTHS}
    params = {}
    with torch.no_grad():
        for part, module in (("encoder", encoder), ("decoder", decoder)):
            for name, param in module.named_parameters():
                param.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, param.shape)))
            for k in range(LAYERS):
                for ours, theirs in NAMES.items():
                    params[f"{part}{k}.{ours}"] = getattr(module, f"{theirs}_l{k}")
        readout.weight.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, (O, H))))
        readout.bias.copy_(torch.from_numpy(rng.uniform(-0.6, 0.6, O)))
    params.update({"W_out": readout.weight, "b_out": readout.bias, "start": start})

    X = rng.normal(size=(N, T, I))
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    X[~mask] = 0.0
    target_mask = np.arange(T_OUT)[None, :] < TARGET_LENGTHS[:, None]
    if loss == "squared":
        Y = rng.normal(size=(N, T_OUT, O))
        Y[~target_mask] = 0.0
        shifted = torch.from_numpy(Y).to(tdtype)
    else:
        Y = rng.integers(0, O, (N, T_OUT))
        Y[~target_mask] = 0
        shifted = torch.nn.functional.one_hot(torch.from_numpy(Y), O).to(tdtype)
    # teacher forcing: step t reads target t - 1, step 0 the start vector
    dec_in = torch.cat([start.expand(N, 1, O), shifted[:, :-1]], dim=1)

    Xt = torch.from_numpy(X).to(tdtype)
    packed = pack_padded_sequence(Xt, torch.from_numpy(LENGTHS), batch_first=True,
                                  enforce_sorted=False)
    _, state = encoder(packed)
    dec_packed = pack_padded_sequence(dec_in, torch.from_numpy(TARGET_LENGTHS),
                                      batch_first=True, enforce_sorted=False)
    dec_out, _ = decoder(dec_packed, state)
    dec_out, _ = pad_packed_sequence(dec_out, batch_first=True, total_length=T_OUT)
    logits = readout(dec_out)
    valid = torch.from_numpy(target_mask)
    n_valid = int(TARGET_LENGTHS.sum())
    if loss == "squared":
        diff = (logits - torch.from_numpy(Y).to(tdtype))[valid]
        value = 0.5 * (diff ** 2).sum() / (n_valid * O)
    else:
        value = torch.nn.functional.cross_entropy(logits[valid], torch.from_numpy(Y)[valid],
                                                  reduction="sum") / n_valid
    value.backward()

    out["X"], out["Y"] = X.astype(dtype), (Y.astype(dtype) if loss == "squared" else Y)
    out["out"] = (logits * valid[..., None]).detach().numpy()
    out["loss_value"] = value.detach().numpy()
    for key, param in params.items():
        out[key] = param.detach().numpy()
        out["grad." + key] = param.grad.numpy()
    return out


def main():
    for cell in CELLS:
        for loss in ("squared", "log"):
            for dtype in TORCH_DTYPES:
                path = os.path.join(HERE, f"seq2seq_{cell}_{loss}_{dtype}.npz")
                np.savez(path, **run(cell, loss, dtype))
                print("wrote", path)


if __name__ == "__main__":
    main()
