"""Stacked recurrent layers plus a linear readout over one flat parameter buffer.

Training glue between the estimators and the kernels: the parameter layout,
initialisation, and one minibatch's loss and gradient. Every parameter lives
in one flat contiguous array so that the fused optimizer (``_optim``) updates
the whole network in one pass; the per-layer arrays are views into it. All
weight matrices come first and all biases after, so the L2 penalty (weights
only) covers the prefix ``flat[:n_decay]``.
"""
import numpy as np

from crnn import _blas, _layers


class RecurrentNetwork:
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
    """

    def __init__(self, cell, n_features, hidden_sizes, n_outputs, activation, dtype):
        self.cell = cell
        self.n_features = int(n_features)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.n_outputs = int(n_outputs)
        self.activation = activation
        self.dtype = np.dtype(dtype)
        G = _layers.CELLS[cell].n_gates
        weights, biases = [], []
        n_in = self.n_features
        for k, H in enumerate(self.hidden_sizes):
            weights += [(k, "W_ih", (G * H, n_in)), (k, "W_hh", (G * H, H))]
            biases += [(k, "b_ih", (G * H,)), (k, "b_hh", (G * H,))]
            n_in = H
        L = len(self.hidden_sizes)
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

    def views(self, flat):
        """Split the flat buffer into SPEC 3 dicts (views, not copies).

        Returns
        -------
        coefs : list of dict
            One dict per recurrent layer (``W_ih``, ``W_hh``, ``b_ih``,
            ``b_hh``) followed by the readout dict (``W_out``, ``b_out``).
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
        if self.cell == "lstm":
            for k, H in enumerate(self.hidden_sizes):
                coefs[k]["b_ih"][H:2 * H] = forget_bias
                coefs[k]["b_hh"][H:2 * H] = 0
        return flat

    def forward(self, coefs, X, ws):
        """Forward pass of the recurrent stack on time-major X (T, B, I)."""
        return _layers.stack_forward(self.cell, coefs[:-1], X, None, None, ws,
                                     self.activation)

    def readout_input(self, caches, return_sequences):
        """Top-layer states the readout reads: (B, H) or (T*B, H)."""
        H_all = caches[-1].H_all
        if return_sequences:
            return H_all[1:].reshape(-1, H_all.shape[2])
        return H_all[-1]

    def predict_raw(self, coefs, X, ws, return_sequences):
        """Readout values (regression outputs or logits) on batch-first X (B, T, I).

        Returns
        -------
        out : ndarray of shape (B, n_outputs) or (B * T, n_outputs)
            With ``return_sequences`` rows are batch-major (sample b, step t
            at row ``b * T + t``).
        """
        H = _layers.stack_infer(self.cell, coefs[:-1], X, ws, self.activation,
                                return_sequences)
        if return_sequences:
            H = H.reshape(-1, H.shape[2])
        return self._readout(coefs[-1], H, np.empty((H.shape[0], self.n_outputs), self.dtype))

    @staticmethod
    def _readout(readout, H, out):
        # The readout GEMMs go through the kernels' BLAS (SciPy's) rather
        # than numpy.matmul: NumPy ships a second OpenBLAS whose idle threads
        # spin against SciPy's when both run in one minibatch.
        _blas.gemm_memview(False, True, 1.0, H, readout["W_out"], 0.0, out)
        out += readout["b_out"]
        return out

    def loss_grad(self, coefs, grads, X, targets, ws, return_sequences, loss):
        """Loss of one minibatch and its gradient with respect to every parameter.

        Parameters
        ----------
        coefs, grads : list of dict
            Parameter views and gradient views (outputs, overwritten).
        X : ndarray of shape (T, B, n_features)
            Time-major minibatch.
        targets : ndarray
            ``"squared"``: (B, n_outputs) or (T*B, n_outputs) values;
            ``"log"``: (B,) or (T*B,) class indices.
        loss : {"squared", "log"}
            Squared error halved and averaged over every predicted element,
            or softmax cross-entropy averaged over every predicted step.

        Returns
        -------
        loss : float
        """
        n_steps, batch, _ = X.shape
        caches = self.forward(coefs, X, ws)
        H = self.readout_input(caches, return_sequences)
        readout, g_readout = coefs[-1], grads[-1]
        out = self._readout(readout, H, ws.get("out", (H.shape[0], self.n_outputs)))
        if loss == "squared":
            out -= targets
            value = 0.5 * float(np.square(out).sum()) / out.size
            out *= 1.0 / out.size
        else:
            rows = np.arange(out.shape[0])
            out -= out.max(axis=1, keepdims=True)
            np.exp(out, out=out)
            out /= out.sum(axis=1, keepdims=True)
            value = -float(np.mean(np.log(np.maximum(out[rows, targets],
                                                     np.finfo(out.dtype).tiny))))
            out[rows, targets] -= 1
            out *= 1.0 / out.shape[0]
        d_out = out
        _blas.gemm_memview(True, False, 1.0, d_out, H, 0.0, g_readout["W_out"])
        np.sum(d_out, axis=0, out=g_readout["b_out"])
        dH = ws.get("dH_readout", H.shape)
        _blas.gemm_memview(False, False, 1.0, d_out, readout["W_out"], 0.0, dH)
        L = len(self.hidden_sizes)
        if return_sequences:
            dH_top = dH.reshape(n_steps, batch, -1)
            dh_n = None
        else:
            dH_top = ws.zeros("dH_top", (n_steps, batch, self.hidden_sizes[-1]))
            dh_n = [None] * (L - 1) + [dH]
        _layers.stack_backward(self.cell, coefs[:-1], grads[:-1], X, caches, dH_top,
                               dh_n, None, ws, self.activation)
        return value

    def loss_grad_parts(self, coefs, grads, parts, return_sequences, loss, executor):
        """:meth:`loss_grad` of one minibatch split into independent parts.

        Parameters
        ----------
        coefs : list of dict
            Parameter views.
        grads : ndarray of shape (n_params,)
            Flat gradient of the whole minibatch (output).
        parts : list of tuple
            ``(X, targets, ws, part_grads, part_grad_views)`` per part: a
            time-major slice of the minibatch's sequences with its own
            workspace and flat gradient buffer (with views). Part 0 runs in
            the calling thread, the others on ``executor``.
        return_sequences, loss
            As for :meth:`loss_grad`.

        Returns
        -------
        loss : float
            The whole minibatch's loss: the parts' means weighted by their
            share of the sequences, exactly as one pass over the batch.
        """
        def run(part):
            X, targets, ws, _, views = part
            return self.loss_grad(coefs, views, X, targets, ws, return_sequences, loss)

        futures = [executor.submit(run, part) for part in parts[1:]]
        losses = [run(parts[0])] + [f.result() for f in futures]
        n_total = sum(part[0].shape[1] for part in parts)
        value = 0.0
        for p, (part, part_loss) in enumerate(zip(parts, losses)):
            share = part[0].shape[1] / n_total
            value += share * part_loss
            if p == 0:
                np.multiply(part[3], share, out=grads)
            else:
                grads += share * part[3]
        return value

