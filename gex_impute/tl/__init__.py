"""Tools: fill the holes of a matrix, complete the donor x tissue grid, evaluate methods honestly.

One tool per module, scanpy-shaped (``adata`` first, keyword-only options, ``copy=False``):

- :func:`impute`: fill every missing entry of an AnnData (``layers[key_added]`` + mask);
- :func:`complete`: one profile per donor x tissue, absent ones estimated (a new AnnData, or
  written block by block to ``.h5ad`` / ``.zarr``; optionally on a dask cluster);
- :func:`evaluate`: hide observed entries, impute them with each method, score.
"""

from __future__ import annotations

from ._folds import PROTOCOLS, heldout_folds
from ._metrics import score
from .complete import complete
from .evaluate import BASELINES, evaluate, format_table
from .impute import impute

__all__ = [
    "BASELINES",
    "PROTOCOLS",
    "complete",
    "evaluate",
    "format_table",
    "heldout_folds",
    "impute",
    "score",
]
