"""The main job at scale: ``skcv run`` on MNIST and a CIFAR-10 time prediction.

Three parts, each running ``skcv run`` in a subprocess with ``--n-jobs 2``:

- ``full``: all 60,000 MNIST training images, the official test set, default
  grids and search: the wall time and each model's choice and test accuracy;
- ``compare``: 20,000 MNIST training images (``--max-train 20000``) with the
  exhaustive ``--search grid`` and with ``--search halving``, alternated:
  wall times, chosen parameters and test accuracy of both;
- ``cifar``: the 10,000 CIFAR-10 images we have (8,000 for training) with
  ``--search halving``; from its measured per-fit costs, the predicted time
  of the same run on CIFAR-10's 50,000 training images (k-NN costs grow with
  the square of the rows, the linear models' linearly).

``--quick`` times the digits demo (``skcv run`` with defaults, one process,
as ``make demo`` runs it) and compares the two searches on 3,000 MNIST
images. Usage::

    python benchmarks/bench_main_job.py [--quick] [--only full,compare,cifar]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import data_dir, markdown_table, print_header

N_JOBS = "2"


def _skcv(args, out, n_jobs=N_JOBS):
    """Run ``skcv run`` with ``args``; wall time, results.json and load average."""
    args = [*args, "--n-jobs", n_jobs] if n_jobs else list(args)
    command = [sys.executable, "-m", "skcv", "run", *args, "--out", str(out),
               "--no-progress"]  # fmt: skip
    load = os.getloadavg()[0]
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr}")
    results = json.loads((Path(out) / "results.json").read_text())
    return {
        "wall": wall,
        "results": results,
        "load": (load, os.getloadavg()[0]),
        "command": "skcv run " + " ".join(args),
    }


def _params(model):
    shown = {
        key: ("off" if value is None else "on") if key == "augmenter" else value
        for key, value in model["best_params"].items()
    }
    return ", ".join(f"{key}={value}" for key, value in shown.items())


def _report(title, runs):
    print(f"## {title}\n")
    rows = []
    for name, run in runs.items():
        for model, result in run["results"]["models"].items():
            rows.append([name, model, _params(result),
                         f"{result['best_cv_mean']:.4f}",
                         f"{result['test_accuracy']:.4f}",
                         f"{result['timings']['search']:.0f}"])  # fmt: skip
        rows.append([name, "**whole run**", "", "", "",
                     f"**{run['wall']:.0f}** (load {run['load'][0]:.1f} -> "
                     f"{run['load'][1]:.1f})"])  # fmt: skip
    print(markdown_table(["run", "model", "chosen parameters", "CV accuracy",
                          "test accuracy", "search (s)"], rows))  # fmt: skip
    for name, run in runs.items():
        print(f"\n{name}: `{run['command']}`")
    print()


def _mnist_paths():
    folder = data_dir()
    if folder is None or not (folder / "mnist_train.npz").exists():
        return None
    return str(folder / "mnist_train.npz"), str(folder / "mnist_test.npz")


def full(tmp):
    paths = _mnist_paths()
    if paths is None:
        print("full: MNIST files absent; skipped\n")
        return
    run = _skcv(["--dataset", paths[0], "--test-dataset", paths[1]], tmp / "full")
    _report("All 60,000 MNIST training images, default search", {"default": run})


def compare(tmp, n_train):
    paths = _mnist_paths()
    if paths is None:
        print("compare: MNIST files absent; skipped\n")
        return
    runs = {}
    for search in ("halving", "grid"):
        args = ["--dataset", paths[0], "--test-dataset", paths[1],
                "--max-train", str(n_train), "--search", search]  # fmt: skip
        runs[search] = _skcv(args, tmp / search)
    _report(f"{n_train} MNIST training images: halving vs exhaustive grid", runs)


def _unit_costs(results):
    """Measured seconds of one fold's fit (linear) or neighbour search (k-NN).

    Per model: the cost of one fit on a whole training fold without and with
    augmentation, read from the points scored on the most rows (for k-NN,
    those of the chosen metric).
    """
    units = {}
    for name, model in results["models"].items():
        points = model["cv_results"]
        rows = max(p.get("n_resources", 0) for p in points)
        top = [p for p in points if p.get("n_resources", 0) == rows]
        n_train = results["dataset"]["n_train"]
        scale = n_train / rows if rows else 1.0
        cost = {}
        for state in (False, True):
            chosen = [p for p in top if (p["params"]["augmenter"] is not None) == state]
            if not chosen:
                continue
            if name == "knn":
                # The chosen metric's search: the one scored on all rows at
                # the larger size (L1 costs about 2.5 times L2 here).
                metric = model["best_params"]["metric"]
                same = [p for p in chosen if p["params"]["metric"] == metric] or chosen
                groups = len({p["params"]["metric"] for p in same})
                per_fold = sum(p["mean_fit_time"] + p["mean_score_time"] for p in same)
                cost[state] = per_fold / groups * scale**2
            else:
                cost[state] = np.mean([p["mean_fit_time"] for p in chosen]) * scale
        units[name] = cost
    return units


def predict(results, n_big, n_test_big, dataset):
    """Predicted wall time of the same ``skcv run`` on ``n_big`` training images.

    From the per-fit costs measured in ``results`` (a results.json): one
    fold's neighbour search (k-NN) or fit (linear) on all the training images
    is scaled to ``n_big`` images (squared for k-NN, linearly for the linear
    models) and multiplied by the work the search plans at that size (the
    progress bar's plan, in units of such fits), divided by the 2 workers;
    the refit and the test prediction are scaled alike. Prints a table and
    returns the predicted seconds.
    """
    from skcv._pipeline import (
        MODELS,
        augment_params,
        augmenter_choices,
        build_estimator,
        build_grid,
        build_search,
        search_plan,
    )

    n0 = results["dataset"]["n_train"]
    units = _unit_costs(results)
    shape = tuple(results["dataset"]["image_shape"])
    augmenters = augmenter_choices("auto", augment_params("auto", dataset, shape))
    rows, total = [], 0.0
    for name, model in results["models"].items():
        spec = MODELS[name]
        estimator, prefix = build_estimator(spec)
        grid = build_grid(spec, estimator, prefix, {}, augmenters)
        search = build_search(
            estimator,
            grid,
            cv=5,
            seed=0,
            n_jobs=2,
            spec=spec,
            prefix=prefix,
            strategy="halving",
            n_train=n_big,
        )
        power = 1 if spec.linear else 2
        # A fit on augmented folds costs about twice one without (one copy
        # beside each original); the plan's weights count that factor.
        measured = units[name].get(False, units[name].get(True, 0.0) / 2)
        unit_off = measured * (n_big / n0) ** power
        plan = search_plan(search, n_big, 10)
        fits = sum(count * weight for _, count, weight in plan)
        searching = fits * unit_off / int(N_JOBS)
        refit = model["timings"]["refit"] * n_big / n0
        predicting = model["timings"]["predict"] * n_test_big
        predicting /= results["dataset"]["n_test"]
        if not spec.linear:  # every test image against every training image
            predicting *= n_big / n0
        seconds = searching + refit + predicting
        total += seconds
        rows.append(
            [name, f"{unit_off:.1f}", f"{fits:.1f}", f"{searching:.0f}",
             f"{refit:.0f}", f"{predicting:.0f}", f"{seconds:.0f}"]
        )  # fmt: skip
    header = ["model", f"one fold fit at {n_big} (s)", "fold-fit equivalents",
              "search (s)", "refit (s)", "test predict (s)", "total (s)"]  # fmt: skip
    print(markdown_table(header, rows))
    print(
        f"\npredicted: about {total:.0f} s ({total / 60:.1f} min) on {n_big} "
        f"training and {n_test_big} test images, scaled from the costs "
        f"measured on {n0} training images\n"
    )
    return total


def cifar(tmp):
    folder = data_dir()
    if folder is None or not (folder / "cifar10_test_jpeg.npz").exists():
        print("cifar: CIFAR-10 file absent; skipped\n")
        return
    with np.load(folder / "cifar10_test_jpeg.npz") as data:
        X, y = data["X"], data["y"]
    order = np.random.default_rng(0).permutation(len(y))  # the file is by class
    np.savez(tmp / "cifar10.npz", X=X[order], y=y[order])
    run = _skcv(["--dataset", str(tmp / "cifar10.npz"), "--search", "halving"],
                tmp / "cifar")  # fmt: skip
    _report(f"CIFAR-10, {len(y)} images (80% for training), halving", {"cifar": run})
    print("## Predicted `skcv run` on CIFAR-10 (50,000 training, 10,000 test)\n")
    predict(run["results"], 50_000, 10_000, "cifar10")


def quick(tmp):
    run = _skcv([], tmp / "demo", n_jobs=None)  # what `make demo` runs
    _report("digits demo (`skcv run`, defaults)", {"demo": run})
    compare(tmp, 3000)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", default="full,compare,cifar")
    parser.add_argument("--keep", metavar="DIR", help="keep the reports in DIR")
    parser.add_argument(
        "--predict-from",
        metavar="RESULTS_JSON",
        help="only predict, from this results.json, a run on --n-train images",
    )
    parser.add_argument("--n-train", type=int, default=60_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--dataset", default="mnist", help="its augmentation preset")
    args = parser.parse_args(argv)
    if args.predict_from:
        results = json.loads(Path(args.predict_from).read_text())
        predict(results, args.n_train, args.n_test, args.dataset)
        return 0
    print_header("skcv run at scale")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(args.keep or folder)
        tmp.mkdir(parents=True, exist_ok=True)
        if args.quick:
            quick(tmp)
            return 0
        parts = {p.strip() for p in args.only.split(",")}
        if "cifar" in parts:
            cifar(tmp)
        if "compare" in parts:
            compare(tmp, 20_000)
        if "full" in parts:
            full(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
