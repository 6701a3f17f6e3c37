"""Expression summaries that the hybrid's context features read.

Per-donor tissue sums, donor similarity, tissue correlation, a low-rank reconstruction and
each gene's expression neighbours.

Pure numpy; every function works on a samples x genes matrix with NaN for missing entries.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "Groups",
    "donor_similarity",
    "gene_knn",
    "group_tissue_sums",
    "low_rank_reconstruction",
    "nanmean_rows",
    "tissue_correlation",
]


class Groups:
    """Samples grouped by donor (one group when donors are unknown), with tissue codes."""

    def __init__(self, tissue_codes: np.ndarray, donor_codes: np.ndarray | None, n_tissues: int):
        self.tissue = np.asarray(tissue_codes, dtype=np.int64)
        n = len(self.tissue)
        self.group = np.zeros(n, np.int64) if donor_codes is None else np.asarray(donor_codes, np.int64)
        self.has_donor = donor_codes is not None
        self.n_tissues = n_tissues
        self.n_groups = int(self.group.max()) + 1 if n else 0
        self.members = [np.flatnonzero(self.group == d) for d in range(self.n_groups)]


def group_tissue_sums(values: np.ndarray, groups: Groups) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of observed values per (group, tissue, gene)."""
    obs = ~np.isnan(values)
    x = np.where(obs, values, 0.0)
    shape = (groups.n_groups, groups.n_tissues, values.shape[1])
    s = np.zeros(shape)
    c = np.zeros(shape)
    np.add.at(s, (groups.group, groups.tissue), x)
    np.add.at(c, (groups.group, groups.tissue), obs)
    return s, c


def donor_similarity(values: np.ndarray, groups: Groups, tissue_mean: np.ndarray) -> np.ndarray:
    """Donor x donor similarity: mean correlation of residual profiles over shared tissues."""
    s, c = group_tissue_sums(values, groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = s / c  # (D, T, G)
    resid = prof - tissue_mean[None]
    n_d = groups.n_groups
    sim_sum = np.zeros((n_d, n_d))
    sim_n = np.zeros((n_d, n_d))
    for t in range(groups.n_tissues):
        r = resid[:, t, :]
        ok = ~np.isnan(r)
        for a in range(n_d):
            for b in range(a + 1, n_d):
                both = ok[a] & ok[b]
                if both.sum() < 10:
                    continue
                ra, rb = r[a, both], r[b, both]
                sa, sb = ra.std(), rb.std()
                if sa == 0 or sb == 0:
                    continue
                cc = float(np.mean((ra - ra.mean()) * (rb - rb.mean())) / (sa * sb))
                sim_sum[a, b] += cc
                sim_sum[b, a] += cc
                sim_n[a, b] += 1
                sim_n[b, a] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(sim_n > 0, sim_sum / sim_n, np.nan)
    np.fill_diagonal(sim, np.nan)
    return sim


def low_rank_reconstruction(values: np.ndarray, *, rank: int | None = None, n_iter: int = 25) -> np.ndarray:
    """Reconstruct ``values`` by iterative rank-``rank`` SVD of ``values`` (NaN for genes never observed).

    Missing entries start at the gene's mean and are replaced by the reconstruction at every
    step; observed entries stay fixed.
    """
    obs = ~np.isnan(values)
    n_s, n_g = values.shape
    cols = obs.any(axis=0)
    out = np.full(values.shape, np.nan)
    if n_s < 3 or cols.sum() < 3:
        return out
    x = values[:, cols]
    o = obs[:, cols]
    with np.errstate(invalid="ignore"):
        mu = np.nanmean(x, axis=0)
    z = np.where(o, x, mu)
    r = rank or max(1, min(10, n_s // 4))
    r = min(r, n_s - 1)
    for _ in range(n_iter):
        # top-r left singular vectors from the small samples x samples Gram matrix
        row_mean = z.mean(axis=1, keepdims=True)
        zc = z - row_mean
        _, vecs = np.linalg.eigh(zc @ zc.T)
        u = vecs[:, -r:]
        recon = u @ (u.T @ zc) + row_mean
        z = np.where(o, x, recon)
    out[:, cols] = recon
    return out


def gene_knn(filled: np.ndarray, query: np.ndarray, k: int = 20, chunk: int = 1024) -> np.ndarray:
    """Find the ``k`` genes closest to each ``query`` gene in expression profile (Euclidean).

    ``filled`` is a complete samples x genes matrix (NaN columns = genes never observed, never
    neighbours nor answered). With many samples the profiles are first reduced to 32 principal
    components. Returns ``(n_genes, k)`` gene indices, -1 for genes not queried or without data.
    """
    n_s, n_g = filled.shape
    out = np.full((n_g, k), -1, dtype=np.int64)
    ok = ~np.isnan(filled).any(axis=0)
    cand = np.flatnonzero(ok)
    query = query[ok[query]]
    if len(cand) <= 1 or len(query) == 0:
        return out
    z = filled[:, cand]
    if n_s > 32:
        zc = z - z.mean(axis=1, keepdims=True)
        _, vecs = np.linalg.eigh(zc @ zc.T)
        z = vecs[:, -32:].T @ zc
    z = z.astype(np.float32)
    sq = (z**2).sum(axis=0)
    pos = np.full(n_g, -1)
    pos[cand] = np.arange(len(cand))
    kk = min(k, len(cand) - 1)
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk]
        qp = pos[q]
        d = sq[qp][:, None] + sq[None, :] - 2.0 * (z[:, qp].T @ z)
        d[np.arange(len(q)), qp] = np.inf  # never its own neighbour
        part = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        out[q, :kk] = cand[part]
    return out


def nanmean_rows(a: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN; NaN (without a warning) for rows with no value."""
    ok = ~np.isnan(a)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, a, 0).sum(axis=1) / np.maximum(n, 1), np.nan)


def tissue_correlation(values: np.ndarray, groups: Groups, gmean: np.ndarray) -> np.ndarray:
    """Tissue x tissue correlation of gene residuals (value - gene mean); NaN on the diagonal."""
    n_t = groups.n_tissues
    s, c = group_tissue_sums(values, groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = s.sum(0) / c.sum(0)  # (T, G) tissue means
    res = prof - gmean[None]
    ok = ~np.isnan(res)
    out = np.full((n_t, n_t), np.nan)
    for a in range(n_t):
        for b in range(a + 1, n_t):
            both = ok[a] & ok[b]
            if both.sum() < 10:
                continue
            ra, rb = res[a, both], res[b, both]
            sa, sb = ra.std(), rb.std()
            if sa > 0 and sb > 0:
                out[a, b] = out[b, a] = float(np.mean((ra - ra.mean()) * (rb - rb.mean())) / (sa * sb))
    return out
