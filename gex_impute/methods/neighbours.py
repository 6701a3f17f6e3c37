"""Genomic-neighbour baselines: a gene's value from its nearest genes along the chromosome.

:class:`DistanceImputer` is the paper's comparator (inverse-distance weighted mean of the
``k`` nearest observed reference genes in the same sample); :class:`NearestGeneImputer` takes
the single nearest one. Neither uses the gene's own values in other samples. Entries they
cannot serve get the shared fallback (:mod:`gex_impute.methods._fallback`).
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from .._utils import check_random_state
from ._base import BaseImputer, register
from ._fallback import fallback_values, finalise, pearson
from ._params import Interval, Options, SequenceOf
from ._persistence import JSONValue

logger = logging.getLogger("gex_impute")

__all__ = ["DistanceImputer", "NearestGeneImputer"]


def _coordinate_mask(var) -> np.ndarray:
    ok = np.ones(len(var), dtype=bool)
    for col in ("chrom", "tss"):
        series = var[col]
        ok &= ~series.isna().to_numpy()
        if col == "chrom":
            ok &= series.astype(str).str.len().to_numpy() > 0
    return ok


@register
class DistanceImputer(BaseImputer):
    """A gene's value in a sample from its k nearest reference genes' values in the same sample.

    The comparator of the paper: the prediction is the weighted mean of the values, in the same
    sample, of the ``k`` nearest genes (by TSS, same chromosome, within ``window`` bp) that are
    observed there, weighted by ``1 / (|distance| + pseudo_distance) ** power``. It never uses
    the gene's own values in other samples.

    Hyperparameters set to ``"auto"`` are chosen at ``fit`` by validation on reference genes:
    a ``validation_fraction`` of the observed genes is hidden, predicted from the others, and
    the combination with the highest pooled Pearson r on those genes wins. The evaluation
    targets (entries that are missing in the data given to ``fit``) are never used.

    Fallback: a gene without coordinates, or with no neighbour observed in the sample within
    the window, gets the shared fallback (module docstring): the gene's tissue mean when it is
    observed elsewhere, else the sample's mean. Counted in ``n_fallback_``.

    Parameters
    ----------
    k
        Number of neighbours, or ``"auto"``.
    window
        Maximum TSS distance in bp, or ``"auto"``.
    power
        Inverse-distance weighting power (0 = unweighted mean), or ``"auto"``.
    pseudo_distance
        bp added to distances so that genes with (nearly) the same TSS get a finite weight.
    candidate_k, candidate_window, candidate_power
        Grids searched for the ``"auto"`` hyperparameters.
    validation_fraction
        Fraction of reference genes hidden for the validation.
    random_state
        Seed for the validation split.
        None is seed 0 (never numpy's global random state).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=200)
    >>> model = gi.get_method("distance").fit(adata)
    >>> pred = model.predict(adata)
    """

    name = "distance"
    requires_coordinates = True
    _parameter_constraints = {
        "k": [Interval(int, 1, 10_000), Options("auto")],
        "window": [Interval(int, 1, None), Options("auto")],
        "power": [Interval(float, 0, 10), Options("auto")],
        "pseudo_distance": [Interval(float, 0, None)],
        "candidate_k": [SequenceOf(Interval(int, 1, 10_000), max_length=100)],
        "candidate_window": [SequenceOf(Interval(int, 1, None), max_length=100)],
        "candidate_power": [SequenceOf(Interval(float, 0, 10), max_length=100)],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "random_state": [Interval(int, 0, 2**32 - 1), None],
    }
    _fitted_schema = {
        "k_": [Interval(int, 1, 10_000)],
        "window_": [Interval(int, 1, None)],
        "power_": [Interval(float, 0, 10)],
        "validation_scores_": [JSONValue(max_depth=1)],
    }

    def __init__(
        self,
        k: int | str = "auto",
        window: int | str = "auto",
        power: float | str = "auto",
        *,
        pseudo_distance: float = 1000.0,
        candidate_k: tuple[int, ...] = (5, 10, 20, 50),
        candidate_window: tuple[int, ...] = (100_000, 500_000, 1_000_000, 5_000_000),
        candidate_power: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0),
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
    ):
        self.k = k
        self.window = window
        self.power = power
        self.pseudo_distance = pseudo_distance
        self.candidate_k = candidate_k
        self.candidate_window = candidate_window
        self.candidate_power = candidate_power
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self._validate_params()

    @staticmethod
    def _neighbours(var, reference: np.ndarray, k: int, window: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and absolute TSS distances of each gene's ``k`` nearest reference genes."""
        from ..genome import genomic_neighbours

        nb = genomic_neighbours(var, reference=reference, k=k, window=int(window))
        return nb.index, nb.abs_distance.astype(np.float64)

    def _weighted(
        self,
        values: np.ndarray,
        index: np.ndarray,
        dist: np.ndarray,
        genes: np.ndarray,
        k: int,
        power: float,
        chunk: int = 2000,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predict ``values[:, genes]`` from the first ``k`` observed neighbours in each sample."""
        ((pred, served),) = self._weighted_grid(values, index, dist, genes, [k], [power], chunk).values()
        return pred, served

    def _weighted_grid(
        self,
        values: np.ndarray,
        index: np.ndarray,
        dist: np.ndarray,
        genes: np.ndarray,
        ks: list[int],
        powers: list[float],
        chunk: int = 2000,
    ) -> dict[tuple[int, float], tuple[np.ndarray, np.ndarray]]:
        """:meth:`_weighted` for every ``k`` and ``power``: (k, power) -> (pred, served).

        The neighbours' values and their ranks among the observed ones are gathered once per
        chunk, not once per (k, power); the arithmetic of each (k, power) is unchanged.
        """
        n_s = values.shape[0]
        # genes per chunk: each (samples x genes x neighbours) float array stays under 64 MB
        chunk = max(1, min(chunk, (1 << 26) // max(1, n_s * index.shape[1] * 8)))
        out = {
            (k, p): (np.full((n_s, len(genes)), np.nan), np.zeros((n_s, len(genes)), dtype=bool))
            for k in ks
            for p in powers
        }
        for start in range(0, len(genes), chunk):
            g = genes[start : start + chunk]
            idx = index[g]  # (G, K)
            has = idx >= 0
            nv = values[:, np.clip(idx, 0, None)]  # (S, G, K)
            observed = has[None] & ~np.isnan(nv)
            rank = np.cumsum(observed, axis=2, dtype=np.int32)
            for k in ks:
                ok = observed & (rank <= k)
                values_or_0 = np.where(ok, nv, 0.0)
                for power in powers:
                    w = np.maximum(dist[g] + self.pseudo_distance, 1.0) ** (-float(power))  # (G, K); >= 1 bp
                    wk = np.where(ok, w[None], 0.0)
                    num = (wk * values_or_0).sum(2)
                    den = wk.sum(2)
                    pred, served = out[(k, power)]
                    with np.errstate(invalid="ignore", divide="ignore"):
                        pred[:, start : start + len(g)] = np.where(
                            den > 0, num / np.where(den > 0, den, 1), np.nan
                        )
                    served[:, start : start + len(g)] = den > 0
        return out

    def _grid(self) -> tuple[list[int], list[int], list[float]]:
        ks = list(self.candidate_k) if self.k == "auto" else [int(self.k)]
        ws = list(self.candidate_window) if self.window == "auto" else [int(self.window)]
        ps = list(self.candidate_power) if self.power == "auto" else [float(self.power)]
        return ks, ws, ps

    def _fit(self, data: ExpressionData) -> None:
        ks, ws, ps = self._grid()
        self.validation_scores_: dict[str, float] = {}
        if len(ks) * len(ws) * len(ps) == 1:
            self.k_, self.window_, self.power_ = ks[0], ws[0], ps[0]
            return
        coords = _coordinate_mask(data.var)
        observed = data.observed
        reference = coords & observed.any(axis=0)
        rng = check_random_state(self.random_state)
        ref_idx = np.flatnonzero(reference)
        n_val = max(1, round(self.validation_fraction * len(ref_idx)))
        if len(ref_idx) < 3:
            self.k_, self.window_, self.power_ = ks[0], ws[0], ps[0]
            return
        val = np.sort(rng.choice(ref_idx, size=min(n_val, len(ref_idx) - 1), replace=False))
        train_ref = reference.copy()
        train_ref[val] = False
        values = data.values.copy()
        values[:, val] = np.nan  # the validation genes are hidden from their neighbours
        truth = data.values[:, val]
        t_obs = ~np.isnan(truth)
        fb = fallback_values(data.with_values(values))[:, val]
        best = (-np.inf, ks[0], ws[0], ps[0])
        k_max = max(ks)
        for window in ws:
            index, dist = self._neighbours(data.var, train_ref, k_max + 10, window)
            grid = self._weighted_grid(values, index, dist, val, ks, ps)
            for k in ks:
                for power in ps:
                    pred, served = grid[(k, power)]
                    pred = np.where(served, pred, fb)
                    r = pearson(pred[t_obs], truth[t_obs])
                    self.validation_scores_[f"k={k},window={window},power={power:g}"] = r
                    if np.isfinite(r) and r > best[0]:
                        best = (r, k, window, power)
        _, self.k_, self.window_, self.power_ = best
        logger.info(
            "%s: chose k=%s window=%s power=%s (validation r=%.3f on %d reference genes)",
            self.name,
            self.k_,
            self.window_,
            self.power_,
            best[0],
            len(val),
        )

    def _predict(self, data: ExpressionData) -> np.ndarray:
        coords = _coordinate_mask(data.var)
        reference = coords & data.observed.any(axis=0)
        # extra neighbours so that k observed ones remain where some neighbours are missing
        k_ext = int(self.k_) * 2 + 10
        index, dist = self._neighbours(data.var, reference, k_ext, self.window_)
        pred, served = self._weighted(data.values, index, dist, np.arange(data.n_genes), self.k_, self.power_)
        pred, self.fallback_mask_ = finalise(pred, data, served)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred


@register
class NearestGeneImputer(DistanceImputer):
    """The value, in the same sample, of the single nearest observed reference gene (by TSS).

    Same machinery and fallback as :class:`DistanceImputer` with ``k=1``; ``window`` may be
    chosen by validation on reference genes (``"auto"``).

    Parameters
    ----------
    window
        Maximum TSS distance in bp, or ``"auto"``.
    candidate_window
        Grid for ``window="auto"``.
    validation_fraction
        Fraction of reference genes hidden for the validation.
    random_state
        Seed for the validation split.
        None is seed 0 (never numpy's global random state).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=200)
    >>> pred = gi.get_method("nearest_gene").fit(adata).predict(adata)
    """

    name = "nearest_gene"

    def __init__(
        self,
        window: int | str = "auto",
        *,
        candidate_window: tuple[int, ...] = (100_000, 1_000_000, 10_000_000),
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
    ):
        super().__init__(
            k=1,
            window=window,
            power=0.0,
            candidate_window=candidate_window,
            validation_fraction=validation_fraction,
            random_state=random_state,
        )
