"""The one entry point that reads any expression file into AnnData, sniffing its format."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from ..errors import InputFileError, ParameterError
from ._text import file_kind, first_line, gzip_content_kind

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["read_expression", "sniff_expression_format"]

ExpressionFormat = Literal["h5ad", "zarr", "gct", "table"]
_TABLE_SUFFIXES = (".tsv", ".txt", ".tab", ".csv")


def sniff_expression_format(path: str | os.PathLike) -> ExpressionFormat:
    """Tell an expression file's format from its content first, then from its name.

    HDF5 content -> ``"h5ad"``; a folder with zarr metadata -> ``"zarr"``; text (plain or gzip)
    whose first line is ``#1.2`` -> ``"gct"``; a name ending in ``.h5ad`` / ``.gct`` -> that
    format (its reader then says what is wrong with the content); ``.tsv`` / ``.txt`` / ``.tab``
    / ``.csv`` (optionally ``.gz``) -> ``"table"`` (genes x tissues).

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    InputFileError
        For an empty file, a zip archive, another binary format, or text of unknown kind.

    Examples
    --------
    >>> from gex_impute.io import sniff_expression_format
    >>> sniff_expression_format("test-data/expression.gct.gz")  # doctest: +SKIP
    'gct'
    """
    path = Path(path)
    if not path.exists():
        msg = f"input file not found: {path}; check the path."
        raise FileNotFoundError(msg)
    name = path.name.lower().removesuffix(".gz")
    kind = file_kind(path)
    if kind == "directory":
        if any((path / n).exists() for n in ("zarr.json", ".zgroup", ".zattrs")):
            return "zarr"
        msg = f"{path} is a folder, not an expression file (h5ad, GCT, TSV) nor a zarr store."
        raise InputFileError(msg)
    if kind == "hdf5" or (kind == "gzip" and gzip_content_kind(path) == "hdf5"):
        return "h5ad"  # a gzip-compressed .h5ad: read_h5ad says to decompress it
    if kind == "empty":
        msg = f"{path} is empty (0 bytes); pass an .h5ad, a GTEx GCT (.gct/.gct.gz) or a genes x tissues TSV."
        raise InputFileError(msg)
    if kind in ("zip", "binary"):
        msg = (
            f"{path} is a {'zip archive' if kind == 'zip' else 'binary file'}, not an expression file; "
            "pass an .h5ad, a GTEx GCT (.gct/.gct.gz) or a genes x tissues TSV."
        )
        raise InputFileError(msg)
    if first_line(path).removeprefix("\ufeff").strip() == "#1.2":
        return "gct"
    if name.endswith(".h5ad"):
        return "h5ad"
    if name.endswith(".gct"):
        return "gct"
    if name.endswith(_TABLE_SUFFIXES):
        return "table"
    msg = (
        f"cannot tell the format of {path}: it is not HDF5 (.h5ad), does not start with '#1.2' (GCT) and "
        "its name does not end in .h5ad, .gct(.gz) or .tsv/.txt/.csv(.gz)."
    )
    raise InputFileError(msg)


def read_expression(
    path: str | os.PathLike,
    *,
    sample_attributes: str | os.PathLike | pd.DataFrame | None = None,
    subject_phenotypes: str | os.PathLike | pd.DataFrame | None = None,
) -> AnnData:
    """Read expression data of any supported format into a samples x genes AnnData.

    The format is sniffed by :func:`sniff_expression_format` (content first, then name):
    ``.h5ad`` -> :func:`~gex_impute.io.read_h5ad`; a zarr store -> :func:`~gex_impute.io.read_zarr`;
    GTEx GCT v1.2 (plain or gzip) -> :func:`~gex_impute.io.read_gct`; a genes x tissues table
    (``.tsv``/``.txt``/``.tab``/``.csv``, optionally gzip) -> :func:`~gex_impute.io.read_tissue_table`.

    Parameters
    ----------
    path
        The file (or zarr folder).
    sample_attributes
        GTEx sample-attributes table (``GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt``);
        GCT input only. Gives ``obs['tissue']`` (SMTSD) and ``obs['tissue_group']`` (SMTS).
    subject_phenotypes
        GTEx subject phenotypes (``GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt``); GCT
        input only. Gives ``obs['sex']`` and ``obs['age']`` per donor.

    Returns
    -------
    Samples x genes AnnData (a tissue table gives one observation per tissue).

    Raises
    ------
    FileNotFoundError
        When a file does not exist.
    InputFileError
        When a file cannot be read (unknown format, corrupt, truncated, malformed; the message
        names the file, and the line where it applies).
    ParameterError
        When ``sample_attributes`` / ``subject_phenotypes`` are given for input other than GCT.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.io.read_expression("test-data/sim.h5ad")  # doctest: +SKIP
    >>> gtex = gi.io.read_expression(
    ...     "GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz",
    ...     sample_attributes="GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt",
    ...     subject_phenotypes="GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt",
    ... )  # doctest: +SKIP
    >>> gtex.obs[["tissue", "tissue_group", "donor", "sex", "age"]].head()  # doctest: +SKIP
    """
    from .gct import read_gct
    from .h5ad import read_h5ad, read_zarr
    from .tables import read_tissue_table

    path = Path(path)
    fmt = sniff_expression_format(path)
    extra = [
        n
        for n, v in (("sample_attributes", sample_attributes), ("subject_phenotypes", subject_phenotypes))
        if v is not None
    ]
    if extra and fmt != "gct":
        msg = (
            f"{' and '.join(extra)} apply to GCT input only, but {path} is read as {fmt}; drop them or "
            "pass the GTEx GCT file."
        )
        raise ParameterError(msg)
    if fmt == "h5ad":
        adata = read_h5ad(path)
    elif fmt == "zarr":
        adata = read_zarr(path)
    elif fmt == "gct":
        adata = read_gct(path, sample_attributes, subject_phenotypes=subject_phenotypes)
    else:
        sep = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
        adata = read_tissue_table(path, sep=sep)
    if adata.n_obs == 0 or adata.n_vars == 0:
        msg = f"{path} holds no data ({adata.n_obs} samples x {adata.n_vars} genes)."
        raise InputFileError(msg)
    logger.info("read %s (%s): %d x %d", path, fmt, adata.n_obs, adata.n_vars)
    return adata
