import gzip
import pickle

import numpy as np
import pytest

from skcv.datasets import load_cifar10, load_cifar100

from ._formats import (
    CIFAR10_NAMES,
    cifar10_members,
    cifar100_members,
    py2_pickle,
    sha256_of,
    write_tar_gz,
)

CIFAR10 = "cifar-10-python.tar.gz"
CIFAR100 = "cifar-100-python.tar.gz"


@pytest.fixture
def write_archive(data_home, pin):
    """Write members as the cached archive of a data set, checksum pinned."""

    def write(dataset, filename, members):
        folder = data_home / dataset
        folder.mkdir(parents=True, exist_ok=True)
        path = write_tar_gz(folder / filename, members)
        pin(dataset, filename, sha256_of(path))
        return path

    return write


@pytest.fixture
def cifar10(write_archive):
    members, truth = cifar10_members(np.random.default_rng(0))
    write_archive("cifar10", CIFAR10, members)
    return truth


@pytest.fixture
def cifar100(write_archive):
    members, truth = cifar100_members(np.random.default_rng(1))
    write_archive("cifar100", CIFAR100, members)
    return truth


def test_planar_rows_become_channels_last_pixel_by_pixel(cifar10):
    bunch = load_cifar10(subset="test")
    images, _ = cifar10["test"][0]
    # Re-derive every pixel from the planar row with explicit indices:
    # row[c * 1024 + i * 32 + j] is channel c of pixel (i, j).
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    n, i, j, c = np.meshgrid(
        np.arange(len(images)),
        np.arange(32),
        np.arange(32),
        np.arange(3),
        indexing="ij",
    )
    expected = rows[n, c * 1024 + i * 32 + j]
    assert bunch.images.shape == (3, 32, 32, 3) and bunch.images.dtype == np.uint8
    np.testing.assert_array_equal(bunch.images, expected)
    np.testing.assert_array_equal(bunch.images, images)


def test_cifar10_train_concatenates_the_five_batches_in_order(cifar10):
    bunch = load_cifar10()
    expected_images = np.concatenate([images for images, _ in cifar10["train"]])
    expected_labels = [k for _, labels in cifar10["train"] for k in labels]
    assert len(bunch.images) == 2 + 3 + 1 + 2 + 2
    np.testing.assert_array_equal(bunch.images, expected_images)
    np.testing.assert_array_equal(bunch.target, expected_labels)
    assert bunch.target.dtype == np.int64
    assert bunch.target_names == CIFAR10_NAMES
    # data is images in PixelFlatten's layout, as a view.
    assert bunch.data.shape == (10, 3072) and np.shares_memory(bunch.data, bunch.images)
    np.testing.assert_array_equal(bunch.data[:, :3], bunch.images[:, 0, 0, :])
    assert "Krizhevsky" in bunch.DESCR


def test_cifar10_all_is_train_then_test(cifar10):
    train, test = load_cifar10(subset="train"), load_cifar10(subset="test")
    both = load_cifar10(subset="all")
    np.testing.assert_array_equal(
        both.images, np.concatenate([train.images, test.images])
    )
    np.testing.assert_array_equal(
        both.target, np.concatenate([train.target, test.target])
    )


def test_cifar10_return_X_y(cifar10):
    X, y = load_cifar10(subset="test", return_X_y=True)
    images, labels = cifar10["test"][0]
    np.testing.assert_array_equal(X, images.reshape(3, -1))
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize("subset", ["train", "test"])
def test_cifar100_fine_and_coarse(cifar100, subset):
    images, fine, coarse = cifar100[subset]
    fine_bunch = load_cifar100(subset=subset)
    coarse_bunch = load_cifar100(label_mode="coarse", subset=subset)

    np.testing.assert_array_equal(fine_bunch.images, images)
    np.testing.assert_array_equal(coarse_bunch.images, images)
    np.testing.assert_array_equal(fine_bunch.target, fine)
    np.testing.assert_array_equal(coarse_bunch.target, coarse)
    assert fine_bunch.target_names == [f"fine_{k}" for k in range(100)]
    assert coarse_bunch.target_names == [f"coarse_{k}" for k in range(20)]


def test_cifar100_all(cifar100):
    bunch = load_cifar100(subset="all", label_mode="coarse")
    np.testing.assert_array_equal(
        bunch.images, np.concatenate([cifar100["train"][0], cifar100["test"][0]])
    )
    np.testing.assert_array_equal(
        bunch.target, cifar100["train"][2] + cifar100["test"][2]
    )


def test_unknown_label_mode_and_subset():
    with pytest.raises(ValueError, match=r"'label_mode' parameter.*Got 'medium'"):
        load_cifar100(label_mode="medium")
    with pytest.raises(ValueError, match=r"'subset' parameter.*Got 'valid'"):
        load_cifar10(subset="valid")


def test_offline_error_names_archive_and_folder(data_home):
    with pytest.raises(FileNotFoundError) as info:
        load_cifar100()
    message = str(info.value)
    assert f"'{CIFAR100}'" in message and repr(str(data_home / "cifar100")) in message
    assert "download=True" in message and "SKCV_DATA" in message


def test_checksum_mismatch_names_the_archive(cifar10, pin):
    pin("cifar10", CIFAR10, "f" * 64)
    with pytest.raises(ValueError, match=r"cifar-10-python\.tar\.gz.*SHA-256"):
        load_cifar10()


def test_missing_member(write_archive):
    members, _ = cifar10_members(np.random.default_rng(0))
    del members["cifar-10-batches-py/data_batch_3"]
    path = write_archive("cifar10", CIFAR10, members)
    # The test split does not need the missing batch.
    assert len(load_cifar10(subset="test").images) == 3
    with pytest.raises(ValueError, match="lacks the member") as info:
        load_cifar10()
    assert "data_batch_3" in str(info.value) and str(path) in str(info.value)


def test_pickle_asking_for_other_globals_is_refused(write_archive, tmp_path):
    members, _ = cifar10_members(np.random.default_rng(0))
    marker = tmp_path / "ran"
    # A pickle that would create a file if its global were resolved.
    evil = (
        b"\x80\x02cbuiltins\nopen\nT"
        + len(str(marker)).to_bytes(4, "little")
        + str(marker).encode()
        + b"U\x01w\x86R."
    )
    members["cifar-10-batches-py/test_batch"] = evil
    write_archive("cifar10", CIFAR10, members)
    with pytest.raises(
        ValueError, match=r"test_batch.*refusing to load builtins\.open"
    ):
        load_cifar10(subset="test")
    assert not marker.exists()


def test_python3_pickles_with_the_new_numpy_module_name_load(write_archive):
    # numpy >= 2 pickles arrays under numpy._core; accept that name as well.
    members, truth = cifar10_members(np.random.default_rng(0))
    images, labels = truth["test"][0]
    rows = images.transpose(0, 3, 1, 2).reshape(3, -1)
    batch = {b"labels": labels, b"data": rows}
    members["cifar-10-batches-py/test_batch"] = pickle.dumps(batch, protocol=4)
    write_archive("cifar10", CIFAR10, members)
    np.testing.assert_array_equal(load_cifar10(subset="test").images, images)


@pytest.mark.parametrize(
    "batch, match",
    [
        ({b"labels": [1]}, r"no entry b'data'"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, r"no entry b'labels'"),
        (
            {b"data": np.zeros((2, 1024), np.uint8), b"labels": [1, 2]},
            r"shape \(n, 3072\); got an array of shape \(2, 1024\)",
        ),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]},
            r"2 integer labels, one per image; got an array of shape \(1,\)",
        ),
        (
            {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]},
            r"0\.\.9.*from 1 to 10",
        ),
        ([1, 2], r"no entry b'data'"),
    ],
)
def test_malformed_batches(write_archive, batch, match):
    members, _ = cifar10_members(np.random.default_rng(0))
    members["cifar-10-batches-py/test_batch"] = py2_pickle(batch)
    write_archive("cifar10", CIFAR10, members)
    with pytest.raises(ValueError, match=match) as info:
        load_cifar10(subset="test")
    assert "test_batch" in str(info.value)


@pytest.mark.parametrize(
    "subset, match",
    [
        # The first member, data_batch_1, is cut while being unpickled.
        ("train", r"\.tar\.gz' is truncated: it ends inside 'cifar-10-batches-py/"),
        # The test batch is never reached: the cut falls among members skipped.
        ("test", r"\.tar\.gz' is truncated: Compressed file ended"),
    ],
)
def test_truncated_archive(data_home, pin, subset, match):
    members, _ = cifar10_members(np.random.default_rng(0))
    folder = data_home / "cifar10"
    folder.mkdir(parents=True)
    path = write_tar_gz(folder / CIFAR10, members)
    path.write_bytes(path.read_bytes()[:5000])
    pin("cifar10", CIFAR10, sha256_of(path))
    with pytest.raises(ValueError, match=match):
        load_cifar10(subset=subset)


def test_not_a_tar_archive(data_home, pin):
    folder = data_home / "cifar100"
    folder.mkdir(parents=True)
    path = folder / CIFAR100
    path.write_bytes(gzip.compress(b"not a tar file" * 100))
    pin("cifar100", CIFAR100, sha256_of(path))
    with pytest.raises(ValueError, match=r"cifar-100-python\.tar\.gz.*not a readable"):
        load_cifar100()
