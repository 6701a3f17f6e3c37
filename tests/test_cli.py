"""The ``gex-impute`` command line, driven through ``main([...])`` on tiny simulated data."""

from __future__ import annotations

import sys
from pathlib import Path

import anndata
import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.cli import main

TINY = ["--n-donors", "3", "--n-tissues", "3", "--n-genes", "120"]
COORDS = ["chrom", "start", "end", "strand", "tss", "gene_type", "promoter", "promoter_tss"]


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
    upper = tmp_path / "SIM.H5AD"  # the suffix in any case is a file, as the readers take it
    assert main(["simulate", "-o", str(upper), "-q", "--seed", "3", *TINY]) == 0
    assert upper.is_file()


def test_simulate_folder_with_files(tmp_path):
    out = tmp_path / "data"
    assert main(["simulate", "-o", str(out), "--fasta", "--gtf", "--gct", "-q", *TINY]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"sim.h5ad", "genome.fa", "genes.gtf", "expression.gct", "sample_attributes.tsv"} <= names
    assert (out / "expression.gct").read_text().startswith("#1.2")
    # stopped mid-way: the folder is whole or absent, never half written
    calls = []

    def stop_at_the_gtf(*args, **kwargs):
        calls.append(1)
        raise KeyboardInterrupt

    again = tmp_path / "again"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gi.io, "write_gtf", stop_at_the_gtf)
        assert main(["simulate", "-o", str(again), "--fasta", "--gtf", "--gct", "-q", *TINY]) == 130
    assert calls and not again.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_simulate_files_need_a_folder(tmp_path, capsys):
    out = tmp_path / "sim.h5ad"
    assert main(["simulate", "-o", str(out), "--fasta", *TINY]) == 2
    assert "folder" in _one_error_line(capsys.readouterr().err)
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
    seen = {}
    original = gi.tl.impute

    def spy(adata, **kwargs):
        seen["progress"] = kwargs["progress"]
        return original(adata, **kwargs)

    monkeypatch.setattr(gi.tl, "impute", spy)
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
    assert (var["promoter_tss"] == 1000).all()
    # scanpy's layout: gene symbols as names, the Ensembl ids in var['gene_ids']
    bare.var["gene_ids"] = bare.var_names.to_numpy()
    bare.var_names = [f"SYMBOL{i}" for i in range(bare.n_vars)]
    gi.io.write_h5ad(bare, src)
    argv[argv.index(str(out)) - 1 : argv.index(str(out)) + 1] = ["-o", str(tmp_path / "symbols.h5ad")]
    assert main([*argv, "--gene-id-key", "gene_ids"]) == 0
    by_symbol = anndata.read_h5ad(tmp_path / "symbols.h5ad").var
    np.testing.assert_array_equal(by_symbol["promoter"].to_numpy(), var["promoter"].to_numpy())


def test_annotate_needs_something_to_do(sim_file, tmp_path, capsys):
    out = tmp_path / "x.h5ad"
    assert main(["annotate", str(sim_file), "-o", str(out)]) == 2
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
    assert "distance" in capsys.readouterr().err  # said why it was left out


def test_evaluate_unknown_method(sim_file, tmp_path, capsys):
    out = tmp_path / "m.tsv"
    assert main(["evaluate", str(sim_file), "-o", str(out), "--methods", "mean,nonsense"]) == 1
    assert "nonsense" in _one_error_line(capsys.readouterr().err)
    assert not out.exists()


# ---- fit ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["mean", "knn"])
def test_fit_then_impute_with_model_any_method(sim_file, tmp_path, method):
    model = tmp_path / f"{method}.zip"
    assert main(["fit", str(sim_file), "-o", str(model), "--method", method, "-q"]) == 0
    out = tmp_path / "imputed.h5ad"
    assert main(["impute", str(sim_file), "-o", str(out), "--model", str(model), "-q"]) == 0
    direct = tmp_path / "direct.h5ad"
    assert main(["impute", str(sim_file), "-o", str(direct), "--method", method, "-q"]) == 0
    np.testing.assert_allclose(
        anndata.read_h5ad(out).layers["imputed"], anndata.read_h5ad(direct).layers["imputed"], rtol=1e-6
    )


def test_fit_checks_the_model_path_first_and_replaces_a_model_folder(sim_file, tmp_path, capsys, monkeypatch):
    import stat

    from gex_impute.methods.baselines import MeanImputer

    other = tmp_path / "old.h5ad"
    other.write_bytes(b"not a model")
    monkeypatch.setattr(MeanImputer, "fit", lambda *a, **k: pytest.fail("fitted before the path check"))
    argv = ["fit", str(sim_file), "--method", "mean", "-q"]
    assert main([*argv, "-o", str(other), "--overwrite"]) == 1
    assert "is not a saved model folder" in _one_error_line(capsys.readouterr().err)
    monkeypatch.undo()
    folder = tmp_path / "model"
    assert main([*argv, "-o", str(folder)]) == 0
    file_mode = stat.S_IMODE((folder / "params.json").stat().st_mode)
    assert stat.S_IMODE(folder.stat().st_mode) == file_mode | (file_mode & 0o444) >> 2  # not 0700
    assert main([*argv, "-o", str(folder)]) == 1
    assert "already exists; pass --overwrite" in _one_error_line(capsys.readouterr().err)
    assert main([*argv, "-o", str(folder), "--overwrite"]) == 0
    assert gi.load_model(folder).name == "mean"


def test_complete_with_a_model_uses_its_donor_column(sim, tmp_path):
    renamed = sim.copy()
    renamed.obs = renamed.obs.rename(columns={"donor": "subject"})
    path, model, out = tmp_path / "in.h5ad", tmp_path / "mean.zip", tmp_path / "completed.h5ad"
    gi.io.write_h5ad(renamed, path)
    assert main(["fit", str(path), "-o", str(model), "--method", "mean", "--donor-key", "subject", "-q"]) == 0
    png = tmp_path / "grid.png"
    assert main(["complete", str(path), "-o", str(out), "--model", str(model), "--plot", str(png), "-q"]) == 0
    assert "subject" in anndata.read_h5ad(out).obs and png.stat().st_size > 0


def test_no_donors_applies_a_model_fitted_with_donors(sim_file, sim, tmp_path, capsys):
    model, bare, out = tmp_path / "mean.zip", tmp_path / "bare.h5ad", tmp_path / "out.h5ad"
    fit = ["fit", str(sim_file), "-o", str(model), "--method", "mean", "--donor-key", "donor", "-q"]
    assert main(fit) == 0
    without = sim.copy()
    del without.obs["donor"]
    gi.io.write_h5ad(without, bare)
    assert main(["impute", str(bare), "-o", str(out), "--model", str(model), "-q"]) == 1
    assert "pass --no-donors" in _one_error_line(capsys.readouterr().err)  # advice the user can follow
    assert main(["impute", str(bare), "-o", str(out), "--model", str(model), "--no-donors", "-q"]) == 0
    assert np.isfinite(anndata.read_h5ad(out).layers["imputed"]).all()


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


# ---- complete ----------------------------------------------------------------------------------
def test_complete_writes_cohort_gct_and_plot(sim_file, tmp_path, capsys):
    out, gct, png = tmp_path / "completed.h5ad", tmp_path / "completed.gct", tmp_path / "grid.png"
    argv = ["complete", str(sim_file), "-o", str(out), "--method", "mean", "--gct-output", str(gct)]
    assert main([*argv, "--plot", str(png)]) == 0  # not -q: the summary line is printed
    before = anndata.read_h5ad(sim_file)
    after = anndata.read_h5ad(out)
    n_grid = before.obs["donor"].nunique() * before.obs["tissue"].nunique()
    assert after.n_obs >= n_grid and after.n_vars == before.n_vars
    assert {"donor", "tissue", "imputed_profile"} <= set(after.obs.columns)
    assert gct.read_text().startswith("#1.2")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "completed" in capsys.readouterr().out


def test_complete_from_gtex_files(tmp_path):
    gtex = Path(__file__).resolve().parent.parent / "test-data" / "gtex"
    gct = next(gtex.glob("*gene_tpm.gct.gz"))
    out = tmp_path / "completed.zarr"
    argv = ["complete", str(gct), "--sample-attributes", str(next(gtex.glob("*SampleAttributesDS.txt")))]
    argv += ["--subject-phenotypes", str(next(gtex.glob("*SubjectPhenotypesDS.txt")))]
    assert main([*argv, "-o", str(out), "--method", "knn", "-q"]) == 0
    completed = anndata.read_zarr(out)
    assert completed.obs["imputed_profile"].any() and (~completed.obs["imputed_profile"]).any()
    assert {"sex", "age"} & set(completed.obs.columns), "per-donor phenotypes are carried to new rows"


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
    assert main([*argv, "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "gex-impute: error:" in err


def test_unknown_method_and_bad_param(sim_file, tmp_path, capsys):
    out = tmp_path / "o.h5ad"
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "magic"]) == 1
    assert "magic" in _one_error_line(capsys.readouterr().err)
    assert main(["impute", str(sim_file), "-o", str(out), "--method", "knn", "--param", "k"]) == 2
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
    assert main(["impute"]) == 2
    _one_error_line(capsys.readouterr().err)
    assert main(["--version"]) == 0
    assert gi.__version__ in capsys.readouterr().out


@pytest.mark.parametrize(("sig", "status"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_signal_during_the_write_leaves_nothing(sim_file, tmp_path, sig, status):
    """A real process killed while it writes: the right exit status and no file, temporary or final."""
    import signal
    import subprocess
    import time

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    marker = tmp_path / "writing"
    code = (
        "import sys, time, pathlib, anndata\n"
        "orig = anndata.AnnData.write_h5ad\n"
        "def slow(self, filename, *a, **k):\n"
        "    orig(self, filename, *a, **k)\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "    time.sleep(30)\n"
        "anndata.AnnData.write_h5ad = slow\n"
        "from gex_impute.cli import main\n"
        f"argv = ['impute', {str(sim_file)!r}, '-o', {str(out_dir / 'o.h5ad')!r}, '--method', 'mean']\n"
        "sys.exit(main(argv))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), proc.stderr.read() if proc.poll() is not None else "never reached the write"
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == status, err
    assert "Traceback" not in err
    assert list(out_dir.iterdir()) == [], "no output or temporary file may remain"


def test_a_stop_after_some_outputs_names_them_and_quiet_prints_nothing(
    sim_file, tmp_path, capsys, monkeypatch
):
    """Ctrl-C while the GCT is written: the h5ad written before is named, not 'no output was written'."""
    out, gct = tmp_path / "out.h5ad", tmp_path / "out.gct"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gi.io, "write_gct", interrupted)
    argv = ["complete", str(sim_file), "-o", str(out), "--method", "mean", "--gct-output", str(gct), "-q"]
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert f"written before the stop, complete: {out}" in captured.err
    assert out.exists() and not gct.exists()
    assert captured.out == ""  # -q: no summary line
    monkeypatch.undo()
    assert main([*argv[:-1], "--overwrite", "-q"]) == 0
    assert capsys.readouterr().out == ""


def test_usage_errors_come_before_the_read(tmp_path, capsys):
    """NaN numbers, empty lists and bad layer names fail before the (maybe huge) input is read."""
    absent = str(tmp_path / "not_read.h5ad")  # never opened: the usage error comes first
    for argv, status, fragment in (
        (["impute", absent, "-o", str(tmp_path / "a.h5ad"), "--interval", "nan"], 2, "finite"),
        (["evaluate", absent, "-o", str(tmp_path / "m.tsv"), "--fraction", "inf"], 2, "finite"),
        (
            ["complete", absent, "-o", str(tmp_path / "b.h5ad"), "--method", "mean", "--tissues", ","],
            2,
            "names",
        ),
        (["impute", absent, "-o", str(tmp_path / "a.h5ad"), "--key-added", "a/b"], 1, "'/'"),
        (["impute", absent, "-o", str(tmp_path / "a.h5ad"), "--seed", str(2**32)], 2, "4294967295"),
    ):
        assert main([*argv, "-q"]) == status
        assert fragment in _one_error_line(capsys.readouterr().err)


def test_impute_with_nothing_missing_points_to_complete(tmp_path, capsys):
    """Galaxy sweep O: a GTEx matrix came back unchanged with 'imputed 0 entries' only."""
    full = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=40)
    full.X = full.layers.pop("truth")  # the simulated values, none hidden
    full.write_h5ad(tmp_path / "full.h5ad")
    assert (
        main(["impute", str(tmp_path / "full.h5ad"), "-o", str(tmp_path / "out.h5ad"), "--method", "mean"])
        == 0
    )
    err = capsys.readouterr().err
    assert "warning: nothing is missing in X" in err
    assert "'gex-impute complete' adds and estimates them" in err
