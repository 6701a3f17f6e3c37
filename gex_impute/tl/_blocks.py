"""Pure block functions of :func:`gex_impute.tl.complete`: what one worker computes.

Both take the fitted method and the observed data (the *context*) first, so that a dask
client can scatter those once and send only the small per-block arguments; run locally, they
are plain function calls. They return values in the input's units and output dtype.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._data import ExpressionData, to_input_units
from ..methods._base import BaseImputer
from ._methods import interval_rows, predict_rows


def append_profiles(
    context: ExpressionData, donor_codes: np.ndarray, tissue_codes: np.ndarray, obs: pd.DataFrame
) -> ExpressionData:
    """Return ``context`` with one all-missing row per (donor, tissue) appended (codes of ``context``)."""
    n_new = len(donor_codes)
    values = np.empty((context.n_samples + n_new, context.n_genes), dtype=np.float64)
    values[: context.n_samples] = context.values
    values[context.n_samples :] = np.nan
    tissue = pd.Categorical.from_codes(
        np.concatenate([context.tissue_codes, tissue_codes]), categories=context.tissue.categories
    )
    donor = pd.Categorical.from_codes(
        np.concatenate([context.donor_codes, donor_codes]), categories=context.donor.categories
    )
    new_obs = obs.reindex(columns=context.obs.columns)
    frames = [frame for frame in (context.obs, new_obs) if len(frame.columns)]
    merged = pd.concat(frames) if frames else pd.DataFrame(index=context.obs.index.append(obs.index))
    return replace(context, values=values, tissue=tissue, donor=donor, obs=merged)


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
    context: ExpressionData,
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
    data = append_profiles(context, donor_codes, tissue_codes, obs)
    rows = np.arange(context.n_samples, data.n_samples)
    out = _outputs(method, data, rows, level, dtype)
    if not np.isfinite(out["x"]).all():
        msg = f"method {method.name!r} returned non-finite estimates of absent profiles; this is a bug in it."
        raise RuntimeError(msg)
    return out


def estimate_holes(
    method: BaseImputer, context: ExpressionData, rows: np.ndarray, level: float | None, dtype: np.dtype
) -> dict[str, np.ndarray]:
    """Estimate the missing entries of the observed samples ``rows`` (context rows).

    Returns 1-D arrays over the missing entries of ``context.values[rows]`` in row-major order
    (``np.nonzero``): ``"x"`` (and ``"lower"`` / ``"upper"`` with ``level``).
    """
    out = _outputs(method, context, rows, level, dtype)
    missing = np.isnan(context.values[rows])
    out = {name: block[missing] for name, block in out.items()}
    if not np.isfinite(out["x"]).all():
        msg = f"method {method.name!r} returned non-finite predictions; this is a bug in it."
        raise RuntimeError(msg)
    return out
