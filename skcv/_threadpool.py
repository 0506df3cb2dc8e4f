"""BLAS thread limits that leave no trace when calls run in several threads.

OpenBLAS and MKL take their thread count process-wide, and threadpoolctl's
limiters restore on exit what they found on entry. Two calls that overlap in
different threads undo each other: the first to leave restores the original
count while the second still runs, and the second then "restores" the first
one's limit, which stays in force for the rest of the process (threadpoolctl
3.8 also ignores the limits set by threads other than the one that took
control of OpenBLAS first). So the limits are set from the main thread only;
calls from other threads, such as the workers of a threaded grid search, run
under whatever limit is in force.
"""

import functools
import threading
from contextlib import contextmanager

from sklearn.utils.parallel import _get_threadpool_controller


@contextmanager
def _limit_blas_threads(limits):
    """Run the body with BLAS limited to ``limits`` threads (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _get_threadpool_controller().limit(limits=limits, user_api="blas"):
        yield


def _blas_threads_limited(limits):
    """Decorator form of :func:`_limit_blas_threads`."""

    def decorator(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _limit_blas_threads(limits):
                return func(*args, **kwargs)

        return wrapper

    return decorator
