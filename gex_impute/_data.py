"""The internal data contract: an expression matrix in a fixed orientation, on the model scale.

Every method, :func:`gex_impute.tl.impute`, :func:`gex_impute.tl.complete`,
:func:`gex_impute.tl.evaluate` and the CLI read an AnnData through one function,
:func:`from_anndata`: samples x genes (``NaN`` = missing, ``log1p`` applied when requested) plus
the gene table and the tissue and donor codes (:class:`ExpressionData`). It accepts either
orientation (samples in ``obs``, or the transposed GTEx GCT layout with samples in ``var``;
found from where the tissue column lives), dense, sparse or backed matrices, ``X`` or a layer.
There is one way back to the input's units, orientation and dtype (:func:`to_input_units`,
:func:`merge_predictions`).

The contract is in three modules, and this one re-exports the names of the other two:

- :mod:`gex_impute._data_keys`: which columns and layer hold tissues, donors and values
  (:func:`register_keys`, stored in ``adata.uns['gex_impute']``; every call that omits a key
  reads it from there) and which axis holds the samples (:func:`detect_orientation`);
- :mod:`gex_impute._data_matrix`: the stored matrix and its one densification path
  (:func:`dense`), sample blocks in the input's units (:func:`input_rows`), :func:`fingerprint`;
- this module: :class:`ExpressionData`, :func:`from_anndata` and the way back.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ._data_estimates import PROFILE_COLUMN, estimated_values
from ._data_keys import (
    UNS_KEY,
    Orientation,
    check_anndata,
    detect_orientation,
    register_keys,
    registered_keys,
    resolve_keys,
)
from ._data_matrix import dense, fingerprint, input_matrix, input_rows, output_dtype, sample_annotation
from .errors import DataError, KeyNotFoundError, ParameterError

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = [
    "PROFILE_COLUMN",
    "UNS_KEY",
    "ExpressionData",
    "Orientation",
    "check_anndata",
    "dense",
    "detect_orientation",
    "fingerprint",
    "from_anndata",
    "input_matrix",
    "input_rows",
    "merge_predictions",
    "output_dtype",
    "register_keys",
    "registered_keys",
    "resolve_keys",
    "resolve_log_transform",
    "sample_annotation",
    "to_input_units",
]

#: largest value of non-negative, non-integer data that already look log-scaled (log1p(5e8) ~ 20)
_LOGGED_MAX = 20.0
#: values above it are not on a log scale (log2 of a billion reads is 30), so ``"auto"`` applies log1p
#: to non-negative data reaching past it (TPM and counts of a panel of lowly expressed genes too)
LOG_SCALE_MAX = 30.0
#: largest magnitude modelled without log1p (counts and TPM stay far below it)
_IDENTITY_MAX = 1e12


@dataclass
class ExpressionData:
    """Samples x genes expression on the model scale.

    Attributes
    ----------
    values
        ``float64`` array of shape ``(n_samples, n_genes)``; ``NaN`` marks a missing entry.
        On the log1p scale when ``log1p`` is True. Read-only by contract: methods keep what
        they derive from an array (the hybrid's cohort caches) while it lives, so hide values
        in a copy (``dataclasses.replace(data, values=...)``), never in place. (From an AnnData
        every call builds its own array.)
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


def resolve_log_transform(values: np.ndarray, log_transform: bool | Literal["auto"]) -> bool:
    """Decide whether to model ``log1p(values)``.

    ``"auto"`` chooses log1p for non-negative data whose range looks like TPM or counts
    (maximum above ``LOG_SCALE_MAX``, 30), identity otherwise. ``True`` on data that already look log-scaled
    (non-negative, non-integer, maximum below 20) warns: log1p would then be applied twice.
    """
    finite = values[np.isfinite(values)]
    if log_transform == "auto":
        if finite.size == 0:
            return False
        negative = int((finite < 0).sum())
        if negative and finite.max() > LOG_SCALE_MAX and negative <= 0.001 * finite.size:
            # a few negative cells among TPM/count-like values: an error in the data, and they
            # alone turn log1p off for everything (evaluate's r fell from 0.968 to 0.938)
            logger.warning(
                "%d of %d values are negative (minimum %g) among count- or TPM-like values (maximum "
                "%.3g), so log1p is not applied to any; set them to NaN if they are errors, or pass "
                "log_transform=False to confirm.",
                negative,
                finite.size,
                finite.min(),
                finite.max(),
            )
        logged = bool(finite.min() >= 0 and finite.max() > LOG_SCALE_MAX)
        if not logged and finite.min() >= 0:  # TPM of a panel of lowly expressed genes looks alike
            logger.info(
                "log_transform='auto': values up to %.3g (at most %g) are modelled as given, read as "
                "already on a log scale; pass log_transform=True if they are TPM or counts.",
                finite.max(),
                LOG_SCALE_MAX,
            )
        return _check_identity_scale(finite, logged)
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
    return _check_identity_scale(finite, bool(log_transform))


def _check_identity_scale(finite: np.ndarray, log1p: bool) -> bool:
    """Return ``log1p``; refuse values modelled as they are (no log1p) past ``_IDENTITY_MAX``.

    The methods fit regressions, decompositions and boosters on the model scale; at such
    magnitudes they fail numerically (singular systems, float32 overflow) with errors that do
    not say why.
    """
    if not log1p and finite.size and np.abs(finite).max() > _IDENTITY_MAX:
        msg = (
            f"values reach {np.abs(finite).max():.3g} and are modelled without log1p "
            "(log_transform=False, or 'auto' with negative values); the methods need values on a "
            "log scale (or of a moderate size): pass log_transform=True for counts or TPM, or "
            "rescale the data."
        )
        raise DataError(msg)
    return log1p


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
        Column holding each sample's donor; registered, else the ``"donor"`` column where the
        samples have one, else None (donors unknown). False: no donors.
    layer
        Layer to read; registered, else ``X``. The ``X`` of a completed cohort
        (:func:`gex_impute.tl.complete`) is read with its estimates (``layers[key + '_mask']``;
        after ``ad.concat``, which drops ``uns``, every boolean ``layers['*_mask']`` and
        ``obs['imputed_profile']``) as missing, with a warning: they are not measurements.
    log_transform
        Model ``log1p`` of the values: True, False or ``"auto"``.

    Returns
    -------
    The data and the orientation found.

    Examples
    --------
    >>> from gex_impute._data import from_anndata
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> data, orientation = from_anndata(adata, donor_key="donor")
    >>> data.values.shape, orientation, data.log1p
    ((6, 20), 'samples_x_genes', True)
    """
    check_anndata(adata)
    if log_transform not in (True, False, "auto"):
        msg = f"log_transform must be True, False or 'auto', got {log_transform!r}"
        raise ParameterError(msg)
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
            f"(columns: {list(obs.columns)}); pass donor_key=False when donors are unknown."
        )
        raise KeyNotFoundError(msg)
    tissue = _categorical(obs[tissue_key], "tissue", tissue_key)
    donor = None if donor_key is None else _categorical(obs[donor_key], "donor", donor_key)

    values = dense(matrix)
    estimates = estimated_values(adata, layer)
    if estimates is not None:  # a completed cohort (or an imputed layer copied to X): not data
        mask = estimates[1] & ~np.isnan(values)
        if mask.any():
            logger.warning(
                "X holds %d values that gex_impute estimated (%s); they are read as missing, so that "
                "nothing is learned from or scored against an estimate. To use them as data, delete "
                "those marks first.",
                int(mask.sum()),
                estimates[0],
            )
            values[mask] = np.nan
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
                f"tissue {name!r} has no observed value in any of its {int(rows.sum())} samples; every "
                "method (a saved model too) estimates from the values of the data it is given, so add "
                "samples that measured this tissue (e.g. concatenate the cohort a model was fitted on) "
                "or drop these samples."
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
    and floating dtype (``float32`` for ``float16``, ``float64`` for integer input).

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
    n_samples, n_genes = matrix.shape if orientation == "samples_x_genes" else matrix.shape[::-1]
    pred, missing = np.asarray(pred), np.asarray(missing)
    if pred.shape != (n_samples, n_genes) or missing.shape != (n_samples, n_genes):
        msg = (
            f"predictions of shape {pred.shape} and mask of shape {missing.shape} do not match the "
            f"data's {n_samples} samples x {n_genes} genes ({orientation}); predict on the same AnnData."
        )
        raise DataError(msg)
    out = dense(matrix, output_dtype(matrix))
    rows, cols = np.nonzero(missing)
    filled = to_input_units(pred[rows, cols], log1p)
    if orientation == "genes_x_samples":
        rows, cols = cols, rows
    out[rows, cols] = filled
    return out
