"""Checks of GTEx sample-table values, shared by the file and the DataFrame paths of :mod:`.gtex_tables`.

A table read from a file names its problems by line (``path, line 7``), a DataFrame by id
(``subject_phenotypes (DataFrame), SUBJID 'GTEX-1117F'``); the values accepted are the same.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ._text import check_input_file, examples, open_text
from .tables import line_of

logger = logging.getLogger("gex_impute")

#: "donors" of GTEx samples that come from a cell line, not from a person (SMTSD "Cells - Leukemia
#: cell line (CML)"): their ids start ``K-562``
CELL_LINE_DONORS = ("K-562",)
#: SEX codes of GTEx's SubjectPhenotypesDS table
SEX_CODES = {1: "male", 2: "female"}
#: SEX spellings accepted besides 1 / 2 (compared stripped and lower-case)
SEX_WORDS = {"male": 1, "female": 2, "m": 1, "f": 2}
SEX_ACCEPTED = "1 (male) or 2 (female), male/female or M/F (any case)"
#: a ten-year AGE band of the public SubjectPhenotypesDS table
AGE_BAND = re.compile(r"^\d{2}-\d{2}$")
AGE_ACCEPTED = (
    "a ten-year band such as '60-69' (the public SubjectPhenotypesDS table) or a whole number of "
    "years such as 63 (the controlled-access dbGaP table)"
)


def where(table: pd.DataFrame, row: int, source, from_file: bool) -> str:
    """Name data row ``row`` of ``table``: its line in a file, else its id in a DataFrame."""
    if from_file:
        return f"{source}, line {line_of(table, row)}"
    return f"{source}, {table.index.name or 'id'} {table.index[row]!r}"


def _sex_code(value) -> float | None:
    """1.0 / 2.0 for a known SEX, NaN when empty, None when not a SEX code."""
    if pd.isna(value):
        return np.nan
    text = str(value).strip().lower()
    if not text:
        return np.nan
    if text in SEX_WORDS:
        return float(SEX_WORDS[text])
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number in SEX_CODES else None


def sex_codes(table: pd.DataFrame, source, from_file: bool) -> pd.Series:
    """``SEX`` as the GTEx codes 1.0 (male) / 2.0 (female), NaN where empty; unknown codes refused."""
    values = table["SEX"].tolist()  # Python scalars: messages show 3, not np.int64(3)
    codes = [_sex_code(v) for v in values]
    bad = [c is None for c in codes]
    if any(bad):
        row = bad.index(True)
        unknown = list(dict.fromkeys(v for v, b in zip(values, bad, strict=True) if b))
        msg = (
            f"{where(table, row, source, from_file)}: SEX {values[row]!r} is not {SEX_ACCEPTED}; "
            f"{sum(bad)} rows hold unknown SEX values ({examples(unknown, 5)}). Recode them to "
            "one of these, or leave the cell empty where the sex is unknown."
        )
        raise InputFileError(msg)
    return pd.Series(np.array(codes, dtype=np.float64), index=table.index, name="SEX")


def unique_ids(table: pd.DataFrame, id_column: str, what: str) -> None:
    """Refuse a DataFrame whose ids (its index) repeat, naming them and the fix."""
    dup = table.index.duplicated()
    if dup.any():
        repeated = table.index[dup].unique()
        msg = (
            f"{what} (DataFrame) lists {len(repeated)} {id_column} values more than once (e.g. "
            f"{examples(list(repeated), 5)}); each needs a single row: drop the duplicates, e.g. "
            f"table.drop_duplicates({id_column!r}), keeping the row you want."
        )
        raise InputFileError(msg)


def _age_kind(value) -> str | None:
    """``"band"``, ``"years"``, ``"missing"``, or None when the AGE is neither form."""
    if pd.isna(value):
        return "missing"
    text = str(value).strip()
    if not text:
        return "missing"
    if AGE_BAND.match(text):
        return "band"
    try:
        number = float(text)
    except ValueError:
        return None
    return "years" if math.isfinite(number) and number >= 0 and number == round(number) else None


def ages(table: pd.DataFrame, source, from_file: bool) -> pd.Series:
    """``AGE`` as band strings (``"60-69"``) or as numbers of years; NaN where empty.

    Every AGE of a table must have the same form; anything else is refused with both forms named.
    """
    values = table["AGE"].tolist()
    kinds = [_age_kind(v) for v in values]
    if None in kinds:
        row = kinds.index(None)
        unknown = list(dict.fromkeys(v for v, k in zip(values, kinds, strict=True) if k is None))
        msg = (
            f"{where(table, row, source, from_file)}: AGE {values[row]!r} is neither {AGE_ACCEPTED}; "
            f"{kinds.count(None)} rows hold such AGE values ({examples(unknown, 5)}). Write each AGE in "
            "one of these forms, or leave the cell empty where it is unknown."
        )
        raise InputFileError(msg)
    if "band" in kinds and "years" in kinds:
        row = kinds.index("years")
        msg = (
            f"{where(table, row, source, from_file)}: AGE {values[row]!r} is a number of years, but other "
            f"rows hold ten-year bands (e.g. {values[kinds.index('band')]!r}); use one form throughout: "
            "bands (the public SubjectPhenotypesDS table) or years (the dbGaP table)."
        )
        raise InputFileError(msg)
    missing = np.array([k == "missing" for k in kinds], dtype=bool)
    if "years" in kinds:
        years = pd.to_numeric(pd.Series(values, index=table.index, dtype=object).where(~missing))
        return years.astype(np.float64 if missing.any() else np.int64).rename("AGE")
    text = [np.nan if m else str(v).strip() for v, m in zip(values, missing, strict=True)]
    return pd.Series(text, index=table.index, dtype=object, name="AGE")


def strip_tissues(table: pd.DataFrame, source) -> pd.DataFrame:
    """Strip surrounding white space from ``SMTSD`` / ``SMTS`` ("Lung " is Lung); empty becomes NaN."""
    out = table
    for col in ("SMTSD", "SMTS"):
        if col not in table.columns:
            continue
        values = table[col]
        present = values.notna()
        text = values.astype(object).where(~present, values.astype(str))
        stripped = text.where(~present, text[present].str.strip())
        changed = present & (stripped != text)
        if changed.any():
            logger.info(
                "%s: stripped the surrounding white space of %d %s values (e.g. %s).",
                source,
                int(changed.sum()),
                col,
                examples(list(dict.fromkeys(text[changed].tolist())), 3),
            )
            out = out.copy() if out is table else out
            out[col] = stripped.where(stripped != "", np.nan)
    return out


def cell_lines(donor: pd.Series, with_phenotypes: bool) -> np.ndarray:
    """Flag the samples of a cell line (K-562); log once how many there are and how to drop them."""
    flags = donor.isin(CELL_LINE_DONORS).to_numpy()
    for line in sorted(set(donor[flags])):
        logger.warning(
            "%d samples are of the %s cell line (GTEx's 'Cells - Leukemia cell line (CML)'), not a "
            "donor's tissue; they are kept, with donor %r%s, so methods that use donors see one more "
            "donor. To leave them out: adata = adata[adata.obs['donor'] != %r].copy()",
            int((donor[flags] == line).sum()),
            line,
            line,
            " and no sex or age (no phenotypes table lists a cell line)" if with_phenotypes else "",
            line,
        )
    return flags


_GFF_SUFFIXES = (".gtf", ".gff", ".gff3")
_FASTA_SUFFIXES = (".fa", ".fasta", ".fna")


def _other_kind(path: Path, what: str) -> str | None:
    """Name what ``path`` holds when it is plainly not a GTEx sample table (a GTF, GCT, FASTA)."""
    check_input_file(path, what)  # a missing file is "not found", whatever its name
    name = path.name.lower().removesuffix(".gz").removesuffix(".bgz")
    if name.endswith(_GFF_SUFFIXES):
        return "a GTF/GFF gene annotation"
    if name.endswith(_FASTA_SUFFIXES):
        return "a FASTA genome"
    with open_text(path, what) as fh:
        head = [fh.readline(65536) for _ in range(50)]
    head = [line.rstrip("\r\n") for line in head if line]
    if not head:
        return None
    first = head[0].removeprefix("\ufeff")
    if first.strip() == "#1.2":
        return "a GCT expression matrix"
    if first.startswith(">"):
        return "a FASTA genome"
    if any(line.startswith(("##gff-version", "##format: gtf")) for line in head):
        return "a GTF/GFF gene annotation"
    data = next((line for line in head if line.strip() and not line.startswith("#")), "")
    fields = data.split("\t")
    if len(fields) == 9 and fields[3].isdigit() and fields[4].isdigit() and fields[6] in ("+", "-", "."):
        return "a GTF/GFF gene annotation"
    return None


def refuse_other_file(path: str | os.PathLike, table: str) -> None:
    """Refuse a GTF, GCT or FASTA given as a GTEx sample table (``"attributes"`` / ``"phenotypes"``)."""
    path = Path(path)
    if table == "attributes":
        what, expected, columns, arg = (
            "sample-attributes table",
            "GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt",
            "SAMPID and SMTSD",
            "sample_attributes (CLI: --sample-attributes)",
        )
    else:
        what, expected, columns, arg = (
            "subject-phenotypes table",
            "GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt",
            "SUBJID, SEX and AGE",
            "subject_phenotypes (CLI: --subject-phenotypes)",
        )
    kind = _other_kind(path, what)
    if kind:
        msg = (
            f"{path} looks like {kind}, not a GTEx {what}; pass {expected} (a tab-separated table "
            f"with {columns} columns) as {arg}."
        )
        raise InputFileError(msg)
