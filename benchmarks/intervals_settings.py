"""Calibration settings checked on calibration splits only (never on the evaluation targets).

Inside each training fold of Blake P3 (8 folds, seed 0: the fold's held-out profiles are dropped
entirely), 15% of the remaining profiles are hidden as pseudo-test profiles; the method is
fitted and calibrated on what is left, and the coverage of the pseudo-test profiles at 0.9 is
recorded, for several shares of profiles hidden per calibration refit (``MAX_SHARE``) and
numbers of refits (``n_rounds``).

Writes ``benchmarks/results/intervals_settings.md``.

Usage::

    .venv/bin/python benchmarks/intervals_settings.py
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.methods import intervals
from gex_impute.tl._folds import heldout_folds

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS = ((0.25, 1), (0.1, 1), (0.1, "auto"))
METHODS = ("pca_regression", "knn_samples")


def main() -> int:
    """Run the check (see the module docstring)."""
    try:
        gi.datasets.shared_data_dir()
    except FileNotFoundError as err:
        print(f"skipped: the real data are not here ({err})")
        return 0
    adata = gi.datasets.blake2020()
    adata = adata[:, adata.var["tss"].notna().to_numpy()].copy()
    data, _ = from_anndata(adata, tissue_key="tissue", donor_key="donor")
    folds = heldout_folds(data, protocol="samples", fraction=None, n_folds=8, random_state=0)
    lines = [
        "# Calibration settings on calibration splits (Blake P3 training folds)",
        "",
        f"`python benchmarks/intervals_settings.py` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC).",
        "Coverage at 0.9 of pseudo-test profiles (15% of each training fold's profiles), mean and",
        "range over the 8 folds. Default: share 0.25, 1 refit.",
        "",
        "| share hidden per refit | refits | method | coverage@0.9 | min | max |",
        "|---|---|---|---|---|---|",
    ]
    default_share = intervals.MAX_SHARE
    try:
        for share, rounds in SETTINGS:
            intervals.MAX_SHARE = share
            for name in METHODS:
                cov = []
                for f, mask in enumerate(folds):
                    train = intervals._subset_rows(data, np.flatnonzero(~mask.any(axis=1)))
                    inner = heldout_folds(train, protocol="samples", fraction=0.15, random_state=100 + f)[0]
                    fit_data = train.with_values(np.where(inner, np.nan, train.values))
                    model = gi.get_method(name).fit(fit_data).calibrate(fit_data, n_rounds=rounds)
                    lo, hi = model.predict_interval(fit_data, 0.9)
                    y = train.values[inner]
                    cov.append(float(((lo[inner] <= y) & (y <= hi[inner])).mean()))
                line = (
                    f"| {share} | {rounds} | {name} | {np.mean(cov):.3f} | {min(cov):.3f} | {max(cov):.3f} |"
                )
                print(line, flush=True)
                lines.append(line)
    finally:
        intervals.MAX_SHARE = default_share
    out = RESULTS / "intervals_settings.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    # no options: --help shows what the run does instead of starting it
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    sys.exit(main())
