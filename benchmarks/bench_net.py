"""NeuralNet against scikit-learn's MLPClassifier and torch, and its GEMM floor.

Side by side in one process, alternating the peers, minimum of repeats:

1. standardised MNIST, 784-100-10 ReLU, batch 200, Adam(1e-3), 10 epochs:
   fit time and test accuracy of ``NeuralNet``, ``MLPClassifier`` and a torch
   ``nn.Sequential`` with ``torch.optim.Adam``, at 1 and 2 threads; and the
   floor, the matrix products of the 300 batches of one epoch timed bare
   (forward through every layer, every weight gradient, the input gradient
   of every layer but the first), times 10; at 2 threads the faster of
   2-thread BLAS and the batch's rows split between 2 threads. Wall time and
   the process's CPU time are both reported: on a shared machine waiting for
   a core inflates the first but not the second (for one thread). Each
   thread count ends with the ratios of the goals and the load average;
2. the same for 784-512-10 and 784-256-128-10 (skcv, torch and the floor);
3. CIFAR-10: an 8,000/2,000 stratified split of the shuffled test batch,
   standardised, 3072-200-10, 20 epochs, dropout 0.5 (timed) and 0 (the
   default): NeuralNet and torch, mean accuracy of seeds 0-2 beside that
   of SoftmaxLinear's defaults (at 1 thread).

torch is optional: its rows are skipped when it is not installed
(``pip install -e ".[bench]"``, which ``make bench`` installs). It is
imported first, before numba starts any threads.

Run ``python benchmarks/bench_net.py`` (about 10 minutes on 2 quiet cores)
or ``--quick`` (one repeat, 15,000 MNIST training images, the first section
only, about a minute); ``--only``, ``--threads`` and ``--repeat`` select
sections, thread counts and repeats.
"""

try:  # Before numba (imported by skcv) starts its threads.
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None

import argparse
import functools
import itertools
import os
import time
import warnings

import numpy as np
from _common import (
    best_times,
    load_cifar10,
    load_mnist,
    markdown_table,
    print_header,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skcv import NeuralNet, SoftmaxLinear
from skcv._workers import _run_tasks

BATCH = 200
LR = 1e-3
ALPHA = 1e-4
CIFAR_DROPOUT = 0.5


def _standardised(X_train, X_test):
    X_train = X_train.reshape(len(X_train), -1).astype(np.float32)
    X_test = X_test.reshape(len(X_test), -1).astype(np.float32)
    scaler = StandardScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(np.float32),
        scaler.transform(X_test).astype(np.float32),
    )


def _timed_fit(clf, X, y, Xt, yt):
    t0, c0 = time.perf_counter(), time.process_time()
    clf.fit(X, y)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return seconds, cpu, clf.score(Xt, yt)


def _fit_skcv(hidden, epochs, X, y, Xt, yt, seed=0, dropout=0.0):
    clf = NeuralNet(
        hidden_layer_sizes=hidden,
        dropout=dropout,
        max_iter=epochs,
        batch_size=BATCH,
        learning_rate_init=LR,
        alpha=ALPHA,
        n_iter_no_change=epochs,
        random_state=seed,
    )
    return _timed_fit(clf, X, y, Xt, yt)


def _fit_sklearn(hidden, epochs, X, y, Xt, yt):
    # sklearn divides alpha by the batch size; this is the same penalty.
    clf = MLPClassifier(
        hidden_layer_sizes=hidden,
        max_iter=epochs,
        batch_size=BATCH,
        learning_rate_init=LR,
        alpha=ALPHA * BATCH,
        n_iter_no_change=epochs,
        random_state=0,
    )
    return _timed_fit(clf, X, y, Xt, yt)


def _fit_torch(hidden, epochs, X, y, Xt, yt, seed=0, dropout=0.0):
    torch.manual_seed(seed)
    sizes = [X.shape[1], *hidden, 10]
    layers = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU()]
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
    model = torch.nn.Sequential(*layers[: -2 if dropout else -1])
    weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
    biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
    opt = torch.optim.Adam(
        [{"params": weights, "weight_decay": ALPHA}, {"params": biases}], lr=LR
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    Xtr, ytr = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = torch.randperm(len(ytr), generator=gen)
        for start in range(0, len(ytr), BATCH):
            idx = order[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    model.eval()  # no dropout at prediction
    with torch.no_grad():
        pred = model(torch.from_numpy(Xt)).argmax(1).numpy()
    return seconds, cpu, float(np.mean(pred == yt))


def _gemm_floor(sizes, n_samples, repeat, n_threads=1):
    """Bare matrix products of one epoch of batches of BATCH rows.

    With ``n_threads`` > 1, the products run in two ways and the faster
    counts: BLAS's own threads on whole batches, and the batch's rows split
    between as many Python threads calling single-threaded BLAS (how
    NeuralNet spends them). Returns (wall, cpu) of the faster.
    """
    rng = np.random.default_rng(0)
    Ws = [
        rng.standard_normal((a, b), dtype=np.float32)
        for a, b in itertools.pairwise(sizes)
    ]
    n_batches = -(-n_samples // BATCH)

    def products(rows):
        acts = [rng.standard_normal((rows, n), dtype=np.float32) for n in sizes]
        grads = [np.empty_like(W) for W in Ws]
        douts = [np.empty((rows, n), np.float32) for n in sizes]

        def run():
            for i, W in enumerate(Ws):
                np.matmul(acts[i], W, out=acts[i + 1])
            for i in reversed(range(len(Ws))):
                np.matmul(acts[i].T, acts[i + 1], out=grads[i])
                if i:
                    np.matmul(acts[i + 1], Ws[i].T, out=douts[i])

        return run

    def blas_epoch():
        run = products(BATCH)
        for _ in range(n_batches):
            run()

    def split_epoch():
        runs = [products(-(-BATCH // n_threads)) for _ in range(n_threads)]
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in range(n_batches):
                _run_tasks(runs)

    best = (float("inf"), float("inf"))
    for epoch in [blas_epoch] + ([split_epoch] if n_threads > 1 else []):
        wall, cpu = best_times(epoch, repeat)
        print(
            f"  floor ({epoch.__name__}, {n_threads} threads): {wall:.3f} s wall, "
            f"{cpu:.3f} s CPU per epoch"
        )
        best = min(best, (wall, cpu))
    return best


def _set_threads(n):
    if torch is not None:
        torch.set_num_threads(n)


def compare(title, hidden, epochs, X, y, Xt, yt, *, threads, repeat, peers):
    print(f"## {title}\n")
    rows = []
    summary = {}
    for n in threads:
        _set_threads(n)
        with threadpool_limits(limits=n, user_api="blas"):
            load_before = os.getloadavg()[0]
            floor, floor_cpu = _gemm_floor(
                [X.shape[1], *hidden, 10], len(y), max(repeat, 2), n
            )
            floor, floor_cpu = floor * epochs, floor_cpu * epochs
            best = {name: (float("inf"), float("inf"), None) for name in peers}
            for _ in range(repeat):
                # Alternate the peers so that a change of load hits them all.
                for name, fit in peers.items():
                    seconds, cpu, acc = fit(hidden, epochs, X, y, Xt, yt)
                    old = best[name]
                    best[name] = (min(seconds, old[0]), min(cpu, old[1]), acc)
        skcv_s, skcv_cpu = best["skcv NeuralNet"][:2]
        for name, (seconds, cpu, acc) in best.items():
            rows.append(
                [
                    n,
                    name,
                    f"{seconds:.2f}",
                    f"{cpu:.2f}",
                    f"{acc:.4f}",
                    f"{seconds / floor:.2f}",
                    f"{cpu / floor_cpu:.2f}",
                    f"{skcv_s / seconds:.2f}",
                    f"{skcv_cpu / cpu:.2f}",
                ]
            )
        floor_row = ["GEMM floor", f"{floor:.2f}", f"{floor_cpu:.2f}", "", "1.00"]
        rows.append([n, *floor_row, "1.00", f"{skcv_s / floor:.2f}", ""])
        summary[n] = {name: b[0] for name, b in best.items()} | {"floor": floor}
        print(
            f"{n} thread(s), load average {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after; skcv fit / peer (goal <= 0.5), "
            "wall and CPU:"
        )
        for name, (seconds, cpu, _) in best.items():
            if name != "skcv NeuralNet":
                print(
                    f"  / {name}: wall {skcv_s / seconds:.2f}, CPU {skcv_cpu / cpu:.2f}"
                )
        print(
            f"  / GEMM floor (goal <= 1.5): wall {skcv_s / floor:.2f}, "
            f"CPU {skcv_cpu / floor_cpu:.2f}\n"
        )
    print(
        markdown_table(
            [
                "threads",
                "model",
                f"fit wall s ({epochs} epochs)",
                "CPU s",
                "test acc",
                "wall / floor",
                "CPU / floor CPU",
                "skcv / this (wall)",
                "skcv / this (CPU)",
            ],
            rows,
        )
    )
    print()
    return summary


def cifar(repeat, peers, threads):
    X, y, source = load_cifar10()
    X_train, X_test, y_train, y_test = train_test_split(
        X[:10_000], y[:10_000], train_size=8000, stratify=y[:10_000], random_state=0
    )
    X_train, X_test = _standardised(X_train, X_test)
    print(f"CIFAR-10 source: {source}; 8000 train / 2000 test\n")
    hidden, epochs = (200,), 20
    # 8,000 images for 615,000 weights: without dropout the network fits the
    # training set (0.96 accuracy after 20 epochs) and stops generalising.
    dropout_peers = {
        name: functools.partial(fit, dropout=CIFAR_DROPOUT)
        for name, fit in peers.items()
    }
    compare(
        f"CIFAR-10, 3072-200-10, dropout {CIFAR_DROPOUT}, 20 epochs",
        hidden,
        epochs,
        X_train,
        y_train,
        X_test,
        y_test,
        threads=threads,
        repeat=repeat,
        peers=dropout_peers,
    )
    # One split, 2,000 test images: a point of accuracy is about one standard
    # error, so the accuracies are averaged over three seeds.
    means = {}
    with threadpool_limits(limits=1, user_api="blas"):
        _set_threads(1)
        for dropout in (0.0, CIFAR_DROPOUT):
            for name, fit in peers.items():
                accs = [
                    fit(hidden, epochs, X_train, y_train, X_test, y_test, seed=seed,
                        dropout=dropout)[2]
                    for seed in range(3)
                ]  # fmt: skip
                means[name, dropout] = np.mean(accs)
                print(
                    f"{name}, dropout {dropout}: test accuracy over seeds 0-2 "
                    f"{accs}, mean {np.mean(accs):.4f}"
                )
        accs = [
            SoftmaxLinear(random_state=seed).fit(X_train, y_train).score(X_test, y_test)
            for seed in range(3)
        ]
    softmax = np.mean(accs)
    print(f"SoftmaxLinear() defaults: seeds 0-2 {accs}, mean {softmax:.4f}")
    for dropout in (0.0, CIFAR_DROPOUT):
        net = means["skcv NeuralNet", dropout]
        line = f"dropout {dropout}: net - SoftmaxLinear {100 * (net - softmax):+.2f}"
        line += " points (goal >= +5)"
        if ("torch Sequential+Adam", dropout) in means:
            torch_acc = means["torch Sequential+Adam", dropout]
            line += (
                f", net - torch {100 * (net - torch_acc):+.2f} points (goal >= -0.5)"
            )
        print(line)
    print()


SECTIONS = ("mnist100", "mnist512", "mnist2layers", "cifar")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--only", help=f"comma list of sections: {','.join(SECTIONS)} (default: all)"
    )
    parser.add_argument(
        "--threads", default="1,2", help="comma list of thread counts (default 1,2)"
    )
    parser.add_argument("--repeat", type=int, help="repeats (default 3, 1 if quick)")
    args = parser.parse_args()
    sections = args.only.split(",") if args.only else list(SECTIONS)
    threads = [int(n) for n in args.threads.split(",")]
    warnings.simplefilter("ignore", ConvergenceWarning)
    print_header("NeuralNet benchmark")
    repeat = args.repeat or (1 if args.quick else 3)
    n_train = 15_000 if args.quick else 60_000
    X, y, Xt, yt, source = load_mnist(n_train=n_train)
    X, Xt = _standardised(X, Xt)
    print(f"MNIST source: {source}; {len(y)} train / {len(yt)} test, standardised\n")
    peers = {"skcv NeuralNet": _fit_skcv, "sklearn MLPClassifier": _fit_sklearn}
    if torch is not None:
        peers["torch Sequential+Adam"] = _fit_torch
    else:
        print("torch is not installed: its rows are skipped.\n")
    # Warm the compiled kernels outside the timings.
    _fit_skcv((10,), 1, X[:500], y[:500], Xt[:10], yt[:10])
    common = {"threads": threads, "repeat": repeat}
    if "mnist100" in sections:
        compare(
            "MNIST 784-100-10, 10 epochs", (100,), 10, X, y, Xt, yt,
            peers=peers, **common,
        )  # fmt: skip
    if args.quick:
        return
    fast_peers = {k: v for k, v in peers.items() if not k.startswith("sklearn")}
    for section, hidden in [("mnist512", (512,)), ("mnist2layers", (256, 128))]:
        if section in sections:
            title = "-".join(map(str, [784, *hidden, 10]))
            compare(
                f"MNIST {title}, 10 epochs", hidden, 10, X, y, Xt, yt,
                peers=fast_peers, **common,
            )  # fmt: skip
    if "cifar" in sections:
        cifar(repeat, fast_peers, threads)


if __name__ == "__main__":
    main()
