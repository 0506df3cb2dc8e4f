"""AugmentedClassifier: a classifier fitted on augmented training images.

Re-exported from :mod:`skcv.augment`.
"""

import copy
import inspect
import warnings
from numbers import Integral, Real
from types import SimpleNamespace

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    _check_y,
    _estimator_has,
    check_consistent_length,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from ._images import _check_images
from ._loop import _record_loss, _record_score
from ._validation import _check_labels, _keeps_state_on_error, _sentence

__all__ = ["AugmentedClassifier"]

_MAX_SEED = np.iinfo(np.int32).max


class AugmentedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Classifier fitted on augmented copies of its training images.

    ``fit`` augments the training data it is given and fits the wrapped
    estimator on the result; ``predict``, ``predict_proba``,
    ``decision_function`` and ``score`` pass the data through unchanged. Inside
    :func:`~sklearn.model_selection.cross_val_score` or
    :class:`~sklearn.model_selection.GridSearchCV` every training fold is
    therefore augmented after the split, and no validation image (nor any copy
    of one) is ever seen in training. A plain :class:`~sklearn.pipeline.Pipeline`
    step cannot do this, since it may not change the number of samples.

    Augmentation happens before any step of the wrapped estimator, on the
    images themselves: ``X`` is the raw batch, and the estimator usually
    starts with :class:`~skcv.PixelFlatten`.

    Offline (``online=False``, the default), the augmenter is called once and
    the estimator is fitted once on the originals and their copies. Online
    (``online=True``), every epoch draws fresh copies and trains the estimator
    for one epoch with ``partial_fit``, as the data loaders of deep-learning
    frameworks do; see the Notes for what happens to a Pipeline.

    Parameters
    ----------
    estimator : estimator object
        The classifier, or a :class:`~sklearn.pipeline.Pipeline` ending in
        one. A clone is fitted. With ``online=True`` its last step needs
        ``partial_fit``.
    augmenter : sampler object, default=None
        An object with ``fit_resample(X, y)``, such as
        :class:`~skcv.augment.ImageAugmenter`; a clone is used. None fits the
        estimator on the training data as given, a baseline for grid searches
        such as ``{"augmenter": [None, ImageAugmenter(max_shift=2)]}``.
    online : bool, default=False
        Draw fresh augmented copies every epoch and train with ``partial_fit``.
    max_epochs : int, default=20
        Number of epochs when ``online=True``; ignored otherwise.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training images, before any
        augmentation, and stop when the accuracy on them stops improving; the
        estimator of the best epoch is kept. Requires ``online=True``.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping, stratified by
        class.
    n_iter_no_change : int, default=5
        Epochs without an improvement of at least ``tol`` after which online
        training stops. The criterion is the validation accuracy with
        ``early_stopping=True``, else the training loss when the last step
        reports one in ``loss_curve_``, else none (all ``max_epochs`` run).
    tol : float or None, default=1e-4
        Smallest improvement that counts; None never stops before
        ``max_epochs``.
    random_state : int, RandomState instance or None, default=None
        Seeds every ``random_state`` parameter left at None in the clones of
        the augmenter and estimator (inside a Pipeline too), the validation
        split and the per-epoch seeds of the augmenter in online mode. An int
        makes ``fit`` reproducible.
    verbose : int, default=0
        Print the loss and validation score after every online epoch.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator``.
    augmenter_ : sampler object or None
        The clone of ``augmenter`` that was used (None without augmenter). In
        online mode it holds the state of the last epoch.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of pixels (or features) per sample seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names of ``X`` when it was a DataFrame of flat rows.
    n_iter_ : int
        Number of epochs run. Online mode only.
    loss_curve_ : list of float
        Training loss after every epoch, as reported by the last step's
        ``loss_curve_``. Online mode only, when the last step has one.
    validation_scores_ : list of float or None
        Accuracy on the held-out split after every epoch. Online mode only;
        None without early stopping.
    best_validation_score_ : float or None
        Best of ``validation_scores_``. Online mode only.

    See Also
    --------
    skcv.augment.ImageAugmenter : The augmenter, also usable as a sampler in
        imbalanced-learn's pipeline.
    sklearn.neural_network.MLPClassifier : Where the early-stopping rule
        comes from.

    Notes
    -----
    Online mode, for an estimator ``[step_1, ..., step_k, final]`` (a single
    estimator is the case ``k = 0``):

    1. with ``early_stopping=True``, the validation split is held out;
    2. ``step_1 ... step_k`` are fitted once, on the un-augmented training
       images. Stateless steps such as PixelFlatten learn nothing there;
       statistics such as StandardScaler's mean and scale come from the
       original images, not from any copy;
    3. every epoch ``e``, the augmenter draws copies with a seed of its own
       (derived from ``random_state``), the batch goes through the fitted
       ``transform`` of ``step_1 ... step_k``, and
       ``final.partial_fit(batch, y, classes=classes_)`` trains one epoch;
    4. with early stopping, the whole estimator scores the (un-augmented)
       validation split; training stops after ``n_iter_no_change`` epochs
       whose score is not above the best by ``tol``, and the final step of
       the best epoch is restored.

    Offline, a last step with its own ``early_stopping`` would validate on a
    split of the augmented data, where copies of the training images sit on
    both sides; a warning says so, and ``online=True`` with
    ``early_stopping=True`` is the leak-free alternative.

    An interrupt (Ctrl-C) during online training is passed on after the
    estimator of the last finished epoch is kept as ``estimator_`` (provided
    the final step's ``partial_fit`` leaves it unchanged when interrupted, as
    SoftmaxLinear and HingeLinear do), never turned into a finished fit that
    a search would score.

    ``sample_weight`` follows the augmenter's ``sample_indices_`` (a copy
    weighs what its source image weighs) and goes to the last step only.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcv import AugmentedClassifier, ImageAugmenter, PixelFlatten
    >>> from skcv import SoftmaxLinear
    >>> digits = load_digits()
    >>> X, y = digits.images[:600] / 16, digits.target[:600]
    >>> clf = AugmentedClassifier(
    ...     make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=20)),
    ...     augmenter=ImageAugmenter(max_rotation=10, n_copies=2),
    ...     random_state=0,
    ... )
    >>> clf.fit(X[:500], y[:500]).augmenter_.sample_indices_.shape
    (1500,)
    >>> clf.predict(X[500:]).shape
    (100,)
    >>> bool(clf.score(X[500:], y[500:]) > 0.7)
    True
    >>> cross_val_score(clf, X, y, cv=3).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "augmenter": [HasMethods(["fit_resample"]), None],
        "online": ["boolean"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        *,
        augmenter=None,
        online=False,
        max_epochs=20,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        tol=1e-4,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.augmenter = augmenter
        self.online = online
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _validate_images(self, X, *, reset):
        """Validate X as images or rows; record or check the pixel count."""
        # Rows go through validate_data so that DataFrame column names are
        # recorded; image batches are counted by pixels, as PixelFlatten does.
        ndim = len(X.shape) if hasattr(X, "shape") else np.asarray(X).ndim
        if ndim in (3, 4):
            images, _ = _check_images(X)
            validate_data(
                self, images.reshape(images.shape[0], -1), reset=reset, dtype=None
            )
            return images
        return validate_data(self, X, reset=reset, dtype="numeric")

    @_fit_context(
        # The estimator and augmenter are validated by their own methods.
        prefer_skip_nested_validation=False
    )
    @_keeps_state_on_error
    def fit(self, X, y, sample_weight=None):
        """Augment the training data and fit the estimator on it.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Training images (or flat rows).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the training images; every copy inherits the weight of
            its source. Passed to the last step of the estimator.

        Returns
        -------
        self : AugmentedClassifier
            The fitted classifier.
        """
        X = self._validate_images(X, reset=True)
        y = _check_y(y, estimator=self)
        check_consistent_length(X, y)
        _check_labels(y, "y")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        if self.early_stopping and not self.online:
            raise ValueError(
                "early_stopping=True needs online=True: offline, the estimator is "
                "fitted once and there are no epochs to stop."
            )
        rng = check_random_state(self.random_state)
        if self.online:
            self._fit_online(X, y, sample_weight, rng)
        else:
            self._fit_offline(X, y, sample_weight, rng)
        self.classes_ = getattr(self.estimator_, "classes_", np.unique(y))
        return self

    def _fit_offline(self, X, y, sample_weight, rng):
        augmenter = None if self.augmenter is None else clone(self.augmenter)
        estimator = clone(self.estimator)
        _seed_unset_random_states(augmenter, rng)
        _seed_unset_random_states(estimator, rng)
        if augmenter is not None:
            if _has_early_stopping(estimator):
                warnings.warn(
                    "The estimator uses early_stopping on a split of the augmented "
                    "data, where copies of the same training image fall on both "
                    "sides, so its validation scores are optimistic. Use "
                    "AugmentedClassifier(online=True, early_stopping=True) to "
                    "validate on un-augmented images instead.",
                    UserWarning,
                    stacklevel=2,
                )
            X, y = augmenter.fit_resample(X, y)
            sample_weight = _follow_indices(sample_weight, augmenter)
        estimator.fit(X, y, **_weight_params(estimator, sample_weight, "fit"))
        self.estimator_, self.augmenter_ = estimator, augmenter

    def _fit_online(self, X, y, sample_weight, rng):
        estimator = clone(self.estimator)
        _seed_unset_random_states(estimator, rng)
        augmenter = None if self.augmenter is None else clone(self.augmenter)
        if isinstance(estimator, Pipeline):
            name, final = estimator.steps[-1]
            head = estimator[:-1] if len(estimator.steps) > 1 else None
        else:
            name, final, head = None, estimator, None
        if not hasattr(final, "partial_fit"):
            raise TypeError(
                f"online=True trains with partial_fit, which "
                f"{type(final).__name__} does not have. Use online=False, or an "
                f"estimator with partial_fit such as SoftmaxLinear."
            )
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"online training needs samples of at least 2 classes; got 1 class: "
                f"{classes.tolist()[0]!r}."
            )

        if self.early_stopping:
            # At least one validation image per class, so that every class can
            # be scored.
            n_val = max(int(np.ceil(self.validation_fraction * len(y))), len(classes))
            try:
                train, val = train_test_split(
                    np.arange(len(y)),
                    test_size=n_val,
                    stratify=y,
                    random_state=rng.randint(_MAX_SEED),
                )
            except ValueError as exc:
                raise ValueError(
                    f"early_stopping=True holds out a stratified validation split "
                    f"of validation_fraction={self.validation_fraction} of the "
                    f"images, which is impossible here: {_sentence(exc)} Increase "
                    f"validation_fraction or the number of images, or set "
                    f"early_stopping=False."
                ) from None
            X_val, y_val = X[val], y[val]
            X, y = X[train], y[train]
            if sample_weight is not None:
                sample_weight = sample_weight[train]

        if head is not None:
            head.fit(X, y)
            # Write the fitted steps back (Pipeline.fit clones them when a
            # memory is set).
            estimator.steps[:-1] = head.steps

        seeds = rng.randint(_MAX_SEED, size=self.max_epochs)
        losses, scores = [], []
        # The stopping rule of the shared training loop, over whole estimators.
        progress = SimpleNamespace(
            best_loss=np.inf, best_validation_score=None, no_improvement_count=0
        )
        tol = self.tol or 0.0
        best_final = None
        interrupt = None
        for epoch in range(self.max_epochs):
            try:
                _train_one_epoch(
                    final, head, augmenter, seeds[epoch], X, y, sample_weight, classes
                )
            except KeyboardInterrupt as exc:
                if epoch == 0:
                    raise
                # Keep the last finished epoch, then pass the interrupt on: a
                # search must not score this fit as a finished one.
                interrupt = exc
                break
            self.n_iter_ = epoch + 1

            message = f"Epoch {epoch + 1}"
            loss = _last_loss(final)
            if loss is not None:
                losses.append(loss)
                message += f", loss = {loss:.6f}"
            if self.early_stopping:
                score = estimator.score(X_val, y_val)
                scores.append(score)
                message += f", validation score = {score:.6f}"
                if _record_score(progress, score, tol):
                    best_final = copy.deepcopy(final)
            elif loss is not None:
                _record_loss(progress, loss, tol)
            if self.verbose:
                print(message)
            n_no_change = progress.no_improvement_count
            if self.tol is not None and n_no_change >= self.n_iter_no_change:
                if self.verbose:
                    print(f"No improvement for {n_no_change} epochs; stopping.")
                break

        if best_final is not None:
            if name is None:
                estimator = best_final
            else:
                estimator.steps[-1] = (name, best_final)
        self.estimator_, self.augmenter_ = estimator, augmenter
        if losses:
            self.loss_curve_ = losses
        self.validation_scores_ = scores if self.early_stopping else None
        self.best_validation_score_ = progress.best_validation_score
        if interrupt is not None:
            raise interrupt

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict class labels with the fitted estimator (no augmentation).

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images (or rows) shaped like the training data.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        check_is_fitted(self)
        return self.estimator_.predict(self._validate_images(X, reset=False))

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images (or rows) shaped like the training data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(self._validate_images(X, reset=False))

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log of the class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images (or rows) shaped like the training data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probabilities, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = self._validate_images(X, reset=False)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Class scores from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Images (or rows) shaped like the training data.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Decision values, as the estimator returns them.
        """
        check_is_fitted(self)
        X = self._validate_images(X, reset=False)
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """Score of the fitted estimator on un-augmented data.

        Parameters
        ----------
        X : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
            Test images (or rows).
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the test samples.

        Returns
        -------
        score : float
            The estimator's ``score``, the mean accuracy for classifiers.
        """
        check_is_fitted(self)
        X = self._validate_images(X, reset=False)
        if sample_weight is None:
            return self.estimator_.score(X, y)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = False
        return tags


def _train_one_epoch(final, head, augmenter, seed, X, y, sample_weight, classes):
    """Fresh copies of the training images, one ``partial_fit`` on them."""
    if augmenter is not None:
        augmenter.set_params(random_state=seed)
        X, y = augmenter.fit_resample(X, y)
        sample_weight = _follow_indices(sample_weight, augmenter)
    if head is not None:
        X = head.transform(X)
    final.partial_fit(
        X, y, classes=classes, **_weight_params(final, sample_weight, "partial_fit")
    )


def _seed_unset_random_states(estimator, rng):
    """Give every ``random_state`` parameter left at None a seed from ``rng``."""
    if estimator is None:
        return
    params = estimator.get_params(deep=True)
    seeds = {
        key: rng.randint(_MAX_SEED)
        for key in sorted(params)
        if (key == "random_state" or key.endswith("__random_state"))
        and params[key] is None
    }
    if seeds:
        estimator.set_params(**seeds)


def _has_early_stopping(estimator):
    params = estimator.get_params(deep=True)
    return any(
        (key == "early_stopping" or key.endswith("__early_stopping")) and value is True
        for key, value in params.items()
    )


def _follow_indices(sample_weight, augmenter):
    """Weights of the augmented rows: each copy weighs what its source weighs."""
    if sample_weight is None:
        return None
    indices = getattr(augmenter, "sample_indices_", None)
    if indices is None:
        raise ValueError(
            f"sample_weight needs the augmenter to record sample_indices_ (the "
            f"source row of each output row); {type(augmenter).__name__} does not."
        )
    return sample_weight[indices]


def _weight_params(estimator, sample_weight, method):
    """Keyword arguments that pass ``sample_weight`` to the last step."""
    if sample_weight is None:
        return {}
    prefix = ""
    final = estimator
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        prefix = f"{name}__"
    accepts = (
        has_fit_parameter(final, "sample_weight")
        if method == "fit"
        else "sample_weight" in inspect.signature(final.partial_fit).parameters
    )
    if not accepts:
        raise TypeError(
            f"sample_weight was given, but {type(final).__name__}.{method} does not "
            f"accept sample_weight."
        )
    return {f"{prefix}sample_weight": sample_weight}


def _last_loss(estimator):
    """The last entry of ``loss_curve_``, or None when there is none."""
    curve = getattr(estimator, "loss_curve_", None)
    return float(curve[-1]) if curve is not None and len(curve) else None
