"""Linear models on standardised MNIST: epoch cost, accuracy and fit time.

Side by side in one process, on the same float32 arrays:

1. the floor: the two full products over X an epoch cannot avoid
   (``X @ W.T`` and ``G.T @ X`` with 10 classes), against one epoch of
   SoftmaxLinear / HingeLinear at several batch sizes;
2. epoch time against the number of samples;
3. SoftmaxLinear against ``LogisticRegression()`` (lbfgs);
4. HingeLinear against ``SGDClassifier(loss="hinge", max_iter=5)``, with
   ``SGDClassifier(loss="log_loss", max_iter=5)`` for reference.

Run ``python benchmarks/bench_linear.py`` (a few minutes, most of it
LogisticRegression) or ``--quick`` (10,000 training images, under a minute);
``--profile`` adds a cProfile summary of a SoftmaxLinear fit.
"""

import argparse
import cProfile
import pstats
import time
import warnings

import numpy as np
from _common import (
    best_time,
    best_times,
    load_mnist,
    markdown_table,
    print_header,
    traced_memory,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skcv import HingeLinear, SoftmaxLinear

CLASSES = np.arange(10)

# Fixed settings, chosen once on MNIST (not searched per run): two
# learning-rate drops for the softmax, a few constant-rate epochs for the
# hinge losses.
SOFTMAX = {
    "learning_rate": "adaptive",
    "tol": 1e-2,
    "n_iter_no_change": 1,
    "max_iter": 10,
}
HINGE_WW = {"max_iter": 4}
HINGE_CS = {"multi_class": "crammer_singer", "max_iter": 3}


def _data(n_train):
    X_train, y_train, X_test, y_test, source = load_mnist(n_train=n_train)
    X_train = X_train.reshape(len(X_train), -1).astype(np.float32)
    X_test = X_test.reshape(len(X_test), -1).astype(np.float32)
    scaler = StandardScaler().fit(X_train)
    X_train = scaler.transform(X_train).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    return X_train, y_train, X_test, y_test, source


def _partial_fit_time(make, X, y, repeat):
    """Best wall time of one partial_fit call (validation plus one epoch)."""
    clf = make().partial_fit(X[:500], y[:500], classes=CLASSES)
    seconds, _ = best_time(lambda: clf.partial_fit(X, y), repeat=repeat)
    return seconds


def _fit_epoch_times(make, X, y, repeat, n_epochs=3):
    """Best wall and CPU time of a fit of ``n_epochs`` epochs, per epoch."""
    clf = make().set_params(max_iter=n_epochs)
    wall, cpu = best_times(lambda: clf.fit(X, y), repeat)
    return wall / n_epochs, cpu / n_epochs


def floor_vs_epoch(X, y, repeat):
    W = np.zeros((10, X.shape[1]), np.float32)
    G = np.ones((X.shape[0], 10), np.float32)

    def two_products():
        X @ W.T
        G.T @ X

    floor_blas, _ = best_time(two_products, repeat=repeat)
    with threadpool_limits(limits=1, user_api="blas"):
        floor_one, floor_cpu = best_times(two_products, repeat)
    floor = min(floor_blas, floor_one)
    print("## One epoch against the two full products (float32, 10 classes)\n")
    print(
        f"Floor, X @ W.T and G.T @ X on {X.shape}: {floor_blas * 1e3:.1f} ms with "
        f"BLAS's default threads, {floor_one * 1e3:.1f} ms with 1 thread (wall; "
        f"ratios to the faster, {floor * 1e3:.1f} ms), {floor_cpu * 1e3:.1f} ms of "
        "CPU with 1 thread. The SGD loop runs BLAS on 1 thread; an epoch in fit "
        "is a third of a 3-epoch fit; partial_fit adds the input validation.\n"
    )
    models = {
        "SoftmaxLinear": SoftmaxLinear,
        "HingeLinear WW": HingeLinear,
        "HingeLinear CS": lambda **kw: HingeLinear(multi_class="crammer_singer", **kw),
    }
    rows = []
    for batch_size in (64, 256, 1000):
        for name, cls in models.items():

            def make(cls=cls, batch_size=batch_size):
                return cls(batch_size=batch_size, random_state=0)

            wall, cpu = _fit_epoch_times(make, X, y, repeat)
            alone = _partial_fit_time(make, X, y, repeat)
            rows.append(
                [
                    name,
                    batch_size,
                    f"{wall * 1e3:.0f}",
                    f"{wall / floor:.2f}x",
                    f"{cpu * 1e3:.0f}",
                    f"{cpu / floor_cpu:.2f}x",
                    f"{alone * 1e3:.0f}",
                ]
            )
    header = [
        "model",
        "batch_size",
        "epoch in fit, ms",
        "/ floor",
        "CPU ms",
        "/ floor CPU",
        "partial_fit, ms",
    ]
    print(markdown_table(header, rows))
    clf = SoftmaxLinear(random_state=0).partial_fit(X[:500], y[:500], classes=CLASSES)
    with traced_memory() as mem:
        clf.partial_fit(X, y)
    print(
        f"\nPeak memory allocated during one SoftmaxLinear partial_fit: "
        f"{mem['peak_mib']:.1f} MiB (X itself: {X.nbytes / 2**20:.0f} MiB)\n"
    )


def profile(X, y):
    """Where the time of a SoftmaxLinear fit goes (cProfile, internal time)."""
    clf = SoftmaxLinear(random_state=0, max_iter=3)
    profiler = cProfile.Profile()
    profiler.runcall(clf.fit, X, y)
    print("## Profile of SoftmaxLinear(max_iter=3).fit, by internal time\n")
    print("```")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(8)
    print("```\n")


def _fit_and_score(clf, X_train, y_train, X_test, y_test, repeat):
    wall, cpu = best_times(lambda: clf.fit(X_train, y_train), repeat)
    return wall, cpu, clf.score(X_test, y_test)


def versus_sklearn(X_train, y_train, X_test, y_test, repeat):
    print("## Fit time and test accuracy against scikit-learn\n")
    runs = [
        ("LogisticRegression()", LogisticRegression(), 1),
        (f"SoftmaxLinear({_kw(SOFTMAX)})", SoftmaxLinear(**SOFTMAX), repeat),
        (
            'SGDClassifier(loss="hinge", max_iter=5)',
            SGDClassifier(loss="hinge", max_iter=5),
            min(repeat, 2),
        ),
        (f"HingeLinear({_kw(HINGE_WW)})", HingeLinear(**HINGE_WW), repeat),
        (f"HingeLinear({_kw(HINGE_CS)})", HingeLinear(**HINGE_CS), repeat),
        (
            'SGDClassifier(loss="log_loss", max_iter=5)',
            SGDClassifier(loss="log_loss", max_iter=5),
            min(repeat, 2),
        ),
    ]
    results = {}
    for name, clf, n in runs:
        if "random_state" in clf.get_params():
            clf.set_params(random_state=0)
        results[name] = _fit_and_score(clf, X_train, y_train, X_test, y_test, n)
    # The sklearn peer of each skcv model: LogisticRegression for the
    # softmax, SGDClassifier(hinge) for the hinge losses and log_loss.
    lr_time = results["LogisticRegression()"][0]
    sgd_time = results['SGDClassifier(loss="hinge", max_iter=5)'][0]
    rows = []
    for name, (wall, cpu, acc) in results.items():
        ref = lr_time if name.startswith(("Logistic", "Softmax")) else sgd_time
        rows.append(
            [name, f"{wall:.2f}", f"{cpu:.2f}", f"{acc:.4f}", f"{wall / ref:.3f}"]
        )
    header = ["estimator", "fit s", "CPU s", "test accuracy", "time / sklearn peer"]
    print(markdown_table(header, rows))
    print()


def scaling(X, y, repeat):
    print("## Epoch time against the number of samples (SoftmaxLinear, batch 256)\n")
    rows = []
    for n in (1_000, 10_000, 60_000):
        if n > len(y):
            continue
        wall, cpu = _fit_epoch_times(
            lambda: SoftmaxLinear(random_state=0), X[:n], y[:n], repeat
        )
        rows.append(
            [n, f"{wall * 1e3:.1f}", f"{cpu * 1e3:.1f}", f"{cpu / n * 1e6:.2f}"]
        )
    header = ["n_samples", "epoch in fit, ms", "CPU ms", "CPU us per sample"]
    print(markdown_table(header, rows))
    print()


def _kw(params):
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="10,000 training images, fewer repeats"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also profile a SoftmaxLinear fit"
    )
    args = parser.parse_args()
    n_train, repeat = (10_000, 2) if args.quick else (60_000, 3)
    start = time.perf_counter()
    print_header("Linear models: SoftmaxLinear and HingeLinear")
    X_train, y_train, X_test, y_test, source = _data(n_train)
    print(f"data: {source}, {X_train.shape[0]} train / {X_test.shape[0]} test rows\n")
    warnings.simplefilter("ignore", ConvergenceWarning)
    floor_vs_epoch(X_train, y_train, repeat)
    scaling(X_train, y_train, repeat)
    if args.profile:
        profile(X_train, y_train)
    versus_sklearn(X_train, y_train, X_test, y_test, repeat)
    print(f"total: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
