"""Validation split for the hybrid's settings on GTEx tissue means under P2 (issue 10).

Settings are chosen here, never on the evaluation targets of ``sample_level.py``: the entries
that evaluation seed 0 hides are removed from the GTEx tissue table (set to NaN), then 20% of
the remaining observed entries are hidden with split seeds 100 and 101 and scored
(``gi.tl.evaluate(protocol="entries")``). Hybrid parameters come as JSON; baselines by name.
``--datasets blake``: the same on Blake 2020 (47 samples, donors known), as ``sample_level.py``'s
Blake P2.

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

Session 12 (2026-12-07), the per-sample XGBoost base (from 73d4e41): without it split seed 100 gives
0.2774 (with it 0.2548). Tried in its place, not adopted: one model for every sample (entries of
all samples, features the 16 most correlated samples' values and their correlations, leave-one-out
gene mean and SD, the row's code) 0.2701; each sample on its 16 most correlated samples only 0.2564
(1.4x faster); each sample on at most 4,000 of its genes 0.2624. Adopted: the base in tables of one
sample per tissue up to 60 rows (``entries.MAX_TREE_TISSUES``; it stopped at 50): with 25 noisy
copies of tissues added (``--extra-tissues 25``, 54 rows, like GTEx v8's 54 tissues) MSE 0.1102 /
0.1139 -> 0.1054 / 0.1099 at seeds 100 / 101 (pca_regression 0.1354 / 0.1395), 45 / 40 s -> 199 /
193 s. On Blake (``--datasets blake``, 47 samples, kept at 50) the base gains less: without it
0.1075 / 0.1090, with it 0.1050 / 0.1067 (pca_regression 0.1639 / 0.1661), 49 s -> 134-217 s; and
less with fewer genes (``--datasets blake --genes N``; without it = ``entries.MAX_TREE_SAMPLES``
set to 0, one thread): 500 genes 0.1282 -> 0.1283 at seed 100 (1 s -> 107 s), 2,000 0.1186 /
0.1163 -> 0.1182 / 0.1148 (5 s -> 115 s), 5,000 0.1149 / 0.1133 -> 0.1128 / 0.1113 (7 s -> 150 s).
Adopted: the base needs 2,000 genes (``entries.MIN_TREE_GENES``).

Session 14 (2026-12-07), the per-sample XGBoost base with the other samples' missing values
filled by a low-rank completion of those samples alone (``row_models.FILL_RANK``; before, NaN):
GTEx split seeds 100 / 101 0.2547 / 0.2596 -> 0.2531 / 0.2573 at rank 5, 0.2525 / 0.2566 at rank
10; also with the NaNs kept as features ("both") 0.2525 at seed 100 at twice the trees' time;
Blake (``--datasets blake``) 0.1050 / 0.1066 -> 0.1030 / 0.1045 at rank 10. Adopted: rank 10.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/validation_p2.py --seeds 100,101 \\
        --params '{"n_rounds": 4}' --baselines pca_regression
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/validation_p2.py --extra-tissues 25
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _validation import validation_args

EVALUATION_SEED = 0


def validation_data(path: Path, dataset: str = "gtex"):
    """GTEx tissue means (or Blake 2020) with evaluation seed 0's P2 test entries set to NaN."""
    import gex_impute as gi
    from gex_impute._data import from_anndata
    from gex_impute.tl._folds import heldout_folds

    adata = gi.datasets.blake2020(path) if dataset == "blake" else gi.datasets.gtex_tissues(path)
    data, _ = from_anndata(adata)
    test = heldout_folds(data, protocol="entries", fraction=0.2, random_state=EVALUATION_SEED)[0]
    x = np.asarray(adata.X, dtype=np.float64).copy()
    x[test] = np.nan
    adata.X = x
    return adata


def with_extra_tissues(adata, n_extra: int, *, seed: int = 54):
    """``adata`` and noisy copies of its first ``n_extra`` tissues (a table of more tissue rows).

    Each copy is its tissue's row times ``exp(N(0, 0.3))`` per gene (NaN where the row is NaN),
    like a related sub-tissue: GTEx v8 has 54 tissues, the shared table 29. The per-sample
    XGBoost base is limited by the number of rows (``entries.MAX_TREE_TISSUES``).
    """
    import anndata as ad

    x = np.asarray(adata.X, dtype=np.float64)[:n_extra]
    copies = x * np.exp(np.random.default_rng(seed).normal(0, 0.3, size=x.shape))
    names = [f"{t} (copy)" for t in adata.obs["tissue"].astype(str)[:n_extra]]
    extra = ad.AnnData(copies, obs=pd.DataFrame({"tissue": names}, index=names), var=adata.var)
    out = ad.concat([adata, extra], merge="first", uns_merge="first")
    out.obs["tissue"] = out.obs["tissue"].astype("category")
    return out


def main(argv: list[str] | None = None) -> None:
    import gex_impute as gi
    from gex_impute.methods import get_method

    args = validation_args(__doc__.splitlines()[0], argv, datasets="gtex", table_options=True)
    seeds, params = args.seeds, args.params
    path = Path(os.environ.get("GEX_IMPUTE_DATA", "/work/shared/data"))
    if not path.is_dir():
        print(f"{path} absent (set GEX_IMPUTE_DATA); skipped")
        return
    tables = {d: validation_data(path, d) for d in args.datasets.split(",")}  # read once each
    for (dataset, full), seed in ((item, s) for item in tables.items() for s in seeds):
        adata = full
        if args.genes:  # a random subset of the genes, drawn with the split seed
            pick = np.random.default_rng(seed).choice(adata.n_vars, args.genes, replace=False)
            adata = adata[:, np.sort(pick)].copy()
        if args.extra_tissues:
            adata = with_extra_tissues(adata, args.extra_tissues)
        methods = {"hybrid": gi.HybridImputer(n_jobs=2, progress=False, **params)}
        methods |= {name: get_method(name) for name in args.baselines.split(",") if name}
        start = time.perf_counter()
        table = gi.tl.evaluate(
            adata,
            methods=methods,
            protocol="entries",
            fraction=0.2,
            donor_key="donor" if dataset == "blake" else None,
            random_state=seed,
            progress=False,
        )
        assert isinstance(table, pd.DataFrame)
        print(f"{dataset} seed {seed} {params} {time.perf_counter() - start:.0f} s")
        print(table[["mse", "pearson"]].to_string(), flush=True)


if __name__ == "__main__":
    # no options: --help shows what the run does instead of starting it
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    main()
