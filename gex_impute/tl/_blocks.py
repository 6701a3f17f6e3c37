"""Pure block functions of :func:`gex_impute.tl.complete`: what one worker computes.

Both take the fitted method and the observed data (the :class:`Context`) first, so that a
dask client can scatter those once and send only the small per-block arguments; run locally,
they are plain function calls. They return values in the input's units and output dtype.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._data import ExpressionData, to_input_units
from ..methods._base import BaseImputer
from ._methods import interval_rows, predict_rows


class Context:
    """The observed data, followed in memory by spare all-missing rows.

    A block's absent profiles become the first spare rows (tissue and donor set): the block's
    data is a view of the observed values and those rows, never a copy of the observed matrix.
    Spare rows are NaN and never written, so blocks running side by side (dask threads) can
    share one context.
    """

    def __init__(self, data: ExpressionData, n_spare: int):
        n_obs, n_genes = data.values.shape
        values = data.values
        data.values = np.empty((0, n_genes))  # drop the other reference: resize in place (realloc)
        try:
            if not values.flags.c_contiguous:  # resize grows row-major memory only
                raise ValueError
            values.resize((n_obs + n_spare, n_genes), refcheck=False)
        except ValueError:  # does not own its memory, or is column-major
            values = np.concatenate([values, np.empty((n_spare, n_genes))])
        values[n_obs:] = np.nan
        self._init(values, n_obs, data)

    def _init(self, padded: np.ndarray, n_obs: int, data: ExpressionData) -> None:
        self.padded = padded
        self.data = replace(data, values=padded[:n_obs])

    def __reduce__(self):
        # pickle the padded matrix once (not also its view)
        empty = np.empty((0, self.data.n_genes))
        return _rebuild_context, (self.padded, self.data.n_samples, replace(self.data, values=empty))

    @property
    def n_spare(self) -> int:
        """Most profiles one block can add."""
        return self.padded.shape[0] - self.data.n_samples

    def with_profiles(
        self, donor_codes: np.ndarray, tissue_codes: np.ndarray, obs: pd.DataFrame
    ) -> ExpressionData:
        """Return the observed data with one all-missing row per (donor, tissue) after it."""
        context, n_new = self.data, len(donor_codes)
        if context.donor is None or context.donor_codes is None:
            msg = "the context has no donors"
            raise ValueError(msg)
        if n_new > self.n_spare:
            msg = f"{n_new} profiles in one block, but the context has {self.n_spare} spare rows."
            raise ValueError(msg)
        tissue = pd.Categorical.from_codes(
            np.concatenate([context.tissue_codes, tissue_codes]), categories=context.tissue.categories
        )
        donor = pd.Categorical.from_codes(
            np.concatenate([context.donor_codes, donor_codes]), categories=context.donor.categories
        )
        new_obs = obs.reindex(columns=context.obs.columns)
        merged = pd.concat([context.obs, new_obs]) if len(context.obs.columns) else None
        if merged is None:
            merged = pd.DataFrame(index=context.obs.index.append(obs.index))
        values = self.padded[: context.n_samples + n_new]
        return replace(context, values=values, tissue=tissue, donor=donor, obs=merged)


def _rebuild_context(padded: np.ndarray, n_obs: int, data: ExpressionData) -> Context:
    context = Context.__new__(Context)
    context._init(padded, n_obs, data)
    return context


def _outputs(method, data, rows, level, dtype) -> dict[str, np.ndarray]:
    pred = predict_rows(method, data, rows)
    out = {"x": to_input_units(pred, data.log1p).astype(dtype, copy=False)}
    if level is not None:
        lower, upper = interval_rows(method, data, rows, level)
        out["lower"] = to_input_units(lower, data.log1p).astype(dtype, copy=False)
        out["upper"] = to_input_units(upper, data.log1p).astype(dtype, copy=False)
    return out


def estimate_profiles(
    method: BaseImputer,
    context: Context,
    donor_codes: np.ndarray,
    tissue_codes: np.ndarray,
    obs: pd.DataFrame,
    level: float | None,
    dtype: np.dtype,
) -> dict[str, np.ndarray]:
    """Estimate absent profiles: one row per (donor, tissue), with the observed data as context.

    Returns ``{"x": (n, n_genes)}`` (plus ``"lower"`` / ``"upper"`` with ``level``) in the
    input's units and ``dtype``.
    """
    data = context.with_profiles(donor_codes, tissue_codes, obs)
    rows = np.arange(context.data.n_samples, data.n_samples)
    out = _outputs(method, data, rows, level, dtype)
    if not np.isfinite(out["x"]).all():
        msg = f"method {method.name!r} returned non-finite estimates of absent profiles; this is a bug in it."
        raise RuntimeError(msg)
    return out


def estimate_holes(
    method: BaseImputer, context: Context, rows: np.ndarray, level: float | None, dtype: np.dtype
) -> dict[str, np.ndarray]:
    """Estimate the missing entries of the observed samples ``rows`` (context rows).

    Returns 1-D arrays over the missing entries of ``context.values[rows]`` in row-major order
    (``np.nonzero``): ``"x"`` (and ``"lower"`` / ``"upper"`` with ``level``).
    """
    out = _outputs(method, context.data, rows, level, dtype)
    missing = np.isnan(context.data.values[rows])
    out = {name: block[missing] for name, block in out.items()}
    if not np.isfinite(out["x"]).all():
        msg = f"method {method.name!r} returned non-finite predictions; this is a bug in it."
        raise RuntimeError(msg)
    return out
