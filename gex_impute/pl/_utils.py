"""Shared plotting plumbing: a new Axes, scanpy's ``show=`` / ``save=``, an atomic save."""

from __future__ import annotations

import logging
import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import pandas as pd

from ..errors import ParameterError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

logger = logging.getLogger("gex_impute")

Result = TypeVar("Result")


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


def _formats() -> dict[str, str]:
    from matplotlib.backend_bases import FigureCanvasBase

    return FigureCanvasBase.get_supported_filetypes()


def image_format(save: str | os.PathLike, what: str = "save") -> str:
    """Return the image format of ``save`` from its suffix; raise ParameterError when it names none.

    Called before anything is drawn, so a typo costs no work and leaves no figure behind.
    """
    formats = _formats()
    suffix = Path(save).suffix.lower().lstrip(".")
    if suffix not in formats:
        found = f"its suffix {suffix!r} is not an image format" if suffix else "it has no suffix"
        others = ", ".join(sorted(formats))
        msg = f"{what}={str(save)!r}: {found}; end it in .png, .pdf or .svg (or {others})."
        raise ParameterError(msg)
    return suffix


_SHOW_SAVE = """\
show
    True: show the figure (``plt.show()``) and return None, as scanpy. False: return the
    {returns} without showing. None: return the {returns} and leave showing to matplotlib, as
    before (Jupyter draws the figure under the cell; a script shows nothing).
save
    Write the figure, atomically. A path, or a str such as ``'{name}.png'``, names the file
    (format from its suffix). As scanpy: True writes ``sc.settings.figdir / '{name}.pdf'``
    (format ``sc.settings.file_format_figs``), and a str starting with ``_`` or ``.`` is
    appended to that name (``'_P3.png'``: ``figures/{name}_P3.png``). A figure made here is
    closed once written."""

Plot = TypeVar("Plot", bound=Any)


def doc_show_save(returns: str = "Axes"):
    """Fill the ``{show_save}`` line of a plot's docstring: its ``show`` and ``save`` parameters.

    One text for every plot, as scanpy's ``doc_show_save_ax``; ``returns`` names what
    ``show=False`` returns.
    """

    def decorate(func: Plot) -> Plot:
        if func.__doc__:  # None under python -OO
            text = textwrap.indent(_SHOW_SAVE.format(returns=returns, name=func.__name__), "    ")
            func.__doc__ = func.__doc__.replace("    {show_save}\n", text + "\n")
        return func

    return decorate


def check_show_save(show: bool | None, save: str | os.PathLike | bool | None, name: str) -> Path | None:
    """Check ``show=`` and ``save=`` before anything is drawn; return the file to write (None: none).

    ``save`` as scanpy takes it: True writes ``{sc.settings.figdir}/{name}{plot_suffix}.{file_format_figs}``;
    a str starting with ``_`` or ``.`` (and naming no folder) is appended to ``name`` there, its
    format from its suffix when it ends in one (``'_lung.png'``); any other str or path names the
    file itself, format from its suffix (as before); None or False writes nothing.
    """
    if show is not None and not isinstance(show, bool | np.bool_):
        msg = (
            f"show={show!r} ({type(show).__name__}): pass True (show the figure, return None), "
            "False (return it without showing) or None (return it; Jupyter draws it under the cell)."
        )
        raise ParameterError(msg)
    if save is None or (isinstance(save, bool | np.bool_) and not save):
        return None
    if isinstance(save, bool | np.bool_):
        return _figdir_file(name, "")
    if isinstance(save, str) and save.startswith(("_", ".")) and not _names_folder(save):
        return _figdir_file(name, save)
    if isinstance(save, str | os.PathLike):
        image_format(save)
        return Path(save)
    msg = (
        f"save={save!r} ({type(save).__name__}): pass a file such as 'grid.png' or a Path, True "
        f"(sc.settings.figdir/{name}.pdf), or a suffix for that name such as '_lung.png' (as scanpy)."
    )
    raise ParameterError(msg)


def _names_folder(save: str) -> bool:
    return "/" in save or os.sep in save


def _figdir_file(name: str, suffix: str) -> Path:
    """Return scanpy's file for ``save=True`` / ``save=suffix``: figdir / name + suffix + plot_suffix.ext."""
    import scanpy as sc

    formats = _formats()
    stem, dot, ext = suffix.rpartition(".")
    if dot and ext.lower() in formats:
        suffix, fmt = stem, ext.lower()
    elif dot and ext.isalpha():
        msg = f"save={suffix!r}: {ext!r} is not an image format; end it in .png, .pdf or .svg."
        raise ParameterError(msg)
    else:
        fmt = str(sc.settings.file_format_figs).lower().lstrip(".")
        if fmt not in formats:
            msg = (
                f"sc.settings.file_format_figs={fmt!r} is not an image format; set it to 'png', "
                "'pdf' or 'svg', or end save= in one (save='_name.png')."
            )
            raise ParameterError(msg)
    return Path(sc.settings.figdir) / f"{name}{suffix}{sc.settings.plot_suffix}.{fmt}"


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


def finish(
    fig_or_ax: Axes | Figure,
    result: Result,
    *,
    show: bool | None,
    path: Path | None,
    own: bool,
    dpi: int = 150,
    tight: bool = True,
) -> Result | None:
    """Save, show and return as scanpy: write ``path`` (None: no file), ``plt.show()`` when ``show``.

    Returns None when shown, else ``result``. ``own``: the plot function made the figure, so it is
    closed once written (as scanpy does after ``save=``); a figure of an Axes the caller passed
    stays open. ``tight``: lay the figure out with ``tight_layout`` before saving; never for a
    figure with a layout engine of its own (constrained layout), which is saved with
    ``bbox_inches="tight"`` as when ``tight`` is False.
    """
    from .._utils import atomic_path

    fig = cast("Figure", getattr(fig_or_ax, "figure", fig_or_ax))
    tight = tight and fig.get_layout_engine() is None
    try:
        if path is not None:
            fmt = image_format(path)
            if tight:
                fig.tight_layout()
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=dpi, format=fmt, bbox_inches="tight" if not tight else None)
            logger.info("saved %s", path)
        if show:
            pyplot().show()
    finally:
        if own and path is not None:
            pyplot().close(fig)
    return None if show else result


#: one marker per protocol (calibration) or method (group_r), repeated past the end
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def axes_constrained(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Axes, bool]:
    """Return ``ax`` (and False), or the Axes of a new constrained-layout figure (and True).

    Constrained layout keeps a legend placed outside the axes inside the figure, in Jupyter and
    in ``plt.savefig`` alike; :func:`finish` then leaves the layout to it.
    """
    if ax is not None:
        return ax, False
    _, new = pyplot().subplots(figsize=figsize, layout="constrained")
    return new, True


def colours(n: int) -> list:
    """Return ``n`` distinct colours: tab10 up to 10, tab20 up to 20, else turbo samples."""
    plt = pyplot()
    if n <= 10:
        return [plt.get_cmap("tab10")(i) for i in range(n)]
    if n <= 20:
        return [plt.get_cmap("tab20")(i) for i in range(n)]
    return [plt.get_cmap("turbo")(x) for x in np.linspace(0.05, 0.95, n)]


def unknown_names(asked: list[str], available: list, what: str, where: str) -> None:
    """Raise KeyNotFoundError naming the ``asked`` names not in ``available`` and listing those."""
    from ..errors import KeyNotFoundError

    unknown = [name for name in asked if name not in available]
    if unknown:
        msg = f"no {what} {unknown}; the {where} hold {[str(a) for a in available]}."
        raise KeyNotFoundError(msg)


def text_boxes(texts: list) -> list:
    """Return the display bounding boxes of ``texts`` after laying out their figure (no pixels drawn)."""
    if not texts:
        return []
    texts[0].figure.draw_without_rendering()
    return [t.get_window_extent() for t in texts]


def drop_overlapping(texts: list) -> int:
    """Remove, in order, each text whose box overlaps one kept before it; return how many went."""
    kept: list = []
    dropped = 0
    for text, box in zip(texts, text_boxes(texts), strict=True):
        if any(box.overlaps(other) for other in kept):
            text.remove()
            dropped += 1
        else:
            kept.append(box)
    return dropped
