"""crnn: compiled recurrent neural networks with scikit-learn estimators.

Vanilla RNN, LSTM and GRU cells, stacked and trained by backpropagation
through time, with the timestep loops in typed Cython.

- :class:`RNNRegressor`, :class:`RNNClassifier`: scikit-learn estimators.
- :class:`Seq2SeqRegressor`, :class:`Seq2SeqClassifier`: encoder-decoder
  estimators mapping sequences to sequences of other lengths.
- :mod:`crnn.preprocessing`: scaling and windowing for sequences in pipelines.
- :mod:`crnn.ops`: forward and backward passes on NumPy arrays.
- :mod:`crnn.reference`: the same maths in pure NumPy (the test oracle).
- :mod:`crnn.onnx`: ONNX export (needs the ``onnx`` extra; imported on demand).
"""
from crnn import ops, preprocessing, reference
from crnn._build_info import build_info, show_build_info
from crnn._estimators import RNNClassifier, RNNRegressor
from crnn._persistence import InconsistentVersionWarning
from crnn._seq2seq_estimators import Seq2SeqClassifier, Seq2SeqRegressor

__version__ = "0.1.0"
__all__ = ["RNNClassifier", "RNNRegressor", "Seq2SeqClassifier", "Seq2SeqRegressor", "ops", "preprocessing", "reference", "build_info",
           "show_build_info", "__version__", "InconsistentVersionWarning"]
