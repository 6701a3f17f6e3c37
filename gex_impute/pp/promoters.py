"""``add_promoters``: a promoter sequence per gene, cut from a genome FASTA or taken from keyed sequences.

Sequences are written upstream -> downstream in the gene's orientation, upper-case, to
``var['promoter']`` ("" when unknown). Files are read by :func:`gex_impute.io.open_fasta` and
:func:`gex_impute.io.read_sequences`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..errors import DataError, InputFileError, ParameterError
from ..io._text import open_text
from ..io.fasta import SEQUENCE_LETTERS, open_fasta, read_sequences, reverse_complement
from ..io.identifiers import normalize_chrom, strip_version
from ._genes import gene_ids, gene_table, require_columns, resolve_tissue_key, view_to_actual

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["add_promoters"]

#: largest promoter flank (bp) cut from a FASTA: a typo such as 10**8 would not fit in memory
MAX_FLANK = 50_000


def _examples(items, n: int = 10) -> str:
    items = list(items)
    return ", ".join(map(str, items[:n])) + (", ..." if len(items) > n else "")


def _read_mapping(path: str | os.PathLike | pd.DataFrame | pd.Series, known: pd.Index) -> pd.DataFrame:
    """Promoter id -> gene id table (two columns, optional header), file order kept."""
    if isinstance(path, pd.Series):
        table = pd.DataFrame({"promoter": path.index.astype(str), "gene": path.astype(str).to_numpy()})
    elif isinstance(path, pd.DataFrame):
        table = path.iloc[:, :2].astype(str)
        table.columns = ["promoter", "gene"]
    else:
        with open_text(path, "promoter -> gene mapping") as fh:
            try:
                table = pd.read_csv(fh, sep="\t", header=None, dtype=str, comment="#").iloc[:, :2]
            except (ValueError, pd.errors.ParserError) as err:
                msg = f"{path}: not a tab-separated promoter -> gene mapping ({err})."
                raise InputFileError(msg) from err
        if table.shape[1] < 2:
            msg = f"{path}: a promoter -> gene mapping needs two tab-separated columns."
            raise InputFileError(msg)
        table.columns = ["promoter", "gene"]
        if len(table) > 1 and table["promoter"].iloc[0] not in known:
            # a header line ("promoter<TAB>gene"), unless no id of the file is a sequence id
            if table["promoter"].iloc[1:].isin(known).any():
                table = table.iloc[1:]
    table = table.dropna()
    table["gene"] = strip_version(table["gene"])
    return table.reset_index(drop=True)


def _suffix_rank(ids: pd.Series) -> np.ndarray:
    """Numeric ``_<n>`` suffix of EPD promoter ids (``TP53_1`` -> 1); large when absent."""
    rank = pd.to_numeric(ids.str.extract(r"_(\d+)$", expand=False), errors="coerce")
    return rank.fillna(np.iinfo(np.int32).max).to_numpy()


def add_promoters(
    adata: AnnData,
    fasta: str | os.PathLike | None = None,
    sequences: str | os.PathLike | pd.Series | None = None,
    mapping: str | os.PathLike | pd.DataFrame | pd.Series | None = None,
    *,
    upstream: int = 1000,
    downstream: int = 500,
    key_added: str = "promoter",
    gene_id_key: str | None = None,
    tissue_key: str | Literal[False] | None = None,
    copy: bool = False,
) -> AnnData | None:
    """Attach a promoter sequence to every gene.

    Two sources, exactly one of which is given:

    * ``fasta``: a genome FASTA (indexed ``.fai``, plain or bgzip) read with
      :class:`pysam.FastaFile`; needs ``chrom``, ``tss`` and ``strand`` on the genes (see
      :func:`gex_impute.pp.annotate_genes`). On "+" the window is
      ``[tss - upstream, tss + downstream)``; on "-" it is the reverse complement of
      ``[tss - downstream + 1, tss + upstream + 1)``, so the TSS base is at position
      ``upstream`` of every sequence. Windows running past a contig end are padded with
      ``N``. Chromosome names are matched across ``chr1``/``1`` and ``chrM``/``MT``
      spellings; genes on contigs the FASTA lacks get "" and are reported.
    * ``sequences``: sequences keyed by gene id (a FASTA whose headers are gene ids, a TSV
      ``id<TAB>sequence``, or a Series), or keyed by promoter id together with ``mapping``
      (promoter id -> gene id, such as EPD's ``epd_promoter_to_ensembl.tsv``). When several
      promoters map to one gene, the one with the lowest ``_<n>`` suffix (EPD's ``_1``, its
      main promoter) is used, ties broken by file order. Sequences are used as they are
      (``upstream``/``downstream`` do not apply).

    Parameters
    ----------
    adata
        AnnData with genes in ``var`` (or in ``obs``: transposed data, found from where
        ``tissue_key`` lives).
    fasta
        Genome FASTA path.
    sequences
        Keyed sequences (path or Series).
    mapping
        Promoter id -> gene id table for ``sequences`` keyed by promoter id.
    upstream
        Bases upstream of the TSS (FASTA source), at most 50,000.
    downstream
        Bases from the TSS downstream, TSS base included (FASTA source), 1 to 50,000.
    key_added
        Gene column to write.
    gene_id_key
        Gene column holding the ids to match ``sequences``/``mapping``; the index when None.
        Ensembl version suffixes are ignored on both sides.
    tissue_key
        Sample column used to find the orientation: the gene axis is the other one. None: the
        key recorded by :func:`~gex_impute.pp.register_keys`, else ``"tissue"``. False: no
        sample column, the genes are in ``var``.
    copy
        Return a copy instead of writing into ``adata``.

    Returns
    -------
    None, or the copy when ``copy=True``. Writes on the gene axis: ``[key_added]``
    (upper-case sequence, "" when unknown), ``[key_added + '_tss']`` (the position of the TSS
    base in the sequence: ``upstream`` for FASTA windows, -1 for keyed sequences and genes
    without one; the hybrid's promoter CNN reads the bases around it) and, with ``mapping``,
    ``n_promoters`` (promoters with a sequence mapped to the gene). ``adata.uns[key_added]``: ``source``,
    ``upstream``/``downstream`` (FASTA) , ``n_with_sequence``, ``n_missing``.

    Raises
    ------
    DataError
        When no gene gets a sequence (chromosome names or gene ids that do not match), or the
        FASTA source lacks the ``chrom``/``tss``/``strand`` gene columns.
    InputFileError
        When a FASTA, sequence or mapping file cannot be read.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_h5ad("test-data/sim.h5ad")  # doctest: +SKIP
    >>> gi.pp.add_promoters(adata, fasta="test-data/genome.fa", upstream=200, downstream=50)  # doctest: +SKIP
    >>> adata.var["promoter"].str.len().unique()  # doctest: +SKIP
    array([250])
    """
    if (fasta is None) == (sequences is None):
        msg = "pass exactly one of fasta= (a genome FASTA) or sequences= (keyed sequences)."
        raise ParameterError(msg)
    if mapping is not None and sequences is None:
        msg = "mapping= applies to sequences= keyed by promoter id, not to fasta=."
        raise ParameterError(msg)
    if fasta is not None and not (0 <= upstream <= MAX_FLANK and 1 <= downstream <= MAX_FLANK):
        msg = (
            f"upstream must be 0-{MAX_FLANK:,} and downstream 1-{MAX_FLANK:,} bp (the TSS base counts "
            f"downstream), got {upstream} and {downstream}; promoter windows are usually 1-10 kb a side "
            "(the hybrid reads 250 bp upstream to 50 bp downstream of the TSS)."
        )
        raise ParameterError(msg)
    adata = adata.copy() if copy else adata
    view_to_actual(adata)
    axis, genes = gene_table(adata, resolve_tissue_key(adata, tissue_key))
    if fasta is not None:
        require_columns(
            genes,
            ("chrom", "tss", "strand"),
            axis,
            "cutting promoters from a FASTA needs them: run gex_impute.pp.annotate_genes(adata, "
            "<GTF/GFF3/BED/TSV>) first.",
        )
        promoters, info = _from_fasta(genes, fasta, upstream=upstream, downstream=downstream)
    else:
        promoters, n_promoters, info = _from_sequences(genes, sequences, mapping, gene_id_key, axis)
        if n_promoters is not None:
            genes["n_promoters"] = n_promoters
    genes[key_added] = promoters
    # where the TSS base is in each sequence (FASTA windows: at ``upstream``; keyed sequences: unknown)
    tss_at = upstream if fasta is not None else -1
    genes[f"{key_added}_tss"] = np.where(promoters != "", tss_at, -1).astype(np.int64)
    n_with = int((promoters != "").sum())
    info |= {"n_with_sequence": n_with, "n_missing": len(promoters) - n_with}
    adata.uns[key_added] = info
    logger.info("promoter sequences for %d of %d genes", n_with, len(promoters))
    return adata if copy else None


def _from_sequences(genes: pd.DataFrame, sequences, mapping, gene_id_key, axis):
    source = "sequences" if isinstance(sequences, pd.Series) else str(sequences)
    if isinstance(sequences, pd.Series):
        seqs = sequences.dropna().astype(str).str.upper()  # NaN / None: no sequence, not "NAN"
        seqs.index = seqs.index.astype(str)
        seqs = seqs[~seqs.index.duplicated()]
    else:
        seqs = read_sequences(sequences)
    ids, keys = gene_ids(genes, gene_id_key, axis)
    n_promoters = None
    if mapping is not None:
        table = _read_mapping(mapping, seqs.index)
        table = table[table["promoter"].isin(seqs.index)]
        if table.empty:
            msg = (
                f"no promoter id of the mapping is in the sequences {source} (sequence ids e.g. "
                f"{_examples(seqs.index[:3])}); check that mapping= matches sequences=."
            )
            raise DataError(msg)
        order = np.lexsort((np.arange(len(table)), _suffix_rank(table["promoter"])))
        ranked = table.iloc[order]
        chosen = ranked.drop_duplicates("gene").set_index("gene")["promoter"]
        by_gene = chosen.map(seqs)
        counts = table.groupby("gene")["promoter"].nunique()
        n_promoters = counts.reindex(keys).fillna(0).astype(np.int64).to_numpy()
    else:
        by_gene = seqs.copy()
        by_gene.index = strip_version(by_gene.index)
        by_gene = by_gene[~by_gene.index.duplicated()]
    promoters = by_gene.reindex(keys).fillna("").astype(str).to_numpy(dtype=object)
    n_with = int((promoters != "").sum())
    if n_with == 0:
        hint = (
            " The sequence ids look like promoter ids; pass mapping= (promoter id -> gene id)."
            if mapping is None
            else ""
        )
        msg = (
            f"no gene (ids e.g. {_examples(ids[:3])}) has a sequence in {source} (ids e.g. "
            f"{_examples(seqs.index[:3])}).{hint}"
        )
        raise DataError(msg)
    if n_with < len(keys):
        logger.warning(
            "%d of %d genes have no sequence in %s; their promoter is '' (e.g. %s).",
            len(keys) - n_with,
            len(keys),
            source,
            _examples(ids[promoters == ""]),
        )
    info = {"source": source, "mapping": "" if mapping is None else str(mapping)}
    if mapping is not None and not isinstance(mapping, str | os.PathLike):
        info["mapping"] = "table"
    return promoters, n_promoters, info


def _from_fasta(genes: pd.DataFrame, fasta, *, upstream: int, downstream: int):
    path = Path(fasta)
    with open_fasta(path) as handle:
        lengths = dict(zip(handle.references, handle.lengths, strict=True))
        chrom = genes["chrom"]
        placed = chrom.notna() & genes["tss"].notna() & genes["strand"].isin(["+", "-"])
        names = chrom[placed].astype(str)
        unique = pd.Index(names.unique())
        renamed = pd.Index(normalize_chrom(unique, "auto", reference=lengths)) if len(unique) else unique
        rename = dict(zip(unique, renamed, strict=True))
        changed = {a: b for a, b in rename.items() if a != b}
        if changed:
            logger.info(
                "matched %d chromosome names to the FASTA's spelling (e.g. %s).",
                len(changed),
                ", ".join(f"{a} -> {b}" for a, b in list(changed.items())[:3]),
            )
        contig = names.map(rename)
        in_fasta = contig.isin(list(lengths))
        if not in_fasta.any():
            msg = (
                f"none of the genes' chromosomes (e.g. {_examples(unique[:5])}) is a contig of "
                f"{path} (contigs e.g. {_examples(list(lengths)[:5])}); the annotation and the "
                "genome must be the same assembly."
            )
            raise DataError(msg)
        absent = sorted(set(names[~in_fasta]))
        if absent:
            logger.warning(
                "%d genes lie on %d contigs absent from %s (e.g. %s); their promoter is ''.",
                int((~in_fasta).sum()),
                len(absent),
                path,
                _examples(absent),
            )
        n_unplaced = int((~placed).sum())
        if n_unplaced:
            logger.warning(
                "%d genes have no chrom/tss/strand (not annotated); their promoter is ''.", n_unplaced
            )
        promoters = np.full(len(genes), "", dtype=object)
        positions = np.flatnonzero(placed.to_numpy())[in_fasta.to_numpy()]
        tss_all = genes["tss"].to_numpy()
        strand_all = genes["strand"].astype(str).to_numpy()
        contig_ok = contig[in_fasta].to_numpy()
        beyond: list[str] = []
        for pos, ctg in zip(positions, contig_ok, strict=True):
            tss = int(tss_all[pos])
            length = lengths[ctg]
            if not 0 <= tss < length:  # another assembly, or a truncated FASTA
                beyond.append(str(genes.index[pos]))
                continue
            minus = strand_all[pos] == "-"
            start, end = (
                (tss - downstream + 1, tss + upstream + 1) if minus else (tss - upstream, tss + downstream)
            )
            lo, hi = max(start, 0), min(end, length)
            body = handle.fetch(ctg, lo, hi)
            if not SEQUENCE_LETTERS.fullmatch(body):
                msg = (
                    f"{path}: the bases read for {genes.index[pos]} ({ctg}:{lo + 1}-{hi}) hold "
                    f"{next(c for c in body if not SEQUENCE_LETTERS.fullmatch(c))!r}: the index "
                    f"{path}.fai does not match the FASTA (rewritten after indexing?); delete the .fai "
                    "(it is rebuilt) and run again."
                )
                raise InputFileError(msg)
            seq = ("N" * (lo - start) + body + "N" * (end - hi)).upper()
            promoters[pos] = reverse_complement(seq) if minus else seq
        if beyond:
            logger.warning(
                "%d genes have their TSS beyond the end of their contig in %s (e.g. %s); their promoter "
                "is ''. Are the annotation and the genome the same assembly?",
                len(beyond),
                path,
                _examples(beyond),
            )
    info = {"source": str(path), "upstream": int(upstream), "downstream": int(downstream)}
    return promoters, info
