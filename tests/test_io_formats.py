"""Files as other tools write them: GTEx variants of GCT, BioMart tables, dbGaP tables, lift37 ids."""

from __future__ import annotations

import gzip
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute import io
from gex_impute.errors import InputFileError

SAMPLES = ["GTEX-1117F-0226-SM-5GZZ7", "GTEX-1117F-0426-SM-5EGHI", "GTEX-111CU-0226-SM-5GZXO"]
ROWS = ["G1\tA\t1\t2\t3", "G2\tB\t4\t\t6", "G3\tC\t7\t8\t9"]
WANT = np.array([[1, 4, 7], [2, np.nan, 8], [3, 6, 9]], dtype=np.float32)  # samples x genes
ATTRS = pd.DataFrame(
    {
        "SAMPID": SAMPLES,
        "SMTS": ["Adipose Tissue", "Muscle", "Adipose Tissue"],
        "SMTSD": ["Adipose - Subcutaneous", "Muscle - Skeletal", "Adipose - Visceral (Omentum)"],
        "SMRIN": [6.8, 7.2, 7.0],
    }
)


def _gct(rows=ROWS, samples=SAMPLES, *, header_end: str = "", row_end: str = "", newline: str = "\n") -> str:
    head = ["#1.2", f"{len(rows)}\t{len(samples)}", "\t".join(["Name", "Description", *samples]) + header_end]
    return newline.join(head + [r + row_end for r in rows]) + newline


def _write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def _check(adata, samples=SAMPLES) -> None:
    assert list(adata.obs_names) == samples
    assert list(adata.var_names) == ["G1", "G2", "G3"]
    assert adata.var["symbol"].tolist() == ["A", "B", "C"]
    np.testing.assert_array_equal(adata.X, WANT)


# ---------------------------------------------------------------------------------------------
# 1. write_gct keeps every value


def test_write_gct_round_trip_is_exact_in_float32(tmp_path):
    values = np.array(
        [
            [2015152, 0.1, 1e-7, 123456.789],
            [0, np.nan, 3.4e38, 16777215],
            [2.5, 1e6, 999999.5, 1.17549435e-38],
        ],
        dtype=np.float32,
    )
    adata = ad.AnnData(X=values, obs=pd.DataFrame(index=["S1", "S2", "S3"]))
    adata.var_names = ["G1", "G2", "G3", "G4"]
    out = io.write_gct(adata, tmp_path / "x.gct")
    back = io.read_gct(out)
    np.testing.assert_array_equal(back.X, values)  # NaN at the same place, every other value exact
    cells = [line.split("\t") for line in out.read_text().splitlines()[3:]]
    assert cells[0][2:] == ["2015152", "0", "2.5"]  # counts in full, not 2.01515e+06
    assert cells[1][2] == "0.1" and cells[2][2] == "1e-07"  # short values stay short
    assert cells[3][2] == "123456.789"


def test_write_gct_float64_keeps_float64_values(tmp_path):
    values = np.array([[0.1, 1 / 3, 2015152.25, 1e-300]])
    adata = ad.AnnData(X=values, obs=pd.DataFrame(index=["S1"]))
    out = io.write_gct(adata, tmp_path / "x.gct.gz")
    with gzip.open(out, "rt") as fh:
        cells = fh.read().splitlines()[3:]
    assert [float(c.split("\t")[2]) for c in cells] == values[0].tolist()
    assert cells[0].split("\t")[2] == "0.1"


# ---------------------------------------------------------------------------------------------
# 2. NaN spellings; a cell Python reads but the parser does not


@pytest.mark.parametrize("cell", ["-nan", "NAN", "-NaN", "+nan", "nan(ind)", "-nan(ind)", "1.#QNAN"])
def test_read_gct_nan_spellings_are_missing(tmp_path, cell):
    path = _write(tmp_path, "x.gct", _gct(["G1\tA\t1\t2\t3", f"G2\tB\t4\t{cell}\t6", "G3\tC\t7\t8\t9"]))
    _check(io.read_gct(path))


def test_read_gct_unknown_nan_spelling_is_named(tmp_path):
    path = _write(tmp_path, "x.gct", _gct(["G1\tA\t1\t2\t3", "G2\tB\t4\tnAn\t6", "G3\tC\t7\t8\t9"]))
    with pytest.raises(InputFileError, match=r"line 5: value 'nAn' of gene 'G2'.*NaN spelling.*NA or NaN"):
        io.read_gct(path)


@pytest.mark.parametrize("cell", ["1_000", "0x10"])
def test_read_gct_underscore_number_names_line_gene_and_sample(tmp_path, cell):
    path = _write(tmp_path, "x.gct", _gct(["G1\tA\t1\t2\t3", f"G2\tB\t4\t{cell}\t6", "G3\tC\t7\t8\t9"]))
    with pytest.raises(
        InputFileError,
        match=rf"line 5: value '{cell}' of gene 'G2', sample '{SAMPLES[1]}' \(column 4\) is not a number",
    ):
        io.read_gct(path, chunksize=1)


# ---------------------------------------------------------------------------------------------
# 3. and 4. trailing tabs, byte-order mark


@pytest.mark.parametrize(
    ("header_end", "row_end", "newline"),
    [("\t", "\t", "\n"), ("", "\t", "\n"), ("\t", "", "\n"), ("\t", "\t", "\r\n")],
    ids=["all-lines", "rows-only", "header-only", "crlf"],
)
@pytest.mark.parametrize("chunksize", [None, 1])
def test_read_gct_trailing_tab(tmp_path, header_end, row_end, newline, chunksize):
    path = _write(tmp_path, "x.gct", _gct(header_end=header_end, row_end=row_end, newline=newline))
    _check(io.read_gct(path, chunksize=chunksize))


def test_read_gct_trailing_cell_that_is_not_empty_is_refused(tmp_path):
    path = _write(tmp_path, "x.gct", _gct(["G1\tA\t1\t2\t3", "G2\tB\t4\t5\t6\t7", "G3\tC\t7\t8\t9"]))
    with pytest.raises(InputFileError, match=r"line 5 \(gene 'G2'\).*a cell is extra"):
        io.read_gct(path)


def test_read_gct_with_byte_order_mark(tmp_path):
    path = _write(tmp_path, "x.gct", "\ufeff" + _gct())
    _check(io.read_gct(path))
    odd = _write(tmp_path, "expression.txt", "\ufeff" + _gct())  # sniffed as GCT by its #1.2 line
    assert io.sniff_expression_format(odd) == "gct"
    _check(io.read_expression(odd))


def test_read_gct_long_lines_are_read_whole(tmp_path):
    samples = [f"GTEX-{i:05d}-0001" for i in range(40_000)]  # one row > the parser's read size
    rows = ["G1\tA\t" + "\t".join(["1.5"] * len(samples)) + "\t", "G2\tB\t" + "\t".join(["2"] * len(samples))]
    path = _write(tmp_path, "wide.gct", _gct(rows, samples))
    adata = io.read_gct(path)
    assert adata.shape == (40_000, 2)
    assert (adata.X[:, 0] == 1.5).all() and (adata.X[:, 1] == 2).all()


# ---------------------------------------------------------------------------------------------
# 5. GTEx v8 per-tissue GCTs: a leading id column


def _id_gct(rows=ROWS, n_samples: int = 3) -> str:
    head = ["#1.2", f"{len(rows)}\t{n_samples}", "\t".join(["id", "Name", "Description", *SAMPLES])]
    return "\n".join(head + [f"{k}\t{r}" for k, r in enumerate(rows)]) + "\n"


@pytest.mark.parametrize("n_samples", [3, 4], ids=["samples", "samples-and-id"])
def test_read_gct_gtex_v8_tissue_file_with_id_column(tmp_path, n_samples):
    path = tmp_path / "gene_tpm_2017-06-05_v8_adipose_subcutaneous.gct.gz"
    path.write_bytes(gzip.compress(_id_gct(n_samples=n_samples).encode()))
    _check(io.read_gct(path, chunksize=1))


def test_read_gct_id_column_errors_name_the_sample(tmp_path):
    path = _write(tmp_path, "x.gct", _id_gct(["G1\tA\t1\t2\t3", "G2\tB\t4\tx\t6", "G3\tC\t7\t8\t9"]))
    with pytest.raises(InputFileError, match=rf"line 5: value 'x' of gene 'G2', sample '{SAMPLES[1]}'"):
        io.read_gct(path)
    path = _write(tmp_path, "y.gct", _id_gct(["G1\tA\t1\t2\t3", "G2\tB\t4\t6", "G3\tC\t7\t8\t9"]))
    with pytest.raises(InputFileError, match=r"line 5 \(gene 'G2'\): 5 tab-separated fields, expected 6"):
        io.read_gct(path)


# ---------------------------------------------------------------------------------------------
# 6. a genes x tissues GCT; a sample-level GCT without sample attributes

TISSUES = ["Adipose - Subcutaneous", "Whole Blood", "Brain - Cortex"]


def test_read_gct_of_tissues_is_a_tissue_table(tmp_path):
    path = _write(tmp_path, "GTEx_gene_median_tpm.gct", _gct(samples=TISSUES))
    for adata in (io.read_gct(path), io.read_expression(path)):
        _check(adata, TISSUES)
        assert adata.obs["tissue"].tolist() == TISSUES  # as read_tissue_table names them
        assert "donor" not in adata.obs
    text = "Name\tDescription\t" + "\t".join(TISSUES) + "\n" + "\n".join(ROWS) + "\n"
    table = _write(tmp_path, "t.tsv", text)
    assert io.read_tissue_table(table).obs["tissue"].tolist() == TISSUES


def test_read_gct_of_samples_without_attributes_says_to_pass_them(tmp_path, caplog):
    path = _write(tmp_path, "x.gct", _gct())
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        adata = io.read_gct(path)
    assert "tissue" not in adata.obs
    assert "sample_attributes=" in caplog.text and "--sample-attributes" in caplog.text
    with pytest.raises(
        KeyError, match="no annotation at all: for a GTEx GCT, read it with its sample attributes"
    ):
        gi.tl.impute(adata, method="mean", progress=False)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        adata = io.read_gct(path, ATTRS)
    assert adata.obs["tissue"].tolist() == ATTRS["SMTSD"].tolist()
    assert "sample_attributes" not in caplog.text


# ---------------------------------------------------------------------------------------------
# 7. Ensembl BioMart exports (1-based, inclusive)

GENES = [("ENSG01", "1", 101, 200, "1"), ("ENSG02", "X", 1001, 1500, "-1")]  # 1-based, inclusive


@pytest.mark.parametrize(
    "header",
    [
        ["ensembl_gene_id", "chromosome_name", "start_position", "end_position", "strand"],
        ["Gene stable ID", "Chromosome/scaffold name", "Gene start (bp)", "Gene end (bp)", "Strand"],
    ],
    ids=["biomaRt", "web-export"],
)
@pytest.mark.parametrize("coordinates", ["0-based", "1-based"])
def test_read_biomart_export(tmp_path, header, coordinates):
    text = "\t".join([*header, "Gene type"]) + "\n"
    text += "".join("\t".join(map(str, g)) + "\tprotein_coding\n" for g in GENES)
    table = io.read_annotation(_write(tmp_path, "mart_export.txt", text), coordinates=coordinates)
    assert table.index.tolist() == ["ENSG01", "ENSG02"]
    assert table["chrom"].tolist() == ["1", "X"]
    assert table["start"].tolist() == [100, 1000]  # 0-based
    assert table["end"].tolist() == [200, 1500]  # exclusive
    assert table["strand"].tolist() == ["+", "-"]
    assert table["tss"].tolist() == [100, 1499]
    assert table["gene_type"].tolist() == ["protein_coding"] * 2


def test_read_biomart_export_with_tss(tmp_path):
    text = "Gene stable ID\tChromosome/scaffold name\tGene start (bp)\tGene end (bp)\tStrand\t"
    text += "Transcription start site (TSS)\nENSG01\t1\t101\t200\t1\t120\nENSG02\tX\t1001\t1500\t-1\t1400\n"
    table = io.read_annotation(_write(tmp_path, "mart_export.txt", text))
    assert table["tss"].tolist() == [119, 1399]


# ---------------------------------------------------------------------------------------------
# 8. and 9. identifiers


def test_strip_version_of_lift37_ids():
    ids = ["ENSG00000223972.5_2", "ENSG00000223972.5", "ENSG00000182378.14_PAR_Y"]
    ids.append("ENSG00000182378.14_2_PAR_Y")
    assert io.strip_version(ids).tolist() == [
        "ENSG00000223972",
        "ENSG00000223972",
        "ENSG00000182378_PAR_Y",
        "ENSG00000182378_PAR_Y",
    ]
    assert io.strip_version("ENSG00000223972.5_2") == "ENSG00000223972"
    assert io.strip_version("NM_000014.6_2") == "NM_000014.6_2"


def test_normalize_chrom_leaves_scaffold_accessions():
    assert io.normalize_chrom(["KI270728.1", "GL000194.1", "1", "MT"], "ucsc") == [
        "KI270728.1",
        "GL000194.1",
        "chr1",
        "chrM",
    ]
    assert io.normalize_chrom(["chrUn_KI270728v1", "chrUn_GL000194v1", "chr1"], "ensembl") == [
        "chrUn_KI270728v1",
        "chrUn_GL000194v1",
        "1",
    ]
    assert io.normalize_chrom(["chr6_GL000254v2_alt"], "ensembl") == ["6_GL000254v2_alt"]  # re-prefixed
    assert io.normalize_chrom(["KI270728.1"], "auto", reference=["chrKI270728.1"]) == ["KI270728.1"]


# ---------------------------------------------------------------------------------------------
# 10. a '/' in a sample-attribute column name


@pytest.mark.parametrize("as_frame", [False, True])
def test_slash_in_sample_attribute_column_is_replaced(tmp_path, caplog, as_frame):
    attrs = ATTRS.rename(columns={"SMRIN": "RIN/quality"})
    source = attrs
    if not as_frame:
        source = tmp_path / "attrs.txt"
        attrs.to_csv(source, sep="\t", index=False)
    path = _write(tmp_path, "x.gct", _gct())
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        adata = io.read_gct(path, source)
    assert "RIN_quality" in adata.obs and "RIN/quality" not in adata.obs
    assert "'RIN/quality'" in caplog.text and "'RIN_quality'" in caplog.text
    io.write_zarr(adata, tmp_path / "x.zarr")  # the store accepts the column
    assert "RIN_quality" in io.read_zarr(tmp_path / "x.zarr").obs


# ---------------------------------------------------------------------------------------------
# 11. a gzip-compressed .h5ad


def test_gzipped_h5ad_says_to_decompress(tmp_path):
    plain = tmp_path / "x.h5ad"
    io.write_h5ad(ad.AnnData(X=np.ones((2, 2), dtype=np.float32)), plain)
    for name in ("GSE1_x.h5ad.gz", "GSE1_x.gz"):
        gz = tmp_path / name
        gz.write_bytes(gzip.compress(plain.read_bytes()))
        for read in (io.read_h5ad, io.read_expression):
            with pytest.raises(InputFileError, match=r"gzip-compressed .h5ad file; decompress it first"):
                read(gz)


# ---------------------------------------------------------------------------------------------
# 12. dbGaP tables: comment lines and a blank line before the header

DBGAP = "# Study accession: phs000424.v8.p2\n# Table accession: pht002743.v8.p2.c1\n\n"


def test_dbgap_sample_attributes(tmp_path):
    table = ATTRS.assign(dbGaP_Sample_ID=range(3))[["dbGaP_Sample_ID", *ATTRS.columns]]
    text = DBGAP + table.to_csv(sep="\t", index=False)
    path = tmp_path / "phs000424.GTEx_Sample_Attributes.GRU.txt.gz"
    path.write_bytes(gzip.compress(text.encode()))
    attrs = io.read_sample_attributes(path)
    assert attrs.index.tolist() == SAMPLES
    assert attrs["SMTSD"].tolist() == ATTRS["SMTSD"].tolist()
    adata = io.read_gct(_write(tmp_path, "x.gct", _gct()), path)
    assert adata.obs["tissue"].tolist() == ATTRS["SMTSD"].tolist()


def test_dbgap_tables_keep_line_numbers_and_name_the_comments(tmp_path):
    text = DBGAP + "SUBJID\tSEX\tAGE\nGTEX-1\t1\t60-69\nGTEX-2\t3\t50-59\n"
    with pytest.raises(InputFileError, match=r"line 6: SEX '3' is not 1 \(male\) or 2 \(female\)"):
        io.read_subject_phenotypes(_write(tmp_path, "pheno.txt", text))
    text = DBGAP + "SAMPID\tSMTSD\nS1\tLung\nS1\tLiver\n"
    with pytest.raises(InputFileError, match=r"occur more than once \(e.g. 'S1', line 6\)"):
        io.read_sample_attributes(_write(tmp_path, "dup.txt", text))
    text = DBGAP + "sample\ttissue\nS1\tLung\n"
    pattern = r"starts with 3 comment \('#'\) or blank lines.*\['SAMPID', 'SMTSD'\]"
    with pytest.raises(InputFileError, match=pattern):
        io.read_sample_attributes(_write(tmp_path, "bad.txt", text))
