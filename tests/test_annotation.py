"""Gene annotation readers and annotate_genes on small hand-written files."""

from __future__ import annotations

import gzip
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.io import normalize_chrom, read_annotation, strip_version

# Three genes with known 1-based inclusive GTF coordinates:
#   G1 chr1:101-200 (+)  -> start 100, end 200, tss 100
#   G2 chr1:301-450 (-)  -> start 300, end 450, tss 449
#   G3 chrM:11-60  (+)   -> start 10,  end 60,  tss 10
EXPECTED = pd.DataFrame(
    {
        "chrom": ["chr1", "chr1", "chrM"],
        "start": [100, 300, 10],
        "end": [200, 450, 60],
        "strand": ["+", "-", "+"],
        "tss": [100, 449, 10],
        "gene_type": ["protein_coding", "lncRNA", "Mt_tRNA"],
    },
    index=["ENSG00000000001", "ENSG00000000002", "ENSG00000000003"],
)


def _record(chrom, feature, start, end, strand, attributes):
    return "\t".join([chrom, "HAVANA", feature, str(start), str(end), ".", strand, ".", attributes])


GTF = (
    "\n".join(
        [
            "##description: hand-written GENCODE-style GTF",
            _record(
                "chr1",
                "gene",
                101,
                200,
                "+",
                'gene_id "ENSG00000000001.5"; gene_type "protein_coding"; gene_name "AAA";',
            ),
            _record(
                "chr1",
                "transcript",
                101,
                180,
                "+",
                'gene_id "ENSG00000000001.5"; transcript_id "ENST1.1"; gene_type "protein_coding";',
            ),
            _record("chr1", "exon", 101, 150, "+", 'gene_id "ENSG00000000001.5"; transcript_id "ENST1.1";'),
            _record(
                "chr1",
                "gene",
                301,
                450,
                "-",
                'gene_id "ENSG00000000002.12"; gene_type "lncRNA"; gene_name "BBB";',
            ),
            _record(
                "chrM",
                "gene",
                11,
                60,
                "+",
                'gene_id "ENSG00000000003.1"; gene_type "Mt_tRNA"; gene_name "MT-X";',
            ),
        ]
    )
    + "\n"
)

GFF3 = """##gff-version 3
##sequence-region chr1 1 1000
chr1\tHAVANA\tgene\t101\t200\t.\t+\t.\tID=ENSG00000000001.5;gene_id=ENSG00000000001.5;gene_type=protein_coding;gene_name=AAA
chr1\tHAVANA\ttranscript\t101\t180\t.\t+\t.\tID=ENST1.1;Parent=ENSG00000000001.5;gene_id=ENSG00000000001.5
chr1\tHAVANA\tncRNA_gene\t301\t450\t.\t-\t.\tID=gene:ENSG00000000002;biotype=lncRNA;Name=B%3BB
chrM\tENSEMBL\tgene\t11\t60\t.\t+\t.\tID=gene:ENSG00000000003;biotype=Mt_tRNA;Name=MT-X
"""

# BED6 gene bodies, Ensembl chromosome names
BED = (
    "1\t100\t200\tENSG00000000001\t0\t+\n"
    "1\t300\t450\tENSG00000000002\t0\t-\n"
    "MT\t10\t60\tENSG00000000003\t0\t+\n"
)


def _adata(ids, transposed=False):
    rng = np.random.default_rng(0)
    X = rng.random((4, len(ids))).astype(np.float32)
    obs = pd.DataFrame({"tissue": ["a", "b", "a", "b"]}, index=[f"s{i}" for i in range(4)])
    adata = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=list(ids)))
    return adata.T.copy() if transposed else adata


def _write(tmp_path, name, text):
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _check(table, expected=EXPECTED, types=True):
    table = table.loc[expected.index]
    for col in ("start", "end", "tss"):
        assert table[col].astype(np.int64).tolist() == expected[col].tolist(), col
    assert table["strand"].tolist() == expected["strand"].tolist()
    if types:
        assert table["gene_type"].tolist() == expected["gene_type"].tolist()


@pytest.mark.parametrize("name", ["genes.gtf", "genes.gtf.gz", "genes_no_suffix"])
def test_read_gtf(tmp_path, name):
    table = read_annotation(_write(tmp_path, name, GTF))
    assert len(table) == 3  # gene records only
    _check(table)
    assert table["chrom"].tolist() == ["chr1", "chr1", "chrM"]
    assert table.loc["ENSG00000000002", "gene_name"] == "BBB"


@pytest.mark.parametrize("name", ["genes.gff3", "genes.gff3.gz", "genes_no_suffix"])
def test_read_gff3(tmp_path, name):
    table = read_annotation(_write(tmp_path, name, GFF3))
    assert len(table) == 3
    _check(table)
    assert table.loc["ENSG00000000002", "gene_name"] == "B;B"  # URL-decoded


def test_read_gtf_without_gene_records_aggregates(tmp_path):
    lines = [line for line in GTF.splitlines() if "\tgene\t" not in line]
    table = read_annotation(_write(tmp_path, "t.gtf", "\n".join(lines) + "\n"))
    assert list(table.index) == ["ENSG00000000001"]
    assert (table.iloc[0]["start"], table.iloc[0]["end"]) == (100, 180)  # over transcript + exon


@pytest.mark.parametrize("fmt", ["gtf", "gff3"])
def test_read_gff_without_gene_records_one_span_per_contig_and_strand(tmp_path, fmt):
    """UCSC refGene / ncbiRefSeq GTFs: a gene_id's transcripts on an alt contig, or on chrX and chrY,
    are not merged into one span across contigs and strands (sweep J, 01)."""

    def attrs(gene, tx):
        if fmt == "gtf":
            return f'gene_id "{gene}"; transcript_id "{tx}";'
        return f"ID={tx};gene_id={gene};transcript_id={tx}"

    lines = [
        _record("chr6_GL000251v2_alt", "transcript", 100, 2000, "-", attrs("HLA-A", "NM_002116")),
        _record("chr6", "transcript", 29942532, 29945870, "+", attrs("HLA-A", "NM_002116")),
        _record("chr6", "exon", 29942532, 29942626, "+", attrs("HLA-A", "NM_002116")),
        _record("chr6", "transcript", 29941000, 29945000, "+", attrs("HLA-A", "NM_001242758")),
        _record("chrX", "transcript", 1000, 5000, "+", attrs("SHOX", "NM_000451")),
        _record("chrY", "transcript", 900, 4000, "-", attrs("SHOX", "NM_000451")),
    ]
    head = "##gff-version 3\n" if fmt == "gff3" else ""
    table = read_annotation(_write(tmp_path, f"hg38.refGene.{fmt}", head + "\n".join(lines) + "\n"))
    assert list(table.index) == ["HLA-A", "SHOX"]
    got = table[["chrom", "start", "end", "strand", "tss"]].astype(object).to_numpy().tolist()
    assert got == [
        ["chr6", 29940999, 29945870, "+", 29940999],  # the primary chromosome, over both transcripts
        ["chrX", 999, 5000, "+", 999],  # both primary: the first in the file
    ]


def test_read_bed_gene_body_and_window_center(tmp_path):
    path = _write(tmp_path, "genes.bed", BED)
    table = read_annotation(path)
    _check(table, types=False)
    assert table["chrom"].tolist() == ["1", "1", "MT"]
    # 20 kb windows centred on the TSS: TSS = start + 10000 on both strands
    window = "X\t990000\t1010000\tENSG1\t0\t-\n2\t5000\t25000\tENSG2\t0\t+\n"
    table = read_annotation(_write(tmp_path, "win.bed", window), bed_tss="window_center")
    assert table.loc["ENSG1", "tss"] == 1_000_000 and table.loc["ENSG2", "tss"] == 15_000
    assert (table["end"] - table["start"] == 1).all()
    with pytest.raises(ValueError, match="bed_tss"):
        read_annotation(path, bed_tss="middle")


def test_read_bed_needs_six_columns(tmp_path):
    with pytest.raises(ValueError, match="BED6"):
        read_annotation(_write(tmp_path, "g.bed", "chr1\t1\t10\tG\n"))


@pytest.mark.parametrize("coordinates", ["0-based", "1-based"])
def test_read_tsv(tmp_path, coordinates):
    shift = 1 if coordinates == "1-based" else 0
    text = "ens\tentrez\tsymbol\tchrom\tstrand\tstart\tend\n" + "".join(
        f"{gid}\t{i}\tS{i}\t{row.chrom}\t{row.strand}\t{row.start + shift}\t{row.end}\n"
        for i, (gid, row) in enumerate(EXPECTED.iterrows())
    )
    table = read_annotation(_write(tmp_path, "genes.tsv", text), coordinates=coordinates)
    _check(table, types=False)
    assert table.loc["ENSG00000000001", "gene_name"] == "S0"


def test_read_tsv_strand_as_numbers_and_explicit_tss(tmp_path):
    text = "gene_id\tchromosome\tstart\tend\tstrand\ttss\nG1\t1\t100\t200\t1\t150\nG2\t1\t300\t450\t-1\t\n"
    table = read_annotation(_write(tmp_path, "g.tsv", text))
    assert table["strand"].tolist() == ["+", "-"]
    assert table["tss"].tolist() == [150, 449]  # given where present, strand-aware otherwise


@pytest.mark.parametrize(
    ("row", "coordinates", "message"),
    [
        ("G2\tchr1\t-5\t14409\t+", "0-based", r"line 3: start '-5' and end '14409' \(gene 'G2'\)"),
        ("G2\tchr1\t500\t100\t-", "0-based", r"line 3: start '500' and end '100' \(gene 'G2'\)"),
        ("G2\tchr1\t500\t500\t-", "0-based", r"line 3: start '500' and end '500'.*0 <= start < end"),
        ("G2\tchr1\t0\t100\t+", "1-based", r"line 3: start '0' and end '100'.*1 <= start <= end"),
    ],
    ids=["negative", "inverted", "empty", "zero-1-based"],
)
def test_read_tsv_refuses_negative_and_inverted_coordinates(tmp_path, row, coordinates, message):
    """TSV gene tables are range-checked as GTF and BED are (sweep J, 06)."""
    from gex_impute.errors import InputFileError

    path = _write(tmp_path, "genes.tsv", f"gene_id\tchrom\tstart\tend\tstrand\nG1\tchr1\t10\t20\t+\n{row}\n")
    with pytest.raises(InputFileError, match=message) as err:
        read_annotation(path, coordinates=coordinates)
    assert str(path) in str(err.value)
    # the smallest valid interval of each convention is accepted
    path.write_text("gene_id\tchrom\tstart\tend\tstrand\nG1\tchr1\t0\t1\t+\n")
    assert read_annotation(path).loc["G1", "tss"] == 0
    path.write_text("gene_id\tchrom\tstart\tend\tstrand\nG1\tchr1\t1\t1\t-\n")
    assert read_annotation(path, coordinates="1-based").loc["G1", ["start", "end"]].tolist() == [0, 1]


def test_read_tsv_missing_columns(tmp_path):
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['strand'\]"):
        read_annotation(_write(tmp_path, "g.tsv", "id\tchrom\tstart\tend\nG1\t1\t1\t5\n"))


def test_duplicate_ids_prefer_primary_chromosome(tmp_path):
    text = "6_GL000254v2_alt\t5\t50\tENSG9\t0\t+\n6\t100\t200\tENSG9\t0\t+\n"
    table = read_annotation(_write(tmp_path, "d.bed", text))
    assert table.loc["ENSG9", "chrom"] == "6"


def test_strip_version():
    ids = ["ENSG00000223972.5", "ENSG00000182378.14_PAR_Y", "ENSMUSG00000000001.4", "NM_000014.6", "g1.2"]
    assert strip_version(ids).tolist() == [
        "ENSG00000223972",
        "ENSG00000182378_PAR_Y",
        "ENSMUSG00000000001",
        "NM_000014.6",
        "g1.2",
    ]
    assert strip_version("ENSG00000223972") == "ENSG00000223972"


def test_normalize_chrom():
    assert normalize_chrom(["1", "X", "MT", "chr2", "6_GL000254v2_alt"], "ucsc") == [
        "chr1",
        "chrX",
        "chrM",
        "chr2",
        "chr6_GL000254v2_alt",
    ]
    assert normalize_chrom(["chr1", "chrM", "chrMT", "Y"], "ensembl") == ["1", "MT", "MT", "Y"]
    assert normalize_chrom("chrX", "ensembl") == "X"
    ref = ["chr1", "chrM", "7"]
    assert normalize_chrom(["1", "MT", "chr7", "weird"], "auto", reference=ref) == [
        "chr1",
        "chrM",
        "7",
        "weird",
    ]
    with pytest.raises(ValueError, match="reference"):
        normalize_chrom(["1"], "auto")
    with pytest.raises(ValueError, match="style"):
        normalize_chrom(["1"], "refseq")


@pytest.mark.parametrize("fmt", ["gtf", "gff3", "bed"])
def test_annotate_genes_versions_on_both_sides(tmp_path, fmt, caplog):
    text = {"gtf": GTF, "gff3": GFF3, "bed": BED}[fmt]
    path = _write(tmp_path, f"genes.{fmt}", text)
    # the data use other versions than the annotation, plus one unknown gene
    ids = ["ENSG00000000002.9", "ENSG00000000001.1", "ENSG00000000003", "ENSG00000099999.1"]
    adata = _adata(ids)
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        gi.pp.annotate_genes(adata, path)
    var = adata.var
    assert list(var.index) == ids  # nothing dropped or reordered
    expected = EXPECTED.loc[["ENSG00000000002", "ENSG00000000001", "ENSG00000000003"]]
    placed = var.iloc[:3]
    for col in ("start", "end", "tss"):
        assert placed[col].tolist() == expected[col].tolist()
    assert placed["strand"].tolist() == expected["strand"].tolist()
    assert np.isnan(var.iloc[3][["start", "end", "tss"]].astype(float)).all()
    assert pd.isna(var.iloc[3]["chrom"])
    assert adata.uns["annotate_genes"]["n_placed"] == 3
    assert adata.uns["annotate_genes"]["n_unplaced"] == 1
    assert "1 of 4 genes" in caplog.text and "ENSG00000099999.1" in caplog.text
    if fmt == "bed":
        assert "gene_type" not in var  # BED has none; not written as an all-NaN column
    else:
        assert placed["gene_type"].tolist() == expected["gene_type"].tolist()
    # annotated data stay writable
    adata.write_h5ad(tmp_path / "out.h5ad")


def test_annotate_all_placed_gives_integer_columns(tmp_path):
    adata = _adata(EXPECTED.index)
    out = gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), copy=True)
    assert "chrom" not in adata.var  # copy=True leaves the input alone
    for col in ("start", "end", "tss"):
        assert out.var[col].dtype == np.int64
    assert out.uns["annotate_genes"]["n_unplaced"] == 0


def test_annotate_chrom_style(tmp_path):
    adata = _adata(EXPECTED.index)
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.bed", BED), chrom_style="ucsc")
    assert adata.var["chrom"].tolist() == ["chr1", "chr1", "chrM"]
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), chrom_style="ensembl")
    assert adata.var["chrom"].tolist() == ["1", "1", "MT"]
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF))
    assert adata.var["chrom"].tolist() == ["chr1", "chr1", "chrM"]  # kept as in the file


def test_annotate_transposed_orientation(tmp_path):
    adata = _adata(EXPECTED.index, transposed=True)  # genes in obs, tissue in var
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF))
    assert "tss" in adata.obs and "tss" not in adata.var
    assert adata.obs["tss"].tolist() == EXPECTED["tss"].tolist()


def test_annotate_gene_id_key_and_columns(tmp_path):
    adata = _adata(["a", "b", "c"])
    adata.var["ensembl"] = list(EXPECTED.index)
    adata.var["start"] = [1, 2, 3]
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), gene_id_key="ensembl", columns=["tss"])
    assert adata.var["tss"].tolist() == EXPECTED["tss"].tolist()
    assert adata.var["start"].tolist() == [1, 2, 3]  # untouched
    with pytest.raises(KeyError, match="gene_id_key 'nope'"):
        gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), gene_id_key="nope")
    with pytest.raises(ValueError, match="not annotation columns"):
        gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), gene_id_key="ensembl", columns=["x"])


def test_annotate_from_dataframe(tmp_path):
    adata = _adata(EXPECTED.index)
    table = EXPECTED.drop(columns=["tss", "gene_type"])
    gi.pp.annotate_genes(adata, table)
    assert adata.var["tss"].tolist() == EXPECTED["tss"].tolist()  # computed strand-aware
    # a gene twice (two versions of one id): the first record kept, as from a file
    for columns in (["tss", "gene_type"], []):
        table = EXPECTED.drop(columns=columns)
        twice = pd.concat([table, table.iloc[:1].assign(start=0, end=10)])
        twice.index = [f"{g}.{i}" for i, g in enumerate(twice.index)]
        adata = _adata(EXPECTED.index)
        gi.pp.annotate_genes(adata, twice)
        assert adata.var["tss"].tolist() == EXPECTED["tss"].tolist()


def test_annotate_nothing_matches(tmp_path):
    adata = _adata(["geneA", "geneB"])
    with pytest.raises(ValueError, match="none of the 2 genes"):
        gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF))


def test_annotate_needs_orientation(tmp_path):
    adata = _adata(EXPECTED.index)
    del adata.obs["tissue"]
    with pytest.raises(KeyError, match="tissue_key"):
        gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF))
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), tissue_key=False)  # genes in var
    assert adata.var["tss"].tolist() == EXPECTED["tss"].tolist()


@pytest.mark.parametrize("transposed", [False, True])
def test_annotate_reads_the_registered_tissue_key(tmp_path, transposed):
    """``register_keys(tissue_key=...)`` is the default of annotate_genes (sweep J, 05)."""
    adata = _adata(EXPECTED.index)
    adata.obs = adata.obs.rename(columns={"tissue": "SMTSD"})
    adata = adata.T.copy() if transposed else adata
    gi.pp.register_keys(adata, tissue_key="SMTSD")
    gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF))
    genes = adata.obs if transposed else adata.var
    assert genes["tss"].tolist() == EXPECTED["tss"].tolist()
    with pytest.raises(KeyError, match="tissue_key 'tissue' not found"):  # an explicit key still wins
        gi.pp.annotate_genes(adata, _write(tmp_path, "g.gtf", GTF), tissue_key="tissue")


def test_unknown_format(tmp_path):
    path = _write(tmp_path, "g.dat", "hello world\n")
    with pytest.raises(ValueError, match="cannot tell the format"):
        read_annotation(path)
    with pytest.raises(FileNotFoundError):
        read_annotation(tmp_path / "missing.gtf")


# ---------------------------------------------------------------------------------------------
# the project's generated files: every format describes the same simulated genes


@pytest.mark.parametrize("name", ["genes.gtf", "genes.gff3", "genes.bed", "genes.tsv"])
def test_generated_annotations_match_simulation(test_data, name):
    path = test_data / name
    sim_path = test_data / "sim.h5ad"
    if not path.exists() or not sim_path.exists():
        pytest.skip(f"test-data/{name} or sim.h5ad not generated yet (scripts/make_test_data.py)")
    sim = gi.io.read_h5ad(sim_path)
    truth = sim.var[["chrom", "start", "end", "strand", "tss"]].copy()
    bare = sim.copy()
    bare.var = pd.DataFrame(index=sim.var_names)
    gi.pp.annotate_genes(bare, path)
    assert bare.uns["annotate_genes"]["n_unplaced"] == 0
    got = bare.var
    assert got["chrom"].astype(str).tolist() == truth["chrom"].astype(str).tolist()
    assert got["strand"].astype(str).tolist() == truth["strand"].astype(str).tolist()
    for col in ("start", "end", "tss"):
        np.testing.assert_array_equal(got[col].to_numpy(np.int64), truth[col].to_numpy(np.int64))


def test_annotate_view_becomes_actual(tmp_path):
    parent = _adata([*EXPECTED.index, "ENSG00000000009"])
    view = parent[:, :3]
    gi.pp.annotate_genes(view, _write(tmp_path, "g.gtf", GTF))
    assert not view.is_view
    assert view.var["tss"].tolist() == EXPECTED["tss"].tolist()
    assert "tss" not in parent.var  # the parent is not modified


def test_gene_table_rule():
    """One rule decides the gene axis for every pp function (gex_impute.pp._genes)."""
    from gex_impute.pp._genes import gene_axis, gene_table

    adata = _adata(EXPECTED.index)
    assert gene_axis(adata) == "var"
    assert gene_axis(adata.T.copy()) == "obs"  # tissue column in var: genes in obs
    bare = adata.copy()
    del bare.obs["tissue"]
    with pytest.raises(KeyError, match="tissue_key 'tissue' not found"):
        gene_axis(bare)
    assert gene_axis(bare, None) == "var"
    annotated_t = bare.T.copy()
    annotated_t.obs["chrom"], annotated_t.obs["tss"] = "chr1", 5
    assert gene_axis(annotated_t, None, needed=("chrom", "tss")) == "obs"
    axis, genes = gene_table(annotated_t, None, needed=("chrom", "tss"))
    assert axis == "obs" and genes is annotated_t.obs


def test_a_fasta_given_as_the_annotation_is_named(tmp_path):
    """Galaxy sweep O: a FASTA given as a TSV annotation printed its sequence (60 KB) as 'columns found'."""
    from gex_impute.errors import InputFileError

    fasta = tmp_path / "genome.tsv"
    fasta.write_text(">chr1\n" + "ACGT" * 5000 + "\n")
    with pytest.raises(InputFileError, match="is a FASTA file") as err:
        gi.io.read_annotation(fasta)
    assert len(str(err.value)) < 400
    table = tmp_path / "table.tsv"
    table.write_text("id\t" + "x" * 5000 + "\n" + "g1\t1\n")
    with pytest.raises(InputFileError, match="lacks column") as err:
        gi.io.read_annotation(table, format="tsv")
    assert len(str(err.value)) < 400
