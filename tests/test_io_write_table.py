"""``gex_impute.io.write_table``: the separator follows the suffix."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from gex_impute import io

TABLE = pd.DataFrame(
    {"pearson": [0.123456789, np.nan], "n": [3, 4]}, index=pd.Index(["knn", "mean"], name="method")
)


@pytest.mark.parametrize(
    ("name", "sep"),
    [
        ("m.csv", ","),
        ("M.CSV", ","),
        ("m.Csv", ","),
        ("m.tsv", "\t"),
        ("m.txt", "\t"),
        ("m", "\t"),
        ("m.csv.tsv", "\t"),
    ],
)
def test_write_table_separator_from_suffix(tmp_path, name, sep):
    path = io.write_table(TABLE, tmp_path / "sub" / name)
    assert path == tmp_path / "sub" / name
    lines = path.read_text().splitlines()
    assert lines[0] == sep.join(["method", "pearson", "n"])
    assert lines[1] == sep.join(["knn", "0.123457", "3"])  # 6 significant digits
    assert lines[2] == sep.join(["mean", "", "4"])
    pd.testing.assert_frame_equal(
        pd.read_csv(path, sep=sep, index_col=0), TABLE, check_exact=False, atol=1e-6
    )


@pytest.mark.parametrize(("name", "sep"), [("m.csv.gz", ","), ("m.CSV.GZ", ","), ("m.tsv.gz", "\t")])
def test_write_table_gzip(tmp_path, name, sep):
    path = io.write_table(TABLE, tmp_path / name)
    with gzip.open(path, "rt") as fh:
        assert fh.readline().rstrip("\n") == sep.join(["method", "pearson", "n"])


def test_write_table_without_index(tmp_path):
    path = io.write_table(TABLE.reset_index(), tmp_path / "m.csv", index=False)
    assert path.read_text().splitlines()[:2] == ["method,pearson,n", "knn,0.123457,3"]
