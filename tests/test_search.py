"""The searches of ``skcv run``: shared neighbour searches and staged halving."""

import numpy as np
import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    StratifiedKFold,
)

from skcv._pipeline import (
    MODELS,
    augment_params,
    augmenter_choices,
    build_estimator,
    build_grid,
    build_search,
    search_plan,
)
from skcv._search import NeighborsSearchCV, StagedHalvingGridSearchCV
from skcv.cli import _count_fits
from skcv.datasets import load_digits_images


@pytest.fixture(scope="module")
def digits():
    bunch = load_digits_images()
    return bunch.images, bunch.target


def _knn(overrides=None, augment=True):
    spec = MODELS["knn"]
    estimator, prefix = build_estimator(spec, random_state=0)
    params = augment_params("auto", "digits", (8, 8)) if augment else None
    augmenters = augmenter_choices("auto", params)
    grid = build_grid(spec, estimator, prefix, overrides or {}, augmenters)
    return estimator, grid, prefix


def _scores(cv, n_splits):
    return np.column_stack([cv[f"split{i}_test_score"] for i in range(n_splits)])


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_every_k_from_one_search_equals_grid_search(digits, weights):
    X, y = digits
    estimator, grid, prefix = _knn({"weights": [weights]})
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    ref = GridSearchCV(estimator, grid, cv=folds).fit(X, y)
    new = NeighborsSearchCV(
        estimator, grid, n_neighbors_key=prefix + "n_neighbors", cv=folds
    ).fit(X, y)
    assert new.best_params_ == ref.best_params_
    assert new.best_index_ == ref.best_index_
    assert new.cv_results_["params"] == ref.cv_results_["params"]
    np.testing.assert_array_equal(
        _scores(new.cv_results_, 5), _scores(ref.cv_results_, 5)
    )
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_array_equal(new.cv_results_[key], ref.cv_results_[key])
    np.testing.assert_array_equal(new.predict(X[:50]), ref.predict(X[:50]))
    assert new.refit_time_ > 0


def test_staged_neighbors_search_scores_the_best_group_on_all_rows(digits):
    X, y = digits
    estimator, grid, prefix = _knn()
    key = prefix + "n_neighbors"
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    search = NeighborsSearchCV(
        estimator,
        grid,
        n_neighbors_key=key,
        stage_key="augmenter",
        max_resources=900,
        cv=folds,
        random_state=0,
    ).fit(X, y)
    cv = search.cv_results_
    level0 = np.flatnonzero(cv["iter"] == 0)
    level1 = np.flatnonzero(cv["iter"] == 1)
    assert set(cv["n_resources"][level0]) == {900}
    assert set(cv["n_resources"][level1]) == {len(y)}
    ks = grid[key]
    # Level 0: both metrics without augmentation, then augmentation for the
    # metric of the best of those only.
    first = [p for p in cv["params"][: len(level0)] if p["augmenter"] is None]
    assert len(first) == 2 * len(ks)
    off = [i for i in level0 if cv["params"][i]["augmenter"] is None]
    best_off = cv["params"][off[np.argmax(cv["mean_test_score"][off])]]
    on = [cv["params"][i] for i in level0 if cv["params"][i]["augmenter"] is not None]
    metric = prefix + "metric"
    assert [p[key] for p in on] == ks
    assert {p[metric] for p in on} == {best_off[metric]}
    # Level 1: the best group of level 0 on all rows, every k, with the fold
    # scores GridSearchCV gives those points.
    best0 = cv["params"][level0[np.argmax(cv["mean_test_score"][level0])]]
    final = [cv["params"][i] for i in level1]
    assert [p[key] for p in final] == ks
    assert all(
        p[metric] == best0[metric] and p["augmenter"] is best0["augmenter"]
        for p in final
    )
    ref = GridSearchCV(
        estimator, {k: [v] for k, v in final[0].items() if k != key} | {key: ks},
        cv=folds,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_array_equal(_scores(cv, 3)[level1], _scores(ref.cv_results_, 3))
    assert search.best_index_ in level1
    assert search.best_score_ == cv["mean_test_score"][level1].max()


def _linear(name="softmax"):
    spec = MODELS[name]
    estimator, prefix = build_estimator(spec, random_state=0)
    estimator.set_params(**{prefix + "max_iter": 5})
    augmenters = augmenter_choices("auto", augment_params("auto", "digits", (8, 8)))
    grid = build_grid(
        spec,
        estimator,
        prefix,
        {"learning_rate_scale": [0.3, 1.0], "alpha": [1e-4, 1e-2]},
        augmenters,
    )
    return estimator, grid


def test_staged_halving_is_halving_then_augmentation_for_the_best(digits):
    X, y = digits
    estimator, grid = _linear()
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    common = {"cv": folds, "factor": 2, "random_state": 0}
    search = StagedHalvingGridSearchCV(
        estimator, grid, stage_key="augmenter", **common
    ).fit(X, y)
    plain = HalvingGridSearchCV(estimator, {**grid, "augmenter": [None]}, **common).fit(
        X, y
    )
    cv, ref = search.cv_results_, plain.cv_results_
    n = len(ref["params"])
    assert cv["params"][:n] == ref["params"]
    np.testing.assert_array_equal(_scores(cv, 3)[:n], _scores(ref, 3))
    (extra,) = cv["params"][n:]
    assert extra == {**plain.best_params_, "augmenter": grid["augmenter"][1]}
    assert cv["iter"][n] == ref["iter"].max()
    assert cv["n_resources"][n] == ref["n_resources"].max()
    last = np.flatnonzero(cv["iter"] == cv["iter"].max())
    assert search.best_index_ == last[np.argmax(cv["mean_test_score"][last])]


class _Counter:
    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


@pytest.mark.parametrize(
    ("model", "strategy"),
    [("knn", "grid"), ("knn", "halving"), ("softmax", "grid"), ("softmax", "halving")],
)
def test_search_plan_names_every_parallel_call(digits, model, strategy):
    X, y = digits
    if model == "knn":
        estimator, grid, prefix = _knn({"n_neighbors": [1, 3]})
    else:
        estimator, grid = _linear()
        prefix = "estimator__softmaxlinear__"
    search = build_search(
        estimator,
        grid,
        cv=3,
        seed=0,
        n_jobs=None,
        spec=MODELS[model],
        prefix=prefix,
        strategy=strategy,
        n_train=len(y),
    )
    if model == "knn" and strategy == "halving":
        search.set_params(max_resources=600)
    plan = search_plan(search, len(y), 10)
    labels = []
    counter = _Counter()
    with _count_fits(counter, labels.append) as arm:
        arm([(label, 1) for label, _, _ in plan])
        search.fit(X, y)
    assert labels == [label for label, _, _ in plan]
    assert counter.n == sum(count for _, count, _ in plan)
    if strategy == "grid":
        assert counter.n == len(search.cv_results_["params"]) * 3 // (
            2 if model == "knn" else 1
        )
