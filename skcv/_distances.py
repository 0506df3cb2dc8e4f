"""Blocked k-nearest-neighbour search under the L1 and L2 distances.

The search runs in two passes over each block of queries:

1. An approximate pass ranks every training row in float32: for L2 through
   one BLAS GEMM (``||b||^2 - 2 a.b``, on data centred on the training mean),
   for L1 through a compiled kernel tiled over queries x training rows. A
   compiled selection kernel keeps the ``m > k`` best candidates of each
   query with a bounded heap, so no full sort and no index array the size of
   the block is ever built.
2. The candidates are re-ranked with exact float64 distances computed from
   the original rows. A rigorous bound on the float32 rounding error then
   certifies, per query, that no row outside the candidates can be nearer
   than the k-th; the rare query that cannot be certified is searched again
   exhaustively in float64. The neighbours returned are therefore those of
   the exact float64 distances, ties broken by the lower training index.

Under L2, rows whose neighbouring features vary together (flattened
images) first go through a pooled pass (:func:`_pooled_l2_search`): pairs
of features averaged into one give a lower bound on every distance at half
the cost of the ranking; the rows of smallest bound are re-ranked exactly,
and the bound settles most queries. The others take the two passes above.

uint8 rows under L1 skip the second pass: their distances are accumulated
exactly in int32 (sums of absolute differences of bytes: ``psadbw`` on x86,
in register blocks written out in ``skcv._simd`` where the CPU has AVX2),
so the selection is exact already.

Every function here is pure: arrays in, arrays out, no estimator state.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit, prange

from . import _simd
from ._simd import _GQ, _GX, _sad_1x1, _sad_4x2
from ._threadpool import _limit_blas_threads

# Unit roundoff of float32.
_U32 = 2.0**-24
# Bytes of the approximate-distance block per (query, training row) pair.
_BLOCK_ITEMSIZE = 4
# Tile sizes of the L1 kernels: a tile of training rows stays in the L2 cache
# while every query of the block is compared with it.
_L1_TILE_QUERIES = 32
_L1_TILE_TRAIN_FLOAT = 64
_L1_TILE_TRAIN_UINT8 = 128
_L1_GROUP_UINT8 = 4
# Float32 L1 kernels may reassociate sums (that is what lets them vectorise);
# the error bound below holds for any summation order.
_FASTMATH = {"reassoc", "nsz", "contract", "arcp"}
_SENTINEL = np.iinfo(np.int64).max
# Columns screened at once by the top-k selection.
_SCREEN_CHUNK = 128
# The L2 pass: queries per worker task and training rows per chunk product.
# A task's chunk of products (at most 512 x 2048 float32, 4 MiB) is folded
# into its heaps right after the GEMM wrote it, from cache.
_L2_TASK_QUERIES = 512
_L2_CHUNK_TRAIN = 2048
# Columns screened at once when a chunk product is folded into the heaps:
# shorter than _SCREEN_CHUNK because on a few thousand training rows most
# screens find a candidate, and each hit costs a scalar pass over its
# columns (CIFAR-10, 1,000 x 9,000: 16 ms for the fold with 128, 13 with 32).
_L2_SCREEN_CHUNK = 32
# The pooled L2 pass (see _pool_stride): pooling is used when the pairs it
# averages keep at least this share of the squared differences between
# training rows (pixels next to each other: 0.87 on MNIST, 0.97 on
# CIFAR-10; 0.50 for independent features), on rows of at least
# _POOL_MIN_FEATURES, and when the training rows times their features come
# to at least _POOL_MIN_WORK per candidate: the pass halves the products,
# which grow with both, but re-ranks its candidates exactly and keeps longer
# heaps, which do not shrink with the features. Measured, one thread, 1 and
# 10 neighbours: on MNIST's 784 features it cost more than it saved below
# about 30,000 training rows (0.56x-0.61x the full pass's speed at 5,000,
# 0.99x-1.10x at 30,000, 1.2x-1.3x at 60,000; 129-138 candidates); on
# CIFAR-10's 3,072 it gained from 2,500 rows on (1.3x; 43-52 candidates).
_POOL_MIN_KEPT = 0.85
_POOL_MIN_FEATURES = 64
_POOL_MIN_WORK = 2**18


class _Index(NamedTuple):
    """Training rows prepared for the search (see :func:`_build_index`)."""

    X: np.ndarray  # original rows: uint8, float32 or float64, C order
    metric: str  # "l1" or "l2"
    Xs: np.ndarray  # rows for the approximate pass: float32, or X itself
    shift: np.ndarray | None  # float64 offset subtracted to build Xs
    x_sq_norms: np.ndarray | None  # float32 ||Xs_j||^2 (L2 only)
    x_scale: float  # L2: max ||Xs_j||^2; L1: max rounding error of Xs rows
    # L2 only: the columns of X that Xs keeps (None: all of them), and the
    # columns left out, constant over the training rows, with their values.
    keep: np.ndarray | None = None
    const_cols: np.ndarray | None = None
    const_vals: np.ndarray | None = None
    # L1 on float rows that sit on a grid of 256 levels (pixels scaled by
    # 1/255, or 0-255 stored as floats): the levels as uint8 ``codes``, the
    # grid ``(lowest level, step)``, and ``codes_err``, the largest L1
    # distance of a row from its levels (float rounding only).
    codes: np.ndarray | None = None
    grid: tuple | None = None
    codes_err: float = 0.0
    # L2 on rows whose neighbouring features vary together (pixels): pairs
    # of features ``stride`` apart averaged into one (see _pool_stride), for
    # a pass that bounds every distance from below at half the cost. The
    # pooled rows are centred on ``pool_shift`` (the mean of all columns).
    pool_stride: int | None = None
    pool_shift: np.ndarray | None = None
    Ps: np.ndarray | None = None
    p_sq_norms: np.ndarray | None = None
    p_scale: float = 0.0


def _n_candidates(k, n_available, exact):
    """How many approximate candidates to keep per query for a final k."""
    if exact:
        return k
    return min(n_available, k + max(k, 8))


def _query_block_rows(n_train, n_features, n_candidates, block_memory_mib, metric="l1"):
    """Queries per block so that one block's work arrays fit the budget.

    Per query a block holds one row of approximate distances to every training
    row (``4 * n_train`` bytes; for L2 only to the training rows of one chunk
    product, see :func:`_l2_candidates`), the query as given in float64,
    centred in float64 and in float32 (20 bytes per feature), and its
    candidates (value and index, 16 bytes each). For L2 also what the pooled
    pass holds (see :func:`_pooled_l2_search`): its candidates (at most
    ``_n_pooled_candidates(n_candidates, n_features)``) and, while it hands
    unsettled queries on to the full pass, their float64 copy (8 bytes per
    feature). For L1 also its levels (1 byte per feature) and their
    rounding (8 bytes), see :func:`_l1_grid_candidates`.
    """
    if metric == "l2":
        n_cols, per_feature = min(n_train, _L2_CHUNK_TRAIN), 28
        extra = 16 * _n_pooled_candidates(n_candidates, n_features)
    else:
        n_cols, per_feature, extra = n_train, 21, 8
    per_query = (
        _BLOCK_ITEMSIZE * n_cols + per_feature * n_features + 16 * n_candidates + extra
    )
    return max(1, int(block_memory_mib * 2**20) // per_query)


def _storage_dtype(dtype):
    """dtype in which the training rows are kept: uint8, float32 or float64."""
    if dtype == np.uint8:
        return np.uint8
    if dtype in (np.float32, np.float16):
        return np.float32
    return np.float64


def _build_index(X, metric):
    """Prepare training rows for :func:`_topk_neighbors`.

    Parameters
    ----------
    X : ndarray of shape (n_train, n_features)
        Finite training rows. uint8 is kept as is, float32 as float32, every
        other dtype becomes float64.
    metric : {"l1", "l2"}
        The distance.

    Returns
    -------
    index : _Index
        The rows, and the float32 working copy of the approximate pass: for
        L2 always centred on the training mean (so ``||a||^2 + ||b||^2`` does
        not dwarf the distance when the data sit far from the origin); for L1
        centred only when the rows cannot be held exactly in float32.
    """
    X = np.ascontiguousarray(X, dtype=_storage_dtype(X.dtype))
    if not X.flags.writeable:
        # A read-only copy would make numba compile every kernel once more.
        X = X.copy()
    if metric == "l2":
        # A column constant over the training rows adds the same amount to
        # every distance of a query: the ranking ignores it (MNIST has dozens
        # of always-black pixels), the exact distances still count it.
        varies = np.flatnonzero(np.ptp(X, axis=0))
        keep = const_cols = const_vals = None
        if varies.size < X.shape[1]:
            if varies.size == 0:
                varies = np.arange(1)
            keep = varies
            const_cols = np.setdiff1d(np.arange(X.shape[1]), keep)
            const_vals = X[0, const_cols].astype(np.float64)
        mean = X.mean(axis=0, dtype=np.float64)
        shift = mean if keep is None else mean[keep]
        Xs = _shifted_float32(X, shift, keep)
        x_sq_norms = np.einsum("ij,ij->i", Xs, Xs, dtype=np.float64)
        x_scale = float(x_sq_norms.max())
        pooled = {}
        # Pooled rows only where the pass can pay for its fewest candidates.
        stride = None
        if _pooled_pass_pays(*X.shape, _n_pooled_candidates(1, X.shape[1])):
            stride = _pool_stride(X)
        if stride is not None:
            Ps = _pool_rows(X, stride, mean, np.float32)
            p_sq_norms = np.einsum("ij,ij->i", Ps, Ps, dtype=np.float64)
            pooled = {
                "pool_stride": stride,
                "pool_shift": mean,
                "Ps": Ps,
                "p_sq_norms": p_sq_norms.astype(np.float32),
                "p_scale": float(p_sq_norms.max()),
            }
        return _Index(
            X,
            metric,
            Xs,
            shift,
            x_sq_norms.astype(np.float32),
            x_scale,
            keep,
            const_cols,
            const_vals,
            **pooled,
        )
    codes, grid, codes_err = _l1_grid(X)
    on_grid = {"codes": codes, "grid": grid, "codes_err": codes_err}
    if X.dtype == np.float64:
        shift = X.mean(axis=0)
        Xs = _shifted_float32(X, shift)
        # Rounding the centred rows to float32 moves an L1 distance by at
        # most u * ||x - shift||_1 per side.
        x_scale = _U32 * float(np.abs(Xs).sum(axis=1, dtype=np.float64).max())
        return _Index(X, metric, Xs, shift, None, x_scale * (1 + 1e-6), **on_grid)
    return _Index(X, metric, X, None, None, 0.0, **on_grid)


def _pool_rows(A, stride, shift=None, dtype=np.float64):
    """Average pairs of features ``stride`` apart: ``(n, d)`` to ``(n, d / 2)``.

    Features ``i`` and ``i + stride`` with ``i // stride`` even become
    ``(a_i + a_{i + stride}) / sqrt(2)``, the projection on orthonormal
    vectors: the squared L2 norm of a pooled difference is at most that of
    the difference itself, since ``(a + b)^2 / 2 <= a^2 + b^2``. On
    images whose flattened pixels (or channels) ``stride`` apart are
    neighbours, it keeps most of it. The rows are centred on ``shift``
    first; sums are taken in float64 and stored in ``dtype``.
    """
    n, d = A.shape
    if shift is None:
        shift = np.zeros(d)
    out = np.empty((n, d // 2), dtype=dtype)
    _pool_kernel(A, np.asarray(shift, dtype=np.float64), stride, out)
    return out


@njit(parallel=True, cache=True)
def _pool_kernel(A, shift, stride, out):
    scale = np.sqrt(0.5)
    n_pairs = out.shape[1] // stride
    for i in prange(A.shape[0]):
        for b in range(n_pairs):
            first = 2 * b * stride
            for j in range(stride):
                f = first + j
                a = np.float64(A[i, f]) - shift[f]
                c = np.float64(A[i, f + stride]) - shift[f + stride]
                out[i, b * stride + j] = (a + c) * scale


def _pool_stride(X):
    """The stride of :func:`_pool_rows` that keeps the most of the distances.

    Tried on the differences of random pairs of training rows (512, fewer
    on very long rows; a fixed sample: the same rows give the same index),
    over every stride that tiles the features; returns None when the best
    keeps less than
    ``_POOL_MIN_KEPT`` of their squared norms (features that do not vary
    with their neighbours), or when the rows are too short or of an odd
    length.
    """
    n, d = X.shape
    if n < 2 or d < _POOL_MIN_FEATURES or d % 2:
        return None
    rng = np.random.RandomState(0)
    n_pairs = min(512, max(16, 2**22 // d))  # at most 32 MiB of differences
    diffs = X[rng.randint(0, n, n_pairs)].astype(np.float64)
    diffs -= X[rng.randint(0, n, n_pairs)]
    total = np.einsum("ij,ij->", diffs, diffs)
    if not total > 0:
        return None
    best, best_kept = None, _POOL_MIN_KEPT
    for stride in range(1, d // 2 + 1):
        if d % (2 * stride) == 0:
            pooled = _pool_rows(diffs, stride)
            kept = np.einsum("ij,ij->", pooled, pooled) / total
            if kept >= best_kept:
                best, best_kept = stride, kept
    return best


def _l1_grid(X):
    """``(codes, grid, codes_err)`` of float rows on 256 levels, else Nones.

    Image data often hold 256 evenly spaced values (uint8 pixels divided by
    255, or kept as 0-255 floats). Their L1 distances are then, up to float
    rounding, ``step`` times sums of absolute differences of the levels,
    which the ``psadbw`` kernels of ``skcv._simd`` compute several times
    faster than a float kernel. The rows qualify when every row lies within
    a quarter step (in L1 distance) of its levels; only where that kernel
    runs (AVX2, rows of at least 32 values).
    """
    none = (None, None, 0.0)
    n, d = X.shape
    if X.dtype == np.uint8 or not _simd._HAS_AVX2 or n == 0 or d < 32:
        return none
    if 255 * d >= 2**31:  # the int32 sums would overflow
        return none
    lo, hi = float(X.min()), float(X.max())
    step = (hi - lo) / 255
    if not step > 0 or not np.isfinite(step):
        return none
    # Most data that are off the levels show it in a few rows: those are
    # tried first, before a pass over all of them.
    sample = X[:: max(1, n // 256)]
    codes = np.empty(sample.shape, dtype=np.uint8)
    err = np.empty(len(sample), dtype=np.float64)
    _quantize_rows(sample, lo, step, codes, err)
    if not err.max() <= step / 4:
        return none
    codes = np.empty(X.shape, dtype=np.uint8)
    err = np.empty(n, dtype=np.float64)
    _quantize_rows(X, lo, step, codes, err)
    codes_err = float(err.max())
    if not codes_err <= step / 4:
        return none
    return codes, (lo, step), codes_err


@njit(parallel=True, cache=True)
def _quantize_rows(X, lo, step, codes, err):
    """Nearest of the levels ``lo + c * step`` (c in 0..255) of each value.

    ``err[i]`` is the L1 distance of row i from its levels, in float64.
    """
    inv = 1.0 / step
    for i in prange(X.shape[0]):
        e = 0.0
        for j in range(X.shape[1]):
            x = np.float64(X[i, j])
            c = min(max(np.floor((x - lo) * inv + 0.5), 0.0), 255.0)
            codes[i, j] = np.uint8(c)
            e += abs(x - (lo + c * step))
        err[i] = e


def _shifted_float32(X, shift, keep=None, chunk_rows=4096):
    """float32 ``X[:, keep] - shift``, in float64 a chunk of rows at a time."""
    out = np.empty((X.shape[0], len(shift)), dtype=np.float32)
    for start in range(0, X.shape[0], chunk_rows):
        rows = slice(start, start + chunk_rows)
        out[rows] = (X[rows] if keep is None else X[rows][:, keep]) - shift
    return out


def _gamma(n):
    """Higham's gamma_n = n u / (1 - n u) for float32."""
    return n * _U32 / (1 - n * _U32)


def _topk_neighbors(Q, index, k, *, block_rows, exclude_self=False):
    """Exact k nearest training rows of each query, in blocks of queries.

    Parameters
    ----------
    Q : ndarray of shape (n_queries, n_features) or None
        Finite queries (any real dtype). None means the training rows
        themselves, each excluded from its own neighbours.
    index : _Index
        Training rows from :func:`_build_index`.
    k : int
        Number of neighbours, at most the number of rows available.
    block_rows : int
        Queries per block; bounds the extra memory (see
        :func:`_query_block_rows`).
    exclude_self : bool, default=False
        Must be True exactly when ``Q`` is None.

    Returns
    -------
    distances : ndarray of shape (n_queries, k), float64
        True distances (square roots for L2), ascending.
    indices : ndarray of shape (n_queries, k), int64
        Training rows; equal distances are ordered by the lower index.
    """
    X = index.X
    n_train, n_features = X.shape
    from_train = Q is None
    n_queries = n_train if from_train else Q.shape[0]
    n_available = n_train - 1 if exclude_self else n_train
    exact_int = (
        index.metric == "l1"
        and X.dtype == np.uint8
        and (from_train or Q.dtype == np.uint8)
        and 255 * n_features < 2**31
    )
    # Whether the float32 queries of the L1 pass equal the queries exactly.
    q_exact = index.shift is None and (from_train or Q.dtype in (np.float32, np.uint8))
    m = _n_candidates(k, n_available, exact_int)
    distances = np.empty((n_queries, k), dtype=np.float64)
    indices = np.empty((n_queries, k), dtype=np.int64)
    n_block = min(block_rows, n_queries)
    # L2 folds small chunks of products into the heaps (see _l2_candidates)
    # and needs no block of distances.
    block_cols = 0 if index.metric == "l2" else n_train
    block = np.empty((n_block, block_cols), dtype=np.float32)
    if exact_int:
        block = block.view(np.int32)
    cand_val = np.empty((n_block, m), dtype=np.float64)
    cand_idx = np.empty((n_block, m), dtype=np.int64)

    for start in range(0, n_queries, block_rows):
        stop = min(start + block_rows, n_queries)
        nb = stop - start
        rows = slice(start, stop)
        self_offset = start if exclude_self else -1
        vals, idx = cand_val[:nb], cand_idx[:nb]
        out = block[:nb]

        if exact_int:
            Qb = X[rows] if from_train else np.array(Q[rows], order="C")
            _l1_distances_uint8(Qb, X, out)
            _select_topk(out, self_offset, vals, idx)
            distances[rows], indices[rows] = vals, idx
        else:
            distances[rows], indices[rows] = _search_block(
                X[rows] if from_train else Q[rows],
                index.Xs[rows] if from_train else None,
                index,
                k,
                out,
                vals,
                idx,
                self_offset=self_offset,
                certify=m < n_available,
                q_exact=q_exact,
            )

    if index.metric == "l2":
        np.sqrt(distances, out=distances)
    return distances, indices


def _search_block(
    queries, Q32, index, k, out, vals, idx, *, self_offset, certify, q_exact
):
    """Both passes over one block of queries; distances squared for L2.

    Under L2 with pooled rows, the pooled pass comes first and only the
    queries it leaves unsettled take the two passes (queries that are the
    training rows themselves skip it: their self-exclusion goes by position
    in the block, which a subset of the block would lose). ``Q32`` is the
    float32 working copy of the queries when it exists
    already (queries taken from the training rows), else None. The work
    arrays ``out``, ``vals`` and ``idx`` are reused from block to block; the
    query copies made here are freed on return, before the next block makes
    its own.
    """
    X = _read_only(index.X)
    n_train, n_features = X.shape
    metric_code = 2 if index.metric == "l2" else 1
    Q64 = np.array(queries, dtype=np.float64, order="C")
    n_pooled = _n_pooled_candidates(k, n_features)
    if (
        index.Ps is not None
        and self_offset < 0
        and certify
        and _pooled_pass_pays(n_train, n_features, n_pooled)
    ):
        pvals, pidx, ok = _pooled_l2_search(Q64, X, index, k, n_pooled)
        redo = np.flatnonzero(~ok)
        if redo.size:
            # Queries the pooled bound could not settle: the full pass.
            pvals[redo, :k], pidx[redo, :k] = _search_block(
                Q64[redo],
                None,
                index._replace(Ps=None),
                k,
                out[: redo.size],
                vals[: redo.size],
                idx[: redo.size],
                self_offset=-1,
                certify=certify,
                q_exact=q_exact,
            )
        return pvals[:, :k], pidx[:, :k]
    if index.keep is None:
        centred = Q64 if index.shift is None else Q64 - index.shift
    else:
        # The selection is a copy already: centre it in place.
        centred = Q64[:, index.keep]
        centred -= index.shift
    if Q32 is None and index.codes is None:
        # (Queries ranked on the L1 levels need no float32 copy.)
        Q32 = centred.astype(np.float32)
    margin = None

    if index.metric == "l2":
        _l2_candidates(Q32, index, self_offset, vals, idx)
        q_sq_norms = np.einsum("ij,ij->i", centred, centred)
        # The float32 ranking value ||b||^2 - 2 a.b is within err of the
        # exact ||a - b||^2 - ||a||^2 over the kept columns (see
        # _l2_error_bound).
        err = _l2_error_bound(Q32.shape[1]) * (q_sq_norms + index.x_scale)
        floor = vals[:, -1] + q_sq_norms - err
        if index.const_cols is not None:
            # The constant columns add the same to the distance of every
            # training row; the factor covers the rounding of this sum.
            const = Q64[:, index.const_cols] - index.const_vals
            floor += np.einsum("ij,ij->i", const, const) * (1 - 1e-9)
        # A candidate whose ranking value exceeds the k-th by more than 2 err
        # is exactly farther than k others: the re-ranking skips it.
        margin = 2 * err
    else:
        floor = _l1_grid_candidates(Q64, index, out, self_offset, vals, idx)
        if floor is None:
            if Q32 is None:
                Q32 = centred.astype(np.float32)
            _l1_block(Q32, index.Xs, out)
            _select_topk(out, self_offset, vals, idx)
            q_err = 0.0
            if not q_exact:
                # Rounding the queries to float32 moves each distance by at
                # most u * ||q - shift||_1.
                q_err = _U32 * np.einsum("ij->i", np.abs(centred)) * (1 + 1e-6)
            floor = vals[:, -1] / (1 + _gamma(n_features + 1)) - q_err - index.x_scale

    if certify:
        # A non-finite bound (float32 overflow) certifies nothing.
        floor = np.where(np.isfinite(floor), floor, -np.inf)
    else:
        # Every available row is a candidate: nothing is left out.
        floor = np.full(len(Q64), np.inf)
    if margin is None:
        margin = np.full(len(Q64), np.inf)
    else:
        margin = np.where(np.isfinite(margin), margin, np.inf)
    ok = np.empty(len(Q64), dtype=np.bool_)
    _rerank_exact(Q64, X, idx, floor, margin, k, metric_code, vals, ok)
    redo = np.flatnonzero(~ok)
    if redo.size:
        self_rows = redo + self_offset if self_offset >= 0 else np.full(redo.size, -1)
        vals[redo, :k], idx[redo, :k] = _exact_topk(
            Q64[redo], X, self_rows, k, metric_code
        )
    return vals[:, :k], idx[:, :k]


def _n_pooled_candidates(k, n_features):
    """Candidates per query of the pooled L2 pass.

    More than the full pass keeps: the pooled bound is looser than the float32
    ranking, and every candidate costs one exact distance, so short rows
    can afford more of them (MNIST: 128 + k, CIFAR-10: 42 + k for k <= 21).
    """
    return k + max(2 * k, min(128, max(32, 131072 // n_features)))


def _pooled_pass_pays(n_train, n_features, n_cand):
    """Whether the pooled L2 pass saves more than its ``n_cand`` candidates
    cost (see ``_POOL_MIN_WORK``), and leaves most training rows out."""
    return n_train * n_features >= _POOL_MIN_WORK * n_cand and 4 * n_cand <= n_train


def _pooled_l2_search(Q64, X, index, k, n_cand):
    """Exact L2 neighbours found through pooled rows, where a bound allows.

    The pooled rows (see :func:`_pool_rows`) rank the training rows by a
    lower bound on their squared distance, at half the cost of the full
    ranking. The ``n_cand`` rows of smallest bound are re-ranked exactly.
    Every row left out has a bound, hence an exact distance, of at least the
    last candidate's bound less its float32 error (see
    :func:`_l2_error_bound`): when the k-th exact distance lies below that,
    the query is settled (``ok``). Returns squared distances and indices of
    the candidates, sorted, and ``ok``.
    """
    Pq = _pool_rows(Q64, index.pool_stride, index.pool_shift)
    vals = np.empty((len(Q64), n_cand), dtype=np.float64)
    idx = np.empty((len(Q64), n_cand), dtype=np.int64)
    pooled = index._replace(Xs=index.Ps, x_sq_norms=index.p_sq_norms)
    _l2_candidates(Pq.astype(np.float32), pooled, -1, vals, idx)
    pq_sq_norms = np.einsum("ij,ij->i", Pq, Pq)
    err = _l2_error_bound(Pq.shape[1]) * (pq_sq_norms + index.p_scale)
    floor = vals[:, -1] + pq_sq_norms - err
    # The rounding of sqrt(1/2) and of the float64 sums: far below 1e-9.
    floor -= 1e-9 * np.abs(floor)
    floor = np.where(np.isfinite(floor), floor, -np.inf)
    margin = np.full(len(Q64), np.inf)
    ok = np.empty(len(Q64), dtype=np.bool_)
    _rerank_exact(Q64, X, idx, floor, margin, k, 2, vals, ok)
    return vals, idx, ok


def _l1_grid_candidates(Q64, index, out, self_offset, vals, idx):
    """L1 candidates ranked on the grid's levels (see :func:`_l1_grid`).

    Returns the lower bound on the exact distance of every row left out
    (None when the index has no grid, or when a query lies off it by a
    quarter step or more: the float pass then ranks the block).
    """
    if index.codes is None:
        return None
    lo, step = index.grid
    codes = np.empty(Q64.shape, dtype=np.uint8)
    q_err = np.empty(len(Q64), dtype=np.float64)
    _quantize_rows(Q64, lo, step, codes, q_err)
    if not q_err.max(initial=0.0) <= step / 4:
        return None
    counts = out.view(np.int32)
    _l1_distances_uint8(codes, index.codes, counts)
    _select_topk(counts, self_offset, vals, idx)
    # A row left out has at least the m-th candidate's level distance; each
    # side's values lie within their rows' errors of their levels. The last
    # term covers the float64 rounding of the levels and of those errors,
    # which the relative factors do not when the rows sit on the levels.
    largest = max(abs(lo), abs(lo + 255 * step))
    slack = Q64.shape[1] * largest * 2.0**-48
    floor = vals[:, -1] * step * (1 - 1e-9) - (q_err + index.codes_err) * (1 + 1e-6)
    return floor - slack


def _l2_candidates(Q32, index, self_offset, vals, idx):
    """Approximate L2 candidates of a block of queries, without a distance block.

    The queries are split into tasks of at most ``_L2_TASK_QUERIES``, and each
    worker thread takes one task at a time: for every chunk of
    ``_L2_CHUNK_TRAIN`` training rows it runs a one-thread GEMM into a small
    buffer of its own and folds that buffer into its queries' heaps while it
    is still in cache. Threads never share a query, so no distance matrix is
    written and no thread waits for another between the GEMM and the
    selection (faiss blocks its search the same way). The compiled kernels
    release the GIL, as BLAS does.
    """
    n_queries = Q32.shape[0]
    n_threads = numba.get_num_threads()
    n_tasks = -(-n_queries // _L2_TASK_QUERIES)
    task_rows = -(-n_queries // max(n_tasks, min(n_threads, n_queries)))
    starts = range(0, n_queries, task_rows)
    n_workers = min(n_threads, len(starts))
    chunk = min(_L2_CHUNK_TRAIN, index.Xs.shape[0])
    stop = threading.Event()

    def task(start):
        rows = slice(start, min(start + task_rows, n_queries))
        offset = self_offset + start if self_offset >= 0 else -1
        _l2_task(Q32[rows], index, offset, vals[rows], idx[rows], chunk, stop)

    if n_workers == 1:
        # One worker: BLAS keeps its own threads for the chunk products.
        for start in starts:
            task(start)
        return
    with (
        _limit_blas_threads(1),
        ThreadPoolExecutor(n_workers, thread_name_prefix="skcv-knn") as pool,
    ):
        try:
            for future in [pool.submit(task, start) for start in starts]:
                future.result()
        finally:
            # On an error or Ctrl-C the other workers stop at their next
            # chunk, before the pool waits for them.
            stop.set()


def _l2_task(Q32, index, self_offset, vals, idx, chunk, stop):
    """:func:`_l2_candidates` for one task: chunk products and heap updates."""
    Xs, norms = index.Xs, index.x_sq_norms
    n_rows, n_train = Q32.shape[0], Xs.shape[0]
    buffer = np.empty(n_rows * chunk, dtype=np.float32)
    vals.fill(np.inf)
    idx.fill(_SENTINEL)
    for j0 in range(0, n_train, chunk):
        if stop.is_set():
            return
        j1 = min(j0 + chunk, n_train)
        G = buffer[: n_rows * (j1 - j0)].reshape(n_rows, j1 - j0)
        np.dot(Q32, Xs[j0:j1].T, out=G)
        _update_topk_l2(G, norms, j0, self_offset, vals, idx)
    _sort_rows(vals, idx)


def _l2_error_bound(n_features):
    """c such that |float32 ranking value - exact value| <= c (||a||^2 + ||b||^2).

    Sources, each bounded by a multiple of ``||a||^2 + ||b||^2`` for centred
    rows a (query) and b (training): the float32 dot product (gamma_n,
    Higham's bound for any summation order), rounding the centred rows and
    the norms to float32 (about 7u), and the final subtraction (2u). Doubling
    the sum leaves room for float64 rounding and for the bound's own
    arithmetic.
    """
    return 2 * (_gamma(n_features) + 12 * _U32)


# ---------------------------------------------------------------------------
# Compiled kernels.


@njit(inline="always")
def _heap_replace_top(vals, inds, v, j):
    """Put (v, j) at the root of a max-heap on (value, index) and sift it down."""
    m = vals.shape[0]
    pos = 0
    while True:
        c = 2 * pos + 1
        if c >= m:
            break
        r = c + 1
        if r < m and (vals[r] > vals[c] or (vals[r] == vals[c] and inds[r] > inds[c])):
            c = r
        if vals[c] > v or (vals[c] == v and inds[c] > j):
            vals[pos] = vals[c]
            inds[pos] = inds[c]
            pos = c
        else:
            break
    vals[pos] = v
    inds[pos] = j


@njit(inline="always")
def _sort_pairs(vals, inds):
    """Insertion sort on (value, index); the arrays hold a handful of items."""
    for a in range(1, vals.shape[0]):
        v = vals[a]
        j = inds[a]
        b = a - 1
        while b >= 0 and (vals[b] > v or (vals[b] == v and inds[b] > j)):
            vals[b + 1] = vals[b]
            inds[b + 1] = inds[b]
            b -= 1
        vals[b + 1] = v
        inds[b + 1] = j


@njit(inline="always")
def _heap_init(vals, inds):
    for c in range(vals.shape[0]):
        vals[c] = np.inf
        inds[c] = _SENTINEL


@njit(cache=True)
def _count_at_most(values, threshold):
    """How many of ``values`` are <= threshold (a vectorised screen)."""
    n = 0
    for j in range(values.shape[0]):
        n += np.float64(values[j]) <= threshold
    return n


@njit(cache=True)
def _count_at_most_l2(x_sq_norms, g, threshold):
    """How many ``x_sq_norms[j] - 2 g[j]`` are <= threshold."""
    n = 0
    for j in range(g.shape[0]):
        n += np.float64(x_sq_norms[j]) - 2.0 * np.float64(g[j]) <= threshold
    return n


@njit(parallel=True, cache=True)
def _select_topk(D, self_offset, out_val, out_idx):
    """Smallest entries of each row of D, sorted by (value, column).

    As many as ``out_val`` has columns. Row i skips column
    ``self_offset + i`` when ``self_offset >= 0``. The scan goes through the
    columns in order, so an entry equal to the heap's worst has a larger
    column and never displaces it: ties keep the lower index. A vectorised
    count screens each chunk of columns first; once the heap holds good
    candidates, most chunks have nothing below its worst and are skipped.
    """
    n_rows, n_cols = D.shape
    for i in prange(n_rows):
        vals = out_val[i]
        inds = out_idx[i]
        _heap_init(vals, inds)
        skip = self_offset + i if self_offset >= 0 else -1
        row = D[i]
        for j0 in range(0, n_cols, _SCREEN_CHUNK):
            j1 = min(j0 + _SCREEN_CHUNK, n_cols)
            # Slices, so that the screen's loop starts at 0 and vectorises.
            if _count_at_most(row[j0:j1], vals[0]) == 0:
                continue
            for j in range(j0, j1):
                v = np.float64(row[j])
                if (v < vals[0] or (v == vals[0] and j < inds[0])) and j != skip:
                    _heap_replace_top(vals, inds, v, j)
        _sort_pairs(vals, inds)


@njit(parallel=True, cache=True)
def _select_topk_l2(G, x_sq_norms, self_offset, out_val, out_idx):
    """As :func:`_select_topk` on ``x_sq_norms[j] - 2 G[i, j]``.

    With ``G = A @ B.T`` this ranks ``||a_i - b_j||^2 - ||a_i||^2``, which
    orders the training rows like the squared distance without a pass that
    adds the query norm (or clips negative values) over the whole block.
    """
    n_rows, n_cols = G.shape
    for i in prange(n_rows):
        vals = out_val[i]
        inds = out_idx[i]
        _heap_init(vals, inds)
        skip = self_offset + i if self_offset >= 0 else -1
        row = G[i]
        for j0 in range(0, n_cols, _SCREEN_CHUNK):
            j1 = min(j0 + _SCREEN_CHUNK, n_cols)
            if _count_at_most_l2(x_sq_norms[j0:j1], row[j0:j1], vals[0]) == 0:
                continue
            for j in range(j0, j1):
                v = np.float64(x_sq_norms[j]) - 2.0 * np.float64(row[j])
                if (v < vals[0] or (v == vals[0] and j < inds[0])) and j != skip:
                    _heap_replace_top(vals, inds, v, j)
        _sort_pairs(vals, inds)


@njit(nogil=True, cache=True)
def _update_topk_l2(G, x_sq_norms, j0, self_offset, out_val, out_idx):
    """Fold the chunk ``G = A @ B[j0:j0 + n].T`` into the heaps of its rows.

    As :func:`_select_topk_l2` over columns ``j0`` onwards, on heaps that
    earlier chunks filled: chunks come in increasing column order, so ties
    still keep the lower index. Serial, and without the GIL: each worker
    thread of :func:`_l2_candidates` runs it on queries of its own.
    """
    n_rows, n_cols = G.shape
    norms = x_sq_norms[j0 : j0 + n_cols]
    for i in range(n_rows):
        vals = out_val[i]
        inds = out_idx[i]
        skip = self_offset + i - j0 if self_offset >= 0 else -1
        row = G[i]
        for c0 in range(0, n_cols, _L2_SCREEN_CHUNK):
            c1 = min(c0 + _L2_SCREEN_CHUNK, n_cols)
            if _count_at_most_l2(norms[c0:c1], row[c0:c1], vals[0]) == 0:
                continue
            for c in range(c0, c1):
                v = np.float64(norms[c]) - 2.0 * np.float64(row[c])
                j = j0 + c
                if (v < vals[0] or (v == vals[0] and j < inds[0])) and c != skip:
                    _heap_replace_top(vals, inds, v, j)


@njit(nogil=True, cache=True)
def _sort_rows(out_val, out_idx):
    """Sort each row's heap by (value, index)."""
    for i in range(out_val.shape[0]):
        _sort_pairs(out_val[i], out_idx[i])


# Only the summation order of the float64 sums may change (that is what lets
# them vectorise): the distance stays within n_features float64 roundings of
# the true one, far inside the slack of the float32 error bounds.
_FASTMATH_F64 = {"reassoc", "nsz", "contract"}


@njit(fastmath=_FASTMATH_F64, cache=True)
def _exact_distance(q, x, metric):
    """Float64 squared L2 (metric 2) or L1 (metric 1) distance.

    A compiled function of its own so that its loop is vectorised under its
    own flags. LLVM may still inline it into each kernel in its own way, so
    the re-ranking and the exhaustive search agree to within a few float64
    roundings, not bit for bit (tests check it). On 3,072 features it runs
    about 3x faster than eight partial sums in a fixed order, which LLVM
    left scalar.
    """
    s = 0.0
    if metric == 2:
        for f in range(q.shape[0]):
            d = q[f] - np.float64(x[f])
            s += d * d
    else:
        for f in range(q.shape[0]):
            s += abs(q[f] - np.float64(x[f]))
    return s


@njit(parallel=True, cache=True)
def _rerank_exact(Q64, X, cand_idx, floor, margin, k, metric, cand_val, ok):
    """Replace candidate values by exact distances, sort, and certify.

    The candidates come sorted by approximate value. Those beyond the k-th
    by more than ``margin[i]`` cannot be among the k nearest and are not
    computed (their value becomes infinite). Row i is certified (``ok[i]``)
    when its k-th exact distance lies below ``floor[i]``, a lower bound on
    the exact distance of every training row left out of the candidates.
    """
    n_train = X.shape[0]
    for i in prange(cand_idx.shape[0]):
        vals = cand_val[i]
        inds = cand_idx[i]
        valid = True
        for c in range(inds.shape[0]):
            if inds[c] >= n_train:
                # Fewer finite candidates than slots (values overflowed).
                valid = False
        if not valid:
            ok[i] = False
            continue
        cut = vals[k - 1] + margin[i]
        for c in range(inds.shape[0]):
            if c >= k and not vals[c] <= cut:
                vals[c] = np.inf
            else:
                vals[c] = _exact_distance(Q64[i], X[inds[c]], metric)
        _sort_pairs(vals, inds)
        ok[i] = vals[k - 1] < floor[i]


@njit(parallel=True, cache=True)
def _exact_topk_kernel(Q64, X, self_rows, out_val, out_idx, metric):
    for i in prange(Q64.shape[0]):
        vals = out_val[i]
        inds = out_idx[i]
        _heap_init(vals, inds)
        skip = self_rows[i]
        for j in range(X.shape[0]):
            if j == skip:
                continue
            v = _exact_distance(Q64[i], X[j], metric)
            if v < vals[0] or (v == vals[0] and j < inds[0]):
                _heap_replace_top(vals, inds, v, j)
        _sort_pairs(vals, inds)


def _read_only(X):
    """A read-only plain-ndarray view of the training rows, for the exact kernels.

    numba compiles a kernel once for writable and once for read-only arrays
    (a model loaded with ``joblib.load(..., mmap_mode="r")`` has read-only
    rows), and the two compilations may sum the float64 distances in
    different orders: the answers would then differ by an ulp between a
    model and its memory-mapped copy. Always passing read-only rows keeps
    one compilation, and the answers bit for bit.
    """
    view = X.view(np.ndarray)
    view.flags.writeable = False
    return view


def _exact_topk(Q64, X, self_rows, k, metric_code):
    """Exhaustive float64 search: the reference and the uncertified fallback.

    ``self_rows[i]`` is the training row that query i must skip, or -1.
    Returns squared distances for L2.
    """
    vals = np.empty((Q64.shape[0], k), dtype=np.float64)
    inds = np.empty((Q64.shape[0], k), dtype=np.int64)
    _exact_topk_kernel(
        np.ascontiguousarray(Q64, dtype=np.float64),
        _read_only(X),
        np.asarray(self_rows, dtype=np.int64),
        vals,
        inds,
        metric_code,
    )
    return vals, inds


@njit(inline="always")
def _n_tiles(Q, X, tq, tx):
    """Tiles of ``tq`` rows of Q x ``tx`` rows of X that cover ``Q x X``."""
    return ((Q.shape[0] + tq - 1) // tq) * ((X.shape[0] + tx - 1) // tx)


@njit(inline="always")
def _tile(t, Q, X, tq, tx):
    """Rows ``[q0, q1)`` of Q and ``[x0, x1)`` of X in tile ``t``.

    Training-tile major: consecutive tiles share their training rows, which
    a thread then keeps in cache while the queries pass over them.
    """
    n_qt = (Q.shape[0] + tq - 1) // tq
    q0 = (t % n_qt) * tq
    x0 = (t // n_qt) * tx
    return q0, min(q0 + tq, Q.shape[0]), x0, min(x0 + tx, X.shape[0])


@njit(inline="always")
def _l1_2x2(a0, a1, b0, b1):
    s00 = np.float32(0.0)
    s01 = np.float32(0.0)
    s10 = np.float32(0.0)
    s11 = np.float32(0.0)
    for f in range(a0.shape[0]):
        x0 = np.float32(b0[f])
        x1 = np.float32(b1[f])
        s00 += abs(a0[f] - x0)
        s01 += abs(a0[f] - x1)
        s10 += abs(a1[f] - x0)
        s11 += abs(a1[f] - x1)
    return s00, s01, s10, s11


@njit(inline="always")
def _l1_1x1(a, b):
    s = np.float32(0.0)
    for f in range(a.shape[0]):
        s += abs(a[f] - np.float32(b[f]))
    return s


@njit(parallel=True, fastmath=_FASTMATH, cache=True)
def _l1_block(Q, X, out):
    """float32 L1 distances ``out[i, j] = sum_f |Q[i, f] - X[j, f]|``.

    ``Q`` is float32, ``X`` float32 or uint8 (converted on the fly). The
    work is tiled over (training tile, query tile) pairs, training-tile
    major, so each thread keeps one tile of training rows in cache while
    every query passes over it; inside a tile a 2 x 2 register block loads
    each value once for two distances.
    """
    tq, tx = _L1_TILE_QUERIES, _L1_TILE_TRAIN_FLOAT
    for t in prange(_n_tiles(Q, X, tq, tx)):
        q0, q1, x0, x1 = _tile(t, Q, X, tq, tx)
        i = q0
        while i + 1 < q1:
            j = x0
            while j + 1 < x1:
                s00, s01, s10, s11 = _l1_2x2(Q[i], Q[i + 1], X[j], X[j + 1])
                out[i, j] = s00
                out[i, j + 1] = s01
                out[i + 1, j] = s10
                out[i + 1, j + 1] = s11
                j += 2
            if j < x1:
                out[i, j] = _l1_1x1(Q[i], X[j])
                out[i + 1, j] = _l1_1x1(Q[i + 1], X[j])
            i += 2
        if i < q1:
            for j in range(x0, x1):
                out[i, j] = _l1_1x1(Q[i], X[j])


def _l1_distances_uint8(Q, X, out):
    """Exact int32 L1 distances between uint8 rows, by the fastest kernel here.

    The explicit ``psadbw`` blocks of ``skcv._simd`` where the CPU has AVX2
    (about 8 times faster on MNIST rows), else :func:`_l1_block_uint8`.
    """
    # The blocks load 32 bytes of a row at once: rows must be contiguous.
    rows_contiguous = Q.strides[1] == 1 and X.strides[1] == 1
    if _simd._HAS_AVX2 and X.shape[1] >= 32 and rows_contiguous:
        _l1_block_uint8_avx2(Q, X, out)
    else:
        _l1_block_uint8(Q, X, out)


@njit(parallel=True, cache=True)
def _l1_block_uint8_avx2(Q, X, out):
    """``out[i, j] = sum_f |Q[i, f] - X[j, f]|`` for uint8 rows, exactly.

    The register blocks of :mod:`skcv._simd` (CPUs with AVX2 only), in the
    tiles of :func:`_l1_block_uint8`. Rows of at least 32 bytes; ``out``
    int32 (the caller checks that ``255 * n_features`` fits).
    """
    tq, tx = _L1_TILE_QUERIES, _L1_TILE_TRAIN_UINT8
    for t in prange(_n_tiles(Q, X, tq, tx)):
        q0, q1, x0, x1 = _tile(t, Q, X, tq, tx)
        j = x0
        while j + _GX <= x1:
            i = q0
            while i + _GQ <= q1:
                s = _sad_4x2(Q, X, i, j)
                for a in range(_GQ):
                    for b in range(_GX):
                        out[i + a, j + b] = s[a * _GX + b]
                i += _GQ
            for r in range(i, q1):
                for b in range(_GX):
                    out[r, j + b] = _sad_1x1(Q, X, r, j + b)[0]
            j += _GX
        for c in range(j, x1):
            for r in range(q0, q1):
                out[r, c] = _sad_1x1(Q, X, r, c)[0]


@njit(inline="always")
def _sad_uint8(a, b):
    """Sum of absolute differences of two uint8 rows, in int32.

    Written so that LLVM maps it to ``psadbw`` on x86.
    """
    s = np.int32(0)
    for f in range(a.shape[0]):
        # Every intermediate cast back to int32 keeps the arithmetic in the
        # 32-bit lanes that the psadbw pattern needs (numba widens to int64).
        d = np.int32(np.int32(a[f]) - np.int32(b[f]))
        s = np.int32(s + np.int32(abs(d)))
    return s


@njit(parallel=True, cache=True)
def _l1_block_uint8(Q, X, out):
    """Exact int32 L1 distances between uint8 rows (no float conversion).

    Tiled like :func:`_l1_block`; inside a tile, groups of a few queries and
    a few training rows are compared all with all, so each row, once loaded,
    serves several distances from the L1 cache.
    """
    tq, tx = _L1_TILE_QUERIES, _L1_TILE_TRAIN_UINT8
    g = _L1_GROUP_UINT8
    for t in prange(_n_tiles(Q, X, tq, tx)):
        q0, q1, x0, x1 = _tile(t, Q, X, tq, tx)
        for jg in range(x0, x1, g):
            for ig in range(q0, q1, g):
                for j in range(jg, min(jg + g, x1)):
                    b = X[j]
                    for i in range(ig, min(ig + g, q1)):
                        out[i, j] = _sad_uint8(Q[i], b)
