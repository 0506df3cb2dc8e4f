"""
=======================================
A neural network, layer by layer
=======================================

:class:`~skcv.NeuralNet` chains the layers of :mod:`skcv.layers` and trains
them by backpropagation (see :ref:`backprop`). This example checks the
gradient of every layer against numerical differences, trains a network on
the digits and draws its first-layer weights, and measures test accuracy
against the width of the hidden layer.
"""

# %%
# Gradient check of each layer
# ----------------------------
# Each backward function is checked through the scalar ``sum(out * R)`` with
# a random ``R``: its gradient with respect to the layer's output is ``R``,
# so the backward function called with ``R`` must agree with centred
# differences, in float64, for every input of the layer.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcv import NeuralNet, PixelFlatten, SoftmaxLinear
from skcv.datasets import load_digits_images
from skcv.gradcheck import check_gradient
from skcv.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_output,
    tanh_backward,
    tanh_forward,
)

rng = np.random.default_rng(0)
x = rng.normal(size=(8, 5))
x[np.abs(x) < 0.1] = 0.5  # away from the ReLU's kink at 0
w, b = rng.normal(size=(5, 4)), rng.normal(size=4)
gamma, beta = rng.normal(size=5), rng.normal(size=5)
y = rng.integers(0, 4, 8)


def through(forward, backward, R):
    """``f`` for check_gradient: sum(out * R) and the backward's gradients."""

    def f(*inputs):
        out, cache = forward(*inputs)
        grads = backward(R, cache)
        return float(np.sum(out * R)), *(
            grads if isinstance(grads, tuple) else (grads,)
        )

    return f


R4, R5 = rng.normal(size=(8, 4)), rng.normal(size=(8, 5))
checks = {
    "affine": (through(affine_forward, affine_backward, R4), [x, w, b]),
    "relu": (through(relu_forward, relu_backward, R5), [x]),
    "tanh": (through(tanh_forward, tanh_backward, R5), [x]),
    "dropout (fixed mask)": (
        through(
            lambda x: dropout_forward(x, 0.5, random_state=0), dropout_backward, R5
        ),
        [x],
    ),
    "batch norm": (
        through(batchnorm_forward, batchnorm_backward, R5),
        [x, gamma, beta],
    ),
    "softmax output": (lambda s: softmax_output(s, y), [x[:, :4].copy()]),
}
errors = {name: check_gradient(f, params) for name, (f, params) in checks.items()}
for name, error in errors.items():
    print(f"{name:22s} relative error {error:.1e}")

# %%
# Every error is far below the :math:`10^{-6}` that flags a bug in float64.
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(errors), list(errors.values()))
ax.set_xscale("log")
ax.set_xlabel("largest relative error against centred differences")
ax.axvline(1e-6, color="C3", linestyle="--")
fig.tight_layout()

# %%
# The first layer's weights
# -------------------------
# A network with 64 hidden units learns the digits; each column of
# ``coefs_[0]`` is the pattern of pixels a hidden unit responds to, drawn
# like the templates of a linear model. The digits are few (1,257 training
# images), so batches of 32 give more steps per epoch than the default 200.
digits = load_digits_images()
X = PixelFlatten().fit_transform(digits.images)
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.3, stratify=digits.target, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

net = NeuralNet(
    hidden_layer_sizes=(64,), batch_size=32, early_stopping=True, random_state=0
)
net.fit(X_train, y_train)
print(f"test accuracy {net.score(X_test, y_test):.3f} after {net.n_iter_} epochs")

fig, axes = plt.subplots(4, 8, figsize=(8, 4.4))
for unit, ax in enumerate(axes.ravel()):
    weights = net.coefs_[0][:, unit].reshape(8, 8)
    limit = np.abs(weights).max()
    ax.imshow(weights, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_axis_off()
fig.suptitle("first-layer weights of 32 of the 64 hidden units")

# %%
# Training and validation accuracy per epoch, recorded with early stopping:
fig, ax = plt.subplots(figsize=(6, 3.5))
epochs = np.arange(1, net.n_iter_ + 1)
ax.plot(epochs, net.train_scores_, label="training")
ax.plot(epochs, net.validation_scores_, label="validation")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy")
ax.legend()

# %%
# Accuracy against the width of the hidden layer
# ----------------------------------------------
# A hidden layer of a handful of units is a bottleneck below the linear
# model; a few dozen units beat it. Each point is the mean over two seeds.
widths = [2, 4, 8, 16, 32, 64, 128]
accuracy = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for width in widths:
        scores = [
            NeuralNet(
                hidden_layer_sizes=(width,),
                batch_size=32,
                max_iter=60,
                random_state=seed,
            )
            .fit(X_train, y_train)
            .score(X_test, y_test)
            for seed in range(2)
        ]
        accuracy.append(np.mean(scores))
    linear = SoftmaxLinear(random_state=0).fit(X_train, y_train).score(X_test, y_test)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(widths, accuracy, "o-", base=2, label="NeuralNet, one hidden layer")
ax.axhline(linear, color="C1", linestyle="--", label="SoftmaxLinear")
ax.set_xlabel("hidden units")
ax.set_ylabel("test accuracy")
ax.legend()
plt.show()
