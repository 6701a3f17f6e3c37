"""Leave-one-profile-out features of whole donor x tissue profiles (absent samples).

Works on the observed donor x tissue profiles (:class:`~.profile_cache.UnitProfiles`). Every
feature of an entry ``(d, t, g)`` uses only the other donors' profiles and donor ``d``'s
profiles in the other tissues: tissue means, gene means and residual spreads come from
totals over all donors with donor ``d``'s contribution subtracted (exact, ``O(T p)`` per
donor), so features of observed profiles (training rows) and of absent profiles (prediction
rows) come from one distribution, and nothing of ``Y[d, t]`` leaks into its own features. The
tissue correlation that ranks and weighs the donor's other tissues is likewise computed without
donor ``d`` (:meth:`ProfileFeatures.correlation_without`; residuals from the all-donor means).

The donor principal components are exact leave-one-donor-out below ``exact_max_donors``
donors (one eigendecomposition per donor; small cohorts, where one donor's leak matters).
Above, they are computed once from all donors (Gram matrix on at most ``max_genes`` genes,
residuals against the all-donor tissue means) and donor ``d``'s own contribution is removed
from the component scores; only its influence on the directions remains, which is small
with that many donors. Those cohorts also take donor distances and the tissue correlation
from at most ``max_genes`` evenly spaced genes (smaller ones use every gene).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bases import tissue_weights, top_correlated
from .masking import Layout
from .profile_cache import DonorDistances, TissueCorrelation, UnitProfiles
from .profile_columns import DonorContext, unit_columns
from .profile_effect import DonorEffects
from .profile_groups import DonorGroups

__all__ = [
    "DONOR_CACHE_BYTES",
    "EXACT_SCORES_CACHE_BYTES",
    "DonorContext",
    "DonorScores",
    "ProfileFeatures",
    "unit_columns",
]

#: exact leave-one-donor-out component scores kept per donor, in bytes at most (speed cohort:
#: 50 donors x 1.6 MB; GTEx-sized tissues and genes: 43 MB per donor, a few kept)
EXACT_SCORES_CACHE_BYTES = 256 << 20
#: per donor, its regression sums and donor-effect coefficients kept, in bytes at most (speed
#: cohort: 50 donors x 16 kB; GTEx-sized: 160 kB per donor, the first ~400 of 948 donors kept)
DONOR_CACHE_BYTES = 64 << 20
#: rank and weigh a donor's other tissues by the tissue correlation without that donor (its
#: training profiles' own values otherwise enter the T x T summary their features are read by;
#: one of few donors weighs much in it). Validation (hybrid MSE, all-donor -> without the donor):
#: sim P3 data seeds 100 / 101 / 102 / 103 0.11875 / 0.12244 / 0.11027 / 0.13310 -> 0.11814 /
#: 0.12184 / 0.11018 / 0.13354; Blake P3 split seeds 100 / 101 unchanged (0.12297 / 0.12582: the
#: ridge stack, which reads no correlation, is its model); small sparse simulated cohorts
#: (benchmarks/small_cohorts.py, P3, seeds 0-2) 15 x 6: 0.863 / 0.955 / 0.997 -> 0.822 / 0.977 /
#: 0.995, 40 x 10: 0.821 / 0.851 / 0.772 -> 0.793 / 0.845 / 0.768 the best baseline's MSE
LOO_CORRELATION = True


class DonorScores:
    """``(T, p, r)`` component scores without one donor, computed for the tissues and genes asked for.

    Exact path: the whole cube (``full``, small cohorts). Approximate path: the all-donor scores
    minus the donor's own contribution, ``shared[t, g] - (xc[t, g] * vec)`` with ``xc`` the
    donor's centred residuals, only for the tissue ``t`` and genes ``g`` asked for (the same
    values as subtracting over the whole cube, without building it for every donor).
    """

    def __init__(
        self,
        *,
        full: np.ndarray | None = None,
        shared: np.ndarray | None = None,
        vec: np.ndarray | None = None,
        mean: float = 0.0,
        yd: np.ndarray | None = None,
        obs: np.ndarray | None = None,
        ref: np.ndarray | None = None,
    ):
        self.full, self.shared, self.vec, self.mean = full, shared, vec, mean
        self.yd, self.obs, self.ref = yd, obs, ref

    def tissue(self, t: int, g: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``(genes, r)`` float32 scores of tissue ``t`` (``g``: gene indices, a mask or a slice)."""
        if self.full is not None:
            return self.full[t][g]
        assert self.shared is not None and self.vec is not None
        assert self.yd is not None and self.obs is not None and self.ref is not None
        xc = np.where(self.obs[t][g], self.yd[t][g] - self.ref[t][g], 0.0) - self.mean
        return self.shared[t][g] - (xc[:, None] * self.vec[None, :]).astype(np.float32)

    def observed(self) -> np.ndarray:
        """``(observed entries, r)`` scores of the donor's observed entries (tissue-major order)."""
        assert self.obs is not None
        if self.full is not None:
            return self.full[self.obs]
        parts = [self.tissue(int(t), self.obs[t]) for t in np.flatnonzero(self.obs.any(1))]
        if not parts:
            assert self.shared is not None
            return np.zeros((0, self.shared.shape[-1]), dtype=np.float32)
        return np.concatenate(parts)


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
    alpha
        Ridge penalty of that regression.
    exact_max_donors
        Up to this many donors, the components are exact leave-one-donor-out.
    max_genes
        Above ``exact_max_donors`` donors, genes (evenly spaced) for distances, tissue
        correlation and the shared components.
    rows
        Rows of ``values`` with any observed value (default: found here).
    """

    #: add the per-gene donor-effect base and its coefficient (:mod:`.profile_effect`)
    use_effects = True

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
        exact_max_donors: int = 60,
        max_genes: int = 2000,
        rows: np.ndarray | None = None,
    ):
        assert layout.donor is not None
        n_d, n_t = layout.n_donors, layout.n_tissues
        p = values.shape[1]
        self.n_donors, self.n_tissues, self.n_genes = n_d, n_t, p
        self.units = units = UnitProfiles(values, layout, rows=rows)
        self.unit_observed = units.observed
        sum_t, sq_t, count_t = np.zeros((n_t, p)), np.zeros((n_t, p)), np.zeros((n_t, p))
        for t in range(n_t):
            _, x = units.tissue(t)
            obs = ~np.isnan(x)
            x0 = np.where(obs, x, 0).astype(np.float64)
            sum_t[t], sq_t[t], count_t[t] = x0.sum(0), (x0 * x0).sum(0), obs.sum(0)
        self.sum_t, self.sq_t, self.count_t = sum_t, sq_t, count_t
        self.sum_g, self.count_g = sum_t.sum(0), count_t.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            tm = np.where(count_t > 0, sum_t / np.maximum(count_t, 1), np.nan)
            gm = np.where(self.count_g > 0, self.sum_g / np.maximum(self.count_g, 1), np.nan)
        self.tm_all = tm
        self.tm_all_f = np.where(np.isnan(tm), gm[None], tm)
        self.exact = n_d <= exact_max_donors
        # small cohorts: every gene (cheap, and a subsample changes neighbours and tissue ranks)
        few = self.exact or p <= max_genes
        self.genes = np.arange(p) if few else np.unique(np.linspace(0, p - 1, max_genes).round())
        self.genes = self.genes.astype(np.int64)
        self.tissue_corr = TissueCorrelation(units, tm, self.genes)
        self.corr = self.tissue_corr.pooled  # a T x T summary
        self.weights = tissue_weights(self.corr)
        self.n_top = min(n_top, n_t - 1)
        self.top = top_correlated(self.corr, self.n_top)
        # per-tissue squared distances between donors (differences of Y: reference-free)
        self.dist = DonorDistances(units, tm, self.genes)
        self.ks = tuple(sorted(ks))
        self.k_similar = k_similar
        self.pca_ranks = tuple(r for r in pca_ranks if r <= max(1, (n_d - 1) // 3))
        self.alpha = alpha
        self._components: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        # the last donor prepared: complete()'s blocks follow the donors, so a donor whose units
        # fall in two consecutive blocks is prepared once
        self._last_context: tuple[int, DonorContext] | None = None
        self._dense: np.ndarray | None = None
        self._scores_kept: dict[int, np.ndarray] = {}
        self._donor_kept: dict[int, tuple[Any, ...]] = {}
        self._donor_kept_bytes = 0
        self._effects: DonorEffects | None = None
        self._groups = DonorGroups()
        #: candidates the last unit's kNN over donors read (where the next one starts)
        self.neighbour_rows = 0

    def effects(self) -> DonorEffects:
        """Return the per-gene donor-effect coefficients of the cohort (:class:`DonorEffects`, built once)."""
        if self._effects is None:
            self._effects = DonorEffects(self)
        return self._effects

    def groups(self) -> DonorGroups:
        """Return what the group columns keep of the cohort (:class:`.profile_groups.DonorGroups`)."""
        return self._groups

    def keep_donor(self, d: int, *parts: np.ndarray | None) -> tuple[np.ndarray | None, ...]:
        """Keep what :meth:`DonorContext.build` computed of donor ``d`` for its next build (read-only).

        Kept while every donor's parts fit in :data:`DONOR_CACHE_BYTES`; returns ``parts``.
        """
        size = sum(a.nbytes for a in parts if a is not None)
        if self._donor_kept_bytes + size <= DONOR_CACHE_BYTES:
            for a in parts:
                if a is not None:
                    a.flags.writeable = False
            self._donor_kept[d] = parts
            self._donor_kept_bytes += size
        return parts

    # -- donor components ------------------------------------------------------------------
    def _exact_scores(self, d: int, tm_f: np.ndarray) -> np.ndarray:
        """``(T*p, r)`` component scores of the columns from the other donors (exact).

        ``tm_f``: the tissue means without donor ``d`` (a function of ``d``). The scores of a
        donor are kept while they fit in :data:`EXACT_SCORES_CACHE_BYTES` (the fit and the
        prediction of ``impute()`` prepare every donor twice).
        """
        kept = self._scores_kept.get(d)
        if kept is not None:
            return kept
        n_t, p = self.n_tissues, self.n_genes
        if self._dense is None:
            self._dense = self.units.prof[self.units.row_of]  # small cohorts only
        # the other donors' centred residuals, one donor at a time (the same values as over the
        # whole cube at once, fewer passes over memory)
        others = np.flatnonzero(np.arange(self.n_donors) != d)
        xc = np.empty((len(others), n_t * p), dtype=np.float32)
        buf = np.empty((n_t, p))
        for i, e in enumerate(others):
            np.subtract(self._dense[e], tm_f, out=buf)
            row = xc[i].reshape(n_t, p)
            row[...] = buf  # rounded to float32
            np.copyto(row, np.float32(0), where=np.isnan(row))
            xc[i] -= xc[i].mean()
        _, vecs = np.linalg.eigh(xc @ xc.T)
        scores = xc.T @ vecs[:, ::-1][:, : max(self.pca_ranks)]
        if (len(self._scores_kept) + 1) * scores.nbytes <= EXACT_SCORES_CACHE_BYTES:
            scores.flags.writeable = False  # shared by every later use of the donor
            self._scores_kept[d] = scores
        return scores

    def _shared_components(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Components of all donors once: ``(scores (T, p, r), vecs (D, r), row means (D,))``."""
        if self._components is not None:
            return self._components
        n_d, n_t, p = self.n_donors, self.n_tissues, self.n_genes
        rank = max(self.pca_ranks)
        gram = np.zeros((n_d, n_d))
        sum_sub, sum_all = np.zeros(n_d), np.zeros(n_d)
        for t in range(n_t):
            donors, x = self.units.tissue(t)
            r = x - self.tm_all_f[t]
            r0 = np.where(np.isnan(r), 0.0, r)
            sub = r0[:, self.genes]
            gram[np.ix_(donors, donors)] += sub @ sub.T
            sum_sub[donors] += sub.sum(1)
            sum_all[donors] += r0.sum(1)
        n_sub = n_t * len(self.genes)
        gram -= np.outer(sum_sub, sum_sub) / n_sub  # rows centred
        _, vecs = np.linalg.eigh(gram)
        vecs = vecs[:, ::-1][:, :rank]
        means = sum_all / (n_t * p)
        scores = np.empty((n_t, p, rank), dtype=np.float32)
        shift = means @ vecs
        for t in range(n_t):
            donors, x = self.units.tissue(t)
            r = x - self.tm_all_f[t]
            r0 = np.where(np.isnan(r), 0.0, r)
            scores[t] = r0.T @ vecs[donors] - shift
        self._components = (scores, vecs, means)
        return self._components

    def _scores_without(self, d: int, tm_f: np.ndarray, obs_d: np.ndarray, yd: np.ndarray) -> DonorScores:
        """Component scores without donor ``d`` (exact or approximate), computed per tissue on demand."""
        n_t, p = self.n_tissues, self.n_genes
        if self.exact:
            return DonorScores(full=self._exact_scores(d, tm_f).reshape(n_t, p, -1), obs=obs_d)
        scores, vecs, means = self._shared_components()
        ref = self.tm_all_f
        return DonorScores(shared=scores, vec=vecs[d], mean=float(means[d]), yd=yd, obs=obs_d, ref=ref)

    def correlation_without(self, d: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(corr, weights, top)`` of the tissues without donor ``d`` (LOO_CORRELATION; else the cohort)."""
        if not LOO_CORRELATION:
            return self.corr, self.weights, self.top
        corr = self.tissue_corr.without(d)
        return corr, tissue_weights(corr), top_correlated(corr, self.n_top)

    # -- features ----------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Names of the feature columns, in order."""
        out = ["tissue_mean", "tissue_n", "gene_mean", "tissue_resid_sd", "tissue", "donor_offset"]
        out += ["donor_offset_n", "donor_offset_weighted", "donor_similar_tissue_corr"]
        out += [f"donor_resid_tissue_rank{i}" for i in range(self.n_top)]
        out += [f"pca_regression_donors_r{r}" for r in self.pca_ranks]
        out += [f"knn_donors_k{k}" for k in self.ks]
        out += ["donor_dev_from_similar", "nearest_donor_dist"]
        out += [f"donor_dist_ratio_{j + 1}" for j in (1, 2, 3)]
        return out + (["donor_effect", "donor_effect_coef"] if self.use_effects else [])

    def donor_features(
        self, d: int, tissues: np.ndarray, genes: list[np.ndarray] | None = None
    ) -> tuple[list[np.ndarray], list[str], list[dict[str, np.ndarray]]]:
        """Features of the units ``(d, t)``, ``t`` in ``tissues`` (the donor is prepared once).

        Parameters
        ----------
        d
            Donor code.
        tissues
            Tissue codes of the units.
        genes
            Per unit, the genes wanted (default: every gene).

        Returns
        -------
        ``(xs, names, bases)``: per unit ``(len(genes), F)`` float32 features, the feature
        names, and per unit the base estimates (name -> ``(len(genes),)``).
        """
        names = self.names()
        ctx = self.context(d)
        xs: list[np.ndarray] = []
        bases: list[dict[str, np.ndarray]] = []
        for i, t in enumerate(np.asarray(tissues, dtype=np.int64)):
            g: np.ndarray | slice = slice(None)
            if genes is not None and len(genes[i]) != self.n_genes:  # all genes (sorted): a slice
                g = np.asarray(genes[i], dtype=np.int64)
            cols, base = unit_columns(self, ctx, int(t), g)
            x = np.empty((len(names), self.n_genes if isinstance(g, slice) else len(g)), dtype=np.float32)
            for j, col in enumerate(cols):
                x[j] = col
            xs.append(x.T)
            bases.append(base)
        return xs, names, bases

    def context(self, d: int) -> DonorContext:
        """Donor ``d`` prepared (:class:`DonorContext`); the last donor's is kept for the next call."""
        last = self._last_context
        if last is not None and last[0] == d:
            return last[1]
        ctx = DonorContext.build(self, d)
        self._last_context = (d, ctx)
        return ctx

    def unit_features(self, d: int, t: int) -> tuple[np.ndarray, list[str], dict[str, np.ndarray]]:
        """Features of every gene of unit ``(d, t)``: ``(p, F)`` float32, names, bases (name -> ``(p,)``)."""
        xs, names, bases = self.donor_features(d, np.array([t]))
        return xs[0], names, bases[0]

    def distances_without(self, d: int, t: int) -> np.ndarray:
        """Mean squared distance of donor ``d`` to every donor over the tissues other than ``t``."""
        return self.dist.without(d, t)

    def describe(self) -> dict[str, Any]:
        """Sizes and the path taken (for logs)."""
        return {"donors": self.n_donors, "units": self.units.n_units, "exact_components": self.exact}
