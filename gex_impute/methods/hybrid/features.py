"""Context features of the hybrid model (pure numpy): what XGBoost knows about an entry.

An entry (sample ``s``, gene ``g``) of a samples x genes matrix is described by

* gene- and sample-level summaries (gene mean and spread, sample mean),
* the gene's values in the other tissues of the same donor (or of the data when donors are
  unknown), and its residuals in the tissues most correlated with the target tissue,
* the same tissue over the other donors, a low-rank reconstruction, the mean over the donors
  most similar to this one,
* the values in this sample of the genes with the most similar expression profiles,
* its genomic neighbours' values in this sample, their distances, orientations and nesting
  (:func:`gex_impute.genome.genomic_neighbours`),
* static gene features: promoter composition and gene length.

Besides the features, :func:`context_features` returns a *base* prediction per entry that
XGBoost starts from (its offset).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .summaries import (
    Groups,
    donor_similarity,
    gene_knn,
    group_tissue_sums,
    low_rank_reconstruction,
    nanmean_rows,
    tissue_correlation,
)

if TYPE_CHECKING:
    from ...genome import GenomicNeighbours

__all__ = [
    "COORDINATE_COLUMNS",
    "context_features",
    "default_donor_sizes",
    "entry_features",
    "genomic_neighbours",
    "static_gene_features",
    "static_scaling",
]

#: ``var`` columns the genomic-neighbour features read
COORDINATE_COLUMNS = ("chrom", "tss", "strand")
_N_NEIGHBOUR_DETAIL = 4  # nearest neighbours described one by one; the rest enter as summaries

_Add = Callable[[str, np.ndarray], None]


def static_gene_features(var: pd.DataFrame, *, use_sequence: bool = True) -> tuple[np.ndarray, list[str]]:
    """Per-gene features that do not depend on expression: promoter composition, gene length.

    Parameters
    ----------
    var
        Gene annotation; reads ``promoter``, ``n_promoters``, ``start`` and ``end`` when present.
    use_sequence
        Include the promoter features (composition, ``n_promoters``); only the gene length
        otherwise.

    Returns
    -------
    ``(n_genes, n_features)`` array (NaN where unknown) and the feature names.
    """
    from .sequence import composition

    n = len(var)
    cols: list[np.ndarray] = []
    names: list[str] = []
    if "promoter" in var.columns:
        seqs = [s if isinstance(s, str) else "" for s in var["promoter"].tolist()]
        comp = composition(seqs)
        cols += [comp[:, 0], comp[:, 1], (comp[:, 2] > 0).astype(float)]
        names += ["promoter_gc", "promoter_cpg_oe", "has_promoter"]
    if "n_promoters" in var.columns:
        cols.append(pd.to_numeric(var["n_promoters"], errors="coerce").to_numpy(dtype=float, na_value=np.nan))
        names.append("n_promoters")
    if "start" in var.columns and "end" in var.columns:
        length = pd.to_numeric(var["end"], errors="coerce") - pd.to_numeric(var["start"], errors="coerce")
        length = length.to_numpy(dtype=float, na_value=np.nan)
        cols.append(np.log10(np.where(length > 0, length, np.nan)))
        names.append("log10_gene_length")
    if not use_sequence:
        keep = [i for i, name in enumerate(names) if name == "log10_gene_length"]
        cols, names = [cols[i] for i in keep], [names[i] for i in keep]
    if not cols:
        return np.zeros((n, 0)), []
    return np.column_stack(cols), names


def static_scaling(static: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each static feature (NaN ignored; 0 and 1 where undefined)."""
    if static.shape[1]:
        mean = nanmean_rows(static.T)
        std = np.sqrt(nanmean_rows((static - mean).T ** 2))
    else:
        mean = std = np.zeros(0)
    return np.nan_to_num(mean), np.where(np.isfinite(std) & (std > 0), std, 1.0)


def genomic_neighbours(var: pd.DataFrame, reference: np.ndarray, *, k: int, window: int) -> GenomicNeighbours:
    """Each gene's ``k`` nearest ``reference`` genes (see :func:`gex_impute.genome.genomic_neighbours`)."""
    from ... import genome

    return genome.genomic_neighbours(var, reference=reference, k=k, window=window)


def default_donor_sizes(n_groups: int) -> list[int]:
    """Neighbourhood sizes of the similar-donor features for ``n_groups`` donors."""
    n_other = n_groups - 1
    return sorted({min(k, n_other) for k in (1, 3, max(1, int(round(np.sqrt(n_groups)))))})


def entry_features(
    values: np.ndarray,
    genes: np.ndarray,
    groups: Groups,
    static: np.ndarray,
    neighbours: GenomicNeighbours | None,
    *,
    donor_sizes: list[int] | None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features of every sample x ``genes`` entry of ``values``: ``(S, n, F)``, base ``(S, n)``, names."""
    n_s = values.shape[0]
    rows = np.repeat(np.arange(n_s), len(genes))
    cols = np.tile(genes, n_s)
    low_rank = low_rank_reconstruction(values, rank=3, n_iter=12)
    feats, base, names = context_features(
        values,
        rows,
        cols,
        groups,
        static,
        neighbours,
        low_rank=low_rank,
        knn=gene_knn(np.where(np.isnan(values), low_rank, values), np.asarray(genes), k=20),
        donor_sizes=donor_sizes,
    )
    return feats.reshape(n_s, len(genes), -1), base.reshape(n_s, len(genes)), names


def context_features(
    values: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    groups: Groups,
    static: np.ndarray,
    neighbours: GenomicNeighbours | None,
    *,
    low_rank: np.ndarray | None = None,
    knn: np.ndarray | None = None,
    donor_sizes: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features of the entries ``(rows, cols)`` of the (masked) matrix ``values``.

    Parameters
    ----------
    values
        Samples x genes, NaN = missing (masked entries included).
    rows, cols
        Sample and gene index of each entry.
    groups
        Samples grouped by donor, with tissue codes.
    static
        ``(n_genes, n_static)`` static gene features.
    neighbours
        Genomic neighbours of every gene, or None (no neighbour features).
    low_rank
        A low-rank reconstruction of ``values`` (same shape), or None.
    knn
        ``(n_genes, k)`` expression neighbours of each gene (``-1`` = none), or None.
    donor_sizes
        Neighbourhood sizes of the similar-donor features (:func:`default_donor_sizes` when None).

    Returns
    -------
    The ``(n_entries, n_features)`` float32 features, a base prediction for each entry (used as
    XGBoost's offset) and the feature names.
    """
    n_samples = values.shape[0]
    obs = ~np.isnan(values)
    x0 = np.where(obs, values, 0.0)
    n_obs_gene = obs.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gmean = x0.sum(0) / n_obs_gene
        gvar = (np.where(obs, values - gmean, 0.0) ** 2).sum(0) / n_obs_gene
        smean = x0.sum(1) / obs.sum(1)
    gstd = np.sqrt(gvar)
    feats: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, col: np.ndarray) -> None:
        feats.append(np.asarray(col, dtype=np.float32))
        names.append(name)

    t_of = groups.tissue[rows]
    d_of = groups.group[rows]
    add("tissue", t_of.astype(np.float32))
    add("gene_mean", gmean[cols])
    add("gene_std", gstd[cols])
    add("gene_frac_observed", n_obs_gene[cols] / max(n_samples, 1))
    add("sample_mean", smean[rows])

    # the gene's values in each tissue of the same donor (or of the data when donors are unknown),
    # leaving the target sample itself out
    gs, gc = group_tissue_sums(values, groups)
    own = obs[rows, cols]
    own_val = np.where(own, values[rows, cols], 0.0)
    tissue_vals = np.empty((len(rows), groups.n_tissues), dtype=np.float32)
    for t in range(groups.n_tissues):
        s = gs[d_of, t, cols] - np.where(t_of == t, own_val, 0.0)
        c = gc[d_of, t, cols] - np.where(t_of == t, own, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            tissue_vals[:, t] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
    for t in range(groups.n_tissues):
        add(f"value_tissue_{t}", tissue_vals[:, t])
    add("group_mean", nanmean_rows(tissue_vals))
    if groups.n_tissues > 2:
        _similar_tissue_columns(add, values, groups, tissue_vals, gmean, cols, t_of)

    # same tissue over the other donors (or the other samples when donors are unknown)
    ts = gs.sum(0)
    tc = gc.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tissue_mean_all = ts / tc  # (T, G)
    s_other = ts[t_of, cols] - gs[d_of, t_of, cols]
    c_other = tc[t_of, cols] - gc[d_of, t_of, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        tissue_loo = np.where(c_other > 0, s_other / np.maximum(c_other, 1), np.nan)
    add("tissue_mean_other", tissue_loo)
    base = tissue_loo.copy()
    if low_rank is not None:
        lr = low_rank[rows, cols]
        add("low_rank", lr)
        add("low_rank_minus_gene_mean", lr - gmean[cols])
        base = np.where(np.isnan(lr), base, lr)
    if groups.has_donor and groups.n_groups > 2:
        sizes = default_donor_sizes(groups.n_groups) if donor_sizes is None else list(donor_sizes)
        sim_mean = _similar_donor_columns(
            add, values, groups, (gs, gc), tissue_vals, tissue_mean_all, cols, t_of, d_of, sizes
        )
        base = np.where(np.isnan(sim_mean), base, sim_mean)
    base = np.where(np.isnan(base), gmean[cols], base)
    base = np.where(np.isnan(base), smean[rows], base)
    base = np.where(np.isnan(base), np.nanmean(values) if obs.any() else 0.0, base)

    if knn is not None:
        # genes with the most similar profiles elsewhere, read in this sample (KNN over genes)
        kidx = knn[cols]
        has = kidx >= 0
        kj = np.where(has, kidx, 0)
        kv = np.where(has, values[rows[:, None], kj], np.nan)
        add("knn_value", nanmean_rows(kv))
        add("knn_level_adjusted", gmean[cols] + nanmean_rows(kv - gmean[kj]))
        add("knn_n", (~np.isnan(kv)).sum(1))
    if neighbours is not None:
        _genomic_neighbour_columns(add, values, neighbours, gmean, rows, cols)
    for i in range(static.shape[1]):
        add(f"static_{i}", static[cols, i])
    return np.column_stack(feats) if feats else np.zeros((len(rows), 0)), base.astype(np.float64), names


def _similar_tissue_columns(add: _Add, values, groups: Groups, tissue_vals, gmean, cols, t_of) -> None:
    """Add residuals (value - gene mean) in the tissues that correlate best with the target tissue.

    The most similar tissues come first, so trees need not learn one rule per tissue.
    """
    resid_t = tissue_vals - gmean[cols][:, None]
    tcorr = tissue_correlation(values, groups, gmean)
    order = np.argsort(-np.nan_to_num(tcorr, nan=-2.0), axis=1)
    n_top = min(5, groups.n_tissues - 1)
    top = order[t_of, :n_top]  # (n, n_top); the tissue itself has NaN correlation -> last
    top_res = np.take_along_axis(resid_t, top, axis=1)
    top_w = np.clip(np.nan_to_num(tcorr[t_of[:, None], top]), 0, None)
    for i in range(n_top):
        add(f"similar_tissue_{i}_resid", top_res[:, i])
    ok = ~np.isnan(top_res)
    with np.errstate(invalid="ignore", divide="ignore"):
        wsum = np.where(ok, top_w, 0).sum(1)
        add(
            "similar_tissues_resid",
            np.where(wsum > 0, (np.where(ok, top_w, 0) * np.nan_to_num(top_res)).sum(1) / wsum, np.nan),
        )


def _similar_donor_columns(
    add: _Add, values, groups: Groups, sums, tissue_vals, tissue_mean_all, cols, t_of, d_of, sizes
) -> np.ndarray:
    """Add this donor's offset from the tissue means and the means over the most similar donors.

    Similarity comes from the donors' other tissues; one mean per neighbourhood size in
    ``sizes``. Returns the main similar-donor mean (a base prediction).
    """
    gs, gc = sums
    resid = tissue_vals - tissue_mean_all[:, cols].T.astype(np.float32)
    add("donor_offset", nanmean_rows(resid))
    sim = donor_similarity(values, groups, tissue_mean_all)
    n_other = groups.n_groups - 1
    main = sizes[min(1, len(sizes) - 1)]
    s_all = np.where(np.isnan(sim), -np.inf, sim)
    order = np.argsort(-s_all, axis=1, kind="stable")
    main_mean = np.full(len(cols), np.nan)
    for k in sizes:
        w = np.zeros_like(sim)
        k_eff = min(k, n_other)
        for d in range(groups.n_groups):
            top = order[d, :k_eff]
            w[d, top[np.isfinite(s_all[d, top])]] = 1.0
        num = np.einsum("de,etg->dtg", w, gs)
        den = np.einsum("de,etg->dtg", w, gc)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(den > 0, num / den, np.nan)  # (D, T, G)
        m_rows = means[d_of, :, cols]  # (n, T)
        sim_mean = m_rows[np.arange(len(cols)), t_of]
        add("similar_donor_mean" if k == main else f"similar_donor_mean_k{k}", sim_mean)
        off = tissue_vals - m_rows
        off[np.arange(len(cols)), t_of] = np.nan
        add(f"similar_donor_offset_k{k}", nanmean_rows(off))
        if k == main:
            main_mean = sim_mean
    add("similar_donor_max_sim", np.nanmax(np.where(np.isnan(sim), -1, sim), axis=1)[d_of])
    return main_mean


def _genomic_neighbour_columns(add: _Add, values, nb: GenomicNeighbours, gmean, rows, cols) -> None:
    """Add the genomic neighbours' values in the entry's sample, their distances and orientations."""
    idx = nb.index[cols]
    has = idx >= 0
    j = np.where(has, idx, 0)
    nv = np.where(has, values[rows[:, None], j], np.nan)
    nmean = np.where(has, gmean[j], np.nan)
    ad = nb.abs_distance[cols].astype(float)
    sd = nb.distance[cols].astype(float)
    orient = np.where(has, nb.orientation[cols], -1).astype(float)
    for i in range(min(_N_NEIGHBOUR_DETAIL, idx.shape[1])):
        add(f"nb{i}_value", nv[:, i])
        add(f"nb{i}_resid", nv[:, i] - nmean[:, i])
        add(f"nb{i}_gene_mean", nmean[:, i])
        add(f"nb{i}_log_distance", np.where(has[:, i], np.sign(sd[:, i]) * np.log10(1 + ad[:, i]), np.nan))
        add(f"nb{i}_orientation", np.where(has[:, i], orient[:, i], np.nan))
    w = np.where(has, 1.0 / (ad + 1000.0), 0.0)
    ok_v = ~np.isnan(nv)
    with np.errstate(invalid="ignore", divide="ignore"):
        wv = np.where(ok_v, w, 0.0)
        add("nb_idw_value", (wv * np.nan_to_num(nv)).sum(1) / wv.sum(1))
        add("nb_idw_resid", (wv * np.nan_to_num(nv - nmean)).sum(1) / wv.sum(1))
        wm = np.where(~np.isnan(nmean), w, 0.0)
        add("nb_idw_gene_mean", (wm * np.nan_to_num(nmean)).sum(1) / wm.sum(1))
        add("nb_mean_value", nanmean_rows(nv))
    add("nb_n_within_50kb", (has & (ad <= 50_000)).sum(1))
    add("nb_n", has.sum(1))
    add("nb_any_bidirectional", nb.bidirectional[cols].any(1))
    add("nb_any_nested", nb.nested[cols].any(1))
    add("nb_any_overlap", nb.overlap[cols].any(1))
