"""HOG and hue-histogram features: speed against scikit-image, and what they buy.

1. Speed. ``HOGFeatures()`` plus ``ColorHistogram()`` (10 hue bins) on 10,000
   CIFAR-sized images, against the per-image loop of ``skimage.feature.hog``
   plus matplotlib's ``rgb_to_hsv`` and ``np.histogram``, both on one thread,
   alternated, best of the repeats; the outputs are compared.
2. Accuracy. On a stratified 8,000 / 2,000 split of the shuffled CIFAR-10 test
   images: SoftmaxLinear, HingeLinear, NeuralNet and (for reference)
   LogisticRegression on standardised raw pixels against standardised HOG +
   hue features.

Run ``python benchmarks/bench_features.py`` (several minutes, most of it the
reference loop and LogisticRegression on pixels) or ``--quick`` (2,000
images, under a minute); ``--models NeuralNet --no-speed`` runs one row of
the accuracy table alone.
"""

import argparse
import time
import warnings

import numpy as np
from _common import load_cifar10, markdown_table, print_header
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skcv import HingeLinear, NeuralNet, PixelFlatten, SoftmaxLinear
from skcv.features import ColorHistogram, HOGFeatures

# The HOG of the course: 9 orientations on 8x8 cells; each cell normalised on
# its own (scikit-image has no "no normalisation"), and skcv's default, 3x3
# blocks.
HOG_SETTINGS = {
    "cells 8x8, blocks 1x1": {"pixels_per_cell": (8, 8), "cells_per_block": (1, 1)},
    "cells 8x8, blocks 3x3 (default)": {},
}


def speed(X, repeat):
    print(f"## Speed: {len(X)} images of shape {X.shape[1:]}, 1 thread\n")
    hog, hue = HOGFeatures(), ColorHistogram(bins=10)
    hog.fit(X[:1])
    hue.fit(X[:1])
    params = {
        "orientations": hog.orientations,
        "pixels_per_cell": hog.pixels_per_cell,
        "cells_per_block": hog.cells_per_block,
        "block_norm": hog.block_norm,
    }
    hog.transform(X[:10]), hue.transform(X[:10])  # compile outside the timing
    best = {"skcv": np.inf, "reference": np.inf}
    parts = {"skcv": [np.inf, np.inf], "reference": [np.inf, np.inf]}
    for _ in range(repeat):
        for name in ("skcv", "reference"):
            t0 = time.perf_counter()
            if name == "skcv":
                hogs = hog.transform(X)
                t1 = time.perf_counter()
                hues = hue.transform(X)
            else:
                from matplotlib.colors import rgb_to_hsv
                from skimage.feature import hog as sk_hog

                ref_hogs = np.stack([sk_hog(x, channel_axis=-1, **params) for x in X])
                t1 = time.perf_counter()
                ref_hues = np.stack(
                    [
                        np.histogram(
                            rgb_to_hsv(x / 255.0)[..., 0], bins=10, range=(0, 1)
                        )[0]
                        for x in X
                    ]
                )
            t2 = time.perf_counter()
            best[name] = min(best[name], t2 - t0)
            parts[name][0] = min(parts[name][0], t1 - t0)
            parts[name][1] = min(parts[name][1], t2 - t1)
    hog_diff = float(np.abs(hogs - ref_hogs).max())
    hue_equal = bool(np.array_equal(hues, ref_hues))
    rows = [
        [
            name,
            f"{parts[name][0]:.3f}",
            f"{parts[name][1]:.3f}",
            f"{best[name]:.3f}",
            f"{len(X) / best[name]:,.0f}",
        ]
        for name in ("skcv", "reference")
    ]
    print(
        markdown_table(
            ["", "HOG (s)", "hue histogram (s)", "total (s)", "images/s"], rows
        )
    )
    print(
        f"\nspeed-up: {best['reference'] / best['skcv']:.1f}x in total "
        f"(HOG {parts['reference'][0] / parts['skcv'][0]:.1f}x, hue histogram "
        f"{parts['reference'][1] / parts['skcv'][1]:.1f}x); "
        f"max |HOG difference| = {hog_diff:.1e}, hue histograms equal: {hue_equal}\n"
    )


def _models():
    return {
        "SoftmaxLinear": SoftmaxLinear(random_state=0),
        "HingeLinear": HingeLinear(random_state=0),
        "LogisticRegression": LogisticRegression(max_iter=1000),
        "NeuralNet": NeuralNet(random_state=0),
    }


def accuracy(X, y, model_names=None):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    print(
        f"## Accuracy: {len(X_train)} training / {len(X_test)} test images, "
        f"stratified\n"
    )
    inputs = {"raw pixels": PixelFlatten(rescale=True)}
    for name, params in HOG_SETTINGS.items():
        inputs[f"HOG ({name}) + hue"] = make_union(
            HOGFeatures(**params), ColorHistogram(bins=10)
        )
    rows = []
    scores = {}
    for model_name in model_names or _models():
        row = [model_name]
        for input_name, features in inputs.items():
            model = make_pipeline(features, StandardScaler(), _models()[model_name])
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train, y_train)
            seconds = time.perf_counter() - t0
            score = model.score(X_test, y_test)
            scores[model_name, input_name] = score
            n_features = model[:-2].transform(X_train[:1]).shape[1]
            row.append(f"{score:.4f} ({seconds:.1f} s, {n_features} features)")
        rows.append(row)
    print(markdown_table(["model", *inputs], rows))
    print()
    for model_name in model_names or _models():
        pixels = scores[model_name, "raw pixels"]
        for input_name in list(inputs)[1:]:
            gain = 100 * (scores[model_name, input_name] - pixels)
            print(f"{model_name}: {input_name} - raw pixels = {gain:+.1f} points")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 images")
    parser.add_argument(
        "--models",
        type=lambda text: text.split(","),
        help=f"comma-separated subset of {', '.join(_models())} (default: all)",
    )
    parser.add_argument(
        "--no-speed", action="store_true", help="only the accuracy table"
    )
    args = parser.parse_args(argv)
    unknown = set(args.models or ()) - set(_models())
    if unknown:
        parser.error(f"unknown models: {', '.join(sorted(unknown))}")
    n = 2_000 if args.quick else 10_000
    print_header("bench_features: HOG + hue histogram")
    X, y, source = load_cifar10(n=n)
    print(f"data: {source}\n")
    if not args.no_speed:
        with threadpool_limits(1):
            speed(X, repeat=2 if args.quick else 3)
    accuracy(X, y, args.models)


if __name__ == "__main__":
    main()
