"""Low-rank completion of a samples x genes matrix (NaN = missing): a base estimate of the stack.

:func:`low_rank` (re-exported by :mod:`.bases`) completes the matrix by iterative SVD (hard
impute): every pass takes the top components of the column-centred completion and refills the
missing entries from their projection. The components come from an eigendecomposition of the
smaller Gram matrix up to 400 rows or columns, else from a randomized SVD
(:func:`_randomized_left_vectors`: the computation of scikit-learn's ``randomized_svd`` with
two power iterations, without its input checks and the parts the projection does not need).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .arrays import nanmean

__all__ = ["low_rank"]

#: Gram matrices up to this size are decomposed exactly; larger ones by a randomized SVD
EXACT_MAX = 400
#: hard-impute passes of :func:`low_rank` (default). 3 (was 10), chosen on validation sims (the speed
#: cohort's shape, seeds 100 / 101; 1, 2, 3, 5, 10 tried): all missing entries MSE 0.44537 / 0.41460
#: -> 0.44531 / 0.41459, scattered entries 0.09877 / 0.09593 -> 0.09735 / 0.09558 (absent profiles
#: and whole genes do not use it: unchanged); 70% less of its time
N_ITER = 3
#: the randomized SVD: extra random directions and power iterations (scikit-learn's settings)
N_OVERSAMPLES = 10
N_POWER_ITER = 2


def _randomized_left_vectors(
    zc: np.ndarray, r: int, seed: int, gauss: dict[tuple[int, int, int], np.ndarray]
) -> np.ndarray:
    """Top ``r`` left singular vectors of ``zc`` by a randomized SVD, up to their signs.

    The values of ``sklearn.utils.extmath.randomized_svd(zc, r, n_oversamples=10, n_iter=2,
    random_state=seed)[0]`` (scikit-learn 1.9: no normalisation between the two power
    iterations, the wide matrix transposed) but for the sign of each vector, which the
    projection ``u @ (u.T @ zc)`` does not see (bitwise: negating a vector negates both
    factors of each of its products). Without that function's input checks (a pass over
    ``zc`` for non-finite values), sign flips and the other side's vectors. ``gauss``: the
    random starting matrices by ``(rows, size, seed)``, drawn once per completion (each pass
    draws the same one).
    """
    from scipy import linalg

    n, p = zc.shape
    transpose = n < p
    a = zc.T if transpose else zc
    key = (a.shape[1], r + N_OVERSAMPLES, seed)
    q = gauss.get(key)
    if q is None:
        q = gauss[key] = np.random.RandomState(seed).normal(size=(a.shape[1], r + N_OVERSAMPLES))
    for _ in range(N_POWER_ITER):
        q = a @ q
        q = a.T @ q
    q, _ = linalg.qr(a @ q, mode="economic", check_finite=False)
    uhat, _, vt = linalg.svd(q.T @ a, full_matrices=False, lapack_driver="gesdd")
    if transpose:
        return vt[:r].T
    return (q @ uhat)[:, :r]


def _top_components(
    zc: np.ndarray, r: int, seed: int, gauss: dict[tuple[int, int, int], np.ndarray]
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(u, None)``: top ``r`` left vectors of ``zc``, or ``(None, v)``: right ones (exact, few columns)."""
    n, p = zc.shape
    if min(n, p) <= EXACT_MAX:
        if n <= p:
            _, vecs = np.linalg.eigh(zc @ zc.T)
            return vecs[:, ::-1][:, :r], None
        _, vecs = np.linalg.eigh(zc.T @ zc)
        return None, vecs[:, ::-1][:, :r]
    return _randomized_left_vectors(zc, r, seed, gauss), None


def _project(
    zc: np.ndarray, u: np.ndarray | None, v: np.ndarray | None, r: int, out: np.ndarray | None = None
) -> np.ndarray:
    """``zc`` projected on its top ``r`` components (``u``: left vectors, else ``v``: right ones).

    ``out``: a C-contiguous array of ``zc``'s shape to write into (the same product).
    """
    if u is not None:
        return np.matmul(u[:, :r], u[:, :r].T @ zc, out=out)
    assert v is not None
    return np.matmul(zc @ v[:, :r], v[:, :r].T, out=out)


def low_rank(
    values: np.ndarray,
    ranks: Sequence[int],
    *,
    n_iter: int | None = None,
    seed: int = 0,
    at: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[int, np.ndarray]:
    """Complete by iterative SVD (hard impute at the largest rank, column-centred).

    ``n_iter`` passes (default :data:`N_ITER`), each refilling the missing entries.

    Returns
    -------
    ``{rank: reconstruction}`` for every rank in ``ranks`` (projections of the completed
    matrix on its top components). Rows and columns without an observed value stay NaN.
    With ``at=(rows, cols)``: ``{rank: (len(rows),) values}``, the reconstruction at those
    entries only (the same values, without filling whole matrices).

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.completion import low_rank
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=(40, 2)) @ rng.normal(size=(2, 30))
    >>> v = truth.copy()
    >>> v[rng.random(v.shape) < 0.1] = np.nan
    >>> est = low_rank(v, [2], n_iter=30)[2]
    >>> bool(np.abs(est - truth)[np.isnan(v)].max() < 0.05)
    True
    """
    ranks = sorted({int(r) for r in ranks})
    obs = ~np.isnan(values)
    rows, cols = obs.any(1), obs.any(0)
    shape = values.shape if at is None else (len(at[0]),)
    out = {r: np.full(shape, np.nan) for r in ranks}
    # the rows and columns with data (whole rows when every column has some: a cheaper copy); C order
    # as ``values[np.ix_(rows, cols)]`` (``values[rows][:, cols]`` is in F order: other sums' order)
    x = values[rows] if cols.all() else np.compress(cols, values[rows], axis=1)
    o = ~np.isnan(x)
    n, p = x.shape
    if n < 3 or p < 3 or not ranks:
        return out
    mu = nanmean(x, axis=0)
    z = np.where(o, x, mu)
    rmax = max(1, min(ranks[-1], n - 1, p - 1))
    gauss: dict[tuple[int, int, int], np.ndarray] = {}
    zc = np.empty_like(z)
    for _ in range(N_ITER if n_iter is None else n_iter):
        cm = z.mean(0)
        np.subtract(z, cm, out=zc)
        u, v = _top_components(zc, rmax, seed, gauss)
        z = _project(zc, u, v, rmax, out=z)  # z is spent (centred into zc): its memory reused
        z += cm
        np.copyto(z, x, where=o)  # observed entries kept, missing ones from the projection
    cm = z.mean(0)
    np.subtract(z, cm, out=zc)
    u, v = _top_components(zc, rmax, seed, gauss)
    if at is not None:  # the entries asked for whose row and column have data
        ok = rows[at[0]] & cols[at[1]]
        i, j = (np.cumsum(m)[a[ok]] - 1 for m, a in ((rows, at[0]), (cols, at[1])))
    for r in ranks:
        est = _project(zc, u, v, min(r, rmax), out=z)  # (read before the next rank overwrites it)
        if at is None:
            est += cm
            out[r][rows if cols.all() else np.ix_(rows, cols)] = est
        else:
            out[r][ok] = est[i, j] + cm[j]
    return out
