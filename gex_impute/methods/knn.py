"""kNN over genes or over donors (HYFA's kNN baseline): ``knn``.

One of the matrix-completion baselines (:mod:`gex_impute.methods.matrix`), in either layout of
:class:`~gex_impute.methods._matrix_layout.MatrixImputer`.
"""

from __future__ import annotations

import numpy as np

from .._data import ExpressionData
from ._base import register
from ._fallback import finalise, unservable
from ._matrix_layout import LAYOUTS, MatrixImputer
from ._params import Interval, Options

__all__ = ["KNNImputer"]


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
