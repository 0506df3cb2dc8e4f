"""
==================================================
Choosing the learning rate and alpha together
==================================================

The learning rate and the penalty strength ``alpha`` interact: a stronger
penalty changes the shape of the loss and so the best step size. Choosing
them one at a time can miss the best pair, so they are searched together on
a grid, each pair scored by 5-fold cross-validation on the training images
with :class:`~sklearn.model_selection.GridSearchCV`. The test images are
used once, at the end (see :ref:`regularization` and :ref:`optimization`).
"""

# %%
# The search
# ----------
# The pipeline flattens and standardises the pixels and trains a
# :class:`~skcv.SoftmaxLinear` for at most 30 epochs. The scaler is part of
# the pipeline, so in every fold it is fitted on the training folds only.
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import PixelFlatten, SoftmaxLinear
from skcv.datasets import load_digits_images
from skcv.plotting import plot_cv_results

digits = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images,
    digits.target,
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)

pipe = make_pipeline(
    PixelFlatten(), StandardScaler(), SoftmaxLinear(max_iter=30, random_state=0)
)
param_grid = {
    "softmaxlinear__learning_rate_init": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
    "softmaxlinear__alpha": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
}
search = GridSearchCV(
    pipe, param_grid, cv=StratifiedKFold(5, shuffle=True, random_state=0)
)
# The small learning rates do not converge in 30 epochs; that is part of
# what the search is meant to show, so the warning is silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best mean CV accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted best model: {search.score(X_test, y_test):.3f}")

# %%
# The heatmap
# -----------
# :func:`~skcv.plotting.plot_cv_results` with two parameters draws the mean
# cross-validated accuracy of every pair, with the standard deviation over the
# folds below it; the best cell is framed in red.
#
# Reading it row by row (fixed ``alpha``): too small a learning rate does not
# get far in 30 epochs, whatever the penalty. Reading it column by column
# (fixed learning rate): a strong penalty (``alpha=1``) shrinks the weights
# so much that accuracy drops, while small values of ``alpha`` barely matter
# on this data. The two parameters meet in the top right corner: with a
# learning rate of 1 and ``alpha=1``, the penalty's part of each step,
# :math:`\eta \alpha W`, is as large as the weights themselves, and training
# collapses to near chance level (10 % for ten classes). The best pair lies
# next to that cliff, which is why the grid should extend past it.
fig, ax = plt.subplots(figsize=(7, 5))
plot_cv_results(search, x="learning_rate_init", y="alpha", ax=ax)
ax.set_title("SoftmaxLinear on digits: 5-fold CV accuracy")
fig.tight_layout()
plt.show()
