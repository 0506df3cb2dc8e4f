"""scikit-learn compatible estimators for classic image classification.

The public names are re-exported here; the submodules ``skcv.losses``,
``skcv.gradcheck``, ``skcv.datasets`` and ``skcv.plotting`` hold the
functions.
"""

from .augment import AugmentedClassifier, ImageAugmenter
from .features import ColorHistogram, HOGFeatures
from .linear import HingeLinear, SoftmaxLinear
from .neighbors import NearestNeighbor
from .neural_network import NeuralNet
from .preprocessing import PixelFlatten

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
