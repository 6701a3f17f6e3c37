"""GTEx sample tables: sample attributes (SampleAttributesDS) and subject phenotypes.

* :func:`read_sample_attributes` / :func:`write_sample_attributes`:
  ``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt`` (SAMPID, SMTS, SMTSD, ...).
* :func:`read_subject_phenotypes` / :func:`write_subject_phenotypes`:
  ``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt`` (SUBJID, SEX, AGE, DTHHRDY).
* :func:`annotate_samples`: tissue, tissue group, donor, sex and age of GCT samples.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, InputFileError
from ._gtex_checks import (
    SEX_CODES,
    ages,
    cell_lines,
    refuse_other_file,
    sex_codes,
    strip_tissues,
    unique_ids,
)
from ._text import examples, write_text
from .tables import index_by, infer_numbers, read_strict_tsv

logger = logging.getLogger("gex_impute")

__all__ = [
    "annotate_samples",
    "read_sample_attributes",
    "read_subject_phenotypes",
    "write_sample_attributes",
    "write_subject_phenotypes",
]


def read_sample_attributes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a GTEx sample-attributes table (``SAMPID``, ``SMTS``, ``SMTSD``, ...).

    Parameters
    ----------
    path
        The table, e.g. ``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt`` (plain or gzip,
        tab-separated, no quoting).

    Returns
    -------
    The table indexed by ``SAMPID``; columns whose cells are all numbers (``SMRIN``,
    ``SMTSISCH``, ...) are numeric, the others strings (NaN where empty). ``SMTSD`` and ``SMTS``
    values are stripped of surrounding white space (``"Lung "`` is Lung, not another tissue).
    Leading ``#`` comment lines and blank lines before the header (dbGaP's copies of the table)
    are skipped.

    Raises
    ------
    InputFileError
        When ``SAMPID`` or ``SMTSD`` is missing, a row has a missing or extra cell, a
        ``SAMPID`` is empty or repeated, or the file is another kind (a GTF/GFF, a GCT, a FASTA).

    Examples
    --------
    >>> import gex_impute as gi
    >>> attrs = gi.io.read_sample_attributes("test-data/sample_attributes.tsv")  # doctest: +SKIP
    >>> attrs["SMTSD"].head()  # doctest: +SKIP
    """
    refuse_other_file(path, "attributes")
    table = read_strict_tsv(path, "sample-attributes table", required=("SAMPID", "SMTSD"))
    missing = [c for c in ("SAMPID", "SMTSD") if c not in table.columns]
    if missing:
        msg = (
            f"sample-attributes table {path} lacks column(s) {missing} (columns found: "
            f"{list(table.columns)[:20]}); pass the GTEx SampleAttributesDS table, a TSV with "
            "SAMPID, SMTS and SMTSD columns."
        )
        raise InputFileError(msg)
    table = strip_tissues(table, path)
    return infer_numbers(index_by(table, "SAMPID", path, "sample-attributes table"))


def read_subject_phenotypes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a GTEx subject-phenotypes table (``SUBJID``, ``SEX``, ``AGE``, ``DTHHRDY``).

    Parameters
    ----------
    path
        The table, e.g. ``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt`` (plain or gzip).
        ``SEX``: 1 = male, 2 = female (also accepted: ``male`` / ``female`` and ``M`` / ``F``, any
        case; empty where unknown); ``AGE``: a ten-year band such as ``60-69`` (the public table)
        or a whole number of years such as ``63`` (the controlled-access dbGaP table,
        ``phs000424...Subject_Phenotypes``), one form throughout; ``DTHHRDY``: the Hardy scale of
        the death circumstances (0-4, may be empty).

    Returns
    -------
    The table indexed by ``SUBJID`` (``GTEX-1117F``); ``SEX`` numeric (the codes 1 and 2,
    whatever its spelling in the file), ``AGE`` the bands as strings or the years as numbers,
    ``DTHHRDY`` numeric.

    Raises
    ------
    InputFileError
        When ``SUBJID``, ``SEX`` or ``AGE`` is missing, a SEX is none of the spellings above
        (the message names the unknown values), an AGE is neither a band ``NN-NN`` nor a whole
        number of years (or the table mixes both forms), a row has a missing or extra cell, or a
        ``SUBJID`` repeats, or the file is another kind (a GTF/GFF, a GCT, a FASTA).

    Examples
    --------
    >>> import gex_impute as gi
    >>> pheno = gi.io.read_subject_phenotypes(
    ...     "test-data/gtex/GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt"
    ... )  # doctest: +SKIP
    """
    what = "subject-phenotypes table"
    refuse_other_file(path, "phenotypes")
    table = read_strict_tsv(path, what, required=("SUBJID", "SEX", "AGE"))
    missing = [c for c in ("SUBJID", "SEX", "AGE") if c not in table.columns]
    if missing:
        msg = (
            f"{what} {path} lacks column(s) {missing} (columns found: {list(table.columns)[:20]}); pass "
            "the GTEx SubjectPhenotypesDS table, a TSV with SUBJID, SEX, AGE and DTHHRDY columns."
        )
        raise InputFileError(msg)
    table = index_by(table, "SUBJID", path, what)
    sex = sex_codes(table, path, from_file=True)
    age = ages(table, path, from_file=True)
    out = infer_numbers(table)
    out["SEX"] = sex
    out["AGE"] = age
    return out


def _sample_table(value, reader, id_column: str, required: tuple[str, ...], what: str) -> pd.DataFrame:
    if not isinstance(value, pd.DataFrame):
        return _safe_column_names(reader(value), value)
    table = value.set_index(id_column) if id_column in value.columns else value.copy()
    missing = [c for c in required if c not in table.columns]
    if missing:
        msg = f"{what} lacks column(s) {missing} (columns found: {list(table.columns)[:20]})."
        raise InputFileError(msg)
    table.index = pd.Index(table.index.astype(str), name=id_column)
    unique_ids(table, id_column, what)
    return _safe_column_names(table, "(DataFrame)")


def _safe_column_names(table: pd.DataFrame, source) -> pd.DataFrame:
    """Replace ``/`` in column names by ``_``: the columns go to ``obs``, and zarr keys cannot hold it."""
    names = [str(c) for c in table.columns]
    renamed: dict[str, str] = {}
    for name in names:
        if "/" in name:
            new = name.replace("/", "_")
            while new in names or new in renamed.values():
                new += "_"
            renamed[name] = new
    if not renamed:
        return table
    for old, new in renamed.items():
        logger.warning(
            "%s: column %r is renamed %r, as zarr output cannot hold a '/' in a name.", source, old, new
        )
    return table.rename(columns=renamed)


def prepare_sample_attributes(value: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Sample attributes from a path or a DataFrame, indexed by SAMPID, with an SMTSD column.

    A DataFrame's ``SMTSD`` / ``SMTS`` are stripped of surrounding white space, as a file's are.
    """
    table = _sample_table(value, read_sample_attributes, "SAMPID", ("SMTSD",), "sample_attributes")
    return strip_tissues(table, "sample_attributes (DataFrame)") if isinstance(value, pd.DataFrame) else table


def prepare_phenotypes(value: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Subject phenotypes from a path or a DataFrame, indexed by SUBJID, with SEX and AGE.

    A DataFrame gets the checks of :func:`read_subject_phenotypes`: its SEX becomes the codes 1 / 2,
    its AGE bands (strings) or years (numbers).
    """
    what = "subject_phenotypes"
    table = _sample_table(value, read_subject_phenotypes, "SUBJID", ("SEX", "AGE"), what)
    if isinstance(value, pd.DataFrame):
        table["SEX"] = sex_codes(table, f"{what} (DataFrame)", from_file=False)
        table["AGE"] = ages(table, f"{what} (DataFrame)", from_file=False)
    return table


def gtex_donor(sample_ids: pd.Index) -> pd.Series | None:
    """Donor = first two dash-separated fields of a GTEx sample id (``GTEX-1117F``), else None.

    An estimated profile as :func:`gex_impute.tl.complete` names it, ``DONOR|TISSUE``
    (``GTEX-1117F|Adipose - Subcutaneous``), gives the part before ``|``.
    """
    parts = sample_ids.astype(str).str.split("|").str[0].str.split("-")
    if len(sample_ids) == 0 or not (parts.str.len() >= 2).all():
        return None
    return pd.Series(parts.str[:2].str.join("-"), index=sample_ids)


def _completed_profiles(samples: pd.Index, known: pd.Index) -> pd.Series:
    """Return the tissue of each estimated profile named ``DONOR|TISSUE`` by ``complete()`` (else NaN)."""
    text = pd.Series(samples.astype(str), index=samples)
    named = text.str.contains("|", regex=False) & ~samples.isin(known)
    return text.str.partition("|")[2].where(named)


def _category(values) -> pd.Categorical:
    return pd.Categorical(np.asarray(values, dtype=object))


def annotate_samples(
    obs: pd.DataFrame,
    attrs: pd.DataFrame | None,
    phenotypes: pd.DataFrame | None,
    attrs_source=None,
    phenotypes_source=None,
) -> pd.DataFrame:
    """Add tissue, tissue_group, donor, sex, age and the tables' other columns to ``obs``."""
    samples = obs.index
    donor = gtex_donor(samples)
    obs = obs.copy()
    if attrs is not None:
        source = "(DataFrame)" if isinstance(attrs_source, pd.DataFrame) else attrs_source
        named = _completed_profiles(samples, attrs.index)  # DONOR|TISSUE rows absent from the table
        unnamed = named.isna().to_numpy()
        missing = samples[~samples.isin(attrs.index) & unnamed]
        if len(missing):
            msg = (
                f"{len(missing)} of {len(samples)} GCT samples are not in the sample-attributes table "
                f"{source} (e.g. {examples(missing, 5)}); the tissue of every sample is needed. Use the "
                "attributes table of the same GTEx release as the GCT file."
            )
            raise InputFileError(msg)
        sub = attrs.reindex(samples)
        sub["SMTSD"] = sub["SMTSD"].where(unnamed, named.to_numpy())
        no_tissue = sub["SMTSD"].isna().to_numpy()
        if no_tissue.any():
            msg = (
                f"{int(no_tissue.sum())} GCT samples have an empty SMTSD (tissue) in the sample-attributes "
                f"table {source} (e.g. {examples(samples[no_tissue], 5)}); fill it or drop those samples."
            )
            raise InputFileError(msg)
        obs["tissue"] = _category(sub["SMTSD"].astype(str))
        if "SMTS" in sub.columns:
            obs["tissue_group"] = _category(sub["SMTS"])
    if donor is not None:
        obs["donor"] = _category(donor)
        cell_line = cell_lines(donor, phenotypes is not None)
    if phenotypes is not None:
        if donor is None:
            msg = (
                "subject_phenotypes needs GTEx-style sample ids whose first two dash-separated fields "
                f"name the donor (GTEX-1117F-0226-SM-5GZZ7); got e.g. {examples(samples, 3)}."
            )
            raise InputFileError(msg)
        source = "(DataFrame)" if isinstance(phenotypes_source, pd.DataFrame) else phenotypes_source
        unknown = pd.Index(donor[~cell_line].unique()).difference(phenotypes.index)
        if len(unknown):
            msg = (
                f"{len(unknown)} donors are not in the subject-phenotypes table {source} (e.g. "
                f"{examples(unknown, 5)}); use the phenotypes table of the same GTEx release."
            )
            raise InputFileError(msg)
        pheno = phenotypes.reindex(donor.to_numpy())  # a cell line (K-562): NaN
        sex = pd.to_numeric(pheno["SEX"], errors="coerce").map(SEX_CODES)
        obs["sex"] = _category(sex)
        obs["age"] = _column(pheno["AGE"])  # bands: categories; years (dbGaP): numbers
        for col in pheno.columns.difference(["SEX", "AGE"], sort=False):
            obs[col] = _column(pheno[col])
    if attrs is not None:
        for col in sub.columns.difference(["SMTS", "SMTSD"], sort=False):
            if col not in obs.columns:
                obs[col] = _column(sub[col])
    return obs


def _column(values: pd.Series):
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy()
    return _category(values)


def _write_table(table: pd.DataFrame, path: str | os.PathLike, columns: tuple[str, ...], what: str) -> Path:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        msg = f"the {what} lacks column(s) {missing}; columns found: {list(table.columns)[:20]}."
        raise DataError(msg)
    bad = [c for c in table.columns if table[c].astype(str).str.contains("[\t\n\r]", regex=True).any()]
    if bad:
        msg = f"columns {bad} of the {what} hold tabs or line breaks, which a GTEx table cannot hold."
        raise DataError(msg)
    # written by hand: GTEx tables are unquoted (free text keeps its quotes), empty cells for missing
    cells = [_cells(table[c]) for c in table.columns]
    lines = ["\t".join(map(str, table.columns))] + ["\t".join(row) for row in zip(*cells, strict=True)]
    return write_text(path, "\n".join(lines) + "\n")


def _cells(values: pd.Series) -> list[str]:
    """Text of each cell: ``str`` of the value (``1.0``, ``678``, ``Whole Blood``), "" if missing."""
    missing = values.isna().to_numpy()
    return ["" if m else str(v) for v, m in zip(values.tolist(), missing, strict=True)]


def write_sample_attributes(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a GTEx sample-attributes table (tab-separated, ``SAMPID`` first), atomically.

    Parameters
    ----------
    table
        One row per sample with at least ``SAMPID``, ``SMTS`` and ``SMTSD`` columns.
    path
        Destination (``.gz`` compresses).

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd
    >>> import gex_impute as gi
    >>> table = pd.DataFrame({"SAMPID": ["GTEX-1-0001-SM-1"], "SMTS": ["Blood"], "SMTSD": ["Whole Blood"]})
    >>> gi.io.write_sample_attributes(table, "attrs.txt")  # doctest: +SKIP
    """
    return _write_table(table, path, ("SAMPID", "SMTS", "SMTSD"), "sample-attributes table")


def write_subject_phenotypes(table: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a GTEx subject-phenotypes table (``SUBJID``, ``SEX``, ``AGE``, ...), atomically.

    Parameters
    ----------
    table
        One row per donor with at least ``SUBJID``, ``SEX`` and ``AGE`` columns.
    path
        Destination (``.gz`` compresses).

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd
    >>> import gex_impute as gi
    >>> table = pd.DataFrame({"SUBJID": ["GTEX-1"], "SEX": [1], "AGE": ["60-69"], "DTHHRDY": [2.0]})
    >>> gi.io.write_subject_phenotypes(table, "pheno.txt")  # doctest: +SKIP
    """
    return _write_table(table, path, ("SUBJID", "SEX", "AGE"), "subject-phenotypes table")
