"""GTF and GFF3 gene annotation: parse gene records (with line numbers in errors) and write them.

Files hold 1-based, inclusive coordinates; the tables here use the package convention
(0-based start, exclusive end), so ``start = column 4 - 1`` and ``end = column 5``.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd

from ..errors import DataError, InputFileError
from ._text import open_text, open_text_write

logger = logging.getLogger("gex_impute")

__all__ = ["read_gff", "write_gff3", "write_gtf"]

_GTF_ATTR = re.compile(r'(\S+)\s+"([^"]*)"')
_GFF3_GENE_TYPES = frozenset({"gene", "ncRNA_gene", "pseudogene", "protein_coding_gene"})
_STRANDS = frozenset({"+", "-", ".", "?"})
GENE_COLUMNS = ["gene_id", "chrom", "start", "end", "strand", "gene_type", "gene_name"]
#: largest coordinate accepted (far beyond any contig; keeps coordinates in int64)
MAX_COORDINATE = 2**40


def _parse_gtf_attributes(text: str) -> dict[str, str]:
    attrs = dict(_GTF_ATTR.findall(text))
    if not attrs:  # unquoted values (some non-Ensembl GTFs)
        for part in text.split(";"):
            kv = part.strip().split(None, 1)
            if len(kv) == 2:
                attrs[kv[0]] = kv[1].strip('"')
    return attrs


def _parse_gff3_attributes(text: str) -> dict[str, str]:
    attrs = {}
    for part in text.strip().strip(";").split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            attrs[key.strip()] = unquote(value)
    return attrs


def _coordinates(fields: list[str], path: Path, line_no: int, fmt: str) -> tuple[int, int]:
    try:
        start, end = int(fields[3]), int(fields[4])
    except ValueError:
        msg = (
            f"{path}, line {line_no}: start {fields[3][:20]!r} / end {fields[4][:20]!r} are not whole "
            f"numbers; a {fmt.upper()} record has 1-based integer coordinates in columns 4 and 5."
        )
        raise InputFileError(msg) from None
    if start < 1 or end < start or end > MAX_COORDINATE:
        msg = (
            f"{path}, line {line_no}: start {start} and end {end} are not valid 1-based inclusive "
            f"coordinates (need 1 <= start <= end <= {MAX_COORDINATE})."
        )
        raise InputFileError(msg)
    if fields[6] not in _STRANDS:
        msg = f"{path}, line {line_no}: strand {fields[6][:10]!r} must be '+', '-', '.' or '?'."
        raise InputFileError(msg)
    return start - 1, end


def read_gff(path: str | os.PathLike, fmt: str) -> pd.DataFrame:
    """Gene records of a GTF (``fmt="gtf"``) or GFF3 (``"gff3"``) file as a table.

    Gene records are ``gene`` lines (GFF3 also ``ncRNA_gene``, ``pseudogene``); a file without
    any (UCSC's refGene / ncbiRefSeq GTFs) is aggregated over each ``gene_id``'s other records
    (transcripts, exons) on each contig and strand separately: one record per ``(gene_id,
    chrom, strand)``, of which :func:`~gex_impute.io.read_annotation` keeps the one on a primary
    chromosome, as for repeated gene records.

    Returns
    -------
    Columns ``gene_id``, ``chrom``, ``start`` (0-based), ``end`` (exclusive), ``strand``,
    ``gene_type``, ``gene_name`` (None where absent), in file order.

    Raises
    ------
    InputFileError
        For a record without 9 tab-separated fields, non-integer or inverted coordinates or an
        invalid strand (naming file and line), and for a file without gene records.
    """
    path = Path(path)
    parse = _parse_gtf_attributes if fmt == "gtf" else _parse_gff3_attributes
    gene_types = {"gene"} if fmt == "gtf" else _GFF3_GENE_TYPES
    genes: list[tuple] = []
    # (gene_id, chrom, strand) -> [start, end, type, name]: one span per contig and strand, so a
    # gene on an alt contig or on chrX and chrY is not merged into one span across them
    fallback: dict[tuple[str, str, str], list] = {}
    n_lines = 0
    with open_text(path, f"{fmt.upper()} file") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.startswith("#") or not line.strip():
                if line.startswith("##FASTA"):
                    break
                continue
            n_lines += 1
            if line.count("\t") != 8:
                msg = (
                    f"{path}, line {line_no}: {line.count(chr(9)) + 1} tab-separated fields, a "
                    f"{fmt.upper()} record has 9: {line[:80]!r}"
                )
                raise InputFileError(msg)
            head = line.split("\t", 3)  # cheap look at the feature type first
            is_gene = head[2] in gene_types
            if not is_gene and genes:
                continue  # the file has gene records; skip transcripts, exons, ...
            fields = line.rstrip("\r\n").split("\t")
            start, end = _coordinates(fields, path, line_no, fmt)
            attrs = parse(fields[8])
            gene_id = attrs.get("gene_id")
            if gene_id is None and fmt == "gff3":
                gene_id = attrs.get("ID", "")
                gene_id = gene_id.split(":", 1)[1] if gene_id.startswith("gene:") else gene_id
                if not is_gene:
                    gene_id = None
            if not gene_id:
                continue
            gene_type = attrs.get("gene_type") or attrs.get("gene_biotype") or attrs.get("biotype")
            name = attrs.get("gene_name") or attrs.get("Name")
            if is_gene:
                genes.append((gene_id, fields[0], start, end, fields[6], gene_type, name))
            else:
                key = (gene_id, fields[0], fields[6])
                rec = fallback.get(key)
                if rec is None:
                    fallback[key] = [start, end, gene_type, name]
                else:
                    rec[0], rec[1] = min(rec[0], start), max(rec[1], end)
                    rec[2], rec[3] = rec[2] or gene_type, rec[3] or name
    if not genes and fallback:
        logger.info(
            "%s has no gene records; gene bounds are taken over each gene_id's other records on each "
            "contig and strand (the primary chromosome's span is kept).",
            path,
        )
        genes = [(gid, chrom, s, e, strand, t, n) for (gid, chrom, strand), (s, e, t, n) in fallback.items()]
    if not genes:
        msg = f"{path}: found no gene records with a gene_id attribute in {n_lines} {fmt.upper()} lines."
        raise InputFileError(msg)
    return pd.DataFrame(genes, columns=GENE_COLUMNS)


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------
def _check_genes(genes: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("gene_id", "chrom", "start", "end", "strand") if c not in genes.columns]
    if missing:
        msg = f"the gene table lacks column(s) {missing}; it needs gene_id, chrom, start, end and strand."
        raise DataError(msg)
    out = genes.copy()
    if "gene_type" not in out:
        out["gene_type"] = "protein_coding"
    if "gene_name" not in out:
        out["gene_name"] = out["gene_id"]
    return out


def _esc(value) -> str:
    """GFF3 attribute value with its reserved characters percent-encoded."""
    return quote(str(value), safe=" !\"#$'()*+-./:<>?@[\\]^_`{|}~")


def transcript_id(gene_id: str) -> str:
    """Name the single transcript written for a gene: ``ENSG...`` -> ``ENST...``, else ``<id>-T1``."""
    return gene_id.replace("ENSG", "ENST", 1) if gene_id.startswith("ENSG") else f"{gene_id}-T1"


def exons(start: int, end: int) -> list[tuple[int, int]]:
    """One or two exons (0-based, half-open) covering the ends of a gene body."""
    length = end - start
    if length < 1000:
        return [(start, end)]
    return [(start, start + min(300, length // 3)), (end - min(500, length // 3), end)]


def write_gtf(
    genes: pd.DataFrame,
    path: str | os.PathLike,
    *,
    source: str = "gex_impute",
    description: str = "gene annotation (GENCODE style)",
) -> Path:
    """Write genes as a GENCODE-style GTF (gene, transcript and exon records), atomically.

    Parameters
    ----------
    genes
        One row per gene in file order: ``gene_id`` (written as is, e.g. with its version),
        ``chrom``, ``start`` (0-based), ``end`` (exclusive), ``strand``, and optionally
        ``gene_type`` and ``gene_name``.
    path
        Destination (``.gz`` compresses).
    source
        Column 2 of every record (and the ``##provider`` line).
    description
        The ``##description`` line.

    Returns
    -------
    The path written (1-based inclusive coordinates; one transcript with one or two exons per
    gene).

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.io import write_gtf
    >>> genes = pd.DataFrame(
    ...     {"gene_id": ["ENSG01.1"], "chrom": ["chr1"], "start": [99], "end": [200], "strand": ["+"]}
    ... )
    >>> write_gtf(genes, "genes.gtf")  # doctest: +SKIP
    """
    genes = _check_genes(genes)
    lines = [
        f"##description: {description}",
        f"##provider: {source}",
        "##format: gtf",
    ]
    for g in genes.itertuples(index=False):
        gid, tid = g.gene_id, transcript_id(g.gene_id)
        common = f'gene_id "{gid}"; gene_type "{g.gene_type}"; gene_name "{g.gene_name}"; level 2;'
        tx = (
            f'gene_id "{gid}"; transcript_id "{tid}"; gene_type "{g.gene_type}"; gene_name "{g.gene_name}"; '
            f'transcript_type "{g.gene_type}"; transcript_name "{g.gene_name}-201"; level 2;'
        )
        lines.append(f"{g.chrom}\t{source}\tgene\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t{common}")
        lines.append(f"{g.chrom}\t{source}\ttranscript\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t{tx}")
        parts = exons(g.start, g.end)
        if g.strand == "-":
            parts = parts[::-1]
        for k, (a, b) in enumerate(parts, start=1):
            attrs = f'{tx} exon_number {k}; exon_id "{tid.replace("ENST", "ENSE", 1)}.{k}";'
            lines.append(f"{g.chrom}\t{source}\texon\t{a + 1}\t{b}\t.\t{g.strand}\t.\t{attrs}")
    with open_text_write(path) as fh:
        fh.write("\n".join(lines) + "\n")
    return Path(path)


def write_gff3(
    genes: pd.DataFrame,
    path: str | os.PathLike,
    *,
    sequence_regions: dict[str, int] | None = None,
    source: str = "gex_impute",
) -> Path:
    """Write genes as a GENCODE-style GFF3 (the same records as :func:`~gex_impute.io.write_gtf`), atomically.

    Parameters
    ----------
    genes
        As for :func:`~gex_impute.io.write_gtf`.
    path
        Destination (``.gz`` compresses).
    sequence_regions
        Contig lengths written as ``##sequence-region`` lines.
    source
        Column 2 of every record.

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.io import write_gff3
    >>> genes = pd.DataFrame(
    ...     {"gene_id": ["ENSG01.1"], "chrom": ["chr1"], "start": [99], "end": [200], "strand": ["+"]}
    ... )
    >>> write_gff3(genes, "genes.gff3", sequence_regions={"chr1": 1000})  # doctest: +SKIP
    """
    genes = _check_genes(genes)
    lines = ["##gff-version 3"]
    lines += [f"##sequence-region {c} 1 {n}" for c, n in (sequence_regions or {}).items()]
    for g in genes.itertuples(index=False):
        gid, tid = g.gene_id, transcript_id(g.gene_id)
        base = f"gene_id={_esc(gid)};gene_type={_esc(g.gene_type)};gene_name={_esc(g.gene_name)};level=2"
        lines.append(f"{g.chrom}\t{source}\tgene\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\tID={gid};{base}")
        lines.append(
            f"{g.chrom}\t{source}\ttranscript\t{g.start + 1}\t{g.end}\t.\t{g.strand}\t.\t"
            f"ID={tid};Parent={gid};{base};transcript_id={tid};transcript_type={g.gene_type}"
        )
        parts = exons(g.start, g.end)
        if g.strand == "-":
            parts = parts[::-1]
        for k, (a, b) in enumerate(parts, start=1):
            lines.append(
                f"{g.chrom}\t{source}\texon\t{a + 1}\t{b}\t.\t{g.strand}\t.\t"
                f"ID=exon:{tid}:{k};Parent={tid};{base};transcript_id={tid};exon_number={k}"
            )
    with open_text_write(path) as fh:
        fh.write("\n".join(lines) + "\n")
    return Path(path)
