"""scikit-learn's estimator checks over every public estimator of skcv.

Each estimator is checked in the configurations that take different code
paths (L1 and L2 distances, k > 1, both losses, both hinge formulations, early
stopping). Checks that contradict what a configuration is, rather than bugs,
are listed with the reason in ``CASES``; the expected failures are strict, so
a check that starts passing must be taken off the list.
"""

import pytest
from sklearn.utils.estimator_checks import (
    check_param_validation,
    parametrize_with_checks,
)

from skcv import (
    AugmentedClassifier,
    ColorHistogram,
    HingeLinear,
    HOGFeatures,
    ImageAugmenter,
    NearestNeighbor,
    NeuralNet,
    PixelFlatten,
    SoftmaxLinear,
)

# AugmentedClassifier passes sample_weight on to the wrapped estimator and
# raises TypeError when that estimator's fit takes none, as NearestNeighbor's
# does.
_WEIGHTS_REFUSED = dict.fromkeys(
    [
        "check_sample_weights_pandas_series",
        "check_sample_weights_not_an_array",
        "check_sample_weights_list",
        "check_sample_weights_shape",
        "check_sample_weights_not_overwritten",
        "check_classifiers_one_label_sample_weights",
        "check_sample_weight_equivalence_on_dense_data",
    ],
    "sample_weight is refused (TypeError) when the wrapped estimator, such as "
    "NearestNeighbor, takes no sample_weight",
)

# A repeated row is augmented independently of its weighted twin, and each
# online epoch draws new augmentations, so the two fits differ.
_AUGMENTED_SGD_WEIGHTS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "a repeated row gets its own augmentation noise (and, online, its own "
        "place in each epoch's batches), unlike its weighted twin"
    ),
}

# NeuralNet trains in float32 whatever the input dtype: a weight of 2 and a
# repeated row round differently, by about 1e-6 relative, above the check's
# rtol of 1e-7.
_FLOAT32_WEIGHTS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "float32 training: the weighted and the repeated fits agree to about 1e-6 "
        "relative, not to the check's 1e-7"
    ),
}

# Every configuration checked, with the checks it is expected to fail and why.
# The check's 15 rows fit in one minibatch, where a weight of 2 and a repeated
# row give the same weighted-mean gradient, so plain SGD passes the
# sample-weight equivalence check; early stopping draws its validation split
# over rows and does not.
CASES = [
    (NearestNeighbor(), {}),
    (NearestNeighbor(n_neighbors=3, metric="l1"), {}),
    (NearestNeighbor(n_neighbors=5, metric="l2", weights="distance"), {}),
    (SoftmaxLinear(), {}),
    (
        SoftmaxLinear(early_stopping=True),
        {
            "check_sample_weight_equivalence_on_dense_data": (
                "with early_stopping=True the stratified validation split is "
                "drawn over rows, so a repeated row and its weighted twin leave "
                "different training sets"
            ),
        },
    ),
    (HingeLinear(), {}),
    (HingeLinear(multi_class="crammer_singer"), {}),
    (NeuralNet(), _FLOAT32_WEIGHTS),
    (
        NeuralNet(loss="hinge", early_stopping=True),
        {
            "check_sample_weight_equivalence_on_dense_data": (
                "with early_stopping=True the validation split is drawn over rows"
            ),
        },
    ),
    (
        NeuralNet(hidden_layer_sizes=(8, 4), batch_norm=True, dropout=0.2),
        {
            "check_sample_weight_equivalence_on_dense_data": (
                "batch statistics and dropout masks are per row, not weighted"
            ),
        },
    ),
    (PixelFlatten(), {}),
    (PixelFlatten(rescale=True), {}),
    # The checks feed flat rows; the feature transformers read each as an
    # image one pixel high, with cells small enough for it.
    (HOGFeatures(image_shape=(1, -1), pixels_per_cell=1, cells_per_block=1), {}),
    (
        HOGFeatures(
            image_shape=(1, -1),
            orientations=4,
            pixels_per_cell=1,
            cells_per_block=1,
            block_norm="L1-sqrt",
        ),
        {},
    ),
    (ColorHistogram(channel="value", image_shape=(1, -1)), {}),
    (AugmentedClassifier(SoftmaxLinear()), {}),
    (
        AugmentedClassifier(
            NearestNeighbor(n_neighbors=3), augmenter=ImageAugmenter(noise=0.01)
        ),
        _WEIGHTS_REFUSED,
    ),
    (
        AugmentedClassifier(
            SoftmaxLinear(), augmenter=ImageAugmenter(noise=0.01), online=True
        ),
        _AUGMENTED_SGD_WEIGHTS,
    ),
    (
        AugmentedClassifier(HingeLinear(), online=True, early_stopping=True),
        _AUGMENTED_SGD_WEIGHTS,
    ),
]
ESTIMATORS = [estimator for estimator, _ in CASES]
EXPECTED_FAILED_CHECKS = {repr(estimator): failed for estimator, failed in CASES}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS[repr(estimator)]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_param_validation(estimator):
    check_param_validation(type(estimator).__name__, estimator)
