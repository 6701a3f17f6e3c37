"""Gene ids and chromosome names across sources: Ensembl versions, UCSC vs Ensembl spellings."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

import pandas as pd

from ..errors import ParameterError

__all__ = ["normalize_chrom", "strip_version"]

# Ensembl stable ids (any species: ENSG, ENSMUSG, ENST, ...) followed by a version, and in GENCODE's
# GRCh37 "lift37" files a remapping suffix ("ENSG00000223972.5_2"), dropped with the version;
# GENCODE's "_PAR_Y" suffix (pseudo-autosomal copies on chrY) is kept so they stay distinct from chrX.
_VERSION = re.compile(r"^(ENS[A-Z]*\d{6,})\.\d+(?:_\d+)?((?:_PAR_Y)?)(?:_\d+)?$")


def strip_version(ids: Iterable[str] | str) -> pd.Index | str:
    """Remove Ensembl version suffixes: ``ENSG00000223972.5`` -> ``ENSG00000223972``.

    Only Ensembl-style ids are touched (``NM_000014.6`` and ``gene1.2`` stay as they are);
    GENCODE's ``_PAR_Y`` suffix is kept (``ENSG00000182378.14_PAR_Y`` ->
    ``ENSG00000182378_PAR_Y``); the remapping suffix of GENCODE's GRCh37 "lift37" files goes
    with the version (``ENSG00000223972.5_2`` -> ``ENSG00000223972``).

    Parameters
    ----------
    ids
        One id or several.

    Returns
    -------
    The id(s) without version, a string for a string input, else a :class:`pandas.Index`.

    Examples
    --------
    >>> from gex_impute.io import strip_version
    >>> strip_version(["ENSG00000223972.5", "ENSG00000182378.14_PAR_Y", "NM_000014.6"]).tolist()
    ['ENSG00000223972', 'ENSG00000182378_PAR_Y', 'NM_000014.6']
    >>> strip_version("ENSG00000223972.5_2")
    'ENSG00000223972'
    """
    if isinstance(ids, str):
        return _VERSION.sub(r"\1\2", ids)
    index = pd.Index(ids).astype(str)
    return pd.Index(index.str.replace(_VERSION, r"\1\2", regex=True))


def chrom_base(names: pd.Series) -> pd.Series:
    """Chromosome names without ``chr`` prefix, mitochondrion as ``MT``."""
    s = names.astype(str)
    base = s.str.replace(r"^chr", "", regex=True, case=False)
    return base.mask(base.isin(["M", "MT", "m", "mt"]), "MT")


def is_primary(chrom: pd.Series) -> pd.Series:
    """Whether a contig is a primary chromosome (not an ``_alt``/``_random``/``_fix`` scaffold)."""
    return ~chrom.astype(str).str.contains("_|\\.", regex=True)


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
        ``6_GL000254v2_alt``); Ensembl's accessions of unplaced scaffolds (``KI270728.1``) and
        UCSC's unplaced scaffolds (``chrUn_KI270728v1``) are left as they are, not translated.
    reference
        The names to match with ``style="auto"`` (e.g. the contigs of a FASTA file).

    Returns
    -------
    The translated name(s), a string for a string input, else a list.

    Examples
    --------
    >>> from gex_impute.io import normalize_chrom
    >>> normalize_chrom(["1", "X", "MT"], "ucsc")
    ['chr1', 'chrX', 'chrM']
    >>> normalize_chrom("chrM", "ensembl")
    'MT'
    >>> normalize_chrom(["chr2", "chrM"], "auto", reference=["2", "MT"])
    ['2', 'MT']
    >>> normalize_chrom(["KI270728.1", "chrUn_KI270728v1"], "ucsc")
    ['KI270728.1', 'chrUn_KI270728v1']
    """
    single = isinstance(names, str)
    s = pd.Series([names] if single else list(names), dtype=object).astype(str)
    base = chrom_base(s)
    # re-prefixing cannot spell an Ensembl accession (KI270728.1) the UCSC way, nor an unplaced UCSC
    # scaffold (chrUn_KI270728v1) the Ensembl way: leave both as they are
    ucsc = ("chr" + base.mask(base == "MT", "M")).mask(base.str.contains(".", regex=False), s)
    ensembl = base.mask(base.str.startswith("Un_"), s)
    if style == "ensembl":
        out = ensembl
    elif style == "ucsc":
        out = ucsc
    elif style == "auto":
        if reference is None:
            msg = "normalize_chrom(style='auto') needs reference= (the names to match)."
            raise ParameterError(msg)
        ref = set(map(str, reference))
        out = s.copy()
        for candidate in (ucsc, ensembl):
            use = ~out.isin(ref) & candidate.isin(ref)
            out = out.mask(use, candidate)
    else:
        msg = f"style must be 'ucsc', 'ensembl' or 'auto', got {style!r}"
        raise ParameterError(msg)
    return out.iloc[0] if single else out.tolist()
