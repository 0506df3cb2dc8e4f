"""The public doors of the classifiers trained by the loop of ``skcv._loop``.

``fit`` and ``partial_fit`` validate the data and the classes, start or
continue the model, and hand it to :func:`skcv._loop._fit_loop`; prediction
goes through the subclass's scores. A subclass (``skcv.linear``,
``skcv.neural_network``) supplies the model through a few hooks:

``_initialise(X, sample_weight)``
    Fresh parameters and ``self._sgd_state`` (the first ``fit`` or
    ``partial_fit``).
``_new_state()``
    A fresh optimizer for the current parameters (``warm_start``).
``_prepare_fit(X, sample_weight)``
    Settings a new fit takes from its data (``fit``, and the first
    ``partial_fit``), before the above; optional.
``_check_warm_start(X)``
    Raise if the previous fit cannot be continued on X.
``_trainable(X, sample_weight)`` and ``_publish(model)``
    The ``_Trainable`` over the fitted attributes for training on X, and the
    attributes back (also when training fails).
``_loop_config()``
    The loop's ``_SGDConfig``; by default from the parameters of the same
    names.
``_training_dtype()``
    The dtype the fitted model trains in.
``_raw_scores(X)``
    Class scores of shape (n_samples, n_classes) of validated X.
``_has_proba()``
    Whether the scores are logits of a softmax (``predict_proba``).
"""

import numpy as np
from scipy.special import log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils.extmath import softmax
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._loop import _fit_loop, _SGDConfig
from ._validation import _check_labels, _keeps_state_on_error, _unchanged_on_error


class _MinibatchClassifier(ClassifierMixin, BaseEstimator):
    """Classifier with ``fit``/``partial_fit`` over the shared training loop."""

    # dtype argument of validate_data for training and prediction.
    _dtype = [np.float64, np.float32]
    # Name of a fitted attribute that exists once the model is initialised.
    _initialised_attribute = "coef_"

    def _validate_training_data(self, X, y, sample_weight, *, reset):
        X, y = validate_data(self, X, y, dtype=self._dtype, order="C", reset=reset)
        _check_labels(y, "y")
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        return X, y, sample_weight

    def _train(self, X, y_idx, sample_weight, *, incremental):
        """Run the training loop and publish the attributes."""
        model = self._trainable(X, sample_weight)
        state = self._sgd_state
        try:
            _fit_loop(
                model,
                X,
                y_idx,
                sample_weight,
                state=state,
                config=self._loop_config(),
                rng=self._random_state,
                incremental=incremental,
            )
        finally:
            # Also on divergence: the loop has restored finite weights.
            self._publish(model)
            self.n_iter_ = state.n_iter
            self.t_ = state.t
            self.loss_curve_ = state.loss_curve
            self.best_loss_ = None if self.early_stopping else state.best_loss
            self.validation_scores_ = state.validation_scores
            self.train_scores_ = state.train_scores
            self.best_validation_score_ = state.best_validation_score
        return self

    def _loop_config(self):
        return _SGDConfig.from_params(self.get_params())

    def _prepare_fit(self, X, sample_weight):
        """Settings a new fit takes from its data; none by default."""

    def _check_fit_data(self, X, y, sample_weight):
        """Validate the data of ``fit``; set ``classes_`` once all checks pass."""
        warm = self.warm_start and hasattr(self, self._initialised_attribute)
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
        if warm:
            if not np.array_equal(classes, self.classes_):
                raise ValueError(
                    "warm_start needs y to have the classes of the previous fit; "
                    f"previously {self.classes_.tolist()}, now {classes.tolist()}."
                )
            self._check_warm_start(X)
        self.classes_ = classes
        return X, y_idx, sample_weight, warm

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model by minibatch training over up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples.
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
        # while training, it keeps the last finished epoch.
        with _unchanged_on_error(self):
            X, y_idx, sample_weight, warm = self._check_fit_data(X, y, sample_weight)
        self._random_state = check_random_state(self.random_state)
        self._prepare_fit(X, sample_weight)
        if warm:
            # A new fit starts with a fresh optimizer at learning_rate_init, as
            # MLPClassifier does; samples seen and the loss curve carry on.
            old = self._sgd_state
            self._sgd_state = self._new_state()
            self._sgd_state.t, self._sgd_state.loss_curve = old.t, old.loss_curve
        else:
            self._initialise(X, sample_weight)
        return self._train(X, y_idx, sample_weight, incremental=False)

    @_fit_context(prefer_skip_nested_validation=True)
    # Whether rejected or failing while training (which restores the weights
    # of before the call), the call leaves the model as it was.
    @_keeps_state_on_error
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over the given samples.

        The first call starts the model and needs ``classes``; later calls
        continue from the current weights, optimizer state and learning rate.
        ``early_stopping``, ``max_iter``, ``tol`` and ``n_iter_no_change`` do
        not apply.

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
        first = not hasattr(self, self._initialised_attribute)
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
            self._prepare_fit(X, sample_weight)
            self._initialise(X, sample_weight)
        else:
            # Later calls train in the dtype of the first.
            X = X.astype(self._training_dtype(), copy=False)
        return self._train(X, y_idx, sample_weight, incremental=True)

    def _scores(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=self._dtype, reset=False)
        return self._raw_scores(X)

    def decision_function(self, X):
        """Class scores.

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

    def _has_proba(self):
        return False

    @available_if(lambda est: est._has_proba())
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

    @available_if(lambda est: est._has_proba())
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
