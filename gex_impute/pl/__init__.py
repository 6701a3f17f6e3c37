"""Plots (scanpy's ``pl``): evaluation tables, predictions, interval calibration, completed cohorts.

matplotlib (and scanpy, for :func:`tissue_matrixplot`) are imported on first use.
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
