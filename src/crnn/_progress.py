"""What a fit reports while it runs (the estimators' ``verbose`` parameter).

``verbose=1`` (or True) prints one line per epoch: the training loss, the
validation score when early stopping holds out a validation set, and the
epoch's wall time. ``verbose=2`` (or more) draws a progress bar over the
epochs instead, with the same numbers as its postfix, when tqdm is
installed (``pip install crnn[progress]``); without tqdm it falls back to
the lines. tqdm is imported only then, never at ``import crnn``.

The numbers are the ones stored on the estimator (``loss_curve_``,
``validation_scores_``), so what is printed is what can be plotted after.
"""
import sys


def _tqdm():
    """tqdm's class, or None when it is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class EpochReporter:
    """Reports the epochs of one ``fit`` or ``partial_fit`` call.

    Parameters
    ----------
    verbose : bool or int
        0/False: silent; 1/True: one line per epoch; >= 2: a tqdm progress
        bar when tqdm is installed, else the lines.
    total : int
        Epochs this call may run (the bar's length).
    first_epoch : int
        ``n_iter_`` before the call, so a warm-started fit counts on.
    stream : file-like, optional
        Where lines and the bar go (default: standard output for lines, as
        scikit-learn's MLP prints, and standard error for the bar, as tqdm
        does).
    """

    def __init__(self, verbose, total, first_epoch=0, stream=None):
        self.verbose = int(verbose)
        self.stream = stream
        self.bar = None
        if self.verbose >= 2:
            tqdm = _tqdm()
            if tqdm is not None:
                desc = "fit" if first_epoch == 0 else f"fit from epoch {first_epoch + 1}"
                self.bar = tqdm(total=total, unit="epoch", leave=True, desc=desc,
                                file=stream if stream is not None else sys.stderr)

    def epoch(self, n_iter, loss, seconds, validation_score=None):
        """One finished epoch: ``n_iter`` counts all epochs of the estimator."""
        if not self.verbose:
            return
        if self.bar is not None:
            postfix = {"loss": f"{loss:.6g}"}
            if validation_score is not None:
                postfix["validation"] = f"{validation_score:.6g}"
            self.bar.set_postfix(postfix, refresh=False)
            self.bar.update(1)
            return
        line = f"Iteration {n_iter}, loss = {loss:.8f}"
        if validation_score is not None:
            line += f", validation score = {validation_score:.6f}"
        line += f", time = {seconds:.3f}s"
        self.message(line)

    def message(self, text):
        """A line outside the per-epoch records (why training stopped)."""
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream if self.stream is not None else sys.stderr)
        else:
            print(text, file=self.stream if self.stream is not None else sys.stdout)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
