"""The compiled minibatch: a training minibatch's parts, from the gather of
their rows to the sum of their gradients, without the GIL, in C threads.

The Python path of ``_training.Trainer`` runs each part through the model's
``loss_grad`` in a Python thread: a W1 lstm part (16 sequences of 50 steps)
spends about 282 us in the kernels and 50 us in Python, and the two parts'
Python must take turns at the GIL, each wait a sleep and a wake-up of
25-40 us on this kind of VM (benchmarks/NOTES.md, ninth session). Here the
main thread hands each other part to a C thread that never takes the GIL,
runs its own part, waits for the others by spinning, sums the gradients
and takes the optimizer step: one Python call a minibatch.

It covers the common model: a stack of one-directional layers with no layer
normalisation and no dropout, read out from the top layer's final state,
trained on sequences of one length with the squared or the log loss
(``supports``). It calls the passes the Python path calls (``forward_pass``,
``backward_pass``, :func:`readout_loss_grad`) in the same order on the same
rows, so the two paths give the same parameters to the bit
(tests/test_minibatch.py).

The same worker threads run ``predict`` for those models on sequences of
one length (:func:`predict`): each chunk through the stack step by step
(``infer_step``, layer after layer at each step), then the readout, in one
call, with the Python path's outputs to the bit.
"""
from cython cimport floating
from libc.float cimport DBL_MIN, FLT_MIN
from libc.math cimport exp, isfinite, log
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

from crnn._blas cimport gemm, NoTrans, Trans
from crnn._optim cimport optimizer_step, squared_sum
from crnn._cells cimport CELL_GRU, CELL_LSTM
from crnn._fpenv cimport crnn_fp_enter, crnn_fp_exit, crnn_fpstate
from crnn._packed cimport infer_step, infer_width, pack_infer
from crnn._recurrent cimport backward_pass, flush_denormals, forward_pass

cdef extern from "_gate_rows.h" nogil:
    int crnn_infer_units

import os
import threading

import numpy as np

from crnn import _spec

cdef extern from "_event.h" nogil:
    ctypedef struct crnn_event:
        pass
    int crnn_event_init(crnn_event* e)
    void crnn_event_destroy(crnn_event* e)
    void crnn_event_set(crnn_event* e)
    void crnn_event_wait(crnn_event* e, double spin_seconds)
    Py_ssize_t crnn_take_next(Py_ssize_t* counter)


cdef void _readout_rows(Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t n_in, Py_ssize_t n_outputs,
                        const floating* H, const floating* W_out, const floating* b_out,
                        floating* out) noexcept nogil:
    """out[lo:hi] = H[lo:hi] W_out^T + b_out, as ``RecurrentNetwork._readout``."""
    cdef Py_ssize_t r, j
    gemm(NoTrans, Trans, hi - lo, n_outputs, n_in, 1, H + lo * n_in, n_in, W_out, n_in, 0,
         out + lo * n_outputs, n_outputs)
    for r in range(lo, hi):
        for j in range(n_outputs):
            out[r * n_outputs + j] += b_out[j]


cdef double readout_loss_grad(bint log_loss, Py_ssize_t n_rows, Py_ssize_t n_in,
                              Py_ssize_t n_outputs, const floating* H, const floating* W_out,
                              const floating* b_out, const floating* targets,
                              const Py_ssize_t* labels, double n_predictions, floating* out,
                              floating* gW_out, floating* gb_out,
                              floating* dH) noexcept nogil:
    """The readout, the loss and their backward for ``n_rows`` rows of H
    (n_rows, n_in): out = H W_out^T + b_out; returns this part's share of
    the loss, a mean over ``n_predictions`` rows of the whole minibatch
    (squared: half the squared error of every element against ``targets``
    (n_rows, n_outputs); log: softmax cross-entropy against the class
    indices ``labels``). Sets gW_out = d_out^T H, gb_out = column sums of
    d_out and dH = d_out W_out, leaving d_out = dL/d(out) in ``out``."""
    cdef Py_ssize_t r, j
    cdef double value = 0.0, count
    cdef floating scale, top, total, square
    cdef floating* row
    _readout_rows(0, n_rows, n_in, n_outputs, H, W_out, b_out, out)
    if not log_loss:
        count = n_predictions * n_outputs
        scale = <floating>(1.0 / count)
        for r in range(n_rows):
            row = out + r * n_outputs
            for j in range(n_outputs):
                row[j] -= targets[r * n_outputs + j]
                # squared in the model's precision, so a float32 loss
                # overflows where the model's arithmetic does (the
                # divergence check reads it), summed in double
                square = row[j] * row[j]
                value += square
                row[j] *= scale
        value = 0.5 * value / count
    else:
        scale = <floating>(1.0 / n_predictions)
        for r in range(n_rows):
            row = out + r * n_outputs
            top = row[0]
            for j in range(1, n_outputs):
                if row[j] > top:
                    top = row[j]
            total = 0
            for j in range(n_outputs):
                row[j] = <floating>exp(row[j] - top)
                total += row[j]
            for j in range(n_outputs):
                row[j] /= total
            if floating is float:
                value -= log(row[labels[r]] if row[labels[r]] > FLT_MIN else FLT_MIN)
            else:
                value -= log(row[labels[r]] if row[labels[r]] > DBL_MIN else DBL_MIN)
            row[labels[r]] -= 1
            for j in range(n_outputs):
                row[j] *= scale
        value /= n_predictions
    gemm(Trans, NoTrans, n_outputs, n_in, n_rows, 1, out, n_outputs, H, n_in, 0, gW_out, n_in)
    memset(gb_out, 0, n_outputs * sizeof(floating))
    for r in range(n_rows):
        for j in range(n_outputs):
            gb_out[j] += out[r * n_outputs + j]
    gemm(NoTrans, NoTrans, n_rows, n_in, n_outputs, 1, out, n_outputs, W_out, n_in, 0, dH, n_in)
    return value


def readout_loss(bint log_loss, const floating[:, ::1] H, const floating[:, ::1] W_out,
                 const floating[::1] b_out, targets, double n_predictions,
                 floating[:, ::1] out, floating[:, ::1] gW_out, floating[::1] gb_out,
                 floating[:, ::1] dH):
    """:func:`readout_loss_grad` on arrays (the Python path's readout).

    Parameters
    ----------
    log_loss : bool
    H : ndarray of shape (n_rows, n_in)
    W_out : ndarray of shape (n_outputs, n_in)
    b_out : ndarray of shape (n_outputs,)
    targets : ndarray
        Squared loss: (n_rows, n_outputs) of H's dtype; log loss: (n_rows,)
        class indices.
    n_predictions : float
        Rows of the whole minibatch the loss is a mean over.
    out, gW_out, gb_out, dH : ndarray
        Outputs, shaped like H W_out^T, W_out, b_out and H.

    Returns
    -------
    loss : float
    """
    cdef Py_ssize_t n_rows = H.shape[0], n_in = H.shape[1], n_outputs = W_out.shape[0]
    cdef const floating[:, ::1] values
    cdef const Py_ssize_t[::1] labels
    cdef const floating* values_p = NULL
    cdef const Py_ssize_t* labels_p = NULL
    cdef double value
    if (W_out.shape[1] != n_in or b_out.shape[0] != n_outputs
            or out.shape[0] != n_rows or out.shape[1] != n_outputs
            or gW_out.shape[0] != n_outputs or gW_out.shape[1] != n_in
            or gb_out.shape[0] != n_outputs or dH.shape[0] != n_rows or dH.shape[1] != n_in):
        raise ValueError("readout_loss: shapes do not match")
    if n_rows == 0:
        raise ValueError("readout_loss: no rows")
    if log_loss:
        labels = np.ascontiguousarray(targets, dtype=np.intp).reshape(-1)
        if labels.shape[0] != n_rows:
            raise ValueError("readout_loss: one class index per row expected")
        labels_p = &labels[0]
        if np.any(np.asarray(labels) < 0) or np.any(np.asarray(labels) >= n_outputs):
            raise ValueError("readout_loss: class index out of range")
    else:
        values = targets
        if values.shape[0] != n_rows or values.shape[1] != n_outputs:
            raise ValueError("readout_loss: targets do not match the outputs")
        values_p = &values[0, 0]
    with nogil:
        value = readout_loss_grad(log_loss, n_rows, n_in, n_outputs, &H[0, 0], &W_out[0, 0],
                                  &b_out[0], values_p, labels_p, n_predictions, &out[0, 0],
                                  &gW_out[0, 0], &gb_out[0], &dH[0, 0])
    return value


# Where one layer's parameters and one part's buffers are: offsets in
# elements into the flat parameter (and gradient) vector, and into a part's
# work buffer (-1: the cell has none).
cdef struct LayerPlan:
    Py_ssize_t n_in, n_hidden, n_delta
    Py_ssize_t W_ih, W_hh, b_ih, b_hh
    Py_ssize_t gates, H_prev, C_prev, extra, hh, H_out, h_cur, c_cur, dh_cur, dc_cur, delta, dX


cdef struct Job:
    # rows first, first + stride, ... (n of them) of the minibatch's rows
    const Py_ssize_t* rows
    Py_ssize_t first, stride, n
    char* grads          # the part's flat gradient
    char* work           # its buffers (LayerPlan offsets and the plan's own)
    Py_ssize_t* index    # batch_sizes (n_steps), lengths and labels (max_rows each)
    double loss
    int status


cdef struct Plan:
    int cell, activation, log_loss, is_double
    Py_ssize_t n_layers, n_steps, n_samples, n_features, n_outputs, truncate, max_rows
    LayerPlan* layers
    char* params              # read by the parts, updated by step()
    const char* X_data        # (n_samples, ld_steps, n_features) sequences, batch-first
    Py_ssize_t ld_steps       # X's steps (n_steps of them are used)
    const char* targets       # (n_samples, n_outputs) values (squared loss)
    const Py_ssize_t* labels  # (n_samples,) class indices (log loss)
    Py_ssize_t W_out, b_out   # readout offsets into params
    Py_ssize_t X, y, out      # offsets into a part's work buffer
    double n_predictions
    Job* jobs                 # one per part; jobs[0] runs in the calling thread


# A worker thread's mailbox: the runner that holds the worker points it at
# its plan and one of its jobs, then starts it once per minibatch.
ctypedef int (*job_fn)(void* plan, void* job) noexcept nogil

cdef struct Slot:
    crnn_event start, done
    job_fn run
    void* plan
    void* job
    double spin_seconds


cdef int _run_with_workers(Slot** slots, Py_ssize_t n_workers, job_fn run, void* plan,
                           void* job, double spin_seconds) noexcept nogil:
    """Start each worker on its job, run ``job`` here, wait for the workers;
    returns run's status for ``job``."""
    cdef Py_ssize_t w
    cdef int status
    for w in range(n_workers):
        crnn_event_set(&slots[w].start)
    status = run(plan, job)
    for w in range(n_workers):
        crnn_event_wait(&slots[w].done, spin_seconds)
    return status


cdef int _run_part(Plan* plan, Job* job, floating kind) noexcept nogil:
    """One part: gather its rows, forward through the stack, readout and
    loss, backward; its gradient in ``job.grads``, its loss in ``job.loss``.
    Returns 0, or -1 when a pass ran out of memory."""
    cdef:
        Py_ssize_t B = job.n, T = plan.n_steps, I = plan.n_features, O = plan.n_outputs
        Py_ssize_t R = T * B, t, b, k, row
        floating* work = <floating*>job.work
        const floating* params = <const floating*>plan.params
        floating* grads = <floating*>job.grads
        const floating* X_in = <const floating*>plan.X_data
        floating* X = work + plan.X
        floating* y = work + plan.y
        Py_ssize_t* batch_sizes = job.index
        Py_ssize_t* lengths = job.index + T
        Py_ssize_t* labels = job.index + T + plan.max_rows
        const floating* inputs
        const floating* dH_above
        LayerPlan* L
        bint lstm = plan.cell == CELL_LSTM
    for t in range(T):
        batch_sizes[t] = B
    for b in range(B):
        lengths[b] = T
        row = job.rows[job.first + b * job.stride]
        if plan.log_loss:
            labels[b] = plan.labels[row]
        else:
            memcpy(y + b * O, <const floating*>plan.targets + row * O, O * sizeof(floating))
    # packed time-major rows from batch-first X, one sequence at a time
    # (each sequence's steps are contiguous in X)
    for b in range(B):
        row = job.rows[job.first + b * job.stride]
        for t in range(T):
            memcpy(X + (t * B + b) * I, X_in + (row * plan.ld_steps + t) * I,
                   I * sizeof(floating))
    inputs = X
    for k in range(plan.n_layers):
        L = &plan.layers[k]
        memset(work + L.h_cur, 0, B * L.n_hidden * sizeof(floating))
        if lstm:
            memset(work + L.c_cur, 0, B * L.n_hidden * sizeof(floating))
        if forward_pass(plan.cell, plan.activation, T, R, L.n_in, L.n_hidden,
                        params + L.W_ih, params + L.W_hh, params + L.b_ih, params + L.b_hh,
                        inputs, batch_sizes, False, work + L.h_cur,
                        work + L.c_cur if lstm else NULL, work + L.gates, work + L.H_prev,
                        work + L.C_prev if lstm else NULL,
                        work + L.extra if L.extra >= 0 else NULL,
                        work + L.hh if L.hh >= 0 else NULL, work + L.H_out, L.n_hidden, 0,
                        NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL) < 0:
            return -1
        inputs = work + L.H_out
    L = &plan.layers[plan.n_layers - 1]
    # the top layer's final states; dL/d(those) lands in its dh_cur
    job.loss = readout_loss_grad(plan.log_loss, B, L.n_hidden, O, work + L.h_cur,
                                 params + plan.W_out, params + plan.b_out, y, labels,
                                 plan.n_predictions, work + plan.out, grads + plan.W_out,
                                 grads + plan.b_out, work + L.dh_cur)
    dH_above = NULL
    for k in range(plan.n_layers - 1, -1, -1):
        L = &plan.layers[k]
        if k < plan.n_layers - 1:
            memset(work + L.dh_cur, 0, B * L.n_hidden * sizeof(floating))
        if lstm:
            memset(work + L.dc_cur, 0, B * L.n_hidden * sizeof(floating))
        inputs = X if k == 0 else work + plan.layers[k - 1].H_out
        if backward_pass(plan.cell, plan.activation, T, R, L.n_in, L.n_hidden, L.n_delta,
                         params + L.W_ih, params + L.W_hh, inputs, batch_sizes, lengths,
                         False, plan.truncate, work + L.gates, work + L.H_prev,
                         work + L.C_prev if lstm else NULL,
                         work + L.extra if L.extra >= 0 else NULL,
                         dH_above, L.n_hidden if dH_above != NULL else 0, 0,
                         work + L.dh_cur, work + L.dc_cur if lstm else NULL, work + L.delta,
                         grads + L.W_ih, grads + L.W_hh, grads + L.b_ih, grads + L.b_hh,
                         work + L.dX if k > 0 else NULL, False,
                         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                         NULL, NULL, NULL) < 0:
            return -1
        dH_above = work + L.dX if k > 0 else NULL
    return 0


cdef inline void _add_into(floating* dst, const floating* src, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dst[i] += src[i]


cdef int _train_job(void* plan, void* job) noexcept nogil:
    """A part (a job_fn): its status also in ``job.status``."""
    cdef Job* part = <Job*>job
    if (<Plan*>plan).is_double:
        part.status = _run_part(<Plan*>plan, part, <double>0)
    else:
        part.status = _run_part(<Plan*>plan, part, <float>0)
    return part.status


cdef void _serve(Slot* slot) noexcept nogil:
    """A worker's loop: run its job each time it is started (for the life
    of the process)."""
    while True:
        crnn_event_wait(&slot.start, slot.spin_seconds)
        slot.run(slot.plan, slot.job)
        crnn_event_set(&slot.done)


cdef class _Worker:
    """A thread that runs compiled minibatch parts and predict chunks,
    without the GIL.

    Workers are kept for the life of the process (``_acquire_workers``,
    ``_release_workers``): starting and joining a thread cost about 0.35 ms
    of each W1 ``partial_fit``. An idle worker polls for its next job for
    ``spin_seconds``, then sleeps on a condition variable.
    """

    cdef Slot* slot
    cdef object thread

    def __cinit__(self):
        self.slot = <Slot*>calloc(1, sizeof(Slot))
        if self.slot == NULL:
            raise MemoryError()
        if crnn_event_init(&self.slot.start) != 0:
            free(self.slot)
            self.slot = NULL
            raise MemoryError()
        if crnn_event_init(&self.slot.done) != 0:
            crnn_event_destroy(&self.slot.start)
            free(self.slot)
            self.slot = NULL
            raise MemoryError()
        self.thread = threading.Thread(target=self._loop, name="crnn-minibatch", daemon=True)
        self.thread.start()

    def _loop(self):
        with nogil:
            _serve(self.slot)

    # The slot is never freed: a worker lives as long as the process (its
    # thread holds a reference), and one left in a forked child belongs to
    # a thread that does not exist there.


_idle_workers = []
_workers_lock = threading.Lock()


def _forget_workers_after_fork():
    # a forked child has none of the parent's threads
    global _idle_workers, _workers_lock
    _idle_workers, _workers_lock = [], threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers_after_fork)


def _acquire_workers(n):
    """``n`` workers for one runner's exclusive use: idle ones first."""
    with _workers_lock:
        taken = _idle_workers[len(_idle_workers) - n:] if n <= len(_idle_workers) \
            else list(_idle_workers)
        del _idle_workers[len(_idle_workers) - len(taken):]
    return taken + [_Worker() for _ in range(n - len(taken))]


cdef void _bind_workers(list workers, Slot** slots, job_fn run, void* plan, char* jobs,
                        size_t job_size, double spin_seconds):
    """Point worker w at ``plan`` and job w + 1 of the array ``jobs``."""
    cdef _Worker worker
    cdef Py_ssize_t w
    for w in range(len(workers)):
        worker = workers[w]
        worker.slot.run = run
        worker.slot.plan = plan
        worker.slot.job = jobs + (w + 1) * job_size
        worker.slot.spin_seconds = spin_seconds
        slots[w] = worker.slot


def _release_workers(workers):
    """Hand workers back, pointing at nothing of their last user's."""
    cdef _Worker worker
    for worker in workers:
        worker.slot.plan = NULL
        worker.slot.job = NULL
    with _workers_lock:
        _idle_workers.extend(workers)


def idle_workers():
    """How many minibatch workers are idle (for the tests)."""
    return len(_idle_workers)


def supports(model, data, hyper):
    """Whether :class:`MinibatchRunner` can train ``model`` on ``data``
    (a ``_training.SequenceData``) with ``hyper`` (a ``_training.Hyper``)."""
    from crnn._network import RecurrentNetwork
    return (type(model) is RecurrentNetwork and not model.return_sequences
            and not model.bidirectional and not model.layer_norm
            and model.loss in ("squared", "log") and hyper.dropout == 0
            and data.uniform and not data.per_step
            and model.dtype in (np.float32, np.float64)
            and data.X.dtype == model.dtype)


cdef struct StepHyper:
    # the optimizer's settings, read once per call (Hyper's attributes)
    double alpha, max_norm, learning_rate, beta_1, beta_2, epsilon, momentum
    bint adam, nesterov


cdef StepHyper _step_hyper(hyper) except *:
    cdef StepHyper h
    h.alpha, h.max_norm = hyper.alpha, hyper.clip_grad_norm
    h.learning_rate, h.beta_1, h.beta_2 = hyper.learning_rate, hyper.beta_1, hyper.beta_2
    h.epsilon, h.momentum = hyper.epsilon, hyper.momentum
    h.adam, h.nesterov = hyper.solver == "adam", hyper.nesterov
    return h


cdef class MinibatchRunner:
    """Runs training minibatches of one model on one fit's data, in compiled parts.

    Parameters
    ----------
    model : RecurrentNetwork
        Must pass :func:`supports`.
    params : ndarray of shape (n_params,)
        The flat parameters (read; the optimizer updates them in place).
    part_grads : list of ndarray of shape (n_params,)
        One gradient buffer per part; the minibatch's gradient lands in the first.
    workspaces : list of Workspace
        One per part: each part's buffers are one of its arrays.
    data : SequenceData
    truncate : int or None
        Truncated BPTT window.
    max_rows : int
        Most rows (sequences) a part will hold.
    spin_seconds : float
        How long a worker polls for its next part before it sleeps.

    Use :meth:`close` (the ``Trainer`` does) to hand the worker threads back.
    """

    cdef Plan plan
    cdef Py_ssize_t n_workers, n_params, n_decay
    cdef Slot** slots      # worker w runs part w + 1
    cdef double spin_seconds
    cdef object _keep      # the arrays the plan points into
    cdef object _workers
    cdef bint _closed

    def __cinit__(self):
        self.plan.layers = NULL
        self.plan.jobs = NULL
        self.slots = NULL
        self.n_workers = 0
        self._workers = []
        self._closed = True

    def __init__(self, model, params, part_grads, workspaces, data, truncate,
                 Py_ssize_t max_rows, double spin_seconds):
        dtype = model.dtype
        n_parts = len(part_grads)
        itemsize = dtype.itemsize
        align = 64 // itemsize
        sizes = {"work": 0}

        def alloc(n):
            # offsets start on a cache line, as Workspace buffers do
            offset = sizes["work"]
            sizes["work"] = offset + -(-n // align) * align
            return offset

        # one length (supports): the first lengths[0] steps of every sequence
        T, I = int(data.lengths[0]), data.X.shape[2]
        R, B = T * max_rows, max_rows
        cell = model.cell
        coefs = model.views(params)
        # (no negative indices: wraparound is off in the kernels' modules)
        readout = coefs[len(coefs) - 1]
        base = params.ctypes.data

        def offset_of(view):
            return (view.ctypes.data - base) // itemsize

        self.plan.layers = <LayerPlan*>calloc(len(model.hidden_sizes), sizeof(LayerPlan))
        self.plan.jobs = <Job*>calloc(n_parts, sizeof(Job))
        self.slots = <Slot**>calloc(max(n_parts - 1, 1), sizeof(Slot*))
        if self.plan.layers == NULL or self.plan.jobs == NULL or self.slots == NULL:
            raise MemoryError()
        n_in = model.n_features
        cdef LayerPlan* L
        for k, H in enumerate(model.hidden_sizes):
            G = _spec.N_GATES[cell]
            L = &self.plan.layers[k]
            L.n_in, L.n_hidden = n_in, H
            L.n_delta = 4 * H if cell == "gru" else G * H
            L.W_ih, L.W_hh = offset_of(coefs[k]["W_ih"]), offset_of(coefs[k]["W_hh"])
            L.b_ih, L.b_hh = offset_of(coefs[k]["b_ih"]), offset_of(coefs[k]["b_hh"])
            L.gates, L.H_prev, L.H_out = alloc(R * G * H), alloc(R * H), alloc(R * H)
            L.C_prev = alloc(R * H) if cell == "lstm" else -1
            L.extra = alloc(R * H) if cell in ("lstm", "gru") else -1
            L.hh = alloc(B * G * H) if cell == "gru" else -1
            L.h_cur, L.dh_cur = alloc(B * H), alloc(B * H)
            L.c_cur = alloc(B * H) if cell == "lstm" else -1
            L.dc_cur = alloc(B * H) if cell == "lstm" else -1
            L.delta = alloc(R * L.n_delta)
            L.dX = alloc(R * n_in) if k > 0 else -1
            n_in = H
        self.plan.X = alloc(R * I)
        self.plan.y = alloc(B * model.n_outputs)
        self.plan.out = alloc(B * model.n_outputs)
        self.plan.cell = _spec.cell_code(cell)
        self.plan.activation = _spec.activation_code(model.activation)
        self.plan.log_loss = model.loss == "log"
        self.plan.is_double = dtype == np.float64
        self.plan.n_layers = len(model.hidden_sizes)
        self.plan.n_steps, self.plan.n_samples, self.plan.n_features = T, data.n_samples, I
        self.plan.n_outputs = model.n_outputs
        self.plan.truncate = int(truncate or 0)
        self.plan.max_rows = max_rows
        self.plan.W_out = offset_of(readout["W_out"])
        self.plan.b_out = offset_of(readout["b_out"])
        self.spin_seconds = spin_seconds

        X = np.ascontiguousarray(data.X)
        if T > X.shape[1]:
            raise ValueError("MinibatchRunner: the sequences are shorter than their lengths")
        self.plan.ld_steps = X.shape[1]
        if self.plan.log_loss:
            targets = np.ascontiguousarray(data.targets, dtype=np.intp).reshape(-1)
            self.plan.labels = <const Py_ssize_t*><size_t>targets.ctypes.data
            self.plan.targets = NULL
        else:
            targets = np.ascontiguousarray(data.targets, dtype=dtype)
            if targets.shape != (data.n_samples, model.n_outputs):
                raise ValueError("MinibatchRunner: targets do not match the model's outputs")
            self.plan.targets = <const char*><size_t>targets.ctypes.data
            self.plan.labels = NULL
        if params.dtype != dtype or params.ndim != 1 or not params.flags.c_contiguous:
            raise ValueError("MinibatchRunner: params must be a flat array of the model's dtype")
        if X.shape[2] != model.n_features:
            raise ValueError("MinibatchRunner: the data's features do not match the model")
        self.plan.X_data = <const char*><size_t>X.ctypes.data
        self.plan.params = <char*><size_t>params.ctypes.data
        self.n_params, self.n_decay = params.shape[0], model.n_decay
        works, indexes = [], []
        for p in range(n_parts):
            grads = part_grads[p]
            if grads.shape != params.shape or grads.dtype != dtype:
                raise ValueError("MinibatchRunner: a gradient buffer does not match params")
            # a Workspace buffer (cache-line aligned), so that partial_fit's
            # trainers reuse one instead of faulting in fresh pages each epoch
            work = workspaces[p].get("minibatch", (sizes["work"],))
            index = np.empty(T + 2 * max_rows, dtype=np.intp)
            works.append(work)
            indexes.append(index)
            self.plan.jobs[p].grads = <char*><size_t>grads.ctypes.data
            self.plan.jobs[p].work = <char*><size_t>work.ctypes.data
            self.plan.jobs[p].index = <Py_ssize_t*><size_t>index.ctypes.data
        self._keep = (params, list(part_grads), X, targets, works, indexes)
        self._workers = _acquire_workers(n_parts - 1)
        _bind_workers(self._workers, self.slots, _train_job, &self.plan,
                      <char*>self.plan.jobs, sizeof(Job), spin_seconds)
        self.n_workers = n_parts - 1
        self._closed = False

    @property
    def max_parts(self):
        """Most parts a minibatch can be split into."""
        return self.n_workers + 1

    @property
    def max_rows(self):
        """Most rows (sequences) one part can hold."""
        return self.plan.max_rows

    cdef int _check(self, const Py_ssize_t[::1] rows, Py_ssize_t n_parts) except -1:
        cdef Py_ssize_t n_rows = rows.shape[0], i, row
        if self._closed:
            raise RuntimeError("MinibatchRunner used after close()")
        if not 1 <= n_parts <= self.n_workers + 1:
            raise ValueError(f"n_parts must be in [1, {self.n_workers + 1}]; got {n_parts}")
        if n_rows < n_parts or -(-n_rows // n_parts) > self.plan.max_rows:
            raise ValueError(f"{n_rows} rows do not fit {n_parts} parts of at most "
                             f"{self.plan.max_rows}")
        for i in range(n_rows):
            row = rows[i]
            if row < 0 or row >= self.plan.n_samples:
                raise ValueError(f"row index {row} is out of range")
        return 0

    cdef int _loss_grad(self, const Py_ssize_t* rows, Py_ssize_t n_rows, Py_ssize_t n_parts,
                        double* loss) noexcept nogil:
        """The parts of one minibatch, run and summed: the loss in loss[0],
        the gradient in the first part's buffer. Returns -1 when a part ran
        out of memory."""
        cdef Py_ssize_t p
        cdef int status
        cdef Job* job
        self.plan.n_predictions = n_rows
        for p in range(n_parts):
            job = &self.plan.jobs[p]
            job.rows, job.first, job.stride = rows, p, n_parts
            job.n = (n_rows - p + n_parts - 1) // n_parts
            job.status = 0
        _run_with_workers(self.slots, n_parts - 1, _train_job, &self.plan, &self.plan.jobs[0],
                          self.spin_seconds)
        loss[0] = self.plan.jobs[0].loss
        status = self.plan.jobs[0].status
        for p in range(1, n_parts):
            job = &self.plan.jobs[p]
            loss[0] += job.loss
            status = status if status < 0 else job.status
            # the parts' gradients add up, in part order, as in the Python path
            if self.plan.is_double:
                _add_into(<double*>self.plan.jobs[0].grads, <double*>job.grads, self.n_params)
            else:
                _add_into(<float*>self.plan.jobs[0].grads, <float*>job.grads, self.n_params)
        return status

    def loss_grad(self, const Py_ssize_t[::1] rows, Py_ssize_t n_parts):
        """Loss and gradient of the minibatch ``rows`` (sample indices) in
        ``n_parts`` parts, part p holding rows p, p + n_parts, ...

        Returns
        -------
        loss : float
            The minibatch's mean loss; its gradient is in the first part's buffer.
        """
        cdef double loss
        cdef int status
        self._check(rows, n_parts)
        with nogil:
            status = self._loss_grad(&rows[0], rows.shape[0], n_parts, &loss)
        if status < 0:
            raise MemoryError()
        return loss

    cdef int _step(self, const Py_ssize_t* rows, Py_ssize_t n_rows, Py_ssize_t n_parts,
                   const StepHyper* hyper, char* m_p, char* v_p, long step,
                   double* loss) noexcept nogil:
        """One minibatch and one optimizer update (``step``'s body): the loss,
        plus the L2 term, in loss[0]. Returns -1 when a part ran out of
        memory (no update then)."""
        cdef double l2 = hyper.alpha / n_rows
        cdef int status = self._loss_grad(rows, n_rows, n_parts, loss)
        if status != 0:
            return status
        if hyper.alpha > 0:
            loss[0] += 0.5 * l2 * (
                squared_sum(<double*>self.plan.params, self.n_decay)
                if self.plan.is_double
                else squared_sum(<float*>self.plan.params, self.n_decay))
        if self.plan.is_double:
            optimizer_step(hyper.adam, <double*>self.plan.params,
                           <double*>self.plan.jobs[0].grads, <double*>m_p, <double*>v_p,
                           self.n_params, self.n_decay, l2, hyper.max_norm,
                           hyper.learning_rate, hyper.beta_1, hyper.beta_2, hyper.epsilon,
                           hyper.momentum, hyper.nesterov, step)
        else:
            optimizer_step(hyper.adam, <float*>self.plan.params,
                           <float*>self.plan.jobs[0].grads, <float*>m_p, <float*>v_p,
                           self.n_params, self.n_decay, l2, hyper.max_norm,
                           hyper.learning_rate, hyper.beta_1, hyper.beta_2, hyper.epsilon,
                           hyper.momentum, hyper.nesterov, step)
        return 0

    cdef int _moments(self, moments, bint adam, char** m_p, char** v_p) except -1:
        m, v = moments
        n = self.n_params
        dtype = np.dtype(np.float64 if self.plan.is_double else np.float32)
        if (m.shape != (n,) or m.dtype != dtype or not m.flags.c_contiguous
                or (adam and (v is None or v.shape != (n,) or v.dtype != dtype
                              or not v.flags.c_contiguous))):
            raise ValueError("MinibatchRunner: the moments do not match the parameters")
        m_p[0] = <char*><size_t>m.ctypes.data
        v_p[0] = <char*><size_t>v.ctypes.data if adam else NULL
        return 0

    def step(self, const Py_ssize_t[::1] rows, Py_ssize_t n_parts, moments, hyper,
             long step):
        """One minibatch and one optimizer update, as ``Trainer.step`` takes
        them on the Python path, in one call without the GIL.

        Parameters
        ----------
        rows, n_parts
            As for :meth:`loss_grad`.
        moments : tuple of ndarray
            The optimizer's (m, v) (v None for SGD), updated in place.
        hyper : Hyper
        step : int
            The update's number, from 1.

        Returns
        -------
        loss : float
            The minibatch's mean loss plus ``0.5 * alpha / B * ||W||^2``,
            computed before the update.
        """
        cdef StepHyper h = _step_hyper(hyper)
        cdef double loss
        cdef int status
        cdef char* m_p
        cdef char* v_p
        self._moments(moments, h.adam, &m_p, &v_p)
        self._check(rows, n_parts)
        with nogil:
            status = self._step(&rows[0], rows.shape[0], n_parts, &h, m_p, v_p, step, &loss)
        if status < 0:
            raise MemoryError()
        return loss

    def epoch(self, const Py_ssize_t[::1] order, Py_ssize_t batch_size,
              Py_ssize_t parts_full, Py_ssize_t parts_last, moments, hyper, long step):
        """The minibatches ``order[0:batch_size]``, ``order[batch_size:2 *
        batch_size]``, ... in turn, each as :meth:`step` takes it, in one call
        without the GIL: ``Trainer.epoch`` minus its Python per minibatch
        (about 25 us each, 1.6 ms of a 35 ms W1 lstm epoch on a Zen 3 core,
        while the other part's thread waited).

        Parameters
        ----------
        order : ndarray of intp
            The epoch's sample order.
        batch_size : int
        parts_full, parts_last : int
            Parts of a full minibatch, and of a shorter last one.
        moments, hyper
            As for :meth:`step`.
        step : int
            The first update's number.

        Returns
        -------
        total : float
            The sum of the minibatch losses (as :meth:`step` returns them)
            times their sizes, up to the first minibatch after which it is no
            longer finite (the rest are skipped, as ``Trainer.epoch`` does).
        first_loss : float or None
            The first minibatch's loss; None when ``order`` is empty.
        n_steps : int
            The updates taken.
        """
        cdef StepHyper h = _step_hyper(hyper)
        cdef Py_ssize_t n = order.shape[0], start, n_rows, n_parts, n_steps = 0
        cdef double loss, total = 0.0, first_loss = 0.0
        cdef int status = 0
        cdef char* m_p
        cdef char* v_p
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self._moments(moments, h.adam, &m_p, &v_p)
        if n == 0:
            return 0.0, None, 0
        # every minibatch's row indices and its size against its parts
        for start in range(0, n, batch_size):
            n_rows = min(batch_size, n - start)
            self._check(order[start:start + n_rows],
                        parts_full if n_rows == batch_size else parts_last)
        with nogil:
            start = 0
            while start < n:
                n_rows = min(batch_size, n - start)
                n_parts = parts_full if n_rows == batch_size else parts_last
                status = self._step(&order[start], n_rows, n_parts, &h, m_p, v_p,
                                    step + n_steps, &loss)
                if status != 0:
                    break
                n_steps += 1
                if n_steps == 1:
                    first_loss = loss
                total += loss * n_rows
                if not isfinite(total):
                    break
                start += batch_size
        if status < 0:
            raise MemoryError()
        return total, first_loss, n_steps

    def close(self):
        """Hand the workers back to the process's idle workers (idempotent)."""
        if self._closed:
            return
        self._closed = True
        _release_workers(self._workers)
        self._workers = []

    def __dealloc__(self):
        # close() has handed the workers back; none points into this plan
        free(self.plan.layers)
        free(self.plan.jobs)
        free(self.slots)


# ------------------------------------------------------------------ predict
# The same threads run predict's chunks for the models the compiled
# minibatch covers, on sequences of one length: a W1 predict spent about
# 0.8 ms in cold Python before its first kernel (pool submit 0.16 ms, the
# BLAS limit 0.13 ms, each chunk's adapter code), benchmarks/NOTES.md.

cdef struct InferLayer:
    Py_ssize_t n_in, n_hidden
    Py_ssize_t h_off, c_off   # the layer's state rows in a job's work (elements)
    char* packed              # [W_ih | W_hh] packed by pack_infer
    const char* bias          # b_ih + b_hh
    const char* b_ih
    const char* b_hh


cdef struct InferPlan:
    int cell, activation, is_double
    Py_ssize_t n_layers, n_steps, n_features, ld_x, states_size
    InferLayer* layers
    const char* X             # (N, n_steps, n_features)
    char* H_top               # (N, H_top): the top layer's final states
    const Py_ssize_t* lo      # chunk c holds rows lo[c]:hi[c]
    const Py_ssize_t* hi
    Py_ssize_t n_chunks
    Py_ssize_t next_chunk     # the chunk the next thread to ask takes (crnn_take_next)


cdef struct InferJob:
    char* work                # every layer's h (and c) rows, then the pre-activations


cdef inline Py_ssize_t _line(Py_ssize_t n) noexcept nogil:
    """n elements rounded up to 16 (a multiple of 64 bytes in either dtype)."""
    return (n + 15) // 16 * 16


cdef int _infer_chunks(InferPlan* plan, InferJob* job, floating kind) noexcept nogil:
    # A chunk goes through the stack step by step: layer k's step t, then
    # layer k + 1's, which reads x_t as layer k's state rows, still in L2.
    # Layer by layer, each layer below the top wrote its (rows, T, H)
    # sequence (13 MB a W4 chunk) and the next read x_t back from it, one
    # row per page. Each layer's step is the same infer_step on the same
    # values either way, so the outputs are the layer-by-layer path's.
    cdef:
        Py_ssize_t c, k, t, lo, B, T = plan.n_steps, ld_in
        InferLayer* L
        floating* states = <floating*>job.work
        floating* pre = states + plan.states_size
        floating* h
        const floating* inputs
        const floating* X = <const floating*>plan.X
        InferLayer* top = &plan.layers[plan.n_layers - 1]
        crnn_fpstate fp
    fp = crnn_fp_enter(flush_denormals())
    c = crnn_take_next(&plan.next_chunk)
    while c < plan.n_chunks:
        lo, B = plan.lo[c], plan.hi[c] - plan.lo[c]
        memset(states, 0, plan.states_size * sizeof(floating))
        for t in range(T):
            inputs, ld_in = X + lo * plan.ld_x + t * plan.n_features, plan.ld_x
            for k in range(plan.n_layers):
                L = &plan.layers[k]
                h = states + L.h_off
                infer_step(plan.cell, plan.activation, B, L.n_in, L.n_hidden, inputs, ld_in,
                           h, L.n_hidden, states + L.c_off if plan.cell == CELL_LSTM else NULL,
                           <const floating*>L.packed, <const floating*>L.bias,
                           <const floating*>L.b_ih, <const floating*>L.b_hh, pre)
                inputs, ld_in = h, L.n_hidden
        memcpy(<floating*>plan.H_top + lo * top.n_hidden, states + top.h_off,
               B * top.n_hidden * sizeof(floating))
        c = crnn_take_next(&plan.next_chunk)
    crnn_fp_exit(fp)
    return 0


cdef int _infer_job(void* plan, void* job) noexcept nogil:
    if (<InferPlan*>plan).is_double:
        return _infer_chunks(<InferPlan*>plan, <InferJob*>job, <double>0)
    return _infer_chunks(<InferPlan*>plan, <InferJob*>job, <float>0)


def _infer_units(on=None):
    """Whether this module's inference steps LSTMs too large to block unit
    group by unit group (``crnn_lstm_infer_step_units``), after setting it
    to ``on`` unless that is None: for the test that compares the two ways
    to the bit, and for benchmarks."""
    global crnn_infer_units
    if on is not None:
        crnn_infer_units = 1 if on else 0
    return bool(crnn_infer_units)


def predict_supports(model, X, lengths):
    """Whether :func:`predict` can run ``model`` on ``X`` (as
    ``_training.predict`` would)."""
    from crnn._network import RecurrentNetwork
    return (type(model) is RecurrentNetwork and not model.return_sequences
            and not model.bidirectional and not model.layer_norm and lengths is None
            and model.dtype in (np.float32, np.float64) and X.dtype == model.dtype
            and X.flags.c_contiguous and X.shape[0] > 0 and X.shape[1] > 0)


def predict(model, coefs, X, bounds, Py_ssize_t n_threads, workspaces, double spin_seconds):
    """The model's raw outputs on ``X`` (N, T, I), chunk c being rows
    ``bounds[c]``, each of ``n_threads`` threads (the calling thread and
    pooled workers) taking the next chunk not yet taken, then the readout
    chunk by chunk
    (as ``RecurrentNetwork.predict_raw`` computes it, so the outputs are
    the Python path's to the bit).

    Parameters
    ----------
    model : RecurrentNetwork
        Must pass :func:`predict_supports`.
    coefs : list of dict
        The model's parameter views.
    bounds : list of (int, int)
    n_threads : int
    workspaces : list of Workspace
        One per thread, for the chunks' buffers.
    spin_seconds : float
        How long an idle worker polls before it sleeps.

    Returns
    -------
    out : ndarray of shape (N, n_outputs)
    """
    cdef InferPlan plan
    cdef InferJob* jobs = NULL
    cdef InferLayer* L
    cdef Py_ssize_t k, p, n_layers = len(model.hidden_sizes), n_outputs = model.n_outputs
    cdef Py_ssize_t N = X.shape[0], T = X.shape[1], I = X.shape[2], c
    cdef Slot** slots = NULL
    cdef int failed = 0
    cdef char* W_out_p
    cdef char* b_out_p
    cdef char* out_p
    cdef Py_ssize_t H_top = model.hidden_sizes[n_layers - 1], n_in_k, H_k, work_width = 0
    cdef float* packed_f
    cdef double* packed_d
    dtype = model.dtype
    if X.shape[2] != model.n_features:
        raise ValueError("predict: X's features do not match the model")
    if not 1 <= n_threads <= len(bounds):
        raise ValueError("predict: n_threads must be in [1, number of chunks]")
    lo = np.array([b[0] for b in bounds], dtype=np.intp)
    hi = np.array([b[1] for b in bounds], dtype=np.intp)
    n_chunks = len(bounds)
    if (lo[0] != 0 or hi[n_chunks - 1] != N or np.any(hi <= lo)
            or np.any(lo[1:] != hi[:n_chunks - 1])):
        raise ValueError("predict: the chunks must cover the rows in order")
    readout = coefs[n_layers]
    W_out = np.ascontiguousarray(readout["W_out"])
    b_out = np.ascontiguousarray(readout["b_out"])
    H_top_arr = np.empty((N, H_top), dtype)
    out = np.empty((N, n_outputs), dtype)
    memset(&plan, 0, sizeof(InferPlan))
    plan.layers = <InferLayer*>calloc(n_layers, sizeof(InferLayer))
    jobs = <InferJob*>calloc(n_threads, sizeof(InferJob))
    slots = <Slot**>calloc(n_threads, sizeof(Slot*))
    keep = []
    workers = []
    try:
        if plan.layers == NULL or jobs == NULL or slots == NULL:
            raise MemoryError()
        plan.cell = _spec.cell_code(model.cell)
        plan.activation = _spec.activation_code(model.activation)
        plan.is_double = dtype == np.float64
        plan.n_layers, plan.n_steps, plan.n_features, plan.ld_x = n_layers, T, I, T * I
        plan.X = <const char*><size_t>X.ctypes.data
        plan.H_top = <char*><size_t>H_top_arr.ctypes.data
        plan.lo = <const Py_ssize_t*><size_t>lo.ctypes.data
        plan.hi = <const Py_ssize_t*><size_t>hi.ctypes.data
        plan.n_chunks = len(bounds)
        plan.next_chunk = 0
        n_in = I
        for k in range(n_layers):
            L = &plan.layers[k]
            p_k = coefs[k]
            H = p_k["W_hh"].shape[1]
            W_cat = np.concatenate([p_k["W_ih"], p_k["W_hh"]], axis=1)
            bias = np.add(p_k["b_ih"], p_k["b_hh"])
            b_ih = np.ascontiguousarray(p_k["b_ih"])
            b_hh = np.ascontiguousarray(p_k["b_hh"])
            keep += [W_cat, bias, b_ih, b_hh]
            L.n_in, L.n_hidden = n_in, H
            L.bias = <const char*><size_t>bias.ctypes.data
            L.b_ih = <const char*><size_t>b_ih.ctypes.data
            L.b_hh = <const char*><size_t>b_hh.ctypes.data
            n_in_k, H_k = n_in, H
            if plan.is_double:
                failed = pack_infer(plan.cell, <const double*><size_t>W_cat.ctypes.data, n_in_k,
                                    H_k, &packed_d)
                L.packed = <char*>packed_d
            else:
                failed = pack_infer(plan.cell, <const float*><size_t>W_cat.ctypes.data, n_in_k,
                                    H_k, &packed_f)
                L.packed = <char*>packed_f
            if failed < 0:
                raise MemoryError()
            work_width = max(work_width, infer_width(plan.cell, H))
            n_in = H
        # each thread's work: every layer's h rows, then (LSTM) its c rows,
        # each on a cache line, then the pre-activations of a step
        max_rows = int(max(hi - lo))
        offset = 0
        for k in range(n_layers):
            plan.layers[k].h_off = offset
            offset += _line(max_rows * plan.layers[k].n_hidden)
        for k in range(n_layers):
            plan.layers[k].c_off = offset
            if plan.cell == CELL_LSTM:
                offset += _line(max_rows * plan.layers[k].n_hidden)
        plan.states_size = offset
        size = offset + _line(max_rows * work_width)
        for p in range(n_threads):
            work = workspaces[p].get("predict", (size,))
            keep.append(work)
            jobs[p].work = <char*><size_t>work.ctypes.data
        workers = _acquire_workers(n_threads - 1)
        _bind_workers(workers, slots, _infer_job, &plan, <char*>jobs, sizeof(InferJob),
                      spin_seconds)
        W_out_p = <char*><size_t>W_out.ctypes.data
        b_out_p = <char*><size_t>b_out.ctypes.data
        out_p = <char*><size_t>out.ctypes.data
        with nogil:
            _run_with_workers(slots, n_threads - 1, _infer_job, &plan, &jobs[0], spin_seconds)
            # the readout, chunk by chunk as the Python path runs it
            for c in range(plan.n_chunks):
                if plan.is_double:
                    _readout_rows(plan.lo[c], plan.hi[c], H_top, n_outputs,
                                  <const double*>plan.H_top, <const double*>W_out_p,
                                  <const double*>b_out_p, <double*>out_p)
                else:
                    _readout_rows(plan.lo[c], plan.hi[c], H_top, n_outputs,
                                  <const float*>plan.H_top, <const float*>W_out_p,
                                  <const float*>b_out_p, <float*>out_p)
    finally:
        _release_workers(workers)
        if plan.layers != NULL:
            for k in range(n_layers):
                free(plan.layers[k].packed)
        free(plan.layers)
        free(jobs)
        free(slots)
    return out
