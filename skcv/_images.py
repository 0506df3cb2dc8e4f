"""Validation of image batches shared by the transformers and augmenters.

Images arrive either as an array of shape ``(n_samples, *image_shape)`` with
``image_shape`` being ``(height, width)`` or ``(height, width, channels)``, or
as flat rows of shape ``(n_samples, n_features)`` together with an
``image_shape`` whose product is ``n_features``.
"""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_array


def _check_image_shape(image_shape, *, name="image_shape"):
    """Return ``image_shape`` as a tuple of positive ints, or raise ValueError."""
    if image_shape is None:
        return None
    try:
        shape = tuple(image_shape)
    except TypeError:
        raise ValueError(
            f"{name} must be a tuple such as (height, width) or "
            f"(height, width, channels); got {image_shape!r}."
        ) from None
    if (
        len(shape) not in (1, 2, 3)
        or not all(isinstance(s, Integral) and not isinstance(s, bool) for s in shape)
        or not all(s > 0 for s in shape)
    ):
        raise ValueError(
            f"{name} must hold 1 to 3 positive integers, such as (height, width) "
            f"or (height, width, channels); got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def _check_images(
    X,
    *,
    image_shape=None,
    dtype="numeric",
    ensure_all_finite=True,
    input_name="X",
):
    """Validate a batch of images and return it as ``(n_samples, *image_shape)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, height, width[, channels]) or \
            (n_samples, n_features)
        The images, or flat rows when ``image_shape`` is given.
    image_shape : tuple of int, default=None
        How to read flat rows. Required for 2-D ``X`` unless the rows are to
        be treated as 1-D images.
    dtype : str, type or list of types, default="numeric"
        Passed to :func:`sklearn.utils.check_array`.
    ensure_all_finite : bool, default=True
        Reject NaN and infinity.
    input_name : str, default="X"
        Name used in error messages.

    Returns
    -------
    images : ndarray of shape (n_samples, *image_shape)
        A view of the validated array whenever possible.
    flat : bool
        Whether ``X`` was given as flat rows.
    """
    image_shape = _check_image_shape(image_shape)
    if hasattr(X, "ndim") and X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{input_name} must be images of shape (n_samples, height, width) or "
            f"(n_samples, height, width, channels), or flat rows of shape "
            f"(n_samples, n_features); got an array with {X.ndim} dimension(s) "
            f"of shape {X.shape}. Reshape your data, e.g. with X.reshape(1, -1) "
            f"for a single sample."
        )
    X = check_array(
        X,
        allow_nd=True,
        dtype=dtype,
        ensure_all_finite=ensure_all_finite,
        input_name=input_name,
    )
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"{input_name} must be images of shape (n_samples, height, width) or "
            f"(n_samples, height, width, channels); got shape {X.shape}."
        )
    # check_array counts features only for 2-D input; an image batch with an
    # empty axis would otherwise pass as images without pixels.
    if X.ndim > 2 and 0 in X.shape[1:]:
        raise ValueError(
            f"{input_name} holds images of shape {X.shape[1:]}, which have no "
            f"pixels; every image needs at least 1 row, 1 column and 1 channel."
        )
    if X.ndim == 2:
        if image_shape is None:
            return X, True
        if int(np.prod(image_shape)) != X.shape[1]:
            raise ValueError(
                f"{input_name} has {X.shape[1]} features per row, which cannot be "
                f"read as images of shape {image_shape} "
                f"({int(np.prod(image_shape))} pixels)."
            )
        return X.reshape((X.shape[0], *image_shape)), True
    if image_shape is not None and X.shape[1:] != image_shape:
        raise ValueError(
            f"{input_name} holds images of shape {X.shape[1:]}, but image_shape is "
            f"{image_shape}."
        )
    return X, False
