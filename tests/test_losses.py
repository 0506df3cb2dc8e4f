"""Tests of skcv.losses: exact values, gradient checks, stability, validation."""

import numpy as np
import pytest
from scipy.special import logsumexp

from skcv.gradcheck import check_gradient
from skcv.losses import hinge_loss, penalty_value_and_grad, softmax_loss

PENALTIES = [None, "l2", "l1", "elasticnet"]
LOSSES = ["softmax", "weston_watkins", "crammer_singer"]


def _loss(name, W, b, X, y, sample_weight=None):
    if name == "softmax":
        return softmax_loss(W, b, X, y, sample_weight=sample_weight)
    return hinge_loss(W, b, X, y, multi_class=name, sample_weight=sample_weight)


def _problem(seed=0, n=300, d=6, k=5, gap=0.05):
    """Random data whose hinge margins all lie at least ``gap`` from a kink.

    Some rows are relabelled with their top-scoring class, so that rows whose
    true class already wins (and rows with zero hinge loss) are present.
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    # Weights at least 0.1 away from 0, where L1 has its kink.
    W = rng.choice([-1.0, 1.0], size=(k, d)) * (0.1 + rng.random((k, d)))
    b = rng.normal(size=k)
    S = X @ W.T + b
    y = rng.integers(0, k, n)
    y[: n // 3] = S[: n // 3].argmax(axis=1)
    rows = np.arange(n)
    margins = S - S[rows, y][:, None] + 1.0
    margins[rows, y] = -np.inf
    top2 = np.sort(margins, axis=1)[:, -2:]
    wrong = np.abs(np.where(np.isinf(margins), np.inf, margins))
    keep = (wrong.min(axis=1) > gap) & (top2[:, 1] - top2[:, 0] > gap)
    X, y, S = X[keep], y[keep], S[keep]
    return W, b, X, y, S


def test_problem_covers_the_interesting_rows():
    *_, y, S = _problem()
    rows = np.arange(len(y))
    assert len(y) > 50
    assert (S.argmax(axis=1) == y).sum() >= 10
    # rows with zero Weston-Watkins loss: every margin already satisfied
    margins = S - S[rows, y][:, None] + 1.0
    margins[rows, y] = 0
    assert (margins.max(axis=1) <= 0).sum() >= 3
    assert (margins.max(axis=1) > 0).sum() >= 10


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("penalty", PENALTIES)
@pytest.mark.parametrize("weighted", [False, True])
def test_gradient_matches_numerical_gradient(loss, penalty, weighted):
    W, b, X, y, _ = _problem()
    rng = np.random.default_rng(1)
    sw = rng.uniform(0.0, 3.0, size=len(y)) if weighted else None

    def objective(W, b):
        value, dW, db = _loss(loss, W, b, X, y, sw)
        p_value, p_grad = penalty_value_and_grad(W, penalty, alpha=0.3, l1_ratio=0.4)
        return value + p_value, dW + p_grad, db

    assert check_gradient(objective, [W, b]) < 1e-6


@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_without_intercept(loss):
    W, _, X, y, _ = _problem(seed=3)
    *_, db = _loss(loss, W, None, X, y)
    assert db is None

    def objective(W):
        return _loss(loss, W, None, X, y)[:2]

    assert check_gradient(objective, W) < 1e-6


def test_exact_values_at_zero_weights():
    rng = np.random.default_rng(0)
    n, k = 7, 10
    X = rng.normal(size=(n, 4))
    y = np.array([0, 1, 1, 3, 9, 9, 9])
    W, b = np.zeros((k, 4)), np.zeros(k)
    counts = np.bincount(y, minlength=k)

    loss, dW, db = softmax_loss(W, b, X, y)
    assert loss == pytest.approx(np.log(10), rel=1e-15)
    # d loss / d b = mean(p - onehot) with p uniform
    np.testing.assert_allclose(db, 0.1 - counts / n, rtol=1e-14)
    onehot = np.eye(k)[y]
    np.testing.assert_allclose(dW, (0.1 - onehot).T @ X / n, rtol=1e-12)

    loss, dW, db = hinge_loss(W, b, X, y, delta=1.0)
    assert loss == pytest.approx(9.0, rel=1e-15)
    # each row: +1 for each of the 9 wrong classes, -9 for its own
    np.testing.assert_allclose(db, 1 - 10 * counts / n, rtol=1e-14)

    loss, _, _ = hinge_loss(W, b, X, y, multi_class="crammer_singer")
    assert loss == pytest.approx(1.0, rel=1e-15)
    assert hinge_loss(W, b, X, y, delta=2.5)[0] == pytest.approx(22.5, rel=1e-15)


def test_known_values_away_from_zero():
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, -0.5]])
    b = np.array([0.0, 0.1, -0.2])
    y = np.array([2, 0])
    S = X @ W.T + b
    expected = np.mean(logsumexp(S, axis=1) - S[[0, 1], y])
    assert softmax_loss(W, b, X, y)[0] == pytest.approx(expected, rel=1e-14)
    # scores: row 0 = [1, 2.1, -0.7], row 1 = [-1, 0.6, -0.95]
    ww = (max(0, 1 + 0.7 + 1) + max(0, 2.1 + 0.7 + 1)) + (
        max(0, 0.6 + 1 + 1) + max(0, -0.95 + 1 + 1)
    )
    assert hinge_loss(W, b, X, y)[0] == pytest.approx(ww / 2, rel=1e-14)
    cs = max(0, 2.1 + 0.7 + 1) + max(0, 0.6 + 1 + 1)
    assert hinge_loss(W, b, X, y, multi_class="crammer_singer")[0] == pytest.approx(
        cs / 2, rel=1e-14
    )


def test_sample_weight_is_a_weighted_mean():
    W, b, X, y, _ = _problem(seed=2)
    sw = np.random.default_rng(0).integers(0, 4, size=len(y)).astype(float)
    sw[0] = 1.0
    repeat = np.repeat(np.arange(len(y)), sw.astype(int))
    for loss in LOSSES:
        weighted = _loss(loss, W, b, X, y, sw)
        repeated = _loss(loss, W, b, X[repeat], y[repeat])
        for a, r in zip(weighted, repeated):
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-15)
        # scaling every weight changes nothing
        scaled = _loss(loss, W, b, X, y, 10 * sw)
        np.testing.assert_allclose(scaled[0], weighted[0], rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_stable_for_huge_scores(dtype):
    X = np.ones((3, 1), dtype=dtype)
    W = np.array([[1e4], [0.0], [-1e4]], dtype=dtype)
    b = np.zeros(3, dtype=dtype)
    loss, dW, db = softmax_loss(W, b, X, np.array([1, 0, 2]))
    assert np.isfinite(loss) and np.isfinite(dW).all() and np.isfinite(db).all()
    # losses 1e4, 0 and 2e4: their mean
    assert loss == pytest.approx(1e4, rel=1e-6)
    assert dW.dtype == dtype and db.dtype == dtype


_ALL_LOSSES = {
    "softmax": softmax_loss,
    "weston_watkins": hinge_loss,
    "crammer_singer": lambda *a: hinge_loss(*a, multi_class="crammer_singer"),
}


@pytest.mark.parametrize("loss", list(_ALL_LOSSES))
def test_losses_are_finite_when_float32_scores_overflow(loss):
    # Scores of 1e39 and 9e38 overflow float32 (max 3.4e38); the sample with
    # the right class on top costs nothing, the other the score gap.
    W = np.array([[10.0], [9.0]], np.float32)
    X = np.array([[1e38], [1e38]], np.float32)
    value, dW, db = _ALL_LOSSES[loss](W, np.zeros(2, np.float32), X, np.array([0, 1]))
    gap = float(np.float32(1e38)) * 1.0  # (10 - 9) * 1e38
    expected = {"softmax": gap / 2, "weston_watkins": (gap + 1) / 2}
    assert value == pytest.approx(expected.get(loss, (gap + 1) / 2), rel=1e-6)
    assert dW.dtype == np.float32 and np.isfinite(dW).all() and np.isfinite(db).all()


@pytest.mark.parametrize("loss", list(_ALL_LOSSES))
def test_losses_are_never_nan_when_float64_scores_overflow(loss):
    # Both scores overflow float64 (2e308 and 1.998e308) but differ by
    # 2e305 in favour of the true class: every loss is exactly 0.
    W = np.array([[1.0, 1.0], [1.0, 0.998]])
    X = np.array([[1e308, 1e308]])
    value, dW, db = _ALL_LOSSES[loss](W, np.zeros(2), X, np.array([0]))
    assert value == 0.0
    assert np.isfinite(dW).all() and np.isfinite(db).all()
    # the other way round: the gap, 2e305, which fits
    value = _ALL_LOSSES[loss](W, np.zeros(2), X, np.array([1]))[0]
    assert value == pytest.approx(2e305, rel=1e-9)
    # a gap of 4e308 exceeds float64: the loss is infinite, never NaN
    W = np.array([[1.0, 1.0], [-1.0, -1.0]])
    value, dW, db = _ALL_LOSSES[loss](W, np.zeros(2), X, np.array([1]))
    assert value == np.inf
    assert np.isfinite(dW).all() and np.isfinite(db).all()
    # scores near 1e308 that do not overflow: the exact gap
    X = np.array([[1e308, 0.0]])
    W = np.array([[1.5], [1.0]]).repeat(2, axis=1) * [1, 0]
    value = _ALL_LOSSES[loss](W, np.zeros(2), X, np.array([1]))[0]
    assert value == pytest.approx(0.5e308 + (0 if loss == "softmax" else 1), rel=1e-12)


def test_penalty_values():
    W = np.array([[3.0, -4.0], [0.0, 1.0]])
    sq, ab = 26.0, 8.0
    assert penalty_value_and_grad(W, None)[0] == 0.0
    assert penalty_value_and_grad(W, "l2", alpha=0.5)[0] == pytest.approx(0.25 * sq)
    assert penalty_value_and_grad(W, "l1", alpha=0.5)[0] == pytest.approx(0.5 * ab)
    value, grad = penalty_value_and_grad(W, "elasticnet", alpha=0.5, l1_ratio=0.2)
    assert value == pytest.approx(0.5 * (0.2 * ab + 0.8 * 0.5 * sq))
    np.testing.assert_allclose(grad, 0.5 * (0.2 * np.sign(W) + 0.8 * W))
    # the L1 subgradient is 0 at 0
    assert penalty_value_and_grad(W, "l1", alpha=1.0)[1][1, 0] == 0.0


def test_inputs_are_not_modified():
    W, b, X, y, _ = _problem()
    copies = [a.copy() for a in (W, b, X, y)]
    for loss in LOSSES:
        _loss(loss, W, b, X, y)
    penalty_value_and_grad(W, "elasticnet")
    for a, c in zip((W, b, X, y), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"X": np.ones((3, 5))}, ValueError, "X has 5 features"),
        ({"W": np.ones(4)}, ValueError, "W must be of shape"),
        ({"W": np.ones((1, 4))}, ValueError, "at least 2 rows"),
        ({"b": np.ones(2)}, ValueError, "b must be of shape"),
        ({"y": np.array([0, 1])}, ValueError, "y must be of shape"),
        ({"y": np.array([0.0, 1.0, 2.0])}, TypeError, "integer class indices"),
        ({"y": np.array([0, 1, 3])}, ValueError, r"class indices in 0..2"),
        ({"y": np.array([0, -1, 2])}, ValueError, r"class indices in 0..2"),
        ({"sample_weight": [1, -1, 1]}, ValueError, "non-negative"),
        ({"sample_weight": [0, 0, 0]}, ValueError, "positive sum"),
        ({"sample_weight": [1, 1]}, ValueError, "sample_weight must be of shape"),
    ],
)
def test_bad_input_is_named(kwargs, error, match):
    args = {
        "W": np.ones((3, 4)),
        "b": np.zeros(3),
        "X": np.ones((3, 4)),
        "y": np.array([0, 1, 2]),
    }
    sample_weight = kwargs.pop("sample_weight", None)
    args.update(kwargs)
    for fn in (softmax_loss, hinge_loss):
        with pytest.raises(error, match=match):
            fn(args["W"], args["b"], args["X"], args["y"], sample_weight=sample_weight)


def test_bad_options_are_named():
    W, X, y = np.ones((3, 2)), np.ones((3, 2)), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="multi_class"):
        hinge_loss(W, None, X, y, multi_class="ovr")
    with pytest.raises(ValueError, match="delta"):
        hinge_loss(W, None, X, y, delta=-1)
    with pytest.raises(ValueError, match="penalty"):
        penalty_value_and_grad(W, "l3")
    with pytest.raises(ValueError, match="alpha"):
        penalty_value_and_grad(W, "l2", alpha=-1.0)
    with pytest.raises(ValueError, match="l1_ratio"):
        penalty_value_and_grad(W, "elasticnet", l1_ratio=1.5)
