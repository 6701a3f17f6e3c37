"""Sphinx configuration of the gex_impute documentation (scverse template style)."""

from __future__ import annotations

from datetime import date
from importlib.metadata import version as _version

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
autodoc_default_options = {"members": True, "inherited-members": True, "show-inheritance": False}
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
