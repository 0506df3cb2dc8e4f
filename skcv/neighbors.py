"""k-nearest-neighbour classification under the L1 and L2 distances."""

from contextlib import contextmanager
from numbers import Integral, Real

import numba
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._distances import (
    _build_index,
    _n_candidates,
    _query_block_rows,
    _topk_neighbors,
)
from ._threading import _kernel_launch
from ._threadpool import _limit_blas_threads
from ._validation import _check_labels, _keeps_state_on_error

__all__ = ["NearestNeighbor"]


class NearestNeighbor(ClassifierMixin, BaseEstimator):
    """Classifier voting among the k nearest training rows, by L1 or L2 distance.

    ``fit`` only stores the training rows (plus, for L2, a float32 copy
    centred on their mean). ``predict`` compares every query with every
    training row, block by block: the distances are ranked in float32 (a
    BLAS matrix product for L2, a compiled tiled kernel for L1), then the best
    candidates are re-ranked with exact float64 distances. The neighbours
    found are those of the exact distances, even for data far from the
    origin such as pixels + 1000.

    Parameters
    ----------
    n_neighbors : int, default=1
        Number of neighbours that vote. Must not exceed the number of
        training rows (checked when predicting, as scikit-learn does).
    metric : {"l2", "l1"}, default="l2"
        ``"l2"``: Euclidean distance ``sqrt(sum_f (a_f - b_f)^2)``;
        ``"l1"``: Manhattan distance ``sum_f |a_f - b_f|``.
    weights : {"uniform", "distance"}, default="uniform"
        ``"uniform"``: each neighbour has one vote. ``"distance"``: a
        neighbour at distance d votes with weight ``1 / d``; when some
        neighbours coincide with the query (d = 0), they share all the weight
        and the others get none.
    block_memory_mib : float, default=128
        Budget, in MiB, for the work arrays of one block of queries. The
        number of queries per block is the budget divided by about
        ``4 * n_train`` bytes (one float32 distance per training row; under
        L2 per training row of one chunk product, at most 2,048), so a
        prediction uses bounded extra memory however many queries it gets.
    n_jobs : int, default=None
        Number of threads of the distance computations: the compiled kernels
        (numba) and the BLAS matrix product of the L2 distance. ``None``
        leaves both as they are (numba uses every core unless
        ``numba.set_num_threads`` was called; BLAS follows its own setting);
        ``-1`` means every core numba may use, ``-2`` all but one, and so on.
        BLAS counts its threads process-wide, so its limit applies to calls
        from the main thread only.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.
    n_samples_fit_ : int
        Number of training rows.

    See Also
    --------
    sklearn.neighbors.KNeighborsClassifier : The general k-NN classifier, with
        trees and any metric; this class gives the same answers for
        ``algorithm="brute"`` with ``p=1`` or ``p=2`` on data without
        distance ties.

    Notes
    -----
    Training rows of dtype uint8 and float32 are kept as they are, other
    dtypes become float64. Distances returned by :meth:`kneighbors` are
    float32 for float32 queries and float64 otherwise.

    Ties are broken deterministically:

    - between training rows at the same distance, by the lower training index
      (the neighbour lists are sorted by ``(distance, index)``);
    - between classes with the same number of votes (or the same total
      weight), towards the smallest class label, i.e. the first of
      ``classes_``.

    For L2 the float32 pass ranks ``||b||^2 - 2 a.b`` on rows centred on the
    training mean, which removes the common offset that makes
    ``||a||^2 + ||b||^2 - 2 a.b`` cancel catastrophically. A bound on the
    float32 rounding error certifies for each query that no row outside its
    ``max(2k, k + 8)`` candidates can be nearer than its k-th exact
    neighbour; a query that cannot be certified (exact ties at the border,
    or a query very far from the training data) is searched exhaustively in
    float64. uint8 queries against uint8 training rows under L1 are compared
    in exact integer arithmetic and need no second pass; float rows on 256
    evenly spaced levels (pixels divided by 255) are ranked by the same
    integer kernel on their levels.

    The kernels are compiled by numba on first use (a few seconds, once per
    input dtype) and cached on disk.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv import NearestNeighbor
    >>> X = np.array([[0, 0], [0, 1], [5, 5], [6, 5]], dtype=np.float32)
    >>> y = np.array([0, 0, 1, 1])
    >>> knn = NearestNeighbor(n_neighbors=3).fit(X, y)
    >>> knn.predict([[0.2, 0.1], [5.5, 5.0]])
    array([0, 1])
    >>> knn.predict_proba([[0.2, 0.1]])
    array([[0.667, 0.333]])
    >>> distances, indices = knn.kneighbors(np.array([[0, 3]], dtype=np.float32))
    >>> distances
    array([[2.   , 3.   , 5.385]], dtype=float32)
    >>> indices
    array([[1, 0, 2]])
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"l1", "l2"})],
        "weights": [StrOptions({"uniform", "distance"})],
        "block_memory_mib": [Interval(Real, 0, None, closed="neither")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_neighbors=1,
        *,
        metric="l2",
        weights="uniform",
        block_memory_mib=128,
        n_jobs=None,
    ):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.weights = weights
        self.block_memory_mib = block_memory_mib
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    @_keeps_state_on_error
    def fit(self, X, y):
        """Store the training rows and their labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, e.g. flattened images.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype="numeric", order="C")
        _check_magnitude(X, self.metric)
        _check_labels(y, "y")
        self.classes_, self._y = np.unique(y, return_inverse=True)
        # Building the index runs parallel kernels too (pixel levels under L1,
        # pooled rows under L2): the same threads and lock as predicting.
        with _limit_threads(self.n_jobs), _kernel_launch():
            self._index = _build_index(X, self.metric)
        self.n_samples_fit_ = X.shape[0]
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the nearest training rows of each query.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Queries. None means the training rows, each excluded from its own
            neighbours.
        n_neighbors : int, default=None
            Number of neighbours; ``self.n_neighbors`` when None.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances to the neighbours, ascending (float32 for float32
            queries, float64 otherwise). Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours in the training rows; equal distances
            are ordered by the lower index.
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                f"n_neighbors must be an integer; got {type(n_neighbors).__name__}."
            )
        elif n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}.")
        distances, indices, queries = self._kneighbors(X, int(n_neighbors))
        if not return_distance:
            return indices
        dtype = np.float32 if queries.dtype == np.float32 else np.float64
        return distances.astype(dtype, copy=False), indices

    def predict(self, X):
        """Predict the majority class among the nearest neighbours.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), or None
            Queries. None means the training rows, each excluded from its own
            neighbours.

        Returns
        -------
        y : ndarray of shape (n_queries,)
            Predicted labels; ties go to the smallest label.
        """
        check_is_fitted(self)
        return self.classes_[np.argmax(self._votes(X), axis=1)]

    def predict_proba(self, X):
        """Fraction of the (weighted) votes that each class gets.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), or None
            Queries. None means the training rows, each excluded from its own
            neighbours.

        Returns
        -------
        proba : ndarray of shape (n_queries, n_classes)
            Vote fractions, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        votes = self._votes(X)
        return votes / votes.sum(axis=1, keepdims=True)

    def _votes(self, X):
        """(n_queries, n_classes) sum of the neighbours' vote weights."""
        distances, indices, _ = self._kneighbors(X, self.n_neighbors)
        return _vote_counts(
            distances, indices, self._y, len(self.classes_), self.weights
        )

    def _kneighbors(self, X, n_neighbors):
        """Validate the queries; return float64 distances, indices, queries."""
        index = self._index
        n_train = self.n_samples_fit_
        from_train = X is None
        if from_train:
            queries = index.X
            if n_neighbors >= n_train:
                raise ValueError(
                    "Expected n_neighbors < n_samples_fit when X is None (each "
                    f"training row is left out of its own neighbours), but "
                    f"n_neighbors = {n_neighbors}, n_samples_fit = {n_train}."
                )
        else:
            queries = validate_data(self, X, reset=False, dtype="numeric", order="C")
            _check_magnitude(queries, self.metric)
            if n_neighbors > n_train:
                raise ValueError(
                    "Expected n_neighbors <= n_samples_fit, but "
                    f"n_neighbors = {n_neighbors}, n_samples_fit = {n_train}, "
                    f"n_samples = {queries.shape[0]}."
                )
        block_rows = _query_block_rows(
            n_train,
            queries.shape[1],
            _n_candidates(n_neighbors, n_train, exact=False),
            self.block_memory_mib,
            self.metric,
        )
        with _limit_threads(self.n_jobs), _kernel_launch():
            distances, indices = _topk_neighbors(
                None if from_train else queries,
                index,
                n_neighbors,
                block_rows=block_rows,
                exclude_self=from_train,
            )
        return distances, indices, queries


def _vote_counts(distances, indices, y_idx, n_classes, weights):
    """(n_queries, n_classes) sum of the vote weights of the given neighbours.

    ``distances`` and ``indices`` are the neighbour lists of the queries,
    nearest first; ``y_idx`` the class index of every training row. A search
    for the largest k gives the votes of every smaller k from its first
    columns.
    """
    n_queries = indices.shape[0]
    vote_weights = None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            vote_weights = 1.0 / distances
        exact = np.isinf(vote_weights)
        has_exact = exact.any(axis=1)
        vote_weights[has_exact] = exact[has_exact]
        vote_weights = vote_weights.ravel()
    # One bincount over (query, class) cells: row i's classes are offset
    # by i * n_classes.
    cells = y_idx[indices] + n_classes * np.arange(n_queries)[:, np.newaxis]
    votes = np.bincount(
        cells.ravel(), weights=vote_weights, minlength=n_queries * n_classes
    )
    return votes.reshape(n_queries, n_classes).astype(np.float64, copy=False)


def _check_magnitude(X, metric):
    """Refuse values whose distances would overflow float64.

    With every value within ``limit`` in magnitude, a difference is at most
    ``2 * limit`` and the distance over ``n_features`` features stays finite.
    Beyond, the distances would be infinite and the neighbours arbitrary.
    """
    if X.dtype.kind != "f" or X.size == 0:
        return
    n_features = X.shape[1]
    largest = float(max(X.max(), -X.min()))
    big = np.finfo(np.float64).max
    if metric == "l2":
        limit, what = 0.5 * np.sqrt(big / n_features), "squared differences"
    else:
        limit, what = 0.5 * big / n_features, "differences"
    if largest > limit:
        raise ValueError(
            f"X holds values up to {largest:.3g} in magnitude: over {n_features} "
            f"features the sum of their {what} would overflow float64 in the "
            f"{metric} distance, which needs values within {limit:.3g}. Rescale "
            f"the features, e.g. with StandardScaler."
        )


@contextmanager
def _limit_threads(n_jobs):
    """Run numba kernels and BLAS on ``n_jobs`` threads (None: as they are)."""
    if n_jobs is None:
        yield
        return
    n_max = numba.config.NUMBA_NUM_THREADS
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a count.")
    n_threads = n_jobs if n_jobs > 0 else n_max + 1 + n_jobs
    n_threads = min(max(n_threads, 1), n_max)
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        with _limit_blas_threads(n_threads):
            yield
    finally:
        numba.set_num_threads(previous)
