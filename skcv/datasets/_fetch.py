"""Finding data set files in the cache, and downloading them into it.

Errors follow one rule: a file that cannot be obtained raises an ``OSError``
(``FileNotFoundError`` when it is missing and downloading was not asked for),
a file whose content is wrong raises a ``ValueError``. A cached file is
verified against its pinned SHA-256 every time it is loaded and is never
replaced behind the user's back: a mismatch is reported, not re-downloaded.

A download goes to a hidden temporary file in the destination folder, is
hashed while it is written, and is renamed over the final name with
``os.replace`` only once its checksum matches. An interrupted, failed or
corrupted download therefore leaves nothing in the cache.
"""

import hashlib
import http.client
import os
import secrets
import sys
import urllib.request

from tqdm import tqdm

from . import _registry
from ._base import get_data_home

_CHUNK_BYTES = 1 << 20
_TIMEOUT_SECONDS = 60

# Indirection so that tests can serve bytes from memory instead of the network.
_urlopen = urllib.request.urlopen


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(dataset, filename, *, data_home=None, download=False):
    """Return the path of a verified file of ``dataset``, downloading it if allowed.

    Parameters
    ----------
    dataset : str
        Key of :data:`_registry.REMOTE_FILES`, also the name of the sub-folder
        of the data home that holds the files.
    filename : str
        Official name of the file.
    data_home : str or path-like, default=None
        See :func:`get_data_home`.
    download : bool, default=False
        Whether to download the file when it is not in the cache.

    Returns
    -------
    path : str
        Path of the file, whose SHA-256 matches the pinned one.
    """
    remote = _registry.REMOTE_FILES[dataset][filename]
    folder = os.path.join(get_data_home(data_home), dataset)
    path = os.path.join(folder, filename)
    if os.path.exists(path):
        actual = _sha256(path)
        if actual != remote.sha256:
            raise ValueError(
                f"The cached file {path!r} is not the official {filename}: its "
                f"SHA-256 is {actual}, expected {remote.sha256}. The file is "
                f"corrupted or was replaced. Delete it and call again with "
                f"download=True, or put the official file in its place."
            )
        return path
    if not download:
        raise FileNotFoundError(
            f"The file {filename!r} is not in {folder!r}. Call again with "
            f"download=True to download it from {remote.urls[0]}, or put the "
            f"official file in that folder yourself. To use another folder, "
            f"set the SKCV_DATA environment variable or pass data_home."
        )
    os.makedirs(folder, exist_ok=True)
    _download(remote, path)
    return path


def _download(remote, path):
    """Download ``remote`` to ``path``, trying its URLs in order."""
    failures = []
    for url in remote.urls:
        try:
            _download_one(url, path, remote.sha256)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            failures.append(f"{url}: {exc}")
        else:
            return
    folder, filename = os.path.split(path)
    raise OSError(
        f"Could not download {filename!r} into {folder!r}; nothing was written. "
        f"Tried:\n  " + "\n  ".join(failures) + "\nDownload the official file "
        "yourself and put it in that folder, or set the SKCV_DATA environment "
        "variable (or pass data_home) to a folder that holds it."
    )


def _download_one(url, path, sha256):
    """Stream ``url`` into ``path`` atomically; raise ValueError on a bad checksum."""
    folder, filename = os.path.split(path)
    tmp = os.path.join(folder, f".{filename}.{secrets.token_hex(6)}.part")
    # os.open rather than tempfile: the file gets the usual umask-based mode,
    # which it keeps after the rename, so a shared cache stays readable.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=_TIMEOUT_SECONDS) as r:
            length = r.headers.get("Content-Length")
            with tqdm(
                total=int(length) if length else None,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=filename,
                file=sys.stderr,
            ) as bar:
                while chunk := r.read(_CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise ValueError(
                f"the downloaded {filename} has SHA-256 {digest.hexdigest()}, "
                f"expected {sha256}"
            )
        os.replace(tmp, path)
    except BaseException:
        # Also on KeyboardInterrupt: a partial file must not stay behind.
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
