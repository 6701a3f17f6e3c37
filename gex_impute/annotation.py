"""Gene annotation: read GTF / GFF3 / BED / TSV gene coordinates and attach them to AnnData.

Coordinates follow the package convention (0-based, end-exclusive, like BED):

``chrom`` (str), ``start`` (int), ``end`` (int, exclusive), ``strand`` ("+"/"-"),
``tss`` (0-based position of the TSS base: ``start`` on "+", ``end - 1`` on "-"),
``gene_type`` (str).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["annotate_genes", "normalize_chrom", "read_annotation", "strip_version"]

AnnotationFormat = Literal["auto", "gtf", "gff3", "bed", "tsv"]
COLUMNS = ("chrom", "start", "end", "strand", "tss", "gene_type")

# Ensembl stable ids (any species: ENSG, ENSMUSG, ENST, ...) followed by a version; GENCODE's
# "_PAR_Y" suffix (pseudo-autosomal copies on chrY) is kept so they stay distinct from chrX.
_VERSION = re.compile(r"^(ENS[A-Z]*\d{6,})\.\d+((?:_PAR_Y)?)$")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def strip_version(ids: Iterable[str] | str) -> pd.Index | str:
    """Remove Ensembl version suffixes: ``ENSG00000223972.5`` -> ``ENSG00000223972``.

    Only Ensembl-style ids are touched (``NM_000014.6`` and ``gene1.2`` stay as they are);
    GENCODE's ``_PAR_Y`` suffix is kept (``ENSG00000182378.14_PAR_Y`` ->
    ``ENSG00000182378_PAR_Y``).

    Parameters
    ----------
    ids
        One id or several.

    Returns
    -------
    The id(s) without version, a string for a string input, else a :class:`pandas.Index`.

    Examples
    --------
    >>> strip_version(["ENSG00000223972.5", "ENSG00000182378.14_PAR_Y", "NM_000014.6"]).tolist()
    ['ENSG00000223972', 'ENSG00000182378_PAR_Y', 'NM_000014.6']
    """
    if isinstance(ids, str):
        return _VERSION.sub(r"\1\2", ids)
    index = pd.Index(ids).astype(str)
    return pd.Index(index.str.replace(_VERSION, r"\1\2", regex=True))


def _chrom_base(names: pd.Series) -> pd.Series:
    """Chromosome names without ``chr`` prefix, mitochondrion as ``MT``."""
    s = names.astype(str)
    base = s.str.replace(r"^chr", "", regex=True, case=False)
    return base.mask(base.isin(["M", "MT", "m", "mt"]), "MT")


def normalize_chrom(
    names: Iterable[str] | str,
    style: Literal["ucsc", "ensembl", "auto"] = "ucsc",
    *,
    reference: Iterable[str] | None = None,
) -> list[str] | str:
    """Translate chromosome names between UCSC (``chr1``, ``chrM``) and Ensembl (``1``, ``MT``).

    Parameters
    ----------
    names
        One name or several.
    style
        ``"ucsc"`` adds the ``chr`` prefix and maps ``MT`` -> ``chrM``; ``"ensembl"`` removes the
        prefix and maps ``chrM`` -> ``MT``; ``"auto"`` picks, per name, whichever spelling
        (unchanged, UCSC or Ensembl) occurs in ``reference`` and leaves names found in no
        spelling unchanged. Scaffold names are only re-prefixed (``chr6_GL000254v2_alt`` <->
        ``6_GL000254v2_alt``); Ensembl's ``GL000254.2``-style accessions are not translated.
    reference
        The names to match with ``style="auto"`` (e.g. the contigs of a FASTA file).

    Returns
    -------
    The translated name(s), a string for a string input, else a list.

    Examples
    --------
    >>> normalize_chrom(["1", "X", "MT"], "ucsc")
    ['chr1', 'chrX', 'chrM']
    >>> normalize_chrom("chrM", "ensembl")
    'MT'
    >>> normalize_chrom(["chr2", "chrM"], "auto", reference=["2", "MT"])
    ['2', 'MT']
    """
    single = isinstance(names, str)
    s = pd.Series([names] if single else list(names), dtype=object).astype(str)
    base = _chrom_base(s)
    if style == "ensembl":
        out = base
    elif style == "ucsc":
        out = "chr" + base.mask(base == "MT", "M")
    elif style == "auto":
        if reference is None:
            msg = "normalize_chrom(style='auto') needs reference= (the names to match)."
            raise ValueError(msg)
        ref = set(map(str, reference))
        ucsc = "chr" + base.mask(base == "MT", "M")
        out = s.copy()
        for candidate in (ucsc, base):
            use = ~out.isin(ref) & candidate.isin(ref)
            out = out.mask(use, candidate)
    else:
        msg = f"style must be 'ucsc', 'ensembl' or 'auto', got {style!r}"
        raise ValueError(msg)
    return out.iloc[0] if single else out.tolist()


def _is_primary(chrom: pd.Series) -> pd.Series:
    """Whether a contig is a primary chromosome (not an ``_alt``/``_random``/``_fix`` scaffold)."""
    return ~chrom.astype(str).str.contains("_|\\.", regex=True)


def _open_text(path):
    from .io import _open_text as open_text

    return open_text(path)


def _sniff_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for suffix, fmt in (
        (".gtf", "gtf"),
        (".gff3", "gff3"),
        (".gff", "gff3"),
        (".bed", "bed"),
        (".tsv", "tsv"),
        (".txt", "tsv"),
        (".tab", "tsv"),
        (".csv", "tsv"),
    ):
        if name.endswith(suffix):
            return fmt
    # sniff the content
    with _open_text(path) as fh:
        lines = []
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
    raise ValueError(msg)


# --------------------------------------------------------------------------------------------
# parsers; each returns a DataFrame with columns gene_id, chrom, start (0-based), end, strand,
# [tss], [gene_type], [gene_name]
# --------------------------------------------------------------------------------------------
_GTF_ATTR = re.compile(r'(\S+)\s+"([^"]*)"')


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


_GFF3_GENE_TYPES = {"gene", "ncRNA_gene", "pseudogene", "protein_coding_gene"}


def _read_gff(path: Path, fmt: str) -> pd.DataFrame:
    """Gene records of a GTF or GFF3 file; other records are aggregated only if there are none."""
    parse = _parse_gtf_attributes if fmt == "gtf" else _parse_gff3_attributes
    gene_types = {"gene"} if fmt == "gtf" else _GFF3_GENE_TYPES
    genes: list[tuple] = []
    fallback: dict[str, list] = {}  # gene_id -> [chrom, start, end, strand, type, name]
    n_lines = 0
    with _open_text(path) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                if line.startswith("##FASTA"):
                    break
                continue
            n_lines += 1
            head = line.split("\t", 3)  # cheap look at the feature type first
            is_gene = len(head) > 2 and head[2] in gene_types
            if not is_gene and genes:
                continue  # the file has gene records; skip transcripts, exons, ...
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) != 9:
                msg = (
                    f"{path}: line with {len(fields)} tab-separated fields, a {fmt.upper()} record "
                    f"has 9: {line[:80]!r}"
                )
                raise ValueError(msg)
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
            chrom, start, end, strand = fields[0], int(fields[3]) - 1, int(fields[4]), fields[6]
            if is_gene:
                genes.append((gene_id, chrom, start, end, strand, gene_type, name))
            else:
                rec = fallback.get(gene_id)
                if rec is None:
                    fallback[gene_id] = [chrom, start, end, strand, gene_type, name]
                else:
                    rec[1] = min(rec[1], start)
                    rec[2] = max(rec[2], end)
    if not genes and fallback:
        logger.info("%s has no gene records; gene bounds are taken over each gene_id's other records.", path)
        genes = [(gid, *rec) for gid, rec in fallback.items()]
    if not genes:
        msg = f"{path}: found no gene records with a gene_id attribute in {n_lines} {fmt.upper()} lines."
        raise ValueError(msg)
    return pd.DataFrame(
        genes, columns=["gene_id", "chrom", "start", "end", "strand", "gene_type", "gene_name"]
    )


def _read_bed(path: Path, bed_tss: str) -> pd.DataFrame:
    with _open_text(path) as fh:
        table = pd.read_csv(
            fh,
            sep="\t",
            header=None,
            comment="#",
            dtype={0: str, 3: str},
            skip_blank_lines=True,
            low_memory=False,
        )
    first = table.iloc[:, 0].astype(str)
    table = table[~first.str.startswith(("track", "browser"))]
    if table.shape[1] < 6:
        msg = (
            f"{path}: BED with {table.shape[1]} columns; gene annotation needs BED6 (chrom, start, "
            "end, gene id, score, strand)."
        )
        raise ValueError(msg)
    out = pd.DataFrame(
        {
            "gene_id": table[3].astype(str),
            "chrom": table[0].astype(str),
            "start": pd.to_numeric(table[1]).astype(np.int64),
            "end": pd.to_numeric(table[2]).astype(np.int64),
            "strand": table[5].astype(str),
        }
    )
    if bed_tss == "window_center":
        out["tss"] = out["start"] + (out["end"] - out["start"]) // 2
        # the window says nothing about the gene body: record the TSS base as a 1-bp gene
        out["start"] = out["tss"]
        out["end"] = out["tss"] + 1
    elif bed_tss != "start":
        msg = f"bed_tss must be 'start' or 'window_center', got {bed_tss!r}"
        raise ValueError(msg)
    return out


_TSV_ALIASES = {
    "gene_id": ("gene_id", "ens", "ensembl", "ensembl_gene_id", "ensembl_id", "geneid", "id", "gene", "name"),
    "chrom": ("chrom", "chromosome", "chr", "seqname", "seqnames", "contig"),
    "start": ("start", "txstart", "gene_start", "chromstart", "start_position"),
    "end": ("end", "txend", "gene_end", "chromend", "end_position"),
    "strand": ("strand",),
    "tss": ("tss", "transcription_start_site"),
    "gene_type": ("gene_type", "gene_biotype", "biotype", "type"),
    "gene_name": ("symbol", "gene_name", "hgnc_symbol"),
}


def _read_tsv(path: Path, coordinates: str) -> pd.DataFrame:
    sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    with _open_text(path) as fh:
        table = pd.read_csv(fh, sep=sep, low_memory=False)
    lower = {str(c).lower().lstrip("#"): c for c in table.columns}
    found = {}
    for key, aliases in _TSV_ALIASES.items():
        for alias in aliases:
            if alias in lower:
                found[key] = lower[alias]
                break
    if "gene_id" not in found:
        found["gene_id"] = table.columns[0]
    missing = [k for k in ("chrom", "start", "end", "strand") if k not in found]
    if missing:
        msg = (
            f"{path}: annotation table lacks column(s) {missing} (columns found: "
            f"{list(table.columns)}); a TSV annotation needs chrom, start, end and strand columns "
            "(and a gene id column, else the first column is used)."
        )
        raise ValueError(msg)
    out = pd.DataFrame({key: table[col] for key, col in found.items()})
    out["gene_id"] = out["gene_id"].astype(str)
    out["chrom"] = out["chrom"].astype(str)
    shift = {"0-based": 0, "1-based": 1}.get(coordinates)
    if shift is None:
        msg = f"coordinates must be '0-based' or '1-based', got {coordinates!r}"
        raise ValueError(msg)
    for col in ("start", "end", "tss"):
        if col in out:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    out["start"] = out["start"] - shift  # 1-based inclusive -> 0-based; end is the same number
    if "tss" in out:
        out["tss"] = out["tss"] - shift
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
          A GTF/GFF3 without gene records is aggregated over each gene_id's other records.
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
        exclusive end; e.g. ``hg38_gene_locations.tsv``, whose starts are UCSC ``txStart``
        values) or ``"1-based"`` (Ensembl/biomaRt style: 1-based, inclusive end).

    Returns
    -------
    DataFrame indexed by gene id (Ensembl versions stripped) with columns ``chrom``,
    ``start``, ``end``, ``strand``, ``tss``, ``gene_type`` (NaN when the file has none) and
    ``gene_name`` when known. Rows with an unknown strand are dropped (logged). When an id
    occurs more than once the record on a primary chromosome (no ``_alt`` / ``_random``
    scaffold) wins, else the first one.

    Examples
    --------
    >>> from gex_impute.annotation import read_annotation
    >>> genes = read_annotation("test-data/genes.gtf")  # doctest: +SKIP
    >>> genes[["chrom", "start", "end", "strand", "tss"]].head()  # doctest: +SKIP
    """
    path = Path(annotation)
    if not path.exists():
        msg = f"annotation file not found: {path}"
        raise FileNotFoundError(msg)
    fmt = _sniff_format(path) if format == "auto" else format
    if fmt in ("gtf", "gff3"):
        table = _read_gff(path, fmt)
    elif fmt == "bed":
        table = _read_bed(path, bed_tss)
    elif fmt == "tsv":
        table = _read_tsv(path, coordinates)
    else:
        msg = f"format must be 'auto', 'gtf', 'gff3', 'bed' or 'tsv', got {format!r}"
        raise ValueError(msg)
    return _finish_table(table, path)


def _finish_table(table: pd.DataFrame, source) -> pd.DataFrame:
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
    order = np.lexsort((np.arange(len(table)), ~_is_primary(table["chrom"]).to_numpy()))
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


# --------------------------------------------------------------------------------------------
# annotate_genes
# --------------------------------------------------------------------------------------------
def _view_to_actual(adata: AnnData) -> None:
    """Turn a view into an actual AnnData in place before writing to it (as scanpy does)."""
    if adata.is_view:
        adata._init_as_actual(adata.copy())


def _gene_frame(adata: AnnData, tissue_key: str | None) -> str:
    """Which AnnData axis holds the genes: ``"var"`` or ``"obs"``."""
    if tissue_key is None:
        return "var"
    from ._data import detect_orientation

    return "var" if detect_orientation(adata, tissue_key) == "samples_x_genes" else "obs"


def annotate_genes(
    adata: AnnData,
    annotation: str | os.PathLike | pd.DataFrame,
    *,
    format: AnnotationFormat = "auto",  # noqa: A002 - mirrors the user-facing option name
    gene_id_key: str | None = None,
    tissue_key: str | None = "tissue",
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
        GTF, GFF3, BED6 or TSV file (see :func:`read_annotation`), or a DataFrame such as
        :func:`read_annotation` returns (indexed by gene id).
    format
        File format, ``"auto"`` to detect it.
    gene_id_key
        Column of the gene table holding the ids to match; the gene index when None.
    tissue_key
        Sample column used to find the orientation; None means genes are in ``var``.
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
        (``chr1``) or ``"ensembl"`` (``1``) with :func:`normalize_chrom`.
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
    adata = adata.copy() if copy else adata
    _view_to_actual(adata)
    axis = _gene_frame(adata, tissue_key)
    genes = adata.var if axis == "var" else adata.obs

    if isinstance(annotation, pd.DataFrame):
        table = annotation
        source, fmt = "DataFrame", "dataframe"
        missing = [c for c in ("chrom", "start", "end", "strand") if c not in table.columns]
        if missing:
            msg = f"annotation DataFrame lacks column(s) {missing}; use read_annotation() to build it."
            raise ValueError(msg)
        if "tss" not in table.columns or "gene_type" not in table.columns:
            table = _finish_table(table.rename_axis("gene_id").reset_index(), source)
        else:
            table = table.copy()
            table.index = strip_version(table.index)
    else:
        source = str(annotation)
        table = read_annotation(annotation, format, bed_tss=bed_tss, coordinates=coordinates)
        fmt = format if format != "auto" else _sniff_format(Path(annotation))

    if columns is None:
        columns = list(COLUMNS)
    else:
        columns = list(columns)
        bad = [c for c in columns if c not in COLUMNS]
        if bad:
            msg = f"columns {bad} are not annotation columns; choose from {list(COLUMNS)}."
            raise ValueError(msg)

    if gene_id_key is None:
        ids = genes.index
    elif gene_id_key in genes.columns:
        ids = pd.Index(genes[gene_id_key].astype(str))
    else:
        msg = (
            f"gene_id_key {gene_id_key!r} is not a column of adata.{axis} "
            f"(columns: {list(genes.columns)}); pass gene_id_key=None to match on the index."
        )
        raise KeyError(msg)
    keys = strip_version(ids)
    placed = keys.isin(table.index)
    n_placed = int(placed.sum())
    n_unplaced = len(keys) - n_placed
    if n_placed == 0:
        msg = (
            f"none of the {len(keys)} genes (e.g. {', '.join(map(str, ids[:3]))}) is in the "
            f"annotation {source} (ids e.g. {', '.join(map(str, table.index[:3]))}); check that "
            "both use the same kind of gene id, or pass gene_id_key= naming the column to match."
        )
        raise ValueError(msg)
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
