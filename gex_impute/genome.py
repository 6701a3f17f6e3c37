"""Genomic context: each gene's nearest reference genes along the chromosome.

For every gene, :func:`genomic_neighbours` finds its ``k`` nearest *reference* genes (by
default every placed gene; typically the genes with observed expression) on the same
chromosome by transcription start site (TSS), within a window, and describes each pair:
signed TSS distance, relative orientation (tandem / divergent / convergent), whether the gene
bodies overlap or nest, and whether the pair looks like a bidirectional promoter.

The search is vectorised per chromosome: reference TSSs are sorted once, every gene finds its
insertion point with :func:`numpy.searchsorted`, and the ``k`` nearest are picked from a
fixed block of ``2 (k + 1)`` candidates around it. There is no Python loop over genes.

:func:`add_genomic_context` stores the result in an AnnData (scanpy style) and
:func:`genomic_context` reads it back; :func:`neighbour_values` gathers the neighbours'
values from an expression matrix.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from collections.abc import Sequence

    from anndata import AnnData

logger = logging.getLogger("gex_impute")

ORIENTATIONS: tuple[str, str, str] = ("tandem", "divergent", "convergent")
"""Names of the orientation codes 0, 1 and 2 of :attr:`GenomicNeighbours.orientation`."""

TANDEM, DIVERGENT, CONVERGENT = 0, 1, 2

BIDIRECTIONAL_MAX_DISTANCE: int = 1000
"""A divergent pair whose TSSs are less than this many bp apart is flagged bidirectional."""

_FLAG_FIELDS = ("overlap", "nested", "bidirectional")
_INT_MAX = np.iinfo(np.int64).max


@dataclass
class GenomicNeighbours:
    """The ``k`` nearest reference genes of every gene, as ``(n_genes, k)`` arrays.

    Row ``i`` describes gene ``i`` (in the order of the ``var`` it was computed from); its
    columns are its neighbours, nearest first (by absolute TSS distance, ties broken by the
    neighbour's TSS, then by its position). Unused slots (fewer than ``k`` reference genes in
    the window) hold ``index = -1``, ``distance = 0``, ``orientation = -1`` and False flags.

    Attributes
    ----------
    index
        ``int64``: position of the neighbour in ``var`` (``-1`` = no neighbour).
    distance
        ``int64`` signed bp: neighbour TSS minus gene TSS, multiplied by ``-1`` when the gene
        is on the ``"-"`` strand, so a positive distance means downstream of the gene
        (genes of unknown strand keep the genomic sign).
    abs_distance
        ``int64``: absolute TSS distance in bp.
    orientation
        ``int8``: ``0`` tandem (same strand), ``1`` divergent (head-to-head: the ``"-"``
        gene's TSS at or left of the ``"+"`` gene's TSS), ``2`` convergent (tail-to-tail:
        the ``"-"`` gene's TSS right of the ``"+"`` gene's), ``-1`` no neighbour or a strand
        unknown. Names in :data:`ORIENTATIONS`.
    overlap
        ``bool``: the gene bodies ``[start, end)`` intersect.
    nested
        ``bool``: the bodies overlap and one contains the other (identical bodies count).
    bidirectional
        ``bool``: opposite strands, divergent, and TSSs less than
        :data:`BIDIRECTIONAL_MAX_DISTANCE` (1 kb) apart.
    genes
        Gene ids (``var.index``) of the rows, when known.
    window
        The window (bp) the neighbours were searched in; None for unlimited.
    """

    index: np.ndarray
    distance: np.ndarray
    abs_distance: np.ndarray
    orientation: np.ndarray
    overlap: np.ndarray
    nested: np.ndarray
    bidirectional: np.ndarray
    genes: pd.Index | None = field(default=None, repr=False)
    window: int | None = None

    @property
    def n_genes(self) -> int:
        """Number of genes (rows)."""
        return self.index.shape[0]

    @property
    def k(self) -> int:
        """Number of neighbour slots per gene (columns)."""
        return self.index.shape[1]

    @property
    def mask(self) -> np.ndarray:
        """``(n_genes, k)`` bool: True where a slot holds a neighbour."""
        return self.index >= 0

    @property
    def n_neighbours(self) -> np.ndarray:
        """Number of neighbours found for each gene (``0`` .. ``k``)."""
        return self.mask.sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """Long-format table, one row per (gene, neighbour) pair that exists.

        Returns
        -------
        DataFrame with columns ``gene``, ``rank`` (1 = nearest), ``neighbour`` (gene id),
        ``neighbour_index`` (position), ``distance``, ``abs_distance``, ``orientation``
        (categorical of :data:`ORIENTATIONS`, NaN when a strand is unknown), ``overlap``,
        ``nested`` and ``bidirectional``.

        Examples
        --------
        >>> import pandas as pd
        >>> from gex_impute.genome import genomic_neighbours
        >>> var = pd.DataFrame(
        ...     {"chrom": ["chr1"] * 3, "tss": [100, 600, 5000], "strand": ["-", "+", "+"]},
        ...     index=["a", "b", "c"],
        ... )
        >>> genomic_neighbours(var, k=1).to_frame()[["gene", "neighbour", "orientation"]]
          gene neighbour orientation
        0    a         b   divergent
        1    b         a   divergent
        2    c         b      tandem
        """
        rows, cols = np.nonzero(self.mask)
        genes = self.genes if self.genes is not None else pd.RangeIndex(self.n_genes)
        genes = np.asarray(genes)
        nb = self.index[rows, cols]
        codes = self.orientation[rows, cols].astype(np.int64)
        frame = pd.DataFrame(
            {
                "gene": genes[rows],
                "rank": cols + 1,
                "neighbour": genes[nb],
                "neighbour_index": nb,
                "distance": self.distance[rows, cols],
                "abs_distance": self.abs_distance[rows, cols],
                "orientation": pd.Categorical.from_codes(codes, categories=list(ORIENTATIONS)),
            }
        )
        for name in _FLAG_FIELDS:
            frame[name] = getattr(self, name)[rows, cols]
        return frame


# --------------------------------------------------------------------------------------------
# input handling


def _strand_codes(values: Any) -> np.ndarray:
    """``+1`` for ``"+"``, ``-1`` for ``"-"``, ``0`` for anything else (unknown)."""
    s = pd.Series(values, copy=False).astype("string")
    return np.where(s == "+", 1, np.where(s == "-", -1, 0)).astype(np.int8)


def _integer_column(var: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Return a coordinate column as ``int64`` plus a validity mask (NaN / None -> invalid)."""
    col = pd.to_numeric(var[key], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    valid = np.isfinite(col)
    if not np.all(col[valid] == np.round(col[valid])):
        bad = col[valid][col[valid] != np.round(col[valid])][:3]
        msg = f"var[{key!r}] holds non-integer positions (e.g. {bad.tolist()}); round them to whole bp first."
        raise ValueError(msg)
    out = np.zeros(col.shape, dtype=np.int64)
    out[valid] = col[valid].astype(np.int64)
    return out, valid


def _reference_mask(reference: Any, var: pd.DataFrame) -> np.ndarray:
    """Turn ``reference`` (None, bool mask or gene ids) into a bool mask over ``var``."""
    n = len(var)
    if reference is None:
        return np.ones(n, dtype=bool)
    if isinstance(reference, pd.Series) and reference.dtype == bool:
        if not reference.index.equals(var.index):
            reference = reference.reindex(var.index, fill_value=False)
        return reference.to_numpy(dtype=bool)
    arr = np.asarray(reference)
    if arr.dtype == bool:
        if arr.shape != (n,):
            msg = (
                f"reference mask has shape {arr.shape} but var has {n} genes; pass one bool per gene "
                "(in var order) or a list of gene ids."
            )
            raise ValueError(msg)
        return arr.copy()
    ids = pd.Index(np.atleast_1d(arr))
    missing = ids.difference(var.index)
    if len(missing):
        msg = (
            f"{len(missing)} reference gene id(s) are not in var.index (e.g. {list(missing[:3])}); "
            "pass ids from var.index or a bool mask."
        )
        raise ValueError(msg)
    return var.index.isin(ids)


def _check_columns(var: pd.DataFrame, chrom_key: str, tss_key: str) -> None:
    for key, what in ((chrom_key, "chromosome"), (tss_key, "TSS position")):
        if key not in var.columns:
            msg = (
                f"var has no {key!r} column ({what}); annotate the genes first with "
                "gex_impute.pp.annotate_genes, or name the column with "
                f"{'chrom_key' if key == chrom_key else 'tss_key'}=. Columns present: {list(var.columns)}."
            )
            raise KeyError(msg)


# --------------------------------------------------------------------------------------------
# the search


def _nearest_on_chromosome(
    q_idx: np.ndarray,
    q_tss: np.ndarray,
    r_idx: np.ndarray,
    r_tss: np.ndarray,
    k: int,
    window: int | None,
) -> np.ndarray:
    """Positions (in ``var``) of the ``k`` nearest references of each query, ``-1`` padded.

    The nearest references left of a query (TSS < query TSS) are the ones just before its
    insertion point, the nearest at or right of it the ones from the insertion point on. The
    query itself is among the references at most once, so ``k + 1`` candidates on each side
    always contain its ``k`` nearest. Inside a run of equal TSSs, ties go to the lower
    position: the right side reads the references sorted by (TSS, position), the left side
    by (TSS, -position) so that walking leftwards also meets lower positions first.
    """
    n, m = len(q_idx), len(r_idx)
    out = np.full((n, k), -1, dtype=np.int64)
    if n == 0 or m == 0:
        return out
    order_right = np.lexsort((r_idx, r_tss))
    order_left = np.lexsort((-r_idx, r_tss))
    tss_sorted = r_tss[order_right]
    ids_right = r_idx[order_right]
    ids_left = r_idx[order_left]

    width = min(k + 1, m)
    pos = np.searchsorted(tss_sorted, q_tss, side="left")
    steps = np.arange(width)
    left = pos[:, None] - 1 - steps  # (n, width), walking leftwards
    right = pos[:, None] + steps  # (n, width), walking rightwards
    left_ok = left >= 0
    right_ok = right < m
    left = np.where(left_ok, left, 0)
    right = np.where(right_ok, right, 0)

    cand = np.concatenate([ids_left[left], ids_right[right]], axis=1)
    cand_tss = np.concatenate([tss_sorted[left], tss_sorted[right]], axis=1)
    ok = np.concatenate([left_ok, right_ok], axis=1) & (cand != q_idx[:, None])
    dist = np.abs(cand_tss - q_tss[:, None])
    if window is not None:
        ok &= dist <= window
    dist = np.where(ok, dist, _INT_MAX)

    # sort each row by (distance, TSS, position); np.lexsort's last key is the primary one
    order = np.lexsort((cand, cand_tss, dist), axis=-1)[:, :k]
    picked = np.take_along_axis(cand, order, axis=1)
    picked_ok = np.take_along_axis(ok, order, axis=1)
    out[:, : picked.shape[1]] = np.where(picked_ok, picked, -1)
    return out


def _describe_pairs(
    index: np.ndarray,
    tss: np.ndarray,
    strand: np.ndarray,
    start: np.ndarray | None,
    end: np.ndarray | None,
    body_ok: np.ndarray | None,
    genes: pd.Index | None,
    window: int | None,
) -> GenomicNeighbours:
    """Distances, orientations and flags for the ``(n, k)`` neighbour positions ``index``."""
    has = index >= 0
    nb = np.where(has, index, 0)
    g_tss = tss[:, None]
    n_tss = tss[nb]
    g_strand = strand[:, None]
    n_strand = strand[nb]

    raw = n_tss - g_tss
    distance = np.where(g_strand == -1, -raw, raw)
    distance = np.where(has, distance, 0)
    abs_distance = np.abs(distance)

    known = has & (g_strand != 0) & (n_strand != 0)
    same = known & (g_strand == n_strand)
    opposite = known & (g_strand != n_strand)
    # p = the "+" gene, m = the "-" gene of an opposite-strand pair
    tss_plus = np.where(g_strand == 1, g_tss, n_tss)
    tss_minus = np.where(g_strand == 1, n_tss, g_tss)
    divergent = opposite & (tss_minus <= tss_plus)
    orientation = np.full(index.shape, -1, dtype=np.int8)
    orientation[same] = TANDEM
    orientation[opposite] = CONVERGENT
    orientation[divergent] = DIVERGENT
    bidirectional = divergent & (abs_distance < BIDIRECTIONAL_MAX_DISTANCE)

    if start is not None and end is not None and body_ok is not None:
        g_s, g_e = start[:, None], end[:, None]
        n_s, n_e = start[nb], end[nb]
        both = has & body_ok[:, None] & body_ok[nb]
        overlap = both & (g_s < n_e) & (n_s < g_e)
        contains = ((g_s <= n_s) & (n_e <= g_e)) | ((n_s <= g_s) & (g_e <= n_e))
        nested = overlap & contains
    else:
        overlap = np.zeros(index.shape, dtype=bool)
        nested = np.zeros(index.shape, dtype=bool)

    return GenomicNeighbours(
        index=index,
        distance=distance.astype(np.int64),
        abs_distance=abs_distance.astype(np.int64),
        orientation=orientation,
        overlap=overlap,
        nested=nested,
        bidirectional=bidirectional,
        genes=genes,
        window=window,
    )


def genomic_neighbours(
    var: pd.DataFrame,
    *,
    reference: Sequence[bool] | np.ndarray | pd.Series | Sequence[str] | None = None,
    k: int = 10,
    window: int | None = 1_000_000,
    chrom_key: str = "chrom",
    tss_key: str = "tss",
    strand_key: str = "strand",
    start_key: str = "start",
    end_key: str = "end",
) -> GenomicNeighbours:
    """Find each gene's ``k`` nearest reference genes on its chromosome, by TSS.

    A gene is never its own neighbour. Neighbours are sorted by absolute TSS distance (ties:
    lower neighbour TSS first, then lower position in ``var``). Genes with a missing
    chromosome or TSS get no neighbours and are never neighbours themselves. Chromosome names
    are compared as strings, exactly as given (``"chr1"`` and ``"1"`` differ; normalise them
    with :func:`gex_impute.pp.annotate_genes` if needed).

    Parameters
    ----------
    var
        Gene annotation, one row per gene (``adata.var`` for samples x genes data).
    reference
        Genes allowed as neighbours: a bool mask in ``var`` order (or a bool Series indexed
        like ``var``), or a list of gene ids from ``var.index``. Default: every placed gene.
        Typically the genes with observed expression.
    k
        Number of neighbours per gene. Slots without a neighbour (fewer than ``k`` reference
        genes in the window) are padded (see :class:`GenomicNeighbours`).
    window
        Largest absolute TSS distance (bp, inclusive) of a neighbour; None for no limit.
    chrom_key, tss_key
        Columns of ``var`` with the chromosome and the 0-based TSS position (required).
    strand_key
        Column with ``"+"`` / ``"-"``. Other values, or no such column, mean unknown strand:
        the distance keeps the genomic sign and the orientation is ``-1``.
    start_key, end_key
        Columns with the 0-based gene body ``[start, end)``. When either column is absent
        (or a gene's value is missing) ``overlap`` and ``nested`` are False.

    Returns
    -------
    :class:`GenomicNeighbours` with ``(n_genes, k)`` arrays ``index``, ``distance``,
    ``abs_distance``, ``orientation``, ``overlap``, ``nested``, ``bidirectional``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.genome import genomic_neighbours
    >>> var = pd.DataFrame(
    ...     {
    ...         "chrom": ["chr1", "chr1", "chr1", "chr2"],
    ...         "tss": [1_000, 1_400, 50_000, 1_000],
    ...         "strand": ["-", "+", "+", "+"],
    ...     },
    ...     index=["A", "B", "C", "D"],
    ... )
    >>> nb = genomic_neighbours(var, k=2)
    >>> nb.index
    array([[ 1,  2],
           [ 0,  2],
           [ 1,  0],
           [-1, -1]])
    >>> nb.distance[0]  # "-" strand gene: B lies 400 bp upstream of A
    array([  -400, -49000])
    >>> bool(nb.bidirectional[0, 0])
    True
    """
    if not isinstance(var, pd.DataFrame):
        msg = f"var must be a pandas DataFrame of gene annotation, got {type(var).__name__}; pass adata.var."
        raise TypeError(msg)
    k = int(k)
    if k < 1:
        msg = f"k={k} must be at least 1."
        raise ValueError(msg)
    if window is not None:
        window = int(window)
        if window < 0:
            msg = f"window={window} must be non-negative (bp), or None for no limit."
            raise ValueError(msg)
    _check_columns(var, chrom_key, tss_key)

    n = len(var)
    tss, tss_ok = _integer_column(var, tss_key)
    chrom_raw = var[chrom_key]
    chrom_ok = chrom_raw.notna().to_numpy()
    chrom_str = chrom_raw.astype(object).where(chrom_ok, None).astype("string")
    chrom_ok &= (chrom_str.fillna("") != "").to_numpy()
    placed = tss_ok & chrom_ok
    ref = _reference_mask(reference, var) & placed

    if strand_key in var.columns:
        strand = _strand_codes(var[strand_key])
    else:
        logger.info("var has no %r column: strands unknown, orientations set to -1", strand_key)
        strand = np.zeros(n, dtype=np.int8)
    if start_key in var.columns and end_key in var.columns:
        start, start_ok = _integer_column(var, start_key)
        end, end_ok = _integer_column(var, end_key)
        body_ok = start_ok & end_ok
    else:
        start = end = body_ok = None

    index = np.full((n, k), -1, dtype=np.int64)
    positions = np.arange(n, dtype=np.int64)
    codes, _ = pd.factorize(chrom_str.to_numpy(dtype=object, na_value=None)[placed])
    placed_pos = positions[placed]
    ref_placed = ref[placed]
    tss_placed = tss[placed]
    # one pass per chromosome: group by sorting the chromosome codes once
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for group in np.split(order, bounds) if len(order) else []:
        q_idx = placed_pos[group]
        q_tss = tss_placed[group]
        r_sel = ref_placed[group]
        index[q_idx] = _nearest_on_chromosome(q_idx, q_tss, q_idx[r_sel], q_tss[r_sel], k, window)

    return _describe_pairs(index, tss, strand, start, end, body_ok, var.index.copy(), window)


# --------------------------------------------------------------------------------------------
# using the neighbours


def neighbour_values(neighbours: GenomicNeighbours | np.ndarray, values: np.ndarray) -> np.ndarray:
    """Gather each gene's neighbours' values: ``(..., n_genes)`` -> ``(..., n_genes, k)``.

    Parameters
    ----------
    neighbours
        A :class:`GenomicNeighbours`, or its ``(n_genes, k)`` ``index`` array (``-1`` = none).
    values
        Array whose last axis is the genes, in the order the neighbours were computed for,
        e.g. a samples x genes expression matrix (NaN = missing is passed through).

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
    index = neighbours.index if isinstance(neighbours, GenomicNeighbours) else np.asarray(neighbours)
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

    x = adata.X if layer is None else adata.layers[layer]
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
    """Store each gene's nearest reference genes (:func:`genomic_neighbours`) in the AnnData.

    Genes are read from ``adata.var`` (samples x genes). When the annotation columns
    (``chrom``, ``tss``) are in ``adata.obs`` instead and not in ``var`` (the genes x samples
    GCT layout), genes are read from ``obs`` and results go to ``obsm``.

    Parameters
    ----------
    adata
        Annotated data with ``chrom``, ``tss`` and ideally ``strand``, ``start``, ``end`` per
        gene (see :func:`gex_impute.pp.annotate_genes`).
    k, window
        As in :func:`genomic_neighbours`.
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
    - ``uns[key_added]``: ``params`` (k, window (-1 = none), reference, keys), ``orientations``,
      ``n_genes``, ``n_reference`` and ``var_names_sha1`` (checked by :func:`genomic_context`).

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
    adata = adata.copy() if copy else adata
    var, genes_axis = _gene_table(adata, ("chrom", "tss"))
    if isinstance(reference, str) and reference == "observed":
        ref_mask = _observed_genes(adata, layer, genes_axis)
        ref_desc = "observed" if layer is None else f"observed:{layer}"
    elif isinstance(reference, str):
        msg = f"reference={reference!r} is not understood; use None, 'observed', a bool mask or gene ids."
        raise ValueError(msg)
    else:
        ref_mask = _reference_mask(reference, var)
        ref_desc = "all" if reference is None else "mask"
    nb = genomic_neighbours(var, reference=ref_mask, k=k, window=window)
    store = adata.varm if genes_axis == 1 else adata.obsm
    store[f"{key_added}_index"] = nb.index
    store[f"{key_added}_distance"] = nb.distance
    store[f"{key_added}_orientation"] = nb.orientation
    for name in _FLAG_FIELDS:
        store[f"{key_added}_{name}"] = getattr(nb, name)
    adata.uns[key_added] = {
        "params": {
            "k": int(k),
            "window": -1 if window is None else int(window),
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
    """Return the gene annotation table and the AnnData axis holding genes (1 = var, 0 = obs)."""
    in_var = all(c in adata.var.columns for c in needed)
    in_obs = all(c in adata.obs.columns for c in needed)
    if in_var:
        return adata.var, 1
    if in_obs:
        return adata.obs, 0
    msg = (
        f"neither adata.var nor adata.obs has the gene annotation columns {list(needed)}; "
        "run gex_impute.pp.annotate_genes first."
    )
    raise KeyError(msg)


def genomic_context(adata: AnnData, key: str = "genomic_context") -> GenomicNeighbours:
    """Read back what :func:`add_genomic_context` stored under ``key``.

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
        raise KeyError(msg)
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


# --------------------------------------------------------------------------------------------
# brute-force reference (tests and benchmarks only)


def _brute_force_neighbours(
    var: pd.DataFrame,
    *,
    reference: np.ndarray | None = None,
    k: int = 10,
    window: int | None = 1_000_000,
) -> GenomicNeighbours:
    """Plain Python-loop version of :func:`genomic_neighbours` (slow; for tests and benchmarks).

    Written independently of the vectorised code: for every gene, scan every other gene.
    """
    n = len(var)
    ref = [True] * n if reference is None else [bool(r) for r in reference]

    def column(key: str, as_int: bool) -> list:
        if key not in var.columns:
            return [None] * n
        out = []
        for v in var[key].tolist():
            missing = v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA
            out.append(None if missing else (int(v) if as_int else v))
        return out

    chroms = [None if c is None or str(c) == "" else str(c) for c in column("chrom", False)]
    tsss = column("tss", True)
    strands = [s if s in ("+", "-") else None for s in column("strand", False)]
    starts, ends = column("start", True), column("end", True)
    if "start" not in var.columns or "end" not in var.columns:
        starts = ends = [None] * n

    fields = {name: np.zeros((n, k), dtype=np.int64) for name in ("distance", "abs_distance")}
    index = np.full((n, k), -1, dtype=np.int64)
    orientation = np.full((n, k), -1, dtype=np.int8)
    flags = {name: np.zeros((n, k), dtype=bool) for name in _FLAG_FIELDS}
    for i in range(n):
        ci, ti = chroms[i], tsss[i]
        if ci is None or ti is None:
            continue
        cands = []
        for j in range(n):
            if j == i or not ref[j] or chroms[j] != ci or tsss[j] is None:
                continue
            tj = tsss[j]
            if window is not None and abs(tj - ti) > window:
                continue
            cands.append((abs(tj - ti), tj, j))
        cands.sort()
        for slot, (d, tj, j) in enumerate(cands[:k]):
            index[i, slot] = j
            si, sj = strands[i], strands[j]
            fields["distance"][i, slot] = -(tj - ti) if si == "-" else tj - ti
            fields["abs_distance"][i, slot] = d
            if si is not None and sj is not None:
                if si == sj:
                    orientation[i, slot] = TANDEM
                else:
                    tp, tm = (ti, tj) if si == "+" else (tj, ti)
                    orientation[i, slot] = DIVERGENT if tm <= tp else CONVERGENT
                    flags["bidirectional"][i, slot] = tm <= tp and d < BIDIRECTIONAL_MAX_DISTANCE
            bi, ei, bj, ej = starts[i], ends[i], starts[j], ends[j]
            if None not in (bi, ei, bj, ej):
                overlap = bi < ej and bj < ei
                flags["overlap"][i, slot] = overlap
                flags["nested"][i, slot] = overlap and ((bi <= bj and ej <= ei) or (bj <= bi and ei <= ej))
    return GenomicNeighbours(
        index=index,
        orientation=orientation,
        genes=var.index.copy(),
        window=window,
        **fields,
        **flags,
    )
