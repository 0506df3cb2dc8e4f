"""Sphinx configuration for the skcv documentation.

Build with ``make docs`` (warnings are errors). Cross-references to the
documentation of scikit-learn, NumPy, SciPy, Matplotlib and Python
(intersphinx) need their inventories from the internet, so they are only
enabled when ``SKCV_DOCS_INTERSPHINX=1`` is set::

    SKCV_DOCS_INTERSPHINX=1 make docs

Without it the build is fully offline: names from those projects render as
plain code, and the references that scikit-learn's own docstrings carry into
our API pages (inherited methods such as ``score`` or ``set_fit_request``
point to scikit-learn's glossary and user guide) are shown as text instead of
failing the build.
"""

import os
import re
import sys
import warnings
from pathlib import Path

from docutils.utils import get_source_line
from sphinx.util import logging

import skcv

# Local Sphinx helpers (the gallery order).
sys.path.insert(0, str(Path(__file__).resolve().parent / "sphinxext"))

logger = logging.getLogger(__name__)

# -- Project -----------------------------------------------------------------

project = "skcv"
author = "The skcv developers"
copyright = "The skcv developers"
release = skcv.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

INTERSPHINX = os.environ.get("SKCV_DOCS_INTERSPHINX", "0") == "1"
if INTERSPHINX:
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "imblearn": ("https://imbalanced-learn.org/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
    }
    intersphinx_timeout = 10

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# -- API reference: autodoc, autosummary, numpydoc -----------------------------

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# numpydoc renders the Parameters/Attributes sections; autosummary lists the
# methods, so numpydoc must not list them a second time.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skcv {release}"
html_static_path = ["_static"]
html_css_files = ["skcv.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}

# -- Example gallery -----------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": "/plot_",
    "within_subsection_order": "gallery_order.TeachingOrder",
    "doc_module": ("skcv",),
    "reference_url": {"skcv": None},
    "backreferences_dir": "generated/backreferences",
    "inspect_global_variables": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "min_reported_time": 1,
    "show_memory": False,
}

# Matplotlib must not try to open windows while the gallery runs.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings(
    "ignore",
    message="Matplotlib is currently using agg",
    category=UserWarning,
)


# -- The command line's help, generated so that the page never goes stale --------


def _write_cli_help():
    """Write ``skcv run --help`` to generated/cli_run_help.txt."""
    import contextlib
    import io

    from skcv.cli import main

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "70"  # argparse wraps to this width
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            main(["run", "--help"])
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    out = Path(__file__).resolve().parent / "generated" / "cli_run_help.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(buffer.getvalue(), encoding="utf-8")


_write_cli_help()


# -- Offline handling of scikit-learn's cross-references -----------------------


def _resolve_reexported(app, env, node, contnode):
    """Resolve ``skcv.<module>.<Name>`` to the documented ``skcv.<Name>``.

    The estimators are documented under the names users import
    (``skcv.ImageAugmenter``), while docstrings sometimes name their defining
    module (``skcv.augment.ImageAugmenter``). Unresolvable references to skcv
    objects are reported, so that a broken link fails the build.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"]
    if not target.startswith("skcv."):
        return None
    domain = env.get_domain("py")
    parts = target.split(".")
    for cut in range(len(parts) - 2, 0, -1):
        alias = ".".join(["skcv", *parts[cut:]])
        if alias != target and alias in domain.objects:
            return domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], alias, node, contnode
            )
    logger.warning(
        "unresolved reference to %s (not in the API reference)",
        target,
        location=node,
        type="skcv",
        subtype="ref",
    )
    return None


def _sklearn_reference_as_text(app, env, node, contnode):
    """Show unresolvable references of scikit-learn's inherited docstrings as text.

    ``score``, ``set_params`` and the metadata-routing methods are inherited
    from scikit-learn, whose docstrings refer to its glossary (``:term:``) and
    user guide (``:ref:``). Offline those targets cannot be resolved, so the
    reference is replaced by its text. References in skcv's own text are left
    alone and still fail the build when broken.
    """
    if INTERSPHINX:
        return None
    # autodoc names the source of an inherited docstring
    # "<our module file>:docstring of sklearn.<where it is defined>".
    source, _ = get_source_line(node)
    if source and ":docstring of sklearn." in source:
        return contnode
    return None


_SHAPE = re.compile(r"shape \(([^()]*)\)")


def _escape_shape(match):
    inner = re.sub(r"(\w+?)_(?=\W|$)", r"\1\\_", match.group(1))
    return "shape (" + inner.replace("*", "\\*") + ")"


def _escape_shapes(app, what, name, obj, options, lines):
    """Keep shapes such as ``(n_features_in_,)`` and ``(n, *image_shape)`` literal.

    In reStructuredText ``name_`` is a link and ``*name`` starts emphasis, so
    the plain-text shapes of numpydoc type lines would break the build.
    """
    lines[:] = [_SHAPE.sub(_escape_shape, line) for line in lines]


def setup(app):
    # Before numpydoc (priority 500) parses the docstring.
    app.connect("autodoc-process-docstring", _escape_shapes, priority=400)
    app.connect("missing-reference", _resolve_reexported)
    app.connect("missing-reference", _sklearn_reference_as_text)
