"""
===============================================
What a linear classifier learns: its templates
===============================================

A linear classifier scores an image :math:`x` for class :math:`k` as
:math:`s_k = w_k^\\top x + b_k`. Each weight row :math:`w_k` has one entry per
pixel, so it can be drawn as an image: a *template* that the classifier
matches against every input (see :ref:`linear_classifiers`). This example
trains :class:`~skcv.SoftmaxLinear` and :class:`~skcv.HingeLinear` on the
digits and draws their templates with :func:`~skcv.plotting.plot_templates`.
"""

# %%
# Train both classifiers
# ----------------------
# The pixels are flattened into rows and standardised, then each classifier
# learns one weight row per digit. The two pipelines differ only in the loss.
import matplotlib.pyplot as plt
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import HingeLinear, PixelFlatten, SoftmaxLinear
from skcv.datasets import load_digits_images
from skcv.plotting import plot_templates

# sphinx_gallery_thumbnail_number = 2
digits = load_digits_images()
X_train, X_test, y_train, y_test = train_test_split(
    digits.images,
    digits.target,
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)

models = {
    "SoftmaxLinear": SoftmaxLinear(alpha=1e-2, learning_rate_init=0.05, random_state=0),
    "HingeLinear": HingeLinear(alpha=1e-2, learning_rate_init=0.05, random_state=0),
}
pipelines = {}
for name, classifier in models.items():
    pipe = make_pipeline(PixelFlatten(), StandardScaler(), classifier)
    pipe.fit(X_train, y_train)
    pipelines[name] = pipe
    print(f"{name}: test accuracy {pipe.score(X_test, y_test):.3f}")
    print(f"  coef_ {classifier.coef_.shape}, intercept_ {classifier.intercept_.shape}")

# %%
# The average image of each class
# -------------------------------
# For comparison, the simplest possible "template" of a class is the mean of
# its training images.
fig, axes = plt.subplots(1, 10, figsize=(12, 1.6), layout="constrained")
for label, ax in enumerate(axes):
    ax.imshow(X_train[y_train == label].mean(axis=0), cmap="gray_r")
    ax.set_title(str(label), fontsize="small")
    ax.set_axis_off()
fig.suptitle("Mean training image of each class")

# %%
# The learned templates
# ---------------------
# :func:`~skcv.plotting.plot_templates` reshapes each row of ``coef_`` to an
# 8 x 8 image, taking the shape from the pipeline's
# :class:`~skcv.PixelFlatten`. It also divides by the scale of the
# :class:`~sklearn.preprocessing.StandardScaler`, so that the templates are
# the weights applied to the raw pixels. Red pixels raise the score of the
# class when they hold ink, blue pixels lower it.
#
# The templates are not the class means. Training only cares about telling
# the classes apart, so a template is red where its class has ink *and the
# other classes do not*, and blue where other classes put ink. The "0" is the
# clearest case: red on the sides of the ring, blue in the centre, where a
# "0" never has ink but a "1" or an "8" does. The two losses learn very
# similar templates. With 8 x 8 pixels the pictures are coarse; on MNIST or
# CIFAR-10 the same function draws recognisable shapes and colours.
fig = plt.figure(figsize=(12, 3.8), layout="constrained")
top, bottom = fig.subfigures(2, 1)
for subfig, name in zip([top, bottom], pipelines):
    plot_templates(pipelines[name], fig=subfig)
    subfig.suptitle(name)

plt.show()
