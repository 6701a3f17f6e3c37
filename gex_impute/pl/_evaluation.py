"""Plots of evaluation tables: methods side by side, predicted against observed."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError
from ._utils import axes_or_new, check_save, method_rows, pyplot, save_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["calibration", "group_r", "method_comparison", "metrics", "predicted_vs_observed"]


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
        A table from :func:`gex_impute.tl.evaluate` (index = method), or several concatenated;
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
    check_save(save)
    table = method_rows(results)
    if metric not in table.columns:
        msg = f"metric {metric!r} is not a column of the results; choose one of {list(table.columns)}"
        raise KeyNotFoundError(msg)
    if protocol_key not in table.columns:
        table[protocol_key] = ""
    wide = table.pivot_table(index="method", columns=protocol_key, values=metric, aggfunc="first", sort=False)
    order = list(methods) if methods is not None else list(dict.fromkeys(table["method"]))
    wide = wide.reindex([m for m in order if m in wide.index])
    own = ax is None
    ax = axes_or_new(ax, (max(4.0, 0.6 * len(wide) * max(1, wide.shape[1]) + 2), 3.5))
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
    save_figure(ax, save, close=own)
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
    check_save(save)
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
    save_figure(ax, save, close=own)
    return ax


def metrics(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] = ("pearson", "spearman", "mse"),
    title: str | None = None,
    save: str | os.PathLike | None = None,
):
    """One bar panel per metric (methods side by side, grouped by protocol).

    Parameters
    ----------
    results
        A table from :func:`gex_impute.tl.evaluate`, or several concatenated.
    metrics
        Columns to draw, one panel each; those absent from ``results`` are skipped.
    title
        Figure title.
    save
        Path to write the figure to (format from the suffix).

    Returns
    -------
    The matplotlib Figure.

    Examples
    --------
    >>> import pandas as pd
    >>> import gex_impute as gi
    >>> table = pd.DataFrame({"pearson": [0.5, 0.7], "mse": [1.0, 0.6]}, index=["mean", "knn"])
    >>> fig = gi.pl.metrics(table)
    >>> len(fig.axes)
    2
    """
    check_save(save)
    present = [m for m in metrics if m in results.columns]
    if not present:
        msg = f"the results have none of the columns {list(metrics)}; columns: {list(results.columns)}"
        raise KeyNotFoundError(msg)
    n = method_rows(results)["method"].nunique()
    plt = pyplot()
    fig, axes = plt.subplots(
        1, len(present), figsize=(max(3.2, 0.7 * n + 1.5) * len(present), 3.6), squeeze=False
    )
    for ax, metric in zip(axes[0], present, strict=True):
        method_comparison(results, metric, ax=ax)
        ax.set_title(metric)
    if title:
        fig.suptitle(title)
    save_figure(fig, save, close=True)
    return fig


def group_r(
    predictions: Mapping[str, pd.DataFrame],
    *,
    by: str = "tissue",
    methods: Sequence[str] | None = None,
    ax: Axes | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
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
    save
        Path to write the figure to.

    Returns
    -------
    The Axes.

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
    check_save(save)
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
    save_figure(ax, save, close=own)
    return ax


def calibration(
    results: pd.DataFrame,
    *,
    level_key: str = "interval",
    ax: Axes | None = None,
    save: str | os.PathLike | None = None,
) -> Axes:
    """Empirical coverage of prediction intervals against their nominal level, per method.

    Parameters
    ----------
    results
        A table from :func:`gex_impute.tl.evaluate` with ``coverage`` and ``mean_width``
        columns and the nominal level in ``level_key`` (one row per method and level; tables
        of several protocols joined give one line per method and protocol).
    level_key
        Column holding the nominal level (e.g. 0.9).
    ax
        Axes to draw on; a new figure when None.
    save
        Path to write the figure to.

    Returns
    -------
    The Axes: coverage (y) against nominal level (x), the diagonal for reference; each point
    is labelled with the mean interval width.

    Examples
    --------
    >>> import pandas as pd
    >>> import gex_impute as gi
    >>> table = pd.DataFrame({"interval": [0.8, 0.9], "coverage": [0.79, 0.91], "mean_width": [1.0, 1.4]},
    ...                      index=["hybrid", "hybrid"])
    >>> ax = gi.pl.calibration(table)
    """
    for column in (level_key, "coverage"):
        if column not in results.columns:
            msg = (
                f"the results have no {column!r} column; evaluate with interval=0.9 (a method that "
                "gives intervals) to get coverage."
            )
            raise KeyNotFoundError(msg)
    check_save(save)
    table = method_rows(results).dropna(subset=["coverage"])
    own = ax is None
    ax = axes_or_new(ax, (4.2, 4.0))
    # joined tables of several protocols (as the other evaluation plots take): one line each
    by_protocol = "protocol" in table.columns and table["protocol"].nunique() > 1
    for key, rows in table.groupby(["method", "protocol"] if by_protocol else "method", sort=False):
        rows = rows.sort_values(level_key)
        label = " ".join(str(k) for k in key) if by_protocol else str(key)
        ax.plot(rows[level_key], rows["coverage"], marker="o", label=label)
        if "mean_width" in rows.columns:
            for lvl, cov, width in zip(rows[level_key], rows["coverage"], rows["mean_width"], strict=True):
                ax.annotate(
                    f"w={width:.2f}", (lvl, cov), fontsize=6, xytext=(3, -8), textcoords="offset points"
                )
    lo = float(min(table[level_key].min(), table["coverage"].min(), 0.5))
    ax.plot([lo, 1], [lo, 1], color="grey", lw=0.8, ls="--")
    ax.set_xlabel("nominal level")
    ax.set_ylabel("empirical coverage")
    ax.legend(fontsize=7)
    save_figure(ax, save, close=own)
    return ax
