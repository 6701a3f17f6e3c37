"""Each row of a matrix estimated from the other rows: iterative ridge and XGBoost (base estimates).

:func:`ridge_rows` refits each row on the others by ridge regression (genes as observations),
:func:`tree_rows` by XGBoost over the others' values and per-gene summaries
(:func:`_tree_features`). Meant for few rows (tissues, or samples of a small cohort) and many
genes; :mod:`.bases` re-exports both.
"""

from __future__ import annotations

import numpy as np

from .arrays import nanmean
from .completion import low_rank

__all__ = ["ridge_rows", "tree_rows"]


def ridge_rows(values: np.ndarray, start: np.ndarray, *, n_iter: int = 3, alpha: float = 1e-3) -> np.ndarray:
    """Fit each row by iterative ridge regression on the other rows (genes as observations).

    ``start`` fills the missing entries at first; each pass refits every row with missing
    values on the others (all filled) over its observed columns, and refills. Raw values, not
    residuals: each row may scale the others' gene levels (a tissue's own slope).

    Returns
    -------
    The final fits; rows without an observed or without a missing value stay NaN.
    """
    obs = ~np.isnan(values)
    n, p = values.shape
    z = np.where(obs, values, start)
    fill = float(nanmean(values.ravel()[None, :], axis=1)[0]) if obs.any() else 0.0
    z = np.where(np.isnan(z), fill, z)
    out = np.full(values.shape, np.nan)
    rows = np.flatnonzero(obs.any(1) & (~obs).any(1))
    for _ in range(n_iter):
        mu = z.mean(1, keepdims=True)
        zc = z - mu
        for i in rows:
            others = np.arange(n) != i
            x = zc[others][:, obs[i]].T  # genes x other rows
            y = zc[i, obs[i]]
            gram = x.T @ x
            lam = alpha * np.trace(gram) / max(x.shape[1], 1) + 1e-9
            coef = np.linalg.solve(gram + lam * np.eye(x.shape[1]), x.T @ y)
            fit = zc[others].T @ coef + mu[i]
            out[i] = fit
            z[i] = np.where(obs[i], values[i], fit)
    return out


#: rank of the low-rank fill of the other rows' missing values in :func:`tree_rows`' features
FILL_RANK = 10


def _tree_features(others: np.ndarray, fill_rank: int = FILL_RANK) -> np.ndarray:
    """Genes x features for :func:`tree_rows`: the other rows' values, then per-gene summaries.

    The other rows' missing values are filled by a rank-``fill_rank`` completion of those rows
    alone (:func:`~.completion.low_rank`, never the row being fitted: its training targets do not
    reach its features), 0 for none. P2 validation splits 100 / 101 (``validation_p2.py``), MSE
    of the hybrid: GTEx tissue means 0.2547 / 0.2596 with NaNs (XGBoost routes them), 0.2531 /
    0.2573 filled at rank 5, 0.2525 / 0.2566 at rank 10; Blake 2020 (47 samples) 0.1050 / 0.1066
    with NaNs, 0.1030 / 0.1045 at rank 10.
    The summaries (mean, SD, maximum, minimum and number missing over the other rows, of the
    values as observed) are splits a tree would need many levels to build from the raw columns
    (the same split: the base's MSE 0.2764 -> 0.2677).
    """
    ok = ~np.isnan(others)
    n_ok = ok.sum(0)
    mean = nanmean(others, axis=0)
    sd = np.sqrt(nanmean((others - mean) ** 2, axis=0))
    high = np.where(n_ok > 0, np.where(ok, others, -np.inf).max(0), np.nan)
    low = np.where(n_ok > 0, np.where(ok, others, np.inf).min(0), np.nan)
    summary = np.column_stack([mean, sd, high, low, len(others) - n_ok])
    if fill_rank and not ok.all():
        others = np.where(ok, others, low_rank(others, [fill_rank], n_iter=3)[fill_rank])
    return np.column_stack([others.T, summary]).astype(np.float32)


def tree_rows(
    values: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    n_estimators: int = 150,
    max_depth: int = 6,
    learning_rate: float = 0.1,
    min_observed: int = 50,
    nthread: int = 1,
    seed: int = 0,
) -> np.ndarray:
    """Estimate each row's missing entries by XGBoost over the other rows (genes as observations).

    For each row: a regression of its observed values on the same genes' values in every other
    row, NaN where missing (XGBoost routes them), and their per-gene summaries
    (:func:`_tree_features`), trained on the genes observed in that row and
    applied to the genes missing there. A hidden value is never a training target of the model
    that predicts it. Meant for few rows (tissues, or samples of a small cohort) and many genes;
    nonlinear where :func:`ridge_rows` is linear (a tissue-specific gene off in one tissue, on
    in another).

    Parameters
    ----------
    values
        ``(n, p)``, NaN = missing.
    rows
        Rows to estimate (default: every row with a missing and ``min_observed`` observed values).
    n_estimators, max_depth, learning_rate
        XGBoost settings (chosen on a GTEx validation split: 150 trees of depth 6 at 0.1 gave
        a stacked P2 MSE 1% below 80 of depth 5 at 0.15).
    nthread
        Rows fitted in parallel (each booster on one thread: the result does not depend on it).

    Returns
    -------
    ``(n, p)``: estimates at the missing entries of ``rows``, NaN elsewhere.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.row_models import tree_rows
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=300)
    >>> v = np.vstack([base, 2 * base, base**2]) + 0.01 * rng.normal(size=(3, 300))
    >>> v[2, :30] = np.nan
    >>> est = tree_rows(v)
    >>> bool(np.corrcoef(est[2, :30], base[:30] ** 2)[0, 1] > 0.9)
    True
    """
    import xgboost as xgb

    obs = ~np.isnan(values)
    n, _ = values.shape
    out = np.full(values.shape, np.nan)
    if rows is None:
        rows = np.flatnonzero((~obs).any(1))
    params = {
        "tree_method": "hist",
        "max_depth": max_depth,
        "eta": learning_rate,
        "subsample": 0.8,
        "min_child_weight": 5.0,
        "max_bin": 64,
        "nthread": 1,
        "seed": seed,
        "objective": "reg:squarederror",
    }

    # one single-threaded booster per row, rows in parallel: the same boosters as one at a time,
    # and faster than each booster on ``nthread`` threads (GTEx tissue means, 8 rows, 2 threads:
    # 2.4 s against 3.0 s; one thread 4.8 s)
    def fit_row(i: int) -> None:
        train, miss = np.flatnonzero(obs[i]), np.flatnonzero(~obs[i])
        if n < 2 or len(train) < min_observed or len(miss) == 0:
            return
        x = _tree_features(np.delete(values, i, axis=0))
        booster = xgb.train(params, xgb.DMatrix(x[train], label=values[i, train], nthread=1), n_estimators)
        out[i, miss] = booster.inplace_predict(np.ascontiguousarray(x[miss]))

    if nthread > 1 and len(rows) > 1:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(nthread, len(rows))) as pool:
            list(pool.map(fit_row, [int(i) for i in rows]))  # (list: re-raises a row's error)
    else:
        for i in rows:
            fit_row(int(i))
    return out
