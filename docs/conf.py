"""Sphinx configuration of the gex_impute documentation (scverse template style)."""

from __future__ import annotations

import os
from datetime import date
from importlib.metadata import version as _version

# the tutorial's kernel draws figures inline only when MPLBACKEND is unset (ipykernel sets it
# then): a caller's MPLBACKEND=Agg, as scripts/check.sh exports for the tests, would hide them
os.environ.pop("MPLBACKEND", None)

project = "gex_impute"
author = "gex_impute developers"
copyright = f"{date.today():%Y}, {author}"  # noqa: A001
release = version = _version("gex_impute")

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_autodoc_typehints",
]

autosummary_generate = True
autodoc_member_order = "groupwise"
# inherited members too: HybridImputer's fit / predict / save / load come from BaseImputer
# (not BaseException's: the error pages would list add_note / with_traceback)
autodoc_default_options = {"members": True, "inherited-members": "BaseException", "show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = True
# our Returns / Yields sections are sentences ("A DataFrame indexed by ..."), not numpydoc's
# "type" line + description: render them as text (the return type comes from the annotations)
napoleon_custom_sections = ["Returns", "Yields"]
napoleon_use_param = True
typehints_defaults = "braces"
always_document_param_types = False
# every cross-reference must resolve (warnings are errors), except to other projects' objects:
# there is no intersphinx, as CI builds offline
nitpicky = True
nitpick_ignore_regex = [
    (
        r"py:.*",
        r"(os|typing|collections|pathlib|numpy|pandas|anndata|matplotlib|pysam|torch|xgboost"
        r"|dask|distributed|scipy|sklearn|scanpy|types|contextlib|builtins|concurrent)(\..*)?",
    ),
    (r"py:.*", r"(AnnData|DataFrame|Series|Axes|Figure|Client|Path|Ellipsis|np\..*|pd\..*)"),
    # the package's internals: private modules, the hybrid's parts, and ExpressionData (the
    # prepared data that fit / predict also take)
    (r"py:.*", r"(gex_impute\.(\w+\.)*_\w+.*|gex_impute\.methods\.hybrid\.\w+\.\w+|ExpressionData)"),
]

myst_enable_extensions = ["colon_fence", "dollarmath"]
nb_execution_mode = "force"  # the tutorial runs on every build: it cannot drift from the code
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_merge_streams = True

# ".rst" first: autosummary names its stub pages after the first suffix, and its stubs are
# reStructuredText (as .md, myst would show their directives as plain text)
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
master_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

html_theme = "sphinx_book_theme"
html_title = "gex_impute"
html_static_path = ["_static"]
html_theme_options = {
    "repository_url": "https://github.com/gex-impute/gex_impute",
    "use_repository_button": True,
}

# no intersphinx: CI builds offline, and warnings are errors
suppress_warnings = ["config.cache"]


def _drop_lone_colon(app, what, name, obj, options, lines: list[str]) -> None:
    """Drop the lone ``:`` left under a Returns / Yields section before napoleon parses it.

    sphinx-autodoc-typehints adds it for the return type; our Returns sections are sentences
    (``napoleon_custom_sections``), where it would show as a stray colon.
    """
    for i in range(len(lines) - 2):
        if lines[i].strip() in ("Returns", "Yields") and set(lines[i + 1].strip()) == {"-"}:
            if lines[i + 2].strip() == ":":
                del lines[i + 2]
            break


def setup(app) -> None:
    """Connect the docstring hook ahead of napoleon and sphinx-autodoc-typehints (priority 500)."""
    app.connect("autodoc-process-docstring", _drop_lone_colon, priority=499)
