"""The feature columns of one donor x tissue unit, from what every unit of its donor shares.

:class:`DonorContext` prepares a donor once (leave-donor-out tissue and gene means, residual
spreads, its residuals, component scores without it); :func:`unit_columns` turns it into the
feature columns (:meth:`~.profiles.ProfileFeatures.names` order) and base estimates of one unit
``(d, t)``: tissue-correlation weighted residuals, ridge on the donor components, kNN over the
donors nearest in the other tissues, the donor's deviation from its most similar donors, and
the donor effect (the similar donors' 1 / distance weighted mean at ``t`` plus that deviation
times a per-gene coefficient estimated without the donor, :mod:`.profile_effect`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .arrays import nanmean

if TYPE_CHECKING:
    from .profiles import DonorScores, ProfileFeatures

__all__ = ["DonorContext", "similar_donors", "similar_sums", "unit_columns", "weighted_reference"]


@dataclass
class DonorContext:
    """What every unit of one donor shares: leave-donor-out references and its residuals."""

    d: int
    yd: np.ndarray  # (T, p) the donor's profiles, NaN where absent
    obs: np.ndarray  # (T, p) observed
    n: np.ndarray  # (T, p) other donors' counts
    tm: np.ndarray  # (T, p) tissue means without the donor (NaN where none)
    tm_f: np.ndarray  # the same, gene means where none
    gm: np.ndarray  # (p,) gene means without the donor
    sd: np.ndarray  # (T, p) residual sd of the other donors
    resid: np.ndarray  # (T, p) the donor's residuals (NaN where not observed)
    r0: np.ndarray  # the same, 0 where not observed
    r_sum: np.ndarray  # (p,) sum of r0 over tissues
    r_count: np.ndarray  # (p,) observed tissues
    w_num: np.ndarray  # (T, p) tissue-correlation weighted sums of r0
    w_den: np.ndarray  # (T, p) and of the weights
    corr: np.ndarray  # (T, T) tissue correlation without the donor
    top: np.ndarray  # (T, n_top) each tissue's most correlated others, by ``corr``
    scores: DonorScores | None  # component scores without the donor, per tissue on demand
    gram: np.ndarray | None  # (r + 1, r + 1) [1, scores] cross products over observed entries
    rhs: np.ndarray | None  # (r + 1,) [1, scores] x r0 over observed entries
    #: similar donors -> (tissues, deviations (0 where NaN), observed, their sum and count over tissues)
    deviations: dict[tuple[int, ...], tuple[np.ndarray, ...]] = field(default_factory=dict)
    coef: np.ndarray | None = None  # (p,) per-gene donor-effect coefficients without the donor

    @classmethod
    def build(cls, pf: ProfileFeatures, d: int) -> DonorContext:
        """Prepare donor ``d`` from the cohort totals, its own contribution subtracted."""
        yd = pf.units.donor(d).astype(np.float64)
        obs = ~np.isnan(yd)
        y0 = np.where(obs, yd, 0.0)
        n = pf.count_t - obs
        with np.errstate(invalid="ignore", divide="ignore"):
            s1 = pf.sum_t - y0
            tm = np.where(n > 0, s1 / np.maximum(n, 1), np.nan)
            ng = pf.count_g - obs.sum(0)
            gm = np.where(ng > 0, (pf.sum_g - y0.sum(0)) / np.maximum(ng, 1), np.nan)
            ss = pf.sq_t - y0 * y0 - np.where(n > 0, s1 * s1 / np.maximum(n, 1), 0.0)
            sd = np.where(n > 1, np.sqrt(np.maximum(ss, 0) / np.maximum(n - 1, 1)), np.nan)
        tm_f = np.where(np.isnan(tm), gm[None], tm)
        resid = yd - tm_f
        r0 = np.where(obs, resid, 0.0)
        scores = pf._scores_without(d, tm_f, obs, yd) if pf.pca_ranks else None
        # the regression sums and coefficients of a donor, kept by pf (prepared at fit and predict)
        kept = pf._donor_kept.get(d)
        if kept is None:
            gram = rhs = None
            if scores is not None:
                a = scores.observed().astype(np.float64)
                gram = np.empty((a.shape[1] + 1, a.shape[1] + 1))
                gram[0, 0], gram[0, 1:] = len(a), a.sum(0)
                gram[1:, 0], gram[1:, 1:] = gram[0, 1:], a.T @ a
                y = r0[obs]
                rhs = np.concatenate([[y.sum()], a.T @ y])
            kept = pf.keep_donor(d, gram, rhs, pf.effects().coefficients(d) if pf.use_effects else None)
        gram, rhs, coef = kept
        corr, weights, top = pf.correlation_without(d)
        return cls(
            d=d,
            yd=yd,
            obs=obs,
            n=n,
            tm=tm,
            tm_f=tm_f,
            gm=gm,
            sd=sd,
            resid=np.where(obs, resid, np.nan),
            r0=r0,
            r_sum=r0.sum(0),
            r_count=obs.sum(0),
            w_num=weights @ r0,
            w_den=weights @ obs.astype(np.float64),
            corr=corr,
            top=top,
            scores=scores,
            gram=gram,
            rhs=rhs,
            coef=coef,
        )


def _pca_estimates(
    pf: ProfileFeatures, ctx: DonorContext, t: int, g: np.ndarray | slice
) -> dict[int, np.ndarray]:
    """Ridge regression of the donor's other tissues on the component scores, for tissue ``t``."""
    assert ctx.scores is not None and ctx.gram is not None and ctx.rhs is not None
    own = ctx.obs[t]
    a = ctx.scores.tissue(t, own).astype(np.float64)
    y = ctx.r0[t][own]
    gram, rhs = ctx.gram.copy(), ctx.rhs.copy()
    a_sum = a.sum(0)
    gram[0, 0] -= len(a)
    gram[0, 1:] -= a_sum
    gram[1:, 0] -= a_sum
    gram[1:, 1:] -= a.T @ a
    rhs[0] -= y.sum()
    rhs[1:] -= a.T @ y
    n_train = int(ctx.r_count.sum()) - int(own.sum())  # (r_count: the observed tissues per gene)
    out = {}
    scores_g = ctx.scores.tissue(t, g) if n_train >= 10 else None
    for r in pf.pca_ranks:
        est = np.full(_size(pf, g), np.nan)
        if n_train >= 10:
            assert scores_g is not None
            pen = pf.alpha * np.eye(r + 1)
            pen[0, 0] = 0
            coef = np.linalg.solve(gram[: r + 1, : r + 1] + pen, rhs[: r + 1])
            est = coef[0] + scores_g[:, :r].astype(np.float64) @ coef[1:]
        out[r] = est
    return out


def _size(pf: ProfileFeatures, g: np.ndarray | slice) -> int:
    return pf.n_genes if isinstance(g, slice) else len(g)


def _rows(pf: ProfileFeatures, rows: np.ndarray, g: np.ndarray | slice) -> np.ndarray:
    """``prof[rows][:, g]`` without gathering unneeded genes (C order, as ``prof[np.ix_(rows, g)]``)."""
    prof = pf.units.prof
    return prof[rows] if isinstance(g, slice) else np.take(prof[rows], g, axis=1)


def _similar_mean(
    pf: ProfileFeatures,
    similar: np.ndarray,
    tissues: np.ndarray,
    g: np.ndarray | slice,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``(len(tissues), genes)`` mean over the ``similar`` donors observed there (NaN where none).

    ``weights``: one per donor (default: equal). Summed one donor at a time from the
    ``float32`` store (the same values as a NaN-mean over a gathered ``float64`` cube, at a
    third of the memory traffic).
    """
    total, weight = similar_sums(pf, similar, tissues, g, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.maximum(weight, 1e-300), np.nan)


def similar_sums(
    pf: ProfileFeatures,
    similar: np.ndarray,
    tissues: np.ndarray,
    g: np.ndarray | slice,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(total, weight)``, each ``(len(tissues), genes)``: the ``similar`` donors' sums where observed.

    ``total`` sums their (weighted) values, ``weight`` their weights; ``weights``: one per donor
    (default: 1, ``weight`` then counts the donors observed).
    """
    rows = pf.units.row_of[similar][:, tissues]
    w = np.ones(len(similar)) if weights is None else weights
    total = np.zeros((len(tissues), _size(pf, g)))
    weight = np.zeros_like(total)
    for r, wr in zip(rows, w, strict=True):
        v = _rows(pf, r, g)
        ok = ~np.isnan(v)
        total += np.where(ok, v if weights is None else wr * v, 0.0)
        weight += wr * ok
    return total, weight


def weighted_reference(
    pf: ProfileFeatures, similar: np.ndarray, dist: np.ndarray, tissues: np.ndarray, g: np.ndarray | slice
) -> np.ndarray:
    """``(len(tissues), genes)`` mean of the ``similar`` donors observed there, weighted by 1 / distance.

    A donor much farther than the nearest (another group, when the nearest group has few
    donors observed at a tissue) weighs little; no cut-off to choose. NaN where none observed.
    """
    return _similar_mean(pf, similar, tissues, g, weights=1.0 / np.maximum(dist[similar], 1e-12))


def similar_donors(pf: ProfileFeatures, dist: np.ndarray, t: int) -> np.ndarray:
    """Donors observed at ``t`` with a finite distance, nearest first.

    ``dist``: each donor's distance to the donor at hand over its other tissues
    (:meth:`~.profiles.ProfileFeatures.distances_without`).
    """
    cand = np.flatnonzero(pf.unit_observed[:, t] & np.isfinite(dist))
    return cand[np.argsort(dist[cand], kind="stable")]


def _deviation(pf: ProfileFeatures, ctx: DonorContext, t: int, similar: np.ndarray, g: np.ndarray | slice):
    """Mean over the donor's tissues other than ``t`` of its deviation from the ``similar`` donors.

    Every gene, or many genes of an absent unit (its tissue is none of the donor's: nothing left
    out, the same sums as directly): from the deviations kept per donor and set of similar donors.
    """
    other = np.flatnonzero(pf.unit_observed[ctx.d])
    many = not isinstance(g, slice) and len(g) >= 64 and not pf.unit_observed[ctx.d, t]
    if not isinstance(g, slice) and not many:  # a few genes (training rows): directly
        other = other[other != t]
        if not len(other):
            return np.nan
        return nanmean(ctx.yd[np.ix_(other, g)] - _similar_mean(pf, similar, other, g), axis=0)
    key = tuple(int(c) for c in similar)
    if key not in ctx.deviations:  # every gene: once per donor and set of similar donors
        dev = ctx.yd[other] - _similar_mean(pf, similar, other, slice(None))
        ok = ~np.isnan(dev)
        dev0 = np.where(ok, dev, 0.0)
        ctx.deviations[key] = (other, dev0, ok, dev0.sum(0), ok.sum(0))
    tissues, dev0, ok, total, count = ctx.deviations[key]
    hit = np.flatnonzero(tissues == t)
    if len(hit):  # leave the target tissue out
        total, count = total - dev0[hit[0]], count - ok[hit[0]]
    if many:
        total, count = total[g], count[g]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _neighbours(
    pf: ProfileFeatures, cand: np.ndarray, t: int, g: np.ndarray | slice
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values, observed mask and running counts of the nearest candidates, enough for the largest k.

    Starts from the number of candidates the last call needed (``pf.neighbour_rows``; profiles with
    missing genes need them all each time): more candidates than enough give the same estimates
    (the ones past the k-th observed value add nothing).
    """
    k_max = max(pf.ks)
    size = max(k_max, pf.neighbour_rows)
    while True:
        sel = cand[:size]
        vals = _rows(pf, pf.units.row_of[sel, t], g).astype(np.float64)
        obs = ~np.isnan(vals)
        count = np.cumsum(obs, axis=0)
        if size >= len(cand) or (count[-1] >= k_max).all():
            pf.neighbour_rows = size
            return np.where(obs, vals, 0.0), obs, count
        size *= 4


def unit_columns(
    pf: ProfileFeatures, ctx: DonorContext, t: int, g: np.ndarray | slice
) -> tuple[list[Any], dict[str, np.ndarray]]:
    """Feature columns (:meth:`ProfileFeatures.names` order) and bases of unit ``(ctx.d, t)``, genes ``g``."""
    d = ctx.d
    nd = ctx.r_count[g] - ctx.obs[t, g]
    tm_f = ctx.tm_f[t, g]
    cols: list[Any] = [ctx.tm[t, g], ctx.n[t, g], ctx.gm[g], ctx.sd[t, g], float(t)]
    with np.errstate(invalid="ignore", divide="ignore"):
        cols.append(np.where(nd > 0, (ctx.r_sum[g] - ctx.r0[t, g]) / np.maximum(nd, 1), np.nan))
        cols.append(nd)
        den = ctx.w_den[t, g]
        cols.append(np.where(den > 1e-9, ctx.w_num[t, g] / np.maximum(den, 1e-9), np.nan))
    cols.append(np.max(np.where(np.isnan(ctx.corr[t]), -1, ctx.corr[t])))
    cols += [ctx.resid[ctx.top[t, i], g] for i in range(pf.n_top)]
    bases = {"tissue_mean": tm_f}
    if pf.pca_ranks:
        for r, est in _pca_estimates(pf, ctx, t, g).items():
            cols.append(tm_f + est)
            bases[f"pca_regression_donors_r{r}"] = tm_f + est
    dist = pf.distances_without(d, t)
    cand = similar_donors(pf, dist, t)
    if len(cand):
        v, o, c = _neighbours(pf, cand, t, g)
        running = np.cumsum(v, axis=0) if o.all() else None  # every neighbour observed: running means
        for k in pf.ks:
            if running is not None:
                est = running[min(k, len(v)) - 1] / min(k, len(v))
            else:
                take = o & (c <= k)
                cnt = np.minimum(c[-1], k)  # take.sum(0): the first k observed
                with np.errstate(invalid="ignore", divide="ignore"):
                    est = np.where(cnt > 0, (v * take).sum(0) / np.maximum(cnt, 1), np.nan)
            cols.append(est)
            bases[f"knn_donors_k{k}"] = est
        # the donor's deviation from its most similar donors over its other tissues (reference cancels)
        dev = _deviation(pf, ctx, t, cand[: pf.k_similar], g)
        cols.append(dev)
        cols.append(dist[cand[0]])
        for j in (1, 2, 3):
            cols.append(np.sqrt(dist[cand[j]] / max(dist[cand[0]], 1e-12)) if len(cand) > j else np.nan)
        if ctx.coef is not None:
            # the similar donors at t weighted by 1 / distance (the deviation is from their plain mean)
            ref = weighted_reference(pf, cand[: pf.k_similar], dist, np.array([t]), g)[0]
            coef = ctx.coef[g]
            effect = np.where(np.isnan(dev), ref, ref + coef * dev)
            cols += [effect, coef]
            bases["donor_effect"] = effect
    else:
        for k in pf.ks:
            cols.append(np.nan)
            bases[f"knn_donors_k{k}"] = np.full(_size(pf, g), np.nan)
        cols += [np.nan, np.nan, np.nan, np.nan, np.nan]
        if ctx.coef is not None:
            cols += [np.nan, np.nan]
            bases["donor_effect"] = np.full(_size(pf, g), np.nan)
    return cols, bases
