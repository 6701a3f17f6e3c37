"""Group-aware columns of absent profiles: the donor's group by residual covariance, and transfer.

The similar donors of :mod:`.profile_columns` are the nearest by squared distance. A donor
with a large spread of its own (human post-mortem samples in Blake et al. 2020) is far from
everyone, and then as near to a donor of another group with a small spread as to its own
group: ``|y_a - y_b|^2 = |r_a|^2 + |r_b|^2 - 2 r_a . r_b`` (residuals ``r`` from the all-donor
tissue means) ranks the candidates ``b`` by ``|r_b|^2 - 2 r_a . r_b``. :class:`DonorGroups`
ranks them by the cross product ``r_a . r_b`` alone (per shared gene, over the tissues other
than the target), which separates the three species of Blake exactly where the distance does
not.

For a unit ``(d, t)`` with group ``G`` (the ``k_similar`` donors of the largest cross product
observed at ``t``) and the other donors ``O`` (every donor but ``d`` and ``G``),
:func:`group_columns` gives

* ``group_mean``: the plain mean of ``G`` at ``t``;
* ``group_effect``: that plus the per-gene donor-effect coefficient (:mod:`.profile_effect`)
  times ``d``'s mean deviation from ``G`` over its other tissues;
* ``group_transfer``: the mean of ``O`` at ``t`` plus the mean over ``d``'s other tissues ``s``
  of ``mean(G and d at s) - mean(O at s)``: the group's offset from the others, carried over
  from the other tissues. Its errors (tissue-specific group offsets, the others' noise) are
  nearly independent of the group mean's (the group's own noise, few donors), so the stack
  gains from it although it is worse alone.

Nothing of ``y[d, t]`` enters the columns of unit ``(d, t)``: the cross products leave tissue
``t`` out, ``G`` and ``O`` exclude ``d``, and ``d``'s values enter only at its other tissues.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .profile_columns import similar_donors, similar_sums

if TYPE_CHECKING:
    from .profile_columns import DonorContext
    from .profiles import ProfileFeatures

__all__ = ["GROUP_NAMES", "DonorGroups", "group_columns"]

#: feature columns (and bases) added by :func:`group_columns`, in order
GROUP_NAMES = ["group_mean", "group_effect", "group_transfer"]

#: group sums of the last donor kept at most (a donor's units mostly share one group)
KEPT_GROUPS = 4


class DonorGroups:
    """What the group columns keep of one cohort: the last donor's group sums.

    The residual cross products the groups are ranked by are kept with the donor distances
    (:meth:`.profile_cache.DonorDistances.cross_without`: the same per-tissue sums).
    """

    def __init__(self) -> None:
        #: the last donor's group sums: (donor, {group: _GroupStats})
        self.kept: tuple[int, dict[tuple[int, ...], _GroupStats]] = (-1, {})

    def members(self, pf: ProfileFeatures, d: int, t: int) -> np.ndarray:
        """Return the group of unit ``(d, t)``: the ``k_similar`` donors at ``t`` of largest cross product."""
        # similar_donors ranks by increasing distance: the negated cross products
        return similar_donors(pf, -pf.dist.cross_without(d, t), t)[: pf.k_similar]


@dataclass
class _GroupStats:
    """What the units of donor ``d`` with group ``G`` share, ``(tissues, genes)``.

    Over the tissues a unit reads: the donor's observed tissues and the unit's own (an absent
    unit's tissue is none of the donor's). The other tissues would add only zeros to the totals.
    """

    tissues: np.ndarray  # the tissues of the rows below, increasing
    mean: np.ndarray  # the plain mean of G at each tissue (NaN where none observed)
    other: np.ndarray  # the mean of O (every donor but d and G) at each tissue
    diff0: np.ndarray  # mean(G and d) - mean(O) at d's observed tissues, 0 elsewhere or NaN
    diff_ok: np.ndarray  # where diff0 holds a value
    dev0: np.ndarray  # y_d - mean(G) at d's observed tissues, 0 elsewhere or NaN
    dev_ok: np.ndarray  # where dev0 holds a value
    totals: tuple[np.ndarray, ...]  # sums over tissues of diff0, diff_ok, dev0, dev_ok

    @classmethod
    def build(
        cls, pf: ProfileFeatures, ctx: DonorContext, group: np.ndarray, g: np.ndarray | slice, t: int
    ) -> _GroupStats:
        """Sum the group's profiles once (``len(group) x tissues`` rows) and derive the rest from totals."""
        observed = pf.unit_observed[ctx.d]
        tissues = np.flatnonzero(observed | (np.arange(len(observed)) == t))
        g_sum, g_cnt = similar_sums(pf, group, tissues, g)
        obs, yd = ctx.obs[tissues][:, g], ctx.yd[tissues][:, g]
        x_sum, x_cnt = g_sum + np.where(obs, yd, 0.0), g_cnt + obs
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(g_cnt > 0.5, g_sum / np.maximum(g_cnt, 1), np.nan)
            x_mean = np.where(x_cnt > 0.5, x_sum / np.maximum(x_cnt, 1), np.nan)
            o_cnt = pf.count_t[tissues][:, g] - x_cnt
            other = np.where(o_cnt > 0.5, (pf.sum_t[tissues][:, g] - x_sum) / np.maximum(o_cnt, 1), np.nan)
        observed = observed[tissues][:, None]
        diff = np.where(observed, x_mean - other, np.nan)
        dev = np.where(observed, yd - mean, np.nan)
        diff_ok, dev_ok = ~np.isnan(diff), ~np.isnan(dev)
        diff0, dev0 = np.where(diff_ok, diff, 0.0), np.where(dev_ok, dev, 0.0)
        totals = (diff0.sum(0), diff_ok.sum(0), dev0.sum(0), dev_ok.sum(0))
        return cls(tissues, mean, other, diff0, diff_ok, dev0, dev_ok, totals)

    def columns(self, t: int, g: np.ndarray | slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(group mean, the deviation from it, transfer)`` at tissue ``t``, genes ``g`` of the stats."""
        i = int(np.searchsorted(self.tissues, t))
        assert i < len(self.tissues) and self.tissues[i] == t, "stats built without tissue t"
        diff_total, diff_count, dev_total, dev_count = self.totals
        with np.errstate(invalid="ignore", divide="ignore"):
            n = dev_count[g] - self.dev_ok[i, g]
            dev = np.where(n > 0, (dev_total[g] - self.dev0[i, g]) / np.maximum(n, 1), np.nan)
            n = diff_count[g] - self.diff_ok[i, g]
            offset = np.where(n > 0, (diff_total[g] - self.diff0[i, g]) / np.maximum(n, 1), np.nan)
        return self.mean[i, g], dev, self.other[i, g] + offset


def group_columns(
    pf: ProfileFeatures, d: int, t: int, g: np.ndarray | slice
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Columns (:data:`GROUP_NAMES` order) and bases of unit ``(d, t)``, genes ``g``.

    Most genes (absent profiles): computed for every gene and kept for the last donor's groups
    (its absent units often share one: their similarity leaves out no tissue of the donor). A
    small subset of genes (training rows): computed for those genes alone.
    """
    groups = pf.groups()
    group = groups.members(pf, d, t)
    if not len(group):
        nan = np.full(pf.n_genes if isinstance(g, slice) else len(g), np.nan)
        return [nan, nan, nan], dict.fromkeys(GROUP_NAMES, nan)
    ctx = pf.context(d)
    if not isinstance(g, slice) and 2 * len(g) < pf.n_genes:
        mean, dev, transfer = _GroupStats.build(pf, ctx, group, g, t).columns(t, slice(None))
    else:
        if groups.kept[0] != d:
            groups.kept = (d, {})
        # the units of d at its observed tissues share one set of tissues; an absent unit adds its own
        key = (*(int(e) for e in group), -1 if pf.unit_observed[d, t] else t)
        kept = groups.kept[1].get(key)
        if kept is None:
            if len(groups.kept[1]) >= KEPT_GROUPS:  # the oldest out (memory: 34 bytes x tissues x p each)
                groups.kept[1].pop(next(iter(groups.kept[1])))
            kept = groups.kept[1][key] = _GroupStats.build(pf, ctx, group, slice(None), t)
        mean, dev, transfer = kept.columns(t, g)
    effect = mean if ctx.coef is None else np.where(np.isnan(dev), mean, mean + ctx.coef[g] * dev)
    cols = [mean, effect, transfer]
    return cols, dict(zip(GROUP_NAMES, cols, strict=True))
