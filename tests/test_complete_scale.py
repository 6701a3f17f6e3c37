"""Smoke test of benchmarks/complete_scale.py (the GTEx-scale benchmark of gi.tl.complete), at a toy size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "complete_scale.py"

pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this checkout")


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_scaling_runs_each_size_in_its_own_process_and_fits_exponents(tmp_path):
    out = _run(
        "--sizes", "4,8", "--genes", "30", "--tissues", "6", "--methods", "mean", "--out-dir", str(tmp_path)
    )
    result = json.loads((tmp_path / "complete_scale.json").read_text())
    assert [r["n_donors"] for r in result["runs"]] == [4, 8]
    for run in result["runs"]:
        assert run["n_rows"] == run["n_donors"] * 6 and run["n_genes"] == 30
        assert run["wall_seconds"] > 0 and run["peak_rss_mb"] > 0 and run["n_estimated_profiles"] > 0
    assert result["fits"]["mean"]["time_exponent"] is not None
    assert (tmp_path / "complete_scale.png").stat().st_size > 0
    assert "time ~ rows^" in out


def test_accuracy_scores_hidden_profiles(tmp_path):
    out = _run(
        "--accuracy", "--sizes", "12", "--genes", "30", "--tissues", "4", "--hide", "0.25",
        "--methods", "mean,additive", "--out-dir", str(tmp_path),
    )  # fmt: skip
    result = json.loads((tmp_path / "complete_scale_accuracy.json").read_text())
    assert result["n_hidden"] > 0
    for method in ("mean", "additive"):
        scores = result["scores"][method]
        assert scores["n_hidden"] == result["n_hidden"] and 0 < scores["mse"] < 10
        assert "mse_ratio_to_best_other" in scores
    assert "P3 accuracy" in out
