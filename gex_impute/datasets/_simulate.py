"""Simulate donor x tissue x gene expression with a genome, promoters and realistic structure.

The simulator gives every other part of the package data whose generating process is known:

* a random genome (``chr1`` .. ``chrN``) with genes placed along it, including nested genes and
  bidirectional (head-to-head, TSSs < 1 kb apart) pairs;
* promoter sequences cut from that genome with planted motifs that drive each gene's baseline
  level and, for some motifs, its tissue specificity;
* correlated tissue programmes (tissues cluster);
* co-expression that decays with genomic distance and is stronger for divergent than for
  convergent neighbours;
* donor (genotype) effects shared across a donor's tissues, sample effects and noise;
* the three missingness patterns: whole genes, whole donor x tissue samples, scattered entries.

:func:`write_dataset` writes the same data as the files users download (h5ad, genome FASTA,
GENCODE-style GTF, GTEx GCT and sample attributes), so that the whole file path is exercised.
"""

from __future__ import annotations

import contextlib
import gzip
import io as _io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
import pandas as pd

from .._utils import atomic_path, check_random_state

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["simulate", "write_dataset"]

# GTEx tissue names (SMTSD, the detailed tissue) and their broad tissue (SMTS), in the order the
# simulator hands them out; tissues beyond this list are called "Tissue <n>".
GTEX_TISSUES: tuple[tuple[str, str], ...] = (
    ("Whole Blood", "Blood"),
    ("Muscle - Skeletal", "Muscle"),
    ("Liver", "Liver"),
    ("Brain - Cortex", "Brain"),
    ("Lung", "Lung"),
    ("Skin - Sun Exposed (Lower leg)", "Skin"),
    ("Heart - Left Ventricle", "Heart"),
    ("Thyroid", "Thyroid"),
    ("Adipose - Subcutaneous", "Adipose Tissue"),
    ("Artery - Tibial", "Blood Vessel"),
    ("Testis", "Testis"),
    ("Pancreas", "Pancreas"),
    ("Stomach", "Stomach"),
    ("Colon - Transverse", "Colon"),
    ("Esophagus - Mucosa", "Esophagus"),
    ("Nerve - Tibial", "Nerve"),
    ("Spleen", "Spleen"),
    ("Brain - Cerebellum", "Brain"),
    ("Adrenal Gland", "Adrenal Gland"),
    ("Pituitary", "Pituitary"),
    ("Kidney - Cortex", "Kidney"),
    ("Breast - Mammary Tissue", "Breast"),
    ("Prostate", "Prostate"),
    ("Ovary", "Ovary"),
    ("Uterus", "Uterus"),
    ("Vagina", "Vagina"),
    ("Cells - Cultured fibroblasts", "Skin"),
    ("Small Intestine - Terminal Ileum", "Small Intestine"),
    ("Minor Salivary Gland", "Salivary Gland"),
    ("Heart - Atrial Appendage", "Heart"),
    ("Esophagus - Muscularis", "Esophagus"),
    ("Artery - Aorta", "Blood Vessel"),
    ("Colon - Sigmoid", "Colon"),
    ("Adipose - Visceral (Omentum)", "Adipose Tissue"),
    ("Brain - Hippocampus", "Brain"),
    ("Skin - Not Sun Exposed (Suprapubic)", "Skin"),
)

# Planted promoter elements: name, sequence (sense strand of the gene), fraction of genes that
# get it planted, effect on the baseline log1p level. "cpg_island" is a GC/CpG-rich patch
# around the TSS (its sequence column is a placeholder). Tissue motifs also raise one tissue
# programme (see ``_TISSUE_MOTIFS``).
MOTIFS: tuple[tuple[str, str, float, float], ...] = (
    ("tata_box", "TATAAA", 0.25, 0.5),
    ("cpg_island", "", 0.55, 0.8),
    ("gc_box", "GGGCGG", 0.0, 0.3),  # planted inside most CpG islands (and a few other genes)
    ("activator_8mer", "CACGTGAC", 0.15, 0.7),
    ("repressor_8mer", "TGTTTAAC", 0.15, -0.8),
    ("programme1_8mer", "TGACTCAG", 0.15, 0.0),
    ("programme2_8mer", "TTGCGCAA", 0.15, 0.0),
)
_TISSUE_MOTIFS = {"programme1_8mer": 0, "programme2_8mer": 1}
_TISSUE_MOTIF_EFFECT = 1.0

# Windows (relative to the TSS, in the gene's orientation) used for planting and scanning.
_TATA_POS = -31  # start of TATAAA, planted at -31 +/- 3
_TATA_SCAN = (-40, -20)  # starts of TATAAA that count
_CORE = (-250, 100)  # CpG island / GC-box window

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
_COMP = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan", strict=True):
    _COMP[_a] = _b


def _base_table(gc: float) -> np.ndarray:
    """256-entry lookup turning uniform random bytes into bases with GC fraction ``gc``."""
    n_gc = round(gc * 256) // 2
    n_at = 128 - n_gc
    return np.repeat(_BASES, [n_at, n_gc, n_gc, n_at]).astype(np.uint8)


_BACKGROUND = _base_table(0.455)  # ~0.42 after CpG depletion
_GC_RICH = _base_table(0.66)


def _random_sequence(rng: np.random.Generator, n: int, *, cpg_depletion: float = 0.8) -> np.ndarray:
    """Random background DNA (uint8 ASCII): GC ~0.42 and CpG depleted ~4-fold, as in mammals."""
    seq = _BACKGROUND[rng.integers(0, 256, size=n, dtype=np.uint8)]
    if n > 1 and cpg_depletion > 0:
        cg = np.flatnonzero((seq[:-1] == ord("C")) & (seq[1:] == ord("G")))
        hit = cg[rng.random(cg.size) < cpg_depletion]
        to_t = rng.random(hit.size) < 0.5  # CG -> TG or CG -> CA (deamination on either strand)
        seq[hit[to_t]] = ord("T")
        seq[hit[~to_t] + 1] = ord("A")
    return seq


def _revcomp(seq: str) -> str:
    """Reverse complement of a DNA string."""
    return _COMP[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)[::-1]].tobytes().decode("ascii")


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"{name}={value!r} is invalid; pass an integer >= {minimum}."
        raise ValueError(msg)
    return int(value)


def _check_fraction(name: str, value) -> float:
    if not isinstance(value, int | float | np.floating | np.integer) or not 0 <= value < 1:
        msg = f"{name}={value!r} is invalid; pass a fraction in [0, 1)."
        raise ValueError(msg)
    return float(value)


# ----------------------------------------------------------------------------------------------
# genome layout
# ----------------------------------------------------------------------------------------------


def _layout_genes(
    rng: np.random.Generator, n_genes: int, n_chromosomes: int, gene_spacing: int, margin: int
) -> dict[str, np.ndarray]:
    """Place genes on chromosomes: TSS, strand, body; with bidirectional pairs and nested genes."""
    weights = np.arange(n_chromosomes + 2, 2, -1, dtype=float)  # chr1 largest, like real genomes
    counts = np.floor(n_genes * weights / weights.sum()).astype(int)
    counts[: n_genes - counts.sum()] += 1
    chrom_idx = np.repeat(np.arange(n_chromosomes), counts)

    gaps = np.maximum(1, np.rint(rng.exponential(gene_spacing, size=n_genes))).astype(np.int64)
    plus = rng.random(n_genes) < 0.5
    first = np.r_[True, chrom_idx[1:] != chrom_idx[:-1]]
    # bidirectional (divergent, head-to-head) pairs: gene i-1 on "-", gene i on "+", TSSs < 1 kb
    bidi = (rng.random(n_genes) < 0.06) & ~first
    bidi[1:] &= ~bidi[:-1]  # no chains of pairs
    gaps[bidi] = rng.integers(100, 950, size=bidi.sum())
    plus[bidi] = True
    plus[np.flatnonzero(bidi) - 1] = False
    gaps[first] += margin
    offsets = np.cumsum(gaps)
    # position along its own chromosome: subtract the offset reached before its first gene
    tss = offsets - np.maximum.accumulate(np.where(first, offsets - gaps, 0))

    length = np.rint(rng.lognormal(np.log(0.6 * gene_spacing), 0.9, size=n_genes)).astype(np.int64)
    length = np.clip(length, 300, 10 * gene_spacing)
    start = np.where(plus, tss, tss - length + 1)
    end = np.where(plus, tss + length, tss + 1)

    # nested genes: a host gene's body is stretched over its downstream neighbour, whose body is
    # trimmed to fit inside the host
    same_next = np.r_[chrom_idx[1:] == chrom_idx[:-1], False]
    same_prev = np.r_[False, chrom_idx[1:] == chrom_idx[:-1]]
    pair_gene = bidi | np.r_[bidi[1:], False]
    nested = np.zeros(n_genes, dtype=bool)
    hosts = np.flatnonzero((rng.random(n_genes) < 0.03) & ~pair_gene)
    for h in hosts:
        if plus[h] and same_next[h] and not pair_gene[h + 1] and not nested[h] and not nested[h + 1]:
            j = h + 1
            start[j] = max(start[j], tss[h] + 1)
            end[h] = max(end[h], end[j] + int(rng.integers(200, 2000)))
            nested[j] = True
        elif not plus[h] and same_prev[h] and not pair_gene[h - 1] and not nested[h] and not nested[h - 1]:
            j = h - 1
            end[j] = min(end[j], tss[h])
            start[h] = min(start[h], start[j] - int(rng.integers(200, 2000)))
            nested[j] = True
    start = np.maximum(start, 0)
    return {
        "chrom_idx": chrom_idx,
        "tss": tss,
        "plus": plus,
        "start": start,
        "end": end,
        "bidirectional": bidi | np.r_[bidi[1:], False],
        "nested": nested,
    }


# ----------------------------------------------------------------------------------------------
# promoters
# ----------------------------------------------------------------------------------------------


def _promoter_windows(tss: np.ndarray, plus: np.ndarray, upstream: int, downstream: int) -> np.ndarray:
    """Genomic start of each promoter window ``[a, a + upstream + downstream)``."""
    return np.where(plus, tss - upstream, tss - downstream + 1)


def _plant(
    buffer: np.ndarray, off: np.ndarray, plus: np.ndarray, width: int, pos: np.ndarray, codes: np.ndarray
) -> None:
    """Write ``codes`` (rows, in gene orientation) at string positions ``pos`` of each promoter."""
    fwd = off[:, None] + pos
    rev = off[:, None] + width - 1 - pos
    where = np.where(plus[:, None], fwd, rev)
    values = np.where(plus[:, None], codes, _COMP[codes])
    buffer[where.ravel()] = values.ravel()


def _make_promoters(
    rng: np.random.Generator,
    layout: dict[str, np.ndarray],
    upstream: int,
    downstream: int,
) -> np.ndarray:
    """Cut promoters (gene orientation, uint8 matrix) from one consistent genome-coordinate buffer."""
    n = layout["tss"].size
    width = upstream + downstream
    if width == 0:
        return np.zeros((n, 0), dtype=np.uint8)
    plus = layout["plus"]
    a = _promoter_windows(layout["tss"], plus, upstream, downstream)
    # merge overlapping windows (bidirectional pairs share sequence) into one buffer per stretch
    key = layout["chrom_idx"].astype(np.int64) * (1 << 40) + a
    order = np.argsort(key, kind="stable")
    ks = key[order]
    reach = np.maximum.accumulate(ks + width)
    new_group = np.r_[True, ks[1:] >= reach[:-1]]
    group = np.cumsum(new_group) - 1
    group_start = ks[new_group]
    group_len = np.r_[reach[np.flatnonzero(new_group)[1:] - 1], reach[-1]] - group_start
    group_off = np.r_[0, np.cumsum(group_len)[:-1]]
    off = np.empty(n, dtype=np.int64)
    off[order] = group_off[group] + (ks - group_start[group])
    buffer = _random_sequence(rng, int(group_len.sum()))

    def positions(lo: int, hi: int) -> np.ndarray:
        return np.arange(max(0, upstream + lo), min(width, upstream + hi))

    # CpG islands: a GC-rich, CpG-rich patch around the TSS, with GC boxes (Sp1 sites)
    island = rng.random(n) < MOTIFS[1][2]
    core = positions(*_CORE)
    idx = np.flatnonzero(island)
    if core.size and idx.size:
        codes = _GC_RICH[rng.integers(0, 256, size=(idx.size, core.size), dtype=np.uint8)]
        _plant(buffer, off[idx], plus[idx], width, np.broadcast_to(core, codes.shape), codes)
    gc_box = np.frombuffer(b"GGGCGG", dtype=np.uint8)
    with_box = np.flatnonzero((island & (rng.random(n) < 0.7)) | (~island & (rng.random(n) < 0.05)))
    slots = positions(-150, -20 - gc_box.size)
    if slots.size and with_box.size:
        for copy in range(3):
            sel = with_box if copy == 0 else with_box[rng.random(with_box.size) < 0.4]
            pos = rng.choice(slots, size=sel.size)[:, None] + np.arange(gc_box.size)
            _plant(buffer, off[sel], plus[sel], width, pos, np.broadcast_to(gc_box, pos.shape))
    # TATA box at -31 +/- 3
    tata = np.frombuffer(b"TATAAA", dtype=np.uint8)
    lo = upstream + _TATA_POS - 3
    if lo >= 0 and upstream + _TATA_POS + 3 + tata.size <= width:
        idx = np.flatnonzero(rng.random(n) < MOTIFS[0][2])
        pos = (lo + rng.integers(0, 7, size=idx.size))[:, None] + np.arange(tata.size)
        _plant(buffer, off[idx], plus[idx], width, pos, np.broadcast_to(tata, pos.shape))
    # 8-mers anywhere in the window
    for _name, seq, frac, _effect in MOTIFS[3:]:
        motif = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        if width < motif.size:
            continue
        idx = np.flatnonzero(rng.random(n) < frac)
        pos = rng.integers(0, width - motif.size + 1, size=idx.size)[:, None] + np.arange(motif.size)
        _plant(buffer, off[idx], plus[idx], width, pos, np.broadcast_to(motif, pos.shape))

    mat = np.lib.stride_tricks.sliding_window_view(buffer, width)[off]
    mat[~plus] = _COMP[mat[~plus, ::-1]]
    return mat


def _promoter_strings(mat: np.ndarray) -> np.ndarray:
    """Rows of a uint8 matrix as an object array of str."""
    if mat.shape[1] == 0:
        return np.full(mat.shape[0], "", dtype=object)
    return np.array([row.tobytes().decode("ascii") for row in mat], dtype=object)


def _scan_motifs(promoters: np.ndarray, upstream: int) -> pd.DataFrame:
    """Motif features read back from the final promoter sequences (what a sequence model can see).

    ``tata_box``: TATAAA starting 40 to 21 bases upstream of the TSS; ``cpg_island``: CpG density
    in -250..+100 mapped to [0, 1] (background ~0.01 CpG per base, planted islands ~0.1);
    ``gc_box``: GGGCGG on either strand in -250..+100; 8-mers: anywhere on the sense strand.
    """
    up = upstream
    width = len(promoters[0]) if len(promoters) else 0

    def bounds(lo: int, hi: int) -> tuple[int, int]:
        return min(width, max(0, up + lo)), min(width, max(0, up + hi))

    t0, t1 = bounds(_TATA_SCAN[0], _TATA_SCAN[1] + 5)
    c0, c1 = bounds(*_CORE)
    cores = [s[c0:c1] for s in promoters]
    density = np.array([core.count("CG") for core in cores], dtype=float) / max(c1 - c0 - 1, 1)
    feats = {
        "tata_box": [("TATAAA" in s[t0:t1]) for s in promoters],
        "cpg_island": np.clip((density - 0.015) / 0.07, 0.0, 1.0),
        "gc_box": [("GGGCGG" in core) or ("CCGCCC" in core) for core in cores],
    }
    for name, seq, _frac, _effect in MOTIFS[3:]:
        feats[name] = [seq in s for s in promoters]
    return pd.DataFrame(feats).astype(float)


# ----------------------------------------------------------------------------------------------
# expression
# ----------------------------------------------------------------------------------------------


def _genomic_field(
    rng: np.random.Generator, chrom_idx: np.ndarray, tss: np.ndarray, dim: int, decay: float
) -> np.ndarray:
    """Ornstein-Uhlenbeck field along each chromosome (unit variance, correlation exp(-d/decay))."""
    z = rng.standard_normal((tss.size, dim))
    field = np.empty_like(z)
    same = np.r_[False, chrom_idx[1:] == chrom_idx[:-1]]
    rho = np.zeros(tss.size)
    rho[1:] = np.exp(-np.abs(np.diff(tss)) / decay)
    rho[~same] = 0.0
    innov = np.sqrt(1.0 - rho**2)
    prev = np.zeros(dim)
    for i in range(tss.size):
        prev = rho[i] * prev + innov[i] * z[i]
        field[i] = prev
    return field


def _pair_effects(
    rng: np.random.Generator,
    chrom_idx: np.ndarray,
    tss: np.ndarray,
    plus: np.ndarray,
    dim: int,
    scale: float,
) -> np.ndarray:
    """Effects shared by adjacent genes: divergent > tandem > convergent, decaying with distance."""
    n = tss.size
    out = np.zeros((n, dim))
    if n < 2:
        return out
    same = chrom_idx[1:] == chrom_idx[:-1]
    left, right = plus[:-1], plus[1:]
    strength = np.where(left == right, 0.5, np.where(~left & right, 1.0, 0.2))  # tandem, div., conv.
    dist = np.abs(np.diff(tss)).astype(float)
    weight = np.where(same, strength * np.exp(-dist / scale), 0.0)
    shared = rng.standard_normal((n - 1, dim)) * weight[:, None]
    out[:-1] += shared
    out[1:] += shared
    return out


def simulate(
    n_donors: int = 20,
    n_tissues: int = 8,
    n_genes: int = 2000,
    *,
    n_chromosomes: int = 3,
    gene_spacing: int = 20_000,
    upstream: int = 1000,
    downstream: int = 500,
    frac_missing_genes: float = 0.05,
    frac_missing_samples: float = 0.1,
    frac_missing_entries: float = 0.02,
    random_state: int | np.random.Generator | None = 0,
) -> AnnData:
    """Simulate donor x tissue x gene expression (TPM) with a genome, promoters and missing data.

    Samples are every donor x tissue combination (GTEx-style ids), genes are placed on a random
    genome. On the log1p scale a gene's level in a sample is the sum of

    * a baseline driven by motifs planted in its promoter (TATA box, CpG island, GC box, an
      activating and a repressing 8-mer; sequence explains roughly a quarter to a third of the
      across-gene variance of mean levels), its type (lncRNA lower) and gene noise;
    * a tissue profile from a few latent tissue programmes (tissues cluster), with two more
      8-mers each raising one programme, scaled by a gene specificity that TATA raises and CpG
      islands lower;
    * a genomic field along each chromosome (Ornstein-Uhlenbeck, decay length 4 x
      ``gene_spacing``) on level and tissue profile, plus effects shared by adjacent genes that are
      strongest for divergent (head-to-head) pairs and weakest for convergent ones;
    * donor effects shared by the donor's tissues (sparse eQTL-like genotype effects and two broad
      donor factors), a per-sample factor and noise.

    The amplitudes are set so that the baselines land near their real-GTEx reference figures
    (with 10 donors x 8 tissues x 3,000 genes, seed 0: inverse-distance neighbours r ~0.32 when
    whole genes are hidden, kNN r ~0.93 when scattered entries are hidden). Values below zero on
    the log1p scale become 0 TPM. Then three kinds of missingness are applied
    to ``X``: whole genes, whole donor x tissue samples (no tissue or donor loses all its
    samples) and scattered entries (independently, in the remaining entries).

    Parameters
    ----------
    n_donors
        Number of donors (individuals).
    n_tissues
        Number of tissues; named after GTEx tissues (``SMTSD``), "Tissue <n>" beyond 36.
    n_genes
        Number of genes.
    n_chromosomes
        Number of contigs, named ``chr1`` .. ``chrN``.
    gene_spacing
        Mean distance (bp) between consecutive TSSs (exponential gaps).
    upstream
        Promoter bases upstream of the TSS in ``var['promoter']``.
    downstream
        Promoter bases from the TSS downstream (the TSS base included).
    frac_missing_genes
        Fraction of genes missing in every sample.
    frac_missing_samples
        Fraction of donor x tissue samples missing entirely.
    frac_missing_entries
        Probability that each remaining entry is missing.
    random_state
        Seed or :class:`numpy.random.Generator`; the same seed gives the same data.

    Returns
    -------
    AnnData of shape ``(n_donors * n_tissues, n_genes)``, samples x genes:

    * ``X``: TPM (``float32``), ``NaN`` where missing; ``layers['truth']``: the complete TPM.
    * ``obs``: ``tissue``, ``donor`` (categorical); index = GTEx-style ``SAMPID``
      (``GTEX-S001-0001-SM-0001``; donor = first two dash-separated fields).
    * ``var``: index = gene id (``ENSGSIM00000001``); ``gene_id_version`` (with an Ensembl-style
      version suffix, as in GTF/GCT), ``gene_name``, ``chrom``, ``start`` (0-based), ``end``
      (exclusive), ``strand``, ``tss`` (0-based TSS base), ``gene_type`` (``protein_coding`` or
      ``lncRNA``), ``promoter`` (``upstream + downstream`` bases in the gene's orientation, the
      TSS at index ``upstream``: ``genome[tss-upstream : tss+downstream]`` on "+", the reverse
      complement of ``genome[tss-downstream+1 : tss+upstream+1]`` on "-").
    * ``varm['simulate_motifs']``: the motif features read back from each promoter (columns
      ``uns['simulate']['motif_names']``).
    * ``uns['simulate']``: the parameters, ``genome_seed``, ``chrom_names``, ``chrom_lengths``,
      ``decay_length``, motif names/sequences/effects and each tissue's programme.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100, random_state=0)
    >>> adata.shape
    (12, 100)
    >>> sorted(adata.var.columns)[:4]
    ['chrom', 'end', 'gene_id_version', 'gene_name']
    """
    import anndata as ad

    n_donors = _check_int("n_donors", n_donors, 1)
    n_tissues = _check_int("n_tissues", n_tissues, 1)
    n_genes = _check_int("n_genes", n_genes, 1)
    n_chromosomes = _check_int("n_chromosomes", n_chromosomes, 1)
    gene_spacing = _check_int("gene_spacing", gene_spacing, 100)
    upstream = _check_int("upstream", upstream, 0)
    downstream = _check_int("downstream", downstream, 0)
    frac_missing_genes = _check_fraction("frac_missing_genes", frac_missing_genes)
    frac_missing_samples = _check_fraction("frac_missing_samples", frac_missing_samples)
    frac_missing_entries = _check_fraction("frac_missing_entries", frac_missing_entries)
    rng = check_random_state(random_state)
    # one independent stream per component, so changing one part leaves the others alone
    (r_layout, r_prom, r_gene, r_tissue, r_field, r_donor, r_noise, r_miss) = rng.spawn(8)
    genome_seed = int(rng.integers(0, 2**31 - 1))

    # --- genome and genes ---------------------------------------------------------------------
    margin = max(upstream, downstream) + 1000
    layout = _layout_genes(r_layout, n_genes, n_chromosomes, gene_spacing, margin)
    chrom_idx, tss, plus = layout["chrom_idx"], layout["tss"], layout["plus"]
    chrom_names = np.array([f"chr{i + 1}" for i in range(n_chromosomes)])
    window_end = np.where(plus, tss + downstream, tss + upstream + 1)
    chrom_lengths = np.full(n_chromosomes, margin + gene_spacing, dtype=np.int64)
    extent = np.maximum(layout["end"], window_end)
    for c in range(n_chromosomes):
        sel = chrom_idx == c
        if sel.any():
            chrom_lengths[c] = int(extent[sel].max()) + margin + gene_spacing // 2

    mat = _make_promoters(r_prom, layout, upstream, downstream)
    promoters = _promoter_strings(mat)
    motifs = _scan_motifs(promoters, upstream)
    motif_names = list(motifs.columns)
    feats = motifs.to_numpy()

    lncrna = r_gene.random(n_genes) < np.where(layout["bidirectional"], 0.4, 0.18)
    effects = np.array([m[3] for m in MOTIFS])
    baseline = 1.6 + feats @ effects - 1.0 * lncrna + 0.6 * r_gene.standard_normal(n_genes)
    specificity = np.exp(
        0.4 * feats[:, 0] - 0.5 * feats[:, 1] + 0.3 * lncrna + 0.25 * r_gene.standard_normal(n_genes)
    )

    # --- tissue programmes --------------------------------------------------------------------
    n_prog = int(min(4, max(1, n_tissues // 2)))
    cluster = r_tissue.permutation(np.arange(n_tissues) % n_prog)
    loadings = np.eye(n_prog)[cluster] + 0.35 * r_tissue.standard_normal((n_tissues, n_prog))
    weights = 0.4 * r_tissue.standard_normal((n_prog, n_genes))
    weights += (r_tissue.random((n_prog, n_genes)) < 0.12) * r_tissue.exponential(1.2, (n_prog, n_genes))
    for name, prog in _TISSUE_MOTIFS.items():
        weights[prog % n_prog] += _TISSUE_MOTIF_EFFECT * feats[:, motif_names.index(name)]
    tissue_dev = specificity[:, None] * (
        (loadings @ weights).T + 0.3 * r_tissue.standard_normal((n_genes, n_tissues))
    )

    # --- genomic co-expression ----------------------------------------------------------------
    decay = 4.0 * gene_spacing
    field = _genomic_field(r_field, chrom_idx, tss, 1 + n_tissues, decay)
    pairs = _pair_effects(r_field, chrom_idx, tss, plus, 1 + n_tissues, scale=gene_spacing / 2)
    genomic = np.c_[0.75 * field[:, :1], 0.35 * field[:, 1:]] + np.c_[0.5 * pairs[:, :1], 0.5 * pairs[:, 1:]]
    baseline += genomic[:, 0]
    tissue_dev += genomic[:, 1:]
    gene_tissue = baseline[:, None] + tissue_dev  # (genes, tissues)

    # --- donors, samples, noise ---------------------------------------------------------------
    eqtl = r_donor.random(n_genes) < 0.2
    freq = r_donor.uniform(0.05, 0.5, size=n_genes)
    beta = np.where(eqtl, r_donor.normal(0.0, 0.6, size=n_genes), 0.0)
    genotype = r_donor.binomial(2, freq, size=(n_donors, n_genes))
    donor_effect = beta * (genotype - 2 * freq)
    donor_effect += r_donor.standard_normal((n_donors, 2)) @ (0.15 * r_donor.standard_normal((2, n_genes)))
    n_samples = n_donors * n_tissues
    sample_factor = r_noise.standard_normal((n_samples, 1))
    sample_loading = 0.1 * r_noise.standard_normal((1, n_genes))
    # built in place, one (samples x genes) float64 array at a time
    log_truth = r_noise.standard_normal((n_samples, n_genes))
    log_truth *= 0.3
    log_truth += sample_factor * sample_loading
    log_truth.reshape(n_donors, n_tissues, n_genes)[...] += gene_tissue.T[None, :, :]
    log_truth.reshape(n_donors, n_tissues, n_genes)[...] += donor_effect[:, None, :]
    np.clip(log_truth, 0.0, None, out=log_truth)
    truth = np.expm1(log_truth, out=log_truth).astype(np.float32)
    del log_truth

    # --- missingness --------------------------------------------------------------------------
    donor_of = np.repeat(np.arange(n_donors), n_tissues)
    tissue_of = np.tile(np.arange(n_tissues), n_donors)
    X = truth.copy()
    n_miss_genes = round(frac_missing_genes * n_genes)
    missing_genes = np.sort(r_miss.choice(n_genes, size=n_miss_genes, replace=False))
    X[:, missing_genes] = np.nan
    n_miss_samples = round(frac_missing_samples * n_samples)
    left_t = np.bincount(tissue_of, minlength=n_tissues)
    left_d = np.bincount(donor_of, minlength=n_donors)
    missing_samples = []
    for s in r_miss.permutation(n_samples):
        if len(missing_samples) == n_miss_samples:
            break
        if left_t[tissue_of[s]] > 1 and left_d[donor_of[s]] > 1:
            left_t[tissue_of[s]] -= 1
            left_d[donor_of[s]] -= 1
            missing_samples.append(s)
    if len(missing_samples) < n_miss_samples:
        logger.warning(
            "simulate: only %d of %d requested missing samples could be removed while keeping "
            "every tissue and donor observed",
            len(missing_samples),
            n_miss_samples,
        )
    X[np.sort(np.asarray(missing_samples, dtype=np.int64)), :] = np.nan
    if frac_missing_entries > 0:
        scattered = r_miss.random(X.shape, dtype=np.float32) < frac_missing_entries
        X[scattered] = np.nan

    # --- AnnData --------------------------------------------------------------------------------
    tissue_names = [
        GTEX_TISSUES[t][0] if t < len(GTEX_TISSUES) else f"Tissue {t + 1}" for t in range(n_tissues)
    ]
    dw = max(3, len(str(n_donors)))
    sw = max(4, len(str(n_samples)))
    donors = [f"GTEX-S{d + 1:0{dw}d}" for d in range(n_donors)]
    sampid = [
        f"{donors[d]}-{t + 1:04d}-SM-{s + 1:0{sw}d}"
        for s, (d, t) in enumerate(zip(donor_of, tissue_of, strict=True))
    ]
    obs = pd.DataFrame(
        {
            "tissue": pd.Categorical.from_codes(tissue_of, categories=tissue_names),
            "donor": pd.Categorical.from_codes(donor_of, categories=donors),
        },
        index=pd.Index(sampid, name="SAMPID"),
    )
    gene_ids = [f"ENSGSIM{i + 1:08d}" for i in range(n_genes)]
    versions = r_gene.integers(1, 15, size=n_genes)
    var = pd.DataFrame(
        {
            "gene_id_version": [f"{g}.{v}" for g, v in zip(gene_ids, versions, strict=True)],
            "gene_name": [f"SIMG{i + 1}" for i in range(n_genes)],
            "chrom": chrom_names[chrom_idx].astype(object),
            "start": layout["start"].astype(np.int64),
            "end": layout["end"].astype(np.int64),
            "strand": np.where(plus, "+", "-").astype(object),
            "tss": tss.astype(np.int64),
            "gene_type": np.where(lncrna, "lncRNA", "protein_coding").astype(object),
            "promoter": promoters,
        },
        index=pd.Index(gene_ids, name="gene_id"),
    )
    params = {
        "n_donors": n_donors,
        "n_tissues": n_tissues,
        "n_genes": n_genes,
        "n_chromosomes": n_chromosomes,
        "gene_spacing": gene_spacing,
        "upstream": upstream,
        "downstream": downstream,
        "frac_missing_genes": frac_missing_genes,
        "frac_missing_samples": frac_missing_samples,
        "frac_missing_entries": frac_missing_entries,
        "random_state": random_state if isinstance(random_state, int | np.integer) else -1,
        "genome_seed": genome_seed,
        "chrom_names": chrom_names,
        "chrom_lengths": chrom_lengths,
        "decay_length": float(decay),
        "motif_names": np.array(motif_names),
        "motif_sequences": np.array([m[1] for m in MOTIFS]),
        "motif_effects": effects,
        "tissue_programme": cluster.astype(np.int64),
        "n_missing_genes": int(n_miss_genes),
        "n_missing_samples": len(missing_samples),
    }
    if isinstance(params["random_state"], np.integer):
        params["random_state"] = int(params["random_state"])
    adata = ad.AnnData(X=X, obs=obs, var=var, layers={"truth": truth})
    adata.varm["simulate_motifs"] = feats.astype(np.float32)
    adata.uns["simulate"] = params
    return adata


# ----------------------------------------------------------------------------------------------
# writers
# ----------------------------------------------------------------------------------------------

_REQUIRED_VAR = ("chrom", "start", "end", "strand", "tss")


def _check_var(adata: AnnData, columns=_REQUIRED_VAR) -> None:
    missing = [c for c in columns if c not in adata.var.columns]
    if missing:
        msg = (
            f"adata.var lacks {missing}; write_dataset needs the simulator's gene annotation. "
            "Pass an AnnData from gex_impute.datasets.simulate() or annotate it first."
        )
        raise ValueError(msg)


def _gene_table(adata: AnnData) -> pd.DataFrame:
    """Gene annotation with ids, versions and names filled in, sorted by chromosome and start."""
    _check_var(adata)
    var = adata.var.reset_index(drop=True)
    ids = pd.Series(adata.var_names.astype(str))
    genes = pd.DataFrame(
        {
            "gene_id": ids,
            "gene_id_version": var["gene_id_version"].astype(str) if "gene_id_version" in var else ids,
            "gene_name": var["gene_name"].astype(str) if "gene_name" in var else ids,
            "gene_type": var["gene_type"].astype(str) if "gene_type" in var else "protein_coding",
            "chrom": var["chrom"].astype(str),
            "start": var["start"].astype(np.int64),
            "end": var["end"].astype(np.int64),
            "strand": var["strand"].astype(str),
        }
    )
    chrom_order = {c: i for i, c in enumerate(_chrom_names(adata))}
    genes["_c"] = genes["chrom"].map(chrom_order)
    return genes.sort_values(["_c", "start", "end"], kind="stable").drop(columns="_c")


def _chrom_names(adata: AnnData) -> list[str]:
    params = adata.uns.get("simulate", {})
    if "chrom_names" in params:
        return [str(c) for c in params["chrom_names"]]
    names = pd.unique(adata.var["chrom"].astype(str))
    return sorted(names, key=lambda c: (len(c), c))


def _write_text(path: Path, text: str, *, compress: bool = False) -> Path:
    with _open_text(path, compress=compress) as fh:
        fh.write(text)
    return path


def _transcript_id(gene_id: str) -> str:
    return gene_id.replace("ENSG", "ENST", 1) if gene_id.startswith("ENSG") else f"{gene_id}-T1"


def _exons(start: int, end: int) -> list[tuple[int, int]]:
    """One or two exons (0-based, half-open) covering the ends of a gene body."""
    length = end - start
    if length < 1000:
        return [(start, end)]
    return [(start, start + min(300, length // 3)), (end - min(500, length // 3), end)]


def _write_gtf(path: str | os.PathLike, adata: AnnData) -> Path:
    """GENCODE-style GTF (gene, transcript and exon records; 1-based inclusive coordinates)."""
    genes = _gene_table(adata)
    lines = [
        "##description: gex_impute simulated gene annotation (GENCODE style)",
        "##provider: gex_impute",
        "##format: gtf",
    ]
    for g in genes.itertuples(index=False):
        gid, tid = g.gene_id_version, _transcript_id(g.gene_id_version)
        common = f'gene_id "{gid}"; gene_type "{g.gene_type}"; gene_name "{g.gene_name}"; level 2;'
        tx = (
            f'gene_id "{gid}"; transcript_id "{tid}"; gene_type "{g.gene_type}"; gene_name "{g.gene_name}"; '
            f'transcript_type "{g.gene_type}"; transcript_name "{g.gene_name}-201"; level 2;'
        )
        lines.append(f"{g.chrom}\tgex_impute\tgene\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t{common}")
        lines.append(f"{g.chrom}\tgex_impute\ttranscript\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t{tx}")
        exons = _exons(g.start, g.end)
        if g.strand == "-":
            exons = exons[::-1]
        for k, (a, b) in enumerate(exons, start=1):
            attrs = f'{tx} exon_number {k}; exon_id "{tid.replace("ENST", "ENSE", 1)}.{k}";'
            lines.append(f"{g.chrom}\tgex_impute\texon\t{a + 1}\t{b}\t.\t{g.strand}\t.\t{attrs}")
    return _write_text(Path(path), "\n".join(lines) + "\n")


def _write_gff3(path: str | os.PathLike, adata: AnnData) -> Path:
    """GENCODE-style GFF3 of the same genes, transcripts and exons as :func:`_write_gtf`."""
    genes = _gene_table(adata)
    lengths = _chrom_lengths(adata)
    lines = ["##gff-version 3"]
    lines += [f"##sequence-region {c} 1 {n}" for c, n in lengths.items()]
    for g in genes.itertuples(index=False):
        gid, tid = g.gene_id_version, _transcript_id(g.gene_id_version)
        base = f"gene_id={gid};gene_type={g.gene_type};gene_name={g.gene_name};level=2"
        lines.append(
            f"{g.chrom}\tgex_impute\tgene\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\tID={gid};{base}"
        )
        lines.append(
            f"{g.chrom}\tgex_impute\ttranscript\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t"
            f"ID={tid};Parent={gid};{base};transcript_id={tid};transcript_type={g.gene_type}"
        )
        exons = _exons(g.start, g.end)
        if g.strand == "-":
            exons = exons[::-1]
        for k, (a, b) in enumerate(exons, start=1):
            lines.append(
                f"{g.chrom}\tgex_impute\texon\t{a + 1}\t{b}\t.\t{g.strand}\t.\t"
                f"ID=exon:{tid}:{k};Parent={tid};{base};transcript_id={tid};exon_number={k}"
            )
    return _write_text(Path(path), "\n".join(lines) + "\n")


def _write_bed(path: str | os.PathLike, adata: AnnData) -> Path:
    """BED6 of gene bodies (0-based start, exclusive end; name = gene id without version)."""
    genes = _gene_table(adata)
    lines = [
        f"{g.chrom}\t{g.start}\t{g.end}\t{g.gene_id}\t0\t{g.strand}" for g in genes.itertuples(index=False)
    ]
    return _write_text(Path(path), "\n".join(lines) + "\n")


def _write_genes_tsv(path: str | os.PathLike, adata: AnnData) -> Path:
    """TSV with a header: chrom, start (0-based), end (exclusive), strand, gene_id (no version)."""
    genes = _gene_table(adata)[["chrom", "start", "end", "strand", "gene_id"]]
    return _write_text(Path(path), genes.to_csv(sep="\t", index=False, lineterminator="\n"))


def _write_promoters_fasta(path: str | os.PathLike, adata: AnnData, *, width: int = 60) -> Path:
    """Promoter sequences keyed by gene id (no version), in the gene's orientation."""
    _check_var(adata, ("promoter",))
    lines = []
    for gid, seq in zip(adata.var_names, adata.var["promoter"].astype(str), strict=True):
        if seq:
            lines.append(f">{gid}")
            lines += [seq[i : i + width] for i in range(0, len(seq), width)]
    return _write_text(Path(path), "\n".join(lines) + "\n")


def _write_promoters_tsv(path: str | os.PathLike, adata: AnnData) -> Path:
    """Two columns, no header (like EPD's table): gene id (no version), promoter sequence."""
    _check_var(adata, ("promoter",))
    lines = [
        f"{gid}\t{seq}"
        for gid, seq in zip(adata.var_names, adata.var["promoter"].astype(str), strict=True)
        if seq
    ]
    return _write_text(Path(path), "\n".join(lines) + "\n")


def _write_gct(path: str | os.PathLike, adata: AnnData, *, compress: bool | None = None) -> Path:
    """GTEx GCT v1.2 of ``X``: genes x observed samples.

    ``Name`` is the versioned gene id, ``Description`` the gene name. Samples missing entirely are
    left out (as GTEx leaves out samples it has no RNA-seq for); genes missing entirely and
    scattered missing entries are written as ``nan``. Values use 6 significant digits.
    """
    path = Path(path)
    compress = path.suffix == ".gz" if compress is None else compress
    X = _dense(adata.X)
    keep = ~np.isnan(X).all(axis=1)
    X = X[keep]
    var = adata.var
    ids = adata.var_names.astype(str)
    names = var["gene_id_version"].astype(str).to_numpy() if "gene_id_version" in var else ids
    descs = var["gene_name"].astype(str).to_numpy() if "gene_name" in var else ids
    row_format = "\t".join(["%.6g"] * X.shape[0]) + "\n"  # "%g" writes NaN as "nan"
    with _open_text(path, compress=compress) as fh:
        fh.write(f"#1.2\n{adata.n_vars}\t{X.shape[0]}\n")
        fh.write("\t".join(["Name", "Description", *adata.obs_names[keep].astype(str)]) + "\n")
        for j in range(adata.n_vars):
            fh.write(f"{names[j]}\t{descs[j]}\t" + row_format % tuple(X[:, j].tolist()))
    return path


def _dense(X) -> np.ndarray:
    """``X`` as a dense float64 array (sparse matrices are densified)."""
    from scipy import sparse

    return np.asarray(X.toarray() if sparse.issparse(X) else X, dtype=np.float64)


@contextlib.contextmanager
def _open_text(path: Path, *, compress: bool = False) -> Iterator[IO[str]]:
    """Open ``path`` for writing text atomically, gzip-compressed (reproducible bytes) if asked."""
    with atomic_path(path) as tmp, open(tmp, "wb") as raw:
        if compress:
            # mtime=0 and no file name in the header: the same text gives the same bytes
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
                with _io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as fh:
                    yield fh
        else:
            with _io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as fh:
                yield fh


def _write_sample_attributes(path: str | os.PathLike, adata: AnnData, *, tissue_key: str = "tissue") -> Path:
    """GTEx-style sample attributes: SAMPID, SMTS (broad tissue), SMTSD (detailed tissue), SMAFRZE.

    Every sample is listed; ``SMAFRZE`` is ``RNASEQ`` for samples with data and ``EXCLUDE`` for
    samples missing entirely (they are absent from the GCT).
    """
    broad = dict(GTEX_TISSUES)
    tissue = adata.obs[tissue_key].astype(str)
    observed = ~np.isnan(_dense(adata.X)).all(axis=1)
    table = pd.DataFrame(
        {
            "SAMPID": adata.obs_names.astype(str),
            "SMTS": [broad.get(t, t) for t in tissue],
            "SMTSD": tissue.to_numpy(),
            "SMAFRZE": np.where(observed, "RNASEQ", "EXCLUDE"),
        }
    )
    return _write_text(Path(path), table.to_csv(sep="\t", index=False, lineterminator="\n"))


def _chrom_lengths(adata: AnnData) -> dict[str, int]:
    params = adata.uns.get("simulate", {})
    names = _chrom_names(adata)
    if "chrom_lengths" in params and len(params["chrom_lengths"]) == len(names):
        return {c: int(n) for c, n in zip(names, params["chrom_lengths"], strict=True)}
    var = adata.var
    up, down = int(params.get("upstream", 1000)), int(params.get("downstream", 500))
    reach = np.maximum(var["end"].to_numpy(np.int64), var["tss"].to_numpy(np.int64) + max(up, down) + 1)
    by = pd.Series(reach).groupby(var["chrom"].astype(str).to_numpy()).max()
    return {c: int(by.get(c, 0)) + 1000 for c in names}


def _write_fasta(path: str | os.PathLike, adata: AnnData, *, width: int = 60) -> Path:
    """Genome FASTA consistent with ``var['promoter']``, then its ``.fai`` index via pysam.

    Background sequence is regenerated from ``uns['simulate']['genome_seed']`` chromosome by
    chromosome (in chunks, so memory stays small); each gene's promoter is written at its window.
    """
    import pysam

    _check_var(adata, (*_REQUIRED_VAR, "promoter"))
    params = adata.uns.get("simulate", {})
    seed = int(params.get("genome_seed", 0))
    up, down = int(params.get("upstream", 1000)), int(params.get("downstream", 500))
    var = adata.var
    promoters = var["promoter"].astype(str).to_numpy()
    has = np.array([len(p) > 0 for p in promoters])
    bad = has & (np.array([len(p) for p in promoters]) != up + down)
    if bad.any():
        msg = (
            f"{int(bad.sum())} promoters are not {up}+{down} bases long (e.g. {var.index[bad][0]}); "
            "uns['simulate'] upstream/downstream must match var['promoter']."
        )
        raise ValueError(msg)
    plus = var["strand"].astype(str).to_numpy() == "+"
    a_all = _promoter_windows(var["tss"].to_numpy(np.int64), plus, up, down)
    chrom = var["chrom"].astype(str).to_numpy()
    lengths = _chrom_lengths(adata)
    chunk = 60 * 100_000  # a multiple of the line width
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for ci, (name, length) in enumerate(lengths.items()):
            sel = np.flatnonzero((chrom == name) & has)
            if sel.size and (a_all[sel].min() < 0 or a_all[sel].max() + up + down > length):
                msg = f"promoter windows on {name} fall outside its length {length}; check var['tss']."
                raise ValueError(msg)
            order = sel[np.argsort(a_all[sel], kind="stable")]
            starts = a_all[order]
            seqs = [
                np.frombuffer(
                    (promoters[i] if plus[i] else _revcomp(promoters[i])).encode("ascii"), dtype=np.uint8
                )
                for i in order
            ]
            rng = np.random.default_rng([seed, ci])
            fh.write(f">{name}\n".encode("ascii"))
            for c0 in range(0, length, chunk):
                c1 = min(c0 + chunk, length)
                buf = _random_sequence(rng, c1 - c0)
                lo = np.searchsorted(starts, c0 - (up + down), side="right")
                hi = np.searchsorted(starts, c1, side="left")
                for k in range(lo, hi):
                    a = int(starts[k])
                    s0, s1 = max(a, c0), min(a + up + down, c1)
                    if s1 > s0:
                        buf[s0 - c0 : s1 - c0] = seqs[k][s0 - a : s1 - a]
                n_full = buf.size // width
                if n_full:
                    lines = np.empty((n_full, width + 1), dtype=np.uint8)
                    lines[:, :width] = buf[: n_full * width].reshape(n_full, width)
                    lines[:, width] = ord("\n")
                    fh.write(lines.tobytes())
                if buf.size % width:
                    fh.write(buf[n_full * width :].tobytes() + b"\n")
    fai = Path(f"{path}.fai")
    if fai.exists():
        fai.unlink()
    pysam.faidx(str(path))
    return path


def write_dataset(
    folder: str | os.PathLike,
    adata: AnnData | None = None,
    *,
    fasta: bool = True,
    gtf: bool = True,
    gct: bool = True,
    **simulate_kwargs,
) -> dict[str, Path]:
    """Write a simulated dataset as the files users download.

    Parameters
    ----------
    folder
        Output folder (created when needed).
    adata
        An AnnData from :func:`simulate`; simulated from ``simulate_kwargs`` when None.
    fasta
        Write ``genome.fa`` and its index ``genome.fa.fai`` (pysam). The genome reproduces
        ``var['promoter']``: ``genome[tss-upstream : tss+downstream]`` on "+", the reverse
        complement of ``genome[tss-downstream+1 : tss+upstream+1]`` on "-".
    gtf
        Write ``genes.gtf``: GENCODE-style gene, transcript and exon records (1-based, inclusive),
        versioned gene ids (``ENSGSIM00000001.3``), ``gene_type`` and ``gene_name``.
    gct
        Write ``expression.gct`` (GTEx GCT v1.2 of ``X``: versioned ids in ``Name``, gene name in
        ``Description``; samples missing entirely are left out, other missing values are ``nan``)
        and ``sample_attributes.tsv`` (``SAMPID``, ``SMTS``, ``SMTSD``, ``SMAFRZE``).
    **simulate_kwargs
        Passed to :func:`simulate` when ``adata`` is None.

    Returns
    -------
    Paths written, keyed ``h5ad``, ``fasta``, ``fai``, ``gtf``, ``gct``, ``sample_attributes``. Each
    file is written atomically (a failure leaves no partial file).

    Examples
    --------
    >>> import tempfile
    >>> import gex_impute as gi
    >>> paths = gi.datasets.write_dataset(tempfile.mkdtemp(), n_donors=3, n_tissues=2, n_genes=20)
    >>> sorted(paths)
    ['fai', 'fasta', 'gct', 'gtf', 'h5ad', 'sample_attributes']
    """
    if adata is None:
        adata = simulate(**simulate_kwargs)
    elif simulate_kwargs:
        msg = f"got adata and simulate options {sorted(simulate_kwargs)}; pass one or the other."
        raise ValueError(msg)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    with atomic_path(folder / "sim.h5ad") as tmp:
        adata.write_h5ad(tmp)
    paths["h5ad"] = folder / "sim.h5ad"
    if fasta:
        paths["fasta"] = _write_fasta(folder / "genome.fa", adata)
        paths["fai"] = folder / "genome.fa.fai"
    if gtf:
        paths["gtf"] = _write_gtf(folder / "genes.gtf", adata)
    if gct:
        paths["gct"] = _write_gct(folder / "expression.gct", adata)
        paths["sample_attributes"] = _write_sample_attributes(folder / "sample_attributes.tsv", adata)
    logger.info("wrote %s to %s", ", ".join(p.name for p in paths.values()), folder)
    return paths
