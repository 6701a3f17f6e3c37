"""kNN over samples: each sample's missing values from the samples most similar to it.

The sample-level baseline of scikit-learn users (``KNNImputer`` with samples as rows): a sample's
own observed profile finds its neighbours, and their values fill its holes. The number of
neighbours is chosen on a validation split of the observed entries, never on evaluation targets.
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from .._utils import check_random_state
from ._base import BaseImputer, register
from ._fallback import fallback_values, finalise, unservable
from ._params import Interval, Options, SequenceOf
from ._persistence import JSONValue

logger = logging.getLogger("gex_impute")

__all__ = ["KNNSamplesImputer"]


#: rows up to which every other row is a candidate neighbour (exact); beyond, the nearest
#: ``2 * max(k) + 16`` rows by distance are (a column observed in fewer of them gets fewer neighbours)
EXACT_ROWS = 2000


def nan_euclidean(values: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Rows x rows nan-Euclidean distances (scikit-learn's), ``inf`` without overlap and on the diagonal."""
    observed = ~np.isnan(values)
    x = np.where(observed, values, 0.0)
    m = observed.astype(np.float64)
    x2 = x * x
    n, p = values.shape
    out = np.empty((n, n))
    for a in range(0, n, chunk):
        sl = slice(a, a + chunk)
        d2 = x2[sl] @ m.T + m[sl] @ x2.T - 2.0 * (x[sl] @ x.T)
        common = m[sl] @ m.T
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.sqrt(np.maximum(d2, 0.0) * p / common)
        d[common == 0] = np.inf
        out[sl] = d
    np.fill_diagonal(out, np.inf)
    return out


def knn_rows(values: np.ndarray, ks, rows: np.ndarray | None = None) -> dict[int, np.ndarray]:
    """KNNImputer over the rows of ``values`` for several ``k`` at once (uniform weights).

    Each missing entry of a row in ``rows`` (default: rows with an observed and a missing
    value) is the mean of its column over the ``k`` nearest rows (nan-Euclidean) where that
    column is observed. Returns ``{k: array}`` with observed entries kept and NaN where no
    neighbour has the column (other rows untouched).
    """
    ks = sorted({int(k) for k in ks})
    observed = ~np.isnan(values)
    n, _ = values.shape
    if rows is None:
        rows = np.flatnonzero((~observed).any(axis=1) & observed.any(axis=1))
    out = {k: values.copy() for k in ks}
    if n < 2 or len(rows) == 0:
        return out
    dist = nan_euclidean(values)
    n_cand = n - 1 if n <= EXACT_ROWS else min(n - 1, 2 * ks[-1] + 16)
    x = np.where(observed, values, 0.0)
    for r in rows:
        order = np.argsort(dist[r], kind="stable")[:n_cand]
        order = order[np.isfinite(dist[r, order])]
        if len(order) == 0:
            for k in ks:
                out[k][r, ~observed[r]] = np.nan
            continue
        holes = np.flatnonzero(~observed[r])
        have = observed[np.ix_(order, holes)]
        rank = np.cumsum(have, axis=0, dtype=np.int32)
        vals = x[np.ix_(order, holes)]
        for k in ks:
            take = have & (rank <= k)
            count = take.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k][r, holes] = np.where(count > 0, (vals * take).sum(axis=0) / count, np.nan)
    return out


@register
class KNNSamplesImputer(BaseImputer):
    """scikit-learn ``KNNImputer`` over samples (samples as rows, genes as features).

    A sample's missing value of a gene is the mean of that gene in the ``n_neighbors`` samples
    closest to it among those where the gene is observed (nan-Euclidean distance over the
    genes both observed), as ``KNNImputer`` computes it; vectorised here, with every
    candidate ``n_neighbors`` scored in one pass. Beyond ``EXACT_ROWS`` samples only the
    ``2 * max(candidates) + 16`` nearest samples are searched for a gene's neighbours. Samples with nothing
    observed (absent profiles) and genes never observed cannot be served and get the shared
    fallback (tissue mean; counted in ``n_fallback_``).

    Parameters
    ----------
    n_neighbors
        Number of neighbouring samples, or ``"auto"``: chosen among ``candidates`` by the MSE on
        ``validation_fraction`` of the observed entries, hidden at fit time.
    candidates
        The values of ``n_neighbors`` tried by ``"auto"``.
    validation_fraction
        Fraction of the observed entries hidden to choose ``n_neighbors``.
    random_state
        Seed of the validation split.
        None is seed 0 (never numpy's global random state).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> model = gi.get_method("knn_samples").fit(adata)
    >>> model.n_neighbors_ in model.candidates
    True
    """

    name = "knn_samples"
    _parameter_constraints = {
        "n_neighbors": [Interval(int, 1, 10_000), Options("auto")],
        "candidates": [SequenceOf(Interval(int, 1, 10_000), min_length=1, max_length=50)],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "random_state": [Interval(int, 0, 2**32 - 1), None],
    }
    _fitted_schema = {
        "n_neighbors_": [Interval(int, 1, 10_000)],
        "validation_scores_": [JSONValue(max_depth=1)],
    }

    def __init__(
        self,
        n_neighbors: int | str = "auto",
        *,
        candidates: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 40),
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
    ):
        self.n_neighbors = n_neighbors
        self.candidates = candidates
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self._validate_params()

    def _fit(self, data: ExpressionData) -> None:
        self.validation_scores_: dict[str, float] = {}
        if self.n_neighbors != "auto":
            self.n_neighbors_ = int(self.n_neighbors)
            return
        values = np.asarray(data.values, dtype=np.float64)
        observed = np.flatnonzero(~np.isnan(values).ravel())
        candidates = sorted({int(c) for c in self.candidates})
        n_val = int(self.validation_fraction * observed.size)
        if n_val < 1:
            self.n_neighbors_ = int(min(self.candidates))
            return
        rng = check_random_state(self.random_state)
        hidden = rng.choice(observed, n_val, replace=False)
        flat = values.copy().ravel()
        truth = flat[hidden].copy()
        flat[hidden] = np.nan
        masked = flat.reshape(values.shape)
        rows, cols = np.divmod(hidden, values.shape[1])
        estimates = knn_rows(masked, candidates, rows=np.unique(rows))  # every k in one pass
        for k in candidates:
            pred = estimates[k][rows, cols]
            ok = np.isfinite(pred)
            self.validation_scores_[str(k)] = (
                float(np.mean((pred[ok] - truth[ok]) ** 2)) if ok.any() else np.inf
            )
        best = min(self.validation_scores_, key=lambda k: self.validation_scores_[k])
        self.n_neighbors_ = int(best)
        logger.debug(
            "knn_samples: n_neighbors=%d chosen on validation %s", self.n_neighbors_, self.validation_scores_
        )

    def _predict(self, data: ExpressionData) -> np.ndarray:
        values = np.asarray(data.values, dtype=np.float64)
        pred = knn_rows(values, [self.n_neighbors_])[self.n_neighbors_]
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred

    def predict_rows(self, data: ExpressionData, rows: np.ndarray) -> np.ndarray:
        """Predict every entry of ``data``'s rows ``rows`` only, with all rows as neighbours."""
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        values = np.asarray(data.values, dtype=np.float64)
        pred = knn_rows(values, [self.n_neighbors_], rows=rows)[self.n_neighbors_][rows]
        bad = ~np.isfinite(pred) | unservable(data)[rows]
        return np.where(bad, fallback_values(data)[rows], pred) if bad.any() else pred
