"""Accuracy metrics of :func:`gex_impute.tl.evaluate`: pooled, per group, per quintile, intervals."""

from __future__ import annotations

import numpy as np

__all__ = ["QUINTILES", "expression_quintiles", "interval_scores", "score"]

#: quintile labels, lowest expression first
QUINTILES = ("Q1", "Q2", "Q3", "Q4", "Q5")


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _mean_group_r(groups: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> float:
    order = np.argsort(groups, kind="stable")
    g, t, p = groups[order], truth[order], pred[order]
    bounds = np.flatnonzero(np.diff(g)) + 1
    per_group = [_r(tt, pp) for tt, pp in zip(np.split(t, bounds), np.split(p, bounds), strict=True)]
    rs = np.asarray([r for r in per_group if np.isfinite(r)])
    return float(rs.mean()) if rs.size else float("nan")


def score(
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    gene: np.ndarray | None = None,
    sample: np.ndarray | None = None,
    tissue: np.ndarray | None = None,
) -> dict[str, float]:
    """Accuracy of predictions of held-out entries.

    Parameters
    ----------
    truth, pred
        Held-out values and their predictions (1-D, same length, model scale).
    gene, sample, tissue
        Group labels of each entry for the per-gene (across samples), per-sample (across
        genes; HYFA's main metric) and per-tissue mean Pearson r. Groups with fewer than three
        entries or a constant truth/prediction have no r and are left out of the mean.

    Returns
    -------
    ``pearson``, ``spearman``, ``mse``, ``mean_gene_r``, ``mean_sample_r``, ``mean_tissue_r``,
    ``n_heldout``.

    Examples
    --------
    >>> from gex_impute.tl import score
    >>> import numpy as np
    >>> score(np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.2, 2.9]))["mse"]
    0.02
    """
    from scipy.stats import spearmanr

    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    out = {
        "pearson": _r(truth, pred),
        "spearman": float(spearmanr(truth, pred).statistic)
        if truth.size > 2 and np.ptp(pred) > 0
        else np.nan,
        "mse": round(float(np.mean((truth - pred) ** 2)), 12) if truth.size else float("nan"),
    }
    for key, groups in (("mean_gene_r", gene), ("mean_sample_r", sample), ("mean_tissue_r", tissue)):
        out[key] = _mean_group_r(np.asarray(groups), truth, pred) if groups is not None else float("nan")
    out["n_heldout"] = int(truth.size)
    return out


def expression_quintiles(gene_mean: np.ndarray, genes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the genes ``genes`` into five groups of rising mean expression.

    Parameters
    ----------
    gene_mean
        Each gene's mean over its observed entries (model scale; NaN for a gene never observed).
    genes
        The genes to split (e.g. the held-out ones; repeats allowed).

    Returns
    -------
    Each gene's quintile (0 = lowest mean expression, 4 = highest) for the *distinct* genes
    of ``genes`` in ascending order (the index of :func:`numpy.unique`), and the four edges
    between quintiles. Edges are the 20/40/60/80 % quantiles of the distinct genes' means; a
    quintile holds the genes above the edge below it, up to and including its own edge, so
    genes tied at the lowest mean (e.g. never expressed) stay in quintile 0; genes without an
    observed mean fall in quintile 0 too.

    Examples
    --------
    >>> from gex_impute.tl._metrics import expression_quintiles
    >>> import numpy as np
    >>> q, edges = expression_quintiles(np.arange(10.0), np.arange(10))
    >>> q.tolist()
    [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    >>> expression_quintiles(np.array([0.0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), np.arange(10))[0].tolist()
    [0, 0, 0, 0, 0, 0, 3, 3, 4, 4]
    """
    distinct = np.unique(genes)
    means = np.asarray(gene_mean, dtype=np.float64)[distinct]
    finite = means[np.isfinite(means)]
    if finite.size == 0:
        return np.zeros(len(distinct), dtype=np.int64), np.full(4, np.nan)
    edges = np.quantile(finite, [0.2, 0.4, 0.6, 0.8])
    q = np.searchsorted(edges, np.nan_to_num(means, nan=-np.inf), side="left")
    return q.astype(np.int64), edges


def interval_scores(truth: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> dict[str, float]:
    """Coverage (fraction of held-out values inside ``[lower, upper]``) and mean interval width.

    Examples
    --------
    >>> from gex_impute.tl._metrics import interval_scores
    >>> import numpy as np
    >>> interval_scores(np.array([1.0, 2.0]), np.array([0.5, 2.5]), np.array([1.5, 3.5]))
    {'coverage': 0.5, 'mean_width': 1.0}
    """
    truth = np.asarray(truth, dtype=np.float64)
    lower = np.asarray(lower, dtype=np.float64)
    upper = np.asarray(upper, dtype=np.float64)
    if truth.size == 0:
        return {"coverage": float("nan"), "mean_width": float("nan")}
    inside = (lower <= truth) & (truth <= upper)
    return {"coverage": float(inside.mean()), "mean_width": float(np.mean(upper - lower))}
