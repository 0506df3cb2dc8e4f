"""Persistence, determinism, cloning, thread safety and interruption.

A fitted estimator must survive pickle and joblib bit for bit, the same
``random_state`` must give the same model bit for bit, ``clone`` must give an
unfitted twin, concurrent calls from several threads must answer as serial
calls do, and Ctrl-C must leave a usable model behind.
"""

import pickle
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import check_is_fitted

import skcv._loop
from skcv import (
    AugmentedClassifier,
    HingeLinear,
    ImageAugmenter,
    NearestNeighbor,
    NeuralNet,
    PixelFlatten,
    SoftmaxLinear,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# ---------------------------------------------------------------- the data

_RNG = np.random.RandomState(0)
N = 90
LABELS = np.arange(N) % 3
# Overlapping classes, so that the weights keep moving and a difference in
# the random stream would show.
IMAGES = _RNG.normal(size=(N, 6, 6)) + LABELS[:, None, None] * 0.5
ROWS = IMAGES.reshape(N, -1)
IMAGES_U8 = np.clip(IMAGES * 40 + 128, 0, 255).astype(np.uint8)
QUERIES = _RNG.normal(size=(400, 36)) + 0.5


def _augmented(final, **params):
    return AugmentedClassifier(
        make_pipeline(PixelFlatten(), final),
        augmenter=ImageAugmenter(
            flip=True, max_shift=1, max_rotation=10, noise=0.05, random_state=0
        ),
        max_epochs=4,
        random_state=0,
        **params,
    )


# Batches smaller than the data, so that the order of the samples (the random
# stream) matters to the weights.
_SGD = {"max_iter": 20, "batch_size": 16, "random_state": 0}

# name: (factory, layout)
ESTIMATORS = {
    "NearestNeighbor-l2": (lambda: NearestNeighbor(3), "rows"),
    "NearestNeighbor-l1-distance": (
        lambda: NearestNeighbor(4, metric="l1", weights="distance"),
        "rows",
    ),
    "NearestNeighbor-l1-uint8": (lambda: NearestNeighbor(3, metric="l1"), "uint8"),
    "SoftmaxLinear": (lambda: SoftmaxLinear(**_SGD), "rows"),
    "SoftmaxLinear-early_stopping-elasticnet": (
        lambda: SoftmaxLinear(early_stopping=True, penalty="elasticnet", **_SGD),
        "rows",
    ),
    "HingeLinear": (lambda: HingeLinear(**_SGD), "rows"),
    "NeuralNet": (lambda: NeuralNet(hidden_layer_sizes=(8,), **_SGD), "rows"),
    "NeuralNet-batch_norm-dropout-uint8": (
        lambda: NeuralNet(
            hidden_layer_sizes=(8, 4), batch_norm=True, dropout=0.2, **_SGD
        ),
        "uint8",
    ),
    "HingeLinear-crammer_singer-float32": (
        lambda: HingeLinear(
            multi_class="crammer_singer",
            learning_rate="adaptive",
            **_SGD,
        ),
        "float32",
    ),
    "AugmentedClassifier-offline": (
        lambda: _augmented(SoftmaxLinear(max_iter=5, batch_size=32)),
        "images",
    ),
    "AugmentedClassifier-online-early_stopping": (
        lambda: _augmented(
            HingeLinear(batch_size=32), online=True, early_stopping=True
        ),
        "images",
    ),
    "AugmentedClassifier-knn": (lambda: _augmented(NearestNeighbor()), "images"),
}
parametrize_estimators = pytest.mark.parametrize("name", list(ESTIMATORS))


def _data(layout):
    return {
        "rows": ROWS,
        "float32": ROWS.astype(np.float32),
        "uint8": IMAGES_U8.reshape(N, -1),
        "images": IMAGES,
    }[layout]


def _queries(layout):
    if layout == "uint8":
        return np.clip(QUERIES * 40 + 128, 0, 255).astype(np.uint8)
    if layout == "images":
        return QUERIES.reshape(-1, 6, 6)
    return QUERIES.astype(np.float32 if layout == "float32" else np.float64)


def _fitted(name):
    factory, layout = ESTIMATORS[name]
    return factory().fit(_data(layout), LABELS), _queries(layout)


def _answers(est, X):
    """Everything a fitted classifier says about X."""
    out = {"predict": est.predict(X)}
    for method in ("predict_proba", "predict_log_proba", "decision_function"):
        if hasattr(est, method):
            out[method] = getattr(est, method)(X)
    if hasattr(est, "kneighbors"):
        out["kneighbors"] = np.stack(est.kneighbors(X)).astype(np.float64)
    return out


def _assert_same_answers(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


# ---------------------------------------------------------------- persistence


@parametrize_estimators
def test_pickle_round_trip_gives_identical_answers(name):
    est, X = _fitted(name)
    restored = pickle.loads(pickle.dumps(est))
    _assert_same_answers(_answers(restored, X), _answers(est, X))


@parametrize_estimators
def test_joblib_round_trip_gives_identical_answers(name, tmp_path):
    est, X = _fitted(name)
    path = tmp_path / "model.joblib"
    joblib.dump(est, path, compress=3)
    _assert_same_answers(_answers(joblib.load(path), X), _answers(est, X))
    # joblib's memory-mapped loading gives read-only arrays.
    joblib.dump(est, path)
    _assert_same_answers(
        _answers(joblib.load(path, mmap_mode="r"), X), _answers(est, X)
    )


@pytest.mark.parametrize(
    "make",
    [SoftmaxLinear, lambda **kw: HingeLinear(multi_class="crammer_singer", **kw)],
    ids=["softmax", "crammer_singer"],
)
def test_pickled_model_continues_training_like_the_original(make):
    # The optimizer state (velocities, learning rate, random stream) travels
    # with the model: training on after a round trip changes nothing.
    est = make(learning_rate="invscaling", random_state=0, batch_size=16)
    est.partial_fit(ROWS, LABELS, classes=[0, 1, 2])
    est.partial_fit(ROWS, LABELS)
    restored = pickle.loads(pickle.dumps(est))
    for _ in range(3):
        est.partial_fit(ROWS, LABELS)
        restored.partial_fit(ROWS, LABELS)
    np.testing.assert_array_equal(restored.coef_, est.coef_)
    np.testing.assert_array_equal(restored.intercept_, est.intercept_)
    assert restored.loss_curve_ == est.loss_curve_
    assert restored.t_ == est.t_


def test_pickled_augmenter_draws_the_same_copies():
    aug = ImageAugmenter(flip=True, max_shift=2, noise=0.1, random_state=3)
    first = aug.fit_resample(IMAGES_U8, LABELS)
    restored = pickle.loads(pickle.dumps(aug))
    again = restored.fit_resample(IMAGES_U8, LABELS)
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(restored.sample_indices_, aug.sample_indices_)


def test_pickled_pixel_flatten_keeps_the_image_shape():
    flat = PixelFlatten(rescale=True).fit(IMAGES_U8)
    restored = pickle.loads(pickle.dumps(flat))
    assert restored.image_shape_ == (6, 6)
    rows = flat.transform(IMAGES_U8)
    np.testing.assert_array_equal(restored.transform(IMAGES_U8), rows)
    np.testing.assert_array_equal(
        restored.inverse_transform(rows), flat.inverse_transform(rows)
    )
    with pytest.raises(ValueError, match="fitted on images of shape"):
        restored.transform(IMAGES_U8.reshape(N, 4, 9))


# ---------------------------------------------------------------- determinism


def _weights(est):
    final = est.estimator_[-1] if isinstance(est, AugmentedClassifier) else est
    if hasattr(final, "coef_"):
        return final.coef_, final.intercept_
    if hasattr(final, "coefs_"):
        return (*final.coefs_, *final.intercepts_)
    return final.kneighbors(QUERIES[:20])


@parametrize_estimators
def test_same_random_state_gives_bit_identical_models(name):
    a, X = _fitted(name)
    b, _ = _fitted(name)
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(u, v)
    _assert_same_answers(_answers(a, X), _answers(b, X))
    # Refitting the same instance gives the same model again: nothing of the
    # first fit leaks into the second.
    a.fit(_data(ESTIMATORS[name][1]), LABELS)
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"early_stopping": True},
        {"learning_rate": "adaptive", "penalty": "l1"},
        {"shuffle": False},
    ],
    ids=repr,
)
@pytest.mark.parametrize("make", [SoftmaxLinear, HingeLinear], ids=["softmax", "hinge"])
def test_linear_models_are_bit_identical_with_sample_weights(make, params):
    sw = np.linspace(0.2, 3.0, N)
    fits = [
        make(random_state=5, max_iter=15, batch_size=16, **params).fit(
            ROWS, LABELS, sample_weight=sw
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)
    assert fits[0].loss_curve_ == fits[1].loss_curve_


def test_another_random_state_gives_another_model():
    # The bit-identity above means something only if the seed matters.
    # (Batches smaller than the data: a single full batch has the same
    # gradient in any order.)
    a = SoftmaxLinear(random_state=0, max_iter=5, batch_size=16).fit(ROWS, LABELS)
    b = SoftmaxLinear(random_state=1, max_iter=5, batch_size=16).fit(ROWS, LABELS)
    assert not np.array_equal(a.coef_, b.coef_)
    aug = _augmented(SoftmaxLinear(batch_size=32), online=True)
    c = clone(aug).fit(IMAGES, LABELS)
    d = clone(aug).set_params(random_state=1).fit(IMAGES, LABELS)
    assert not np.array_equal(c.estimator_[-1].coef_, d.estimator_[-1].coef_)


@pytest.mark.parametrize(
    "params",
    [
        {"flip": True},
        {"max_shift": 2, "pad_mode": "reflect"},
        {"max_rotation": 30.0},
        {"brightness": 0.2, "contrast": 0.3, "noise": 0.1},
        {"flip": True, "max_shift": 1, "max_rotation": 15.0, "noise": 0.05},
    ],
    ids=repr,
)
@pytest.mark.parametrize(
    "images", [IMAGES_U8, IMAGES.astype(np.float32)], ids=["u8", "f32"]
)
def test_same_random_state_gives_identical_augmented_copies(params, images):
    outputs = [
        ImageAugmenter(n_copies=2, random_state=11, **params).fit_resample(
            images, LABELS
        )[0]
        for _ in range(2)
    ]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    other = ImageAugmenter(n_copies=2, random_state=12, **params)
    assert not np.array_equal(other.fit_resample(images, LABELS)[0], outputs[0])


# ---------------------------------------------------------------- clone


def _params_equal(a, b):
    pa, pb = a.get_params(deep=True), b.get_params(deep=True)
    assert pa.keys() == pb.keys()
    for key in pa:
        if hasattr(pa[key], "get_params"):
            assert type(pa[key]) is type(pb[key]), key
        else:
            assert repr(pa[key]) == repr(pb[key]), key


@parametrize_estimators
def test_clone_gives_an_unfitted_twin(name):
    est, X = _fitted(name)
    twin = clone(est)
    _params_equal(twin, est)
    assert twin is not est
    with pytest.raises(NotFittedError):
        check_is_fitted(twin)
    with pytest.raises(NotFittedError):
        twin.predict(X)
    assert not [k for k in vars(twin) if k.endswith("_") and not k.startswith("__")]
    # Nested estimators are copies, not shared.
    if isinstance(est, AugmentedClassifier):
        assert twin.estimator is not est.estimator
        assert twin.augmenter is not est.augmenter
    # The original is untouched, and the twin fits to the same model.
    check_is_fitted(est)
    twin.fit(_data(ESTIMATORS[name][1]), LABELS)
    _assert_same_answers(_answers(twin, X), _answers(est, X))


def test_clone_of_transformer_and_sampler():
    flat = PixelFlatten(image_shape=(6, 6), rescale=True).fit(IMAGES)
    twin = clone(flat)
    assert twin.get_params() == flat.get_params() and not hasattr(twin, "image_shape_")
    aug = ImageAugmenter(flip=True, random_state=0)
    aug.fit_resample(IMAGES, LABELS)
    twin = clone(aug)
    assert twin.get_params() == aug.get_params()
    assert not hasattr(twin, "sample_indices_")


# ---------------------------------------------------------------- threads

N_THREADS = 4


def _concurrently(fn, n_calls=8):
    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        return list(pool.map(lambda _: fn(), range(n_calls)))


THREAD_ESTIMATORS = {
    **ESTIMATORS,
    # Explicit n_jobs: each call sets numba's (thread-local) thread count and
    # a BLAS limit around its kernels.
    "NearestNeighbor-l1-n_jobs": (
        lambda: NearestNeighbor(3, metric="l1", n_jobs=2),
        "rows",
    ),
    "NearestNeighbor-l2-n_jobs-small-blocks": (
        lambda: NearestNeighbor(3, n_jobs=-1, block_memory_mib=0.01),
        "rows",
    ),
}


@pytest.mark.parametrize("name", list(THREAD_ESTIMATORS))
def test_concurrent_predictions_equal_serial_ones(name):
    factory, layout = THREAD_ESTIMATORS[name]
    est = factory().fit(_data(layout), LABELS)
    X = _queries(layout)
    serial = _answers(est, X)
    for answers in _concurrently(lambda: _answers(est, X)):
        _assert_same_answers(answers, serial)


@pytest.mark.parametrize(
    "name",
    [
        "SoftmaxLinear",
        "HingeLinear-crammer_singer-float32",
        "NeuralNet-batch_norm-dropout-uint8",
        "AugmentedClassifier-offline",
    ],
)
def test_concurrent_fits_equal_serial_ones(name):
    # As in GridSearchCV with a threading backend: separate estimators fitted
    # at the same time (the SGD loop limits BLAS threads while it runs).
    factory, layout = ESTIMATORS[name]
    X = _data(layout)
    serial = _weights(factory().fit(X, LABELS))
    for fitted in _concurrently(lambda: factory().fit(X, LABELS), n_calls=4):
        for u, v in zip(_weights(fitted), serial):
            np.testing.assert_array_equal(u, v)


def test_concurrent_augmentation_equals_serial():
    aug = ImageAugmenter(flip=True, max_shift=2, max_rotation=20, noise=0.1, n_copies=3)

    def run():
        return clone(aug).set_params(random_state=4).fit_resample(IMAGES_U8, LABELS)[0]

    serial = run()
    for out in _concurrently(run):
        np.testing.assert_array_equal(out, serial)


# ---------------------------------------------------------------- interruption
#
# fit's own interruption (the weights of the last finished epoch, and the
# interrupt passed on) is tested in test_linear.py; here is what happens
# around it.


def _interrupt_batch_step(monkeypatch, after, once=False):
    """Make the SGD batch step raise KeyboardInterrupt from call ``after`` on.

    With ``once``, only that call raises, as a single Ctrl-C would.
    """
    step = skcv._loop._batch_step
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == after + 1 or (len(calls) > after and not once):
            raise KeyboardInterrupt
        return step(*args, **kwargs)

    monkeypatch.setattr(skcv._loop, "_batch_step", interrupted)


@pytest.mark.parametrize("make", [SoftmaxLinear, HingeLinear], ids=["softmax", "hinge"])
def test_interrupted_partial_fit_reaches_the_callers_loop(make, monkeypatch):
    # partial_fit is called from the user's own loop, which must stop too:
    # the interrupt goes through, and the model keeps the weights it had
    # before the interrupted call.
    est = make(random_state=0, batch_size=30)
    est.partial_fit(ROWS, LABELS, classes=[0, 1, 2])
    before = est.coef_.copy(), est.intercept_.copy(), list(est.loss_curve_), est.t_
    _interrupt_batch_step(monkeypatch, after=1)
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(ROWS, LABELS)
    monkeypatch.undo()
    np.testing.assert_array_equal(est.coef_, before[0])
    np.testing.assert_array_equal(est.intercept_, before[1])
    assert est.loss_curve_ == before[2] and est.t_ == before[3]
    # Usable, and training goes on.
    est.predict(ROWS)
    est.partial_fit(ROWS, LABELS)
    assert len(est.loss_curve_) == 2


def test_interrupted_online_augmented_training_stops_with_the_last_epoch(monkeypatch):
    # 90 training images and their 90 copies in batches of 30 give 6 steps
    # per epoch, so the interrupt falls in the third epoch.
    def make():
        return _augmented(SoftmaxLinear(batch_size=30), online=True, tol=None)

    _interrupt_batch_step(monkeypatch, after=13)
    est = make()
    with pytest.raises(KeyboardInterrupt):
        est.fit(IMAGES, LABELS)
    monkeypatch.undo()
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    two_epochs = make().set_params(max_epochs=2).fit(IMAGES, LABELS)
    np.testing.assert_array_equal(
        est.estimator_[-1].coef_, two_epochs.estimator_[-1].coef_
    )
    np.testing.assert_array_equal(est.predict(IMAGES), two_epochs.predict(IMAGES))


def test_interrupted_offline_augmented_training_is_passed_on(monkeypatch):
    est = _augmented(SoftmaxLinear(batch_size=60, max_iter=50)).fit(IMAGES, LABELS)
    before = est.estimator_
    # 180 augmented rows in batches of 60: the interrupt falls in epoch 2.
    _interrupt_batch_step(monkeypatch, after=4)
    with pytest.raises(KeyboardInterrupt):
        est.fit(IMAGES, LABELS)
    monkeypatch.undo()
    # the wrapper still holds its previous, finished fit
    assert est.estimator_ is before
    est.predict(IMAGES)


@pytest.mark.parametrize(
    "make",
    [
        lambda: SoftmaxLinear(batch_size=30, max_iter=50),
        lambda: HingeLinear(batch_size=30, max_iter=50),
        lambda: _augmented(SoftmaxLinear(batch_size=30), online=True, tol=None),
    ],
    ids=["softmax", "hinge", "online-augmented"],
)
@pytest.mark.parametrize("meta", ["grid_search", "cross_validate"])
def test_no_meta_estimator_scores_an_interrupted_fit(make, meta, monkeypatch):
    # An interrupt inside a search stops the search: it is never scored as a
    # finished fit while the search carries on with the next one.
    from sklearn.model_selection import GridSearchCV, cross_validate

    X = IMAGES if isinstance(make(), AugmentedClassifier) else ROWS
    # one interrupt, in the second or third epoch of the first fold
    _interrupt_batch_step(monkeypatch, after=7, once=True)
    with pytest.raises(KeyboardInterrupt):
        if meta == "grid_search":
            GridSearchCV(make(), {}, cv=3, error_score=0.0).fit(X, LABELS)
        else:
            cross_validate(make(), X, LABELS, cv=3, error_score=0.0)


def _blas_threads():
    # The BLAS libraries that skcv's limits reach: those of scikit-learn's
    # cached controller, numpy's and scipy's among them. A BLAS that another
    # package loads later (OpenCV bundles its own, imported by a test in the
    # same process when it is installed) is neither limited nor called.
    from sklearn.utils.parallel import _get_threadpool_controller

    blas = _get_threadpool_controller().select(user_api="blas")
    return [info["num_threads"] for info in blas.info()]


@pytest.mark.parametrize(
    "work",
    ["knn-predict-n_jobs", "sgd-fit", "both"],
)
def test_concurrent_calls_leave_the_blas_thread_count_as_it_was(work):
    # BLAS thread limits are process-wide; calls that limit them while
    # overlapping in several threads must not leave their limit behind (one
    # restoring the original while another still runs, which then
    # "restores" the first one's limit for good).
    knn = NearestNeighbor(3, n_jobs=1).fit(ROWS, LABELS)
    before = _blas_threads()

    def call(i):
        if work == "knn-predict-n_jobs" or (work == "both" and i % 2):
            return knn.predict(QUERIES)
        return SoftmaxLinear(max_iter=3, batch_size=16).fit(ROWS, LABELS)

    with ThreadPoolExecutor(max_workers=N_THREADS) as pool:
        list(pool.map(call, range(40)))
    assert _blas_threads() == before


def test_sgd_limits_blas_in_the_main_thread_and_restores_it(monkeypatch):
    # Minibatch products are small: the SGD loop runs BLAS on one thread,
    # and gives the original count back afterwards.
    before = _blas_threads()
    seen = []
    run_epoch = skcv._loop._run_epoch

    def spy(*args, **kwargs):
        seen.append(_blas_threads())
        return run_epoch(*args, **kwargs)

    monkeypatch.setattr(skcv._loop, "_run_epoch", spy)
    SoftmaxLinear(max_iter=2).fit(ROWS, LABELS)
    assert seen and all(threads == [1] * len(before) for threads in seen)
    assert _blas_threads() == before
