"""Promoter sequences from a genome FASTA and from keyed sequences."""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.errors import DataError
from gex_impute.io import read_sequences, reverse_complement

pytest.importorskip("pysam")

UP, DOWN = 20, 10


@pytest.fixture
def genome(tmp_path):
    rng = np.random.default_rng(3)
    contigs = {name: "".join(rng.choice(list("ACGT"), size=n)) for name, n in [("chr1", 300), ("chr2", 50)]}
    path = tmp_path / "genome.fa"
    with open(path, "w") as fh:
        for name, seq in contigs.items():
            fh.write(f">{name} test contig\n")
            # lower-case soft-masking in part of chr1, 60 bases per line
            if name == "chr1":
                seq_out = seq[:100] + seq[100:150].lower() + seq[150:]
            else:
                seq_out = seq
            for i in range(0, len(seq_out), 60):
                fh.write(seq_out[i : i + 60] + "\n")
    return path, contigs


def _rc(seq: str) -> str:
    # independent of the package's implementation
    return "".join({"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}[b] for b in reversed(seq))


def _genes(rows, transposed=False):
    var = pd.DataFrame(rows, columns=["gene", "chrom", "tss", "strand"]).set_index("gene")
    var.index.name = None
    obs = pd.DataFrame({"tissue": ["t1", "t2"]}, index=["s1", "s2"])
    adata = ad.AnnData(X=np.ones((2, len(var)), dtype=np.float32), obs=obs, var=var)
    return adata.T.copy() if transposed else adata


def _window(contig: str, start: int, end: int) -> str:
    """Forward-strand bases [start, end), N beyond the contig."""
    return "".join(contig[i] if 0 <= i < len(contig) else "N" for i in range(start, end))


def test_fasta_strand_aware_and_padding(genome, caplog):
    path, contigs = genome
    rows = [
        ("plus_mid", "chr1", 120, "+"),  # crosses the soft-masked part
        ("minus_mid", "chr1", 200, "-"),
        ("plus_left_edge", "chr1", 5, "+"),  # runs off the contig start
        ("minus_right_edge", "chr2", 45, "-"),  # upstream of a minus gene runs off the end
        ("minus_left_edge", "chr2", 3, "-"),
        ("unknown_contig", "chr9", 10, "+"),
        ("unplaced", np.nan, np.nan, np.nan),
    ]
    adata = _genes(rows)
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
    prom = adata.var["promoter"]
    c1, c2 = contigs["chr1"], contigs["chr2"]
    assert prom["plus_mid"] == _window(c1, 100, 130)
    assert prom["minus_mid"] == _rc(_window(c1, 191, 221))
    assert prom["plus_left_edge"] == "N" * 15 + c1[:15]
    assert prom["minus_right_edge"] == _rc(_window(c2, 36, 66))
    assert prom["minus_right_edge"].startswith("N" * 16)  # upstream padding comes first
    assert prom["minus_left_edge"] == _rc("N" * 6 + c2[:24])
    assert prom["minus_left_edge"].endswith("N" * 6)
    for name in ["plus_mid", "minus_mid", "plus_left_edge", "minus_right_edge", "minus_left_edge"]:
        seq = prom[name]
        assert len(seq) == UP + DOWN and seq == seq.upper()
    # the TSS base sits at index `upstream`, on the gene's strand
    assert prom["plus_mid"][UP] == c1[120]
    assert prom["minus_mid"][UP] == _rc(c1[200])
    assert prom["unknown_contig"] == "" and prom["unplaced"] == ""
    assert "absent from" in caplog.text and "chr9" in caplog.text
    assert adata.uns["promoter"]["n_with_sequence"] == 5
    assert adata.uns["promoter"]["n_missing"] == 2
    assert adata.var["promoter_tss"].tolist() == [UP] * 5 + [-1, -1]  # where the TSS base is
    adata.write_h5ad(path.parent / "out.h5ad")


def test_fasta_chrom_naming_mismatch(genome, caplog):
    path, contigs = genome
    adata = _genes([("g1", "1", 120, "+"), ("g2", "2", 30, "-")])  # Ensembl-style names
    with caplog.at_level(logging.INFO, logger="gex_impute"):
        gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
    assert adata.var.loc["g1", "promoter"] == _window(contigs["chr1"], 100, 130)
    assert adata.var.loc["g2", "promoter"] == _rc(_window(contigs["chr2"], 21, 51))
    assert "1 -> chr1" in caplog.text
    assert adata.var["chrom"].tolist() == ["1", "2"]  # the gene table keeps its naming


def test_fasta_tss_beyond_the_contig_gets_no_promoter(genome, caplog):
    path, contigs = genome
    adata = _genes([("g1", "chr1", 120, "+"), ("past_end", "chr2", 500, "+"), ("negative", "chr1", -40, "-")])
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
    prom = adata.var["promoter"]
    assert prom["g1"] == _window(contigs["chr1"], 100, 130)
    assert prom["past_end"] == "" and prom["negative"] == ""  # not a string of Ns
    assert "2 genes have their TSS beyond the end of their contig" in caplog.text
    assert adata.uns["promoter"]["n_with_sequence"] == 1


def test_fasta_stale_index_is_an_error(genome):
    from gex_impute.errors import InputFileError

    path, contigs = genome
    adata = _genes([("g1", "chr1", 200, "+")])
    gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)  # builds genome.fa.fai
    with open(path, "w") as fh:  # the same genome rewritten 50 bases per line, the old index kept
        for name, seq in contigs.items():
            fh.write(f">{name}\n" + "".join(seq[i : i + 50] + "\n" for i in range(0, len(seq), 50)))
    # (htslib reads the old offsets: newlines and shifted bases, or on older versions only shifted
    # bases, which no letter check can see: the index itself is checked against the file)
    with pytest.raises(InputFileError, match=r"genome.fa.fai does not match .*genome.fa .*delete the .fai"):
        gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
    (path.parent / "genome.fa.fai").unlink()  # as the message says: rebuilt, and right
    gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
    assert adata.var.loc["g1", "promoter"] == _window(contigs["chr1"], 180, 210)


def test_bgzip_stale_index_is_an_error(genome):
    """A .fai / .gzi left from an earlier bgzip genome is checked as a plain FASTA's .fai is (sweep J, 04)."""
    import pysam

    from gex_impute.errors import InputFileError

    path, contigs = genome
    bgz = path.parent / "genome.fa.gz"
    pysam.tabix_compress(str(path), str(bgz), force=True)
    adata = _genes([("on_chr2", "chr2", 30, "+"), ("on_chr1", "chr1", 200, "+")])
    gi.pp.add_promoters(adata, fasta=bgz, upstream=UP, downstream=DOWN)  # builds the .fai and .gzi
    want = [_window(contigs["chr2"], 10, 40), _window(contigs["chr1"], 180, 210)]
    assert adata.var["promoter"].tolist() == want
    with open(path, "w") as fh:  # the genome rebuilt with its contigs in another order
        for name in ("chr2", "chr1"):
            seq = contigs[name]
            fh.write(f">{name}\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60)))
    pysam.tabix_compress(str(path), str(bgz), force=True)  # the old index files stay
    with pytest.raises(InputFileError, match=r"genome.fa.gz.fai / .*genome.fa.gz.gzi does not match") as err:
        gi.pp.add_promoters(adata, fasta=bgz, upstream=UP, downstream=DOWN)
    assert "delete the .fai and the .gzi" in str(err.value)
    for suffix in (".fai", ".gzi"):  # as the message says: rebuilt, and right
        (path.parent / f"genome.fa.gz{suffix}").unlink()
    adata = _genes([("on_chr2", "chr2", 30, "+"), ("on_chr1", "chr1", 200, "+")])
    gi.pp.add_promoters(adata, fasta=bgz, upstream=UP, downstream=DOWN)
    assert adata.var["promoter"].tolist() == want
    with gi.io.open_fasta(bgz) as fa:  # an index that matches opens again
        assert list(fa.references) == ["chr2", "chr1"]


@pytest.mark.parametrize("transposed", [False, True])
def test_add_promoters_reads_the_registered_tissue_key(genome, transposed):
    """``register_keys(tissue_key=...)`` is the default of add_promoters (sweep J, 05)."""
    path, contigs = genome
    adata = _genes([("g1", "chr1", 120, "+")])
    adata.obs = adata.obs.rename(columns={"tissue": "SMTSD"})
    adata = adata.T.copy() if transposed else adata
    gi.pp.register_keys(adata, tissue_key="SMTSD")
    gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
    genes = adata.obs if transposed else adata.var
    assert genes.loc["g1", "promoter"] == _window(contigs["chr1"], 100, 130)
    with pytest.raises(KeyError, match="tissue_key 'tissue' not found"):  # an explicit key still wins
        gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN, tissue_key="tissue")


def test_fasta_no_contig_matches(genome):
    path, _ = genome
    adata = _genes([("g1", "scaffold_7", 10, "+")])
    with pytest.raises(ValueError, match=r"scaffold_7.*chr1"):
        gi.pp.add_promoters(adata, fasta=path)


def test_fasta_needs_annotation(genome):
    path, _ = genome
    adata = _genes([("g1", "chr1", 10, "+")])
    del adata.var["tss"]
    with pytest.raises(DataError, match=r"lacks the gene column\(s\) \['tss'\].*annotate_genes"):
        gi.pp.add_promoters(adata, fasta=path)


def test_fasta_transposed_and_copy(genome):
    path, contigs = genome
    adata = _genes([("g1", "chr1", 120, "+")], transposed=True)
    out = gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN, copy=True)
    assert "promoter" not in adata.obs
    assert out.obs.loc["g1", "promoter"] == _window(contigs["chr1"], 100, 130)


def test_arguments_checked(genome, tmp_path):
    path, _ = genome
    adata = _genes([("g1", "chr1", 120, "+")])
    with pytest.raises(ValueError, match="exactly one"):
        gi.pp.add_promoters(adata)
    with pytest.raises(ValueError, match="exactly one"):
        gi.pp.add_promoters(adata, fasta=path, sequences=path)
    with pytest.raises(ValueError, match="mapping"):
        gi.pp.add_promoters(adata, fasta=path, mapping=path)
    with pytest.raises(FileNotFoundError):
        gi.pp.add_promoters(adata, fasta=tmp_path / "none.fa")
    # a typo such as 10**8 would allocate gigabytes per gene: refused before any sequence is cut
    from gex_impute.cli._parser import MAX_FLANK as CLI_MAX_FLANK
    from gex_impute.pp.promoters import MAX_FLANK

    assert CLI_MAX_FLANK == MAX_FLANK
    for flanks in ({"upstream": MAX_FLANK + 1}, {"downstream": MAX_FLANK + 1}, {"downstream": 0}):
        with pytest.raises(ValueError, match="upstream must be 0-50,000 and downstream 1-50,000"):
            gi.pp.add_promoters(adata, fasta=path, **flanks)


def test_reverse_complement():
    assert reverse_complement("ACGTN") == "NACGT"
    assert reverse_complement("aacR") == "Ygtt"
    seq = "ACGTTGCAAGGCTTNNA"
    assert reverse_complement(reverse_complement(seq)) == seq
    assert reverse_complement(seq) == _rc(seq)


# ---------------------------------------------------------------------------------------------
# keyed sequences


def test_sequences_fasta_keyed_by_versioned_gene_id(tmp_path, caplog):
    fa = tmp_path / "prom.fa"
    fa.write_text(">ENSG00000000001.3 some description\nacgt\nAC\n>ENSG00000000002.1\nGGGG\n")
    adata = _genes([("ENSG00000000001", "1", 1, "+"), ("ENSG00000000002.7", "1", 1, "+"), ("x", "1", 1, "+")])
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        gi.pp.add_promoters(adata, sequences=fa)
    assert adata.var["promoter"].tolist() == ["ACGTAC", "GGGG", ""]
    assert "1 of 3 genes have no sequence" in caplog.text
    assert "n_promoters" not in adata.var


def test_sequences_tsv_with_mapping_picks_main_promoter(tmp_path):
    seqs = tmp_path / "seqs.tsv"
    seqs.write_text("TP53_2\tcccCC\nTP53_1\taaaAA\nBRCA1_2\tgggGG\nLONE_1\tttt\nORPHAN_1\tACGT\n")
    mapping = tmp_path / "map.tsv"
    # TP53_2 is listed first, but _1 is EPD's main promoter; BRCA1 has only a _2
    mapping.write_text(
        "TP53_2\tENSG00000141510\nTP53_1\tENSG00000141510\nBRCA1_2\tENSG00000012048\n"
        "NOSEQ_1\tENSG00000000099\n"
    )
    adata = _genes(
        [
            ("ENSG00000141510.16", "17", 1, "-"),
            ("ENSG00000012048", "17", 1, "-"),
            ("ENSG00000000099", "1", 1, "+"),
        ]
    )
    gi.pp.add_promoters(adata, sequences=seqs, mapping=mapping)
    assert adata.var["promoter"].tolist() == ["AAAAA", "GGGGG", ""]
    assert adata.var["n_promoters"].tolist() == [2, 1, 0]
    assert adata.uns["promoter"]["n_with_sequence"] == 2


def test_sequences_header_lines_are_skipped(tmp_path):
    seqs = tmp_path / "seqs.tsv"
    seqs.write_text("id\tsequence\nP_1\tACGT\n")
    mapping = tmp_path / "map.tsv"
    mapping.write_text("promoter\tgene\nP_1\tG1\n")
    adata = _genes([("G1", "1", 1, "+")])
    gi.pp.add_promoters(adata, sequences=seqs, mapping=mapping)
    assert adata.var["promoter"].tolist() == ["ACGT"]
    assert read_sequences(seqs).to_dict() == {"P_1": "ACGT"}


def test_sequences_without_mapping_hint(tmp_path):
    seqs = tmp_path / "seqs.tsv"
    seqs.write_text("TP53_1\tACGT\n")
    adata = _genes([("ENSG00000141510", "17", 1, "-")])
    with pytest.raises(ValueError, match="pass mapping="):
        gi.pp.add_promoters(adata, sequences=seqs)


def test_sequences_series_and_gene_id_key():
    adata = _genes([("a", "1", 1, "+"), ("b", "1", 1, "+")])
    adata.var["ens"] = ["ENSG1", "ENSG2"]
    seqs = pd.Series({"ENSG2": "ttaa"})
    gi.pp.add_promoters(adata, sequences=seqs, gene_id_key="ens", key_added="core")
    assert adata.var["core"].tolist() == ["", "TTAA"]
    assert adata.uns["core"]["n_with_sequence"] == 1
    # a missing sequence (NaN / None, e.g. a column reindexed onto other genes) is none, not "NAN"
    for missing in (np.nan, None):
        seqs = pd.Series({"ENSG1": missing, "ENSG2": "acgt"}, dtype=object)
        gi.pp.add_promoters(adata, sequences=seqs, gene_id_key="ens", key_added="core2")
        assert adata.var["core2"].tolist() == ["", "ACGT"]
        assert adata.uns["core2"]["n_with_sequence"] == 1


# ---------------------------------------------------------------------------------------------
# the project's generated files


def test_generated_genome_promoters_match_simulation(test_data):
    needed = [test_data / n for n in ("sim.h5ad", "genome.fa", "genes.gtf")]
    if not all(p.exists() for p in needed):
        pytest.skip(
            "test-data/sim.h5ad, genome.fa or genes.gtf not generated yet (scripts/make_test_data.py)"
        )
    sim = gi.io.read_h5ad(test_data / "sim.h5ad")
    params = sim.uns.get("simulate", {})
    up, down = int(params.get("upstream", 1000)), int(params.get("downstream", 500))
    bare = sim.copy()
    bare.var = pd.DataFrame(index=sim.var_names)
    gi.pp.annotate_genes(bare, test_data / "genes.gtf")
    gi.pp.add_promoters(bare, fasta=test_data / "genome.fa", upstream=up, downstream=down)
    # the promoters cut from the written genome are the simulator's planted promoters
    truth = sim.var["promoter"].astype(str)
    got = bare.var["promoter"].astype(str)
    known = truth != ""
    assert known.mean() > 0.5
    assert (got[known] == truth[known]).all()


@pytest.mark.parametrize("name", ["promoters.fa", "promoters.tsv"])
def test_generated_keyed_promoters(test_data, name):
    path, sim_path = test_data / name, test_data / "sim.h5ad"
    if not path.exists() or not sim_path.exists():
        pytest.skip(f"test-data/{name} or sim.h5ad not generated yet (scripts/make_test_data.py)")
    sim = gi.io.read_h5ad(sim_path)
    bare = sim.copy()
    del bare.var["promoter"]
    gi.pp.add_promoters(bare, sequences=path)
    got = bare.var["promoter"].astype(str)
    truth = sim.var["promoter"].astype(str)
    placed = got != ""
    assert placed.mean() > 0.5
    assert (got[placed] == truth[placed]).all()


def test_sequences_on_a_view():
    parent = _genes([("a", "1", 1, "+"), ("b", "1", 1, "+")])
    view = parent[:, :1]
    gi.pp.add_promoters(view, sequences=pd.Series({"a": "ac"}))
    assert not view.is_view and view.var["promoter"].tolist() == ["AC"]
    assert "promoter" not in parent.var


def test_fasta_index_check_accepts_long_headers_and_crlf(tmp_path):
    rng = np.random.default_rng(5)
    seqs = {name: "".join(rng.choice(list("ACGT"), size=n)) for name, n in [("chr1", 200), ("chr2", 130)]}
    path = tmp_path / "long.fa"
    with open(path, "w", newline="") as fh:
        for name, seq in seqs.items():
            fh.write(f">{name} {'description ' * 200}\r\n")  # a 2.4 kB header, CRLF line ends
            fh.write("".join(seq[i : i + 60] + "\r\n" for i in range(0, len(seq), 60)))
    adata = _genes([("g1", "chr2", 100, "+")])
    for _ in range(2):  # the second run reads the index the first one built
        gi.pp.add_promoters(adata, fasta=path, upstream=UP, downstream=DOWN)
        assert adata.var.loc["g1", "promoter"] == _window(seqs["chr2"], 80, 110)
