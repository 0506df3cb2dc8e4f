"""Loaders for classic image-classification data sets.

Each loader returns a :class:`~sklearn.utils.Bunch` with ``images`` of shape
``(n_samples, height, width[, channels])``, ``data`` (the same pixels as flat
rows, in the layout of :class:`~skcv.PixelFlatten`), ``target`` (int64),
``target_names`` (list of str) and ``DESCR``; with ``return_X_y=True`` it
returns ``(data, target)`` as scikit-learn's loaders do.

MNIST, Fashion-MNIST, CIFAR-10 and CIFAR-100 are read from their official
distribution files, kept under the data home (:func:`get_data_home`:
``data_home``, else ``$SKCV_DATA``, else ``~/skcv_data``) in one folder per
data set. ``download=True`` fetches a missing file; every file is checked
against a pinned SHA-256 before it is read.

Errors: a missing file (with ``download=False``) raises ``FileNotFoundError``
naming the file and the folder; a failed download raises ``OSError`` and
leaves nothing behind; a file whose checksum or format is wrong raises
``ValueError`` naming the file, and is not replaced automatically.
"""

from ._base import get_data_home, load_digits_images, load_npz
from ._cifar import load_cifar10, load_cifar100
from ._mnist import load_fashion_mnist, load_mnist

__all__ = [
    "get_data_home",
    "load_cifar10",
    "load_cifar100",
    "load_digits_images",
    "load_fashion_mnist",
    "load_mnist",
    "load_npz",
]
