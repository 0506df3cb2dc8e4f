"""MNIST and Fashion-MNIST, read from their official gzip IDX files."""

import os

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from ._base import _make_bunch
from ._fetch import _fetch
from ._idx import read_idx

# (images, labels) file of each official split.
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

MNIST_TARGET_NAMES = [str(k) for k in range(10)]

FASHION_MNIST_TARGET_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

_MNIST_DESCR = """\
MNIST handwritten digits
------------------------

70000 grey images of 28x28 pixels (uint8, 0 = background), 10 classes (the
digits 0 to 9): 60000 for training, 10000 for testing, written by different
people. subset="all" gives the training images followed by the test images.

Source: http://yann.lecun.com/exdb/mnist/ (files read from the mirrors of
PyTorch and Google's CVDF, which serve the same bytes).
Citation: Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
learning applied to document recognition", Proceedings of the IEEE 86(11),
1998.
Licence: copyright Yann LeCun and Corinna Cortes; the data set is commonly
redistributed under CC BY-SA 3.0. Check the terms before redistributing it.
"""

_FASHION_MNIST_DESCR = """\
Fashion-MNIST
-------------

70000 grey images of 28x28 pixels (uint8) of Zalando articles, 10 classes:
T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag,
Ankle boot. 60000 for training, 10000 for testing; subset="all" gives the
training images followed by the test images. A drop-in replacement for MNIST
(same file format and sizes) that is harder to classify.

Source: https://github.com/zalandoresearch/fashion-mnist
Citation: H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, 2017.
Licence: MIT.
"""

_PARAMS = {
    "subset": [StrOptions({"train", "test", "all"})],
    "data_home": [str, os.PathLike, None],
    "download": ["boolean"],
    "return_X_y": ["boolean"],
}


def _load_idx_split(dataset, split, target_names, *, data_home, download):
    """Images and int64 labels of one official split, checked against each other."""
    images_name, labels_name = _SPLIT_FILES[split]
    images_path = _fetch(dataset, images_name, data_home=data_home, download=download)
    labels_path = _fetch(dataset, labels_name, data_home=data_home, download=download)
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise ValueError(
            f"{images_path!r} holds {len(images)} images but {labels_path!r} holds "
            f"{len(labels)} labels."
        )
    if labels.size and labels.max() >= len(target_names):
        raise ValueError(
            f"{labels_path!r} holds the label {labels.max()}, but the data set has "
            f"only {len(target_names)} classes."
        )
    return images, labels.astype(np.int64)


def _load_idx_dataset(dataset, target_names, descr, **params):
    splits = ["train", "test"] if params["subset"] == "all" else [params["subset"]]
    parts = [
        _load_idx_split(
            dataset,
            split,
            target_names,
            data_home=params["data_home"],
            download=params["download"],
        )
        for split in splits
    ]
    if len(parts) == 1:
        images, target = parts[0]
    else:
        (train_images, train_target), (test_images, test_target) = parts
        if train_images.shape[1:] != test_images.shape[1:]:
            raise ValueError(
                f"The training images of {dataset} have shape "
                f"{train_images.shape[1:]} but the test images "
                f"{test_images.shape[1:]}."
            )
        images = np.concatenate([train_images, test_images])
        target = np.concatenate([train_target, test_target])
    return _make_bunch(
        images, target, target_names, descr, return_X_y=params["return_X_y"]
    )


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def load_mnist(*, subset="train", data_home=None, download=False, return_X_y=False):
    """Load the MNIST handwritten digits from the official IDX files.

    The four files ``train-images-idx3-ubyte.gz``,
    ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
    ``t10k-labels-idx1-ubyte.gz`` are read from the ``mnist`` folder of the
    data home (see :func:`get_data_home`). Only the files of the requested
    subset are needed. Each file is checked against its pinned SHA-256
    before it is read.

    =================   ==========================
    Classes                                     10
    Samples                 60000 train, 10000 test
    Image shape                            28 x 28
    Pixel values                     uint8, 0..255
    =================   ==========================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The official split to load; "all" is the training set followed by
        the test set.
    data_home : str or path-like, default=None
        Folder holding the data sets; by default ``SKCV_DATA`` or
        ``~/skcv_data``.
    download : bool, default=False
        If a file is missing, download it: first from PyTorch's mirror
        (``ossci-datasets.s3.amazonaws.com/mnist``), then Google's CVDF
        bucket (``storage.googleapis.com/cvdf-datasets/mnist``), then the
        original ``yann.lecun.com/exdb/mnist``, showing a progress bar on
        stderr. The file is kept only if its checksum matches.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch, as
        scikit-learn's loaders do.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The images.
        data : ndarray of shape (n_samples, 784), dtype uint8
            The images flattened row by row (a view of ``images``, in the
            layout of :class:`~skcv.PixelFlatten`).
        target : ndarray of shape (n_samples,), dtype int64
            The digit shown by each image.
        target_names : list of str
            ``["0", "1", ..., "9"]``.
        DESCR : str
            Description, source, citation and licence.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, 784) and ``target``.

    Raises
    ------
    FileNotFoundError
        If a file is missing and ``download`` is False. The message names the
        file and the folder to put it in.
    OSError
        If ``download`` is True but no mirror delivered an intact file.
    ValueError
        If a cached file does not match its checksum or is not a valid IDX
        file (the message names the file), or ``subset`` is unknown.

    See Also
    --------
    load_fashion_mnist : The same format with images of clothes.
    load_digits_images : Small digits that ship with scikit-learn.

    Examples
    --------
    >>> from skcv.datasets import load_mnist
    >>> mnist = load_mnist(subset="test", download=True)  # doctest: +SKIP
    >>> mnist.images.shape, mnist.target.shape  # doctest: +SKIP
    ((10000, 28, 28), (10000,))
    >>> X, y = load_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (60000, 784)
    """
    return _load_idx_dataset(
        "mnist",
        MNIST_TARGET_NAMES,
        _MNIST_DESCR,
        subset=subset,
        data_home=data_home,
        download=download,
        return_X_y=return_X_y,
    )


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def load_fashion_mnist(
    *, subset="train", data_home=None, download=False, return_X_y=False
):
    """Load Fashion-MNIST (Zalando's clothes) from the official IDX files.

    The files have the same names and format as MNIST's and are read from the
    ``fashion_mnist`` folder of the data home (see :func:`get_data_home`).
    Only the files of the requested subset are needed. Each file is checked
    against its pinned SHA-256 before it is read.

    =================   ==========================
    Classes                                     10
    Samples                 60000 train, 10000 test
    Image shape                            28 x 28
    Pixel values                     uint8, 0..255
    =================   ==========================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        The official split to load; "all" is the training set followed by
        the test set.
    data_home : str or path-like, default=None
        Folder holding the data sets; by default ``SKCV_DATA`` or
        ``~/skcv_data``.
    download : bool, default=False
        If a file is missing, download it from Zalando's bucket
        (``fashion-mnist.s3-website.eu-central-1.amazonaws.com``, plain HTTP;
        the checksum guards the content), showing a progress bar on stderr.
        The file is kept only if its checksum matches.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The images.
        data : ndarray of shape (n_samples, 784), dtype uint8
            The images flattened row by row (a view of ``images``).
        target : ndarray of shape (n_samples,), dtype int64
            The class of each image, an index into ``target_names``.
        target_names : list of str
            ``["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]``.
        DESCR : str
            Description, source, citation and licence.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, 784) and ``target``.

    Raises
    ------
    FileNotFoundError
        If a file is missing and ``download`` is False.
    OSError
        If ``download`` is True but the download failed or was corrupted.
    ValueError
        If a cached file does not match its checksum or is not a valid IDX
        file, or ``subset`` is unknown.

    See Also
    --------
    load_mnist : Handwritten digits in the same format.

    Examples
    --------
    >>> from skcv.datasets import load_fashion_mnist
    >>> fashion = load_fashion_mnist(subset="all", download=True)  # doctest: +SKIP
    >>> fashion.images.shape  # doctest: +SKIP
    (70000, 28, 28)
    >>> fashion.target_names[9]  # doctest: +SKIP
    'Ankle boot'
    """
    return _load_idx_dataset(
        "fashion_mnist",
        FASHION_MNIST_TARGET_NAMES,
        _FASHION_MNIST_DESCR,
        subset=subset,
        data_home=data_home,
        download=download,
        return_X_y=return_X_y,
    )
