import tracemalloc

import numba
import numpy as np
import pytest
from scipy.spatial.distance import cdist
from sklearn.neighbors import KNeighborsClassifier

from skcv import NearestNeighbor, _distances
from skcv import neighbors as neighbors_module
from skcv._distances import _n_candidates, _query_block_rows

_P = {"l1": 1, "l2": 2}


@pytest.fixture(scope="module")
def blobs():
    """Continuous data (no distance ties), 3 classes that overlap."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=2.0, size=(3, 8))
    y = rng.integers(0, 3, size=260)
    X = centers[y] + rng.normal(size=(260, 8))
    return X[:200], y[:200], X[200:], y[200:]


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("k", [1, 3, 7])
def test_parity_with_sklearn_brute(blobs, metric, weights, k):
    X, y, Xq, _ = blobs
    ours = NearestNeighbor(k, metric=metric, weights=weights).fit(X, y)
    ref = KNeighborsClassifier(k, weights=weights, algorithm="brute", p=_P[metric]).fit(
        X, y
    )

    np.testing.assert_array_equal(ours.predict(Xq), ref.predict(Xq))
    np.testing.assert_allclose(ours.predict_proba(Xq), ref.predict_proba(Xq))
    dist, ind = ours.kneighbors(Xq)
    ref_dist, ref_ind = ref.kneighbors(Xq)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)

    # X=None: the training rows, each without itself.
    dist, ind = ours.kneighbors()
    ref_dist, ref_ind = ref.kneighbors()
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(None), ref.predict(None))


def test_string_labels_and_score(blobs):
    X, y, Xq, yq = blobs
    names = np.array(["cat", "dog", "emu"])
    knn = NearestNeighbor(3).fit(X, names[y])
    np.testing.assert_array_equal(knn.classes_, names)
    ref = KNeighborsClassifier(3, algorithm="brute").fit(X, names[y])
    np.testing.assert_array_equal(knn.predict(Xq), ref.predict(Xq))
    assert knn.score(Xq, names[yq]) == ref.score(Xq, names[yq])


def test_class_vote_tie_goes_to_the_smallest_label():
    # The query at 0 has one neighbour of each class, at distances 1 and 1.
    # The first neighbour (lower index) is "b", so a vote that keeps the first
    # label seen would answer "b".
    X = np.array([[1.0], [-1.0], [10.0]])
    y = np.array(["b", "a", "a"])
    for weights in ("uniform", "distance"):
        knn = NearestNeighbor(2, weights=weights).fit(X, y)
        assert knn.predict([[0.0]])[0] == "a"
        np.testing.assert_array_equal(knn.predict_proba([[0.0]]), [[0.5, 0.5]])
    # Three classes, two of them tied on top, the smallest label last in
    # index order.
    X = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    y = np.array([2, 1, 2, 0, 0])
    knn = NearestNeighbor(5).fit(X, y)
    assert knn.predict([[0.0]])[0] == 0


def test_distance_ties_go_to_the_lower_index():
    X = np.array([[1.0], [-1.0], [1.0], [3.0]])
    knn = NearestNeighbor(3).fit(X, [0, 1, 2, 3])
    dist, ind = knn.kneighbors([[0.0]])
    np.testing.assert_array_equal(ind, [[0, 1, 2]])
    np.testing.assert_array_equal(dist, [[1.0, 1.0, 1.0]])
    assert knn.predict([[0.0]])[0] == 0


def test_kneighbors_without_X_excludes_each_row_itself():
    # Duplicated rows: each copy's nearest neighbour is the other copy, never
    # itself, even though both are at distance 0.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [7.0, 0.0]])
    for metric in ("l1", "l2"):
        knn = NearestNeighbor(2, metric=metric).fit(X, [0, 0, 1, 1])
        dist, ind = knn.kneighbors()
        np.testing.assert_array_equal(ind, [[1, 2], [0, 2], [3, 0], [2, 0]])
        np.testing.assert_array_equal(dist, [[0, 5], [0, 5], [2, 5], [2, 7]])
        assert not (ind == np.arange(4)[:, None]).any()


def test_exact_matches_take_all_the_weight():
    X = np.array([[0.0], [0.0], [1.0], [2.0]])
    y = np.array([1, 0, 2, 2])
    knn = NearestNeighbor(4, weights="distance").fit(X, y)
    ref = KNeighborsClassifier(4, weights="distance", algorithm="brute").fit(X, y)
    proba = knn.predict_proba([[0.0], [0.5]])
    np.testing.assert_allclose(proba[0], [0.5, 0.5, 0.0])
    np.testing.assert_allclose(proba, ref.predict_proba([[0.0], [0.5]]))
    # 0 and 1 tie at weight 1 each: the smaller label wins.
    assert knn.predict([[0.0]])[0] == 0


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize(
    "dtype, offset",
    [(np.uint8, 0), (np.float32, 0), (np.float32, 1000), (np.float64, 1000)],
)
def test_neighbours_equal_exact_ones_for_every_input_dtype(metric, dtype, offset):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(330, 64))
    if dtype == np.uint8:
        data = pixels.astype(np.uint8)
    else:
        # [0, 1] pixels far from the origin: hard for float32 arithmetic.
        data = (pixels / 255 + offset).astype(dtype)
    X, Q = data[:300], data[300:]
    knn = NearestNeighbor(5, metric=metric).fit(X, rng.integers(0, 2, 300))
    dist, ind = knn.kneighbors(Q)
    D = cdist(
        Q.astype(np.float64),
        X.astype(np.float64),
        "cityblock" if metric == "l1" else "euclidean",
    )
    expected = np.argsort(D, axis=1, kind="stable")[:, :5]
    np.testing.assert_array_equal(ind, expected)
    np.testing.assert_allclose(dist, np.take_along_axis(D, expected, axis=1), rtol=1e-6)
    assert dist.dtype == (np.float32 if dtype == np.float32 else np.float64)


def test_float32_in_float32_out(blobs):
    X, y, Xq, _ = blobs
    knn = NearestNeighbor(3).fit(X.astype(np.float32), y)
    dist, _ = knn.kneighbors(Xq.astype(np.float32))
    assert dist.dtype == np.float32
    assert knn.kneighbors()[0].dtype == np.float32
    dist, _ = knn.kneighbors(Xq)
    assert dist.dtype == np.float64


def test_block_size_follows_the_budget(blobs, monkeypatch):
    X, y, Xq, _ = blobs
    seen = []
    topk = neighbors_module._topk_neighbors

    def spy(*args, block_rows, **kwargs):
        seen.append(block_rows)
        return topk(*args, block_rows=block_rows, **kwargs)

    monkeypatch.setattr(neighbors_module, "_topk_neighbors", spy)
    budget_mib = 0.01
    knn = NearestNeighbor(3, block_memory_mib=budget_mib).fit(X, y)
    tiny = knn.predict_proba(Xq)
    expected = _query_block_rows(200, 8, _n_candidates(3, 200, exact=False), 0.01, "l2")
    assert seen == [expected]
    # 4 bytes of float32 distance per training row and query, and then some.
    assert expected * 4 * 200 <= budget_mib * 2**20
    assert expected < len(Xq)  # the queries really went in several blocks

    whole = knn.set_params(block_memory_mib=1024).predict_proba(Xq)
    assert seen[-1] >= len(Xq)
    np.testing.assert_array_equal(tiny, whole)


@pytest.mark.parametrize("pooled", [False, True])
def test_predict_memory_is_bounded_by_the_budget(pooled, smooth_images, monkeypatch):
    rng = np.random.default_rng(2)
    if pooled:
        # Through the pooled L2 pass (on data too small for it to pay).
        monkeypatch.setattr(_distances, "_POOL_MIN_WORK", 0)
        X, Q = smooth_images(rng, 2100, side=8), smooth_images(rng, 4000, side=8)
    else:
        X, Q = rng.normal(size=(2000, 16)), rng.normal(size=(4000, 16))
    X, Q = X.astype(np.float32), Q.astype(np.float32)
    knn = NearestNeighbor(1, block_memory_mib=1).fit(X, rng.integers(0, 3, len(X)))
    assert (knn._index.pool_stride is not None) == pooled
    knn.predict(Q[:10])  # compile outside the measurement
    tracemalloc.start()
    knn.predict(Q)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # All 4000 x 2000 float32 distances at once would take 30 MiB.
    assert peak < 2 * 2**20


def test_error_when_n_neighbors_exceeds_n_train(blobs):
    X, y, Xq, _ = blobs
    knn = NearestNeighbor(201).fit(X, y)
    with pytest.raises(ValueError, match="n_neighbors = 201, n_samples_fit = 200"):
        knn.predict(Xq)
    with pytest.raises(ValueError, match="n_neighbors = 201, n_samples_fit = 200"):
        knn.kneighbors(Xq)
    knn = NearestNeighbor(1).fit(X, y)
    with pytest.raises(ValueError, match="n_neighbors = 200, n_samples_fit = 200"):
        knn.kneighbors(None, n_neighbors=200)
    with pytest.raises(ValueError, match="n_neighbors > 0"):
        knn.kneighbors(Xq, n_neighbors=0)
    with pytest.raises(TypeError, match="integer"):
        knn.kneighbors(Xq, n_neighbors=2.0)


def test_error_on_feature_mismatch_and_nan(blobs):
    X, y, Xq, _ = blobs
    knn = NearestNeighbor().fit(X, y)
    with pytest.raises(ValueError, match="X has 7 features"):
        knn.predict(Xq[:, :7])
    bad = Xq.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        knn.predict(bad)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        NearestNeighbor().fit(bad, y)


def test_inputs_are_not_modified(blobs):
    X, y, Xq, _ = blobs
    X32, Xq32 = X.astype(np.float32), Xq.astype(np.float32)
    copies = [a.copy() for a in (X32, y, Xq32)]
    knn = NearestNeighbor(3, weights="distance").fit(X32, y)
    knn.predict_proba(Xq32)
    knn.kneighbors(Xq32)
    for array, copy in zip((X32, y, Xq32), copies):
        np.testing.assert_array_equal(array, copy)


def test_n_jobs_gives_the_same_answer_and_restores_threads(blobs):
    X, y, Xq, _ = blobs
    before = numba.get_num_threads()
    expected = NearestNeighbor(3, metric="l1").fit(X, y).kneighbors(Xq)
    for n_jobs in (1, -1):
        got = NearestNeighbor(3, metric="l1", n_jobs=n_jobs).fit(X, y).kneighbors(Xq)
        np.testing.assert_array_equal(got[1], expected[1])
        np.testing.assert_array_equal(got[0], expected[0])
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match="n_jobs == 0"):
        NearestNeighbor(n_jobs=0).fit(X, y).predict(Xq)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_pooled_l2_pass_keeps_sklearn_parity(weights, pool_always, smooth_images):
    rng = np.random.default_rng(5)
    X = smooth_images(rng, 2100, side=8)
    y = rng.integers(0, 4, size=2100)
    Q = np.concatenate([smooth_images(rng, 40, side=8), rng.random((10, X.shape[1]))])
    ours = NearestNeighbor(5, weights=weights).fit(X, y)
    assert ours._index.pool_stride is not None
    ref = KNeighborsClassifier(5, weights=weights, algorithm="brute").fit(X, y)
    dist, ind = ours.kneighbors(Q)
    ref_dist, ref_ind = ref.kneighbors(Q)
    np.testing.assert_array_equal(ind, ref_ind)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-10)
    np.testing.assert_array_equal(ours.predict(Q), ref.predict(Q))
    np.testing.assert_allclose(ours.predict_proba(Q), ref.predict_proba(Q))
