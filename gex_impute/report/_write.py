"""Write the demo's report folder: completed h5ad, metrics TSV, figures, ``index.html``, ``report.json``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from . import _figures as figures
from ._demo import DemoReport

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["write_demo_folder"]

FIGURES_DIR = "figures"


def _best_baseline(long: pd.DataFrame, protocol: str, metric: str, higher: bool, exclude: str) -> str | None:
    part = long[(long["protocol"] == protocol) & (long["method"] != exclude)].set_index("method")[metric]
    part = part.astype(float).dropna()
    if part.empty:
        return None
    return str(part.idxmax() if higher else part.idxmin())


def write_demo_folder(
    folder: str | Path,
    report: DemoReport,
    *,
    completed: AnnData,
    predictions: Mapping[str, Mapping[str, pd.DataFrame]],
    truth_estimates: Mapping[str, np.ndarray] | None = None,
    truth_values: np.ndarray | None = None,
    reference: str = "hybrid",
    reference_baseline: str = "mean",
) -> DemoReport:
    """Write everything the report shows into ``folder`` (an empty folder) and record it in ``report.files``.

    Parameters
    ----------
    folder
        Destination (the caller makes it atomic, see :func:`gex_impute.report.staged_folder`).
    report
        The run's outcome; ``report.table`` is the long metrics table.
    completed
        The completed cohort (:func:`gex_impute.tl.complete`), written as ``completed.h5ad``.
    predictions
        Protocol -> method -> held-out predictions (``evaluate(..., return_predictions=True)``).
    truth_estimates, truth_values
        Completed entries (label -> log1p estimates) and their simulated truth (log1p), for
        the completed-vs-truth figure; skipped when None.
    reference
        The method the report is about (drawn in every figure).
    reference_baseline
        A baseline drawn in the per-tissue figure beside the best one (the tissue mean).

    Returns
    -------
    ``report`` with ``files`` filled in.
    """
    from .. import io

    folder = Path(folder)
    fig_dir = folder / FIGURES_DIR
    fig_dir.mkdir(parents=True, exist_ok=True)
    long = report.table
    files: dict[str, str] = {}

    io.write_h5ad(completed, folder / "completed.h5ad")
    files["completed"] = "completed.h5ad"
    io.write_table(long, folder / "metrics.tsv", index=False)
    files["metrics"] = "metrics.tsv"

    labels = {r.protocol: r.label for r in report.results}
    best = {
        r.protocol: _best_baseline(long, r.protocol, r.metric, r.higher_is_better, reference)
        for r in report.results
    }
    rows = {p: [m for m in (reference, best[p]) if m is not None] for p in predictions}
    shown = {
        p: list(
            dict.fromkeys(
                m for m in (reference, best[p], reference_baseline) if m is not None and m in predictions[p]
            )
        )
        for p in predictions
    }

    def rel(name: str) -> str:
        return f"{FIGURES_DIR}/{name}"

    headline = {r.protocol: (r.label, r.metric, r.higher_is_better) for r in report.results}
    files["fig_metrics"] = rel(figures.draw_metrics(long, headline, fig_dir, reference=reference))
    files["fig_predicted_vs_observed"] = rel(
        figures.draw_predicted_vs_observed(predictions, rows, labels, fig_dir)
    )
    files["fig_tissue_r"] = rel(figures.draw_tissue_r(predictions, shown, labels, fig_dir))
    calibration = figures.draw_calibration(report.interval_check, fig_dir)
    if calibration is not None:
        files["fig_calibration"] = rel(calibration)
    files["fig_profiles"] = rel(figures.draw_profiles(completed, fig_dir))
    files["fig_tissue_matrixplot"] = rel(figures.draw_tissue_matrixplot(completed, fig_dir))
    if truth_estimates and truth_values is not None and truth_values.size > 2:
        files["fig_completed_vs_truth"] = rel(
            figures.draw_completed_vs_truth(truth_values, truth_estimates, fig_dir)
        )

    files["index"] = "index.html"
    files["record"] = "report.json"
    report.files = files
    (folder / "index.html").write_text(report.html(), encoding="utf-8")
    (folder / "report.json").write_text(report.to_json() + "\n", encoding="utf-8")
    logger.debug("demo report files written to %s", folder)  # the caller moves the folder into place
    return report
