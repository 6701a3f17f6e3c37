"""Per-gene cross-tissue donor effects for absent profiles, estimated leave-donor-out.

A donor's deviation from its most similar donors in its other tissues (``dev``, the
``donor_dev_from_similar`` feature) carries over to an absent tissue only partly, and by how
much depends on the gene. :class:`DonorEffects` estimates, for each gene, the coefficient
``b_g`` of the regression without intercept of a unit's deviation in its own tissue
(``y[e, t]`` minus the similar donors' mean at ``t``, weighted by 1 / distance as the base's
reference: :func:`~.profile_columns.weighted_reference`) on ``dev[e, t]`` over the observed units of the
cohort, shrunk toward the pooled coefficient of all genes by empirical Bayes (no constant to
choose)::

    b_hat = sum(r * dev) / sum(dev ** 2),   v_g = (residual variance of that fit) / sum(dev ** 2)
    tau2 = var_g(b_hat) - mean_g(v_g)            (moments; the least precise tenth of genes left out)
    b_g = b_pool + tau2 / (tau2 + v_g) * (b_hat - b_pool),   b_pool: the 1 / (v_g + tau2) weighted mean

For donor ``d``, the sums leave out every unit of ``d`` and every unit whose similar donors
include ``d``, so the coefficient used for a unit of ``d`` (training row or absent profile)
never saw ``d``'s values. The similar donors of a unit ``(e, t)`` are the ``k`` nearest by
the distance over ``e``'s tissues other than ``t`` (as for the features), so ``y[e, t]``
does not choose its own reference. Large cohorts use an evenly spaced subset of at most
:data:`EFFECT_MAX_UNITS` observed units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .profile_columns import _similar_mean, similar_donors, weighted_reference

if TYPE_CHECKING:
    from .profiles import ProfileFeatures

__all__ = ["EFFECT_MAX_UNITS", "DonorEffects"]

#: observed units whose deviations estimate the coefficients, at most (memory: 4 x units x genes float32)
EFFECT_MAX_UNITS = 512


class DonorEffects:
    """Leave-donor-out per-gene coefficients of the donor deviation (see the module docstring).

    Parameters
    ----------
    pf
        The cohort's profile features (observed profiles, distances, ``k_similar``).
    max_units
        Observed units used at most (evenly spaced in donor-major order).
    """

    def __init__(self, pf: ProfileFeatures, *, max_units: int = EFFECT_MAX_UNITS):
        units = np.argwhere(pf.unit_observed)
        if len(units) > max_units:
            units = units[np.unique(np.linspace(0, len(units) - 1, max_units).round().astype(np.int64))]
        p = pf.n_genes
        num = np.zeros((len(units), p), dtype=np.float32)
        den = np.zeros((len(units), p), dtype=np.float32)
        rr = np.zeros((len(units), p), dtype=np.float32)
        cnt = np.zeros((len(units), p), dtype=np.float32)
        involved: list[set[int]] = []
        for i, (e, t) in enumerate(units):
            e, t = int(e), int(t)
            dist = pf.distances_without(e, t)
            similar = similar_donors(pf, dist, t)[: pf.k_similar]
            involved.append({e, *(int(s) for s in similar)})
            other = np.flatnonzero(pf.unit_observed[e])
            other = other[other != t]
            if not len(similar) or not len(other):
                continue
            prof, row_of = pf.units.prof, pf.units.row_of
            # r: the unit's deviation from the distance-weighted similar donors at t (as the base's
            # reference); dev: its mean deviation from their plain mean in its other tissues
            r = prof[row_of[e, t]] - weighted_reference(pf, similar, dist, np.array([t]), slice(None))[0]
            diff = prof[row_of[e, other]].astype(np.float64) - _similar_mean(pf, similar, other, slice(None))
            ok = ~np.isnan(diff)
            with np.errstate(invalid="ignore", divide="ignore"):
                dev = np.where(ok, diff, 0.0).sum(0) / ok.sum(0)
            use = np.isfinite(r) & np.isfinite(dev)
            num[i] = np.where(use, r * dev, 0.0)
            den[i] = np.where(use, dev * dev, 0.0)
            rr[i] = np.where(use, r * r, 0.0)
            cnt[i] = use
        self.units, self.num, self.den, self.rr, self.cnt = units, num, den, rr, cnt
        self.num_total = num.sum(0, dtype=np.float64)
        self.den_total = den.sum(0, dtype=np.float64)
        self.rr_total = rr.sum(0, dtype=np.float64)
        self.cnt_total = cnt.sum(0, dtype=np.float64)
        of_donor: dict[int, list[int]] = {}
        for i, members in enumerate(involved):
            for m in members:
                of_donor.setdefault(m, []).append(i)
        #: donor -> the units that involve it (its own, those it is a similar donor of)
        self.of_donor = {k: np.asarray(v, dtype=np.int64) for k, v in of_donor.items()}

    def coefficients(self, d: int) -> np.ndarray:
        """``(p,)`` shrunk per-gene coefficients without the units that involve donor ``d``."""
        drop = self.of_donor.get(d)
        num, den, rr, cnt = self.num_total, self.den_total, self.rr_total, self.cnt_total
        if drop is not None and len(drop):
            num = num - self.num[drop].sum(0, dtype=np.float64)
            den = den - self.den[drop].sum(0, dtype=np.float64)
            rr = rr - self.rr[drop].sum(0, dtype=np.float64)
            cnt = cnt - self.cnt[drop].sum(0, dtype=np.float64)
        return self.combine(num, den, rr, cnt)

    def combine(self, num: np.ndarray, den: np.ndarray, rr: np.ndarray, cnt: np.ndarray) -> np.ndarray:
        """Shrunk coefficients from per-gene sums of ``r * dev``, ``dev ** 2``, ``r ** 2`` and units."""
        den = np.maximum(den, 0.0)
        total = den.sum()
        if total <= 0:
            return np.zeros_like(num)
        pooled = num.sum() / total
        # empirical Bayes: per-gene least squares, shrunk by its sampling variance
        ok = (den > 1e-12) & (cnt > 2)
        if not ok.any():
            return np.full_like(num, pooled)
        b = np.where(ok, num / np.where(ok, den, 1.0), pooled)
        ss = np.maximum(rr - b * num, 0.0)
        var = np.where(ok, ss / np.maximum(cnt - 1, 1) / np.where(ok, den, 1.0), np.inf)
        # between-gene variance of the coefficients by moments (the least precise tenth of the
        # genes left out of it), then the precision-weighted mean as the target
        sel = ok & (var <= np.quantile(var[ok], 0.9))
        tau2 = max(float(np.var(b[sel]) - np.mean(var[sel])), 1e-6)
        w = 1.0 / (var[ok] + tau2)
        pooled = float(np.sum(w * b[ok]) / w.sum())
        return pooled + tau2 / (tau2 + var) * (b - pooled)
