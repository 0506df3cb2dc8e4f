"""Writers of tiny files in the official formats, for the loader tests.

The IDX writer follows the format description on the MNIST page; the pickle
writer emits the opcodes Python 2's cPickle (protocol 2) used for the CIFAR
batches, so the loader is tested on that dialect rather than on what
Python 3 would write.
"""

import gzip
import hashlib
import io
import struct
import tarfile

import numpy as np

CIFAR10_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def idx_bytes(array, *, magic=None):
    """Uncompressed IDX encoding of a uint8 array."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx_gz(path, array, *, magic=None):
    path.write_bytes(gzip.compress(idx_bytes(array, magic=magic), mtime=0))
    return path


def sha256_of(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _py2(obj, out):
    if isinstance(obj, dict):
        out += b"}("
        for key, value in obj.items():
            _py2(key, out)
            _py2(value, out)
        out += b"u"
    elif isinstance(obj, list):
        out += b"]("
        for value in obj:
            _py2(value, out)
        out += b"e"
    elif isinstance(obj, int):
        out += b"J" + struct.pack("<i", obj)
    elif isinstance(obj, bytes):
        out += b"T" + struct.pack("<I", len(obj)) + obj
    elif isinstance(obj, np.ndarray) and obj.dtype == np.uint8:
        # _reconstruct(ndarray, (0,), 'b') then __setstate__((1, shape,
        # dtype('u1'), False, raw bytes)), as numpy 1.x under Python 2 wrote it.
        out += b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
        out += b"J\x00\x00\x00\x00\x85U\x01b\x87R(J\x01\x00\x00\x00("
        out += b"".join(b"J" + struct.pack("<i", n) for n in obj.shape) + b"t"
        out += b"cnumpy\ndtype\nU\x02u1J\x00\x00\x00\x00J\x01\x00\x00\x00\x87R("
        out += b"J\x03\x00\x00\x00U\x01|NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff"
        out += b"J\x00\x00\x00\x00tb\x89T" + struct.pack("<I", obj.nbytes)
        out += np.ascontiguousarray(obj).tobytes() + b"tb"
    else:
        raise TypeError(f"cannot write {type(obj).__name__}")


def py2_pickle(obj):
    """Protocol-2 pickle of dicts, lists, ints, bytes and uint8 arrays."""
    out = bytearray(b"\x80\x02")
    _py2(obj, out)
    return bytes(out + b".")


def write_tar_gz(path, members):
    """A tar.gz holding ``{name: bytes}``, a folder entry first as CIFAR's do."""
    folder = next(iter(members)).split("/")[0]
    with tarfile.open(path, "w:gz") as archive:
        entry = tarfile.TarInfo(folder)
        entry.type = tarfile.DIRTYPE
        archive.addfile(entry)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def planar_rows(images):
    """CIFAR rows (n, 3072) from (n, 32, 32, 3) images: R plane, G, then B."""
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)).reshape(len(images), -1)


def cifar10_members(rng, n_per_batch=(2, 3, 1, 2, 2), n_test=3):
    """Members of a tiny cifar-10-python.tar.gz and the images they hold."""
    members, truth = {}, {"train": [], "test": []}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, [*n_per_batch, n_test]):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": planar_rows(images),
            b"filenames": [f"img_{k}.png".encode() for k in range(n)],
        }
        members[f"cifar-10-batches-py/{name}"] = py2_pickle(batch)
        truth["test" if name == "test_batch" else "train"].append((images, labels))
    meta = {
        b"num_cases_per_batch": 10000,
        b"label_names": [n.encode() for n in CIFAR10_NAMES],
        b"num_vis": 3072,
    }
    members["cifar-10-batches-py/batches.meta"] = py2_pickle(meta)
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    return members, truth


def cifar100_members(rng, n_train=4, n_test=3):
    """Members of a tiny cifar-100-python.tar.gz and the images they hold."""
    members, truth = {}, {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
        fine = [int(v) for v in rng.integers(0, 100, n)]
        coarse = [int(v) for v in rng.integers(0, 20, n)]
        batch = {
            b"filenames": [f"img_{k}.png".encode() for k in range(n)],
            b"batch_label": split.encode(),
            b"fine_labels": fine,
            b"coarse_labels": coarse,
            b"data": planar_rows(images),
        }
        members[f"cifar-100-python/{split}"] = py2_pickle(batch)
        truth[split] = (images, fine, coarse)
    meta = {
        b"fine_label_names": [f"fine_{k}".encode() for k in range(100)],
        b"coarse_label_names": [f"coarse_{k}".encode() for k in range(20)],
    }
    members["cifar-100-python/meta"] = py2_pickle(meta)
    return members, truth
