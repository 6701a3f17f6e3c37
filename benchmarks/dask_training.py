"""The hybrid's ``complete()`` with XGBoost trained locally vs on a dask LocalCluster (xgboost.dask).

One cohort of the GTEx-v8-shaped simulator (``--donors`` donors x 54 tissues, ``--genes``
genes), the observed samples only, completed three ways, each in its own process with its own
LocalCluster (so that no per-cohort cache of one mode speeds up the next):

- ``local``: ``gi.tl.complete(adata, method="hybrid")``, no client;
- ``cluster``: the same with ``client=`` a ``LocalCluster`` (``--workers`` worker processes of
  one thread each): the blocks are estimated on the workers and every XGBoost booster of the
  fit is trained there with ``xgboost.dask.train`` (one worker per booster, the default);
- ``cluster_spread``: the hybrid fitted inside ``training_client(client, n_partitions=workers)``
  (each booster's rows spread over all workers), then completed with ``client=``.

Per mode: wall seconds, the fit's and the estimation's seconds (``uns``), the seconds spent in
XGBoost training (``stacking.train_booster`` timed around each call), the number of boosters,
and the differences of the estimated entries from the local run's on the log1p scale (max,
mean, Pearson r). The load
average before and after is recorded: on a shared machine the timings are pessimistic.

Writes ``benchmarks/results/<name>.json`` (default ``dask_training``) and the table as
``<name>_table.md`` beside it, for the hand-written ``dask_training.md``.

Usage::

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/dask_training.py \\
        [--donors 100] [--genes 1000] [--workers 2] [--missing-entries 0.05] [--name NAME] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


class BoosterTimer:
    """Time every ``stacking.train_booster`` call (local or delegated to the cluster)."""

    def __init__(self) -> None:
        from gex_impute.methods.hybrid import stacking

        self.stacking = stacking
        self.original = stacking.train_booster
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self) -> BoosterTimer:
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        self.stacking.train_booster = timed
        return self

    def __exit__(self, *exc) -> None:
        self.stacking.train_booster = self.original


def run_mode(mode: str, adata, client, workers: int) -> tuple[dict, np.ndarray, np.ndarray]:
    """Complete ``adata`` in one mode; return the measurements, log1p(completed) and its mask."""
    import gex_impute as gi
    from gex_impute.methods.hybrid.distributed import training_client

    load = os.getloadavg()
    t0 = time.perf_counter()
    with BoosterTimer() as timer:
        if mode == "local":
            out = gi.tl.complete(adata, method="hybrid", progress=False)
        elif mode == "cluster":
            out = gi.tl.complete(adata, method="hybrid", client=client, progress=False)
        else:  # cluster_spread: fit with each booster's rows over all workers, then complete
            model = gi.HybridImputer(progress=False)
            with training_client(client, n_partitions=workers):
                model.fit(adata, donor_key="donor")
            out = gi.tl.complete(adata, method=model, client=client, progress=False)
    wall = time.perf_counter() - t0
    info = out.uns["completed"]
    fit_s = float(info["fit_seconds"]) if mode != "cluster_spread" else wall - float(info["predict_seconds"])
    return (
        {
            "mode": mode,
            "wall_seconds": wall,
            "fit_seconds": fit_s,
            "estimate_seconds": float(info["predict_seconds"]),
            "xgboost_train_seconds": timer.seconds,
            "n_boosters": timer.calls,
            "xgboost_on_client": bool(info["xgboost_on_client"]) or mode == "cluster_spread",
            "n_workers": int(info["n_workers"]),
            "load_average_before": load,
            "load_average_after": os.getloadavg(),
        },
        np.log1p(np.asarray(out.X, dtype=np.float64)),
        np.asarray(out.layers["completed_mask"]),
    )


def cohort(donors: int, genes: int, missing_entries: float | None):
    """The simulated cohort's observed samples (the same in every process: seeded)."""
    import gex_impute as gi

    adata = gi.datasets.simulate(
        preset="gtex_v8", n_donors=donors, n_genes=genes, frac_missing_entries=missing_entries, random_state=0
    )
    return adata[~np.isnan(adata.X).all(axis=1)].copy()


def one_mode(args: argparse.Namespace) -> None:
    """Child process: one mode on a fresh cohort (and a fresh cluster); write its row and matrices."""
    import distributed

    adata = cohort(args.donors, args.genes, args.missing_entries)
    if args.one_mode == "local":  # no cluster at all
        row, x, mask = run_mode("local", adata, None, args.workers)
    else:
        with (
            distributed.LocalCluster(
                n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            row, x, mask = run_mode(args.one_mode, adata, client, args.workers)
    row["n_observed_samples"] = int(adata.n_obs)
    np.save(args.tmp / f"{args.one_mode}_x.npy", x)
    np.save(args.tmp / f"{args.one_mode}_mask.npy", mask)
    (args.tmp / f"{args.one_mode}.json").write_text(json.dumps(row))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--donors", type=int, default=100)
    parser.add_argument("--genes", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--modes", default="local,cluster,cluster_spread")
    parser.add_argument(
        "--missing-entries",
        type=float,
        default=None,
        help="share of observed entries hidden (the preset's default: none); adds the entries model",
    )
    parser.add_argument("--name", default="dask_training", help="stem of the files written")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one-mode", help=argparse.SUPPRESS)  # internal: the child process
    parser.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_mode:
        one_mode(args)
        return {}

    import subprocess
    import tempfile

    import dask
    import distributed
    import xgboost

    import gex_impute as gi

    rows: list[dict] = []
    reference = None
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for mode in args.modes.split(","):
            print(f"{mode} ...", flush=True)
            child = [sys.executable, __file__, "--one-mode", mode, "--tmp", str(tmp)]
            child += [
                "--donors",
                str(args.donors),
                "--genes",
                str(args.genes),
                "--workers",
                str(args.workers),
            ]
            if args.missing_entries is not None:
                child += ["--missing-entries", str(args.missing_entries)]
            t0 = time.perf_counter()
            subprocess.run(child, check=True)
            row = json.loads((tmp / f"{mode}.json").read_text())
            row["process_seconds"] = time.perf_counter() - t0  # with imports, simulation, cluster start
            x, mask = np.load(tmp / f"{mode}_x.npy"), np.load(tmp / f"{mode}_mask.npy")
            if reference is None:
                reference = x
            # on the log1p scale (the simulator's TPMs reach 1e7: raw differences say little), over
            # the estimated entries
            diff = np.abs(x - reference)[mask]
            row["n_estimated_entries"] = int(mask.sum())
            row["max_abs_log1p_diff_vs_first"] = float(diff.max())
            row["mean_abs_log1p_diff_vs_first"] = float(diff.mean())
            row["pearson_r_log1p_vs_first"] = float(np.corrcoef(x[mask], reference[mask])[0, 1])
            rows.append(row)
            print(json.dumps(row), flush=True)
    report = {
        "benchmark": "hybrid complete(): XGBoost trained locally vs on a dask LocalCluster (xgboost.dask)",
        "command": " ".join(["python", *sys.argv]),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "gex_impute": gi.__version__,
        "xgboost": xgboost.__version__,
        "dask": dask.__version__,
        "distributed": distributed.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cohort": {
            "preset": "gtex_v8",
            "n_donors": args.donors,
            "n_genes": args.genes,
            "n_observed_samples": rows[0]["n_observed_samples"] if rows else None,
            "frac_missing_entries": args.missing_entries,
            "random_state": 0,
        },
        "cluster": {"n_workers": args.workers, "threads_per_worker": 1, "processes": True},
        "note": "each mode in its own process with its own LocalCluster (no cache shared between modes)",
        "modes": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2) + "\n")
    tmp.replace(path)
    lines = [
        "| mode | wall s | fit s | estimate s | XGBoost training s (boosters) "
        "| vs local: max / mean abs log1p diff | r |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['mode']} | {r['wall_seconds']:.1f} | {r['fit_seconds']:.1f} | {r['estimate_seconds']:.1f} "
            f"| {r['xgboost_train_seconds']:.1f} ({r['n_boosters']}) "
            f"| {r['max_abs_log1p_diff_vs_first']:.3g} / {r['mean_abs_log1p_diff_vs_first']:.3g} "
            f"| {r['pearson_r_log1p_vs_first']:.6f} |"
        )
    (args.out / f"{args.name}_table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return report


if __name__ == "__main__":
    main()
