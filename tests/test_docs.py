"""Consistency of the documentation with the package.

The Sphinx build itself (``make docs``) checks references and runs the
gallery; these tests catch, without building, a public name missing from the
API reference or an example missing from the gallery order.
"""

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

PUBLIC_MODULES = [
    "skcv",
    "skcv.datasets",
    "skcv.gradcheck",
    "skcv.layers",
    "skcv.losses",
    "skcv.parallel",
    "skcv.plotting",
]


def _api_entries():
    """``{module: set of names}`` listed in autosummary tables of api.rst."""
    entries = {}
    module = None
    in_table = False
    for line in (DOCS / "api.rst").read_text(encoding="utf-8").splitlines():
        current = re.match(r"\.\. currentmodule:: (\S+)", line)
        if current:
            module = current.group(1)
            continue
        if line.startswith(".. autosummary::"):
            in_table = True
            continue
        if in_table:
            name = line.strip()
            if not name or name.startswith(":"):
                continue
            if not line.startswith("   "):
                in_table = False
                continue
            entries.setdefault(module, set()).add(name)
    return entries


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_names_in_api_reference(module_name):
    module = importlib.import_module(module_name)
    public = {name for name in module.__all__ if not name.startswith("_")}
    listed = _api_entries().get(module_name, set())
    assert public - listed == set(), (
        f"public names of {module_name} missing from docs/api.rst"
    )
    assert listed - public == set(), (
        f"docs/api.rst lists names that {module_name}.__all__ does not export"
    )


def test_api_reference_covers_public_modules():
    assert set(_api_entries()) == set(PUBLIC_MODULES)


def test_every_example_in_gallery_order():
    import sys

    sys.path.insert(0, str(DOCS / "sphinxext"))
    try:
        from gallery_order import TEACHING_ORDER
    finally:
        sys.path.remove(str(DOCS / "sphinxext"))
    examples = sorted(p.name for p in EXAMPLES.glob("plot_*.py"))
    assert sorted(TEACHING_ORDER) == examples


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("plot_*.py")), ids=lambda p: p.name
)
def test_example_has_title_and_sections(path):
    text = path.read_text(encoding="utf-8")
    # sphinx-gallery reads the title from the module docstring, and cells
    # from "# %%" markers.
    assert re.match(r'"""\n=+\n.+\n=+\n', text), "docstring must start with a title"
    assert "# %%" in text


def _guide_text(page):
    """The text of a guide page with its line breaks and indentation folded."""
    return " ".join((DOCS / page).read_text(encoding="utf-8").split())


def _default_claims():
    from skcv import HingeLinear, NearestNeighbor, SoftmaxLinear

    sgd = SoftmaxLinear().get_params()
    return [
        ("optimization.rst", f"``max_iter`` (default {sgd['max_iter']})"),
        ("optimization.rst", f"``batch_size`` is {sgd['batch_size']} images"),
        ("optimization.rst", f"(default {sgd['momentum']:g}), each step is"),
        ("optimization.rst", f'(default "{sgd["learning_rate_init"]}", see above)'),
        ("optimization.rst", f"(by ``tol``, default {sgd['tol']:g})"),
        ("optimization.rst", f"``power_t`` (default {sgd['power_t']:g})"),
        (
            "optimization.rst",
            f"``n_iter_no_change`` (default {sgd['n_iter_no_change']})",
        ),
        (
            "optimization.rst",
            f"({sgd['validation_fraction']:.0%} by default)".replace("%", " %"),
        ),
        (
            "regularization.rst",
            f"``alpha``, default ``{sgd['alpha']:.0e}``".replace("e-0", "e-"),
        ),
        (
            "regularization.rst",
            f"``l1_ratio`` :math:`= \\rho` (default {sgd['l1_ratio']:g})",
        ),
        ("loss_functions.rst", f"(``delta``, default {HingeLinear().delta:g})"),
        (
            "nearest_neighbors.rst",
            f"({NearestNeighbor().block_memory_mib:g} by default)",
        ),
    ]


def test_defaults_quoted_in_the_guide_match_the_code():
    missing = [
        (page, claim)
        for page, claim in _default_claims()
        if claim not in _guide_text(page)
    ]
    assert missing == []


@pytest.mark.parametrize(
    "page",
    sorted(p.name for p in DOCS.glob("*.rst") if ">>>" in p.read_text("utf-8")),
)
def test_guide_doctests(page):
    import doctest

    result = doctest.testfile(
        str(DOCS / page),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
    )
    assert result.failed == 0
