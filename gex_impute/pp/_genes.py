"""The gene table rule shared by every ``pp`` function: which AnnData axis holds the genes.

1. ``tissue_key`` given: the samples are on the axis whose table holds that column (found with
   :func:`gex_impute._data.detect_orientation`), the genes on the other one. A ``tissue_key``
   found on neither axis is an error that names the columns seen.
2. ``tissue_key=None``: the genes are in ``var`` (AnnData's samples x genes convention), unless
   ``needed`` columns are all in ``obs`` and not all in ``var`` (an annotated transposed object).

The public ``pp`` functions take ``tissue_key=None`` to mean the key recorded by
:func:`gex_impute.pp.register_keys`, else ``"tissue"``, and ``tissue_key=False`` for rule 2;
:func:`resolve_tissue_key` turns theirs into the key of these rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import pandas as pd

from ..errors import DataError, KeyNotFoundError
from ..io.identifiers import strip_version

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["gene_axis", "gene_ids", "gene_table", "resolve_tissue_key", "view_to_actual"]

GeneAxis = Literal["var", "obs"]


def resolve_tissue_key(adata: AnnData, tissue_key: str | Literal[False] | None) -> str | None:
    """Return the key of a public ``pp`` call: False -> None (rule 2), None -> registered, else "tissue"."""
    if tissue_key is False:
        return None
    from .._data_keys import resolve_keys

    return resolve_keys(adata, tissue_key=tissue_key)[0]


def gene_axis(adata: AnnData, tissue_key: str | None = "tissue", *, needed: Sequence[str] = ()) -> GeneAxis:
    """Which AnnData axis holds the genes: ``"var"`` or ``"obs"`` (see the module docstring).

    Raises
    ------
    KeyError
        When ``tissue_key`` is in neither ``obs`` nor ``var``, or in both.
    """
    if tissue_key is not None:
        from .._data import detect_orientation

        return "var" if detect_orientation(adata, tissue_key) == "samples_x_genes" else "obs"
    if needed:
        in_var = all(c in adata.var.columns for c in needed)
        in_obs = all(c in adata.obs.columns for c in needed)
        if in_obs and not in_var:
            return "obs"
    return "var"


def gene_table(
    adata: AnnData, tissue_key: str | None = "tissue", *, needed: Sequence[str] = ()
) -> tuple[GeneAxis, pd.DataFrame]:
    """Return the gene axis and its table (``adata.var`` or ``adata.obs``, not a copy)."""
    axis = gene_axis(adata, tissue_key, needed=needed)
    return axis, (adata.var if axis == "var" else adata.obs)


def gene_ids(genes: pd.DataFrame, gene_id_key: str | None, axis: GeneAxis) -> tuple[pd.Index, pd.Index]:
    """Return the genes' ids as given and without Ensembl versions, from the index or a column.

    Raises
    ------
    KeyError
        When ``gene_id_key`` is not a column of the gene table.
    """
    if gene_id_key is None:
        ids = pd.Index(genes.index.astype(str))
    elif gene_id_key in genes.columns:
        ids = pd.Index(genes[gene_id_key].astype(str))
    else:
        msg = (
            f"gene_id_key {gene_id_key!r} is not a column of adata.{axis} "
            f"(columns: {list(genes.columns)}); pass gene_id_key=None to match on the index."
        )
        raise KeyNotFoundError(msg)
    return ids, strip_version(ids)


def view_to_actual(adata: AnnData) -> None:
    """Turn a view into an actual AnnData in place before writing to it (as scanpy does)."""
    if adata.is_view:
        adata._init_as_actual(adata.copy())


def require_columns(genes: pd.DataFrame, columns: Sequence[str], axis: GeneAxis, hint: str) -> None:
    """Raise a DataError naming the gene columns that are missing."""
    missing = [c for c in columns if c not in genes.columns]
    if missing:
        msg = f"adata.{axis} lacks the gene column(s) {missing}; {hint}"
        raise DataError(msg)
