"""The estimators, grids and augmentation presets that ``skcv run`` searches.

The linear models are searched as ``features -> StandardScaler -> model``
and nearest neighbour as ``features -> model``, the features being the pixels
(:class:`~skcv.PixelFlatten`), HOG or HOG plus a hue histogram, inside an
:class:`~skcv.AugmentedClassifier`, so that only the training folds of the
cross-validation are ever augmented. Whether to augment is itself a parameter
of the grid (``augmenter``: None or an :class:`~skcv.ImageAugmenter`), so
that cross-validation, not a guess, says whether augmentation helps a model.
"""

from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.pipeline import FeatureUnion, make_pipeline, make_union
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from ._search import NeighborsSearchCV, StagedHalvingGridSearchCV, halving_schedule
from .augment import AugmentedClassifier, ImageAugmenter
from .features import ColorHistogram, HOGFeatures
from .linear import HingeLinear, SoftmaxLinear
from .neighbors import NearestNeighbor
from .neural_network import NeuralNet
from .preprocessing import PixelFlatten


class UsageError(ValueError):
    """A command-line argument that cannot work; the message is one line."""


@dataclass(frozen=True)
class ModelSpec:
    """What ``skcv run`` knows about one model."""

    name: str
    title: str
    make: type
    grid: dict
    linear: bool
    # Standardise the pixels first. SGD needs features on one scale; k-NN is
    # better on raw pixels (standardising inflates the pixels that are rarely
    # inked: on digits 5-fold CV accuracy drops from 0.988 to 0.973 with L2).
    scale: bool
    # Parameters set on every fit (seeding, quieter defaults).
    fixed: dict = field(default_factory=dict)


# Default grids are sized for the digits demo (under two minutes on two
# cores): 10 kNN points and 3 x 4 points per linear model, each tried without
# and with augmentation, 5 folds each. The alphas reach the decade where the
# penalty starts to cost accuracy, so the heatmap shows the whole trade-off.
MODELS = {
    "knn": ModelSpec(
        name="knn",
        title="k-nearest neighbour",
        make=NearestNeighbor,
        grid={"n_neighbors": [1, 3, 5, 7, 10], "metric": ["l1", "l2"]},
        linear=False,
        scale=False,
    ),
    "softmax": ModelSpec(
        name="softmax",
        title="softmax (cross-entropy) linear",
        make=SoftmaxLinear,
        grid={
            # Multiples of the automatic step, which adapts to each data set.
            "learning_rate_scale": [0.3, 1.0, 3.0],
            "alpha": [1e-4, 1e-3, 1e-2, 1e-1],
        },
        linear=True,
        scale=True,
    ),
    "hinge": ModelSpec(
        name="hinge",
        title="multiclass SVM (hinge) linear",
        make=HingeLinear,
        grid={
            # Multiples of the automatic step, which adapts to each data set.
            "learning_rate_scale": [0.3, 1.0, 3.0],
            "alpha": [1e-4, 1e-3, 1e-2, 1e-1],
        },
        linear=True,
        scale=True,
    ),
    # 2 x 2 points; early stopping gives the report its per-epoch training
    # and validation accuracy, and stops each fit once it has converged.
    "net": ModelSpec(
        name="net",
        title="neural network (one hidden ReLU layer)",
        make=NeuralNet,
        grid={"hidden_layer_sizes": [50, 200], "alpha": [1e-4, 1e-2]},
        linear=True,
        scale=True,
        fixed={"early_stopping": True},
    ),
}

# The grey-image data sets whose labels change under a mirror image (digits,
# letters-like shapes); CIFAR photos keep their label when flipped.
_NO_FLIP = {"digits", "mnist", "fashion_mnist"}
_FLIP = {"cifar10", "cifar100"}

AUGMENT_PRESETS = ("none", "auto", "shift", "shift-rotate", "flip-shift")


def augment_params(preset, dataset, image_shape):
    """ImageAugmenter parameters of a preset, or None for no augmentation.

    Shifts are about 1/14 of the image side (1 pixel on 8x8 digits, 2 on
    28x28 MNIST and 32x32 CIFAR); each training image gets one augmented copy
    beside the original.

    ``auto`` flips CIFAR photos horizontally and never digits (a mirrored 2 or
    7 is no digit); for a data set of unknown kind (an ``.npz`` file) it only
    shifts, which preserves the label of any centred object.
    """
    if preset == "none":
        return None
    if preset == "auto":
        preset = "flip-shift" if dataset in _FLIP else "shift"
    shift = max(1, round(min(image_shape[:2]) / 14))
    params = {"max_shift": shift, "n_copies": 1, "keep_original": True}
    if preset == "shift-rotate":
        params["max_rotation"] = 10.0
    elif preset == "flip-shift":
        params["flip"] = True
    elif preset != "shift":
        raise UsageError(
            f"unknown --augment preset {preset!r}; choose from "
            + ", ".join(AUGMENT_PRESETS)
        )
    return params


def augmenter_choices(preset, params):
    """The ``augmenter`` values searched: ``auto`` tries both without and with."""
    if params is None:
        return [None]
    augmenter = ImageAugmenter(**params)
    return [None, augmenter] if preset == "auto" else [augmenter]


FEATURES = ("pixels", "hog", "hog+hue")


def feature_steps(names, image_shape):
    """The feature transformers of ``--features`` names, for images of a shape.

    HOG takes cells of a quarter of the image side (8x8 on CIFAR, 7x7 on
    MNIST, 2x2 on digits) and blocks of 3x3 cells. The hue histogram needs
    colour images.
    """
    steps = []
    for name in names:
        if name == "pixels":
            # rescale turns uint8 pixels into float32, which StandardScaler
            # keeps and SGD trains in: two to three times faster on MNIST than
            # float64, with the same accuracy.
            steps.append(PixelFlatten(rescale=True))
            continue
        if name not in FEATURES:
            raise UsageError(
                f"unknown --features {name!r}; choose from " + ", ".join(FEATURES)
            )
        side = min(image_shape[:2])
        cell = max(1, side // 4)
        block = 3 if side // cell >= 3 else 1
        hog = HOGFeatures(pixels_per_cell=(cell, cell), cells_per_block=(block, block))
        if name == "hog":
            steps.append(hog)
        elif len(image_shape) != 3 or image_shape[2] != 3:
            raise UsageError(
                f"--features {name} needs colour (RGB) images; these have shape "
                f"{tuple(image_shape)}. Use pixels or hog."
            )
        else:
            steps.append(make_union(hog, ColorHistogram()))
    return steps


def feature_label(step):
    """``pixels``, ``hog`` or ``hog+hue``: the --features name of a transformer."""
    if isinstance(step, PixelFlatten):
        return "pixels"
    if isinstance(step, HOGFeatures):
        return "hog"
    if isinstance(step, ColorHistogram):
        return step.channel
    if isinstance(step, FeatureUnion):
        return "+".join(feature_label(t) for _, t in step.transformer_list)
    return type(step).__name__


def build_estimator(spec, *, random_state=None, features=None):
    """The estimator searched for ``spec`` and the prefix of its parameters.

    The wrapper's ``random_state`` seeds the augmenter and the model. The
    pipeline's first step, named ``features``, is the first of ``features``
    (pixels when None); the grid may swap it for the others.
    """
    model = spec.make(**spec.fixed)
    scaler = [StandardScaler()] if spec.scale else []
    first = features[0] if features else PixelFlatten(rescale=True)
    pipeline = make_pipeline(first, *scaler, model)
    pipeline.steps[0] = ("features", first)
    estimator = AugmentedClassifier(pipeline, random_state=random_state)
    return estimator, f"estimator__{pipeline.steps[-1][0]}__"


def parse_value(text):
    """A grid value from the command line: int, float, bool, None or str."""
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_grid_overrides(items, models):
    """``["knn.n_neighbors=1,3"]`` to ``{"knn": {"n_neighbors": [1, 3]}}``."""
    overrides = {}
    for item in items:
        head, sep, values = item.partition("=")
        model, dot, param = head.strip().partition(".")
        values = [v.strip() for v in values.split(",")]
        if not sep or not dot or not model or not param or "" in values:
            raise UsageError(
                f"bad --grid {item!r}: expected MODEL.PARAM=VALUE[,VALUE...], "
                f"e.g. knn.n_neighbors=1,3,5"
            )
        if model not in MODELS:
            raise UsageError(
                f"bad --grid {item!r}: unknown model {model!r}; choose from "
                + ", ".join(MODELS)
            )
        if model not in models:
            raise UsageError(
                f"bad --grid {item!r}: model {model!r} is not in --models "
                + ",".join(models)
            )
        if param in overrides.get(model, {}):
            raise UsageError(
                f"--grid {model}.{param} is given twice; list all its values in "
                f"one --grid {model}.{param}=V1,V2"
            )
        overrides.setdefault(model, {})[param] = [parse_value(v) for v in values]
    return overrides


def _nested_estimators(estimator):
    yield estimator
    for value in estimator.get_params(deep=True).values():
        if isinstance(value, BaseEstimator):
            yield value


def build_grid(spec, estimator, prefix, overrides, augmenters=(None,), features=()):
    """The search grid: defaults with overrides, every value checked up front.

    A parameter is named as the model's own (``alpha``) or as one of the
    augmenter's (``augmenter__max_shift``), which needs the augmenter to be
    on in every grid point (an augmentation preset, not ``auto``). Each value
    is set on a clone and validated against the ``_parameter_constraints`` of
    every estimator inside, so a bad value fails before any fit.
    """
    own = spec.make().get_params()
    grid = {prefix + name: list(values) for name, values in spec.grid.items()}
    grid["augmenter"] = list(augmenters)
    if len(features) > 1:
        grid["estimator__features"] = list(features)
    augmenter = augmenters[-1]
    for name, values in overrides.items():
        if name in own:
            key = prefix + name
        elif name.startswith("augmenter__"):
            param = name.removeprefix("augmenter__")
            if augmenter is None or None in augmenters:
                raise UsageError(
                    f"bad --grid {spec.name}.{name}: the augmenter's settings "
                    "can be searched only with an augmentation preset that is "
                    "always on (--augment shift, shift-rotate or flip-shift)"
                )
            if param not in augmenter.get_params():
                raise UsageError(
                    f"bad --grid {spec.name}.{name}: ImageAugmenter has no "
                    f"parameter {param!r}; it has: "
                    + ", ".join(sorted(augmenter.get_params()))
                )
            key = name
        else:
            raise UsageError(
                f"bad --grid {spec.name}.{name}: {spec.make.__name__} has no "
                f"parameter {name!r}; it has: "
                + ", ".join(sorted(own))
                + " (and augmenter__PARAM for the augmenter's)"
            )
        grid[key] = values
        for value in values:
            candidate = clone(estimator).set_params(augmenter=augmenter, **{key: value})
            try:
                for inner in _nested_estimators(candidate):
                    if hasattr(inner, "_parameter_constraints"):
                        inner._validate_params()
            except InvalidParameterError as exc:
                raise UsageError(
                    f"bad --grid {spec.name}.{name}={value!r}: {exc}"
                ) from None
    return grid


def short_name(key, prefix):
    """``estimator__softmaxlinear__alpha`` to ``alpha``; other paths kept."""
    key = key.removeprefix("param_")
    return "features" if key == "estimator__features" else key.removeprefix(prefix)


def display_value(key, value):
    """A grid value for tables and legends: the augmenter as off / on."""
    if key.removeprefix("param_") == "augmenter":
        return "off" if value is None else "on"
    if key.removeprefix("param_") == "estimator__features":
        return feature_label(value)
    return value


def display_params(params, prefix, order=()):
    """Short names and display values of one grid point, keys in ``order`` first."""
    keys = [k for k in order if k in params] + [k for k in params if k not in order]
    return {short_name(k, prefix): display_value(k, params[k]) for k in keys}


SEARCHES = ("auto", "halving", "grid")

# Rows on which ``--search halving`` compares grid points: the k-NN groups and
# the linear models' halving work on at most this many training images; the
# best k-NN group is then scored on all of them. See docs/cli.rst for the
# measurements behind it.
MAX_RESOURCES = 20_000


# ``--search auto`` runs the exhaustive grid up to this many training images
# (the digits demo: every grid point, as before) and halving beyond.
AUTO_HALVING_ABOVE = 10_000


def search_strategy(search, n_train):
    """The strategy ``--search`` stands for on ``n_train`` training images."""
    if search == "auto":
        return "halving" if n_train > AUTO_HALVING_ABOVE else "grid"
    return search


def build_search(estimator, grid, *, cv, seed, n_jobs, spec=None, prefix="",
                 strategy="grid", n_train=None):  # fmt: skip
    """The search over stratified, shuffled folds, refitting the best.

    k-NN is searched by :class:`~skcv._search.NeighborsSearchCV` (every k from
    one neighbour search per fold); with ``strategy="grid"`` every grid point
    gets the fold scores GridSearchCV would give it. With ``"halving"`` the
    augmentation is tried for the best setting only, k-NN compares its groups
    on MAX_RESOURCES images before scoring the best on all, and the linear
    models run successive halving on up to MAX_RESOURCES images.
    """
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    halving = strategy == "halving"
    common = {"cv": folds, "refit": True, "n_jobs": n_jobs, "error_score": "raise"}
    if spec is not None and not spec.linear:
        return NeighborsSearchCV(
            estimator,
            grid,
            n_neighbors_key=prefix + "n_neighbors",
            stage_key="augmenter" if halving else None,
            max_resources=MAX_RESOURCES if halving else None,
            random_state=seed,
            **common,
        )
    if halving:
        return StagedHalvingGridSearchCV(
            estimator,
            grid,
            stage_key="augmenter",
            factor=3,
            max_resources=min(n_train, MAX_RESOURCES),
            min_resources="exhaust",
            random_state=seed,
            **common,
        )
    return GridSearchCV(estimator, grid, return_train_score=False, **common)


def _size_factor(augmenter):
    """Training rows per original image that an augmenter produces."""
    if augmenter is None:
        return 1
    params = augmenter.get_params()
    return params.get("n_copies", 1) + bool(params.get("keep_original", True))


def search_plan(search, n_samples, n_classes):
    """The Parallel calls a search makes: ``(label, n_fits, cost of a fit)``.

    The cost is relative to fitting on a whole training fold without
    augmentation, so that a progress bar advances by work done rather than
    fits counted: k-NN costs grow with the square of the rows (queries times
    training rows), the linear models' linearly; augmented training rows
    count as many times as the augmenter multiplies them.
    """
    n_splits = search.cv.get_n_splits()
    if isinstance(search, NeighborsSearchCV):
        groups = search._groups()
        first, _ = search._stages(groups)
        sizes = [_size_factor(g[0].get("augmenter")) for g in groups]
        fraction = 1.0
        if search.max_resources is not None and search.max_resources < n_samples:
            fraction = search.max_resources / n_samples
        plan = [
            (
                "neighbours"
                if fraction == 1
                else f"neighbours on {search.max_resources}",
                len(first) * n_splits,
                fraction**2
                * np.mean([_size_factor(g[0].get("augmenter")) for g in first]),
            )
        ]
        if len(first) < len(groups):
            plan.append(("augmentation", n_splits, fraction**2 * max(sizes)))
        if fraction < 1:
            plan.append(("best group on all rows", n_splits, max(sizes)))
        return plan
    if isinstance(search, StagedHalvingGridSearchCV):
        values = search._stage_values()
        n_candidates = len(search._generate_candidate_params())
        fold = n_samples * (n_splits - 1) / n_splits
        schedule = halving_schedule(
            n_candidates,
            n_samples,
            factor=search.factor,
            max_resources=search.max_resources,
            n_splits=n_splits,
            n_classes=n_classes,
        )
        plan = [
            (f"halving {i + 1}/{len(schedule)} on {rows}", count * n_splits,
             rows * (n_splits - 1) / n_splits / fold)
            for i, (count, rows) in enumerate(schedule)
        ]  # fmt: skip
        if len(values) > 1:
            rows = schedule[-1][1]
            plan.append(
                ("augmentation", (len(values) - 1) * n_splits,
                 rows / n_samples * max(map(_size_factor, values[1:])))
            )  # fmt: skip
        return plan
    points = list(ParameterGrid(search.param_grid))
    cost = np.mean([_size_factor(p.get("augmenter")) for p in points])
    return [("grid", len(points) * n_splits, float(cost))]


def n_fits(search, n_samples=None, n_classes=None):
    """Fits the search will run (the neighbour searches, for k-NN)."""
    if n_samples is None:
        return len(ParameterGrid(search.param_grid)) * search.cv.get_n_splits()
    return sum(count for _, count, _ in search_plan(search, n_samples, n_classes))
