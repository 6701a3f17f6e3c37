"""The internal data contract: an expression matrix in a fixed orientation, on the model scale.

Every method, :func:`gex_impute.tl.impute`, :func:`gex_impute.tl.complete`,
:func:`gex_impute.tl.evaluate` and the CLI read an AnnData through one function,
:func:`from_anndata`: samples x genes (``NaN`` = missing, ``log1p`` applied when requested) plus
the gene table and the tissue and donor codes (:class:`ExpressionData`). It accepts either
orientation (samples in ``obs``, or the transposed GTEx GCT layout with samples in ``var``;
found from where the tissue column lives), dense, sparse or backed matrices, ``X`` or a layer.
There is one densification path (:func:`dense`) and one way back to the input's units,
orientation and dtype (:func:`to_input_units`, :func:`merge_predictions`).

The keys (tissue column, donor column, layer) can be registered once per AnnData with
:func:`register_keys` (stored in ``adata.uns['gex_impute']``); every call that omits them
reads them from there.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from ._errors import DataError, ParameterError

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = [
    "ExpressionData",
    "Orientation",
    "dense",
    "fingerprint",
    "detect_orientation",
    "from_anndata",
    "input_matrix",
    "merge_predictions",
    "register_keys",
    "registered_keys",
    "resolve_keys",
    "resolve_log_transform",
    "to_input_units",
]

Orientation = Literal["samples_x_genes", "genes_x_samples"]

#: ``adata.uns`` entry written by :func:`register_keys`
UNS_KEY = "gex_impute"
#: largest value of non-negative, non-integer data that already look log-scaled (log1p(5e8) ~ 20)
_LOGGED_MAX = 20.0


@dataclass
class ExpressionData:
    """Samples x genes expression on the model scale.

    Attributes
    ----------
    values
        ``float64`` array of shape ``(n_samples, n_genes)``; ``NaN`` marks a missing entry.
        On the log1p scale when ``log1p`` is True.
    tissue
        Tissue of each sample (categorical, length ``n_samples``).
    donor
        Donor of each sample, or None when unknown.
    obs
        Sample annotation (index = sample names).
    var
        Gene annotation (index = gene ids): ``chrom``, ``start``, ``end``, ``strand``, ``tss``,
        ``promoter`` when known.
    log1p
        Whether ``values`` are ``log1p`` of the input.
    """

    values: np.ndarray
    tissue: pd.Categorical
    donor: pd.Categorical | None
    obs: pd.DataFrame
    var: pd.DataFrame
    log1p: bool = False

    @property
    def n_samples(self) -> int:
        """Number of samples (rows)."""
        return self.values.shape[0]

    @property
    def n_genes(self) -> int:
        """Number of genes (columns)."""
        return self.values.shape[1]

    @property
    def observed(self) -> np.ndarray:
        """Boolean mask of observed (non-missing) entries."""
        return ~np.isnan(self.values)

    @property
    def tissue_codes(self) -> np.ndarray:
        """Integer code of each sample's tissue (position in ``tissue.categories``)."""
        return np.asarray(self.tissue.codes, dtype=np.int64)

    @property
    def donor_codes(self) -> np.ndarray | None:
        """Integer code of each sample's donor, or None when donors are unknown."""
        return None if self.donor is None else np.asarray(self.donor.codes, dtype=np.int64)

    def with_values(self, values: np.ndarray) -> ExpressionData:
        """Return a copy that shares annotation but holds ``values``."""
        if values.shape != self.values.shape:
            msg = f"values of shape {values.shape} do not match data of shape {self.values.shape}"
            raise ValueError(msg)
        return replace(self, values=values)

    def subset_genes(self, idx: np.ndarray) -> ExpressionData:
        """Return the data restricted to the genes at positions (or boolean mask) ``idx``."""
        return replace(self, values=self.values[:, idx], var=self.var.iloc[idx])

    def subset_samples(self, idx: np.ndarray) -> ExpressionData:
        """Return the data restricted to the samples at positions (or boolean mask) ``idx``.

        Tissue and donor categories are kept, so codes stay comparable with the full data.
        """
        donor = None if self.donor is None else self.donor[idx]
        return replace(
            self, values=self.values[idx], tissue=self.tissue[idx], donor=donor, obs=self.obs.iloc[idx]
        )


# -- keys ----------------------------------------------------------------------------------------
def register_keys(
    adata: AnnData,
    *,
    tissue_key: str = "tissue",
    donor_key: str | None = None,
    layer: str | None = None,
) -> None:
    """Record which columns and layer hold the tissues, donors and values of ``adata``.

    Every gex_impute function that takes ``tissue_key``, ``donor_key`` or ``layer`` reads them
    from here when a call leaves them out (as ``scvi-tools``' ``setup_anndata`` does). Explicit
    arguments always win; ``donor_key=False`` ignores a registered donor column and
    ``layer="X"`` reads ``X`` despite a registered layer.

    Parameters
    ----------
    adata
        Samples x genes or the transpose; checked, not otherwise modified.
    tissue_key
        Column (of ``obs``, or of ``var`` for genes x samples data) with each sample's tissue.
    donor_key
        Column with each sample's donor, on the same axis as ``tissue_key``; None when unknown.
    layer
        Layer holding the expression values; ``X`` when None.

    Returns
    -------
    None. Writes ``adata.uns['gex_impute']``: ``tissue_key``, and ``donor_key`` / ``layer``
    when given.

    Examples
    --------
    >>> import gex_impute as gi
    >>> from gex_impute._data import register_keys, resolve_keys
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> register_keys(adata, tissue_key="tissue", donor_key="donor")
    >>> resolve_keys(adata)
    ('tissue', 'donor', None)
    """
    for name, value in (("tissue_key", tissue_key), ("donor_key", donor_key), ("layer", layer)):
        if value is not None and (not isinstance(value, str) or not value):
            msg = f"{name}={value!r} must be a non-empty string{'' if name == 'tissue_key' else ' or None'}."
            raise ParameterError(msg)
    orientation = detect_orientation(adata, tissue_key)
    samples = adata.obs if orientation == "samples_x_genes" else adata.var
    if donor_key is not None and donor_key not in samples.columns:
        where = "obs" if orientation == "samples_x_genes" else "var"
        msg = f"donor_key {donor_key!r} not found in adata.{where} (columns: {list(samples.columns)})."
        raise KeyError(msg)
    if layer is not None and layer != "X" and layer not in adata.layers:
        msg = f"layer {layer!r} not found; available layers: {list(adata.layers.keys())}"
        raise KeyError(msg)
    entry = {"tissue_key": tissue_key}
    if donor_key is not None:
        entry["donor_key"] = donor_key
    if layer is not None:
        entry["layer"] = layer
    adata.uns[UNS_KEY] = entry


def registered_keys(adata: AnnData) -> dict[str, str]:
    """Return the keys stored by :func:`register_keys` (an empty dict when none)."""
    entry = adata.uns.get(UNS_KEY, {}) if hasattr(adata, "uns") else {}
    if not isinstance(entry, dict):
        return {}
    return {k: str(v) for k, v in entry.items() if k in ("tissue_key", "donor_key", "layer")}


def resolve_keys(
    adata: AnnData,
    *,
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    default_donor_key: str | None = None,
) -> tuple[str, str | None, str | None]:
    """Fill the keys a call left out from :func:`register_keys`, else from the defaults.

    Parameters
    ----------
    adata
        The AnnData the keys refer to.
    tissue_key, donor_key, layer
        Explicit values win; None means "registered, else default" (``"tissue"``,
        ``default_donor_key``, ``X``). ``donor_key=False``: no donors. ``layer="X"``: ``X``.
    default_donor_key
        Donor column used when none is given nor registered.

    Returns
    -------
    ``(tissue_key, donor_key, layer)``; ``layer`` None means ``X``.
    """
    registered = registered_keys(adata)
    tissue = tissue_key if tissue_key is not None else registered.get("tissue_key", "tissue")
    if donor_key is False:
        donor = None
    elif donor_key is not None:
        donor = donor_key
    else:
        donor = registered.get("donor_key", default_donor_key)
    chosen = layer if layer is not None else registered.get("layer")
    if chosen == "X" and "X" not in getattr(adata, "layers", {}):
        chosen = None
    return tissue, donor, chosen


def detect_orientation(adata: AnnData, tissue_key: str) -> Orientation:
    """Find whether samples are in ``obs`` or in ``var`` by where ``tissue_key`` lives.

    Raises
    ------
    KeyError
        When ``tissue_key`` is in neither or in both.
    """
    in_obs = tissue_key in adata.obs.columns
    in_var = tissue_key in adata.var.columns
    if in_obs and in_var:
        msg = (
            f"tissue_key {tissue_key!r} is a column of both adata.obs and adata.var, so the "
            "orientation is ambiguous; drop or rename one of them."
        )
        raise KeyError(msg)
    if in_obs:
        return "samples_x_genes"
    if in_var:
        return "genes_x_samples"
    msg = (
        f"tissue_key {tissue_key!r} not found in adata.obs (columns: {list(adata.obs.columns)}) "
        f"nor in adata.var (columns: {list(adata.var.columns)}). Pass tissue_key= naming the "
        "column that holds each sample's tissue."
    )
    raise KeyError(msg)


# -- the matrix ----------------------------------------------------------------------------------
def input_matrix(adata: AnnData, layer: str | None):
    """Return ``X`` (``layer`` None) or ``adata.layers[layer]`` as stored (dense, sparse or backed)."""
    if layer is not None and layer not in adata.layers:
        msg = f"layer {layer!r} not found; available layers: {list(adata.layers.keys())}"
        raise KeyError(msg)
    matrix = adata.X if layer is None else adata.layers[layer]
    if matrix is None:
        msg = "adata.X is empty; pass layer= naming the layer that holds the expression values."
        raise DataError(msg)
    return matrix


def output_dtype(matrix) -> np.dtype:
    """Return the dtype results are written in: the input's floating dtype, else ``float64``."""
    dtype = np.dtype(getattr(matrix, "dtype", np.float64))
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def dense(matrix, dtype: np.dtype | type = np.float64, *, rows=None, cols=None) -> np.ndarray:
    """Densify ``matrix`` (or the block ``rows`` x ``cols`` of it) into a new ``dtype`` array.

    The only densification path of the package: a sparse matrix's explicit zeros stay observed
    zeros (only a stored NaN is missing), a backed dataset is read, a dense array is copied
    (never a view of the input).
    """
    if rows is not None or cols is not None:
        return _dense_block(matrix, dtype, rows, cols)
    if sparse.issparse(matrix):
        return np.asarray(matrix.toarray(), dtype=dtype)
    if hasattr(matrix, "to_memory"):  # anndata backed sparse dataset
        matrix = matrix.to_memory()
        if sparse.issparse(matrix):
            return np.asarray(matrix.toarray(), dtype=dtype)
    return np.array(matrix, dtype=dtype, copy=True)


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


def resolve_log_transform(values: np.ndarray, log_transform: bool | Literal["auto"]) -> bool:
    """Decide whether to model ``log1p(values)``.

    ``"auto"`` chooses log1p for non-negative data whose range looks like TPM or counts
    (maximum above 50), identity otherwise. ``True`` on data that already look log-scaled
    (non-negative, non-integer, maximum below 20) warns: log1p would then be applied twice.
    """
    finite = values[np.isfinite(values)]
    if log_transform == "auto":
        if finite.size == 0:
            return False
        return bool(finite.min() >= 0 and finite.max() > 50)
    if log_transform not in (True, False):
        msg = f"log_transform must be True, False or 'auto', got {log_transform!r}"
        raise ParameterError(msg)
    if log_transform and finite.size and finite.min() < 0:
        msg = (
            f"log_transform=True but the data hold negative values (minimum {finite.min():g}); "
            "pass log_transform=False for data that are already on a log scale."
        )
        raise DataError(msg)
    if log_transform and finite.size and finite.max() < _LOGGED_MAX and (finite != np.round(finite)).any():
        msg = (
            f"log1p is applied (log_transform=True, or a model fitted on log1p) to values that look "
            f"already log-transformed (maximum {finite.max():.3g}); if they are log TPM, pass "
            "log_transform=False (or fit the model on these data)."
        )
        warnings.warn(msg, UserWarning, stacklevel=3)
        logger.warning(msg)
    return bool(log_transform)


def _categorical(values: pd.Series, what: str, key: str) -> pd.Categorical:
    missing = values.isna().to_numpy()
    if missing.any():
        names = list(values.index[missing][:3])
        msg = (
            f"{int(missing.sum())} samples (e.g. {names}) have no {what} in column {key!r}; "
            "fill or drop them first."
        )
        raise DataError(msg)
    # sorted string categories, whatever the column's dtype: codes do not depend on storage
    return pd.Categorical(values.astype(str).to_numpy())


def from_anndata(
    adata: AnnData,
    *,
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    log_transform: bool | Literal["auto"] = "auto",
) -> tuple[ExpressionData, Orientation]:
    """Build :class:`ExpressionData` from an AnnData in either orientation.

    Parameters
    ----------
    adata
        Samples in ``obs`` (tissue column ``tissue_key``) and genes in ``var``, or the transpose.
        Dense, sparse (only stored NaN is missing) or backed. Never modified.
    tissue_key
        Column holding each sample's tissue; registered (:func:`register_keys`), else ``"tissue"``.
    donor_key
        Column holding each sample's donor; registered, else None (donors unknown).
        False ignores a registered donor column.
    layer
        Layer to read; registered, else ``X``.
    log_transform
        Model ``log1p`` of the values: True, False or ``"auto"``.

    Returns
    -------
    The data and the orientation found.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> data, orientation = from_anndata(adata, donor_key="donor")
    >>> data.values.shape, orientation, data.log1p
    ((6, 20), 'samples_x_genes', True)
    """
    tissue_key, donor_key, layer = resolve_keys(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer
    )
    orientation = detect_orientation(adata, tissue_key)
    samples_in_obs = orientation == "samples_x_genes"
    matrix = input_matrix(adata, layer)
    obs, var = (adata.obs, adata.var) if samples_in_obs else (adata.var, adata.obs)
    if len(obs) == 0 or len(var) == 0:
        msg = f"the data have {len(obs)} samples and {len(var)} genes; at least one of each is needed."
        raise DataError(msg)
    if donor_key is not None and donor_key not in obs.columns:
        where = "obs" if samples_in_obs else "var"
        msg = (
            f"donor_key {donor_key!r} not found in adata.{where} "
            f"(columns: {list(obs.columns)}); pass donor_key=None when donors are unknown."
        )
        raise KeyError(msg)
    tissue = _categorical(obs[tissue_key], "tissue", tissue_key)
    donor = None if donor_key is None else _categorical(obs[donor_key], "donor", donor_key)

    values = dense(matrix)
    if not samples_in_obs:
        values = np.ascontiguousarray(values.T)
    if np.isinf(values).any():
        n = int(np.isinf(values).sum())
        msg = f"the expression matrix holds {n} infinite values; replace them with NaN (missing) first."
        raise DataError(msg)
    use_log = resolve_log_transform(values, log_transform)
    if use_log:
        np.log1p(values, out=values)

    observed = ~np.isnan(values)
    for code, name in enumerate(tissue.categories):
        rows = tissue.codes == code
        if not observed[rows].any():
            msg = (
                f"tissue {name!r} has no observed value in any of its {int(rows.sum())} samples; "
                "nothing can be learnt about it. Drop those samples before imputing."
            )
            raise DataError(msg)
    if not observed.any():
        msg = "no gene has any observed value."
        raise DataError(msg)
    data = ExpressionData(
        values=values, tissue=tissue, donor=donor, obs=obs.copy(), var=var.copy(), log1p=use_log
    )
    return data, orientation


# -- back to the input's units -------------------------------------------------------------------
def to_input_units(values: np.ndarray, log1p: bool) -> np.ndarray:
    """Map model-scale values back to the input's units (inverse of :func:`from_anndata`)."""
    if not log1p:
        return values
    return np.expm1(np.maximum(values, 0.0))


def merge_predictions(
    adata: AnnData,
    pred: np.ndarray,
    missing: np.ndarray,
    *,
    layer: str | None,
    orientation: Orientation,
    log1p: bool,
) -> np.ndarray:
    """Return the input matrix with its missing entries replaced by predictions.

    Observed entries are copied bitwise from the input; the result has the input's orientation
    and floating dtype (``float64`` for integer input).

    Parameters
    ----------
    adata
        The AnnData the data were read from.
    pred
        Model-scale predictions, samples x genes (only the ``missing`` entries are read).
    missing
        Samples x genes mask of the entries to replace.
    layer, orientation, log1p
        As used and returned by :func:`from_anndata`.
    """
    matrix = input_matrix(adata, layer)
    out = dense(matrix, output_dtype(matrix))
    rows, cols = np.nonzero(missing)
    filled = to_input_units(np.asarray(pred)[rows, cols], log1p)
    if orientation == "genes_x_samples":
        rows, cols = cols, rows
    out[rows, cols] = filled
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
