"""AugmentedClassifier: augmentation of the training data only, offline and online."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import (
    AugmentedClassifier,
    HingeLinear,
    ImageAugmenter,
    NearestNeighbor,
    PixelFlatten,
    SoftmaxLinear,
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

_DIGITS = load_digits()
# Digits as a 4-D batch of one-channel 8 x 8 images.
DIGITS_X = _DIGITS.images[:500, :, :, np.newaxis]
DIGITS_Y = _DIGITS.target[:500]

GEOMETRIC = ImageAugmenter(flip=True, max_shift=1, max_rotation=10)

# What the spies below saw, in call order. A module-level log, since the
# estimators are cloned before they are fitted.
LOG = []


@pytest.fixture(autouse=True)
def _clear_log():
    LOG.clear()
    yield
    LOG.clear()


def tagged_images(n, size=9, seed=0):
    """Images whose second channel holds the image's ID (1..n) everywhere.

    Flips, shifts of one pixel and small rotations leave the centre pixel of
    that channel intact (bilinear interpolation of a constant is exact), so
    any copy can be traced back to its source.
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 2))
    images[..., 0] = rng.random((n, size, size))
    images[..., 1] = np.arange(1, n + 1)[:, None, None]
    return images


def ids_of(X):
    centre = X.shape[1] // 2
    return np.rint(X[:, centre, centre, 1]).astype(int) - 1


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Logs the source IDs of what fit / partial_fit receive; predicts by ID.

    ``predict`` is right (labels are ``id % 2``) only after epoch
    ``good_epoch`` of partial_fit, and wrong otherwise, which scripts the
    validation accuracy of online early stopping.
    """

    def __init__(self, good_epoch=None):
        self.good_epoch = good_epoch

    def fit(self, X, y, sample_weight=None):
        LOG.append(("fit", ids_of(X), np.asarray(y), sample_weight))
        self.classes_ = np.unique(y)
        self.epoch_ = 0
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        LOG.append(("partial_fit", X.copy(), np.asarray(y), classes, sample_weight))
        self.classes_ = np.asarray(classes)
        self.epoch_ = getattr(self, "epoch_", 0) + 1
        return self

    def predict(self, X):
        LOG.append(("predict", ids_of(X)))
        truth = ids_of(X) % 2
        if self.good_epoch is None or self.epoch_ == self.good_epoch:
            return truth
        return 1 - truth


class SpyScaler(StandardScaler):
    """StandardScaler that logs what it is fitted on and what it transforms."""

    def fit(self, X, y=None, sample_weight=None):
        LOG.append(("scaler.fit", np.array(X)))
        return super().fit(X, y, sample_weight)

    def transform(self, X, copy=None):
        LOG.append(("scaler.transform", np.array(X)))
        return super().transform(X, copy=copy)


class SpyPartialFit(SpyClassifier):
    """Logs the rows that partial_fit receives, for Pipelines of flat rows."""

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        LOG.append(("partial_fit", np.array(X), np.asarray(y), classes, sample_weight))
        self.classes_ = np.asarray(classes)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def calls(kind):
    return [entry for entry in LOG if entry[0] == kind]


# ---------------------------------------------------------------- grid search


def test_grid_search_over_augmenter_and_softmax_parameters():
    clf = AugmentedClassifier(
        make_pipeline(
            PixelFlatten(), StandardScaler(), SoftmaxLinear(max_iter=30, random_state=0)
        ),
        augmenter=ImageAugmenter(max_rotation=10),
        random_state=0,
    )
    grid = {
        "augmenter__n_copies": [0, 2],
        "estimator__softmaxlinear__alpha": [1e-4, 1e-1],
        "estimator__softmaxlinear__learning_rate_init": [0.01, 0.1],
    }
    search = GridSearchCV(clf, grid, cv=KFold(5)).fit(DIGITS_X, DIGITS_Y)

    results = search.cv_results_
    assert len(results["params"]) == 8
    assert np.all(results["mean_test_score"] > 0.8)
    # n_copies reaches the augmenter: with 0 the rotations are not drawn.
    by_copies = {
        n: results["mean_test_score"][results["param_augmenter__n_copies"] == n]
        for n in (0, 2)
    }
    assert not np.array_equal(by_copies[0], by_copies[2])

    best = search.best_estimator_
    n_copies = search.best_params_["augmenter__n_copies"]
    assert best.augmenter_.n_copies == n_copies
    assert len(best.augmenter_.sample_indices_) == len(DIGITS_X) * (1 + n_copies)
    softmax = best.estimator_[-1]
    assert softmax.alpha == search.best_params_["estimator__softmaxlinear__alpha"]
    assert softmax.coef_.shape == (10, 64)
    assert search.predict(DIGITS_X[:5]).shape == (5,)


def test_grid_search_over_nearest_neighbor():
    knn = make_pipeline(PixelFlatten(), NearestNeighbor())
    clf = AugmentedClassifier(knn, augmenter=GEOMETRIC, random_state=0)
    grid = {
        "estimator__nearestneighbor__n_neighbors": [1, 3, 5],
        "augmenter__n_copies": [0, 1],
    }
    search = GridSearchCV(clf, grid, cv=KFold(5)).fit(DIGITS_X, DIGITS_Y)
    results = search.cv_results_
    assert len(results["params"]) == 6

    # Without copies the wrapper is the plain pipeline, fold by fold.
    plain = GridSearchCV(
        knn, {"nearestneighbor__n_neighbors": [1, 3, 5]}, cv=KFold(5)
    ).fit(DIGITS_X, DIGITS_Y)
    no_copies = results["param_augmenter__n_copies"] == 0
    np.testing.assert_array_equal(
        results["mean_test_score"][no_copies], plain.cv_results_["mean_test_score"]
    )
    assert not np.array_equal(
        results["mean_test_score"][~no_copies], plain.cv_results_["mean_test_score"]
    )
    k = search.best_params_["estimator__nearestneighbor__n_neighbors"]
    assert search.best_estimator_.estimator_[-1].n_neighbors == k


# ------------------------------------------------------------------- leakage


@pytest.mark.parametrize("n_copies", [1, 3])
def test_no_validation_image_or_copy_reaches_fit(n_copies):
    X = tagged_images(60)
    y = np.arange(60) % 2
    clf = AugmentedClassifier(
        SpyClassifier(), augmenter=clone(GEOMETRIC).set_params(n_copies=n_copies)
    )
    cv = cross_validate(
        clf, X, y, cv=KFold(5, shuffle=True, random_state=0), return_indices=True
    )

    fits = calls("fit")
    assert len(fits) == 5
    for (_, seen, _, _), train, test in zip(
        fits, cv["indices"]["train"], cv["indices"]["test"]
    ):
        assert not set(seen) & set(test)
        # Every training image, once as itself and once per copy.
        np.testing.assert_array_equal(np.sort(seen), np.repeat(train, 1 + n_copies))
    # The validation folds are scored on the images themselves.
    predicted = np.concatenate([ids for _, ids in calls("predict")])
    np.testing.assert_array_equal(np.sort(predicted), np.arange(60))


def test_online_early_stopping_trains_on_neither_fold_nor_held_out_images():
    X = tagged_images(80)
    y = np.arange(80) % 2
    clf = AugmentedClassifier(
        SpyClassifier(),
        augmenter=clone(GEOMETRIC).set_params(n_copies=1),
        online=True,
        early_stopping=True,
        validation_fraction=0.25,
        max_epochs=3,
        tol=None,
    )
    cv = cross_validate(clf, X, y, cv=KFold(4), return_indices=True)
    fits = calls("partial_fit")
    assert len(fits) == 4 * 3
    for fold, (train, test) in enumerate(
        zip(cv["indices"]["train"], cv["indices"]["test"])
    ):
        epochs = fits[3 * fold : 3 * fold + 3]
        seen = [set(ids_of(X_epoch)) for _, X_epoch, *_ in epochs]
        # The same training images every epoch, held out ones excluded.
        assert seen[0] == seen[1] == seen[2]
        assert not seen[0] & set(test)
        held_out = set(train) - seen[0]
        assert len(held_out) == 15  # 25 % of the 60 training images


# ------------------------------------------------------------------ offline


def test_offline_fit_is_a_fit_on_the_augmented_data():
    augmenter = ImageAugmenter(max_shift=1, max_rotation=10, n_copies=2, random_state=3)
    pipe = make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=20, random_state=0))
    clf = AugmentedClassifier(pipe, augmenter=augmenter).fit(DIGITS_X, DIGITS_Y)

    X_aug, y_aug = augmenter.fit_resample(DIGITS_X, DIGITS_Y)
    reference = pipe.fit(X_aug, y_aug)[-1]
    np.testing.assert_array_equal(clf.estimator_[-1].coef_, reference.coef_)
    np.testing.assert_array_equal(
        clf.augmenter_.sample_indices_, augmenter.sample_indices_
    )


def test_without_augmenter_it_is_the_estimator():
    pipe = make_pipeline(PixelFlatten(), HingeLinear(max_iter=20, random_state=0))
    clf = AugmentedClassifier(pipe).fit(DIGITS_X, DIGITS_Y)
    reference = pipe.fit(DIGITS_X, DIGITS_Y)
    assert clf.augmenter_ is None
    np.testing.assert_array_equal(clf.estimator_[-1].coef_, reference[-1].coef_)
    np.testing.assert_array_equal(
        clf.decision_function(DIGITS_X), reference.decision_function(DIGITS_X)
    )


def test_random_state_seeds_what_was_left_unseeded():
    def fit(random_state, augmenter_seed=None):
        clf = AugmentedClassifier(
            make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=5)),
            augmenter=ImageAugmenter(max_shift=1, random_state=augmenter_seed),
            random_state=random_state,
        )
        return clf.fit(DIGITS_X[:200], DIGITS_Y[:200])

    a, b, c = fit(0), fit(0), fit(1)
    np.testing.assert_array_equal(a.estimator_[-1].coef_, b.estimator_[-1].coef_)
    assert not np.array_equal(a.estimator_[-1].coef_, c.estimator_[-1].coef_)
    assert isinstance(a.augmenter_.random_state, int)
    assert isinstance(a.estimator_[-1].random_state, int)
    # The parameters themselves are left alone; explicit seeds are kept.
    assert a.augmenter.random_state is None
    assert fit(0, augmenter_seed=5).augmenter_.random_state == 5


def test_sample_weight_follows_the_copies():
    X, y = tagged_images(10), np.arange(10) % 2
    weights = np.arange(10.0) + 1
    clf = AugmentedClassifier(
        SpyClassifier(), augmenter=clone(GEOMETRIC).set_params(n_copies=2)
    )
    clf.fit(X, y, sample_weight=weights)
    ((_, seen, _, received),) = calls("fit")
    np.testing.assert_array_equal(received, weights[clf.augmenter_.sample_indices_])
    np.testing.assert_array_equal(received, weights[seen])


def test_sample_weight_reaches_the_last_pipeline_step():
    clf = AugmentedClassifier(
        make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=5, random_state=0)),
        augmenter=ImageAugmenter(max_shift=1, random_state=0),
    )
    weights = np.where(DIGITS_Y == 3, 5.0, 1.0)
    weighted = clf.fit(DIGITS_X, DIGITS_Y, sample_weight=weights).estimator_[-1].coef_
    unweighted = clf.fit(DIGITS_X, DIGITS_Y).estimator_[-1].coef_
    assert not np.allclose(weighted, unweighted)


def test_sample_weight_refused_when_the_estimator_takes_none():
    clf = AugmentedClassifier(make_pipeline(PixelFlatten(), NearestNeighbor()))
    with pytest.raises(TypeError, match=r"NearestNeighbor\.fit does not accept"):
        clf.fit(DIGITS_X, DIGITS_Y, sample_weight=np.ones(len(DIGITS_Y)))


def test_offline_warns_when_the_estimator_stops_early_on_augmented_data():
    clf = AugmentedClassifier(
        make_pipeline(PixelFlatten(), SoftmaxLinear(early_stopping=True, max_iter=5)),
        augmenter=ImageAugmenter(max_shift=1),
    )
    with pytest.warns(UserWarning, match="copies of the same training image"):
        clf.fit(DIGITS_X, DIGITS_Y)


# ----------------------------------------------------------- delegated methods


@pytest.mark.parametrize(
    "final, present, absent",
    [
        (SoftmaxLinear(max_iter=5), ["predict_proba", "decision_function"], []),
        (HingeLinear(max_iter=5), ["decision_function"], ["predict_proba"]),
        (NearestNeighbor(), ["predict_proba"], ["decision_function"]),
    ],
)
def test_methods_exist_when_the_estimator_has_them(final, present, absent):
    clf = AugmentedClassifier(make_pipeline(PixelFlatten(), final))
    for fitted in (False, True):
        if fitted:
            clf.fit(DIGITS_X, DIGITS_Y)
        for name in present:
            assert hasattr(clf, name)
        for name in absent:
            assert not hasattr(clf, name)
    for name in ["predict", *present]:
        np.testing.assert_array_equal(
            getattr(clf, name)(DIGITS_X), getattr(clf.estimator_, name)(DIGITS_X)
        )
    assert clf.score(DIGITS_X, DIGITS_Y) == accuracy_score(
        DIGITS_Y, clf.predict(DIGITS_X)
    )
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_features_in_ == 64


def test_flat_rows_and_images_give_the_same_model():
    # Pixel-wise augmentation works on rows without any image shape.
    augmenter = ImageAugmenter(noise=0.05, contrast=0.1, random_state=0)
    est = SoftmaxLinear(max_iter=10, random_state=0)
    rows = AugmentedClassifier(est, augmenter=augmenter).fit(
        _DIGITS.data[:500], DIGITS_Y
    )
    images = AugmentedClassifier(
        make_pipeline(PixelFlatten(), est), augmenter=augmenter
    ).fit(DIGITS_X, DIGITS_Y)
    np.testing.assert_array_equal(rows.estimator_.coef_, images.estimator_[-1].coef_)


# -------------------------------------------------------------------- online


def test_online_calls_partial_fit_once_per_epoch_with_fresh_copies():
    X, y = tagged_images(20), np.arange(20) % 2
    clf = AugmentedClassifier(
        SpyClassifier(),
        augmenter=ImageAugmenter(max_shift=1, max_rotation=10, random_state=0),
        online=True,
        max_epochs=4,
        tol=None,
    ).fit(X, y)
    epochs = calls("partial_fit")
    assert len(epochs) == clf.n_iter_ == 4
    for _, X_epoch, y_epoch, classes, weights in epochs:
        assert X_epoch.shape == (40, *X.shape[1:])
        np.testing.assert_array_equal(X_epoch[:20], X)  # the originals
        np.testing.assert_array_equal(y_epoch, np.tile(y, 2))
        np.testing.assert_array_equal(classes, [0, 1])
        assert weights is None
    copies = [X_epoch[20:].tobytes() for _, X_epoch, *_ in epochs]
    assert len(set(copies)) == 4


def test_online_pipeline_fits_stateful_steps_once_on_the_originals():
    n, epochs = 100, 3
    X, y = DIGITS_X[:n], DIGITS_Y[:n]
    clf = AugmentedClassifier(
        make_pipeline(PixelFlatten(), SpyScaler(), SpyPartialFit()),
        augmenter=ImageAugmenter(max_rotation=10, n_copies=2, random_state=0),
        online=True,
        max_epochs=epochs,
        tol=None,
    ).fit(X, y)

    ((_, fitted_on),) = calls("scaler.fit")
    np.testing.assert_array_equal(fitted_on, X.reshape(n, -1))
    scaler = clf.estimator_[1]
    np.testing.assert_allclose(scaler.mean_, X.reshape(n, -1).mean(axis=0))

    transformed = calls("scaler.transform")
    trained = calls("partial_fit")
    assert len(transformed) == len(trained) == epochs
    batches = [batch for _, batch in transformed]
    assert all(batch.shape == (3 * n, 64) for batch in batches)
    assert len({batch.tobytes() for batch in batches}) == epochs
    for batch, (_, rows, *_) in zip(batches, trained):
        np.testing.assert_allclose(rows, (batch - scaler.mean_) / scaler.scale_)


def test_online_early_stopping_stops_and_restores_the_best_epoch():
    X, y = tagged_images(40), np.arange(40) % 2
    clf = AugmentedClassifier(
        SpyClassifier(good_epoch=3),
        augmenter=clone(GEOMETRIC).set_params(n_copies=1),
        online=True,
        early_stopping=True,
        max_epochs=20,
        n_iter_no_change=4,
        random_state=0,
    ).fit(X, y)
    assert clf.validation_scores_ == [0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert clf.n_iter_ == 3 + 4
    assert clf.best_validation_score_ == 1.0
    # The estimator of epoch 3 is the one kept.
    assert clf.estimator_.epoch_ == 3
    assert clf.score(X, y) == 1.0


def test_online_stops_on_the_training_loss():
    common = {
        "augmenter": ImageAugmenter(max_rotation=10),
        "online": True,
        "max_epochs": 12,
        "n_iter_no_change": 3,
        "random_state": 0,
    }
    est = make_pipeline(PixelFlatten(), StandardScaler(), SoftmaxLinear())
    # With a huge tol only the first epoch counts as an improvement.
    clf = AugmentedClassifier(est, tol=1e9, **common).fit(DIGITS_X, DIGITS_Y)
    assert clf.n_iter_ == 1 + 3
    assert len(clf.loss_curve_) == clf.n_iter_
    assert clf.validation_scores_ is None
    clf = AugmentedClassifier(est, tol=None, **common).fit(DIGITS_X, DIGITS_Y)
    assert clf.n_iter_ == 12
    # SoftmaxLinear appends one loss per partial_fit; the wrapper follows it.
    np.testing.assert_array_equal(clf.loss_curve_, clf.estimator_[-1].loss_curve_)
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.score(DIGITS_X, DIGITS_Y) > 0.9


def test_online_verbose_reports_every_epoch(capsys):
    AugmentedClassifier(
        make_pipeline(PixelFlatten(), SoftmaxLinear()),
        online=True,
        early_stopping=True,
        max_epochs=3,
        tol=None,
        verbose=1,
    ).fit(DIGITS_X, DIGITS_Y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[2].startswith("Epoch 3, loss = ")
    assert "validation score = " in lines[2]


# ----------------------------------------------------------------- bad input


def test_online_needs_partial_fit():
    clf = AugmentedClassifier(
        make_pipeline(PixelFlatten(), NearestNeighbor()), online=True
    )
    with pytest.raises(TypeError, match="partial_fit, which NearestNeighbor"):
        clf.fit(DIGITS_X, DIGITS_Y)


def test_early_stopping_needs_online():
    clf = AugmentedClassifier(SoftmaxLinear(), early_stopping=True)
    with pytest.raises(ValueError, match="early_stopping=True needs online=True"):
        clf.fit(_DIGITS.data[:50], DIGITS_Y[:50])


def test_bad_input_is_reported():
    clf = AugmentedClassifier(
        make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=5)),
        augmenter=ImageAugmenter(max_shift=1),
    )
    X = DIGITS_X.copy()
    X[3, 2, 2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clf.fit(X, DIGITS_Y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(DIGITS_X, DIGITS_Y[:-1])
    clf.fit(DIGITS_X, DIGITS_Y)
    with pytest.raises(ValueError, match="X has 49 features, but AugmentedClassifier"):
        clf.predict(np.zeros((2, 7, 7, 1)))
    with pytest.raises(ValueError, match=r"images of shape \(4, 16, 1\)"):
        clf.predict(np.zeros((2, 4, 16, 1)))


def test_geometric_augmentation_of_flat_rows_is_refused():
    clf = AugmentedClassifier(SoftmaxLinear(), augmenter=ImageAugmenter(flip=True))
    with pytest.raises(ValueError, match="image_shape"):
        clf.fit(_DIGITS.data[:50], DIGITS_Y[:50])


class InterruptedSpy(SpyClassifier):
    """Raises KeyboardInterrupt in partial_fit call ``interrupt_at``."""

    def __init__(self, interrupt_at=3, good_epoch=None):
        self.interrupt_at = interrupt_at
        self.good_epoch = good_epoch

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        if getattr(self, "epoch_", 0) + 1 == self.interrupt_at:
            raise KeyboardInterrupt
        return super().partial_fit(X, y, classes, sample_weight)


def test_online_interrupt_keeps_the_last_finished_epoch():
    X, y = tagged_images(20), np.arange(20) % 2
    clf = AugmentedClassifier(InterruptedSpy(3), online=True, max_epochs=10, tol=None)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and clf.estimator_.epoch_ == 2
    clf.predict(X)
    with pytest.raises(KeyboardInterrupt):
        clf.set_params(estimator=InterruptedSpy(1)).fit(X, y)
