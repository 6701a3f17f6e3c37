"""Scaling and accuracy of gi.tl.complete on the GTEx v8 design (issue 9 targets).

**Scaling** (default): for each size (number of donors; GTEx v8 design: 54 tissues, skewed
availability, about two thirds of the donor x tissue profiles absent) a simulated cohort is
written to an h5ad, then every method runs in its own subprocess: read the h5ad, complete it
(fit once, estimate the absent profiles) and write the completed grid to an h5ad store block by
block. Each subprocess reports its wall time (read + complete + write) and peak RSS
(``ru_maxrss``); the exponent ``b`` of ``y ~ rows^b`` is fitted over the sizes for wall time,
CPU time (all threads; less moved by other jobs on a shared machine) and memory (rows = donors x
tissues). ``--profile`` adds each run's top functions (cProfile).

**Accuracy** (``--accuracy``, protocol P3 at one size): a random ``--hide`` fraction of the
observed samples (of donors keeping at least one other) is removed from the cohort, every method
completes the rest, and the completed profiles are scored against the hidden ones on the log1p
scale: MSE, pooled and per-tissue Pearson r, mean per-sample r; the ratio of each method's MSE to
the best other method's.

Full size, on a many-core machine (the hybrid needs torch and xgboost; the rest needs numpy,
pandas, scipy, h5py, anndata and tqdm)::

    python benchmarks/complete_scale.py --sizes 100,300,948 --genes 20000 --methods mean,hybrid \\
        --timeout 3600 --out-dir results_full

Reduced run (what fits a shared 2-core machine)::

    nice -n 10 .venv/bin/python benchmarks/complete_scale.py --sizes 100,300,948 --genes 2000 --methods mean

Writes ``<out-dir>/<name>.json`` and ``<name>.png`` (default ``benchmarks/results/complete_scale``;
``complete_scale_accuracy`` with ``--accuracy``) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from _complete_scale_runs import run, score, simulate

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
#: the machine's load is sampled this often while a subprocess runs (shared machines: stated)
LOAD_SAMPLE_SECONDS = 30.0


def _child(args: argparse.Namespace, *argv: str) -> dict:
    """Run a subprocess mode; its JSON result plus the machine's 1-minute load sampled meanwhile."""
    import threading

    cmd = [sys.executable, __file__, *argv]
    if args.profile:
        cmd.append("--profile")
    loads: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(LOAD_SAMPLE_SECONDS if loads else 1.0):
            loads.append(os.getloadavg()[0])

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout} s"}
    finally:
        done.set()
        sampler.join()
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr[-2000:]}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if loads:
        out["machine_load_1min"] = {
            "min": min(loads),
            "mean": sum(loads) / len(loads),
            "max": max(loads),
            "samples": len(loads),
            "every_seconds": LOAD_SAMPLE_SECONDS,
        }
    return out


def _extrapolated(run: dict) -> float:
    """Wall time had every donor's absent profiles been estimated: the estimate-and-write part scaled
    by absent profiles (all donors / those estimated); reading and the fit (on every donor) as measured."""
    scale = run["n_absent_profiles_all_donors"] / max(run["n_estimated_profiles"], 1)
    return run["wall_seconds"] + run["estimate_and_write_seconds"] * (scale - 1)


def _exponent(x: list[float], y: list[float]) -> float | None:
    import numpy as np

    if len(x) < 2:
        return None
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def _plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ok = [r for r in result["runs"] if "error" not in r]
    for method, fit in result["fits"].items():
        runs = [r for r in ok if r["method"] == method]
        for ax, key, exp_key in (
            (axes[0], "wall_seconds", "time_exponent"),
            (axes[1], "peak_rss_mb", "rss_exponent"),
        ):
            b = fit[exp_key]
            label = method if b is None else f"{method} (b = {b:.2f})"
            ax.plot([r["n_rows"] for r in runs], [r[key] for r in runs], marker="o", label=label)
    first = [r for r in ok if r["method"] == ok[0]["method"]] if ok else []
    axes[1].plot(
        [r["n_rows"] for r in first],
        [r["output_matrix_mb"] for r in first],
        linestyle="--",
        color="grey",
        label="completed matrix (float32)",
    )
    for ax, ylabel in zip(axes, ("wall time, read + complete + write (s)", "peak RSS (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("output rows (donors x tissues)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    fig.suptitle(f"gi.tl.complete, GTEx v8 design, {result['design']['genes']} genes; y ~ rows^b")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _scaling(args: argparse.Namespace, methods: list[str], params: dict, tmp: str) -> dict:
    runs = []
    for size in [int(s) for s in args.sizes.split(",")]:
        source = str(Path(tmp) / f"cohort_{size}.h5ad")
        sim = _child(
            args,
            "--simulate",
            "--donors",
            str(size),
            "--tissues",
            str(args.tissues),
            "--genes",
            str(args.genes),
            "--input",
            source,
        )
        if "error" in sim:
            raise RuntimeError(sim["error"])
        print(
            f"{size} donors: {sim['n_samples']} samples x {sim['n_genes']} genes "
            f"(simulated in {sim['simulate_seconds']:.1f} s)",
            flush=True,
        )
        for method in methods:
            output = Path(tmp) / f"completed_{size}_{method}.h5ad"
            run = _child(
                args, "--run", "--input", source, "--output", str(output), "--method", method,
                "--block-size", str(args.block_size), "--params", json.dumps(params.get(method, {})),
                *(["--estimate-donors", str(args.estimate_donors)] if args.estimate_donors else []),
            )  # fmt: skip
            output.unlink(missing_ok=True)
            if "error" not in run and args.estimate_donors:
                run["extrapolated_wall_seconds"] = _extrapolated(run)
            run.update(
                method=method, n_donors=size, n_input_samples=run.get("n_input_samples", sim["n_samples"])
            )
            runs.append(run)
            if "error" in run:
                print(f"  {method:>8}: {run['error'][:300]}", flush=True)
            else:
                print(
                    f"  {method:>8}: {run['wall_seconds']:8.1f} s, peak RSS {run['peak_rss_mb']:8.0f} MB "
                    f"({run['n_rows']} rows, completed matrix {run['output_matrix_mb']:.0f} MB)",
                    flush=True,
                )
    fits = {}
    for method in methods:
        mine = [r for r in runs if r["method"] == method and "error" not in r]
        rows = [r["n_rows"] for r in mine]
        fits[method] = {
            "time_exponent": _exponent(rows, [r["wall_seconds"] for r in mine]),
            # CPU seconds of the process (all threads): less moved by the others' load than wall time
            "cpu_exponent": _exponent(rows, [r["cpu_seconds"] for r in mine if "cpu_seconds" in r])
            if all("cpu_seconds" in r for r in mine)
            else None,
            "rss_exponent": _exponent(rows, [r["peak_rss_mb"] for r in mine]),
        }
    return {"runs": runs, "fits": fits}


def _accuracy(args: argparse.Namespace, methods: list[str], params: dict, tmp: str) -> dict:
    size = int(args.sizes.split(",")[0])
    source, hidden = str(Path(tmp) / "cohort.h5ad"), str(Path(tmp) / "hidden.h5ad")
    sim = _child(
        args, "--simulate", "--donors", str(size), "--tissues", str(args.tissues), "--genes", str(args.genes),
        "--input", source, "--hide", str(args.hide), "--hidden", hidden,
    )  # fmt: skip
    if "error" in sim:
        raise RuntimeError(sim["error"])
    print(
        f"{size} donors: {sim['n_samples']} samples kept, {sim['n_hidden']} hidden, {sim['n_genes']} genes",
        flush=True,
    )
    scores = {}
    for method in methods:
        scores[method] = _child(
            args, "--score", "--input", source, "--hidden", hidden, "--method", method,
            "--block-size", str(args.block_size), "--params", json.dumps(params.get(method, {})),
        )  # fmt: skip
        s = scores[method]
        line = (
            s["error"][:300]
            if "error" in s
            else f"MSE {s['mse']:.4f}, r {s['pearson']:.4f}, mean tissue r {s['mean_tissue_r']:.4f}, "
            f"{s['seconds']:.0f} s"
        )
        print(f"  {method:>14}: {line}", flush=True)
    for method, s in scores.items():
        others = [o["mse"] for m, o in scores.items() if m != method and "error" not in o]
        if "error" not in s and others:
            s["mse_ratio_to_best_other"] = s["mse"] / min(others)
    return {"n_donors": size, "n_hidden": sim["n_hidden"], "n_kept": sim["n_samples"], "scores": scores}


def _summary(result: dict) -> str:
    lines = [f"command: {result['command']}"]
    if "scores" in result:
        lines.append(
            f"P3 accuracy, {result['n_donors']} donors, {result['n_hidden']} hidden samples, "
            f"{result['design']['genes']} genes"
        )
        for method, s in result["scores"].items():
            if "error" in s:
                lines.append(f"  {method:>14}: ERROR {s['error'][:200]}")
                continue
            ratio = s.get("mse_ratio_to_best_other")
            lines.append(
                f"  {method:>14}: MSE {s['mse']:.4f}"
                + (f" ({ratio:.3f} x best other)" if ratio is not None else "")
                + f", r {s['pearson']:.4f}, mean tissue r {s['mean_tissue_r']:.4f}"
                + f", mean sample r {s['mean_sample_r']:.4f}"
            )
        return "\n".join(lines)
    lines.append(f"{'method':>10} {'donors':>6} {'rows':>7} {'genes':>6} {'wall s':>8} {'peak MB':>8}")
    for r in result["runs"]:
        if "error" in r:
            lines.append(f"{r['method']:>10} {r['n_donors']:>6} ERROR {r['error'][:200]}")
        else:
            load = r.get("machine_load_1min")
            lines.append(
                f"{r['method']:>10} {r['n_donors']:>6} {r['n_rows']:>7} {r['n_genes']:>6} "
                f"{r['wall_seconds']:>8.1f} {r['peak_rss_mb']:>8.0f}"
                + (f"  (CPU {r['cpu_seconds']:.0f} s" if "cpu_seconds" in r else "  (")
                + (f", load {load['min']:.1f}-{load['max']:.1f}, mean {load['mean']:.1f})" if load else ")")
                + (
                    f"; {r['n_estimated_profiles']} of {r['n_absent_profiles_all_donors']} absent profiles "
                    f"estimated, all: ~{r['extrapolated_wall_seconds']:.0f} s"
                    if "extrapolated_wall_seconds" in r
                    else ""
                )
            )
    for method, fit in result["fits"].items():
        t, m, c = fit["time_exponent"], fit["rss_exponent"], fit.get("cpu_exponent")
        if t is not None:
            cpu = f", CPU time ~ rows^{c:.2f}" if c is not None else ""
            lines.append(f"{method}: time ~ rows^{t:.2f}{cpu}, peak RSS ~ rows^{m:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="100,300,948", help="numbers of donors, comma-separated (--accuracy: the first)"
    )
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--tissues", type=int, default=54)
    parser.add_argument(
        "--methods", default="mean,hybrid", help="comma-separated: the fastest baseline and the hybrid"
    )
    parser.add_argument("--block-size", type=int, default=512)
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="METHOD:NAME=VALUE",
        help="a method parameter (JSON value)",
    )
    parser.add_argument(
        "--accuracy", action="store_true", help="protocol P3 at the first size instead of scaling"
    )
    parser.add_argument(
        "--hide", type=float, default=0.1, help="--accuracy: fraction of observed samples hidden"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds per subprocess (a run past it is recorded as an error)",
    )
    parser.add_argument(
        "--estimate-donors",
        type=int,
        default=None,
        help="estimate the grid of this many (evenly spaced) donors only; the model still learns from "
        "every donor; the wall time for all donors is extrapolated from the estimated profiles",
    )
    parser.add_argument("--profile", action="store_true", help="record each run's top functions (cProfile)")
    parser.add_argument("--out-dir", "--out", dest="out_dir", type=Path, default=RESULTS)
    parser.add_argument("--name", default=None, help="stem of the JSON and PNG written")
    # subprocess modes
    for flag in ("--simulate", "--run", "--score"):
        parser.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    for option in ("--donors", "--input", "--output", "--hidden", "--method"):
        parser.add_argument(option, help=argparse.SUPPRESS, type=int if option == "--donors" else str)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.simulate:
        return simulate(args)
    if args.run:
        return run(args)
    if args.score:
        return score(args)

    params: dict[str, dict] = {}
    for item in args.param:
        method, _, assignment = item.partition(":")
        name, _, value = assignment.partition("=")
        try:
            params.setdefault(method, {})[name] = json.loads(value)
        except json.JSONDecodeError:
            params.setdefault(method, {})[name] = value
    methods = args.methods.split(",")
    with tempfile.TemporaryDirectory(prefix="complete_scale_") as tmp:
        part = (
            _accuracy(args, methods, params, tmp) if args.accuracy else _scaling(args, methods, params, tmp)
        )
    result = {
        "command": " ".join(
            ["python", "benchmarks/complete_scale.py", *(sys.argv[1:] if argv is None else argv)]
        ),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_1min": os.getloadavg()[0]},
        "design": {
            "preset": "gtex_v8",
            "tissues": args.tissues,
            "genes": args.genes,
            "block_size": args.block_size,
        },
        "methods": methods,
        **part,
    }
    name = args.name or ("complete_scale_accuracy" if args.accuracy else "complete_scale")
    from gex_impute._utils import atomic_path

    args.out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out_dir / f"{name}.json") as path:
        path.write_text(json.dumps(result, indent=2) + "\n")
    if not args.accuracy and any("error" not in r for r in result["runs"]):
        with atomic_path(args.out_dir / f"{name}.png") as path:
            _plot(result, path)
    print(_summary(result))


if __name__ == "__main__":
    main()
