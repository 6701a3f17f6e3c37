"""The simulated expression model: gene levels, tissue programmes, genomic co-expression, donors.

On the log1p TPM scale a gene's level in a sample is the sum of a baseline (promoter motifs,
gene type, noise), a tissue profile (latent tissue programmes scaled by a gene specificity), a
genomic field shared by neighbouring genes, donor effects (eQTL-like genotypes, broad donor
factors, optionally sex and age) and sample noise. :func:`sample_levels` turns the model into
TPM for any list of (donor, tissue) samples, block by block, into one ``float32`` array.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sim_genome import MOTIFS, TISSUE_MOTIF_EFFECT, TISSUE_MOTIFS

__all__ = ["GeneModel", "build_gene_model", "enrich_genes", "sample_levels", "soft_ceiling"]

#: rows of a samples x genes block generated at a time (memory: block x genes x 8 bytes)
BLOCK_ROWS = 256
#: width (log1p scale) of the band below ``GeneModel.log_ceiling`` where levels bend towards it
TAIL_WIDTH = 5.0
#: lowest share of ``tpm_per_gene`` a sample's total takes (uniform between it and 1)
TOTAL_LOW = 0.78
#: ranges (log1p) by which a tissue-enriched gene rises in its tissue group and falls elsewhere
ENRICH_ON = (0.5, 2.0)
ENRICH_OFF = (2.0, 4.0)


@dataclass(frozen=True)
class GeneModel:
    """What every sample of one simulation shares."""

    gene_tissue: np.ndarray  # (genes, tissues) mean log1p level of each gene in each tissue
    donor_effect: np.ndarray  # (donors, genes) genotype and donor-factor effects
    lncrna: np.ndarray  # (genes,) bool
    tissue_programme: np.ndarray  # (tissues,) programme of each tissue
    decay_length: float
    #: soft ceiling of a sample's log1p level (None: none): levels above ``ceiling - TAIL_WIDTH``
    #: bend towards it (``tanh``), as TPM shares cannot grow without bound
    log_ceiling: float | None = None
    #: each sample's largest TPM total over the simulated genes, per gene (None: not
    #: normalised); a sample's own draw puts its total between ``TOTAL_LOW`` and 1 times that, as
    #: the share of other RNA (mitochondrial, non-coding) varies
    tpm_per_gene: float | None = None


def genomic_field(
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


def pair_effects(
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


def build_gene_model(
    streams: dict[str, np.random.Generator],
    layout: dict[str, np.ndarray],
    motifs: pd.DataFrame,
    *,
    n_tissues: int,
    n_donors: int,
    gene_spacing: int,
    programmes: Sequence[int] | None = None,
    tissue_groups: Sequence[int] | None = None,
    donor_sex: np.ndarray | None = None,
    donor_age: np.ndarray | None = None,
    tissue_scale: float = 1.0,
    log_ceiling: float | None = None,
    baseline_spread: float = 1.0,
    enriched: tuple[np.random.Generator, float, np.ndarray] | None = None,
    tpm_per_gene: float | None = None,
) -> GeneModel:
    """Draw the shared part of the model from the streams ``gene``, ``tissue``, ``field``, ``donor``.

    ``programmes`` assigns each tissue a programme (random clusters when None); ``tissue_groups``
    adds an effect shared by the tissues of a group (e.g. GTEx's SMTS: the brain regions);
    ``donor_sex`` (True = female) and ``donor_age`` (decades, centred) add sex- and age-biased
    genes. ``tissue_scale`` multiplies every gene's deviations between tissues,
    ``baseline_spread`` widens the spread of gene levels around their mean, ``enriched`` =
    ``(rng, fraction, group weights)`` makes genes tissue-enriched (:func:`enrich_genes`), and
    ``log_ceiling`` / ``tpm_per_gene`` bound each value softly and fix each sample's TPM total
    (:func:`sample_levels`). Without these options the draws are those of the original simulator.
    """
    r_gene, r_tissue, r_field, r_donor = (streams[k] for k in ("gene", "tissue", "field", "donor"))
    feats = motifs.to_numpy()
    motif_names = list(motifs.columns)
    n_genes = feats.shape[0]

    # --- gene baselines -----------------------------------------------------------------------
    lncrna = r_gene.random(n_genes) < np.where(layout["bidirectional"], 0.4, 0.18)
    effects = np.array([m[3] for m in MOTIFS])
    baseline = 1.6 + feats @ effects - 1.0 * lncrna + 0.6 * r_gene.standard_normal(n_genes)
    specificity = np.exp(
        0.4 * feats[:, 0] - 0.5 * feats[:, 1] + 0.3 * lncrna + 0.25 * r_gene.standard_normal(n_genes)
    )

    # --- tissue programmes --------------------------------------------------------------------
    if programmes is None:
        n_prog = int(min(4, max(1, n_tissues // 2)))
        cluster = r_tissue.permutation(np.arange(n_tissues) % n_prog)
    else:
        cluster = np.asarray(programmes, dtype=np.int64)
        n_prog = int(cluster.max()) + 1
    loadings = np.eye(n_prog)[cluster] + 0.35 * r_tissue.standard_normal((n_tissues, n_prog))
    weights = 0.4 * r_tissue.standard_normal((n_prog, n_genes))
    weights += (r_tissue.random((n_prog, n_genes)) < 0.12) * r_tissue.exponential(1.2, (n_prog, n_genes))
    for name, prog in TISSUE_MOTIFS.items():
        weights[prog % n_prog] += TISSUE_MOTIF_EFFECT * feats[:, motif_names.index(name)]
    tissue_dev = specificity[:, None] * (
        (loadings @ weights).T + 0.3 * r_tissue.standard_normal((n_genes, n_tissues))
    )
    if tissue_groups is not None:
        groups = np.asarray(tissue_groups, dtype=np.int64)
        group_effect = 0.3 * r_tissue.standard_normal((n_genes, int(groups.max()) + 1))
        tissue_dev += specificity[:, None] * group_effect[:, groups]

    # --- genomic co-expression ----------------------------------------------------------------
    decay = 4.0 * gene_spacing
    chrom_idx, tss, plus = layout["chrom_idx"], layout["tss"], layout["plus"]
    field = genomic_field(r_field, chrom_idx, tss, 1 + n_tissues, decay)
    pairs = pair_effects(r_field, chrom_idx, tss, plus, 1 + n_tissues, scale=gene_spacing / 2)
    genomic = np.c_[0.75 * field[:, :1], 0.35 * field[:, 1:]] + np.c_[0.5 * pairs[:, :1], 0.5 * pairs[:, 1:]]
    baseline += genomic[:, 0]
    tissue_dev += genomic[:, 1:]
    if baseline_spread != 1.0:
        baseline = baseline.mean() + baseline_spread * (baseline - baseline.mean())
    gene_tissue = baseline[:, None] + tissue_scale * tissue_dev
    if enriched is not None and tissue_groups is not None:
        enrich_genes(gene_tissue, np.asarray(tissue_groups, dtype=np.int64), *enriched)

    # --- donors -------------------------------------------------------------------------------
    eqtl = r_donor.random(n_genes) < 0.2
    freq = r_donor.uniform(0.05, 0.5, size=n_genes)
    beta = np.where(eqtl, r_donor.normal(0.0, 0.6, size=n_genes), 0.0)
    genotype = r_donor.binomial(2, freq, size=(n_donors, n_genes))
    donor_effect = beta * (genotype - 2 * freq)
    del genotype
    donor_effect += r_donor.standard_normal((n_donors, 2)) @ (0.15 * r_donor.standard_normal((2, n_genes)))
    if donor_sex is not None:
        sex_biased = r_donor.random(n_genes) < 0.03
        sex_beta = np.where(sex_biased, r_donor.normal(0.0, 0.8, size=n_genes), 0.0)
        donor_effect += np.asarray(donor_sex, dtype=float)[:, None] * sex_beta[None, :]
    if donor_age is not None:
        age_beta = r_donor.normal(0.0, 0.04, size=n_genes)
        donor_effect += np.asarray(donor_age, dtype=float)[:, None] * age_beta[None, :]
    return GeneModel(
        gene_tissue=gene_tissue,
        donor_effect=donor_effect,
        lncrna=lncrna,
        tissue_programme=cluster.astype(np.int64),
        decay_length=float(decay),
        log_ceiling=log_ceiling,
        tpm_per_gene=tpm_per_gene,
    )


def enrich_genes(
    gene_tissue: np.ndarray,
    groups: np.ndarray,
    rng: np.random.Generator,
    fraction: float,
    weights: np.ndarray,
) -> None:
    """Make a ``fraction`` of genes tissue-enriched, in place: on in one tissue group, off elsewhere.

    Each such gene's group is drawn with probabilities ``weights`` (one per group); its level
    rises by ``U(ENRICH_ON)`` in the group's tissues and falls by ``U(ENRICH_OFF)`` in the others.
    """
    n_genes = gene_tissue.shape[0]
    chosen = rng.random(n_genes) < fraction
    group = np.asarray(rng.choice(weights.size, size=n_genes, p=weights / weights.sum()))
    on = np.asarray(rng.uniform(ENRICH_ON[0], ENRICH_ON[1], size=n_genes))
    off = np.asarray(rng.uniform(ENRICH_OFF[0], ENRICH_OFF[1], size=n_genes))
    inside = groups[None, :] == group[:, None]
    shift = np.where(inside, on[:, None], -off[:, None])
    gene_tissue[chosen] += shift[chosen]


def soft_ceiling(levels: np.ndarray, ceiling: float) -> None:
    """Bend ``levels`` above ``ceiling - TAIL_WIDTH`` towards ``ceiling``, in place (slope 1 at the knee)."""
    knee = ceiling - TAIL_WIDTH
    high = levels > knee
    levels[high] = knee + TAIL_WIDTH * np.tanh((levels[high] - knee) / TAIL_WIDTH)


def sample_levels(
    model: GeneModel,
    donor_of: np.ndarray,
    tissue_of: np.ndarray,
    r_noise: np.random.Generator,
    *,
    per_sample_seed: int | None = None,
) -> np.ndarray:
    """TPM (``float32``, samples x genes) of the samples ``(donor_of[i], tissue_of[i])``.

    With ``per_sample_seed=None`` the sample factors and noise come from ``r_noise`` in sample
    order (the original simulator's stream). With a seed, each sample draws its own from
    ``default_rng([per_sample_seed, donor, tissue])``, so a sample's values do not depend on
    which other samples are generated. Built ``BLOCK_ROWS`` samples at a time; values below zero
    on the log1p scale become 0 TPM. With ``model.log_ceiling`` the levels bend softly towards it
    (:func:`soft_ceiling`), and with ``model.tpm_per_gene`` each sample is scaled to its TPM total
    (a share of ``n_genes * tpm_per_gene`` between ``TOTAL_LOW`` and 1, the sample's own draw).
    """
    n_samples, n_genes = donor_of.size, model.gene_tissue.shape[0]
    if per_sample_seed is None:
        sample_factor = r_noise.standard_normal((n_samples, 1))
    sample_loading = 0.1 * r_noise.standard_normal((1, n_genes))
    out = np.empty((n_samples, n_genes), dtype=np.float32)
    share = np.zeros(n_samples)  # each sample's TPM total factor (per-sample seeds only)
    tissue_levels = model.gene_tissue.T  # (tissues, genes) view
    for r0 in range(0, n_samples, BLOCK_ROWS):
        rows = slice(r0, min(r0 + BLOCK_ROWS, n_samples))
        d, t = donor_of[rows], tissue_of[rows]
        if per_sample_seed is None:
            block = r_noise.standard_normal((d.size, n_genes))
            factor = sample_factor[rows]
        else:
            block = np.empty((d.size, n_genes))
            factor = np.empty((d.size, 1))
            for k, (dk, tk) in enumerate(zip(d, t, strict=True)):
                rng = np.random.default_rng([per_sample_seed, int(dk), int(tk)])
                factor[k, 0] = rng.standard_normal()
                block[k] = rng.standard_normal(n_genes)
                share[r0 + k] = rng.random()
        block *= 0.3
        block += factor * sample_loading
        block += tissue_levels[t]
        block += model.donor_effect[d]
        if model.log_ceiling is not None:
            soft_ceiling(block, model.log_ceiling)
        np.clip(block, 0.0, None, out=block)
        np.expm1(block, out=block)
        if model.tpm_per_gene is not None:  # TPM is a share: each sample's total is fixed
            total = n_genes * model.tpm_per_gene * (TOTAL_LOW + (1.0 - TOTAL_LOW) * share[rows])
            block *= (total / np.maximum(block.sum(axis=1), 1e-300))[:, None]
        out[rows] = block
    return out
