"""A plain Python-loop version of the neighbour search, written independently (tests, benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .neighbours import (
    BIDIRECTIONAL_MAX_DISTANCE,
    CONVERGENT,
    DIVERGENT,
    FLAG_FIELDS,
    TANDEM,
    GenomicNeighbours,
)

__all__ = ["_brute_force_neighbours"]


def _brute_force_neighbours(
    var: pd.DataFrame,
    *,
    reference: np.ndarray | None = None,
    k: int = 10,
    window: int | None = 1_000_000,
) -> GenomicNeighbours:
    """Plain Python-loop version of ``genomic_neighbours`` (slow; for tests and benchmarks).

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
    flags = {name: np.zeros((n, k), dtype=bool) for name in FLAG_FIELDS}
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
