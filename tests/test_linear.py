"""Behaviour of SoftmaxLinear and HingeLinear: API, labels, partial_fit, warm
start, dtypes, reproducibility, divergence, interruption and bad input."""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import skcv._loop
from skcv import HingeLinear, SoftmaxLinear

# Default fits on these small data sets stop at max_iter; the tests that are
# about the warning catch it explicitly.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATORS = [
    SoftmaxLinear,
    HingeLinear,
    lambda **kw: HingeLinear(multi_class="crammer_singer", **kw),
]
IDS = ["softmax", "weston_watkins", "crammer_singer"]
parametrize_estimators = pytest.mark.parametrize("make", ESTIMATORS, ids=IDS)


def _blobs(n=300, k=3, d=5, seed=0, std=1.0):
    X, y = make_blobs(n, n_features=d, centers=k, cluster_std=std, random_state=seed)
    return StandardScaler().fit_transform(X), y


@parametrize_estimators
def test_scores_are_one_template_per_class(make):
    X, y = _blobs(k=4)
    clf = make(random_state=0).fit(X, y)
    assert clf.coef_.shape == (4, 5)
    assert clf.intercept_.shape == (4,)
    scores = clf.decision_function(X)
    np.testing.assert_allclose(scores, X @ clf.coef_.T + clf.intercept_, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[scores.argmax(1)])
    assert clf.score(X, y) > 0.95


@parametrize_estimators
def test_binary_decision_function_follows_sklearn(make):
    X, y = _blobs(k=2, std=3.0)
    labels = np.array(["cat", "dog"])[y]
    clf = make(random_state=0).fit(X, labels)
    # two classes still give two templates
    assert clf.coef_.shape == (2, 5)
    scores = X @ clf.coef_.T + clf.intercept_
    decision = clf.decision_function(X)
    assert decision.shape == (300,)
    np.testing.assert_allclose(decision, scores[:, 1] - scores[:, 0], rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), np.where(decision > 0, "dog", "cat"))
    assert 0 < (decision > 0).mean() < 1


@pytest.mark.parametrize(
    "labels",
    [
        np.array(["b", "c", "a"]),
        np.array(["x", "z", "y"], dtype=object),
        np.array([True, False, True]),
        np.array([-5, 7, -1]),
    ],
    ids=["str", "object", "bool", "negative-int"],
)
@parametrize_estimators
def test_labels_round_trip(make, labels):
    X, y = _blobs(k=3)
    y_labels = labels[y]
    clf = make(random_state=0).fit(X, y_labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(y_labels))
    pred = clf.predict(X)
    assert pred.dtype == y_labels.dtype
    assert set(pred) <= set(y_labels)
    assert np.mean(pred == y_labels) > 0.95


def test_softmax_probabilities():
    X, y = _blobs(k=3, std=3.0)
    clf = SoftmaxLinear(random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X))
    # log(p) of a p within 1e-7 of 1 keeps only the absolute precision of p
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(proba), rtol=1e-10, atol=1e-15
    )
    # far from the data the probabilities saturate, the logs stay finite
    far = 1e4 * X[:5]
    assert np.isfinite(clf.predict_log_proba(far)).all()
    assert np.isfinite(clf.predict_proba(far)).all()


def test_hinge_has_no_probabilities():
    clf = HingeLinear().fit(*_blobs())
    assert not hasattr(clf, "predict_proba")
    assert not hasattr(clf, "predict_log_proba")
    assert hasattr(SoftmaxLinear(), "predict_proba")


@parametrize_estimators
def test_partial_fit_runs_one_epoch_per_call(make):
    X, y = _blobs()
    clf = make(random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    for call in range(1, 4):
        clf.partial_fit(X, y, classes=[0, 1, 2] if call == 1 else None)
        assert clf.n_iter_ == 1
        assert clf.t_ == call * len(y)
        assert len(clf.loss_curve_) == call
    # three calls are three epochs of the one loop: the same as fit
    fitted = make(random_state=0, max_iter=3, n_iter_no_change=100)
    with pytest.warns(ConvergenceWarning):
        fitted.fit(X, y)
    np.testing.assert_array_equal(clf.coef_, fitted.coef_)
    np.testing.assert_array_equal(clf.intercept_, fitted.intercept_)
    assert clf.loss_curve_ == fitted.loss_curve_


def test_partial_fit_class_rules():
    X, y = _blobs()
    clf = SoftmaxLinear().partial_fit(X[y < 2], y[y < 2], classes=[2, 0, 1])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit(X[y == 2], y[y == 2])  # a batch of one class is fine
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match=re.escape("labels not in classes_")):
        clf.partial_fit(X[:3], [0, 1, 5])
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:, :4], y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxLinear().partial_fit(X, np.zeros(len(X)), classes=[0])


def test_partial_fit_after_fit_continues():
    X, y = _blobs()
    clf = SoftmaxLinear(random_state=0, max_iter=5)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    coef = clf.coef_.copy()
    clf.partial_fit(X, y)
    assert len(clf.loss_curve_) == 6
    assert clf.t_ == 6 * len(y)
    assert not np.array_equal(clf.coef_, coef)
    # and fit starts over
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert len(clf.loss_curve_) == 5


def test_warm_start_starts_from_the_previous_weights():
    X, y = _blobs()
    clf = SoftmaxLinear(random_state=0, max_iter=20).fit(X, y)
    previous = clf.coef_.copy()
    n_epochs = len(clf.loss_curve_)
    # with a vanishing learning rate, warm start keeps the weights, cold
    # start stays at zero
    clf.set_params(warm_start=True, learning_rate_init=1e-12, max_iter=2)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    np.testing.assert_allclose(clf.coef_, previous, atol=1e-9)
    assert len(clf.loss_curve_) == n_epochs + 2
    cold = SoftmaxLinear(random_state=0, learning_rate_init=1e-12, max_iter=2)
    with pytest.warns(ConvergenceWarning):
        cold.fit(X, y)
    np.testing.assert_allclose(cold.coef_, 0, atol=1e-9)

    with pytest.raises(ValueError, match="classes of the previous fit"):
        clf.fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match="features"):
        clf.fit(X[:, :3], y)


def test_convergence_warning_and_tol_stopping(monkeypatch):
    X, y = _blobs()
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        SoftmaxLinear(max_iter=2).fit(X, y)
    # a tolerance nothing can meet: the first epoch improves on +inf, the next
    # n_iter_no_change + 1 do not, and fit stops without warning (here
    # without the minimum of updates, which tests/test_linear_defaults.py pins)
    monkeypatch.setattr(SoftmaxLinear, "_min_updates", 0)
    clf = SoftmaxLinear(tol=1e3, n_iter_no_change=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 4 + 2
    assert clf.best_loss_ == min(clf.loss_curve_)


@parametrize_estimators
def test_float32_trains_in_float32(make):
    X, y = _blobs()
    X32 = X.astype(np.float32)
    clf32 = make(random_state=0).fit(X32, y)
    assert clf32.coef_.dtype == np.float32
    assert clf32.intercept_.dtype == np.float32
    assert clf32.decision_function(X32).dtype == np.float32
    clf64 = make(random_state=0).fit(X, y)
    assert clf64.coef_.dtype == np.float64
    # same data, well conditioned: same predictions, close weights
    np.testing.assert_array_equal(clf32.predict(X), clf64.predict(X))
    np.testing.assert_allclose(clf32.coef_, clf64.coef_, rtol=1e-2, atol=1e-2)
    # partial_fit keeps the dtype of the first call
    clf32.partial_fit(X, y)
    assert clf32.coef_.dtype == np.float32


@parametrize_estimators
def test_same_random_state_is_bit_identical(make):
    X, y = _blobs(std=3.0)
    a = make(random_state=7, max_iter=10).fit(X, y)
    b = make(random_state=7, max_iter=10).fit(X, y)
    c = make(random_state=8, max_iter=10).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert not np.array_equal(a.coef_, c.coef_)


@pytest.mark.parametrize("scale", [1e6, 1e-6])
@parametrize_estimators
def test_badly_scaled_input_trains_without_nan(make, scale):
    X, y = _blobs()
    clf = make(random_state=0, max_iter=20).fit(X * scale, y)
    assert np.isfinite(clf.coef_).all() and np.isfinite(clf.intercept_).all()
    assert np.isfinite(clf.loss_curve_).all()
    if scale > 1:
        # large features: large steps, but the loss gradients are bounded
        assert clf.score(X * scale, y) > 0.9


@parametrize_estimators
def test_divergence_raises_and_keeps_finite_weights(make):
    X, y = _blobs()
    clf = make(random_state=0, batch_size=1).partial_fit(X, y, classes=[0, 1, 2])
    good = clf.coef_.copy(), clf.intercept_.copy()
    # alpha * learning_rate > 2: each step multiplies the weights by -999
    clf.set_params(alpha=1e3, learning_rate_init=1.0)
    with pytest.raises(ValueError, match="diverged in epoch 2"):
        clf.partial_fit(X, y)
    np.testing.assert_array_equal(clf.coef_, good[0])
    np.testing.assert_array_equal(clf.intercept_, good[1])
    assert len(clf.loss_curve_) == 1
    # the velocities were restored too: sane settings carry on from there
    clf.set_params(alpha=1e-4, learning_rate_init=0.01)
    clf.partial_fit(X, y)
    assert np.isfinite(clf.coef_).all() and clf.score(X, y) > 0.9

    fresh = make(random_state=0, batch_size=1, alpha=1e3, learning_rate_init=1.0)
    with pytest.raises(ValueError, match=r"diverged in epoch 1.*learning_rate_init"):
        fresh.fit(X, y)
    np.testing.assert_array_equal(fresh.coef_, 0)
    assert fresh.loss_curve_ == []


@parametrize_estimators
def test_a_loss_that_grows_by_orders_of_magnitude_is_divergence(make):
    # learning_rate_init=1e6: the loss is finite but grows from ~1e40 to
    # ~1e76 in the second epoch, with training accuracy near chance.
    X, y = _blobs()
    clf = make(learning_rate_init=1e6, random_state=0)
    with pytest.raises(ValueError, match=r"diverged in epoch 2: the loss grew to"):
        clf.fit(X, y)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1
    assert np.isfinite(clf.coef_).all()
    # streamed through partial_fit, the first epoch is the reference as well
    clf = make(learning_rate_init=1e6, random_state=0)
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="diverged in epoch 2"):
        clf.partial_fit(X, y)
    # healthy training, even at a large step size on unscaled features whose
    # first epoch is far above the loss of zero weights, never trips it
    for scale in (1.0, 100.0):
        for lr in (0.01, 1.0, 100.0):
            make(learning_rate_init=lr, random_state=0, max_iter=30).fit(X * scale, y)


@parametrize_estimators
def test_keyboard_interrupt_keeps_the_last_finished_epoch(make, monkeypatch):
    X, y = _blobs()
    batches_per_epoch = 3
    clf = make(random_state=0, batch_size=100, max_iter=10)
    step = skcv._loop._batch_step
    calls = []

    def interrupted_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2 * batches_per_epoch + 2:  # inside the third epoch
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(skcv._loop, "_batch_step", interrupted_step)
    # passed on, never a warning and a fit that looks finished
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
    monkeypatch.undo()
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    two_epochs = make(random_state=0, batch_size=100, max_iter=2)
    with pytest.warns(ConvergenceWarning):
        two_epochs.fit(X, y)
    np.testing.assert_array_equal(clf.coef_, two_epochs.coef_)
    np.testing.assert_array_equal(clf.intercept_, two_epochs.intercept_)
    # still usable, and training can go on
    assert clf.score(X, y) > 0.9
    clf.partial_fit(X, y)


def test_keyboard_interrupt_in_partial_fit_is_passed_on(monkeypatch):
    # partial_fit runs inside the caller's loop, which must stop as well.
    X, y = _blobs()
    clf = SoftmaxLinear(random_state=0, batch_size=50).partial_fit(
        X, y, classes=[0, 1, 2]
    )
    before = clf.coef_.copy(), clf.intercept_.copy(), clf.t_
    step = skcv._loop._batch_step
    calls = []

    def interrupted_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(skcv._loop, "_batch_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        clf.partial_fit(X, y)
    monkeypatch.undo()
    np.testing.assert_array_equal(clf.coef_, before[0])
    np.testing.assert_array_equal(clf.intercept_, before[1])
    assert clf.t_ == before[2] and len(clf.loss_curve_) == 1
    # the velocities are back at the end of the first epoch as well
    uninterrupted = SoftmaxLinear(random_state=0, batch_size=50)
    uninterrupted.partial_fit(X, y, classes=[0, 1, 2])
    state = clf._sgd_state
    np.testing.assert_array_equal(
        state.optimizer.velocities[0],
        uninterrupted._sgd_state.optimizer.velocities[0],
    )


def test_fit_intercept_false_keeps_zero_intercept():
    X, y = _blobs()
    clf = HingeLinear(fit_intercept=False, random_state=0).fit(X + 0.5, y)
    np.testing.assert_array_equal(clf.intercept_, 0)
    assert clf.score(X + 0.5, y) > 0.9


def test_l1_penalty_gives_exact_zeros():
    X, y = _blobs(d=20)
    X[:, 5:] = np.random.default_rng(0).normal(size=(len(X), 15))  # noise features
    # The zeros are the last iterate's: an average of iterates has none.
    params = {"alpha": 0.05, "average": False, "random_state": 0}
    l1 = SoftmaxLinear(penalty="l1", **params).fit(X, y)
    l2 = SoftmaxLinear(penalty="l2", **params).fit(X, y)
    assert (l1.coef_[:, 5:] == 0).mean() > 0.7
    assert (l2.coef_ == 0).sum() == 0
    assert l1.score(X, y) > 0.9


def test_batch_size_is_clipped_and_auto(capsys):
    X, y = _blobs(n=50)
    clf = SoftmaxLinear(batch_size=10_000, max_iter=3, verbose=1)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    assert clf.t_ == 150
    assert "Iteration 3, loss = " in capsys.readouterr().out
    with pytest.warns(ConvergenceWarning):
        SoftmaxLinear(batch_size="auto", max_iter=3).fit(X, y)


@parametrize_estimators
def test_inputs_are_not_modified(make):
    X, y = _blobs()
    sw = np.linspace(0.5, 2, len(y))
    copies = X.copy(), y.copy(), sw.copy()
    clf = make(random_state=0).fit(X, y, sample_weight=sw)
    clf.partial_fit(X, y, sample_weight=sw)
    clf.predict(X)
    for a, c in zip((X, y, sw), copies):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize(
    "X, y, sample_weight, match",
    [
        ([[0.0, np.nan], [1.0, 1.0]], [0, 1], None, "NaN"),
        (np.ones((4, 2, 2)), [0, 1, 0, 1], None, r"2D array|dim"),
        ([[0.0], [1.0], [2.0]], [0.5, 1.5, 2.5], None, "Unknown label type"),
        ([[0.0], [1.0]], [1, 1], None, "at least 2 classes"),
        ([[0.0], [1.0], [2.0]], [0, 1, 1], [1, -1, 1], r"(?i)negative"),
        ([[0.0], [1.0], [2.0]], [0, 1, 1], [0, 0, 0], "zero"),
        ([[0.0], [1.0], [2.0]], [0, 1, 1], [0, 1, 1], "only 1 class"),
        ([[0.0], [1.0], [2.0]], [0, 1, 1], [1, 1], r"sample_weight|shape"),
    ],
)
def test_bad_training_input_is_named(X, y, sample_weight, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxLinear().fit(X, y, sample_weight=sample_weight)


def test_mixed_label_types_are_named():
    with pytest.raises(TypeError, match="strings and numbers"):
        SoftmaxLinear().fit([[0.0], [1.0]], np.array(["a", 1], dtype=object))
    with pytest.raises(TypeError, match="classes holds labels"):
        SoftmaxLinear().partial_fit(
            [[0.0], [1.0]], ["a", "a"], classes=np.array(["a", 1], dtype=object)
        )
    # classes keep their dtype through partial_fit
    labels = np.array(["b", "a"], dtype=object)
    clf = SoftmaxLinear().partial_fit([[0.0], [1.0]], labels, classes=labels)
    assert clf.classes_.dtype == object and clf.predict([[0.5]]).dtype == object


def test_bad_prediction_input_is_named():
    X, y = _blobs()
    clf = SoftmaxLinear().fit(X, y)
    with pytest.raises(ValueError, match="5 features"):
        clf.predict(X[:, :3])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(np.full((1, 5), np.nan))
    with pytest.raises(ValueError, match="parameter of SoftmaxLinear"):
        SoftmaxLinear(learning_rate="optimal").fit(X, y)


def test_messages_show_labels_as_plain_values_and_end_sentences(capsys, monkeypatch):
    # The adaptive schedule lowers the rate within 3 epochs only without the
    # minimum of updates before stopping.
    monkeypatch.setattr(SoftmaxLinear, "_min_updates", 0)
    X = np.random.default_rng(0).normal(size=(10, 3))
    # 0, as scikit-learn prints it, not np.int64(0)
    with pytest.raises(ValueError, match=r"got 1 class: 0\.$"):
        SoftmaxLinear().fit(X, np.zeros(10, dtype=np.int64))
    with pytest.raises(ValueError, match=r"positive for samples of only 1 class \(1\)"):
        SoftmaxLinear().fit(X, np.arange(10) % 2, sample_weight=np.arange(10) % 2)
    # the early-stopping message of the adaptive schedule ends its sentence
    clf = SoftmaxLinear(
        learning_rate="adaptive", learning_rate_init=0.03, early_stopping=True,
        tol=10.0, n_iter_no_change=1, max_iter=3, verbose=1, random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(np.tile(X, (3, 1)), np.arange(30) % 2)
    lines = capsys.readouterr().out.splitlines()
    setting = [line for line in lines if "Setting learning rate" in line]
    assert setting and all(line.endswith("0.006000.") for line in setting)


@parametrize_estimators
def test_adam_solver_trains_with_the_shared_optimizer(make):
    from skcv._optim import _AdamOptimizer

    X, y = _blobs(k=4)
    params = {"solver": "adam", "random_state": 0, "max_iter": 50, "tol": 1e-4}
    # "auto" is MLPClassifier's Adam step, whatever the data
    auto = make(**{**params, "max_iter": 1, "learning_rate_scale": 2.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        auto.fit(X, y)
    assert auto.learning_rate_init_ == pytest.approx(2e-3)
    params["learning_rate_init"] = 0.05
    clf = make(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert isinstance(clf._sgd_state.optimizer, _AdamOptimizer)
    assert clf.loss_curve_[-1] < 0.5 * clf.loss_curve_[0]
    assert clf.score(X, y) > 0.9
    # bit-identical refits, and partial_fit goes on with Adam's moments
    again = make(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        again.fit(X, y)
    np.testing.assert_array_equal(clf.coef_, again.coef_)
    steps = clf._sgd_state.optimizer.t
    clf.partial_fit(X, y)
    assert clf._sgd_state.optimizer.t > steps


def test_adam_l1_gives_exact_zeros():
    X, y = _blobs(d=20)
    X[:, 5:] = np.random.default_rng(0).normal(size=(len(X), 15))
    clf = SoftmaxLinear(
        solver="adam",
        learning_rate_init=0.01,
        penalty="l1",
        alpha=0.05,
        average=False,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert (clf.coef_[:, 5:] == 0).mean() > 0.5


def test_unknown_solver_is_rejected():
    X, y = _blobs()
    with pytest.raises(ValueError, match="solver"):
        SoftmaxLinear(solver="lbfgs").fit(X, y)
