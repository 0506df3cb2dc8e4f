"""The minibatch training loop of every model, and the stopping rule.

:func:`_fit_loop` trains any model that offers the small interface of
:class:`_Trainable` (its parameter arrays, the loss and gradients of a batch,
its penalty and its accuracy), with any update rule of ``skcv._optim``: the
linear classifiers of ``skcv.linear`` and the network of
``skcv.neural_network``. Schedules, iterate averaging, early stopping on a
validation split, keeping the best weights, divergence and interruption
handling, and the loss history live here and nowhere else. What survives
from one call to the next (the optimizer with its velocities and learning
rate, samples seen, loss curve, stopping counters, the average) lives in a
:class:`_SGDState` that the estimator keeps.

Speed: X is never copied per epoch. One permutation of the row indices is
drawn per epoch and each batch is gathered with ``np.take(..., out=buffer)``
into a preallocated buffer; the model computes into buffers of its own, so
an epoch allocates almost nothing.
"""

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from ._threadpool import _limit_blas_threads
from ._validation import _sentence


class _Trainable:
    """What :func:`_fit_loop` needs from a model (the interface, documented).

    Attributes
    ----------
    params : list of ndarray
        The trained arrays, C-contiguous, updated in place by the optimizer.
    grads : list of ndarray
        One gradient buffer per parameter, filled by :meth:`loss_and_grad`.
    dtype : numpy.dtype
        Dtype of the parameters; batches are gathered in it.
    l2 : list of float
        Coefficient of an L2 penalty ``l2 / 2 * ||p||^2`` on each parameter.
    blas_threads : int
        BLAS threads for the products of a batch.
    """

    params: list
    grads: list
    l2: list
    dtype: Any
    blas_threads: int = 1

    def start(self, batch_size, rng):
        """Allocate the buffers of batches of up to ``batch_size`` rows."""

    def state_arrays(self):
        """Arrays to save and restore beside ``params`` (running statistics)."""
        return []

    def gather(self, X, idx, out):
        """The rows ``idx`` (an index array or a slice) of X as a batch.

        ``out`` is a buffer that may receive them; a model may instead
        transform them into a buffer of its own.
        """
        if isinstance(idx, slice):
            return X[idx]
        # mode="clip" lets take write straight into the buffer (the default
        # mode buffers); the indices are valid anyway.
        return np.take(X, idx, axis=0, out=out[: len(idx)], mode="clip")

    def loss_and_grad(self, X, y, coef):
        """Data loss ``sum_i coef_i * l_i`` of a batch from :meth:`gather`.

        Fills ``grads`` with the gradients of the data loss and of the
        penalty, except for the L2 part of the penalty given by ``l2``,
        which the update rule adds.
        """
        raise NotImplementedError

    def after_update(self, optimizer):
        """Hook after each update (a proximal step of a non-smooth penalty)."""

    def first_moments(self, optimizer):
        """The optimizer's state arrays that move like the parameters.

        One per parameter (or None): a model that changes its coordinates
        (``skcv.linear`` centres the features) moves them alike.
        """
        return [None] * len(self.params)

    def penalty(self):
        """The penalty ``R`` at the current parameters."""
        return 0.0

    def zero_score_loss(self):
        """The loss of all-zero scores, the loss of knowing nothing.

        Models with an output ``kernel`` of ``skcv.losses`` (and its
        ``kernel_kwargs``) over ``n_classes`` classes get it from there.
        """
        scores = np.zeros((self.n_classes, 1), dtype=self.dtype)
        return self.kernel(
            scores, np.zeros(1, np.intp), self.dtype.type(1), **self.kernel_kwargs
        )

    def score(self, X, y, sample_weight):
        """(Weighted) accuracy on class indices ``y``."""
        raise NotImplementedError

    def transform_batch(self, X, out):
        """Optionally rescale a gathered batch in place (or into ``out``)."""
        return X


@dataclass(frozen=True)
class _SGDConfig:
    """Parameters of the loop, resolved from the estimator's parameters."""

    batch_size: Any
    learning_rate: str
    learning_rate_init: float
    power_t: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    validation_fraction: float
    shuffle: bool
    verbose: int
    # Averaged SGD: from ``t`` = ``average`` samples seen on (0: never), the
    # model published is the running mean of the iterates.
    average: int = 0
    # "adaptive" stops once the learning rate falls to this.
    min_learning_rate: float = 1e-6
    # The stopping rule waits for this many updates (minibatches) of the
    # call. Its patience is counted in epochs, and an epoch of a small data
    # set is a handful of updates: without a floor counted in updates, the
    # 8x8 digits stop after 50 to 100 steps, far from the optimum, while
    # MNIST makes 235 updates in every epoch.
    min_updates: int = 0

    @classmethod
    def from_params(cls, params, **overrides):
        """The fields of ``params`` (an estimator's ``get_params()``)."""
        params = {**params, **overrides}
        names = cls.__dataclass_fields__
        return cls(**{name: params[name] for name in names if name in params})


@dataclass
class _SGDState:
    """Everything training carries across epochs and across ``partial_fit`` calls.

    The learning rate of the schedule is ``optimizer.learning_rate``.
    """

    optimizer: Any
    t: int = 0
    n_iter: int = 0
    loss_curve: list = field(default_factory=list)
    best_loss: float = np.inf
    validation_scores: list | None = None
    train_scores: list | None = None
    best_validation_score: float | None = None
    no_improvement_count: int = 0
    # Whether the last fit met the stopping rule (possibly at max_iter, after
    # waiting for min_updates); False after partial_fit.
    converged: bool = False
    # With averaging: the running mean of the iterates (one array per
    # parameter), over ``n_averaged`` iterates.
    average: list | None = None
    n_averaged: int = 0
    # With averaging, the iterate itself, when the model keeps it here.
    iterate: list | None = None
    # The arrays to publish after a call when they are not the parameters:
    # the average, or the best weights of early stopping with averaging.
    published: list | None = None


class _Batches:
    """Preallocated gather buffers for the batches of one call."""

    def __init__(self, batch_size, n_features, dtype, *, gather):
        self.X = np.empty((batch_size, n_features), dtype) if gather else None
        self.y = np.empty(batch_size, np.intp) if gather else None
        self.weight = np.empty(batch_size, dtype)
        self.scratch = []


def _batch_step(model, X, y, coef, optimizer):
    """Loss and gradients of one batch, then one update; returns the batch loss."""
    loss = model.loss_and_grad(X, y, coef)
    optimizer.update(model.params, model.grads, model.l2)
    model.after_update(optimizer)
    return loss


def _accumulate_average(average, params, n_averaged, scratch):
    """Fold the current iterate into the running mean of the iterates."""
    for avg, param, buffer in zip(average, params, scratch):
        frac = param.dtype.type(1 / n_averaged)
        np.subtract(param, avg, out=buffer)
        buffer *= frac
        avg += buffer


def _run_epoch(model, X, y, weight, state, config, batches, rng, batch_size):
    """One pass over the data; returns the mean (weighted) data loss."""
    n_samples = X.shape[0]
    optimizer = state.optimizer
    order = rng.permutation(n_samples) if config.shuffle else None
    total = 0.0
    one = model.dtype.type(1)
    for start in range(0, n_samples, batch_size):
        stop = min(start + batch_size, n_samples)
        m = stop - start
        if order is None:
            Xb, yb = model.gather(X, slice(start, stop), batches.X), y[start:stop]
            batch_weight = None if weight is None else weight[start:stop]
        else:
            # Sorted indices read X front to back, which the hardware prefetcher
            # likes; the order inside a batch does not change its gradient.
            idx = np.sort(order[start:stop])
            Xb = model.gather(X, idx, batches.X)
            yb = np.take(y, idx, out=batches.y[:m], mode="clip")
            batch_weight = (
                None
                if weight is None
                else np.take(weight, idx, out=batches.weight[:m], mode="clip")
            )
        if batch_weight is None:
            coef_m = one / m
        else:
            coef_m = np.multiply(batch_weight, 1 / m, out=batches.weight[:m])
        loss = _batch_step(model, Xb, yb, coef_m, optimizer)
        total += loss * m
        if config.average and state.t + stop >= config.average:
            state.n_averaged += 1
            _accumulate_average(
                state.average, model.params, state.n_averaged, batches.scratch
            )
    return total / n_samples


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


def _record_score(progress, score, tol):
    """The stopping rule on a validation score; True if it is a new best.

    ``progress`` has ``best_validation_score`` and ``no_improvement_count``
    (an :class:`_SGDState`, or the online loop of ``AugmentedClassifier``).
    An epoch improves when it beats the best by at least ``tol``.
    """
    best = progress.best_validation_score
    best = -np.inf if best is None else best
    improved = score >= best + tol
    progress.no_improvement_count = 0 if improved else progress.no_improvement_count + 1
    if score > best:
        progress.best_validation_score = score
        return True
    return False


def _record_loss(progress, loss, tol):
    """The stopping rule on the training loss (``best_loss``)."""
    improved = loss <= progress.best_loss - tol
    progress.best_loss = min(progress.best_loss, loss)
    progress.no_improvement_count = 0 if improved else progress.no_improvement_count + 1


def _update_stopping(state, model, config, validation, best, train_sample):
    """Record the epoch for the stopping rule; keep the best weights."""
    if validation is not None:
        with _model_weights(model, state):
            score = model.score(*validation)
            state.validation_scores.append(score)
            state.train_scores.append(model.score(*train_sample))
            if config.verbose:
                print(f"Validation score: {score:f}")
            if _record_score(state, score, config.tol):
                _restore(best, _saved_arrays(model))
    else:
        _record_loss(state, state.loss_curve[-1], config.tol)


class _model_weights:
    """Within the block, the model's parameters are the published weights.

    With averaging, those are the average of the iterates: the block puts it
    in place of the iterate and the iterate back at the end.
    """

    def __init__(self, model, state):
        self.model, self.state = model, state

    def __enter__(self):
        self.saved = None
        if self.state.n_averaged:
            self.saved = [p.copy() for p in self.model.params]
            _restore(self.model.params, self.state.average)

    def __exit__(self, *exc):
        if self.saved is not None:
            _restore(self.model.params, self.saved)


def _saved_arrays(model):
    return [*model.params, *model.state_arrays()]


def _restore(arrays, saved):
    for a, b in zip(arrays, saved):
        np.copyto(a, b)


def _is_finite(objective, arrays):
    return bool(np.isfinite(objective)) and all(np.isfinite(a).all() for a in arrays)


# An epoch whose objective exceeds this many times the reference of
# _divergence_reference counts as divergence: healthy training never comes
# near it, while a step size that diverges multiplies the loss by far more
# within an epoch or two (SoftmaxLinear(learning_rate_init=1e6) on the
# standardised digits: 2.5e40, then 6.5e76).
_DIVERGENCE_FACTOR = 1e4


def _divergence_reference(state, model):
    """The larger of the all-zero model's loss and the first recorded epoch's.

    The loss of zero scores (log K for softmax, delta (K - 1) or delta for
    the hinges) is the loss of knowing nothing; the first epoch's objective
    allows for features on a large scale, whose first epoch lands far above
    it while training goes well.
    """
    if not state.loss_curve:
        return np.inf
    return max(model.zero_score_loss(), state.loss_curve[0])


def _divergence(objective, model, state):
    """What went wrong in the epoch, or None if it did not diverge."""
    if not _is_finite(objective, model.params):
        return "the loss or the weights became infinite or NaN"
    reference = _divergence_reference(state, model)
    if objective > _DIVERGENCE_FACTOR * reference:
        return (
            f"the loss grew to {objective:.3g}, more than "
            f"{_DIVERGENCE_FACTOR:.0e} times {reference:.3g}"
        )
    return None


def _fit_loop(model, X, y, sample_weight, *, state, config, rng, incremental):
    """Train ``model`` in place by minibatch stochastic gradient descent.

    Parameters
    ----------
    model : _Trainable
        The model; its ``params`` are updated in place.
    X : ndarray of shape (n_samples, n_features)
        C-contiguous training samples of the model's dtype.
    y : ndarray of shape (n_samples,)
        Class indices.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights with a positive sum.
    state : _SGDState
        Optimizer and bookkeeping, updated.
    config : _SGDConfig
        Loop parameters.
    rng : numpy.random.RandomState
        Source of the permutations and of the validation split.
    incremental : bool
        One epoch without stopping rule, early stopping or convergence
        warning (``partial_fit``); otherwise up to ``max_iter`` epochs.

    Raises
    ------
    ValueError
        When the loss or the parameters become non-finite. The parameters
        then hold those of the last finished epoch.
    KeyboardInterrupt
        Passed on, after restoring the parameters and optimizer state of the
        last finished epoch (of before the call when ``incremental``). A
        search or any other meta-estimator must never score a fit that was
        cut short, so the interrupt is not turned into a warning.
    """
    # The products of a minibatch are small: BLAS threads gain little on them,
    # and on a busy machine their spin-waits make an epoch several times
    # slower. A model may ask for more.
    with _limit_blas_threads(getattr(model, "blas_threads", 1)):
        _fit_loop_unlimited(
            model,
            X,
            y,
            sample_weight,
            state=state,
            config=config,
            rng=rng,
            incremental=incremental,
        )


def _fit_loop_unlimited(model, X, y, sample_weight, *, state, config, rng, incremental):
    weight = None
    if sample_weight is not None:
        # Mean 1, so that a batch of m samples weighs like m unit samples and
        # the learning rate keeps its meaning whatever the weights' scale.
        weight = (sample_weight / np.mean(sample_weight)).astype(model.dtype)

    validation, best = None, None
    early_stopping = config.early_stopping and not incremental
    state.n_iter = 0
    state.published = None
    if not incremental:
        state.no_improvement_count = 0
        state.best_loss = np.inf
        state.validation_scores = [] if early_stopping else None
        state.train_scores = [] if early_stopping else None
        state.best_validation_score = -np.inf if early_stopping else None
    if config.average and state.average is None:
        state.average = [p.copy() for p in model.params]
        state.n_averaged = 0
    train_sample = None
    if early_stopping:
        X, y, weight, validation = _split_validation(X, y, weight, config, rng)
        with _model_weights(model, state):
            best = [a.copy() for a in _saved_arrays(model)]
        # Training accuracy beside the validation accuracy, on as many
        # training rows (evenly spaced) as there are validation rows: a
        # learning curve that costs a small share of an epoch.
        step = max(1, len(y) // len(validation[1]))
        train_sample = (
            X[::step],
            y[::step],
            None if weight is None else weight[::step],
        )

    n_samples = X.shape[0]
    batch_size = _batch_size(config, n_samples)
    batches = _Batches(batch_size, X.shape[1], model.dtype, gather=config.shuffle)
    if config.average:
        batches.scratch = [np.empty_like(p) for p in model.params]
    model.start(batch_size, rng)
    optimizer = state.optimizer
    # Parameters, averages and optimizer state of the last finished epoch:
    # what divergence and interruption fall back to.
    arrays = [*_saved_arrays(model), *optimizer.state_arrays()]
    if config.average:
        arrays += state.average
    last = [a.copy() for a in arrays]
    last_lr, last_n_averaged = optimizer.learning_rate, state.n_averaged
    max_epochs = 1 if incremental else config.max_iter
    updates_per_epoch = -(-n_samples // batch_size)
    stopped = diverged = False
    try:
        # Overflow is detected below, once per epoch, and reported as a
        # clear error; NumPy's warnings on the way there would only add noise.
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(max_epochs):
                data_loss = _run_epoch(
                    model, X, y, weight, state, config, batches, rng, batch_size
                )
                objective = data_loss + model.penalty()
                what = _divergence(objective, model, state)
                if what is not None:
                    _restore(arrays, last)
                    optimizer.learning_rate = last_lr
                    state.n_averaged = last_n_averaged
                    diverged = True
                    epoch = len(state.loss_curve) + 1
                    raise ValueError(
                        f"SGD diverged in epoch {epoch}: {what}. The weights of "
                        "the last finished epoch were kept. Lower "
                        "learning_rate_init or alpha, or scale the features "
                        "(e.g. with StandardScaler)."
                    )
                _restore(last, arrays)
                last_n_averaged = state.n_averaged
                state.n_iter += 1
                state.t += n_samples
                state.loss_curve.append(objective)
                if config.verbose:
                    print(f"Iteration {state.n_iter}, loss = {objective:.8f}")
                if config.learning_rate == "invscaling":
                    optimizer.learning_rate = (
                        config.learning_rate_init / (state.t + 1) ** config.power_t
                    )
                last_lr = optimizer.learning_rate
                if incremental:
                    break
                _update_stopping(state, model, config, validation, best, train_sample)
                if (
                    state.no_improvement_count > config.n_iter_no_change
                    and state.n_iter * updates_per_epoch >= config.min_updates
                ):
                    what = "Validation score" if early_stopping else "Training loss"
                    msg = (
                        f"{what} did not improve more than tol={config.tol:f} for "
                        f"{config.n_iter_no_change} consecutive epochs."
                    )
                    if (
                        config.learning_rate != "adaptive"
                        or optimizer.learning_rate <= config.min_learning_rate
                    ):
                        if config.verbose:
                            print(msg + " Stopping.")
                        stopped = True
                        break
                    optimizer.learning_rate /= 5.0
                    last_lr = optimizer.learning_rate
                    state.no_improvement_count = 0
                    if config.verbose:
                        print(
                            msg
                            + f" Setting learning rate to {optimizer.learning_rate:f}."
                        )
    except KeyboardInterrupt:
        # Passed on, never turned into a finished fit: GridSearchCV and the
        # other meta-estimators would score the half-trained model and carry
        # on (partial_fit's caller, likewise, must stop its own loop).
        _restore(arrays, last)
        optimizer.learning_rate = last_lr
        state.n_averaged = last_n_averaged
        raise
    finally:
        # On every way out (divergence and interruption included): the best
        # weights of early stopping, else the average of the iterates, else
        # the parameters themselves.
        kept_best = early_stopping and state.validation_scores and not diverged
        if config.average:
            if kept_best:
                state.published = best
            elif state.n_averaged:
                state.published = [*state.average, *model.state_arrays()]
        elif kept_best:
            _restore(_saved_arrays(model), best)
    # A fit that met the stopping rule but ran on to min_updates (and
    # reached max_iter first) converged all the same.
    converged = stopped or (
        state.no_improvement_count > config.n_iter_no_change
        and config.learning_rate != "adaptive"
    )
    state.converged = converged and not incremental
    if not incremental and not converged:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({config.max_iter}) "
            "reached and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=7,
        )
