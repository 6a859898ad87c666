"""Memory a fit will need, checked before anything large is allocated.

A fit keeps, for every minibatch, each layer's whole state sequence and gate
activations for backpropagation through time; with long sequences or large
batches these caches outgrow memory long after the user pressed enter, and
the process is then killed (no swap) or thrashes. ``check_training_memory``
estimates the caches from the architecture alone and raises a MemoryError
that says how much is needed before the first buffer is allocated.

The estimate mirrors the buffers of ``crnn._layers`` (a cell's forward
caches and backward scratch), the readout of ``crnn._network`` and the
per-fit copies of the training loop. Only NumPy and the standard library
are imported, so the training layer can call it before building anything.
"""
import os

# Elements per (valid step, sequence, hidden unit) that one direction of a
# layer keeps for the whole minibatch (packed rows, see _recurrent.pyx):
# forward caches, its output rows and the backward deltas.
#   rnn:  gates (= h_t), H_prev, H_out, delta
#   lstm: gates (4), H_prev, C_prev, tanh_c, H_out, delta (4)
#   gru:  gates (3), H_prev, hn, H_out, delta (4: dr, dz, dn * r, dn)
_PER_STEP = {"rnn": 4, "lstm": 12, "gru": 10}
# Elements per (sequence, hidden unit) held once per layer, not per step:
# the running states h (and c), their gradients, GRU's hh scratch (3).
_PER_SEQUENCE = {"rnn": 2, "lstm": 4, "gru": 5}


def training_bytes(cell, n_samples, n_steps, n_features, hidden_sizes, n_outputs,
                   batch_size, itemsize, return_sequences=False, n_parts=1,
                   n_params=None, bidirectional=False, layer_norm=False):
    """Bytes a fit allocates for its caches, copies and optimizer state.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    n_samples, n_steps, n_features : int
        Shape of the training X (n_steps: the steps backpropagated at once).
    hidden_sizes : sequence of int
        Hidden units of each stacked layer.
    n_outputs : int
        Readout width (classes for a classifier).
    batch_size : int
        Resolved minibatch size.
    itemsize : int
        4 for float32, 8 for float64.
    return_sequences : bool
        Whether the readout reads every step.
    n_parts : int
        Data-parallel parts of a minibatch (each has its own gradient buffer).
    n_params : int, optional
        Parameter count; computed from the architecture if omitted.
    bidirectional : bool
        Every layer runs in both directions (twice the caches, 2H outputs).
    layer_norm : bool
        Layer-normalised cells: per row the normalised input and recurrent
        projections and the input side's gradient (3 G*H), the LSTM's
        normalised c (H), three inverse deviations; per sequence one more
        G*H projection row.

    Returns
    -------
    n_bytes : int
    """
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cell]
    D = 2 if bidirectional else 1
    T, B, N, O = int(n_steps), int(batch_size), int(n_samples), int(n_outputs)
    if n_params is None:
        n_params, n_in = 0, int(n_features)
        for H in hidden_sizes:
            n_params += D * G * H * (n_in + H + 2)
            if layer_norm:
                n_params += D * (4 * G * H + (2 * H if cell == "lstm" else 0))
            n_in = D * H
        n_params += O * (n_in + 1)
    # per fit: the time-major copy of X (and of per-step targets)
    elements = T * N * n_features + (T * N * O if return_sequences else 0)
    # params, one gradient per part, two moments, the snapshots of this and
    # the previous epoch (3 each), the best parameters of early stopping
    elements += n_params * (10 + n_parts)
    # per minibatch: the gathered X rows, then every layer's caches
    elements += T * B * n_features
    n_in = int(n_features)
    for k, H in enumerate(hidden_sizes):
        elements += D * (T * B * H * _PER_STEP[cell] + B * H * _PER_SEQUENCE[cell])
        if layer_norm:
            elements += D * (T * B * (3 * G * H + (H if cell == "lstm" else 0) + 3)
                             + B * G * H)
        if k > 0:
            elements += T * B * n_in  # dX handed to the layer below
        n_in = D * H
    rows = T * B if return_sequences else B
    elements += rows * (2 * O + n_in)  # readout output, its gradient copy, dH
    # each part's packed copy of the W_hh its pass is running (one at a time)
    elements += n_parts * G * max(hidden_sizes) ** 2
    return int(elements) * int(itemsize)


def available_bytes():
    """Memory the kernel says can be allocated without swapping, or None.

    ``MemAvailable`` of /proc/meminfo (Linux), else the free physical pages
    of ``os.sysconf``; None where neither exists (the check is then skipped).
    """
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_training_memory(n_bytes, batch_size, available=None):
    """Raise MemoryError if a fit needing ``n_bytes`` cannot fit in memory.

    Parameters
    ----------
    n_bytes : int
        From :func:`training_bytes`.
    batch_size : int
        The resolved minibatch size, quoted in the advice.
    available : int, optional
        Available bytes; read with :func:`available_bytes` if omitted.

    Raises
    ------
    MemoryError
        Naming the bytes needed and available, and how to need fewer.
    """
    if available is None:
        available = available_bytes()
    if available is None or n_bytes <= available:
        return
    raise MemoryError(
        f"This fit needs about {_human(n_bytes)} ({n_bytes} bytes) for its training "
        f"caches, but only {_human(available)} ({available} bytes) of memory is "
        f"available. The caches grow with batch_size x n_timesteps x hidden units: "
        f"lower batch_size (it is {batch_size}), set truncate_bptt, shorten the "
        "sequences or use smaller hidden_layer_sizes.")


def _human(n_bytes):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n_bytes < 1024 or unit == "GiB":
            return f"{n_bytes:.1f} {unit}" if unit != "bytes" else f"{n_bytes} bytes"
        n_bytes /= 1024
