"""The demo's checks of a completed cohort against the simulator's truth.

Only a simulation knows the values of the absent donor x tissue profiles: these functions score
the completed profiles (and the tissue mean beside them) against that truth, and check the
honesty of their intervals, pooled and per tissue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._data import PROFILE_COLUMN

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["interval_check", "truth_check", "truth_scores"]


def _completed_vs_truth(
    full: AnnData, completed: AnnData
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Where the completed profiles' truth is: the estimated rows, the measured genes, their truth rows.

    Only the absent profiles (``obs['imputed_profile']``) over the genes that were measured
    somewhere; returns ``(rows, genes, source)`` with ``source`` the rows of ``full`` holding
    the same donor x tissue, or None when there is nothing to compare.
    """
    obs = completed.obs
    rows = np.flatnonzero(obs[PROFILE_COLUMN].to_numpy(dtype=bool))
    genes = np.asarray(~np.isnan(np.asarray(full.X, dtype=np.float64)).all(axis=0))
    if not len(rows) or not genes.any():
        return None
    lookup = {
        (d, t): i
        for i, (d, t) in enumerate(
            zip(full.obs["donor"].astype(str), full.obs["tissue"].astype(str), strict=True)
        )
    }
    donors = obs["donor"].astype(str).to_numpy()[rows]
    tissues = obs["tissue"].astype(str).to_numpy()[rows]
    source = np.array([lookup[(d, t)] for d, t in zip(donors, tissues, strict=True)])
    return rows, genes, source


def truth_check(full: AnnData, completed: AnnData) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Completed profiles' measured genes against the simulated truth (log1p), and the tissue mean's.

    The tissue mean of the observed samples is the naive estimate beside the hybrid.
    """
    where = _completed_vs_truth(full, completed)
    if where is None:
        return np.zeros(0), {}
    rows, genes, source = where
    tissues = completed.obs["tissue"].astype(str).to_numpy()[rows]
    x_full = np.asarray(full.X, dtype=np.float64)
    truth = np.log1p(np.asarray(full.layers["truth"], dtype=np.float64)[np.ix_(source, genes)])
    hybrid = np.log1p(np.asarray(completed.X, dtype=np.float64)[np.ix_(rows, genes)])
    measured = ~np.isnan(x_full).all(axis=1)
    log_x = np.log1p(x_full[:, genes])
    tissue_full = full.obs["tissue"].astype(str).to_numpy()
    means = {t: np.nanmean(log_x[measured & (tissue_full == t)], axis=0) for t in np.unique(tissues)}
    tissue_mean = np.stack([means[t] for t in tissues])
    return truth.ravel(), {"hybrid": hybrid.ravel(), "tissue mean": tissue_mean.ravel()}


def interval_check(full: AnnData, completed: AnnData, level: float) -> dict[str, Any]:
    """Coverage and mean width (log1p) of the completed profiles' intervals against the simulated truth.

    Over the absent profiles' measured genes, pooled and per tissue: the intervals' honesty
    on exactly the values a user asked for, which only a simulation can check.
    """
    key = "completed"
    where = _completed_vs_truth(full, completed)
    if f"{key}_lower" not in completed.layers or where is None:
        return {}
    rows, genes, source = where
    tissues = completed.obs["tissue"].astype(str).to_numpy()[rows]
    truth = np.log1p(np.asarray(full.layers["truth"], dtype=np.float64)[np.ix_(source, genes)])
    lower = np.log1p(np.asarray(completed.layers[f"{key}_lower"], dtype=np.float64)[np.ix_(rows, genes)])
    upper = np.log1p(np.asarray(completed.layers[f"{key}_upper"], dtype=np.float64)[np.ix_(rows, genes)])
    inside = (truth >= lower) & (truth <= upper)
    by_tissue = {str(t): float(inside[tissues == t].mean()) for t in dict.fromkeys(tissues)}
    return {
        "level": float(level),
        "coverage": float(inside.mean()),
        "mean_width": float(np.mean(upper - lower)),
        "n": int(inside.size),
        "by_tissue": by_tissue,
    }


def truth_scores(truth: np.ndarray, estimates: Mapping[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Pearson r, MSE and count of each estimate against ``truth`` ({} below 3 values)."""
    if truth.size < 3:
        return {}
    return {
        label: {
            "r": float(np.corrcoef(truth, values)[0, 1]),
            "mse": float(np.mean((truth - values) ** 2)),
            "n": int(truth.size),
        }
        for label, values in estimates.items()
    }
