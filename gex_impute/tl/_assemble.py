"""Output blocks of :func:`gex_impute.tl.complete` from the input samples: kept, hole-filled, averaged."""

from __future__ import annotations

import numpy as np

from .._data import input_rows
from ._grid import AGGREGATED, Grid


def missing_per_row(values: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Count the NaN in each row of ``values``, a chunk of rows at a time (no full-size mask)."""
    return np.concatenate(
        [np.isnan(values[s : s + chunk]).sum(axis=1) for s in range(0, len(values), chunk)]
        or [np.zeros(0, dtype=np.int64)]
    )


class Holes:
    """Estimates of the missing entries of the observed samples, stored compactly (1-D per output).

    ``values`` are the observed samples' model-scale values (only read, to find the missing
    entries); ``parts`` the :func:`~gex_impute.tl._blocks.estimate_holes` results of ``rows``.
    """

    def __init__(self, values: np.ndarray, counts: np.ndarray, parts: list[dict[str, np.ndarray]]):
        self.ptr = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(counts, out=self.ptr[1:])
        self.values = {
            k: np.concatenate([p[k] for p in parts]) if parts and k in parts[0] else None
            for k in ("x", "lower", "upper")
        }
        self.observed_values = values

    def of(self, row: int, name: str = "x") -> tuple[np.ndarray, np.ndarray]:
        """Columns and estimates of the missing entries of input sample ``row``."""
        cols = np.flatnonzero(np.isnan(self.observed_values[row]))
        values = self.values[name]
        if values is None:  # no sample has a missing entry (or no bounds were asked for)
            if len(cols):
                msg = f"no {name!r} estimates of the missing entries were computed; this is a bug."
                raise RuntimeError(msg)
            return cols, np.zeros(0)
        return cols, values[self.ptr[row] : self.ptr[row + 1]]


def _filled_samples(adata, holes: Holes, cell: np.ndarray, names, *, layer, orientation):
    """Input samples ``cell`` (float64, input units) with their missing entries filled, per output."""
    values = input_rows(adata, cell, layer=layer, orientation=orientation, dtype=np.float64)
    out = {}
    for name in names:
        filled = values.copy()
        for j, row in enumerate(cell):
            cols, vals = holes.of(row, name)
            filled[j, cols] = vals
        out[name] = filled
    return values, out


def observed_block(
    adata, grid: Grid, holes: Holes, start: int, stop: int, *, layer, orientation, dtype, level
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Values, mask (and bounds) of the rows ``start:stop`` that come from input samples.

    Kept samples are copied bitwise and their missing entries filled. An aggregated row is the
    mean of its samples' observed values; where none of them is observed, the mean of their
    estimates (and of their bounds). Rows to estimate are left at zero.
    """
    n_genes = holes.observed_values.shape[1]
    x = np.zeros((stop - start, n_genes), dtype=dtype)
    mask = np.zeros((stop - start, n_genes), dtype=bool)
    source = grid.source[start:stop]
    kept = np.flatnonzero(source >= 0)
    if len(kept):
        x[kept] = input_rows(adata, source[kept], layer=layer, orientation=orientation, dtype=dtype)
    bounds = {"lower": x.copy(), "upper": x.copy()} if level is not None else {}
    for i in kept:
        cols, vals = holes.of(source[i])
        x[i, cols] = vals
        mask[i, cols] = True
        for name, block in bounds.items():
            block[i, cols] = holes.of(source[i], name)[1]
    outputs = {"x": x, **bounds}
    for i in np.flatnonzero(source == AGGREGATED):
        values, filled = _filled_samples(
            adata, holes, grid.groups[start + int(i)], outputs, layer=layer, orientation=orientation
        )
        observed = ~np.isnan(values)
        count = observed.sum(axis=0)
        hole = count == 0
        observed_mean = np.where(observed, values, 0.0).sum(axis=0) / np.maximum(count, 1)
        for name, block in outputs.items():
            block[i] = np.where(hole, filled[name].mean(axis=0), observed_mean)
        mask[i] = hole
    return x, {"mask": mask, **bounds}
