"""Reading IDX files, the format of MNIST and Fashion-MNIST.

An IDX file starts with a 4-byte magic number ``0x0000TTDD``: two zero bytes,
the element type ``TT`` (``0x08`` for unsigned bytes, the only type those
data sets use) and the number of dimensions ``DD``. Then come ``DD``
big-endian uint32 sizes and the elements in row-major order. Image files
have magic ``0x00000803`` (n_images x rows x columns), label files
``0x00000801``. The official files are gzip-compressed.
"""

import gzip
import struct
import zlib

import numpy as np

_UBYTE = 0x08


def _read_exact(f, n_bytes):
    """Read up to ``n_bytes`` into a writable buffer; return it and the count."""
    out = np.empty(n_bytes, dtype=np.uint8)
    view = memoryview(out)
    n_read = 0
    while n_read < n_bytes:
        n = f.readinto(view[n_read:])
        if not n:
            break
        n_read += n
    return out, n_read


def read_idx(path, *, ndim):
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions.

    Parameters
    ----------
    path : str
        The file, gzip-compressed (recognised by its own magic bytes) or not.
    ndim : int
        Number of dimensions the file must have: 3 for images, 1 for labels.

    Returns
    -------
    array : ndarray of dtype uint8
        Writable, of the shape given by the header.

    Raises
    ------
    ValueError
        Naming the file, if it is not a readable gzip stream, if the magic
        number is not ``0x0000080<ndim>``, or if the data that follows the
        header is shorter or longer than the header announces.
    """
    expected_magic = (_UBYTE << 8) | ndim
    header_bytes = 4 + 4 * ndim
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open if compressed else open)(path, "rb") as f:
            header = f.read(header_bytes)
            magic = int.from_bytes(header[:4], "big") if len(header) >= 4 else None
            if magic != expected_magic:
                shown = "none" if magic is None else f"0x{magic:08x}"
                raise ValueError(
                    f"{path!r} is not an IDX file of {ndim}-D unsigned bytes: its "
                    f"magic number is {shown}, expected 0x{expected_magic:08x}."
                )
            if len(header) < header_bytes:
                raise ValueError(
                    f"{path!r} is truncated: it ends inside the IDX header "
                    f"({len(header)} of {header_bytes} bytes)."
                )
            shape = struct.unpack(f">{ndim}I", header[4:])
            n_bytes = int(np.prod(shape, dtype=np.int64))
            try:
                data, n_read = _read_exact(f, n_bytes)
            except EOFError:
                # The gzip stream itself is cut short; count what decompresses.
                data, n_read = None, _count_until_eof(path, header_bytes)
            if n_read < n_bytes:
                raise ValueError(
                    f"{path!r} is truncated: its header announces shape {shape}, "
                    f"i.e. {n_bytes} bytes of data, but only {n_read} follow."
                )
            if f.read(1):
                raise ValueError(
                    f"{path!r} holds more data than the {n_bytes} bytes its header "
                    f"announces (shape {shape})."
                )
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path!r} is not a readable gzip file: {exc}") from exc
    except EOFError as exc:
        raise ValueError(
            f"{path!r} is truncated: the compressed stream ends early ({exc})."
        ) from exc
    return data.reshape(shape)


def _count_until_eof(path, skip):
    """Bytes of data that decompress from a truncated gzip file after ``skip``."""
    # zlib, unlike GzipFile, hands out everything it could decompress.
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    n = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            n += len(decompressor.decompress(chunk))
    return max(n - skip, 0)
