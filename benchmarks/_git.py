"""The git commit of the gex_impute package a benchmark measures, for its results files."""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["package_commit"]


def package_commit() -> str:
    """Short commit of the checkout the imported ``gex_impute`` comes from ('unknown' outside git).

    Read where the package lives, not in the working directory: a run of another snapshot
    (``PYTHONPATH=<git archive>``) is then 'unknown' instead of the checkout it was started from.
    """
    import gex_impute

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(gex_impute.__file__).parent,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"
