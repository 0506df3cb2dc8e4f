import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skcv.datasets import get_data_home, load_digits_images, load_npz


def test_get_data_home_creates_the_given_folder(tmp_path):
    folder = tmp_path / "a" / "b"
    assert get_data_home(folder) == str(folder)
    assert folder.is_dir()
    # Calling again on an existing folder is fine.
    assert get_data_home(str(folder)) == str(folder)


def test_get_data_home_uses_skcv_data(monkeypatch, tmp_path):
    monkeypatch.setenv("SKCV_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == str(tmp_path / "from_env")
    assert (tmp_path / "from_env").is_dir()
    # An explicit folder wins over the environment.
    assert get_data_home(tmp_path / "explicit") == str(tmp_path / "explicit")


def test_get_data_home_default_is_skcv_data_in_home(monkeypatch, tmp_path):
    monkeypatch.delenv("SKCV_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "skcv_data")
    assert (tmp_path / "skcv_data").is_dir()


def test_get_data_home_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home("~/cache") == os.path.join(str(tmp_path), "cache")


def test_digits_images_equal_sklearn_digits():
    ours, theirs = load_digits_images(), load_digits()
    assert ours.images.shape == (1797, 8, 8) and ours.images.dtype == np.float64
    np.testing.assert_array_equal(ours.images, theirs.images)
    np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(ours.target, theirs.target)
    assert ours.target.dtype == np.int64
    assert ours.target_names == [str(k) for k in range(10)]
    assert np.shares_memory(ours.data, ours.images)
    assert ours.images.min() == 0 and ours.images.max() == 16
    X, y = load_digits_images(return_X_y=True)
    np.testing.assert_array_equal(X, theirs.data)
    np.testing.assert_array_equal(y, theirs.target)


@pytest.mark.parametrize("shape", [(4, 3, 2), (4, 3, 2, 3)])
def test_load_npz_images(tmp_path, shape):
    X = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    y = np.array([2, 0, 2, 5])
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y, extra=np.zeros(3))

    bunch = load_npz(path)

    np.testing.assert_array_equal(bunch.images, X)
    assert bunch.images.dtype == np.uint8
    np.testing.assert_array_equal(bunch.data, X.reshape(4, -1))
    assert np.shares_memory(bunch.data, bunch.images)
    np.testing.assert_array_equal(bunch.target, y)
    assert bunch.target.dtype == np.int64
    assert bunch.target_names == ["0", "2", "5"]
    assert "d.npz" in bunch.DESCR
    data, target = load_npz(str(path), return_X_y=True)
    np.testing.assert_array_equal(data, X.reshape(4, -1))
    np.testing.assert_array_equal(target, y)


def test_load_npz_flat_rows_have_no_images(tmp_path):
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.savez(tmp_path / "flat.npz", X=X, y=np.array([1, 1, 0]))
    bunch = load_npz(tmp_path / "flat.npz")
    assert bunch.images is None
    np.testing.assert_array_equal(bunch.data, X)
    assert bunch.data.dtype == np.float32
    assert bunch.target_names == ["0", "1"]


def test_load_npz_string_labels_become_indices(tmp_path):
    y = np.array(["dog", "cat", "dog"])
    np.savez(tmp_path / "s.npz", X=np.zeros((3, 2, 2), np.uint8), y=y)
    bunch = load_npz(tmp_path / "s.npz")
    assert bunch.target_names == ["cat", "dog"]
    np.testing.assert_array_equal(bunch.target, [1, 0, 1])
    assert [bunch.target_names[k] for k in bunch.target] == list(y)


def test_load_npz_fortran_ordered_images_still_give_a_flat_view(tmp_path):
    X = np.asfortranarray(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    np.savez(tmp_path / "f.npz", X=X, y=np.array([0, 1]))
    bunch = load_npz(tmp_path / "f.npz")
    np.testing.assert_array_equal(bunch.data, np.ascontiguousarray(X).reshape(2, -1))
    assert np.shares_memory(bunch.data, bunch.images)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"X": np.zeros((2, 2, 2))}, r"lacks the array\(s\) y; it holds \['X'\]"),
        ({"images": np.zeros(2), "labels": np.zeros(2)}, r"lacks the array\(s\) X, y"),
        (
            {"X": np.zeros((3, 2, 2)), "y": np.array([0, 1])},
            r"different lengths: 3 samples in X, 2 labels in y",
        ),
        ({"X": np.zeros(3), "y": np.array([0, 1, 2])}, r"X .* got shape \(3,\)"),
        (
            {"X": np.zeros((1, 2, 2, 2, 2)), "y": np.array([0])},
            r"got shape \(1, 2, 2, 2, 2\)",
        ),
        (
            {"X": np.zeros((2, 2, 2)), "y": np.zeros((2, 1), int)},
            r"y .* shape \(2, 1\)",
        ),
        (
            {"X": np.array([[[np.nan]]]), "y": np.array([0])},
            r"X .* contains NaN or infinity",
        ),
    ],
)
def test_load_npz_value_errors(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match) as info:
        load_npz(path)
    assert "bad.npz" in str(info.value)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"X": np.zeros((2, 2, 2), complex), "y": np.array([0, 1])}, "X .* numbers"),
        ({"X": np.zeros((2, 2, 2)), "y": np.array([0.5, 1.0])}, "integer or string"),
    ],
)
def test_load_npz_type_errors(tmp_path, arrays, match):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(TypeError, match=match):
        load_npz(tmp_path / "bad.npz")


def test_load_npz_refuses_pickled_object_arrays(tmp_path):
    y = np.array([{"a": 1}, None], dtype=object)
    np.savez(tmp_path / "obj.npz", X=np.zeros((2, 2, 2)), y=y)
    with pytest.raises(ValueError, match=r"obj\.npz.* object arrays"):
        load_npz(tmp_path / "obj.npz")


def test_load_npz_not_an_archive(tmp_path):
    np.save(tmp_path / "single.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"single\.npy.* single array"):
        load_npz(tmp_path / "single.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match=r"junk\.npz.* not a readable \.npz"):
        load_npz(tmp_path / "junk.npz")
    with pytest.raises(FileNotFoundError):
        load_npz(tmp_path / "missing.npz")


def test_load_npz_does_not_depend_on_key_order_or_extra_arrays(tmp_path):
    X = np.ones((2, 2, 2), np.uint8)
    np.savez(tmp_path / "o.npz", y=np.array([1, 0]), notes=np.array(["x"]), X=X)
    np.testing.assert_array_equal(load_npz(tmp_path / "o.npz").target, [1, 0])
