"""``gex-impute`` options: what each writes or refuses, and what its help says."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.cli import main
from gex_impute.cli._parser import build_parser


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(("name", "sep"), [("m.csv", ","), ("M.CSV", ","), ("m.tsv", "\t"), ("m.txt", "\t")])
def test_evaluate_writes_csv_for_a_csv_name(sim_file, tmp_path, name, sep):
    out = tmp_path / name
    argv = ["evaluate", str(sim_file), "-o", str(out), "--protocol", "entries", "--methods", "mean,knn", "-q"]
    assert main(argv) == 0
    header = out.read_text().splitlines()[0]
    assert sep in header and ({",", "\t"} - {sep}).isdisjoint(header)
    table = pd.read_csv(out, sep=sep, index_col=0)
    assert list(table.index) == ["mean", "knn"] and "pearson" in table.columns


@pytest.mark.parametrize("command", ["impute", "complete"])
def test_device_with_a_saved_model_without_one_is_refused(sim_file, tmp_path, capsys, command):
    model, out = tmp_path / "mean.zip", tmp_path / "out.h5ad"
    assert main(["fit", str(sim_file), "-o", str(model), "--method", "mean", "-q"]) == 0
    assert main([command, str(sim_file), "-o", str(out), "--model", str(model), "--device", "cpu"]) == 2
    err = _error(capsys)
    assert "--device applies to the hybrid model only" in err and "drop --device" in err
    assert not out.exists()


def test_device_is_applied_to_a_saved_hybrid(monkeypatch):
    from gex_impute import methods
    from gex_impute.cli import _commands

    monkeypatch.setattr(methods, "load_model", lambda path: gi.get_method("hybrid", device="auto"))
    args = argparse.Namespace(model="hybrid.zip", method=None, param=None, device="cpu")
    assert _commands._model_or_method(args).get_params()["device"] == "cpu"


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _option_help(command: str, flag: str) -> str:
    """The expanded help of ``flag`` in ``gex-impute command --help`` (defaults filled in)."""
    sub = _subcommands()[command]
    action = next(a for a in sub._actions if flag in a.option_strings)
    return sub._get_formatter()._expand_help(action)


@pytest.mark.parametrize("flag", ["--gtf", "--gct"])
def test_simulate_help_says_gtex_v8_writes_gtf_and_gct_anyway(flag):
    assert "always with --preset gtex_v8" in _option_help("simulate", flag)


def _options():
    for name, sub in _subcommands().items():
        for action in sub._actions:
            if action.option_strings and action.help not in (None, argparse.SUPPRESS):
                yield name, action, sub._get_formatter()._expand_help(action)


#: options whose None leaves the API its own default, which the help names
IMPLICIT_DEFAULTS = {
    "--device",
    "--block-size",
    "--n-folds",
    "--scheduler",
    "--method",
    "--methods",
    "--layer",
    "--sex-key",
}


def test_every_option_with_a_default_shows_it_once():
    for command, action, text in _options():
        flag = action.option_strings[-1]
        valued = action.default not in (None, False, argparse.SUPPRESS)
        if valued or flag in IMPLICIT_DEFAULTS:
            assert "default" in text, f"{command} {flag}: {text!r}"
        assert text.count("(default") <= 1 and "%(" not in text, f"{command} {flag}: {text!r}"


def test_defaults_named_in_the_help_are_the_apis():
    import inspect

    from gex_impute.cli._parser import DEFAULT_BLOCK_SIZE, DEFAULT_DEVICE
    from gex_impute.methods import get_method

    assert inspect.signature(gi.tl.complete).parameters["block_size"].default == DEFAULT_BLOCK_SIZE
    assert get_method("hybrid").get_params()["device"] == DEFAULT_DEVICE


def test_donor_column_default_is_the_apis_and_the_help_says_it(sim_file, sim, tmp_path):
    expected = {
        "fit": "else the column donor if the input has one, else none: donors unused",
        "evaluate": "else the column donor if the input has one, else none: donors unused",
        "impute": "else the one --model was fitted with (none if it was fitted without), else the column",
        "complete": "else the one --model was fitted with, else donor",
    }
    for command, rule in expected.items():
        action = next(a for a in _subcommands()[command]._actions if "--donor-key" in a.option_strings)
        assert action.default is None  # nothing of the CLI's own: the API decides
        assert f"(default: the one the input registered, {rule}" in _option_help(command, "--donor-key")
    model = tmp_path / "mean.zip"
    assert main(["fit", str(sim_file), "-o", str(model), "--method", "mean", "-q"]) == 0
    assert gi.load_model(model).donor_key_ == gi.get_method("mean").fit(sim).donor_key_ == "donor"
    assert (
        main(["fit", str(sim_file), "-o", str(model), "--method", "mean", "-q", "--no-donors", "--overwrite"])
        == 0
    )
    assert gi.load_model(model).donor_key_ is None


@pytest.fixture(scope="module")
def gtex_folder(tmp_path_factory):
    """A simulated GTEx v8 download: enough donors for the sex-specific tissues to stand out."""
    folder = tmp_path_factory.mktemp("gtex") / "sim"
    assert (
        main(
            [
                "simulate",
                "--preset",
                "gtex_v8",
                "--n-donors",
                "120",
                "--n-genes",
                "30",
                "-o",
                str(folder),
                "-q",
            ]
        )
        == 0
    )
    return folder


def _complete_gtex(folder, out, *options: str) -> int:
    argv = ["complete", str(next(folder.glob("*gene_tpm.gct.gz"))), "-o", str(out), "--method", "mean", "-q"]
    argv += ["--sample-attributes", str(next(folder.glob("*SampleAttributesDS.txt")))]
    argv += ["--subject-phenotypes", str(next(folder.glob("*SubjectPhenotypesDS.txt")))]
    return main([*argv, *options])


def test_complete_sex_key_and_no_sex_reach_the_api(gtex_folder, tmp_path, capsys):
    import inspect

    from gex_impute.cli._arguments import DEFAULT_SEX_KEY

    assert inspect.signature(gi.tl.complete).parameters["sex_key"].default == DEFAULT_SEX_KEY
    assert f"(default: {DEFAULT_SEX_KEY})" in _option_help("complete", "--sex-key")
    by_sex, every, named = tmp_path / "sex.h5ad", tmp_path / "all.h5ad", tmp_path / "named.h5ad"
    assert _complete_gtex(gtex_folder, by_sex) == 0  # the API's default: the subject phenotypes' 'sex'
    assert _complete_gtex(gtex_folder, named, "--sex-key", "sex") == 0
    assert _complete_gtex(gtex_folder, every, "--no-sex") == 0
    with_sex, without = gi.io.read_h5ad(by_sex), gi.io.read_h5ad(every)
    record = with_sex.uns["completed"]
    assert record["sex_specific_tissues"]["Prostate"] == "male"
    assert record["sex_specific_tissues"]["Uterus"] == "female"
    assert record["n_ruled_out_profiles"] > 0
    prostate = with_sex.obs[with_sex.obs["tissue"] == "Prostate"]
    assert set(prostate["sex"].dropna()) == {"male"}  # no female prostate
    assert gi.io.read_h5ad(named).uns["completed"]["n_ruled_out_profiles"] == record["n_ruled_out_profiles"]
    assert (
        # .get: anndata 0.10 leaves a None out of the file
        without.uns["completed"].get("sex_key") is None
        and not without.uns["completed"].get("sex_specific_tissues")
    )
    assert without.uns["completed"]["n_ruled_out_profiles"] == 0
    assert without.n_obs == with_sex.n_obs + record["n_ruled_out_profiles"]
    capsys.readouterr()
    # a column that is not there: the API's error in the command's words; both flags: a usage error
    assert _complete_gtex(gtex_folder, tmp_path / "x.h5ad", "--sex-key", "gender") == 1
    err = _error(capsys)
    assert "--sex-key 'gender' is not a column" in err and "pass --no-sex" in err
    assert _complete_gtex(gtex_folder, tmp_path / "y.h5ad", "--sex-key", "sex", "--no-sex") == 2
    assert "not allowed with argument" in _error(capsys)
