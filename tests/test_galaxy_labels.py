"""Each wrapper gives its jobs GEX_IMPUTE_FIELD_LABELS, read from its own fields (sweep O item 6)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from gex_impute.cli import FIELD_LABELS_ENV

GALAXY = Path(__file__).resolve().parent.parent / "galaxy"
TOOLS = sorted(GALAXY.glob("gex_impute_*.xml"))


def _labels(path: Path) -> dict[str, str]:
    root = ElementTree.parse(path).getroot()
    (variable,) = root.findall("environment_variables/environment_variable")
    assert variable.get("name") == FIELD_LABELS_ENV
    return json.loads(variable.text)


def test_the_builders_use_the_clis_variable():
    sys.path.insert(0, str(GALAXY))
    try:
        from builders import labels
    finally:
        sys.path.pop(0)
    assert labels.ENV == FIELD_LABELS_ENV


@pytest.mark.parametrize("path", TOOLS, ids=[p.stem for p in TOOLS])
def test_labels_are_the_fields_of_flags_the_command_passes(path):
    load = pytest.importorskip("galaxy.util.xml_macros", reason="Galaxy's xml_macros (the galaxy extra)").load
    found = _labels(path)
    root = load(str(path)).getroot()
    command = root.find("command").text
    fields = {p.get("label") for p in root.find("inputs").iter("param")}
    assert found["--tissue-key"] == "Tissue column"
    for flag, label in found.items():
        assert re.search(rf"{flag}(?![\w-])", command), (path.name, flag)
        assert label in fields, (path.name, label)
    if path.stem != "gex_impute_annotate":
        assert found["--donor-key"] == "Donor column"
        assert found["--log-transform"] == "Model log1p of the values"


def test_complete_names_its_sex_fields():
    found = _labels(GALAXY / "gex_impute_complete.xml")
    assert found["--sex-key"] == "Sex column"
    assert found["--no-sex"].startswith("Estimate every donor x tissue profile")
    assert "--no-donors" not in found  # complete has no such field
    assert _labels(GALAXY / "gex_impute_impute.xml")["--no-donors"] == "Donors unknown"
