"""
=============================================
Hinge loss or softmax cross-entropy?
=============================================

:class:`~skcv.HingeLinear` and :class:`~skcv.SoftmaxLinear` share the score
function :math:`s = Wx + b` and the training loop; they differ only in the
loss (see :ref:`loss_functions`). This example compares the two losses as
functions of the margin, then trains both on the same digits and looks at
what each one cares about.
"""

# %%
# The losses as functions of the margin
# -------------------------------------
# Take one image whose correct class scores :math:`m` higher than the only
# other class. The Weston--Watkins hinge loss is :math:`\max(0, \Delta - m)`
# and the cross-entropy is :math:`\log(1 + e^{-m})`. The values below come
# from :func:`skcv.losses.hinge_loss` and :func:`skcv.losses.softmax_loss`,
# evaluated on two-class scores :math:`s = (m, 0)`: the weights
# :math:`W = (1, 0)^\top` applied to the one-pixel "images" :math:`x = m`.
import matplotlib.pyplot as plt
import numpy as np

from skcv.losses import hinge_loss, softmax_loss

margins = np.linspace(-3, 4, 141)
X_margin = margins[:, None]
W = np.array([[1.0], [0.0]])
b = np.zeros(2)
y_first = np.zeros(len(margins), dtype=int)
weights = np.eye(len(margins))  # one loss per margin: weight one sample at a time

hinge = [hinge_loss(W, b, X_margin, y_first, sample_weight=w)[0] for w in weights]
cross_entropy = [
    softmax_loss(W, b, X_margin, y_first, sample_weight=w)[0] for w in weights
]

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(margins, hinge, label=r"hinge, $\max(0, \Delta - m)$, $\Delta = 1$")
ax.plot(margins, cross_entropy, label=r"softmax, $\log(1 + e^{-m})$")
ax.axvline(1.0, color="gray", linestyle=":", linewidth=1)
ax.set_xlabel("margin m = score of the correct class - score of the other")
ax.set_ylabel("loss of the image")
ax.set_title("Per-image loss against the margin")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()

# %%
# The hinge is exactly zero once the margin reaches :math:`\Delta`; images
# beyond it no longer influence training. The cross-entropy keeps
# decreasing, ever more slowly, so every image keeps pulling the scores apart.
#
# Training both on the same data
# ------------------------------
# Both models are trained with the same settings, and their accuracy on held
# out images is nearly the same.
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import HingeLinear, PixelFlatten, SoftmaxLinear
from skcv.datasets import load_digits_images
from skcv.plotting import plot_loss_curve

digits = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images,
    digits.target,
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)
settings = {
    "alpha": 1e-2,
    "learning_rate_init": 0.05,
    "max_iter": 100,
    "random_state": 0,
}
models = {
    "softmax": make_pipeline(
        PixelFlatten(), StandardScaler(), SoftmaxLinear(**settings)
    ),
    "hinge": make_pipeline(PixelFlatten(), StandardScaler(), HingeLinear(**settings)),
}
for name, model in models.items():
    model.fit(X_train, y_train)
    print(
        f"{name:8s} train accuracy {model.score(X_train, y_train):.3f}, "
        f"test accuracy {model.score(X_test, y_test):.3f}"
    )

# %%
# Both start from zero weights, where the softmax loss is
# :math:`\log 10 \approx 2.30` and the hinge loss :math:`9\Delta = 9`; the
# first point of each curve is the mean over the first epoch, already lower.
fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for ax, (name, model) in zip(axes, models.items()):
    plot_loss_curve(model, ax=ax)
    ax.set_title(f"{name}: training objective per epoch")
fig.tight_layout()

# %%
# What each loss is satisfied with
# --------------------------------
# The margin of a training image is the score of its correct class minus the
# highest other score. The hinge loss stops pushing an image once its margins
# exceed :math:`\Delta = 1`, while the penalty :math:`\alpha R(W)` keeps
# pulling the weights, and with them the scores, towards zero: many margins
# settle just above 1. The softmax loss never stops pushing, so its margins
# spread further. The accuracy is about the same; the scores are not.


def margins_of(model, X, y):
    scores = model.decision_function(X)
    rows = np.arange(len(y))
    correct = scores[rows, y]
    scores[rows, y] = -np.inf
    return correct - scores.max(axis=1)


fig, ax = plt.subplots(figsize=(6, 4))
bins = np.linspace(-4, 12, 65)
for name, model in models.items():
    margin = margins_of(model, X_train, y_train)
    share = np.mean((margin > 1) & (margin < 2))
    print(
        f"{name:8s} median margin {np.median(margin):.2f}, "
        f"share of margins between 1 and 2: {share:.0%}"
    )
    ax.hist(margin, bins=bins, alpha=0.6, label=name)
ax.axvline(1.0, color="gray", linestyle=":", linewidth=1)
ax.set_xlabel("margin of the correct class on training images")
ax.set_ylabel("number of images")
ax.set_title("Distribution of margins after training")
ax.legend()
fig.tight_layout()

# %%
# Only the softmax model gives probabilities
# ------------------------------------------
# :class:`~skcv.SoftmaxLinear` turns the scores into class probabilities with
# the softmax, so it has ``predict_proba``. :class:`~skcv.HingeLinear` has
# only scores: nothing in the hinge loss makes them probabilities.
softmax_model, hinge_model = models["softmax"], models["hinge"]
print("softmax P(class) of the first test image:")
print(np.round(softmax_model.predict_proba(X_test[:1]), 3))
print("true label:", y_test[0])
print("HingeLinear has predict_proba:", hasattr(hinge_model, "predict_proba"))

plt.show()
