"""Plots of evaluation results (matplotlib, imported lazily; safe with the Agg backend)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger("gex_impute")

__all__ = ["method_comparison", "predicted_vs_observed"]


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo") and not os.environ.get(
        "DISPLAY"
    ):
        # headless: avoid GUI backends that need a display
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax


def _save(ax: Axes, save: str | os.PathLike | None) -> None:
    if save is None:
        return
    from ._utils import atomic_path

    fig = ax.figure
    fig.tight_layout()
    with atomic_path(save) as tmp:
        fig.savefig(tmp, dpi=150, format=str(save).rsplit(".", 1)[-1])
    logger.info("saved %s", save)


def method_comparison(
    results: pd.DataFrame,
    metric: str = "pearson",
    *,
    protocol_key: str = "protocol",
    methods: Sequence[str] | None = None,
    ax: Axes | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Bar chart of one metric per method, grouped by protocol when several are present.

    Parameters
    ----------
    results
        A table from :func:`gex_impute.evaluate` (index = method), or several concatenated;
        a ``method`` column may replace the index.
    metric
        Column to plot, e.g. ``"pearson"``, ``"mse"``, ``"mean_sample_r"``.
    protocol_key
        Column that groups the bars (one group per protocol); ignored when absent.
    methods
        Methods to show, in this order; all when None.
    ax
        Axes to draw on; a new figure when None.
    save
        Path to write the figure to (format from the suffix, e.g. ``.png``).

    Returns
    -------
    The Axes.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> table = gi.evaluate(adata, protocol="entries", methods=["mean", "knn"], progress=False)
    >>> ax = gi.pl.method_comparison(table, metric="pearson")
    """
    table = results.copy()
    if "method" not in table.columns:
        table = table.rename_axis("method").reset_index()
    if metric not in table.columns:
        msg = f"metric {metric!r} is not a column of the results; choose one of {list(table.columns)}"
        raise KeyError(msg)
    if protocol_key not in table.columns:
        table[protocol_key] = ""
    wide = table.pivot_table(index="method", columns=protocol_key, values=metric, aggfunc="first", sort=False)
    order = list(methods) if methods is not None else list(dict.fromkeys(table["method"]))
    wide = wide.reindex([m for m in order if m in wide.index])
    ax = _axes(ax, (max(4.0, 0.6 * len(wide) * max(1, wide.shape[1]) + 2), 3.5))
    n_groups = wide.shape[1]
    width = 0.8 / max(n_groups, 1)
    x = np.arange(len(wide))
    for i, protocol in enumerate(wide.columns):
        heights = wide[protocol].to_numpy(dtype=float)
        bars = ax.bar(
            x + (i - (n_groups - 1) / 2) * width, np.nan_to_num(heights), width, label=str(protocol)
        )
        for bar, h in zip(bars, heights, strict=True):
            label = "n/a" if not np.isfinite(h) else f"{h:.2f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    ax.set_xticks(x)
    ax.set_xticklabels(wide.index, rotation=45, ha="right")
    ax.set_ylabel(metric)
    if n_groups > 1 or (n_groups == 1 and str(wide.columns[0])):
        ax.legend(title=protocol_key, fontsize=8)
    _save(ax, save)
    return ax


def predicted_vs_observed(
    observed: np.ndarray | pd.DataFrame,
    predicted: np.ndarray | None = None,
    *,
    kind: str = "auto",
    title: str | None = None,
    ax: Axes | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
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
    save
        Path to write the figure to.

    Returns
    -------
    The Axes.

    Examples
    --------
    >>> import numpy as np
    >>> import gex_impute as gi
    >>> obs = np.random.default_rng(0).normal(size=100)
    >>> ax = gi.pl.predicted_vs_observed(obs, obs + 0.1)
    """
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
    ax = _axes(ax, (4.2, 4.0))
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
    _save(ax, save)
    return ax
