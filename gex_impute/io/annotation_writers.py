"""Write gene annotations: BED6 gene bodies and a TSV gene table (read back by :func:`read_annotation`)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ._text import write_text

__all__ = ["write_bed", "write_gene_table"]


def write_bed(genes: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write gene bodies as BED6 (chrom, start, end, gene_id, 0, strand), atomically.

    Parameters
    ----------
    genes
        ``gene_id``, ``chrom``, ``start`` (0-based), ``end`` (exclusive), ``strand``.
    path
        Destination (``.gz`` compresses).

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.io import write_bed
    >>> genes = pd.DataFrame(
    ...     {"gene_id": ["G1"], "chrom": ["chr1"], "start": [99], "end": [200], "strand": ["+"]}
    ... )
    >>> write_bed(genes, "genes.bed")  # doctest: +SKIP
    """
    lines = [
        f"{g.chrom}\t{g.start}\t{g.end}\t{g.gene_id}\t0\t{g.strand}" for g in genes.itertuples(index=False)
    ]
    return write_text(path, "\n".join(lines) + "\n")


def write_gene_table(genes: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a TSV with header ``chrom start end strand gene_id`` (0-based start), atomically.

    Parameters
    ----------
    genes
        ``gene_id``, ``chrom``, ``start`` (0-based), ``end`` (exclusive), ``strand``.
    path
        Destination (``.gz`` compresses).

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.io import write_gene_table
    >>> genes = pd.DataFrame(
    ...     {"gene_id": ["G1"], "chrom": ["chr1"], "start": [99], "end": [200], "strand": ["+"]}
    ... )
    >>> write_gene_table(genes, "genes.tsv")  # doctest: +SKIP
    """
    table = genes[["chrom", "start", "end", "strand", "gene_id"]]
    return write_text(path, table.to_csv(sep="\t", index=False, lineterminator="\n"))
