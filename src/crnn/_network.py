"""Stacked recurrent layers plus a linear readout: the RNN estimators' model.

Every parameter lives in one flat contiguous array so that the fused
optimizer (``_optim``) updates the whole network in one pass; the per-layer
arrays are views into it. All weight matrices come first and all biases
after, so the L2 penalty (weights only) covers the prefix ``flat[:n_decay]``.
"""
import numpy as np

from crnn import _blas, _layers, _minibatch, _spec
from crnn._model import Model

LOSSES = ("squared", "log")


class RecurrentNetwork(Model):
    """Parameter layout and minibatch passes of a stacked recurrent network.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    n_features : int
        Input features per time step.
    hidden_sizes : tuple of int
        Hidden units of each stacked layer.
    n_outputs : int
        Width of the linear readout (classes for a classifier).
    activation : {"tanh", "relu", "sigmoid"}
        Vanilla cell nonlinearity (ignored by lstm and gru).
    dtype : numpy dtype
        float32 or float64; every buffer uses it.
    return_sequences : bool, default=False
        Read out every step (True) or each sequence's final state.
    loss : {"squared", "log"}, default="squared"
        Squared error halved and averaged over every predicted element, or
        softmax cross-entropy averaged over every predicted row.
    bidirectional : bool, default=False
        Every layer also runs in reverse; its outputs are [forward, reverse].
    layer_norm : bool, default=False
        Layer normalisation inside every cell (SPEC 10): each layer dict
        also holds ``_spec.LN_NAMES`` (the c pair only for the LSTM). They
        sit among the biases of the flat buffer, so the L2 penalty skips
        them.
    """

    def __init__(self, cell, n_features, hidden_sizes, n_outputs, activation, dtype,
                 return_sequences=False, loss="squared", bidirectional=False,
                 layer_norm=False):
        self.cell = cell
        self.n_features = int(n_features)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.n_outputs = int(n_outputs)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        self.return_sequences = bool(return_sequences)
        self.loss = loss
        self.bidirectional = bool(bidirectional)
        self.layer_norm = bool(layer_norm)
        G = _spec.N_GATES[cell]
        suffixes = ("", _layers.REVERSE_SUFFIX) if self.bidirectional else ("",)
        weights, biases = [], []
        n_in = self.n_features
        for k, H in enumerate(self.hidden_sizes):
            for suffix in suffixes:
                weights += [(k, "W_ih" + suffix, (G * H, n_in)),
                            (k, "W_hh" + suffix, (G * H, H))]
                biases += [(k, "b_ih" + suffix, (G * H,)), (k, "b_hh" + suffix, (G * H,))]
                if self.layer_norm:
                    n_ln = 6 if cell == "lstm" else 4
                    biases += [(k, name + suffix, (H,) if name.startswith("ln_c") else (G * H,))
                               for name in _spec.LN_NAMES[:n_ln]]
            n_in = len(suffixes) * H
        L = len(self.hidden_sizes)
        self.n_top = n_in
        weights.append((L, "W_out", (self.n_outputs, n_in)))
        biases.append((L, "b_out", (self.n_outputs,)))
        self._slots = []
        offset = 0
        for k, name, shape in weights + biases:
            size = int(np.prod(shape))
            self._slots.append((k, name, shape, offset, size))
            offset += size
            if name == "W_out":
                self.n_decay = offset
        self.n_params = offset

    def config(self):
        """The constructor's arguments as plain builtins (what a pickle keeps)."""
        return {"cell": self.cell, "n_features": self.n_features,
                "hidden_sizes": list(self.hidden_sizes), "n_outputs": self.n_outputs,
                "activation": self.activation, "dtype": self.dtype.name,
                "return_sequences": self.return_sequences, "loss": self.loss,
                "bidirectional": self.bidirectional, "layer_norm": self.layer_norm}

    @classmethod
    def from_config(cls, config):
        """The network :meth:`config` describes."""
        return cls(**config)

    def views(self, flat):
        """Split the flat buffer into SPEC 3 dicts (views, not copies).

        Returns
        -------
        coefs : list of dict
            One dict per recurrent layer (``W_ih``, ``W_hh``, ``b_ih``,
            ``b_hh``, and their ``_reverse`` twins when bidirectional)
            followed by the readout dict (``W_out``, ``b_out``).
        """
        coefs = [{} for _ in range(len(self.hidden_sizes) + 1)]
        for k, name, shape, offset, size in self._slots:
            coefs[k][name] = flat[offset:offset + size].reshape(shape)
        return coefs

    def init_params(self, rng, forget_bias=0.0):
        """Draw initial parameters the way PyTorch does.

        Recurrent layers: uniform(-1/sqrt(H_k), 1/sqrt(H_k)) for every weight
        and bias (``torch.nn.RNN``); readout: uniform(-1/sqrt(H_last),
        1/sqrt(H_last)) (``torch.nn.Linear``). For an LSTM the forget-gate
        block of ``b_ih`` is then set to ``forget_bias`` and that of ``b_hh``
        to 0, so the forget gate starts near sigmoid(forget_bias).

        Returns
        -------
        flat : ndarray of shape (n_params,)
        """
        flat = np.empty(self.n_params, dtype=self.dtype)
        coefs = self.views(flat)
        fan = list(self.hidden_sizes) + [self.hidden_sizes[-1]]
        for k, name, shape, offset, size in self._slots:
            bound = 1.0 / np.sqrt(fan[k])
            coefs[k][name][...] = rng.uniform(-bound, bound, size=shape)
        for k, name, shape, offset, size in self._slots:
            if name.startswith("ln_"):
                # LayerNorm's init: gain 1, bias 0
                flat[offset:offset + size] = 1.0 if "_weight" in name else 0.0
        if self.cell == "lstm":
            for k, H in enumerate(self.hidden_sizes):
                for name in [n for n in coefs[k] if n.startswith("b_ih")]:
                    coefs[k][name][H:2 * H] = forget_bias
                for name in [n for n in coefs[k] if n.startswith("b_hh")]:
                    coefs[k][name][H:2 * H] = 0
        return flat

    @staticmethod
    def _readout(readout, H, out):
        # The readout GEMMs go through the kernels' BLAS (SciPy's) rather
        # than numpy.matmul: NumPy ships a second OpenBLAS whose idle threads
        # spin against SciPy's when both run in one minibatch.
        _blas.gemm_memview(False, True, 1.0, H, readout["W_out"], 0.0, out)
        out += readout["b_out"]
        return out

    def loss_grad(self, coefs, grads, batch, ws):
        """Loss of one packed minibatch part and its gradient for every parameter.

        Parameters
        ----------
        coefs, grads : list of dict
            Parameter views and gradient views (outputs, overwritten).
        batch : Minibatch
            The part; its loss and gradient are scaled by the whole
            minibatch's ``n_predictions``.
        ws : Workspace

        Returns
        -------
        loss : float
            This part's share of the minibatch's mean loss.
        """
        layers = coefs[:-1]
        cache = _layers.stack_forward(self.cell, layers, batch.X, batch.packing, ws,
                                      self.activation, dropout_masks=batch.dropout_masks)
        if self.return_sequences:
            H = cache.output
        else:
            H = cache.final_states()[0][-1]
        readout, g_readout = coefs[-1], grads[-1]
        # readout, loss and their backward in one compiled call, the one the
        # compiled minibatch makes (_minibatch.pyx): the two paths agree to the bit
        dH = ws.get("dH_readout", H.shape)
        value = _minibatch.readout_loss(
            self.loss == "log", H, readout["W_out"], readout["b_out"], batch.targets,
            batch.n_predictions, ws.get("out", (H.shape[0], self.n_outputs)),
            g_readout["W_out"], g_readout["b_out"], dH)
        if self.return_sequences:
            dH_top, dh_n = dH, None
        else:
            dH_top, dh_n = None, [None] * (len(layers) - 1) + [dH]
        _layers.stack_backward(self.cell, layers, grads[:-1], batch.packing, cache, dH_top,
                               dh_n, None, ws, self.activation, truncate=batch.truncate,
                               dropout_masks=batch.dropout_masks)
        return value

    def _infer_by_forward(self, layers, X, ws, lengths):
        """What ``stack_infer`` returns, through the training forward pass.

        The inference kernels have no layer normalisation; a layer-normalised
        model predicts through the compiled training forward pass instead,
        on packed rows (the training layer calls this chunk by chunk, so its
        caches stay bounded).
        """
        seqs = _layers.PackedSequences(X.shape[0], X.shape[1], lengths)
        cache = _layers.stack_forward(self.cell, layers, seqs.pack(X), seqs.packing, ws,
                                      self.activation)
        if self.return_sequences:
            return seqs.unpack(cache.output)
        return seqs.unsort([cache.final_states()[0][-1]])[0]

    def dropout_widths(self):
        """Output widths of the layers below the top (PyTorch's dropout positions)."""
        n_dir = 2 if self.bidirectional else 1
        return [n_dir * H for H in self.hidden_sizes[:-1]]

    def forecast_raw(self, coefs, X, ws, lengths=None, steps=1):
        """Feed-back forecast of a next-step model (readout width = input width).

        Returns
        -------
        out : ndarray of shape (N, steps, n_features)
            out[:, 0] predicts the step after each context's last valid step;
            each later step is predicted from the previous prediction fed back
            as input, carrying every layer's state (see ``_layers.stack_forecast``).
        """
        return _layers.stack_forecast(self.cell, coefs[:-1], coefs[-1], X, ws, self.activation,
                                      steps, lengths=lengths)

    def predict_raw(self, coefs, X, ws, lengths=None):
        """Readout values (regression outputs or logits) on batch-first X (N, T, I).

        Returns
        -------
        out : ndarray of shape (N, n_outputs) or (N, T, n_outputs)
            With ``return_sequences`` one row per step; steps past a
            sequence's length hold the readout of a zero state.
        """
        if self.layer_norm:
            H = self._infer_by_forward(coefs[:-1], X, ws, lengths)
        else:
            H = _layers.stack_infer(self.cell, coefs[:-1], X, ws, self.activation,
                                    self.return_sequences, lengths=lengths)
        rows = H.reshape(-1, H.shape[-1])
        out = self._readout(coefs[-1], rows, np.empty((rows.shape[0], self.n_outputs),
                                                       self.dtype))
        if self.return_sequences:
            out = out.reshape(X.shape[0], X.shape[1], self.n_outputs)
        return out
