"""Augmentation: throughput of ImageAugmenter, and what it does to test accuracy.

Run from the repository root::

    .venv/bin/python benchmarks/bench_augment.py           # full run, ~3 minutes
    .venv/bin/python benchmarks/bench_augment.py --quick   # smaller arrays

Side by side in one process, on the same arrays:

- throughput of flip + shift (up to 2 pixels) + rotation (up to 10 degrees)
  on 10,000 MNIST-sized (28 x 28) and 10,000 CIFAR-sized (32 x 32 x 3) uint8
  images, with the compiled kernel on all threads and on one thread, against
  a per-image loop of ``np.fliplr`` + ``scipy.ndimage.rotate`` +
  ``scipy.ndimage.shift`` (``order=1``, ``reshape=False``) doing the same
  work; the loop is timed on the first 1,000 images and scaled by 10;
- test accuracy on the full MNIST test split (10,000 images) of SoftmaxLinear
  and HingeLinear trained on random subsets of 1,000 and 10,000 MNIST training
  images, without augmentation, with two offline presets (4 copies per image)
  and online (one fresh copy per image each epoch). Digits are never
  mirrored, so the presets have no flip.
"""

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np
import scipy.ndimage as ndi
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    best_time,
    load_cifar10,
    load_mnist,
    markdown_table,
    print_header,
)

from skcv import (
    AugmentedClassifier,
    HingeLinear,
    ImageAugmenter,
    PixelFlatten,
    SoftmaxLinear,
)

MAX_SHIFT, MAX_ROTATION = 2, 10.0
MAX_ITER = 50


def _fmt(seconds):
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


def scipy_loop(images, flips, shifts, angles):
    """The same flip, rotation and shift, one image at a time with scipy."""
    out = np.empty_like(images)
    extra = (0,) * (images.ndim - 3)  # no shift along the channel axis
    for k, image in enumerate(images):
        if flips[k]:
            image = image[:, ::-1]
        image = ndi.rotate(image, angles[k], reshape=False, order=1, axes=(1, 0))
        out[k] = ndi.shift(image, (*shifts[k], *extra), order=1)
    return out


def _compiled_augmenter(images):
    """The benchmarked augmenter, its kernels compiled outside the timing."""
    augmenter = ImageAugmenter(
        flip=True,
        max_shift=MAX_SHIFT,
        max_rotation=MAX_ROTATION,
        keep_original=False,
        random_state=0,
    )
    labels = np.zeros(len(images), dtype=int)
    augmenter.fit_resample(images[:8], labels[:8])
    return augmenter, labels


def throughput(name, images, *, n_loop, repeat):
    augmenter, labels = _compiled_augmenter(images)

    rows = []
    threads = numba.get_num_threads()
    for n_threads in sorted({threads, 1}, reverse=True):
        numba.set_num_threads(n_threads)
        seconds, _ = best_time(
            lambda: augmenter.fit_resample(images, labels), repeat=repeat
        )
        rows.append((f"ImageAugmenter, {n_threads} thread(s)", seconds))
    numba.set_num_threads(threads)

    rng = np.random.default_rng(0)
    flips = rng.random(n_loop) < 0.5
    shifts = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(n_loop, 2))
    angles = rng.uniform(-MAX_ROTATION, MAX_ROTATION, n_loop)
    loop_seconds, _ = best_time(
        lambda: scipy_loop(images[:n_loop], flips, shifts, angles), repeat=2
    )
    scaled = loop_seconds * len(images) / n_loop
    rows.append(
        (f"scipy.ndimage loop ({n_loop} images, x{len(images) / n_loop:g})", scaled)
    )

    table = [
        (label, _fmt(sec), f"{len(images) / sec:,.0f}", f"{scaled / sec:.1f}x")
        for label, sec in rows
    ]
    print(f"## Throughput, {len(images):,} images of shape {images.shape[1:]} ({name})")
    print()
    print(markdown_table(["method", "time", "images/s", "speed-up vs loop"], table))
    print()


def cv2_loop(images, maps):
    """The same flip + shift + rotation with cv2.warpAffine, one image at a time.

    One combined 2 x 3 matrix per image, bilinear, zero border. ``maps`` are
    skcv's inverse maps (row, column order); cv2 takes the inverse map in
    (x, y) order with ``WARP_INVERSE_MAP``.
    """
    import cv2

    height, width = images.shape[1:3]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    out = np.empty_like(images)
    matrix = np.empty((2, 3))
    for k in range(len(images)):
        m = maps[k]
        matrix[0] = m[4], m[3], m[5]
        matrix[1] = m[1], m[0], m[2]
        cv2.warpAffine(
            images[k],
            matrix,
            (width, height),
            dst=out[k],
            flags=flags,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return out


def _spaced_calls(fn, n_calls, rng):
    """Wall times of calls that each follow an idle pause of 0.1-0.5 s."""
    times = []
    for pause in rng.uniform(0.1, 0.5, n_calls):
        time.sleep(pause)
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return np.array(times)


def cv2_section(name, images, *, repeat, n_spaced):
    """skcv against a cv2.warpAffine loop at one thread each; 2 threads vs 1."""
    import cv2

    from skcv._transforms import affine_maps, warp

    augmenter, labels = _compiled_augmenter(images)
    rng = np.random.default_rng(0)
    n = len(images)
    maps = affine_maps(
        n,
        images.shape[1:],
        flip=rng.random(n) < 0.5,
        shift=rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(n, 2)),
        angle=rng.uniform(-MAX_ROTATION, MAX_ROTATION, n),
    )
    ours = warp(images, maps)
    theirs = cv2_loop(images, maps)
    diff = np.abs(ours.astype(np.int16) - theirs)

    threads = numba.get_num_threads()
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    best, cpu = {}, {}
    try:
        for _ in range(repeat):
            for label, n_threads, fn in [
                ("cv2", 1, lambda: cv2_loop(images, maps)),
                ("skcv warp", 1, lambda: warp(images, maps)),
                (
                    "skcv fit_resample",
                    1,
                    lambda: augmenter.fit_resample(images, labels),
                ),
                (
                    "skcv fit_resample",
                    2,
                    lambda: augmenter.fit_resample(images, labels),
                ),
            ]:
                numba.set_num_threads(min(n_threads, threads))
                c0 = time.process_time()
                t, _ = best_time(fn, repeat=1)
                c = time.process_time() - c0
                key = (label, n_threads)
                best[key] = min(best.get(key, float("inf")), t)
                cpu[key] = min(cpu.get(key, float("inf")), c)
        spaced = {}
        for n_threads in (1, 2, 1, 2):
            numba.set_num_threads(min(n_threads, threads))
            times = _spaced_calls(
                lambda: augmenter.fit_resample(images, labels),
                n_spaced,
                np.random.default_rng(n_threads),
            )
            spaced[n_threads] = np.concatenate([spaced.get(n_threads, []), times])
    finally:
        numba.set_num_threads(threads)
        cv2.setNumThreads(cv2_threads)

    t_cv2, c_cv2 = best["cv2", 1], cpu["cv2", 1]
    rows = [
        [
            f"{label}, {n_threads} thread(s)",
            _fmt(t),
            f"{n / t:,.0f}",
            f"{t_cv2 / t:.2f}x",
            _fmt(cpu[label, n_threads]),
            f"{c_cv2 / cpu[label, n_threads]:.2f}x",
        ]
        for (label, n_threads), t in best.items()
    ]
    print(f"## Against OpenCV, {n:,} images of shape {images.shape[1:]} ({name})\n")
    print(
        f"flip + shift <= {MAX_SHIFT} + rotation <= {MAX_ROTATION:g} degrees, "
        f"bilinear, zero border; best of {repeat} alternating runs; one thread "
        f"each (cv2.setNumThreads(1), numba.set_num_threads(1)) unless said. "
        f"Load average {os.getloadavg()[0]:.1f}.\n"
    )
    print(
        markdown_table(
            [
                "method",
                "time",
                "images/s",
                "speed-up vs cv2",
                "CPU time",
                "CPU speed-up",
            ],
            rows,
        )
    )
    s1, s2 = spaced[1], spaced[2]
    print(
        f"\n2 threads / 1 thread, fit_resample back to back (best of {repeat}): "
        f"{best['skcv fit_resample', 1] / best['skcv fit_resample', 2]:.2f}x; "
        f"after idle pauses of 0.1-0.5 s ({len(s1)} calls each, alternating "
        f"blocks): median {np.median(s1) * 1e3:.1f} ms vs "
        f"{np.median(s2) * 1e3:.1f} ms, {np.median(s1) / np.median(s2):.2f}x; "
        f"best {s1.min() * 1e3:.1f} vs {s2.min() * 1e3:.1f} ms, "
        f"{s1.min() / s2.min():.2f}x (goal >= 1.6x)."
    )
    print(
        f"\nPixels against cv2 on identical maps: {np.mean(diff == 0):.4%} equal, "
        f"{np.mean(diff <= 1):.4%} within one grey level, largest difference "
        f"{diff.max()}.\n",
        flush=True,
    )


def accuracy(sizes, *, quick):
    X_train, y_train, X_test, y_test, source = load_mnist()
    print(f"## Test accuracy ({source}, {len(y_test):,} test images)")
    print()
    presets = {
        "none": {"augmenter": None},
        "shift 1 + rotation 10, 4 copies": {
            "augmenter": ImageAugmenter(max_shift=1, max_rotation=10, n_copies=4)
        },
        "shift 2 + rotation 10, 4 copies": {
            "augmenter": ImageAugmenter(max_shift=2, max_rotation=10, n_copies=4)
        },
        "online: shift 1 + rotation 10, fresh copy each epoch": {
            "augmenter": ImageAugmenter(max_shift=1, max_rotation=10),
            "online": True,
            "max_epochs": MAX_ITER,
            "tol": None,
        },
    }
    models = {"SoftmaxLinear": SoftmaxLinear, "HingeLinear": HingeLinear}
    rows = []
    for size in sizes:
        subset = np.random.default_rng(0).permutation(len(y_train))[:size]
        X, y = X_train[subset], y_train[subset]
        for model_name, model in models.items():
            estimator = make_pipeline(
                PixelFlatten(rescale=True), model(max_iter=MAX_ITER, random_state=0)
            )
            baseline = None
            for preset, params in presets.items():
                clf = AugmentedClassifier(estimator, random_state=0, **params)
                t0 = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    clf.fit(X, y)
                seconds = time.perf_counter() - t0
                score = clf.score(X_test, y_test)
                baseline = score if baseline is None else baseline
                rows.append(
                    (
                        f"{size:,}",
                        model_name,
                        preset,
                        f"{score:.4f}",
                        f"{100 * (score - baseline):+.2f}",
                        _fmt(seconds),
                    )
                )
                print(" | ".join(rows[-1]), flush=True)
    print()
    print(
        markdown_table(
            [
                "train images",
                "model",
                "augmentation",
                "test accuracy",
                "vs none (points)",
                "fit time",
            ],
            rows,
        )
    )
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller arrays")
    parser.add_argument(
        "--peers-only", action="store_true", help="only the comparison with OpenCV"
    )
    args = parser.parse_args()

    n_images = 2_000 if args.quick else 10_000
    n_loop = 200 if args.quick else 1_000
    sizes = [1_000] if args.quick else [1_000, 10_000]

    print_header("Augmentation (benchmarks/bench_augment.py)")
    print(
        f"load average (1 min) at start: {os.getloadavg()[0]:.1f}; "
        f"numba {numba.__version__}, {numba.get_num_threads()} threads; "
        f"preset for throughput: flip, max_shift={MAX_SHIFT}, "
        f"max_rotation={MAX_ROTATION}"
    )
    print()
    mnist, *_, mnist_source = load_mnist(n_train=n_images, n_test=1)
    cifar, _, cifar_source = load_cifar10(n=n_images)
    n_spaced = 5 if args.quick else 10
    cv2_section(mnist_source, mnist, repeat=5, n_spaced=n_spaced)
    cv2_section(cifar_source, cifar, repeat=5, n_spaced=n_spaced)
    if args.peers_only:
        return
    throughput(mnist_source, mnist, n_loop=n_loop, repeat=3)
    throughput(cifar_source, cifar, n_loop=n_loop, repeat=3)
    accuracy(sizes, quick=args.quick)


if __name__ == "__main__":
    main()
