"""Genomic context on an AnnData: store the neighbours, read them back, gather their values.

:func:`add_genomic_context` stores :func:`genomic_neighbours` in an AnnData
(scanpy style) and :func:`genomic_context` reads it back; :func:`neighbour_values` gathers the
neighbours' values from an expression matrix.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import DataError, KeyNotFoundError
from .neighbours import BIDIRECTIONAL_MAX_DISTANCE, FLAG_FIELDS, ORIENTATIONS, GenomicNeighbours
from .search import _reference_mask, genomic_neighbours

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["add_genomic_context", "genomic_context", "neighbour_values"]


def neighbour_values(neighbours: GenomicNeighbours | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Gather each gene's neighbours' values: ``(..., n_genes)`` -> ``(..., n_genes, k)``.

    Parameters
    ----------
    neighbours
        A :class:`GenomicNeighbours`, or its ``(n_genes, k)`` ``index`` array (``-1`` = none).
    values
        Array whose last axis is the genes, in the order the neighbours were computed for,
        e.g. a samples x genes expression matrix (NaN = missing is passed through; a scipy
        sparse matrix is densified).

    Returns
    -------
    Float array of shape ``values.shape + (k,)``; ``out[..., i, j]`` is the value of gene
    ``i``'s ``j``-th neighbour, NaN where there is no neighbour. Float inputs keep their
    dtype; others become ``float64``.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.genome import neighbour_values
    >>> index = np.array([[1, -1], [0, -1]])
    >>> neighbour_values(index, np.array([[1.0, 2.0], [3.0, 4.0]]))
    array([[[ 2., nan],
            [ 1., nan]],
    <BLANKLINE>
           [[ 4., nan],
            [ 3., nan]]])
    """
    from scipy import sparse

    index = neighbours.index if isinstance(neighbours, GenomicNeighbours) else np.asarray(neighbours)
    if sparse.issparse(values):
        values = values.toarray()  # type: ignore[attr-defined]
    values = np.asarray(values)
    n_genes = index.shape[0]
    if values.shape[-1] != n_genes:
        msg = (
            f"values has {values.shape[-1]} genes on its last axis but the neighbours were computed for "
            f"{n_genes}; pass a samples x genes matrix in the same gene order."
        )
        raise ValueError(msg)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    # a NaN sentinel column at position n_genes serves every missing neighbour (-1)
    padded = np.concatenate([values, np.full((*values.shape[:-1], 1), np.nan, dtype=values.dtype)], axis=-1)
    idx = np.where(index >= 0, index, n_genes)
    return np.take(padded, idx, axis=-1)


# --------------------------------------------------------------------------------------------
# AnnData interface


def _var_names_digest(names: pd.Index) -> str:
    return hashlib.sha1("\x00".join(map(str, names)).encode()).hexdigest()


def _observed_genes(adata: AnnData, layer: str | None, genes_axis: int) -> np.ndarray:
    """Genes with at least one non-NaN entry (a sparse structural zero counts as observed)."""
    from scipy import sparse

    if layer is not None and layer not in adata.layers:
        msg = f"layer={layer!r} is not a layer of the AnnData (layers: {list(adata.layers)})."
        raise KeyNotFoundError(msg)
    x = adata.X if layer is None else adata.layers[layer]
    if x is None:
        msg = (
            "reference='observed' needs values, but the AnnData has no X; name a layer with layer=, "
            "or pass the reference genes (a bool mask or gene ids)."
        )
        raise DataError(msg)
    sample_axis = 1 - genes_axis
    n_samples = x.shape[sample_axis]
    if sparse.issparse(x):
        stored_nan = sparse.csr_matrix(x, copy=True)
        stored_nan.data = np.isnan(stored_nan.data).astype(np.int64)
        n_nan = np.asarray(stored_nan.sum(axis=sample_axis)).ravel()
        return n_nan < n_samples
    x = np.asarray(x, dtype=np.float64)
    return (~np.isnan(x)).any(axis=sample_axis)


def add_genomic_context(
    adata: AnnData,
    *,
    k: int = 10,
    window: int | None = 1_000_000,
    reference: Sequence[bool] | np.ndarray | pd.Series | Sequence[str] | str | None = None,
    layer: str | None = None,
    key_added: str = "genomic_context",
    copy: bool = False,
) -> AnnData | None:
    """Store each gene's nearest reference genes (``genome.genomic_neighbours``) in the AnnData.

    Genes are read from ``adata.var`` (samples x genes). When the annotation columns
    (``chrom``, ``tss``) are in ``adata.obs`` instead and not in ``var`` (the genes x samples
    GCT layout), genes are read from ``obs`` and results go to ``obsm``.

    Parameters
    ----------
    adata
        Annotated data with ``chrom``, ``tss`` and ideally ``strand``, ``start``, ``end`` per
        gene (see :func:`gex_impute.pp.annotate_genes`).
    k, window
        As in :func:`~gex_impute.genome.genomic_neighbours`.
    reference
        Genes allowed as neighbours: None (all placed genes), ``"observed"`` (genes with at
        least one non-NaN value in ``X`` or ``layer``), a bool mask or a list of gene ids.
    layer
        Layer used by ``reference="observed"`` (default ``X``).
    key_added
        Prefix of the stored entries.
    copy
        Return a modified copy instead of writing in place.

    Returns
    -------
    None, or the modified copy when ``copy=True``. Writes (``varm`` for samples x genes,
    ``obsm`` for the transposed layout), each ``(n_genes, k)``:

    - ``varm['genomic_context_index' | f'{key_added}_index']``: ``int64`` neighbour positions
      (``-1`` = none), valid only for this exact gene order;
    - ``varm[f'{key_added}_distance']``: ``int64`` strand-aware signed TSS distance;
    - ``varm[f'{key_added}_orientation']``: ``int8`` codes of ``uns[key_added]['orientations']``;
    - ``varm[f'{key_added}_overlap' | '_nested' | '_bidirectional']``: bool flags;
    - ``uns[key_added]``: ``params`` (k, window (-1 = none), reference: ``"all"``,
      ``"observed"`` / ``"observed:<layer>"``, ``"mask"`` or ``"ids"``;
      bidirectional_max_distance), ``orientations``,
      ``n_genes``, ``n_reference`` (reference genes, placed on the genome or not) and
      ``var_names_sha1`` (checked by
      :func:`~gex_impute.genome.genomic_context`).

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from anndata import AnnData
    >>> from gex_impute.genome import add_genomic_context
    >>> var = pd.DataFrame(
    ...     {"chrom": ["chr1"] * 4, "tss": [0, 500, 9_000, 20_000], "strand": ["-", "+", "+", "-"]},
    ...     index=["A", "B", "C", "D"],
    ... )
    >>> x = np.array([[1.0, np.nan, 3.0, 4.0], [2.0, np.nan, np.nan, 5.0]])
    >>> adata = AnnData(x, var=var)
    >>> add_genomic_context(adata, k=2, reference="observed")  # B is never observed
    >>> adata.varm["genomic_context_index"]
    array([[2, 3],
           [0, 2],
           [0, 3],
           [2, 0]])
    """
    from ..pp._genes import view_to_actual

    adata = adata.copy() if copy else adata
    view_to_actual(adata)  # writing varm / uns into a view would copy the whole object each time
    var, genes_axis = _gene_table(adata, ("chrom", "tss"))
    if isinstance(reference, str) and reference == "observed":
        ref_mask = _observed_genes(adata, layer, genes_axis)
        ref_desc = "observed" if layer is None else f"observed:{layer}"
    elif isinstance(reference, str):
        msg = f"reference={reference!r} is not understood; use None, 'observed', a bool mask or gene ids."
        raise ValueError(msg)
    else:
        ref_mask = _reference_mask(reference, var)
        is_mask = np.asarray(reference).dtype == bool or getattr(reference, "dtype", None) == "boolean"
        ref_desc = "all" if reference is None else "mask" if is_mask else "ids"
    nb = genomic_neighbours(var, reference=ref_mask, k=k, window=window)
    store = adata.varm if genes_axis == 1 else adata.obsm
    store[f"{key_added}_index"] = nb.index
    store[f"{key_added}_distance"] = nb.distance
    store[f"{key_added}_orientation"] = nb.orientation
    for name in FLAG_FIELDS:
        store[f"{key_added}_{name}"] = getattr(nb, name)
    adata.uns[key_added] = {
        "params": {
            "k": int(k),
            "window": -1 if nb.window is None else int(nb.window),  # as genomic_neighbours read it
            "reference": ref_desc,
            "bidirectional_max_distance": BIDIRECTIONAL_MAX_DISTANCE,
        },
        "orientations": list(ORIENTATIONS),
        "genes_axis": "var" if genes_axis == 1 else "obs",
        "n_genes": int(nb.n_genes),
        "n_reference": int(ref_mask.sum()),
        "var_names_sha1": _var_names_digest(var.index),
    }
    logger.info(
        "genomic context: %d genes, %d reference, median %d neighbour(s) within %s bp",
        nb.n_genes,
        int(ref_mask.sum()),
        int(np.median(nb.n_neighbours)) if nb.n_genes else 0,
        "any" if window is None else window,
    )
    return adata if copy else None


def _gene_table(adata: AnnData, needed: Sequence[str]) -> tuple[pd.DataFrame, int]:
    """Return the gene annotation table and the AnnData axis holding genes (1 = var, 0 = obs).

    The axis follows the rule every ``pp`` function uses (:func:`gex_impute.pp._genes.gene_table`):
    ``var``, unless the ``needed`` columns are all in ``obs`` and not all in ``var``.
    """
    from ..pp._genes import gene_table

    axis, table = gene_table(adata, None, needed=needed)
    missing = [c for c in needed if c not in table.columns]
    if missing:
        msg = (
            f"neither adata.var nor adata.obs has the gene annotation columns {list(needed)}; "
            "run gex_impute.pp.annotate_genes first."
        )
        raise KeyNotFoundError(msg)
    return table, 1 if axis == "var" else 0


def genomic_context(adata: AnnData, key: str = "genomic_context") -> GenomicNeighbours:
    """Read back what :func:`~gex_impute.pp.add_genomic_context` stored under ``key``.

    Raises a ValueError when the genes changed since (subset, reordered or renamed), because
    the stored neighbour positions would then point at the wrong genes.

    Examples
    --------
    >>> import pandas as pd
    >>> from anndata import AnnData
    >>> from gex_impute.genome import add_genomic_context, genomic_context
    >>> var = pd.DataFrame({"chrom": ["1", "1", "2"], "tss": [10, 20, 30]}, index=["A", "B", "C"])
    >>> adata = AnnData(obs=pd.DataFrame(index=["s1"]), var=var)
    >>> add_genomic_context(adata, k=3)
    >>> genomic_context(adata).n_neighbours
    array([1, 1, 0])
    """
    if key not in adata.uns:
        msg = (
            f"adata.uns has no {key!r}; run "
            f"gex_impute.genome.add_genomic_context(adata, key_added={key!r}) first."
        )
        raise KeyNotFoundError(msg)
    info = adata.uns[key]
    genes_axis = 1 if info.get("genes_axis", "var") == "var" else 0
    table = adata.var if genes_axis == 1 else adata.obs
    store = adata.varm if genes_axis == 1 else adata.obsm
    if int(info["n_genes"]) != len(table) or info["var_names_sha1"] != _var_names_digest(table.index):
        msg = (
            f"the genes changed since the genomic context {key!r} was computed "
            f"({info['n_genes']} then, {len(table)} now, or a different order); "
            "run add_genomic_context again on this AnnData."
        )
        raise ValueError(msg)
    names = ("index", "distance", "orientation", *FLAG_FIELDS)
    lost = [name for name in names if f"{key}_{name}" not in store]
    if lost:
        where = "varm" if genes_axis == 1 else "obsm"
        msg = (
            f"the genomic context {key!r} is incomplete: {where} lacks {[f'{key}_{n}' for n in lost]}; "
            f"run gex_impute.pp.add_genomic_context(adata, key_added={key!r}) again."
        )
        raise KeyNotFoundError(msg)
    index = np.asarray(store[f"{key}_index"], dtype=np.int64)
    distance = np.asarray(store[f"{key}_distance"], dtype=np.int64)
    window = int(info["params"]["window"])
    return GenomicNeighbours(
        index=index,
        distance=distance,
        abs_distance=np.abs(distance),
        orientation=np.asarray(store[f"{key}_orientation"], dtype=np.int8),
        overlap=np.asarray(store[f"{key}_overlap"], dtype=bool),
        nested=np.asarray(store[f"{key}_nested"], dtype=bool),
        bidirectional=np.asarray(store[f"{key}_bidirectional"], dtype=bool),
        genes=table.index.copy(),
        window=None if window < 0 else window,
    )
