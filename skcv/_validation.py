"""Input checks shared by the classifiers."""

from sklearn.utils.multiclass import check_classification_targets, unique_labels


def _check_labels(labels, name="y"):
    """Reject regression targets and labels of types that cannot be sorted.

    NumPy's own message for mixed labels ("'<' not supported between ...")
    does not say that the labels are at fault, so it is replaced.
    """
    try:
        check_classification_targets(labels)
        if labels.dtype == object:
            unique_labels(labels)
    except TypeError as exc:
        raise TypeError(
            f"{name} holds labels that cannot be sorted together, such as strings "
            f"and numbers ({exc}); use labels of one type."
        ) from None
