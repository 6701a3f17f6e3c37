"""``annotate_genes``: gene coordinates from an annotation file (or table) into the gene table.

Coordinates follow the package convention (0-based start, exclusive end, TSS base ``tss``);
the files are read by :func:`gex_impute.io.read_annotation`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..io.annotation import COLUMNS, AnnotationFormat, finish_table, read_annotation, sniff_format
from ..io.identifiers import normalize_chrom, strip_version
from ._genes import gene_ids, gene_table, resolve_tissue_key, view_to_actual

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["annotate_genes"]


def annotate_genes(
    adata: AnnData,
    annotation: str | os.PathLike | pd.DataFrame,
    *,
    format: AnnotationFormat = "auto",  # noqa: A002 - mirrors the user-facing option name
    gene_id_key: str | None = None,
    tissue_key: str | Literal[False] | None = None,
    bed_tss: Literal["start", "window_center"] = "start",
    coordinates: Literal["0-based", "1-based"] = "0-based",
    columns: Iterable[str] | None = None,
    chrom_style: Literal["keep", "ucsc", "ensembl"] = "keep",
    copy: bool = False,
) -> AnnData | None:
    """Attach genomic coordinates (chrom, start, end, strand, TSS, gene type) to the genes.

    Genes are matched by id with Ensembl version suffixes stripped on both sides
    (``ENSG00000223972.5`` matches ``ENSG00000223972``). Genes that cannot be placed are kept,
    with NaN coordinates, and reported (a warning with their count and up to ten examples).

    Parameters
    ----------
    adata
        Samples x genes AnnData, or the transpose (genes in ``obs``); the orientation is found
        from where ``tissue_key`` lives.
    annotation
        GTF, GFF3, BED6 or TSV file (see :func:`gex_impute.io.read_annotation`), or a DataFrame such as
        :func:`gex_impute.io.read_annotation` returns (indexed by gene id).
    format
        File format, ``"auto"`` to detect it.
    gene_id_key
        Column of the gene table holding the ids to match; the gene index when None.
    tissue_key
        Sample column used to find the orientation: the gene axis is the other one. None: the
        key recorded by :func:`~gex_impute.pp.register_keys`, else ``"tissue"``. False: no
        sample column, the genes are in ``var``.
    bed_tss
        BED files only: ``"start"`` (intervals are gene bodies) or ``"window_center"``
        (intervals are windows centred on the TSS, e.g. ``hg38_tss_cage_20kb.bed``).
    coordinates
        TSV files only: ``"0-based"`` (BED-like) or ``"1-based"`` (inclusive) coordinates.
    columns
        Which of ``chrom``, ``start``, ``end``, ``strand``, ``tss``, ``gene_type`` to write
        (all when None): e.g. take the TSS from one file and gene bounds from another with
        ``columns=["start", "end"]``.
    chrom_style
        ``"keep"`` the annotation's chromosome names, or translate them to ``"ucsc"``
        (``chr1``) or ``"ensembl"`` (``1``) with :func:`~gex_impute.io.normalize_chrom`.
    copy
        Return an annotated copy instead of writing into ``adata``.

    Returns
    -------
    None, or the annotated copy when ``copy=True``. Writes, on the gene axis (``var``, or
    ``obs`` for transposed data): ``chrom``, ``start`` (0-based), ``end`` (exclusive),
    ``strand``, ``tss`` (0-based TSS base), ``gene_type``. ``start``/``end``/``tss`` are
    ``int64`` when every gene is placed, ``float64`` with NaN for unplaced genes otherwise;
    string columns hold NaN for unplaced genes. A column the annotation lacks for every gene
    (``gene_type`` in a BED file) is not written. ``adata.uns['annotate_genes']``:
    ``n_placed``, ``n_unplaced``, ``source``, ``format``, ``bed_tss``, ``columns`` (written).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_tissue_table("../shared/data/gtex_tissue_tpm.tsv")  # doctest: +SKIP
    >>> gi.pp.annotate_genes(
    ...     adata, "../shared/data/hg38_tss_cage_20kb.bed", bed_tss="window_center"
    ... )  # doctest: +SKIP
    >>> adata.var[["chrom", "strand", "tss"]].head()  # doctest: +SKIP
    """
    columns = list(COLUMNS) if columns is None else list(columns)
    bad = [c for c in columns if c not in COLUMNS]
    if bad:
        msg = f"columns {bad} are not annotation columns; choose from {list(COLUMNS)}."
        raise ParameterError(msg)
    if chrom_style not in ("keep", "ucsc", "ensembl"):
        msg = f"chrom_style must be 'keep', 'ucsc' or 'ensembl', got {chrom_style!r}."
        raise ParameterError(msg)
    adata = adata.copy() if copy else adata
    view_to_actual(adata)
    axis, genes = gene_table(adata, resolve_tissue_key(adata, tissue_key))
    ids, keys = gene_ids(genes, gene_id_key, axis)  # checked before a large file is read

    if isinstance(annotation, pd.DataFrame):
        table = annotation
        source, fmt = "DataFrame", "dataframe"
        missing = [c for c in ("chrom", "start", "end", "strand") if c not in table.columns]
        if missing:
            msg = (
                f"annotation DataFrame lacks column(s) {missing}; build it with "
                "gex_impute.io.read_annotation()."
            )
            raise DataError(msg)
        if "tss" not in table.columns or "gene_type" not in table.columns:
            table = finish_table(table.rename_axis("gene_id").reset_index(), source)
        else:
            table = table.copy()
            table.index = strip_version(table.index)
            dup = table.index.duplicated()  # as finish_table keeps one record of a file's gene
            if dup.any():
                logger.info("%s: %d gene ids occur more than once; kept the first.", source, int(dup.sum()))
                table = table[~dup]
    else:
        source = str(annotation)
        table = read_annotation(annotation, format, bed_tss=bed_tss, coordinates=coordinates)
        fmt = format if format != "auto" else sniff_format(Path(annotation))

    placed = keys.isin(table.index)
    n_placed = int(placed.sum())
    n_unplaced = len(keys) - n_placed
    if n_placed == 0:
        msg = (
            f"none of the {len(keys)} genes (e.g. {', '.join(map(str, ids[:3]))}) is in the "
            f"annotation {source} (ids e.g. {', '.join(map(str, table.index[:3]))}); check that "
            "both use the same kind of gene id, or pass gene_id_key= naming the column to match."
        )
        raise DataError(msg)
    if n_unplaced:
        examples = ", ".join(map(str, ids[~placed][:10]))
        logger.warning(
            "%d of %d genes are not in the annotation %s and are kept with NaN coordinates (e.g. %s).",
            n_unplaced,
            len(keys),
            source,
            examples,
        )
    matched = table.reindex(keys)
    if chrom_style != "keep":
        known = matched["chrom"].notna()
        matched.loc[known, "chrom"] = normalize_chrom(matched.loc[known, "chrom"], chrom_style)
    written = []
    for col in columns:
        values = matched[col]
        if col in ("start", "end", "tss"):
            values = values.astype(np.int64) if n_unplaced == 0 else values.astype(np.float64)
        elif values.notna().any():
            values = values.astype(object).where(values.notna(), np.nan)
        else:
            # e.g. gene_type from a BED file: nothing to write (an all-NaN column is not h5ad-writable)
            logger.info("the annotation %s has no %r for these genes; column not written.", source, col)
            continue
        genes[col] = values.to_numpy()
        written.append(col)
    adata.uns["annotate_genes"] = {
        "n_placed": n_placed,
        "n_unplaced": n_unplaced,
        "source": source,
        "format": fmt,
        "bed_tss": bed_tss,
        "columns": written,
    }
    logger.info("placed %d of %d genes using %s", n_placed, len(keys), source)
    return adata if copy else None
