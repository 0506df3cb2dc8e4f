"""Placeholder, replaced by the linear classifiers."""

from sklearn.base import BaseEstimator, ClassifierMixin


class SoftmaxLinear(ClassifierMixin, BaseEstimator):
    """Placeholder."""


class HingeLinear(ClassifierMixin, BaseEstimator):
    """Placeholder."""
