"""
======================================
Data augmentation, and where it goes
======================================

:class:`~skcv.ImageAugmenter` makes new training images from old ones:
shifted, rotated, mirrored, re-lit or noisy copies that keep their label.
This example shows what each transformation does to a digit, measures when
augmentation helps, and shows why it must happen *after* the data is split
(see :ref:`augmentation`).
"""

# %%
# What the augmenter does
# -----------------------
# The digits are float images with values 0 to 16; the augmenter takes float
# images to lie in [0, 1] (brightness and noise are fractions of that range),
# so the pixels are divided by 16 first. Each row below applies one
# transformation, with seven random draws of its parameters, to the same
# image. ``keep_original=False`` returns the copies only.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import (
    AugmentedClassifier,
    ImageAugmenter,
    NearestNeighbor,
    PixelFlatten,
    SoftmaxLinear,
)
from skcv.datasets import load_digits_images

digits = load_digits_images()
images = digits.images / 16.0
image, label = images[2:3], digits.target[2:3]

transformations = {
    "flip": ImageAugmenter(flip=True),
    "max_shift=1": ImageAugmenter(max_shift=1),
    "max_rotation=20": ImageAugmenter(max_rotation=20),
    "contrast=0.5,\nbrightness=0.2": ImageAugmenter(contrast=0.5, brightness=0.2),
    "noise=0.1": ImageAugmenter(noise=0.1),
}
n_copies = 7
fig, axes = plt.subplots(len(transformations), n_copies + 1, figsize=(8, 5.6))
for row, (name, augmenter) in enumerate(transformations.items()):
    augmenter.set_params(n_copies=n_copies, keep_original=False, random_state=0)
    copies, _ = augmenter.fit_resample(image, label)
    axes[row, 0].imshow(image[0], cmap="gray_r", vmin=0, vmax=1)
    axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    for col, copy in enumerate(copies, start=1):
        axes[row, col].imshow(copy, cmap="gray_r", vmin=0, vmax=1)
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
axes[0, 0].set_title("original", fontsize="small")
fig.suptitle("One digit, seven random copies per transformation")
fig.tight_layout()

# %%
# A mirrored "2" is no longer a "2", so ``flip`` is for natural images (a
# cat facing left is still a cat), not for digits. On 8 x 8 images, a shift
# by one pixel moves the digit by an eighth of its width.
#
# When augmentation helps
# -----------------------
# The copies are only useful if they look like images the model will meet.
# The digits were centred in their box when the data set was made, so test
# images are never shifted, while handwriting is often slanted. Below, a
# :class:`~skcv.SoftmaxLinear` is trained on random subsets of 50 to 800
# images, with four extra copies per image or without, and scored on 899
# held-out images; each point is the mean over three random subsets.
# :class:`~skcv.AugmentedClassifier` augments the data it is fitted on and
# nothing else.
#
# On a few dozen images the classes can be separated perfectly, and the
# training loss then keeps creeping down for hundreds of epochs. Fifty epochs
# are plenty for the accuracy, which stops changing long before, so the
# :class:`~sklearn.exceptions.ConvergenceWarning` is silenced.
X_train, X_test, y_train, y_test = train_test_split(
    images, digits.target, test_size=0.5, stratify=digits.target, random_state=0
)
linear = make_pipeline(
    PixelFlatten(),
    StandardScaler(),
    SoftmaxLinear(alpha=1e-3, learning_rate_init=0.05, max_iter=50, random_state=0),
)
augmenters = {
    "no augmentation": None,
    "rotations up to 15 degrees": ImageAugmenter(max_rotation=15, n_copies=4),
    "shifts of 1 pixel": ImageAugmenter(max_shift=1, n_copies=4),
}
sizes = [50, 100, 200, 400, 800]
accuracy = {name: [] for name in augmenters}
for size in sizes:
    for name, augmenter in augmenters.items():
        scores = []
        for seed in range(3):
            subset = np.random.default_rng(seed).choice(
                len(y_train), size, replace=False
            )
            model = AugmentedClassifier(linear, augmenter=augmenter, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X_train[subset], y_train[subset])
            scores.append(model.score(X_test, y_test))
        accuracy[name].append(np.mean(scores))

fig, ax = plt.subplots(figsize=(6.5, 4.2))
for name, values in accuracy.items():
    ax.plot(sizes, values, "o-", label=name)
ax.set_xscale("log")
ax.minorticks_off()
ax.set_xticks(sizes, [str(s) for s in sizes])
ax.set_xlabel("training images")
ax.set_ylabel("test accuracy")
ax.set_title("SoftmaxLinear on digits, with and without augmentation")
ax.legend()
ax.grid(alpha=0.3)
fig.tight_layout()
for name, values in accuracy.items():
    print(f"{name:28s}", " ".join(f"{v:.3f}" for v in values))

# %%
# Small rotations help most when there are few training images, and the gain
# fades as real images take their place. Shifts hurt at every size: they teach
# the model about positions that the centred test digits never take.
#
# Augment after the split
# -----------------------
# Augmenting the whole training set first and cross-validating afterwards
# puts copies of the same image on both sides of the split: a validation
# image is scored by a model that was trained on its slightly rotated twin.
# The nearest-neighbour classifier shows the damage most clearly, since its
# nearest training image is then that twin.
subset = np.random.default_rng(0).choice(len(y_train), 200, replace=False)
X_small, y_small = X_train[subset], y_train[subset]
augmenter = ImageAugmenter(max_rotation=15, n_copies=4, random_state=0)
knn = make_pipeline(PixelFlatten(), NearestNeighbor(n_neighbors=1))
cv = KFold(5, shuffle=True, random_state=0)

X_augmented, y_augmented = augmenter.fit_resample(X_small, y_small)
leaky = cross_val_score(knn, X_augmented, y_augmented, cv=cv)

augmented_knn = AugmentedClassifier(knn, augmenter=augmenter, random_state=0)
honest = cross_val_score(augmented_knn, X_small, y_small, cv=cv)
test = augmented_knn.fit(X_small, y_small).score(X_test, y_test)

print(f"augment, then cross-validate:  CV accuracy {leaky.mean():.3f}")
print(f"cross-validate, augmenting only the training folds: {honest.mean():.3f}")
print(f"the same model on {len(y_test)} unseen test images: {test:.3f}")

fig, ax = plt.subplots(figsize=(6.5, 3))
bars = ax.barh(
    ["augment, then split\n(leaky CV)", "split, then augment\n(honest CV)", "test"],
    [leaky.mean(), honest.mean(), test],
    xerr=[leaky.std(), honest.std(), 0],
    color=["C3", "C0", "C2"],
)
ax.bar_label(bars, fmt="%.3f", label_type="center", color="white")
ax.set_xlim(0.8, 1.0)
ax.set_xlabel("accuracy of 1-NN, 200 training images + 4 rotated copies each")
ax.invert_yaxis()
fig.tight_layout()

# %%
# The leaky estimate promises almost perfect accuracy, which the test images
# do not confirm. With :class:`~skcv.AugmentedClassifier` inside
# :func:`~sklearn.model_selection.cross_val_score`, each training fold is
# augmented after the split, and the validation folds hold only original
# images; its estimate is even slightly pessimistic here, since each fold
# trains on four fifths of the 200 images.
plt.show()
