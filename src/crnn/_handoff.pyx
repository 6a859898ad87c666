"""Spin-then-block events: handing a training part to another thread in
microseconds instead of a sleep and a wake-up.

A training minibatch of a small model is split into parts that take about
0.2-0.4 ms each (W1 lstm: 16 sequences of 50 steps). Handing one to a
``concurrent.futures`` worker and collecting its result cost about 0.1 ms per
minibatch on this kind of VM: the worker sleeps on a lock between
minibatches, and each wake-up goes through the kernel (and the hypervisor,
when the idle vCPU was halted). A waiter here first polls a flag without
the GIL for a bounded time, then sleeps on a ``threading.Event``. The gaps it
waits across in a training loop (the main thread's optimizer step between
minibatches, the other part's last few kernels) are well under that bound,
so neither side sleeps while a fit is running; a waiter that does not see
the flag in time costs at most ``spin_seconds`` of one core before it
blocks like any other thread. After its first 20 us a poller yields the
core between rounds of polls: with pure spinning, two fits of two threads
each on two cores took 30% longer per W1 lstm epoch than with sleeping
workers (146.6 against 113.1 ms); yielding, they take no longer (95.7
against 97.7 ms) and one fit keeps its gain (benchmarks/NOTES.md).
"""
import threading

cdef extern from "_event.h" nogil:
    int crnn_spin_until_set(const int *flag, double seconds) nogil
    void crnn_store_flag(int *flag, int value) nogil


cdef class SpinEvent:
    """A one-waiter event whose ``wait`` polls before it sleeps.

    Parameters
    ----------
    spin_seconds : float
        How long ``wait`` polls, without the GIL, before it blocks on a
        ``threading.Event``.

    Notes
    -----
    One thread sets, one other thread waits, and ``wait`` clears the event
    before it returns, so the two alternate (set, wait, set, ...). The
    threading.Event is set before the flag: a waiter that saw the flag may
    clear both, and one that fell back to the Event finds the flag set
    right after.
    """

    cdef int _flag
    cdef object _event
    cdef double _spin_seconds

    def __init__(self, double spin_seconds):
        if not spin_seconds >= 0:
            raise ValueError(f"spin_seconds must be >= 0; got {spin_seconds}.")
        self._flag = 0
        self._event = threading.Event()
        self._spin_seconds = spin_seconds

    def set(self):
        """Wake the waiter (or let its next ``wait`` return at once)."""
        self._event.set()
        crnn_store_flag(&self._flag, 1)

    def wait(self):
        """Return once the event is set, and clear it."""
        cdef int seen
        with nogil:
            seen = crnn_spin_until_set(&self._flag, self._spin_seconds)
        if not seen:
            self._event.wait()
            # set() stores the flag right after the Event
            with nogil:
                while not crnn_spin_until_set(&self._flag, 1.0):
                    pass
        crnn_store_flag(&self._flag, 0)
        self._event.clear()

    def is_set(self):
        """Whether the event is set and not yet waited for."""
        return bool(self._flag)
