"""Matrix-completion baselines (HYFA's set): kNN, soft-impute and PCA + regression.

Each works on the samples x genes matrix or on donors x (tissue, gene) (see
:class:`_MatrixImputer`); entries without information (a gene never observed, a sample with
nothing observed) get the shared fallback (:mod:`gex_impute.methods._fallback`).
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from ._base import BaseImputer, register
from ._fallback import fallback_values, finalise, group_nanmean, unservable

logger = logging.getLogger("gex_impute")

__all__ = ["KNNImputer", "PCARegressionImputer", "SoftImputer"]


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
    means, _ = group_nanmean(data.values, d_codes * n_t + t_codes, n_d * n_t)
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
        pred, extra = finalise(pred, data)
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
        no_info = unservable(data)
        if getattr(self, "layout_", "samples") == "donors" and data.donor is None:
            # wide donors x (tissue, gene) matrix: donors are the neighbours
            pred = self._knn_rows(values)
            pred, self.fallback_mask_ = finalise(pred, data, ~no_info)
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
        pred, self.fallback_mask_ = finalise(pred, data, ~no_info)
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
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
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
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred
