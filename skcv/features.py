"""Image features beyond raw pixels: histograms of oriented gradients and of colour.

Both transformers take a batch of images, ``(n_samples, H, W)`` or
``(n_samples, H, W, C)``, and return one feature row per image. The whole
batch goes through one compiled pass; nothing loops over images in Python.

:class:`HOGFeatures` follows :func:`skimage.feature.hog` to the detail (the
same gradient, the same orientation bins and the same single-precision cell
sums), so its rows equal scikit-image's image by image; scikit-image itself is
not needed at run time.
"""

import functools
import math
from numbers import Integral

import numba
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._images import _check_images

__all__ = ["ColorHistogram", "HOGFeatures"]

_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_CHANNELS = ("hue", "saturation", "value")
# scikit-image's block normalisation constant.
_EPS = 1e-5
# Images per compiled call: bounds the contiguous copy made of a strided batch.
_CHUNK = 2048


# ------------------------------------------------------------------ HOG kernels


def _pair(value, name):
    """``value`` as a pair of positive ints (an int means a square)."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        value = (value, value)
    try:
        pair = tuple(value)
    except TypeError:
        pair = ()
    if (
        len(pair) != 2
        or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in pair)
        or min(pair) < 1
    ):
        raise ValueError(
            f"{name} must be a positive int or a pair of positive ints "
            f"(rows, columns); got {value!r}."
        )
    return int(pair[0]), int(pair[1])


def _bin_edges(orientations):
    """Upper edges of the orientation bins, in degrees.

    Computed as scikit-image computes them (``180 / orientations`` times the
    bin number), so that a gradient exactly on an edge, such as 90 degrees,
    goes to the same bin.
    """
    return 180.0 / orientations * np.arange(1, orientations + 1, dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _gradient_tables(orientations):
    """Magnitude and orientation bin of every integer gradient of 8-bit images.

    Entry ``[g_row + 255, g_col + 255]`` of ``bins`` is the bin scikit-image
    gives the gradient (``rad2deg(arctan2(g_row, g_col)) % 180`` against the
    bin edges), or -1 for none, and of ``norms`` it is ``hypot(g_row,
    g_col)``; both come from the numpy functions scikit-image calls, so they
    are exact.
    """
    g = np.arange(-255, 256, dtype=np.float64)
    angle = np.rad2deg(np.arctan2(g[:, None], g[None, :])) % 180
    bins = np.searchsorted(_bin_edges(orientations), angle, side="right")
    # Zero gradients add nothing; -1 skips them too.
    bins[bins >= orientations] = -1
    bins[255, 255] = -1
    return bins.astype(np.int16).ravel(), np.hypot(g[:, None], g[None, :]).ravel()


@numba.njit(cache=True, nogil=True)
def _cell_histograms_uint8_kernel(images, cell, bins, norms, out):
    """:func:`_cell_histograms_kernel` for 8-bit images, from the gradient tables.

    Integer gradients lie in -255..255, so their magnitude and bin are looked
    up (in the flattened tables of :func:`_gradient_tables`) rather than
    computed.
    """
    n, height, width, n_channels = images.shape
    c_row, c_col = cell
    n_cells_row, n_cells_col, n_bins = out.shape[1], out.shape[2], out.shape[3]
    area = np.float32(c_row * c_col)
    acc = np.zeros(n_bins, dtype=np.float32)
    for k in range(n):
        image = images[k]
        for cr in range(n_cells_row):
            for cc in range(n_cells_col):
                acc[:] = 0
                for i in range(cr * c_row, (cr + 1) * c_row):
                    # Border rows and columns read one pixel twice: zero
                    # gradient, without a branch per channel.
                    up = i - 1 if 0 < i < height - 1 else i
                    down = i + 1 if 0 < i < height - 1 else i
                    for j in range(cc * c_col, (cc + 1) * c_col):
                        left = j - 1 if 0 < j < width - 1 else j
                        right = j + 1 if 0 < j < width - 1 else j
                        best = 0
                        index = 255 * 511 + 255
                        for c in range(n_channels):
                            g_row = np.int32(image[down, j, c]) - np.int32(
                                image[up, j, c]
                            )
                            g_col = np.int32(image[i, right, c]) - np.int32(
                                image[i, left, c]
                            )
                            here = (g_row + 255) * 511 + g_col + 255
                            square = g_row * g_row + g_col * g_col
                            # Distinct integer squares have distinct, equally
                            # ordered hypot values; equal squares of other
                            # gradients need not round alike, so those compare
                            # as scikit-image does. Strictly larger: the first
                            # channel wins ties, as argmax does.
                            if square > best or (
                                square == best
                                and here != index
                                and norms[here] > norms[index]
                            ):
                                best = square
                                index = here
                        b = bins[index]
                        if b >= 0:
                            # hypot(g_col, g_row): the transposed entry.
                            g_row, g_col = divmod(index, 511)
                            acc[b] = np.float32(
                                np.float64(acc[b]) + norms[g_col * 511 + g_row]
                            )
                for b in range(n_bins):
                    out[k, cr, cc, b] = acc[b] / area
    return out


@numba.njit(inline="always")
def _angle_bin(g_row, g_col, edges):
    """Bin of ``rad2deg(arctan2(g_row, g_col)) % 180`` among the upper ``edges``.

    Bin ``b`` holds ``[edges[b - 1], edges[b])``; -1 means past the last edge.
    """
    angle = (math.atan2(g_row, g_col) * (180.0 / math.pi)) % 180.0
    n_bins = edges.shape[0]
    b = min(int(angle / edges[0]), n_bins - 1)
    while b > 0 and angle < edges[b - 1]:
        b -= 1
    while b < n_bins and angle >= edges[b]:
        b += 1
    return b if b < n_bins else -1


@numba.njit(cache=True, nogil=True)
def _cell_histograms_kernel(images, one, sqrt, cell, edges, cos_e, sin_e, out):
    """Cell orientation histograms of a batch of (n, H, W, C) images.

    Pixel values are read as ``value * one`` (``one`` is 1 in the float type
    scikit-image computes in: double, or single for single-precision images),
    square-rooted when ``sqrt``. The gradient is the central difference, zero
    on the border; per pixel the channel with the largest gradient magnitude
    gives it. Each pixel adds its magnitude to the bin of its unsigned
    orientation; the sums run in single precision in row-major order and are
    divided by the cell area, as scikit-image's are, so that its rounding is
    reproduced.

    The magnitude and the bin are found without transcendental calls where
    that cannot change the answer: squared magnitudes pick the channel unless
    two are within single-precision rounding of each other, and the
    orientation is placed by the sign of its cross product with each bin
    edge's direction (``cos_e``, ``sin_e``) unless it lies within rounding of
    an edge; only those near-ties take scikit-image's exact path (``hypot``,
    ``arctan2``).
    """
    n, height, width, n_channels = images.shape
    c_row, c_col = cell
    n_cells_row, n_cells_col, n_bins = out.shape[1], out.shape[2], out.shape[3]
    area = np.float32(c_row * c_col)
    acc = np.zeros(n_bins, dtype=np.float32)
    zero = one - one
    for k in range(n):
        for cr in range(n_cells_row):
            for cc in range(n_cells_col):
                acc[:] = 0
                for i in range(cr * c_row, (cr + 1) * c_row):
                    for j in range(cc * c_col, (cc + 1) * c_col):
                        best = 0.0
                        g_row = zero
                        g_col = zero
                        for c in range(n_channels):
                            gr = zero
                            gc = zero
                            if 0 < i < height - 1:
                                up = images[k, i - 1, j, c] * one
                                down = images[k, i + 1, j, c] * one
                                if sqrt:
                                    up, down = np.sqrt(up), np.sqrt(down)
                                gr = down - up
                            if 0 < j < width - 1:
                                left = images[k, i, j - 1, c] * one
                                right = images[k, i, j + 1, c] * one
                                if sqrt:
                                    left, right = np.sqrt(left), np.sqrt(right)
                                gc = right - left
                            square = np.float64(gr) * gr + np.float64(gc) * gc
                            if square < 0.999999 * best or (
                                gr == g_row and gc == g_col
                            ):
                                # Clearly smaller, or the same gradient again
                                # (grey pixels): the first channel stays.
                                continue
                            # A near tie: compare as scikit-image does, the
                            # first channel winning exact ties (argmax).
                            if (
                                c > 0
                                and square <= 1.000001 * best
                                and np.hypot(gr, gc) <= np.hypot(g_row, g_col)
                            ):
                                continue
                            best = square
                            g_row = gr
                            g_col = gc
                        if best == 0.0:
                            # No gradient: adds zero to bin 0.
                            continue
                        # Fold the direction into the upper half plane, where
                        # the unsigned angle lies in [0, 180).
                        fr, fc = np.float64(g_row), np.float64(g_col)
                        if fr < 0 or (fr == 0 and fc < 0):
                            fr, fc = -fr, -fc
                        b = n_bins
                        near = False
                        tol = 1e-9 * (abs(fr) + abs(fc))
                        for e in range(n_bins):
                            cross = fr * cos_e[e] - fc * sin_e[e]
                            if abs(cross) <= tol:
                                near = True
                                break
                            if cross < 0:
                                b = e
                                break
                        if near:
                            b = _angle_bin(np.float64(g_row), np.float64(g_col), edges)
                        if 0 <= b < n_bins:
                            # sqrt of the exact-to-rounding square: within an
                            # ulp of scikit-image's hypot, and cheaper.
                            acc[b] = np.float32(np.float64(acc[b]) + math.sqrt(best))
                for b in range(n_bins):
                    out[k, cr, cc, b] = acc[b] / area
    return out


def _cell_histograms(images, orientations, pixels_per_cell, transform_sqrt):
    """Orientation histogram of every cell: (n, n_cells_row, n_cells_col, bins).

    ``images`` is a validated (n, H, W) or (n, H, W, C) batch; it is read as
    it is, never converted to floats as a whole nor modified.
    """
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype == np.float16:
        images = images.astype(np.float32)
    elif images.dtype == bool:
        images = images.view(np.uint8)
    one = np.float32(1) if images.dtype == np.float32 else np.float64(1)
    if transform_sqrt and images.dtype.kind in "if" and (images < 0).any():
        raise ValueError(
            "transform_sqrt=True needs non-negative pixel values; X holds "
            "negative values."
        )
    n, height, width = images.shape[:3]
    c_row, c_col = pixels_per_cell
    out = np.empty((n, height // c_row, width // c_col, orientations))
    if images.dtype == np.uint8 and not transform_sqrt:
        bins, norms = _gradient_tables(orientations)
        for start in range(0, n, _CHUNK):
            stop = min(start + _CHUNK, n)
            _cell_histograms_uint8_kernel(
                np.ascontiguousarray(images[start:stop]),
                (c_row, c_col),
                bins,
                norms,
                out[start:stop],
            )
        return out
    edges = _bin_edges(orientations)
    radians = np.deg2rad(edges)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        _cell_histograms_kernel(
            np.ascontiguousarray(images[start:stop]),
            one,
            bool(transform_sqrt),
            (c_row, c_col),
            edges,
            np.cos(radians),
            np.sin(radians),
            out[start:stop],
        )
    return out


@numba.njit(cache=True, nogil=True)
def _normalize_blocks_kernel(histograms, block, method, out):
    """Normalise every block of cells, as scikit-image's ``_hog_normalize_block``.

    ``method`` indexes ``_BLOCK_NORMS``; ``out`` has shape (n, n_blocks_row,
    n_blocks_col, *block, bins).
    """
    n, n_blocks_row, n_blocks_col = out.shape[0], out.shape[1], out.shape[2]
    b_row, b_col = block
    n_bins = histograms.shape[3]
    for k in range(n):
        for r in range(n_blocks_row):
            for c in range(n_blocks_col):
                total = 0.0
                for i in range(b_row):
                    for j in range(b_col):
                        for o in range(n_bins):
                            v = histograms[k, r + i, c + j, o]
                            total += abs(v) if method < 2 else v * v
                if method < 2:
                    scale = 1.0 / (total + _EPS)
                else:
                    scale = 1.0 / math.sqrt(total + _EPS**2)
                clipped = 0.0
                for i in range(b_row):
                    for j in range(b_col):
                        for o in range(n_bins):
                            v = histograms[k, r + i, c + j, o] * scale
                            if method == 1:
                                v = math.sqrt(v)
                            elif method == 3:
                                v = min(v, 0.2)
                                clipped += v * v
                            out[k, r, c, i, j, o] = v
                if method == 3:
                    # L2-Hys: renormalise after clipping at 0.2.
                    scale = 1.0 / math.sqrt(clipped + _EPS**2)
                    for i in range(b_row):
                        for j in range(b_col):
                            for o in range(n_bins):
                                out[k, r, c, i, j, o] *= scale
    return out


def _normalize_blocks(histograms, cells_per_block, block_norm):
    """Normalised overlapping blocks: (n, n_blocks_row, n_blocks_col, *block, bins)."""
    n, n_cells_row, n_cells_col, n_bins = histograms.shape
    b_row, b_col = cells_per_block
    out = np.empty(
        (n, n_cells_row - b_row + 1, n_cells_col - b_col + 1, b_row, b_col, n_bins)
    )
    return _normalize_blocks_kernel(
        histograms, (b_row, b_col), _BLOCK_NORMS.index(block_norm), out
    )


def _check_feature_image_shape(image_shape):
    """``image_shape`` as a tuple: positive ints, at most one of them -1."""
    if image_shape is None:
        return None
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = ()
    if (
        len(shape) not in (2, 3)
        or not all(isinstance(s, Integral) and not isinstance(s, bool) for s in shape)
        or not all(s > 0 or s == -1 for s in shape)
        or shape.count(-1) > 1
    ):
        raise ValueError(
            f"image_shape must hold 2 or 3 positive integers, (height, width) or "
            f"(height, width, channels), one of which may be -1 to be inferred "
            f"as in numpy.reshape; got {image_shape!r}."
        )
    return tuple(int(s) for s in shape)


def _rows_as_images(rows, image_shape):
    """Flat rows read as images of ``image_shape`` (whose -1 is inferred)."""
    known = int(np.prod([s for s in image_shape if s != -1]))
    n_values = rows.shape[1]
    if n_values % known or (-1 not in image_shape and n_values != known):
        raise ValueError(
            f"X has {n_values} features per row, which cannot be read as images "
            f"of shape {image_shape}."
        )
    return rows.reshape((rows.shape[0], *image_shape))


def _validate_image_batch(estimator, X, *, reset):
    """Validate an image batch for a feature transformer; return the images.

    Flat rows are read as images of ``estimator.image_shape`` when it is set
    and refused otherwise, since their layout cannot be guessed. After
    ``fit`` the image shape must not change.
    """
    name = type(estimator).__name__
    ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X, dtype=object).ndim
    image_shape = _check_feature_image_shape(estimator.image_shape)
    if ndim == 2:
        # Rows (or a DataFrame): validate_data names non-numeric or
        # non-finite values and a changed number of features.
        rows = validate_data(estimator, X, reset=reset, dtype="numeric")
        if image_shape is None:
            raise ValueError(
                f"{name} needs images of shape (n_samples, height, width"
                f"[, channels]); X is 2-D {rows.shape}: flat rows whose image "
                f"layout is unknown. Pass the images, or set image_shape to read "
                f"the rows as images."
            )
        images = _rows_as_images(rows, image_shape)
    else:
        images, _ = _check_images(X)
        if image_shape is not None and (
            len(image_shape) != images.ndim - 1
            or any(s not in (-1, t) for s, t in zip(image_shape, images.shape[1:]))
        ):
            raise ValueError(
                f"X holds images of shape {images.shape[1:]}, but image_shape is "
                f"{image_shape}."
            )
        validate_data(estimator, images.reshape(images.shape[0], -1), reset=reset)
    if reset:
        estimator.image_shape_ = images.shape[1:]
    elif images.shape[1:] != estimator.image_shape_:
        raise ValueError(
            f"X holds images of shape {images.shape[1:]}, but {name} was fitted "
            f"on images of shape {estimator.image_shape_}."
        )
    return images


def _fitted_state(estimator):
    """The fitted attributes (names ending in ``_``) and their values."""
    return {
        name: value
        for name, value in vars(estimator).items()
        if name.endswith("_") and not name.startswith("_")
    }


class _ImageFeatures(TransformerMixin, BaseEstimator):
    """Shared fit/transform of the stateless image-feature transformers."""

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and record the image shape of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C])
            Images; flat rows only when ``image_shape`` says how to read them.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        before = _fitted_state(self)
        try:
            images = _validate_image_batch(self, X, reset=True)
            self._check_geometry(images.shape[1:])
            self._check_pixels(images)
        except BaseException:
            # A rejected fit leaves the transformer as it was.
            for name in _fitted_state(self):
                delattr(self, name)
            vars(self).update(before)
            raise
        self.n_features_out_ = self._n_features_out(images.shape[1:])
        return self

    def transform(self, X):
        """Compute the features of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C])
            Images of the shape seen in ``fit``.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out_)
            One row per image.
        """
        check_is_fitted(self, "image_shape_")
        images = _validate_image_batch(self, X, reset=False)
        self._check_pixels(images)
        return self._features(images)

    def _check_pixels(self, images):
        """Refuse pixel values the features are not defined for."""

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Ignored; the names come from the feature layout.

        Returns
        -------
        feature_names_out : ndarray of str
            One name per output column.
        """
        check_is_fitted(self, "image_shape_")
        return np.asarray(self._feature_names(), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


class HOGFeatures(_ImageFeatures):
    """Histograms of oriented gradients (HOG), as :func:`skimage.feature.hog`.

    Each image is cut into cells of ``pixels_per_cell`` pixels. Every pixel
    votes for the orientation of its intensity gradient (unsigned, 0 to 180
    degrees, in ``orientations`` bins) with the gradient's magnitude, giving
    one histogram per cell. Overlapping blocks of ``cells_per_block`` cells
    are then normalised with ``block_norm``, and the normalised blocks,
    ``(block_row, block_col, cell_row, cell_col, orientation)`` in C order,
    form the feature row. The result equals ``skimage.feature.hog`` called on
    each image with the same parameters (and ``channel_axis=-1`` for colour
    images), but the batch is computed in one compiled pass.

    The gradient is the central difference ``I[i + 1] - I[i - 1]`` along rows
    and columns, zero on the image border. For colour images each pixel takes
    the gradient of the channel where it is largest.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins over 0 to 180 degrees.
    pixels_per_cell : int or tuple of (int, int), default=(8, 8)
        Size of a cell in pixels, (rows, columns). Pixels beyond the last
        whole cell are ignored.
    cells_per_block : int or tuple of (int, int), default=(3, 3)
        Size of a normalisation block in cells, (rows, columns). ``(1, 1)``
        normalises each cell on its own.
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Normalisation of each block ``v`` (``eps = 1e-5``): ``"L1"`` is
        ``v / (|v|_1 + eps)``; ``"L1-sqrt"`` its square root; ``"L2"`` is
        ``v / sqrt(|v|_2^2 + eps^2)``; ``"L2-Hys"`` is ``"L2"``, clipped at
        0.2 and normalised again.
    transform_sqrt : bool, default=False
        Take the square root of the pixel values first (gamma compression).
        Pixel values must then be non-negative.
    image_shape : tuple of int, default=None
        How to read flat rows as images, ``(H, W)`` or ``(H, W, C)``; one
        entry may be -1, inferred as in :func:`numpy.reshape` (``(1, -1)``
        reads each row as an image one pixel high). Flat rows are refused
        when it is None.

    Attributes
    ----------
    image_shape_ : tuple of int
        Shape of one image seen in ``fit``.
    n_features_in_ : int
        Number of pixel values per image, ``prod(image_shape_)``.
    n_features_out_ : int
        Length of a feature row.

    See Also
    --------
    ColorHistogram : Histogram of hue, saturation or value.
    skcv.plotting.plot_hog : Draw the cell histograms over the images.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.features import HOGFeatures
    >>> rng = np.random.RandomState(0)
    >>> images = rng.randint(0, 256, size=(5, 32, 32, 3)).astype(np.uint8)
    >>> hog = HOGFeatures(pixels_per_cell=8, cells_per_block=2).fit(images)
    >>> hog.transform(images).shape
    (5, 324)
    >>> hog.get_feature_names_out()[:2]
    array(['hog_b0_0_c0_0_o0', 'hog_b0_0_c0_0_o1'], dtype=object)
    """

    _parameter_constraints: dict = {
        "orientations": [Interval(Integral, 1, None, closed="left")],
        "pixels_per_cell": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "cells_per_block": [Interval(Integral, 1, None, closed="left"), tuple, list],
        "block_norm": [StrOptions(set(_BLOCK_NORMS))],
        "transform_sqrt": ["boolean"],
        "image_shape": [tuple, list, None],
    }

    def __init__(
        self,
        *,
        orientations=9,
        pixels_per_cell=(8, 8),
        cells_per_block=(3, 3),
        block_norm="L2-Hys",
        transform_sqrt=False,
        image_shape=None,
    ):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.image_shape = image_shape

    def _geometry(self, image_shape):
        """Cell size, block size, cells and blocks along rows and columns."""
        cell = _pair(self.pixels_per_cell, "pixels_per_cell")
        block = _pair(self.cells_per_block, "cells_per_block")
        cells = (image_shape[0] // cell[0], image_shape[1] // cell[1])
        blocks = (cells[0] - block[0] + 1, cells[1] - block[1] + 1)
        return cell, block, cells, blocks

    def _check_geometry(self, image_shape):
        cell, block, cells, blocks = self._geometry(image_shape)
        if min(cells) < 1 or min(blocks) < 1:
            need = (cell[0] * block[0], cell[1] * block[1])
            raise ValueError(
                f"Images of shape {image_shape} are too small for HOGFeatures: "
                f"a block of {block} cells of {cell} pixels needs images of at "
                f"least {need[0]}x{need[1]} pixels. Use smaller pixels_per_cell "
                f"or cells_per_block."
            )

    def _n_features_out(self, image_shape):
        _, block, _, blocks = self._geometry(image_shape)
        return blocks[0] * blocks[1] * block[0] * block[1] * self.orientations

    def _features(self, images):
        cell, block, _, _ = self._geometry(images.shape[1:])
        histograms = _cell_histograms(
            images, self.orientations, cell, self.transform_sqrt
        )
        blocks = _normalize_blocks(histograms, block, self.block_norm)
        return blocks.reshape(len(images), -1)

    def _feature_names(self):
        _, block, _, blocks = self._geometry(self.image_shape_)
        grid = np.indices((*blocks, *block, self.orientations)).reshape(5, -1).T
        return [f"hog_b{a}_{b}_c{c}_{d}_o{o}" for a, b, c, d, o in grid]


# ------------------------------------------------------------ colour histograms


@numba.njit(cache=True, nogil=True)
def _color_histogram_kernel(images, scale, channel, edges, out):
    """Per-image histogram of hue, saturation or value of (n, H, W, 3) images.

    The colour conversion is matplotlib's ``rgb_to_hsv`` (hue in [0, 1), the
    blue-is-largest rule winning ties over green, green over red), on pixel
    values divided by ``scale``; the binning is ``np.histogram``'s: bin ``b``
    holds ``[edges[b], edges[b + 1])``, the last bin also its right edge,
    and values outside the edges are not counted.
    """
    n, height, width, n_channels = images.shape
    # A grey image is read as r = g = b (value only).
    green, blue = min(1, n_channels - 1), min(2, n_channels - 1)
    n_bins = edges.shape[0] - 1
    low, high = edges[0], edges[n_bins]
    step = (high - low) / n_bins
    for k in range(n):
        image = images[k]
        for i in range(height):
            for j in range(width):
                r = image[i, j, 0] / scale
                g = image[i, j, green] / scale
                b = image[i, j, blue] / scale
                top = max(r, max(g, b))
                delta = top - min(r, min(g, b))
                if channel == 2:
                    v = top
                elif channel == 1:
                    v = delta / top if top > 0 else 0.0
                else:
                    v = 0.0
                    if delta > 0:
                        if b == top:
                            v = (4.0 + (r - g) / delta) / 6.0
                        elif g == top:
                            v = (2.0 + (b - r) / delta) / 6.0
                        else:
                            # In (-1/6, 1/6): "% 1.0" only lifts the negatives.
                            v = ((g - b) / delta) / 6.0
                            if v < 0:
                                v += 1.0
                if not (low <= v <= high):
                    continue
                idx = min(int((v - low) / step), n_bins - 1)
                # The estimate can be one off near an edge; the edges decide.
                if idx > 0 and v < edges[idx]:
                    idx -= 1
                elif idx < n_bins - 1 and v >= edges[idx + 1]:
                    idx += 1
                out[k, idx] += 1.0
    return out


class ColorHistogram(_ImageFeatures):
    """Histogram of hue, saturation or value of each colour image.

    The pixels are converted to HSV as :func:`matplotlib.colors.rgb_to_hsv`
    does, and one channel is binned as :func:`numpy.histogram` bins it, so
    that a row equals ``np.histogram(rgb_to_hsv(image / 255)[..., 0], bins,
    range, density)`` for a uint8 image. Hue, saturation and value all lie in
    [0, 1]. A grey pixel (all three channels equal) has hue 0.

    Parameters
    ----------
    channel : {"hue", "saturation", "value"}, default="hue"
        Which HSV channel to histogram.
    bins : int, default=10
        Number of equal-width bins.
    range : tuple of (float, float), default=(0.0, 1.0)
        Lower and upper edge of the bins; values outside are not counted.
    density : bool, default=False
        As in :func:`numpy.histogram`: divide each count by the number of
        counted pixels and the bin width, so that the histogram integrates
        to 1 over the range. An image with no pixel in the range then gives
        NaN, as numpy does.
    image_shape : tuple of int, default=None
        How to read flat rows as images, such as ``(H, W, 3)``; one entry may
        be -1, inferred as in :func:`numpy.reshape`. Flat rows are refused
        when it is None.

    Attributes
    ----------
    image_shape_ : tuple of int
        Shape of one image seen in ``fit``.
    n_features_in_ : int
        Number of pixel values per image, ``prod(image_shape_)``.
    n_features_out_ : int
        Number of bins.

    See Also
    --------
    HOGFeatures : Histograms of oriented gradients.

    Notes
    -----
    Integer images are taken to hold 0..255 and are divided by 255; float
    images are used as they are, taken to lie in [0, 1]. Hue and saturation
    do not depend on the scale, but the value does: values beyond ``range``
    are not counted, as in :func:`numpy.histogram`. Pixel values must not be
    negative. Of grey images only the value (intensity) histogram exists.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.features import ColorHistogram
    >>> red_and_blue = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    >>> red_and_blue[0, ..., 0] = 200
    >>> red_and_blue[1, ..., 2] = 200
    >>> ColorHistogram(bins=3).fit_transform(red_and_blue)
    array([[16.,  0.,  0.],
           [ 0.,  0., 16.]])
    """

    _parameter_constraints: dict = {
        "channel": [StrOptions(set(_CHANNELS))],
        "bins": [Interval(Integral, 1, None, closed="left")],
        "range": [tuple, list],
        "density": ["boolean"],
        "image_shape": [tuple, list, None],
    }

    def __init__(
        self,
        *,
        channel="hue",
        bins=10,
        range=(0.0, 1.0),
        density=False,
        image_shape=None,
    ):
        self.channel = channel
        self.bins = bins
        self.range = range
        self.density = density
        self.image_shape = image_shape

    def _edges(self):
        try:
            low, high = (float(v) for v in self.range)
        except (TypeError, ValueError):
            low = high = None
        if low is None or not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(
                f"range must be a pair of finite numbers (low, high) with low < "
                f"high; got {self.range!r}."
            )
        return np.linspace(low, high, self.bins + 1)

    def _check_pixels(self, images):
        integer = images.dtype.kind in "iu"
        if images.dtype not in (np.uint8, bool) and (
            images.min() < 0 or (integer and images.max() > 255)
        ):
            raise ValueError(
                f"Negative values in data passed to ColorHistogram, or integers "
                f"above 255: it needs pixel values >= 0 (0..255 for integer "
                f"images); X holds values from {images.min()} to {images.max()}."
            )

    def _check_geometry(self, image_shape):
        self._edges()
        grey = len(image_shape) == 2 or image_shape[2] == 1
        if (grey and self.channel != "value") or (not grey and image_shape[2] != 3):
            raise ValueError(
                f"ColorHistogram(channel={self.channel!r}) needs RGB colour images "
                f"of shape (n_samples, height, width, 3); got images of shape "
                f"{image_shape}"
                + (
                    ", which are grey. Of grey images only the 'value' (intensity) "
                    "histogram can be taken."
                    if grey
                    else "."
                )
            )

    def _n_features_out(self, image_shape):
        return self.bins

    def _features(self, images):
        edges = self._edges()
        if images.dtype == bool:
            images = images.view(np.uint8)
        if images.ndim == 3:
            images = images[..., None]
        scale = 255.0 if images.dtype.kind in "iu" else 1.0
        counts = np.zeros((len(images), self.bins))
        for start in range(0, len(images), _CHUNK):
            stop = min(start + _CHUNK, len(images))
            _color_histogram_kernel(
                np.ascontiguousarray(images[start:stop]),
                scale,
                _CHANNELS.index(self.channel),
                edges,
                counts[start:stop],
            )
        if not self.density:
            return counts
        with np.errstate(invalid="ignore", divide="ignore"):
            return counts / np.diff(edges) / counts.sum(axis=1, keepdims=True)

    def _feature_names(self):
        return [f"{self.channel}_bin{b}" for b in range(self.bins)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags
