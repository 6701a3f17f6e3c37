"""Which values of a matrix are the package's own estimates, so that they are never read as data.

A completed AnnData (:func:`gex_impute.tl.complete`) holds measured and estimated values side by
side in ``X``; a user may also copy :func:`gex_impute.tl.impute`'s layer into ``X``. Reading
``X`` of such data, nothing may be learned from an estimate nor scored against one. The marks:

- ``uns[key]`` of a complete() run with its ``layers[key + '_mask']``;
  deleting that layer is the way to use the estimates as data;
- without that record (``ad.concat`` drops ``uns`` by default): every boolean
  ``layers['*_mask']`` (complete's and impute's) and ``obs['imputed_profile']`` (complete's
  rows), which travel with the rows.

Part of the data contract of :mod:`gex_impute._data`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._data_matrix import dense

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["PROFILE_COLUMN", "estimated_values"]

#: ``obs`` column :func:`gex_impute.tl.complete` writes: True for an estimated donor x tissue profile
PROFILE_COLUMN = "imputed_profile"


def estimated_values(adata: AnnData, layer: str | None) -> tuple[str, np.ndarray] | None:
    """Return where the matrix read (``X`` only) holds the package's estimates, and what says so.

    Returns ``(the marks used, e.g. "layers['completed_mask']", boolean mask of adata's shape)``,
    or None: another layer, or no mark.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> from gex_impute._data_estimates import estimated_values
    >>> a = ad.AnnData(np.ones((3, 2)), obs=pd.DataFrame({"imputed_profile": [False, True, False]}))
    >>> where, mask = estimated_values(a, None)
    >>> where, mask.sum(axis=1).tolist()
    ("obs['imputed_profile']", [0, 2, 0])
    """
    if layer not in (None, "X"):
        return None
    records = [
        k for k, v in getattr(adata, "uns", {}).items() if isinstance(v, dict) and "n_estimated_profiles" in v
    ]
    for key in records:  # a complete() record names its mask
        name = f"{key}_mask"
        if name in adata.layers and tuple(adata.layers[name].shape) == tuple(adata.shape):
            return f"layers[{name!r}]", dense(adata.layers[name], dtype=bool)
    if records:  # the record without its mask: deleted, the documented way to use the estimates as data
        return None
    # the data's shape in booleans only where a mark is found: most data carry none
    marks, mask = [], None
    for name in adata.layers.keys():
        matrix = adata.layers[name]
        if name.endswith("_mask") and np.dtype(getattr(matrix, "dtype", object)) == np.bool_:
            if tuple(matrix.shape) == tuple(adata.shape):
                found = dense(matrix, dtype=bool)
                mask = found if mask is None else mask | found
                marks.append(f"layers[{name!r}]")
    rows = adata.obs.get(PROFILE_COLUMN)
    estimated = rows.eq(True).to_numpy() if rows is not None and _boolean(rows) else None
    if estimated is not None and estimated.any():
        mask = np.zeros(adata.shape, dtype=bool) if mask is None else mask
        mask[estimated] = True
        marks.append(f"obs[{PROFILE_COLUMN!r}]")
    return None if mask is None else (", ".join(marks), mask)


def _boolean(column: pd.Series) -> bool:
    """Whether ``column`` holds only True / False (and missing values: an outer ``ad.concat``)."""
    if pd.api.types.is_bool_dtype(column):
        return True
    values = column.dropna()
    return len(values) > 0 and values.map(lambda v: isinstance(v, bool | np.bool_)).all()
