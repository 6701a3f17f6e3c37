"""Iterative low-rank SVD (softImpute) with validation-chosen rank and shrinkage: ``softimpute``.

One of the matrix-completion baselines (:mod:`gex_impute.methods.matrix`), in either layout of
:class:`~gex_impute.methods._matrix_layout.MatrixImputer`.
"""

from __future__ import annotations

import logging

import numpy as np

from .._data import ExpressionData
from .._utils import check_random_state
from ._base import register
from ._fallback import fallback_values, finalise, unservable
from ._matrix_layout import LAYOUTS, SEED, MatrixImputer
from ._params import Interval, Options, SequenceOf
from ._persistence import JSONValue

logger = logging.getLogger("gex_impute")

__all__ = ["SoftImputer"]


def _svd(matrix: np.ndarray, rank: int | None, random_state: int | None):
    """Leading singular triplets; via the small Gram matrix when one side is short."""
    n, p = matrix.shape
    small = min(n, p)
    rank = small if rank is None else min(rank, small)
    if small <= 1000:
        gram = matrix @ matrix.T if n <= p else matrix.T @ matrix
        evals, evecs = np.linalg.eigh(gram)
        order = np.argsort(evals)[::-1][:rank]
        s = np.sqrt(np.clip(evals[order], 0, None))
        vecs = evecs[:, order]
        keep = s > s[0] * 1e-10 if s.size and s[0] > 0 else np.zeros(s.size, dtype=bool)
        s, vecs = s[keep], vecs[:, keep]
        if n <= p:
            return vecs, s, (matrix.T @ vecs / s).T
        return matrix @ vecs / s, s, vecs.T
    from sklearn.utils.extmath import randomized_svd

    return randomized_svd(matrix, rank, random_state=0 if random_state is None else random_state)


@register
class SoftImputer(MatrixImputer):
    """Iterative low-rank SVD (softImpute, Mazumder et al. 2010) with gene centring.

    Missing entries start at the shared fallback; each iteration centres genes, takes the SVD,
    soft-thresholds the singular values by ``shrinkage`` x (largest singular value), keeps at
    most ``rank`` of them, and puts the reconstruction back into the missing entries until the
    relative change drops below ``tol``. ``shrinkage=0`` with an integer ``rank`` is plain
    "hard impute". Hyperparameters set to ``"auto"`` are chosen by validation: a
    ``validation_fraction`` of the observed entries is hidden and the candidate with the
    lowest MSE on them wins (candidates are fitted from strong to weak shrinkage with warm
    starts). ``rank_`` holds the resulting effective rank. Entries of genes never observed
    and of samples with no observed value carry no information for a low-rank model: they get
    the fallback (counted).

    Parameters
    ----------
    rank
        Largest rank kept, ``None`` for no cap, or ``"auto"`` (chosen from ``candidate_ranks``).
    shrinkage
        Soft threshold as a fraction of the largest singular value, or ``"auto"``.
    candidate_ranks, candidate_shrinkage
        Grids for the ``"auto"`` hyperparameters.
    max_iter, tol
        Iterations and stopping tolerance.
    validation_fraction
        Fraction of observed entries hidden to choose the hyperparameters.
    random_state
        Seed for the validation split and the randomized SVD of large matrices.
        None is seed 0 (never numpy's global random state).
    layout
        ``"samples"`` (samples x genes), ``"donors"`` (donors x (tissue, gene)) or ``"auto"``
        (donors when donors with several tissues are known; see ``MatrixImputer``).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("softimpute").fit(adata).predict(adata)
    """

    name = "softimpute"
    _parameter_constraints = {
        "rank": [Interval(int, 1, None), Options("auto"), None],
        "shrinkage": [Interval(float, 0, 1), Options("auto")],
        "candidate_ranks": [SequenceOf(Interval(int, 1, None), max_length=100)],
        "candidate_shrinkage": [SequenceOf(Interval(float, 0, 1), max_length=100)],
        "max_iter": [Interval(int, 1, 100_000)],
        "tol": [Interval(float, 0, None)],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "random_state": SEED,
        "layout": [LAYOUTS],
    }
    _fitted_schema = {
        "layout_": [Options("samples", "donors")],
        "rank_param_": [Interval(int, 1, None), None],
        "shrinkage_": [Interval(float, 0, 1)],
        "validation_scores_": [JSONValue(max_depth=1)],
    }

    def __init__(
        self,
        rank: int | str | None = None,
        shrinkage: float | str = "auto",
        *,
        candidate_ranks: tuple[int, ...] = (1, 2, 3, 5, 8, 12, 20, 30),
        candidate_shrinkage: tuple[float, ...] = (0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.0),
        max_iter: int = 100,
        tol: float = 1e-4,
        validation_fraction: float = 0.1,
        random_state: int | None = 0,
        layout: str = "auto",
    ):
        self.layout = layout
        self.rank = rank
        self.shrinkage = shrinkage
        self.candidate_ranks = candidate_ranks
        self.candidate_shrinkage = candidate_shrinkage
        self.max_iter = max_iter
        self.tol = tol
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self._validate_params()

    def _complete(
        self, data: ExpressionData, rank: int | None, shrinkage: float, start: np.ndarray | None = None
    ) -> tuple[np.ndarray, int]:
        values = data.values
        observed = data.observed
        init = fallback_values(data) if start is None else start
        z = np.where(observed, values, init)
        norm = np.linalg.norm(z) or 1.0
        low, eff_rank = z, 0
        top = None
        for _ in range(self.max_iter):
            mu = z.mean(axis=0)
            u, s, vt = _svd(z - mu, rank if shrinkage == 0 else None, self.random_state)
            if top is None:
                top = float(s[0]) if s.size else 0.0
            s = np.maximum(s - shrinkage * top, 0.0)
            if rank is not None:
                s = s[:rank]
            eff_rank = int((s > 0).sum())
            low = (u[:, : s.size] * s) @ vt[: s.size] + mu
            z_new = np.where(observed, values, low)
            change = np.linalg.norm(z_new - z) / norm
            z = z_new
            if change < self.tol:
                break
        return low, eff_rank

    def _grid(self, max_rank: int) -> list[tuple[int | None, float]]:
        ranks: list[int | None]
        if self.rank == "auto":
            ranks = [r for r in self.candidate_ranks if r <= max_rank] or [1]
        else:
            ranks = [None if self.rank is None else min(int(self.rank), max_rank)]
        shrinks = (
            sorted(self.candidate_shrinkage, reverse=True) if self.shrinkage == "auto" else [self.shrinkage]
        )
        return [
            (r, float(sh))
            for r in ranks
            for sh in shrinks
            if not (r is None and sh == 0 and len(shrinks) > 1)
        ]

    def _fit_matrix(self, data: ExpressionData) -> None:
        max_rank = max(min(data.values.shape) - 1, 1)
        grid = self._grid(max_rank)
        self.validation_scores_ = {}
        if len(grid) == 1:
            self.rank_param_, self.shrinkage_ = grid[0]
            return
        rng = check_random_state(self.random_state)
        obs_idx = np.flatnonzero(data.observed.ravel())
        n_val = max(1, round(self.validation_fraction * len(obs_idx)))
        val = rng.choice(obs_idx, size=min(n_val, max(len(obs_idx) - 1, 1)), replace=False)
        values = data.values.copy().ravel()
        truth = values[val].copy()
        values[val] = np.nan
        train = data.with_values(values.reshape(data.values.shape))
        best = (np.inf, grid[0])
        warm: dict[int | None, np.ndarray] = {}
        for rank, shrink in grid:  # strong -> weak shrinkage within each rank: warm starts
            low, eff = self._complete(train, rank, shrink, warm.get(rank))
            warm[rank] = low
            mse = float(np.mean((low.ravel()[val] - truth) ** 2))
            self.validation_scores_[f"rank={rank},shrinkage={shrink:g}"] = mse
            if mse < best[0]:
                best = (mse, (rank, shrink))
        self.rank_param_, self.shrinkage_ = best[1]
        logger.info(
            "softimpute: chose rank=%s shrinkage=%g (validation MSE %.4f)",
            self.rank_param_,
            self.shrinkage_,
            best[0],
        )

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        pred, self.rank_ = self._complete(data, self.rank_param_, self.shrinkage_)
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred
