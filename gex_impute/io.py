"""Readers and writers: GTEx GCT (+ sample attributes), genes x tissues tables, h5ad.

All readers return AnnData with samples in ``obs`` (a ``tissue`` column) and genes in ``var``.
"""

from __future__ import annotations

import gzip
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = [
    "read_expression",
    "read_gct",
    "read_h5ad",
    "read_sample_attributes",
    "read_tissue_table",
    "write_h5ad",
]

#: Target number of matrix cells parsed per chunk by :func:`read_gct` when ``chunksize`` is None.
_CELLS_PER_CHUNK = 2_000_000


def _open_text(path: str | os.PathLike):
    """Open a plain or gzip-compressed text file (detected by its magic bytes, not its suffix)."""
    path = Path(path)
    if not path.exists():
        msg = f"file not found: {path}"
        raise FileNotFoundError(msg)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _examples(items: Sequence, n: int = 10) -> str:
    items = list(items)
    shown = ", ".join(repr(x) for x in items[:n])
    return shown + (", ..." if len(items) > n else "")


def _gtex_donor(sample_ids: pd.Index) -> pd.Series | None:
    """Donor = first two dash-separated fields of a GTEx sample id (``GTEX-1117F``), else None."""
    parts = sample_ids.astype(str).str.split("-")
    if not (parts.str.len() >= 2).all():
        return None
    return pd.Series(parts.str[:2].str.join("-"), index=sample_ids)


def read_sample_attributes(path: str | os.PathLike) -> pd.DataFrame:
    """Read a GTEx sample-attributes table (TSV with ``SAMPID``, ``SMTS``, ``SMTSD``, ...).

    Parameters
    ----------
    path
        The table, e.g. ``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt`` (plain or gzip).

    Returns
    -------
    The table indexed by ``SAMPID``, other columns as read.

    Examples
    --------
    >>> import gex_impute as gi
    >>> attrs = gi.io.read_sample_attributes("test-data/sample_attributes.tsv")  # doctest: +SKIP
    >>> attrs["SMTSD"].head()  # doctest: +SKIP
    """
    with _open_text(path) as fh:
        table = pd.read_csv(fh, sep="\t", low_memory=False)
    missing = [c for c in ("SAMPID", "SMTSD") if c not in table.columns]
    if missing:
        msg = (
            f"sample-attributes table {path} lacks column(s) {missing} (columns found: "
            f"{list(table.columns)[:20]}); pass the GTEx SampleAttributesDS table, a TSV with "
            "SAMPID, SMTS and SMTSD columns."
        )
        raise ValueError(msg)
    table["SAMPID"] = table["SAMPID"].astype(str)
    dup = table["SAMPID"].duplicated()
    if dup.any():
        msg = (
            f"sample-attributes table {path} lists {int(dup.sum())} SAMPID more than once "
            f"(e.g. {_examples(table.loc[dup, 'SAMPID'].unique(), 5)}); remove the duplicate rows."
        )
        raise ValueError(msg)
    return table.set_index("SAMPID")


def _read_gct_header(fh, path) -> tuple[int, int, list[str]]:
    version = fh.readline().rstrip("\r\n")
    if version.strip() != "#1.2":
        msg = (
            f"{path} is not a GCT v1.2 file: its first line is {version[:40]!r}, expected '#1.2'. "
            "Pass a GTEx GCT file (e.g. *_gene_tpm.gct.gz), or use read_tissue_table for a plain TSV."
        )
        raise ValueError(msg)
    dims = fh.readline().rstrip("\r\n").split("\t")
    try:
        n_rows, n_cols = (int(x) for x in dims[:2])
    except ValueError:
        n_rows = n_cols = None
    if len(dims) < 2 or n_rows is None or n_rows < 0 or n_cols < 0:
        msg = (
            f"{path}: second line {chr(9).join(dims)[:60]!r} should hold the number of genes and "
            "of samples separated by a tab (GCT v1.2)."
        )
        raise ValueError(msg)
    header = fh.readline().rstrip("\r\n").split("\t")
    if len(header) < 2 or header[0] != "Name" or header[1] != "Description":
        msg = (
            f"{path}: the column header must start with 'Name<TAB>Description' (GCT v1.2), "
            f"found {header[:3]!r}."
        )
        raise ValueError(msg)
    samples = header[2:]
    if len(samples) != n_cols:
        msg = (
            f"{path}: the dimensions line declares {n_cols} samples but the header names "
            f"{len(samples)}; the file is truncated or its second line is wrong."
        )
        raise ValueError(msg)
    dup = pd.Index(samples).duplicated()
    if dup.any():
        msg = (
            f"{path}: {int(dup.sum())} sample names occur more than once in the header "
            f"(e.g. {_examples(pd.Index(samples)[dup].unique(), 5)}); sample names must be unique."
        )
        raise ValueError(msg)
    return n_rows, n_cols, samples


def read_gct(
    path: str | os.PathLike,
    sample_attributes: str | os.PathLike | pd.DataFrame | None = None,
    *,
    chunksize: int | None = None,
) -> AnnData:
    """Read a GTEx GCT v1.2 expression matrix (plain or gzip) into a samples x genes AnnData.

    The file is parsed in chunks of genes that are written into one preallocated ``float32``
    samples x genes array, so reading a 17k x 56k GTEx matrix needs little more memory than
    the matrix itself (about 3.8 GB) instead of several full copies.

    Parameters
    ----------
    path
        GCT v1.2 file: a ``#1.2`` line, a ``<n_genes><TAB><n_samples>`` line, a header
        ``Name<TAB>Description<TAB><sample ids...>``, then one row per gene. Empty cells and
        ``NA``/``NaN`` are read as missing (NaN).
    sample_attributes
        GTEx sample-attributes table (path or DataFrame with ``SAMPID`` as a column or index,
        ``SMTSD`` and usually ``SMTS``). Every sample of the GCT must be listed in it.
    chunksize
        Genes parsed per chunk; None chooses about two million matrix cells per chunk.

    Returns
    -------
    AnnData with ``X`` (``float32``, samples x genes), ``var_names`` = ``Name``,
    ``var['symbol']`` = ``Description``. When every sample id has at least two dash-separated
    fields (GTEx ids such as ``GTEX-1117F-0226-SM-5GZZ7``), ``obs['donor']`` = the first two
    fields (``GTEX-1117F``). With ``sample_attributes``: ``obs['tissue']`` = ``SMTSD`` (detailed
    tissue, e.g. "Brain - Cortex"), ``obs['tissue_group']`` = ``SMTS`` (e.g. "Brain"), plus the
    table's other columns.

    Raises
    ------
    ValueError
        On a malformed header, a dimensions line that does not match the data, non-numeric
        values, or samples missing from ``sample_attributes``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_gct(
    ...     "test-data/expression.gct.gz", sample_attributes="test-data/sample_attributes.tsv"
    ... )  # doctest: +SKIP
    >>> adata.obs[["tissue", "donor"]].head()  # doctest: +SKIP
    """
    from anndata import AnnData

    path = Path(path)
    attrs = None
    if sample_attributes is not None:
        # read (and validate) the small table first: fail before parsing a multi-GB matrix
        attrs = _prepare_attributes(sample_attributes)
    with _open_text(path) as fh:
        n_genes, n_samples, samples = _read_gct_header(fh, path)
        if attrs is not None:
            _check_attributes_cover(attrs, samples, sample_attributes)
        if chunksize is None:
            chunksize = max(1, _CELLS_PER_CHUNK // max(n_samples, 1))
        if chunksize < 1:
            msg = f"chunksize must be a positive number of genes, got {chunksize}"
            raise ValueError(msg)
        X = np.empty((n_samples, n_genes), dtype=np.float32)
        names: list[str] = []
        symbols: list[str] = []
        dtypes = {0: str, 1: str} | {j: np.float32 for j in range(2, n_samples + 2)}
        reader = pd.read_csv(
            fh,
            sep="\t",
            header=None,
            names=range(n_samples + 2),
            dtype=dtypes,
            chunksize=chunksize,
            keep_default_na=False,
            na_values=["", "NA", "NaN", "nan", "N/A"],
            engine="c",
            quoting=3,  # csv.QUOTE_NONE: GCT has no quoting
        )
        row = 0
        try:
            for chunk in reader:
                n = len(chunk)
                if row + n > n_genes:
                    msg = (
                        f"{path}: the dimensions line declares {n_genes} genes but the file holds "
                        f"more rows; fix the second line or check that the file is not corrupted."
                    )
                    raise ValueError(msg)
                X[:, row : row + n] = chunk.iloc[:, 2:].to_numpy(dtype=np.float32).T
                names.extend(chunk[0].astype(str))
                symbols.extend(chunk[1].fillna("").astype(str))
                row += n
        except (ValueError, pd.errors.ParserError) as err:
            if str(err).startswith(str(path)):
                raise
            msg = (
                f"{path}: could not parse the gene rows after the first {row} ({err}). Each row "
                f"must hold a gene name, a description and {n_samples} numeric values "
                "(empty or NA for missing)."
            )
            raise ValueError(msg) from err
    if row != n_genes:
        msg = (
            f"{path}: the dimensions line declares {n_genes} genes but the file holds {row}; "
            "the file is truncated or its second line is wrong."
        )
        raise ValueError(msg)

    var = pd.DataFrame({"symbol": symbols}, index=pd.Index(names, name=None))
    if var.index.duplicated().any():
        dup = var.index[var.index.duplicated()].unique()
        logger.warning(
            "%s: %d gene names occur more than once (e.g. %s); they are made unique with suffixes.",
            path,
            len(dup),
            _examples(dup, 5),
        )
        from anndata.utils import make_index_unique

        var.index = make_index_unique(var.index)
    obs = pd.DataFrame(index=pd.Index(samples, name=None))
    donor = _gtex_donor(obs.index)
    if attrs is not None:
        sub = attrs.loc[samples]
        obs["tissue"] = pd.Categorical(sub["SMTSD"].astype(str).to_numpy())
        if "SMTS" in sub.columns:
            obs["tissue_group"] = pd.Categorical(sub["SMTS"].astype(str).to_numpy())
        for col in sub.columns:
            values = sub[col].to_numpy()
            obs[col] = pd.Categorical(values) if sub[col].dtype == object else values
    if donor is not None:
        obs["donor"] = pd.Categorical(donor.to_numpy())
    logger.info("read %d samples x %d genes from %s", n_samples, n_genes, path)
    return AnnData(X=X, obs=obs, var=var)


def _prepare_attributes(sample_attributes) -> pd.DataFrame:
    if isinstance(sample_attributes, pd.DataFrame):
        table = sample_attributes
        if "SAMPID" in table.columns:
            table = table.set_index("SAMPID")
        if "SMTSD" not in table.columns:
            msg = (
                "sample_attributes lacks an SMTSD column (columns found: "
                f"{list(table.columns)[:20]}); pass the GTEx SampleAttributesDS table."
            )
            raise ValueError(msg)
        table = table.copy()
        table.index = table.index.astype(str)
        return table
    return read_sample_attributes(sample_attributes)


def _check_attributes_cover(attrs: pd.DataFrame, samples: list[str], source) -> None:
    index = pd.Index(samples)
    missing = index[~index.isin(attrs.index)]
    if len(missing):
        msg = (
            f"{len(missing)} of {len(samples)} GCT samples are not in the sample-attributes table "
            f"{source if not isinstance(source, pd.DataFrame) else '(DataFrame)'} (e.g. "
            f"{_examples(missing, 5)}); the tissue of every sample is needed. Use the attributes "
            "table of the same GTEx release as the GCT file."
        )
        raise ValueError(msg)
    no_tissue = attrs.loc[samples, "SMTSD"].isna()
    if no_tissue.any():
        msg = (
            f"{int(no_tissue.sum())} GCT samples have an empty SMTSD (tissue) in the sample-attributes "
            f"table (e.g. {_examples(index[no_tissue.to_numpy()], 5)}); fill it or drop those samples."
        )
        raise ValueError(msg)


def read_tissue_table(path: str | os.PathLike, *, sep: str = "\t") -> AnnData:
    """Read a genes x tissues table (one row per gene, one column per tissue) into AnnData.

    Parameters
    ----------
    path
        Text table (plain or gzip) whose first column holds gene ids (its header may be empty)
        and whose other columns hold one tissue each, e.g. ``gtex_tissue_tpm.tsv``.
        Non-numeric extra columns (such as a gene symbol) go to ``var``.
    sep
        Field separator.

    Returns
    -------
    AnnData with one observation per tissue (``obs_names`` and ``obs['tissue']`` = the column
    names) and genes in ``var`` (``var_names`` = the gene ids); ``X`` is ``float32``, NaN where
    a cell is empty or NA.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_tissue_table("../shared/data/gtex_tissue_tpm.tsv")  # doctest: +SKIP
    >>> adata.obs["tissue"][:3].tolist()  # doctest: +SKIP
    ['Adipose.Tissue', 'Adrenal.Gland', 'Artery']
    """
    from anndata import AnnData

    path = Path(path)
    with _open_text(path) as fh:
        table = pd.read_csv(fh, sep=sep, index_col=0, low_memory=False)
    if table.shape[1] == 0:
        msg = f"{path}: found no tissue columns with sep={sep!r}; pass sep=',' for a CSV file."
        raise ValueError(msg)
    table.index = table.index.astype(str)
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    other = [c for c in table.columns if c not in numeric]
    if not numeric:
        msg = (
            f"{path}: no numeric tissue column found (columns: {list(table.columns)[:10]}); "
            "non-numeric cells in a tissue column must be empty or NA."
        )
        raise ValueError(msg)
    for col in other:
        # a tissue column with a stray word would land here: say which
        coerced = pd.to_numeric(table[col], errors="coerce")
        if coerced.notna().mean() > 0.9:
            bad = table[col][coerced.isna() & table[col].notna()]
            msg = (
                f"{path}: tissue column {col!r} holds non-numeric values (e.g. "
                f"{_examples(bad.unique(), 5)} in row {bad.index[0]!r}); use empty cells or NA for "
                "missing values."
            )
            raise ValueError(msg)
    if table.index.duplicated().any():
        dup = table.index[table.index.duplicated()].unique()
        msg = f"{path}: {len(dup)} gene ids occur more than once (e.g. {_examples(dup, 5)})."
        raise ValueError(msg)
    X = table[numeric].to_numpy(dtype=np.float32).T.copy()
    obs = pd.DataFrame(index=pd.Index([str(c) for c in numeric]))
    obs["tissue"] = pd.Categorical(obs.index.to_numpy())
    var = table[other].copy() if other else pd.DataFrame(index=table.index)
    var.index.name = None
    logger.info("read %d genes x %d tissues from %s", X.shape[1], X.shape[0], path)
    return AnnData(X=X, obs=obs, var=var)


def read_h5ad(path: str | os.PathLike, **kwargs) -> AnnData:
    """Read an ``.h5ad`` file (thin wrapper of :func:`anndata.read_h5ad`).

    Parameters
    ----------
    path
        The file.
    **kwargs
        Passed to :func:`anndata.read_h5ad`.

    Returns
    -------
    The AnnData.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_h5ad("test-data/sim.h5ad")  # doctest: +SKIP
    """
    import anndata

    path = Path(path)
    if not path.exists():
        msg = f"file not found: {path}"
        raise FileNotFoundError(msg)
    return anndata.read_h5ad(path, **kwargs)


def write_h5ad(adata: AnnData, path: str | os.PathLike, *, compression: str | None = "gzip") -> None:
    """Write ``adata`` to ``path`` atomically: a failed write leaves no partial file.

    Parameters
    ----------
    adata
        The AnnData.
    path
        Destination ``.h5ad`` file (parent folders are created).
    compression
        HDF5 compression of the matrices (``"gzip"``, ``"lzf"`` or None).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_genes=100)  # doctest: +SKIP
    >>> gi.io.write_h5ad(adata, "sim.h5ad")  # doctest: +SKIP
    """
    from ._utils import atomic_path

    with atomic_path(path, suffix=".h5ad") as tmp:
        adata.write_h5ad(tmp, compression=compression)


_TABLE_SUFFIXES = (".tsv", ".txt", ".tab", ".csv")


def read_expression(
    path: str | os.PathLike,
    *,
    sample_attributes: str | os.PathLike | pd.DataFrame | None = None,
) -> AnnData:
    """Read expression data, choosing the reader from the file name.

    ``.h5ad`` -> :func:`read_h5ad`; ``.gct`` / ``.gct.gz`` -> :func:`read_gct`;
    ``.tsv`` / ``.txt`` / ``.tab`` / ``.csv`` (optionally ``.gz``) -> :func:`read_tissue_table`.
    A file with another name is read as GCT when it starts with ``#1.2``.

    Parameters
    ----------
    path
        The file.
    sample_attributes
        GTEx sample-attributes table, for GCT input only.

    Returns
    -------
    Samples x genes AnnData.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_expression("test-data/sim.h5ad")  # doctest: +SKIP
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith(".h5ad"):
        kind = "h5ad"
    elif name.endswith(".gct"):
        kind = "gct"
    elif name.endswith(_TABLE_SUFFIXES):
        kind = "table"
    else:
        with _open_text(path) as fh:
            first = fh.readline().strip()
        if first == "#1.2":
            kind = "gct"
        else:
            msg = (
                f"cannot tell the format of {path} from its name; use a .h5ad, .gct(.gz) or "
                ".tsv(.gz) file name."
            )
            raise ValueError(msg)
    if sample_attributes is not None and kind != "gct":
        msg = f"sample_attributes applies to GCT input only, but {path} is read as {kind}."
        raise ValueError(msg)
    if kind == "h5ad":
        return read_h5ad(path)
    if kind == "gct":
        return read_gct(path, sample_attributes)
    return read_tissue_table(path, sep="," if name.endswith(".csv") else "\t")
