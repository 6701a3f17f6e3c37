"""Plots of held-out predictions: predicted against observed, Pearson r per group."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError, ParameterError
from ._group_r import group_r
from ._utils import axes_or_new, check_show_save, doc_show_save, finish

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["group_r", "predicted_vs_observed"]  # group_r: from _group_r


@overload
def predicted_vs_observed(
    observed: np.ndarray | pd.DataFrame,
    predicted: np.ndarray | None = ...,
    *,
    kind: str = ...,
    title: str | None = ...,
    scale: str | None = ...,
    ax: Axes | None = ...,
    show: Literal[True],
    save: str | os.PathLike | bool | None = ...,
) -> None: ...
@overload
def predicted_vs_observed(
    observed: np.ndarray | pd.DataFrame,
    predicted: np.ndarray | None = ...,
    *,
    kind: str = ...,
    title: str | None = ...,
    scale: str | None = ...,
    ax: Axes | None = ...,
    show: Literal[False] | None = ...,
    save: str | os.PathLike | bool | None = ...,
) -> Axes: ...
@doc_show_save()
def predicted_vs_observed(
    observed: np.ndarray | pd.DataFrame,
    predicted: np.ndarray | None = None,
    *,
    kind: str = "auto",
    title: str | None = None,
    scale: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Axes | None:
    """Predicted against observed values of held-out entries (hexbin for many points).

    Parameters
    ----------
    observed
        Observed values, or a DataFrame with ``observed`` and ``predicted`` columns: one of
        the prediction tables of ``evaluate(..., return_predictions=True)``, e.g.
        ``predictions["knn"]`` (the whole dict of methods raises, naming them).
    predicted
        Predicted values (when ``observed`` is an array).
    kind
        ``"hexbin"``, ``"scatter"`` or ``"auto"`` (hexbin above 5,000 points).
    title
        Axes title; the Pearson r and MSE are appended, and below them the number of entries
        drawn and of those left out because the observed or predicted value is NaN.
    scale
        The values' scale, written in the axis labels (``"observed (log1p)"``): evaluate scores
        on log1p when its table's ``log1p`` column is True, and its prediction tables are on
        that scale. None: the labels name no scale.
    ax
        Axes to draw on; a new figure when None.
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``).

    Examples
    --------
    >>> import numpy as np
    >>> import gex_impute as gi
    >>> obs = np.random.default_rng(0).normal(size=100)
    >>> ax = gi.pl.predicted_vs_observed(obs, obs + 0.1)
    """
    path = check_show_save(show, save, "predicted_vs_observed")
    if isinstance(observed, Mapping):
        names = list(observed)
        example = f"predictions[{names[0]!r}]" if names else "predictions['knn']"
        msg = (
            f"predicted_vs_observed draws one method: pick one of the {len(names)} tables, e.g. "
            f"predicted_vs_observed({example}); the dict holds {[str(n) for n in names]}."
        )
        raise ParameterError(msg)
    if isinstance(observed, pd.DataFrame):
        missing = [c for c in ("observed", "predicted") if c not in observed.columns]
        if missing:
            msg = (
                f"the table has no column {missing[0]!r}"
                + (f" nor {missing[1]!r}" if len(missing) > 1 else "")
                + "; predicted_vs_observed needs 'observed' and 'predicted' columns, as in the "
                f"prediction tables of evaluate(..., return_predictions=True); its columns: "
                f"{[str(c) for c in observed.columns]}"
            )
            raise KeyNotFoundError(msg)
        predicted = observed["predicted"].to_numpy(dtype=float)
        observed = observed["observed"].to_numpy(dtype=float)
    if predicted is None:
        msg = "pass predicted= values, or a DataFrame with 'observed' and 'predicted' columns."
        raise ValueError(msg)
    obs = np.asarray(observed, dtype=float).ravel()
    pred = np.asarray(predicted, dtype=float).ravel()
    if obs.shape != pred.shape:
        msg = f"observed ({obs.size}) and predicted ({pred.size}) differ in length."
        raise ValueError(msg)
    if kind not in ("auto", "hexbin", "scatter"):
        msg = f"kind={kind!r}; use 'hexbin', 'scatter' or 'auto'."
        raise ValueError(msg)
    own = ax is None
    ax = axes_or_new(ax, (4.2, 4.0))
    if kind == "hexbin" or (kind == "auto" and obs.size > 5000):
        hb = ax.hexbin(obs, pred, gridsize=60, bins="log", mincnt=1, cmap="viridis")
        ax.figure.colorbar(hb, ax=ax, label="entries (log)")
    else:
        ax.scatter(obs, pred, s=4, alpha=0.5, linewidths=0)
    finite = np.isfinite(obs) & np.isfinite(pred)
    if finite.any():
        lo = float(min(obs[finite].min(), pred[finite].min()))
        hi = float(max(obs[finite].max(), pred[finite].max()))
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
    r = np.corrcoef(obs[finite], pred[finite])[0, 1] if finite.sum() > 2 else np.nan
    mse = float(np.mean((obs[finite] - pred[finite]) ** 2)) if finite.any() else np.nan
    dropped = int(obs.size - finite.sum())
    counts = f"n = {int(finite.sum()):,}" + (f" ({dropped:,} with NaN left out)" if dropped else "")
    ax.set_title(f"{title + ': ' if title else ''}r = {r:.3f}, MSE = {mse:.3f}\n{counts}", fontsize=9)
    ax.set_xlabel(f"observed ({scale})" if scale else "observed")
    ax.set_ylabel(f"predicted ({scale})" if scale else "predicted")
    return finish(ax, ax, show=show, path=path, own=own)
