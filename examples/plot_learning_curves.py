"""
=======================================
Learning curves and early stopping
=======================================

The loss curve is the first thing to look at after training a model by
gradient descent (see :ref:`optimization`). This example trains
:class:`~skcv.SoftmaxLinear` on the digits with several learning rates,
then uses a validation set to stop training at the right time, and follows
training and validation accuracy epoch by epoch with ``partial_fit``.
"""

# %%
# The data
# --------
# The pixels are flattened and standardised once, outside the models, so that
# the loops below only train.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skcv import PixelFlatten, SoftmaxLinear
from skcv.datasets import load_digits_images
from skcv.plotting import plot_loss_curve

digits = load_digits_images()
X = PixelFlatten().fit_transform(digits.images)
X_train, X_test, y_train, y_test = train_test_split(
    X, digits.target, test_size=0.25, stratify=digits.target, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

# %%
# The learning rate
# -----------------
# Each model runs 40 epochs (``n_iter_no_change=40`` keeps the stopping rule
# from ending any of them sooner). Running out of epochs raises a
# :class:`~sklearn.exceptions.ConvergenceWarning`, which is expected here and
# silenced.
#
# - With a tiny learning rate the loss falls slowly and almost linearly.
# - A good learning rate makes it fall steeply and then flatten.
# - Larger learning rates make faster progress, up to a point: with a
#   learning rate of 10 the steps overshoot the minimum and the loss jumps
#   around at a high value.
fig, ax = plt.subplots(figsize=(6.5, 4.2))
for learning_rate in [1e-4, 1e-3, 1e-2, 1e-1, 10.0]:
    model = SoftmaxLinear(
        alpha=1e-3,
        learning_rate_init=learning_rate,
        max_iter=40,
        n_iter_no_change=40,
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    plot_loss_curve(model, ax=ax, label=f"learning_rate_init={learning_rate:g}")
    print(
        f"learning rate {learning_rate:g}: final loss {model.loss_curve_[-1]:.3f}, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )
ax.set_yscale("log")
ax.set_title("Training loss for five learning rates (log scale)")
ax.legend(fontsize="small")
fig.tight_layout()

# %%
# Early stopping
# --------------
# With ``early_stopping=True`` a stratified ``validation_fraction`` of the
# training images is held out. After every epoch the model's accuracy on it is
# recorded in ``validation_scores_``; training stops once it has not improved
# by ``tol`` for more than ``n_iter_no_change`` epochs, and the weights of the
# best epoch are restored. :func:`~skcv.plotting.plot_loss_curve` draws the
# validation accuracy on a second axis.
model = SoftmaxLinear(
    alpha=1e-4,
    learning_rate_init=0.05,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=10,
    max_iter=200,
    random_state=0,
)
model.fit(X_train, y_train)
best_epoch = int(np.argmax(model.validation_scores_)) + 1
print(f"stopped after {model.n_iter_} epochs")
print(
    f"best validation accuracy {model.best_validation_score_:.3f} "
    f"in epoch {best_epoch}, whose weights were kept"
)
print(f"test accuracy {model.score(X_test, y_test):.3f}")

ax = plot_loss_curve(model)
ax.axvline(best_epoch, color="gray", linestyle=":")
ax.set_title("Early stopping on a validation set (dotted: best epoch)")
ax.figure.tight_layout()

# %%
# Overfitting, epoch by epoch
# ---------------------------
# ``partial_fit`` runs exactly one epoch per call and keeps the weights,
# velocities and learning rate between calls, so the caller can measure
# anything after each epoch. Here the model is trained without penalty on
# only 100 images, in batches of 10, which it can learn by heart: the
# training accuracy reaches 100 % within a few epochs, while the accuracy on
# the held-out images levels off far below. The gap
# between the two curves is overfitting; a penalty ``alpha``, more data or
# augmentation (:ref:`augmentation`) narrow it.
rng = np.random.default_rng(0)
few = rng.choice(len(X_train), size=100, replace=False)
model = SoftmaxLinear(alpha=0.0, learning_rate_init=0.01, batch_size=10, random_state=0)
train_accuracy, test_accuracy = [], []
for _ in range(60):
    model.partial_fit(X_train[few], y_train[few], classes=np.arange(10))
    train_accuracy.append(model.score(X_train[few], y_train[few]))
    test_accuracy.append(model.score(X_test, y_test))

fig, ax = plt.subplots(figsize=(6, 4))
epochs = np.arange(1, 61)
ax.plot(epochs, train_accuracy, label="training images (100)")
ax.plot(epochs, test_accuracy, label=f"held-out images ({len(y_test)})")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy")
ax.set_title("Training on 100 images without penalty")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()

plt.show()
