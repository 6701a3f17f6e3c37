"""The public readers on the real data in ../shared/data (skipped when the folder is absent)."""

from __future__ import annotations

import numpy as np
import pytest

import gex_impute as gi

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def gtex(shared_data):
    adata = gi.io.read_tissue_table(shared_data / "gtex_tissue_tpm.tsv")
    gi.pp.annotate_genes(adata, shared_data / "hg38_tss_cage_20kb.bed", bed_tss="window_center")
    gi.pp.add_promoters(
        adata,
        sequences=shared_data / "epd_core_promoters_60bp.tsv",
        mapping=shared_data / "epd_promoter_to_ensembl.tsv",
    )
    return adata


def test_gtex_tissue_table(gtex):
    assert gtex.n_obs == 29
    assert gtex.n_vars == 19_139
    assert gtex.obs["tissue"].iloc[0] == "Adipose.Tissue"
    assert gtex.var_names.str.startswith("ENSG").all()
    assert np.nanmin(gtex.X) >= 0


def test_gtex_genes_placed_with_tss(gtex, shared_data):
    placed = gtex.var["tss"].notna()
    assert placed.sum() >= 17_900
    assert gtex.uns["annotate_genes"]["n_placed"] == placed.sum()
    assert gtex.uns["annotate_genes"]["n_unplaced"] == gtex.n_vars - placed.sum()
    # TSS = window start + 10,000 on either strand; compare with the raw BED independently
    bed = {}
    with open(shared_data / "hg38_tss_cage_20kb.bed") as fh:
        for line in fh:
            chrom, start, _end, gene, _score, strand = line.rstrip("\n").split("\t")[:6]
            bed[gene] = (chrom, int(start) + 10_000, strand)
    var = gtex.var[placed]
    for gene in var.index[:: max(1, len(var) // 500)]:
        assert (var.loc[gene, "chrom"], int(var.loc[gene, "tss"]), var.loc[gene, "strand"]) == bed[gene]
    assert set(var["strand"]) == {"+", "-"}


def test_gtex_epd_promoters(gtex):
    promoters = gtex.var["promoter"].astype(str)
    with_seq = promoters != ""
    assert with_seq.sum() >= 15_000
    assert gtex.uns["promoter"]["n_with_sequence"] == with_seq.sum()
    lengths = promoters[with_seq].str.len()
    assert lengths.between(59, 60).all()
    assert promoters[with_seq].str.fullmatch("[ACGTN]+").all()
    assert (gtex.var.loc[with_seq, "n_promoters"] >= 1).all()


def test_gtex_gene_bounds_from_gene_locations(gtex, shared_data):
    adata = gtex.copy()
    gi.pp.annotate_genes(adata, shared_data / "hg38_gene_locations.tsv", columns=["start", "end"])
    both = adata.var["tss"].notna() & adata.var["start"].notna()
    var = adata.var[both]
    assert both.sum() >= 17_500
    # the CAGE TSS lies near the annotated gene start (strand-aware) for most genes
    gene_start = np.where(var["strand"] == "+", var["start"], var["end"] - 1)
    assert np.mean(np.abs(var["tss"] - gene_start) < 1_000) > 0.8
