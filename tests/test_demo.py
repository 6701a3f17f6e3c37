"""gi.datasets.demo and the report package: a tiny run end to end, the folder, the table, the page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gex_impute.datasets.demo import demo
from gex_impute.errors import OutputPathError, ParameterError
from gex_impute.report import (
    DemoReport,
    ProtocolResult,
    protocol_results,
    staged_folder,
    text_table,
    wide_table,
)

#: a tiny cohort and a minimal hybrid, so that a whole run takes seconds
TINY = {"n_donors": 6, "n_tissues": 3, "n_genes": 120}
TINY_HYBRID = {
    "max_epochs": 1,
    "max_items_per_epoch": 128,
    "n_folds": 2,
    "n_estimators": 5,
    "d_model": 8,
    "n_heads": 2,
    "n_layers": 1,
    "cnn_channels": 4,
    "n_jobs": 1,
}
BASELINES = ["distance", "mean"]
FIGURES = [
    "metrics",
    "predicted_vs_observed",
    "tissue_r",
    "profiles",
    "tissue_matrixplot",
    "completed_vs_truth",
    "calibration",
]
TIMING = ["fit_seconds", "predict_seconds"]


def _run(folder: Path, **kwargs) -> DemoReport:
    return demo(
        folder, **TINY, methods=BASELINES, hybrid_params=TINY_HYBRID, random_state=0, progress=False, **kwargs
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, DemoReport]:
    folder = tmp_path_factory.mktemp("demo") / "report"
    return folder, _run(folder)


def test_folder_content(tiny):
    folder, report = tiny
    names = {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
    expected = {"completed.h5ad", "metrics.tsv", "index.html", "report.json", "figures"}
    assert expected <= names
    assert {f"figures/{f}.png" for f in FIGURES} <= names
    assert not [n for n in names if n.startswith(".")], "temporary files left behind"
    assert not list(folder.parent.glob(".report.*")), "staging folder left beside the report"
    assert report.output_dir == folder
    for rel in report.files.values():
        assert (folder / rel).is_file()


def test_interval_check_against_the_truth(tiny):
    folder, report = tiny
    check = report.interval_check
    assert check["level"] == 0.9
    assert 0.0 <= check["coverage"] <= 1.0
    assert check["mean_width"] > 0
    assert check["n"] == report.truth_check["hybrid"]["n"]  # the same completed values
    assert set(check["by_tissue"]) <= set(report.table.columns.tolist() + list(check["by_tissue"]))
    assert all(0.0 <= v <= 1.0 for v in check["by_tissue"].values())
    assert f"cover {check['coverage']:.1%}" in report.summary()
    assert "figures/calibration.png" in (folder / "index.html").read_text()


def test_table_rows_are_methods_x_protocols(tiny):
    folder, report = tiny
    table = pd.read_csv(folder / "metrics.tsv", sep="\t")
    pairs = set(zip(table["label"], table["method"], strict=True))
    assert pairs == {(p, m) for p in ("P1", "P2", "P3") for m in ("hybrid", *BASELINES)}
    assert len(table) == 9
    assert table["protocol"].tolist() == ["genes"] * 3 + ["entries"] * 3 + ["samples"] * 3
    assert np.isfinite(table[["pearson", "mse"]].to_numpy()).all()
    assert (table["n_heldout"] > 0).all()
    assert [r.label for r in report.results] == ["P1", "P2", "P3"]


def test_index_html_references_existing_images(tiny):
    folder, _ = tiny
    page = (folder / "index.html").read_text(encoding="utf-8")
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) >= len(FIGURES)
    links = re.findall(r'href="([^"#][^"]*)"', page)
    for ref in images + links:
        assert not re.match(r"[a-z]+:", ref), f"{ref} is not a relative link"
        assert (folder / ref).is_file(), f"index.html refers to missing {ref}"
    assert "<table>" in page and "hybrid" in page
    assert "<script" not in page and "<link" not in page  # self-contained: no external assets
    assert "gex-impute complete" in page


def test_completed_cohort(tiny):
    import anndata as ad

    folder, report = tiny
    completed = ad.read_h5ad(folder / "completed.h5ad")
    c = report.cohort
    assert completed.n_obs == c["n_profiles"] == c["n_donors"] * c["n_tissues"]
    assert int(completed.obs["imputed_profile"].sum()) == c["n_absent_profiles"] > 0
    assert not np.isnan(completed.X).any()
    assert c["n_hidden_genes"] == round(0.05 * TINY["n_genes"])


def test_summary(tiny):
    folder, report = tiny
    text = report.summary()
    assert str(folder / "index.html") in text
    assert "gex-impute complete" in text and "gex-impute evaluate" in text
    assert "--sample-attributes" in text and "--subject-phenotypes" in text
    assert "P1 r" in text and "P3 MSE" in text
    assert ("hybrid is the best method" in text) == report.hybrid_wins
    assert ("does NOT win" in text) == (not report.hybrid_wins)
    # rows that score only a method's fallback are named as such, in the summary and the page
    table = report.table
    only = table[(table["n_heldout"] > 0) & (table["n_fallback"] >= table["n_heldout"])]
    assert len(only)  # e.g. knn_samples on whole held-out profiles
    note = next(line for line in text.splitlines() if line.startswith("Filled by their fallback alone"))
    for label, method in zip(only["label"], only["method"], strict=True):
        assert label in note and method in note
    page = (folder / "index.html").read_text()
    assert "Filled by their fallback alone" in page
    # the page says what the file holds and what an interval's width means
    assert "completed_mask" in page and "completed_lower" in page and "X holds TPM" in page
    assert "before this folder was written" in page
    if report.interval_check:
        assert "upper minus lower on the log1p scale" in page


def test_deterministic_and_overwrite(tiny, tmp_path):
    folder, _ = tiny
    again = tmp_path / "again"
    again.mkdir()
    (again / "stale.txt").write_text("from an earlier run")
    (again / "report.json").write_text("{}")  # an earlier report: overwrite replaces it
    _run(again, overwrite=True)
    assert not (again / "stale.txt").exists()
    first = pd.read_csv(folder / "metrics.tsv", sep="\t").drop(columns=TIMING)
    second = pd.read_csv(again / "metrics.tsv", sep="\t").drop(columns=TIMING)
    pd.testing.assert_frame_equal(first, second)
    import anndata as ad

    np.testing.assert_array_equal(
        ad.read_h5ad(folder / "completed.h5ad").X, ad.read_h5ad(again / "completed.h5ad").X
    )


def test_output_checked_before_computing(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "x.txt").write_text("keep me")
    with pytest.raises(OutputPathError, match="not empty"):
        _run(full)
    with pytest.raises(OutputPathError, match="not an earlier demo report"):  # other files: never
        _run(full, overwrite=True)
    assert (full / "x.txt").read_text() == "keep me"
    a_file = tmp_path / "file"
    a_file.write_text("")
    with pytest.raises(OutputPathError, match="not a folder"):
        _run(a_file, overwrite=True)


def test_bad_parameters_fail_early(tmp_path):
    with pytest.raises(ParameterError, match="hybrid"):
        demo(tmp_path / "a", methods=["hybrid", "mean"], progress=False)
    with pytest.raises(ParameterError, match="no_such_param"):
        demo(tmp_path / "b", hybrid_params={"no_such_param": 1}, progress=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# -- report pieces --------------------------------------------------------------------------------
def _long(hybrid_mse: float) -> pd.DataFrame:
    rows = []
    for label, protocol in (("P1", "genes"), ("P2", "entries")):
        for method, r, mse in (("hybrid", 0.5, hybrid_mse), ("knn", 0.4, 0.3), ("mean", 0.1, 0.5)):
            rows.append({"label": label, "protocol": protocol, "method": method, "pearson": r, "mse": mse})
    return pd.DataFrame(rows)


HEADLINE = {"genes": ("P1", "pearson", True), "entries": ("P2", "mse", False)}


def test_protocol_results_judge_the_headline_metric():
    results = protocol_results(_long(0.35), HEADLINE)
    assert [(r.label, r.wins, r.best_other) for r in results] == [("P1", True, "knn"), ("P2", False, "knn")]
    assert "hybrid behind" in results[1].sentence()
    tie = ProtocolResult("entries", "P2", "mse", False, "hybrid", 0.3, "knn", 0.3)
    assert not tie.wins  # a tie is not a win


def test_verdict_says_plainly_when_the_hybrid_loses():
    long = _long(0.35)
    report = DemoReport(
        output_dir=Path("out"),
        table=long,
        results=protocol_results(long, HEADLINE),
        files={},
        cohort={},
        larger_cohorts="At 4x the donors the hybrid wins.",
    )
    assert not report.hybrid_wins
    verdict = report.verdict()
    assert verdict[0].startswith("At this size the hybrid does NOT win every protocol")
    assert "P2 (knn is better)" in verdict[0]
    assert verdict[1] == "At 4x the donors the hybrid wins."
    winning = DemoReport(Path("out"), _long(0.2), protocol_results(_long(0.2), HEADLINE), {}, {})
    assert winning.hybrid_wins and "best method" in winning.verdict()[0]


def test_text_table_marks_the_best_of_each_column():
    wide = wide_table(_long(0.35))
    assert list(wide.columns) == ["P1 r", "P1 MSE", "P2 r", "P2 MSE"]
    lines = text_table(wide).splitlines()
    assert lines[1].split()[1] == "0.500*"  # hybrid has the best P1 r
    assert lines[2].split()[2] == "0.300*"  # knn has the best P1 MSE


def test_staged_folder_is_atomic(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    with staged_folder(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_the_printed_real_data_commands_run_as_printed(tmp_path, monkeypatch):
    """The recipe for the GTEx downloads, run on test-data/gtex (the same file names, a small cohort)."""
    import shlex

    from gex_impute.cli import main
    from gex_impute.report import REAL_DATA_COMMANDS

    gtex = Path(__file__).resolve().parent.parent / "test-data" / "gtex"
    for path in gtex.iterdir():
        (tmp_path / path.name).symlink_to(path)
    monkeypatch.chdir(tmp_path)
    fast = {"complete": ["--method", "mean"], "evaluate": ["--methods", "mean,knn"]}  # the time only
    commands = REAL_DATA_COMMANDS.replace("\\\n", " ").splitlines()
    commands = [c for c in commands if c.startswith("gex-impute ")]
    assert [shlex.split(c)[1] for c in commands] == ["annotate", "complete", "evaluate"]
    for command in commands:
        argv = shlex.split(command)[1:]
        assert main([*argv, *fast.get(argv[0], []), "-q"]) == 0, command
    assert {"gtex.h5ad", "completed.h5ad", "profiles.png", "p3.tsv", "p3.png"} <= {
        p.name for p in tmp_path.iterdir()
    }
