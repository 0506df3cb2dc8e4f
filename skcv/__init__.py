"""scikit-learn compatible estimators for classic image classification.

The public names are re-exported here; the submodules ``skcv.losses``,
``skcv.gradcheck``, ``skcv.datasets`` and ``skcv.plotting`` hold the
functions.
"""

from ._threading import _choose_threading_layer

# Before any kernel runs: numba's threads must not slow down other libraries'
# (see skcv/_threading.py).
_choose_threading_layer()

from .augment import AugmentedClassifier, ImageAugmenter  # noqa: E402
from .features import ColorHistogram, HOGFeatures  # noqa: E402
from .linear import HingeLinear, SoftmaxLinear  # noqa: E402
from .neighbors import NearestNeighbor  # noqa: E402
from .neural_network import NeuralNet  # noqa: E402
from .preprocessing import PixelFlatten  # noqa: E402

__version__ = "0.1.0.dev0"

__all__ = [
    "AugmentedClassifier",
    "ColorHistogram",
    "HOGFeatures",
    "HingeLinear",
    "ImageAugmenter",
    "NearestNeighbor",
    "NeuralNet",
    "PixelFlatten",
    "SoftmaxLinear",
    "__version__",
]
