"""Tab-separated tables read strictly, and genes x tissues expression tables.

Every row must have as many tab-separated fields as the header; a row with a missing or extra
cell is refused with its line number, never padded. The GTEx sample tables built on these
helpers live in :mod:`gex_impute.io.gtex_tables`.
"""

from __future__ import annotations

import io
import logging
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ._text import examples, open_text, write_text

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["read_tissue_table"]

NA_VALUES = ("", "NA", "NaN", "nan", "N/A")
#: gene-table columns of a tissue table that describe genes, not tissues (compared lower-case)
ANNOTATION_COLUMNS = frozenset(
    {"description", "symbol", "gene_symbol", "gene_name", "name", "gene_type", "gene_biotype", "biotype"}
)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_strict_tsv(
    path: str | os.PathLike,
    what: str,
    *,
    index_header_optional: bool = False,
    quoting: int = 3,
    required: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read a TSV whose rows all have the header's number of fields, every cell as a string.

    ``quoting=3`` (``csv.QUOTE_NONE``, GTEx tables hold quotes in free text) or 0 (``QUOTE_MINIMAL``).
    With ``required`` columns, leading ``#`` comment lines (without tabs) and blank lines before
    a header that names them are skipped (dbGaP's tables); ``table.attrs["header_line"]`` is then
    the header's line number (see :func:`line_of`).
    """
    path = Path(path)
    with open_text(path, what) as fh:
        lines = fh.readlines()
    while lines and (not lines[-1] or lines[-1].isspace()):
        lines.pop()
    if not lines:
        msg = f"{path} is empty; pass a tab-separated {what} with a header line."
        raise InputFileError(msg)
    skipped = _preamble(lines, path, what, required)
    lines = lines[skipped:]
    n_header = lines[0].count("\t")
    n_rows = {line.count("\t") for line in lines[1:]}
    if index_header_optional and n_rows == {n_header + 1}:
        lines[0] = "\t" + lines[0]  # R-style header without a name for the row-name column
        n_header += 1
    for k, line in enumerate(lines[1:], start=2 + skipped):
        n_tabs = line.count("\t")
        if n_tabs != n_header:
            msg = (
                f"{path}, line {k}: {n_tabs + 1} tab-separated fields but the header has {n_header + 1}; "
                f"a cell is {'missing' if n_tabs < n_header else 'extra'} (empty cells must keep their tab)."
            )
            raise InputFileError(msg)
    header = [f.strip() for f in lines[0].rstrip("\r\n").split("\t")]
    if quoting != 3:  # quoted names compare without their quotes
        header = [f.strip('"') for f in header]
    repeated = sorted(name for name, n in Counter(f for f in header if f).items() if n > 1)
    if repeated:
        msg = (
            f"{path}, line {skipped + 1}: the column name(s) {repeated} occur more than once in the "
            f"header of the {what}; give every column its own name."
        )
        raise InputFileError(msg)
    try:
        table = pd.read_csv(
            io.StringIO("".join(lines)),
            sep="\t",
            dtype=str,
            keep_default_na=False,
            na_values=list(NA_VALUES),
            quoting=quoting,
            skip_blank_lines=False,
        )
    except (ValueError, pd.errors.ParserError) as err:  # e.g. an unbalanced quote in a quoted table
        msg = f"{path}: cannot parse it as a tab-separated {what} ({err})."
        raise InputFileError(msg) from err
    table.attrs["header_line"] = skipped + 1
    return table


def _preamble(lines: list[str], path: Path, what: str, required: tuple[str, ...]) -> int:
    """Count the leading comment (``#``, no tab) and blank lines before a header naming ``required``."""
    k = 0
    while k < len(lines) and (not lines[k].strip() or (lines[k].startswith("#") and "\t" not in lines[k])):
        k += 1
    if not k or not required:
        return 0
    header = {f.strip() for f in lines[k].rstrip("\r\n").split("\t")} if k < len(lines) else set()
    missing = [c for c in required if c not in header]
    if missing:
        msg = (
            f"{path} starts with {k} comment ('#') or blank lines, and the line after them (line {k + 1}) "
            f"lacks the column(s) {missing} of a {what}; put the header line right after the comments."
        )
        raise InputFileError(msg)
    logger.info("%s: skipped %d comment or blank lines before the header (line %d).", path, k, k + 1)
    return k


def line_of(table: pd.DataFrame, row: int) -> int:
    """Return the line number of data row ``row`` (0-based) of a table read by :func:`read_strict_tsv`."""
    return int(table.attrs.get("header_line", 1)) + row + 1


def index_by(table: pd.DataFrame, column: str, path, what: str) -> pd.DataFrame:
    ids = table[column]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        msg = f"{path}, line {line_of(table, row)}: empty {column}; every row of the {what} needs one."
        raise InputFileError(msg)
    dup = ids.duplicated()
    if dup.any():
        first = line_of(table, int(np.flatnonzero(dup.to_numpy())[0]))
        msg = (
            f"{path}: {int(dup.sum())} {column} values occur more than once (e.g. "
            f"{examples(ids[dup].unique(), 5)}, line {first}); "
            "remove the duplicate rows."
        )
        raise InputFileError(msg)
    return table.set_index(column)


def infer_numbers(table: pd.DataFrame) -> pd.DataFrame:
    """Make numeric the columns whose every non-empty cell is a finite number; others stay strings."""
    out = table.copy()
    for col in out.columns:
        values = pd.to_numeric(out[col], errors="coerce")
        if values.notna().sum() == out[col].notna().sum() and np.isfinite(values[values.notna()]).all():
            out[col] = values
    return out


def to_numbers(cells: pd.Series) -> pd.Series:
    """Parse cells as float64: NaN where empty or not a number; overflowing numbers become +-inf."""
    parsed = pd.to_numeric(cells, errors="coerce")
    retry = parsed.isna() & cells.notna()
    if retry.any():  # pandas gives up on e.g. "-1e400"; Python's float() says -inf
        for key, cell in cells[retry].items():
            try:
                parsed[key] = float(cell)
            except ValueError:
                pass
    return parsed


def read_tissue_table(path: str | os.PathLike, *, sep: str = "\t") -> AnnData:
    """Read a genes x tissues table (one row per gene, one column per tissue) into AnnData.

    Parameters
    ----------
    path
        Text table (plain or gzip) whose first column holds gene ids (its header may be empty or
        absent) and whose other columns hold one tissue each, e.g. ``gtex_tissue_tpm.tsv``.
        Columns named like gene annotation (``Description``, ``symbol``, ``gene_name``, ...), and
        columns without a single number before the first tissue column, go to ``var``; every
        other column must hold numbers (empty or ``NA`` for missing).
    sep
        Field separator (``","`` for CSV, where quoting is honoured).

    Returns
    -------
    AnnData with one observation per tissue (``obs_names`` and ``obs['tissue']`` = the column
    names) and genes in ``var`` (``var_names`` = the gene ids); ``X`` is ``float32``, NaN where
    a cell is empty or NA.

    Raises
    ------
    InputFileError
        A tissue column with a non-numeric or infinite cell (names line, gene and column), a row
        with a missing or extra cell, an empty or repeated gene id, or no tissue column.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_tissue_table("../shared/data/gtex_tissue_tpm.tsv")  # doctest: +SKIP
    >>> adata.obs["tissue"][:3].tolist()  # doctest: +SKIP
    ['Adipose.Tissue', 'Adrenal.Gland', 'Artery']
    """
    from anndata import AnnData

    path = Path(path)
    if sep == "\t":
        table = read_strict_tsv(path, "tissue table", index_header_optional=True, quoting=0)
    else:
        with open_text(path, "tissue table") as fh:
            try:
                table = pd.read_csv(fh, sep=sep, dtype=str, keep_default_na=False, na_values=list(NA_VALUES))
            except (ValueError, pd.errors.ParserError) as err:
                msg = f"{path}: not a {sep!r}-separated table ({err})."
                raise InputFileError(msg) from err
    if table.shape[1] < 2:
        msg = f"{path}: found no tissue columns with sep={sep!r}; pass sep=',' for a CSV file."
        raise InputFileError(msg)
    gene_col = table.columns[0]
    table = index_by(table, gene_col, path, "tissue table")
    numeric: list[str] = []
    other: list[str] = []
    values: dict[str, np.ndarray] = {}
    for col in table.columns:
        cells = table[col]
        parsed = to_numbers(cells)
        bad = parsed.isna() & cells.notna()
        # gene annotation: a known name, or a column without numbers before the first tissue column
        leading_text = not numeric and bad.all() and cells.notna().any()
        if str(col).lower() in ANNOTATION_COLUMNS or leading_text:
            other.append(col)
            continue
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = (
                f"{path}, line {row + 2}: tissue column {col!r} holds the non-numeric value "
                f"{cells.iloc[row]!r} (gene {table.index[row]!r}, row {row + 1}); use empty cells or NA "
                "for missing values."
            )
            raise InputFileError(msg)
        huge = np.abs(parsed.to_numpy(dtype=np.float64)) > _FLOAT32_MAX
        if huge.any():
            row = int(np.flatnonzero(huge)[0])
            msg = (
                f"{path}, line {row + 2}: value {cells.iloc[row]!r} (gene {table.index[row]!r}, tissue "
                f"{col!r}) is infinite or beyond the float32 range; use finite numbers."
            )
            raise InputFileError(msg)
        numeric.append(col)
        values[col] = parsed.to_numpy(dtype=np.float32)
    if not numeric:
        msg = (
            f"{path}: no numeric tissue column found (columns: {list(table.columns)[:10]}); tissue "
            "columns hold numbers, empty cells or NA."
        )
        raise InputFileError(msg)
    if other:
        logger.info("%s: columns %s describe genes and go to var.", path, other)
    X = np.stack([values[c] for c in numeric]) if table.shape[0] else np.zeros((len(numeric), 0), np.float32)
    obs = pd.DataFrame(index=pd.Index([str(c) for c in numeric]))
    obs["tissue"] = pd.Categorical(obs.index.to_numpy())
    var = table[other].copy() if other else pd.DataFrame(index=table.index)
    var.index = var.index.astype(str)
    var.index.name = None
    logger.info("read %d genes x %d tissues from %s", X.shape[1], X.shape[0], path)
    return AnnData(X=X, obs=obs, var=var)


def write_table(table: pd.DataFrame, path: str | os.PathLike, *, index: bool = True) -> Path:
    """Write a tab-separated table (e.g. an evaluation table) atomically.

    Parameters
    ----------
    table
        The table; floats are written with 6 significant digits.
    path
        Output file; its folder is created when needed. A failed write leaves no file.
    index
        Also write the index (e.g. the method names of an evaluation table).

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from gex_impute.io import write_table
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "metrics.tsv"
    >>> _ = write_table(pd.DataFrame({"r": [0.5]}, index=["knn"]), out)
    >>> out.read_text().splitlines()[1].split()
    ['knn', '0.5']
    """
    return write_text(path, table.to_csv(sep="\t", index=index, float_format="%.6g", lineterminator="\n"))
