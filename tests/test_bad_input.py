"""Bad input, as a new user would give it: every case a clear error, never a traceback or a wrong value.

Two tables: the command line (exit status 2 for usage errors, 1 for data errors; one
``gex-impute: error:`` line on stderr; no traceback; no output file afterwards) and the Python
API (the package's own error classes, with a message naming the problem). Each row holds the
fragment the message must contain.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

import gex_impute as gi
from gex_impute.cli import main
from gex_impute.errors import GexImputeError

TEST_DATA = Path(__file__).resolve().parent.parent / "test-data"


# -- inputs --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Good and broken input files, made once for the module (read-only use)."""
    d = tmp_path_factory.mktemp("inputs")
    sim = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=80, random_state=0)
    good = d / "sim.h5ad"
    gi.io.write_h5ad(sim, good)
    raw = good.read_bytes()
    paths = {"good": good, "folder": d / "a_folder", "file": d / "plain.txt", "missing": d / "absent.h5ad"}
    paths["folder"].mkdir()
    (paths["folder"] / "inside").write_text("x")
    paths["file"].write_text("not a folder\n")
    (d / "empty.h5ad").write_bytes(b"")
    paths["empty"] = d / "empty.h5ad"
    (d / "truncated.h5ad").write_bytes(raw[: len(raw) // 3])
    paths["truncated"] = d / "truncated.h5ad"
    (d / "text.h5ad").write_text("gene\ttissue\nthis is not HDF5\n")
    paths["not_hdf5"] = d / "text.h5ad"
    gct = (TEST_DATA / "expression.gct.gz").read_bytes()
    (d / "truncated.gct.gz").write_bytes(gct[: len(gct) // 2])
    paths["truncated_gct"] = d / "truncated.gct.gz"
    lines = gzip.decompress(gct).decode().splitlines()
    lines[5] = "\t".join(lines[5].split("\t")[:-1])  # one cell short
    (d / "short_row.gct").write_text("\n".join(lines) + "\n")
    paths["short_row_gct"] = d / "short_row.gct"
    (d / "model.zip").write_bytes(b"PK\x03\x04 truncated zip")
    paths["bad_zip"] = d / "model.zip"
    with zipfile.ZipFile(d / "list.zip", "w") as zf:
        zf.writestr("params.json", "[1, 2, 3]")
    paths["list_zip"] = d / "list.zip"
    return paths


def _argv(row: list[str], files: dict[str, Path], out: Path) -> list[str]:
    subst = {f"{{{k}}}": str(v) for k, v in files.items()}
    subst["{out}"] = str(out)
    subst["{gct}"] = str(TEST_DATA / "expression.gct.gz")
    subst["{attrs}"] = str(TEST_DATA / "sample_attributes.tsv")
    subst["{gtf}"] = str(TEST_DATA / "genes.gtf")
    subst["{fasta}"] = str(TEST_DATA / "genome.fa")
    out_args = []
    for arg in row:
        for key, value in subst.items():
            arg = arg.replace(key, value)
        out_args.append(arg)
    return out_args


IMPUTE = ["impute", "{good}", "-o", "{out}"]
EVAL = ["evaluate", "{good}", "-o", "{out}", "--methods", "mean"]
COMPLETE = ["complete", "{good}", "-o", "{out}", "--method", "mean"]

# (id, argv, exit status, fragment of the error line)
CLI_CASES = [
    ("no-command", [], 2, "required"),
    ("unknown-command", ["bogus"], 2, "invalid choice"),
    ("impute-no-input", ["impute"], 2, "required"),
    ("impute-no-output", ["impute", "{good}"], 2, "-o/--output"),
    ("output-empty", ["impute", "{good}", "-o", ""], 2, "empty path"),
    ("seed-negative", [*IMPUTE, "--seed", "-1"], 2, "out of range"),
    ("seed-not-int", [*IMPUTE, "--seed", "abc"], 2, "not an integer"),
    ("interval-above-1", [*IMPUTE, "--interval", "1.5"], 2, "out of range"),
    ("interval-zero", [*IMPUTE, "--interval", "0"], 2, "out of range"),
    ("param-no-equals", [*IMPUTE, "--method", "knn", "--param", "n_neighbors"], 2, "KEY=VALUE"),
    ("param-empty-key", [*IMPUTE, "--method", "knn", "--param", "=3"], 2, "KEY=VALUE"),
    ("method-unknown", [*IMPUTE, "--method", "bogus"], 1, "bogus"),
    ("param-unknown", [*IMPUTE, "--method", "knn", "--param", "k=3"], 1, "k"),
    ("knn-neighbors-abc", [*IMPUTE, "--method", "knn", "--param", "n_neighbors=abc"], 1, "n_neighbors"),
    ("knn-neighbors-0", [*IMPUTE, "--method", "knn", "--param", "n_neighbors=0"], 1, "n_neighbors"),
    ("knn-weights-bogus", [*IMPUTE, "--method", "knn", "--param", "weights=bogus"], 1, "weights"),
    ("distance-k-0", [*IMPUTE, "--method", "distance", "--param", "k=0"], 1, "k="),
    ("distance-k-neg", [*IMPUTE, "--method", "distance", "--param", "k=-1"], 1, "k="),
    ("additive-iter-neg", [*IMPUTE, "--method", "additive", "--param", "max_iter=-1"], 1, "max_iter"),
    (
        "hybrid-heads",
        [*IMPUTE, "--method", "hybrid", "--param", "d_model=30", "--param", "n_heads=4"],
        1,
        "n_heads",
    ),
    ("hybrid-trees-0", [*IMPUTE, "--method", "hybrid", "--param", "n_estimators=0"], 1, "n_estimators"),
    ("hybrid-epochs-0", [*IMPUTE, "--method", "hybrid", "--param", "max_epochs=0"], 1, "max_epochs"),
    ("hybrid-batch-0", [*IMPUTE, "--method", "hybrid", "--param", "batch_size=0"], 1, "batch_size"),
    (
        "hybrid-valfrac",
        [*IMPUTE, "--method", "hybrid", "--param", "validation_fraction=1.5"],
        1,
        "validation_fraction",
    ),
    ("hybrid-folds-1", [*IMPUTE, "--method", "hybrid", "--param", "n_folds=1"], 1, "n_folds"),
    ("hybrid-folds-0", [*IMPUTE, "--method", "hybrid", "--param", "n_folds=0"], 1, "n_folds"),
    ("device-tpu", [*IMPUTE, "--device", "tpu"], 1, "device"),
    ("device-not-hybrid", [*IMPUTE, "--method", "knn", "--device", "cpu"], 2, "hybrid"),
    ("model-and-method", [*IMPUTE, "--model", "{bad_zip}", "--method", "knn"], 2, "not both"),
    ("model-missing", [*IMPUTE, "--model", "{missing}"], 1, "absent.h5ad"),
    ("model-is-h5ad", [*IMPUTE, "--model", "{good}"], 1, "model"),
    ("model-truncated-zip", [*IMPUTE, "--model", "{bad_zip}"], 1, "model"),
    ("model-params-list", [*IMPUTE, "--model", "{list_zip}"], 1, "params.json"),
    ("input-missing", ["impute", "{missing}", "-o", "{out}"], 1, "absent.h5ad"),
    ("input-empty", ["impute", "{empty}", "-o", "{out}"], 1, "empty"),
    ("input-truncated-h5ad", ["impute", "{truncated}", "-o", "{out}"], 1, "truncated.h5ad"),
    ("input-not-hdf5", ["impute", "{not_hdf5}", "-o", "{out}"], 1, "text.h5ad"),
    ("input-truncated-gct", ["impute", "{truncated_gct}", "-o", "{out}"], 1, "truncated.gct.gz"),
    ("input-short-gct-row", ["impute", "{short_row_gct}", "-o", "{out}"], 1, "line"),
    ("input-is-folder", ["impute", "{folder}", "-o", "{out}"], 1, "a_folder"),
    ("output-is-input", ["impute", "{good}", "-o", "{good}"], 1, "input"),
    ("output-is-folder", ["impute", "{good}", "-o", "{folder}"], 1, "folder"),
    ("output-under-file", ["impute", "{good}", "-o", "{file}/x.h5ad"], 1, "is a file"),
    ("tissue-key-absent", [*IMPUTE, "--method", "mean", "--tissue-key", "nope"], 1, "nope"),
    ("layer-absent", [*IMPUTE, "--method", "mean", "--layer", "nope"], 1, "nope"),
    ("key-added-empty", [*IMPUTE, "--method", "mean", "--key-added", ""], 1, "--key-added"),
    (
        "key-added-is-layer",
        [*IMPUTE, "--method", "mean", "--layer", "truth", "--key-added", "truth"],
        1,
        "truth",
    ),
    ("gct-attrs-absent", ["impute", "{gct}", "-o", "{out}", "--sample-attributes", "{missing}"], 1, "absent"),
    ("annotate-nothing", ["annotate", "{good}", "-o", "{out}"], 2, "nothing to do"),
    ("annotate-h5ad-as-gtf", ["annotate", "{good}", "-o", "{out}", "--annotation", "{good}"], 1, "sim.h5ad"),
    ("annotate-gtf-missing", ["annotate", "{good}", "-o", "{out}", "--annotation", "{missing}"], 1, "absent"),
    (
        "annotate-mapping-alone",
        ["annotate", "{good}", "-o", "{out}", "--promoter-mapping", "{file}"],
        2,
        "--promoters",
    ),
    (
        "annotate-both-seqs",
        ["annotate", "{good}", "-o", "{out}", "--fasta", "{fasta}", "--promoters", "{file}"],
        2,
        "not allowed",
    ),
    (
        "annotate-upstream-neg",
        ["annotate", "{good}", "-o", "{out}", "--fasta", "{fasta}", "--upstream", "-5"],
        2,
        "out of range",
    ),
    ("fit-method-unknown", ["fit", "{good}", "-o", "{out}", "--method", "bogus"], 1, "bogus"),
    ("fit-output-folder", ["fit", "{good}", "-o", "{folder}", "--method", "mean"], 1, "folder"),
    ("eval-protocol", [*EVAL, "--protocol", "bogus"], 2, "invalid choice"),
    ("eval-fraction-0", [*EVAL, "--fraction", "0"], 2, "out of range"),
    ("eval-fraction-1", [*EVAL, "--fraction", "1"], 2, "out of range"),
    ("eval-folds-1", [*EVAL, "--n-folds", "1"], 2, "out of range"),
    ("eval-methods-empty", ["evaluate", "{good}", "-o", "{out}", "--methods", ","], 2, "names nothing"),
    ("eval-param-other-method", [*EVAL, "--param", "knn.n_neighbors=3"], 2, "METHOD.KEY=VALUE"),
    ("eval-param-no-method", [*EVAL, "--param", "n_neighbors=3"], 2, "METHOD.KEY=VALUE"),
    ("eval-plot-under-file", [*EVAL, "--plot", "{file}/x.png"], 1, "is a file"),
    ("eval-samples-no-donor", [*EVAL, "--protocol", "samples", "--donor-key", "nope"], 1, "nope"),
    ("complete-donor-key", [*COMPLETE, "--donor-key", "nope"], 1, "nope"),
    ("complete-tissue-absent", [*COMPLETE, "--tissues", "nope"], 1, "nope"),
    ("complete-donor-absent", [*COMPLETE, "--donors", "nope"], 1, "nope"),
    ("complete-aggregate", [*COMPLETE, "--aggregate", "median"], 2, "invalid choice"),
    ("complete-block-0", [*COMPLETE, "--block-size", "0"], 2, "out of range"),
    ("complete-gct-is-input", [*COMPLETE, "--gct-output", "{good}"], 1, "input"),
    ("complete-plot-under-file", [*COMPLETE, "--plot", "{file}/x.png"], 1, "is a file"),
    ("simulate-genes-0", ["simulate", "-o", "{out}", "--n-genes", "0"], 2, "out of range"),
    ("simulate-preset", ["simulate", "-o", "{out}", "--preset", "gtex_v9"], 2, "invalid choice"),
    ("simulate-files-need-folder", ["simulate", "-o", "{out}", "--fasta"], 2, "folder"),
    ("demo-output-is-file", ["demo", "-o", "{file}"], 1, "not a folder"),
]


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("gex-impute: error: ")]
    assert len(errors) == 1, err
    assert "Traceback" not in err, err
    return errors[0]


@pytest.mark.parametrize(
    ("argv", "status", "fragment"), [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES]
)
def test_cli_bad_input(argv, status, fragment, files, tmp_path, capsys):
    out = tmp_path / "result" / "out.h5ad"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main(_argv(argv, files, out)) == status
    line = _error_line(capsys.readouterr().err)
    assert fragment.lower() in line.lower(), line
    assert not out.exists(), "no output may be left after an error"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "no temporary file may be left"


def test_cli_debug_shows_the_traceback(files, tmp_path, capsys):
    assert main(["impute", str(files["truncated"]), "-o", str(tmp_path / "o.h5ad"), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "gex-impute: error:" in err


def test_cli_inputs_never_modified(files, tmp_path):
    before = files["good"].read_bytes()
    assert main(["impute", str(files["good"]), "-o", str(tmp_path / "o.h5ad"), "--method", "mean", "-q"]) == 0
    assert files["good"].read_bytes() == before


# -- the Python API ------------------------------------------------------------------------------
def _sim():
    return gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=80, random_state=0)


def _api_cases():
    """(id, callable, fragment): each call must raise a GexImputeError (or ValueError/KeyError)."""
    m = gi.methods.get_method
    return [
        ("distance-k-0", lambda: m("distance", k=0), "k"),
        ("knn-neighbors-0", lambda: m("knn", n_neighbors=0), "n_neighbors"),
        ("knn-weights", lambda: m("knn", weights="bogus"), "weights"),
        ("additive-iter", lambda: m("additive", max_iter=-1), "max_iter"),
        ("hybrid-heads", lambda: m("hybrid", d_model=30, n_heads=4), "n_heads"),
        ("hybrid-trees", lambda: m("hybrid", n_estimators=0), "n_estimators"),
        ("hybrid-device", lambda: m("hybrid", device="tpu"), "device"),
        ("hybrid-seed", lambda: m("hybrid", random_state=-1), "random_state"),
        ("set-params", lambda: m("knn").set_params(n_neighbors=-3), "n_neighbors"),
        ("unknown-param", lambda: m("knn", bogus=1), "bogus"),
        ("unknown-method", lambda: m("bogus"), "bogus"),
        ("impute-key-empty", lambda: gi.tl.impute(_sim(), method="mean", key_added=""), "key_added"),
        ("impute-key-none", lambda: gi.tl.impute(_sim(), method="mean", key_added=None), "key_added"),
        (
            "impute-key-is-layer",
            lambda: gi.tl.impute(_sim(), method="mean", layer="truth", key_added="truth"),
            "overwrite",
        ),
        ("impute-tissue-key", lambda: gi.tl.impute(_sim(), method="mean", tissue_key="nope"), "nope"),
        ("impute-layer", lambda: gi.tl.impute(_sim(), method="mean", layer="nope"), "nope"),
        ("impute-zero-genes", lambda: gi.tl.impute(_sim()[:, :0].copy(), method="mean"), "0 genes"),
        ("impute-zero-samples", lambda: gi.tl.impute(_sim()[:0].copy(), method="mean"), "0 samples"),
        ("complete-no-donor", lambda: gi.tl.complete(_sim(), method="mean", donor_key="nope"), "nope"),
        ("complete-tissue", lambda: gi.tl.complete(_sim(), method="mean", tissues=["nope"]), "nope"),
        ("complete-donor", lambda: gi.tl.complete(_sim(), method="mean", donors=["nope"]), "nope"),
        ("evaluate-protocol", lambda: gi.tl.evaluate(_sim(), protocol="bogus", methods=["mean"]), "protocol"),
        ("read-gct-hdf5", lambda: gi.io.read_gct(TEST_DATA / "sim.h5ad"), "sim.h5ad"),
        ("read-annotation-h5ad", lambda: gi.io.read_annotation(TEST_DATA / "sim.h5ad"), "sim.h5ad"),
        ("load-model-h5ad", lambda: gi.methods.load_model(TEST_DATA / "sim.h5ad"), "model"),
    ]


API_CASES = _api_cases()


@pytest.mark.parametrize(("call", "fragment"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_bad_input(call, fragment):
    with pytest.raises((GexImputeError, ValueError, KeyError, FileNotFoundError)) as info:
        call()
    assert fragment.lower() in str(info.value).lower(), str(info.value)


def test_nan_donor_labels_refused():
    adata = _sim()
    adata.obs["donor"] = adata.obs["donor"].astype(object)
    adata.obs.iloc[0, adata.obs.columns.get_loc("donor")] = np.nan
    with pytest.raises(GexImputeError, match="donor"):
        gi.tl.impute(adata, method="mean", donor_key="donor")


def test_files_left_untouched_by_failing_reads(files):
    before = {k: p.read_bytes() for k, p in files.items() if p.is_file()}
    for key in ("truncated", "empty", "not_hdf5", "truncated_gct"):
        with pytest.raises(GexImputeError):
            gi.io.read_expression(files[key])
    assert {k: p.read_bytes() for k, p in files.items() if p.is_file()} == before


def test_table_is_large_enough():
    assert len(CLI_CASES) + len(API_CASES) >= 80
