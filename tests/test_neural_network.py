"""NeuralNet: the whole objective against numerical gradients, and its behaviour."""

import itertools
import pickle
import threading
import time
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from skcv import (
    AugmentedClassifier,
    ImageAugmenter,
    NeuralNet,
    PixelFlatten,
    neural_network,
)
from skcv._workers import _n_training_threads, _run_tasks
from skcv.gradcheck import check_gradient
from skcv.neural_network import _Network


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@pytest.mark.parametrize(
    "options",
    [
        {"activation": "relu"},
        {"activation": "tanh"},
        {"activation": "relu", "batch_norm": True},
        {"activation": "tanh", "dropout": 0.3},
        {"activation": "relu", "loss": "hinge"},
        {"activation": "relu", "sizes": [6, 3]},
    ],
    ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()),
)
def test_network_objective_gradient(options):
    """Loss plus penalty of a whole batch, against centred differences in float64.

    The input offset and scale are not 0 and 1, so the standardisation on
    the way in is covered too.
    """
    options = dict(options)
    hidden = options.pop("sizes", [5])
    rng = np.random.RandomState(0)
    X, y = rng.normal(2.0, 3.0, size=(12, 4)), rng.randint(0, 3, 12)
    net = _Network(
        [4, *hidden, 3],
        np.float64,
        alpha=0.1,
        dropout=options.pop("dropout", 0.0),
        batch_norm=options.pop("batch_norm", False),
        loss=options.pop("loss", "softmax"),
        offset=2.0,
        scale=1 / 3,
        **options,
    )
    for p in net.params:
        p[...] = rng.normal(size=p.shape)
    net.start(12, rng)
    coef = np.float64(1 / 12)

    def f(*params):
        # A fresh generator each call: the same dropout mask every time.
        net.dropout_rng = np.random.default_rng(5)
        Xs = net.gather(X, np.arange(12), None)
        loss = net.loss_and_grad(Xs, y, coef) + net.penalty()
        grads = [g + c * p for g, c, p in zip(net.grads, net.l2, net.params)]
        return loss, *grads

    assert check_gradient(f, net.params) < 1e-6


def test_penalty_is_on_weights_only():
    net = _Network(
        [3, 4, 2],
        np.float64,
        activation="relu",
        loss="softmax",
        alpha=0.5,
        dropout=0.0,
        batch_norm=True,
        offset=0.0,
        scale=1.0,
    )
    for p in net.params:
        p[...] = 1.0
    assert net.penalty() == pytest.approx(0.5 * 0.5 * (12 + 8))
    assert net.l2 == [0.5, 0.0]
    # The second array holds the biases and batch-norm parameters.
    assert net.params[1].size == 4 + 2 + 2 * 4


def test_learns_digits_and_exposes_sklearn_attributes(digits):
    X, y = digits
    clf = NeuralNet(max_iter=40, random_state=0).fit(X[:1400], y[:1400])
    assert clf.score(X[1400:], y[1400:]) > 0.9
    assert [W.shape for W in clf.coefs_] == [(64, 100), (100, 10)]
    assert [b.shape for b in clf.intercepts_] == [(100,), (10,)]
    assert all(W.dtype == np.float32 for W in clf.coefs_ + clf.intercepts_)
    assert clf.n_layers_ == 3 and clf.n_outputs_ == 10
    assert clf.out_activation_ == "softmax"
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    proba = clf.predict_proba(X[:5])
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X[:5]))
    assert_allclose(np.exp(clf.predict_log_proba(X[:5])), proba, rtol=1e-5)


def test_coefs_act_on_raw_input(digits):
    """The folded first layer reproduces the scores of the trained network."""
    X, y = digits
    clf = NeuralNet(hidden_layer_sizes=(20,), max_iter=5, random_state=0).fit(X, y)
    h = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    scores = h @ clf.coefs_[1] + clf.intercepts_[1]
    assert_allclose(clf.decision_function(X), scores, rtol=1e-4, atol=1e-4)


def test_refit_is_bit_identical(digits):
    X, y = digits
    kwargs = {"max_iter": 3, "random_state": 0, "dropout": 0.2}
    a = NeuralNet(**kwargs).fit(X, y)
    b = NeuralNet(**kwargs).fit(X, y)
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert_array_equal(u, v)
    assert a.loss_curve_ == b.loss_curve_
    c = NeuralNet(max_iter=3, random_state=1, dropout=0.2).fit(X, y)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


@pytest.mark.parametrize("scale", [1 / 16, 255 / 16])
def test_training_does_not_depend_on_pixel_scale(digits, scale):
    """Digits in [0, 16], [0, 1] and [0, 255] train to the same network."""
    X, y = digits
    ref = NeuralNet(max_iter=10, random_state=0).fit(X, y)
    clf = NeuralNet(max_iter=10, random_state=0).fit(X * scale, y)
    assert_allclose(clf.loss_curve_, ref.loss_curve_, rtol=1e-3)
    assert np.mean(clf.predict(X * scale) == ref.predict(X)) > 0.99


def test_he_initialisation():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(500, 400)).astype(np.float32), rng.randint(0, 4, 500)
    # A vanishing step leaves the weights where they started.
    clf = NeuralNet(
        hidden_layer_sizes=(300,), learning_rate_init=1e-12, max_iter=1, random_state=0
    ).fit(X, y)
    scale = clf.coefs_[0].std() / np.sqrt(2 / 400)
    # coefs_[0] carries the input scale 1 / std(X), close to 1 here.
    assert scale == pytest.approx(1 / X[::1].std(), rel=0.02)
    assert clf.coefs_[1].std() == pytest.approx(np.sqrt(1 / 300), rel=0.05)
    assert_allclose(clf.intercepts_[1], 0, atol=1e-9)


def test_empty_hidden_layers_is_a_linear_model(digits):
    X, y = digits
    clf = NeuralNet(hidden_layer_sizes=(), max_iter=60, random_state=0).fit(X, y)
    assert [W.shape for W in clf.coefs_] == [(64, 10)]
    assert_allclose(
        clf.decision_function(X), X @ clf.coefs_[0] + clf.intercepts_[0], rtol=1e-4
    )
    assert clf.score(X, y) > 0.9


def test_hinge_has_no_predict_proba(digits):
    X, y = digits
    clf = NeuralNet(loss="hinge", max_iter=20, random_state=0).fit(X, y)
    assert not hasattr(clf, "predict_proba")
    assert clf.out_activation_ == "identity"
    assert clf.score(X, y) > 0.9


@pytest.mark.parametrize("solver", ["sgd", "rmsprop", "adam"])
def test_every_solver_learns(digits, solver):
    X, y = digits
    lr = {"sgd": 0.01, "rmsprop": 0.001, "adam": 0.001}[solver]
    clf = NeuralNet(
        solver=solver, learning_rate_init=lr, max_iter=20, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) > 0.95


def test_dropout_trains_differently_but_predicts_deterministically(digits):
    X, y = digits
    plain = NeuralNet(max_iter=3, random_state=0).fit(X, y)
    drop = NeuralNet(max_iter=3, random_state=0, dropout=0.5).fit(X, y)
    assert drop.loss_curve_[0] > plain.loss_curve_[0]
    assert_array_equal(drop.predict_proba(X[:50]), drop.predict_proba(X[:50]))


def test_batch_norm_predicts_each_sample_alone(digits):
    X, y = digits
    clf = NeuralNet(batch_norm=True, max_iter=20, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9
    together = clf.decision_function(X[:20])
    alone = np.vstack([clf.decision_function(X[i : i + 1]) for i in range(20)])
    assert_allclose(alone, together, rtol=1e-5, atol=1e-5)


def test_early_stopping_keeps_the_best_epoch(digits):
    X, y = digits
    clf = NeuralNet(
        early_stopping=True, max_iter=30, n_iter_no_change=3, random_state=0
    ).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None


def test_partial_fit_and_warm_start(digits):
    X, y = digits
    with pytest.raises(ValueError, match="classes must be passed"):
        NeuralNet().partial_fit(X, y)
    clf = NeuralNet(random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=np.arange(10))
    assert len(clf.loss_curve_) == 3 and clf.n_iter_ == 1
    assert clf.t_ == 3 * len(y)
    # partial_fit is fit's epochs, one at a time.
    fit = NeuralNet(random_state=0, max_iter=3, n_iter_no_change=99).fit(X, y)
    assert_allclose(clf.loss_curve_, fit.loss_curve_, rtol=1e-6)
    warm = NeuralNet(random_state=0, max_iter=2, warm_start=True).fit(X, y)
    before = warm.coefs_[0].copy()
    warm.fit(X, y)
    assert len(warm.loss_curve_) == 4
    assert not np.array_equal(before, warm.coefs_[0])
    warm.set_params(hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        warm.fit(X, y)


def test_no_clash_with_mlpclassifier_and_same_parameter_names():
    shared = set(MLPClassifier().get_params()) & set(NeuralNet().get_params())
    assert {
        "hidden_layer_sizes",
        "activation",
        "alpha",
        "solver",
        "batch_size",
        "learning_rate",
        "learning_rate_init",
        "max_iter",
        "early_stopping",
        "validation_fraction",
        "n_iter_no_change",
        "tol",
        "warm_start",
        "random_state",
    } <= shared


def test_composes_with_pipeline_grid_search_and_augmentation(digits):
    X, y = digits
    images = X[:600].reshape(-1, 8, 8)
    pipe = make_pipeline(
        PixelFlatten(), StandardScaler(), NeuralNet(max_iter=20, random_state=0)
    )
    grid = GridSearchCV(
        pipe,
        {
            "neuralnet__hidden_layer_sizes": [(16,), (32,)],
            "neuralnet__alpha": [1e-4, 1e-2],
            "neuralnet__learning_rate_init": [1e-3, 1e-2],
        },
        cv=KFold(2),
    ).fit(images, y[:600])
    assert grid.best_score_ > 0.8
    online = AugmentedClassifier(
        make_pipeline(PixelFlatten(), NeuralNet(learning_rate_init=0.01)),
        augmenter=ImageAugmenter(max_shift=1, random_state=0),
        online=True,
        max_epochs=10,
        tol=None,
        random_state=0,
    ).fit(images, y[:600])
    assert online.n_iter_ == 10
    assert len(online.estimator_[-1].loss_curve_) == 10
    assert online.score(images, y[:600]) > 0.8


def test_pickle_round_trip_and_continue(digits):
    X, y = digits
    clf = NeuralNet(max_iter=2, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(clf))
    assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, y)
    copy.partial_fit(X, y)
    assert_array_equal(copy.coefs_[0], clf.coefs_[0])


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
def test_batch_split_between_threads_gives_the_same_gradient(
    monkeypatch, dropout, weighted
):
    """Parts of a batch on 2 or 3 threads add up to the whole batch's gradient."""
    monkeypatch.setattr(neural_network, "_MIN_PART_WORK", 0)
    rng = np.random.RandomState(0)
    m = 50
    X, y = rng.normal(2.0, 3.0, size=(m + 7, 6)), rng.randint(0, 3, m + 7)
    idx = np.sort(rng.choice(m + 7, m, replace=False))
    coef = rng.uniform(0, 2 / m, m) if weighted else np.float64(1 / m)
    params = [rng.normal(size=30 + 20 + 12), rng.normal(size=5 + 4 + 3)]
    results = {}
    for n_threads in (1, 2, 3):
        net = _Network(
            [6, 5, 4, 3],
            np.float64,
            activation="relu",
            loss="softmax",
            alpha=0.1,
            dropout=dropout,
            batch_norm=False,
            offset=2.0,
            scale=1 / 3,
            dropout_rng=np.random.default_rng(5),
        )
        for p, value in zip(net.params, params):
            p[...] = value
        net.n_threads = n_threads
        net.start(m, rng)
        assert len(net.parts) == n_threads
        # A whole batch, then smaller ones (the last of an epoch) that are
        # split into fewer, larger parts than the first.
        for rows in (m, 40, 20):
            c = coef if np.ndim(coef) == 0 else coef[:rows]
            loss = net.loss_and_grad(net.gather(X, idx[:rows], None), y[idx[:rows]], c)
            results[n_threads, rows] = loss, [g.copy() for g in net.grads]
    for n_threads, rows in itertools.product((2, 3), (m, 40, 20)):
        loss, grads = results[n_threads, rows]
        assert loss == pytest.approx(results[1, rows][0], rel=1e-12)
        for g, g1 in zip(grads, results[1, rows][1]):
            assert_allclose(g, g1, rtol=1e-10, atol=1e-12)


def _large_problem():
    # Large enough that a batch of 200 is split in two (see _MIN_PART_WORK).
    rng = np.random.RandomState(0)
    centres = rng.normal(size=(5, 300))
    y = rng.randint(0, 5, 1000)
    X = (centres[y] + 2 * rng.normal(size=(1000, 300))).astype(np.float32)
    return X, y


def test_threads_follow_the_blas_limit(monkeypatch):
    """As many parts per batch as BLAS may use threads, reproducible, and close."""
    X, y = _large_problem()
    sizes = []
    real = neural_network._run_tasks

    def counting(tasks):
        sizes.append(len(tasks))
        real(tasks)

    monkeypatch.setattr(neural_network, "_run_tasks", counting)
    coefs = {}
    for limit in (1, 2, 2):
        sizes.clear()
        with threadpool_limits(limits=limit, user_api="blas"):
            clf = NeuralNet(max_iter=2, random_state=0).fit(X, y)
        assert set(sizes) == (set() if limit == 1 else {2})
        if limit in coefs:  # bit-identical refit at the same thread count
            for W, W_old in zip(clf.coefs_, coefs[limit]):
                assert_array_equal(W, W_old)
        coefs[limit] = clf.coefs_
    # The same batches and masks: only the summation order differs.
    for W1, W2 in zip(coefs[1], coefs[2]):
        assert_allclose(W1, W2, rtol=1e-3, atol=1e-4)


def test_fits_in_other_threads_use_one_thread(monkeypatch):
    X, y = _large_problem()
    sizes = []
    monkeypatch.setattr(neural_network, "_run_tasks", lambda t: sizes.append(t))
    with threadpool_limits(limits=2, user_api="blas"):
        assert _n_training_threads() == 2
        thread = threading.Thread(
            target=lambda: NeuralNet(max_iter=1, random_state=0).fit(X, y)
        )
        thread.start()
        thread.join()
    assert sizes == []


def test_worker_errors_reach_the_caller_after_every_part_finished():
    finished = []

    def slow():
        time.sleep(0.05)
        finished.append("slow")

    def failing():
        raise ZeroDivisionError("in a worker")

    with pytest.raises(ZeroDivisionError, match="in a worker"):
        _run_tasks([slow, failing])
    assert finished == ["slow"]
    with pytest.raises(KeyError):
        _run_tasks([lambda: {}["x"], slow])
    assert finished == ["slow", "slow"]
    # The pool still works afterwards.
    out = []
    _run_tasks([lambda: out.append(1), lambda: out.append(2), lambda: out.append(3)])
    assert sorted(out) == [1, 2, 3]


def test_interrupt_during_a_split_batch_keeps_the_last_finished_epoch(monkeypatch):
    X, y = _large_problem()  # 5 batches per epoch, each in 2 parts
    part = _Network._part_loss_and_grad
    calls = []

    def interrupted(self, *args):
        if threading.current_thread() is threading.main_thread():
            calls.append(1)
            if len(calls) == 2 * 5 + 3:  # inside the third epoch
                raise KeyboardInterrupt
        return part(self, *args)

    monkeypatch.setattr(_Network, "_part_loss_and_grad", interrupted)
    with threadpool_limits(limits=2, user_api="blas"):
        clf = NeuralNet(max_iter=10, random_state=0)
        with pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
        monkeypatch.undo()
        two_epochs = NeuralNet(max_iter=2, random_state=0).fit(X, y)
    assert clf.n_iter_ == 2
    for W, W2 in zip(
        clf.coefs_ + clf.intercepts_, two_epochs.coefs_ + two_epochs.intercepts_
    ):
        assert_array_equal(W, W2)


def test_an_interrupted_caller_waits_for_the_workers():
    finished = []

    def slow():
        time.sleep(0.05)
        finished.append("slow")

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _run_tasks([interrupted, slow])
    assert finished == ["slow"]
