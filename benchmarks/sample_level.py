"""Sample-level benchmark (issue 10): the hybrid against every baseline under one protocol.

Jobs, each a separate process (``--jobs N`` run side by side, ``OPENBLAS_NUM_THREADS=1``):

======================  ==========================================================================
``blake P2 <seed>``     Blake et al. 2020 (47 samples, 12 primates x 4 tissues, all 12,184 genes),
                        20% of the observed entries hidden (``evaluate(protocol="entries")``).
``blake P3 <seed>``     the same, whole donor x tissue profiles hidden, each of the 47 held out
                        alone (leave-one-profile-out, as issue 10 defines Blake P3:
                        ``protocol="samples", fraction=None``; the folds are fixed, the seed
                        is the hybrid's ``random_state``; the baselines keep their own defaults).
``blake P3-8folds <s>`` the same in 8 folds over the 47 profiles, never two of one individual
                        in a fold (``n_folds=8``; the headline of sessions 4-8).
``gtex P1 <seed>``      GTEx tissue means (29 tissues x the 18,000 genes with a CAGE TSS), 20% of
                        the genes hidden; hybrid at four annotation levels (full, gene bodies
                        without promoters: chrom / start / end / strand / tss, TSS BED only:
                        chrom / tss / strand, promoters shuffled among genes) and ablations.
``gtex P2 <seed>``      GTEx tissue means (all 19,139 genes), 20% of the entries hidden.
``sim P2 <seed>``       the simulator's GTEx-v8-like cohort (``simulate(preset="gtex_v8")``,
                        40 donors x 1,000 genes), 20% of the observed entries hidden.
``sim P3 <seed>``       the same cohort, 20% of the observed profiles hidden.
``speed``               ``impute()`` on ``simulate(n_donors=50, n_tissues=20, n_genes=2000,
                        frac_missing_samples=0.3)``: hybrid vs ``knn`` wall and CPU time of the
                        ``impute()`` call and peak RSS, each run in its own process, alternated
                        knn, hybrid, knn, hybrid, knn (medians; the 1-min load is recorded),
                        accuracy on the absent profiles vs the truth (:mod:`_sample_level_speed`).
======================  ==========================================================================

Every method of a job sees identical folds (one :func:`gex_impute.tl.evaluate` call per
dataset version; the folds depend only on the observed pattern and the seed). Metrics on the
log1p scale; ``by_quintile`` rows give them per expression quintile of the held-out genes.
Headline ratio: hybrid MSE / the best baseline's MSE (P2, P3) and hybrid Pearson / distance's
(P1), mean +/- sd over the seeds. Hyperparameters are the package defaults (chosen on the
prototype's validation splits, never on these targets).

Writes ``benchmarks/results/sample_level.json`` (every row), ``sample_level.md`` (tables) and
``sample_level.png`` (ratios); parts of finished jobs go to ``results/sample_level_parts/``, so
an interrupted run resumes (``--fresh`` to recompute).

Usage::

    .venv/bin/python benchmarks/sample_level.py --jobs 16          # everything, 3 seeds
    nice -n 10 .venv/bin/python benchmarks/sample_level.py --jobs 1 --quick   # 2 shared cores
    .venv/bin/python benchmarks/sample_level.py --only "blake P2"  # a subset (prefix match)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from _sample_level_notes import NOTES
from _sample_level_speed import HYBRID, SPEED_SIM, run_speed, speed_lines, speed_one

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = RESULTS / "sample_level_parts"
SEEDS = (0, 1, 2)
#: rows measured before jobs recorded their commit: the results file was committed at this commit
OLD_ROWS_COMMIT = "a064219 or earlier (results file of 7020c9d)"
PROTOCOL = {"P1": "genes", "P2": "entries", "P3": "samples"}
#: job protocol token -> (protocol, split) of its rows; evaluate() arguments of each split
JOB_PROTOCOLS = {"P3-8folds": ("P3", "8 folds")}
SPLITS = {
    "20%": {"fraction": 0.2},
    "leave-one-profile-out": {"fraction": None},
    "8 folds": {"n_folds": 8},
}
BASELINES = ("mean", "knn", "knn_samples", "pca_regression")
#: ablations (label -> hybrid parameters); run where they matter (P1, and P2 on GTEx)
ABLATIONS = {
    "hybrid +tissue encoder": {"use_tissue_encoder": True},
    "hybrid -CNN": {"use_sequence": False},
    "hybrid -neighbours": {"use_neighbours": False},
}
#: the ablation rows are computed for this split seed only (time)
ABLATION_SEED = 0
SIM = {"preset": "gtex_v8", "n_donors": 40, "n_genes": 1000, "random_state": 0}


def all_jobs(quick: bool) -> list[str]:
    """Every job; ``quick``: seed 0 only, except Blake P2 (the headline)."""
    seeds = SEEDS[:1] if quick else SEEDS
    jobs = [f"blake P2 {s}" for s in SEEDS]
    pairs = (("blake", "P3"), ("blake", "P3-8folds"), ("gtex", "P2"), ("sim", "P2"), ("sim", "P3"))
    jobs += [f"{d} {p} {s}" for s in seeds for d, p in pairs]
    jobs += [f"gtex P1 {s}" for s in seeds]
    return [*jobs, "speed"]


# -- one job ---------------------------------------------------------------------------------
def _methods(dataset: str, protocol: str, *, ablations: bool, seed: int | None = None) -> dict:
    """The job's methods; ``seed``: the hybrid's ``random_state`` (else its default, 0)."""
    import gex_impute as gi
    from gex_impute.methods import get_method

    own = {} if seed is None else {"random_state": seed}
    out = {"hybrid": gi.HybridImputer(**HYBRID, **own)}
    if ablations:
        out |= {label: gi.HybridImputer(**HYBRID, **p) for label, p in ABLATIONS.items()}
    names = ("distance", "mean", "knn") if protocol == "P1" else BASELINES
    out |= {name: get_method(name) for name in names}
    if dataset == "blake":
        out["mean (species)"] = get_method("mean", group_by="species")
    return out


def _load(dataset: str, protocol: str):
    import gex_impute as gi

    if dataset == "sim":
        return gi.datasets.simulate(**SIM), "donor"
    path = Path(os.environ.get("GEX_IMPUTE_DATA", "/work/shared/data"))
    if not path.is_dir():
        return None, None
    if dataset == "blake":
        return gi.datasets.blake2020(path), "donor"
    adata = gi.datasets.gtex_tissues(path)
    if protocol == "P1":
        adata = adata[:, adata.var["tss"].notna().to_numpy()].copy()
    return adata, False


def _annotation_levels(adata) -> dict:
    """Full annotation, gene bodies without promoters, TSS BED only, and promoters shuffled among genes."""
    levels = {"full": adata}
    for level, columns in (
        ("gene_bodies", ["chrom", "start", "end", "strand", "tss"]),
        ("tss_only", ["chrom", "tss", "strand"]),
    ):
        thin = adata.copy()
        thin.var = thin.var[columns].copy()
        levels[level] = thin
    shuffled = adata.copy()
    order = np.random.default_rng(0).permutation(adata.n_vars)
    for col in ("promoter", "promoter_tss", "n_promoters"):
        if col in shuffled.var:
            shuffled.var[col] = shuffled.var[col].to_numpy()[order]
    return levels | {"promoter_shuffle": shuffled}


def split_of(dataset: str, protocol: str) -> str:
    """The split of a ``dataset protocol`` job (its token as in the job name and the part's file name)."""
    if protocol in JOB_PROTOCOLS:
        return JOB_PROTOCOLS[protocol][1]
    return "leave-one-profile-out" if (dataset, protocol) == ("blake", "P3") else "20%"


def run_job(job: str) -> list[dict]:
    """Run one ``"dataset protocol seed"`` job (or ``"speed"``); return its rows."""
    import gex_impute as gi

    if job == "speed":
        return run_speed(script=Path(__file__), commit=_commit(), env=_env())
    dataset, job_protocol, seed_text = job.split()
    seed = int(seed_text)
    split = split_of(dataset, job_protocol)
    protocol = JOB_PROTOCOLS.get(job_protocol, (job_protocol,))[0]
    adata, donor_key = _load(dataset, protocol)
    if adata is None:
        print(f"{job}: /work/shared/data absent (set GEX_IMPUTE_DATA); skipped", flush=True)
        return []
    kwargs = {"protocol": PROTOCOL[protocol], "donor_key": donor_key, "random_state": seed, "progress": False}
    kwargs |= SPLITS[split]
    versions = {"full": adata}
    if protocol == "P1":
        versions = _annotation_levels(adata)
    rows = []
    commit = _commit()
    for level, data in versions.items():
        if level == "full":
            ablations = (protocol == "P1" or dataset == "gtex") and seed == ABLATION_SEED
            # leave-one-profile-out has one split: its seeds vary the hybrid's random_state instead
            fixed = split == "leave-one-profile-out"
            methods = _methods(dataset, protocol, ablations=ablations, seed=seed if fixed else None)
        else:
            methods = {"hybrid": gi.HybridImputer(**HYBRID)}
        t0 = time.perf_counter()
        table = gi.tl.evaluate(data, methods=methods, by_quintile=True, **kwargs)
        print(f"{job} [{level}] {time.perf_counter() - t0:.0f} s", flush=True)
        for (method, quintile), rec in table.iterrows():
            row = {"dataset": dataset, "protocol": protocol, "split": split, "seed": seed}
            row["annotation"] = level
            row["commit"] = commit
            row |= {"method": method, "quintile": quintile}
            row |= {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()}
            row["protocol"] = protocol  # P1 / P2 / P3 (evaluate's own name is in "evaluate_protocol")
            row["evaluate_protocol"] = rec["protocol"]
            rows.append(row)
            if quintile == "all":
                print(f"  {level:16s} {method:24s} mse={rec['mse']:.4f} r={rec['pearson']:.4f}", flush=True)
    return rows


def _commit() -> str:
    """Short hash of the checked-out commit, ``+dirty`` when the package has uncommitted changes."""
    root = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(root)]
    res = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    head = res.stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "gex_impute"], capture_output=True, text=True
    ).stdout.strip()
    return (head or "unknown") + ("+dirty" if dirty else "")


# -- orchestration ---------------------------------------------------------------------------
def _env() -> dict:
    env = dict(os.environ)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def _part(job: str) -> Path:
    return PARTS / (job.replace(" ", "_") + ".json")


def _launch(job: str) -> None:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, __file__, "--worker", job], env=_env(), capture_output=True, text=True
    )
    print(res.stdout, end="", flush=True)
    if res.returncode != 0:
        print(f"{job}: FAILED ({res.returncode})\n{res.stderr[-3000:]}", flush=True)
    else:
        print(f"{job}: done in {time.perf_counter() - t0:.0f} s", flush=True)


def _ratio_rows(frame: pd.DataFrame) -> list[dict]:
    """Per dataset x protocol x hybrid variant: hybrid / best baseline, mean +/- sd over seeds."""
    out = []
    q = frame[frame["quintile"] == "all"]
    for (dataset, protocol, split), grp in q.groupby(["dataset", "protocol", "split"]):
        base = grp[(grp["annotation"] == "full") & ~grp["method"].str.startswith("hybrid")]
        variants = grp[grp["method"].str.startswith("hybrid")][["annotation", "method"]].drop_duplicates()
        for _, (level, method) in variants.iterrows():
            ratios, best_names = [], []
            for seed, sg in grp.groupby("seed"):
                ours = sg[(sg["annotation"] == level) & (sg["method"] == method)]
                theirs = base[base["seed"] == seed]
                if ours.empty or theirs.empty:
                    continue
                if protocol == "P1":
                    ref = theirs[theirs["method"] == "distance"]
                    ratios.append(float(ours["pearson"].iloc[0] / ref["pearson"].iloc[0]))
                    best_names.append("distance (r)")
                else:
                    best = theirs.loc[theirs["mse"].idxmin()]
                    ratios.append(float(ours["mse"].iloc[0] / best["mse"]))
                    best_names.append(f"{best['method']} (MSE)")
            if ratios:
                out.append(
                    {
                        "dataset": dataset,
                        "protocol": protocol,
                        "split": split,
                        "annotation": level,
                        "method": method,
                        "versus": ", ".join(sorted(set(best_names))),
                        "ratio_mean": float(np.mean(ratios)),
                        "ratio_sd": float(np.std(ratios, ddof=1)) if len(ratios) > 1 else None,
                        "n_seeds": len(ratios),
                    }
                )
    return out


def _markdown(frame: pd.DataFrame, ratios: list[dict], speed: list[dict], command: str) -> str:
    lines = ["# Sample-level benchmark (issue 10)", "", f"Command: `{command}`", ""]
    lines += [
        "(Jobs whose parts exist in results/sample_level_parts/ are not rerun: `--fresh` recomputes all.)",
        "",
    ]
    lines += ["## Headline ratios (hybrid / best baseline; P1: Pearson / distance's, higher is better)", ""]
    lines += [
        "| dataset | protocol | split | annotation | variant | versus | ratio (mean +/- sd) | seeds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ratios:
        sd = f" +/- {r['ratio_sd']:.3f}" if r["ratio_sd"] is not None else ""
        lines.append(
            f"| {r['dataset']} | {r['protocol']} | {r['split']} | {r['annotation']} | {r['method']} | "
            f"{r['versus']} | "
            f"{r['ratio_mean']:.3f}{sd} | {r['n_seeds']} |"
        )
    q = frame[frame["quintile"] == "all"]
    if "commit" in q.columns:
        lines += ["", "## Commit each job was measured at", "", "| job | commit |", "|---|---|"]
        jobs = q.assign(commit=q["commit"].fillna(OLD_ROWS_COMMIT))
        for (dataset, protocol, split, seed), grp in jobs.groupby(["dataset", "protocol", "split", "seed"]):
            commits = ", ".join(sorted(set(grp["commit"])))
            lines.append(f"| {dataset} {protocol} ({split}) {seed} | {commits} |")
        lines += ["", *[f"- {note}" for note in NOTES]]
    lines += ["", "## Every method (all held-out entries)", ""]
    lines += [
        "| dataset | protocol | split | seed | annotation | method | MSE | Pearson | mean gene r | fit s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for _, r in q.sort_values(["dataset", "protocol", "split", "seed", "annotation", "mse"]).iterrows():
        lines.append(
            f"| {r['dataset']} | {r['protocol']} | {r['split']} | {r['seed']} | {r['annotation']} | "
            f"{r['method']} | "
            f"{r['mse']:.4f} | {r['pearson']:.4f} | {r['mean_gene_r']:.3f} | {r['fit_seconds']:.1f} |"
        )
    lines += ["", "## By expression quintile of the held-out genes (seed 0, full annotation; MSE)", ""]
    sub = frame[(frame["seed"] == 0) & (frame["annotation"] == "full")]
    for (dataset, protocol, split), grp in sub.groupby(["dataset", "protocol", "split"]):
        piv = grp.pivot_table(index="method", columns="quintile", values="mse")
        cols = [c for c in ("Q1", "Q2", "Q3", "Q4", "Q5", "all") if c in piv.columns]
        lines += [
            f"**{dataset} {protocol} ({split})**",
            "",
            "| method | " + " | ".join(cols) + " |",
            "|---" * (len(cols) + 1) + "|",
        ]
        for method, r in piv[cols].iterrows():
            lines.append(f"| {method} | " + " | ".join(f"{v:.4f}" for v in r) + " |")
        lines.append("")
    if speed:
        lines += [
            f"## Speed (`impute()`, simulate({SPEED_SIM}))",
            "",
        ]
        lines += speed_lines(speed)
    return "\n".join(lines) + "\n"


def _plot(ratios: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not ratios:
        return
    labels = [
        f"{r['dataset']} {r['protocol']}{' ' + r['split'] if r['split'] != '20%' else ''} {r['method']} "
        f"{'' if r['annotation'] == 'full' else r['annotation']}"
        for r in ratios
    ]
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(ratios) + 1))
    y = np.arange(len(ratios))
    ax.barh(y, [r["ratio_mean"] for r in ratios], xerr=[r["ratio_sd"] or 0 for r in ratios], color="tab:red")
    ax.axvline(1, color="k", lw=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel("hybrid / best baseline (MSE; P1: Pearson / distance)")
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1, help="jobs run side by side (processes)")
    parser.add_argument("--quick", action="store_true", help="one seed except Blake P2")
    parser.add_argument("--only", default=None, help="run the jobs starting with this text")
    parser.add_argument("--fresh", action="store_true", help="recompute finished jobs")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--speed-one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.speed_one:
        print(json.dumps(speed_one(args.speed_one)))
        return
    if args.worker:
        rows = run_job(args.worker)
        PARTS.mkdir(parents=True, exist_ok=True)
        _write(_part(args.worker), json.dumps(rows, default=float))
        return
    jobs = [j for j in all_jobs(args.quick) if args.only is None or j.startswith(args.only)]
    todo = [j for j in jobs if args.fresh or not _part(j).exists()]
    print(f"{len(jobs)} jobs, {len(todo)} to run with {args.jobs} at a time", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(_launch, todo))
    rows = []
    for part in sorted(PARTS.glob("*.json")):
        job = part.stem.split("_")  # "<dataset>_<protocol token>_<seed>", or "speed"
        for r in json.loads(part.read_text()):
            if len(job) == 3:  # rows written before the split was recorded take their job's
                r.setdefault("split", split_of(job[0], job[1]))  # (Blake P3 in 8 folds: renamed)
            rows.append(r)
    speed = [r for r in rows if r["dataset"] == "speed"]
    frame = pd.DataFrame([r for r in rows if r["dataset"] != "speed"])
    ratios = _ratio_rows(frame) if len(frame) else []
    command = "python benchmarks/sample_level.py " + " ".join(sys.argv[1:] if argv is None else argv)
    _write(
        RESULTS / "sample_level.json",
        json.dumps(
            {"command": command, "ratios": ratios, "speed": speed, "rows": rows}, indent=1, default=float
        ),
    )
    _write(
        RESULTS / "sample_level.md",
        _markdown(frame, ratios, speed, command) if len(frame) else "no results\n",
    )
    _plot(ratios, RESULTS / "sample_level.png")
    print((RESULTS / "sample_level.md").read_text())


if __name__ == "__main__":
    main()
