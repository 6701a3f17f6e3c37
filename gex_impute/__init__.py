"""gex_impute: estimate missing genotype-tissue-specific gene expression.

A hybrid model (promoter CNN + tissue transformer + XGBoost over genomic context) and honest
baselines, on AnnData.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import datasets, io, pl, pp
from .evaluate import evaluate
from .impute import impute
from .methods import available_methods, get_method

try:
    __version__ = version("gex_impute")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "HybridImputer",
    "available_methods",
    "datasets",
    "evaluate",
    "get_method",
    "impute",
    "io",
    "pl",
    "pp",
]


def __getattr__(name: str):
    # HybridImputer lives with the torch/xgboost code; resolve it on first use
    if name == "HybridImputer":
        from .methods.hybrid import HybridImputer

        return HybridImputer
    msg = f"module 'gex_impute' has no attribute {name!r}"
    raise AttributeError(msg)
