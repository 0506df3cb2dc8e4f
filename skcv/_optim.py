"""Update rules of stochastic gradient descent over a list of parameter arrays.

An optimizer knows nothing of the model: it receives the parameter arrays
once, keeps one state array per parameter (velocities, moment estimates),
and ``update(params, grads, l2)`` moves each parameter in place by its
gradient. ``l2`` holds one coefficient per array: the gradient ``l2 * p``
of an L2 penalty is added inside the update's own pass over the array
rather than by the model in another one.
Every array keeps its dtype: float32 parameters train in float32.

The step size lives in ``learning_rate``, which the training loop of
``skcv._loop`` sets from its schedule; the rules are those of
:class:`sklearn.neural_network.MLPClassifier` (SGD with momentum or
Nesterov's momentum, Adam) plus RMSProp.

The automatic step size of the linear models, :func:`_auto_learning_rate`,
lives here too.

The element-wise rules run as one compiled pass per array: the optimizer
step is otherwise a string of NumPy operations, each reading and writing
every parameter, which costs as much as the network's own products.
"""

import numpy as np
from numba import njit

__all__: list[str] = []


class _Optimizer:
    """What every update rule shares: its state arrays, named in ``_state``."""

    _state: tuple = ()

    def state_arrays(self):
        return [a for name in self._state for a in getattr(self, name)]

    def astype(self, dtype):
        """Cast the state arrays (after the parameters changed dtype)."""
        for name in self._state:
            setattr(self, name, [a.astype(dtype) for a in getattr(self, name)])
        return self


class _SGDOptimizer(_Optimizer):
    """SGD with (Nesterov) momentum.

    ``v <- momentum * v - lr * g``, then ``p += v`` or, with Nesterov,
    ``p += momentum * v - lr * g``. The velocity carries the learning rate,
    as in MLPClassifier, so that a proximal step can adjust it (see
    ``skcv.linear``).
    """

    _state = ("velocities",)

    def __init__(self, params, learning_rate_init=0.1, momentum=0.9, nesterov=True):
        self.learning_rate = float(learning_rate_init)
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.velocities = [np.zeros_like(p) for p in params]

    def update(self, params, grads, l2=None):
        """Move every parameter in place; ``grads`` are overwritten."""
        lr, momentum = self.learning_rate, self.momentum
        for p, v, g, c in zip(params, self.velocities, grads, _coefs(l2, params)):
            if c:
                _add_scaled(g.reshape(-1), p.reshape(-1), p.dtype.type(c))
            g *= lr
            if momentum == 0:
                p -= g
                continue
            v *= momentum
            v -= g
            if self.nesterov:
                # p += momentum * v - lr * g, in one pass, rounded as
                # (p - lr * g) + momentum * v in the parameters' dtype.
                _axpy_minus(
                    p.reshape(-1), v.reshape(-1), g.reshape(-1), p.dtype.type(momentum)
                )
            else:
                p += v


def _coefs(l2, params):
    return [0.0] * len(params) if l2 is None else l2


@njit(cache=True, nogil=True)
def _add_scaled(g, p, c):
    for i in range(g.shape[0]):
        g[i] += c * p[i]


@njit(cache=True, nogil=True)
def _axpy_minus(p, v, g, a):
    for i in range(p.shape[0]):
        p[i] = (p[i] - g[i]) + a * v[i]


class _RMSPropOptimizer(_Optimizer):
    """RMSProp: steps scaled by a running root mean square of the gradients.

    ``s <- rho * s + (1 - rho) * g**2``, ``p -= lr * g / (sqrt(s) + eps)``.
    """

    _state = ("squares",)

    def __init__(self, params, learning_rate_init=0.001, rho=0.9, epsilon=1e-8):
        self.learning_rate = float(learning_rate_init)
        self.rho = float(rho)
        self.epsilon = float(epsilon)
        self.squares = [np.zeros_like(p) for p in params]

    def update(self, params, grads, l2=None):
        for p, s, g, c in zip(params, self.squares, grads, _coefs(l2, params)):
            t = p.dtype.type
            _rmsprop_kernel(
                p.reshape(-1),
                g.reshape(-1),
                s.reshape(-1),
                t(c),
                t(self.learning_rate),
                t(self.rho),
                t(1 - self.rho),
                t(self.epsilon),
            )


# error_model="numpy" drops the division-by-zero checks that keep the loop
# from being vectorised; fastmath lets it use the SIMD square root.
@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _rmsprop_kernel(p, g, s, l2, lr, rho, rho_c, eps):
    for i in range(p.shape[0]):
        gi = g[i] + l2 * p[i]
        si = rho * s[i] + rho_c * gi * gi
        s[i] = si
        p[i] -= lr * gi / (np.sqrt(si) + eps)


class _AdamOptimizer(_Optimizer):
    """Adam (Kingma and Ba, 2014), in scikit-learn's formulation.

    With step ``t`` counted from 1::

        m <- beta_1 * m + (1 - beta_1) * g
        v <- beta_2 * v + (1 - beta_2) * g**2
        p -= lr * sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (sqrt(v) + eps)
    """

    _state = ("ms", "vs")

    def __init__(
        self,
        params,
        learning_rate_init=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
    ):
        self.learning_rate = float(learning_rate_init)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.t = 0
        self.ms = [np.zeros_like(p) for p in params]
        self.vs = [np.zeros_like(p) for p in params]

    def update(self, params, grads, l2=None):
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        lr_t = self.learning_rate * np.sqrt(1 - b2**self.t) / (1 - b1**self.t)
        for p, m, v, g, c in zip(params, self.ms, self.vs, grads, _coefs(l2, params)):
            t = p.dtype.type
            _adam_kernel(
                p.reshape(-1),
                g.reshape(-1),
                m.reshape(-1),
                v.reshape(-1),
                t(c),
                t(lr_t),
                t(b1),
                t(1 - b1),
                t(b2),
                t(1 - b2),
                t(self.epsilon),
            )


@njit(cache=True, nogil=True, fastmath=True, error_model="numpy")
def _adam_kernel(p, g, m, v, l2, lr_t, b1, b1_c, b2, b2_c, eps):
    # The complements 1 - b come in typed: a literal 1 would promote float32
    # arithmetic to float64.
    for i in range(p.shape[0]):
        gi = g[i] + l2 * p[i]
        mi = b1 * m[i] + b1_c * gi
        vi = b2 * v[i] + b2_c * gi * gi
        m[i] = mi
        v[i] = vi
        p[i] -= lr_t * mi / (np.sqrt(vi) + eps)


def _make_optimizer(solver, params, learning_rate_init, **options):
    """The optimizer of ``solver`` ("sgd", "rmsprop" or "adam") over ``params``.

    Every array of ``params`` must be C-contiguous (the rules run over flat
    views). ``options`` holds that solver's settings: ``momentum`` and
    ``nesterov`` for SGD, ``rho`` and ``epsilon`` for RMSProp, ``beta_1``,
    ``beta_2`` and ``epsilon`` for Adam.
    """
    for p in params:
        if not p.flags.c_contiguous:
            raise ValueError("Optimizer parameters must be C-contiguous arrays.")
    return _SOLVERS[solver](params, learning_rate_init, **options)


_SOLVERS = {
    "sgd": _SGDOptimizer,
    "rmsprop": _RMSPropOptimizer,
    "adam": _AdamOptimizer,
}


def _top_eigenvalue(
    X,
    offset,
    sample_weight=None,
    *,
    intercept=True,
    n_rows=2048,
    max_iter=100,
    rtol=1e-4,
):
    """Largest eigenvalue of ``Z.T @ diag(w) @ Z / sum(w)``, Z = ``[X - offset, 1]``.

    With ``offset=None``, Z is X itself (no intercept); with
    ``intercept=False``, Z is ``X - offset``. ``w`` are the sample
    weights (1 by default). Power iteration on at most ``n_rows`` rows taken
    at a fixed stride, from a fixed random start: deterministic, and a few
    milliseconds.
    """
    # At most 2**24 numbers (128 MiB) for very wide images, and 64 rows.
    n_rows = min(n_rows, max(64, 2**24 // max(1, X.shape[1])))
    stride = max(1, -(-X.shape[0] // n_rows))
    Z = np.array(X[::stride], dtype=np.float64)
    w8 = None
    if sample_weight is not None:
        w8 = np.asarray(sample_weight[::stride], dtype=np.float64)
        w8 = w8 / w8.sum() if w8.sum() > 0 else None
    if offset is not None:
        Z -= offset
        if intercept:
            Z = np.hstack([Z, np.ones((Z.shape[0], 1))])
    v = np.random.default_rng(0).standard_normal(Z.shape[1])
    v /= np.linalg.norm(v)
    value = 0.0
    for _ in range(max_iter):
        u = Z @ v
        if w8 is None:
            u /= Z.shape[0]
        else:
            u *= w8
        w = Z.T @ u
        new = float(np.linalg.norm(w))
        if new == 0.0:
            return 0.0
        v = w / new
        done = abs(new - value) <= rtol * new
        value = new
        if done:
            break
    return value


def _auto_learning_rate(
    X, offset, sample_weight=None, *, curvature, alpha, batch_size, intercept=True
):
    """The step size of ``learning_rate_init="auto"``: ``1 / L``.

    ``L`` bounds the curvature that a step on a minibatch of ``batch_size``
    samples sees (Gower et al., 2019, "SGD: general analysis and improved
    rates"): the largest eigenvalue of the second-moment matrix of the rows
    as the loop sees them (``X - offset``, plus a column of ones for the
    intercept when ``offset`` is given), which is the curvature of the full
    objective, plus the mean squared row norm times ``(n - m) / (m (n -
    1))`` for batches of m out of n samples, the share of a single batch's
    noise (none for the full batch); times ``curvature``, the loss's own
    second derivative in the scores; plus ``alpha``. The mean squared norm
    stands in for the maximum that SAG uses, which a single outlier row
    (e.g. standardised pixels that are almost always 0) can blow up a
    thousandfold. With heavy-ball momentum ``mu``, steps up to ``2 (1 + mu)
    / L`` are stable on a quadratic. Means are weighted by ``sample_weight``
    and ``offset`` must be the (weighted) mean of the rows, or None.

    ``intercept=False`` leaves the ones column out: the step of the weights
    alone. Centred rows make the second-moment matrix block diagonal, so
    the intercept's block is its own, of curvature ``curvature`` (a column
    of ones has no minibatch noise).
    """
    n_samples = X.shape[0]
    m = min(batch_size, n_samples)
    if sample_weight is None:
        # BLAS's dot product: no float64 copy of X; its rounding is far below
        # what a step size needs.
        sq_norm = float(np.vdot(X, X)) / n_samples
    else:
        row_norms = np.einsum("ij,ij->i", X, X)
        sq_norm = float(np.average(row_norms, weights=sample_weight))
    if offset is not None:
        # mean ||x - offset||^2 for the mean as offset, plus the ones column
        ones = 1.0 if intercept else 0.0
        sq_norm = max(sq_norm + ones - float(np.dot(offset, offset)), ones)
    noise = sq_norm * (n_samples - m) / (m * (n_samples - 1)) if n_samples > 1 else 0
    top = _top_eigenvalue(X, offset, sample_weight, intercept=intercept)
    L = curvature * (top + noise) + alpha
    if not (np.isfinite(L) and L > 0):
        # All-zero data without intercept and without penalty: no curvature.
        return 1.0
    return 1.0 / L
