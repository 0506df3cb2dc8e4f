import gzip

import numpy as np
import pytest

from skcv.datasets._idx import read_idx

from ._formats import idx_bytes, write_idx_gz


@pytest.fixture
def images():
    # 5 images of 4x3 with distinct bytes, so any reordering shows.
    return np.arange(5 * 4 * 3, dtype=np.uint8).reshape(5, 4, 3) * 3


def test_idx_pair_round_trips_exactly(tmp_path, images):
    labels = np.array([3, 0, 9, 9, 1], dtype=np.uint8)
    images_path = write_idx_gz(tmp_path / "images.gz", images)
    labels_path = write_idx_gz(tmp_path / "labels.gz", labels)

    read_images = read_idx(str(images_path), ndim=3)
    read_labels = read_idx(str(labels_path), ndim=1)

    assert read_images.dtype == np.uint8 and read_images.shape == (5, 4, 3)
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    # Callers may modify what they get, e.g. augment in place.
    assert read_images.flags.writeable and read_images.flags.c_contiguous


def test_header_bytes_are_the_official_ones(tmp_path):
    # 0x00000803, then 2, 28, 28 as big-endian uint32, as on the MNIST page.
    path = write_idx_gz(tmp_path / "f.gz", np.zeros((2, 28, 28), np.uint8))
    raw = gzip.decompress(path.read_bytes())
    assert raw[:16] == bytes.fromhex("00000803 00000002 0000001c 0000001c")
    assert read_idx(str(path), ndim=3).shape == (2, 28, 28)


def test_uncompressed_file_is_read_too(tmp_path, images):
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(images))
    np.testing.assert_array_equal(read_idx(str(path), ndim=3), images)


def test_empty_file_with_zero_items(tmp_path):
    path = write_idx_gz(tmp_path / "f.gz", np.zeros((0, 4, 3), np.uint8))
    assert read_idx(str(path), ndim=3).shape == (0, 4, 3)


@pytest.mark.parametrize(
    "magic, ndim, shown",
    [
        (0x00000801, 3, "0x00000801"),  # a label file read as images
        (0x00000803, 1, "0x00000803"),  # an image file read as labels
        (0x00000D03, 3, "0x00000d03"),  # float elements
        (0x01000803, 3, "0x01000803"),  # not starting with two zero bytes
    ],
)
def test_wrong_magic_number_names_file_and_values(tmp_path, magic, ndim, shown):
    path = tmp_path / "bad-idx.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 2, 2)), magic=magic)))
    expected = f"0x{0x0800 | ndim:08x}"
    with pytest.raises(ValueError, match=r"bad-idx\.gz") as info:
        read_idx(str(path), ndim=ndim)
    assert shown in str(info.value) and expected in str(info.value)


def test_truncated_gzip_stream_reports_expected_and_actual_size(tmp_path, images):
    # Level 0 stores the bytes as they are, so cutting the 8-byte trailer and
    # 20 more bytes leaves exactly 16 header + 40 data bytes to decompress.
    full = gzip.compress(idx_bytes(images), compresslevel=0, mtime=0)
    path = tmp_path / "cut.gz"
    path.write_bytes(full[: len(full) - 28])
    with pytest.raises(
        ValueError,
        match=r"cut\.gz.* is truncated.*i\.e\. 60 bytes of data, but only 40 follow",
    ):
        read_idx(str(path), ndim=3)


def test_truncated_gzip_trailer_only(tmp_path, images):
    # All the data is there but the stream lacks its end marker.
    full = gzip.compress(idx_bytes(images), mtime=0)
    path = tmp_path / "trailer.gz"
    path.write_bytes(full[:-4])
    with pytest.raises(ValueError, match=r"trailer\.gz.* is truncated"):
        read_idx(str(path), ndim=3)


def test_payload_shorter_than_header_in_intact_gzip(tmp_path, images):
    path = tmp_path / "short.gz"
    path.write_bytes(gzip.compress(idx_bytes(images)[:-7]))
    with pytest.raises(
        ValueError, match=r"short\.gz.*announces shape \(5, 4, 3\).*60 bytes.*only 53"
    ):
        read_idx(str(path), ndim=3)


def test_payload_longer_than_header(tmp_path, images):
    path = tmp_path / "long.gz"
    path.write_bytes(gzip.compress(idx_bytes(images) + b"\x00"))
    with pytest.raises(ValueError, match=r"long\.gz.*more data than the 60 bytes"):
        read_idx(str(path), ndim=3)


def test_truncated_header(tmp_path):
    path = tmp_path / "head.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 2, 2)))[:9]))
    with pytest.raises(ValueError, match=r"head\.gz.*ends inside the IDX header"):
        read_idx(str(path), ndim=3)


def test_corrupted_gzip(tmp_path, images):
    full = bytearray(gzip.compress(idx_bytes(images)))
    full[12:20] = b"\xff" * 8
    path = tmp_path / "garbled.gz"
    path.write_bytes(bytes(full))
    with pytest.raises(ValueError, match=r"garbled\.gz"):
        read_idx(str(path), ndim=3)
