"""Speed and memory of the hybrid model on P1: GTEx, 29 tissues x ~18k genes, 20% genes hidden.

Measures, in one process: fit seconds, predict seconds, peak resident memory (the process'
``ru_maxrss``, which includes the data and the imported libraries) and the Pearson r of the
hidden genes, for the default :class:`gex_impute.HybridImputer`. Target (issue 4): fit +
impute within 3 minutes on 2 CPU cores, peak memory at most 4 GB.

The load average before and after is recorded: on a shared machine the timings are
pessimistic.

Writes ``benchmarks/results/hybrid_speed.json`` and ``hybrid_speed.png``.

Usage::

    .venv/bin/python benchmarks/hybrid_speed.py [--threads 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
LIMIT_SECONDS = 180.0
LIMIT_MB = 4096.0


def _rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024**2


def run(threads: int, out_dir: Path, params: dict) -> dict:
    """Fit and impute P1 once; return the measurements."""
    import gex_impute as gi
    from gex_impute._data import from_anndata
    from gex_impute.tl import heldout_folds

    load_before = os.getloadavg()
    adata = gi.datasets.gtex_tissues()
    adata = adata[:, adata.var["tss"].notna().to_numpy()].copy()
    data, _ = from_anndata(adata)
    (mask,) = heldout_folds(data, protocol="genes", fraction=0.2, random_state=0)
    masked = data.with_values(np.where(mask, np.nan, data.values))
    rss_data = _rss_mb()

    model = gi.HybridImputer(n_jobs=threads, progress=False, random_state=0, **params)
    t0 = time.perf_counter()
    model.fit(masked)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = model.predict(masked)
    predict_s = time.perf_counter() - t0
    truth, est = data.values[mask], pred[mask]
    report = {
        "benchmark": "hybrid fit + impute, P1 (GTEx tissues, 20% genes hidden, random_state 0)",
        "command": " ".join(["python", *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gex_impute": gi.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "n_samples": data.n_samples,
        "n_genes": data.n_genes,
        "params": model.get_params(),
        "fit_seconds": fit_s,
        "predict_seconds": predict_s,
        "total_seconds": fit_s + predict_s,
        "peak_rss_mb": _rss_mb(),
        "rss_after_loading_mb": rss_data,
        "limit_seconds": LIMIT_SECONDS,
        "limit_mb": LIMIT_MB,
        "pearson": float(np.corrcoef(truth, est)[0, 1]),
        "mse": float(np.mean((truth - est) ** 2)),
        "diagnostics": {k: v for k, v in model.diagnostics_.items() if not isinstance(v, dict)},
    }
    report["within_time"] = report["total_seconds"] <= LIMIT_SECONDS
    report["within_memory"] = report["peak_rss_mb"] <= LIMIT_MB
    return report


def plot(report: dict, path: Path) -> None:
    """Bars of time (fit / predict) and peak memory against the limits."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gex_impute._utils import atomic_path

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3.2))
    d = report["diagnostics"]
    parts = {
        "networks": d.get("network_seconds", 0.0),
        "features": d.get("feature_seconds", 0.0),
        "xgboost": d.get("xgboost_seconds", 0.0),
        "predict": report["predict_seconds"],
    }
    left = 0.0
    for label, value in parts.items():
        ax1.barh([0], [value], left=left, label=label)
        left += value
    ax1.axvline(report["limit_seconds"], color="k", ls="--", lw=1)
    ax1.set_yticks([])
    ax1.set_xlabel("seconds (fit + impute)")
    ax1.legend(fontsize=7, loc="lower right")
    ax1.set_title(f"{report['threads']} threads, load {report['load_average_before'][0]:.1f}", fontsize=9)
    ax2.bar(["peak RSS"], [report["peak_rss_mb"]])
    ax2.axhline(report["limit_mb"], color="k", ls="--", lw=1)
    ax2.set_ylabel("MB")
    ax2.set_title(f"P1 r = {report['pearson']:.3f}", fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--params", default="{}", help="JSON of HybridImputer parameters")
    args = parser.parse_args(argv)
    from gex_impute._utils import atomic_path

    report = run(args.threads, args.out, json.loads(args.params))
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "hybrid_speed.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1, default=float))
    plot(report, args.out / "hybrid_speed.png")
    print(json.dumps({k: report[k] for k in ("total_seconds", "peak_rss_mb", "pearson", "mse")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
