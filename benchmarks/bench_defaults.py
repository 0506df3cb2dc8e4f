"""Default parameters against scikit-learn's, at three pixel scales.

The goal table of the linear models' defaults: with default parameters only
(``random_state=0`` aside), on MNIST (60,000 / 10,000) and a CIFAR-10 split
(8,000 / 2,000, stratified, from the shuffled CIFAR-10 test file), with the
pixels standardised (``StandardScaler``), rescaled to [0, 1] and raw 0-255:

- ``SoftmaxLinear()`` reaches ``LogisticRegression()``'s test accuracy minus
  0.3 points in at most 1/5 of its fit time;
- ``HingeLinear()`` reaches ``SGDClassifier(loss="hinge")``'s test accuracy
  minus 0.3 points in at most 1/2 of its fit time;
- no run of skcv diverges or ends with a ConvergenceWarning.

Each pair runs side by side in this process on the same float32 arrays,
scikit-learn first; skcv's time is the best of ``--repeat`` fits, the
peers' of one (they take minutes). Wall and CPU times are printed; the
ratios use wall time, which is what a user waits for.

Run ``python benchmarks/bench_defaults.py`` (long: ``SGDClassifier`` runs up
to 1,000 epochs per class on CIFAR-10 and ``LogisticRegression`` about
30 s per MNIST scale) or ``--quick`` (5,000 / 1,000 MNIST images, 1,000 /
500 CIFAR-10 images). ``--datasets`` and ``--scales`` select parts.
"""

import argparse
import json
import time
import warnings

import numpy as np
from _common import load_cifar10, load_mnist, markdown_table, print_header
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcv import HingeLinear, SoftmaxLinear

SCALES = ("standardised", "0-1", "0-255")
# (skcv model, peer, largest allowed time ratio skcv / peer)
PAIRS = (
    ("SoftmaxLinear()", "LogisticRegression()", 1 / 5),
    ("HingeLinear()", 'SGDClassifier(loss="hinge")', 1 / 2),
)
MAKE = {
    "SoftmaxLinear()": lambda: SoftmaxLinear(random_state=0),
    "HingeLinear()": lambda: HingeLinear(random_state=0),
    "LogisticRegression()": lambda: LogisticRegression(),
    'SGDClassifier(loss="hinge")': lambda: SGDClassifier(loss="hinge", random_state=0),
}
TOLERANCE = 0.003  # 0.3 accuracy points


def _datasets(quick):
    n_train, n_test = (5_000, 1_000) if quick else (60_000, 10_000)
    X_train, y_train, X_test, y_test, source = load_mnist(n_train, n_test)
    yield "MNIST", X_train, y_train, X_test, y_test, source
    n_train, n_test = (1_000, 500) if quick else (8_000, 2_000)
    X, y, source = load_cifar10()
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=n_train, test_size=n_test, stratify=y, random_state=0
    )
    yield "CIFAR-10", X_train, y_train, X_test, y_test, source


def _scaled(X_train, X_test, scale):
    X_train = X_train.reshape(len(X_train), -1).astype(np.float32)
    X_test = X_test.reshape(len(X_test), -1).astype(np.float32)
    if scale == "standardised":
        scaler = StandardScaler().fit(X_train)
        return (
            scaler.transform(X_train).astype(np.float32),
            scaler.transform(X_test).astype(np.float32),
        )
    if scale == "0-1":
        return X_train / np.float32(255), X_test / np.float32(255)
    return X_train, X_test


def _run(name, X_train, y_train, X_test, y_test, repeat):
    """Fit ``repeat`` times; best wall and CPU time, accuracy, warnings."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        model = MAKE[name]()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            w0, c0 = time.perf_counter(), time.process_time()
            try:
                model.fit(X_train, y_train)
                error = None
            except ValueError as exc:  # divergence
                error = str(exc)
            wall = min(wall, time.perf_counter() - w0)
            cpu = min(cpu, time.process_time() - c0)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return {
        "wall": wall,
        "cpu": cpu,
        "accuracy": None if error else float(model.score(X_test, y_test)),
        "n_iter": int(np.max(model.n_iter_)) if not error else None,
        "converged": converged,
        "error": error,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data sets")
    parser.add_argument("--repeat", type=int, default=3, help="fits of skcv models")
    parser.add_argument("--datasets", default="MNIST,CIFAR-10")
    parser.add_argument(
        "--scales", default=",".join(SCALES), help="of " + "; ".join(SCALES)
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    print_header("Default parameters of the linear models, three pixel scales")
    wanted = set(args.datasets.split(","))
    scales = [s for s in SCALES if s in args.scales.split(",")]
    results, rows = [], []
    for dataset, X_tr, y_tr, X_te, y_te, source in _datasets(args.quick):
        if dataset not in wanted:
            continue
        print(f"{dataset}: {source}, {len(y_tr)} training / {len(y_te)} test images")
        for scale in scales:
            X_train, X_test = _scaled(X_tr, X_te, scale)
            for ours, peer, max_ratio in PAIRS:
                theirs = _run(peer, X_train, y_tr, X_test, y_te, repeat=1)
                mine = _run(ours, X_train, y_tr, X_test, y_te, repeat=args.repeat)
                ratio = mine["wall"] / theirs["wall"]
                accurate = (
                    mine["accuracy"] is not None
                    and theirs["accuracy"] is not None
                    and mine["accuracy"] >= theirs["accuracy"] - TOLERANCE
                )
                met = accurate and ratio <= max_ratio and mine["converged"]
                results.append(
                    {
                        "dataset": dataset,
                        "scale": scale,
                        "model": ours,
                        "peer": peer,
                        "skcv": mine,
                        "peer_result": theirs,
                        "ratio": ratio,
                        "max_ratio": max_ratio,
                        "met": met,
                    }
                )
                rows.append(_row(dataset, scale, ours, peer, mine, theirs, ratio, met))
                print(markdown_table(HEADER, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(markdown_table(HEADER, rows))
    missed = [r for r in results if not r["met"]]
    print(f"\ngoals met: {len(results) - len(missed)} of {len(results)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


HEADER = [
    "data",
    "scale",
    "skcv model",
    "accuracy",
    "fit s (CPU s)",
    "epochs",
    "peer",
    "accuracy",
    "fit s (CPU s)",
    "time ratio",
    "met",
]


def _fmt(result):
    if result["error"]:
        return "diverged", "-", "-"
    warn = "" if result["converged"] else " (ConvergenceWarning)"
    return (
        f"{result['accuracy']:.4f}",
        f"{result['wall']:.2f} ({result['cpu']:.2f})",
        f"{result['n_iter']}{warn}",
    )


def _row(dataset, scale, ours, peer, mine, theirs, ratio, met):
    acc, fit, epochs = _fmt(mine)
    peer_acc, peer_fit, peer_epochs = _fmt(theirs)
    return [
        dataset,
        scale,
        f"`{ours}`",
        acc,
        fit,
        epochs,
        f"`{peer}` ({peer_epochs} it.)",
        peer_acc,
        peer_fit,
        f"1/{1 / ratio:.1f}",
        "yes" if met else "**no**",
    ]


if __name__ == "__main__":
    main()
