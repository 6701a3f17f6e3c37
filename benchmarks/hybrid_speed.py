"""Speed and memory of the hybrid model on P1: GTEx, 29 tissues x ~18k genes, 20% genes hidden.

Measures, in one process: fit seconds, predict seconds, peak resident memory (the process'
``ru_maxrss``, which includes the data and the imported libraries) and the Pearson r of the
hidden genes, for the default :class:`gex_impute.HybridImputer`. Target (issue 4): fit +
impute within 3 minutes on 2 CPU cores, peak memory at most 4 GB.

The load average before and after is recorded: on a shared machine the timings are
pessimistic.

Writes ``benchmarks/results/hybrid_speed.json`` and ``hybrid_speed.png``.

``--boosters DONORS GENES``: the whole-profile model's XGBoost settings against prediction cost
(issue 9). A ``gtex_v8`` cohort of that size is fitted once; its profile model's training rows
are captured and split by donor: 20% of the donors are a test set (never seen in training or
early stopping), and each (max_depth, eta) of ``--configs`` is trained on the rest with the
model's own early stopping (15% of the training donors). Reported per setting: trees kept,
validation MSE (what ``profile_model`` chooses on), test MSE, training seconds and microseconds
per predicted entry on one thread. Writes ``hybrid_speed_boosters.json``.

Usage::

    .venv/bin/python benchmarks/hybrid_speed.py [--threads 2] [--out benchmarks/results]
    .venv/bin/python benchmarks/hybrid_speed.py --boosters 300 1000
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


def boosters(n_donors: int, n_genes: int, configs: list[tuple[int, float]]) -> dict:
    """Profile-model XGBoost settings: trees, validation / test MSE on held-out donors, cost."""
    import gex_impute as gi
    from gex_impute.methods.hybrid import profile_model, stacking

    adata = gi.datasets.simulate(n_donors=n_donors, n_genes=n_genes, preset="gtex_v8", random_state=0)
    adata = adata[~np.isnan(np.asarray(adata.X)).all(1)].copy()
    captured: dict = {}
    fit_pattern_model = profile_model.fit_pattern_model

    def capture(x, y, bases, names, **kw):
        captured.update(x=x, y=y, bases=bases, names=names, kw=kw)
        return fit_pattern_model(x, y, bases, names, **kw)

    profile_model.fit_pattern_model = capture
    try:
        model = gi.HybridImputer(n_jobs=1, progress=False).fit(adata, donor_key="donor")
    finally:
        profile_model.fit_pattern_model = fit_pattern_model
    x, y, names, groups = captured["x"], captured["y"], captured["names"], captured["kw"]["groups"]
    n_groups = captured["kw"]["n_groups"]
    ref = stacking._filled(captured["bases"], model.models_["profiles"]["reference"], float(np.mean(y)))
    rng = np.random.default_rng(5)
    test = (rng.random(n_groups) < 0.2)[groups]
    train = np.flatnonzero(~test)
    early = rng.random(n_groups) < model.validation_fraction
    x_test = np.ascontiguousarray(x[test])
    rows = []
    for depth, eta in configs:
        params = {**model.xgb_params(), "max_depth": depth, "eta": eta}
        t0 = time.perf_counter()
        booster, best, val_mse = stacking.train_booster(
            x[train], (y - ref)[train], early[groups[train]], names, params=params, n_estimators=300, seed=1
        )
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pred = ref[test] + stacking.booster_predict(booster, x_test, names, best, 1)
        rows.append(
            {
                "max_depth": depth,
                "eta": eta,
                "trees": best + 1,
                "validation_mse": val_mse,
                "test_mse": float(np.mean((pred - y[test]) ** 2)),
                "train_seconds": train_s,
                "us_per_entry": (time.perf_counter() - t0) / int(test.sum()) * 1e6,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    return {
        "n_donors": n_donors,
        "n_genes": n_genes,
        "training_rows": len(y),
        "test_rows": int(test.sum()),
        "reference": model.models_["profiles"]["reference"],
        "reference_test_mse": float(np.mean((ref[test] - y[test]) ** 2)),
        "load_1min": os.getloadavg()[0],
        "configs": rows,
    }


def main(argv=None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--params", default="{}", help="JSON of HybridImputer parameters")
    parser.add_argument("--boosters", nargs=2, type=int, metavar=("DONORS", "GENES"), default=None)
    parser.add_argument(
        "--configs",
        default="[[6,0.1],[6,0.3],[6,0.2],[4,0.3],[4,0.5],[5,0.3],[6,0.15]]",
        help="--boosters: JSON list of [max_depth, eta]",
    )
    args = parser.parse_args(argv)
    from gex_impute._utils import atomic_path

    if args.boosters:
        result = boosters(*args.boosters, [tuple(c) for c in json.loads(args.configs)])
        args.out.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out / "hybrid_speed_boosters.json") as tmp:
            tmp.write_text(json.dumps(result, indent=1) + "\n")
        return 0

    report = run(args.threads, args.out, json.loads(args.params))
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "hybrid_speed.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1, default=float))
    plot(report, args.out / "hybrid_speed.png")
    print(json.dumps({k: report[k] for k in ("total_seconds", "peak_rss_mb", "pearson", "mse")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
