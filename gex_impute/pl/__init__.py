"""Plots (scanpy's ``pl``): evaluation tables, predictions, interval calibration, completed cohorts.

matplotlib (and scanpy, for :func:`tissue_matrixplot`) are imported on first use. With
``save=``, the image format comes from the suffix (checked before anything is drawn), and a
figure the function made is closed once written, as scanpy does (one drawn on the caller's
``ax`` stays open). Tables of :func:`gex_impute.tl.evaluate` with ``by_quintile=True`` are drawn
from their ``"all"`` rows.
"""

from ._cohort import profiles, tissue_matrixplot
from ._evaluation import calibration, group_r, method_comparison, metrics, predicted_vs_observed

__all__ = [
    "calibration",
    "group_r",
    "method_comparison",
    "metrics",
    "predicted_vs_observed",
    "profiles",
    "tissue_matrixplot",
]
