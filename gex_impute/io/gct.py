"""GTEx GCT v1.2 expression matrices (plain or gzip): :func:`read_gct` and :func:`write_gct`.

A GCT v1.2 file is a ``#1.2`` line, a ``<n_genes><TAB><n_samples>`` line, a header
``Name<TAB>Description<TAB><sample ids...>`` and one row per gene: its name, a description and
one value per sample (GTEx: ``*_gene_tpm.gct.gz``, genes x samples, TPM).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import InputFileError, ParameterError
from ._gct_lines import NA_VALUES, _bad_cell, _gene_rows, _read_header, _RowChecker, is_gtex_sample
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
        cell per sample. Empty cells, ``NA`` and the spellings of NaN (``NaN``, ``nan``,
        ``-nan``, ``NAN``, ``-nan(ind)``, ...) are read as missing (NaN). Also accepted: a UTF-8
        byte-order mark, one trailing tab at the end of lines (Excel exports) and the leading
        ``id`` column of GTEx v8 per-tissue files (``id<TAB>Name<TAB>Description<TAB>...``,
        dropped).
    sample_attributes
        GTEx sample-attributes table (``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt``;
        path, or DataFrame with ``SAMPID`` as a column or index) with ``SMTSD`` and usually
        ``SMTS``. Every sample of the GCT must be listed in it; other rows are ignored. Surrounding
        white space of SMTSD / SMTS values is stripped (``"Lung "`` is Lung).
    subject_phenotypes
        GTEx subject phenotypes (``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``: SUBJID,
        SEX, AGE, DTHHRDY; path, or DataFrame with ``SUBJID`` as a column or index), matched to
        each sample's donor. A path and a DataFrame get the same checks
        (:func:`~gex_impute.io.read_subject_phenotypes`): SEX is 1/2, male/female or M/F (any case).
    chunksize
        Genes parsed per chunk; None chooses about two million matrix cells per chunk, and
        between 500 and 20,000 genes.

    Returns
    -------
    AnnData with ``X`` (``float32``, samples x genes), ``var_names`` = ``Name``,
    ``var['symbol']`` = ``Description``. A GCT whose columns are not GTEx sample ids (no name
    starts with ``GTEX-``; e.g. GTEx's ``*_gene_median_tpm.gct.gz``, genes x tissues) read
    without ``sample_attributes`` and ``subject_phenotypes`` is a genes x tissues table, as
    :func:`~gex_impute.io.read_tissue_table` reads one: one observation per column, with
    ``obs['tissue']`` = the column name. When every sample id has at least two dash-separated
    fields (GTEX-1117F-0226-SM-5GZZ7), ``obs['donor']`` = the first two
    fields (``GTEX-1117F``); with GTEx ids and tissues known, tissue and donor columns are
    registered (:func:`gex_impute.pp.register_keys`), so that every tool uses the donors
    unless told not to (``donor_key=False``). With ``sample_attributes``: ``obs['tissue']`` = ``SMTSD`` (e.g.
    "Brain - Cortex"), ``obs['tissue_group']`` = ``SMTS`` (e.g. "Brain"), plus the table's other
    columns. With ``subject_phenotypes``: ``obs['sex']`` ("male"/"female"),
    ``obs['age']`` (the AGE band, e.g. "60-69", a category; or, from the controlled-access
    dbGaP table, the age in whole years, numbers) and the table's other columns (``DTHHRDY``).

    Samples of GTEx's K-562 cell line (ids ``K-562-...``, SMTSD "Cells - Leukemia cell line
    (CML)") are not a donor's tissue; they are kept, with ``obs['donor']`` = ``"K-562"`` (the
    methods need a donor for every sample), and with ``subject_phenotypes`` they get no sex or
    age (NaN) instead of stopping the read. A warning says how many there are; to leave them
    out: ``adata = adata[adata.obs["donor"] != "K-562"].copy()``.

    Raises
    ------
    InputFileError
        On a file that is not GCT v1.2 text, a truncated or corrupt gzip stream, a row with a
        missing or extra cell (names the line), a non-numeric (``True`` / ``False`` included) or
        infinite value (names line, gene and sample), a dimensions line that does not match the
        data, samples missing from ``sample_attributes``, an id repeated in a table (a file or a
        DataFrame) or a SEX of unknown spelling.

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
        n_genes, n_samples, samples, id_column = _read_header(fh, path)
        obs = _sample_table(path, samples, attrs is None and phenotypes is None)
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
        checker = _RowChecker(fh, path, samples, n_genes, first_line=4, id_column=id_column)
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
                        raise _bad_cell(path, samples, id_column=id_column)
                    X[:, row : row + len(chunk)] = values.T
                    names.extend(chunk[0].tolist())
                    symbols.extend(chunk[1].tolist())
                    row += len(chunk)
        except InputFileError:
            raise
        except (ValueError, pd.errors.ParserError) as err:  # a word where a number belongs
            if isinstance(err, UnicodeDecodeError):
                raise
            raise _bad_cell(path, samples, err, id_column) from err
    if row != n_genes or checker.rows != row:
        msg = (
            f"{path}: the dimensions line declares {n_genes} genes but the file holds {checker.rows}; the "
            "file is truncated or its second line is wrong."
        )
        raise InputFileError(msg)
    if pd.isna(names).any() or pd.isna(symbols).any():  # "NA" or "" as a name: keep it as written
        fields = [f[:2] for _, f in _gene_rows(path, id_column)]
        names, symbols = [f[0] for f in fields], [f[1] for f in fields]
    if checker.trailing_tabs:
        logger.info("%s: ignored the trailing tab of %d gene rows.", path, checker.trailing_tabs)
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
    adata = AnnData(X=X, obs=obs, var=var)
    if {"tissue", "donor"} <= set(obs.columns) and all(is_gtex_sample(s) for s in samples):
        # GTEx ids name their donor: every tool uses the donors unless told not to (donor_key=False)
        from .._data_keys import register_keys

        register_keys(adata, tissue_key="tissue", donor_key="donor")
    return adata


def _sample_table(path: Path, samples: list[str], no_tables: bool) -> pd.DataFrame:
    """Make the ``obs`` of a GCT's columns: tissues when they are not GTEx samples and no table is given."""
    obs = pd.DataFrame(index=pd.Index(samples, name=None))
    if not no_tables or not samples:
        return obs
    if not any(is_gtex_sample(s) for s in samples):
        logger.info(
            "%s: the columns are not GTEx sample ids (e.g. %s); read as a genes x tissues table, one "
            "tissue per column.",
            path,
            examples(samples, 3),
        )
        obs["tissue"] = pd.Categorical(obs.index.to_numpy())
    else:
        logger.warning(
            "%s holds GTEx samples but no sample attributes were given, so their tissues are unknown; "
            "pass sample_attributes= (CLI: --sample-attributes) with GTEx's SampleAttributesDS table.",
            path,
        )
    return obs


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
    The path written. Values are written losslessly, in as few digits as read back exactly:
    6 significant digits (``%.6g``) where they suffice, else 9 for a ``float32`` matrix and the
    shortest exact text (up to 17 digits) for ``float64`` (``2015152``, ``0.1``, ``123456.789``),
    so :func:`read_gct` gives back the same ``float32`` values; missing values are ``nan``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> gi.io.write_gct(adata, "expression.gct.gz")  # doctest: +SKIP
    """
    from scipy import sparse

    matrix = adata.X if layer is None else adata.layers[layer]
    dtype = np.dtype(np.float32 if matrix.dtype.kind == "f" and matrix.dtype.itemsize <= 4 else np.float64)

    def block(j0: int, j1: int) -> np.ndarray:
        part = matrix[:, j0:j1]
        part = part.toarray() if sparse.issparse(part) else np.asarray(part)
        return part.astype(dtype, copy=False)

    keep = np.ones(adata.n_obs, dtype=bool)
    if drop_missing_samples:
        keep[:] = False
        for j0 in range(0, adata.n_vars, block_genes):
            keep |= ~np.isnan(block(j0, j0 + block_genes)).all(axis=1)
    names = _first_column(adata.var, (name_key,) if name_key else (), adata.var_names)
    descs = _first_column(adata.var, (description_key, "symbol") if description_key else (), adata.var_names)
    row_format = "\t".join(["%.6g"] * int(keep.sum()))  # "%g" writes NaN as "nan"
    path = Path(path)
    with open_text_write(path, compress=compress, compresslevel=compresslevel) as fh:
        fh.write(f"#1.2\n{adata.n_vars}\t{int(keep.sum())}\n")
        fh.write("\t".join(["Name", "Description", *adata.obs_names[keep].astype(str)]) + "\n")
        for j0 in range(0, adata.n_vars, block_genes):
            values = block(j0, j0 + block_genes)[keep].T
            fh.writelines(
                f"{names[j0 + k]}\t{descs[j0 + k]}\t" + _exact_row(row, row_format) + "\n"
                for k, row in enumerate(values)
            )
    return path


def _exact_row(row: np.ndarray, row_format: str) -> str:
    """Write the values of ``row`` as tab-separated text that reads back to the same values of its dtype.

    Each cell is written with ``%.6g`` where that reads back exactly, else with ``%.9g`` (float32,
    always exact) or the shortest exact text (float64, ``repr``).
    """
    text = row_format % tuple(row.tolist())
    if not len(row):
        return text
    cells = text.split("\t")
    lost = np.flatnonzero((np.array(cells, dtype=np.float64).astype(row.dtype) != row) & ~np.isnan(row))
    if not len(lost):
        return text
    values = row[lost].tolist()
    if row.dtype == np.float32:
        exact = ("\t".join(["%.9g"] * len(values)) % tuple(values)).split("\t")
    else:
        exact = [repr(v) for v in values]
    for j, cell in zip(lost.tolist(), exact, strict=True):
        cells[j] = cell
    return "\t".join(cells)
