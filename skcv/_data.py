"""Loading and splitting the data of ``skcv run``.

Errors about the data (a missing file, a bad archive, a split that cannot
work) become :class:`~skcv._pipeline.UsageError` with one line of message.
"""

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from . import datasets
from ._pipeline import UsageError

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100")


@dataclass
class Data:
    """Images and labels; the test part is None until split."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    target_names: list | None


def _load_named(name, args):
    """A named data set: its training part and its official test part, if any."""
    if name == "digits":
        bunch = datasets.load_digits_images()
        return Data(name, bunch.images, bunch.target, None, None, bunch.target_names)
    loader = getattr(datasets, f"load_{name}")
    options = {"data_home": args.data_home, "download": args.download}
    train = loader(subset="train", **options)
    test = loader(subset="test", **options)
    return Data(
        name, train.images, train.target, test.images, test.target, train.target_names
    )


def _load_npz(path, option):
    """Images and labels of an ``.npz`` file, string labels as strings."""
    if not Path(path).is_file():
        raise UsageError(f"{option} {path}: no such file")
    bunch = datasets.load_npz(path)
    if bunch.images is None:
        raise UsageError(
            f"{option} {path}: X holds flat rows; save images of shape "
            "(N, H, W) or (N, H, W, C) instead"
        )
    # load_npz numbers string labels by their rank in that one file; a test
    # file that lacks a class would be numbered differently, so keep the
    # strings themselves.
    target = bunch.target
    if bunch.target_names != [str(v) for v in np.unique(target)]:
        target = np.asarray(bunch.target_names)[target]
    return bunch.images, target


@contextmanager
def _loading(option, value):
    """Turn the loaders' errors about the data into a UsageError."""
    try:
        yield
    except UsageError:
        raise
    except (ValueError, TypeError, OSError) as exc:
        lines = str(exc).strip().splitlines()
        message = lines[0] if lines else type(exc).__name__
        if isinstance(exc, FileNotFoundError) and value in DATASETS:
            message += " Run again with --download to fetch it."
        raise UsageError(f"cannot load {option} {value}: {message}") from None


def load_data(args):
    """Load ``--dataset`` (and ``--test-dataset``), or raise UsageError."""
    name = args.dataset
    with _loading("--dataset", name):
        if name in DATASETS:
            data = _load_named(name, args)
        elif name.endswith(".npz") or Path(name).exists():
            X, y = _load_npz(name, "--dataset")
            data = Data(Path(name).stem, X, y, None, None, None)
        else:
            raise UsageError(
                f"unknown --dataset {name!r}: choose from {', '.join(DATASETS)} "
                "or give the path of an .npz file"
            )
    if args.test_dataset is not None:
        with _loading("--test-dataset", args.test_dataset):
            data.X_test, data.y_test = _load_npz(args.test_dataset, "--test-dataset")
        if "U" in (data.y_train.dtype.kind, data.y_test.dtype.kind):
            data.y_train = data.y_train.astype(str)
            data.y_test = data.y_test.astype(str)
            data.target_names = None
    if data.X_test is not None and data.X_test.shape[1:] != data.X_train.shape[1:]:
        raise UsageError(
            f"test images have shape {data.X_test.shape[1:]}, training images "
            f"{data.X_train.shape[1:]}"
        )
    return data


def split(data, args):
    """Training and test images; the training part subsampled to --max-train."""
    test_split = "given"
    X_train, y_train, X_test, y_test = (
        data.X_train,
        data.y_train,
        data.X_test,
        data.y_test,
    )
    n_available = len(y_train)
    try:
        if X_test is None:
            test_split = f"stratified random {args.test_size:g}"
            X_train, X_test, y_train, y_test = train_test_split(
                X_train,
                y_train,
                test_size=args.test_size,
                stratify=y_train,
                random_state=args.seed,
            )
        if args.max_train is not None and args.max_train < len(y_train):
            X_train, _, y_train, _ = train_test_split(
                X_train,
                y_train,
                train_size=args.max_train,
                stratify=y_train,
                random_state=args.seed,
            )
    except ValueError as exc:
        raise UsageError(f"cannot split the data: {exc}") from None
    classes, counts = np.unique(y_train, return_counts=True)
    if len(classes) < 2:
        raise UsageError("the training data holds a single class")
    if counts.min() < args.cv:
        raise UsageError(
            f"class {classes.tolist()[counts.argmin()]!r} has {counts.min()} training "
            f"images, fewer than the {args.cv} folds of --cv"
        )
    # A test label that training never saw can only be misclassified: with
    # labels of another kind ("zero" against 0) every test image would be.
    unseen = np.setdiff1d(y_test, classes)
    if unseen.size:
        shown = ", ".join(str(v) for v in unseen[:10].tolist())
        more = f" and {unseen.size - 10} more" if unseen.size > 10 else ""
        source = "--test-dataset" if test_split == "given" else "the test set"
        raise UsageError(
            f"{source} holds {unseen.size} label(s) never seen in training: "
            f"{shown}{more}; the training labels are "
            + ", ".join(str(v) for v in classes[:10].tolist())
            + (", ..." if len(classes) > 10 else "")
        )
    return X_train, y_train, X_test, y_test, test_split, n_available
