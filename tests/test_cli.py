"""Tests of the ``skcv`` command line, run in-process through ``main``."""

import io
import json
import re
import struct
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier

import skcv
from skcv._pipeline import augment_params, parse_grid_overrides, parse_value
from skcv.cli import _count_fits, main

pytest.importorskip("matplotlib")

TINY_GRID = [
    "--grid", "knn.n_neighbors=1,3",
    "--grid", "knn.metric=l2",
    "--grid", "softmax.learning_rate_scale=0.3,1",
    "--grid", "softmax.alpha=1e-4,1e-3",
    "--grid", "hinge.learning_rate_scale=0.3,1",
    "--grid", "hinge.alpha=1e-3,1e-2",
]  # fmt: skip

PNG_FILES = ["augment.png"] + [
    f"{model}_{kind}.png"
    for model in ("knn", "softmax", "hinge")
    for kind in ("cv", "loss", "templates", "confusion", "misclassified")
    if model != "knn" or kind not in ("loss", "templates")
]


def _run(argv):
    """``main(argv)`` with captured output: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    status, stdout, stderr = _run(["run", "--out", str(out), "--cv", "3", *TINY_GRID])
    results = json.loads((out / "results.json").read_text())
    return {"status": status, "stdout": stdout, "stderr": stderr, "out": out,
            "results": results}  # fmt: skip


def test_run_succeeds_and_prints_the_table(digits_run):
    assert digits_run["status"] == 0, digits_run["stderr"]
    stdout = digits_run["stdout"]
    assert stdout.startswith("digits: 1437 training and 360 test images")
    header = stdout.splitlines()[1].split()
    assert header[:4] == ["model", "best", "parameters", "CV"]
    for name, model in digits_run["results"]["models"].items():
        (row,) = [line for line in stdout.splitlines() if line.startswith(name + " ")]
        assert f"{model['test_accuracy']:.4f}" in row
        assert f"{model['best_cv_mean']:.4f} ± {model['best_cv_std']:.4f}" in row
    assert "Report: " in stdout
    assert "Traceback" not in digits_run["stderr"]


def test_progress_bar_shows_each_stage_and_ends_at_its_total(digits_run):
    stderr = digits_run["stderr"]
    for stage in ("knn: neighbours", "softmax: grid", "hinge: grid"):
        assert f"{stage}:" in stderr
    assert "hinge: grid: 100%" in stderr
    assert "Warning" not in stderr  # e.g. tqdm's, for a count beyond the total


def test_results_json_holds_every_score(digits_run):
    results = digits_run["results"]
    assert results["command"].startswith("skcv run --out ")
    assert set(results["versions"]) >= {"skcv", "python", "numpy", "scipy",
                                        "scikit-learn"}  # fmt: skip
    assert results["versions"]["skcv"] == skcv.__version__
    dataset = results["dataset"]
    assert dataset["name"] == "digits"
    assert dataset["image_shape"] == [8, 8]
    assert (dataset["n_train"], dataset["n_test"]) == (1437, 360)
    assert dataset["n_classes"] == 10
    assert results["settings"]["cv"] == 3
    assert results["settings"]["augmenter"] == {
        "max_shift": 1,
        "n_copies": 1,
        "keep_original": True,
    }
    assert list(results["models"]) == ["knn", "softmax", "hinge"]
    sizes = {"knn": 4, "softmax": 8, "hinge": 8}
    for name, model in results["models"].items():
        points = model["cv_results"]
        assert len(points) == sizes[name]
        for point in points:
            folds = np.array(point["fold_scores"])
            assert folds.shape == (3,)
            assert point["mean_score"] == pytest.approx(folds.mean())
            assert point["std_score"] == pytest.approx(folds.std())
        best = max(points, key=lambda p: p["mean_score"])
        assert best["rank"] == 1
        assert model["best_params"] == best["params"]
        assert model["best_cv_mean"] == best["mean_score"]
        assert {p["params"]["augmenter"] is None for p in points} == {True, False}
        assert model["test_accuracy"] > 0.9
        assert set(model["timings"]) == {"search", "refit", "predict",
                                         "best_mean_fit"}  # fmt: skip
        assert all(t > 0 for t in model["timings"].values())
    for name in ("softmax", "hinge"):
        model = results["models"][name]
        assert len(model["loss_curve"]) == model["n_iter"]
        assert isinstance(model["converged"], bool)
    assert sorted(p["file"] for p in results["plots"]) == sorted(PNG_FILES)


@pytest.mark.parametrize("name", PNG_FILES)
def test_every_picture_is_a_real_png(digits_run, name):
    data = (digits_run["out"] / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 200 and height > 100
    assert len(data) > 5_000


def test_report_html_links_everything(digits_run):
    out = digits_run["out"]
    page = (out / "report.html").read_text()
    for name in PNG_FILES:
        assert f'<img src="{name}"' in page
    assert '<a href="results.json">' in page
    assert str(out) not in page.replace(digits_run["results"]["command"], "")
    for name in ("knn", "softmax", "hinge"):
        assert f"<tr><td>{name}</td>" in page


def test_npz_dataset_is_split_by_test_size(tmp_path):
    digits = load_digits()
    X = (digits.images[:200] * 15).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", X=X, y=digits.target[:200])
    out = tmp_path / "report"
    status, _, stderr = _run(
        ["run", "--dataset", str(tmp_path / "tiny.npz"), "--models", "knn",
         "--cv", "2", "--test-size", "0.25", "--augment", "none",
         "--grid", "knn.n_neighbors=1", "--grid", "knn.metric=l1",
         "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert status == 0, stderr
    assert stderr == ""
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["name"] == "tiny"
    assert (results["dataset"]["n_train"], results["dataset"]["n_test"]) == (150, 50)
    assert results["dataset"]["test_split"] == "stratified random 0.25"
    (point,) = results["models"]["knn"]["cv_results"]
    assert point["params"] == {"n_neighbors": 1, "metric": "l1", "augmenter": None}
    assert (out / "knn_cv.png").exists()
    assert not (out / "augment.png").exists()


def test_separate_test_npz_with_string_labels(tmp_path):
    digits = load_digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six",
                      "seven", "eight", "nine"])  # fmt: skip
    np.savez(tmp_path / "train.npz", X=digits.images[:300],
             y=names[digits.target[:300]])  # fmt: skip
    # The test file lacks the class "zero": its labels must still line up.
    test = np.flatnonzero(digits.target[300:400] != 0) + 300
    np.savez(tmp_path / "test.npz", X=digits.images[test], y=names[digits.target[test]])
    out = tmp_path / "report"
    status, _, stderr = _run(
        ["run", "--dataset", str(tmp_path / "train.npz"),
         "--test-dataset", str(tmp_path / "test.npz"), "--models", "knn",
         "--cv", "2", "--augment", "none", "--grid", "knn.n_neighbors=1",
         "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert status == 0, stderr
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"]["n_train"] == 300
    assert results["dataset"]["n_test"] == len(test)
    assert results["dataset"]["test_split"] == "given"
    assert results["settings"]["test_size"] is None
    assert results["models"]["knn"]["test_accuracy"] > 0.9


def _bad_npz(tmp_path, kind):
    path = tmp_path / f"{kind}.npz"
    if kind == "flat":
        np.savez(path, X=np.zeros((20, 64)), y=np.arange(20) % 2)
    elif kind == "no_y":
        np.savez(path, X=np.zeros((20, 8, 8)))
    elif kind == "tiny":
        rng = np.random.default_rng(0)
        np.savez(path, X=rng.random((15, 8, 8)), y=np.arange(15) % 2)
    elif kind in ("digits_0_9", "digits_names"):
        digits = load_digits()
        names = np.array(["zero", "one", "two", "three", "four", "five", "six",
                          "seven", "eight", "nine"])  # fmt: skip
        y = digits.target[:200]
        np.savez(path, X=digits.images[:200], y=names[y] if "names" in kind else y)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        path.write_text("not an archive")
    return str(path)


BAD_ARGUMENTS = [
    ([], "the following arguments are required"),
    (["run", "--dataset", "imagenet"], "unknown --dataset 'imagenet'"),
    (["run", "--dataset", "missing.npz"], "--dataset missing.npz: no such file"),
    (["run", "--test-dataset", "nope.npz"], "--test-dataset nope.npz: no such file"),
    (["run", "--dataset", "flat"], "X holds flat rows"),
    (["run", "--dataset", "no_y"], "lacks the array(s) y"),
    (["run", "--dataset", "text"], "is not a readable .npz file"),
    (["run", "--cv", "1"], "--cv: must be at least 2, got 1"),
    (["run", "--cv", "500"], "fewer than the 500 folds of --cv"),
    (["run", "--test-size", "-0.2"], "strictly between 0 and 1, got -0.2"),
    (["run", "--test-size", "1.5"], "strictly between 0 and 1, got 1.5"),
    (["run", "--max-train", "5"], "cannot split the data"),
    (["run", "--n-jobs", "0"], "must not be 0"),
    (["run", "--models", "knn,svm"], "unknown model(s) svm"),
    (["run", "--augment", "sideways"], "invalid choice: 'sideways'"),
    (["run", "--grid", "knn.n_neighbors"], "expected MODEL.PARAM=VALUE"),
    (["run", "--grid", "knn.n_neighbors=1,,3"], "expected MODEL.PARAM=VALUE"),
    (["run", "--grid", "svm.C=1"], "unknown model 'svm'"),
    (["run", "--grid", "knn.alpha=1"], "NearestNeighbor has no parameter 'alpha'"),
    (["run", "--grid", "knn.n_neighbors=0"], "'n_neighbors' parameter"),
    (["run", "--grid", "softmax.alpha=-1"], "'alpha' parameter of SoftmaxLinear"),
    (["run", "--models", "knn", "--grid", "softmax.alpha=1"], "not in --models"),
    (["run", "--dataset", "mnist", "--data-home", "EMPTY"], "with --download"),
    (["run", "--out", "text", "--models", "knn"], "cannot create the folder"),
    (["run", "--dataset", "empty"], "empty.npz' is empty, not a readable .npz"),
    (["run", "--seed", "-1"], "argument --seed: must be at least 0, got -1"),
    (["run", "--seed", str(2**32)], "argument --seed: must be at most 2**32 - 1"),
    (["run", "--dataset", "digits_0_9", "--test-dataset", "digits_names"],
     "--test-dataset holds 10 label(s) never seen in training: eight, five"),
    (["run", "--models", "knn", "--grid", "knn.n_neighbors=1,5000"],
     "--grid knn.n_neighbors=5000: more than the 1149 images of the smallest "
     "training fold of --cv 5; use at most 1149"),
    (["run", "--dataset", "tiny", "--models", "knn", "--cv", "2"],
     "the default grid's knn.n_neighbors=7: more than the 6 images of the "
     "smallest training fold of --cv 2; set --grid knn.n_neighbors to values "
     "up to 6"),
    (["run", "--grid", "knn.online=true"], "NearestNeighbor has no parameter 'online'"),
    (["run", "--grid", "knn.n_neighbors=1", "--grid", "knn.n_neighbors=3"],
     "--grid knn.n_neighbors is given twice"),
    (["run", "--grid", "knn.augmenter__max_shift=1,2"],
     "can be searched only with an augmentation preset"),
    (["run", "--augment", "shift", "--grid", "knn.augmenter__max_sheft=1"],
     "ImageAugmenter has no parameter 'max_sheft'"),
    (["run", "--augment", "shift", "--grid", "knn.augmenter__max_shift=-1"],
     "'max_shift' parameter of ImageAugmenter"),
    (["run", "--models", "softmax", "--augment", "none", "--cv", "2", "--no-progress",
      "--grid", "softmax.learning_rate_init=1e6", "--grid", "softmax.alpha=1e-4"],
     "a fit of the softmax search failed: SGD diverged in epoch 2"),
    (["run", "--features", "pixels,sift"], "unknown feature(s) sift"),
    (["run", "--features", "hog+hue"], "--features hog+hue needs colour (RGB) images"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "message"), BAD_ARGUMENTS, ids=repr)
def test_bad_arguments_exit_2_with_one_clear_line(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = ("flat", "no_y", "text", "empty", "tiny", "digits_0_9", "digits_names")
    argv = [_bad_npz(tmp_path, a) if a in files else a for a in argv]
    argv = [str(tmp_path) if a == "EMPTY" else a for a in argv]
    status, _, stderr = _run(argv)
    assert status == 2
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(("skcv: error: ", "skcv run: error: "))
    assert message in last
    if "usage:" not in stderr:  # past argparse: the message is all there is
        assert len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "skcv-report").exists()


def test_version_in_a_subprocess():
    completed = subprocess.run(
        [sys.executable, "-m", "skcv", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0
    assert completed.stdout.strip() == f"skcv {skcv.__version__}"


def test_version_and_help_in_process():
    status, stdout, _ = _run(["--version"])
    assert (status, stdout.strip()) == (0, f"skcv {skcv.__version__}")
    status, stdout, _ = _run(["run", "--help"])
    assert status == 0
    assert "--grid MODEL.PARAM=V1,V2" in stdout


class _Counter:
    def __init__(self):
        self.n = 0

    def update(self, n):
        self.n += n


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_count_fits_counts_the_search_fits_only(n_jobs):
    X, y = load_digits(return_X_y=True)
    # The forest runs a Parallel of its own inside every fit: not counted.
    search = GridSearchCV(
        RandomForestClassifier(n_estimators=3, random_state=0),
        {"max_depth": [2, 4, 6]},
        cv=2,
        n_jobs=n_jobs,
    )
    counter = _Counter()
    call, progress = joblib.Parallel.__call__, joblib.Parallel.print_progress
    with _count_fits(counter) as arm:
        arm()
        search.fit(X[:300], y[:300])  # the refit fits a forest too
        arm()
        GridSearchCV(KNeighborsClassifier(), {"n_neighbors": [1, 3]}, cv=2).fit(
            X[:100], y[:100]
        )
        RandomForestClassifier(n_estimators=3).fit(X[:100], y[:100])  # not armed
    assert counter.n == 3 * 2 + 2 * 2
    assert joblib.Parallel.__call__ is call
    assert joblib.Parallel.print_progress is progress


def test_parse_value():
    assert [parse_value(v) for v in ["3", "1e-4", "0.5", "l2", "None", "true"]] == [
        3,
        1e-4,
        0.5,
        "l2",
        None,
        True,
    ]
    assert isinstance(parse_value("3"), int)


def test_parse_grid_overrides_merges_repeated_models():
    overrides = parse_grid_overrides(
        ["knn.n_neighbors=1,3", "knn.metric=l1", "softmax.alpha=1e-3"],
        ["knn", "softmax"],
    )
    assert overrides == {
        "knn": {"n_neighbors": [1, 3], "metric": ["l1"]},
        "softmax": {"alpha": [1e-3]},
    }


@pytest.mark.parametrize(
    ("dataset", "shape", "flip", "shift"),
    [
        ("digits", (8, 8), False, 1),
        ("mnist", (28, 28), False, 2),
        ("fashion_mnist", (28, 28), False, 2),
        ("cifar10", (32, 32, 3), True, 2),
        ("some_file", (64, 64, 3), False, 5),
    ],
)
def test_auto_augmentation_per_dataset(dataset, shape, flip, shift):
    params = augment_params("auto", dataset, shape)
    assert params.get("flip", False) is flip
    assert params["max_shift"] == shift
    assert augment_params("none", dataset, shape) is None


def test_scheduler_local_runs_the_search_on_dask_with_equal_scores(tmp_path):
    pytest.importorskip("distributed")
    digits = load_digits()
    X = (digits.images[:300] * 15).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", X=X, y=digits.target[:300])
    common = ["run", "--dataset", str(tmp_path / "tiny.npz"),
              "--models", "knn,softmax", "--cv", "2", "--augment", "none",
              "--grid", "knn.n_neighbors=1,3", "--grid", "softmax.alpha=1e-4",
              "--grid", "softmax.learning_rate_scale=1"]  # fmt: skip
    scores = {}
    for name, extra in [("serial", []), ("dask", ["--scheduler", "local"])]:
        status, _, stderr = _run([*common, *extra, "--out", str(tmp_path / name)])
        assert status == 0, stderr
        results = json.loads((tmp_path / name / "results.json").read_text())
        scores[name] = {
            model: [p["fold_scores"] for p in r["cv_results"]]
            for model, r in results["models"].items()
        }
    assert results["settings"]["scheduler"] == "local"
    # The progress bar, fed from the parent process, still counted every fit.
    assert re.findall(r"(\d+)%\|", stderr)[-1] == "100"
    assert scores["dask"] == scores["serial"]


RESUME_ARGS = ["run", "--models", "knn,softmax", "--cv", "2", "--augment", "none",
               "--grid", "knn.n_neighbors=1,3", "--grid", "softmax.alpha=1e-4",
               "--grid", "softmax.learning_rate_scale=1", "--no-progress"]  # fmt: skip


@pytest.fixture
def tiny_npz(tmp_path):
    digits = load_digits()
    X = (digits.images[:300] * 15).astype(np.uint8)
    np.savez(tmp_path / "tiny.npz", X=X, y=digits.target[:300])
    return str(tmp_path / "tiny.npz")


def _spy_fits(monkeypatch, interrupt=None):
    """Record the model of every search fitted; raise Ctrl-C for ``interrupt``."""
    import skcv.cli

    fitted = []
    fit_model = skcv.cli._fit_model

    def spy(search, *args):
        name = "knn" if "nearestneighbor" in str(search.param_grid) else "softmax"
        fitted.append(name)
        if name == interrupt:
            raise KeyboardInterrupt
        return fit_model(search, *args)

    monkeypatch.setattr(skcv.cli, "_fit_model", spy)
    return fitted


def _interrupted_run(tiny_npz, out, monkeypatch):
    fitted = _spy_fits(monkeypatch, interrupt="softmax")
    status, stdout, stderr = _run([*RESUME_ARGS, "--dataset", tiny_npz, "--out", out])
    monkeypatch.undo()
    return status, stdout, stderr, fitted


def test_interrupted_run_writes_the_finished_models_marked_incomplete(
    tiny_npz, tmp_path, monkeypatch
):
    out = tmp_path / "report"
    status, stdout, stderr, fitted = _interrupted_run(tiny_npz, str(out), monkeypatch)
    assert status == 130
    assert fitted == ["knn", "softmax"]
    (line,) = stderr.strip().splitlines()
    assert line.startswith("skcv run: interrupted during softmax; results of knn")
    assert "--resume" in line
    results = json.loads((out / "results.json").read_text())
    assert results["complete"] is False
    assert results["missing_models"] == ["softmax"]
    assert list(results["models"]) == ["knn"]
    assert len(results["models"]["knn"]["cv_results"]) == 4  # 2 k x 2 metrics
    page = (out / "report.html").read_text()
    assert "(incomplete)</h1>" in page
    assert "interrupted before softmax finished" in page
    assert "model " not in stdout  # no table for an interrupted run


def test_resume_reuses_finished_models_without_fitting_them(
    tiny_npz, tmp_path, monkeypatch
):
    out = str(tmp_path / "report")
    _interrupted_run(tiny_npz, out, monkeypatch)
    before = json.loads((tmp_path / "report" / "results.json").read_text())
    fitted = _spy_fits(monkeypatch)
    status, _, stderr = _run([*RESUME_ARGS, "--dataset", tiny_npz, "--out", out,
                              "--resume"])  # fmt: skip
    assert status == 0, stderr
    assert fitted == ["softmax"]
    assert stderr.strip() == f"knn: reusing the finished search in {out}"
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert results["complete"] is True
    assert list(results["models"]) == ["knn", "softmax"]
    assert (
        results["models"]["knn"]["cv_results"] == before["models"]["knn"]["cv_results"]
    )
    assert results["models"]["knn"]["timings"] == before["models"]["knn"]["timings"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--cv", "3"], "knn: the stored results in {} are for other settings"),
        (["--grid", "knn.metric=l1"], "knn: the stored results in {} are for another"),
        (["--max-train", "200"], "knn: the stored results in {} are for another data"),
        ("damage", "knn: the stored file {}/knn.joblib is missing or incomplete"),
        ("version", "knn: the stored results in {} are for another skcv or"),
    ],
    ids=["settings", "grid", "data", "damaged", "version"],
)  # fmt: skip
def test_resume_recomputes_what_does_not_match_saying_why(
    tiny_npz, tmp_path, monkeypatch, change, message
):
    out = str(tmp_path / "report")
    _interrupted_run(tiny_npz, out, monkeypatch)
    models = tmp_path / "report" / "models"
    if change == "damage":
        data = (models / "knn.joblib").read_bytes()
        (models / "knn.joblib").write_bytes(data[: len(data) // 2])
        change = []
    fitted = _spy_fits(monkeypatch)
    if change == "version":
        monkeypatch.setattr("skcv._state.__version__", "0.0.0-other")
        change = []
    status, _, stderr = _run([*RESUME_ARGS, "--dataset", tiny_npz, "--out", out,
                              "--resume", *change])  # fmt: skip
    assert status == 0, stderr
    assert fitted == ["knn", "softmax"]
    (line,) = stderr.strip().splitlines()
    assert line.startswith(message.format(models)), line
    assert line.endswith("; recomputing")


def test_without_resume_nothing_is_reused(tiny_npz, tmp_path, monkeypatch):
    out = str(tmp_path / "report")
    _interrupted_run(tiny_npz, out, monkeypatch)
    fitted = _spy_fits(monkeypatch)
    status, _, stderr = _run([*RESUME_ARGS, "--dataset", tiny_npz, "--out", out])
    assert (status, stderr) == (0, "")
    assert fitted == ["knn", "softmax"]


def test_halving_search_reports_each_level(tiny_npz, tmp_path):
    out = tmp_path / "report"
    status, stdout, stderr = _run(
        ["run", "--dataset", tiny_npz, "--search", "halving", "--cv", "2",
         "--out", str(out), *TINY_GRID]
    )  # fmt: skip
    assert status == 0, stderr
    assert "(halving search)" in stdout
    assert "softmax: halving 1/2 on" in stderr
    assert "Warning" not in stderr
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["search_strategy"] == "halving"
    softmax = results["models"]["softmax"]
    assert softmax["search"] == "StagedHalvingGridSearchCV"
    levels = [(p["iter"], p["n_resources"]) for p in softmax["cv_results"]]
    assert levels == sorted(levels)
    assert levels[0][1] < levels[-1][1]
    # Augmentation was tried for the best point of the last level only.
    on = [p for p in softmax["cv_results"] if p["params"]["augmenter"] is not None]
    assert [(p["iter"], p["n_resources"]) for p in on] == [levels[-1]]
    knn = results["models"]["knn"]
    assert knn["search"] == "NeighborsSearchCV"
    assert sorted(p["file"] for p in results["plots"]) == sorted(PNG_FILES)


def test_run_net_draws_first_layer_weights_and_learning_curves(tmp_path):
    status, _, stderr = _run(
        ["run", "--out", str(tmp_path), "--models", "net", "--cv", "2",
         "--augment", "none", "--max-train", "600",
         "--grid", "net.hidden_layer_sizes=8,16", "--grid", "net.alpha=1e-4"]
    )  # fmt: skip
    assert status == 0, stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["models"]["net"]["test_accuracy"] > 0.8
    for kind in ("cv", "loss", "templates", "confusion"):
        assert (tmp_path / f"net_{kind}.png").is_file()
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "first layer" in html and "validation split" in html


_SLOW_SOFTMAX = [
    "run", "--models", "softmax", "--augment", "none", "--cv", "2",
    "--grid", "softmax.max_iter=100000", "--grid", "softmax.n_iter_no_change=100000",
    "--grid", "softmax.learning_rate_init=0.01", "--grid", "softmax.alpha=1e-4",
    "--no-progress",
]  # fmt: skip


def test_ctrl_c_stops_a_linear_search_with_status_130(tmp_path):
    # A real SIGINT while the first fit trains: no fit of a search may turn it
    # into a finished one, so the run stops, with one line and no traceback.
    import signal

    out = tmp_path / "report"
    # The run starts as from a terminal, whatever this test process inherited:
    # under pytest-xdist, SIGINT can arrive here blocked or ignored, and a
    # child inherits both (Python then never sees the interrupt).
    start = (
        "import runpy, signal, sys; "
        "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT]); "
        "signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = ['skcv', *sys.argv[1:]]; "
        "runpy.run_module('skcv', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", start, *_SLOW_SOFTMAX, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.readline()  # the header line comes right before the searches
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["skcv run: interrupted"]
    assert not out.exists()  # nothing scored, no empty folder


@pytest.mark.parametrize("model", ["knn", "softmax"])
def test_ctrl_c_in_any_fit_exits_130_and_writes_no_score(model, tmp_path, monkeypatch):
    calls = []
    make = skcv.NearestNeighbor if model == "knn" else skcv.SoftmaxLinear
    fit = make.fit

    def interrupted_fit(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(make, "fit", interrupted_fit)
    grid = {"knn": "knn.n_neighbors=1,3", "softmax": "softmax.alpha=1e-4,1e-3"}[model]
    out = tmp_path / "report"
    out.mkdir()
    (out / "notes.txt").write_text("kept")
    status, _, stderr = _run(
        ["run", "--models", model, "--cv", "2", "--augment", "none",
         "--out", str(out), "--no-progress", "--grid", grid]
    )  # fmt: skip
    assert status == 130
    assert stderr.strip().splitlines() == ["skcv run: interrupted"]
    # an existing folder and its files stay; no results of the run appear
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_augmenter_settings_are_searchable(tmp_path):
    out = tmp_path / "report"
    status, _, stderr = _run(
        ["run", "--models", "knn", "--augment", "shift", "--cv", "2", "--max-train",
         "200", "--grid", "knn.n_neighbors=1", "--grid", "knn.augmenter__max_shift=0,1",
         "--out", str(out), "--no-progress"]
    )  # fmt: skip
    assert status == 0, stderr
    results = json.loads((out / "results.json").read_text())
    knn = results["models"]["knn"]
    assert knn["param_grid"]["augmenter__max_shift"] == [0, 1]
    searched = {p["params"]["augmenter__max_shift"] for p in knn["cv_results"]}
    assert searched == {0, 1}


def test_pictures_of_an_earlier_report_are_removed(tmp_path):
    out = tmp_path / "report"
    argv = ["run", "--models", "knn", "--cv", "2", "--max-train", "200",
            "--grid", "knn.n_neighbors=1", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert _run([*argv, "--augment", "auto"])[0] == 0
    assert (out / "augment.png").exists()
    (out / "notes.txt").write_text("not ours")
    assert _run([*argv, "--augment", "none"])[0] == 0
    listed = {
        p["file"] for p in json.loads((out / "results.json").read_text())["plots"]
    }
    assert "augment.png" not in listed
    pngs = {p.name for p in out.glob("*.png")}
    assert pngs == listed  # only the new report's pictures
    assert (out / "notes.txt").read_text() == "not ours"


def test_features_are_a_grid_dimension_and_the_report_says_which(tmp_path):
    rng = np.random.RandomState(0)
    # Colour images of a bright bar, vertical for class 0, horizontal for 1.
    X = rng.randint(0, 60, size=(120, 16, 16, 3)).astype(np.uint8)
    y = np.arange(120) % 2
    for k in range(120):
        at = rng.randint(2, 12)
        if y[k]:
            X[k, at : at + 3, 2:14] = 220
        else:
            X[k, 2:14, at : at + 3] = 220
    np.savez(tmp_path / "bars.npz", X=X, y=y)
    argv = ["run", "--dataset", str(tmp_path / "bars.npz"), "--models", "softmax,knn",
            "--features", "pixels,hog+hue", "--cv", "2", "--augment", "none",
            "--grid", "softmax.alpha=1e-4", "--grid", "softmax.learning_rate_init=0.1",
            "--grid", "knn.n_neighbors=1", "--no-progress",
            "--out", str(tmp_path / "out")]  # fmt: skip
    status, stdout, stderr = _run(argv)
    assert status == 0, stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["settings"]["features"] == ["pixels", "hog+hue"]
    for name, model in results["models"].items():
        assert model["param_grid"]["features"] == ["pixels", "hog+hue"]
        assert model["features"] == model["best_params"]["features"]
        assert f"{name}" in stdout
    assert "features=" in stdout
    # The HOG picture is drawn; templates only for a linear model on pixels.
    assert (tmp_path / "out" / "hog.png").exists()
    softmax = results["models"]["softmax"]
    templates = (tmp_path / "out" / "softmax_templates.png").exists()
    assert templates == (softmax["features"] == "pixels")
    assert "hog.png" in (tmp_path / "out" / "report.html").read_text()
