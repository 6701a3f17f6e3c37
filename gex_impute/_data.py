"""The internal data contract: an expression matrix in a fixed orientation, on the model scale.

Every method works on :class:`ExpressionData` (samples x genes, NaN = missing, log1p applied
when requested); :func:`from_anndata` builds it from an AnnData in either orientation and
:func:`to_input_units` maps model-scale values back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import sparse

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

Orientation = Literal["samples_x_genes", "genes_x_samples"]


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

    def with_values(self, values: np.ndarray) -> ExpressionData:
        """Return a copy that shares annotation but holds ``values``."""
        if values.shape != self.values.shape:
            msg = f"values of shape {values.shape} do not match data of shape {self.values.shape}"
            raise ValueError(msg)
        return replace(self, values=values)

    def subset_genes(self, idx: np.ndarray) -> ExpressionData:
        """Return the data restricted to the genes at positions (or boolean mask) ``idx``."""
        return replace(self, values=self.values[:, idx], var=self.var.iloc[idx])


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


def _dense(matrix) -> np.ndarray:
    if sparse.issparse(matrix):
        # explicit zeros stay observed zeros; only stored NaN is missing
        return np.asarray(matrix.toarray(), dtype=np.float64)
    if hasattr(matrix, "to_memory"):  # backed dataset
        matrix = matrix.to_memory()
    return np.array(matrix, dtype=np.float64, copy=True)


def resolve_log_transform(values: np.ndarray, log_transform: bool | Literal["auto"]) -> bool:
    """Decide whether to model ``log1p(values)``.

    ``"auto"`` chooses log1p for non-negative data whose range looks like TPM or counts
    (maximum above 50), identity otherwise.
    """
    finite = values[np.isfinite(values)]
    if log_transform == "auto":
        if finite.size == 0:
            return False
        return bool(finite.min() >= 0 and finite.max() > 50)
    if log_transform not in (True, False):
        msg = f"log_transform must be True, False or 'auto', got {log_transform!r}"
        raise ValueError(msg)
    if log_transform and finite.size and finite.min() < 0:
        msg = (
            f"log_transform=True but the data hold negative values (minimum {finite.min():g}); "
            "pass log_transform=False for data that are already on a log scale."
        )
        raise ValueError(msg)
    return bool(log_transform)


def from_anndata(
    adata: AnnData,
    *,
    tissue_key: str = "tissue",
    donor_key: str | None = None,
    layer: str | None = None,
    log_transform: bool | Literal["auto"] = "auto",
) -> tuple[ExpressionData, Orientation]:
    """Build :class:`ExpressionData` from an AnnData in either orientation.

    Parameters
    ----------
    adata
        Samples in ``obs`` (tissue column ``tissue_key``) and genes in ``var``, or the transpose.
    tissue_key
        Column holding each sample's tissue.
    donor_key
        Column holding each sample's donor, or None.
    layer
        Layer to read; ``X`` when None.
    log_transform
        Model ``log1p`` of the values: True, False or ``"auto"``.

    Returns
    -------
    The data and the orientation found.
    """
    orientation = detect_orientation(adata, tissue_key)
    samples_in_obs = orientation == "samples_x_genes"
    if layer is not None and layer not in adata.layers:
        msg = f"layer {layer!r} not found; available layers: {list(adata.layers.keys())}"
        raise KeyError(msg)
    matrix = adata.X if layer is None else adata.layers[layer]
    if matrix is None:
        msg = "adata.X is empty; pass layer= naming the layer that holds the expression values."
        raise ValueError(msg)
    values = _dense(matrix)
    obs, var = (adata.obs, adata.var) if samples_in_obs else (adata.var, adata.obs)
    if not samples_in_obs:
        values = values.T.copy()
    obs = obs.copy()
    var = var.copy()

    if np.isinf(values).any():
        n = int(np.isinf(values).sum())
        msg = f"the expression matrix holds {n} infinite values; replace them with NaN (missing) first."
        raise ValueError(msg)
    use_log = resolve_log_transform(values, log_transform)
    if use_log:
        values = np.log1p(values)

    tissue_values = obs[tissue_key]
    if tissue_values.isna().any():
        n = int(tissue_values.isna().sum())
        msg = f"{n} samples have no tissue in column {tissue_key!r}; fill or drop them first."
        raise ValueError(msg)
    tissue = pd.Categorical(tissue_values.astype(str))
    donor = None
    if donor_key is not None:
        if donor_key not in obs.columns:
            where = "obs" if samples_in_obs else "var"
            msg = (
                f"donor_key {donor_key!r} not found in adata.{where} "
                f"(columns: {list(obs.columns)}); pass donor_key=None when donors are unknown."
            )
            raise KeyError(msg)
        donor = pd.Categorical(obs[donor_key].astype(str))

    observed = ~np.isnan(values)
    for code, name in enumerate(tissue.categories):
        rows = tissue.codes == code
        if not observed[rows].any():
            msg = (
                f"tissue {name!r} has no observed value in any of its {int(rows.sum())} samples; "
                "nothing can be learnt about it. Drop those samples before imputing."
            )
            raise ValueError(msg)
    if not observed.any(axis=0).any():
        msg = "no gene has any observed value."
        raise ValueError(msg)
    data = ExpressionData(values=values, tissue=tissue, donor=donor, obs=obs, var=var, log1p=use_log)
    return data, orientation


def to_input_units(values: np.ndarray, log1p: bool) -> np.ndarray:
    """Map model-scale values back to the input's units (inverse of :func:`from_anndata`)."""
    if not log1p:
        return values
    return np.expm1(np.maximum(values, 0.0))
