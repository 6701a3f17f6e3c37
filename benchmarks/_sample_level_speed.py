"""The speed job of :mod:`sample_level` (issue 10): ``impute()`` wall / CPU time, hybrid vs ``knn``.

``impute()`` on ``simulate(n_donors=50, n_tissues=20, n_genes=2000, frac_missing_samples=0.3)``,
each run in its own process (``sample_level.py --speed-one <method>``), alternated knn, hybrid,
knn, hybrid, knn in one sitting; every run records wall and CPU seconds of the ``impute()`` call,
the 1-min load, peak RSS and accuracy on the absent profiles against the truth.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _rss import peak_rss_mb

SPEED_SIM = {"n_donors": 50, "n_tissues": 20, "n_genes": 2000, "frac_missing_samples": 0.3, "random_state": 0}
HYBRID = {"n_jobs": 1, "progress": False}


def speed_one(method: str) -> dict:
    """``impute()`` with ``method`` on the speed cohort: seconds, peak RSS, accuracy vs the truth."""
    import gex_impute as gi

    adata = gi.datasets.simulate(**SPEED_SIM)
    x = np.asarray(adata.X, dtype=float)
    miss = np.isnan(x)
    spec = gi.HybridImputer(**HYBRID) if method == "hybrid" else method
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    out = gi.impute(adata, method=spec, donor_key="donor", copy=True, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    pred = np.log1p(np.asarray(out.layers["imputed"], dtype=float))
    truth = np.log1p(np.asarray(adata.layers["truth"], dtype=float))
    absent = miss.all(1)[:, None] & ~miss.all(0)[None, :]
    rec = {
        "method": method,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "load_1min": [load, os.getloadavg()[0]],
        "peak_rss_mb": peak_rss_mb(),
    }
    for name, sel in (("absent_profiles", absent), ("all_missing", miss)):
        rec[f"{name}_mse"] = float(np.mean((pred[sel] - truth[sel]) ** 2))
        rec[f"{name}_r"] = float(np.corrcoef(pred[sel], truth[sel])[0, 1])
    return rec


def run_speed(*, script: Path, commit: str, env: dict) -> list[dict]:
    """knn, hybrid, knn, hybrid, knn, each in its own process (``script --speed-one``), alternated."""
    rows = []
    for i, method in enumerate(("knn", "hybrid", "knn", "hybrid", "knn")):
        cmd = [sys.executable, str(script), "--speed-one", method]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        rec = json.loads(res.stdout.strip().splitlines()[-1])
        print(f"speed {method}: {rec}", flush=True)
        rows.append({"dataset": "speed", "protocol": "impute", "seed": 0, "run": i, "commit": commit, **rec})
    return rows


def speed_lines(speed: list[dict]) -> list[str]:
    """The speed table (every run) and the median ratios."""
    lines = [
        "| run | method | seconds | CPU s | load (1 min) | peak RSS MB | absent profiles MSE | r "
        "| all missing MSE | r |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in speed:
        cpu = f"{r['cpu_seconds']:.1f}" if "cpu_seconds" in r else ""
        load = "-".join(f"{v:.1f}" for v in r["load_1min"]) if "load_1min" in r else ""
        lines.append(
            f"| {r.get('run', '')} | {r['method']} | {r['seconds']:.1f} | {cpu} | {load} | "
            f"{r['peak_rss_mb']:.0f} | {r['absent_profiles_mse']:.4f} | {r['absent_profiles_r']:.4f} | "
            f"{r['all_missing_mse']:.4f} | {r['all_missing_r']:.4f} |"
        )
    med = {
        (m, key): float(np.median([r[key] for r in speed if r["method"] == m and key in r]))
        for m in ("knn", "hybrid")
        for key in ("seconds", "cpu_seconds")
        if any(r["method"] == m and key in r for r in speed)
    }
    if ("knn", "seconds") in med and ("hybrid", "seconds") in med:
        text = f"\nhybrid / knn time (medians): {med['hybrid', 'seconds'] / med['knn', 'seconds']:.1f}x wall"
        if ("knn", "cpu_seconds") in med and ("hybrid", "cpu_seconds") in med:
            text += f", {med['hybrid', 'cpu_seconds'] / med['knn', 'cpu_seconds']:.1f}x CPU"
        commits = sorted({r["commit"] for r in speed if "commit" in r})
        lines.append(text + (f" (commit {', '.join(commits)})" if commits else ""))
    return lines
