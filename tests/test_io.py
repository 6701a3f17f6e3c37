"""Readers and writers of gex_impute.io on small hand-written files."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute import io
from gex_impute.errors import InputFileError
from gex_impute.io import strip_version

SAMPLES = ["GTEX-1117F-0226-SM-5GZZ7", "GTEX-1117F-0426-SM-5EGHI", "GTEX-111CU-0226-SM-5GZXO"]
ATTRS = pd.DataFrame(
    {
        "SAMPID": SAMPLES + ["GTEX-ZZZZ-0001-SM-XXXX"],
        "SMTS": ["Adipose Tissue", "Muscle", "Adipose Tissue", "Blood"],
        "SMTSD": [
            "Adipose - Subcutaneous",
            "Muscle - Skeletal",
            "Adipose - Visceral (Omentum)",
            "Whole Blood",
        ],
        "SMRIN": [6.8, 7.2, np.nan, 9.0],
    }
)


def _gct_text(values: np.ndarray, names, symbols, samples, dims=None) -> str:
    n_genes, n_samples = values.shape
    dims = dims or (n_genes, n_samples)
    lines = ["#1.2", f"{dims[0]}\t{dims[1]}", "\t".join(["Name", "Description", *samples])]
    for name, sym, row in zip(names, symbols, values, strict=True):
        cells = ["" if np.isnan(v) else repr(float(v)) for v in row]
        lines.append("\t".join([name, sym, *cells]))
    return "\n".join(lines) + "\n"


@pytest.fixture
def gct_values():
    rng = np.random.default_rng(1)
    values = rng.gamma(1.0, 20.0, size=(7, 3)).astype(np.float32)
    values[2, 1] = np.nan
    return values


@pytest.fixture
def attrs_path(tmp_path):
    path = tmp_path / "attrs.tsv"
    ATTRS.to_csv(path, sep="\t", index=False)
    return path


def _names(n):
    return [f"ENSG{i:011d}.{i % 3 + 1}" for i in range(n)]


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("chunksize", [None, 1, 3])
def test_read_gct_values_and_attributes(tmp_path, gct_values, attrs_path, compressed, chunksize):
    names = _names(7)
    text = _gct_text(gct_values, names, [f"SYM{i}" for i in range(7)], SAMPLES)
    path = tmp_path / ("x.gct.gz" if compressed else "x.gct")
    if compressed:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    adata = io.read_gct(path, attrs_path, chunksize=chunksize)
    assert adata.shape == (3, 7)
    assert adata.X.dtype == np.float32
    np.testing.assert_array_equal(adata.X, gct_values.T)  # NaN at the same place
    assert list(adata.var_names) == names
    assert adata.var["symbol"].tolist() == [f"SYM{i}" for i in range(7)]
    assert list(adata.obs_names) == SAMPLES
    assert adata.obs["tissue"].tolist() == ATTRS["SMTSD"][:3].tolist()
    assert adata.obs["tissue_group"].tolist() == ATTRS["SMTS"][:3].tolist()
    assert adata.obs["donor"].tolist() == ["GTEX-1117F", "GTEX-1117F", "GTEX-111CU"]
    assert adata.obs["SMRIN"].iloc[0] == pytest.approx(6.8)
    # GTEx ids name their donors: registered, so every tool uses them unless told not to
    assert adata.uns["gex_impute"] == {"tissue_key": "tissue", "donor_key": "donor"}
    # the contract reader accepts it as is
    data, orientation = gi._data.from_anndata(adata, tissue_key="tissue", donor_key="donor")
    assert orientation == "samples_x_genes"
    assert data.donor is not None and len(data.donor.categories) == 2


def test_read_gct_without_attributes_and_roundtrip(tmp_path, gct_values):
    path = tmp_path / "x.gct"
    path.write_text(_gct_text(gct_values, _names(7), ["a"] * 7, SAMPLES))
    adata = io.read_gct(path)
    assert "tissue" not in adata.obs
    assert adata.obs["donor"].nunique() == 2
    assert "gex_impute" not in adata.uns  # no tissues known: nothing to register
    out = tmp_path / "sub" / "x.h5ad"
    io.write_h5ad(adata, out)
    back = io.read_h5ad(out)
    np.testing.assert_array_equal(back.X, adata.X)
    assert list(back.var_names) == list(adata.var_names)
    assert [p.name for p in out.parent.iterdir()] == ["x.h5ad"]  # no temp file left behind


def test_read_gct_accepts_attribute_dataframe(tmp_path, gct_values):
    path = tmp_path / "x.gct"
    path.write_text(_gct_text(gct_values, _names(7), ["a"] * 7, SAMPLES))
    adata = io.read_gct(path, ATTRS.set_index("SAMPID"))
    assert adata.obs["tissue"].iloc[1] == "Muscle - Skeletal"


def test_read_gct_missing_samples_in_attributes(tmp_path, gct_values):
    path = tmp_path / "x.gct"
    samples = [*SAMPLES[:2], "GTEX-NOPE-0001-SM-AAAA"]
    path.write_text(_gct_text(gct_values, _names(7), ["a"] * 7, samples))
    with pytest.raises(ValueError, match=r"1 of 3 GCT samples.*GTEX-NOPE-0001-SM-AAAA"):
        io.read_gct(path, ATTRS)


def test_read_gct_attributes_without_smtsd(tmp_path, gct_values):
    path = tmp_path / "x.gct"
    path.write_text(_gct_text(gct_values, _names(7), ["a"] * 7, SAMPLES))
    bad = tmp_path / "attrs.tsv"
    ATTRS.drop(columns="SMTSD").to_csv(bad, sep="\t", index=False)
    with pytest.raises(ValueError, match="SMTSD"):
        io.read_gct(path, bad)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda t: t.replace("#1.2", "#1.3", 1), "not a GCT v1.2"),
        (lambda t: t.replace("Name\tDescription", "Id\tDescription", 1), "Name<TAB>Description"),
        (lambda t: t.replace("7\t3", "7\tthree", 1), "number of genes"),
        (lambda t: t.replace("7\t3", "7\t4", 1), "declares 4 samples"),
        (lambda t: t.replace("7\t3", "9\t3", 1), "declares 9 genes but the file holds 7"),
        (lambda t: t.replace("7\t3", "5\t3", 1), "declares 5 genes but the file holds more"),
        (lambda t: t.replace("\tSYM3\t", "\tSYM3\tabc", 1), r"line 7: value .abc.*not a number"),
        (lambda t: t.replace(SAMPLES[2], SAMPLES[0]), "more than once"),
    ],
    ids=["version", "header", "dims-text", "dims-samples", "short", "long", "non-numeric", "dup-samples"],
)
def test_read_gct_malformed(tmp_path, gct_values, mutate, pattern):
    text = _gct_text(gct_values, _names(7), [f"SYM{i}" for i in range(7)], SAMPLES)
    path = tmp_path / "bad.gct"
    path.write_text(mutate(text))
    with pytest.raises(ValueError, match=pattern):
        io.read_gct(path, chunksize=2)


def test_read_gct_non_numeric_names_the_value(tmp_path, gct_values):
    text = _gct_text(gct_values, _names(7), ["a"] * 7, SAMPLES).splitlines()
    fields = text[5].split("\t")
    fields[3] = "oops"
    text[5] = "\t".join(fields)
    path = tmp_path / "bad.gct"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError, match="oops"):
        io.read_gct(path)


def test_read_gct_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.gct"):
        io.read_gct(tmp_path / "nope.gct")


def test_read_tissue_table(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text(
        "\tLiver\tBrain\tHeart\n"
        "ENSG00000000003\t1.5\t2\t3\n"
        "ENSG00000000005\t0\tNA\t7.25\n"
        "ENSG00000000419\t4\t5\t\n"
    )
    adata = io.read_tissue_table(path)
    assert adata.shape == (3, 3)
    assert list(adata.obs_names) == ["Liver", "Brain", "Heart"]
    assert adata.obs["tissue"].tolist() == ["Liver", "Brain", "Heart"]
    assert list(adata.var_names) == ["ENSG00000000003", "ENSG00000000005", "ENSG00000000419"]
    assert adata.X[0, 0] == pytest.approx(1.5) and adata.X[2, 1] == pytest.approx(7.25)
    assert np.isnan(adata.X[1, 1]) and np.isnan(adata.X[2, 2])


def test_read_tissue_table_symbol_column_goes_to_var(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("gene\tsymbol\tLiver\tBrain\nG1\tAAA\t1\t2\nG2\tBBB\t3\t4\n")
    adata = io.read_tissue_table(path)
    assert adata.var["symbol"].tolist() == ["AAA", "BBB"]
    assert list(adata.obs_names) == ["Liver", "Brain"]


def test_read_tissue_table_stray_word(tmp_path):
    rows = "\n".join(f"G{i}\t{i}\t{'bad' if i == 5 else i + 1}" for i in range(20))
    path = tmp_path / "t.tsv"
    path.write_text("\tLiver\tBrain\n" + rows + "\n")
    with pytest.raises(
        InputFileError, match=r"line 7: tissue column 'Brain' holds the non-numeric value 'bad' \(gene 'G5'"
    ):
        io.read_tissue_table(path)


def test_read_expression_dispatch(tmp_path, gct_values, attrs_path):
    gct = tmp_path / "x.gct"
    gct.write_text(_gct_text(gct_values, _names(7), ["a"] * 7, SAMPLES))
    assert io.read_expression(gct, sample_attributes=attrs_path).obs["tissue"].nunique() == 3
    odd = tmp_path / "x.data"  # unknown suffix, recognised by its #1.2 line
    odd.write_text(gct.read_text())
    assert io.read_expression(odd).shape == (3, 7)
    table = tmp_path / "t.tsv.gz"
    with gzip.open(table, "wt") as fh:
        fh.write("\tA\tB\nG1\t1\t2\n")
    assert io.read_expression(table).shape == (2, 1)
    with pytest.raises(ValueError, match="GCT input only"):
        io.read_expression(table, sample_attributes=attrs_path)
    h5 = tmp_path / "x.h5ad"
    io.write_h5ad(io.read_gct(gct), h5)
    assert io.read_expression(h5).shape == (3, 7)
    unknown = tmp_path / "x.bin"
    unknown.write_text("hello\n")
    with pytest.raises(ValueError, match="cannot tell the format"):
        io.read_expression(unknown)


def test_write_h5ad_failure_leaves_no_file(tmp_path, gct_values):
    gct = tmp_path / "x.gct"
    gct.write_text(_gct_text(gct_values, _names(7), ["a"] * 7, SAMPLES))
    adata = io.read_gct(gct)
    adata.uns["bad"] = object()  # not h5ad-writable
    out = tmp_path / "out" / "y.h5ad"
    with pytest.raises(Exception):  # noqa: B017 - anndata raises its own error type
        io.write_h5ad(adata, out)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


# ---------------------------------------------------------------------------------------------
# the project's generated files


def test_generated_gct(test_data):
    gct = test_data / "expression.gct.gz"
    if not gct.exists():
        gct = test_data / "expression.gct"
    if not gct.exists():
        pytest.skip("test-data/expression.gct(.gz) not generated yet (scripts/make_test_data.py)")
    adata = io.read_gct(gct, test_data / "sample_attributes.tsv")
    sim = io.read_h5ad(test_data / "sim.h5ad")
    assert adata.n_obs > 0 and adata.n_vars > 0
    assert adata.obs["tissue"].notna().all()
    assert adata.obs["donor"].nunique() > 1
    assert (adata.obs["tissue"] == sim.obs.loc[adata.obs_names, "tissue"].astype(str)).all()
    assert (adata.obs["donor"] == sim.obs.loc[adata.obs_names, "donor"].astype(str)).all()
    # same matrix as the h5ad it was written from (GCT names carry Ensembl versions)
    genes = strip_version(adata.var_names)
    assert genes.isin(sim.var_names).all()
    ref = np.asarray(sim[adata.obs_names, genes].X, dtype=np.float64)
    got = np.asarray(adata.X, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_allclose(got[~np.isnan(got)], ref[~np.isnan(ref)], rtol=1e-4, atol=1e-3)
