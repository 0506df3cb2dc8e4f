"""The bad-input matrix: every malformed input gets a clear error, for every subject.

Each row of the matrix is one (case, subject) pair. A subject is a public
estimator (in the configuration the case needs), transformer, sampler or
data-set loader; a case is one kind of bad input. The rows are generated from
the two lists below, so a case runs on every subject it applies to, and the
applicability is decided from the subjects' parameters and methods rather
than listed by hand.

Every row asserts the exception type (``ValueError`` or ``TypeError``, or
``NotFittedError``, which is both a ``ValueError`` and an ``AttributeError``)
and, with ``match=``, that the message names the problem.
"""

import gzip
import hashlib
import io
import pickle
import tarfile
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import has_fit_parameter

from skcv import (
    AugmentedClassifier,
    ColorHistogram,
    HingeLinear,
    HOGFeatures,
    ImageAugmenter,
    NearestNeighbor,
    NeuralNet,
    PixelFlatten,
    SoftmaxLinear,
)
from skcv.datasets import _registry, load_cifar10, load_mnist, load_npz
from skcv.losses import hinge_loss, penalty_value_and_grad, softmax_loss

# ---------------------------------------------------------------- the data

_RNG = np.random.RandomState(0)
N_SAMPLES = 24
IMAGE_SHAPE = (4, 4)
N_FEATURES = 16
LABELS = np.arange(N_SAMPLES) % 3
IMAGES = _RNG.rand(N_SAMPLES, *IMAGE_SHAPE)
ROWS = IMAGES.reshape(N_SAMPLES, N_FEATURES)

# Short fits: these tests are about validation, not about convergence.
_FAST = {"max_iter": 3, "random_state": 0}


# ---------------------------------------------------------------- the subjects


@dataclass(frozen=True)
class Subject:
    """Something that takes data: how to build it, train it and apply it.

    ``layout`` says whether it takes flat rows or image batches; ``kind`` is
    "classifier" (fit(X, y) then predict), "transformer" (fit(X) then
    transform) or "sampler" (fit_resample(X, y)).
    """

    name: str
    factory: object
    layout: str
    kind: str
    methods: tuple = ()

    def make(self, **params):
        return self.factory(**params)

    def accepts(self, param):
        return _routes(self.make()).get(param) is not None

    @property
    def X(self):
        return ROWS if self.layout == "rows" else IMAGES

    def train(self, est, X, y=LABELS, **kwargs):
        if self.kind == "classifier":
            return est.fit(X, y, **kwargs)
        if self.kind == "transformer":
            return est.fit(X)
        return est.fit_resample(X, y)

    def fitted(self, **params):
        est = self.make(**params)
        self.train(est, self.X)
        return est

    def apply(self, est, X):
        if self.kind == "classifier":
            return est.predict(X)
        if self.kind == "transformer":
            return est.transform(X)
        return est.fit_resample(X, LABELS[: len(X)])


def _routes(est):
    """Where each parameter name goes: {name: (estimator, key)}.

    AugmentedClassifier's own parameters go to it, the augmenter's to the
    augmenter and the rest to the final classifier, so that one case such
    as ``alpha=-1`` also runs through the meta-estimator's nested fit.
    """
    routes = {name: (est, name) for name in est.get_params(deep=False)}
    if isinstance(est, AugmentedClassifier):
        inner = est.estimator.steps[-1][1]
        for name in inner.get_params(deep=False):
            routes.setdefault(name, (inner, name))
        for name in est.augmenter.get_params(deep=False):
            routes.setdefault(name, (est.augmenter, name))
    return routes


def _routed(factory):
    def make(**params):
        est = factory()
        routes = _routes(est)
        for name, value in params.items():
            target, key = routes[name]
            target.set_params(**{key: value})
        return est

    return make


def _augmented_classifier(online):
    def factory():
        return AugmentedClassifier(
            make_pipeline(PixelFlatten(), SoftmaxLinear(**_FAST)),
            augmenter=ImageAugmenter(flip=True, max_shift=1),
            online=online,
            max_epochs=2,
            random_state=0,
        )

    return factory


SUBJECTS = [
    Subject(
        "NearestNeighbor",
        _routed(NearestNeighbor),
        "rows",
        "classifier",
        ("predict", "predict_proba", "kneighbors"),
    ),
    Subject(
        "NearestNeighbor-l1-k3",
        _routed(lambda: NearestNeighbor(3, metric="l1", weights="distance")),
        "rows",
        "classifier",
        ("predict", "predict_proba", "kneighbors"),
    ),
    Subject(
        "SoftmaxLinear",
        _routed(lambda: SoftmaxLinear(**_FAST)),
        "rows",
        "classifier",
        ("predict", "predict_proba", "predict_log_proba", "decision_function"),
    ),
    Subject(
        "HingeLinear",
        _routed(lambda: HingeLinear(**_FAST)),
        "rows",
        "classifier",
        ("predict", "decision_function"),
    ),
    Subject(
        "NeuralNet",
        _routed(lambda: NeuralNet(hidden_layer_sizes=(5,), **_FAST)),
        "rows",
        "classifier",
        ("predict", "predict_proba", "predict_log_proba", "decision_function"),
    ),
    Subject(
        "AugmentedClassifier",
        _routed(_augmented_classifier(online=False)),
        "images",
        "classifier",
        ("predict", "predict_proba", "decision_function"),
    ),
    Subject(
        "AugmentedClassifier-online",
        _routed(_augmented_classifier(online=True)),
        "images",
        "classifier",
        ("predict", "predict_proba", "decision_function"),
    ),
    Subject("PixelFlatten", _routed(PixelFlatten), "images", "transformer"),
    Subject(
        "HOGFeatures",
        _routed(lambda: HOGFeatures(pixels_per_cell=2, cells_per_block=1)),
        "images",
        "transformer",
    ),
    # The test images are grey, of which only the value histogram exists.
    Subject(
        "ColorHistogram",
        _routed(lambda: ColorHistogram(channel="value")),
        "images",
        "transformer",
    ),
    Subject(
        "ImageAugmenter",
        _routed(lambda: ImageAugmenter(flip=True, max_shift=1, random_state=0)),
        "images",
        "sampler",
    ),
]


# ---------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One kind of bad input.

    ``build(subject)`` returns a callable that must raise; ``applies`` says
    which subjects the case concerns.
    """

    name: str
    build: object
    exc: object
    match: str
    applies: object = lambda s: True


def _with(X, index, value):
    X = X.astype(np.float64)
    X.reshape(-1)[index] = value
    return X


def _is(*kinds):
    return lambda s: s.kind in kinds


def _labelled(s):
    return s.kind in ("classifier", "sampler")


def _has_partial_fit(s):
    return hasattr(s.make(), "partial_fit")


def _takes_sample_weight(s):
    return s.kind == "classifier" and has_fit_parameter(s.make(), "sample_weight")


def _can_refuse_one_class(s):
    # k-NN, like scikit-learn's, predicts the only class it was given (see
    # test_input_handling); the trained models cannot separate one class.
    return s.kind == "classifier" and not s.accepts("n_neighbors")


def _remembers_shape(s):
    # Subjects that remember the image shape at fit and must reject another
    # layout of the same number of pixels.
    return s.layout == "images" and s.kind in ("classifier", "transformer")


def _has_inverse_transform(s):
    return s.kind == "transformer" and hasattr(s.make(), "inverse_transform")


def _is_image_features(s):
    return isinstance(s.make(), HOGFeatures | ColorHistogram)


def _zero_pixels(s):
    if s.layout == "rows":
        return ROWS[:, :0]
    return IMAGES[:, :0]


def _wrong_features(s):
    if s.layout == "rows":
        return ROWS[:, :5]
    return _RNG.rand(3, 5, 5)


_PREDICT_METHODS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
    "kneighbors",
)

CASES = [
    # -- X values
    Case(
        "nan-in-X",
        lambda s: lambda: s.train(s.make(), _with(s.X, 7, np.nan)),
        ValueError,
        "NaN",
    ),
    Case(
        "inf-in-X",
        lambda s: lambda: s.train(s.make(), _with(s.X, 7, np.inf)),
        ValueError,
        "infinity",
    ),
    Case(
        "neg-inf-in-X",
        lambda s: lambda: s.train(s.make(), _with(s.X, 3, -np.inf)),
        ValueError,
        "infinity",
    ),
    Case(
        "nan-in-X-at-predict",
        lambda s: lambda: s.apply(s.fitted(), _with(s.X, 0, np.nan)),
        ValueError,
        "NaN",
        _is("classifier", "transformer"),
    ),
    Case(
        "string-X",
        lambda s: lambda: s.train(s.make(), np.full(s.X.shape, "a")),
        ValueError,
        "string",
    ),
    Case(
        "string-X-at-predict",
        lambda s: lambda: s.apply(s.fitted(), np.full(s.X.shape, "a")),
        ValueError,
        "string",
        _is("classifier", "transformer"),
    ),
    Case(
        "complex-X",
        lambda s: lambda: s.train(s.make(), s.X + 1j),
        ValueError,
        "[Cc]omplex",
    ),
    Case(
        "sparse-X",
        lambda s: lambda: s.train(s.make(), sp.csr_matrix(ROWS)),
        TypeError,
        "[Ss]parse",
    ),
    Case(
        "sparse-X-at-predict",
        lambda s: lambda: s.apply(s.fitted(), sp.csr_matrix(ROWS)),
        TypeError,
        "[Ss]parse",
        _is("classifier", "transformer"),
    ),
    # -- X shape
    Case(
        "1d-X",
        lambda s: lambda: s.train(s.make(), ROWS[:, 0]),
        ValueError,
        "1D|1 dimension",
    ),
    Case(
        "1d-X-at-predict",
        lambda s: lambda: s.apply(s.fitted(), s.X[0].reshape(-1)),
        ValueError,
        "1D|1 dimension",
        _is("classifier", "transformer"),
    ),
    Case(
        "5d-X",
        lambda s: lambda: s.train(s.make(), IMAGES[:, :, :, None, None]),
        ValueError,
        "dim 5|5 dimension",
    ),
    Case(
        "images-into-a-row-model",
        lambda s: lambda: s.train(s.make(), IMAGES),
        ValueError,
        "dim 3",
        lambda s: s.layout == "rows",
    ),
    Case(
        "rows-into-geometric-augmentation",
        lambda s: lambda: s.train(s.make(), ROWS),
        ValueError,
        "need images",
        lambda s: s.layout == "images" and s.accepts("max_shift"),
    ),
    Case(
        "empty-X",
        lambda s: lambda: s.train(s.make(), s.X[:0], LABELS[:0]),
        ValueError,
        "0 sample",
    ),
    Case(
        "empty-X-at-predict",
        lambda s: lambda: s.apply(s.fitted(), s.X[:0]),
        ValueError,
        "0 sample",
        _is("classifier", "transformer"),
    ),
    Case(
        "zero-features",
        lambda s: lambda: s.train(s.make(), _zero_pixels(s)),
        ValueError,
        "0 feature|no pixels",
    ),
    Case(
        "feature-count-differs-from-fit",
        lambda s: lambda: s.apply(s.fitted(), _wrong_features(s)),
        ValueError,
        r"has \d+ features.* expecting 16|fitted on images of shape",
        _is("classifier", "transformer"),
    ),
    Case(
        "image-shape-differs-from-fit",
        lambda s: lambda: s.apply(s.fitted(), s.X.reshape(N_SAMPLES, 2, 8)),
        ValueError,
        r"images of shape \(2, 8\).*fitted on images of shape \(4, 4\)",
        _remembers_shape,
    ),
    Case(
        "image-shape-differs-from-image_shape",
        lambda s: lambda: s.train(s.make(image_shape=(2, 8)), IMAGES),
        ValueError,
        r"\(4, 4\).*image_shape is \(2, 8\)",
        lambda s: s.accepts("image_shape"),
    ),
    Case(
        "image_shape-not-positive",
        lambda s: lambda: s.train(s.make(image_shape=(0, 16)), ROWS),
        ValueError,
        "positive integers",
        lambda s: s.accepts("image_shape"),
    ),
    Case(
        "image_shape-does-not-fit-the-rows",
        lambda s: lambda: s.train(s.make(image_shape=(3, 4)), ROWS),
        ValueError,
        r"16 features per row.*\(3, 4\)",
        lambda s: s.accepts("image_shape"),
    ),
    # -- y
    Case(
        "y-wrong-length",
        lambda s: lambda: s.train(s.make(), s.X, LABELS[:-1]),
        ValueError,
        "inconsistent numbers of samples",
        _labelled,
    ),
    Case(
        "y-with-nan",
        lambda s: lambda: s.train(s.make(), s.X, _with(LABELS, 0, np.nan)),
        ValueError,
        "y contains NaN",
        _labelled,
    ),
    Case(
        "y-2d",
        lambda s: lambda: s.train(s.make(), s.X, np.c_[LABELS, LABELS]),
        ValueError,
        "1d array",
        _is("classifier"),
    ),
    Case(
        "y-continuous",
        lambda s: lambda: s.train(s.make(), s.X, LABELS + 0.5 * _RNG.rand(N_SAMPLES)),
        ValueError,
        "Unknown label type: continuous",
        _is("classifier"),
    ),
    Case(
        "y-mixes-strings-and-numbers",
        lambda s: (
            lambda: s.train(
                s.make(), s.X, np.array(["a", 1, 2] * (N_SAMPLES // 3), dtype=object)
            )
        ),
        TypeError,
        "strings and numbers",
        _is("classifier"),
    ),
    Case(
        "single-class",
        lambda s: lambda: s.train(s.make(), s.X, np.zeros(N_SAMPLES, int)),
        ValueError,
        "at least 2 classes",
        _can_refuse_one_class,
    ),
    # -- sample_weight
    Case(
        "sample_weight-wrong-length",
        lambda s: lambda: s.train(s.make(), s.X, sample_weight=np.ones(5)),
        ValueError,
        r"sample_weight.shape == \(5,\), expected \(24,\)",
        _takes_sample_weight,
    ),
    Case(
        "sample_weight-negative",
        lambda s: lambda: s.train(s.make(), s.X, sample_weight=-np.ones(N_SAMPLES)),
        ValueError,
        "[Nn]egative values.*sample_weight",
        _takes_sample_weight,
    ),
    Case(
        "sample_weight-nan",
        lambda s: (
            lambda: s.train(
                s.make(), s.X, sample_weight=_with(np.ones(N_SAMPLES), 0, np.nan)
            )
        ),
        ValueError,
        "sample_weight contains NaN",
        _takes_sample_weight,
    ),
    Case(
        "sample_weight-all-zero",
        lambda s: lambda: s.train(s.make(), s.X, sample_weight=np.zeros(N_SAMPLES)),
        ValueError,
        "non-zero",
        _takes_sample_weight,
    ),
    # -- partial_fit
    Case(
        "partial_fit-first-call-without-classes",
        lambda s: lambda: s.make().partial_fit(s.X, LABELS),
        ValueError,
        "classes must be passed on the first call",
        _has_partial_fit,
    ),
    Case(
        "partial_fit-unknown-label-later",
        lambda s: (
            lambda: (
                s.make()
                .partial_fit(s.X, LABELS, classes=[0, 1, 2])
                .partial_fit(s.X, LABELS + 1)
            )
        ),
        ValueError,
        r"labels not in classes_ \[0, 1, 2\]: \[3\]",
        _has_partial_fit,
    ),
    Case(
        "partial_fit-new-classes-later",
        lambda s: (
            lambda: (
                s.make()
                .partial_fit(s.X, LABELS, classes=[0, 1, 2])
                .partial_fit(s.X, LABELS, classes=[0, 1, 2, 3])
            )
        ),
        ValueError,
        r"classes=\[0, 1, 2, 3\] differs",
        _has_partial_fit,
    ),
    Case(
        "partial_fit-single-class",
        lambda s: lambda: s.make().partial_fit(s.X, LABELS * 0, classes=[0]),
        ValueError,
        "at least 2 classes",
        _has_partial_fit,
    ),
    Case(
        "partial_fit-feature-count-changes",
        lambda s: (
            lambda: (
                s.make()
                .partial_fit(s.X, LABELS, classes=[0, 1, 2])
                .partial_fit(s.X[:, :5], LABELS)
            )
        ),
        ValueError,
        "has 5 features.* expecting 16",
        _has_partial_fit,
    ),
    # -- state
    *[
        Case(
            f"{method}-before-fit",
            (lambda m: lambda s: lambda: getattr(s.make(), m)(s.X))(method),
            NotFittedError,
            "not fitted",
            (lambda m: lambda s: m in s.methods)(method),
        )
        for method in _PREDICT_METHODS
    ],
    Case(
        "score-before-fit",
        lambda s: lambda: s.make().score(s.X, LABELS),
        NotFittedError,
        "not fitted",
        _is("classifier"),
    ),
    Case(
        "inverse_transform-before-fit-without-image_shape",
        lambda s: lambda: s.make().inverse_transform(ROWS),
        NotFittedError,
        "not fitted",
        _has_inverse_transform,
    ),
    Case(
        "inverse_transform-wrong-feature-count",
        lambda s: lambda: s.fitted().inverse_transform(ROWS[:, :5]),
        ValueError,
        r"5 features per row.*\(4, 4\)",
        _has_inverse_transform,
    ),
    # -- image features
    Case(
        "flat-rows-into-image-features",
        lambda s: lambda: s.train(s.make(), ROWS),
        ValueError,
        "flat rows whose image layout is unknown",
        _is_image_features,
    ),
    Case(
        "images-smaller-than-a-block",
        lambda s: lambda: s.train(s.make(cells_per_block=3), IMAGES),
        ValueError,
        r"\(4, 4\) are too small.*at least 6x6 pixels",
        lambda s: s.accepts("cells_per_block"),
    ),
    Case(
        "images-smaller-than-a-cell",
        lambda s: lambda: s.train(s.make(pixels_per_cell=(5, 1)), IMAGES),
        ValueError,
        r"\(4, 4\) are too small.*at least 5x1 pixels",
        lambda s: s.accepts("pixels_per_cell"),
    ),
    Case(
        "hue-histogram-of-grey-images",
        lambda s: lambda: s.train(s.make(channel="hue"), IMAGES),
        ValueError,
        r"needs RGB colour images.*which are grey",
        lambda s: s.accepts("channel"),
    ),
    Case(
        "warm_start-with-other-classes",
        lambda s: lambda: s.train(s.fitted(warm_start=True), s.X, LABELS + 1),
        ValueError,
        "warm_start needs y to have the classes",
        lambda s: s.accepts("warm_start") and s.layout == "rows",
    ),
    Case(
        "early_stopping-without-room-for-validation",
        lambda s: (
            lambda: s.train(s.make(early_stopping=True, validation_fraction=0.9), s.X)
        ),
        ValueError,
        "validation",
        # Offline, early_stopping is refused outright (case early_stopping-offline).
        lambda s: s.accepts("early_stopping") and s.name != "AugmentedClassifier",
    ),
]

# -- hyperparameters: out of range and unknown strings. Each applies to every
# subject that accepts the parameter (for AugmentedClassifier: its own, its
# augmenter's and its classifier's), and fit must name the parameter.
BAD_PARAMS = [
    ("alpha", -1.0),
    ("learning_rate_init", 0.0),
    ("learning_rate_init", -0.1),
    ("batch_size", 0),
    ("max_iter", 0),
    ("momentum", 1.5),
    ("tol", -1.0),
    ("l1_ratio", 2.0),
    ("validation_fraction", 1.0),
    ("delta", -1.0),
    ("n_copies", -1),
    ("noise", -0.1),
    ("brightness", -0.1),
    ("contrast", 1.5),
    ("max_shift", -1),
    ("max_rotation", 270.0),
    ("max_epochs", 0),
    ("penalty", "l3"),
    ("learning_rate", "optimal"),
    ("multi_class", "ovr"),
    ("pad_mode", "wrap"),
    ("metric", "cosine"),
    ("weights", "gaussian"),
    ("n_neighbors", 0),
    ("n_neighbors", -1),
    ("n_neighbors", 2.5),
    ("block_memory_mib", 0),
    ("n_jobs", 1.5),
    ("block_norm", "L3"),
    ("block_norm", None),
    ("orientations", 0),
    ("channel", "red"),
    ("bins", 0),
]
CASES += [
    Case(
        f"{param}={value!r}",
        (lambda p, v: lambda s: lambda: s.train(s.make(**{p: v}), s.X))(param, value),
        ValueError,
        f"'{param}' parameter",
        (lambda p: lambda s: s.accepts(p))(param),
    )
    for param, value in BAD_PARAMS
]
CASES += [
    Case(
        "n_neighbors-more-than-training-rows",
        lambda s: lambda: s.apply(s.fitted(n_neighbors=N_SAMPLES + 1), s.X),
        ValueError,
        r"n_neighbors <= n_samples_fit, but n_neighbors = 25, n_samples_fit = 24",
        lambda s: s.accepts("n_neighbors"),
    ),
    Case(
        "kneighbors-more-than-training-rows",
        lambda s: lambda: s.fitted().kneighbors(s.X, n_neighbors=N_SAMPLES + 1),
        ValueError,
        "n_neighbors <= n_samples_fit",
        lambda s: "kneighbors" in s.methods,
    ),
    Case(
        "kneighbors-of-training-rows-with-all-of-them",
        lambda s: lambda: s.fitted().kneighbors(None, n_neighbors=N_SAMPLES),
        ValueError,
        "n_neighbors < n_samples_fit when X is None",
        lambda s: "kneighbors" in s.methods,
    ),
    Case(
        "kneighbors-n_neighbors-zero",
        lambda s: lambda: s.fitted().kneighbors(s.X, n_neighbors=0),
        ValueError,
        "n_neighbors > 0",
        lambda s: "kneighbors" in s.methods,
    ),
    Case(
        "kneighbors-n_neighbors-float",
        lambda s: lambda: s.fitted().kneighbors(s.X, n_neighbors=2.0),
        TypeError,
        "n_neighbors must be an integer",
        lambda s: "kneighbors" in s.methods,
    ),
    Case(
        "n_jobs=0",
        lambda s: lambda: s.apply(s.fitted(n_jobs=0), s.X),
        ValueError,
        "n_jobs == 0",
        lambda s: s.accepts("n_jobs"),
    ),
    Case(
        "n_copies=0-without-originals",
        lambda s: lambda: s.train(s.make(n_copies=0, keep_original=False), s.X),
        ValueError,
        "leaves no samples",
        lambda s: s.accepts("n_copies"),
    ),
    Case(
        "online-without-partial_fit",
        lambda s: (
            lambda: s.train(
                AugmentedClassifier(
                    make_pipeline(PixelFlatten(), KNeighborsClassifier()), online=True
                ),
                s.X,
            )
        ),
        TypeError,
        "partial_fit",
        lambda s: s.name == "AugmentedClassifier-online",
    ),
    Case(
        "early_stopping-offline",
        lambda s: (
            lambda: s.train(
                AugmentedClassifier(s.make().estimator, early_stopping=True), s.X
            )
        ),
        ValueError,
        "early_stopping=True needs online=True",
        lambda s: s.name == "AugmentedClassifier",
    ),
]


def _matrix():
    rows = []
    for case in CASES:
        for subject in SUBJECTS:
            if case.applies(subject):
                rows.append(
                    pytest.param(case, subject, id=f"{case.name}-{subject.name}")
                )
    return rows


MATRIX = _matrix()

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.mark.parametrize("case, subject", MATRIX)
def test_bad_input_gives_a_clear_error(case, subject):
    call = case.build(subject)
    with pytest.raises(case.exc, match=case.match):
        call()


def test_every_case_applies_somewhere():
    # A case that matches no subject would silently test nothing.
    assert [c.name for c in CASES if not any(c.applies(s) for s in SUBJECTS)] == []


# ---------------------------------------------------------------- loaders
#
# Tiny bad files in each format. The MNIST and CIFAR loaders verify a pinned
# SHA-256 before reading, so each test pins the checksum of its own file:
# what is tested is the reader behind the checksum.


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _idx(array, magic=None):
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    header = magic.to_bytes(4, "big") + b"".join(
        n.to_bytes(4, "big") for n in array.shape
    )
    return header + array.tobytes()


def _write_mnist(home, monkeypatch, images, labels):
    """Put gzip IDX files in the mnist folder of ``home``, with pinned checksums."""
    folder = home / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    for name, payload in zip(names, (images, labels)):
        data = payload if isinstance(payload, bytes) else gzip.compress(payload)
        (folder / name).write_bytes(data)
        _pin(monkeypatch, "mnist", folder / name)
    return home


def _write_cifar10(home, monkeypatch, members):
    """Put a cifar-10-python.tar.gz of ``{name: bytes}`` in ``home``, pinned."""
    folder = home / "cifar10"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"
    if isinstance(members, bytes):
        path.write_bytes(members)
    else:
        with tarfile.open(path, "w:gz") as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    _pin(monkeypatch, "cifar10", path)
    return home


def _pin(monkeypatch, dataset, path):
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    entry = _registry.RemoteFile(path.name, ("https://example.invalid/",), sha)
    monkeypatch.setitem(_registry.REMOTE_FILES[dataset], path.name, entry)


def _cifar_batch(rows, labels):
    return pickle.dumps({b"data": rows, b"labels": labels}, protocol=4)


_META = pickle.dumps({b"label_names": [b"c%d" % k for k in range(10)]}, protocol=4)
_GOOD_ROWS = np.zeros((2, 3072), np.uint8)
_IMAGES_U8 = np.zeros((3, 4, 4), np.uint8)
_LABELS_U8 = np.array([0, 1, 2], np.uint8)


def _cifar_members(**batches):
    members = {f"data_batch_{i}": _cifar_batch(_GOOD_ROWS, [0, 1]) for i in range(1, 6)}
    members["batches.meta"] = _META
    members.update(batches)
    return members


LOADER_CASES = {
    # load_npz
    "npz-nan-in-X": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=_with(IMAGES, 5, np.nan), y=LABELS)),
        ValueError,
        "contains NaN or infinity",
    ),
    "npz-inf-in-X": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=_with(IMAGES, 5, np.inf), y=LABELS)),
        ValueError,
        "contains NaN or infinity",
    ),
    "npz-string-X": (
        lambda p, mp: load_npz(
            _npz(p / "f.npz", X=np.full((3, 2, 2), "a"), y=[0, 1, 2])
        ),
        TypeError,
        "X in .* must hold numbers; got dtype <U1",
    ),
    "npz-1d-X": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=np.arange(3.0), y=[0, 1, 2])),
        ValueError,
        r"X in .* must have shape .*got shape \(3,\)",
    ),
    "npz-5d-X": (
        lambda p, mp: load_npz(
            _npz(p / "f.npz", X=np.zeros((3, 1, 1, 1, 1)), y=[0, 1, 2])
        ),
        ValueError,
        r"got shape \(3, 1, 1, 1, 1\)",
    ),
    "npz-y-wrong-length": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=IMAGES, y=LABELS[:-1])),
        ValueError,
        "different lengths: 24 samples in X, 23 labels in y",
    ),
    "npz-y-with-nan": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=IMAGES, y=_with(LABELS, 0, np.nan))),
        TypeError,
        "y in .* must hold integer or string labels; got dtype float64",
    ),
    "npz-y-2d": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=IMAGES, y=np.c_[LABELS, LABELS])),
        ValueError,
        r"y in .* must have shape \(n_samples,\)",
    ),
    "npz-object-arrays": (
        lambda p, mp: load_npz(
            _npz(p / "f.npz", X=np.array([None, 1], dtype=object), y=[0, 1])
        ),
        ValueError,
        "object arrays",
    ),
    "npz-missing-y": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=IMAGES)),
        ValueError,
        r"lacks the array\(s\) y",
    ),
    "npz-not-an-archive": (
        lambda p, mp: load_npz(_text(p / "f.npz", "not an archive")),
        ValueError,
        "not a readable .npz file",
    ),
    "npz-empty-file": (
        lambda p, mp: load_npz(_text(p / "f.npz", "")),
        ValueError,
        r"f\.npz' is empty, not a readable .npz file",
    ),
    "npz-members-not-arrays": (
        lambda p, mp: load_npz(_zip(p / "f.npz", {"X.npy": b"abc", "y.npy": b"d"})),
        ValueError,
        r"f\.npz': the member X is not a NumPy array",
    ),
    "npz-0-pixels": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=np.zeros((3, 0, 4)), y=[0, 1, 2])),
        ValueError,
        r"X in .*f\.npz' has samples of 0 pixels",
    ),
    "npz-0-features": (
        lambda p, mp: load_npz(_npz(p / "f.npz", X=np.zeros((3, 0)), y=[0, 1, 2])),
        ValueError,
        "has samples of 0 pixels",
    ),
    "npz-single-array": (
        lambda p, mp: load_npz(_save(p / "f.npy", IMAGES)),
        ValueError,
        "holds a single array, not an .npz archive",
    ),
    # load_mnist (gzip IDX)
    "idx-wrong-magic": (
        lambda p, mp: load_mnist(
            data_home=_write_mnist(
                p, mp, _idx(_IMAGES_U8, magic=0x0801), _idx(_LABELS_U8)
            )
        ),
        ValueError,
        "magic number is 0x00000801, expected 0x00000803",
    ),
    "idx-truncated": (
        lambda p, mp: load_mnist(
            data_home=_write_mnist(p, mp, _idx(_IMAGES_U8)[:-5], _idx(_LABELS_U8))
        ),
        ValueError,
        "truncated",
    ),
    "idx-longer-than-header": (
        lambda p, mp: load_mnist(
            data_home=_write_mnist(p, mp, _idx(_IMAGES_U8) + b"\0", _idx(_LABELS_U8))
        ),
        ValueError,
        "more data than",
    ),
    "idx-not-gzip": (
        lambda p, mp: load_mnist(
            data_home=_write_mnist(
                p, mp, b"\x1f\x8b\x07\x00" + bytes(20), _idx(_LABELS_U8)
            )
        ),
        ValueError,
        "not a readable gzip file",
    ),
    "idx-image-and-label-counts-differ": (
        lambda p, mp: load_mnist(
            data_home=_write_mnist(p, mp, _idx(_IMAGES_U8), _idx(_LABELS_U8[:2]))
        ),
        ValueError,
        "holds 3 images but .* holds 2 labels",
    ),
    "idx-label-out-of-range": (
        lambda p, mp: load_mnist(
            data_home=_write_mnist(p, mp, _idx(_IMAGES_U8), _idx([0, 1, 10]))
        ),
        ValueError,
        "label 10, but the data set has only 10 classes",
    ),
    "idx-checksum-mismatch": (
        lambda p, mp: _tamper(
            _write_mnist(p, mp, _idx(_IMAGES_U8), _idx(_LABELS_U8)),
            "mnist/train-images-idx3-ubyte.gz",
            lambda home: load_mnist(data_home=home),
        ),
        ValueError,
        "SHA-256",
    ),
    # load_cifar10 (python tar.gz)
    "cifar-not-a-tar": (
        lambda p, mp: load_cifar10(data_home=_write_cifar10(p, mp, b"not a tar")),
        ValueError,
        "not a readable tar.gz archive",
    ),
    "cifar-truncated": (
        lambda p, mp: load_cifar10(
            data_home=_write_cifar10(p, mp, _tar_gz_bytes(_cifar_members())[:-300])
        ),
        ValueError,
        "truncated",
    ),
    "cifar-missing-member": (
        lambda p, mp: load_cifar10(
            data_home=_write_cifar10(
                p,
                mp,
                {k: v for k, v in _cifar_members().items() if k != "data_batch_3"},
            )
        ),
        ValueError,
        "lacks the member.*data_batch_3",
    ),
    "cifar-rows-of-the-wrong-length": (
        lambda p, mp: load_cifar10(
            data_home=_write_cifar10(
                p,
                mp,
                _cifar_members(
                    data_batch_2=_cifar_batch(np.zeros((2, 100), np.uint8), [0, 1])
                ),
            )
        ),
        ValueError,
        r"data must be a uint8 array of shape \(n, 3072\)",
    ),
    "cifar-label-count-differs": (
        lambda p, mp: load_cifar10(
            data_home=_write_cifar10(
                p, mp, _cifar_members(data_batch_1=_cifar_batch(_GOOD_ROWS, [0]))
            )
        ),
        ValueError,
        "must hold 2 integer labels",
    ),
    "cifar-label-out-of-range": (
        lambda p, mp: load_cifar10(
            data_home=_write_cifar10(
                p, mp, _cifar_members(data_batch_1=_cifar_batch(_GOOD_ROWS, [0, 12]))
            )
        ),
        ValueError,
        r"labels must lie in 0..9",
    ),
}


def _text(path, text):
    path.write_text(text)
    return path


def _zip(path, members):
    """An archive whose members are raw bytes, not .npy arrays."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _save(path, array):
    np.save(path, array)
    return path


def _tamper(home, relative, load):
    """Flip a byte of a pinned file, then load."""
    path = home / relative
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    return load(home)


def _tar_gz_bytes(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("case", list(LOADER_CASES))
def test_bad_file_gives_a_clear_error(case, tmp_path, monkeypatch):
    # Nothing may reach the user's real data home.
    monkeypatch.setenv("SKCV_DATA", str(tmp_path / "unused"))
    load, exc, match = LOADER_CASES[case]
    with pytest.raises(exc, match=match):
        load(tmp_path, monkeypatch)


# ---------------------------------------------------------------- losses
#
# The public loss functions validate their arrays as the estimators do: a NaN
# or a complex number must not come back as a NaN or real-valued loss.

_W, _B, _X, _Y = np.ones((3, 4)), np.zeros(3), np.ones((5, 4)), np.arange(5) % 3

LOSSES = {
    "softmax_loss": lambda W, b, X, sw: softmax_loss(W, b, X, _Y, sample_weight=sw),
    "hinge_loss-weston_watkins": lambda W, b, X, sw: hinge_loss(
        W, b, X, _Y, sample_weight=sw
    ),
    "hinge_loss-crammer_singer": lambda W, b, X, sw: hinge_loss(
        W, b, X, _Y, multi_class="crammer_singer", sample_weight=sw
    ),
}

LOSS_CASES = {
    "nan-in-X": ({"X": _with(_X, 3, np.nan)}, ValueError, "X contains NaN"),
    "inf-in-X": ({"X": _with(_X, 3, -np.inf)}, ValueError, "X contains NaN or inf"),
    "inf-in-W": ({"W": _with(_W, 0, np.inf)}, ValueError, "W contains NaN or inf"),
    "nan-in-b": ({"b": _with(_B, 1, np.nan)}, ValueError, "b contains NaN"),
    "complex-X": ({"X": _X + 1j}, TypeError, "X must hold real numbers"),
    "string-X": ({"X": np.full(_X.shape, "a")}, TypeError, "X must hold real numbers"),
    "object-W": ({"W": _W.astype(object)}, TypeError, "W must hold real numbers"),
    "sparse-X": ({"X": sp.csr_matrix(_X)}, TypeError, "X must be a dense array"),
    "inf-in-sample_weight": (
        {"sw": _with(np.ones(5), 2, np.inf)},
        ValueError,
        "sample_weight contains NaN or inf",
    ),
}


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("case", list(LOSS_CASES))
def test_bad_loss_input_gives_a_clear_error(case, loss):
    changes, exc, match = LOSS_CASES[case]
    args = {"W": _W, "b": _B, "X": _X, "sw": None, **changes}
    with pytest.raises(exc, match=match):
        LOSSES[loss](**args)


@pytest.mark.parametrize(
    "W, exc, match",
    [
        (_with(_W, 0, np.nan), ValueError, "W contains NaN"),
        (_W + 1j, TypeError, "W must hold real numbers"),
        (sp.csr_matrix(_W), TypeError, "W must be a dense array"),
    ],
)
def test_bad_penalty_input_gives_a_clear_error(W, exc, match):
    with pytest.raises(exc, match=match):
        penalty_value_and_grad(W, "elasticnet")


def test_load_npz_keeps_uint64_labels_as_stored(tmp_path):
    # 2**63 and above do not fit int64: they must not wrap to negative numbers.
    y = np.array([2**64 - 1, 2**63, 5, 2**63], dtype=np.uint64)
    data = load_npz(_npz(tmp_path / "f.npz", X=np.zeros((4, 2, 2)), y=y))
    np.testing.assert_array_equal(data.target, y)
    assert data.target.dtype == np.uint64
    assert data.target_names == ["5", str(2**63), str(2**64 - 1)]
    # labels that fit stay int64, as documented
    small = load_npz(_npz(tmp_path / "g.npz", X=np.zeros((2, 2, 2)), y=y[[2, 2]]))
    assert small.target.dtype == np.int64
