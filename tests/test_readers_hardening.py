"""Issue 11: every reader refuses corrupt, truncated, empty or wrong-format files with InputFileError.

Each case checks the error class (the package's own), that the message names the file, and
the part of the message that says where the problem is or how to fix it.
"""

from __future__ import annotations

import gzip
import logging
import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute import io
from gex_impute.errors import InputFileError, OutputPathError, ParameterError

SAMPLES = ["GTEX-1117F-0226-SM-5GZZ7", "GTEX-1117F-0426-SM-5EGHI", "GTEX-111CU-0226-SM-5GZXO"]


def _gct(rows: list[str], samples=SAMPLES, n_genes=None) -> str:
    n_genes = len(rows) if n_genes is None else n_genes
    head = ["#1.2", f"{n_genes}\t{len(samples)}", "\t".join(["Name", "Description", *samples])]
    return "\n".join(head + rows) + "\n"


ROWS = ["G1\tA\t1\t2\t3", "G2\tB\t4\t\t6", "G3\tC\t7\t8\t9"]


@pytest.fixture
def h5ad_path(tmp_path):
    adata = ad.AnnData(X=np.arange(12, dtype=np.float32).reshape(3, 4))
    adata.obs["tissue"] = ["a", "b", "a"]
    path = tmp_path / "x.h5ad"
    io.write_h5ad(adata, path)
    return path


def _raises(func, *args, match: str, path=None, **kwargs):
    with pytest.raises(InputFileError, match=match) as info:
        func(*args, **kwargs)
    if path is not None:
        assert str(path) in str(info.value), str(info.value)
    return info.value


# ---------------------------------------------------------------------------------------------
# h5ad


def test_h5ad_empty_truncated_corrupt_and_not_hdf5(tmp_path, h5ad_path):
    data = h5ad_path.read_bytes()
    empty = tmp_path / "empty.h5ad"
    empty.write_bytes(b"")
    _raises(io.read_h5ad, empty, match="is empty \\(0 bytes\\).*write it again", path=empty)
    truncated = tmp_path / "truncated.h5ad"
    truncated.write_bytes(data[: len(data) // 2])
    _raises(io.read_h5ad, truncated, match="truncated \\(cut short\\) HDF5 file", path=truncated)
    text = tmp_path / "table.h5ad"
    text.write_text("gene\tLiver\nG1\t1\n")
    _raises(io.read_h5ad, text, match="not an .h5ad \\(HDF5\\) file: it is a text file", path=text)
    gz = tmp_path / "x.h5ad.gz"
    gz.write_bytes(gzip.compress(data))
    _raises(io.read_h5ad, gz, match="is a gzip-compressed .h5ad file; decompress it first \\(gunzip", path=gz)
    gz_text = tmp_path / "table.h5ad.gz"
    gz_text.write_bytes(gzip.compress(b"gene\tLiver\nG1\t1\n"))
    _raises(io.read_h5ad, gz_text, match="it is a gzip file", path=gz_text)
    import h5py

    other = tmp_path / "other.h5ad"
    with h5py.File(other, "w") as f:
        f["foo"] = np.arange(3)
    _raises(io.read_h5ad, other, match="holds no AnnData \\(top-level entries: \\['foo'\\]\\)", path=other)
    folder = tmp_path / "dir.h5ad"
    folder.mkdir()
    _raises(io.read_h5ad, folder, match="is a folder", path=folder)
    with pytest.raises(FileNotFoundError, match="nope.h5ad"):
        io.read_h5ad(tmp_path / "nope.h5ad")


def test_h5ad_corrupt_inside(tmp_path, h5ad_path):
    """A valid superblock with a destroyed data section: anndata's own error becomes ours."""
    data = bytearray(h5ad_path.read_bytes())
    corrupt = tmp_path / "corrupt.h5ad"
    # zero out everything after the superblock: groups and datasets can no longer be found
    data[2048:] = bytes(len(data) - 2048)
    corrupt.write_bytes(bytes(data))
    with pytest.raises(InputFileError) as info:
        io.read_h5ad(corrupt)
    assert str(corrupt) in str(info.value)


def test_read_expression_on_broken_h5ad(tmp_path, h5ad_path):
    truncated = tmp_path / "t.h5ad"
    truncated.write_bytes(h5ad_path.read_bytes()[:300])
    _raises(io.read_expression, truncated, match="truncated", path=truncated)


def test_write_h5ad_and_zarr_atomic(tmp_path, h5ad_path):
    adata = io.read_h5ad(h5ad_path)
    out = tmp_path / "out.zarr"
    io.write_zarr(adata, out)
    back = io.read_expression(out)
    np.testing.assert_array_equal(back.X, adata.X)
    adata.X[0, 0] = 99
    io.write_zarr(adata, out)  # replaces the complete store
    assert io.read_zarr(out).X[0, 0] == 99
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr", "x.h5ad"]
    adata.uns["bad"] = object()
    with pytest.raises(Exception):  # noqa: B017 - anndata's own error type
        io.write_zarr(adata, tmp_path / "new.zarr")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr", "x.h5ad"]
    with pytest.raises(OutputPathError, match="is a file"):
        io.write_zarr(adata, h5ad_path)
    with pytest.raises(InputFileError, match="not a zarr store"):
        io.read_zarr(tmp_path)


def test_writers_check_the_output_and_the_input_before_writing(tmp_path, h5ad_path):
    adata = io.read_h5ad(h5ad_path)
    (tmp_path / "folder.h5ad").mkdir()
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OutputPathError, match="'.*folder.h5ad' is an existing folder; give a file path"):
        io.write_h5ad(adata, tmp_path / "folder.h5ad")
    for write, name in ((io.write_h5ad, "x.h5ad"), (io.write_zarr, "x.zarr")):
        with pytest.raises(OutputPathError, match="a_file' is a file, not a folder"):
            write(adata, tmp_path / "a_file" / name)
        with pytest.raises(TypeError, match=r"expected an AnnData, got numpy.ndarray; build one first"):
            write(adata.X, tmp_path / name)
    with pytest.raises(ParameterError, match="compression='bogus' .* use 'gzip', 'lzf' or None"):
        io.write_h5ad(adata, tmp_path / "c.h5ad", compression="bogus")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "folder.h5ad", "x.h5ad"]


# ---------------------------------------------------------------------------------------------
# GCT


def test_gct_truncated_gzip(tmp_path):
    text = _gct(ROWS * 2000, n_genes=6000).encode()
    data = gzip.compress(text)
    path = tmp_path / "x.gct.gz"
    path.write_bytes(data[: len(data) // 2])
    _raises(io.read_gct, path, match="gzip stream is truncated or corrupt.*gzip -t", path=path)
    _raises(io.read_expression, path, match="gzip stream is truncated", path=path)


def test_gct_on_hdf5_and_binary(tmp_path, h5ad_path):
    _raises(
        io.read_gct, h5ad_path, match="is an HDF5 file \\(an .h5ad\\?\\), not a text GCT file", path=h5ad_path
    )
    binary = tmp_path / "x.gct"
    binary.write_bytes(b"#1.2\n\x00\x01\x02")
    _raises(io.read_gct, binary, match="binary file", path=binary)
    latin = tmp_path / "latin.gct"
    latin.write_bytes(_gct(["G1\tcaf\xe9\t1\t2\t3"]).encode("latin-1"))
    _raises(io.read_gct, latin, match="not a UTF-8 text GCT file", path=latin)
    empty = tmp_path / "empty.gct"
    empty.write_text("")
    _raises(io.read_gct, empty, match="is empty", path=empty)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("G2\tB\t4\t6", r"line 5 \(gene 'G2'\): 4 tab-separated fields, expected 5.*a cell is missing"),
        ("G2\tB\t4\t5\t6\t7", r"line 5 \(gene 'G2'\): 6 tab-separated fields.*a cell is extra"),
        (
            "G2\tB\t4\t-1e400\t6",
            r"line 5: value '-1e400' of gene 'G2', sample 'GTEX-1117F-0426-SM-5EGHI'.*infinite",
        ),
        ("G2\tB\t4\tinf\t6", r"line 5: value 'inf'.*infinite"),
        ("G2\tB\t4\t1e39\t6", r"line 5: value '1e39'.*float32 range"),
        ("G2\tB\t4\t5,5\t6", r"line 5: value '5,5' of gene 'G2'.*not a number"),
        # pandas reads these as 1 and 0 (sweep J, 07)
        ("G2\tB\tTrue\t5\t6", r"line 5: value 'True' of gene 'G2', sample 'GTEX-1117F-0226-SM-5GZZ7'.*not a"),
        ("G2\tB\t4\tFALSE\t6", r"line 5: value 'FALSE' of gene 'G2', sample 'GTEX-1117F-0426-SM-5EGHI'"),
        ("G2\tB\t4\t5\tfalse", r"line 5: value 'false' of gene 'G2', sample 'GTEX-111CU-0226-SM-5GZXO'"),
        ("G2\tB\tTRUE\t5\t6\t", r"line 5: value 'TRUE' of gene 'G2'.*\(column 3\) is not a number"),
    ],
    ids=[
        "missing-cell",
        "extra-cell",
        "-1e400",
        "inf",
        "float32-overflow",
        "comma-decimal",
        "True",
        "FALSE",
        "false-last",
        "TRUE-trailing-tab",
    ],
)
@pytest.mark.parametrize("chunksize", [None, 1])
def test_gct_bad_rows_name_the_line(tmp_path, row, message, chunksize):
    path = tmp_path / "x.gct"
    path.write_text(_gct([ROWS[0], row, ROWS[2]]))
    _raises(io.read_gct, path, chunksize=chunksize, match=message, path=path)


def test_gct_true_false_outside_the_values_are_kept(tmp_path):
    """Only value cells are checked for True/False: a gene named or described so is read."""
    path = tmp_path / "x.gct"
    path.write_text(_gct(["TRUE\tFalse\t1\t2\t3", "G2\tulnar\t4\t5\t6"]))
    adata = io.read_gct(path)
    assert list(adata.var_names) == ["TRUE", "G2"] and adata.var["symbol"].tolist() == ["False", "ulnar"]
    np.testing.assert_array_equal(adata.X[:, 0], [1, 2, 3])


def test_gct_blank_lines_are_skipped_and_line_numbers_stay_right(tmp_path):
    path = tmp_path / "x.gct"
    path.write_text(_gct([ROWS[0], "", ROWS[1], "G3\tC\t7"], n_genes=3) + "\n\n")
    _raises(io.read_gct, path, chunksize=2, match="line 7 \\(gene 'G3'\\)", path=path)
    path.write_text(_gct([ROWS[0], "", *ROWS[1:]], n_genes=3) + "\n\n")
    adata = io.read_gct(path, chunksize=1)
    assert adata.shape == (3, 3) and np.isnan(adata.X[1, 1])


def test_gct_bad_chunksize(tmp_path):
    path = tmp_path / "x.gct"
    path.write_text(_gct(ROWS))
    with pytest.raises(ParameterError, match="chunksize"):
        io.read_gct(path, chunksize=0)


# ---------------------------------------------------------------------------------------------
# tissue table


@pytest.mark.parametrize("n_rows", [3, 30])
def test_tissue_table_one_bad_cell_is_refused(tmp_path, n_rows):
    """One stray word must never move a tissue column to var, however few rows there are."""
    rows = [f"G{i}\t{i}\t{i + 1}" for i in range(n_rows)]
    rows[1] = "G1\t1\toops"
    path = tmp_path / "t.tsv"
    path.write_text("\tLiver\tBrain\n" + "\n".join(rows) + "\n")
    err = _raises(io.read_tissue_table, path, match="line 3: tissue column 'Brain'", path=path)
    assert "'oops'" in str(err) and "gene 'G1'" in str(err)


def test_tissue_table_shapes(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("gene\tLiver\tBrain\nG1\t1\t2\nG2\t3\n")
    _raises(
        io.read_tissue_table, path, match="line 3: 2 tab-separated fields but the header has 3", path=path
    )
    path.write_text("gene\tLiver\tBrain\nG1\t1\t-1e400\n")
    _raises(io.read_tissue_table, path, match="line 2: value '-1e400'.*infinite", path=path)
    path.write_text("gene\tLiver\nG1\t1\nG1\t2\n")
    _raises(io.read_tissue_table, path, match="gene.*occur more than once", path=path)
    # R-style header without a name for the row-name column, and a Description column
    path.write_text("Description\tLiver\tBrain\nG1\tAAA\t1\t2\nG2\tBBB\t3\t4\n")
    adata = io.read_tissue_table(path)
    assert list(adata.obs_names) == ["Liver", "Brain"] and adata.var["Description"].tolist() == ["AAA", "BBB"]


@pytest.mark.parametrize("suffix", ["csv", "csv.gz"])
def test_tissue_csv_is_read_as_strictly_as_tsv(tmp_path, suffix):
    """CSV goes through the strict reader TSV goes through (sweep J, 02 and 03)."""

    def write(text):
        path = tmp_path / f"t.{suffix}"
        path.write_bytes(gzip.compress(text.encode()) if suffix.endswith(".gz") else text.encode())
        return path

    # R's write.table(sep=","): no name for the row-name column
    path = write("Liver,Lung\nENSG00000000003.14,1.5,2.5\nENSG00000000005.5,3.5,4.5\n")
    for adata in (io.read_expression(path), io.read_tissue_table(path, sep=",")):
        assert list(adata.obs_names) == ["Liver", "Lung"]
        assert list(adata.var_names) == ["ENSG00000000003.14", "ENSG00000000005.5"]
        np.testing.assert_array_equal(adata.X, [[1.5, 3.5], [2.5, 4.5]])
    path = write("gene,Liver,Lung\nENSG1.1,1,2\nENSG2.1,2\n")
    err = _raises(io.read_expression, path, match="line 3: 2 comma-separated fields but the header has 3")
    assert str(path) in str(err)
    path = write("gene,Liver,Liver\nENSG1.1,1,2\n")
    _raises(io.read_expression, path, match=r"line 1: the column name\(s\) \['Liver'\] occur more than once")
    # quoted fields are honoured: a comma inside quotes is not a separator
    path = write('gene,"Brain, Cortex",Lung\nENSG1.1,1,2\n"ENSG2.1",3,\n')
    adata = io.read_expression(path)
    assert list(adata.obs_names) == ["Brain, Cortex", "Lung"] and list(adata.var_names) == [
        "ENSG1.1",
        "ENSG2.1",
    ]
    np.testing.assert_array_equal(adata.X, [[1, 3], [2, np.nan]])


@pytest.mark.parametrize(("sep", "suffix"), [("\t", "tsv"), (",", "csv")])
def test_tissue_table_trailing_separator_on_every_line(tmp_path, caplog, sep, suffix):
    """An Excel export's trailing tab on every line is no extra all-NaN tissue (sweep J, 08)."""
    path = tmp_path / f"t.{suffix}"
    path.write_text(
        sep.join(["gene", "Liver", "Lung", "\n"])
        + sep.join(["G1", "1", "2", "\n"])
        + f"G2{sep}2{sep}{sep}\n"  # G2 has no Lung value
    )
    with caplog.at_level(logging.INFO, logger="gex_impute"):
        adata = io.read_expression(path)
    assert list(adata.obs_names) == ["Liver", "Lung"]
    np.testing.assert_array_equal(adata.X, [[1, 2], [2, np.nan]])  # tissues x genes
    assert "every line ends with an empty field" in caplog.text
    # not every line: the header's trailing separator names no column, a refused row keeps its line
    path.write_text(sep.join(["gene", "Liver", "Lung", "\n"]) + sep.join(["G1", "1", "2\n"]))
    _raises(io.read_expression, path, match="line 2: 3 .*-separated fields but the header has 4", path=path)


def test_tissue_table_messages_name_the_real_problem(tmp_path):
    """A ';' CSV is named as such; a header name with surrounding spaces is found (sweep J, 10)."""
    path = tmp_path / "t.csv"
    path.write_text("gene;Liver;Lung\nENSG1.1;1,5;2\n")
    err = _raises(
        io.read_expression, path, match="line 1: the header holds no comma but 2 semicolon", path=path
    )
    assert "pass sep=','" not in str(err) and "sep=';'" in str(err)
    tsv = tmp_path / "t.tsv"
    tsv.write_text("gene,Liver,Lung\nG1,1,2\n")
    _raises(io.read_expression, tsv, match="holds no tab but 2 comma.*looks comma-separated", path=tsv)
    attrs = tmp_path / "a.txt"
    attrs.write_text("SAMPID \tSMTS\t SMTSD \nGTEX-1-1\tA\tAdipose\n")
    table = io.read_sample_attributes(attrs)
    assert list(table.columns) == ["SMTS", "SMTSD"] and table.loc["GTEX-1-1", "SMTSD"] == "Adipose"


# ---------------------------------------------------------------------------------------------
# annotation, sequences


def test_annotation_h5ad_and_binary(tmp_path, h5ad_path):
    _raises(io.read_annotation, h5ad_path, match="HDF5 file.*not a text annotation file", path=h5ad_path)
    gtf = tmp_path / "h5.gtf"
    gtf.write_bytes(h5ad_path.read_bytes())
    _raises(io.read_annotation, gtf, match="HDF5", path=gtf)
    adata = ad.AnnData(X=np.ones((2, 1), dtype=np.float32), var=pd.DataFrame(index=["G1"]))
    adata.obs["tissue"] = ["a", "b"]
    _raises(gi.pp.annotate_genes, adata, h5ad_path, match="HDF5", path=h5ad_path)


GTF_LINE = 'chr1\tsrc\tgene\t{start}\t{end}\t.\t{strand}\t.\tgene_id "G{i}"; gene_type "protein_coding";'


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            GTF_LINE.format(start="1x", end=50, strand="+", i=9),
            r"line 3: start '1x' / end '50' are not whole numbers",
        ),
        (GTF_LINE.format(start=50, end=10, strand="+", i=9), r"line 3: start 50 and end 10 are not valid"),
        (GTF_LINE.format(start=1, end=10, strand="x", i=9), r"line 3: strand 'x'"),
        ("chr1\tsrc\tgene\t1\t10\t.\t+\tgene_id", r"line 3: 8 tab-separated fields, a GTF record has 9"),
    ],
    ids=["start", "inverted", "strand", "fields"],
)
def test_gtf_errors_name_file_and_line(tmp_path, line, message):
    good = [GTF_LINE.format(start=1, end=100, strand="+", i=i) for i in range(2)]
    path = tmp_path / "g.gtf"
    path.write_text("\n".join([good[0], good[1], line]) + "\n")
    _raises(io.read_annotation, path, match=message, path=path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("chr1\t5\tten\tG9\t0\t+", r"line 3: start '5' / end 'ten' are not whole numbers"),
        ("chr1\t50\t10\tG9\t0\t+", r"line 3: 50-10 is not a BED interval"),
        ("chr1\t5\t10\tG9\t0\tplus", r"line 3: strand 'plus'"),
        ("chr1\t5\t10\tG9", r"line 3: BED record with 4 columns.*BED6"),
    ],
    ids=["end", "inverted", "strand", "columns"],
)
def test_bed_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "g.bed"
    path.write_text("track name=genes\nchr1\t0\t10\tG1\t0\t+\n" + line + "\n")
    _raises(io.read_annotation, path, match=message, path=path)


def test_tsv_annotation_bad_coordinate(tmp_path):
    path = tmp_path / "g.tsv"
    path.write_text("gene_id\tchrom\tstart\tend\tstrand\nG1\t1\t10\t20\t+\nG2\t1\t1.5\t30\t-\n")
    _raises(
        io.read_annotation, path, match="line 3: start '1.5' \\(gene 'G2'\\) is not a whole number", path=path
    )


def test_sequences_and_fasta_errors(tmp_path, h5ad_path):
    fa = tmp_path / "p.fa"
    fa.write_text(">G1\nACGT\n>G2\nAC1T\n")
    _raises(io.read_sequences, fa, match="line 4: sequence of 'G2' holds '1'", path=fa)
    fa.write_text(">\nACGT\n")
    _raises(io.read_sequences, fa, match="without an id", path=fa)
    tsv = tmp_path / "p.tsv"
    tsv.write_text("P1\tACGT\nP2\n")
    _raises(io.read_sequences, tsv, match="line 2: 1 field", path=tsv)
    _raises(io.read_sequences, h5ad_path, match="HDF5", path=h5ad_path)
    with pytest.raises(InputFileError, match="HDF5|not a FASTA"):
        with io.open_fasta(h5ad_path):
            pass
    plain_gz = tmp_path / "genome.fa.gz"
    plain_gz.write_bytes(gzip.compress(b">chr1\nACGTACGT\n"))
    with pytest.raises(InputFileError, match="bgzip") as info:
        with io.open_fasta(plain_gz):
            pass
    assert str(plain_gz) in str(info.value)
    ragged = tmp_path / "ragged.fa"
    ragged.write_text(">chr1\nACGTACGT\nAC\nACGTACGT\n")
    with pytest.raises(InputFileError, match=re.escape(str(ragged))):
        with io.open_fasta(ragged):
            pass


def test_sample_tables_shapes(tmp_path):
    attrs = tmp_path / "a.txt"
    attrs.write_text("SAMPID\tSMTS\tSMTSD\nS-1-1\tBlood\tWhole Blood\nS-1-2\tBlood\n")
    _raises(
        io.read_sample_attributes,
        attrs,
        match="line 3: 2 tab-separated fields but the header has 3",
        path=attrs,
    )
    attrs.write_text("SAMPID\tSMTS\tSMTSD\nS-1-1\tBlood\tWhole Blood\nS-1-1\tBlood\tWhole Blood\n")
    _raises(io.read_sample_attributes, attrs, match="SAMPID values occur more than once", path=attrs)
    pheno = tmp_path / "p.txt"
    pheno.write_text("SUBJID\tSEX\tAGE\tDTHHRDY\nGTEX-1\t3\t60-69\t1.0\n")
    _raises(io.read_subject_phenotypes, pheno, match="line 2: SEX '3' is not 1 \\(male\\) or 2", path=pheno)
    pheno.write_text("SUBJID\tSEX\tAGE\tDTHHRDY\nGTEX-1\t1\tsixty\t1.0\n")
    _raises(io.read_subject_phenotypes, pheno, match="line 2: AGE 'sixty' is neither a ten-year", path=pheno)
    pheno.write_text("SUBJID\tAGE\nGTEX-1\t60-69\n")
    _raises(io.read_subject_phenotypes, pheno, match="lacks column\\(s\\) \\['SEX'\\]", path=pheno)


@pytest.mark.parametrize("header", ["gene\tLung\tLung", "gene\tgene\tLung"])
def test_tissue_table_repeated_column_names_refused(tmp_path, header):
    # pandas would silently rename the second one ("Lung.1"): a tissue that does not exist
    path = tmp_path / "t.tsv"
    path.write_text(f"{header}\nG1\t1\t2\nG2\t3\t4\n")
    with pytest.raises(InputFileError, match=r"line 1: the column name\(s\) \[.*\] occur more than once"):
        io.read_tissue_table(path)
