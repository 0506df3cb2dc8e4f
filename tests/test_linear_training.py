"""What SoftmaxLinear and HingeLinear converge to, and how they get there:
parity with exact solvers, the update rule step by step, the learning-rate
schedules, early stopping, sample weights and accuracy on digits."""

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from skcv import HingeLinear, SoftmaxLinear
from skcv.losses import hinge_loss, penalty_value_and_grad, softmax_loss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _data(n=300, seed=0):
    X, y = make_classification(
        n, n_features=10, n_informative=6, n_classes=3, random_state=seed
    )
    return StandardScaler().fit_transform(X), y


def _full_batch(cls, n, **params):
    """Plain gradient descent (with momentum) over the whole data set."""
    return cls(
        batch_size=n,
        average=False,
        max_iter=2000,
        tol=0.0,
        n_iter_no_change=10_000,
        random_state=0,
        **params,
    )


def _softmax_objective(W, b, X, y, alpha, l1_ratio=0.0, sample_weight=None):
    loss = softmax_loss(W, b, X, y, sample_weight=sample_weight)[0]
    return loss + penalty_value_and_grad(W, "elasticnet", alpha, l1_ratio)[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_reaches_logistic_regression_objective(weighted):
    # LogisticRegression minimises C * sum_i w_i l_i + 0.5 ||W||^2, which is
    # ours times C * sum(w) when alpha = 1 / (C * sum(w)).
    X, y = _data()
    sw = np.random.default_rng(0).uniform(0.2, 3.0, len(y)) if weighted else None
    C = 1.0
    alpha = 1 / (C * (len(y) if sw is None else sw.sum()))
    exact = LogisticRegression(C=C, tol=1e-12, max_iter=10_000)
    exact.fit(X, y, sample_weight=sw)
    sgd = _full_batch(SoftmaxLinear, len(y), alpha=alpha, learning_rate_init=0.1)
    sgd.fit(X, y, sample_weight=sw)
    reference = _softmax_objective(exact.coef_, exact.intercept_, X, y, alpha, 0, sw)
    reached = _softmax_objective(sgd.coef_, sgd.intercept_, X, y, alpha, 0, sw)
    assert abs(reached - reference) / reference < 1e-6
    # the loss curve ends at the objective (one step of full-batch GD earlier)
    assert sgd.loss_curve_[-1] == pytest.approx(reached, rel=1e-6)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("nesterovs_momentum", [True, False])
def test_l1_and_elasticnet_reach_saga_objective(l1_ratio, nesterovs_momentum):
    # The proximal L1 step makes the minimisers the fixed points, with
    # either momentum; the zeros of the exact solution are found exactly.
    X, y = _data()
    C = 0.1
    alpha = 1 / (C * len(y))
    exact = LogisticRegression(
        C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=100_000
    ).fit(X, y)
    sgd = _full_batch(
        SoftmaxLinear,
        len(y),
        penalty="elasticnet",
        alpha=alpha,
        l1_ratio=l1_ratio,
        learning_rate_init=0.1,
        nesterovs_momentum=nesterovs_momentum,
    ).fit(X, y)
    reference = _softmax_objective(exact.coef_, exact.intercept_, X, y, alpha, l1_ratio)
    reached = _softmax_objective(sgd.coef_, sgd.intercept_, X, y, alpha, l1_ratio)
    assert abs(reached - reference) / reference < 1e-6
    assert (exact.coef_ == 0).sum() > 5
    np.testing.assert_array_equal(sgd.coef_ == 0, exact.coef_ == 0)


def test_crammer_singer_reaches_linear_svc_objective():
    # LinearSVC(crammer_singer) minimises 0.5 ||W||^2 + C sum_i l_i with the
    # Crammer-Singer hinge of delta 1 and no intercept.
    X, y = _data()
    C = 1.0
    alpha = 1 / (C * len(y))
    exact = LinearSVC(
        multi_class="crammer_singer",
        fit_intercept=False,
        C=C,
        tol=1e-10,
        max_iter=100_000,
    ).fit(X, y)
    sgd = _full_batch(
        HingeLinear,
        len(y),
        multi_class="crammer_singer",
        fit_intercept=False,
        alpha=alpha,
        learning_rate_init=0.01,
    ).fit(X, y)

    def objective(W):
        loss = hinge_loss(W, None, X, y, multi_class="crammer_singer")[0]
        return loss + penalty_value_and_grad(W, "l2", alpha)[0]

    reference, reached = objective(exact.coef_), objective(sgd.coef_)
    assert abs(reached - reference) / reference < 1e-3
    np.testing.assert_array_equal(sgd.intercept_, 0)


def _loss_fn(name):
    if name == "softmax":
        return softmax_loss
    return lambda W, b, X, y: hinge_loss(W, b, X, y, multi_class=name)


def _make(name, **params):
    if name == "softmax":
        return SoftmaxLinear(**params)
    return HingeLinear(multi_class=name, **params)


@pytest.mark.parametrize("loss", ["softmax", "weston_watkins", "crammer_singer"])
@pytest.mark.parametrize("momentum, nesterov", [(0.0, True), (0.9, False), (0.9, True)])
@pytest.mark.parametrize("schedule", ["constant", "invscaling"])
def test_updates_follow_the_documented_rule(loss, momentum, nesterov, schedule):
    # Two epochs of two unshuffled batches, replayed by hand with the public
    # loss functions: v <- m v - lr (g + alpha W); W <- W + v, or with
    # Nesterov W <- W + m v - lr (g + alpha W).
    X, y = _data(n=40)
    lr0, alpha, power_t = 0.05, 0.01, 0.5
    clf = _make(
        loss,
        batch_size=20,
        shuffle=False,
        momentum=momentum,
        nesterovs_momentum=nesterov,
        learning_rate=schedule,
        learning_rate_init=lr0,
        power_t=power_t,
        alpha=alpha,
        average=False,
    )
    W, b = np.zeros((3, 10)), np.zeros(3)
    vW, vb = np.zeros_like(W), np.zeros_like(b)
    lr, seen = lr0, 0
    for _ in range(2):
        clf.partial_fit(X, y, classes=[0, 1, 2])
        for rows in (slice(0, 20), slice(20, 40)):
            _, gW, gb = _loss_fn(loss)(W, b, X[rows], y[rows])
            gW = gW + alpha * W
            vW, vb = momentum * vW - lr * gW, momentum * vb - lr * gb
            if nesterov:
                W, b = W + momentum * vW - lr * gW, b + momentum * vb - lr * gb
            else:
                W, b = W + vW, b + vb
        seen += 40
        if schedule == "invscaling":
            lr = lr0 / (seen + 1) ** power_t
        np.testing.assert_allclose(clf.coef_, W, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(clf.intercept_, b, rtol=1e-10, atol=1e-14)


def test_adaptive_schedule_divides_the_rate_by_five(capsys, monkeypatch):
    # A tolerance nothing meets: after the first epoch, every epoch counts
    # as no improvement. "constant" stops after n_iter_no_change + 1 of
    # them; "adaptive" divides the rate by 5 instead, until it is <= 1e-6:
    # 0.01 / 5**6 = 6.4e-7, so 6 divisions and then a stop. Without the
    # minimum of updates before stopping (tests/test_linear_defaults.py).
    monkeypatch.setattr(SoftmaxLinear, "_min_updates", 0)
    X, y = _data(n=60)
    params = {"tol": 1e3, "n_iter_no_change": 2, "learning_rate_init": 0.01}
    constant = SoftmaxLinear(**params).fit(X, y)
    assert constant.n_iter_ == 1 + 3
    adaptive = SoftmaxLinear(learning_rate="adaptive", verbose=1, **params)
    adaptive.fit(X, y)
    assert adaptive.n_iter_ == 1 + 3 + 6 * 3
    out = capsys.readouterr().out
    # The message ends its sentence with a full stop since issue 15's change.
    rates = [
        float(line.rsplit(" ", 1)[1].rstrip("."))
        for line in out.splitlines()
        if "Setting" in line
    ]
    np.testing.assert_allclose(rates, 0.01 / 5.0 ** np.arange(1, 7), atol=1e-6)


def test_early_stopping_keeps_the_best_epoch():
    # Noisy labels and big steps: validation accuracy peaks before the end.
    X, y = _data(n=400, seed=1)
    y = y.copy()
    y[::4] = np.random.default_rng(0).integers(0, 3, len(y[::4]))
    params = {
        "early_stopping": True,
        "learning_rate_init": 0.5,
        "n_iter_no_change": 5,
        "random_state": 0,
        "batch_size": 32,
    }
    clf = SoftmaxLinear(**params).fit(X, y)
    scores = clf.validation_scores_
    assert len(scores) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(scores)
    assert clf.best_loss_ is None
    best = int(np.argmax(scores))
    assert best < clf.n_iter_ - 1  # the last epoch was not the best
    # the same run cut right after its best epoch ends with those weights
    cut = SoftmaxLinear(**{**params, "max_iter": best + 1}).fit(X, y)
    np.testing.assert_array_equal(clf.coef_, cut.coef_)
    np.testing.assert_array_equal(clf.intercept_, cut.intercept_)
    assert cut.validation_scores_ == scores[: best + 1]

    plain = SoftmaxLinear(random_state=0).fit(X, y)
    assert plain.validation_scores_ is None and plain.best_validation_score_ is None


def test_early_stopping_needs_a_validation_sample_per_class():
    X, y = _data(n=30)
    y[:] = np.arange(30) % 3
    y[0] = 3  # a class with a single sample cannot be stratified
    with pytest.raises(ValueError, match=r"early_stopping=True.*validation"):
        SoftmaxLinear(early_stopping=True).fit(X, y)


@pytest.mark.parametrize("loss", ["softmax", "weston_watkins", "crammer_singer"])
def test_integer_weights_equal_repeated_rows_in_full_batch(loss):
    # In one batch, the weighted mean gradient is exactly the mean over the
    # repeated rows; zero weights drop rows.
    X, y = _data(n=60)
    sw = np.random.default_rng(0).integers(0, 4, len(y))
    rows = np.repeat(np.arange(len(y)), sw)
    params = {"batch_size": 1000, "max_iter": 30, "random_state": 0}
    weighted = _make(loss, **params).fit(X, y, sample_weight=sw)
    repeated = _make(loss, **params).fit(X[rows], y[rows])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-9)
    # and with minibatches, weights still steer the fit: heavy class 0
    heavy = np.where(y == 0, 20.0, 1.0)
    base = _make(loss, random_state=0).fit(X, y)
    tilted = _make(loss, random_state=0).fit(X, y, sample_weight=heavy)
    assert (tilted.predict(X) == 0).sum() > (base.predict(X) == 0).sum()


@pytest.mark.parametrize("loss", ["softmax", "weston_watkins", "crammer_singer"])
def test_digits_accuracy(loss):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    clf = make_pipeline(StandardScaler(), _make(loss, random_state=0))
    # Weston-Watkins' exact minimiser (300 epochs) scores 0.947 on this split,
    # Crammer-Singer's 0.953; LogisticRegression() scores 0.967.
    assert clf.fit(X_train, y_train).score(X_test, y_test) >= 0.94


@pytest.mark.parametrize("multi_class", ["weston_watkins", "crammer_singer"])
def test_delta_trades_against_alpha(multi_class):
    # hinge(2 V; delta=2) = 2 hinge(V; delta=1): SGD with delta=2 follows the
    # path of delta=1 with twice the alpha and half the step, scaled by 2,
    # exactly in floating point (all factors are powers of 2).
    X, y = _data(n=100)
    params = {"multi_class": multi_class, "random_state": 0, "max_iter": 5}
    two = HingeLinear(delta=2.0, alpha=0.01, learning_rate_init=0.02, **params)
    one = HingeLinear(delta=1.0, alpha=0.02, learning_rate_init=0.01, **params)
    two.fit(X, y)
    one.fit(X, y)
    np.testing.assert_array_equal(two.coef_, 2 * one.coef_)
    np.testing.assert_array_equal(two.intercept_, 2 * one.intercept_)
    with pytest.raises(ValueError, match="delta"):
        HingeLinear(delta=0.0).fit(X, y)
