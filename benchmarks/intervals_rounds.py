"""How many profiles one calibration refit hides: checked on simulated cohorts, never on the evaluation.

A cohort with few donor x tissue profiles (Blake 2020: 47) used to be calibrated with one refit
that hid at least 25 profiles (capped at a quarter of them): far more than are missing when a
single profile is estimated, so the refitted clone was worse than the method and the intervals
too wide (Blake P3 leave-one-profile-out, seed 0: coverage at 0.9 of 0.931 for the hybrid and
0.935 for pca_regression). Now each refit hides 5% of the profiles and as many refits are made
as 25 profiles need (at most ``MAX_ROUNDS``).

Here, on the package's simulator (cohorts of 12 donors x 4 tissues, like Blake's, data seeds
100 and 101, none of them the evaluation's data), ``N_TARGETS`` observed profiles are held out
one at a time; each time the method is fitted without it, calibrated on its training data with
either rule, and the coverage of the held-out profile's 90% intervals is pooled. The rule is
the same for every method (how many profiles a refit hides); the fast baselines check it here
(``--methods hybrid`` works too, but one hybrid fit at this size takes about 15 s, and the new
rule refits it 9 times per held-out profile).

Writes ``benchmarks/results/intervals_rounds.{json,md}``.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/intervals_rounds.py
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.methods import intervals
from gex_impute.tl._folds import heldout_folds

RESULTS = Path(__file__).resolve().parent / "results"
N_TARGETS = 12
LEVEL = 0.9
COHORT = {"n_donors": 12, "n_tissues": 4, "n_genes": 1000, "frac_missing_samples": 0.02}


def _old_n_hidden(n_units: int, fraction: float) -> int:
    """The rule before: one refit hiding at least MIN_UNITS units, at most MAX_SHARE of them."""
    share = math.floor(intervals.MAX_SHARE * n_units)
    return max(1, min(max(math.ceil(fraction * n_units), intervals.MIN_UNITS), share))


RULES = {
    "one refit, >= 25 profiles (before)": (_old_n_hidden, 1),
    "5% per refit, auto rounds": (None, "auto"),
}


def run(method: str, seed: int, rule: str) -> dict:
    """Coverage and width of the held-out profiles' intervals under ``rule``."""
    adata = gi.datasets.simulate(**COHORT, random_state=seed)
    data, _ = from_anndata(adata, tissue_key="tissue", donor_key="donor")
    folds = heldout_folds(data, protocol="samples", fraction=None)
    picked = np.random.default_rng(seed).choice(len(folds), size=min(N_TARGETS, len(folds)), replace=False)
    n_hidden, n_rounds = RULES[rule]
    saved = intervals._n_hidden
    covered = widths = n = 0.0
    start = time.perf_counter()
    try:
        if n_hidden is not None:
            intervals._n_hidden = n_hidden
        for i in picked:
            mask = folds[i]
            train = data.with_values(np.where(mask, np.nan, data.values))
            model = gi.get_method(method)
            model.set_params(
                **{
                    k: v
                    for k, v in {"random_state": seed, "progress": False}.items()
                    if k in model.get_params()
                }
            )
            model.fit(train)
            model.calibrate(train, patterns=("profiles",), n_rounds=n_rounds)
            lo, hi = model.predict_interval(train, LEVEL)
            y = data.values[mask]
            covered += float(np.sum((lo[mask] <= y) & (y <= hi[mask])))
            widths += float(np.sum(hi[mask] - lo[mask]))
            n += y.size
    finally:
        intervals._n_hidden = saved
    return {
        "method": method,
        "seed": seed,
        "rule": rule,
        "coverage": covered / n,
        "width": widths / n,
        "n_profiles": len(picked),
        "seconds": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="pca_regression,knn_samples")
    parser.add_argument("--seeds", default="100,101")
    args = parser.parse_args(argv)
    rows = []
    for method in args.methods.split(","):
        for seed in map(int, args.seeds.split(",")):
            for rule in RULES:
                row = run(method, seed, rule)
                rows.append(row)
                print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    (RESULTS / "intervals_rounds.json").write_text(
        json.dumps({"date": stamp, "cohort": COHORT, "rows": rows}, indent=1)
    )
    lines = [
        "# Calibration refits on small simulated cohorts (coverage of held-out profiles at 0.9)",
        "",
        f"`python benchmarks/intervals_rounds.py --methods {args.methods}` ({stamp}); "
        f"simulate({COHORT}), {N_TARGETS} profiles "
        "held out one at a time per data seed.",
        "",
        "| method | data seed | rule | coverage@0.9 | mean width | s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['method']} | {r['seed']} | {r['rule']} | {r['coverage']:.3f} | {r['width']:.3f} | "
        f"{r['seconds']:.0f} |"
        for r in rows
    ]
    (RESULTS / "intervals_rounds.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
