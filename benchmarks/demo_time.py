"""Time of ``gex-impute demo`` (issue 13: 2 minutes on 2 CPU cores) and its table at other seeds and sizes.

Each run is :func:`gex_impute.datasets.demo` in a fresh Python process (imports included, as
a user's first run), with the process' wall-clock seconds, CPU seconds (user + system of the
child), peak memory, and the machine's load average and ``uptime`` before and after: on a
shared machine the wall times are pessimistic. Runs:

* ``--seeds``: the demo as shipped at each seed (seed 0 is what ``gex-impute demo`` shows;
  issue 13 asks for the same table at three other seeds);
* ``--threads 1``: every library on one thread (BLAS, torch, XGBoost): the CPU seconds are then
  the demo's work without the time threads waste spinning on a loaded machine, and bound the
  wall time on one idle core (two idle cores can only be faster);
* ``--sizes``: larger cohorts (``DONORSxTISSUESxGENES``), the same demo settings otherwise, to
  find the size at which the hybrid wins when it does not at the demo's size.

Writes ``demo_time.json`` (every run: timings, load, table, verdict), ``demo_time.md`` (the
tables) and ``demo_time.png`` (wall and CPU seconds per run) into ``--out``, plus the report
folder of each run under ``--work``.

Usage::

    .venv/bin/python benchmarks/demo_time.py --seeds 0 1 2 3
    .venv/bin/python benchmarks/demo_time.py --seeds 0 --sizes 120x12x2000 240x12x2000
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
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LIMIT_SECONDS = 120.0

_CHILD = """
import json, sys
from gex_impute.datasets.demo import demo
sizes = json.loads(sys.argv[2])
hybrid = {"n_jobs": int(sys.argv[4])} if sys.argv[4] != "0" else None
report = demo(
    sys.argv[1], random_state=int(sys.argv[3]), progress=False, overwrite=True, hybrid_params=hybrid, **sizes
)
print(report.summary())
"""


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _git_state() -> dict[str, str]:
    """The commit measured, and whether the working tree differed from it (others' uncommitted work)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return ""

    changed = [line[3:] for line in git("status", "--short", "--", "gex_impute").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "uncommitted": ", ".join(changed)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_demo(folder: Path, seed: int, sizes: dict[str, int], threads: int = 0) -> dict:
    """Run the demo once in a child process; return timings, load and the report's record.

    ``threads`` > 0 limits every library to that many threads; 0 leaves the defaults.
    """
    env = dict(os.environ)
    if threads:
        env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    uptime_before, load_before = _uptime(), os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), json.dumps(sizes), str(seed), str(threads)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        msg = f"demo failed (seed {seed}, sizes {sizes}, exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        raise RuntimeError(msg)
    record = json.loads((folder / "report.json").read_text())
    return {
        "seed": seed,
        "sizes": sizes,
        "threads": threads or "default",
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 1),
        "peak_rss_mb": round(after.ru_maxrss / 1024, 0),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "uptime_before": uptime_before,
        "uptime_after": _uptime(),
        "steps_seconds": record["seconds"],
        "cohort": record["cohort"],
        "hybrid_wins": record["hybrid_wins"],
        "results": record["results"],
        "table": (folder / "metrics.tsv").read_text(),
        "summary": proc.stdout,
        "report": str(folder),
    }


def _size_label(sizes: dict[str, int]) -> str:
    if not sizes:
        return "demo size"
    return f"{sizes['n_donors']} donors x {sizes['n_tissues']} tissues x {sizes['n_genes']} genes"


def markdown(runs: list[dict], machine: dict) -> str:
    """The runs as markdown: one timing line and the wide table per run."""
    import io

    import pandas as pd

    from gex_impute.report import text_table, wide_table

    lines = [
        "# `gex-impute demo`: time and table (benchmarks/demo_time.py)",
        "",
        f"Machine: {machine['cpu']}, {machine['n_cpus']} CPUs (shared: see the load of each run); "
        f"{machine['date']}; gex_impute {machine['version']}, commit {machine['git']['commit']}"
        + (
            f" (uncommitted in gex_impute/: {machine['git']['uncommitted']})"
            if machine["git"]["uncommitted"]
            else ""
        )
        + ".",
        "",
    ]
    for run in runs:
        long = pd.read_csv(io.StringIO(run["table"]), sep="\t")
        lines += [
            f"## seed {run['seed']}, {_size_label(run['sizes'])}, threads: {run['threads']}",
            "",
            f"wall {run['wall_seconds']:.0f} s, CPU {run['cpu_seconds']:.0f} s, peak RSS "
            f"{run['peak_rss_mb']:.0f} MB; load average before {run['load_before']}, after "
            f"{run['load_after']} (`{run['uptime_before']}`). Hybrid wins every protocol: "
            f"{'yes' if run['hybrid_wins'] else 'no'}.",
            "",
            "```",
            text_table(wide_table(long)),
            "```",
            "",
            *(f"- {_sentence(r)}" for r in run["results"]),
            "",
        ]
    return "\n".join(lines)


def _sentence(r: dict) -> str:
    state = "ahead" if r["wins"] else "behind"
    return (
        f"{r['label']} {r['metric']}: hybrid {r['value']:.3f} vs best baseline {r['best_other']} "
        f"{r['best_other_value']:.3f} ({state})"
    )


def plot(runs: list[dict], path: Path) -> None:
    """Wall and CPU seconds of every run, with the 2-minute target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"seed {r['seed']}\n{_size_label(r['sizes'])}".replace(" x ", "x") for r in runs]
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(runs) + 2), 3.8))
    x = range(len(runs))
    ax.bar([i - 0.2 for i in x], [r["wall_seconds"] for r in runs], 0.4, label="wall (shared machine)")
    ax.bar([i + 0.2 for i in x], [r["cpu_seconds"] for r in runs], 0.4, label="CPU (user + sys)")
    ax.axhline(LIMIT_SECONDS, color="grey", ls="--", lw=0.8, label="2-minute target (wall, 2 idle cores)")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("seconds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _sizes(text: str) -> dict[str, int]:
    d, t, g = (int(v) for v in text.lower().split("x"))
    return {"n_donors": d, "n_tissues": t, "n_genes": g}


def main(argv: list[str] | None = None) -> int:
    """Run the demo at the seeds and sizes asked, write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3])
    parser.add_argument(
        "--sizes", type=_sizes, nargs="*", default=[], help="larger cohorts, e.g. 120x12x2000"
    )
    parser.add_argument("--size-seeds", type=int, nargs="*", default=[0], help="seeds of the --sizes runs")
    parser.add_argument("--threads", type=int, default=0, help="threads per library (0: defaults)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="demo_time", help="base name of the result files")
    parser.add_argument(
        "--work", type=Path, default=None, help="folder for the report folders (default: temp)"
    )
    args = parser.parse_args(argv)
    import gex_impute

    git_state = _git_state()  # before the runs: the code measured
    work = args.work or Path(tempfile.mkdtemp(prefix="demo_time."))
    plan = [(seed, {}) for seed in args.seeds] + [(s, z) for z in args.sizes for s in args.size_seeds]
    runs = []
    for seed, sizes in plan:
        folder = work / f"seed{seed}_{'x'.join(str(v) for v in sizes.values()) or 'demo'}"
        run = run_demo(folder, seed, sizes, args.threads)
        print(
            f"seed {seed}, {_size_label(sizes)}: wall {run['wall_seconds']} s, CPU {run['cpu_seconds']} s, "
            f"load {run['load_before']} -> {run['load_after']}",
            flush=True,
        )
        runs.append(run)
    machine = {
        "cpu": _cpu_model(),
        "n_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "version": gex_impute.__version__,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "threads": args.threads or "default",
        "git": git_state,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(
        json.dumps({"machine": machine, "runs": runs}, indent=2) + "\n"
    )
    (args.out / f"{args.name}.md").write_text(markdown(runs, machine) + "\n")
    plot(runs, args.out / f"{args.name}.png")
    print(f"wrote {args.out / args.name}.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
