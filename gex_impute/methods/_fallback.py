"""The fallback every baseline shares, and small helpers of the baselines.

Fallback
--------
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

import numpy as np

from .._data import ExpressionData

__all__ = [
    "fallback_rows",
    "fallback_statistics",
    "fallback_values",
    "filled_mean",
    "finalise",
    "group_nanmean",
    "nanmean_axis",
    "pearson",
    "unservable",
]


def group_nanmean(
    values: np.ndarray, codes: np.ndarray, n_groups: int, *, chunk_rows: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (rows grouped by ``codes``) mean of each column over observed entries.

    Rows are summed group by group, ``chunk_rows`` at a time (memory: one chunk, whatever the
    size of ``values``; time: one pass over it). Rows with a negative code belong to no group.

    Returns the ``(n_groups, n_cols)`` means (NaN where a group has no observation) and counts.
    """
    codes = np.asarray(codes)
    sums = np.zeros((n_groups, values.shape[1]))
    counts = np.zeros((n_groups, values.shape[1]))
    valid = np.flatnonzero(codes >= 0)
    order = valid[np.argsort(codes[valid], kind="stable")]
    for start in range(0, len(order), chunk_rows):
        rows = order[start : start + chunk_rows]
        block = np.array(values[rows], dtype=np.float64)
        observed = ~np.isnan(block)
        block[~observed] = 0.0
        group = codes[rows]
        first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        sums[group[first]] += np.add.reduceat(block, first, axis=0)
        counts[group[first]] += np.add.reduceat(observed, first, axis=0, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return means, counts


def nanmean_axis(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over ``axis`` ignoring NaN; NaN (without a warning) where nothing is observed."""
    observed = ~np.isnan(values)
    return filled_mean(np.where(observed, values, 0.0), observed, axis)


def filled_mean(filled: np.ndarray, observed: np.ndarray, axis: int) -> np.ndarray:
    """:func:`nanmean_axis` from ``filled`` (the values with 0 where not observed) and ``observed``.

    For callers that already hold both (the same sums, without a pass over the values for NaN).
    """
    counts = observed.sum(axis=axis)
    sums = filled.sum(axis=axis)
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
    >>> from gex_impute.methods._fallback import fallback_values
    >>> from gex_impute._data import ExpressionData
    >>> values = np.array([[1.0, np.nan], [3.0, 4.0]])
    >>> data = ExpressionData(values, pd.Categorical(["a", "a"]), None, pd.DataFrame(index=["s1", "s2"]),
    ...                       pd.DataFrame(index=["g1", "g2"]))
    >>> float(fallback_values(data)[0, 1])
    4.0
    """
    values = data.values
    tissue_codes = np.asarray(data.tissue.codes)
    n_tissues = len(data.tissue.categories)
    tissue_gene, _ = group_nanmean(values, tissue_codes, n_tissues)
    out = tissue_gene[tissue_codes]  # level 1
    gene_mean = nanmean_axis(values, axis=0)  # level 2
    out = np.where(np.isnan(out), gene_mean[None, :], out)
    sample_mean = nanmean_axis(values, axis=1)  # level 3
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


def fallback_statistics(data: ExpressionData) -> dict[str, np.ndarray | float]:
    """Return what the fallback of levels 1, 2, 4 and 5 needs from ``data`` (see :func:`fallback_rows`).

    One pass over ``data`` (per-tissue gene sums and counts), no temporary of its size.
    """
    tissue_gene, counts = group_nanmean(
        data.values, np.asarray(data.tissue.codes), len(data.tissue.categories)
    )
    sums = np.where(counts > 0, tissue_gene, 0.0) * counts

    def ratio(total: np.ndarray, n: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / np.maximum(n, 1), np.nan)

    return {
        "tissue_gene": tissue_gene,
        "gene": ratio(sums.sum(axis=0), counts.sum(axis=0)),
        "tissue": ratio(sums.sum(axis=1), counts.sum(axis=1)),
        "global": float(sums.sum() / counts.sum()) if counts.sum() else 0.0,
    }


def fallback_rows(values: np.ndarray, tissue_codes: np.ndarray, stats: dict) -> np.ndarray:
    """Return the fallback of rows ``values`` (of tissues ``tissue_codes``) from :func:`fallback_statistics`.

    Equals the rows of :func:`fallback_values` of the data the statistics come from, with
    these rows in it (all-missing rows appended to it change none of the statistics).
    """
    out = stats["tissue_gene"][tissue_codes]
    out = np.where(np.isnan(out), stats["gene"][None, :], out)
    out = np.where(np.isnan(out), nanmean_axis(values, axis=1)[:, None], out)
    out = np.where(np.isnan(out), stats["tissue"][tissue_codes][:, None], out)
    return np.where(np.isnan(out), stats["global"], out)


def finalise(
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


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r of two vectors; NaN when either is constant or shorter than two."""
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def unservable(data: ExpressionData) -> np.ndarray:
    """Entries whose gene is never observed or whose sample has no observed value."""
    observed = data.observed
    gene_seen = np.asarray(observed.any(axis=0))
    sample_seen = np.asarray(observed.any(axis=1))
    return (~gene_seen)[None, :] | (~sample_seen)[:, None]
