import numpy as np
import pytest
from sklearn.utils import Bunch

from skcv import PixelFlatten
from skcv.datasets import load_fashion_mnist, load_mnist

from ._formats import sha256_of, write_idx_gz

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
LOADERS = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}


def write_split(folder, pin, dataset, split, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(FILES[split], (images, labels)):
        path = write_idx_gz(folder / name, array)
        pin(dataset, name, sha256_of(path))


@pytest.fixture
def tiny(data_home, pin):
    """Writes tiny train (5 images of 4x3) and test (2) splits of a data set."""
    rng = np.random.default_rng(0)
    splits = {
        "train": (
            rng.integers(0, 256, (5, 4, 3), dtype=np.uint8),
            np.array([3, 0, 9, 9, 1], dtype=np.uint8),
        ),
        "test": (
            rng.integers(0, 256, (2, 4, 3), dtype=np.uint8),
            np.array([7, 2], dtype=np.uint8),
        ),
    }

    def make(dataset):
        for split, (images, labels) in splits.items():
            write_split(data_home / dataset, pin, dataset, split, images, labels)
        return splits

    return make


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
@pytest.mark.parametrize("subset", ["train", "test"])
def test_loads_each_split_exactly(tiny, dataset, subset):
    images, labels = tiny(dataset)[subset]
    bunch = LOADERS[dataset](subset=subset)

    assert isinstance(bunch, Bunch)
    assert bunch.images.dtype == np.uint8 and bunch.data.dtype == np.uint8
    np.testing.assert_array_equal(bunch.images, images)
    np.testing.assert_array_equal(bunch.data, images.reshape(len(images), 12))
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(bunch.target, labels)
    # data shares memory with images, in PixelFlatten's layout.
    assert np.shares_memory(bunch.data, bunch.images)
    flat = PixelFlatten().fit_transform(bunch.images)
    np.testing.assert_array_equal(flat, bunch.data)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_all_is_train_then_test(tiny, dataset):
    splits = tiny(dataset)
    bunch = LOADERS[dataset](subset="all")
    np.testing.assert_array_equal(
        bunch.images, np.concatenate([splits["train"][0], splits["test"][0]])
    )
    np.testing.assert_array_equal(bunch.target, [3, 0, 9, 9, 1, 7, 2])


def test_target_names_and_descr(tiny):
    tiny("mnist")
    tiny("fashion_mnist")
    mnist, fashion = load_mnist(), load_fashion_mnist()
    assert mnist.target_names == [str(k) for k in range(10)]
    assert fashion.target_names == [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    assert "LeCun" in mnist.DESCR and "Licence" in mnist.DESCR
    assert "Xiao" in fashion.DESCR and "MIT" in fashion.DESCR


def test_return_X_y_gives_flat_data_and_target(tiny):
    images, labels = tiny("mnist")["train"]
    X, y = load_mnist(return_X_y=True)
    np.testing.assert_array_equal(X, images.reshape(5, -1))
    np.testing.assert_array_equal(y, labels)


def test_only_the_files_of_the_subset_are_needed(data_home, pin):
    images = np.zeros((1, 2, 2), np.uint8)
    write_split(data_home / "mnist", pin, "mnist", "test", images, np.array([4]))
    assert load_mnist(subset="test").target.tolist() == [4]
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz"):
        load_mnist(subset="train")


def test_offline_error_names_file_folder_and_remedies(data_home):
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(subset="test")
    message = str(info.value)
    assert "'t10k-images-idx3-ubyte.gz'" in message
    assert repr(str(data_home / "fashion_mnist")) in message
    assert "download=True" in message and "SKCV_DATA" in message
    assert "fashion-mnist.s3-website.eu-central-1.amazonaws.com" in message


def test_data_home_argument_overrides_environment(tmp_path, pin, data_home):
    other = tmp_path / "elsewhere"
    images = np.full((1, 2, 2), 7, np.uint8)
    write_split(other / "mnist", pin, "mnist", "train", images, np.array([1]))
    np.testing.assert_array_equal(load_mnist(data_home=other).images, images)
    # The environment's folder (data_home fixture) has no files.
    with pytest.raises(FileNotFoundError, match="skcv_data"):
        load_mnist()


def test_cached_file_with_wrong_checksum_is_reported_not_replaced(tiny, pin):
    tiny("mnist")
    pin("mnist", "train-labels-idx1-ubyte.gz", "0" * 64)
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz") as info:
        load_mnist()
    assert "SHA-256" in str(info.value) and "0" * 64 in str(info.value)
    # Even with download=True the file is left alone: no fetch is attempted.
    with pytest.raises(ValueError, match="not the official"):
        load_mnist(download=True)


def test_mismatched_image_and_label_counts(data_home, pin):
    images = np.zeros((3, 2, 2), np.uint8)
    write_split(data_home / "mnist", pin, "mnist", "train", images, np.array([1, 2]))
    with pytest.raises(ValueError, match=r"holds 3 images but .* holds 2 labels"):
        load_mnist()


def test_label_outside_the_classes(data_home, pin):
    images = np.zeros((2, 2, 2), np.uint8)
    write_split(data_home / "mnist", pin, "mnist", "train", images, np.array([1, 10]))
    with pytest.raises(ValueError, match=r"label 10.* only 10 classes"):
        load_mnist()


def test_swapped_files_fail_on_the_magic_number(data_home, pin):
    # An image file saved under the label file's name (checksum pinned to it).
    folder = data_home / "mnist"
    folder.mkdir(parents=True)
    images = np.zeros((2, 2, 2), np.uint8)
    for name in FILES["train"]:
        pin("mnist", name, sha256_of(write_idx_gz(folder / name, images)))
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.gz.*0x00000803"):
        load_mnist()


def test_train_and_test_image_shapes_must_agree(data_home, pin):
    folder = data_home / "mnist"
    write_split(folder, pin, "mnist", "train", np.zeros((1, 2, 2)), np.array([1]))
    write_split(folder, pin, "mnist", "test", np.zeros((1, 3, 2)), np.array([1]))
    with pytest.raises(ValueError, match=r"\(2, 2\) but the test images \(3, 2\)"):
        load_mnist(subset="all")


@pytest.mark.parametrize("loader", [load_mnist, load_fashion_mnist])
def test_unknown_subset_names_the_allowed_values(loader):
    with pytest.raises(ValueError, match=r"'subset' parameter.*Got 'val'") as info:
        loader(subset="val")
    assert all(f"'{s}'" in str(info.value) for s in ("train", "test", "all"))
