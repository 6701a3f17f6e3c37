"""The demo report's figures, drawn with :mod:`gex_impute.pl` (and scanpy through it).

Each function draws one PNG into a folder, closes its figure and returns the file name;
matplotlib is imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "draw_calibration",
    "draw_completed_vs_truth",
    "draw_metrics",
    "draw_predicted_vs_observed",
    "draw_profiles",
    "draw_tissue_matrixplot",
    "draw_tissue_r",
]

_DPI = 110


def _pyplot():
    from ..pl._utils import pyplot

    return pyplot()


def _log_axis(ax, values: np.ndarray) -> None:
    """Log y axis, plain tick labels (0.2, 1, 4), when ``values`` span over 5-fold; else linear from 0."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    finite = values[np.isfinite(values) & (values > 0)]
    if not finite.size or finite.max() < 5 * finite.min():
        return
    ax.set_yscale("log")
    ax.set_ylim(finite.min() / 1.5, finite.max() * 1.6)
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _save(fig, folder: Path, name: str) -> str:
    fig.savefig(folder / name, dpi=_DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return name


def draw_metrics(
    long: pd.DataFrame,
    headline: Mapping[str, tuple[str, str, bool]],
    folder: Path,
    *,
    reference: str = "hybrid",
    name: str = "metrics.png",
) -> str:
    """Each protocol's headline metric for every method (:func:`gex_impute.pl.method_comparison`).

    One panel per protocol; ``reference``'s bar is drawn in another colour; MSE on a log
    axis (the neighbour methods' errors under P1/P2 are an order of magnitude larger).
    """
    from .. import pl

    protocols = list(dict.fromkeys(long["protocol"]))
    plt = _pyplot()
    n_methods = long["method"].nunique()
    fig, axes = plt.subplots(
        1, len(protocols), figsize=(len(protocols) * max(3.6, 0.45 * n_methods + 1.2), 3.8), squeeze=False
    )
    for ax, protocol in zip(axes[0], protocols, strict=True):
        label, metric, higher = headline[protocol]
        part = long[long["protocol"] == protocol].set_index("method")
        pl.method_comparison(part.drop(columns=["protocol"]), metric, ax=ax)
        methods = list(part.index)
        for bar, method in zip(ax.patches, methods, strict=False):
            bar.set_color("#e15759" if method == reference else "#4e79a7")
        if metric == "mse":
            _log_axis(ax, part[metric].to_numpy(dtype=float))
        ax.set_ylabel("Pearson r" if metric == "pearson" else metric.upper())
        better = "higher" if higher else "lower"
        ax.set_title(f"{label} {protocol}: {ax.get_ylabel()} ({better} is better)", fontsize=9)
    fig.tight_layout()
    return _save(fig, folder, name)


def draw_predicted_vs_observed(
    predictions: Mapping[str, Mapping[str, pd.DataFrame]],
    rows: Mapping[str, Sequence[str]],
    labels: Mapping[str, str],
    folder: Path,
    name: str = "predicted_vs_observed.png",
) -> str:
    """Held-out entries, predicted against observed: one column per protocol, one row per method.

    ``rows[protocol]`` names the methods drawn (the hybrid, then the protocol's best baseline).
    """
    from .. import pl

    protocols = list(predictions)
    n_rows = max(len(rows[p]) for p in protocols)
    plt = _pyplot()
    fig, axes = plt.subplots(
        n_rows, len(protocols), figsize=(4.3 * len(protocols), 3.9 * n_rows), squeeze=False
    )
    for j, protocol in enumerate(protocols):
        for i in range(n_rows):
            ax = axes[i, j]
            if i >= len(rows[protocol]):
                ax.set_axis_off()
                continue
            method = rows[protocol][i]
            pl.predicted_vs_observed(
                predictions[protocol][method], title=f"{labels[protocol]} {protocol}: {method}", ax=ax
            )
            ax.set_xlabel("observed (log1p TPM)")
            ax.set_ylabel("predicted (log1p TPM)")
    fig.tight_layout()
    return _save(fig, folder, name)


def draw_tissue_r(
    predictions: Mapping[str, Mapping[str, pd.DataFrame]],
    methods: Mapping[str, Sequence[str]],
    labels: Mapping[str, str],
    folder: Path,
    name: str = "tissue_r.png",
) -> str:
    """Pearson r of the held-out entries per tissue (:func:`gex_impute.pl.group_r`), a panel per protocol."""
    from .. import pl

    protocols = list(predictions)
    plt = _pyplot()
    n_tissues = max(p["tissue"].nunique() for d in predictions.values() for p in d.values())
    height = min(14.0, max(3.5, 0.28 * n_tissues + 1.6))  # group_r draws one row per tissue
    fig, axes = plt.subplots(
        1, len(protocols), figsize=(4.8 * len(protocols), height), squeeze=False, sharey=True
    )
    for i, (ax, protocol) in enumerate(zip(axes[0], protocols, strict=True)):
        chosen = {m: predictions[protocol][m] for m in methods[protocol]}
        pl.group_r(chosen, by="tissue", ax=ax)
        ax.set_title(f"{labels[protocol]} {protocol}", fontsize=10)
        if i:  # the same tissues in the same rows: named once, on the left
            ax.tick_params(axis="y", labelleft=False)
            ax.set_ylabel("")
    fig.tight_layout()
    return _save(fig, folder, name)


def draw_calibration(check: Mapping[str, Any], folder: Path, name: str = "calibration.png") -> str | None:
    """Coverage of the completed profiles' prediction intervals per tissue, against the nominal level.

    ``check`` is the demo's interval check (``level``, ``coverage``, ``mean_width``,
    ``by_tissue``); None (nothing drawn) when it is empty.
    """
    if not check or not check.get("by_tissue"):
        return None
    by_tissue = dict(sorted(check["by_tissue"].items(), key=lambda kv: kv[1]))
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 0.28 * len(by_tissue) + 1.8))
    ax.barh(list(by_tissue), list(by_tissue.values()), color="#4c72b0")
    ax.axvline(check["level"], color="grey", ls="--", lw=1, label=f"nominal {check['level']:.0%}")
    ax.axvline(check["coverage"], color="#c44e52", lw=1, label=f"all tissues {check['coverage']:.1%}")
    left = min(0.7, min(by_tissue.values()) - 0.05, check["level"] - 0.1)
    ax.set_xlim(max(0.0, left), 1.0)
    ax.set_xlabel("share of true values inside the interval (coverage)")
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    ax.set_title(f"completed profiles: {check['level']:.0%} intervals vs truth", fontsize=10)
    fig.tight_layout()
    return _save(fig, folder, name)


def draw_profiles(completed: AnnData, folder: Path, name: str = "profiles.png") -> str:
    """Which donor x tissue profiles were observed and which completed (:func:`gex_impute.pl.profiles`)."""
    from .. import pl

    ax = pl.profiles(completed)
    ax.set_title("donor x tissue profiles: observed (blue) and completed (orange)", fontsize=10)
    return _save(ax.figure, folder, name)


def draw_tissue_matrixplot(completed: AnnData, folder: Path, name: str = "tissue_matrixplot.png") -> str:
    """Mean expression per tissue, observed vs completed (scanpy; :func:`gex_impute.pl.tissue_matrixplot`)."""
    from .. import pl

    plot = pl.tissue_matrixplot(
        completed,
        n_genes=20,
        log1p=True,
        colorbar_title="mean log1p TPM",
        title="Most tissue-specific genes: observed vs completed profiles",
        return_fig=True,
    )
    plot.make_figure()
    return _save(plot.fig, folder, name)


def draw_completed_vs_truth(
    truth: np.ndarray, estimates: Mapping[str, np.ndarray], folder: Path, name: str = "completed_vs_truth.png"
) -> str:
    """Completed entries against the simulated truth (log1p), one panel per estimate."""
    from .. import pl

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(estimates), figsize=(4.3 * len(estimates), 3.9), squeeze=False)
    for ax, (label, values) in zip(axes[0], estimates.items(), strict=True):
        pl.predicted_vs_observed(truth, values, title=label, ax=ax)
        ax.set_xlabel("simulated truth (log1p TPM)")
        ax.set_ylabel("estimate (log1p TPM)")
    fig.tight_layout()
    return _save(fig, folder, name)
