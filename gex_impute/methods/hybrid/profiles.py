"""Leave-one-profile-out features of whole donor x tissue profiles (absent samples).

Works on the cube ``Y`` (donors, tissues, genes) of profile means. Every feature of an entry
``(d, t, g)`` uses only the other donors' profiles and donor ``d``'s profiles in the other
tissues (tissue means, residuals and principal components are computed without donor
``d``). Features of observed profiles (training rows) and of absent profiles (prediction
rows) therefore come from one distribution without extra masking, and nothing of ``Y[d, t]``
leaks into its own features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bases import group_means, nanmean
from .entries import tissue_correlation
from .masking import Layout

__all__ = ["ProfileFeatures"]


class ProfileFeatures:
    """Leave-one-profile-out base estimates and context for the units of one cohort.

    Parameters
    ----------
    values
        ``(n, p)`` samples x genes, NaN = missing (model scale).
    layout
        Tissue and donor codes of the samples (donors required).
    ks
        k of the kNN over donors (distance from the donor's other tissues).
    n_top
        The donor's residuals in this many most correlated other tissues become features.
    k_similar
        Donors whose mean residual profile gives the donor's deviation.
    pca_ranks
        Ranks of the regression of the donor's other tissues on the other donors' components.
    """

    def __init__(
        self,
        values: np.ndarray,
        layout: Layout,
        *,
        ks: tuple[int, ...] = (1, 2, 3, 5, 10),
        n_top: int = 5,
        k_similar: int = 3,
        pca_ranks: tuple[int, ...] = (2, 5, 10),
        alpha: float = 1.0,
    ):
        assert layout.donor is not None
        n_d, n_t = layout.n_donors, layout.n_tissues
        p = values.shape[1]
        self.n_donors, self.n_tissues, self.n_genes = n_d, n_t, p
        cube, _ = group_means(values, layout.unit, n_d * n_t)
        cube = cube.reshape(n_d, n_t, p)
        obs = ~np.isnan(cube)
        self.cube, self.obs = cube, obs
        self.cube0 = np.where(obs, cube, 0.0)
        self.unit_observed = obs.any(2)
        self.sum_t, self.count_t = self.cube0.sum(0), obs.sum(0)  # (T, p)
        self.sum_g, self.count_g = self.cube0.sum((0, 1)), obs.sum((0, 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            tm = np.where(self.count_t > 0, self.sum_t / np.maximum(self.count_t, 1), np.nan)
        resid = cube - tm[None]
        self.corr = tissue_correlation(resid)  # a T x T summary over all donors and genes
        w = np.clip(np.nan_to_num(self.corr), 0, None)
        np.fill_diagonal(w, 0)
        self.weights = w
        self.n_top = min(n_top, n_t - 1)
        self.top = np.argsort(-np.nan_to_num(self.corr, nan=-2.0), axis=1)[:, : self.n_top]
        # per-tissue squared distances between donors (differences of Y: reference-free)
        s2 = np.zeros((n_t, n_d, n_d))
        c2 = np.zeros((n_t, n_d, n_d))
        r0 = np.where(obs, resid, 0.0)
        for a in range(n_t):
            x, m = r0[:, a], obs[:, a].astype(float)
            x2 = x * x
            s2[a] = x2 @ m.T + m @ x2.T - 2 * x @ x.T
            c2[a] = m @ m.T
        self.s2, self.c2 = np.maximum(s2, 0), c2
        self.s2_total, self.c2_total = self.s2.sum(0), c2.sum(0)
        self.ks = tuple(sorted(ks))
        self.k_similar = k_similar
        self.pca_ranks = tuple(r for r in pca_ranks if r <= max(1, (n_d - 1) // 3))
        self.alpha = alpha
        self._donor: tuple[int, dict[str, Any]] | None = None

    def _without_donor(self, d: int) -> dict[str, Any]:
        """Tissue means, residuals of everyone and PC scores of the columns, all without donor ``d``."""
        if self._donor is not None and self._donor[0] == d:
            return self._donor[1]
        n_d, n_t, p = self.n_donors, self.n_tissues, self.n_genes
        with np.errstate(invalid="ignore", divide="ignore"):
            n = self.count_t - self.obs[d]
            tm = np.where(n > 0, (self.sum_t - self.cube0[d]) / np.maximum(n, 1), np.nan)  # (T, p)
            ng = self.count_g - self.obs[d].sum(0)
            gm = np.where(ng > 0, (self.sum_g - self.cube0[d].sum(0)) / np.maximum(ng, 1), np.nan)
        tm_f = np.where(np.isnan(tm), gm[None], tm)
        resid = (self.cube - tm_f[None]).astype(np.float32)
        r0 = np.where(self.obs, resid, np.float32(0))
        others = np.arange(n_d) != d
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.where(n > 1, np.sqrt((r0[others] ** 2).sum(0) / np.maximum(n - 1, 1)), np.nan)
        scores = None
        if self.pca_ranks:
            x = r0[others].reshape(n_d - 1, n_t * p)
            xc = x - x.mean(1, keepdims=True)
            _, vecs = np.linalg.eigh(xc @ xc.T)
            scores = xc.T @ vecs[:, ::-1][:, : max(self.pca_ranks)]  # (T*p, r)
        prep = {
            "tm": tm,
            "tm_f": tm_f,
            "gm": gm,
            "n": n,
            "resid": resid,
            "r0": r0,
            "sd": sd,
            "scores": scores,
        }
        self._donor = (d, prep)
        return prep

    def _distances_without(self, d: int, t: int) -> np.ndarray:
        s = self.s2_total[d] - self.s2[t, d]
        c = self.c2_total[d] - self.c2[t, d]
        with np.errstate(invalid="ignore", divide="ignore"):
            dist = np.where(c > 0, s / np.maximum(c, 1), np.inf)
        dist[d] = np.inf
        return dist

    def unit_features(self, d: int, t: int) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
        """Features of every gene of unit ``(d, t)``.

        Returns
        -------
        ``(x, names, bases)``: ``(p, F)`` float32 features, their names, and the base
        estimates (name -> ``(p,)``).
        """
        prep = self._without_donor(d)
        p, n_t = self.n_genes, self.n_tissues
        resid, r0, tm, tm_f = prep["resid"], prep["r0"], prep["tm"], prep["tm_f"]
        feats: list[np.ndarray] = []
        names: list[str] = []

        def add(name: str, v: Any) -> None:
            feats.append(np.broadcast_to(np.asarray(v, dtype=np.float32), (p,)))
            names.append(name)

        add("tissue_mean", tm[t])
        add("tissue_n", prep["n"][t])
        add("gene_mean", prep["gm"])
        add("tissue_resid_sd", prep["sd"][t])
        add("tissue", float(t))
        mine = self.obs[d].copy()
        mine[t] = False
        nd = mine.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            add("donor_offset", np.where(nd > 0, np.where(mine, r0[d], 0).sum(0) / np.maximum(nd, 1), np.nan))
            add("donor_offset_n", nd)
            den = self.weights[t] @ mine.astype(float)
            num = self.weights[t] @ np.where(mine, r0[d], 0)
            add("donor_offset_weighted", np.where(den > 1e-9, num / np.maximum(den, 1e-9), np.nan))
        add("donor_similar_tissue_corr", np.max(np.where(np.isnan(self.corr[t]), -1, self.corr[t])))
        for i in range(self.n_top):
            tt = self.top[t, i]
            add(f"donor_resid_tissue_rank{i}", np.where(mine[tt], resid[d, tt], np.nan))
        bases = {"tissue_mean": tm_f[t]}
        if prep["scores"] is not None:
            y = r0[d].reshape(n_t * p)
            train = mine.reshape(n_t * p)
            target = slice(t * p, (t + 1) * p)
            for r in self.pca_ranks:
                est = np.full(p, np.nan)
                if train.sum() >= 10:
                    z = prep["scores"][:, :r]
                    a = np.column_stack([np.ones(int(train.sum())), z[train]])
                    pen = self.alpha * np.eye(r + 1)
                    pen[0, 0] = 0
                    coef = np.linalg.solve(a.T @ a + pen, a.T @ y[train])
                    est = coef[0] + z[target] @ coef[1:]
                add(f"pca_regression_donors_r{r}", tm_f[t] + est)
                bases[f"pca_regression_donors_r{r}"] = tm_f[t] + est
        dist = self._distances_without(d, t)
        cand = np.flatnonzero(self.unit_observed[:, t] & np.isfinite(dist))
        cand = cand[np.argsort(dist[cand], kind="stable")]
        if len(cand):
            o = self.obs[cand, t]
            c = np.cumsum(o, axis=0)
            v = self.cube0[cand, t]
            for k in self.ks:
                take = o & (c <= k)
                cnt = take.sum(0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    est = np.where(cnt > 0, (v * take).sum(0) / np.maximum(cnt, 1), np.nan)
                add(f"knn_donors_k{k}", est)
                bases[f"knn_donors_k{k}"] = est
            dev = resid[d] - nanmean(resid[cand[: self.k_similar]], axis=0)  # (T, p): reference cancels
            add("donor_dev_from_similar", nanmean(np.where(mine, dev, np.nan), axis=0))
            add("nearest_donor_dist", dist[cand[0]])
            for j in (1, 2, 3):
                ratio = np.sqrt(dist[cand[j]] / max(dist[cand[0]], 1e-12)) if len(cand) > j else np.nan
                add(f"donor_dist_ratio_{j + 1}", ratio)
        else:
            for k in self.ks:
                add(f"knn_donors_k{k}", np.nan)
                bases[f"knn_donors_k{k}"] = np.full(p, np.nan)
            add("donor_dev_from_similar", np.nan)
            add("nearest_donor_dist", np.nan)
            for j in (1, 2, 3):
                add(f"donor_dist_ratio_{j + 1}", np.nan)
        return np.column_stack(feats), names, bases
