"""Base estimators on a samples x genes matrix (NaN = missing), vectorised for the stack.

Each returns estimates for many entries at once; the stack reads them at the entries it
predicts and XGBoost learns how far to trust each one (:mod:`.entries`, :mod:`.profiles`).
Everything here is numpy / scipy; no estimator looks at a hidden value. The low-rank
completion (:func:`low_rank`) lives in :mod:`.completion`, :func:`nanmean` in :mod:`.arrays`,
the per-row ridge and XGBoost (:func:`ridge_rows`, :func:`tree_rows`) in :mod:`.row_models`;
all are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .arrays import nanmean
from .completion import low_rank
from .row_models import ridge_rows, tree_rows

__all__ = [
    "gene_knn",
    "group_means",
    "group_sums",
    "knn_at",
    "knn_rows",
    "low_rank",
    "nan_euclidean",
    "nanmean",
    "pooled_correlation",
    "ridge_rows",
    "tissue_weights",
    "top_correlated",
    "tree_rows",
]


def group_sums(
    values: np.ndarray, codes: np.ndarray, n_groups: int, *, observed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group column sums and counts of the observed (non-NaN) values.

    A sparse one-hot product: rows are added in their order, as ``np.add.at`` would, 10x faster.
    Rows whose code is ``-1`` belong to no group. ``observed``: the caller's mask of observed
    values, ``values`` then holding 0 elsewhere (the same sums, without a pass for NaN).

    Returns
    -------
    ``(sums, counts)``, both ``(n_groups, p)`` float64.
    """
    from scipy import sparse

    obs = ~np.isnan(values) if observed is None else observed
    x = np.where(obs, values, 0.0) if observed is None else values
    ok = codes >= 0
    onehot = sparse.csr_matrix(
        (np.ones(int(ok.sum())), (codes[ok], np.flatnonzero(ok))), shape=(n_groups, values.shape[0])
    )
    if values.shape[0] >= 1 << 24:  # pragma: no cover - counts past float32's exact integers
        return np.asarray(onehot @ x), np.asarray(onehot @ obs.astype(np.float64))
    # counts are integers: exact in float32, at half the memory traffic
    counts = onehot.astype(np.float32) @ obs.astype(np.float32)
    return np.asarray(onehot @ x), np.asarray(counts, dtype=np.float64)


def group_means(
    values: np.ndarray, codes: np.ndarray, n_groups: int, *, observed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group column means over observed entries.

    Parameters
    ----------
    values
        ``(n, p)`` matrix, NaN = missing.
    codes
        ``(n,)`` group of each row (``-1``: no group).
    n_groups
        Number of groups.
    observed
        As for :func:`group_sums`: the mask of observed values, ``values`` 0 elsewhere.

    Returns
    -------
    ``(means, counts)``, both ``(n_groups, p)``; means are NaN where a group has no value.
    """
    s, c = group_sums(values, codes, n_groups, observed=observed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan), c


def pooled_correlation(
    n: np.ndarray, s_a: np.ndarray, q_a: np.ndarray, s_ab: np.ndarray, *, min_pairs: int
) -> np.ndarray:
    """Pairwise Pearson correlations from pooled sums over the entries observed in both of a pair.

    ``n[a, b]``: entries observed in both; ``s_a[a, b]`` / ``q_a[a, b]``: sum / sum of squares of
    ``a``'s values there; ``s_ab[a, b]``: sum of products. NaN with fewer than ``min_pairs``
    entries, a constant side, and on the diagonal.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a, mean_b = s_a / n, s_a.T / n
        var_a, var_b = q_a / n - mean_a**2, q_a.T / n - mean_b**2
        corr = (s_ab / n - mean_a * mean_b) / np.sqrt(var_a * var_b)
    tiny = 1e-12 * np.maximum(q_a / np.maximum(n, 1), 1e-300)
    ok = (n >= min_pairs) & (var_a > tiny) & (var_b > tiny.T)
    out = np.where(ok, np.clip(corr, -1, 1), np.nan)
    np.fill_diagonal(out, np.nan)
    return out


def top_correlated(corr: np.ndarray, n_top: int) -> np.ndarray:
    """``(n, n_top)``: per row of a square correlation matrix, the others by decreasing correlation.

    Unknown (NaN) correlations come last, and a row is never among its own: the diagonal is NaN
    like the pairs too rarely observed together, and where fewer than ``n_top`` correlations of a
    row are known a row used to rank beside itself (a tissue's own residual, the target of a
    unit's features, read as "the most correlated other tissue").

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.bases import top_correlated
    >>> corr = np.full((3, 3), np.nan)
    >>> corr[0, 1] = corr[1, 0] = 0.5
    >>> top_correlated(corr, 2)
    array([[1, 2],
           [0, 2],
           [0, 1]])
    """
    rank = np.nan_to_num(corr, nan=-2.0)
    np.fill_diagonal(rank, -np.inf)
    return np.argsort(-rank, axis=1, kind="stable")[:, :n_top]


def tissue_weights(corr: np.ndarray) -> np.ndarray:
    """Weights of the other rows of a square correlation matrix: the positive correlations.

    0 on the diagonal (a tissue never weighs itself) and where the correlation is unknown (NaN).

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.bases import tissue_weights
    >>> corr = np.array([[np.nan, 0.5, -0.2], [0.5, np.nan, np.nan], [-0.2, np.nan, np.nan]])
    >>> tissue_weights(corr)
    array([[0. , 0.5, 0. ],
           [0.5, 0. , 0. ],
           [0. , 0. , 0. ]])
    """
    w = np.clip(np.nan_to_num(corr), 0, None)
    np.fill_diagonal(w, 0)
    return w


def nan_euclidean(values: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """Rows x rows nan-Euclidean distances (scikit-learn's definition), ``float32``.

    ``inf`` where two rows share no observed column and on the diagonal.
    """
    obs = ~np.isnan(values)
    x = np.where(obs, values, 0.0).astype(np.float32)
    m = obs.astype(np.float32)
    x2 = x * x
    n, p = values.shape
    out = np.empty((n, n), dtype=np.float32)
    for a in range(0, n, chunk):
        xa, ma, x2a = x[a : a + chunk], m[a : a + chunk], x2[a : a + chunk]
        d2 = x2a @ m.T + ma @ x2.T - 2.0 * (xa @ x.T)
        common = ma @ m.T
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.sqrt(np.maximum(d2, 0) * p / common)
        d[common == 0] = np.inf
        out[a : a + chunk] = d
    np.fill_diagonal(out, np.inf)
    return out


def knn_rows(
    values: np.ndarray,
    ks: Iterable[int],
    *,
    dist: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> dict[int, np.ndarray]:
    """Estimate by kNN over rows for several ``k`` at once (``KNNImputer`` semantics, uniform weights).

    For each row and column: the mean of the column's values in the ``k`` nearest rows where
    it is observed. Only ``rows`` are filled (default: rows with something missing and
    something observed); the rest, and entries without any neighbour value, are NaN.

    Returns
    -------
    ``{k: (n, p) array}``.
    """
    ks = sorted({int(k) for k in ks})
    obs = ~np.isnan(values)
    n, p = values.shape
    if dist is None:
        dist = nan_euclidean(values)
    if rows is None:
        rows = np.flatnonzero((~obs).any(1) & obs.any(1))
    m = min(n - 1, 2 * ks[-1] + 16)
    x = np.where(obs, values, 0.0)
    out = {k: np.full((n, p), np.nan) for k in ks}
    if m <= 0 or len(rows) == 0:
        return out
    d = dist[rows]
    part = np.argpartition(d, m - 1, axis=1)[:, :m] if m < n - 1 else np.argsort(d, axis=1)[:, :m]
    for i, r in enumerate(rows):
        cand = part[i]
        cand = cand[np.argsort(dist[r, cand], kind="stable")]
        cand = cand[np.isfinite(dist[r, cand])]
        if len(cand) == 0:
            continue
        o = obs[cand]
        c = np.cumsum(o, axis=0, dtype=np.int32)
        v = x[cand]
        for k in ks:
            take = o & (c <= k)
            cnt = take.sum(0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k][r] = np.where(cnt > 0, (v * take).sum(0) / np.maximum(cnt, 1), np.nan)
    return out


def knn_at(
    values: np.ndarray,
    ks: Iterable[int],
    rows: np.ndarray,
    cols: np.ndarray,
    *,
    dist: np.ndarray,
    where: np.ndarray | None = None,
    chunk: int = 8192,
) -> dict[int, np.ndarray]:
    """:func:`knn_rows` at the entries ``(rows, cols)`` only: each row's neighbours, only its asked columns.

    The same values as ``knn_rows(values, ks, dist=dist, rows=np.unique(rows))[k][rows, cols]``
    (NaN for rows with nothing observed), at the cost of the columns asked for instead of all,
    vectorised over ``chunk`` entries at a time. ``where``: boolean per entry, only those are
    computed (the others NaN; e.g. entries of genes without data, NaN anyway).

    Returns
    -------
    ``{k: (len(rows),) array}``.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.bases import knn_at, knn_rows, nan_euclidean
    >>> v = np.array([[1.0, 2.0, np.nan], [1.5, np.nan, 3.0], [0.0, 4.0, 5.0]])
    >>> full = knn_rows(v, [1, 2])
    >>> at = knn_at(v, [1, 2], np.array([0, 1]), np.array([2, 1]), dist=nan_euclidean(v))
    >>> [at[k].tolist() == [full[k][0, 2], full[k][1, 1]] for k in (1, 2)]
    [True, True]
    """
    ks = sorted({int(k) for k in ks})
    n = values.shape[0]
    out = {k: np.full(len(rows), np.nan) for k in ks}
    if where is not None:
        chosen = np.flatnonzero(where)
        for k, est in knn_at(values, ks, rows[chosen], cols[chosen], dist=dist, chunk=chunk).items():
            out[k][chosen] = est
        return out
    m = min(n - 1, 2 * ks[-1] + 16)
    if m <= 0 or len(rows) == 0:
        return out
    uniq, row_of = np.unique(rows, return_inverse=True)
    d = dist[uniq]
    part = np.argpartition(d, m - 1, axis=1)[:, :m] if m < n - 1 else np.argsort(d, axis=1)[:, :m]
    # each row's candidates by distance (stable), as knn_rows orders them; unreachable ones last
    d_part = np.take_along_axis(d, part, 1)
    order = np.argsort(d_part, axis=1, kind="stable")
    cand = np.take_along_axis(part, order, 1)
    reach = np.isfinite(np.take_along_axis(d_part, order, 1))
    reach &= (~np.isnan(values[uniq])).any(1)[:, None]  # rows with nothing observed: NaN
    for a in range(0, len(rows), chunk):
        sel = slice(a, a + chunk)
        i, col = row_of[sel], cols[sel]
        v = values[cand[i], col[:, None]]  # (entries, m): the column in each candidate, nearest first
        o = ~np.isnan(v) & reach[i]
        c = np.cumsum(o, axis=1, dtype=np.int32)
        # running sums in knn_rows' order: the sum of the first k observed values is the running
        # sum at the k-th observed candidate (later terms of knn_rows' sum are zeros)
        run = np.cumsum(np.where(o, v, 0.0), axis=1)
        entry = np.arange(len(run))
        for k in ks:
            cnt = np.minimum(c[:, -1], k)
            total = run[entry, np.minimum((c < k).sum(1), m - 1)]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[k][sel] = np.where(cnt > 0, total / np.maximum(cnt, 1), np.nan)
    return out


def _top_eigenvectors(gram: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``r`` largest eigenvalues of a symmetric matrix and their eigenvectors (ascending)."""
    from scipy import linalg

    m = len(gram)
    try:
        return linalg.eigh(gram, subset_by_index=[m - r, m - 1], driver="evr")
    except (linalg.LinAlgError, ValueError):  # pragma: no cover - syevr failing to converge
        vals, vecs = np.linalg.eigh(gram)
        return vals[-r:], vecs[:, -r:]


def gene_knn(values: np.ndarray, k: int = 20, *, n_pcs: int = 32, chunk: int = 1024) -> np.ndarray:
    """Each gene's ``k`` most similar genes (Euclidean over samples after PCA, NaN filled by the row mean).

    Samples without data do not enter (their rows would be 0 after centring), and only the
    top ``n_pcs`` eigenvectors of the samples' Gram matrix are computed (LAPACK ``syevr``):
    the same components as a full eigendecomposition with all rows, up to rounding (simulated
    speed cohort: the same neighbours, in the same order, at every call), at a third of its time.

    Returns
    -------
    ``(p, k)`` gene indices, ``-1`` for genes never observed (and when too few genes are).
    """
    obs = ~np.isnan(values)
    p = values.shape[1]
    cand = np.flatnonzero(obs.any(0))
    out = np.full((p, k), -1, dtype=np.int64)
    if len(cand) <= k:
        return out
    x = values[np.ix_(obs.any(1), cand)]
    mu = nanmean(x, axis=1)[:, None]
    z = np.where(np.isnan(x), mu, x)
    z = z - z.mean(1, keepdims=True)
    m = len(z)
    if m > n_pcs:
        _, vecs = _top_eigenvectors(z @ z.T, n_pcs)
        z = vecs.T @ z
    z = z.astype(np.float32)
    sq = (z**2).sum(0)
    for a in range(0, len(cand), chunk):
        q = np.arange(a, min(a + chunk, len(cand)))
        d = sq[q][:, None] + sq[None, :] - 2.0 * (z[:, q].T @ z)
        d[np.arange(len(q)), q] = np.inf
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        out[cand[q]] = cand[part]
    return out
