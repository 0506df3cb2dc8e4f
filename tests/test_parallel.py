"""Grid searches on a Dask cluster and batch prediction on dask arrays.

The searches must give the same scores as ``n_jobs=1``, and must really run
on the workers; batch prediction must equal in-memory prediction for rows and
for image batches; the clusters started here must leave no process behind.
"""

import contextlib
import multiprocessing
import os
import pickle
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from skcv import (
    AugmentedClassifier,
    HingeLinear,
    ImageAugmenter,
    NearestNeighbor,
    PixelFlatten,
    SoftmaxLinear,
)
from skcv.parallel import (
    _THREAD_ENV_VARS,
    _thread_pool_sizes,
    dask_backend,
    predict_blocks,
)

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

# Workers of the shared cluster start with two OpenBLAS threads, so that a
# limit of one is something dask_backend has to do, and with one OpenMP and
# numba thread, which only the environment at start-up can set.
_FIXTURE_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "2",
    "NUMBA_NUM_THREADS": "1",
}


def _worker_pids(client):
    return list(client.run(os.getpid).values())


def _assert_gone(pids):
    """The processes have exited (and been reaped by their parent)."""
    alive = [p for p in pids if psutil.pid_exists(p)]
    procs = []
    for pid in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            procs.append(psutil.Process(pid))
    _, still = psutil.wait_procs(procs, timeout=10)
    still = [p for p in still if p.status() != psutil.STATUS_ZOMBIE]
    assert not still, f"worker processes left behind: {still}"
    assert not {p.pid for p in multiprocessing.active_children()} & set(pids)


@pytest.fixture(scope="module")
def cluster():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _FIXTURE_ENV.items():
            mp.setenv(name, value)
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
        with dask.config.set(
            {"distributed.nanny.pre-spawn-environ": {**environ, **_FIXTURE_ENV}}
        ):
            cluster = distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
            )
    client = distributed.Client(cluster, set_as_default=False)
    pids = _worker_pids(client)
    yield cluster, client
    client.close()
    cluster.close()
    _assert_gone(pids)


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.images, d.data, d.target


def _openblas_threads(client):
    sizes = client.run(_thread_pool_sizes)  # OpenBLAS limits are process-wide
    return {worker: pools["openblas"] for worker, pools in sizes.items()}


# ----------------------------------------------------------------- searches


def _search_on_cluster(search, X, y, scheduler, **kwargs):
    """Fit ``search`` with n_jobs=-1 inside dask_backend; return its tasks."""
    with (
        dask_backend(scheduler, **kwargs) as client,
        distributed.get_task_stream(client) as stream,
    ):
        search.set_params(n_jobs=-1).fit(X, y)
    return stream.data


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator, grid",
    [
        (NearestNeighbor(), {"n_neighbors": [1, 3, 5, 7]}),
        (
            SoftmaxLinear(max_iter=5, random_state=0),
            {"alpha": [1e-4, 1e-2], "learning_rate_init": [0.001, 0.01]},
        ),
    ],
    ids=["knn", "softmax"],
)
def test_grid_search_on_cluster_matches_n_jobs_1(cluster, digits, estimator, grid):
    _, client = cluster
    _, X, y = digits
    X = X / 16.0
    cv = KFold(5, shuffle=True, random_state=0)
    # The workers run one BLAS/OpenMP thread; so must the reference, since
    # k-NN ties and floating-point sums can depend on the thread count.
    with threadpool_limits(1):
        ref = GridSearchCV(estimator, grid, cv=cv, n_jobs=1).fit(X, y)
    search = GridSearchCV(estimator, grid, cv=cv)
    tasks = _search_on_cluster(search, X, y, client.scheduler.address)

    workers = {task["worker"] for task in tasks}
    assert workers <= set(client.nthreads()) and len(workers) == 2
    n_fits = 5 * len(ref.cv_results_["params"])
    assert n_fits == len(search.cv_results_["params"]) * 5
    for name, value in ref.cv_results_.items():
        if "time" not in name:
            assert_array_equal(search.cv_results_[name], value, err_msg=name)
    assert search.best_params_ == ref.best_params_


def test_every_n_jobs_runs_on_cluster(cluster, digits):
    # joblib's dask backend sizes every Parallel call to the cluster.
    _, client = cluster
    _, X, y = digits
    search = GridSearchCV(NearestNeighbor(), {"n_neighbors": [1, 3]}, cv=3)
    with dask_backend(client.scheduler.address):
        for n_jobs in [None, 1, 2]:
            with distributed.get_task_stream(client) as stream:
                search.set_params(n_jobs=n_jobs).fit(X, y)
            assert stream.data, n_jobs


def test_progress_is_reported_in_this_process(cluster, digits, monkeypatch):
    # A progress bar counts fits through joblib's print_progress, which the
    # dask backend must call here, not on the workers.
    import joblib

    _, client = cluster
    _, X, y = digits
    seen = []
    original = joblib.Parallel.print_progress

    def record(self):
        seen.append((os.getpid(), self.n_completed_tasks))
        original(self)

    monkeypatch.setattr(joblib.Parallel, "print_progress", record)
    search = GridSearchCV(NearestNeighbor(), {"n_neighbors": [1, 3, 5]}, cv=4)
    _search_on_cluster(search, X, y, client.scheduler.address)
    assert {pid for pid, _ in seen} == {os.getpid()}
    assert max(n for _, n in seen) == 12


def test_data_sent_once_per_search(cluster, digits, monkeypatch):
    _, client = cluster
    _, X, y = digits
    sent = []
    original = client.scatter

    def scatter(data, *args, **kwargs):
        sent.append(data)
        return original(data, *args, **kwargs)

    monkeypatch.setattr(client, "scatter", scatter)
    search = GridSearchCV(NearestNeighbor(), {"n_neighbors": [1, 3, 5]}, cv=4)
    # joblib's dask backend sends each large argument once per search...
    _search_on_cluster(search, X, y, client)
    assert sum(data is X for data in sent) == 1
    # ...or, with scatter=, to every worker before the search starts.
    sent.clear()
    with dask_backend(client, scatter=[X, y]):
        assert len(sent) == 1 and sent[0][0] is X and sent[0][1] is y
        search.set_params(n_jobs=-1).fit(X, y)
    assert not any(data is X for data in sent[1:])


# ------------------------------------------------------------ thread limits


def test_blas_threads_limited_on_workers_then_restored(cluster):
    _, client = cluster
    assert set(_openblas_threads(client).values()) == {2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with dask_backend(client.scheduler.address, blas_threads=1):
            assert set(_openblas_threads(client).values()) == {1}
    assert set(_openblas_threads(client).values()) == {2}
    with dask_backend(client.scheduler.address, blas_threads=None):
        assert set(_openblas_threads(client).values()) == {2}


def test_warns_when_pools_cannot_be_limited():
    # In-process workers share this process's OpenMP and numba pools, which
    # were sized when they were loaded and cannot shrink for other threads.
    from threadpoolctl import threadpool_info

    if all(
        p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "openmp"
    ):
        pytest.skip("this process runs a single OpenMP thread")
    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
    )
    with (
        cluster,
        pytest.warns(UserWarning, match=r"openmp \d.*OMP_NUM_THREADS=1"),
        dask_backend(cluster.scheduler_address, blas_threads=1),
    ):
        pass


def test_local_cluster_limits_threads_and_cleans_up(digits, monkeypatch):
    # This process asks for more threads; the workers must get one anyway.
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    environ = dict(os.environ)
    _, X, y = digits
    search = GridSearchCV(NearestNeighbor(), {"n_neighbors": [1, 3]}, cv=3)
    # A single worker thread would make joblib run the fits in this process.
    backend = dask_backend("local", n_workers=1, threads_per_worker=2, blas_threads=1)
    # Closed on an error too.
    with pytest.raises(RuntimeError, match="end of block"), backend as client:
        pids = _worker_pids(client)
        assert len(pids) == 1 and os.getpid() not in pids
        [sizes] = client.run(_thread_pool_sizes).values()
        assert set(sizes.values()) == {1}, sizes
        [env] = client.run(
            lambda: {v: os.environ.get(v) for v in _THREAD_ENV_VARS}
        ).values()
        assert env == dict.fromkeys(_THREAD_ENV_VARS, "1")
        with distributed.get_task_stream(client) as stream:
            search.set_params(n_jobs=-1).fit(X, y)
        assert stream.data
        raise RuntimeError("end of block")
    assert client.status == "closed"
    _assert_gone(pids)
    assert dict(os.environ) == environ


def test_no_scheduler_is_a_no_op():
    import joblib

    before = joblib.parallel.get_active_backend()
    with dask_backend(None) as client:
        assert client is None
        assert type(joblib.parallel.get_active_backend()[0]) is type(before[0])


def test_missing_distributed_reported_before_the_block(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'skcv\[distributed\]'"):
        dask_backend("local")
    with dask_backend(None):  # needs no dask
        pass


def test_unreachable_scheduler_named_in_error():
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(OSError, match=r"scheduler at 'tcp://127.0.0.1:9'"),
        dask_backend("tcp://127.0.0.1:9"),
    ):
        pass


def test_dask_backend_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_workers applies to scheduler='local'"):
        dask_backend("tcp://127.0.0.1:8786", n_workers=2)
    with pytest.raises(InvalidParameterError, match="blas_threads"):
        dask_backend("local", blas_threads=0)
    with pytest.raises(InvalidParameterError, match="scheduler"):
        dask_backend(8786)


# --------------------------------------------------------- batch prediction

_NAMES = np.array(["zero", "one", "two", "three", "four", "5", "6", "7", "8", "9"])


@pytest.fixture(scope="module")
def knn(digits):
    _, X, y = digits
    # String labels: predict must return classes_.dtype, not a number.
    return NearestNeighbor(n_neighbors=3).fit(X[:1000], _NAMES[y[:1000]])


def _rows(digits, *, chunks=40):
    _, X, _ = digits
    X = X[1000:]
    return X, da.from_array(X, chunks=(chunks, -1))


def _assert_same(got, expected):
    """Labels and indices exactly; floats up to the rounding of BLAS, whose
    sums depend on the size of the block they are computed on."""
    if expected.dtype.kind == "f":
        assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    else:
        assert_array_equal(got, expected)


def _compute(result, client):
    return dask.compute(result, scheduler=client if client else "sync")[0]


@pytest.mark.parametrize("ship", ["graph", "scatter"])
@pytest.mark.parametrize(
    "method, kwargs",
    [
        ("predict", {}),
        ("predict_proba", {}),
        ("kneighbors", {}),
        ("kneighbors", {"n_neighbors": 5, "return_distance": False}),
    ],
)
def test_predict_blocks_on_cluster_equals_in_memory(
    cluster, digits, knn, method, kwargs, ship
):
    _, client = cluster
    X, X_dask = _rows(digits)
    assert X_dask.numblocks == (20, 1)
    result = predict_blocks(
        knn,
        X_dask,
        method=method,
        client=client if ship == "scatter" else None,
        **kwargs,
    )
    expected = getattr(knn, method)(X, **kwargs)
    if not isinstance(expected, tuple):
        result, expected = (result,), (expected,)
    assert isinstance(result, tuple) and len(result) == len(expected)
    for lazy, value in zip(result, expected):
        assert lazy.shape == value.shape and lazy.dtype == value.dtype
        assert lazy.chunks[0] == X_dask.chunks[0]
    computed = _compute(result, client)
    for got, value in zip(computed, expected):
        _assert_same(got, value)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "channels, model",
    [
        (
            None,
            make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=3, random_state=0)),
        ),
        (3, make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=3, random_state=0))),
        (
            3,
            AugmentedClassifier(
                make_pipeline(PixelFlatten(), NearestNeighbor(n_neighbors=3)),
                augmenter=ImageAugmenter(max_shift=1),
                random_state=0,
            ),
        ),
    ],
    ids=["gray-softmax", "colour-softmax", "colour-augmented-knn"],
)
def test_predict_blocks_images_through_pipeline(cluster, digits, channels, model):
    _, client = cluster
    images, _, y = digits
    if channels:
        images = np.repeat(images[..., None], channels, axis=-1)
    model = clone(model).fit(images[:1000] / 16, y[:1000])
    X = images[1000:] / 16
    X_dask = da.from_array(X, chunks=(40, *X.shape[1:]))
    assert X_dask.numblocks[0] == 20
    for method in ["predict", "predict_proba"] + (
        ["decision_function"] if hasattr(model, "decision_function") else []
    ):
        expected = getattr(model, method)(X)
        result = predict_blocks(model, X_dask, method=method)
        assert result.shape == expected.shape and result.dtype == expected.dtype
        _assert_same(_compute(result, client), expected)


def test_predict_blocks_any_scheduler(digits, knn):
    X, X_dask = _rows(digits, chunks=300)
    dist, ind = predict_blocks(knn, X_dask, method="kneighbors")
    expected_dist, expected_ind = knn.kneighbors(X)
    for scheduler in ["sync", "threads"]:
        got_dist, got_ind = dask.compute(dist, ind, scheduler=scheduler)
        assert_array_equal(got_ind, expected_ind)
        assert_array_equal(got_dist, expected_dist)


def test_predict_blocks_sends_estimator_once(cluster, digits, knn):
    _, client = cluster
    X = digits[1][1000:1200]
    X_dask = da.from_array(X, chunks=(10, -1))
    assert X_dask.numblocks == (20, 1)
    estimator_bytes = len(pickle.dumps(knn))
    for method in ["predict", "kneighbors"]:
        result = predict_blocks(knn, X_dask, method=method)
        graph = dask.base.collections_to_expr(
            result if isinstance(result, tuple) else [result]
        ).__dask_graph__()
        graph_bytes = len(pickle.dumps(dict(graph)))
        # One copy of the estimator and of X, not one estimator per block.
        assert graph_bytes < estimator_bytes + 2 * X.nbytes, method
        assert graph_bytes > estimator_bytes, method
    # Scattered: a copy on every worker, none in the graph.
    result = predict_blocks(knn, X_dask, client=client)
    graph_bytes = len(pickle.dumps(dict(result.__dask_graph__())))
    assert graph_bytes < 2 * X.nbytes < estimator_bytes
    holders = [
        worker
        for worker, keys in client.has_what().items()
        if any(str(key).startswith("NearestNeighbor-") for key in keys)
    ]
    assert sorted(holders) == sorted(client.nthreads())
    del result


def test_predict_blocks_merges_column_chunks(digits, knn):
    X, _ = _rows(digits)
    X_dask = da.from_array(X, chunks=(100, 16))
    result = predict_blocks(knn, X_dask, method="predict_proba")
    assert result.chunks == (X_dask.chunks[0], (10,))
    assert_array_equal(result.compute(scheduler="sync"), knn.predict_proba(X))


def test_predict_blocks_does_not_modify_input(digits, knn):
    X, X_dask = _rows(digits)
    X_before = X.copy()
    predict_blocks(knn, X_dask).compute(scheduler="sync")
    assert_array_equal(X, X_before)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_blocks_rejects_bad_input(digits, knn):
    X, X_dask = _rows(digits)
    with pytest.raises(TypeError, match="X must be a dask array, got ndarray"):
        predict_blocks(knn, X)
    with pytest.raises(ValueError, match="got 1 dimension"):
        predict_blocks(knn, X_dask[:, 0])
    with pytest.raises(ValueError, match="got 5 dimension"):
        predict_blocks(knn, X_dask.reshape(-1, 4, 4, 2, 2))
    with pytest.raises(ValueError, match=r"unknown size.*compute_chunk_sizes"):
        predict_blocks(knn, X_dask[X_dask[:, 10] > 3])
    with pytest.raises(NotFittedError):
        predict_blocks(NearestNeighbor(), X_dask)
    with pytest.raises(ValueError, match="HingeLinear has no method 'predict_proba'"):
        hinge = HingeLinear(max_iter=1).fit(X[:100], np.arange(100) % 3)
        predict_blocks(hinge, X_dask, method="predict_proba")
    with pytest.raises(InvalidParameterError, match="method"):
        predict_blocks(knn, X_dask, method="fit")
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        predict_blocks(knn, X_dask, n_neighbors=3)


def test_predict_blocks_checks_image_shape_before_computing(digits):
    images, _, y = digits
    model = make_pipeline(PixelFlatten(), NearestNeighbor()).fit(images, y)
    wrong = da.zeros((100, 4, 16), chunks=10)
    with pytest.raises(ValueError, match=r"shape \(4, 16\).*\(8, 8\)"):
        predict_blocks(model, wrong)
