"""Shared plotting plumbing: a new Axes, an atomic save."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pandas as pd

from ..errors import ParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger("gex_impute")


def pyplot():
    """Import ``matplotlib.pyplot`` on first use; the backend stays the user's choice.

    Never switched here: in Jupyter the inline backend must stay (switching to Agg hid every
    later figure of the session, ours, scanpy's and the user's), and elsewhere without a display
    matplotlib already falls back to Agg by itself.
    """
    import matplotlib.pyplot as plt

    return plt


def axes_or_new(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or the Axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize)
    return ax


def image_format(save: str | os.PathLike, what: str = "save") -> str:
    """Return the image format of ``save`` from its suffix; raise ParameterError when it names none.

    Called before anything is drawn, so a typo costs no work and leaves no figure behind.
    """
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = Path(save).suffix.lower().lstrip(".")
    if suffix not in formats:
        found = f"its suffix {suffix!r} is not an image format" if suffix else "it has no suffix"
        others = ", ".join(sorted(formats))
        msg = f"{what}={str(save)!r}: {found}; end it in .png, .pdf or .svg (or {others})."
        raise ParameterError(msg)
    return suffix


def check_save(save: str | os.PathLike | None) -> None:
    """Refuse, before anything is drawn, a ``save`` path that names no image format (None: no file)."""
    if save is not None:
        image_format(save)


def method_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of an evaluate() table with a ``method`` column, one row per method (and protocol).

    A ``by_quintile=True`` table gives its ``"all"`` rows.
    """
    table = results
    if isinstance(table.index, pd.MultiIndex) and "quintile" in table.index.names:
        table = table.xs("all", level="quintile")
    table = table.copy()
    if "method" not in table.columns:
        table = table.rename_axis("method").reset_index()
    return table


def save_figure(
    fig_or_ax: Axes | Figure,
    save: str | os.PathLike | None,
    *,
    dpi: int = 150,
    tight: bool = True,
    close: bool = False,
) -> None:
    """Write the figure atomically to ``save`` (format from the suffix); nothing when None.

    ``close``: close the figure once written (as scanpy does after ``save=``), for figures the
    plot function made itself; a figure of an Axes the caller passed stays open.
    """
    if save is None:
        return
    from .._utils import atomic_path

    fig = cast("Figure", getattr(fig_or_ax, "figure", fig_or_ax))
    try:
        fmt = image_format(save)
        if tight:
            fig.tight_layout()
        with atomic_path(save) as tmp:
            fig.savefig(tmp, dpi=dpi, format=fmt, bbox_inches="tight" if not tight else None)
    finally:
        if close:
            pyplot().close(fig)
    logger.info("saved %s", save)
