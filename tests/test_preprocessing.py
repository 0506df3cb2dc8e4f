import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import PixelFlatten


@pytest.fixture
def rgb_images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 4, 3, 3), dtype=np.uint8)


def test_flatten_is_row_major_channels_last(rgb_images):
    rows = PixelFlatten().fit_transform(rgb_images)
    assert rows.shape == (5, 36)
    # pixel (i, j, c) lands at column (i * W + j) * C + c
    i, j, c = 2, 1, 2
    np.testing.assert_array_equal(rows[:, (i * 3 + j) * 3 + c], rgb_images[:, i, j, c])


@pytest.mark.parametrize("shape", [(6, 7), (4, 3, 3), (2, 5, 1)])
def test_round_trip(shape):
    rng = np.random.default_rng(1)
    images = rng.normal(size=(4, *shape)).astype(np.float32)
    flat = PixelFlatten().fit(images)
    rows = flat.transform(images)
    assert rows.dtype == np.float32
    assert flat.image_shape_ == shape
    assert flat.n_features_in_ == int(np.prod(shape))
    back = flat.inverse_transform(rows)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, images)


def test_flat_rows_with_image_shape_unflatten():
    digits = load_digits()
    flat = PixelFlatten(image_shape=(8, 8)).fit(digits.data)
    assert flat.image_shape_ == (8, 8)
    np.testing.assert_array_equal(flat.inverse_transform(digits.data), digits.images)
    # An unfitted transformer knows the shape from the parameter alone.
    np.testing.assert_array_equal(
        PixelFlatten(image_shape=(8, 8)).inverse_transform(digits.data[:3]),
        digits.images[:3],
    )


def test_flat_rows_without_image_shape_pass_through():
    X = np.arange(12.0).reshape(3, 4)
    flat = PixelFlatten().fit(X)
    assert flat.image_shape_ == (4,)
    np.testing.assert_array_equal(flat.transform(X), X)
    np.testing.assert_array_equal(flat.inverse_transform(X), X)


def test_stateless_transform_without_fit(rgb_images):
    rows = PixelFlatten().transform(rgb_images)
    np.testing.assert_array_equal(rows, rgb_images.reshape(5, -1))


def test_rescale_maps_uint8_to_unit_float32(rgb_images):
    flat = PixelFlatten(rescale=True).fit(rgb_images)
    rows = flat.transform(rgb_images)
    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows, rgb_images.reshape(5, -1) / 255.0, rtol=1e-6)
    extremes = np.array([[[0, 255]]], dtype=np.uint8)
    np.testing.assert_array_equal(
        PixelFlatten(rescale=True).fit_transform(extremes), [[0.0, 1.0]]
    )
    np.testing.assert_allclose(flat.inverse_transform(rows), rgb_images, atol=1e-4)


def test_rescale_keeps_float64():
    X = np.full((2, 3, 3), 51.0)
    rows = PixelFlatten(rescale=True).fit_transform(X)
    assert rows.dtype == np.float64
    np.testing.assert_allclose(rows, 0.2)


def test_other_image_shape_after_fit_names_both_shapes():
    flat = PixelFlatten().fit(np.zeros((2, 8, 8)))
    with pytest.raises(ValueError, match=r"\(4, 16\).*\(8, 8\)"):
        flat.transform(np.zeros((2, 4, 16)))
    with pytest.raises(ValueError, match="64 features"):
        flat.transform(np.zeros((2, 10, 10)))
    with pytest.raises(ValueError, match="64 features"):
        flat.transform(np.zeros((2, 10)))


def test_image_shape_mismatch_with_parameter():
    with pytest.raises(ValueError, match=r"cannot be read as images of shape \(8, 8\)"):
        PixelFlatten(image_shape=(8, 8)).fit(np.zeros((2, 10)))
    with pytest.raises(ValueError, match=r"\(3, 3\).*image_shape is \(8, 8\)"):
        PixelFlatten(image_shape=(8, 8)).fit(np.zeros((2, 3, 3)))


@pytest.mark.parametrize("bad", [(0, 3), (2.5, 3), (1, 2, 3, 4), "8x8"])
def test_invalid_image_shape(bad):
    with pytest.raises(ValueError, match="image_shape"):
        PixelFlatten(image_shape=bad).fit(np.zeros((2, 6)))


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros(5), "Reshape your data"),
        (np.zeros((2, 2, 2, 2, 2)), "5 dimension"),
        (np.full((2, 3, 3), np.nan), "NaN"),
        (np.zeros((0, 3, 3)), "0 sample"),
    ],
)
def test_bad_input(X, message):
    with pytest.raises(ValueError, match=message):
        PixelFlatten().fit(X)


def test_inverse_transform_needs_a_shape():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PixelFlatten().inverse_transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"5 features per row.*\(2, 2\)"):
        PixelFlatten(image_shape=(2, 2)).inverse_transform(np.zeros((1, 5)))


def test_input_not_modified(rgb_images):
    before = rgb_images.copy()
    flat = PixelFlatten(rescale=True).fit(rgb_images)
    flat.inverse_transform(flat.transform(rgb_images))
    np.testing.assert_array_equal(rgb_images, before)


def test_feature_names_out():
    flat = PixelFlatten().fit(np.zeros((1, 2, 3)))
    assert list(flat.get_feature_names_out()) == [
        "pixel_0_0",
        "pixel_0_1",
        "pixel_0_2",
        "pixel_1_0",
        "pixel_1_1",
        "pixel_1_2",
    ]
    colour = PixelFlatten().fit(np.zeros((1, 1, 2, 3)))
    assert colour.get_feature_names_out()[4] == "pixel_0_1_1"
    rows = PixelFlatten().fit(np.zeros((1, 3)))
    assert list(rows.get_feature_names_out()) == ["x0", "x1", "x2"]


def test_dataframe_feature_names_pass_through():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(np.zeros((2, 3)), columns=["a", "b", "c"])
    flat = PixelFlatten().fit(df)
    assert list(flat.get_feature_names_out()) == ["a", "b", "c"]


def test_in_pipeline_with_scaler():
    digits = load_digits()
    pipe = make_pipeline(PixelFlatten(), StandardScaler()).fit(digits.images)
    expected = StandardScaler().fit_transform(digits.data)
    np.testing.assert_allclose(pipe.transform(digits.images), expected)
