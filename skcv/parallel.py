"""Running skcv on a Dask cluster.

Two tasks outgrow one machine: hyper-parameter searches (folds x grid points
x augmentation settings) and batch prediction over more images than fit in
memory. Both run on Dask's own engines rather than on a scheduler of ours:

- :func:`dask_backend` connects to a cluster (or starts one on this machine)
  and makes it joblib's backend, so that ``GridSearchCV(n_jobs=-1).fit`` run
  inside it sends its fits to the workers;
- :func:`predict_blocks` maps ``predict``, ``predict_proba``,
  ``decision_function`` or ``kneighbors`` of a fitted estimator over the row
  blocks of a dask array.

Dask is optional (``pip install "skcv[distributed]"``): this module imports
without it, and its functions raise an ImportError naming the extra.
"""

import contextlib
import functools
import math
import os
import uuid
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted

__all__ = ["dask_backend", "predict_blocks"]

# Thread pools that must be sized before a worker imports numpy or numba.
_THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)
_PLUGIN_NAME = "skcv-thread-limits"
_METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "transform",
    "kneighbors",
)


def _import_distributed():
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(
            "Running on a Dask cluster needs dask.distributed; install it with "
            "pip install 'skcv[distributed]'."
        ) from exc
    return distributed


@validate_params(
    {
        "scheduler": [str, HasMethods(["submit", "register_plugin"]), None],
        "n_workers": [Interval(Integral, 1, None, closed="left"), None],
        "threads_per_worker": [Interval(Integral, 1, None, closed="left")],
        "blas_threads": [Interval(Integral, 1, None, closed="left"), None],
        "scatter": [list, tuple, None],
    },
    prefer_skip_nested_validation=True,
)
def dask_backend(
    scheduler=None,
    *,
    n_workers=None,
    threads_per_worker=1,
    blas_threads=1,
    scatter=None,
):
    """Run the joblib-parallel work inside the block on a Dask cluster.

    Inside the ``with`` block, every joblib ``Parallel`` call, and so every
    ``GridSearchCV``, ``cross_validate`` or ``RandomizedSearchCV``, sends its
    fits to the Dask workers through joblib's ``"dask"`` backend; dask
    collections computed inside the block run on the cluster too. Each
    worker's BLAS, OpenMP and numba thread pools are limited to
    ``blas_threads`` so that the workers together do not start more threads
    than there are cores.

    Parameters
    ----------
    scheduler : str, distributed.Client or None, default=None
        Where to run:

        - None: nowhere new; the block runs as if there were no block, so
          that callers can write ``with dask_backend(option):`` whatever the
          option is;
        - ``"local"``: start a ``distributed.LocalCluster`` of worker processes
          on this machine, closed when the block ends;
        - an address such as ``"tcp://10.0.0.5:8786"``: connect to the running
          scheduler there (its workers are started with ``dask worker``); the
          connection is closed when the block ends, the cluster is not;
        - a ``distributed.Client``: use it as it is, and leave it open.

    n_workers : int, default=None
        Worker processes of the local cluster; None starts one per core
        divided by ``threads_per_worker``. Only for ``scheduler="local"``.
    threads_per_worker : int, default=1
        Threads of each worker of the local cluster, i.e. how many fits a
        worker process runs at once. Ignored for a running cluster, whose
        workers chose theirs with ``dask worker --nthreads``.
    blas_threads : int or None, default=1
        Threads each worker's BLAS, OpenMP and numba pools may use. The local
        cluster's workers get the environment variables ``OMP_NUM_THREADS``,
        ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``NUMBA_NUM_THREADS``
        before they start; the workers of any cluster get a worker plugin that
        applies :func:`threadpoolctl.threadpool_limits` (and gives the old
        limits back when the block ends). None leaves the workers alone.
    scatter : list of array-like, default=None
        Objects, typically ``[X, y]``, to send to every worker once when the
        block starts. Without it joblib's dask backend still sends each large
        argument (over 1 kB) only once per ``Parallel`` call, to one worker,
        from which the others fetch it.

    Returns
    -------
    context : context manager
        Yields the ``distributed.Client`` (None when ``scheduler`` is None).

    Raises
    ------
    ImportError
        If ``scheduler`` is not None and dask.distributed is not installed.
    OSError
        On entering the block, if the scheduler cannot be reached.

    Warns
    -----
    UserWarning
        When a worker still runs a thread pool larger than ``blas_threads``
        after the limits were applied. OpenMP and numba size their pools when
        the worker starts, so a running cluster must be started with the
        environment variables above.

    See Also
    --------
    predict_blocks : Predict on a dask array, block by block.
    joblib.parallel_config : The joblib setting this function enters.

    Notes
    -----
    joblib's dask backend spreads every ``Parallel`` call over all the
    worker threads of the cluster, whatever its ``n_jobs`` (1 and None
    included); a cluster with a single worker thread in all makes joblib run
    the fits in this process instead. Only the final refit of a search always
    runs in this process.

    Each fit gets the same clone, folds and seed wherever it runs, so seeded
    searches give the scores of ``n_jobs=1`` run with the same thread limits.
    The thread count matters to the last bits: BLAS sums and scikit-learn's
    k-NN tie-breaking depend on it, so compare with a run under
    ``threadpoolctl.threadpool_limits(blas_threads)``.

    Work is shipped as pickles: the workers must have the same versions of
    skcv, scikit-learn and numpy installed. Scripts that use
    ``scheduler="local"`` must guard their entry point with
    ``if __name__ == "__main__":``, since the workers are new processes.

    Examples
    --------
    The workers here live in this process, which keeps the example quick; a
    real cluster is ``dask_backend("local")`` or ``dask_backend(address)``.

    >>> from distributed import LocalCluster
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skcv import NearestNeighbor
    >>> from skcv.parallel import dask_backend
    >>> X, y = load_digits(return_X_y=True)
    >>> search = GridSearchCV(NearestNeighbor(), {"n_neighbors": [1, 3]})
    >>> cluster = LocalCluster(n_workers=1, processes=False, dashboard_address=":0")
    >>> with cluster, dask_backend(cluster.scheduler_address, blas_threads=None):
    ...     search = search.set_params(n_jobs=-1).fit(X, y)
    >>> search.best_params_
    {'n_neighbors': 3}
    >>> with dask_backend(None) as client:  # no cluster: a no-op
    ...     print(client)
    None
    """
    if scheduler is None:
        return contextlib.nullcontext()
    # Fail here rather than on entering the block, so that callers can report
    # a missing dependency as a usage error.
    _import_distributed()
    if n_workers is not None and not (
        isinstance(scheduler, str) and scheduler == "local"
    ):
        raise ValueError(
            f"n_workers applies to scheduler='local' only; the workers of the "
            f"cluster at {scheduler!r} are started with `dask worker`."
        )
    return _dask_backend(
        scheduler,
        n_workers=n_workers,
        threads_per_worker=threads_per_worker,
        blas_threads=blas_threads,
        scatter=scatter,
    )


@contextlib.contextmanager
def _dask_backend(scheduler, *, n_workers, threads_per_worker, blas_threads, scatter):
    import distributed
    import joblib

    with contextlib.ExitStack() as stack:
        local = isinstance(scheduler, str) and scheduler == "local"
        if local:
            cluster = stack.enter_context(
                _local_cluster(
                    distributed,
                    n_workers=n_workers,
                    threads_per_worker=threads_per_worker,
                    blas_threads=blas_threads,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        elif isinstance(scheduler, str):
            try:
                client = stack.enter_context(distributed.Client(scheduler))
            except (OSError, TimeoutError) as exc:
                raise OSError(
                    f"Cannot connect to the Dask scheduler at {scheduler!r}: {exc}"
                ) from exc
        else:
            client = scheduler
        stack.enter_context(client.as_current())
        if blas_threads is not None:
            client.register_plugin(
                _thread_limits_plugin(blas_threads), name=_PLUGIN_NAME
            )
            if not local:
                # The cluster outlives the block: give its workers their
                # own limits back (the plugin's teardown restores them).
                stack.callback(client.unregister_worker_plugin, _PLUGIN_NAME)
            _warn_unlimited_workers(client, blas_threads)
        stack.enter_context(
            joblib.parallel_config(backend="dask", client=client, scatter=scatter)
        )
        yield client


@contextlib.contextmanager
def _local_cluster(distributed, *, n_workers, threads_per_worker, blas_threads):
    """Start a LocalCluster whose workers start with the thread limits set."""
    import dask

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    limits = (
        {}
        if blas_threads is None
        else dict.fromkeys(_THREAD_ENV_VARS, str(blas_threads))
    )
    saved = dict(os.environ)
    try:
        # The nanny exports pre-spawn-environ before it spawns a worker, which
        # is the only moment OpenMP and numba read them; for the variables
        # listed there, this process's own values take precedence.
        os.environ.update(limits)
        with dask.config.set(
            {"distributed.nanny.pre-spawn-environ": {**environ, **limits}}
        ):
            cluster = distributed.LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=True,
                dashboard_address=":0",
            )
    finally:
        # ...but it exports them into this process as well.
        _restore_environ(saved)
    try:
        yield cluster
    finally:
        cluster.close()
        _restore_environ(saved)


def _restore_environ(saved):
    for name in set(os.environ) - set(saved):
        del os.environ[name]
    os.environ.update(saved)


@functools.cache
def _thread_limits_plugin_class():
    # Defined on first use so that importing this module needs no dask.
    distributed = _import_distributed()

    class ThreadLimits(distributed.WorkerPlugin):
        """Limit a worker's thread pools while registered."""

        def __init__(self, n_threads):
            self.n_threads = n_threads

        def setup(self, worker):
            from threadpoolctl import threadpool_limits

            self._environ = {name: os.environ.get(name) for name in _THREAD_ENV_VARS}
            # Inherited by processes the tasks start (e.g. nested loky pools).
            os.environ.update(dict.fromkeys(_THREAD_ENV_VARS, str(self.n_threads)))
            # Process-wide for OpenBLAS and MKL; OpenMP and numba keep the
            # sizes they read from the environment at start-up.
            self._limiter = threadpool_limits(limits=self.n_threads)

        def teardown(self, worker):
            self._limiter.restore_original_limits()
            for name, value in self._environ.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    return ThreadLimits


def _thread_limits_plugin(n_threads):
    return _thread_limits_plugin_class()(n_threads)


def _thread_pool_sizes():
    """Size of each thread pool of the calling thread, by pool name."""
    import numba
    from threadpoolctl import threadpool_info

    sizes = {}
    for pool in threadpool_info():
        name = pool["internal_api"]
        sizes[name] = max(sizes.get(name, 0), pool["num_threads"])
    sizes["numba"] = numba.config.NUMBA_NUM_THREADS
    return sizes


def _worker_thread_pools(client):
    """Thread pool sizes seen by a task on each worker, by worker address."""
    # A task rather than client.run: OpenMP limits are per thread, and tasks
    # run in the worker's executor threads, not in its event loop.
    token = uuid.uuid4().hex
    futures = {
        worker: client.submit(
            _thread_pool_sizes,
            key=f"skcv-thread-pools-{token}-{i}",
            workers=[worker],
            allow_other_workers=False,
            pure=False,
        )
        for i, worker in enumerate(client.nthreads())
    }
    return dict(zip(futures, client.gather(list(futures.values()))))


def _warn_unlimited_workers(client, n_threads):
    excess = {
        worker: {name: size for name, size in sizes.items() if size > n_threads}
        for worker, sizes in _worker_thread_pools(client).items()
    }
    excess = {worker: pools for worker, pools in excess.items() if pools}
    if excess:
        details = "; ".join(
            f"{worker}: " + ", ".join(f"{name} {size}" for name, size in pools.items())
            for worker, pools in excess.items()
        )
        env = " ".join(f"{name}={n_threads}" for name in _THREAD_ENV_VARS)
        warnings.warn(
            f"Dask workers run thread pools larger than blas_threads={n_threads} "
            f"({details}), so parallel fits may oversubscribe the cores. OpenMP "
            f"and numba size their pools when a worker starts: start the workers "
            f"with `{env} dask worker ...`.",
            UserWarning,
            stacklevel=4,
        )


def _apply_method(block, estimator, *, method, kwargs):
    return getattr(estimator, method)(block, **kwargs)


@validate_params(
    {
        "estimator": [HasMethods(["fit"])],
        "X": "no_validation",
        "method": [StrOptions(set(_METHODS))],
        "client": [HasMethods(["scatter", "submit"]), None],
    },
    prefer_skip_nested_validation=True,
)
def predict_blocks(estimator, X, *, method="predict", client=None, **kwargs):
    """Apply a fitted estimator's method to a dask array, block by block.

    ``X`` is cut into blocks of rows (images); each block is one task that
    calls ``getattr(estimator, method)(block, **kwargs)``. Nothing is computed
    until the result is: call ``.compute()``, or store it with
    ``dask.array.store`` / ``to_zarr`` when even the output is large.

    Parameters
    ----------
    estimator : estimator instance
        A fitted estimator or Pipeline, e.g. ``make_pipeline(PixelFlatten(),
        NearestNeighbor()).fit(images, y)``.
    X : dask.array.Array of shape (n_samples, n_features) or \
            (n_samples, H, W[, C])
        Rows or images, chunked along the first axis. Chunks along other axes
        are merged first, since each task needs whole rows.
    method : {"predict", "predict_proba", "predict_log_proba", \
            "decision_function", "transform", "kneighbors"}, default="predict"
        The method to apply.
    client : distributed.Client, default=None
        Send the estimator to every worker of this client before the
        computation (``client.scatter(estimator, broadcast=True)``); the result
        must then be computed on this client. Advised for large estimators,
        e.g. a nearest-neighbour model holding its training images. When None,
        the estimator is one task of the graph, which any scheduler can run.
    **kwargs : dict
        Keyword arguments of the method, e.g. ``n_neighbors`` or
        ``return_distance`` for ``kneighbors``.

    Returns
    -------
    result : dask.array.Array or tuple of dask.array.Array
        What the method returns for ``X``, as dask arrays chunked like the rows
        of ``X``: shape (n_samples,) of ``classes_.dtype`` for ``predict``,
        (n_samples, n_classes) for ``predict_proba``, and the pair
        ``(distances, indices)`` of shape (n_samples, n_neighbors) for
        ``kneighbors``.

    Raises
    ------
    TypeError
        If ``X`` is not a dask array, or the method does not return one row per
        sample.
    ValueError
        If ``X`` does not hold 2-D rows or 3-D/4-D image batches, if its chunk
        sizes are unknown, or if the estimator has no such method.
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.

    See Also
    --------
    dask.array.map_blocks : What the single-output methods are built on.
    dask_ml.wrappers.ParallelPostFit : The same for 2-D ``predict`` and
        ``predict_proba`` (it reads blocks as rows, not as images).
    dask_backend : Run grid searches on a Dask cluster.

    Notes
    -----
    The output's shape and dtype are found by calling the method once, in this
    process, on a single image of zeros; the estimator is then serialised once,
    not once per block.

    Memory: a task holds one block of ``X``, the method's working memory for
    it and its output, and every task on a worker shares that worker's copy of
    the estimator. A worker thus needs about ``size(estimator) +
    threads_per_worker * (block bytes + working memory)``: halve the rows per
    chunk (``X.rechunk({0: rows})``) to halve the second term. Working memory
    is the estimator's own: e.g. the distances ``NearestNeighbor`` computes
    per query block, bounded by its ``block_memory_mib``, and the float copy
    of ``uint8`` pixels that validation makes.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn.datasets import load_digits
    >>> from skcv import NearestNeighbor
    >>> from skcv.parallel import predict_blocks
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = NearestNeighbor(n_neighbors=3).fit(X[:1000], y[:1000])
    >>> X_dask = da.from_array(X[1000:], chunks=200)
    >>> y_pred = predict_blocks(clf, X_dask)
    >>> y_pred
    dask.array<_apply_method, shape=(797,), dtype=int64, chunksize=(200,), ...>
    >>> bool((y_pred.compute(scheduler="sync") == clf.predict(X[1000:])).all())
    True
    >>> dist, ind = predict_blocks(clf, X_dask, method="kneighbors")
    >>> ind.shape, ind.chunks[0]
    ((797, 3), (200, 200, 200, 197))
    """
    import dask
    import dask.array as da

    if not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a dask array, got {type(X).__name__}; wrap an in-memory "
            f"array with dask.array.from_array(X, chunks=rows)."
        )
    if X.ndim not in (2, 3, 4):
        raise ValueError(
            f"X must hold rows of shape (n_samples, n_features) or images of "
            f"shape (n_samples, height, width[, channels]); got {X.ndim} "
            f"dimension(s), shape {X.shape}."
        )
    if any(math.isnan(size) for size in X.chunks[0]):
        raise ValueError(
            "X has blocks of unknown size (e.g. after boolean indexing); call "
            "X.compute_chunk_sizes() first."
        )
    check_is_fitted(estimator)
    if not hasattr(estimator, method):
        raise ValueError(f"{type(estimator).__name__} has no method {method!r}.")
    if any(n > 1 for n in X.numblocks[1:]):
        X = X.rechunk(dict.fromkeys(range(1, X.ndim), -1))

    probe = getattr(estimator, method)(np.zeros((1, *X.shape[1:]), X.dtype), **kwargs)
    outputs = probe if isinstance(probe, tuple) else (probe,)
    if not all(
        isinstance(out, np.ndarray) and out.shape[:1] == (1,) for out in outputs
    ):
        raise TypeError(
            f"{type(estimator).__name__}.{method} does not return one row per "
            f"sample, so it cannot be applied block by block."
        )

    if client is not None:
        shared = client.scatter(estimator, broadcast=True, hash=False)
    else:
        shared = dask.delayed(
            estimator, name=f"{type(estimator).__name__}-{uuid.uuid4().hex}"
        )
    func = functools.partial(_apply_method, method=method, kwargs=kwargs)

    if not isinstance(probe, tuple):
        extra_axes = list(range(min(probe.ndim, X.ndim), max(probe.ndim, X.ndim)))
        return X.map_blocks(
            func,
            shared,
            chunks=(X.chunks[0], *((size,) for size in probe.shape[1:])),
            drop_axis=extra_axes if probe.ndim < X.ndim else [],
            new_axis=extra_axes if probe.ndim > X.ndim else None,
            meta=probe[:0],
        )

    # Several outputs (kneighbors): one task per block computes them all, and
    # each output array picks its part, so the pair is computed once.
    task = dask.delayed(func, pure=True, nout=len(outputs))
    parts = [task(block, shared) for block in X.to_delayed().ravel()]
    return tuple(
        da.concatenate(
            [
                da.from_delayed(
                    part[i], shape=(n, *out.shape[1:]), dtype=out.dtype, meta=out[:0]
                )
                for part, n in zip(parts, X.chunks[0])
            ]
        )
        for i, out in enumerate(outputs)
    )
