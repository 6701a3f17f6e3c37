"""Scaling of gi.tl.complete: wall time and peak memory of read -> complete -> write against cohort size.

For each size (number of donors; GTEx v8 design: 54 tissues, skewed availability, two thirds of
donor x tissue profiles absent) a simulated cohort is written to an h5ad, then every method runs
in its own subprocess: read the h5ad, complete it (fit once, estimate the absent profiles block by
block) and write the completed grid to an h5ad store block by block. Each subprocess reports its
wall time (read + complete + write) and peak RSS (``ru_maxrss``); the exponent ``b`` of
``time ~ rows^b`` (and of memory) is fitted over the sizes (rows = donors x tissues).

Full size (about 1 h and tens of GB for the hybrid; not for a shared laptop)::

    .venv/bin/python benchmarks/complete_scale.py --sizes 100,300,948 --genes 20000

Small run (what was measured here)::

    nice .venv/bin/python benchmarks/complete_scale.py --sizes 20,40,80 --genes 1000

Writes ``benchmarks/results/complete_scale.json`` and ``complete_scale.png`` (``--name`` changes the stem).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _simulate(args: argparse.Namespace) -> None:
    """Subprocess: simulate one cohort and write it (not timed as part of the pipeline)."""
    import gex_impute as gi

    adata = gi.datasets.simulate(
        n_donors=args.donors, n_tissues=args.tissues, n_genes=args.genes, preset="gtex_v8", random_state=0
    )
    adata.write_h5ad(args.input)
    print(json.dumps({"n_samples": adata.n_obs, "n_genes": adata.n_vars}))


def _run(args: argparse.Namespace) -> None:
    """Subprocess: read -> complete -> write, timed, with the peak RSS of this process."""
    import anndata as ad
    import numpy as np

    from gex_impute.tl import complete

    params = json.loads(args.params)
    baseline_rss = _peak_rss_mb()
    start = time.perf_counter()
    adata = ad.read_h5ad(args.input)
    read_s = time.perf_counter() - start
    complete(
        adata,
        method=args.method,
        out=args.output,
        block_size=args.block_size,
        progress=False,
        overwrite=True,
        **params,
    )
    wall = time.perf_counter() - start
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
                "peak_rss_mb": _peak_rss_mb(),
                "rss_after_imports_mb": baseline_rss,
                "n_input_samples": int(adata.n_obs),
                "n_rows": int(n_rows),
                "n_estimated_profiles": int(info["n_estimated_profiles"]),
                "n_genes": int(n_genes),
                "input_matrix_mb": adata.n_obs * n_genes * itemsize / 2**20,
                "output_matrix_mb": n_rows * n_genes * itemsize / 2**20,
                "output_file_mb": os.path.getsize(args.output) / 2**20,
                "params": params,
            }
        )
    )


def _child(*argv: str) -> dict:
    cmd = [sys.executable, __file__, *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        msg = f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        raise RuntimeError(msg)
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
    for method, fit in result["fits"].items():
        runs = [r for r in result["runs"] if r["method"] == method]
        rows = [r["n_rows"] for r in runs]
        for ax, key, exp_key in (
            (axes[0], "wall_seconds", "time_exponent"),
            (axes[1], "peak_rss_mb", "rss_exponent"),
        ):
            b = fit[exp_key]
            label = method if b is None else f"{method} (b = {b:.2f})"
            ax.plot(rows, [r[key] for r in runs], marker="o", label=label)
    outputs = [r["output_matrix_mb"] for r in result["runs"] if r["method"] == result["methods"][0]]
    rows = [r["n_rows"] for r in result["runs"] if r["method"] == result["methods"][0]]
    axes[1].plot(rows, outputs, linestyle="--", color="grey", label="completed matrix (float32)")
    for ax, ylabel in zip(axes, ("wall time, read + complete + write (s)", "peak RSS (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("output rows (donors x tissues)")
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    genes = result["runs"][0]["n_genes"]
    fig.suptitle(f"gi.tl.complete, GTEx v8 design, {genes} genes; y ~ rows^b")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,300,948", help="numbers of donors, comma-separated")
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--tissues", type=int, default=54)
    parser.add_argument("--methods", default="hybrid,mean", help="the hybrid and the fastest baseline")
    parser.add_argument("--block-size", type=int, default=512)
    parser.add_argument("--hybrid-param", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="complete_scale", help="stem of the JSON and PNG written")
    # subprocess modes
    parser.add_argument("--simulate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--donors", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--method", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.simulate:
        return _simulate(args)
    if args.run:
        return _run(args)

    hybrid_params = {}
    for item in args.hybrid_param:
        name, _, value = item.partition("=")
        try:
            hybrid_params[name] = json.loads(value)
        except json.JSONDecodeError:
            hybrid_params[name] = value
    sizes = [int(s) for s in args.sizes.split(",")]
    methods = args.methods.split(",")
    runs = []
    with tempfile.TemporaryDirectory(prefix="complete_scale_") as tmp:
        for size in sizes:
            source = str(Path(tmp) / f"cohort_{size}.h5ad")
            sim = _child(
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
            print(f"{size} donors: {sim['n_samples']} samples x {sim['n_genes']} genes", flush=True)
            for method in methods:
                params = hybrid_params if method == "hybrid" else {}
                run = _child(
                    "--run",
                    "--input",
                    source,
                    "--output",
                    str(Path(tmp) / f"completed_{size}_{method}.h5ad"),
                    "--method",
                    method,
                    "--block-size",
                    str(args.block_size),
                    "--params",
                    json.dumps(params),
                )
                run["n_donors"] = size
                runs.append(run)
                print(
                    f"  {method:>8}: {run['wall_seconds']:8.1f} s, peak RSS {run['peak_rss_mb']:8.0f} MB "
                    f"(completed matrix {run['output_matrix_mb']:.1f} MB, {run['n_rows']} rows)",
                    flush=True,
                )
    fits = {}
    for method in methods:
        mine = [r for r in runs if r["method"] == method]
        rows = [r["n_rows"] for r in mine]
        fits[method] = {
            "time_exponent": _exponent(rows, [r["wall_seconds"] for r in mine]),
            "rss_exponent": _exponent(rows, [r["peak_rss_mb"] for r in mine]),
        }
    result = {
        "command": " ".join([Path(sys.executable).name, "benchmarks/complete_scale.py", *sys.argv[1:]]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_1min": os.getloadavg()[0]},
        "design": {
            "preset": "gtex_v8",
            "tissues": args.tissues,
            "genes": args.genes,
            "block_size": args.block_size,
        },
        "methods": methods,
        "runs": runs,
        "fits": fits,
    }
    from gex_impute._utils import atomic_path

    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / f"{args.name}.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    with atomic_path(args.out / f"{args.name}.png") as tmp:
        _plot(result, tmp)
    print(json.dumps(fits, indent=2))


if __name__ == "__main__":
    main()
