"""Checks of the Galaxy workflows' outputs against their inputs (run by run_workflow_tests.py).

planemo's assertions (``<workflow>-tests.yml``) check each output on its own; these checks
compare outputs with the inputs: the completed cohort has one row per donor x tissue, no value
observed in the GCT changed, the estimated profiles are those absent from the GCT, the GCT output
holds the same matrix, the metrics table has one finite row per evaluated method, and a saved
model applied to new data keeps the observed values and fills every missing one.

Each check function takes ``outputs`` ({workflow output label: downloaded file}) and ``job``
({workflow input label: local file path or value}) and returns a list of (what, ok, detail).
The inputs are read with pandas/h5py/anndata directly, not with gex_impute.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

Result = tuple[str, bool, str]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_gct(path: Path) -> pd.DataFrame:
    """A GCT v1.2 (plain or gzip) as genes x samples (index: Name)."""
    opener = gzip.open if path.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(path, "rt") as fh:
        assert fh.readline().strip() == "#1.2"
        fh.readline()
        table = pd.read_csv(fh, sep="\t", index_col=0)
    return table.drop(columns="Description")


def _donor(sample_id: str) -> str:
    return "-".join(sample_id.split("-")[:2])


def _png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_MAGIC


def _strip_version(ids) -> list[str]:
    return [str(i).split(".")[0] for i in ids]


def check_complete_cohort(outputs: dict[str, Path], job: dict[str, Any]) -> list[Result]:
    """Workflow (a): GCT + sample attributes + GTF -> annotate -> fit -> complete; evaluate."""
    import anndata as ad

    results: list[Result] = []
    gct = read_gct(Path(job["GCT"]))
    attributes = pd.read_csv(job["Sample attributes"], sep="\t", index_col="SAMPID", dtype=str)
    tissue_of = attributes.loc[gct.columns, "SMTSD"]
    donor_of = pd.Series([_donor(s) for s in gct.columns], index=gct.columns)
    donors, tissues = sorted(set(donor_of)), sorted(set(tissue_of))
    observed_pairs = set(zip(donor_of, tissue_of, strict=True))

    completed = ad.read_h5ad(outputs["completed"])
    n_expected = len(donors) * len(tissues)
    results.append(
        (
            "completed: one row per donor x tissue",
            completed.n_obs == n_expected and completed.n_vars == gct.shape[0],
            f"{completed.n_obs} x {completed.n_vars}; expected {n_expected} x {gct.shape[0]} "
            f"({len(donors)} donors x {len(tissues)} tissues, {gct.shape[0]} genes)",
        )
    )
    obs = completed.obs
    pairs = list(zip(obs["donor"].astype(str), obs["tissue"].astype(str), strict=True))
    results.append(
        (
            "completed: every donor x tissue pair once",
            len(set(pairs)) == len(pairs) == n_expected
            and set(pairs) == {(d, t) for d in donors for t in tissues},
            f"{len(set(pairs))} distinct pairs",
        )
    )
    flagged = {pair for pair, flag in zip(pairs, obs["imputed_profile"].astype(bool), strict=True) if flag}
    absent = {(d, t) for d in donors for t in tissues} - observed_pairs
    results.append(
        (
            "completed: imputed_profile marks exactly the pairs absent from the GCT",
            flagged == absent,
            f"{len(flagged)} flagged, {len(absent)} absent",
        )
    )
    matrix = np.asarray(
        completed.X.toarray() if hasattr(completed.X, "toarray") else completed.X, dtype=float
    )
    results.append(("completed: no missing value left", bool(np.isfinite(matrix).all()), ""))
    # observed values unchanged (the workflow averages several samples of a pair: none here)
    gene_pos = {g: i for i, g in enumerate(_strip_version(completed.var_names))}
    order = [gene_pos.get(g, -1) for g in _strip_version(gct.index)]
    row_of = {pair: i for i, pair in enumerate(pairs)}
    worst, n_compared = 0.0, 0
    for sample in gct.columns:
        pair = (donor_of[sample], tissue_of[sample])
        if (donor_of == pair[0]).mul(tissue_of == pair[1]).sum() != 1 or pair not in row_of or -1 in order:
            continue
        observed = gct[sample].to_numpy(dtype=float)
        got = matrix[row_of[pair], order]
        seen = np.isfinite(observed)
        gap = np.abs(got[seen] - observed[seen]) / (1 + np.abs(observed[seen]))
        worst = max(worst, float(np.max(gap, initial=0)))
        n_compared += int(seen.sum())
    results.append(
        (
            "completed: observed values unchanged",
            n_compared > 0 and worst < 1e-4 and -1 not in order,
            f"{n_compared} values compared, largest relative difference {worst:.2e}",
        )
    )
    truth_path = Path(job["GCT"]).parent / "truth.h5ad"  # test-data/gtex/: the simulated truth
    if truth_path.exists():  # how close the estimated profiles are to the true ones
        truth = ad.read_h5ad(truth_path)
        t_row = {
            p: i
            for i, p in enumerate(
                zip(truth.obs["donor"].astype(str), truth.obs["tissue"].astype(str), strict=True)
            )
        }
        t_gene = {g: i for i, g in enumerate(_strip_version(truth.var_names))}
        cols = [t_gene[g] for g in _strip_version(completed.var_names)]
        est = np.concatenate([np.log1p(matrix[row_of[p]]) for p in sorted(absent)])
        true = np.concatenate([np.log1p(np.asarray(truth.X[t_row[p]], float)[cols]) for p in sorted(absent)])
        r = float(np.corrcoef(est, true)[0, 1])
        results.append(
            ("completed: estimated profiles vs truth (log1p Pearson r, > 0.5)", r > 0.5, f"r = {r:.3f}")
        )

    gct_out = read_gct(outputs["completed_gct"])
    same = gct_out.shape == (completed.n_vars, completed.n_obs) and np.allclose(
        gct_out.to_numpy(float), matrix.T, rtol=1e-5, atol=1e-6, equal_nan=False
    )
    results.append(("completed_gct: the completed matrix, genes x profiles", bool(same), f"{gct_out.shape}"))

    results.extend(_check_side_outputs(outputs))
    return results


def _check_side_outputs(outputs: dict[str, Path]) -> list[Result]:
    """Metrics table, model archive and plots of workflow (a); a missing output is a failed check."""
    results: list[Result] = []
    missing = [k for k in ("metrics", "model", "profiles_plot", "metrics_plot") if k not in outputs]
    for label in missing:
        results.append((f"{label}: produced", False, "missing (its job failed)"))
    if missing:
        return results
    metrics = pd.read_csv(outputs["metrics"], sep="\t")
    methods = list(metrics["method"])
    finite = bool(np.isfinite(metrics[["pearson", "spearman", "mse"]].to_numpy(float)).all())
    results.append(
        (
            "metrics: one finite row per evaluated method, protocol samples",
            sorted(methods) == ["additive", "hybrid", "mean"]
            and finite
            and set(metrics["protocol"]) == {"samples"},
            ", ".join(f"{m} r={r:.3f}" for m, r in zip(methods, metrics["pearson"], strict=True)),
        )
    )
    with zipfile.ZipFile(outputs["model"]) as archive:
        names = archive.namelist()
    results.append(("model: a zip archive with params.json", "params.json" in names, ", ".join(names)))
    for label in ("profiles_plot", "metrics_plot"):
        results.append((f"{label}: a PNG", _png(outputs[label]), f"{outputs[label].stat().st_size} bytes"))
    return results


def check_apply_model(outputs: dict[str, Path], job: dict[str, Any]) -> list[Result]:
    """Workflow (b): a saved model applied to new data."""
    import anndata as ad

    source = ad.read_h5ad(job["Expression data"])
    result = ad.read_h5ad(outputs["imputed"])
    x = np.asarray(source.X, dtype=float)
    filled = np.asarray(result.layers["imputed"], dtype=float)
    mask = np.asarray(result.layers["imputed_mask"], dtype=bool)
    seen = np.isfinite(x)
    return [
        ("imputed: shape of the input", result.shape == source.shape, f"{result.shape}"),
        ("imputed: observed values unchanged", bool(np.allclose(filled[seen], x[seen], rtol=1e-6)), ""),
        (
            "imputed: every missing value filled",
            bool(np.isfinite(filled).all()),
            f"{int((~seen).sum())} filled",
        ),
        ("imputed: the mask marks the missing values", bool((mask == ~seen).all()), ""),
    ]


#: workflow file stem -> check
CHECKS: dict[str, Callable[[dict[str, Path], dict[str, Any]], list[Result]]] = {
    "complete_cohort": check_complete_cohort,
    "apply_model": check_apply_model,
}
