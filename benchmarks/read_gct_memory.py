"""Peak memory of ``gex_impute.io.read_gct`` on a simulated GTEx-style GCT file.

Writes a GCT v1.2 file of ``--samples`` x ``--genes`` random TPM-like values (2,000 x 20,000 by
default) into a temporary folder, then reads it in fresh subprocesses and records each one's
peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``):

* ``read_gct``: the package reader (chunked parsing into a preallocated float32 array);
* ``pandas.read_csv``: the naive one-shot read of the whole table (float64 DataFrame);
* ``pandas.read_csv + AnnData``: the naive read followed by the transpose to a float32
  samples x genes AnnData, i.e. what one needs to end where ``read_gct`` ends.

Each child first imports its libraries and records its peak RSS; the reported "above imports"
figure is the peak minus that baseline, to compare with the raw float32 matrix (samples x genes
x 4 bytes = 160 MB by default; MB = 10**6 bytes).

Usage::

    .venv/bin/python benchmarks/read_gct_memory.py            # 2,000 x 20,000, plain text
    .venv/bin/python benchmarks/read_gct_memory.py --gzip     # the same, gzip-compressed

Results: ``benchmarks/results/read_gct_memory.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

CHILD = r"""
import json, resource, sys, time
import numpy as np, pandas as pd, anndata
import gex_impute.io as gio

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss: KiB on Linux

mode, path = sys.argv[1], sys.argv[2]
base = peak_mb()
t0 = time.perf_counter()
if mode == "read_gct":
    adata = gio.read_gct(path)
    shape = adata.shape
elif mode == "pandas":
    df = pd.read_csv(path, sep="\t", skiprows=2, index_col=0)
    shape = (df.shape[1] - 1, df.shape[0])
elif mode == "pandas_anndata":
    df = pd.read_csv(path, sep="\t", skiprows=2, index_col=0)
    X = df.iloc[:, 1:].to_numpy(dtype=np.float32).T.copy()
    adata = anndata.AnnData(
        X=X, obs=pd.DataFrame(index=df.columns[1:]), var=pd.DataFrame({"symbol": df.iloc[:, 0]})
    )
    del df
    shape = adata.shape
else:
    raise SystemExit(f"unknown mode {mode}")
seconds = time.perf_counter() - t0
print(json.dumps({"mode": mode, "baseline_mb": base, "peak_mb": peak_mb(), "seconds": seconds,
                  "shape": list(shape)}))
"""


def write_gct(path: Path, n_samples: int, n_genes: int, *, compress: bool, seed: int = 0) -> None:
    """Write a GCT v1.2 file of log-normal TPM-like values (6 significant digits, some zeros)."""
    rng = np.random.default_rng(seed)
    opener = gzip.open if compress else open
    samples = [f"GTEX-{i // 10:05d}-{i % 10:04d}-SM-{i:05d}" for i in range(n_samples)]
    with opener(path, "wt", **({"compresslevel": 1} if compress else {})) as fh:
        fh.write("#1.2\n")
        fh.write(f"{n_genes}\t{n_samples}\n")
        fh.write("\t".join(["Name", "Description", *samples]) + "\n")
        block = 500
        for start in range(0, n_genes, block):
            n = min(block, n_genes - start)
            values = rng.lognormal(mean=1.0, sigma=2.0, size=(n, n_samples))
            values[rng.random(values.shape) < 0.2] = 0.0
            rows = []
            for i in range(n):
                cells = np.char.mod("%.6g", values[i])
                rows.append(f"ENSG{start + i:011d}.1\tGENE{start + i}\t" + "\t".join(cells))
            fh.write("\n".join(rows) + "\n")


def run_child(mode: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["raw float32\nmatrix"] + [r["label"] for r in results["runs"]]
    above = [results["matrix_float32_mb"]] + [r["peak_above_imports_mb"] for r in results["runs"]]
    total = [np.nan] + [r["peak_mb"] for r in results["runs"]]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(x - 0.2, above, width=0.4, label="peak above imports", color="#4C72B0")
    ax.bar(x + 0.2, total, width=0.4, label="peak RSS (process)", color="#DD8452")
    for xi, v in zip(x - 0.2, above, strict=True):
        ax.text(xi, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("MB")
    ax.set_title(
        f"Reading a {results['n_samples']:,} x {results['n_genes']:,} GCT "
        f"({'gzip' if results['gzip'] else 'plain'}, {results['file_mb']:.0f} MB)"
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--genes", type=int, default=20000)
    parser.add_argument("--gzip", action="store_true", help="write and read a gzip-compressed GCT")
    parser.add_argument("--skip-naive", action="store_true", help="only measure read_gct")
    parser.add_argument("--out", type=Path, default=RESULTS / "read_gct_memory.json")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("bench.gct.gz" if args.gzip else "bench.gct")
        t0 = time.perf_counter()
        write_gct(path, args.samples, args.genes, compress=args.gzip)
        write_s = time.perf_counter() - t0
        file_mb = path.stat().st_size / 1e6
        print(f"wrote {path.name}: {file_mb:.0f} MB in {write_s:.0f} s", flush=True)
        modes = [("read_gct", "gex_impute\nread_gct")]
        if not args.skip_naive:
            modes += [("pandas", "pandas\nread_csv"), ("pandas_anndata", "pandas read_csv\n+ AnnData")]
        runs = []
        for mode, label in modes:
            r = run_child(mode, path)
            assert r["shape"] == [args.samples, args.genes], r
            r["label"] = label
            r["peak_above_imports_mb"] = r["peak_mb"] - r["baseline_mb"]
            runs.append(r)
            print(
                f"{mode:15s} peak {r['peak_mb']:7.0f} MB, "
                f"above imports {r['peak_above_imports_mb']:7.0f} MB, {r['seconds']:.1f} s",
                flush=True,
            )

    matrix_mb = args.samples * args.genes * 4 / 1e6
    results = {
        "n_samples": args.samples,
        "n_genes": args.genes,
        "gzip": args.gzip,
        "file_mb": file_mb,
        "matrix_float32_mb": matrix_mb,
        "runs": runs,
        "read_gct_peak_over_matrix": runs[0]["peak_above_imports_mb"] / matrix_mb,
        "command": "python benchmarks/read_gct_memory.py" + (" --gzip" if args.gzip else ""),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "units": "MB = 10**6 bytes; peak = ru_maxrss of a fresh subprocess",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, args.out.with_suffix(".png"))
    print(
        f"raw float32 matrix {matrix_mb:.0f} MB; read_gct peak above imports "
        f"{results['read_gct_peak_over_matrix']:.2f} x the matrix; wrote {args.out}"
    )


if __name__ == "__main__":
    main()
