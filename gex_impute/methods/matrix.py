"""Matrix-completion baselines (HYFA's set): kNN, soft-impute and PCA + regression.

Each works on the samples x genes matrix or on donors x (tissue, gene) (see
:class:`MatrixImputer`); entries without information (a gene never observed, a sample with
nothing observed) get the shared fallback (:mod:`gex_impute.methods._fallback`).
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from ._base import register
from ._fallback import fallback_values, finalise, unservable
from ._matrix_layout import LAYOUTS, SEED, MatrixImputer
from ._params import Interval, Options, SequenceOf
from ._persistence import JSONValue

logger = logging.getLogger("gex_impute")

__all__ = ["KNNImputer", "PCARegressionImputer", "SoftImputer"]


@register
class KNNImputer(MatrixImputer):
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
    Layouts: see ``MatrixImputer`` (``"donors"`` when donors with several tissues are known).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("knn").fit(adata).predict(adata)
    """

    name = "knn"
    _parameter_constraints = {
        "n_neighbors": [Interval(int, 1, 10_000)],
        "weights": [Options("uniform", "distance")],
        "layout": [LAYOUTS],
    }

    def __init__(self, n_neighbors: int = 20, *, weights: str = "uniform", layout: str = "auto"):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.layout = layout
        self._validate_params()

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
class SoftImputer(MatrixImputer):
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
        (donors when donors with several tissues are known; see ``MatrixImputer``).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("softimpute").fit(adata).predict(adata)
    """

    name = "softimpute"
    _parameter_constraints = {
        "rank": [Interval(int, 1, None), Options("auto"), None],
        "shrinkage": [Interval(float, 0, 1), Options("auto")],
        "candidate_ranks": [SequenceOf(Interval(int, 1, None), max_length=100)],
        "candidate_shrinkage": [SequenceOf(Interval(float, 0, 1), max_length=100)],
        "max_iter": [Interval(int, 1, 100_000)],
        "tol": [Interval(float, 0, None)],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "random_state": SEED,
        "layout": [LAYOUTS],
    }
    _fitted_schema = {
        "layout_": [Options("samples", "donors")],
        "rank_param_": [Interval(int, 1, None), None],
        "shrinkage_": [Interval(float, 0, 1)],
        "validation_scores_": [JSONValue(max_depth=1)],
    }

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
        self._validate_params()

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
        ranks: list[int | None]
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
        pred, self.rank_ = self._complete(data, self.rank_param_, self.shrinkage_)
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


@register
class PCARegressionImputer(MatrixImputer):
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
    random_state
        Seed for the validation blocks and the rows the validation reads.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("pca_regression").fit(adata).predict(adata)
    """

    name = "pca_regression"
    _parameter_constraints = {
        "n_components": [Interval(int, 1, 10_000), Options("auto")],
        "candidate_components": [SequenceOf(Interval(int, 1, 10_000), max_length=100)],
        "alpha": [Interval(float, 0, None)],
        "max_exact_samples": [Interval(int, 1, None)],
        "layout": [LAYOUTS],
        "random_state": SEED,
    }
    _fitted_schema = {
        "layout_": [Options("samples", "donors")],
        "n_components_": [Interval(int, 1, 10_000)],
        "validation_scores_": [JSONValue(max_depth=1)],
    }

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
        self._validate_params()

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
        self.validation_scores_ = {}
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
