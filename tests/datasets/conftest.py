import pytest

from skcv.datasets import _registry


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """A fresh data home per test, also as SKCV_DATA so nothing reaches ~."""
    home = tmp_path / "skcv_data"
    monkeypatch.setenv("SKCV_DATA", str(home))
    return home


@pytest.fixture
def pin(monkeypatch):
    """Replace a registry entry: pin(dataset, filename, sha256, urls=())."""

    def pin(dataset, filename, sha256, urls=("https://example.invalid/f",)):
        entry = _registry.RemoteFile(filename, tuple(urls), sha256)
        monkeypatch.setitem(_registry.REMOTE_FILES[dataset], filename, entry)
        return entry

    return pin
