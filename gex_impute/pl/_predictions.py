"""Plots of held-out predictions: predicted against observed, Pearson r per group."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError
from ._utils import axes_or_new, check_show_save, doc_show_save, finish

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["group_r", "predicted_vs_observed"]


@overload
def predicted_vs_observed(
    observed: np.ndarray | pd.DataFrame,
    predicted: np.ndarray | None = ...,
    *,
    kind: str = ...,
    title: str | None = ...,
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
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Axes | None:
    """Predicted against observed values of held-out entries (hexbin for many points).

    Parameters
    ----------
    observed
        Observed values, or a DataFrame with ``observed`` and ``predicted`` columns (one of
        the prediction tables of ``evaluate(..., return_predictions=True)``).
    predicted
        Predicted values (when ``observed`` is an array).
    kind
        ``"hexbin"``, ``"scatter"`` or ``"auto"`` (hexbin above 5,000 points).
    title
        Axes title; the Pearson r and MSE are appended.
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
    if isinstance(observed, pd.DataFrame):
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
    ax.set_title(f"{title + ': ' if title else ''}r = {r:.3f}, MSE = {mse:.3f}", fontsize=9)
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted")
    return finish(ax, ax, show=show, path=path, own=own)


@overload
def group_r(
    predictions: Mapping[str, pd.DataFrame],
    *,
    by: str = ...,
    methods: Sequence[str] | None = ...,
    ax: Axes | None = ...,
    show: Literal[True],
    save: str | os.PathLike | bool | None = ...,
) -> None: ...
@overload
def group_r(
    predictions: Mapping[str, pd.DataFrame],
    *,
    by: str = ...,
    methods: Sequence[str] | None = ...,
    ax: Axes | None = ...,
    show: Literal[False] | None = ...,
    save: str | os.PathLike | bool | None = ...,
) -> Axes: ...
@doc_show_save()
def group_r(
    predictions: Mapping[str, pd.DataFrame],
    *,
    by: str = "tissue",
    methods: Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Axes | None:
    """Pearson r of held-out entries per group (e.g. tissue), one line of points per method.

    Parameters
    ----------
    predictions
        Label -> table with ``observed``, ``predicted`` and a ``by`` column, as returned by
        ``gex_impute.tl.evaluate(..., return_predictions=True)``.
    by
        Column that groups the entries (``"tissue"``, ``"quintile"``, ...).
    methods
        Methods to draw, in this order; all when None.
    ax
        Axes to draw on; a new figure when None.
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import gex_impute as gi
    >>> rng = np.random.default_rng(0)
    >>> obs = rng.normal(size=60)
    >>> pred = {"knn": pd.DataFrame({"observed": obs, "predicted": obs + rng.normal(size=60),
    ...                              "tissue": np.repeat(["a", "b", "c"], 20)})}
    >>> ax = gi.pl.group_r(pred, by="tissue")
    """
    path = check_show_save(show, save, "group_r")
    labels = list(methods) if methods is not None else list(predictions)
    unknown = [label for label in labels if label not in predictions]
    if unknown:
        msg = f"no predictions of {unknown}; the predictions hold {list(predictions)}."
        raise KeyNotFoundError(msg)
    frames = {}
    for label in labels:
        frame = predictions[label]
        if by not in frame.columns:
            msg = f"predictions of {label!r} have no column {by!r}; columns: {list(frame.columns)}"
            raise KeyNotFoundError(msg)
        frames[label] = frame.groupby(by, observed=True, sort=True)[["observed", "predicted"]].apply(
            lambda g: g["observed"].corr(g["predicted"]) if len(g) > 2 else np.nan
        )
    groups = sorted(set().union(*(f.index for f in frames.values())), key=str)
    own = ax is None
    ax = axes_or_new(ax, (max(4.5, 0.35 * len(groups) + 2), 3.6))
    x = np.arange(len(groups))
    for label, series in frames.items():
        ax.plot(x, series.reindex(groups).to_numpy(dtype=float), marker="o", ms=4, lw=1, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels([str(g) for g in groups], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("Pearson r")
    ax.set_xlabel(by)
    ax.legend(fontsize=7)
    return finish(ax, ax, show=show, path=path, own=own)
