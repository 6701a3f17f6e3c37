"""kNN over samples: each sample's missing values from the samples most similar to it.

The sample-level baseline of scikit-learn users (``KNNImputer`` with samples as rows): a sample's
own observed profile finds its neighbours, and their values fill its holes. The number of
neighbours is chosen on a validation split of the observed entries, never on evaluation targets.
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from ._base import BaseImputer, register
from ._fallback import finalise, unservable
from ._params import Interval, Options, SequenceOf
from ._persistence import JSONValue

logger = logging.getLogger("gex_impute")

__all__ = ["KNNSamplesImputer"]


def _knn_fill(values: np.ndarray, k: int) -> np.ndarray:
    """KNNImputer over the rows of ``values``: observed values kept, holes filled (empty rows stay NaN)."""
    from sklearn.impute import KNNImputer

    pred = np.full(values.shape, np.nan)
    rows = ~np.isnan(values).all(axis=1)
    cols = ~np.isnan(values).all(axis=0)
    k = min(int(k), int(rows.sum()) - 1)
    if k >= 1 and cols.any():
        sub = values[np.ix_(rows, cols)]
        pred[np.ix_(rows, cols)] = KNNImputer(n_neighbors=k, keep_empty_features=True).fit_transform(sub)
    return pred


@register
class KNNSamplesImputer(BaseImputer):
    """scikit-learn ``KNNImputer`` over samples (samples as rows, genes as features).

    A sample's missing value of a gene is the mean of that gene in the ``n_neighbors`` samples
    closest to it (nan-Euclidean distance over the genes both observed). Samples with nothing
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
        n_val = int(self.validation_fraction * observed.size)
        if n_val < 1:
            self.n_neighbors_ = int(min(self.candidates))
            return
        rng = np.random.default_rng(self.random_state)
        hidden = rng.choice(observed, n_val, replace=False)
        flat = values.copy().ravel()
        truth = flat[hidden].copy()
        flat[hidden] = np.nan
        masked = flat.reshape(values.shape)
        rows, cols = np.divmod(hidden, values.shape[1])
        for k in sorted(set(int(c) for c in self.candidates)):
            pred = np.asarray(_knn_fill(masked, k)[rows, cols])
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
        pred = _knn_fill(values, self.n_neighbors_)
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred
