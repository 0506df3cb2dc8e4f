"""
=========================
Images, labels and pixels
=========================

A classifier never sees a picture, only numbers. This example looks at the
digits data set the way a model does: first as images, then as rows of
pixel values produced by :class:`~skcv.PixelFlatten`.
"""

# %%
# The images
# ----------
# :func:`~skcv.datasets.load_digits_images` returns scikit-learn's 1797
# handwritten digits as a batch of 8 x 8 images, together with their labels
# and the same pixels as rows.
import matplotlib.pyplot as plt
import numpy as np

from skcv import PixelFlatten
from skcv.datasets import load_digits_images

digits = load_digits_images()
print("images:", digits.images.shape, digits.images.dtype)
print("data:  ", digits.data.shape)
print("target:", digits.target.shape, "classes:", digits.target_names)
print("pixel values from", digits.images.min(), "to", digits.images.max())

# %%
# Five examples of each class show how much images of one class vary: that
# variation is what a classifier has to see through.
fig, axes = plt.subplots(5, 10, figsize=(8, 4.4))
for label in range(10):
    examples = np.flatnonzero(digits.target == label)[:5]
    for row, index in enumerate(examples):
        ax = axes[row, label]
        ax.imshow(digits.images[index], cmap="gray_r", vmin=0, vmax=16)
        ax.set_axis_off()
    axes[0, label].set_title(str(digits.target_names[label]))
fig.suptitle("Digits: five training images per class")
fig.tight_layout()

# %%
# From images to rows
# -------------------
# :class:`~skcv.PixelFlatten` reshapes each image into one row, reading the
# pixels row by row. The row is the vector :math:`x` of the user guide: pixel
# :math:`(i, j)` of an 8 x 8 image becomes feature :math:`8i + j`.
flatten = PixelFlatten().fit(digits.images)
rows = flatten.transform(digits.images)
print("rows:", rows.shape)
print("pixel (2, 3) of image 0 is feature", 2 * 8 + 3, ":", rows[0, 2 * 8 + 3])
print("same value in the image:", digits.images[0, 2, 3])

fig, (ax_image, ax_row) = plt.subplots(
    1, 2, figsize=(8, 2.6), gridspec_kw={"width_ratios": [1, 4]}
)
ax_image.imshow(digits.images[0], cmap="gray_r", vmin=0, vmax=16)
ax_image.set_title(f"image 0 (label {digits.target[0]})")
ax_image.set_xticks(range(0, 8, 2))
ax_image.set_yticks(range(0, 8, 2))
ax_row.imshow(rows[:1], cmap="gray_r", vmin=0, vmax=16, aspect=4)
ax_row.set_yticks([])
ax_row.set_xticks(range(0, 64, 8))
ax_row.set_xlabel("feature index (one row of 8 pixels after another)")
ax_row.set_title("the same image as a row of 64 features")
fig.tight_layout()

# %%
# ``inverse_transform`` turns rows back into images. That is how the weights
# of a linear classifier, one row of 64 numbers per class, are shown as
# pictures (see :ref:`sphx_glr_auto_examples_plot_templates.py`).
back = flatten.inverse_transform(rows)
print("round trip exact:", np.array_equal(back, digits.images))

plt.show()
