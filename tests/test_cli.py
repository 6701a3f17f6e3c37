"""The ``gex-impute`` command line, driven through ``main([...])`` on tiny simulated data."""

from __future__ import annotations

import sys

import anndata
import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.cli import main, parse_params

TINY = ["--n-donors", "3", "--n-tissues", "3", "--n-genes", "120"]
COORDS = ["chrom", "start", "end", "strand", "tss", "gene_type", "promoter"]


@pytest.fixture
def sim_file(sim, tmp_path):
    path = tmp_path / "sim.h5ad"
    gi.io.write_h5ad(sim, path)
    return path


def _one_error_line(err: str) -> str:
    """The error is one line; anything else on stderr is a log line of its own."""
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("gex-impute: error: ")]
    assert len(errors) == 1, err
    assert all(
        line.startswith(("gex-impute: info: ", "gex-impute: warning: "))
        for line in lines
        if line not in errors
    )
    assert "Traceback" not in err
    return errors[0]


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ---- simulate ----------------------------------------------------------------------------------
def test_simulate_h5ad(tmp_path):
    out = tmp_path / "sub" / "sim.h5ad"
    assert main(["simulate", "-o", str(out), "-q", "--seed", "3", *TINY]) == 0
    adata = anndata.read_h5ad(out)
    assert adata.shape == (9, 120)
    assert adata.obs["tissue"].nunique() == 3 and adata.obs["donor"].nunique() == 3
    assert np.isnan(adata.X).any(), "the simulator should leave entries missing"
    assert not np.isnan(adata.layers["truth"]).any()
    # same seed, same data
    again = tmp_path / "again.h5ad"
    assert main(["simulate", "-o", str(again), "-q", "--seed", "3", *TINY]) == 0
    np.testing.assert_array_equal(anndata.read_h5ad(again).layers["truth"], adata.layers["truth"])


def test_simulate_folder_with_files(tmp_path):
    out = tmp_path / "data"
    assert main(["simulate", "-o", str(out), "--fasta", "--gtf", "--gct", "-q", *TINY]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"sim.h5ad", "genome.fa", "genes.gtf", "expression.gct", "sample_attributes.tsv"} <= names
    assert (out / "expression.gct").read_text().startswith("#1.2")


def test_simulate_files_need_a_folder(tmp_path, capsys):
    out = tmp_path / "sim.h5ad"
    assert main(["simulate", "-o", str(out), "--fasta", *TINY]) == 1
    assert "directory" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


# ---- impute ------------------------------------------------------------------------------------
def test_impute_with_method(sim_file, tmp_path):
    out = tmp_path / "imputed.h5ad"
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "mean", "-q"]) == 0
    before = anndata.read_h5ad(sim_file)
    after = anndata.read_h5ad(out)
    missing = np.isnan(before.X)
    assert missing.any()
    filled = after.layers["imputed"]
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(filled[~missing], before.X[~missing])  # observed values unchanged
    np.testing.assert_array_equal(after.layers["imputed_mask"], missing)
    assert after.uns["imputed"]["method"] == "mean"
    assert np.isnan(after.X).sum() == missing.sum()  # X is never overwritten


def test_impute_params_key_and_layer(sim_file, tmp_path):
    adata = anndata.read_h5ad(sim_file)
    adata.layers["counts"] = adata.X.copy()
    adata.X = np.zeros_like(adata.X)
    src = tmp_path / "layered.h5ad"
    gi.io.write_h5ad(adata, src)
    out = tmp_path / "out.h5ad"
    argv = ["impute", str(src), "-o", str(out), "--method", "knn", "--param", "n_neighbors=3"]
    argv += ["--layer", "counts", "--key-added", "filled", "-q"]
    assert main(argv) == 0
    after = anndata.read_h5ad(out)
    assert after.uns["filled"]["params"]["n_neighbors"] == 3
    assert after.uns["filled"]["layer"] == "counts"
    missing = np.isnan(adata.layers["counts"])
    np.testing.assert_array_equal(after.layers["filled_mask"], missing)
    assert np.isfinite(after.layers["filled"]).all()


def test_impute_reads_gct_with_sample_attributes(tmp_path):
    folder = tmp_path / "data"
    assert main(["simulate", "-o", str(folder), "--gct", "-q", *TINY]) == 0
    out = tmp_path / "from_gct.h5ad"
    argv = [
        "impute",
        str(folder / "expression.gct"),
        "--sample-attributes",
        str(folder / "sample_attributes.tsv"),
    ]
    assert main([*argv, "-o", str(out), "--method", "mean", "-q"]) == 0
    after = anndata.read_h5ad(out)
    assert "tissue" in after.obs.columns
    assert np.isfinite(after.layers["imputed"]).all()
    assert after.layers["imputed_mask"].any()


def test_impute_sniffs_h5ad_without_suffix(sim_file, tmp_path):
    # Galaxy hands files over as dataset_1.dat
    dat = tmp_path / "dataset_1.dat"
    dat.write_bytes(sim_file.read_bytes())
    out = tmp_path / "out.h5ad"
    assert main(["impute", str(dat), "-o", str(out), "--method", "mean", "-q"]) == 0
    assert "imputed" in anndata.read_h5ad(out).layers


def test_impute_progress_only_on_a_tty(sim_file, tmp_path, monkeypatch):
    impute_module = sys.modules["gex_impute.impute"]
    seen = {}
    original = impute_module.impute

    def spy(adata, **kwargs):
        seen["progress"] = kwargs["progress"]
        return original(adata, **kwargs)

    monkeypatch.setattr(impute_module, "impute", spy)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert main(["impute", str(sim_file), "-o", str(tmp_path / "a.h5ad"), "--method", "mean"]) == 0
    assert seen["progress"] is False
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert main(["impute", str(sim_file), "-o", str(tmp_path / "b.h5ad"), "--method", "mean", "-q"]) == 0
    assert seen["progress"] is False  # --quiet wins
    assert main(["impute", str(sim_file), "-o", str(tmp_path / "c.h5ad"), "--method", "mean"]) == 0
    assert seen["progress"] is True


# ---- annotate ----------------------------------------------------------------------------------
def test_annotate_from_gtf_and_fasta(tmp_path):
    folder = tmp_path / "data"
    assert main(["simulate", "-o", str(folder), "--fasta", "--gtf", "-q", *TINY]) == 0
    full = anndata.read_h5ad(folder / "sim.h5ad")
    bare = full.copy()
    bare.var = bare.var.drop(columns=[c for c in COORDS if c in bare.var.columns])
    src = tmp_path / "bare.h5ad"
    gi.io.write_h5ad(bare, src)
    out = tmp_path / "annotated.h5ad"
    argv = ["annotate", str(src), "-o", str(out), "--annotation", str(folder / "genes.gtf")]
    argv += ["--fasta", str(folder / "genome.fa"), "--upstream", "1000", "--downstream", "500", "-q"]
    assert main(argv) == 0
    var = anndata.read_h5ad(out).var
    for col in ("chrom", "strand", "tss"):
        assert (var[col].astype(str) == full.var[col].astype(str)).all(), col
    lengths = var["promoter"].str.len()
    assert (lengths == 1500).all()
    # the simulated promoters were cut with the same window: the sequences must agree
    assert (var["promoter"] == full.var["promoter"]).mean() > 0.99


def test_annotate_needs_something_to_do(sim_file, tmp_path, capsys):
    out = tmp_path / "x.h5ad"
    assert main(["annotate", str(sim_file), "-o", str(out)]) == 1
    assert "--annotation" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


# ---- evaluate ----------------------------------------------------------------------------------
def test_evaluate_writes_table_and_png(sim_file, tmp_path, capsys):
    table_path = tmp_path / "metrics.tsv"
    png = tmp_path / "metrics.png"
    argv = ["evaluate", str(sim_file), "-o", str(table_path), "--plot", str(png)]
    argv += ["--protocol", "entries", "--methods", "mean,knn", "--fraction", "0.1"]
    assert main(argv) == 0
    table = pd.read_csv(table_path, sep="\t", index_col=0)
    assert list(table.index) == ["mean", "knn"]
    assert {"pearson", "spearman", "mse", "n_heldout"} <= set(table.columns)
    assert table["pearson"].between(-1, 1).all() and (table["mse"] >= 0).all()
    assert (table["n_heldout"] > 0).all()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "pearson" in printed and "knn" in printed


def test_evaluate_default_methods_skip_unusable(sim_file, tmp_path, capsys):
    # without coordinates the genomic methods cannot run; the default set drops them with a warning
    adata = anndata.read_h5ad(sim_file)
    adata.var = adata.var.drop(columns=[c for c in COORDS if c in adata.var.columns])
    src = tmp_path / "bare.h5ad"
    gi.io.write_h5ad(adata, src)
    out = tmp_path / "m.tsv"
    assert main(["evaluate", str(src), "-o", str(out), "--protocol", "entries", "--fraction", "0.1"]) == 0
    table = pd.read_csv(out, sep="\t", index_col=0)
    assert "distance" not in table.index and "mean" in table.index
    assert "skipping method 'distance'" in capsys.readouterr().err


def test_evaluate_unknown_method(sim_file, tmp_path, capsys):
    out = tmp_path / "m.tsv"
    assert main(["evaluate", str(sim_file), "-o", str(out), "--methods", "mean,nonsense"]) == 1
    assert "nonsense" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


# ---- fit ---------------------------------------------------------------------------------------
def test_fit_rejects_unsavable_method(sim_file, tmp_path, capsys):
    out = tmp_path / "model.zip"
    assert main(["fit", str(sim_file), "-o", str(out), "--method", "mean"]) == 1
    assert "cannot be saved" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


# hybrid.py (not this module) warns on all-NaN feature columns of tiny data; reported to its owner
@pytest.mark.filterwarnings("ignore:Mean of empty slice:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:Degrees of freedom <= 0 for slice:RuntimeWarning")
def test_fit_zip_then_impute_with_model(sim_file, tmp_path):
    hybrid = pytest.importorskip("gex_impute.methods.hybrid")
    if not hasattr(hybrid.HybridImputer, "save"):
        pytest.skip("HybridImputer.save not available yet")
    model = tmp_path / "model.zip"
    small = ["--device", "cpu"] + [f"--param={p}" for p in ("max_epochs=2", "n_folds=2", "n_estimators=20")]
    assert main(["fit", str(sim_file), "-o", str(model), *small, "-q"]) == 0
    import zipfile

    assert zipfile.is_zipfile(model)
    assert {"params.json", "xgboost.json"} <= set(zipfile.ZipFile(model).namelist())
    out = tmp_path / "imputed.h5ad"
    assert main(["impute", str(sim_file), "-o", str(out), "--model", str(model), "-q"]) == 0
    after = anndata.read_h5ad(out)
    assert after.uns["imputed"]["method"] == "hybrid"
    assert bool(after.uns["imputed"]["pretrained"])
    assert np.isfinite(after.layers["imputed"]).all()


# ---- demo --------------------------------------------------------------------------------------
def test_demo_prints_table_and_writes_outputs(tmp_path, capsys):
    argv = ["demo", "--methods", "mean,knn", *TINY, "--output-dir", str(tmp_path / "demo"), "-q"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "P2 entries" in out and "P1 genes" in out
    assert "pearson" in out and "knn" in out and "mean" in out
    assert "Imputed" in out
    table = pd.read_csv(tmp_path / "demo" / "demo_metrics.tsv", sep="\t", index_col=0)
    assert sorted(set(table["protocol"])) == ["P1 genes", "P2 entries"]
    assert len(table) == 4
    adata = anndata.read_h5ad(tmp_path / "demo" / "demo_imputed.h5ad")
    assert np.isfinite(adata.layers["imputed"]).all()


# ---- errors and atomic output ------------------------------------------------------------------
def test_missing_input_is_one_line(tmp_path, capsys):
    out = tmp_path / "out.h5ad"
    assert main(["impute", str(tmp_path / "nope.h5ad"), "-o", str(out), "--method", "mean"]) != 0
    line = _one_error_line(capsys.readouterr().err)
    assert "nope.h5ad" in line
    assert not out.exists()


def test_bad_tissue_key_is_one_line(sim_file, tmp_path, capsys):
    out = tmp_path / "out.h5ad"
    argv = ["impute", str(sim_file), "-o", str(out), "--method", "mean", "--tissue-key", "organ", "-q"]
    assert main(argv) != 0
    err = capsys.readouterr().err
    line = _one_error_line(err)
    assert err.strip() == line  # with --quiet, nothing but the error
    assert "'organ'" in line and "tissue_key" in line
    assert not out.exists()


def test_verbose_shows_traceback(sim_file, tmp_path, capsys):
    argv = [
        "impute",
        str(sim_file),
        "-o",
        str(tmp_path / "o.h5ad"),
        "--method",
        "mean",
        "--tissue-key",
        "organ",
    ]
    assert main([*argv, "--verbose"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "gex-impute: error:" in err


def test_unknown_method_and_bad_param(sim_file, tmp_path, capsys):
    out = tmp_path / "o.h5ad"
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "magic"]) == 1
    assert "magic" in _one_error_line(capsys.readouterr().err)
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "knn", "--param", "k"]) == 1
    assert "KEY=VALUE" in _one_error_line(capsys.readouterr().err)
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "knn", "--param", "bogus=1"]) == 1
    assert "bogus" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


def test_failed_write_leaves_no_file(sim_file, tmp_path, monkeypatch, capsys):
    def broken_write(self, filename, *args, **kwargs):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        msg = "disk full (simulated)"
        raise ValueError(msg)

    monkeypatch.setattr(anndata.AnnData, "write_h5ad", broken_write)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "imputed.h5ad"
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "mean"]) == 1
    assert "disk full" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()
    assert list(out_dir.iterdir()) == []  # no temporary file left behind either


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["impute"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert gi.__version__ in capsys.readouterr().out


def test_parse_params():
    assert parse_params(["k=20", "alpha=0.5", "use_donor=false", "name=abc", "x=none"]) == {
        "k": 20,
        "alpha": 0.5,
        "use_donor": False,
        "name": "abc",
        "x": None,
    }
