"""The ``skcv`` command line: ``skcv run`` runs the whole pipeline on a data set.

``skcv run`` loads the images, holds out a test set, chooses ``k`` for
nearest neighbour and the learning rate and ``alpha`` of the linear models by
k-fold cross-validation (augmenting only the training folds), refits the best
model of each kind, tests it, prints a table and writes a report folder:
``results.json``, PNG pictures and ``report.html``.
"""

import argparse
import json
import os
import shlex
import sys
import threading
import time
import warnings
from contextlib import ExitStack, contextmanager
from pathlib import Path

import joblib
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score

from . import __version__, _state
from ._data import DATASETS, load_data, split
from ._pipeline import (
    AUGMENT_PRESETS,
    FEATURES,
    MODELS,
    SEARCHES,
    UsageError,
    augment_params,
    augmenter_choices,
    build_estimator,
    build_grid,
    build_search,
    feature_steps,
    parse_grid_overrides,
    search_plan,
    search_strategy,
    short_name,
)


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected an integer, got {text!r}"
            ) from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value

    return parse


def _seed(text):
    # What numpy.random.RandomState, which seeds every step, accepts.
    value = _int_at_least(0)(text)
    if value > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"must be at most 2**32 - 1, got {value}")
    return value


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(
            f"must be a fraction strictly between 0 and 1, got {text}"
        )
    return value


def _model_list(text):
    models = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {','.join(unknown) or repr(text)}; choose from "
            + ",".join(MODELS)
        )
    return list(dict.fromkeys(models))


def _feature_list(text):
    names = [name.strip() for name in text.split(",")]
    unknown = [name for name in names if name not in FEATURES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown feature(s) {','.join(unknown)}; choose from "
            + ", ".join(FEATURES)
        )
    return list(dict.fromkeys(names))


def _n_jobs(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("must not be 0 (use -1 for all cores)")
    return value


def build_parser():
    """The argument parser of ``skcv``."""
    parser = argparse.ArgumentParser(
        prog="skcv",
        description="Classic image classification with scikit-learn estimators.",
    )
    parser.add_argument("--version", action="version", version=f"skcv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="cross-validate, refit and test k-NN and linear models; write a report",
        description=(
            "Load a data set, hold out a test set, choose hyper-parameters by "
            "k-fold cross-validation (augmenting only the training folds), refit "
            "the best model of each kind, test it and write a report."
        ),
    )
    data = run.add_argument_group("data")
    data.add_argument(
        "--dataset",
        default="digits",
        metavar="NAME|PATH",
        help=(
            f"{', '.join(DATASETS)}, or the path of an .npz file holding X "
            "(images) and y (labels) (default: digits, no download needed)"
        ),
    )
    data.add_argument(
        "--test-dataset",
        metavar="PATH",
        help=(
            "an .npz file holding the test set (e.g. an official test split); "
            "without it the test set is --test-size of --dataset, except for "
            "named data sets with an official test split, which use it"
        ),
    )
    data.add_argument(
        "--data-home", metavar="DIR", help="where downloaded data sets are cached"
    )
    data.add_argument(
        "--download",
        action="store_true",
        help="download a named data set that is not in the cache",
    )
    data.add_argument(
        "--test-size",
        type=_fraction,
        default=0.2,
        metavar="FRACTION",
        help="fraction held out for testing, stratified (default: 0.2)",
    )
    data.add_argument(
        "--max-train",
        type=_int_at_least(2),
        metavar="N",
        help="use a stratified random subset of N training images",
    )
    search = run.add_argument_group("search")
    search.add_argument(
        "--models",
        type=_model_list,
        # The network is opt-in: it costs more than the other three together.
        default=[name for name in MODELS if name != "net"],
        metavar="LIST",
        help=f"comma list of {','.join(MODELS)} (default: all but net)",
    )
    search.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="MODEL.PARAM=V1,V2",
        help=(
            "replace the values searched for one parameter, e.g. "
            "knn.n_neighbors=1,3,5 or softmax.alpha=1e-4,1e-3 (repeatable)"
        ),
    )
    search.add_argument(
        "--features",
        type=_feature_list,
        default=["pixels"],
        metavar="LIST",
        help=(
            "what the models see: pixels, hog (histograms of oriented "
            "gradients) or hog+hue (plus a hue histogram, colour images only); "
            "a comma list is searched like a parameter (default: pixels)"
        ),
    )
    search.add_argument(
        "--cv",
        type=_int_at_least(2),
        default=5,
        metavar="K",
        help="number of cross-validation folds (default: 5)",
    )
    search.add_argument(
        "--augment",
        default="auto",
        choices=AUGMENT_PRESETS,
        help=(
            "augmentation of the training folds. auto searches each model "
            "without and with the preset of the data set (shifts for digits "
            "and MNIST, flips and shifts for CIFAR) and keeps what "
            "cross-validates better; a preset name always augments "
            "(default: auto)"
        ),
    )
    search.add_argument(
        "--search",
        default="auto",
        choices=SEARCHES,
        help=(
            "grid: every grid point on every fold (k-NN scores every k from "
            "one neighbour search per fold); halving: augmentation tried for "
            "the best setting only, k-NN groups compared on a subset first, "
            "successive halving for the linear models; auto: grid up to "
            "10,000 training images, halving beyond (default: auto)"
        ),
    )
    search.add_argument(
        "--seed",
        type=_seed,
        default=0,
        help="seed of every random step, 0 to 2**32 - 1 (default: 0)",
    )
    search.add_argument(
        "--n-jobs",
        type=_n_jobs,
        default=None,
        metavar="N",
        help="parallel fits of the search (-1: all cores; default: 1)",
    )
    search.add_argument(
        "--scheduler",
        metavar="ADDRESS|local",
        help=(
            "run the fits on a Dask cluster: a scheduler address such as "
            "tcp://host:8786, or 'local' for worker processes on this machine "
            "(needs skcv[distributed]; --n-jobs is then ignored)"
        ),
    )
    output = run.add_argument_group("output")
    output.add_argument(
        "--out",
        default="skcv-report",
        metavar="DIR",
        help="folder of the report (default: skcv-report)",
    )
    output.add_argument(
        "--resume",
        action="store_true",
        help=(
            "reuse the models that a previous run with the same data, settings "
            "and versions finished in --out (e.g. before Ctrl-C)"
        ),
    )
    output.add_argument(
        "--no-progress", action="store_true", help="no progress bar on stderr"
    )
    return parser


@contextmanager
def _count_fits(bar, describe=None):
    """Advance ``bar`` as joblib completes the fits of a search.

    Yields ``arm``, to call before each ``search.fit`` with the search's plan,
    a list of ``(label, weight)``: each of the next outermost ``Parallel``
    calls takes the next entry, shows its label through ``describe`` and
    advances ``bar`` by ``weight`` per finished task. ``arm()`` alone counts
    one call, one unit per task. In ``GridSearchCV`` that call runs every
    fold of every grid point; successive halving makes one call per
    iteration. joblib reports each finished batch through
    ``Parallel.print_progress`` in the parent process, for any backend and
    any ``n_jobs``. ``Parallel`` calls made by estimators inside a fit, or by
    the refit, are not counted.
    """
    state = {"plan": [], "owner": None, "seen": 0, "weight": 1}
    lock = threading.Lock()
    call, progress = joblib.Parallel.__call__, joblib.Parallel.print_progress

    def arm(plan=((None, 1),)):
        state["plan"] = list(plan)

    def counting_call(self, iterable):
        with lock:
            counted = bool(state["plan"]) and state["owner"] is None
            if counted:
                label, weight = state["plan"].pop(0)
                state.update(owner=self, seen=0, weight=weight)
                if label is not None and describe is not None:
                    describe(label)
        try:
            return call(self, iterable)
        finally:
            if counted:
                state["owner"] = None

    def counting_progress(self):
        if self is state["owner"] and self.n_completed_tasks > state["seen"]:
            bar.update((self.n_completed_tasks - state["seen"]) * state["weight"])
            state["seen"] = self.n_completed_tasks
        progress(self)

    joblib.Parallel.__call__ = counting_call
    joblib.Parallel.print_progress = counting_progress
    try:
        yield arm
    finally:
        joblib.Parallel.__call__ = call
        joblib.Parallel.print_progress = progress


@contextmanager
def _backend(args):
    """The joblib backend of the searches: a Dask cluster with --scheduler."""
    if args.scheduler is None:
        yield
        return
    from .parallel import dask_backend

    with ExitStack() as stack:
        # A missing extra or an unreachable scheduler is the user's to fix:
        # one line and exit status 2, not a traceback.
        try:
            stack.enter_context(dask_backend(args.scheduler))
        except (ImportError, OSError) as exc:
            raise UsageError(f"--scheduler {args.scheduler}: {exc}") from None
        yield


def _fit_model(search, X_train, y_train, X_test):
    """Fit one search, predict the test images; the payload stored for resume."""
    start = time.perf_counter()
    search.fit(X_train, y_train)
    search_time = time.perf_counter() - start
    start = time.perf_counter()
    y_pred = search.best_estimator_.predict(X_test)
    return {
        "search": search,
        "y_pred": y_pred,
        "search_time": search_time,
        "predict_time": time.perf_counter() - start,
    }


def _run_models(searches, records, data, args, *, out, stderr):
    """Fit (or, with --resume, reload) every model, with a progress bar.

    Each finished model is stored in ``out`` at once. Returns the payloads of
    the finished models and the name of the model Ctrl-C stopped, or None.
    """
    from tqdm.auto import tqdm

    X_train, y_train, X_test = data
    n_classes = len(np.unique(y_train))
    plans = {
        name: search_plan(search, len(y_train), n_classes)
        for name, search in searches.items()
    }
    # Work in thousandths of a fit on a whole training fold, in integers so
    # that the bar ends exactly at its total; a refit weighs about one such fit.
    plans = {
        name: [(label, count, max(1, round(1000 * w))) for label, count, w in plan]
        for name, plan in plans.items()
    }
    costs = {
        name: sum(count * weight for _, count, weight in plan) + 1000
        for name, plan in plans.items()
    }
    finished, interrupted = {}, None
    bar = tqdm(
        total=sum(costs.values()),
        file=stderr,
        disable=args.no_progress,
        bar_format="{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]",
    )
    with ExitStack() as stack:
        stack.enter_context(bar)
        arm = stack.enter_context(_count_fits(bar, bar.set_description))
        stack.enter_context(_backend(args))
        # Short SGD runs that end at max_iter are expected in a grid; the
        # report says whether the refit models stopped early or not.
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, search in searches.items():
            if args.resume:
                payload, message = _state.load(out, name, records[name])
                if message is not None:
                    bar.write(message, file=stderr)
                if payload is not None:
                    bar.write(
                        f"{name}: reusing the finished search in {out}", file=stderr
                    )
                    finished[name] = payload
                    bar.update(costs[name])
                    continue
            bar.set_description(name)
            start = bar.n
            arm([(f"{name}: {label}", weight) for label, _, weight in plans[name]])
            try:
                payload = _fit_model(search, X_train, y_train, X_test)
                _state.save(out, name, records[name], payload)
            except KeyboardInterrupt:
                interrupted = name
                break
            except ValueError as exc:
                # A fit that cannot go on (divergence, above all) is the
                # settings' fault: one line, as for any bad argument.
                lines = str(exc).strip().splitlines() or [type(exc).__name__]
                raise UsageError(
                    f"a fit of the {name} search failed: {lines[0]}"
                ) from exc
            # The plan is an estimate (k-NN's last stage is counted as if
            # augmented): catch up to where this model's share ends.
            bar.update(start + costs[name] - bar.n)
            finished[name] = payload
    return finished, interrupted


def _augment_text(preset, params):
    if params is None:
        return "none"
    text = ", ".join(f"{k}={v}" for k, v in params.items())
    return f"off or {text}, chosen by CV" if preset == "auto" else text


def _format_table(rows):
    header = ["model", "best parameters", "CV accuracy", "test acc.", "fit (s)"]
    header += ["predict (s)", "search (s)"]
    lines = [header] + [
        [
            row["model"],
            ", ".join(f"{k}={v}" for k, v in row["best_params"].items()),
            f"{row['cv_mean']:.4f} ± {row['cv_std']:.4f}",
            f"{row['test_accuracy']:.4f}",
            f"{row['fit_time']:.2f}",
            f"{row['predict_time']:.2f}",
            f"{row['search_time']:.1f}",
        ]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths))
        ).rstrip()
        for line in lines
    ]
    text.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(text)


def run(args, *, argv, stdout=None, stderr=None):
    """Run ``skcv run`` with parsed ``args``; raise UsageError for bad input."""
    from . import _report

    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    overrides = parse_grid_overrides(args.grid, args.models)
    data = load_data(args)
    X_train, y_train, X_test, y_test, test_split, n_available = split(data, args)
    image_shape = X_train.shape[1:]
    augment = augment_params(args.augment, data.name, image_shape)
    augmenters = augmenter_choices(args.augment, augment)
    strategy = search_strategy(args.search, len(y_train))
    searches, prefixes, records = {}, {}, {}
    data_print = {
        "train": _state.data_fingerprint(X_train, y_train),
        "test": _state.data_fingerprint(X_test, y_test),
    }
    run_settings = {
        "cv": args.cv,
        "seed": args.seed,
        "search": strategy,
        "augmenter": augment,
        "features": args.features,
    }
    for name in args.models:
        spec = MODELS[name]
        features = feature_steps(args.features, image_shape)
        estimator, prefixes[name] = build_estimator(
            spec, random_state=args.seed, features=features
        )
        grid = build_grid(
            spec,
            estimator,
            prefixes[name],
            overrides.get(name, {}),
            augmenters,
            features,
        )
        searches[name] = build_search(
            estimator,
            grid,
            cv=args.cv,
            seed=args.seed,
            n_jobs=args.n_jobs,
            spec=spec,
            prefix=prefixes[name],
            strategy=strategy,
            n_train=len(y_train),
        )
        records[name] = _state.fingerprint(
            data=data_print,
            settings=run_settings,
            grid={
                short_name(key, prefixes[name]): [repr(v) for v in values]
                for key, values in grid.items()
            },
        )
    _check_fold_sizes(searches, prefixes, overrides, X_train, y_train)
    out = Path(args.out)
    _check_out(out)
    print(
        f"{data.name}: {len(y_train)} training and {len(y_test)} test images of "
        f"shape {image_shape}, {len(np.unique(y_train))} classes; "
        f"{args.cv}-fold CV ({strategy} search); augmentation: "
        f"{_augment_text(args.augment, augment)}",
        file=stdout,
        flush=True,
    )
    # The report folder is created when the first model is stored (or the
    # report written): an interrupt or a failed fit before that leaves none.
    finished, interrupted = _run_models(
        searches, records, (X_train, y_train, X_test), args, out=out, stderr=stderr
    )
    models = [
        _report.ModelResult(
            name=name,
            title=MODELS[name].title,
            linear=MODELS[name].linear,
            search=payload["search"],
            prefix=prefixes[name],
            y_pred=payload["y_pred"],
            test_accuracy=float(accuracy_score(y_test, payload["y_pred"])),
            search_time=payload["search_time"],
            predict_time=payload["predict_time"],
        )
        for name, payload in finished.items()
    ]
    if interrupted is not None and not finished:
        raise KeyboardInterrupt  # nothing to report: one line, exit 130
    result = _report.RunResult(
        command="skcv " + shlex.join(argv),
        dataset={
            "name": data.name,
            "source": args.dataset,
            "test_source": args.test_dataset,
            "image_shape": list(image_shape),
            "n_classes": len(np.unique(np.concatenate([y_train, y_test]))),
            "n_available": int(n_available),
            "n_train": len(y_train),
            "n_test": len(y_test),
            "test_split": test_split,
        },
        settings={
            "models": args.models,
            "cv": args.cv,
            "test_size": args.test_size if test_split != "given" else None,
            "max_train": args.max_train,
            "seed": args.seed,
            "n_jobs": args.n_jobs,
            "scheduler": args.scheduler,
            "augment": args.augment,
            "features": args.features,
            "augmenter": augment,
            "augment_text": _augment_text(args.augment, augment),
            "grid_overrides": args.grid,
            "search": args.search,
            "search_strategy": strategy,
        },
        models=models,
        missing=[name for name in args.models if name not in finished],
        X_test=X_test,
        y_test=y_test,
        target_names=data.target_names,
    )
    _make_out(out)
    summary = _report.write_report(result, out)
    if interrupted is not None:
        done = ", ".join(finished)
        print(
            f"skcv run: interrupted during {interrupted}; results of {done} written "
            f"to {out} (marked incomplete); --resume continues from there",
            file=stderr,
            flush=True,
        )
        return 130
    print(_format_table(summary["table"]), file=stdout)
    for note in summary["notes"]:
        print(note, file=stdout)
    print(f"Report: {out / 'report.html'}", file=stdout, flush=True)
    return 0


def _check_fold_sizes(searches, prefixes, overrides, X, y):
    """Refuse k-NN grid values of ``n_neighbors`` above a training fold's size."""
    for name, search in searches.items():
        key = prefixes[name] + "n_neighbors"
        if key not in search.param_grid:
            continue
        n_min = min(len(train) for train, _ in search.cv.split(X, y))
        too_many = [k for k in search.param_grid[key] if k > n_min]
        if too_many:
            if "n_neighbors" in overrides.get(name, {}):
                where, hint = "--grid", f"use at most {n_min}"
            else:
                where = "the default grid's"
                hint = f"set --grid {name}.n_neighbors to values up to {n_min}"
            raise UsageError(
                f"{where} {name}.n_neighbors={too_many[0]}: more than the "
                f"{n_min} images of the smallest training fold of --cv "
                f"{search.cv.get_n_splits()}; {hint}"
            )


def _check_out(out):
    """Refuse an ``--out`` that cannot become a folder, without creating it."""
    existing = out
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"--out {out}: cannot create the folder: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f"--out {out}: cannot create the folder: {existing} is not writable"
        )


def _make_out(out):
    """Create ``out`` and remove the files an earlier report put there.

    The pictures differ between runs (models, augmentation), so the ones of an
    earlier run, listed in its results.json, would otherwise sit beside the
    new report. Other files are left alone.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot create the folder: {exc}") from None
    try:
        previous = json.loads((out / "results.json").read_text())
        stale = [entry["file"] for entry in previous.get("plots", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        stale = []
    for name in stale:
        # Only names of files inside out, as a report writes them.
        if isinstance(name, str) and Path(name).name == name and name.endswith(".png"):
            (out / name).unlink(missing_ok=True)


def main(argv=None):
    """Run the command line and return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 2 for bad arguments or data that cannot be loaded,
        130 when interrupted by Ctrl-C, with one line on stderr; the
        models finished by then are written, marked incomplete, and no score
        of an interrupted fit is.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code
    try:
        return run(args, argv=argv)
    except UsageError as exc:
        print(f"skcv {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
        print(f"skcv {args.command}: interrupted", file=sys.stderr)
        return 130
