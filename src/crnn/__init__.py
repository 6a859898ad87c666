"""crnn: compiled recurrent neural networks with scikit-learn estimators."""
from crnn import ops
from crnn._build_info import show_build_info

__version__ = "0.1.0"
__all__ = ["ops", "show_build_info", "__version__"]
