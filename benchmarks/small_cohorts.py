"""Small and sparse cohorts: every method under one protocol, on the simulator's GTEx preset.

A user's cohort may be far smaller than GTEx: a pilot of 15 donors, a few tissues, most donors
giving one or two of them. There, per-tissue and per-donor statistics rest on two or three
profiles, many tissue pairs are never observed together, and a model that learns from its own
training rows can find patterns that do not hold for the absent ones. This benchmark checks
that the hybrid stays at or below the best baseline there, rather than tuning anything on it.

Cohorts: ``simulate(preset="gtex_v8", n_donors, n_tissues, n_genes=200, absent="drop")``, then
each sample kept with probability ``keep`` (data seed = split seed = 0, 1, 2). Protocols P3
(whole profiles, ``evaluate(protocol="samples")``, 20% hidden) and P2 (entries, 20% hidden).
Methods: the hybrid, pca_regression, knn_samples and mean, in one ``evaluate`` call per cohort.

Writes ``benchmarks/results/small_cohorts.{json,md,png}``.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/small_cohorts.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from _git import package_commit

RESULTS = Path(__file__).resolve().parent / "results"
#: (donors, tissues, share of the samples kept)
COHORTS = ((15, 6, 0.35), (40, 10, 0.35), (15, 54, 1.0))
PROTOCOLS = {"P3": "samples", "P2": "entries"}
METHODS = ("hybrid", "pca_regression", "knn_samples", "mean")


def cohort(n_donors: int, n_tissues: int, keep: float, seed: int):
    """The simulated cohort, ``keep`` of its samples (at random, ``seed``)."""
    import gex_impute as gi

    adata = gi.datasets.simulate(n_donors, n_tissues, 200, preset="gtex_v8", absent="drop", random_state=seed)
    if keep < 1:
        adata = adata[np.random.default_rng(seed).random(adata.n_obs) < keep].copy()
    return adata


def run(config: tuple[int, int, float], protocol: str, seed: int) -> list[dict]:
    """One ``evaluate`` of every method; one row per method."""
    import gex_impute as gi

    adata = cohort(*config, seed)
    per_donor = adata.obs.groupby("donor", observed=True).size()
    start = time.perf_counter()
    table = gi.tl.evaluate(
        adata,
        methods=list(METHODS),
        protocol=PROTOCOLS[protocol],
        donor_key="donor",
        random_state=seed,
        progress=False,
    )
    seconds = time.perf_counter() - start
    best = float(table["mse"].drop("hybrid").min())
    return [
        {
            "donors": config[0],
            "tissues": config[1],
            "keep": config[2],
            "protocol": protocol,
            "seed": seed,
            "samples": int(adata.n_obs),
            "samples_per_donor": float(per_donor.mean()),
            "method": name,
            "mse": float(table.loc[name, "mse"]),
            "ratio_to_best_baseline": float(table.loc[name, "mse"]) / best,
            "seconds": seconds,
        }
        for name in table.index
    ]


def write(rows: list[dict], command: str, out: Path) -> None:
    """JSON (every row), Markdown (the hybrid's ratio per cohort, protocol and seed) and a plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    commit = package_commit()
    out.with_suffix(".json").write_text(
        json.dumps({"command": command, "date": stamp, "commit": commit, "rows": rows}, indent=1) + "\n"
    )
    groups: dict[tuple, list[dict]] = {}  # (donors, tissues, keep, protocol) -> the hybrid's rows
    for r in rows:
        if r["method"] == "hybrid":
            groups.setdefault((r["donors"], r["tissues"], r["keep"], r["protocol"]), []).append(r)
    lines = [
        "# Small and sparse cohorts: hybrid MSE / best baseline's (lower is better)",
        "",
        f"`{command}` ({stamp}, commit {commit}). Simulator GTEx preset, 200 genes; samples kept at",
        "random with probability `keep`; 20% of the profiles (P3) or entries (P2) hidden; baselines",
        "pca_regression, knn_samples and mean under the same split. Seeds 0-2 (data and split).",
        "",
        "| donors | tissues | keep | samples / donor | protocol | seed 0 | seed 1 | seed 2 | mean |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (donors, tissues, keep, protocol), same in groups.items():
        ratios = [r["ratio_to_best_baseline"] for r in same]
        spd = np.mean([r["samples_per_donor"] for r in same])
        cells = " | ".join(f"{v:.3f}" for v in [*ratios, np.mean(ratios)])
        lines.append(f"| {donors} | {tissues} | {keep} | {spd:.1f} | {protocol} | {cells} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for i, same in enumerate(groups.values()):
        ax.scatter([i] * len(same), [r["ratio_to_best_baseline"] for r in same], color="tab:blue")
    ax.axhline(1.0, color="grey", lw=1, ls="--")
    labels = [f"{d} x {t}, keep {k}\n{p}" for d, t, k, p in groups]
    ax.set_xticks(range(len(groups)), labels, fontsize=7)
    ax.set_ylabel("hybrid MSE / best baseline")
    ax.set_title("Small and sparse simulated cohorts (3 seeds)")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--protocols", default="P3,P2")
    parser.add_argument("--out", default=str(RESULTS / "small_cohorts"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # checked before the long work
    rows: list[dict] = []
    for config in COHORTS:
        for protocol in args.protocols.split(","):
            for seed in map(int, args.seeds.split(",")):
                new = run(config, protocol, seed)
                rows += new
                hyb = next(r for r in new if r["method"] == "hybrid")
                ratio = hyb["ratio_to_best_baseline"]
                print(f"{config} {protocol} seed {seed}: hybrid / best baseline {ratio:.3f}", flush=True)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python benchmarks/small_cohorts.py", *given])
    write(rows, command, out)
    print(f"wrote {out}.json / .md / .png")


if __name__ == "__main__":
    main()
