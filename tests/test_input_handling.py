"""What every estimator does with legitimate but awkward input.

Labels of any sortable type, inputs that must not be modified, read-only and
memory-mapped arrays, float32 against float64, and numerically extreme data
(features scaled by 1e6 or 1e-6, scores of 1e4, learning rates that diverge).
"""

import warnings

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.utils.validation import has_fit_parameter

from skcv import (
    AugmentedClassifier,
    HingeLinear,
    ImageAugmenter,
    NearestNeighbor,
    NeuralNet,
    PixelFlatten,
    SoftmaxLinear,
)
from skcv.datasets import load_npz
from skcv.losses import hinge_loss, softmax_loss

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# ---------------------------------------------------------------- the data

N_PER_CLASS = 20
IMAGE_SHAPE = (4, 4)
N_FEATURES = 16


def _blobs(n_per_class=N_PER_CLASS, seed=0, spread=4.0):
    """Three well separated classes of mirror-symmetric 4x4 images.

    The class centres are symmetric under a left-right flip, so augmented
    copies stay in their class. Values are multiples of 1/8, exact in
    float32 and float64 alike.
    """
    rng = np.random.RandomState(seed)
    centres = rng.normal(size=(3, *IMAGE_SHAPE)) * spread
    centres = (centres + centres[:, :, ::-1]) / 2
    y_idx = np.repeat(np.arange(3), n_per_class)
    images = centres[y_idx] + rng.normal(size=(len(y_idx), *IMAGE_SHAPE))
    images = np.round(images * 8) / 8
    order = rng.permutation(len(y_idx))
    return images[order], y_idx[order]


IMAGES, Y_IDX = _blobs()
ROWS = IMAGES.reshape(len(IMAGES), N_FEATURES)


def _augmented(final, *, online=False, augmenter=None):
    return AugmentedClassifier(
        make_pipeline(PixelFlatten(), final),
        augmenter=ImageAugmenter(flip=True, random_state=0)
        if augmenter is None
        else augmenter,
        online=online,
        max_epochs=5,
        random_state=0,
    )


# name: (factory, layout). Every classifier of the package, in the
# configurations that take different code paths.
CLASSIFIERS = {
    "NearestNeighbor-l2": (lambda: NearestNeighbor(), "rows"),
    "NearestNeighbor-l1-k3": (lambda: NearestNeighbor(3, metric="l1"), "rows"),
    "NearestNeighbor-distance-k5": (
        lambda: NearestNeighbor(5, weights="distance"),
        "rows",
    ),
    "SoftmaxLinear": (lambda: SoftmaxLinear(random_state=0), "rows"),
    "HingeLinear": (lambda: HingeLinear(random_state=0), "rows"),
    "NeuralNet": (
        lambda: NeuralNet(
            hidden_layer_sizes=(10,),
            learning_rate_init=0.01,
            max_iter=100,
            random_state=0,
        ),
        "rows",
    ),
    "HingeLinear-crammer_singer": (
        lambda: HingeLinear(multi_class="crammer_singer", random_state=0),
        "rows",
    ),
    "SoftmaxLinear-early_stopping": (
        lambda: SoftmaxLinear(early_stopping=True, random_state=0),
        "rows",
    ),
    "AugmentedClassifier-softmax": (
        lambda: _augmented(SoftmaxLinear(random_state=0)),
        "images",
    ),
    "AugmentedClassifier-online-hinge": (
        lambda: _augmented(HingeLinear(random_state=0), online=True),
        "images",
    ),
    "AugmentedClassifier-knn-noise": (
        lambda: _augmented(
            NearestNeighbor(),
            augmenter=ImageAugmenter(noise=0.01, random_state=0),
        ),
        "images",
    ),
}
parametrize_classifiers = pytest.mark.parametrize(
    "name", list(CLASSIFIERS), ids=list(CLASSIFIERS)
)


def _make(name):
    factory, layout = CLASSIFIERS[name]
    return factory(), IMAGES if layout == "images" else ROWS


def _is_linear(est):
    final = est.estimator.steps[-1][1] if isinstance(est, AugmentedClassifier) else est
    return isinstance(final, (SoftmaxLinear, HingeLinear))


# ---------------------------------------------------------------- labels

LABEL_SETS = {
    "strings": np.array(["cat", "dog", "ant"]),
    "object-strings": np.array(["cat", "dog", "ant"], dtype=object),
    "negative-ints": np.array([-5, 3, -1]),
    "unsorted-ints": np.array([7, 2, 5]),
    # Floats that are not whole numbers are regression targets to sklearn.
    "floats": np.array([2.0, -1.0, 0.0]),
    "uint8": np.array([200, 0, 17], dtype=np.uint8),
}


@parametrize_classifiers
@pytest.mark.parametrize("labels", list(LABEL_SETS))
def test_labels_round_trip(name, labels):
    est, X = _make(name)
    values = LABEL_SETS[labels]
    y = values[Y_IDX]
    est.fit(X, y)
    np.testing.assert_array_equal(est.classes_, np.sort(values))
    pred = est.predict(X)
    # partial_fit takes its classes_ from sklearn's unique_labels, which
    # turns object strings into a str array, as SGDClassifier does.
    kinds = "OU" if y.dtype == object else y.dtype.kind
    assert est.classes_.dtype.kind in kinds and pred.dtype.kind in kinds
    if y.dtype != object:
        assert est.classes_.dtype == pred.dtype == y.dtype
    np.testing.assert_array_equal(pred, y)
    if hasattr(est, "predict_proba"):
        # Columns follow classes_.
        proba = est.predict_proba(X)
        np.testing.assert_array_equal(est.classes_[proba.argmax(axis=1)], pred)


@parametrize_classifiers
def test_bool_labels_round_trip(name):
    est, X = _make(name)
    y = Y_IDX == 1
    pred = est.fit(X, y).predict(X)
    np.testing.assert_array_equal(est.classes_, [False, True])
    assert pred.dtype == bool
    np.testing.assert_array_equal(pred, y)


@parametrize_classifiers
def test_label_type_does_not_change_the_model(name):
    # Strings, negative integers and class indices are only names: the fitted
    # model must be the same whatever they are, as long as they sort alike.
    est_idx, X = _make(name)
    est_str, _ = _make(name)
    names = np.array(["a", "b", "c"])
    est_idx.fit(X, Y_IDX - 10)
    est_str.fit(X, names[Y_IDX])
    np.testing.assert_array_equal(names[est_idx.predict(X) + 10], est_str.predict(X))
    if _is_linear(est_idx):
        method = "decision_function"
        np.testing.assert_array_equal(
            getattr(est_idx, method)(X), getattr(est_str, method)(X)
        )


@pytest.mark.parametrize("make", [SoftmaxLinear, HingeLinear], ids=["softmax", "hinge"])
def test_partial_fit_sorts_the_classes_it_is_given(make):
    est = make(random_state=0)
    y = np.array(["dog", "cat", "ant"])[Y_IDX]
    est.partial_fit(ROWS, y, classes=["dog", "cat", "ant"])
    np.testing.assert_array_equal(est.classes_, ["ant", "cat", "dog"])
    # A batch that shows only some of the classes keeps all of them.
    est.partial_fit(ROWS[Y_IDX == 0], y[Y_IDX == 0])
    assert est.coef_.shape == (3, N_FEATURES)


def test_labels_from_pandas():
    pd = pytest.importorskip("pandas")
    y = pd.Series(np.array(["x", "y", "z"])[Y_IDX], name="label")
    for name in ("NearestNeighbor-l2", "SoftmaxLinear", "AugmentedClassifier-softmax"):
        est, X = _make(name)
        pred = est.fit(X, y).predict(X)
        np.testing.assert_array_equal(pred, y.to_numpy())
    cat = y.astype("category")
    est, X = _make("SoftmaxLinear")
    np.testing.assert_array_equal(est.fit(X, cat).predict(X), y.to_numpy())


@pytest.mark.parametrize("name", ["NearestNeighbor-l2", "NearestNeighbor-l1-k3"])
def test_knn_with_a_single_class_predicts_it(name):
    # Like scikit-learn's KNeighborsClassifier; the SGD models refuse one
    # class instead (see test_bad_input).
    est, X = _make(name)
    est.fit(X, np.full(len(X), "only"))
    np.testing.assert_array_equal(est.predict(X[:5]), ["only"] * 5)
    np.testing.assert_array_equal(est.predict_proba(X[:5]), np.ones((5, 1)))


# ---------------------------------------------------------------- no mutation


def _snapshot(a):
    return a.dtype, a.shape, a.strides, a.tobytes()


def _call_everything(est, X, y, sample_weight=None):
    """Every method that takes data, on (X, y, sample_weight); their results."""
    out = {}
    kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
    if hasattr(est, "fit_resample"):
        X_new, y_new = est.fit_resample(X, y)
        out["fit_resample"] = (X_new.copy(), y_new.copy())
        return out
    if hasattr(est, "transform"):
        est.fit(X)
        out["transform"] = est.transform(X).copy()
        out["fit_transform"] = est.fit_transform(X).copy()
        out["inverse_transform"] = est.inverse_transform(out["transform"]).copy()
        return out
    est.fit(X, y, **kwargs)
    for method in ("predict", "predict_proba", "predict_log_proba"):
        if hasattr(est, method):
            out[method] = getattr(est, method)(X)
    if hasattr(est, "decision_function"):
        out["decision_function"] = est.decision_function(X)
    if hasattr(est, "kneighbors"):
        out["kneighbors"] = est.kneighbors(X)
    out["score"] = est.score(X, y, **kwargs) if kwargs else est.score(X, y)
    if hasattr(est, "partial_fit"):
        est.partial_fit(X, y, **kwargs)
        out["partial_fit"] = est.predict(X)
    return out


# Every estimator, transformer and sampler, with the inputs it takes.
SUBJECTS = {
    **{name: CLASSIFIERS[name] for name in CLASSIFIERS},
    "PixelFlatten": (lambda: PixelFlatten(), "images"),
    "PixelFlatten-rescale": (lambda: PixelFlatten(rescale=True), "images"),
    "ImageAugmenter-everything": (
        lambda: ImageAugmenter(
            flip=True,
            max_shift=1,
            max_rotation=10,
            brightness=0.1,
            contrast=0.1,
            noise=0.05,
            n_copies=2,
            random_state=0,
        ),
        "images",
    ),
    "ImageAugmenter-reflect-no-originals": (
        lambda: ImageAugmenter(
            max_shift=2, pad_mode="reflect", keep_original=False, random_state=0
        ),
        "images",
    ),
}


def _takes_weights(est):
    final = est.estimator.steps[-1][1] if isinstance(est, AugmentedClassifier) else est
    return has_fit_parameter(final, "sample_weight") and hasattr(final, "predict")


def _inputs(name, dtype):
    _, layout = SUBJECTS[name]
    X = IMAGES if layout == "images" else ROWS
    if dtype == np.uint8:
        X = np.clip(X * 16 + 128, 0, 255)
    return X.astype(dtype), Y_IDX.copy(), np.linspace(0.5, 2.0, len(Y_IDX))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
@pytest.mark.parametrize("name", list(SUBJECTS))
def test_no_method_modifies_its_inputs(name, dtype):
    est = SUBJECTS[name][0]()
    X, y, sw = _inputs(name, dtype)
    sw = sw if _takes_weights(est) else None
    arrays = [a for a in (X, y, sw) if a is not None]
    # Non-contiguous views are passed on as they are by some validators.
    strided = np.repeat(X, 2, axis=0)[::2]
    before = [_snapshot(a) for a in (*arrays, strided)]
    _call_everything(est, X, y, sw)
    _call_everything(SUBJECTS[name][0](), strided, y, sw)
    assert [_snapshot(a) for a in (*arrays, strided)] == before


def _same(a, b):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
    else:
        np.testing.assert_array_equal(a, b)


def _read_only(a):
    a = a.copy()
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("name", list(SUBJECTS))
def test_read_only_inputs_work(name):
    est = SUBJECTS[name][0]()
    X, y, sw = _inputs(name, np.float64)
    sw = sw if _takes_weights(est) else None
    expected = _call_everything(SUBJECTS[name][0](), X, y, sw)
    got = _call_everything(
        est, _read_only(X), _read_only(y), None if sw is None else _read_only(sw)
    )
    assert got.keys() == expected.keys()
    for key in expected:
        _same(got[key], expected[key])


@pytest.mark.parametrize("dtype", [np.float64, np.uint8])
@pytest.mark.parametrize("name", list(SUBJECTS))
def test_memmap_inputs_work(name, dtype, tmp_path):
    est = SUBJECTS[name][0]()
    X, y, sw = _inputs(name, dtype)
    sw = sw if _takes_weights(est) else None
    expected = _call_everything(SUBJECTS[name][0](), X, y, sw)

    def mapped(a, key):
        path = tmp_path / f"{key}.npy"
        np.save(path, a)
        return np.load(path, mmap_mode="r")

    X_map = mapped(X, "X")
    assert isinstance(X_map, np.memmap) and not X_map.flags.writeable
    got = _call_everything(
        est, X_map, mapped(y, "y"), None if sw is None else mapped(sw, "sw")
    )
    for key in expected:
        _same(got[key], expected[key])


def test_empty_npz_file_loads_as_an_empty_bunch(tmp_path):
    path = tmp_path / "empty.npz"
    np.savez(path, X=np.zeros((0, 4, 4), np.uint8), y=np.zeros(0, np.int64))
    data = load_npz(path)
    assert data.images.shape == (0, 4, 4) and data.data.shape == (0, 16)
    assert data.target.shape == (0,) and data.target_names == []


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize("train_dtype", [np.float64, np.float32, np.uint8, np.int64])
def test_knn_answers_do_not_depend_on_dtype(metric, train_dtype):
    # Integer pixels are exact in every dtype, so the neighbours (no ties in
    # this data) must be the same ones.
    rng = np.random.RandomState(1)
    X = rng.randint(0, 256, size=(80, 12))
    Q = rng.randint(0, 256, size=(30, 12))
    y = rng.randint(0, 3, 80)
    ref = NearestNeighbor(3, metric=metric).fit(X.astype(np.float64), y)
    est = NearestNeighbor(3, metric=metric).fit(X.astype(train_dtype), y)
    ref_dist, ref_ind = ref.kneighbors(Q.astype(np.float64))
    for query_dtype in (np.float64, np.float32, np.uint8):
        dist, ind = est.kneighbors(Q.astype(query_dtype))
        np.testing.assert_array_equal(ind, ref_ind)
        np.testing.assert_allclose(dist, ref_dist, rtol=1e-6)
        np.testing.assert_array_equal(
            est.predict(Q.astype(query_dtype)), ref.predict(Q)
        )


@pytest.mark.parametrize(
    "name",
    [n for n in CLASSIFIERS if "Linear" in n or "softmax" in n or "hinge" in n],
)
def test_linear_models_predict_the_same_in_float32(name):
    est64, X = _make(name)
    est32, _ = _make(name)
    est64.fit(X, Y_IDX)
    est32.fit(X.astype(np.float32), Y_IDX)
    final32 = est32.estimator_[-1] if hasattr(est32, "estimator_") else est32
    assert final32.coef_.dtype == np.float32
    np.testing.assert_array_equal(est32.predict(X), est64.predict(X))
    # float32 queries to a float64 model, and the other way round
    np.testing.assert_array_equal(est64.predict(X.astype(np.float32)), Y_IDX)
    np.testing.assert_array_equal(est32.predict(X), Y_IDX)


# ---------------------------------------------------------------- numerics


@pytest.mark.parametrize("scale", [1e6, 1e-6, 1e12])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "make",
    [
        SoftmaxLinear,
        HingeLinear,
        lambda **kw: HingeLinear(multi_class="crammer_singer", **kw),
        lambda **kw: SoftmaxLinear(learning_rate="adaptive", **kw),
        lambda **kw: SoftmaxLinear(penalty="elasticnet", early_stopping=True, **kw),
    ],
    ids=["softmax", "ww", "cs", "adaptive", "elasticnet-early-stopping"],
)
def test_scaled_raw_input_never_gives_nan(make, dtype, scale):
    # Raw, unscaled input straight into the estimator: it trains, or it stops
    # with the documented divergence error; its weights are finite either way.
    est = make(random_state=0, max_iter=30)
    X = (ROWS * scale).astype(dtype)
    try:
        est.fit(X, Y_IDX)
    except ValueError as exc:
        assert "diverged" in str(exc)
    assert np.isfinite(est.coef_).all() and np.isfinite(est.intercept_).all()
    assert np.isfinite(est.loss_curve_).all()
    scores = est.decision_function(X)
    assert np.isfinite(scores).all()
    if hasattr(est, "predict_proba"):
        proba = est.predict_proba(X)
        assert np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
        assert not np.isnan(est.predict_log_proba(X)).any()


@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "adaptive"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", [SoftmaxLinear, HingeLinear], ids=["softmax", "hinge"])
def test_divergence_is_an_error_with_the_last_finite_weights(
    make, dtype, learning_rate
):
    # alpha * learning_rate_init >> 2: each L2 step multiplies the weights by
    # about -1e4, so they overflow within a few epochs whatever the loss.
    X = ROWS.astype(dtype)
    est = make(
        alpha=10.0,
        learning_rate_init=1e3,
        learning_rate=learning_rate,
        batch_size=4,
        random_state=0,
        max_iter=50,
    )
    with pytest.raises(ValueError, match=r"SGD diverged in epoch \d+"):
        est.fit(X, Y_IDX)
    assert np.isfinite(est.coef_).all() and np.isfinite(est.intercept_).all()
    assert est.coef_.dtype == dtype
    assert len(est.loss_curve_) == est.n_iter_
    assert np.isfinite(est.loss_curve_).all()
    # Still usable.
    assert np.isfinite(est.decision_function(X)).all()
    est.predict(X)


def test_divergence_in_online_augmented_training_is_reported():
    est = _augmented(
        SoftmaxLinear(alpha=10.0, learning_rate_init=1e3, batch_size=4),
        online=True,
    )
    # partial_fit's divergence error reaches the caller of the meta-estimator
    # rather than being lost in the epoch loop.
    with pytest.raises(ValueError, match="SGD diverged"):
        est.fit(IMAGES, Y_IDX)


@pytest.mark.parametrize("metric", ["l1", "l2"])
@pytest.mark.parametrize("offset", [0.0, 1e3, 1e6])
@pytest.mark.parametrize("scale", [1.0, 1e-6, 1e6])
def test_knn_is_invariant_to_scale_and_offset(metric, scale, offset):
    # Scaling every feature by s (a power of ten: not exact in binary) and
    # adding an offset keeps the ranking of exact distances; the neighbours
    # must follow, including far from the origin where ||a||^2 + ||b||^2 -
    # 2 a.b cancels catastrophically.
    rng = np.random.RandomState(2)
    X = rng.randint(0, 256, size=(100, 10)).astype(np.float64)
    Q = rng.randint(0, 256, size=(40, 10)).astype(np.float64)
    y = rng.randint(0, 4, 100)
    ref = NearestNeighbor(4, metric=metric).fit(X, y)
    est = NearestNeighbor(4, metric=metric).fit(X * scale + offset, y)
    ref_ind = ref.kneighbors(Q, return_distance=False)
    # Drop the queries whose 4th and 5th neighbours are (nearly) tied, where
    # rounding of the scaled data may legitimately swap them.
    dist5 = np.sort(_brute_force(Q, X, metric), axis=1)[:, :5]
    clear = np.diff(dist5, axis=1).min(axis=1) > 1e-6 * dist5[:, -1]
    ind = est.kneighbors(Q * scale + offset, return_distance=False)
    np.testing.assert_array_equal(ind[clear], ref_ind[clear])
    assert clear.mean() > 0.8


def _brute_force(Q, X, metric):
    from scipy.spatial.distance import cdist

    return cdist(Q, X, "cityblock" if metric == "l1" else "euclidean")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("magnitude", [1e4, 1e30])
def test_softmax_loss_is_finite_for_huge_scores(dtype, magnitude):
    # Scores of +-magnitude: exp() would overflow without the max shift.
    W = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], dtype=dtype)
    X = np.array([[magnitude, 0.0], [0.0, -magnitude], [magnitude, magnitude]])
    X = X.astype(dtype)
    y = np.array([0, 2, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, dW, db = softmax_loss(W, np.zeros(3, dtype), X, y)
    assert np.isfinite(loss) and np.isfinite(dW).all() and np.isfinite(db).all()
    # Exact values: sample 0 scores (m, -m, 0) and is right by a margin
    # (loss 0 in floating point); sample 1 scores (0, 0, -m) with the true
    # class at -m (loss m + log 2); sample 2 scores (m, -m, m) with the true
    # class at -m (loss 2m + log 2).
    assert loss == pytest.approx((3 * magnitude + 2 * np.log(2)) / 3, rel=1e-6)
    # Hinge is linear in the scores: finite too.
    h, hW, hb = hinge_loss(W, np.zeros(3, dtype), X, y)
    assert np.isfinite(h) and np.isfinite(hW).all() and np.isfinite(hb).all()


def test_predict_proba_of_huge_scores_is_finite():
    est = SoftmaxLinear(random_state=0, max_iter=5).fit(ROWS, Y_IDX)
    proba = est.predict_proba(ROWS * 1e8)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    log_proba = est.predict_log_proba(ROWS * 1e8)
    assert not np.isnan(log_proba).any()
    np.testing.assert_array_equal(log_proba.argmax(axis=1), proba.argmax(axis=1))


@pytest.mark.parametrize(
    "metric, exponent, fits",
    [
        ("l2", 400, True),
        ("l2", 500, True),
        ("l2", 530, False),
        ("l1", 1000, True),
        ("l1", 1020, False),
    ],
)
@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_on_huge_values_is_exact_or_refused(metric, exponent, fits, weights):
    # Scaling by a power of two is exact, so the neighbours must not change,
    # as long as the distances fit in float64 (squared differences for L2:
    # values up to about 1e154). Beyond, a clear error, never NaN votes or
    # arbitrary neighbours.
    rng = np.random.RandomState(3)
    X, Q = rng.normal(size=(60, 5)), rng.normal(size=(20, 5))
    y = rng.randint(0, 3, 60)
    ref = NearestNeighbor(3, metric=metric, weights=weights).fit(X, y)
    scale = 2.0**exponent
    est = NearestNeighbor(3, metric=metric, weights=weights)
    if not fits:
        with pytest.raises(ValueError, match="overflow"):
            est.fit(X * scale, y)
        with pytest.raises(ValueError, match="overflow"):
            ref.predict(Q * scale)
        return
    with warnings.catch_warnings():
        # Casting such values to float32 for the approximate pass overflows;
        # the exact float64 pass takes over.
        warnings.simplefilter("ignore", RuntimeWarning)
        est.fit(X * scale, y)
        ind = est.kneighbors(Q * scale, return_distance=False)
        proba = est.predict_proba(Q * scale)
    np.testing.assert_array_equal(ind, ref.kneighbors(Q, return_distance=False))
    np.testing.assert_allclose(proba, ref.predict_proba(Q), rtol=1e-12)


def _fitted_state(est):
    """Every attribute, arrays as copies, nested estimators by identity."""
    return {
        k: v.copy() if isinstance(v, np.ndarray) else v for k, v in vars(est).items()
    }


def _assert_same_state(est, before):
    after = vars(est)
    assert set(after) == set(before)
    for key, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value, err_msg=key)
        else:
            assert after[key] is value or after[key] == value, key


_MIXED_LABELS = np.array(["a", 1] * (len(ROWS) // 2), dtype=object)


@pytest.mark.parametrize(
    "make, bad_fit",
    [
        # warm_start with another number of features
        (
            lambda: SoftmaxLinear(warm_start=True, max_iter=5, random_state=0),
            lambda est: est.fit(ROWS[:, :10], Y_IDX),
        ),
        (
            lambda: HingeLinear(warm_start=True, max_iter=5, random_state=0),
            lambda est: est.fit(ROWS[:, :10], Y_IDX),
        ),
        # labels of mixed types, found after the features were recorded
        (
            lambda: SoftmaxLinear(max_iter=5, random_state=0),
            lambda est: est.fit(ROWS[:, :10], _MIXED_LABELS),
        ),
        (
            lambda: SoftmaxLinear(max_iter=5, random_state=0),
            lambda est: est.partial_fit(ROWS, np.full(len(ROWS), 7)),
        ),
        (NearestNeighbor, lambda est: est.fit(ROWS[:, :10], _MIXED_LABELS)),
        (
            lambda: _augmented(SoftmaxLinear(max_iter=5, random_state=0)),
            lambda est: est.fit(IMAGES[:, :3], _MIXED_LABELS),
        ),
        (
            lambda: _augmented(SoftmaxLinear(max_iter=5), online=True),
            lambda est: est.fit(IMAGES[:, :3], _MIXED_LABELS),
        ),
        # rows that image_shape cannot read, found after the features
        (lambda: PixelFlatten(image_shape=(4, 4)), lambda est: est.fit(ROWS[:, :10])),
    ],
    ids=[
        "softmax-warm-start",
        "hinge-warm-start",
        "softmax-labels",
        "softmax-partial-fit",
        "knn",
        "augmented",
        "augmented-online",
        "pixel-flatten",
    ],
)
def test_a_failed_fit_leaves_the_fitted_model_as_it_was(make, bad_fit):
    # MLPClassifier keeps the model intact; skcv's estimators do too.
    est = make()
    X = IMAGES if isinstance(est, (AugmentedClassifier, PixelFlatten)) else ROWS
    est.fit(X, Y_IDX)
    before = _fitted_state(est)
    expected = est.predict(X) if hasattr(est, "predict") else est.transform(X)
    with pytest.raises((ValueError, TypeError)):
        bad_fit(est)
    _assert_same_state(est, before)
    again = est.predict(X) if hasattr(est, "predict") else est.transform(X)
    np.testing.assert_array_equal(again, expected)
