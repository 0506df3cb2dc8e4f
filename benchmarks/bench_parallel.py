"""One grid search run three ways: in this process, on loky, on Dask.

The same ``GridSearchCV`` (5-fold, no refit) over ``SoftmaxLinear`` (alpha x
learning_rate_init, 3 x 3) and ``NearestNeighbor`` (n_neighbors 1..10) runs
with ``n_jobs=1``, with joblib's default loky backend and ``n_jobs=2``, and on
a Dask ``LocalCluster`` of 2 single-threaded workers (``skcv.parallel.
dask_backend``), on the digits and on 10,000 MNIST images. The Dask overheads
are measured apart: cluster start-up, the first (cold) search on fresh
workers, the latency of empty tasks and the time to broadcast X.

Run ``.venv/bin/python benchmarks/bench_parallel.py`` (about 5 minutes on 2
cores) or with ``--quick`` (digits only, smaller grids, about a minute).
"""

import argparse
import time
import warnings
from functools import partial

import numpy as np
from _common import (
    best_time,
    load_digits_images,
    load_mnist,
    markdown_table,
    print_header,
)
from joblib import Parallel, delayed, parallel_config
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import NearestNeighbor, PixelFlatten, SoftmaxLinear
from skcv.parallel import dask_backend

N_WORKERS = 2
MODES = ("n_jobs=1", "loky n_jobs=2", f"dask {N_WORKERS} workers")


def searches(quick):
    """(name, estimator, grid) of the searches, as ``skcv run`` builds them."""
    # max_iter=10 keeps a fit near a second on 8,000 MNIST images; the
    # command line's default of 100 epochs costs 10x more per fit.
    softmax = make_pipeline(
        PixelFlatten(), StandardScaler(), SoftmaxLinear(max_iter=10, random_state=0)
    )
    knn = make_pipeline(PixelFlatten(), NearestNeighbor())
    if quick:
        return [
            (
                "softmax 2x2",
                softmax,
                {
                    "softmaxlinear__alpha": [1e-4, 1e-2],
                    "softmaxlinear__learning_rate_init": [1e-3, 1e-2],
                },
            ),
            ("knn k=1,3,5", knn, {"nearestneighbor__n_neighbors": [1, 3, 5]}),
        ]
    return [
        (
            "softmax 3x3",
            softmax,
            {
                "softmaxlinear__alpha": [1e-4, 1e-3, 1e-2],
                "softmaxlinear__learning_rate_init": [1e-3, 1e-2, 1e-1],
            },
        ),
        ("knn k=1..10", knn, {"nearestneighbor__n_neighbors": list(range(1, 11))}),
    ]


def grid_search(estimator, grid, n_jobs):
    cv = KFold(5, shuffle=True, random_state=0)
    # No refit: it is one serial fit whatever the backend.
    return GridSearchCV(estimator, grid, cv=cv, n_jobs=n_jobs, refit=False)


def run_search(mode, estimator, grid, X, y):
    """Fit the search in ``mode``; called inside ``dask_backend``."""
    if mode.startswith("dask"):
        return grid_search(estimator, grid, -1).fit(X, y)
    # The dask backend ignores n_jobs, so the other modes leave it explicitly.
    with parallel_config(backend="loky"):
        return grid_search(estimator, grid, 1 if mode == "n_jobs=1" else 2).fit(X, y)


def _noop(i):
    return i


def task_latency(client, n_tasks=400):
    """Seconds per empty joblib task on loky and on the cluster."""

    def empty_tasks():
        return Parallel(n_jobs=2)(delayed(_noop)(i) for i in range(n_tasks))

    out = {}
    with parallel_config(backend="loky"):
        empty_tasks()
        out[MODES[1]] = best_time(empty_tasks)[0] / n_tasks
    empty_tasks()
    out[MODES[2]] = best_time(empty_tasks)[0] / n_tasks
    # One fit per task, no batching: the scheduler's round trip.
    futures = client.map(_noop, range(n_tasks), pure=False)
    client.gather(futures)
    t0 = time.perf_counter()
    client.gather(client.map(_noop, range(n_tasks), pure=False))
    out["dask client.map (1 task each)"] = (time.perf_counter() - t0) / n_tasks
    return out


def compare(datasets, quick):
    rows, fit_rates = [], {}
    for data_name, X, y, repeat in datasets:
        for search_name, estimator, grid in searches(quick):
            n_fits = 5 * int(np.prod([len(v) for v in grid.values()]))
            times = dict.fromkeys(MODES, float("inf"))
            scores = {}
            for _ in range(repeat):
                # Modes interleaved, so that load from elsewhere hits each alike.
                for mode in MODES:
                    t, search = best_time(
                        partial(run_search, mode, estimator, grid, X, y), repeat=1
                    )
                    times[mode] = min(times[mode], t)
                    scores[mode] = search.cv_results_["mean_test_score"]
            serial, loky, dask_t = (times[m] for m in MODES)
            delta = max(np.abs(scores[m] - scores[MODES[0]]).max() for m in MODES)
            rows.append(
                [
                    data_name,
                    search_name,
                    n_fits,
                    f"{serial:.2f}",
                    f"{loky:.2f}",
                    f"{dask_t:.2f}",
                    f"{serial / loky:.2f}",
                    f"{serial / dask_t:.2f}",
                    f"{loky / dask_t:.2f}",
                    f"{delta:.1e}",
                ]
            )
            fit_rates[(data_name, search_name)] = 60 * n_fits / (dask_t * N_WORKERS)
            print(
                f"  {data_name:7s} {search_name:12s} "
                + "  ".join(f"{m}: {times[m]:.2f}s" for m in MODES),
                flush=True,
            )
    header = [
        "data",
        "search",
        "fits",
        "n_jobs=1 (s)",
        "loky 2 (s)",
        "dask 2x1 (s)",
        "speed-up loky",
        "speed-up dask",
        "loky / dask",
        "max |Δ score|",
    ]
    return markdown_table(header, rows), fit_rates


def paper_estimate(fit_rates, n_train_measured):
    """Hours for ``skcv run --dataset mnist`` with its default grid on N workers.

    The default grid: k-NN 10 points, softmax 12, hinge 12, each without and
    with augmentation (one shifted copy per image, doubling the training
    rows), 5 folds: 340 fits, then one refit per model and the test
    predictions, which run in the client, one after the other.
    """
    knn_rate = fit_rates.get(("MNIST", "knn k=1..10"))
    lin_rate = fit_rates.get(("MNIST", "softmax 3x3"))
    if knn_rate is None or lin_rate is None:
        return None
    # Seconds per fit on one single-threaded worker, scaled from the measured
    # folds (n_train_measured training rows) to the command's 48,000
    # (60,000 x 4/5): k-NN scores queries x training rows, so grows with the
    # square; SGD with the rows, and runs 100 epochs instead of 10.
    scale = 48_000 / n_train_measured
    knn_s = 60 / knn_rate * scale**2
    lin_s = 60 / lin_rate * scale * 10
    plain = 10 * knn_s + 24 * lin_s  # one fold, no augmentation
    work = 5 * 3 * plain  # 5 folds; augmented fits cost about twice
    longest = 2 * max(knn_s, lin_s)
    # Client side: refitting the 2 linear models on 120,000 augmented rows,
    # and k-NN's 10,000 test queries against 120,000 rows.
    serial = 2 * 2 * 1.25 * lin_s + 2 * (10_000 * 120_000) / (12_000 * 48_000) * knn_s
    rows = []
    for n in (1, 2, 4, 8, 16, 32, 64, 128):
        # Fits are whole tasks: the search ends between the perfect split and
        # the list-scheduling bound (perfect split plus the longest fit).
        low, high = max(work / n, longest), work / n + longest
        rows.append(
            [
                n,
                f"{340 / (work / n) * 3600:.0f}",
                f"{low / 3600:.2f} - {high / 3600:.2f}",
                f"{(low + serial) / 3600:.2f} - {(high + serial) / 3600:.2f}",
                f"{(work + serial) / (high + serial):.1f} - "
                f"{(work + serial) / (low + serial):.1f}",
            ]
        )
    header = ["workers", "fits / hour", "search (h)", "with refits (h)", "speed-up"]
    return (
        f"one fit on one worker: k-NN {knn_s:.0f} s, linear {lin_s:.0f} s "
        f"(48,000 rows, no augmentation); search work {work / 3600:.1f} "
        f"worker-hours; serial refits and test {serial / 3600:.2f} h"
        f"\n\n{markdown_table(header, rows)}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits only")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    print_header("Parallel grid search: n_jobs=1 vs loky vs Dask LocalCluster")
    images, target, source = load_digits_images()
    datasets = [("digits", images, target, 1 if args.quick else 3)]
    n_mnist = 10_000
    if not args.quick:
        X, y, _, _, source_mnist = load_mnist(n_train=n_mnist, n_test=0)
        datasets.append(("MNIST", X, y, 1))
        source += f"; {source_mnist}, first {n_mnist} training images"
    print(f"data: {source}\n")

    t0 = time.perf_counter()
    with dask_backend("local", n_workers=N_WORKERS, blas_threads=1) as client:
        start_up = time.perf_counter() - t0
        # The first search on fresh workers: imports, numba compilation (or
        # loading its on-disk cache), first transfer of the data.
        estimator, grid = searches(True)[1][1:]
        knn_digits = partial(run_search, MODES[2], estimator, grid, images, target)
        cold, _ = best_time(knn_digits, repeat=1)
        warm, _ = best_time(knn_digits, repeat=1)
        # Warm this process and loky's workers too (numba kernels compiled or
        # loaded from their cache), so that every mode is compared warm.
        for mode in MODES[:2]:
            for _, estimator, grid in searches(True):
                run_search(mode, estimator, grid, images, target)
        print("searches (best wall time):")
        table, fit_rates = compare(datasets, args.quick)
        latency = task_latency(client)
        X_big = datasets[-1][1]
        t1 = time.perf_counter()
        client.scatter(X_big, broadcast=True, hash=False)
        scatter_s = time.perf_counter() - t1
        t1 = time.perf_counter()
    close_s = time.perf_counter() - t1

    print()
    print(table)
    print()
    print(
        markdown_table(
            ["Dask overhead", "seconds"],
            [
                [f"LocalCluster start ({N_WORKERS} workers)", f"{start_up:.2f}"],
                ["LocalCluster close", f"{close_s:.2f}"],
                ["first k-NN digits search on fresh workers", f"{cold:.2f}"],
                ["same search, warm workers", f"{warm:.2f}"],
                *(
                    [f"per empty task, {mode}", f"{t * 1e3:.2f} ms"]
                    for mode, t in latency.items()
                ),
                [
                    f"broadcast X ({X_big.nbytes / 2**20:.1f} MiB) to the workers",
                    f"{scatter_s:.3f}",
                ],
            ],
        )
    )
    estimate = paper_estimate(fit_rates, n_mnist * 4 // 5)
    if estimate:
        print("\nskcv run --dataset mnist, default grid (340 fits), on paper:\n")
        print(estimate)


if __name__ == "__main__":
    main()
