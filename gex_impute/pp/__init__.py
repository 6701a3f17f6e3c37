"""Preprocessing: attach gene coordinates, promoter sequences and genomic context to AnnData.

* :func:`annotate_genes` (:mod:`gex_impute.pp.annotate`): coordinates from a GTF / GFF3 / BED /
  TSV file into the gene table.
* :func:`add_promoters` (:mod:`gex_impute.pp.promoters`): promoter sequences from a genome FASTA
  or keyed sequences.
* :func:`~gex_impute.pp.add_genomic_context` (:mod:`gex_impute.genome`): neighbouring genes, distances and
  orientations.
* :func:`register_keys`: record which columns hold the tissues and donors (and which layer the
  values), so later calls can leave ``tissue_key`` / ``donor_key`` / ``layer`` out.

Every function finds the gene axis with the same rule (:mod:`gex_impute.pp._genes`).
:func:`read_annotation` and :func:`~gex_impute.io.normalize_chrom` are re-exported from :mod:`gex_impute.io`.
"""

from __future__ import annotations

from .._data_keys import register_keys
from ..io.annotation import read_annotation
from ..io.identifiers import normalize_chrom
from .annotate import annotate_genes
from .promoters import add_promoters

__all__ = [  # noqa: F822 - add_genomic_context is resolved lazily by __getattr__ below
    "add_genomic_context",
    "add_promoters",
    "annotate_genes",
    "normalize_chrom",
    "read_annotation",
    "register_keys",
]


def __getattr__(name: str):
    # resolved on first use, so pp imports even while gex_impute.genome is being changed
    if name == "add_genomic_context":
        from ..genome import add_genomic_context

        return add_genomic_context
    msg = f"module 'gex_impute.pp' has no attribute {name!r}"
    raise AttributeError(msg)
