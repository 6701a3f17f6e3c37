"""GEX_IMPUTE_FIELD_LABELS: the Galaxy wrappers' form labels in the CLI's messages (sweep O item 6)."""

from __future__ import annotations

import json

import pytest

import gex_impute as gi
from gex_impute.cli import FIELD_LABELS_ENV, _as_cli, main

LABELS = {
    "--donor-key": "Donor column",
    "--no-donors": "Donors unknown",
    "--sample-attributes": "Sample attributes (SampleAttributesDS)",
}


def test_without_the_variable_messages_name_the_flags(monkeypatch):
    monkeypatch.delenv(FIELD_LABELS_ENV, raising=False)
    assert _as_cli("pass donor_key= naming it") == "pass --donor-key naming it"


@pytest.mark.parametrize("value", ["", "not json", "[1, 2]", '{"--donor-key": 3}'])
def test_a_variable_that_is_no_label_map_is_ignored(monkeypatch, value):
    monkeypatch.setenv(FIELD_LABELS_ENV, value)
    assert _as_cli("pass donor_key= naming it") == "pass --donor-key naming it"


def test_flags_with_a_label_are_named_by_it(monkeypatch):
    monkeypatch.setenv(FIELD_LABELS_ENV, json.dumps(LABELS))
    cases = {
        "pass donor_key= naming it": "pass 'Donor column' (--donor-key) naming it",
        "pass donor_key=False when predicting": "pass 'Donors unknown' (--no-donors) when predicting",
        # written for both interfaces: the field first, then the flag
        "as sample_attributes (CLI: --sample-attributes)": (
            "as sample_attributes ('Sample attributes (SampleAttributesDS)', CLI: --sample-attributes)"
        ),
        # no label: as before; a longer flag is not the labelled one
        "pass --tissue-key or --donor-key-x": "pass --tissue-key or --donor-key-x",
    }
    for text, expected in cases.items():
        assert _as_cli(text) == expected
    assert _as_cli(_as_cli("pass donor_key= naming it")) == "pass 'Donor column' (--donor-key) naming it"


def test_the_error_line_names_the_field(sim_file, sim, tmp_path, capsys, monkeypatch):
    """As in a Galaxy job: a model fitted with donors, applied to data without a donor column."""
    model, bare, out = tmp_path / "mean.zip", tmp_path / "bare.h5ad", tmp_path / "out.h5ad"
    assert (
        main(["fit", str(sim_file), "-o", str(model), "--method", "mean", "--donor-key", "donor", "-q"]) == 0
    )
    without = sim.copy()
    del without.obs["donor"]
    gi.io.write_h5ad(without, bare)
    monkeypatch.setenv(FIELD_LABELS_ENV, json.dumps(LABELS))
    assert main(["impute", str(bare), "-o", str(out), "--model", str(model), "-q"]) == 1
    (line,) = [x for x in capsys.readouterr().err.splitlines() if x.startswith("gex-impute: error: ")]
    assert "pass 'Donors unknown' (--no-donors)" in line
