"""The training layer: minibatches, data-parallel parts, threads, optimizer steps.

Between the estimators (validation, fitted state, the epoch loop's
bookkeeping) and the models (:mod:`crnn._model`). An epoch here is:
shuffle-order rows in, for every minibatch gather its sequences sorted by
length into packed parts (one per thread), run the model's loss and
gradient on every part in parallel, sum, add the L2 term and take one fused
optimizer step. Predict-time chunking and threads live here too.

Rows of a minibatch are independent sequences, so the parts never
synchronise: each runs its whole forward and backward pass in its own
thread with single-threaded BLAS (see ``_threads``). A part takes every
P-th sequence of the length-sorted minibatch, so parts get near-equal
numbers of valid steps.

Minibatches the compiled minibatch covers (``_minibatch.supports``: a
one-directional stack without layer norm or dropout, read out from its
final state, sequences of one length) skip the model's Python: the whole
step, parts, gradient sum and optimizer update, is one call of
``_minibatch.MinibatchRunner.step``, with the same result to the bit.
"""
from concurrent.futures import wait
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
import itertools

import numpy as np

from crnn import _minibatch, _optim, _threads
from crnn._layers import Packing, Workspace
from crnn._model import Minibatch
from crnn._network import RecurrentNetwork

# Sequences per chunk at predict time; each thread takes the next chunk not
# yet taken (_in_chunks, _minibatch.predict), so that a thread on a slower
# core (a shared VM's cores can differ by a quarter for minutes) takes fewer.
# The inference kernels keep one step's state, so the chunk bounds the lower
# layers' state sequences. With threads taking chunks in turn, 256 against
# 512 on a Zen 3 machine, alternating in one process after compare.py's
# settle, medians: W4 lstm 990 / 1092 ms, W2 gru 218 / 226, W2 lstm 259 /
# 273, W1 gru 12.3 / 13.1, W5 lstm 478 / 499, W3 lstm 1623 / 1633, W3 gru
# 1298 / 1288 (benchmarks/NOTES.md). With chunks assigned in a fixed order
# (Zen 4, hot: chunk 128 / 256 / 512 / 1024): W3 lstm 1.68 / 1.56 / 1.53 /
# 1.45 s, W2 gru 0.171 / 0.172 / 0.160 / 0.154 s, W4 gru 0.666 / 0.637 /
# 0.639 / 0.760 s.
PREDICT_CHUNK = 256


def build_model(config):
    """The model a plain config dict describes (what an estimator keeps):
    ``config["model"] == "seq2seq"`` is an encoder-decoder, anything else
    (older pickles have no "model" key) a :class:`RecurrentNetwork`."""
    if config.get("model") == "seq2seq":
        from crnn._seq2seq import Seq2SeqNetwork
        return Seq2SeqNetwork.from_config(config)
    return RecurrentNetwork.from_config(config)


class SequenceData:
    """A fit's training sequences, prepared once for minibatch gathers.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_steps, n_features)
        Batch-first sequences, padded past their lengths.
    targets : ndarray
        (n_samples, n_outputs) values or (n_samples,) class indices; with
        ``per_step`` one per step: (n_samples, n_steps, n_outputs) or
        (n_samples, n_steps).
    lengths : ndarray of int of shape (n_samples,) or None
        Valid steps per sequence; None means all ``n_steps``.
    per_step : bool
        Targets are given per step (a model with ``return_sequences``).
    """

    def __init__(self, X, targets, lengths=None, per_step=False):
        n_samples, n_steps, _ = X.shape
        self.X = X
        self._X_tm = None
        if lengths is None:
            lengths = np.full(n_samples, n_steps, dtype=np.intp)
        self.lengths = np.asarray(lengths, dtype=np.intp)
        self.per_step = per_step
        self.targets = np.ascontiguousarray(np.swapaxes(targets, 0, 1)) if per_step \
            else targets
        # Equal-length data (the common case) needs neither the per-minibatch
        # length sort nor a new Packing per part: at W1 those small NumPy
        # calls were a sixth of the epoch (benchmarks/NOTES.md, issue 8).
        self.uniform = bool(self.lengths.min() == self.lengths.max())
        self._packings = {}

    def _packing(self, lengths):
        if not self.uniform:
            return Packing(lengths)
        packing = self._packings.get(lengths.shape[0])
        if packing is None:
            packing = self._packings[lengths.shape[0]] = Packing(lengths)
        return packing

    @property
    def X_tm(self):
        """The sequences time-major, (n_steps, n_samples, n_features), copied
        on first use: the Python path's gathers then take the rows of a
        step with one take. The compiled minibatch reads ``X`` as given
        and does not need it (the copy took 1.2 ms of each W1 epoch)."""
        if self._X_tm is None:
            self._X_tm = np.ascontiguousarray(self.X.transpose(1, 0, 2))
        return self._X_tm

    @property
    def n_samples(self):
        return self.X.shape[0]

    def n_predictions(self, rows):
        """Predicted rows of ``rows`` (sequences, or valid steps per step)."""
        if not self.per_step:
            return rows.shape[0]
        if self.uniform:
            return rows.shape[0] * int(self.lengths[0])
        return int(self.lengths[rows].sum())

    def sort_longest_first(self, rows):
        """``rows`` reordered by length, longest first (stable)."""
        if self.uniform:
            return rows
        return rows[np.argsort(-self.lengths[rows], kind="stable")]

    def gather(self, rows):
        """Packed (X, targets, Packing) of ``rows``, which are sorted longest first."""
        packing = self._packing(self.lengths[:rows.shape[0]] if self.uniform
                                else self.lengths[rows])
        n_steps = packing.n_steps
        if packing.uniform:
            X = np.take(self.X_tm[:n_steps], rows, axis=1)
            X = X.reshape(-1, X.shape[2])
            if self.per_step:
                t = np.take(self.targets[:n_steps], rows, axis=1)
                targets = t.reshape((-1,) + t.shape[2:])
            else:
                targets = np.take(self.targets, rows, axis=0)
        else:
            steps, slots = packing.time_major_index()
            flat = steps * self.n_samples + rows[slots]
            X = np.take(self.X_tm.reshape(-1, self.X_tm.shape[2]), flat, axis=0)
            if self.per_step:
                targets = np.take(self.targets.reshape((-1,) + self.targets.shape[2:]),
                                  flat, axis=0)
            else:
                targets = np.take(self.targets, rows, axis=0)
        return X, targets, packing


@dataclass
class Hyper:
    """Optimizer and regularisation settings of one fit (named, not positional)."""

    solver: str
    learning_rate: float
    alpha: float
    clip_grad_norm: float  # 0 disables clipping
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8
    momentum: float = 0.9
    nesterov: bool = True
    truncate: object = None   # int window of truncated BPTT, or None
    dropout: float = 0.0


def _ignore_fp_warnings():
    """Thread initializer: this thread's NumPy ignores floating-point errors
    (np.errstate does not reach other threads; divergence is checked by the
    epoch loop, which reports it in one warning)."""
    np.seterr(all="ignore")


def new_optimizer_state(n_params, dtype, solver):
    """Moments and step count of the fused optimizer, as plain arrays and ints."""
    return {"m": np.zeros(n_params, dtype), "v": np.zeros(n_params, dtype)
            if solver == "adam" else None, "step": 0}


def copy_optimizer_state(state):
    return {key: (value.copy() if isinstance(value, np.ndarray) else value)
            for key, value in state.items()}


class _Part:
    """One part of a minibatch, gathered once: ahead of time by
    :meth:`prefetch`, or when the part is called.

    The calling thread, done with its own part of a minibatch, gathers the
    next minibatch's parts while the other threads finish theirs (at W1 it
    waited about 50 us for them), and stops once they have. A gather reads
    scattered rows, about 20-30 us a part at W1, and takes the GIL in
    between: on the critical path at the start of a minibatch it also held
    back the other thread's start. W1 epochs on two threads, alternating,
    min ms: lstm 33.4-34.6 -> 32.4-34.9 (median of six 34.5 -> 33.2), gru
    28.6-29.0 -> 27.0-27.6.
    """

    __slots__ = ("_gather", "_batch")

    def __init__(self, gather):
        self._gather = gather
        self._batch = None

    def prefetch(self):
        if self._batch is None:
            try:
                self._batch = self._gather()
            except Exception:  # left for the call, which raises it where it is handled
                self._batch = None

    def __call__(self):
        batch, self._batch = self._batch, None
        return self._gather() if batch is None else batch


class Trainer:
    """Runs minibatch epochs of one model over flat parameters, in parallel parts.

    Use as a context manager: the thread pool and the single-threaded-BLAS
    limit live inside the ``with`` block.

    Parameters
    ----------
    model : Model
    params : ndarray of shape (n_params,)
        Flat parameters, updated in place.
    optimizer_state : dict
        From :func:`new_optimizer_state`, updated in place.
    hyper : Hyper
    batch_size : int
    n_parts : int or None
        Most parts a minibatch is split into; None: one per thread crnn
        uses (``_threads.n_parts``).
    dropout_rng : numpy.random.Generator or None
        Draws the dropout masks (needed when ``hyper.dropout > 0``).
    workspaces : list of Workspace or None
        A previous trainer's ``part_ws`` to reuse (buffers are grow-only and
        keyed by layer, so any minibatch fits); None or a mismatch: new ones.
    compiled : bool, default=True
        Run the minibatches the compiled minibatch supports
        (``_minibatch.supports``) there, without the GIL; False: always the
        Python path (the tests compare the two).

    A minibatch of a small model is not split (``_threads.parts_for_work``):
    below ``_threads.MIN_PART_MULADDS`` per part, one thread is faster. An
    explicit ``n_parts`` (or a ``_threads._forced_threads`` block) splits by
    rows alone, so that tests reach the threaded path with small models.
    """

    def __init__(self, model, params, optimizer_state, hyper, batch_size, n_parts=None,
                 dropout_rng=None, workspaces=None, compiled=True):
        self.model = model
        self.params = params
        self.state = optimizer_state
        self.hyper = hyper
        self.batch_size = batch_size
        self.coefs = model.views(params)
        self.max_parts = _threads.n_parts(batch_size) if n_parts is None else n_parts
        self.split_by_work = n_parts is None and not _threads.forced()
        self.part_grads = [np.empty_like(params) for _ in range(self.max_parts)]
        self.part_views = [model.views(g) for g in self.part_grads]
        if (workspaces is not None and len(workspaces) >= self.max_parts
                and workspaces[0].dtype == model.dtype):
            self.part_ws = workspaces
        else:
            self.part_ws = [Workspace(model.dtype) for _ in range(self.max_parts)]
        self.grads = self.part_grads[0]
        self.dropout_rng = dropout_rng
        self.dropout_widths = model.dropout_widths() if hyper.dropout > 0 else []
        self.compiled = compiled
        self._workers = None     # PartWorkers of the Python path, made when first needed
        self._runner = None      # the compiled minibatch of _runner_data
        self._runner_data = None
        self._blas = None

    def __enter__(self):
        if self.max_parts > 1:
            self._blas = _threads.single_threaded_blas()
        else:
            self._blas = nullcontext()
        self._blas.__enter__()
        return self

    def __exit__(self, *exc):
        # the workers finish any part they hold before the BLAS limit ends
        for worker in self._workers or ():
            worker.close()
        self._workers = None
        self._close_runner()
        self._blas.__exit__(*exc)
        return False

    def _part_workers(self):
        if self._workers is None:
            self._workers = [_threads.PartWorker(initializer=_ignore_fp_warnings)
                             for _ in range(self.max_parts - 1)]
        return self._workers

    def _close_runner(self):
        if self._runner is not None:
            self._runner.close()
        self._runner = self._runner_data = None

    def _n_parts(self, n_rows, n_steps_total):
        """Parts a minibatch of ``n_rows`` sequences of ``n_steps_total``
        steps in all is split into."""
        n_parts = min(self.max_parts, max(1, n_rows // _threads.MIN_ROWS_PER_PART))
        if n_parts > 1 and self.split_by_work:
            # parameters x input steps: the forward multiply-adds, closely for
            # a recurrent stack (its weights dominate the parameter count)
            n_parts = _threads.parts_for_work(n_parts, self.params.size * n_steps_total)
        return n_parts

    def _runner_for(self, data):
        """The compiled minibatch for ``data``, or None: the Python path."""
        if self._runner_data is data:
            return self._runner
        self._close_runner()
        self._runner_data = data
        if not (self.compiled and _minibatch.supports(self.model, data, self.hyper)):
            return None
        n_steps = int(data.lengths[0])
        # the sizes an epoch's minibatches have: full, and the last one
        sizes = {min(self.batch_size, data.n_samples), data.n_samples % self.batch_size}
        splits = [(B, self._n_parts(B, B * n_steps)) for B in sizes if B > 0]
        max_parts = max(n for _, n in splits)
        max_rows = max(-(-B // n) for B, n in splits)
        self._runner = _minibatch.MinibatchRunner(
            self.model, self.params, self.part_grads[:max_parts], self.part_ws[:max_parts],
            data, self.hyper.truncate, max_rows, _threads.PART_SPIN_SECONDS)
        return self._runner

    def _runner_parts(self, runner, n_rows, n_steps):
        """The parts of a minibatch of ``n_rows`` sequences of ``n_steps``
        steps, or None when ``runner`` cannot take them."""
        n_parts = self._n_parts(n_rows, n_rows * n_steps)
        if n_parts > runner.max_parts or -(-n_rows // n_parts) > runner.max_rows:
            return None
        return n_parts

    def _compiled_step(self, data, rows):
        """:meth:`step` on the minibatch ``rows`` by the compiled minibatch,
        or None when it does not take it."""
        runner = self._runner_for(data)
        if runner is None:
            return None
        n_parts = self._runner_parts(runner, rows.shape[0], int(data.lengths[0]))
        if n_parts is None:
            return None
        state = self.state
        loss = runner.step(np.ascontiguousarray(rows, dtype=np.intp), n_parts,
                           (state["m"], state["v"]), self.hyper, state["step"] + 1)
        state["step"] += 1
        return loss

    def _compiled_epoch(self, data, order):
        """:meth:`epoch` by the compiled minibatch, all its minibatches in one
        call, or None when that does not take every one of them."""
        runner = self._runner_for(data)
        n = order.shape[0]
        if runner is None or n == 0:
            return None
        n_steps = int(data.lengths[0])
        # the parts of a full minibatch (none when n < batch_size) and of the
        # last one (n % batch_size rows, or a full one)
        last_rows = n % self.batch_size or self.batch_size
        parts = {n_rows: self._runner_parts(runner, n_rows, n_steps)
                 for n_rows in {min(self.batch_size, n), last_rows}}
        if None in parts.values():
            return None
        state = self.state
        total, first_loss, n_done = runner.epoch(
            np.ascontiguousarray(order, dtype=np.intp), self.batch_size,
            parts.get(self.batch_size, 1), parts[last_rows],
            (state["m"], state["v"]), self.hyper, state["step"] + 1)
        state["step"] += n_done
        return total / n, first_loss

    def parts(self, data, rows):
        """The minibatch ``rows`` split into parts, one per thread.

        Returns
        -------
        parts : list of callable
            ``parts[p]()`` returns part p as a packed :class:`Minibatch`,
            gathered by the thread that runs it (the parts' gathers then run
            side by side) unless ``parts[p].prefetch()`` already gathered
            it (:meth:`loss_grad` does, for the next minibatch, while
            waiting for the other threads).
        """
        rows = data.sort_longest_first(rows)
        n_parts = self._n_parts(rows.shape[0], int(data.lengths[rows].sum()))
        n_predictions = data.n_predictions(rows)
        masks = self._dropout_masks(int(data.lengths[rows[0]]), rows.shape[0])
        return [_Part(partial(self._gather_part, data, rows, p, n_parts, n_predictions, masks))
                for p in range(n_parts)]

    def _gather_part(self, data, rows, p, n_parts, n_predictions, masks):
        """Part ``p`` of ``n_parts`` of the minibatch ``rows`` (sorted longest
        first): its sequences are minibatch slots p, p + n_parts, ..."""
        # a model's data may add what else its parts need (an encoder-decoder's
        # decoder rows) as a fourth item
        X, targets, packing, *extra = data.gather(rows[p::n_parts] if n_parts > 1 else rows)
        part_masks = None
        if masks:
            steps, slots = packing.time_major_index()
            part_masks = [m[steps, p + slots * n_parts] for m in masks]
        return Minibatch(X, packing, targets, n_predictions, dropout_masks=part_masks,
                         truncate=self.hyper.truncate, extra=extra[0] if extra else None)

    def _dropout_masks(self, n_steps, batch):
        """Dropout multipliers (T, B, width) for the whole minibatch, drawn before
        it is split so that they do not depend on the number of threads."""
        if not self.dropout_widths:
            return None
        keep = 1.0 - self.hyper.dropout
        dtype = self.model.dtype
        return [(self.dropout_rng.random((n_steps, batch, width), dtype=np.float32) < keep)
                .astype(dtype) * dtype.type(1.0 / keep) for width in self.dropout_widths]

    def loss_grad(self, parts, next_parts=None):
        """Loss of a minibatch from its parts (:meth:`parts`: each gathers its
        Minibatch in the thread that runs it); its gradient lands in ``self.grads``.

        ``next_parts``, the next minibatch's :meth:`parts` (or None): the
        calling thread gathers them once its own part here is done.
        """
        model, coefs = self.model, self.coefs

        def run(p):
            return model.loss_grad(coefs, self.part_views[p], parts[p](), self.part_ws[p])

        workers = self._part_workers()[:len(parts) - 1] if len(parts) > 1 else []
        for p, worker in enumerate(workers, start=1):
            worker.submit(lambda p=p: run(p))
        try:
            loss = run(0)
            # gather ahead only while another part still runs: after that,
            # each part is gathered by its own thread, side by side
            for part in next_parts or ():
                if not (isinstance(part, _Part) and any(w.running() for w in workers)):
                    break
                part.prefetch()
        finally:
            # every part writes its own gradient buffer: none may still run
            # when this returns or raises
            values = []
            for worker in workers:
                try:
                    values.append(worker.result())
                except BaseException as exc:
                    values.append(exc)
        for p, value in enumerate(values, start=1):
            if isinstance(value, BaseException):
                raise value
            loss += value
            self.grads += self.part_grads[p]
        return loss

    def step(self, data, rows, parts=None, next_parts=None):
        """One minibatch: loss and gradient, the L2 term, one optimizer update.

        ``parts``: ``self.parts(data, rows)`` if already made (None: made
        here); ``next_parts``: as for :meth:`loss_grad`.

        Returns
        -------
        loss : float
            The minibatch's mean loss plus ``0.5 * alpha / B * ||W||^2``,
            computed before the update.
        """
        hyper, model, params, state = self.hyper, self.model, self.params, self.state
        if parts is None:
            loss = self._compiled_step(data, rows)
            if loss is not None:
                return loss
            parts = self.parts(data, rows)
        loss = self.loss_grad(parts, next_parts)
        l2 = hyper.alpha / rows.shape[0]
        if hyper.alpha > 0:
            # in double, as the compiled minibatch's step adds it
            loss += 0.5 * l2 * _optim.weight_penalty(params, model.n_decay)
        state["step"] += 1
        if hyper.solver == "adam":
            _optim.adam_step(params, self.grads, state["m"], state["v"], model.n_decay, l2,
                             hyper.clip_grad_norm, hyper.learning_rate, hyper.beta_1,
                             hyper.beta_2, hyper.epsilon, state["step"])
        else:
            _optim.sgd_step(params, self.grads, state["m"], model.n_decay, l2,
                            hyper.clip_grad_norm, hyper.learning_rate, hyper.momentum,
                            hyper.nesterov)
        return loss

    def epoch(self, data, order):
        """One pass over ``data`` in the row order ``order``.

        Returns
        -------
        loss : float
            The mean of the minibatch losses weighted by minibatch size.
        first_loss : float
            The first minibatch's loss (computed before any update of the
            epoch): not finite means the epoch started from broken parameters.
        """
        compiled = self._compiled_epoch(data, order)
        if compiled is not None:
            return compiled
        total, first_loss = 0.0, None
        batches = [order[start:start + self.batch_size]
                   for start in range(0, order.shape[0], self.batch_size)]
        # each minibatch's parts are made (and its dropout masks drawn, in
        # minibatch order) one step ahead, so that they can be gathered
        # ahead; compiled minibatches gather their own rows
        ahead = self._runner_for(data) is None
        parts = self.parts(data, batches[0]) if batches and ahead else None
        for k, rows in enumerate(batches):
            next_parts = (self.parts(data, batches[k + 1])
                          if ahead and k + 1 < len(batches) else None)
            loss = self.step(data, rows, parts, next_parts)
            parts = next_parts
            total += loss * rows.shape[0]
            if first_loss is None:
                first_loss = loss
            if not np.isfinite(total):
                break  # the epoch is lost; skip its remaining minibatches
        return total / order.shape[0], first_loss


def predict(model, coefs, X, lengths=None, compiled_predict=True):
    """Raw outputs of ``model`` on batch-first ``X`` in chunks, one thread per part.

    The models and inputs ``_minibatch.predict_supports`` accepts run in
    compiled code without the GIL (the same outputs to the bit), unless
    ``compiled_predict`` is False; the others chunk by chunk through
    ``model.predict_raw``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_steps, n_features), C-contiguous
    lengths : ndarray of int of shape (n_samples,) or None

    Returns
    -------
    out : ndarray of shape (n_samples, n_outputs) or (n_samples, n_steps, n_outputs)
    """
    if compiled_predict and _minibatch.predict_supports(model, X, lengths):
        bounds, n_parts = _chunk_bounds(X.shape[0])
        return _minibatch.predict(model, coefs, X, bounds, n_parts,
                                  [Workspace(model.dtype) for _ in range(n_parts)],
                                  _threads.PART_SPIN_SECONDS)
    return _in_chunks(lambda Xc, lc, ws: model.predict_raw(coefs, Xc, ws, lc), model, X, lengths)


def forecast(model, coefs, X, lengths, steps):
    """:meth:`Model.forecast_raw` of ``X`` in chunks, one thread per part.

    Returns
    -------
    out : ndarray of shape (n_samples, steps, n_outputs)
    """
    return _in_chunks(lambda Xc, lc, ws: model.forecast_raw(coefs, Xc, ws, lc, steps),
                      model, X, lengths)


def decode(model, coefs, X, lengths, max_length, end_index=-1):
    """Greedy decoding of an encoder-decoder (``Seq2SeqNetwork.decode_raw``) in
    chunks, one thread per part.

    Returns
    -------
    out : ndarray of shape (n_samples, n_run, n_outputs)
    labels : ndarray of int of shape (n_samples, n_run)
    out_lengths : ndarray of int of shape (n_samples,)
        ``n_run`` is the most steps any chunk ran (chunks stop early once all
        their sequences have ended).
    """
    out, labels, out_lengths, n_run = _in_chunks(
        lambda Xc, lc, ws: model.decode_raw(coefs, Xc, ws, lc, max_length, end_index,
                                            trim=False), model, X, lengths)
    n_run = int(n_run.max())
    return out[:, :n_run], labels[:, :n_run], out_lengths


def _chunk_bounds(n_samples):
    """(lo, hi) rows of each predict chunk, and the number of threads."""
    n_parts = _threads.n_parts(n_samples)
    bounds = [(start, min(start + PREDICT_CHUNK, n_samples))
              for start in range(0, n_samples, PREDICT_CHUNK)]
    if len(bounds) < n_parts:  # at least one chunk per thread
        edges = _threads.split(n_samples, n_parts)
        bounds = list(zip(edges[:-1], edges[1:]))
    return bounds, n_parts


def _in_chunks(run_chunk, model, X, lengths):
    """Concatenated ``run_chunk(X_chunk, lengths_chunk, workspace)`` over chunks
    of at most PREDICT_CHUNK sequences, shared out over crnn's threads (a
    tuple of arrays is concatenated item by item)."""
    bounds, n_parts = _chunk_bounds(X.shape[0])
    outputs = [None] * len(bounds)
    errstate = np.geterr()  # worker threads follow the caller's np.errstate

    # each thread takes the next chunk not yet taken (next() on a count is
    # atomic under the GIL): a thread on a slower core takes fewer
    chunks = itertools.count()

    def run():
        # a thread's chunks share one workspace, in turn
        ws = Workspace(model.dtype)
        with np.errstate(**errstate):
            for c in chunks:
                if c >= len(bounds):
                    break
                lo, hi = bounds[c]
                outputs[c] = run_chunk(X[lo:hi], None if lengths is None else lengths[lo:hi],
                                       ws)

    if n_parts == 1:
        run()
    else:
        executor = _threads.worker_pool(n_parts - 1)
        with _threads.single_threaded_blas():
            futures = [executor.submit(run) for _ in range(1, n_parts)]
            try:
                run()
            finally:
                # the workers write into outputs and run BLAS under the limit:
                # neither may outlive this block, even when run() raised
                wait(futures)
            for f in futures:
                f.result()
    if isinstance(outputs[0], tuple):
        return tuple(np.concatenate(items, axis=0) for items in zip(*outputs))
    return np.concatenate(outputs, axis=0) if len(outputs) > 1 else outputs[0]
