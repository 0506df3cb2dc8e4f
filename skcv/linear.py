"""Linear classifiers trained by minibatch SGD: softmax and multiclass SVM.

Both score a sample ``x`` for class ``k`` as ``s_k = coef_[k] @ x +
intercept_[k]`` (one template per class) and predict the class of the
highest score. They differ only in the loss of ``skcv.losses`` that the
shared training loop of ``skcv._sgd`` minimises.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._minibatch import _MinibatchClassifier
from ._optim import _make_optimizer
from ._sgd import _SGDState, _Trainable
from .losses import _KERNELS, _loss_and_grad, _penalty_split

__all__ = ["HingeLinear", "SoftmaxLinear"]

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
        falls below 1e-6.
    learning_rate_init : float, default=<learning_rate_init>
        Initial step size.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    momentum : float, default=0.9
        Momentum of the updates, in ``[0, 1]`` (``solver="sgd"``).
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum (``solver="sgd"``).
    solver : {"sgd", "adam"}, default="sgd"
        Update rule: SGD with momentum, or Adam (with ``beta_1=0.9``,
        ``beta_2=0.999``, ``epsilon=1e-8``; a ``learning_rate_init`` near
        0.001 suits it).
    max_iter : int, default=100
        Maximum number of epochs (passes over the data) of ``fit``.
    tol : float, default=1e-4
        Improvement of the loss (or validation score) below which an epoch
        counts as no improvement.
    n_iter_no_change : int, default=10
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
    intercept_ : ndarray of shape (n_classes,)
        One intercept per class.
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
    train_scores_ : list of float or None
        With ``early_stopping``, the accuracy after each epoch on as many
        evenly spaced training rows as there are validation rows, to draw
        beside ``validation_scores_``; else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_``, the epoch whose weights were kept;
        None without ``early_stopping``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when X has string column
        names."""


def _fill_doc(*, learning_rate_init):
    """Put the shared parameter and attribute sections into a class docstring."""

    def fill(cls):
        doc = cls.__doc__.replace("    <sgd_parameters>", _SGD_PARAMETERS_DOC)
        doc = doc.replace("    <sgd_attributes>", _SGD_ATTRIBUTES_DOC)
        cls.__doc__ = doc.replace("<learning_rate_init>", str(learning_rate_init))
        return cls

    return fill


class _LinearModel(_Trainable):
    """A linear model's weights and one batch's loss, for the training loop."""

    def __init__(
        self,
        coef,
        intercept,
        *,
        kernel,
        kernel_kwargs,
        penalty,
        alpha,
        l1_ratio,
        fit_intercept,
    ):
        self.coef, self.intercept = coef, intercept
        self.fit_intercept = fit_intercept
        self.params = [coef, intercept] if fit_intercept else [coef]
        self.grads = [np.empty_like(p) for p in self.params]
        self.dtype = coef.dtype
        self.kernel, self.kernel_kwargs = kernel, kernel_kwargs
        self.n_classes = coef.shape[0]
        self.l1, l2 = _penalty_split(penalty, alpha, l1_ratio)
        self.l2 = [l2, 0.0][: len(self.params)]
        self.scratch = np.empty_like(coef)

    def start(self, batch_size, rng):
        # Class-major scores of a batch of m samples are the first
        # n_classes * m numbers, so that a short last batch is contiguous too.
        self.S = np.empty(self.coef.shape[0] * batch_size, self.dtype)

    def loss_and_grad(self, X, y, coef):
        m = X.shape[0]
        return _loss_and_grad(
            self.kernel,
            self.coef,
            self.intercept if self.fit_intercept else None,
            X,
            y,
            coef,
            self.S[: self.coef.shape[0] * m].reshape(-1, m),
            self.grads[0],
            self.grads[1] if self.fit_intercept else None,
            **self.kernel_kwargs,
        )

    def after_update(self, optimizer):
        if self.l1:
            _l1_proximal_step(
                self.coef,
                optimizer,
                self.scratch,
                self.dtype.type(optimizer.learning_rate * self.l1),
            )

    def penalty(self):
        value = 0.0
        if self.l2[0]:
            value += 0.5 * self.l2[0] * float(np.vdot(self.coef, self.coef))
        if self.l1:
            value += self.l1 * float(np.abs(self.coef).sum(dtype=np.float64))
        return value

    def score(self, X, y, sample_weight):
        scores = X @ self.coef.T
        scores += self.intercept
        hit = scores.argmax(axis=1) == y
        return float(np.average(hit, weights=sample_weight))


def _l1_proximal_step(coef, optimizer, scratch, step):
    """Soft-threshold ``coef`` in place: the proximal step of ``step * ||W||_1``.

    Unlike the subgradient, it reaches exact zeros and does not oscillate
    around them. It is written as ``w - clip(w, -thr, thr)``.

    With momentum the velocity follows the actual move, thresholding
    included (as in the iPiano method), or it would keep pushing zeroed
    weights away from 0. Nesterov's update moves by ``(1 + momentum) * lr``
    times the current gradient, so its threshold is scaled alike (and the
    velocity, which carries ``lr`` times the gradient, by the inverse); then
    the fixed points of the iteration are exactly the minimisers of the
    objective.
    """
    momentum = getattr(optimizer, "momentum", 0.0)
    scale = 1 + momentum if getattr(optimizer, "nesterov", False) else 1
    thr = step * scale
    np.clip(coef, -thr, thr, out=scratch)
    coef -= scratch
    if momentum:
        if scale != 1:
            scratch *= 1 / scale
        optimizer.velocities[0] -= scratch


class _BaseSGDLinear(_MinibatchClassifier):
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
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "solver": [StrOptions({"sgd", "adam"})],
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
    # HingeLinear starts with smaller steps: its subgradients jump at the
    # kinks and, for Weston-Watkins, add up over the wrong classes.
    def __init__(
        self,
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        fit_intercept=True,
        batch_size=256,
        learning_rate="constant",
        learning_rate_init=0.03,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        solver="sgd",
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=10,
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
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.solver = solver
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

    def _model(self, coef, intercept):
        kernel, kwargs = self._loss_kernel()
        return _LinearModel(
            coef,
            intercept,
            kernel=kernel,
            kernel_kwargs=kwargs,
            penalty=self.penalty,
            alpha=self.alpha,
            l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
        )

    def _new_state(self):
        """A fresh optimizer at ``learning_rate_init``."""
        params = self._model(self.coef_, self.intercept_).params
        if self.solver == "adam":
            optimizer = _make_optimizer("adam", params, self.learning_rate_init)
        else:
            optimizer = _make_optimizer(
                "sgd",
                params,
                self.learning_rate_init,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
            )
        return _SGDState(optimizer=optimizer)

    def _initialise(self, X, sample_weight):
        """Zero weights and a fresh optimizer state."""
        self.coef_ = np.zeros((len(self.classes_), X.shape[1]), dtype=X.dtype)
        self.intercept_ = np.zeros(len(self.classes_), dtype=X.dtype)
        self._sgd_state = self._new_state()

    def _check_warm_start(self, X):
        if self.coef_.shape[1] != X.shape[1]:
            raise ValueError(
                f"warm_start needs X to have the {self.coef_.shape[1]} features "
                f"of the previous fit; got {X.shape[1]}."
            )

    def _trainable(self, dtype):
        # The loop updates C-contiguous arrays of X's dtype in place; weights
        # set or cast by the user since the last call are brought to that form.
        coef = np.require(self.coef_, dtype=dtype, requirements=["C", "W"])
        intercept = np.require(self.intercept_, dtype=dtype, requirements=["C", "W"])
        optimizer = self._sgd_state.optimizer
        if any(a.dtype != dtype for a in optimizer.state_arrays()):
            optimizer.astype(dtype)
        return self._model(coef, intercept)

    def _publish(self, model):
        self.coef_, self.intercept_ = model.coef, model.intercept

    def _training_dtype(self):
        return self.coef_.dtype

    def _raw_scores(self, X):
        scores = X @ self.coef_.T
        scores += self.intercept_
        return scores


@_fill_doc(learning_rate_init=0.03)
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

    If the loss or the weights overflow, ``fit`` raises a ``ValueError`` and
    keeps the finite weights of the last finished epoch. A
    ``KeyboardInterrupt`` stops training with a warning, likewise keeping the
    weights of the last finished epoch; in ``partial_fit``, which runs inside
    the caller's loop, the weights of before the call are restored and the
    interrupt is passed on.

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

    def _has_proba(self):
        return True


@_fill_doc(learning_rate_init=0.01)
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
        learning_rate_init=0.01,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        solver="sgd",
        max_iter=100,
        tol=1e-4,
        n_iter_no_change=10,
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
            power_t=power_t,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            solver=solver,
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
