"""Turning image batches into feature rows and back."""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_array,
    check_is_fitted,
    validate_data,
)

from ._images import _check_image_shape, _check_images
from ._validation import _keeps_state_on_error

__all__ = ["PixelFlatten"]


class PixelFlatten(TransformerMixin, BaseEstimator):
    """Flatten images of shape (H, W) or (H, W, C) into feature rows.

    ``transform`` turns an array of shape ``(n_samples, H, W)`` or
    ``(n_samples, H, W, C)`` into rows of shape ``(n_samples, H * W * C)`` in
    C (row-major, channels-last) order, so that pixel ``(i, j, c)`` becomes
    feature ``(i * W + j) * C + c``. ``inverse_transform`` undoes it, which is
    how a linear model's weight rows are shown as images.

    Rows that are already flat are accepted as they are (scikit-learn's own
    checks feed 2-D data); ``image_shape`` then says how to unflatten them.

    The transformer is stateless: ``transform`` works without ``fit``. After
    ``fit`` it remembers the image shape it saw and rejects images of any other
    shape with an error that names both shapes.

    Parameters
    ----------
    image_shape : tuple of int, default=None
        Shape of one image, ``(H, W)`` or ``(H, W, C)``. Needed to read flat
        rows as images (``inverse_transform`` of rows never fitted on images);
        ignored for input that is already an image batch, except that the
        batch must then have this shape.
    rescale : bool, default=False
        Divide pixel values by 255, mapping uint8 images in ``0..255`` to
        float32 values in ``[0, 1]``. Integer input becomes float32; float
        input keeps its dtype. ``inverse_transform`` multiplies by 255.

    Attributes
    ----------
    image_shape_ : tuple of int
        Shape of one image seen in ``fit``; ``(n_features,)`` when ``fit``
        got flat rows and ``image_shape`` was None.
    n_features_in_ : int
        Number of pixels per image, ``prod(image_shape_)``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the columns seen in ``fit``, when ``X`` was a DataFrame.

    See Also
    --------
    sklearn.preprocessing.FunctionTransformer : A stateless transformer built
        from any function.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv import PixelFlatten
    >>> images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    >>> flat = PixelFlatten().fit(images)
    >>> rows = flat.transform(images)
    >>> rows.shape
    (2, 12)
    >>> flat.image_shape_
    (3, 4)
    >>> bool((flat.inverse_transform(rows) == images).all())
    True
    >>> PixelFlatten(rescale=True).fit_transform(images).dtype
    dtype('float32')
    """

    _parameter_constraints: dict = {
        "image_shape": [tuple, list, None],
        "rescale": ["boolean"],
    }

    def __init__(self, image_shape=None, *, rescale=False):
        self.image_shape = image_shape
        self.rescale = rescale

    def _validate_images(self, X, *, reset):
        """Validate X; return the image batch and record or check its shape."""
        # 2-D input goes through validate_data first so that DataFrame column
        # names are recorded; image batches have no column names.
        # len(shape) rather than np.ndim: array-likes that only define
        # __array__ must not be asked for __array_function__.
        ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
        if ndim == 2:
            X = validate_data(self, X, reset=reset, dtype="numeric")
            images, _ = _check_images(X, image_shape=self.image_shape)
        else:
            images, _ = _check_images(X, image_shape=self.image_shape)
            validate_data(
                self, images.reshape(images.shape[0], -1), reset=reset, dtype=None
            )
        if reset:
            self.image_shape_ = images.shape[1:]
        elif hasattr(self, "image_shape_") and images.shape[1:] != self.image_shape_:
            # Same pixel count, other layout (e.g. 8x8 fitted, 4x16 given).
            raise ValueError(
                f"X holds images of shape {images.shape[1:]}, but PixelFlatten was "
                f"fitted on images of shape {self.image_shape_}."
            )
        return images

    @_fit_context(prefer_skip_nested_validation=True)
    @_keeps_state_on_error
    def fit(self, X, y=None):
        """Record the image shape of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images, or flat rows.
        y : None
            Ignored.

        Returns
        -------
        self : PixelFlatten
            The fitted transformer.
        """
        _check_image_shape(self.image_shape)
        self._validate_images(X, reset=True)
        return self

    def transform(self, X):
        """Flatten images into rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images, or flat rows.

        Returns
        -------
        X_flat : ndarray of shape (n_samples, H * W * C)
            The rows; a view of ``X`` when no copy is needed.
        """
        if hasattr(self, "image_shape_"):
            images = self._validate_images(X, reset=False)
        else:
            images, _ = _check_images(X, image_shape=self.image_shape)
        rows = images.reshape(images.shape[0], -1)
        return self._scale(rows, forward=True)

    def inverse_transform(self, X):
        """Turn rows back into images.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows such as the output of ``transform``, or a linear model's
            ``coef_`` (one template per class).

        Returns
        -------
        images : ndarray of shape (n_samples, *image_shape)
            The images.
        """
        if hasattr(self, "image_shape_"):
            shape = self.image_shape_
        else:
            shape = _check_image_shape(self.image_shape)
            if shape is None:
                check_is_fitted(self, "image_shape_")
        X = check_array(X, dtype="numeric")
        if X.shape[1] != int(np.prod(shape)):
            raise ValueError(
                f"X has {X.shape[1]} features per row, which cannot be read as "
                f"images of shape {shape} ({int(np.prod(shape))} pixels)."
            )
        return self._scale(X, forward=False).reshape((X.shape[0], *shape))

    def _scale(self, X, *, forward):
        if not self.rescale:
            return X
        if forward:
            dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float32)
            return X.astype(dtype, copy=True) / dtype.type(255)
        return X * X.dtype.type(255) if X.dtype.kind == "f" else X * 255.0

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        DataFrame column names pass through; pixels of an image batch are
        named ``pixel_<row>_<col>`` (and ``_<channel>`` for colour images).

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input feature names; must match ``feature_names_in_`` if both exist.

        Returns
        -------
        feature_names_out : ndarray of str
            One name per output column.
        """
        check_is_fitted(self, "n_features_in_")
        if input_features is not None or hasattr(self, "feature_names_in_"):
            return _check_feature_names_in(self, input_features)
        if len(self.image_shape_) == 1:
            return _check_feature_names_in(self, None)
        grids = np.indices(self.image_shape_).reshape(len(self.image_shape_), -1).T
        return np.asarray(
            ["pixel_" + "_".join(map(str, idx)) for idx in grids], dtype=object
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.three_d_array = True
        return tags
