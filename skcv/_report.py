"""The report of ``skcv run``: results.json, PNG pictures and report.html."""

import datetime
import html
import json
import platform
from dataclasses import dataclass, field

import numpy as np

from . import __version__
from ._pipeline import display_params, display_value, feature_label, short_name


@dataclass
class ModelResult:
    """One fitted search and its test predictions."""

    name: str
    title: str
    linear: bool
    search: object
    prefix: str
    y_pred: np.ndarray
    test_accuracy: float
    search_time: float
    predict_time: float


@dataclass
class RunResult:
    """Everything ``skcv run`` reports."""

    command: str
    dataset: dict
    settings: dict
    models: list
    X_test: np.ndarray
    y_test: np.ndarray
    target_names: list | None = None
    # Models not finished (Ctrl-C): the report is then marked incomplete.
    missing: list = field(default_factory=list)
    created: str = field(
        default_factory=lambda: (
            datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        )
    )


def _json_value(value):
    """Parameter values and numpy scalars as JSON values."""
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def _param_json(key, value):
    """A grid value as JSON; feature transformers by their --features name."""
    if key.removeprefix("param_") == "estimator__features":
        return feature_label(value)
    return _json_value(value)


def _features_step(search):
    """The fitted feature step (first pipeline step) of the best model."""
    return search.best_estimator_.estimator_.steps[0][1]


def _hog_searched(models):
    """The first HOGFeatures any model's search tried, or None."""
    from .features import HOGFeatures

    for model in models:
        search = model.search
        steps = search.param_grid.get(
            "estimator__features", [search.estimator.estimator.steps[0][1]]
        )
        for step in steps:
            for part in [step, *[t for _, t in getattr(step, "transformer_list", [])]]:
                if isinstance(part, HOGFeatures):
                    return part
    return None


def _versions():
    import numba
    import scipy
    import sklearn

    versions = {
        "skcv": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "numba": numba.__version__,
    }
    try:
        import matplotlib

        versions["matplotlib"] = matplotlib.__version__
    except ImportError:
        pass
    versions["platform"] = platform.platform()
    return versions


def _final_step(search):
    """The fitted model at the end of the refit wrappers and pipelines."""
    final = search.best_estimator_
    while hasattr(final, "steps") or hasattr(final, "estimator_"):
        final = final.steps[-1][1] if hasattr(final, "steps") else final.estimator_
    return final


def _converged(final):
    """False when SGD used every one of its ``max_iter`` epochs unconverged.

    A linear model on a small data set may meet the stopping rule and still
    run on to ``max_iter`` while it waits for its minimum number of updates.
    """
    max_iter = getattr(final, "max_iter", None)
    state = getattr(final, "_sgd_state", None)
    return (
        max_iter is None
        or final.n_iter_ < max_iter
        or bool(getattr(state, "converged", False))
    )


def _model_json(model):
    search = model.search
    cv = search.cv_results_
    n_splits = search.n_splits_
    points = []
    for i, params in enumerate(cv["params"]):
        points.append(
            {
                "params": {
                    short_name(k, model.prefix): _param_json(k, v)
                    for k, v in params.items()
                },
                "fold_scores": [
                    float(cv[f"split{j}_test_score"][i]) for j in range(n_splits)
                ],
                "mean_score": float(cv["mean_test_score"][i]),
                "std_score": float(cv["std_test_score"][i]),
                "rank": int(cv["rank_test_score"][i]),
                "mean_fit_time": float(cv["mean_fit_time"][i]),
                "mean_score_time": float(cv["mean_score_time"][i]),
            }
        )
        if "n_resources" in cv:  # a search that scored points on fewer rows
            points[-1]["iter"] = int(cv["iter"][i])
            points[-1]["n_resources"] = int(cv["n_resources"][i])
    best = search.best_index_
    final = _final_step(search)
    result = {
        "title": model.title,
        "search": type(search).__name__,
        "estimator": repr(search.estimator),
        "param_grid": {
            short_name(k, model.prefix): [_param_json(k, v) for v in values]
            for k, values in search.param_grid.items()
        },
        "n_splits": n_splits,
        "cv_results": points,
        "best_params": points[best]["params"],
        "features": feature_label(_features_step(search)),
        "best_cv_mean": points[best]["mean_score"],
        "best_cv_std": points[best]["std_score"],
        "test_accuracy": model.test_accuracy,
        "timings": {
            "search": model.search_time,
            "refit": float(search.refit_time_),
            "predict": model.predict_time,
            "best_mean_fit": points[best]["mean_fit_time"],
        },
    }
    if hasattr(final, "n_iter_"):
        result["n_iter"] = int(final.n_iter_)
        result["converged"] = _converged(final)
    if hasattr(final, "loss_curve_"):
        result["loss_curve"] = [float(v) for v in final.loss_curve_]
    return result


def results_json(run):
    """The content of results.json."""
    return {
        "command": run.command,
        "created": run.created,
        "versions": _versions(),
        "dataset": run.dataset,
        "settings": run.settings,
        "complete": not run.missing,
        "missing_models": list(run.missing),
        "models": {model.name: _model_json(model) for model in run.models},
    }


def _class_names(run):
    """Sorted labels and one display name per label."""
    labels = np.unique(np.concatenate([run.y_test, *[m.y_pred for m in run.models]]))
    names = run.target_names
    if (
        names is not None
        and labels.dtype.kind in "iu"
        and labels.min() >= 0
        and labels.max() < len(names)
    ):
        return labels, [str(names[label]) for label in labels]
    return labels, [str(label) for label in labels]


def _grid_figure(n, max_cols):
    """A figure sized for ``n`` small images, ``max_cols`` per row."""
    from matplotlib.figure import Figure

    ncols = max(1, min(n, max_cols))
    nrows = max(1, -(-n // ncols))
    return Figure(figsize=(1.3 * ncols + 0.4, 1.5 * nrows + 0.6), layout="constrained")


def _figure(size=(6.4, 4.4)):
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _rows(cv, rows):
    """The rows ``rows`` of a ``cv_results_`` dict."""
    return {
        key: [value[i] for i in rows] if key == "params" else value[rows]
        for key, value in cv.items()
    }


def _plotted_rows(search, *, both_augment=False):
    """Rows of ``cv_results_`` scored on the same images, and their count.

    A halving search scores points on growing subsets of the rows: the plots
    show one level of it, the first (where most points were scored) or, with
    ``both_augment``, the last level with points both without and with
    augmentation. Returns all rows and None for an exhaustive search.
    """
    cv = search.cv_results_
    if "n_resources" not in cv:
        return cv, None
    levels = np.asarray(cv["iter"])
    level = levels.min()
    if both_augment:
        states = np.array([v is None for v in cv["param_augmenter"]])
        level = max(
            (i for i in np.unique(levels) if len(set(states[levels == i])) == 2),
            default=level,
        )
    rows = np.flatnonzero(levels == level)
    return _rows(cv, rows), int(cv["n_resources"][rows[0]])


def _display_cv_results(search, cv=None):
    """``cv_results_`` with the augmenter column as ``off`` / ``on``."""
    cv = dict(search.cv_results_ if cv is None else cv)
    if "param_augmenter" in cv:
        cv["param_augmenter"] = np.ma.masked_array(
            [display_value("augmenter", v) for v in cv["param_augmenter"]],
            dtype=object,
        )
    return cv


def _varying(search):
    """Grid parameters with more than one value, in grid order."""
    keys = [k for k, values in search.param_grid.items() if len(values) > 1]
    return keys or list(search.param_grid)[:1]


def _cv_plot(model):
    from .plotting import plot_cv_results

    search, prefix = model.search, model.prefix
    keys = _varying(search)
    names = [short_name(k, prefix) for k in keys]
    fig = _figure()
    ax = fig.subplots()
    rows, n_rows = _plotted_rows(search)
    cv = _display_cv_results(search, rows)
    linear_keys = [k for k in keys if k != "augmenter"]
    if model.linear and len(linear_keys) >= 2:
        plot_cv_results(cv, linear_keys[0], linear_keys[1], ax=ax)
        rest = [short_name(k, prefix) for k in keys if k not in linear_keys[:2]]
        caption = (
            f"Mean {search.n_splits_}-fold CV accuracy (± std over the folds) "
            f"for each {names[0]} and {names[1]}"
            + (f", the best over {', '.join(rest)}" if rest else "")
            + "; the chosen cell is framed in red."
        )
    else:
        plot_cv_results(cv, keys[0], ax=ax)
        ax.set_ylabel("CV accuracy")
        caption = (
            f"CV accuracy against {names[0]}: a dot per fold and a line through "
            f"the mean over the {search.n_splits_} folds, with error bars of one "
            "standard deviation"
            + (
                f"; one line per combination of {' and '.join(names[1:])}."
                if len(keys) > 2
                else f"; one line per {names[1]}."
                if len(keys) == 2
                else "."
            )
        )
    ax.set_title(f"{model.title}: cross-validation")
    if n_rows is not None:
        caption += (
            f" Scores of the first level of the search, on {n_rows} of the "
            "training images; results.json has every level."
        )
    return fig, caption


def _augment_plot(models):
    """Best CV accuracy of each model without and with augmentation."""
    fig = _figure((6.4, 3.6))
    ax = fig.subplots()
    width = 0.38
    for offset, (state, color) in enumerate((("off", "C7"), ("on", "C0"))):
        means, stds = [], []
        for model in models:
            cv = _display_cv_results(
                model.search, _plotted_rows(model.search, both_augment=True)[0]
            )
            rows = np.flatnonzero(cv["param_augmenter"] == state)
            best = rows[np.argmax(cv["mean_test_score"][rows])]
            means.append(cv["mean_test_score"][best])
            stds.append(cv["std_test_score"][best])
        positions = np.arange(len(models)) + (offset - 0.5) * width
        bars = ax.bar(
            positions,
            means,
            width,
            yerr=stds,
            capsize=3,
            color=color,
            label=f"augmentation {state}",
        )
        ax.bar_label(bars, fmt="%.3f", padding=2, fontsize="small")
    ax.set_xticks(range(len(models)), [model.name for model in models])
    heights = [bar.get_height() for bar in ax.patches]
    ax.set_ylim(max(0.0, min(heights) - 0.1), max(heights) + 0.04)
    ax.set_ylabel("best mean CV accuracy")
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("Does augmenting the training folds help?")
    return fig


def _plots(run, out):
    """Draw every picture into ``out``; return ``(section, file, caption)`` rows.

    The section is a model name, or ``""`` for pictures about all models.
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    from .plotting import plot_loss_curve, plot_misclassified, plot_templates

    labels, names = _class_names(run)
    lookup = dict(zip(labels.tolist(), names))
    rows = []

    def save(fig, section, stem, caption):
        path = out / (f"{section}_{stem}.png" if section else f"{stem}.png")
        fig.savefig(path, dpi=100)
        rows.append((section, path.name, caption))

    compared = [
        model
        for model in run.models
        if len(model.search.param_grid.get("augmenter", [])) == 2
    ]
    if compared:
        save(
            _augment_plot(compared),
            "",
            "augment",
            "Best mean CV accuracy (± std over the folds) of each model when its "
            "training folds are not augmented and when they are; the search "
            "kept the better of the two.",
        )

    hog = _hog_searched(run.models)
    if hog is not None:
        from .plotting import plot_hog

        fig = _figure((1.8 * min(len(run.X_test), 8), 3.8))
        plot_hog(run.X_test, hog, fig=fig)
        save(
            fig,
            "",
            "hog",
            "What the HOG features see: test images above the orientation "
            "histograms of their cells, one line per orientation bin along the "
            "edges that vote for it, brighter for a larger share of the "
            f"gradient (cells of {hog.pixels_per_cell} pixels, before block "
            "normalisation).",
        )

    for model in run.models:
        search = model.search
        fig, caption = _cv_plot(model)
        save(fig, model.name, "cv", caption)

        if model.linear:
            fig = _figure((6.4, 4.0))
            ax = plot_loss_curve(search, ax=fig.subplots())
            ax.set_title(f"{model.title}: training loss of the refit model")
            save(
                fig,
                model.name,
                "loss",
                "Training loss per epoch (mean data loss plus alpha times the "
                "penalty) of the best model refit on the whole training set"
                + (
                    ", with its accuracy on the held-out validation split and on "
                    "as many training images after each epoch."
                    if getattr(_final_step(search), "train_scores_", None)
                    else "."
                ),
            )
        # Templates are pictures of weights on pixels; features have none.
        if model.linear and feature_label(_features_step(search)) == "pixels":
            if hasattr(_final_step(search), "coefs_"):
                n_units = _final_step(search).coefs_[0].shape[1]
                fig = _grid_figure(n_units, 10)
                plot_templates(search, fig=fig)
                fig.suptitle(f"{model.title}: first-layer weights")
                save(
                    fig,
                    model.name,
                    "templates",
                    "The first layer's weights coefs_[0], one image per hidden "
                    "unit, over standardised pixels: the patterns the hidden "
                    "units respond to. Red raises a unit's input, blue lowers it.",
                )
            else:
                fig = _grid_figure(len(search.classes_), 10)
                class_names = [lookup.get(c, str(c)) for c in search.classes_.tolist()]
                plot_templates(search, class_names=class_names, fig=fig)
                fig.suptitle(f"{model.title}: learned templates")
                save(
                    fig,
                    model.name,
                    "templates",
                    "The learned weights coef_, one template per class, drawn as "
                    "images: how much the class score moves when a pixel moves by "
                    "one of its standard deviations (the model sees standardised "
                    "pixels). Red raises the score, blue lowers it; each template "
                    "has its own colour scale.",
                )

        n_classes = len(labels)
        fig = _figure((max(5.0, 0.45 * n_classes), max(4.5, 0.45 * n_classes)))
        ConfusionMatrixDisplay.from_predictions(
            run.y_test,
            model.y_pred,
            labels=labels,
            display_labels=names,
            include_values=n_classes <= 20,
            xticks_rotation="vertical" if max(map(len, names)) > 3 else "horizontal",
            colorbar=False,
            ax=fig.subplots(),
        )
        fig.axes[0].set_title(f"{model.title}: test accuracy {model.test_accuracy:.4f}")
        save(
            fig,
            model.name,
            "confusion",
            "Confusion matrix on the test set: rows are the true classes, "
            "columns the predicted ones.",
        )

        n_wrong = int((run.y_test != model.y_pred).sum())
        fig = _grid_figure(min(n_wrong, 24), 8)
        true = np.array([lookup[v] for v in run.y_test.tolist()])
        pred = np.array([lookup[v] for v in model.y_pred.tolist()])
        plot_misclassified(run.X_test, true, pred, fig=fig)
        fig.suptitle(f"{model.title}: misclassified test images")
        save(
            fig,
            model.name,
            "misclassified",
            (
                f"All {n_wrong} misclassified test images"
                if n_wrong <= 24
                else f"The first 24 of the {n_wrong} misclassified test images"
            )
            + ", with their true and predicted labels.",
        )
    return rows


def _table(run):
    rows = []
    for model in run.models:
        search = model.search
        params = display_params(search.best_params_, model.prefix, search.param_grid)
        rows.append(
            {
                "model": model.name,
                # Which features the model used, gridded or not, first.
                "best_params": {
                    "features": feature_label(_features_step(search)),
                    **params,
                },
                "cv_mean": float(
                    search.cv_results_["mean_test_score"][search.best_index_]
                ),
                "cv_std": float(
                    search.cv_results_["std_test_score"][search.best_index_]
                ),
                "test_accuracy": model.test_accuracy,
                "fit_time": float(search.refit_time_),
                "predict_time": model.predict_time,
                "search_time": model.search_time,
            }
        )
    return rows


def _notes(run):
    """Remarks for the printed summary and the page."""
    notes = []
    if run.missing:
        notes.append(
            f"Incomplete: the run was interrupted before {', '.join(run.missing)} "
            "finished; the same command with --resume computes only what is missing."
        )
    for model in run.models:
        final = _final_step(model.search)
        if hasattr(final, "n_iter_") and not _converged(final):
            notes.append(
                f"{model.name}: the refit model used all max_iter={final.max_iter} "
                f"epochs before its loss stalled (tol={final.tol}); the best "
                f"parameters may do better with more epochs "
                f"(--grid {model.name}.max_iter=...)."
            )
    return notes


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em;
       color: #222; line-height: 1.4; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { padding: 0.3em 0.8em; border-bottom: 1px solid #ccc; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; }
figcaption { color: #555; font-size: 0.9em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _html(run, table, plots, notes):
    esc = html.escape
    dataset = run.dataset
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>skcv report: {esc(dataset['name'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>skcv report: {esc(dataset['name'])}"
        + (" (incomplete)" if run.missing else "")
        + "</h1>",
        f"<p><code>{esc(run.command)}</code><br>{esc(run.created)}, skcv "
        f"{esc(__version__)}</p>",
        f"<p>{dataset['n_train']} training and {dataset['n_test']} test images of "
        f"shape {esc(str(tuple(dataset['image_shape'])))}, {dataset['n_classes']} "
        f"classes; test split: {esc(dataset['test_split'])}; "
        f"{run.settings['cv']}-fold cross-validation; augmentation of the "
        f"training folds: {esc(run.settings['augment_text'])}.</p>",
        "<table><thead><tr><th>model</th><th>best parameters</th>"
        "<th>CV accuracy</th><th>test accuracy</th><th>fit (s)</th>"
        "<th>predict (s)</th><th>search (s)</th></tr></thead><tbody>",
    ]
    for row in table:
        params = ", ".join(f"{k}={v}" for k, v in row["best_params"].items())
        parts.append(
            f"<tr><td>{esc(row['model'])}</td><td>{esc(params)}</td>"
            f"<td class=num>{row['cv_mean']:.4f} ± {row['cv_std']:.4f}</td>"
            f"<td class=num>{row['test_accuracy']:.4f}</td>"
            f"<td class=num>{row['fit_time']:.2f}</td>"
            f"<td class=num>{row['predict_time']:.2f}</td>"
            f"<td class=num>{row['search_time']:.1f}</td></tr>"
        )
    parts.append("</tbody></table>")
    parts.append(
        "<p>Fit time is the refit of the best model on the whole training set; "
        "search time covers every fold and grid point. All numbers are in "
        '<a href="results.json">results.json</a>.</p>'
    )
    parts.extend(f"<p>{esc(note)}</p>" for note in notes)
    sections = [("", "All models")] + [
        (model.name, f"{model.title} ({model.name})") for model in run.models
    ]
    for section, heading in sections:
        figures = [(path, caption) for name, path, caption in plots if name == section]
        if not figures:
            continue
        parts.append(f"<h2>{esc(heading)}</h2>")
        parts.extend(
            f'<figure><img src="{esc(path)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
            for path, caption in figures
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(run, out):
    """Write results.json, the pictures and report.html into the folder ``out``.

    Returns ``{"table": rows, "notes": [...]}`` for the printed summary. The
    pictures are left out, with a note, when matplotlib is not installed.
    """
    out.mkdir(parents=True, exist_ok=True)
    table = _table(run)
    notes = _notes(run)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        plots = []
        notes.append(
            'No pictures: matplotlib is missing; pip install "skcv[plot]" to get them.'
        )
    else:
        plots = _plots(run, out)
    content = results_json(run)
    content["plots"] = [
        {"section": name or "all", "file": path, "caption": caption}
        for name, path, caption in plots
    ]
    (out / "results.json").write_text(json.dumps(content, indent=2) + "\n")
    (out / "report.html").write_text(_html(run, table, plots, notes), encoding="utf-8")
    return {"table": table, "notes": notes}
