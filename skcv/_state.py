"""The finished models of ``skcv run``, kept in the output folder for --resume.

Each finished model is written as ``<out>/models/<name>.joblib`` (the fitted
search, its test predictions and timings) beside ``<name>.json``, which
records what it was computed from (a fingerprint of the data, the settings
and the versions) and the SHA-256 of the ``.joblib`` file. Both are written
to a temporary name and renamed, the record last: a crash leaves either no
record or a record whose file checks out. On ``--resume`` a model is reused
only when its record matches the run exactly and its file has the recorded
checksum; otherwise one line says why and the model is computed again.
"""

import hashlib
import json
import os
from pathlib import Path

import joblib
import numpy as np
import sklearn

from . import __version__

FOLDER = "models"


def _digest(path):
    sha = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def data_fingerprint(*arrays):
    """A hash of the arrays' values, shapes and dtypes."""
    return joblib.hash([np.ascontiguousarray(a) for a in arrays])


def _source_digest():
    """SHA-256 of skcv's own modules: a changed module between two runs of
    one version number (a development install) counts as another version."""
    sha = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        sha.update(path.name.encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def fingerprint(*, data, settings, grid):
    """What a stored model must match to be reused, section by section."""
    return {
        "versions": {
            "skcv": __version__,
            "skcv source": _source_digest(),
            "scikit-learn": sklearn.__version__,
        },
        "data": data,
        "settings": settings,
        "grid": grid,
    }


def _write_atomic(path, write):
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save(out, name, record, payload):
    """Store a finished model: the payload first, then its record."""
    folder = Path(out) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    stored = folder / f"{name}.joblib"
    _write_atomic(stored, lambda path: joblib.dump(payload, path))
    record = {**record, "file": stored.name, "sha256": _digest(stored)}
    _write_atomic(
        folder / f"{name}.json",
        lambda path: path.write_text(json.dumps(record, indent=1) + "\n"),
    )


_WHAT = {
    "versions": "another skcv or scikit-learn version",
    "data": "another data set",
    "settings": "other settings",
    "grid": "another grid",
}


def load(out, name, record):
    """The stored payload of ``name`` if it matches ``record``, and a message.

    Returns ``(payload, None)`` when it can be reused, ``(None, message)``
    when something was stored but cannot be, ``(None, None)`` when nothing
    was stored.
    """
    folder = Path(out) / FOLDER
    path = folder / f"{name}.json"
    if not path.exists():
        return None, None
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None, f"{name}: the stored record {path} is unreadable; recomputing"
    differ = [_WHAT[key] for key in _WHAT if stored.get(key) != json_clean(record[key])]
    if differ:
        return None, (
            f"{name}: the stored results in {folder} are for "
            f"{' and '.join(differ)}; recomputing"
        )
    file = folder / str(stored.get("file"))
    if not file.is_file() or _digest(file) != stored.get("sha256"):
        return None, (
            f"{name}: the stored file {file} is missing or incomplete (checksum "
            "mismatch); recomputing"
        )
    try:
        return joblib.load(file), None
    except Exception as exc:  # a damaged pickle: never trusted
        return None, f"{name}: cannot read {file} ({exc}); recomputing"


def json_clean(value):
    """``value`` as it reads back from JSON (tuples as lists, etc.)."""
    return json.loads(json.dumps(value))
