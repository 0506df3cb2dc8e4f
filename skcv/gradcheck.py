"""Numerical gradient checks: compare an analytic gradient with centred differences.

The recipe is the one taught in CS231n: evaluate ``f(x + h) - f(x - h)`` over
``2 h`` one coordinate at a time and compare with the analytic gradient by the
relative error ``|a - b| / max(|a| + |b|, tiny)``. In float64 a correct
gradient of a smooth function typically gives errors below ``1e-7``; errors
near ``1e-2`` or above mean a bug, or a kink (such as a hinge) within ``h`` of
the point.

Nothing non-finite passes silently: a NaN or an infinity in the value, in an
analytic gradient or in a numerical one makes :func:`check_gradient` return
NaN, as :func:`relative_error` and :func:`scipy.optimize.check_grad` do.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["check_gradient", "numerical_gradient", "relative_error"]


def _check_perturbable(x, name):
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(
            f"{name} must be a NumPy array of floats that can be perturbed in "
            f"place; got {type(x).__name__}"
            + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else "")
            + "."
        )
    if not x.flags.writeable:
        raise ValueError(f"{name} is read-only; pass a writeable copy.")


def _check_step(h):
    if h is None:
        return
    if not isinstance(h, Real) or not np.isfinite(h) or h <= 0:
        raise ValueError(f"h must be a finite number > 0; got {h!r}.")


def _step(h, x, name, warn=True):
    """The step for ``x``: ``h``, or when None one suited to ``x.dtype``.

    The rounding error of a centred difference is about ``eps |f| / h`` and
    its truncation error grows like ``h^2``; ``h = eps ** (1 / 3)`` balances
    them (1e-5 is kept for float64; float32 gets 4.9e-3). A step below
    ``sqrt(eps)`` leaves less than half of the digits of the difference: the
    check then measures rounding, which a warning says.
    """
    eps = float(np.finfo(x.dtype).eps)
    if h is None:
        return 1e-5 if x.dtype == np.float64 else float(eps ** (1 / 3))
    if warn and h < np.sqrt(eps):
        warnings.warn(
            f"h={h:g} is too small for the {x.dtype} {name}: its rounding error "
            f"(machine epsilon {eps:.1e}) swamps the centred differences. Use "
            "h=None (a step chosen from the dtype) or float64.",
            RuntimeWarning,
            stacklevel=3,
        )
    return float(h)


def _centred_differences(f, x, flat_indices, h):
    """Centred differences of ``f`` along the given coordinates of ``x``.

    ``x`` is perturbed in place, so ``f`` may read it either from its
    argument or through a closure, and every coordinate is restored to its
    exact old value afterwards.
    """
    out = np.empty(len(flat_indices), dtype=np.float64)
    for k, flat in enumerate(flat_indices):
        ix = np.unravel_index(flat, x.shape)
        old = x[ix]
        try:
            x[ix] = old + h
            f_plus = float(f(x))
            x[ix] = old - h
            f_minus = float(f(x))
        finally:
            x[ix] = old
        out[k] = (f_plus - f_minus) / (2 * h)
    return out


def numerical_gradient(f, x, h=None):
    """Gradient of a scalar function by centred differences.

    Parameters
    ----------
    f : callable
        ``f(x) -> float``. It may also read ``x`` through a closure: ``x`` is
        perturbed in place.
    x : ndarray of float
        Point at which to differentiate, of any shape. Each coordinate is
        moved by ``+h`` and ``-h`` and then restored exactly, so ``x`` is left
        unchanged.
    h : float, default=None
        Step. None chooses it from the dtype of ``x``: 1e-5 for float64,
        ``eps ** (1 / 3)`` otherwise (4.9e-3 for float32).

    Returns
    -------
    grad : ndarray of shape x.shape, dtype float64
        ``(f(x + h e_i) - f(x - h e_i)) / (2 h)`` for each coordinate ``i``.

    Notes
    -----
    The truncation error is ``O(h^2)`` and the rounding error
    ``O(eps |f| / h)``; ``h = 1e-5`` balances the two in float64. This costs
    ``2 * x.size`` calls of ``f``, so check small problems.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.gradcheck import numerical_gradient
    >>> x = np.array([[1.0, -2.0], [0.5, 3.0]])
    >>> numerical_gradient(lambda v: float(np.sum(v**2)), x)
    array([[ 2., -4.],
           [ 1.,  6.]])
    """
    _check_perturbable(x, "x")
    _check_step(h)
    # No warning here: sweeping h into the rounding regime is a use of it.
    h = _step(h, x, "x", warn=False)
    return _centred_differences(f, x, range(x.size), h).reshape(x.shape)


_TINY = np.finfo(np.float64).tiny


def relative_error(a, b, *, tiny=_TINY):
    """Largest elementwise relative error between two arrays.

    Parameters
    ----------
    a, b : array-like
        Arrays of the same shape, such as an analytic and a numerical
        gradient.
    tiny : float, default=np.finfo(np.float64).tiny
        Floor of the denominator, so that two exact zeros compare as equal.

    Returns
    -------
    error : float
        ``max_i |a_i - b_i| / max(|a_i| + |b_i|, tiny)``, in ``[0, 1]``
        (0 for empty arrays); NaN when an entry of either array is NaN or
        infinite.

    Examples
    --------
    >>> from skcv.gradcheck import relative_error
    >>> relative_error([1.0, 0.0], [1.0, 0.0])
    0.0
    >>> relative_error([1.0, 2.0], [1.0, 2.2])
    0.0476...
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b differ in shape: {a.shape} and {b.shape}.")
    if a.size == 0:
        return 0.0
    # inf - inf and inf / inf give the NaN that reports a non-finite entry.
    with np.errstate(invalid="ignore"):
        denom = np.maximum(np.abs(a) + np.abs(b), tiny)
        return float(np.max(np.abs(a - b) / denom))


def check_gradient(f_and_grad, params, *, h=None, n_coords=None, random_state=None):
    """Compare an analytic gradient with the numerical one.

    Parameters
    ----------
    f_and_grad : callable
        ``f_and_grad(*params) -> (value, grad_0, grad_1, ...)`` with one
        gradient per parameter, each of that parameter's shape, such as
        :func:`skcv.losses.softmax_loss` with its data bound.
    params : ndarray or sequence of ndarray
        The point. Each array is perturbed in place and restored.
    h : float, default=None
        Step of the centred differences. None chooses it from each
        parameter's dtype as :func:`numerical_gradient` does; a step below
        the square root of the dtype's machine epsilon gives a
        ``RuntimeWarning``, since the check then measures rounding.
    n_coords : int, default=None
        Check only this many randomly chosen coordinates of each parameter
        (all of them when None, or when a parameter has fewer).
    random_state : int, RandomState instance or None, default=None
        Chooses the coordinates when ``n_coords`` is set.

    Returns
    -------
    error : float
        The largest relative error (see :func:`relative_error`) over the
        checked coordinates of all parameters. NaN when the value, any entry
        of any analytic gradient (checked or not) or any numerical
        derivative is NaN or infinite: a broken gradient never passes as a
        perfect one.

    See Also
    --------
    numerical_gradient : The centred differences alone.

    Examples
    --------
    >>> import numpy as np
    >>> from skcv.gradcheck import check_gradient
    >>> from skcv.losses import softmax_loss
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 5)), rng.integers(0, 3, 20)
    >>> W, b = rng.normal(size=(3, 5)), rng.normal(size=3)
    >>> check_gradient(lambda W, b: softmax_loss(W, b, X, y), [W, b]) < 1e-7
    True
    """
    single = isinstance(params, np.ndarray)
    params = [params] if single else list(params)
    for i, p in enumerate(params):
        _check_perturbable(p, f"params[{i}]")
    _check_step(h)
    if n_coords is not None and (
        not isinstance(n_coords, Integral) or isinstance(n_coords, bool) or n_coords < 1
    ):
        raise ValueError(f"n_coords must be a positive integer; got {n_coords!r}.")
    rng = check_random_state(random_state)

    out = f_and_grad(*params)
    if not isinstance(out, tuple) or len(out) != len(params) + 1:
        raise ValueError(
            f"f_and_grad must return (value, grad) with one gradient per "
            f"parameter, i.e. a tuple of {len(params) + 1} items."
        )
    grads = [np.asarray(grad) for grad in out[1:]]
    for p, grad in zip(params, grads):
        if grad.shape != p.shape:
            raise ValueError(
                f"A gradient has shape {grad.shape}, its parameter {p.shape}."
            )
    if not np.isfinite(float(out[0])) or not all(
        np.isfinite(grad).all() for grad in grads
    ):
        return float("nan")
    # np.max, not max(): Python's max(0.0, nan) is 0.0.
    errors = [0.0]
    for i, (p, grad) in enumerate(zip(params, grads)):
        if n_coords is None or n_coords >= p.size:
            flat = np.arange(p.size)
        else:
            flat = rng.choice(p.size, size=n_coords, replace=False)
        step = _step(h, p, f"params[{i}]")
        numeric = _centred_differences(lambda _: f_and_grad(*params)[0], p, flat, step)
        errors.append(relative_error(grad.reshape(-1)[flat], numeric))
    return float(np.max(errors))
