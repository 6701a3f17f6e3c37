"""Accuracy benchmark on the real data: every method side by side under three protocols.

P1  GTEx tissue table (29 tissues x genes with a CAGE TSS), 20% of the genes hidden in every
    tissue (``evaluate(protocol="genes")``), random_state 0.
P2  the same table, 20% of the entries hidden at random (``protocol="entries"``).
P3  Blake et al. 2020 primates (47 samples; 12 individuals x 4 tissues, human-1 heart absent),
    each individual's tissue profiles held out in turn: 8-fold cross-validation over the 47
    donor x tissue profiles, each held out once and never two of one individual in the same fold
    (``protocol="samples", n_folds=8``); metrics pool the folds.

All data are restricted to genes with a TSS in ``hg38_tss_cage_20kb.bed`` so every method
(including the coordinate-based ones) is scored on the same entries. Metrics are on the log1p
scale of TPM (P1, P2) and CPM (P3).

Writes ``benchmarks/results/accuracy.json``, ``accuracy.md`` (the tables) and PNGs
(``accuracy_pearson.png``, ``accuracy_mse.png``, ``accuracy_sample_r.png`` and
``accuracy_pvo_<protocol>.png`` for the best method of each protocol).

Usage::

    .venv/bin/python benchmarks/accuracy.py                 # everything
    .venv/bin/python benchmarks/accuracy.py --protocols P3 --methods mean,knn
    .venv/bin/python benchmarks/accuracy.py --quick         # chr1-3 only, one P3 fold set
    .venv/bin/python benchmarks/accuracy.py --protocols P1 --methods hybrid --merge  # rerun rows only

Hybrid: ``"hybrid"`` with its defaults, and the ablations in :data:`ABLATIONS` (one component
switched from its default each). Edit :func:`method_factories` to change either.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

import gex_impute as gi
from gex_impute.methods import get_method

logger = logging.getLogger("gex_impute")

RESULTS = Path(__file__).resolve().parent / "results"
PROTOCOLS = {
    "P1": {"protocol": "genes", "fraction": 0.2, "dataset": "gtex_tissues"},
    "P2": {"protocol": "entries", "fraction": 0.2, "dataset": "gtex_tissues"},
    "P3": {
        "protocol": "samples",
        "fraction": None,
        "n_folds": 8,
        "dataset": "blake2020",
        "donor_key": "donor",
    },
}
#: reference figures measured independently on the same data and split style (issue 3)
#: the hybrid's ablations: one component switched from its default each (label -> HybridImputer
#: parameters); the tissue encoder is off by default, so its row switches it on
ABLATIONS = {
    "hybrid -sequence": {"use_sequence": False},
    "hybrid +tissue encoder": {"use_tissue_encoder": True},
    "hybrid -neighbours": {"use_neighbours": False},
    "hybrid -xgboost": {"use_xgboost": False},
}
REFERENCE = {
    "P1": {"method": "distance (k=20, 1/d)", "pearson": 0.29},
    "P2": {"method": "knn", "pearson": 0.94, "mse": 0.29},
    "P3": {"method": "mean (species)", "pearson": 0.96},
}


def _factory(name, **params):
    def make():
        method = get_method(name, **params)
        if "random_state" in method.get_params() and "random_state" not in params:
            method.set_params(random_state=0)
        if "progress" in method.get_params() and "progress" not in params:
            method.set_params(progress=False)  # one log line a method; --progress shows evaluate's bars
        return method

    return make


def method_factories(protocol: str, *, hybrid: bool = True) -> list[tuple[str, object]]:
    """(label, zero-argument factory) pairs for one protocol: the hook to add methods."""
    methods = [
        ("distance", _factory("distance")),
        # the reference configuration of the paper's comparator
        ("distance (k=20, 1/d)", _factory("distance", k=20, window=1_000_000, power=1.0)),
        ("nearest_gene", _factory("nearest_gene")),
        ("mean", _factory("mean")),
    ]
    if protocol == "P3":
        methods.append(("mean (species)", _factory("mean", group_by="species")))
    methods += [
        ("additive", _factory("additive")),
        ("knn", _factory("knn")),
        ("knn_samples", _factory("knn_samples")),
        ("softimpute", _factory("softimpute")),
        ("pca_regression", _factory("pca_regression")),
    ]
    if hybrid:
        methods += hybrid_factories(protocol)
    return methods


def hybrid_factories(protocol: str) -> list[tuple[str, object]]:
    """The hybrid model and its ablations (:data:`ABLATIONS`)."""
    out = [("hybrid", _factory("hybrid"))]
    out += [(label, _factory("hybrid", **params)) for label, params in ABLATIONS.items()]
    return out


def load(dataset: str, quick: bool):
    adata = gi.datasets.gtex_tissues() if dataset == "gtex_tissues" else gi.datasets.blake2020()
    keep = adata.var["tss"].notna().to_numpy()
    if quick:
        keep &= adata.var["chrom"].isin(["chr1", "chr2", "chr3"]).to_numpy()
    return adata[:, keep].copy()


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024**2


def _git_state() -> dict[str, str]:
    """The commit measured, and the package files that differed from it (uncommitted work)."""
    root = Path(gi.__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    changed = [line[3:] for line in git("status", "--short", "--", "gex_impute").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": ", ".join(changed)}


def _commit_label(state: dict[str, str]) -> str:
    return state["commit"] + ("+dirty" if state["uncommitted"] else "")


def merge_previous(report: dict, table: pd.DataFrame, out_dir: Path) -> pd.DataFrame:
    """Keep the rows of ``out_dir/accuracy.json`` that this run did not measure (``--merge``).

    Protocols not run, and within a protocol run the methods not run, keep their earlier rows,
    each with the commit it was measured at (column ``commit``). Updates ``report`` in place
    and returns the merged table.
    """
    path = out_dir / "accuracy.json"
    if not path.exists():
        return table
    old = json.loads(path.read_text())
    old_commit = _commit_label(old["meta"]["git"])
    frames = []
    for key in PROTOCOLS:
        new_block, old_block = report["protocols"].get(key), old["protocols"].get(key)
        if new_block is None and old_block is None:
            continue
        rows = pd.DataFrame(new_block["results"]) if new_block else pd.DataFrame()
        if old_block:
            kept = pd.DataFrame(old_block["results"])
            if "commit" not in kept.columns:
                kept["commit"] = old_commit
            if len(rows):
                kept = kept[~kept["method"].isin(rows["method"])]
            rows = pd.concat([rows, kept], ignore_index=True)
        order = {label: i for i, (label, _) in enumerate(method_factories(key))}
        rows = rows.sort_values("method", key=lambda m: m.map(order).fillna(len(order)), kind="stable")
        block = dict(new_block or old_block)
        block["results"] = json.loads(rows.to_json(orient="records"))
        block["best_method"] = str(rows.loc[rows["pearson"].idxmax(), "method"])
        report["protocols"][key] = block
        frames.append(rows.set_index("method"))
    report["meta"]["merged_from"] = {"command": old["meta"]["command"], "date": old["meta"]["date"]}
    return pd.concat(frames) if frames else table


def run(
    protocols, selected, quick, out_dir: Path, progress: bool, hybrid: bool = True, merge: bool = False
) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": {
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "gex_impute": gi.__version__,
            "git": _git_state(),  # the code measured (the package imported, wherever it lives)
            "python": platform.python_version(),
            "machine": platform.machine(),
            "quick": quick,
            "random_state": 0,
            "metric_scale": "log1p (TPM for P1/P2, CPM for P3)",
            "reference": REFERENCE,
        },
        "protocols": {},
    }
    tables = []
    best_preds = {}
    cache = {}
    for key in protocols:
        spec = PROTOCOLS[key]
        if spec["dataset"] not in cache:
            cache[spec["dataset"]] = load(spec["dataset"], quick)
        adata = cache[spec["dataset"]]
        fraction, n_folds = spec["fraction"], spec.get("n_folds")
        if quick and fraction is None:
            fraction, n_folds = 0.25, None  # one fold of a quarter of the profiles
        factories = [
            (lab, f) for lab, f in method_factories(key, hybrid=hybrid) if not selected or lab in selected
        ]
        rows, predictions = [], {}
        for label, factory in factories:
            start = time.perf_counter()
            table, preds = gi.evaluate(
                adata,
                protocol=spec["protocol"],
                fraction=fraction,
                n_folds=n_folds,
                methods=[(label, factory)],
                donor_key=spec.get("donor_key"),
                random_state=0,
                progress=progress,
                return_predictions=True,
            )
            table["wall_seconds"] = time.perf_counter() - start
            table["peak_rss_mb"] = _peak_rss_mb()  # process peak so far (monotone)
            table["commit"] = _commit_label(report["meta"]["git"])
            rows.append(table)
            predictions[label] = preds[label]
            r = table.iloc[0]
            logger.warning(
                "%s %-22s r=%.3f  mse=%.3f  sample_r=%.3f  fallback=%d  (%.1f s)",
                key,
                label,
                r["pearson"],
                r["mse"],
                r["mean_sample_r"],
                r["n_fallback"],
                r["wall_seconds"],
            )
        table = pd.concat(rows)
        table.insert(0, "benchmark", key)
        tables.append(table)
        best = table["pearson"].idxmax()
        best_preds[key] = (best, predictions[best])
        report["protocols"][key] = {
            "description": PROTOCOLS[key],
            "dataset": spec["dataset"],
            "n_samples": int(adata.n_obs),
            "n_genes": int(adata.n_vars),
            "fraction": fraction,
            "best_method": best,
            "results": json.loads(table.reset_index().to_json(orient="records")),
        }
    full = pd.concat(tables) if tables else pd.DataFrame()
    if merge:
        full = merge_previous(report, full, out_dir)
    write_outputs(report, full, best_preds, out_dir)
    return report


def write_outputs(report: dict, table: pd.DataFrame, best_preds: dict, out_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gex_impute._utils import atomic_path

    with atomic_path(out_dir / "accuracy.json") as tmp:
        tmp.write_text(json.dumps(report, indent=1, allow_nan=True) + "\n")
    cols = [
        "pearson",
        "spearman",
        "mse",
        "mean_gene_r",
        "mean_sample_r",
        "n_heldout",
        "n_fallback",
        "wall_seconds",
    ]
    if "commit" in table.columns:
        cols.append("commit")
    meta = report["meta"]
    changed = meta["git"]["uncommitted"]
    dirty = f" (uncommitted in gex_impute/: {changed})" if changed else ""
    lines = [
        f"Measured {meta['date']}, gex_impute {meta['gex_impute']} at commit {meta['git']['commit']}{dirty}, "
        f"with `{meta['command']}`; metrics on the {meta['metric_scale']} scale.\n"
    ]
    if "merged_from" in meta:
        lines.append(
            f"Rows not measured by this command are kept from `{meta['merged_from']['command']}` "
            f"({meta['merged_from']['date']}); column `commit` says where each row was measured.\n"
        )
    for key, sub in table.groupby("benchmark", sort=False):
        desc = PROTOCOLS[key]
        lines.append(f"### {key}: {desc['dataset']}, protocol={desc['protocol']!r}\n")
        lines.append(sub[cols].round(3).to_markdown())
        lines.append("")
    with atomic_path(out_dir / "accuracy.md") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    if table.empty:
        return
    plot = (
        table.rename(columns={"benchmark": "bench"})
        .drop(columns=["protocol"])
        .rename(columns={"bench": "protocol"})
    )
    for metric, name in (("pearson", "pearson"), ("mse", "mse"), ("mean_sample_r", "sample_r")):
        ax = gi.pl.method_comparison(plot, metric=metric, save=out_dir / f"accuracy_{name}.png")
        plt.close(ax.figure)
    for key, (label, preds) in best_preds.items():
        ax = gi.pl.predicted_vs_observed(
            preds, title=f"{key} {label}", save=out_dir / f"accuracy_pvo_{key}.png"
        )
        plt.close(ax.figure)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--protocols", default="P1,P2,P3", help="comma-separated subset of P1,P2,P3")
    parser.add_argument("--methods", default="", help="comma-separated method labels (default: all)")
    parser.add_argument("--quick", action="store_true", help="chr1-3 only and a single P3 fold")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output folder")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--no-hybrid", action="store_true", help="baselines only")
    parser.add_argument(
        "--merge", action="store_true", help="keep the rows of the existing accuracy.json that are not rerun"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        parser.error(f"unknown protocols {unknown}; choose from {list(PROTOCOLS)}")
    selected = {m.strip() for m in args.methods.split(",") if m.strip()}
    report = run(
        protocols, selected, args.quick, args.out, args.progress, hybrid=not args.no_hybrid, merge=args.merge
    )
    for key, block in report["protocols"].items():
        print(f"{key}: best {block['best_method']}")
    print(f"wrote {args.out / 'accuracy.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
