"""Validation splits for the hybrid's masked rounds in small cohorts (``patterns.MIN_ENTRY_ROWS``).

The smallest cohort of ``small_cohorts.py`` (simulator, 15 donors x 6 tissues x 200 genes, a
third of the samples kept: 18-24 samples) with data and split seeds 100-102 (the benchmark's are
0-2), each fitted with two hybrid seeds (the split seed and 7); P2, 20% of the entries hidden.
Prints hybrid MSE / best baseline's (pca_regression, knn_samples, mean) per fit and their mean
+/- SD for a fixed number of masked rounds (``MIN_ENTRY_ROWS`` set to 0) and for the rule.

Session 12 (2026-12-07), at d77f365: 4 / 8 / 16 / 32 rounds 1.042 +/- 0.203 / 0.977 +/- 0.132 /
0.961 +/- 0.095 / 0.954 +/- 0.107; the rule (rounds until 2,500 entry rows, at most 16) 0.974 +/-
0.107. Adopted: the rule.

Session 13 (2026-12-07), at 21496db, not adopted: the mean of five hybrids (``random_state`` 0-4)
against each alone, the same cohort shape (``simulate(15, 6, 200, preset="gtex_v8",
absent="drop")``, 35% of the samples kept), data and split seeds 100-104, P2 MSE: the mean
0.350 / 0.353 / 0.288 / 0.158 / 0.254 against the five alone 0.330-0.416 / 0.346-0.379 /
0.288-0.299 / 0.157-0.162 / 0.253-0.262 (1-2.4% below their average, never below the best;
pca_regression 0.366 / 0.375 / 0.412 / 0.197 / 0.253). It removes the dependence on the seed
but gains too little for five fits and a saved model five times as large.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/validation_small.py
"""

from __future__ import annotations

import argparse

import numpy as np
from small_cohorts import METHODS, cohort


def ratios(n_rounds: int) -> list[float]:
    """Hybrid MSE / best baseline's for each split seed and hybrid seed."""
    import gex_impute as gi

    out = []
    for seed in (100, 101, 102):
        adata = cohort(15, 6, 0.35, seed)
        for model_seed in (seed, 7):
            hybrid = gi.HybridImputer(n_jobs=1, progress=False, random_state=model_seed, n_rounds=n_rounds)
            methods = {"hybrid": hybrid} | {m: m for m in METHODS if m != "hybrid"}
            table = gi.tl.evaluate(
                adata, methods=methods, protocol="entries", donor_key="donor", random_state=seed,
                progress=False,
            )  # fmt: skip
            out.append(float(table.loc["hybrid", "mse"] / table["mse"].drop("hybrid").min()))
    return out


def main() -> None:
    from gex_impute.methods.hybrid import patterns

    rule = patterns.MIN_ENTRY_ROWS
    for label, n_rounds, min_rows in [*((f"{r} rounds", r, 0) for r in (4, 8, 16, 32)), ("rule", 4, rule)]:
        patterns.MIN_ENTRY_ROWS = min_rows
        try:
            r = ratios(n_rounds)
        finally:
            patterns.MIN_ENTRY_ROWS = rule
        each = " / ".join(f"{v:.3f}" for v in r)
        print(f"{label}: {each}; mean {np.mean(r):.3f} +/- {np.std(r):.3f}", flush=True)


if __name__ == "__main__":
    # no options: --help shows what the run does instead of starting it
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    main()
