"""Property-based tests: random shapes, values and settings (hypothesis).

Each property holds for every input hypothesis draws: the analytic gradients
of the losses match centred differences, k-NN finds the neighbours a float64
brute force finds, PixelFlatten round-trips, and ImageAugmenter keeps labels,
shapes and dtypes.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.spatial.distance import cdist

from skcv import ImageAugmenter, NearestNeighbor, PixelFlatten
from skcv.gradcheck import check_gradient, numerical_gradient
from skcv.losses import hinge_loss, softmax_loss

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ---------------------------------------------------------------- losses


@st.composite
def loss_problems(draw, *, weighted=False):
    """(W, b, X, y, sample_weight) of random shapes with moderate values."""
    n = draw(st.integers(1, 6))
    d = draw(st.integers(1, 4))
    k = draw(st.integers(2, 5))
    values = st.floats(-3, 3, allow_nan=False, width=64)
    W = draw(hnp.arrays(np.float64, (k, d), elements=values))
    b = draw(hnp.arrays(np.float64, (k,), elements=values))
    X = draw(hnp.arrays(np.float64, (n, d), elements=values))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, k - 1)))
    sw = None
    if weighted:
        sw = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0.1, 5.0)))
    return W, b, X, y, sw


def _margins(W, b, X, y, delta):
    """``s_j - s_{y_i} + delta`` for the wrong classes j, as (n, k - 1)."""
    S = X @ W.T + b
    true = S[np.arange(len(y)), y]
    wrong = ~np.eye(W.shape[0], dtype=bool)[y]
    return (S - true[:, None] + delta)[wrong].reshape(len(y), -1)


def _assert_gradient_matches(f, W, b):
    """The analytic gradients of ``f(W, b)`` against centred differences.

    The relative error of :func:`check_gradient` is the measure where the
    gradient is not tiny; where the loss saturates (a softmax probability
    within 1e-12 of 1, inputs of 1e-40) the analytic gradient is far below
    the rounding noise of the differences, so those entries are compared
    absolutely instead.
    """
    _, dW, db = f(W, b)
    numeric_W = numerical_gradient(lambda v: f(v, b)[0], W)
    numeric_b = numerical_gradient(lambda v: f(W, v)[0], b)
    np.testing.assert_allclose(dW, numeric_W, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(db, numeric_b, rtol=1e-6, atol=1e-8)
    if min(np.abs(dW).min(), np.abs(db).min()) > 1e-4:
        assert check_gradient(f, [W, b]) < 1e-6


@SETTINGS
@given(loss_problems(weighted=True), st.booleans())
def test_softmax_loss_gradient_matches_centred_differences(problem, weighted):
    W, b, X, y, sw = problem
    sw = sw if weighted else None

    def f(W, b):
        return softmax_loss(W, b, X, y, sample_weight=sw)

    loss, dW, db = f(W, b)
    assert np.isfinite(loss) and loss >= 0
    assert np.isfinite(dW).all() and np.isfinite(db).all()
    _assert_gradient_matches(f, W, b)
    # The scores' gradient p - onehot sums to 0 over the classes, and so
    # does db.
    assert abs(db.sum()) < 1e-12


@SETTINGS
@given(
    loss_problems(weighted=True),
    st.sampled_from(["weston_watkins", "crammer_singer"]),
    st.floats(0.0, 2.0),
)
def test_hinge_loss_gradient_matches_centred_differences(problem, multi_class, delta):
    W, b, X, y, sw = problem
    margins = _margins(W, b, X, y, delta)
    # Away from the kinks (a margin at 0, or two wrong classes tied for the
    # maximum), the hinge is differentiable and its gradient exact.
    assume(np.abs(margins).min() > 1e-3)
    if multi_class == "crammer_singer" and margins.shape[1] > 1:
        top2 = np.sort(margins, axis=1)[:, -2:]
        assume((top2[:, 1] - top2[:, 0]).min() > 1e-3)

    def f(W, b):
        return hinge_loss(
            W, b, X, y, delta=delta, multi_class=multi_class, sample_weight=sw
        )

    loss = f(W, b)[0]
    assert np.isfinite(loss) and loss >= 0
    per_sample = (
        np.maximum(margins, 0).sum(axis=1)
        if multi_class == "weston_watkins"
        else np.maximum(margins.max(axis=1), 0)
    )
    assert loss == pytest.approx(
        np.average(per_sample, weights=sw), rel=1e-12, abs=1e-12
    )
    _assert_gradient_matches(f, W, b)


@SETTINGS
@given(loss_problems(), st.floats(-100, 100))
def test_softmax_loss_ignores_a_common_shift_of_the_scores(problem, shift):
    # softmax(s + c) = softmax(s): adding c to every intercept changes
    # neither the loss nor the gradient.
    W, b, X, y, _ = problem
    loss, dW, db = softmax_loss(W, b, X, y)
    loss2, dW2, db2 = softmax_loss(W, b + shift, X, y)
    assert loss2 == pytest.approx(loss, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(dW2, dW, atol=1e-9)
    np.testing.assert_allclose(db2, db, atol=1e-9)


# ---------------------------------------------------------------- k-NN


@st.composite
def knn_problems(draw):
    n_train = draw(st.integers(2, 40))
    d = draw(st.integers(1, 8))
    n_queries = draw(st.integers(1, 15))
    k = draw(st.integers(1, min(n_train, 6)))
    # Integers: exact in every dtype, so the float64 reference is the truth.
    low, high = draw(st.sampled_from([(0, 255), (-1000, 1000), (0, 3)]))
    ints = st.integers(low, high)
    X = draw(hnp.arrays(np.int64, (n_train, d), elements=ints))
    Q = draw(hnp.arrays(np.int64, (n_queries, d), elements=ints))
    y = draw(hnp.arrays(np.int64, (n_train,), elements=st.integers(0, 3)))
    dtypes = [np.float64, np.float32, np.int64] + [np.uint8] * (
        low >= 0 and high <= 255
    )
    dtype = draw(st.sampled_from(dtypes))
    return X.astype(dtype), Q.astype(dtype), y, k


@SETTINGS
@given(
    knn_problems(),
    st.sampled_from(["l1", "l2"]),
    st.sampled_from(["uniform", "distance"]),
)
def test_knn_equals_float64_brute_force(problem, metric, weights):
    X, Q, y, k = problem
    dist = cdist(
        Q.astype(np.float64),
        X.astype(np.float64),
        "cityblock" if metric == "l1" else "euclidean",
    )
    # Queries whose k + 1 nearest distances are all distinct have one right
    # answer (index order included); the others are filtered away.
    nearest = np.sort(dist, axis=1)[:, : min(k + 1, X.shape[0])]
    clear = (np.diff(nearest, axis=1) > 1e-9).all(axis=1)
    assume(clear.any())
    Q, dist = Q[clear], dist[clear]
    expected_ind = np.argsort(dist, axis=1, kind="stable")[:, :k]
    expected_dist = np.take_along_axis(dist, expected_ind, axis=1)

    est = NearestNeighbor(k, metric=metric, weights=weights).fit(X, y)
    got_dist, got_ind = est.kneighbors(Q)
    np.testing.assert_array_equal(got_ind, expected_ind)
    np.testing.assert_allclose(got_dist, expected_dist, rtol=1e-6, atol=1e-6)

    # The vote, computed from the reference neighbours; ties between classes
    # go to the smallest label.
    classes = np.unique(y)
    votes = np.zeros((len(Q), len(classes)))
    w = np.ones_like(expected_dist)
    if weights == "distance":
        with np.errstate(divide="ignore"):
            w = 1 / expected_dist
        exact = np.isinf(w)
        w[exact.any(axis=1)] = exact[exact.any(axis=1)]
    np.add.at(
        votes,
        (np.arange(len(Q))[:, None], np.searchsorted(classes, y[expected_ind])),
        w,
    )
    proba = votes / votes.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(est.predict_proba(Q), proba, rtol=1e-6)
    # Uniform votes are whole numbers, so even their ties are exact; weighted
    # votes are compared where the winner leads by more than rounding.
    decided = np.ones(len(Q), bool)
    if weights == "distance" and len(classes) > 1:
        top2 = np.sort(proba, axis=1)[:, -2:]
        decided = top2[:, 1] - top2[:, 0] > 1e-6
    np.testing.assert_array_equal(
        est.predict(Q)[decided], classes[votes.argmax(axis=1)][decided]
    )


# ---------------------------------------------------------------- PixelFlatten

IMAGE_DTYPES = [np.uint8, np.int16, np.int64, np.float32, np.float64]


@st.composite
def image_batches(draw, dtypes=IMAGE_DTYPES):
    n = draw(st.integers(1, 5))
    shape = draw(
        st.one_of(
            st.tuples(st.integers(1, 7), st.integers(1, 7)),
            st.tuples(st.integers(1, 6), st.integers(1, 6), st.integers(1, 4)),
        )
    )
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    if dtype.kind == "f":
        elements = st.floats(0, 1, width=dtype.itemsize * 8)
    else:
        info = np.iinfo(dtype)
        elements = st.integers(max(info.min, -1000), min(info.max, 1000))
    return draw(hnp.arrays(dtype, (n, *shape), elements=elements))


@SETTINGS
@given(image_batches())
def test_pixel_flatten_round_trips_exactly(images):
    flat = PixelFlatten().fit(images)
    rows = flat.transform(images)
    n, *shape = images.shape
    assert rows.shape == (n, int(np.prod(shape))) and rows.dtype == images.dtype
    # Pixel (i, j, c) is feature (i * W + j) * C + c: C order.
    np.testing.assert_array_equal(rows, images.reshape(n, -1))
    back = flat.inverse_transform(rows)
    assert back.shape == images.shape and back.dtype == images.dtype
    np.testing.assert_array_equal(back, images)
    # Unfitted, with image_shape, from rows.
    again = PixelFlatten(image_shape=tuple(shape)).inverse_transform(rows)
    np.testing.assert_array_equal(again, images)


@SETTINGS
@given(image_batches())
def test_pixel_flatten_rescale_round_trips(images):
    flat = PixelFlatten(rescale=True).fit(images)
    rows = flat.transform(images)
    assert rows.dtype == (images.dtype if images.dtype.kind == "f" else np.float32)
    np.testing.assert_allclose(rows, images.reshape(len(images), -1) / 255, rtol=1e-6)
    np.testing.assert_allclose(
        flat.inverse_transform(rows), images, rtol=1e-5, atol=1e-3
    )


# ---------------------------------------------------------------- ImageAugmenter


@st.composite
def augmenter_settings(draw):
    return {
        "flip": draw(st.booleans()),
        "max_shift": draw(st.integers(0, 3)),
        "pad_mode": draw(st.sampled_from(["constant", "reflect"])),
        "max_rotation": draw(st.sampled_from([0.0, 5.0, 45.0, 180.0])),
        "brightness": draw(st.sampled_from([0.0, 0.2])),
        "contrast": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "noise": draw(st.sampled_from([0.0, 0.1])),
        "n_copies": draw(st.integers(0, 3)),
        "keep_original": draw(st.booleans()),
        "random_state": draw(st.integers(0, 2**31 - 1)),
    }


@SETTINGS
@given(
    image_batches(dtypes=[np.uint8, np.float32, np.float64, np.int16]),
    augmenter_settings(),
    st.booleans(),
    st.sampled_from(["int", "str"]),
)
def test_augmenter_keeps_labels_shapes_and_dtypes(images, params, as_rows, label_kind):
    assume(params["n_copies"] > 0 or params["keep_original"])
    n, *shape = images.shape
    rng = np.random.RandomState(params["random_state"] % 1000)
    y = rng.randint(0, 3, n)
    if label_kind == "str":
        y = np.array(["a", "b", "c"])[y]
    X = images.reshape(n, -1) if as_rows else images
    before = X.copy(), y.copy()
    aug = ImageAugmenter(image_shape=tuple(shape) if as_rows else None, **params)
    X_new, y_new = aug.fit_resample(X, y)

    n_out = n * (params["n_copies"] + params["keep_original"])
    assert X_new.shape == (n_out, *X.shape[1:])
    assert X_new.dtype == X.dtype
    expected_indices = np.tile(
        np.arange(n), params["n_copies"] + params["keep_original"]
    )
    np.testing.assert_array_equal(aug.sample_indices_, expected_indices)
    np.testing.assert_array_equal(y_new, y[expected_indices])
    assert y_new.dtype == y.dtype
    if params["keep_original"]:
        np.testing.assert_array_equal(X_new[:n], X)
    if X.dtype.kind == "f":
        assert np.isfinite(X_new).all()
    # The inputs are untouched.
    np.testing.assert_array_equal(X, before[0])
    np.testing.assert_array_equal(y, before[1])


def _shifted(image, dy, dx):
    """``image`` moved down by dy and right by dx, zeros coming in."""
    h, w = image.shape[:2]
    pad = max(abs(dy), abs(dx))
    padded = np.pad(image, [(pad, pad), (pad, pad)] + [(0, 0)] * (image.ndim - 2))
    return padded[pad - dy : pad - dy + h, pad - dx : pad - dx + w]


@SETTINGS
@given(image_batches(), st.booleans(), st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_flips_and_shifts_move_pixels_exactly(images, flip, max_shift, seed):
    # Without rotation or intensity changes, every copy is its source image
    # (maybe mirrored) moved by whole pixels within max_shift: the pixels are
    # copied, never interpolated.
    aug = ImageAugmenter(
        flip=flip,
        max_shift=max_shift,
        n_copies=2,
        keep_original=False,
        random_state=seed,
    )
    copies, _ = aug.fit_resample(images, None)
    offsets = range(-max_shift, max_shift + 1)
    for copy, source in zip(copies, images[aug.sample_indices_]):
        candidates = [source, source[:, ::-1]] if flip else [source]
        assert any(
            np.array_equal(copy, _shifted(c, dy, dx))
            for c in candidates
            for dy in offsets
            for dx in offsets
        )
