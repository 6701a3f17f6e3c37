"""Speed of the genomic-context search (issue 2, section 4): 60,000 genes in a few seconds.

Simulates gene coordinates on 24 chromosomes with human-like lengths and gene spacing, times
:func:`gex_impute.genome.genomic_neighbours` for 5,000 .. 60,000 genes with k = 10 and k = 20
in a 1 Mb window, and times the brute-force reference (a plain Python loop) on a 2,000-gene
subset for a speed ratio (checking both give the same answer). Writes
``benchmarks/results/context_speed.json`` and ``benchmarks/results/context_speed.png``.

Run from the repository root::

    .venv/bin/python benchmarks/context_speed.py
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from gex_impute import __version__
from gex_impute._utils import atomic_path
from gex_impute.genome import genomic_neighbours
from gex_impute.genome._reference import _brute_force_neighbours

RESULTS = Path(__file__).resolve().parent / "results"

# hg38 chromosome lengths in Mb (chr1..chr22, X, Y), rounded
CHROM_MB = [
    int(x)
    for x in "249 242 198 190 181 171 159 145 138 134 135 133 114 107 102 90 83 80 59 64 47 51 156 57".split()
]
CHROMS = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY"]


def simulate_coordinates(n_genes: int, *, random_state: int = 0) -> pd.DataFrame:
    """Gene annotation with human-like spacing: ~50 kb between TSSs on average, clustered.

    Genes are spread over the chromosomes in proportion to their length; a third of them sit
    in clusters (normal jitter, sd 15 kb, around another gene; strands are independent, so
    half of those pairs are on opposite strands), the rest uniformly. Gene bodies are
    log-normal (median ~20 kb), so nested and overlapping genes occur.
    """
    rng = np.random.default_rng(random_state)
    sizes = np.array(CHROM_MB, dtype=np.float64) * 1e6
    chrom_idx = rng.choice(len(CHROMS), size=n_genes, p=sizes / sizes.sum())
    length = sizes[chrom_idx]
    pos = rng.uniform(0, 1, n_genes) * length
    clustered = rng.random(n_genes) < 1 / 3
    seeds = np.flatnonzero(~clustered)
    partner = rng.choice(seeds, size=clustered.sum())
    chrom_idx[clustered] = chrom_idx[partner]
    pos[clustered] = np.clip(
        pos[partner] + rng.normal(0, 15_000, clustered.sum()), 0, sizes[chrom_idx[clustered]] - 1
    )
    strand = np.where(rng.random(n_genes) < 0.5, "+", "-")
    body = np.maximum(200, rng.lognormal(np.log(20_000), 1.2, n_genes)).astype(np.int64)
    tss = pos.astype(np.int64)
    start = np.where(strand == "+", tss, tss + 1 - body)
    end = np.where(strand == "+", tss + body, tss + 1)
    return pd.DataFrame(
        {
            "chrom": np.asarray(CHROMS, dtype=object)[chrom_idx],
            "start": np.maximum(start, 0),
            "end": end,
            "strand": strand,
            "tss": tss,
        },
        index=[f"G{i:06d}" for i in range(n_genes)],
    )


def best_time(fn, repeats: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]
    )
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--window", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--brute-n", type=int, default=2_000)
    parser.add_argument(
        "--reference-fraction", type=float, default=0.8, help="share of genes used as reference"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    full = simulate_coordinates(max(args.sizes), random_state=0)
    rng = np.random.default_rng(1)
    full_ref = rng.random(len(full)) < args.reference_fraction
    timings = []
    for n in args.sizes:
        var, ref = full.iloc[:n], full_ref[:n]
        for k in args.ks:
            best, times = best_time(
                lambda var=var, ref=ref, k=k: genomic_neighbours(var, reference=ref, k=k, window=args.window),
                args.repeats,
            )
            nb = genomic_neighbours(var, reference=ref, k=k, window=args.window)
            timings.append(
                {
                    "n_genes": n,
                    "k": k,
                    "seconds": best,
                    "all_seconds": times,
                    "mean_neighbours": float(nb.n_neighbours.mean()),
                    "frac_full": float((nb.n_neighbours == k).mean()),
                }
            )
            mean_nb = nb.n_neighbours.mean()
            print(f"n={n:>6} k={k:>2}: {best:.3f} s (best of {args.repeats}), {mean_nb:.1f} neighbours")

    # peak Python-heap memory (numpy buffers included) of the largest run
    n_max, k_max = max(args.sizes), max(args.ks)
    tracemalloc.start()
    nb = genomic_neighbours(full, reference=full_ref, k=k_max, window=args.window)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    frame = nb.to_frame()
    orientation_counts = frame["orientation"].value_counts(dropna=False).to_dict()

    # brute-force reference on a subset: same answer, and how much faster the vectorised code is
    sub_idx = np.sort(rng.choice(len(full), size=args.brute_n, replace=False))
    sub, sub_ref = full.iloc[sub_idx], full_ref[sub_idx]
    k_b = min(args.ks)
    t_vec, _ = best_time(lambda: genomic_neighbours(sub, reference=sub_ref, k=k_b, window=args.window), 3)
    t0 = time.perf_counter()
    brute = _brute_force_neighbours(sub, reference=sub_ref, k=k_b, window=args.window)
    t_brute = time.perf_counter() - t0
    vec = genomic_neighbours(sub, reference=sub_ref, k=k_b, window=args.window)
    identical = all(
        np.array_equal(getattr(vec, f), getattr(brute, f))
        for f in ("index", "distance", "orientation", "overlap", "nested", "bidirectional")
    )
    print(
        f"brute force on {args.brute_n} genes: {t_brute:.2f} s vs {t_vec * 1e3:.1f} ms; identical={identical}"
    )

    result = {
        "benchmark": "genomic context (gex_impute.genome.genomic_neighbours)",
        "command": "python benchmarks/context_speed.py",
        "gex_impute_version": __version__,
        "numpy_version": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "window": args.window,
        "reference_fraction": args.reference_fraction,
        "repeats": args.repeats,
        "simulation": (
            "24 chromosomes (hg38 lengths); the first n of 60,000 genes (so density grows with n); "
            "1/3 of genes clustered within ~15 kb of another; log-normal bodies"
        ),
        "timings": timings,
        "largest": {
            "n_genes": n_max,
            "k": k_max,
            "peak_traced_mb": peak / 2**20,
            "n_pairs": len(frame),
            "orientation_counts": {str(key): int(v) for key, v in orientation_counts.items()},
            "n_overlap": int(nb.overlap.sum()),
            "n_nested": int(nb.nested.sum()),
            "n_bidirectional": int(nb.bidirectional.sum()),
        },
        "brute_force": {
            "n_genes": args.brute_n,
            "k": k_b,
            "brute_seconds": t_brute,
            "vectorised_seconds": t_vec,
            "speedup": t_brute / t_vec,
            # the loop is quadratic in the genes: what it would take on the largest size
            "brute_seconds_extrapolated_largest": t_brute * (n_max / args.brute_n) ** 2,
            "identical": bool(identical),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "context_speed.json") as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, args.out / "context_speed.png")
    print(f"wrote {args.out / 'context_speed.json'} and context_speed.png")
    if not identical:
        raise SystemExit("vectorised and brute-force results differ")
    return result


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(result["timings"])
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    for k, grp in frame.groupby("k"):
        ax.plot(grp["n_genes"], grp["seconds"], marker="o", label=f"k = {k}")
    ax.set_xlabel("genes")
    ax.set_ylabel(f"seconds (best of {result['repeats']})")
    ax.set_title(f"genomic_neighbours, window {result['window'] // 1000} kb", fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


if __name__ == "__main__":
    main()
