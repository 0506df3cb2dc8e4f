"""Fixtures shared by the test modules."""

import numpy as np
import pytest

from skcv import _distances


@pytest.fixture
def pool_always(monkeypatch):
    """The pooled L2 pass on data too small for it to pay (see _POOL_MIN_WORK)."""
    monkeypatch.setattr(_distances, "_POOL_MIN_WORK", 0)


def _smooth_images(rng, n, side=16, dtype=np.float64, offset=0.0):
    """Flattened RGB images (HWC order) whose neighbouring pixels vary
    together: random 4 x 4 images enlarged to ``side`` x ``side``, plus a
    little noise. uint8 images take 0-255, the others [0, 1) + ``offset``."""
    low = rng.random((n, 4, 4, 3))
    images = np.repeat(np.repeat(low, side // 4, axis=1), side // 4, axis=2)
    images = 0.9 * images + 0.1 * rng.random(images.shape)
    if dtype == np.uint8:
        return (images * 255).astype(np.uint8).reshape(n, -1)
    return (images + offset).astype(dtype).reshape(n, -1)


@pytest.fixture
def smooth_images():
    """The image maker above, for tests of the pooled L2 pass."""
    return _smooth_images
