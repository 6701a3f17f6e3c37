"""The evaluate wrapper's help and metadata agree with what ``gex_impute.tl.evaluate`` does.

galaxy/builders/evaluate.py types two facts the package has no flag for: which methods estimate
a gene unseen in every sample (protocol genes, P1), and the columns of the metrics table (the
output's ``column_names`` metadata). Both are checked here against real runs on sim.h5ad.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GALAXY = ROOT / "galaxy"


@pytest.fixture(scope="module")
def builder():
    sys.path.insert(0, str(GALAXY))
    try:
        from builders import evaluate
    finally:
        sys.path.pop(0)
    return evaluate


@pytest.fixture(scope="module")
def p1_table():
    import anndata as ad

    from gex_impute.tl import evaluate

    adata = ad.read_h5ad(ROOT / "test-data" / "sim.h5ad")
    methods = {
        "hybrid": {"max_epochs": 1, "n_estimators": 10, "progress": False},
        **{name: {} for name in ("additive", "distance", "knn", "knn_samples", "mean")},
        **{name: {} for name in ("nearest_gene", "pca_regression", "softimpute")},
    }
    from gex_impute.methods import get_method

    chosen = {name: get_method(name, **params) for name, params in methods.items()}
    return evaluate(adata, protocol="genes", methods=chosen, progress=False).reset_index()


def test_whole_gene_methods_are_those_that_predict_unseen_genes(builder, p1_table):
    from gex_impute.methods import registry

    assert set(p1_table["method"]) == set(registry()), "a method is missing from the check"
    predicts = set(p1_table.loc[p1_table["n_fallback"] < p1_table["n_heldout"], "method"])
    assert predicts == set(builder.WHOLE_GENE_METHODS)
    falls_back = p1_table.loc[~p1_table["method"].isin(predicts)]
    assert (falls_back["n_fallback"] == falls_back["n_heldout"]).all()


def test_column_names_are_the_tables_columns(builder, p1_table):
    import anndata as ad

    from gex_impute.tl import evaluate

    assert list(p1_table.columns) == builder.column_names(interval=False)
    adata = ad.read_h5ad(ROOT / "test-data" / "sim.h5ad")
    wide = evaluate(adata, protocol="entries", methods=["mean"], interval=0.9, progress=False)
    assert list(wide.reset_index().columns) == builder.column_names(interval=True)


@pytest.mark.parametrize(("interval", "wide"), [("", False), ("0.9", True)])
def test_column_names_action_renders(builder, interval, wide):
    """The output's <action type="metadata">: Cheetah-filled as Galaxy does, split on commas."""
    template = pytest.importorskip("Cheetah.Template")
    from galaxy.util.xml_macros import load

    root = load(str(GALAXY / "gex_impute_evaluate.xml")).getroot()
    action = root.find("outputs/data[@name='table']/actions/action")
    assert action.get("type") == "metadata" and action.get("name") == "column_names"

    class _Advanced:
        def __init__(self, value: str) -> None:
            self.interval = value

    text = str(template.Template(action.get("default"), searchList=[{"advanced": _Advanced(interval)}]))
    assert text.split(",") == builder.column_names(interval=wide)


def test_help_names_the_default_selection_and_p1_methods(builder):
    from gex_impute.cli._arguments import DEFAULT_METHODS

    help_text = (GALAXY / "gex_impute_evaluate.xml").read_text()
    assert ", ".join(f"``{m}``" for m in DEFAULT_METHODS) in help_text
    assert "only ``distance``, ``hybrid``, ``nearest_gene`` estimate a gene" in help_text
    assert "largest number of profiles of one donor (about 50 in GTEx)" in help_text
