"""Tab-separated tables read strictly, and genes x tissues expression tables.

Every row must have as many tab-separated fields as the header; a row with a missing or extra
cell is refused with its line number, never padded. The GTEx sample tables built on these
helpers live in :mod:`gex_impute.io.gtex_tables`.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ..errors import InputFileError, ParameterError
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
#: a :mod:`csv` quoting mode (3: ``csv.QUOTE_NONE``, 0: ``csv.QUOTE_MINIMAL``)
Quoting = Literal[0, 1, 2, 3]


_SEPARATORS = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}


def _sep_name(sep: str) -> str:
    return _SEPARATORS.get(sep, repr(sep))


def _drop_trailing_field(lines: list[str], path: Path, sep: str) -> list[str]:
    """Drop one empty trailing field when every line has one (a spreadsheet export's trailing tab)."""
    bodies = [line.rstrip("\r\n") for line in lines]
    if not all(body.endswith(sep) for body in bodies):
        return lines
    logger.info("%s: every line ends with an empty field (a trailing %s); dropped it.", path, _sep_name(sep))
    return [line[: len(body) - 1] + line[len(body) :] for line, body in zip(lines, bodies, strict=True)]


def _split(lines: list[str], sep: str, quoting: Quoting) -> list[tuple[int, list[str]]]:
    """Each record's 0-based first line and its fields; quote-aware except for TSV and ``QUOTE_NONE``."""
    if sep == "\t" or quoting == csv.QUOTE_NONE:
        return [(k, line.rstrip("\r\n").split(sep)) for k, line in enumerate(lines)]
    records, reader, start = [], csv.reader(lines, delimiter=sep, quoting=quoting), 0
    for row in reader:
        records.append((start, row or [""]))  # a blank line is one empty field, as for TSV
        start = reader.line_num
    return records


def _check_separator(header: str, path: Path, line_no: int, sep: str) -> None:
    """Refuse a header without ``sep`` that holds another separator (a ``;`` CSV, a TSV named .csv)."""
    if sep in header:
        return
    found = [(header.count(s), s) for s in _SEPARATORS if s != sep and s in header]
    if not found:
        return
    count, other = max(found)
    msg = (
        f"{path}, line {line_no}: the header holds no {_sep_name(sep)} but {count} {_sep_name(other)}(s), "
        f"so the file looks {_sep_name(other)}-separated, not {_sep_name(sep)}-separated; save it as a "
        f"tab-separated .tsv (or a comma-separated .csv with decimal points), or read it with "
        f"gex_impute.io.read_tissue_table(path, sep={other!r})."
    )
    raise InputFileError(msg)


def read_strict_tsv(
    path: str | os.PathLike,
    what: str,
    *,
    index_header_optional: bool = False,
    quoting: Quoting = 3,
    required: tuple[str, ...] = (),
    sep: str = "\t",
    check_separator: bool = False,
) -> pd.DataFrame:
    """Read a TSV (or ``sep``-separated table) whose rows all have the header's number of fields.

    Every cell is read as a string. ``quoting=3`` (``csv.QUOTE_NONE``, GTEx tables hold quotes in
    free text) or 0 (``QUOTE_MINIMAL``; fields of a non-tab table are then counted quote-aware).
    With ``required`` columns, leading ``#`` comment lines (without ``sep``) and blank lines
    before a header that names them are skipped (dbGaP's tables); ``table.attrs["header_line"]``
    is then the header's line number (see :func:`line_of`). When every line, the header
    included, ends with one empty field (a trailing tab), that field is dropped (logged).
    Header names are stripped of surrounding white space. ``index_header_optional``: a header
    with one field fewer than every row names all but the first (row-name) column, as R writes
    it. ``check_separator``: refuse a header without ``sep`` that holds another separator.
    """
    path = Path(path)
    sep_name = _sep_name(sep)
    with open_text(path, what) as fh:
        lines = fh.readlines()
    while lines and (not lines[-1] or lines[-1].isspace()):
        lines.pop()
    if not lines:
        msg = f"{path} is empty; pass a {sep_name}-separated {what} with a header line."
        raise InputFileError(msg)
    skipped = _preamble(lines, path, what, required, sep)
    lines = _drop_trailing_field(lines[skipped:], path, sep)
    if check_separator:
        _check_separator(lines[0], path, skipped + 1, sep)
    records = _split(lines, sep, quoting)
    header = records[0][1]
    n_rows = {len(fields) for _, fields in records[1:]}
    if index_header_optional and n_rows == {len(header) + 1}:
        lines[0] = sep + lines[0]  # R-style header without a name for the row-name column
        header = ["", *header]
    for k, fields in records[1:]:
        if len(fields) != len(header):
            msg = (
                f"{path}, line {k + 1 + skipped}: {len(fields)} {sep_name}-separated fields but the header "
                f"has {len(header)}; a cell is {'missing' if len(fields) < len(header) else 'extra'} (empty "
                f"cells must keep their {sep_name})."
            )
            raise InputFileError(msg)
    header = [f.strip() for f in header]
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
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_values=list(NA_VALUES),
            quoting=quoting,
            skip_blank_lines=False,
        )
    except (ValueError, pd.errors.ParserError) as err:  # e.g. an unbalanced quote in a quoted table
        msg = f"{path}: cannot parse it as a {sep_name}-separated {what} ({err})."
        raise InputFileError(msg) from err
    table.columns = pd.Index([str(c).strip() for c in table.columns])  # "SAMPID " is SAMPID
    table.attrs["header_line"] = skipped + 1
    return table


def _preamble(lines: list[str], path: Path, what: str, required: tuple[str, ...], sep: str = "\t") -> int:
    """Count the leading comment (``#``, no ``sep``) and blank lines before a header naming ``required``."""
    k = 0
    while k < len(lines) and (not lines[k].strip() or (lines[k].startswith("#") and sep not in lines[k])):
        k += 1
    if not k or not required:
        return 0
    header = {f.strip() for f in lines[k].rstrip("\r\n").split(sep)} if k < len(lines) else set()
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
        Field separator (``","`` for CSV). Every separator is read as strictly as a TSV: quoted
        fields are honoured, a header without the row-name column's name is accepted, and one
        empty trailing field on every line (a spreadsheet's trailing tab) is dropped.

    Returns
    -------
    AnnData with one observation per tissue (``obs_names`` and ``obs['tissue']`` = the column
    names) and genes in ``var`` (``var_names`` = the gene ids); ``X`` is ``float32``, NaN where
    a cell is empty or NA.

    Raises
    ------
    InputFileError
        A tissue column with a non-numeric or infinite cell (names line, gene and column), a row
        with a missing or extra cell, a repeated column name, an empty or repeated gene id, no
        tissue column, or a header that holds another separator than ``sep`` (a ``;`` CSV).
    ParameterError
        When ``sep`` is not a single character.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_tissue_table("../shared/data/gtex_tissue_tpm.tsv")  # doctest: +SKIP
    >>> adata.obs["tissue"][:3].tolist()  # doctest: +SKIP
    ['Adipose.Tissue', 'Adrenal.Gland', 'Artery']
    """
    from anndata import AnnData

    path = Path(path)
    if not isinstance(sep, str) or len(sep) != 1 or sep in '"\r\n':
        msg = f"sep must be one character such as '\\t' or ',' (not a quote or newline), got {sep!r}."
        raise ParameterError(msg)
    table = read_strict_tsv(
        path,
        "tissue table",
        index_header_optional=True,
        quoting=csv.QUOTE_MINIMAL,
        sep=sep,
        check_separator=True,
    )
    if table.shape[1] < 2:
        msg = (
            f"{path}: found a single column; a tissue table has a gene id column and one column per "
            f"tissue, separated by {_sep_name(sep)}s."
        )
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
    """Write a table (e.g. an evaluation table) atomically: CSV for a ``.csv`` name, else TSV.

    Parameters
    ----------
    table
        The table; floats are written with 6 significant digits.
    path
        Output file; its folder is created when needed. A failed write leaves no file. The
        separator follows the suffix: a comma for ``.csv`` or ``.csv.gz`` (in any case), a tab
        for any other name (``.tsv``, ``.txt``, ...). A ``.gz`` name (any case) is gzip-compressed.
    index
        Also write the index (e.g. the method names of an evaluation table).

    Returns
    -------
    The path written.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from gex_impute.io import write_table
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> table = pd.DataFrame({"r": [0.5]}, index=["knn"])
    >>> _ = write_table(table, folder / "metrics.tsv")
    >>> (folder / "metrics.tsv").read_text().splitlines()[1].split()  # tab-separated
    ['knn', '0.5']
    >>> _ = write_table(table, folder / "metrics.csv")
    >>> (folder / "metrics.csv").read_text().splitlines()[1]
    'knn,0.5'
    """
    name = str(path).lower()
    sep = "," if name.endswith((".csv", ".csv.gz")) else "\t"
    text = table.to_csv(sep=sep, index=index, float_format="%.6g", lineterminator="\n")
    return write_text(path, text, compress=name.endswith(".gz"))
