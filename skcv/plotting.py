"""Pictures of fitted models and searches: templates, loss curves, CV results.

matplotlib is an optional dependency (``pip install "skcv[plot]"``); it is
imported only when a function here is called. Every function draws into the
``ax`` or ``fig`` it is given, or into a new pyplot figure otherwise, and
returns what it drew into, so that notebooks and scripts can adjust it.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._images import _check_image_shape, _check_images
from .preprocessing import PixelFlatten

__all__ = [
    "plot_cv_results",
    "plot_hog",
    "plot_loss_curve",
    "plot_misclassified",
    "plot_templates",
]


def _check_matplotlib():
    """Import matplotlib or explain how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            'skcv.plotting needs matplotlib; install it with pip install "skcv[plot]".'
        ) from exc
    return matplotlib


def _new_figure(figsize):
    """A new pyplot figure, so that notebooks display it."""
    _check_matplotlib()
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize)


def _new_axes(ax):
    if ax is not None:
        return ax
    return _new_figure(None).subplots()


def _unwrap(estimator):
    """Return ``(transformers, model)``: the fitted model and the steps before it.

    Searches are replaced by their ``best_estimator_``, wrappers such as
    :class:`~skcv.AugmentedClassifier` by their fitted ``estimator_``, and
    pipelines by their last step, the earlier steps being collected in order.
    """
    transformers = []
    while True:
        if hasattr(estimator, "best_estimator_"):
            estimator = estimator.best_estimator_
        elif isinstance(estimator, Pipeline):
            transformers.extend(
                step
                for _, step in estimator.steps[:-1]
                if step is not None and step != "passthrough"
            )
            estimator = estimator.steps[-1][1]
        elif hasattr(estimator, "estimator_"):
            estimator = estimator.estimator_
        else:
            return transformers, estimator


def _grid_shape(n, ncols):
    ncols = min(n, 10) if ncols is None else int(ncols)
    if ncols < 1:
        raise ValueError(f"ncols must be a positive integer; got {ncols}.")
    ncols = min(ncols, max(n, 1))
    return -(-max(n, 1) // ncols), ncols


def _image_grid(fig, n, ncols, *, cell=(1.4, 1.6)):
    """``n`` axes on a grid in ``fig`` (new when None), unused cells removed."""
    nrows, ncols = _grid_shape(n, ncols)
    if fig is None:
        fig = _new_figure((cell[0] * ncols, cell[1] * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        fig.delaxes(ax)
    return fig, axes[:n]


def _to_rgb(images):
    """Colour images as floats in [0, 1], rescaled together unless uint8."""
    if images.dtype == np.uint8:
        return images
    images = images.astype(float)
    low, high = images.min(), images.max()
    return (images - low) / (high - low) if high > low else np.zeros_like(images)


def _displayable(images):
    """Channels that ``imshow`` can draw: grey, RGB or RGBA.

    One channel is drawn grey; two channels are drawn as red and green, with
    an empty blue channel, since ``imshow`` has no two-channel mode.
    """
    n_channels = images.shape[-1]
    if n_channels == 1:
        return images[..., 0]
    if n_channels == 2:
        return np.concatenate([images, np.zeros_like(images[..., :1])], axis=-1)
    if n_channels > 4:
        raise ValueError(
            f"Images of {n_channels} channels cannot be drawn; only 1 (grey), "
            "2 (red, green), 3 (RGB) or 4 (RGBA)."
        )
    return images


def _label_names(labels, class_names):
    """One display string per label; ``class_names`` is indexed by the labels."""
    labels = np.asarray(labels)
    if class_names is None:
        return [str(label) for label in labels]
    class_names = list(class_names)
    if labels.size and (
        labels.dtype.kind not in "iu"
        or labels.min() < 0
        or labels.max() >= len(class_names)
    ):
        raise ValueError(
            f"class_names holds {len(class_names)} names, so the labels must be "
            f"integers in 0..{len(class_names) - 1}; got labels {np.unique(labels)}."
        )
    return [str(class_names[label]) for label in labels]


def plot_templates(
    estimator,
    image_shape=None,
    *,
    class_names=None,
    undo_scaling=False,
    ncols=None,
    cmap="RdBu_r",
    fig=None,
):
    """Show each row of a linear model's ``coef_`` as an image, one per class.

    For a :class:`~skcv.NeuralNet`, the first layer's weights are shown
    instead, one image per hidden unit.

    A linear classifier scores an image ``x`` as ``w_k . x + b_k`` for every
    class ``k``, so each weight row ``w_k`` is a template matched against the
    image. Grey templates are drawn with a diverging colour map centred at
    zero (red for weights that raise the class score, blue for weights that
    lower it); colour templates are rescaled to ``[0, 1]`` one by one.

    Parameters
    ----------
    estimator : estimator
        A fitted linear classifier with ``coef_`` of shape (n_classes,
        n_features), or a :class:`~sklearn.pipeline.Pipeline` ending in one, a
        fitted search (its ``best_estimator_`` is used) or a wrapper such as
        :class:`~skcv.AugmentedClassifier` (its ``estimator_`` is used).
    image_shape : tuple of int, default=None
        Shape of one image, ``(H, W)`` or ``(H, W, C)``. Taken from the
        fitted :class:`~skcv.PixelFlatten` step of a pipeline when None.
    class_names : list of str, default=None
        One title per template; the model's ``classes_`` when None.
    undo_scaling : bool, default=False
        Map the weights back to raw pixel values: divide them by the
        ``scale_`` of a :class:`~sklearn.preprocessing.StandardScaler` step
        (and by 255 after ``PixelFlatten(rescale=True)``). When False,
        ``coef_`` is shown as learned, in the standardised feature space.
        See Notes for which to choose.
    ncols : int, default=None
        Templates per row; ``min(n_classes, 10)`` when None.
    cmap : str or Colormap, default="RdBu_r"
        Colour map of grey templates.
    fig : matplotlib Figure, default=None
        Figure to draw into; a new pyplot figure when None.

    Returns
    -------
    fig : matplotlib Figure
        The figure, with one image axes per template, in class order.

    See Also
    --------
    skcv.PixelFlatten.inverse_transform : Rows back into images.
    plot_loss_curve : The training loss of the same model.

    Notes
    -----
    With a pipeline ``PixelFlatten -> StandardScaler -> model`` the scores
    are ``W ((x - m) / s) + b = (W / s) x + (b - W (m / s))``, column by
    column. Both views are exact, about different units:

    - ``W`` (the default) is the change of each class score when a pixel
      moves by one of its own standard deviations, which compares pixels
      fairly and shows the shape each class looks for;
    - ``W / s`` (``undo_scaling=True``) is the change per unit of raw pixel
      value. Pixels that are almost always blank have a tiny ``s``, so a
      handful of border pixels dominate this view although they rarely
      affect a score.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skcv.plotting import plot_templates
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 4 * 5)), np.arange(60) % 3
    >>> model = LogisticRegression().fit(X, y)
    >>> fig = plot_templates(model, (4, 5), fig=Figure())
    >>> len(fig.axes)
    3
    >>> fig.axes[0].get_images()[0].get_array().shape
    (4, 5)
    """
    _check_matplotlib()
    transformers, model = _unwrap(estimator)
    if hasattr(model, "coefs_"):
        # A network: the first layer's weights, one template per hidden unit.
        coef = np.asarray(model.coefs_[0], dtype=float).T
        if class_names is None:
            class_names = [f"unit {i}" for i in range(len(coef))]
    elif not hasattr(model, "coef_"):
        check_is_fitted(model)
        raise TypeError(
            f"plot_templates needs a linear model with coef_; "
            f"{type(model).__name__} has none."
        )
    else:
        coef = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    shape = _check_image_shape(image_shape)
    for step in reversed(transformers):
        if isinstance(step, StandardScaler):
            if undo_scaling and step.scale_ is not None:
                coef = coef / step.scale_
        elif isinstance(step, PixelFlatten):
            if undo_scaling and step.rescale:
                coef = coef / 255.0
            if shape is None:
                check_is_fitted(step, "image_shape_")
                shape = step.image_shape_
        else:
            raise ValueError(
                f"plot_templates cannot map weights back to pixels through a "
                f"{type(step).__name__} step; only PixelFlatten and StandardScaler "
                f"steps may precede the linear model."
            )
    if shape is None or len(shape) == 1:
        raise ValueError(
            "plot_templates needs image_shape such as (height, width) to draw "
            f"{coef.shape[1]} weights per class as images."
        )
    if int(np.prod(shape)) != coef.shape[1]:
        raise ValueError(
            f"The model has {coef.shape[1]} weights per class, which cannot be "
            f"read as images of shape {shape} ({int(np.prod(shape))} pixels)."
        )
    templates = coef.reshape((coef.shape[0], *shape))
    if class_names is None:
        class_names = getattr(model, "classes_", range(len(templates)))
        if len(class_names) != len(templates):  # one row for two classes
            class_names = range(len(templates))
    class_names = [str(name) for name in class_names]
    if len(class_names) != len(templates):
        raise ValueError(
            f"class_names holds {len(class_names)} names for {len(templates)} "
            f"templates."
        )

    fig, axes = _image_grid(fig, len(templates), ncols)
    for ax, template, name in zip(axes, templates, class_names):
        if template.ndim == 3 and template.shape[-1] > 1:
            ax.imshow(_displayable(_to_rgb(template)))
        elif template.ndim == 3:
            template = template[..., 0]
            limit = np.abs(template).max() or 1.0
            ax.imshow(template, cmap=cmap, vmin=-limit, vmax=limit)
        else:
            limit = np.abs(template).max() or 1.0
            ax.imshow(template, cmap=cmap, vmin=-limit, vmax=limit)
        ax.set_title(name, fontsize="small")
        ax.set_axis_off()
    return fig


def plot_loss_curve(estimator, *, ax=None, label=None):
    """Plot the training loss per epoch, and the validation score if any.

    Parameters
    ----------
    estimator : estimator
        A fitted model with ``loss_curve_`` (such as
        :class:`~skcv.SoftmaxLinear`), or a pipeline, search or
        :class:`~skcv.AugmentedClassifier` around one.
    ax : matplotlib Axes, default=None
        Axes to draw into; a new pyplot figure when None.
    label : str, default=None
        Legend label of the loss line; ``"training loss"`` when None.

    Returns
    -------
    ax : matplotlib Axes
        The axes of the loss. When the model kept ``validation_scores_``
        (early stopping), they are drawn on a twin axes sharing the x axis.

    See Also
    --------
    plot_cv_results : Scores across a parameter grid.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skcv import SoftmaxLinear
    >>> from skcv.plotting import plot_loss_curve
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    >>> model = SoftmaxLinear(random_state=0).fit(X, y)
    >>> ax = plot_loss_curve(model, ax=Figure().subplots())
    >>> len(ax.get_lines()[0].get_ydata()) == model.n_iter_
    True
    """
    _check_matplotlib()
    _, model = _unwrap(estimator)
    if not hasattr(model, "loss_curve_"):
        check_is_fitted(model)
        raise TypeError(
            f"plot_loss_curve needs a model with loss_curve_; "
            f"{type(model).__name__} has none."
        )
    loss = np.asarray(model.loss_curve_, dtype=float)
    ax = _new_axes(ax)
    epochs = np.arange(1, len(loss) + 1)
    lines = ax.plot(epochs, loss, "-", label=label or "training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    scores = getattr(model, "validation_scores_", None)
    if scores is not None and len(scores):
        twin = ax.twinx()
        lines += twin.plot(
            np.arange(1, len(scores) + 1),
            np.asarray(scores, dtype=float),
            "--",
            color="C1",
            label="validation score",
        )
        train = getattr(model, "train_scores_", None)
        if train is not None and len(train):
            lines += twin.plot(
                np.arange(1, len(train) + 1),
                np.asarray(train, dtype=float),
                ":",
                color="C2",
                label="training accuracy",
            )
        twin.set_ylabel("accuracy")
    ax.legend(lines, [line.get_label() for line in lines], loc="best")
    return ax


def _param_key(cv_results, name):
    """The ``param_*`` key of cv_results_ that ``name`` stands for."""
    keys = [key for key in cv_results if key.startswith("param_")]
    bare = name.removeprefix("param_")
    matches = [
        key
        for key in keys
        if key == "param_" + bare or key.removeprefix("param_").endswith("__" + bare)
    ]
    exact = [key for key in matches if key == "param_" + bare]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    options = ", ".join(key.removeprefix("param_") for key in keys)
    if not matches:
        raise ValueError(f"No parameter {name!r} in cv_results_; it holds: {options}.")
    raise ValueError(
        f"The parameter name {name!r} is ambiguous in cv_results_; use one of: "
        + ", ".join(key.removeprefix("param_") for key in matches)
        + "."
    )


def _param_values(cv_results, key):
    column = cv_results[key]
    mask = np.ma.getmaskarray(column)
    return [None if masked else value for value, masked in zip(list(column), mask)]


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _fmt(value):
    return f"{value:g}" if _is_number(value) else str(value)


def _short(key):
    return key.removeprefix("param_").rsplit("__", 1)[-1]


def _positions(values):
    """Axis positions of parameter values: the numbers, or category indices."""
    unique = list(dict.fromkeys(values))
    if all(_is_number(v) for v in unique):
        unique.sort()
        return {v: float(v) for v in unique}, True
    unique.sort(key=str)
    return {v: float(i) for i, v in enumerate(unique)}, False


def plot_cv_results(search, x, y=None, *, score="score", ax=None, cmap="viridis"):
    """Plot cross-validation scores against one or two parameters.

    With ``y=None`` this is the figure of CS231n's k-nearest-neighbour
    notes: a dot per fold and, through the mean score over the folds, a line
    with error bars of one standard deviation, one line per combination of
    the other parameters of the grid. With ``y`` given, a heatmap of the mean
    score over ``x`` and ``y``, the best over any other parameter being shown
    in each cell, the best cell framed.

    Parameters
    ----------
    search : fitted search or dict
        A fitted :class:`~sklearn.model_selection.GridSearchCV` (or any
        object with ``cv_results_``), or such a ``cv_results_`` dict.
    x : str
        Parameter on the x axis, named as in ``cv_results_`` (e.g.
        ``"param_estimator__softmaxlinear__alpha"``), without the ``param_``
        prefix, or by its last part (``"alpha"``) when that is unambiguous.
    y : str, default=None
        Parameter on the y axis of a heatmap.
    score : str, default="score"
        Which score: the columns ``split<i>_test_<score>``,
        ``mean_test_<score>`` and ``std_test_<score>`` are read.
    ax : matplotlib Axes, default=None
        Axes to draw into; a new pyplot figure when None.
    cmap : str or Colormap, default="viridis"
        Colour map of the heatmap.

    Returns
    -------
    ax : matplotlib Axes
        The axes drawn into.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The search whose results are shown.

    Notes
    -----
    The error bars are ``std_test_<score>``, the standard deviation (ddof=0)
    of the fold scores, as scikit-learn computes it. A numeric ``x`` whose
    positive values span two decades or more gets a logarithmic axis.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.neighbors import KNeighborsClassifier
    >>> from skcv.plotting import plot_cv_results
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(
    ...     KNeighborsClassifier(),
    ...     {"n_neighbors": [1, 5, 15], "weights": ["uniform", "distance"]},
    ...     cv=3,
    ... ).fit(X, y)
    >>> ax = plot_cv_results(search, "n_neighbors", ax=Figure().subplots())
    >>> len(ax.containers)  # one error-bar line per weighting
    2
    >>> ax = plot_cv_results(search, "n_neighbors", "weights", ax=Figure().subplots())
    >>> ax.get_images()[0].get_array().shape
    (2, 3)
    """
    _check_matplotlib()
    cv_results = search.cv_results_ if hasattr(search, "cv_results_") else search
    mean_key, std_key = f"mean_test_{score}", f"std_test_{score}"
    if mean_key not in cv_results:
        raise ValueError(
            f"cv_results_ has no {mean_key!r}; pass score= one of: "
            + ", ".join(
                k.removeprefix("mean_test_")
                for k in cv_results
                if k.startswith("mean_test_")
            )
            + "."
        )
    means = np.asarray(cv_results[mean_key], dtype=float)
    stds = np.asarray(cv_results[std_key], dtype=float)
    x_key = _param_key(cv_results, x)
    y_key = None if y is None else _param_key(cv_results, y)
    if x_key == y_key:
        raise ValueError(f"x and y name the same parameter, {_short(x_key)!r}.")
    x_values = _param_values(cv_results, x_key)
    ax = _new_axes(ax)
    if y_key is None:
        folds = sorted(
            (int(k[len("split") : -len(f"_test_{score}")]), k)
            for k in cv_results
            if k.startswith("split") and k.endswith(f"_test_{score}")
        )
        fold_scores = np.column_stack(
            [np.asarray(cv_results[k], dtype=float) for _, k in folds]
        )
        _plot_cv_lines(ax, cv_results, x_key, x_values, means, stds, fold_scores)
    else:
        y_values = _param_values(cv_results, y_key)
        _plot_cv_heatmap(ax, x_key, x_values, y_key, y_values, means, stds, cmap)
    return ax


def _plot_cv_lines(ax, cv_results, x_key, x_values, means, stds, fold_scores):
    others = [
        key
        for key in cv_results
        if key.startswith("param_")
        and key != x_key
        and len(set(map(repr, _param_values(cv_results, key)))) > 1
    ]
    groups = {}
    for i in range(len(means)):
        label = ", ".join(
            f"{_short(key)}={_fmt(_param_values(cv_results, key)[i])}" for key in others
        )
        groups.setdefault(label, []).append(i)
    positions, numeric = _positions(x_values)
    for color, (label, rows) in enumerate(groups.items()):
        rows = sorted(rows, key=lambda i: positions[x_values[i]])
        xs = np.array([positions[x_values[i]] for i in rows])
        ax.scatter(
            np.repeat(xs, fold_scores.shape[1]),
            fold_scores[rows].ravel(),
            s=10,
            alpha=0.4,
            color=f"C{color % 10}",
        )
        ax.errorbar(
            xs,
            means[rows],
            yerr=stds[rows],
            fmt="-o",
            capsize=3,
            color=f"C{color % 10}",
            label=label or None,
        )
    if numeric:
        positive = [v for v in positions if v > 0]
        if len(positive) == len(positions) and max(positive) >= 100 * min(positive):
            ax.set_xscale("log")
    else:
        ax.set_xticks(list(positions.values()), [_fmt(v) for v in positions])
    ax.set_xlabel(_short(x_key))
    ax.set_ylabel("CV score (mean ± std over folds)")
    if len(groups) > 1:
        ax.legend(fontsize="small")


def _plot_cv_heatmap(ax, x_key, x_values, y_key, y_values, means, stds, cmap):
    from matplotlib.patches import Rectangle

    x_pos, _ = _positions(x_values)
    y_pos, _ = _positions(y_values)
    grid = np.full((len(y_pos), len(x_pos)), np.nan)
    spread = np.full_like(grid, np.nan)
    for xv, yv, mean, std in zip(x_values, y_values, means, stds):
        i, j = list(y_pos).index(yv), list(x_pos).index(xv)
        if not mean <= grid[i, j]:  # also replaces NaN
            grid[i, j], spread[i, j] = mean, std
    image = ax.imshow(
        np.ma.masked_invalid(grid), cmap=cmap, origin="lower", aspect="auto"
    )
    ax.figure.colorbar(image, ax=ax, label="mean CV score")
    if grid.size <= 100:
        middle = np.nanmin(grid) + 0.5 * (np.nanmax(grid) - np.nanmin(grid))
        for (i, j), value in np.ndenumerate(grid):
            if np.isfinite(value):
                ax.text(
                    j,
                    i,
                    f"{value:.3f}\n±{spread[i, j]:.3f}",
                    ha="center",
                    va="center",
                    fontsize="x-small",
                    color="black" if value > middle else "white",
                )
    if np.isfinite(grid).any():
        i, j = np.unravel_index(np.nanargmax(grid), grid.shape)
        ax.add_patch(
            Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", lw=2)
        )
    ax.set_xticks(range(len(x_pos)), [_fmt(v) for v in x_pos])
    ax.set_yticks(range(len(y_pos)), [_fmt(v) for v in y_pos])
    ax.set_xlabel(_short(x_key))
    ax.set_ylabel(_short(y_key))


def plot_misclassified(
    images,
    y_true,
    y_pred,
    *,
    image_shape=None,
    class_names=None,
    max_images=24,
    ncols=None,
    cmap="gray",
    fig=None,
):
    """Show the images whose predicted label is wrong, with both labels.

    Parameters
    ----------
    images : array-like of shape (n_samples, H, W[, C]) or (n_samples, n_features)
        The test images, or flat rows together with ``image_shape``. ``C`` is
        1 (grey), 2 (drawn as red and green), 3 (RGB) or 4 (RGBA).
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    image_shape : tuple of int, default=None
        Shape of one image when ``images`` holds flat rows.
    class_names : list of str, default=None
        Names indexed by the (integer) labels; the labels themselves when None.
    max_images : int, default=24
        At most this many images, the first misclassified ones in order.
    ncols : int, default=None
        Images per row; ``min(n_shown, 8)`` when None.
    cmap : str or Colormap, default="gray"
        Colour map of grey images, all drawn on one grey scale.
    fig : matplotlib Figure, default=None
        Figure to draw into; a new pyplot figure when None.

    Returns
    -------
    fig : matplotlib Figure
        One axes per misclassified image, titled ``"true <label>"`` and
        ``"pred <label>"``; a single axes saying so when none is wrong.

    See Also
    --------
    sklearn.metrics.ConfusionMatrixDisplay : Counts of every kind of mistake.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skcv.plotting import plot_misclassified
    >>> images = np.zeros((4, 5, 5))
    >>> fig = plot_misclassified(images, [0, 1, 1, 2], [0, 2, 1, 0], fig=Figure())
    >>> [ax.get_title() for ax in fig.axes]
    ['true 1\\npred 2', 'true 2\\npred 0']
    """
    _check_matplotlib()
    images, _ = _check_images(images, image_shape=image_shape, input_name="images")
    if images.ndim == 2:
        raise ValueError(
            "images holds flat rows; pass image_shape such as (height, width) "
            "to draw them."
        )
    y_true = column_or_1d(y_true, warn=True)
    y_pred = column_or_1d(y_pred, warn=True)
    if not len(images) == len(y_true) == len(y_pred):
        raise ValueError(
            f"images, y_true and y_pred must have the same length; got "
            f"{len(images)}, {len(y_true)} and {len(y_pred)}."
        )
    if not isinstance(max_images, Integral) or max_images < 1:
        raise ValueError(f"max_images must be a positive integer; got {max_images!r}.")
    wrong = np.flatnonzero(y_true != y_pred)[:max_images]
    if wrong.size == 0:
        if fig is None:
            fig = _new_figure((3, 1))
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.set_axis_off()
        return fig
    true_names = _label_names(y_true[wrong], class_names)
    pred_names = _label_names(y_pred[wrong], class_names)
    shown = images[wrong]
    fig, axes = _image_grid(
        fig, len(wrong), min(len(wrong), 8) if ncols is None else ncols
    )
    if shown.ndim == 4:
        shown = _displayable(_to_rgb(shown))
    limits = {} if shown.ndim == 4 else {"vmin": shown.min(), "vmax": shown.max()}
    for ax, image, true, pred in zip(axes, shown, true_names, pred_names):
        ax.imshow(image, cmap=cmap, **limits)
        ax.set_title(f"true {true}\npred {pred}", fontsize="x-small")
        ax.set_axis_off()
    return fig


def plot_hog(images, hog=None, *, max_images=8, cmap="gray", fig=None):
    """Show images above the histograms of oriented gradients of their cells.

    Each cell of the lower picture holds one line per orientation bin, through
    the cell centre and along the edges that vote for the bin (perpendicular
    to their gradient), as bright as the bin's share of the gradient
    magnitude: scikit-image's ``hog(..., visualize=True)`` picture, drawn as
    vector lines. The histograms are the cells' before block normalisation;
    each image has its own brightness scale.

    Parameters
    ----------
    images : array-like of shape (n_samples, H, W[, C])
        The images.
    hog : HOGFeatures, default=None
        Whose ``orientations``, ``pixels_per_cell`` and ``transform_sqrt`` to
        draw; ``HOGFeatures()`` when None.
    max_images : int, default=8
        At most this many images, the first ones.
    cmap : str or Colormap, default="gray"
        Colour map of grey images.
    fig : matplotlib Figure, default=None
        Figure to draw into; a new pyplot figure when None.

    Returns
    -------
    fig : matplotlib Figure
        Two axes per image: the image, and its HOG picture below it.

    See Also
    --------
    skcv.features.HOGFeatures : The features drawn.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from skcv.features import HOGFeatures
    >>> from skcv.plotting import plot_hog
    >>> images = np.zeros((2, 16, 16))
    >>> images[:, :, 8:] = 1.0
    >>> fig = plot_hog(images, HOGFeatures(pixels_per_cell=4), fig=Figure())
    >>> len(fig.axes)
    4
    """
    _check_matplotlib()
    from matplotlib.collections import LineCollection

    from .features import HOGFeatures, _cell_histograms, _pair

    hog = HOGFeatures() if hog is None else hog
    if not isinstance(hog, HOGFeatures):
        raise TypeError(f"hog must be a HOGFeatures; got {type(hog).__name__}.")
    hog._validate_params()
    images, _ = _check_images(images, input_name="images")
    if images.ndim == 2:
        raise ValueError(
            "plot_hog needs images of shape (n_samples, height, width[, channels]); "
            "images holds flat rows."
        )
    if not isinstance(max_images, Integral) or max_images < 1:
        raise ValueError(f"max_images must be a positive integer; got {max_images!r}.")
    images = images[:max_images]
    cell = _pair(hog.pixels_per_cell, "pixels_per_cell")
    height, width = images.shape[1:3]
    if height < cell[0] or width < cell[1]:
        raise ValueError(
            f"Images of shape {images.shape[1:]} are smaller than one cell "
            f"{cell} of pixels_per_cell."
        )
    histograms = _cell_histograms(images, hog.orientations, cell, hog.transform_sqrt)
    n = len(images)
    if fig is None:
        fig = _new_figure((1.8 * n, 3.8))
    axes = fig.subplots(2, n, squeeze=False)
    shown = _displayable(_to_rgb(images)) if images.ndim == 4 else images
    # Bin midpoints; a gradient at angle t (from the column axis towards the
    # row axis) lies across an edge running along (row, col) = (cos t, -sin t).
    angles = np.pi * (np.arange(hog.orientations) + 0.5) / hog.orientations
    n_rows, n_cols = histograms.shape[1:3]
    centres_r = (np.arange(n_rows) * cell[0] + cell[0] / 2 - 0.5)[:, None, None]
    centres_c = (np.arange(n_cols) * cell[1] + cell[1] / 2 - 0.5)[None, :, None]
    radius = 0.45 * min(cell)
    d_r, d_c = radius * np.cos(angles), -radius * np.sin(angles)
    starts = np.stack(
        np.broadcast_arrays(centres_c - d_c, centres_r - d_r), axis=-1
    ).reshape(-1, 2)
    ends = np.stack(
        np.broadcast_arrays(centres_c + d_c, centres_r + d_r), axis=-1
    ).reshape(-1, 2)
    segments = np.stack([starts, ends], axis=1)
    for k in range(n):
        top, bottom = axes[0, k], axes[1, k]
        top.imshow(shown[k], cmap=cmap)
        strength = histograms[k].reshape(-1)
        peak = strength.max()
        strength = strength / peak if peak > 0 else strength
        colours = np.zeros((len(strength), 4))
        colours[:, :3] = 1.0
        colours[:, 3] = strength
        bottom.add_collection(LineCollection(segments, colors=colours, linewidths=1.2))
        bottom.set_facecolor("black")
        bottom.set_xlim(-0.5, width - 0.5)
        bottom.set_ylim(height - 0.5, -0.5)
        bottom.set_aspect("equal")
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("image", fontsize="small")
    axes[1, 0].set_ylabel("HOG cells", fontsize="small")
    return fig
