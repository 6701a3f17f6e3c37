"""Pearson r of held-out entries per group (tissue, quintile, gene, sample), per method."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError, ParameterError
from ._utils import (
    MARKERS,
    axes_constrained,
    check_show_save,
    colours,
    doc_show_save,
    finish,
    unknown_names,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["MAX_GROUPS", "group_r"]

#: above this many groups, group_r draws each method's distribution of per-group r
MAX_GROUPS = 60
_QUINTILES = ("Q1", "Q2", "Q3", "Q4", "Q5")


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
    """Pearson r of held-out entries per group (e.g. tissue), per method.

    The layout follows the groups, and the figure stays within 16 x 14 inches:

    - unordered groups (tissues, genes, samples), up to ``MAX_GROUPS`` (60): one row per
      group, its name read horizontally, r on the x axis; each method is a marker of its own,
      offset a little from the others so that equal values stay visible; no lines (the
      groups have no order).
    - ordered groups (``quintile``, numbers, an ordered categorical), up to 60: the groups
      along the x axis, one line per method (offset a little from the others).
    - more than 60 groups (``by="sample"`` or ``"gene"`` at scale): one box per method of its
      per-group r, the groups as jittered points over it (at most 5,000 per method).

    Groups with fewer than three finite pairs get no r.

    Parameters
    ----------
    predictions
        Label -> table with ``observed``, ``predicted`` and a ``by`` column, as returned by
        ``gex_impute.tl.evaluate(..., return_predictions=True)``; for one method's table,
        pass ``{"knn": predictions["knn"]}``.
    by
        Column that groups the entries (``"tissue"``, ``"quintile"``, ...).
    methods
        Methods to draw, in this order; all when None.
    ax
        Axes to draw on; a new figure when None.
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``). Up to 60 groups, each method is one ``Line2D``
    labelled with its name (r in its x data for unordered groups, in its y data for ordered).

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
    if isinstance(predictions, pd.DataFrame) or not isinstance(predictions, Mapping):
        msg = (
            f"group_r takes a dict {{label: table}}, not a {type(predictions).__name__}: for one "
            "method's table, pass {'knn': predictions['knn']}; for all of them, the dict that "
            "evaluate(..., return_predictions=True) returns."
        )
        raise ParameterError(msg)
    labels = list(methods) if methods is not None else list(predictions)
    unknown_names(labels, list(predictions), "predictions of", "predictions")
    frames = {label: _per_group_r(predictions[label], by, label) for label in labels}
    groups, ordered = _groups(frames, [predictions[label][by] for label in labels], by)
    n = len(groups)
    longest = max((len(str(g)) for g in groups), default=1)
    legend_w = 0.3 + 0.07 * max((len(str(label)) for label in labels), default=4)
    if n > MAX_GROUPS:
        ax, own = axes_constrained(ax, (min(12.0, max(4.0, 1.1 * len(labels) + 2)), 4.0))
        _distributions(ax, frames, by, n)
    elif ordered:
        ax, own = axes_constrained(ax, (min(16.0, max(4.5, 0.35 * n + 2.5) + legend_w), 3.6))
        _ordered(ax, frames, groups, by, rotate=longest > 6)
    else:
        height = min(14.0, max(3.0, (0.16 + 0.04 * len(labels)) * n + 1.3))
        ax, own = axes_constrained(ax, (min(16.0, 3.6 + 0.055 * longest + legend_w), height))
        _categories(ax, frames, groups, by)
    return finish(ax, ax, show=show, path=path, own=own)


def _per_group_r(frame: pd.DataFrame, by: str, label: str) -> pd.Series:
    """Return the Pearson r of ``observed`` and ``predicted`` per ``by`` group (NaN below 3 pairs)."""
    missing = [c for c in (by, "observed", "predicted") if c not in frame.columns]
    if missing:
        msg = f"predictions of {label!r} have no column {missing[0]!r}; columns: {list(frame.columns)}"
        raise KeyNotFoundError(msg)
    x = frame["observed"].to_numpy(dtype=float)
    y = frame["predicted"].to_numpy(dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    key = frame[by][ok]
    x, y = x[ok], y[ok]
    grouped = pd.DataFrame({"x": x, "y": y}, index=key.index).groupby(key, observed=True, sort=False)
    dx = x - grouped["x"].transform("mean").to_numpy()
    dy = y - grouped["y"].transform("mean").to_numpy()
    sums = pd.DataFrame({"xy": dx * dy, "xx": dx * dx, "yy": dy * dy}, index=key.index)
    sums = sums.groupby(key, observed=True, sort=False).sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        r = sums["xy"] / np.sqrt(sums["xx"] * sums["yy"])
    r[grouped.size().reindex(r.index) <= 2] = np.nan
    every = pd.Index(pd.unique(frame[by].dropna()))
    return r.reindex(every)


def _groups(frames: dict[str, pd.Series], columns: list[pd.Series], by: str) -> tuple[list, bool]:
    """Return the groups in drawing order and whether they are ordered (quintiles, numbers, ordered)."""
    groups = set().union(*(f.index for f in frames.values()))
    column = columns[0] if columns else pd.Series(dtype=object)
    if isinstance(column.dtype, pd.CategoricalDtype):
        order = [c for c in column.cat.categories if c in groups]
        return order + sorted(groups - set(order), key=str), bool(column.cat.ordered)
    if groups and groups <= set(_QUINTILES):
        return [q for q in _QUINTILES if q in groups], True
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        return sorted(groups), True
    return sorted(groups, key=str), by == "quintile"


def _offsets(k: int, slot: float = 0.6) -> np.ndarray:
    """Return ``k`` offsets centred on 0, spread over at most ``slot`` of a group's width."""
    step = min(slot / max(k, 1), 0.25)
    return (np.arange(k) - (k - 1) / 2) * step


def _legend(ax: Axes) -> None:
    ax.legend(
        title="method",
        fontsize=7,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
        borderaxespad=0,
    )


def _categories(ax: Axes, frames: dict[str, pd.Series], groups: list, by: str) -> None:
    """One row per group (names horizontal), r along x; a marker per method, offset; no lines."""
    from matplotlib.ticker import MaxNLocator

    y = np.arange(len(groups))
    colour = colours(len(frames))
    for i, (label, offset) in enumerate(zip(frames, _offsets(len(frames), 0.7), strict=True)):
        r = frames[label].reindex(groups).to_numpy(dtype=float)
        ax.plot(
            r, y + offset, ls="none", marker=MARKERS[i % len(MARKERS)], ms=5, color=colour[i], label=label
        )
    ax.set_yticks(y, [str(g) for g in groups], fontsize=7)
    ax.set_yticks(y[:-1] + 0.5, minor=True)
    ax.tick_params(axis="y", which="minor", length=0)
    ax.grid(axis="y", which="minor", lw=0.4, alpha=0.5)
    ax.grid(axis="x", lw=0.4, alpha=0.5)
    ax.set_ylim(len(groups) - 0.5, -0.5)  # the first group on top
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # r ticks such as 0.9725 stay apart
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("Pearson r")
    ax.set_ylabel(by)
    _legend(ax)


def _ordered(ax: Axes, frames: dict[str, pd.Series], groups: list, by: str, *, rotate: bool) -> None:
    """Draw the groups along x in their order, one line per method (offset a little, a marker each)."""
    x = np.arange(len(groups))
    colour = colours(len(frames))
    for i, (label, offset) in enumerate(zip(frames, _offsets(len(frames), 0.3), strict=True)):
        r = frames[label].reindex(groups).to_numpy(dtype=float)
        ax.plot(x + offset, r, marker=MARKERS[i % len(MARKERS)], ms=5, lw=1, color=colour[i], label=label)
    ax.set_xticks(
        x, [str(g) for g in groups], rotation=45 if rotate else 0, ha="right" if rotate else "center"
    )
    ax.set_ylabel("Pearson r")
    ax.set_xlabel(by)
    _legend(ax)


def _distributions(ax: Axes, frames: dict[str, pd.Series], by: str, n: int) -> None:
    """One box per method of its per-group r, the groups as jittered points (at most 5,000)."""
    rng = np.random.default_rng(0)
    colour = colours(len(frames))
    data = [series.to_numpy(dtype=float) for series in frames.values()]
    data = [d[np.isfinite(d)] for d in data]
    drawn = [i for i, d in enumerate(data) if d.size]
    if drawn:
        ax.boxplot(
            [data[i] for i in drawn],
            positions=drawn,
            widths=0.5,
            showfliers=False,
            medianprops={"color": "black"},
        )
    for i in drawn:
        values = data[i] if data[i].size <= 5000 else rng.choice(data[i], 5000, replace=False)
        jitter = rng.uniform(-0.18, 0.18, values.size)
        ax.scatter(
            i + jitter, values, s=4, alpha=0.35, color=colour[i], linewidths=0, zorder=3, rasterized=True
        )
    names = list(frames)
    rotate = max((len(name) for name in names), default=0) > 8
    ax.set_xticks(range(len(names)), names, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel(f"Pearson r per {by}")
    ax.set_title(f"{n:,} {by} groups: each method's r per {by}", fontsize=9)
