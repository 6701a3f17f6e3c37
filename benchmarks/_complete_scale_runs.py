"""The subprocess modes of :mod:`complete_scale`: simulate a cohort, run one method, score it.

``complete_scale.py`` runs itself with ``--simulate`` / ``--run`` / ``--score`` so that every
size and method has a process of its own (peak RSS and CPU time of that run only); this module
holds what those processes do. Each writes one JSON line to stdout for the parent to read.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import time

from _rss import peak_rss_mb


def simulate(args: argparse.Namespace) -> None:
    """Simulate one cohort and write it (not timed as part of the pipeline); optionally hide samples."""
    import numpy as np

    import gex_impute as gi

    start = time.perf_counter()
    adata = gi.datasets.simulate(
        n_donors=args.donors, n_tissues=args.tissues, n_genes=args.genes, preset="gtex_v8", random_state=0
    )
    simulate_s = time.perf_counter() - start
    n_hidden = 0
    if args.hidden:
        rng = np.random.default_rng(1)
        donors = adata.obs["donor"].astype(str).to_numpy()
        counts = adata.obs["donor"].value_counts()
        eligible = np.flatnonzero(counts[donors].to_numpy() >= 2)
        hidden = np.zeros(adata.n_obs, dtype=bool)
        hidden[rng.choice(eligible, int(args.hide * adata.n_obs), replace=False)] = True
        # every donor and every tissue keeps at least one observed sample
        tissues = adata.obs["tissue"].astype(str).to_numpy()
        for labels in (donors, tissues):
            for label in np.unique(labels[hidden]):
                mine = labels == label
                if not (mine & ~hidden).any():
                    hidden[np.flatnonzero(mine)[0]] = False
        adata[hidden].copy().write_h5ad(args.hidden)
        adata = adata[~hidden].copy()
        n_hidden = int(hidden.sum())
    adata.write_h5ad(args.input)
    print(
        json.dumps(
            {
                "n_samples": adata.n_obs,
                "n_genes": adata.n_vars,
                "n_hidden": n_hidden,
                "simulate_seconds": simulate_s,
            }
        )
    )


def profiled(args: argparse.Namespace, func):
    """Run ``func()``; with ``--profile``, also return its top functions by cumulative time."""
    if not args.profile:
        return func(), None
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    result = profiler.runcall(func)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    return result, text.getvalue().splitlines()[-40:]


def run(args: argparse.Namespace) -> None:
    """Read -> complete -> write, timed, with the peak RSS of this process."""
    import anndata as ad
    import numpy as np

    from gex_impute.tl import complete

    params = json.loads(args.params)
    fit_log: list[str] = []  # the method's own account of its fit (the hybrid: models, diagnostics)

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "fit" in record.getMessage()[:20]:
                fit_log.append(record.getMessage()[:4000])

    # the fit's diagnostics are a DEBUG record (its INFO line is the short summary)
    logging.getLogger("gex_impute").addHandler(Keep(logging.DEBUG))
    logging.getLogger("gex_impute").setLevel(logging.DEBUG)
    rss_before = peak_rss_mb()
    start = time.perf_counter()

    part: dict = {}

    def pipeline():
        adata = ad.read_h5ad(args.input)
        read_s = time.perf_counter() - start
        donors = None
        if args.estimate_donors:  # every donor fits the model; these donors' grid is estimated
            names = np.asarray(adata.obs["donor"].astype(str).unique())
            step = max(1, len(names) // args.estimate_donors)
            donors = list(names[::step][: args.estimate_donors])
            units = adata.obs[["donor", "tissue"]].astype(str).drop_duplicates()
            n_tissues = adata.obs["tissue"].nunique()
            part["n_absent_profiles_all_donors"] = len(names) * n_tissues - len(units)
        complete(
            adata,
            method=args.method,
            out=args.output,
            donors=donors,
            block_size=args.block_size,
            progress=False,
            overwrite=True,
            **params,
        )
        return adata.n_obs, read_s

    (n_input, read_s), profile = profiled(args, pipeline)
    wall = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    back = ad.read_h5ad(args.output, backed="r")
    info = dict(back.uns["completed"])
    n_rows, n_genes = back.shape
    back.file.close()
    itemsize = np.dtype(np.float32).itemsize
    print(
        json.dumps(
            {
                "method": args.method,
                "wall_seconds": wall,
                "read_seconds": read_s,
                "fit_seconds": float(info["fit_seconds"]),
                "estimate_and_write_seconds": float(info["predict_seconds"]),
                "peak_rss_mb": peak_rss_mb(),
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
                "rss_after_imports_mb": rss_before,
                "n_input_samples": int(n_input),
                "n_rows": int(n_rows),
                "n_estimated_profiles": int(info["n_estimated_profiles"]),
                "n_profile_predictions": int(info.get("n_profile_predictions", -1)),
                "n_genes": int(n_genes),
                "input_matrix_mb": n_input * n_genes * itemsize / 2**20,
                "output_matrix_mb": n_rows * n_genes * itemsize / 2**20,
                "output_file_mb": os.path.getsize(args.output) / 2**20,
                "params": params,
                "fit_log": fit_log,
                **part,
                "profile": profile,
            }
        )
    )


def score(args: argparse.Namespace) -> None:
    """Complete the cohort without its hidden samples and score the completed hidden profiles (P3)."""
    import anndata as ad
    import numpy as np

    from gex_impute.tl import complete

    params = json.loads(args.params)
    adata, hidden = ad.read_h5ad(args.input), ad.read_h5ad(args.hidden)
    start = time.perf_counter()
    done = complete(adata, method=args.method, block_size=args.block_size, progress=False, **params)
    seconds = time.perf_counter() - start
    names = [
        f"{d}|{t}"
        for d, t in zip(hidden.obs["donor"].astype(str), hidden.obs["tissue"].astype(str), strict=True)
    ]
    pred = np.log1p(np.asarray(done[names].X, dtype=np.float64))
    truth = np.log1p(np.asarray(hidden.X, dtype=np.float64))
    tissues = hidden.obs["tissue"].astype(str).to_numpy()

    def r(a, b):
        return (
            float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
            if a.size > 2 and np.ptp(a) > 0 and np.ptp(b) > 0
            else float("nan")
        )

    per_tissue = {
        t: {
            "r": r(truth[tissues == t], pred[tissues == t]),
            "mse": float(np.mean((truth[tissues == t] - pred[tissues == t]) ** 2)),
            "n_samples": int((tissues == t).sum()),
        }
        for t in np.unique(tissues)
    }
    print(
        json.dumps(
            {
                "method": args.method,
                "mse": float(np.mean((truth - pred) ** 2)),
                "pearson": r(truth, pred),
                "mean_sample_r": float(np.nanmean([r(a, b) for a, b in zip(truth, pred, strict=True)])),
                "mean_tissue_r": float(np.nanmean([v["r"] for v in per_tissue.values()])),
                "per_tissue": per_tissue,
                "n_hidden": len(names),
                "seconds": seconds,
                "peak_rss_mb": peak_rss_mb(),
                "params": params,
            }
        )
    )


# -- driver ------------------------------------------------------------------------------------
