"""Layers of a neural network as pure forward and backward functions.

Each ``*_forward`` returns ``(out, cache)`` and each ``*_backward`` takes the
upstream gradient ``dout`` (the gradient of the loss with respect to ``out``)
and that cache, and returns the gradients with respect to the layer's inputs,
by the chain rule: ``d loss / d input = dout * d out / d input``. Stacking
them gives a network; running the backward functions in the reverse order is
backpropagation.

Samples are rows: ``x`` has shape (n_samples, n_in) and an affine layer's
weights ``w`` shape (n_in, n_out), as in
:class:`sklearn.neural_network.MLPClassifier`'s ``coefs_``.

The output layers are the losses of :mod:`skcv.losses`:
:func:`softmax_output` and :func:`hinge_output` turn scores into a loss and
``d loss / d scores`` with the same kernels that train the linear models.

The functions take optional ``out`` buffers so that a training loop can run
without allocating; results are the same with or without them.
"""

from numbers import Real

import numpy as np
from numba import njit

from .losses import _KERNELS

__all__ = [
    "affine_backward",
    "affine_forward",
    "batchnorm_backward",
    "batchnorm_forward",
    "dropout_backward",
    "dropout_forward",
    "hinge_output",
    "relu_backward",
    "relu_forward",
    "softmax_output",
    "tanh_backward",
    "tanh_forward",
]


def affine_forward(x, w, b, *, out=None):
    """Affine layer ``x @ w + b``.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_in)
        Inputs.
    w : ndarray of shape (n_in, n_out)
        Weights.
    b : ndarray of shape (n_out,)
        Biases.
    out : ndarray of shape (n_samples, n_out), default=None
        Buffer for the result.

    Returns
    -------
    out : ndarray of shape (n_samples, n_out)
        ``x @ w + b``.
    cache : tuple
        ``(x, w)``, what the backward pass needs.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import affine_forward
    >>> out, _ = affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.arange(4.0))
    >>> out
    array([[3., 4., 5., 6.],
           [3., 4., 5., 6.]])
    """
    out = np.matmul(x, w, out=out)
    out += b
    return out, (x, w)


def affine_backward(dout, cache, *, dx=None, dw=None, db=None, need_dx=True):
    """Gradients of the affine layer.

    For ``out = x @ w + b`` the local gradients give ``dx = dout @ w.T``,
    ``dw = x.T @ dout`` and ``db = dout.sum(axis=0)``: the bias adds to every
    sample, so its gradient sums over them.

    Parameters
    ----------
    dout : ndarray of shape (n_samples, n_out)
        Upstream gradient.
    cache : tuple
        From :func:`affine_forward`.
    dx, dw, db : ndarray, default=None
        Buffers for the results.
    need_dx : bool, default=True
        Whether to compute ``dx``; the first layer of a network does not
        need it, and skipping it saves one matrix product.

    Returns
    -------
    dx : ndarray of shape (n_samples, n_in) or None
    dw : ndarray of shape (n_in, n_out)
    db : ndarray of shape (n_out,)

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import affine_backward, affine_forward
    >>> x, w, b = np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)
    >>> _, cache = affine_forward(x, w, b)
    >>> dx, dw, db = affine_backward(np.ones((2, 4)), cache)
    >>> dx[0], dw[0], db
    (array([4., 4., 4.]), array([2., 2., 2., 2.]), array([2., 2., 2., 2.]))
    """
    x, w = cache
    dw = np.matmul(x.T, dout, out=dw)
    db = np.sum(dout, axis=0, out=db)
    dx = np.matmul(dout, w.T, out=dx) if need_dx else None
    return dx, dw, db


def relu_forward(x, *, out=None):
    """Rectified linear unit ``max(0, x)``.

    Parameters
    ----------
    x : ndarray
        Inputs.
    out : ndarray, default=None
        Buffer for the result; may be ``x`` itself.

    Returns
    -------
    out : ndarray
        ``max(0, x)``.
    cache : ndarray
        ``out``: its positive entries are where the gate lets the gradient
        through.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import relu_forward
    >>> relu_forward(np.array([-1.0, 0.0, 2.0]))[0]
    array([0., 0., 2.])
    """
    out = np.maximum(x, 0, out=out)
    return out, out


def relu_backward(dout, cache, *, out=None):
    """Gradient of the ReLU: ``dout`` where the output is positive, else 0.

    A max gate routes the gradient to the larger of its inputs; at ``x = 0``
    the subgradient 0 is taken.

    Parameters
    ----------
    dout : ndarray
        Upstream gradient.
    cache : ndarray
        From :func:`relu_forward`.
    out : ndarray, default=None
        Buffer for the result; may be ``dout`` itself.

    Returns
    -------
    dx : ndarray
        Gradient with respect to the input.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import relu_backward, relu_forward
    >>> _, cache = relu_forward(np.array([-1.0, 0.0, 2.0]))
    >>> relu_backward(np.array([5.0, 5.0, 5.0]), cache)
    array([0., 0., 5.])
    """
    return _elementwise_backward(
        _relu_backward_kernel, lambda: np.multiply(dout, cache > 0), dout, cache, out
    )


def _elementwise_backward(kernel, fallback, dout, cache, out):
    """``kernel`` over flat views of contiguous arrays, else NumPy's ``fallback``."""
    if out is None:
        out = np.empty_like(dout)
    if dout.flags.c_contiguous and cache.flags.c_contiguous and out.flags.c_contiguous:
        kernel(dout.reshape(-1), cache.reshape(-1), out.reshape(-1))
    else:
        np.copyto(out, fallback())
    return out


@njit(cache=True, nogil=True)
def _relu_backward_kernel(dout, h, out):
    for i in range(dout.shape[0]):
        out[i] = dout[i] if h[i] > 0 else 0


@njit(cache=True, nogil=True)
def _relu_backward_bias_kernel(dz, h, db):
    """``dz = dz * (h > 0)`` in place and ``db = dz.sum(axis=0)``, in one pass."""
    n, k = dz.shape
    db[:] = 0
    # Branch-free, so that the inner loop is vectorised.
    for i in range(n):
        for j in range(k):
            v = dz[i, j] * (h[i, j] > 0)
            dz[i, j] = v
            db[j] += v


@njit(cache=True, nogil=True)
def _bias_relu_kernel(z, b):
    """``z = max(0, z + b)`` in place, rows of ``z`` of length ``len(b)``."""
    n, k = z.shape
    for i in range(n):
        for j in range(k):
            v = z[i, j] + b[j]
            z[i, j] = v if v > 0 else 0


def tanh_forward(x, *, out=None):
    """Hyperbolic tangent.

    Parameters
    ----------
    x : ndarray
        Inputs.
    out : ndarray, default=None
        Buffer for the result; may be ``x`` itself.

    Returns
    -------
    out : ndarray
        ``tanh(x)``.
    cache : ndarray
        ``out``, from which the local gradient ``1 - out**2`` follows.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import tanh_forward
    >>> tanh_forward(np.array([0.0, 100.0]))[0]
    array([0., 1.])
    """
    out = np.tanh(x, out=out)
    return out, out


def tanh_backward(dout, cache, *, out=None):
    """Gradient of tanh: ``dout * (1 - tanh(x)**2)``.

    Parameters
    ----------
    dout : ndarray
        Upstream gradient.
    cache : ndarray
        From :func:`tanh_forward`.
    out : ndarray, default=None
        Buffer for the result; may be ``dout`` itself.

    Returns
    -------
    dx : ndarray
        Gradient with respect to the input.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import tanh_backward, tanh_forward
    >>> _, cache = tanh_forward(np.array([0.0]))
    >>> tanh_backward(np.array([3.0]), cache)
    array([3.])
    """
    return _elementwise_backward(
        _tanh_backward_kernel, lambda: dout * (1 - cache * cache), dout, cache, out
    )


@njit(cache=True, nogil=True)
def _tanh_backward_kernel(dout, t, out):
    for i in range(dout.shape[0]):
        out[i] = dout[i] * (1 - t[i] * t[i])


_ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "tanh": (tanh_forward, tanh_backward),
}


def _check_probability(p):
    if not isinstance(p, Real) or not 0 <= p < 1:
        raise ValueError(f"p must be a number in [0, 1); got {p!r}.")


def dropout_forward(x, p, *, random_state=None, training=True):
    """Inverted dropout: zero each unit with probability ``p``, scale the rest.

    Survivors are multiplied by ``1 / (1 - p)`` during training, so that the
    expected activation equals the input and inference needs no rescaling:
    at inference (``training=False``) the layer is the identity.

    Parameters
    ----------
    x : ndarray
        Inputs.
    p : float
        Probability of dropping a unit, in ``[0, 1)``.
    random_state : int, numpy.random.Generator or None, default=None
        Source of the mask; an int or a Generator makes it reproducible.
    training : bool, default=True
        Drop units (True) or pass ``x`` through (False).

    Returns
    -------
    out : ndarray
        ``x * mask``, of the dtype of ``x``.
    cache : ndarray or None
        The mask, holding 0 and ``1 / (1 - p)``; None at inference.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import dropout_forward
    >>> out, mask = dropout_forward(np.ones((2, 4)), 0.5, random_state=0)
    >>> sorted(set(out.ravel().tolist()))
    [0.0, 2.0]
    >>> dropout_forward(np.ones(3), 0.5, training=False)[0]
    array([1., 1., 1.])
    """
    _check_probability(p)
    if not training or p == 0:
        return x, None
    mask = _dropout_mask(x.shape, p, np.random.default_rng(random_state), x.dtype)
    return x * mask, mask


def _dropout_mask(shape, p, rng, dtype):
    """Inverted-dropout mask: 0 with probability ``p``, else ``1 / (1 - p)``."""
    keep = rng.random(shape, dtype=np.float32) >= p
    mask = keep.astype(dtype)
    mask *= mask.dtype.type(1 / (1 - p))
    return mask


def dropout_backward(dout, cache):
    """Gradient of dropout: the upstream gradient through the same mask.

    Parameters
    ----------
    dout : ndarray
        Upstream gradient.
    cache : ndarray or None
        From :func:`dropout_forward`.

    Returns
    -------
    dx : ndarray
        ``dout * mask`` (``dout`` itself at inference).

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import dropout_backward, dropout_forward
    >>> _, mask = dropout_forward(np.ones(4), 0.5, random_state=0)
    >>> np.array_equal(dropout_backward(np.ones(4), mask), mask)
    True
    """
    if cache is None:
        return dout
    return dout * cache


def batchnorm_forward(
    x,
    gamma,
    beta,
    *,
    running_mean=None,
    running_var=None,
    training=True,
    momentum=0.9,
    eps=1e-5,
):
    """Batch normalisation over the samples, then a learnt scale and shift.

    In training each feature is standardised with the mean and variance of
    the batch; ``running_mean`` and ``running_var``, when given, are then
    updated in place as exponential averages
    (``running = momentum * running + (1 - momentum) * batch``). At
    inference the running statistics are used instead, so a prediction does
    not depend on the other samples of its batch.

    Parameters
    ----------
    x : ndarray of shape (n_samples, n_features)
        Inputs.
    gamma, beta : ndarray of shape (n_features,)
        Scale and shift.
    running_mean, running_var : ndarray of shape (n_features,), default=None
        Running statistics; required at inference.
    training : bool, default=True
        Batch statistics (True) or running statistics (False).
    momentum : float, default=0.9
        Weight of the old running statistics.
    eps : float, default=1e-5
        Added to the variance before the square root.

    Returns
    -------
    out : ndarray of shape (n_samples, n_features)
        ``gamma * (x - mean) / sqrt(var + eps) + beta``.
    cache : tuple or None
        What :func:`batchnorm_backward` needs (None at inference).

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import batchnorm_forward
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
    >>> out, _ = batchnorm_forward(x, np.ones(2), np.zeros(2), eps=0.0)
    >>> out
    array([[-1., -1.],
           [ 1.,  1.]])
    """
    if not training:
        if running_mean is None or running_var is None:
            raise ValueError("Inference needs running_mean and running_var.")
        scale = gamma / np.sqrt(running_var + eps)
        out = (x - running_mean) * scale
        out += beta
        return out, None
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mean) * inv_std
    out = x_hat * gamma
    out += beta
    if running_mean is not None:
        running_mean *= momentum
        running_mean += (1 - momentum) * mean
    if running_var is not None:
        running_var *= momentum
        running_var += (1 - momentum) * var
    return out, (x_hat, gamma, inv_std)


def batchnorm_backward(dout, cache):
    """Gradients of batch normalisation in training mode.

    Every output depends on every sample of the batch through the mean and
    the variance; collapsing those paths of the graph gives::

        dx = inv_std / n * (n * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))

    with ``dx_hat = dout * gamma`` and sums over the samples.

    Parameters
    ----------
    dout : ndarray of shape (n_samples, n_features)
        Upstream gradient.
    cache : tuple
        From :func:`batchnorm_forward` with ``training=True``.

    Returns
    -------
    dx : ndarray of shape (n_samples, n_features)
    dgamma : ndarray of shape (n_features,)
    dbeta : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import batchnorm_backward, batchnorm_forward
    >>> x = np.array([[1.0, 10.0], [3.0, 30.0]])
    >>> _, cache = batchnorm_forward(x, np.ones(2), np.zeros(2))
    >>> dx, dgamma, dbeta = batchnorm_backward(np.ones((2, 2)), cache)
    >>> np.abs(dx).max() < 1e-12, dbeta  # a shift of all outputs changes nothing
    (np.True_, array([2., 2.]))
    """
    x_hat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = n * dx_hat
    dx -= dx_hat.sum(axis=0)
    dx -= x_hat * (dx_hat * x_hat).sum(axis=0)
    dx *= inv_std / n
    return dx, dgamma, dbeta


def _output(kernel, scores, y, sample_weight, **kwargs):
    scores = np.asarray(scores)
    y = np.asarray(y)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError(
            f"scores must be of shape (n_samples, n_classes) and y of shape "
            f"(n_samples,); got {scores.shape} and {y.shape}."
        )
    n = scores.shape[0]
    dtype = np.result_type(scores, np.float32)
    if sample_weight is None:
        coef = dtype.type(1 / n)
    else:
        sample_weight = np.asarray(sample_weight, dtype=dtype)
        coef = sample_weight / sample_weight.sum()
    # The kernels work on class-major scores, in place.
    S = np.array(scores.T, dtype=dtype, order="C")
    loss = kernel(S, y, coef, **kwargs)
    return loss, S.T


def softmax_output(scores, y, *, sample_weight=None):
    """Softmax cross-entropy output layer: mean loss and ``d loss / d scores``.

    The same kernel as :func:`skcv.losses.softmax_loss`, applied to scores
    that come from any network instead of a linear model.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_classes)
        Class scores (logits).
    y : ndarray of shape (n_samples,)
        Class indices.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights; the loss is their weighted mean.

    Returns
    -------
    loss : float
        Mean cross-entropy.
    dscores : ndarray of shape (n_samples, n_classes)
        ``(softmax(scores) - onehot(y)) / n_samples``.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import softmax_output
    >>> loss, dscores = softmax_output(np.zeros((2, 4)), np.array([0, 1]))
    >>> round(loss, 6) == round(float(np.log(4)), 6)
    True
    >>> dscores[0]
    array([-0.375,  0.125,  0.125,  0.125])
    """
    return _output(_KERNELS["softmax"], scores, y, sample_weight)


def hinge_output(
    scores, y, *, delta=1.0, multi_class="weston_watkins", sample_weight=None
):
    """Multiclass hinge output layer: mean loss and ``d loss / d scores``.

    The same kernels as :func:`skcv.losses.hinge_loss`.

    Parameters
    ----------
    scores : ndarray of shape (n_samples, n_classes)
        Class scores.
    y : ndarray of shape (n_samples,)
        Class indices.
    delta : float, default=1.0
        Margin.
    multi_class : {"weston_watkins", "crammer_singer"}, default="weston_watkins"
        Sum or maximum over the wrong classes.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights; the loss is their weighted mean.

    Returns
    -------
    loss : float
        Mean hinge loss.
    dscores : ndarray of shape (n_samples, n_classes)
        A subgradient with respect to the scores.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.layers import hinge_output
    >>> hinge_output(np.zeros((2, 4)), np.array([0, 1]))[0]
    3.0
    """
    if multi_class not in ("weston_watkins", "crammer_singer"):
        raise ValueError(
            "multi_class must be 'weston_watkins' or 'crammer_singer'; got "
            f"{multi_class!r}."
        )
    return _output(_KERNELS[multi_class], scores, y, sample_weight, delta=float(delta))
