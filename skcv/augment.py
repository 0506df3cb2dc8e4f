"""Augmentation of training images: a sampler and a meta-estimator.

:class:`ImageAugmenter` adds randomly flipped, shifted, rotated and
intensity-jittered copies of a batch of images through ``fit_resample``, the
sampler interface of imbalanced-learn, whose ``Pipeline`` applies samplers
during ``fit`` only. :class:`AugmentedClassifier` does the same inside plain
scikit-learn by wrapping a classifier, offline (one augmented set) or online
(fresh copies every epoch).
"""

import sys
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_y, check_consistent_length

from ._augmented import AugmentedClassifier
from ._images import _check_images
from ._transforms import (
    _warp_into,
    affine_maps,
    intensity_jitter,
    pixel_range,
    saturate_cast,
)

__all__ = ["AugmentedClassifier", "ImageAugmenter"]

# Copies go through the intensity jitter in blocks of this many images, which
# bounds the float temporaries (and the noise draw) independently of n_samples.
_CHUNK = 4096


def _like_pandas_input(X, y, X_new, y_new):
    """Give pandas input back as pandas, with a fresh index, as imblearn does.

    Indexing a Series by ``sample_indices_`` would repeat its index labels.
    """
    pd = sys.modules.get("pandas")
    if pd is None:
        return X_new, y_new
    if isinstance(X, pd.DataFrame) and X_new.ndim == 2:
        X_new = pd.DataFrame(X_new, columns=X.columns)
    if isinstance(y, pd.Series):
        y_new = pd.Series(np.asarray(y_new), name=y.name, dtype=y.dtype)
    elif isinstance(y, pd.DataFrame):
        y_new = pd.DataFrame(np.asarray(y_new), columns=y.columns).astype(
            y.dtypes.to_dict()
        )
    return X_new, y_new


class ImageAugmenter(BaseEstimator):
    """Random flips, shifts, rotations and intensity jitter of training images.

    A sampler: ``fit_resample(X, y)`` returns the images together with
    ``n_copies`` randomly transformed copies of each, and the labels repeated
    to match. It has no ``transform``, so that augmentation can only ever
    happen while fitting: imbalanced-learn's :class:`~imblearn.pipeline.Pipeline`
    calls it during ``fit`` and skips it in ``predict`` and ``score``, and
    :class:`AugmentedClassifier` calls it on the training data only.

    Each copy gets, in this order and with its own random parameters:

    1. a left-right mirror with probability 1/2 (``flip=True``);
    2. a rotation by an angle drawn uniformly in ``[-max_rotation,
       max_rotation]`` degrees about the image centre;
    3. a shift by integers ``(dy, dx)`` drawn uniformly in
       ``[-max_shift, max_shift]``, with the uncovered border filled according
       to ``pad_mode`` (a random crop of the padded image);
    4. a contrast factor ``1 + c``, ``c`` uniform in ``[-contrast, contrast]``,
       applied around the image mean;
    5. a brightness offset uniform in ``[-brightness, brightness]`` times the
       pixel range ``r``;
    6. Gaussian noise of standard deviation ``noise`` times ``r``.

    Steps 1 to 3 are composed into one affine map per image and resampled once
    with bilinear interpolation (exactly, as a pixel copy, when there is no
    rotation). A parameter at 0 (or ``flip=False``) switches its step off, and
    with every step off each copy equals its source image bit for bit.

    Parameters
    ----------
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)``: how to read flat rows as images. Needed
        for the geometric steps (1 to 3) when ``X`` is given as rows of shape
        ``(n_samples, n_features)``; without it rows are jittered pixel-wise
        only (steps 4 to 6). For an image batch, the shape the images must
        have.
    flip : bool, default=False
        Mirror each copy left-right with probability 1/2. Leave it off for
        digits and text.
    max_shift : int, default=0
        Largest shift in pixels, in each direction and along each axis.
    pad_mode : {"constant", "reflect"}, default="constant"
        Fill of the pixels that a shift or rotation brings in from outside the
        image: zero, or the image mirrored about its edge pixels
        (``np.pad(mode="reflect")``).
    max_rotation : float, default=0.0
        Largest rotation in degrees, in [0, 180].
    brightness : float, default=0.0
        Largest brightness offset, as a fraction of the pixel range ``r``.
    contrast : float, default=0.0
        Largest relative change of contrast, in [0, 1].
    noise : float, default=0.0
        Standard deviation of the additive Gaussian noise, as a fraction of the
        pixel range ``r``.
    value_range : float, default=None
        The pixel range ``r`` that ``brightness`` and ``noise`` are fractions
        of. None derives it from the images (see Notes); give it when the
        batch may not span the range, e.g. 255 for dark float images that
        were read as 0..255.
    n_copies : int, default=1
        Number of augmented copies of every image.
    keep_original : bool, default=True
        Put the unchanged images first in the output, before the copies.
    random_state : int, RandomState instance or None, default=None
        Seed of the random parameters. Pass an int for output that is the same
        on every call.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_samples_new,)
        Row of ``X`` that each output row was made from: ``arange(n_samples)``
        for the originals (when kept), then ``arange(n_samples)`` once per
        copy.

    See Also
    --------
    AugmentedClassifier : Fit a classifier on augmented training data in plain
        scikit-learn, optionally with fresh copies every epoch.
    imblearn.pipeline.Pipeline : A pipeline that runs samplers during ``fit``
        only.
    scipy.ndimage.affine_transform : The same resampling, one image at a time.

    Notes
    -----
    Unless ``value_range`` is given, the pixel range ``r`` is the largest
    absolute pixel value of the batch, but at least 255 for integer images
    (the range of uint8) and at least 1 for float images (the range [0, 1]):
    255 for uint8 photos, 1 for floats in [0, 1], and 16 for scikit-learn's
    0..16 digits (:func:`skcv.datasets.load_digits_images`), whose jitter a
    fixed range of 1 would make 16 times weaker. With ``m`` the mean of
    an image over all its pixels and channels, steps 4 to 6 compute

    .. math:: x' = (x - m)(1 + c) + m + b \\cdot r + \\epsilon, \\quad
              \\epsilon \\sim \\mathcal{N}(0, (\\text{noise} \\cdot r)^2)

    with ``r`` the pixel range. Integer results are rounded and clipped to the
    limits of their dtype (0..255 for uint8) rather than wrapped; float results
    are not clipped.

    Rotation follows :func:`scipy.ndimage.rotate` (``reshape=False``,
    ``order=1``; positive angles turn counter-clockwise) about the centre
    ``((H - 1) / 2, (W - 1) / 2)``; shifts follow :func:`scipy.ndimage.shift`
    (positive ``dy`` moves the content down). Pixels that map outside the
    source image take the ``pad_mode`` fill. uint8 images are interpolated in
    fixed point, as OpenCV does, which may put a rotated pixel one grey level
    away from the rounded floating-point result.

    The output keeps the dtype of ``X`` and its layout: an image batch gives an
    image batch, flat rows give flat rows. ``X`` is never modified.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv import ImageAugmenter
    >>> X = np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4)
    >>> y = np.array([0, 1])
    >>> aug = ImageAugmenter(flip=True, max_shift=1, n_copies=2, random_state=0)
    >>> X_new, y_new = aug.fit_resample(X, y)
    >>> X_new.shape, X_new.dtype
    ((6, 4, 4), dtype('uint8'))
    >>> aug.sample_indices_
    array([0, 1, 0, 1, 0, 1])
    >>> y_new
    array([0, 1, 0, 1, 0, 1])
    >>> bool((X_new[:2] == X).all())
    True
    """

    _parameter_constraints: dict = {
        "image_shape": [tuple, list, None],
        "flip": ["boolean"],
        "max_shift": [Interval(Integral, 0, None, closed="left")],
        "pad_mode": [StrOptions({"constant", "reflect"})],
        "max_rotation": [Interval(Real, 0, 180, closed="both")],
        "brightness": [Interval(Real, 0, None, closed="left")],
        "contrast": [Interval(Real, 0, 1, closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "value_range": [Interval(Real, 0, None, closed="neither"), None],
        "n_copies": [Interval(Integral, 0, None, closed="left")],
        "keep_original": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        image_shape=None,
        flip=False,
        max_shift=0,
        pad_mode="constant",
        max_rotation=0.0,
        brightness=0.0,
        contrast=0.0,
        noise=0.0,
        value_range=None,
        n_copies=1,
        keep_original=True,
        random_state=None,
    ):
        self.image_shape = image_shape
        self.flip = flip
        self.max_shift = max_shift
        self.pad_mode = pad_mode
        self.max_rotation = max_rotation
        self.brightness = brightness
        self.contrast = contrast
        self.noise = noise
        self.value_range = value_range
        self.n_copies = n_copies
        self.keep_original = keep_original
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_resample(self, X, y):
        """Return the images with their augmented copies, and matching labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images, or flat rows (read with ``image_shape`` when given).
        y : array-like of shape (n_samples,) or None
            Labels, repeated along with the images; None gives None.

        Returns
        -------
        X_new : ndarray of shape (n_samples_new, ...) or DataFrame
            ``n_samples_new = n_samples * (n_copies + keep_original)`` rows or
            images, with the dtype and layout of ``X``. A DataFrame ``X``
            gives a DataFrame with its columns and a fresh index, as
            imbalanced-learn's samplers return.
        y_new : ndarray of shape (n_samples_new,), Series or None
            ``y[sample_indices_]``, of the type of ``y``; a Series keeps its
            name and dtype and gets a fresh index (no duplicated labels).
        """
        images, flat = _check_images(X, image_shape=self.image_shape)
        check_consistent_length(images, y)
        if y is not None:
            # Checked for NaN and shape only: y_new keeps the type of y.
            _check_y(y, multi_output=True)
        n_samples = images.shape[0]
        n_kept = n_samples if self.keep_original else 0
        if n_kept + n_samples * self.n_copies == 0:
            raise ValueError(
                "n_copies=0 with keep_original=False leaves no samples; keep the "
                "originals or ask for at least one copy."
            )
        geometric = self.flip or self.max_shift > 0 or self.max_rotation > 0
        if geometric and images.ndim < 3:
            raise ValueError(
                "flip, max_shift and max_rotation need images: pass X as an array "
                "of shape (n_samples, height, width[, channels]), or set "
                "image_shape=(height, width[, channels]) to read flat rows; got "
                f"X of shape {images.shape} and image_shape={self.image_shape!r}."
            )

        sources = np.tile(np.arange(n_samples), self.n_copies)
        # The copies are written straight after the originals: no serial
        # concatenation of the whole result after the parallel warp.
        X_new = np.empty((n_kept + len(sources), *images.shape[1:]), images.dtype)
        X_new[:n_kept] = images[:n_kept]
        self._augment(
            images, sources, check_random_state(self.random_state), X_new[n_kept:]
        )
        if flat:
            X_new = X_new.reshape(X_new.shape[0], -1)
        self.sample_indices_ = np.concatenate([np.arange(n_kept), sources])
        y_new = None if y is None else _safe_indexing(y, self.sample_indices_)
        return _like_pandas_input(X, y, X_new, y_new)

    def _augment(self, images, sources, rng, out):
        """Copies ``images[sources]``, each transformed with its own parameters.

        They are written into ``out``, of shape ``(len(sources), ...)`` and
        the dtype of ``images``, which is returned.
        """
        n = len(sources)
        # Each parameter is drawn for the whole batch in one call, and only for
        # the steps that are on, in a fixed order: the same random_state gives
        # the same copies.
        flip = rng.random_sample(n) < 0.5 if self.flip else None
        shift = (
            rng.randint(-self.max_shift, self.max_shift + 1, size=(n, 2))
            if self.max_shift > 0
            else None
        )
        angle = (
            rng.uniform(-self.max_rotation, self.max_rotation, n)
            if self.max_rotation > 0
            else None
        )
        value_range = (
            self._pixel_range(images) if self.brightness or self.noise else 1.0
        )
        contrast = (
            1 + rng.uniform(-self.contrast, self.contrast, n) if self.contrast else None
        )
        brightness = (
            rng.uniform(-self.brightness, self.brightness, n) * value_range
            if self.brightness
            else None
        )
        noise_rng = (
            np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
            if self.noise
            else None
        )

        if flip is None and shift is None and angle is None:
            copies = np.take(images, sources, axis=0, out=out)
        else:
            maps = affine_maps(n, images.shape[1:], flip=flip, shift=shift, angle=angle)
            copies = _warp_into(images, maps, sources, self.pad_mode, out)
        if contrast is None and brightness is None and noise_rng is None:
            return copies

        for start in range(0, n, _CHUNK):
            block = slice(start, start + _CHUNK)
            noise = None
            if noise_rng is not None:
                dtype = np.float64 if copies.dtype == np.float64 else np.float32
                noise = noise_rng.standard_normal(copies[block].shape, dtype=dtype)
                noise *= dtype(self.noise * value_range)
            jittered = intensity_jitter(
                copies[block],
                contrast=None if contrast is None else contrast[block],
                brightness=None if brightness is None else brightness[block],
                noise=noise,
            )
            copies[block] = saturate_cast(jittered, copies.dtype)
        return copies

    def _pixel_range(self, images):
        """The range ``r`` of the strengths (see Notes)."""
        if self.value_range is not None:
            return float(self.value_range)
        # pixel_range gives the floor: 255 for integers, 1 for floats.
        largest = float(np.abs(images).max(initial=0))
        return max(pixel_range(images.dtype), largest)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "sampler"
        tags.requires_fit = False
        tags.input_tags.three_d_array = True
        return tags
