"""A fully connected neural network classifier trained by backpropagation.

The math is in :mod:`skcv.layers` (forward and backward of each layer) and
:mod:`skcv.losses` (the output losses); the update rules in ``skcv._optim``
and the training loop in ``skcv._loop``. This
module holds the estimator and :class:`_Network`, which chains the layers
over preallocated buffers for one batch.
"""

from numbers import Integral, Real

import numpy as np
from numba import njit
from sklearn.utils._param_validation import Interval, StrOptions

from ._loop import _SGDState, _Trainable
from ._minibatch import _MinibatchClassifier
from ._optim import _make_optimizer
from ._workers import _n_training_threads, _run_tasks
from .layers import (
    _bias_relu_kernel,
    _dropout_mask,
    _relu_backward_bias_kernel,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    tanh_backward,
)
from .losses import _KERNELS

__all__ = ["NeuralNet"]

_LOSSES = {
    "softmax": (_KERNELS["softmax"], {}),
    "hinge": (_KERNELS["weston_watkins"], {"delta": 1.0}),
}
_BN_MOMENTUM = 0.9
_BN_EPS = 1e-5
# Rows of the training data from which the input offset and scale are taken.
_SCALE_ROWS = 2000
# Multiply-adds of one pass through the weights (rows x weights) below which
# a part of a batch is not worth a thread of its own: handing it over costs
# some 20 microseconds.
_MIN_PART_WORK = 1_000_000


@njit(cache=True, nogil=True)
def _gather_standardise_kernel(X, idx, offset, scale, out):
    """``out = (X[idx] - offset) * scale``: a batch in one pass over its rows."""
    k = X.shape[1]
    for r in range(idx.shape[0]):
        row = idx[r]
        for j in range(k):
            out[r, j] = (X[row, j] - offset) * scale


def _hidden_forward(Z, b, activation, bn, training):
    """Bias (or batch norm), then the activation, of one hidden layer in place.

    ``bn`` is ``(gamma, beta, running_mean, running_var)`` or None. Returns
    the batch-norm cache.
    """
    cache = None
    if bn is not None:
        # No bias: the normalisation would subtract it again (beta shifts).
        out, cache = batchnorm_forward(
            Z,
            bn[0],
            bn[1],
            running_mean=bn[2],
            running_var=bn[3],
            training=training,
            momentum=_BN_MOMENTUM,
            eps=_BN_EPS,
        )
        np.copyto(Z, out)
        if activation == "relu":
            np.maximum(Z, 0, out=Z)
        else:
            np.tanh(Z, out=Z)
    elif activation == "relu":
        _bias_relu_kernel(Z, b)
    else:
        Z += b
        np.tanh(Z, out=Z)
    return cache


def _network_scores(X, coefs, intercepts, activation, bn_stats):
    """Class scores (n_samples, n_classes) at inference (no dropout)."""
    A = X
    for i, (W, b) in enumerate(zip(coefs[:-1], intercepts[:-1])):
        Z = A @ W
        _hidden_forward(
            Z, b, activation, None if bn_stats is None else bn_stats[i], False
        )
        A = Z
    S = A @ coefs[-1]
    S += intercepts[-1]
    return S


class _Network(_Trainable):
    """The network's parameters in one flat buffer, and one batch's computation.

    The parameters of all layers (weights, biases, batch-norm scales and
    shifts) are views into one C-contiguous array, and their gradients into
    another: the optimizer then makes one pass over each per batch. The
    network trains on inputs standardised by one scalar offset and scale
    (see :class:`NeuralNet`); weights are unfolded from and folded back into
    the raw input's units by :meth:`load` and :meth:`published`.
    """

    def __init__(
        self,
        layer_sizes,
        dtype,
        *,
        activation,
        loss,
        alpha,
        dropout,
        batch_norm,
        offset,
        scale,
        dropout_rng=None,
    ):
        self.layer_sizes = tuple(layer_sizes)
        self.dtype = np.dtype(dtype)
        self.activation = activation
        self.kernel, self.kernel_kwargs = _LOSSES[loss]
        self.n_classes = self.layer_sizes[-1]
        self.alpha = self.dtype.type(alpha)
        self.dropout = float(dropout)
        self.batch_norm = batch_norm
        self.offset, self.scale = offset, scale
        self.dropout_rng = dropout_rng
        # BLAS runs single-threaded; the batch's rows are split between up to
        # n_threads threads instead (see skcv._workers).
        self.blas_threads = 1
        self.n_threads = 1
        n_layers = len(self.layer_sizes) - 1
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        # Weights in one flat array, everything else in another: the L2
        # penalty then applies to the whole first array, inside the update.
        w_shapes = list(pairs)
        r_shapes = [(n_out,) for _, n_out in pairs]
        if batch_norm:
            r_shapes += [(n,) for n in self.layer_sizes[1:-1] for _ in range(2)]
        self._shapes = (w_shapes, r_shapes)
        self.params = [
            np.zeros(sum(int(np.prod(s)) for s in shapes), self.dtype)
            for shapes in self._shapes
        ]
        self.grads = [np.zeros_like(flat) for flat in self.params]
        views, grad_views = self._views(self.params), self._views(self.grads)
        self.l2 = [float(alpha), 0.0]
        self.W, self.dW = views[:n_layers], grad_views[:n_layers]
        self.b = views[n_layers : 2 * n_layers]
        self.db = grad_views[n_layers : 2 * n_layers]
        bn_views, bn_grads = views[2 * n_layers :], grad_views[2 * n_layers :]
        self.gamma, self.beta = bn_views[0::2], bn_views[1::2]
        self.dgamma, self.dbeta = bn_grads[0::2], bn_grads[1::2]
        self.running_mean = [np.zeros(n, self.dtype) for n in self.gamma_sizes()]
        self.running_var = [np.ones(n, self.dtype) for n in self.gamma_sizes()]

    def _views(self, flats):
        """Per-layer views into flat arrays laid out like ``params``."""
        views = []
        for flat, shapes in zip(flats, self._shapes):
            start = 0
            for s in shapes:
                size = int(np.prod(s))
                views.append(flat[start : start + size].reshape(s))
                start += size
        return views

    def gamma_sizes(self):
        return list(self.layer_sizes[1:-1]) if self.batch_norm else []

    def bn(self, i):
        if not self.batch_norm:
            return None
        return (self.gamma[i], self.beta[i], self.running_mean[i], self.running_var[i])

    # ----------------------------------------------------------- state

    def load(self, coefs, intercepts, bn_params):
        """Set the parameters from published ones (in the raw input's units)."""
        for dst, src in zip(self.W, coefs):
            np.copyto(dst, src)
        for dst, src in zip(self.b, intercepts):
            np.copyto(dst, src)
        # coefs[0] acts on raw x; internally on (x - offset) * scale.
        self.b[0] += self.offset * coefs[0].sum(axis=0, dtype=np.float64)
        self.W[0] /= self.dtype.type(self.scale)
        if bn_params is not None:
            for i, (g, be, m, v) in enumerate(bn_params):
                np.copyto(self.gamma[i], g)
                np.copyto(self.beta[i], be)
                np.copyto(self.running_mean[i], m)
                np.copyto(self.running_var[i], v)

    def published(self):
        """Copies of the parameters in the raw input's units."""
        coefs = [W.copy() for W in self.W]
        intercepts = [b.copy() for b in self.b]
        coefs[0] *= self.dtype.type(self.scale)
        intercepts[0] -= self.offset * coefs[0].sum(axis=0, dtype=np.float64)
        bn_params = None
        if self.batch_norm:
            bn_params = [
                tuple(a.copy() for a in self.bn(i)) for i in range(len(self.gamma))
            ]
        return coefs, intercepts, bn_params

    def state_arrays(self):
        return [*self.running_mean, *self.running_var]

    # ----------------------------------------------------------- training

    def start(self, batch_size, rng):
        # Every part has room for a whole batch: a smaller last batch may be
        # split into fewer, larger parts (or not at all).
        self.parts = [
            _Part(self, batch_size, own_grads=i > 0)
            for i in range(self._n_parts(batch_size))
        ]
        self.Xs = self.parts[0].Xs

    def _n_parts(self, m):
        """Parts into which a batch of ``m`` rows is split, one per thread."""
        if self.n_threads == 1 or self.batch_norm:
            # Batch norm needs the statistics of the whole batch.
            return 1
        n_weights = sum(W.size for W in self.W)
        min_rows = max(16, -(-_MIN_PART_WORK // n_weights))
        return max(1, min(self.n_threads, m // min_rows))

    def gather(self, X, idx, out):
        """The batch's rows, standardised into the network's own buffer.

        When the batch is split between threads, each part gathers its own
        rows, and this returns the rows to gather.
        """
        if isinstance(idx, slice):
            idx = np.arange(idx.start, idx.stop)
        if len(self.parts) > 1:
            return _Rows(X, idx)
        return self._gather_part(X, idx, self.parts[0])

    def _gather_part(self, X, idx, part):
        Xs = part.Xs[: len(idx)]
        t = self.dtype.type
        _gather_standardise_kernel(X, idx, t(self.offset), t(self.scale), Xs)
        return Xs

    def loss_and_grad(self, Xs, y, coef):
        m = len(y)
        masks = None
        if self.dropout:
            # Drawn here, in one order, so that the masks are the same
            # whatever the number of threads.
            rng = np.random.default_rng(self.dropout_rng)
            masks = [
                _dropout_mask((m, n), self.dropout, rng, self.dtype)
                for n in self.layer_sizes[1:-1]
            ]
        n_parts = min(len(self.parts), self._n_parts(m))
        if n_parts == 1:
            if isinstance(Xs, _Rows):
                Xs = self._gather_part(Xs.X, Xs.idx, self.parts[0])
            return self._part_loss_and_grad(self.parts[0], Xs, y, coef, masks)
        bounds = [m * i // n_parts for i in range(n_parts + 1)]
        losses = [0.0] * n_parts

        def task(i):
            lo, hi = bounds[i], bounds[i + 1]
            part = self.parts[i]
            if isinstance(Xs, _Rows):
                X_part = self._gather_part(Xs.X, Xs.idx[lo:hi], part)
            else:
                X_part = Xs[lo:hi]
            losses[i] = self._part_loss_and_grad(
                part,
                X_part,
                y[lo:hi],
                coef if np.ndim(coef) == 0 else coef[lo:hi],
                None if masks is None else [mask[lo:hi] for mask in masks],
            )

        _run_tasks([lambda i=i: task(i) for i in range(n_parts)])
        # The parts' gradients are sums over their rows: their sum is the
        # batch's, in a fixed order whatever thread finished first.
        for part in self.parts[1:n_parts]:
            for grad, part_grad in zip(self.grads, part.grads):
                grad += part_grad
        return sum(losses)

    def _part_loss_and_grad(self, part, Xs, y, coef, masks):
        """Loss of the rows ``Xs``; their gradients into ``part``'s buffers."""
        m = Xs.shape[0]
        n_hidden = len(self.layer_sizes) - 2
        inputs, bn_caches = [Xs], []
        A = Xs
        for i in range(n_hidden):
            Z = np.matmul(A, self.W[i], out=part.Z[i][:m])
            bn_caches.append(
                _hidden_forward(Z, self.b[i], self.activation, self.bn(i), True)
            )
            A = Z if masks is None else Z * masks[i]
            inputs.append(A)
        S = part.S[: self.layer_sizes[-1] * m].reshape(-1, m)
        np.matmul(self.W[-1].T, A.T, out=S)
        S += self.b[-1][:, None]
        loss = self.kernel(S, y, coef, **self.kernel_kwargs)
        # Backward: S now holds d loss / d scores, class-major.
        np.matmul(A.T, S.T, out=part.dW[-1])
        S.sum(axis=1, out=part.db[-1])
        if n_hidden:
            dA = np.matmul(S.T, self.W[-1].T, out=part.dA[-1][:m])
        for i in reversed(range(n_hidden)):
            if masks is not None:
                dA = dropout_backward(dA, masks[i])
            Z = part.Z[i][:m]
            if self.activation == "relu" and not self.batch_norm:
                _relu_backward_bias_kernel(dA, Z, part.db[i])
            else:
                if self.activation == "relu":
                    dA *= Z > 0
                else:
                    tanh_backward(dA, Z, out=dA)
                if self.batch_norm:
                    dA, dgamma, dbeta = batchnorm_backward(dA, bn_caches[i])
                    np.copyto(self.dgamma[i], dgamma)
                    np.copyto(self.dbeta[i], dbeta)
                    part.db[i].fill(0)
                else:
                    dA.sum(axis=0, out=part.db[i])
            np.matmul(inputs[i].T, dA, out=part.dW[i])
            if i > 0:
                dA = np.matmul(dA, self.W[i].T, out=part.dA[i - 1][:m])
        return loss

    def penalty(self):
        if not self.alpha:
            return 0.0
        return 0.5 * float(self.alpha) * sum(float(np.vdot(W, W)) for W in self.W)

    def standardised(self, X):
        return ((X - self.offset) * self.scale).astype(self.dtype, copy=False)

    def scores(self, X):
        bn = [self.bn(i) for i in range(len(self.gamma))] if self.batch_norm else None
        return _network_scores(
            self.standardised(X), self.W, self.b, self.activation, bn
        )

    def score(self, X, y, sample_weight):
        hit = self.scores(X).argmax(axis=1) == y
        return float(np.average(hit, weights=sample_weight))


class _Rows:
    """Rows ``idx`` of ``X``, to be gathered by the parts of a split batch."""

    def __init__(self, X, idx):
        self.X, self.idx = X, idx


class _Part:
    """Buffers of the rows of a batch that one thread computes.

    The first part writes its gradients into the network's own; the others
    into arrays of their own, which the network then adds up.
    """

    def __init__(self, net, rows, *, own_grads):
        dt = net.dtype
        sizes = net.layer_sizes
        self.Xs = np.empty((rows, sizes[0]), dt)
        self.Z = [np.empty((rows, n), dt) for n in sizes[1:-1]]
        self.dA = [np.empty((rows, n), dt) for n in sizes[1:-1]]
        self.S = np.empty(sizes[-1] * rows, dt)
        n_layers = len(sizes) - 1
        if own_grads:
            self.grads = [np.zeros_like(g) for g in net.grads]
            views = net._views(self.grads)
            self.dW, self.db = views[:n_layers], views[n_layers : 2 * n_layers]
        else:
            self.grads, self.dW, self.db = net.grads, net.dW, net.db


class NeuralNet(_MinibatchClassifier):
    """Fully connected neural network classifier trained by backpropagation.

    Hidden layers ``affine -> [batch norm] -> activation -> [dropout]``,
    then an affine output layer scored by the softmax or multiclass hinge
    loss of :mod:`skcv.losses`. Trained by minibatch Adam (or SGD with
    momentum, or RMSProp) in float32, with the schedules and early stopping
    of the linear models.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
        Width of each hidden layer; ``()`` is a linear model.
    activation : {"relu", "tanh"}, default="relu"
        Activation of the hidden layers.
    loss : {"softmax", "hinge"}, default="softmax"
        Cross-entropy of the softmax, or the Weston-Watkins multiclass hinge
        with margin 1.
    alpha : float, default=1e-4
        Strength of the L2 penalty ``alpha / 2 * sum ||W||^2`` on the
        weights (never on biases or batch-norm parameters), added to the
        mean loss.
    dropout : float, default=0.0
        Probability of dropping each hidden unit during training (inverted
        dropout; nothing is dropped at prediction).
    batch_norm : bool, default=False
        Batch normalisation before each hidden activation. Its shift takes
        the place of the hidden layers' biases, which then stay 0.
    solver : {"adam", "sgd", "rmsprop"}, default="adam"
        Update rule.
    batch_size : int or "auto", default="auto"
        Samples per minibatch; "auto" means ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step size schedule, as in :class:`~skcv.SoftmaxLinear`.
    learning_rate_init : float, default=0.001
        Initial step size.
    power_t : float, default=0.5
        Exponent of the "invscaling" schedule.
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov's momentum with ``solver="sgd"``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's moment estimates (``beta_2`` is RMSProp's
        decay too).
    epsilon : float, default=1e-8
        Adam's and RMSProp's numerical-stability term.
    max_iter : int, default=200
        Maximum number of epochs of ``fit``.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no improvement.
    n_iter_no_change : int, default=10
        ``fit`` stops after more than this many epochs without improvement.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction``, stop when its accuracy
        stops improving and keep the best epoch's weights.
    validation_fraction : float, default=0.1
        Share of the training data held out with ``early_stopping``.
    shuffle : bool, default=True
        New random order of the samples each epoch.
    random_state : int, RandomState instance or None, default=None
        Seed of the initial weights, the shuffling, the dropout masks and the
        validation split; an int makes ``fit`` reproducible bit for bit.
    warm_start : bool, default=False
        Whether ``fit`` starts from the previous fit's weights.
    verbose : int, default=0
        Print the loss after each epoch when positive.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coefs_ : list of ndarray
        ``coefs_[i]`` of shape (n_in, n_out): the weights of layer ``i``, in
        float32, acting on the raw input for the first layer.
    intercepts_ : list of ndarray
        ``intercepts_[i]`` of shape (n_out,): the biases of layer ``i``.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units (classes).
    out_activation_ : str
        "softmax" or "identity" (hinge).
    n_iter_ : int
        Epochs run by the last ``fit`` (1 after ``partial_fit``).
    t_ : int
        Samples seen over all calls.
    loss_curve_ : list of float
        Objective (mean data loss over the epoch's batches plus penalty) of
        each epoch.
    best_loss_ : float or None
        Lowest value of ``loss_curve_`` in the last ``fit``; None with
        ``early_stopping``.
    validation_scores_ : list of float or None
        Validation accuracy of each epoch with ``early_stopping``.
    train_scores_ : list of float or None
        With ``early_stopping``, the accuracy after each epoch on as many
        evenly spaced training rows as there are validation rows, to draw
        beside ``validation_scores_``; else None.
    best_validation_score_ : float or None
        Best of ``validation_scores_``.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when X has string column
        names.

    See Also
    --------
    SoftmaxLinear : The network without hidden layers.
    sklearn.neural_network.MLPClassifier : scikit-learn's network, whose
        parameter names are used here.

    Notes
    -----
    Hidden weights start from He initialisation (normal with variance
    ``2 / n_in``) for ReLU and ``1 / n_in`` for tanh and the output layer;
    biases from 0.

    The network trains on ``(x - offset) * scale`` with one scalar offset and
    scale, the mean and inverse standard deviation of the training pixels
    (from up to 2000 evenly spaced rows of the first ``fit``). Its training
    is therefore the same whether pixels are in [0, 255], [0, 1] or
    standardised, and Adam's fixed step size suits all of them. The scaling
    is folded into ``coefs_[0]`` and ``intercepts_[0]``, which act on the raw
    input.

    Each batch's rows are split between as many threads as BLAS may use
    (the limit of ``threadpoolctl.threadpool_limits``, ``OMP_NUM_THREADS`` or
    ``OPENBLAS_NUM_THREADS``; one thread when ``fit`` runs outside the main
    thread, and with ``batch_norm``), each calling single-threaded BLAS.
    Fits at a given thread count are bit-identical; across counts the
    gradients are summed in a different order, which changes the weights by
    float32 rounding only.

    If the loss or the weights diverge, ``fit`` raises a ``ValueError`` and
    keeps the weights of the last finished epoch; an interrupt (Ctrl-C)
    restores them too and is passed on, as in :class:`~skcv.SoftmaxLinear`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skcv import NeuralNet
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = NeuralNet(random_state=0)
    >>> clf.fit(X[:1500], y[:1500]).score(X[1500:], y[1500:]) > 0.9
    True
    >>> clf.n_iter_ < clf.max_iter  # stopped: the loss no longer improved
    True
    >>> [W.shape for W in clf.coefs_]
    [(64, 100), (100, 10)]
    """

    _dtype = np.float32
    _initialised_attribute = "coefs_"

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions({"relu", "tanh"})],
        "loss": [StrOptions(set(_LOSSES))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "solver": [StrOptions({"adam", "sgd", "rmsprop"})],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes=(100,),
        activation="relu",
        loss="softmax",
        alpha=1e-4,
        dropout=0.0,
        batch_norm=False,
        solver="adam",
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.alpha = alpha
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # ----------------------------------------------------------- helpers

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(
            not isinstance(s, Integral) or isinstance(s, bool) or s < 1 for s in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must hold positive integers; got "
                f"{self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _network(self):
        return _Network(
            [self.n_features_in_, *self._hidden_sizes(), len(self.classes_)],
            np.float32,
            activation=self.activation,
            loss=self.loss,
            alpha=self.alpha,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
            offset=self._input_offset,
            scale=self._input_scale,
            dropout_rng=self._dropout_rng,
        )

    def _new_state(self):
        params = self._network().params
        options = {
            "sgd": {"momentum": self.momentum, "nesterov": self.nesterovs_momentum},
            "rmsprop": {"rho": self.beta_2, "epsilon": self.epsilon},
            "adam": {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
            },
        }[self.solver]
        optimizer = _make_optimizer(
            self.solver, params, self.learning_rate_init, **options
        )
        return _SGDState(optimizer=optimizer)

    def _initialise(self, X, sample_weight):
        """Input scaling from the data, He-initialised weights, fresh state."""
        step = max(1, X.shape[0] // _SCALE_ROWS)
        rows = X[::step].astype(np.float64)
        # Weighted, so that a weight of 2 acts like a repeated row here too.
        w = None if sample_weight is None else sample_weight[::step]
        if w is not None and not w.sum() > 0:
            w = None
        w_rows = None if w is None else np.broadcast_to(w[:, None], rows.shape)
        offset = float(np.average(rows, weights=w_rows))
        std = float(np.sqrt(np.average((rows - offset) ** 2, weights=w_rows)))
        self._input_offset = offset
        self._input_scale = 1.0 / std if std > 0 else 1.0
        # The masks' own stream, kept across partial_fit calls.
        rng = self._random_state
        self._dropout_rng = np.random.default_rng(rng.randint(np.iinfo(np.int32).max))
        net = self._network()
        sizes = net.layer_sizes
        for i, W in enumerate(net.W):
            hidden = i < len(net.W) - 1
            gain = 2.0 if hidden and self.activation == "relu" else 1.0
            W[...] = rng.standard_normal(W.shape) * np.sqrt(gain / sizes[i])
        if net.batch_norm:
            for g in net.gamma:
                g.fill(1)
        self.coefs_, self.intercepts_, self._bn_params = net.published()
        self._sgd_state = self._new_state()

    def _check_warm_start(self, X):
        if self.coefs_[0].shape[0] != X.shape[1]:
            raise ValueError(
                f"warm_start needs X to have the {self.coefs_[0].shape[0]} "
                f"features of the previous fit; got {X.shape[1]}."
            )
        if self._hidden_sizes() != [W.shape[1] for W in self.coefs_[:-1]]:
            raise ValueError(
                "warm_start needs the hidden_layer_sizes of the previous fit."
            )

    def _trainable(self, X, sample_weight):
        net = self._network()
        net.load(self.coefs_, self.intercepts_, self._bn_params)
        net.n_threads = _n_training_threads()
        return net

    def _publish(self, net):
        self.coefs_, self.intercepts_, self._bn_params = net.published()
        self.n_layers_ = len(net.layer_sizes)
        self.n_outputs_ = net.layer_sizes[-1]
        self.out_activation_ = "softmax" if self.loss == "softmax" else "identity"

    def _raw_scores(self, X):
        return _network_scores(
            X, self.coefs_, self.intercepts_, self.activation, self._bn_params
        )

    def _has_proba(self):
        return self.loss == "softmax"

    def _training_dtype(self):
        return np.dtype(np.float32)
