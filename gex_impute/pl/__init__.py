"""Plots (scanpy's ``pl``): evaluation tables, predictions, interval calibration, completed cohorts.

Every function takes scanpy's ``show=`` and ``save=``, and those with one Axes take ``ax=``.
``show=True`` shows the figure and returns None; otherwise the Axes (the Figure of
:func:`metrics`, the dict of Axes of :func:`tissue_matrixplot`) comes back. ``save=`` takes a
file path (format from its suffix), True (``sc.settings.figdir / '<function>.pdf'``, format
``sc.settings.file_format_figs``) or a scanpy suffix such as ``'_lung.png'``
(``figures/<function>_lung.png``); both are checked before anything is drawn, the file is written
atomically, and a figure the function made is closed once written, as scanpy does (one drawn on
the caller's ``ax`` stays open). matplotlib (and scanpy, for :func:`tissue_matrixplot` and
``sc.settings``) are imported on first use. Tables of :func:`gex_impute.tl.evaluate` with
``by_quintile=True`` are drawn from their ``"all"`` rows.
"""

from ._cohort import profiles
from ._evaluation import calibration, method_comparison, metrics
from ._matrixplot import tissue_matrixplot
from ._predictions import group_r, predicted_vs_observed

__all__ = [
    "calibration",
    "group_r",
    "method_comparison",
    "metrics",
    "predicted_vs_observed",
    "profiles",
    "tissue_matrixplot",
]
