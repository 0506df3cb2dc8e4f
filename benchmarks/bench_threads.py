"""Threads: do other libraries in the same process run at their own speed after skcv?

Run from the repository root::

    .venv/bin/python benchmarks/bench_threads.py           # a few minutes
    .venv/bin/python benchmarks/bench_threads.py --quick   # fewer repeats

Every measurement runs in a fresh process (numba's threading layer and the
OpenMP runtimes are chosen once per process), alternating the cases, and each
figure is the best over the repeats:

- torch: one epoch of a small MLP (784-256-10, batch 128) on 2 threads;
- numpy: a float32 GEMM (2,000 x 784 by 784 x 4,000) with BLAS's own threads;
- faiss: an ``IndexFlatL2`` search (500 x 20,000, k=10) on 2 threads;

each in a process where skcv never ran, and in one where skcv's kernels ran
first (a k-NN predict and an augmentation, before torch and faiss are
imported, as a user's pipeline would). This for skcv's default threading
layer and for numba's own default (``NUMBA_THREADING_LAYER=omp``, the state
before skcv chose one). skcv's own speed (k-NN predict L2 and L1,
augmentation) is timed in the processes where it ran, under both layers.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_times, load_mnist, markdown_table


def _skcv_work(repeat):
    """skcv's own kernels: k-NN predict (L2, L1 uint8) and augmentation."""
    from skcv import ImageAugmenter, NearestNeighbor

    X8, y, Q8, _, _ = load_mnist(n_train=20_000, n_test=500)
    X8, Q8 = X8.reshape(len(X8), -1), Q8.reshape(len(Q8), -1)
    X, Q = X8.astype(np.float32) / 255, Q8.astype(np.float32) / 255
    images, *_ = load_mnist(n_train=10_000, n_test=1)
    labels = np.zeros(len(images), dtype=int)
    l2 = NearestNeighbor(1).fit(X, y)
    l1 = NearestNeighbor(1, metric="l1").fit(X8, y)
    aug = ImageAugmenter(flip=True, max_shift=2, max_rotation=10, random_state=0)
    return {
        "skcv k-NN L2": best_times(lambda: l2.predict(Q), repeat),
        "skcv k-NN L1 uint8": best_times(lambda: l1.predict(Q8), repeat),
        "skcv augment": best_times(lambda: aug.fit_resample(images, labels), repeat),
    }


def child(prior, repeat):
    """One process: optionally skcv first, then torch, numpy and faiss."""
    times = {}
    if prior:
        times.update(_skcv_work(1))
    import faiss
    import torch

    rng = np.random.default_rng(0)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    Xt = torch.tensor(rng.standard_normal((10_000, 784), dtype=np.float32))
    yt = torch.tensor(rng.integers(0, 10, 10_000))
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss = torch.nn.CrossEntropyLoss()

    def epoch():
        for s in range(0, len(Xt), 128):
            opt.zero_grad()
            loss(model(Xt[s : s + 128]), yt[s : s + 128]).backward()
            opt.step()

    times["torch epoch (2 threads)"] = best_times(epoch, repeat + 1)
    A = rng.standard_normal((2_000, 784), dtype=np.float32)
    B = rng.standard_normal((784, 4_000), dtype=np.float32)
    times["numpy GEMM"] = best_times(lambda: A @ B, repeat + 2)
    faiss.omp_set_num_threads(2)
    index = faiss.IndexFlatL2(784)
    index.add(rng.standard_normal((20_000, 784), dtype=np.float32))
    queries = rng.standard_normal((500, 784), dtype=np.float32)
    times["faiss search (2 threads)"] = best_times(
        lambda: index.search(queries, 10), repeat
    )
    if prior:
        # skcv again, now that torch and faiss are loaded too.
        times.update(_skcv_work(repeat))
        import numba

        times["layer"] = numba.threading_layer()
    print(json.dumps(times))


def _run_child(layer, prior, repeat):
    env = dict(os.environ)
    env.pop("NUMBA_THREADING_LAYER", None)
    if layer != "skcv default":
        env["NUMBA_THREADING_LAYER"] = layer
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--repeat", str(repeat)]
        + (["--prior"] if prior else []),
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _pair(times):
    return [f"{t * 1e3:.1f} ms" for t in times]


def _ratio(a, b):
    return f"{a[0] / b[0]:.2f}x / {a[1] / b[1]:.2f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prior", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.prior, args.repeat)
        return

    rounds = 1 if args.quick else 3
    print("# Threads: other libraries after skcv, in one process (bench_threads.py)")
    print(f"load average at the start: {os.getloadavg()[0]:.1f}\n")
    cases = [
        (layer, prior) for layer in ("skcv default", "omp") for prior in (False, True)
    ]
    best = {}
    layers = {}
    for _ in range(rounds):
        for case in cases:
            result = _run_child(*case, repeat=3)
            layers[case] = result.pop("layer", None) or layers.get(case)
            for name, (wall, cpu) in result.items():
                key = (*case, name)
                old_wall, old_cpu = best.get(key, (float("inf"), float("inf")))
                best[key] = (min(old_wall, wall), min(old_cpu, cpu))
    print(
        f"layers in force when skcv ran: skcv default -> "
        f"{layers['skcv default', True]}, NUMBA_THREADING_LAYER=omp -> "
        f"{layers['omp', True]}; {rounds} rounds of fresh processes, best of each\n"
    )
    rows = []
    for name in ("torch epoch (2 threads)", "numpy GEMM", "faiss search (2 threads)"):
        for layer in ("skcv default", "omp"):
            alone, after = best[layer, False, name], best[layer, True, name]
            rows.append(
                [name, layer, *_pair(alone), *_pair(after), _ratio(after, alone)]
            )
    print(
        markdown_table(
            [
                "work",
                "layer",
                "skcv never ran: wall",
                "CPU",
                "after skcv: wall",
                "CPU",
                "ratio wall / CPU (goal <= 1.1)",
            ],
            rows,
        )
    )
    own = []
    for name in ("skcv k-NN L2", "skcv k-NN L1 uint8", "skcv augment"):
        ours, before = best["skcv default", True, name], best["omp", True, name]
        own.append([name, *_pair(before), *_pair(ours), _ratio(ours, before)])
    print()
    print(
        markdown_table(
            [
                "skcv's own work",
                "omp: wall",
                "CPU",
                "skcv default: wall",
                "CPU",
                "ratio wall / CPU (goal <= 1.05)",
            ],
            own,
        )
    )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
