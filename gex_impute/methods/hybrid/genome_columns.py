"""Entry feature columns from the genome: genomic neighbours and the observed genes around a TSS.

:func:`neighbour_columns` reads each gene's genomic neighbours (residuals, levels, distances,
orientations); :func:`absent_gene_columns` describes genes without data by the observed genes
within :data:`~.genes.WINDOWS` of their TSS, their bidirectional partner and nearest sides.
Both add columns through :meth:`.entries.EntryFeatures.build`'s ``add`` (and ``base``).
"""

from __future__ import annotations

import numpy as np

from .arrays import nanmean

__all__ = ["absent_gene_columns", "neighbour_columns"]


def neighbour_columns(add, base, nb, resid, tm_f, gm, t, rows, cols) -> None:
    """Genomic neighbours' residuals, levels and gene means, distances, orientations.

    The distance-weighted mean of the neighbours' levels in the sample's tissue is also a base
    estimate (``neighbours_idw``): the reference of genes with no data of their own.
    """
    idx = nb.index[cols]
    has = idx >= 0
    j = np.where(has, idx, 0)
    tr = t[rows][:, None]
    nres = np.where(has, resid[rows[:, None], j], np.nan)
    nlev = np.where(has, tm_f[tr, j], np.nan)
    ngm = np.where(has, gm[j], np.nan)
    ad = nb.abs_distance[cols].astype(float)
    sd = nb.distance[cols].astype(float)
    w = np.where(has, 1.0 / (ad + 1000.0), 0.0)
    for nm, arr in (("resid", nres), ("level", nlev), ("gene_mean", ngm)):
        ww = np.where(~np.isnan(arr), w, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            idw = (ww * np.nan_to_num(arr)).sum(1) / ww.sum(1)
        add(f"nb_idw_{nm}", idw)
        if nm == "level":
            base("neighbours_idw", idw)
        add(f"nb_mean_{nm}", nanmean(arr))
    for i in range(min(4, idx.shape[1])):
        add(f"nb{i}_resid", nres[:, i])
        add(f"nb{i}_level", nlev[:, i])
        add(f"nb{i}_gene_mean", ngm[:, i])
        add(f"nb{i}_log_distance", np.where(has[:, i], np.sign(sd[:, i]) * np.log10(1 + ad[:, i]), np.nan))
        add(f"nb{i}_orientation", np.where(has[:, i], nb.orientation[cols, i], np.nan))
    add("nb_n_within_50kb", (has & (ad <= 50_000)).sum(1))
    add("nb_any_bidirectional", nb.bidirectional[cols].any(1))
    add("nb_any_nested", nb.nested[cols].any(1))


def absent_gene_columns(add, key, nb, obs, gm, tm_f, t, rows, cols) -> None:
    """Genes with no data (NaN elsewhere): the observed genes around their TSS.

    At each scale of :data:`~.genes.WINDOWS`: how many observed genes, their mean level and
    their mean profile shape (tissue mean - gene mean) in the entry's tissue; and the gene's
    bidirectional partner (opposite strand, TSSs < 1 kb apart, heads apart), level and shape;
    the nearest neighbour with data upstream and downstream in the gene's orientation
    (:func:`~gex_impute.genome.layout.nearest_sides`), level, shape and log10 distance.
    Added only when such genes are among ``cols``.
    """
    from ...genome.layout import nearest_sides
    from .genes import WINDOWS, window_means

    absent = ~obs.any(0)
    need = absent[cols]
    if not need.any():
        return
    targets = np.unique(cols[need])
    pos = np.minimum(np.searchsorted(targets, cols), len(targets) - 1)
    shape = tm_f - gm[None, :]  # (T, p), NaN for genes without data
    tr = t[rows]

    def put(name: str, col: np.ndarray) -> None:
        add(name, np.where(need, col, np.nan))

    if key is not None:
        q = np.vstack([gm[None, :], shape])
        for half in WINDOWS:
            mean, n = window_means(key, q, targets, half)
            label = f"win{half // 1000}kb"
            put(f"{label}_n", n[pos])
            put(f"{label}_gene_mean", mean[0, pos])
            put(f"{label}_shape", mean[1 + tr, pos])
    if nb is not None:
        bidi = nb.bidirectional[cols] & (nb.index[cols] >= 0)
        has = bidi.any(1)
        partner = np.where(has, nb.index[cols, np.argmax(bidi, axis=1)], 0)
        put("bidi_partner", has)
        put("bidi_gene_mean", np.where(has, gm[partner], np.nan))
        put("bidi_shape", np.where(has, shape[tr, partner], np.nan))
        for side, j, dist in nearest_sides(nb.index[cols], nb.distance[cols], gm):
            put(f"{side}_gene_mean", np.where(j >= 0, gm[np.maximum(j, 0)], np.nan))
            put(f"{side}_shape", np.where(j >= 0, shape[tr, np.maximum(j, 0)], np.nan))
            put(f"{side}_log_distance", np.where(j >= 0, np.log10(1.0 + dist), np.nan))
