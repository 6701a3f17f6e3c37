"""Interval calibration: empirical coverage against mean width (one level) or nominal level."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError
from ._utils import (
    MARKERS,
    axes_constrained,
    check_show_save,
    colours,
    doc_show_save,
    drop_overlapping,
    finish,
    method_rows,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["calibration"]

_LINESTYLES = ("-", "--", ":", "-.")


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
    """Empirical coverage of prediction intervals, per method (colour) and protocol (marker).

    With one nominal level (one :func:`gex_impute.tl.evaluate` call, or several joined at the
    same ``interval=``), each method and protocol is one point: coverage (y) against mean
    interval width (x), a dashed line at the nominal level. Calibrated intervals sit on that
    line; at equal coverage, the leftmost (narrowest) is best. Points that coincide are drawn
    as nested hollow markers (later methods smaller), so none hides another.

    With several levels, each method and protocol is a line of coverage (y) against nominal
    level (x), the diagonal for reference, each point labelled with its mean width
    (``w=1.23``) where the label does not overlap another one.

    The legend (methods by colour, protocols by marker) sits to the right of the axes.

    Parameters
    ----------
    results
        A table from :func:`gex_impute.tl.evaluate` with ``coverage`` and ``mean_width``
        columns and the nominal level in ``level_key`` (one row per method and level; tables
        of several protocols joined give one point or line per method and protocol).
    level_key
        Column holding the nominal level (e.g. 0.9).
    ax
        Axes to draw on; a new figure when None.
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``). Each method and protocol is one ``Line2D`` labelled
    ``"<method>"`` (``"<method> <protocol>"`` with several protocols).

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
    by_protocol = "protocol" in table.columns and table["protocol"].nunique() > 1
    methods = list(dict.fromkeys(table["method"]))
    protocols = list(dict.fromkeys(table["protocol"])) if by_protocol else []
    colour = dict(zip(methods, colours(len(methods)), strict=True))
    marker = {p: MARKERS[i % len(MARKERS)] for i, p in enumerate(protocols)}
    widths = "mean_width" in table.columns and bool(table["mean_width"].notna().any())
    levels = table[level_key].dropna().unique()
    against_width = widths and len(levels) == 1
    entries = len(methods) + (len(protocols) + 1 if by_protocol else 0) + 1
    ax, own = axes_constrained(ax, (6.2, max(4.0, 0.19 * entries + 1.2)))
    groups = table.groupby(["method", "protocol"] if by_protocol else "method", sort=False)
    sizes = dict(
        zip(methods, np.linspace(12.0, 5.0, len(methods)) if len(methods) > 1 else [8.0], strict=True)
    )
    labels = []
    for key, rows in groups:
        method = key[0] if by_protocol else key
        protocol = key[1] if by_protocol else None
        style = {
            "color": colour[method],
            "marker": marker.get(protocol, "o"),
            "label": " ".join(str(k) for k in key) if by_protocol else str(key),
        }
        if against_width:
            ax.plot(
                rows["mean_width"],
                rows["coverage"],
                ls="none",
                ms=sizes[method],
                mfc="none",
                mew=1.6,
                **style,
            )
            continue
        rows = rows.sort_values(level_key)
        ls = _LINESTYLES[protocols.index(protocol) % len(_LINESTYLES)] if by_protocol else "-"
        ax.plot(rows[level_key], rows["coverage"], ls=ls, ms=5, **style)
        if widths:
            for lvl, cov, width in zip(rows[level_key], rows["coverage"], rows["mean_width"], strict=True):
                if np.isfinite(width):
                    labels.append(
                        ax.annotate(
                            f"w={width:.2f}",
                            (lvl, cov),
                            fontsize=6,
                            xytext=(4, -9),
                            textcoords="offset points",
                            color=colour[method],
                        )
                    )
    if against_width:
        _nominal_line(ax, table, float(levels[0]))
    else:
        lo = float(min(table[level_key].min(), table["coverage"].min(), 0.5))
        ax.plot([lo, 1], [lo, 1], color="grey", lw=0.8, ls="--", label="nominal = coverage")
        ax.set_xlabel("nominal level")
    ax.set_ylabel("empirical coverage")
    _legend(ax, colour, marker, line=not against_width)
    drop_overlapping(labels)
    return finish(ax, ax, show=show, path=path, own=own)


def _nominal_line(ax: Axes, table: pd.DataFrame, level: float) -> None:
    """Draw the nominal level as a dashed line; y range the coverages and the level, padded."""
    ax.axhline(level, color="grey", lw=0.8, ls="--", label=f"nominal level {level:g}")
    lo = min(float(table["coverage"].min()), level)
    hi = max(float(table["coverage"].max()), level)
    pad = max(0.15 * (hi - lo), 0.01)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlim(0, 1.08 * float(table["mean_width"].max()))  # from 0: 1.20 and 1.21 look alike, as they are
    ax.set_xlabel("mean interval width (narrower is better)")
    ax.set_title(f"{level:g} prediction intervals", fontsize=9)


def _legend(ax: Axes, colour: dict, marker: dict, *, line: bool) -> None:
    """Put one legend right of the axes: methods by colour, then protocols by marker, then the reference."""
    from matplotlib.lines import Line2D

    ls = "-" if line else "none"
    fill: dict[str, Any] = {} if line else {"mfc": "none", "mew": 1.6}
    handles = [Line2D([], [], color=c, marker="o", ls=ls, label=str(m), **fill) for m, c in colour.items()]
    if marker:
        handles.append(Line2D([], [], ls="none", label="protocol:"))
        handles += [
            Line2D(
                [],
                [],
                **fill,
                color="grey",
                marker=mk,
                ls=_LINESTYLES[i % len(_LINESTYLES)] if line else "none",
                label=str(p),
            )
            for i, (p, mk) in enumerate(marker.items())
        ]
    reference = ax.get_lines()[-1]
    handles.append(Line2D([], [], color="grey", lw=0.8, ls="--", label=reference.get_label()))
    ax.legend(
        handles=handles,
        title="method",
        fontsize=7,
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.02, 1),
        borderaxespad=0,
        ncols=1 if len(handles) <= 32 else 2,
    )
