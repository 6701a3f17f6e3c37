"""Baseline imputation methods: honest comparators for the hybrid model.

Every baseline works on :class:`~gex_impute._data.ExpressionData` (samples x genes, model
scale, NaN = missing) and returns a finite prediction for every entry.

Fallback (shared by all baselines)
----------------------------------
When a method cannot serve a missing entry from its own information (no neighbour in the
window, a gene never observed, a sample with no observed value, ...) it uses the first
available of:

1. the gene's mean over the observed samples of the same tissue;
2. the gene's mean over all observed samples;
3. the sample's mean over its observed genes (a gene never observed anywhere);
4. the mean of the sample's tissue over all its observed entries;
5. the global mean of the observed entries.

``n_fallback_`` counts the *missing* entries that the method had to serve this way.
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from ._base import BaseImputer, register

logger = logging.getLogger("gex_impute")

__all__ = [
    "AdditiveImputer",
    "DistanceImputer",
    "KNNImputer",
    "MeanImputer",
    "NearestGeneImputer",
    "PCARegressionImputer",
    "SoftImputer",
    "fallback_values",
]


# -- shared helpers ----------------------------------------------------------------------------
def _group_nanmean(values: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (rows grouped by ``codes``) mean of each column over observed entries.

    Returns the ``(n_groups, n_cols)`` means (NaN where a group has no observation) and counts.
    """
    observed = ~np.isnan(values)
    filled = np.where(observed, values, 0.0)
    onehot = np.zeros((n_groups, values.shape[0]))
    valid = codes >= 0
    onehot[codes[valid], np.flatnonzero(valid)] = 1.0
    sums = onehot @ filled
    counts = onehot @ observed.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts


def _nanmean_axis(values: np.ndarray, axis: int) -> np.ndarray:
    observed = ~np.isnan(values)
    counts = observed.sum(axis=axis)
    sums = np.where(observed, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def fallback_values(data: ExpressionData) -> np.ndarray:
    """Compute the documented fallback prediction for every entry (see the module docstring).

    Parameters
    ----------
    data
        Samples x genes on the model scale.

    Returns
    -------
    A finite ``(n_samples, n_genes)`` array.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from gex_impute._data import ExpressionData
    >>> values = np.array([[1.0, np.nan], [3.0, 4.0]])
    >>> data = ExpressionData(values, pd.Categorical(["a", "a"]), None, pd.DataFrame(index=["s1", "s2"]),
    ...                       pd.DataFrame(index=["g1", "g2"]))
    >>> fallback_values(data)[0, 1]
    np.float64(4.0)
    """
    values = data.values
    tissue_codes = np.asarray(data.tissue.codes)
    n_tissues = len(data.tissue.categories)
    tissue_gene, _ = _group_nanmean(values, tissue_codes, n_tissues)
    out = tissue_gene[tissue_codes]  # level 1
    gene_mean = _nanmean_axis(values, axis=0)  # level 2
    out = np.where(np.isnan(out), gene_mean[None, :], out)
    sample_mean = _nanmean_axis(values, axis=1)  # level 3
    out = np.where(np.isnan(out), sample_mean[:, None], out)
    observed = ~np.isnan(values)
    tissue_sums = np.bincount(tissue_codes, weights=np.where(observed, values, 0).sum(1), minlength=n_tissues)
    tissue_counts = np.bincount(tissue_codes, weights=observed.sum(1), minlength=n_tissues)
    with np.errstate(invalid="ignore", divide="ignore"):
        tissue_mean = np.where(tissue_counts > 0, tissue_sums / np.maximum(tissue_counts, 1), np.nan)
    out = np.where(np.isnan(out), tissue_mean[tissue_codes][:, None], out)  # level 4
    global_mean = float(values[observed].mean()) if observed.any() else 0.0
    out = np.where(np.isnan(out), global_mean, out)  # level 5
    return out


def _finalise(
    pred: np.ndarray, data: ExpressionData, serve: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Replace entries not served (``serve`` False) or non-finite by the fallback.

    Returns the prediction and the mask of *missing* entries served by the fallback.
    """
    bad = ~np.isfinite(pred)
    if serve is not None:
        bad |= ~serve
    if bad.any():
        pred = np.where(bad, fallback_values(data), pred)
    return pred, bad & np.isnan(data.values)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


# -- mean / additive ---------------------------------------------------------------------------
@register
class MeanImputer(BaseImputer):
    """Gene mean over the observed samples of the same tissue (optionally also the same group).

    Parameters
    ----------
    group_by
        Extra ``obs`` columns that refine the groups, e.g. ``("species",)`` gives the
        same-species tissue mean on the primate data. Where a gene is not observed in a
        sample's group, the plain tissue mean is used and counted as a fallback.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50)
    >>> pred = gi.get_method("mean").fit(adata).predict(adata)
    """

    name = "mean"

    def __init__(self, group_by: tuple[str, ...] | list[str] | str = ()):
        self.group_by = group_by

    def _groups(self, data: ExpressionData) -> np.ndarray:
        cols = [self.group_by] if isinstance(self.group_by, str) else list(self.group_by)
        missing = [c for c in cols if c not in data.obs.columns]
        if missing:
            msg = f"group_by columns {missing} not found in the sample annotation {list(data.obs.columns)}"
            raise KeyError(msg)
        key = data.tissue.astype(str)
        for c in cols:
            key = key + "\x1f" + data.obs[c].astype(str).to_numpy()
        import pandas as pd

        return np.asarray(pd.Categorical(key).codes)

    def _fit(self, data: ExpressionData) -> None:
        self._groups(data)  # validate columns early

    def _predict(self, data: ExpressionData) -> np.ndarray:
        codes = self._groups(data)
        means, _ = _group_nanmean(data.values, codes, int(codes.max()) + 1)
        pred = means[codes]
        pred, self.fallback_mask_ = _finalise(pred, data)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


@register
class AdditiveImputer(BaseImputer):
    """Additive model ``mu + gene + tissue (+ donor)`` fitted by alternating least squares.

    Effects are fitted on observed entries with a small ridge penalty (``alpha``) that shrinks
    effects of sparsely observed levels towards zero. A gene never observed gets gene effect 0
    (its entries count as fallbacks), as does a donor never observed.

    Parameters
    ----------
    use_donor
        Include donor effects when donors are known.
    alpha
        Ridge penalty (pseudo-count) on every effect.
    max_iter, tol
        ALS iterations and the stopping tolerance on the largest effect change.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50)
    >>> pred = gi.get_method("additive").fit(adata, donor_key="donor").predict(adata, donor_key="donor")
    """

    name = "additive"

    def __init__(self, *, use_donor: bool = True, alpha: float = 1.0, max_iter: int = 50, tol: float = 1e-6):
        self.use_donor = use_donor
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, data: ExpressionData) -> None:
        pass  # transductive: effects are fitted on the data passed to predict

    def _predict(self, data: ExpressionData) -> np.ndarray:
        values = data.values
        observed = ~np.isnan(values)
        obs_f = observed.astype(np.float64)
        y = np.where(observed, values, 0.0)
        t_codes = np.asarray(data.tissue.codes)
        n_t = len(data.tissue.categories)
        use_donor = self.use_donor and data.donor is not None
        d_codes = np.asarray(data.donor.codes) if use_donor else np.zeros(data.n_samples, dtype=int)
        n_d = len(data.donor.categories) if use_donor else 1
        mu = float(values[observed].mean())
        gene = np.zeros(data.n_genes)
        tissue = np.zeros(n_t)
        donor = np.zeros(n_d)
        n_per_sample = obs_f.sum(1)
        for _ in range(self.max_iter):
            row = tissue[t_codes] + donor[d_codes]
            resid = (y - mu - row[:, None] - gene[None, :]) * obs_f
            mu_new = mu + resid.sum() / max(obs_f.sum(), 1)
            resid -= (mu_new - mu) * obs_f
            mu = mu_new
            # gene effects
            gene_new = (resid + gene[None, :] * obs_f).sum(0) / (obs_f.sum(0) + self.alpha)
            resid -= (gene_new - gene)[None, :] * obs_f
            # tissue effects
            per_sample = resid.sum(1) + tissue[t_codes] * n_per_sample
            tissue_new = np.bincount(t_codes, per_sample, n_t) / (
                np.bincount(t_codes, n_per_sample, n_t) + self.alpha
            )
            resid -= (tissue_new - tissue)[t_codes][:, None] * obs_f
            change = max(np.abs(gene_new - gene).max(), np.abs(tissue_new - tissue).max())
            gene, tissue = gene_new, tissue_new
            if use_donor:
                per_sample = resid.sum(1) + donor[d_codes] * n_per_sample
                donor_new = np.bincount(d_codes, per_sample, n_d) / (
                    np.bincount(d_codes, n_per_sample, n_d) + self.alpha
                )
                change = max(change, np.abs(donor_new - donor).max())
                donor = donor_new
            if change < self.tol:
                break
        self.mu_, self.gene_effect_, self.tissue_effect_, self.donor_effect_ = mu, gene, tissue, donor
        pred = mu + (tissue[t_codes] + donor[d_codes])[:, None] + gene[None, :]
        # a gene never observed has no gene effect: count its missing entries as fallbacks
        unseen = ~observed.any(axis=0)
        self.fallback_mask_ = np.isnan(values) & unseen[None, :]
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


# -- genomic-distance baselines ----------------------------------------------------------------
def _coordinate_mask(var) -> np.ndarray:
    ok = np.ones(len(var), dtype=bool)
    for col in ("chrom", "tss"):
        series = var[col]
        ok &= ~series.isna().to_numpy()
        if col == "chrom":
            ok &= series.astype(str).str.len().to_numpy() > 0
    return ok


@register
class DistanceImputer(BaseImputer):
    """A gene's value in a sample from its k nearest reference genes' values in the same sample.

    The comparator of the paper: the prediction is the weighted mean of the values, in the same
    sample, of the ``k`` nearest genes (by TSS, same chromosome, within ``window`` bp) that are
    observed there, weighted by ``1 / (|distance| + pseudo_distance) ** power``. It never uses
    the gene's own values in other samples.

    Hyperparameters set to ``"auto"`` are chosen at ``fit`` by validation on reference genes:
    a ``validation_fraction`` of the observed genes is hidden, predicted from the others, and
    the combination with the highest pooled Pearson r on those genes wins. The evaluation
    targets (entries that are missing in the data given to ``fit``) are never used.

    Fallback: a gene without coordinates, or with no neighbour observed in the sample within
    the window, gets the shared fallback (module docstring): the gene's tissue mean when it is
    observed elsewhere, else the sample's mean. Counted in ``n_fallback_``.

    Parameters
    ----------
    k
        Number of neighbours, or ``"auto"``.
    window
        Maximum TSS distance in bp, or ``"auto"``.
    power
        Inverse-distance weighting power (0 = unweighted mean), or ``"auto"``.
    pseudo_distance
        bp added to distances so that genes with (nearly) the same TSS get a finite weight.
    candidate_k, candidate_window, candidate_power
        Grids searched for the ``"auto"`` hyperparameters.
    validation_fraction
        Fraction of reference genes hidden for the validation.
    random_state
        Seed for the validation split.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=200)
    >>> model = gi.get_method("distance").fit(adata)
    >>> pred = model.predict(adata)
    """

    name = "distance"
    requires_coordinates = True

    def __init__(
        self,
        k: int | str = "auto",
        window: int | str = "auto",
        power: float | str = "auto",
        *,
        pseudo_distance: float = 1000.0,
        candidate_k: tuple[int, ...] = (5, 10, 20, 50),
        candidate_window: tuple[int, ...] = (100_000, 500_000, 1_000_000, 5_000_000),
        candidate_power: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0),
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
    ):
        self.k = k
        self.window = window
        self.power = power
        self.pseudo_distance = pseudo_distance
        self.candidate_k = candidate_k
        self.candidate_window = candidate_window
        self.candidate_power = candidate_power
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    @staticmethod
    def _neighbours(var, reference: np.ndarray, k: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and absolute TSS distances of each gene's ``k`` nearest reference genes."""
        from ..genome import genomic_neighbours

        nb = genomic_neighbours(var, reference=reference, k=k, window=int(window))
        return nb.index, nb.abs_distance.astype(np.float64)

    def _weighted(
        self,
        values: np.ndarray,
        index: np.ndarray,
        dist: np.ndarray,
        genes: np.ndarray,
        k: int,
        power: float,
        chunk: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict ``values[:, genes]`` from the first ``k`` observed neighbours in each sample."""
        n_s = values.shape[0]
        pred = np.full((n_s, len(genes)), np.nan)
        served = np.zeros((n_s, len(genes)), dtype=bool)
        for start in range(0, len(genes), chunk):
            g = genes[start : start + chunk]
            idx = index[g]  # (G, K)
            has = idx >= 0
            nv = values[:, np.clip(idx, 0, None)]  # (S, G, K)
            ok = has[None] & ~np.isnan(nv)
            ok &= np.cumsum(ok, axis=2) <= k
            w = np.maximum(dist[g] + self.pseudo_distance, 1.0) ** (-float(power))  # (G, K); >= 1 bp
            wk = np.where(ok, w[None], 0.0)
            num = (wk * np.where(ok, nv, 0.0)).sum(2)
            den = wk.sum(2)
            with np.errstate(invalid="ignore", divide="ignore"):
                pred[:, start : start + len(g)] = np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)
            served[:, start : start + len(g)] = den > 0
        return pred, served

    def _grid(self) -> tuple[list[int], list[int], list[float]]:
        ks = list(self.candidate_k) if self.k == "auto" else [int(self.k)]
        ws = list(self.candidate_window) if self.window == "auto" else [int(self.window)]
        ps = list(self.candidate_power) if self.power == "auto" else [float(self.power)]
        return ks, ws, ps

    def _fit(self, data: ExpressionData) -> None:
        ks, ws, ps = self._grid()
        self.validation_scores_: dict[str, float] = {}
        if len(ks) * len(ws) * len(ps) == 1:
            self.k_, self.window_, self.power_ = ks[0], ws[0], ps[0]
            return
        coords = _coordinate_mask(data.var)
        observed = data.observed
        reference = coords & observed.any(axis=0)
        rng = np.random.default_rng(self.random_state)
        ref_idx = np.flatnonzero(reference)
        n_val = max(1, round(self.validation_fraction * len(ref_idx)))
        if len(ref_idx) < 3:
            self.k_, self.window_, self.power_ = ks[0], ws[0], ps[0]
            return
        val = np.sort(rng.choice(ref_idx, size=min(n_val, len(ref_idx) - 1), replace=False))
        train_ref = reference.copy()
        train_ref[val] = False
        values = data.values.copy()
        values[:, val] = np.nan  # the validation genes are hidden from their neighbours
        truth = data.values[:, val]
        t_obs = ~np.isnan(truth)
        fb = fallback_values(data.with_values(values))[:, val]
        best = (-np.inf, ks[0], ws[0], ps[0])
        k_max = max(ks)
        for window in ws:
            index, dist = self._neighbours(data.var, train_ref, k_max + 10, window)
            for k in ks:
                for power in ps:
                    pred, served = self._weighted(values, index, dist, val, k, power)
                    pred = np.where(served, pred, fb)
                    r = _pearson(pred[t_obs], truth[t_obs])
                    self.validation_scores_[f"k={k},window={window},power={power:g}"] = r
                    if np.isfinite(r) and r > best[0]:
                        best = (r, k, window, power)
        _, self.k_, self.window_, self.power_ = best
        logger.info(
            "%s: chose k=%s window=%s power=%s (validation r=%.3f on %d reference genes)",
            self.name,
            self.k_,
            self.window_,
            self.power_,
            best[0],
            len(val),
        )

    def _predict(self, data: ExpressionData) -> np.ndarray:
        if not hasattr(self, "k_"):
            msg = f"{type(self).__name__} is not fitted; call fit() first."
            raise RuntimeError(msg)
        coords = _coordinate_mask(data.var)
        reference = coords & data.observed.any(axis=0)
        # extra neighbours so that k observed ones remain where some neighbours are missing
        k_ext = int(self.k_) * 2 + 10
        index, dist = self._neighbours(data.var, reference, k_ext, self.window_)
        pred, served = self._weighted(data.values, index, dist, np.arange(data.n_genes), self.k_, self.power_)
        pred, self.fallback_mask_ = _finalise(pred, data, served)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


@register
class NearestGeneImputer(DistanceImputer):
    """The value, in the same sample, of the single nearest observed reference gene (by TSS).

    Same machinery and fallback as :class:`DistanceImputer` with ``k=1``; ``window`` may be
    chosen by validation on reference genes (``"auto"``).

    Parameters
    ----------
    window
        Maximum TSS distance in bp, or ``"auto"``.
    candidate_window
        Grid for ``window="auto"``.
    random_state
        Seed for the validation split.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=200)
    >>> pred = gi.get_method("nearest_gene").fit(adata).predict(adata)
    """

    name = "nearest_gene"

    def __init__(
        self,
        window: int | str = "auto",
        *,
        candidate_window: tuple[int, ...] = (100_000, 1_000_000, 10_000_000),
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
    ):
        super().__init__(
            k=1,
            window=window,
            power=0.0,
            candidate_window=candidate_window,
            validation_fraction=validation_fraction,
            random_state=random_state,
        )


# -- matrix-completion baselines -----------------------------------------------------------------
def _unservable(data: ExpressionData) -> np.ndarray:
    """Entries whose gene is never observed or whose sample has no observed value."""
    observed = data.observed
    return (~observed.any(axis=0))[None, :] | (~observed.any(axis=1))[:, None]


_MAX_WIDE_ENTRIES = 30_000_000


def _donor_layout(data: ExpressionData) -> tuple[ExpressionData, np.ndarray, np.ndarray]:
    """Reshape to donors x (tissue, gene): one row per donor, one block of genes per tissue.

    Samples of the same donor and tissue are averaged. Returns the wide data and each
    sample's donor and tissue codes (to map predictions back).
    """
    import pandas as pd

    d_codes = np.asarray(data.donor.codes, dtype=np.int64)
    t_codes = np.asarray(data.tissue.codes, dtype=np.int64)
    n_d, n_t, n_g = len(data.donor.categories), len(data.tissue.categories), data.n_genes
    means, _ = _group_nanmean(data.values, d_codes * n_t + t_codes, n_d * n_t)
    wide = means.reshape(n_d, n_t * n_g)
    var = pd.DataFrame(index=pd.RangeIndex(n_t * n_g).astype(str))
    obs = pd.DataFrame(index=pd.Index(data.donor.categories.astype(str)))
    # one pseudo-tissue: the level-1 fallback becomes the gene's mean in that tissue over donors
    tissue = pd.Categorical(np.repeat("donors", n_d))
    return ExpressionData(wide, tissue, None, obs, var, data.log1p), d_codes, t_codes


class _MatrixImputer(BaseImputer):
    """Matrix-completion baselines, on samples x genes or on donors x (tissue, gene).

    ``layout="samples"`` works on the samples x genes matrix. ``layout="donors"`` (HYFA's
    setting) works on one row per donor holding all its tissues' profiles side by side, so a
    hidden donor x tissue profile is predicted from that donor's other tissues and from the
    other donors. ``"auto"`` picks ``"donors"`` when donors are known, there are at least
    three, they have on average at least two tissues, and the wide matrix stays below
    30 million entries; ``"samples"`` otherwise. The chosen layout is ``layout_``.
    """

    layout: str = "auto"

    def _resolve_layout(self, data: ExpressionData) -> str:
        if self.layout not in ("auto", "samples", "donors"):
            msg = f"layout={self.layout!r}; use 'auto', 'samples' or 'donors'."
            raise ValueError(msg)
        if self.layout == "donors" and data.donor is None:
            msg = f"{self.name}: layout='donors' needs donors; pass donor_key= or use layout='samples'."
            raise ValueError(msg)
        if self.layout != "auto":
            return self.layout
        if data.donor is None:
            return "samples"
        n_d, n_t = len(data.donor.categories), len(data.tissue.categories)
        pairs = len(set(zip(np.asarray(data.donor.codes), np.asarray(data.tissue.codes), strict=True)))
        if n_d >= 3 and pairs / n_d >= 2 and n_d * n_t * data.n_genes <= _MAX_WIDE_ENTRIES:
            return "donors"
        return "samples"

    def _fit(self, data: ExpressionData) -> None:
        self.layout_ = self._resolve_layout(data)
        if self.layout_ == "donors":
            # column blocks = tissues: validation can hide whole tissue profiles, as P3 does
            self._col_groups = np.repeat(np.arange(len(data.tissue.categories)), data.n_genes)
            self._fit_matrix(_donor_layout(data)[0])
        else:
            self._col_groups = None
            self._fit_matrix(data)

    def _predict(self, data: ExpressionData) -> np.ndarray:
        layout = getattr(self, "layout_", None) or self._resolve_layout(data)
        if layout == "donors" and data.donor is None:
            layout = "samples"
        if layout == "samples":
            return self._predict_matrix(data)
        wide, d_codes, t_codes = _donor_layout(data)
        wide_pred = self._predict_matrix(wide)
        n_g = data.n_genes
        cols = t_codes[:, None] * n_g + np.arange(n_g)[None, :]
        pred = wide_pred[d_codes[:, None], cols]
        wide_fb = self.fallback_mask_[d_codes[:, None], cols]
        pred, extra = _finalise(pred, data)
        self.fallback_mask_ = (wide_fb | extra) & np.isnan(data.values)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred

    def _fit_matrix(self, data: ExpressionData) -> None:
        pass  # transductive by default

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        raise NotImplementedError


@register
class KNNImputer(_MatrixImputer):
    """scikit-learn ``KNNImputer`` over genes (genes as rows, samples as features), as in HYFA.

    A gene's missing value in a sample is the (uniform or distance-weighted) mean of that
    sample's values of the ``n_neighbors`` genes closest to it (nan-Euclidean distance over the
    samples where both are observed). Genes never observed and samples with no observed value
    cannot be served and get the shared fallback (counted).

    Parameters
    ----------
    n_neighbors
        Number of neighbouring genes (HYFA: 20).
    weights
        ``"uniform"`` or ``"distance"``.
    layout
        ``"samples"``: genes as rows, samples as features (HYFA on tissue-level data);
        ``"donors"``: donors as rows, their (tissue, gene) values as features, so a donor's
        missing tissue is the mean of that tissue in the ``n_neighbors`` donors most similar
        in the tissues observed (HYFA's sample-level kNN); ``"auto"``: see below.

    Notes
    -----
    Layouts: see ``_MatrixImputer`` (``"donors"`` when donors with several tissues are known).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("knn").fit(adata).predict(adata)
    """

    name = "knn"

    def __init__(self, n_neighbors: int = 20, *, weights: str = "uniform", layout: str = "auto"):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.layout = layout

    def _knn_rows(self, values: np.ndarray) -> np.ndarray:
        """KNNImputer semantics with rows as observations, vectorised for few rows (donors)."""
        from sklearn.metrics.pairwise import nan_euclidean_distances

        observed = ~np.isnan(values)
        dist = nan_euclidean_distances(values)
        np.fill_diagonal(dist, np.inf)
        dist = np.where(np.isnan(dist), np.inf, dist)
        pred = np.full(values.shape, np.nan)
        k = self.n_neighbors
        for r in range(values.shape[0]):
            miss = ~observed[r]
            if not miss.any():
                continue
            total = np.zeros(int(miss.sum()))
            weight = np.zeros_like(total)
            count = np.zeros_like(total)
            for j in np.argsort(dist[r], kind="stable"):
                if not np.isfinite(dist[r, j]):
                    break
                take = observed[j, miss] & (count < k)
                w = 1.0 if self.weights == "uniform" else 1.0 / max(dist[r, j], 1e-12)
                total += np.where(take, values[j, miss], 0.0) * w
                weight += take * w
                count += take
            with np.errstate(invalid="ignore", divide="ignore"):
                pred[r, miss] = np.where(weight > 0, total / np.where(weight > 0, weight, 1), np.nan)
        return pred

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        from sklearn.impute import KNNImputer as _SkKNN

        values = data.values
        unservable = _unservable(data)
        if getattr(self, "layout_", "samples") == "donors" and data.donor is None:
            # wide donors x (tissue, gene) matrix: donors are the neighbours
            pred = self._knn_rows(values)
            pred, self.fallback_mask_ = _finalise(pred, data, ~unservable)
            self.n_fallback_ = int(self.fallback_mask_.sum())
            return pred
        pred = np.full(values.shape, np.nan)
        cols = data.observed.any(axis=1)  # samples with something observed (the features)
        rows = data.observed.any(axis=0)  # genes with something observed
        if cols.any() and rows.sum() > 1:
            sub = values[np.ix_(cols, rows)].T  # genes x samples
            imputer = _SkKNN(n_neighbors=min(self.n_neighbors, int(rows.sum()) - 1), weights=self.weights)
            filled = imputer.fit_transform(sub)
            pred[np.ix_(cols, rows)] = filled.T
        pred, self.fallback_mask_ = _finalise(pred, data, ~unservable)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


def _svd(matrix: np.ndarray, rank: int | None, random_state: int | None):
    """Leading singular triplets; via the small Gram matrix when one side is short."""
    n, p = matrix.shape
    small = min(n, p)
    rank = small if rank is None else min(rank, small)
    if small <= 1000:
        gram = matrix @ matrix.T if n <= p else matrix.T @ matrix
        evals, evecs = np.linalg.eigh(gram)
        order = np.argsort(evals)[::-1][:rank]
        s = np.sqrt(np.clip(evals[order], 0, None))
        vecs = evecs[:, order]
        keep = s > s[0] * 1e-10 if s.size and s[0] > 0 else np.zeros(s.size, dtype=bool)
        s, vecs = s[keep], vecs[:, keep]
        if n <= p:
            return vecs, s, (matrix.T @ vecs / s).T
        return matrix @ vecs / s, s, vecs.T
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(matrix, rank, random_state=random_state)


@register
class SoftImputer(_MatrixImputer):
    """Iterative low-rank SVD (softImpute, Mazumder et al. 2010) with gene centring.

    Missing entries start at the shared fallback; each iteration centres genes, takes the SVD,
    soft-thresholds the singular values by ``shrinkage`` x (largest singular value), keeps at
    most ``rank`` of them, and puts the reconstruction back into the missing entries until the
    relative change drops below ``tol``. ``shrinkage=0`` with an integer ``rank`` is plain
    "hard impute". Hyperparameters set to ``"auto"`` are chosen by validation: a
    ``validation_fraction`` of the observed entries is hidden and the candidate with the
    lowest MSE on them wins (candidates are fitted from strong to weak shrinkage with warm
    starts). ``rank_`` holds the resulting effective rank. Entries of genes never observed
    and of samples with no observed value carry no information for a low-rank model: they get
    the fallback (counted).

    Parameters
    ----------
    rank
        Largest rank kept, ``None`` for no cap, or ``"auto"`` (chosen from ``candidate_ranks``).
    shrinkage
        Soft threshold as a fraction of the largest singular value, or ``"auto"``.
    candidate_ranks, candidate_shrinkage
        Grids for the ``"auto"`` hyperparameters.
    max_iter, tol
        Iterations and stopping tolerance.
    validation_fraction
        Fraction of observed entries hidden to choose the hyperparameters.
    random_state
        Seed for the validation split and the randomized SVD of large matrices.
    layout
        ``"samples"`` (samples x genes), ``"donors"`` (donors x (tissue, gene)) or ``"auto"``
        (donors when donors with several tissues are known; see ``_MatrixImputer``).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("softimpute").fit(adata).predict(adata)
    """

    name = "softimpute"

    def __init__(
        self,
        rank: int | str | None = None,
        shrinkage: float | str = "auto",
        *,
        candidate_ranks: tuple[int, ...] = (1, 2, 3, 5, 8, 12, 20, 30),
        candidate_shrinkage: tuple[float, ...] = (0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.0),
        max_iter: int = 100,
        tol: float = 1e-4,
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
        layout: str = "auto",
    ):
        self.layout = layout
        self.rank = rank
        self.shrinkage = shrinkage
        self.candidate_ranks = candidate_ranks
        self.candidate_shrinkage = candidate_shrinkage
        self.max_iter = max_iter
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _complete(
        self, data: ExpressionData, rank: int | None, shrinkage: float, start: np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        values = data.values
        observed = data.observed
        init = fallback_values(data) if start is None else start
        z = np.where(observed, values, init)
        norm = np.linalg.norm(z) or 1.0
        low, eff_rank = z, 0
        top = None
        for _ in range(self.max_iter):
            mu = z.mean(axis=0)
            u, s, vt = _svd(z - mu, rank if shrinkage == 0 else None, self.random_state)
            if top is None:
                top = float(s[0]) if s.size else 0.0
            s = np.maximum(s - shrinkage * top, 0.0)
            if rank is not None:
                s = s[:rank]
            eff_rank = int((s > 0).sum())
            low = (u[:, : s.size] * s) @ vt[: s.size] + mu
            z_new = np.where(observed, values, low)
            change = np.linalg.norm(z_new - z) / norm
            z = z_new
            if change < self.tol:
                break
        return low, eff_rank

    def _grid(self, max_rank: int) -> list[tuple[int | None, float]]:
        if self.rank == "auto":
            ranks = [r for r in self.candidate_ranks if r <= max_rank] or [1]
        else:
            ranks = [None if self.rank is None else min(int(self.rank), max_rank)]
        shrinks = (
            sorted(self.candidate_shrinkage, reverse=True) if self.shrinkage == "auto" else [self.shrinkage]
        )
        return [
            (r, float(sh))
            for r in ranks
            for sh in shrinks
            if not (r is None and sh == 0 and len(shrinks) > 1)
        ]

    def _fit_matrix(self, data: ExpressionData) -> None:
        max_rank = max(min(data.values.shape) - 1, 1)
        grid = self._grid(max_rank)
        self.validation_scores_ = {}
        if len(grid) == 1:
            self.rank_param_, self.shrinkage_ = grid[0]
            return
        rng = np.random.default_rng(self.random_state)
        obs_idx = np.flatnonzero(data.observed.ravel())
        n_val = max(1, round(self.validation_fraction * len(obs_idx)))
        val = rng.choice(obs_idx, size=min(n_val, max(len(obs_idx) - 1, 1)), replace=False)
        values = data.values.copy().ravel()
        truth = values[val].copy()
        values[val] = np.nan
        train = data.with_values(values.reshape(data.values.shape))
        best = (np.inf, grid[0])
        warm: dict[int | None, np.ndarray] = {}
        for rank, shrink in grid:  # strong -> weak shrinkage within each rank: warm starts
            low, eff = self._complete(train, rank, shrink, warm.get(rank))
            warm[rank] = low
            mse = float(np.mean((low.ravel()[val] - truth) ** 2))
            self.validation_scores_[f"rank={rank},shrinkage={shrink:g}"] = mse
            if mse < best[0]:
                best = (mse, (rank, shrink))
        self.rank_param_, self.shrinkage_ = best[1]
        logger.info(
            "softimpute: chose rank=%s shrinkage=%g (validation MSE %.4f)",
            self.rank_param_,
            self.shrinkage_,
            best[0],
        )

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        if not hasattr(self, "shrinkage_"):
            msg = f"{type(self).__name__} is not fitted; call fit() first."
            raise RuntimeError(msg)
        pred, self.rank_ = self._complete(data, self.rank_param_, self.shrinkage_)
        pred, self.fallback_mask_ = _finalise(pred, data, ~_unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


@register
class PCARegressionImputer(_MatrixImputer):
    """PCA + linear regression (after HYFA's "TEEBoT" baseline), adapted to a partial matrix.

    Genes are the observations. For each sample with missing entries, the other samples'
    values (missing ones filled with the shared fallback) are reduced to ``n_components``
    principal components across genes, and a ridge regression from those components to the
    target sample's values is fitted on the genes observed in it; it predicts the genes
    missing there. With more than ``max_exact_samples`` samples, one PCA of all samples is
    shared by every target (cheaper; the target's own observed values then enter its
    predictors). A gene never observed, or a sample with no observed value, cannot be
    served and gets the fallback (counted).

    Parameters
    ----------
    n_components
        Number of principal components (HYFA: 30; capped by the data size), or ``"auto"``:
        chosen at ``fit`` from ``candidate_components`` by validation on observed values
        only: each row's observed columns are split into blocks (its tissue profiles in the
        ``"donors"`` layout, five random gene sets otherwise); each block is predicted from
        a regression fitted on the others, and the lowest total squared error wins.
    candidate_components
        Grid for ``n_components="auto"``.
    alpha
        Ridge penalty of the regression.
    max_exact_samples
        Above this many samples (rows), use one shared PCA.
    layout
        ``"samples"``: rows are samples, as described above; ``"donors"``: rows are donors
        holding all their tissues side by side, so a donor's missing tissue is regressed on
        the other donors' PCs over the (tissue, gene) values it has (closest to HYFA's
        TEEBoT, which predicts a tissue from a donor's other tissues); ``"auto"``: donors when
        donors with several tissues are known.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("pca_regression").fit(adata).predict(adata)
    """

    name = "pca_regression"

    def __init__(
        self,
        n_components: int | str = "auto",
        *,
        candidate_components: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 30),
        alpha: float = 1.0,
        max_exact_samples: int = 200,
        layout: str = "auto",
        random_state: int | None = 0,
    ):
        self.n_components = n_components
        self.candidate_components = candidate_components
        self.random_state = random_state
        self.alpha = alpha
        self.max_exact_samples = max_exact_samples
        self.layout = layout

    @staticmethod
    def _pcs(x: np.ndarray, n_components: int) -> np.ndarray:
        xc = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
        return u[:, :n_components] * s[:n_components]

    def _regress(self, pcs: np.ndarray, y: np.ndarray, train: np.ndarray) -> np.ndarray:
        design = np.column_stack([np.ones(len(pcs)), pcs])
        a = design[train]
        penalty = self.alpha * np.eye(a.shape[1])
        penalty[0, 0] = 0.0  # no penalty on the intercept
        coef = np.linalg.solve(a.T @ a + penalty, a.T @ y[train])
        return design @ coef

    def _fit_matrix(self, data: ExpressionData) -> None:
        n_s = data.n_samples
        if self.n_components != "auto":
            self.n_components_ = int(self.n_components)
            return
        cands = sorted({min(int(c), max(n_s - 1, 1)) for c in self.candidate_components})
        values, observed = data.values, data.observed
        filled = np.where(observed, values, fallback_values(data))
        seen = observed.any(axis=0)
        groups = getattr(self, "_col_groups", None)
        if groups is None:
            groups = np.random.default_rng(self.random_state).integers(0, 5, data.n_genes)
        rng = np.random.default_rng(self.random_state)
        rows = np.arange(n_s) if n_s <= 60 else np.sort(rng.choice(n_s, 60, replace=False))
        sse = np.zeros(len(cands))
        shared = self._pcs(filled.T, max(cands)) if n_s > self.max_exact_samples else None
        for s_i in rows:
            avail = observed[s_i] & seen
            if avail.sum() < 10 or n_s < 2:
                continue
            pcs_all = (
                shared if shared is not None else self._pcs(np.delete(filled, s_i, axis=0).T, max(cands))
            )
            y = np.where(observed[s_i], values[s_i], 0.0)
            for g in np.unique(groups[avail]):
                val = avail & (groups == g)
                train = avail & (groups != g)
                if train.sum() < 3:
                    continue
                for j, c in enumerate(cands):
                    pred = self._regress(pcs_all[:, :c], y, train)
                    sse[j] += float(((pred[val] - y[val]) ** 2).sum())
        self.validation_scores_ = {f"n_components={c}": float(e) for c, e in zip(cands, sse, strict=True)}
        self.n_components_ = cands[int(np.argmin(sse))] if sse.any() else cands[-1]
        logger.info("pca_regression: chose n_components=%d", self.n_components_)

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        if not hasattr(self, "n_components_"):
            msg = f"{type(self).__name__} is not fitted; call fit() first."
            raise RuntimeError(msg)
        values = data.values
        observed = data.observed
        filled = np.where(observed, values, fallback_values(data))  # samples x genes
        n_s = data.n_samples
        pred = np.full(values.shape, np.nan)
        seen_genes = observed.any(axis=0)
        shared = None
        if n_s > self.max_exact_samples:
            shared = self._pcs(filled.T, min(self.n_components_, n_s - 1))
        for s in range(n_s):
            miss = ~observed[s]
            train = observed[s] & seen_genes
            if not miss.any() or train.sum() < 3 or n_s < 2:
                continue
            if shared is None:
                others = np.delete(filled, s, axis=0).T  # genes x other samples
                n_comp = max(1, min(self.n_components_, others.shape[1], int(train.sum()) - 2))
                pcs = self._pcs(others, n_comp)
            else:
                pcs = shared
            pred[s] = self._regress(pcs, np.where(observed[s], values[s], 0.0), train)
        pred, self.fallback_mask_ = _finalise(pred, data, ~_unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred
