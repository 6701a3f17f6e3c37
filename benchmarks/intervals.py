"""Prediction intervals on real data: empirical coverage and mean width at 0.8, 0.9 and 0.95.

P1  GTEx tissue table (29 tissues x the genes with a CAGE TSS), 20% of the genes hidden in
    every tissue (``heldout_folds(protocol="genes")``), random_state 0.
P2  Blake et al. 2020 primates (47 samples, CPM), 20% of the observed entries hidden.
P3  Blake 2020, whole donor x tissue profiles held out, each of the 47 alone (leave-one-profile-
    out, as issue 10 defines Blake P3: ``protocol="samples", fraction=None``; the folds are fixed,
    the seed is the methods' and the calibration's); coverage pools the folds.
P3-8folds  the same in 8 folds over the 47 profiles, never two of one individual in a fold
    (``n_folds=8``; the P3 of sessions 6-8, whose result files call it P3).

Per fold every method is fitted on the data with the held-out entries hidden, then
:meth:`~gex_impute.methods.BaseImputer.predict_interval` calibrates it on that same training
data only (split conformal: observed entries hidden like the missing ones, one refit of a
clone; :mod:`gex_impute.methods.intervals`) and gives the bounds at each level from that one
calibration. The held-out truth is never seen by the calibration; its settings (5% extra
hidden per pattern, at least 25 genes / profiles, 5 prediction bins) were chosen on the
package's simulator, not on these data. Metrics on the log1p scale.

Writes ``benchmarks/results/intervals.json``, ``intervals.md`` and ``intervals.png``.

Usage::

    .venv/bin/python benchmarks/intervals.py                         # everything
    .venv/bin/python benchmarks/intervals.py --protocols P2 --methods mean,knn_samples
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _git import package_commit

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.tl._folds import heldout_folds

RESULTS = Path(__file__).resolve().parent / "results"
LEVELS = (0.8, 0.9, 0.95)
METHODS = ("knn_samples", "pca_regression", "knn", "mean", "hybrid")
PROTOCOLS = {
    "P1": {"protocol": "genes", "fraction": 0.2, "dataset": "gtex_tissues", "donor_key": False},
    "P2": {"protocol": "entries", "fraction": 0.2, "dataset": "blake2020", "donor_key": "donor"},
    "P3": {"protocol": "samples", "fraction": None, "dataset": "blake2020", "donor_key": "donor"},
}
PROTOCOLS["P3-8folds"] = {**PROTOCOLS["P3"], "n_folds": 8}


def load(dataset: str):
    """The dataset restricted to genes with a TSS (so coordinate-based methods see every gene)."""
    adata = getattr(gi.datasets, dataset)()
    return adata[:, adata.var["tss"].notna().to_numpy()].copy()


def run_protocol(key: str, methods: list[str], seed: int) -> list[dict]:
    """Fit, calibrate and score every method under protocol ``key``."""
    spec = PROTOCOLS[key]
    adata = load(spec["dataset"])
    data, _ = from_anndata(adata, tissue_key="tissue", donor_key=spec["donor_key"])
    folds = heldout_folds(
        data,
        protocol=spec["protocol"],
        fraction=spec["fraction"],
        random_state=seed,
        n_folds=spec.get("n_folds"),
    )
    rows = []
    for name in methods:
        truth, pred, lower, upper = [], [], {lv: [] for lv in LEVELS}, {lv: [] for lv in LEVELS}
        fit_s = cal_s = 0.0
        for mask in folds:
            train = data.with_values(np.where(mask, np.nan, data.values))
            method = gi.get_method(name)
            if "random_state" in method.get_params():
                method.set_params(random_state=seed)
            if "progress" in method.get_params():
                method.set_params(progress=False)
            start = time.perf_counter()
            method.fit(train)
            fit_s += time.perf_counter() - start
            start = time.perf_counter()
            method.calibrate(train)
            cal_s += time.perf_counter() - start
            full = np.asarray(method.predict(train))
            truth.append(data.values[mask])
            pred.append(full[mask])
            for level in LEVELS:
                lo, hi = method.predict_interval(train, level)
                lower[level].append(lo[mask])
                upper[level].append(hi[mask])
        y, p = np.concatenate(truth), np.concatenate(pred)
        row = {
            "protocol": key,
            "dataset": spec["dataset"],
            "method": name,
            "n_heldout": int(y.size),
            "n_folds": len(folds),
            "mse": float(np.mean((y - p) ** 2)),
            "fit_seconds": round(fit_s, 2),
            "calibrate_seconds": round(cal_s, 2),
        }
        for level in LEVELS:
            lo, hi = np.concatenate(lower[level]), np.concatenate(upper[level])
            row[f"coverage_{level}"] = float(np.mean((lo <= y) & (y <= hi)))
            row[f"width_{level}"] = float(np.mean(hi - lo))
        # width at an empirical coverage of 0.9 (linear between the levels): equal-coverage comparison
        covs = [row[f"coverage_{lv}"] for lv in LEVELS]
        row["width_at_coverage_0.9"] = float(np.interp(0.9, covs, [row[f"width_{lv}"] for lv in LEVELS]))
        rows.append(row)
        print(
            f"{key} {name:15s} mse {row['mse']:.4f} coverage@0.9 {row['coverage_0.9']:.3f} "
            f"width@0.9 {row['width_0.9']:.3f} (fit {fit_s:.1f} s, calibration {cal_s:.1f} s)",
            flush=True,
        )
    return rows


def write_markdown(rows: list[dict], path: Path, command: str) -> None:
    """Write the table of ``rows``."""
    lines = [
        "# Prediction intervals: coverage and mean width (log1p scale)",
        "",
        f"Command: `{command}` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC). Target: coverage 0.87-0.93 at 0.9.",
        "Width at coverage 0.9: the mean width interpolated (linearly between the three levels) to an",
        "empirical coverage of exactly 0.9, to compare methods at equal coverage. Calibration s: the",
        "calibration's refits (one per missingness pattern and fold), beside the method's own fits.",
        "",
        "| protocol | method | MSE | cov@0.8 | cov@0.9 | cov@0.95 | width@0.8 | width@0.9 | width@0.95 "
        "| width at coverage 0.9 | fit s | calibration s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['protocol']} | {r['method']} | {r['mse']:.4f} | {r['coverage_0.8']:.3f} | "
            f"{r['coverage_0.9']:.3f} | {r['coverage_0.95']:.3f} | {r['width_0.8']:.3f} | "
            f"{r['width_0.9']:.3f} | {r['width_0.95']:.3f} | {r['width_at_coverage_0.9']:.3f} | "
            f"{r['fit_seconds']:.1f} | "
            f"{r['calibrate_seconds']:.1f} |"
        )
    path.write_text("\n".join(lines) + "\n")


def plot(rows: list[dict], path: Path) -> None:
    """Coverage against the nominal level, one panel per protocol, widths in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    protocols = sorted({r["protocol"] for r in rows})
    fig, axes = plt.subplots(1, len(protocols), figsize=(4.2 * len(protocols), 4), squeeze=False)
    for ax, key in zip(axes[0], protocols, strict=True):
        for r in [r for r in rows if r["protocol"] == key]:
            cov = [r[f"coverage_{lv}"] for lv in LEVELS]
            ax.plot(LEVELS, cov, marker="o", label=f"{r['method']} (w {r['width_0.9']:.2f})")
        ax.plot([0.75, 1], [0.75, 1], color="grey", lw=0.8, ls="--")
        ax.axhspan(0.87, 0.93, xmin=0, xmax=1, color="green", alpha=0.08)
        ax.set(xlabel="nominal level", ylabel="empirical coverage", title=key, xlim=(0.75, 1), ylim=(0.7, 1))
        ax.legend(fontsize=7, title="width at 0.9", title_fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def summarise(paths: list[Path], out: Path) -> None:
    """Mean +/- sd over the seeds of the runs ``paths`` (their JSON), as a Markdown table.

    A run listed later replaces an earlier run's rows of the same protocol and seed (a protocol
    measured again, e.g. after a calibration change, in a file of its own).
    """
    runs = [json.loads(p.read_text()) for p in paths]
    latest = {(r["protocol"], run.get("seed")): i for i, run in enumerate(runs) for r in run["rows"]}
    runs = [
        {**run, "rows": [r for r in run["rows"] if latest[(r["protocol"], run.get("seed"))] == i]}
        for i, run in enumerate(runs)
    ]
    keys = ("mse", "coverage_0.9", "width_0.9", "width_at_coverage_0.9")
    lines = [
        "# Prediction intervals over split seeds: mean +/- sd",
        "",
        f"Runs: {', '.join(p.name for p in paths)} (seeds "
        f"{', '.join(str(r.get('seed', '?')) for r in runs)}); log1p scale.",
        "",
        "| protocol | method | MSE | coverage@0.9 | width@0.9 | width at coverage 0.9 |",
        "|---|---|---|---|---|---|",
    ]
    # every (protocol, method) of any run, in order of appearance (runs may hold other protocols)
    pairs = list(dict.fromkeys((r["protocol"], r["method"]) for run in runs for r in run["rows"]))
    for protocol, method in pairs:
        same = [r for run in runs for r in run["rows"] if (r["protocol"], r["method"]) == (protocol, method)]
        cells = []
        for key in keys:
            values = np.asarray([r[key] for r in same if key in r], dtype=float)
            cells.append(f"{values.mean():.3f} +/- {values.std(ddof=1) if len(values) > 1 else 0:.3f}")
        lines.append(f"| {protocol} | {method} | " + " | ".join(cells) + " |")
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocols", default="P1,P2,P3")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(RESULTS / "intervals"))
    parser.add_argument(
        "--summarise",
        default=None,
        help="comma-separated result JSONs: write OUT_seeds.md (mean +/- sd) only",
    )
    args = parser.parse_args(argv)
    if args.summarise:
        summarise([Path(p) for p in args.summarise.split(",")], Path(args.out + "_seeds.md"))
        print(f"wrote {args.out}_seeds.md")
        return 0
    logging.basicConfig(level=logging.WARNING)
    try:
        gi.datasets.shared_data_dir()
    except FileNotFoundError as err:
        print(f"skipped: the real data are not here ({err})")
        return 0
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(gi.methods.available_methods()))
    if unknown:
        print(f"leaving out methods this gex_impute does not have: {unknown}")
        methods = [m for m in methods if m not in unknown]
    rows = []
    for key in args.protocols.split(","):
        rows += run_protocol(key, methods, args.seed)
    command = "python benchmarks/intervals.py " + " ".join(argv if argv is not None else sys.argv[1:])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": command.strip(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "gex_impute": gi.__version__,
        "commit": package_commit(),
        "seed": args.seed,
        "levels": list(LEVELS),
        "rows": rows,
    }
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    write_markdown(rows, out.with_suffix(".md"), meta["command"])
    plot(rows, out.with_suffix(".png"))
    print(f"wrote {out}.json / .md / .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
