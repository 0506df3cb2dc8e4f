"""HOGFeatures and ColorHistogram: parity with scikit-image and matplotlib/numpy,
and how they compose with pipelines, searches and augmentation."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import StandardScaler

from skcv import AugmentedClassifier, ImageAugmenter, PixelFlatten, SoftmaxLinear
from skcv.features import ColorHistogram, HOGFeatures

skimage_feature = pytest.importorskip("skimage.feature")
mcolors = pytest.importorskip("matplotlib.colors")

BLOCK_NORMS = ["L1", "L1-sqrt", "L2", "L2-Hys"]


def _images(shape, dtype, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randint(0, 256, size=shape)
    if dtype == np.uint8:
        return X.astype(np.uint8)
    return (X / 255.0).astype(dtype)


def _skimage_hog(X, **params):
    channel_axis = -1 if X.ndim == 4 else None
    return np.stack(
        [skimage_feature.hog(x, channel_axis=channel_axis, **params) for x in X]
    )


# ------------------------------------------------------------------ HOG parity


@pytest.mark.parametrize("block_norm", BLOCK_NORMS)
@pytest.mark.parametrize(
    "shape",
    [(6, 32, 32), (6, 33, 29, 3), (4, 25, 27, 2), (3, 24, 24, 1)],
    ids=["grey", "colour", "two-channel", "one-channel"],
)
@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.float32])
@pytest.mark.parametrize(
    "orientations, pixels_per_cell, cells_per_block",
    [(9, (8, 8), (3, 3)), (7, (5, 3), (2, 1)), (8, (4, 4), (1, 1))],
)
def test_hog_equals_skimage(
    block_norm, shape, dtype, orientations, pixels_per_cell, cells_per_block
):
    X = _images(shape, dtype)
    params = {
        "orientations": orientations,
        "pixels_per_cell": pixels_per_cell,
        "cells_per_block": cells_per_block,
        "block_norm": block_norm,
    }
    expected = _skimage_hog(X, **params)
    got = HOGFeatures(**params).fit_transform(X)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.float32])
@pytest.mark.parametrize("shape", [(5, 24, 24), (5, 24, 16, 3)])
def test_hog_transform_sqrt_equals_skimage(dtype, shape):
    X = _images(shape, dtype, seed=1)
    params = {
        "pixels_per_cell": (4, 4),
        "cells_per_block": (2, 2),
        "transform_sqrt": True,
    }
    np.testing.assert_allclose(
        HOGFeatures(**params).fit_transform(X),
        _skimage_hog(X, **params),
        rtol=0,
        atol=1e-6,
    )


@pytest.mark.parametrize("orientations", [4, 8, 12, 162, 170])
def test_hog_gradients_on_bin_edges_go_where_skimage_puts_them(orientations):
    # Ramps whose gradients lie exactly at 0, 45, 90 and 135 degrees and at
    # other rational slopes: these sit on bin edges for some bin counts.
    i, j = np.indices((16, 16))
    ramps = [i + j, i - j + 20, i, j, 2 * i + j, i + 2 * j, 3 * i - j + 50]
    for dtype in (np.uint8, np.float64):
        X = np.stack([3 * r for r in ramps]).astype(dtype)
        params = {
            "orientations": orientations,
            "pixels_per_cell": (4, 4),
            "cells_per_block": (1, 1),
            "block_norm": "L1",
        }
        np.testing.assert_allclose(
            HOGFeatures(**params).fit_transform(X),
            _skimage_hog(X, **params),
            rtol=0,
            atol=1e-6,
        )


def test_hog_colour_takes_the_strongest_channel_per_pixel():
    # Channel 1 has channel 0's vertical edge, twice as strong, plus a
    # horizontal one: its gradient is the larger at every pixel, so the colour
    # HOG is the grey HOG of channel 1, not of channel 0.
    vertical = np.zeros((16, 16))
    vertical[:, 8:] = 0.3
    horizontal = np.zeros((16, 16))
    horizontal[8:] = 0.4
    X = np.stack([vertical, 2 * vertical + horizontal], axis=-1)[None]
    hog = HOGFeatures(pixels_per_cell=4, cells_per_block=1, block_norm="L1")
    colour = hog.fit_transform(X)
    np.testing.assert_allclose(colour, hog.fit_transform(X[..., 1]), atol=1e-12)
    assert not np.allclose(colour, hog.fit_transform(X[..., 0]))


def test_hog_does_not_modify_its_input_and_ignores_the_batch_split():
    X = _images((5, 24, 24, 3), np.float64, seed=3)
    before = X.copy()
    hog = HOGFeatures(pixels_per_cell=6, cells_per_block=2, transform_sqrt=True)
    whole = hog.fit_transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(np.vstack([hog.transform(x[None]) for x in X]), whole)


def test_hog_feature_names_follow_the_layout():
    X = _images((2, 16, 24), np.uint8)
    hog = HOGFeatures(orientations=4, pixels_per_cell=8, cells_per_block=(1, 2))
    names = hog.fit(X).get_feature_names_out()
    assert len(names) == hog.n_features_out_ == hog.transform(X).shape[1] == 32
    assert names[0] == "hog_b0_0_c0_0_o0"
    assert names[-1] == "hog_b1_1_c0_1_o3"


# ------------------------------------------------------------ colour parity


def _reference_histogram(X, channel, **params):
    index = ["hue", "saturation", "value"].index(channel)
    scale = 255.0 if X.dtype.kind == "u" else 1.0
    rows = []
    for x in X:
        hsv = mcolors.rgb_to_hsv(x.astype(np.float64) / scale)
        rows.append(np.histogram(hsv[..., index], **params)[0])
    return np.stack(rows)


@pytest.mark.parametrize("channel", ["hue", "saturation", "value"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float64, np.float32])
@pytest.mark.parametrize(
    "bins, value_range, density",
    [(10, (0.0, 1.0), False), (7, (0.0, 1.0), True), (5, (0.2, 0.7), False)],
)
def test_color_histogram_equals_matplotlib_and_numpy(
    channel, dtype, bins, value_range, density
):
    X = _images((8, 16, 12, 3), dtype, seed=2)
    # Grey pixels, and pixels with two equal largest channels, exercise the
    # tie rules of the hue.
    X[:, 0, :, 1] = X[:, 0, :, 0]
    X[:, 1, :, :] = X[:, 1, :1, :1]
    X[:, 2, :, 2] = X[:, 2, :, 1]
    expected = _reference_histogram(
        X, channel, bins=bins, range=value_range, density=density
    )
    got = ColorHistogram(
        channel=channel, bins=bins, range=value_range, density=density
    ).fit_transform(X)
    if density:
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    else:
        np.testing.assert_array_equal(got, expected)


def test_color_histogram_of_pure_colours():
    X = np.zeros((3, 2, 2, 3), dtype=np.uint8)
    X[0, ..., 0] = 255  # red: hue 0
    X[1, ..., 1] = 255  # green: hue 1/3
    X[2, ..., 2] = 255  # blue: hue 2/3
    got = ColorHistogram(bins=3).fit_transform(X)
    np.testing.assert_array_equal(got, 4 * np.eye(3))
    assert list(ColorHistogram(bins=3).fit(X).get_feature_names_out()) == [
        "hue_bin0",
        "hue_bin1",
        "hue_bin2",
    ]


# ------------------------------------------------------------------ composing


def _colour_data(n=60, seed=0):
    # Two classes: a bright bar that is vertical (class 0) or horizontal
    # (class 1), in a random colour, at a random place.
    rng = np.random.RandomState(seed)
    X = rng.randint(0, 60, size=(n, 16, 16, 3)).astype(np.uint8)
    y = np.arange(n) % 2
    for k in range(n):
        at = rng.randint(2, 12)
        colour = rng.randint(150, 256, size=3)
        if y[k]:
            X[k, at : at + 3, 2:14] = colour
        else:
            X[k, 2:14, at : at + 3] = colour
    return X, y


def test_union_scaler_and_classifier_learn_from_features():
    X, y = _colour_data()
    model = make_pipeline(
        make_union(HOGFeatures(pixels_per_cell=4, cells_per_block=2), ColorHistogram()),
        StandardScaler(),
        LogisticRegression(max_iter=500),
    )
    model.fit(X[:40], y[:40])
    assert model.score(X[40:], y[40:]) == 1.0
    n_hog = HOGFeatures(pixels_per_cell=4, cells_per_block=2).fit(X).n_features_out_
    names = model[:-2].get_feature_names_out()
    assert len(names) == n_hog + 10
    assert names[0].startswith("hogfeatures__hog_")
    assert names[-1] == "colorhistogram__hue_bin9"


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_over_cells_and_over_pixels_versus_features():
    X, y = _colour_data(seed=1)
    pipe = make_pipeline(
        HOGFeatures(cells_per_block=1), StandardScaler(), SoftmaxLinear(random_state=0)
    )
    grid = [
        {"hogfeatures__pixels_per_cell": [(4, 4), (8, 8)]},
        {"hogfeatures": [PixelFlatten(rescale=True)]},
    ]
    search = GridSearchCV(pipe, grid, cv=KFold(3, shuffle=True, random_state=0))
    search.fit(X, y)
    params = [repr(p) for p in search.cv_results_["params"]]
    assert len(params) == 3
    assert any("PixelFlatten" in p for p in params)
    assert search.best_score_ >= search.cv_results_["mean_test_score"].min()
    # The winner was refitted with its own features.
    first = search.best_estimator_.steps[0][1]
    assert isinstance(first, HOGFeatures | PixelFlatten)


def test_augmentation_comes_before_the_features():
    X, y = _colour_data(seed=2)
    pipe = make_pipeline(
        HOGFeatures(pixels_per_cell=4, cells_per_block=2),
        StandardScaler(),
        SoftmaxLinear(random_state=0),
    )
    model = AugmentedClassifier(
        pipe, augmenter=ImageAugmenter(flip=True, max_shift=1), random_state=0
    )
    model.fit(X[:40], y[:40])
    # The fitted HOG saw the (augmented) images, not flat rows.
    assert model.estimator_[0].image_shape_ == (16, 16, 3)
    assert model.score(X[40:], y[40:]) >= 0.9


def test_flat_rows_are_read_with_image_shape():
    X = _images((4, 16, 16, 3), np.uint8)
    rows = X.reshape(4, -1)
    for est in (HOGFeatures(pixels_per_cell=4), ColorHistogram()):
        expected = est.fit_transform(X)
        got = est.set_params(image_shape=(16, 16, 3)).fit_transform(rows)
        np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "make, X, match",
    [
        (HOGFeatures, np.zeros((2, 20, 20)), r"\(20, 20\) are too small.*24x24"),
        (
            lambda: HOGFeatures(pixels_per_cell=(8, 4), cells_per_block=1),
            np.zeros((2, 7, 30)),
            r"too small.*8x4",
        ),
        (HOGFeatures, np.zeros((2, 64)), "flat rows whose image layout is unknown"),
        (ColorHistogram, np.zeros((2, 48)), "flat rows whose image layout is unknown"),
        (ColorHistogram, np.zeros((2, 8, 8)), r"RGB colour images.*which are grey"),
        (
            lambda: ColorHistogram(channel="saturation"),
            np.zeros((2, 8, 8, 1)),
            "which are grey",
        ),
        (ColorHistogram, np.zeros((2, 8, 8, 4)), r"RGB colour images.*\(8, 8, 4\)"),
        (
            lambda: ColorHistogram(range=(1, 0)),
            np.zeros((2, 8, 8, 3)),
            "low < high",
        ),
        (
            lambda: HOGFeatures(pixels_per_cell=(0, 8)),
            np.zeros((2, 32, 32)),
            "pixels_per_cell must be",
        ),
        (
            lambda: HOGFeatures(block_norm="L3"),
            np.zeros((2, 32, 32)),
            "'block_norm' parameter",
        ),
        (
            lambda: HOGFeatures(transform_sqrt=True),
            -np.ones((2, 32, 32)),
            "non-negative",
        ),
    ],
)
def test_bad_input_is_named(make, X, match):
    with pytest.raises(ValueError, match=match):
        make().fit_transform(X)


@pytest.mark.parametrize(
    "make, bad",
    [
        (lambda: HOGFeatures(pixels_per_cell=4), np.zeros((2, 3, 3))),
        (ColorHistogram, np.zeros((2, 8, 8))),
        (ColorHistogram, -np.ones((2, 8, 8, 3))),
        (ColorHistogram, np.zeros((2, 64))),
    ],
)
def test_a_rejected_fit_leaves_the_transformer_as_it_was(make, bad):
    est = make().fit(_images((3, 16, 16, 3), np.uint8))
    before = {k: v for k, v in vars(est).items() if k.endswith("_")}
    with pytest.raises(ValueError):
        est.fit(bad)
    after = {k: v for k, v in vars(est).items() if k.endswith("_")}
    assert after == before


def test_color_histogram_refuses_negative_and_too_large_integer_pixels():
    with pytest.raises(ValueError, match="Negative values in data"):
        ColorHistogram().fit(np.full((2, 4, 4, 3), -0.5))
    with pytest.raises(ValueError, match=r"0\.\.255 for integer images"):
        ColorHistogram().fit(np.full((2, 4, 4, 3), 300, dtype=np.int16))


def test_value_histogram_of_grey_images_is_the_intensity_histogram():
    X = _images((3, 8, 8), np.uint8)
    got = ColorHistogram(channel="value", bins=4).fit_transform(X)
    expected = [np.histogram(x / 255.0, bins=4, range=(0, 1))[0] for x in X]
    np.testing.assert_array_equal(got, expected)


# ------------------------------------------------------------------ plot_hog


def test_plot_hog_draws_lines_along_the_edges():
    from matplotlib.figure import Figure

    from skcv.plotting import plot_hog

    # A vertical edge (gradient along the columns) and a horizontal one.
    X = np.zeros((2, 16, 16))
    X[0, :, 8:] = 1.0
    X[1, 8:, :] = 1.0
    fig = plot_hog(X, HOGFeatures(orientations=8, pixels_per_cell=4), fig=Figure())
    assert len(fig.axes) == 4
    for ax, along in zip(fig.axes[2:], ["vertical", "horizontal"]):
        (lines,) = ax.collections
        brightest = lines.get_segments()[np.argmax(lines.get_colors()[:, 3])]
        (c0, r0), (c1, r1) = brightest
        if along == "vertical":
            assert abs(c1 - c0) < 0.3 * abs(r1 - r0)
        else:
            assert abs(r1 - r0) < 0.3 * abs(c1 - c0)


def test_plot_hog_refuses_flat_rows_and_tiny_images():
    from matplotlib.figure import Figure

    from skcv.plotting import plot_hog

    with pytest.raises(ValueError, match="flat rows"):
        plot_hog(np.zeros((2, 64)), fig=Figure())
    with pytest.raises(ValueError, match="smaller than one cell"):
        plot_hog(np.zeros((2, 4, 4)), fig=Figure())
