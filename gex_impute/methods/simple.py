"""Simple baselines: the tissue mean and an additive gene + tissue (+ donor) model.

Both return a finite prediction for every entry; entries they cannot serve get the shared
fallback (:mod:`gex_impute.methods._fallback`), counted in ``n_fallback_``.
"""

from __future__ import annotations

import logging
import weakref

import numpy as np

from .._data import ExpressionData
from .._utils import array_root
from ..errors import DataError
from ._base import BaseImputer, register
from ._fallback import fallback_rows, fallback_statistics, finalise, group_nanmean
from ._params import Boolean, Interval, SequenceOf, Text

logger = logging.getLogger("gex_impute")

__all__ = ["AdditiveImputer", "MeanImputer"]


@register
class MeanImputer(BaseImputer):
    """Gene mean over the observed samples of the same tissue (optionally also the same group).

    Parameters
    ----------
    group_by
        Extra ``obs`` columns that refine the groups, e.g. ``("species",)`` gives the
        same-species tissue mean on the primate data. Where a gene is not observed in a
        sample's group, the plain tissue mean is used and counted as a fallback.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50)
    >>> pred = gi.get_method("mean").fit(adata).predict(adata)
    """

    name = "mean"
    _parameter_constraints = {"group_by": [SequenceOf(Text(), min_length=0, max_length=20), Text()]}

    def __init__(self, group_by: tuple[str, ...] | list[str] | str = ()):
        self.group_by = group_by
        self._validate_params()

    def _fit(self, data: ExpressionData) -> None:
        keys = self._group_keys(data)  # validates the columns early
        codes = np.asarray(keys.codes)
        means, _ = group_nanmean(data.values, codes, len(keys.categories))
        # what predict_rows needs from the fitted data (not saved: a loaded model predicts in full)
        with np.errstate(invalid="ignore"):
            row_sums, col_sums = np.nansum(data.values, axis=1), np.nansum(data.values, axis=0)
        self._row_state = {
            "groups": {str(k): i for i, k in enumerate(keys.categories)},
            "row_groups": codes.astype(np.int32),  # each fitted row's group (see _state_for)
            "means": means,
            "fallback": fallback_statistics(data),
            "shape": data.values.shape,
            "row_sums": row_sums,  # which data the means belong to (see _state_for)
            "col_sums": col_sums,  # ... with the genes in the fitted order
            "checked": None,
        }

    def __getstate__(self) -> dict:
        # the weak reference of _state_for's check cannot be pickled (a model sent to Dask
        # workers, or saved with pickle): drop it; the copy checks its data again
        state = self.__dict__.copy()
        row_state = state.get("_row_state")
        if row_state is not None and row_state.get("checked") is not None:
            state["_row_state"] = {**row_state, "checked": None}
        return state

    def _group_keys(self, data: ExpressionData):
        cols = [self.group_by] if isinstance(self.group_by, str) else list(self.group_by)
        missing = [c for c in cols if c not in data.obs.columns]
        if missing:
            msg = f"group_by columns {missing} not found in the sample annotation {list(data.obs.columns)}"
            raise DataError(msg)
        import pandas as pd

        # a group = one combination of tissue and the group_by columns (object strings: numpy < 2
        # has no "+" for fixed-width string arrays)
        key = pd.Series(np.asarray(data.tissue, dtype=str), dtype=object)
        for c in cols:
            key = key + "\x1f" + pd.Series(data.obs[c].astype(str).to_numpy(), dtype=object)
        return pd.Categorical(key)

    def _groups(self, data: ExpressionData) -> np.ndarray:
        return np.asarray(self._group_keys(data).codes)

    def _predict(self, data: ExpressionData) -> np.ndarray:
        codes = self._groups(data)
        means, _ = group_nanmean(data.values, codes, int(codes.max()) + 1)
        pred = means[codes]
        pred, self.fallback_mask_ = finalise(pred, data)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred

    def predict_rows(self, data: ExpressionData, rows: np.ndarray) -> np.ndarray:
        """Model-scale predictions of ``data``'s rows ``rows`` from the fitted samples' means.

        For the data :func:`gex_impute.tl.complete` passes (the samples the method was fitted
        on, then all-missing rows appended) this equals ``predict(data)[rows]``, at the cost of
        ``len(rows)`` rows instead of the whole data. A loaded model (whose fitted means are not
        saved), or data that do not start with the fitted samples (a model fitted on another
        cohort), predicts in full and keeps ``rows``: the means of ``data``, as :meth:`predict`.
        """
        rows = np.asarray(rows, dtype=np.int64)
        state = self._state_for(data)
        if state is None:
            return self.predict(data)[rows]
        keys = self._group_keys(_rows_of(data, rows))
        index = np.array([state["groups"].get(str(k), -1) for k in keys], dtype=np.int64)
        pred = state["means"][np.maximum(index, 0)]
        pred[index < 0] = np.nan
        values = data.values[rows]
        bad = ~np.isfinite(pred)
        served = np.flatnonzero(bad.any(axis=1))  # only rows with an entry the means cannot serve
        if len(served):
            tissue = np.asarray(data.tissue.codes)[rows[served]]
            fallback = fallback_rows(values[served], tissue, state["fallback"])
            pred[served] = np.where(bad[served], fallback, pred[served])
        self.fallback_mask_ = bad & np.isnan(values)
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred

    def _row_groups(self, data: ExpressionData, n: int, groups: dict[str, int]) -> np.ndarray:
        """Return the fitted group (-1: none) of each of ``data``'s first ``n`` rows, from their labels."""
        if not self.group_by:  # a group is a tissue: map the few categories, not every row
            lookup = np.array([groups.get(str(c), -1) for c in data.tissue.categories] + [-1])
            return lookup[np.asarray(data.tissue.codes)[:n]]  # code -1 (no tissue): the last entry
        import pandas as pd

        keys = self._group_keys(_rows_of(data, np.arange(n)))
        return pd.Categorical(np.asarray(keys, dtype=object), categories=list(groups)).codes

    def _state_for(self, data: ExpressionData) -> dict | None:
        """Return the fitted means when ``data`` are the fitted samples then all-missing rows, else None.

        Checked by the fitted rows' groups (their tissue and ``group_by`` labels), their sums
        over genes and over samples (the genes in the fitted order) and the other rows holding
        no value; the values once per array (``complete()`` predicts its blocks from one).
        """
        state = getattr(self, "_row_state", None)
        if state is None:
            return None
        n, p = state["shape"]
        if data.values.shape[1] != p or data.values.shape[0] < n:
            return None
        if not np.array_equal(self._row_groups(data, n, state["groups"]), state["row_groups"]):
            return None  # other labels: other means
        root = array_root(data.values)
        checked = state["checked"]
        if checked is not None and checked() is root:
            return state
        head = data.values[:n]
        with np.errstate(invalid="ignore"):
            same = np.array_equal(np.nansum(head, axis=1), state["row_sums"]) and np.array_equal(
                np.nansum(head, axis=0), state["col_sums"]
            )
        if not same or not _all_missing(data.values[n:]):
            return None
        state["checked"] = weakref.ref(root)
        return state


def _all_missing(values: np.ndarray, chunk: int = 1024) -> bool:
    """Whether every entry of ``values`` is NaN (a block of rows at a time)."""
    return all(np.isnan(values[a : a + chunk]).all() for a in range(0, len(values), chunk))


def _rows_of(data: ExpressionData, rows: np.ndarray) -> ExpressionData:
    """Return the rows ``rows`` of ``data`` (their values, tissue, donor and annotation)."""
    from dataclasses import replace

    donor = None if data.donor is None else data.donor[rows]
    return replace(
        data, values=data.values[rows], tissue=data.tissue[rows], donor=donor, obs=data.obs.iloc[rows]
    )


@register
class AdditiveImputer(BaseImputer):
    """Additive model ``mu + gene + tissue (+ donor)`` fitted by alternating least squares.

    Effects are fitted on observed entries with a small ridge penalty (``alpha``) that shrinks
    effects of sparsely observed levels towards zero. A gene never observed gets gene effect 0
    (its entries count as fallbacks), as does a donor never observed.

    Parameters
    ----------
    use_donor
        Include donor effects when donors are known.
    alpha
        Ridge penalty (pseudo-count) on every effect, > 0 (an unobserved gene or donor has
        none to estimate).
    max_iter, tol
        ALS iterations and the stopping tolerance on the largest effect change.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50)
    >>> pred = gi.get_method("additive").fit(adata, donor_key="donor").predict(adata, donor_key="donor")
    """

    name = "additive"
    _parameter_constraints = {
        "use_donor": [Boolean()],
        "alpha": [Interval(float, 0, None, closed="right")],
        "max_iter": [Interval(int, 1, 100_000)],
        "tol": [Interval(float, 0, None)],
    }

    def __init__(self, *, use_donor: bool = True, alpha: float = 1.0, max_iter: int = 50, tol: float = 1e-6):
        self.use_donor = use_donor
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol
        self._validate_params()

    def _fit(self, data: ExpressionData) -> None:
        pass  # transductive: effects are fitted on the data passed to predict

    def _predict(self, data: ExpressionData) -> np.ndarray:
        values = data.values
        observed = ~np.isnan(values)
        obs_f = observed.astype(np.float64)
        y = np.where(observed, values, 0.0)
        t_codes = np.asarray(data.tissue.codes)
        n_t = len(data.tissue.categories)
        donor = data.donor if self.use_donor else None
        use_donor = donor is not None
        d_codes = np.asarray(donor.codes) if donor is not None else np.zeros(data.n_samples, dtype=int)
        n_d = len(donor.categories) if donor is not None else 1
        mu = float(values[observed].mean())
        gene = np.zeros(data.n_genes)
        tissue = np.zeros(n_t)
        donor = np.zeros(n_d)
        n_per_sample = obs_f.sum(1)
        for _ in range(self.max_iter):
            row = tissue[t_codes] + donor[d_codes]
            resid = (y - mu - row[:, None] - gene[None, :]) * obs_f
            mu_new = mu + resid.sum() / max(obs_f.sum(), 1)
            resid -= (mu_new - mu) * obs_f
            mu = mu_new
            # gene effects
            gene_new = (resid + gene[None, :] * obs_f).sum(0) / (obs_f.sum(0) + self.alpha)
            resid -= (gene_new - gene)[None, :] * obs_f
            # tissue effects
            per_sample = resid.sum(1) + tissue[t_codes] * n_per_sample
            tissue_new = np.bincount(t_codes, per_sample, n_t) / (
                np.bincount(t_codes, n_per_sample, n_t) + self.alpha
            )
            resid -= (tissue_new - tissue)[t_codes][:, None] * obs_f
            change = max(np.abs(gene_new - gene).max(), np.abs(tissue_new - tissue).max())
            gene, tissue = gene_new, tissue_new
            if use_donor:
                per_sample = resid.sum(1) + donor[d_codes] * n_per_sample
                donor_new = np.bincount(d_codes, per_sample, n_d) / (
                    np.bincount(d_codes, n_per_sample, n_d) + self.alpha
                )
                change = max(change, np.abs(donor_new - donor).max())
                donor = donor_new
            if change < self.tol:
                break
        self.mu_, self.gene_effect_, self.tissue_effect_, self.donor_effect_ = mu, gene, tissue, donor
        pred = mu + (tissue[t_codes] + donor[d_codes])[:, None] + gene[None, :]
        # a gene never observed has no gene effect: count its missing entries as fallbacks
        unseen = ~observed.any(axis=0)
        self.fallback_mask_ = np.isnan(values) & unseen[None, :]
        self.n_fallback_ = int(self.fallback_mask_.sum())
        return pred
