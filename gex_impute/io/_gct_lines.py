"""The lines of a GCT v1.2 file: its header, and the checks on its gene rows.

:func:`~gex_impute.io.read_gct` parses the matrix in chunks with pandas; this module reads the
three header lines (with a message naming the line and the fix when one is wrong) and wraps the
gene rows in a stream that checks each row's number of cells as the parser reads it.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputFileError
from ._text import examples, open_text

__all__ = ["NA_VALUES"]

#: NaN as other tools write it: C printf (``-nan``), R/Java (``NaN``, ``NAN``), MSVC (``-nan(ind)``,
#: ``1.#QNAN``); all read as missing.
NAN_SPELLINGS = tuple(
    f"{sign}{nan}{suffix}"
    for sign in ("", "-", "+")
    for nan in ("nan", "NaN", "NAN", "Nan")
    for suffix in ("", "(ind)", "(IND)", "(snan)")
) + ("1.#QNAN", "-1.#QNAN", "1.#IND", "-1.#IND")
#: Cells read as missing (NaN).
NA_VALUES = ("", "NA", "N/A", *NAN_SPELLINGS)
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: What the parser reads as a number: digits with an optional point and exponent (no ``1_000``).
_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")
#: A GTEx sample id (``GTEX-1117F-0226-SM-5GZZ7``, ``K-562-SM-26GMQ``) or a profile named by
#: :func:`gex_impute.tl.complete` (``GTEX-1117F|Adipose - Subcutaneous``).
_GTEX_SAMPLE = re.compile(r"^(GTEX-|K-562)")


def is_gtex_sample(name: str) -> bool:
    """Whether a GCT column name is a GTEx sample id (else, e.g., a tissue name)."""
    return bool(_GTEX_SAMPLE.match(name))


def _read_header(fh, path: Path) -> tuple[int, int, list[str], bool]:
    """Read the three header lines; return genes, samples, sample names and whether rows lead with an id.

    A UTF-8 byte-order mark, one trailing tab (Excel exports) and the leading ``id`` column of
    GTEx v8 per-tissue GCTs (``id<TAB>Name<TAB>Description<TAB>...``) are accepted.
    """
    version = fh.readline().rstrip("\r\n").removeprefix("\ufeff")
    if not version:
        msg = f"{path} is empty (no '#1.2' line); pass a GCT v1.2 file such as GTEx's *_gene_tpm.gct.gz."
        raise InputFileError(msg)
    if version.strip() != "#1.2":
        msg = (
            f"{path} is not a GCT v1.2 file: its first line is {version[:40]!r}, expected '#1.2'. "
            "Pass a GTEx GCT file (e.g. *_gene_tpm.gct.gz), or use read_tissue_table for a plain TSV."
        )
        raise InputFileError(msg)
    dims = fh.readline().rstrip("\r\n").split("\t")
    try:
        n_rows, n_cols = (int(x) for x in dims[:2])
    except ValueError:
        n_rows = n_cols = -1
    if len(dims) < 2 or n_rows < 0 or n_cols < 0:
        msg = (
            f"{path}, line 2: {chr(9).join(dims)[:60]!r} should hold the number of genes and of "
            "samples separated by a tab (GCT v1.2), e.g. '56200<TAB>17382'."
        )
        raise InputFileError(msg)
    header = fh.readline().rstrip("\r\n").split("\t")
    id_column = header[:3] == ["id", "Name", "Description"]  # GTEx v8 per-tissue GCTs
    if id_column:
        header = header[1:]
    if len(header) < 2 or header[0] != "Name" or header[1] != "Description":
        msg = (
            f"{path}, line 3: the column header must start with 'Name<TAB>Description' (GCT v1.2), "
            f"found {header[:3]!r}."
        )
        raise InputFileError(msg)
    samples = header[2:]
    if len(samples) == n_cols + 1 and samples[-1] == "":  # a trailing tab (Excel exports)
        samples = samples[:-1]
    if id_column and len(samples) == n_cols - 1:  # the dimensions line counted the id column
        n_cols -= 1
    if len(samples) != n_cols:
        msg = (
            f"{path}: the dimensions line declares {n_cols} samples but the header (line 3) names "
            f"{len(samples)}; the file is truncated or its second line is wrong."
        )
        raise InputFileError(msg)
    index = pd.Index(samples)
    if index.duplicated().any():
        dup = index[index.duplicated()].unique()
        msg = (
            f"{path}, line 3: {len(dup)} sample names occur more than once in the header "
            f"(e.g. {examples(dup, 5)}); sample names must be unique."
        )
        raise InputFileError(msg)
    if "" in samples:
        msg = f"{path}, line 3: sample column {samples.index('') + 3} has an empty name; name every sample."
        raise InputFileError(msg)
    return n_rows, n_cols, samples, id_column


class _RowChecker(io.TextIOBase):
    """A text stream that checks every gene row as the parser reads it.

    pandas pads a row with a missing cell with NaN and splits a row at a stray carriage return;
    this wrapper refuses both (and rows beyond the declared number of genes) with the line
    number, before the parser sees the data. It hands the parser whole lines only, without the
    leading ``id`` cell of GTEx v8 per-tissue GCTs (``id_column``) and without one trailing
    empty cell (a trailing tab, as Excel writes). It also refuses ``True`` / ``False`` cells,
    which the parser would read as 1 and 0 (any case).
    """

    def __init__(
        self,
        fh,
        path: Path,
        samples: list[str],
        n_genes: int,
        first_line: int,
        *,
        id_column: bool = False,
    ) -> None:
        self.fh, self.path, self.samples = fh, path, samples
        self.n_samples, self.n_genes = len(samples), n_genes
        self.id_column = id_column
        self.line_no = first_line - 1
        self.rows = 0
        self.partial = ""
        self.trailing_tabs = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        while True:
            data = self.fh.read(size)
            buf = self.partial + data if self.partial else data
            if not data:  # end of file: the last line may lack its newline
                self.partial = ""
                return self._check(buf) if buf else ""
            cut = buf.rfind("\n") + 1
            self.partial = buf[cut:]
            if cut:  # hand over whole lines only, so that each can be rewritten
                lines = buf[:cut].split("\n")[:-1]
                return "\n".join([self._check(line) for line in lines]) + "\n"

    def _check(self, line: str) -> str:
        self.line_no += 1
        if line in ("", "\r"):
            return line  # blank lines are skipped (by the parser too)
        if self.id_column:
            line = line.partition("\t")[2]
        want = self.n_samples + 1
        n_tabs = line.count("\t")
        if n_tabs == want + 1 and line.rstrip("\r").endswith("\t"):  # one trailing empty cell
            end = "\r" if line.endswith("\r") else ""
            line = line.rstrip("\r")[:-1] + end
            n_tabs = want
            self.trailing_tabs += 1
        if n_tabs != want:
            lead = "id, " if self.id_column else ""
            msg = (
                f"{self.path}, line {self.line_no} (gene {line.split(chr(9), 1)[0][:40]!r}): "
                f"{n_tabs + 1 + self.id_column} tab-separated fields, expected "
                f"{self.n_samples + 2 + self.id_column} ({lead}Name, Description and one value per sample); "
                f"a cell is {'missing' if n_tabs < want else 'extra'}. Empty cells must keep their tab."
            )
            raise InputFileError(msg)
        cr = line.find("\r")
        if cr != -1 and cr != len(line) - 1:
            msg = f"{self.path}, line {self.line_no}: a carriage return inside the row."
            raise InputFileError(msg)
        values = line.find("\t", line.find("\t") + 1) + 1  # the first value cell
        if any(line.find(c, values) != -1 for c in "uUlL"):  # cheap: "true" and "false" hold one
            self._refuse_booleans(line, values)
        self.rows += 1
        if self.rows > self.n_genes:
            msg = (
                f"{self.path}: the dimensions line declares {self.n_genes} genes but the file holds more "
                f"rows (line {self.line_no} is gene row {self.rows}); fix the second line or check that "
                "the file is not corrupted."
            )
            raise InputFileError(msg)
        return line

    def _refuse_booleans(self, line: str, values: int) -> None:
        for j, cell in enumerate(line[values:].rstrip("\r").split("\t")):
            if cell.lower() in ("true", "false"):
                gene = line.split("\t", 1)[0][:40]
                msg = (
                    f"{self.path}, line {self.line_no}: value {cell!r} of gene {gene!r}, "
                    f"sample {self.samples[j]!r} (column {j + 3}) is not a number; use numbers, and empty "
                    "cells or NA for missing values."
                )
                raise InputFileError(msg)


def _gene_rows(path: Path, id_column: bool = False):
    """Yield (line number, fields) of the gene rows, re-reading the file (error paths only).

    The fields start with Name (a leading ``id`` cell is dropped when ``id_column``).
    """
    with open_text(path, "GCT file") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line_no > 3 and line.strip("\r\n"):
                yield line_no, line.rstrip("\r\n").split("\t")[int(id_column) :]


def _bad_cell(
    path: Path, samples: list[str], err: Exception | None = None, id_column: bool = False
) -> InputFileError:
    """Find the first value of the file that is not a finite float32 number and say where it is."""
    na = set(NA_VALUES)
    for line_no, fields in _gene_rows(path, id_column):
        for j, cell in enumerate(fields[2 : 2 + len(samples)]):
            if cell in na:
                continue
            try:
                value = float(cell)
            except ValueError:
                value = None
            if value is not None and math.isnan(value):
                problem = "is a NaN spelling not read as missing; write missing values as NA or NaN"
            elif value is None or ("_" in cell or not (_NUMBER.match(cell) or math.isinf(value))):
                problem = "is not a number; use empty cells or NA for missing values"
            else:
                if abs(value) <= _FLOAT32_MAX:
                    continue
                problem = (
                    "is infinite or beyond the float32 range (+-3.4e38); expression values must be "
                    "finite numbers (empty or NA for missing)"
                )
            msg = (
                f"{path}, line {line_no}: value {cell[:40]!r} of gene {fields[0]!r}, sample "
                f"{samples[j]!r} (column {j + 3}) {problem}."
            )
            return InputFileError(msg)
    msg = f"{path}: could not parse the gene rows ({err})."
    return InputFileError(msg)
