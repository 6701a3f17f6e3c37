"""Preprocessing: attach gene coordinates, promoter sequences and genomic context to AnnData.

``annotate_genes`` and ``normalize_chrom`` live in :mod:`gex_impute.annotation`,
``add_promoters`` in :mod:`gex_impute.promoters` and ``add_genomic_context`` in
:mod:`gex_impute.genome`; this module gathers them as ``gex_impute.pp``.
"""

from __future__ import annotations

from .annotation import annotate_genes, normalize_chrom, read_annotation
from .promoters import add_promoters

__all__ = [  # noqa: F822 - add_genomic_context is resolved lazily by __getattr__ below
    "add_genomic_context",
    "add_promoters",
    "annotate_genes",
    "normalize_chrom",
    "read_annotation",
]


def __getattr__(name: str):
    # resolved on first use, so pp imports even while gex_impute.genome is incomplete
    if name == "add_genomic_context":
        from .genome import add_genomic_context

        return add_genomic_context
    msg = f"module 'gex_impute.pp' has no attribute {name!r}"
    raise AttributeError(msg)
