"""
==========================================
Choosing k for nearest neighbours by CV
==========================================

:class:`~skcv.NearestNeighbor` has two hyperparameters, the number of
neighbours ``n_neighbors`` and the ``metric`` (L1 or L2). Neither is learned
by ``fit``: they are chosen by 5-fold cross-validation on the training images,
and the test images are used once, at the end (see :ref:`choosing_k`).
"""

# %%
# The nearest neighbours of a test image
# --------------------------------------
# First a look at what the classifier does. ``kneighbors`` returns, for each
# query, the distances to its nearest training images and their indices.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from skcv import NearestNeighbor, PixelFlatten
from skcv.datasets import load_digits_images
from skcv.plotting import plot_cv_results

# sphinx_gallery_thumbnail_number = 2
digits = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images,
    digits.target,
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)

flatten = PixelFlatten().fit(X_train)
knn = NearestNeighbor(n_neighbors=5).fit(flatten.transform(X_train), y_train)
queries = X_test[:4]
distances, indices = knn.kneighbors(flatten.transform(queries))

fig, axes = plt.subplots(4, 6, figsize=(7.5, 5.4))
for row, (query, dist, ind) in enumerate(zip(queries, distances, indices)):
    axes[row, 0].imshow(query, cmap="gray_r")
    axes[row, 0].set_title("test image", fontsize="small")
    for col, (d, i) in enumerate(zip(dist, ind), start=1):
        axes[row, col].imshow(X_train[i], cmap="gray_r")
        axes[row, col].set_title(f"{y_train[i]}  (d={d:.0f})", fontsize="small")
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("Five nearest training images (label, L2 distance)")
fig.tight_layout()

# %%
# The search
# ----------
# Every combination of ``n_neighbors`` and ``metric`` is scored by 5-fold
# cross-validation. :class:`~sklearn.model_selection.GridSearchCV` then refits
# the best combination on all the training images.
pipe = Pipeline([("flatten", PixelFlatten()), ("knn", NearestNeighbor())])
param_grid = {
    "knn__n_neighbors": [1, 2, 3, 5, 7, 10, 15, 20, 30, 50],
    "knn__metric": ["l1", "l2"],
}
search = GridSearchCV(
    pipe, param_grid, cv=StratifiedKFold(5, shuffle=True, random_state=0)
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best mean CV accuracy: {search.best_score_:.3f}")

# %%
# Accuracy against k
# ------------------
# :func:`~skcv.plotting.plot_cv_results` draws one dot per fold and the mean
# over the folds with an error bar of one standard deviation, one line per
# metric. Accuracy falls as k grows: with 30 or 50 voters, images that are not
# really close outvote the near ones. The spread over the folds is of the same
# order as the differences between neighbouring values of k, so the exact
# best k is not sharply determined; any small k does about as well.
#
# ``n_neighbors=2`` scores below both 1 and 3. When its two neighbours
# disagree, the vote is a tie, and a tie goes to the smaller label (see
# :ref:`knn_ties`), not to the nearer neighbour: the answer is then a coin
# flip between the two. Odd values of k avoid two-way ties.
fig, ax = plt.subplots(figsize=(6.5, 4.2))
plot_cv_results(search, x="n_neighbors", ax=ax)
ax.set_title("k-NN on digits: 5-fold cross-validation")
fig.tight_layout()

# %%
# The test score
# --------------
# The chosen model is evaluated once on the test images, which played no part
# in the choice.
print(f"test accuracy: {search.score(X_test, y_test):.3f}")
wrong = np.flatnonzero(search.predict(X_test) != y_test)
print(f"{len(wrong)} of {len(y_test)} test images misclassified")

plt.show()
