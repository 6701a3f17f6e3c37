"""PCA + ridge regression (after HYFA's TEEBoT baseline): ``pca_regression``.

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

__all__ = ["PCARegressionImputer"]


@register
class PCARegressionImputer(MatrixImputer):
    """PCA + linear regression (after HYFA's "TEEBoT" baseline), adapted to a partial matrix.

    Genes are the observations. For each sample with missing entries, the other samples'
    values (missing ones filled with the shared fallback) are reduced to ``n_components``
    principal components across genes, and a ridge regression from those components to the
    target sample's values is fitted on the genes observed in it; it predicts the genes
    missing there. With more than ``max_exact_samples`` samples, one PCA of all samples is
    shared by every target (cheaper; the target's own observed values then enter its
    predictors). A gene never observed, or a sample with no observed value, cannot be
    served and gets the fallback (counted).

    Parameters
    ----------
    n_components
        Number of principal components (HYFA: 30; capped by the data size), or ``"auto"``:
        chosen at ``fit`` from ``candidate_components`` by validation on observed values
        only: each row's observed columns are split into blocks (its tissue profiles in the
        ``"donors"`` layout, five random gene sets otherwise); each block is predicted from
        a regression fitted on the others, and the lowest total squared error wins.
    candidate_components
        Grid for ``n_components="auto"``.
    alpha
        Ridge penalty of the regression, > 0 (0 leaves hidden-data refits singular).
    max_exact_samples
        Above this many samples (rows), use one shared PCA.
    layout
        ``"samples"``: rows are samples, as described above; ``"donors"``: rows are donors
        holding all their tissues side by side, so a donor's missing tissue is regressed on
        the other donors' PCs over the (tissue, gene) values it has (closest to HYFA's
        TEEBoT, which predicts a tissue from a donor's other tissues); ``"auto"``: donors when
        donors with several tissues are known.
    random_state
        Seed for the validation blocks and the rows the validation reads.
        None is seed 0 (never numpy's global random state).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> pred = gi.get_method("pca_regression").fit(adata).predict(adata)
    """

    name = "pca_regression"
    _parameter_constraints = {
        "n_components": [Interval(int, 1, 10_000), Options("auto")],
        "candidate_components": [SequenceOf(Interval(int, 1, 10_000), max_length=100)],
        "alpha": [Interval(float, 0, None, closed="right")],
        "max_exact_samples": [Interval(int, 1, None)],
        "layout": [LAYOUTS],
        "random_state": SEED,
    }
    _fitted_schema = {
        "layout_": [Options("samples", "donors")],
        "n_components_": [Interval(int, 1, 10_000)],
        "validation_scores_": [JSONValue(max_depth=1)],
    }

    def __init__(
        self,
        n_components: int | str = "auto",
        *,
        candidate_components: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 30),
        alpha: float = 1.0,
        max_exact_samples: int = 200,
        layout: str = "auto",
        random_state: int | None = 0,
    ):
        self.n_components = n_components
        self.candidate_components = candidate_components
        self.random_state = random_state
        self.alpha = alpha
        self.max_exact_samples = max_exact_samples
        self.layout = layout
        self._validate_params()

    @staticmethod
    def _pcs(x: np.ndarray, n_components: int) -> np.ndarray:
        xc = x - x.mean(axis=0)
        u, s, _ = np.linalg.svd(xc, full_matrices=False)
        return u[:, :n_components] * s[:n_components]

    def _regress(self, pcs: np.ndarray, y: np.ndarray, train: np.ndarray) -> np.ndarray:
        design = np.column_stack([np.ones(len(pcs)), pcs])
        a = design[train]
        penalty = self.alpha * np.eye(a.shape[1])
        penalty[0, 0] = 0.0  # no penalty on the intercept
        coef = np.linalg.solve(a.T @ a + penalty, a.T @ y[train])
        return design @ coef

    def _fit_matrix(self, data: ExpressionData) -> None:
        n_s = data.n_samples
        self.validation_scores_ = {}
        if self.n_components != "auto":
            self.n_components_ = int(self.n_components)
            return
        cands = sorted({min(int(c), max(n_s - 1, 1)) for c in self.candidate_components})
        values, observed = data.values, data.observed
        filled = np.where(observed, values, fallback_values(data))
        seen = observed.any(axis=0)
        groups = getattr(self, "_col_groups", None)
        if groups is None:
            groups = check_random_state(self.random_state).integers(0, 5, data.n_genes)
        rng = check_random_state(self.random_state)
        rows = np.arange(n_s) if n_s <= 60 else np.sort(rng.choice(n_s, 60, replace=False))
        sse = np.zeros(len(cands))
        shared = self._pcs(filled.T, max(cands)) if n_s > self.max_exact_samples else None
        for s_i in rows:
            avail = observed[s_i] & seen
            if avail.sum() < 10 or n_s < 2:
                continue
            pcs_all = (
                shared if shared is not None else self._pcs(np.delete(filled, s_i, axis=0).T, max(cands))
            )
            y = np.where(observed[s_i], values[s_i], 0.0)
            for g in np.unique(groups[avail]):
                val = avail & (groups == g)
                train = avail & (groups != g)
                if train.sum() < 3:
                    continue
                for j, c in enumerate(cands):
                    pred = self._regress(pcs_all[:, :c], y, train)
                    sse[j] += float(((pred[val] - y[val]) ** 2).sum())
        self.validation_scores_ = {f"n_components={c}": float(e) for c, e in zip(cands, sse, strict=True)}
        self.n_components_ = cands[int(np.argmin(sse))] if sse.any() else cands[-1]
        logger.info("pca_regression: chose n_components=%d", self.n_components_)

    def _predict_matrix(self, data: ExpressionData) -> np.ndarray:
        values = data.values
        observed = data.observed
        filled = np.where(observed, values, fallback_values(data))  # samples x genes
        n_s = data.n_samples
        pred = np.full(values.shape, np.nan)
        seen_genes = observed.any(axis=0)
        shared = None
        if n_s > self.max_exact_samples:
            shared = self._pcs(filled.T, min(self.n_components_, n_s - 1))
        for s in range(n_s):
            miss = ~observed[s]
            train = observed[s] & seen_genes
            if not miss.any() or train.sum() < 3 or n_s < 2:
                continue
            if shared is None:
                others = np.delete(filled, s, axis=0).T  # genes x other samples
                n_comp = max(1, min(self.n_components_, others.shape[1], int(train.sum()) - 2))
                pcs = self._pcs(others, n_comp)
            else:
                pcs = shared
            pred[s] = self._regress(pcs, np.where(observed[s], values[s], 0.0), train)
        pred, self.fallback_mask_ = finalise(pred, data, ~unservable(data))
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred
