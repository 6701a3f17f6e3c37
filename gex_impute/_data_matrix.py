"""The expression matrix as stored in an AnnData: the one densification path, sample blocks, fingerprint.

:func:`input_matrix` finds ``X`` or the layer (dense, sparse or backed), :func:`dense` turns it
(or a block of it) into a new dense array, :func:`input_rows` reads samples in the input's
units, samples x genes, and :func:`fingerprint` hashes the values and names. Part of the data
contract of :mod:`gex_impute._data`, which re-exports every name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from .errors import DataError, KeyNotFoundError

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

    from ._data_keys import Orientation

__all__ = ["dense", "fingerprint", "input_matrix", "input_rows", "output_dtype", "sample_annotation"]


def input_matrix(adata: AnnData, layer: str | None):
    """Return ``X`` (``layer`` None) or ``adata.layers[layer]`` as stored (dense, sparse or backed)."""
    if layer is not None and layer not in adata.layers:
        msg = f"layer {layer!r} not found; available layers: {list(adata.layers.keys())}"
        raise KeyNotFoundError(msg)
    matrix = adata.X if layer is None else adata.layers[layer]
    if matrix is None:
        msg = "adata.X is empty; pass layer= naming the layer that holds the expression values."
        raise DataError(msg)
    dtype = np.dtype(getattr(matrix, "dtype", np.float64))
    if dtype.kind in "USVMmc":  # text, bytes, records, dates, complex: not expression values
        where = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
        msg = (
            f"{where} holds {dtype} values, not real numbers; expression values must be numeric "
            f"(NaN = missing): convert them (e.g. {where} = {where}.astype('float64')) or pass layer= "
            "naming the layer with the values."
        )
        raise DataError(msg)
    return matrix


def output_dtype(matrix) -> np.dtype:
    """Return the dtype results are written in: the input's floating dtype, else ``float64``.

    ``float16`` input gets ``float32`` results: an estimate past 65,504 (or a bound of one)
    would be ``inf`` in ``float16``.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute._data import output_dtype
    >>> [str(output_dtype(np.zeros(1, t))) for t in (np.float32, np.float16, np.int64)]
    ['float32', 'float32', 'float64']
    """
    dtype = np.dtype(getattr(matrix, "dtype", np.float64))
    if dtype == np.float16:
        return np.dtype(np.float32)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def dense(matrix, dtype: np.dtype | type = np.float64, *, rows=None, cols=None) -> np.ndarray:
    """Densify ``matrix`` (or the block ``rows`` x ``cols`` of it) into a new ``dtype`` array.

    The only densification path of the package: a sparse matrix's explicit zeros stay observed
    zeros (only a stored NaN is missing), a backed dataset is read, a dense array is copied
    (never a view of the input).
    """
    if rows is not None or cols is not None:
        return _dense_block(matrix, dtype, rows, cols)
    if _sparse_chunks(matrix):  # anndata's lazy sparse X: a dask array of scipy chunks
        matrix = matrix.compute()
    elif hasattr(matrix, "to_memory"):  # anndata backed sparse dataset
        matrix = matrix.to_memory()
    if sparse.issparse(matrix):
        return np.ascontiguousarray(matrix.toarray(), dtype=dtype)  # csc.toarray() is F-ordered
    try:
        # row-major whatever the input's order (AnnData(M.T) is F-ordered): callers grow it by rows
        return np.array(matrix, dtype=dtype, copy=True, order="C")
    except (TypeError, ValueError) as err:  # an object matrix holding text or None
        msg = (
            f"the expression matrix ({getattr(matrix, 'dtype', type(matrix).__name__)}) cannot be read "
            f"as numbers ({err}); store the values as floats, with NaN for missing entries."
        )
        raise DataError(msg) from err


def _sparse_chunks(matrix) -> bool:
    """Whether ``matrix`` is a dask array whose chunks are scipy sparse matrices."""
    return hasattr(matrix, "dask") and sparse.issparse(getattr(matrix, "_meta", None))


def _dense_block(matrix, dtype, rows, cols) -> np.ndarray:
    # h5py (backed) datasets need sorted, unique fancy indices: read those, then reorder
    def plan(idx):
        if idx is None or isinstance(idx, slice):
            return idx, None
        idx = np.asarray(idx)
        if idx.dtype == bool:
            return np.flatnonzero(idx), None
        unique, inverse = np.unique(idx, return_inverse=True)
        return unique, None if np.array_equal(unique, idx) else inverse

    rows, row_order = plan(rows)
    cols, col_order = plan(cols)
    if rows is not None:
        matrix = matrix[rows]
    if cols is not None:
        matrix = matrix[:, cols]
    out = dense(matrix, dtype)
    if row_order is not None:
        out = out[row_order]
    if col_order is not None:
        out = out[:, col_order]
    return out


def sample_annotation(adata: AnnData, orientation: Orientation) -> pd.DataFrame:
    """Return the samples' annotation table (``obs``, or ``var`` for genes x samples data)."""
    return adata.obs if orientation == "samples_x_genes" else adata.var


def input_rows(
    adata: AnnData, idx: np.ndarray | slice, *, layer: str | None, orientation: Orientation, dtype: Any = None
) -> np.ndarray:
    """Return the samples at positions ``idx`` in the input's units, samples x genes, as a new array."""
    matrix = input_matrix(adata, layer)
    dtype = output_dtype(matrix) if dtype is None else dtype
    if orientation == "samples_x_genes":
        return dense(matrix, dtype, rows=idx)
    return np.ascontiguousarray(dense(matrix, dtype, cols=idx).T)


def fingerprint(
    adata: AnnData, *, layer: str | None, orientation: Orientation, chunk_rows: int = 1024
) -> str:
    """Return a SHA-256 fingerprint of the expression values and the sample and gene names.

    The values are hashed as ``float64`` samples x genes (so both orientations, and ``float32``
    or sparse storage of the same numbers, give the same fingerprint; every NaN counts alike),
    a block of samples at a time.

    Examples
    --------
    >>> from gex_impute._data_matrix import fingerprint
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> a = fingerprint(adata, layer=None, orientation="samples_x_genes")
    >>> a == fingerprint(adata.T, layer=None, orientation="genes_x_samples")
    True
    """
    import hashlib

    samples = sample_annotation(adata, orientation)
    genes = adata.var if orientation == "samples_x_genes" else adata.obs
    digest = hashlib.sha256()
    digest.update(f"{len(samples)}x{len(genes)}\n".encode())
    for names in (samples.index, genes.index):
        digest.update("\x1f".join(map(str, names)).encode())
        digest.update(b"\x1e")
    for start in range(0, len(samples), chunk_rows):
        rows = slice(start, min(start + chunk_rows, len(samples)))
        block = input_rows(adata, rows, layer=layer, orientation=orientation, dtype=np.float64)
        block[np.isnan(block)] = np.nan  # one NaN bit pattern
        digest.update(np.ascontiguousarray(block).tobytes())
    return digest.hexdigest()
