"""Plots of evaluation tables: methods side by side (interval calibration: ``_calibration``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError
from ._calibration import calibration
from ._utils import (
    axes_constrained,
    check_show_save,
    doc_show_save,
    finish,
    method_rows,
    pyplot,
    text_boxes,
    unknown_names,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["calibration", "method_comparison", "metrics"]  # calibration: from _calibration


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

    Each bar is labelled with its value, with as many decimals (2 to 6) as it takes to tell the
    panel's values apart, down to the digit where its two closest values differ; where the
    labels would overlap (too many bars for the width) none is drawn. Correlations
    (``pearson``, ``spearman``, ``*_r``) that are all 0.5 or more are drawn on a y axis
    starting just below the lowest value, not at 0, so that methods at r 0.975 and 0.982
    differ visibly (``ax.set_ylim(0, 1)`` afterwards gives bars from 0). The protocol legend
    sits to the right of the axes.

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
        Methods to show, in this order; all when None. A name the results lack raises
        :class:`~gex_impute.errors.KeyNotFoundError` listing the methods they hold.
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
    wide = _wide(table, metric, protocol_key, methods)
    legend = _has_legend(wide)
    width = min(16.0, max(4.0, 0.6 * len(wide) * max(1, wide.shape[1]) + 2) + (1.3 if legend else 0))
    ax, own = axes_constrained(ax, (width, 3.5))
    _bars(ax, wide, metric)
    if legend:
        ax.legend(title=protocol_key, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    _drop_crowded_labels([ax])
    return finish(ax, ax, show=show, path=path, own=own)


#: evaluate()'s metric columns: those :func:`metrics` skips when a table lacks them
KNOWN_METRICS = (
    "pearson",
    "spearman",
    "mse",
    "mean_gene_r",
    "mean_sample_r",
    "mean_tissue_r",
    "coverage",
    "mean_width",
    "n_heldout",
    "n_fallback",
    "fit_seconds",
    "predict_seconds",
)


def _wide(table: pd.DataFrame, metric: str, protocol_key: str, methods: Sequence[str] | None) -> pd.DataFrame:
    """Return ``metric`` as a method x protocol table, methods in the asked (or the table's) order."""
    if protocol_key not in table.columns:
        table = table.assign(**{protocol_key: ""})
    wide = table.pivot_table(index="method", columns=protocol_key, values=metric, aggfunc="first", sort=False)
    if methods is None:
        return wide.reindex(list(dict.fromkeys(table["method"])))
    unknown_names(list(methods), list(dict.fromkeys(table["method"])), "method", "results")
    return wide.reindex(list(methods))


def _has_legend(wide: pd.DataFrame) -> bool:
    """Whether the protocols need a legend: several, or one with a name."""
    return wide.shape[1] > 1 or (wide.shape[1] == 1 and bool(str(wide.columns[0])))


def _decimals(values: np.ndarray) -> int:
    """Return the decimals (2 to 6) that tell the distinct ``values`` apart, down to their closest pair."""
    values = np.unique(values[np.isfinite(values)])
    if values.size == 0:
        return 2
    smallest = np.abs(values[values != 0]).min() if (values != 0).any() else 1.0
    gap = np.diff(values).min() if values.size > 1 else 1.0  # the closest pair: its digit shows
    decimals = int(min(6, max(2, -np.floor(np.log10(smallest)) + 1, np.ceil(-np.log10(gap)))))
    while decimals < 6 and np.unique(np.round(values, decimals)).size < values.size:
        decimals += 1
    return decimals


def _is_correlation(metric: str) -> bool:
    return metric in ("pearson", "spearman", "r") or metric.endswith("_r") or "corr" in metric


def _bars(ax: Axes, wide: pd.DataFrame, metric: str) -> None:
    """Draw the bars of ``wide`` (one colour per protocol) with value labels on ``ax``."""
    values = wide.to_numpy(dtype=float)
    finite = values[np.isfinite(values)]
    decimals = _decimals(finite)
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    bottom = 0.0
    if _is_correlation(metric) and finite.size and lo >= 0.5:  # r near 1: show the differences
        pad = max(hi - lo, 0.005)
        step = 10.0 ** np.floor(np.log10(pad))
        bottom = float(np.floor(max(0.0, lo - pad) / step) * step)
    n_groups = wide.shape[1]
    width = 0.8 / max(n_groups, 1)
    x = np.arange(len(wide))
    for i, protocol in enumerate(wide.columns):
        heights = wide[protocol].to_numpy(dtype=float)
        bars = ax.bar(
            x + (i - (n_groups - 1) / 2) * width, np.nan_to_num(heights), width, label=str(protocol)
        )
        for bar, h in zip(bars, heights, strict=True):
            ax.annotate(
                f"{h:.{decimals}f}" if np.isfinite(h) else "n/a",
                (bar.get_x() + bar.get_width() / 2, h if np.isfinite(h) else bottom),
                xytext=(0, 1 if not h < 0 else -1),
                textcoords="offset points",
                ha="center",
                va="top" if h < 0 else "bottom",
                fontsize=7,
                gid="value",
            )
    ax.set_xticks(x)
    names = [str(m) for m in wide.index]
    long = max((len(m) for m in names), default=0) > 4 or len(names) > 6
    ax.set_xticklabels(names, rotation=45 if long else 0, ha="right" if long else "center")
    ax.set_ylabel(metric)
    if bottom > 0:
        ax.set_ylim(bottom, hi + 0.15 * (hi - bottom))
    else:  # from 0, room above (and below, for negative values) for the labels
        low, top = min(lo, 0.0), max(hi, 0.0)
        span = (top - low) or 1.0
        ax.set_ylim(low - (0.1 * span if low < 0 else 0.0), top + 0.15 * span)


def _drop_crowded_labels(axes: list[Axes]) -> None:
    """Remove every value label of an Axes where two of them overlap (too many bars to read)."""
    for ax in axes:
        texts = [t for t in ax.texts if t.get_gid() == "value"]
        boxes = text_boxes(texts)
        if any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]):
            for text in texts:
                text.remove()


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

    Each panel is drawn as :func:`method_comparison` draws it (value labels, a zoomed y axis
    for correlations near 1); one protocol legend serves the whole figure, to the right of the
    panels. Panels that would make the figure wider than about 16 inches go on further rows.

    Parameters
    ----------
    results
        A table from :func:`gex_impute.tl.evaluate`, or several concatenated.
    metrics
        Columns to draw, one panel each. Metrics of evaluate that ``results`` lacks (e.g.
        ``coverage`` without ``interval=``) are skipped; any other name that is not a column
        raises :class:`~gex_impute.errors.KeyNotFoundError` naming it and the columns.
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
    unknown = [m for m in metrics if m not in results.columns and m not in KNOWN_METRICS]
    if unknown:
        numeric = [str(c) for c in results.select_dtypes("number").columns]
        msg = f"metrics {unknown} are not columns of the results; choose from {numeric}."
        raise KeyNotFoundError(msg)
    present = [m for m in metrics if m in results.columns]
    if not present:
        msg = f"the results have none of the columns {list(metrics)}; columns: {list(results.columns)}"
        raise KeyNotFoundError(msg)
    table = method_rows(results)
    walls = [_wide(table, metric, "protocol", None) for metric in present]
    n_bars = len(walls[0]) * max(1, walls[0].shape[1])
    legend = _has_legend(walls[0])
    panel = min(8.0, max(3.2, 0.55 * n_bars + 1.2))
    ncols = max(1, min(len(present), int(16.0 // panel)))  # at most ~16 in wide: more rows
    nrows = -(-len(present) // ncols)
    fig, grid = pyplot().subplots(
        nrows,
        ncols,
        figsize=(panel * ncols + (1.3 if legend else 0), 3.6 * nrows),
        squeeze=False,
        layout="constrained",
    )
    axes = list(grid.flat)
    for extra in axes[len(present) :]:
        fig.delaxes(extra)
    axes = axes[: len(present)]
    for ax, metric, wide in zip(axes, present, walls, strict=True):
        _bars(ax, wide, metric)
        ax.set_title(metric)
    if legend:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, title="protocol", fontsize=8, loc="outside right upper")
    if title:
        fig.suptitle(title)
    _drop_crowded_labels(axes)
    return finish(fig, fig, show=show, path=path, own=True)
