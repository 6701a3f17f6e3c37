"""Shared plotting plumbing: a headless-safe new Axes, an atomic save."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger("gex_impute")


def pyplot():
    """Import ``matplotlib.pyplot``, switching to Agg first when there is no display."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo") and not os.environ.get(
        "DISPLAY"
    ):
        matplotlib.use("Agg")  # headless: avoid GUI backends that need a display
    import matplotlib.pyplot as plt

    return plt


def axes_or_new(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """Return ``ax``, or the Axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = pyplot().subplots(figsize=figsize)
    return ax


def save_figure(
    fig_or_ax: Axes | Figure, save: str | os.PathLike | None, *, dpi: int = 150, tight: bool = True
) -> None:
    """Write the figure atomically to ``save`` (format from the suffix); nothing when None."""
    if save is None:
        return
    from .._utils import atomic_path

    fig = cast("Figure", getattr(fig_or_ax, "figure", fig_or_ax))
    if tight:
        fig.tight_layout()
    with atomic_path(save) as tmp:
        fig.savefig(
            tmp, dpi=dpi, format=str(save).rsplit(".", 1)[-1], bbox_inches="tight" if not tight else None
        )
    logger.info("saved %s", save)
