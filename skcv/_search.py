"""Searches of ``skcv run`` that share work between grid points.

:class:`NeighborsSearchCV` scores every ``n_neighbors`` of a k-NN grid from
one neighbour search per fold; :class:`StagedHalvingGridSearchCV` is
scikit-learn's successive halving, followed by one augmentation stage. Both
are :class:`~sklearn.model_selection.GridSearchCV`-like: ``cv_results_``,
``best_params_``, ``best_estimator_`` and ``refit_time_`` mean what they mean
there.
"""

import time
from math import ceil, floor, log

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.metrics import accuracy_score
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    ParameterGrid,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, indexable, resample

from .neighbors import NearestNeighbor, _vote_counts


def _subsample(splits, fraction, random_state):
    """Every fold's training and validation rows, subsampled to ``fraction``.

    The same rule as scikit-learn's successive halving: a random subset of
    ``int(fraction * n)`` rows of each side, drawn with ``random_state``.
    """
    if fraction >= 1:
        return splits
    return [
        tuple(
            resample(
                rows,
                replace=False,
                random_state=random_state,
                n_samples=int(fraction * len(rows)),
            )
            for rows in split
        )
        for split in splits
    ]


def _neighbors_step(fitted, X):
    """The fitted k-NN estimator inside wrappers and pipelines, and X as it sees X."""
    while not isinstance(fitted, NearestNeighbor):
        if isinstance(fitted, Pipeline):
            if len(fitted) > 1:
                X = fitted[:-1].transform(X)
            fitted = fitted[-1]
        elif hasattr(fitted, "estimator_"):
            fitted = fitted.estimator_
        else:
            raise TypeError(
                f"NeighborsSearchCV needs a NearestNeighbor inside the estimator; "
                f"found {type(fitted).__name__}."
            )
    return fitted, X


def _score_group(estimator, params, key, ks, X, y, train, test):
    """Fit once with the largest k; accuracy of every k in ``ks`` on ``test``.

    Returns the fit time, the scoring time and the scores, in the order of
    ``ks``.
    """
    start = time.perf_counter()
    fitted = clone(estimator).set_params(**clone(params, safe=False))
    fitted.set_params(**{key: max(ks)}).fit(X[train], y[train])
    fit_time = time.perf_counter() - start
    start = time.perf_counter()
    final, X_test = _neighbors_step(fitted, X[test])
    distances, indices, _ = final._kneighbors(X_test, max(ks))
    n_classes = len(final.classes_)
    scores = []
    for k in ks:
        votes = _vote_counts(
            distances[:, :k], indices[:, :k], final._y, n_classes, final.weights
        )
        y_pred = final.classes_[np.argmax(votes, axis=1)]
        scores.append(float(accuracy_score(y[test], y_pred)))
    return fit_time, time.perf_counter() - start, scores


def _value_key(value):
    """A hashable stand-in for a grid value (estimators by identity)."""
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return ("id", id(value)) if hasattr(value, "get_params") else value


class NeighborsSearchCV(GridSearchCV):
    """Grid search of a k-NN model, one neighbour search per fold and group.

    The grid points that differ only in ``n_neighbors_key`` form a group. For
    each group and fold the estimator is fitted once with the group's largest
    k, the validation rows' neighbours are searched once, and every k of the
    group is scored from the first k columns of that search: the fold scores
    are those of :class:`~sklearn.model_selection.GridSearchCV`, at the cost
    of one search instead of one per k.

    With ``stage_key`` (such as ``"augmenter"``, whose first value is None),
    the groups with the first value of that parameter are scored first; its
    other values are then tried for the best group only. With ``max_resources``
    below the number of training rows, all of that happens on a random
    subset of ``max_resources`` rows (of each fold's training and validation
    rows alike, as successive halving does), and the best group is then
    scored again on all the rows; the best parameters are chosen among the
    scores on all the rows. ``cv_results_`` has a row per scored point and
    resource level, with the columns ``iter`` (0 for the subset, 1 for all
    rows) and ``n_resources`` of :class:`~sklearn.model_selection.HalvingGridSearchCV`.

    Parameters
    ----------
    estimator : estimator object
        A :class:`~skcv.NearestNeighbor`, or a pipeline or wrapper (such as
        :class:`~skcv.AugmentedClassifier`) around one.
    param_grid : dict
        The grid, as for GridSearchCV.
    n_neighbors_key : str
        The name of ``n_neighbors`` in the grid.
    stage_key : str, default=None
        A parameter tried in stages, as described above; None scores every
        grid point.
    max_resources : int, default=None
        Number of rows on which the groups are compared first; None, or
        at least the number of rows, compares them on all rows.
    cv, n_jobs, refit, verbose, pre_dispatch, error_score, return_train_score
        As for GridSearchCV; the score is the accuracy, training scores are
        not computed and a failed fit always raises.
    random_state : int, RandomState instance or None, default=None
        Seed of the row subset.

    Attributes
    ----------
    cv_results_, best_index_, best_params_, best_score_, best_estimator_, \
refit_time_, n_splits_, scorer_, multimetric_
        As for GridSearchCV. The fit and score times of one neighbour search
        are shared equally by the k it scores.
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        n_neighbors_key,
        stage_key=None,
        max_resources=None,
        cv=None,
        n_jobs=None,
        refit=True,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
        random_state=None,
    ):
        super().__init__(
            estimator,
            param_grid,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.n_neighbors_key = n_neighbors_key
        self.stage_key = stage_key
        self.max_resources = max_resources
        self.random_state = random_state

    def _groups(self):
        """Grid points grouped by all their values but k, in grid order."""
        groups = {}
        for params in ParameterGrid(self.param_grid):
            rest = {k: v for k, v in params.items() if k != self.n_neighbors_key}
            key = tuple((k, _value_key(v)) for k, v in sorted(rest.items()))
            groups.setdefault(key, (rest, []))[1].append(params[self.n_neighbors_key])
        return list(groups.values())

    def _stages(self, groups):
        """Groups of the first stage, and a function giving the second stage."""
        values = self.param_grid.get(self.stage_key, []) if self.stage_key else []
        if len(values) < 2:
            return groups, lambda best: []
        first = [g for g in groups if g[0][self.stage_key] is values[0]]

        def second(best):
            return [
                g
                for g in groups
                if g[0][self.stage_key] is not values[0]
                and all(
                    g[0][k] is best[k] or g[0][k] == best[k]
                    for k in g[0]
                    if k != self.stage_key
                )
            ]

        return first, second

    def fit(self, X, y):
        """Score the grid on the folds of ``cv`` and refit the best point.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Training images or rows.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted search.
        """
        X, y = indexable(X, y)
        X, y = np.asarray(X), np.asarray(y)
        cv = check_cv(self.cv, y, classifier=True)
        self.n_splits_ = cv.get_n_splits(X, y)
        splits = list(cv.split(X, y))
        n_samples = len(y)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        levels = [n_samples]
        if self.max_resources is not None and self.max_resources < n_samples:
            levels = [self.max_resources, n_samples]
        base = clone(self.estimator)
        rows = []  # (grid params, iter, n_resources, fit times, score times, scores)
        parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)

        def evaluate(groups, level):
            if not groups:
                return
            level_splits = _subsample(splits, levels[level] / n_samples, seed)
            tasks = [(g, s) for g in groups for s in level_splits]
            out = parallel(
                delayed(_score_group)(
                    base, g[0], self.n_neighbors_key, g[1], X, y, train, test
                )
                for g, (train, test) in tasks
            )
            for i, (params, ks) in enumerate(groups):
                folds = out[i * len(splits) : (i + 1) * len(splits)]
                for j, k in enumerate(ks):
                    rows.append(
                        (
                            {**params, self.n_neighbors_key: k},
                            level,
                            levels[level],
                            [f[0] / len(ks) for f in folds],
                            [f[1] / len(ks) for f in folds],
                            [f[2][j] for f in folds],
                        )
                    )

        def best_of(level):
            scored = [r for r in rows if r[1] == level]
            return max(scored, key=lambda r: np.mean(r[5]))[0]

        groups = self._groups()
        first, second = self._stages(groups)
        with parallel:
            evaluate(first, 0)
            evaluate(second(best_of(0)), 0)
            if len(levels) > 1:
                best = dict(best_of(0))
                del best[self.n_neighbors_key]
                evaluate([g for g in groups if _point_key(g[0]) == _point_key(best)], 1)
        order = {_point_key(p): i for i, p in enumerate(ParameterGrid(self.param_grid))}
        rows.sort(key=lambda r: (r[1], order[_point_key(r[0])]))
        self._store_results(rows)
        self._refit(X, y)
        return self

    def _store_results(self, rows):
        out = [
            {
                "fit_time": fit,
                "score_time": score,
                "test_scores": test,
                "n_test_samples": 0,
                "fit_error": None,
            }
            for row in rows
            for fit, score, test in zip(row[3], row[4], row[5])
        ]
        more = {"iter": [r[1] for r in rows], "n_resources": [r[2] for r in rows]}
        results = self._format_results([r[0] for r in rows], self.n_splits_, out, more)
        last = np.flatnonzero(results["iter"] == results["iter"].max())
        self.best_index_ = int(last[np.argmax(results["mean_test_score"][last])])
        self.best_score_ = float(results["mean_test_score"][self.best_index_])
        self.best_params_ = results["params"][self.best_index_]
        self.cv_results_ = results
        self.multimetric_ = False
        self.scorer_, _ = self._get_scorers()

    def _refit(self, X, y):
        if not self.refit:
            return
        self.best_estimator_ = clone(self.estimator).set_params(
            **clone(self.best_params_, safe=False)
        )
        start = time.time()
        self.best_estimator_.fit(X, y)
        self.refit_time_ = time.time() - start


def _point_key(params):
    return tuple((k, _value_key(v)) for k, v in sorted(params.items()))


class StagedHalvingGridSearchCV(HalvingGridSearchCV):
    """Successive halving, then the best point with the other values of ``stage_key``.

    The halving of :class:`~sklearn.model_selection.HalvingGridSearchCV` runs
    over the grid with ``stage_key`` fixed at its first value (e.g. the
    ``augmenter`` at None). The best point of its last iteration is then
    scored with every other value of ``stage_key``, on the same rows, as part
    of that last iteration: the best parameters are chosen among them.

    Parameters
    ----------
    estimator, param_grid, factor, resource, max_resources, min_resources, \
aggressive_elimination, cv, scoring, refit, error_score, return_train_score, \
random_state, n_jobs, verbose
        As for HalvingGridSearchCV.
    stage_key : str, default=None
        The parameter tried in a stage of its own; None is plain halving.

    Attributes
    ----------
    cv_results_, best_index_, best_params_, best_estimator_, refit_time_, \
n_resources_, n_candidates_, n_iterations_
        As for HalvingGridSearchCV; ``n_candidates_`` does not count the
        stage.
    """

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        stage_key=None,
        factor=3,
        resource="n_samples",
        max_resources="auto",
        min_resources="exhaust",
        aggressive_elimination=False,
        cv=5,
        scoring=None,
        refit=True,
        error_score=np.nan,
        return_train_score=False,
        random_state=None,
        n_jobs=None,
        verbose=0,
    ):
        super().__init__(
            estimator,
            param_grid,
            factor=factor,
            resource=resource,
            max_resources=max_resources,
            min_resources=min_resources,
            aggressive_elimination=aggressive_elimination,
            cv=cv,
            scoring=scoring,
            refit=refit,
            error_score=error_score,
            return_train_score=return_train_score,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
        )
        self.stage_key = stage_key

    def _stage_values(self):
        values = self.param_grid.get(self.stage_key, []) if self.stage_key else []
        return list(values)

    def _generate_candidate_params(self):
        values = self._stage_values()
        if len(values) < 2:
            return ParameterGrid(self.param_grid)
        return ParameterGrid({**self.param_grid, self.stage_key: values[:1]})

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        latest = {}

        def evaluate(*args, **kwargs):
            latest["results"] = evaluate_candidates(*args, **kwargs)
            latest["cv"] = kwargs.get("cv", args[1] if len(args) > 1 else None)
            return latest["results"]

        super()._run_search(evaluate, callback_ctx=callback_ctx)
        values = self._stage_values()
        if len(values) < 2:
            return
        results = latest["results"]
        last = int(results["iter"].max())
        rows = np.flatnonzero(results["iter"] == last)
        best = results["params"][rows[np.argmax(results["mean_test_score"][rows])]]
        others = [{**best, self.stage_key: value} for value in values[1:]]
        n_resources = int(results["n_resources"][rows[0]])
        evaluate_candidates(
            others,
            latest["cv"],
            more_results={
                "iter": [last] * len(others),
                "n_resources": [n_resources] * len(others),
            },
        )


def halving_schedule(
    n_candidates, n_samples, *, factor, max_resources, n_splits, n_classes
):
    """Candidates and rows of each iteration of ``min_resources="exhaust"`` halving.

    The arithmetic of :class:`~sklearn.model_selection.HalvingGridSearchCV`
    for ``resource="n_samples"``, to size a progress bar before the fit.
    """
    max_resources = min(max_resources, n_samples)
    min_resources = n_splits * 2 * n_classes
    n_required = 1 + floor(log(n_candidates, factor))
    min_resources = max(min_resources, max_resources // factor ** (n_required - 1))
    n_possible = 1 + floor(log(max_resources // min_resources, factor))
    schedule = []
    for itr in range(min(n_possible, n_required)):
        schedule.append(
            (n_candidates, min(int(factor**itr * min_resources), max_resources))
        )
        n_candidates = ceil(n_candidates / factor)
    return schedule
