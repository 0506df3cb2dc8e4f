"""Tests of skcv.gradcheck: centred differences, relative error, check_gradient."""

import numpy as np
import pytest

from skcv.gradcheck import check_gradient, numerical_gradient, relative_error


def test_numerical_gradient_of_a_quadratic_is_exact():
    # Centred differences are exact for quadratics up to rounding.
    rng = np.random.default_rng(0)
    A = rng.normal(size=(6, 6))
    x = rng.normal(size=(2, 3))
    grad = numerical_gradient(lambda v: float(v.ravel() @ A @ v.ravel()), x)
    assert grad.shape == (2, 3)
    np.testing.assert_allclose(grad.ravel(), (A + A.T) @ x.ravel(), rtol=1e-8)


def test_numerical_gradient_error_shrinks_as_h_squared():
    x = np.array([0.3])
    exact = np.cos(0.3)
    errors = [
        abs(numerical_gradient(lambda v: float(np.sin(v[0])), x, h=h)[0] - exact)
        for h in (1e-2, 1e-3)
    ]
    # O(h^2): ten times smaller h, about a hundred times smaller error
    assert 50 < errors[0] / errors[1] < 200


def test_numerical_gradient_restores_x_exactly_and_sees_closures():
    x = np.array([0.1, 1 / 3, -7.25])
    before = x.copy()
    seen = []

    def f(_):
        seen.append(x.copy())  # reads the point through the closure
        return float(np.sum(x**3))

    grad = numerical_gradient(f, x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, 3 * before**2, rtol=1e-6)
    assert len(seen) == 2 * x.size
    assert not np.array_equal(seen[0], before)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(v):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_relative_error_definition():
    assert relative_error([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert relative_error([1.0], [-1.0]) == 1.0
    assert relative_error([2.0, 1.0], [1.0, 1.0]) == pytest.approx(1 / 3)
    assert relative_error(np.array([[1e-3]]), np.array([[1.1e-3]])) == pytest.approx(
        0.1e-3 / 2.1e-3
    )
    assert relative_error([], []) == 0.0
    with pytest.raises(ValueError, match="differ in shape"):
        relative_error([1.0, 2.0], [1.0])


def test_check_gradient_accepts_a_right_and_rejects_a_wrong_gradient():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(3, 4)), rng.normal(size=3)

    def right(W, b):
        return float(np.sum(W**2) + np.sum(np.exp(b))), 2 * W, np.exp(b)

    def wrong(W, b):
        value, dW, db = right(W, b)
        dW = dW.copy()
        dW[1, 2] *= 1.01  # a 1% error on one coordinate
        return value, dW, db

    assert check_gradient(right, [W, b]) < 1e-8
    assert check_gradient(wrong, [W, b]) > 1e-3
    # a single array is a single parameter
    assert check_gradient(lambda W: (float(np.sum(W**2)), 2 * W), W) < 1e-8


def test_check_gradient_on_a_subset_of_coordinates():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(20, 30))
    calls = []

    def f(W):
        calls.append(1)
        return float(np.sum(W**2)), 2 * W

    assert check_gradient(f, W, n_coords=5, random_state=0) < 1e-8
    assert len(calls) == 1 + 2 * 5


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="array of floats"):
        numerical_gradient(lambda v: 0.0, np.array([1, 2]))
    with pytest.raises(TypeError, match="array of floats"):
        numerical_gradient(lambda v: 0.0, [1.0, 2.0])
    with pytest.raises(ValueError, match="h must be"):
        numerical_gradient(lambda v: 0.0, np.ones(2), h=0)
    x = np.ones(2)
    x.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(lambda v: 0.0, x)
    with pytest.raises(ValueError, match="one gradient per"):
        check_gradient(lambda W: 1.0, np.ones(2))
    with pytest.raises(ValueError, match="shape"):
        check_gradient(lambda W: (1.0, np.ones(3)), np.ones(2))
    with pytest.raises(ValueError, match="n_coords"):
        check_gradient(lambda W: (1.0, W), np.ones(2), n_coords=0)


def _square(W):
    return float(np.sum(W.astype(np.float64) ** 2)), 2 * W


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_check_gradient_propagates_a_non_finite_gradient(bad):
    W = np.ones((2, 3))
    broken = np.full_like(W, bad)
    assert np.isnan(check_gradient(lambda W: (float((W**2).sum()), broken), W))
    assert np.isnan(relative_error(broken, numerical_gradient(_square_value, W)))
    # one bad entry, outside the coordinates checked, still fails the check
    one = 2 * W
    one[1, 2] = bad

    def f(W):
        return float((W**2).sum()), one

    assert np.isnan(check_gradient(f, W, n_coords=1, random_state=0))


def _square_value(W):
    return float((W**2).sum())


def test_check_gradient_propagates_nan_in_any_parameter_and_in_the_value():
    W, b = np.ones((2, 3)), np.ones(3)

    def nan_in_second(W, b):
        return float((W**2).sum() + (b**2).sum()), 2 * W, np.full_like(b, np.nan)

    assert np.isnan(check_gradient(nan_in_second, [W, b]))

    def nan_value(W):
        return float("nan"), 2 * W

    assert np.isnan(check_gradient(nan_value, W))

    # finite at the point but not at a perturbed one: the numerical side is NaN
    def kinked(W):
        return float(np.sqrt(W[0, 0] - 1) if W[0, 0] >= 1 else np.nan), np.zeros_like(W)

    with np.errstate(invalid="ignore"):
        assert np.isnan(check_gradient(kinked, W))


def test_check_gradient_steps_by_the_dtype_in_float32():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 4)).astype(np.float32)

    def f(W):
        return float(np.sum(W**2, dtype=np.float32)), 2 * W

    # float32's step keeps a right gradient far below the error of a bug
    assert check_gradient(f, W) < 1e-3
    with pytest.warns(RuntimeWarning, match="too small for the float32"):
        check_gradient(f, W, h=1e-5)
    # numerical_gradient is the raw tool: its default step follows the dtype
    grad = numerical_gradient(lambda v: float(np.sum(v**2, dtype=np.float32)), W)
    assert relative_error(grad, 2 * W) < 1e-3
