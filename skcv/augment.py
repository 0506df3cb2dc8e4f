"""Placeholder, replaced by the augmenters."""

from sklearn.base import BaseEstimator, ClassifierMixin


class ImageAugmenter(BaseEstimator):
    """Placeholder."""


class AugmentedClassifier(ClassifierMixin, BaseEstimator):
    """Placeholder."""
