"""The neighbour search: each gene's ``k`` nearest reference genes on its chromosome, by TSS.

The search is vectorised per chromosome: reference TSSs are sorted once, every gene finds its
insertion point with :func:`numpy.searchsorted`, and the ``k`` nearest are picked from a
fixed block of ``2 (k + 1)`` candidates around it. There is no Python loop over genes.

Genes with a missing chromosome or TSS (NaN, None, ``pd.NA``, nullable dtypes) get no
neighbours and are never neighbours; a missing strand means an unknown orientation.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import KeyNotFoundError
from .neighbours import BIDIRECTIONAL_MAX_DISTANCE, CONVERGENT, DIVERGENT, TANDEM, GenomicNeighbours

if TYPE_CHECKING:
    from collections.abc import Sequence

logger = logging.getLogger("gex_impute")

__all__ = ["genomic_neighbours"]

_INT_MAX = np.iinfo(np.int64).max


# --------------------------------------------------------------------------------------------
# input handling


def _strand_codes(values: Any) -> np.ndarray:
    """``+1`` for ``"+"``, ``-1`` for ``"-"``, ``0`` for anything else (unknown, NaN, ``pd.NA``)."""
    s = pd.Series(values, copy=False).astype("string")
    plus = (s == "+").fillna(False).to_numpy(dtype=bool)
    minus = (s == "-").fillna(False).to_numpy(dtype=bool)
    return np.where(plus, 1, np.where(minus, -1, 0)).astype(np.int8)


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
    if isinstance(reference, pd.Series) and reference.dtype in (bool, "boolean"):
        # aligned on the gene ids: a mask indexed otherwise (0..n-1, from a numpy array) would
        # silently select no reference gene at all
        if not reference.index.equals(var.index):
            if not reference.index.is_unique or not var.index.isin(reference.index).all():
                msg = (
                    "the reference mask is a Series whose index is not the genes of var (it is "
                    "aligned on var.index); pass mask.to_numpy() for a mask in var order, or index "
                    "the Series by var_names."
                )
                raise ValueError(msg)
            reference = reference.reindex(var.index)
        return np.array(reference.to_numpy(dtype=bool, na_value=False), copy=True)
    if isinstance(reference, pd.api.extensions.ExtensionArray) and reference.dtype == "boolean":
        # a nullable mask: <NA> is not a reference gene (np.asarray gives object dtype on pandas < 2.2)
        reference = reference.to_numpy(dtype=bool, na_value=False)
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
            raise KeyNotFoundError(msg)


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
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        msg = f"k={k!r} must be an integer of at least 1."
        raise ValueError(msg)
    k = int(k)
    if window is not None and np.isposinf(window):
        window = None  # no limit
    if window is not None:
        if isinstance(window, bool) or not np.isfinite(window) or window != int(window):
            msg = f"window={window!r} must be a whole number of bp (or None / inf for no limit)."
            raise ValueError(msg)
        window = int(window)
        if window < 0:
            msg = f"window={window} must be non-negative (bp), or None for no limit."
            raise ValueError(msg)
    _check_columns(var, chrom_key, tss_key)

    n = len(var)
    tss, tss_ok = _integer_column(var, tss_key)
    chrom_raw = var[chrom_key]
    # arrays from pandas may be read-only views (copy-on-write): copy before writing into them
    chrom_ok = np.array(chrom_raw.notna().to_numpy(dtype=bool), copy=True)
    chrom_str = chrom_raw.astype(object).where(chrom_ok, None).astype("string")
    chrom_ok &= (chrom_str.fillna("") != "").to_numpy(dtype=bool)
    placed = tss_ok & chrom_ok
    ref = _reference_mask(reference, var) & placed

    if strand_key in var.columns:
        strand = _strand_codes(var[strand_key])
    else:
        logger.info("var has no %r column: strands unknown, orientations set to -1", strand_key)
        strand = np.zeros(n, dtype=np.int8)
    start: np.ndarray | None = None
    end: np.ndarray | None = None
    body_ok: np.ndarray | None = None
    if start_key in var.columns and end_key in var.columns:
        start, start_ok = _integer_column(var, start_key)
        end, end_ok = _integer_column(var, end_key)
        body_ok = start_ok & end_ok

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
