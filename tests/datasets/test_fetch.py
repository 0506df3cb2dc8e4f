import gzip
import hashlib
import io
import os
import urllib.error

import numpy as np
import pytest

from skcv.datasets import _fetch, load_mnist
from skcv.datasets._fetch import _fetch as fetch

from ._formats import idx_bytes

PAYLOAD = bytes(range(256)) * 40  # 10 KiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()
NAME = "t10k-labels-idx1-ubyte.gz"


class FakeResponse(io.BytesIO):
    """What urlopen returns, serving bytes from memory.

    ``fail_at`` makes ``read`` raise once that many bytes were served, and
    ``on_fail`` runs just before, to look at the folder mid-download.
    """

    def __init__(self, data, *, fail_at=None, on_fail=None, length=True):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))} if length else {}
        self.fail_at, self.on_fail = fail_at, on_fail

    def read(self, size=-1):
        if self.fail_at is None:
            return super().read(size)
        if self.tell() >= self.fail_at:
            if self.on_fail is not None:
                self.on_fail()
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, self.fail_at - self.tell()))


@pytest.fixture
def serve(monkeypatch):
    """serve({url: response factory}) routes urlopen; returns the URLs asked."""
    asked = []

    def serve(routes):
        def fake_urlopen(url, timeout):
            asked.append(url)
            if url not in routes:
                raise urllib.error.URLError(f"no route to {url}")
            return routes[url]()

        monkeypatch.setattr(_fetch, "_urlopen", fake_urlopen)
        return asked

    return serve


def test_download_writes_verified_file_and_shows_progress(
    serve, pin, data_home, capsys
):
    entry = pin("mnist", NAME, SHA, urls=["https://a.example/f"])
    asked = serve({"https://a.example/f": lambda: FakeResponse(PAYLOAD)})

    path = fetch("mnist", NAME, download=True)

    assert path == str(data_home / "mnist" / NAME)
    assert (data_home / "mnist" / NAME).read_bytes() == PAYLOAD
    assert os.listdir(data_home / "mnist") == [NAME]
    assert asked == list(entry.urls)
    err = capsys.readouterr().err
    assert NAME in err and "100%" in err and "10.0k" in err
    # A second call finds the file and does not download again.
    assert fetch("mnist", NAME, download=True) == path
    assert asked == list(entry.urls)


def test_progress_without_content_length(serve, pin, data_home, capsys):
    pin("mnist", NAME, SHA, urls=["https://a.example/f"])
    serve({"https://a.example/f": lambda: FakeResponse(PAYLOAD, length=False)})
    fetch("mnist", NAME, download=True)
    assert NAME in capsys.readouterr().err
    assert (data_home / "mnist" / NAME).read_bytes() == PAYLOAD


def test_falls_back_to_the_next_mirror(serve, pin, data_home):
    urls = ["https://down.example/f", "https://bad.example/f", "https://ok.example/f"]
    pin("mnist", NAME, SHA, urls=urls)
    asked = serve(
        {
            "https://bad.example/f": lambda: FakeResponse(b"corrupted" + PAYLOAD[9:]),
            "https://ok.example/f": lambda: FakeResponse(PAYLOAD),
        }
    )
    fetch("mnist", NAME, download=True)
    assert asked == urls
    assert os.listdir(data_home / "mnist") == [NAME]
    assert (data_home / "mnist" / NAME).read_bytes() == PAYLOAD


def test_failure_mid_download_leaves_nothing(serve, pin, data_home):
    pin("mnist", NAME, SHA, urls=["https://a.example/f"])
    folder = data_home / "mnist"
    seen_mid_download = []

    def response():
        return FakeResponse(
            PAYLOAD,
            fail_at=4096,
            on_fail=lambda: seen_mid_download.extend(os.listdir(folder)),
        )

    serve({"https://a.example/f": response})
    with pytest.raises(OSError, match="connection reset by peer") as info:
        fetch("mnist", NAME, download=True)
    # The partial file existed under a temporary name, and is gone.
    assert len(seen_mid_download) == 1 and seen_mid_download[0].endswith(".part")
    assert os.listdir(folder) == []
    message = str(info.value)
    assert f"'{NAME}'" in message and repr(str(folder)) in message
    assert "nothing was written" in message and "SKCV_DATA" in message


def test_interrupt_mid_download_leaves_nothing(serve, pin, data_home):
    pin("mnist", NAME, SHA, urls=["https://a.example/f"])

    def interrupt():
        raise KeyboardInterrupt

    serve(
        {
            "https://a.example/f": lambda: FakeResponse(
                PAYLOAD, fail_at=100, on_fail=interrupt
            )
        }
    )
    with pytest.raises(KeyboardInterrupt):
        fetch("mnist", NAME, download=True)
    assert os.listdir(data_home / "mnist") == []


def test_corrupted_download_is_an_error_and_leaves_nothing(serve, pin, data_home):
    pin("mnist", NAME, SHA, urls=["https://a.example/f"])
    corrupted = PAYLOAD[:-1] + b"\x00"
    serve({"https://a.example/f": lambda: FakeResponse(corrupted)})
    with pytest.raises(OSError, match="SHA-256") as info:
        fetch("mnist", NAME, download=True)
    assert hashlib.sha256(corrupted).hexdigest() in str(info.value)
    assert SHA in str(info.value)
    assert os.listdir(data_home / "mnist") == []


def test_network_error_names_every_url(serve, pin):
    urls = ["https://one.example/f", "https://two.example/f"]
    pin("mnist", NAME, SHA, urls=urls)
    serve({})
    with pytest.raises(OSError) as info:
        fetch("mnist", NAME, download=True)
    assert all(f"{url}: <urlopen error no route" in str(info.value) for url in urls)


def test_real_urlopen_over_file_url(pin, data_home, tmp_path):
    # The standard-library opener end to end, on a file:// URL.
    source = tmp_path / "mirror" / NAME
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    pin("mnist", NAME, SHA, urls=[source.as_uri()])
    fetch("mnist", NAME, download=True)
    assert (data_home / "mnist" / NAME).read_bytes() == PAYLOAD


def test_offline_without_download_touches_no_network(serve, pin, data_home):
    pin("mnist", NAME, SHA, urls=["https://a.example/f"])
    asked = serve({"https://a.example/f": lambda: FakeResponse(PAYLOAD)})
    with pytest.raises(FileNotFoundError, match=r"https://a\.example/f"):
        fetch("mnist", NAME)
    assert asked == []


def test_load_mnist_downloads_only_the_subset_files(serve, pin, data_home, capsys):
    files = {
        "t10k-images-idx3-ubyte.gz": np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        "t10k-labels-idx1-ubyte.gz": np.array([5, 6], dtype=np.uint8),
    }
    routes = {}
    for name, array in files.items():
        blob = gzip.compress(idx_bytes(array))
        url = f"https://mirror.example/{name}"
        pin("mnist", name, hashlib.sha256(blob).hexdigest(), urls=[url])
        routes[url] = lambda blob=blob: FakeResponse(blob)
    asked = serve(routes)

    bunch = load_mnist(subset="test", download=True)

    np.testing.assert_array_equal(bunch.images, files["t10k-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(bunch.target, [5, 6])
    assert sorted(asked) == sorted(routes)
    assert sorted(os.listdir(data_home / "mnist")) == sorted(files)
    err = capsys.readouterr().err
    assert all(name in err for name in files)
