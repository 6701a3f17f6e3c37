"""Do the headline ratios carry to data unlike the shared tables? Subsets of the real data.

The README's figures are measured on the whole shared tables (GTEx tissue means, 18,000 genes
with a CAGE TSS; Blake 2020, 47 samples). A user's data differ: a gene set filtered to expressed
genes, other tissues, other chromosomes, fewer species. Each row here is one
:func:`gex_impute.tl.evaluate` call (split seed 0, package defaults, the benchmarks' baselines)
on such a subset, with the hybrid's ratio to the best baseline: r over distance's r and MSE over
the best baseline's MSE for P1 (genes hidden), MSE over the best baseline's for P2 (entries) and
P3 (Blake profiles, leave-one-profile-out). No setting is chosen here: every method runs with
the defaults the other benchmarks use.

Writes ``benchmarks/results/generalization.json``, ``.md`` and ``.png``.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/generalization.py          # ~20 min, 2 cores
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/generalization.py --only P1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import gex_impute as gi

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _git import package_commit  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results"
P1_BASELINES = ("distance", "nearest_gene", "mean", "knn_samples")
P23_BASELINES = ("mean", "knn", "knn_samples", "pca_regression")


def _gtex():
    adata = gi.datasets.gtex_tissues(DATA)
    return adata[:, adata.var["tss"].notna().to_numpy()].copy()


def _blake():
    adata = gi.datasets.blake2020(DATA)
    return adata[:, adata.var["tss"].notna().to_numpy()].copy()


def _chromosomes(adata, names):
    chrom = adata.var["chrom"].astype(str).str.removeprefix("chr")
    return adata[:, chrom.isin(names).to_numpy()].copy()


def _rows(adata, column, keep):
    return adata[adata.obs[column].astype(str).isin(keep).to_numpy()].copy()


def variants(only: str | None):
    """(protocol, name, loader, donor_key) of every row."""
    low = [str(i) for i in range(1, 12)]
    high = [str(i) for i in range(12, 23)] + ["X"]
    ten = sorted(np.random.default_rng(11).choice(29, 10, replace=False).tolist())
    rows = [
        ("P1", "GTEx, all genes with a TSS (the README's set)", _gtex, False),
        ("P1", "GTEx, median TPM >= 1 (expressed genes)", lambda: _expressed(_gtex()), False),
        ("P1", "GTEx, chr1-11", lambda: _chromosomes(_gtex(), low), False),
        ("P1", "GTEx, chr12-22, X", lambda: _chromosomes(_gtex(), high), False),
        ("P1", "GTEx, 10 random tissues", lambda: _gtex()[ten].copy(), False),
        ("P1", "Blake 2020, genes with a TSS", _blake, "donor"),
        ("P2", "GTEx, 10 random tissues", lambda: _gtex()[ten].copy(), False),
        ("P2", "GTEx, chr1-11", lambda: _chromosomes(_gtex(), low), False),
        ("P2", "GTEx, chr12-22, X", lambda: _chromosomes(_gtex(), high), False),
        (
            "P2",
            "Blake 2020, heart, kidney, liver",
            lambda: _rows(_blake(), "tissue", ["heart", "kidney", "liver"]),
            "donor",
        ),
        (
            "P3",
            "Blake 2020, heart, kidney, liver",
            lambda: _rows(_blake(), "tissue", ["heart", "kidney", "liver"]),
            "donor",
        ),
        (
            "P3",
            "Blake 2020, chimpanzee and rhesus macaque",
            lambda: _rows(_blake(), "species", ["chimpanzee", "rhesus macaque"]),
            "donor",
        ),
        (
            "P3",
            "Blake 2020, human and chimpanzee",
            lambda: _rows(_blake(), "species", ["human", "chimpanzee"]),
            "donor",
        ),
    ]
    return [r for r in rows if only is None or r[0] == only]


def _expressed(adata):
    return adata[:, np.median(np.asarray(adata.X), axis=0) >= 1].copy()


def run(protocol: str, name: str, adata, donor_key) -> dict:
    methods = {"hybrid": gi.HybridImputer(n_jobs=1, progress=False)}
    for b in P1_BASELINES if protocol == "P1" else P23_BASELINES:
        methods[b] = b
    if "species" in adata.obs and protocol != "P1":
        methods["mean by species"] = gi.get_method("mean", group_by="species")
    kw = {"protocol": {"P1": "genes", "P2": "entries", "P3": "samples"}[protocol]}
    kw["fraction"] = None if protocol == "P3" else 0.2  # P3: leave one profile out
    start = time.perf_counter()
    table = gi.tl.evaluate(adata, methods=methods, donor_key=donor_key, random_state=0, progress=False, **kw)
    seconds = time.perf_counter() - start
    hybrid, base = table.loc["hybrid"], table.drop(index="hybrid")
    row = {
        "protocol": protocol,
        "data": name,
        "shape": list(adata.shape),
        "hybrid_r": float(hybrid["pearson"]),
        "hybrid_mse": float(hybrid["mse"]),
        "best_mse_baseline": str(base["mse"].idxmin()),
        "mse_ratio": float(hybrid["mse"] / base["mse"].min()),
        "seconds": round(seconds, 1),
    }
    if protocol == "P1":
        row["distance_r"] = float(base.loc["distance", "pearson"])
        row["r_ratio_distance"] = row["hybrid_r"] / row["distance_r"]
    print(json.dumps(row), flush=True)
    return row


def markdown(rows: list[dict], command: str, commit: str) -> str:
    lines = [
        "# Headline ratios on subsets of the real data",
        "",
        f"`{command}` at {commit}; split seed 0; hybrid / best baseline (lower is better), P1 also",
        "hybrid r / distance r (higher is better).",
        "",
        "| protocol | data | genes x samples | hybrid r | r / distance r | MSE / best baseline (which) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = f"{r['r_ratio_distance']:.3f}" if "r_ratio_distance" in r else ""
        lines.append(
            f"| {r['protocol']} | {r['data']} | {r['shape'][1]} x {r['shape'][0]} | {r['hybrid_r']:.3f} "
            f"| {ratio} | {r['mse_ratio']:.3f} ({r['best_mse_baseline']}) |"
        )
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(rows) + 1.2))
    y = np.arange(len(rows))
    ax.barh(
        y,
        [r["mse_ratio"] for r in rows],
        color=["#4e79a7" if r["mse_ratio"] < 1 else "#e15759" for r in rows],
    )
    ax.set_yticks(y, [f"{r['protocol']}  {r['data']}" for r in rows], fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.axvline(0.85, color="grey", lw=0.8, ls="--", label="issue target 0.85")
    ax.invert_yaxis()
    ax.set_xlabel("hybrid MSE / best baseline's MSE (split seed 0)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=150)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("P1", "P2", "P3"), default=None)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        sys.exit(f"skipped: the shared data folder {DATA} is absent")
    rows = [run(p, name, load(), donor) for p, name, load, donor in variants(args.only)]
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / ("generalization" + (f"_{args.only}" if args.only else ""))
    command = "OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/generalization.py" + (
        f" --only {args.only}" if args.only else ""
    )
    commit = package_commit()
    stem.with_suffix(".json").write_text(
        json.dumps({"commit": commit, "command": command, "rows": rows}, indent=1)
    )
    stem.with_suffix(".md").write_text(markdown(rows, command, commit))
    plot(rows, stem.with_suffix(".png"))


if __name__ == "__main__":
    main()
