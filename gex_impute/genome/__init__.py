"""Genomic context: each gene's nearest reference genes along the chromosome.

For every gene, :func:`~gex_impute.genome.genomic_neighbours` finds its ``k`` nearest *reference* genes (by
default every placed gene; typically the genes with observed expression) on the same
chromosome by transcription start site (TSS), within a window, and describes each pair:
signed TSS distance, relative orientation (tandem / divergent / convergent), whether the gene
bodies overlap or nest, and whether the pair looks like a bidirectional promoter.

:func:`~gex_impute.pp.add_genomic_context` stores the result in an AnnData (scanpy style) and
:func:`genomic_context` reads it back; :func:`neighbour_values` gathers the neighbours'
values from an expression matrix.

Modules: :mod:`.neighbours` (the :class:`GenomicNeighbours` result and orientation codes),
:mod:`.search` (:func:`~gex_impute.genome.genomic_neighbours`), :mod:`.context` (AnnData storage and
:func:`~gex_impute.genome.neighbour_values`), :mod:`.layout` (:func:`tss_layout_features`: strand-aware
distances to the TSSs around each gene, density and chromosome position, from a TSS table
alone), :mod:`._reference` (a brute-force version for tests).
"""

from __future__ import annotations

from .context import add_genomic_context, genomic_context, neighbour_values
from .layout import tss_layout_features
from .neighbours import (
    BIDIRECTIONAL_MAX_DISTANCE,
    CONVERGENT,
    DIVERGENT,
    ORIENTATIONS,
    TANDEM,
    GenomicNeighbours,
)
from .search import genomic_neighbours

__all__ = [
    "BIDIRECTIONAL_MAX_DISTANCE",
    "CONVERGENT",
    "DIVERGENT",
    "ORIENTATIONS",
    "TANDEM",
    "GenomicNeighbours",
    "add_genomic_context",
    "genomic_context",
    "genomic_neighbours",
    "neighbour_values",
    "tss_layout_features",
]
