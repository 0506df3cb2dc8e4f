"""The update rules of skcv._optim against steps computed by hand."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from skcv._optim import _make_optimizer


def _params():
    return [np.array([[1.0, -2.0]]), np.array([0.5])]


def _grads():
    return [np.array([[0.5, 1.0]]), np.array([-2.0])]


def test_plain_sgd():
    params = _params()
    opt = _make_optimizer("sgd", params, 0.1, momentum=0.0, nesterov=False)
    opt.update(params, _grads())
    assert_allclose(params[0], [[0.95, -2.1]])
    assert_allclose(params[1], [0.7])


def test_momentum_two_steps():
    params = _params()
    opt = _make_optimizer("sgd", params, 0.1, momentum=0.9, nesterov=False)
    opt.update(params, _grads())
    # v1 = -0.1 g, p1 = p0 + v1
    assert_allclose(params[0], [[0.95, -2.1]])
    opt.update(params, _grads())
    # v2 = 0.9 v1 - 0.1 g = -0.19 g, p2 = p1 + v2
    assert_allclose(params[0], [[0.95 - 0.095, -2.1 - 0.19]])
    assert_allclose(params[1], [0.7 + 0.38])


def test_nesterov_two_steps():
    params = _params()
    opt = _make_optimizer("sgd", params, 0.1, momentum=0.9, nesterov=True)
    g = 0.5  # first coordinate
    opt.update(params, _grads())
    # v1 = -0.1 g; p1 = p0 + 0.9 v1 - 0.1 g
    p1 = 1.0 + 0.9 * (-0.1 * g) - 0.1 * g
    assert_allclose(params[0][0, 0], p1)
    opt.update(params, _grads())
    v2 = 0.9 * (-0.1 * g) - 0.1 * g
    assert_allclose(params[0][0, 0], p1 + 0.9 * v2 - 0.1 * g)


def test_rmsprop_two_steps():
    params = _params()
    opt = _make_optimizer("rmsprop", params, 0.01, rho=0.9, epsilon=1e-8)
    g = -2.0
    opt.update(params, _grads())
    s1 = 0.1 * g**2
    p1 = 0.5 - 0.01 * g / (np.sqrt(s1) + 1e-8)
    assert_allclose(params[1], [p1])
    opt.update(params, _grads())
    s2 = 0.9 * s1 + 0.1 * g**2
    assert_allclose(params[1], [p1 - 0.01 * g / (np.sqrt(s2) + 1e-8)])


def test_adam_two_steps():
    params = _params()
    opt = _make_optimizer("adam", params, 0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    g = 1.0  # second coordinate of the weights
    opt.update(params, _grads())
    m1, v1 = 0.1 * g, 0.001 * g**2
    lr1 = 0.001 * np.sqrt(1 - 0.999) / (1 - 0.9)
    p1 = -2.0 - lr1 * m1 / (np.sqrt(v1) + 1e-8)
    # The bias correction makes the first step lr * sign(g).
    assert_allclose(p1, -2.001, rtol=1e-6)
    assert_allclose(params[0][0, 1], p1)
    opt.update(params, _grads())
    m2, v2 = 0.9 * m1 + 0.1 * g, 0.999 * v1 + 0.001 * g**2
    lr2 = 0.001 * np.sqrt(1 - 0.999**2) / (1 - 0.9**2)
    assert_allclose(params[0][0, 1], p1 - lr2 * m2 / (np.sqrt(v2) + 1e-8))
    assert opt.t == 2


@pytest.mark.parametrize(
    "solver, options",
    [
        ("sgd", {"momentum": 0.9, "nesterov": True}),
        ("sgd", {"momentum": 0.9, "nesterov": False}),
        ("rmsprop", {}),
        ("adam", {}),
    ],
)
def test_float32_is_kept_and_matches_float64(solver, options):
    rng = np.random.default_rng(0)
    p64 = [rng.normal(size=(30, 4)), rng.normal(size=4)]
    p32 = [p.astype(np.float32) for p in p64]
    opt64 = _make_optimizer(solver, p64, 0.01, **options)
    opt32 = _make_optimizer(solver, p32, 0.01, **options)
    for _ in range(3):
        g64 = [rng.normal(size=p.shape) for p in p64]
        opt64.update(p64, [g.copy() for g in g64])
        opt32.update(p32, [g.astype(np.float32) for g in g64])
    for a, b in zip(p32, p64):
        assert a.dtype == np.float32
        assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert all(s.dtype == np.float32 for s in opt32.state_arrays())


def test_non_contiguous_parameters_are_refused():
    with pytest.raises(ValueError, match="C-contiguous"):
        _make_optimizer("adam", [np.ones((3, 4)).T], 0.1)
