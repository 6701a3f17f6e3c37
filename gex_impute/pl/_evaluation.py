"""Plots of evaluation tables: methods side by side, interval calibration."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError
from ._utils import axes_or_new, check_show_save, doc_show_save, finish, method_rows, pyplot

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["calibration", "method_comparison", "metrics"]


@overload
def method_comparison(
    results: pd.DataFrame,
    metric: str = ...,
    *,
    protocol_key: str = ...,
    methods: Sequence[str] | None = ...,
    ax: Axes | None = ...,
    show: Literal[True],
    save: str | os.PathLike | bool | None = ...,
) -> None: ...
@overload
def method_comparison(
    results: pd.DataFrame,
    metric: str = ...,
    *,
    protocol_key: str = ...,
    methods: Sequence[str] | None = ...,
    ax: Axes | None = ...,
    show: Literal[False] | None = ...,
    save: str | os.PathLike | bool | None = ...,
) -> Axes: ...
@doc_show_save()
def method_comparison(
    results: pd.DataFrame,
    metric: str = "pearson",
    *,
    protocol_key: str = "protocol",
    methods: Sequence[str] | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Axes | None:
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
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> table = gi.evaluate(adata, protocol="entries", methods=["mean", "knn"], progress=False)
    >>> ax = gi.pl.method_comparison(table, metric="pearson")
    """
    path = check_show_save(show, save, "method_comparison")
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
    return finish(ax, ax, show=show, path=path, own=own)


@overload
def metrics(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] = ...,
    title: str | None = ...,
    show: Literal[True],
    save: str | os.PathLike | bool | None = ...,
) -> None: ...
@overload
def metrics(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] = ...,
    title: str | None = ...,
    show: Literal[False] | None = ...,
    save: str | os.PathLike | bool | None = ...,
) -> Figure: ...
@doc_show_save("Figure")
def metrics(
    results: pd.DataFrame,
    *,
    metrics: Sequence[str] = ("pearson", "spearman", "mse"),
    title: str | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Figure | None:
    """One bar panel per metric (methods side by side, grouped by protocol).

    Parameters
    ----------
    results
        A table from :func:`gex_impute.tl.evaluate`, or several concatenated.
    metrics
        Columns to draw, one panel each; those absent from ``results`` are skipped.
    title
        Figure title.
    {show_save}

    Returns
    -------
    The Figure (None with ``show=True``).

    Examples
    --------
    >>> import pandas as pd
    >>> import gex_impute as gi
    >>> table = pd.DataFrame({"pearson": [0.5, 0.7], "mse": [1.0, 0.6]}, index=["mean", "knn"])
    >>> fig = gi.pl.metrics(table)
    >>> len(fig.axes)
    2
    """
    path = check_show_save(show, save, "metrics")
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
    return finish(fig, fig, show=show, path=path, own=True)


@overload
def calibration(
    results: pd.DataFrame,
    *,
    level_key: str = ...,
    ax: Axes | None = ...,
    show: Literal[True],
    save: str | os.PathLike | bool | None = ...,
) -> None: ...
@overload
def calibration(
    results: pd.DataFrame,
    *,
    level_key: str = ...,
    ax: Axes | None = ...,
    show: Literal[False] | None = ...,
    save: str | os.PathLike | bool | None = ...,
) -> Axes: ...
@doc_show_save()
def calibration(
    results: pd.DataFrame,
    *,
    level_key: str = "interval",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Axes | None:
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
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``): coverage (y) against nominal level (x), the diagonal for
    reference; each point is labelled with the mean interval width.

    Examples
    --------
    >>> import pandas as pd
    >>> import gex_impute as gi
    >>> table = pd.DataFrame({"interval": [0.8, 0.9], "coverage": [0.79, 0.91], "mean_width": [1.0, 1.4]},
    ...                      index=["hybrid", "hybrid"])
    >>> ax = gi.pl.calibration(table)
    """
    path = check_show_save(show, save, "calibration")
    for column in (level_key, "coverage"):
        if column not in results.columns:
            msg = (
                f"the results have no {column!r} column; evaluate with interval=0.9 (a method that "
                "gives intervals) to get coverage."
            )
            raise KeyNotFoundError(msg)
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
    return finish(ax, ax, show=show, path=path, own=own)
