"""Linear classifiers trained by minibatch SGD: softmax and multiclass SVM.

Both score a sample ``x`` for class ``k`` as ``s_k = coef_[k] @ x +
intercept_[k]`` (one template per class) and predict the class of the
highest score. They differ only in the loss of ``skcv.losses`` that the
training loop of ``skcv._loop``, shared with ``skcv.neural_network``,
minimises.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from ._loop import _SGDConfig, _SGDState, _Trainable
from ._minibatch import _MinibatchClassifier
from ._optim import _AdamOptimizer, _auto_learning_rate, _make_optimizer, _SGDOptimizer
from .losses import _KERNELS, _loss_and_grad, _penalty_split

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
    solver : {"sgd", "adam"}, default="sgd"
        Update rule: SGD with ``momentum``, or Adam (as in
        :class:`~sklearn.neural_network.MLPClassifier`, with ``beta_1=0.9``,
        ``beta_2=0.999``, ``epsilon=1e-8``; ``momentum`` and
        ``nesterovs_momentum`` are then unused). Both train through the same
        loop as :class:`~skcv.NeuralNet`.
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
        ``learning_rate_init_``. With ``solver="adam"``, whose steps do not
        scale with the gradient, "auto" means 0.001.
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
    train_scores_ : list of float or None
        With ``early_stopping``, the accuracy after each epoch on a sample of
        the training part as large as the validation set; else None.
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
        "solver": [StrOptions({"sgd", "adam"})],
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
        solver="sgd",
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
        self.solver = solver
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

    # The stopping rule waits for this many updates of a fit (see
    # ``_SGDConfig.min_updates`` and docs/optimization.rst).
    _min_updates = 1000

    def _loss_kernel(self):
        """Return the ``skcv.losses`` scores kernel and its keyword arguments."""
        raise NotImplementedError

    def _curvature(self):
        """Bound on the loss's second derivative in the scores (for the step)."""
        raise NotImplementedError

    def _set_learning_rate(self, X, offset, sample_weight):
        """Resolve ``learning_rate_init`` into ``learning_rate_init_`` for X.

        The automatic step is that of the weights; with centred features the
        intercept has a curvature of its own, the loss's, and its gradient
        is scaled by ``_intercept_factor`` so that it takes its own step,
        ``1 / curvature``, whatever the pixels' scale. Were the intercept
        part of the weights' bound, its curvature would cap their step
        (pixels in [0, 1/16] learned 40 times slower than 0-16 ones); were
        its step capped by theirs, it would hardly move on 0-255 pixels
        (MNIST: 0.921 test accuracy instead of 0.924).
        """
        self._intercept_factor = 1.0
        if self.learning_rate_init == "auto" and self.solver == "adam":
            self.learning_rate_init_ = float(1e-3 * self.learning_rate_scale)
        elif self.learning_rate_init == "auto":
            step = _auto_learning_rate(
                X,
                offset,
                sample_weight,
                curvature=self._curvature(),
                alpha=self.alpha,
                batch_size=200 if self.batch_size == "auto" else self.batch_size,
                intercept=False,
            )
            self.learning_rate_init_ = float(step * self.learning_rate_scale)
            if offset is not None:
                self._intercept_factor = 1.0 / (self._curvature() * step)
        else:
            self.learning_rate_init_ = float(self.learning_rate_init)

    def _loop_config(self):
        return _SGDConfig.from_params(
            self.get_params(),
            learning_rate_init=self.learning_rate_init_,
            average=int(self.average),
            # "adaptive" stops 4 decades below the initial step, whatever the
            # scale of the automatic one.
            min_learning_rate=self.learning_rate_init_ * 1e-4,
            min_updates=self._min_updates,
        )

    def _offset(self, X, sample_weight):
        """What the loop subtracts from the samples: their mean, or None.

        Centring changes nothing but the conditioning (see ``_Linear``).
        The weighted mean makes integer weights act as repeated rows.
        """
        if not self.fit_intercept:
            return None
        if sample_weight is None:
            return X.mean(axis=0, dtype=np.float64).astype(X.dtype)
        return np.average(X, axis=0, weights=sample_weight).astype(X.dtype)

    def _prepare_fit(self, X, sample_weight):
        # The step of a new fit (or of the first partial_fit, kept by the
        # later calls) comes from its data, centred as the loop sees them.
        self._fit_offset = self._offset(X, sample_weight)
        self._set_learning_rate(X, self._fit_offset, sample_weight)

    def _new_state(self):
        """A fresh optimizer at ``learning_rate_init_`` for the weights."""
        params = [self.coef_, self.intercept_]
        if self.solver == "adam":
            optimizer = _make_optimizer("adam", params, self.learning_rate_init_)
        else:
            optimizer = _make_optimizer(
                "sgd",
                params,
                self.learning_rate_init_,
                momentum=self.momentum,
                nesterov=self.nesterovs_momentum,
            )
        return _SGDState(optimizer=optimizer)

    def _initialise(self, X, sample_weight):
        """Zero weights and a fresh optimizer state."""
        n_classes = len(self.classes_)
        self.coef_ = np.zeros((n_classes, X.shape[1]), dtype=X.dtype)
        self.intercept_ = np.zeros(n_classes, dtype=X.dtype)
        self._sgd_state = self._new_state()

    def _check_warm_start(self, X):
        if self.coef_.shape[1] != X.shape[1]:
            raise ValueError(
                f"warm_start needs X to have the {self.coef_.shape[1]} features "
                f"of the previous fit; got {X.shape[1]}."
            )

    def _training_dtype(self):
        return self.coef_.dtype

    def _trainable(self, X, sample_weight):
        # The loop updates C-contiguous arrays of X's dtype in place; weights
        # set or cast by the user since the last call are brought to that form.
        dtype = X.dtype
        self.coef_ = np.require(self.coef_, dtype=dtype, requirements=["C", "W"])
        self.intercept_ = np.require(
            self.intercept_, dtype=dtype, requirements=["C", "W"]
        )
        state = self._sgd_state
        optimizer = state.optimizer
        if any(a.dtype != dtype for a in optimizer.state_arrays()):
            optimizer.astype(dtype)
        if state.average is not None and state.average[0].dtype != dtype:
            state.average = [a.astype(dtype) for a in state.average]
            state.iterate = [a.astype(dtype) for a in state.iterate]
        # A fit centres on the mean of all its data; each later partial_fit
        # call on the mean of its own batch.
        offset = getattr(self, "_fit_offset", None)
        if offset is None:
            offset = self._offset(X, sample_weight)
        self._fit_offset = None
        if self.average:
            # The loop runs on the SGD iterate kept in the state; coef_ and
            # intercept_ receive the average.
            if state.average is None:
                state.iterate = [self.coef_.copy(), self.intercept_.copy()]
            coef, intercept = state.iterate
        else:
            coef, intercept = self.coef_, self.intercept_
        kernel, kwargs = self._loss_kernel()
        model = _Linear(
            coef,
            intercept,
            kernel,
            kwargs,
            penalty=self.penalty,
            alpha=self.alpha,
            l1_ratio=self.l1_ratio,
            fit_intercept=self.fit_intercept,
            offset=offset,
            intercept_factor=getattr(self, "_intercept_factor", 1.0),
        )
        model.centre(state, +1)
        return model

    def _publish(self, model):
        state = self._sgd_state
        pairs = []
        published = state.published
        if published is None and self.average:
            published = model.params
        if published is not None:
            np.copyto(self.coef_, published[0])
            np.copyto(self.intercept_, published[1])
            pairs.append((self.coef_, self.intercept_))
        model.centre(state, -1, extra=pairs)
        state.published = None

    def _raw_scores(self, X):
        scores = X @ self.coef_.T
        scores += self.intercept_
        return scores


class _Linear(_Trainable):
    """The linear model ``W x + b`` on one loss of ``skcv.losses``, for the loop.

    With an ``offset`` (the feature means, with ``fit_intercept``), the loop
    sees ``x - offset``: scores ``W (x - offset) + c`` are those of ``W x +
    b`` with ``c = b + W offset``, and the penalty does not see the
    intercept, so the objective and its minimisers are the same, but centred
    features take the large eigenvalue of the mean (e.g. of raw pixels) out
    of the curvature, and SGD converges much faster. :meth:`centre` moves
    the weights (and the optimizer's velocities and the average, which move
    like them) into the coordinates of ``c`` and back.
    """

    blas_threads = 1

    def __init__(
        self,
        coef,
        intercept,
        kernel,
        kernel_kwargs,
        *,
        penalty,
        alpha,
        l1_ratio,
        fit_intercept,
        offset,
        intercept_factor=1.0,
    ):
        self.params = [coef, intercept]
        self.grads = [np.empty_like(coef), np.zeros_like(intercept)]
        self.dtype = coef.dtype
        self.n_classes = coef.shape[0]
        self.kernel, self.kernel_kwargs = kernel, kernel_kwargs
        self.fit_intercept = fit_intercept
        # The penalty's value in float64, its L1 step in the weights' dtype.
        self.l1_value, self.l2_value = _penalty_split(penalty, alpha, l1_ratio)
        self.l1 = self.dtype.type(self.l1_value)
        self.l2 = [self.l2_value, 0.0]
        self.offset = None if offset is None else np.asarray(offset, self.dtype)
        # A diagonal preconditioner: the intercept's gradient is scaled by it
        # (it then takes its own step, not the weights'); the minimisers stay
        # those of the objective.
        self.intercept_factor = self.dtype.type(intercept_factor)

    def centre(self, state, sign, extra=()):
        """Move every (weights, intercept) pair by ``sign * W @ offset``."""
        if self.offset is None:
            return
        pairs = [tuple(self.params)]
        moments = self.first_moments(state.optimizer)
        if moments[0] is not None:
            pairs.append(tuple(moments))
        if state.average is not None:
            pairs.append(tuple(state.average))
        for w, b in [*pairs, *extra]:
            if sign > 0:
                b += w @ self.offset
            else:
                b -= w @ self.offset

    def first_moments(self, optimizer):
        if isinstance(optimizer, _SGDOptimizer):
            return optimizer.velocities
        if isinstance(optimizer, _AdamOptimizer):
            return optimizer.ms
        return [None, None]

    def start(self, batch_size, rng):
        n_features = self.params[0].shape[1]
        self.scores = np.empty(self.n_classes * batch_size, self.dtype)
        self.scratch = np.empty_like(self.params[0])
        # Without shuffling the loop gathers nothing: batches are centred here.
        self.X = None
        if self.offset is not None:
            self.X = np.empty((batch_size, n_features), self.dtype)

    def gather(self, X, idx, out):
        if isinstance(idx, slice):
            Xb = X[idx]
            if self.offset is not None:
                Xb = np.subtract(Xb, self.offset, out=self.X[: Xb.shape[0]])
            return Xb
        Xb = np.take(X, idx, axis=0, out=out[: len(idx)], mode="clip")
        if self.offset is not None:
            Xb -= self.offset
        return Xb

    def loss_and_grad(self, X, y, coef):
        m = X.shape[0]
        W, b = self.params
        dW, db = self.grads
        loss = _loss_and_grad(
            self.kernel,
            W,
            b if self.fit_intercept else None,
            X,
            y,
            coef,
            self.scores[: self.n_classes * m].reshape(-1, m),
            dW,
            db if self.fit_intercept else None,
            **self.kernel_kwargs,
        )
        if self.fit_intercept and self.intercept_factor != 1:
            db *= self.intercept_factor
        return loss

    def after_update(self, optimizer):
        """Soft-threshold ``W``: the proximal step of ``lr * l1 * ||W||_1``.

        Unlike the subgradient, it reaches exact zeros and does not oscillate
        around them. It is written as ``w - clip(w, -thr, thr)``.

        With momentum the velocity follows the actual move, thresholding
        included (as in the iPiano method), or it would keep pushing zeroed
        weights away from 0. Nesterov's update moves by ``(1 + momentum) *
        lr`` times the current gradient, so its threshold is scaled alike
        (and the velocity, which carries ``lr`` times the gradient, by the
        inverse); then the fixed points of the iteration are exactly the
        minimisers of the objective.
        """
        if not self.l1:
            return
        coef, scratch = self.params[0], self.scratch
        if isinstance(optimizer, _AdamOptimizer):
            # Adam's step on a weight is lr / sqrt(v) times its gradient (with
            # v bias-corrected): the threshold is scaled alike, per weight.
            # The constant one would let its steps of about lr shake the
            # zeroed weights for ever.
            t = optimizer.t
            v = optimizer.vs[0]
            thr = np.sqrt(v, out=scratch)
            thr += self.dtype.type(optimizer.epsilon)
            np.divide(
                self.dtype.type(
                    optimizer.learning_rate * np.sqrt(1 - optimizer.beta_2**t)
                )
                * self.l1,
                thr,
                out=thr,
            )
            np.clip(coef, -thr, thr, out=thr)
            coef -= thr
            return
        sgd = isinstance(optimizer, _SGDOptimizer)
        momentum = optimizer.momentum if sgd else 0.0
        scale = 1 + momentum if sgd and optimizer.nesterov else 1
        thr = optimizer.learning_rate * self.l1 * scale
        np.clip(coef, -thr, thr, out=scratch)
        coef -= scratch
        if momentum:
            if scale != 1:
                scratch *= 1 / scale
            optimizer.velocities[0] -= scratch

    def penalty(self):
        coef = self.params[0]
        value = 0.0
        if self.l2_value:
            value += 0.5 * self.l2_value * float(np.vdot(coef, coef))
        if self.l1_value:
            value += self.l1_value * float(np.abs(coef).sum(dtype=np.float64))
        return value

    def score(self, X, y, sample_weight):
        if self.offset is not None:
            X = X - self.offset
        W, b = self.params
        scores = X @ W.T
        scores += b
        hit = scores.argmax(axis=1) == y
        return float(np.average(hit, weights=sample_weight))


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
    >>> clf = make_pipeline(StandardScaler(), SoftmaxLinear(random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf[-1].n_iter_  # 8 updates an epoch: max_iter comes before 1,000 updates
    100
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

    def _has_proba(self):
        return True


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
        solver="sgd",
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
            solver=solver,
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
