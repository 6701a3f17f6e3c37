"""Gene annotation files: read GTF / GFF3 / BED / TSV gene coordinates (writers: ``annotation_writers``).

Coordinates follow the package convention (0-based, end-exclusive, like BED):
``chrom`` (str), ``start`` (int), ``end`` (int, exclusive), ``strand`` ("+"/"-"),
``tss`` (0-based position of the TSS base: ``start`` on "+", ``end - 1`` on "-"),
``gene_type`` (str). GTF and GFF3 parsing lives in :mod:`gex_impute.io.gff`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import DataError, InputFileError, ParameterError
from ._text import check_input_file, examples, open_text
from .gff import MAX_COORDINATE, read_gff
from .identifiers import is_primary, strip_version

logger = logging.getLogger("gex_impute")

__all__ = ["read_annotation"]

AnnotationFormat = Literal["auto", "gtf", "gff3", "bed", "tsv"]
COLUMNS = ("chrom", "start", "end", "strand", "tss", "gene_type")

_SUFFIX_FORMATS = (
    (".gtf", "gtf"),
    (".gff3", "gff3"),
    (".gff", "gff3"),
    (".bed", "bed"),
    (".tsv", "tsv"),
    (".txt", "tsv"),
    (".tab", "tsv"),
    (".csv", "tsv"),
)


def sniff_format(path: Path) -> str:
    """Tell the annotation format of ``path`` from its suffix, else from its first records."""
    name = path.name.lower().removesuffix(".gz")
    for suffix, fmt in _SUFFIX_FORMATS:
        if name.endswith(suffix):
            return fmt
    lines = []
    with open_text(path, "annotation file") as fh:
        for line in fh:
            if line.startswith("##gff-version 3"):
                return "gff3"
            if line.startswith(("#", "track", "browser")) or not line.strip():
                continue
            lines.append(line.rstrip("\r\n"))
            if len(lines) >= 5:
                break
    if lines:
        fields = lines[0].split("\t")
        if len(fields) == 9 and 'gene_id "' in fields[8]:
            return "gtf"
        if len(fields) == 9 and "=" in fields[8]:
            return "gff3"
        if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
            return "bed"
        if {"chrom", "start", "end"} <= {f.lower() for f in fields}:
            return "tsv"
    msg = f"cannot tell the format of annotation file {path}; pass format='gtf', 'gff3', 'bed' or 'tsv'."
    raise InputFileError(msg)


def _read_bed(path: Path) -> pd.DataFrame:
    """BED6 records (chrom, start, end, name, score, strand); names the line of any bad record."""
    rows = []
    with open_text(path, "BED file") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 6:
                msg = (
                    f"{path}, line {line_no}: BED record with {len(fields)} columns; gene annotation needs "
                    "BED6 (chrom, start, end, gene id, score, strand), tab-separated."
                )
                raise InputFileError(msg)
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                msg = (
                    f"{path}, line {line_no}: start {fields[1][:20]!r} / end {fields[2][:20]!r} are not "
                    "whole numbers (BED columns 2 and 3: 0-based start, exclusive end)."
                )
                raise InputFileError(msg) from None
            if start < 0 or end <= start or end > MAX_COORDINATE:
                msg = f"{path}, line {line_no}: {start}-{end} is not a BED interval (0 <= start < end)."
                raise InputFileError(msg)
            if fields[5] not in ("+", "-", "."):
                msg = f"{path}, line {line_no}: strand {fields[5][:10]!r} (column 6) must be '+', '-' or '.'."
                raise InputFileError(msg)
            if not fields[3]:
                msg = f"{path}, line {line_no}: empty gene id (column 4)."
                raise InputFileError(msg)
            rows.append((fields[3], fields[0], start, end, fields[5]))
    if not rows:
        msg = f"{path}: found no BED records."
        raise InputFileError(msg)
    return pd.DataFrame(rows, columns=["gene_id", "chrom", "start", "end", "strand"])


def _bed_windows(table: pd.DataFrame, bed_tss: str) -> pd.DataFrame:
    if bed_tss not in ("start", "window_center"):
        msg = f"bed_tss must be 'start' or 'window_center', got {bed_tss!r}"
        raise ParameterError(msg)
    if bed_tss == "window_center":
        table = table.copy()
        table["tss"] = table["start"] + (table["end"] - table["start"]) // 2
        # the window says nothing about the gene body: record the TSS base as a 1-bp gene
        table["start"] = table["tss"]
        table["end"] = table["tss"] + 1
    return table


#: Ensembl BioMart's column names (biomaRt ``getBM`` attributes, web export headers), lower case:
#: their coordinates are always 1-based and inclusive, whatever ``coordinates`` says.
BIOMART = {
    "chrom": ("chromosome_name", "chromosome/scaffold name"),
    "start": ("start_position", "gene start (bp)"),
    "end": ("end_position", "gene end (bp)"),
}


_TSV_ALIASES = {
    "gene_id": (
        "gene_id",
        "ens",
        "ensembl",
        "ensembl_gene_id",
        "ensembl_gene_id_version",
        "gene stable id",
        "gene stable id version",
        "ensembl_id",
        "geneid",
        "id",
        "gene",
        "name",
    ),
    "chrom": ("chrom", "chromosome", "chr", "seqname", "seqnames", "contig", *BIOMART["chrom"]),
    "start": ("start", "txstart", "gene_start", "chromstart", *BIOMART["start"]),
    "end": ("end", "txend", "gene_end", "chromend", *BIOMART["end"]),
    "strand": ("strand",),
    "tss": ("tss", "transcription_start_site", "transcription start site (tss)"),
    "gene_type": ("gene_type", "gene_biotype", "biotype", "type", "gene type"),
    "gene_name": ("symbol", "gene_name", "hgnc_symbol", "external_gene_name", "gene name"),
}


def _read_tsv(path: Path, coordinates: str) -> pd.DataFrame:
    shift = {"0-based": 0, "1-based": 1}.get(coordinates)
    if shift is None:
        msg = f"coordinates must be '0-based' or '1-based', got {coordinates!r}"
        raise ParameterError(msg)
    sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    with open_text(path, "annotation table") as fh:
        try:
            table = pd.read_csv(fh, sep=sep, dtype=str, keep_default_na=False, na_values=["", "NA", "nan"])
        except (ValueError, pd.errors.ParserError) as err:
            msg = (
                f"{path}: not a {'comma' if sep == ',' else 'tab'}-separated table with a header ({err}); "
                "if it is a GTF, GFF3 or BED file, pass format='gtf', 'gff3' or 'bed'."
            )
            raise InputFileError(msg) from err
    lower = {str(c).removeprefix("\ufeff").strip().lower().lstrip("#"): c for c in table.columns}
    found, matched = {}, {}
    for key, aliases in _TSV_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[key], matched[key] = lower[alias], alias
                break
    biomart = [found[k] for k in ("start", "end") if matched.get(k) in BIOMART[k]]
    if biomart and shift == 0:
        logger.info("%s: columns %s are BioMart's, read as 1-based inclusive coordinates.", path, biomart)
        shift = 1
    if "gene_id" not in found and len(table.columns):
        found["gene_id"] = table.columns[0]
    missing = [k for k in ("chrom", "start", "end", "strand") if k not in found]
    if missing and len(table.columns) and str(table.columns[0]).startswith(">"):
        msg = (
            f"{path} is a FASTA file (it starts with a '>' header line), not a gene annotation; "
            "give it as the genome sequence (fasta=) and a GTF, GFF3, BED or TSV table as the annotation."
        )
        raise InputFileError(msg)
    if missing:
        msg = (
            f"{path}: annotation table lacks column(s) {missing} (columns found: "
            f"{examples(table.columns, 20)}); a TSV annotation needs chrom, start, end and strand "
            "columns (and a gene id column, else the first column is used)."
        )
        raise InputFileError(msg)
    out = pd.DataFrame({key: table[col] for key, col in found.items()})
    out["gene_id"] = out["gene_id"].astype(str)
    out["chrom"] = out["chrom"].astype(str)
    for col in ("start", "end", "tss"):
        if col not in out:
            continue
        values = pd.to_numeric(out[col], errors="coerce")
        whole = values.notna() & (values == values.round()) & (values.abs() <= MAX_COORDINATE)
        bad = out[col].notna() & ~whole
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (
                f"{path}, line {row + 2}: {found[col]} {out[col].iloc[row]!r} (gene "
                f"{out['gene_id'].iloc[row]!r}) is not a whole number up to {MAX_COORDINATE}; leave the "
                "cell empty if unknown."
            )
            raise InputFileError(msg)
        out[col] = values - shift if col != "end" else values  # 1-based inclusive end = exclusive end
    inverted = ((out["start"] < 0) | (out["end"] <= out["start"])).to_numpy()  # NaN: unknown, dropped later
    if inverted.any():
        row, (start, end) = int(np.flatnonzero(inverted)[0]), (found["start"], found["end"])
        need = (
            "1 <= start <= end (1-based, inclusive)" if shift else "0 <= start < end (0-based, end exclusive)"
        )
        msg = (
            f"{path}, line {row + 2}: {start} {table[start].iloc[row]!r} and {end} {table[end].iloc[row]!r} "
            f"(gene {out['gene_id'].iloc[row]!r}) are not a gene interval: need {need}."
        )
        raise InputFileError(msg)
    return out


def _normalize_strand(strand: pd.Series) -> pd.Series:
    mapping = {"+": "+", "-": "-", "1": "+", "-1": "-", "+1": "+", "1.0": "+", "-1.0": "-"}
    return strand.astype(str).str.strip().map(mapping)


def read_annotation(
    annotation: str | os.PathLike,
    format: AnnotationFormat = "auto",  # noqa: A002 - mirrors the user-facing option name
    *,
    bed_tss: Literal["start", "window_center"] = "start",
    coordinates: Literal["0-based", "1-based"] = "0-based",
) -> pd.DataFrame:
    """Read gene coordinates from a GTF, GFF3, BED6 or TSV file.

    Parameters
    ----------
    annotation
        Path (plain or gzip).

        * GTF (GENCODE / Ensembl): ``gene`` records; ``gene_id``, ``gene_type`` or
          ``gene_biotype``, ``gene_name``. 1-based inclusive coordinates are converted.
        * GFF3: ``gene`` / ``ncRNA_gene`` / ``pseudogene`` records; ``gene_id`` or ``ID``
          (``gene:`` prefix removed), ``gene_type`` or ``biotype``, ``Name``.
          A GTF/GFF3 without gene records is aggregated over each gene_id's other records, per
          contig and strand (the primary chromosome's span wins, as below).
        * BED6: chrom, start, end, gene id (column 4), score, strand (column 6); 0-based.
        * TSV (or CSV) with a header naming ``chrom``, ``start``, ``end``, ``strand`` (common
          aliases accepted, e.g. ``chromosome``, ``txStart``), optionally ``tss``,
          ``gene_type`` and a gene id column (``gene_id``, ``ens``, ...; else the first column).
    format
        ``"gtf"``, ``"gff3"``, ``"bed"``, ``"tsv"`` or ``"auto"`` (from the suffix, else the
        content).
    bed_tss
        How to find the TSS in a BED file: ``"start"`` (the default) treats each interval as the
        gene body, TSS = ``start`` on "+" and ``end - 1`` on "-"; ``"window_center"`` treats it as
        a window centred on the TSS (TSS = ``start + (end - start) // 2``, e.g. ``start + 10000``
        for the 20 kb windows of ``hg38_tss_cage_20kb.bed``); the gene body is then unknown and
        recorded as the TSS base alone (``start = tss``, ``end = tss + 1``).
    coordinates
        Coordinate convention of a TSV file: ``"0-based"`` (BED/UCSC style: 0-based start,
        exclusive end; e.g. ``hg38_gene_locations.tsv``) or ``"1-based"`` (Ensembl/biomaRt
        style: 1-based, inclusive end). An Ensembl BioMart export (biomaRt ``getBM`` columns
        ``ensembl_gene_id``, ``chromosome_name``, ``start_position``, ``end_position``,
        ``strand``, or the web export's ``Gene stable ID``, ``Chromosome/scaffold name``,
        ``Gene start (bp)``, ``Gene end (bp)``, ``Strand``) is always read as 1-based, as a GTF is.

    Returns
    -------
    DataFrame indexed by gene id (Ensembl versions stripped) with columns ``chrom``,
    ``start``, ``end``, ``strand``, ``tss``, ``gene_type`` (NaN when the file has none) and
    ``gene_name`` when known. Rows with an unknown strand (``.``) are dropped (logged). When an
    id occurs more than once the record on a primary chromosome (no ``_alt`` / ``_random``
    scaffold) wins, else the first one.

    Raises
    ------
    InputFileError
        For a file that is not text (e.g. an .h5ad), and for a malformed record (naming the file
        and the line).

    Examples
    --------
    >>> import gex_impute as gi
    >>> genes = gi.io.read_annotation("test-data/genes.gtf")  # doctest: +SKIP
    >>> genes[["chrom", "start", "end", "strand", "tss"]].head()  # doctest: +SKIP
    """
    path = check_input_file(annotation, "annotation file")
    if bed_tss not in ("start", "window_center"):
        msg = f"bed_tss must be 'start' or 'window_center', got {bed_tss!r}"
        raise ParameterError(msg)
    fmt = sniff_format(path) if format == "auto" else format
    if fmt in ("gtf", "gff3"):
        table = read_gff(path, fmt)
    elif fmt == "bed":
        table = _bed_windows(_read_bed(path), bed_tss)
    elif fmt == "tsv":
        table = _read_tsv(path, coordinates)
    else:
        msg = f"format must be 'auto', 'gtf', 'gff3', 'bed' or 'tsv', got {format!r}"
        raise ParameterError(msg)
    return finish_table(table, path)


def finish_table(table: pd.DataFrame, source) -> pd.DataFrame:
    """Normalise a parsed gene table: strands, integer coordinates, TSS, versionless unique ids."""
    table = table.copy()
    table["strand"] = _normalize_strand(table["strand"])
    bad = table["strand"].isna() | table["start"].isna() | table["end"].isna()
    if bad.any():
        logger.warning(
            "%s: %d records without a valid strand (+/-) or coordinates are ignored (e.g. %s).",
            source,
            int(bad.sum()),
            ", ".join(table.loc[bad, "gene_id"].astype(str).head(5)),
        )
        table = table[~bad]
    if table.empty:
        msg = f"{source}: no gene record with a strand (+/-) and coordinates."
        if isinstance(source, Path):
            raise InputFileError(msg)
        raise DataError(msg)
    table["start"] = table["start"].astype(np.int64)
    table["end"] = table["end"].astype(np.int64)
    computed = np.where(table["strand"] == "+", table["start"], table["end"] - 1).astype(np.int64)
    if "tss" in table:
        table["tss"] = table["tss"].fillna(pd.Series(computed, index=table.index)).astype(np.int64)
    else:
        table["tss"] = computed
    if "gene_type" not in table:
        table["gene_type"] = np.nan
    table["gene_id"] = strip_version(table["gene_id"])
    # prefer primary chromosomes, then file order
    order = np.lexsort((np.arange(len(table)), ~is_primary(table["chrom"]).to_numpy()))
    table = table.iloc[order]
    dup = table["gene_id"].duplicated()
    if dup.any():
        logger.info(
            "%s: %d gene ids occur more than once; kept one record each (primary chromosome first).",
            source,
            int(dup.sum()),
        )
        table = table[~dup]
    table = table.set_index("gene_id")
    table.index.name = None
    keep = [*COLUMNS] + (["gene_name"] if "gene_name" in table else [])
    return table[keep]
