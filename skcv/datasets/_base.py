"""The data home, the common return value, sklearn's digits and ``.npz`` files."""

import os
import zipfile

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

_DIGITS_DESCR = """\
Optical recognition of handwritten digits (scikit-learn's ``load_digits``)
-------------------------------------------------------------------------

1797 grey images of 8x8 pixels, 10 classes (the digits 0 to 9). Each pixel
counts the "on" cells of a 4x4 block of a 32x32 bitmap, so values are the
integers 0 to 16, stored as float64 exactly as scikit-learn gives them.

Source: UCI Machine Learning Repository, "Optical Recognition of Handwritten
Digits" (E. Alpaydin, C. Kaynak, 1998), shipped with scikit-learn.
Licence: CC BY 4.0 (UCI).
"""


@validate_params(
    {"data_home": [str, os.PathLike, None]},
    prefer_skip_nested_validation=True,
)
def get_data_home(data_home=None):
    """Return the folder where skcv keeps downloaded data sets, creating it.

    The folder is, in order of precedence, ``data_home`` if given, the
    environment variable ``SKCV_DATA`` if set, or ``~/skcv_data``. The ``~``
    symbol is expanded to the user's home folder. Each data set lives in a
    sub-folder of it: ``mnist/``, ``fashion_mnist/``, ``cifar10/`` and
    ``cifar100/``, holding the files under their official names.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder to use instead of the default.

    Returns
    -------
    data_home : str
        The path of the folder, which exists on return.

    See Also
    --------
    sklearn.datasets.get_data_home : The same for scikit-learn's fetchers.

    Examples
    --------
    >>> import os, tempfile
    >>> from skcv.datasets import get_data_home
    >>> folder = os.path.join(tempfile.mkdtemp(), "skcv_data")
    >>> get_data_home(folder) == folder, os.path.isdir(folder)
    (True, True)
    """
    if data_home is None:
        data_home = os.environ.get("SKCV_DATA") or os.path.join("~", "skcv_data")
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


def _make_bunch(images, target, target_names, descr, *, return_X_y):
    """Assemble what every loader returns from C-contiguous ``images``."""
    # A reshape of a C-contiguous array is a view, in PixelFlatten's layout.
    # The row length is spelled out: -1 is ambiguous for a file of 0 images.
    data = images.reshape(images.shape[0], int(np.prod(images.shape[1:])))
    if return_X_y:
        return data, target
    return Bunch(
        images=images,
        data=data,
        target=target,
        target_names=list(target_names),
        DESCR=descr,
    )


@validate_params(
    {"return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_digits_images(*, return_X_y=False):
    """Load scikit-learn's 8x8 handwritten digits as a batch of images.

    The same data as :func:`sklearn.datasets.load_digits`, shaped for the
    image pipeline: ``images`` is ``(1797, 8, 8)``. It ships with
    scikit-learn, so it needs neither a download nor a file.

    =================   ==============
    Classes                         10
    Samples total                 1797
    Image shape                  8 x 8
    Pixel values        float64 0..16
    =================   ==============

    Unlike the other loaders, whose pixels are uint8 in ``0..255``, the pixels
    keep scikit-learn's float64 values ``0..16``, so that results stay
    comparable with scikit-learn's examples; multiply by ``255 / 16`` to put
    them on the 0..255 scale.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch, as
        scikit-learn's loaders do.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (1797, 8, 8), dtype float64
            The images.
        data : ndarray of shape (1797, 64), dtype float64
            The images flattened row by row (a view of ``images``).
        target : ndarray of shape (1797,), dtype int64
            The digit shown by each image.
        target_names : list of str
            ``["0", "1", ..., "9"]``.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (1797, 64) and ``target`` of shape (1797,).

    See Also
    --------
    sklearn.datasets.load_digits : The same data with flat rows.
    load_mnist : Handwritten digits at 28x28.

    Examples
    --------
    >>> from skcv.datasets import load_digits_images
    >>> digits = load_digits_images()
    >>> digits.images.shape, digits.data.shape
    ((1797, 8, 8), (1797, 64))
    >>> digits.target[:5]
    array([0, 1, 2, 3, 4])
    >>> digits.target_names[:3]
    ['0', '1', '2']
    """
    digits = load_digits()
    images = np.ascontiguousarray(digits.images, dtype=np.float64)
    target = digits.target.astype(np.int64)
    names = [str(int(k)) for k in digits.target_names]
    return _make_bunch(images, target, names, _DIGITS_DESCR, return_X_y=return_X_y)


def _npz_descr(path, n_samples, image_shape):
    shape = "flat rows" if image_shape is None else f"images of shape {image_shape}"
    return f"Arrays X and y read from {os.fspath(path)!r}: {n_samples} {shape}.\n"


@validate_params(
    {"path": [str, os.PathLike], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_npz(path, *, return_X_y=False):
    """Load images and labels from a ``.npz`` file with arrays ``X`` and ``y``.

    ``X`` holds images of shape ``(n_samples, height, width)`` or
    ``(n_samples, height, width, channels)``, or flat rows of shape
    ``(n_samples, n_features)``; ``y`` holds one label per sample. Other
    arrays in the file are ignored. The file is read with
    ``allow_pickle=False``, so it cannot run code.

    Parameters
    ----------
    path : str or path-like
        The ``.npz`` file, as written by ``np.savez(path, X=X, y=y)``.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, height, width[, channels]) or None
            ``X`` as stored (its dtype kept), or None when ``X`` holds flat
            rows, whose image shape the file does not say.
        data : ndarray of shape (n_samples, n_features)
            ``X`` with each image flattened row by row (a view of ``images``).
        target : ndarray of shape (n_samples,), dtype int64
            Integer labels as stored (uint64 when a label is 2**63 or more,
            which int64 cannot hold); string labels are replaced by their
            index in ``target_names``.
        target_names : list of str
            The sorted distinct labels, as strings.
        DESCR : str
            Where the arrays come from.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, n_features) and ``target``.

    Raises
    ------
    ValueError
        If the file is empty or not an ``.npz`` archive, lacks ``X`` or ``y``,
        holds object arrays or members that are not arrays, or if the arrays
        have unusable shapes (0 pixels among them), different lengths or
        non-finite pixels. The message names the file.
    TypeError
        If ``X`` is not numeric or ``y`` holds neither integers nor strings.

    See Also
    --------
    numpy.savez : Writes such a file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skcv.datasets import load_npz
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny.npz")
    >>> X = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    >>> np.savez(path, X=X, y=np.array([7, 3]))
    >>> tiny = load_npz(path)
    >>> tiny.images.shape, tiny.data.shape, tiny.target, tiny.target_names
    ((2, 3, 4), (2, 12), array([7, 3]), ['3', '7'])
    """
    X, y = _read_npz_arrays(path)
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"X in {os.fspath(path)!r} must have shape (n_samples, height, width), "
            f"(n_samples, height, width, channels) or (n_samples, n_features); "
            f"got shape {X.shape}."
        )
    if X.dtype.kind not in "uif":
        raise TypeError(
            f"X in {os.fspath(path)!r} must hold numbers; got dtype {X.dtype}."
        )
    if X.dtype.kind == "f" and not np.isfinite(X).all():
        raise ValueError(f"X in {os.fspath(path)!r} contains NaN or infinity.")
    if X.shape[1:] and 0 in X.shape[1:]:
        raise ValueError(
            f"X in {os.fspath(path)!r} has samples of 0 pixels (shape {X.shape})."
        )
    if y.ndim != 1:
        raise ValueError(
            f"y in {os.fspath(path)!r} must have shape (n_samples,); got shape "
            f"{y.shape}."
        )
    if len(X) != len(y):
        raise ValueError(
            f"X and y in {os.fspath(path)!r} have different lengths: {len(X)} "
            f"samples in X, {len(y)} labels in y."
        )
    if y.dtype.kind in "iu":
        # int64 unless a label does not fit (uint64 from 2**63 on): the labels
        # come back exactly as stored, never wrapped around.
        fits = y.size == 0 or y.dtype.kind == "i" or y.max() <= np.iinfo(np.int64).max
        target = y.astype(np.int64 if fits else np.uint64)
        names = [str(v) for v in np.unique(target)]
    elif y.dtype.kind in "US":
        labels, target = np.unique(y, return_inverse=True)
        target = target.astype(np.int64)
        names = [v.decode() if isinstance(v, bytes) else str(v) for v in labels]
    else:
        raise TypeError(
            f"y in {os.fspath(path)!r} must hold integer or string labels; got "
            f"dtype {y.dtype}."
        )
    X = np.ascontiguousarray(X)
    image_shape = X.shape[1:] if X.ndim > 2 else None
    descr = _npz_descr(path, len(X), image_shape)
    if X.ndim == 2:
        if return_X_y:
            return X, target
        return Bunch(
            images=None, data=X, target=target, target_names=names, DESCR=descr
        )
    return _make_bunch(X, target, names, descr, return_X_y=return_X_y)


def _read_npz_arrays(path):
    """Read ``X`` and ``y`` from ``path`` without pickle, with clear errors."""
    shown = repr(os.fspath(path))
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        if isinstance(exc, EOFError):
            raise ValueError(f"{shown} is empty, not a readable .npz file.") from exc
        raise ValueError(f"{shown} is not a readable .npz file: {exc}") from exc
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{shown} holds a single array, not an .npz archive with arrays X "
            f"and y; write it with np.savez(path, X=X, y=y)."
        )
    with archive:
        missing = [key for key in ("X", "y") if key not in archive.files]
        if missing:
            raise ValueError(
                f"{shown} lacks the array(s) {', '.join(missing)}; it holds "
                f"{sorted(archive.files)}. Write it with np.savez(path, X=X, y=y)."
            )
        try:
            arrays = archive["X"], archive["y"]
        except ValueError as exc:
            if "allow_pickle" not in str(exc):
                raise ValueError(f"{shown} holds a corrupt array: {exc}") from exc
            raise ValueError(
                f"{shown} holds object arrays, which are not loaded because they "
                f"would need pickle: {exc}"
            ) from exc
        except (OSError, EOFError, zipfile.BadZipFile) as exc:
            raise ValueError(f"{shown} is not a readable .npz file: {exc}") from exc
    for key, array in zip(("X", "y"), arrays):
        # A member that is not in .npy format comes back as raw bytes.
        if not isinstance(array, np.ndarray):
            raise ValueError(
                f"{shown}: the member {key} is not a NumPy array (.npy); write "
                "the file with np.savez(path, X=X, y=y)."
            )
    return arrays
