"""k-nearest neighbours on MNIST: skcv.NearestNeighbor against its floors and peers.

Run from the repository root::

    .venv/bin/python benchmarks/bench_knn.py           # full run, a few minutes
    .venv/bin/python benchmarks/bench_knn.py --quick   # smaller arrays

Side by side in one process, on the same arrays (60,000 training rows x 784
float32 pixels in [0, 1], 2,000 test queries):

- L2: the bare float32 GEMM ``Q @ X.T`` (the floor: every distance method
  pays at least this product), skcv's predict (vote included) and
  scikit-learn's ``KNeighborsClassifier(algorithm="brute")``;
- L1: skcv's predict on float32 rows and on the raw uint8 images (exact
  integer path) against scikit-learn's brute ``p=1``, which is timed on a
  subset of the queries and scaled linearly (it takes ~25 ms per query);
- accuracy for k = 1 and 3 and agreement with scikit-learn's predictions;
- the extra memory of one predict (tracemalloc) against the block budget;
- the same comparisons on one thread in CPU time, which other jobs on a
  shared machine disturb far less than wall time;
- how the time scales with the number of training rows and of queries.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    best_time,
    load_cifar10,
    load_mnist,
    markdown_table,
    print_header,
    traced_memory,
)

from skcv import NearestNeighbor, _distances


def _fmt(seconds):
    return f"{seconds:.2f} s" if seconds >= 0.1 else f"{seconds * 1e3:.1f} ms"


class _FallbackCounter:
    """Count the queries that needed the exhaustive float64 search."""

    def __init__(self):
        self.rows = 0
        self._original = _distances._exact_topk

    def __enter__(self):
        def counted(Q64, *args):
            self.rows += len(Q64)
            return self._original(Q64, *args)

        _distances._exact_topk = counted
        return self

    def __exit__(self, *exc):
        _distances._exact_topk = self._original


def _cpu_time(fn, repeat):
    """Best CPU time of this process over ``repeat`` calls of ``fn``.

    With one thread everywhere, CPU time counts the work done and not the
    waiting, so ratios stay meaningful while other jobs load the machine.
    """
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _single_thread_section(X, y, Q, X8, Q8, n_l2, n_l1, repeat):
    """GEMM, skcv and sklearn on one thread each, in CPU time."""
    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            q2, q1, q8 = Q[:n_l2], Q[:n_l1], Q8[:n_l1]
            knn2 = NearestNeighbor(1).fit(X, y)
            sk2 = KNeighborsClassifier(1, algorithm="brute").fit(X, y)
            knn1 = NearestNeighbor(1, metric="l1").fit(X, y)
            knn8 = NearestNeighbor(1, metric="l1").fit(X8, y)
            sk1 = KNeighborsClassifier(1, algorithm="brute", p=1).fit(X, y)
            t_gemm = _cpu_time(lambda: q2 @ X.T, repeat)
            t_l2 = _cpu_time(lambda: knn2.predict(q2), repeat)
            t_sk2 = _cpu_time(lambda: sk2.predict(q2), 1)
            t_l1 = _cpu_time(lambda: knn1.predict(q1), repeat)
            t_l8 = _cpu_time(lambda: knn8.predict(q8), repeat)
            t_sk1 = _cpu_time(lambda: sk1.predict(q1), 1)
    finally:
        numba.set_num_threads(numba_threads)
    print("## Single thread, CPU time (numba, BLAS and OpenMP limited to one thread)\n")
    print(
        markdown_table(
            ["method", "queries", "CPU time", "ratio"],
            [
                ["float32 GEMM Q @ X.T", n_l2, _fmt(t_gemm), "1.00 (floor)"],
                ["skcv L2 predict", n_l2, _fmt(t_l2), f"{t_l2 / t_gemm:.2f} x GEMM"],
                [
                    "sklearn brute L2 predict",
                    n_l2,
                    _fmt(t_sk2),
                    f"{t_sk2 / t_gemm:.2f} x GEMM",
                ],
                ["sklearn brute p=1 predict", n_l1, _fmt(t_sk1), "1.0"],
                [
                    "skcv L1 predict, float32",
                    n_l1,
                    _fmt(t_l1),
                    f"{t_sk1 / t_l1:.1f}x faster",
                ],
                [
                    "skcv L1 predict, uint8",
                    n_l1,
                    _fmt(t_l8),
                    f"{t_sk1 / t_l8:.1f}x faster",
                ],
            ],
        )
    )
    print()


def _alternate(fns, repeat, cpu=None):
    """Best wall time of each function, calling them in turn ``repeat`` times.

    ``cpu``, a dict, receives the best CPU time of this process for each.
    """
    best = dict.fromkeys(fns, float("inf"))
    best_cpu = dict.fromkeys(fns, float("inf"))
    results = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            results[name] = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
            best_cpu[name] = min(best_cpu[name], time.process_time() - c0)
    if cpu is not None:
        cpu.update(best_cpu)
    return best, results


def _chunk_products(knn, Q):
    """Only the float32 chunk products of skcv's L2 pass, on one thread.

    The same shapes as the search (tasks of up to ``_L2_TASK_QUERIES``
    queries times ``_L2_CHUNK_TRAIN`` training rows, on the columns that
    vary over the training rows): what the search costs before any
    selection, re-ranking or copying. The queries are prepared by the caller.
    """
    Xs = knn._index.Xs
    tq, tc = _distances._L2_TASK_QUERIES, _distances._L2_CHUNK_TRAIN
    rows_per_task = -(-len(Q) // -(-len(Q) // tq))
    buffer = np.empty(rows_per_task * min(tc, len(Xs)), dtype=np.float32)
    for i in range(0, len(Q), rows_per_task):
        q = Q[i : i + rows_per_task]
        for j in range(0, len(Xs), tc):
            x = Xs[j : j + tc]
            np.dot(q, x.T, out=buffer[: len(q) * len(x)].reshape(len(q), len(x)))


def _faiss_l2_rows(name, X, y, Q, threads, ks, repeat):
    """skcv L2 predict against faiss IndexFlatL2 search, side by side.

    On one thread the bare chunk products of skcv's search run in the same
    rotation, in CPU time: the part of skcv's time that is BLAS.
    """
    import faiss

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(X)  # built outside the timing
    rows = []
    for n_threads in threads:
        faiss.omp_set_num_threads(n_threads)
        for k in ks:
            knn = NearestNeighbor(k, n_jobs=n_threads).fit(X, y)
            knn.predict(Q[:5])
            fns = {
                "faiss": lambda k=k: index.search(Q, k),
                "skcv": lambda knn=knn: knn.kneighbors(Q),
                "skcv predict": lambda knn=knn: knn.predict(Q),
            }
            if n_threads == 1:
                ix = knn._index
                kept = Q if ix.keep is None else Q[:, ix.keep]
                Q32 = (kept - ix.shift).astype(np.float32)
                fns["gemm"] = lambda knn=knn, Q32=Q32: _chunk_products(knn, Q32)
            cpu = {}
            with threadpool_limits(limits=n_threads, user_api="blas"):
                best, res = _alternate(fns, repeat, cpu)
            same = np.mean(res["faiss"][1] == res["skcv"][1])
            gemm = f"{cpu['gemm']:.2f} s" if "gemm" in cpu else "-"
            rows.append(
                [
                    name,
                    n_threads,
                    k,
                    _fmt(best["faiss"]),
                    _fmt(best["skcv"]),
                    _fmt(best["skcv predict"]),
                    f"{best['skcv predict'] / best['faiss']:.2f}",
                    f"{cpu['faiss']:.2f} s / {cpu['skcv predict']:.2f} s",
                    f"{cpu['skcv predict'] / cpu['faiss']:.2f}",
                    gemm,
                    f"{same:.4f}",
                ]
            )
            print(" | ".join(map(str, rows[-1])), flush=True)
    return rows


def _faiss_l1_rows(name, X, X8, y, Q, Q8, n_threads, repeat):
    """skcv L1 predict (float32 and uint8) against faiss METRIC_L1, k=1."""
    import faiss

    index = faiss.IndexFlat(X.shape[1], faiss.METRIC_L1)
    index.add(X)
    faiss.omp_set_num_threads(n_threads)
    knn = NearestNeighbor(1, metric="l1", n_jobs=n_threads).fit(X, y)
    knn8 = NearestNeighbor(1, metric="l1", n_jobs=n_threads).fit(X8, y)
    knn.predict(Q[:5])
    knn8.predict(Q8[:5])
    best, _ = _alternate(
        {
            "faiss": lambda: index.search(Q, 1),
            "float32": lambda: knn.predict(Q),
            "uint8": lambda: knn8.predict(Q8),
        },
        repeat,
    )
    return [
        [
            name,
            n_threads,
            _fmt(best["faiss"]),
            _fmt(best["float32"]),
            f"{best['faiss'] / best['float32']:.1f}x",
            _fmt(best["uint8"]),
            f"{best['faiss'] / best['uint8']:.1f}x",
        ]
    ]


def _knn_kept(X):
    """How many columns skcv's L2 ranking keeps (those not constant over X)."""
    return int(np.count_nonzero((X[:1] != X).any(axis=0)))


def _pooled_share(name, X, Q, ks=(1, 10)):
    """Print the stride of the pooled L2 pass and the share of queries it settles."""
    index = NearestNeighbor().fit(X, np.zeros(len(X), dtype=int))._index
    if index.pool_stride is None:
        print(f"{name}: no pooled L2 pass (too few rows, or too little kept)")
        return
    Q64 = np.asarray(Q, dtype=np.float64)
    X_read = _distances._read_only(index.X)
    shares = []
    for k in ks:
        n_cand = _distances._n_pooled_candidates(k, X.shape[1])
        _, _, ok = _distances._pooled_l2_search(Q64, X_read, index, k, n_cand)
        shares.append(f"k={k} {ok.mean():.1%} ({n_cand} candidates)")
    print(
        f"{name}: pooled L2 pass on pairs {index.pool_stride} features apart; "
        f"queries it settles: {', '.join(shares)}"
    )


def peers_section(quick, rounds=1, l2=True):
    """faiss as the peer: L2 (1 and 2 threads, k=1 and 10) and L1, side by side.

    ``rounds`` repeats the L2 comparison (each round already the best of
    several alternating runs) and sums up the spread of its CPU ratios;
    ``l2=False`` skips it.
    """
    X8, y, Q8, _, source = load_mnist(
        n_train=10_000 if quick else 60_000, n_test=500 if quick else 2_000
    )
    X8, Q8 = X8.reshape(len(X8), -1), Q8.reshape(len(Q8), -1)
    X, Q = X8.astype(np.float32) / 255, Q8.astype(np.float32) / 255
    C8, cy, csource = load_cifar10(n=10_000)
    C8 = C8.reshape(len(C8), -1)
    C = C8.astype(np.float32) / 255
    n_cq = 500 if quick else 1_000
    repeat = 2 if quick else 3
    print(
        f"## Against faiss (load average {os.getloadavg()[0]:.1f} at the start)\n\n"
        f"MNIST: {source}, {len(Q)} queries x {len(X)} training rows; CIFAR-10: "
        f"{csource}, the first {n_cq} of the shuffled test images as queries "
        f"against the other {len(C) - n_cq}. float32 in [0, 1]; faiss "
        f"`IndexFlatL2` / `IndexFlat(METRIC_L1)` built outside the timing; the "
        f"same thread count for both (faiss.omp_set_num_threads, skcv n_jobs); "
        f"best of {repeat} alternating runs. ratio = skcv predict / faiss search "
        f"(goal <= 1.0), in wall time and in CPU time of the process (which "
        f"counts the work and any spinning, not the waits for cores that other "
        f"jobs hold). skcv's ranking uses {_knn_kept(X)} of {X.shape[1]} MNIST "
        f"and {_knn_kept(C[n_cq:])} of {C.shape[1]} CIFAR-10 columns (the others "
        f"are constant over the training rows).\n"
    )
    if l2:
        _pooled_share("MNIST", X, Q)
        _pooled_share("CIFAR-10", C[n_cq:], C[:n_cq])
        print()
    rows = []
    for r in range(rounds if l2 else 0):
        if rounds > 1:
            print(f"round {r + 1} of {rounds}, load {os.getloadavg()[0]:.1f}")
        rows += _faiss_l2_rows("MNIST", X, y, Q, (1, 2), (1, 10), repeat)
        rows += _faiss_l2_rows(
            "CIFAR-10", C[n_cq:], cy[n_cq:], C[:n_cq], (1, 2), (1, 10), repeat
        )
    print()
    print(
        ""
        if not rows
        else markdown_table(
            [
                "data",
                "threads",
                "k",
                "faiss search",
                "skcv kneighbors",
                "skcv predict",
                "ratio",
                "CPU faiss / skcv predict",
                "CPU ratio",
                "CPU of skcv's GEMMs",
                "same neighbours",
            ],
            rows,
        )
    )
    if rounds > 1 and rows:
        spread = {}
        for row in rows:
            spread.setdefault(tuple(row[:3]), []).append(float(row[8]))
        print(f"\nCPU ratio over {rounds} rounds (goal <= 1.0):\n")
        print(
            markdown_table(
                ["data", "threads", "k", "min", "median", "max", "rounds met"],
                [
                    [
                        *case,
                        f"{min(r):.2f}",
                        f"{np.median(r):.2f}",
                        f"{max(r):.2f}",
                        f"{sum(x <= 1.0 for x in r)} of {len(r)}",
                    ]
                    for case, r in spread.items()
                ],
            )
        )
    n_l1 = 200 if quick else 500
    l1_rows = _faiss_l1_rows(
        "MNIST", X, X8, y, Q[:n_l1], Q8[:n_l1], 2, 1 if quick else 2
    )
    l1_rows += _faiss_l1_rows(
        "CIFAR-10",
        C[n_cq:],
        C8[n_cq:],
        cy[n_cq:],
        C[: n_l1 // 2],
        C8[: n_l1 // 2],
        2,
        1 if quick else 2,
    )
    print(
        f"\nL1, k=1, 2 threads, {n_l1} MNIST / {n_l1 // 2} CIFAR queries "
        "(goal >= 5x):\n"
    )
    print(
        markdown_table(
            [
                "data",
                "threads",
                "faiss METRIC_L1",
                "skcv float32",
                "speed-up",
                "skcv uint8",
                "speed-up",
            ],
            l1_rows,
        )
    )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}\n", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller arrays")
    parser.add_argument(
        "--peers-only", action="store_true", help="only the comparison with faiss"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the L2 comparison with faiss this many times",
    )
    parser.add_argument(
        "--l1-only",
        action="store_true",
        help="of the comparison with faiss, only L1 (implies --peers-only)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        n_train, n_queries, n_subset, repeat = 10_000, 500, 100, 2
        sizes = [1_000, 10_000]
    else:
        n_train, n_queries, n_subset, repeat = 60_000, 2_000, 200, 3
        sizes = [1_000, 10_000, 60_000]

    print_header("k-nearest neighbours (bench_knn.py)")
    peers_section(args.quick, args.rounds, l2=not args.l1_only)
    if args.peers_only or args.l1_only:
        return
    X8, y, Q8, yq, source = load_mnist(n_train=n_train, n_test=n_queries)
    X8, Q8 = X8.reshape(len(X8), -1), Q8.reshape(len(Q8), -1)
    X, Q = X8.astype(np.float32) / 255, Q8.astype(np.float32) / 255
    print(f"data: {source}; {X.shape[0]} training rows x {X.shape[1]} features,")
    print(f"{Q.shape[0]} queries; float32 pixels in [0, 1] unless said uint8.")
    budget = NearestNeighbor().block_memory_mib
    print(f"skcv block budget: {budget} MiB (default block_memory_mib)\n")

    # Warm up: compile (or load from numba's cache) every kernel used below.
    for metric, Xw, Qw in [("l2", X, Q), ("l1", X, Q), ("l1", X8, Q8)]:
        NearestNeighbor(3, metric=metric).fit(Xw[:500], y[:500]).predict(Qw[:5])

    # ----------------------------------------------------------------- L2
    # GEMM and skcv alternate, so that both see the same machine load.
    knn = NearestNeighbor(1).fit(X, y)
    t_gemm = t_l2 = float("inf")
    with _FallbackCounter() as fallback:
        for _ in range(repeat):
            t_gemm = min(t_gemm, best_time(lambda: Q @ X.T, repeat=1)[0])
            t, pred = best_time(lambda knn=knn: knn.predict(Q), repeat=1)
            t_l2 = min(t_l2, t)
    ours = {("l2", 1): (t_l2, pred, fallback.rows // repeat)}
    ours["l2", 3] = (None, knn.set_params(n_neighbors=3).predict(Q), None)
    knn.set_params(n_neighbors=1)
    with traced_memory() as mem_l2:
        knn.predict(Q)
    sk = KNeighborsClassifier(1, algorithm="brute").fit(X, y)
    t_sk_l2, pred_sk_l2 = best_time(lambda: sk.predict(Q), repeat=1)
    pred_sk_l2_k3 = sk.set_params(n_neighbors=3).predict(Q)

    print(f"## L2, {Q.shape[0]} queries x {X.shape[0]} training rows, k=1\n")
    print(
        markdown_table(
            ["method", "time", "ratio to GEMM"],
            [
                ["float32 GEMM Q @ X.T (floor)", _fmt(t_gemm), "1.00"],
                ["skcv NearestNeighbor predict", _fmt(t_l2), f"{t_l2 / t_gemm:.2f}"],
                [
                    "sklearn KNeighborsClassifier brute predict",
                    _fmt(t_sk_l2),
                    f"{t_sk_l2 / t_gemm:.2f}",
                ],
            ],
        )
    )
    print(
        f"\nskcv is {t_sk_l2 / t_l2:.1f}x faster than sklearn; peak extra memory "
        f"of one skcv predict (tracemalloc): "
        f"{mem_l2['peak_mib']:.0f} MiB for a {budget} MiB block budget; "
        f"queries needing the exhaustive float64 search: {ours['l2', 1][2]}.\n"
    )

    # ----------------------------------------------------------------- L1
    sub = slice(0, n_subset)
    rows = []
    for name, Xw, Qw in [("float32", X, Q), ("uint8 (exact int32)", X8, Q8)]:
        knn = NearestNeighbor(1, metric="l1").fit(Xw, y)
        with _FallbackCounter() as fallback:
            t_full, pred = best_time(lambda knn=knn, Qw=Qw: knn.predict(Qw), repeat=1)
        t_sub, _ = best_time(lambda knn=knn, Qw=Qw: knn.predict(Qw[sub]), repeat=2)
        ours["l1 " + name, 1] = (t_full, pred, fallback.rows)
        ours["l1 " + name, 3] = (
            None,
            knn.set_params(n_neighbors=3).predict(Qw),
            None,
        )
        rows.append([f"skcv predict, {name}", _fmt(t_full), _fmt(t_sub), t_sub])
    knn = NearestNeighbor(1, metric="l1").fit(X8, y)
    with traced_memory() as mem_l1:
        knn.predict(Q8)
    sk1 = KNeighborsClassifier(1, algorithm="brute", p=1).fit(X, y)
    t_sk_sub, pred_sk_l1 = best_time(lambda: sk1.predict(Q[sub]), repeat=1)
    pred_sk_l1_k3 = sk1.set_params(n_neighbors=3).predict(Q[sub])
    scale = Q.shape[0] / n_subset
    print(f"## L1, k=1 (sklearn timed on the first {n_subset} queries only)\n")
    table = [
        [
            "sklearn KNeighborsClassifier brute p=1",
            f"{_fmt(t_sk_sub * scale)} (scaled x{scale:.0f})",
            _fmt(t_sk_sub),
            "1.0",
        ]
    ]
    table += [
        [r[0], r[1], r[2], f"{t_sk_sub / r[3]:.1f}x faster" if r[3] else "-"]
        for r in rows
    ]
    print(
        markdown_table(
            [
                "method",
                f"{Q.shape[0]} queries",
                f"{n_subset} queries",
                f"speed-up on {n_subset}",
            ],
            table,
        )
    )
    print(
        f"\nfull-run speed-up against sklearn's scaled time: float32 "
        f"{t_sk_sub * scale / ours['l1 float32', 1][0]:.1f}x, uint8 "
        f"{t_sk_sub * scale / ours['l1 uint8 (exact int32)', 1][0]:.1f}x; "
        f"peak extra memory of one skcv uint8 predict: {mem_l1['peak_mib']:.0f} "
        f"MiB; queries needing the float64 search: float32 "
        f"{ours['l1 float32', 1][2]}, uint8 none by design.\n"
    )

    # ----------------------------------------------------------- accuracy
    print("## Accuracy and agreement with sklearn\n")
    acc_rows = []
    for label, key, ref1, ref3, n in [
        ("L2, float32", "l2", pred_sk_l2, pred_sk_l2_k3, Q.shape[0]),
        ("L1, float32", "l1 float32", pred_sk_l1, pred_sk_l1_k3, n_subset),
        ("L1, uint8", "l1 uint8 (exact int32)", pred_sk_l1, pred_sk_l1_k3, n_subset),
    ]:
        for k, ref in ((1, ref1), (3, ref3)):
            pred = ours[key, k][1]
            acc_rows.append(
                [
                    label,
                    k,
                    f"{np.mean(pred == yq):.4f}",
                    f"{np.mean(pred[:n] == ref):.4f} ({n} queries)",
                ]
            )
    print(
        markdown_table(
            ["metric, input", "k", "accuracy", "agreement with sklearn"], acc_rows
        )
    )
    print()

    # ------------------------------------------------------- one thread
    _single_thread_section(
        X, y, Q, X8, Q8, n_l2=n_queries // 4, n_l1=n_subset // 2, repeat=2
    )

    # ------------------------------------------------------------ scaling
    print("## Scaling (k=1, predict time; ns per query x training-row pair)\n")
    scale_rows = []
    pool8 = np.concatenate([X8, Q8])
    pool = pool8.astype(np.float32) / 255
    # n_train grows with 1,000 queries, then n_queries with 1,000 training
    # rows, plus the 10,000 x 10,000 corner.
    small = sizes[0]
    cases = [(n_t, small) for n_t in sizes] + [(small, n_q) for n_q in sizes]
    cases.append((sizes[1], sizes[1]))
    for n_t, n_q in dict.fromkeys(cases):
        if n_q > len(pool):
            continue
        cells = [f"{n_t:,}", f"{n_q:,}"]
        # Training rows come from the start of the pool, queries from its end.
        for metric, data in (("l2", pool), ("l1", pool8)):
            knn = NearestNeighbor(1, metric=metric).fit(data[:n_t], np.zeros(n_t))
            queries = data[-n_q:]
            t, _ = best_time(lambda knn=knn, q=queries: knn.predict(q), repeat=1)
            cells += [_fmt(t), f"{t / (n_t * n_q) * 1e9:.2f}"]
        scale_rows.append(cells)
    print(
        markdown_table(
            [
                "n_train",
                "n_queries",
                "L2 float32",
                "L2 ns/pair",
                "L1 uint8",
                "L1 ns/pair",
            ],
            scale_rows,
        )
    )


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"\ntotal wall time: {time.perf_counter() - t0:.0f} s")
