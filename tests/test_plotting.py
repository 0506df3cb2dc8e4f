"""Tests of skcv.plotting: what each function draws, checked against its data."""

import sys

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skcv import NearestNeighbor, NeuralNet, PixelFlatten, SoftmaxLinear
from skcv.plotting import (
    plot_cv_results,
    plot_loss_curve,
    plot_misclassified,
    plot_templates,
)

matplotlib = pytest.importorskip("matplotlib")
# The models are fitted for a few epochs only: their pictures are under test.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images, data.target


@pytest.fixture(scope="module")
def softmax_pipeline(digits):
    images, target = digits
    pipe = make_pipeline(
        PixelFlatten(),
        StandardScaler(),
        SoftmaxLinear(max_iter=5, random_state=0),
    )
    return pipe.fit(images, target)


@pytest.fixture(scope="module")
def knn_search():
    X, y = load_iris(return_X_y=True)
    grid = {"n_neighbors": [1, 5, 15, 30], "weights": ["uniform", "distance"]}
    return GridSearchCV(KNeighborsClassifier(), grid, cv=4).fit(X, y)


def _image_data(fig):
    return [np.asarray(ax.get_images()[0].get_array()) for ax in fig.axes]


# plot_templates ------------------------------------------------------------


def test_templates_are_the_coef_rows_as_images(softmax_pipeline):
    fig = plot_templates(softmax_pipeline, fig=Figure())
    model = softmax_pipeline[-1]
    expected = softmax_pipeline[0].inverse_transform(model.coef_)
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes] == [str(c) for c in model.classes_]
    for data, template in zip(_image_data(fig), expected):
        np.testing.assert_array_equal(data, template)
    # Grey templates share zero as the centre of the diverging colour map.
    for ax, template in zip(fig.axes, expected):
        low, high = ax.get_images()[0].get_clim()
        assert low == -high == -np.abs(template).max()


def test_templates_undo_scaling_divides_by_the_scaler(softmax_pipeline):
    fig = plot_templates(softmax_pipeline, undo_scaling=True, fig=Figure())
    scale = softmax_pipeline[1].scale_
    expected = (softmax_pipeline[-1].coef_ / scale).reshape(10, 8, 8)
    for data, template in zip(_image_data(fig), expected):
        np.testing.assert_allclose(data, template)


def test_templates_of_a_bare_model_need_an_image_shape(digits):
    images, target = digits
    model = SoftmaxLinear(max_iter=3, random_state=0).fit(
        images.reshape(len(images), -1), target
    )
    with pytest.raises(ValueError, match="image_shape"):
        plot_templates(model, fig=Figure())
    with pytest.raises(ValueError, match=r"64 weights per class.*\(4, 4\)"):
        plot_templates(model, (4, 4), fig=Figure())
    fig = plot_templates(model, (8, 8), class_names=list("abcdefghij"), fig=Figure())
    assert [ax.get_title() for ax in fig.axes] == list("abcdefghij")
    np.testing.assert_array_equal(_image_data(fig)[3], model.coef_[3].reshape(8, 8))


def test_colour_templates_are_rescaled_one_by_one():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(60, 4, 5, 3))
    target = np.arange(60) % 3
    pipe = make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=3, random_state=0))
    pipe.fit(images, target)
    fig = plot_templates(pipe, fig=Figure())
    templates = pipe[-1].coef_.reshape(3, 4, 5, 3)
    for data, template in zip(_image_data(fig), templates):
        scaled = (template - template.min()) / (template.max() - template.min())
        np.testing.assert_allclose(data, scaled)


def test_templates_through_a_search(digits):
    images, target = digits
    pipe = make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=2, random_state=0))
    search = GridSearchCV(pipe, {"softmaxlinear__alpha": [1e-4, 1e-2]}, cv=2)
    search.fit(images[:300], target[:300])
    fig = plot_templates(search, fig=Figure(), ncols=5)
    best = search.best_estimator_[-1]
    assert len(fig.axes) == 10
    # Two rows of five.
    assert {ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes} == {(2, 5)}
    np.testing.assert_array_equal(_image_data(fig)[9], best.coef_[9].reshape(8, 8))


def test_templates_reject_what_they_cannot_draw(digits, softmax_pipeline):
    images, target = digits
    knn = make_pipeline(PixelFlatten(), NearestNeighbor()).fit(images, target)
    with pytest.raises(TypeError, match="NearestNeighbor has none"):
        plot_templates(knn, fig=Figure())
    with pytest.raises(NotFittedError):
        plot_templates(SoftmaxLinear(), (8, 8), fig=Figure())
    pca = make_pipeline(PixelFlatten(), PCA(20), SoftmaxLinear(max_iter=2))
    pca.fit(images, target)
    with pytest.raises(ValueError, match="through a PCA step"):
        plot_templates(pca, fig=Figure())
    with pytest.raises(ValueError, match="3 names for 10 templates"):
        plot_templates(softmax_pipeline, class_names=["a", "b", "c"], fig=Figure())


# plot_loss_curve -----------------------------------------------------------


def test_loss_curve_draws_loss_curve_(softmax_pipeline):
    ax = plot_loss_curve(softmax_pipeline, ax=Figure().subplots())
    (line,) = ax.get_lines()
    model = softmax_pipeline[-1]
    np.testing.assert_array_equal(line.get_ydata(), model.loss_curve_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, model.n_iter_ + 1))
    assert len(ax.figure.axes) == 1  # no validation scores, no twin axes


def test_loss_curve_adds_validation_scores_on_a_twin_axes(digits):
    images, target = digits
    model = SoftmaxLinear(early_stopping=True, max_iter=8, random_state=0)
    model.fit(images.reshape(len(images), -1) / 16, target)
    ax = plot_loss_curve(model, ax=Figure().subplots())
    main, twin = ax.figure.axes
    assert main is ax
    np.testing.assert_array_equal(main.get_lines()[0].get_ydata(), model.loss_curve_)
    np.testing.assert_array_equal(
        twin.get_lines()[0].get_ydata(), model.validation_scores_
    )
    # the shared training loop records the training accuracy as well
    np.testing.assert_array_equal(twin.get_lines()[1].get_ydata(), model.train_scores_)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["training loss", "validation score", "training accuracy"]


def test_loss_curve_adds_training_accuracy_of_a_network(digits):
    images, target = digits
    model = NeuralNet(early_stopping=True, max_iter=4, random_state=0)
    model.fit(images.reshape(len(images), -1), target)
    ax = plot_loss_curve(model, ax=Figure().subplots())
    twin = ax.figure.axes[1]
    np.testing.assert_array_equal(twin.get_lines()[1].get_ydata(), model.train_scores_)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["training loss", "validation score", "training accuracy"]


def test_templates_of_a_network_are_its_first_layer(digits):
    images, target = digits
    model = NeuralNet(hidden_layer_sizes=(6,), max_iter=2, random_state=0)
    model.fit(images.reshape(len(images), -1), target)
    fig = plot_templates(model, (8, 8), fig=Figure())
    assert len(fig.axes) == 6
    np.testing.assert_allclose(
        fig.axes[2].get_images()[0].get_array(),
        model.coefs_[0][:, 2].reshape(8, 8),
        rtol=1e-6,
    )
    assert fig.axes[2].get_title() == "unit 2"


def test_loss_curve_needs_a_loss_curve(digits):
    images, target = digits
    knn = NearestNeighbor().fit(images.reshape(len(images), -1), target)
    with pytest.raises(TypeError, match="loss_curve_"):
        plot_loss_curve(knn, ax=Figure().subplots())


# plot_cv_results -----------------------------------------------------------


def test_cv_lines_have_the_fold_std_as_error_bars(knn_search):
    cv = knn_search.cv_results_
    ax = plot_cv_results(knn_search, "n_neighbors", ax=Figure().subplots())
    folds = np.column_stack([cv[f"split{i}_test_score"] for i in range(4)])
    assert len(ax.containers) == 2  # one line per weighting
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "weights=uniform",
        "weights=distance",
    ]
    for container, weights in zip(ax.containers, ["uniform", "distance"]):
        rows = np.flatnonzero(cv["param_weights"] == weights)
        line, _, (bars,) = container.lines
        np.testing.assert_array_equal(line.get_xdata(), [1, 5, 15, 30])
        np.testing.assert_allclose(line.get_ydata(), folds[rows].mean(axis=1))
        segments = np.asarray(bars.get_segments())
        half_height = (segments[:, 1, 1] - segments[:, 0, 1]) / 2
        np.testing.assert_allclose(half_height, folds[rows].std(axis=1))
    # One dot per fold and grid point, at the fold scores.
    dots = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(dots) == 2
    for dot, weights in zip(dots, ["uniform", "distance"]):
        rows = np.flatnonzero(cv["param_weights"] == weights)
        np.testing.assert_allclose(dot.get_offsets()[:, 1], folds[rows].ravel())


def test_cv_heatmap_holds_the_mean_scores(knn_search):
    cv = knn_search.cv_results_
    ax = plot_cv_results(
        knn_search.cv_results_, "weights", "n_neighbors", ax=Figure().subplots()
    )
    data = np.asarray(ax.get_images()[0].get_array())
    assert data.shape == (4, 2)  # n_neighbors on y, weights on x
    for k, row in zip([1, 5, 15, 30], data):
        for weights, value in zip(["distance", "uniform"], row):
            index = np.flatnonzero(
                (cv["param_n_neighbors"] == k) & (cv["param_weights"] == weights)
            )
            assert value == cv["mean_test_score"][index[0]]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["distance", "uniform"]
    assert len(ax.texts) == 8  # mean ± std in every cell
    (frame,) = ax.patches
    i, j = np.unravel_index(np.argmax(data), data.shape)
    assert frame.get_xy() == (j - 0.5, i - 0.5)


def test_cv_heatmap_shows_the_best_over_other_parameters():
    X, y = load_iris(return_X_y=True)
    grid = {
        "n_neighbors": [1, 9],
        "weights": ["uniform", "distance"],
        "p": [1, 2],
    }
    search = GridSearchCV(KNeighborsClassifier(), grid, cv=3).fit(X, y)
    cv = search.cv_results_
    ax = plot_cv_results(search, "n_neighbors", "p", ax=Figure().subplots())
    data = np.asarray(ax.get_images()[0].get_array())
    for i, p in enumerate([1, 2]):
        for j, k in enumerate([1, 9]):
            rows = (cv["param_p"] == p) & (cv["param_n_neighbors"] == k)
            assert data[i, j] == cv["mean_test_score"][rows].max()


def test_cv_results_log_axis_for_decades():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), SoftmaxLinear(max_iter=3, random_state=0))
    search = GridSearchCV(pipe, {"softmaxlinear__alpha": [1e-4, 1e-3, 1e-2]}, cv=2).fit(
        X, y
    )
    ax = plot_cv_results(search, "alpha", ax=Figure().subplots())
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "alpha"
    ax = plot_cv_results(search, "param_softmaxlinear__alpha", ax=Figure().subplots())
    assert ax.get_xscale() == "log"


def test_cv_results_parameter_names(knn_search):
    ax = Figure().subplots()
    with pytest.raises(ValueError, match=r"No parameter 'k'.*n_neighbors, weights"):
        plot_cv_results(knn_search, "k", ax=ax)
    with pytest.raises(ValueError, match="same parameter"):
        plot_cv_results(knn_search, "weights", "param_weights", ax=ax)
    with pytest.raises(ValueError, match="no 'mean_test_f1'"):
        plot_cv_results(knn_search, "weights", score="f1", ax=ax)
    ambiguous = {
        "param_a__alpha": np.ma.array([1, 2]),
        "param_b__alpha": np.ma.array([1, 2]),
        "mean_test_score": np.array([0.5, 0.6]),
        "std_test_score": np.array([0.1, 0.1]),
    }
    with pytest.raises(ValueError, match=r"ambiguous.*a__alpha, b__alpha"):
        plot_cv_results(ambiguous, "alpha", ax=ax)


# plot_misclassified ----------------------------------------------------------


def test_misclassified_shows_the_wrong_ones_in_order(digits):
    images, _ = digits
    y_true = np.array([0, 1, 2, 3, 4, 5])
    y_pred = np.array([0, 7, 2, 8, 4, 1])
    fig = plot_misclassified(images[:6], y_true, y_pred, fig=Figure())
    assert [ax.get_title() for ax in fig.axes] == [
        "true 1\npred 7",
        "true 3\npred 8",
        "true 5\npred 1",
    ]
    for data, index in zip(_image_data(fig), [1, 3, 5]):
        np.testing.assert_array_equal(data, images[index])


def test_misclassified_names_and_limit(digits):
    images, _ = digits
    y_true = np.zeros(40, dtype=int)
    y_pred = np.ones(40, dtype=int)
    fig = plot_misclassified(
        images[:40],
        y_true,
        y_pred,
        class_names=["zero", "one"],
        max_images=10,
        ncols=5,
        fig=Figure(),
    )
    assert len(fig.axes) == 10
    assert fig.axes[0].get_title() == "true zero\npred one"
    with pytest.raises(ValueError, match=r"integers in 0\.\.0"):
        plot_misclassified(images[:2], [0, 1], [1, 0], class_names=["a"], fig=Figure())


def test_misclassified_flat_rows_and_colour():
    rows = np.arange(2 * 12, dtype=float).reshape(2, 12)
    fig = plot_misclassified(rows, [0, 1], [1, 1], image_shape=(3, 4), fig=Figure())
    np.testing.assert_array_equal(_image_data(fig)[0], rows[0].reshape(3, 4))
    colour = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    fig = plot_misclassified(colour, [0, 1, 2], [0, 0, 0], fig=Figure())
    np.testing.assert_array_equal(_image_data(fig)[1], colour[2])


def test_misclassified_when_all_are_right():
    fig = plot_misclassified(np.zeros((2, 3, 3)), [0, 1], [0, 1], fig=Figure())
    (ax,) = fig.axes
    assert ax.texts[0].get_text() == "no misclassified images"


def test_misclassified_rejects_bad_input():
    images = np.zeros((3, 4, 4))
    with pytest.raises(ValueError, match="same length; got 3, 2 and 3"):
        plot_misclassified(images, [0, 1], [0, 1, 1], fig=Figure())
    with pytest.raises(ValueError, match="image_shape"):
        plot_misclassified(np.zeros((3, 16)), [0, 1, 1], [0, 1, 0], fig=Figure())
    with pytest.raises(ValueError, match="max_images"):
        plot_misclassified(images, [0, 1, 1], [1, 1, 1], max_images=0, fig=Figure())


# without matplotlib ----------------------------------------------------------


def test_clear_error_without_matplotlib(monkeypatch, softmax_pipeline):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "skcv\[plot\]"'):
        plot_templates(softmax_pipeline)


def test_two_channel_images_are_drawn_as_red_and_green():
    two = np.random.default_rng(0).integers(0, 256, (3, 4, 4, 2), dtype=np.uint8)
    fig = plot_misclassified(two, [0, 1, 2], [1, 1, 1], fig=Figure())
    data = _image_data(fig)
    assert len(data) == 2
    np.testing.assert_array_equal(data[0][..., :2], two[0])
    np.testing.assert_array_equal(data[0][..., 2], 0)
    # templates of a model trained on 2-channel images too
    images = np.random.default_rng(0).uniform(size=(60, 4, 5, 2))
    pipe = make_pipeline(PixelFlatten(), SoftmaxLinear(max_iter=3, random_state=0))
    pipe.fit(images, np.arange(60) % 3)
    assert len(_image_data(plot_templates(pipe, fig=Figure()))) == 3
    with pytest.raises(ValueError, match="Images of 5 channels cannot be drawn"):
        plot_misclassified(np.zeros((2, 3, 3, 5)), [0, 1], [1, 0], fig=Figure())
