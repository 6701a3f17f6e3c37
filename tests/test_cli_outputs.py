"""The command line's outputs and messages: checked before any work, one file each, in the CLI's own words."""

from __future__ import annotations

from pathlib import Path

import anndata
import numpy as np
import pytest

import gex_impute as gi
from gex_impute.cli import _as_cli, main

TEST_DATA = Path(__file__).resolve().parent.parent / "test-data"


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("gex-impute: error: ")]
    return line


def test_two_outputs_may_not_share_a_path(sim_file, tmp_path, capsys):
    out = tmp_path / "out.h5ad"
    argv = ["complete", str(sim_file), "--method", "mean", "-o", str(out), "--gct-output", str(out), "-q"]
    assert main(argv) == 2
    assert "--gct-output and --output name the same file" in _error(capsys)
    assert not out.exists()
    png = tmp_path / "p.png"
    argv = ["complete", str(sim_file), "--method", "mean", "-o", str(out), "--gct-output", str(png)]
    assert main([*argv, "--plot", str(png), "-q"]) == 2
    assert "--plot and --gct-output name the same file" in _error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim.h5ad"]


def test_every_input_file_is_kept_from_the_output(tmp_path, capsys):
    """-o naming any input (here the promoter mapping) is refused, --overwrite or not."""
    import shutil

    for name in ("sim_unannotated.h5ad", "promoters.tsv"):
        shutil.copy(TEST_DATA / name, tmp_path / name)
    mapping = tmp_path / "map.tsv"
    ids = [line.split("\t")[0] for line in (tmp_path / "promoters.tsv").read_text().splitlines()]
    mapping.write_text("".join(f"{i}\t{i}\n" for i in ids))
    before = mapping.read_bytes()
    promoters = str(tmp_path / "promoters.tsv")
    argv = ["annotate", str(tmp_path / "sim_unannotated.h5ad"), "--promoters", promoters]
    assert main([*argv, "--promoter-mapping", str(mapping), "-o", str(mapping), "--overwrite", "-q"]) == 1
    assert "also an input file" in _error(capsys)
    assert mapping.read_bytes() == before


@pytest.mark.parametrize("plot", ["metrics.txt", "metrics"])
def test_plot_format_is_checked_before_the_work(sim_file, tmp_path, capsys, plot):
    out = tmp_path / "m.tsv"
    argv = ["evaluate", str(sim_file), "--methods", "mean", "-o", str(out), "--plot", str(tmp_path / plot)]
    assert main([*argv, "-q"]) == 2
    line = _error(capsys)
    assert "end it in .png, .pdf or .svg" in line
    assert ("'txt' is not an image format" if plot.endswith(".txt") else "it has no suffix") in line
    assert not out.exists()


def test_impute_writes_a_zarr_store_for_a_zarr_path(sim_file, tmp_path):
    out = tmp_path / "imputed.zarr"
    assert main(["impute", str(sim_file), "--method", "mean", "-o", str(out), "-q"]) == 0
    assert out.is_dir()
    assert np.isfinite(gi.io.read_zarr(out).layers["imputed"]).all()


def test_impute_chained_on_its_own_output(sim_file, tmp_path, capsys):
    """A Galaxy chain: impute the output of impute; --overwrite replaces the earlier layers."""
    first, second = tmp_path / "first.h5ad", tmp_path / "second.h5ad"
    assert main(["impute", str(sim_file), "--method", "mean", "-o", str(first), "-q"]) == 0
    argv = ["impute", str(first), "--method", "knn_samples", "-o", str(second), "-q"]
    assert main(argv) == 1
    line = _error(capsys)
    assert "pass another --key-added, or --overwrite to replace them" in line
    assert "key_added" not in line.replace("--key-added", "")
    assert main([*argv, "--overwrite"]) == 0
    assert anndata.read_h5ad(second).uns["imputed"]["method"] == "knn_samples"


def test_api_argument_names_are_spelled_as_flags():
    cases = {
        "pass donor_key= naming the donor column": "pass --donor-key naming the donor column",
        "the model was fitted without donors; pass donor_key=False when predicting (complete() "
        "needs donors: refit the model with donor_key= naming the donor column).": (
            "the model was fitted without donors; pass --no-donors when predicting (complete() "
            "needs donors: refit the model with --donor-key naming the donor column)."
        ),
        "out='x.zarr' exists; remove it or pass overwrite=True.": (
            "--output 'x.zarr' exists; remove it or pass --overwrite."
        ),
        "Pass tissue_key= naming the column; pass layer= naming it": (
            "Pass --tissue-key naming the column; pass --layer naming it"
        ),
        "tissue_key 'organ' not found": "tissue_key 'organ' not found",
        "or pass log_transform=False to confirm.": "or pass --log-transform false to confirm.",
        "leave log_transform='auto' when passing model=.": "leave --log-transform auto when passing model=.",
        "cannot tell the format of x; pass format='gtf', 'gff3', 'bed' or 'tsv'.": (
            "cannot tell the format of x; pass --annotation-format gtf, gff3, bed or tsv."
        ),
        "run gex_impute.pp.annotate_genes(adata, annotation) first.": (
            "run 'gex-impute annotate --annotation FILE' first."
        ),
        "pass donor_key= naming it (or register it with gi.pp.register_keys).": "pass --donor-key naming it.",
    }
    for api, cli in cases.items():
        assert _as_cli(api) == cli


def test_model_applied_without_its_donor_key(sim_file, tmp_path):
    model, out = tmp_path / "m.zip", tmp_path / "out.h5ad"
    fit = ["fit", str(sim_file), "--method", "knn_samples", "--donor-key", "donor", "-o", str(model), "-q"]
    assert main(fit) == 0
    assert main(["impute", str(sim_file), "--model", str(model), "-o", str(out), "-q"]) == 0
    assert anndata.read_h5ad(out).uns["imputed"]["donor_key"] == "donor"


def test_the_tissue_column_an_h5ad_registered_is_the_default(sim, tmp_path):
    renamed = sim.copy()
    renamed.obs = renamed.obs.rename(columns={"tissue": "SMTSD"})
    gi.pp.register_keys(renamed, tissue_key="SMTSD", donor_key="donor")
    path, out = tmp_path / "renamed.h5ad", tmp_path / "out.h5ad"
    gi.io.write_h5ad(renamed, path)
    assert main(["impute", str(path), "--method", "mean", "-o", str(out), "-q"]) == 0
    assert anndata.read_h5ad(out).uns["imputed"]["tissue_key"] == "SMTSD"


def test_annotate_flank_limit_and_window_centred_bed(tmp_path, capsys):
    out = tmp_path / "annotated.h5ad"
    argv = ["annotate", str(TEST_DATA / "sim_unannotated.h5ad"), "-o", str(out)]
    big = [*argv, "--annotation", str(TEST_DATA / "genes.gtf"), "--fasta", str(TEST_DATA / "genome.fa")]
    assert main([*big, "--upstream", "100000000", "-q"]) == 2
    assert "out of range; give a value >= 0 and <= 50000" in _error(capsys)
    # a BED of 20 kb windows centred on each TSS (as hg38_tss_cage_20kb.bed)
    var = anndata.read_h5ad(TEST_DATA / "sim.h5ad").var
    var = var[var["tss"] >= 10_000]
    bed = tmp_path / "windows.bed"
    rows = [
        f"{r.chrom}\t{int(r.tss) - 10_000}\t{int(r.tss) + 10_000}\t{gene}\t0\t{r.strand}\n"
        for gene, r in var.iterrows()
    ]
    bed.write_text("".join(rows))
    assert main([*argv, "--annotation", str(bed), "--bed-tss", "window_center", "-q"]) == 0
    got = anndata.read_h5ad(out).var.loc[var.index, "tss"]
    np.testing.assert_array_equal(got.to_numpy(), var["tss"].to_numpy())


def test_completed_gct_reads_back_with_its_donors_and_tissues(tmp_path):
    gtex = TEST_DATA / "gtex"
    gct, attrs = next(gtex.glob("*gene_tpm.gct.gz")), next(gtex.glob("*SampleAttributesDS.txt"))
    out, written = tmp_path / "completed.h5ad", tmp_path / "completed.gct"
    argv = ["complete", str(gct), "--sample-attributes", str(attrs), "--method", "mean"]
    assert main([*argv, "-o", str(out), "--gct-output", str(written), "-q"]) == 0
    completed = anndata.read_h5ad(out)
    back = gi.io.read_expression(written, sample_attributes=attrs).obs.reindex(completed.obs_names)
    assert completed.obs["imputed_profile"].any()
    for key in ("donor", "tissue"):
        assert (back[key].astype(str) == completed.obs[key].astype(str)).all(), key


def test_evaluate_plot_title_names_the_split(sim_file, tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(gi.pl, "metrics", lambda table, *, title, save: titles.append(title))
    argv = ["evaluate", str(sim_file), "-o", str(tmp_path / "m.tsv"), "--methods", "mean", "-q"]
    folds = ["--protocol", "samples", "--n-folds", "6", "--donor-key", "donor"]
    assert main([*argv, "--plot", str(tmp_path / "m.png"), *folds]) == 0
    assert main([*argv, "--plot", str(tmp_path / "n.png"), "--fraction", "0.3", "--overwrite"]) == 0
    assert titles == ["protocol 'samples', 6 folds", "protocol 'genes', 30% held out"]


def test_annotation_format_for_a_file_named_otherwise(tmp_path, capsys):
    """A GTF saved as .txt: auto reads a TSV and fails, naming --annotation-format; gtf reads it."""
    import shutil

    shutil.copy(TEST_DATA / "sim_unannotated.h5ad", tmp_path / "in.h5ad")
    shutil.copy(TEST_DATA / "genes.gtf", tmp_path / "genes.gtf.txt")
    argv = ["annotate", str(tmp_path / "in.h5ad"), "--annotation", str(tmp_path / "genes.gtf.txt")]
    assert main([*argv, "-o", str(tmp_path / "a.h5ad"), "-q"]) == 1
    assert "--annotation-format gtf" in _error(capsys)
    assert main([*argv, "-o", str(tmp_path / "a.h5ad"), "--annotation-format", "gtf", "-q"]) == 0
    assert anndata.read_h5ad(tmp_path / "a.h5ad").var["tss"].notna().all()


def test_complete_refuses_no_donors_before_the_read(tmp_path, capsys):
    argv = ["complete", str(tmp_path / "never_read.h5ad"), "-o", str(tmp_path / "o.h5ad"), "--no-donors"]
    assert main([*argv, "--method", "mean", "-q"]) == 2
    assert "drop --no-donors" in _error(capsys)


def test_overwrite_replaces_only_the_packages_own_folders(sim_file, tmp_path, capsys):
    """--overwrite deleted any folder it was pointed at, even one holding the input (sweep, session 17)."""
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep")
    assert (
        main(["simulate", "--n-donors", "3", "--n-genes", "30", "-o", str(precious), "--overwrite", "-q"])
        == 1
    )
    assert "a folder of files gex_impute did not write" in _error(capsys)
    assert (precious / "thesis.txt").read_text() == "keep"
    store = tmp_path / "keep.zarr"
    store.mkdir()
    (store / "important.txt").write_text("data")
    argv = ["impute", str(sim_file), "--method", "mean", "-o", str(store), "--overwrite", "-q"]
    assert main(argv) == 1
    assert (store / "important.txt").exists()
    capsys.readouterr()
    project = tmp_path / "proj.zarr"
    project.mkdir()
    inside = project / "in.h5ad"
    inside.write_bytes(sim_file.read_bytes())
    assert main(["impute", str(inside), "--method", "mean", "-o", str(project), "--overwrite", "-q"]) == 1
    assert "holds the input" in _error(capsys)
    assert inside.exists()
    # what the package wrote is replaced: a simulated folder, a zarr store
    folder = tmp_path / "cohort"
    for _ in range(2):
        assert (
            main(["simulate", "--n-donors", "3", "--n-genes", "30", "-o", str(folder), "--overwrite", "-q"])
            == 0
        )
    assert (folder / "sim.h5ad").exists()
    out = tmp_path / "out.zarr"
    for _ in range(2):
        assert main(["impute", str(sim_file), "--method", "mean", "-o", str(out), "--overwrite", "-q"]) == 0
    assert anndata.read_zarr(out).n_obs == anndata.read_h5ad(sim_file).n_obs


def test_overwrite_replaces_only_its_own_kind_of_output(sim_file, tmp_path, capsys):
    """One kind of package output never replaces another (session 17 note: one global marker list)."""
    model = tmp_path / "model.zarr"  # a saved model that happens to bear a store's name
    assert main(["fit", str(sim_file), "--method", "mean", "-o", str(model), "-q"]) == 0
    assert (model / "params.json").exists()
    argv = ["impute", str(sim_file), "--method", "mean", "-o", str(model), "--overwrite", "-q"]
    assert main(argv) == 1
    assert "another kind of gex_impute output, not a zarr store" in _error(capsys)
    assert (model / "params.json").exists()
    store = tmp_path / "out.zarr"
    assert main(["impute", str(sim_file), "--method", "mean", "-o", str(store), "-q"]) == 0
    argv = ["simulate", "--n-donors", "3", "--n-genes", "30", "-o", str(store), "--overwrite", "-q"]
    assert main(argv) == 1
    assert "not a simulated cohort" in _error(capsys)
    assert main(["fit", str(sim_file), "--method", "mean", "-o", str(store), "--overwrite", "-q"]) == 1
    capsys.readouterr()
    assert anndata.read_zarr(store).n_obs == anndata.read_h5ad(sim_file).n_obs
    with pytest.raises(gi.errors.OutputPathError, match="not an earlier demo report"):
        gi.datasets.demo(store, overwrite=True)


def test_complete_checks_the_output_suffix_before_reading(tmp_path, capsys):
    missing_input = tmp_path / "not_there.h5ad"  # never read: the suffix is refused first
    assert (
        main(["complete", str(missing_input), "--method", "mean", "-o", str(tmp_path / "r.dat"), "-q"]) == 2
    )
    assert "must end in .h5ad or .zarr" in _error(capsys)


@pytest.mark.filterwarnings("default::UserWarning")  # as a user's session shows them (not errors)
def test_quiet_prints_errors_only_and_library_warnings_are_one_line(sim_file, tmp_path, capsys):
    """-q printed warnings; anndata's warnings came through as raw two-line Python warnings."""
    adata = anndata.read_h5ad(sim_file)
    adata.obs_names = [adata.obs_names[0], *adata.obs_names[1:-1], adata.obs_names[0]]  # a duplicate
    dup = tmp_path / "dup.h5ad"
    adata.write_h5ad(dup)
    out = tmp_path / "o.h5ad"
    assert main(["impute", str(dup), "-o", str(out), "--method", "mean"]) == 0
    err = capsys.readouterr().err
    assert "UserWarning" in err and "anndata.py" not in err  # one line, no source path
    assert all(line.startswith("gex-impute: ") for line in err.splitlines() if line)
    assert main(["impute", str(dup), "-o", str(out), "--method", "mean", "--overwrite", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_annotate_offers_only_the_options_it_uses():
    from gex_impute.cli._parser import build_parser

    parser = build_parser()
    annotate = parser._subparsers._group_actions[0].choices["annotate"]  # noqa: SLF001
    flags = {flag for action in annotate._actions for flag in action.option_strings}  # noqa: SLF001
    assert "--tissue-key" in flags
    assert not flags & {"--donor-key", "--no-donors", "--layer", "--seed"}


def test_plot_named_like_a_scanpy_suffix_is_still_a_path(sim_file, tmp_path, monkeypatch):
    """pl's save= takes '_x.png' as scanpy's figdir suffix; --plot always names the file itself."""
    monkeypatch.chdir(tmp_path)
    argv = ["complete", str(sim_file), "-o", "c.h5ad", "--method", "mean", "--plot", "_grid.png", "-q"]
    assert main(argv) == 0
    assert (tmp_path / "_grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "figures").exists()
