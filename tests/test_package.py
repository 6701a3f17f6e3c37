"""Package-level conventions: fast lazy import, scanpy-shaped public functions, CI matches README."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import gex_impute as gi

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "xgboost", "pysam", "sklearn", "matplotlib", "scanpy")


def test_import_is_lazy():
    code = f"import sys, gex_impute; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by `import gex_impute`: {out.stdout}"


def test_version_from_metadata():
    from importlib.metadata import version

    assert gi.__version__ == version("gex_impute")


@pytest.mark.parametrize(
    "func",
    [gi.impute, gi.pp.annotate_genes, gi.pp.add_promoters, gi.pp.add_genomic_context],
    ids=lambda f: f.__name__,
)
def test_scanpy_shape(func):
    params = list(inspect.signature(func).parameters.values())
    assert params[0].name == "adata"
    copy = inspect.signature(func).parameters["copy"]
    assert copy.kind is inspect.Parameter.KEYWORD_ONLY and copy.default is False
    positional = [p for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert len(positional) <= 4
    assert "Examples" in (func.__doc__ or ""), "public functions carry a numpydoc Examples section"


def test_public_api_listed():
    for name in gi.__all__:
        assert getattr(gi, name) is not None
    assert gi.HybridImputer.name == "hybrid"
    assert {"distance", "knn", "mean", "hybrid"} <= set(gi.available_methods())


def _readme_test_command() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- test-command -->\s*```(?:bash|sh)?\n(.+?)\n```", text, re.S)
    assert m, "README.md must hold the test command in a ```bash block after <!-- test-command -->"
    return m.group(1).strip()


def test_every_error_class_lives_in_gex_impute_errors():
    """``except gi.errors.X`` must catch what the package raises: no second copy elsewhere."""
    import pkgutil

    for module in pkgutil.walk_packages(gi.__path__, "gex_impute."):
        __import__(module.name)
    found, todo = [], [gi.errors.GexImputeError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    assert {cls.__module__ for cls in found} == {"gex_impute.errors"}, [
        f"{cls.__module__}.{cls.__qualname__}" for cls in found
    ]
    assert set(gi.errors.__all__) == {cls.__name__ for cls in found}


def test_ci_runs_the_readme_test_command():
    command = _readme_test_command()
    ci = (ROOT / ".ci" / "run").read_text()
    assert command in ci.splitlines(), f".ci/run must run the README test command verbatim: {command}"
