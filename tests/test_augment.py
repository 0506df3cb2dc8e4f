"""ImageAugmenter and the batch transforms behind it."""

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError

from skcv import ImageAugmenter
from skcv._transforms import (
    _warp_into,
    affine_maps,
    intensity_jitter,
    saturate_cast,
    warp,
)

RNG = np.random.default_rng(0)
IMAGES_U8 = RNG.integers(0, 256, size=(12, 10, 9), dtype=np.uint8)
IMAGES_RGB = RNG.random((6, 11, 8, 3)).astype(np.float32)
LABELS = np.arange(12) % 3

GEOMETRIC = {"flip": True, "max_shift": 2, "max_rotation": 15.0}
EVERYTHING = {**GEOMETRIC, "brightness": 0.1, "contrast": 0.2, "noise": 0.05}


# ---------------------------------------------------------------- fit_resample


@pytest.mark.parametrize(
    "n_copies, keep_original", [(0, True), (1, True), (3, True), (1, False), (3, False)]
)
def test_labels_follow_sample_indices(n_copies, keep_original):
    aug = ImageAugmenter(
        **EVERYTHING, n_copies=n_copies, keep_original=keep_original, random_state=0
    )
    X_new, y_new = aug.fit_resample(IMAGES_U8, LABELS)
    n = len(IMAGES_U8)
    n_out = n * (n_copies + keep_original)
    assert X_new.shape == (n_out, *IMAGES_U8.shape[1:])
    expected = np.tile(np.arange(n), n_copies + keep_original)
    np.testing.assert_array_equal(aug.sample_indices_, expected)
    np.testing.assert_array_equal(y_new, LABELS[aug.sample_indices_])
    if keep_original:
        np.testing.assert_array_equal(X_new[:n], IMAGES_U8)


def test_labels_keep_their_type():
    y = np.array(["cat", "dog", "cat", "dog"], dtype=object)
    aug = ImageAugmenter(max_shift=1, n_copies=2, random_state=0)
    _, y_new = aug.fit_resample(IMAGES_U8[:4], y)
    assert y_new.dtype == object
    np.testing.assert_array_equal(y_new, y[aug.sample_indices_])
    X_new, y_none = aug.fit_resample(IMAGES_U8[:4], None)
    assert y_none is None and len(X_new) == 12


def test_nothing_to_return():
    aug = ImageAugmenter(n_copies=0, keep_original=False)
    with pytest.raises(ValueError, match="leaves no samples"):
        aug.fit_resample(IMAGES_U8, LABELS)


@pytest.mark.parametrize(
    "X",
    [
        IMAGES_U8,
        IMAGES_RGB,
        IMAGES_RGB.astype(np.float64),
        IMAGES_U8.astype(np.int64),
        IMAGES_U8.reshape(len(IMAGES_U8), -1),
    ],
    ids=["uint8", "float32-rgb", "float64-rgb", "int64", "flat-rows"],
)
@pytest.mark.parametrize(
    "params",
    [{}, {"flip": False, "max_shift": 0, "max_rotation": 0.0, "noise": 0.0}],
    ids=["defaults", "explicit-zeros"],
)
def test_zero_strength_returns_input_bit_for_bit(X, params):
    aug = ImageAugmenter(**params, n_copies=3, random_state=0)
    X_new, _ = aug.fit_resample(X, np.zeros(len(X)))
    assert X_new.dtype == X.dtype
    np.testing.assert_array_equal(X_new, X[aug.sample_indices_])


@pytest.mark.parametrize(
    "X",
    [IMAGES_U8, IMAGES_RGB, IMAGES_U8.astype(np.int32)],
    ids=["uint8", "float32-rgb", "int32"],
)
def test_dtype_and_layout_preserved(X):
    X_new, _ = ImageAugmenter(**EVERYTHING, random_state=0).fit_resample(
        X, np.zeros(len(X))
    )
    assert X_new.dtype == X.dtype
    assert X_new.shape == (2 * len(X), *X.shape[1:])


def test_flat_rows_in_flat_rows_out():
    # With image_shape, flat rows get the same copies as the image batch.
    shape = IMAGES_U8.shape[1:]
    rows = IMAGES_U8.reshape(len(IMAGES_U8), -1)
    aug = ImageAugmenter(**EVERYTHING, image_shape=shape, n_copies=2, random_state=3)
    rows_new, _ = aug.fit_resample(rows, LABELS)
    images_new, _ = aug.fit_resample(IMAGES_U8, LABELS)
    assert rows_new.shape == (3 * len(rows), rows.shape[1])
    np.testing.assert_array_equal(rows_new, images_new.reshape(len(images_new), -1))


def test_flat_rows_without_image_shape_take_pixelwise_steps_only():
    rows = RNG.random((20, 30))
    aug = ImageAugmenter(brightness=0.1, contrast=0.1, noise=0.01, random_state=0)
    rows_new, _ = aug.fit_resample(rows, np.zeros(20))
    assert rows_new.shape == (40, 30)
    assert not np.array_equal(rows_new[20:], rows)
    for name, value in GEOMETRIC.items():
        with pytest.raises(ValueError, match="image_shape"):
            ImageAugmenter(**{name: value}).fit_resample(rows, np.zeros(20))


def test_same_random_state_same_output():
    def run(seed):
        aug = ImageAugmenter(**EVERYTHING, n_copies=2, random_state=seed)
        return aug.fit_resample(IMAGES_RGB, np.arange(len(IMAGES_RGB)))[0]

    np.testing.assert_array_equal(run(7), run(7))
    rng = np.random.RandomState(7)
    np.testing.assert_array_equal(run(np.random.RandomState(7)), run(rng))
    assert not np.array_equal(run(7), run(8))


def test_copies_differ_from_each_other():
    aug = ImageAugmenter(max_shift=2, max_rotation=10, n_copies=4, random_state=0)
    X_new, _ = aug.fit_resample(IMAGES_U8[:1], [0])
    copies = X_new[1:]
    assert len({c.tobytes() for c in copies}) == 4


def test_input_not_modified():
    X = IMAGES_RGB.copy()
    X.setflags(write=False)
    ImageAugmenter(**EVERYTHING, n_copies=2, random_state=0).fit_resample(
        X, np.zeros(len(X))
    )
    np.testing.assert_array_equal(X, IMAGES_RGB)
    X = IMAGES_U8.copy()
    ImageAugmenter(**EVERYTHING, random_state=0).fit_resample(X, LABELS)
    np.testing.assert_array_equal(X, IMAGES_U8)


def test_flip_gives_the_image_or_its_mirror():
    aug = ImageAugmenter(flip=True, n_copies=8, keep_original=False, random_state=0)
    X_new, _ = aug.fit_resample(IMAGES_U8, LABELS)
    source = IMAGES_U8[aug.sample_indices_]
    same = (X_new == source).all(axis=(1, 2))
    mirrored = (X_new == source[:, :, ::-1]).all(axis=(1, 2))
    assert (same | mirrored).all()
    # Each copy is mirrored with probability 1/2: 96 draws.
    assert 30 < mirrored.sum() < 66


def test_shifted_copies_are_integer_shifts_within_max_shift():
    aug = ImageAugmenter(max_shift=2, n_copies=5, keep_original=False, random_state=0)
    X = RNG.random((4, 9, 9)) + 1  # no zero pixel, so the zero border shows
    X_new, _ = aug.fit_resample(X, np.zeros(4))
    for copy, src in zip(X_new, X[aug.sample_indices_]):
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if np.array_equal(copy, ndi.shift(src, (dy, dx), order=0))
        ]
        assert len(matches) == 1


def test_uint8_saturates_instead_of_wrapping():
    # A constant image plus a brightness offset stays constant; wrapping would
    # turn 250 + 100 into 94, saturation gives 255.
    bright = np.full((1, 4, 4), 250, dtype=np.uint8)
    dark = np.full((1, 4, 4), 5, dtype=np.uint8)
    aug = ImageAugmenter(brightness=0.5, n_copies=200, keep_original=False)
    for image, low, high in [(bright, 250 - 128, 255), (dark, 0, 5 + 128)]:
        X_new, _ = aug.set_params(random_state=0).fit_resample(image, [0])
        values = X_new.reshape(200, -1)
        assert (values == values[:, :1]).all()
        assert low <= values.min() and values.max() <= high
        assert ((values[:, 0] == 255) | (values[:, 0] == 0)).sum() > 60


def test_float_images_are_not_clipped():
    X = np.full((1, 4, 4), 0.95)
    X_new, _ = ImageAugmenter(brightness=0.5, n_copies=50, random_state=0).fit_resample(
        X, [0]
    )
    assert X_new.max() > 1.0


def test_brightness_and_contrast_follow_the_formula():
    X = RNG.random((200, 6, 6))
    aug = ImageAugmenter(brightness=0.2, contrast=0.3, keep_original=False)
    X_new, _ = aug.set_params(random_state=0).fit_resample(X, np.zeros(200))
    mean, new_mean = X.mean(axis=(1, 2)), X_new.mean(axis=(1, 2))
    offset = new_mean - mean
    factor = X_new.std(axis=(1, 2)) / X.std(axis=(1, 2))
    # Every copy is an affine map of its source: (x - m)(1 + c) + m + b.
    expected = (X - mean[:, None, None]) * factor[:, None, None] + new_mean[
        :, None, None
    ]
    np.testing.assert_allclose(X_new, expected, atol=1e-12)
    assert np.abs(offset).max() <= 0.2 and np.abs(offset).max() > 0.15
    assert np.abs(factor - 1).max() <= 0.3 and np.abs(factor - 1).max() > 0.25


@pytest.mark.parametrize("dtype, scale", [(np.float32, 1.0), (np.uint8, 255.0)])
def test_noise_has_the_requested_std(dtype, scale):
    X = np.full((20, 32, 32), 0.5 * scale).astype(dtype)
    aug = ImageAugmenter(noise=0.05, keep_original=False, random_state=0)
    X_new, _ = aug.fit_resample(X, np.zeros(20))
    residual = X_new.astype(np.float64) - X
    np.testing.assert_allclose(residual.mean(), 0, atol=0.01 * scale)
    # uint8 rounding adds a variance of 1/12.
    std = np.sqrt(residual.var() - (1 / 12 if dtype == np.uint8 else 0))
    np.testing.assert_allclose(std, 0.05 * scale, rtol=0.03)


def test_pad_modes_differ_only_at_the_border():
    X = RNG.random((3, 12, 12)) + 1
    common = {"max_shift": 2, "n_copies": 2, "keep_original": False, "random_state": 0}
    zero, _ = ImageAugmenter(**common).fit_resample(X, np.zeros(3))
    mirror, _ = ImageAugmenter(**common, pad_mode="reflect").fit_resample(
        X, np.zeros(3)
    )
    np.testing.assert_array_equal(zero[:, 2:-2, 2:-2], mirror[:, 2:-2, 2:-2])
    assert (zero == 0).any() and not (mirror == 0).any()


# ------------------------------------------------------------------- bad input


def test_nan_is_rejected():
    X = RNG.random((3, 5, 5))
    X[1, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ImageAugmenter(noise=0.1).fit_resample(X, [0, 1, 2])


@pytest.mark.parametrize(
    "X, image_shape, match",
    [
        (np.zeros((3, 7, 7)), (8, 8), "image_shape"),
        (np.zeros((3, 50)), (8, 8), "cannot be read as images of shape"),
        (np.zeros((3, 2, 2, 2, 2)), None, "dimension"),
        (np.zeros(3), None, "dimension"),
        (np.zeros((3, 4, 4)), (4, 0), "positive integers"),
    ],
)
def test_wrong_image_shape(X, image_shape, match):
    with pytest.raises(ValueError, match=match):
        ImageAugmenter(image_shape=image_shape).fit_resample(X, np.zeros(len(X)))


def test_inconsistent_number_of_labels():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ImageAugmenter().fit_resample(IMAGES_U8, LABELS[:-1])


@pytest.mark.parametrize(
    "params",
    [
        {"max_shift": -1},
        {"max_shift": 1.5},
        {"max_rotation": -5.0},
        {"max_rotation": 200.0},
        {"brightness": -0.1},
        {"contrast": -0.1},
        {"contrast": 1.5},
        {"noise": -0.01},
        {"n_copies": -1},
        {"pad_mode": "wrap"},
        {"flip": "yes"},
    ],
)
def test_invalid_parameters(params):
    with pytest.raises(InvalidParameterError):
        ImageAugmenter(**params).fit_resample(IMAGES_U8, LABELS)


def test_is_a_sampler_not_a_transformer():
    aug = ImageAugmenter()
    assert hasattr(aug, "fit_resample")
    assert not hasattr(aug, "transform") and not hasattr(aug, "fit_transform")


# ----------------------------------------------------- transforms against scipy


def _shift_maps(offsets, shape):
    return affine_maps(len(offsets), shape, shift=offsets)


@pytest.mark.parametrize(
    "pad_mode, scipy_mode", [("constant", "constant"), ("reflect", "mirror")]
)
@pytest.mark.parametrize("X", [IMAGES_U8, IMAGES_RGB], ids=["gray", "rgb"])
def test_shift_matches_scipy(X, pad_mode, scipy_mode):
    offsets = RNG.integers(-4, 5, size=(len(X), 2))
    out = warp(X, _shift_maps(offsets, X.shape[1:]), pad_mode=pad_mode)
    for image, shifted, (dy, dx) in zip(X, out, offsets):
        shift = (dy, dx) + (0,) * (X.ndim - 3)
        expected = ndi.shift(image, shift, order=0, mode=scipy_mode)
        np.testing.assert_array_equal(shifted, expected)


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    dy=st.integers(-5, 5),
    dx=st.integers(-5, 5),
)
def test_shift_and_shift_back_restores_the_interior(height, width, dy, dx):
    X = np.random.default_rng(height * width).random((2, height, width))
    offsets = np.array([[dy, dx], [-dx, dy]])
    there = warp(X, _shift_maps(offsets, X.shape[1:]))
    back = warp(there, _shift_maps(-offsets, X.shape[1:]))
    for image, restored, (oy, ox) in zip(X, back, offsets):
        # Pixel i moves to i + oy and back; it survives if i + oy is inside.
        rows = slice(max(-oy, 0), max(height - max(oy, 0), 0))
        cols = slice(max(-ox, 0), max(width - max(ox, 0), 0))
        np.testing.assert_array_equal(restored[rows, cols], image[rows, cols])


@pytest.mark.parametrize("X", [IMAGES_U8, IMAGES_RGB, IMAGES_U8.astype(np.int16)])
def test_flipping_twice_is_the_identity(X):
    mask = np.arange(len(X)) % 2 == 0
    maps = affine_maps(len(X), X.shape[1:], flip=mask)
    once = warp(X, maps)
    np.testing.assert_array_equal(once[mask], X[mask][:, :, ::-1])
    np.testing.assert_array_equal(once[~mask], X[~mask])
    np.testing.assert_array_equal(warp(once, maps), X)


@pytest.mark.parametrize("X", [IMAGES_U8, IMAGES_RGB.astype(np.float64)])
def test_rotation_by_zero_is_the_identity(X):
    out = warp(X, affine_maps(len(X), X.shape[1:], angle=np.zeros(len(X))))
    np.testing.assert_array_equal(out, X)


@pytest.mark.parametrize("shape", [(28, 28), (32, 32, 3), (17, 24)])
def test_rotation_matches_scipy_in_the_interior(shape):
    X = np.random.default_rng(1).random((8, *shape))
    angles = np.linspace(-15, 15, 8)
    out = warp(X, affine_maps(len(X), shape, angle=angles))
    # Away from the border both interpolate between the same four pixels;
    # they differ only in how they treat pixels outside the image.
    inner = (slice(5, -5), slice(5, -5))
    for image, rotated, angle in zip(X, out, angles):
        expected = ndi.rotate(image, angle, reshape=False, order=1, axes=(1, 0))
        np.testing.assert_allclose(rotated[inner], expected[inner], atol=1e-10)


@pytest.mark.parametrize("shape", [(10, 9), (11, 8, 3), (9, 8, 2)])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_rotation_of_uint8_is_within_one_grey_level_of_the_float_result(
    shape, pad_mode
):
    # uint8 is interpolated in fixed point (11-bit weights, as OpenCV does),
    # which can move a value across a rounding boundary, by one level at most.
    X = np.random.default_rng(3).integers(0, 256, size=(40, *shape), dtype=np.uint8)
    angles = np.linspace(-20, 20, len(X))
    maps = affine_maps(len(X), shape, angle=angles, shift=np.ones((len(X), 2)))
    out = warp(X, maps, pad_mode=pad_mode)
    exact = np.rint(warp(X.astype(np.float64), maps, pad_mode=pad_mode))
    assert out.dtype == np.uint8
    assert np.abs(out - exact).max() <= 1
    assert np.mean(out == exact) > 0.95


def test_affine_maps_entries():
    # Identity, a mirror (x -> W - 1 - x), a shift by (dy, dx) = (2, -1)
    # (the source is 2 rows up, 1 column right), and a quarter turn about
    # the centre (3.5, 2.5) of an 8 x 6 image.
    maps = affine_maps(
        4,
        (8, 6),
        flip=np.array([False, True, False, False]),
        shift=np.array([[0, 0], [0, 0], [2, -1], [0, 0]]),
        angle=np.array([0, 0, 0, 90.0]),
    )
    np.testing.assert_array_equal(maps[0], [1, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(maps[1], [1, 0, 0, 0, -1, 5])
    np.testing.assert_array_equal(maps[2], [1, 0, -2, 0, 1, 1])
    # Output (i, j) reads source (i', j') = (j - 2.5 + 3.5, -(i - 3.5) + 2.5).
    np.testing.assert_allclose(maps[3], [0, 1, 1, -1, 0, 6], atol=1e-12)
    assert affine_maps(0, (8, 6)).shape == (0, 6)


def test_composed_map_equals_flip_then_rotation_then_shift():
    X = np.random.default_rng(2).random((5, 20, 20))
    flip = np.array([True, False, True, True, False])
    angles = np.array([10.0, -7.0, 3.0, 0.0, 12.0])
    offsets = np.array([[1, -2], [0, 3], [-1, -1], [2, 0], [0, 0]])
    n, shape = len(X), X.shape[1:]
    composed = warp(X, affine_maps(n, shape, flip=flip, angle=angles, shift=offsets))
    step = warp(X, affine_maps(n, shape, flip=flip))
    step = warp(step, affine_maps(n, shape, angle=angles))
    step = warp(step, affine_maps(n, shape, shift=offsets))
    # One resampling instead of three: equal wherever the three steps never
    # reached the border.
    inner = (slice(None), slice(6, -6), slice(6, -6))
    np.testing.assert_allclose(composed[inner], step[inner], atol=1e-10)


def test_warp_reads_the_requested_sources():
    sources = np.array([2, 2, 0, 5])
    maps = affine_maps(4, IMAGES_U8.shape[1:], shift=np.ones((4, 2), int))
    out = warp(IMAGES_U8, maps, sources=sources)
    np.testing.assert_array_equal(out, warp(IMAGES_U8[sources], maps))


def test_intensity_jitter_formula():
    X = np.arange(2 * 2 * 3, dtype=np.float64).reshape(2, 2, 3)
    out = intensity_jitter(
        X, contrast=np.array([2.0, 0.5]), brightness=np.array([1.0, -1.0])
    )
    mean = X.mean(axis=(1, 2), keepdims=True)
    expected = (X - mean) * np.array([2.0, 0.5])[:, None, None] + mean
    expected += np.array([1.0, -1.0])[:, None, None]
    np.testing.assert_allclose(out, expected)
    assert intensity_jitter(X.astype(np.uint8)).dtype == np.float32


def test_saturate_cast():
    values = np.array([-3.2, 0.4, 127.5, 254.6, 300.0])
    np.testing.assert_array_equal(
        saturate_cast(values, np.uint8), np.array([0, 0, 128, 255, 255], np.uint8)
    )
    np.testing.assert_array_equal(
        saturate_cast(values, np.int8), np.array([-3, 0, 127, 127, 127], np.int8)
    )
    assert saturate_cast(values, np.float64) is values


# ------------------------------------------------------------- imbalanced-learn


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_imblearn_pipeline_uses_it_as_a_sampler():
    from imblearn.pipeline import make_pipeline
    from sklearn.datasets import load_digits
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import StandardScaler

    from skcv import PixelFlatten, SoftmaxLinear

    digits = load_digits()
    X, y = digits.images[:300], digits.target[:300]
    pipe = make_pipeline(
        ImageAugmenter(max_shift=1, random_state=0),
        PixelFlatten(),
        StandardScaler(),
        SoftmaxLinear(max_iter=30, random_state=0),
    )
    scores = cross_val_score(pipe, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.85
    # The sampler runs in fit only: predict sees the images as they are.
    pipe.fit(X, y)
    assert pipe.predict(X[:7]).shape == (7,)
    assert len(pipe[0].sample_indices_) == 2 * len(X)


def test_brightness_and_noise_follow_the_images_range():
    # sklearn's digits hold 0..16 as floats: the strengths are fractions of 16
    # there, of 1 for floats in [0, 1] and of 255 for uint8.
    rng = np.random.default_rng(0)
    unit = rng.random((300, 8, 8))
    unit[:, 0, 0] = 1.0
    for X, r in ((unit, 1.0), (unit * 16, 16.0), ((unit * 255).astype(np.uint8), 255)):
        aug = ImageAugmenter(brightness=0.2, keep_original=False, random_state=0)
        X_new, _ = aug.fit_resample(X, np.zeros(len(X)))
        offset = X_new.astype(np.float64).mean(axis=(1, 2)) - X.mean(axis=(1, 2))
        # uniform in [-0.2 r, 0.2 r]: the extremes come close to the bounds
        assert 0.18 * r < np.abs(offset).max() <= 0.2 * r + 0.5 * (r == 255)
        noisy, _ = ImageAugmenter(
            noise=0.05, keep_original=False, random_state=0
        ).fit_resample(X.astype(np.float64), np.zeros(len(X)))
        residual = noisy - X
        np.testing.assert_allclose(residual.std(), 0.05 * r, rtol=0.03)
    # dark uint8 images keep the uint8 range, and value_range overrides
    dark = (unit * 16).astype(np.uint8)
    aug = ImageAugmenter(brightness=0.1, keep_original=False, random_state=0)
    assert aug._pixel_range(dark) == 255
    assert aug.set_params(value_range=16)._pixel_range(dark) == 16


def test_pandas_input_comes_back_as_pandas_with_a_fresh_index():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(
        IMAGES_U8[:4].reshape(4, -1),
        columns=[f"px{i}" for i in range(IMAGES_U8[0].size)],
        index=[10, 20, 30, 40],
    )
    y = pd.Series(["a", "b", "a", "b"], index=X.index, name="label")
    aug = ImageAugmenter(
        image_shape=IMAGES_U8.shape[1:], max_shift=1, n_copies=2, random_state=0
    )
    X_new, y_new = aug.fit_resample(X, y)
    assert isinstance(X_new, pd.DataFrame) and list(X_new.columns) == list(X.columns)
    assert isinstance(y_new, pd.Series) and y_new.name == "label"
    assert y_new.index.is_unique and X_new.index.equals(y_new.index)
    assert len(X_new) == 12
    np.testing.assert_array_equal(y_new, y.to_numpy()[aug.sample_indices_])
    np.testing.assert_array_equal(X_new.to_numpy()[:4], X.to_numpy())


def _random_maps(rng, n, shape, scale):
    """Flips, shifts up to ``scale``, any rotation, and some arbitrary maps."""
    maps = affine_maps(
        n,
        shape,
        flip=rng.random(n) < 0.5,
        shift=rng.integers(-scale, scale + 1, size=(n, 2)),
        angle=rng.uniform(-180, 180, n),
    )
    maps[::5] += rng.normal(0, 0.3, size=maps[::5].shape)
    return maps


@pytest.mark.parametrize(
    "shape",
    [(32, 32, 3), (5, 7, 3), (1, 6, 3), (9, 1, 3), (28, 28), (28, 28, 1), (5, 7, 1)],
)
@pytest.mark.parametrize("scale", [1, 4, 40])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_framed_path_equals_the_per_pixel_path(monkeypatch, shape, scale, pad_mode):
    # uint8 RGB and grey images take a vectorised path through a framed copy
    # of the image; it must give the very integers of the per-pixel
    # fixed-point code, at the border too (shifts far outside the image
    # included).
    import skcv._transforms as transforms

    rng = np.random.default_rng(scale)
    X = rng.integers(0, 256, size=(150, *shape), dtype=np.uint8)
    maps = _random_maps(rng, len(X), shape, scale)
    sources = rng.integers(0, len(X), size=200)
    channels = shape if len(shape) == 3 else (*shape, 1)
    assert transforms._frame_width((len(X), *channels), maps, 1, pad_mode) > 0
    framed = warp(X, maps[sources], sources=sources, pad_mode=pad_mode)
    monkeypatch.setattr(transforms, "_FRAMED", False)
    per_pixel = warp(X, maps[sources], sources=sources, pad_mode=pad_mode)
    np.testing.assert_array_equal(framed, per_pixel)


@pytest.mark.parametrize("shape", [(12, 10), (12, 10, 1), (12, 10, 2), (12, 10, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int16])
@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
def test_every_dtype_and_channel_count_matches_the_float64_result(
    shape, dtype, pad_mode
):
    rng = np.random.default_rng(4)
    X = rng.integers(0, 256, size=(30, *shape)).astype(dtype)
    maps = _random_maps(rng, len(X), shape, 3)
    out = warp(X, maps, pad_mode=pad_mode)
    exact = warp(X.astype(np.float64), maps, pad_mode=pad_mode)
    assert out.dtype == dtype
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(out, exact, rtol=1e-5, atol=1e-3)
    else:
        # uint8 in fixed point: one grey level at most from the rounded value.
        tolerance = 1 if dtype == np.uint8 else 0
        assert np.abs(out - np.rint(exact)).max() <= tolerance


@pytest.mark.parametrize("shape", [(28, 28), (32, 32, 3)])
def test_uint8_agrees_with_opencv(shape):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, size=(50, *shape), dtype=np.uint8)
    X = ndi.uniform_filter(X, size=(1, 3, 3, 1)[: X.ndim])  # some smooth content
    maps = affine_maps(
        len(X),
        shape,
        flip=rng.random(len(X)) < 0.5,
        shift=rng.integers(-2, 3, size=(len(X), 2)),
        angle=rng.uniform(-10, 10, len(X)),
    )
    ours = warp(X, maps)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    for image, m, mine in zip(X, maps, ours):
        # cv2 takes the inverse map in (x, y) order.
        matrix = np.array([[m[4], m[3], m[5]], [m[1], m[0], m[2]]])
        theirs = cv2.warpAffine(
            image, matrix, shape[1::-1], flags=flags, borderMode=cv2.BORDER_CONSTANT
        ).reshape(mine.shape)
        assert np.abs(mine.astype(int) - theirs).max() <= 1
        # OpenCV keeps 5 fractional bits of a coordinate, skcv 11: most values
        # still coincide.
        assert np.mean(mine == theirs) > 0.9


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 3)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_warp_is_the_same_on_any_number_of_threads(shape, dtype):
    # Threads take blocks of images from a shared counter, in any order.
    import numba

    rng = np.random.default_rng(6)
    X = rng.integers(0, 256, size=(700, *shape)).astype(dtype)
    maps = _random_maps(rng, 1500, shape, 2)
    sources = rng.integers(0, len(X), size=len(maps))
    previous = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = warp(X, maps, sources=sources)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = warp(X, maps, sources=sources)
    finally:
        numba.set_num_threads(previous)
    np.testing.assert_array_equal(one, many)
    # Each image is its own source's warp, wherever its block ran.
    np.testing.assert_array_equal(many, warp(X[sources], maps))


def test_maps_far_outside_the_image_still_resample_within_one_grey_level():
    # A mirrored border reached 300 pixels away would need a frame of 48 times
    # the image: such batches take the per-pixel path.
    import skcv._transforms as transforms

    rng = np.random.default_rng(7)
    X = rng.integers(0, 256, size=(6, 16, 16, 3), dtype=np.uint8)
    maps = affine_maps(
        6, X.shape[1:], shift=np.full((6, 2), 300), angle=np.full(6, 5.0)
    )
    assert transforms._frame_width(X.shape, maps, 400, "reflect") == 0
    out = warp(X, maps, pad_mode="reflect")
    exact = np.rint(warp(X.astype(np.float64), maps, pad_mode="reflect"))
    assert np.abs(out - exact).max() <= 1


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int16])
@pytest.mark.parametrize("shape", [(9, 7), (9, 7, 3)])
def test_warp_into_a_slice_of_the_result_equals_warp(dtype, shape):
    # fit_resample has the kernel write the copies after the originals; the
    # kernel's own dtypes write in place, others (int16) are cast and copied.
    rng = np.random.default_rng(0)
    images = (rng.random((6, *shape)) * 200).astype(dtype)
    sources = np.array([0, 5, 2, 2, 1, 3, 4, 0])
    maps = affine_maps(
        len(sources),
        shape,
        flip=rng.random(len(sources)) < 0.5,
        shift=rng.integers(-2, 3, (len(sources), 2)),
        angle=rng.uniform(-15, 15, len(sources)),
    )
    expected = warp(images, maps, sources=sources)
    result = np.full((3 + len(sources), *shape), 7, dtype=dtype)
    returned = _warp_into(images, maps, sources, "constant", result[3:])
    assert np.shares_memory(returned, result)
    np.testing.assert_array_equal(result[3:], expected)
    np.testing.assert_array_equal(result[:3], 7)


def test_fit_resample_puts_the_originals_first_and_the_copies_after():
    X = np.random.default_rng(1).integers(0, 256, (50, 8, 8), dtype=np.uint8)
    y = np.arange(50) % 3
    aug = ImageAugmenter(flip=True, max_shift=1, n_copies=2, random_state=0)
    X_new, y_new = aug.fit_resample(X, y)
    copies_only = ImageAugmenter(
        flip=True, max_shift=1, n_copies=2, keep_original=False, random_state=0
    ).fit_resample(X, y)[0]
    np.testing.assert_array_equal(X_new[:50], X)
    np.testing.assert_array_equal(X_new[50:], copies_only)
    np.testing.assert_array_equal(y_new, np.concatenate([y, y, y]))


def test_fit_resample_holds_the_result_once():
    # The copies are written into the result itself: peak memory stays near
    # the result's size (it was 1.5 times that with the copies concatenated).
    import tracemalloc

    X = np.random.default_rng(2).integers(0, 256, (2000, 16, 16, 3), dtype=np.uint8)
    aug = ImageAugmenter(flip=True, max_shift=2, random_state=0)
    aug.fit_resample(X, None)  # compiled, caches warm
    tracemalloc.start()
    try:
        X_new, _ = aug.fit_resample(X, None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert X_new.nbytes <= peak < 1.15 * X_new.nbytes
