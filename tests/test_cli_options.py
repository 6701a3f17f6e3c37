"""``gex-impute`` options: what each writes or refuses, and what its help says."""

from __future__ import annotations

import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.cli import main


@pytest.fixture
def sim_file(sim, tmp_path):
    path = tmp_path / "sim.h5ad"
    gi.io.write_h5ad(sim, path)
    return path


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
