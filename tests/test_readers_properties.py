"""Property-based tests of every reader: generated valid files round-trip; corrupted files raise
the package's InputFileError and never an unrelated exception.

Two kinds of corruption: targeted ones that a reader must always detect (a cell deleted, a
number replaced by a word, a truncated gzip stream), and arbitrary byte edits (truncate, flip,
insert, delete a byte or a line) after which the reader either raises InputFileError or returns
a well-formed result. Example counts stay small so the suite stays fast.
"""

from __future__ import annotations

import gzip
import string
import tempfile
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gex_impute import io
from gex_impute.errors import InputFileError

# derandomize: the same examples on every run (CI must not depend on the draw)
SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

NA_LIKE = {"na", "nan", "n/a", "inf", "infinity"}  # compared lower-case
names = st.text(alphabet=string.ascii_letters + string.digits + "_.-", min_size=1, max_size=8).filter(
    lambda s: s.lower() not in NA_LIKE and s.strip() == s
)
free_text = st.text(alphabet=string.ascii_letters + " ,;()'\"-", min_size=1, max_size=12).filter(
    lambda s: s.strip() == s and s.strip() and s.lower() not in NA_LIKE
)
values = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, width=32),
    st.just(float("nan")),
    st.floats(min_value=0, max_value=float(np.float32(3e38)), allow_nan=False, width=32),
)


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="gex_prop_"))


@st.composite
def byte_edits(draw, data: bytes) -> bytes:
    """An arbitrary small edit of ``data``."""
    op = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "drop_line", "dup_line"]))
    i = draw(st.integers(0, max(len(data) - 1, 0)))
    byte = bytes([draw(st.integers(0, 255))])
    lines = data.split(b"\n")
    k = draw(st.integers(0, max(len(lines) - 1, 0)))
    if op == "truncate":
        return data[:i]
    if op == "flip":
        return data[:i] + byte + data[i + 1 :]
    if op == "insert":
        return data[:i] + byte + data[i:]
    if op == "delete":
        return data[:i] + data[i + 1 :]
    if op == "drop_line":
        return b"\n".join(lines[:k] + lines[k + 1 :])
    return b"\n".join(lines[: k + 1] + lines[k:])


def _survives(read, path: Path):
    """Read a corrupted file: InputFileError or a result; anything else fails the test."""
    try:
        return read(path)
    except InputFileError as err:
        assert str(path) in str(err) or path.name in str(err), str(err)
        return None


# ---------------------------------------------------------------------------------------------
# GCT


@st.composite
def gct_tables(draw):
    n_genes = draw(st.integers(1, 6))
    n_samples = draw(st.integers(1, 4))
    genes = draw(st.lists(names, min_size=n_genes, max_size=n_genes, unique=True))
    samples = draw(
        st.lists(names.map(lambda s: f"GTEX-{s}-0001"), min_size=n_samples, max_size=n_samples, unique=True)
    )
    matrix = np.array(
        draw(
            st.lists(
                st.lists(values, min_size=n_samples, max_size=n_samples), min_size=n_genes, max_size=n_genes
            )
        ),
        dtype=np.float32,
    )
    descriptions = draw(st.lists(free_text, min_size=n_genes, max_size=n_genes))
    return genes, descriptions, samples, matrix


def _gct_bytes(genes, descriptions, samples, matrix) -> bytes:
    lines = ["#1.2", f"{len(genes)}\t{len(samples)}", "\t".join(["Name", "Description", *samples])]
    for g, d, row in zip(genes, descriptions, matrix, strict=True):
        lines.append("\t".join([g, d, *("" if np.isnan(v) else repr(float(v)) for v in row)]))
    return ("\n".join(lines) + "\n").encode()


@SETTINGS
@given(table=gct_tables(), compress=st.booleans())
def test_gct_round_trip(table, compress):
    genes, descriptions, samples, matrix = table
    data = _gct_bytes(*table)
    path = _tmp() / ("x.gct.gz" if compress else "x.gct")
    path.write_bytes(gzip.compress(data) if compress else data)
    adata = io.read_gct(path, chunksize=2)
    assert list(adata.var_names) == genes and list(adata.obs_names) == samples
    assert adata.var["symbol"].tolist() == descriptions
    np.testing.assert_array_equal(adata.X, matrix.T)
    # the package's writer gives the same matrix back (losslessly)
    out = path.parent / "w.gct"
    io.write_gct(adata, out, drop_missing_samples=False)
    back = io.read_gct(out)
    np.testing.assert_allclose(back.X, adata.X, rtol=1e-5, atol=1e-30)


@SETTINGS
@given(table=gct_tables(), data=st.data())
def test_gct_targeted_corruptions_are_refused(table, data):
    genes, descriptions, samples, matrix = table
    lines = _gct_bytes(*table).decode().split("\n")
    k = data.draw(st.integers(3, 2 + len(genes)))
    fields = lines[k].split("\t")
    j = data.draw(st.integers(2, len(fields) - 1))
    how = data.draw(st.sampled_from(["delete", "word", "inf"]))
    if how == "delete":
        del fields[j]
    else:
        fields[j] = data.draw(names.filter(lambda s: not _is_number(s))) if how == "word" else "-1e400"
    lines[k] = "\t".join(fields)
    path = _tmp() / "x.gct"
    path.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match=f"line {k + 1}"):
        io.read_gct(path)


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


@SETTINGS
@given(table=gct_tables(), data=st.data(), compress=st.booleans())
def test_gct_arbitrary_edits(table, data, compress):
    raw = _gct_bytes(*table)
    edited = data.draw(byte_edits(gzip.compress(raw, mtime=0) if compress else raw))
    path = _tmp() / ("x.gct.gz" if compress else "x.gct")
    path.write_bytes(edited)
    adata = _survives(io.read_gct, path)
    if adata is not None:
        assert adata.X.dtype == np.float32 and np.isfinite(adata.X[~np.isnan(adata.X)]).all()
    _survives(io.read_expression, path)


def test_gct_truncated_gzip_always_refused():
    rng = np.random.default_rng(0)
    table = (
        [f"G{i}" for i in range(400)],
        ["d"] * 400,
        ["GTEX-A-1", "GTEX-B-1"],
        rng.random((400, 2), dtype=np.float32),
    )
    data = gzip.compress(_gct_bytes(*table), mtime=0)
    for cut in (20, len(data) // 3, len(data) - 9):
        path = _tmp() / "x.gct.gz"
        path.write_bytes(data[:cut])
        with pytest.raises(InputFileError, match="gzip stream is truncated"):
            io.read_gct(path)


# ---------------------------------------------------------------------------------------------
# tissue table, GTEx sample attributes


@st.composite
def tissue_tables(draw):
    n_genes = draw(st.integers(2, 6))
    tissues = draw(
        st.lists(
            # not the gene column's own header ("gene": a repeated column name is refused)
            names.filter(lambda t: t.lower() not in io.tables.ANNOTATION_COLUMNS and t != "gene"),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    genes = draw(st.lists(names, min_size=n_genes, max_size=n_genes, unique=True))
    matrix = np.array(
        draw(
            st.lists(
                st.lists(values, min_size=len(tissues), max_size=len(tissues)),
                min_size=n_genes,
                max_size=n_genes,
            )
        ),
        dtype=np.float32,
    )
    return genes, tissues, matrix


def _tissue_bytes(genes, tissues, matrix) -> bytes:
    lines = ["\t".join(["gene", *tissues])]
    lines += [
        "\t".join([g, *("" if np.isnan(v) else repr(float(v)) for v in row)])
        for g, row in zip(genes, matrix, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


@SETTINGS
@given(table=tissue_tables(), data=st.data())
def test_tissue_table_round_trip_and_corruptions(table, data):
    genes, tissues, matrix = table
    raw = _tissue_bytes(*table)
    path = _tmp() / "t.tsv"
    path.write_bytes(raw)
    adata = io.read_tissue_table(path)
    assert list(adata.obs_names) == tissues and list(adata.var_names) == genes
    np.testing.assert_array_equal(adata.X, matrix.T)
    # one non-numeric cell in a tissue column is refused, naming its line
    lines = raw.decode().split("\n")
    k = data.draw(st.integers(1, len(genes)))
    fields = lines[k].split("\t")
    fields[data.draw(st.integers(1, len(tissues)))] = data.draw(names.filter(lambda s: not _is_number(s)))
    lines[k] = "\t".join(fields)
    path.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match=f"line {k + 1}"):
        io.read_tissue_table(path)
    path.write_bytes(data.draw(byte_edits(raw)))
    result = _survives(io.read_tissue_table, path)
    if result is not None:
        assert result.X.dtype == np.float32


@st.composite
def attribute_tables(draw):
    n = draw(st.integers(1, 6))
    ids = draw(st.lists(names.map(lambda s: f"GTEX-{s}-0226-SM-X"), min_size=n, max_size=n, unique=True))
    return pd.DataFrame(
        {
            "SAMPID": ids,
            "SMATSSCR": draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, np.nan]), min_size=n, max_size=n)),
            "SMPTHNTS": draw(st.lists(st.one_of(free_text, st.just("")), min_size=n, max_size=n)),
            "SMTS": draw(st.lists(free_text, min_size=n, max_size=n)),
            "SMTSD": draw(st.lists(free_text, min_size=n, max_size=n)),
        }
    )


@SETTINGS
@given(table=attribute_tables(), data=st.data())
def test_sample_attributes_round_trip_and_corruptions(table, data):
    path = _tmp() / "SampleAttributesDS.txt"
    io.write_sample_attributes(table, path)
    back = io.read_sample_attributes(path)
    assert list(back.index) == table["SAMPID"].tolist()
    assert back["SMTSD"].tolist() == table["SMTSD"].tolist()
    got = back["SMPTHNTS"].astype(object).where(back["SMPTHNTS"].notna(), "").tolist()
    assert got == table["SMPTHNTS"].tolist()  # empty notes are read as missing
    np.testing.assert_array_equal(back["SMATSSCR"].to_numpy(float), table["SMATSSCR"].to_numpy(float))
    raw = path.read_bytes()
    lines = raw.decode().split("\n")
    k = data.draw(st.integers(1, len(table)))
    lines[k] = lines[k].replace("\t", "", 1)  # a cell merged into its neighbour
    path.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match=f"line {k + 1}"):
        io.read_sample_attributes(path)
    path.write_bytes(data.draw(byte_edits(raw)))
    _survives(io.read_sample_attributes, path)


# ---------------------------------------------------------------------------------------------
# annotation: GTF, GFF3, BED


@st.composite
def gene_tables(draw):
    n = draw(st.integers(1, 6))
    starts = draw(st.lists(st.integers(0, 10**7), min_size=n, max_size=n))
    lengths = draw(st.lists(st.integers(1, 10**5), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "gene_id": [
                f"ENSG{i:011d}.{v}"
                for i, v in enumerate(draw(st.lists(st.integers(1, 20), min_size=n, max_size=n)))
            ],
            "chrom": draw(
                st.lists(st.sampled_from(["chr1", "chr2", "chrX", "chrM"]), min_size=n, max_size=n)
            ),
            "start": starts,
            "end": [s + n_ for s, n_ in zip(starts, lengths, strict=True)],
            "strand": draw(st.lists(st.sampled_from(["+", "-"]), min_size=n, max_size=n)),
            "gene_type": draw(
                st.lists(st.sampled_from(["protein_coding", "lncRNA"]), min_size=n, max_size=n)
            ),
            "gene_name": draw(st.lists(free_text.filter(lambda s: '"' not in s), min_size=n, max_size=n)),
        }
    )


WRITERS = {"gtf": io.write_gtf, "gff3": io.write_gff3, "bed": io.write_bed}


@SETTINGS
@given(genes=gene_tables(), fmt=st.sampled_from(sorted(WRITERS)), data=st.data())
def test_annotation_round_trip_and_corruptions(genes, fmt, data):
    path = _tmp() / f"genes.{fmt}"
    WRITERS[fmt](genes, path)
    table = io.read_annotation(path)
    want = genes.assign(gene_id=io.strip_version(genes["gene_id"])).set_index("gene_id")
    table = table.loc[want.index]
    for col in ("chrom", "start", "end", "strand"):
        assert table[col].tolist() == want[col].tolist(), col
    tss = np.where(want["strand"] == "+", want["start"], want["end"] - 1)
    assert table["tss"].tolist() == tss.tolist()
    if fmt != "bed":
        assert table["gene_type"].tolist() == want["gene_type"].tolist()
        assert table["gene_name"].tolist() == want["gene_name"].tolist()
    raw = path.read_bytes()
    lines = raw.decode().split("\n")
    records = [i for i, line in enumerate(lines) if line and ("\tgene\t" in line or fmt == "bed")]
    k = data.draw(st.sampled_from(records))
    fields = lines[k].split("\t")
    column = 3 if fmt != "bed" else 1
    fields[column] = data.draw(st.sampled_from(["", "x", "1.5", "-4"]))
    lines[k] = "\t".join(fields)
    path.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match=f"line {k + 1}"):
        io.read_annotation(path)
    path.write_bytes(data.draw(byte_edits(raw)))
    result = _survives(io.read_annotation, path)
    if result is not None:
        assert (result["start"] < result["end"]).all() and result["strand"].isin(["+", "-"]).all()


# ---------------------------------------------------------------------------------------------
# sequences: keyed FASTA / TSV, indexed genome FASTA

dna = st.text(alphabet="ACGTNacgt", min_size=1, max_size=150)


@SETTINGS
@given(seqs=st.dictionaries(names, dna, min_size=1, max_size=5), data=st.data())
def test_sequences_round_trip_and_corruptions(seqs, data):
    path = _tmp() / "p.fa"
    io.write_sequences(seqs, path, width=data.draw(st.integers(5, 60)))
    back = io.read_sequences(path)
    assert back.to_dict() == {k: v.upper() for k, v in seqs.items()}
    raw = path.read_bytes()
    lines = raw.decode().split("\n")
    body = [i for i, line in enumerate(lines) if line and not line.startswith(">")]
    k = data.draw(st.sampled_from(body))
    lines[k] = lines[k][:1] + data.draw(st.sampled_from(["1", "*x", "Z", "%"])) + lines[k][1:]
    path.write_text("\n".join(lines))
    with pytest.raises(InputFileError, match=f"line {k + 1}"):
        io.read_sequences(path)
    path.write_bytes(data.draw(byte_edits(raw)))
    _survives(io.read_sequences, path)


def _fetch_all(path: Path) -> dict[str, str]:
    with io.open_fasta(path) as fa:
        return {name: fa.fetch(name) for name in fa.references}


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    contigs=st.dictionaries(
        names, st.text(alphabet="ACGTN", min_size=1, max_size=200), min_size=1, max_size=3
    ),
    data=st.data(),
)
def test_genome_fasta_round_trip_and_edits(contigs, data):
    folder = _tmp()
    path = folder / "genome.fa"
    io.write_sequences(contigs, path, width=data.draw(st.integers(10, 60)))
    assert _fetch_all(path) == contigs
    edited = data.draw(byte_edits(path.read_bytes()))
    other = folder / "edited.fa"
    other.write_bytes(edited)
    _survives(_fetch_all, other)


def test_h5ad_arbitrary_truncation_refused():
    folder = _tmp()
    adata = ad.AnnData(X=np.arange(20, dtype=np.float32).reshape(4, 5))
    path = folder / "x.h5ad"
    io.write_h5ad(adata, path)
    data = path.read_bytes()
    for cut in (0, 7, 100, len(data) // 2, len(data) - 1):
        bad = folder / f"cut{cut}.h5ad"
        bad.write_bytes(data[:cut])
        with pytest.raises(InputFileError):
            io.read_h5ad(bad)
