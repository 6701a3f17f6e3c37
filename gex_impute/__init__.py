"""gex_impute: estimate missing genotype-tissue-specific gene expression on AnnData.

A hybrid model (promoter CNN + XGBoost over genomic context; an optional tissue transformer, off
by default) beside honest baselines. The data flow, as in scanpy::

    import gex_impute as gi
    adata = gi.io.read_expression("GTEx_gene_tpm.gct.gz", sample_attributes="SampleAttributesDS.txt")
    gi.pp.annotate_genes(adata, "gencode.gtf")      # pp: files -> var columns
    completed = gi.tl.complete(adata)                # tl: impute / complete / evaluate
    gi.pl.profiles(completed)                        # pl: plots

``gi.impute``, ``gi.complete`` and ``gi.evaluate`` are aliases of the ``tl`` functions.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from . import datasets, errors, io, methods, pl, pp, tl
from .methods import available_methods, get_method, load_model
from .tl import complete, evaluate, impute

if TYPE_CHECKING:  # resolved on first use at run time (__getattr__): torch and xgboost stay unimported
    from .methods.hybrid import HybridImputer

try:
    __version__ = version("gex_impute")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "HybridImputer",
    "available_methods",
    "complete",
    "datasets",
    "errors",
    "evaluate",
    "get_method",
    "impute",
    "io",
    "load_model",
    "methods",
    "pl",
    "pp",
    "tl",
]


def __getattr__(name: str):
    # HybridImputer lives with the torch/xgboost code; resolve it on first use
    if name == "HybridImputer":
        from .methods.hybrid import HybridImputer

        return HybridImputer
    msg = f"module 'gex_impute' has no attribute {name!r}"
    raise AttributeError(msg)
