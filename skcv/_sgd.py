"""The minibatch SGD loop shared by the linear classifiers of ``skcv.linear``.

One function, :func:`_fit_sgd`, trains the weights ``coef`` (n_classes,
n_features) and ``intercept`` (n_classes,) of a linear model in place, on
any of the losses of ``skcv.losses``. What survives from one call to the
next (velocities, learning rate, samples seen, loss curve, stopping counters)
lives in an :class:`_SGDState` that the estimator keeps.

Speed: X is never copied per epoch. One permutation of the row indices is
drawn per epoch and each batch is gathered with ``np.take(..., out=buffer)``
into a preallocated buffer; scores, gradients and updates are written into
buffers as well, so an epoch allocates almost nothing.
"""

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._threadpool import _blas_threads_limited
from ._validation import _sentence
from .losses import _loss_and_grad, _penalty_split


@dataclass(frozen=True)
class _SGDConfig:
    """Hyper-parameters of one call, resolved from the estimator's parameters."""

    dscores: Any
    dscores_kwargs: dict
    penalty: Any
    alpha: float
    l1_ratio: float
    fit_intercept: bool
    batch_size: Any
    learning_rate: str
    learning_rate_init: float
    power_t: float
    average: int
    momentum: float
    nesterovs_momentum: bool
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    validation_fraction: float
    shuffle: bool
    verbose: int


@dataclass
class _SGDState:
    """Everything SGD carries across epochs and across ``partial_fit`` calls."""

    velocity_coef: np.ndarray
    velocity_intercept: np.ndarray
    learning_rate: float
    t: int = 0
    n_iter: int = 0
    loss_curve: list = field(default_factory=list)
    best_loss: float = np.inf
    validation_scores: list | None = None
    best_validation_score: float | None = None
    no_improvement_count: int = 0
    # With averaging: the SGD iterate, which the published weights (the
    # average) are not, and the running average of the iterates.
    coef: np.ndarray | None = None
    intercept: np.ndarray | None = None
    average_coef: np.ndarray | None = None
    average_intercept: np.ndarray | None = None
    n_averaged: int = 0

    @classmethod
    def zeros_like(cls, coef, intercept, learning_rate):
        return cls(
            velocity_coef=np.zeros_like(coef),
            velocity_intercept=np.zeros_like(intercept),
            learning_rate=float(learning_rate),
        )


class _Buffers:
    """Preallocated arrays of one call: batch, scores, gradients, scratch.

    The class-major scores of a batch of m samples are the first
    ``n_classes * m`` numbers of ``scores``, so that a short last batch is
    contiguous too.
    """

    def __init__(self, batch_size, coef, *, gather, centre=False):
        n_classes, n_features = coef.shape
        dtype = coef.dtype
        self.X = np.empty((batch_size, n_features), dtype) if gather or centre else None
        self.y = np.empty(batch_size, np.intp) if gather else None
        self.weight = np.empty(batch_size, dtype)
        self.scores = np.empty(n_classes * batch_size, dtype)
        self.grad_coef = np.empty_like(coef)
        self.grad_intercept = np.empty(n_classes, dtype)
        self.scratch_coef = np.empty_like(coef)
        self.scratch_intercept = np.empty(n_classes, dtype)


def _top_eigenvalue(
    X, offset, sample_weight=None, *, n_rows=2048, max_iter=100, rtol=1e-4
):
    """Largest eigenvalue of ``Z.T @ diag(w) @ Z / sum(w)``, Z = ``[X - offset, 1]``.

    With ``offset=None``, Z is X itself (no intercept); ``w`` are the sample
    weights (1 by default). Power iteration on at most ``n_rows`` rows taken
    at a fixed stride, from a fixed random start: deterministic, and a few
    milliseconds.
    """
    # At most 2**24 numbers (128 MiB) for very wide images, and 64 rows.
    n_rows = min(n_rows, max(64, 2**24 // max(1, X.shape[1])))
    stride = max(1, -(-X.shape[0] // n_rows))
    Z = np.array(X[::stride], dtype=np.float64)
    w8 = None
    if sample_weight is not None:
        w8 = np.asarray(sample_weight[::stride], dtype=np.float64)
        w8 = w8 / w8.sum() if w8.sum() > 0 else None
    if offset is not None:
        Z -= offset
        Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    v = np.random.default_rng(0).standard_normal(Z.shape[1])
    v /= np.linalg.norm(v)
    value = 0.0
    for _ in range(max_iter):
        u = Z @ v
        if w8 is None:
            u /= Z.shape[0]
        else:
            u *= w8
        w = Z.T @ u
        new = float(np.linalg.norm(w))
        if new == 0.0:
            return 0.0
        v = w / new
        done = abs(new - value) <= rtol * new
        value = new
        if done:
            break
    return value


def _auto_learning_rate(X, offset, sample_weight=None, *, curvature, alpha, batch_size):
    """The step size of ``learning_rate_init="auto"``: ``1 / L``.

    ``L`` bounds the curvature that a step on a minibatch of ``batch_size``
    samples sees (Gower et al., 2019, "SGD: general analysis and improved
    rates"): the largest eigenvalue of the second-moment matrix of the rows
    as the loop sees them (``X - offset``, plus a column of ones for the
    intercept when ``offset`` is given), which is the curvature of the full
    objective, plus the mean squared row norm times ``(n - m) / (m (n -
    1))`` for batches of m out of n samples, the share of a single batch's
    noise (none for the full batch); times ``curvature``, the loss's own
    second derivative in the scores; plus ``alpha``. The mean squared norm
    stands in for the maximum that SAG uses, which a single outlier row
    (e.g. standardised pixels that are almost always 0) can blow up a
    thousandfold. With heavy-ball momentum ``mu``, steps up to ``2 (1 + mu)
    / L`` are stable on a quadratic. Means are weighted by ``sample_weight``
    and ``offset`` must be the (weighted) mean of the rows, or None.
    """
    n_samples = X.shape[0]
    m = min(batch_size, n_samples)
    if sample_weight is None:
        # BLAS's dot product: no float64 copy of X; its rounding is far below
        # what a step size needs.
        sq_norm = float(np.vdot(X, X)) / n_samples
    else:
        row_norms = np.einsum("ij,ij->i", X, X)
        sq_norm = float(np.average(row_norms, weights=sample_weight))
    if offset is not None:
        # mean ||x - offset||^2 for the mean as offset, plus the ones column
        sq_norm += 1.0 - float(np.dot(offset, offset))
        sq_norm = max(sq_norm, 1.0)
    noise = sq_norm * (n_samples - m) / (m * (n_samples - 1)) if n_samples > 1 else 0
    L = curvature * (_top_eigenvalue(X, offset, sample_weight) + noise) + alpha
    if not (np.isfinite(L) and L > 0):
        # All-zero data without intercept and without penalty: no curvature.
        return 1.0
    return 1.0 / L


def _update(param, velocity, grad, scratch, lr, momentum, nesterov):
    """One in-place SGD step with (Nesterov) momentum, as MLPClassifier takes it.

    ``v <- momentum * v - lr * g``, then ``param += v`` or, with Nesterov,
    ``param += momentum * v - lr * g``. ``grad`` is overwritten.
    """
    grad *= lr
    if momentum == 0:
        param -= grad
        return
    velocity *= momentum
    velocity -= grad
    if nesterov:
        param -= grad
        np.multiply(velocity, momentum, out=scratch)
        param += scratch
    else:
        param += velocity


def _l1_proximal_step(coef, velocity, scratch, step, config):
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
    momentum = config.momentum
    scale = 1 + momentum if config.nesterovs_momentum else 1
    thr = step * scale
    np.clip(coef, -thr, thr, out=scratch)
    coef -= scratch
    if momentum:
        if scale != 1:
            scratch *= 1 / scale
        velocity -= scratch


def _batch_step(coef, intercept, Xb, yb, weight, state, config, buf, l1, l2):
    """Loss and gradient on one batch, then one update; returns the batch loss.

    ``weight`` is the coefficient of each sample's loss in the batch loss (a
    scalar ``1 / m``, or the normalised sample weights divided by ``m``).
    """
    m = Xb.shape[0]
    n_classes = coef.shape[0]
    fit_intercept = config.fit_intercept
    loss = _loss_and_grad(
        config.dscores,
        coef,
        intercept if fit_intercept else None,
        Xb,
        yb,
        weight,
        buf.scores[: n_classes * m].reshape(-1, m),
        buf.grad_coef,
        buf.grad_intercept if fit_intercept else None,
        **config.dscores_kwargs,
    )
    lr = state.learning_rate
    if l2:
        np.multiply(coef, l2, out=buf.scratch_coef)
        buf.grad_coef += buf.scratch_coef
    momentum, nesterov = config.momentum, config.nesterovs_momentum
    _update(
        coef,
        state.velocity_coef,
        buf.grad_coef,
        buf.scratch_coef,
        lr,
        momentum,
        nesterov,
    )
    if fit_intercept:
        _update(
            intercept,
            state.velocity_intercept,
            buf.grad_intercept,
            buf.scratch_intercept,
            lr,
            momentum,
            nesterov,
        )
    if l1:
        _l1_proximal_step(coef, state.velocity_coef, buf.scratch_coef, lr * l1, config)
    return loss


def _accumulate_average(state, coef, intercept, scratch):
    """Fold the current iterate into the running mean of the iterates."""
    state.n_averaged += 1
    frac = coef.dtype.type(1 / state.n_averaged)
    for avg, param, buffer in (
        (state.average_coef, coef, scratch[0]),
        (state.average_intercept, intercept, scratch[1]),
    ):
        np.subtract(param, avg, out=buffer)
        buffer *= frac
        avg += buffer


def _run_epoch(
    coef, intercept, X, y, weight, state, config, buf, rng, batch_size, offset
):
    """One pass over the data; returns the mean (weighted) data loss.

    ``offset`` (or None) is subtracted from every batch, in its buffer.
    """
    n_samples = X.shape[0]
    l1, l2 = _penalty_split(config.penalty, config.alpha, config.l1_ratio)
    l1 = coef.dtype.type(l1)
    l2 = coef.dtype.type(l2)
    order = rng.permutation(n_samples) if config.shuffle else None
    total = 0.0
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        m = stop - start
        if order is None:
            Xb, yb = X[start:stop], y[start:stop]
            batch_weight = None if weight is None else weight[start:stop]
            if offset is not None:
                Xb = np.subtract(Xb, offset, out=buf.X[:m])
        else:
            # Sorted indices read X front to back, which the hardware prefetcher
            # likes; the order inside a batch does not change its gradient.
            idx = np.sort(order[start:stop])
            # mode="clip" lets take write straight into the buffer (the
            # default mode buffers); the indices are valid anyway.
            Xb = np.take(X, idx, axis=0, out=buf.X[:m], mode="clip")
            yb = np.take(y, idx, out=buf.y[:m], mode="clip")
            batch_weight = (
                None
                if weight is None
                else np.take(weight, idx, out=buf.weight[:m], mode="clip")
            )
            if offset is not None:
                Xb -= offset
        if batch_weight is None:
            coef_m = coef.dtype.type(1 / m)
        else:
            coef_m = np.multiply(batch_weight, 1 / m, out=buf.weight[:m])
        loss = _batch_step(coef, intercept, Xb, yb, coef_m, state, config, buf, l1, l2)
        total += loss * m
        if config.average and state.t + stop >= config.average:
            _accumulate_average(
                state, coef, intercept, (buf.scratch_coef, buf.scratch_intercept)
            )
    return total / n_samples


def _penalty_value(coef, config):
    l1, l2 = _penalty_split(config.penalty, config.alpha, config.l1_ratio)
    value = 0.0
    if l2:
        value += 0.5 * l2 * float(np.vdot(coef, coef))
    if l1:
        value += l1 * float(np.abs(coef).sum(dtype=np.float64))
    return value


def _accuracy(coef, intercept, X, y, weight):
    """(Weighted) accuracy of the linear model on class indices ``y``."""
    scores = X @ coef.T
    scores += intercept
    hit = scores.argmax(axis=1) == y
    return float(np.average(hit, weights=weight))


def _split_validation(X, y, weight, config, rng):
    """Stratified train/validation split for early stopping."""
    arrays = (X, y) if weight is None else (X, y, weight)
    # At least one validation sample per class, which small data sets with
    # the default fraction would not reach.
    n_classes = np.bincount(y).astype(bool).sum()
    n_val = max(int(np.ceil(config.validation_fraction * len(y))), n_classes)
    try:
        parts = train_test_split(
            *arrays,
            test_size=n_val,
            stratify=y,
            random_state=rng,
        )
    except ValueError as exc:
        raise ValueError(
            "early_stopping=True sets aside a stratified validation set of "
            f"validation_fraction={config.validation_fraction} of the samples, "
            f"which is impossible here: {_sentence(exc)} Increase "
            "validation_fraction or the number of samples, or set "
            "early_stopping=False."
        ) from None
    X_train, X_val, y_train, y_val = parts[:4]
    w_train, w_val = (None, None) if weight is None else parts[4:]
    if w_val is not None and not w_val.sum() > 0:
        raise ValueError(
            "The sample weights of the validation set are all zero; use another "
            "random_state or validation_fraction, or set early_stopping=False."
        )
    return X_train, y_train, w_train, (X_val, y_val, w_val)


def _batch_size(config, n_samples):
    if config.batch_size == "auto":
        return min(200, n_samples)
    return min(config.batch_size, n_samples)


def _update_stopping(state, coef, intercept, config, validation, best):
    """Record the epoch for the stopping rule; True if it did not improve."""
    if validation is not None:
        score = _accuracy(coef, intercept, *validation)
        state.validation_scores.append(score)
        if config.verbose:
            print(f"Validation score: {score:f}")
        improved = score >= state.best_validation_score + config.tol
        if score > state.best_validation_score:
            state.best_validation_score = score
            np.copyto(best[0], coef)
            np.copyto(best[1], intercept)
    else:
        loss = state.loss_curve[-1]
        improved = loss <= state.best_loss - config.tol
        state.best_loss = min(state.best_loss, loss)
    state.no_improvement_count = 0 if improved else state.no_improvement_count + 1


def _restore(arrays, saved):
    for a, b in zip(arrays, saved):
        np.copyto(a, b)


# An epoch whose objective exceeds this many times the reference of
# _divergence_reference counts as divergence: healthy training never comes
# near it, while a step size that diverges multiplies the loss by far more
# within an epoch or two (SoftmaxLinear(learning_rate_init=1e6) on the
# standardised digits: 2.5e40, then 6.5e76).
_DIVERGENCE_FACTOR = 1e4


def _divergence_reference(state, config, n_classes, dtype):
    """The larger of the all-zero model's loss and the first recorded epoch's.

    The loss of zero scores (log K for softmax, delta (K - 1) or delta for
    the hinges) is the loss of knowing nothing; the first epoch's objective
    allows for features on a large scale, whose first epoch lands far above
    it while training goes well.
    """
    scores = np.zeros((n_classes, 1), dtype=dtype)
    zero_loss = config.dscores(
        scores, np.zeros(1, np.intp), dtype.type(1), **config.dscores_kwargs
    )
    return max(zero_loss, state.loss_curve[0]) if state.loss_curve else np.inf


def _publish(out, weights):
    """Copy ``weights`` into the caller's arrays unless they are the same."""
    for a, b in zip(out, weights):
        if a is not b:
            np.copyto(a, b)


# The products of a minibatch are small: BLAS threads gain little on them, and
# on a busy machine their spin-waits make an epoch several times slower.
@_blas_threads_limited(1)
def _fit_sgd(
    coef,
    intercept,
    X,
    y,
    sample_weight,
    *,
    state,
    config,
    rng,
    incremental,
    offset=None,
):
    """Train ``coef`` and ``intercept`` in place by minibatch SGD.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
        Weights, C-contiguous, of the dtype of X; updated in place.
    intercept : ndarray of shape (n_classes,)
        Intercepts; updated in place (left alone without ``fit_intercept``).
    X : ndarray of shape (n_samples, n_features)
        C-contiguous training samples.
    y : ndarray of shape (n_samples,)
        Class indices.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum.
    state : _SGDState
        Velocities and bookkeeping, updated.
    config : _SGDConfig
        Hyper-parameters.
    rng : numpy.random.RandomState
        Source of the permutations and of the validation split.
    incremental : bool
        One epoch without stopping rule, early stopping or convergence
        warning (``partial_fit``); otherwise up to ``max_iter`` epochs.
    offset : ndarray of shape (n_features,) or None
        Subtracted from every sample during training (with
        ``fit_intercept``; e.g. the feature means). Scores ``W (x - offset)
        + c`` are those of ``W x + b`` with ``c = b + W offset``, and the
        penalty does not see the intercept: the objective and its minimisers
        are the same, but centred features take the large eigenvalue of
        the mean (e.g. of raw pixels) out of the curvature, so SGD converges
        much faster. ``coef``, ``intercept`` and ``state`` are in the
        coordinates of ``b`` outside this function.

    Raises
    ------
    ValueError
        When the loss or the weights become non-finite. ``coef`` and
        ``intercept`` then hold the weights of the last finished epoch.
    KeyboardInterrupt
        Passed on, after restoring ``coef``, ``intercept`` and the velocities
        of the last finished epoch (of before the call when ``incremental``).
        A search or any other meta-estimator must never score a fit that was
        cut short, so the interrupt is not turned into a warning.
    """
    weight = None
    if sample_weight is not None:
        # Mean 1, so that a batch of m samples weighs like m unit samples and
        # the learning rate keeps its meaning whatever the weights' scale.
        weight = (sample_weight / np.mean(sample_weight)).astype(coef.dtype)

    validation, best = None, None
    early_stopping = config.early_stopping and not incremental
    state.n_iter = 0
    if not incremental:
        state.no_improvement_count = 0
        state.best_loss = np.inf
        state.validation_scores = [] if early_stopping else None
        state.best_validation_score = -np.inf if early_stopping else None
    # The arrays the caller gets back; with averaging, the loop runs on the
    # iterate kept in ``state`` and they receive the average at the end.
    out = (coef, intercept)
    if config.average:
        if state.coef is None:
            state.coef, state.intercept = coef.copy(), intercept.copy()
            state.average_coef = coef.copy()
            state.average_intercept = intercept.copy()
            state.n_averaged = 0
        coef, intercept = state.coef, state.intercept
    if not config.fit_intercept:
        offset = None
    # Every (weights, intercept) pair the loop carries, moved to the centred
    # coordinates c = b + W offset for the loop and back at the end.
    pairs = [(coef, intercept), (state.velocity_coef, state.velocity_intercept)]
    if config.average:
        pairs.append((state.average_coef, state.average_intercept))
    if offset is not None:
        offset = np.asarray(offset, dtype=coef.dtype)
        for w, b in pairs:
            b += w @ offset

    def model():
        """The weights the caller gets: the average once there is one."""
        if config.average and state.n_averaged:
            return state.average_coef, state.average_intercept
        return coef, intercept

    if early_stopping:
        X, y, weight, validation = _split_validation(X, y, weight, config, rng)
        if offset is not None:
            validation = (validation[0] - offset, *validation[1:])
        best = tuple(p.copy() for p in model())

    n_samples = X.shape[0]
    batch_size = _batch_size(config, n_samples)
    buf = _Buffers(batch_size, coef, gather=config.shuffle, centre=offset is not None)
    # Weights and velocities of the last finished epoch: what divergence and
    # interruption fall back to.
    params = [a for pair in pairs for a in pair]
    last = [p.copy() for p in params]
    last_n_averaged = state.n_averaged
    max_epochs = 1 if incremental else config.max_iter
    stopped = diverged = False
    try:
        # Overflow is detected below, once per epoch, and reported as a
        # clear error; NumPy's warnings on the way there would only add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(max_epochs):
                data_loss = _run_epoch(
                    coef,
                    intercept,
                    X,
                    y,
                    weight,
                    state,
                    config,
                    buf,
                    rng,
                    batch_size,
                    offset,
                )
                objective = data_loss + _penalty_value(coef, config)
                reference = _divergence_reference(
                    state, config, coef.shape[0], coef.dtype
                )
                if not (
                    np.isfinite(objective)
                    and np.isfinite(coef).all()
                    and np.isfinite(intercept).all()
                ):
                    what = "the loss or the weights became infinite or NaN"
                elif objective > _DIVERGENCE_FACTOR * reference:
                    what = (
                        f"the loss grew to {objective:.3g}, more than "
                        f"{_DIVERGENCE_FACTOR:.0e} times {reference:.3g}"
                    )
                else:
                    what = None
                if what is not None:
                    _restore(params, last)
                    state.n_averaged = last_n_averaged
                    diverged = True
                    epoch = len(state.loss_curve) + 1
                    raise ValueError(
                        f"SGD diverged in epoch {epoch}: {what}. The weights of "
                        "the last finished epoch were kept. Lower "
                        "learning_rate_init or alpha, or scale the features "
                        "(e.g. with StandardScaler)."
                    )
                _restore(last, params)
                last_n_averaged = state.n_averaged
                state.n_iter += 1
                state.t += n_samples
                state.loss_curve.append(objective)
                if config.verbose:
                    print(f"Iteration {state.n_iter}, loss = {objective:.8f}")
                if config.learning_rate == "invscaling":
                    state.learning_rate = (
                        config.learning_rate_init / (state.t + 1) ** config.power_t
                    )
                if incremental:
                    break
                _update_stopping(state, *model(), config, validation, best)
                if state.no_improvement_count > config.n_iter_no_change:
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = (
                        f"{what} did not improve more than tol={config.tol:f} for "
                        f"{config.n_iter_no_change} consecutive epochs."
                    )
                    if (
                        config.learning_rate != "adaptive"
                        or state.learning_rate <= config.learning_rate_init * 1e-4
                    ):
                        if config.verbose:
                            print(msg + " Stopping.")
                        stopped = True
                        break
                    state.learning_rate /= 5.0
                    state.no_improvement_count = 0
                    if config.verbose:
                        print(
                            msg + f" Setting learning rate to {state.learning_rate:f}."
                        )
    except KeyboardInterrupt:
        # Passed on, never turned into a finished fit: GridSearchCV and the
        # other meta-estimators would score the half-trained model and carry
        # on (partial_fit's caller, likewise, must stop its own loop).
        _restore(params, last)
        state.n_averaged = last_n_averaged
        raise
    finally:
        # On every way out (divergence and interruption included): publish
        # the weights and go back to the coordinates of b.
        kept_best = early_stopping and state.validation_scores and not diverged
        _publish(out, best if kept_best else model())
        if offset is not None:
            if config.average:
                pairs.append(out)
            for w, b in pairs:
                b -= w @ offset
    if not incremental and not stopped:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({config.max_iter}) "
            "reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=6,
        )
