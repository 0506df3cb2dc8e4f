"""numba's threading layer: one that leaves other libraries' threads alone.

numba's default layer on Linux is OpenMP, through the system's GNU OpenMP
runtime ``libgomp.so.1``. torch's CPU wheels ship a runtime of the same name
for their own threads; when numba's was loaded first, the dynamic loader hands
torch that one, and a torch training loop on 2 threads ran 2.7-3x slower per
epoch after any skcv call (importing torch before skcv ran, or numba's
``workqueue`` layer, removed the slowdown; see ``benchmarks/bench_threads.py``
and ``benchmarks/RESULTS.md``).

So skcv makes numba's own ``workqueue`` layer the default: plain pthreads that
sleep on a condition variable between parallel regions, so they neither spin
on the cores that other libraries' threads need nor load a second OpenMP
runtime; they also wake fast after an idle pause. skcv's kernels are coarse
(one parallel region runs milliseconds of work), so they lose nothing to a
simpler scheduler.

A choice made by the user wins: skcv changes nothing when the environment
variable ``NUMBA_THREADING_LAYER`` is set, when ``numba.config.THREADING_LAYER``
was set in code before skcv was imported, or when numba's threads were already
started. The workqueue layer aborts the process if two threads launch
parallel kernels at once, so skcv's kernel launches take a lock while that
layer is in force (a threaded grid search or a Dask worker with several
threads then runs them one at a time, each on every core).
"""

import os
import threading
from contextlib import contextmanager

import numba
from numba.np.ufunc import parallel as _numba_parallel

_DEFAULT_LAYER = "workqueue"
_LOCK = threading.RLock()


def _choose_threading_layer():
    """Make ``workqueue`` numba's layer unless someone chose one; say if it did."""
    if (
        "NUMBA_THREADING_LAYER" in os.environ
        or str(numba.config.THREADING_LAYER).lower() != "default"
        or _numba_parallel._is_initialized
    ):
        return False
    numba.config.THREADING_LAYER = _DEFAULT_LAYER
    # numba re-reads its NUMBA_* variables whenever one of them changes, which
    # would put back the default; the variable keeps the choice (and passes it
    # on to worker processes).
    os.environ["NUMBA_THREADING_LAYER"] = _DEFAULT_LAYER
    return True


def _layer():
    """The threading layer in force, or the one numba will start."""
    if _numba_parallel._is_initialized:
        return numba.threading_layer()
    return str(numba.config.THREADING_LAYER).lower()


@contextmanager
def _kernel_launch():
    """Hold the lock around parallel kernels when the layer is not thread-safe."""
    if _layer() != "workqueue":
        yield
        return
    with _LOCK:
        yield
