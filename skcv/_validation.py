"""Input checks shared by the classifiers."""

import functools
from contextlib import contextmanager

from sklearn.utils.multiclass import check_classification_targets, unique_labels


@contextmanager
def _unchanged_on_error(estimator):
    """Put every attribute of ``estimator`` back as it was if the block raises.

    ``validate_data(reset=True)`` records ``n_features_in_`` before the other
    checks run, so a rejected fit (another number of features with
    ``warm_start``, bad labels) would otherwise leave a fitted model that
    contradicts itself. The fits replace their attributes rather than change
    them in place, so a shallow copy of ``__dict__`` restores them.
    ``KeyboardInterrupt`` is not an error: it keeps what the fit documents
    (the last finished epoch).
    """
    saved = dict(vars(estimator))
    try:
        yield
    except Exception:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


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


def _keeps_state_on_error(method):
    """Decorate a fitting method with :func:`_unchanged_on_error`."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _unchanged_on_error(self):
            return method(self, *args, **kwargs)

    return wrapper


def _sentence(exc):
    """The message of ``exc`` ending with a full stop (sklearn's often lack it)."""
    text = str(exc).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."
