"""numba's threading layer as skcv sets it up (see skcv/_threading.py)."""

import os
import subprocess
import sys
import textwrap

import pytest

# Each check runs in a fresh interpreter: the layer is chosen once per process,
# when numba starts its threads.
_RUN_KERNELS = """
import numpy as np
import numba
import skcv

rng = np.random.default_rng(0)
X = rng.random((300, 20))
skcv.NearestNeighbor(3).fit(X, rng.integers(0, 3, 300)).predict(X[:50])
images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
skcv.ImageAugmenter(max_rotation=10, random_state=0).fit_resample(
    images, np.zeros(200, dtype=int)
)
print(numba.threading_layer())
"""


def _run(code, **env):
    environ = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environ,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_workqueue_is_the_default_layer():
    assert _run(_RUN_KERNELS)[-1] == "workqueue"


@pytest.mark.parametrize("layer", ["omp", "workqueue"])
def test_the_users_environment_variable_wins(layer):
    assert _run(_RUN_KERNELS, NUMBA_THREADING_LAYER=layer)[-1] == layer


def test_a_layer_set_in_code_before_the_import_wins():
    code = "import numba\nnumba.config.THREADING_LAYER = 'omp'\n" + _RUN_KERNELS
    assert _run(code)[-1] == "omp"


def test_threads_started_before_the_import_keep_their_layer():
    code = (
        "import numba, numpy as np\n"
        "@numba.njit(parallel=True)\n"
        "def f(a):\n"
        "    for i in numba.prange(a.size):\n"
        "        a[i] += 1\n"
        "f(np.zeros(100))\n" + _RUN_KERNELS
    )
    assert _run(code)[-1] == "omp"


def test_concurrent_calls_from_threads_do_not_abort():
    # The workqueue layer aborts the process when two threads launch parallel
    # kernels at once; skcv's launches take a lock.
    code = """
    from concurrent.futures import ThreadPoolExecutor

    import numba
    import numpy as np
    import skcv
    from skcv import _distances

    # The pooled L2 pass on data too small for it to pay, to run its kernels.
    _distances._POOL_MIN_WORK = 0
    rng = np.random.default_rng(0)
    X = rng.random((2000, 30))
    y = rng.integers(0, 3, 2000)
    images = rng.integers(0, 256, (500, 28, 28), dtype=np.uint8)
    # Fitting runs parallel kernels too: pixels on 256 levels (L1) and
    # smooth images for the pooled L2 pass.
    low = rng.random((2100, 4, 4, 3))
    smooth = np.repeat(np.repeat(low, 2, axis=1), 2, axis=2).reshape(2100, -1)
    levels = np.round(smooth * 255) / 255
    y_smooth = rng.integers(0, 3, 2100)

    def work(seed):
        skcv.NearestNeighbor(2, metric="l1").fit(X, y).predict(X[:300])
        skcv.NearestNeighbor(2).fit(X, y).kneighbors()
        skcv.NearestNeighbor(2).fit(smooth, y_smooth).predict(smooth[:200])
        skcv.NearestNeighbor(2, metric="l1").fit(levels, y_smooth).predict(levels[:50])
        return skcv.ImageAugmenter(max_rotation=10, random_state=seed).fit_resample(
            images, np.zeros(500, dtype=int)
        )[0].sum()

    with ThreadPoolExecutor(4) as pool:
        sums = list(pool.map(work, range(8)))
    assert sums == [work(seed) for seed in range(8)]
    print(numba.threading_layer())
    """
    assert _run(code)[-1] == "workqueue"
