"""What a TSS table alone says about a gene: the layout of the other TSSs around it.

:func:`tss_layout_features` describes every placed gene by the distances to the nearest TSS
upstream and downstream in its own orientation, to the next TSS on its own strand downstream
(an upper bound of its length when that gene does not overlap it) and to the nearest
opposite-strand TSS upstream (a divergent partner), by the TSS density at a 5 Mb scale and by
its position along the chromosome (the chromosome's span taken from its outermost TSSs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "LAYOUT_NAMES",
    "chromosome_groups",
    "nearest_sides",
    "placed_tss",
    "tss_density",
    "tss_layout_features",
]

#: names of the columns of :func:`tss_layout_features`, in order
LAYOUT_NAMES = (
    "log10_upstream_tss",
    "log10_downstream_tss",
    "log10_downstream_same_strand",
    "log10_upstream_opposite_strand",
    "tss_density_5mb",
    "chrom_relative_position",
    "log10_chrom_end_distance",
)

#: log10 distance given when no TSS lies in that direction
_NONE = 8.0


def _log_gap(gap: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(gap), np.log10(1.0 + gap), _NONE)


def placed_tss(var: pd.DataFrame) -> tuple[np.ndarray, Any, np.ndarray]:
    """Each gene's TSS, chromosome and whether both are known, parsed from ``var``.

    Parameters
    ----------
    var
        Gene table with ``chrom`` and ``tss`` (non-numeric TSSs read as missing).

    Returns
    -------
    ``(tss, chrom, placed)``: float64 TSSs (NaN where missing), the chromosome names as an
    object array (``""`` where missing) and the genes with both.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.genome.layout import placed_tss
    >>> tss, chrom, placed = placed_tss(pd.DataFrame({"chrom": ["1", None], "tss": [5, 7]}))
    >>> chrom.tolist(), placed.tolist()
    (['1', ''], [True, False])
    """
    tss = pd.to_numeric(var["tss"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    chrom = var["chrom"].astype("string").fillna("").to_numpy(dtype=object)
    return tss, chrom, np.isfinite(tss) & (chrom != "")


def chromosome_groups(
    tss: np.ndarray, chrom: np.ndarray, placed: np.ndarray
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Group the placed genes by chromosome, with each chromosome's TSSs in sorted order.

    Parameters
    ----------
    tss, chrom, placed
        As returned by :func:`placed_tss`.

    Yields
    ------
    ``(idx, x, pos)`` per chromosome with placed genes (in sorted name order): the genes'
    positions in ``var``, their TSSs and those TSSs sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.genome.layout import chromosome_groups
    >>> tss, chrom = np.array([30.0, 10.0, 20.0]), np.array(["2", "1", "2"], dtype=object)
    >>> groups = chromosome_groups(tss, chrom, np.ones(3, bool))
    >>> [(idx.tolist(), pos.tolist()) for idx, _, pos in groups]
    [([1], [10.0]), ([0, 2], [20.0, 30.0])]
    """
    for c in np.unique(chrom[placed]):
        idx = np.flatnonzero(placed & (chrom == c))
        x = tss[idx]
        yield idx, x, np.sort(x)


def tss_density(pos: np.ndarray, x: np.ndarray, half: float) -> np.ndarray:
    """Count the other TSSs of ``pos`` (sorted, one chromosome) within ``half`` bp of each ``x``.

    Each ``x`` is itself one of ``pos`` (not counted).

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.genome.layout import tss_density
    >>> tss_density(np.array([0.0, 10.0, 50.0]), np.array([0.0, 50.0]), 20).tolist()
    [1, 0]
    """
    return np.searchsorted(pos, x + half, "right") - np.searchsorted(pos, x - half, "left") - 1


def _directional(
    x: np.ndarray, pos: np.ndarray, minus: np.ndarray, *, own: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Distances from each ``x`` to the nearest position of ``pos`` (sorted) upstream / downstream.

    Left / right in genome coordinates become downstream / upstream for genes of ``minus``;
    a position equal to ``x`` (another gene sharing the TSS) counts on both sides at 0 bp.
    ``own``: each ``x`` is itself one of ``pos`` (that copy is not counted).
    """
    if len(pos) == 0:  # (no such TSS on the chromosome: e.g. every gene there on one strand)
        return np.full(len(x), np.inf), np.full(len(x), np.inf)
    lo = np.searchsorted(pos, x, "left")
    hi = np.searchsorted(pos, x, "right")
    shared = (hi - lo - int(own)) > 0
    left = np.where(lo > 0, x - pos[np.maximum(lo - 1, 0)], np.inf)
    right = np.where(hi < len(pos), pos[np.minimum(hi, len(pos) - 1)] - x, np.inf)
    left = np.where(shared, 0.0, left)
    right = np.where(shared, 0.0, right)
    upstream = np.where(minus, right, left)
    downstream = np.where(minus, left, right)
    return upstream, downstream


def tss_layout_features(var: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Strand-aware TSS-layout features of every gene (NaN where a gene is unplaced).

    Parameters
    ----------
    var
        Gene table with ``chrom`` and ``tss``; ``strand`` (``"+"`` / ``"-"``) orients the
        directional columns (genes of unknown strand are read as ``"+"``; the strand-specific
        columns are NaN for them).

    Returns
    -------
    ``(p, 7)`` float32 features named ``LAYOUT_NAMES``: log10 (1 + bp) distances to the
    nearest other TSS upstream and downstream (8 when there is none), to the nearest TSS of a
    same-strand gene downstream and of an opposite-strand gene upstream, the number of other
    TSSs within 5 Mb, the TSS's position between the chromosome's first and last TSS (0 to 1)
    and log10 distance to the nearer of the two. Empty ``(p, 0)`` without ``chrom`` / ``tss``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.genome import tss_layout_features
    >>> var = pd.DataFrame(
    ...     {"chrom": ["1", "1", "1"], "tss": [1_000, 1_500, 11_500], "strand": ["-", "+", "+"]}
    ... )
    >>> x, names = tss_layout_features(var)
    >>> names[:2]
    ['log10_upstream_tss', 'log10_downstream_tss']
    >>> (10 ** x[:, :2] - 1).round().tolist()  # 8 (1e8 bp): no TSS on that side
    [[500.0, 100000000.0], [500.0, 10000.0], [10000.0, 100000000.0]]
    """
    p = len(var)
    if "chrom" not in var.columns or "tss" not in var.columns:
        return np.zeros((p, 0), np.float32), []
    tss, chrom, placed = placed_tss(var)
    strand = (
        var["strand"].astype("string").fillna("").to_numpy(dtype=object)
        if "strand" in var.columns
        else np.full(p, "", dtype=object)
    )
    known = (strand == "+") | (strand == "-")
    minus = strand == "-"
    out = np.full((p, len(LAYOUT_NAMES)), np.nan)
    for idx, x, pos in chromosome_groups(tss, chrom, placed):
        up, down = _directional(x, pos, minus[idx], own=True)
        out[idx, 0], out[idx, 1] = _log_gap(up), _log_gap(down)
        for s in ("+", "-"):
            sub = idx[strand[idx] == s]
            if len(sub) == 0:
                continue
            other = np.sort(tss[idx[(strand[idx] != s) & known[idx]]])
            _, down_same = _directional(tss[sub], np.sort(tss[sub]), minus[sub], own=True)
            up_other, _ = _directional(tss[sub], other, minus[sub], own=False)
            out[sub, 2], out[sub, 3] = _log_gap(down_same), _log_gap(up_other)
        out[idx, 4] = tss_density(pos, x, 5e6)
        first, last = pos[0], pos[-1]
        span = max(last - first, 1.0)
        out[idx, 5] = (x - first) / span
        out[idx, 6] = np.log10(1.0 + np.minimum(x - first, last - x))
    return out.astype(np.float32), list(LAYOUT_NAMES)


def nearest_sides(
    index: np.ndarray, distance: np.ndarray, gm: np.ndarray
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Each gene's nearest neighbour with data upstream and downstream (in the gene's orientation).

    Parameters
    ----------
    index
        ``(m, k)`` neighbour positions, nearest first (-1: none), e.g.
        :attr:`~gex_impute.genome.GenomicNeighbours.index`.
    distance
        ``(m, k)`` signed TSS distances (negative: upstream of the gene).
    gm
        ``(p,)`` a value per gene; NaN marks genes without data (skipped).

    Returns
    -------
    ``[("upstream", j, d), ("downstream", j, d)]``: the neighbour's position (-1: none) and
    its absolute distance (bp).

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.genome.layout import nearest_sides
    >>> index = np.array([[1, 2, 3]])
    >>> distance = np.array([[-10, 20, -30]])
    >>> gm = np.array([0, np.nan, 1, 2])  # gene 1 has no data: skipped
    >>> [(s, j.tolist(), d.tolist()) for s, j, d in nearest_sides(index, distance, gm)]
    [('upstream', [3], [30.0]), ('downstream', [2], [20.0])]
    """
    ok = (index >= 0) & ~np.isnan(gm[np.maximum(index, 0)])
    out = []
    for side, sel in (("upstream", ok & (distance < 0)), ("downstream", ok & (distance > 0))):
        first = np.argmax(sel, axis=1)
        found = sel.any(1)
        j = np.where(found, index[np.arange(len(index)), first], -1)
        d = np.where(found, np.abs(distance[np.arange(len(index)), first]).astype(np.float64), np.nan)
        out.append((side, j, d))
    return out
