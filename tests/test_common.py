"""scikit-learn's estimator checks over every public estimator of skcv.

Each estimator is checked in the configurations that take different code
paths (L1 and L2 distances, k > 1, both losses, both hinge formulations, early
stopping). Checks that contradict what an estimator is, rather than bugs, are
listed in ``EXPECTED_FAILED_CHECKS`` with the reason.
"""

import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from skcv import (
    AugmentedClassifier,
    HingeLinear,
    ImageAugmenter,
    NearestNeighbor,
    PixelFlatten,
    SoftmaxLinear,
)

# Minibatch SGD draws its batches in the order of the rows, so weighting a row
# by 2 is not the same as repeating it: the repeated row lands in another
# batch. The result is statistically, not exactly, equivalent.
_SGD_SAMPLE_WEIGHT = {
    "check_sample_weight_equivalence_on_dense_data": (
        "minibatch SGD visits a repeated row in another batch than its weighted "
        "twin, so the fits agree only statistically"
    ),
}

# Which checks each class is expected to fail, and why. Keyed by class name.
EXPECTED_FAILED_CHECKS = {
    "NearestNeighbor": {},
    "SoftmaxLinear": dict(_SGD_SAMPLE_WEIGHT),
    "HingeLinear": dict(_SGD_SAMPLE_WEIGHT),
    "PixelFlatten": {},
    "AugmentedClassifier": {},
}

ESTIMATORS = [
    NearestNeighbor(),
    NearestNeighbor(n_neighbors=3, metric="l1"),
    NearestNeighbor(n_neighbors=5, metric="l2", weights="distance"),
    SoftmaxLinear(),
    SoftmaxLinear(early_stopping=True),
    HingeLinear(),
    HingeLinear(multi_class="crammer_singer"),
    PixelFlatten(),
    PixelFlatten(rescale=True),
    AugmentedClassifier(SoftmaxLinear()),
    AugmentedClassifier(
        NearestNeighbor(n_neighbors=3), augmenter=ImageAugmenter(noise=0.01)
    ),
]


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)
