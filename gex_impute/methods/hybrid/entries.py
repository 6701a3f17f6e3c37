"""Features of missing entries (whole genes and scattered entries): base estimates + context.

:class:`EntryFeatures` computes every base estimate of :mod:`.bases` on a (masked) matrix and
reads them, with context columns, at the entries asked for. The same code serves training
(on a matrix with extra entries hidden by :func:`.masking.hide`) and prediction (on the data
as given), so XGBoost sees features from one distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._fallback import filled_mean
from .arrays import nanmean
from .bases import (
    gene_knn,
    group_means,
    group_sums,
    knn_at,
    low_rank,
    nan_euclidean,
    pooled_correlation,
    ridge_rows,
    tissue_weights,
    tree_rows,
)
from .genome_columns import absent_gene_columns, neighbour_columns
from .masking import Layout

__all__ = ["EntryFeatures", "tissue_correlation"]

#: samples at most for the ridge regression of each sample on the others / the similar samples
MAX_RIDGE_SAMPLES = 120
#: samples at most for the XGBoost of each sample on the others (:func:`~.row_models.tree_rows`),
#: chosen for GTEx's 29 tissue means and Blake 2020's 47 samples, where it gains. One booster per
#: sample with the others as features costs samples x samples per masked round: a simulated
#: 101 x 200 cohort spent 160 of 162 s of its fit there. Without it the hybrid's P2 MSE was the
#: same or lower: simulator, 40 donors x 10 tissues x 200 genes, a third of the samples kept (79-104
#: samples), split seeds 100-102: 0.1284 / 0.1276 / 0.1326 -> 0.1271 / 0.1275 / 0.1317; 12 donors
#: x 10 tissues x 1,000 genes (88 samples), seed 100: 0.1153 -> 0.1147 (268 s -> 5 s)
MAX_TREE_SAMPLES = 50
#: rows at most for that base in a tissue-level table (one sample per tissue, such as GTEx v8's
#: 54 tissue medians), where it gains most. GTEx P2 validation split 100, hybrid MSE without ->
#: with it: 29 tissue means 0.2774 -> 0.2548; 54 rows (the 29 means and noisy copies of 25,
#: ``validation_p2.py --extra-tissues 25``), split seeds 100 / 101: 0.1102 / 0.1139 -> 0.1054 /
#: 0.1099, evaluate() 45 / 40 s -> 199 / 193 s (2 threads). Donor x tissue samples gain less or
#: nothing: Blake P2 (47 samples, ``--datasets blake``) 0.1075 / 0.1090 -> 0.1050 / 0.1067; simulated
#: 51 samples x 1,000-8,000 genes none (split seed 100)
MAX_TREE_TISSUES = 60
#: genes at least in the table for that base: its boosters learn each sample from its genes, and
#: with few genes it gains nothing at its full cost. Blake P2 on random genes (``--datasets blake``
#: with genes drawn, split seeds 100 / 101), MSE without -> with it: 500 genes 0.1282 -> 0.1283
#: (1 s -> 107 s), 2,000 0.1186 / 0.1163 -> 0.1182 / 0.1148 (5 s -> 115 s), 5,000 0.1149 / 0.1133 ->
#: 0.1128 / 0.1113 (7 s -> 150 s), all 12,184 0.1075 / 0.1090 -> 0.1050 / 0.1067
MIN_TREE_GENES = 2_000
MAX_SIMILAR_SAMPLES = 400


def tissue_correlation(
    resid: np.ndarray, min_pairs: int = 20, *, observed: np.ndarray | None = None
) -> np.ndarray:
    """Tissue x tissue correlation of donor residual profiles ``(D, T, p)``, pooled over donors and genes.

    Each pair of tissues uses the entries observed in both (at least ``min_pairs``; NaN
    otherwise and on the diagonal). Sums by matrix products, turned into correlations by
    :func:`~.bases.pooled_correlation` (as :class:`~.profile_cache.TissueCorrelation`):
    3x faster than a loop over pairs, equal to it within 1e-12. ``observed``: the ``(D, T, p)``
    mask of observed entries, ``resid`` then 0 elsewhere (the same sums, without a NaN pass).

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.entries import tissue_correlation
    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(30, 1, 50))
    >>> resid = np.concatenate([z, z + 0.1 * rng.normal(size=z.shape), rng.normal(size=z.shape)], 1)
    >>> corr = tissue_correlation(resid)
    >>> bool(corr[0, 1] > 0.99 and abs(corr[0, 2]) < 0.1 and np.isnan(corr[0, 0]))
    True
    """
    _, n_tissues, _ = resid.shape
    x = np.array(resid.transpose(1, 0, 2), order="C").reshape(n_tissues, -1)  # a copy, tissue-major
    if observed is None:
        ok = ~np.isnan(x)
        m = ok.astype(np.float64)
        np.copyto(x, 0.0, where=~ok)
    else:
        m = observed.transpose(1, 0, 2).astype(np.float64, order="C").reshape(n_tissues, -1)
    # sums of tissue a's values (and squares) where b is observed too, and of the products; the
    # squares in place after the sums (fewer temporaries of the cube's size, the same products)
    n, s_a, s_ab = m @ m.T, x @ m.T, x @ x.T
    q_a = np.multiply(x, x, out=x) @ m.T
    return pooled_correlation(n, s_a, q_a, s_ab, min_pairs=min_pairs)


@dataclass
class EntryFeatures:
    """Base estimates and context of entries of a samples x genes matrix.

    Attributes
    ----------
    knn_k, donor_k, rank_samples, rank_donors
        k of the kNN over samples / donors, ranks of the low-rank completions.
    n_similar
        The gene's values in this many most correlated samples become features.
    neighbours
        :class:`~gex_impute.genome.GenomicNeighbours` of every gene (None: no such features).
    static, static_names
        ``(p, F)`` per-gene features that need no expression (:mod:`.genes`).
    cnn_profile
        ``(T, p)`` out-of-fold promoter-CNN prediction of each gene's tissue means (or None).
    encoder
        A fitted :class:`~.encoder.TissueEncoder` (or None).
    tree_samples
        With at most ``MAX_TREE_SAMPLES`` samples (``MAX_TREE_TISSUES`` when each tissue holds
        one sample) and at least ``MIN_TREE_GENES`` genes: XGBoost of each sample on the others
        (:func:`~.row_models.tree_rows`) is a base estimate.
    threads
        Threads of that XGBoost.
    tss_key
        ``(p,)`` :func:`~.genes.tss_key` of every gene: genes with no data are described by
        the observed genes within :data:`~.genes.WINDOWS` of their TSS (or None).
    skip_unused
        When no asked gene has data (the whole-gene rounds of training, whole genes at
        prediction), skip the bases that are NaN at such genes (kNN and low rank over samples or
        donors, gene kNN, ...) and give their columns as NaN: the same design, faster. False
        computes them anyway (tests compare both).
    """

    knn_k: tuple[int, ...] = (1, 2, 4, 8, 16)
    donor_k: tuple[int, ...] = (1, 3, 10)
    rank_samples: tuple[int, ...] = (2, 5, 10, 20)
    rank_donors: tuple[int, ...] = (2, 5, 10)
    n_similar: int = 5
    use_donors: bool = True
    neighbours: Any = None
    static: np.ndarray | None = None
    static_names: list[str] = field(default_factory=list)
    cnn_profile: np.ndarray | None = None
    encoder: Any = None
    tss_key: np.ndarray | None = None
    tree_samples: bool = True
    threads: int = 1
    skip_unused: bool = True

    def build(
        self, values: np.ndarray, layout: Layout, rows: np.ndarray, cols: np.ndarray
    ) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
        """Features of the entries ``(rows, cols)`` of ``values``.

        Returns
        -------
        ``(x, names, bases)``: the ``(len(rows), F)`` float32 design (F order), its column names, and
        the base estimates among the columns (name -> values) from which the stack's
        reference is chosen.
        """
        n, p = values.shape
        obs = ~np.isnan(values)
        t = layout.tissue
        feats: list[np.ndarray] = []
        names: list[str] = []

        def add(name: str, col: Any) -> None:
            feats.append(np.broadcast_to(np.asarray(col, dtype=np.float32), (len(rows),)))
            names.append(name)

        # values and residuals with 0 where not observed, shared by the sums below (residuals are NaN
        # exactly where values are: the reference is finite at genes with data, values are finite)
        x0 = np.where(obs, values, 0.0)
        tm, tc = group_means(x0, t, layout.n_tissues, observed=obs)  # (T, p)
        gm = filled_mean(x0, obs, 0)
        tm_f = np.where(np.isnan(tm), gm[None, :], tm)
        # residual reference: the tissue mean when tissues hold several samples, else the gene mean
        per_tissue = np.bincount(t[obs.any(1)], minlength=layout.n_tissues)
        several = per_tissue[per_tissue > 0]
        ref = tm_f if len(several) and np.median(several) >= 3 else np.broadcast_to(gm[None, :], tm_f.shape)
        resid = values - ref[t]
        r0 = np.where(obs, resid, 0.0)
        add("tissue_mean", tm[t[rows], cols])
        add("tissue_n", tc[t[rows], cols])
        add("gene_mean", gm[cols])
        # no asked gene has data: every base below that reads the gene's own values is NaN there
        absent = self.skip_unused and not obs.any(0)[cols].any()
        if absent:  # (the residual spread of a gene without data: NaN)
            add("tissue_resid_sd", np.full(len(rows), np.nan))
        else:
            rs, _ = group_means(r0 * r0, t, layout.n_tissues, observed=obs)
            add("tissue_resid_sd", np.sqrt(rs[t[rows], cols]))
        add("gene_frac_observed", obs.mean(0)[cols])
        add("sample_resid_mean", filled_mean(r0, obs, 1)[rows])
        add("sample_frac_observed", obs.mean(1)[rows])
        add("tissue", t[rows])
        bases = {"tissue_mean": tm_f[t[rows], cols]}
        # the sample's mean level over its observed genes: the reference for genes with no data
        tissue_level = nanmean(tm_f)
        bases["sample_mean"] = np.where(obs.any(1), filled_mean(x0, obs, 1), tissue_level[t])[rows]
        add("sample_mean", bases["sample_mean"])

        def base(name: str, col: np.ndarray) -> None:
            add(name, col)
            bases[name] = col

        srows = np.flatnonzero(obs.any(1))
        need = np.unique(rows)
        need = need[obs[need].any(1)]
        if self.knn_k and len(need) and len(srows) > 1 and absent:
            for k in self.knn_k:
                base(f"knn_samples_k{k}", np.full(len(rows), np.nan))
        elif self.knn_k and len(need) and len(srows) > 1:
            dist = np.full((n, n), np.inf, dtype=np.float32)
            dist[np.ix_(srows, srows)] = nan_euclidean(values[srows])
            est = knn_at(values, self.knn_k, rows, cols, dist=dist, where=obs.any(0)[cols])
            del dist
            for k in self.knn_k:
                base(f"knn_samples_k{k}", est[k])
        ridge = n <= MAX_RIDGE_SAMPLES and len(srows) > 2  # (finite at genes without data)
        if self.rank_samples and absent and not ridge:
            for r in sorted(set(self.rank_samples)):
                base(f"lowrank_samples_r{r}", np.full(len(rows), np.nan))
        elif self.rank_samples:
            lrs = low_rank(resid, self.rank_samples, at=None if ridge else (rows, cols))
            for r, lr in lrs.items():
                base(f"lowrank_samples_r{r}", ref[t[rows], cols] + (lr[rows, cols] if ridge else lr))
            if ridge:
                lr0 = lrs[sorted(lrs)[len(lrs) // 2]]
                start = ref[t] + np.where(np.isnan(lr0), 0.0, lr0)
                base("ridge_samples", ridge_rows(values, start)[rows, cols])
                # not for whole genes (no use there) nor above its row limit (its cost)
                limit = MAX_TREE_TISSUES if per_tissue.max() <= 1 else MAX_TREE_SAMPLES
                if self.tree_samples and n <= limit and p >= MIN_TREE_GENES and obs.any(0)[cols].any():
                    base("trees_samples", tree_rows(values, need, nthread=self.threads)[rows, cols])
        if n <= MAX_SIMILAR_SAMPLES and self.n_similar > 0 and n > 1:
            self._similar_samples(add, values, r0, obs, rows, cols)
        if self.encoder is not None:
            base("encoder", self.encoder.predict(values, layout, rows, cols))
        if absent:
            base("knn_genes_resid", np.full(len(rows), np.nan))
        else:
            kidx = gene_knn(values, k=20)[cols]
            has = kidx >= 0
            kv = np.where(has, resid[rows[:, None], np.where(has, kidx, 0)], np.nan)
            base("knn_genes_resid", ref[t[rows], cols] + nanmean(kv))
        if self.use_donors and layout.donor is not None and layout.n_donors > 2:
            _donor_columns(self, add, base, (resid, r0, obs), tm_f, layout, rows, cols, absent=absent)
        if self.neighbours is not None:
            neighbour_columns(add, base, self.neighbours, resid, tm_f, gm, t, rows, cols)
        if self.tss_key is not None or self.neighbours is not None:
            absent_gene_columns(add, self.tss_key, self.neighbours, obs, gm, tm_f, t, rows, cols)
        if self.cnn_profile is not None:
            cp = self.cnn_profile
            base("cnn_tissue", cp[t[rows], cols].astype(np.float64))
            cm = nanmean(cp.T)
            add("cnn_mean", cm[cols])
            add("cnn_specificity", cp[t[rows], cols] - cm[cols])
        if self.static is not None:
            for i, nm in enumerate(self.static_names):
                add(nm, self.static[cols, i])
        # np.column_stack's values in F order (one column after the other, written contiguously):
        # the callers copy the rows they use (masked rounds concatenated, predictions by pattern)
        return np.stack(feats).T, names, bases

    def _similar_samples(self, add: Callable, values, x0, obs, rows, cols) -> None:
        """Add the gene's values in the samples most correlated with this one (residuals ``x0``, 0 = NaN)."""
        n = len(values)
        m = obs.astype(float)
        cnt = np.maximum(m @ m.T, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mi = (x0 @ m.T) / cnt
            cov = (x0 @ x0.T) / cnt
            sq = ((x0 * x0) @ m.T) / cnt
            corr = (cov - mi * mi.T) / np.sqrt((sq - mi**2) * (sq.T - mi.T**2))
        corr[(m @ m.T) < 10] = np.nan
        np.fill_diagonal(corr, np.nan)
        n_top = min(self.n_similar, n - 1)
        # the masked matrix: a sample ranked beside itself reads its own hidden entry (NaN), not the target
        order = np.argsort(-np.nan_to_num(corr, nan=-2.0), axis=1)[:, :n_top]
        for i in range(n_top):
            o = order[rows, i]
            add(f"similar_sample_{i}_value", values[o, cols])
            add(f"similar_sample_{i}_corr", corr[rows, o])


def _donor_columns(
    fb: EntryFeatures, add, base, residuals, tm_f, layout: Layout, rows, cols, *, absent: bool = False
) -> None:
    """Donor offsets, the donor's other tissues, and kNN / low rank over donors x (tissue, gene).

    ``residuals``: ``(resid, r0, ok)``, the residuals, the same with 0 where missing, and the
    observed mask. ``absent``: no gene of ``cols`` has data; the columns that read the gene's
    values are NaN (offset counts 0) without being computed.
    """
    assert layout.donor is not None
    resid, r0, ok = residuals
    d, t = layout.donor, layout.tissue
    n_d, n_t = layout.n_donors, layout.n_tissues
    p = resid.shape[1]
    s, c = group_sums(r0, layout.unit, n_d * n_t, observed=ok)
    with np.errstate(invalid="ignore", divide="ignore"):
        filled = (s / np.maximum(c, 1)).reshape(n_d, n_t, p)  # unit means, 0 where none (s is 0 there)
    has_unit = c.reshape(filled.shape) > 0
    corr = tissue_correlation(filled, observed=has_unit)
    similar_corr = np.nanmax(np.where(np.isnan(corr), -1, corr), axis=1)[t[rows]]
    n_top = min(n_t - 1, 5)  # the donor's most correlated other tissues read
    feature_names, base_names = _donor_names(fb, n_top)
    if absent:
        _absent_donor_columns(add, base, feature_names, base_names, similar_corr)
        return
    cube = np.where(has_unit, filled, np.nan)  # group_means' values
    ds, dc = group_sums(r0, d, n_d, observed=ok)
    own = ok[rows, cols]
    s_ = ds[d[rows], cols] - np.where(own, r0[rows, cols], 0.0)
    c_ = dc[d[rows], cols] - own
    with np.errstate(invalid="ignore", divide="ignore"):
        off = np.where(c_ > 0, s_ / np.maximum(c_, 1), np.nan)
    columns = [off, c_, tm_f[t[rows], cols] + np.nan_to_num(off)]  # in the order of feature_names
    w = tissue_weights(corr)  # diagonal 0: the target tissue never weighs itself
    at = (d[rows], t[rows], cols)  # the weighted offsets read at the entries only
    num = np.einsum("ab,dbp->dap", w, filled)[at]
    den = np.einsum("ab,dbp->dap", w, has_unit.astype(float))[at]
    with np.errstate(invalid="ignore", divide="ignore"):
        columns += [np.where(den > 1e-9, num / np.maximum(den, 1e-9), np.nan), similar_corr]
    del num, den, filled
    # unit means of the masked matrix: the target tissue, if ranked, gives the hidden entry's own
    # unit without it (NaN, or the unit's other samples' values where a unit has several)
    top = np.argsort(-np.nan_to_num(corr, nan=-2.0), axis=1)[:, :n_top][t[rows]]
    columns += [cube[d[rows], top[:, i], cols] for i in range(n_top)]
    wide = cube.reshape(n_d, n_t * p)
    wcol = t[rows] * p + cols
    ddist = nan_euclidean(wide)
    # this donor's deviation from its nearest donors, in its other tissues
    nbr = np.argsort(ddist, axis=1)[:, : min(3, n_d - 1)]
    fin = np.isfinite(np.take_along_axis(ddist, nbr, 1))
    has = np.flatnonzero(ok.any(0)[cols])  # (genes without data: NaN)
    dr, gc = d[rows[has]], cols[has]
    near = np.where(fin[dr][:, :, None], cube[nbr[dr], :, gc[:, None]], np.nan)  # (n, k, T)
    devr = cube[dr, :, gc] - nanmean(near, axis=1)  # (n, T)
    del near
    devr[np.arange(len(has)), t[rows[has]]] = np.nan
    dev_mean = np.full(len(rows), np.nan)
    dev_mean[has] = nanmean(devr)
    columns.append(dev_mean)
    for name, col in zip(feature_names, columns, strict=True):
        add(name, col)
    estimates = []  # in the order of base_names
    if fb.donor_k:
        est = knn_at(wide, fb.donor_k, d[rows], wcol, dist=ddist, where=ok.any(0)[cols])
        estimates += [tm_f[t[rows], cols] + est[k] for k in fb.donor_k]
    if fb.rank_donors:
        lrs = low_rank(wide, fb.rank_donors, at=(d[rows], wcol))
        estimates += [tm_f[t[rows], cols] + lr for lr in lrs.values()]
    for name, col in zip(base_names, estimates, strict=True):
        base(name, col)


def _donor_names(fb: EntryFeatures, n_top: int) -> tuple[list[str], list[str]]:
    """``(features, bases)``: the columns of :func:`_donor_columns`, in the order it adds them.

    The one list of them, used by :func:`_absent_donor_columns` too. Low ranks in increasing
    order, as :func:`.completion.low_rank` returns them.
    """
    features = ["donor_offset", "donor_offset_n", "donor_plus_tissue", "donor_offset_weighted"]
    features += ["donor_similar_tissue_corr", *(f"donor_resid_tissue_rank{i}" for i in range(n_top))]
    features.append("donor_dev_from_similar")
    bases = [f"knn_donors_k{k}" for k in fb.donor_k]
    bases += [f"lowrank_donors_r{r}" for r in sorted({int(r) for r in fb.rank_donors})]
    return features, bases


def _absent_donor_columns(add, base, feature_names: list[str], base_names: list[str], similar_corr) -> None:
    """:func:`_donor_columns` at genes without data: NaN but the offset count (0) and tissue correlation."""
    nan = np.full(len(similar_corr), np.nan)
    known = {"donor_offset_n": 0.0, "donor_similar_tissue_corr": similar_corr}
    for name in feature_names:
        add(name, known.get(name, nan))
    for name in base_names:
        base(name, nan)
