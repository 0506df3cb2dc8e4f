"""CIFAR-10 and CIFAR-100, read from the official "python version" archives.

Each archive is a gzipped tar whose members are Python 2 pickles of dicts
with bytes keys: ``b"data"``, a uint8 array of shape (n, 3072) whose rows hold
the red plane, then the green plane, then the blue plane of a 32x32 image,
and the labels (``b"labels"`` for CIFAR-10, ``b"fine_labels"`` and
``b"coarse_labels"`` for CIFAR-100). A meta member holds the class names.

The members are read straight from the archive, in one pass and without
extracting anything to disk. Unpickling untrusted data can run arbitrary
code, so two safeguards apply: the archive must match its pinned SHA-256
before it is opened, and the unpickler resolves only the three numpy names an
array needs (the array reconstructor, ``ndarray`` and ``dtype``), refusing
any other global a pickle asks for.
"""

import gzip
import os
import pickle
import tarfile
import zlib

import numpy as np
from sklearn.utils._param_validation import StrOptions, validate_params

from ._base import _make_bunch
from ._fetch import _fetch

_IMAGE_SHAPE = (32, 32, 3)
_ROW_BYTES = 32 * 32 * 3

# numpy renamed numpy.core to numpy._core; files written by either name it.
_RECONSTRUCT = np.ndarray.__reduce__(np.empty(0))[0]
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that builds plain containers and numpy arrays, nothing else."""

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only "
                f"numpy arrays, lists and strings"
            ) from None


def _unpickle(fileobj):
    # The files were written by Python 2; "bytes" keeps its str as bytes,
    # which is what numpy's array reconstruction expects.
    return _ArrayOnlyUnpickler(fileobj, encoding="bytes").load()


def _read_members(path, names):
    """Unpickle the members ``names`` of the tar.gz ``path`` in one pass."""
    found = {}
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.name in names and member.isfile():
                    where = f"{member.name!r} in {path!r}"
                    try:
                        found[member.name] = _unpickle(archive.extractfile(member))
                    except EOFError as exc:
                        raise ValueError(
                            f"{path!r} is truncated: it ends inside {member.name!r}."
                        ) from exc
                    except Exception as exc:
                        # A pickle that is not a CIFAR batch fails in many ways
                        # (refused global, bad opcode, wrong numpy arguments).
                        raise ValueError(f"Cannot read {where}: {exc}") from exc
                    if len(found) == len(names):
                        break
    except EOFError as exc:
        raise ValueError(f"{path!r} is truncated: {exc}.") from exc
    except (tarfile.TarError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path!r} is not a readable tar.gz archive: {exc}") from exc
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(
            f"{path!r} lacks the member(s) {', '.join(missing)} of the official "
            f"archive."
        )
    return found


def _entry(batch, key, where):
    if not isinstance(batch, dict) or key not in batch:
        raise ValueError(f"{where} has no entry {key!r}.")
    return batch[key]


def _batch_rows_and_labels(batch, label_key, n_classes, where):
    """Validated (n, 3072) uint8 rows and int64 labels of an unpickled batch."""
    rows = _entry(batch, b"data", where)
    if (
        not isinstance(rows, np.ndarray)
        or rows.dtype != np.uint8
        or rows.ndim != 2
        or rows.shape[1] != _ROW_BYTES
    ):
        shown = (
            f"an array of shape {rows.shape} and dtype {rows.dtype}"
            if isinstance(rows, np.ndarray)
            else type(rows).__name__
        )
        raise ValueError(
            f"{where}: data must be a uint8 array of shape (n, {_ROW_BYTES}); got "
            f"{shown}."
        )
    labels = np.asarray(_entry(batch, label_key, where))
    if labels.shape != (len(rows),) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: {label_key.decode()} must hold {len(rows)} integer labels, "
            f"one per image; got an array of shape {labels.shape} and dtype "
            f"{labels.dtype}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{where}: labels must lie in 0..{n_classes - 1} (one per class name); "
            f"got values from {labels.min()} to {labels.max()}."
        )
    return rows, labels.astype(np.int64)


def _class_names(meta, key, where):
    names = _entry(meta, key, where)
    if not isinstance(names, list) or not all(
        isinstance(n, (bytes, str)) for n in names
    ):
        raise ValueError(f"{where}: {key.decode()} must be a list of names.")
    return [n.decode() if isinstance(n, bytes) else n for n in names]


def _planar_to_images(row_batches):
    """Stack (n, 3072) channel-planar rows into (N, 32, 32, 3) channels-last."""
    n_total = sum(len(rows) for rows in row_batches)
    images = np.empty((n_total, *_IMAGE_SHAPE), dtype=np.uint8)
    start = 0
    for rows in row_batches:
        stop = start + len(rows)
        images[start:stop] = rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        start = stop
    return images


def _load_cifar(dataset, archive_name, split_members, meta_member, *, params, keys):
    """Shared body of the CIFAR loaders.

    ``split_members`` maps "train"/"test" to member names; ``keys`` is the
    (label key, class-name key) pair to read.
    """
    label_key, names_key = keys
    path = _fetch(
        dataset,
        archive_name,
        data_home=params["data_home"],
        download=params["download"],
    )
    splits = ["train", "test"] if params["subset"] == "all" else [params["subset"]]
    wanted = [m for split in splits for m in split_members[split]]
    members = _read_members(path, [*wanted, meta_member])
    names = _class_names(
        members[meta_member], names_key, f"{meta_member!r} in {path!r}"
    )
    row_batches, label_batches = [], []
    for name in wanted:
        rows, labels = _batch_rows_and_labels(
            members[name], label_key, len(names), f"{name!r} in {path!r}"
        )
        row_batches.append(rows)
        label_batches.append(labels)
    images = _planar_to_images(row_batches)
    target = np.concatenate(label_batches)
    return _make_bunch(
        images, target, names, params["descr"], return_X_y=params["return_X_y"]
    )


_CIFAR10_MEMBERS = {
    "train": [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)],
    "test": ["cifar-10-batches-py/test_batch"],
}
_CIFAR100_MEMBERS = {
    "train": ["cifar-100-python/train"],
    "test": ["cifar-100-python/test"],
}

_CIFAR_CITATION = """\
Citation: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
Images", technical report, University of Toronto, 2009.
Licence: no licence is stated; the authors ask users to cite the report.
"""

_CIFAR10_DESCR = (
    """\
CIFAR-10
--------

60000 colour images of 32x32 pixels (uint8, channels-last RGB), 10 classes
(airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck), 6000
per class: 50000 for training (five batches, read in order) and 10000 for
testing. subset="all" gives the training images followed by the test images.
A subset of the 80 million tiny images, labelled by A. Krizhevsky, V. Nair
and G. Hinton.

Source: https://www.cs.toronto.edu/~kriz/cifar.html (cifar-10-python.tar.gz)
"""
    + _CIFAR_CITATION
)

_CIFAR100_DESCR = (
    """\
CIFAR-100
---------

60000 colour images of 32x32 pixels (uint8, channels-last RGB) in 100 fine
classes (600 each) grouped into 20 coarse superclasses: 50000 for training
and 10000 for testing. subset="all" gives the training images followed by
the test images. label_mode chooses fine or coarse labels.

Source: https://www.cs.toronto.edu/~kriz/cifar.html (cifar-100-python.tar.gz)
"""
    + _CIFAR_CITATION
)

_PARAMS = {
    "subset": [StrOptions({"train", "test", "all"})],
    "data_home": [str, os.PathLike, None],
    "download": ["boolean"],
    "return_X_y": ["boolean"],
}


@validate_params(_PARAMS, prefer_skip_nested_validation=True)
def load_cifar10(*, subset="train", data_home=None, download=False, return_X_y=False):
    """Load CIFAR-10 from the official ``cifar-10-python.tar.gz``.

    The archive is read from the ``cifar10`` folder of the data home (see
    :func:`get_data_home`) after its SHA-256 has been checked; its pickled
    members are read in memory, without extracting them, by an unpickler that
    accepts numpy arrays and nothing else. Rows, stored channel-planar (all
    red, then green, then blue values), are returned as channels-last images.

    =================   ==========================
    Classes                                     10
    Samples                 50000 train, 10000 test
    Image shape                        32 x 32 x 3
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
        If the archive (about 160 MiB) is missing, download it from
        ``www.cs.toronto.edu/~kriz/``, showing a progress bar on stderr. It
        is kept only if its checksum matches.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch, as
        scikit-learn's loaders do.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, 32, 32, 3), dtype uint8
            The images, channels last.
        data : ndarray of shape (n_samples, 3072), dtype uint8
            The images flattened in the layout of :class:`~skcv.PixelFlatten`
            (a view of ``images``): pixel ``(i, j, c)`` is feature
            ``(32 * i + j) * 3 + c``.
        target : ndarray of shape (n_samples,), dtype int64
            The class of each image, an index into ``target_names``.
        target_names : list of str
            The class names from the archive's ``batches.meta``.
        DESCR : str
            Description, source, citation and licence.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, 3072) and ``target``.

    Raises
    ------
    FileNotFoundError
        If the archive is missing and ``download`` is False.
    OSError
        If ``download`` is True but the download failed or was corrupted.
    ValueError
        If the cached archive does not match its checksum or its content is
        not in the official format (the message names the file and member),
        or ``subset`` is unknown.

    See Also
    --------
    load_cifar100 : 100 classes in the same format.

    Examples
    --------
    >>> from skcv.datasets import load_cifar10
    >>> cifar = load_cifar10(subset="test", download=True)  # doctest: +SKIP
    >>> cifar.images.shape, cifar.data.shape  # doctest: +SKIP
    ((10000, 32, 32, 3), (10000, 3072))
    >>> cifar.target_names[:3]  # doctest: +SKIP
    ['airplane', 'automobile', 'bird']
    """
    return _load_cifar(
        "cifar10",
        "cifar-10-python.tar.gz",
        _CIFAR10_MEMBERS,
        "cifar-10-batches-py/batches.meta",
        params={
            "subset": subset,
            "data_home": data_home,
            "download": download,
            "return_X_y": return_X_y,
            "descr": _CIFAR10_DESCR,
        },
        keys=(b"labels", b"label_names"),
    )


@validate_params(
    {**_PARAMS, "label_mode": [StrOptions({"fine", "coarse"})]},
    prefer_skip_nested_validation=True,
)
def load_cifar100(
    *,
    label_mode="fine",
    subset="train",
    data_home=None,
    download=False,
    return_X_y=False,
):
    """Load CIFAR-100 from the official ``cifar-100-python.tar.gz``.

    The archive is read from the ``cifar100`` folder of the data home (see
    :func:`get_data_home`) after its SHA-256 has been checked; its pickled
    members are read in memory, without extracting them, by an unpickler that
    accepts numpy arrays and nothing else. Rows, stored channel-planar, are
    returned as channels-last images.

    =================   ==============================
    Classes             100 fine, grouped in 20 coarse
    Samples                    50000 train, 10000 test
    Image shape                            32 x 32 x 3
    Pixel values                         uint8, 0..255
    =================   ==============================

    Parameters
    ----------
    label_mode : {"fine", "coarse"}, default="fine"
        Whether ``target`` holds the 100 fine classes or the 20 coarse
        superclasses (``fine_labels`` or ``coarse_labels`` in the archive).
    subset : {"train", "test", "all"}, default="train"
        The official split to load; "all" is the training set followed by
        the test set.
    data_home : str or path-like, default=None
        Folder holding the data sets; by default ``SKCV_DATA`` or
        ``~/skcv_data``.
    download : bool, default=False
        If the archive (about 160 MiB) is missing, download it from
        ``www.cs.toronto.edu/~kriz/``, showing a progress bar on stderr. It
        is kept only if its checksum matches.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, 32, 32, 3), dtype uint8
            The images, channels last.
        data : ndarray of shape (n_samples, 3072), dtype uint8
            The images flattened in the layout of :class:`~skcv.PixelFlatten`
            (a view of ``images``).
        target : ndarray of shape (n_samples,), dtype int64
            The fine or coarse class of each image, an index into
            ``target_names``.
        target_names : list of str
            The fine or coarse class names from the archive's ``meta``.
        DESCR : str
            Description, source, citation and licence.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, 3072) and ``target``.

    Raises
    ------
    FileNotFoundError
        If the archive is missing and ``download`` is False.
    OSError
        If ``download`` is True but the download failed or was corrupted.
    ValueError
        If the cached archive does not match its checksum or its content is
        not in the official format, or ``subset`` or ``label_mode`` is
        unknown.

    See Also
    --------
    load_cifar10 : 10 classes in the same format.

    Examples
    --------
    >>> from skcv.datasets import load_cifar100
    >>> cifar = load_cifar100(label_mode="coarse", download=True)  # doctest: +SKIP
    >>> cifar.images.shape, len(cifar.target_names)  # doctest: +SKIP
    ((50000, 32, 32, 3), 20)
    """
    return _load_cifar(
        "cifar100",
        "cifar-100-python.tar.gz",
        _CIFAR100_MEMBERS,
        "cifar-100-python/meta",
        params={
            "subset": subset,
            "data_home": data_home,
            "download": download,
            "return_X_y": return_X_y,
            "descr": _CIFAR100_DESCR,
        },
        keys=(f"{label_mode}_labels".encode(), f"{label_mode}_label_names".encode()),
    )
