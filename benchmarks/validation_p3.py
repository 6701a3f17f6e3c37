"""Validation splits for the hybrid's absent-profile (P3) settings: Blake et al. 2020 and the simulator.

Settings are chosen here, never on the evaluation seeds 0-2 of ``sample_level.py``: Blake P3
(``protocol="samples"``, 8 folds over the 47 profiles) with split seeds 100 and 101 (other
folds than the evaluation's), and ``simulate(preset="gtex_v8", n_donors=40, n_genes=1000)`` with
data and split seed 100 / 101 (20% of the profiles hidden). A change is adopted when it helps
Blake without hurting the simulator. Hybrid parameters come as JSON; baselines by name
(``"mean (species)"`` is ``get_method("mean", group_by="species")``, Blake only).

Session 7 (2026-12-06), hybrid MSE, Blake 100 / 101 (best baseline: mean (species) 0.1389,
pca_regression 0.1436) and sim 100 / 101 (pca_regression 0.1804 / 0.1785):
3d01cae 0.1342 / 0.1393, sim 0.1270 / 0.1290; per-gene donor-effect base (9459d84) 0.1271 / 0.1311,
sim 0.1241 / 0.1266; its reference weighted by 1 / distance (fd6bd59) 0.1263 / 0.1286, sim 0.1238 /
0.1267; the ridge stack as the profile model's reference (e6f4f3d) 0.1255 / 0.1289 (split seeds
102 / 103: 0.1302 / 0.1294 -> 0.1288 / 0.1275), sim 0.1223 / 0.1244. Not adopted: a fixed
shrinkage (1 x the mean per-gene sum of squares) instead of empirical Bayes 0.1268 / 0.1308, sim
0.1238 / 0.1267 (the same; one constant more); the deviation weighted by 1 / distance too 0.1267 /
0.1293; per-tissue coefficients shrunk toward the per-gene ones 0.1277 / 0.1301, sim 0.1243 /
0.1284; a 1 / distance weighted kNN base over 10 donors 0.1264 / 0.1284, sim unchanged.

Session 8 (H-p3b), from 97ea594 (Blake 0.1255 / 0.1289, split seeds 102 / 103 0.1288 / 0.1275; sim
0.1223 / 0.1244). Tried outside the hybrid first (numpy on the same Blake folds): a synthetic
control (ridge weights of the other donors fitted on the donor's other tissues, all genes) 0.156
/ 0.156 alone, and averaged with the hybrid 0.133 / 0.135 (worse than the hybrid alone); gene
programs of the within-group deviations (leave-donor-out SVD of the units' deviations from their
similar donors, rank 1-8, ridge scores on the donor's other tissues) added to the similar
donors' mean or to the hybrid: no gain at any rank (best: hybrid + half the programme, 0.1257 /
0.1282). Adopted: the donor's group by residual cross product (:mod:`.profile_groups`: group
mean, group effect, transfer of the group's offset from the others): 0.1241 / 0.1275 (102 / 103:
0.1281 / 0.1263), sim 0.1188 / 0.1226. Adopted next: only the kNN base at ``k_similar`` in the
profile bases (the others stay features; Blake's stack gave k = 1, 2, 3 negative weights):
0.1230 / 0.1258 (102 / 103: 0.1263 / 0.1256), sim 0.1188 / 0.1224 (sim data and split seeds
102 / 103: 97ea594 0.1131 / 0.1355, now 0.1103 / 0.1331); hybrid / best baseline on Blake 100 /
101: 0.903 / 0.898 -> 0.885 / 0.876. Without k = 1 alone 0.1228 / 0.1263, sim 0.1192 / 0.1223;
without k = 1, 2 0.1229 / 0.1258; without every kNN base 0.1239 / 0.1262, and also without
pca_regression 0.1227 / 0.1263, sim 0.1192 / 0.1223. Not adopted: the
group mean weighted by the (positive) cross products 0.1242 / 0.1267, sim 0.1196 / 0.1231; the
donor-effect coefficients fitted on the cross-product groups (and their plain mean) 0.1241 /
0.1274, sim 0.1187 / 0.1223 (no change); XGBoost depth 2 or 3 (Blake's donor-grouped CV keeps
the ridge reference: identical). Outside the hybrid, on the cross-product groups: per-gene
empirical-Bayes weights of the transfer 0.1367 / 0.1421 against a fixed 0.15 0.1377 / 0.1433
(the group mean alone 0.1418 / 0.1481); weights from the group's spread (per unit or per gene),
tissue-pair coefficients of the deviation, per-unit precision weights: none gains 0.5% in
sample; a per-species weight (an oracle: species known, fitted on the held-out units) 1.3%.
Also not adopted, on top of 6dbde5f (Blake 0.1230 / 0.1258, sim 0.1188 / 0.1224): groups of 2
donors 0.1234 / 0.1254, sim 0.1187 / 0.1218, of 4 donors 0.1226 / 0.1253, sim 0.1193 / 0.1219
(neither better on both seeds of both; k_similar kept); the transfer's group offset without the
donor's own values 0.1233 / 0.1262, sim 0.1198 / 0.1228; the group mean not a base 0.1228 /
0.1256, sim 0.1195 / 0.1231; non-negative least squares instead of the ridge stack 0.1239 /
0.1264, sim 0.1199 / 0.1240; a larger ridge penalty (toward the tissue mean) 0.01: 0.1240 /
0.1267, 0.1: 0.1259 / 0.1300; the stack anchored at the donor-effect base (penalty toward it)
0.001: 0.1229 / 0.1258, 0.01: 0.1231 / 0.1253, 0.1: 0.1238 / 0.1266.

Session 10, from 6dfd0a3 (Blake 0.1230 / 0.1258; on Blake the donor-grouped CV keeps the ridge
stack of the bases as the whole model: CV MSE stack 0.1245, XGBoost on its residual 0.1280).
Not adopted: the ridge stack fitted per stratum, shrunk toward the pooled stack by a penalty
``lam * n_rows`` on the difference: per tissue, lam 0.01 / 0.1 / 1: 0.1239 / -, 0.1235 / 0.1277,
0.1232 / 0.1266; per quartile of the tissue mean (expression level), lam 0.01 / 0.1: 0.1228 /
0.1258, 0.1228 / 0.1258 (no gain). Adopted (67a67e6): the tissue correlation that ranks and
weighs a donor's other tissues computed without that donor (a leave-one-donor-out summary, not a
tuned setting): sim 100 / 101 / 102 / 103 0.11875 / 0.12244 / 0.11027 / 0.13310 -> 0.11814 /
0.12184 / 0.11018 / 0.13354, Blake 100 / 101 unchanged (0.12297 / 0.12582).

Session 13, at 21496db, not adopted: the mean of three hybrids (``random_state`` 0-2), Blake 100 /
101: 0.12304 / 0.12548 (one hybrid 0.12297 / 0.12582): on Blake the donor-grouped CV keeps the
ridge stack, which depends little on the seed.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/validation_p3.py --seeds 100,101 \\
        --baselines "pca_regression,mean (species)"
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
from _validation import validation_args


def main(argv: list[str] | None = None) -> None:
    import gex_impute as gi
    from gex_impute.methods import get_method

    args = validation_args(__doc__.splitlines()[0], argv, datasets="blake,sim")
    seeds, params = args.seeds, args.params
    path = Path(os.environ.get("GEX_IMPUTE_DATA", "/work/shared/data"))
    for dataset in args.datasets.split(","):
        if dataset == "blake" and not path.is_dir():
            print(f"{path} absent (set GEX_IMPUTE_DATA); Blake skipped")
            continue
        for seed in seeds:
            if dataset == "blake":
                adata = gi.datasets.blake2020(path)
                split = {"n_folds": 8}
            else:
                adata = gi.datasets.simulate(preset="gtex_v8", n_donors=40, n_genes=1000, random_state=seed)
                split = {"fraction": 0.2}
            methods = {"hybrid": gi.HybridImputer(n_jobs=1, progress=False, **params)}
            for name in filter(None, args.baselines.split(",")):
                if name == "mean (species)":
                    if dataset == "blake":
                        methods[name] = get_method("mean", group_by="species")
                else:
                    methods[name] = get_method(name)
            start = time.perf_counter()
            table = gi.tl.evaluate(
                adata,
                methods=methods,
                protocol="samples",
                donor_key="donor",
                random_state=seed,
                progress=False,
                **split,
            )
            assert isinstance(table, pd.DataFrame)
            mse = table["mse"]
            others = mse.drop("hybrid")
            ratio = f", hybrid / best baseline {mse['hybrid'] / others.min():.3f}" if len(others) else ""
            print(f"{dataset} seed {seed} {params} {time.perf_counter() - start:.0f} s{ratio}")
            print(table[["mse", "pearson"]].to_string(), flush=True)


if __name__ == "__main__":
    # no options: --help shows what the run does instead of starting it
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    main()
