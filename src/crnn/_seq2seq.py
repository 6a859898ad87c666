"""Encoder-decoder: the sequence-to-sequence estimators' model.

An encoder stack reads X; its final states (h, and c for the LSTM) are the
initial states of a decoder stack of the same cell, which reads the target
sequence shifted one step (teacher forcing: the input at step t is target
t - 1, a learned ``start`` vector at t = 0; one-hot labels for a
classifier) and a linear readout predicts every target step. Both stacks
run in the compiled training kernels (``_layers.stack_forward`` /
``stack_backward``); the decoder's initial-state gradient is the encoder's
final-state gradient, so the loss reaches the encoder through it.

Sorting: the encoder's packed rows are sorted by input length, the
decoder's by target length; ``perm`` maps each decoder row to its
encoder row, and the states move between the two orders with one take.

Parameters live in one flat buffer, weights first (encoder, decoder,
``W_out``) so the L2 penalty covers the prefix ``flat[:n_decay]``, then
the biases and ``start``.
"""
import numpy as np

from crnn import _blas, _layers, _recurrent, _spec
from crnn._layers import Packing
from crnn._model import Model
from crnn._network import RecurrentNetwork


class Seq2SeqData:
    """A fit's (input, target) sequence pairs, prepared once for minibatch gathers.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_steps, n_features)
        Batch-first input sequences, padded past ``lengths``.
    lengths : ndarray of int of shape (n_samples,) or None
        Valid input steps per sequence; None means all ``n_steps``.
    targets : ndarray of shape (n_samples, n_out_steps, n_outputs) or (n_samples, n_out_steps)
        Regression values, or class indices (int) for a classifier; padded
        past ``target_lengths``.
    target_lengths : ndarray of int of shape (n_samples,)
        Valid target steps per sequence (each >= 1).
    n_classes : int or None
        Classifier: the decoder's input is the one-hot of the previous label.
    """

    per_step = False

    def __init__(self, X, lengths, targets, target_lengths, n_classes=None):
        n_samples, n_steps, _ = X.shape
        self.X_tm = np.ascontiguousarray(X.transpose(1, 0, 2))
        if lengths is None:
            lengths = np.full(n_samples, n_steps, dtype=np.intp)
        self.lengths = np.asarray(lengths, dtype=np.intp)
        self.target_lengths = np.asarray(target_lengths, dtype=np.intp)
        self.n_classes = n_classes
        self.targets_tm = np.ascontiguousarray(np.swapaxes(targets, 0, 1))
        if n_classes is None:
            # the decoder's input at step t is target t - 1 (row 0: start, filled
            # in by the model)
            shifted = np.zeros_like(self.targets_tm)
            shifted[1:] = self.targets_tm[:-1]
        else:
            shifted = np.zeros(self.targets_tm.shape + (n_classes,), X.dtype)
            steps, rows = np.nonzero(np.ones(self.targets_tm.shape[:2], bool))
            steps, rows = steps[steps > 0], rows[steps > 0]
            shifted[steps, rows, self.targets_tm[steps - 1, rows]] = 1
        self.inputs_tm = shifted

    @property
    def n_samples(self):
        return self.X_tm.shape[1]

    def n_predictions(self, rows):
        """Predicted target steps of ``rows`` (the loss is their mean)."""
        return int(self.target_lengths[rows].sum())

    def sort_longest_first(self, rows):
        """``rows`` reordered by input length, longest first (stable)."""
        return rows[np.argsort(-self.lengths[rows], kind="stable")]

    def gather(self, rows):
        """Packed encoder X, decoder (inputs, targets, packing, perm) of ``rows``
        sorted longest input first."""
        packing = Packing(self.lengths[rows])
        steps, slots = packing.time_major_index()
        X = np.take(self.X_tm.reshape(-1, self.X_tm.shape[2]),
                    steps * self.n_samples + rows[slots], axis=0)
        perm = np.argsort(-self.target_lengths[rows], kind="stable").astype(np.intp)
        dec_rows = rows[perm]
        dec_packing = Packing(self.target_lengths[dec_rows])
        steps, slots = dec_packing.time_major_index()
        flat = steps * self.n_samples + dec_rows[slots]
        targets = np.take(self.targets_tm.reshape((-1,) + self.targets_tm.shape[2:]), flat,
                          axis=0)
        inputs = np.take(self.inputs_tm.reshape((-1,) + self.inputs_tm.shape[2:]), flat,
                         axis=0)
        if inputs.ndim == 1:
            inputs = inputs[:, np.newaxis]
        if self.n_classes is None and targets.ndim == 1:
            targets = targets[:, np.newaxis]
        return X, targets, packing, (np.ascontiguousarray(inputs), dec_packing, perm)


class Seq2SeqNetwork(Model):
    """Parameter layout and passes of an encoder-decoder.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    n_features : int
        Input features per encoder step.
    hidden_sizes : tuple of int
        Hidden units of each layer, the same for the encoder and the decoder
        (the encoder's final states are the decoder's initial states).
    n_outputs : int
        Output values per target step, or classes (the decoder then reads
        one-hot labels, ``n_outputs`` wide).
    activation : {"tanh", "relu", "sigmoid"}
    dtype : numpy dtype
    loss : {"squared", "log"}
    """

    def __init__(self, cell, n_features, hidden_sizes, n_outputs, activation, dtype,
                 loss="squared"):
        self.cell = cell
        self.n_features = int(n_features)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.n_outputs = int(n_outputs)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.loss = loss
        G = _spec.N_GATES[cell]
        weights, biases = [], []
        for part, n_in in (("encoder", self.n_features), ("decoder", self.n_outputs)):
            for k, H in enumerate(self.hidden_sizes):
                weights += [(part, k, "W_ih", (G * H, n_in)), (part, k, "W_hh", (G * H, H))]
                biases += [(part, k, "b_ih", (G * H,)), (part, k, "b_hh", (G * H,))]
                n_in = H
        weights.append(("readout", None, "W_out", (self.n_outputs, self.hidden_sizes[-1])))
        biases += [("readout", None, "b_out", (self.n_outputs,)),
                   ("readout", None, "start", (self.n_outputs,))]
        self._slots = []
        offset = 0
        for part, k, name, shape in weights + biases:
            size = int(np.prod(shape))
            self._slots.append((part, k, name, shape, offset, size))
            offset += size
            if name == "W_out":
                self.n_decay = offset
        self.n_params = offset

    def config(self):
        """The constructor's arguments as plain builtins (what a pickle keeps)."""
        return {"model": "seq2seq", "cell": self.cell, "n_features": self.n_features,
                "hidden_sizes": list(self.hidden_sizes), "n_outputs": self.n_outputs,
                "activation": self.activation, "dtype": self.dtype.name, "loss": self.loss}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("model", None)
        return cls(**config)

    def views(self, flat):
        """``{"encoder": [...], "decoder": [...], "readout": {...}}`` of views into ``flat``."""
        L = len(self.hidden_sizes)
        coefs = {"encoder": [{} for _ in range(L)], "decoder": [{} for _ in range(L)],
                 "readout": {}}
        for part, k, name, shape, offset, size in self._slots:
            target = coefs[part] if k is None else coefs[part][k]
            target[name] = flat[offset:offset + size].reshape(shape)
        return coefs

    def init_params(self, rng, forget_bias=0.0):
        """PyTorch's initialisation for each stack (see ``RecurrentNetwork.init_params``);
        the readout and ``start`` uniform(-1/sqrt(H_last), 1/sqrt(H_last))."""
        flat = np.empty(self.n_params, dtype=self.dtype)
        coefs = self.views(flat)
        for part, k, name, shape, offset, size in self._slots:
            H = self.hidden_sizes[-1] if k is None else self.hidden_sizes[k]
            bound = 1.0 / np.sqrt(H)
            flat[offset:offset + size] = rng.uniform(-bound, bound, size=size)
        if self.cell == "lstm":
            for part in ("encoder", "decoder"):
                for k, H in enumerate(self.hidden_sizes):
                    coefs[part][k]["b_ih"][H:2 * H] = forget_bias
                    coefs[part][k]["b_hh"][H:2 * H] = 0
        return flat

    def dropout_widths(self):
        """Dropout applies between the encoder's layers (PyTorch's positions)."""
        return list(self.hidden_sizes[:-1])

    def loss_grad(self, coefs, grads, batch, ws):
        """Teacher-forced loss of one packed minibatch part and its gradient.

        ``batch.extra`` is (decoder inputs, decoder Packing, perm) from
        :meth:`Seq2SeqData.gather`; the loss is a mean over all valid target
        steps of the whole minibatch (``batch.n_predictions``).
        """
        cell, act = self.cell, self.activation
        enc_ws, dec_ws = ws, _sub_workspace(ws)
        dec_inputs, dec_packing, perm = batch.extra
        enc = _layers.stack_forward(cell, coefs["encoder"], batch.X, batch.packing, enc_ws,
                                    act, dropout_masks=batch.dropout_masks)
        h_n, c_n = enc.final_states()
        h0 = [h[perm] for h in h_n]
        c0 = [c[perm] for c in c_n] if cell == "lstm" else None
        readout, g_readout = coefs["readout"], grads["readout"]
        # row 0..B-1 of the packed decoder input are step 0: the start vector
        dec_inputs[:dec_packing.batch] = readout["start"]
        dec = _layers.stack_forward(cell, coefs["decoder"], dec_inputs, dec_packing, dec_ws,
                                    act, h0=h0, c0=c0)
        H = dec.output
        out = RecurrentNetwork._readout(readout, H, ws.get("out", (H.shape[0],
                                                                   self.n_outputs)))
        value = _loss_and_delta(self.loss, out, batch.targets, batch.n_predictions)
        d_out = out
        _blas.gemm_memview(True, False, 1.0, d_out, H, 0.0, g_readout["W_out"])
        np.sum(d_out, axis=0, out=g_readout["b_out"])
        dH = ws.get("dH_readout", H.shape)
        _blas.gemm_memview(False, False, 1.0, d_out, readout["W_out"], 0.0, dH)
        d_inputs, dh0, dc0 = _layers.stack_backward(
            cell, coefs["decoder"], grads["decoder"], dec_packing, dec, dH, None, None,
            dec_ws, act, need_dX=True, truncate=batch.truncate)
        np.sum(d_inputs[:dec_packing.batch], axis=0, out=g_readout["start"])
        # back to the encoder's row order: perm is a permutation
        dh_n = []
        for d in dh0:
            back = np.empty_like(d)
            back[perm] = d
            dh_n.append(back)
        dc_n = None
        if cell == "lstm":
            dc_n = []
            for d in dc0:
                back = np.empty_like(d)
                back[perm] = d
                dc_n.append(back)
        _layers.stack_backward(cell, coefs["encoder"], grads["encoder"], batch.packing, enc,
                               None, dh_n, dc_n, enc_ws, act, truncate=batch.truncate,
                               dropout_masks=batch.dropout_masks)
        return value

    def encode(self, coefs, X, ws, lengths=None):
        """The encoder's final states (h_n, c_n per layer) for batch-first X."""
        _, h_n, c_n = _layers.stack_infer(self.cell, coefs["encoder"], X, ws, self.activation,
                                          False, lengths=lengths, final_states=True)
        return h_n, c_n

    def decode_raw(self, coefs, X, ws, lengths=None, max_length=1, end_index=-1, trim=True):
        """Greedy decoding in the compiled loop (``_recurrent.decode``).

        With ``trim=False`` the arrays keep all ``max_length`` steps (zeros
        past the steps run) and the steps run come fourth, as a (N,) array,
        so that chunks decoded apart concatenate.

        Returns
        -------
        out : ndarray of shape (N, n_run, n_outputs)
            Regression values or logits of every decoded step.
        labels : ndarray of int of shape (N, n_run)
            Argmax class per step (classifier; zeros otherwise).
        out_lengths : ndarray of int of shape (N,)
            Steps up to and including ``end_index`` (else ``n_run``).
        """
        h_n, c_n = self.encode(coefs, X, ws, lengths)
        layers = coefs["decoder"]
        n_samples = X.shape[0]
        dtype = self.dtype
        sizes = np.array([self.n_outputs] + list(self.hidden_sizes), dtype=np.intp)
        W_cats, b_ihs, b_hhs, biases, xhs, cs = [], [], [], [], [], []
        for k, p in enumerate(layers):
            params = _layers.direction_params(p, False)
            W_cat, bias = _layers._concat_inference(params, sizes[k], ws, ("decode", k))
            W_cats.append(W_cat.ravel())
            b_ihs.append(params[2])
            b_hhs.append(params[3])
            biases.append(bias)
            xh = np.zeros((n_samples, sizes[k] + sizes[k + 1]), dtype)
            xh[:, sizes[k]:] = h_n[k]
            xhs.append(xh.ravel())
            cs.append(c_n[k].ravel() if self.cell == "lstm" else np.zeros(0, dtype))
        out = np.zeros((n_samples, max_length, self.n_outputs), dtype)
        labels = np.zeros((n_samples, max_length), np.intp)
        out_lengths = np.zeros(n_samples, np.intp)
        readout = coefs["readout"]
        n_run = _recurrent.decode(
            _spec.cell_code(self.cell), _spec.activation_code(self.activation),
            np.concatenate(W_cats), np.concatenate(b_ihs), np.concatenate(b_hhs),
            np.concatenate(biases), sizes, np.concatenate(xhs),
            np.concatenate(cs) if self.cell == "lstm" else np.zeros(1, dtype),
            ws.get("infer_work", (n_samples, _recurrent.work_width(
                _spec.cell_code(self.cell), int(sizes[1:].max())))), readout["W_out"],
            readout["b_out"], readout["start"], self.loss == "log",
            int(end_index), out, labels, out_lengths)
        if not trim:
            return out, labels, out_lengths, np.full(n_samples, n_run, np.intp)
        return out[:, :n_run], labels[:, :n_run], out_lengths

    def teacher_forced_raw(self, coefs, X, lengths, dec_inputs, ws):
        """Readout of every decoder step given the decoder's inputs (batch-first,
        (N, T_out, n_outputs), step 0 ignored: the start vector), for tests
        and scoring under teacher forcing."""
        h_n, c_n = self.encode(coefs, X, ws, lengths)
        dec_inputs = np.array(dec_inputs, dtype=self.dtype)
        dec_inputs[:, 0] = coefs["readout"]["start"]
        H = _layers.stack_infer(self.cell, coefs["decoder"], dec_inputs, ws, self.activation,
                                True, h0=h_n, c0=c_n if self.cell == "lstm" else None)
        rows = H.reshape(-1, H.shape[-1])
        out = RecurrentNetwork._readout(coefs["readout"], rows,
                                        np.empty((rows.shape[0], self.n_outputs), self.dtype))
        return out.reshape(dec_inputs.shape[0], dec_inputs.shape[1], self.n_outputs)


def _sub_workspace(ws):
    """The decoder's own workspace (its buffers must not alias the encoder's
    caches, which the encoder's backward pass still reads), kept on ``ws``."""
    sub = getattr(ws, "_decoder_ws", None)
    if sub is None:
        sub = _layers.Workspace(ws.dtype)
        ws._decoder_ws = sub
    return sub


def _loss_and_delta(loss, out, targets, n_predictions):
    """Mean loss over the minibatch's predictions; ``out`` becomes dL/d(out)."""
    if loss == "squared":
        count = n_predictions * out.shape[1]
        out -= targets
        value = 0.5 * float(np.square(out).sum()) / count
        out *= 1.0 / count
        return value
    rows = np.arange(out.shape[0])
    out -= out.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    value = -float(np.sum(np.log(np.maximum(out[rows, targets], np.finfo(out.dtype).tiny))))
    value /= n_predictions
    out[rows, targets] -= 1
    out *= 1.0 / n_predictions
    return value
