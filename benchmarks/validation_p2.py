"""Validation split for the hybrid's settings on GTEx tissue means under P2 (issue 10).

Settings are chosen here, never on the evaluation targets of ``sample_level.py``: the entries
that evaluation seed 0 hides are removed from the GTEx tissue table (set to NaN), then 20% of
the remaining observed entries are hidden with split seeds 100 and 101 and scored
(``gi.tl.evaluate(protocol="entries")``). Hybrid parameters come as JSON; baselines by name.

Session 6 (2026-12-06), hybrid MSE at seeds 100 / 101 (pca_regression 0.2895 / 0.2970):
cff8f76 0.2711 / 0.2727; with the tree-base summaries and the ridge-stack reference 0.2597 /
0.2620; with 3 masking rounds (the default since a4753ca) 0.2573 / 0.2605; ``{"n_rounds": 4,
"max_rows": 90000}`` 0.2548 / 0.2598 (not adopted yet); ``{"max_depth": 8}`` 0.2553 / 0.2613.

Session 11 (2026-12-07), from 639874e (hybrid 0.2548 / 0.2598, pca_regression 0.2895 / 0.2970),
none adopted: ``{"max_rows": 120000}`` identical (the cap does not bind); ``{"n_estimators": 600,
"xgb_learning_rate": 0.05}`` 0.2539 / 0.2594; ``{"n_rounds": 8, "max_rows": 120000}`` 0.2536 /
0.2585 at 1.8x the time; the per-sample XGBoost base (``row_models.tree_rows``, most of the fit
time with few samples) with 50 trees at eta 0.3 instead of 150 at 0.1: 0.2624 / 0.2652; early
stopped instead (at most 300 trees at 0.1, 15% of the sample's genes held out, 10 rounds): split
seed 100 unfinished after 10 minutes (84 s now), more trees, not fewer. A cheaper tree base needs
another design (fewer features, or one model for every sample).

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/validation_p2.py --seeds 100,101 \\
        --params '{"n_rounds": 4}' --baselines pca_regression
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _validation import validation_args

EVALUATION_SEED = 0


def validation_data(path: Path):
    """GTEx tissue means with evaluation seed 0's P2 test entries set to NaN."""
    import gex_impute as gi
    from gex_impute._data import from_anndata
    from gex_impute.tl._folds import heldout_folds

    adata = gi.datasets.gtex_tissues(path)
    data, _ = from_anndata(adata)
    test = heldout_folds(data, protocol="entries", fraction=0.2, random_state=EVALUATION_SEED)[0]
    x = np.asarray(adata.X, dtype=np.float64).copy()
    x[test] = np.nan
    adata.X = x
    return adata


def main(argv: list[str] | None = None) -> None:
    import gex_impute as gi
    from gex_impute.methods import get_method

    args = validation_args(__doc__.splitlines()[0], argv)
    seeds, params = args.seeds, args.params
    path = Path(os.environ.get("GEX_IMPUTE_DATA", "/work/shared/data"))
    if not path.is_dir():
        print(f"{path} absent (set GEX_IMPUTE_DATA); skipped")
        return
    adata = validation_data(path)
    for seed in seeds:
        methods = {"hybrid": gi.HybridImputer(n_jobs=2, progress=False, **params)}
        methods |= {name: get_method(name) for name in args.baselines.split(",") if name}
        start = time.perf_counter()
        table = gi.tl.evaluate(
            adata, methods=methods, protocol="entries", fraction=0.2, random_state=seed, progress=False
        )
        assert isinstance(table, pd.DataFrame)
        print(f"seed {seed} {params} {time.perf_counter() - start:.0f} s")
        print(table[["mse", "pearson"]].to_string(), flush=True)


if __name__ == "__main__":
    main()
