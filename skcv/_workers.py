"""Threads that run the parts of one minibatch side by side.

The products of a minibatch are too small for BLAS's own threads to pay:
OpenBLAS splits a 200 x 784 by 784 x 100 product into pieces that finish in
microseconds and then spin-waits for the next, which on a busy machine holds
a core that another process needs (a product then takes ten times longer).
Splitting the batch's rows between threads that each call single-threaded
BLAS does the same work in larger pieces, and a thread that waits here
sleeps on a lock instead of spinning: with one core free, the parts run one
after the other at the cost of one thread.

The threads are daemons started on first use and kept for the process (a
fit makes thousands of calls; starting threads per call would cost more
than the work). Only the main thread uses them (see :func:`_n_training_threads`).
"""

import os
import queue
import threading

from sklearn.utils.parallel import _get_threadpool_controller


class _WorkerPool:
    """Persistent daemon threads; :meth:`run` runs one task per thread."""

    def __init__(self):
        self._inboxes = []
        self._done = queue.SimpleQueue()
        self._token = 0
        self._busy = threading.Lock()

    def _grow(self, n_workers):
        while len(self._inboxes) < n_workers:
            inbox = queue.SimpleQueue()
            thread = threading.Thread(
                target=_serve,
                args=(inbox, self._done),
                name=f"skcv-worker-{len(self._inboxes)}",
                daemon=True,
            )
            thread.start()
            self._inboxes.append(inbox)

    def run(self, tasks):
        """Run ``tasks[0]`` in the caller and the others in the workers.

        Returns when all have finished, also when one raised or the caller
        was interrupted (so that no task still writes into buffers the caller
        goes on to use); the first exception is then raised. If the pool is
        in use (a task itself calling :meth:`run`), the tasks run one after
        the other in the caller.
        """
        if len(tasks) == 1 or not self._busy.acquire(blocking=False):
            for task in tasks:
                task()
            return
        try:
            self._run(tasks)
        finally:
            self._busy.release()

    def _run(self, tasks):
        self._grow(len(tasks) - 1)
        self._token += 1
        token = self._token
        for inbox, task in zip(self._inboxes, tasks[1:]):
            inbox.put((token, task))
        pending = len(tasks) - 1
        error = None
        try:
            tasks[0]()
        except BaseException as exc:
            error = exc
        while pending:
            try:
                done, exc = self._done.get()
            except BaseException as interrupt:
                # Ctrl-C while waiting: still wait, the workers finish in
                # about a millisecond, then pass the interrupt on.
                error = error or interrupt
                continue
            # Completions of an earlier, interrupted call are skipped.
            if done == token:
                pending -= 1
                error = error or exc
        if error is not None:
            raise error


def _serve(inbox, done):
    while True:
        token, task = inbox.get()
        try:
            task()
        except BaseException as exc:
            done.put((token, exc))
        else:
            done.put((token, None))


_POOL = _WorkerPool()


def _reset_after_fork():
    # A forked child has none of the parent's threads.
    global _POOL
    _POOL = _WorkerPool()


os.register_at_fork(after_in_child=_reset_after_fork)


def _run_tasks(tasks):
    """Run the callables ``tasks`` side by side (see :class:`_WorkerPool`)."""
    _POOL.run(tasks)


def _n_training_threads():
    """Threads a model may use for its minibatches: BLAS's current limit.

    The limit users set for BLAS, by ``threadpoolctl.threadpool_limits``,
    ``OMP_NUM_THREADS`` or ``OPENBLAS_NUM_THREADS``, or that joblib sets in
    its worker processes, is the number of cores the caller gave to the
    numerical work; it holds here too. Calls from threads other than the main
    thread (threaded searches, whose workers already fill the cores) get one.
    """
    if threading.current_thread() is not threading.main_thread():
        return 1
    # sklearn's controller, found once: a fresh search of the loaded
    # libraries takes some 10 ms, too long for every partial_fit.
    blas = _get_threadpool_controller().select(user_api="blas")
    counts = [info["num_threads"] for info in blas.info()]
    return max(1, min(counts, default=1))
