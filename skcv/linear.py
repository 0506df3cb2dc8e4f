"""Linear classifiers trained by minibatch SGD: softmax and multiclass SVM.

Both score a sample ``x`` for class ``k`` as ``s_k = coef_[k] @ x +
intercept_[k]`` (one template per class) and predict the class of the
highest score. They differ only in the loss of ``skcv.losses`` that the
shared training loop of ``skcv._sgd`` minimises.
"""

from numbers import Integral, Real

import numpy as np
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import softmax
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._sgd import _auto_learning_rate, _fit_sgd, _SGDConfig, _SGDState
from ._validation import _check_labels, _keeps_state_on_error, _unchanged_on_error
from .losses import _KERNELS

__all__ = ["HingeLinear", "SoftmaxLinear"]

_FLOATS = [np.float64, np.float32]

_SGD_PARAMETERS_DOC = """\
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Penalty ``R(W)`` on the weights (never on the intercept); see
        :func:`skcv.losses.penalty_value_and_grad` for the formulas.
    alpha : float, default=1e-4
        Strength of the penalty.
    l1_ratio : float, default=0.15
        Share of L1 in the elastic net, in ``[0, 1]``.
    fit_intercept : bool, default=True
        Whether to learn ``intercept_``; if False it stays 0.
    batch_size : int or "auto", default=256
        Samples per minibatch; "auto" means ``min(200, n_samples)``. Clipped
        to the number of samples.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step size schedule. "constant" keeps ``learning_rate_init``;
        "invscaling" uses ``learning_rate_init / (t_ + 1) ** power_t`` after
        each epoch; "adaptive" divides the rate by 5 whenever the training
        loss (or the validation score, with ``early_stopping``) fails to
        improve by ``tol`` for ``n_iter_no_change`` epochs, and stops once it
        falls below ``learning_rate_init_ / 10_000``.
    learning_rate_init : "auto" or float, default="auto"
        Initial step size. "auto" computes it from the training data, as
        ``learning_rate_scale / L`` with ``L`` a bound on the curvature of
        the loss on a minibatch (largest eigenvalue of the centred data's
        second-moment matrix, plus a minibatch noise term, times the loss's
        curvature, plus ``alpha``); see :ref:`optimization`. It makes the
        defaults work whatever the scale of the features. The value used is
        ``learning_rate_init_``.
    learning_rate_scale : float, default=1.0
        Factor on the automatic step; only used with
        ``learning_rate_init="auto"``. Grid-search it (e.g. 0.3, 1, 3) to
        tune the step on any data set.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    average : bool or int, default=True
        Return the average of the SGD iterates (averaged SGD, as
        ``SGDClassifier(average=True)``) rather than the last one, which
        the minibatch noise shakes. An int starts averaging once ``t_``
        reaches it. ``partial_fit`` carries the average on.
    momentum : float, default=0.9
        Momentum of the updates, in ``[0, 1]``.
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum.
    max_iter : int, default=100
        Maximum number of epochs (passes over the data) of ``fit``.
    tol : float, default=1e-2
        Improvement of the loss (or validation score) below which an epoch
        counts as no improvement.
    n_iter_no_change : int, default=2
        ``fit`` stops after more than this many epochs without improvement
        (unless ``learning_rate="adaptive"`` can still lower the rate).
    early_stopping : bool, default=False
        Set aside a stratified ``validation_fraction`` of the training data,
        stop when its accuracy stops improving, and keep the weights of the
        epoch with the best validation accuracy. Ignored by ``partial_fit``.
    validation_fraction : float, default=0.1
        Share of the training data set aside with ``early_stopping``.
    shuffle : bool, default=True
        Whether to visit the samples in a new random order each epoch.
    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling and of the validation split. An int makes
        ``fit`` reproducible bit for bit.
    warm_start : bool, default=False
        Whether ``fit`` starts from the weights of the previous fit (same
        classes and features required) instead of zeros.
    verbose : int, default=0
        Print the loss after each epoch when positive."""

_SGD_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coef_ : ndarray of shape (n_classes, n_features)
        One weight row (template) per class, of the dtype of the training
        data (float32 or float64). Unlike scikit-learn's binary linear models
        (``coef_`` of shape (1, n_features)), two classes still give two rows.
        With ``average``, the average of the iterates.
    intercept_ : ndarray of shape (n_classes,)
        One intercept per class.
    learning_rate_init_ : float
        The initial step size used: ``learning_rate_init``, or the automatic
        step for "auto", computed by ``fit`` and by the first
        ``partial_fit``.
    n_iter_ : int
        Epochs run by the last call of ``fit`` (1 after ``partial_fit``).
    t_ : int
        Samples seen over all epochs of all calls (``n_iter_ * n_samples``
        after one ``fit``), the clock of the "invscaling" schedule.
    loss_curve_ : list of float
        Objective of each epoch: the mean data loss over the epoch's batches
        plus the penalty at the end of the epoch. ``partial_fit`` and
        ``warm_start`` append to it.
    best_loss_ : float or None
        Lowest value of ``loss_curve_`` in the last ``fit``; None with
        ``early_stopping``.
    validation_scores_ : list of float or None
        Validation accuracy after each epoch with ``early_stopping``, else
        None.
    best_validation_score_ : float or None
        Best of ``validation_scores_``, the epoch whose weights were kept;
        None without ``early_stopping``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when X has string column
        names."""


def _fill_doc():
    """Put the shared parameter and attribute sections into a class docstring."""

    def fill(cls):
        doc = cls.__doc__.replace("    <sgd_parameters>", _SGD_PARAMETERS_DOC)
        cls.__doc__ = doc.replace("    <sgd_attributes>", _SGD_ATTRIBUTES_DOC)
        return cls

    return fill


class _BaseSGDLinear(ClassifierMixin, BaseEstimator):
    """Linear classifier ``argmax_k coef_[k] @ x + intercept_[k]`` trained by SGD.

    Subclasses choose the loss through ``_loss_kernel``.
    """

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "fit_intercept": ["boolean"],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [
            StrOptions({"auto"}),
            Interval(Real, 0, None, closed="neither"),
        ],
        "learning_rate_scale": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "average": ["boolean", Interval(Integral, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    # These defaults are SoftmaxLinear's, which has no __init__ of its own.
    def __init__(
        self,
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        batch_size=256,
        learning_rate="constant",
        learning_rate_init="auto",
        learning_rate_scale=1.0,
        power_t=0.5,
        average=True,
        momentum=0.9,
        nesterovs_momentum=True,
        max_iter=100,
        tol=1e-2,
        n_iter_no_change=2,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.learning_rate_scale = learning_rate_scale
        self.power_t = power_t
        self.average = average
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    def _loss_kernel(self):
        """Return the ``skcv.losses`` scores kernel and its keyword arguments."""
        raise NotImplementedError

    def _curvature(self):
        """Bound on the loss's second derivative in the scores (for the step)."""
        raise NotImplementedError

    def _set_learning_rate(self, X, offset, sample_weight):
        """Resolve ``learning_rate_init`` into ``learning_rate_init_`` for X."""
        if self.learning_rate_init == "auto":
            step = _auto_learning_rate(
                X,
                offset,
                sample_weight,
                curvature=self._curvature(),
                alpha=self.alpha,
                batch_size=200 if self.batch_size == "auto" else self.batch_size,
            )
            self.learning_rate_init_ = float(step * self.learning_rate_scale)
        else:
            self.learning_rate_init_ = float(self.learning_rate_init)

    def _sgd_config(self):
        dscores, kwargs = self._loss_kernel()
        params = {
            **self.get_params(),
            "learning_rate_init": self.learning_rate_init_,
        }
        fields = _SGDConfig.__dataclass_fields__.keys() - {"dscores", "dscores_kwargs"}
        return _SGDConfig(
            dscores=dscores,
            dscores_kwargs=kwargs,
            **{name: params[name] for name in fields},
        )

    def _validate_training_data(self, X, y, sample_weight, *, reset):
        X, y = validate_data(self, X, y, dtype=_FLOATS, order="C", reset=reset)
        _check_labels(y, "y")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        return X, y, sample_weight

    def _offset(self, X, sample_weight):
        """What the loop subtracts from the samples: their mean, or None.

        Centring changes nothing but the conditioning (see ``_fit_sgd``).
        The weighted mean makes integer weights act as repeated rows.
        """
        if not self.fit_intercept:
            return None
        if sample_weight is None:
            return X.mean(axis=0, dtype=np.float64).astype(X.dtype)
        return np.average(X, axis=0, weights=sample_weight).astype(X.dtype)

    def _start(self, n_classes, n_features, dtype):
        """Zero weights and a fresh optimizer state."""
        self.coef_ = np.zeros((n_classes, n_features), dtype=dtype)
        self.intercept_ = np.zeros(n_classes, dtype=dtype)
        self._sgd_state = _SGDState.zeros_like(
            self.coef_, self.intercept_, self.learning_rate_init_
        )

    def _train(self, X, y_idx, sample_weight, *, incremental, offset=None):
        """Run the SGD loop on the fitted weights and publish the attributes."""
        # The loop updates C-contiguous arrays of X's dtype in place; weights
        # set or cast by the user since the last call are brought to that form.
        coef = np.require(self.coef_, dtype=X.dtype, requirements=["C", "W"])
        intercept = np.require(self.intercept_, dtype=X.dtype, requirements=["C", "W"])
        state = self._sgd_state
        if state.velocity_coef.dtype != X.dtype:
            state.velocity_coef = state.velocity_coef.astype(X.dtype)
            state.velocity_intercept = state.velocity_intercept.astype(X.dtype)
            for name in ("coef", "intercept", "average_coef", "average_intercept"):
                if getattr(state, name) is not None:
                    setattr(state, name, getattr(state, name).astype(X.dtype))
        try:
            _fit_sgd(
                coef,
                intercept,
                X,
                y_idx,
                sample_weight,
                state=state,
                config=self._sgd_config(),
                rng=self._random_state,
                incremental=incremental,
                offset=self._offset(X, sample_weight) if offset is None else offset,
            )
        finally:
            # Also on divergence: the loop has restored finite weights.
            self.coef_, self.intercept_ = coef, intercept
            self.n_iter_ = state.n_iter
            self.t_ = state.t
            self.loss_curve_ = state.loss_curve
            self.best_loss_ = None if self.early_stopping else state.best_loss
            self.validation_scores_ = state.validation_scores
            self.best_validation_score_ = state.best_validation_score
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minibatch SGD over up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples; float32 input trains in float32.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the data loss becomes their weighted mean.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        # Rejected by a check, the fit leaves the model as it was; failing
        # while training, it keeps the last finished epoch (see Notes).
        with _unchanged_on_error(self):
            X, y_idx, sample_weight, warm = self._check_fit_data(X, y, sample_weight)
        self._random_state = check_random_state(self.random_state)
        offset = self._offset(X, sample_weight)
        self._set_learning_rate(X, offset, sample_weight)
        if warm:
            # A new fit starts with zero velocities and learning_rate_init, as
            # MLPClassifier does; samples seen and the loss curve carry on.
            state = _SGDState.zeros_like(
                self.coef_, self.intercept_, self.learning_rate_init_
            )
            state.t, state.loss_curve = self._sgd_state.t, self._sgd_state.loss_curve
            self._sgd_state = state
        else:
            self._start(len(self.classes_), X.shape[1], X.dtype)
        return self._train(X, y_idx, sample_weight, incremental=False, offset=offset)

    def _check_fit_data(self, X, y, sample_weight):
        """Validate the data of ``fit``; set ``classes_`` once all checks pass."""
        warm = self.warm_start and hasattr(self, "coef_")
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=True
        )
        classes, y_idx = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes; "
                f"got 1 class: {classes.tolist()[0]!r}."
            )
        if sample_weight is not None:
            weighted = np.unique(y_idx[sample_weight > 0])
            if len(weighted) < 2:
                raise ValueError(
                    "sample_weight is positive for samples of only 1 class "
                    f"({classes.tolist()[weighted[0]]!r}); at least 2 classes are "
                    "needed."
                )
        if warm and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start needs y to have the classes of the previous fit; "
                f"previously {self.classes_.tolist()}, now {classes.tolist()}."
            )
        if warm and self.coef_.shape[1] != X.shape[1]:
            raise ValueError(
                f"warm_start needs X to have the {self.coef_.shape[1]} features "
                f"of the previous fit; got {X.shape[1]}."
            )
        self.classes_ = classes
        return X, y_idx, sample_weight, warm

    @_fit_context(prefer_skip_nested_validation=True)
    # Whether rejected or failing while training (which restores the weights
    # of before the call), the call leaves the model as it was.
    @_keeps_state_on_error
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch of minibatch SGD over the given samples.

        The first call starts from zero weights and needs ``classes``; later
        calls continue from the current weights, optimizer state and learning
        rate. ``early_stopping``, ``max_iter``, ``tol`` and
        ``n_iter_no_change`` do not apply.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples.
        y : array-like of shape (n_samples,)
            Class labels, all among ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class that may ever appear in ``y``. Required on the first
            call; if given later it must equal ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the data loss becomes their weighted mean.

        Returns
        -------
        self : object
            The updated classifier.
        """
        first = not hasattr(self, "coef_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, reset=first
        )
        if classes is not None:
            classes = np.asarray(classes)
            _check_labels(classes, "classes")
            classes = np.unique(classes)
            if first and len(classes) < 2:
                raise ValueError(
                    f"classes must hold at least 2 classes; got {classes.tolist()}."
                )
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes.tolist()} differs from the classes of the "
                    f"first call to partial_fit, {self.classes_.tolist()}."
                )
        if first:
            self.classes_ = classes
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels not in classes_ {self.classes_.tolist()}: "
                f"{unknown.tolist()}."
            )
        y_idx = np.searchsorted(self.classes_, y)
        if first:
            self._random_state = check_random_state(self.random_state)
            # The step is set by the first batch and kept: later calls go on
            # with the schedule's rate.
            offset = self._offset(X, sample_weight)
            self._set_learning_rate(X, offset, sample_weight)
            self._start(len(self.classes_), X.shape[1], X.dtype)
        else:
            X = X.astype(self.coef_.dtype, copy=False)
            offset = None
        return self._train(X, y_idx, sample_weight, incremental=True, offset=offset)

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        scores = X @ self.coef_.T
        scores += self.intercept_
        return scores

    def decision_function(self, X):
        """Class scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            With two classes, scikit-learn's binary convention: the score of
            ``classes_[1]`` minus that of ``classes_[0]`` (positive means
            ``classes_[1]``). Otherwise one column per class.
        """
        scores = self._scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """Class of the highest score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels, from ``classes_``.
        """
        scores = self.decision_function(X)
        idx = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(1)
        return self.classes_[idx]


@_fill_doc()
class SoftmaxLinear(_BaseSGDLinear):
    """Softmax (multinomial logistic) linear classifier trained by minibatch SGD.

    Minimises the mean cross-entropy of ``softmax(coef_ @ x + intercept_)``
    plus a penalty on ``coef_``, by minibatch SGD with momentum. One template
    per class; float32 data trains in float32.

    Parameters
    ----------
    <sgd_parameters>

    Attributes
    ----------
    <sgd_attributes>

    See Also
    --------
    HingeLinear : The same model with the multiclass SVM loss.
    sklearn.linear_model.LogisticRegression : The same objective, solved
        exactly (slower on large data).
    sklearn.neural_network.MLPClassifier : Where the parameter names come from.

    Notes
    -----
    With scores ``s_i = W x_i + b`` and weights ``w_i`` (1 by default)::

        objective(W, b) = sum_i w_i * (logsumexp(s_i) - s_i[y_i]) / sum_i w_i
                          + R(W)
        R(W) = alpha * (l1_ratio * ||W||_1 + (1 - l1_ratio) / 2 * ||W||_F^2)

    for ``penalty="elasticnet"`` (``l1_ratio`` is 0 for "l2" and 1 for "l1").
    This is :class:`~sklearn.linear_model.LogisticRegression`'s objective
    divided by ``C * sum_i w_i`` when ``alpha = 1 / (C * sum_i w_i)``.

    Each minibatch of ``m`` samples updates the weights with the gradient of
    its own weighted mean loss (sample weights are first scaled to mean 1)
    plus the smooth part of the penalty; the L1 part is applied as a
    proximal soft-thresholding step, which yields exact zeros.

    A ``fit`` rejected by its checks (another number of features with
    ``warm_start``, say) leaves every fitted attribute as it was, and so does
    a failed ``partial_fit``. If the loss or the weights diverge (see
    :ref:`optimization`), ``fit`` raises a ``ValueError`` and keeps the finite
    weights of the last finished epoch. A
    ``KeyboardInterrupt`` (Ctrl-C) likewise restores the weights of the last
    finished epoch (in ``partial_fit``, those of before the call) and is then
    passed on. :class:`~sklearn.neural_network.MLPClassifier` instead ends
    ``fit`` with a warning; skcv does not, because inside
    :class:`~sklearn.model_selection.GridSearchCV`, ``cross_validate`` or any
    other meta-estimator a swallowed interrupt would be scored as a finished
    fit and the search would carry on.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcv import SoftmaxLinear
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), SoftmaxLinear(tol=1e-3, random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf[-1].n_iter_ < clf[-1].max_iter  # stopped: the loss no longer improved
    True
    >>> clf[-1].coef_.shape
    (10, 64)
    >>> clf.predict_proba(X[:2]).sum(axis=1)
    array([1., 1.])
    """

    def _loss_kernel(self):
        return _KERNELS["softmax"], {}

    def _curvature(self):
        # The Hessian of the cross-entropy in the scores, diag(p) - p p^T, has
        # eigenvalues at most 1/2 (Boehning's bound).
        return 0.5

    def predict_proba(self, X):
        """Class probabilities, the softmax of the scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class in ``classes_``.
        """
        return softmax(self._scores(X), copy=False)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class in ``classes_``.
        """
        return log_softmax(self._scores(X), axis=1)


@_fill_doc()
class HingeLinear(_BaseSGDLinear):
    """Multiclass SVM (hinge loss) linear classifier trained by minibatch SGD.

    Minimises the mean multiclass hinge loss of the scores
    ``coef_ @ x + intercept_`` plus a penalty on ``coef_``, by minibatch SGD
    with momentum. One template per class; float32 data trains in float32.
    There is no ``predict_proba``: the hinge loss does not estimate
    probabilities.

    Parameters
    ----------
    <sgd_parameters>
    multi_class : {"weston_watkins", "crammer_singer"}, default="weston_watkins"
        Sum the hinge over the wrong classes (Weston-Watkins, CS231n's SVM
        loss) or take its maximum (Crammer-Singer).
    delta : float, default=1.0
        Margin by which the true class must outscore the others; positive.
        With an L2 penalty, multiplying ``delta`` by c gives the solution for
        ``alpha * c``, times c: ``delta`` can stay at 1 while ``alpha`` is
        tuned.

    Attributes
    ----------
    <sgd_attributes>

    See Also
    --------
    SoftmaxLinear : The same model with the cross-entropy loss.
    sklearn.svm.LinearSVC : Solves the Crammer-Singer problem exactly.
    sklearn.linear_model.SGDClassifier : One-vs-rest binary hinge models.

    Notes
    -----
    With scores ``s_i = W x_i + b`` and weights ``w_i`` (1 by default)::

        objective(W, b) = sum_i w_i * l_i / sum_i w_i + R(W)
        weston_watkins: l_i = sum_{j != y_i} max(0, s_ij - s_i[y_i] + delta)
        crammer_singer: l_i = max(0, max_{j != y_i} s_ij - s_i[y_i] + delta)

    with ``R`` as in :class:`SoftmaxLinear`. With ``delta=1``,
    ``penalty="l2"``, no intercept and ``alpha = 1 / (C * n_samples)``, the
    Crammer-Singer objective is that of
    ``LinearSVC(multi_class="crammer_singer", C=C)`` divided by ``C * n``.
    Training, divergence and interruption behave as in :class:`SoftmaxLinear`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skcv import HingeLinear
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), HingeLinear(random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf.decision_function(X[:2]).shape
    (2, 10)
    >>> hasattr(clf, "predict_proba")
    False
    """

    _parameter_constraints: dict = {
        **_BaseSGDLinear._parameter_constraints,
        "multi_class": [StrOptions({"weston_watkins", "crammer_singer"})],
        # From zero weights a margin of 0 gives zero subgradients: SGD would
        # never move.
        "delta": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        batch_size=256,
        learning_rate="constant",
        learning_rate_init="auto",
        learning_rate_scale=1.0,
        power_t=0.5,
        average=True,
        momentum=0.9,
        nesterovs_momentum=True,
        max_iter=100,
        tol=1e-2,
        n_iter_no_change=2,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
        multi_class="weston_watkins",
        delta=1.0,
    ):
        super().__init__(
            penalty=penalty,
            alpha=alpha,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            learning_rate_scale=learning_rate_scale,
            power_t=power_t,
            average=average,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
        )
        self.multi_class = multi_class
        self.delta = delta

    def _loss_kernel(self):
        return _KERNELS[self.multi_class], {"delta": float(self.delta)}

    def _curvature(self):
        # Piecewise linear: no curvature to bound. 1 / delta gives the step
        # of a squared loss, and scales it with the margin, the scale of the
        # solution (see ``delta``).
        return 1.0 / self.delta
