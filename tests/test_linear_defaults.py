"""The defaults of SoftmaxLinear and HingeLinear: the automatic step size,
the centring of the features, the averaging of the iterates, and what they
buy: the same accuracy whatever the scale of the pixels."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from skcv import HingeLinear, NeuralNet, SoftmaxLinear
from skcv._optim import _auto_learning_rate, _top_eigenvalue
from skcv._report import _converged
from skcv.losses import penalty_value_and_grad, softmax_loss

MODELS = [SoftmaxLinear, HingeLinear]


def test_auto_step_is_exact_on_rank_one_data():
    # X = a u^T: X^T X / n = mean(a^2) u u^T, whose only nonzero eigenvalue
    # is mean(a^2) ||u||^2, which is also the mean squared row norm.
    a = np.array([1.0, -2.0, 3.0, 0.5, 2.0, -1.0])
    u = np.array([2.0, 0.0, -1.0])
    X = np.outer(a, u)
    n, m = len(a), 4
    moment = np.mean(a**2) * (u @ u)
    assert _top_eigenvalue(X, None) == pytest.approx(moment, rel=1e-12)
    noise = moment * (n - m) / (m * (n - 1))
    for curvature, alpha in [(0.5, 0.0), (1.0, 0.3)]:
        step = _auto_learning_rate(
            X, None, curvature=curvature, alpha=alpha, batch_size=m
        )
        assert step == pytest.approx(1 / (curvature * (moment + noise) + alpha))
    # the full batch has no noise term
    full = _auto_learning_rate(X, None, curvature=1.0, alpha=0.0, batch_size=n)
    assert full == pytest.approx(1 / moment)


def test_auto_step_with_intercept_uses_the_centred_rows():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)) * [3.0, 1.0, 0.5, 0.1] + 100.0
    offset = X.mean(axis=0)
    Z = np.hstack([X - offset, np.ones((50, 1))])
    top = np.linalg.eigvalsh(Z.T @ Z / 50)[-1]
    # the mean of 100 would dominate without the centring
    assert _top_eigenvalue(X, offset) == pytest.approx(top, rel=1e-3)
    assert _top_eigenvalue(X, None) > 1e4
    sq_norm = np.mean(((X - offset) ** 2).sum(axis=1)) + 1
    noise = sq_norm * (50 - 10) / (10 * 49)
    step = _auto_learning_rate(X, offset, curvature=0.5, alpha=1e-4, batch_size=10)
    assert step == pytest.approx(1 / (0.5 * (top + noise) + 1e-4), rel=1e-3)


def test_weighted_auto_step_counts_weights_as_repeated_rows():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 5)) + 2.0
    sw = rng.integers(1, 4, 30)
    rows = np.repeat(np.arange(30), sw)
    weighted_offset = np.average(X, axis=0, weights=sw)
    repeated_offset = X[rows].mean(axis=0)
    np.testing.assert_allclose(weighted_offset, repeated_offset)
    params = {"curvature": 1.0, "alpha": 0.0, "batch_size": 1000}
    weighted = _auto_learning_rate(X, weighted_offset, sw, **params)
    repeated = _auto_learning_rate(X[rows], repeated_offset, **params)
    assert weighted == pytest.approx(repeated, rel=1e-9)


@pytest.mark.parametrize("make", MODELS)
def test_learning_rate_init_attribute_and_scale(make):
    X, y = make_classification(
        200, n_features=8, n_classes=3, n_informative=5, random_state=0
    )
    X = X * 40 + 7
    offset = X.mean(axis=0)
    auto = make(max_iter=2, random_state=0)
    # two epochs cannot meet the stopping rule
    with pytest.warns(ConvergenceWarning):
        auto.fit(X, y)
    curvature = 0.5 if make is SoftmaxLinear else 1.0
    # the weights' step: the intercept takes its own (intercept=False)
    expected = _auto_learning_rate(
        X, offset, curvature=curvature, alpha=1e-4, batch_size=256, intercept=False
    )
    assert auto.learning_rate_init_ == pytest.approx(expected, rel=1e-12)
    scaled = make(learning_rate_scale=3.0, max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        scaled.fit(X, y)
    assert scaled.learning_rate_init_ == pytest.approx(3 * expected, rel=1e-12)
    fixed = make(learning_rate_init=0.05, learning_rate_scale=3.0, max_iter=2)
    with pytest.warns(ConvergenceWarning):
        fixed.fit(X, y)
    assert fixed.learning_rate_init_ == 0.05
    # partial_fit sets the step on its first call and keeps it
    online = make(random_state=0).partial_fit(X[:100], y[:100], classes=[0, 1, 2])
    step = online.learning_rate_init_
    online.partial_fit(X[100:] * 10, y[100:])
    assert online.learning_rate_init_ == step


def test_hinge_step_scales_with_delta():
    X, y = make_classification(
        100, n_features=6, n_classes=3, n_informative=4, random_state=0
    )
    one = HingeLinear(delta=1.0, alpha=0.0).partial_fit(X, y, classes=[0, 1, 2])
    two = HingeLinear(delta=2.0, alpha=0.0).partial_fit(X, y, classes=[0, 1, 2])
    assert two.learning_rate_init_ == pytest.approx(2 * one.learning_rate_init_)


def _cv_accuracy(make, X, y, factor, **params):
    """Mean accuracy over 5 stratified folds of ``make(**params)`` on ``factor * X``."""
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(X, y)
    return np.mean(
        [
            make(random_state=0, **params)
            .fit(X[train] * factor, y[train])
            .score(X[test] * factor, y[test])
            for train, test in folds
        ]
    )


@pytest.mark.parametrize("make", MODELS)
def test_default_accuracy_does_not_depend_on_the_pixel_scale(make):
    # Digits pixels run from 0 to 16: try 0-255 like 8-bit images, [0, 1],
    # and [0, 1/16] (0-255 times 1/255). Means over 5 folds: one test image
    # of a single split is 0.3 points.
    X, y = load_digits(return_X_y=True)
    base = _cv_accuracy(make, X, y, 1.0)
    assert base > 0.95
    assert abs(_cv_accuracy(make, X, y, 255 / 16) - base) <= 0.005
    # Downscaled pixels need larger weights, which a fixed alpha penalises
    # more (x 65,025 from 0-255 to [0, 1]): the objective itself changes
    # with the scale. Without the penalty the defaults learn alike at every
    # scale, the intercept included.
    free = _cv_accuracy(make, X, y, 1.0, alpha=0.0)
    for factor in [255 / 16, 1 / 16, 1 / 255]:
        assert abs(_cv_accuracy(make, X, y, factor, alpha=0.0) - free) <= 0.005


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_without_penalty_the_fit_is_scale_free(fit_intercept):
    # The objective of the scaled data is that of the data in the weights
    # W / factor, and the automatic step follows 1 / factor^2: the same
    # iterates, up to rounding, in the scaled coordinates. The intercept of
    # the centred data takes its own step, so it follows the same path too.
    X, y = load_digits(return_X_y=True)
    params = {"alpha": 0.0, "fit_intercept": fit_intercept, "random_state": 0}
    ref = SoftmaxLinear(**params).fit(X, y)
    for factor in [255 / 16, 1 / 255]:
        clf = SoftmaxLinear(**params).fit(X * factor, y)
        assert clf.learning_rate_init_ * factor**2 == pytest.approx(
            ref.learning_rate_init_, rel=1e-6
        )
        assert clf.n_iter_ == ref.n_iter_
        np.testing.assert_allclose(clf.coef_ * factor, ref.coef_, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(clf.intercept_, ref.intercept_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("make", MODELS)
def test_auto_step_follows_the_pixel_scale(make):
    # The weights' step follows 1 / factor^2 while the pixels' curvature
    # dominates alpha; the intercept's curvature no longer caps it, and its
    # own gradient is scaled so that it takes its own step, 1 / curvature.
    X, y = load_digits(return_X_y=True)
    steps, factors = {}, {}
    for factor in [1.0, 255 / 16, 1 / 16]:
        clf = make(random_state=0, max_iter=1, n_iter_no_change=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X * factor, y)
        steps[factor] = clf.learning_rate_init_
        factors[factor] = clf._intercept_factor
    assert steps[255 / 16] * (255 / 16) ** 2 == pytest.approx(steps[1.0], rel=0.02)
    assert steps[1 / 16] * (1 / 16) ** 2 == pytest.approx(steps[1.0], rel=0.02)
    curvature = 0.5 if make is SoftmaxLinear else 1.0
    for factor, step in steps.items():
        # the intercept's step, step * factor, is 1 / curvature at every scale
        assert step * factors[factor] == pytest.approx(1 / curvature)
    assert factors[255 / 16] > factors[1.0] > factors[1 / 16]


@pytest.mark.parametrize("make", MODELS)
def test_default_fit_converges_on_raw_pixels_without_warning(make):
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = make(random_state=0).fit(X * (255 / 16), y)
    assert clf._sgd_state.converged
    assert clf.score(X * (255 / 16), y) > 0.95


def test_centring_keeps_the_objective_of_uncentred_data():
    # Features far from 0: full-batch GD on the centred features reaches
    # LogisticRegression's objective on the raw ones, and the intercept is
    # that of the raw features.
    X, y = make_classification(
        300, n_features=10, n_informative=6, n_classes=3, random_state=0
    )
    X = X + 5.0
    alpha = 1 / len(y)
    exact = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
    sgd = SoftmaxLinear(
        batch_size=len(y),
        average=False,
        max_iter=3000,
        tol=0.0,
        n_iter_no_change=10_000,
        alpha=alpha,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):  # max_iter reached, on purpose
        sgd.fit(X, y)

    def objective(W, b):
        return softmax_loss(W, b, X, y)[0] + penalty_value_and_grad(W, "l2", alpha)[0]

    reference = objective(exact.coef_, exact.intercept_)
    reached = objective(sgd.coef_, sgd.intercept_)
    assert abs(reached - reference) / reference < 1e-6
    np.testing.assert_allclose(sgd.predict_proba(X), exact.predict_proba(X), atol=1e-4)


@pytest.mark.parametrize("make", MODELS)
def test_average_is_the_mean_of_the_iterates(make):
    # Unshuffled batches and partial_fit: each call's coef_ is the mean of
    # the iterates after every batch so far, those of the non-averaged run.
    X, y = make_classification(
        40, n_features=6, n_informative=4, n_classes=3, random_state=0
    )
    X = X - X.mean(axis=0)  # the centring then leaves the path as it is
    params = {"batch_size": 10, "shuffle": False, "learning_rate_init": 0.05}
    plain = make(average=False, **params)
    averaged = make(average=True, **params)
    delayed = make(average=20, **params)
    iterates = []
    for _ in range(2):
        for start in range(0, 40, 10):
            rows = slice(start, start + 10)
            plain.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
            averaged.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
            delayed.partial_fit(X[rows], y[rows], classes=[0, 1, 2])
            iterates.append(np.hstack([plain.coef_, plain.intercept_[:, None]]))
            got = np.hstack([averaged.coef_, averaged.intercept_[:, None]])
            np.testing.assert_allclose(got, np.mean(iterates, axis=0), atol=1e-12)
            if len(iterates) >= 2:
                got = np.hstack([delayed.coef_, delayed.intercept_[:, None]])
                expected = np.mean(iterates[1:], axis=0)
                np.testing.assert_allclose(got, expected, atol=1e-12)


def _updates_per_epoch(n_samples, batch_size):
    return -(-n_samples // batch_size)


@pytest.mark.parametrize("make", MODELS)
@pytest.mark.parametrize(
    "n_samples, batch_size",
    [(600, 50), (2_000, 5)],  # 12 updates an epoch; 400 an epoch
)
def test_stopping_waits_for_a_minimum_number_of_updates(make, n_samples, batch_size):
    # A tol no epoch can beat: the rule is met from epoch n_iter_no_change + 2
    # on, and the fit stops there once it has made 1,000 updates. The small
    # data set waits for them (84 epochs of 12 updates); the large one stops
    # as soon as the epoch-counted patience runs out.
    X, y = make_classification(
        n_samples, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    clf = make(batch_size=batch_size, tol=1e9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    per_epoch = _updates_per_epoch(n_samples, batch_size)
    waited = -(-1000 // per_epoch)
    assert clf.n_iter_ == max(clf.n_iter_no_change + 2, waited)
    assert clf.n_iter_ == (84 if n_samples == 600 else 4)


@pytest.mark.parametrize("make", MODELS)
def test_waiting_past_max_iter_is_no_convergence_failure(make):
    # The digits: 8 updates an epoch, so the 1,000 updates would take 125
    # epochs. The fit stops at max_iter, without a warning, as converged;
    # the report of `skcv run` then adds no "used all max_iter" note.
    X, y = load_digits(return_X_y=True)
    clf = make(random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == clf.max_iter == 100
    assert _converged(clf)
    # A fit that still improves at max_iter warns as before.
    still_improving = make(max_iter=5, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        still_improving.fit(X, y)
    assert not _converged(still_improving)


def test_neural_net_keeps_its_epoch_counted_stopping_rule():
    # The floor on updates is the linear models' only: the network, trained
    # by the same loop, still stops n_iter_no_change + 1 epochs after the
    # first with its tol unbeatable, whatever the number of updates.
    X, y = make_classification(
        300, n_features=8, n_informative=5, n_classes=3, random_state=0
    )
    net = NeuralNet(
        hidden_layer_sizes=(5,), tol=1e9, n_iter_no_change=3, random_state=0
    )
    net.fit(X, y)
    assert net.n_iter_ == 3 + 2
