"""Loss functions of linear classifiers with their analytic gradients.

A linear classifier scores sample ``x`` for class ``k`` as
``s_k = W[k] @ x + b[k]`` with ``W`` of shape (n_classes, n_features) and
``b`` of shape (n_classes,). Each function here takes ``(W, b, X, y)`` with
``y`` holding class indices ``0 .. n_classes - 1`` and returns the loss and
its gradients with respect to ``W`` and ``b``.

The data term of every loss is a (weighted) mean over samples::

    L(W, b) = sum_i w_i * l_i(W, b) / sum_i w_i

with ``w_i = 1`` when no ``sample_weight`` is given (the plain mean), so that
integer weights act like repeated rows. The full training objective adds the
penalty of :func:`penalty_value_and_grad`::

    objective(W, b) = L(W, b) + R(W)

The private ``_*_dscores`` kernels hold the math once: they turn a buffer of
scores into the gradient of the loss with respect to those scores in place.
The public functions and the linear model of ``skcv.linear`` both call them
through :func:`_loss_and_grad`, which adds the two matrix products.
"""

from numbers import Real

import numpy as np
import scipy.sparse as sp
from numba import njit

__all__ = ["hinge_loss", "penalty_value_and_grad", "softmax_loss"]


def _softmax_dscores(S, y, coef):
    """Cross-entropy of scores ``S``; overwrite ``S`` with its gradient.

    Scores are class-major: reductions over the classes then run along the
    first axis, as contiguous vector operations, which is several times
    faster than reducing rows of only ``n_classes`` numbers.

    Parameters
    ----------
    S : ndarray of shape (n_classes, n_samples)
        Scores, one column per sample; overwritten with ``d loss / d S``.
    y : ndarray of shape (n_samples,)
        Class indices.
    coef : float or ndarray of shape (n_samples,)
        Weight of each sample's loss in the total (e.g. ``1 / n_samples``).

    Returns
    -------
    loss : float
        ``sum_i coef_i * (logsumexp(S[:, i]) - S[y_i, i])``.
    """
    # Shifting each sample's scores by their maximum leaves the softmax
    # unchanged and keeps exp() from overflowing (scores of 1e4 would
    # otherwise give inf / inf). One compiled pass per sample: on the small
    # score blocks of a minibatch, a dozen NumPy calls cost more than the
    # arithmetic.
    if np.ndim(coef) == 0:
        weights = np.full(S.shape[1], coef, dtype=S.dtype)
    else:
        weights = np.asarray(coef, dtype=S.dtype)
    return _softmax_kernel(S, np.asarray(y, dtype=np.intp), weights)


@njit(cache=True, nogil=True)
def _softmax_kernel(S, y, weights):
    n_classes, n_samples = S.shape
    total = 0.0
    for i in range(n_samples):
        top = S[0, i]
        for k in range(1, n_classes):
            top = max(top, S[k, i])
        shifted_true = S[y[i], i] - top
        norm = 0.0
        for k in range(n_classes):
            e = np.exp(S[k, i] - top)
            S[k, i] = e
            norm += e
        w = weights[i]
        # logsumexp(s) - s_y, both shifted by the maximum.
        total += w * (np.log(norm) - shifted_true)
        scale = w / norm
        for k in range(n_classes):
            S[k, i] *= scale
        S[y[i], i] -= w
    return total


def _hinge_ww_dscores(S, y, coef, delta):
    """Weston-Watkins multiclass hinge of ``S``; overwrite ``S`` with its gradient.

    ``l_i = sum_{j != y_i} max(0, S[j, i] - S[y_i, i] + delta)``; see
    :func:`_softmax_dscores` for the parameters.
    """
    cols = np.arange(S.shape[1])
    S -= S[y, cols]
    S += delta
    S[y, cols] = 0
    np.maximum(S, 0, out=S)
    losses = S.sum(axis=0)
    # Margins are now >= 0, so sign() is the 0/1 indicator of active margins;
    # a margin of exactly 0 gets the subgradient 0.
    np.sign(S, out=S)
    S[y, cols] = -S.sum(axis=0)
    return _weigh_samples(S, losses, coef)


def _hinge_cs_dscores(S, y, coef, delta):
    """Crammer-Singer multiclass hinge of ``S``; overwrite ``S`` with its gradient.

    ``l_i = max(0, max_{j != y_i} S[j, i] - S[y_i, i] + delta)``; see
    :func:`_softmax_dscores` for the parameters. Ties between wrong classes
    go to the first of them (a valid subgradient).
    """
    cols = np.arange(S.shape[1])
    true = S[y, cols]
    S[y, cols] = -np.inf
    rival = S.argmax(axis=0)
    losses = S[rival, cols]
    losses -= true
    losses += delta
    np.maximum(losses, 0, out=losses)
    active = (losses > 0).astype(S.dtype)
    S.fill(0)
    S[rival, cols] = active
    S[y, cols] = -active
    return _weigh_samples(S, losses, coef)


def _weigh_samples(S, losses, coef):
    """Weight gradient columns and per-sample losses by ``coef``; return the sum."""
    if np.ndim(coef) == 0:
        S *= coef
        return float(losses.sum(dtype=np.float64)) * float(coef)
    S *= coef
    return float(np.dot(losses, coef))


_KERNELS = {
    "softmax": _softmax_dscores,
    "weston_watkins": _hinge_ww_dscores,
    "crammer_singer": _hinge_cs_dscores,
}


def _loss_and_grad(dscores, W, b, X, y, coef, S, dW, db, **kwargs):
    """Fused loss and gradient of a linear model, written into buffers.

    Parameters
    ----------
    dscores : callable
        One of the ``_*_dscores`` kernels.
    W : ndarray of shape (n_classes, n_features)
    b : ndarray of shape (n_classes,) or None
        None for a model without intercept.
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Class indices.
    coef : float or ndarray of shape (n_samples,)
        Weight of each sample's loss in the total.
    S : ndarray of shape (n_classes, n_samples)
        Buffer for the class-major scores, left holding ``d loss / d S``.
    dW : ndarray of shape (n_classes, n_features)
        Buffer receiving the gradient with respect to ``W``.
    db : ndarray of shape (n_classes,) or None
        Buffer receiving the gradient with respect to ``b``.
    **kwargs
        Passed to ``dscores`` (``delta`` of the hinge losses).

    Returns
    -------
    loss : float
        ``sum_i coef_i * l_i``.
    """
    # BLAS is fastest at the row-major product; transposing its small
    # (n_samples, n_classes) result costs a copy of only that many numbers.
    np.copyto(S, np.matmul(X, W.T).T)
    if b is not None:
        S += b[:, None]
    loss = dscores(S, y, coef, **kwargs)
    np.matmul(S, X, out=dW)
    if db is not None:
        S.sum(axis=1, out=db)
    return loss


def _as_real_array(a, name):
    """``a`` as an array of finite real numbers, or an error that names it."""
    if sp.issparse(a):
        raise TypeError(f"{name} must be a dense array; got a sparse matrix.")
    a = np.asarray(a)
    # Complex values would lose their imaginary part silently, and NaN or
    # infinity would come back as a NaN loss.
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {a.dtype}.")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinity.")
    return a


def _check_loss_args(W, b, X, y, sample_weight):
    """Validate the arrays of a public loss function; return them as arrays."""
    W = _as_real_array(W, "W")
    X = _as_real_array(X, "X")
    y = np.asarray(y)
    if W.ndim != 2 or X.ndim != 2:
        raise ValueError(
            f"W must be of shape (n_classes, n_features) and X of shape "
            f"(n_samples, n_features); got W.shape={W.shape}, X.shape={X.shape}."
        )
    n_classes, n_features = W.shape
    if X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features but W has {n_features} columns.")
    if n_classes < 2:
        raise ValueError(f"W must have at least 2 rows (classes); got {n_classes}.")
    if b is not None:
        b = _as_real_array(b, "b")
        if b.shape != (n_classes,):
            raise ValueError(
                f"b must be of shape (n_classes,) = ({n_classes},); got {b.shape}."
            )
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"y must be of shape (n_samples,) = ({X.shape[0]},); got {y.shape}."
        )
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class indices; got dtype {y.dtype}.")
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(
            f"y must hold class indices in 0..{n_classes - 1}; got values in "
            f"{y.min()}..{y.max()}."
        )
    if X.shape[0] == 0:
        raise ValueError("X has no samples; the mean loss is undefined.")
    dtype = np.result_type(W, X, np.float32)
    if sample_weight is None:
        coef = dtype.type(1 / X.shape[0])
    else:
        sample_weight = _as_real_array(sample_weight, "sample_weight").astype(dtype)
        if sample_weight.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must be of shape (n_samples,) = ({X.shape[0]},); "
                f"got {sample_weight.shape}."
            )
        total = sample_weight.sum()
        if np.any(sample_weight < 0) or not total > 0:
            raise ValueError("sample_weight must be non-negative with a positive sum.")
        coef = sample_weight / total
    return W, b, X, y, coef, dtype


def _public_loss(kernel, W, b, X, y, sample_weight, **kwargs):
    W, b, X, y, coef, dtype = _check_loss_args(W, b, X, y, sample_weight)
    with np.errstate(over="ignore", invalid="ignore"):
        result = _loss_in(dtype, kernel, W, b, X, y, coef, **kwargs)
        if result is None and dtype != np.float64:
            # Scores beyond float32's range (inputs near 1e38) fit in float64.
            result = _loss_in(np.float64, kernel, W, b, X, y, coef, **kwargs)
        if result is None:
            result = _loss_of_huge_scores(kernel, W, b, X, y, coef, **kwargs)
    loss, dW, db = result
    return loss, dW.astype(dtype, copy=False), None if db is None else db.astype(dtype)


def _loss_in(dtype, kernel, W, b, X, y, coef, **kwargs):
    """Loss and gradients computed in ``dtype``; None if the scores overflow."""
    coef = np.asarray(coef, dtype=dtype)
    Wc = W.astype(dtype, copy=False)
    Xc = X.astype(dtype, copy=False)
    bc = None if b is None else b.astype(dtype, copy=False)
    scores = Xc @ Wc.T
    if bc is not None:
        scores += bc
    if not np.isfinite(scores).all():
        return None
    S = np.empty((W.shape[0], X.shape[0]), dtype=dtype)
    dW = np.empty(W.shape, dtype=dtype)
    db = None if b is None else np.empty(W.shape[0], dtype=dtype)
    loss = _loss_and_grad(kernel, Wc, bc, Xc, y, coef, S, dW, db, **kwargs)
    return loss, dW, db


def _loss_of_huge_scores(kernel, W, b, X, y, coef, **kwargs):
    """Loss and gradients when even float64 scores overflow.

    Every loss here is unchanged when a constant is added to all scores of a
    sample. The scores are computed at the scale ``2**-s`` (exact in binary
    floating point), shifted there by a per-sample constant, the maximum for
    softmax and the true class's score for the hinges, and scaled back: a
    difference that still overflows becomes an infinity of the right sign,
    which the kernels turn into an infinite loss (the true value exceeds the
    float64 range) and finite gradients, never NaN.
    """
    W = W.astype(np.float64)
    X = X.astype(np.float64)
    b = None if b is None else b.astype(np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    # |score| <= max|W| * max|x| * (n_features + 1) with the intercept (taken
    # as one more weight): bring that bound below 2**1000.
    big = max(np.abs(W).max(), 0.0 if b is None else np.abs(b).max(), 1.0)
    bound = np.log2(big) + np.log2(max(np.abs(X).max(), 1.0))
    bound += np.log2(X.shape[1] + 1)
    shift = max(int(np.ceil(bound)) - 1000, 0)
    scale = np.ldexp(1.0, -shift)
    S = (X @ (W * scale).T).T
    if b is not None:
        S += (b * scale)[:, None]
    cols = np.arange(S.shape[1])
    S -= S.max(axis=0) if kernel is _softmax_dscores else S[y, cols]
    S *= np.ldexp(1.0, shift)
    loss = kernel(S, y, coef, **kwargs)
    dW = S @ X
    db = None if b is None else S.sum(axis=1)
    return loss, dW, db


def softmax_loss(W, b, X, y, *, sample_weight=None):
    """Softmax cross-entropy loss of a linear classifier and its gradients.

    Parameters
    ----------
    W : array-like of shape (n_classes, n_features)
        One weight row (template) per class.
    b : array-like of shape (n_classes,) or None
        Intercepts; None for a model without intercept.
    X : array-like of shape (n_samples, n_features)
        Samples.
    y : array-like of int of shape (n_samples,)
        Class index ``0 .. n_classes - 1`` of each sample.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights; the loss is their weighted mean.

    Returns
    -------
    loss : float
        ``sum_i w_i * l_i / sum_i w_i``.
    dW : ndarray of shape (n_classes, n_features)
        Gradient with respect to ``W``.
    db : ndarray of shape (n_classes,) or None
        Gradient with respect to ``b``; None when ``b`` is None.

    See Also
    --------
    hinge_loss : The multiclass SVM loss.
    sklearn.metrics.log_loss : The same loss of given probabilities.

    Notes
    -----
    With scores ``s = W x_i + b`` and ``p = softmax(s)``::

        l_i = -log p_{y_i} = log(sum_k exp(s_k)) - s_{y_i}
        d l_i / d s = p - onehot(y_i)

    Scores are shifted by their row maximum before ``exp``, so very large
    scores give a finite loss. Scores that overflow the dtype of the inputs
    are computed in float64, and beyond float64's range at an exact
    power-of-two scale: the loss is finite whenever its value fits in
    float64, infinite otherwise, never NaN (this holds for
    :func:`hinge_loss` too).

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.losses import softmax_loss
    >>> W, b = np.zeros((10, 3)), np.zeros(10)
    >>> X, y = np.ones((4, 3)), np.array([0, 1, 2, 3])
    >>> loss, dW, db = softmax_loss(W, b, X, y)
    >>> round(loss, 6), round(float(np.log(10)), 6)
    (2.302585, 2.302585)
    >>> dW.shape, db.shape
    ((10, 3), (10,))
    """
    return _public_loss(_softmax_dscores, W, b, X, y, sample_weight)


def hinge_loss(
    W, b, X, y, *, delta=1.0, multi_class="weston_watkins", sample_weight=None
):
    """Multiclass SVM (hinge) loss of a linear classifier and its gradients.

    Parameters
    ----------
    W : array-like of shape (n_classes, n_features)
        One weight row (template) per class.
    b : array-like of shape (n_classes,) or None
        Intercepts; None for a model without intercept.
    X : array-like of shape (n_samples, n_features)
        Samples.
    y : array-like of int of shape (n_samples,)
        Class index ``0 .. n_classes - 1`` of each sample.
    delta : float, default=1.0
        Margin by which the true class must outscore the others.
    multi_class : {"weston_watkins", "crammer_singer"}, default="weston_watkins"
        Sum over the wrong classes (Weston-Watkins) or maximum over them
        (Crammer-Singer).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights; the loss is their weighted mean.

    Returns
    -------
    loss : float
        ``sum_i w_i * l_i / sum_i w_i``.
    dW : ndarray of shape (n_classes, n_features)
        (Sub)gradient with respect to ``W``.
    db : ndarray of shape (n_classes,) or None
        (Sub)gradient with respect to ``b``; None when ``b`` is None.

    See Also
    --------
    softmax_loss : The cross-entropy loss.
    sklearn.svm.LinearSVC : Solves the Crammer-Singer problem exactly.

    Notes
    -----
    With scores ``s = W x_i + b``::

        weston_watkins: l_i = sum_{j != y_i} max(0, s_j - s_{y_i} + delta)
        crammer_singer: l_i = max(0, max_{j != y_i} s_j - s_{y_i} + delta)

    At a kink (a margin exactly 0, or a tie between the top wrong classes)
    the gradient returned is one valid subgradient.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.losses import hinge_loss
    >>> W, b = np.zeros((10, 3)), np.zeros(10)
    >>> X, y = np.ones((4, 3)), np.array([0, 1, 2, 3])
    >>> hinge_loss(W, b, X, y)[0]
    9.0
    >>> hinge_loss(W, b, X, y, multi_class="crammer_singer")[0]
    1.0
    """
    if multi_class not in ("weston_watkins", "crammer_singer"):
        raise ValueError(
            "multi_class must be 'weston_watkins' or 'crammer_singer'; got "
            f"{multi_class!r}."
        )
    if not isinstance(delta, Real) or not np.isfinite(delta) or delta < 0:
        raise ValueError(f"delta must be a finite number >= 0; got {delta!r}.")
    return _public_loss(
        _KERNELS[multi_class], W, b, X, y, sample_weight, delta=float(delta)
    )


def penalty_value_and_grad(W, penalty="l2", alpha=1e-4, l1_ratio=0.15):
    """Value and (sub)gradient of the weight penalty ``R(W)``.

    Parameters
    ----------
    W : array-like of shape (n_classes, n_features)
        Weights. The intercept is not an argument: it is never penalised,
        since shrinking it towards 0 would favour classes by their index
        rather than by the data (and makes the model depend on the origin of
        the features).
    penalty : {"l2", "l1", "elasticnet"} or None, default="l2"
        Which penalty.
    alpha : float, default=1e-4
        Strength of the penalty.
    l1_ratio : float, default=0.15
        Share of L1 in the elastic net, in ``[0, 1]``.

    Returns
    -------
    value : float
        ``R(W)``.
    grad : ndarray of shape (n_classes, n_features)
        Its gradient; for the L1 part the subgradient ``sign(W)`` (0 at 0).

    Notes
    -----
    ::

        None:        R(W) = 0
        "l2":        R(W) = alpha * 0.5 * ||W||_F^2
        "l1":        R(W) = alpha * sum |W_kj|
        "elasticnet": R(W) = alpha * (l1_ratio * sum |W_kj|
                                      + (1 - l1_ratio) * 0.5 * ||W||_F^2)

    This matches :class:`sklearn.linear_model.SGDClassifier`. The training
    loop does not follow the L1 subgradient: it applies the smooth part as a
    gradient and the L1 part as a proximal (soft-thresholding) step, which
    sets weights to exactly 0.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.losses import penalty_value_and_grad
    >>> W = np.array([[3.0, -4.0]])
    >>> value, grad = penalty_value_and_grad(W, "l2", alpha=0.1)
    >>> value, grad.tolist()
    (1.25, [[0.3, -0.4]])
    >>> penalty_value_and_grad(W, "l1", alpha=0.1)[0]
    0.7
    """
    W = _as_real_array(W, "W")
    if not np.issubdtype(W.dtype, np.floating):
        W = W.astype(np.float64)
    if not isinstance(alpha, Real) or not alpha >= 0:
        raise ValueError(f"alpha must be a number >= 0; got {alpha!r}.")
    if not isinstance(l1_ratio, Real) or not 0 <= l1_ratio <= 1:
        raise ValueError(f"l1_ratio must be a number in [0, 1]; got {l1_ratio!r}.")
    l1, l2 = _penalty_split(penalty, alpha, l1_ratio)
    value = 0.0
    grad = np.zeros_like(W)
    if l2:
        value += l2 * 0.5 * float(np.vdot(W, W))
        grad += l2 * W
    if l1:
        value += l1 * float(np.abs(W).sum())
        grad += l1 * np.sign(W)
    return value, grad


def _penalty_split(penalty, alpha, l1_ratio):
    """Return the L1 and L2 strengths ``(alpha * l1_ratio, alpha * (1 - l1_ratio))``."""
    if penalty is None:
        return 0.0, 0.0
    if penalty == "l2":
        return 0.0, float(alpha)
    if penalty == "l1":
        return float(alpha), 0.0
    if penalty == "elasticnet":
        return float(alpha * l1_ratio), float(alpha * (1 - l1_ratio))
    raise ValueError(
        f"penalty must be 'l2', 'l1', 'elasticnet' or None; got {penalty!r}."
    )
