"""
===================================
Checking gradients numerically
===================================

The analytic gradients of :mod:`skcv.losses` are compared with centred
differences, as described in :ref:`gradient_checking`. We check both losses,
see how the step :math:`h` trades truncation against rounding error, and
see what a wrong gradient looks like.
"""

# %%
# A small problem
# ---------------
# Gradient checks cost two loss evaluations per coordinate, so they run on
# a small problem: 40 digits, 64 pixels, 10 classes, in float64.
import matplotlib.pyplot as plt
import numpy as np

from skcv.datasets import load_digits_images
from skcv.gradcheck import check_gradient, numerical_gradient, relative_error
from skcv.losses import hinge_loss, penalty_value_and_grad, softmax_loss

digits = load_digits_images()
X = digits.data[:40] / 16.0
y = digits.target[:40]
rng = np.random.default_rng(0)
W = 0.01 * rng.standard_normal((10, 64))
b = np.zeros(10)

# %%
# The softmax cross-entropy is smooth and its gradient is right: the relative
# error is far below :math:`10^{-4}`. It does not quite reach
# :math:`10^{-7}` because a few border pixels are almost always blank, so
# their gradients are tiny and the relative error of tiny numbers is mostly
# rounding.
err = check_gradient(lambda W, b: softmax_loss(W, b, X, y), [W, b])
print(f"softmax loss:          relative error {err:.1e}")

# %%
# The hinge losses are piecewise linear, with kinks where a margin is exactly
# met. With small random weights every margin is close to :math:`\Delta = 1`,
# far from a kink. Yet the check reports the worst possible error, 1:
for multi_class in ["weston_watkins", "crammer_singer"]:

    def hinge(W, b, multi_class=multi_class):
        return hinge_loss(W, b, X, y, multi_class=multi_class)

    err = check_gradient(hinge, [W, b])
    print(f"hinge ({multi_class + '):':16s} relative error {err:.1e}")

# %%
# Gradients that should be zero
# -----------------------------
# Looking at the coordinate with the largest error shows what happened.
_, dW, _ = hinge_loss(W, b, X, y)
numeric = numerical_gradient(lambda W_: hinge_loss(W_, b, X, y)[0], W)
errors = np.abs(dW - numeric) / np.maximum(np.abs(dW) + np.abs(numeric), 1e-300)
worst = tuple(int(i) for i in np.unravel_index(np.argmax(errors), W.shape))
print(f"worst coordinate {worst}:")
print(f"  analytic {dW[worst]:.2e}, numerical {numeric[worst]:.2e}")

# %%
# Both values say "zero". In exact arithmetic the contributions of the
# images to this weight cancel; the analytic formula adds them up in floating
# point and is left with a rounding residue near :math:`10^{-17}`, while the
# centred difference finds the loss exactly unchanged. Relative to zero, any
# residue is a 100 % error. :func:`~skcv.gradcheck.relative_error` therefore
# takes a floor ``tiny`` for the denominator: with a floor of
# :math:`10^{-8}`, differences far below the size of real gradient entries
# count as agreement, and the hinge gradient passes like the softmax one.
err = relative_error(dW, numeric, tiny=1e-8)
print(f"hinge, floor 1e-8:     relative error {err:.1e}")

# %%
# The penalty is checked on its own, so that it cannot hide an error in the
# data loss. ``penalty_value_and_grad`` returns one gradient, for ``W``.
err = check_gradient(
    lambda W: penalty_value_and_grad(W, "elasticnet", alpha=0.1, l1_ratio=0.5),
    W,
)
print(f"elastic-net penalty:   relative error {err:.1e}")

# %%
# What a bug looks like
# ---------------------
# A classic mistake in the softmax gradient is to forget to subtract the
# one-hot label, returning :math:`X^\top p / N` instead of
# :math:`X^\top (p - \mathrm{onehot}(y)) / N`. The loss value is still right,
# and a model trained with this gradient would still run.


def buggy_softmax(W, b, X, y):
    loss, dW, db = softmax_loss(W, b, X, y)
    onehot = np.eye(W.shape[0])[y]
    return loss, dW + onehot.T @ X / len(X), db + onehot.mean(axis=0)


err = check_gradient(lambda W, b: buggy_softmax(W, b, X, y), [W, b])
print(f"buggy softmax:         relative error {err:.1e}")

# %%
# Choosing the step
# -----------------
# The centred difference has a truncation error of order :math:`h^2` and a
# rounding error of order :math:`\varepsilon |f| / h`. Plotting the relative
# error against :math:`h` shows both: the error falls as :math:`h` shrinks
# until rounding takes over. The default :math:`h = 10^{-5}` sits near the
# bottom of the valley.


def loss_of_W(W_):
    return softmax_loss(W_, b, X, y)[0]


_, dW, _ = softmax_loss(W, b, X, y)
steps = np.logspace(-12, 0, 25)
errors = [relative_error(dW, numerical_gradient(loss_of_W, W, h=h)) for h in steps]

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(steps, errors, "o-")
ax.axvline(1e-5, color="gray", linestyle="--", label="default h = 1e-5")
ax.set_xlabel("step h")
ax.set_ylabel("relative error (max over coordinates)")
ax.set_title("Softmax loss: analytic vs. numerical gradient")
ax.legend()
ax.grid(True, which="major", alpha=0.3)
fig.tight_layout()
plt.show()
