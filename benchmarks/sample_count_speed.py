"""``impute()`` time against the number of samples: the hybrid (today's rules and the old one) and knn.

The per-sample XGBoost base of scattered entries (:func:`gex_impute.methods.hybrid.row_models.
tree_rows`) fits one booster per sample with the other samples as features, so its cost grows
with samples x samples per masked round. It was used up to 120 samples (the ridge base's limit)
whatever the number of genes, and made cohorts of 51-120 samples the slowest to impute; it now
stops at ``entries.MAX_TREE_SAMPLES`` (50) and needs ``entries.MIN_TREE_GENES`` (2,000) genes, so
these 500-gene cohorts never use it. This benchmark times ``impute()`` on
``simulate(n_donors, 12, 500, preset="gtex_v8", absent="drop", frac_missing_entries=0.05)`` for a
range of donor counts, each run in this one process after a warm-up: the hybrid, the hybrid with
the old rule (``MAX_TREE_SAMPLES = 120``, ``MIN_TREE_GENES = 0``; cohorts of at most 120 samples)
and ``knn``.

Writes ``benchmarks/results/sample_count_speed.{json,png}``.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/sample_count_speed.py
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from _git import package_commit

RESULTS = Path(__file__).resolve().parent / "results"
DONORS = (4, 6, 8, 12, 16, 24, 40, 60, 90)
OLD_LIMIT = 120


def _time(adata, method) -> float:
    import gex_impute as gi

    start = time.perf_counter()
    gi.impute(adata, method=method, donor_key="donor", copy=True, progress=False)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    import gex_impute as gi
    from gex_impute.methods.hybrid import entries

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--donors", default=",".join(map(str, DONORS)))
    parser.add_argument("--out", default=str(RESULTS / "sample_count_speed"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)  # checked before the long work
    new_limit, min_genes = entries.MAX_TREE_SAMPLES, entries.MIN_TREE_GENES
    rows = []
    warm = gi.datasets.simulate(4, 4, 100, preset="gtex_v8", absent="drop", random_state=0)
    _time(warm, gi.HybridImputer(n_jobs=1, progress=False))  # imports and first-call costs
    for n_donors in map(int, args.donors.split(",")):
        adata = gi.datasets.simulate(
            n_donors, 12, 500, preset="gtex_v8", absent="drop", frac_missing_entries=0.05, random_state=0
        )
        rec = {"donors": n_donors, "samples": int(adata.n_obs), "genes": int(adata.n_vars)}
        rec["hybrid"] = _time(adata, gi.HybridImputer(n_jobs=1, progress=False))
        if adata.n_obs <= OLD_LIMIT:
            entries.MAX_TREE_SAMPLES, entries.MIN_TREE_GENES = OLD_LIMIT, 0
            try:
                rec["hybrid_old_limit"] = _time(adata, gi.HybridImputer(n_jobs=1, progress=False))
            finally:
                entries.MAX_TREE_SAMPLES, entries.MIN_TREE_GENES = new_limit, min_genes
        rec["knn"] = _time(adata, "knn")
        print(rec, flush=True)
        rows.append(rec)
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    meta = {"command": "python benchmarks/sample_count_speed.py", "date": stamp, "commit": package_commit()}
    meta |= {"max_tree_samples": new_limit, "min_tree_genes": min_genes, "old_limit": OLD_LIMIT}
    out.with_suffix(".json").write_text(json.dumps({**meta, "rows": rows}, indent=1) + "\n")
    _plot(rows, out.with_suffix(".png"), new_limit, min_genes)
    print(f"wrote {out}.json / .png")


def _plot(rows: list[dict], path: Path, limit: int, min_genes: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    n = [r["samples"] for r in rows]
    label = f"hybrid (tree base: at most {limit} samples, at least {min_genes:,} genes)"
    ax.plot(n, [r["hybrid"] for r in rows], "o-", label=label)
    old = [r for r in rows if "hybrid_old_limit" in r]
    if old:
        ax.plot(
            [r["samples"] for r in old],
            [r["hybrid_old_limit"] for r in old],
            "s",
            color="tab:red",
            label=f"hybrid, tree base up to {OLD_LIMIT} samples, any genes (before)",
        )
    ax.plot(n, [r["knn"] for r in rows], "^-", color="grey", label="knn")
    ax.set_yscale("log")
    ax.set_xlabel("samples (12 tissues x 500 genes, simulator)")
    ax.set_ylabel("impute() seconds (1 thread)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
