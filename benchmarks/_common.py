"""Shared pieces of the benchmark scripts: data, machine facts, timing, memory.

Benchmarks use the real image files in ``../shared/data`` beside the
repository (or the folder named by ``SKCV_BENCH_DATA``) when they are there,
and otherwise fall back to arrays of the same shape, saying which they used.
"""

import datetime
import os
import platform
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def data_dir():
    """Folder holding ``mnist_train.npz`` and friends, or None."""
    env = os.environ.get("SKCV_BENCH_DATA")
    folder = Path(env) if env else REPO.parent / "shared" / "data"
    return folder if folder.is_dir() else None


def _load_npz(name):
    folder = data_dir()
    if folder is None or not (folder / name).exists():
        return None
    with np.load(folder / name) as d:
        return d["X"], d["y"]


def load_mnist(n_train=60_000, n_test=10_000):
    """MNIST as uint8 images: (X_train, y_train, X_test, y_test, source).

    Falls back to uniformly random uint8 images of the MNIST shape with random
    labels, which time the same work but have no accuracy to speak of.
    """
    train, test = _load_npz("mnist_train.npz"), _load_npz("mnist_test.npz")
    if train is not None and test is not None:
        return (
            train[0][:n_train],
            train[1][:n_train],
            test[0][:n_test],
            test[1][:n_test],
            "MNIST (shared/data)",
        )
    rng = np.random.default_rng(0)
    return (
        rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_train),
        rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, n_test),
        "synthetic uint8 arrays of MNIST shape (shared/data absent)",
    )


def load_cifar10(n=10_000, seed=0):
    """CIFAR-10 test images, shuffled with a fixed seed: (X, y, source)."""
    data = _load_npz("cifar10_test_jpeg.npz")
    if data is not None:
        order = np.random.default_rng(seed).permutation(len(data[1]))[:n]
        return data[0][order], data[1][order], "CIFAR-10 test JPEG (shared/data)"
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8),
        rng.integers(0, 10, n),
        "synthetic uint8 arrays of CIFAR-10 shape (shared/data absent)",
    )


def load_digits_images():
    """sklearn's 8x8 digits as uint8-range float images: (X, y, source)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target, "sklearn digits (8x8)"


def print_header(title):
    """Print the title, date, machine and BLAS configuration."""
    from threadpoolctl import threadpool_info

    print(f"# {title}")
    print(f"date: {datetime.date.today().isoformat()}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}"
    )
    for pool in threadpool_info():
        print(
            f"threadpool: {pool.get('internal_api')} {pool.get('version')} "
            f"({pool.get('architecture', '?')}), {pool.get('num_threads')} threads"
        )
    print()


def best_time(fn, *, repeat=3):
    """Best wall time over ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def best_times(fn, repeat=3):
    """Best wall time and best CPU time of this process over ``repeat`` calls.

    CPU time counts the work done and any spinning of the threads, not the
    waits for cores that other jobs hold, so it is the steadier of the two on
    a shared machine; for single-threaded work it is the cost itself.
    """
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


@contextmanager
def traced_memory():
    """Measure the peak of memory allocated through Python (numpy included).

    Yields a dict whose ``"peak_mib"`` is filled in on exit.
    """
    out = {}
    tracemalloc.start()
    try:
        yield out
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["peak_mib"] = peak / 2**20


def markdown_table(header, rows):
    """Render rows as a GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
