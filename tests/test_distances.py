import numpy as np
import pytest
from scipy.spatial.distance import cdist

from skcv import _distances, _simd
from skcv._distances import (
    _build_index,
    _l1_block,
    _l1_block_uint8,
    _l1_distances_uint8,
    _l2_error_bound,
    _query_block_rows,
    _select_topk,
    _topk_neighbors,
)

_CDIST = {"l1": "cityblock", "l2": "sqeuclidean"}


def _reference(Q, X, k, metric, exclude_self=False):
    """Float64 brute force: scipy distances, stable sort (lower index first)."""
    D = cdist(Q.astype(np.float64), X.astype(np.float64), _CDIST[metric])
    if exclude_self:
        np.fill_diagonal(D, np.inf)
    ind = np.argsort(D, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(D, ind, axis=1)
    return (np.sqrt(dist) if metric == "l2" else dist), ind


def _pixels(rng, n, n_features, dtype, offset):
    """Pixel-like rows: uint8 in 0..255, or floats in [0, 1) plus an offset.

    Float rows at an offset of 1000 have squared norms near 1e6 * n_features
    and squared distances near n_features / 6: float32 cancellation in
    ``||a||^2 + ||b||^2 - 2 a.b`` is then larger than the gaps between
    neighbours.
    """
    X = rng.integers(0, 256, size=(n, n_features))
    if dtype == np.uint8:
        return X.astype(np.uint8)
    return ((X + rng.random(X.shape)) / 256 + offset).astype(dtype)


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize(
    "dtype, offset",
    [(np.uint8, 0), (np.float32, 0), (np.float32, 1000), (np.float64, 1000)],
)
@pytest.mark.parametrize("k", [1, 5])
def test_topk_equals_float64_brute_force(metric, dtype, offset, k):
    rng = np.random.default_rng(0)
    X = _pixels(rng, 300, 50, dtype, offset)
    Q = _pixels(rng, 70, 50, dtype, offset)
    index = _build_index(X, metric)
    dist, ind = _topk_neighbors(Q, index, k, block_rows=16)
    ref_dist, ref_ind = _reference(Q, X, k, metric)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)

    dist, ind = _topk_neighbors(None, index, k, block_rows=16, exclude_self=True)
    ref_dist, ref_ind = _reference(X, X, k, metric, exclude_self=True)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)


def test_float32_ranking_alone_fails_on_offset_data():
    # The data of the test above are hard enough: ranking by an uncentred
    # float32 ||a||^2 + ||b||^2 - 2 a.b picks wrong neighbours on pixels+1000.
    rng = np.random.default_rng(0)
    X = _pixels(rng, 300, 50, np.float32, 1000)
    Q = _pixels(rng, 70, 50, np.float32, 1000)
    naive = (Q * Q).sum(1)[:, None] + (X * X).sum(1)[None] - 2 * Q @ X.T
    _, ref_ind = _reference(Q, X, 1, "l2")
    assert (naive.argmin(axis=1) != ref_ind[:, 0]).sum() > 10
    _, ind = _topk_neighbors(Q, _build_index(X, "l2"), 1, block_rows=70)
    np.testing.assert_array_equal(ind, ref_ind)


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_ties_break_by_lower_index(metric, dtype):
    # Few distinct values in few features: most distances tie, and many
    # queries cannot be certified from float32 values and go to the float64
    # fallback; the order must still be (distance, index).
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, size=(200, 4)).astype(dtype)
    Q = rng.integers(0, 3, size=(40, 4)).astype(dtype)
    index = _build_index(X, metric)
    for k in (1, 7, 40):
        _, ind = _topk_neighbors(Q, index, k, block_rows=9)
        np.testing.assert_array_equal(ind, _reference(Q, X, k, metric)[1])
        _, ind = _topk_neighbors(None, index, k, block_rows=9, exclude_self=True)
        np.testing.assert_array_equal(ind, _reference(X, X, k, metric, True)[1])


@pytest.fixture
def exact_search_calls(monkeypatch):
    """The number of queries of each call to the exhaustive float64 search."""
    calls = []
    exact_topk = _distances._exact_topk

    def spy(Q64, *args):
        calls.append(len(Q64))
        return exact_topk(Q64, *args)

    monkeypatch.setattr(_distances, "_exact_topk", spy)
    return calls


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_uncertified_queries_fall_back_to_exact_search(metric, exact_search_calls):
    calls = exact_search_calls
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 30))
    # Queries a million units away: the float32 pass cannot tell their
    # neighbours apart, so none can be certified.
    Q = rng.normal(size=(20, 30)) + 1e6
    _, ind = _topk_neighbors(Q, _build_index(X, metric), 3, block_rows=8)
    assert sum(calls) == 20
    np.testing.assert_array_equal(ind, _reference(Q, X, 3, metric)[1])


def test_results_do_not_depend_on_block_size():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 20)).astype(np.float32)
    Q = rng.normal(size=(37, 20)).astype(np.float32)
    for metric in ("l1", "l2"):
        index = _build_index(X, metric)
        dist, ind = _topk_neighbors(Q, index, 4, block_rows=37)
        for block_rows in (1, 10, 1000):
            d, i = _topk_neighbors(Q, index, 4, block_rows=block_rows)
            np.testing.assert_array_equal(i, ind)
            np.testing.assert_array_equal(d, dist)


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize(
    "n_train, n_features, n_candidates, mib",
    [(60_000, 784, 17, 128), (1000, 10, 20, 0.1), (10, 3, 2, 1e-6)],
)
def test_block_rows_obey_the_budget(metric, n_train, n_features, n_candidates, mib):
    rows = _query_block_rows(n_train, n_features, n_candidates, mib, metric)
    # L2 holds one chunk product of distances per query, L1 a whole row and
    # the query's levels.
    if metric == "l2":
        # Also the candidates of the pooled pass (see _pooled_l2_search).
        pooled = _distances._n_pooled_candidates(n_candidates, n_features)
        per_query = (
            4 * min(n_train, 2048) + 28 * n_features + 16 * (n_candidates + pooled)
        )
    else:
        per_query = 4 * n_train + 21 * n_features + 16 * n_candidates + 8
    budget = int(mib * 2**20)
    if per_query <= budget:
        assert rows * per_query <= budget < (rows + 1) * per_query
    else:
        assert rows == 1  # one query per block is the least there is


def test_l2_error_bound_holds():
    # The float32 ranking value ||b||^2 - 2 a.b of centred rows is within the
    # bound of the exact ||a - b||^2 - ||a||^2, even on offset data.
    rng = np.random.default_rng(4)
    X = _pixels(rng, 400, 100, np.float32, 1000)
    Q = _pixels(rng, 50, 100, np.float32, 1000)
    index = _build_index(X, "l2")
    Qc = Q.astype(np.float64) - index.shift
    ranking = index.x_sq_norms.astype(np.float64) - 2.0 * (
        Qc.astype(np.float32) @ index.Xs.T
    ).astype(np.float64)
    q_sq = (Qc**2).sum(1)
    exact = cdist(Q.astype(np.float64), X.astype(np.float64), "sqeuclidean")
    error = np.abs(ranking + q_sq[:, None] - exact)
    bound = _l2_error_bound(100) * (q_sq[:, None] + index.x_scale)
    assert (error <= bound).all()
    assert error.max() > 0  # the rounding is real; the bound is not vacuous


@pytest.mark.parametrize("x_dtype", [np.float32, np.uint8])
def test_l1_block_matches_cdist(x_dtype):
    # Odd sizes exercise the remainders of the 2 x 2 blocks and of the tiles.
    rng = np.random.default_rng(5)
    X = rng.integers(0, 256, size=(131, 37)).astype(x_dtype)
    Q = rng.normal(100, 50, size=(35, 37)).astype(np.float32)
    out = np.empty((35, 131), dtype=np.float32)
    _l1_block(Q, X, out)
    expected = cdist(Q.astype(np.float64), X.astype(np.float64), "cityblock")
    np.testing.assert_allclose(out, expected, rtol=1e-5)


def test_uint8_l1_block_is_exact():
    rng = np.random.default_rng(6)
    X = rng.integers(0, 256, size=(261, 801), dtype=np.uint8)
    Q = rng.integers(0, 256, size=(33, 801), dtype=np.uint8)
    out = np.empty((33, 261), dtype=np.int32)
    _l1_block_uint8(Q, X, out)
    expected = cdist(Q.astype(np.float64), X.astype(np.float64), "cityblock")
    np.testing.assert_array_equal(out, expected)


needs_avx2 = pytest.mark.skipif(not _simd._HAS_AVX2, reason="CPU without AVX2")


def _record_calls(monkeypatch, name, calls, label, target=None):
    """Make ``_distances.<name>`` append ``label`` to ``calls``, then run
    ``target`` (by default the function itself)."""
    target = target or getattr(_distances, name)
    monkeypatch.setattr(
        _distances, name, lambda *args: calls.append(label) or target(*args)
    )


@needs_avx2
@pytest.mark.parametrize("n_features", [32, 33, 63, 64, 65, 784, 801])
def test_avx2_uint8_l1_block_is_exact(n_features):
    # Row lengths around multiples of 32 exercise the masked last vector;
    # 37 x 131 rows the remainders of the 4 x 2 blocks and of the tiles.
    rng = np.random.default_rng(n_features)
    X = rng.integers(0, 256, size=(131, n_features), dtype=np.uint8)
    Q = rng.integers(0, 256, size=(37, n_features), dtype=np.uint8)
    # The extremes: every byte 0 against every byte 255.
    X[0], Q[0] = 0, 255
    out = np.empty((37, 131), dtype=np.int32)
    _distances._l1_block_uint8_avx2(Q, X, out)
    expected = cdist(Q.astype(np.float64), X.astype(np.float64), "cityblock")
    np.testing.assert_array_equal(out, expected)
    assert out[0, 0] == 255 * n_features


@needs_avx2
def test_avx2_uint8_l1_reads_rows_through_their_stride():
    # Rows of a C-contiguous block of a wider array are padded in memory:
    # the kernel must step by the stride, not by the row length.
    rng = np.random.default_rng(1)
    wide = rng.integers(0, 256, size=(40, 100), dtype=np.uint8)
    X, Q = wide[:, :70], wide[:9, 30:]
    out = np.empty((9, 40), dtype=np.int32)
    _distances._l1_block_uint8_avx2(Q, X, out)
    expected = cdist(Q.astype(np.float64), X.astype(np.float64), "cityblock")
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("has_avx2", [False, True])
@pytest.mark.parametrize("n_features", [31, 32])
def test_l1_distances_uint8_picks_a_kernel_the_cpu_runs(
    has_avx2, n_features, monkeypatch
):
    calls = []
    portable = _distances._l1_block_uint8
    monkeypatch.setattr(_simd, "_HAS_AVX2", has_avx2)
    _record_calls(monkeypatch, "_l1_block_uint8", calls, "portable")
    # The portable kernel stands in, so that this runs on any CPU.
    _record_calls(monkeypatch, "_l1_block_uint8_avx2", calls, "avx2", portable)
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, size=(20, n_features), dtype=np.uint8)
    out = np.empty((20, 20), dtype=np.int32)
    _l1_distances_uint8(X, X, out)
    assert calls == ["avx2" if has_avx2 and n_features >= 32 else "portable"]
    expected = cdist(X.astype(np.float64), X.astype(np.float64), "cityblock")
    np.testing.assert_array_equal(out, expected)
    # Rows whose bytes are not adjacent (Fortran order) take the portable one.
    calls.clear()
    _l1_distances_uint8(np.asfortranarray(X), X, out)
    assert calls == ["portable"]
    np.testing.assert_array_equal(out, expected)


@needs_avx2
@pytest.mark.parametrize(
    "scale, offset, dtype",
    [(1 / 255, 0.0, np.float32), (1.0, 0.0, np.float32), (1 / 255, 3.0, np.float64)],
)
def test_l1_grid_finds_the_levels_of_scaled_pixels(scale, offset, dtype):
    rng = np.random.default_rng(11)
    levels = rng.integers(0, 256, size=(50, 40), dtype=np.uint8)
    levels[0, 0], levels[0, 1] = 0, 255
    X = (levels * scale + offset).astype(dtype)
    codes, (lo, step), err = _distances._l1_grid(X)
    np.testing.assert_array_equal(codes, levels)
    assert lo == pytest.approx(offset) and step == pytest.approx(scale)
    assert 0 <= err <= step / 4


@pytest.mark.parametrize(
    "X",
    [
        np.random.default_rng(12).random((50, 40)),  # continuous values
        np.random.default_rng(13).integers(0, 512, (50, 40)).astype(float),
        np.ones((50, 40)),  # one level only
        np.random.default_rng(14).integers(0, 256, (50, 31)) / 255,  # short rows
        np.random.default_rng(15).integers(0, 256, (50, 40), dtype=np.uint8),
    ],
    ids=["continuous", "512-levels", "constant", "31-columns", "uint8"],
)
def test_l1_grid_leaves_other_data_to_the_float_pass(X):
    assert _distances._l1_grid(X) == (None, None, 0.0)


@pytest.fixture
def l1_kernels(monkeypatch):
    """Which L1 kernel ranked each block: "levels" (uint8) or "float"."""
    calls = []
    _record_calls(monkeypatch, "_l1_distances_uint8", calls, "levels")
    _record_calls(monkeypatch, "_l1_block", calls, "float")
    return calls


@needs_avx2
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 5])
def test_l1_on_pixel_levels_is_exact(dtype, k, l1_kernels, monkeypatch):
    rng = np.random.default_rng(16)
    levels = rng.integers(0, 256, size=(400, 64))
    # Few levels in use make many equal distances: ties between candidates,
    # and queries that the level pass cannot certify, which fall back.
    levels[:200] //= 64
    X = (levels / 255).astype(dtype)
    X[7] = X[3]  # a duplicate: the lower index comes first
    Q = np.vstack([X[:5], (rng.integers(0, 256, size=(25, 64)) / 255).astype(dtype)])
    index = _build_index(X, "l1")
    assert index.codes is not None
    found = [
        _topk_neighbors(Q, index, k, block_rows=8),
        _topk_neighbors(None, index, k, block_rows=64, exclude_self=True),
    ]
    assert set(l1_kernels) == {"levels"}
    # The same neighbours and distances as the float pass gives.
    monkeypatch.setattr(_simd, "_HAS_AVX2", False)
    index = _build_index(X, "l1")
    assert index.codes is None
    expected = [
        _topk_neighbors(Q, index, k, block_rows=8),
        _topk_neighbors(None, index, k, block_rows=64, exclude_self=True),
    ]
    for (dist, ind), (ref_dist, ref_ind) in zip(found, expected):
        np.testing.assert_array_equal(ind, ref_ind)
        np.testing.assert_array_equal(dist, ref_dist)
    if dtype == np.float32:
        # Differences of float32 values, and their sums here, are exact in
        # float64: equal level distances are exact ties, and scipy's order
        # is the same. (float64 values of k / 255 are not exact: their
        # "ties" differ by an ulp, in an order that depends on the
        # summation.)
        np.testing.assert_array_equal(found[0][1], _reference(Q, X, k, "l1")[1])
        np.testing.assert_array_equal(
            found[1][1], _reference(X, X, k, "l1", exclude_self=True)[1]
        )


@needs_avx2
def test_l1_queries_off_the_levels_take_the_float_pass(l1_kernels):
    rng = np.random.default_rng(17)
    X = (rng.integers(0, 256, size=(300, 48)) / 255).astype(np.float32)
    on = X[:8] + np.float32(0)
    off = on + rng.normal(0, 0.01, size=on.shape).astype(np.float32)
    index = _build_index(X, "l1")
    for Q, kernel in [(on, "levels"), (off, "float")]:
        l1_kernels.clear()
        _, ind = _topk_neighbors(Q, index, 3, block_rows=8)
        assert l1_kernels == [kernel]
        np.testing.assert_array_equal(ind, _reference(Q, X, 3, "l1")[1])


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_exact_kernels_always_get_read_only_rows(metric, monkeypatch):
    # One numba compilation for fitted and memory-mapped models alike (see
    # _read_only): the exact distances are then the same bit for bit.
    seen = []
    for name in ("_rerank_exact", "_exact_topk_kernel"):
        kernel = getattr(_distances, name)

        def spy(Q64, X, *args, kernel=kernel):
            seen.append(X.flags.writeable or type(X) is not np.ndarray)
            return kernel(Q64, X, *args)

        monkeypatch.setattr(_distances, name, spy)
    rng = np.random.default_rng(8)
    X = rng.normal(size=(200, 40))
    Q = np.vstack([X[:5], rng.normal(size=(5, 40)) + 1e6])  # 5 fall back
    _topk_neighbors(Q, _build_index(X, metric), 3, block_rows=16)
    assert len(seen) == 2 and not any(seen)
    assert X.flags.writeable


def test_select_topk_sorts_by_value_then_index_and_skips_self():
    rng = np.random.default_rng(7)
    D = rng.integers(0, 5, size=(12, 40)).astype(np.float32)
    vals = np.empty((12, 6))
    idx = np.empty((12, 6), dtype=np.int64)
    _select_topk(D, -1, vals, idx)
    expected = np.argsort(D, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(vals, np.take_along_axis(D, expected, axis=1))

    # Row i of a block starting at training row 3 skips column 3 + i.
    _select_topk(D, 3, vals, idx)
    masked = D.astype(np.float64)
    masked[np.arange(12), np.arange(12) + 3] = np.inf
    np.testing.assert_array_equal(idx, np.argsort(masked, axis=1, kind="stable")[:, :6])


def test_index_keeps_uint8_and_float32_and_widens_the_rest():
    X = np.arange(12).reshape(4, 3)
    assert _build_index(X.astype(np.uint8), "l1").X.dtype == np.uint8
    assert _build_index(X.astype(np.float32), "l1").X.dtype == np.float32
    assert _build_index(X.astype(np.int64), "l1").X.dtype == np.float64
    index = _build_index(X.astype(np.uint8), "l2")
    assert index.X.dtype == np.uint8
    assert index.Xs.dtype == np.float32
    np.testing.assert_allclose(index.Xs.mean(axis=0), 0, atol=1e-6)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_l2_chunks_and_worker_tasks_keep_the_exact_neighbours(n_threads, monkeypatch):
    # Training rows span several chunk products and queries several worker
    # tasks, self-exclusion included; a duplicate of row 3 placed in a later
    # chunk must lose the tie to the lower index.
    import numba

    monkeypatch.setattr(_distances, "_L2_CHUNK_TRAIN", 64)
    monkeypatch.setattr(_distances, "_L2_TASK_QUERIES", 24)
    rng = np.random.default_rng(1)
    X = _pixels(rng, 300, 20, np.float32, 0)
    X[250] = X[3]
    Q = np.concatenate([X[3:4], _pixels(rng, 99, 20, np.float32, 0)])
    index = _build_index(X, "l2")
    previous = numba.get_num_threads()
    numba.set_num_threads(min(n_threads, numba.config.NUMBA_NUM_THREADS))
    try:
        dist, ind = _topk_neighbors(Q, index, 4, block_rows=70)
        self_dist, self_ind = _topk_neighbors(
            None, index, 4, block_rows=70, exclude_self=True
        )
    finally:
        numba.set_num_threads(previous)
    ref_dist, ref_ind = _reference(Q, X, 4, "l2")
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    assert ind[0, 0] == 3 and ind[0, 1] == 250
    ref_dist, ref_ind = _reference(X, X, 4, "l2", exclude_self=True)
    np.testing.assert_array_equal(self_ind, ref_ind)
    np.testing.assert_allclose(self_dist, ref_dist, rtol=1e-12)


def test_an_error_in_an_l2_worker_reaches_the_caller(monkeypatch):
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs two threads")
    calls = []

    def failing(*args):
        calls.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(_distances, "_update_topk_l2", failing)
    monkeypatch.setattr(_distances, "_L2_TASK_QUERIES", 8)
    rng = np.random.default_rng(0)
    X = _pixels(rng, 100, 10, np.float32, 0)
    previous = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            _topk_neighbors(X[:64], _build_index(X, "l2"), 1, block_rows=64)
    finally:
        numba.set_num_threads(previous)
    assert calls


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 4])
def test_l2_constant_columns_leave_the_neighbours_exact(dtype, k, monkeypatch):
    # Columns constant over the training rows (zeros and other values) are
    # left out of the float32 ranking; queries that differ from the training
    # rows there, ties between duplicated rows, several chunk products and
    # worker tasks must still give the float64 brute-force neighbours and
    # distances, which count every column.
    monkeypatch.setattr(_distances, "_L2_CHUNK_TRAIN", 64)
    monkeypatch.setattr(_distances, "_L2_TASK_QUERIES", 16)
    rng = np.random.default_rng(5)
    X = _pixels(rng, 200, 30, dtype, 0)
    const = [0, 7, 8, 29]
    X[:, const] = np.array([0, 3, 200, 1], dtype=dtype)
    X[150] = X[10]
    Q = _pixels(rng, 40, 30, dtype, 0)
    Q[:20, const] = X[0, const]  # equal to the training rows there
    Q[35] = X[10]
    index = _build_index(X, "l2")
    np.testing.assert_array_equal(np.sort(index.const_cols), const)
    assert index.Xs.shape == (200, 26)
    dist, ind = _topk_neighbors(Q, index, k, block_rows=25)
    ref_dist, ref_ind = _reference(Q, X, k, "l2")
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    if k > 1:
        assert list(ind[35, :2]) == [10, 150]
    dist, ind = _topk_neighbors(None, index, k, block_rows=25, exclude_self=True)
    ref_dist, ref_ind = _reference(X, X, k, "l2", exclude_self=True)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)


def test_l2_constant_columns_do_not_force_the_exhaustive_search(exact_search_calls):
    # A query far from the training rows on their constant columns has a
    # large share of its distance there; the certification adds it back, so
    # no query needs the float64 fallback.
    calls = exact_search_calls
    rng = np.random.default_rng(6)
    X = rng.random((500, 20))
    X[:, :5] = 0.0
    Q = rng.random((50, 20))
    Q[:, :5] = 100.0
    dist, ind = _topk_neighbors(Q, _build_index(X, "l2"), 3, block_rows=50)
    ref_dist, ref_ind = _reference(Q, X, 3, "l2")
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    assert calls == []


def test_l2_all_columns_constant():
    # Every training row equal: every distance ties, lower indices win.
    X = np.full((30, 6), 2.0, dtype=np.float32)
    Q = np.arange(12, dtype=np.float32).reshape(2, 6)
    dist, ind = _topk_neighbors(Q, _build_index(X, "l2"), 3, block_rows=2)
    ref_dist, ref_ind = _reference(Q, X, 3, "l2")
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)


@pytest.mark.parametrize("metric, code", [("l1", 1), ("l2", 2)])
def test_rerank_and_exhaustive_search_agree(metric, code):
    # A query either re-ranked or searched exhaustively must see the same
    # neighbours and float64 distances. The sum is vectorised with
    # reassociation, and numba may inline it differently into each kernel
    # (it depends on which kernels a process found in its cache), so the
    # distances may differ by a few roundings, never more.
    rng = np.random.default_rng(7)
    X = rng.random((40, 1003)).astype(np.float32)
    Q = rng.random((5, 1003))
    vals, inds = _distances._exact_topk(Q, X, np.full(5, -1), 40, code)
    rerank_vals = np.zeros((5, 40))
    rerank_inds = inds.copy()
    ok = np.empty(5, dtype=np.bool_)
    _distances._rerank_exact(
        Q,
        X,
        rerank_inds,
        np.full(5, np.inf),
        np.full(5, np.inf),
        3,
        code,
        rerank_vals,
        ok,
    )
    np.testing.assert_allclose(rerank_vals, vals, rtol=1003 * np.finfo(float).eps)
    np.testing.assert_array_equal(rerank_inds, inds)
    ref = cdist(Q, X.astype(np.float64), _CDIST[metric])
    np.testing.assert_allclose(vals, np.take_along_axis(ref, inds, 1), rtol=1e-12)


def test_pool_rows_sums_pairs_stride_apart():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 12))
    shift = rng.normal(size=12)
    pooled = _distances._pool_rows(A, 2, shift)
    # Blocks of 4 features: (0, 2) and (1, 3) give outputs 0 and 1, and so on.
    first, second = [0, 1, 4, 5, 8, 9], [2, 3, 6, 7, 10, 11]
    C = A - shift
    np.testing.assert_allclose(pooled, (C[:, first] + C[:, second]) / np.sqrt(2))
    # An orthogonal projection: pooled differences are never longer.
    d = A[:, None] - A[None]
    pd = pooled[:, None] - pooled[None]
    assert ((pd**2).sum(-1) <= (d**2).sum(-1) * (1 + 1e-12)).all()


def test_pool_stride_finds_neighbouring_pixels(smooth_images):
    rng = np.random.default_rng(1)
    X = smooth_images(rng, 2100, dtype=np.uint8)
    # The same channel of the next pixel (3 apart) or of the pixel below
    # (48 apart); the channels themselves are independent here.
    assert _distances._pool_stride(X) in (3, 48)
    assert _distances._pool_stride(rng.random((2100, 768))) is None
    assert _distances._pool_stride(X[:, :767]) is None  # no pairs tile 767
    assert _distances._pool_stride(X[:, :62]) is None  # too short to pay


def test_pooled_rows_only_where_the_pass_pays(monkeypatch, smooth_images):
    rng = np.random.default_rng(1)
    X = smooth_images(rng, 2100, dtype=np.uint8)
    # 2,100 x 768 is less work than the pass needs to pay for its 129
    # candidates a query (MNIST-sized rows need some 43,000 training rows).
    assert _build_index(X, "l2").pool_stride is None
    monkeypatch.setattr(_distances, "_POOL_MIN_WORK", 2100 * 768 // 129)
    assert _build_index(X, "l2").pool_stride in (3, 48)
    assert _build_index(X, "l1").pool_stride is None


@pytest.mark.parametrize("dtype, offset", [(np.float32, 1000), (np.float64, 0)])
def test_pooled_l2_bound_holds(dtype, offset, pool_always, smooth_images):
    # Every row's pooled ranking value, less its float32 error, is at most its
    # exact squared distance, also where the rows sit far from the origin.
    rng = np.random.default_rng(2)
    X = smooth_images(rng, 2100, dtype=dtype, offset=offset)
    Q = np.concatenate([smooth_images(rng, 30, dtype=dtype, offset=offset), X[:5]])
    index = _build_index(X, "l2")
    assert index.pool_stride is not None
    Pq = _distances._pool_rows(Q, index.pool_stride, index.pool_shift)
    ranking = index.p_sq_norms.astype(np.float64) - 2.0 * (
        Pq.astype(np.float32) @ index.Ps.T
    ).astype(np.float64)
    pq_sq = (Pq**2).sum(1)
    err = _l2_error_bound(Pq.shape[1]) * (pq_sq + index.p_scale)
    exact = cdist(Q.astype(np.float64), X.astype(np.float64), "sqeuclidean")
    assert (ranking + (pq_sq - err)[:, None] <= exact).all()
    # ... and the bound is close: pooling keeps most of each distance.
    assert np.median((ranking + pq_sq[:, None]) / np.maximum(exact, 1e-300)) > 0.8


@pytest.fixture
def pooled_search_calls(monkeypatch):
    """Records, per call of the pooled pass, how many queries it settled."""
    settled = []
    search = _distances._pooled_l2_search

    def spy(*args):
        vals, idx, ok = search(*args)
        settled.append((int(ok.sum()), len(ok)))
        return vals, idx, ok

    monkeypatch.setattr(_distances, "_pooled_l2_search", spy)
    return settled


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("k", [1, 10])
def test_pooled_l2_search_is_exact(
    dtype, k, pooled_search_calls, pool_always, smooth_images, monkeypatch
):
    # Queries near the training images are settled by the pooled bound; noise
    # queries, whose pooled differences lose half their length, are not, and
    # take the full pass. Duplicated rows must still tie by the lower index.
    monkeypatch.setattr(_distances, "_L2_CHUNK_TRAIN", 512)
    rng = np.random.default_rng(3)
    X = smooth_images(rng, 2100, dtype=dtype)
    X[2000] = X[7]
    near = X[rng.integers(0, 2100, 40)].astype(np.float64)
    near += rng.normal(scale=3.0 if dtype == np.uint8 else 0.01, size=near.shape)
    noise = rng.random((20, X.shape[1])) * (255 if dtype == np.uint8 else 1)
    if dtype == np.uint8:
        near = np.clip(near, 0, 255)
    Q = np.concatenate([near, noise, X[7:8].astype(np.float64)]).astype(dtype)
    index = _build_index(X, "l2")
    dist, ind = _topk_neighbors(Q, index, k, block_rows=32)
    ref_dist, ref_ind = _reference(Q, X, k, "l2")
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    settled = sum(s for s, _ in pooled_search_calls)
    assert sum(n for _, n in pooled_search_calls) == len(Q)
    assert 40 <= settled < len(Q)
    if k > 1:
        assert list(ind[-1, :2]) == [7, 2000]


def test_pooled_pass_leaves_self_exclusion_to_the_full_pass(
    pooled_search_calls, pool_always, smooth_images
):
    rng = np.random.default_rng(4)
    X = smooth_images(rng, 2100, dtype=np.float32)
    index = _build_index(X, "l2")
    dist, ind = _topk_neighbors(None, index, 3, block_rows=700, exclude_self=True)
    ref_dist, ref_ind = _reference(X, X, 3, "l2", exclude_self=True)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-12)
    assert pooled_search_calls == []
