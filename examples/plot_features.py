"""
===========================================
Features beyond pixels: HOG and colour
===========================================

A linear classifier on raw pixels compares each image with one template per
class, pixel by pixel, so an object that moves by a few pixels no longer
matches. A histogram of oriented gradients (HOG) describes instead which edge
directions each small cell of the image holds, which survives small shifts;
a hue histogram describes the colours, wherever they are (see
:ref:`features`). This example draws the HOG of a few images with
:func:`~skcv.plotting.plot_hog`, then lets cross-validation choose between
pixels and :class:`~skcv.HOGFeatures` (and the HOG cell size) for a
:class:`~skcv.SoftmaxLinear` model, on images whose objects move.
"""

# %%
# What HOG sees
# -------------
# Small synthetic colour images: a bright bar, horizontal for class 0,
# vertical for class 1, diagonal for class 2, in a random colour at a random
# place on a noisy background. Below each image, every 4x4 cell shows one line
# per orientation bin, along the edges voting for it, as bright as their
# share of the gradient.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline, make_union
from sklearn.preprocessing import StandardScaler

from skcv import ColorHistogram, HOGFeatures, PixelFlatten, SoftmaxLinear
from skcv.plotting import plot_cv_results, plot_hog


def make_bars(n, size=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 70, size=(n, size, size, 3), dtype=np.uint8)
    y = np.arange(n) % 3
    i, j = np.indices((size, size))
    for k in range(n):
        r, c = rng.integers(4, size - 4, size=2)
        if y[k] == 0:
            bar = (abs(i - r) <= 1) & (abs(j - c) <= 6)
        elif y[k] == 1:
            bar = (abs(j - c) <= 1) & (abs(i - r) <= 6)
        else:
            bar = (abs((i - r) - (j - c)) <= 1) & (abs(i - r) <= 5)
        X[k][bar] = rng.integers(120, 256, size=3)
    return X, y


X, y = make_bars(600)
fig = plot_hog(X[:6], HOGFeatures(pixels_per_cell=4))
fig.suptitle("Images and the orientation histograms of their 4x4 cells")
plt.show()

# %%
# Pixels or features: let cross-validation decide
# -----------------------------------------------
# The first pipeline step is searched like any parameter: raw pixels, or HOG
# with cells of 4 or 8 pixels. Features are computed from the images inside
# each fold, so the search stays honest.
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
pipe = Pipeline(
    [
        ("features", PixelFlatten(rescale=True)),
        ("scale", StandardScaler()),
        ("model", SoftmaxLinear(alpha=1e-3, random_state=0)),
    ]
)
grid = [
    {"features": [PixelFlatten(rescale=True)]},
    {
        "features": [HOGFeatures(cells_per_block=2)],
        "features__pixels_per_cell": [(4, 4), (8, 8)],
    },
]
search = GridSearchCV(pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0))
search.fit(X_train, y_train)
for params, score in zip(
    search.cv_results_["params"], search.cv_results_["mean_test_score"]
):
    step = params["features"]
    cells = params.get("features__pixels_per_cell", "")
    print(f"{type(step).__name__:13s} {cells!s:8s} CV accuracy {score:.3f}")
print(f"test accuracy of the best: {search.score(X_test, y_test):.3f}")

# %%
# A linear model on pixels would need one template per position of the bar;
# the HOG cells pool the edges of a whole cell, so a bar anywhere in it gives
# the same feature. Blocks of 2x2 cells normalise the contrast, so the colour
# of the bar does not matter either.
ax = plot_cv_results(search, "features__pixels_per_cell")
ax.set_title("HOG cell size (pixels scored apart)")
plt.show()

# %%
# Adding colour
# -------------
# :func:`~sklearn.pipeline.make_union` puts a hue histogram beside the HOG
# features. Here the colour says nothing about the class, so it cannot help;
# on photographs such as CIFAR-10 it does (see ``benchmarks/RESULTS.md``).
both = make_pipeline(
    make_union(HOGFeatures(pixels_per_cell=4, cells_per_block=2), ColorHistogram()),
    StandardScaler(),
    SoftmaxLinear(alpha=1e-3, random_state=0),
)
both.fit(X_train, y_train)
print(
    f"HOG + hue: {both[0].transform(X_train[:1]).shape[1]} features, "
    f"test accuracy {both.score(X_test, y_test):.3f}"
)
