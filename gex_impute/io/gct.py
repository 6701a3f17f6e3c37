"""GTEx GCT v1.2 expression matrices (plain or gzip): :func:`read_gct` and :func:`write_gct`.

A GCT v1.2 file is a ``#1.2`` line, a ``<n_genes><TAB><n_samples>`` line, a header
``Name<TAB>Description<TAB><sample ids...>`` and one row per gene: its name, a description and
one value per sample (GTEx: ``*_gene_tpm.gct.gz``, genes x samples, TPM).
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._errors import InputFileError, ParameterError
from ._text import examples, open_text, open_text_write

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["read_gct", "write_gct"]

#: Target number of matrix cells parsed per chunk by :func:`read_gct` when ``chunksize`` is None.
CELLS_PER_CHUNK = 2_000_000
#: Bounds of the genes parsed per chunk: the parser pays a fixed cost per column and chunk, so wide
#: files (GTEx: 17,382 samples) need enough rows per chunk to amortise it.
CHUNK_GENES = (500, 20_000)
#: Cells read as missing (NaN).
NA_VALUES = ("", "NA", "NaN", "nan", "N/A")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _read_header(fh, path: Path) -> tuple[int, int, list[str]]:
    version = fh.readline().rstrip("\r\n")
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
    if len(header) < 2 or header[0] != "Name" or header[1] != "Description":
        msg = (
            f"{path}, line 3: the column header must start with 'Name<TAB>Description' (GCT v1.2), "
            f"found {header[:3]!r}."
        )
        raise InputFileError(msg)
    samples = header[2:]
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
    return n_rows, n_cols, samples


class _RowChecker(io.TextIOBase):
    """A text stream that checks every gene row as the parser reads it.

    pandas pads a row with a missing cell with NaN and splits a row at a stray carriage return;
    this wrapper refuses both (and rows beyond the declared number of genes) with the line
    number, before the parser sees the data.
    """

    def __init__(self, fh, path: Path, n_samples: int, n_genes: int, first_line: int) -> None:
        self.fh, self.path = fh, path
        self.n_samples, self.n_genes = n_samples, n_genes
        self.line_no = first_line - 1
        self.rows = 0
        self.partial = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        data = self.fh.read(size)
        buf = self.partial + data if self.partial else data
        if data:
            cut = buf.rfind("\n") + 1
            self.partial = buf[cut:]
            lines = buf[:cut].split("\n")[:-1]
        else:  # end of file: the last line may lack its newline
            self.partial = ""
            lines = [buf] if buf else []
        for line in lines:
            self._check(line)
        return data

    def _check(self, line: str) -> None:
        self.line_no += 1
        if line in ("", "\r"):
            return  # blank lines are skipped (by the parser too)
        want = self.n_samples + 1
        n_tabs = line.count("\t")
        if n_tabs != want:
            msg = (
                f"{self.path}, line {self.line_no} (gene {line.split(chr(9), 1)[0][:40]!r}): {n_tabs + 1} "
                f"tab-separated fields, expected {self.n_samples + 2} (Name, Description and one value "
                f"per sample); a cell is {'missing' if n_tabs < want else 'extra'}. Empty cells must keep "
                "their tab."
            )
            raise InputFileError(msg)
        cr = line.find("\r")
        if cr != -1 and cr != len(line) - 1:
            msg = f"{self.path}, line {self.line_no}: a carriage return inside the row."
            raise InputFileError(msg)
        self.rows += 1
        if self.rows > self.n_genes:
            msg = (
                f"{self.path}: the dimensions line declares {self.n_genes} genes but the file holds more "
                f"rows (line {self.line_no} is gene row {self.rows}); fix the second line or check that "
                "the file is not corrupted."
            )
            raise InputFileError(msg)


def _gene_rows(path: Path):
    """Yield (line number, fields) of the gene rows, re-reading the file (error paths only)."""
    with open_text(path, "GCT file") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line_no > 3 and line.strip("\r\n"):
                yield line_no, line.rstrip("\r\n").split("\t")


def _bad_cell(path: Path, samples: list[str], err: Exception | None = None) -> InputFileError:
    """Find the first value of the file that is not a finite float32 number and say where it is."""
    na = set(NA_VALUES)
    for line_no, fields in _gene_rows(path):
        for j, cell in enumerate(fields[2:]):
            if cell in na:
                continue
            try:
                value = float(cell)
            except ValueError:
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


def read_gct(
    path: str | os.PathLike,
    sample_attributes: str | os.PathLike | pd.DataFrame | None = None,
    *,
    subject_phenotypes: str | os.PathLike | pd.DataFrame | None = None,
    chunksize: int | None = None,
) -> AnnData:
    """Read a GTEx GCT v1.2 expression matrix (plain or gzip) into a samples x genes AnnData.

    The file is parsed in chunks of genes written into one preallocated ``float32`` samples x
    genes array, so reading a 17k x 56k GTEx matrix needs little more memory than the matrix
    itself (about 3.8 GB) instead of several full copies.

    Parameters
    ----------
    path
        GCT v1.2 file: a ``#1.2`` line, a ``<n_genes><TAB><n_samples>`` line, a header
        ``Name<TAB>Description<TAB><sample ids...>``, then one row per gene with exactly one
        cell per sample. Empty cells and ``NA``/``NaN`` are read as missing (NaN).
    sample_attributes
        GTEx sample-attributes table (``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt``;
        path, or DataFrame with ``SAMPID`` as a column or index) with ``SMTSD`` and usually
        ``SMTS``. Every sample of the GCT must be listed in it; other rows are ignored.
    subject_phenotypes
        GTEx subject phenotypes (``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``: SUBJID,
        SEX, AGE, DTHHRDY), matched to each sample's donor.
    chunksize
        Genes parsed per chunk; None chooses about two million matrix cells per chunk, and
        between 500 and 20,000 genes.

    Returns
    -------
    AnnData with ``X`` (``float32``, samples x genes), ``var_names`` = ``Name``,
    ``var['symbol']`` = ``Description``. When every sample id has at least two dash-separated
    fields (GTEx ids such as ``GTEX-1117F-0226-SM-5GZZ7``), ``obs['donor']`` = the first two
    fields (``GTEX-1117F``). With ``sample_attributes``: ``obs['tissue']`` = ``SMTSD`` (e.g.
    "Brain - Cortex"), ``obs['tissue_group']`` = ``SMTS`` (e.g. "Brain"), plus the table's other
    columns. With ``subject_phenotypes``: ``obs['sex']`` ("male"/"female" from SEX 1/2),
    ``obs['age']`` (the AGE band, e.g. "60-69") and the table's other columns (``DTHHRDY``).

    Raises
    ------
    InputFileError
        On a file that is not GCT v1.2 text, a truncated or corrupt gzip stream, a row with a
        missing or extra cell (names the line), a non-numeric or infinite value (names line, gene
        and sample), a dimensions line that does not match the data, or samples missing from
        ``sample_attributes``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_gct(
    ...     "test-data/expression.gct.gz", sample_attributes="test-data/sample_attributes.tsv"
    ... )  # doctest: +SKIP
    >>> adata.obs[["tissue", "donor"]].head()  # doctest: +SKIP
    """
    from anndata import AnnData

    from .gtex_tables import annotate_samples, prepare_phenotypes, prepare_sample_attributes

    path = Path(path)
    if chunksize is not None and (isinstance(chunksize, bool) or int(chunksize) < 1):
        msg = f"chunksize must be a positive number of genes, got {chunksize!r}."
        raise ParameterError(msg)
    # read (and validate) the small tables first: fail before parsing a multi-GB matrix
    attrs = None if sample_attributes is None else prepare_sample_attributes(sample_attributes)
    phenotypes = None if subject_phenotypes is None else prepare_phenotypes(subject_phenotypes)
    with open_text(path, "GCT file") as fh:
        n_genes, n_samples, samples = _read_header(fh, path)
        obs = pd.DataFrame(index=pd.Index(samples, name=None))
        obs = annotate_samples(obs, attrs, phenotypes, sample_attributes, subject_phenotypes)
        if chunksize is None:
            chunksize = int(np.clip(CELLS_PER_CHUNK // max(n_samples, 1), *CHUNK_GENES))
        try:
            X = np.empty((n_samples, n_genes), dtype=np.float32)
        except (MemoryError, ValueError) as err:
            msg = (
                f"{path}: the dimensions line declares {n_genes} genes x {n_samples} samples, which do "
                "not fit in memory; check the second line of the file."
            )
            raise InputFileError(msg) from err
        names: list[str] = []
        symbols: list[str] = []
        row = 0
        checker = _RowChecker(fh, path, n_samples, n_genes, first_line=4)
        reader = pd.read_csv(
            checker,
            sep="\t",
            header=None,
            names=range(n_samples + 2),
            dtype={0: str, 1: str} | dict.fromkeys(range(2, n_samples + 2), np.float32),
            keep_default_na=False,
            na_values=list(NA_VALUES),
            engine="c",
            quoting=3,  # csv.QUOTE_NONE: GCT has no quoting
            chunksize=chunksize,
        )
        try:
            with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused below
                for chunk in reader:
                    values = chunk.iloc[:, 2:].to_numpy(dtype=np.float32)
                    if np.isinf(values).any():  # "inf", "-1e400", or beyond the float32 range
                        raise _bad_cell(path, samples)
                    X[:, row : row + len(chunk)] = values.T
                    names.extend(chunk[0].tolist())
                    symbols.extend(chunk[1].tolist())
                    row += len(chunk)
        except InputFileError:
            raise
        except (ValueError, pd.errors.ParserError) as err:  # a word where a number belongs
            if isinstance(err, UnicodeDecodeError):
                raise
            raise _bad_cell(path, samples, err) from err
    if row != n_genes or checker.rows != row:
        msg = (
            f"{path}: the dimensions line declares {n_genes} genes but the file holds {checker.rows}; the "
            "file is truncated or its second line is wrong."
        )
        raise InputFileError(msg)
    if pd.isna(names).any() or pd.isna(symbols).any():  # "NA" or "" as a name: keep it as written
        fields = [f[:2] for _, f in _gene_rows(path)]
        names, symbols = [f[0] for f in fields], [f[1] for f in fields]
    var = pd.DataFrame({"symbol": symbols}, index=pd.Index(names, name=None))
    if var.index.duplicated().any():
        dup = var.index[var.index.duplicated()].unique()
        logger.warning(
            "%s: %d gene names occur more than once (e.g. %s); they are made unique with suffixes.",
            path,
            len(dup),
            examples(dup, 5),
        )
        from anndata.utils import make_index_unique

        var.index = make_index_unique(var.index)
    logger.info("read %d samples x %d genes from %s", n_samples, n_genes, path)
    return AnnData(X=X, obs=obs, var=var)


def _first_column(var: pd.DataFrame, keys: tuple[str, ...], default: pd.Index) -> np.ndarray:
    for key in keys:
        if key in var.columns:
            return var[key].astype(str).to_numpy()
    return default.astype(str).to_numpy()


def write_gct(
    adata: AnnData,
    path: str | os.PathLike,
    *,
    layer: str | None = None,
    name_key: str | None = "gene_id_version",
    description_key: str | None = "gene_name",
    drop_missing_samples: bool = True,
    compress: bool | None = None,
    compresslevel: int = 6,
    block_genes: int = 512,
) -> Path:
    """Write a samples x genes AnnData as a GCT v1.2 file (genes x samples), atomically.

    Parameters
    ----------
    adata
        Samples in ``obs``, genes in ``var``.
    path
        Destination; ``.gz`` gives a gzip file (reproducible bytes: no time stamp in the header).
    layer
        Layer to write; ``X`` when None.
    name_key
        ``var`` column for ``Name`` (GTEx: the versioned Ensembl id); ``var_names`` when None or
        absent.
    description_key
        ``var`` column for ``Description`` (GTEx: the gene symbol); falls back to ``symbol``, then
        ``var_names``.
    drop_missing_samples
        Leave out samples whose values are all missing (GTEx lists only samples with RNA-seq).
    compress
        gzip the output; None decides from the ``.gz`` suffix.
    compresslevel
        gzip level, 1 (fastest; about 8x faster than 6 on TPM text) to 9 (smallest).
    block_genes
        Genes converted to text at a time (memory stays at one block).

    Returns
    -------
    The path written. Values use 6 significant digits (``%.6g``); missing values are ``nan``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> gi.io.write_gct(adata, "expression.gct.gz")  # doctest: +SKIP
    """
    from scipy import sparse

    matrix = adata.X if layer is None else adata.layers[layer]

    def block(j0: int, j1: int) -> np.ndarray:
        part = matrix[:, j0:j1]
        part = part.toarray() if sparse.issparse(part) else np.asarray(part)
        return part.astype(np.float64, copy=False)

    keep = np.ones(adata.n_obs, dtype=bool)
    if drop_missing_samples:
        keep[:] = False
        for j0 in range(0, adata.n_vars, block_genes):
            keep |= ~np.isnan(block(j0, j0 + block_genes)).all(axis=1)
    names = _first_column(adata.var, (name_key,) if name_key else (), adata.var_names)
    descs = _first_column(adata.var, (description_key, "symbol") if description_key else (), adata.var_names)
    row_format = "\t".join(["%.6g"] * int(keep.sum())) + "\n"  # "%g" writes NaN as "nan"
    path = Path(path)
    with open_text_write(path, compress=compress, compresslevel=compresslevel) as fh:
        fh.write(f"#1.2\n{adata.n_vars}\t{int(keep.sum())}\n")
        fh.write("\t".join(["Name", "Description", *adata.obs_names[keep].astype(str)]) + "\n")
        for j0 in range(0, adata.n_vars, block_genes):
            values = block(j0, j0 + block_genes)[keep].T
            fh.writelines(
                f"{names[j0 + k]}\t{descs[j0 + k]}\t" + row_format % tuple(row.tolist())
                for k, row in enumerate(values)
            )
    return path
